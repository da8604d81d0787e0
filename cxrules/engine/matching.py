"""Which of an org's SLAs, surges, follow-up policies, workflows or automations take a ticket class, told by lookups.

Each of them has a :class:`~cxrules.model.Match`. Asking each match in turn runs the model's interpreted Python once per
match, on the first ticket of every class the engine meets (a cold start meets thousands). A :class:`MatchIndex` keeps,
per dimension, the bit set of the items each value lets through: a class's items are the AND of five of them.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Callable, Generic, Optional, Sequence, TypeVar

from mypy_extensions import mypyc_attr

from ..model import Match

__all__ = ["MatchIndex"]

Item = TypeVar("Item")


@mypyc_attr(allow_interpreted_subclasses=True)  # a test counts the lookups of an index
class MatchIndex(Generic[Item]):
    """The items whose match takes a ticket class, in their order; the same answer as asking ``match.matches(*fields)`` of
    each (immutable, thread-safe)."""

    def __init__(self, items: Sequence[Item], match_of: Callable[[Item], Match] = attrgetter("match")) -> None:
        """``match_of``: an item's match (by default its ``match``)."""
        self.items = tuple(items)
        self._by_value: list[dict[object, int]] = [{}, {}, {}, {}]
        """Per dimension (category, channel, segment, priority): the items that name each value."""
        self._anything = [0, 0, 0, 0]
        """Per dimension: the items that take any value of it."""
        self._members, self._others = 0, 0
        """The items that take a member's ticket, and those that take another's; those that test no member flag are in both."""
        for position, item in enumerate(self.items):
            match, bit = match_of(item), 1 << position
            for dimension, named in enumerate((match.categories, match.channels, match.segments, match.priorities)):
                if named is None:
                    self._anything[dimension] |= bit
                else:
                    found = self._by_value[dimension]
                    for value in named:
                        found[value] = found.get(value, 0) | bit
            if match.member is None or match.member:
                self._members |= bit
            if match.member is None or not match.member:
                self._others |= bit

    def taking(self, fields: tuple) -> int:
        """The bit set of the items that take the class of ``fields`` (category, channel, segment, priority, member): bit
        ``n`` for ``items[n]``. Classes with the same bit set are taken by the same items. A member flag that is neither True
        nor False (None: not known) is taken only by the items that test none, as a match tells it."""
        category, channel, segment, priority, member = fields
        by_value, anything = self._by_value, self._anything
        flagged = self._members if member is True else self._others if member is False else self._members & self._others
        return ((by_value[0].get(category, 0) | anything[0]) & (by_value[1].get(channel, 0) | anything[1])
                & (by_value[2].get(segment, 0) | anything[2]) & (by_value[3].get(priority, 0) | anything[3]) & flagged)

    def first(self, fields: tuple) -> Optional[Item]:
        """The first item that takes the class, if any."""
        taking = self.taking(fields)
        return self.items[(taking & -taking).bit_length() - 1] if taking else None

    def all(self, fields: tuple) -> tuple[Item, ...]:
        """Every item that takes the class, in order."""
        taking = self.taking(fields)
        found = []
        while taking:
            lowest = taking & -taking
            found.append(self.items[lowest.bit_length() - 1])
            taking ^= lowest
        return tuple(found)
