"""Replay a ticket log through the same :class:`~cxrules.engine.Engine` that services embed.

Arrivals come at their logged times on a virtual clock; resolution times come from the log
where it has them, else from the mapping's service-time model counted from assignment;
follow-up calls are made when they fall due and answered with the logged satisfaction.
Every decision the engine takes is folded into a :class:`SimulationResult`.
"""

from __future__ import annotations

import heapq
import itertools
import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable, Optional

from ..engine import decisions as d
from ..engine import events as e
from ..engine.clock import VirtualClock
from ..engine.engine import Engine
from ..model import Org
from ..performance import paused_gc
from .history import TicketRecord
from .mapping import LogMapping, Unmapped

__all__ = ["SimulationResult", "simulate"]

DIMENSIONS = ("priority", "segment", "channel", "category")


@dataclass
class _Outcome:
    record: TicketRecord
    role: Optional[str] = None
    assigned_at: Optional[datetime] = None
    resolved_at: Optional[datetime] = None
    has_sla: bool = False
    breached: set = field(default_factory=set)
    resolution_pending: bool = False
    """A Resolved event is already on its way (from the log or the service-time model)."""


@dataclass(frozen=True)
class SimulationResult:
    """Figures of one replay: SLA attainment, load, waits, escalations, follow-ups, surges, fallback."""

    org: str
    tickets: int
    start: Optional[datetime]
    end: Optional[datetime]
    attainment: dict
    waits_minutes: dict
    roles: dict
    queue_series: list
    escalations: dict
    followups: dict
    surges: list
    fallback: int
    refused: dict
    unmapped: dict

    def to_dict(self) -> dict:
        return {
            "org": self.org, "tickets": self.tickets,
            "start": self.start.isoformat() if self.start else None, "end": self.end.isoformat() if self.end else None,
            "sla_attainment": self.attainment, "waits_minutes": self.waits_minutes, "roles": self.roles,
            "escalations_by_level": self.escalations, "followups": self.followups,
            "surges": self.surges, "fallback_queue": self.fallback, "refused": self.refused, "unmapped": self.unmapped,
        }


def _percentile(values: list[float], share: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(share * (len(ordered) - 1)))))
    return round(ordered[index], 1)


def _share(met: int, total: int) -> dict:
    return {"met": met, "total": total, "rate": round(met / total, 4) if total else None}


def simulate(org: Org, tickets: Iterable[TicketRecord], mapping: Optional[LogMapping] = None,
             unmapped: Optional[Unmapped] = None, progress: Optional[Callable[[int, int], None]] = None,
             tail: timedelta = timedelta(days=14)) -> SimulationResult:
    """Replay ``tickets`` against ``org`` and measure what happens."""
    with paused_gc():
        return _simulate(org, tickets, mapping, unmapped, progress, tail)


def _simulate(org, tickets, mapping, unmapped, progress, tail) -> SimulationResult:
    records = sorted(tickets, key=lambda r: (r.created, r.row))
    mapping = mapping or LogMapping(fields={}, path="")
    rng = random.Random(mapping.seed)
    start = records[0].created if records else None
    engine = Engine(org, VirtualClock(start or datetime.now().astimezone()))
    outcomes: dict[str, _Outcome] = {}
    pending: list = []
    sequence = itertools.count()
    waits: list[float] = []
    escalations: Counter = Counter()
    followups: Counter = Counter()
    refused: Counter = Counter()
    surges: list[dict] = []
    queue_peaks: dict[tuple[str, str], int] = defaultdict(int)
    fallback = 0

    def push(moment: datetime, event: e.Event) -> None:
        heapq.heappush(pending, (moment.timestamp(), next(sequence), moment, event))

    for record in records:
        outcomes[record.id] = _Outcome(record)
        push(record.created, e.TicketCreated(record.id, category=record.category, channel=record.channel, segment=record.segment,
                                             priority=record.priority, member=record.member, customer_id=record.customer_id, at=record.created))
        if record.first_response:
            push(record.first_response, e.FirstResponse(record.id, at=record.first_response))
        if record.resolved:
            push(record.resolved, e.Resolved(record.id, at=record.resolved))
            outcomes[record.id].resolution_pending = True

    def fold(decisions: list[d.Decision]) -> None:
        nonlocal fallback
        for decision in decisions:
            outcome = outcomes.get(decision.ticket_id) if decision.ticket_id else None
            if isinstance(decision, d.Assigned) and outcome:
                if outcome.assigned_at is None:
                    outcome.assigned_at = decision.at
                    outcome.role = decision.role
                    waits.append((decision.at - outcome.record.created).total_seconds() / 60)
                if not outcome.resolution_pending:  # handled for as long as the model says, from now
                    outcome.resolution_pending = True
                    push(decision.at + mapping.service_time(outcome.record.category, rng), e.Resolved(outcome.record.id))
            elif isinstance(decision, d.TicketReopened) and outcome:
                outcome.resolution_pending = False
            elif isinstance(decision, d.Queued):
                hour = decision.at.replace(minute=0, second=0, microsecond=0).isoformat()
                queue_peaks[(hour, decision.role)] = max(queue_peaks[(hour, decision.role)], decision.position)
                if outcome and outcome.role is None:
                    outcome.role = decision.role
            elif isinstance(decision, d.SlaBreached) and outcome:
                outcome.breached.add(decision.target)
            elif isinstance(decision, d.Escalated):
                escalations[decision.level] += 1
            elif isinstance(decision, d.FollowUpScheduled):
                followups["scheduled"] += 1
                if decision.call_at > decision.at:
                    followups["deferred_to_callable_hours"] += 1
            elif isinstance(decision, d.FollowUpDue) and outcome:
                followups["due"] += 1
                satisfaction = outcome.record.satisfaction
                satisfied = satisfaction is None or satisfaction >= mapping.satisfied_at_least
                push(decision.at, e.FollowUpDone(outcome.record.id, policy=decision.policy, satisfied=satisfied, at=decision.at))
            elif isinstance(decision, d.FollowUpOverdue):
                followups["late"] += 1
            elif isinstance(decision, (d.SurgeActivated, d.SurgeDeactivated)):
                surges.append({"surge": decision.surge, "team": decision.team, "on": isinstance(decision, d.SurgeActivated),
                               "at": decision.at.isoformat(), "count": decision.count})
            elif isinstance(decision, d.Fallback):
                fallback += 1
            elif isinstance(decision, d.Refused):
                refused[decision.reason.split(";")[0]] += 1

    total, done = len(records), 0
    try:
        while pending:
            _, _, moment, event = heapq.heappop(pending)
            if isinstance(event, e.Resolved) and event.ticket_id in outcomes:
                outcomes[event.ticket_id].resolved_at = moment
                outcomes[event.ticket_id].resolution_pending = False
            if isinstance(event, e.FollowUpDone):
                followups["done"] += 1
            fold(engine.submit(event if event.at else _at(event, moment)))
            if isinstance(event, e.TicketCreated):
                state = engine.ticket(event.ticket_id)
                outcomes[event.ticket_id].has_sla = state is not None and state.sla is not None
                done += 1
                if progress and (done % 500 == 0 or done == total):
                    progress(done, total)
        end = max((o.resolved_at or o.record.created for o in outcomes.values()), default=start)
        fold(engine.advance((end or engine.clock.now()) + tail))
        for outcome in outcomes.values():  # still queued when the log ends: they waited all that time
            if outcome.assigned_at is None and outcome.role is not None:
                waits.append((engine.clock.now() - outcome.record.created).total_seconds() / 60)
    finally:
        engine.close()
    return SimulationResult(
        org=org.info.id, tickets=total, start=start, end=end if records else None,
        attainment=_attainment(outcomes.values()), waits_minutes={
            "p50": _percentile(waits, 0.5), "p90": _percentile(waits, 0.9), "p99": _percentile(waits, 0.99),
            "mean": round(statistics.fmean(waits), 1) if waits else None},
        roles=_roles(org, engine, outcomes.values(), queue_peaks, start, end),
        queue_series=[{"hour": hour, "role": role, "queue": length} for (hour, role), length in sorted(queue_peaks.items())],
        escalations={str(level): count for level, count in sorted(escalations.items())},
        followups={k: followups.get(k, 0) for k in ("scheduled", "due", "done", "late", "deferred_to_callable_hours")},
        surges=surges, fallback=fallback, refused=dict(refused),
        unmapped={"total": unmapped.total, "reasons": dict(unmapped.reasons), "examples": unmapped.examples} if unmapped else
        {"total": 0, "reasons": {}, "examples": {}})


def _at(event: e.Event, moment: datetime) -> e.Event:
    return type(event)(**{**vars(event), "at": moment})


def _attainment(outcomes) -> dict:
    result = {}
    for target in ("first_response", "resolution"):
        counted = [o for o in outcomes if o.has_sla]
        by = {"all": {"all": _share(sum(target not in o.breached for o in counted), len(counted))}}
        for dimension in DIMENSIONS:
            groups: dict[str, list] = defaultdict(list)
            for o in counted:
                groups[getattr(o.record, dimension)].append(o)
            by[dimension] = {value: _share(sum(target not in o.breached for o in group), len(group))
                             for value, group in sorted(groups.items())}
        result[target] = by
    return result


def _roles(org: Org, engine: Engine, outcomes, queue_peaks, start, end) -> dict:
    busy: dict[str, float] = defaultdict(float)
    assigned: Counter = Counter()
    for o in outcomes:
        if o.role and o.assigned_at:
            assigned[o.role] += 1
            if o.resolved_at and o.resolved_at > o.assigned_at:  # counted only while the role is on shift
                shifts = [engine.calendars[g.shift] for g in org.role(o.role).staff] if o.role in engine.agents else []
                busy[o.role] += max((c.between(o.assigned_at, o.resolved_at) for c in shifts),
                                    default=o.resolved_at - o.assigned_at).total_seconds()
    roles = {}
    for role in org.roles:
        available = 0.0
        if start and end and end > start:
            for group in role.staff:
                available += engine.calendars[group.shift].between(start, end).total_seconds() * group.agents * role.capacity
        peak = max((length for (hour, r), length in queue_peaks.items() if r == role.id), default=0)
        if assigned[role.id] or peak:
            roles[role.id] = {
                "assigned": assigned[role.id],
                "utilisation": round(busy[role.id] / available, 4) if available else None,
                "max_queue": peak,
            }
    return roles
