"""Bar charts drawn on the server as inline SVG (R33's monthly report): no script, no library,
nothing fetched from elsewhere, so the page works under the strict content security policy and
prints as it shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

HEIGHT = 180  # px of the plotting area
BAR = 14  # px per bar
GAP = 12  # px between groups
LEFT = 40  # px for the scale
BOTTOM = 36  # px for the labels


@dataclass(frozen=True)
class Series:
    """One kind of bar: its name (the legend), colour and one value per group."""

    name: str
    colour: str
    values: Sequence[int]


def bar_chart_svg(*, title: str, groups: Sequence[str], series: Sequence[Series]) -> SafeString:
    """An SVG of grouped bars: one group per label of `groups` (e.g. months), one bar per
    series in each, with a scale, labels and a legend. Every text is escaped; the picture
    carries `title` for screen readers (role="img")."""
    top = max((v for s in series for v in s.values), default=0)
    scale = _nice_ceiling(top)
    group_width = BAR * len(series) + GAP
    width = LEFT + group_width * len(groups) + GAP
    legend_y = HEIGHT + BOTTOM + 8
    height = legend_y + 18
    parts: list[str] = []
    for step in range(5):  # grid lines and the scale: 0, ¼, ½, ¾, the top
        value = scale * step // 4
        y = HEIGHT - HEIGHT * step / 4 + 8
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>'
                '<text x="{}" y="{}" text-anchor="end" font-size="10">{}</text>',
                LEFT,
                y,
                width,
                y,
                LEFT - 4,
                y + 3,
                value,
            )
        )
    for index, label in enumerate(groups):
        x0 = LEFT + GAP + group_width * index
        for number, one in enumerate(series):
            value = one.values[index]
            bar = HEIGHT * value / scale if scale else 0
            parts.append(
                format_html(
                    '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{} {}: {}</title></rect>",
                    x0 + BAR * number,
                    round(HEIGHT - bar + 8, 1),
                    BAR - 2,
                    round(bar, 1),
                    one.colour,
                    label,
                    one.name,
                    value,
                )
            )
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" font-size="10">{}</text>',
                x0 + BAR * len(series) / 2,
                HEIGHT + 24,
                label,
            )
        )
    legend = format_html_join(
        "",
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
        '<text x="{}" y="{}" font-size="11">{}</text>',
        (
            (LEFT + 90 * i, legend_y, s.colour, LEFT + 90 * i + 14, legend_y + 9, s.name)
            for i, s in enumerate(series)
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart" role="img" '
        'aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}"><title>{}</title>{}{}</svg>',
        title,
        width,
        height,
        width,
        height,
        title,
        mark_safe("".join(parts)),  # noqa: S308 - each part built with format_html
        legend,
    )


def _nice_ceiling(value: int) -> int:
    """The scale's top: `value` rounded up to 4 × (1, 2 or 5 × a power of ten), at least 4."""
    step = 1
    while 4 * step < value:
        for factor in (2, 5 / 2, 2):
            step = int(step * factor)
            if 4 * step >= value:
                break
    return 4 * step
