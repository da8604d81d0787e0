"""Faults while the engine runs: the store deleted, locked, full or corrupted; handlers and durable-rules failing.

In each case the engine reports the fault, keeps (or rebuilds) its state and loses no ticket.
"""

from __future__ import annotations

import os
import sqlite3

import pytest

import cxrules
from cxrules.engine import Engine, Resolved, SqliteStore, StoreError, TicketCreated, VirtualClock

from conftest import ORGS
from engine_helpers import abandon, local

ORG = cxrules.load_org(ORGS / "logistics.yaml")


def ticket(ticket_id: str) -> TicketCreated:
    return TicketCreated(ticket_id, category="shipment_status", channel="phone", segment="retail", priority="normal")


def engine_on(path, **options) -> Engine:
    return Engine(ORG, VirtualClock(local(2025, 3, 3, 10)), SqliteStore(path, **options))


def restarted(path, crashed: Engine | None = None) -> Engine:
    """A new engine on the file, after ``crashed`` (still open) died as a killed process would."""
    if crashed is not None:
        abandon(crashed.store)
    return Engine(ORG, VirtualClock(local(2025, 3, 3, 10)), SqliteStore(path))


def test_store_file_deleted_while_running_is_rewritten_from_the_open_connection(tmp_path):
    path = tmp_path / "state.db"
    engine = engine_on(path)
    engine.submit(ticket("A"))
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")
    engine.submit(ticket("B"))
    assert any("deleted or replaced" in fault for fault in engine.faults)
    after = restarted(path, engine)
    assert after.ticket("A") and after.ticket("B") and after.store.events_applied == 2


def test_a_locked_store_refuses_the_event_without_changing_anything(tmp_path):
    path = tmp_path / "state.db"
    engine = engine_on(path)
    engine.submit(ticket("A"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StoreError, match="locked"):
        engine.submit(ticket("B"))
    assert engine.ticket("B") is None                 # nothing applied: the caller submits again
    other.execute("ROLLBACK")
    other.close()
    engine.submit(ticket("B"))
    assert restarted(path, engine).ticket("B") is not None


def test_a_full_disk_refuses_the_event_and_the_engine_goes_on_when_space_returns(tmp_path):
    path = tmp_path / "state.db"
    engine = engine_on(path)
    engine.submit(ticket("A"))
    pages = engine.store.db.execute("PRAGMA page_count").fetchone()[0]
    engine.store.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError, match="full"):  # events are at most a few hundred bytes: some ticket finds the disk full
        for number in range(10_000):
            engine.submit(ticket(f"B{number}"))
    refused = f"B{number}"
    assert engine.ticket(refused) is None
    engine.store.db.execute("PRAGMA max_page_count = 1073741823")
    engine.submit(ticket("C"))
    after = restarted(path, engine)
    assert after.ticket("A") and after.ticket("C") and after.ticket(refused) is None


def test_a_corrupted_store_is_reported_not_trusted(tmp_path):
    path = tmp_path / "state.db"
    engine = engine_on(path)
    for name in "ABC":
        engine.submit(ticket(name))
    engine.store.close()
    with open(path, "r+b") as stream:
        stream.seek(4096)
        stream.write(os.urandom(8192))
    with pytest.raises(StoreError):
        restarted(path)


def test_a_failing_handler_is_reported_and_the_state_kept(tmp_path):
    engine = engine_on(tmp_path / "state.db")
    engine.on(None, lambda decision: (_ for _ in ()).throw(ConnectionError("CRM down")))
    engine.submit(ticket("A"))
    engine.submit(Resolved("A"))
    assert engine.ticket("A").status == "resolved"
    assert any("CRM down" in fault for fault in engine.faults)


def test_durable_rules_failing_inside_routing_falls_back_to_the_reference_router(tmp_path, monkeypatch):
    engine = engine_on(tmp_path / "state.db")

    def broken(*args):
        raise RuntimeError("durable-rules error code 202")

    monkeypatch.setattr(engine.router, "_post", broken)
    decisions = engine.submit(ticket("A"))
    assert engine.ticket("A").role and any(d.kind == "Assigned" for d in decisions)
    assert any("error code 202" in fault for fault in engine.faults)


def test_a_store_corrupted_while_running_is_rewritten_from_the_open_connection(tmp_path):
    path = tmp_path / "state.db"
    engine = Engine(ORG, VirtualClock(local(2025, 3, 3, 10)), str(path))   # a path means the SQLite store
    for name in "AB":
        engine.submit(ticket(name))
    with open(path, "r+b") as stream:                                     # someone scribbles over the file
        stream.seek(0)
        stream.write(b"garbage" * 200)
    try:
        engine.submit(ticket("C"))                                        # SQLite may or may not notice at once
    except StoreError:                                                    # refused: nothing applied
        engine.store.rewrite()
        engine.submit(ticket("C"))
    else:
        engine.store.rewrite()
    assert any("rewritten from the open store" in fault for fault in engine.faults)
    after = restarted(path, engine)
    assert all(after.ticket(name) for name in "ABC")
    assert list(tmp_path.glob("state.db.corrupt-*"))
