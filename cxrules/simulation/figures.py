"""The figures of a replay: what each ticket went through (:class:`Flight`) folded into a :class:`SimulationResult`.

Figures count the tickets that arrived within the window (after the warm-up); utilisation is
the agents' held time within that window over their shift time in it. Nothing is hidden:
tickets still queued, in hand or waiting when the replay ends, and tickets nobody ever
took, are counted under ``open_at_end``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Iterable, Optional
from zoneinfo import ZoneInfo

from ..calendars import BusinessCalendar, hour_start, in_zone
from ..fastcalls import bisect_right
from ..model import Org
from .history import TicketRecord
from .journeys import Journey, Phase

__all__ = ["Flight", "Window", "SimulationResult", "summarise", "stats", "percentile", "wip_series", "hour_of_week",
           "DIMENSIONS", "attainment_table"]

DIMENSIONS: Final = ("priority", "segment", "channel", "category")


@dataclass(init=False, slots=True)
class Flight:
    """One ticket on its way through the replay.

    Its ``__init__`` is written out, not the dataclass's: that one is made at run time, so it is interpreted even where
    this module is compiled (8,300 instructions a ticket, against a few hundred).
    """

    record: TicketRecord
    journey: Journey
    generation: int
    """Bumped when the ticket moves on: agenda entries of an older generation are ignored."""
    expected_role: Optional[str]
    role: Optional[str]
    phases: Optional[list[Phase]]
    agent: Optional[str]
    phase_started: Optional[datetime]
    paused: bool
    entered_role_at: Optional[datetime]
    holding_since: Optional[datetime]
    first_assigned_at: Optional[datetime]
    first_resolved_at: Optional[datetime]
    resolved_at: Optional[datetime]
    resolved_by: Optional[str]
    responded: bool
    reopened: int
    moves: int
    moves_by_escalation: int
    escalated: bool
    fallback: bool
    has_sla: bool
    breached: set
    waits: list
    """(role, entered, until, taken) for each time the ticket came to a role: taken by an agent at ``until``, or
    not (it moved on, by escalation, or the replay ended, at ``until``)."""
    holdings: list
    """(agent, role, from, to): the ticket took one of the agent's places for that time."""

    def __init__(self, record: TicketRecord, journey: Journey, generation: int = 0, expected_role: Optional[str] = None,
                 role: Optional[str] = None, phases: Optional[list[Phase]] = None, agent: Optional[str] = None,
                 phase_started: Optional[datetime] = None, paused: bool = False, entered_role_at: Optional[datetime] = None,
                 holding_since: Optional[datetime] = None, first_assigned_at: Optional[datetime] = None,
                 first_resolved_at: Optional[datetime] = None, resolved_at: Optional[datetime] = None,
                 resolved_by: Optional[str] = None, responded: bool = False, reopened: int = 0, moves: int = 0,
                 moves_by_escalation: int = 0, escalated: bool = False, fallback: bool = False, has_sla: bool = False,
                 breached: Optional[set] = None, waits: Optional[list] = None, holdings: Optional[list] = None) -> None:
        """The dataclass's signature, but None for a new set or list (a test checks that it holds every field)."""
        self.record, self.journey, self.generation, self.expected_role, self.role = record, journey, generation, expected_role, role
        self.phases, self.agent, self.phase_started, self.paused = phases, agent, phase_started, paused
        self.entered_role_at, self.holding_since, self.first_assigned_at = entered_role_at, holding_since, first_assigned_at
        self.first_resolved_at, self.resolved_at, self.resolved_by = first_resolved_at, resolved_at, resolved_by
        self.responded, self.reopened, self.moves, self.moves_by_escalation = responded, reopened, moves, moves_by_escalation
        self.escalated, self.fallback, self.has_sla = escalated, fallback, has_sla
        self.breached = set() if breached is None else breached
        self.waits = [] if waits is None else waits
        self.holdings = [] if holdings is None else holdings

    def assigned(self, agent: Optional[str], role: str, at: datetime) -> None:
        self.agent, self.role, self.holding_since, self.phase_started = agent, role, at, None
        self.waits.append((role, self.entered_role_at or self.record.created, at, True))
        if self.first_assigned_at is None:
            self.first_assigned_at = at

    def close_holding(self, at: datetime) -> None:
        if self.agent is not None and self.holding_since is not None:
            self.holdings.append((self.agent, self.role, self.holding_since, at))
        self.holding_since = None

    def left_untaken(self, at: datetime) -> None:
        """The ticket leaves its role's queue (or the replay ends) before anyone of the role took it: a wait that counts."""
        if self.agent is None and self.role is not None and self.resolved_at is None and self.entered_role_at is not None:
            self.waits.append((self.role, self.entered_role_at, at, False))

    def let_go(self, at: datetime) -> None:
        """The agent lets the ticket go (it moves on or is resolved): work under way is no longer theirs."""
        self.close_holding(at)
        self.generation += 1  # agenda entries of the agent's work no longer count
        self.agent, self.phase_started = None, None

    def resolved(self, at: datetime) -> None:
        if self.first_resolved_at is None:
            self.first_resolved_at, self.resolved_by = at, self.role
        self.resolved_at = at


@dataclass(frozen=True)
class Window:
    """Which tickets count (arrived in [counted_from, to]) and the time utilisation is measured over."""

    start: Optional[datetime]
    counted_from: Optional[datetime]
    to: Optional[datetime]

    @classmethod
    def of(cls, first: Optional[datetime], last_arrival: Optional[datetime], replay_end: Optional[datetime], window,
           warm_up: timedelta) -> "Window":
        """By default from the first arrival to the last (to the replay's end if they all came at once)."""
        begin, end = window or (None, None)
        begin = begin or first
        end = end or (last_arrival if last_arrival and begin and last_arrival > begin + warm_up else replay_end)
        return cls(begin, begin + warm_up if begin else None, end)

    def counts(self, moment: datetime) -> bool:
        return (self.counted_from is None or moment >= self.counted_from) and (self.to is None or moment <= self.to)


def percentile(values: list[float], share: float) -> Optional[float]:
    """Nearest-rank percentile of ``values`` (unsorted), rounded to a tenth."""
    return _ranked(sorted(values), share)


def _ranked(ordered: list[float], share: float) -> Optional[float]:
    """:func:`percentile` of values already sorted."""
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, int(round(share * (len(ordered) - 1)))))
    return round(ordered[index], 1)


def stats(values: list[float]) -> dict:
    """Count, p50, p90, p99 and mean of minutes (the values sorted once for all three)."""
    ordered = sorted(values)
    return {"n": len(values), "p50": _ranked(ordered, 0.5), "p90": _ranked(ordered, 0.9), "p99": _ranked(ordered, 0.99),
            "mean": round(statistics.fmean(values), 1) if values else None}


def _share(met: int, total: int) -> dict:
    return {"met": met, "total": total, "rate": round(met / total, 4) if total else None}


def attainment_table(items: Iterable[tuple[TicketRecord, set]]) -> dict:
    """SLA attainment overall and per dimension, from (record, targets breached) of the tickets an SLA covers."""
    items = list(items)
    groupings = {"all": {"all": [breached for _, breached in items]}}
    for dimension in DIMENSIONS:  # grouped once for both targets
        groups: dict[str, list[set]] = defaultdict(list)
        for record, breached in items:
            groups[getattr(record, dimension)].append(breached)
        groupings[dimension] = dict(sorted(groups.items()))
    return {target: {dimension: {value: _share(sum(target not in breached for breached in group), len(group)) for value, group in groups.items()}
                     for dimension, groups in groupings.items()}
            for target in ("first_response", "resolution")}


def _local(moment: Optional[datetime], zone: ZoneInfo) -> Optional[datetime]:
    """A moment as the org's clock shows it (the replay works in UTC)."""
    return in_zone(moment, zone) if moment is not None else None


def _local_text(moment: Optional[datetime], zone: ZoneInfo) -> Optional[str]:
    local = _local(moment, zone)
    return local.isoformat() if local is not None else None


def hour_of_week(moment: datetime, zone: ZoneInfo) -> int:
    local = in_zone(moment, zone)
    return local.weekday() * 24 + local.hour


def wip_series(spans: Iterable[tuple[datetime, Optional[datetime]]], start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[str, int]]:
    """Tickets open (arrived, not yet resolved) at each whole hour of ``zone`` from ``start`` to ``end``, told in ``zone``.
    The hours are stepped in UTC: a wall clock's step would repeat or skip one where the clock changes."""
    spans = list(spans)
    opened = sorted(s for s, _ in spans)
    closed = sorted(e for _, e in spans if e is not None)
    hour = hour_start(start, zone) + timedelta(hours=1)
    series: list[tuple[str, int]] = []
    while hour <= end and len(series) < 24 * 366:
        series.append((hour.astimezone(zone).isoformat(), bisect_right(opened, hour) - bisect_right(closed, hour)))
        hour += timedelta(hours=1)
    return series


@dataclass(frozen=True)
class SimulationResult:
    """Figures of one replay: SLA attainment, resolution times, waits, load, moves, escalations, follow-ups, what is left open."""

    org: str
    mode: str
    escalation: str
    tickets: int
    counted: int
    start: Optional[datetime]
    end: Optional[datetime]
    window: dict
    attainment: dict
    resolution_minutes: dict
    waits_minutes: dict
    waits_by_role: dict
    roles: dict
    open_at_end: dict
    moves: dict
    queue_series: list
    wip_series: list
    arrivals_by_hour_of_week: list
    escalations: dict
    followups: dict
    surges: list
    fallback: int
    refused: dict
    unmapped: dict
    role_waits: dict = field(default_factory=dict, repr=False)
    """Per role, the waits (minutes) of counted tickets until an agent of the role took them."""
    role_untaken: dict = field(default_factory=dict, repr=False)
    """Per role, how long counted tickets waited there before leaving untaken (escalated on, or still queued at the end)."""
    role_arrivals: dict = field(default_factory=dict, repr=False)
    """Per role, arrivals (first comers and moves) per hour of week, averaged per week of the window."""
    role_handling: dict = field(default_factory=dict, repr=False)
    """Per role, the mean time a ticket holds one of an agent's places, in the agent's shift time (minutes): the handling
    time of Erlang C."""
    scope: Optional[Window] = field(default=None, repr=False)
    """The window as an object: :meth:`Window.counts` says whether a ticket arriving at a moment is counted."""
    flights: dict = field(default_factory=dict, repr=False)
    """Every ticket's :class:`Flight`, by id, when asked for (``keep_flights``): for tests and deeper analysis."""

    def service_level(self, role: str, within: timedelta) -> Optional[float]:
        """Share of the role's tickets taken by an agent within ``within`` of reaching it (None: no ticket came)."""
        waits, untaken = self.role_waits.get(role, []), self.role_untaken.get(role, [])
        arrived = len(waits) + len(untaken)
        return sum(w <= within.total_seconds() / 60 for w in waits) / arrived if arrived else None

    def arrived(self, role: str) -> int:
        """Times counted tickets came to the role, taken by an agent there or not."""
        return len(self.role_waits.get(role, [])) + len(self.role_untaken.get(role, []))

    @property
    def roles_reached(self) -> list[str]:
        """Roles that tickets came to."""
        return sorted(set(self.role_waits) | set(self.role_untaken))

    def to_dict(self) -> dict:
        return {
            "org": self.org, "mode": self.mode, "escalation": self.escalation, "tickets": self.tickets, "counted": self.counted,
            "start": self.start.isoformat() if self.start else None, "end": self.end.isoformat() if self.end else None,
            "window": self.window, "sla_attainment": self.attainment, "resolution_minutes": self.resolution_minutes,
            "waits_minutes": self.waits_minutes, "waits_by_role": self.waits_by_role, "roles": self.roles,
            "open_at_end": self.open_at_end, "moves": self.moves, "escalations_by_level": self.escalations,
            "followups": self.followups, "surges": self.surges, "fallback_queue": self.fallback, "refused": self.refused,
            "unmapped": self.unmapped, "arrivals_by_hour_of_week": self.arrivals_by_hour_of_week,
        }


def _minutes(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


def summarise(org: Org, engine, flights: Iterable[Flight], tally, window: Window, mode: str, escalation: str, unmapped,
              keep_flights: bool = False) -> SimulationResult:
    """Fold the flights of a finished replay (``engine`` gives calendars and teams, ``tally`` the run's counts)."""
    flights = list(flights)
    end = tally.end
    counted = [f for f in flights if window.counts(f.record.created)]
    zone = ZoneInfo(org.info.timezone)
    first_waits: list[float] = []
    role_waits: dict[str, list[float]] = defaultdict(list)
    role_untaken: dict[str, list[float]] = defaultdict(list)
    for flight in counted:
        for role, entered, until, taken in flight.waits:
            (role_waits if taken else role_untaken)[role].append(_minutes(entered, until))
        if flight.first_assigned_at is not None:
            first_waits.append(_minutes(flight.record.created, flight.first_assigned_at))
        elif flight.role is not None and end is not None:
            first_waits.append(_minutes(flight.record.created, end))  # never taken: it waited all that time
    resolved = [(f, _minutes(f.record.created, f.first_resolved_at)) for f in counted if f.first_resolved_at]
    resolution: dict = {"all": stats([minutes for _, minutes in resolved])}
    for dimension in ("priority", "segment", "category", "role"):
        groups = defaultdict(list)
        for f, minutes in resolved:
            groups[f.resolved_by if dimension == "role" else getattr(f.record, dimension)].append(minutes)
        resolution[dimension] = {value: stats(values) for value, values in sorted(groups.items(), key=lambda kv: str(kv[0]))}
    still_open = [f for f in counted if f.resolved_at is None]
    open_at_end = {
        "total": len(still_open),
        "queued": sum(f.agent is None for f in still_open),
        "in_hand": sum(f.agent is not None and not f.paused for f in still_open),
        "waiting_on_customer": sum(f.agent is not None and f.paused for f in still_open),
        "never_assigned": sum(f.first_assigned_at is None for f in counted),
        "examples": [f.record.id for f in still_open[:5]],
    }
    weeks = max(1.0, (window.to - window.counted_from).total_seconds() / (7 * 86400)) if window.to and window.counted_from else 1.0
    arrivals_by_hour = [0] * 168
    role_arrivals: dict[str, list[float]] = defaultdict(lambda: [0.0] * 168)
    for f in counted:
        arrivals_by_hour[hour_of_week(f.record.created, zone)] += 1
        for role, entered, _, _ in f.waits:
            role_arrivals[role][hour_of_week(entered, zone)] += 1 / weeks
    roles = _roles(org, engine, counted, tally.queue_peaks, window, set(role_waits) | set(role_untaken))
    return SimulationResult(
        org=org.info.id, mode=mode, escalation=escalation, tickets=len(flights), counted=len(counted),
        start=_local(window.start, zone), end=_local(end, zone),
        window={"from": _local_text(window.start, zone), "counted_from": _local_text(window.counted_from, zone), "to": _local_text(window.to, zone)},
        attainment=attainment_table((f.record, f.breached) for f in counted if f.has_sla),
        resolution_minutes=resolution, waits_minutes=stats(first_waits),
        waits_by_role={role: stats(role_waits.get(role, []) + role_untaken.get(role, []))
                       | {"untaken": len(role_untaken.get(role, []))} for role in sorted(set(role_waits) | set(role_untaken))},
        roles=roles, open_at_end=open_at_end,
        moves={"reassigned": sum(f.moves > 0 for f in counted), "reassigned_share": _rate(sum(f.moves > 0 for f in counted), len(counted)),
               "escalated": sum(f.escalated for f in counted), "escalated_share": _rate(sum(f.escalated for f in counted), len(counted)),
               "moved_by_escalation": sum(f.moves_by_escalation for f in counted), "started_elsewhere": tally.started_elsewhere,
               "reopened": sum(f.reopened > 0 for f in counted), "routes_cut_short": len(tally.truncated)},
        queue_series=[{"hour": _local_text(hour, zone), "role": role, "queue": length} for (hour, role), length in sorted(tally.queue_peaks.items())],
        wip_series=wip_series(((f.record.created, f.first_resolved_at) for f in counted), window.counted_from, window.to, zone)
        if window.counted_from and window.to else [],
        arrivals_by_hour_of_week=arrivals_by_hour,
        escalations={str(level): count for level, count in sorted(tally.escalations.items())},
        followups=dict(tally.followups), surges=tally.surges, fallback=sum(f.fallback for f in flights), refused=dict(tally.refused),
        unmapped={"total": unmapped.total, "reasons": dict(unmapped.reasons), "examples": unmapped.examples} if unmapped else
        {"total": 0, "reasons": {}, "examples": {}},
        role_waits=dict(role_waits), role_untaken=dict(role_untaken), role_arrivals=dict(role_arrivals),
        scope=window, flights={f.record.id: f for f in flights} if keep_flights else {},
        role_handling={role: value["mean_handling_minutes"] for role, value in roles.items() if value["mean_handling_minutes"] is not None})


def _rate(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def _roles(org: Org, engine, counted: list[Flight], queue_peaks: dict, window: Window, reached: set) -> dict:
    """Per role: tickets taken, mean handling (shift time), utilisation within the window, longest queue."""
    shift_of: dict[str, BusinessCalendar] = {agent.id: engine.calendars[agent.shift] for team in engine.agents.values() for agent in team}
    busy: dict[str, float] = defaultdict(float)
    held: dict[str, list[float]] = defaultdict(list)
    for flight in counted:
        for agent, role, since, until in flight.holdings:  # held time counts within the agent's shift, as work does
            shift = shift_of.get(agent)
            if shift is None:
                held[role].append(_minutes(since, until))
                continue
            worked = shift.between_micros(since, until) / 1_000_000  # in seconds, as total_seconds() gives them
            held[role].append(worked / 60)
            if window.counted_from and window.to:
                begin, end = max(since, window.counted_from), min(until, window.to)
                if end > begin:  # most holdings lie inside the window: their working time is already known
                    busy[role] += worked if begin is since and end is until else shift.between_micros(begin, end) / 1_000_000
    roles = {}
    for role in org.roles:
        available = 0.0
        if window.counted_from and window.to and window.to > window.counted_from:
            for group in role.staff:
                available += engine.calendars[group.shift].between(window.counted_from, window.to).total_seconds() * group.agents * role.capacity
        peak = max((length for (_, r), length in queue_peaks.items() if r == role.id), default=0)
        if held[role.id] or peak or role.id in reached:
            roles[role.id] = {
                "assigned": len(held[role.id]),
                "mean_handling_minutes": round(statistics.fmean(held[role.id]), 1) if held[role.id] else None,
                "utilisation": round(busy[role.id] / available, 4) if available else None,
                "max_queue": peak,
            }
    return roles
