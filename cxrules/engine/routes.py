"""The routing decisions the engine asks for on every new ticket, served from a cache in compiled code.

:class:`~.durable.DurableRouter` decides a class's winner by posting it to durable-rules, once per set of rules taking
the class (see there); every later ticket of that class, and state of the `during` calendars, is one lookup here. The
module that talks to durable-rules stays interpreted (durable-rules reads its action's ``__code__``), and a call into
it, three of them a ticket, was an interpreted frame each.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Callable, Final, Iterable, Optional, TypeAlias

from ..calendars import BusinessCalendar, Stretch
from ..model import Org, Surge
from ..routing import Route, TicketClass, surge_route_of

__all__ = ["RouteCache", "ClassFields", "Decide"]

ClassFields: TypeAlias = tuple
"""A ticket's class as its fields: category, channel, segment, priority, member. Typed as any tuple: compiled code checks
each element of a tuple typed element by element, and a service may hand a member flag that is not a bool (1, or None
for not known), which the reference router takes."""

Decide: TypeAlias = Callable[[ClassFields, Optional[TicketClass], frozenset[str]], Optional[str]]
"""The winner of a class (its fields, its :class:`TicketClass` if the caller has it) with these `during` calendars open:
a rule's id, None for the fallback queue."""

_NONE: Final[frozenset[str]] = frozenset()
_UNKNOWN: Final = object()
"""What the cache gives for a class it has not decided yet (None is a winner: the fallback queue)."""


class RouteCache:
    """Routes by a ticket's class and the calendars of `during` rules open at its moment, each decided once by ``decide``
    (under a lock: a class is never posted twice), then looked up; thread-safe."""

    def __init__(self, org: Org, decide: Decide) -> None:
        self.calendars: Final = {c.id: BusinessCalendar(c) for c in org.calendars if any(r.during == c.id for r in org.routing)}
        """The calendars of `during` rules: only whether these are open can change a winner."""
        self._all_calendars: Final = frozenset(self.calendars)
        self._open_known: Optional[tuple[Stretch, frozenset[str]]] = None
        """The last stretch of time in which the same calendars were open, and their ids; replaced whole."""
        self._routes: Final = {rule.id: Route(rule.to, rule) for rule in org.routing}
        self._fallback: Final = Route(org.info.fallback_queue, None)
        self._decide: Final = decide
        self._lock: Final = threading.Lock()
        self._cache: Final[dict[object, Optional[str]]] = {}
        """Winners by the fields of a ticket's class, or by (fields, open calendars) for rules with `during`."""

    def open_calendars(self, at: Optional[datetime]) -> frozenset[str]:
        """The calendars of `during` rules open at ``at`` (all of them at no moment); the set stands until one of them
        opens or closes, so it is worked out once per stretch."""
        if not self.calendars:
            return _NONE
        if at is None:
            return self._all_calendars
        known = self._open_known
        if known is not None and at in known[0]:  # most tickets come within the stretch of the one before
            return known[1]
        opened, ends = [], []
        for cid, calendar in self.calendars.items():
            is_open, until = calendar.stretch(at)
            if is_open:
                opened.append(cid)
            if until is not None:
                ends.append(until)
        result = frozenset(opened)
        if len(ends) == len(self.calendars):  # a calendar that cannot say how long it stays as it is: nothing to remember
            self._open_known = (Stretch(at, min(ends)), result)
        return result

    def winner_of(self, fields: ClassFields, at: Optional[datetime], ticket: Optional[TicketClass]) -> Optional[str]:
        """The id of the rule that owns the class of ``fields`` at ``at`` (None: the fallback queue), cached by them: a tuple
        of text is hashed and compared in C, where a :class:`TicketClass` (a dataclass) runs Python for each, and the engine
        has the fields of a ticket, not its class (``ticket``: the class, if the caller has it)."""
        open_calendars = self.open_calendars(at)
        key: object = (fields, open_calendars) if open_calendars else fields
        known = self._cache.get(key, _UNKNOWN)  # not a KeyError caught: a cold start misses on every class
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._decide(fields, ticket, open_calendars)
            return self._cache[key]

    def route_fields(self, fields: ClassFields, at: Optional[datetime] = None, active_surges: Iterable[Surge] = (),
                     ticket: Optional[TicketClass] = None) -> Route:
        """The route of the class of these fields (what :meth:`.TicketState.class_fields` gives) at ``at``, a surge's team
        first; its :class:`TicketClass` built only if durable-rules is asked (``ticket``: it, if at hand)."""
        if active_surges and (surged := surge_route_of(fields, active_surges)) is not None:  # none active: no call
            return surged
        rule_id = self.winner_of(fields, at, ticket)
        return self._fallback if rule_id is None else self._routes[rule_id]

    def clear(self) -> None:
        """Forget every winner (the ruleset that decided them is gone)."""
        self._cache.clear()
