"""SLA targets beyond first response and resolution: the next reply, an SLA without a resolution target, figures per
target (business minutes, pauses left out), and a ticket closed while paused that keeps no stale deadline."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import example, given, strategies as st

from cxrules.engine import (AgentReplied, Closed, CustomerReply, Engine, FirstResponse, Resolved, SlaBreached, SlaRecorded,
                            TicketCreated, VirtualClock, Waiting)
from cxrules.calendars import micros
from cxrules.engine.slas import in_minutes

from engine_helpers import local, make_org

MONDAY = local(2025, 3, 3, 10)  # the tiny org's office calendar: Mon–Fri 09:00–18:00


def sla(**targets):
    def change(data):
        standard = data["slas"][0]
        for name, value in targets.items():
            if value is None:
                standard.pop(name, None)
            else:
                standard[name] = value
    return change


def created(engine, at=MONDAY, ticket_id="t1"):
    return engine.submit(TicketCreated(ticket_id, category="question", channel="phone", segment="normal", priority="normal", at=at))


def recorded(decisions) -> list[tuple]:
    return [(x.target, x.in_min, x.paused_min, x.met) for x in decisions if isinstance(x, SlaRecorded)]


def test_an_sla_may_set_a_first_response_target_only(tmp_path):
    engine = Engine(make_org(tmp_path, sla(resolution=None, escalation=None)), VirtualClock(MONDAY))
    created(engine)
    ticket = engine.ticket("t1")
    assert ticket.first_response_due == local(2025, 3, 3, 10, 30) and ticket.resolution_due is None
    assert recorded(engine.submit(FirstResponse("t1", at=local(2025, 3, 3, 10, 20)))) == [("first_response", 20.0, 0.0, True)]
    assert recorded(engine.submit(Resolved("t1", at=local(2025, 3, 5, 10)))) == []  # no resolution target: nothing to record
    assert not [x for x in engine.advance(local(2025, 3, 20)) if isinstance(x, SlaBreached)]


def test_the_next_reply_is_due_in_business_time_after_each_customer_reply(tmp_path):
    engine = Engine(make_org(tmp_path, sla(next_reply="2h")), VirtualClock(MONDAY))
    created(engine)
    engine.submit(FirstResponse("t1", at=local(2025, 3, 3, 10, 10)))
    engine.submit(CustomerReply("t1", at=local(2025, 3, 3, 17)))  # one open hour left today: due Tuesday 10:00
    assert engine.ticket("t1").next_reply_due == local(2025, 3, 4, 10)
    assert recorded(engine.submit(AgentReplied("t1", at=local(2025, 3, 4, 9, 30)))) == [("next_reply", 90.0, 0.0, True)]
    assert engine.ticket("t1").next_reply_due is None
    engine.submit(CustomerReply("t1", at=local(2025, 3, 4, 11)))
    breaches = [x for x in engine.advance(local(2025, 3, 4, 14)) if isinstance(x, SlaBreached) and x.target == "next_reply"]
    assert [(x.at, x.due) for x in breaches] == [(local(2025, 3, 4, 13), local(2025, 3, 4, 13))]
    assert recorded(engine.submit(AgentReplied("t1", at=local(2025, 3, 4, 14)))) == [("next_reply", 180.0, 0.0, False)]


def test_an_agent_reply_before_any_answer_is_the_first_response(tmp_path):
    engine = Engine(make_org(tmp_path, sla(next_reply="2h")), VirtualClock(MONDAY))
    created(engine)
    assert recorded(engine.submit(AgentReplied("t1", at=local(2025, 3, 3, 10, 45)))) == [("first_response", 45.0, 0.0, False)]
    engine.submit(CustomerReply("t1", at=local(2025, 3, 3, 11)))
    assert engine.ticket("t1").next_reply_due == local(2025, 3, 3, 13)


def test_figures_leave_the_pauses_out(tmp_path):
    engine = Engine(make_org(tmp_path, sla(pause_when=["waiting_customer"])), VirtualClock(MONDAY))
    created(engine)
    engine.submit(FirstResponse("t1", at=local(2025, 3, 3, 10, 15)))
    engine.submit(Waiting("t1", reason="waiting_customer", at=local(2025, 3, 3, 11)))
    engine.submit(CustomerReply("t1", at=local(2025, 3, 3, 17)))  # six business hours waiting on the customer
    decisions = engine.submit(Resolved("t1", at=local(2025, 3, 4, 10)))
    # arrival Mon 10:00 to Tue 10:00 is 9 business hours (540 min), 360 of them paused
    assert recorded(decisions) == [("resolution", 180.0, 360.0, True)]
    ticket = engine.ticket("t1")
    assert (ticket.first_response_in_min, ticket.resolution_in_min, ticket.paused_min) == (15.0, 180.0, 360.0)


def test_a_ticket_closed_while_paused_keeps_no_stale_deadline(tmp_path):
    engine = Engine(make_org(tmp_path, lambda data: (sla(pause_when=["waiting_customer"])(data), data.update(followups=[]))),
                    VirtualClock(MONDAY))
    created(engine)
    engine.submit(FirstResponse("t1", at=local(2025, 3, 3, 10, 5)))
    engine.submit(Waiting("t1", reason="waiting_customer", at=local(2025, 3, 3, 11)))
    decisions = engine.submit(Closed("t1", at=local(2025, 3, 3, 15)))
    assert recorded(decisions) == [("resolution", 60.0, 240.0, True)]  # closed without a resolution: its end counts
    assert not [x for x in engine.advance(local(2025, 3, 20)) if isinstance(x, SlaBreached)]


def test_a_reopened_ticket_measures_its_new_resolution_from_the_reopening(tmp_path):
    from cxrules.engine import Reopened

    engine = Engine(make_org(tmp_path), VirtualClock(MONDAY))
    created(engine)
    engine.submit(FirstResponse("t1", at=local(2025, 3, 3, 10, 5)))
    engine.submit(Resolved("t1", at=local(2025, 3, 3, 12)))
    engine.submit(Reopened("t1", at=local(2025, 3, 3, 14)))
    assert recorded(engine.submit(Resolved("t1", at=local(2025, 3, 3, 16, 30)))) == [("resolution", 150.0, 0.0, True)]
    assert engine.ticket("t1").resolution_in_min == 150.0


def test_a_ticket_resolved_while_paused_stops_its_pause_and_its_deadlines(tmp_path):
    engine = Engine(make_org(tmp_path, sla(pause_when=["waiting_customer"])), VirtualClock(MONDAY))
    created(engine)
    engine.submit(Waiting("t1", reason="waiting_customer", at=local(2025, 3, 3, 11)))
    engine.submit(Resolved("t1", at=local(2025, 3, 3, 15)))
    ticket = engine.ticket("t1")
    assert (ticket.paused_since, ticket.first_response_due, ticket.resolution_due, ticket.paused_min) == (None, None, None, 240.0)


def test_which_waiting_stops_which_clock_is_set_per_target(tmp_path):
    """Waiting on the customer stops the resolution clock only: the first response is still due, and breached, meanwhile."""
    engine = Engine(make_org(tmp_path, sla(pause_when={"resolution": ["waiting_customer"]}, escalation=None)), VirtualClock(MONDAY))
    created(engine)
    engine.submit(Waiting("t1", reason="waiting_customer", at=local(2025, 3, 3, 10, 10)))
    breached = [(x.target, x.at) for x in engine.advance(local(2025, 3, 3, 12)) if isinstance(x, SlaBreached)]
    assert breached == [("first_response", local(2025, 3, 3, 10, 30))]
    engine.submit(CustomerReply("t1", at=local(2025, 3, 3, 12)))  # 110 business minutes waited
    assert engine.ticket("t1").resolution_due == local(2025, 3, 5, 16) + timedelta(minutes=110)
    assert recorded(engine.submit(AgentReplied("t1", at=local(2025, 3, 3, 12, 30)))) == [("first_response", 150.0, 0.0, False)]
    assert recorded(engine.submit(Resolved("t1", at=local(2025, 3, 3, 14)))) == [("resolution", 130.0, 110.0, True)]


def test_a_target_that_ends_while_its_clock_stands_still_counts_up_to_the_pause(tmp_path):
    engine = Engine(make_org(tmp_path, sla(pause_when=["waiting_customer"])), VirtualClock(MONDAY))
    created(engine)
    engine.submit(Waiting("t1", reason="waiting_customer", at=local(2025, 3, 3, 10, 20)))
    assert recorded(engine.submit(FirstResponse("t1", at=local(2025, 3, 3, 11)))) == [("first_response", 20.0, 40.0, True)]


@example(1_500_000)  # 0.025 minutes: a tie in decimals that the float is just above
@example(300_000)
@example(2**30 * 600_000)
@given(st.one_of(st.integers(-10**6, 10**13), st.integers(0, 10**6).map(lambda n: n * 300_000),
                 st.integers(0, 2**53)))
def test_minutes_to_two_decimals_are_those_python_rounds(count):
    """An SLA figure's minutes are rounded as ``round(µs / 1e6 / 60, 2)`` rounds them, ties in decimals included. (Up to
    2⁵³ µs, 285 years: past it compiled code divides an int as a float, before and after in_minutes.)"""
    assert in_minutes(count) == round(max(count, 0) / 1_000_000 / 60, 2)


def test_figures_read_the_microseconds_a_ticket_kept_of_the_very_moments_kept_and_no_others(tmp_path):
    """A ticket keeps the µs of its arrival and due times when its SLA starts, for its figures (worked out afresh long
    after, each costs a tenth of the figure). They are read for those very moments, and not once a pause has moved the due
    time: here kept µs made wrong show in the first response's figure (an arrival read an hour early: an hour that the
    target's clock did not run, so it stood still), and not in the resolution's."""
    engine = Engine(make_org(tmp_path, sla(pause_when=["waiting_customer"])), VirtualClock(MONDAY))
    created(engine)
    ticket = engine.ticket("t1")
    kept = [(ticket.created_kept, ticket.created_micros), (ticket.first_response_due_kept, ticket.first_response_due_micros),
            (ticket.resolution_due_kept, ticket.resolution_due_micros)]
    assert kept == [(moment, micros(moment)) for moment in (ticket.created_at, ticket.first_response_due, ticket.resolution_due)]
    hour = timedelta(hours=1) // timedelta(microseconds=1)
    ticket.created_micros -= hour  # read as an arrival at 09:00, for the first response's figure alone
    assert recorded(engine.submit(FirstResponse("t1", at=local(2025, 3, 3, 10, 15)))) == [("first_response", 15.0, 60.0, True)]
    ticket.created_micros += hour
    engine.submit(Waiting("t1", reason="waiting_customer", at=local(2025, 3, 3, 11)))
    engine.submit(CustomerReply("t1", at=local(2025, 3, 3, 17)))  # the pause moves the resolution's due time
    ticket.resolution_due_micros -= 24 * hour  # kept for the due time the pause replaced: not read
    assert recorded(engine.submit(Resolved("t1", at=local(2025, 3, 4, 10)))) == [("resolution", 180.0, 360.0, True)]


def test_a_resolution_figure_reads_the_microseconds_kept_for_its_own_due_time(tmp_path):
    """Each target's figure reads the µs kept for its own due time: read for the resolution, the first response's (due
    the same morning) would make a resolution on Tuesday late."""
    engine = Engine(make_org(tmp_path, sla()), VirtualClock(MONDAY))
    created(engine)
    engine.submit(FirstResponse("t1", at=local(2025, 3, 3, 10, 15)))
    assert recorded(engine.submit(Resolved("t1", at=local(2025, 3, 4, 10)))) == [("resolution", 540.0, 0.0, True)]


def test_a_target_answered_at_its_very_due_moment_is_met(tmp_path):
    """Met means answered by the due time, that moment included (in µs, as the figure compares them)."""
    engine = Engine(make_org(tmp_path, sla()), VirtualClock(MONDAY))
    created(engine)
    assert engine.ticket("t1").first_response_due == local(2025, 3, 3, 10, 30)
    assert recorded(engine.submit(FirstResponse("t1", at=local(2025, 3, 3, 10, 30)))) == [("first_response", 30.0, 0.0, True)]
