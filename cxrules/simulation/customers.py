"""A log's customers as the org's patterns across tickets see them: one id that holds a large share of the tickets.

A pattern of one customer's tickets (`repeat_complaint`'s count, `complaint_comes_back`'s earlier
ticket) matches every ticket that names the same customer. A log whose customer column holds a
placeholder (`unknown`, `-`, one account for walk-in callers) makes all those tickets one
customer's: each new one is matched with every earlier one in the window, which reopens and
escalates tickets no real customer brought back, and makes the replay's work grow with that
customer's tickets. The replay cannot tell a placeholder from a real fleet account; the
consultant can, so `simulate` names the id and how to leave it out.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, NamedTuple, Optional

from ..model import Org
from .history import TicketRecord

__all__ = ["CROWDED_SHARE", "CROWDED_TICKETS", "CrowdedCustomer", "crowded_customer", "customer_patterns"]

CROWDED_SHARE = 0.2
"""The share of the tickets naming a customer that one id holds from which it is told (a centre's customers are many)."""
CROWDED_TICKETS = 20
"""Nor fewer tickets than these: in a short log a few customers may each hold a fifth."""


class CrowdedCustomer(NamedTuple):
    """``customer_id`` holds ``tickets`` of the ``named`` tickets that name a customer; ``patterns``: the org's automations
    that match a customer's tickets with each other, which take them all as that customer's."""

    customer_id: str
    tickets: int
    named: int
    patterns: tuple[str, ...]

    @property
    def share(self) -> float:
        return self.tickets / self.named


def customer_patterns(org: Org) -> tuple[str, ...]:
    """The ids of the org's automations whose trigger is a pattern across one customer's tickets (not `per: all`)."""
    return tuple(automation.id for automation in org.automations
                 if automation.trigger.pattern and automation.trigger.per == "customer")


def crowded_customer(org: Org, records: Iterable[TicketRecord]) -> Optional[CrowdedCustomer]:
    """The customer id holding the most tickets, if it holds at least :data:`CROWDED_SHARE` of those that name one and
    :data:`CROWDED_TICKETS` of them, and the org has patterns across a customer's tickets (else None: the id then changes
    nothing the replay decides)."""
    patterns = customer_patterns(org)
    if not patterns:
        return None
    counts = Counter(record.customer_id for record in records if record.customer_id is not None)
    if not counts:
        return None
    [(customer_id, tickets)] = counts.most_common(1)
    named = sum(counts.values())
    if tickets < CROWDED_TICKETS or tickets < CROWDED_SHARE * named:
        return None
    return CrowdedCustomer(str(customer_id), tickets, named, patterns)
