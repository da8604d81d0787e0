"""The PostgreSQL store (issue 12): the engine's contract on a real server, several processes on one database.

Every test gets a fresh database from the server in ``CXRULES_TEST_POSTGRES`` (the
`postgres_url` fixture); `.ci/run` installs and starts PostgreSQL from the distribution.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import asdict

import psycopg
import pytest

import cxrules
from cxrules.engine import (Engine, PostgresStore, Resolved, StoreError, TicketCreated, VirtualClock)
from cxrules.engine.sqlite import event_to_json

from conftest import ORGS, ROOT
from engine_helpers import DiesBeforeHandlers, keys_differ, local, make_org
from test_durability import END, ORG, reference_keys, stream


def accepted(decisions) -> bool:
    return all(x.kind != "Refused" for x in decisions)


def test_state_lives_in_the_database_not_in_the_process(postgres_url):
    """A second engine on the same database sees every ticket the first made, with nothing handed over in memory."""
    first = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), postgres_url)
    first.submit(TicketCreated("T1", category="consultation", channel="phone", segment="normal", priority="normal"))
    second = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), postgres_url)
    assert second.ticket("T1") == first.ticket("T1") and second.ticket("T1").agent
    assert accepted(second.submit(Resolved("T1", at=local(2025, 3, 10, 11))))
    assert first.ticket("T1").status == "resolved"
    assert first.store._unit is None and not hasattr(first.store, "tickets")  # nothing kept between units


def test_an_event_failing_half_way_is_rolled_back_in_the_database(postgres_url, monkeypatch):
    engine = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), postgres_url)
    engine.submit(TicketCreated("T1", category="consultation", channel="phone", segment="normal", priority="normal"))
    before = (asdict(engine.ticket("T1")), engine.store.next_seq, engine.store.next_due(), engine.store.events_applied)
    half_done = Engine._resolved

    def fails_half_way(self, ticket, event, at):
        half_done(self, ticket, event, at)
        raise OverflowError("date value out of range")

    monkeypatch.setattr(Engine, "_resolved", fails_half_way)
    assert engine.submit(Resolved("T1", at=local(2025, 3, 10, 10, 5)))[0].kind == "Refused"
    applied = engine.store.events_applied
    assert (asdict(engine.ticket("T1")), engine.store.next_seq, engine.store.next_due(), applied - 1) == before  # only counted
    monkeypatch.undo()
    assert accepted(engine.submit(Resolved("T1", at=local(2025, 3, 10, 10, 6))))


def test_a_damaged_row_refuses_its_event_and_the_engine_goes_on(postgres_url):
    engine = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), postgres_url)
    for name in ("T1", "T2"):
        engine.submit(TicketCreated(name, category="consultation", channel="phone", segment="normal", priority="normal"))
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("UPDATE cx_tickets SET state = '{\"id\": 5}' WHERE id = 'T1'")
    refused = engine.submit(Resolved("T1", at=local(2025, 3, 10, 10, 5)))
    assert refused[0].kind == "Refused" and "differ from the engine's" in refused[0].reason
    assert accepted(engine.submit(Resolved("T2", at=local(2025, 3, 10, 10, 6))))


def _dies(engine: Engine, postgres_url: str) -> None:
    """The engine's process gone, as the server sees it: its session ended on the server. Closing the socket alone raced the
    server, which ends a session whose client left a moment later (the liveness lock still held when the next advance looked);
    `pg_terminate_backend` with a timeout returns once the session has ended (the timeout only guards against a hang)."""
    pid = engine.store.db.info.backend_pid
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 600000)", (pid,)).fetchone() == (True,)
    engine.store.db.close()


def test_decisions_a_dead_process_left_undelivered_are_taken_over_once(postgres_url):
    dying = DiesBeforeHandlers(ORG, VirtualClock(local(2025, 3, 10, 10)), postgres_url)
    decided = dying.submit(TicketCreated("T1", category="consultation", channel="phone", segment="normal", priority="normal"))
    alive = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), postgres_url)
    seen = []
    alive.on(None, seen.append)
    alive.advance()
    assert seen == []                                             # its owner still lives: not taken
    _dies(dying, postgres_url)                                    # the process is gone: its liveness lock with it
    alive.advance()
    assert [x.key for x in seen] == [x.key for x in decided]
    third = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), postgres_url)
    again = []
    third.on(None, again.append)
    third.start()
    alive.advance()
    assert again == [] and len(seen) == len(decided)


def test_failed_handlers_are_counted_and_dead_lettered_in_the_outbox(postgres_url):
    from cxrules.engine import DeliveryPolicy

    engine = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), postgres_url, delivery=DeliveryPolicy(attempts=2))

    def broken(decision):
        raise ConnectionError("broker down")

    engine.on(None, broken)
    made = engine.submit(TicketCreated("T1", category="consultation", channel="phone", segment="normal", priority="normal"))
    assert engine.store.delivery_attempts(made[0].key) == 1
    engine.redeliver()
    assert [letter.decision.key for letter in engine.dead_letters] == [x.key for x in made]
    assert Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), postgres_url).dead_letters[0].error == "ConnectionError: broker down"


def test_another_org_is_refused_and_a_changed_org_reloads_then_stops_the_old_version(postgres_url, tmp_path):
    old = make_org(tmp_path)
    engine = Engine(old, VirtualClock(local(2025, 3, 3, 10)), postgres_url)
    engine.submit(TicketCreated("C", category="repair_quality", channel="phone", segment="normal", priority="normal"))
    with pytest.raises(StoreError, match="holds the state of org `tiny`, not `logistics`"):
        Engine(cxrules.load_org(ORGS / "logistics.yaml"), VirtualClock(local(2025, 3, 3, 10)), postgres_url)

    def without_repair_quality(data):
        data["categories"][0].pop("children")
    new = Engine(make_org(tmp_path, without_repair_quality, "v2.yaml"), VirtualClock(local(2025, 3, 3, 10)), postgres_url)
    assert new.store.org_change.moved_to_fallback == ("C",) and "C" in new.fallback_tickets
    with pytest.raises(StoreError, match="changed version of the org"):
        engine.submit(TicketCreated("D", category="question", channel="phone", segment="normal", priority="normal"))


def test_an_unreachable_database_is_one_clear_error_without_the_password():
    with pytest.raises(StoreError, match=r"cannot use the database postgresql://cx@127\.0\.0\.1:1/none as a cxrules store"):
        PostgresStore("postgresql://cx:secret@127.0.0.1:1/none", connect_timeout=2)


class Child:
    """One engine process of the kill test."""

    def __init__(self, tmp_path, url, outbox):
        self.errors = open(tmp_path / "child.err", "a", encoding="utf-8")  # a file, not a pipe: a chatty child never blocks
        self.process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "pg_child.py"), str(ORGS / "automotive.yaml"), url,
                                         stream(1)[0].at.isoformat(), str(outbox)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors, text=True, bufsize=1)

    def ask(self, line: str) -> int:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.answer()

    def answer(self) -> int:
        reply = self.process.stdout.readline()
        assert reply.startswith("applied "), f"child said {reply!r}"
        return int(reply.split()[1])

    def kill(self) -> int:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=600)  # a guard against a hang, not a speed limit
        return self.process.pid

    def finish(self) -> None:
        self.process.stdin.close()
        assert self.process.wait(timeout=600) == 0


def test_three_processes_with_random_sigkills_lose_no_decision_and_fire_no_timer_twice(postgres_url, tmp_path):
    """Events go in order to a random one of three engine processes on one database; now and then one is killed.

    Kill points are chosen by progress (before it reads an event, while it applies one, or
    right after), never by time. A killed process is replaced; its undelivered decisions are
    taken over by another. Each decision of the single-process reference must be delivered,
    and a decision delivered twice only when a killed process delivered it first.
    """
    events = stream(300)
    outbox = tmp_path / "outbox.txt"
    rng = random.Random(12)
    children = [Child(tmp_path, postgres_url, outbox) for _ in range(3)]
    for child in children:
        child.answer()
    killed: set[int] = set()
    applied = kills = 0
    while applied < len(events):
        number = rng.randrange(3)
        child = children[number]
        if rng.random() < 0.08:
            when = rng.choice(["idle", "applying", "after"])
            if when != "idle":
                child.process.stdin.write("event " + event_to_json(events[applied]) + "\n")
                child.process.stdin.flush()
                if when == "after":
                    child.answer()
            killed.add(child.kill())
            kills += 1
            children[number] = Child(tmp_path, postgres_url, outbox)
            if rng.random() < 0.2:  # killed again while recovering and taking over
                killed.add(children[number].kill())
                children[number] = Child(tmp_path, postgres_url, outbox)
            applied = children[number].answer()
            continue
        applied = child.ask("event " + event_to_json(events[applied]))
    children[0].ask(f"advance {END.isoformat()}")
    for child in children:
        child.ask(f"advance {END.isoformat()}")  # each takes over what the dead left
        child.finish()
    deliveries: dict[str, list[int]] = defaultdict(list)
    for line in outbox.read_text(encoding="utf-8").splitlines():
        pid, key = line.split(" ", 1)
        deliveries[key].append(int(pid))
    expected = Counter(reference_keys(events))
    assert kills >= 5 and not (differ := keys_differ(expected, deliveries)), differ  # no decision lost, none invented
    for key, pids in deliveries.items():
        assert all(pid in killed for pid in pids[:-1]), (key, pids)              # again only after its deliverer died
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT count(*) FROM cx_outbox").fetchone()[0] == 0       # every decision delivered and gone


def test_three_processes_at_once_keep_loads_queues_and_timers_consistent(postgres_url, tmp_path):
    """Three engines feed their own tickets at the same time; units interleave, and the shared state still adds up."""
    events = stream(240)
    children = []
    for part in range(3):
        mine = [event for event in events if int(event.ticket_id[1:]) % 3 == part]
        script = tmp_path / f"feed{part}.txt"
        script.write_text("".join(f"event {event_to_json(event)}\n" for event in mine), encoding="utf-8")
        children.append(subprocess.Popen([sys.executable, str(ROOT / "tests" / "pg_child.py"), str(ORGS / "automotive.yaml"),
                                          postgres_url, events[0].at.isoformat(), str(tmp_path / "outbox.txt")],
                                         stdin=open(script, encoding="utf-8"), stdout=subprocess.DEVNULL,
                                         stderr=open(tmp_path / f"err{part}.txt", "w", encoding="utf-8")))
    for part, child in enumerate(children):
        assert child.wait(timeout=600) == 0, (tmp_path / f"err{part}.txt").read_text(encoding="utf-8")[-2000:]
    engine = Engine(ORG, VirtualClock(END), postgres_url)
    assert engine.store.events_applied == len(events)
    tickets = engine.store.all_tickets()
    with psycopg.connect(postgres_url) as db:
        loads = dict(db.execute("SELECT agent, load FROM cx_loads").fetchall())
        queued = Counter(role for role, in db.execute("SELECT role FROM cx_queued").fetchall())
        lengths = dict(db.execute("SELECT role, length FROM cx_queues").fetchall())
    held = Counter(t.agent for t in tickets if t.agent)
    assert {agent: load for agent, load in loads.items() if load} == dict(held)           # no load lost or counted twice
    assert {role: n for role, n in lengths.items() if n} == dict(queued)
    assert sorted(t.id for t in tickets if t.status == "queued") == sorted(
        ticket for role in queued for ticket in engine.queue(role))
    delivered = Counter(line.split(" ", 1)[1] for line in (tmp_path / "outbox.txt").read_text(encoding="utf-8").splitlines())
    assert max(delivered.values()) == 1                                                      # each decision once
