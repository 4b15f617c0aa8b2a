"""Bar charts as inline SVG, drawn here so the HTML report needs no script, library or network.

Every bar carries its number twice: `data-value` (plain, for tools and tests) and a `<title>` tooltip in the
report's locale. Negative values hang below the zero line; an optional reference line marks a threshold. The
chart's title is its accessible name; the page shows it as the figure's caption.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 680, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 56


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str  # the bars' class: s0 and s1 for two series side by side


@dataclass(frozen=True)
class Reference:
    value: float
    label: str


@dataclass(frozen=True)
class Axis:
    """How values read: `number(value, places)` in the report's locale, with `places` decimals and `suffix`
    (" %"); `whole`: counts, so the ticks are whole numbers; `better`: "below" or "above" zero colours each bar
    by whether it is an improvement (class "better") or not ("worse")."""

    number: Callable[[float, int], str]
    places: int = 0
    suffix: str = ""
    label: str = ""
    whole: bool = False
    better: str | None = None

    def shown(self, value: float, places: int | None = None) -> str:
        return self.number(value, self.places if places is None else places) + self.suffix


def bar_chart(chart_id: str, title: str, categories: Sequence[str], series: Sequence[Series], axis: Axis,
              reference: Reference | None = None) -> str:
    """A bar chart: one group of bars per category, one bar per series; negative values hang below zero."""
    values = [v for s in series for v in s.values if v is not None]
    if reference is not None:
        values.append(reference.value)
    low, high = _axis(min([0.0, *values]), max([0.0, *values]), axis.whole)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        return TOP + plot_h * (high - value) / (high - low)

    parts = [f'<svg class="chart" id="{escape(chart_id)}" data-chart="{escape(chart_id)}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    step = _step(high - low, axis.whole)
    tick_places = 0 if step == int(step) else (1 if step * 10 == int(step * 10) else 2)
    for tick in _ticks(low, high, step):
        ty = y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
                     f'<text class="tick" x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
                     f'{escape(axis.shown(tick, tick_places))}</text>')
    if axis.label:
        middle = TOP + plot_h / 2
        parts.append(f'<text class="tick" x="12" y="{middle:.1f}" text-anchor="middle" '
                     f'transform="rotate(-90 12 {middle:.1f})">{escape(axis.label)}</text>')
    count = max(len(categories), 1)
    group_w = plot_w / count
    bar_w = max(group_w * 0.8 / max(len(series), 1), 0.5)
    zero = y(0.0)
    label_every = max(1, math.ceil(count / 24))
    for i, category in enumerate(categories):
        x0 = LEFT + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            value = s.values[i] if i < len(s.values) else None
            if value is None:
                continue
            top, bottom = sorted((y(value), zero))
            parts.append(f'<rect class="bar {_css(s, value, axis)}" x="{x0 + j * bar_w:.2f}" y="{top:.2f}" '
                         f'width="{bar_w:.2f}" height="{max(bottom - top, 1.0):.2f}" data-series="{escape(s.name)}" '
                         f'data-category="{escape(category)}" data-value="{value:g}">'
                         f'<title>{escape(s.name)} {escape(category)}: {escape(axis.shown(value))}</title></rect>')
        if i % label_every == 0 and category:
            cx = LEFT + (i + 0.5) * group_w
            parts.append(f'<text class="tick" x="{cx:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="end" '
                         f'transform="rotate(-35 {cx:.1f} {HEIGHT - BOTTOM + 14})">{escape(category)}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero:.1f}" y2="{zero:.1f}"/>')
    if reference is not None:
        ry = y(reference.value)
        parts.append(f'<line class="reference" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ry:.1f}" y2="{ry:.1f}" '
                     f'data-value="{reference.value:g}"/><text class="reference-label" x="{WIDTH - RIGHT - 4}" '
                     f'y="{ry - 4:.1f}" text-anchor="end">{escape(reference.label)}</text>')
    if len(series) > 1:
        for j, s in enumerate(series):
            lx = WIDTH - RIGHT - 90 * (len(series) - j)
            parts.append(f'<rect class="key {s.css}" x="{lx}" y="6" width="10" height="10"/>'
                         f'<text class="tick" x="{lx + 14}" y="15">{escape(s.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _css(series: Series, value: float, axis: Axis) -> str:
    if axis.better is None:
        return series.css
    if value == 0:
        return "same"
    return "better" if (value < 0) == (axis.better == "below") else "worse"


def _axis(low: float, high: float, whole: bool) -> tuple[float, float]:
    """A range that starts and ends on a round step, never empty."""
    if high - low <= 0:
        return low, low + 1.0
    step = _step(high - low, whole)
    return math.floor(low / step) * step, math.ceil(high / step) * step


def _step(span: float, whole: bool) -> float:
    raw = span / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)  # 2.5 is no step between whole numbers
    step = float(next(m * magnitude for m in steps if m * magnitude >= raw))
    return max(step, 1.0) if whole else step


def _ticks(low: float, high: float, step: float) -> list[float]:
    first = math.ceil(low / step - 1e-9)
    return [k * step for k in range(first, math.floor(high / step + 1e-9) + 1)]
