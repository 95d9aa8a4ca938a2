"""unfreeze for PyTorch: frozen parameters, a new param group per step, BatchNorm kept in eval.

A parameter is frozen when it has `requires_grad=False` or no param group of the optimizer holds
it. The adapter already applies the checkpoint's own evidence: parameters the saved optimizer
never updated were frozen in the original run and come back with `requires_grad=False`.

Unfrozen parameters join the optimizer with `add_param_group` at the head's rate times the
multiple (Lightning's BackboneFinetuning does the same): the existing groups keep their state
(Adam's moments and per-parameter step), and the new parameters start from an empty state, so
Adam's bias correction starts at their step 1.

BatchNorm: every BatchNorm module whose parameters stay frozen is kept in eval mode through
`handle.keep_in_eval_mode`, so `model.train()` does not turn batch statistics back on and their
running statistics stay those of pretraining; its scale and offset stay frozen too (Lightning's
`train_bn=False`). That covers the unfrozen blocks' BatchNorm and those of blocks still frozen,
as a Keras layer with `trainable=False` behaves. With --train-bn the unfrozen blocks' BatchNorm
train fully: parameters in the new group, batch statistics in training mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from plateau_cli.adapters.base import OptimizerState
from plateau_cli.adapters.torch.structure import BATCH_NORMS, kind
from plateau_cli.strategies.unfreeze.blocks import Block, Unit
from plateau_cli.strategies.unfreeze.stage import Stage

_NORMS = BATCH_NORMS | {"LayerNorm", "GroupNorm", "RMSNorm", "InstanceNorm1d", "InstanceNorm2d"}


class TorchUnfreeze:
    """The torch side of the strategy; `Unfreeze` drives it."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.model: torch.nn.Module = handle.model
        self.loaded_state: OptimizerState = handle.optimizer_state
        in_optimizer = {id(p) for g in handle.optimizer.param_groups for p in g["params"]}
        self.modules: dict[str, torch.nn.Module] = {}
        self.frozen: dict[str, list[torch.nn.Parameter]] = {}
        self.own: dict[str, list[torch.nn.Parameter]] = {}
        seen: set[int] = set()
        for name, module in self.model.named_modules():
            own = [p for _, p in module.named_parameters(recurse=False) if id(p) not in seen]
            if not own:
                continue
            seen.update(id(p) for p in own)
            self.modules[name or "(root)"] = module
            self.own[name or "(root)"] = own
            self.frozen[name or "(root)"] = [
                p for p in own if not p.requires_grad or id(p) not in in_optimizer
            ]
        self.groups_added = 0
        self._kept_ids: set[int] = set()

    # -- reading ------------------------------------------------------------------------------
    def units(self) -> list[Unit]:
        units = []
        for name, module in self.modules.items():
            frozen = self.frozen[name]
            counted = frozen or self.own[name]
            units.append(
                Unit(
                    name=name,
                    kind=kind(module),
                    params=sum(p.numel() for p in counted),
                    frozen=bool(frozen),
                    norm=kind(module) in _NORMS,
                    batch_norm=kind(module) in BATCH_NORMS,
                )
            )
        return units

    def trainable_params(self) -> int:
        in_optimizer = {id(p) for g in self.handle.optimizer.param_groups for p in g["params"]}
        return sum(
            p.numel() for p in self.model.parameters() if p.requires_grad and id(p) in in_optimizer
        )

    def head_rate(self) -> float | None:
        return self.handle.learning_rate()

    def unknown_frozen_hint(self) -> str | None:
        """A state dict does not store `requires_grad`; only a saved optimizer tells."""
        if self.loaded_state is OptimizerState.RESTORED:
            return None
        return (
            " as far as the file tells: it holds no usable optimizer state, which is where a"
            " frozen part shows in a torch checkpoint; a factory that sets requires_grad=False"
            " on the frozen layers makes them visible"
        )

    # -- changing -----------------------------------------------------------------------------
    def unfreeze(self, blocks: Sequence[Block], mult: float, train_bn: bool) -> Stage:
        trained = [u for block in blocks for u in block.trained(train_bn)]
        kept = [u for block in blocks for u in block.kept(train_bn)]
        params = [p for u in trained for p in self.frozen[u.name]]
        for p in params:
            p.requires_grad_(True)
        rate = float(self.handle.learning_rate() or 0.0) * mult
        self.handle.optimizer.add_param_group({"params": params, "lr": rate})
        self.groups_added += 1
        for u in trained:
            self.frozen[u.name] = []
        batch_norm = [self.modules[u.name] for u in trained if u.batch_norm]
        self.handle.release_from_eval_mode(batch_norm)
        self._kept_ids -= {id(m) for m in batch_norm}
        frozen_bn = self._frozen_batch_norms()
        self.handle.keep_in_eval_mode(m for _, m in frozen_bn)
        in_stage = {u.name for u in kept}
        newly = [n for n, m in frozen_bn if id(m) not in self._kept_ids and n not in in_stage]
        self._kept_ids |= {id(m) for _, m in frozen_bn}
        notes = (
            (
                f"BatchNorm {', '.join(newly)} of a still-frozen block kept in inference mode"
                " too: model.train() no longer updates its running statistics",
            )
            if newly
            else ()
        )
        return Stage(
            trained=tuple(u.name for u in trained),
            kept=tuple(u.name for u in kept),
            parameters=sum(p.numel() for p in params),
            lr=rate,
            notes=notes,
        )

    def reattach(self, done: Sequence[Sequence[str]], mult: float) -> list[str]:
        """A continued run: the saved optimizer already holds the unfrozen param groups at their
        rates; what the file cannot hold is which BatchNorms stay in inference mode."""
        frozen_bn = self._frozen_batch_norms()
        self.handle.keep_in_eval_mode(m for _, m in frozen_bn)
        self._kept_ids |= {id(m) for _, m in frozen_bn}
        kept = f"; BatchNorm {', '.join(n for n, _ in frozen_bn)} kept in inference mode"
        return [
            f"{', '.join(n for names in done for n in names)} keep their param groups from the"
            f" saved optimizer{kept if frozen_bn else ''}"
        ]

    def _frozen_batch_norms(self) -> list[tuple[str, torch.nn.Module]]:
        """BatchNorm modules with parameters still frozen: their statistics stay frozen too."""
        return [
            (name, module)
            for name, module in self.modules.items()
            if kind(module) in BATCH_NORMS and self.frozen[name]
        ]

    # -- reporting ----------------------------------------------------------------------------
    def optimizer_outcome(self) -> tuple[OptimizerState, str]:
        kind_name = type(self.handle.optimizer).__name__
        groups = len(self.handle.optimizer.param_groups)
        restored = self.loaded_state is OptimizerState.RESTORED
        state = OptimizerState.PARTIAL if restored else self.loaded_state
        carried = (
            f"the head's {kind_name} state continues (moments and per-parameter step)"
            if restored
            else f"the {kind_name} trains the head"
        )
        detail = (
            f"{carried}; the unfrozen parameters join as new param groups (add_param_group,"
            " as Lightning's BackboneFinetuning) with fresh state; the saved optimizer state"
            f" has {groups} param groups, so a script that loads it must build its optimizer"
            " with the same groups in the same order"
        )
        return state, detail

    def describe_rates(self) -> dict[str, Any]:
        return {
            "optimizer_groups": [
                {
                    "group": index,
                    "parameters": sum(p.numel() for p in group["params"]),
                    "lr": float(group["lr"]),
                }
                for index, group in enumerate(self.handle.optimizer.param_groups)
            ]
        }


SURGEON = TorchUnfreeze
