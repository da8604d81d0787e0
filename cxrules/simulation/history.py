"""What a log says happened to one ticket, in cxrules terms: its class, and its way through the roles.

A flat log (one row per ticket) gives a :class:`TicketRecord` with times only. An event log
(one row per update) also gives :attr:`TicketRecord.stints`: each stretch the ticket spent
with one role, from the moment it came to the role to the moment it left, when someone of
the role first had it, and the pauses (waiting on the customer or a third party) in between.
The simulation replays these stints as work (as-is mode), and calibration measures them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from ..engine.frozen import frozen

__all__ = ["LIFECYCLE", "WAITING_STATES", "Pause", "Stint", "TicketRecord"]

WAITING_STATES = ("waiting_customer", "waiting_parts", "waiting_third_party")
"""Lifecycle states in which a ticket waits on someone outside the centre (the engine's `Waiting` reasons)."""

LIFECYCLE = ("new", "active", *WAITING_STATES, "resolved", "closed", "reopened")
"""The states an event log's state values are mapped to."""


@frozen(slots=True)
class Pause:
    """The ticket waited on someone outside the centre from ``start`` to ``end`` (None: still waiting when the log ends)."""

    start: datetime
    end: Optional[datetime]
    reason: str


@frozen(slots=True)
class Stint:
    """One stretch of a ticket with one role.

    ``entered``: it came to the role (arrival, reassignment or reopening); ``picked``: someone
    of the role first had it (None: nobody did, as far as the log says); ``left``: it left the
    role, reassigned or resolved (None: still there when the log ends); ``resolved``: it left
    because it was resolved; ``reopened``: the stint began with a reopening.
    """

    role: str
    entered: datetime
    picked: Optional[datetime] = None
    left: Optional[datetime] = None
    resolved: bool = False
    reopened: bool = False
    pauses: tuple[Pause, ...] = ()


@frozen(slots=True)
class TicketRecord:
    """One ticket of a log, in cxrules terms."""

    id: str
    created: datetime
    category: str
    channel: str
    segment: str
    priority: str
    member: bool = False
    customer_id: Optional[str] = None
    first_response: Optional[datetime] = None
    resolved: Optional[datetime] = None
    """The first resolution."""
    satisfaction: Optional[float] = None
    row: int = 0
    """Where the ticket starts in the log (its first row), for messages."""
    stints: tuple[Stint, ...] = ()
    """Its way through the roles, from an event log; empty for a flat log."""
    closed: Optional[datetime] = None
    reopenings: int = 0
    made_sla: Optional[bool] = None
    """The log's own verdict on the SLA, where it records one (shown beside ours, never used to compute)."""

    @property
    def last_moment(self) -> datetime:
        """The last moment the log says anything of the ticket: where a replay or a back-test of the log ends."""
        moments = [self.created, self.first_response, self.resolved, self.closed]
        for stint in self.stints:
            moments += (stint.entered, stint.picked, stint.left, *[pause.end for pause in stint.pauses])
        return max(filter(None, moments))  # drops the Nones (a datetime is never false), half the time of a generator's test

    @property
    def reassigned(self) -> bool:
        """Whether the ticket went from one role to another (a reopening back to the same role is no reassignment)."""
        return any(a.role != b.role for a, b in zip(self.stints, self.stints[1:]))
