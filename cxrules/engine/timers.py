"""The registry of timer kinds: each part of the engine registers the kinds it schedules with what fires them.

Timers are kept by the store as plain data (a kind, a key, a payload), so a restart can fire
a timer scheduled before it; the kind is the only link back to the code that fires it. A store
edited by hand may hold any kind and any payload: each kind says what its payload must be, and a
timer of no known kind, or whose payload is not that, is skipped and noted, never fired (a timer
that failed every time it fired would hold back every timer due after it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Final, NamedTuple, Optional, TypeAlias

from . import decisions as d
from .eventcheck import quoted
from .store import Store, TicketState, Timer

__all__ = ["TimerKinds", "Payload", "TEXT", "is_count"]

Fire: TypeAlias = Callable[[Timer], list[d.Decision]]
FireForTicket: TypeAlias = Callable[[TicketState, Timer], list[d.Decision]]
Silent: TypeAlias = Callable[[TicketState, Timer], bool]


class Payload(NamedTuple):
    """What a kind's payload must be: ``fits`` tells, ``words`` says it in the fault that skips a timer it does not fit."""

    fits: Callable[[Any], bool]
    words: str


def _is_text(data: Any) -> bool:
    return type(data) is str


TEXT: Final = Payload(_is_text, "an id (text)")
"""The payload of most kinds: the id of what the timer is for (an automation, a surge, a role, a follow-up policy)."""


def is_count(data: Any) -> bool:
    """A whole number from zero (a level, a generation): not a bool, which Python counts as one."""
    return type(data) is int and data >= 0


class TimerKinds:
    """Schedules timers in the store and fires each by its kind."""

    def __init__(self, store: Store, faults: list[str]):
        self.store = store
        self.faults = faults
        self._fire: dict[str, Fire] = {}
        self._silent: dict[str, Silent] = {}
        self._payloads: dict[str, Payload] = {}

    def register(self, kind: str, fire: Fire, payload: Payload) -> None:
        """``fire`` decides what a due timer of ``kind`` means now; it is only given a timer whose data ``payload`` fits."""
        if kind in self._fire:
            raise ValueError(f"timer kind {kind} is registered twice")
        self._fire[kind] = fire
        self._payloads[kind] = payload

    def register_for_ticket(self, kind: str, fire: FireForTicket, silent: Silent, payload: Payload) -> None:
        """Like :meth:`register`, for timers of one ticket: ``fire`` gets the ticket; once it is gone, nothing fires.

        ``silent(ticket, timer)``: whether the timer, due now, decides nothing and changes nothing (its ticket moved on);
        it only reads, so a store may drop such a timer unfired (see :meth:`spent`). ``fire`` is only given the others.
        """
        def fire_if_kept(timer: Timer) -> list[d.Decision]:
            ticket = self.store.get(timer.ticket_id) if timer.ticket_id else None
            return fire(ticket, timer) if ticket is not None and not silent(ticket, timer) else []

        self.register(kind, fire_if_kept, payload)
        self._silent[kind] = silent

    def spent(self, ticket: Optional[TicketState], timer: Timer) -> bool:
        """Whether ``timer``, due now, would fire nothing for ``ticket`` (None: the ticket is gone); a timer of no ticket is never
        spent here (firing it may change what it watches), nor one whose payload does not fit its kind, or whose check fails:
        firing it notes the fault."""
        silent = self._silent.get(timer.kind)
        try:
            return silent is not None and (ticket is None or (self._payloads[timer.kind].fits(timer.data) and silent(ticket, timer)))
        except Exception:  # a bug in the check: the timer is fired, in a unit of work that notes it and undoes what it began
            return False

    def schedule(self, due: Optional[datetime], kind: str, ticket: Optional[TicketState], key: str, data: Any = None,
                 seq: object = None) -> None:
        """A timer at ``due`` (none if ``due`` is None); ``key`` must be stable, since a fired key never fires again.
        ``seq``: see :meth:`.Store.schedule`; one that no reservation can have given (read back from a store edited by hand)
        is not trusted with a place in the schedule: the timer takes the next number. (Typed `object`: compiled code takes
        an `int` parameter on trust, and this one may be anything.)"""
        if due is not None:
            trusted = seq if type(seq) is int and 0 <= seq < self.store.next_seq else None
            self.store.schedule(due, kind, ticket.id if ticket else None, key, data, trusted)

    def reserve_seq(self) -> int:
        """A number for a timer scheduled later, taken now (see :meth:`.Store.schedule`)."""
        return self.store.reserve_seq()

    def fire(self, timer: Timer) -> list[d.Decision]:
        fire = self._fire.get(timer.kind)
        if fire is None:  # only a store edited by hand holds one: one bad timer must not stop every run
            self.faults.append(f"timer `{timer.key}` of unknown kind `{timer.kind}` skipped")
            return []
        payload = self._payloads[timer.kind]
        if not payload.fits(timer.data):  # the same
            self.faults.append(f"timer `{timer.key}` of kind `{timer.kind}` skipped: its payload {quoted(repr(timer.data), 160)} is not "
                               f"{payload.words}")
            return []
        return fire(timer)
