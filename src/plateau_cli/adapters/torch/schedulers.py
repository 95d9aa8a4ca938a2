"""Scheduler states saved beside the optimizer, made to agree with the rate a strategy set.

A scheduler written back unchanged undoes a new rate at the user's next `scheduler.step()`:
StepLR and CosineAnnealingLR scale `group["lr"]` but LambdaLR, OneCycleLR and a restarted
cosine compute it from `base_lrs` / the group's `initial_lr`, `max_lr`, `min_lr`. So each of
those is scaled by the factor its group's rate changed by, `_last_lr` becomes the rates trained
at, and ReduceLROnPlateau's bad-epoch and cooldown counters start again (the new rate has had
no chance to fail yet). A state of a kind not recognised is dropped and the report says so:
an inconsistent pair is worse than a scheduler the user rebuilds.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Param-group entries that schedulers read the rate from (OneCycleLR, any scheduler's start).
GROUP_RATE_KEYS = ("initial_lr", "max_lr", "min_lr")
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Rescaled:
    #: The scheduler state to write; None: drop it.
    state: Any
    #: What was done, for the report; None when nothing changed.
    note: str | None


def factors(before: Sequence[float], after: Sequence[float]) -> list[float] | None:
    """Per-group factor the rate changed by; None when no rate changed."""
    if len(before) != len(after):
        return None
    out = [a / b if b else 1.0 for b, a in zip(before, after, strict=True)]
    return out if any(abs(f - 1.0) > _TOLERANCE for f in out) else None


def rescale_groups(optimizer_state: Mapping[str, Any], scale: Sequence[float]) -> None:
    """Scale `initial_lr`/`max_lr`/`min_lr` in each param group of a state dict, in place."""
    for group, factor in zip(optimizer_state.get("param_groups", []), scale, strict=False):
        for key in GROUP_RATE_KEYS:
            if isinstance(group.get(key), int | float):
                group[key] = float(group[key]) * factor


def rescale(state: Any, scale: Sequence[float], rates: Sequence[float], steps: int = 0) -> Rescaled:
    """The scheduler state agreeing with rates changed by `scale`; `steps` advances a per-step
    scheduler (Hugging Face's) by the optimizer steps taken."""
    if isinstance(state, list):
        parts = [rescale(item, scale, rates, steps) for item in state]
        if any(part.state is None for part in parts):
            return Rescaled(None, next(p.note for p in parts if p.state is None))
        return Rescaled([p.state for p in parts], _join(p.note for p in parts))
    if not isinstance(state, Mapping):
        return Rescaled(None, f"a {type(state).__name__} scheduler entry was dropped")
    out = copy.deepcopy(dict(state))
    if isinstance(out.get("_schedulers"), list):  # SequentialLR, ChainedScheduler
        inner = rescale(out["_schedulers"], scale, rates, steps)
        if inner.state is None:
            return inner
        out["_schedulers"] = inner.state
    if "num_bad_epochs" in out and "patience" in out:  # ReduceLROnPlateau
        out["num_bad_epochs"] = 0
        out["cooldown_counter"] = 0
        out["_last_lr"] = list(rates)
        return Rescaled(out, "ReduceLROnPlateau's patience and cooldown counters restarted")
    if "base_lrs" not in out:
        keys = ", ".join(sorted(map(str, out))[:6])
        return Rescaled(None, f"a scheduler state of unknown kind ({keys}) was dropped")
    out["base_lrs"] = [float(b) * f for b, f in zip(out["base_lrs"], scale, strict=False)]
    out["_last_lr"] = list(rates)
    if steps and isinstance(out.get("last_epoch"), int):
        out["last_epoch"] += steps
        if isinstance(out.get("_step_count"), int):
            out["_step_count"] += steps
    kind = "OneCycleLR" if "total_steps" in out else "scheduler"
    shown = ", ".join(f"{f:.3g}" for f in scale)
    return Rescaled(out, f"{kind} base rates scaled by {shown} to agree with the new rate")


def _join(notes: Any) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(dict.fromkeys(kept)) if kept else None
