"""Regions of the ticket space, and subtracting regions from regions without visiting cells.

A region (:class:`Box`) is a set of values on each routing dimension (category, channel,
segment, priority, member) times a set of hours of the week. Rules are boxes; the tickets
nobody owns are a universe minus the union of rule boxes. :func:`uncovered` computes that
difference by splitting one dimension at a time into the classes of values the remaining
rules cannot tell apart, and merging classes whose remainders are equal, so the result is a
short list of large regions and the cost grows with the rules and the regions reported, not
with the product of the dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from .calendars import WeekSet

__all__ = ["DIMENSIONS", "Box", "uncovered", "is_covered", "coalesce"]

DIMENSIONS = ("category", "channel", "segment", "priority", "member")


@dataclass(frozen=True)
class Box:
    """Values per dimension (``sets``, in :data:`DIMENSIONS` order) and hours of the week."""

    sets: tuple[frozenset, ...]
    hours: WeekSet

    def intersect(self, other: "Box") -> Optional["Box"]:
        sets = tuple(a & b for a, b in zip(self.sets, other.sets))
        if not all(sets):
            return None
        hours = self.hours & other.hours
        return Box(sets, hours) if hours else None

    def covers(self, other: "Box") -> bool:
        return all(b <= a for a, b in zip(self.sets, other.sets)) and not (other.hours - self.hours)

    def replace(self, dimension: int, values) -> "Box":
        if dimension == len(self.sets):
            return Box(self.sets, values)
        return Box(self.sets[:dimension] + (values,) + self.sets[dimension + 1:], self.hours)


def is_covered(space: Box, boxes: Iterable[Box]) -> bool:
    """True when the boxes together cover every ticket and hour of ``space``."""
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
    joins them. The set of tickets covered never changes.
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
    return current
