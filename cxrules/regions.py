"""Regions of the ticket space, and subtracting regions from regions without visiting cells.

A region (:class:`Box`) is a set of values on each routing dimension (category, channel,
segment, priority, member) times a set of hours of the week. Rules are boxes; the tickets
nobody owns are a universe minus the union of rule boxes. :func:`uncovered` computes that
difference by splitting one dimension at a time into the classes of values the remaining
rules cannot tell apart, and merging classes whose remainders are equal, so the result is a
short list of large regions and the cost grows with the rules and the regions reported, not
with the product of the dimensions. :class:`BoxIndex` finds the boxes that meet a region by
the values they hold, so an analysis compares a rule only with the rules that can meet it.
"""

from __future__ import annotations

from bisect import bisect_left
from copy import copy
from dataclasses import dataclass
from itertools import product
from math import prod
from typing import Iterable, Optional, Sequence

from .calendars import WeekSet

__all__ = ["DIMENSIONS", "Box", "BoxIndex", "uncovered", "is_covered", "coalesce"]

DIMENSIONS = ("category", "channel", "segment", "priority", "member")
_ALL_WEEK = WeekSet.full().intervals


@dataclass(frozen=True)
class Box:
    """Values per dimension (``sets``, in :data:`DIMENSIONS` order) and hours of the week."""

    sets: tuple[frozenset, ...]
    hours: WeekSet

    def intersect(self, other: "Box") -> Optional["Box"]:
        sets = []
        for a, b in zip(self.sets, other.sets):
            both = a & b  # a new set even when a is b: the order its values are visited in decides the regions' order
            if not both:
                return None
            sets.append(both)
        hours = self.hours & other.hours
        return Box(tuple(sets), hours) if hours else None

    def meets(self, other: "Box") -> bool:
        """Whether the two share a ticket at some hour (``intersect`` is not None), without building the region."""
        for a, b in zip(self.sets, other.sets):
            if a.isdisjoint(b):
                return False
        return bool(self.hours & other.hours)

    def covers(self, other: "Box") -> bool:
        for a, b in zip(self.sets, other.sets):
            if not b <= a:
                return False
        mine, theirs = self.hours.intervals, other.hours.intervals
        return mine == theirs or mine == _ALL_WEEK or not (other.hours - self.hours)

    def replace(self, dimension: int, values) -> "Box":
        if dimension == len(self.sets):
            return Box(self.sets, values)
        return Box(self.sets[:dimension] + (values,) + self.sets[dimension + 1:], self.hours)


class BoxIndex:
    """Boxes in a fixed order, found by the values they hold: which of them meet a region, without trying each.

    Each box is filed under the values it holds on the dimensions it narrows (a rule for
    `complaint × phone` under the key ``("complaint", "phone")`` of the group "category,
    channel"); a dimension on which it holds every value of ``universe`` (or so many that
    filing it under each would multiply its entries past ``fan_out``) is left out of its key.
    There are at most 3 ** dimensions such groups (few in practice), so a question looks up the
    region's values in each group (or, when the region holds more combinations than the group
    has keys, walks the keys) and then tries only the boxes it found, on what their key does
    not already say: its cost grows with the boxes that may meet the region, not with all of them.
    """

    def __init__(self, boxes: Iterable[Box], universe: Optional[Sequence[frozenset]] = None, fan_out: int = 64):
        self.boxes: list[Box] = list(boxes)
        self._hours = [box.hours for box in self.boxes]
        count = len(self.boxes[0].sets) if self.boxes else 0
        if universe is None:
            universe = [frozenset().union(*(box.sets[d] for box in self.boxes)) for d in range(count)]
        self._universe = tuple(universe)
        groups: dict[tuple[tuple[int, ...], tuple[int, ...]], dict[tuple, list[int]]] = {}
        self._repeated = False  # some box is filed under more than one key: answers need de-duplicating
        dimensions = range(count)
        for index, box in enumerate(self.boxes):
            sets = box.sets
            split = [d for d in dimensions if sets[d] is not universe[d] and sets[d] != universe[d]]
            dropped = []
            entries = prod(len(sets[d]) for d in split)
            if entries > fan_out:
                for d in sorted(split, key=lambda d: -len(sets[d])):  # leave the widest dimensions out of the key first
                    entries //= len(sets[d])
                    split.remove(d)
                    dropped.append(d)
                    if entries <= fan_out:
                        break
            self._repeated = self._repeated or entries > 1
            keys = groups.setdefault((tuple(split), tuple(sorted(dropped))), {})
            for key in product(*(sets[d] for d in split)):
                leaf = keys.get(key)
                if leaf is None:
                    keys[key] = [index]
                else:
                    leaf.append(index)
        self._groups = [(split, dropped, tuple(d for d in dimensions if d not in split and d not in dropped), keys, len(keys))
                        for (split, dropped), keys in groups.items()]

    def __len__(self) -> int:
        return len(self.boxes)

    def at_hours(self, boxes: Iterable[Box]) -> "BoxIndex":
        """An index of ``boxes``, which hold the same values as this index's boxes, place by place, at other hours (the
        rules on another kind of day): filed as this one files them, since the filing looks at values only."""
        index = copy(self)
        index.boxes = list(boxes)
        index._hours = [box.hours for box in index.boxes]
        return index

    def meeting(self, region: Box, start: int = 0, stop: Optional[int] = None) -> list[int]:
        """Positions (ascending) of the boxes from ``start`` to before ``stop`` that meet ``region`` (share a ticket at
        some hour with it)."""
        stop = len(self.boxes) if stop is None else min(stop, len(self.boxes))
        if start >= stop:
            return []
        sets, hours, universe = region.sets, region.hours, self._universe
        boxes, box_hours = self.boxes, self._hours
        found: list[int] = []
        parts = 0
        outside = [d for d, values in enumerate(sets) if values.isdisjoint(universe[d])]  # dimensions the region leaves
        for split, dropped, whole, keys, size in self._groups:
            if outside and any(d in whole for d in outside):
                continue  # its boxes hold every value of the universe there, and the region none
            wanted = [sets[d] for d in split]
            if prod(map(len, wanted)) <= size:  # look the region's combinations up, or walk the keys when they are fewer
                get = keys.get
                matched: Iterable[list[int]] = (leaf for key in product(*wanted) if (leaf := get(key)) is not None)
            else:
                matched = (leaf for key, leaf in keys.items() if all(value in values for value, values in zip(key, wanted)))
            for leaf in matched:
                if leaf[0] < start or leaf[-1] >= stop:
                    leaf = leaf[bisect_left(leaf, start):bisect_left(leaf, stop)]
                if dropped:  # the key says nothing of the values left out of it
                    leaf = [i for i in leaf if not any(boxes[i].sets[d].isdisjoint(sets[d]) for d in dropped)]
                leaf = [i for i in leaf if box_hours[i] & hours]
                if leaf:
                    found += leaf
                    parts += 1
        if parts > 1:
            found = sorted(set(found)) if self._repeated else sorted(found)
        return found


def is_covered(space: Box, boxes: Iterable[Box]) -> bool:
    """True when the boxes together cover every ticket and hour of ``space``."""
    boxes = list(boxes)
    if any(box.covers(space) for box in boxes):  # the common answer, without clipping every box to the space
        return True
    return not uncovered(space, boxes, limit=1)


def uncovered(space: Box, boxes: Iterable[Box], limit: Optional[int] = None) -> list[Box]:
    """``space`` minus the union of ``boxes``, as few large regions as the splitting finds.

    ``limit`` stops as soon as that many regions are known (use 1 for a yes/no question).
    """
    clipped = []
    for box in boxes:
        part = box.intersect(space)
        if part is not None:
            if part.covers(space):
                return []
            clipped.append(part)
    if not clipped:
        return [space]
    return _split(space, clipped, 0, limit)


def _split(space: Box, boxes: list[Box], dimension: int, limit: Optional[int]) -> list[Box]:
    count = len(space.sets)
    while dimension < count and all(box.sets[dimension] == space.sets[dimension] for box in boxes):
        dimension += 1
    if dimension == count:
        return _split_hours(space, boxes, limit)
    signatures: dict[object, list[int]] = {value: [] for value in space.sets[dimension]}
    for index, box in enumerate(boxes):
        if box.sets[dimension] != space.sets[dimension]:
            for value in box.sets[dimension]:
                signatures[value].append(index)
    classes: dict[tuple[int, ...], set] = {}
    for value, members in signatures.items():
        classes.setdefault(tuple(members), set()).add(value)
    everywhere = [i for i, box in enumerate(boxes) if box.sets[dimension] == space.sets[dimension]]
    return _merge(space, dimension, [
        (frozenset(values), [boxes[i] for i in sorted(set(members).union(everywhere))])
        for members, values in classes.items()], limit)


def _split_hours(space: Box, boxes: list[Box], limit: Optional[int]) -> list[Box]:
    """All boxes now agree with ``space`` on every value set, so only hours are left."""
    covered = WeekSet()
    for box in boxes:
        covered = covered | box.hours
    remainder = space.hours - covered
    return [space.replace(len(space.sets), remainder)] if remainder else []


def _merge(space: Box, dimension: int, parts: list[tuple[frozenset, list[Box]]], limit: Optional[int]) -> list[Box]:
    """Solve each class, then join classes whose remainders differ only in this dimension."""
    by_rest: dict[frozenset, set] = {}
    found = 0
    for values, boxes in parts:
        sub_space = space.replace(dimension, values)
        remainder = uncovered(sub_space, boxes, None if limit is None else limit - found)
        if not remainder:
            continue
        found += len(remainder)
        key = frozenset(box.replace(dimension, frozenset()) for box in remainder)
        by_rest.setdefault(key, set()).update(values)
        if limit is not None and found >= limit:
            break
    result = []
    for rest, joined in by_rest.items():
        for box in rest:
            result.append(box.replace(dimension, frozenset(joined)))
    return result


def coalesce(boxes: Iterable[Box]) -> list[Box]:
    """Join regions that differ in one dimension only, until none do.

    Splitting goes one dimension at a time in a fixed order, so two remainders that
    together are "any category × vip" can come back as one region per category; this
    joins them. The set of tickets covered never changes; the regions come in a fixed order.
    """
    current = list(dict.fromkeys(boxes))
    changed = True
    while changed and len(current) > 1:
        changed = False
        for dimension in range(len(current[0].sets) + 1):
            groups: dict[Box, list[Box]] = {}
            for box in current:
                groups.setdefault(box.replace(dimension, WeekSet() if dimension == len(box.sets) else frozenset()), []).append(box)
            if len(groups) == len(current):
                continue
            merged = []
            for key, members in groups.items():
                if len(members) == 1:
                    merged.append(members[0])
                elif dimension == len(key.sets):
                    hours = WeekSet()
                    for member in members:
                        hours = hours | member.hours
                    merged.append(key.replace(dimension, hours))
                else:
                    merged.append(key.replace(dimension, frozenset().union(*(m.sets[dimension] for m in members))))
            current, changed = merged, True
    return sorted(current, key=_fixed_order)


def _fixed_order(box: Box) -> tuple:
    """An order of regions that is the same in every run: splitting meets values in the order their sets iterate, which
    the hash seed decides, and reports list regions as they come."""
    return tuple(tuple(sorted(map(repr, values))) for values in box.sets), box.hours.intervals
