"""Routing semantics: which rule owns a ticket. The one definition the engine runs and `check` analyses.

A rule applies to a ticket when its ``match`` fits the ticket's class and, if it has
``during``, the calendar is open. Of the rules that apply, the one with the highest
``precedence`` wins; among equal precedence the earlier rule in the org wins (and `check`
reports the tie as an overlap when the owners differ). While a surge rule is active, the
tickets it counts go to its team instead. No rule → the org's fallback queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Optional

from .calendars import BusinessCalendar
from .model import Org, RoutingRule, Surge

__all__ = ["TicketClass", "Route", "Router", "precedence_order", "surge_route", "surge_route_of", "class_values", "meant",
           "unknown_value"]


@dataclass(frozen=True)
class TicketClass:
    """The dimensions routing looks at; everything else about a ticket is irrelevant to it."""

    category: str
    channel: str
    segment: str
    priority: str
    member: bool = False

    def class_fields(self) -> tuple[str, str, str, str, bool]:
        """As the org's `match` conditions take it (like :meth:`.TicketState.class_fields`)."""
        return self.category, self.channel, self.segment, self.priority, self.member


Names = dict[str, tuple[str, ...]]
"""Ids in file order, each with the names people call it by (its `name` and `label`)."""


def class_values(org: Org) -> dict[str, Names]:
    """The ids each routing dimension of a ticket may take in this org (empty: anything goes), with their names.

    Dicts, not lists: membership is checked for every ticket the engine takes in.
    """
    def named(items) -> Names:
        return {item.id: tuple(text for text in (item.name, item.label) if text) for item in items}
    return {"category": named(org.categories), "channel": named(org.channels), "segment": named(org.segments),
            "priority": dict.fromkeys(org.info.priorities, ())}


def meant(value: object, known: Names) -> Optional[str]:
    """The id ``value`` most likely stands for: the one it names (`投诉` for `complaint`), else the closest id."""
    from .schema import closest

    text = str(value).strip().casefold()
    return next((id_ for id_, names in known.items() if any(text == name.casefold() for name in names)), None) \
        or closest(str(value), known)


def unknown_value(name: str, value: object, known: Names) -> Optional[str]:
    """Why ``value`` cannot be a ticket's ``name`` ("unknown category `x`; did you mean `y`?"), or None if it can."""
    if not known or value in known:
        return None
    suggestion = meant(value, known)
    return f"unknown {name} `{value}`" + (f"; did you mean `{suggestion}`?" if suggestion else f"; one of: {', '.join(list(known)[:12])}")


@dataclass(frozen=True)
class Route:
    """A routing decision and why it was taken."""

    role: str
    rule: Optional[RoutingRule]
    """None when the ticket went to the fallback queue or to a surge team."""
    surge: Optional[Surge] = None
    considered: tuple[tuple[RoutingRule, str], ...] = field(default=())
    """Rules that match the ticket's class but lost, with the reason."""

    @property
    def fallback(self) -> bool:
        return self.rule is None and self.surge is None


def precedence_order(rules: Iterable[RoutingRule]) -> tuple[RoutingRule, ...]:
    """Rules in the order they are tried: higher precedence first, then file order."""
    return tuple(sorted(rules, key=lambda rule: (-rule.precedence, rule.order)))


def surge_route(ticket: TicketClass, active_surges: Iterable[Surge]) -> Optional[Route]:
    """While a surge is active, the tickets it counts go to its team."""
    return surge_route_of(ticket.class_fields(), active_surges)


def surge_route_of(fields: tuple[str, str, str, str, bool], active_surges: Iterable[Surge]) -> Optional[Route]:
    """:func:`surge_route` of the class of these fields (category, channel, segment, priority, member), for a caller that
    has them and not the class (the engine: a :class:`TicketClass` built for each ticket was a dataclass's Python)."""
    for surge in active_surges:
        if surge.match.matches(*fields):
            return Route(surge.activate, None, surge)
    return None


class Router:
    """Decides the owner of a ticket class at a moment; thread-safe (its caches only grow)."""

    def __init__(self, org: Org):
        self.org = org
        self.rules = precedence_order(org.routing)
        self._candidates: dict[TicketClass, tuple[RoutingRule, ...]] = {}
        self._calendars = {calendar.id: BusinessCalendar(calendar) for calendar in org.calendars}

    def candidates(self, ticket: TicketClass) -> tuple[RoutingRule, ...]:
        """Every rule whose match fits the class, in the order they are tried."""
        found = self._candidates.get(ticket)
        if found is None:
            found = tuple(rule for rule in self.rules if rule.match.matches(*ticket.class_fields()))
            self._candidates[ticket] = found
        return found

    def applies_at(self, rule: RoutingRule, at: Optional[datetime]) -> bool:
        return rule.during is None or at is None or self._calendars[rule.during].is_open(at)

    def route(self, ticket: TicketClass, at: Optional[datetime] = None,
              active_surges: Iterable[Surge] = (), explain: bool = False) -> Route:
        """The owner of ``ticket`` at ``at`` (``None``: ignore `during` calendars)."""
        surged = surge_route(ticket, active_surges)
        losers: list[tuple[RoutingRule, str]] = []
        if surged is not None and surged.surge is not None:
            if explain:
                losers = [(rule, f"surge `{surged.surge.id}` is active") for rule in self.candidates(ticket)]
            return Route(surged.role, None, surged.surge, tuple(losers))
        chosen = None
        for rule in self.candidates(ticket):
            if chosen is None and self.applies_at(rule, at):
                chosen = rule
                if not explain:
                    break
            elif chosen is None:
                losers.append((rule, f"outside calendar `{rule.during}`"))
            elif rule.precedence == chosen.precedence:
                losers.append((rule, f"same precedence {rule.precedence} as `{chosen.id}`, which comes first in the file"))
            else:
                losers.append((rule, f"lower precedence ({rule.precedence} < {chosen.precedence})"))
        if chosen is None:
            return Route(self.org.info.fallback_queue, None, None, tuple(losers))
        return Route(chosen.to, chosen, None, tuple(losers))
