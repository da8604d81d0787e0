"""The engine's fast paths choose exactly what their plain definitions choose.

Issue #16 made the per-event path fast: an agent is picked from the store's index of agents by
load (or, where processes share the store, from the team on shift with its loads read in one
call, stopping at the first free agent); the calendars open for `during`
rules are remembered for the stretch in which none opens or closes; spent facts leave by a
heap instead of an hourly sweep of every key; timers that can no longer decide anything are
dropped unfired, outside any unit of work. Each is held here to the definition it stands
in for, written out plainly, on generated inputs. Nothing here measures time.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import itertools
import sys
import weakref
from dataclasses import fields
from functools import cache
from collections import Counter
from random import Random
from datetime import date, datetime, timedelta, timezone
from operator import itemgetter
from typing import Callable, Optional
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings, strategies as st

import cxrules
from cxrules.calendars import intersect_spans, micros, open_spans, subtract_spans, union_spans
from cxrules.engine import (AgentReplied, Assigned, AutomationFired, CustomerReply, DeliveryPolicy, Engine, FirstResponse,
                            FollowUpDone, FollowUpScheduled, Resolved, SlaBreached, SlaWarning, TicketCreated, VirtualClock)
from cxrules.engine.assignment import Agent, Assignment
from cxrules.engine import automations as automations_module, durable as durable_module, routes as routes_module
from cxrules.engine.automations import Patterns
from cxrules.engine.durable import DurableRouter
from cxrules.engine.loads import LoadIndex
from cxrules.engine.matching import MatchIndex
from cxrules.engine.slas import Slas
from cxrules.engine.snapshot import dump_state, load_state
from cxrules.engine.store import MemoryStore, RoleQueue, Store, StoreError, Timer, entry_timer, timer_entry
from cxrules.engine.timers import TimerKinds
from cxrules.routing import Router, TicketClass
from cxrules.model import Match
from cxrules.simulation import LogMapping, TicketRecord, simulate
from cxrules.simulation.replay import MODES

from conftest import ORGS, ROOT, SEED_ORGS, examples
from engine_helpers import StoppedClock, counts_out_of_step, local, make_org, rules_taking

sys.path.insert(0, str(ROOT / "bench"))
from centre import whole_lives  # noqa: E402  (the bench's stream of a centre)
from engine_workloads import LoadsReadAfresh, Realistic, answers_of, every_class  # noqa: E402  (the bench's baselines)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@cache
def _seed_org_and_router() -> tuple[cxrules.Org, DurableRouter]:
    """A seed org and its router, for parts built around a generated team (built once: compiling the routing is slow)."""
    org = cxrules.load_org(SEED_ORGS[0])
    return org, DurableRouter(org)


def _chosen_by_definition(team: list[Agent], loads: dict[str, int], requires: frozenset[str], round_robin: bool, cursor: int):
    """Of the able agents: the lowest number after the cursor (round robin, wrapping round), or the least loaded; ties to
    the lower number."""
    able = [agent for agent in team if loads[agent.id] < agent.capacity and requires <= agent.skills]
    if not able:
        return None
    if round_robin:
        return min(able, key=lambda agent: (agent.number <= cursor, agent.number))
    return min(able, key=lambda agent: (loads[agent.id], agent.number))


_staff_group = st.tuples(st.sampled_from(["early", "late"]), st.integers(1, 3), st.sets(st.sampled_from(["de", "fr"])),
                         st.lists(st.integers(0, 3), min_size=1, max_size=5))
_agents = st.lists(_staff_group, min_size=1, max_size=5).map(
    lambda groups: [(shift, capacity, skills, load) for shift, capacity, skills, loads in groups for load in loads])
"""(shift, capacity, skills, load) of each agent of a team, in staff groups of agents alike but for their load."""


def _desk(agents: list, store: MemoryStore) -> tuple[list[Agent], Assignment]:
    """The team of ``agents`` (shift, capacity, skills, load) as role `desk`, and the assignment picking from it."""
    team = [Agent(f"desk#{n + 1}", "desk", shift, frozenset(skills), capacity, n) for n, (shift, capacity, skills, _) in enumerate(agents)]
    # only what picking needs is the org's: the store, the team and its shifts are the example's
    org, router = _seed_org_and_router()
    return team, Assignment(org, store, {}, {"desk": team}, router, TimerKinds(store, []), [])


@settings(max_examples=examples(200), deadline=None)
@given(agents=_agents, on_shift=st.sampled_from([("early",), ("late",), ("early", "late")]),
       requires=st.sets(st.sampled_from(["de", "fr"]), max_size=1), round_robin=st.booleans(), cursor=st.integers(-1, 12))
def test_an_agent_is_picked_as_the_plain_definition_picks(agents, on_shift, requires, round_robin, cursor):
    """From the store's index of agents by load, and by reading the whole team's loads."""
    for store in (MemoryStore(), LoadsReadAfresh()):  # the second: as a store that processes share
        team, assignment = _desk(agents, store)
        loads = {agent.id: load for agent, (_, _, _, load) in zip(team, agents)}
        store.loads.update(loads)
        store.cursors["desk"] = cursor
        assignment.round_robin = {"desk": round_robin}
        shifts = tuple(shift for shift in assignment.shifts["desk"] if shift in on_shift)
        expected = _chosen_by_definition([a for a in team if a.shift in shifts], loads, frozenset(requires), round_robin, cursor)
        assert assignment._pick("desk", shifts, frozenset(requires)) == expected, type(store).__name__
        if round_robin and expected is not None:
            assert store.cursors["desk"] == expected.number


_load_change = st.tuples(st.integers(0, 24), st.sampled_from([1, 1, -1]))
_step = st.one_of(st.tuples(st.just("change"), _load_change),
                  st.tuples(st.just("unit"), st.lists(_load_change, max_size=4), st.booleans()),
                  st.tuples(st.just("restore"), st.just(None)),
                  st.tuples(st.just("pick"), st.tuples(st.sampled_from([("early",), ("late",), ("early", "late")]),
                                                      st.sets(st.sampled_from(["de", "fr"]), max_size=1), st.booleans())))


@settings(max_examples=examples(200), deadline=None)
@given(agents=_agents, steps=st.lists(_step, max_size=40))
def test_the_index_of_agents_by_load_follows_every_change_of_the_loads(agents, steps):
    """Loads changed one by one, in units of work kept or rolled back, a snapshot restored, agents picked (which change
    loads and the cursor too): each pick is the one the plain definition makes of the loads the store holds then."""
    store = MemoryStore()
    team, assignment = _desk(agents, store)
    store.loads.update({agent.id: load for agent, (_, _, _, load) in zip(team, agents)})

    def change_load(number: int, change: int) -> None:
        agent = team[number % len(team)].id
        if store.load(agent) + change >= 0:  # an agent gives back only the tickets it was given
            store.add_load(agent, change)
    for step in steps:
        if step[0] == "change":
            change_load(*step[1])
        elif step[0] == "unit":
            changes, kept = step[1], step[2]
            seq = store.begin(None)
            for number, change in changes:
                change_load(number, change)
            store.commit(seq, []) if kept else store.rollback(seq)
        elif step[0] == "restore":
            store.restore({**store.state(), "loads": {agent.id: len(agent.id) % 3 for agent in team}})
        else:
            on_shift, requires, round_robin = step[1]
            assignment.round_robin = {"desk": round_robin}
            shifts = tuple(shift for shift in assignment.shifts["desk"] if shift in on_shift)
            cursor = store.cursor("desk")
            expected = _chosen_by_definition([a for a in team if a.shift in shifts], {a.id: store.load(a.id) for a in team},
                                             frozenset(requires), round_robin, cursor)
            assert assignment._pick("desk", shifts, frozenset(requires)) == expected
            if expected is not None:
                store.add_load(expected.id, 1)  # as the engine hands it the ticket
        kept, afresh = store.load_index(assignment.pools), LoadIndex(assignment.pools, store.loads)
        assert (_held(kept._levels), kept._free) == (_held(afresh._levels), afresh._free), step


def _held(levels: list[dict[int, list[int]]]) -> list[dict[int, list[int]]]:
    """The loads some agent of each pool has now, with theirs (a load left by all is kept as an empty list)."""
    return [{load: level for load, level in pool.items() if level} for pool in levels]


_VALUES = ("a", "b", "c")
_named = st.one_of(st.none(), st.frozensets(st.sampled_from(_VALUES)))
_matches = st.lists(st.builds(Match, _named, _named, _named, _named, st.one_of(st.none(), st.booleans())), max_size=70)
"""Matches over values a, b and c on each dimension (None: any), more than a machine word of them at most."""


@settings(max_examples=examples(300), deadline=None)
@given(matches=_matches, classes=st.lists(st.tuples(*[st.sampled_from(_VALUES + ("d",))] * 4, st.one_of(st.none(), st.booleans())),
                                          min_size=1, max_size=20))
def test_the_items_an_index_finds_for_a_class_are_those_whose_match_takes_it(matches, classes):
    """In order, the first among them, none for a value no match names (`d`), as their bit set; as the model's Match.matches
    says (a class whose member flag is not known, None, is taken only by matches that test none)."""
    index = MatchIndex(matches, lambda match: match)
    for ticket_class in classes:
        taking = tuple(match for match in matches if match.matches(*ticket_class))
        assert index.taking(ticket_class) == sum(1 << n for n, match in enumerate(matches) if match.matches(*ticket_class))
        assert [id(match) for match in index.all(ticket_class)] == [id(match) for match in taking]
        assert index.first(ticket_class) is (taking[0] if taking else None)


@settings(max_examples=examples(30), deadline=None)
@given(org_path=st.sampled_from(SEED_ORGS), minutes=st.lists(st.integers(0, 60 * 24 * 120), min_size=1, max_size=40))
def test_the_calendars_open_for_during_rules_are_those_each_calendar_says(org_path, minutes):
    """In any order of moments (the remembered stretch is left forwards and backwards)."""
    router = DurableRouter(cxrules.load_org(org_path))
    try:
        start = datetime(2025, 9, 20, tzinfo=SHANGHAI)
        for minute in minutes:
            at = start + timedelta(minutes=minute)
            assert router.routes.open_calendars(at) == frozenset(cid for cid, calendar in router.routes.calendars.items() if calendar.is_open(at))
    finally:
        router.close()


def test_durable_rules_are_asked_once_per_set_of_rules_taking_a_class_and_state_of_the_calendars_that_matter_to_it(monkeypatch):
    """A calendar whose `during` rules cannot match a class changes nothing for it, open or not, and classes that the same
    rules take are decided alike: over a week of the automotive centre, whose calendars open and close in many
    combinations, each set of rules taking a class is asked about once per state of the calendars of its `during` rules,
    and every class gets the reference router's owner."""
    org = cxrules.load_org(AUTOMOTIVE)
    router, reference = DurableRouter(org), Router(org)
    asked: list[TicketClass] = []
    post = router._post
    monkeypatch.setattr(router, "_post", lambda ticket, open_calendars: asked.append(ticket) or post(ticket, open_calendars))
    classes = Random(5).sample(_every_class(org), 60)
    week = [datetime(2025, 3, 3, tzinfo=SHANGHAI) + timedelta(minutes=30 * n) for n in range(7 * 48)]
    try:
        states: dict[frozenset[str], set[frozenset[str]]] = {}
        for ticket in classes:
            matters = {rule.during for rule in org.routing if rule.during and rule.match.matches(*ticket.class_fields())}
            states.setdefault(rules_taking(org, ticket), set()).update(
                frozenset(c for c in matters if router.routes.calendars[c].is_open(at)) for at in week)
            for at in week:
                found, wanted = router.route(ticket, at), reference.route(ticket, at)
                assert (found.role, found.rule) == (wanted.role, wanted.rule), (ticket, at)
        assert Counter(rules_taking(org, ticket) for ticket in asked) == {taken: len(seen) for taken, seen in states.items()}
        assert len(states) < len(classes), "some of the classes should be alike"
        assert len({router.routes.open_calendars(at) for at in week}) > max(map(len, states.values())), "the week should open calendars no class needs"
    finally:
        router.close()


def test_a_fresh_router_asks_durable_rules_once_per_set_of_rules_taking_a_class(monkeypatch):
    """The 2,560 classes of the automotive centre are taken by 13 sets of its rules: 13 posts decide them all, as the
    reference router does, and the router says so (`asked`). Asked by a class's fields (as the engine asks), it answers
    from the same cache."""
    org = cxrules.load_org(AUTOMOTIVE)
    router, reference = DurableRouter(org), Router(org)
    asked: list[TicketClass] = []
    post = router._post
    monkeypatch.setattr(router, "_post", lambda ticket, open_calendars: asked.append(ticket) or post(ticket, open_calendars))
    classes = _every_class(org)
    try:
        for ticket in classes:
            found, wanted = router.route(ticket), reference.route(ticket)
            assert (found.role, found.rule) == (wanted.role, wanted.rule), ticket
        told = router.asked
        assert [router.route_fields(ticket.class_fields()) for ticket in classes] == [router.route(ticket) for ticket in classes]
        assert router.asked == told
    finally:
        router.close()
    assert len(classes) == 2560
    assert len(asked) == told == len({rules_taking(org, ticket) for ticket in classes}) == 13


def test_a_ticket_no_surge_counts_is_routed_without_a_surge_being_looked_at(monkeypatch):
    """In Double 11's fortnight the logistics centre's delay surge is on all day: a delay ticket goes to its team, and a ticket
    of a class the surge does not count is routed with no surge handed to the router (each such ticket was tested against
    every surge on, a ticket class built for it in Python)."""
    org = cxrules.load_org(ORGS / "logistics.yaml")
    handed: list[list[str]] = []
    surge_route_of = routes_module.surge_route_of
    monkeypatch.setattr(routes_module, "surge_route_of", lambda fields, surges: handed.append([x.id for x in surges]) or surge_route_of(fields, surges))
    moment = datetime(2025, 11, 12, 10, tzinfo=SHANGHAI)
    engine = Engine(org, VirtualClock(moment))
    try:
        for number, category in enumerate(["delay", "fees", "delay"]):
            engine.submit(TicketCreated(f"T{number}", category=category, channel="phone", segment="retail", priority="normal", at=moment))
        assert handed == [["delay_complaint_surge"]] * 2
        assert [engine.ticket(f"T{number}").role == "surge_agent" for number in range(3)] == [True, False, True]
    finally:
        engine.close()


def _every_class(org: cxrules.Org) -> list[TicketClass]:
    values = ([c.id for c in org.categories], [c.id for c in org.channels], [s.id for s in org.segments], list(org.info.priorities), [False, True])
    return [TicketClass(*fields) for fields in itertools.product(*values)]


def test_asking_durable_rules_leaves_nothing_for_the_collector():
    """Each action durable-rules' own loop runs leaves a reference cycle of some 28 objects (a closure, a promise, a timeout
    function that refers to itself); a replay, whose collector is paused, asks thousands of times. The engine runs the actions
    itself and leaves none, for routing and for patterns across tickets alike; and the owners are the reference router's."""
    org = cxrules.load_org(AUTOMOTIVE)
    router, reference = DurableRouter(org), Router(org)
    patterns = Patterns(org)
    repeat = next(a for a in org.automations if a.trigger.count is not None)
    facts = [{"t": repeat.id, "n": 0, "new": False, "at": 0.0, "ticket": "A"}]
    new = {"t": repeat.id, "n": repeat.trigger.count - 1, "new": True, "at": 60.0, "ticket": "B"}
    classes = Random(3).sample(_every_class(org), 200)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds in cycles is kept in gc.garbage, to be told apart by its code
    try:
        owners = [router.winner(ticket) for ticket in classes]
        matched = [patterns.matches(facts, new) for _ in range(50)]
        gc.collect()
        # only durable-rules' and ours: another thread of the test process may leave garbage of its own meanwhile
        in_cycles = [thing for thing in gc.garbage
                     if str(getattr(thing, "__module__", None) or type(thing).__module__).startswith(("durable", "cxrules"))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
        router.close()
        patterns.close()
    assert owners == [reference.route(ticket).rule.id if reference.route(ticket).rule else None for ticket in classes]
    assert len(set(owners)) > 5
    assert matched == [[(repeat.id, ("A", "B"))]] * 50
    assert in_cycles == []


def test_a_failure_inside_durable_rules_abandons_the_action_raises_and_the_ruleset_goes_on(monkeypatch):
    org = cxrules.load_org(AUTOMOTIVE)
    router, reference = DurableRouter(org), Router(org)
    first, then = [ticket for ticket in _every_class(org) if reference.route(ticket).rule is not None][:2]
    try:
        def fails(*args):
            raise OSError("disk full")
        monkeypatch.setattr(durable_module.durable_rules_engine, "update_state", fails)
        with pytest.raises(RuntimeError, match="durable-rules failed.*disk full"):
            router.winner(first)
        monkeypatch.undo()
        assert router.winner(then) == reference.route(then).rule.id
    finally:
        router.close()


@cache
def _pattern_sessions() -> tuple[cxrules.Org, Patterns, Patterns]:
    """The automotive centre's patterns twice: one session serving answers per shape of a pair, one asked about each set of
    facts at once."""
    org = cxrules.load_org(AUTOMOTIVE)
    return org, Patterns(org), Patterns(org)


_OFF_THE_WINDOWS_END = (st.sampled_from([0.0, 1.0, -1.0]) | st.integers(-3, 3).map(lambda ulps: ulps * 2.0**-22)
                        | st.floats(-8 * 86400, 8 * 86400))
"""Seconds between an earlier fact's time plus the window and the new fact's: at the window's very end, a few units of the
last place of a time near 2**31 either side of it (where the sum of a time and the window rounds, and `new - window <=
earlier` would put one fact in thirty on the other side from durable-rules), near it, and anywhere."""


@settings(max_examples=examples(100), deadline=None)
@given(sets=st.lists(st.tuples(st.booleans(), st.lists(st.tuples(st.sampled_from("ABC"), _OFF_THE_WINDOWS_END, st.integers(0, 3)), max_size=40),
                               st.integers(0, 3)), min_size=1, max_size=6),
       start=st.floats(1.6e9, 1.9e9) | st.floats(2**31 - 8 * 86400, 2**31 + 8 * 86400))
# one unit of the last place inside the window, where only durable-rules' own sum tells it from a fact outside
@example(sets=[(False, [("A", 2.0**-22, 0)], 0), (False, [("A", 1.0, 0)], 0)], start=2147627307.0613556)
def test_a_pattern_matches_as_durable_rules_asked_about_the_very_facts_matches(sets, start):
    """Each set of facts (a count's numbered facts, or earlier events before a `following` one, some of the new fact's own
    ticket, some of one earlier ticket; up to 40, seldom over 20: the test below takes long lists) gets the matches
    durable-rules gives when asked about those very facts at once, each pair of tickets once, though it is asked about
    each earlier fact beside the new one, or served from the answer kept for a pair of its shape: at a window's very end
    too. Each set comes in twins that differ in one thing the
    rules test (the new fact's ticket, its number, the side of the window's end), which facts of one shape must not."""
    org, served, asked = _pattern_sessions()
    served._answers.clear()
    counted = next(a for a in org.automations if a.trigger.count is not None)
    following = next(a for a in org.automations if a.trigger.following is not None)
    window = following.trigger.within.total_seconds()
    for (is_count, earlier, number), ticket, later, side in itertools.product(sets, "AN", (0, 1), (1, -1)):
        if is_count:
            facts = [{"t": counted.id, "n": n, "new": False, "at": start, "ticket": t} for t, _, n in earlier]
            new = {"t": counted.id, "n": number + later, "new": True, "at": start, "ticket": ticket}
        else:
            facts = [{"t": f"{following.id}:earlier", "at": start - window - side * off, "ticket": t} for t, off, _ in earlier]
            new = {"t": f"{following.id}:this", "at": start, "ticket": ticket}
        tickets = [*(fact["ticket"] for fact in facts), ticket]
        expected = list(dict.fromkeys((automation, (tickets[first], tickets[last])) for automation, first, last in asked._ask(facts, new)))
        assert served.matches(facts, new) == expected
        assert served.matches(facts, new) == expected  # again: now from the answer kept, if its shape allows


@pytest.mark.parametrize("seed", range(6))
def test_a_customer_s_many_facts_match_as_durable_rules_asked_about_them_all_at_once(seed):
    """Long lists, which the property test above seldom draws: 30 to 150 earlier facts of a few tickets, times near the
    window's end and equal ones, a count's numbers alike; the matches served pair by pair are durable-rules' for all of
    them at once, each pair of tickets once."""
    org, served, asked = _pattern_sessions()
    rng = Random(seed)
    counted = next(a for a in org.automations if a.trigger.count is not None)
    following = next(a for a in org.automations if a.trigger.following is not None)
    window, now = following.trigger.within.total_seconds(), 1.75e9 + seed * 86400.5
    size = rng.randrange(30, 151)
    tickets = [rng.choice("ABCDEFN") for _ in range(size)]
    if seed % 2:
        facts = [{"t": counted.id, "n": rng.randrange(4), "new": False, "at": now, "ticket": t} for t in tickets]
        new = {"t": counted.id, "n": rng.randrange(5), "new": True, "at": now, "ticket": "N"}
    else:
        facts = [{"t": f"{following.id}:earlier", "at": now - window + rng.choice([-1.0, 0.0, 1.0, -3600.0, 3600.0]), "ticket": t}
                 for t in tickets]
        new = {"t": f"{following.id}:this", "at": now, "ticket": "N"}
    names = [*tickets, "N"]
    expected = list(dict.fromkeys((automation, (names[first], names[last])) for automation, first, last in asked._ask(facts, new)))
    assert served.matches(facts, new) == expected and expected


def test_durable_rules_is_asked_once_per_shape_of_a_pair_of_facts_however_many_a_customer_has(monkeypatch):
    """A month of customers coming back: an earlier fact beside the new one, of a shape seen before, is answered without
    asking durable-rules again, however many facts a customer has (a fleet, a catch-all id: asked about all of them at once,
    each new ticket cost two posts a fact); an earlier ticket with two facts in the window matches once."""
    org, served, _ = _pattern_sessions()
    served._answers.clear()
    following = next(a for a in org.automations if a.trigger.following is not None)
    window = following.trigger.within.total_seconds()
    asked: list[str] = []
    post_and_act = automations_module.post_and_act

    def posting(ruleset, post, fact, record):  # replaced on the module, as in test_automations
        if post.__name__ == "assert_fact" and fact["t"].endswith(":this"):
            asked.append(fact["ticket"])
        return post_and_act(ruleset, post, fact, record)
    monkeypatch.setattr(automations_module, "post_and_act", posting)
    earlier = f"{following.id}:earlier"
    for day in range(30):
        now = 1.75e9 + day * 86400.25
        one = [{"t": earlier, "at": now - 3 * 86400, "ticket": f"a{day}"}]
        two = [*one, {"t": earlier, "at": now - 3600, "ticket": f"b{day}"}]
        too_long_ago = [{"t": earlier, "at": now - window - 60, "ticket": f"c{day}"}]
        found = [served.matches(facts, {"t": f"{following.id}:this", "at": now, "ticket": f"n{day}"}) for facts in (one, two, too_long_ago)]
        assert found == [[(following.id, (f"a{day}", f"n{day}"))], [(following.id, (f"b{day}", f"n{day}")), (following.id, (f"a{day}", f"n{day}"))], []]
    assert asked == ["n0", "n0"]  # a pair within the window, and one outside it
    many = [{"t": earlier, "at": now - 60 * (n + 1), "ticket": f"m{n % 500}"} for n in range(1000)]
    matched = served.matches(many, {"t": f"{following.id}:this", "at": now, "ticket": "m"})
    assert matched == [(following.id, (f"m{n}", "m")) for n in [*range(499, -1, -1)]]  # the latest fact of each, latest first
    assert asked == ["n0", "n0"]


def _first_call_by_definition(followups, policy, start: datetime, due: datetime):
    """The first moment in (the callers' shifts ∪) ∩ the policy's calendar − quiet hours, from ``start`` up to 14 days after
    ``due``, worked out over that whole stretch at once: ``start`` itself if a call may be made at its instant."""
    last = due + timedelta(days=14)
    shifts = {agent.shift for agent in followups.agents.get(policy.by, ())}
    spans = union_spans(*(open_spans(followups.calendars[shift], start, last) for shift in shifts))
    if policy.calendar:
        spans = intersect_spans(spans, open_spans(followups.calendars[policy.calendar], start, last))
    if policy.quiet_hours:
        spans = subtract_spans(spans, open_spans(followups.calendars[policy.quiet_hours], start, last))
    return None if not spans else start if micros(spans[0][0]) == micros(start) else spans[0][0]  # by instant: == tells none in a gap


_FOLDS = {"Europe/Berlin": datetime(2025, 10, 26, 2), "America/New_York": datetime(2025, 11, 2, 1)}
"""Where the wall clock repeats an hour, within the 120 days the moments below are drawn from."""


@settings(max_examples=examples(30), deadline=None)
@given(org_path=st.sampled_from(SEED_ORGS),
       moments=st.lists(st.tuples(st.integers(0, 86400 * 120) | st.integers(0, 4 * 120).map(lambda n: n * 1800),
                                  st.integers(-5400, 5400), st.booleans(), st.integers(0, 1)), min_size=1, max_size=20),
       zone=st.sampled_from(["Asia/Shanghai", "UTC", "Europe/Berlin", "America/New_York"]))
@example(org_path=ORGS / "automotive.yaml", moments=[(0, 0, True, 1), (0, 1, True, 0)], zone="Europe/Berlin")  # 02:00 twice
@example(org_path=ORGS / "logistics.yaml", moments=[(0, 0, True, 1), (0, 1, True, 0)], zone="Europe/Berlin")
def test_the_first_follow_up_call_is_the_moment_the_whole_stretch_gives(org_path, moments, zone):
    """The first call is read off the policy's spans of a week, or searched half a day ahead first and wider: the moment
    found, and its time zone, are those of looking at every span up to the last moment a call may come, in any order of
    moments (the week is left forwards and backwards), at the very moments calendars open and close (on the half hour),
    and in a repeated hour of the caller's zone, either pass, which Python's own comparison of one zone's wall times
    cannot tell apart."""
    tz = timezone.utc if zone == "UTC" else ZoneInfo(zone)
    engine = Engine(cxrules.load_org(org_path), VirtualClock(datetime(2025, 9, 20, tzinfo=tz)))
    try:
        followups = engine.followups
        for policy in followups.policies.values():
            for second, near_fold, in_fold, fold in moments:
                if in_fold and zone in _FOLDS:
                    start = (_FOLDS[zone] + timedelta(seconds=near_fold)).replace(tzinfo=tz, fold=fold)
                else:
                    start = datetime(2025, 9, 20, tzinfo=tz) + timedelta(seconds=second)
                due = start + policy.within
                found, expected = followups._first_call_moment(policy, start, due), _first_call_by_definition(followups, policy, start, due)
                assert found == expected and (found is None or found.isoformat() == expected.isoformat())
    finally:
        engine.close()


def _callers_on_two_shifts(data: dict) -> None:
    """The desk's follow-up calls made by two agents, one on a shift open since midnight, one on a shift opening at 09:00;
    both close more than half a day later, at different times (no quiet hours)."""
    data["calendars"] += [{"id": "early", "hours": {"daily": ["00:00-23:00"]}}, {"id": "late", "hours": {"daily": ["09:00-23:30"]}}]
    desk = next(role for role in data["roles"] if role["id"] == "desk")
    desk["staff"] = [{"shift": "early", "agents": 1}, {"shift": "late", "agents": 1}]
    for policy in data["followups"]:
        policy.pop("quiet_hours", None)


@pytest.mark.parametrize("asked_before", [[], [(8, 0)], [(9, 0)], [(8, 0), (9, 0)]])
def test_a_follow_up_from_the_moment_a_caller_s_shift_opens_is_that_moment_whatever_was_asked_before(asked_before, tmp_path):
    """At 09:00 one caller's shift has been open since midnight and another's opens: the call may be made at once, and the
    answer is the moment asked, whether the week of spans was laid out from it or from earlier, and whichever of the two
    spans starting then the union kept (spans cut at different ends, or taken in another order of shifts, break that tie
    differently)."""
    engine = Engine(make_org(tmp_path, _callers_on_two_shifts), VirtualClock(datetime(2025, 9, 20, tzinfo=SHANGHAI)))
    try:
        followups = engine.followups
        policy = next(iter(followups.policies.values()))
        for hour, minute in asked_before:
            earlier = datetime(2025, 9, 22, hour, minute, tzinfo=SHANGHAI)
            followups._first_call_moment(policy, earlier, earlier + policy.within)
        for start in (datetime(2025, 9, 22, 9, tzinfo=SHANGHAI), datetime(2025, 9, 22, 1, tzinfo=timezone.utc)):
            found = followups._first_call_moment(policy, start, start + policy.within)
            assert found is start, (found, start)
            assert found == _first_call_by_definition(followups, policy, start, start + policy.within)
    finally:
        engine.close()


def _callers_away(days: int):
    """The desk's follow-up calls made by one agent, on a daily shift closed for ``days`` dates from 22 September 2025."""
    def change(data: dict) -> None:
        closed = [(date(2025, 9, 22) + timedelta(days=n)).isoformat() for n in range(days)]
        data["calendars"].append({"id": "away", "hours": {"daily": ["09:00-17:00"]}, "holidays": {"closed": closed}})
        desk = next(role for role in data["roles"] if role["id"] == "desk")
        desk["staff"] = [{"shift": "away", "agents": 1}]
        for policy in data["followups"]:
            policy.pop("quiet_hours", None)
    return change


@pytest.mark.parametrize("days_away", [13, 15, 20])
def test_a_follow_up_call_never_comes_past_its_grace_however_far_its_week_of_spans_reaches(days_away, tmp_path):
    """A call may come up to 14 days after its follow-up is due, never later: with its callers away 13 days it comes at
    their return, with 15 or 20 days it does not come. Fails if the week of callable spans a policy lays out reaches past
    that grace (the spans held would give a call the grace forbids) or if the search past the week stops short of it."""
    engine = Engine(make_org(tmp_path, _callers_away(days_away)), VirtualClock(datetime(2025, 9, 20, tzinfo=SHANGHAI)))
    try:
        followups = engine.followups
        policy = next(iter(followups.policies.values()))
        start = datetime(2025, 9, 22, 10, tzinfo=SHANGHAI)
        found = followups._first_call_moment(policy, start, start)  # due at once: the grace runs from the start
        back = datetime(2025, 9, 22, 9, tzinfo=SHANGHAI) + timedelta(days=days_away)
        assert found == (back if days_away < 14 else None) == _first_call_by_definition(followups, policy, start, start)
    finally:
        engine.close()


@pytest.mark.parametrize("org_path", SEED_ORGS)
def test_a_follow_up_asked_again_from_the_week_s_own_start_is_the_moment_the_whole_stretch_gives(org_path):
    """A standing clock (tickets closed at one instant) asks again and again from the very moment the week of callable
    spans was laid out from: answered as the whole stretch gives it (the moment and its zone), for an equal moment made
    afresh, the same instant in UTC, and a wall time of the other fold; at an opening, at midnight, in a repeated hour, at
    a wall time the clocks skipped."""
    berlin = ZoneInfo("Europe/Berlin")
    engine = Engine(cxrules.load_org(org_path), VirtualClock(datetime(2025, 9, 20, tzinfo=SHANGHAI)))
    try:
        followups = engine.followups
        for policy in followups.policies.values():
            for local in (datetime(2025, 9, 22, 9, tzinfo=SHANGHAI), datetime(2025, 9, 20, tzinfo=SHANGHAI),
                          datetime(2025, 10, 26, 2, 30, tzinfo=berlin), datetime(2025, 10, 26, 2, 30, fold=1, tzinfo=berlin),
                          datetime(2025, 3, 30, 2, 0, tzinfo=berlin)):  # a wall time the clock skipped: 03:00 in the zone
                again = [local, local.replace(), local.astimezone(timezone.utc), local.replace(), local.replace(fold=1 - local.fold)]
                for start in again:
                    due = start + policy.within
                    found, expected = followups._first_call_moment(policy, start, due), _first_call_by_definition(followups, policy, start, due)
                    assert found == expected and (found is None or found.isoformat() == expected.isoformat()), (policy.id, start)
    finally:
        engine.close()


@settings(max_examples=examples(100), deadline=None)
@given(facts=st.lists(st.tuples(st.sampled_from(["C1", "C2", "C3"]), st.integers(0, 200)), max_size=30),
       sweeps=st.lists(st.integers(0, 400), max_size=10))
def test_spent_facts_leave_as_a_sweep_of_every_key_would_remove_them(facts, sweeps):
    store = MemoryStore()
    start = datetime(2025, 1, 1, tzinfo=SHANGHAI)
    kept: dict[str, list[tuple[float, str, float]]] = {}
    moment = 0
    for number, (key, step) in enumerate(facts):
        keep_for = {"C1": 60, "C2": 600, "C3": 3600}[key]  # one length of time per key, as patterns keep them
        moment += step
        at = start + timedelta(seconds=moment)
        store.add_fact(key, at, f"T{number}", at + timedelta(seconds=keep_for))
        kept.setdefault(key, []).append((at.timestamp(), f"T{number}", (at + timedelta(seconds=keep_for)).timestamp()))
    for sweep in sorted(sweeps):
        now = (start + timedelta(seconds=sweep)).timestamp()
        store.expire_facts(start + timedelta(seconds=sweep))
        for key, held in list(kept.items()):  # the sweep of every key that the heap stands in for
            held[:bisect.bisect_right(held, now, key=itemgetter(2))] = []
            if not held:
                del kept[key]
    assert store.facts == kept


def test_a_surge_s_arrivals_go_into_a_snapshot_as_their_moments_and_come_back_counted_by_instants():
    """The memory store keeps each arrival with its seconds, for the window's test; a snapshot holds the moments themselves,
    and a store restored from one counts the window as the first does (by instants: Berlin's repeated hour, and UTC)."""
    berlin = ZoneInfo("Europe/Berlin")
    moments = [datetime(2025, 10, 26, 2, 30, tzinfo=berlin, fold=fold) for fold in (0, 1)] + [datetime(2025, 10, 26, 1, 45, tzinfo=timezone.utc)]
    store, restored = MemoryStore(), MemoryStore()
    for at in moments:
        store.add_arrival("rush", at)
    (kept,) = store.state()["arrivals"].values()
    assert len(kept) == len(moments) and all(at is moment for at, moment in zip(kept, moments))
    restored.restore(load_state(dump_state(store.state())))
    after = datetime(2025, 10, 26, 1, 30, tzinfo=timezone.utc)  # the second 02:30 of Berlin: it leaves, as the first did
    assert restored.arrivals_since("rush", after) == store.arrivals_since("rush", after) == 1


@settings(max_examples=examples(100), deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["C1", "C2"]), st.integers(0, 120), st.integers(0, 200), st.integers(1, 6)), max_size=40))
def test_the_tail_of_a_count_s_facts_is_that_of_all_of_them(steps):
    """A count reads how many facts its key holds in the window and the last count-1 of them (the memory store slices its
    list, not building all of it): what the whole list gives, and the same facts forgotten as they leave the window."""
    whole, tail = MemoryStore(), MemoryStore()
    start, clock = datetime(2025, 1, 1, tzinfo=SHANGHAI), 0
    for key, step, window, last in steps:
        clock += step
        at = start + timedelta(seconds=clock)
        after = at - timedelta(seconds=window)
        kept = whole.facts_since(key, after)
        assert tail.facts_tail(key, after, last) == (len(kept), kept[-last:])
        for store in (whole, tail):
            store.add_fact(key, at, f"T{clock}", at + timedelta(seconds=300))
    assert tail.facts == whole.facts


_window_step = st.tuples(st.sampled_from(["add_fact", "facts_since", "facts_tail", "expire", "arrival", "arrivals_since"]),
                         st.sampled_from(["C1", "C2"]), st.integers(0, 120))


@settings(max_examples=examples(300), deadline=None)
@given(units=st.lists(st.tuples(st.lists(_window_step, max_size=8), st.booleans()), max_size=12))
def test_facts_and_surge_windows_roll_back_to_what_they_held(units):
    """What a unit of work does in place to the facts patterns count and the arrivals surges count (added, forgotten as
    they leave a window, swept when spent), a rollback puts back whole; a unit committed keeps it."""
    store = MemoryStore()
    start, clock = datetime(2025, 1, 1, tzinfo=SHANGHAI), 0

    def held() -> tuple[dict, dict]:
        return ({key: list(facts) for key, facts in store.facts.items()},
                {surge: list(arrivals) for surge, arrivals in store.arrivals_by_surge.items() if arrivals})
    for steps, keep in units:
        before = held()
        store.begin(("event", None))
        for name, key, step in steps:
            clock += step  # the engine's clock moves forward
            at = start + timedelta(seconds=clock)
            if name == "add_fact":
                store.add_fact(key, at, f"T{clock}", at + timedelta(seconds=60 if key == "C1" else 300))
            elif name == "facts_since":
                store.facts_since(key, at - timedelta(seconds=90))
            elif name == "facts_tail":
                store.facts_tail(key, at - timedelta(seconds=90), 2)
            elif name == "expire":
                store.expire_facts(at)
            elif name == "arrival":
                store.add_arrival(key, at)
            else:
                store.arrivals_since(key, at - timedelta(seconds=90))
        if keep:
            store.commit(0, [])
        else:
            store.rollback(0)
            assert held() == before
    store.expire_facts(start + timedelta(seconds=clock + 301))
    assert store.facts == {}  # every fact is spent by then and swept: those a rolled-back sweep put back too


_queue_step = st.one_of(st.tuples(st.just("enqueue"), st.sampled_from(["T1", "T2", "T3", "T4", "T5"])),
                        st.tuples(st.just("unqueue"), st.sampled_from(["T1", "T2", "T3", "T4", "T5"])),
                        st.tuples(st.just("pop"), st.none()), st.tuples(st.just("head"), st.none()))


@settings(max_examples=examples(300), deadline=None)
@given(units=st.lists(st.tuples(st.lists(_queue_step, max_size=8), st.booleans()), max_size=12))
def test_a_queue_changes_and_rolls_back_as_a_plain_list_would(units):
    """A role's queue takes a ticket out of its middle without looking for it; in and out of units of work, committed or
    rolled back, it holds what a list changed the plain way holds (a rolled-back unit leaves it as it was)."""
    store, plain = MemoryStore(), []
    for steps, keep in units:
        before = list(plain)
        store.begin(("event", None))
        for name, ticket_id in steps:
            if name == "enqueue":
                if ticket_id in plain:
                    continue  # the engine takes a ticket out of its queue before it queues it again
                plain.append(ticket_id)
                assert store.enqueue("desk", ticket_id) == len(plain)
            elif name == "unqueue":
                if ticket_id in plain:
                    plain.remove(ticket_id)
                store.unqueue("desk", ticket_id)
            elif name == "head":
                assert store.queue_head("desk") == (plain[0] if plain else None)
            elif plain:
                plain.pop(0)
                store.pop_queue_head("desk")
            assert store.queued("desk") == plain
        if keep:
            store.commit(0, [])
        else:
            store.rollback(0)
            plain = before
        assert store.queued("desk") == plain
        assert store.queue_head("desk") == (plain[0] if plain else None)


_timer_step = st.one_of(st.tuples(st.just("schedule"), st.integers(0, 4 * 60 * 8)),
                        st.tuples(st.just("again"), st.integers(0, 4 * 60 * 8)),
                        st.tuples(st.just("pop"), st.integers(0, 4 * 60 * 8)), st.tuples(st.just("look"), st.integers(0, 4 * 60 * 8)),
                        st.tuples(st.just("next"), st.none()))


@settings(max_examples=examples(300), deadline=None)
@given(units=st.lists(st.tuples(st.lists(_timer_step, max_size=10), st.booleans()), max_size=12))
def test_timers_leave_the_schedule_as_they_leave_a_heap_of_due_time_and_number(units):
    """The memory store keeps its timers in buckets of a minute: in and out of units of work, committed or rolled back, with
    timers due in the minute being taken from and before it, they leave in the order of a heap of (due time, number) and
    the schedule holds what that heap holds (a rolled-back unit leaves both as they were). A unit may schedule a timer under
    the number of one it took (`again`: a warning edited by hand may name any number as its breach's), and timers of one due
    time and number leave in the order they were scheduled. Each moment is one object throughout, as the engine asks about
    one moment again and again; `look` is a look at the timers due then that drops none (the store keeps the timer it built
    for the head, to hand out if that very entry is popped next)."""
    start = local(2025, 3, 3, 10)
    store = MemoryStore()
    heap: list[tuple[float, int, int]] = []  # due time, number, the order scheduled in (the timer's key names it)
    names = itertools.count()
    moments: dict[Optional[int], datetime] = {}
    for steps, keep in units:
        before, seq_before, taken = list(heap), store.next_seq, None
        store.begin(("advance", start))
        for name, quarter_seconds in steps:
            at = moments.setdefault(quarter_seconds, start + timedelta(seconds=quarter_seconds / 4) if quarter_seconds is not None else start)
            if name == "schedule" or (name == "again" and taken is not None):
                order, seq = next(names), store.next_seq if name == "schedule" else taken
                heapq.heappush(heap, (at.timestamp(), seq, order))
                store.schedule(at, "surge", None, f"surge:{order}", "s", None if name == "schedule" else seq)
            elif name == "pop":
                due = heap and heap[0][0] <= at.timestamp()
                timer = store.pop_due(at)
                assert _due_number_order(timer) == heapq.heappop(heap) if due else timer is None
                taken = timer.seq if timer is not None else taken
            elif name == "look":
                looked = _looked_at(store, at)
                assert list(map(_due_number_order, looked)) == ([heap[0]] if heap and heap[0][0] <= at.timestamp() else [])
            else:
                assert store.next_due() == (datetime.fromtimestamp(heap[0][0], timezone.utc) if heap else None)
        if keep:
            store.commit(0, [])
        else:
            store.rollback(0)
            heap = before
            heapq.heapify(heap)
            assert store.next_seq == seq_before
        assert len(store.timers) == len(heap)
        assert sorted(map(_due_number_order, map(entry_timer, store.timers))) == sorted(heap)
    while heap:
        timer = store.pop_due(start + timedelta(hours=1))
        assert _due_number_order(timer) == heapq.heappop(heap)
    assert store.pop_due(start + timedelta(hours=1)) is None and store.next_due() is None


def test_the_timer_a_look_found_due_is_the_one_popped_unless_an_earlier_one_came_first():
    """The store hands out the timer it built when it looked at the schedule's head (none built twice), but only for that very
    entry: a timer scheduled since, due earlier, is popped first, and the one looked at after it."""
    at = local(2025, 3, 3, 10)
    store = MemoryStore()
    store.schedule(at, "surge", None, "surge:late", "s")
    looked = _looked_at(store, at)
    assert store.pop_due(at) is looked[0]
    store.schedule(at, "surge", None, "surge:late", "s")
    assert [timer.key for timer in _looked_at(store, at)] == ["surge:late"]
    store.schedule(at - timedelta(minutes=1), "surge", None, "surge:early", "s")
    assert [store.pop_due(at).key for _ in range(2)] == ["surge:early", "surge:late"] and store.pop_due(at) is None


def test_a_store_closed_holds_nothing_of_the_timers_it_looked_at():
    """close() lets go of every timer: also the one a look at the schedule's head kept to hand out, and the moment last
    asked about (their payload and moment would otherwise outlive the store's state)."""
    at = local(2025, 3, 3, 10)
    store = MemoryStore()
    payload = _Payload()
    store.schedule(at, "surge", None, "surge:w", payload)
    assert [timer.data for timer in _looked_at(store, at)] == [payload]
    kept = weakref.ref(payload)
    del payload
    store.close()
    assert kept() is None


class _Payload:
    """A timer's payload that can be watched for being let go (a weak reference to it)."""


def _looked_at(store: MemoryStore, at: datetime) -> list[Timer]:
    """The timers ``drop_spent`` looks at up to ``at``, told that none is spent (so it drops none, and keeps the first)."""
    looked: list[Timer] = []

    def spent(ticket, timer: Timer) -> bool:
        looked.append(timer)
        return False  # a bool: compiled, the store takes the answer as one
    store.drop_spent(at, spent)
    return looked


def _due_number_order(timer: Timer) -> tuple[float, int, int]:
    """A timer of the schedule's property test as its model holds it: due time, number, and the order it was scheduled in."""
    return timer.due.timestamp(), timer.seq, int(timer.key.removeprefix("surge:"))


def test_timers_of_one_due_time_and_number_leave_in_the_order_scheduled_and_are_never_compared_further():
    """Two timers may share a due time and number (a store edited by hand may name any number as a breach's): they leave in
    the order they were scheduled, committed or rolled back, and nothing else of theirs is compared (payloads that cannot
    be, here)."""
    at = local(2025, 3, 3, 10)
    store = MemoryStore()
    store.schedule(at, "surge", None, "surge:w", {"n": 1}, 0)
    store.schedule(at, "surge", None, "surge:w", {"n": 2}, 0)
    store.begin(("advance", at))
    store.schedule(at, "surge", None, "surge:w", {"n": 3}, 0)
    assert store.pop_due(at).data == {"n": 1}
    store.rollback(0)
    assert [store.pop_due(at).data for _ in range(2)] == [{"n": 1}, {"n": 2}] and store.pop_due(at) is None


def test_a_queue_whose_head_never_moves_keeps_only_its_tickets_and_rolls_back_whole():
    """Tickets taken out of the middle of a queue whose head stays (a role nobody staffs) leave no trail behind them: the
    entries left are bounded by the tickets queued; a unit that takes many out and is rolled back puts back each one."""
    store = MemoryStore()
    store.enqueue("desk", "stuck")
    for number in range(1000):
        store.begin(("event", None))
        store.enqueue("desk", f"T{number}")
        store.unqueue("desk", f"T{number}")
        store.commit(0, [])
    assert store.queued("desk") == ["stuck"]
    assert len(store.queues["desk"]._entries) <= 2 + RoleQueue.SLACK
    for number in range(300):
        store.enqueue("desk", f"U{number}")
    store.begin(("event", None))
    for number in range(300):
        if number % 6:
            store.unqueue("desk", f"U{number}")
    assert store.queued("desk") == ["stuck", *(f"U{n}" for n in range(0, 300, 6))]
    assert len(store.queues["desk"]._entries) < 300
    store.rollback(0)
    assert store.queued("desk") == ["stuck", *(f"U{n}" for n in range(300))]


AUTOMOTIVE = next(path for path in SEED_ORGS if path.stem == "automotive")


def _month_of_tickets(org: cxrules.Org, count: int, seed: int) -> list[TicketRecord]:
    """Tickets of every class of ``org`` over a week, some answered late, some unsatisfied, a few never resolved."""
    rng = Random(seed)
    start = datetime(2025, 3, 3, tzinfo=SHANGHAI)
    records = []
    for number in range(count):
        created = start + timedelta(minutes=rng.uniform(0, 7 * 1440))
        answered = created + timedelta(minutes=rng.lognormvariate(3, 1.5))
        resolved = answered + timedelta(minutes=rng.lognormvariate(5, 1.5)) if rng.random() < 0.95 else None
        records.append(TicketRecord(f"T{number}", created, rng.choice(org.categories).id, rng.choice(org.channels).id,
                                    rng.choice(org.segments).id, rng.choice(org.info.priorities), rng.random() < 0.5,
                                    f"C{rng.randrange(count // 3)}", answered, resolved,
                                    rng.choice((1, 2, 4, 5, None)), row=number + 2))
    return records


def _flown(result) -> dict:
    """Each ticket's flight as it went (its journey holds the replay's random source, a different object each run)."""
    return {ticket_id: {field.name: getattr(flight, field.name) for field in fields(flight) if field.name != "journey"}
            for ticket_id, flight in result.flights.items()}


@given(seed=st.integers(0, 2**32 - 1), mean=st.one_of(st.integers(0, 10**13), st.integers(10**16, 10**17)))
@example(seed=0, mean=10**16 + 1)  # a mean whose seconds are not its µs over a million read as a float first
def test_an_exponential_handling_time_is_the_draw_expovariate_makes(seed, mean):
    """A what-if replay's draw of a handling time, worked out where it is used, is to the microsecond the timedelta of
    ``expovariate``'s seconds at the rate the mean's own seconds give, draw after draw of one random source (so a seed
    replays as it did). At means of a thousand years and more a float a step off shows, in one draw of twenty or so
    (``log1p(-r)`` for ``log(1 - r)``): forty draws each."""
    length = timedelta(microseconds=mean)
    mapping = LogMapping(fields={}, path="", service_default=(length, "exponential"))
    ours, expovariate = Random(seed), Random(seed)
    for _ in range(40):
        drawn = mapping.service_time("any", ours)  # compiled, a bound method has no name for an assertion's message
        assert drawn == timedelta(seconds=expovariate.expovariate(1 / max(length.total_seconds(), 1)))


def test_dropping_spent_timers_unfired_changes_nothing_a_replay_shows(monkeypatch):
    """Every figure and every ticket's flight, in both modes, are those of a store that fires every timer (the durable
    stores do): a spent timer would have decided nothing and changed nothing."""
    org = cxrules.load_org(AUTOMOTIVE)
    records = _month_of_tickets(org, 600, seed=7)
    mapping = LogMapping(fields={}, path="", service_default=(timedelta(minutes=20), "fixed"))
    for mode in MODES:
        dropping = simulate(org, records, mapping, mode=mode, keep_flights=True, seed=1)
        with monkeypatch.context() as patched:
            patched.setattr(MemoryStore, "drop_spent", Store.drop_spent)
            firing = simulate(org, records, mapping, mode=mode, keep_flights=True, seed=1)
        assert dropping.to_dict() == firing.to_dict() and _flown(dropping) == _flown(firing), mode
        assert counts_out_of_step(dropping.flights.values()) == [], mode  # the figures' counts, through reopenings too
        assert dropping.escalations and dropping.followups["due"], "the replay should exercise escalations and follow-ups"


def test_timers_a_ticket_has_left_behind_cost_no_unit_of_work():
    """Answered, resolved and called back within minutes: its SLA warnings and breaches and the follow-up's deadline all
    fall due later, and none of them begins a unit of the store (where each would copy the ticket to undo nothing)."""
    org = cxrules.load_org(AUTOMOTIVE)
    start = datetime(2025, 3, 4, 10, tzinfo=SHANGHAI)
    engine = Engine(org, VirtualClock(start))
    units: list[tuple] = []
    begin = engine.store.begin
    engine.store.begin = lambda entry: units.append(entry) or begin(entry)
    try:
        policy = next(policy for policy in org.followups if policy.id == "repair_quality_call")  # every warranty case is called back
        engine.submit(TicketCreated("T1", category="warranty", channel="phone", segment="normal", priority="normal", at=start))
        engine.submit(FirstResponse("T1", at=start + timedelta(minutes=1)))
        decided = engine.submit(Resolved("T1", at=start + timedelta(minutes=2)))
        assert any(type(x).__name__ == "FollowUpScheduled" for x in decided)
        call = next(x.call_at for x in decided if type(x).__name__ == "FollowUpScheduled")
        engine.submit(FollowUpDone("T1", policy.id, satisfied=True, at=call))
        units.clear()
        assert engine.store.next_due() is not None, "timers of the ticket are still scheduled"
        assert engine.advance_to_decision(start + timedelta(days=60)) == []
        assert units == [] and engine.store.next_due() is None
    finally:
        engine.close()


def _tiny_ticket(engine: Engine, at: datetime, category: str = "question", **fields) -> None:
    engine.submit(TicketCreated("t1", category=category, channel="phone", segment="normal", priority="normal", at=at, **fields))


def _sla_timers(engine: Engine, ticket_id: str) -> dict[str, Timer]:
    """The ticket's SLA timers in the schedule by target and phase (`first_response:warn`, ...)."""
    return {f"{timer.data[0]}:{timer.data[1]}": timer for timer in map(entry_timer, engine.store.timers)
            if timer.ticket_id == ticket_id and timer.kind == "sla"}


def _warning_edited(engine: Engine, edit: Callable[..., tuple]) -> Timer:
    """Ticket t1's first-response warning as it was, after giving it the payload ``edit(*payload)`` in the schedule, as a
    store edited by hand or written by an earlier version would hold it."""
    state = engine.store.state()
    timers = state["timers"]
    place = next(place for place, entry in enumerate(timers) if entry_timer(entry).key.endswith(":first_response:1:warn"))
    warning = entry_timer(timers[place])
    timers[place] = timer_entry(*warning._replace(data=edit(*warning.data)))
    engine.store.restore(state)
    return warning


def test_a_breach_is_scheduled_by_its_warning_in_the_place_numbered_beside_it(tmp_path):
    """Most targets are met before their warning: such a ticket leaves no breach timer behind. A warning that fires schedules
    the breach with the number taken next to its own, so the breach keeps its place among timers due at its moment."""
    start = local(2025, 3, 3, 10)
    engine = Engine(make_org(tmp_path), VirtualClock(start))
    try:
        _tiny_ticket(engine, start)
        engine.submit(TicketCreated("t2", category="question", channel="phone", segment="normal", priority="normal", at=start))
        engine.submit(FirstResponse("t1", at=start + timedelta(minutes=1)))
        assert sorted(_sla_timers(engine, "t2")) == ["first_response:warn", "resolution:warn"]
        warning = _sla_timers(engine, "t2")["first_response:warn"]
        assert [type(x).__name__ for x in engine.advance(start + timedelta(minutes=24))] == ["SlaWarning"]
        breach = _sla_timers(engine, "t2")["first_response:breach"]
        assert (breach.seq, breach.due, breach.data) == (warning.seq + 1, engine.ticket("t2").first_response_due,
                                                         ("first_response", "breach", warning.data[-1]))
        assert [(type(x).__name__, x.ticket_id) for x in engine.advance(start + timedelta(minutes=30))
                if isinstance(x, (SlaWarning, SlaBreached))] == [("SlaBreached", "t2")]
        assert "first_response:breach" not in _sla_timers(engine, "t1")
    finally:
        engine.close()


def test_a_warning_stored_beside_its_breach_by_an_earlier_version_fires_once_and_the_breach_once(tmp_path):
    """Before the breach waited for its warning, both were stored together, and the warning carried no breach number: such
    a warning schedules no second breach."""
    start = local(2025, 3, 3, 10)
    engine = Engine(make_org(tmp_path), VirtualClock(start))
    try:
        _tiny_ticket(engine, start)
        warning = _warning_edited(engine, lambda target, phase, breach_seq, generation: (target, phase, generation))
        target, _, breach_seq, generation = warning.data
        engine.store.schedule(engine.ticket("t1").first_response_due, "sla", "t1", warning.key.replace(":warn", ":breach"),
                              (target, "breach", generation), breach_seq)
        assert [type(x).__name__ for x in engine.advance(start + timedelta(minutes=24))] == ["SlaWarning"]
        assert sorted(timer.key for timer in map(entry_timer, engine.store.timers) if timer.kind == "sla") == [
            "t1:sla:first_response:1:breach", "t1:sla:resolution:1:warn"]
        assert [type(x).__name__ for x in engine.advance(start + timedelta(minutes=30)) if isinstance(x, (SlaWarning, SlaBreached))] == [
            "SlaBreached"]
    finally:
        engine.close()


@pytest.mark.parametrize("number", ["7", 10**9, -1, True])
def test_a_breach_number_no_reservation_gave_is_not_trusted_with_a_place_in_the_schedule(tmp_path, number):
    """A warning read back from a store edited by hand may carry anything as its breach's number: the breach then takes the
    next number (a text or a number taken by no one would break the schedule's order for every ticket), and still fires."""
    start = local(2025, 3, 3, 10)
    engine = Engine(make_org(tmp_path), VirtualClock(start))
    try:
        _tiny_ticket(engine, start)
        _warning_edited(engine, lambda target, phase, breach_seq, generation: (target, phase, number, generation))
        taken = engine.store.next_seq
        assert [type(x).__name__ for x in engine.advance(start + timedelta(minutes=24))] == ["SlaWarning"]
        assert _sla_timers(engine, "t1")["first_response:breach"].seq == taken
        assert [type(x).__name__ for x in engine.advance(start + timedelta(minutes=30)) if isinstance(x, (SlaWarning, SlaBreached))] == [
            "SlaBreached"]
    finally:
        engine.close()


def test_a_breach_still_falls_due_when_a_reload_took_its_sla_away_over_the_warning_and_brought_it_back(tmp_path):
    """Without its SLA at the warning's moment nothing is warned of, but the warning's timer still schedules the breach, which
    fires as it did when both were scheduled together: the SLA is back by then."""
    start = local(2025, 3, 3, 10)
    engine = Engine(make_org(tmp_path), VirtualClock(start))
    try:
        _tiny_ticket(engine, start)
        engine.reload(make_org(tmp_path, lambda data: data.update(slas=[]), name="without_slas.yaml"))
        assert engine.advance(start + timedelta(minutes=25)) == []
        engine.reload(make_org(tmp_path))
        assert [type(x).__name__ for x in engine.advance(start + timedelta(minutes=30)) if isinstance(x, (SlaWarning, SlaBreached))] == [
            "SlaBreached"]
    finally:
        engine.close()


def test_a_spent_timer_dropped_unfired_is_marked_fired_so_a_trigger_delivered_twice_does_not_arm_it_again(tmp_path):
    """An automation's timer is keyed by its trigger's moment: the same event delivered again (a broker that delivers at
    least once) schedules the same key, which a fired key refuses, as it did when every timer fired. On a Sunday evening no
    SLA clock runs, so the automation's timer is the only one due."""
    chase = {"id": "chase", "when": {"after": "1h", "since": "customer_reply", "clock": "calendar"}, "if": {"responded": True},
             "then": {"notify": ["manager"]}}
    start = local(2025, 3, 2, 20)
    engine = Engine(make_org(tmp_path, lambda data: data.update(automations=[chase])), StoppedClock(start + timedelta(days=1)))
    try:
        _tiny_ticket(engine, start)
        reply = CustomerReply("t1", at=start + timedelta(minutes=10))
        engine.submit(reply)
        assert not [x for x in engine.advance(start + timedelta(minutes=80)) if isinstance(x, AutomationFired)]  # not answered: spent
        engine.submit(AgentReplied("t1", at=start + timedelta(minutes=90)))
        engine.submit(reply)
        assert not [x for x in engine.advance(start + timedelta(minutes=100)) if isinstance(x, AutomationFired)]
    finally:
        engine.close()


def test_advancing_over_spent_timers_still_visits_their_moments_for_the_handlers_retries(tmp_path):
    """A handler's retry falls due at 10:05; the first-response warning (10:24) is spent, and so its breach (10:30) was never
    scheduled: advancing to 10:35 retries the handler at 10:24, as firing the warning did, and leaves the clock there."""
    start = local(2025, 3, 3, 10)
    engine = Engine(make_org(tmp_path), VirtualClock(start), delivery=DeliveryPolicy(first_delay=timedelta(minutes=5)))
    calls = []

    def flaky(decision) -> None:
        calls.append(engine.clock.now())
        if len(calls) == 1:
            raise ConnectionError("broker down")

    engine.on(Assigned, flaky)
    try:
        _tiny_ticket(engine, start)
        engine.submit(FirstResponse("t1", at=start + timedelta(minutes=1)))
        assert engine.advance_to_decision(start + timedelta(minutes=35)) == []
        assert calls == [start, local(2025, 3, 3, 10, 24)] and engine.undelivered == []
        assert engine.clock.now() == local(2025, 3, 3, 10, 24)
    finally:
        engine.close()


def test_a_spent_check_that_fails_leaves_the_timer_to_be_fired_where_the_fault_is_noted(tmp_path, monkeypatch):
    """The check runs outside any unit of work: a bug in it must not escape `advance`, which notes a failing timer and
    undoes what it began."""
    def broken(self, ticket, timer):
        raise KeyError("a bug in the check")

    monkeypatch.setattr(Slas, "_target_settled", broken)
    start = local(2025, 3, 3, 10)
    engine = Engine(make_org(tmp_path), VirtualClock(start))
    try:
        _tiny_ticket(engine, start)
        assert engine.advance(start + timedelta(hours=1)) == []
        assert "KeyError: 'a bug in the check' (rolled back)" in engine.faults[-1]
    finally:
        engine.close()


def test_the_deadline_of_a_follow_up_whose_policy_a_reload_removed_still_says_the_promise_is_dropped(tmp_path):
    """Even when the call was made: the deadline is not spent, its firing notes the dropped policy, as before."""
    start = local(2025, 3, 3, 10)
    engine = Engine(make_org(tmp_path), VirtualClock(start))
    try:
        _tiny_ticket(engine, start, category="complaint", member=True)
        engine.submit(FirstResponse("t1", at=start + timedelta(minutes=1)))
        scheduled = next(x for x in engine.submit(Resolved("t1", at=start + timedelta(minutes=2))) if isinstance(x, FollowUpScheduled))
        engine.submit(FollowUpDone("t1", "revisit", satisfied=True, at=scheduled.call_at))
        engine.reload(make_org(tmp_path, lambda data: data.update(followups=[]), name="without_followups.yaml"))
        engine.advance(scheduled.due + timedelta(hours=1))
        assert [fault for fault in engine.faults if "follow-up" in fault] == [
            "follow-up `revisit` of ticket `t1` dropped: the policy no longer exists"]
    finally:
        engine.close()


def test_a_store_without_an_undo_log_copies_no_ticket_and_refuses_to_go_on_after_a_failed_unit():
    """The replay's store: each unit changes tickets in place with nothing saved to undo them; a unit that fails cannot be
    undone, so that unit and every later one are refused (StoreError) instead of running on half of it."""
    org = cxrules.load_org(AUTOMOTIVE)
    start = datetime(2025, 3, 4, 10, tzinfo=SHANGHAI)

    class CountingCopies(MemoryStore):
        """Counts the copies of tickets its units keep to undo them (a compiled store calls its copy directly)."""

        copies = 0

        def _save_ticket(self, ticket_id, ticket):
            known = ticket_id in self._old_tickets
            super()._save_ticket(ticket_id, ticket)
            self.copies += not known and self._old_tickets.get(ticket_id) is not None

    for undo in (True, False):
        store = CountingCopies(undo=undo)
        engine = Engine(org, VirtualClock(start), store)
        try:
            engine.submit(TicketCreated("T1", category="warranty", channel="phone", segment="normal", priority="normal", at=start))
            engine.submit(FirstResponse("T1", at=start + timedelta(minutes=1)))
            engine.submit(Resolved("T1", at=start + timedelta(minutes=2)))
            assert (store.copies > 0) == undo and engine.ticket("T1").status == "resolved"
        finally:
            engine.close()
    store = MemoryStore(undo=False)
    store.begin(None)
    with pytest.raises(StoreError, match="without an undo log"):
        store.rollback(0)
    with pytest.raises(StoreError, match="may hold part of that unit"):
        store.begin(None)


@pytest.mark.parametrize("fresh", [False, True])
def test_the_bench_s_told_floor_hands_its_handlers_what_the_engine_decided(fresh):
    """`bench/run.py engine` sets the engine against an engine told every answer beforehand (the interface's work), which
    builds each decision as the engine's handlers got it. Fails if the floor cannot build a decision (as when it wrote a
    compiled decision's `__dict__`, which it has not) or hands over other decisions than the engine's."""
    org = cxrules.load_org(ORGS / "automotive.yaml")
    classes, recorded = every_class(org), whole_lives(org, 300)
    real = Realistic(org, classes, recorded)
    decided = real.run()
    real.engine.close()
    answers, dues = answers_of(org, classes, recorded)
    told = Realistic(org, classes, recorded, told=answers, fresh=fresh, dues=dues)
    kept: list = []
    told.engine.on(None, kept.append)
    assert told.run() == decided and sum(decided.values()) > 300
    assert [(type(decision), decision.field_values()) for decision in kept] == [entry for answer in answers for entry in answer]
