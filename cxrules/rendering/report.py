"""The HTML report a consultant hands the client: one self-contained file that opens offline.

Org chart, RACI duty matrix, coverage heat map (category × channel, coloured by how many
owners a ticket finds), staffing timeline, every finding of `check` with its place in the
file, and, given a ticket log, the simulation: the back-test (the log beside the replay), its
charts and the staffing curve (:mod:`cxrules.rendering.simulation`). Labels come from the org
file, and section titles follow the org's locale (Chinese or English).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Iterable, Optional

from ..checks import CheckContext
from ..checks.staffing import serving_roles
from ..diagnostics import Diagnostic, Severity, sort_key
from ..model import Org
from ..regions import Box, coalesce
from .graphs import _problems
from .organisation import organisation_sections
from .svg import org_chart, week_strip

__all__ = ["build_report", "coverage", "Cell"]

_TITLES = {
    "summary": ("Summary", "概览"), "chart": ("Org chart", "组织架构"), "raci": ("Duty matrix (RACI)", "职责矩阵"),
    "coverage": ("Coverage heat map: category × channel", "覆盖热力图：类别 × 渠道"),
    "staffing": ("Staffing timeline: opening hours against staffed hours", "值班时间线：开放时间与在岗时间"),
    "findings": ("Findings", "检查结果"), "simulation": ("Simulation", "仿真"),
    "slas": ("SLA targets and their calendars", "服务水平目标与日历"),
    "escalations": ("Escalation paths: when each level fires, who is on shift", "升级路径：各级触发时间与在岗人员"),
    "followups": ("Follow-up policies and when calls may be made", "回访策略与可回访时间"),
    "surges": ("Surges, campaigns and special dates", "高峰应急、活动与特殊日期"), "workflows": ("Workflows", "工作流程"),
    "automations": ("Automations", "自动化规则"),
}

_STYLE = """
body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3b57;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.85}
main{padding:8px 28px 40px}section{background:#fff;border:1px solid #e3e3e3;border-radius:8px;margin:18px 0;padding:14px 18px;overflow-x:auto}
h2{font-size:17px;margin:4px 0 12px}table{border-collapse:collapse;font-size:12px}th,td{border:1px solid #ddd;padding:4px 7px;text-align:left}
th{background:#f3f5f7;position:sticky;top:0}.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #e3e3e3;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px}.heat td{text-align:center;min-width:64px}.c0{background:#f4a6a6}.c1{background:#cfe8cf}.c2{background:#ffd08a}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border-radius:3px;font-size:12px}.sev-error{color:#b3261e;font-weight:bold}
.sev-warning{color:#a15c00}.filters button{margin-right:6px;padding:3px 10px;border:1px solid #bbb;background:#fff;border-radius:4px;cursor:pointer}
.filters button.on{background:#1f3b57;color:#fff}.raci td{text-align:center}.raci td:first-child,.heat td:first-child{text-align:left;white-space:nowrap}.muted{color:#777;font-size:12px}code{font-size:12px}
h3{font-size:15px;margin:22px 0 8px;padding-top:12px;border-top:1px solid #eee}.grid{display:flex;flex-wrap:wrap;gap:18px 36px;align-items:flex-start}
.grid figure{margin:0}.grid.beside{flex:1 1 560px}.meter{display:inline-block;width:50px;height:9px;background:#eee;margin-right:6px}.meter span{display:block;height:100%}figcaption,.caption,caption{font-size:12px;margin:0 0 4px;text-align:left}td.num,th.num{text-align:right}.ok{color:#1b7f3b}.bad{color:#b3261e;font-weight:bold}
.verdict{padding:6px 10px;border-radius:4px;display:inline-block}.verdict.pass{background:#e6f4ea}.verdict.fail{background:#fdecea}
.swatch{display:inline-block;width:12px;height:12px;vertical-align:-1px;margin:0 4px 0 12px}.swatch:first-child{margin-left:0}
section figure{margin:14px 0 18px}figure.workflow figcaption,figure.deadlines figcaption{font-size:13px;margin-bottom:6px}
ul.requires{font-size:12px;margin:6px 0 0;padding-left:18px;columns:2 420px}ul.requires li{break-inside:avoid;margin-bottom:2px}
table.escalation{margin-bottom:6px}.nobody{white-space:nowrap}td .muted{font-size:inherit}
table.automations{width:100%}table.automations td,table.campaigns td{vertical-align:top}table.automations td:first-child{width:32%}
table.automations td:nth-child(2),table.automations td:nth-child(3){width:22%}table.surges td:nth-child(7),td.runs{white-space:nowrap}
@media print{
@page{size:A4;margin:12mm}
body{background:#fff;font-size:11px}header{background:#fff;color:#000;border-bottom:2px solid #1f3b57;padding:0 0 6px}
main{padding:0}section{border:none;border-radius:0;margin:0 0 10px;padding:6px 0;overflow:visible}
section.short,.keep,figure,svg,tr,.cards,.legend{page-break-inside:avoid;break-inside:avoid}
h2,h3,figcaption,section>p.muted{page-break-after:avoid;break-after:avoid}th{position:static}thead{display:table-header-group}
svg{max-width:100%;height:auto}table{font-size:9px;width:100%}td,th{padding:2px 4px}
.raci th{writing-mode:vertical-rl;vertical-align:bottom;white-space:nowrap}.filters{display:none}code{font-size:9px}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""

_SCRIPT = """
document.querySelectorAll('.filters button').forEach(function (button) {
  button.addEventListener('click', function () {
    document.querySelectorAll('.filters button').forEach(function (b) { b.classList.remove('on'); });
    button.classList.add('on');
    var level = button.getAttribute('data-level');
    document.querySelectorAll('#findings tbody tr').forEach(function (row) {
      row.style.display = (level === 'all' || row.getAttribute('data-level') === level) ? '' : 'none';
    });
  });
});
"""


@dataclass(frozen=True)
class Cell:
    """One cell of the heat map (a category on a channel), from the regions `check` computes.

    ``count`` is 0 when some ticket there has no owner at some hour the channel is open
    (a CX401 gap), 2 when two rules of equal precedence disagree at some hour (a CX402
    overlap), else 1. ``gaps`` and ``overlaps`` say which tickets and when; ``owners``
    says who owns the cell's tickets and when.
    """

    count: int
    owners: tuple[tuple[str, str], ...]
    gaps: tuple[str, ...] = ()
    overlaps: tuple[str, ...] = ()
    fallback: str = ""

    @property
    def title(self) -> str:
        lines = [f"no owner (fallback queue `{self.fallback}`): {gap}" for gap in self.gaps] + [f"two owners: {overlap}" for overlap in self.overlaps]
        lines += [f"{owner}: {hours}" for owner, hours in self.owners] or ["nobody"]
        return "\n".join(lines)


def _within(context: CheckContext, box: Box) -> str:
    """A region of one cell in words, without its category and channel: `vip × any priority, Sat–Sun`, or `Sat–Sun`."""
    if box.sets[2:] == context.values[2:]:
        return box.hours.describe()
    whole = context.describe(box.replace(0, context.values[0]).replace(1, context.values[1]))
    return whole.removeprefix("any category × any channel × ")


def coverage(org: Org, context: Optional[CheckContext] = None) -> dict[tuple[str, str], Cell]:
    """(category, channel) → :class:`Cell`, for every category a channel receives while open.

    Gaps and overlaps are the regions of CX401 and CX402 (with their hours), so the heat map
    never says "one owner" where `check` finds a gap at some hour.
    """
    context = context or CheckContext(org)
    received: dict[tuple[str, str], None] = {}
    for channel, space in context.channel_spaces:
        for category in org.categories:
            if category.id in space.sets[0]:
                received[(category.id, channel.id)] = None
    gaps: dict[tuple[str, str], list[str]] = defaultdict(list)
    for channel, regions in context.gap_regions:
        for region in regions:
            for category in region.sets[0]:
                gaps[(category, channel.id)].append(_within(context, region))
    overlaps: dict[tuple[str, str], list[str]] = defaultdict(list)
    for first, second, regions in context.overlap_regions:
        for region in regions:
            for category, channel in itertools.product(region.sets[0], region.sets[1]):
                overlaps[(category, channel)].append(
                    f"`{first.to}` (rule `{first.id}`) and `{second.to}` (rule `{second.id}`), {_within(context, region)}")
    owned: dict[tuple[str, str], dict[str, list[Box]]] = defaultdict(dict)
    for owner, rule, region in context.ownership():
        if rule is None:
            continue  # the fallback queue's share is the gap, told apart
        for category, channel in itertools.product(region.sets[0], region.sets[1]):
            cell = region.replace(0, frozenset({category})).replace(1, frozenset({channel}))
            owned[(category, channel)].setdefault(owner, []).append(cell)
    cells = {}
    for key in received:
        count = 0 if gaps.get(key) else 2 if overlaps.get(key) else 1
        mine = owned.get(key, {})
        owners = tuple((owner, "; ".join(sorted(_within(context, box) for box in coalesce(mine[owner])))) for owner in sorted(mine))
        cells[key] = Cell(count, owners, tuple(sorted(set(gaps.get(key, ())))), tuple(sorted(set(overlaps.get(key, ())))),
                          org.info.fallback_queue)
    return cells


def build_report(org: Org, findings: Iterable[Diagnostic], simulation=None, target=None, today: Optional[date] = None) -> str:
    """The report as one HTML page; ``simulation`` a back-test (the log beside the replays) or one replay's result.

    ``target`` (a :class:`~cxrules.simulation.staffing.ServiceTarget` or text such as `80% in 30m`) is the service level the
    staffing curve asks Erlang C for. ``today`` fixes the week the typical tickets of the SLA, escalation and follow-up
    sections arrive in, and the year of special dates (default: today).
    """
    findings = sorted(findings, key=sort_key)
    chinese = (org.info.locale or "").startswith("zh")
    title = lambda key: f"{_TITLES[key][0]} · {_TITLES[key][1]}" if chinese else _TITLES[key][0]  # noqa: E731
    name = lambda item: f"{item.label} ({item.name})" if chinese and getattr(item, "label", None) else item.name  # noqa: E731
    context = CheckContext(org)
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity is Severity.WARNING)
    html = [f"<!DOCTYPE html><html lang=\"{'zh-CN' if chinese else 'en'}\"><head><meta charset=\"utf-8\">",
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{escape(org.info.name)} · cxrules</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<header><h1>{escape(org.info.label or org.info.name) if chinese else escape(org.info.name)}</h1>"
            f"<p>{escape(org.info.name if chinese else (org.info.label or ''))} · {escape(', '.join(org.files))}</p></header><main>"]
    cards = [("roles", len(org.roles)), ("units", len(org.units)), ("channels", len(org.channels)),
             ("routing rules", len(org.routing)), ("agents", sum(r.headcount for r in org.roles)),
             ("errors", errors), ("warnings", warnings)]
    html.append(f"<section id=\"summary\" class=\"short\"><h2>{title('summary')}</h2><div class=\"cards\">"
                + "".join(f"<div class=\"card\"><b>{value}</b>{label}</div>" for label, value in cards) + "</div></section>")
    html.append(f"<section id=\"chart\"><h2>{title('chart')}</h2>{org_chart(org, _problems(findings), chinese)}</section>")
    html.append(_raci(org, title("raci"), name))
    html.append(_heat(org, context, title("coverage"), name))
    html.append(_staffing(org, context, title("staffing"), name))
    html.extend(organisation_sections(org, context, title, name, chinese, today))
    html.append(_findings(findings, title("findings")))
    if simulation is not None:
        from .simulation import simulation_section  # the simulation and its scipy only when there is one

        html.append(simulation_section(org, simulation, target, title("simulation")))
    html.append(f"</main><script>{_SCRIPT}</script></body></html>")
    return "".join(html)


def _raci(org: Org, heading: str, name) -> str:
    marks: dict[tuple[str, str], list[str]] = defaultdict(list)
    for role in org.roles:
        for duty_id in role.duties:
            marks[(duty_id, role.id)].append("R")
    for duty in org.duties:
        for letter, role_ids in (("A", duty.accountable), ("C", duty.consulted), ("I", duty.informed)):
            for role_id in role_ids:
                marks[(duty.id, role_id)].append(letter)
    roles = [role for role in org.roles if any((duty.id, role.id) in marks for duty in org.duties)]
    head = "".join(f"<th title=\"{escape(role.id)}\">{escape(role.label or role.name)}</th>" for role in roles)
    rows = "".join(f"<tr><td>{escape(name(duty))}</td>" + "".join(f"<td>{''.join(marks.get((duty.id, role.id), []))}</td>" for role in roles)
                   + "</tr>" for duty in org.duties)
    return (f"<section id=\"raci\"><h2>{heading}</h2><p class=\"muted\">R responsible · A accountable · C consulted · I informed</p>"
            f"<table class=\"raci\"><thead><tr><th></th>{head}</tr></thead><tbody>{rows}</tbody></table></section>")


def _heat(org: Org, context: CheckContext, heading: str, name) -> str:
    cells = coverage(org, context)
    head = "".join(f"<th>{escape(name(channel))}</th>" for channel in org.channels)
    rows = []
    for category in org.categories:
        indent = "&nbsp;&nbsp;&nbsp;" if category.parent else ""
        row = [f"<td>{indent}{escape(name(category))}</td>"]
        for channel in org.channels:
            if (category.id, channel.id) not in cells:
                row.append("<td class=\"muted\">–</td>")
                continue
            cell = cells[(category.id, channel.id)]
            label = {0: "gap", 1: "1", 2: "2+"}[cell.count] + (", 2+" if cell.count == 0 and cell.overlaps else "")
            title = escape(cell.title).replace("\n", "&#10;")
            row.append(f"<td class=\"c{cell.count}\" title=\"{title}\">{label}</td>")
        rows.append("<tr>" + "".join(row) + "</tr>")
    legend = ("<p class=\"legend\"><span class=\"c0\">gap: some tickets have no owner at some hour the channel is open</span>"
              "<span class=\"c1\">1: every ticket has one owner at every hour</span><span class=\"c2\">2+: equal rules disagree at some hour</span>"
              " (hover a cell for the tickets, the hours and the owners)</p>")
    return (f"<section id=\"coverage\"><h2>{heading}</h2>{legend}<table class=\"heat\"><thead><tr><th></th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>")


def _staffing(org: Org, context: CheckContext, heading: str, name) -> str:
    rows = []
    for channel in org.channels:
        open_hours = context.hours(channel.hours)
        staffed = None
        for role, hours in serving_roles(context, channel):
            part = context.role_hours(role) & hours
            staffed = part if staffed is None else staffed | part
        staffed_hours = (staffed & open_hours).intervals if staffed is not None else ()
        rows.append((channel.label or channel.name, list(open_hours.intervals), list(staffed_hours)))
    return (f"<section id=\"staffing-section\"><h2>{heading}</h2><p class=\"muted\">light: channel open · dark: someone who serves it "
            f"is on shift</p>{week_strip(rows)}</section>")


def _findings(findings: list[Diagnostic], heading: str) -> str:
    if not findings:
        body = "<p>No findings: the routing has no gaps and no overlaps, and every other check passes.</p>"
    else:
        rows = "".join(
            f"<tr data-level=\"{f.severity.value}\"><td><code>{f.code}</code></td><td class=\"sev-{f.severity.value}\">{f.severity.value}</td>"
            f"<td><code>{escape(str(f.location))}</code></td><td>{escape(f.message)}"
            + (f"<br><span class=\"muted\">hint: {escape(f.hint)}</span>" if f.hint else "")
            + "".join(f"<br><span class=\"muted\">{escape(str(r.location))}: {escape(r.message)}</span>" for r in f.related)
            + "</td></tr>" for f in findings)
        body = ("<p class=\"filters\"><button class=\"on\" data-level=\"all\">all</button><button data-level=\"error\">errors</button>"
                "<button data-level=\"warning\">warnings</button></p><table><thead><tr><th>code</th><th>severity</th><th>where</th>"
                f"<th>finding</th></tr></thead><tbody>{rows}</tbody></table>")
    return f"<section id=\"findings\"><h2>{heading}</h2>{body}</section>"
