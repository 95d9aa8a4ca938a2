"""A small line-chart renderer for curves.png, drawn with Pillow instead of matplotlib.

Why not matplotlib: importing it costs about 0.5 s of CPU and drawing two small panels with it
0.07-0.12 s more, in every `resume`, where the whole run of one epoch of a 50k-row MLP costs
0.5 s (benchmarks/fixed_cost.py). The charts here are a handful of lines, markers, reference
lines, ticks and a legend: Pillow (already a dependency) draws them in about 0.02 s. Lines are
drawn at twice the size and reduced, which smooths their edges as matplotlib's anti-aliasing
does. Text uses DejaVu Sans (matplotlib's own font, read from its folder without importing it)
or Pillow's built-in font.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

Color = tuple[int, int, int]

BLUE: Color = (31, 119, 180)
ORANGE: Color = (255, 127, 14)
GREY: Color = (128, 128, 128)
GREEN: Color = (0, 128, 0)
BLACK: Color = (0, 0, 0)
PURPLE: Color = (128, 0, 128)
LIGHT_GREY: Color = (211, 211, 211)
_GRID: Color = (222, 222, 222)
_WHITE: Color = (255, 255, 255)

#: Everything is drawn at this multiple of the final size, then reduced (smooth edges).
_SCALE = 2
DASHED = (6, 3)
DOTTED = (1.5, 2.5)
DASH_DOT = (6, 2, 1.5, 2)


@dataclass(frozen=True)
class Series:
    """A line through (x, y); None or non-finite values leave a gap."""

    x: Sequence[float]
    y: Sequence[float | None]
    color: Color
    label: str | None = None
    markers: bool = False
    width: float = 1.5
    #: Draw as steps centred on the points (a learning rate that changes between epochs).
    steps: bool = False


@dataclass(frozen=True)
class Rule:
    """A reference line across the panel: horizontal at y=`at`, or vertical at x=`at`."""

    at: float
    vertical: bool
    color: Color
    label: str | None = None
    dash: tuple[float, ...] = DASHED


@dataclass(frozen=True)
class Panel:
    series: Sequence[Series]
    rules: Sequence[Rule] = ()
    ylabel: str = ""
    xlabel: str = ""
    log_x: bool = False
    log_y: bool = False
    #: Epochs: ticks on whole numbers only.
    integer_x: bool = False
    #: Tick labels under the panel (panels sharing the x axis show them on the lowest only).
    x_labels: bool = True
    ylim: tuple[float, float] | None = None
    #: Relative height among the figure's panels.
    weight: float = 3.0
    legend: bool = True
    #: Panels with the same non-None key share one x range.
    share_x: str | None = None


@dataclass
class _Axes:
    """A panel placed on the canvas, with its data-to-pixel mapping."""

    panel: Panel
    box: tuple[float, float, float, float]  # left, top, right, bottom (pixels, scaled)
    x_range: tuple[float, float] = (0.0, 1.0)
    y_range: tuple[float, float] = (0.0, 1.0)
    points: list[tuple[float, float]] = field(default_factory=list)

    def px(self, x: float) -> float:
        left, _, right, _ = self.box
        return left + (right - left) * _fraction(x, self.x_range, self.panel.log_x)

    def py(self, y: float) -> float:
        _, top, _, bottom = self.box
        return bottom - (bottom - top) * _fraction(y, self.y_range, self.panel.log_y)


def render(
    path: str | Path, title: str, panels: Sequence[Panel], *, width: int = 700, height: int
) -> None:
    """Write the panels, stacked under `title`, as a PNG of `width` x `height` pixels."""
    from PIL import Image, ImageDraw

    s = _SCALE
    image = Image.new("RGB", (width * s, height * s), _WHITE)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 85 * s, (width - 20) * s, 50 * s, (height - 55) * s
    gaps = [(55 if p.x_labels else 22) * s for p in panels[:-1]]
    room = bottom - top - sum(gaps)
    total = sum(p.weight for p in panels)
    placed: list[_Axes] = []
    y = float(top)
    for k, panel in enumerate(panels):
        h = room * panel.weight / total
        placed.append(_Axes(panel, (left, y, right, y + h)))
        y += h + (gaps[k] if k < len(gaps) else 0)
    _set_ranges(placed)
    for axes in placed:
        _draw_panel(draw, image, axes)
    draw.text((width * s / 2, 22 * s), title, fill=BLACK, font=_font(_points(10)), anchor="mm")
    small = image.reduce(s)
    small.save(path, format="png", compress_level=6)


# -- ranges and ticks ---------------------------------------------------------------------------
#: Values are clipped to +-this, so spans and margins never overflow (a diverging loss).
_HUGE = 1e300


def _finite(values: Sequence[float | None], log: bool) -> list[float]:
    return [
        min(max(float(v), -_HUGE), _HUGE)
        for v in values
        if v is not None and math.isfinite(float(v)) and (not log or float(v) > 0)
    ]


def _span(values: list[float], log: bool) -> tuple[float, float]:
    """The data range with matplotlib's 5% margins (in log space on a log axis)."""
    if not values:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = min(values), max(values)
    if log:
        a, b = math.log10(lo), math.log10(hi)
        if b - a < 1e-12:
            a, b = a - 0.5, b + 0.5
        pad = (b - a) * 0.05
        return 10 ** (a - pad), 10 ** (b + pad)
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        pad = max(abs(hi) * 0.05, 0.05) if hi else 0.05
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def _set_ranges(placed: list[_Axes]) -> None:
    xs: dict[int, list[float]] = {}
    for axes in placed:
        p = axes.panel
        x_values = [float(v) for s in p.series for v in s.x]
        x_values += [r.at for r in p.rules if r.vertical]
        xs[id(axes)] = _finite(x_values, p.log_x)
        y_values = [v for s in p.series for v in s.y]
        y_values += [r.at for r in p.rules if not r.vertical]
        axes.y_range = p.ylim if p.ylim is not None else _span(_finite(y_values, p.log_y), p.log_y)
    for axes in placed:
        key = axes.panel.share_x
        shared = [a for a in placed if key is not None and a.panel.share_x == key] or [axes]
        values = [v for a in shared for v in xs[id(a)]]
        lo_hi = _span(values, axes.panel.log_x)
        if axes.panel.integer_x and values and max(values) - min(values) < 1:
            lo_hi = (min(values) - 0.5, max(values) + 0.5)  # one epoch: centred, not 0.95..1.05
        axes.x_range = lo_hi


def _fraction(v: float, lo_hi: tuple[float, float], log: bool) -> float:
    lo, hi = lo_hi
    if log:
        v, lo, hi = math.log10(max(v, 1e-300)), math.log10(lo), math.log10(hi)
    return (v - lo) / (hi - lo) if hi != lo else 0.5


def nice_ticks(lo: float, hi: float, most: int = 6, integer: bool = False) -> list[float]:
    """Round-numbered ticks inside [lo, hi]: steps of 1, 2, 2.5 or 5 times a power of ten."""
    span = hi - lo
    if not span > 0 or not math.isfinite(span):
        return [lo]
    raw = span / max(most - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * power for m in steps if m * power >= raw)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    k = 0
    while first + k * step <= hi + 1e-9 * step:
        ticks.append(round(first + k * step, 12))
        k += 1
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    decades = [10.0**e for e in range(a, b + 1) if lo <= 10.0**e <= hi]
    if len(decades) >= 2:
        step = max(1, math.ceil(len(decades) / 6))
        return decades[::step]
    return [m * 10.0**e for e in range(a, b + 1) for m in (1, 2, 5) if lo <= m * 10.0**e <= hi]


def tick_label(value: float, ticks: Sequence[float], log: bool) -> str:
    if log:
        return f"{value:g}"
    step = min((abs(b - a) for a, b in itertools.pairwise(ticks)), default=0.0)
    biggest = max(abs(t) for t in ticks) if ticks else abs(value)
    if biggest >= 1e5 or (biggest and biggest < 1e-3):
        return f"{value:.3g}"
    decimals = 0 if not step else max(0, -math.floor(math.log10(step) + 1e-9))
    if step and round(step * 10**decimals, 6) % 1:
        decimals += 1  # 2.5 -> one more digit
    return f"{value:.{decimals}f}"


# -- drawing ------------------------------------------------------------------------------------
def _points(size: float) -> int:
    """A font size in points, as pixels of the scaled canvas (matplotlib's 100 dpi)."""
    return round(size * 100 / 72 * _SCALE)


@cache
def _font(size: int) -> Any:
    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def _draw_panel(draw: Any, image: Any, axes: _Axes) -> None:
    s = _SCALE
    p = axes.panel
    left, top, right, bottom = axes.box
    font = _font(_points(10))
    # Ticks and the grid under the data.
    lo, hi = axes.y_range
    y_ticks = log_ticks(lo, hi) if p.log_y else nice_ticks(lo, hi, most=6)
    widest = 0.0
    for v in y_ticks:
        y = axes.py(v)
        draw.line([(left, y), (right, y)], fill=_GRID, width=s)
        draw.line([(left - 4 * s, y), (left, y)], fill=BLACK, width=s)
        text = tick_label(v, y_ticks, p.log_y)
        widest = max(widest, draw.textlength(text, font=font))
        draw.text((left - 7 * s, y), text, fill=BLACK, font=font, anchor="rm")
    lo, hi = axes.x_range
    x_ticks = log_ticks(lo, hi) if p.log_x else nice_ticks(lo, hi, most=8, integer=p.integer_x)
    for v in x_ticks:
        x = axes.px(v)
        draw.line([(x, top), (x, bottom)], fill=_GRID, width=s)
        draw.line([(x, bottom), (x, bottom + 4 * s)], fill=BLACK, width=s)
        if p.x_labels:
            text = f"{round(v)}" if p.integer_x else tick_label(v, x_ticks, p.log_x)
            draw.text((x, bottom + 7 * s), text, fill=BLACK, font=font, anchor="ma")
    if p.xlabel and p.x_labels:
        centre = ((left + right) / 2, bottom + 27 * s)
        draw.text(centre, p.xlabel, fill=BLACK, font=font, anchor="ma")
    if p.ylabel:
        _vertical_text(image, p.ylabel, (left - widest - 19 * s, (top + bottom) / 2), font)
    # The data, clipped to the frame.
    for rule in p.rules:
        if rule.vertical:
            x = axes.px(rule.at)
            if left <= x <= right:
                _dashed(draw, (x, top), (x, bottom), rule.color, rule.dash)
        else:
            y = axes.py(rule.at)
            if top <= y <= bottom:
                _dashed(draw, (left, y), (right, y), rule.color, rule.dash)
    for series in p.series:
        _draw_series(draw, axes, series)
    draw.rectangle([left, top, right, bottom], outline=BLACK, width=s)
    if p.legend:
        _legend(draw, axes)


def _draw_series(draw: Any, axes: _Axes, series: Series) -> None:
    s = _SCALE
    _, top, _, bottom = axes.box
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(series.x, series.y, strict=False):
        if y is None or not math.isfinite(float(y)) or (axes.panel.log_y and y <= 0):
            runs.append([])  # a gap, as matplotlib leaves one at a NaN
            continue
        clipped = min(max(float(y), -_HUGE), _HUGE)
        point = (axes.px(float(x)), min(max(axes.py(clipped), top), bottom))
        runs[-1].append(point)
        axes.points.append(point)
    width = max(1, round(series.width * s))
    r = 2 * s
    for run in runs:
        dots = run if series.markers or len(run) == 1 else []
        path = _steps(run) if series.steps else run
        if len(path) > 1:
            draw.line(path, fill=series.color, width=width, joint="curve")
        for x, y in dots:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=series.color)


def _steps(run: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Level between the points, stepping half-way between them (matplotlib's steps-mid)."""
    path = run[:1]
    for (x0, y0), (x1, y1) in itertools.pairwise(run):
        mid = (x0 + x1) / 2
        path += [(mid, y0), (mid, y1), (x1, y1)]
    return path


def _dashed(
    draw: Any,
    start: tuple[float, float],
    end: tuple[float, float],
    color: Color,
    pattern: tuple[float, ...],
) -> None:
    s = _SCALE
    (x0, y0), (x1, y1) = start, end
    length = math.hypot(x1 - x0, y1 - y0)
    if not length:
        return
    dx, dy = (x1 - x0) / length, (y1 - y0) / length
    at, k = 0.0, 0
    while at < length:
        piece = pattern[k % len(pattern)] * s
        if k % 2 == 0:
            stop = min(at + piece, length)
            draw.line(
                [(x0 + dx * at, y0 + dy * at), (x0 + dx * stop, y0 + dy * stop)],
                fill=color,
                width=s,
            )
        at += piece
        k += 1


def _legend(draw: Any, axes: _Axes) -> None:
    s = _SCALE
    p = axes.panel
    entries: list[tuple[str, Color, tuple[float, ...] | None, float]] = [
        (x.label, x.color, None, x.width) for x in p.series if x.label
    ] + [(r.label, r.color, r.dash, 1.0) for r in p.rules if r.label]
    if not entries:
        return
    font = _font(_points(7))
    row = 13 * s
    text_w = max(draw.textlength(label, font=font) for label, *_ in entries)
    w, h = 30 * s + text_w + 6 * s, row * len(entries) + 6 * s
    left, top, right, bottom = axes.box
    pad = 5 * s
    corners = [
        (right - pad - w, top + pad),  # upper right, then as matplotlib's "best" tries them
        (left + pad, top + pad),
        (left + pad, bottom - pad - h),
        (right - pad - w, bottom - pad - h),
    ]

    def covered(corner: tuple[float, float]) -> int:
        x, y = corner
        return sum(x <= px <= x + w and y <= py <= y + h for px, py in axes.points)

    x, y = min(corners, key=covered)
    draw.rounded_rectangle(
        [x, y, x + w, y + h], radius=2 * s, fill=_WHITE, outline=LIGHT_GREY, width=s
    )
    for k, (label, color, dash, width) in enumerate(entries):
        cy = y + 3 * s + row * k + row / 2
        if dash is None:
            draw.line([(x + 5 * s, cy), (x + 23 * s, cy)], fill=color, width=round(width * s))
        else:
            _dashed(draw, (x + 5 * s, cy), (x + 23 * s, cy), color, dash)
        draw.text((x + 28 * s, cy), label, fill=BLACK, font=font, anchor="lm")


def _vertical_text(image: Any, text: str, centre: tuple[float, float], font: Any) -> None:
    from PIL import Image, ImageDraw

    probe = ImageDraw.Draw(image)
    box = probe.textbbox((0, 0), text, font=font)
    label = Image.new("L", (box[2] - box[0] + 4, box[3] - box[1] + 4), 0)
    ImageDraw.Draw(label).text((2 - box[0], 2 - box[1]), text, fill=255, font=font)
    rotated = label.rotate(90, expand=True)
    x = max(2, round(centre[0] - rotated.width / 2))  # very wide tick labels: stay on the canvas
    y = round(centre[1] - rotated.height / 2)
    image.paste(BLACK, (x, y, x + rotated.width, y + rotated.height), rotated)
