"""Growing a layer's units on plain numpy arrays, written once for Keras and PyTorch.

A widening is described by a `UnitMap`: for every unit of the wider layer, the old unit it
copies, or `FRESH` for a unit that starts from a new random draw. The same map drives every
array the change touches:

- the layer's *incoming* weights and bias (its kernel, one slice per unit),
- per-unit values between the layer and its consumer (a BatchNorm's gamma, beta, moving stats),
- the consumer's *outgoing* weights (one input slice per unit; after a Flatten, a block of
  inputs per unit: `UnitAxis.block`),
- the optimizer's per-parameter state (`remap_slot`).

Three ways to start the new units (`Init`):

- `zero-out`: fresh units get random (He) incoming weights and zero outgoing weights. The
  outputs are unchanged exactly (a zero weight adds nothing), yet the outgoing weights receive
  a gradient at the first step (activation x downstream error), so the units start learning.
- `net2net`: Net2WiderNet (Chen, Goodfellow, Shlens, ICLR 2016): new units copy existing ones
  and the outgoing weights of a unit replicated k times are divided by k, so the sum is the
  same. Exact copies get identical gradients; `add_noise` perturbs the copies' incoming weights.
- `random`: the wider layer and its consumer re-initialised, as tutorials do. Not
  function-preserving; there for comparison.

The dead-unit repair (FINDINGS §2) is the same arithmetic with `UnitMap.renew`: existing units
marked fresh get random incoming and zero outgoing weights, and the layer keeps its width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

FRESH = -1


class Init(str, Enum):
    """How new units start. `zero-out`: random incoming, zero outgoing weights."""

    ZERO_OUT = "zero-out"
    NET2NET = "net2net"
    RANDOM = "random"

    @property
    def function_preserving(self) -> bool:
        return self is not Init.RANDOM


@dataclass(frozen=True)
class UnitMap:
    """Which old unit each unit of the (wider) layer comes from; `FRESH` for none."""

    old: int
    sources: tuple[int, ...]

    def __post_init__(self) -> None:
        if any(s != FRESH and not 0 <= s < self.old for s in self.sources):
            raise ValueError(f"unit sources must be in [0, {self.old}) or FRESH: {self.sources}")

    @classmethod
    def replicate(cls, old: int, new: int, rng: np.random.Generator) -> UnitMap:
        """Net2WiderNet: units 0..old-1 stay, each further unit copies one chosen at random.

        Drawn in rounds without replacement (a unit is copied again only after every unit
        was copied once): x2 makes every unit a pair, so each divisor is 2, exact in floating
        point, and no unit takes three slots while another has one.
        """
        rounds = -(-(new - old) // old) if new > old else 0
        draws = np.concatenate([rng.permutation(old) for _ in range(rounds)] or [np.array([], int)])
        return cls(old, (*range(old), *(int(s) for s in draws[: new - old])))

    @classmethod
    def extend(cls, old: int, new: int) -> UnitMap:
        """Units 0..old-1 stay, the others start fresh."""
        return cls(old, (*range(old), *([FRESH] * (new - old))))

    @classmethod
    def renew(cls, width: int, units: Sequence[int]) -> UnitMap:
        """Same width; the listed existing units start fresh (reinitialising dead units)."""
        chosen = set(units)
        if any(not 0 <= u < width for u in chosen):
            raise ValueError(f"units to renew must be in [0, {width}). Received: {sorted(chosen)}")
        return cls(width, tuple(FRESH if u in chosen else u for u in range(width)))

    @property
    def new(self) -> int:
        return len(self.sources)

    @property
    def source_array(self) -> np.ndarray:
        return np.asarray(self.sources, dtype=np.int64)

    @property
    def fresh(self) -> np.ndarray:
        """Boolean mask over the new units: True where a unit starts fresh."""
        return self.source_array == FRESH

    @property
    def counts(self) -> np.ndarray:
        """How many units of the new layer copy each old unit (0 for a renewed unit)."""
        kept = self.source_array[~self.fresh]
        return np.bincount(kept, minlength=self.old)

    @property
    def divisors(self) -> np.ndarray:
        """Per new unit, the replication count of its source (1 for a fresh unit)."""
        out = np.ones(self.new, dtype=np.float64)
        kept = ~self.fresh
        out[kept] = self.counts[self.source_array[kept]]
        return out

    @property
    def replicas(self) -> np.ndarray:
        """Mask of the units that copy a unit already present earlier in the layer."""
        seen: set[int] = set()
        out = np.zeros(self.new, dtype=bool)
        for j, source in enumerate(self.sources):
            if source != FRESH:
                out[j] = source in seen
                seen.add(source)
        return out


@dataclass(frozen=True)
class UnitAxis:
    """Where the units live in an array: along `axis`, `block` entries per unit.

    `block` > 1 after a Flatten: a filter of an HxW feature map becomes H*W inputs of the Dense
    that follows. `inner`: the unit index varies fastest (channels-last flatten: position-major,
    Keras); otherwise each unit's block is contiguous (channels-first flatten, torch NCHW).
    """

    axis: int
    block: int = 1
    inner: bool = True


def _split(a: np.ndarray, where: UnitAxis, units: int) -> np.ndarray:
    """View `a` as (units, block, *rest)."""
    moved = np.moveaxis(a, where.axis, 0)
    if moved.shape[0] != units * where.block:
        raise ValueError(
            f"axis {where.axis} of an array of shape {a.shape} holds {moved.shape[0]} entries;"
            f" expected {units} units x {where.block}"
        )
    rest = moved.shape[1:]
    if where.inner:
        return moved.reshape(where.block, units, *rest).swapaxes(0, 1)
    return moved.reshape(units, where.block, *rest)


def _merge(split: np.ndarray, where: UnitAxis) -> np.ndarray:
    units, block, *rest = split.shape
    flat = split.swapaxes(0, 1) if where.inner else split
    return np.moveaxis(flat.reshape(units * block, *rest), 0, where.axis)


def grow(
    a: np.ndarray, where: UnitAxis, units: UnitMap, fill: float | np.ndarray = 0.0
) -> np.ndarray:
    """Each unit's slice copied from its source; fresh units take `fill` (a scalar, or an
    array of the result's shape whose fresh slices are used)."""
    old = _split(np.asarray(a), where, units.old)
    out = np.empty((units.new, *old.shape[1:]), dtype=old.dtype)
    kept = ~units.fresh
    out[kept] = old[units.source_array[kept]]
    if units.fresh.any():
        if np.ndim(fill) == 0:
            out[units.fresh] = fill
        else:
            out[units.fresh] = _split(np.asarray(fill, dtype=old.dtype), where, units.new)[
                units.fresh
            ]
    return _merge(out, where)


def scale_units(a: np.ndarray, where: UnitAxis, factors: np.ndarray) -> np.ndarray:
    """Multiply each unit's slice by its factor (one per unit)."""
    split = _split(np.asarray(a), where, len(factors))
    shape = (len(factors),) + (1,) * (split.ndim - 1)
    return _merge((split * factors.reshape(shape)).astype(split.dtype), where)


def he_normal(
    shape: Sequence[int], fan_in: int, rng: np.random.Generator, dtype: str
) -> np.ndarray:
    """He et al. (2015): std sqrt(2 / fan_in), the scale that keeps ReLU activations' variance."""
    std = np.sqrt(2.0 / max(fan_in, 1))
    return (rng.standard_normal(tuple(shape)) * std).astype(dtype)


def widened_shape(shape: Sequence[int], where: UnitAxis, new: int) -> tuple[int, ...]:
    out = list(shape)
    out[where.axis] = new * where.block
    return tuple(out)


def incoming(
    kernel: np.ndarray,
    where: UnitAxis,
    units: UnitMap,
    init: Init,
    fan_in: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The widened layer's kernel: copies of the sources, He-random for fresh units (and for
    every unit under `random`)."""
    fresh = he_normal(widened_shape(kernel.shape, where, units.new), fan_in, rng, kernel.dtype)
    if init is Init.RANDOM:
        return fresh
    return grow(kernel, where, units, fresh)


def per_unit(values: np.ndarray, units: UnitMap, init: Init, fresh: float) -> np.ndarray:
    """A bias, or a BatchNorm vector: copied from the sources, `fresh` for new units (and for
    all under `random`). BatchNorm's fresh values: gamma 1, beta 0, mean 0, variance 1."""
    if init is Init.RANDOM:
        return np.full(units.new, fresh, dtype=values.dtype)
    return grow(values, UnitAxis(0), units, fresh)


def outgoing(
    kernel: np.ndarray,
    where: UnitAxis,
    units: UnitMap,
    init: Init,
    fan_in: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The consumer's kernel, one input slice (or block) per unit.

    net2net: copies divided by the source's replication count, so k copies sum to the
    original. zero-out: zeros for fresh units. random: He-random throughout (`fan_in` is the
    consumer's new fan-in).
    """
    if init is Init.RANDOM:
        shape = widened_shape(kernel.shape, where, units.new)
        return he_normal(shape, fan_in, rng, kernel.dtype)
    grown = grow(kernel, where, units, 0.0)
    if init is Init.NET2NET:
        return scale_units(grown, where, 1.0 / units.divisors)
    return grown


def add_noise(
    kernel: np.ndarray, where: UnitAxis, units: UnitMap, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """Perturb the incoming weights of replicas (not of the units they copy), by `noise` times
    the kernel's standard deviation, so copies stop receiving identical gradients."""
    if noise <= 0 or not units.replicas.any():
        return kernel
    scale = float(np.std(kernel)) or 1.0
    split = _split(np.asarray(kernel), where, units.new).copy()
    draws = rng.standard_normal(split[units.replicas].shape) * noise * scale
    split[units.replicas] = split[units.replicas] + draws.astype(split.dtype)
    return _merge(split, where)


# -- optimizer state ------------------------------------------------------------------------


class Role(str, Enum):
    """Where a parameter sits relative to the widened units."""

    #: One slice per unit on the layer's side: its kernel and bias, a BatchNorm's gamma/beta.
    INCOMING = "incoming"
    #: One input slice (or block) per unit: the consumer's kernel.
    OUTGOING = "outgoing"
    #: The consumer's bias: same shape; only `random` re-initialises it.
    CONSUMER_BIAS = "consumer-bias"


@dataclass(frozen=True)
class Slot:
    """An optimizer's per-parameter state variable, by how it scales with the gradient.

    `degree` d: the slot is homogeneous of degree d in the gradients (Adam's first moment 1,
    second moment 2; RMSprop's momentum of g/sqrt(v) 0); None: unknown, cannot be remapped.
    `weight_like`: an average of the weights themselves (EMA), remapped like the weights.
    """

    degree: int | None
    weight_like: bool = False


def remap_slot(
    values: np.ndarray,
    role: Role,
    where: UnitAxis,
    units: UnitMap,
    init: Init,
    slot: Slot,
    fresh: np.ndarray,
) -> np.ndarray | None:
    """One optimizer slot of one parameter through the widening; None: it must be reset.

    `fresh` (the widened shape) holds what a new optimizer would start from: zeros, Adagrad's
    initial accumulator, or for a weight-like slot the widened weights.

    Net2Net's derivation: a replica computes its source's activation h, and the k copies'
    outgoing weights w/k sum to w. The loss gradient reaching each copy is therefore
    dL/dh_copy = w/k . delta = (1/k) dL/dh: every gradient on the unit's side (incoming weights,
    bias, BatchNorm gamma/beta) is 1/k of the original's at every step, so a slot homogeneous of
    degree d in the gradients is the original's / k^d (Adam: m/k, v/k^2, and the Adam step
    m/sqrt(v) of each copy equals the original's). The outgoing weights' gradient is
    delta . h, the same h for every copy: their slots are copied unchanged. Zero-out leaves the
    existing units' gradients exactly as they were, so their slots are copied and the fresh
    units start at `fresh`; `random` starts every slot of the changed layers at `fresh`.
    """
    if init is Init.RANDOM:
        return fresh
    if role is Role.CONSUMER_BIAS:
        return values
    grown = grow(values, where, units, fresh)
    if init is Init.ZERO_OUT:
        return grown
    if slot.weight_like:
        return scale_units(grown, where, 1.0 / units.divisors) if role is Role.OUTGOING else grown
    if slot.degree is None:
        return None
    if role is Role.OUTGOING:
        return grown
    return scale_units(grown, where, units.divisors ** (-float(slot.degree)))
