"""Handing decisions to the service's handlers: at least once, retried with backoff, dead-lettered at last.

A decision is *delivered* when every handler registered for it has returned. A handler
that raises leaves its decision undelivered: the store keeps it so (a restart runs all its
handlers again), and while the process lives it is retried after a growing delay, on the
engine's clock, by :meth:`Engine.advance`, :meth:`Engine.submit` and :meth:`Engine.start`
(or at once by :meth:`Engine.redeliver`). Retries call only the handlers that failed. After
``DeliveryPolicy.attempts`` failed tries the decision becomes a *dead letter*: kept by the
store, listed in :attr:`Engine.dead_letters` and :attr:`Engine.faults`, and never tried
again by itself.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable, Final, Optional, TypeAlias

from . import decisions as d
from .retries import DeadLetter, DeliveryPolicy, Undelivered

__all__ = ["DeliveryPolicy", "Undelivered", "DeadLetter", "Handler"]  # the values, here as before they had a module of their own

log: Final = logging.getLogger("cxrules.engine")
Handler: TypeAlias = Callable[[d.Decision], None]


class Delivery:
    """The handlers, and the decisions still owed to some of them (not thread-safe: the engine's lock guards it)."""

    def __init__(self, policy: DeliveryPolicy, store, now: Callable[[], datetime]) -> None:
        """``now``: the engine's clock, asked only when a handler fails or a retry is owed."""
        self.policy = policy
        self.store = store
        self.now = now
        self.handlers: dict[Optional[type], list[Handler]] = {}
        self._of_kind: dict[type, tuple[Handler, ...]] = {}
        """The handlers of each kind of decision met: its own, then those of every decision (see :meth:`on`)."""
        self._owed: dict[str, tuple[Undelivered, tuple[Handler, ...]]] = {}
        self._earliest: Optional[datetime] = None
        """The soonest retry: every event asks whether one is due, so the answer must not cost a scan."""
        self.faults: list[str] = []

    def on(self, kind: Optional[type], handler: Handler) -> None:
        self.handlers.setdefault(kind, []).append(handler)
        self._of_kind.clear()

    def _handlers_of(self, kind: type) -> tuple[Handler, ...]:
        """A decision's handlers, worked out once per kind until a handler is added: every decision asks."""
        handlers = self._of_kind.get(kind)
        if handlers is None:
            handlers = self._of_kind[kind] = tuple(self.handlers.get(kind, ())) + tuple(self.handlers.get(None, ()))
        return handlers

    def deliver(self, decisions: list[d.Decision], fresh: bool = True) -> None:
        """Run every handler of each decision; mark the fully delivered ones in the store.

        ``fresh``: decisions just made, never tried; otherwise (after a restart) the store says how often they failed.
        """
        if not self.handlers:  # nobody listens (a simulation): every decision is delivered as made
            if decisions:
                self.store.dispatched(decisions)
            return
        done = []
        for decision in decisions:
            handlers = self._handlers_of(type(decision))
            if self._run(decision, handlers, 0 if fresh else self.store.delivery_attempts(decision.key), None):
                done.append(decision)
        if done:
            self.store.dispatched(done)

    def retry(self, now: Optional[datetime] = None, everything: bool = False) -> None:
        """Try again the decisions whose wait is over by ``now`` (None: the clock's; ``everything``: all of them, now)."""
        if self._earliest is None:
            return
        if now is None:
            now = self.now()
        if not everything and now < self._earliest:
            return
        due = [(owed, handlers) for owed, handlers in self._owed.values() if everything or owed.next_try <= now]
        done = []
        for owed, handlers in sorted(due, key=lambda item: (item[0].next_try, item[0].decision.key)):
            del self._owed[owed.decision.key]
            if self._run(owed.decision, handlers, owed.attempts, now):
                done.append(owed.decision)
        self._earliest = min((owed.next_try for owed, _ in self._owed.values()), default=None)
        if done:
            self.store.dispatched(done)

    @property
    def undelivered(self) -> list[Undelivered]:
        return sorted((owed for owed, _ in self._owed.values()), key=lambda owed: (owed.next_try, owed.decision.key))

    def _run(self, decision: d.Decision, handlers: tuple[Handler, ...], failed_before: int, now: Optional[datetime]) -> bool:
        """True when every handler returned; otherwise the decision is owed to those that raised (from ``now``; None: the
        clock's)."""
        failing: Optional[list[Handler]] = None  # made only when one raises: every decision comes through here
        error = ""
        for handler in handlers:
            try:
                handler(decision)
            except Exception as raised:  # a broken handler must not lose the decision nor the engine's state
                if failing is None:
                    failing = []
                failing.append(handler)
                error = f"{type(raised).__name__}: {raised}"
        if failing is None:
            return True
        attempts = failed_before + 1
        log.warning("handler failed on %s (try %d of %d): %s", decision.key, attempts, self.policy.attempts, error)
        if attempts >= self.policy.attempts:
            self.faults.append(f"handler failed on {decision.key} {attempts} times, last with {error}; kept as a dead letter")
            self.store.dead_letter(decision, attempts, error)
        else:
            self.faults.append(f"handler failed on {decision.key} (try {attempts} of {self.policy.attempts}): {error}; "
                               f"tried again in {self.policy.delay(attempts)}")
            self.store.delivery_failed(decision, attempts, error)
            next_try = (self.now() if now is None else now) + self.policy.delay(attempts)
            self._owed[decision.key] = (Undelivered(decision, attempts, next_try, error), tuple(failing))
            self._earliest = next_try if self._earliest is None else min(self._earliest, next_try)
        return False
