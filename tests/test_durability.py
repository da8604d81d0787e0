"""The engine on a SQLite store: restarts lose nothing, timers fire once, handlers run at least once, reloads."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta

import pytest

import cxrules
from cxrules.engine import (Engine, MemoryStore, Resolved, SlaBreached, SqliteStore, StoreError,
                            TicketCreated, VirtualClock, Waiting)
from cxrules.engine.sqlite import event_to_json

from conftest import ORGS, ROOT
from engine_helpers import DiesBeforeHandlers, abandon, keys_differ, local, make_org

ORG = cxrules.load_org(ORGS / "automotive.yaml")
END = local(2025, 3, 25)


def stream(count=60):
    """A deterministic stream of arrivals and resolutions over a long weekend."""
    events = []
    for i in range(count):
        at = local(2025, 3, 7, 9) + timedelta(minutes=29 * i)
        events.append(TicketCreated(f"T{i}", category=["complaint", "consultation", "technical_fault", "appointment"][i % 4],
                                    channel=["phone", "wechat", "app"][i % 3], segment=["vip", "normal", "key"][i % 3],
                                    priority=["high", "normal", "urgent"][i % 3], member=i % 2 == 0, at=at))
        if i >= 4 and i % 3:
            events.append(Resolved(f"T{i - 4}", at=at + timedelta(minutes=1)))
    return events


def reference_keys(events) -> list[str]:
    engine = Engine(ORG, VirtualClock(events[0].at))
    keys = [x.key for event in events for x in engine.submit(event)] + [x.key for x in engine.advance(END)]
    engine.close()
    return keys


def test_restarts_rebuild_exactly_the_state_and_decisions_of_an_uninterrupted_run(tmp_path):
    events = stream()
    keys: list[str] = []
    position = 0
    while position < len(events):
        store = SqliteStore(tmp_path / "store.db")
        engine = Engine(ORG, VirtualClock(events[0].at), store)
        keys += [x.key for x in engine.start()]
        assert store.events_applied == position
        for event in events[position:position + 13]:
            keys += [x.key for x in engine.submit(event)]
        position = min(position + 13, len(events))
        engine.close()
        store.close()
    store = SqliteStore(tmp_path / "store.db")
    engine = Engine(ORG, VirtualClock(events[-1].at), store)
    keys += [x.key for x in engine.advance(END)]
    assert sorted(keys) == sorted(reference_keys(events))


@pytest.mark.parametrize("batched", [False, True], ids=["one by one", "submit_all"])
def test_a_feeder_resuming_after_the_events_counted_applies_none_twice_though_some_were_refused(tmp_path, monkeypatch, batched):
    """Events refused by the check, or rolled back because applying them failed, are counted with those applied (in a
    batch too): a feeder that resumes after the store's count neither skips an event nor applies one twice."""
    def broken(self, ticket, event, at):
        raise RuntimeError("a bug in applying it")

    monkeypatch.setattr(Engine, "_waiting", broken)
    events = stream()
    for i in reversed(range(0, len(events), 7)):
        if isinstance(events[i], TicketCreated):
            at = events[i].at
            events[i + 1:i + 1] = [Resolved("bad\x00id", at=at), Waiting(events[i].ticket_id, "waiting_customer", at=at)]
    keys: list[str] = []
    for _ in events:  # a round feeds at least one event, unless the count falls short
        store = SqliteStore(tmp_path / "store.db")
        engine = Engine(ORG, VirtualClock(events[0].at), store)
        keys += [x.key for x in engine.start()]
        fed = store.events_applied
        chunk = events[fed:fed + 5]
        made = engine.submit_all(chunk) if batched else [engine.submit(event) for event in chunk]
        keys += [x.key for decisions in made for x in decisions]
        engine.close()
        store.close()
        if fed == len(events):
            break
    engine = Engine(ORG, VirtualClock(events[-1].at), SqliteStore(tmp_path / "store.db"))
    keys += [x.key for x in engine.advance(END)]
    refused = Counter("by the check" if "control character" in key else "rolled back" for key in keys
                      if "control character" in key or "a bug in applying it" in key)
    assert refused == {"by the check": 9, "rolled back": 9} and engine.store.events_applied == len(events)
    assert not keys_differ(reference_keys(events), keys) and sorted(keys) == sorted(reference_keys(events))


def test_timers_due_while_down_fire_at_start_in_order_with_their_due_times(tmp_path):
    store = SqliteStore(tmp_path / "store.db")
    engine = Engine(ORG, VirtualClock(local(2025, 3, 7, 19, 30)), store)
    engine.submit(TicketCreated("T1", category="complaint", channel="wechat", segment="vip", priority="high", member=True))
    engine.close()
    store.close()
    later = Engine(ORG, VirtualClock(local(2025, 3, 12)), SqliteStore(tmp_path / "store.db"))
    fired = later.start()
    assert fired and [x.at for x in fired] == sorted(x.at for x in fired)
    breaches = [x for x in fired if isinstance(x, SlaBreached)]
    assert breaches[0].at == local(2025, 3, 8, 8, 45) == breaches[0].due   # the original due time, not the restart time
    assert later.start() == []                                             # and never again


def _crash_then_restart(path) -> tuple[list, list]:
    """Submit one ticket in a process that dies before handlers run; restart."""
    store = SqliteStore(path)
    engine = DiesBeforeHandlers(ORG, VirtualClock(local(2025, 3, 10, 10)), store)
    decided = engine.submit(TicketCreated("T1", category="consultation", channel="phone", segment="normal", priority="normal"))
    abandon(store)
    delivered = []
    restarted = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), SqliteStore(path))
    restarted.on(None, delivered.append)
    restarted.start()
    restarted.store.close()
    return decided, delivered


def test_decisions_whose_handlers_did_not_run_are_delivered_after_a_restart(tmp_path):
    decided, delivered = _crash_then_restart(tmp_path / "store.db")
    assert decided and [x.key for x in delivered] == [x.key for x in decided]       # same idempotency keys
    again = []
    third = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), SqliteStore(tmp_path / "store.db"))
    third.on(None, again.append)
    third.start()
    assert again == []


def _kill_child_command(tmp_path, events) -> list[str]:
    """How to start one child of a kill test (tests/kill_child.py) on ``events``, with its store and outbox in ``tmp_path``."""
    (tmp_path / "events.jsonl").write_text("".join(event_to_json(e) + "\n" for e in events), encoding="utf-8")
    return [sys.executable, str(ROOT / "tests" / "kill_child.py"), str(ORGS / "automotive.yaml"), str(tmp_path / "store.db"),
            str(tmp_path / "events.jsonl"), str(tmp_path / "outbox.txt"), END.isoformat()]


def _finished(child: subprocess.Popen, tmp_path) -> bool:
    """Whether a child that has ended ran to the end (False: it was killed); any other end fails the test with its stderr."""
    if child.returncode == -signal.SIGKILL:
        return False
    assert child.returncode == 0, (tmp_path / "child.err").read_text(encoding="utf-8")[-2000:]
    return True


def _check_deliveries(tmp_path, events, kills: int, runs: list[str]) -> None:
    """Handlers saw every decision of an uninterrupted run, none it did not make, and one again only after a kill."""
    delivered = (tmp_path / "outbox.txt").read_text(encoding="utf-8").splitlines()
    assert delivered[-1] == "DONE" and kills > 5
    expected = reference_keys(events)
    got = Counter(k for k in delivered if k != "DONE")
    assert not (differ := keys_differ(expected, got)), (  # no decision lost, none invented
        f"{differ}; children ran {runs}; they wrote {(tmp_path / 'child.err').read_text(encoding='utf-8')[-1500:]!r}")
    # at least once: a decision is delivered again only when a kill cut its batch short
    assert max(got.values()) <= kills + 1
    followups = [k for k in expected if k.startswith("FollowUpDue")]
    assert followups and all(got[k] >= 1 for k in followups)


def test_sigkill_at_random_points_loses_nothing_and_fires_each_timer_once(tmp_path):
    """Kill points are chosen by progress (events the child reports as applied), never by time.

    Each run is killed a random number of events after it starts (0: during recovery and
    start), so a busy machine changes nothing but how long the test takes; the number of
    runs is bounded by the events, since every killed run first applied some.
    """
    events = stream(1000)
    command = _kill_child_command(tmp_path, events)
    rng = random.Random(11)
    kills = 0
    runs: list[str] = []  # per child: the events it found applied, and how many it had reported when killed
    while True:
        errors = open(tmp_path / "child.err", "a", encoding="utf-8")  # a file, not a pipe: a chatty child never blocks
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        started_at = applied = None
        steps = 0 if rng.random() < 0.15 else rng.randint(1, 120)
        for line in child.stdout:
            applied = int(line.split()[1])
            started_at = applied if started_at is None else started_at
            if applied - started_at >= steps and (steps or applied < len(events)):
                child.send_signal(signal.SIGKILL)
                kills += 1
                break
        child.wait(timeout=600)  # a guard against a hang, not a speed limit
        errors.close()
        runs.append(f"{started_at}→{applied}")
        if _finished(child, tmp_path):
            break
        assert kills <= len(events), "the child makes no progress between kills"
    _check_deliveries(tmp_path, events, kills, runs)


def _kill_at_steps(tmp_path, events, seed: int, most: int) -> None:
    """Each child kills itself at a step drawn from 1 to ``most`` (the start of an SQL statement or of a handler call,
    counted from its first), until one finishes: where kills land depends on the seed alone, so a failure here fails
    again on any machine."""
    command = _kill_child_command(tmp_path, events)
    rng = random.Random(seed)
    kills = 0
    runs: list[str] = []  # the step each child was to die at
    while True:
        runs.append(str(rng.randint(1, most)))
        with open(tmp_path / "child.err", "a", encoding="utf-8") as errors:
            child = subprocess.Popen([*command, runs[-1]], stdout=subprocess.DEVNULL, stderr=errors)
            child.wait(timeout=600)  # a guard against a hang, not a speed limit
        if _finished(child, tmp_path):
            break
        kills += 1
        assert kills <= 50 * len(events), "the child makes no progress between kills"
    _check_deliveries(tmp_path, events, kills, runs)


def test_sigkill_at_steps_chosen_by_a_seed_loses_nothing(tmp_path):
    """Kills inside units of work, between a commit and its handlers, and in recovery, at points no machine's speed moves
    (a kill by progress lands where the child is when the parent reads its line, on a quick machine nearly always before
    the next commit)."""
    _kill_at_steps(tmp_path, stream(300), seed=5, most=1500)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20))
def test_sigkill_at_steps_of_many_seeds_loses_nothing(tmp_path, seed):
    """The same over the long stream with kills close together (`pytest -m slow -k steps`): to hunt a rare loss."""
    _kill_at_steps(tmp_path, stream(1000), seed=seed, most=600)


def test_a_store_of_another_org_or_a_corrupt_file_is_refused_clearly(tmp_path):
    first = Engine(ORG, VirtualClock(local(2025, 3, 7)), SqliteStore(tmp_path / "a.db"))
    first.submit(TicketCreated("T1", category="consultation", channel="phone", segment="normal", priority="normal"))
    first.store.close()
    with pytest.raises(StoreError, match="holds the state of org `automotive`"):
        Engine(cxrules.load_org(ORGS / "logistics.yaml"), VirtualClock(local(2025, 3, 7)), SqliteStore(tmp_path / "a.db"))
    (tmp_path / "b.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot use"):
        SqliteStore(tmp_path / "b.db")


def test_reload_keeps_tickets_in_flight_and_moves_those_whose_class_is_gone(tmp_path):
    old = make_org(tmp_path)
    engine = Engine(old, VirtualClock(local(2025, 3, 3, 10)), MemoryStore())
    engine.submit(TicketCreated("Q", category="question", channel="phone", segment="normal", priority="normal"))
    engine.submit(TicketCreated("C", category="repair_quality", channel="phone", segment="normal", priority="normal"))
    old_router = engine.router

    def without_repair_quality(data):
        data["categories"][0].pop("children")
    report = engine.reload(make_org(tmp_path, without_repair_quality, "v2.yaml"))
    assert report.kept == ("Q",) and report.moved_to_fallback == ("C",)
    assert old_router._ruleset is None                                  # the old ruleset is released
    assert engine.ticket("C").role == "desk" and "C" in engine.fallback_tickets


def test_an_invalid_new_file_is_refused_and_the_old_org_keeps_running(tmp_path):
    engine = Engine(make_org(tmp_path), VirtualClock(local(2025, 3, 3, 10)))
    (tmp_path / "broken.yaml").write_text("apiVersion: cxrules/v1\norg: {id: x}\n", encoding="utf-8")
    refused = engine.reload_file(tmp_path / "broken.yaml")
    assert isinstance(refused, list) and refused and refused[0].code.startswith("CX1")
    assert engine.org.info.id == "tiny"
    assert engine.submit(TicketCreated("A", category="question", channel="phone", segment="normal", priority="normal"))


def test_a_crash_before_the_commit_keeps_nothing_of_the_event(tmp_path, monkeypatch):
    """State and decisions are one transaction: a process killed before it commits leaves neither, so the feeder resubmits."""
    store = SqliteStore(tmp_path / "store.db")
    engine = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), store)
    engine.submit(TicketCreated("T0", category="consultation", channel="phone", segment="normal", priority="normal"))

    def killed(write, end):
        write()
        raise SystemExit("killed before COMMIT")

    monkeypatch.setattr(store, "_commit", killed)
    with pytest.raises(SystemExit):
        engine.submit(TicketCreated("T1", category="consultation", channel="phone", segment="normal", priority="normal"))
    abandon(store)
    restarted = Engine(ORG, VirtualClock(local(2025, 3, 10, 10)), SqliteStore(tmp_path / "store.db"))
    assert restarted.ticket("T0") and restarted.ticket("T1") is None and restarted.store.events_applied == 1
    assert all(x.ticket_id != "T1" for x in restarted.start())


def test_the_journal_keeps_an_event_time_in_its_zone_so_a_replay_adds_calendar_days_the_same_way():
    """Europe/Berlin changes offset on 2025-03-30: a time read back as a bare offset would put `+3d` an hour off."""
    from zoneinfo import ZoneInfo

    from cxrules.engine.sqlite import event_from_json

    berlin = ZoneInfo("Europe/Berlin")
    event = Resolved("T1", at=datetime(2025, 3, 28, 10, tzinfo=berlin))
    again = event_from_json(event_to_json(event))
    assert again.at.tzinfo == berlin and again.at + timedelta(days=3) == event.at + timedelta(days=3)
