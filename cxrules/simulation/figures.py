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
from datetime import datetime, timedelta, tzinfo
from typing import Final, Iterable, Optional
from zoneinfo import ZoneInfo

from ..calendars import HOUR_MICROS, BusinessCalendar, HourOfWeek, hour_start, in_zone, micros, utc_moment
from ..engine.frozen import written_once
from ..fastcalls import COMPILED, ints_bisect_right
from ..model import Org
from .history import TicketRecord
from .journeys import Journey, Phase

__all__ = ["Flight", "Wait", "Holding", "Window", "SimulationResult", "summarise", "stats", "percentile", "wip_series",
           "DIMENSIONS", "attainment_table"]

DIMENSIONS: Final = ("priority", "segment", "channel", "category")


@dataclass(init=False, unsafe_hash=True)
class Wait:
    """A time a ticket came to a role: it entered the role's queue at ``entered`` and was taken by one of the role's agents
    at ``until`` (``taken``), or was not (it moved on, by escalation, or the replay ended, at ``until``). ``entered_micros``
    and ``until_micros``: the moments' :func:`~cxrules.calendars.micros`, kept when they were current, for the figures.

    Its fields are final and its ``__init__`` written out, as a :class:`~.journeys.Phase`'s are (a ticket makes one or
    more)."""

    role: Final[str]
    entered: Final[datetime]
    until: Final[datetime]
    taken: Final[bool]
    entered_micros: Final[int]
    until_micros: Final[int]

    def __init__(self, role: str, entered: datetime, until: datetime, taken: bool, entered_micros: int, until_micros: int) -> None:
        self.role = role
        self.entered = entered
        self.until = until
        self.taken = taken
        self.entered_micros = entered_micros
        self.until_micros = until_micros


@dataclass(init=False, unsafe_hash=True)
class Holding:
    """A ticket held one of ``agent``'s places (as one of ``role``) from ``since`` to ``until``; ``since_micros`` and
    ``until_micros`` as a :class:`Wait`'s."""

    agent: Final[str]
    role: Final[Optional[str]]
    since: Final[datetime]
    until: Final[datetime]
    since_micros: Final[int]
    until_micros: Final[int]

    def __init__(self, agent: str, role: Optional[str], since: datetime, until: datetime, since_micros: int, until_micros: int) -> None:
        self.agent = agent
        self.role = role
        self.since = since
        self.until = until
        self.since_micros = since_micros
        self.until_micros = until_micros


if not COMPILED:  # compiled, a Final field is neither set nor deleted from outside; interpreted, this sees to it
    written_once(Wait)
    written_once(Holding)


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
    waits: list[Wait]
    """Each time the ticket came to a role."""
    holdings: list[Holding]
    """Each time the ticket took one of an agent's places."""
    created_micros: int = field(init=False, repr=False, compare=False)
    entered_role_micros: int = field(init=False, repr=False, compare=False)
    holding_since_micros: int = field(init=False, repr=False, compare=False)
    first_assigned_micros: int = field(init=False, repr=False, compare=False)
    first_resolved_micros: int = field(init=False, repr=False, compare=False)
    """The :func:`~cxrules.calendars.micros` of the record's arrival and of the moments above (0 until first set; a
    holding's stays when it closes, and is read only while ``holding_since`` is set), kept when they were current: the
    figures read them long after, when working them out afresh would cost more than the rest of the figures. Kept in step
    by the methods that set the moments (:meth:`enter_role`, :meth:`assigned`, :meth:`resolved`)."""

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
        self.created_micros = micros(record.created)
        self.entered_role_micros = _micros_or_zero(entered_role_at)
        self.holding_since_micros = _micros_or_zero(holding_since)
        self.first_assigned_micros = _micros_or_zero(first_assigned_at)
        self.first_resolved_micros = _micros_or_zero(first_resolved_at)

    def enter_role(self, expected_role: Optional[str], at: datetime) -> None:
        """The ticket is on its way to a role (``expected_role``; None: whichever the engine says) from ``at``: its wait there
        starts."""
        self.expected_role, self.entered_role_at, self.entered_role_micros = expected_role, at, micros(at)

    def assigned(self, agent: Optional[str], role: str, at: datetime) -> None:
        count = micros(at)
        self.agent, self.role, self.holding_since, self.holding_since_micros, self.phase_started = agent, role, at, count, None
        if self.entered_role_at is None:  # a flight made by hand: its wait counts from the ticket's arrival
            self.waits.append(Wait(role, self.record.created, at, True, self.created_micros, count))
        else:
            self.waits.append(Wait(role, self.entered_role_at, at, True, self.entered_role_micros, count))
        if self.first_assigned_at is None:
            self.first_assigned_at, self.first_assigned_micros = at, count

    def close_holding(self, at: datetime) -> None:
        if self.agent is not None and self.holding_since is not None:
            self.holdings.append(Holding(self.agent, self.role, self.holding_since, at, self.holding_since_micros, micros(at)))
        self.holding_since = None

    def left_untaken(self, at: datetime) -> None:
        """The ticket leaves its role's queue (or the replay ends) before anyone of the role took it: a wait that counts."""
        if self.agent is None and self.role is not None and self.resolved_at is None and self.entered_role_at is not None:
            self.waits.append(Wait(self.role, self.entered_role_at, at, False, self.entered_role_micros, micros(at)))

    def let_go(self, at: datetime) -> None:
        """The agent lets the ticket go (it moves on or is resolved): work under way is no longer theirs."""
        self.close_holding(at)
        self.generation += 1  # agenda entries of the agent's work no longer count
        self.agent, self.phase_started = None, None

    def resolved(self, at: datetime) -> None:
        if self.first_resolved_at is None:
            self.first_resolved_at, self.first_resolved_micros, self.resolved_by = at, micros(at), self.role
        self.resolved_at = at


def _micros_or_zero(moment: Optional[datetime]) -> int:
    return 0 if moment is None else micros(moment)


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


def wip_series(spans: Iterable[tuple[datetime, Optional[datetime]]], start: datetime, end: datetime, zone: tzinfo) -> list[tuple[str, int]]:
    """Tickets open (arrived, not yet resolved) at each whole hour of ``zone`` from ``start`` to ``end``, told in ``zone``."""
    opened: list[int] = []
    closed: list[int] = []
    for arrived, resolved in spans:
        opened.append(micros(arrived))
        if resolved is not None:
            closed.append(micros(resolved))
    return _open_each_hour(opened, closed, start, end, zone)


def _open_each_hour(opened: list[int], closed: list[int], start: datetime, end: datetime, zone: tzinfo) -> list[tuple[str, int]]:
    """:func:`wip_series` of tickets that arrived at ``opened`` and were resolved at ``closed`` (µs since the epoch, in any
    order). The hours are stepped in UTC: a wall clock's step would repeat or skip one where the clock changes."""
    opened, closed = sorted(opened), sorted(closed)
    hour, last = micros(hour_start(start, zone)) + HOUR_MICROS, micros(end)
    series: list[tuple[str, int]] = []
    while hour <= last and len(series) < 24 * 366:
        open_now = ints_bisect_right(opened, hour, 0, len(opened)) - ints_bisect_right(closed, hour, 0, len(closed))
        series.append((in_zone(utc_moment(hour), zone).isoformat(), open_now))
        hour += HOUR_MICROS
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


def _minutes(since: int, until: int) -> float:
    """The minutes from one moment to another, given in µs: ``(until - since).total_seconds() / 60`` of the moments, float
    for float (µs over a million, then over sixty) for spans under 2**53 µs, 285 years; compiled, a longer one is made a
    float before it is divided, a rounding more (the engine takes the years 1970 to 2100)."""
    return (until - since) / 1_000_000 / 60


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
    end_micros = micros(end) if end is not None else 0
    for flight in counted:
        for wait in flight.waits:
            (role_waits if wait.taken else role_untaken)[wait.role].append(_minutes(wait.entered_micros, wait.until_micros))
        if flight.first_assigned_at is not None:
            first_waits.append(_minutes(flight.created_micros, flight.first_assigned_micros))
        elif flight.role is not None and end is not None:
            first_waits.append(_minutes(flight.created_micros, end_micros))  # never taken: it waited all that time
    resolved = [(f, _minutes(f.created_micros, f.first_resolved_micros)) for f in counted if f.first_resolved_at]
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
    hours = HourOfWeek(zone)
    for f in counted:
        arrivals_by_hour[hours.of(f.created_micros)] += 1
        for wait in f.waits:
            role_arrivals[wait.role][hours.of(wait.entered_micros)] += 1 / weeks
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
        wip_series=_open_each_hour([f.created_micros for f in counted], [f.first_resolved_micros for f in counted if f.first_resolved_at],
                                   window.counted_from, window.to, zone) if window.counted_from and window.to else [],
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
    busy: dict[Optional[str], float] = defaultdict(float)
    held: dict[Optional[str], list[float]] = defaultdict(list)
    for flight in counted:
        for holding in flight.holdings:  # held time counts within the agent's shift, as work does
            held_as, since, until = holding.role, holding.since, holding.until
            shift = shift_of.get(holding.agent)
            if shift is None:
                held[held_as].append(_minutes(holding.since_micros, holding.until_micros))
                continue
            worked = shift.between_counted(since, until, holding.since_micros, holding.until_micros) / 1_000_000  # in seconds, as total_seconds() gives them
            held[held_as].append(worked / 60)
            if window.counted_from and window.to:
                begin, end = max(since, window.counted_from), min(until, window.to)
                if end > begin:  # most holdings lie inside the window: their working time is already known
                    busy[held_as] += worked if begin is since and end is until else shift.between_micros(begin, end) / 1_000_000
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
