"""Server-side SVG for the patient page: the dose chart and the course timeline strip.

Plain strings, no JavaScript and no third-party chart library: every piece of text is escaped
and every number is formatted here, so the markup is safe to mark as such. The figures come from
the rules engine (`rules.dose_series`, `rules.cumulative`); this module only draws them.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

import rules
from clinic import dates

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 24, 20, 40


@dataclass(frozen=True)
class DoseChart:
    series: tuple[tuple[datetime.date, Decimal], ...]
    target_mg_per_kg: Decimal
    mg_per_kg: Decimal
    projected_completion_on: datetime.date | None
    until: datetime.date

    @property
    def table(self) -> list[tuple[datetime.date, Decimal]]:
        """A point a week and the last one: the data behind the chart, small enough to read."""
        points = list(self.series[::7])
        if self.series and points[-1] != self.series[-1]:
            points.append(self.series[-1])
        return points


def dose_chart(
    history: rules.History, today: datetime.date, now: rules.Cumulative | None = None
) -> DoseChart:
    """The engine's figures for the chart: the series stops at the last dose if there is one.
    `now` is today's figure when the caller has it already (the status carries it)."""
    until = min(today, history.last_dose_on) if history.last_dose_on else today
    now = now or rules.cumulative(history, today)
    return DoseChart(
        series=rules.dose_series(history, until),
        target_mg_per_kg=now.target_mg_per_kg,
        mg_per_kg=now.mg_per_kg,
        projected_completion_on=now.projected_completion_on,
        until=until,
    )


def _day(value: datetime.date) -> str:
    return dates.day(value)


class _Scale:
    def __init__(self, start: datetime.date, end: datetime.date, top: Decimal, width=WIDTH):
        self.start, self.days = start, max((end - start).days, 1)
        self.top = top if top > 0 else Decimal(1)
        self.width = width

    def x(self, day: datetime.date) -> float:
        return LEFT + (self.width - LEFT - RIGHT) * (day - self.start).days / self.days

    def y(self, value: Decimal) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - float(value) / float(self.top))


def dose_chart_svg(chart: DoseChart, *, svg_id: str = "dose-chart") -> SafeString:
    """Cumulative mg/kg over time against the target line, with the projected completion."""
    target = chart.target_mg_per_kg
    title = f"Cumulative dose: {chart.mg_per_kg} of {target} mg/kg"
    if not chart.series:
        desc = "Nothing has been dispensed yet, so there is no dose to chart."
        return _svg(svg_id, title, desc, [_text(WIDTH / 2, HEIGHT / 2, desc, anchor="middle")])
    start, last = chart.series[0][0], chart.series[-1][0]
    projected = chart.projected_completion_on
    end = max(last, projected) if projected else last
    highest = max([target, *(value for _on, value in chart.series)])
    scale = _Scale(start, end, highest * Decimal("1.1"))
    desc = (
        f"From the first dispense on {_day(start)} to {_day(last)} the cumulative dose rose to "
        f"{chart.mg_per_kg} mg/kg; the target is {target} mg/kg."
        + (f" Projected completion: {_day(projected)}." if projected else "")
    )
    parts = _axes(scale, start, end, target)
    y_target = scale.y(target)
    parts.append(
        f'<line class="dose-target" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y_target:.1f}" '
        f'y2="{y_target:.1f}" stroke="#dc3545" stroke-dasharray="6 4" stroke-width="2"/>'
    )
    parts.append(_text(LEFT + 6, y_target - 6, f"Target {target} mg/kg", css="dose-target-label"))
    points = " ".join(f"{scale.x(day):.1f},{scale.y(value):.1f}" for day, value in chart.series)
    parts.append(
        f'<polyline class="dose-line" fill="none" stroke="#0d6efd" stroke-width="2.5" '
        f'points="{points}"/>'
    )
    if projected:
        x0, y0 = scale.x(last), scale.y(chart.series[-1][1])
        x1 = scale.x(projected)
        parts.append(
            f'<line class="dose-projection" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" '
            f'y2="{y_target:.1f}" stroke="#6c757d" stroke-dasharray="3 3" stroke-width="2"/>'
        )
        parts.append(f'<circle cx="{x1:.1f}" cy="{y_target:.1f}" r="4" fill="#6c757d"/>')
        parts.append(
            _text(
                x1,
                y_target + 16,
                f"Projected {_day(projected)}",
                anchor="end" if x1 > WIDTH / 2 else "start",
                css="dose-projected",
            )
        )
    return _svg(svg_id, title, desc, parts)


def _axes(scale: _Scale, start: datetime.date, end: datetime.date, target: Decimal) -> list[str]:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [
        f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#495057"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#495057"/>',
    ]
    for value in (Decimal(0), target / 2, target):
        y = scale.y(value)
        parts.append(
            f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#495057"/>'
        )
        parts.append(_text(LEFT - 6, y + 4, f"{value.normalize():f}", anchor="end"))
    parts.append(_text(LEFT, bottom + 16, _day(start), anchor="start"))
    parts.append(_text(right, bottom + 16, _day(end), anchor="end"))
    parts.append(
        _text(LEFT + (right - LEFT) / 2, bottom + 32, "mg/kg taken, by date", anchor="middle")
    )
    return parts


def _text(x: float, y: float, text: str, *, anchor: str = "start", css: str = "") -> str:
    return format_html(
        '<text x="{}" y="{}" text-anchor="{}" class="{}" font-size="12">{}</text>',
        f"{x:.1f}",
        f"{y:.1f}",
        anchor,
        css,
        text,
    )


def _svg(
    svg_id: str,
    title: str,
    desc: str,
    parts: list[str],
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    svg_id = escape(svg_id)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="svg-chart" role="img" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{svg_id}-title {svg_id}-desc">'
        f'<title id="{svg_id}-title">{escape(title)}</title>'
        f'<desc id="{svg_id}-desc">{escape(desc)}</desc>'
    )
    svg = head + "".join(parts) + "</svg>"
    return mark_safe(svg)  # noqa: S308  # nosec B308 B703  # only escaped text and numbers above


KIND_COLOURS = {
    "consent": "#6c757d",
    "contraception": "#6f42c1",
    "test": "#d63384",
    "lab": "#fd7e14",
    "visit": "#0d6efd",
    "mood_review": "#20c997",
    "prescription": "#198754",
    "dispense": "#146c43",
    "end": "#212529",
    "comprehension": "#0dcaf0",
}
# The strip spans the page: a wider drawing keeps its text the size of the chart's.
STRIP_WIDTH, STRIP_HEIGHT = 1200, 90


def timeline_svg(
    events, windows, start: datetime.date, end: datetime.date, *, svg_id: str = "course-timeline"
) -> SafeString:
    """The course on one strip: pick-up windows as bands, each record as a tick."""
    scale = _Scale(start, end, Decimal(1), width=STRIP_WIDTH)
    base = STRIP_HEIGHT - 30
    right = STRIP_WIDTH - RIGHT
    parts = [f'<line x1="{LEFT}" y1="{base}" x2="{right}" y2="{base}" stroke="#495057"/>']
    for band in windows:
        x0, x1 = scale.x(band.opens_on), scale.x(band.closes_on + datetime.timedelta(days=1))
        parts.append(
            format_html(
                '<rect class="window-band window-{}" x="{}" y="8" width="{}" height="{}">'
                "<title>{}</title></rect>",
                band.state,
                f"{x0:.1f}",
                f"{max(x1 - x0, 2):.1f}",
                base - 8,
                band.label,
            )
        )
    # A tick per record, so built without format_html (which escapes each number and colour
    # of ours in turn): the title is the one piece of text, escaped here.
    for event in events:
        x = f"{scale.x(event.on):.1f}"
        title = escape(f"{_day(event.on)}: {event.label}")
        parts.append(
            f'<line class="tick" x1="{x}" x2="{x}" y1="14" y2="{base}" '
            f'stroke="{KIND_COLOURS.get(event.kind, "#000")}" '
            f'stroke-width="{4 if event.alert else 2}"><title>{title}</title></line>'
        )
    parts.append(_text(LEFT, base + 16, _day(start)))
    parts.append(_text(right, base + 16, _day(end), anchor="end"))
    desc = (
        f"{len(events)} records from {_day(start)} to {_day(end)}; "
        f"{len(windows)} pick-up window{'s' if len(windows) != 1 else ''} shown as bands. "
        "The list below has every record in date order."
    )
    return _svg(svg_id, "Course timeline", desc, parts, width=STRIP_WIDTH, height=STRIP_HEIGHT)
