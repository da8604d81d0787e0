"""Clocks: the real one for services, a virtual one for tests and simulation (no sleeps anywhere)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional, Protocol

from ..calendars import UTC, micros, utc_moment
from ..fastcalls import guarded

__all__ = ["Clock", "RealClock", "VirtualClock"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware."""


class RealClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """Time that moves only when told to, so a month of tickets replays in seconds.

    It keeps its instant in µs and makes the UTC moment :meth:`now` gives only when asked: the engine moves it to every
    event's time (:meth:`move_to`) and seldom asks it back (a handler that fails, a retry owed), and a UTC moment made for
    each event was a sixteenth of the engine's work on it."""

    def __init__(self, start: datetime):
        self._now: Optional[datetime] = _in_utc(start)
        """The moment :meth:`now` gives, None until asked after the clock moved (made and cleared under the lock)."""
        self._count: int = micros(self._now)
        """The clock's instant, µs since the epoch."""
        self._lock = guarded()

    def now(self) -> datetime:
        now = self._now
        if now is not None:
            return now
        with self._lock:
            return self._made()

    def _made(self) -> datetime:
        """The clock's moment, made if it is not yet (the lock held: it is not taken twice)."""
        if self._now is None:
            self._now = utc_moment(self._count)
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time does not run backwards")
        with self._lock:
            moved = self._made() + delta
            self._count, self._now = micros(moved), moved
            return moved

    def set(self, moment: datetime) -> datetime:
        """Move to ``moment`` (never backwards)."""
        self.move_to(moment)
        return self.now()

    def move_to(self, moment: datetime) -> bool:
        """Move to ``moment`` (never backwards); whether the clock is at its instant now (it moved there, or was there), in
        which case ``moment`` may stand for :meth:`now` and no moment need be made."""
        count = _instant(moment)
        with self._lock:
            if count > self._count:
                self._count, self._now = count, None
            return count == self._count


def _in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, made from its instant in microseconds (``astimezone`` would ask its zone for the offset once
    more); refused as :func:`_instant` refuses."""
    return moment if moment.tzinfo is UTC else utc_moment(_instant(moment))


def _instant(moment: datetime) -> int:
    """``moment``'s instant in µs, which the engine reads of an event's time anyway; refused if it has no zone or its zone no
    offset, where Python would read it in the machine's own zone."""
    try:
        return micros(moment)
    except TypeError:
        if moment.utcoffset() is not None:
            raise
        raise ValueError("VirtualClock needs timezone-aware moments, e.g. datetime(..., tzinfo=ZoneInfo('Asia/Shanghai'))") from None
