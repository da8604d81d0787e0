"""`cxrules route`: one ticket through the engine, with the reasons for every decision.

Reads a ticket as plain JSON data, checks every field (naming the one that is wrong),
runs it through a fresh :class:`Engine` on a virtual clock and replays the escalation
timeline it would follow if nobody answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

from ..model import Org
from ..routing import Router, TicketClass, class_values, unknown_value
from ..schema import closest
from . import decisions as d
from .clock import VirtualClock
from .engine import Engine
from .events import Resolved, TicketCreated

__all__ = ["TicketError", "parse_ticket", "RouteReport", "explain_route"]

REQUIRED = ("category", "channel", "segment", "priority")
OPTIONAL = ("id", "member", "customer_id", "created")


class TicketError(ValueError):
    """A ticket that cannot be routed as given; the message names the field."""


def parse_ticket(org: Org, data: Any) -> TicketCreated:
    """Check a ticket given as JSON data against the org and make the event of it."""
    if not isinstance(data, dict):
        raise TicketError(f"a ticket is a JSON object with {', '.join(REQUIRED)}; got {type(data).__name__}")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        suggestion = closest(unknown[0], REQUIRED + OPTIONAL)
        raise TicketError(f"unknown field `{unknown[0]}`" + (f"; did you mean `{suggestion}`?" if suggestion else
                                                             f"; fields are {', '.join(REQUIRED + OPTIONAL)}"))
    known = class_values(org)
    for name in REQUIRED:
        if name not in data:
            raise TicketError(f"missing field `{name}`; one of: {', '.join(list(known[name])[:12])}")
        value = data[name]
        if not isinstance(value, str):
            raise TicketError(f"field `{name}` must be text, got {value!r}")
        problem = unknown_value(name, value, known[name])
        if problem:
            raise TicketError(f"field `{name}`: {problem}")
    member = data.get("member", False)
    if not isinstance(member, bool):
        raise TicketError(f"field `member` must be true or false, got {member!r}")
    created = None
    if "created" in data:
        try:
            created = datetime.fromisoformat(str(data["created"]))
        except ValueError:
            raise TicketError(f"field `created` must be an ISO 8601 time such as 2025-03-07T19:30:00+08:00, got {data['created']!r}") from None
        if created.tzinfo is None:
            created = created.replace(tzinfo=ZoneInfo(org.info.timezone))
    return TicketCreated(str(data.get("id", "ticket")), category=data["category"], channel=data["channel"],
                         segment=data["segment"], priority=data["priority"], member=member,
                         customer_id=data.get("customer_id"), at=created)


@dataclass(frozen=True)
class RouteReport:
    """Everything `cxrules route` prints."""

    ticket: TicketCreated
    at: datetime
    role: str
    agent: Optional[str]
    rule: Optional[str]
    fallback: bool
    considered: tuple[tuple[str, str], ...]
    decisions: tuple[d.Decision, ...]
    timeline: tuple[d.Decision, ...] = field(default=())
    followups: tuple[d.Decision, ...] = field(default=())

    def to_dict(self) -> dict:
        zone = self.at.tzinfo

        def when(moment):
            return moment.astimezone(zone).isoformat() if isinstance(moment, datetime) else moment

        def plain(decision):
            return {"kind": decision.kind, **{k: when(v) if isinstance(v, datetime) else v
                                               for k, v in vars(decision).items() if k != "ticket_id"}}

        return {"ticket": self.ticket.ticket_id, "at": when(self.at), "role": self.role, "agent": self.agent,
                "rule": self.rule, "fallback": self.fallback,
                "considered": [{"rule": rule, "why_not": why} for rule, why in self.considered],
                "decisions": [plain(x) for x in self.decisions], "timeline": [plain(x) for x in self.timeline],
                "followups": [plain(x) for x in self.followups]}


def explain_route(org: Org, ticket: TicketCreated, at: Optional[datetime] = None, horizon: timedelta = timedelta(days=14)) -> RouteReport:
    """Route one ticket and explain it; then show what would follow if nobody answered."""
    moment = at or ticket.at or datetime.now(timezone.utc)
    zone = ZoneInfo(org.info.timezone)
    moment = moment.astimezone(zone)
    engine = Engine(org, VirtualClock(moment))
    try:
        decisions = tuple(engine.submit(ticket.__class__(**{**vars(ticket), "at": moment})))
        state = engine.ticket(ticket.ticket_id)
        # The owner above comes from the engine (durable-rules); the reference router, which decides the
        # same (tests/test_routing.py), also says why each other matching rule lost.
        route = Router(org).route(TicketClass(ticket.category, ticket.channel, ticket.segment, ticket.priority, ticket.member),
                                  moment, explain=True)
        considered = tuple((rule.id, why) for rule, why in route.considered)
        timeline = tuple(x for x in engine.advance(moment + horizon) if not isinstance(x, (d.Assigned, d.Queued)))
        followups = tuple(engine.submit(Resolved(ticket.ticket_id, at=moment + horizon)))
        followups = tuple(x for x in followups if isinstance(x, d.FollowUpScheduled))
        return RouteReport(ticket, moment, state.role, state.agent if state else None, state.rule, state.fallback,
                           considered, decisions, timeline, followups)
    finally:
        engine.close()
