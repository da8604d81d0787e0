"""The simulation section of the HTML report: how far to trust the replay, what it shows, and the staff it asks for.

Given a :class:`~cxrules.simulation.Backtest`, the log's own figures stand beside each replay's
(as-is, and what-if with a model): the comparisons with their verdict, work in progress over
time, resolution times, SLA attainment and the tickets each role got. Then the replay's inner
figures (what is left open, waits, utilisation, queues, follow-ups) and, per role tickets came
to, the agents Erlang C needs in each hour of the week against the agents on shift. One
:class:`~cxrules.simulation.SimulationResult` alone gets the same section without the log.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Optional, Sequence, Union

from ..model import Org
from ..simulation.backtest import Backtest, Comparison
from ..simulation.figures import SimulationResult, stats
from ..simulation.staffing import HOURS, ServiceTarget, hours_on_shift, parse_target, required_by_hour
from .svg import grouped_bars, line_chart, staffing_curve

__all__ = ["DEFAULT_TARGET", "StaffingCurve", "simulation_section", "staffing_curves"]

DEFAULT_TARGET = "80% in 30m"
COLOURS = {"log": "#555555", "as-is": "#4e79a7", "what-if": "#f28e2b"}
"""The log is grey everywhere, each replay keeps its colour from chart to chart."""
WIDE = 1260
"""Timelines span the page (1400 px wide less the margins); other charts go two to a row."""


@dataclass(frozen=True)
class StaffingCurve:
    """A role's agents per hour of the week (Monday 00h first, the org's time zone): what Erlang C needs, who is on shift."""

    role: str
    capacity: int
    tickets: int
    handling_minutes: Optional[float]
    needed: Optional[tuple[int, ...]]
    """None when no agent of the role ever took a ticket: Erlang C has no handling time to go on."""
    staffed: tuple[int, ...]

    @property
    def short(self) -> list[int]:
        """Hours of the week with fewer agents on shift than needed."""
        return [hour for hour in range(HOURS) if self.needed is not None and self.needed[hour] > self.staffed[hour]]


def staffing_curves(org: Org, result: SimulationResult, target: ServiceTarget) -> list[StaffingCurve]:
    """Per role tickets came to: Erlang C on the arrivals and handling the replay measured, against its staff groups' shifts.

    Agents count in an hour their shift covers at least half of, as in `cxrules staff`.
    """
    curves, reached = [], set(result.roles_reached)
    for role in org.roles:
        if role.id not in reached:
            continue
        handling = result.role_handling.get(role.id)
        needed = required_by_hour(result.role_arrivals.get(role.id), handling, role.capacity, target)
        shifts = [(group.agents, hours_on_shift(org, group.shift)) for group in role.staff]
        staffed = tuple(sum(agents for agents, hours in shifts if hour in hours) for hour in range(HOURS))
        curves.append(StaffingCurve(role.id, role.capacity, result.arrived(role.id), handling,
                                    tuple(needed) if needed is not None else None, staffed))
    return curves


def simulation_section(org: Org, simulation: Union[Backtest, SimulationResult], target: Union[ServiceTarget, str, None] = None,
                       heading: str = "Simulation") -> str:
    """The report's simulation section, from a back-test (the log beside each replay) or from one replay alone."""
    target = parse_target(target or DEFAULT_TARGET) if not isinstance(target, ServiceTarget) else target
    if isinstance(simulation, Backtest):
        log, runs = simulation.log or None, simulation.results
    else:
        log, runs = None, {simulation.mode: simulation}
    parts = [f'<section id="simulation"><h2>{escape(heading)}</h2>', _summary(runs)]
    by_priority = _sla_charts(org, log, runs, "priority")
    if isinstance(simulation, Backtest) and simulation.comparisons:
        parts.append(_backtest(simulation, by_priority))  # the charts of the table's SLA rows beside it
        by_priority = []
    parts.append(_against_log(org, log, runs, by_priority + _sla_charts(org, log, runs, "segment")))
    parts.append(_per_role(org, log, runs))
    parts.append(_queues(runs))
    parts.append(_staffing(org, runs.get("as-is") or next(iter(runs.values())), target))
    return "".join(parts) + "</section>"


def _duration(minutes: Optional[float]) -> str:
    if minutes is None:
        return "–"
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h" if minutes < 48 * 60 else f"{minutes / 1440:.1f} d"


def _moment(text: Optional[str]) -> str:
    return "–" if text is None else f"{datetime.fromisoformat(text):%a %d %b %Y %H:%M}"


def _summary(runs: dict[str, SimulationResult]) -> str:
    first = next(iter(runs.values()))
    waits = " · ".join(f"{mode} replay: waits to the first agent p50 {_duration(r.waits_minutes['p50'])}, "
                       f"p90 {_duration(r.waits_minutes['p90'])}, p99 {_duration(r.waits_minutes['p99'])}, "
                       f"{r.fallback} in the fallback queue" for mode, r in runs.items())
    return (f"<p>{first.counted} tickets counted, arriving {_moment(first.window['counted_from'])} – {_moment(first.window['to'])} "
            f"({first.tickets} replayed) · {waits} · {first.unmapped['total']} rows of the log not mapped</p>")


def _figure_key(comparisons: Sequence[Comparison]) -> list[tuple[tuple[str, int], Comparison]]:
    """Each comparison keyed by its figure and how often that figure came before (`  priority high` comes once per SLA target)."""
    seen: Counter = Counter()
    keyed = []
    for comparison in comparisons:
        keyed.append(((comparison.figure, seen[comparison.figure]), comparison))
        seen[comparison.figure] += 1
    return keyed


def _number(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:g}"


def _backtest(backtest: Backtest, charts: list[str]) -> str:
    """The comparisons of every replay side by side, the log's figure first, the verdict in one line, ``charts`` beside the table."""
    modes = list(backtest.comparisons)
    rows: dict[tuple[str, int], dict[str, Comparison]] = {}
    for mode in modes:
        for key, comparison in _figure_key(backtest.comparisons[mode]):
            rows.setdefault(key, {})[mode] = comparison
    verdicts = {True: '<td class="ok">ok</td>', False: '<td class="bad">outside tolerance</td>', None: '<td class="muted">–</td>'}

    def side(comparison: Optional[Comparison]) -> str:
        """A replay's three cells of a row: simulated, difference, verdict (empty where that replay has no such figure)."""
        if comparison is None:
            return "<td></td>" * 3
        difference = "" if comparison.difference is None else f"{comparison.difference:+g} {escape(comparison.unit)}"
        return f'<td class="num">{_number(comparison.simulated)}</td><td class="num">{difference}</td>{verdicts[comparison.within]}'

    body = []
    for (figure, _), by_mode in rows.items():
        logged = next(c.log for c in by_mode.values())
        cells = "".join(side(by_mode.get(mode)) for mode in modes)
        indent = ' style="padding-left:22px"' if figure.startswith(" ") else ""
        body.append(f"<tr><td{indent}>{escape(figure.strip())}</td><td class=\"num\">{_number(logged)}</td>{cells}</tr>")
    head = ('<tr><th rowspan="2">figure</th><th rowspan="2" class="num">log</th>'
            + "".join(f'<th colspan="3">{escape(mode)} replay</th>' for mode in modes) + "</tr><tr>"
            + '<th class="num">simulated</th><th class="num">difference</th><th>verdict</th>' * len(modes) + "</tr>")
    tolerances = backtest.tolerances
    bounds = f"±{tolerances.share_points:g} pp on shares, ±{tolerances.median_relative * 100:g} % on the median resolution time"
    outside = lambda mode: [c.figure.strip() for c in backtest.comparisons[mode] if c.within is False]  # noqa: E731
    if backtest.passed:
        verdict = f"Verdict: within tolerance. The as-is replay reproduces the log on every figure it is held to ({bounds})."
    else:
        verdict = f"Verdict: OUTSIDE tolerance ({bounds}) on {'; '.join(outside('as-is'))}: do not trust the what-if figures yet."
    if "what-if" in backtest.comparisons:
        judged = sum(c.within is not None for c in backtest.comparisons["what-if"])
        verdict += f" The what-if replay is within tolerance on {judged - len(outside('what-if'))} of {judged} judged figures."
    own = backtest.log.get("made_sla_share")
    note = (f'<p class="muted">The log\'s own SLA verdict (its column, not judged by the org\'s targets): {own * 100:.1f}% made.</p>'
            if own is not None else "")
    return (f'<h3>Back-test: the log against the replay ({backtest.log.get("tickets", 0)} tickets)</h3>'
            f'<p class="verdict {"pass" if backtest.passed else "fail"}">{escape(verdict)}</p>'
            f'<div class="grid"><div><table id="backtest"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>{note}</div>'
            f'<div class="grid beside">{"".join(charts)}</div></div>')


def _ordered(values, first: Sequence[str] = ()) -> list[str]:
    """``values`` in the org's order where it has one (priorities), the rest in natural order (group_9 before group_10)."""
    values = set(values)
    natural = lambda text: [int(part) if index % 2 else part for index, part in enumerate(re.split(r"(\d+)", text))]  # noqa: E731
    return [value for value in first if value in values] + sorted(values - set(first), key=natural)


def _against_log(org: Org, log: Optional[dict], runs: dict[str, SimulationResult], charts: list[str]) -> str:
    """Work in progress over time, resolution times, what is open at the end (and ``charts``): the log beside each replay."""
    wip = ({"log": log["wip_series"]} if log and log.get("wip_series") else {}) | {mode: r.wip_series for mode, r in runs.items() if r.wip_series}
    wide = [line_chart("Work in progress: tickets open at each hour" + (", the log against the replay" if log else ""), wip, width=WIDE,
                       height=300, colours=COLOURS, halo=("log",))] if wip else []
    parts = [_resolution_table(org, log, runs), _open_at_end(log, runs)] + charts
    return f'<h3>{"The log against the replay" if log else "The replay"}</h3>' + _layout(wide, parts)


def _sla_charts(org: Org, log: Optional[dict], runs: dict[str, SimulationResult], dimension: str) -> list[str]:
    """SLA attainment (first response, resolution) by priority or segment, the log beside each replay; segments only if several."""
    attainment = ({"log": log["sla_attainment"]} if log else {}) | {mode: r.attainment for mode, r in runs.items()}
    sources = list(attainment)
    values = _ordered({value for table in attainment.values() for target in table.values() for value in target[dimension]},
                      org.info.priorities if dimension == "priority" else ())
    charts = []
    for target in ("first_response", "resolution"):
        groups = [(group, [_rate(attainment[source][target], dimension, group) for source in sources]) for group in ["all"] + values]
        if (dimension == "priority" or len(values) > 1) and any(rate is not None for _, row in groups for rate in row):
            charts.append(grouped_bars(f"SLA {target.replace('_', ' ')} by {dimension}", groups, sources,
                                       [COLOURS.get(source, "#999") for source in sources]))
    return charts


def _layout(wide: list[str], parts: list[str]) -> str:
    """Timelines across the page, then the other charts and tables side by side as far as they fit."""
    return "".join(f"<div>{chart}</div>" for chart in wide) + '<div class="grid">' + "".join(f"<div>{part}</div>" for part in parts) + "</div>"


def _role_ids(org: Org) -> list[str]:
    """Roles in the org file's order: the first line before those it hands on to."""
    return [role.id for role in org.roles]


def _per_role(org: Org, log: Optional[dict], runs: dict[str, SimulationResult]) -> str:
    """Tickets coming to each role (the log beside each replay), and beside them each role's waits and utilisation."""
    entries = {"log": log["role_entries"]} if log and log.get("role_entries") else {}  # a log of one row per ticket names no roles
    entries |= {mode: {role: waits["n"] for role, waits in r.waits_by_role.items()} for mode, r in runs.items()}
    roles = _ordered((role for counts in entries.values() for role in counts), _role_ids(org))
    parts = [grouped_bars("Tickets coming to each role" + ("" if "log" in entries or not log else " (the log names no roles)"),
                          [(role, [entries[source].get(role, 0) for source in entries]) for role in roles],
                          list(entries), [COLOURS.get(source, "#999") for source in entries], share=False, width=480)] if roles else []
    return "<h3>Per role</h3>" + _layout([], parts + [_waits(org, runs)])


def _queues(runs: dict[str, SimulationResult]) -> str:
    """Queue length per role over time, and the follow-up calls: due, done, late."""
    wide, charts, notes = [], [], []
    for mode, result in runs.items():
        series: dict[str, list] = defaultdict(list)
        for row in result.queue_series:
            if row["queue"]:
                series[row["role"]].append((row["hour"], row["queue"]))
        hours = sorted({hour for points in series.values() for hour, _ in points})
        if len(hours) > 1:
            wide.append(line_chart(f"Queue length per role, {mode} replay (peak per hour)", dict(sorted(series.items())), width=WIDE))
        else:
            where = ", ".join(f"{role} {queue} waiting" for role, points in sorted(series.items()) for _, queue in points)
            notes.append(f'<p class="caption">Queue length per role, {escape(mode)} replay: '
                         + (f"a queue formed in one hour only, {_moment(hours[0])}: {escape(where)}." if hours else
                            "no ticket ever waited in a queue.") + "</p>")
    scheduled = {mode: r.followups for mode, r in runs.items() if r.followups["scheduled"]}
    if scheduled:
        charts.append(grouped_bars("Follow-ups (share of those scheduled)", [
            (state, [scheduled[mode][state] / scheduled[mode]["scheduled"] if mode in scheduled else None for mode in runs])
            for state in ("due", "done", "late")], list(runs), [COLOURS.get(mode, "#999") for mode in runs]))
    else:
        notes.append('<p class="caption">Follow-ups: none scheduled.</p>')
    return "<h3>Queues and follow-ups</h3>" + "".join(notes) + _layout(wide, charts)


def _rate(table: dict, dimension: str, value: str) -> Optional[float]:
    return (table["all"]["all"] if value == "all" else table[dimension].get(value, {})).get("rate")


def _log_resolution(result: SimulationResult) -> dict:
    """The log's resolution times by priority, from the records of the replay's counted tickets (the back-test has them overall only)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for flight in result.flights.values():
        record = flight.record
        if record.resolved and (result.scope is None or result.scope.counts(record.created)):
            groups[record.priority].append((record.resolved - record.created).total_seconds() / 60)
    return {priority: stats(values) for priority, values in groups.items()}


def _resolution_table(org: Org, log: Optional[dict], runs: dict[str, SimulationResult]) -> str:
    """Resolution time p50, p90 and p99 per priority, each source in its own columns."""
    tables = {"log": {"all": log["resolution_minutes"]["all"]} | _log_resolution(runs["as-is"])} if log and "as-is" in runs else {}
    tables |= {mode: {"all": r.resolution_minutes["all"]} | r.resolution_minutes["priority"] for mode, r in runs.items()}
    priorities = ["all"] + _ordered({p for table in tables.values() for p in table if p != "all"}, org.info.priorities)
    head = ('<tr><th rowspan="2">priority</th>' + "".join(f'<th colspan="4">{escape(source)}</th>' for source in tables)
            + "</tr><tr>" + '<th class="num">n</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th>' * len(tables) + "</tr>")
    rows = "".join(f"<tr><td>{escape(priority)}</td>" + "".join(
        f'<td class="num">{table.get(priority, {}).get("n", 0)}</td>'
        + "".join(f'<td class="num">{_duration(table.get(priority, {}).get(q))}</td>' for q in ("p50", "p90", "p99"))
        for table in tables.values()) + "</tr>" for priority in priorities)
    return (f'<table id="resolution"><caption>Resolution time from arrival by priority (tickets resolved)</caption><thead>{head}</thead><tbody>{rows}</tbody></table>')


def _open_at_end(log: Optional[dict], runs: dict[str, SimulationResult]) -> str:
    """Tickets not resolved when the replay ends, by where they are: counted, never hidden."""
    columns = (("total", "open"), ("queued", "queued"), ("in_hand", "in hand"), ("waiting_on_customer", "waiting on the customer"),
               ("never_assigned", "never assigned"))
    rows = [f'<tr><td>log</td><td class="num">{log["unresolved"]}</td>' + '<td class="num muted">–</td>' * 4 + "</tr>"] if log else []
    rows += [f"<tr><td>{escape(mode)}</td>" + "".join(f'<td class="num">{r.open_at_end[key]}</td>' for key, _ in columns) + "</tr>"
             for mode, r in runs.items()]
    head = "<tr><th></th>" + "".join(f'<th class="num">{label}</th>' for _, label in columns) + "</tr>"
    return (f'<table id="open-at-end"><caption>Open at the end (counted tickets not resolved)</caption><thead>{head}</thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _waits(org: Org, runs: dict[str, SimulationResult]) -> str:
    """Per role, how long tickets waited until an agent took them (untaken: left the queue or still in it), and utilisation."""
    roles = _ordered((role for r in runs.values() for role in set(r.waits_by_role) | set(r.roles)), _role_ids(org))
    head = ('<tr><th rowspan="2">role</th>' + "".join(f'<th colspan="4">{escape(mode)}</th>' for mode in runs) + "</tr><tr>"
            + '<th class="num">p50</th><th class="num">p90</th><th class="num">untaken</th><th>utilisation</th>' * len(runs) + "</tr>")

    def cells(mode: str, result: SimulationResult, role: str) -> str:
        waits, share = result.waits_by_role.get(role, {}), result.roles.get(role, {}).get("utilisation")
        meter = ("–" if share is None else f'<span class="meter"><span style="width:{min(share, 1) * 100:.0f}%;'
                 f'background:{COLOURS.get(mode, "#999")}"></span></span>{share * 100:.1f}%')
        return (f'<td class="num">{_duration(waits.get("p50"))}</td><td class="num">{_duration(waits.get("p90"))}</td>'
                f'<td class="num">{waits.get("untaken", 0)}</td><td>{meter}</td>')

    rows = "".join(f"<tr><td>{escape(role)}</td>" + "".join(cells(mode, r, role) for mode, r in runs.items()) + "</tr>" for role in roles)
    return (f'<table id="waits"><caption>Waits until an agent takes the ticket (p50, p90; untaken: moved on or still queued), and '
            f"utilisation (held time over shift time)</caption><thead>{head}</thead><tbody>{rows}</tbody></table>")


def _staffing(org: Org, result: SimulationResult, target: ServiceTarget) -> str:
    """One step chart per role: agents on shift against agents needed, hour by hour of the week."""
    figures = []
    for curve in staffing_curves(org, result, target):
        role = org.role(curve.role)
        if curve.needed is None:
            verdict = "no agent ever took a ticket: no handling time for Erlang C"
        elif curve.short:
            hours = len(curve.short)
            verdict = f'<span class="bad">short {hours} hour{"s" * (hours != 1)} of the week</span>, needs up to {max(curve.needed)}'
        else:
            verdict = '<span class="ok">enough agents on shift in every hour</span>'
        caption = (f"<b>{escape(role.name)}</b> <code>{escape(curve.role)}</code><br>{curve.tickets} tickets · capacity {curve.capacity}"
                   f" · a ticket holds a place {_duration(curve.handling_minutes)} · {verdict}")
        figures.append(f'<figure class="curve" data-role="{escape(curve.role)}" style="width:{WIDE // 2 - 20}px">'
                       f"<figcaption>{caption}</figcaption>{staffing_curve(curve.needed, curve.staffed, width=WIDE // 2 - 20)}</figure>")
    legend = ('<p class="caption"><span class="swatch" style="background:#c6dbef;border:1px solid #2171b5"></span>agents on shift'
              '<span class="swatch" style="background:#b3261e;height:3px;vertical-align:3px"></span>agents needed (Erlang C)'
              '<span class="swatch" style="background:#e15759;opacity:.55"></span>short: fewer on shift than needed'
              " · hover an hour for its numbers</p>")
    return (f'<h3 id="staffing-curves">Staffing curve: agents needed for {escape(str(target))} against agents on shift, per hour of '
            f"the week</h3><p class=\"muted\">Erlang C on the arrivals at each role per hour of the week and the time a ticket holds "
            f"an agent's place, as the {escape(result.mode)} replay measured them ({escape(org.info.timezone)}).</p>{legend}"
            + (f'<div class="grid">{"".join(figures)}</div>' if figures else "<p>No ticket reached any role.</p>"))
