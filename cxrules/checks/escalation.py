"""Escalation paths: loops, dead ends, limits longer than the SLA, levels nobody staffs."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Iterator

import networkx as nx

from ..diagnostics import Related, Severity
from ..calendars import WeekSet
from ..model import WorkingDays, format_duration
from . import CheckContext, Finding, describe_dates, describe_times, on_dates, register


def _then_graph(context: CheckContext) -> nx.DiGraph:
    graph = nx.DiGraph()
    for path in context.org.escalations:
        graph.add_node(path.id)
        if path.then:
            graph.add_edge(path.id, path.then)
    return graph


@register("CX501", "escalation-cycle", Severity.ERROR)
def escalation_cycle(context: CheckContext) -> Iterator[Finding]:
    """Escalation paths that continue into each other in a loop (`then`).

    A breached ticket would circle for ever and never reach an authority.

    Failing::

        escalations:
          - {id: a, levels: [{role: lead, within: 1h}], then: b}
          - {id: b, levels: [{role: supervisor, within: 1h}], then: a}

    Passing: the last path ends at a role with `authority: true` and has no `then`.
    """
    for cycle in nx.simple_cycles(_then_graph(context)):
        start = min(cycle)
        ordered = cycle[cycle.index(start):] + cycle[:cycle.index(start)]
        path = next(p for p in context.org.escalations if p.id == start)
        yield Finding(f"escalation paths loop: {' → '.join(ordered + [start])}", path.source.at("then"),
                      hint="end one of the paths at an authority instead of continuing with `then`", subject=start)


@register("CX502", "escalation-dead-end", Severity.ERROR)
def escalation_dead_end(context: CheckContext) -> Iterator[Finding]:
    """An escalation path ends at a role without authority.

    The last level of a path (after following `then`) must be a role that can decide,
    marked `authority: true`; otherwise escalation stops below anyone who can act.

    Failing::

        roles: [{id: lead, name: Team lead, unit: ops}]
        escalations: [{id: complaints, levels: [{role: lead}]}]

    Passing::

        roles: [{id: manager, name: Centre manager, unit: ops, authority: true}]
        escalations: [{id: complaints, levels: [{role: lead, within: 2h}, {role: manager}]}]
    """
    graph = _then_graph(context)
    for path in context.org.escalations:
        if path.then:
            continue  # judged where the chain ends
        last = path.levels[-1].role
        if not context.org.role(last).authority:
            yield Finding(f"escalation path `{path.id}` ends at `{last}`, which has no authority",
                          path.source.at("levels", len(path.levels) - 1, "role"),
                          hint=f"add a last level with a role that has `authority: true`, or mark `{last}` so",
                          related=tuple(Related(p.source.at("then"), f"`{p.id}` continues into it")
                                        for p in context.org.escalations if p.id in graph.predecessors(path.id)),
                          subject=path.id)


def _open_time(duration: timedelta, week: WeekSet) -> timedelta:
    """Business time a limit stands for: working days as that many average open days of the calendar's week."""
    if not isinstance(duration, WorkingDays):
        return duration
    return timedelta(minutes=duration.count * week.minutes / max(week.days_open(), 1))


def _chain_limit(context: CheckContext, path_id: str, week: WeekSet) -> tuple[timedelta, list[str]]:
    """Open time until the last level of the chain is called: every limit but the very last one's."""
    limits: list[timedelta] = []
    chain: list[str] = []
    seen: set[str] = set()
    current: str | None = path_id
    while current and current not in seen:
        seen.add(current)
        path = context.org.escalation(current)
        chain.append(current)
        limits.extend(_open_time(level.within or timedelta(0), week) for level in path.levels)
        current = path.then
    return sum(limits[:-1], timedelta(0)), chain


@register("CX503", "escalation-exceeds-sla", Severity.ERROR)
def escalation_exceeds_sla(context: CheckContext) -> Iterator[Finding]:
    """The escalation path of an SLA reaches its last level only after the resolution target has passed.

    The path starts at the first breach: the first-response target when the SLA has one
    (a ticket nobody answers), else the resolution target itself. Counted from there, the
    levels' limits must bring the authority in before the resolution target passes; for an
    SLA without a first-response target, the path must be shorter than the target. Limits
    and targets both count business time; a target in working days (`2wd`) counts as that
    many average open days of the SLA's calendar.

    Failing (the path starts at the 30m first-response breach: the manager hears after 5h30m)::

        slas: [{id: standard, first_response: 30m, resolution: 4h, escalation: complaints}]
        escalations: [{id: complaints, levels: [{role: lead, within: 3h}, {role: supervisor, within: 2h}, {role: manager}]}]

    Passing (the manager hears after 30m + 3h)::

        escalations: [{id: complaints, levels: [{role: lead, within: 1h}, {role: supervisor, within: 2h}, {role: manager}]}]
    """
    for sla in context.org.slas:
        if not sla.escalation or sla.resolution is None:
            continue  # without a resolution target, no authority can hear of it too late
        week = context.hours(sla.calendar)
        total, chain = _chain_limit(context, sla.escalation, week)
        resolution = _open_time(sla.resolution, week)
        start = _open_time(sla.first_response, week) if sla.first_response else timedelta(0)
        if start + total <= resolution:
            continue
        path = context.org.escalation(sla.escalation)
        text = (f"escalation `{' → '.join(chain)}` starts at the {format_duration(sla.first_response, days=False)} first-response breach "
                f"and takes {format_duration(total, days=False)} more to reach its last level: an unanswered ticket reaches it "
                f"{format_duration(start + total - resolution, days=False)} after" if sla.first_response else
                f"escalation `{' → '.join(chain)}` takes {format_duration(total, days=False)} to reach its last level, longer than")
        yield Finding(f"{text} the {format_duration(sla.resolution, days=False)} resolution target of SLA `{sla.id}`",
                      path.source.at("levels"), hint="shorten the levels' `within`, or escalate on a path made for this SLA",
                      related=(Related(sla.source.at("resolution"), f"SLA `{sla.id}` resolution target"),), subject=path.id)


def off_shift(context: CheckContext, calendar: str, role: str) -> WeekSet:
    """Hours the calendar runs and nobody of the role is on shift."""
    return context.hours(calendar) - context.role_hours(role)


@register("CX504", "escalation-level-unstaffed", Severity.WARNING)
def escalation_level_unstaffed(context: CheckContext) -> Iterator[Finding]:
    """An escalation level names a role with nobody on shift when the level can fire.

    A level fires when a deadline on the SLA's calendar passes, so at any hour that calendar
    is open; a role without `staff`, or whose shifts leave some of those hours uncovered,
    has nobody to receive the escalation then. (Paths no SLA starts are judged by staff alone.)

    Failing: an SLA on a 24/7 calendar escalating to a supervisor on shift 08:00–20:00, or to
    a role with no staff at all::

        roles: [{id: supervisor, name: Supervisor, unit: ops, staff: [{shift: day, agents: 1}]}]
        slas: [{id: standard, calendar: always, resolution: 4h, escalation: p}]
        escalations: [{id: p, levels: [{role: supervisor, within: 1h}, {role: manager}]}]

    Passing: a night shift (or an on-call duty) for the supervisor, or the SLA's clock on the day calendar.

    Real dates count too: a clock that keeps running on public holidays escalates to a role whose
    shifts stop then; those findings name the dates (`check --from/--to`).
    """
    firing: dict[str, list[tuple[str, str]]] = {}
    for sla in context.org.slas:
        current, seen = sla.escalation, set()
        while current and current not in seen:  # the path and the paths it continues on fire on this SLA's calendar
            seen.add(current)
            firing.setdefault(current, []).append((sla.id, sla.calendar))
            current = context.org.escalation(current).then
    for path in context.org.escalations:
        for index, level in enumerate(path.levels):
            where = path.source.at("levels", index, "role")
            if not context.org.role(level.role).staff:
                yield Finding(f"level {index + 1} of escalation path `{path.id}` goes to `{level.role}`, which has no staff",
                              where, hint=f"add `staff:` to role `{level.role}`", subject=path.id)
                continue
            hint = f"add a shift (or an on-call duty) to `{level.role}` for those hours, or run the SLA's clock on a calendar `{level.role}` covers"
            for sla_id, calendar in firing.get(path.id, ()):
                gap = off_shift(context, calendar, level.role)
                if gap:
                    yield Finding(f"level {index + 1} of escalation path `{path.id}` can fire whenever SLA `{sla_id}`'s clock runs, "
                                  f"but nobody of `{level.role}` is on shift {gap.describe()}", where, hint=hint, subject=path.id)
                for days, times in on_dates(context, partial(off_shift, calendar=calendar, role=level.role)):
                    yield Finding(f"level {index + 1} of escalation path `{path.id}` can fire on {describe_dates(days)} at "
                                  f"{describe_times(times)}, when SLA `{sla_id}`'s clock runs, but nobody of `{level.role}` is on shift",
                                  where, hint=hint, subject=path.id)
