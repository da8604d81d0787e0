"""What every store promises the engine (issue 12), run on SQLite and on PostgreSQL; and what only memory cannot.

The in-memory engine is the reference: a durable store must give the same decisions and
the same state, keep nothing of an event that fails half-way, make a batch durable together
(group commit) and hold no ticket in memory between events.
"""

from __future__ import annotations

import sqlite3
import tracemalloc
from random import Random
from dataclasses import asdict, fields
from datetime import timedelta

import pytest

import cxrules
from cxrules.engine import (Engine, MemoryStore, Resolved, SqliteStore, StoreError, TicketCreated, VirtualClock)
from cxrules.engine.postgres import PostgresStore, is_database_url
from cxrules.engine import eventcheck
from cxrules.engine.snapshot import _SETS, _TIMES
from cxrules.engine.sqlite import decision_to_json
from cxrules.engine.store import TicketState, copy_ticket

from conftest import ORGS
from engine_helpers import local
from test_durability import END, ORG, stream

LOGISTICS = cxrules.load_org(ORGS / "logistics.yaml")


@pytest.fixture(params=["sqlite", "postgres"])
def store_at(request, tmp_path):
    """Where a durable store lives: a file path or a database URL (each test gets an empty one)."""
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    return request.getfixturevalue("postgres_url")


def as_data(decisions) -> list[str]:
    return [decision_to_json(x) for x in decisions]


def test_decisions_and_state_are_those_of_the_in_memory_engine(store_at):
    events = stream(200)
    memory = Engine(ORG, VirtualClock(events[0].at), MemoryStore())
    durable = Engine(ORG, VirtualClock(events[0].at), store_at)
    for event in events:
        assert as_data(durable.submit(event)) == as_data(memory.submit(event)), event
    assert as_data(durable.advance(END)) == as_data(memory.advance(END))
    assert {t.id: asdict(t) for t in durable.store.all_tickets()} == {t.id: asdict(t) for t in memory.store.all_tickets()}
    assert durable.fallback_tickets == memory.fallback_tickets
    assert [durable.queue(role.id) for role in ORG.roles] == [memory.queue(role.id) for role in ORG.roles]
    assert durable.store.next_due() == memory.store.next_due() and durable.store.events_applied == len(events)


def test_the_tail_of_a_count_s_facts_is_that_of_all_of_them_in_a_durable_store(store_at):
    """A count reads how many facts its key holds in the window and the last count-1 of them, stored ones and those the
    unit added alike (the database counts and returns the tail): what the whole list gives."""
    store = SqliteStore(store_at) if not is_database_url(store_at) else PostgresStore(store_at)
    rng, start, clock = Random(5), local(2025, 3, 3, 10), 0
    try:
        for _ in range(40):
            store.begin(("event", None))
            for _ in range(rng.randrange(4)):
                clock += rng.randrange(0, 90)
                at = start + timedelta(seconds=clock)
                key = rng.choice(["C1", "C2"])
                store.add_fact(key, at, f"T{clock}", at + timedelta(seconds=rng.choice([60, 600])))
                after, last = at - timedelta(seconds=rng.randrange(0, 400)), rng.randrange(1, 7)
                told = store.facts_tail(key, after, last)
                kept = store.facts_since(key, after)
                assert told == (len(kept), kept[-last:])
            if rng.random() < 0.3:
                store.expire_facts(start + timedelta(seconds=clock - 120))
            store.commit(0, [])
    finally:
        store.close()


def _ticket_fields_given(flag: str) -> dict:
    """Values for every field of a ticket, all different from their defaults and from each other (of the flags, only ``flag``
    is true)."""
    values: dict = {}
    for number, name in enumerate(spec.name for spec in fields(TicketState)):  # by name: compiled, the annotations are gone
        values[name] = (name == flag if name in ("member", "responded", "fallback") else number if name in ("generation", "first_seq")
                        else float(number) if name.endswith("_min") else local(2025, 3, 3, 10) + timedelta(minutes=number) if name in _TIMES
                        else {name} if name == "fired" else frozenset({name}) if name in _SETS else name)
    return values


@pytest.mark.parametrize("flag", ["member", "responded", "fallback"])
def test_a_copied_ticket_has_every_field(flag):
    """copy_ticket names each field (it is on every event's path): one left out or put in another's place shows here."""
    given = _ticket_fields_given(flag)
    ticket = TicketState(**given)  # its __init__ is written out: each field must hold what it was given
    twin = copy_ticket(ticket)
    assert asdict(ticket) == given and asdict(twin) == given


def test_a_copied_ticket_has_fired_keys_of_its_own_and_frozen_sets_shared():
    """The undo copy shares the sets that seldom change rather than copying them on every event: only safe if no one can
    change one in place (a change replaces the set). Its fired keys, which change as its timers fire, are its own."""
    ticket = TicketState(**_ticket_fields_given("member"))
    twin = copy_ticket(ticket)
    assert [type(getattr(ticket, name)) for name in _SETS] == [set, frozenset, frozenset] and twin.fired is not ticket.fired


def test_a_ticket_changed_in_a_unit_that_is_rolled_back_is_as_it_was():
    """A unit that changed a ticket (every field, its sets included) and is rolled back leaves the ticket as it was."""
    given = _ticket_fields_given("member")
    store = MemoryStore()
    store.put(TicketState(**{**given, "fired": set(given["fired"])}))
    store.begin(("event", None))
    ticket = store.get(given["id"])
    for name, value in given.items():
        if name == "fired":
            ticket.fired.add("changed")
        elif name in _SETS:
            setattr(ticket, name, getattr(ticket, name) | {"changed"})
        elif name != "id":
            setattr(ticket, name, not value if isinstance(value, bool) else value + timedelta(days=1) if name in _TIMES else value * 2 + 1
                    if isinstance(value, (int, float)) else value + "!")
    store.rollback(0)
    again = store.get(given["id"])
    assert asdict(again) == given and again is not ticket


@pytest.mark.parametrize("next_seq", [-1, 0, 7])
def test_a_rolled_back_unit_gives_back_the_timer_sequence_it_started_from(next_seq):
    """Whatever number a store restored from a snapshot goes on from (one edited by hand may say -1)."""
    store = MemoryStore()
    store.restore({**store.state(), "next_seq": next_seq})
    store.begin(("event", None))
    store.reserve_seq()
    store.schedule(local(2025, 3, 3, 10), "drain", None, "drain:desk", "desk")
    store.rollback(0)
    assert (store.next_seq, store.next_due()) == (next_seq, None)


def surge_of_delays(count: int, start=local(2025, 3, 3, 10), prefix="D") -> list[TicketCreated]:
    return [TicketCreated(f"{prefix}{n}", category="delay", channel="phone", segment="retail", priority="normal",
                          at=start + timedelta(seconds=30 * n)) for n in range(count)]


def test_surge_windows_count_and_expire_as_in_memory(store_at):
    """Arrivals are rows that leave the window as the clock moves: the surge team comes and goes as in memory."""
    events = surge_of_delays(60) + surge_of_delays(60, local(2025, 3, 3, 14), "E")
    memory = Engine(LOGISTICS, VirtualClock(events[0].at), MemoryStore())
    durable = Engine(LOGISTICS, VirtualClock(events[0].at), store_at)
    kinds = []
    for event in events:
        made = durable.submit(event)
        assert as_data(made) == as_data(memory.submit(event))
        kinds += [x.kind for x in made]
    assert kinds.count("SurgeActivated") == 2 and kinds.count("SurgeDeactivated") == 1


def test_a_batch_gives_the_decisions_of_single_submits_and_rolls_back_a_failing_event_alone(store_at, monkeypatch):
    events = stream(120)
    single = Engine(ORG, VirtualClock(events[0].at), MemoryStore())
    batched = Engine(ORG, VirtualClock(events[0].at), store_at)
    seen = []
    batched.on(None, lambda decision: seen.append(decision.key))
    expected = [as_data(single.submit(event)) for event in events]
    got = [as_data(decisions) for start in range(0, len(events), 25) for decisions in batched.submit_all(events[start:start + 25])]
    assert got == expected and len(seen) == sum(len(decisions) for decisions in expected)  # every handler ran, once
    good = TicketCreated("G1", category="consultation", channel="phone", segment="normal", priority="normal", at=END)
    bad = Resolved(events[-2].ticket_id, at=END)
    half_done = Engine._resolved

    def fails_half_way(self, ticket, event, at):
        half_done(self, ticket, event, at)
        raise OverflowError("date value out of range")

    monkeypatch.setattr(Engine, "_resolved", fails_half_way)
    made = batched.submit_all([good, bad])
    assert made[1][0].kind == "Refused" and batched.ticket("G1") is not None
    assert batched.ticket(bad.ticket_id).status != "resolved" and not batched.ticket(bad.ticket_id).followups_pending


def test_a_batch_whose_commit_fails_keeps_nothing_and_runs_no_handler(tmp_path, monkeypatch):
    store = SqliteStore(tmp_path / "state.db")
    engine = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), store)
    seen = []
    engine.on(None, seen.append)
    engine.submit(TicketCreated("T0", category="consultation", channel="phone", segment="normal", priority="normal"))
    seen.clear()
    real = store._run

    def disk_full_at_commit(sql, parameters=()):
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return real(sql, parameters)

    monkeypatch.setattr(store, "_run", disk_full_at_commit)
    with pytest.raises(StoreError, match="nothing of the batch was kept: database or disk is full"):
        engine.submit_all([TicketCreated(f"T{n}", category="consultation", channel="phone", segment="normal", priority="normal")
                           for n in (1, 2)])
    monkeypatch.undo()
    assert seen == [] and engine.ticket("T1") is None and engine.store.events_applied == 1
    assert [x.kind for x in engine.submit(TicketCreated("T1", category="consultation", channel="phone", segment="normal",
                                                        priority="normal"))] == ["Assigned"]


def _memory_held_after(engine: Engine, tickets: int, offset: int = 0) -> int:
    for n in range(offset, offset + tickets):
        engine.submit(TicketCreated(f"T{n}", category="shipment_status", channel="phone", segment="retail", priority="normal"))
        engine.submit(Resolved(f"T{n}"))
    # the engine's cache of texts found sound is bounded and shared by every engine in the process: it would hold each new
    # ticket's id, as much as SQLite's whole allowance here (more once earlier tests have grown it)
    eventcheck._CLEAN.clear()
    return tracemalloc.get_traced_memory()[0]


def test_resolved_tickets_leave_memory_with_a_durable_store(tmp_path):
    """Memory after 3,000 more resolved-not-closed tickets (each keeps its follow-up timers): flat on SQLite, growing in memory."""
    durable = Engine(LOGISTICS, VirtualClock(local(2025, 3, 3, 10)), SqliteStore(tmp_path / "state.db", keep_tickets=0))
    memory = Engine(LOGISTICS, VirtualClock(local(2025, 3, 3, 10)), MemoryStore())
    tracemalloc.start()
    try:
        growth = {}
        for name, engine in (("sqlite", durable), ("memory", memory)):
            before = _memory_held_after(engine, 500)
            growth[name] = _memory_held_after(engine, 3000, 500) - before
    finally:
        tracemalloc.stop()
    assert durable.store.ticket_count == 3500 and durable.store.timer_count > 3500
    assert growth["memory"] > 3_000_000          # about 1.5 KB a ticket in memory...
    assert growth["sqlite"] < 300_000            # ...and next to nothing with the state on disk


def test_a_number_another_timer_holds_is_not_taken_again(store_at):
    """A timer scheduled under a number another holds (a warning edited by hand may name any as its breach's), stored or of
    the same unit, takes the next number: both are kept and leave in order, where the unit's timers would have been compared
    field by field (a text and a number, here) and the store's rows, keyed by number, refused at commit."""
    at = local(2025, 3, 3, 10)
    store = PostgresStore(store_at) if is_database_url(store_at) else SqliteStore(store_at)
    try:
        store.commit(store.begin(("advance", at)), [])
        stored = store.next_seq
        unit = store.begin(("advance", at))
        store.schedule(at, "surge", None, "surge:w", 0)
        store.commit(unit, [])
        unit = store.begin(("advance", at))
        store.schedule(at, "surge", None, "surge:w", "one", stored)
        store.schedule(at, "surge", None, "surge:w", 2, stored)
        store.commit(unit, [])
        unit = store.begin(("advance", at))
        assert [(timer.seq, timer.data) for timer in iter(lambda: store.pop_due(at), None)] == [
            (stored, 0), (stored + 1, "one"), (stored + 2, 2)]
        store.commit(unit, [])
    finally:
        store.close()
