"""`cxrules route`: one ticket through the engine, with the reasons for every decision.

Reads a ticket as plain JSON data, checks every field (naming the one that is wrong),
runs it through a fresh :class:`Engine` on a virtual clock and replays the escalation
timeline it would follow if nobody answered, up to its last deadline (at most one year of
calendar time; where the timeline stops earlier the report says where and why).

The ticket format is described in docs/route.md and in `cxrules route --help`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

from ..calendars import HORIZON
from ..model import Org, format_duration
from ..routing import Router, TicketClass, class_values, unknown_value
from ..schema import closest
from . import decisions as d
from .clock import VirtualClock
from .engine import Engine
from .events import Resolved, TicketCreated

__all__ = ["TicketError", "read_ticket", "parse_ticket", "parse_time", "RouteReport", "TimelineEnd", "explain_route",
           "MAX_TICKET_BYTES", "FIRST_YEAR", "LAST_YEAR", "TIMELINE_LIMIT"]

REQUIRED = ("category", "channel", "segment", "priority")
OPTIONAL = ("id", "member", "customer_id", "created")
MAX_TICKET_BYTES = 1_000_000
"""A ticket file larger than this is refused before it is parsed (a ticket is a few hundred bytes)."""
MAX_TEXT = 200
"""Longest text a field may hold (ids, customer ids, category and other values)."""
FIRST_YEAR, LAST_YEAR = 1970, 2100
"""Times (`created`, `--at`) must fall in these years: outside them deadlines cannot be computed."""
TIMELINE_LIMIT = timedelta(days=366)
"""The timeline runs to the ticket's last deadline, but never further than this after arrival."""
MAX_TIMELINE_ENTRIES = 1000
DEFAULT_ID = "ticket"

# Characters that have no place in an id or a value: C0/C1 controls, and the bidirectional
# controls that make text display differently from what it is.
_BAD_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class TicketError(ValueError):
    """A ticket that cannot be routed as given; the message names the field.

    ``position`` is ``:line:column`` in the ticket file when the problem has one.
    """

    def __init__(self, message: str, position: str = ""):
        super().__init__(message)
        self.position = position


class _Number:
    """A JSON number, kept as its text: no ticket field is a number, and a 5,000-digit one must not be converted."""

    def __init__(self, text: str):
        self.text = text


class _Refused(Exception):
    """Raised from inside the JSON parser's hooks."""


def _constant(name: str):
    raise _Refused(f"`{name}` is not JSON (JavaScript's NaN and Infinity are not allowed)")


def _object(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"field {_shown(key)} is given twice")
        result[key] = value
    return result


def read_ticket(raw: bytes) -> Any:
    """The JSON data of a ticket file's bytes (checked by :func:`parse_ticket` next); raises :class:`TicketError`.

    Refuses, with a message saying why: more than :data:`MAX_TICKET_BYTES`, text that is not
    UTF-8, text that is not JSON, duplicate keys, NaN/Infinity and nesting deeper than Python
    can follow. Numbers are not converted (no ticket field is a number).
    """
    if len(raw) > MAX_TICKET_BYTES:
        raise TicketError(f"larger than {MAX_TICKET_BYTES / 1e6:g} MB: a ticket is a small JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TicketError(f"cannot read: not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})") from None
    text = text.removeprefix("\ufeff")
    try:
        return json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_constant, object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        raise TicketError(f"not JSON: {error.msg}", f":{error.lineno}:{error.colno}") from None
    except RecursionError:
        raise TicketError("not a ticket: the JSON is nested too deeply (a ticket is one flat JSON object)") from None
    except _Refused as error:
        raise TicketError(f"not a ticket: {error}") from None


def _kind(value: Any) -> str:
    """What a JSON value is, for messages (never the whole value: it may be huge)."""
    if isinstance(value, _Number):
        digits = len(value.text.lstrip("-"))
        return f"a {digits:,}-digit number" if digits > 20 else f"the number {value.text}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the text {_shown(value)}"
    return {"list": "a list", "dict": "an object"}.get(type(value).__name__, type(value).__name__)


def _shown(text: str, limit: int = 60) -> str:
    """Text quoted for a message: clipped, with unprintable characters and lone surrogates escaped."""
    clipped = text if len(text) <= limit else text[: limit - 1] + "…"
    clipped = _BAD_CHARACTER.sub(lambda m: f"\\u{ord(m.group()):04x}", clipped)
    clipped = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", clipped)
    return f"`{clipped}`"


def _text(name: str, value: Any, limit: int = MAX_TEXT) -> str:
    """``value`` if it is text a field may hold; else :class:`TicketError` naming the field and why."""
    if not isinstance(value, str):
        raise TicketError(f"field `{name}` must be text, got {_kind(value)}")
    if not value.strip():
        raise TicketError(f"field `{name}` is empty")
    if len(value) > limit:
        raise TicketError(f"field `{name}` is longer than {limit} characters ({len(value):,})")
    surrogate = _SURROGATE.search(value)
    if surrogate:
        raise TicketError(f"field `{name}` is not valid text: it holds a lone surrogate \\u{ord(surrogate.group()):04x} "
                          f"at character {surrogate.start() + 1} (an escape such as \"\\ud800\" that encodes no character)")
    bad = _BAD_CHARACTER.search(value)
    if bad:
        raise TicketError(f"field `{name}` holds a control character (U+{ord(bad.group()):04X} at character {bad.start() + 1})")
    return value


def parse_time(text: str, zone: ZoneInfo, what: str) -> datetime:
    """An ISO 8601 time in the years :data:`FIRST_YEAR`–:data:`LAST_YEAR`; without an offset it is in ``zone``.

    ``what`` names the time in messages (e.g. "field `created`", "--at"); raises :class:`TicketError`.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TicketError(f"{what} must be an ISO 8601 time such as 2025-03-07T19:30:00+08:00, got {_shown(text)}") from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise TicketError(f"{what}: year {moment.year} is outside the years cxrules computes deadlines for "
                          f"({FIRST_YEAR}–{LAST_YEAR}), got {_shown(text)}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def parse_ticket(org: Org, data: Any) -> TicketCreated:
    """Check a ticket given as JSON data against the org and make the event of it.

    Every field is checked before anything is used: its type, its length, that its text is
    printable, that category, channel, segment and priority are ids of the org, that
    `created` is an ISO 8601 time in a supported year. The message names the field.
    """
    if not isinstance(data, dict):
        raise TicketError(f"a ticket is a JSON object with {', '.join(REQUIRED)}; got {_kind(data)}")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        name = unknown[0]
        suggestion = closest(name, REQUIRED + OPTIONAL) if not _SURROGATE.search(name) else None
        raise TicketError(f"unknown field {_shown(name)}" + (f"; did you mean `{suggestion}`?" if suggestion else
                                                             f"; fields are {', '.join(REQUIRED + OPTIONAL)}"))
    known = class_values(org)
    values = {}
    for name in REQUIRED:
        if name not in data:
            raise TicketError(f"missing field `{name}`; one of: {', '.join(list(known[name])[:12])}")
        values[name] = _text(name, data[name])
        problem = unknown_value(name, values[name], known[name])
        if problem:
            raise TicketError(f"field `{name}`: {problem}")
    ticket_id = _text("id", data["id"]) if "id" in data else DEFAULT_ID
    member = data.get("member", False)
    if not isinstance(member, bool):
        raise TicketError(f"field `member` must be true or false, got {_kind(member)}")
    customer_id = data.get("customer_id")
    if customer_id is not None:
        customer_id = _text("customer_id", customer_id)
    created = None
    if "created" in data:
        created = parse_time(_text("created", data["created"], 64), ZoneInfo(org.info.timezone), "field `created`")
    return TicketCreated(ticket_id, category=values["category"], channel=values["channel"], segment=values["segment"],
                         priority=values["priority"], member=member, customer_id=customer_id, at=created)


@dataclass(frozen=True)
class TimelineEnd:
    """Where the "if nobody answers" timeline ends, and why."""

    complete: bool
    """True: every deadline of the ticket is in the timeline (nothing more would happen)."""
    at: datetime
    """The last moment the timeline covers."""
    reason: str
    next_due: Optional[datetime] = None
    """When the timeline stopped early: the first deadline it does not show."""


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
    end: Optional[TimelineEnd] = None
    resolved_at: Optional[datetime] = None
    """The resolution the follow-ups assume: at the resolution deadline (else the end of the timeline)."""

    def to_dict(self) -> dict:
        zone = self.at.tzinfo

        def when(moment):
            return moment.astimezone(zone).isoformat() if isinstance(moment, datetime) else moment

        def plain(decision):
            return {"kind": decision.kind, **{k: when(v) if isinstance(v, datetime) else v
                                               for k, v in vars(decision).items() if k != "ticket_id"}}

        end = None if self.end is None else {"complete": self.end.complete, "at": when(self.end.at), "reason": self.end.reason,
                                             "next_due": when(self.end.next_due)}
        return {"ticket": self.ticket.ticket_id, "at": when(self.at), "role": self.role, "agent": self.agent,
                "rule": self.rule, "fallback": self.fallback,
                "considered": [{"rule": rule, "why_not": why} for rule, why in self.considered],
                "decisions": [plain(x) for x in self.decisions], "timeline": [plain(x) for x in self.timeline],
                "timeline_end": end, "followups_if_resolved_at": when(self.resolved_at),
                "followups": [plain(x) for x in self.followups]}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M")


def _beyond(due: datetime, resolution_due: Optional[datetime], stop: datetime, zone: ZoneInfo) -> str:
    """What lies beyond the end of a stopped timeline, for its reason."""
    if due == resolution_due:
        return f"the resolution deadline ({_stamp(due.astimezone(zone))}) lies beyond"
    text = f"the next warning or escalation ({_stamp(due.astimezone(zone))})"
    if resolution_due is not None and resolution_due > stop:
        return f"{text} and the resolution deadline ({_stamp(resolution_due.astimezone(zone))}) lie beyond"
    return f"{text} lies beyond"


def explain_route(org: Org, ticket: TicketCreated, at: Optional[datetime] = None,
                  limit: timedelta = TIMELINE_LIMIT) -> RouteReport:
    """Route one ticket and explain it; then show what would follow if nobody answered.

    The timeline runs to the ticket's last deadline (SLA warnings and breaches, every
    escalation level), however far that is, but at most ``limit`` after arrival; the
    report's ``end`` says whether it is complete, or where and why it stopped. Follow-ups
    are shown as they would be scheduled if the ticket were resolved at its resolution
    deadline.
    """
    moment = at or ticket.at or datetime.now(timezone.utc)
    zone = ZoneInfo(org.info.timezone)
    moment = moment.astimezone(zone)
    arriving = ticket.__class__(**{**vars(ticket), "at": moment})
    engine = Engine(org, VirtualClock(moment))
    try:
        decisions = tuple(engine.submit(arriving))
        state = engine.ticket(ticket.ticket_id)
        if state is None:
            refusals = [x.reason for x in decisions if isinstance(x, d.Refused)]
            raise TicketError(refusals[0] if refusals else "the engine did not take the ticket")
        role, agent, rule, fallback = state.role or org.info.fallback_queue, state.agent, state.rule, state.fallback
        resolution_due = state.resolution_due
        unreachable = ""
        if state.sla and resolution_due is None:
            sla = org.sla(state.sla)
            unreachable = (f"; SLA `{sla.id}` sets no resolution deadline: calendar `{sla.calendar}` does not reach "
                           f"`{format_duration(sla.resolution, days=False)}` of business time within {HORIZON.days} days (CX714)")
        # The owner above comes from the engine (durable-rules); the reference router, which decides the
        # same (tests/test_routing.py), also says why each other matching rule lost.
        route = Router(org).route(TicketClass(ticket.category, ticket.channel, ticket.segment, ticket.priority, ticket.member),
                                  moment, explain=True)
        considered = tuple((x.id, why) for x, why in route.considered)
        stop = moment + limit
        timeline: list[d.Decision] = []
        end = None
        while end is None:
            due = engine.store.next_due()
            if due is None:
                last = timeline[-1].at.astimezone(zone) if timeline else moment
                end = TimelineEnd(True, last, f"complete: nothing more happens after {_stamp(last)} if nobody answers{unreachable}")
            elif due > stop:
                end = TimelineEnd(False, stop, f"stops at {_stamp(stop)}, its limit of {limit.days} days after arrival: "
                                               + _beyond(due, resolution_due, stop, zone), due.astimezone(zone))
            elif len(timeline) >= MAX_TIMELINE_ENTRIES:
                last = timeline[-1].at.astimezone(zone)
                end = TimelineEnd(False, last, f"stops at {_stamp(last)} after {MAX_TIMELINE_ENTRIES} entries: "
                                               "the escalation paths go on and on", due.astimezone(zone))
            else:
                timeline.extend(x for x in engine.advance(due) if not isinstance(x, (d.Assigned, d.Queued)))
    finally:
        engine.close()
    resolved_at = (resolution_due or (timeline[-1].at if timeline else moment)).astimezone(zone)
    followups = _followups(org, arriving, moment, resolved_at)
    return RouteReport(ticket, moment, role, agent, rule, fallback, considered, decisions, tuple(timeline), followups,
                       end, resolved_at)


def _followups(org: Org, ticket: TicketCreated, arrival: datetime, resolved_at: datetime) -> tuple[d.Decision, ...]:
    """The follow-ups scheduled if ``ticket``, arriving at ``arrival``, is resolved at ``resolved_at`` (on an engine of their own)."""
    engine = Engine(org, VirtualClock(arrival))
    try:
        engine.submit(ticket)
        return tuple(x for x in engine.submit(Resolved(ticket.ticket_id, at=resolved_at)) if isinstance(x, d.FollowUpScheduled))
    finally:
        engine.close()
