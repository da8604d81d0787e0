"""The rule index against brute force: the routing and staffing analyses that find rules through it say exactly what
trying every rule said, in the same order.

`check` compares a rule only with the rules that can meet it, found through :class:`cxrules.regions.BoxIndex`. The
oracle here is the analysis as it was before the index (every earlier rule tried, pairs from every combination or from
the category index, CX403, the roles serving a channel and CX715's owners off shift as written then), kept only in this
file: on generated orgs, every check's findings (before sorting, so order counts too), the gap, overlap and ownership
regions, the serving roles and the owners off shift must be equal.
"""

from __future__ import annotations

import itertools
import random
import sys
from datetime import date
from functools import cached_property
from typing import Iterator

import yaml
from hypothesis import given, settings, strategies as st

import cxrules
from cxrules.calendars import WEEK, WeekSet
from cxrules.checks import CHECKS, CheckContext, DatedContext, Finding
from cxrules.checks.routing import dead_rule, unreachable_rule
from cxrules.checks.staffing import owners_off_shift, serving_roles
from cxrules.model import RoutingRule
from cxrules.regions import Box, BoxIndex, coalesce, is_covered, uncovered

from conftest import ROOT, examples

sys.path.insert(0, str(ROOT / "bench"))
from generate import generate_org  # noqa: E402

VALUES = (frozenset("abcd"), frozenset("xy"), frozenset("uv"), frozenset("pq"), frozenset({True, False}))
HOURS = [0, 600, 1440, 3000, WEEK]


def subsets(universe):
    return st.sets(st.sampled_from(sorted(universe, key=str)), min_size=1).map(frozenset)


def wide_or_narrow(universe):
    return st.one_of(st.just(universe), subsets(universe))  # as rules are: a dimension left open, or some values


hours_sets = st.sets(st.integers(0, len(HOURS) - 2), min_size=1).map(lambda pieces: WeekSet.of((HOURS[i], HOURS[i + 1]) for i in pieces))
boxes = st.builds(lambda *sets: Box(tuple(sets[:5]), sets[5]), *(wide_or_narrow(v) for v in VALUES), hours_sets)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(boxes, max_size=30), boxes, st.integers(0, 32), st.integers(0, 32), st.sampled_from([1, 2, 4, 64]),
       st.booleans())
def test_the_index_finds_exactly_the_boxes_that_meet_a_region(found, region, start, stop, fan_out, given_universe):
    index = BoxIndex(found, VALUES if given_universe else None, fan_out=fan_out)
    expected = [i for i, box in enumerate(found) if start <= i < stop and box.intersect(region) is not None]
    assert index.meeting(region, start, stop) == expected
    assert index.meeting(region) == [i for i, box in enumerate(found) if box.intersect(region) is not None]


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(boxes, hours_sets), max_size=30), boxes, st.sampled_from([1, 2, 64]))
def test_an_index_at_other_hours_finds_what_an_index_of_those_boxes_finds(found, region, fan_out):
    """The rules on another kind of day: the same values, other hours, filed as the typical week's index files them."""
    typical = [box for box, _ in found]
    dated = [box.replace(len(box.sets), hours) for box, hours in found]
    index = BoxIndex(typical, VALUES, fan_out=fan_out).at_hours(dated)
    assert index.boxes == dated
    assert index.meeting(region) == BoxIndex(dated, VALUES, fan_out=fan_out).meeting(region)


def test_the_index_answers_a_region_with_values_no_box_holds():
    index = BoxIndex([Box(VALUES, WeekSet.full()), Box((frozenset("a"),) + VALUES[1:], WeekSet.full())])
    elsewhere = Box((frozenset("z"),) + VALUES[1:], WeekSet.full())
    assert index.meeting(elsewhere) == []
    assert index.meeting(Box((frozenset("az"),) + VALUES[1:], WeekSet.of([(0, 60)]))) == [0, 1]


def test_covered_is_the_same_question_with_or_without_a_box_that_covers_alone():
    space = Box(VALUES, WeekSet.of([(0, 1440)]))
    assert is_covered(space, [Box(VALUES, WeekSet.full())])
    assert not is_covered(space, [Box(VALUES, WeekSet.of([(0, 600)]))])
    assert is_covered(space, [Box(VALUES, WeekSet.of([(0, 600)])), Box(VALUES, WeekSet.of([(600, 1440)]))])


# --- the oracle: the analyses as they were before the index, trying every earlier rule ------------------------------

class Naive:
    """A context that finds earlier rules, meeting pairs, gaps and owners by trying every rule (the code before the
    index, verbatim where it was not already a full scan); on a kind of day, with every rule's region and their index
    computed afresh instead of taken from the typical week."""

    rule_boxes, rule_index, indexed_rules, _indexed_positions, rule_position = (
        CheckContext.rule_boxes, CheckContext.rule_index, CheckContext.indexed_rules, CheckContext._indexed_positions,
        CheckContext.rule_position)

    @cached_property
    def day_kinds(self):
        return [(NaiveDated(self, dated._weeks), days) for dated, days in CheckContext.day_kinds.func(self)]  # type: ignore[attr-defined]

    def places_meeting(self, region: Box) -> list[int]:
        return [place for place, box in enumerate(self.rule_index.boxes) if box.intersect(region) is not None]

    def earlier_places(self, rule: RoutingRule, region: Box) -> list[int]:
        position = self.rule_position[rule.id]
        return [place for place, (other, box) in enumerate(zip(self.indexed_rules, self.rule_index.boxes))
                if self.rule_position[other.id] < position and box.intersect(region) is not None]

    @cached_property
    def gap_regions(self):
        boxes = list(self.rule_boxes.values())
        return [(channel, coalesce(uncovered(space, boxes))) for channel, space in self.channel_spaces]

    @cached_property
    def overlap_regions(self):
        groups: dict[int, list[RoutingRule]] = {}
        for rule in self.router.rules:
            if rule.id in self.rule_boxes:
                groups.setdefault(rule.precedence, []).append(rule)
        found = []
        for rules in groups.values():
            if len({rule.to for rule in rules}) < 2:
                continue
            for first, second in itertools.combinations(rules, 2):
                if first.to != second.to and (regions := self.claimed_by_both(first, second)):
                    found.append((first, second, regions))
        return found

    def ownership(self, spaces=None):
        spaces = self.receivable if spaces is None else spaces
        owned = []
        tried: list[Box] = []
        for rule in self.router.rules:
            box = self.rule_boxes.get(rule.id)
            if box is None:
                continue
            for space in spaces:
                part = box.intersect(space)
                if part is not None:
                    earlier = [other for other in tried if other.intersect(part) is not None]
                    owned.extend((rule.to, rule.id, region) for region in uncovered(part, earlier))
            tried.append(box)
        fallback = self.org.info.fallback_queue
        for space in spaces:
            owned.extend((fallback, None, region) for region in uncovered(space, tried))
        return owned


class NaiveContext(Naive, CheckContext):
    pass


class NaiveDated(Naive, DatedContext):
    pass


def old_shadowed_rule(context: CheckContext) -> Iterator[Finding]:
    """CX403 as it was: for every rule, every earlier rule is tried."""
    for rule in context.router.rules:
        box = context.rule_boxes.get(rule.id)
        reachable = [part for space in context.receivable if box is not None
                     for part in [box.intersect(space)] if part is not None]
        fires_on_dates = any(_old_fires(dated, rule) for dated, _ in context.day_kinds)
        if not reachable and not fires_on_dates:
            yield unreachable_rule(rule)
            continue
        earlier = _all_earlier(context, rule)
        if reachable and _old_shadowed(context, rule) and not fires_on_dates:
            yield dead_rule(rule, [context.org.routing[context.rule_order[other]] for other in earlier
                                   if any(context.rule_boxes[other].intersect(part) for part in reachable)])


def _all_earlier(context: CheckContext, rule: RoutingRule) -> list[str]:
    position = context.rule_position
    return [other.id for other in context.router.rules if other.id in context.rule_boxes and position[other.id] < position[rule.id]]


def _old_shadowed(context: CheckContext, rule: RoutingRule) -> bool:
    box = context.rule_boxes.get(rule.id)
    if box is None:
        return True
    earlier_boxes = [context.rule_boxes[other] for other in _all_earlier(context, rule)]
    return all(is_covered(part, earlier_boxes) for space in context.receivable if (part := box.intersect(space)) is not None)


def _old_fires(dated: CheckContext, rule: RoutingRule) -> bool:
    box = dated.rule_boxes.get(rule.id)
    return box is not None and any(box.intersect(space) is not None for space in dated.receivable) and not _old_shadowed(dated, rule)


def old_serving_roles(context: CheckContext, channel) -> list[tuple[str, WeekSet]]:
    """The roles that serve a channel as they were found: every rule of the file tried."""
    space = dict((c.id, box) for c, box in context.channel_spaces).get(channel.id)
    serving = []
    for rule in context.org.routing:
        box = context.rule_boxes.get(rule.id)
        part = box.intersect(space) if box is not None and space is not None else None
        if part is not None:
            serving.append((rule.to, part.hours))
    return serving


def old_owners_off_shift(context: CheckContext) -> dict[tuple[str, str, str], WeekSet]:
    """CX715's analysis as it was: every rule tried against every channel."""
    found: dict[tuple[str, str, str], WeekSet] = {}
    for channel, space in context.channel_spaces:
        staffed = WeekSet()
        for role, hours in old_serving_roles(context, channel):
            staffed = staffed | (context.role_hours(role) & hours)
        open_hours = space.hours - (context.hours(channel.hours) - staffed)
        off_shift: dict[str, WeekSet] = {}
        for rule in context.router.rules:
            if rule.to not in off_shift:
                off_shift[rule.to] = open_hours - context.role_hours(rule.to)
            box = context.rule_boxes.get(rule.id)
            part = box.intersect(space) if box is not None and off_shift[rule.to] else None
            part = part.intersect(space.replace(len(space.sets), off_shift[rule.to])) if part is not None else None
            if part is None:
                continue
            owned = uncovered(part, [other for other in context.earlier_boxes(rule, part) if other.intersect(part) is not None])
            gap = WeekSet()
            for region in owned:
                gap = gap | region.hours
            if gap:
                key = (rule.id, rule.to, channel.id)
                found[key] = found.get(key, WeekSet()) | gap
    return found


def assert_same_staffing(fast: CheckContext, naive: CheckContext) -> None:
    """The staffing analyses of one kind of day: the rules that serve each channel, and the owners off shift."""
    for channel in fast.org.channels:
        assert serving_roles(fast, channel) == old_serving_roles(naive, channel), channel.id
    assert owners_off_shift(fast) == old_owners_off_shift(naive)


def varied_org(seed: int, rules: int, big_groups: bool = False) -> dict:
    """A small generated org with what the index must get right: rules of several categories, rules open on a
    dimension, members only, priorities, hours (`during`), public holidays, ties in precedence, no catch-all, roles on
    shifts that leave some of their channels' hours uncovered."""
    rng = random.Random(seed)
    data = generate_org(roles=8, categories=rng.choice([6, 12, 20]), channels=rng.randint(1, 3), segments=rng.randint(0, 3),
                        rules=rules, units=2, seed=seed, overlaps=rng.random() < 0.6, catch_all=rng.random() < 0.5,
                        timed=rng.choice([0.0, 0.3, 0.7]))
    if rng.random() < 0.6:
        data["calendars"][0]["holidays"] = {"country": "CN"}
    categories = [c["id"] for parent in data["categories"] for c in [parent, *parent.get("children", [])]]
    for rule in data["routing"]:
        if "match" not in rule:
            continue
        pick = rng.random()
        if pick < 0.15:
            rule["match"]["category"] = rng.sample(categories, min(3, len(categories)))
        elif pick < 0.22:
            rule["match"].pop("category")
        elif pick < 0.3:
            rule["match"]["member"] = rng.random() < 0.5
        elif pick < 0.38:
            rule["match"].pop("channel")
        if big_groups:
            rule["precedence"] = rng.randint(1, 2)
    data["calendars"].append({"id": "late", "hours": {"mon-sat": ["14:00-23:00"]}})
    for role in data["roles"]:
        shifts = rng.sample(["office", "late"], rng.randint(1, 2)) + (["always"] if rng.random() < 0.1 else [])
        role["staff"] = [{"shift": shift, "agents": rng.randint(1, 2)} for shift in shifts]
    data["org"]["capacity_floor"] = rng.choice([1, 4])
    return data


def assert_same_analysis(tmp_path_factory, data: dict) -> CheckContext:
    """The fast analyses of ``data`` equal the old ones; the fast context, for more questions."""
    path = tmp_path_factory.mktemp("org") / "org.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    org = cxrules.load_org(path)
    horizon = (date(2025, 1, 1), date(2025, 12, 31))
    fast, naive = CheckContext(org, horizon), NaiveContext(org, horizon)
    assert fast.gap_regions == naive.gap_regions
    assert fast.overlap_regions == naive.overlap_regions
    assert fast.ownership() == naive.ownership()
    assert_same_staffing(fast, naive)
    for (dated, days), (naive_dated, naive_days) in zip(fast.day_kinds, naive.day_kinds, strict=True):
        assert days == naive_days
        assert dated.gap_regions == naive_dated.gap_regions
        assert dated.overlap_regions == naive_dated.overlap_regions
        assert_same_staffing(dated, naive_dated)
    for code in sorted(CHECKS):
        expected = list(old_shadowed_rule(naive) if code == "CX403" else CHECKS[code].run(naive))
        assert list(CHECKS[code].run(fast)) == expected, code
    return fast


@settings(max_examples=examples(30), deadline=None)
@given(seed=st.integers(0, 100_000), rules=st.integers(1, 60))
def test_check_finds_through_the_index_what_trying_every_rule_finds(tmp_path_factory, seed, rules):
    assert_same_analysis(tmp_path_factory, varied_org(seed, rules))


def test_check_keeps_the_order_of_overlaps_in_a_large_group_of_equal_precedence(tmp_path_factory):
    """Over 64 rules of one precedence: the same pairs in the same order as every pair tried (each rule with the later
    ones in the order they are tried; the category index of old ordered them by the hash seed)."""
    data = varied_org(7, 220, big_groups=True)
    data["routing"] = [rule for rule in data["routing"] if "match" in rule]  # no catch-all: more overlaps survive
    assert_same_analysis(tmp_path_factory, data)


def test_a_rule_dead_in_the_typical_week_is_asked_on_the_dates_that_change_what_it_depends_on(tmp_path_factory):
    """CX403 asks a kind of day about a rule only when it changes a calendar the rule depends on: the rules tried before
    it that meet it (the holiday desk), the channels it receives from (the make-up day desk)."""
    data = generate_org(roles=3, categories=6, channels=2, segments=0, rules=0, units=2, catch_all=False)
    data["calendars"] += [{"id": "workdays", "hours": {"mon-fri": ["09:00-18:00"]}, "holidays": {"country": "CN"}},
                          {"id": "plain", "hours": {"mon-fri": ["09:00-18:00"]}},
                          {"id": "weekend", "hours": {"sat-sun": ["00:00-24:00"]}}]
    data["channels"][0]["hours"], data["channels"][1]["hours"] = "always", "workdays"
    data["routing"] = [
        {"id": "workday_desk", "match": {"channel": ["ch0"]}, "to": "r1", "during": "workdays", "precedence": 20},
        {"id": "holiday_desk", "match": {"channel": ["ch0"]}, "to": "r2", "during": "plain", "precedence": 10},
        {"id": "makeup_day_desk", "match": {"channel": ["ch1"]}, "to": "r2", "during": "weekend", "precedence": 10}]
    context = assert_same_analysis(tmp_path_factory, data)
    assert [finding.subject for finding in CHECKS["CX403"].run(context)] == []
