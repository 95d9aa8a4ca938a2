"""The steps of a widening both frameworks share: the unit map, each touched layer's new
arrays, the noise, and the check that a function-preserving init did preserve the outputs.

The framework modules only name their arrays (Keras `kernel`/`gamma`, torch `weight`) and say
on which axis the units lie; everything numeric happens here and in `arithmetic`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.widen.arithmetic import (
    Init,
    UnitAxis,
    UnitMap,
    add_noise,
    incoming,
    outgoing,
    per_unit,
)
from plateau_cli.strategies.widen.graph import Chain
from plateau_cli.strategies.widen.options import WidenOptions
from plateau_cli.strategies.widen.outcome import max_abs_change, remap_detail

__all__ = [
    "MAX_SAMPLES",
    "check_preserved",
    "consumer_arrays",
    "layer_arrays",
    "max_abs_change",
    "noisy",
    "norm_arrays",
    "remap_detail",
    "unit_map",
]

#: Validation samples the output change is measured on (all of them, up to this many).
MAX_SAMPLES = 10_000
#: A function-preserving widening that moves an output by more than this (relative to the
#: outputs' scale) met a topology the walk did not foresee: refused rather than trained on.
TOLERANCE = 1e-4
#: A BatchNorm's values for a fresh channel: identity normalisation.
NORM_FRESH = {"gamma": 1.0, "beta": 0.0, "mean": 0.0, "variance": 1.0}


def unit_map(init: Init, old: int, new: int, rng: np.random.Generator) -> UnitMap:
    if init is Init.NET2NET:
        return UnitMap.replicate(old, new, rng)
    return UnitMap.extend(old, new)


def fan_in(kernel: np.ndarray, where: UnitAxis) -> int:
    """Inputs per unit of a kernel whose units lie on `where.axis`."""
    return int(kernel.size // kernel.shape[where.axis])


def layer_arrays(
    kernel: np.ndarray,
    bias: np.ndarray | None,
    where: UnitAxis,
    units: UnitMap,
    options: WidenOptions,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The widened layer's kernel and bias (before noise)."""
    new_kernel = incoming(kernel, where, units, options.init, fan_in(kernel, where), rng)
    new_bias = None if bias is None else per_unit(bias, units, options.init, 0.0)
    return new_kernel, new_bias


def norm_arrays(
    values: dict[str, np.ndarray | None], units: UnitMap, options: WidenOptions
) -> dict[str, np.ndarray | None]:
    """A BatchNorm between the layer and its consumer: gamma, beta, mean, variance per unit."""
    return {
        role: None if value is None else per_unit(value, units, options.init, NORM_FRESH[role])
        for role, value in values.items()
    }


def consumer_arrays(
    kernel: np.ndarray,
    bias: np.ndarray | None,
    where: UnitAxis,
    units: UnitMap,
    options: WidenOptions,
    new_fan_in: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The consumer's kernel (one input slice per unit) and bias (reset only by `random`)."""
    new_kernel = outgoing(kernel, where, units, options.init, new_fan_in, rng)
    if bias is not None and options.init is Init.RANDOM:
        bias = np.zeros_like(bias)
    return new_kernel, bias


def noisy(
    kernel: np.ndarray,
    where: UnitAxis,
    units: UnitMap,
    options: WidenOptions,
    rng: np.random.Generator,
) -> np.ndarray:
    return add_noise(kernel, where, units, options.effective_noise, rng)


def check_preserved(
    chain: Chain, init: Init, original: Sequence[np.ndarray], widened: Sequence[np.ndarray]
) -> float:
    """Max |output change|; a function-preserving init that changed the outputs is refused."""
    change = max_abs_change(original, widened)
    scale = max((float(np.max(np.abs(o))) for o in original if o.size), default=1.0)
    if init.function_preserving and change > TOLERANCE * max(scale, 1.0):
        raise StrategyNotApplicableError(
            f"widening {chain.layer.name} with --init {init.value} should keep the outputs but"
            f" changed them by up to {change:.3g}: something between {chain.layer.name} and"
            f" {chain.consumer.name} ({', '.join(chain.path) or 'nothing'}) is not what widen"
            " understood; the model was left unchanged"
        )
    return change
