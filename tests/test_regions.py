"""The region algebra against brute force: `uncovered` and `coalesce` never change which cells are covered."""

from __future__ import annotations

import itertools

from hypothesis import given, settings, strategies as st

from cxrules.calendars import WEEK, WeekSet
from cxrules.regions import Box, coalesce, is_covered, uncovered

VALUES = (frozenset("abcd"), frozenset("xy"), frozenset("uv"), frozenset("pq"), frozenset({True, False}))
HOURS = [0, 600, 1440, 3000, WEEK]  # week cut into 4 pieces by these points


def subsets(universe):
    return st.sets(st.sampled_from(sorted(universe, key=str)), min_size=1).map(frozenset)


hours_sets = st.sets(st.integers(0, len(HOURS) - 2), min_size=1).map(
    lambda pieces: WeekSet.of((HOURS[i], HOURS[i + 1]) for i in pieces))
boxes = st.builds(lambda *sets: Box(tuple(sets[:5]), sets[5]), *(subsets(v) for v in VALUES), hours_sets)
SPACE = Box(VALUES, WeekSet.full())


def cells(box: Box) -> set:
    pieces = [i for i in range(len(HOURS) - 1) if box.hours & WeekSet(((HOURS[i], HOURS[i + 1]),))]
    return set(itertools.product(*box.sets, pieces))


@settings(max_examples=300, deadline=None)
@given(st.lists(boxes, max_size=6))
def test_uncovered_is_exactly_the_cells_no_box_covers(rules):
    expected = cells(SPACE) - set().union(*(cells(box) for box in rules))
    found = uncovered(SPACE, rules)
    covered = [cells(box) for box in found]
    assert set().union(*covered) == expected
    assert sum(len(c) for c in covered) == len(expected), "regions must not overlap"
    assert is_covered(SPACE, rules) == (not expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(boxes, max_size=8))
def test_coalesce_keeps_the_same_cells_in_no_more_regions(regions):
    merged = coalesce(regions)
    assert set().union(*(cells(b) for b in merged)) == set().union(*(cells(b) for b in regions))
    assert len(merged) <= len(set(regions))


def test_gap_left_by_two_rules_is_one_region():
    vip_weekdays = Box(VALUES, WeekSet.of([(0, 5 * 1440)]))
    found = coalesce(uncovered(SPACE, [vip_weekdays]))
    assert len(found) == 1 and found[0].hours.describe() == "Sat–Sun"


def test_weekset_describe_groups_days():
    office = WeekSet.of([(d * 1440 + 540, d * 1440 + 1080) for d in range(5)] + [(5 * 1440 + 540, 5 * 1440 + 720)])
    assert office.describe() == "Mon–Fri 09:00–18:00; Sat 09:00–12:00"
    assert WeekSet.full().describe() == "at all hours"
    assert (WeekSet.full() - office).minutes == WEEK - office.minutes
