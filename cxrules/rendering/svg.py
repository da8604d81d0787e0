"""Pictures as inline SVG, so the HTML report is one file that opens offline anywhere.

No JavaScript library and no network: the org chart is laid out here (a tidy tree of the
reporting lines), and the charts are plain bars and lines.
"""

from __future__ import annotations

from html import escape
from typing import Iterable, Optional

from ..model import Org

__all__ = ["org_chart", "bar_chart", "line_chart", "week_strip"]

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


def bar_chart(title: str, bars: Iterable[tuple[str, Optional[float]]], unit: str = "%", width: int = 520) -> str:
    """Horizontal bars of shares (0–1), labelled; `None` drawn as a dash."""
    bars = list(bars)
    height = 34 + 24 * len(bars)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" class="chart" font-family="sans-serif">',
             _text(8, 18, title, 13, anchor="start", weight="bold")]
    for index, (label, value) in enumerate(bars):
        y = 30 + index * 24
        parts.append(_text(150, y + 14, _clip(label, 22), 11, anchor="end"))
        parts.append(f'<rect x="158" y="{y + 3}" width="{width - 230}" height="16" fill="#eee"/>')
        if value is not None:
            colour = "#59a14f" if value >= 0.9 else "#edc948" if value >= 0.7 else "#e15759"
            parts.append(f'<rect x="158" y="{y + 3}" width="{(width - 230) * max(0.0, min(value, 1.0)):.1f}" height="16" fill="{colour}"/>')
        parts.append(_text(width - 66, y + 15, "–" if value is None else f"{value * 100:.1f}{unit}", 11, anchor="start"))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(title: str, series: dict[str, list[tuple[str, float]]], width: int = 760, height: int = 260) -> str:
    """Lines over time (x labels are ordered strings such as ISO hours)."""
    xs = sorted({x for points in series.values() for x, _ in points})
    top = max([value for points in series.values() for _, value in points] + [1])
    left, right, bottom, head = 46, 150, 30, 28
    plot_w, plot_h = width - left - right, height - head - bottom
    index = {x: i for i, x in enumerate(xs)}
    scale_x = lambda x: left + (index[x] / max(len(xs) - 1, 1)) * plot_w  # noqa: E731
    scale_y = lambda v: head + plot_h - (v / top) * plot_h  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" class="chart" font-family="sans-serif">',
             _text(8, 18, title, 13, anchor="start", weight="bold"),
             f'<line x1="{left}" y1="{head + plot_h}" x2="{left + plot_w}" y2="{head + plot_h}" stroke="#999"/>',
             f'<line x1="{left}" y1="{head}" x2="{left}" y2="{head + plot_h}" stroke="#999"/>',
             _text(left - 6, head + 8, f"{top:.0f}", 10, anchor="end"), _text(left - 6, head + plot_h, "0", 10, anchor="end")]
    if xs:
        parts += [_text(left, height - 8, xs[0][:16].replace("T", " "), 10, anchor="start"),
                  _text(left + plot_w, height - 8, xs[-1][:16].replace("T", " "), 10, anchor="end")]
    for number, (name, points) in enumerate(sorted(series.items())):
        colour = PALETTE[number % len(PALETTE)]
        path = " ".join(f"{'M' if i == 0 else 'L'}{scale_x(x):.1f},{scale_y(v):.1f}" for i, (x, v) in enumerate(sorted(points)))
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        parts.append(f'<rect x="{width - right + 10}" y="{head + number * 16}" width="10" height="10" fill="{colour}"/>')
        parts.append(_text(width - right + 26, head + 9 + number * 16, _clip(name, 18), 10, anchor="start"))
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
