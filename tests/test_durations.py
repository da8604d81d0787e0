"""Durations: business hours (`4h`) and working days (`3wd`) in business-time targets, and bounds.

A target written in working days is due at the same local time on the Nth working day
(docs/format.md, value form *duration*); hours count open time. The engine's SLA deadlines,
warnings and escalation steps use the calendar's arithmetic for both.
"""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest

from cxrules.engine import (Assigned, CustomerReply, Escalated, FirstResponse, Reopened, Resolved, SlaBreached, SlaWarning,
                            TicketCreated, Waiting)
from cxrules.model import MAX_DURATION, WorkingDays, duration_problem, format_duration, parse_duration

from engine_helpers import local, make_engine, make_org


def created(ticket_id, category="question", at=None):
    return TicketCreated(ticket_id, category=category, channel="phone", segment="normal", priority="normal", member=False, at=at)


def working_days(data):
    data["slas"][0].update({"first_response": "2h", "resolution": "2wd", "warn_at": "50%", "pause_when": ["waiting_customer"]})
    data["escalations"][0]["levels"][0]["within"] = "1wd"


# ---------------------------------------------------------------- the model

def test_working_days_parse_to_their_own_type_and_hours_stay_hours():
    assert parse_duration("3wd") == WorkingDays(3) and parse_duration("3wd").count == 3
    assert parse_duration("72h") == timedelta(hours=72) and not isinstance(parse_duration("72h"), WorkingDays)
    assert WorkingDays(1) != timedelta(days=1) and WorkingDays(1) != parse_duration("24h")   # `1wd` and `24h` differ
    assert format_duration(WorkingDays(2)) == "2wd" and pickle.loads(pickle.dumps(WorkingDays(2))) == WorkingDays(2)


@pytest.mark.parametrize("text", ["99999999999w", "500000w", "367d", "8785h", "367wd", "9" * 25 + "m"])
def test_durations_beyond_the_bound_are_refused_with_a_value_error_never_an_overflow(text):
    assert duration_problem(text)
    with pytest.raises(ValueError, match="366|characters"):
        parse_duration(text)


def test_the_bound_itself_is_allowed():
    assert parse_duration("366d") == MAX_DURATION == parse_duration("8784h") and parse_duration("366wd") == WorkingDays(366)


# ---------------------------------------------------------------- the engine

def test_a_two_working_day_resolution_is_due_at_the_same_time_two_working_days_later(tmp_path):
    engine = make_engine(make_org(tmp_path, working_days), local(2025, 3, 4, 15))         # Tuesday 15:00
    assigned = next(x for x in engine.submit(created("W")) if isinstance(x, Assigned))
    assert assigned.resolution_due == local(2025, 3, 6, 15)                                 # Thursday 15:00
    engine.submit(FirstResponse("W", at=local(2025, 3, 4, 15, 10)))
    fired = engine.advance(local(2025, 3, 6, 16))
    warning = next(x for x in fired if isinstance(x, SlaWarning) and x.target == "resolution")
    breach = next(x for x in fired if isinstance(x, SlaBreached) and x.target == "resolution")
    assert warning.at == local(2025, 3, 5, 15)                     # half of the 18 open hours: Tue 3h + Wed 6h
    assert breach.at == local(2025, 3, 6, 15)


def test_an_escalation_level_of_one_working_day_calls_the_next_level_a_working_day_later(tmp_path):
    engine = make_engine(make_org(tmp_path, working_days), local(2025, 3, 6, 15))         # Thursday 15:00
    engine.submit(created("E", category="complaint"))
    engine.submit(FirstResponse("E", at=local(2025, 3, 6, 15, 5)))
    fired = engine.advance(local(2025, 3, 12, 18))
    levels = [(x.level, x.at) for x in fired if isinstance(x, Escalated)]
    assert levels == [(1, local(2025, 3, 10, 15)), (2, local(2025, 3, 11, 15))]           # breach Mon 15:00, next Tue 15:00


def test_a_reopened_ticket_gets_a_fresh_target_in_working_days(tmp_path):
    engine = make_engine(make_org(tmp_path, working_days), local(2025, 3, 4, 10))
    engine.submit(created("R"))
    engine.submit(Resolved("R", at=local(2025, 3, 4, 11)))
    engine.submit(Reopened("R", at=local(2025, 3, 7, 16)))                                # Friday 16:00
    assert engine.ticket("R").resolution_due == local(2025, 3, 11, 16)                    # Tuesday 16:00


def test_a_pause_keeps_the_open_time_left_of_a_working_day_target(tmp_path):
    engine = make_engine(make_org(tmp_path, working_days), local(2025, 3, 4, 15))
    engine.submit(created("P"))
    engine.submit(FirstResponse("P", at=local(2025, 3, 4, 15, 5)))
    engine.submit(Waiting("P", reason="waiting_customer", at=local(2025, 3, 4, 17)))      # 2 of 18 open hours used
    engine.submit(CustomerReply("P", at=local(2025, 3, 10, 9)))
    assert engine.ticket("P").resolution_due == local(2025, 3, 11, 16)                    # Mon 9h + Tue 7h


# ---------------------------------------------------------------- days and weeks in business time (CX310)

@pytest.mark.parametrize("field, value, says, fix", [
    ("resolution", "3d", "72h of open time, not 3 days; on a calendar open 8 hours a day that is 9 working days",
     "write `3wd` for 3 working days, or `72h` for 72 business hours"),
    ("resolution", "1w", "168h of open time, not 1 week", "write `5wd` for 5 working days (five to a working week), or `168h`"),
    ("first_response", "1d4h", "28h of open time, not 1 day", "write `28h` for 28h of business time, or whole working days such as `1wd`"),
    ("escalation", "2d", "48h of open time, not 2 days", "write `2wd` for 2 working days, or `48h` for 48 business hours"),
])
def test_days_and_weeks_in_a_business_time_field_are_refused_with_both_fixes(tmp_path, field, value, says, fix):
    import cxrules

    def change(data):
        if field == "escalation":
            data["escalations"][0]["levels"][0]["within"] = value
        else:
            data["slas"][0][field] = value
    with pytest.raises(cxrules.OrgError) as raised:
        make_org(tmp_path, change)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "CX310" and says in diagnostic.message and diagnostic.hint.startswith(fix)


def test_days_stay_days_in_calendar_time_and_business_hours_and_working_days_pass(tmp_path):
    def change(data):
        data["slas"][0].update({"first_response": "2h", "resolution": "3wd"})
        data["escalations"][0]["levels"][0]["within"] = "72h"
        data["followups"][0]["within"] = "3d"
    org = make_org(tmp_path, change)
    assert org.slas[0].resolution == WorkingDays(3) and org.followups[0].within == timedelta(days=3)


# ---------------------------------------------------------------- in `check`'s messages and comparisons

def test_cx503_counts_a_working_day_as_an_open_day_of_the_slas_calendar(tmp_path):
    """9 open hours a day: 1wd is about 9 business hours, so 30m to the first-response breach and limits of 6h + 4h
    before the manager exceed it."""
    from cxrules.checks import CheckConfig, check

    def tight(data):
        data["slas"][0]["resolution"] = "1wd"
        data["escalations"][0]["levels"] = [{"role": "desk", "within": "6h"}, {"role": "desk", "within": "4h"}, {"role": "manager"}]
    findings = check(make_org(tmp_path, tight), CheckConfig(select=frozenset({"CX503"})))
    assert [f.message for f in findings] == [
        "escalation `complaints` starts at the 30m first-response breach and takes 10h more to reach its last level: "
        "an unanswered ticket reaches it 1h30m after the 1wd resolution target of SLA `standard`"]

    def roomy(data):
        tight(data)
        data["slas"][0]["resolution"] = "2wd"
    assert not check(make_org(tmp_path, roomy, "roomy.yaml"), CheckConfig(select=frozenset({"CX503"})))


def test_business_time_is_shown_in_hours_never_in_refused_days():
    assert format_duration(timedelta(hours=48), days=False) == "48h" and format_duration(timedelta(hours=48)) == "2d"


@pytest.mark.parametrize("written, hint", [("3 days", "did you mean `3wd`?"), ("2 working days", "did you mean `2wd`?"),
                                           ("4 hours", "did you mean `4h`?"), ("3D", "did you mean `3wd`?"),
                                           (72, "a duration needs its unit: `72h`")])
def test_near_misses_in_business_time_get_a_form_that_validates(tmp_path, written, hint):
    import cxrules

    def near_miss(data):
        data["slas"][0]["resolution"] = written
    with pytest.raises(cxrules.OrgError) as raised:
        make_org(tmp_path, near_miss)
    (problem,) = raised.value.diagnostics
    assert hint in problem.hint
