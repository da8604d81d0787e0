"""Clocks: the real one for services, a virtual one for tests and simulation (no sleeps anywhere)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

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
    """Time that moves only when told to, so a month of tickets replays in seconds."""

    def __init__(self, start: datetime):
        self._now = _in_utc(start)
        self._lock = guarded()

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time does not run backwards")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> datetime:
        """Move to ``moment`` (never backwards)."""
        moment = _in_utc(moment)
        with self._lock:
            if moment > self._now:
                self._now = moment
            return self._now


def _in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, made from its instant in microseconds, which the engine reads of an event's time anyway
    (``astimezone`` would ask its zone for the offset once more); refused if it has no zone or its zone no offset, where
    Python would read it in the machine's own zone."""
    if moment.tzinfo is UTC:
        return moment
    try:
        return utc_moment(micros(moment))
    except TypeError:
        if moment.utcoffset() is not None:
            raise
        raise ValueError("VirtualClock needs timezone-aware moments, e.g. datetime(..., tzinfo=ZoneInfo('Asia/Shanghai'))") from None
