"""Who works a ticket: routing a created ticket to a role, picking an agent on shift, queueing and draining.

Agents' loads, round-robin cursors, queues and the fallback list are in the store; a queue
whose role has nobody on shift is drained by a timer at the next shift start.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Iterable, NamedTuple, Optional

from ..calendars import BusinessCalendar, iso_text, not_after
from ..fastcalls import bisect_right
from ..model import Org, Surge
from ..routing import Route, Router, TicketClass
from . import decisions as d
from .durable import DurableRouter
from .loads import Pool
from .store import Store, TicketState, Timer
from .timers import TEXT, TimerKinds

__all__ = ["Agent", "Assignment", "teams"]


NOTHING_REQUIRED: Final[frozenset[str]] = frozenset()
"""The skills a ticket no rule asks skills of requires."""


@dataclass(frozen=True)
class Agent:
    """One person of a role: named `role#n`, with the shift and skills of their staff group."""

    id: str
    role: str
    shift: str
    skills: frozenset[str]
    capacity: int
    number: int
    """Place in the role's team, from 0: ties go to the lower number."""

    def can_take(self, load: int, requires: frozenset[str]) -> bool:
        """Whether the agent, with ``load`` open tickets, can take one more that ``requires`` these skills."""
        return load < self.capacity and (not requires or requires <= self.skills)


class _Team(NamedTuple):
    """Agents of a role on some shifts, in number order, with their ids and numbers side by side."""

    agents: tuple[Agent, ...]
    ids: tuple[str, ...]
    numbers: tuple[int, ...]


def teams(org: Org) -> dict[str, list[Agent]]:
    """Every role's agents, numbered in the order of its staff groups."""
    agents: dict[str, list[Agent]] = {}
    for role in org.roles:
        team, number = [], 0
        for group in role.staff:
            for _ in range(group.agents):
                team.append(Agent(f"{role.id}#{number + 1}", role.id, group.shift, frozenset(role.skills) | set(group.skills),
                                  role.capacity, number))
                number += 1
        agents[role.id] = team
    return agents


class Assignment:
    """Routes, assigns, queues and releases tickets; fires the `drain` timers."""

    def __init__(self, org: Org, store: Store, calendars: dict[str, BusinessCalendar], agents: dict[str, list[Agent]],
                 router: DurableRouter, timers: TimerKinds, faults: list[str]):
        """``faults``: where a routing failure worked round is noted."""
        self.org, self.store, self.calendars, self.agents, self.router = org, store, calendars, agents, router
        self.routes = router.routes  # asked of each new ticket: compiled, where the router is not
        self.timers, self.faults = timers, faults
        self._required = {rule.id: frozenset(rule.requires) for rule in org.routing}
        """The skills each rule requires, as the set each pick of an agent takes (made once, not for each ticket)."""
        self.shifts = {role: tuple(dict.fromkeys(agent.shift for agent in team)) for role, team in agents.items()}
        """Each role's shifts, once each: who is on shift is asked of each shift's calendar, not of each agent's."""
        self.round_robin = {role.id: role.assignment == "round_robin" for role in org.roles}
        self._teams: dict[tuple[str, tuple[str, ...]], _Team] = {}
        self._pool_agents = tuple(tuple(pool) for team in agents.values()
                                  for _, pool in itertools.groupby(team, key=lambda agent: (agent.shift, agent.skills, agent.capacity)))
        """The agents of each :class:`.loads.Pool`: a role's alike in shift, skills and capacity, in number order."""
        self.pools = tuple(Pool(tuple(agent.id for agent in pool), tuple(agent.number for agent in pool), pool[0].capacity)
                           for pool in self._pool_agents)
        """What the store's index of agents by load is asked for: the same tuple each time, by which the store knows its index
        is this engine's."""
        self._able_pools: dict[tuple[str, tuple[str, ...], frozenset[str]], tuple[int, ...]] = {}
        timers.register("drain", self._fire_drain, TEXT)

    def route(self, ticket: TicketState, at: datetime, active_surges: Iterable[Surge]) -> Route:
        """The role a new ticket goes to, by the compiled ruleset (by the reference router if durable-rules fails)."""
        fields = ticket.class_fields()
        try:
            return self.routes.route_fields(fields, at, active_surges)
        except RuntimeError as error:  # durable-rules failed: the reference router decides the same way
            self.faults.append(f"durable-rules failed routing `{ticket.id}`: {error}; decided by the reference router")
            return Router(self.org).route(TicketClass(*fields), at, active_surges)

    def mark_fallback(self, ticket: TicketState) -> None:
        """The ticket went to the fallback queue: listed, so people see what the rules missed."""
        ticket.fallback = True
        self.store.add_fallback(ticket.id)

    def required(self, rule: Optional[str]) -> frozenset[str]:
        """The skills an agent needs to take a ticket the rule of id ``rule`` routed: none for a ticket no rule routed, or
        one whose rule a reload has since removed."""
        return self._required.get(rule, NOTHING_REQUIRED) if rule else NOTHING_REQUIRED

    def assign(self, ticket: TicketState, role: str, at: datetime, requires: frozenset[str] = NOTHING_REQUIRED) -> list[d.Decision]:
        """Give the ticket to an agent of ``role`` with the skills ``requires`` who can take it now, else queue it."""
        ticket.role, ticket.agent = role, None
        on_shift = self._on_shift(role, at)
        agent = self._pick(role, on_shift, requires)
        if agent is None:
            place = self.store.enqueue(role, ticket.id)
            ticket.status = "queued"
            reason = "every agent on shift is at capacity" if on_shift else "nobody of the role is on shift"
            if not on_shift:
                self._drain_at_next_shift(role, at)
            return [d.Queued(ticket.id, at, role, place, reason)]
        return [self._hand_to(ticket, agent, at)]

    def release(self, ticket: TicketState, at: datetime) -> list[d.Decision]:
        """Take the ticket off its queue or its agent; a freed agent takes the next queued ticket."""
        if ticket.role is None:
            return []
        if ticket.status == "queued":
            self.store.unqueue(ticket.role, ticket.id)
        if ticket.agent:
            self.store.add_load(ticket.agent, -1)
            ticket.agent = None
            return self.drain(ticket.role, at)
        return []

    def drain(self, role: str, at: datetime) -> list[d.Decision]:
        """Hand queued tickets out, oldest first, while someone can take them."""
        decisions: list[d.Decision] = []
        while (head := self.store.queue_head(role)) is not None:
            ticket = self.store.get(head)
            if ticket is None or ticket.status != "queued" or ticket.role != role:
                self.store.pop_queue_head(role)
                continue
            on_shift = self._on_shift(role, at)
            agent = self._pick(role, on_shift, self.required(ticket.rule))
            if agent is None:
                if not on_shift:
                    self._drain_at_next_shift(role, at)
                break
            self.store.pop_queue_head(role)
            decisions.append(self._hand_to(ticket, agent, at))
        return decisions

    def _hand_to(self, ticket: TicketState, agent: Agent, at: datetime) -> d.Assigned:
        ticket.agent, ticket.status = agent.id, "open"
        self.store.add_load(agent.id, 1)
        return d.Assigned(ticket.id, at, agent.role, agent.id, ticket.rule, ticket.first_response_due, ticket.resolution_due)

    def _on_shift(self, role: str, at: datetime) -> tuple[str, ...]:
        """The role's shifts that are working at ``at``."""
        return tuple(shift for shift in self.shifts.get(role, ()) if self.calendars[shift].is_open(at))

    def _pick(self, role: str, on_shift: tuple[str, ...], requires: frozenset[str]) -> Optional[Agent]:
        """Of the agents on ``on_shift`` below their capacity with the skills required: the next after the last one
        given a ticket (round robin), or the least loaded; ties to the lower number.

        The loads are the store's: from its :class:`.loads.LoadIndex` where it keeps one, else read for the whole team
        (processes sharing a database change them) as the search goes, which stops at the first free agent when it can.
        """
        if not on_shift:
            return None
        index = self.store.load_index(self.pools)
        if self.round_robin[role]:
            cursor = self.store.cursor(role)
            chosen = (self._indexed(index.next_after(self._able(role, on_shift, requires), cursor)) if index is not None
                      else self._next_after(self._on_duty(role, on_shift), cursor, requires))
            if chosen is not None:
                self.store.set_cursor(role, chosen.number)
            return chosen
        if index is not None:
            return self._indexed(index.least_loaded(self._able(role, on_shift, requires)))
        return self._least_loaded(self._on_duty(role, on_shift), requires)

    def _next_after(self, team: "_Team", cursor: int, requires: frozenset[str]) -> Optional[Agent]:
        """Round robin by reading the team's loads: the first agent able to take the ticket after ``cursor``, round the team."""
        loads = list(self.store.loads_of(team.ids))
        after = bisect_right(team.numbers, cursor)
        order = itertools.chain(range(after, len(team.agents)), range(after))
        return next((team.agents[n] for n in order if team.agents[n].can_take(loads[n], requires)), None)

    def _least_loaded(self, team: "_Team", requires: frozenset[str]) -> Optional[Agent]:
        """The least loaded agent able to take the ticket, by reading the team's loads in number order."""
        best: Optional[Agent] = None
        least = 0
        for agent, load in zip(team.agents, self.store.loads_of(team.ids)):
            if (best is None or load < least) and agent.can_take(load, requires):
                best, least = agent, load
                if load == 0:  # no load is below none
                    break
        return best

    def _indexed(self, found: Optional[tuple[int, int]]) -> Optional[Agent]:
        """The agent at a (pool, position) a :class:`.loads.LoadIndex` answered."""
        return None if found is None else self._pool_agents[found[0]][found[1]]

    def _able(self, role: str, on_shift: tuple[str, ...], requires: frozenset[str]) -> tuple[int, ...]:
        """The pools of ``role`` on these shifts with the skills required (worked out once per role, shifts and skills)."""
        key = (role, on_shift, requires)
        able = self._able_pools.get(key)
        if able is None:
            able = self._able_pools[key] = tuple(
                number for number, pool in enumerate(self._pool_agents)
                if pool[0].role == role and pool[0].shift in on_shift and requires <= pool[0].skills)
        return able

    def _on_duty(self, role: str, on_shift: tuple[str, ...]) -> "_Team":
        """The role's agents on these shifts, in number order (worked out once per role and set of shifts)."""
        key = (role, on_shift)
        team = self._teams.get(key)
        if team is None:
            agents = tuple(agent for agent in self.agents[role] if agent.shift in on_shift)
            team = self._teams[key] = _Team(agents, tuple(agent.id for agent in agents), tuple(agent.number for agent in agents))
        return team

    def _drain_at_next_shift(self, role: str, at: datetime) -> None:
        """Nobody of the role is on shift: drain its queue when the first of them comes on."""
        # compared as instants: the opening is in UTC, the moment mostly in the event's zone (datetimes of two zones compare
        # through both offsets, asked for by name)
        starts = [start for shift in self.shifts.get(role, ()) if (start := self.calendars[shift].next_open(at)) is not None
                  and not not_after(start, at)]
        self.timers.schedule(min(starts) if starts else None, "drain", None, f"drain:{role}:{iso_text(at)}", role)

    def _fire_drain(self, timer: Timer) -> list[d.Decision]:
        return self.drain(timer.data, timer.due)
