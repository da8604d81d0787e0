"""Handlers that raise: their decisions stay undelivered, are retried with backoff, survive restarts, end as dead letters."""

from __future__ import annotations

import copy
import pickle
from datetime import timedelta

import pytest

import cxrules
from cxrules.engine import Assigned, DeliveryPolicy, Engine, Fallback, SqliteStore, TicketCreated, VirtualClock
from cxrules.engine.retries import DeadLetter, Undelivered

from conftest import ORGS
from engine_helpers import local

ORG = cxrules.load_org(ORGS / "logistics.yaml")
START = local(2025, 3, 3, 10)
POLICY = DeliveryPolicy(attempts=3, first_delay=timedelta(seconds=30), factor=4)


def ticket(ticket_id: str) -> TicketCreated:
    return TicketCreated(ticket_id, category="shipment_status", channel="phone", segment="retail", priority="normal")


class Broker:
    """A handler that is down for its first ``failures`` calls, and records what it was given."""

    def __init__(self, failures: int = 10**9):
        self.failures = failures
        self.calls: list[str] = []
        self.delivered: list[str] = []

    def __call__(self, decision) -> None:
        self.calls.append(decision.key)
        if len(self.calls) <= self.failures:
            raise RuntimeError("broker down")
        self.delivered.append(decision.key)


def engine_on(path, policy=POLICY, at=START) -> Engine:
    return Engine(ORG, VirtualClock(at), SqliteStore(path), delivery=policy)


def test_a_failed_handler_leaves_its_decision_undelivered_and_a_restart_delivers_it(tmp_path):
    engine = engine_on(tmp_path / "s.db")
    engine.on(Assigned, Broker())
    (assigned,) = [x for x in engine.submit(ticket("A")) if isinstance(x, Assigned)]
    assert any("broker down" in fault for fault in engine.faults)
    assert [x.decision.key for x in engine.undelivered] == [assigned.key]
    engine.store.close()

    restarted, broker = engine_on(tmp_path / "s.db"), Broker(failures=0)
    restarted.on(Assigned, broker)
    restarted.start()
    assert broker.delivered == [assigned.key] and restarted.undelivered == []
    restarted.store.close()
    again, third = engine_on(tmp_path / "s.db"), Broker(failures=0)
    again.on(Assigned, third)
    again.start()
    assert third.calls == []                                              # delivered once is enough


def test_retries_wait_for_their_backoff_on_the_engine_clock_and_call_only_the_failed_handler(tmp_path):
    engine = engine_on(tmp_path / "s.db", policy=DeliveryPolicy(attempts=5, first_delay=timedelta(seconds=30), factor=4))
    flaky, steady = Broker(failures=2), Broker(failures=0)
    engine.on(Assigned, flaky)
    engine.on(Assigned, steady)
    engine.submit(ticket("A"))
    (owed,) = engine.undelivered
    assert owed.attempts == 1 and owed.next_try == START + timedelta(seconds=30)
    engine.advance(START + timedelta(seconds=29))
    assert len(flaky.calls) == 1                                          # not before its time
    engine.advance(START + timedelta(seconds=30))
    assert len(flaky.calls) == 2 and engine.undelivered[0].next_try == START + timedelta(seconds=30 + 120)
    engine.advance(START + timedelta(minutes=3))
    assert flaky.delivered == [owed.decision.key] and engine.undelivered == []
    assert steady.calls == [owed.decision.key]                            # the handler that worked ran once


def test_after_the_last_try_a_decision_is_a_dead_letter_kept_across_restarts(tmp_path):
    engine = engine_on(tmp_path / "s.db")
    engine.on(Assigned, Broker())
    engine.submit(ticket("A"))
    engine.redeliver()
    engine.redeliver()
    (dead,) = engine.dead_letters
    assert dead.attempts == 3 and "broker down" in dead.error and dead.decision.ticket_id == "A"
    assert engine.undelivered == [] and any("dead letter" in fault for fault in engine.faults)
    engine.redeliver()
    engine.store.close()

    restarted, broker = engine_on(tmp_path / "s.db"), Broker(failures=0)
    restarted.on(Assigned, broker)
    restarted.start()
    assert broker.calls == []                                             # a dead letter waits for an operator
    assert [x.decision.key for x in restarted.dead_letters] == [dead.decision.key]


def test_tries_counted_before_a_restart_still_count(tmp_path):
    engine = engine_on(tmp_path / "s.db")
    engine.on(Assigned, Broker())
    engine.submit(ticket("A"))
    engine.redeliver()                                                    # two tries of three
    engine.store.close()
    restarted = engine_on(tmp_path / "s.db")
    restarted.on(Assigned, Broker())
    restarted.start()                                                     # the third
    assert [x.attempts for x in restarted.dead_letters] == [3]


def test_the_in_memory_store_retries_too():
    engine = Engine(ORG, VirtualClock(START), delivery=POLICY)
    broker = Broker(failures=1)
    engine.on(Assigned, broker)
    engine.submit(ticket("A"))
    engine.advance(START + timedelta(minutes=1))
    assert len(broker.delivered) == 1 and engine.undelivered == [] and engine.dead_letters == []


def test_a_nonsensical_policy_is_refused():
    with pytest.raises(ValueError):
        DeliveryPolicy(attempts=0)


def test_the_values_delivery_hands_a_service_copy_pickle_and_extend_as_plain_dataclasses():
    """The delivery module is compiled; its policy, undelivered decisions and dead letters stay ordinary classes, which a
    service keeps, copies, sends to another process and extends, and which take its values as given."""
    made = Fallback("T1", local(2025, 3, 10, 10), "desk")
    values = [DeliveryPolicy(attempts=3, factor=2), Undelivered(made, 1, local(2025, 3, 10, 10, 1), "ConnectionError: down"),
              DeadLetter(made, 5, "ConnectionError: down")]
    for value in values:
        assert copy.copy(value) == copy.deepcopy(value) == pickle.loads(pickle.dumps(value)) == value
    assert repr(values[0]) == "DeliveryPolicy(attempts=3, first_delay=datetime.timedelta(seconds=30), factor=2, max_delay=datetime.timedelta(seconds=3600))"

    class Patient(DeliveryPolicy):
        pass
    assert Patient(attempts=9).delay(2) == timedelta(minutes=2)
