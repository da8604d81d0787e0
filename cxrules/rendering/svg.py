"""Pictures as inline SVG, so the HTML report is one file that opens offline anywhere.

No JavaScript library and no network: the org chart is laid out here (a tidy tree of the
reporting lines), and the charts are plain bars, lines and steps.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from html import escape
from typing import Optional, Sequence

from ..model import Org

__all__ = ["org_chart", "grouped_bars", "line_chart", "staffing_curve", "week_strip"]

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


def week_strip(rows: list[tuple[str, list[tuple[int, int]], list[tuple[int, int]]]], width: int = 900) -> str:
    """Per channel: opening hours (light) and staffed hours (dark) across Monday to Sunday."""
    left, row_h = 120, 30
    height = 40 + row_h * len(rows)
    span = width - left - 10
    week = 7 * 1440
    x = lambda minute: left + minute / week * span  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="staffing" viewBox="0 0 {width} {height}" width="{width}" font-family="sans-serif">']
    for day, name in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")):
        parts.append(f'<line x1="{x(day * 1440):.1f}" y1="14" x2="{x(day * 1440):.1f}" y2="{height - 6}" stroke="#ddd"/>')
        parts.append(_text(x(day * 1440 + 720), 12, name, 11))
    for index, (label, open_spans, staffed_spans) in enumerate(rows):
        y = 22 + index * row_h
        parts.append(_text(left - 8, y + 16, _clip(label, 16), 11, anchor="end"))
        for start, end in open_spans:
            parts.append(f'<rect x="{x(start):.1f}" y="{y + 2}" width="{x(end) - x(start):.1f}" height="10" fill="#c6dbef"><title>open</title></rect>')
        for start, end in staffed_spans:
            parts.append(f'<rect x="{x(start):.1f}" y="{y + 13}" width="{x(end) - x(start):.1f}" height="10" fill="#2171b5"><title>staffed</title></rect>')
    parts.append("</svg>")
    return "".join(parts)
