"""Training curves drawn in the terminal with braille dots: fast, and no plotting library.

Each character cell holds a 2 x 4 grid of braille dots, so a 60 x 8 cell chart has 120 x 32
points of resolution. Points are joined by straight segments; where the values span more
than two decades (a divergence), the y axis is logarithmic. Marked epochs (best, plateau
start, divergence...) are shown as letters on a row under the x axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

#: Dot bits of a braille cell, by [row][column].
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_BRAILLE_BASE = 0x2800
LOG_SCALE_SPAN = 100.0
LABEL_WIDTH = 9
#: Values are clipped to +-this for drawing, so spans and paddings never overflow.
_HUGE = 1e300


@dataclass(frozen=True)
class Line:
    """One curve: `epochs[i]` is the epoch of `values[i]` (non-finite values are skipped)."""

    label: str
    epochs: np.ndarray
    values: np.ndarray
    style: str


@dataclass(frozen=True)
class Mark:
    """An epoch to point at under the x axis: `B` best, `P` plateau start, ..."""

    epoch: int
    letter: str
    meaning: str


#: Without colour (NO_COLOR, a file, a pipe) every line after the first is drawn with its own
#: glyph, one per character cell, so loss and val_loss stay apart in black and white.
MONO_GLYPHS = ("•", "×", "+", "o")


class Adaptive:
    """A chart that draws itself again, monochrome, on a console without colour. (Not a Text:
    rich merges consecutive Texts into one before rendering, which would skip the choice.)"""

    def __init__(self, coloured: Text, mono: Callable[[], Text]) -> None:
        self.coloured = coloured
        self._mono = mono

    @property
    def plain(self) -> str:
        return self.coloured.plain

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._mono() if console.no_color or console.color_system is None else self.coloured


def draw_chart(
    lines: Sequence[Line],
    *,
    width: int = 60,
    height: int = 8,
    marks: Sequence[Mark] = (),
    monochrome: bool | None = None,
) -> Text:
    """A braille chart of `lines` over a shared epoch axis, with `marks` under it.

    `monochrome=None` lets the console decide when it prints the chart."""
    if monochrome is None:
        return Adaptive(  # type: ignore[return-value]
            draw_chart(lines, width=width, height=height, marks=marks, monochrome=False),
            lambda: draw_chart(lines, width=width, height=height, marks=marks, monochrome=True),
        )
    points = [(ln, _finite(ln)) for ln in lines]
    points = [(ln, (e, v)) for ln, (e, v) in points if e.size]
    if not points:
        return Text("(no finite values to draw)", style="dim")
    # The x axis spans every logged epoch, NaN ones included, so a divergence shows where it is.
    all_e = np.concatenate([ln.epochs for ln in lines])
    all_v = np.concatenate([v for _, (_, v) in points])
    e_lo, e_hi = int(all_e.min()), int(all_e.max())
    with np.errstate(all="ignore"):  # 1e308 / 1e-300 is simply "more than two decades"
        log = bool(all_v.min() > 0 and all_v.max() / all_v.min() > LOG_SCALE_SPAN)
    ys = np.log10(all_v) if log else np.clip(all_v, -_HUGE, _HUGE)
    y_lo, y_hi = float(ys.min()), float(ys.max())
    if not y_hi - y_lo > 1e-9 * max(1.0, abs(y_hi)):
        pad = max(0.5, abs(y_hi) * 0.05)
        y_lo, y_hi = y_lo - pad, y_hi + pad
    cols, rows = width * 2, height * 4
    half_span = y_hi / 2 - y_lo / 2

    def px(epoch: float) -> int:
        return 0 if e_hi == e_lo else round((epoch - e_lo) / (e_hi - e_lo) * (cols - 1))

    def py(value: float) -> int:
        y = math.log10(value) if log else min(_HUGE, max(-_HUGE, value))
        return round((y_hi / 2 - y / 2) / half_span * (rows - 1))

    bits = np.zeros((height, width), dtype=np.int64)
    owner: list[list[str | None]] = [[None] * width for _ in range(height)]
    glyph: list[list[str | None]] = [[None] * width for _ in range(height)]
    for line, (epochs, values) in points:
        xs = [px(float(e)) for e in epochs]
        yv = [py(float(v)) for v in values]
        k = lines.index(line)
        mark = MONO_GLYPHS[(k - 1) % len(MONO_GLYPHS)] if monochrome and k else None
        for x, y in _segments(xs, yv):
            bits[y // 4, x // 2] |= _DOTS[y % 4][x % 2]
            owner[y // 4][x // 2] = line.style
            glyph[y // 4][x // 2] = mark

    top = _fmt(float(all_v.max()) if log else y_hi)
    bottom = _fmt(float(all_v.min()) if log else y_lo)
    text = Text()
    for r in range(height):
        label = top if r == 0 else (bottom if r == height - 1 else "")
        text.append(label.rjust(LABEL_WIDTH - 1) + " ", style="dim")
        text.append("┤" if label else "│", style="dim")
        for c in range(width):
            if glyph[r][c] is not None:
                text.append(glyph[r][c] or "", style=owner[r][c] or "")
            elif bits[r, c]:
                text.append(chr(_BRAILLE_BASE + int(bits[r, c])), style=owner[r][c] or "")
            else:
                text.append(" ")
        text.append("\n")
    text.append(" " * LABEL_WIDTH + "└" + "─" * width + "\n", style="dim")
    text.append(_axis_labels(e_lo, e_hi, width, log))
    if marks:
        text.append("\n")
        text.append(_mark_row(marks, width, px))
    return text


def legend(
    lines: Sequence[Line], marks: Sequence[Mark] = (), *, monochrome: bool | None = None
) -> Text:
    """`━ loss  ━ val_loss`, then on a second line `B best val_loss (epoch 12)  P ...`;
    without colour `⠤ loss  • val_loss`, the glyphs the chart draws them with."""
    if monochrome is None:
        return Adaptive(  # type: ignore[return-value]
            legend(lines, marks, monochrome=False), lambda: legend(lines, marks, monochrome=True)
        )
    text = Text(" " * LABEL_WIDTH)
    for k, line in enumerate(lines):
        sample = "━" if not monochrome else "⠤" if k == 0 else MONO_GLYPHS[(k - 1) % 4]
        text.append(f"{sample} ", style=line.style)
        text.append(line.label + "  ")
    if marks:
        text.append("\n" + " " * LABEL_WIDTH)
        for mark in marks:
            text.append(mark.letter, style="bold")
            text.append(f" {mark.meaning} (epoch {mark.epoch})  ")
    return text


def _finite(line: Line) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(line.values)
    return line.epochs[keep], line.values[keep]


def _segments(xs: list[int], ys: list[int]) -> list[tuple[int, int]]:
    """Every dot on the straight segments joining consecutive points."""
    out = [(xs[0], ys[0])]
    for (x0, y0), (x1, y1) in zip(
        zip(xs, ys, strict=True), zip(xs[1:], ys[1:], strict=True), strict=False
    ):
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for s in range(1, steps + 1):
            out.append((round(x0 + (x1 - x0) * s / steps), round(y0 + (y1 - y0) * s / steps)))
    return out


def _axis_labels(e_lo: int, e_hi: int, width: int, log: bool) -> Text:
    left, right = f"epoch {e_lo}", str(e_hi)
    gap = max(1, width + 1 - len(left) - len(right))
    suffix = "  (log scale)" if log else ""
    return Text(" " * LABEL_WIDTH + left + " " * gap + right + suffix, style="dim")


def _mark_row(marks: Sequence[Mark], width: int, px: Callable[[float], int]) -> Text:
    row = [" "] * width
    for mark in marks:
        col = min(width - 1, max(0, px(mark.epoch) // 2))
        row[col] = mark.letter if row[col] in (" ", mark.letter) else "*"
    return Text(" " * LABEL_WIDTH + " " + "".join(row), style="bold")


def _fmt(value: float) -> str:
    return f"{value:.3g}"
