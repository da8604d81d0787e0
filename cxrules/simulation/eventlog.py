"""Event logs: one row per update of a ticket, in any order, rebuilt into one history per ticket.

Reading is a streaming two-pass, so a log of millions of rows fits in bounded memory:
pass 1 maps each row to a few compact values and appends them to one of :data:`BUCKETS`
temporary files, chosen by a stable hash of the ticket id; pass 2 loads one bucket at a
time, groups its rows by ticket and builds the :class:`TicketRecord` of each. Memory holds
the records and one bucket, never the log.

How a history is read from the rows of a ticket, ordered by (update time, `order`, place in
the file):

* class (category, channel, segment, priority, member, customer): the first row's value, else
  the first later row that has one, else the mapping's `default`; `made_sla`: the last row's;
* created: the `created` column (first row that has it), or the first update if that is
  earlier (a ticket exists by its first update);
* a stint starts at creation with the ticket's first role, and again at each change of role
  (reassignment) or reopening (leaving `resolved`/`closed` for another state, or entering
  `reopened`); it ends at the next one, or at resolution (`resolved` or `closed`, whichever
  comes first); rows after a resolution that do not reopen the ticket start nothing;
* picked: the first row of the stint with an assignee or the state `active` — but what merely
  carried over from the role before (the same person, a state already active) does not count;
* pauses: the stretches of a stint in a waiting state;
* first response, resolved, closed: the mapped columns where a row has them, else the first
  pick, the first resolution, and the moment the ticket last became `closed` (if it ends so).

A row that cannot be placed (no id, no readable update time or order) is left out and counted;
a ticket with a value the mapping does not know, or without a role, is left out whole and
counted once under `ticket: <reason>` (see :class:`.mapping.Unmapped`).
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional
from zoneinfo import ZoneInfo

from .history import LIFECYCLE, WAITING_STATES, Pause, Stint, TicketRecord
from .mapping import (LogMapping, RowError, Unmapped, field_reader, is_member, known_id, log_rows, no_time_format, number_or_none,
                      time_parser, truth)

__all__ = ["BUCKETS", "read_event_log"]

BUCKETS = 64
"""Temporary files the rows are spread over: a million-row log leaves some 16,000 rows per bucket to hold at once."""

CLASS_FIELDS = ("category", "channel", "segment", "priority", "member", "customer_id")
_PER_TICKET = (*CLASS_FIELDS, "role", "state")
"""Fields whose empty values are filled from the ticket's other rows: their `default` stands only for values the translation lacks."""
_ROW_FIELDS = ("id", "updated", "order", "state", "role", "assignee", *CLASS_FIELDS, "created", "first_response", "resolved", "closed",
               "made_sla", "satisfaction")
_REQUIRED = ("category", "channel", "priority")
_ENDED = ("resolved", "closed")


class EventRow(NamedTuple):
    """What pass 1 keeps of one row: mapped values only, times as Unix seconds (written to a bucket as a JSON list)."""

    id: str
    number: int
    updated: float
    order: Optional[int]
    state: Optional[str] = None
    role: Optional[str] = None
    assignee: Optional[str] = None
    category: Any = None
    channel: Any = None
    segment: Any = None
    priority: Any = None
    member: Any = None
    customer_id: Any = None
    created: Optional[float] = None
    first_response: Optional[float] = None
    resolved: Optional[float] = None
    closed: Optional[float] = None
    made_sla: Optional[bool] = None
    satisfaction: Optional[float] = None
    error: Optional[str] = None
    """Why the ticket cannot be mapped, as this row shows (a value the mapping does not know)."""


class _TicketError(Exception):
    def __init__(self, reason: str, row: int):
        super().__init__(reason)
        self.row = row


def read_event_log(path: Path, mapping: LogMapping) -> tuple[list[TicketRecord], Unmapped]:
    """One record per ticket of an event log, sorted by (created, first row), and what could not be mapped."""
    unmapped = Unmapped()
    zone = ZoneInfo(mapping.timezone)
    records: list[TicketRecord] = []
    with tempfile.TemporaryDirectory(prefix="cxrules-log-") as folder:
        buckets = [Path(folder) / f"{index:03}.jsonl" for index in range(BUCKETS)]
        _spread(path, mapping, _RowReader(mapping, zone), buckets, unmapped)
        build = _TicketBuilder(mapping)
        for bucket in buckets:
            for events in _tickets(bucket):
                try:
                    records.append(build(events))
                except _TicketError as error:
                    unmapped.add(f"ticket: {error}", f"row {error.row}")
            bucket.unlink()  # give the disk back as we go
    records.sort(key=lambda record: (record.created, record.row))
    return records, unmapped


class _RowReader:
    """Pass 1 for one row: its compact values (:class:`EventRow`), or RowError if it cannot be placed in a history at all."""

    def __init__(self, mapping: LogMapping, zone: ZoneInfo):
        self.mapping = mapping
        self.read = {name: field_reader(name, mapping.fields.get(name), mapping.null_values, default_when_empty=name not in _PER_TICKET)
                     for name in _ROW_FIELDS}

        self._parse = time_parser(mapping, zone)

    def seconds(self, name: str, row: dict) -> Optional[float]:
        value = self.read[name](row)
        if value is None:
            return None
        try:
            return self._parse(str(value)).timestamp()
        except ValueError as error:
            raise no_time_format(name, str(value), error) from None

    def __call__(self, number: int, row: dict) -> EventRow:
        read = self.read
        ticket_id = read["id"](row)
        if ticket_id is None:
            raise RowError("id: empty")
        updated = self.seconds("updated", row)
        if updated is None:
            raise RowError("updated: empty")
        placed = (str(ticket_id), number, updated, _whole_number(read["order"](row)))
        try:
            values = {name: read[name](row) for name in ("state", "role", "assignee", *CLASS_FIELDS)}
            known_id(values, self.mapping)
            if values["state"] is not None and values["state"] not in LIFECYCLE:
                raise RowError(f"state: `{values['state']}` is not a lifecycle state")
            if values["assignee"] is not None:
                values["assignee"] = str(values["assignee"])
            values.update({name: self.seconds(name, row) for name in ("created", "first_response", "resolved", "closed")})
            values.update(made_sla=truth(read["made_sla"](row), "made_sla"), satisfaction=number_or_none(read["satisfaction"](row)))
        except RowError as error:
            return EventRow(*placed, error=str(error))
        return EventRow(*placed, **values)


def _spread(path: Path, mapping: LogMapping, event: _RowReader, buckets: list[Path], unmapped: Unmapped) -> None:
    """Pass 1: every row that can be placed, compacted, into the bucket of its ticket."""
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(open(bucket, "w", encoding="utf-8", buffering=1 << 16)) for bucket in buckets]
        for number, row in log_rows(path, mapping, unmapped):
            try:
                compact = event(number, row)
            except RowError as error:
                unmapped.add(str(error), f"row {number}")
                continue
            files[zlib.crc32(compact.id.encode("utf-8", "surrogatepass")) % len(files)].write(json.dumps(compact) + "\n")


def _whole_number(value: Any) -> Optional[int]:
    if value is None or isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise RowError(f"order: `{str(value)[:40]}` is not a whole number") from None


def _tickets(bucket: Path) -> list[list[EventRow]]:
    """Pass 2: the rows of one bucket grouped by ticket, each ticket's rows in the order they happened."""
    grouped: dict[str, list[EventRow]] = {}
    with open(bucket, encoding="utf-8") as lines:
        for line in lines:
            event = EventRow(*json.loads(line))
            grouped.setdefault(event.id, []).append(event)
    for events in grouped.values():
        events.sort(key=lambda event: (event.updated, -math.inf if event.order is None else event.order, event.number))
    return list(grouped.values())


class _TicketBuilder:
    """Builds records with the mapping's defaults, sharing one copy of each repeated text (ids of the org) across records."""

    def __init__(self, mapping: LogMapping):
        self.defaults = {name: spec["default"] for name, spec in mapping.fields.items() if name in _PER_TICKET and "default" in spec}
        self.shared: dict[str, str] = {state: state for state in LIFECYCLE}

    def moment(self, seconds: float) -> datetime:
        """In UTC, as :func:`~.mapping.parse_moment` reads times."""
        return datetime.fromtimestamp(seconds, timezone.utc)

    def text(self, value: Any) -> str:
        text = str(value)
        return self.shared.setdefault(text, text)

    def __call__(self, events: list[EventRow]) -> TicketRecord:
        first_row = min(event.number for event in events)
        broken = next((event for event in events if event.error is not None), None)
        if broken is not None:
            raise _TicketError(str(broken.error), broken.number)

        def first(name: str) -> Any:
            return next((getattr(event, name) for event in events if getattr(event, name) is not None), self.defaults.get(name))

        def last(name: str) -> Any:
            return next((getattr(event, name) for event in reversed(events) if getattr(event, name) is not None), None)

        classes = {name: first(name) for name in CLASS_FIELDS}
        for name in _REQUIRED:
            if classes[name] is None:
                raise _TicketError(f"{name}: empty on every row", first_row)
        role = first("role")
        if role is None:
            raise _TicketError("role: empty on every row", first_row)
        created_column = first("created")
        created = self.moment(min(created_column, events[0].updated) if created_column is not None else events[0].updated)
        history = _History(self.text(role), created, self.moment, self.text)
        for event in events:
            history.add(event)
        stints = history.finish()
        columns = {name: first(name) for name in ("first_response", "resolved", "closed")}
        times = {name: self.moment(seconds) if seconds is not None else None for name, seconds in columns.items()}
        first_response = times["first_response"] or next((stint.picked for stint in stints if stint.picked is not None), None)
        resolved = times["resolved"] or history.resolved
        for name, moment in (("resolved", resolved), ("first response", first_response)):
            if moment is not None and moment < created:
                raise _TicketError(f"{name} before it was created", first_row)
        return TicketRecord(
            id=events[0].id, created=created, category=self.text(classes["category"]), channel=self.text(classes["channel"]),
            segment=self.text(classes["segment"] or "any"), priority=self.text(classes["priority"]), member=is_member(classes["member"]),
            customer_id=classes["customer_id"], first_response=first_response, resolved=resolved, satisfaction=last("satisfaction"),
            row=first_row, stints=stints, closed=times["closed"] or history.closed, reopenings=history.reopenings, made_sla=last("made_sla"))


@dataclass(slots=True)
class _OpenStint:
    """A stint while the ticket is still with its role."""

    role: str
    entered: datetime
    reopened: bool
    inherited_assignee: Optional[str]
    """Who had the ticket when it came to the role: that person taking it shows nothing about this role."""
    picked: Optional[datetime] = None
    pauses: list[Pause] = field(default_factory=list)
    waiting: Optional[tuple[datetime, str]] = None

    def note(self, at: datetime, state: str, assignee: Optional[str], carried_active: bool) -> None:
        """A row of the stint: maybe its pick, maybe the start or end of a pause."""
        if self.picked is None and ((assignee is not None and assignee != self.inherited_assignee)
                                    or (state == "active" and not carried_active)):
            self.picked = at
        reason = state if state in WAITING_STATES else None
        if self.waiting is not None and self.waiting[1] != reason:
            self.pauses.append(Pause(self.waiting[0], at, self.waiting[1]))
            self.waiting = None
        if reason is not None and self.waiting is None:
            self.waiting = (at, reason)

    def end(self, at: Optional[datetime], resolved: bool) -> Stint:
        if self.waiting is not None:
            self.pauses.append(Pause(self.waiting[0], at, self.waiting[1]))
        return Stint(self.role, self.entered, self.picked, at, resolved, self.reopened, tuple(self.pauses))


class _History:
    """A ticket's way through the roles, read row by row (the rules are in the module docstring)."""

    def __init__(self, role: str, created: datetime, moment: Callable[[float], datetime], text: Callable[[Any], str]):
        self.moment, self.text = moment, text
        self.stints: list[Stint] = []
        self.current: Optional[_OpenStint] = _OpenStint(role, created, reopened=False, inherited_assignee=None)
        self.role = role
        self.state: Optional[str] = None
        self.assignee: Optional[str] = None
        self.resolved: Optional[datetime] = None
        self.closed: Optional[datetime] = None
        self.reopenings = 0

    def add(self, event: EventRow) -> None:
        at = self.moment(event.updated)
        state = self.text(event.state) if event.state is not None else self.state or "new"
        if event.role is not None:
            self.role = self.text(event.role)
        reopening = (self.current is None and state not in _ENDED) or (state == "reopened" and self.state not in (None, "reopened"))
        moved = self.current is not None and self.role != self.current.role
        if reopening or moved:
            if self.current is not None:  # a reopening without a resolution in the log ends the stint unresolved
                self.stints.append(self.current.end(at, resolved=False))
            self.reopenings += reopening
            self.current = _OpenStint(self.role, at, reopened=reopening, inherited_assignee=self.assignee)
        if self.current is not None:
            self.current.note(at, state, event.assignee, carried_active=(reopening or moved) and self.state == "active")
            if state in _ENDED:
                self.resolved = self.resolved or at
                self.stints.append(self.current.end(at, resolved=True))
                self.current = None
        self.closed = (self.closed if self.state == "closed" else at) if state == "closed" else None
        self.state, self.assignee = state, event.assignee

    def finish(self) -> tuple[Stint, ...]:
        if self.current is not None:
            self.stints.append(self.current.end(None, resolved=False))
            self.current = None
        return tuple(self.stints)
