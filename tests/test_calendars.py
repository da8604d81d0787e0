"""Business time on real dates: holidays, make-up days, DST gaps and folds, calendars that never open."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from cxrules.calendars import BusinessCalendar
from cxrules.model import Calendar, Interval, Source

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")


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
