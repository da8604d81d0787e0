"""`python bench/run.py engine`: the engine on one routing table, beside its peers on the same table in the same run.

Two tables: the generated 1,000-rule org (:func:`generate.generate_org` with ``service``: SLAs,
escalations, early and late shifts, a follow-up policy; the rules are those of the org without
them) and the seed org orgs/automotive.yaml. For each:

- peers: the same BENCH_LOOKUPS routing decisions (every class of the org in turn, at Monday
  10:00) by a dict worked out beforehand (class → role: the floor), a hand-written first-match
  loop over the rules in precedence order, raw durable-rules posts of the same rules (the
  engine's `compile_routing` in a bare `Ruleset`) and the engine's cached decision
  (`engine.router.route`); each a function from a class to a role, checked to agree with the
  others on every class before anything is timed; ratios to raw durable-rules.
- best case: `Engine.submit` TicketCreated then Closed, classes cycling, the clock standing,
  the routing cache warm (BENCH_EVENTS events).
- realistic: a centre's stream (:mod:`centre`) of BENCH_EVENTS events and the rest of its
  tickets' lives, made beforehand: every class, a moving clock, agents filling up so queues
  form and drain (overnight too), SLA timers that fire, breaches that escalate, follow-up calls
  made when the engine asks, every decision delivered to a handler as a service's would be;
  the routing cache warm (the cold start is measured apart). tickets/s (created → closed),
  events/s, ratio to raw posts, what the engine decided, and where a ticket's time goes by module
  (one more run, profiled).
- the floors of the engine's interface on that stream: an engine told beforehand every decision
  the real one handed its handler (:class:`Told`), which per event only finds the ticket, builds
  the decisions afresh and hands them over; and the caller's own part alone (the stream fed, the
  decisions built beforehand). Every engine that takes event objects and hands decision objects
  to handlers does the work of the first; none can remove the second. A third floor is the first
  also checking each event whole and keeping the timers the real engine scheduled in time order:
  work that no engine that refuses a bad event before acting on it and fires its timers on time
  skips. The floors are the bench's interpreted code calling the engine's compiled parts, so a
  compiled engine can do their work for less: yardsticks of the work, not bounds on its time.
  The caller's own part is nearly all the bench's, which any engine on this stream pays, but
  it too runs a little interpreted code on the engine's side (Told.submit, once an event).
- cold start: a fresh engine built, then the first ticket of every class created and closed,
  BENCH_COLD_STARTS times a timing (default 5), beside as many fresh rulesets built, then the
  first post of each class to each (what building took also shown), and
  its bound: a cold ticket does all a warm one does (the best case), and the engine asks
  durable-rules once for each set of rules taking the classes it meets, each ask a first post at least.
- a desk kept full: one role of 10 agents, then of 1,000 (capacity 5, a queue as long as the team), each of
  BENCH_DESK_TICKETS tickets created a minute after the last and queued, then the oldest closed, its agent taking the
  queue's head; least loaded and round robin; µs a ticket and their growth from 10 agents to 1,000, beside the same
  engine reading every agent's load for each pick (as it does of a store that processes share, whose loads it cannot
  keep an index of), in the same run.
- memory: BENCH_MEMORY_EVENTS events (default 1,000,000) of the realistic stream, made lazily
  (it holds only tickets in flight), in a fresh process: RSS with the org loaded and after each
  quarter (after a collection).

Each timing is repeated BENCH_REPEAT times (min and median, :mod:`measure`); each engine and
ruleset timed is a fresh one, closed after. All that is read as a ratio to raw posts (the peers,
the best case, the realistic stream and its floors, the cold start's two sides) is timed in one
series of rounds with them (a, b, c, then c, b, a, ...): the two sides of a ratio are timed within
one round of each other, not minutes apart, on machines whose pace drifts by up to twice over
half an hour. Each ratio is also given round by round, with their median, to show how much it moves.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import json
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import durable_rules_engine
from durable.engine import MessageNotHandledException, Ruleset

import cxrules
from centre import START, Centre, serve, whole_lives
from cxrules.calendars import BusinessCalendar
from cxrules.engine import Closed, Engine, FollowUpDue, MemoryStore, TicketCreated, VirtualClock
from cxrules.engine.eventcheck import check_event
from cxrules.engine.durable import compile_routing
from cxrules.model import Org
from cxrules.routing import Router, TicketClass, class_values, precedence_order
from generate import generate_yaml
from measure import REPEAT, Timing, Work, alternated, env_int, own_time_by_module, peak_mb, repeated, rss_mb

ROOT = Path(__file__).resolve().parent.parent
MOMENT = START + timedelta(hours=2)
"""Monday 10:00 in Shanghai: office hours, early shift on, every channel open."""
EVENTS = env_int("BENCH_EVENTS", 200_000)
LOOKUPS = env_int("BENCH_LOOKUPS", 50_000)
MEMORY_EVENTS = env_int("BENCH_MEMORY_EVENTS", 1_000_000)
DESK_TICKETS = env_int("BENCH_DESK_TICKETS", 20_000)
COLD_STARTS = env_int("BENCH_COLD_STARTS", 5)

Decide = Callable[[TicketClass], str]
"""A router as the peers are compared: a ticket's class in, the role that gets it out."""


# ---------------------------------------------------------------------------------------------- the peers


def every_class(org: Org) -> list[TicketClass]:
    """Every class of the org (category, channel, segment, priority, member or not), in a fixed random order."""
    values = class_values(org)
    classes = [TicketClass(*dimensions) for dimensions in itertools.product(
        *(sorted(values[name]) for name in ("category", "channel", "segment", "priority")), (False, True))]
    random.Random(1).shuffle(classes)
    return classes


class OpenFlags:
    """What the engine tells durable-rules about the calendars rules are limited to (`during`): open or not, at a moment."""

    def __init__(self, org: Org):
        named = {rule.during for rule in org.routing if rule.during}
        self.calendars = {c.id: BusinessCalendar(c) for c in org.calendars if c.id in named}

    def at(self, moment: datetime) -> dict[str, bool]:
        return {f"open_{cid}": calendar.is_open(moment) for cid, calendar in self.calendars.items()}


_rulesets = itertools.count()


class RawRuleset:
    """The org's routing rules in a bare durable-rules ruleset, compiled as the engine compiles them, posted to directly."""

    def __init__(self, org: Org):
        self._winner: list = [None]
        definition = {name: {**rule, "run": self._recorder(name)} for name, rule in compile_routing(org.routing).items()}
        self.ruleset = Ruleset(f"bench_raw_{next(_rulesets)}", None, definition)
        self.roles = {f"r_{rule.id}": rule.to for rule in org.routing}
        self.fallback = org.info.fallback_queue

    def _recorder(self, rule: str) -> Callable:
        """An action as durable-rules' documentation writes one: it notes the rule that took the message."""
        return lambda closure: self._winner.__setitem__(0, rule)

    def decider(self, flags: dict[str, bool]) -> Decide:
        """Post a class as the message the engine would (calendars as in ``flags``); the winning rule's role."""
        ruleset, winner, roles, fallback = self.ruleset, self._winner, self.roles, self.fallback

        def post(ticket: TicketClass) -> str:
            message = {"t": "route", "category": ticket.category, "channel": ticket.channel, "segment": ticket.segment,
                       "priority": ticket.priority, "member": ticket.member, **flags}
            winner[0] = None
            try:
                ruleset.do_actions(ruleset.assert_event(message), lambda error, state: None)
            except MessageNotHandledException:
                return fallback
            return roles[winner[0]] if winner[0] else fallback
        return post

    def close(self) -> None:
        durable_rules_engine.delete_ruleset(self.ruleset._handle)


def first_match_loop(org: Org, at: datetime) -> Decide:
    """What one would write by hand: the rules in precedence order (less those whose `during` calendar is shut), first match wins."""
    flags = OpenFlags(org).at(at)
    rules = [(m.categories, m.channels, m.segments, m.priorities, m.member, rule.to)
             for rule in precedence_order(org.routing) if rule.during is None or flags.get(f"open_{rule.during}")
             for m in (rule.match,)]
    fallback = org.info.fallback_queue

    def route(ticket: TicketClass) -> str:
        category, channel, segment, priority, member = ticket.category, ticket.channel, ticket.segment, ticket.priority, ticket.member
        for categories, channels, segments, priorities, wanted, role in rules:
            if ((categories is None or category in categories) and (channels is None or channel in channels)
                    and (segments is None or segment in segments) and (priorities is None or priority in priorities)
                    and (wanted is None or wanted == member)):
                return role
        return fallback
    return route


def dict_floor(org: Org, classes: list[TicketClass], at: datetime) -> Decide:
    """The floor: every class's role worked out beforehand (by the reference router), a dict lookup each."""
    router = Router(org)
    table = {ticket: router.route(ticket, at).role for ticket in classes}

    def look_up(ticket: TicketClass) -> str:
        return table[ticket]
    return look_up


def cached_decision(engine: Engine, classes: list[TicketClass], at: datetime) -> Decide:
    """The engine's routing decision alone, its cache warmed with every class."""
    route = engine.router.route
    for ticket in classes:
        route(ticket, at)

    def decide(ticket: TicketClass) -> str:
        return route(ticket, at).role
    return decide


def cycled(classes: list[TicketClass], count: int) -> list[TicketClass]:
    """``count`` classes, every class in turn: the lookups the peers and the warm posts make."""
    return [classes[number % len(classes)] for number in range(count)]


def tickets_created(recorded: list) -> int:
    """The tickets a stream creates: what its rates and counts are given per."""
    return sum(1 for event in recorded if type(event) is TicketCreated)


def decide_each(decide: Decide, lookups: list[TicketClass]) -> Callable[[], None]:
    """The timed work of a peer: one decision per lookup."""
    def work() -> None:
        for ticket in lookups:
            decide(ticket)
    return work


# ---------------------------------------------------------------------------------------------- the engine's workloads


def warm_routing(engine: Engine, org: Org, classes: list[TicketClass], start: datetime, end: datetime) -> None:
    """Route every class once for each set of open `during` calendars met from ``start`` to ``end`` (quarter-hour steps):
    the cache a running service has built by then."""
    flags = OpenFlags(org)
    moments: dict[tuple, datetime] = {}
    at = start
    while at <= end:
        moments.setdefault(tuple(flags.at(at).items()), at)
        at += timedelta(minutes=15)
    for at in moments.values():
        for ticket in classes:
            engine.router.route(ticket, at)


def created_and_closed(engine: Engine, classes: list[TicketClass], count: int, prefix: str) -> None:
    """``count`` tickets, each created and closed at once on the engine's standing clock, their classes cycling."""
    submit, size = engine.submit, len(classes)
    for number in range(count):
        ticket = classes[number % size]
        submit(TicketCreated(f"{prefix}{number}", category=ticket.category, channel=ticket.channel, segment=ticket.segment,
                             priority=ticket.priority, member=ticket.member))
        submit(Closed(f"{prefix}{number}"))


class Realistic:
    """The centre's stream through one fresh engine, every decision to a handler that counts it and makes the calls asked for.

    ``told``: instead of an engine, a :class:`Told` one with these answers (see :func:`answers_of`), and ``dues``, the timers
    it keeps (None: none); ``store``: the engine's (default in memory)."""

    def __init__(self, org: Org, classes: list[TicketClass], recorded: list, told: "list | None" = None, fresh: bool = True,
                 dues: "list | None" = None, store: "MemoryStore | None" = None):
        if told is None:
            self.engine: "Engine | Told" = Engine(org, VirtualClock(START), store)
            warm_routing(self.engine, org, classes, START, recorded[-1].at)
        else:
            self.engine = Told(told, fresh, dues)
        self.centre = Centre()
        self.recorded = recorded
        self.decided: Counter[str] = Counter()
        self.engine.on(None, self._handle)

    def _handle(self, decision) -> None:
        self.decided[type(decision).__name__] += 1
        if type(decision) is FollowUpDue:
            self.centre.call_back(decision)

    def run(self) -> Counter[str]:
        """Feed the stream; what was decided, by kind."""
        submit = self.engine.submit
        for event in self.centre.replay(self.recorded):
            submit(event)
        return self.decided


Answer = list[tuple[type, dict]]
"""The decisions handed to the handlers for one event: each one's class and fields."""


class Told:
    """The work of the engine's interface (event objects in, decision objects to handlers): an engine told beforehand every
    decision the real one hands its handlers on the stream (:func:`answers_of`). Per event it finds the ticket, builds that
    event's decisions afresh (``fresh``; else hands over ones built beforehand: the caller's own part alone) and calls the
    handlers with each. It checks, routes, times and stores nothing: an engine of this interface does this work at least
    (here interpreted; compiled, it costs less).

    With ``dues`` (per event, the due times of the timers the real engine scheduled on it) it also does the two things no
    engine of cxrules' promises can skip: it checks each event whole (:func:`check_event`, as the engine does before
    anything is stored) and keeps the timers in time order, taking those due before each event (a heap of the least
    entry a timer needs: its time, a tie-break, its ticket). It still routes, times and queues nothing."""

    def __init__(self, answers: list[Answer], fresh: bool = True, dues: "list[Dues] | None" = None):
        self._answers: Iterator[list] = iter(answers if fresh else [[self._built(kind, fields) for kind, fields in answer]
                                                                     for answer in answers])
        self._fresh = fresh
        self._tickets: dict[str, object] = {}
        self._handlers: list[Callable] = []
        self._dues: "Iterator[Dues] | None" = None if dues is None else iter(dues)
        self._timers: list[tuple[float, int, str]] = []
        self._order = itertools.count()

    @staticmethod
    def _built(kind: type, fields: dict) -> object:
        """A decision of ``kind`` with ``fields`` (in order, as its ``__init__`` takes them): the engine's own way, a
        compiled class's ``__init__``."""
        return kind(*fields.values())

    def on(self, kind: None, handler: Callable) -> None:
        assert kind is None, "the bench's handler takes every decision"
        self._handlers.append(handler)

    def submit(self, event) -> list:
        if self._dues is not None:
            check_event(event)
            timers, now = self._timers, event.at.timestamp()
            while timers and timers[0][0] <= now:
                heapq.heappop(timers)
            for due in next(self._dues):
                heapq.heappush(timers, (due, next(self._order), event.ticket_id))
        tickets = self._tickets
        if type(event) is TicketCreated:
            tickets[event.ticket_id] = event
        else:
            tickets.get(event.ticket_id)  # the least an engine does with an event of a ticket it holds
        answer = next(self._answers)
        decisions = [self._built(kind, fields) for kind, fields in answer] if self._fresh else answer
        for decision in decisions:
            for handler in self._handlers:
                handler(decision)
        return decisions

    def close(self) -> None:
        """Nothing to release (an engine's counterpart)."""


Dues = list[float]
"""The due times (POSIX) of the timers the engine scheduled while it applied one event (timers falling due first included)."""


class DuesNoted(MemoryStore):
    """A memory store that notes the due time of each timer scheduled, by event (see :func:`answers_of`)."""

    def __init__(self) -> None:
        super().__init__()
        self.dues: list[Dues] = []

    def schedule(self, due, kind, ticket_id, key, data=None, seq=None) -> None:
        self.dues[-1].append(due.timestamp())
        super().schedule(due, kind, ticket_id, key, data, seq)


def answers_of(org: Org, classes: list[TicketClass], recorded: list) -> tuple[list[Answer], list[Dues]]:
    """One run of the real engine on the stream: the decisions its handlers got, and the timers it scheduled, event by event."""
    store = DuesNoted()
    run = Realistic(org, classes, recorded, store=store)
    answers: list[Answer] = []
    run.engine.on(None, lambda decision: answers[-1].append((type(decision), decision.field_values())))
    for event in run.centre.replay(recorded):
        answers.append([])
        store.dues.append([])
        run.engine.submit(event)
    run.engine.close()
    return answers, store.dues


def cold_start(build: Callable[[], object], use: Callable[[object], object]) -> tuple[list[float], Work]:
    """COLD_STARTS fresh things, each built and used, timed together (an engine that did its work when built pays for it
    here too: one alone takes a fifth of a second on automotive, a span a burst of load on these machines can double), each
    closed after the timing; and the seconds each building took, as they are timed."""
    built_in: list[float] = []

    def work() -> list:
        things = []
        for _ in range(COLD_STARTS):
            started = time.perf_counter()
            thing = build()
            built_in.append(time.perf_counter() - started)
            use(thing)
            things.append(thing)
        return things
    return built_in, Work(work, teardown=close_each)


def close_each(things: list) -> None:
    """Close each of ``things`` and let them go (the list is kept as the timing's value)."""
    for thing in things:
        thing.close()
    things.clear()


RAW = "raw durable-rules post"
BEST = "best case"
REALISTIC = "realistic"
COLD_ENGINE, COLD_RAW = "cold engine", "cold ruleset"
TICKETS = EVENTS // 2
"""Tickets of the best case (each created and closed)."""


@dataclass(frozen=True)
class Floor:
    """A floor of the engine's interface on the stream (see the module's docstring): what it is, and how the told engine is
    fed (``fresh``: each decision built afresh; ``dues``: the timers kept in time order, each event checked whole)."""

    what: str
    fresh: bool
    dues: bool


FLOORS = {"caller": Floor("the caller's own part (the stream fed, decisions built beforehand handed to the handler)", False, False),
          "told": Floor("told every answer (each decision built afresh, its ticket looked up: the interface's work, "
                        "interpreted)", True, False),
          "checked": Floor("told every answer, each event checked whole and the engine's {timers:.1f} timers a ticket kept in "
                           "time order (work no engine that keeps cxrules' promises skips; interpreted, so not a bound)",
                           True, True)}


def bench_table(label: str, path: Path) -> None:
    """Every measurement of the engine part on one org; see the module's docstring. All that is read as a ratio to raw
    posts is timed in one series of rounds with them (:func:`measure.alternated`)."""
    org = cxrules.load_org(path)
    classes = every_class(org)
    print(f"engine    {label}: {len(org.routing):,} rules, {len(org.roles):,} roles, {len(classes):,} classes, "
          f"{len(org.slas)} SLAs, {len(org.escalations)} escalation paths, {len(org.followups)} follow-up policies; "
          f"{REPEAT}x each, in turns with the raw posts they are read against, collector on everywhere", flush=True)
    raw, engine = RawRuleset(org), Engine(org, VirtualClock(MOMENT))
    recorded = whole_lives(org, EVENTS)
    answers, dues = answers_of(org, classes, recorded)
    peer_works = peers(org, classes, raw, engine)
    engine_built, engine_cold = cold_start(lambda: Engine(org, VirtualClock(MOMENT)),
                                           lambda fresh: created_and_closed(fresh, classes, len(classes), "c"))
    flags = OpenFlags(org).at(MOMENT)
    raw_built, raw_cold = cold_start(lambda: RawRuleset(org), lambda fresh: decide_each(fresh.decider(flags), classes)())
    timings = alternated({**peer_works, BEST: best_case(org, classes),
                          REALISTIC: Work(Realistic.run, setup=lambda: Realistic(org, classes, recorded),
                                          teardown=lambda run: run.engine.close()),
                          **{name: Work(Realistic.run, setup=partial(Realistic, org, classes, recorded, told=answers,
                                                                      fresh=floor.fresh, dues=dues if floor.dues else None))
                             for name, floor in FLOORS.items()},
                          COLD_ENGINE: engine_cold, COLD_RAW: raw_cold})
    engine.close()
    raw.close()
    print_peers({name: timings[name] for name in peer_works}, timings[RAW])
    print_best_case(timings[BEST], timings[RAW])
    print_realistic(org, classes, recorded, timings, dues)
    print_cold(org, classes, timings, min(engine_built), min(raw_built))
    memory(path)


def peers(org: Org, classes: list[TicketClass], raw: RawRuleset, engine: Engine) -> dict[str, Work]:
    """The same routing decisions by each peer, at one moment, checked to agree first."""
    lookups = cycled(classes, LOOKUPS)
    deciders = {"dict floor (class → role, worked out before)": dict_floor(org, classes, MOMENT),
                "hand-written first-match loop": first_match_loop(org, MOMENT),
                RAW: raw.decider(OpenFlags(org).at(MOMENT)),
                "engine's cached decision (router.route)": cached_decision(engine, classes, MOMENT)}
    for ticket in classes:
        answers = {name: decide(ticket) for name, decide in deciders.items()}
        assert len(set(answers.values())) == 1, f"the peers disagree on {ticket}: {answers}"
    return {name: Work(decide_each(decide, lookups)) for name, decide in deciders.items()}


def print_peers(timings: dict[str, Timing], raw: Timing) -> None:
    """Each peer's line, with its ratio to raw posts."""
    print(f"          peers: {LOOKUPS:,} routing decisions, every class in turn, at {MOMENT:%a %H:%M}:")
    for name, timing in timings.items():
        target = "  (target ≥ 20x)" if name.startswith("engine") else ""
        print(f"            {name:<46} {timing.spread(4)}  {timing.rate(LOOKUPS):>12,.0f}/s  "
              f"{timing.rate(LOOKUPS) / raw.rate(LOOKUPS):7.2f}x raw{target}")


def best_case(org: Org, classes: list[TicketClass]) -> Work:
    """Created and closed at once, classes cycling, the clock standing, the routing cache warm."""
    def fresh_warm_engine() -> Engine:
        fresh = Engine(org, VirtualClock(MOMENT))
        cached_decision(fresh, classes, MOMENT)
        return fresh
    return Work(lambda fresh: created_and_closed(fresh, classes, TICKETS, "t"), setup=fresh_warm_engine, teardown=Engine.close)


def print_best_case(timing: Timing, raw: Timing) -> None:
    print(f"          best case  Engine.submit created + closed, classes cycling, clock standing, {TICKETS:,} tickets: "
          f"{timing.spread()}, {timing.rate(TICKETS):,.0f} tickets/s ({timing.rate(2 * TICKETS):,.0f} events/s) = "
          f"{timing.rate(TICKETS) / raw.rate(LOOKUPS):.2f}x raw posts (by round: {timing.ratios_by_round(TICKETS, raw, LOOKUPS)})")


def print_realistic(org: Org, classes: list[TicketClass], recorded: list, timings: dict[str, Timing], dues: list[Dues]) -> None:
    """The realistic stream's lines: its rate, what the engine decided, where a ticket's time goes (one more run, profiled),
    and the floors beside it."""
    timing, raw = timings[REALISTIC], timings[RAW]
    raw_rate = raw.rate(LOOKUPS)
    created = tickets_created(recorded)
    decided = timing.value
    events = len(recorded) + decided["FollowUpDue"]
    days = (recorded[-1].at - recorded[0].at) / timedelta(days=1)
    print(f"          realistic  a centre's stream: {created:,} tickets over {days:.1f} days, created → closed, {events:,} events "
          f"(follow-up calls included): {timing.spread()}, {timing.rate(created):,.0f} tickets/s, "
          f"{timing.rate(events):,.0f} events/s = {timing.rate(created) / raw_rate:.2f}x raw posts "
          f"(by round: {timing.ratios_by_round(created, raw, LOOKUPS)}; target ≥ 30,000 tickets/s, ≥ 1.5x)")
    print("                     decided: " + ", ".join(f"{kind} {n:,}" for kind, n in decided.most_common()))
    per_ticket = timing.best / created * 1e6
    profiled = Realistic(org, classes, recorded)
    shares = own_time_by_module(profiled.run)
    profiled.engine.close()
    print(f"                     where a ticket's {per_ticket:.0f} µs go (one profiled run's own time per module, built-ins "
          "counted to their callers): " + ", ".join(f"{module} {share * per_ticket:.0f}" for module, share in shares.items()
                                                    if share >= 0.01))
    timers = sum(map(len, dues))
    for name, floor in FLOORS.items():
        floor_timing = timings[name]
        assert floor_timing.value == decided, "the told engine was not fed the same stream"
        print(f"          floor      {floor.what.format(timers=timers / created)}: {floor_timing.spread()}, "
              f"{floor_timing.rate(created):,.0f} tickets/s = {floor_timing.rate(created) / raw_rate:.2f}x raw posts; the "
              f"engine takes {timing.best / floor_timing.best:.1f}x its time")


def print_cold(org: Org, classes: list[TicketClass], timings: dict[str, Timing], engine_built: float, raw_built: float) -> None:
    """The cold start beside a fresh ruleset's first posts, and its bound: each cold ticket does all a warm one does (the
    best case), and each set of rules taking a class that the engine asks durable-rules about costs a first post at least."""
    engine, raw = timings[COLD_ENGINE], timings[COLD_RAW]
    started = COLD_STARTS * len(classes)
    engine_rate, raw_rate, best_rate = engine.rate(started), raw.rate(started), timings[BEST].rate(TICKETS)
    probe = Engine(org, VirtualClock(MOMENT))  # how often a fresh engine asks durable-rules on this stream (not timed)
    created_and_closed(probe, classes, len(classes), "c")
    asked = probe.router.asked
    probe.close()
    bound_rate = len(classes) / (len(classes) / best_rate + asked / raw_rate)
    print(f"          cold start {COLD_STARTS} fresh engines a timing, each then taking the first ticket of each of {len(classes):,} "
          f"classes, created → closed: {engine.spread()}, {engine_rate:,.0f} tickets/s; {COLD_STARTS} fresh rulesets, each then "
          f"posted the first of each: "
          f"{raw.spread()}, {raw_rate:,.0f}/s; ratio {engine_rate / raw_rate:.2f}x (by round: "
          f"{engine.ratios_by_round(1, raw, 1)}; target ≥ 1x); building an engine took {engine_built * 1000:.0f} ms, a "
          f"ruleset {raw_built * 1000:.0f} ms (the least of the builds); bound: the best case's work for each ticket and a first post for each of "
          f"the {asked:,} sets of rules taking a class that durable-rules is asked about, {bound_rate / raw_rate:.2f}x (the "
          f"best case's alone: {best_rate / raw_rate:.2f}x)")


DESK = """apiVersion: cxrules/v1
kind: Organisation
org: {{id: desk, name: A desk kept full, timezone: Asia/Shanghai, calendar: always, fallback_queue: desk}}
calendars: [{{id: always, hours: {{daily: ["00:00-24:00"]}}}}]
units: [{{id: centre, name: Centre}}]
roles:
  - {{id: desk, name: Desk, unit: centre, authority: true, duties: [answer], handles: [question], capacity: {capacity},
     assignment: {assignment}, staff: [{{shift: always, agents: {agents}}}]}}
duties: [{{id: answer, name: Answer customers, accountable: [desk]}}]
channels: [{{id: phone, name: Phone}}]
categories: [{{id: question, name: Question}}]
segments: [{{id: everyone, name: Everyone}}]
routing: [{{id: all, match: {{category: [question]}}, to: desk, precedence: 1}}]
"""
"""An org of one role, ``agents`` agents of ``capacity`` tickets each, given tickets by ``assignment``."""

DESK_CAPACITY = 5


class LoadsIndexed(MemoryStore):
    """The memory store as a class of the bench's, as :class:`LoadsReadAfresh` is: compiled code calls the methods of an
    interpreted subclass more slowly, so both pay that alike."""


class LoadsReadAfresh(MemoryStore):
    """A memory store that keeps no index of agents by load: the engine reads the whole team's loads for each pick, as it
    does of a store whose loads other processes change."""

    def load_index(self, pools):
        return None


class KeptFull:
    """An engine on a desk of ``agents`` in a fresh ``store``, given a full load and a queue as long as the team before it
    is timed."""

    def __init__(self, folder: Path, agents: int, assignment: str, store: type[MemoryStore]):
        path = folder / f"desk_{agents}_{assignment}.yaml"
        path.write_text(DESK.format(agents=agents, capacity=DESK_CAPACITY, assignment=assignment), encoding="utf-8")
        self.engine = Engine(cxrules.load_org(path), VirtualClock(START), store())
        self.created = 0
        self.closed = 0
        for _ in range(agents * (DESK_CAPACITY + 1)):
            self._create()

    def _create(self) -> None:
        self.engine.clock.advance(timedelta(minutes=1))
        self.engine.submit(TicketCreated(f"d{self.created}", category="question", channel="phone", segment="everyone",
                                         priority="normal"))
        self.created += 1

    def run(self, tickets: int) -> tuple[dict[str, int], int]:
        """``tickets`` created, each queued, then the oldest open one closed: its agent takes the queue's head. Returns
        the agents' loads and the round-robin cursor after, which tell whether two stores picked alike."""
        for _ in range(tickets):
            self._create()
            self.engine.submit(Closed(f"d{self.closed}"))
            self.closed += 1
        store = self.engine.store
        return dict(store.loads), store.cursor("desk")


def desks(folder: Path) -> None:
    """A desk kept full, 10 agents and 1,000, the loads indexed (the memory store) and read afresh for each pick."""
    print(f"engine    a desk kept full (bench/engine_workloads.py DESK): one role, 10 agents then 1,000, {DESK_CAPACITY} tickets "
          f"each and a queue as long as the team; {REPEAT}x each", flush=True)
    stores = {"indexed": LoadsIndexed, "read afresh": LoadsReadAfresh}
    for assignment in ("least_loaded", "round_robin"):
        per_ticket, picked = {}, {}
        for agents, (name, store) in itertools.product((10, 1000), stores.items()):
            timing = repeated(lambda desk: desk.run(DESK_TICKETS), setup=partial(KeptFull, folder, agents, assignment, store),
                              teardown=lambda desk: desk.engine.close())
            per_ticket[name, agents] = timing.best / DESK_TICKETS * 1e6
            assert picked.setdefault(agents, timing.value) == timing.value, "the two stores picked different agents"
        print(f"          {assignment.replace('_', ' '):<12} {DESK_TICKETS:,} tickets, each queued as the oldest closes "
              "(µs a ticket, min of the repeats; 10 agents → 1,000): " + "; ".join(
                  f"loads {name}: {per_ticket[name, 10]:.1f} → {per_ticket[name, 1000]:.1f}, "
                  f"{per_ticket[name, 1000] / per_ticket[name, 10]:.2f}x" for name in stores), flush=True)


def memory(path: Path) -> None:
    """The realistic stream, made lazily, over BENCH_MEMORY_EVENTS events in a fresh process: RSS at each quarter."""
    done = subprocess.run([sys.executable, __file__, "memory", str(path), str(MEMORY_EVENTS)], capture_output=True, text=True)
    if done.returncode:
        print(f"          memory     FAILED (exit {done.returncode}):\n{done.stderr[-3000:]}")
        return
    figures = json.loads(done.stdout.splitlines()[-1])
    print(f"          memory     {MEMORY_EVENTS:,} events of the stream in a fresh process (one run): RSS with the org loaded "
          f"{figures['loaded_mb']:.0f} MB, after each quarter " + " → ".join(f"{mb:.0f}" for mb in figures["rss_mb"])
          + f" MB (target flat), peak {figures['peak_mb']:.0f} MB; {figures['events_per_second']:,.0f} events/s, "
          f"{figures['tickets_kept']:,} tickets held at the end", flush=True)


def memory_run(path: str, total: int) -> dict:
    """In its own process: RSS after loading the org and after each quarter of ``total`` events of the stream."""
    org = cxrules.load_org(path)
    gc.collect()
    loaded = rss_mb()
    served = serve(org, total, checkpoints=4)
    return {"loaded_mb": loaded, "rss_mb": served.rss_mb, "peak_mb": peak_mb(), "events_per_second": total / served.seconds,
            "tickets_kept": served.tickets_kept}


def engine_orgs(folder: Path) -> list[tuple[str, Path]]:
    """The engine's two routing tables, each with its label: the generated 1,000-rule org (written into ``folder``), then the
    seed org's (the cachesim part counts on the same two)."""
    generated = folder / "engine.yaml"
    generated.write_text(generate_yaml(roles=200, categories=100, channels=5, segments=4, rules=1000, service=True), encoding="utf-8")
    return [("generated org (bench/generate.py with service=True)", generated), ("orgs/automotive.yaml", ROOT / "orgs" / "automotive.yaml")]


def bench_engine(folder: Path) -> None:
    """The generated table, then the seed org's."""
    for label, path in engine_orgs(folder):
        bench_table(label, path)
    desks(folder)


if __name__ == "__main__":
    if sys.argv[1] == "memory":
        print(json.dumps(memory_run(sys.argv[2], int(sys.argv[3]))))
