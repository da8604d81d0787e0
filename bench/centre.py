"""A centre's ticket stream for the durable benches: every class of the org, a moving clock, tickets that close.

Tickets arrive about every 20 seconds, round the clock (about 4,300 a day), over every
category, channel, segment and priority the org routes; each gets a first response within
half an hour, is resolved within two days and closed up to three days later, and each
follow-up call the engine asks for is made within two hours (one in ten customers
unsatisfied), so SLA timers, escalations, follow-ups, queues and surge windows all work as
they would in a real centre, and the state the engine holds stays about as large as the
tickets in flight. Generated lazily, in time order: only tickets in flight are held; or made
beforehand with every ticket's whole life (:func:`whole_lives`) and replayed, so that a timing
counts the engine's work and not the stream's making.
"""

from __future__ import annotations

import gc
import heapq
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Iterator, Optional
from zoneinfo import ZoneInfo

from measure import rss_mb, timed

from cxrules.engine import Closed, Engine, FirstResponse, FollowUpDone, FollowUpDue, Resolved, TicketCreated, VirtualClock
from cxrules.engine.events import Event
from cxrules.model import Org
from cxrules.routing import class_values

START = datetime(2025, 3, 3, 8, tzinfo=ZoneInfo("Asia/Shanghai"))


class Centre:
    """The stream, and the follow-up calls the engine asks for (pass its FollowUpDue decisions to :meth:`call_back`)."""

    def __init__(self) -> None:
        self.pending: list[tuple[datetime, int, Event]] = []
        self.latest = START
        self.rng = random.Random(11)

    def call_back(self, due: FollowUpDue) -> None:
        """The agent calls within two hours of being asked (never before the stream's present)."""
        at = max(due.at + timedelta(minutes=self.rng.uniform(5, 120)), self.latest)
        event = FollowUpDone(due.ticket_id, policy=due.policy, satisfied=self.rng.random() < 0.9, at=at)
        heapq.heappush(self.pending, (at, id(event), event))

    def events(self, org: Org, total: int, seed: int = 7, part: int = 0, parts: int = 1, customers: int = 0) -> Iterator[Event]:
        """``total`` events in time order; with ``parts`` feeders, the events of tickets numbered ``part`` modulo ``parts``;
        ``customers``: how many customers the tickets come from (none by default)."""
        for event in centre_events(org, total, seed, part, parts, self.pending, customers):
            self.latest = event.at
            yield event

    def replay(self, recorded: Iterable[Event]) -> Iterator[Event]:
        """A stream made beforehand, in time order, with the follow-up calls asked for meanwhile merged in; then the calls left."""
        pending = self.pending
        for event in recorded:
            while pending and pending[0][0] <= event.at:
                self.latest, _, call = heapq.heappop(pending)
                yield call
            self.latest = event.at
            yield event
        while pending:
            self.latest, _, call = heapq.heappop(pending)
            yield call


@dataclass
class Served:
    """What :func:`serve` saw."""

    seconds: float
    rss_mb: list[float] = field(default_factory=list)
    """RSS after each checkpoint (after a collection: live memory, not garbage awaiting the collector)."""
    counted: int = 0
    """Decisions of the kind asked for."""
    tickets_kept: int = 0
    """Tickets the engine still holds at the end."""


def serve(org: Org, total: int, checkpoints: int = 0, customers: int = 0, count: Optional[type] = None) -> Served:
    """``total`` events of the stream, made lazily, through a fresh engine in memory whose agents make the calls it asks for.

    ``checkpoints``: how many even steps to read the RSS at; ``count``: a kind of decision to count.
    """
    engine = Engine(org, VirtualClock(START))
    centre = Centre()
    engine.on(FollowUpDue, centre.call_back)
    served = Served(0.0)
    if count is not None:
        engine.on(count, lambda decision: setattr(served, "counted", served.counted + 1))
    step = total // checkpoints if checkpoints else 0

    def feed() -> None:
        for number, event in enumerate(centre.events(org, total, customers=customers), 1):
            engine.submit(event)
            if step and number % step == 0:
                gc.collect()
                served.rss_mb.append(rss_mb())
    served.seconds = timed(feed)[1]
    served.tickets_kept = len(getattr(engine.store, "tickets", ()))
    engine.close()
    return served


def whole_lives(org: Org, total: int, seed: int = 7) -> list[Event]:
    """The stream's first ``total`` events, then the rest of the lives of the tickets still in flight (up to their close).

    No follow-up calls: those are made when the engine asks (:meth:`Centre.call_back` during :meth:`Centre.replay`).
    """
    pending: list[tuple[datetime, int, Event]] = []
    events = list(centre_events(org, total, seed, pending=pending))
    while pending:
        events.append(heapq.heappop(pending)[2])
    return events


def centre_events(org: Org, total: int, seed: int = 7, part: int = 0, parts: int = 1,
                  pending: list[tuple[datetime, int, Event]] | None = None, customers: int = 0) -> Iterator[Event]:
    """``total`` events in time order; with ``parts`` feeders, the events of tickets numbered ``part`` modulo ``parts``.

    ``pending``: a heap of later events, which others may add to while the stream runs; ``customers``: how many customers
    the tickets come from, drawn at random (none by default: tickets of no known customer).
    """
    customer_rng = random.Random(seed + 1)
    rng = random.Random(seed)
    values = {name: sorted(known) for name, known in class_values(org).items()}
    pending = [] if pending is None else pending
    arrival, number, made = START, 0, 0
    while made < total:
        if pending and pending[0][0] <= arrival:
            _, _, event = heapq.heappop(pending)
        else:
            ticket = f"T{number}"
            event = TicketCreated(ticket, category=rng.choice(values["category"]), channel=rng.choice(values["channel"]),
                                  segment=rng.choice(values["segment"]), priority=rng.choice(values["priority"]),
                                  member=rng.random() < 0.3, at=arrival,
                                  customer_id=f"C{customer_rng.randrange(customers)}" if customers else None)
            answered = arrival + timedelta(minutes=rng.uniform(1, 30))
            resolved = answered + timedelta(hours=rng.uniform(0.5, 48))
            closed = resolved + timedelta(hours=rng.uniform(1, 72))
            for later in (FirstResponse(ticket, at=answered), Resolved(ticket, at=resolved), Closed(ticket, at=closed)):
                heapq.heappush(pending, (later.at, id(later), later))
            arrival += timedelta(seconds=rng.expovariate(1 / 20))
            number += 1
        made += 1
        if int(event.ticket_id[1:]) % parts == part:
            yield event
