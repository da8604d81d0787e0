"""Time on an org's calendars: weekly hour sets for static analysis, business time for the engine.

Static checks reason about a typical week (:class:`WeekSet`, minutes from Monday 00:00 in the
org's time zone). The engine works on real dates (:class:`BusinessCalendar`): holidays from
the `holidays` library (China's public holidays and weekend make-up working days included),
the org's own closed and open dates, time zones and DST.

On real dates a calendar is a set of shifts, each starting on a date and perhaps running past
midnight (``22:00-06:00``). A date's kind decides which shifts *start* on it: an ordinary
date starts its weekday's shifts, a make-up working day (or an `open` date) the union of
Monday's and its own weekday's, a holiday or `closed` date none. A shift that has started
runs to its end, so the tail of a Friday night shift is worked on a Saturday holiday, and a
holiday's night shift is not worked into the next morning.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from enum import Enum
from functools import lru_cache
from typing import Final, Iterable, Iterator, Literal, TypeAlias
from zoneinfo import ZoneInfo

from mypy_extensions import i64

from .fastcalls import ints_bisect_left, ints_bisect_right
from .model import Calendar, Interval, WorkingDays

__all__ = ["WeekSet", "WEEK", "week_set", "BusinessCalendar", "Stretch", "micros", "remember_micros", "seconds", "utc_moment", "elapsed", "shift", "in_zone", "wall_instant", "local_date", "hour_start", "HourOfWeek", "HOUR_MICROS", "not_after",
           "span_micros", "iso_text", "UTC", "DATETIME"]

WEEK: Final = 7 * 1440
_DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class WeekSet:
    """A set of minutes of the week as sorted, disjoint ``(start, end)`` intervals."""

    intervals: tuple[tuple[int, int], ...] = ()

    @staticmethod
    def of(intervals: Iterable[tuple[int, int]]) -> "WeekSet":
        merged: list[list[int]] = []
        for start, end in sorted((max(0, s), min(WEEK, e)) for s, e in intervals):
            if end <= start:
                continue
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return WeekSet(tuple((s, e) for s, e in merged))

    @staticmethod
    def full() -> "WeekSet":
        return WeekSet(((0, WEEK),))

    def __bool__(self) -> bool:
        return bool(self.intervals)

    @property
    def minutes(self) -> int:
        return sum(e - s for s, e in self.intervals)

    def __or__(self, other: "WeekSet") -> "WeekSet":
        if self.intervals == other.intervals or not other.intervals:
            return self
        return _union(self, other)

    def __and__(self, other: "WeekSet") -> "WeekSet":
        # Checks meet the same few calendars millions of times: answer those from a cache.
        if self.intervals == other.intervals or other.intervals == _FULL:
            return self
        if self.intervals == _FULL:
            return other
        return _intersection(self, other)

    def __sub__(self, other: "WeekSet") -> "WeekSet":
        return self & other.complement()

    def complement(self) -> "WeekSet":
        result, cursor = [], 0
        for start, end in self.intervals:
            if start > cursor:
                result.append((cursor, start))
            cursor = end
        if cursor < WEEK:
            result.append((cursor, WEEK))
        return WeekSet(tuple(result))

    def shifted(self, minutes: int) -> "WeekSet":
        """The same hours seen from a time zone ``minutes`` ahead (wrapping round the week)."""
        pieces = []
        for start, end in self.intervals:
            s, e = start + minutes, end + minutes
            pieces.extend(_wrap(s, e))
        return WeekSet.of(pieces)

    def days_open(self) -> int:
        """How many days of the week have any open minute."""
        return sum(1 for day in range(7) if any(start < (day + 1) * 1440 and end > day * 1440 for start, end in self.intervals))

    def describe(self) -> str:
        """Readable form: `Mon–Fri 09:00–18:00; Sat 09:00–12:00`, `Sat–Sun`, `always`."""
        if not self.intervals:
            return "never"
        if self.intervals == ((0, WEEK),):
            return "at all hours"
        per_day: list[tuple[tuple[int, int], ...]] = []
        for day in range(7):
            lo, hi = day * 1440, (day + 1) * 1440
            per_day.append(tuple((max(s, lo) - lo, min(e, hi) - lo) for s, e in self.intervals if s < hi and e > lo))
        groups: list[tuple[int, int, tuple]] = []
        for day, spans in enumerate(per_day):
            if groups and groups[-1][2] == spans and groups[-1][1] == day - 1:
                groups[-1] = (groups[-1][0], day, spans)
            else:
                groups.append((day, day, spans))
        parts = []
        for first, last, spans in groups:
            if not spans:
                continue
            days = "daily" if (first, last) == (0, 6) else _DAY_NAMES[first] if first == last else f"{_DAY_NAMES[first]}–{_DAY_NAMES[last]}"
            if spans == ((0, 1440),):
                parts.append(days)
            else:
                parts.append(f"{days} " + ", ".join(f"{_hhmm(s)}–{_hhmm(e)}" for s, e in spans))
        return "; ".join(parts)


_FULL: Final = ((0, WEEK),)


@lru_cache(maxsize=4096)
def _union(a: WeekSet, b: WeekSet) -> WeekSet:
    return WeekSet.of(a.intervals + b.intervals)


@lru_cache(maxsize=4096)
def _intersection(a: WeekSet, b: WeekSet) -> WeekSet:
    return WeekSet(tuple(intersect_spans(a.intervals, b.intervals)))


def _wrap(start: int, end: int) -> list[tuple[int, int]]:
    start_mod = start % WEEK
    length = end - start
    if start_mod + length <= WEEK:
        return [(start_mod, start_mod + length)]
    return [(start_mod, WEEK), (0, start_mod + length - WEEK)]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _utc_offset_minutes(zone: str) -> int:
    offset = datetime(2025, 1, 15, 12, tzinfo=ZoneInfo(zone)).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return int(offset.total_seconds() // 60)


def week_set(calendar: Calendar, view_zone: str | None = None) -> WeekSet:
    """The calendar's weekly open hours, seen in ``view_zone`` (default: its own zone).

    Static analysis uses a January reference day for UTC offsets; the engine handles DST
    exactly through :class:`BusinessCalendar`.
    """
    if calendar.dates is not None:
        return WeekSet()  # a campaign's calendar: closed in a typical week, open on its dates (see dated_week)
    base = WeekSet.of((day * 1440 + interval.start, day * 1440 + interval.end)
                      for day, intervals in enumerate(calendar.week) for interval in intervals)
    if view_zone and view_zone != calendar.timezone:
        return base.shifted(_utc_offset_minutes(view_zone) - _utc_offset_minutes(calendar.timezone))
    return base


def dated_week(calendar: "BusinessCalendar", day: date, view_zone: str | None = None) -> WeekSet:
    """The calendar's weekly hours with ``day``'s weekday replaced by that date's real hours (a public
    holiday closed, a make-up working day open, the tail of the night before), seen in ``view_zone``."""
    start = day.weekday() * 1440
    typical = week_set(calendar.calendar)
    dated = WeekSet.of((start + interval.start, start + interval.end) for interval in calendar.hours_on(day))
    week = (typical - WeekSet.of([(start, start + 1440)])) | dated
    if view_zone and view_zone != calendar.calendar.timezone:
        return week.shifted(_utc_offset_minutes(view_zone) - _utc_offset_minutes(calendar.calendar.timezone))
    return week


@lru_cache(maxsize=64)
def _holiday_dates(country: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """A country's public holidays in ``year`` and its make-up working days, as plain sets of dates: a calendar asks of
    every date it lays out and of the date before, and the `holidays` package's own lookup converts each key first (18
    times as long as a set's)."""
    import holidays

    table = holidays.country_holidays(country, years=year)
    return frozenset(table), frozenset(getattr(table, "weekend_workdays", ()))


_STARTS_NONE: Final = 0
"""A date's kind, by the shifts that start on it: none (a holiday, a `closed` date, a campaign's date off),"""
_STARTS_OWN: Final = 1
"""its weekday's (an ordinary date),"""
_STARTS_WITH_MONDAY: Final = 2
"""or Monday's and its weekday's (a make-up working day, an `open` date)."""
_KINDS: Final = 3


HORIZON: Final = timedelta(days=732)
"""How far ahead business time is looked up: twice the longest target an org may set (366 days)."""
_HORIZON_DAYS: Final = HORIZON.days
_WORKING_DAYS: Final = WorkingDays
"""A target counted in working days (`3wd`), checked for on every deadline."""


class BusinessCalendar:
    """Open hours on real dates, and business-time arithmetic on them (immutable, thread-safe)."""

    def __init__(self, calendar: Calendar):
        self.calendar = calendar
        self.zone = ZoneInfo(calendar.timezone)
        self._days: dict[date, tuple] = {}
        self._midnights: dict[date, datetime] = {}
        self._table: _SpanTable | None = None
        """Open spans of a stretch of dates with their running total: replaced whole, so safe across threads."""
        self._known: tuple[Stretch, bool] | None = None
        """The last stretch :meth:`is_open` looked up, and whether the calendar is open in it; replaced whole, so safe across
        threads."""
        shifts = calendar.shifts
        self._starting: tuple[tuple[tuple[Interval, ...], ...], ...] = (
            ((),) * 7, shifts, tuple(_merged(shifts[0] + shifts[weekday]) for weekday in range(7)))
        """The shifts that start on a date, by its kind and then its weekday."""
        self._hours: tuple[tuple[Interval, ...], ...] = tuple(
            _day_hours(self._starting[kind][weekday], self._starting[before][(weekday - 1) % 7])
            for before in range(_KINDS) for kind in range(_KINDS) for weekday in range(7))
        """A date's open hours, by the kind of the date before, its own kind and its weekday: all a date's hours depend on
        (63 entries, worked out once rather than for each date)."""
        self._working_days = lru_cache(maxsize=4096)(self._working_days_after)
        """:meth:`add_working_days` by (start in µs, count), the latest asked: an SLA of working days asks it three times of
        one ticket (its deadline, its warning's length, its figure). By instant: two times of a repeated hour are equal to
        Python's `==`."""

    def shifts_on(self, day: date) -> tuple[Interval, ...]:
        """The shifts that start on a local date, as written (an end past midnight goes past 1440).

        A `closed` date or a public holiday starts none; an `open` date or a make-up working
        day starts Monday's shifts and its own weekday's, so it never loses working time.
        """
        return self._starting[self._kind(day)][day.weekday()]

    def _kind(self, day: date) -> int:
        """Which shifts start on a local date (``_STARTS_*``), by the precedence :meth:`shifts_on` tells."""
        calendar = self.calendar
        if day in calendar.closed or (calendar.dates is not None and day not in calendar.dates):
            return _STARTS_NONE
        if day in calendar.open:
            return _STARTS_WITH_MONDAY
        if calendar.holiday_country:
            holidays, workdays = _holiday_dates(calendar.holiday_country, day.year)
            if day in holidays:
                return _STARTS_NONE
            if day in workdays:
                return _STARTS_WITH_MONDAY
        return _STARTS_OWN

    def is_working_day(self, day: date) -> bool:
        """Whether any shift starts on the local date (the unit `wd` durations count)."""
        return bool(self.shifts_on(day))

    def hours_on(self, day: date) -> tuple[Interval, ...]:
        """Open intervals of a local date (within 00:00-24:00): its own shifts up to midnight,
        and the part after midnight of the shifts the day before started."""
        return self._hours[(self._kind(day - _DAY) * _KINDS + self._kind(day)) * 7 + day.weekday()]

    def intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (aware, UTC) from ``start`` on, the first one clipped to ``start``.

        Looks at most :data:`HORIZON` ahead (a deadline further away is no deadline: ``add``
        returns None), so a calendar that never or seldom opens cannot loop for ever, and
        dates never run past the end of the calendar.
        """
        day = local_date(start, self.zone)
        last = date.max - timedelta(days=2) if day > date.max - HORIZON - timedelta(days=2) else day + HORIZON
        while day <= last:
            spans = self._spans(day)
            for opens, closes in spans:
                if closes <= start:
                    continue
                yield max(opens, start), closes
            day += timedelta(days=1)

    def _spans(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """A local date's open intervals as UTC instants, computed once per date; none on a date the zone skipped (Apia
        went from 29 to 31 December 2011), whose hours would lie on the instants of the next date's and count twice."""
        spans = self._days.get(day)
        if spans is None:
            skipped = day < date.max and self._midnight(day + _DAY) <= self._midnight(day)
            spans = () if skipped else tuple((self._instant(day, i.start), self._instant(day, i.end)) for i in self.hours_on(day))
            if len(self._days) > 20_000:
                self._days.clear()
            self._days[day] = spans
        return spans

    def _instant(self, day: date, minute: int) -> datetime:
        """The UTC instant of a minute (0–1440) of a local date; a wall time the clock skipped or repeated as Python reads
        it (its first fold)."""
        if minute == 0 or minute >= 1440:
            return self._midnight(day + _DAY if minute else day)
        return datetime.combine(day, _TIMES_OF_DAY[minute], self.zone).astimezone(UTC)

    def _midnight(self, day: date) -> datetime:
        """The UTC instant a local date begins, kept: it is asked of each date laid out, by its own hours, by the date
        before it (to tell whether that date was skipped) and by the table's running total."""
        moment = self._midnights.get(day)
        if moment is None:
            if len(self._midnights) > 20_000:
                self._midnights.clear()
            moment = self._midnights[day] = datetime.combine(day, _TIMES_OF_DAY[0], self.zone).astimezone(UTC)
        return moment

    def _table_for(self, day: date, ahead: int) -> "_SpanTable | None":
        """A table holding ``day`` and ``ahead`` dates after it. It grows as the clock moves (forward by doubling, back by
        what is asked), so it is seldom rebuilt; a date more than a year from it starts a new one. None near either end
        of the calendar, where the walk of :meth:`intervals_from` answers instead."""
        table = self._table
        if table is not None and table.first <= day and (day - table.first).days + ahead <= table.days:
            return table
        if not date.min + timedelta(days=7) <= day <= date.max - HORIZON - timedelta(days=2):
            return None
        # reckoned in ordinals: near the last dates a datetime holds, the dates these bounds would name may lie past it
        asked = day.toordinal()
        start, stop = asked, asked + max(ahead, 64)
        if table is not None:
            begin = table.first.toordinal()
            end = begin + table.days
            if begin - _YEAR_DAYS <= asked <= end + _YEAR_DAYS:
                # dates more than a year before the one asked are let go: a service running for years keeps a table of two
                start = max(begin, asked - _YEAR_DAYS) if asked >= begin else asked - 7
                stop = max(start + 2 * (end - start), asked + ahead)
        first, last = date.fromordinal(start), date.fromordinal(min(stop, _LAST_ORDINAL - 1))
        dates = [first + timedelta(days=n) for n in range((last - first).days)]
        midnights = [self._midnight(day) for day in (*dates, last)]
        table = _SpanTable(first, [self._spans(day) for day in dates], [self.is_working_day(day) for day in dates],
                           [micros(midnight) for midnight in midnights], [midnight.astimezone(self.zone).utcoffset() for midnight in midnights],
                           [max([shift.end - 1440 for shift in self.shifts_on(day - _DAY)], default=0) for day in dates])
        self._table = table
        return table

    def _search(self, start: datetime, ahead: int = 2, moment: int | None = None) -> "_Place | None":
        """Where ``start`` falls in a table holding its date and ``ahead`` dates after it (see :class:`_Place`). ``moment``:
        ``start`` in µs, if the caller has it."""
        moment = micros(start) if moment is None else moment
        table = self._table
        offset = table.date_of(moment, ahead) if table is not None else None
        if table is None or offset is None:  # not in the table as it is: found by the local date, which may grow the table
            day = local_date(start, self.zone)
            table = self._table_for(day, ahead)
            if table is None:
                return None
            offset = (day - table.first).days
        return table.place(moment, offset)

    def is_open(self, moment: datetime) -> bool:
        return self.stretch(moment)[0]

    def stretch(self, moment: datetime) -> tuple[bool, datetime | None]:
        """Whether the calendar is open at ``moment``, and until when that holds at least (None: not known)."""
        known = self._known
        if known is not None and moment in known[0]:  # asked again and again within one stretch
            return known[1], known[0].end
        found = self._search(moment)
        if found is None:
            return any(opens <= moment for opens, _ in itertools.islice(self.intervals_from(moment), 1)), None
        table, instant, first, hi = found.table, found.moment, found.first, found.hi
        if first >= hi:  # no span left in the table: closed at least until its last date ends
            return False, self._instant(table.first + timedelta(days=table.days - 1), 1440)
        opened = table.starts[first] <= instant
        until = table.closed[first] if opened else table.opened[first]
        self._known = (Stretch(moment, until), opened)
        return opened, until

    def add(self, start: datetime, duration: timedelta) -> datetime | None:
        """The deadline ``duration`` of business time after ``start``; None if the calendar never opens.

        Hours and minutes count open time: where ``start`` falls in the running total of open
        time, and a bisect for where it has grown by ``duration``. :class:`~cxrules.model.WorkingDays`
        (`3wd`) counts working days: see :meth:`add_working_days`.
        """
        if isinstance(duration, _WORKING_DAYS):
            return self.add_working_days(start, duration.count)
        for ahead in (2, _HORIZON_DAYS + 1):  # most deadlines fall within the table as it is
            found = self._search(start, ahead)
            if found is None:
                break
            deadline = _deadline(found, start, duration)
            if deadline is not _BEYOND:
                return deadline
        return self._walk_add(start, duration)

    def add_each(self, start: datetime, durations: tuple[timedelta, ...]) -> list[datetime | None]:
        """:meth:`add` of each duration from one start, which is found in the table once (an SLA's targets and warnings).
        A tuple, not ``*durations``: compiled code then calls this directly, not through Python's call."""
        found = self._search(start)
        deadlines = []
        for duration in durations:
            # a plain timedelta is told by its type, in a few instructions: isinstance asks the class
            hours = type(duration) is _TIMEDELTA or not isinstance(duration, _WORKING_DAYS)
            deadline = _deadline(found, start, duration) if found is not None and hours else _BEYOND
            deadlines.append(self.add(start, duration) if deadline is _BEYOND else deadline)
        return deadlines

    def _walk_add(self, start: datetime, duration: timedelta) -> datetime | None:
        remaining = duration
        for opens, closes in self.intervals_from(start):
            span = closes - opens
            if remaining <= span:
                return elapsed(opens, remaining)
            remaining -= span
        return None

    def add_working_days(self, start: datetime, count: int) -> datetime | None:
        """The same local time on the ``count``-th working day after the start's; None if the
        calendar stops opening.

        A start outside open hours counts from the next opening (a ticket that arrives on
        Saturday is due, with `1wd`, one working day after Monday's opening). A working day is
        a date on which a shift starts (:meth:`is_working_day`); a start in the part of a night
        shift after midnight belongs to the date the shift started on, so `1wd` is always one
        shift's worth. The deadline is that wall-clock time even if the calendar is closed then
        (e.g. on a shorter Saturday).
        """
        return self._working_days(micros(start), count)

    def _working_days_after(self, moment: int, count: int) -> datetime | None:
        """:meth:`add_working_days` of the instant ``moment`` (µs since the epoch), worked out: it depends on the instant only."""
        due = self._working_days_in_table(moment, count)
        return self._working_days_walked(moment, count) if due is _BEYOND else due

    def _working_days_in_table(self, moment: int, count: int) -> "datetime | None | Literal[_Beyond.BEYOND]":
        """:meth:`_working_days_walked` read off the table as it is, in µs: the next opening and the due date are bisects,
        and a local time of day is an instant less its date's midnight (datetimes made, converted and taken apart cost ten
        times as much). :data:`_BEYOND` where the table does not hold every date it would read, where the clocks change on
        the start's, the opening's or the due date, or where the opening may lie in the tail of the night before's shift."""
        table = self._table
        index = table.date_of(moment, 2) if table is not None else None
        if table is None or index is None:
            return _BEYOND
        found = table.place(moment, index)  # as next_open looks
        if found.first >= found.hi:
            return None if found.complete else _BEYOND
        begin = max(moment, table.starts[found.first])
        day = table.date_of(begin, 2 * count + 16)  # as _nth_working_day_after first asks of the table
        if day is None:
            return _BEYOND
        of_day = begin - table.midnights[day]  # no clock change that date: its wall clock runs from its midnight
        if of_day // 60_000_000 < table.night_tails[day]:
            return _BEYOND
        due_day = table.working_day_after(day, count)
        if due_day is None or due_day is _BEYOND:
            return due_day
        return _BEYOND if due_day in table.changed else utc_moment(table.midnights[due_day] + of_day)

    def _working_days_walked(self, moment: int, count: int) -> datetime | None:
        """:meth:`_working_days_after` by datetimes: the local date and time of the next opening, and the due date counted
        in the table that holds it."""
        begin = self.next_open(utc_moment(moment))
        if begin is None:
            return None
        local = begin.astimezone(self.zone)
        day = local.date()
        offset = timedelta(hours=local.hour, minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
        minute = local.hour * 60 + local.minute
        if not any(shift.start <= minute < shift.end for shift in self.shifts_on(day)) and \
                any(minute < shift.end - 1440 for shift in self.shifts_on(day - timedelta(days=1))):
            day -= timedelta(days=1)  # the tail of the night shift that started the day before
            offset += timedelta(days=1)
        due_day = self._nth_working_day_after(day, count)
        if due_day is None:
            return None
        return (datetime.combine(due_day, time(0), self.zone) + offset).astimezone(UTC)  # a wall time: + counts on the clock

    def _nth_working_day_after(self, day: date, count: int) -> date | None:
        """The ``count``-th working day after ``day``, within :data:`HORIZON`: a bisect of the running count of working
        days in the table (a walk over dates near the end of the calendar)."""
        for ahead in (2 * count + 16, _HORIZON_DAYS + 1):  # most fall within a few weeks
            table = self._table_for(day, ahead)
            if table is None:
                break
            due_day = table.working_day_after((day - table.first).days, count)
            if due_day is None:
                return None
            if due_day is not _BEYOND:
                return table.first + timedelta(days=due_day)
        last = day + HORIZON if day <= date.max - HORIZON - timedelta(days=2) else date.max - timedelta(days=2)
        while count > 0:
            day += timedelta(days=1)
            if day > last:
                return None
            if self.is_working_day(day):
                count -= 1
        return day

    def business_time(self, start: datetime, duration: timedelta) -> timedelta:
        """The open time a target of ``duration`` gives from ``start``: the duration itself for
        hours and minutes; for working days, the open time until that deadline."""
        if isinstance(duration, _WORKING_DAYS):
            due = self.add_working_days(start, duration.count)
            return self.between(start, due) if due is not None else timedelta(0)
        return duration

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time between two moments: the difference of the running totals at each."""
        return _MICROSECOND * self.between_micros(start, end)

    def between_micros(self, start: datetime, end: datetime) -> int:
        """:meth:`between` in whole microseconds, for figures worked out in numbers: a timedelta made of them and taken apart
        again costs as much as finding them."""
        return self.between_counted(start, end, micros(start), micros(end))

    def between_counted(self, start: datetime, end: datetime, since: int, until: int) -> int:
        """:meth:`between_micros` of two moments whose µs the caller kept (``since`` and ``until``: :func:`micros` of
        ``start`` and ``end``). A replay's figures read each holding long after it ended, when working the µs out afresh
        costs half as much again as the rest."""
        table = self._table
        if until <= since:
            return 0
        # the table must hold the end's date too: its index there, else the local dates of both
        first_date, last_date = (table.date_of(since, 0), table.date_of(until, 0)) if table is not None else (None, None)
        if first_date is not None and last_date is not None:
            ahead = last_date - first_date + 2
        else:
            ahead = (local_date(end, self.zone) - local_date(start, self.zone)).days + 2
        found = self._search(start, min(ahead, _HORIZON_DAYS + 1), since)
        if found is None:
            return span_micros(sum((closes - opens for opens, closes in open_spans(self, start, end)), timedelta(0)))
        table, instant, first, hi = found.table, found.moment, found.first, found.hi
        if first >= hi:
            return 0
        last = ints_bisect_right(table.ends, until, first, hi)
        reached = table.before[last] + max(0, until - table.starts[last]) if last < hi else table.before[hi]
        return reached - table.before[first] - max(0, instant - table.starts[first])

    def betweens(self, *pairs: tuple[datetime, datetime]) -> list[timedelta]:
        """:meth:`between` of each (start, end) pair."""
        return [_MICROSECOND * count for count in self.betweens_micros(*pairs)]

    def betweens_micros(self, *pairs: tuple[datetime, datetime]) -> list[int]:
        """:meth:`betweens` in whole microseconds, for figures worked out in numbers: when the table holds every moment's
        date, within :data:`HORIZON` of each other and with no clock change between them, read off its running total once
        per moment."""
        if not pairs:
            return []
        points: list[int] = []
        for start, end in pairs:
            points.append(micros(start))
            points.append(micros(end))
        lowest = highest = points[0]  # compiled, compared inline; min() and max() compare Python ints
        for point in points:
            if point < lowest:
                lowest = point
            elif point > highest:
                highest = point
        spans = self._spans_between(lowest, highest)
        if spans is None:
            return [self.between_micros(start, end) for start, end in pairs]
        table, lo, hi = spans
        totals = [table.total_at(point, lo, hi) for point in points]
        paired = iter(totals)
        return [max(0, end - start) for start, end in zip(paired, paired)]

    def between_two_micros(self, pair: tuple[datetime, datetime], other_pair: tuple[datetime, datetime],
                           counts: tuple[int, int, int, int]) -> tuple[int, int]:
        """:meth:`betweens_micros` of two pairs of moments whose µs the caller knows (``counts``: :func:`micros` of each
        moment, in order), as a pair. An SLA's figure asks for two (the time its target ran, and what was left of it), of
        moments its ticket kept the µs of; compiled, no count is boxed and no list built."""
        first, until, other, other_until = counts
        spans = self._spans_between(min(min(first, until), min(other, other_until)), max(max(first, until), max(other, other_until)))
        if spans is None:
            return self.between_micros(pair[0], pair[1]), self.between_micros(other_pair[0], other_pair[1])
        table, lo, hi = spans
        return (max(0, table.total_at(until, lo, hi) - table.total_at(first, lo, hi)),
                max(0, table.total_at(other_until, lo, hi) - table.total_at(other, lo, hi)))

    def _spans_between(self, lowest: int, highest: int) -> "tuple[_SpanTable, int, int] | None":
        """The table and the range of its spans from the date of ``lowest`` (µs) to that of ``highest``, if it holds both,
        within :data:`HORIZON` of each other with no clock change between them (its running totals then read the open time
        between any two moments of those dates); else None. A skipped date before them has spans on the instants of the
        date after it."""
        table = self._table
        if table is None:
            return None
        first, last = table.date_of(lowest, 0), table.date_of(highest, 0)
        if first is None or last is None or last - first >= _HORIZON_DAYS or table.changes_within(first, last):
            return None
        return table, table.day_start[first], table.day_start[last + 1]

    def next_open(self, moment: datetime) -> datetime | None:
        for ahead in (2, _HORIZON_DAYS + 1):
            found = self._search(moment, ahead)
            if found is None:
                break
            table, instant, first, hi, complete = found.table, found.moment, found.first, found.hi, found.complete
            if first < hi:
                return moment if table.starts[first] < instant else table.opened[first]
            if complete:
                return None
        return next((opens for opens, _ in self.intervals_from(moment)), None)


class _Place:
    """Where a moment falls in a :class:`_SpanTable` (what :meth:`BusinessCalendar._search` finds): the table, the moment
    in µs, the first span ending after it, the end of the spans to look at, and whether those reach :data:`HORIZON`.
    Compiled, its counts are kept as machine ints: in a tuple each would be a Python int, made and read back."""

    def __init__(self, table: "_SpanTable", moment: int, first: int, hi: int, complete: bool) -> None:
        self.table, self.moment, self.first, self.hi, self.complete = table, moment, first, hi, complete


class _Beyond(Enum):
    """What :func:`_deadline` says of a deadline past the spans of the table it was given."""

    BEYOND = "beyond"


_BEYOND: Final = _Beyond.BEYOND


def _deadline(found: "_Place", start: datetime, duration: timedelta) -> "datetime | None | Literal[_Beyond.BEYOND]":
    """:meth:`BusinessCalendar.add` of an hours-and-minutes duration from ``start``, where :meth:`BusinessCalendar._search`
    ``found`` it: where it falls in the running total of open time, and a bisect for where that has grown by
    ``duration``; None if the calendar does not open within :data:`HORIZON`; :data:`_BEYOND` past the table's spans."""
    table, instant, first, hi, complete = found.table, found.moment, found.first, found.hi, found.complete
    if first < hi:
        opens, length = table.starts[first], span_micros(duration)
        target = table.before[first] + max(0, instant - opens) + length
        span = ints_bisect_left(table.total_at_end, target, first, hi)
        if span < hi:  # the deadline's micros is known here, and asked for again when its timer is scheduled
            if span == first and opens < instant:
                deadline = elapsed(start, duration)  # as the walk did: from the moment itself, in its own time zone
                # kept but in a zone of the caller's, whose offsets need not agree with its conversions (one ignoring fold)
                if deadline.tzinfo is UTC or zoneinfo_of(deadline, deadline.tzinfo) is not None:
                    remember_micros(deadline, instant + length)
                return deadline
            return utc_moment(table.starts[span] + target - table.before[span])
    return None if complete else _BEYOND


class Stretch:
    """From ``start`` up to ``end``, asked often whether it holds a moment.

    A moment is held by its instant, in microseconds since the epoch (:func:`micros`): exact, whatever its zone and fold, and
    most moments asked about (an event's time) have been read so already. Aware datetimes of different zones compare through
    their offsets, each asked of its zone by name (about 1 µs a pair), and Python compares two of one zone by wall time,
    whatever their fold.
    """

    __slots__ = ("start", "end", "_first", "_after")

    def __init__(self, start: datetime, end: datetime):
        self.start, self.end = start, end
        self._first: i64 = micros(start)
        self._after: i64 = micros(end)

    def __contains__(self, moment: datetime) -> bool:
        return self._first <= micros(moment) < self._after


UTC: Final = timezone.utc
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_YEAR_DAYS: Final = 366
_LAST_ORDINAL: Final = date.max.toordinal()
_MICROSECOND: Final = timedelta(microseconds=1)
"""Also how a count of µs becomes a timedelta: ``_MICROSECOND * n`` is exact, and twice as fast as ``timedelta(microseconds=n)``."""
_DAY: Final = timedelta(days=1)
_ZERO: Final = timedelta(0)
_DAY_MICROS: Final = _DAY // _MICROSECOND


_KEPT: Final = 8
"""How many of its last answers :func:`micros` keeps (a power of two)."""


class _Kept:
    """A moment and its :func:`micros`, as :class:`_Recent` keeps them. Compiled, the count is a machine int: in a tuple it
    was a Python int, made for each answer kept and read back for each one found."""

    def __init__(self, moment: datetime, count: i64) -> None:
        self.moment: Final = moment
        self.count: Final = count


class _Recent:
    """The last moments :func:`micros` was asked about, each in a slot with its answer. A slot is a pair replaced whole, so
    that threads never see one moment beside another's answer; a new answer takes the oldest slot (none moved, no tuple of
    them all rebuilt)."""

    def __init__(self) -> None:
        self.slots: list[_Kept] = [_Kept(_EPOCH, 0)] * _KEPT
        self.oldest: i64 = 0


_RECENT: Final = _Recent()
_ZONEINFO: Final = ZoneInfo
"""Names a compiled module reads as constants, not from its globals on every call."""
DATETIME: Final = datetime
_TIMEDELTA: Final = timedelta
_ZONE_OFFSET: Final = ZoneInfo.utcoffset
"""A zone's offset asked through the method itself, not looked up by name on each call."""
_ZONE_FROM_UTC: Final = ZoneInfo.fromutc
"""The moment of a zone whose wall time, read as UTC, is given (how ``astimezone`` ends)."""
_COMBINE: Final = datetime.combine
_TIME_OF: Final = datetime.time
"""Called as constants: compiled, a class's method named in the call is looked up by name each time."""


def zoneinfo_of(moment: datetime, zone: tzinfo | None) -> ZoneInfo | None:
    """``zone``, the tzinfo of ``moment`` (read by the caller), if it is a ZoneInfo and ``moment`` a plain datetime: then the
    moment's offset may be asked of the zone directly, and is never None. Python's datetime asks a zone by name, a call of
    about 1,700 instructions; a subclass of either may answer for itself."""
    return zone if type(zone) is _ZONEINFO and type(moment) is DATETIME else None


def micros(moment: datetime) -> int:
    """An aware moment as whole microseconds since the epoch: exact, and far cheaper to compare and add than datetimes.

    In a centre's zone the subtraction asks the zone for its offset twice, a tenth of the engine's work per event, and most
    calls ask again about one of the last few moments (an event's time, read by the check, the clock, the schedule and
    one calendar after another): their answers are kept."""
    recent = _RECENT
    for slot in recent.slots:
        if slot.moment is moment:
            return slot.count
    zone = moment.tzinfo
    since: timedelta  # typed: compiled, its parts are read with no check of their type
    own = zoneinfo_of(moment, zone)
    if own is not None and (wall_epoch := _WALL_EPOCHS.get(own)) is not None:  # looked up here: the hottest call of all
        since = moment - wall_epoch - _ZONE_OFFSET(own, moment)  # type: ignore[operator]  # a ZoneInfo always has an offset
    else:
        since = moment - _EPOCH
        if own is not None:
            _wall_epoch(own)  # for the zone's next moments
    answer = _whole_micros(since)  # datetime's years are far inside an i64's range of µs
    remember_micros(moment, answer)
    return answer


def _whole_micros(span: timedelta) -> i64:
    """``span`` in µs, in machine integers: a count of µs since 1970 is past the range in which mypyc multiplies tagged ints
    inline (it then multiplies Python ints, four times the work of the rest), and ``span // timedelta(microseconds=1)``
    builds a Python int at each step (2.5 times the work). Only for spans within :data:`_MOST_DAYS`."""
    days: i64 = span.days
    whole_seconds: i64 = span.seconds
    rest: i64 = span.microseconds
    return (days * 86_400 + whole_seconds) * 1_000_000 + rest


_FIRST_MICROS: Final = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_LAST_MICROS: Final = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
"""The first and last moment a datetime holds, in µs since the epoch."""
_MOST_DAYS: Final = 100_000_000
"""Days whose µs an i64 holds (a timedelta may hold ten times as many)."""


def span_micros(span: timedelta) -> int:
    """``span // timedelta(microseconds=1)``: a duration in whole µs, exact for any timedelta (and the division of any
    other type that divides so, a subclass or numpy's timedelta64). A plain timedelta's answer is kept: most are an org's
    targets, asked of each ticket, and a timedelta keeps its hash, so a lookup is a fifth of reading its three parts."""
    if type(span) is _TIMEDELTA:
        known = _SPANS.get(span)
        if known is not None:
            return known
        if -_MOST_DAYS <= span.days <= _MOST_DAYS:
            count = _whole_micros(span)
            if len(_SPANS) >= _SPANS_KEPT:  # spans worked out once (a pause's remainder) crowd out none for long
                _SPANS.clear()
            _SPANS[span] = count
            return count
    return span // _MICROSECOND


_SPANS: Final[dict[timedelta, int]] = {}
_SPANS_KEPT: Final = 1024


def remember_micros(moment: datetime, answer: i64) -> None:
    """Keep ``answer`` as :func:`micros`' of ``moment``, in the oldest slot: for a moment made from its count (a fifth of the
    work of reading it back), one whose count its caller had from :func:`micros` and kept, and is about to hand round, or
    one whose count the arithmetic that made it gave exactly (:func:`shift`). ``answer`` must be the moment's own instant,
    ``(moment - epoch) // 1µs``: every later comparison of the moment reads it."""
    recent = _RECENT
    oldest = recent.oldest
    recent.slots[oldest] = _Kept(moment, answer)
    recent.oldest = (oldest + 1) & (_KEPT - 1)


_WALL_EPOCHS: Final[dict[ZoneInfo, datetime]] = {}
"""Per zone, its wall clock's 1970-01-01 00:00. A moment minus it, of the very same zone, is the wall-clock time between them
with no offset asked; taking the moment's own offset then gives the instant. ``moment - _EPOCH`` asks both zones for
their offset through a call by name (datetime's C code builds the method's name anew each time): twice the work. Only for
a plain datetime: a subclass may subtract by instants even within one zone (pandas' Timestamp does)."""
_WALL_EPOCHS_KEPT: Final = 256
"""Zones made with ``ZoneInfo.no_cache`` are new objects each time: past this many, their moments go the long way."""


def _wall_epoch(zone: ZoneInfo) -> datetime | None:
    """``zone``'s entry of :data:`_WALL_EPOCHS`, made if need be (None once too many zones are kept)."""
    wall_epoch = _WALL_EPOCHS.get(zone)
    if wall_epoch is None and len(_WALL_EPOCHS) < _WALL_EPOCHS_KEPT:
        wall_epoch = _WALL_EPOCHS[zone] = datetime(1970, 1, 1, tzinfo=zone)
    return wall_epoch


def in_zone(moment: datetime, zone: tzinfo) -> datetime:
    """``moment.astimezone(zone)``. From UTC to a ZoneInfo (the engine works in UTC, and a centre's figures are told on its
    clock), without the conversion's calls by name: a third of the instructions."""
    if moment.tzinfo is UTC and (own := zoneinfo_of(moment, zone)) is not None and (wall_epoch := _wall_epoch(own)):
        return _from_utc(moment, own, wall_epoch)
    return moment.astimezone(zone)


def wall_instant(wall: datetime, zone: tzinfo) -> datetime:
    """The UTC moment of the naive wall time ``wall`` on ``zone``'s clock: ``combine(wall, wall.time(), zone)`` converted
    to UTC (its fold picks the pass of a repeated hour; a time the clock skips is the instant the clock before the change
    tells). Of a ZoneInfo, the zone's offset for the wall time (it reads a datetime's wall fields and fold, not its zone)
    is taken off the same wall time in UTC: ``astimezone`` asks the zone for its offset and UTC for its conversion through
    calls by name, after the zone was put on (a log has a time in most cells)."""
    own = zoneinfo_of(wall, zone)
    if own is not None:
        return _COMBINE(wall, _TIME_OF(wall), UTC) - _ZONE_OFFSET(own, wall)  # type: ignore[operator]  # a ZoneInfo always has an offset
    # put on by `combine`, which keeps the time's fields and fold as `replace(tzinfo=…)` would, in a quarter of the time
    return _COMBINE(wall, _TIME_OF(wall), zone).astimezone(UTC)


def local_date(moment: datetime, zone: tzinfo) -> date:
    """The date of ``zone``'s clock at ``moment``'s instant. ``astimezone`` hands a moment of ``zone`` itself back as it is,
    wall date and all, which a wall time the clocks skipped at midnight gets wrong: Santiago's 7 September 2025, 00:30 with
    fold 1, is 23:30 on the 6th. So such a moment is read through UTC (but in datetime's last year, which UTC may
    overflow)."""
    if moment.tzinfo is zone and moment.year < 9999:
        moment = moment.astimezone(UTC)
    return in_zone(moment, zone).date()


def _from_utc(moment: datetime, zone: ZoneInfo, wall_epoch: datetime) -> datetime:
    """A UTC ``moment`` in ``zone``, whose :data:`_WALL_EPOCHS` entry is ``wall_epoch``: its UTC wall time put on the zone's
    clock (the zone's 1970 plus the time since UTC's: two moments of one zone add and subtract by wall time) is what
    ``fromutc`` takes."""
    return _ZONE_FROM_UTC(zone, wall_epoch + (moment - _EPOCH))


def utc_moment(count: int) -> datetime:
    """The UTC moment ``count`` microseconds after the epoch: what ``astimezone(UTC)`` gives of a moment whose
    :func:`micros` is ``count``, without asking its zone again (and whose :func:`micros` is known)."""
    if type(count) is not int or not _FIRST_MICROS <= count <= _LAST_MICROS:  # interpreted, a float or a bool
        return _EPOCH + count * _MICROSECOND  # what it was meant to be (OverflowError: out of datetime's range)
    moment = _utc_of(count)
    remember_micros(moment, count)
    return moment


def _utc_of(count: i64) -> datetime:
    """The UTC moment ``count`` µs after the epoch, built from its date and time of day (:func:`_civil`).
    ``_EPOCH + count * _MICROSECOND`` is the same moment, but a timedelta times an int works in Python ints throughout
    (turned to µs, multiplied, divided back into days, seconds and µs): 2,500 instructions of the 4,000 a moment took."""
    year, month, day, of_day = _civil(count)
    second = of_day // 1_000_000
    return DATETIME(year, month, day, second // 3_600, second // 60 % 60, second % 60, of_day % 1_000_000, UTC)


def _civil(count: i64) -> tuple[i64, i64, i64, i64]:
    """The UTC date (year, month, day) and the µs into it of the instant ``count`` µs after the epoch. The date is found from
    the days since the epoch as in Howard Hinnant's `civil_from_days`, in machine integers (floor division, as Python's, for
    days before 1970)."""
    days = count // 86_400_000_000
    of_day = count - days * 86_400_000_000
    shifted = days + 719_468  # days since 0000-03-01: leap days come at the end of a year counted from March
    era = shifted // 146_097
    of_era = shifted - era * 146_097
    year_of_era = (of_era - of_era // 1_460 + of_era // 36_524 - of_era // 146_096) // 365
    of_year = of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_from_march = (5 * of_year + 2) // 153
    day = of_year - (153 * month_from_march + 2) // 5 + 1
    month = month_from_march + 3 if month_from_march < 10 else month_from_march - 9
    return year_of_era + era * 400 + (1 if month <= 2 else 0), month, day, of_day


_TWO_DIGITS: Final = tuple(f"{number:02d}" for number in range(100))


def iso_text(moment: datetime) -> str:
    """``moment.isoformat()``: for the keys of timers and decisions, made for most events and by a durable store for each
    decision. A plain datetime in UTC or in a ZoneInfo is written from its wall clock's µs since 1970 (a subtraction within
    its zone) and its instant's (:func:`micros`), whose difference is its offset: ``isoformat`` parses its arguments and
    asks the zone for the offset it writes by name, several times the instructions."""
    zone = moment.tzinfo
    if type(moment) is DATETIME and zone is UTC:
        return _written(micros(moment), "+00:00")
    own = zoneinfo_of(moment, zone)
    wall_epoch = _wall_epoch(own) if own is not None else None
    if wall_epoch is None:  # another tzinfo, or too many zones kept
        return moment.isoformat()
    wall = _whole_micros(moment - wall_epoch)
    offset = wall - micros(moment)
    text = _OFFSET_TEXTS.get(offset)
    if text is None:
        text = _offset_text(offset)
        if len(_OFFSET_TEXTS) < _OFFSET_TEXTS_KEPT:
            _OFFSET_TEXTS[offset] = text
    return _written(wall, text)


def _written(wall: i64, offset_text: str) -> str:
    """A wall-clock time (µs since 1970-01-01 00:00 on its clock) and its offset's text, as ``isoformat`` writes them."""
    year, month, day, of_day = _civil(wall)
    second, fraction = of_day // 1_000_000, of_day % 1_000_000
    digits = _TWO_DIGITS
    year_text = str(year) if year >= 1000 else f"{year:04d}"
    fraction_text = "." + str(1_000_000 + fraction)[1:] if fraction else ""
    return (f"{year_text}-{digits[month]}-{digits[day]}T{digits[second // 3_600]}:{digits[second // 60 % 60]}:{digits[second % 60]}"
            f"{fraction_text}{offset_text}")


def _offset_text(offset: i64) -> str:
    """A UTC offset (µs) as ``isoformat`` writes it: ±HH:MM, then :SS and .ffffff only where they are not zero."""
    sign = "-" if offset < 0 else "+"
    rest = -offset if offset < 0 else offset
    fraction = rest % 1_000_000
    seconds = rest // 1_000_000
    text = f"{sign}{_TWO_DIGITS[seconds // 3_600]}:{_TWO_DIGITS[seconds // 60 % 60]}"
    if fraction:
        return f"{text}:{_TWO_DIGITS[seconds % 60]}.{str(1_000_000 + fraction)[1:]}"
    return f"{text}:{_TWO_DIGITS[seconds % 60]}" if seconds % 60 else text


_OFFSET_TEXTS: Final[dict[int, str]] = {}
""":func:`_offset_text` by offset: a zone has a few."""
_OFFSET_TEXTS_KEPT: Final = 1024


def seconds(moment: datetime) -> float:
    """``moment.timestamp()`` of an aware moment, to the last bit (both divide its microseconds by a million, correctly
    rounded), from what :func:`micros` keeps."""
    return micros(moment) / 1_000_000


def elapsed(moment: datetime, duration: timedelta) -> datetime:
    """``duration`` of real time after ``moment``, told in its zone. Python's ``+`` counts on the wall clock: an hour
    added in the repeated autumn hour would be two, or none."""
    zone = moment.tzinfo
    if zone is UTC:
        return moment + duration
    if (own := zoneinfo_of(moment, zone)) is not None:
        # what the two conversions do, without their calls by name: the UTC wall time, kept in the zone, told by fromutc
        return _ZONE_FROM_UTC(own, moment + (duration - _ZONE_OFFSET(own, moment)))  # type: ignore[operator]
    return (moment.astimezone(UTC) + duration).astimezone(zone)


def shift(moment: datetime, duration: timedelta, zone: tzinfo) -> datetime:
    """``duration`` after ``moment`` (before, if negative) as a centre counts it: whole days (any multiple of 24 hours) on
    the clock of ``zone`` (its time zone: where clocks change, a day is 23 or 25 hours), the rest in real time
    (:func:`elapsed`); told in the zone of ``moment``, whatever it is. `3d` after a Friday noon is Monday noon in the
    centre, whoever asks. Going back undoes going forward: the rest is taken off first, then the days."""
    days, rest, backwards = _days_and_rest(duration)
    # the answer's micros, kept where the arithmetic gives it on the way: every caller reads it at once (a fact's time, a
    # timer's due time), and worked out afresh a moment's count costs nearly twice what keeping it here does
    count: int | None = None
    if rest and backwards:
        if not days and _elapses_exactly(moment):
            count = micros(moment) + span_micros(rest)
        moment = elapsed(moment, rest)
    if days:
        if zone is UTC:
            moment = elapsed(moment, days)
        elif moment.tzinfo is zone and (own := zoneinfo_of(moment, zone)) is not None:  # as below, with no call by name
            moment += days
            utc_wall = moment - _ZONE_OFFSET(own, moment)  # type: ignore[operator]
            moment = _ZONE_FROM_UTC(own, utc_wall)
            if (wall_epoch := _wall_epoch(own)) is not None:
                count = _whole_micros(utc_wall - wall_epoch)
        elif moment.tzinfo is UTC and (own := zoneinfo_of(moment, zone)) is not None and (wall_epoch := _wall_epoch(own)):
            # as below, each conversion without its calls by name (see in_zone); back from the zone, its offset taken off
            # a wall time gives the UTC wall time, which less the zone's 1970 is the time since UTC's
            local = _from_utc(moment, own, wall_epoch) + days
            since = local - _ZONE_OFFSET(own, local) - wall_epoch  # type: ignore[operator]
            moment = _EPOCH + since
            count = _whole_micros(since)
        else:  # through UTC: a wall time the clock skips becomes the one it shows
            moment = (moment.astimezone(zone) + days).astimezone(UTC).astimezone(moment.tzinfo)
    if rest and not backwards:
        if count is not None or (not days and _elapses_exactly(moment)):  # a count is of a moment of UTC or a ZoneInfo
            count = (micros(moment) if count is None else count) + span_micros(rest)
        moment = elapsed(moment, rest)
    if count is not None:
        remember_micros(moment, count)
    return moment


def _elapses_exactly(moment: datetime) -> bool:
    """Whether :func:`elapsed` tells the instant a real time after ``moment`` exactly: a plain datetime in UTC, a ZoneInfo or
    a fixed offset. A time zone of the caller's own may not know the fold, and be told, in its repeated hour, a moment an
    hour off; a subclass of datetime may add as it likes."""
    zone = moment.tzinfo
    return type(moment) is DATETIME and (zone is UTC or type(zone) is timezone or type(zone) is _ZONEINFO)


def _days_and_rest(duration: timedelta) -> tuple[timedelta, timedelta, bool]:
    """``duration``'s whole days towards zero (-25h is an hour back, then a day), the rest, and whether it goes back. A
    timedelta's ``%`` works in Python ints (3,600 instructions), and a centre shifts by a few durations only (its
    automations' windows, its follow-ups' deadlines): each plain one's split is kept."""
    plain = type(duration) is _TIMEDELTA  # a subclass may compare otherwise (working days equal only working days)
    if plain and (found := _SPLITS.get(duration)) is not None:
        return found
    backwards = duration < _ZERO
    rest = -(-duration % _DAY) if backwards else duration % _DAY
    found = (duration - rest, rest, backwards)
    if plain and len(_SPLITS) < _SPLITS_KEPT:
        _SPLITS[duration] = found
    return found


_SPLITS: Final[dict[timedelta, tuple[timedelta, timedelta, bool]]] = {}
_SPLITS_KEPT: Final = 1024
"""Past this many durations (an org reloaded again and again), splits are worked out each time."""


class HourOfWeek:
    """The hour of the week of ``zone``'s clock (0: Monday from midnight to one) at instants given in µs since the epoch.

    A replay's figures ask it of every ticket's arrival and of every time a ticket came to a role. A moment put on the
    zone's clock asks the zone for its offset through calls by name; here each hour of UTC asks once. The offset at its
    first and last µs is the offset all through it, as no zone changes its offset twice within an hour (tzdata's shortest
    time between changes is days), and an hour whose offset changes is told moment by moment."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone: Final = zone
        self.offsets: Final[dict[int, int]] = {}
        """Per hour of UTC (µs since the epoch over an hour's), the zone's offset in µs all through it, or
        :data:`_OFFSET_CHANGES`."""

    def of(self, count: int) -> int:
        hour = count // HOUR_MICROS
        offset = self.offsets.get(hour)
        if offset is None:
            offset = self.offsets[hour] = self._offset_through(hour)
        if offset == _OFFSET_CHANGES:
            local = in_zone(utc_moment(count), self.zone)
            return local.weekday() * 24 + local.hour
        wall = count + offset
        return (wall // _DAY_MICROS + _EPOCH_WEEKDAY) % 7 * 24 + wall % _DAY_MICROS // HOUR_MICROS

    def _offset_through(self, hour: int) -> int:
        first, last = _offset_micros(hour * HOUR_MICROS, self.zone), _offset_micros((hour + 1) * HOUR_MICROS - 1, self.zone)
        return first if first == last else _OFFSET_CHANGES


def _offset_micros(count: int, zone: ZoneInfo) -> int:
    """``zone``'s offset at the instant ``count`` µs after the epoch, in µs; :data:`_OFFSET_CHANGES` at the ends of what a
    datetime holds, where its clock would leave them (its moments are then told one by one, as a datetime can)."""
    try:
        offset = in_zone(utc_moment(count), zone).utcoffset()
    except OverflowError:
        return _OFFSET_CHANGES
    return _OFFSET_CHANGES if offset is None else span_micros(offset)


HOUR_MICROS: Final = 3_600_000_000
"""An hour in µs."""
_EPOCH_WEEKDAY: Final = 3
"""1970-01-01, the epoch's date, was a Thursday (Monday is 0)."""
_OFFSET_CHANGES: Final = 7 * _DAY_MICROS
"""No offset a zone has (they are less than a day): an hour of UTC in which the offset changes."""


def hour_start(moment: datetime, zone: tzinfo) -> datetime:
    """The start of the hour of ``zone``'s clock that ``moment`` falls in, as a UTC instant (so the repeated autumn hour
    is two hours, and a zone half an hour off UTC gets its own whole hours).

    In a ZoneInfo zone the answers are kept per hour of the wall clock and fold: the start is that hour's wall time, with
    the fold, converted to UTC, and a ZoneInfo's offset for a wall time and fold is fixed, so one conversion (``moment``'s
    to the zone) finds it. ``replace`` parses its keywords and builds the datetime twice: with the last conversion, 70 % of
    the work (a replay asks for every ``Queued`` decision)."""
    local = in_zone(moment, zone)
    own = zoneinfo_of(local, zone) if local.tzinfo is zone else None  # a subclass's astimezone may tell another zone
    if own is None:
        return _start_of_hour(local)
    starts = _HOUR_STARTS.get(own)
    if starts is None:
        if len(_HOUR_STARTS) >= _HOUR_ZONES_KEPT:
            _HOUR_STARTS.clear()
        starts = _HOUR_STARTS[own] = {}
    hour = (local.toordinal() * 24 + local.hour) * 2 + local.fold
    start = starts.get(hour)
    if start is None:
        if len(starts) >= _HOURS_KEPT:
            starts.clear()
        start = starts[hour] = _start_of_hour(local)
    return start


def _start_of_hour(local: datetime) -> datetime:
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


_HOUR_STARTS: Final[dict[ZoneInfo, dict[int, datetime]]] = {}
"""Per zone, :func:`hour_start`'s answers by hour of the wall clock (its day's ordinal times 24 plus the hour) and fold."""
_HOUR_ZONES_KEPT: Final = 16
_HOURS_KEPT: Final = 8_192
"""A year of hours for each of up to 16 zones; past either, those kept are let go and found afresh."""


def not_after(end: datetime, start: datetime) -> bool:
    """``end <= start`` as instants: Python compares two datetimes of one zone by wall time, whatever their fold, and two of
    different zones through both zones' offsets, each asked for by name (twice the work of reading both as numbers)."""
    if end.tzinfo is UTC and start.tzinfo is UTC:
        return end <= start
    return micros(end) <= micros(start)


class _SpanTable:
    """The open spans of consecutive local dates, in order, with the open time before each.

    With it a deadline is a bisect of the running total, open time between two moments a
    difference of two totals, and "is it open" a bisect of the spans' ends: no walk over dates.
    """

    def __init__(self, first: date, days: list[tuple[tuple[datetime, datetime], ...]], working: list[bool], midnights: list[int],
                 offsets: list[timedelta | None], night_tails: list[int]):
        self.first, self.days = first, len(days)
        self.night_tails = night_tails
        """Per date from ``first``: the minute up to which a shift the date before started runs into it (0: none). A `wd`
        target from a moment before it may count from the date before (:meth:`BusinessCalendar.add_working_days`)."""
        self.midnights = midnights
        """Per date from ``first``, in µs: the instant its local day begins (one more entry: the end of the last). ``offsets``:
        the zone's UTC offset at each."""
        self.changes = [index for index in range(self.days)
                        if offsets[index] != offsets[index + 1] or midnights[index + 1] - midnights[index] != _DAY_MICROS]
        """Dates on which the clocks change (the offset at their midnight is not the next midnight's, or they are not 24
        hours long): going back over midnight repeats part of the date before, a gap across midnight starts the next date
        before its midnight, a skipped date overlaps the next. Moments on them are told by the zone, not by
        :attr:`midnights`, and running totals are not read across them."""
        self.changed = frozenset(self.changes)
        """:attr:`changes` as a set: whether the clocks change on one date, asked for every moment placed."""
        self.working_before = [0, *itertools.accumulate(working)]
        """Working days before each date from ``first`` (one more entry: the total): `wd` targets count on it."""
        self.opened: list[datetime] = []
        self.closed: list[datetime] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.day_start: list[int] = []
        """Per date from ``first``: the index of its first span (one more entry: the end)."""
        for spans in days:
            self.day_start.append(len(self.starts))
            for opens, closes in spans:
                self.opened.append(opens)
                self.closed.append(closes)
                self.starts.append(micros(opens))
                self.ends.append(micros(closes))
        self.day_start.append(len(self.starts))
        self.before = [0, *itertools.accumulate(end - start for start, end in zip(self.starts, self.ends))]
        """Open µs before each span (one more entry: the total)."""
        self.total_at_end = self.before[1:]
        """Open µs up to the end of each span."""

    def date_of(self, moment: int, ahead: int) -> int | None:
        """The index of the local date of ``moment`` (µs), if the table holds that date and ``ahead`` dates after it, and
        the clocks do not change on it; else None."""
        midnights = self.midnights
        if not midnights[0] <= moment < midnights[-1]:
            return None
        # days are 24 hours but where the clocks change, so counting whole days from the first midnight lands on the date
        # or next to it (an hour per change the table spans): a step or two, not a search of every midnight
        index = min((moment - midnights[0]) // _DAY_MICROS, self.days - 1)
        while midnights[index] > moment:
            index -= 1
        while midnights[index + 1] <= moment:
            index += 1
        return None if index + ahead > self.days or index in self.changed else index

    def place(self, moment: int, index: int) -> "_Place":
        """Where ``moment`` (µs), on the date of ``index``, falls among the spans up to :data:`HORIZON` after that date."""
        horizon = index + _HORIZON_DAYS + 1
        complete = horizon <= self.days
        hi = self.day_start[horizon if complete else self.days]
        return _Place(self, moment, ints_bisect_right(self.ends, moment, self.day_start[index], hi), hi, complete)

    def working_day_after(self, index: int, count: int) -> "int | None | Literal[_Beyond.BEYOND]":
        """The index of the ``count``-th working date after the date of ``index``, within :data:`HORIZON`: a bisect of the
        running count of working dates; None if there is none within it, :data:`_BEYOND` past the table's dates."""
        horizon = index + _HORIZON_DAYS + 1
        last = min(horizon, self.days)
        working_before = self.working_before
        after = ints_bisect_left(working_before, working_before[index + 1] + count, index + 1, last + 1)  # `0wd`: its own date
        if after <= last:
            return after - 1
        return None if horizon <= self.days else _BEYOND

    def total_at(self, moment: int, lo: int, hi: int) -> int:
        """The open µs before ``moment``, which falls on a date whose spans are in ``lo`` to ``hi``."""
        span = ints_bisect_right(self.ends, moment, lo, hi)
        return self.before[span] + max(0, moment - self.starts[span]) if span < len(self.starts) else self.before[span]

    def changes_within(self, first: int, last: int) -> bool:
        """Whether the clocks change on a date from index ``first`` to ``last``."""
        at = ints_bisect_left(self.changes, first, 0, len(self.changes))
        return at < len(self.changes) and self.changes[at] <= last


def _day_hours(own: tuple[Interval, ...], before: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """A date's open hours from the shifts that start on it (up to midnight) and those the date before started (their part
    after midnight)."""
    tails = [Interval(0, shift.end - 1440) for shift in before if shift.end > 1440]
    return _merged([Interval(shift.start, min(shift.end, 1440)) for shift in own] + tails)


_TIMES_OF_DAY: Final = tuple(time(minute // 60, minute % 60) for minute in range(1440))
"""Each minute of a day as a time: a table's instants are built of a date and one of these."""


def _merged(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    merged: list[list[int]] = []
    for interval in sorted(intervals, key=lambda i: (i.start, i.end)):
        if merged and interval.start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], interval.end)
        else:
            merged.append([interval.start, interval.end])
    return tuple(Interval(s, e) for s, e in merged)


Span: TypeAlias = tuple[datetime, datetime]


def open_spans(calendar: BusinessCalendar, start: datetime, end: datetime) -> list[Span]:
    """Open intervals of a calendar between two moments."""
    spans = []
    for opens, closes in calendar.intervals_from(start):
        if opens >= end:
            break
        spans.append((opens, min(closes, end)))
    return spans


def union_spans(*groups: list[Span]) -> list[Span]:
    merged: list[list[datetime]] = []
    for start, end in sorted(span for group in groups for span in group):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def intersect_spans(a, b) -> list:
    """Intersection of two sorted lists of disjoint (start, end) spans (minutes or datetimes)."""
    result, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            result.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return result


def subtract_spans(a, b) -> list:
    """``a`` minus ``b``, both sorted lists of disjoint spans; linear in their lengths."""
    result, j = [], 0
    for start, end in a:
        cursor = start
        while j < len(b) and b[j][1] <= cursor:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cursor:
                result.append((cursor, b[k][0]))
            cursor = max(cursor, b[k][1])
            k += 1
        if cursor < end:
            result.append((cursor, end))
    return result
