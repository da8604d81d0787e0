"""A centre's ticket stream for the durable benches: every class of the org, a moving clock, tickets that close.

Tickets arrive about every 20 seconds, round the clock (about 4,300 a day), over every
category, channel, segment and priority the org routes; each gets a first response within
half an hour, is resolved within two days and closed up to three days later, and each
follow-up call the engine asks for is made within two hours (one in ten customers
unsatisfied), so SLA timers, escalations, follow-ups, queues and surge windows all work as
they would in a real centre, and the state the engine holds stays about as large as the
tickets in flight. Generated lazily, in time order: only tickets in flight are held.
"""

from __future__ import annotations

import heapq
import random
from datetime import datetime, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

from cxrules.engine import Closed, FirstResponse, FollowUpDone, FollowUpDue, Resolved, TicketCreated
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
