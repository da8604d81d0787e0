"""Campaigns (Double 11, 618, a model launch): rules and staff `during` a campaign, surge teams on for its dates, and
`check` looking at its dates as it looks at holidays."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from cxrules import CheckConfig, check
from cxrules.engine import Engine, Queued, TicketCreated, VirtualClock

from engine_helpers import StoppedClock, local, make_org

DOUBLE_11 = {"id": "double_11", "name": "Double 11", "label": "双十一", "dates": ["2025-11-01/2025-11-12"]}


def festival(data):
    data["roles"].append({"id": "festival_desk", "name": "Festival desk", "unit": "front", "reports_to": "manager",
                          "handles": ["complaint", "question"], "staff": [{"shift": "office", "agents": 2, "during": "double_11"}]})
    data["roles"][1]["staff"].append({"shift": "office", "agents": 3, "during": "double_11"})  # the desk: 2 agents, 5 on Double 11
    data["routing"].insert(0, {"id": "festival_complaints", "match": {"category": ["complaint"]}, "to": "festival_desk",
                               "during": "double_11", "precedence": 20})
    data["campaigns"] = [dict(DOUBLE_11)]


def complaint(number: int, at):
    return TicketCreated(f"t{number}", category="complaint", channel="phone", segment="normal", priority="normal", at=at)


def test_a_rule_during_a_campaign_routes_on_its_dates_only(tmp_path):
    engine = Engine(make_org(tmp_path, festival), VirtualClock(local(2025, 11, 3, 10)))
    engine.submit(complaint(1, local(2025, 11, 3, 10)))   # Monday of Double 11
    engine.submit(complaint(2, local(2025, 11, 17, 10)))  # the Monday after
    assert (engine.ticket("t1").role, engine.ticket("t1").rule) == ("festival_desk", "festival_complaints")
    assert engine.ticket("t2").role == "desk"


def test_extra_staff_work_the_campaign_only(tmp_path):
    org = make_org(tmp_path, festival)
    assert [group.shift for group in org.role("desk").staff] == ["office", "office@double_11"]

    def seats(day) -> int:
        """Questions the desk takes at once before one queues (capacity 3 per agent)."""
        engine = Engine(org, VirtualClock(local(2025, 11, day, 10)))
        for n in range(100):
            decisions = engine.submit(TicketCreated(f"q{n}", category="question", channel="phone", segment="normal",
                                                    priority="normal", at=local(2025, 11, day, 10)))
            if any(isinstance(x, Queued) for x in decisions):
                return n
        return 100
    assert (seats(3), seats(17)) == (15, 6)  # five agents on Double 11, two after it


def test_a_campaign_switches_its_surge_team_on_for_its_dates(tmp_path):
    def change(data):
        data["roles"].append({"id": "surge_team", "name": "Surge team", "unit": "front", "reports_to": "manager",
                              "handles": ["complaint", "question"], "temporary": True, "staff": [{"shift": "office", "agents": 4}]})
        data["surges"] = [{"id": "complaint_wave", "match": {"category": ["complaint"]}, "threshold": 500, "window": "1h",
                           "activate": "surge_team"}]
        data["campaigns"] = [{**DOUBLE_11, "surges": ["complaint_wave"]}]
    engine = Engine(make_org(tmp_path, change), VirtualClock(local(2025, 10, 31, 10)))
    for number, day in enumerate((31, 1, 12)):
        month = 10 if day == 31 else 11
        engine.submit(complaint(number, local(2025, month, day, 10)))
    assert [engine.ticket(f"t{n}").role for n in range(3)] == ["desk", "surge_team", "surge_team"]


def test_check_names_the_campaign_dates_when_only_they_have_a_problem(tmp_path):
    """The festival desk works office hours of Double 11 but the phone is open at weekends then too: Saturday 1 and
    Sunday 2 November, 8 and 9 November, its complaints wait with nobody of the festival desk on shift."""
    def change(data):
        festival(data)
        data["calendars"].append({"id": "every_day", "hours": {"daily": ["09:00-18:00"]}})
        data["channels"][0]["hours"] = "every_day"
        data["roles"][1]["staff"][0]["shift"] = "every_day"
    org = make_org(tmp_path, change)
    findings = check(org, CheckConfig(select=frozenset({"CX715"}), horizon=(date(2025, 1, 1), date(2025, 12, 31))))
    assert [f.message for f in findings] == [
        "`phone` tickets that rule `festival_complaints` sends to `festival_desk` arrive on 2025-11-01 to 11-02, "
        "2025-11-08 to 11-09 at 09:00–18:00 while nobody of `festival_desk` is on shift (others who serve `phone` are)"]
    assert not check(org, CheckConfig(select=frozenset({"CX715"}), horizon=(date(2025, 1, 1), date(2025, 10, 31))))


def test_a_surge_relative_to_the_usual_volume_of_that_hour(tmp_path):
    """Twice the average of the same hour over the last 4 weeks: Mondays 10–11 usually bring 5 complaints, so the 10th
    of an hour switches the team on; on a Tuesday night, with no usual volume, the floor of 3 does."""
    from datetime import timedelta

    from cxrules.engine import SurgeActivated

    def change(data):
        data["roles"].append({"id": "surge_team", "name": "Surge team", "unit": "front", "reports_to": "manager",
                              "handles": ["complaint", "question"], "temporary": True, "staff": [{"shift": "office", "agents": 4}]})
        data["surges"] = [{"id": "wave", "match": {"category": ["complaint"]}, "threshold": 3, "usual": {"times": 2, "weeks": 4},
                           "window": "1h", "activate": "surge_team"}]
    org = make_org(tmp_path, change)
    engine = Engine(org, VirtualClock(local(2025, 3, 3, 10)))
    number = 0

    def arrivals(start, count, spacing=timedelta(minutes=5)) -> list[int]:
        nonlocal number
        switched = []
        for n in range(count):
            number += 1
            if any(isinstance(x, SurgeActivated) for x in engine.submit(complaint(number, start + spacing * n))):
                switched.append(n + 1)
        return switched

    # the usual Monday: 5 complaints between 10:00 and 10:20. While the history is short, the floor of 3 rules; by the
    # fourth week the hour up to 10:10 usually holds 3 × 3 / 4 weeks, twice that is 5: no surge
    assert [arrivals(local(2025, 3, 3, 10) + timedelta(weeks=week), 5) for week in range(4)] == [[3], [3], [3], []]
    assert arrivals(local(2025, 3, 31, 10), 11, spacing=timedelta(minutes=4)) == [10]
    assert engine.surges.threshold(org.surges[0], local(2025, 4, 1, 3)) == 3  # Tuesday 03:00: never busy, the floor


def test_a_campaign_s_surge_is_on_by_the_date_of_the_event_s_instant_even_at_a_wall_time_the_clocks_skipped(tmp_path):
    """A service's clock keeps an event's time as told. Santiago's 7 September 2025, 00:30 with fold 1, is 23:30 on the 6th
    (the clocks skip from midnight to one): on a campaign of the 6th, its ticket goes to the surge team. Read off the wall
    date, the 7th, it did not."""
    santiago = ZoneInfo("America/Santiago")

    def change(data):
        data["org"]["timezone"] = "America/Santiago"
        data["roles"].append({"id": "surge_team", "name": "Surge team", "unit": "front", "reports_to": "manager",
                              "handles": ["complaint", "question"], "temporary": True, "staff": [{"shift": "office", "agents": 4}]})
        data["surges"] = [{"id": "complaint_wave", "match": {"category": ["complaint"]}, "threshold": 500, "window": "1h",
                           "activate": "surge_team"}]
        data["campaigns"] = [{"id": "eve", "name": "The eve", "dates": ["2025-09-06"], "surges": ["complaint_wave"]}]
    skipped = datetime(2025, 9, 7, 0, 30, fold=1, tzinfo=santiago)
    engine = Engine(make_org(tmp_path, change), StoppedClock(skipped))
    engine.submit(complaint(1, skipped))
    engine.submit(complaint(2, datetime(2025, 9, 7, 10, tzinfo=santiago)))  # the day after the campaign
    assert [engine.ticket(f"t{n}").role for n in (1, 2)] == ["surge_team", "desk"]
