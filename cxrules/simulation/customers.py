"""A log's customers as the org's patterns across tickets see them: an id that holds a large share of the tickets.

A pattern of one customer's tickets (`repeat_complaint`'s count, `complaint_comes_back`'s earlier
ticket) takes every ticket naming the same customer as that customer's. A log whose customer
column holds a placeholder (`unknown`, `-`, one account for walk-in callers) makes all those
tickets one customer's: the patterns reopen and escalate tickets no real customer brought back,
and the replay's work grows with that customer's tickets. The replay cannot tell a placeholder
from a real fleet account; the consultant can, so `simulate` names the id, and how the mapping
would leave it out. A rough rule: it counts the whole log, not the tickets within a pattern's
window.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple, Optional, Sequence

from ..model import Automation, Org
from .history import TicketRecord
from .mapping import LogMapping

__all__ = ["CROWDED_SHARE", "CROWDED_TICKETS", "CrowdedCustomer", "crowded_customers", "customer_patterns"]

CROWDED_SHARE = 0.2
"""The share of the tickets naming a customer that one id holds from which it is told (a centre's customers are many);
at most five ids hold as much."""
CROWDED_TICKETS = 20
"""Nor fewer tickets than these: in a short log a few customers may each hold a fifth."""


class CrowdedCustomer(NamedTuple):
    """``customer_id`` names ``tickets`` of the ``named`` tickets that name a customer and are of a class the org's
    ``patterns`` look at (its automations that take a customer's tickets together); ``fix``: how the log's mapping would
    leave the id out, if it stands for no one customer."""

    customer_id: str
    tickets: int
    named: int
    patterns: tuple[str, ...]
    fix: str

    @property
    def share(self) -> float:
        return self.tickets / self.named


def customer_patterns(org: Org) -> tuple[Automation, ...]:
    """The org's automations whose trigger is a pattern across one customer's tickets (not `per: all`)."""
    return tuple(automation for automation in org.automations if automation.trigger.pattern and automation.trigger.per == "customer")


def crowded_customers(org: Org, records: Sequence[TicketRecord], mapping: Optional[LogMapping] = None) -> list[CrowdedCustomer]:
    """The customer ids holding at least :data:`CROWDED_SHARE` and :data:`CROWDED_TICKETS` of the tickets that name a
    customer and are of a class one of the org's patterns across a customer's tickets looks at, most tickets first; none
    if the org has no such pattern: a customer id then changes nothing the replay decides. Ids are counted as text, as
    the engine keys a customer's tickets (the number 42 and the text `42` are one customer); ``mapping``: the log's, which
    the fix is worded for."""
    patterns = customer_patterns(org)
    counts = Counter(str(record.customer_id) for record in records if record.customer_id is not None and any(
        automation.conditions.match.matches(record.category, record.channel, record.segment, record.priority, record.member)
        for automation in patterns))
    named = sum(counts.values())
    spec = mapping.fields.get("customer_id") if mapping is not None else None
    return [CrowdedCustomer(customer_id, tickets, named, tuple(automation.id for automation in patterns),
                            _fix(customer_id, spec, records))
            for customer_id, tickets in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            if tickets >= CROWDED_TICKETS and tickets >= CROWDED_SHARE * named]


def _fix(customer_id: str, spec: Optional[dict], records: Sequence[TicketRecord]) -> str:
    """How the mapping's field ``spec`` of `customer_id` would leave ``customer_id`` out (None: no mapping known)."""
    if spec is not None and "value" in spec:
        return "the mapping names it on every ticket (`customer_id: {value: ...}`): map the log's customer column, or leave `customer_id` out"
    if spec is not None and "default" in spec and str(spec["default"]) == customer_id:
        return ("it is the mapping's `default` of `customer_id`, given to each ticket whose cell is empty or not in `values`: "
                "leave the default out (with `values`, the ids they do not list are then unmapped rows)")
    if spec is not None and customer_id in {str(value) for value in (spec.get("values") or {}).values()}:
        return "the mapping's `values` of `customer_id` translate to it: translate the log's text to null there instead"
    if any(record.customer_id is not None and not isinstance(record.customer_id, str) and str(record.customer_id) == customer_id
           for record in records):
        return "the log holds it as a number, which the mapping's `null_values` (texts) do not match: leave the log's cells empty"
    return ("add it to the mapping's `null_values`, which read it as empty in every column (check that no other column "
            "holds it as a value)")
