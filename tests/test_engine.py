"""The engine under a virtual clock: assignment, queues, SLAs, escalation, follow-ups, surges, workflows."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import cxrules
from cxrules.engine import (Assigned, Closed, CustomerReply, Engine, Reopened, Escalated, Fallback, FirstResponse, FollowUpDone, FollowUpDue,
                            FollowUpOverdue, FollowUpScheduled, HandOff, Notified, Queued, Reassigned, Refused, Resolved, SlaBreached,
                            SlaWarning, SqliteStore, StateChanged, SurgeActivated, SurgeDeactivated, TicketCreated, Waiting, WorkflowStep)
from cxrules.engine.store import NO_UNIT, MemoryStore, entry_timer

from conftest import ORGS
from engine_helpers import StoppedClock, VirtualClock, local, make_engine, make_org


def created(ticket_id, category="question", channel="phone", segment="normal", priority="normal", member=False, at=None):
    return TicketCreated(ticket_id, category=category, channel=channel, segment=segment, priority=priority, member=member, at=at)


def kinds(decisions):
    return [type(x).__name__ for x in decisions]


# ---------------------------------------------------------------- the showcase scenario

def test_vip_member_complaint_on_wechat_friday_evening():
    """Who gets it, when it escalates, when the callback is due, and that it skips quiet hours."""
    org = cxrules.load_org(ORGS / "automotive.yaml")
    friday_evening = local(2025, 3, 7, 19, 30)
    engine = make_engine(org, friday_evening)
    try:
        first = engine.submit(created("T1", "complaint", "wechat", "vip", "high", member=True))
        assigned = next(x for x in first if isinstance(x, Assigned))
        assert (assigned.role, assigned.rule) == ("cs_rep", "vip_front_desk")   # the office rules are closed
        # SLA clocks run in business hours: nothing counts between Fri 18:00 and Sat 08:30
        assert assigned.first_response_due == local(2025, 3, 8, 8, 45)
        timeline = engine.advance(local(2025, 3, 10, 18, 0))
        escalations = [x for x in timeline if isinstance(x, Escalated)]
        assert [(x.role, x.at) for x in escalations] == [
            ("crm_supervisor", local(2025, 3, 8, 8, 45)), ("cs_manager", local(2025, 3, 8, 12, 45)),
            ("general_manager", local(2025, 3, 9, 11, 15))]
        assert [x.at for x in timeline] == sorted(x.at for x in timeline)       # timers fire in time order
        resolved = engine.submit(Resolved("T1", at=local(2025, 3, 10, 20, 30)))
        scheduled = next(x for x in resolved if isinstance(x, FollowUpScheduled))
        assert scheduled.policy == "complaint_revisit"
        assert scheduled.due == local(2025, 3, 13, 20, 30)                        # within 3 days
        assert scheduled.call_at == local(2025, 3, 11, 9, 0)                      # not in the 21:00–09:00 rest
        due = engine.advance(local(2025, 3, 11, 12, 0))
        assert [(type(x), x.at) for x in due] == [(FollowUpDue, local(2025, 3, 11, 9, 0))]
        assert engine.submit(FollowUpDone("T1", policy="complaint_revisit", satisfied=True)) == []
    finally:
        engine.close()


def test_advancing_to_each_decision_fires_what_one_advance_fires_stopping_at_each_deciding_moment():
    """`advance_to_decision` (the simulation's step) gives the decisions one `advance` gives, a moment at a time: each call
    stops with the clock at the moment that decided something; timers that decide nothing (the first-response warning
    and breach of a ticket answered in time) are passed over within the call; at the end the clock is at the last timer."""
    org = cxrules.load_org(ORGS / "automotive.yaml")
    friday_evening, until = local(2025, 3, 7, 19, 30), local(2025, 3, 10, 18, 0)
    engines = [make_engine(org, friday_evening) for _ in range(2)]
    try:
        for engine in engines:
            engine.submit(created("T1", "complaint", "wechat", "vip", "high", member=True))
            engine.submit(created("T2", "question", "phone", "normal", "normal"))
            engine.submit(FirstResponse("T2", at=local(2025, 3, 7, 19, 35)))
        whole, stepwise = engines[0].advance(until), []
        while decided := engines[1].advance_to_decision(until):
            assert {x.at for x in decided} == {engines[1].clock.now()}
            stepwise.append(decided)
        assert [x for step in stepwise for x in step] == whole
        assert len(stepwise) == len({x.at for x in whole}) > 1
        left = engines[1].store.next_due()
        assert engines[1].clock.now() < until and (left is None or left > until)
    finally:
        for engine in engines:
            engine.close()


# ---------------------------------------------------------------- assignment and queues

def _staffed(agents=1, capacity=1, assignment="least_loaded"):
    def change(data):
        desk = next(r for r in data["roles"] if r["id"] == "desk")
        desk.update(capacity=capacity, assignment=assignment, staff=[{"shift": "office", "agents": agents}])
    return change


def test_full_role_queues_and_hands_out_oldest_first(tmp_path):
    engine = make_engine(make_org(tmp_path, _staffed(agents=1, capacity=1)), local(2025, 3, 3, 10))
    assert kinds(engine.submit(created("A"))) == ["Assigned"]
    assert kinds(engine.submit(created("B"))) == ["Queued"]
    assert kinds(engine.submit(created("C"))) == ["Queued"]
    assert engine.queue("desk") == ["B", "C"]
    freed = engine.submit(Resolved("A"))
    assert [(type(x), x.ticket_id) for x in freed if isinstance(x, Assigned)] == [(Assigned, "B")]
    assert engine.queue("desk") == ["C"]


def test_least_loaded_spreads_and_round_robin_rotates(tmp_path):
    engine = make_engine(make_org(tmp_path, _staffed(agents=3, capacity=5)), local(2025, 3, 3, 10))
    agents = [next(x for x in engine.submit(created(f"L{i}")) if isinstance(x, Assigned)).agent for i in range(6)]
    assert agents == ["desk#1", "desk#2", "desk#3", "desk#1", "desk#2", "desk#3"]
    engine.submit(Resolved("L1"))
    assert next(x for x in engine.submit(created("L6")) if isinstance(x, Assigned)).agent == "desk#2"
    rr = make_engine(make_org(tmp_path, _staffed(agents=3, capacity=5, assignment="round_robin"), "rr.yaml"), local(2025, 3, 3, 10))
    picks = [next(x for x in rr.submit(created(f"R{i}")) if isinstance(x, Assigned)).agent for i in range(4)]
    assert picks == ["desk#1", "desk#2", "desk#3", "desk#1"]


def test_nobody_on_shift_queues_until_the_shift_starts(tmp_path):
    engine = make_engine(make_org(tmp_path, _staffed()), local(2025, 3, 1, 10))  # Saturday: office closed
    decision = engine.submit(created("W"))[0]
    assert isinstance(decision, Queued) and "nobody" in decision.reason
    monday = engine.advance(local(2025, 3, 3, 12))
    assert [(type(x), x.at) for x in monday if isinstance(x, Assigned)] == [(Assigned, local(2025, 3, 3, 9))]


def _german_for_complaints(data):
    data["skills"] = [{"id": "de", "name": "German"}]
    desk = next(r for r in data["roles"] if r["id"] == "desk")
    desk.update(capacity=1, staff=[{"shift": "office", "agents": 1}, {"shift": "office", "agents": 1, "skills": ["de"]}])
    next(rule for rule in data["routing"] if rule["id"] == "complaints")["requires"] = ["de"]


def test_a_rule_s_required_skills_choose_the_agent_when_assigned_and_when_the_queue_drains(tmp_path):
    """A complaint needs German: it waits for the one agent who speaks it, though another is free, and the drain that
    follows a resolution hands it to that agent. The skills a rule requires are one set, made once for all its tickets."""
    org = make_org(tmp_path, _german_for_complaints)
    engine = make_engine(org, local(2025, 3, 3, 10))
    taken = [next(x for x in engine.submit(created("C1", category="complaint")) if isinstance(x, Assigned)).agent]
    assert isinstance(engine.submit(created("C2", category="complaint"))[-1], Queued)   # desk#1 is free, but no German
    freed = engine.submit(Resolved("C1"))                                                 # both free: the least loaded
    taken.append(next(x for x in engine.submit(created("Q1")) if isinstance(x, Assigned)).agent)
    assert (taken, [(x.ticket_id, x.agent) for x in freed if isinstance(x, Assigned)]) == (["desk#2", "desk#1"], [("C2", "desk#2")])
    required = engine.assignment.required
    assert required("complaints") == {"de"} and required("complaints") is required("complaints")
    assert required(None) == required("a_rule_a_reload_removed") == frozenset()


def test_a_drain_asked_for_by_a_later_ticket_hands_out_what_a_timer_of_its_moment_unblocked(tmp_path):
    """Each ticket that arrives while nobody is on shift asks for a drain at the opening, and each is kept. At Monday's
    opening the first drain stops at H, a complaint only the busy German speaker may take; an automation of that same
    moment then moves H to the manager, and the drain Q2 asked for hands Q2 to the free agent. Kept once per opening (tried
    at stop 51), Q2 waited though an agent was free, and the memory store decided otherwise than the durable ones."""
    def german_and_an_automation(data):
        _german_for_complaints(data)
        data["automations"] = [{"id": "to_manager", "when": {"after": "47h", "since": "created", "clock": "calendar"},
                                "if": {"match": {"category": ["complaint"]}, "status": ["queued"]}, "then": {"assign": "manager"}}]
    engine = make_engine(make_org(tmp_path, german_and_an_automation), local(2025, 3, 7, 10))    # Friday
    engine.submit(created("C0", category="complaint", at=local(2025, 3, 7, 10)))                 # German speaker busy
    engine.submit(created("H", category="complaint", at=local(2025, 3, 8, 10)))                  # Saturday: queued
    engine.submit(created("Q2", at=local(2025, 3, 8, 11)))
    monday = engine.advance(local(2025, 3, 10, 12))
    assert [(x.ticket_id, x.role, x.agent, x.at) for x in monday if isinstance(x, Assigned)] == [
        ("H", "manager", "manager#1", local(2025, 3, 10, 9)), ("Q2", "desk", "desk#1", local(2025, 3, 10, 9))]
    assert engine.queue("desk") == []


def test_unrouted_ticket_goes_to_the_fallback_queue_and_is_reported(tmp_path):
    def only_complaints(data):
        data["routing"] = [{"id": "complaints", "match": {"category": ["complaint"]}, "to": "manager", "precedence": 1}]
    engine = make_engine(make_org(tmp_path, only_complaints), local(2025, 3, 3, 10))
    decisions = engine.submit(created("Q"))
    assert isinstance(decisions[0], Fallback) and decisions[0].role == "desk"
    assert any(isinstance(x, Assigned) and x.role == "desk" for x in decisions)
    assert engine.fallback_tickets == ["Q"]


# ---------------------------------------------------------------- SLAs in business time

def test_sla_deadline_skips_chinese_new_year_and_counts_the_make_up_sunday(tmp_path):
    engine = make_engine(make_org(tmp_path), local(2025, 1, 24, 17, 0))  # Friday before the holiday
    decisions = engine.submit(created("H"))
    assigned = next(x for x in decisions if isinstance(x, Assigned))
    # 24h = 24 business hours of 9 h days: Fri 1h, Sun 26 Jan (make-up working day) 9h, Mon 9h, Tue 28 Jan is a
    # holiday... so 5h remain for the next working day after the festival (Wed 5 Feb 09:00 + 5h)
    assert assigned.resolution_due == local(2025, 2, 5, 14, 0)
    assert assigned.first_response_due == local(2025, 1, 24, 17, 30)


def test_sla_warning_and_breach_then_escalation_levels(tmp_path):
    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 9, 0))
    engine.submit(created("S", category="complaint"))
    fired = engine.advance(local(2025, 3, 4, 18, 0))
    assert [type(x) for x in fired][:2] == [SlaWarning, SlaBreached]
    assert fired[0].at == local(2025, 3, 3, 9, 24) and fired[1].at == local(2025, 3, 3, 9, 30)  # 80% of 30m
    escalated = [x for x in fired if isinstance(x, Escalated)]
    assert [(x.role, x.level, x.at) for x in escalated] == [("desk", 1, local(2025, 3, 3, 9, 30)),
                                                            ("manager", 2, local(2025, 3, 3, 11, 30))]


def test_first_response_stops_the_first_response_clock(tmp_path):
    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 9, 0))
    engine.submit(created("F"))
    engine.submit(FirstResponse("F", at=local(2025, 3, 3, 9, 10)))
    assert [x for x in engine.advance(local(2025, 3, 3, 12)) if getattr(x, "target", "") == "first_response"] == []


def test_waiting_for_the_customer_pauses_the_clock(tmp_path):
    def pausing(data):
        data["slas"][0]["pause_when"] = ["waiting_customer"]
    engine = make_engine(make_org(tmp_path, pausing), local(2025, 3, 3, 9, 0))
    engine.submit(created("P"))
    engine.submit(FirstResponse("P"))
    engine.submit(Waiting("P", reason="waiting_customer", at=local(2025, 3, 3, 10, 0)))
    assert engine.advance(local(2025, 3, 5, 17, 0)) == []          # no breach while paused
    engine.submit(CustomerReply("P", at=local(2025, 3, 6, 10, 0)))
    # 1 of 24 business hours was used before the pause; 23 remain from Thu 10:00: Thu 8h, Fri 9h, Mon 6h
    assert engine.ticket("P").resolution_due == local(2025, 3, 10, 15, 0)


# ---------------------------------------------------------------- follow-ups

def test_followup_fires_once_even_when_resolved_is_replayed(tmp_path):
    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 10))
    engine.submit(created("R", category="complaint", member=True))
    first = engine.submit(Resolved("R"))
    assert kinds(first).count("FollowUpScheduled") == 1
    replay = engine.submit(Resolved("R"))
    assert kinds(replay) == ["FollowUpDue", "Refused"]  # the call falls due at once (office hours, no quiet time)
    later = engine.advance(local(2025, 3, 10))
    assert kinds(later) == ["FollowUpOverdue", "Notified"]


def test_unsatisfied_answer_reopens_and_escalates(tmp_path):
    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 10))
    engine.submit(created("U", category="repair_quality", member=True))
    engine.submit(Resolved("U"))
    decisions = engine.submit(FollowUpDone("U", policy="revisit", satisfied=False, at=local(2025, 3, 4, 10)))
    assert kinds(decisions)[:3] == ["FollowUpDue", "TicketReopened", "Assigned"]
    assert any(isinstance(x, Escalated) and x.path == "complaints" for x in decisions)
    assert kinds(engine.submit(FollowUpDone("U", policy="revisit"))) == ["Refused"]  # a duplicate answer changes nothing


def test_overdue_followup_notifies_the_supervisor(tmp_path):
    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 10))
    engine.submit(created("O", category="complaint", member=True))
    engine.submit(Resolved("O"))
    overdue = [x for x in engine.advance(local(2025, 3, 7)) if isinstance(x, (FollowUpOverdue, Notified))]
    assert [type(x) for x in overdue] == [FollowUpOverdue, Notified]
    assert overdue[1].roles == ("manager",) and overdue[0].at == local(2025, 3, 6, 10)


def test_coverage_samples_non_members_deterministically(tmp_path):
    def half(data):
        data["followups"][0]["coverage"] = {"members": "100%", "others": "50%"}
    engine = make_engine(make_org(tmp_path, half), local(2025, 3, 3, 10))
    scheduled = 0
    for i in range(200):
        engine.submit(created(f"N{i}", category="complaint"))
        scheduled += kinds(engine.submit(Resolved(f"N{i}"))).count("FollowUpScheduled")
    assert 70 < scheduled < 130


# ---------------------------------------------------------------- surges, hand-offs, workflows

def _surging(data):
    data["surges"] = [{"id": "storm", "match": {"category": ["complaint"]}, "threshold": 3, "window": "1h",
                       "release_below": 2, "activate": "manager"}]


def test_surge_switches_the_team_on_and_off(tmp_path):
    engine = make_engine(make_org(tmp_path, _surging), local(2025, 3, 3, 10))
    for i, minute in enumerate((0, 10, 20)):
        decisions = engine.submit(created(f"C{i}", category="complaint", at=local(2025, 3, 3, 10, minute)))
    assert isinstance(decisions[0], SurgeActivated)
    assert next(x for x in decisions if isinstance(x, Assigned)).role == "manager"   # the surge team takes it
    off = [x for x in engine.advance(local(2025, 3, 3, 12)) if isinstance(x, SurgeDeactivated)]
    assert off and off[0].at == local(2025, 3, 3, 11, 10)
    assert next(x for x in engine.submit(created("C9", category="complaint")) if isinstance(x, Assigned)).role == "desk"


def test_handoff_must_follow_a_declared_path(tmp_path):
    def handoffs(data):
        data["handoffs"] = [{"id": "to_manager", "from": "desk", "to": "manager"}]
    engine = make_engine(make_org(tmp_path, handoffs), local(2025, 3, 3, 10))
    engine.submit(created("H"))
    assert next(x for x in engine.submit(HandOff("H", to_role="manager")) if isinstance(x, Assigned)).role == "manager"
    refused = engine.submit(HandOff("H", to_role="desk"))
    assert isinstance(refused[0], Refused) and "no hand-off from `manager` to `desk`" in refused[0].reason


def test_a_dispatcher_reassigns_to_any_role_and_the_ticket_keeps_its_targets(tmp_path):
    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 10))
    due = next(x for x in engine.submit(created("R")) if isinstance(x, Assigned)).resolution_due
    moved = engine.submit(Reassigned("R", to_role="manager"))  # no hand-off is declared: a dispatcher may still move it
    assert [(x.role, x.resolution_due) for x in moved if isinstance(x, Assigned)] == [("manager", due)]
    assert engine.store.load("desk#1") == 0 and engine.ticket("R").role == "manager"
    unknown = engine.submit(Reassigned("R", to_role="mananger"))
    assert isinstance(unknown[0], Refused) and "no role `mananger`" in unknown[0].reason and engine.ticket("R").role == "manager"
    engine.submit(Resolved("R"))
    assert "reopen it first" in engine.submit(Reassigned("R", to_role="desk"))[0].reason


def test_workflow_refuses_a_skipped_step(tmp_path):
    def loop(data):
        data["workflows"] = [{"id": "complaint_loop", "match": {"category": ["complaint"]},
                              "states": [{"id": "intake"}, {"id": "validity", "next": ["investigation", "review"]},
                                         {"id": "investigation"}, {"id": "review"}]}]
    engine = make_engine(make_org(tmp_path, loop), local(2025, 3, 3, 10))
    engine.submit(created("W", category="complaint"))
    refused = engine.submit(WorkflowStep("W", state="investigation"))[0]
    assert isinstance(refused, Refused) and "cannot go from `intake` to `investigation`" in refused.reason
    assert isinstance(engine.submit(WorkflowStep("W", state="validity"))[0], StateChanged)
    assert isinstance(engine.submit(WorkflowStep("W", state="review"))[0], StateChanged)  # the invalid-complaint branch


# ---------------------------------------------------------------- safety

def test_bad_events_are_refused_not_raised(tmp_path):
    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 10))
    assert "unknown ticket" in engine.submit(Resolved("nope"))[0].reason
    refused = engine.submit(created("X", category="complain"))[0]
    assert isinstance(refused, Refused) and "did you mean `complaint`" in refused.reason
    engine.submit(created("D"))
    assert "already exists" in engine.submit(created("D"))[0].reason


def test_handlers_get_their_decisions_and_a_failing_handler_loses_nothing(tmp_path):
    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 10))
    seen, everything = [], []
    engine.on(Assigned, seen.append)
    engine.on(None, everything.append)
    engine.on(Assigned, lambda decision: 1 / 0)
    engine.submit(created("A"))
    assert [x.ticket_id for x in seen] == ["A"] and len(everything) == 1
    assert [x.decision.ticket_id for x in engine.undelivered] == ["A"] and engine.ticket("A").agent


def test_a_handler_added_later_gets_every_later_decision_of_its_kind(tmp_path):
    """The handlers of a kind are worked out once per kind: adding one must not leave it out of what was worked out."""
    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 10))
    early, late, failing = [], [], []
    engine.on(Assigned, early.append)
    engine.submit(created("A"))
    engine.on(None, late.append)
    engine.on(Assigned, lambda decision: failing.append(decision) or 1 / 0)
    engine.submit(created("B"))
    assert [x.ticket_id for x in early] == ["A", "B"]
    assert [x.ticket_id for x in late if isinstance(x, Assigned)] == ["B"]
    assert [x.ticket_id for x in failing] == ["B"] and [x.decision.ticket_id for x in engine.undelivered] == ["B"]


def test_submit_from_many_threads_keeps_every_ticket(tmp_path):
    engine = make_engine(make_org(tmp_path, _staffed(agents=4, capacity=1000)), local(2025, 3, 3, 10))

    def worker(n):
        for i in range(250):
            engine.submit(created(f"T{n}-{i}"))
            engine.submit(Resolved(f"T{n}-{i}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for t in engine.store.tickets.values() if t.status == "resolved") == 2000
    assert all(load == 0 for load in engine.store.loads.values())


def test_the_engine_lock_is_held_while_an_event_is_applied(tmp_path):
    """Fails if `Engine._lock` is a no-op or not taken by `submit`: then another thread could apply an event meanwhile.

    The first event is held inside the engine until the test has tried the lock from
    another thread; no timing is involved, so a busy machine changes nothing.
    """
    inside, release = threading.Event(), threading.Event()

    class HeldStore(MemoryStore):
        """Holds the unit of work the event begins (the engine is compiled: a store of the test's own is where to wait)."""

        def begin(self, entry):
            inside.set()
            assert release.wait(timeout=600)  # a guard against a hang, not a speed limit
            return super().begin(entry)

    engine = Engine(make_org(tmp_path), VirtualClock(local(2025, 3, 3, 10)), HeldStore())
    first = threading.Thread(target=engine.submit, args=(created("A"),))
    first.start()
    assert inside.wait(timeout=600)  # a guard against a hang, not a speed limit
    try:
        taken = engine._lock.acquire(blocking=False)
        if taken:
            engine._lock.release()
    finally:
        release.set()
        first.join()
    assert not taken and engine.ticket("A")


def test_submit_applies_an_event_inside_its_stores_unit_and_the_memory_store_without_one(tmp_path):
    """Fails if `submit` applies an event outside a store's group commit (its `batch()`), or if the memory store's gives a
    unit to enter: the engine skips the `with` for the memory store's, and only for it."""
    seen: list[str] = []

    class UnitStore(MemoryStore):
        @contextmanager
        def batch(self):
            seen.append("enter")
            yield
            seen.append("exit")

        def begin(self, entry):
            seen.append("apply")
            return super().begin(entry)

    engine = Engine(make_org(tmp_path), VirtualClock(local(2025, 3, 3, 10)), UnitStore())
    assert kinds(engine.submit(created("A"))) == ["Assigned"]
    assert seen == ["enter", "apply", "exit"]
    assert MemoryStore().batch() is NO_UNIT


def test_a_store_that_may_read_its_unit_s_entry_gets_the_event_at_the_moment_it_is_applied(tmp_path):
    """Fails if the engine leaves an event as it came (it does for the memory store, whose own `begin` reads nothing of it)
    when the store's `begin` is one of its own, which `Store.begin` allows to read the entry: an event without a time, or
    with one the virtual clock had passed, gets the clock's now. Either way the ticket is created at that moment. Fails too
    if the memory store's own `begin` is not told from the others (a copy per event for nothing)."""
    entries: list[tuple] = []

    class Noting(MemoryStore):
        def begin(self, entry):
            entries.append(entry)
            return super().begin(entry)

    class Plain(MemoryStore):
        """A memory store of its own whose `begin` is the memory store's."""

    now = local(2025, 3, 3, 10)
    for store, reads in [(MemoryStore(), False), (Plain(), False), (Noting(), True), (SqliteStore(tmp_path / "state.db"), True)]:
        engine = Engine(make_org(tmp_path), VirtualClock(now), store)
        assert engine._entries_read is reads
        assert kinds(engine.submit(created("A"))) == ["Assigned"] and engine.ticket("A").created_at == now
        assert kinds(engine.submit(created("B", at=now - timedelta(hours=1)))) == ["Assigned"]
        assert engine.ticket("B").created_at == now
    assert [(kind, event.ticket_id, event.at) for kind, event in entries] == [("event", "A", now), ("event", "B", now)]


def test_two_orgs_and_a_reloaded_version_live_side_by_side(tmp_path):
    first = make_engine(make_org(tmp_path), local(2025, 3, 3, 10))
    second = make_engine(make_org(tmp_path, _staffed(agents=2), "v2.yaml"), local(2025, 3, 3, 10))
    assert first.router.name != second.router.name
    assert kinds(first.submit(created("A"))) == kinds(second.submit(created("A"))) == ["Assigned"]
    first.close()
    assert kinds(second.submit(created("B"))) == ["Assigned"]


def test_handed_over_followup_starts_on_a_hand_off(tmp_path):
    def handoff_check(data):
        data["handoffs"] = [{"id": "to_manager", "from": "desk", "to": "manager"}]
        data["followups"].append({"id": "receiver_called", "on": "handed_over", "within": "1d", "by": "manager"})
    engine = make_engine(make_org(tmp_path, handoff_check), local(2025, 3, 3, 10))
    engine.submit(created("H"))
    scheduled = [x for x in engine.submit(HandOff("H", to_role="manager")) if isinstance(x, FollowUpScheduled)]
    assert [x.policy for x in scheduled] == ["receiver_called"]


# ---------------------------------------------------------------- found in review

def test_a_reload_that_drops_a_followup_policy_leaves_the_engine_working(tmp_path):
    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 10))
    engine.submit(created("R", category="complaint", member=True))
    engine.submit(Resolved("R", at=local(2025, 3, 3, 12, 30)))

    def renamed(data):
        data["followups"][0]["id"] = "revisit2"
    engine.reload(make_org(tmp_path, renamed, "v2.yaml"))
    engine.advance(local(2025, 3, 10))
    assert any("no longer exists" in fault for fault in engine.faults)
    assert kinds(engine.submit(created("S", at=local(2025, 3, 10, 10)))) == ["Assigned"]


def test_waiting_on_a_queued_ticket_keeps_it_in_the_queue(tmp_path):
    engine = make_engine(make_org(tmp_path, _staffed(agents=1, capacity=1)), local(2025, 3, 3, 10))
    engine.submit(created("A"))
    engine.submit(created("B"))
    engine.submit(Waiting("B", reason="waiting_customer"))
    engine.submit(CustomerReply("B"))
    assert [x.ticket_id for x in engine.submit(Resolved("A")) if isinstance(x, Assigned)] == ["B"]


def test_a_reopened_ticket_is_watched_by_its_sla_again(tmp_path):
    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 10))
    engine.submit(created("O", category="complaint"))
    engine.submit(FirstResponse("O"))
    engine.submit(Resolved("O", at=local(2025, 3, 3, 11)))
    engine.submit(Reopened("O", at=local(2025, 3, 10, 10)))
    later = engine.advance(local(2025, 3, 20))
    assert any(isinstance(x, SlaBreached) and x.target == "resolution" for x in later)


def test_a_naive_time_is_refused_not_raised(tmp_path):
    from datetime import datetime

    engine = make_engine(make_org(tmp_path), local(2025, 3, 3, 10))
    refused = engine.submit(created("N", at=datetime(2025, 3, 3, 11)))
    assert isinstance(refused[0], Refused) and "no time zone" in refused[0].reason


def test_timers_of_a_closed_and_forgotten_ticket_never_fire_for_a_new_one_of_the_same_id():
    """The first T1 is closed and dropped; its SLA timers are still in the schedule when a new T1 arrives."""
    org = cxrules.load_org(ORGS / "logistics.yaml")
    engine = make_engine(org, local(2025, 3, 3, 10))

    def first_response_breaches(ticket_id="T1"):
        return [x for x in decisions if isinstance(x, SlaBreached) and x.ticket_id == ticket_id and x.target == "first_response"]
    new = dict(category="shipment_status", channel="phone", segment="retail", priority="normal")
    engine.submit(TicketCreated("T1", **new))
    engine.submit(Resolved("T1", at=local(2025, 3, 3, 10, 5)))
    engine.submit(Closed("T1", at=local(2025, 3, 3, 10, 6)))
    assert engine.ticket("T1") is None
    engine.submit(TicketCreated("T1", **new, at=local(2025, 3, 3, 10, 7)))
    due = engine.ticket("T1").first_response_due
    decisions = engine.advance(local(2025, 3, 20))
    assert [x.at for x in first_response_breaches()] == [due]            # its own deadline, not the first T1's
    assert not [t for t in map(entry_timer, engine.store.timers) if t.ticket_id == "T1" and t.due <= local(2025, 3, 20)]  # all spent


def test_a_queued_ticket_resolved_leaves_its_queue(tmp_path):
    """`engine.queue(role)` lists who waits: a ticket resolved while queued is no longer there (nor counted in places)."""
    engine = Engine(make_org(tmp_path), VirtualClock(local(2025, 3, 8, 23)))   # Saturday night: the desk is off shift
    made = [engine.submit(TicketCreated(f"Q{n}", category="question", channel="phone", segment="normal", priority="low"))[-1]
            for n in range(3)]
    assert [x.kind for x in made] == ["Queued"] * 3
    engine.submit(Resolved("Q1"))
    assert engine.queue(made[0].role) == ["Q0", "Q2"]
    assert engine.submit(TicketCreated("Q3", category="question", channel="phone", segment="normal", priority="low"))[-1].position == 3


def test_every_kind_of_decision_is_its_own_class_that_nothing_extends():
    """The engine and the replay tell decisions by their exact type (a dict of kinds, `type(decision) is refused`): each
    kind extends Decision, directly or through a private class of the fields two kinds share, and none is extended, so
    the exact type and isinstance agree."""
    from cxrules.engine import decisions as d

    kinds = [getattr(d, name) for name in d.__all__ if name != "Decision"]
    assert kinds and all(issubclass(kind, d.Decision) and not kind.__subclasses__() for kind in kinds)
    shared = {base for kind in kinds for base in kind.__mro__[1:kind.__mro__.index(d.Decision)]}
    assert shared and all(base.__name__.startswith("_") and base not in kinds for base in shared)


class _Spinning(BaseException):
    """Raised by a test's store asked again and again for what it will not give: the loop that asks would never end."""


def test_a_store_that_holds_a_due_timer_but_hands_out_none_is_a_fault_not_a_loop_without_end(tmp_path):
    """The engine fires timers until none is due by the moment: a store whose `pop_due` gives nothing while `next_due` says a
    timer is due would be asked for ever. It is a fault noted (the unit undone), and `advance` returns. Fails (with
    _Spinning, not a hang) without the check."""
    asked = 0

    class Withholding(MemoryStore):
        def pop_due(self, until):
            nonlocal asked
            asked += 1
            if asked > 1000:
                raise _Spinning
            return None

    engine = Engine(make_org(tmp_path), VirtualClock(local(2025, 3, 3, 10)), Withholding())
    engine.submit(created("A"))
    due = engine.store.next_due()
    assert due is not None
    assert engine.advance_to_decision(due + timedelta(days=30)) == [] and engine.advance(due + timedelta(days=30)) == []
    assert [fault for fault in engine.faults if "hands out none due by" in fault] and asked <= 4


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "sqlite"])
def test_a_timer_due_in_the_hour_the_clocks_repeat_is_told_by_its_instant_not_its_wall_time(tmp_path, durable):
    """Berlin's clocks go from 03:00 back to 02:00 on 26 October 2025. A surge's timer set by a ticket at 02:10 (the first
    time) falls due an hour later, at 02:10 the second time: on the wall clock before events at 02:40 and 02:50 the first
    time, in fact after them. The store hands timers out by instant: the events are taken, and an advance to the service
    clock's now, 02:50 in Berlin, fires nothing, with no fault (comparing wall times would see the timer due and withheld:
    a refused event, a fault)."""
    def berlin(data):
        data["org"]["timezone"] = "Europe/Berlin"
        data["calendars"][0]["hours"] = {"daily": ["00:00-24:00"]}
        data["calendars"][0].pop("holidays", None)
        data["roles"].append({"id": "surge_team", "name": "Surge team", "unit": "front", "reports_to": "manager",
                              "handles": ["complaint"], "temporary": True, "staff": [{"shift": "office", "agents": 3}]})
        data["surges"] = [{"id": "wave", "match": {"category": ["complaint"]}, "threshold": 1000, "release_below": 5,
                           "window": "1h", "activate": "surge_team"}]

    zone = ZoneInfo("Europe/Berlin")
    engine = Engine(make_org(tmp_path, berlin), StoppedClock(datetime(2025, 10, 26, 2, 50, tzinfo=zone)),
                    tmp_path / "state.db" if durable else None)
    try:
        for ticket_id, minute in (("A", 10), ("B", 40), ("C", 50)):
            made = engine.submit(TicketCreated(ticket_id, category="complaint", channel="phone", segment="normal", priority="normal",
                                               at=datetime(2025, 10, 26, 2, minute, tzinfo=zone)))
            assert "Refused" not in kinds(made), made
        assert engine.advance() == [] and engine.faults == []
    finally:
        engine.close()
