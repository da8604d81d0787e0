"""A caller's time zone changes how the engine tells times, never what it decides: events given in Berlin time around
its clock changes decide what the same instants given in UTC decide.

Python compares and subtracts two datetimes of one zone by their wall times, whatever their fold, and its ``+`` counts on
the wall clock; each of these once moved a deadline, a figure, a window or a timer by an hour around a clock change.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings, strategies as st

from cxrules import calendars
from cxrules.calendars import elapsed, in_zone, local_date, shift
from cxrules.engine import Engine, FirstResponse, Resolved, TicketCreated, VirtualClock
from cxrules.fastcalls import guarded
from cxrules.model import WorkingDays
from cxrules.simulation.mapping import LogMapping, parse_moment

from conftest import examples
from engine_helpers import StoppedClock, make_org

BERLIN = ZoneInfo("Europe/Berlin")
CHANGES = {"autumn": datetime(2025, 10, 26, 1, tzinfo=timezone.utc),   # 02:00–03:00 twice
           "spring": datetime(2025, 3, 30, 1, tzinfo=timezone.utc)}    # 02:00–03:00 skipped


def _around_the_clock(data):
    """tiny.yaml in Berlin, open day and night, with a one-hour surge window (switched on by its count, or by an automation),
    patterns within an hour and a follow-up."""
    data["org"]["timezone"] = "Europe/Berlin"
    data["calendars"][0]["hours"] = {"daily": ["00:00-24:00"]}
    data["calendars"][0].pop("holidays", None)
    data["roles"].append({"id": "rapid", "name": "Rapid team", "unit": "front", "reports_to": "manager", "duties": ["answer"],
                          "handles": ["complaint", "question"], "temporary": True, "staff": [{"agents": 1}]})
    data["surges"] = [{"id": "wave", "match": {"category": ["question"]}, "threshold": 2, "window": "1h", "activate": "rapid"}]
    data["automations"] = [
        {"id": "burst", "when": {"event": "created", "count": 2, "within": "1h", "per": "all"}, "then": {"tag": ["burst"]}},
        {"id": "swell", "when": {"event": "created", "count": 2, "within": "1h", "per": "all"}, "if": {"match": {"category": ["complaint"]}},
         "then": {"surge": "wave"}},
        {"id": "stale", "when": {"after": "1h", "since": "created", "clock": "calendar"}, "if": {"responded": False},
         "then": {"tag": ["stale"]}}]
    data["followups"].append({"id": "check", "on": "resolved", "match": {"category": ["question"]}, "within": "90m", "by": "desk"})


def _told_in_utc(value):
    """A decision with every time told in UTC: what differs between the two runs may only be how times are told."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    if dataclasses.is_dataclass(value):
        return (type(value).__name__, *(_told_in_utc(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, (list, tuple)):
        return tuple(_told_in_utc(v) for v in value)
    return value


def _run(org, tickets, change: datetime, zone, clock: str) -> list:
    """Submit the tickets' events in time order, given in ``zone``, advancing to each first; then two days on. A virtual
    clock tells an event's time in UTC where it differs from the clock's (in a repeated hour, Python's ``==`` across zones
    is always false); a service's clock keeps the event's own time and zone."""
    events = []
    for number, (offset, complaint, answer, resolve) in enumerate(tickets):
        created = change + timedelta(minutes=offset)
        category = "complaint" if complaint else "question"
        events.append((created, 0, TicketCreated(f"T{number}", category, "phone", "normal", "normal", customer_id="C1", at=None)))
        if answer is not None:
            events.append((created + timedelta(minutes=answer), 1, FirstResponse(f"T{number}", at=None)))
            if resolve is not None:
                events.append((created + timedelta(minutes=answer + resolve), 2, Resolved(f"T{number}", at=None)))
    start = change - timedelta(hours=6)
    engine = Engine(org, VirtualClock(start) if clock == "virtual" else StoppedClock(start))
    decisions = []
    try:
        for at, _, event in sorted(events, key=lambda item: (item[0], item[1], item[2].ticket_id)):
            told = at.astimezone(zone)
            decisions += engine.advance(told)
            decisions += engine.submit(dataclasses.replace(event, at=told))
        decisions += engine.advance((change + timedelta(days=2)).astimezone(zone))
    finally:
        engine.close()
    return [_told_in_utc(decision) for decision in decisions]


_TICKETS = st.lists(st.tuples(st.integers(-150, 150), st.booleans(), st.none() | st.integers(0, 120), st.none() | st.integers(0, 200)),
                    min_size=1, max_size=5)


@settings(max_examples=examples(40), deadline=None)
@given(change=st.sampled_from(sorted(CHANGES)), tickets=_TICKETS, clock=st.sampled_from(["virtual", "service"]))
@example(change="autumn", tickets=[(-20, False, 40, None)], clock="virtual")   # 02:40 first pass, answered 02:20 second pass
@example(change="autumn", tickets=[(-15, False, 5, None)], clock="service")    # due in the second pass, answered in the first
@example(change="autumn", tickets=[(-30, False, None, None), (70, False, None, None)], clock="service")  # 100 minutes apart
@example(change="spring", tickets=[(0, False, None, None), (20, True, None, None), (30, True, None, None)], clock="service")  # 03:30 less 1h: skipped
def test_events_told_in_berlin_decide_what_the_same_instants_in_utc_decide(tmp_path_factory, change, tickets, clock):
    org = make_org(tmp_path_factory.mktemp("org"), _around_the_clock)
    assert _run(org, tickets, CHANGES[change], BERLIN, clock) == _run(org, tickets, CHANGES[change], timezone.utc, clock)


def test_an_hour_is_real_time_and_a_day_is_the_centres():
    """Across the autumn change an hour after 02:30 (first pass) is 02:30 (second pass); a day after 12:00 is 12:00 on the
    centre's clock, told in the zone it was asked in."""
    first_pass = datetime(2025, 10, 26, 2, 30, tzinfo=BERLIN)
    assert elapsed(first_pass, timedelta(hours=1)).astimezone(timezone.utc) == datetime(2025, 10, 26, 1, 30, tzinfo=timezone.utc)
    assert shift(first_pass, timedelta(hours=1), BERLIN) == elapsed(first_pass, timedelta(hours=1))
    noon = datetime(2025, 10, 25, 12, tzinfo=BERLIN)
    assert shift(noon, timedelta(days=1), BERLIN) == datetime(2025, 10, 26, 12, tzinfo=BERLIN)     # 25 hours later
    assert shift(noon, timedelta(days=1, hours=1), BERLIN) == datetime(2025, 10, 26, 13, tzinfo=BERLIN)
    assert shift(datetime(2025, 10, 26, 13, tzinfo=BERLIN), -timedelta(days=1, hours=1), BERLIN) == noon
    in_utc = shift(noon.astimezone(timezone.utc), timedelta(days=1), BERLIN)                     # whoever asks
    assert in_utc.tzinfo is timezone.utc and in_utc == datetime(2025, 10, 26, 12, tzinfo=BERLIN)


@settings(max_examples=examples(300))
@given(change=st.sampled_from(sorted(CHANGES)), minutes=st.integers(-1440, 1440), fold=st.integers(0, 1),
       zone=st.sampled_from([BERLIN, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe")]),
       hours=st.integers(-50, 50), days=st.integers(-3, 3))
@example(change="spring", minutes=-1470, fold=0, zone=BERLIN, hours=0, days=1)  # a day after 02:30 is one the clock skips
@example(change="autumn", minutes=30, fold=1, zone=BERLIN, hours=1, days=-1)     # 02:30 on 26 October, second pass
@example(change="autumn", minutes=-1410, fold=0, zone=BERLIN, hours=-1, days=1)  # a day after 02:30: its first pass
def test_real_time_and_the_centres_days_are_told_as_converting_through_utc_tells_them(change, minutes, fold, zone, hours, days):
    """elapsed and a day's step of shift work on a zone's wall time without converting through UTC: the moment they tell is
    the very one the conversions give (instant, wall time and fold), for wall times in the repeated hour (either pass) and
    in the hour the clock skips, and a day's step from a UTC moment too."""
    moment = (CHANGES[change].astimezone(zone).replace(tzinfo=None) + timedelta(minutes=minutes)).replace(tzinfo=zone, fold=fold)
    duration, step = timedelta(hours=hours, minutes=minutes % 7), timedelta(days=days)
    told, converted = elapsed(moment, duration), (moment.astimezone(timezone.utc) + duration).astimezone(zone)
    assert (repr(told), told.fold) == (repr(converted), converted.fold)
    told, converted = shift(moment, step, zone), (moment + step).astimezone(timezone.utc).astimezone(zone) if days else moment
    assert (repr(told), told.fold) == (repr(converted), converted.fold)
    instant = moment.astimezone(timezone.utc)  # the same instant asked in UTC: the day steps on the zone's clock all the same
    told, converted = shift(instant, step, zone), (instant.astimezone(zone) + step).astimezone(timezone.utc) if days else instant
    assert (repr(told), told.fold) == (repr(converted), converted.fold)


_ZONES_THAT_CHANGE = [BERLIN, ZoneInfo("America/Santiago"), ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Pacific/Apia"),
                      ZoneInfo("Asia/Kathmandu"), ZoneInfo.no_cache("Europe/Berlin")]


@settings(max_examples=examples(300))
@given(instant=st.datetimes(min_value=datetime(1850, 1, 1), max_value=datetime(2100, 1, 1)), zone=st.sampled_from(_ZONES_THAT_CHANGE),
       told_in=st.sampled_from(["utc", "another utc", "berlin", "the zone"]))
@example(instant=datetime(2025, 10, 26, 0, 30), zone=BERLIN, told_in="utc")          # 02:30, first pass of the repeated hour
@example(instant=datetime(2025, 10, 26, 1, 30), zone=BERLIN, told_in="utc")          # its second pass: fold 1
@example(instant=datetime(2011, 12, 30, 9, 59), zone=ZoneInfo("Pacific/Apia"), told_in="utc")  # the eve of the date Apia skipped
@example(instant=datetime(1, 1, 1, 0, 30), zone=BERLIN, told_in="utc")              # before the zone's first change: its LMT
def test_a_moment_is_told_in_a_zone_as_astimezone_tells_it(instant, zone, told_in):
    """in_zone's way from UTC (no call by name) gives astimezone's wall time and fold, in the zone's clock changes, its
    own first years and a zone made apart (no_cache); a moment of another zone goes astimezone's own way."""
    moment = instant.replace(tzinfo=timezone.utc)
    moment = {"utc": moment, "another utc": moment.astimezone(timezone(timedelta(0))), "berlin": moment.astimezone(BERLIN),
              "the zone": moment.astimezone(zone)}[told_in]
    told, converted = in_zone(moment, zone), moment.astimezone(zone)
    assert (repr(told), told.fold, told.tzinfo is zone) == (repr(converted), converted.fold, True)


@settings(max_examples=examples(300))
@given(instant=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
       zone=st.sampled_from([ZoneInfo("America/Santiago"), ZoneInfo("America/Havana"), ZoneInfo("Asia/Beirut"),
                             ZoneInfo("America/Asuncion"), BERLIN]), fold=st.integers(0, 1), told_in=st.sampled_from(["utc", "the zone"]))
@example(instant=datetime(2025, 9, 7, 0, 30), zone=ZoneInfo("America/Santiago"), fold=1, told_in="the zone")  # 23:30 on the 6th
def test_a_moment_s_local_date_is_that_of_its_instant(instant, zone, fold, told_in):
    """Even a wall time the clocks skipped at midnight, told in the zone itself: astimezone would keep its wall date."""
    moment = instant.replace(tzinfo=timezone.utc) if told_in == "utc" else instant.replace(tzinfo=zone, fold=fold)
    assert local_date(moment, zone) == moment.astimezone(timezone.utc).astimezone(zone).date()


def test_real_time_after_a_moment_of_year_one_is_told_though_utc_would_be_before_it():
    """Converting through UTC overflowed where the zone is ahead of UTC at the start of year 1; the moment asked for is
    inside the years Python tells."""
    start = datetime(1, 1, 1, 0, 30, tzinfo=BERLIN)
    told = elapsed(start, timedelta(hours=1))
    assert told.tzinfo is BERLIN and told.replace(tzinfo=None) == datetime(1, 1, 1, 1, 30)


def _on_the_clock(moment: datetime) -> bool:
    """Whether Berlin's clock shows this wall time at all (02:00–03:00 on 30 March it does not)."""
    return moment.astimezone(timezone.utc).astimezone(BERLIN).replace(tzinfo=None) == moment.replace(tzinfo=None)


@settings(max_examples=examples(200))
@given(minutes=st.integers(-3 * 1440, 3 * 1440), hours=st.integers(-80, 80), in_utc=st.booleans())
@example(minutes=90, hours=25, in_utc=False)   # 29 March 01:30 + 25h is 30 March 03:30: back by an hour, then a day
@example(minutes=30, hours=25, in_utc=True)
def test_going_back_undoes_going_forward_around_the_spring_change(minutes, hours, in_utc):
    """Going back by a duration comes home, unless a day's step lands in the hour the clocks skip (then the clock's own
    time is taken, an hour on: no way back can know); every time told is one the clock shows."""
    start = (datetime(2025, 3, 29, tzinfo=BERLIN) + timedelta(minutes=minutes)).astimezone(timezone.utc)
    start = start if in_utc else start.astimezone(BERLIN)
    duration = timedelta(hours=hours)
    there = shift(start, duration, BERLIN)
    assert there.tzinfo is start.tzinfo and _on_the_clock(there.astimezone(BERLIN))
    days = timedelta(days=int(duration / timedelta(days=1)))
    outward = start if duration >= timedelta(0) else elapsed(start, duration - days)
    homeward = elapsed(there, days - duration) if duration >= timedelta(0) else there
    if _on_the_clock(outward.astimezone(BERLIN) + days) and _on_the_clock(homeward.astimezone(BERLIN) - days):
        assert shift(there, -duration, BERLIN) == start


@settings(max_examples=examples(300))
@given(change=st.sampled_from(sorted(CHANGES)), minutes=st.integers(-2 * 1440, 2 * 1440), seconds=st.integers(0, 59),
       form=st.sampled_from(["iso", "%Y-%m-%d %H:%M:%S"]))
@example(change="autumn", minutes=60, seconds=0, form="iso")   # 02:00 on 26 October: the first of its two passes
@example(change="spring", minutes=60, seconds=0, form="iso")   # 02:00 on 30 March: a time the clock skips
def test_a_logs_wall_time_is_the_instant_berlins_clock_means(change, minutes, seconds, form):
    """A log's time without an offset is a wall time of the mapping's zone: the instant zoneinfo gives it (the first pass of
    a repeated hour, a skipped time as the clock before the change tells it), whichever way the time is put in the zone."""
    wall = (CHANGES[change].astimezone(BERLIN).replace(tzinfo=None, minute=0) - timedelta(hours=1)
            + timedelta(minutes=minutes, seconds=seconds))
    text = wall.isoformat(sep=" ") if form == "iso" else wall.strftime(form)
    mapping = LogMapping(fields={}, path="mapping.yaml", timezone="Europe/Berlin", time_formats=(form,))
    moment = parse_moment(text, mapping, BERLIN)
    assert moment.tzinfo is timezone.utc and moment == wall.replace(tzinfo=BERLIN).astimezone(timezone.utc)


_WALL_ZONES = {"Australia/Lord_Howe": datetime(2025, 4, 5, 15, tzinfo=timezone.utc),   # half an hour back
               "America/St_Johns": datetime(2025, 3, 9, 5, 30, tzinfo=timezone.utc),    # in the middle of an hour of UTC
               "America/Santiago": datetime(2025, 9, 7, 4, tzinfo=timezone.utc),        # midnight skipped
               "Pacific/Apia": datetime(2011, 12, 30, 10, tzinfo=timezone.utc),         # a whole date skipped
               "Asia/Kathmandu": datetime(1985, 12, 31, 18, 30, tzinfo=timezone.utc),   # +05:30 to +05:45
               "Africa/Monrovia": datetime(1972, 1, 7, tzinfo=timezone.utc)}            # -00:44:30 to UTC


@settings(max_examples=examples(300))
@given(zone=st.sampled_from(sorted(_WALL_ZONES)), minutes=st.integers(-3 * 1440, 3 * 1440), micros=st.integers(0, 59_999_999),
       form=st.sampled_from(["iso", "%Y-%m-%d %H:%M:%S.%f"]))
def test_a_logs_wall_time_is_the_instant_its_zone_means_wherever_its_clocks_change(zone, minutes, micros, form):
    """As in Berlin, in zones whose clocks change by half an hour, skip midnight or a date, or change an offset of seconds:
    the instant ``replace(tzinfo=zone).astimezone(UTC)`` gives, in UTC, for both passes and the gaps alike."""
    there = ZoneInfo(zone)
    wall = _WALL_ZONES[zone].astimezone(there).replace(tzinfo=None) + timedelta(minutes=minutes, microseconds=micros)
    text = wall.isoformat(sep=" ") if form == "iso" else wall.strftime(form)
    mapping = LogMapping(fields={}, path="mapping.yaml", timezone=zone, time_formats=(form,))
    moment = parse_moment(text, mapping, there)
    assert moment.tzinfo is timezone.utc and moment.fold == 0
    assert (moment, moment.utcoffset()) == (wall.replace(tzinfo=there).astimezone(timezone.utc), timedelta(0))


def test_a_logs_wall_time_in_a_zone_of_fixed_offset_and_a_time_with_its_own_offset_are_their_instants():
    """Not a ZoneInfo: the zone is put on the wall time and the moment converted, as before; a time that gives its offset
    keeps it, whatever the mapping's zone."""
    mapping = LogMapping(fields={}, path="mapping.yaml", timezone="UTC", time_formats=("iso",))
    fixed = timezone(timedelta(hours=-9, minutes=-30))
    assert parse_moment("2025-03-03 10:00", mapping, fixed) == datetime(2025, 3, 3, 19, 30, tzinfo=timezone.utc)  # type: ignore[arg-type]
    assert parse_moment("2025-03-03T10:00+05:45", mapping, BERLIN) == datetime(2025, 3, 3, 4, 15, tzinfo=timezone.utc)


def test_the_virtual_clock_moves_by_instants_in_utc_and_refuses_a_moment_of_no_zone():
    """Set to Berlin's repeated autumn hour, the clock follows the instant, not the wall time; it never goes back, and a
    moment without a zone (which Python would read in the machine's own zone) is refused, not guessed."""
    first = datetime(2025, 10, 26, 2, 30, tzinfo=BERLIN)                 # 00:30 UTC, summer time
    clock = VirtualClock(first)
    assert clock.now() == datetime(2025, 10, 26, 0, 30, tzinfo=timezone.utc) and clock.now().tzinfo is timezone.utc
    second = datetime(2025, 10, 26, 2, 10, tzinfo=BERLIN, fold=1)        # 01:10 UTC: later, though its wall time is earlier
    assert clock.set(second) == datetime(2025, 10, 26, 1, 10, tzinfo=timezone.utc) and clock.now().tzinfo is timezone.utc
    assert clock.set(datetime(2025, 10, 26, 2, 50, tzinfo=BERLIN)) == datetime(2025, 10, 26, 1, 10, tzinfo=timezone.utc)
    for no_zone in (datetime(2025, 10, 27), datetime(2025, 10, 27, tzinfo=_NoOffset())):
        with pytest.raises(ValueError, match="timezone-aware"):
            clock.set(no_zone)
        with pytest.raises(ValueError, match="timezone-aware"):
            VirtualClock(no_zone)
    assert clock.now() == datetime(2025, 10, 26, 1, 10, tzinfo=timezone.utc)


def test_the_virtual_clock_moved_to_a_moment_tells_whether_it_is_there_and_makes_its_utc_moment_when_asked():
    """What the engine moves the clock with for each event: a moment at or after the clock's instant (any zone, either fold)
    may stand for the clock's now, an earlier one may not; the clock's own moment, in UTC, is made when asked, then kept."""
    clock = VirtualClock(datetime(2025, 10, 26, 2, 30, tzinfo=BERLIN))                       # 00:30 UTC
    later = datetime(2025, 10, 26, 1, 10, tzinfo=timezone.utc)
    assert clock.move_to(later.astimezone(BERLIN)) and clock._now is None                    # 02:10, the second time: moved
    assert clock.now() == later and clock.now().tzinfo is timezone.utc and clock.now() is clock.now()
    assert clock.move_to(later)                                                              # there already
    assert not clock.move_to(datetime(2025, 10, 26, 2, 50, tzinfo=BERLIN))                   # 00:50 UTC: behind it
    assert clock.now() == later and clock.advance(timedelta(minutes=5)) == later + timedelta(minutes=5)
    assert clock.move_to(later + timedelta(minutes=5)) and not clock.move_to(later)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.move_to(datetime(2025, 10, 27))


class _TakenOnce:
    """A lock that fails, rather than waits for ever, when taken again by its holder (as a plain lock would deadlock)."""

    held = False

    def acquire(self) -> bool:
        assert not self.held, "the clock's lock was taken again while held"
        self.held = True
        return True

    def release(self) -> None:
        self.held = False

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


@pytest.mark.parametrize("asked_first", [False, True], ids=["moved, not asked", "asked"])
def test_the_virtual_clock_moved_then_advanced_takes_its_lock_once(asked_first):
    """Advanced after a move that made no moment, the clock makes it under the lock it holds, not by taking it again."""
    clock = VirtualClock(datetime(2025, 3, 3, tzinfo=timezone.utc))
    clock._lock = guarded(_TakenOnce())
    clock.move_to(datetime(2025, 3, 4, 8, tzinfo=ZoneInfo("Asia/Shanghai")))              # 00:00 UTC
    if asked_first:
        assert clock.now() == datetime(2025, 3, 4, tzinfo=timezone.utc)
    assert clock.advance(timedelta(minutes=5)) == datetime(2025, 3, 4, 0, 5, tzinfo=timezone.utc) == clock.now()
    assert clock.set(datetime(2025, 3, 4, 1, tzinfo=timezone.utc)) == datetime(2025, 3, 4, 1, tzinfo=timezone.utc)


def test_a_service_s_clock_is_asked_only_for_an_event_without_a_time(tmp_path):
    """An event that brings its time, handed to handlers that return, never asks the service's clock (each asked it three
    times: before the check, for the retries owed and for the handlers); one without a time takes the clock's now."""
    class Asked(StoppedClock):
        asked = 0

        def now(self) -> datetime:
            self.asked += 1
            return super().now()

    moment = datetime(2025, 3, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    clock = Asked(moment)
    engine = Engine(make_org(tmp_path), clock)
    handed: list[str] = []
    engine.on(None, lambda decision: handed.append(decision.kind))
    engine.submit(TicketCreated("A", category="question", channel="phone", segment="normal", priority="low", at=moment))
    engine.submit(FirstResponse("A", at=moment + timedelta(minutes=5)))
    assert clock.asked == 0 and "Assigned" in handed
    engine.submit(Resolved("A"))
    assert clock.asked == 1 and engine.ticket("A").status == "resolved"


class _NoOffset(tzinfo):
    """A zone that gives no offset: Python takes its moments as naive."""

    def utcoffset(self, moment):
        return None


@example(timedelta(days=-1, hours=-1))
@example(timedelta(hours=-1))
@given(st.timedeltas(min_value=-timedelta(days=4000), max_value=timedelta(days=4000)))
def test_a_duration_is_split_into_whole_days_towards_zero_and_a_rest_kept_or_not(duration):
    """What :func:`shift` counts on the centre's clock (the days) and in real time (the rest), the same when kept."""
    calendars._SPLITS.clear()
    days, rest, backwards = calendars._days_and_rest(duration)
    assert days + rest == duration and days % timedelta(days=1) == timedelta(0) and backwards == (duration < timedelta(0))
    assert abs(rest) < timedelta(days=1) and (rest <= timedelta(0) if backwards else rest >= timedelta(0))
    assert calendars._days_and_rest(duration) == (days, rest, backwards) and duration in calendars._SPLITS


def test_a_bounded_number_of_splits_is_kept_and_none_of_working_days():
    calendars._SPLITS.clear()
    for minutes in range(calendars._SPLITS_KEPT + 50):
        calendars._days_and_rest(timedelta(minutes=minutes))
    assert len(calendars._SPLITS) == calendars._SPLITS_KEPT
    calendars._SPLITS.clear()
    assert calendars._days_and_rest(WorkingDays(2))[:2] == (timedelta(days=2), timedelta(0)) and not calendars._SPLITS


def _three_conversions(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(timezone.utc)


_HOUR_ZONES = st.sampled_from(["Europe/Berlin", "Australia/Lord_Howe", "Asia/Kathmandu", "America/St_Johns",
                               "America/Mexico_City", "Antarctica/Casey", "Pacific/Apia"])


@settings(max_examples=150, deadline=None)
# where an hour's start moves back as the instant moves on: Newfoundland's two-hour spring jump of 1988 (00:01 → 02:01),
# Mexico City leaving local mean time (-6:36:36) in 1922, Casey's jumps from +11 to +8 and back
@example(zone="America/St_Johns", start=datetime(1988, 4, 3, 2, 30, tzinfo=timezone.utc), steps=[60] * 40, form=0)
@example(zone="America/Mexico_City", start=datetime(1922, 1, 1, 6, tzinfo=timezone.utc), steps=[300] * 30, form=0)
@example(zone="Antarctica/Casey", start=datetime(2020, 10, 3, 15, tzinfo=timezone.utc), steps=[900] * 30, form=1)
# a wall time the clock skips, given with either fold (Lord Howe's spring change, 02:00 → 02:30), and Berlin's autumn hour
@example(zone="Australia/Lord_Howe", start=datetime(2025, 10, 4, 14, tzinfo=timezone.utc), steps=[600] * 24, form=2)
@example(zone="Australia/Lord_Howe", start=datetime(2025, 10, 4, 14, tzinfo=timezone.utc), steps=[600] * 24, form=3)
@example(zone="Europe/Berlin", start=datetime(2025, 10, 25, 23, tzinfo=timezone.utc), steps=[900] * 16, form=1)
@given(zone=_HOUR_ZONES, start=st.datetimes(datetime(1900, 1, 1), datetime(2040, 12, 31), timezones=st.just(timezone.utc)),
       steps=st.lists(st.integers(-3 * 3600, 3 * 3600), min_size=1, max_size=40), form=st.integers(0, 3))
def test_the_hour_a_moment_falls_in_is_the_same_whether_kept_or_not(zone, start, steps, form):
    """A centre's hour, asked of moments forwards and backwards around clock changes, given in UTC (form 0), in the zone
    (1), or as the zone's wall time with fold 0 or 1 (2, 3: a wall time the clock skips or repeats is then taken as written):
    as the three conversions tell it, asked afresh and asked again."""
    zone, moment = ZoneInfo(zone), start
    calendars._HOUR_STARTS.clear()
    for step in steps:
        moment += timedelta(seconds=step)
        local = moment.astimezone(zone)
        asked = (moment, local, local.replace(tzinfo=None).replace(tzinfo=zone, fold=0),
                 local.replace(tzinfo=None).replace(tzinfo=zone, fold=1))[form]
        for _ in range(2):
            told = calendars.hour_start(asked, zone)
            assert told == _three_conversions(asked, zone) and told.tzinfo is timezone.utc


def test_the_hour_is_kept_for_a_bounded_number_of_zones_and_hours_and_told_in_any_zone():
    calendars._HOUR_STARTS.clear()
    noon = datetime(2025, 6, 2, 10, 20, tzinfo=timezone.utc)
    for _ in range(calendars._HOUR_ZONES_KEPT + 10):  # new zone objects each time (an org reloaded again and again)
        zone = ZoneInfo.no_cache("Asia/Kathmandu")
        assert calendars.hour_start(noon, zone) == datetime(2025, 6, 2, 10, 15, tzinfo=timezone.utc)
        assert zone in calendars._HOUR_STARTS and len(calendars._HOUR_STARTS) <= calendars._HOUR_ZONES_KEPT
    assert calendars.hour_start(noon, timezone(timedelta(hours=5, minutes=30))) == datetime(2025, 6, 2, 9, 30, tzinfo=timezone.utc)
    calendars._HOUR_STARTS.clear()
    for hours in range(calendars._HOURS_KEPT + 10):
        moment = noon + timedelta(hours=hours)
        assert calendars.hour_start(moment, BERLIN) == moment.replace(minute=0)
    assert 0 < len(calendars._HOUR_STARTS[BERLIN]) <= calendars._HOURS_KEPT


class _ToldInUtc(datetime):
    """A moment whose ``astimezone`` answers in UTC, whatever zone it is asked for."""

    def astimezone(self, tz=None):
        return datetime.fromtimestamp(self.timestamp(), timezone.utc)  # a plain datetime


def test_a_moment_told_in_another_zone_than_asked_is_not_kept_for_that_zone():
    """Its hour is what the three conversions give of it, and the zone's own moments keep theirs."""
    calendars._HOUR_STARTS.clear()
    odd = _ToldInUtc(2025, 6, 2, 10, 20, tzinfo=timezone.utc)
    assert calendars.hour_start(odd, BERLIN) == _three_conversions(odd, BERLIN)
    berlin = datetime(2025, 6, 2, 10, 20, tzinfo=BERLIN)
    assert calendars.hour_start(berlin, BERLIN) == datetime(2025, 6, 2, 8, tzinfo=timezone.utc)
