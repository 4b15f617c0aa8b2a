"""A person's scores over time as server-side SVG: PSS-10, WHO-5 and life satisfaction over the waves, TRE tension
before and after each session (the desk's person page).

No script and no style attribute (the desk's CSP forbids both): shapes carry classes and presentation attributes,
desk.css colours them. Every point carries its value in `data-value` and a `<title>` tooltip; the page puts a table
of the same numbers beside each chart for screen readers. The scale, the bands and the cut-off lines come from the
instrument's own definition (flows/definitions/*.yaml): a threshold is written down once, there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from bot.outcomes.svg import Reference
from flows.model import Flow, Score

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 130, 14, 40  # the right margin holds the bands' and lines' names


@dataclass(frozen=True)
class Line:
    """One series of points: `values[i]` belongs to the chart's `labels[i]` (None: nothing there)."""

    name: str
    values: Sequence[float | None]
    css: str  # "s0", "s1": the series' colour in desk.css


@dataclass(frozen=True)
class Region:
    """A band of the scale (e.g. WHO-5 "reduced well-being", 28 to 50), shaded behind the points."""

    low: float
    high: float
    band_id: str
    label: str


@dataclass(frozen=True)
class Scale:
    low: float
    high: float
    regions: tuple[Region, ...] = ()
    references: tuple[Reference, ...] = ()  # cut-offs drawn as lines (PSS-10's entry criterion)


def score_range(flow: Flow, score: Score) -> tuple[float, float] | None:
    """The lowest and highest value the score can take, from its items' answers (reversing keeps the range)."""
    steps = {step.id: step for step in flow.steps}
    low = high = 0.0
    for item, sign in [*((i, 1) for i in score.items), *((i, -1) for i in score.minus)]:
        step = steps.get(item)
        found = step.value_range() if step is not None else None
        if found is None:
            return None
        a, b = found[0] * sign, found[1] * sign
        low, high = low + min(a, b), high + max(a, b)
    return low * score.multiplier, high * score.multiplier


def scale_of(flow: Flow, score: Score, lang: str, cutoff_label: Callable[[float], str]) -> Scale | None:
    """The score's range, its bands as regions (each region between two band edges named by the band its middle
    falls in) and, for a score with exactly two bands split at one edge (an entry criterion), that edge as a line."""
    found = score_range(flow, score)
    if found is None:
        return None
    low, high = found
    edges = sorted({e for b in score.bands for e in (b.minimum, b.maximum) if e is not None and low < e < high})
    if len(score.bands) == 2 and len(edges) == 1:
        return Scale(low, high, (), (Reference(edges[0], cutoff_label(edges[0])),))
    regions = []
    for a, b in zip([low, *edges], [*edges, high], strict=True):
        band = score.band_for((a + b) / 2)
        if band is not None:
            regions.append(Region(a, b, band.id, band.label.get(lang)))
    return Scale(low, high, tuple(regions))


def line_chart(chart_id: str, title: str, labels: Sequence[str], lines: Sequence[Line], scale: Scale,
               shown: Callable[[float], str], described_by: str = "") -> str:
    """Points joined by a line per series, over categories (waves or sessions), on the score's whole scale."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = (scale.high - scale.low) or 1.0

    def y(value: float) -> float:
        return TOP + plot_h * (scale.high - value) / span

    def x(i: int) -> float:
        return LEFT + plot_w * (i + 0.5) / max(len(labels), 1)

    described = f' aria-describedby="{escape(described_by)}"' if described_by else ""
    parts = [f'<svg class="chart person-chart" id="{escape(chart_id)}" role="img" xmlns="http://www.w3.org/2000/svg" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-label="{escape(title)}"{described}><title>{escape(title)}</title>']
    for region in scale.regions:
        top, bottom = y(region.high), y(region.low)
        parts.append(f'<rect class="band band-{escape(region.band_id)}" x="{LEFT}" y="{top:.1f}" width="{plot_w}" '
                     f'height="{bottom - top:.1f}" data-low="{region.low:g}" data-high="{region.high:g}">'
                     f'<title>{escape(region.label)}</title></rect>'
                     f'<text class="band-label" x="{WIDTH - RIGHT + 6}" y="{(top + bottom) / 2 + 4:.1f}">'
                     f'{escape(_short(region.label))}</text>')
    for tick in _ticks(scale.low, scale.high):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
                     f'<text class="tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                     f'{escape(shown(tick))}</text>')
    for reference in scale.references:
        ry = y(reference.value)
        parts.append(f'<line class="reference" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ry:.1f}" y2="{ry:.1f}" '
                     f'data-value="{reference.value:g}"/><text class="reference-label" x="{WIDTH - RIGHT + 6}" '
                     f'y="{ry + 4:.1f}">{escape(reference.label)}</text>')
    every = max(1, -(-len(labels) // 8))  # at most eight labels under the axis
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(f'<text class="tick" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                         f'{escape(label)}</text>')
    for line in lines:
        points = [(x(i), y(v), v, labels[i]) for i, v in enumerate(line.values) if v is not None and i < len(labels)]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
            parts.append(f'<polyline class="trend {line.css}" points="{path}" fill="none"/>')
        for px, py, value, label in points:
            parts.append(f'<circle class="point {line.css}" cx="{px:.1f}" cy="{py:.1f}" r="4.5" '
                         f'data-series="{escape(line.name)}" data-label="{escape(label)}" data-value="{value:g}">'
                         f'<title>{escape(line.name)}, {escape(label)}: {escape(shown(value))}</title></circle>')
    if len(lines) > 1:
        for j, line in enumerate(lines):
            ly = HEIGHT - 10
            lx = LEFT + j * 150
            parts.append(f'<circle class="point {line.css}" cx="{lx + 5}" cy="{ly - 4}" r="4.5"/>'
                         f'<text class="tick" x="{lx + 14}" y="{ly}">{escape(line.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(label: str, limit: int = 22) -> str:
    """A band's name beside the chart: its first words (the full name is the band's tooltip and in the table)."""
    first = label.split(":")[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _ticks(low: float, high: float) -> list[float]:
    span = high - low
    step = next((s for s in (1, 2, 5, 10, 20, 25, 50) if span / s <= 6), max(span / 5, 1))
    first = -(-low // step) * step
    ticks = []
    value = first
    while value <= high + 1e-9:
        ticks.append(value)
        value += step
    return ticks
