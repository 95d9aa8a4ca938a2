"""widen: grow a hidden layer (the bottleneck by default) and resume, keeping what it learned.

Helps when the model underfits at a high training loss: it lacks capacity, typically at a
narrow layer that every signal must pass (a 64 -> 4 -> 10 MLP). Does not help when the model
overfits (more capacity overfits more: augment), when the steps are too large or too small
(lr-decay), or when a frozen base holds it back (unfreeze); dead ReLU units need new units
too, but in place (FINDINGS §2).

How new units start (`--init`):

- `zero-out` (the default): random (He) incoming and zero outgoing weights. Named for its zero
  *outgoing* weights; "zero" alone reads as if the units were all-zero, which would never
  learn. Exactly function-preserving, and the outgoing weights get a gradient at once.
- `net2net`: Net2WiderNet's copies with outgoing weights divided by the copy count, plus
  `--noise` (default 1e-3 of the weights' scale) on the copies' incoming weights.
  Function-preserving before the noise. The copies get near-identical gradients and move
  together, so the new capacity stays unused for a long time.
- `random`: the layer and its consumer re-initialised (what most tutorials do); it throws away
  what those two layers learned.

Measured on the sample `widen` scenario (sample_models/{keras,torch}/widen: a 64 -> 4 -> 10
ReLU MLP whose 4 units are all alive, Adam 0.01, converged), through the CLI, 10 epochs, seeds
0, 1, 2, best val_loss per run (tests/strategies/widen/measure.py); "continue" is the restored
optimizer at its own rate:

| run (widening the 4-unit layer) | Keras (seeds 0/1/2: mean) | torch (seeds 0/1/2: mean) |
|---|---|---|
| continue unchanged | 0.289 0.295 0.301: 0.295 | 0.280 0.284 0.284: 0.283 |
| zero-out x2 (the default) | 0.237 0.262 0.234: **0.244** | 0.201 0.237 0.205: **0.214** |
| zero-out x4 | 0.217 0.193 0.192: 0.201 | 0.178 0.177 0.160: 0.172 |
| net2net x2, noise 1e-3 | 0.298 0.297 0.301: 0.299 | 0.284 0.285 0.284: 0.284 |
| net2net x4, noise 1e-3 | 0.317 0.296 0.316: 0.310 | 0.284 0.284 0.285: 0.284 |
| random x2 | 0.907 0.257 0.487: 0.550 | 0.273 0.237 0.302: 0.270 |

(Baselines before resuming: Keras 0.325, torch 0.284.) Zero-out is the only init that escapes
in both frameworks, so it is the default; Net2Net's copies stay where the original units were.

The optimizer state matters as much as the init. In torch, zero-out with the new units' moments
at zero and Adam's step still at 1800 gave 0.280 0.284 0.244 (x2) and 0.234 0.227 0.156 (x4):
without bias correction a zero second moment lets the first updates reach several times the
learning rate. So in torch the widened layers' state restarts at step 0 (torch counts steps per
parameter) while untouched layers keep theirs; net2net's state is remapped exactly (its copies'
gradients are known multiples of the originals'). Keras has one `iterations` for all variables:
there the new units start at zero moments and the count continues, which still escapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.strategies.base import Strategy, StrategyContext, StrategyOutcome
from plateau_cli.strategies.widen.options import WidenOptions


class Widen(Strategy):
    name: ClassVar[str] = "widen"
    changes_parameter_set: ClassVar[bool] = True
    helps_when: ClassVar[str] = (
        "the model underfits at a high training loss: it lacks capacity, e.g. a narrow"
        " bottleneck layer"
    )
    does_not_help_when: ClassVar[str] = (
        "it overfits (augment), the learning rate is wrong (lr-decay), or a frozen base holds"
        " it back (unfreeze)"
    )
    option_names: ClassVar[frozenset[str]] = frozenset(
        {"factor", "units", "layer", "init", "noise"}
    )

    def __init__(self, options: WidenOptions) -> None:
        super().__init__(options)
        self.options: WidenOptions = options

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> Widen:
        return cls(WidenOptions.from_given(given))

    def apply(
        self, handle: ModelHandle, data: DataBundle, context: StrategyContext
    ) -> StrategyOutcome:
        if handle.framework == "keras":
            from plateau_cli.strategies.widen import keras as surgery
        else:
            from plateau_cli.strategies.widen import torch as surgery  # type: ignore[no-redef]
        return surgery.apply(handle, data, context, self.options)  # type: ignore[arg-type]


STRATEGY = Widen


def narrowest_target(
    handle: ModelHandle, data: DataBundle, context: StrategyContext
) -> tuple[str, int]:
    """The layer `widen` would grow by default and its width, without changing anything.

    Raises StrategyNotApplicableError when nothing can be widened (auto uses the reason).
    """
    if handle.framework == "keras":
        from plateau_cli.strategies.widen import keras as surgery
    else:
        from plateau_cli.strategies.widen import torch as surgery  # type: ignore[no-redef]
    return surgery.target(handle, data, context)  # type: ignore[arg-type]
