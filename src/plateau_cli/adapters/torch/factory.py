"""Build the module with the user's factory and fit the saved weights into it.

A state dict is only names and tensors: the code that builds the module lives in the user's
project, named by `--model-factory`. Checkpoints often prefix the names (Lightning's `model.`,
DataParallel's `module.`, torch.compile's `_orig_mod.`): the prefix that makes the most names
match is stripped, and entries outside it (a loss module's buffers, metric states) are kept
aside and written back unchanged on save. Anything that still does not fit is one clear error
that lists the first mismatched names and shapes, never a 40-line RuntimeError from
`load_state_dict`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from plateau_cli import entry_points
from plateau_cli.adapters.base import LoadOptions
from plateau_cli.errors import BadInputError, UsageError

FACTORY_OPTION = "--model-factory"
_MAX_SHOWN = 3
_MAX_PREFIX_DEPTH = 3


@dataclass(frozen=True)
class WeightsFit:
    """How the checkpoint's names map onto the module's."""

    prefix: str
    #: Checkpoint entries outside the prefix, kept for the save.
    extra_keys: tuple[str, ...]


class FactoryNeededError(UsageError):
    """The file holds weights without code: `inspect` can still show what the file says."""


def build_module(options: LoadOptions, path: Path, what: str) -> torch.nn.Module:
    """Call the factory; `what` says what the file holds, for the message when it is missing."""
    if not options.model_factory:
        raise FactoryNeededError(
            f"{path}: {what} holds weights but not the code that builds the model; name a"
            f" function that returns the torch.nn.Module with {FACTORY_OPTION}, e.g."
            f" {FACTORY_OPTION} mypkg.nets:build or {FACTORY_OPTION} path/to/nets.py:build,"
            " plus --factory-arg name=value for its arguments"
        )
    module = entry_points.call(options.model_factory, FACTORY_OPTION, options.factory_args)
    if not isinstance(module, torch.nn.Module):
        raise BadInputError(
            f"{FACTORY_OPTION} {options.model_factory!r} returned a {type(module).__name__};"
            " expected a torch.nn.Module"
        )
    return module


def fit_weights(
    module: torch.nn.Module, state: Mapping[str, Any], *, source: Path, factory: str | None
) -> WeightsFit:
    """Load `state` into `module` strictly, after stripping the best-matching prefix."""
    expected = module.state_dict()
    prefix = choose_prefix(state.keys(), expected.keys())
    mapped = {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
    # BatchNorm fills in `num_batches_tracked` itself for checkpoints from before torch 0.4.1.
    missing = [k for k in expected if k not in mapped and not k.endswith("num_batches_tracked")]
    unexpected = [key for key in mapped if key not in expected]
    mismatched = [
        (key, tuple(mapped[key].shape), tuple(expected[key].shape))
        for key in expected
        if key in mapped
        and isinstance(mapped[key], torch.Tensor)
        and isinstance(expected[key], torch.Tensor)
        and mapped[key].shape != expected[key].shape
    ]
    if missing or unexpected or mismatched:
        raise BadInputError(
            _mismatch_message(source, factory, prefix, expected, missing, unexpected, mismatched)
        )
    module.load_state_dict(dict(mapped), strict=not any(k not in mapped for k in expected))
    extra = tuple(key for key in state if not key.startswith(prefix))
    return WeightsFit(prefix, extra)


def choose_prefix(saved: Iterable[str], wanted: Iterable[str]) -> str:
    """The prefix of the saved names under which most of the module's names are found."""
    saved_set = set(saved)
    wanted_list = list(wanted)
    candidates = {""}
    for key in saved_set:
        parts = key.split(".")
        for depth in range(1, min(len(parts), _MAX_PREFIX_DEPTH + 1)):
            candidates.add(".".join(parts[:depth]) + ".")

    def score(prefix: str) -> tuple[int, int]:
        return sum(prefix + key in saved_set for key in wanted_list), -len(prefix)

    return max(sorted(candidates), key=score)


def _mismatch_message(
    source: Path,
    factory: str | None,
    prefix: str,
    expected: Mapping[str, Any],
    missing: list[str],
    unexpected: list[str],
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
) -> str:
    parts = []
    if mismatched:
        shown = ", ".join(
            f"{prefix}{key}: checkpoint {_shape(saved)} vs model {_shape(model)}"
            for key, saved, model in mismatched[:_MAX_SHOWN]
        )
        parts.append(f"{len(mismatched)} with other shapes ({shown}{_more(mismatched)})")
    if missing:
        shown = ", ".join(f"{k} {_shape(_shape_of(expected[k]))}" for k in missing[:_MAX_SHOWN])
        parts.append(f"{len(missing)} missing from the checkpoint ({shown}{_more(missing)})")
    if unexpected:
        shown = ", ".join(prefix + key for key in unexpected[:_MAX_SHOWN])
        parts.append(f"{len(unexpected)} not in the model ({shown}{_more(unexpected)})")
    built = f"the module built by {FACTORY_OPTION} {factory}" if factory else "the module"
    return (
        f"{source}: the saved weights do not fit {built}: {'; '.join(parts)}; pass the factory"
        " (and --factory-arg values) of the architecture that wrote this checkpoint"
    )


def _shape_of(value: Any) -> tuple[int, ...]:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else ()


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(d) for d in shape))


def _more(items: list[Any]) -> str:
    return f", +{len(items) - _MAX_SHOWN} more" if len(items) > _MAX_SHOWN else ""
