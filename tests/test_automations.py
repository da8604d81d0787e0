"""Automations through the engine under the virtual clock: event triggers, exact-time timers, patterns across a
customer's tickets (decided by durable-rules), cascades, and facts that survive a restart and do not pile up."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import durable_rules_engine
import pytest
from hypothesis import example, given, strategies as st

from cxrules.engine import (AgentReplied, AutomationFired, AutomationStopped, Closed, Engine, Escalated, FirstResponse, MemoryStore, Notified, Reopened,
                            Resolved, SqliteStore, SurgeActivated, TicketCreated, TicketReopened, VirtualClock)
from cxrules.engine import automations
from cxrules.engine.automations import MAX_CASCADE
from cxrules.engine.eventcheck import FIRST_MOMENT, LAST_MOMENT
from cxrules.engine.matching import MatchIndex

from conftest import SEED_ORGS, require_tool
from engine_helpers import StoppedClock, abandon, local, make_org, with_automations

MONDAY = local(2025, 3, 3, 10)


def ticket(number: int, at, customer="c1", category="complaint", **fields):
    return TicketCreated(f"t{number}", category=category, channel="phone", segment=fields.pop("segment", "normal"),
                         priority=fields.pop("priority", "normal"), customer_id=customer, at=at, **fields)


def fired(decisions, automation=None) -> list[AutomationFired]:
    return [x for x in decisions if isinstance(x, AutomationFired) and automation in (None, x.automation)]


REPEAT = {"id": "repeat_complainer", "when": {"event": "created", "count": 3, "within": "30d"},
          "if": {"match": {"category": ["complaint"]}},
          "then": {"priority": "urgent", "tag": ["repeat"], "assign": "manager", "notify": ["manager"]}}


def test_the_third_complaint_of_a_customer_within_30_days_goes_to_the_manager(tmp_path):
    engine = Engine(make_org(tmp_path, with_automations(REPEAT)), VirtualClock(MONDAY))
    seen = [fired(engine.submit(ticket(n, MONDAY + timedelta(days=day), category=category)))
            for n, (day, category) in enumerate([(0, "complaint"), (5, "question"), (10, "repair_quality"), (20, "complaint")])]
    assert [len(x) for x in seen] == [0, 0, 0, 1]  # a question does not count; a sub-category of complaint does
    (third,) = seen[3]
    assert third.matched == ("t0 at 2025-03-03 10:00", "t2 at 2025-03-13 10:00", "t3 at 2025-03-23 10:00")
    assert "the 3rd of customer `c1` within 30d" in third.trigger
    assert third.actions == ("priority `normal` → `urgent`", "tag `repeat`", "assign to `manager`", "notify `manager`")
    state = engine.ticket("t3")
    assert (state.priority, state.tags, state.role) == ("urgent", {"repeat"}, "manager")


def test_a_count_asks_durable_rules_about_the_one_fact_that_can_begin_a_match(tmp_path, monkeypatch):
    """The new fact can only end a match with the fact count-1 places before it: the customer's other facts in the window
    are not posted, however many they are, and every complaint from the third on still fires once. The third and each
    later one post facts of one shape, so durable-rules is asked once (see test_engine_fast_paths)."""
    engine = Engine(make_org(tmp_path, with_automations(REPEAT)), VirtualClock(MONDAY))
    asserted, post_and_act = [], automations.post_and_act

    def posting(ruleset, post, fact, record):  # what is posted to durable-rules: replaced on the module, where compiled code
        if post.__name__ == "assert_fact":     # looks up a function of an interpreted module (a replaced method it does not)
            asserted.append(fact["new"])
        return post_and_act(ruleset, post, fact, record)
    monkeypatch.setattr(automations, "post_and_act", posting)
    seen = [fired(engine.submit(ticket(n, MONDAY + timedelta(days=n)))) for n in range(8)]
    assert [len(x) for x in seen] == [0, 0, 1, 1, 1, 1, 1, 1]
    assert seen[7][0].matched == ("t5 at 2025-03-08 10:00", "t6 at 2025-03-09 10:00", "t7 at 2025-03-10 10:00")
    assert asserted == [False, True]  # one earlier fact, then the new one


def test_an_event_no_automation_names_does_not_look_for_automations(tmp_path, monkeypatch):
    """The automations are asked only about the events some automation is triggered by, timed from or counts."""
    engine = Engine(make_org(tmp_path, with_automations(REPEAT)), VirtualClock(MONDAY))

    asked = []

    class Counted(MatchIndex):
        """The automations an event concerns, counting the lookups."""

        def all(self, fields):
            asked.append(fields)
            return super().all(fields)

    concerned = engine.automations.concerned
    engine.automations.concerned = {event: Counted(index.items, lambda automation: automation.conditions.match)
                                    for event, index in concerned.items()}
    for event in (ticket(1, MONDAY), FirstResponse("t1", at=MONDAY + timedelta(minutes=5)), Resolved("t1", at=MONDAY + timedelta(hours=1))):
        engine.submit(event)
    assert len(asked) == 1  # each time the automations are asked, they first look up those the event concerns: `created` only


RAISE = {"id": "raise", "when": {"event": "created"}, "if": {"match": {"category": ["complaint"]}}, "then": {"priority": "urgent"}}
NORMAL_ONLY = {"id": "normal_only", "when": {"event": "created"}, "if": {"match": {"priority": ["normal"]}}, "then": {"tag": ["was_normal"]}}


def test_an_automation_set_off_by_the_same_event_after_one_that_changed_the_class_checks_the_class_as_it_is_now(tmp_path):
    """The automations an event concerns are found for the ticket's class when the event came; one before may change it."""
    engine = Engine(make_org(tmp_path, with_automations(RAISE, NORMAL_ONLY)), VirtualClock(MONDAY))
    assert [x.automation for x in fired(engine.submit(ticket(1, MONDAY)))] == ["raise"]
    assert engine.ticket("t1").priority == "urgent" and engine.ticket("t1").tags == set()


def test_a_ticket_whose_class_an_automation_changed_on_the_same_event_is_no_earlier_ticket_of_a_pattern_of_another_class(tmp_path):
    raise_on_resolving = {"id": "raise", "when": {"event": "resolved"}, "then": {"priority": "urgent"}}
    came_back = {"id": "came_back", "when": {"event": "created", "following": "resolved", "within": "7d"},
                 "if": {"match": {"priority": ["normal"]}}, "then": {"tag": ["came_back"]}}
    engine = Engine(make_org(tmp_path, with_automations(raise_on_resolving, came_back)), VirtualClock(MONDAY))
    engine.submit(ticket(1, MONDAY))
    assert [x.automation for x in fired(engine.submit(Resolved("t1", at=MONDAY + timedelta(hours=1))))] == ["raise"]
    assert fired(engine.submit(ticket(2, MONDAY + timedelta(days=1)))) == []  # t1 was urgent when it was resolved


def test_complaints_outside_the_window_or_of_other_customers_do_not_count(tmp_path):
    engine = Engine(make_org(tmp_path, with_automations(REPEAT)), VirtualClock(MONDAY))
    days = [(0, "c1"), (1, "c2"), (2, "c3"), (31, "c1"), (32, "c1"), (33, "c2"), (45, "c1")]
    results = [fired(engine.submit(ticket(n, MONDAY + timedelta(days=day), customer=who))) for n, (day, who) in enumerate(days)]
    assert [len(x) for x in results] == [0, 0, 0, 0, 0, 0, 1]  # day 0 left c1's window by day 31; day 31, 32, 45 are three
    assert fired(engine.submit(ticket(9, MONDAY + timedelta(days=46), customer=None))) == []  # no customer, no repeat


def test_a_new_ticket_within_7_days_of_a_resolved_one_reopens_it(tmp_path):
    came_back = {"id": "came_back", "when": {"event": "created", "following": "resolved", "within": "7d"},
                 "then": {"reopen": "earlier", "tag": ["returned"]}}
    engine = Engine(make_org(tmp_path, with_automations(came_back)), VirtualClock(MONDAY))
    engine.submit(ticket(0, MONDAY))
    engine.submit(Resolved("t0", at=MONDAY + timedelta(hours=3)))
    decisions = engine.submit(ticket(1, MONDAY + timedelta(days=6), category="question"))
    (reopening,) = fired(decisions)
    assert reopening.matched == ("t0 at 2025-03-03 13:00", "t1 at 2025-03-09 10:00")
    assert "within 7d of ticket `t0` of customer `c1` being resolved" in reopening.trigger
    assert [x.ticket_id for x in decisions if isinstance(x, TicketReopened)] == ["t0"]
    assert engine.ticket("t0").status != "resolved" and engine.ticket("t1").tags == {"returned"}
    engine.submit(Resolved("t1", at=MONDAY + timedelta(days=6, hours=1)))
    late = engine.submit(ticket(2, MONDAY + timedelta(days=14)))  # 8 days after t1 was resolved
    assert fired(late) == []


def test_an_earlier_ticket_resolved_twice_within_the_window_is_matched_once(tmp_path):
    """t0 is resolved, reopened by t1 and resolved again: two facts of t0 in t2's window, one earlier ticket. The automation
    fires once for the pair (t0, t2), and notifies once; and once for (t1, t2)."""
    came_back = {"id": "came_back", "when": {"event": "created", "following": "resolved", "within": "7d"},
                 "then": {"reopen": "earlier", "notify": ["manager"]}}
    engine = Engine(make_org(tmp_path, with_automations(came_back)), VirtualClock(MONDAY))
    engine.submit(ticket(0, MONDAY))
    engine.submit(Resolved("t0", at=MONDAY + timedelta(hours=1)))
    assert [x.matched[0] for x in fired(engine.submit(ticket(1, MONDAY + timedelta(days=1))))] == ["t0 at 2025-03-03 11:00"]
    engine.submit(Resolved("t0", at=MONDAY + timedelta(days=1, hours=1)))
    engine.submit(Resolved("t1", at=MONDAY + timedelta(days=1, hours=2)))
    decisions = engine.submit(ticket(2, MONDAY + timedelta(days=2)))
    assert [x.matched[0] for x in fired(decisions)] == ["t1 at 2025-03-04 12:00", "t0 at 2025-03-04 11:00"]  # the latest first
    assert [x.ticket_id for x in decisions if isinstance(x, TicketReopened)] == ["t1", "t0"]
    assert len([x for x in decisions if isinstance(x, Notified)]) == 2


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_an_earlier_ticket_whose_late_event_is_listed_after_a_later_one_still_matches(tmp_path, kind):
    """On a service's clock an event keeps its own time however late it comes: t0's second resolution, at 10:30, comes after
    its first, at 11:00, and is listed after it. A new ticket 7 days after 10:50 matches the fact of 11:00 (and t8's of
    12:00), though t0's fact listed last is out of the window."""
    came_back = {"id": "came_back", "when": {"event": "created", "following": "resolved", "within": "7d"},
                 "then": {"reopen": "earlier", "notify": ["manager"]}}
    org = make_org(tmp_path, with_automations(came_back))
    engine = Engine(org, StoppedClock(MONDAY), *([] if kind == "memory" else [SqliteStore(tmp_path / "state.db")]))
    for event in (ticket(0, MONDAY), ticket(8, MONDAY), Resolved("t0", at=MONDAY + timedelta(hours=1)),
                  Resolved("t8", at=MONDAY + timedelta(hours=2)), Reopened("t0", at=MONDAY + timedelta(hours=1, minutes=5)),
                  Resolved("t0", at=MONDAY + timedelta(minutes=30))):
        engine.submit(event)
    decisions = engine.submit(ticket(1, MONDAY + timedelta(days=7, minutes=50)))
    assert [x.matched[0].split(" at ")[0] for x in fired(decisions)] == ["t8", "t0"]
    engine.close()


def test_a_timer_tells_its_length_on_its_own_clock(tmp_path):
    """The words of a timer's trigger are worded once for each automation: business hours (never days: `1d` of open time
    is refused), and a calendar clock's days."""
    soon = {"id": "soon", "when": {"after": "24h", "since": "created"}, "then": {"notify": ["manager"]}}
    next_day = {"id": "next_day", "when": {"after": "1d", "since": "created", "clock": "calendar"}, "then": {"notify": ["manager"]}}
    engine = Engine(make_org(tmp_path, with_automations(soon, next_day)), VirtualClock(MONDAY))
    engine.submit(ticket(0, MONDAY))
    assert [(x.automation, x.at, x.trigger) for x in fired(engine.advance(MONDAY + timedelta(days=7)))] == [
        ("next_day", MONDAY + timedelta(days=1), "1d after created"), ("soon", local(2025, 3, 5, 16), "24h business after created")]


def test_a_timer_of_an_automation_a_reload_made_another_kind_is_spent_and_holds_back_no_other(tmp_path):
    """A reload may turn a timer automation into one of an event: the timers it had scheduled are then spent, and the later
    timers fire as ever (the first one's firing failed, and was undone and tried again on each advance, ahead of them)."""
    timer = {"id": "x", "when": {"after": "2h", "since": "created"}, "then": {"notify": ["manager"]}}
    plain = {"id": "x", "when": {"event": "created"}, "then": {"notify": ["manager"]}}
    (tmp_path / "timer").mkdir()
    (tmp_path / "plain").mkdir()
    engine = Engine(make_org(tmp_path / "timer", with_automations(timer)), VirtualClock(MONDAY))
    engine.submit(ticket(0, MONDAY))
    engine.reload(make_org(tmp_path / "plain", with_automations(plain)))
    decisions = engine.advance(MONDAY + timedelta(days=1))
    assert engine.faults == [] and fired(decisions) == []
    assert [(x.level, x.at) for x in decisions if isinstance(x, Escalated)] == [(1, MONDAY + timedelta(minutes=30)),
                                                                              (2, MONDAY + timedelta(hours=2, minutes=30))]


def test_a_timer_fires_at_the_exact_business_moment_and_judges_its_conditions_then(tmp_path):
    nudge = {"id": "unanswered", "when": {"after": "2h", "since": "created"}, "if": {"responded": False},
             "then": {"notify": ["manager"]}}
    engine = Engine(make_org(tmp_path, with_automations(nudge)), VirtualClock(MONDAY))
    engine.submit(ticket(0, local(2025, 3, 7, 17)))  # Friday 17:00 on a 09:00–18:00 calendar: due Monday 10:00
    engine.submit(ticket(1, local(2025, 3, 7, 17, 30)))
    engine.submit(FirstResponse("t1", at=local(2025, 3, 7, 17, 40)))
    assert fired(engine.advance(local(2025, 3, 10, 9, 59))) == []
    at_ten = engine.advance(local(2025, 3, 10, 10, 0))
    assert [(x.ticket_id, x.at, x.trigger) for x in fired(at_ten)] == [("t0", local(2025, 3, 10, 10, 0), "2h business after created")]
    assert fired(engine.advance(local(2025, 3, 11))) == []  # t1 was answered: its timer fired and found nothing to do


def test_a_calendar_clock_counts_the_wall_clock(tmp_path):
    nudge = {"id": "stale", "when": {"after": "2d", "since": "created", "clock": "calendar"}, "if": {"status": ["open", "queued"]},
             "then": {"escalate": "complaints"}}
    engine = Engine(make_org(tmp_path, with_automations(nudge)), VirtualClock(MONDAY))
    engine.submit(ticket(0, local(2025, 3, 7, 17)))
    decisions = engine.advance(local(2025, 3, 9, 17))
    assert [x.at for x in fired(decisions)] == [local(2025, 3, 9, 17)]
    assert any(isinstance(x, Escalated) and x.at == local(2025, 3, 9, 17) for x in decisions)


def test_conditions_on_status_tags_and_class(tmp_path):
    tag_vip = {"id": "tag_vip", "when": {"event": "created"}, "if": {"match": {"segment": ["vip"]}}, "then": {"tag": ["vip"]}}
    vip_resolved = {"id": "vip_resolved", "when": {"event": "resolved"}, "if": {"tags": ["vip"], "status": ["resolved"]},
                    "then": {"notify": ["manager"]}}
    not_vip = {"id": "others", "when": {"event": "resolved"}, "if": {"without_tags": ["vip"]}, "then": {"notify": ["desk"]}}
    engine = Engine(make_org(tmp_path, with_automations(tag_vip, vip_resolved, not_vip)), VirtualClock(MONDAY))
    engine.submit(ticket(0, MONDAY, segment="vip"))
    engine.submit(ticket(1, MONDAY))
    assert [x.automation for x in fired(engine.submit(Resolved("t0", at=MONDAY + timedelta(hours=1))))] == ["vip_resolved"]
    assert [x.automation for x in fired(engine.submit(Resolved("t1", at=MONDAY + timedelta(hours=1))))] == ["others"]


def test_what_an_action_changes_sets_off_the_automations_that_react_to_it(tmp_path):
    urgent = {"id": "urgent_vip", "when": {"event": "created"}, "if": {"match": {"segment": ["vip"]}}, "then": {"priority": "urgent"}}
    page = {"id": "page_manager", "when": {"event": "updated"}, "if": {"match": {"priority": ["urgent"]}}, "then": {"notify": ["manager"]}}
    engine = Engine(make_org(tmp_path, with_automations(urgent, page)), VirtualClock(MONDAY))
    decisions = engine.submit(ticket(0, MONDAY, segment="vip"))
    assert [x.automation for x in fired(decisions)] == ["urgent_vip", "page_manager"]
    assert any(isinstance(x, Notified) and x.roles == ("manager",) for x in decisions)


def test_automations_that_set_each_other_off_are_stopped_and_reported(tmp_path):
    ping = {"id": "ping", "when": {"event": "updated"}, "if": {"match": {"priority": ["high"]}}, "then": {"priority": "urgent"}}
    pong = {"id": "pong", "when": {"event": "updated"}, "if": {"match": {"priority": ["urgent"]}}, "then": {"priority": "high"}}
    start = {"id": "start", "when": {"event": "created"}, "then": {"priority": "high"}}
    engine = Engine(make_org(tmp_path, with_automations(start, ping, pong)), VirtualClock(MONDAY))
    decisions = engine.submit(ticket(0, MONDAY))
    stopped = [x for x in decisions if isinstance(x, AutomationStopped)]
    assert stopped and MAX_CASCADE <= len(fired(decisions)) <= 2 * MAX_CASCADE  # bounded, however the two take turns
    assert any("set each other off" in fault for fault in engine.faults)
    assert engine.ticket("t0") is not None  # the event itself was kept


def test_twenty_complaints_in_an_hour_switch_the_surge_team_on(tmp_path):
    def change(data):
        data["roles"].append({"id": "surge_team", "name": "Surge team", "unit": "front", "reports_to": "manager",
                              "handles": ["complaint"], "temporary": True, "staff": [{"shift": "office", "agents": 3}]})
        data["surges"] = [{"id": "complaint_wave", "match": {"category": ["complaint"]}, "threshold": 1000, "release_below": 5, "window": "1h",
                           "activate": "surge_team"}]
        data["automations"] = [{"id": "wave", "when": {"event": "created", "count": 21, "within": "1h", "per": "all"},
                                "if": {"match": {"category": ["complaint"]}}, "then": {"surge": "complaint_wave"}}]
    engine = Engine(make_org(tmp_path, change), VirtualClock(MONDAY))
    switched = [n for n in range(30) if any(isinstance(x, SurgeActivated)
                                             for x in engine.submit(ticket(n, MONDAY + timedelta(minutes=2 * n), customer=f"c{n}")))]
    assert switched == [20]  # the 21st within the hour, whoever sent them
    assert engine.ticket("t25").role == "surge_team"


def test_without_durable_rules_the_patterns_across_tickets_are_gone(tmp_path, monkeypatch):
    """durable-rules decides the patterns: with nothing posted to it, no repeat complainer and no returning customer is found."""
    monkeypatch.setattr(automations, "post_and_act", lambda ruleset, post, fact, record: None)
    engine = Engine(make_org(tmp_path, with_automations(REPEAT)), VirtualClock(MONDAY))
    assert not any(fired(engine.submit(ticket(n, MONDAY + timedelta(days=n)))) for n in range(5))


def test_pattern_facts_survive_a_restart(tmp_path):
    org = make_org(tmp_path, with_automations(REPEAT))
    path = tmp_path / "engine.db"
    first = Engine(org, VirtualClock(MONDAY), store=path)
    first.submit(ticket(0, MONDAY))
    first.submit(ticket(1, MONDAY + timedelta(days=1)))
    abandon(first.store)
    second = Engine(org, VirtualClock(MONDAY + timedelta(days=2)), store=SqliteStore(path))
    assert len(fired(second.submit(ticket(2, MONDAY + timedelta(days=2))))) == 1
    second.close()


def test_facts_of_customers_never_seen_again_are_forgotten(tmp_path):
    """Memory does not grow with the customers who came once: a fact leaves when its window ends, whoever it belongs to."""
    engine = Engine(make_org(tmp_path, with_automations(REPEAT)), VirtualClock(MONDAY))
    store = engine.store
    assert isinstance(store, MemoryStore)
    sizes = []
    for n in range(3000):
        at = MONDAY + timedelta(hours=n)
        engine.submit(ticket(n, at, customer=f"c{n}"))
        engine.submit(Resolved(f"t{n}", at=at))
        if n % 500 == 499:
            sizes.append(len(store.facts))
    assert max(sizes) <= 30 * 24 + 1  # one customer an hour, a 30-day window
    assert sizes[-1] == sizes[-2]


def test_reopening_an_earlier_ticket_that_is_gone_is_said_not_done(tmp_path):
    came_back = {"id": "came_back", "when": {"event": "created", "following": "closed", "within": "7d"}, "then": {"reopen": "earlier"}}
    engine = Engine(make_org(tmp_path, lambda data: (data.update(followups=[]), with_automations(came_back)(data))), VirtualClock(MONDAY))
    engine.submit(ticket(0, MONDAY, category="question"))
    engine.submit(Closed("t0", at=MONDAY + timedelta(hours=1)))
    assert engine.ticket("t0") is None  # closed with nothing left to do: forgotten
    (firing,) = fired(engine.submit(ticket(1, MONDAY + timedelta(days=1))))
    assert firing.actions == ("reopen `t0`: skipped, the ticket is closed and gone",)


def test_engines_on_one_database_share_the_facts_of_a_pattern(tmp_path, postgres_url):
    """Two engines (two processes in a real deployment) on one PostgreSQL database: the third complaint is counted
    whichever engine took the first two, and the expired facts leave the table."""
    org = make_org(tmp_path, with_automations(REPEAT))
    first, second = (Engine(org, VirtualClock(MONDAY), store=postgres_url) for _ in range(2))
    first.submit(ticket(0, MONDAY))
    second.submit(ticket(1, MONDAY + timedelta(days=1)))
    assert len(fired(first.submit(ticket(2, MONDAY + timedelta(days=2))))) == 1
    second.submit(ticket(3, MONDAY + timedelta(days=90), customer="c2"))  # every fact of c1 is spent by now
    assert second.store._one("SELECT count(*) FROM cx_facts") == 1
    first.close()
    second.close()


def test_route_says_which_automations_fire_why_and_what_they_do(tmp_path, run_cli):
    vip = {"id": "vip_urgent", "when": {"event": "created"}, "if": {"match": {"segment": ["vip"]}}, "then": {"priority": "urgent"}}
    nudge = {"id": "unanswered", "when": {"after": "2h", "since": "created"}, "if": {"responded": False}, "then": {"notify": ["manager"]}}
    make_org(tmp_path, with_automations(vip, nudge))
    ticket_file = tmp_path / "ticket.json"
    ticket_file.write_text('{"category": "question", "channel": "phone", "segment": "vip", "priority": "normal", '
                           '"customer_id": "c1", "created": "2025-03-03T10:00"}', encoding="utf-8")
    out = run_cli("route", tmp_path / "org.yaml", ticket_file).stdout
    assert "  automation `vip_urgent` fired (created): priority `normal` → `urgent`" in out
    assert "Mon 2025-03-03 12:00  automation `unanswered` fired (2h business after created): notify `manager`" in out


def test_an_automation_schedules_a_follow_up_and_moves_a_workflow(tmp_path):
    def change(data):
        data["workflows"] = [{"id": "complaint_loop", "match": {"category": ["complaint"]},
                              "states": [{"id": "intake"}, {"id": "judge"}, {"id": "done"}]}]
        data["automations"] = [
            {"id": "members_revisited", "when": {"event": "resolved"}, "if": {"match": {"member": True, "category": ["question"]}},
             "then": {"follow_up": "revisit"}},  # the policy takes complaints only: the automation asks for it anyway
            {"id": "questions_judged", "when": {"event": "created"}, "if": {"match": {"category": ["question"]}},
             "then": {"workflow": "complaint_loop", "step": "judge"}},
            {"id": "skip", "when": {"event": "first_response"}, "then": {"step": "intake"}}]
    engine = Engine(make_org(tmp_path, change), VirtualClock(MONDAY))
    decisions = engine.submit(ticket(0, MONDAY, category="question", member=True))
    (firing,) = fired(decisions)
    assert firing.actions == ("workflow `complaint_loop` from `intake`", "step to `judge`")
    assert engine.ticket("t0").state == "judge"
    (skipped,) = fired(engine.submit(FirstResponse("t0", at=MONDAY + timedelta(minutes=5))))
    assert skipped.actions[0].startswith("step to `intake`: refused, `complaint_loop` cannot go from `judge` to `intake`")
    resolved = engine.submit(Resolved("t0", at=MONDAY + timedelta(hours=1)))
    assert [x.actions for x in fired(resolved)] == [("follow-up `revisit` by `desk`",)]
    assert [x.policy for x in resolved if type(x).__name__ == "FollowUpScheduled"] == ["revisit"]


def test_an_agent_reply_triggers_automations(tmp_path):
    thanks = {"id": "replied_vip", "when": {"event": "agent_replied"}, "if": {"match": {"segment": ["vip"]}}, "then": {"tag": ["answered"]}}
    engine = Engine(make_org(tmp_path, with_automations(thanks)), VirtualClock(MONDAY))
    engine.submit(ticket(0, MONDAY, segment="vip"))
    assert [x.automation for x in fired(engine.submit(AgentReplied("t0", at=MONDAY + timedelta(minutes=5))))] == ["replied_vip"]


def test_an_automation_on_a_ticket_closed_and_forgotten_only_tells(tmp_path):
    """On `closed` with nothing left to do the engine forgets the ticket: a reopening or a move would leave a queue naming a
    ticket that is gone, so only the notice is given, and the rest is said to be skipped."""
    back = {"id": "closed_vip", "when": {"event": "closed"}, "then": {"reopen": "this", "assign": "manager", "notify": ["manager"]}}
    engine = Engine(make_org(tmp_path, lambda data: (data.update(followups=[]), with_automations(back)(data))), VirtualClock(MONDAY))
    engine.submit(ticket(0, MONDAY, category="question"))
    decisions = engine.submit(Closed("t0", at=MONDAY + timedelta(hours=1)))
    (firing,) = fired(decisions)
    assert firing.actions == ("changes to `t0` skipped: the ticket is closed and gone", "notify `manager`")
    assert engine.ticket("t0") is None and engine.queue("manager") == [] and not engine.faults


_NEAR_MISSES = """
import cxrules
from cxrules.engine.automations import Patterns
org = cxrules.load_org({org!r})
patterns = Patterns(org)
counted = next(a for a in org.automations if a.trigger.count is not None)
following = next(a for a in org.automations if a.trigger.following is not None)
window = following.trigger.within.total_seconds()
for n in range(6):  # a number past the count's, a second or more past the window (each rule's last term false), the same ticket
    patterns.matches([{{"t": counted.id, "n": 0, "new": False, "at": 1.7e9, "ticket": "A"}}],
                     {{"t": counted.id, "n": counted.trigger.count + n, "new": True, "at": 1.7e9, "ticket": "N"}})
    patterns.matches([{{"t": following.id + ":earlier", "at": 1.7e9, "ticket": "A"}}],
                     {{"t": following.id + ":this", "at": 1.7e9 + 60 * n, "ticket": "A"}})
    patterns.matches([{{"t": following.id + ":earlier", "at": 1.7e9, "ticket": "A"}}],
                     {{"t": following.id + ":this", "at": 1.7e9 + window + 1 + n, "ticket": "B"}})
patterns.close()
print("asked")
"""


def test_durable_rules_reads_only_its_own_memory_when_a_pattern_just_misses():
    """Durable-rules 2.0.28 skips the end mark of an `$and` whose last term is false and reads on past the rule, through
    memory it does not own, until some byte looks like an end mark: a crash when that memory runs out (it happened in a
    long test run). The patterns' conditions are written so that the read stops at an end mark (`_all_of`): under
    valgrind, asking about facts that just miss each rule reads nothing outside the rules' expressions. (Durable-rules'
    library keeps its functions' names, or valgrind could not tell where a read was: checked first.)

    (Valgrind also reports, and this test leaves alone, a read of uninitialised slots when a fact that took part in a
    finished match is retracted: durable-rules leaves the match's frame among the fact's places.)"""
    valgrind, symbols = shutil.which("valgrind"), shutil.which("nm")
    require_tool(valgrind, "valgrind", "apt-get install valgrind")
    require_tool(symbols, "nm", "apt-get install binutils")
    assert "reduceExpressionSequence" in subprocess.run([symbols, durable_rules_engine.__file__], capture_output=True, text=True).stdout
    script = _NEAR_MISSES.format(org=str(next(path for path in SEED_ORGS if path.stem == "automotive")))
    run = subprocess.run([valgrind, "--tool=memcheck", "--num-callers=6", sys.executable, "-c", script], capture_output=True,
                         text=True, env={**os.environ, "PYTHONMALLOC": "malloc"}, timeout=900)
    assert "asked" in run.stdout, run.stderr[-3000:]
    assert "ERROR SUMMARY" in run.stderr, run.stderr[-3000:]  # valgrind ran to the end
    in_conditions = [error for error in re.split(r"\n==\d+== ?\n", run.stderr) if "reduceExpressionSequence" in error or "isBetaMatch" in error]
    assert not in_conditions, "\n\n".join(in_conditions)


@example(-60.5, "Pacific/Kiritimati")  # before 1970 in UTC, and not a whole second
@given(st.floats(FIRST_MOMENT.timestamp(), LAST_MOMENT.timestamp()),
       st.sampled_from(["Asia/Shanghai", "America/St_Johns", "Pacific/Kiritimati", "Etc/GMT+12", "Africa/Monrovia"]))
def test_a_matched_fact_tells_its_local_time_to_the_minute(moment, zone):
    """As ``strftime`` writes it, for any moment an event may have (1970–2100 somewhere on Earth), in any zone (Monrovia's
    offset had seconds until 1972)."""
    zone = ZoneInfo(zone)
    assert automations._fact("t1", moment, zone) == f"t1 at {datetime.fromtimestamp(moment, zone):%Y-%m-%d %H:%M}"
