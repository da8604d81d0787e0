"""Agents arranged by their open tickets, so that picking one costs a lookup per staff group, not a scan of the team.

A desk of a thousand agents kept busy would otherwise read a thousand loads for every ticket handed out (and again for
every ticket a freed agent takes from the queue). A :class:`LoadIndex` keeps, per pool (agents of one role alike in
shift, skills and capacity, in number order), the positions of its agents at each load and of those below capacity, in
order; a pick looks at the head of each pool the ticket may go to.

The store whose loads no one else changes keeps the index (:meth:`.store.Store.load_index`): it moves an agent in it
as their load changes. Stores whose loads other processes change read them afresh in each unit of work, and the
engine then reads the loads of the whole team, which picks the same agent (loads are never negative: an agent is given
back only the tickets it was given; ``tests/test_engine_fast_paths.py``).
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Optional, Sequence

from ..fastcalls import bisect_left, bisect_right, insort

__all__ = ["LoadIndex", "Pool"]


class Pool(NamedTuple):
    """Agents of one role alike in shift, skills and capacity, in number order: whichever of them is picked, only load
    and number tell them apart."""

    ids: tuple[str, ...]
    numbers: tuple[int, ...]
    capacity: int


class LoadIndex:
    """The agents of ``pools`` by load, built from ``loads`` and kept up to date by :meth:`changed`.

    A pick names pools by their place in ``pools``, in number order (a role's pools follow each other as its staff groups
    do), and answers (pool, position in it), or None when no agent of them is below capacity."""

    def __init__(self, pools: tuple[Pool, ...], loads: Mapping[str, int]):
        self.pools = pools
        self._place: dict[str, tuple[int, int]] = {}
        """Each agent's pool and position in it."""
        self._loads: dict[str, int] = {}
        """Each agent's load as the index holds it: a change is told the new load alone, so the index cannot be told an
        old one it does not hold."""
        self._levels: list[dict[int, list[int]]] = []
        """Per pool: each load below capacity that some agent has had, and the positions of its agents with it now, in
        order (a list left empty is kept: a desk whose agents take a ticket and give it back would otherwise make and
        drop one each time, and every list made counts towards the collector's next pass)."""
        self._free: list[list[int]] = []
        """Per pool: the positions of its agents below capacity, in order."""
        for number, pool in enumerate(pools):
            levels: dict[int, list[int]] = {}
            free: list[int] = []
            for position, agent in enumerate(pool.ids):
                self._place[agent] = (number, position)
                load = self._loads[agent] = loads.get(agent, 0)
                if load < pool.capacity:
                    levels.setdefault(load, []).append(position)
                    free.append(position)
            self._levels.append(levels)
            self._free.append(free)

    def changed(self, agent: str, load: int) -> None:
        """``agent`` has ``load`` open tickets now (an agent of none of the pools is no concern of the index)."""
        place = self._place.get(agent)
        if place is None:
            return
        pool, position = place
        old, self._loads[agent] = self._loads[agent], load
        levels, free, capacity = self._levels[pool], self._free[pool], self.pools[pool].capacity
        if old < capacity:
            left = levels[old]
            del left[bisect_left(left, position)]
            if load >= capacity:
                del free[bisect_left(free, position)]
        if load < capacity:
            joined = levels.get(load)
            if joined is None:
                levels[load] = [position]
            else:
                insort(joined, position)
            if old >= capacity:
                insort(free, position)

    def least_loaded(self, pools: Sequence[int]) -> Optional[tuple[int, int]]:
        """Of the agents of ``pools`` (in number order) below capacity, the least loaded; ties to the lower number."""
        best: Optional[tuple[int, int]] = None
        least = 0
        for pool in pools:
            for load, level in self._levels[pool].items():
                if level and (best is None or load < least):  # an equal load in a later pool is a higher number
                    best, least = (pool, level[0]), load
        return best

    def next_after(self, pools: Sequence[int], cursor: int) -> Optional[tuple[int, int]]:
        """Of the agents of ``pools`` (in number order) below capacity, the one of the lowest number after ``cursor``, else
        (round the team) of the lowest number."""
        first: Optional[tuple[int, int]] = None
        for pool in pools:
            free = self._free[pool]
            if free:
                first = first or (pool, free[0])
                beyond = bisect_left(free, bisect_right(self.pools[pool].numbers, cursor))  # the first free one after the cursor
                if beyond < len(free):
                    return pool, free[beyond]
        return first
