"""Server-rendered SVG charts: horizontal bars, stacked bars and lines, readable at a glance.

No JavaScript and nothing from a CDN; every label is escaped. Colours come from one palette so
the same outcome has the same colour on every page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 760
PALETTE = (
    "#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#b7791f", "#718096",
    "#c53030", "#2c5282",
)  # fmt: skip
OUTCOME_COLOURS = {
    "sent": "#38a169", "exported": "#2f855a", "queued": "#90cdf4", "held": "#ecc94b",
    "excluded": "#a0aec0", "bounced": "#e53e3e", "failed": "#9b2c2c", "in_doubt": "#dd6b20",
    "passed": "#38a169", "warning": "#b7791f",
}  # fmt: skip


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _svg(height: int, body: str, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="system-ui, sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def colour(name: str, index: int) -> str:
    return OUTCOME_COLOURS.get(name, PALETTE[index % len(PALETTE)])


def bars(
    items: Sequence[tuple[str, float]],
    title: str,
    notes: Sequence[str] = (),
    label_width: int = 170,
) -> str:
    """One horizontal bar per (label, value), the value written beside it; ``notes`` (same
    length, optional) are written after the value, e.g. a conversion rate."""
    row, label_w = 26, label_width
    top = max((v for _, v in items), default=0) or 1
    span = WIDTH - label_w - (190 if notes else 90)
    parts = []
    for i, (label, value) in enumerate(items):
        y = 8 + i * row
        w = max(1.0, span * value / top) if value else 0
        note = f"  {notes[i]}" if i < len(notes) and notes[i] else ""
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{colour(label, i)}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{_number(value)}{escape(note)}</text>'
        )
    return _svg(16 + len(items) * row, "".join(parts), title)


def stacked(rows: Sequence[tuple[str, dict[str, float]]], order: Sequence[str], title: str) -> str:
    """One bar per row label, split into the parts in ``order`` (a legend on top)."""
    row, label_w, legend_h = 26, 200, 28
    top = max((sum(parts.values()) for _, parts in rows), default=0) or 1
    span = WIDTH - label_w - 80
    legend, x = [], 8.0
    for i, name in enumerate(order):
        legend.append(
            f'<rect x="{x:.0f}" y="6" width="12" height="12" fill="{colour(name, i)}"/>'
            f'<text x="{x + 16:.0f}" y="16">{escape(name)}</text>'
        )
        x += 26 + 7 * len(name)
    body = []
    for r, (label, parts) in enumerate(rows):
        y, x = legend_h + r * row, float(label_w)
        body.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
        )
        for i, name in enumerate(order):
            value = parts.get(name, 0)
            if not value:
                continue
            w = span * value / top
            body.append(
                f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row - 8}" '
                f'fill="{colour(name, i)}"><title>{escape(name)}: {_number(value)}</title></rect>'
            )
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{_number(sum(parts.values()))}</text>')
    return _svg(legend_h + 8 + len(rows) * row, "".join(legend + body), title)


def lines(series: dict[str, list[tuple[str, float]]], title: str) -> str:
    """One line per series over the same x labels (dates), a legend on the right."""
    left, right, top_pad, height = 56, 150, 10, 260
    xs = sorted({x for points in series.values() for x, _ in points})
    top = max((v for points in series.values() for _, v in points), default=0) or 1
    plot_w, plot_h = WIDTH - left - right, height - top_pad - 30

    def at(x: str, v: float) -> str:
        i = xs.index(x)
        px = left + (plot_w * i / (len(xs) - 1) if len(xs) > 1 else plot_w / 2)
        return f"{px:.1f},{top_pad + plot_h - plot_h * v / top:.1f}"

    parts = [
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" '
        'stroke="#a0aec0"/>',
        f'<text x="{left - 6}" y="{top_pad + 8}" text-anchor="end">{_number(top)}</text>',
        f'<text x="{left - 6}" y="{top_pad + plot_h}" text-anchor="end">0</text>',
    ]
    if xs:
        parts.append(f'<text x="{left}" y="{height - 8}">{escape(xs[0])}</text>')
        parts.append(
            f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end">{escape(xs[-1])}</text>'
        )
    for i, (name, points) in enumerate(series.items()):
        c = PALETTE[i % len(PALETTE)]
        path = " ".join(at(x, v) for x, v in points)
        if len(points) == 1:
            x, y = path.split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{c}"/>')
        else:
            parts.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        ly = top_pad + 4 + i * 18
        parts.append(
            f'<rect x="{WIDTH - right + 14}" y="{ly}" width="12" height="12" fill="{c}"/>'
            f'<text x="{WIDTH - right + 30}" y="{ly + 10}">{escape(name)}</text>'
        )
    return _svg(height, "".join(parts), title)


def verdicts(rows: Sequence[tuple[str, str, str]], title: str, label_width: int = 240) -> str:
    """One line per (label, verdict, note): a box in the verdict's colour and the note."""
    row = 22
    parts = []
    for i, (label, verdict, note) in enumerate(rows):
        y = 6 + i * row
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="64" height="{row - 6}" '
            f'fill="{colour(verdict, i)}"/>'
            f'<text x="{label_width + 32}" y="{y + 14}" text-anchor="middle" fill="#fff" '
            f'font-weight="600">{escape(verdict)}</text>'
            f'<text x="{label_width + 74}" y="{y + 14}">{escape(note)}</text>'
        )
    return _svg(12 + len(rows) * row, "".join(parts), title)
