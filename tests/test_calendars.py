"""Business time on real dates: holidays, make-up days, DST gaps and folds, calendars that never open."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from cxrules import calendars
from cxrules.calendars import HORIZON, BusinessCalendar, Stretch, micros
from cxrules.fastcalls import COMPILED
from cxrules.model import Calendar, Interval, Source

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _micros_of(moment: datetime) -> int:
    """A moment's instant in µs since the epoch, as Python's own arithmetic tells it (what :func:`micros` must give)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def calendar(zone: str, intervals, country=None, **dates) -> BusinessCalendar:
    week = tuple(tuple(Interval(s, e) for s, e in intervals) for _ in range(7))
    return BusinessCalendar(Calendar("c", zone, week, Source(None, ()), holiday_country=country, **dates))


def test_a_business_day_across_the_spring_dst_gap_has_one_hour_less():
    night = calendar("Europe/Berlin", [(60, 240)])                 # 01:00–04:00 local; 02:00–03:00 does not exist on 30 March
    start = datetime(2025, 3, 30, 1, 0, tzinfo=BERLIN)
    assert night.add(start, timedelta(hours=2)) == datetime(2025, 3, 30, 4, 0, tzinfo=BERLIN)
    assert night.between(start, datetime(2025, 3, 30, 4, 0, tzinfo=BERLIN)) == timedelta(hours=2)


def test_the_autumn_fold_counts_real_time():
    night = calendar("Europe/Berlin", [(60, 240)])                 # 02:00–03:00 happens twice on 26 October
    start = datetime(2025, 10, 26, 1, 0, tzinfo=BERLIN)
    assert night.between(start, start + timedelta(hours=5)) == timedelta(hours=4)


def test_is_open_in_the_repeated_hour_answers_by_instant_whatever_was_asked_before():
    """Asked at 02:00 of the second pass (closed), then at 02:15 of the first pass, an hour earlier in real time (open):
    the second answer must not come from the first one's stretch, which Python's wall-time comparison would claim."""
    early = calendar("Europe/Berlin", [(0, 150)])                  # 00:00–02:30 local; on 26 October 02:30 comes twice
    second_pass = datetime(2025, 10, 26, 2, 0, fold=1, tzinfo=BERLIN)
    first_pass = datetime(2025, 10, 26, 2, 15, fold=0, tzinfo=BERLIN)
    assert not early.is_open(second_pass)
    assert early.is_open(first_pass)
    assert calendar("Europe/Berlin", [(0, 150)]).is_open(first_pass)


def test_china_holidays_close_and_make_up_sundays_open():
    office = calendar("Asia/Shanghai", [(540, 1080)], country="CN")
    assert office.hours_on(date(2025, 1, 28)) == ()                # Chinese New Year's Eve
    assert office.hours_on(date(2025, 1, 26)) != ()                # Sunday worked to make up
    assert office.is_open(datetime(2025, 1, 26, 10, tzinfo=SHANGHAI))


def test_explicit_closed_and_open_dates():
    office = calendar("Asia/Shanghai", [(540, 1080)], closed=frozenset({date(2025, 3, 4)}), open=frozenset())
    assert office.next_open(datetime(2025, 3, 4, 8, tzinfo=SHANGHAI)) == datetime(2025, 3, 5, 9, tzinfo=SHANGHAI)


def test_a_calendar_that_never_opens_gives_no_deadline_instead_of_looping():
    never = calendar("Asia/Shanghai", [])
    assert never.add(datetime(2025, 3, 3, tzinfo=SHANGHAI), timedelta(hours=1)) is None
    assert not never.is_open(datetime(2025, 3, 3, 12, tzinfo=SHANGHAI))


# ---------------------------------------------------------------- shifts past midnight on real dates

from hypothesis import example, given, settings, strategies as st  # noqa: E402

from cxrules.model import WorkingDays  # noqa: E402
from cxrules.validation import _shifts, _week  # noqa: E402


def written(hours: dict, zone: str = "Asia/Shanghai", country: str | None = "CN", **dates) -> BusinessCalendar:
    """A calendar from its `hours` as written in an org file."""
    return BusinessCalendar(Calendar("c", zone, _week(hours), Source(None, ()), holiday_country=country, shifts=_shifts(hours), **dates))


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


NIGHTS = {"mon-fri": ["22:00-06:00"]}


def test_a_make_up_saturday_keeps_the_tail_of_friday_night_and_starts_a_night_of_its_own():
    nights = written(NIGHTS)
    assert [str(i) for i in nights.hours_on(date(2025, 2, 8))] == ["00:00-06:00", "22:00-24:00"]
    assert nights.add(at(2025, 2, 7, 23), timedelta(hours=2)) == at(2025, 2, 8, 1)


def test_a_make_up_sunday_night_runs_into_monday_morning():
    nights = written(NIGHTS)
    assert nights.add(at(2025, 1, 26, 23), timedelta(hours=2)) == at(2025, 1, 27, 1)
    assert [str(i) for i in nights.hours_on(date(2025, 1, 27))] == ["00:00-06:00", "22:00-24:00"]


def test_a_holiday_after_a_night_shift_keeps_its_tail_but_starts_no_shift():
    nights = written(NIGHTS)                                       # 1 October 2025 (Wednesday): National Day
    assert [str(i) for i in nights.hours_on(date(2025, 10, 1))] == ["00:00-06:00"]
    assert nights.add(at(2025, 9, 30, 23), timedelta(hours=2)) == at(2025, 10, 1, 1)
    assert not nights.is_open(at(2025, 10, 1, 23))


def test_the_morning_after_a_holiday_has_no_tail_of_a_shift_nobody_started():
    nights = written(NIGHTS)                                       # 8 October 2025: last day of the holidays
    assert [str(i) for i in nights.hours_on(date(2025, 10, 9))] == ["22:00-24:00"]
    assert not nights.is_open(at(2025, 10, 9, 3))
    assert nights.next_open(at(2025, 10, 9, 0)) == at(2025, 10, 9, 22)


def test_an_open_date_works_mondays_shifts_as_well_as_its_own():
    calendar = written({"mon": ["09:00-12:00"], "sat": ["14:00-16:00"]}, country=None, open=frozenset({date(2025, 3, 8)}))
    assert [str(i) for i in calendar.hours_on(date(2025, 3, 8))] == ["09:00-12:00", "14:00-16:00"]


def test_the_weekly_view_for_static_checks_still_splits_nights_at_midnight():
    week = _week(NIGHTS)
    assert [str(i) for i in week[0]] == ["22:00-24:00"] and [str(i) for i in week[5]] == ["00:00-06:00"]
    assert [str(i) for i in _shifts(NIGHTS)[4]] == ["22:00-06:00"] and _shifts(NIGHTS)[5] == ()


_times = st.integers(0, 47).map(lambda half_hours: half_hours * 30)
_shift = st.tuples(_times, _times).filter(lambda pair: pair[0] != pair[1]).map(lambda pair: "%02d:%02d-%02d:%02d" % (
    pair[0] // 60, pair[0] % 60, pair[1] // 60, pair[1] % 60))
_hours = st.dictionaries(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), st.lists(_shift, max_size=3), min_size=1)
_MAKE_UP_DAYS = [date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28), date(2025, 10, 11)]


def _minutes(intervals) -> set[int]:
    return {minute for interval in intervals for minute in range(interval.start, interval.end)}


@given(hours=_hours, day=st.sampled_from(_MAKE_UP_DAYS))
def test_a_make_up_day_never_has_less_open_time_than_the_same_weekday_would(hours, day):
    with_holidays, ordinary = written(hours), written(hours, country=None)
    tails_before = [(0, s.end - 1440) for s in with_holidays.shifts_on(day - timedelta(days=1)) if s.end > 1440]
    own_ordinary = [(s.start, min(s.end, 1440)) for s in ordinary.shifts_on(day)]
    assert _minutes(with_holidays.hours_on(day)) >= _minutes(Interval(s, e) for s, e in own_ordinary + tails_before)
    assert _minutes(with_holidays.shifts_on(day)) >= _minutes(ordinary.shifts_on(day))


def _shifts_starting(calendar: BusinessCalendar, day: date) -> tuple[Interval, ...]:
    """The shifts that start on a date, read plainly off the org's calendar and the holidays package: what the calendar's
    table by kind of date must give."""
    import holidays

    written_calendar, weekday = calendar.calendar, day.weekday()
    with_monday = calendars._merged(written_calendar.shifts[0] + written_calendar.shifts[weekday])
    if day in written_calendar.closed or (written_calendar.dates is not None and day not in written_calendar.dates):
        return ()
    if day in written_calendar.open:
        return with_monday
    if written_calendar.holiday_country:
        table = holidays.country_holidays(written_calendar.holiday_country, years=day.year)
        if day in table:
            return ()
        if day in getattr(table, "weekend_workdays", ()):
            return with_monday
    return written_calendar.shifts[weekday]


_AROUND_HOLIDAYS = st.integers(-40, 40).flatmap(lambda offset: st.sampled_from(
    [date(2025, 1, 28), date(2025, 5, 1), date(2025, 10, 1), date(2024, 12, 31)]).map(lambda day: day + timedelta(days=offset)))


@given(hours=_hours, country=st.sampled_from(["CN", None]), closed=st.frozensets(_AROUND_HOLIDAYS, max_size=4),
       opened=st.frozensets(_AROUND_HOLIDAYS, max_size=4), campaign=st.none() | st.frozensets(_AROUND_HOLIDAYS, max_size=20),
       days=st.lists(_AROUND_HOLIDAYS, min_size=1, max_size=10))
@example(hours=NIGHTS, country="CN", closed=frozenset(), opened=frozenset(), campaign=None,
         days=[date(2025, 2, 8), date(2025, 10, 1), date(2025, 10, 9), date(2025, 1, 27)])  # make-up days, a holiday after nights
@example(hours=NIGHTS, country="CN", closed=frozenset(), opened=frozenset({date(2025, 10, 1)}), campaign=None,
         days=[date(2025, 1, 1), date(2025, 10, 1)])  # a holiday whose date before is of another year (asked first); an open date on a holiday
def test_a_date_s_shifts_and_hours_are_those_its_kind_and_the_day_before_s_give(hours, country, closed, opened, campaign, days):
    calendar = written(hours, country=country, closed=closed, open=opened, dates=campaign)
    for day in [*days, *closed, *opened, *(day + timedelta(days=1) for day in opened)]:
        own, before = _shifts_starting(calendar, day), _shifts_starting(calendar, day - timedelta(days=1))
        assert calendar.shifts_on(day) == own
        assert calendar.is_working_day(day) == bool(own)
        tails = [Interval(0, shift.end - 1440) for shift in before if shift.end > 1440]
        assert calendar.hours_on(day) == calendars._merged([Interval(s.start, min(s.end, 1440)) for s in own] + tails)


_ZONE_CHANGES = st.sampled_from([("Europe/Berlin", date(2025, 3, 30)), ("Europe/Berlin", date(2025, 10, 26)),
                                 ("America/Santiago", date(2025, 9, 6)), ("Asia/Beirut", date(2025, 10, 25)),
                                 ("Australia/Lord_Howe", date(2025, 4, 6)), ("Pacific/Apia", date(2011, 12, 29)),
                                 ("Antarctica/Casey", date(2010, 3, 4)), ("Asia/Shanghai", date(2025, 3, 1))])


@given(change=_ZONE_CHANGES, offset=st.integers(-1, 1), minute=st.integers(0, 1440) | st.sampled_from([0, 1440]))
def test_the_instant_of_a_minute_of_a_local_date_is_that_wall_time_s_first_fold(change, offset, minute):
    zone, day = change[0], change[1] + timedelta(days=offset)
    calendar = written(OFFICE, zone=zone, country=None)
    wall = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)
    assert calendar._instant(day, minute) == wall.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
    assert calendar._instant(day, minute).tzinfo is calendars.UTC


_MIDNIGHT_GAPS = [("America/Santiago", datetime(2025, 9, 7, 4, tzinfo=timezone.utc)),   # 24:00 on the 6th is 01:00 on the 7th
                  ("America/Havana", datetime(2025, 3, 9, 5, tzinfo=timezone.utc)),
                  ("Asia/Beirut", datetime(2025, 3, 29, 22, tzinfo=timezone.utc)),
                  ("America/Asuncion", datetime(2024, 10, 6, 4, tzinfo=timezone.utc))]


@pytest.mark.parametrize("zone, change", _MIDNIGHT_GAPS)
def test_a_wall_time_of_the_calendar_s_zone_is_walked_from_its_instant_where_the_clocks_skip_midnight(zone, change):
    """A moment written in the calendar's own zone, at a wall time the clocks skipped at midnight, is an instant of the date
    before with one fold (Santiago's 7 September 2025, 00:30 with fold 1, is 23:30 on the 6th): walked from its wall date,
    the night shift running then was skipped and the first call of a follow-up came half an hour late. Every moment around
    the change, either fold, answers as the same instant in UTC does."""
    nights = written({"mon-sun": ["22:00-06:00"]}, zone=zone, country=None)
    tz = ZoneInfo(zone)
    for minutes in range(-150, 150, 15):
        wall = (change + timedelta(minutes=minutes)).astimezone(tz).replace(tzinfo=None)
        for fold in (0, 1):
            moment = (wall + timedelta(minutes=30 * (minutes % 2))).replace(tzinfo=tz, fold=fold)
            same = moment.astimezone(timezone.utc)
            walked = [(micros(opens), micros(closes)) for opens, closes in itertools.islice(nights.intervals_from(moment), 2)]
            assert walked == [(micros(opens), micros(closes)) for opens, closes in itertools.islice(nights.intervals_from(same), 2)], moment
            assert nights.is_open(moment) == nights.is_open(same)
            assert micros(nights.next_open(moment)) == micros(nights.next_open(same))
            for length in (timedelta(minutes=30), timedelta(hours=9)):
                assert micros(nights.add(moment, length)) == micros(nights.add(same, length)), (moment, length)
                fresh = [written({"mon-sun": ["22:00-06:00"]}, zone=zone, country=None) for _ in range(2)]  # no table yet
                assert fresh[0].between(moment, same + length) == fresh[1].between(same, same + length), (moment, length)


def test_a_moment_of_the_calendar_s_zone_in_the_last_year_west_of_utc_gives_no_deadline_instead_of_overflowing():
    """Its instant lies in a year datetime cannot hold: read by its wall date, it is past the calendar's last date."""
    zone = ZoneInfo("America/New_York")
    office = written(OFFICE, zone="America/New_York", country=None)
    late = datetime(9999, 12, 31, 22, tzinfo=zone)
    assert (office.next_open(late), office.add(late, timedelta(hours=1)), list(office.intervals_from(late))) == (None, None, [])


@given(hours=_hours, start=st.integers(0, 60 * 24 * 400), minutes=st.integers(1, 60 * 200))
def test_between_measures_back_what_add_added(hours, start, minutes):
    calendar = written(hours)
    begin = at(2025, 1, 1) + timedelta(minutes=start)
    due = calendar.add(begin, timedelta(minutes=minutes))
    if due is not None:                                            # None: the calendar has no open hour at all
        assert calendar.between(begin, due) == timedelta(minutes=minutes)
        assert calendar.is_open(due - timedelta(seconds=1))


# ---------------------------------------------------------------- working days (`3wd`)

OFFICE = {"mon-fri": ["09:00-18:00"]}


def test_a_working_day_is_due_at_the_same_local_time_the_next_working_day():
    office = written(OFFICE)
    assert office.add(at(2025, 3, 4, 15), WorkingDays(1)) == at(2025, 3, 5, 15)       # Tue 15:00 → Wed 15:00
    assert office.add(at(2025, 3, 7, 15), WorkingDays(1)) == at(2025, 3, 10, 15)      # Fri → Mon
    assert office.add(at(2025, 3, 4, 15), WorkingDays(3)) == at(2025, 3, 7, 15)


def test_three_working_days_are_not_72_business_hours():
    office = written(OFFICE)
    assert office.add(at(2025, 3, 4, 15), WorkingDays(3)) != office.add(at(2025, 3, 4, 15), timedelta(hours=72))
    assert office.add(at(2025, 3, 4, 15), timedelta(hours=72)) == at(2025, 3, 14, 15)  # eight working days of 9 h later


def test_working_days_skip_holidays_and_count_make_up_days():
    office = written(OFFICE)
    assert office.add(at(2025, 9, 30, 10), WorkingDays(1)) == at(2025, 10, 9, 10)     # across National Day
    assert office.add(at(2025, 9, 26, 10), WorkingDays(1)) == at(2025, 9, 28, 10)     # Sunday 28 Sept is worked


def test_a_start_outside_open_hours_counts_from_the_next_opening():
    office = written(OFFICE)
    assert office.add(at(2025, 3, 4, 20), WorkingDays(1)) == at(2025, 3, 6, 9)        # Tue evening → Wed 09:00 → Thu 09:00
    assert office.add(at(2025, 3, 8, 11), WorkingDays(1)) == at(2025, 3, 11, 9)       # Saturday → Mon 09:00 → Tue 09:00


def test_the_tail_of_a_night_shift_belongs_to_the_day_the_shift_started():
    nights = written(NIGHTS)
    assert nights.add(at(2025, 3, 4, 23), WorkingDays(1)) == at(2025, 3, 5, 23)
    assert nights.add(at(2025, 3, 8, 2), WorkingDays(1)) == at(2025, 3, 11, 2)        # Fri's shift → Mon's shift
    assert nights.between(at(2025, 3, 8, 2), at(2025, 3, 11, 2)) == timedelta(hours=8)


def test_working_days_on_a_calendar_that_never_opens_give_no_deadline():
    assert written({"daily": []}).add(at(2025, 3, 3), WorkingDays(2)) is None


def test_the_business_time_of_working_days_is_the_open_time_until_their_deadline():
    office = written(OFFICE)
    assert office.business_time(at(2025, 3, 4, 15), WorkingDays(2)) == timedelta(hours=18)
    assert office.business_time(at(2025, 3, 4, 15), timedelta(hours=5)) == timedelta(hours=5)


@given(hours=_hours, start=st.integers(0, 60 * 24 * 400), count=st.integers(1, 30))
def test_working_days_land_on_the_nth_working_day_at_the_starting_time(hours, start, count):
    calendar = written(hours)
    begin = at(2025, 1, 1) + timedelta(minutes=start)
    opening, due = calendar.next_open(begin), calendar.add(begin, WorkingDays(count))
    if opening is None:
        assert due is None
        return
    opening, due = opening.astimezone(SHANGHAI), due.astimezone(SHANGHAI)
    assert due.time() == opening.time()                            # no DST in Shanghai
    minute = opening.hour * 60 + opening.minute
    own = any(s.start <= minute < s.end for s in calendar.shifts_on(opening.date()))
    first = opening.date() if own else opening.date() - timedelta(days=1)       # the date the shift started on
    last = due.date() - (opening.date() - first)
    assert calendar.is_working_day(first) and calendar.is_working_day(last)
    assert sum(calendar.is_working_day(first + timedelta(days=d)) for d in range(1, (last - first).days + 1)) == count
    assert calendar.between(begin, due) == calendar.business_time(begin, WorkingDays(count))


def test_a_deadline_beyond_the_horizon_is_none_and_found_quickly():
    """One open minute a week: 8784 business hours would be ten thousand years ahead; the calendar looks two years."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from cxrules.calendars import HORIZON, BusinessCalendar
    from cxrules.model import Calendar, Interval

    rare = Calendar("rare", "Asia/Shanghai", ((Interval(540, 541),), (), (), (), (), (), ()), source=None)  # type: ignore[arg-type]
    calendar = BusinessCalendar(rare)
    start = datetime(2025, 3, 3, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert calendar.add(start, timedelta(hours=8784)) is None
    assert calendar.add(start, timedelta(minutes=3)) == datetime(2025, 3, 17, 9, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert calendar.add_working_days(start, 200) is None                     # 200 Mondays: almost four years
    assert len(calendar._days) <= HORIZON.days + 2                            # it looked no further than the horizon
    late = datetime(9999, 12, 30, tzinfo=ZoneInfo("UTC"))                     # and never past the last date
    assert calendar.add(late, timedelta(hours=1)) is None and calendar.next_open(late) is None


# ---------------------------------------------------------------- the running-total table agrees with a walk over dates

def _walked_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    total = timedelta(0)
    for opens, closes in calendar.intervals_from(start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total


_ZONES = st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York"])


_HALF_HOURS = st.integers(-48 * 500, 48 * 900).map(lambda n: timedelta(minutes=30 * n))
_LENGTHS = st.one_of(st.integers(0, 48 * 60).map(lambda n: timedelta(minutes=30 * n)), st.integers(0, 10**7).map(lambda s: timedelta(seconds=s)))


@given(hours=_hours, zone=_ZONES, moments=st.lists(st.tuples(_HALF_HOURS, st.sampled_from([0, 0, 1, 59]), _LENGTHS), min_size=1, max_size=6))
def test_deadlines_and_open_time_from_the_table_are_those_of_a_walk_over_dates(hours, zone, moments):
    """Deadlines, open time (as a timedelta and in µs), "is it open" and the next opening, read off the running total of
    open time, are exactly what walking the dates one by one gives, in any order of moments (the table grows back and forth) and across DST."""
    calendar = written(hours, zone=zone)
    for offset, seconds, duration in moments:  # on the half hours where spans begin and end, and off them
        start = datetime(2025, 6, 1, tzinfo=timezone.utc) + offset + timedelta(seconds=seconds)
        assert calendar.add(start, duration) == calendar._walk_add(start, duration)
        walked_time = _walked_between(calendar, start, start + duration)
        assert calendar.between(start, start + duration) == walked_time
        assert calendar.between_micros(start, start + duration) == walked_time // timedelta(microseconds=1)
        walked = next(calendar.intervals_from(start), None)
        assert calendar.is_open(start) == (walked is not None and walked[0] <= start)
        assert calendar.next_open(start) == (walked[0] if walked else None)


@given(hours=_hours, zone=_ZONES, pairs=st.lists(st.tuples(_HALF_HOURS, st.sampled_from([0, 1, 59]), _LENGTHS, st.booleans()), min_size=1, max_size=4),
       far=st.sampled_from([timedelta(0), HORIZON - timedelta(days=1), HORIZON + timedelta(days=3)]))
def test_open_time_of_several_pairs_at_once_is_that_of_each_pair(hours, zone, pairs, far):
    """Read off the running total once per moment, the open time of each pair is what :meth:`between` gives it: backwards
    (none), across DST, and with moments more than the horizon apart (where between stops counting)."""
    calendar = written(hours, zone=zone)
    base = datetime(2025, 6, 1, tzinfo=timezone.utc)
    asked = [(base + offset + timedelta(seconds=seconds), base + offset + length + (far if index == 0 else timedelta(0)))
             for index, (offset, seconds, length, _) in enumerate(pairs)]
    asked = [(end, start) if backwards else (start, end) for (start, end), (*_, backwards) in zip(asked, pairs)]
    calendar._table_for(date(2022, 1, 1), 6 * 366)  # a table holding every moment asked
    each = [calendar.between(start, end) for start, end in asked]
    assert calendar.betweens(*asked) == each
    pair = (asked + asked)[:2]  # an SLA's figure asks for two at once (one pair twice, if only one is drawn)
    assert calendar.between_two_micros(*pair, _counts(pair)) == tuple(span // timedelta(microseconds=1) for span in (each + each)[:2])


@given(hours=_hours, zone=_ZONES, start=_HALF_HOURS, seconds=st.sampled_from([0, 1, 59]),
       lengths=st.lists(st.one_of(_LENGTHS, st.sampled_from([HORIZON - timedelta(days=1), HORIZON + timedelta(days=3)]),
                                  st.integers(1, 12).map(WorkingDays)), max_size=5))
def test_deadlines_from_one_start_found_together_are_those_of_add(hours, zone, start, seconds, lengths):
    """An SLA's targets and warnings from one moment, found with one search of the table, are what :meth:`add` gives each
    in turn: past the table as it is (it grows), past the horizon (none), and in working days."""
    calendar, twin = written(hours, zone=zone), written(hours, zone=zone)
    moment = datetime(2025, 6, 1, tzinfo=timezone.utc) + start + timedelta(seconds=seconds)
    assert calendar.add_each(moment, tuple(lengths)) == [twin.add(moment, length) for length in lengths]


class _FoldBlindBerlin(tzinfo):
    """Berlin's offsets told by wall time alone, as a tzinfo written before PEP 495 does: the repeated autumn hour gets its
    summer offset, whatever the fold, and ``fromutc`` is tzinfo's own."""

    def _summer(self, moment: datetime) -> bool:
        year, wall = moment.year, moment.replace(tzinfo=None)
        last_sunday = {month: max(day for day in range(25, 32) if date(year, month, day).weekday() == 6) for month in (3, 10)}
        return datetime(year, 3, last_sunday[3], 2) <= wall < datetime(year, 10, last_sunday[10], 2)

    def utcoffset(self, moment):
        return timedelta(hours=2 if self._summer(moment) else 1)

    def dst(self, moment):
        return timedelta(hours=1 if self._summer(moment) else 0)


def test_a_deadline_in_a_zone_of_the_callers_is_read_as_its_own_offsets_tell():
    """A deadline told in a start's zone that is not a ZoneInfo is read as that zone tells it, every time: its offsets need
    not agree with the instant the deadline was worked out for (two hours after 00:30 on the night Berlin's clocks go
    back is 01:30 in the hour told twice, which this zone tells as summer time)."""
    always = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    calendar = written(always, zone="Europe/Berlin", country=None)
    deadline = calendar.add(datetime(2025, 10, 26, 0, 30, tzinfo=_FoldBlindBerlin()), timedelta(hours=2))
    assert micros(deadline) == _micros_of(deadline)


def test_a_duration_of_another_type_that_divides_into_microseconds_gives_its_deadline():
    """numpy's timedelta64 is no timedelta, but divides like one: deadlines are found for it as for the timedelta."""
    numpy = pytest.importorskip("numpy")
    calendar = written({"mon": ["09:00-18:00"]}, zone="Europe/Berlin", country=None)
    start = datetime(2025, 6, 2, 10, tzinfo=timezone.utc)
    assert calendar.add(start, numpy.timedelta64(3600 * 10**6, "us")) == calendar.add(start, timedelta(hours=1))
    assert calendars.span_micros(numpy.timedelta64(90, "s")) == 90_000_000


@example(timedelta.max)
@example(timedelta.min)
@example(timedelta(days=calendars._MOST_DAYS, hours=23, microseconds=999_999))
@example(-timedelta(days=calendars._MOST_DAYS))
@given(st.timedeltas())
def test_a_span_in_microseconds_is_that_of_dividing_it(span):
    """Read off its parts in machine integers where those hold it, by division beyond; asked again, from what was kept."""
    assert calendars.span_micros(span) == calendars.span_micros(span) == span // timedelta(microseconds=1)


def test_spans_asked_once_are_kept_within_a_bound():
    """A pause's remainder is a span of its own: a service asks millions."""
    for minute in range(3 * calendars._SPANS_KEPT):
        assert calendars.span_micros(timedelta(minutes=minute)) == minute * 60_000_000
        assert len(calendars._SPANS) <= calendars._SPANS_KEPT


@example(calendars._FIRST_MICROS)
@example(calendars._LAST_MICROS)
@example(-1)
@example(_micros_of(datetime(2000, 2, 29, 23, 59, 59, 999_999, tzinfo=timezone.utc)))
@example(_micros_of(datetime(1900, 3, 1, tzinfo=timezone.utc)) - 1)
@given(st.integers(calendars._FIRST_MICROS, calendars._LAST_MICROS))
def test_the_utc_moment_of_a_count_of_microseconds_is_the_epoch_plus_that_many(count):
    """Built from its date and time of day rather than by a timedelta's arithmetic: the same moment, leap days and days
    before 1970 included; its micros is the count."""
    moment = calendars.utc_moment(count)
    assert (moment, moment.tzinfo, micros(moment)) == (_EPOCH + count * timedelta(microseconds=1), timezone.utc, count)


class _Stamp(datetime):
    """A datetime of the caller's own class, which may write itself otherwise."""

    def isoformat(self, *args, **kwargs) -> str:
        return "stamp"


@example(calendars._FIRST_MICROS, 0, "UTC")
@example(calendars._LAST_MICROS, 0, "UTC")
@example(_micros_of(datetime(999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)), 0, "UTC")
@example(_micros_of(datetime(2025, 3, 3, 1, 2, 3, 40, tzinfo=timezone.utc)), 0, "UTC")
@example(_micros_of(datetime(2025, 10, 26, 0, 30, tzinfo=timezone.utc)), 1, "Europe/Berlin")
@given(st.integers(calendars._FIRST_MICROS + calendars._DAY_MICROS, calendars._LAST_MICROS - calendars._DAY_MICROS), st.integers(0, 1),
       st.sampled_from(["UTC", "Europe/Berlin", "Asia/Shanghai", "America/St_Johns", "Africa/Monrovia", "Europe/Amsterdam",
                        "fixed", "stamp"]))
@example(_micros_of(datetime(1930, 6, 1, tzinfo=timezone.utc)), 0, "Europe/Amsterdam")     # +00:19:32
@example(_micros_of(datetime(1960, 6, 1, tzinfo=timezone.utc)), 0, "Africa/Monrovia")      # -00:44:30
@example(_micros_of(datetime(2025, 3, 30, 4, 30, tzinfo=timezone.utc)), 0, "America/St_Johns")
def test_a_moment_s_iso_text_is_what_isoformat_writes(count, fold, zone):
    """The keys of timers and decisions: a moment in UTC or a ZoneInfo written from its numbers is isoformat's to the
    character (whole seconds, µs, years before 1000, offsets of minutes and of seconds, either fold of a repeated hour),
    and any other is written by isoformat (a fixed offset, a class's own)."""
    moment = calendars.utc_moment(count)
    if zone == "stamp":
        moment = _Stamp.fromtimestamp(moment.timestamp(), timezone.utc)
    elif zone != "UTC":
        moment = moment.astimezone(ZoneInfo(zone) if zone != "fixed" else timezone(timedelta(hours=-9, minutes=-30))).replace(fold=fold)
    assert calendars.iso_text(moment) == moment.isoformat()


@pytest.mark.parametrize("count", [calendars._FIRST_MICROS - 1, calendars._LAST_MICROS + 1])
def test_a_count_of_microseconds_past_a_datetime_s_range_overflows_as_the_arithmetic_does(count):
    with pytest.raises(OverflowError):
        calendars.utc_moment(count)


def test_a_count_kept_for_a_moment_is_micros_answer_until_later_answers_push_it_out():
    """What the replay relies on when it hands the engine a moment whose count it kept: micros answers from what it was
    told (a count it did not work out, here, to show it), for that very object only, until as many moments again were kept."""
    moment = datetime(2025, 3, 4, 10, tzinfo=BERLIN)
    calendars.remember_micros(moment, 42)
    assert micros(moment) == 42 and micros(moment.replace()) == _micros_of(moment)
    for count in range(calendars._KEPT):
        calendars.remember_micros(calendars.utc_moment(count), count)
    assert micros(moment) == _micros_of(moment)


@given(hours=_hours, zone=_ZONES, moments=st.lists(st.tuples(_HALF_HOURS, st.sampled_from([0, 1, 59]), _LENGTHS, st.booleans()), min_size=1, max_size=6))
def test_a_deadline_read_as_a_number_is_its_instant(hours, zone, moments):
    """:func:`micros` of a deadline, which the calendar knows as it finds it and keeps for when the deadline's timer is
    scheduled, is its instant: a deadline in UTC, and one told in the start's own zone (within the span it starts in)."""
    calendar = written(hours, zone=zone)
    for offset, seconds, duration, zoned in moments:
        start = datetime(2025, 6, 1, tzinfo=timezone.utc) + offset + timedelta(seconds=seconds)
        start = start.astimezone(ZoneInfo(zone)) if zoned else start
        for deadline in (calendar.add(start, duration), *calendar.add_each(start, (duration, 2 * duration))):
            if deadline is not None:
                assert micros(deadline) == _micros_of(deadline)


def _counts(pairs) -> tuple[int, int, int, int]:
    """The µs of two pairs' moments, in order, as :meth:`BusinessCalendar.between_two_micros` is handed them."""
    (start, end), (other_start, other_end) = pairs
    return micros(start), micros(end), micros(other_start), micros(other_end)


def test_two_pairs_on_dates_far_apart_read_the_table_over_the_dates_of_both():
    """The pair form reads the running total over every date from the earliest moment of either pair to the latest: bounds
    taken from the first pair alone put the second pair's moments outside the spans searched (here it was read as five
    days open, not one)."""
    calendar = written({"mon-sun": ["09:00-17:00"]}, zone="Europe/Berlin", country=None)
    start = datetime(2025, 6, 2, 10, tzinfo=timezone.utc)
    pairs = ((start, start + timedelta(hours=1)), (start + timedelta(days=10, hours=4), start + timedelta(days=11)))
    calendar.is_open(start)  # a table holding every date asked
    assert calendar.between_two_micros(*pairs, _counts(pairs)) == tuple(calendar.between_micros(*pair) for pair in pairs) == (
        timedelta(hours=1) // timedelta(microseconds=1), timedelta(hours=4) // timedelta(microseconds=1))


def test_open_time_across_a_skipped_date_is_that_of_between():
    """Apia skipped 30 December 2011: its spans fall on the instants of the 31st's, so the running total is not read across
    it (a figure there once counted the day twice)."""
    calendar = written({"mon-sun": ["09:00-17:00"]}, zone="Pacific/Apia", country=None)
    calendar.is_open(datetime(2011, 12, 1, tzinfo=timezone.utc))  # a table holding the skipped date
    after, across, end = (datetime(2011, 12, 30, 20, tzinfo=timezone.utc), datetime(2011, 12, 28, 20, tzinfo=timezone.utc),
                          datetime(2012, 1, 1, tzinfo=timezone.utc))  # across: from the 28th, a date the clocks keep
    assert calendar.betweens((after, end), (end, after)) == [calendar.between(after, end), timedelta(0)] == [timedelta(hours=12), timedelta(0)]
    assert calendar.betweens((across, end), (after, end)) == [calendar.between(across, end), timedelta(hours=12)]  # across it: between
    hours = timedelta(hours=1) // timedelta(microseconds=1)
    for pairs, each in ((((after, end), (end, after)), (12 * hours, 0)),
                        (((across, end), (after, end)), (calendar.between_micros(across, end), 12 * hours))):
        assert calendar.between_two_micros(*pairs, _counts(pairs)) == each


def test_a_date_the_zone_skipped_has_no_open_hours():
    """Apia went from 29 to 31 December 2011: the 30th's hours would lie on the instants of the 31st's, and count twice
    (open time across the skip was 36 hours where 28 are open). The date has none, in the table and in the walk alike."""
    calendar = written({"mon-sun": ["09:00-17:00"]}, zone="Pacific/Apia", country=None)
    start, end = datetime(2011, 12, 28, 20, tzinfo=timezone.utc), datetime(2012, 1, 1, tzinfo=timezone.utc)  # 10:00 on the 28th, 14:00 on 1 January
    assert calendar._spans(date(2011, 12, 30)) == ()
    assert calendar.between(start, end) == _walked_between(calendar, start, end) == timedelta(hours=7 + 8 + 8 + 5)
    new_year = datetime(2012, 1, 1, 10, tzinfo=ZoneInfo("Pacific/Apia"))  # 7 + 8 + 8 hours, then one on 1 January
    assert calendar.add(start, timedelta(hours=24)) == calendar._walk_add(start, timedelta(hours=24)) == new_year


@pytest.mark.parametrize("zone, change", [
    ("Antarctica/Casey", datetime(2010, 3, 4, 15, tzinfo=timezone.utc)),  # 02:00 back to 23:00 the day before
    ("Asia/Beirut", datetime(2025, 10, 25, 21, tzinfo=timezone.utc)),     # midnight back to 23:00
    ("America/Santiago", datetime(2025, 9, 7, 4, tzinfo=timezone.utc)),   # midnight skipped
    ("Pacific/Apia", datetime(2011, 12, 30, 10, tzinfo=timezone.utc)),    # a whole date skipped
    ("Australia/Lord_Howe", datetime(2025, 4, 5, 15, tzinfo=timezone.utc)),  # half an hour back
    ("Europe/Berlin", datetime(2025, 3, 30, 1, tzinfo=timezone.utc)),
    ("America/Toronto", datetime(1919, 3, 31, 4, 30, tzinfo=timezone.utc))])  # 23:30 to 00:30: the date begins before midnight
def test_a_table_tells_the_local_date_of_a_moment_as_its_zone_does(zone, change):
    """Moments are placed on the table's dates by their instant, without asking the zone: every answer is the zone's
    date, even where the clocks go back over midnight (Casey, 2010: an instant after 00:00 is the day before again)."""
    calendar = written(OFFICE, zone=zone, country=None)
    table = calendar._table_for((change - timedelta(days=3)).astimezone(ZoneInfo(zone)).date(), 8)
    assert table is not None
    answered = 0
    for minutes in range(-2 * 24 * 60, 2 * 24 * 60, 5):
        moment = change + timedelta(minutes=minutes)
        index = table.date_of(micros(moment), 0)
        if index is not None:
            answered += 1
            assert table.first + timedelta(days=index) == moment.astimezone(ZoneInfo(zone)).date(), moment
    assert answered >= 24 * 12  # the dates away from the change are answered


def test_a_table_follows_a_clock_running_for_years_without_keeping_every_date_behind_it():
    """A service asks deadlines for years: the dates more than a year behind are let go, the table stays about two years."""
    calendar = written(OFFICE)
    for day in range(6 * 365):
        calendar.add(at(2025, 1, 1, 10) + timedelta(days=day), timedelta(hours=1))
    assert calendar._table is not None and calendar._table.days <= 2 * (366 + HORIZON.days)


# ---------------------------------------------------------------- a stretch compares moments as their instants do

_AROUND_CLOCK_CHANGES = st.sampled_from([datetime(2025, 3, 30, 1, tzinfo=timezone.utc), datetime(2025, 10, 26, 1, tzinfo=timezone.utc),
                                         datetime(2025, 3, 9, 7, tzinfo=timezone.utc), datetime(2025, 11, 2, 6, tzinfo=timezone.utc)])
_MINUTES_NEAR = st.integers(-100, 100).map(lambda n: timedelta(minutes=n))


@settings(max_examples=400)
@given(change=_AROUND_CLOCK_CHANGES, zone=_ZONES, start_zone=st.sampled_from(["same", "UTC"]),
       start=_MINUTES_NEAR, length=st.integers(0, 90).map(lambda n: timedelta(minutes=n)),
       moment=_MINUTES_NEAR, wall=st.booleans(), fold=st.integers(0, 1))
@example(change=datetime(2025, 10, 26, 1, tzinfo=timezone.utc), zone="Europe/Berlin", start_zone="same",  # 02:00, second pass
         start=timedelta(0), length=timedelta(minutes=30), moment=timedelta(0), wall=True, fold=0)    # 02:00, first pass
def test_a_moment_is_in_a_stretch_exactly_when_its_instant_is(change, zone, start_zone, start, length, moment, wall, fold):
    """Moments near clock changes (the repeated hour either way, and wall times in the gap or the fold built by hand):
    a stretch answers as the comparison of instants, even for a moment of its start's zone at another offset."""
    tz = ZoneInfo(zone)
    begin = (change + start).astimezone(tz if start_zone == "same" else timezone.utc)
    end = (change + start + length).astimezone(timezone.utc)
    asked = (change + moment).astimezone(tz)
    if wall:  # as a caller may write it: the wall time with either fold, even one the clock skipped
        asked = asked.replace(fold=fold)
    stretch = Stretch(begin, end)
    instant = asked.astimezone(timezone.utc)  # Python compares datetimes of one zone by wall time, whatever their fold
    assert (asked in stretch) == (begin.astimezone(timezone.utc) <= instant < end)


@given(hours=_hours, zone=_ZONES, asked=st.lists(st.tuples(st.integers(0, 60 * 24 * 90), st.integers(1, 12), st.booleans()),
                                                min_size=1, max_size=8))
def test_working_day_deadlines_asked_again_are_those_of_a_calendar_asked_nothing_before(hours, zone, asked):
    """A calendar remembers its working-day deadlines (an SLA asks each three times of a ticket); asked in any order and
    again, told in UTC or in its own zone, it answers each as a calendar asked nothing before does: across Berlin's and
    New York's autumn change too."""
    calendar = written(hours, zone=zone)
    base = datetime(2025, 9, 20, tzinfo=timezone.utc)
    for minutes, count, in_zone in [*asked, *reversed(asked)]:
        start = base + timedelta(minutes=minutes)
        start = start.astimezone(ZoneInfo(zone)) if in_zone else start
        due = calendar.add_working_days(start, count)
        assert due == written(hours, zone=zone).add_working_days(start, count) and (due is None or due.tzinfo is timezone.utc)


@settings(max_examples=300)
@given(hours=_hours, zone=_ZONES, country=st.sampled_from(["CN", None]),
       asked=st.lists(st.tuples(st.integers(-60 * 24 * 20, 60 * 24 * 400), st.integers(0, 40)), min_size=1, max_size=6))
@example(hours=NIGHTS, zone="Asia/Shanghai", country="CN", asked=[(60 * 24 * 66 + 60 * 2, 1)])  # Sat 8 Mar 02:00, Friday's night
@example(hours=OFFICE, zone="Europe/Berlin", country=None, asked=[(60 * 24 * 87 + 60 * 15, 1), (60 * 24 * 84 + 60 * 15, 1)])
def test_working_day_deadlines_read_off_the_table_are_those_of_the_long_way(hours, zone, country, asked):
    """Where the table answers a `wd` deadline in µs (most starts), it answers what local dates and times of day give: with
    night shifts, holidays and make-up days, and across Berlin's and New York's clock changes (the table declines those)."""
    calendar = written(hours, zone=zone, country=country)
    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    calendar.next_open(base)  # the table laid out, as an SLA's start lays it out
    for minutes, count in asked:
        moment = micros(base + timedelta(minutes=minutes))
        quick = calendar._working_days_in_table(moment, count)
        if quick is not calendars._BEYOND:
            assert quick == calendar._working_days_walked(moment, count) and (quick is None or quick.tzinfo is timezone.utc)


def test_a_working_day_deadline_is_read_off_the_table_unless_a_night_shift_or_a_clock_change_may_matter():
    """The table's answer is the one taken; the long way only for a start in the tail of a night shift or on a date the
    clocks change."""
    office, nights = written(OFFICE), written(NIGHTS)
    berlin = written({"daily": ["09:00-18:00"]}, zone="Europe/Berlin", country=None)
    for calendar in (office, nights, berlin):
        calendar.next_open(at(2025, 3, 3))
    assert office._working_days_in_table(micros(at(2025, 3, 4, 15)), 3) == at(2025, 3, 7, 15)
    assert office._working_days_in_table(micros(at(2025, 3, 4, 20)), 1) == at(2025, 3, 6, 9)    # from Wednesday's opening
    assert nights._working_days_in_table(micros(at(2025, 3, 4, 23)), 1) == at(2025, 3, 5, 23)
    assert nights._working_days_in_table(micros(at(2025, 3, 8, 2)), 1) is calendars._BEYOND       # Friday's night, Saturday

    def local(day: int, hour: int) -> datetime:
        return datetime(2025, 3, day, hour, tzinfo=ZoneInfo("Europe/Berlin"))
    assert berlin._working_days_in_table(micros(local(27, 15)), 5) == datetime(2025, 4, 1, 15, tzinfo=ZoneInfo("Europe/Berlin"))
    assert berlin._working_days_in_table(micros(local(29, 15)), 1) is calendars._BEYOND           # due on Sunday 30 March
    assert berlin._working_days_in_table(micros(local(30, 15)), 1) is calendars._BEYOND           # from it
    assert berlin.add_working_days(local(29, 15), 1) == local(30, 15)                              # the long way
    closed = written({"daily": []})
    assert closed.add_working_days(at(2025, 3, 3), 2) is None                                        # its table reaches the horizon
    assert closed._working_days_in_table(micros(at(2025, 3, 3)), 2) is None                          # never opens
    rare = written({"mon": ["09:00-09:01"]}, country=None)
    assert rare.add_working_days(at(2025, 3, 3, 9), 200) is None
    assert rare._working_days_in_table(micros(at(2025, 3, 3, 9)), 200) is None                       # not due within it
    assert rare._working_days_in_table(micros(at(2025, 3, 3, 9)), 2) == at(2025, 3, 17, 9)
    seldom = written({"mon": ["09:00-09:01"]}, country=None)
    seldom.next_open(at(2025, 3, 5))                                  # a table of 64 dates: the horizon lies beyond it
    assert seldom._working_days_in_table(micros(at(2025, 5, 5, 10)), 1) is calendars._BEYOND      # no opening left in it
    assert seldom.add_working_days(at(2025, 5, 5, 10), 1) == at(2025, 5, 19, 9)


def test_no_working_days_are_due_at_the_opening_the_count_starts_from():
    """`0wd`, which the schema takes, counts no working day: due where the count starts, as `0h` is. The table and the walk
    near the last dates a datetime holds answer alike (the table answered the next date's same time, as for `1wd`)."""
    office, nights = written(OFFICE), written(NIGHTS)
    assert office.add(at(2025, 3, 4, 15), WorkingDays(0)) == at(2025, 3, 4, 15)
    assert office.add(at(2025, 3, 4, 20), WorkingDays(0)) == at(2025, 3, 5, 9)      # Wednesday's opening
    assert office.add(at(2025, 3, 8, 10), WorkingDays(0)) == at(2025, 3, 10, 9)     # Saturday: Monday's
    assert nights.add(at(2025, 3, 8, 2), WorkingDays(0)) == at(2025, 3, 8, 2)       # in Friday's night
    assert written(OFFICE, country=None).add(at(9999, 3, 4, 15), WorkingDays(0)) == at(9999, 3, 4, 15)  # the walk


_LAST_YEARS = st.datetimes(datetime(9988, 1, 1), datetime(9999, 12, 31, 23, 59), timezones=st.just(timezone.utc))


@settings(max_examples=60)
@given(zone=st.sampled_from(["UTC", "America/New_York", "Pacific/Kiritimati"]), asked=st.lists(_LAST_YEARS, min_size=1, max_size=6))
@example(zone="UTC", asked=[datetime(9997, 1, 1, 10, tzinfo=timezone.utc), datetime(9996, 1, 1, 10, tzinfo=timezone.utc),
                            datetime(9995, 12, 1, 10, tzinfo=timezone.utc)])
def test_a_table_laid_out_in_the_last_years_a_datetime_holds_answers_as_a_calendar_asked_nothing_before(zone, asked):
    """Asked in any order in the last years, the table's bounds (a year either side, twice its length) would name dates past
    9999: each answer is a fresh calendar's, not an OverflowError."""
    def asks(calendar: BusinessCalendar, moment: datetime) -> tuple:
        return (calendar.is_open(moment), calendar.add(moment, timedelta(hours=5)), calendar.add(moment, WorkingDays(3)))
    calendar = written(OFFICE, zone=zone, country=None)
    for moment in asked:
        assert asks(calendar, moment) == asks(written(OFFICE, zone=zone, country=None), moment), moment


def test_a_working_day_deadline_the_table_holds_is_not_worked_out_the_long_way(monkeypatch):
    if COMPILED:
        pytest.skip("a compiled class's methods cannot be replaced (the same source is tested interpreted)")
    office = written(OFFICE)
    office.next_open(at(2025, 3, 3))
    monkeypatch.setattr(BusinessCalendar, "_working_days_walked", lambda *args: pytest.fail("worked out the long way"))
    assert office.add_working_days(at(2025, 3, 4, 15), 3) == at(2025, 3, 7, 15)
    assert office.add(at(2025, 3, 4, 20), WorkingDays(1)) == at(2025, 3, 6, 9)


def test_a_calendar_remembers_a_bounded_number_of_working_day_deadlines():
    """Each ticket in flight asks its own; a service runs for months."""
    calendar = written({"mon-fri": ["09:00-18:00"]})
    for minute in range(5000):
        calendar.add_working_days(at(2025, 3, 3, 9) + timedelta(minutes=minute), 2)
    assert calendar._working_days.cache_info().currsize == 4096


def test_moments_of_zones_made_anew_each_time_are_read_exactly_and_their_zones_not_kept_without_bound():
    """A zone made with ``ZoneInfo.no_cache`` is a new object each time: micros keeps each zone's wall-clock epoch, but only
    up to a bound; past it a moment is read the long way, with the same answer."""
    for number in range(calendars._WALL_EPOCHS_KEPT + 50):
        zone = ZoneInfo.no_cache("Europe/Berlin")
        for moment in (datetime(2025, 10, 26, 2, 30, tzinfo=zone), datetime(2025, 10, 26, 2, 30, 0, number, tzinfo=zone, fold=1)):
            assert micros(moment) == _micros_of(moment)
    assert len(calendars._WALL_EPOCHS) == calendars._WALL_EPOCHS_KEPT


class _ByInstants(datetime):
    """A datetime that subtracts by instants even within one zone, as pandas' Timestamp does."""

    def __sub__(self, other):
        if isinstance(other, datetime):
            return datetime.__sub__(self.astimezone(timezone.utc), other.astimezone(timezone.utc))
        return super().__sub__(other)


def test_a_moment_of_a_datetime_subclass_that_subtracts_by_instants_is_read_exactly():
    berlin = ZoneInfo("Europe/Berlin")
    micros(datetime(2025, 7, 3, 9, tzinfo=berlin))  # the zone's wall-clock epoch kept
    moment = _ByInstants(2025, 7, 3, 10, tzinfo=berlin)
    assert micros(moment) == _micros_of(datetime(2025, 7, 3, 8, tzinfo=timezone.utc))


_ZONES = [ZoneInfo(name) for name in ("Asia/Shanghai", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe")] + [
    timezone.utc, timezone(timedelta(hours=-9, minutes=-30))]


@given(st.lists(st.tuples(st.integers(-2 * 10**9, 6 * 10**9), st.integers(0, 999_999), st.sampled_from(_ZONES), st.booleans()),
                min_size=1, max_size=12), st.lists(st.integers(0, 11), max_size=40))
def test_moments_read_as_numbers_are_exact_however_often_and_in_whatever_order_asked(moments, asks):
    """micros and seconds keep their last answers (by the moment itself): asked about moments of any zone, folds included,
    again and in any order, they answer what the subtraction and timestamp() answer, never another moment's number."""
    made = [datetime.fromtimestamp(second, zone).replace(microsecond=micro, fold=fold) for second, micro, zone, fold in moments]
    for index in [*range(len(made)), *(ask % len(made) for ask in asks)]:
        moment = made[index]
        assert micros(moment) == _micros_of(moment)
        assert calendars.seconds(moment) == moment.timestamp()


@given(st.integers(-2 * 10**9, 6 * 10**9), st.integers(0, 999_999), st.sampled_from(_ZONES), st.booleans(), st.integers(-400, 400),
       st.sampled_from([0, 1, 3_600_000_000, 86_399_999_999]), st.booleans(), st.sampled_from(_ZONES))
def test_a_shifted_moment_is_told_as_the_number_of_its_instant(second, micro, zone, fold, days, rest, negative_rest, centre):
    """shift keeps the number of the moment it gives, where its arithmetic gives it on the way: micros of the answer is that
    of its instant, whatever the zones and the folds, for days, a rest or both, forwards and back."""
    moment = datetime.fromtimestamp(second, zone).replace(microsecond=micro, fold=fold)
    shifted = calendars.shift(moment, timedelta(days=days, microseconds=-rest if negative_rest else rest), centre)
    assert micros(shifted) == _micros_of(shifted)


def test_a_shift_in_the_centre_s_zone_keeps_the_number_of_its_answer():
    """Each caller of shift reads its answer's instant at once: a shift by days, by a rest or by both (a day counted on the
    centre's clock, from a moment in UTC or in the centre's zone, over the night the clocks go forward) keeps it, where
    working it out again costs twice as much."""
    berlin = ZoneInfo("Europe/Berlin")
    for moment in (datetime(2025, 3, 29, 12, tzinfo=timezone.utc), datetime(2025, 3, 29, 12, tzinfo=berlin)):
        for duration in (timedelta(days=3), timedelta(hours=1), -timedelta(hours=1), timedelta(days=1, hours=2),
                         -timedelta(days=7, minutes=5)):
            shifted = calendars.shift(moment, duration, berlin)
            assert [slot.count for slot in calendars._RECENT.slots if slot.moment is shifted] == [_micros_of(shifted)], (moment, duration)


class _NoFold(tzinfo):
    """A zone of the caller's own that knows no fold: in its repeated autumn hour, Python's default ``fromutc`` tells a
    moment whose own offset puts it an hour off the instant meant (America/New_York's rules of 2025)."""

    def utcoffset(self, moment):
        return timedelta(hours=-5) + self.dst(moment)

    def dst(self, moment):
        wall = moment.replace(tzinfo=None)
        return timedelta(hours=1) if datetime(wall.year, 3, 9, 2) <= wall < datetime(wall.year, 11, 2, 1) else timedelta(0)

    def tzname(self, moment):
        return "E"


def test_a_shift_in_a_zone_that_knows_no_fold_keeps_no_number_the_moment_does_not_have():
    """A real-time shift told by a zone of the caller's own is the moment that zone tells, an hour off in its repeated hour:
    its number is worked out from that moment, not added up on the way."""
    for moment, duration in ((datetime(2025, 11, 2, 0, 30, tzinfo=_NoFold()), timedelta(hours=1)),
                             (datetime(2025, 11, 2, 1, 30, tzinfo=_NoFold()), -timedelta(hours=1))):
        shifted = calendars.shift(moment, duration, timezone.utc)
        assert micros(shifted) == _micros_of(shifted) and calendars.seconds(shifted) == shifted.timestamp(), duration


class _AddsTwice(datetime):
    """A datetime of the caller's own whose ``+`` adds twice what it is given."""

    def __add__(self, other):
        return datetime.__add__(self, other * 2)


def test_a_shift_of_a_datetime_subclass_keeps_no_number_its_own_arithmetic_did_not_give():
    shifted = calendars.shift(_AddsTwice(2025, 3, 3, 10, tzinfo=timezone.utc), timedelta(hours=1), timezone.utc)
    assert micros(shifted) == _micros_of(shifted)


@given(st.lists(st.tuples(st.integers(-2 * 10**9, 6 * 10**9), st.sampled_from([0, 1, 999_999]), st.sampled_from(_ZONES), st.booleans()),
                min_size=2, max_size=6))
def test_a_moment_is_not_after_another_exactly_when_its_instant_is_not(moments):
    """not_after compares instants, for moments of one zone (folds included: Python compares those by wall time) and of two."""
    made = [datetime.fromtimestamp(second, zone).replace(microsecond=micro, fold=fold) for second, micro, zone, fold in moments]
    made += [moment.astimezone(zone) for moment in made[:2] for zone in _ZONES]  # the same instants told in every zone
    for end in made:
        for start in made:
            assert calendars.not_after(end, start) == (end.astimezone(timezone.utc) <= start.astimezone(timezone.utc))


# ---------------------------------------------------------------- the hour of the week of an instant given in µs

def _hour_of_week_told_by_the_zone(count: int, zone: ZoneInfo) -> int:
    local = calendars.utc_moment(count).astimezone(zone)
    return local.weekday() * 24 + local.hour


_HOUR_ZONES = ["UTC", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia",
               "America/Santiago", "Africa/Monrovia", "Europe/Amsterdam", "Pacific/Kiritimati", "Pacific/Pago_Pago"]
"""Half- and quarter-hour offsets, a change of half an hour (Lord Howe), changes in the middle of an hour of UTC (St John's,
Lord Howe), a skipped date (Apia), offsets of seconds (Monrovia and Amsterdam before 1972), the widest offsets (+14, -11)."""


@settings(max_examples=300)
@given(st.integers(_micros_of(datetime(1900, 1, 1, tzinfo=timezone.utc)), _micros_of(datetime(2100, 1, 1, tzinfo=timezone.utc))),
       st.sampled_from(_HOUR_ZONES))
def test_the_hour_of_the_week_of_an_instant_is_the_zone_s_clock_s(count, zone):
    hours = calendars.HourOfWeek(ZoneInfo(zone))
    assert hours.of(count) == _hour_of_week_told_by_the_zone(count, ZoneInfo(zone))
    assert hours.of(count) == _hour_of_week_told_by_the_zone(count, ZoneInfo(zone))  # the hour's offset, as kept


@pytest.mark.parametrize("zone, change", [
    ("America/St_Johns", datetime(2025, 3, 9, 5, 30, tzinfo=timezone.utc)),      # 02:00 -03:30 to 03:00 -02:30
    ("America/St_Johns", datetime(2025, 11, 2, 4, 30, tzinfo=timezone.utc)),     # 02:00 -02:30 back to 01:00 -03:30
    ("Australia/Lord_Howe", datetime(2025, 4, 5, 15, tzinfo=timezone.utc)),      # 02:00 +11 back to 01:30 +10:30
    ("Australia/Lord_Howe", datetime(2025, 10, 4, 15, 30, tzinfo=timezone.utc)),  # 02:00 +10:30 to 02:30 +11
    ("Asia/Kathmandu", datetime(1985, 12, 31, 18, 30, tzinfo=timezone.utc)),      # +05:30 to +05:45
    ("Europe/Berlin", datetime(2025, 3, 30, 1, tzinfo=timezone.utc)),
    ("Pacific/Apia", datetime(2011, 12, 30, 10, tzinfo=timezone.utc))])          # 29 December skipped
def test_the_hour_of_the_week_is_the_zone_s_on_either_side_of_a_change_within_an_hour_of_utc(zone, change):
    """Each hour of UTC keeps one offset for all of it; where the offset changes inside the hour, moments on either side
    of the change are told by the zone (a minute at a time, over the three hours around it, in one object that keeps them)."""
    hours, start = calendars.HourOfWeek(ZoneInfo(zone)), _micros_of(change) - 90 * 60_000_000
    for minute in range(181):
        count = start + minute * 60_000_000 + 7
        assert hours.of(count) == _hour_of_week_told_by_the_zone(count, ZoneInfo(zone)), calendars.utc_moment(count)


@pytest.mark.parametrize("count, zone", [
    (calendars._FIRST_MICROS, "Asia/Shanghai"), (calendars._LAST_MICROS, "America/St_Johns"),
    (calendars._FIRST_MICROS, "America/St_Johns"), (calendars._LAST_MICROS, "Asia/Shanghai"),  # off the zone's clock
    (calendars._FIRST_MICROS + 50 * 60_000_000, "Europe/Dublin"),  # 00:24:39 on 1 January of year 1 (-00:25:21), its hour's start not
    (_micros_of(datetime(9999, 12, 31, 18, tzinfo=timezone.utc)), "Asia/Kolkata")])  # 23:30 on 31 December 9999, its hour's end not
def test_the_hour_of_the_week_at_a_datetime_s_ends_is_the_zone_s_or_the_same_overflow(count, zone):
    """An hour of UTC at either end of what a datetime holds may leave it on the zone's clock: its moments are then told one
    by one, and one that the zone's clock cannot show overflows, as putting it on that clock does."""
    hours = calendars.HourOfWeek(ZoneInfo(zone))
    try:
        expected = _hour_of_week_told_by_the_zone(count, ZoneInfo(zone))
    except OverflowError:
        with pytest.raises(OverflowError):
            hours.of(count)
    else:
        assert hours.of(count) == expected
