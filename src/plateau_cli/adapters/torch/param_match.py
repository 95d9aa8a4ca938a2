"""Which of the model's parameters a saved optimizer state belongs to.

A torch optimizer's state dict numbers its parameters 0..N-1 in the order the optimizer was
given them, group after group, and names none of them. When N equals the model's parameter
count the order is `model.parameters()`. When N is smaller, part of the model was frozen in the
original run (an optimizer built over the head, or over `filter(requires_grad)`): the state's
tensor shapes (Adam's moments, SGD's momentum buffers) say where the run of saved parameters
sits. The usual answer is the last N parameters (the head), so among equally good places the
latest wins, and the note says when that was a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

Named = tuple[str, torch.nn.Parameter]

#: State entries shaped like their parameter in torch.optim (Adafactor's factored row and
#: column statistics are not, so they tell nothing and are not listed).
_PARAM_SHAPED = frozenset(
    {
        "exp_avg",
        "exp_avg_sq",
        "max_exp_avg_sq",
        "momentum_buffer",
        "square_avg",
        "grad_avg",
        "acc_delta",
        "sum",
        "exp_inf",
        "prev",
        "step_size",
        "ax",
    }
)


@dataclass(frozen=True)
class Match:
    """The model's parameters for each saved param group, in the saved order."""

    groups: tuple[tuple[Named, ...], ...]
    #: How the placement was decided, when it was not simply "all parameters in order".
    note: str | None = None

    @property
    def flat(self) -> list[Named]:
        return [named for group in self.groups for named in group]


def saved_shapes(saved: Mapping[str, Any]) -> list[tuple[int, ...] | None]:
    """Each saved parameter's shape, from its state tensors; None where no state tells."""
    state = saved.get("state", {})
    shapes: list[tuple[int, ...] | None] = []
    for group in saved["param_groups"]:
        for pid in group["params"]:
            shapes.append(_state_shape(state.get(pid)))
    return shapes


def match_parameters(named: Sequence[Named], saved: Mapping[str, Any]) -> Match | None:
    """Place the saved parameters among the model's; None when no placement fits."""
    sizes = [len(group["params"]) for group in saved["param_groups"]]
    shapes = saved_shapes(saved)
    total = len(shapes)
    if total == 0 or total > len(named):
        return None
    trainable = [item for item in named if item[1].requires_grad]
    if len(trainable) == total < len(named) and _fits(shapes, trainable):
        return _split(trainable, sizes, "the parameters the factory leaves trainable")
    if len(named) == total and _fits(shapes, named):
        in_order = _split(list(named), sizes, None)
        if not _breaks_no_decay_convention(in_order, saved["param_groups"]):
            return in_order
    if len(sizes) > 1 and total == len(named):
        interleaved = _interleave_groups(named, shapes, saved["param_groups"])
        if interleaved is not None:
            return interleaved
    windows = [
        start
        for start in range(len(named) - total + 1)
        if _fits(shapes, named[start : start + total])
    ]
    if windows:
        start = windows[-1]
        guess = " (the latest of several places that fit)" if len(windows) > 1 else ""
        where = "the last" if start + total == len(named) else f"{total} consecutive"
        note = f"{where} {total} of the model's {len(named)} parameters{guess}"
        return _split(list(named[start : start + total]), sizes, note)
    if len(sizes) > 1:
        per_group = _place_groups(named, shapes, sizes)
        if per_group is not None:
            return per_group
    chosen = _latest_subsequence(named, shapes)
    if chosen is None:
        return None
    return _split(chosen, sizes, f"{total} of the model's {len(named)} parameters, by shape")


def _state_shape(entry: Any) -> tuple[int, ...] | None:
    if not isinstance(entry, Mapping):
        return None
    for key, value in entry.items():
        if key in _PARAM_SHAPED and isinstance(value, torch.Tensor) and value.dim() > 0:
            return tuple(value.shape)
    return None


def _fits(shapes: Sequence[tuple[int, ...] | None], params: Sequence[Named]) -> bool:
    if len(shapes) != len(params):
        return False
    pairs = zip(shapes, params, strict=True)
    return all(shape is None or shape == tuple(p.shape) for shape, (_, p) in pairs)


def _split(params: list[Named], sizes: list[int], note: str | None) -> Match:
    groups, start = [], 0
    for size in sizes:
        groups.append(tuple(params[start : start + size]))
        start += size
    return Match(tuple(groups), note)


def _place_groups(
    named: Sequence[Named], shapes: list[tuple[int, ...] | None], sizes: list[int]
) -> Match | None:
    """Each group in its own run of consecutive parameters (groups given out of model order)."""
    used: set[int] = set()
    groups: list[tuple[Named, ...]] = []
    offset = 0
    for size in sizes:
        wanted = shapes[offset : offset + size]
        offset += size
        for start in reversed(range(len(named) - size + 1)):
            span = range(start, start + size)
            if not used.intersection(span) and _fits(wanted, named[start : start + size]):
                used.update(span)
                groups.append(tuple(named[start : start + size]))
                break
        else:
            return None
    return Match(tuple(groups), "each param group placed by the shapes of its saved state")


def _breaks_no_decay_convention(match: Match, groups: list[Any]) -> bool:
    """A group without weight decay holding a weight matrix while another decays: the groups
    were more likely split by kind (biases and norms apart) than taken in model order."""
    decays = [float(group.get("weight_decay", 0.0) or 0.0) for group in groups]
    if len(set(decays)) < 2:
        return False
    return any(
        decay == 0.0 and any(p.dim() > 1 and "norm" not in n.lower() for n, p in members)
        for decay, members in zip(decays, match.groups, strict=True)
    )


def _interleave_groups(
    named: Sequence[Named], shapes: list[tuple[int, ...] | None], groups: list[Any]
) -> Match | None:
    """Groups that split the model's parameters between them, each in model order: the
    Hugging Face / timm convention (weights decayed; biases and norms in a group without weight
    decay). Each parameter goes to the group whose next saved shape it has; where several fit,
    a vector (bias, norm) goes to the group without weight decay, a matrix to the other."""
    sizes = [len(group["params"]) for group in groups]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    taken = [0] * len(sizes)
    placed: list[list[Named]] = [[] for _ in sizes]
    no_decay = [float(group.get("weight_decay", 0.0) or 0.0) == 0.0 for group in groups]
    for item in named:
        shape = tuple(item[1].shape)
        fits = [
            g
            for g in range(len(sizes))
            if taken[g] < sizes[g] and shapes[starts[g] + taken[g]] in (None, shape)
        ]
        if not fits:
            return None
        vector = len(shape) <= 1 or "norm" in item[0].lower()
        preferred = [g for g in fits if no_decay[g] == vector]
        chosen = (preferred or fits)[0]
        placed[chosen].append(item)
        taken[chosen] += 1
    if taken != sizes:
        return None
    return Match(tuple(tuple(group) for group in placed), None)


def _latest_subsequence(
    named: Sequence[Named], shapes: list[tuple[int, ...] | None]
) -> list[Named] | None:
    """Match from the end, taking for each saved shape the latest parameter that has it."""
    chosen: list[Named] = []
    index = len(named) - 1
    for shape in reversed(shapes):
        while index >= 0 and not (shape is None or shape == tuple(named[index][1].shape)):
            index -= 1
        if index < 0:
            return None
        chosen.append(named[index])
        index -= 1
    return list(reversed(chosen))
