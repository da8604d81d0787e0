"""Routing semantics, and the differential test: `check` finds a gap exactly where the router falls back."""

from __future__ import annotations

import itertools
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings, strategies as st

import cxrules
from cxrules.calendars import WeekSet
from cxrules.checks import CheckContext
from cxrules.loading import load_file
from cxrules.regions import uncovered
from cxrules.routing import Router, TicketClass

from conftest import ROOT, SEED_ORGS
from engine_helpers import rules_taking

sys.path.insert(0, str(ROOT / "bench"))
from generate import generate_org  # noqa: E402

MONDAY = datetime(2025, 3, 3)  # a week with no public holiday in China


def _org_from(tmp_path: Path, data: dict) -> cxrules.Org:
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return cxrules.load_org(path)


def _tiny(tmp_path: Path, routing: list[dict], more_channels: tuple[str, ...] = ()) -> cxrules.Org:
    data = load_file(ROOT / "tests/fixtures/tiny.yaml")[0].data  # keeps `on:` a key, unlike yaml.safe_load
    data["routing"] = routing
    data["channels"] += [{"id": channel, "name": channel.title()} for channel in more_channels]
    return _org_from(tmp_path, data)


def test_higher_precedence_wins_and_ties_go_to_the_earlier_rule(tmp_path):
    org = _tiny(tmp_path, [
        {"id": "low", "to": "desk", "precedence": 1},
        {"id": "first_tie", "match": {"category": ["complaint"]}, "to": "manager", "precedence": 5},
        {"id": "second_tie", "match": {"segment": ["vip"]}, "to": "desk", "precedence": 5},
    ])
    router = Router(org)
    route = router.route(TicketClass("repair_quality", "phone", "vip", "high"), explain=True)
    assert route.rule.id == "first_tie" and route.role == "manager"
    reasons = dict((rule.id, why) for rule, why in route.considered)
    assert "same precedence" in reasons["second_tie"] and "lower precedence" in reasons["low"]
    assert router.route(TicketClass("question", "phone", "normal", "low")).rule.id == "low"


def test_a_ticket_no_rule_matches_goes_to_the_fallback_queue(tmp_path):
    org = _tiny(tmp_path, [{"id": "complaints", "match": {"category": ["complaint"]}, "to": "manager", "precedence": 1}])
    route = Router(org).route(TicketClass("question", "phone", "normal", "low"))
    assert route.fallback and route.role == "desk"


def test_during_limits_a_rule_to_its_calendar_hours(tmp_path):
    org = _tiny(tmp_path, [
        {"id": "office_hours", "during": "office", "to": "desk", "precedence": 2},
        {"id": "after_hours", "to": "manager", "precedence": 1},
    ])
    router = Router(org)
    zone = ZoneInfo("Asia/Shanghai")
    ticket = TicketClass("question", "phone", "normal", "low")
    assert router.route(ticket, MONDAY.replace(hour=10, tzinfo=zone)).rule.id == "office_hours"
    assert router.route(ticket, MONDAY.replace(hour=20, tzinfo=zone)).rule.id == "after_hours"
    # Chinese New Year's Eve 2025 is a public holiday: the office calendar is closed all day
    assert router.route(ticket, datetime(2025, 1, 28, 10, tzinfo=zone)).rule.id == "after_hours"


def test_an_active_surge_sends_its_tickets_to_the_surge_team(tmp_path):
    org = _tiny(tmp_path, [{"id": "all", "to": "desk", "precedence": 1}])
    surge = cxrules.model.Surge("storm", cxrules.model.Match(categories=frozenset({"complaint"})), 3, timedelta(hours=1), 1, "manager",
                                org.routing[0].source)
    route = Router(org).route(TicketClass("complaint", "phone", "normal", "low"), active_surges=[surge])
    assert route.role == "manager" and route.surge is surge


def _assert_check_gaps_match_router(org: cxrules.Org) -> int:
    """Every cell of every channel's space at every piece of the week: gap ⇔ fallback."""
    context = CheckContext(org)
    router = context.router
    boxes = list(context.rule_boxes.values())
    compared = 0
    for channel, space in context.channel_spaces:
        gaps = uncovered(space, boxes)
        points = sorted({p for b in [space, *boxes] for span in b.hours.intervals for p in span})
        for start, end in zip(points, points[1:]):
            piece = WeekSet(((start, end),))
            if not (piece & space.hours):
                continue
            moment = (MONDAY + timedelta(minutes=start)).replace(tzinfo=ZoneInfo(org.info.timezone))
            for category, segment, priority, member in itertools.product(*space.sets[:1], *space.sets[2:]):
                ticket = TicketClass(category, channel.id, segment, priority, member)
                in_gap = any(category in g.sets[0] and segment in g.sets[2] and priority in g.sets[3]
                             and member in g.sets[4] and g.hours & piece for g in gaps)
                assert in_gap == router.route(ticket, moment).fallback, (ticket, start)
                compared += 1
    return compared


@pytest.mark.parametrize("path", SEED_ORGS, ids=lambda p: p.stem)
def test_seed_orgs_have_no_gap_and_the_router_agrees(path):
    org = cxrules.load_org(path)
    assert _assert_check_gaps_match_router(org) > 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), timed=st.sampled_from([0.0, 0.5]), rules=st.integers(1, 25))
def test_generated_orgs_gaps_match_router(tmp_path_factory, seed, timed, rules):
    data = generate_org(roles=6, categories=10, channels=2, segments=2, rules=rules, units=2, seed=seed,
                        catch_all=False, timed=timed)
    org = _org_from(tmp_path_factory.mktemp("org"), data)
    _assert_check_gaps_match_router(org)


def _assert_durable_agrees(org: cxrules.Org, moments) -> int:
    from cxrules.engine.durable import DurableRouter

    durable, reference = DurableRouter(org), Router(org)
    context = CheckContext(org)
    compared = 0
    try:
        for category, channel, segment, priority, member in itertools.product(*context.values):
            ticket = TicketClass(category, channel, segment, priority, member)
            for moment in moments:
                expected, found = reference.route(ticket, moment), durable.route(ticket, moment)
                assert (found.role, found.rule) == (expected.role, expected.rule), (ticket, moment)
                compared += 1
    finally:
        durable.close()
    return compared


WEEK_MOMENTS = [(MONDAY + timedelta(hours=h)).replace(tzinfo=ZoneInfo("Asia/Shanghai")) for h in range(0, 7 * 24, 5)]


@pytest.mark.parametrize("path", SEED_ORGS, ids=lambda p: p.stem)
def test_durable_rules_decide_exactly_as_the_reference_on_seed_orgs(path):
    assert _assert_durable_agrees(cxrules.load_org(path), [None, *WEEK_MOMENTS[::3]]) > 1000


@pytest.mark.parametrize("member", [1, 0, None], ids=["one", "zero", "not known"])
def test_the_durable_router_takes_a_member_flag_that_is_not_a_bool_as_the_reference_does(member):
    """A service may hand the routers 1, or None for not known: the reference router takes it, and the durable one answers
    the same (its cache is compiled, where a tuple typed element by element would refuse it), by class and by fields."""
    from cxrules.engine.durable import DurableRouter

    org = cxrules.load_org(ROOT / "orgs" / "automotive.yaml")
    durable, reference = DurableRouter(org), Router(org)
    try:
        for category in ("repair_quality", "complaint", "vehicle_fault", "appointment"):
            ticket = TicketClass(category, "phone", "vip", "high", member)  # type: ignore[arg-type]
            expected = reference.route(ticket, WEEK_MOMENTS[2])
            for found in (durable.route(ticket, WEEK_MOMENTS[2]), durable.route_fields(ticket.class_fields(), WEEK_MOMENTS[2])):
                assert (found.role, found.rule) == (expected.role, expected.rule)
            assert durable.winner(ticket, WEEK_MOMENTS[2]) == (expected.rule.id if expected.rule else None)
    finally:
        durable.close()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), overlaps=st.booleans(), timed=st.sampled_from([0.0, 0.5]))
def test_durable_rules_decide_exactly_as_the_reference_on_generated_orgs(tmp_path_factory, seed, overlaps, timed):
    data = generate_org(roles=8, categories=10, channels=3, segments=2, rules=30, units=2, seed=seed,
                        overlaps=overlaps, catch_all=seed % 2 == 0, timed=timed)
    org = _org_from(tmp_path_factory.mktemp("org"), data)
    _assert_durable_agrees(org, [None, *WEEK_MOMENTS[::7]])


_TINY_VALUES = {"category": ["complaint", "repair_quality", "question"], "channel": ["phone", "email"],
                "segment": ["vip", "normal"], "priority": ["low", "normal", "high", "urgent"]}
"""The tiny org's values, with an `email` channel the property test adds (:func:`_tiny`'s ``more_channels``)."""


@st.composite
def _tiny_rules(draw) -> list[dict]:
    """Rules over the tiny org's values: any subset of each dimension or none, members or not, a `during` calendar or not."""
    rules = []
    for number in range(draw(st.integers(1, 6))):
        match = {name: draw(st.lists(st.sampled_from(values), min_size=1, unique=True))
                 for name, values in _TINY_VALUES.items() if draw(st.booleans())}
        if (member := draw(st.sampled_from([None, True, False]))) is not None:
            match["member"] = member
        rule = {"id": f"r{number}", "match": match, "to": draw(st.sampled_from(["desk", "manager"])), "precedence": draw(st.integers(0, 3))}
        if (during := draw(st.sampled_from([None, "office", "rest"]))) is not None:
            rule["during"] = during
        rules.append(rule)
    return rules


@settings(max_examples=40, deadline=None)
@given(routing=_tiny_rules())
def test_durable_rules_are_asked_once_per_set_of_rules_taking_a_class(tmp_path_factory, routing):
    """Classes that the same rules' matches take (members or not, a category by its parent) share one post to durable-rules,
    however their values differ; every class still gets the reference router's owner, at any moment."""
    from cxrules.engine.durable import DurableRouter

    org = _tiny(tmp_path_factory.mktemp("org"), routing, more_channels=("email",))
    classes = [TicketClass(*values, member) for values in itertools.product(*_TINY_VALUES.values()) for member in (False, True)]
    durable, reference, posted = DurableRouter(org), Router(org), []
    post = durable._post
    durable._post = lambda ticket, open_calendars: posted.append(ticket) or post(ticket, open_calendars)  # type: ignore[method-assign]
    try:
        for ticket in classes:
            expected, found = reference.route(ticket), durable.route(ticket)
            assert (found.role, found.rule) == (expected.role, expected.rule), ticket
        assert len(posted) == len({rules_taking(org, ticket) for ticket in classes})
        for ticket in classes:
            for moment in WEEK_MOMENTS[::4]:
                expected, found = reference.route(ticket, moment), durable.route(ticket, moment)
                assert (found.role, found.rule) == (expected.role, expected.rule), (ticket, moment)
    finally:
        durable.close()
