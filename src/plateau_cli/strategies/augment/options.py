"""augment's options: the `--augment` spec, `--noise`, `--mixup`, `--copies`, `--bake`,
`--lr-mult`.

Validated before any framework is imported, so a typo fails in milliseconds with the list of
what is valid. The spec is a comma-separated list of transforms, each a name alone (its default
strength) or `name=value`:

    --augment flip,rotate=15,shift=0.1,zoom=0.1,contrast=0.2,brightness=0.2

`noise` and `mixup` are transforms too: `--noise 0.5` is the same as `--augment noise=0.5`,
which lets one spec name everything. Transforms run in a fixed order whatever order they are
written in (geometry, then colour, then noise, then mixup, which mixes the augmented inputs), so
two users who name the same transforms get the same augmentation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from plateau_cli.errors import UsageError


class Applies(str, Enum):
    """Which inputs a transform makes sense for."""

    IMAGES = "images"  # rank-3 samples: HWC (Keras) or CHW (torch)
    ANY = "any"  # vectors, images, any float tensor


@dataclass(frozen=True)
class TransformKind:
    """One transform the spec can name: its strength parameter, default and valid range."""

    name: str
    parameter: str  # the key in report.json's details.transforms
    default: float | str
    applies: Applies
    help: str
    low: float = 0.0  # exclusive
    high: float = math.inf
    high_inclusive: bool = True
    choices: tuple[str, ...] = ()

    def parse(self, raw: str | None) -> float | str:
        if raw is None:
            return self.default
        if self.choices:
            value = raw.strip().lower()
            if value not in self.choices:
                raise UsageError(
                    f"--augment {self.name}={raw}: choose one of {', '.join(self.choices)}"
                    f" (default {show(self.default)})"
                )
            return value
        try:
            number = float(raw)
        except ValueError:
            raise UsageError(
                f"--augment {self.name}={raw}: expected a number ({self.help});"
                f" e.g. {self.name}={show(self.default)}"
            ) from None
        self.check(number, f"--augment {self.name}={raw}")
        return number

    def check(self, number: float, label: str) -> None:
        above = number > self.low
        below = number <= self.high if self.high_inclusive else number < self.high
        if not (math.isfinite(number) and above and below):
            top = "" if math.isinf(self.high) else f" and {'<=' if self.high_inclusive else '<'}"
            top += "" if math.isinf(self.high) else f" {self.high:g}"
            raise UsageError(
                f"{label}: {self.parameter} must be > {self.low:g}{top} ({self.help})."
                f" Received: {number:g}"
            )


#: Every transform, in the order they are applied.
KINDS: tuple[TransformKind, ...] = (
    TransformKind(
        "flip",
        "mode",
        "horizontal",
        Applies.IMAGES,
        "mirror images at random",
        choices=("horizontal", "vertical", "both"),
    ),
    TransformKind("rotate", "degrees", 10.0, Applies.IMAGES, "max rotation in degrees", high=180),
    TransformKind(
        "shift",
        "fraction",
        0.1,
        Applies.IMAGES,
        "max shift, share of height/width",
        high=1.0,
        high_inclusive=False,
    ),
    TransformKind(
        "zoom",
        "fraction",
        0.1,
        Applies.IMAGES,
        "max zoom in or out, share of the size",
        high=1.0,
        high_inclusive=False,
    ),
    TransformKind(
        "contrast", "factor", 0.2, Applies.IMAGES, "contrast scaled by 1 +- factor", high=1.0
    ),
    TransformKind(
        "brightness",
        "factor",
        0.2,
        Applies.IMAGES,
        "max shift, share of the value range",
        high=1.0,
    ),
    TransformKind(
        "noise", "std_rel", 1.0, Applies.ANY, "Gaussian noise, times each feature's std", high=10
    ),
    TransformKind("mixup", "alpha", 0.2, Applies.ANY, "Beta(alpha, alpha) mixing", high=100),
)
BY_NAME: dict[str, TransformKind] = {kind.name: kind for kind in KINDS}
ORDER: dict[str, int] = {kind.name: i for i, kind in enumerate(KINDS)}

#: What runs when the user names no transform (measured on the `augment` samples; see the
#: strategy's docstring): images get small geometric changes and no flip, because a mirrored
#: digit, letter or arrow is a different class; vectors get noise at each feature's full spread.
DEFAULT_IMAGE_SET: tuple[str, ...] = ("rotate", "shift", "zoom")
DEFAULT_VECTOR_SET: tuple[str, ...] = ("noise",)
DEFAULT_COPIES = 4
MAX_COPIES = 64
#: The restored learning rate is multiplied by this unless the user says otherwise (--lr-mult,
#: or --lr which sets the rate): measured, see the strategy's docstring.
DEFAULT_LR_MULT = 0.2


def show(value: float | str) -> str:
    """A strength as a person writes it: 10, 0.1, horizontal."""
    return value if isinstance(value, str) else f"{value:g}"


def valid_transforms() -> str:
    """The list for error messages: every name with its default."""
    return ", ".join(f"{kind.name}={show(kind.default)}" for kind in KINDS)


@dataclass(frozen=True)
class TransformSpec:
    """One transform as asked for: its name and its strength (defaults filled in)."""

    name: str
    value: float | str

    @property
    def kind(self) -> TransformKind:
        return BY_NAME[self.name]


def parse_spec(text: str) -> tuple[TransformSpec, ...]:
    """`"flip,rotate=15"` -> specs in application order; UsageError for anything else."""
    entries = [entry.strip() for entry in text.split(",")]
    if not any(entries):
        raise UsageError(f"--augment is empty; name transforms from: {valid_transforms()}")
    seen: dict[str, TransformSpec] = {}
    for entry in entries:
        if not entry:
            raise UsageError(f"--augment {text!r} has an empty entry (two commas in a row?)")
        name, sep, raw = entry.partition("=")
        name = name.strip().lower()
        if name not in BY_NAME:
            raise UsageError(
                f"--augment: unknown transform {name!r}; valid (with defaults):"
                f" {valid_transforms()}"
            )
        if name in seen:
            raise UsageError(f"--augment names {name!r} twice in {text!r}")
        if sep and not raw.strip():
            raise UsageError(f"--augment {entry!r}: give a value after '=' or drop the '='")
        seen[name] = TransformSpec(name, BY_NAME[name].parse(raw.strip() if sep else None))
    return tuple(sorted(seen.values(), key=lambda spec: ORDER[spec.name]))


@dataclass(frozen=True)
class AugmentOptions:
    #: The transforms the user named (empty: the default set for the model's kind of input).
    transforms: tuple[TransformSpec, ...] = ()
    copies: int = DEFAULT_COPIES
    bake: bool = False
    #: None: DEFAULT_LR_MULT, unless --lr sets the rate.
    lr_mult: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.copies <= MAX_COPIES:
            raise UsageError(
                f"--copies must be between 1 and {MAX_COPIES} (augmented passes over the training"
                f" data per epoch). Received: {self.copies}"
            )
        if self.lr_mult is not None and not (math.isfinite(self.lr_mult) and 0 < self.lr_mult <= 1):
            raise UsageError(
                "--lr-mult must be > 0 and <= 1 (1 keeps the restored rate; --lr sets one)."
                f" Received: {self.lr_mult:g}"
            )
        names = [spec.name for spec in self.transforms]
        if len(names) != len(set(names)):
            raise UsageError(f"a transform is named twice: {', '.join(names)}")

    @property
    def effective_lr_mult(self) -> float:
        return DEFAULT_LR_MULT if self.lr_mult is None else self.lr_mult

    @classmethod
    def from_given(cls, given: Mapping[str, Any]) -> AugmentOptions:
        specs = list(parse_spec(given["augment"])) if "augment" in given else []
        for flag in ("noise", "mixup"):
            if flag not in given:
                continue
            if any(spec.name == flag for spec in specs):
                raise UsageError(
                    f"{flag} is given twice: by --{flag} and in --augment; keep one of them"
                )
            kind = BY_NAME[flag]
            value = float(given[flag])
            kind.check(value, f"--{flag}")
            specs.append(TransformSpec(flag, value))
        specs.sort(key=lambda spec: ORDER[spec.name])
        return cls(
            transforms=tuple(specs),
            copies=int(given.get("copies", DEFAULT_COPIES)),
            bake=bool(given.get("bake", False)),
            lr_mult=float(given["lr_mult"]) if "lr_mult" in given else None,
        )
