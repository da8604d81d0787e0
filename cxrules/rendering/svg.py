"""Pictures as inline SVG, so the HTML report is one file that opens offline anywhere.

No JavaScript library and no network: the org chart is laid out here (a tidy tree of the
reporting lines), and the charts are plain bars, lines and steps.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from html import escape
from typing import Optional, Sequence

from ..model import Org

__all__ = ["org_chart", "grouped_bars", "line_chart", "staffing_curve", "week_strip", "timeline", "Lane", "Mark", "state_diagram", "Node"]

PALETTE = ["#4e79a7", "#59a14f", "#9c755f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#bab0ac", "#e15759", "#f28e2b"]
BOX_W, BOX_H, GAP_X, GAP_Y = 168, 58, 18, 46


def _text(x: float, y: float, text: str, size: int = 12, anchor: str = "middle", weight: str = "normal", fill: str = "#222") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}">{escape(text)}</text>')


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def org_chart(org: Org, problems: dict[str, str], chinese_first: bool = True) -> str:
    """The reporting tree, each role a box coloured by its unit; roles with findings outlined."""
    children: dict[Optional[str], list[str]] = {}
    for role in org.roles:
        children.setdefault(role.reports_to, []).append(role.id)
    position: dict[str, tuple[float, int]] = {}
    cursor = [0.0]

    def place(role_id: str, depth: int) -> float:
        kids = children.get(role_id, [])
        if not kids:
            x = cursor[0]
            cursor[0] += 1
        else:
            xs = [place(kid, depth + 1) for kid in kids]
            x = (xs[0] + xs[-1]) / 2
        position[role_id] = (x, depth)
        return x

    for root in children.get(None, []):
        place(root, 0)
    units = [unit.id for unit in org.units]
    colour = {unit: PALETTE[index % len(PALETTE)] for index, unit in enumerate(units)}
    depth = max((d for _, d in position.values()), default=0) + 1
    width = max(cursor[0], 1) * (BOX_W + GAP_X) + GAP_X
    legend_rows = (len(units) + 3) // 4
    height = depth * (BOX_H + GAP_Y) + GAP_Y + legend_rows * 22 + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="org-chart" viewBox="0 0 {width:.0f} {height:.0f}" '
             f'width="100%" style="max-width:{width:.0f}px" role="img" aria-label="Org chart of {escape(org.info.name)}" font-family="sans-serif">']
    centre = lambda role_id: (GAP_X + position[role_id][0] * (BOX_W + GAP_X) + BOX_W / 2,  # noqa: E731
                              GAP_Y / 2 + position[role_id][1] * (BOX_H + GAP_Y))
    for role in org.roles:
        if role.reports_to and role.reports_to in position and role.id in position:
            (x1, y1), (x2, y2) = centre(role.reports_to), centre(role.id)
            mid = y1 + BOX_H + GAP_Y / 2
            parts.append(f'<path d="M{x1:.1f},{y1 + BOX_H:.1f} V{mid:.1f} H{x2:.1f} V{y2:.1f}" fill="none" stroke="#888" stroke-width="1.2"/>')
    for role in org.roles:
        if role.id not in position:
            continue
        x, y = centre(role.id)
        left = x - BOX_W / 2
        problem = problems.get(role.id)
        stroke = {"gap": "#d62728", "overlap": "#ff7f0e"}.get(problem or "", "#1a73e8" if role.authority else "#666")
        dash = ' stroke-dasharray="5,3"' if role.temporary else ""
        parts.append(f'<g class="role" data-role="{escape(role.id)}"><title>{escape(role.name)} ({escape(role.id)}) · '
                     f'unit {escape(role.unit)} · {role.headcount} agent(s) × capacity {role.capacity}</title>')
        parts.append(f'<rect x="{left:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="7" fill="#fff" stroke="{stroke}" '
                     f'stroke-width="{3 if problem or role.authority else 1.2}"{dash}/>')
        parts.append(f'<rect x="{left:.1f}" y="{y:.1f}" width="6" height="{BOX_H}" rx="3" fill="{colour.get(role.unit, "#999")}"/>')
        first, second = (role.label or role.name, role.name) if chinese_first and role.label else (role.name, role.label or "")
        parts.append(_text(x + 3, y + 20, _clip(first, 16), 13, weight="bold"))
        parts.append(_text(x + 3, y + 36, _clip(second, 26), 10, fill="#555"))
        staffing = f"{role.headcount} × {role.capacity}" if role.staff else "no staff"
        parts.append(_text(x + 3, y + 51, staffing + (" · authority" if role.authority else "") + (" · temporary" if role.temporary else ""),
                           9, fill="#777"))
        parts.append("</g>")
    top = depth * (BOX_H + GAP_Y) + GAP_Y / 2
    for index, unit in enumerate(org.units):
        lx, ly = GAP_X + (index % 4) * 260, top + (index // 4) * 22
        name = unit.label or unit.name if chinese_first else unit.name
        parts.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colour[unit.id]}"/>')
        parts.append(_text(lx + 18, ly + 10, _clip(name, 30), 11, anchor="start"))
    parts.append("</svg>")
    return "".join(parts)


def _width(text: str, size: float) -> float:
    """About how wide ``text`` is drawn at ``size`` px (CJK characters are square): margins are sized by it, so no label is cut."""
    return sum(size if ord(char) > 0x2E7F else size * 0.62 for char in text)


def _nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and round steps (1, 2, 5 × 10ⁿ) up to the first at or above ``top``: gridlines a reader can add up."""
    raw = max(top, 1) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1.0, next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))  # counts: whole steps
    return [index * step for index in range(math.ceil(max(top, 1) / step - 1e-9) + 1)]


def _y_axis(ticks: list[float], left: float, right: float, y) -> list[str]:
    """Horizontal gridlines with their values on the left."""
    parts = []
    for value in ticks:
        parts.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{right}" y2="{y(value):.1f}" stroke="{"#999" if value == 0 else "#eee"}"/>')
        parts.append(_text(left - 5, y(value) + 3.5, f"{value:g}", 10, anchor="end", fill="#555"))
    return parts


def _label_at(x: float, y: float, label: str, low: float, high: float) -> str:
    """A tick label centred on ``x``, pushed inwards where it would run past ``low`` or ``high``."""
    half = _width(label, 10) / 2
    return _text(min(max(x, low + half + 2), high - half - 2), y, label, 10, fill="#555")


_HOUR_STEPS = (1, 2, 3, 6, 12, 24, 48, 168, 336, 672)


def _time_ticks(start: datetime, end: datetime, most: int) -> list[tuple[datetime, str, str]]:
    """Whole hours at a round step that gives at most ``most`` ticks: (moment, hour label, date label where the date changes)."""
    hours = (end - start) / timedelta(hours=1)
    step = next((s for s in _HOUR_STEPS if hours / s <= most), _HOUR_STEPS[-1])
    tick = start.replace(minute=0, second=0, microsecond=0)
    if tick < start:
        tick += timedelta(hours=1)
    while tick.hour % min(step, 24):
        tick += timedelta(hours=1)
    ticks, last_date = [], None
    while tick <= end:
        date = f"{tick:%a} {tick.day} {tick:%b}" if tick.date() != last_date else ""
        ticks.append((tick, "" if step >= 24 else f"{tick:%H}h", date))
        last_date = tick.date()
        tick += timedelta(hours=step)
    return ticks


def line_chart(title: str, series: dict[str, list[tuple[str, float]]], width: int = 760, height: int = 260,
               colours: Optional[dict[str, str]] = None, halo: Sequence[str] = ()) -> str:
    """Lines over time (x: ISO times), hour and date ticks below, a legend beside; ``colours`` fixes a series' colour.

    Series named in ``halo`` are drawn wide and pale beneath the others: a replay that matches the log shows the log around it.
    """
    points = {name: sorted((datetime.fromisoformat(x), value) for x, value in values) for name, values in series.items()}
    moments = [moment for values in points.values() for moment, _ in values]
    ticks_y = _nice_ticks(max([value for values in points.values() for _, value in values] + [1]))
    left = 14 + _width(f"{ticks_y[-1]:g}", 10)
    right = 34 + max((_width(name, 11) for name in series), default=0)
    head, bottom = 30, 36
    height = max(height, head + 18 * len(series) + bottom)
    width = max(width, int(_width(title, 13)) + 16)
    plot_w, plot_h = width - left - right, height - head - bottom
    begin, end = (min(moments), max(moments)) if moments else (None, None)
    span = (end - begin).total_seconds() if begin and end and end > begin else 1.0
    x = lambda moment: left + (moment - begin).total_seconds() / span * plot_w  # noqa: E731
    y = lambda value: head + plot_h - value / ticks_y[-1] * plot_h  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" width="{width}" class="chart" font-family="sans-serif">',
             _text(8, 18, title, 13, anchor="start", weight="bold"), *_y_axis(ticks_y, left, left + plot_w, y)]
    if begin and end:
        for moment, hour, date in _time_ticks(begin, end, max(2, int(plot_w // 46))):
            parts.append(f'<line x1="{x(moment):.1f}" y1="{head + plot_h}" x2="{x(moment):.1f}" y2="{head + plot_h + 4}" stroke="#999"/>')
            for row, label in enumerate(filter(None, (hour, date))):
                parts.append(_label_at(x(moment), head + plot_h + 15 + 13 * row, label, 0, width))
    for number, (name, values) in enumerate(points.items()):
        colour = (colours or {}).get(name, PALETTE[number % len(PALETTE)])
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(moment):.1f},{y(value):.1f}" for i, (moment, value) in enumerate(values))
        stroke = 'stroke-width="5" stroke-opacity=".45"' if name in halo else 'stroke-width="1.8"'
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" {stroke} data-series="{escape(name)}"/>' if len(values) > 1 else
                     "".join(f'<circle cx="{x(moment):.1f}" cy="{y(value):.1f}" r="2.5" fill="{colour}"/>' for moment, value in values))
        pale = ' fill-opacity=".45"' if name in halo else ""
        parts.append(f'<rect x="{width - right + 14}" y="{head + number * 18}" width="12" height="12" fill="{colour}"{pale}/>')
        parts.append(_text(width - right + 31, head + 10 + number * 18, name, 11, anchor="start"))
    parts.append("</svg>")
    return "".join(parts)


def grouped_bars(title: str, groups: Sequence[tuple[str, Sequence[Optional[float]]]], series: Sequence[str], colours: Sequence[str],
                 share: bool = True, width: int = 560) -> str:
    """Horizontal bars, a group per label and a bar per series in it (the log beside each replay): shares (0–1) or counts; None a dash."""
    shown = (lambda v: f"{v * 100:.1f}%") if share else (lambda v: f"{v:,.3g}" if v < 1000 else f"{v:,.0f}")
    values = [value for _, row in groups for value in row if value is not None]
    top = 1.0 if share else max(values + [1])
    left = 16 + max((_width(label, 11) for label, _ in groups), default=0)
    right = 10 + max([_width(shown(value), 10) for value in values] + [_width("–", 10)])
    width = max(width, int(_width(title, 13)) + 16, int(left + right + 120))
    bar = 11 if len(groups) <= 8 else 8  # many groups: thinner bars, so a chart of every role stays beside the others
    group_h = len(series) * (bar + 2) + 9
    head = 46 if len(series) > 1 else 30
    height = head + group_h * len(groups) + 4
    plot_w = width - left - right
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height}" width="{width:.0f}" class="chart" font-family="sans-serif">',
             _text(8, 18, title, 13, anchor="start", weight="bold")]
    if len(series) > 1:
        cursor = 8.0
        for name, colour in zip(series, colours):
            parts.append(f'<rect x="{cursor:.1f}" y="27" width="11" height="11" fill="{colour}"/>')
            parts.append(_text(cursor + 15, 36.5, name, 11, anchor="start"))
            cursor += 30 + _width(name, 11)
    for index, (label, row) in enumerate(groups):
        top_y = head + index * group_h
        parts.append(_text(left - 8, top_y + (group_h - 11) / 2 + 4, label, 11, anchor="end"))
        for number, (value, colour) in enumerate(zip(row, colours)):
            y = top_y + number * (bar + 2)
            if share:
                parts.append(f'<rect x="{left:.1f}" y="{y}" width="{plot_w:.1f}" height="{bar}" fill="#f0f0f0"/>')
            if value is not None:
                parts.append(f'<rect x="{left:.1f}" y="{y}" width="{plot_w * max(0.0, min(value / top, 1.0)):.1f}" height="{bar}" fill="{colour}">'
                             f'<title>{escape(series[number])}: {shown(value)}</title></rect>')
            end = left + (plot_w if share or value is None else plot_w * value / top)
            parts.append(_text(end + 4, y + bar - 1.5, "–" if value is None else shown(value), min(10, bar + 1), anchor="start", fill="#333"))
    parts.append("</svg>")
    return "".join(parts)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def staffing_curve(needed: Optional[Sequence[int]], staffed: Sequence[int], width: int = 640, height: int = 150) -> str:
    """Agents on shift (blue area) and agents needed (red line) per hour of the week, Monday 00h first; red fill where short."""
    ticks_y = _nice_ticks(max(list(needed or []) + list(staffed) + [1]), 3)
    left, right, head, bottom = 14 + _width(f"{max(ticks_y[-1], 1000):g}", 10), 10, 22, 18  # curves side by side line up
    plot_w, plot_h = width - left - right, height - head - bottom
    x = lambda hour: left + hour / 168 * plot_w  # noqa: E731
    y = lambda value: head + plot_h - value / ticks_y[-1] * plot_h  # noqa: E731
    steps = lambda values: "".join(f"L{x(hour):.1f},{y(v):.1f}L{x(hour + 1):.1f},{y(v):.1f}" for hour, v in enumerate(values))  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" class="chart staffing-curve" '
             'font-family="sans-serif">', *_y_axis(ticks_y, left, left + plot_w, y)]
    for day, name in enumerate(_DAYS):
        parts.append(f'<line x1="{x(day * 24):.1f}" y1="{head - 4}" x2="{x(day * 24):.1f}" y2="{head + plot_h + 4}" stroke="#ccc"/>')
        parts.append(_text(x(day * 24 + 12), head - 8, name, 11, weight="bold", fill="#444"))
        for hour in (6, 12, 18):
            parts.append(f'<line x1="{x(day * 24 + hour):.1f}" y1="{head + plot_h}" x2="{x(day * 24 + hour):.1f}" y2="{head + plot_h + 3}" stroke="#999"/>')
            parts.append(_text(x(day * 24 + hour), head + plot_h + 13, f"{hour}", 9, fill="#777"))
    parts.append(f'<path d="M{x(0):.1f},{y(0):.1f}{steps(staffed)}L{x(168):.1f},{y(0):.1f}Z" fill="#c6dbef" stroke="#2171b5" stroke-width="1"/>')
    if needed is not None:
        for hour, (want, have) in enumerate(zip(needed, staffed)):
            if want > have:
                parts.append(f'<rect class="short" x="{x(hour):.1f}" y="{y(want):.1f}" width="{plot_w / 168:.2f}" height="{y(have) - y(want):.1f}" '
                             'fill="#e15759" fill-opacity=".55"/>')
        parts.append(f'<path d="M{x(0):.1f},{y(needed[0]):.1f}{steps(needed)}" fill="none" stroke="#b3261e" stroke-width="1.6"/>')
    for hour in range(168):
        asked = "" if needed is None else f"{needed[hour]} needed, "
        parts.append(f'<rect x="{x(hour):.1f}" y="{head}" width="{plot_w / 168:.2f}" height="{plot_h}" fill="transparent">'
                     f'<title>{_DAYS[hour // 24]} {hour % 24:02d}h: {asked}{staffed[hour]} on shift</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def week_strip(rows: list[tuple[str, list[tuple[int, int]], list[tuple[int, int]]]], width: int = 900, id: str = "staffing",
               titles: tuple[str, str] = ("open", "staffed")) -> str:
    """Per row, two sets of minutes of the week (Monday 00:00 first), light above and dark below, across Monday to Sunday.

    The staffing strip shows a channel's opening hours and its staffed hours; the follow-up strip a caller's shifts and the
    hours a call may be made. ``titles`` name the two (shown on hover); the label column is as wide as the longest label.
    """
    left, row_h = 16 + max((_width(label, 11) for label, _, _ in rows), default=0), 30
    width = max(width, int(left) + 500)
    axis = 22 + row_h * len(rows) + 4
    height = axis + 18
    span = width - left - 10
    week = 7 * 1440
    x = lambda minute: left + minute / week * span  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(id)}" viewBox="0 0 {width:.0f} {height}" width="{width:.0f}" '
             'class="chart" font-family="sans-serif">']
    for day, name in enumerate(_DAYS):
        parts.append(f'<line x1="{x(day * 1440):.1f}" y1="14" x2="{x(day * 1440):.1f}" y2="{axis + 4}" stroke="#ccc"/>')
        parts.append(_text(x(day * 1440 + 720), 12, name, 11))
        for hour in (6, 12, 18):  # hour ticks: where in the day a bar starts and ends
            at = x(day * 1440 + hour * 60)
            parts.append(f'<line x1="{at:.1f}" y1="{axis}" x2="{at:.1f}" y2="{axis + 3}" stroke="#999"/>')
            parts.append(_text(at, axis + 13, f"{hour}h", 9, fill="#777"))
    for index, (label, light, dark) in enumerate(rows):
        y = 22 + index * row_h
        parts.append(_text(left - 8, y + 16, label, 11, anchor="end"))
        for spans, top, fill, title in ((light, y + 2, "#c6dbef", titles[0]), (dark, y + 13, "#2171b5", titles[1])):
            for start, end in spans:
                parts.append(f'<rect x="{x(start):.1f}" y="{top}" width="{x(end) - x(start):.1f}" height="10" fill="{fill}">'
                             f'<title>{escape(title)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Mark:
    """A moment on a timeline: a line across the track and its label above it."""

    moment: datetime
    label: str
    colour: str = "#222"
    dashed: bool = False


@dataclass(frozen=True)
class Lane:
    """One track of a timeline, from ``start`` to ``end``: the ``shaded`` spans drawn open, the rest closed."""

    title: str
    start: datetime
    end: datetime
    shaded: Sequence[tuple[datetime, datetime]]
    marks: Sequence[Mark]


_MINOR_STEPS = (1, 2, 3, 6, 12, 24)


def timeline(lanes: Sequence[Lane], zone: tzinfo, width: int = 900, aria: str = "timeline") -> str:
    """Lanes of real time, each on its own axis of hour and date ticks in ``zone``: open hours light, closed hours grey.

    Marks are labelled in a staircase, the earliest highest, each label running right from its line: no label crosses
    another's line, whatever how close the moments are; the picture widens where the last label runs past the track.
    """
    left, right, title_h, row_h, track_h, axis_h = 10, 16, 18, 13, 16, 32
    plot_w = width - left - right
    parts: list[str] = []
    y = 4.0
    widest = float(width)
    for number, lane in enumerate(lanes):
        begin, finish = lane.start.astimezone(timezone.utc), lane.end.astimezone(timezone.utc)
        span = max((finish - begin).total_seconds(), 1.0)
        x = lambda moment: left + (moment.astimezone(timezone.utc) - begin).total_seconds() / span * plot_w  # noqa: E731,B023
        parts.append(_text(left, y + 13, lane.title, 12, anchor="start", weight="bold"))
        marks = sorted(lane.marks, key=lambda mark: mark.moment)
        top = y + title_h
        track = top + row_h * len(marks) + 4
        for index, mark in enumerate(marks):
            at, baseline = x(mark.moment), top + row_h * index + 10
            dash = ' stroke-dasharray="4,2"' if mark.dashed else ""
            parts.append(f'<line class="mark" data-at="{mark.moment.astimezone(timezone.utc).isoformat()}" x1="{at:.1f}" y1="{baseline + 2:.1f}" '
                         f'x2="{at:.1f}" y2="{track + track_h:.1f}" stroke="{mark.colour}" stroke-width="1.6"{dash}/>')
            parts.append(_text(at + 3, baseline, mark.label, 10, anchor="start", fill=mark.colour))
            widest = max(widest, at + 3 + _width(mark.label, 10) + 6)
        parts.append(f'<rect x="{left}" y="{track:.1f}" width="{plot_w}" height="{track_h}" fill="#e4e4e4"><title>closed</title></rect>')
        for opens, closes in lane.shaded:
            parts.append(f'<rect x="{x(opens):.1f}" y="{track:.1f}" width="{max(x(closes) - x(opens), 0.5):.1f}" height="{track_h}" '
                         'fill="#b7e1b0"><title>open: the clock runs</title></rect>')
        parts.extend(_time_axis(lane.start.astimezone(zone), lane.end.astimezone(zone), x, track + track_h, plot_w, left, width))
        # the marks' lines are drawn again over the shading, so a deadline stands out on the track
        parts.extend(f'<line x1="{x(mark.moment):.1f}" y1="{track:.1f}" x2="{x(mark.moment):.1f}" y2="{track + track_h:.1f}" '
                     f'stroke="{mark.colour}" stroke-width="2"/>' for mark in marks)
        y = track + track_h + axis_h + (10 if number < len(lanes) - 1 else 0)
    height = y + 2
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {widest:.0f} {height:.0f}" width="{widest:.0f}" class="chart timeline" '
            f'role="img" aria-label="{escape(aria)}" font-family="sans-serif">' + "".join(parts) + "</svg>")


def _time_axis(start: datetime, end: datetime, x, y: float, plot_w: float, low: float, high: float) -> list[str]:
    """Hour ticks below a track (labelled at a step that leaves room for the labels), an unlabelled tick every hour where
    they fit, and the date under the first tick of each day; a date label that would run into the one before is left out."""
    hours = max((end - start) / timedelta(hours=1), 1e-9)
    per_hour = plot_w / hours
    parts = []
    minor = next((step for step in _MINOR_STEPS if step * per_hour >= 5), None)
    if minor is not None:
        tick = start.replace(minute=0, second=0, microsecond=0)
        while tick <= end:
            if tick >= start and tick.hour % minor == 0:
                parts.append(f'<line x1="{x(tick):.1f}" y1="{y:.1f}" x2="{x(tick):.1f}" y2="{y + 3:.1f}" stroke="#aaa"/>')
            tick += timedelta(hours=1)
    last_date_end = -1e9
    for moment, hour, date in _time_ticks(start, end, max(2, int(plot_w // 26))):
        at = x(moment)
        if moment.hour == 0:
            parts.append(f'<line x1="{at:.1f}" y1="{y - 16:.1f}" x2="{at:.1f}" y2="{y + 6:.1f}" stroke="#777"/>')
        else:
            parts.append(f'<line x1="{at:.1f}" y1="{y:.1f}" x2="{at:.1f}" y2="{y + 5:.1f}" stroke="#777"/>')
        if hour:
            parts.append(_label_at(at, y + 15, hour, low, high))
        if date:
            half = _width(date, 10) / 2
            centre = min(max(at, low + half + 2), high - half - 2)
            if centre - half > last_date_end + 6:
                parts.append(_text(centre, y + 28, date, 10, fill="#333", weight="bold"))
                last_date_end = centre + half
    return parts


@dataclass(frozen=True)
class Node:
    """A box of a state diagram: its lines (the first bold), what hovering shows, and whether it ends the flow."""

    id: str
    lines: tuple[str, ...]
    title: str = ""
    final: bool = False


def _wrapped(text: str, size: float, limit: float) -> list[str]:
    """``text`` broken at spaces into lines at most ``limit`` px wide (a word longer than that stays whole)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and _width(f"{lines[-1]} {word}", size) <= limit:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines or [""]


def state_diagram(nodes: Sequence[Node], edges: Sequence[tuple[str, str]], key: str, max_width: int = 1060) -> str:
    """States as boxes laid out left to right in layers (the longest chain of forward steps to each), arrows for the steps.

    A step back to an earlier state (as the states are listed) is dashed and runs below the boxes, a step that skips
    layers arcs above them; layers that would run past ``max_width`` continue on a band below. ``key`` makes the arrow
    marker's id unique in the page. Boxes are as wide as their longest line, so no label is cut.
    """
    import networkx as nx

    order = {node.id: index for index, node in enumerate(nodes)}
    forward = nx.DiGraph()
    forward.add_nodes_from(order)
    forward.add_edges_from((a, b) for a, b in edges if order[b] > order[a])
    layers = [sorted(layer, key=order.__getitem__) for layer in nx.topological_generations(forward)]
    pad, line_h, gap_x, gap_y, band_gap, arc_room = 10, 15, 48, 16, 36, 24
    box: dict[str, tuple[float, float, float, float]] = {}
    texts: dict[str, list[tuple[str, int, str, str]]] = {}
    for node in nodes:
        rows: list[tuple[str, int, str, str]] = []
        for number, line in enumerate(node.lines):
            size, weight, fill = (12, "bold", "#222") if number == 0 else (10, "normal", "#1a5fb4" if line.startswith("role:") else "#555")
            rows.extend((part, size, weight, fill) for part in _wrapped(line, size, 200))
        texts[node.id] = rows
        w = max(96.0, max(_width(part, size) for part, size, _, _ in rows) + 2 * pad)
        box[node.id] = (0.0, 0.0, w, 8 + line_h * len(rows))
    bands: list[list[list[str]]] = [[]]
    cursor = 28.0
    for layer in layers:
        column_w = max(box[n][2] for n in layer)
        if bands[-1] and cursor + column_w > max_width:
            bands.append([])
            cursor = 28.0
        bands[-1].append(layer)
        cursor += column_w + gap_x
    band_of: dict[str, int] = {}
    column_of: dict[str, int] = {}
    y = float(arc_room)
    width = 0.0
    band_bottom: list[float] = []
    for band_number, band in enumerate(bands):
        heights = [sum(box[n][3] for n in layer) + gap_y * (len(layer) - 1) for layer in band]
        band_h = max(heights)
        x = 28.0
        for column, (layer, height) in enumerate(zip(band, heights)):
            column_w = max(box[n][2] for n in layer)
            top = y + (band_h - height) / 2
            for n in layer:
                w, h = box[n][2], box[n][3]
                box[n] = (x + (column_w - w) / 2, top, w, h)
                band_of[n], column_of[n] = band_number, column
                top += h + gap_y
            x += column_w + gap_x
        width = max(width, x - gap_x / 2 + 14)  # room for the arrows that leave the last layer into the gap beside it
        band_bottom.append(y + band_h)
        y += band_h + band_gap + arc_room
    height = y - band_gap
    marker = f"arrow-{escape(key)}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" class="chart state-diagram" '
             f'data-workflow="{escape(key)}" font-family="sans-serif"><defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" '
             'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    band_top = [bottom - max(sum(box[n][3] for n in layer) + gap_y * (len(layer) - 1) for layer in band)
                for bottom, band in zip(band_bottom, bands)]
    column_right = {(band_of[n], column_of[n]): 0.0 for n in band_of}
    for n in band_of:
        column_right[(band_of[n], column_of[n])] = max(column_right[(band_of[n], column_of[n])], box[n][0] + box[n][2])
    routed = Counter[tuple]()
    for a, b in edges:
        ax, ay, aw, ah = box[a]
        bx, by, bw, bh = box[b]
        x1, y1, x2, y2 = ax + aw, ay + ah / 2, bx, by + bh / 2
        dash = ""
        if band_of[a] == band_of[b] and column_of[b] == column_of[a] + 1:  # the next layer: a plain curve across the gap
            d = f"M{x1:.1f},{y1:.1f} C{x1 + gap_x / 2:.1f},{y1:.1f} {x2 - gap_x / 2:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        else:  # out into the gap beside the source's layer, along a corridor outside the boxes, down the gap before the target's
            if band_of[a] == band_of[b] and column_of[b] > column_of[a]:
                corridor, lane = ("above", band_of[a]), band_top[band_of[a]] - 12
            else:  # to a later band, or back to an earlier state (dashed): below the source's band
                corridor, lane = ("below", band_of[a]), band_bottom[band_of[a]] + 12
                dash = "" if band_of[b] > band_of[a] else ' stroke-dasharray="5,3"'
            step = routed[corridor]
            routed[corridor] += 1
            lane += (-5 if corridor[0] == "above" else 5) * step
            out = column_right[(band_of[a], column_of[a])] + gap_x / 2 - 4 + 3 * (step % 3)
            into = x2 - min(gap_x / 2, 16) + 3 * (step % 3)
            d = f"M{x1:.1f},{y1:.1f} H{out:.1f} V{lane:.1f} H{into:.1f} V{y2:.1f} H{x2:.1f}"
        parts.append(f'<path class="step" data-from="{escape(a)}" data-to="{escape(b)}" d="{d}" fill="none" stroke="#555" '
                     f'stroke-width="1.3" stroke-linejoin="round"{dash} marker-end="url(#{marker})"/>')
    for node in nodes:
        x, top, w, h = box[node.id]
        parts.append(f'<g class="state" data-state="{escape(node.id)}"><title>{escape(node.title or node.id)}</title>'
                     f'<rect x="{x:.1f}" y="{top:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" fill="#fff" stroke="#1f3b57" stroke-width="1.3"/>')
        if node.final:
            parts.append(f'<rect x="{x + 3:.1f}" y="{top + 3:.1f}" width="{w - 6:.1f}" height="{h - 6:.1f}" rx="4" fill="none" stroke="#1f3b57"/>')
        for number, (part, size, weight, fill) in enumerate(texts[node.id]):
            parts.append(_text(x + w / 2, top + 4 + line_h * number + 11, part, size, weight=weight, fill=fill))
        parts.append("</g>")
    first = nodes[0].id if nodes else None
    if first is not None:
        x, top, _, h = box[first]
        parts.append(f'<circle cx="{x - 20:.1f}" cy="{top + h / 2:.1f}" r="5" fill="#1f3b57"/>'
                     f'<path d="M{x - 15:.1f},{top + h / 2:.1f} H{x:.1f}" stroke="#1f3b57" stroke-width="1.3" marker-end="url(#{marker})"/>')
    parts.append("</svg>")
    return "".join(parts)
