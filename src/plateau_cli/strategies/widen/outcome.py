"""What a widening did, in the same words for Keras and PyTorch: `changes`, `details`, and
what became of the optimizer state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from plateau_cli.adapters.base import OptimizerState
from plateau_cli.strategies.base import StrategyOutcome
from plateau_cli.strategies.widen.arithmetic import Init
from plateau_cli.strategies.widen.graph import Chain
from plateau_cli.strategies.widen.options import DEFAULT_FACTOR, WidenOptions

#: What each init does to the new units, for the `changes` line.
INIT_WORDS = {
    Init.ZERO_OUT: "new units start with random (He) incoming and zero outgoing weights",
    Init.NET2NET: (
        "Net2WiderNet: new units copy existing ones, outgoing weights divided by the copy count"
    ),
    Init.RANDOM: "the layer and its consumer re-initialised, as tutorials do",
}


@dataclass(frozen=True)
class OptimizerRemap:
    """What happened to the optimizer's state through the widening."""

    state: OptimizerState
    detail: str
    #: Parameters whose state had to restart (a slot that cannot be remapped exactly).
    reset: tuple[str, ...] = ()
    steps: int | None = None


@dataclass(frozen=True)
class Widened:
    chain: Chain
    chosen_by: str
    new_width: int
    init: Init
    noise: float
    change_before_noise: float
    change_after_noise: float | None
    samples: int
    params_before: int
    params_after: int
    optimizer: OptimizerRemap
    #: torch: how to rebuild the module for the written checkpoint.
    rebuild: str | None = None
    #: torch: the --factory-arg values that rebuild it, when the width argument is known.
    factory_args: dict | None = None


def max_abs_change(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> float:
    """Largest |after - before| over all outputs, in float64."""
    worst = 0.0
    for a, b in zip(before, after, strict=True):
        diff = np.abs(np.asarray(b, np.float64) - np.asarray(a, np.float64))
        if diff.size:
            worst = max(worst, float(np.max(diff)))
    return worst


def remap_detail(
    optimizer: str,
    init: Init,
    chain: Chain,
    reset: Sequence[str],
    steps: int | None,
    step_name: str,
    restarted: bool = False,
) -> str:
    """One sentence: what was carried over, what was reset, and where the step count stands.

    `restarted`: the widened layers' state starts afresh at step 0 (torch keeps a step count
    per parameter, so Adam's bias correction then applies to their first steps).
    """
    layer, consumer = chain.layer.name, chain.consumer.name
    touched = ", ".join([layer, *(n.name for n in chain.batch_norms), consumer])
    if restarted:
        carried = (
            f"{touched}: state restarts at step 0 (a zero moment at step {steps} would get no"
            " bias correction, and its first updates reach several times the learning rate)"
        )
    elif init is Init.NET2NET:
        carried = (
            f"{touched.rpartition(', ')[0]}: each copy carries its source's first moment / k and"
            f" second moment / k^2 (k = copies; their gradients are 1/k of the source's);"
            f" {consumer}: copied (its gradients are unchanged)"
        )
    elif init is Init.ZERO_OUT:
        carried = f"{touched}: existing units keep their state, new units start at zero"
    else:
        carried = f"{touched}: re-initialised, their state restarts at zero"
    parts = [f"{optimizer} state remapped per parameter: untouched layers keep theirs; {carried}"]
    if reset:
        parts.append(f"reset (a slot that cannot be remapped exactly): {', '.join(reset)}")
    if steps is not None:
        where = "for the untouched layers " if restarted else ""
        parts.append(f"{step_name} continues {where}from {steps}")
    return "; ".join(parts)


def build_outcome(w: Widened, options: WidenOptions, seed: int) -> StrategyOutcome:
    layer, consumer = w.chain.layer, w.chain.consumer
    old, words = layer.width, layer.unit_word
    head = (
        f"{layer.ref()}: {old} -> {w.new_width} {words} ({w.init.value} init: {INIT_WORDS[w.init]})"
    )
    if w.init is Init.NET2NET and w.change_after_noise is not None:
        effect = (
            f"function-preserving before noise, max |output change| {w.change_before_noise:.2g}"
            f"; after noise {w.noise:g}: {w.change_after_noise:.2g}"
        )
    elif w.init.function_preserving:
        effect = f"function-preserving, max |output change| {w.change_before_noise:.2g}"
    else:
        effect = f"NOT function-preserving, max |output change| {w.change_before_noise:.2g}"
    changes = [f"{head}, {effect} on the validation data ({w.samples} samples)"]
    why = (
        f"{layer.ref()} chosen with --layer"
        if w.chosen_by == "--layer"
        else f"{layer.ref()} is {w.chosen_by} (the bottleneck)"
    )
    along = "".join(f" and BatchNorm {n.name}" for n in w.chain.batch_norms)
    block = f", {w.chain.block} inputs per unit after the Flatten" if w.chain.block > 1 else ""
    changes.append(
        f"{why}; its consumer {consumer.ref()}{along} adjusted to the new width{block};"
        f" parameters {w.params_before:,} -> {w.params_after:,}"
    )
    if w.rebuild:
        changes.append(w.rebuild)
    details = {
        "layer": layer.name,
        "layer_type": layer.type_name,
        "chosen_by": w.chosen_by,
        "old_width": old,
        "new_width": w.new_width,
        "init": w.init.value,
        "noise": w.noise,
        "consumer": consumer.name,
        "widened_alongside": [n.name for n in w.chain.batch_norms],
        "inputs_per_unit": w.chain.block,
        "function_preserving": w.init.function_preserving,
        "max_output_change_before_noise": w.change_before_noise,
        "max_output_change_after_noise": w.change_after_noise,
        "output_change_samples": w.samples,
        "params_before": w.params_before,
        "params_after": w.params_after,
        "optimizer_reset": list(w.optimizer.reset),
    }
    if w.rebuild:
        details["rebuild"] = w.rebuild
    if w.factory_args is not None:
        details["factory_args"] = w.factory_args
    parameters = {
        "layer": layer.name,
        "factor": None if options.units is not None else options.factor or DEFAULT_FACTOR,
        "units": w.new_width,
        "init": w.init.value,
        "noise": w.noise if w.init is Init.NET2NET else None,
        "seed": seed,
    }
    return StrategyOutcome(
        changes=tuple(changes),
        parameters=parameters,
        optimizer_state=w.optimizer.state,
        optimizer_detail=w.optimizer.detail,
        details=details,
    )
