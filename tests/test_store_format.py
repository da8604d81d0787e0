"""The SQLite store's file: data not code, one owner, refusing what it cannot trust, and an org that changed meanwhile."""

from __future__ import annotations

import copyreg
import json
import os
import pickle
import sqlite3
import subprocess
import sys
from dataclasses import asdict

import pytest

import cxrules
from cxrules.engine import Engine, SqliteStore, StoreError, TicketCreated, VirtualClock
from cxrules.engine.snapshot import _ADDED_FIELDS, dump_state, load_state
from cxrules.engine.store import TicketState
from cxrules.engine.sqlite import event_to_json
from cxrules.engine.tables import FORMAT
from cxrules.model import fingerprint

from conftest import ORGS
from engine_helpers import abandon, local, make_org

ORG = cxrules.load_org(ORGS / "logistics.yaml")
START = local(2025, 3, 3, 10)


def ticket(ticket_id: str, category: str = "shipment_status") -> TicketCreated:
    return TicketCreated(ticket_id, category=category, channel="phone", segment="retail", priority="normal")


def engine_on(path, org=ORG) -> Engine:
    return Engine(org, VirtualClock(START), SqliteStore(path))


def test_the_store_is_tables_of_a_recorded_format_with_json_rows(tmp_path):
    engine = engine_on(tmp_path / "s.db")
    engine.submit(ticket("A"))
    engine.store.close()
    db = sqlite3.connect(tmp_path / "s.db")
    (row,) = db.execute("SELECT state FROM cx_tickets").fetchone()
    assert json.loads(row)["id"] == "A" and json.loads(row)["created_at"] == {"$time": "2025-03-03T02:00:00+00:00"}
    assert dict(db.execute("SELECT name, value FROM cx_meta"))["format"] == str(FORMAT) == "3"
    again = engine_on(tmp_path / "s.db")
    assert again.ticket("A").role and again.store.faults == []


def _format2_file(path, state: dict, journal=(), fingerprint_of=None, org_id="logistics") -> None:
    """A store as cxrules 0.2 wrote it: a JSON snapshot of ``state``, then a journal of events applied since."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("""
        CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL);
        CREATE TABLE decisions (key TEXT PRIMARY KEY, seq INTEGER NOT NULL, payload TEXT NOT NULL, dispatched INTEGER NOT NULL DEFAULT 0,
                                attempts INTEGER NOT NULL DEFAULT 0, error TEXT);
        CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, org TEXT NOT NULL, state BLOB NOT NULL);
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);""")
    db.execute("INSERT INTO snapshot VALUES (1, 0, ?, ?)", (org_id, dump_state(state)))
    db.execute("INSERT INTO meta VALUES ('format', '2')")
    if fingerprint_of is not None:
        db.execute("INSERT INTO meta VALUES ('org_fingerprint', ?)", (fingerprint(fingerprint_of),))
    for entry in journal:
        db.execute("INSERT INTO journal (kind, payload) VALUES ('event', ?)", (entry if isinstance(entry, str) else event_to_json(entry),))
    db.execute("INSERT INTO counters VALUES ('events', ?)", (1 + len(journal),))
    db.close()


def test_a_format_2_file_is_migrated_once_with_its_journal_replayed(tmp_path):
    reference = Engine(ORG, VirtualClock(START))
    reference.submit(ticket("A"))
    later = TicketCreated("B", category="shipment_status", channel="phone", segment="retail", priority="normal", at=local(2025, 3, 3, 11))
    _format2_file(tmp_path / "s.db", reference.store.state(), [later], ORG)
    reference.submit(later)
    migrated = engine_on(tmp_path / "s.db")
    assert migrated.ticket("A") == reference.ticket("A") and migrated.ticket("B") == reference.ticket("B")
    assert migrated.store.next_due() == reference.store.next_due() and migrated.store.events_applied == 2
    assert any("written in format 2; migrated" in fault for fault in migrated.faults)
    assert [x.ticket_id for x in migrated.start()] == ["B"]          # the replayed event's decisions are owed to handlers
    migrated.store.close()
    tables = {row[0] for row in sqlite3.connect(tmp_path / "s.db").execute("SELECT name FROM sqlite_master")}
    assert "journal" not in tables and "snapshot" not in tables
    assert engine_on(tmp_path / "s.db").store.faults == []


def test_a_second_engine_on_the_same_file_is_refused(tmp_path):
    first = engine_on(tmp_path / "s.db")
    with pytest.raises(StoreError, match=f"in use by process {os.getpid()}"):
        SqliteStore(tmp_path / "s.db")
    script = f"from cxrules.engine import SqliteStore\nSqliteStore({str(tmp_path / 's.db')!r})\n"
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)  # a hang guard
    assert other.returncode != 0 and "in use by process" in other.stderr      # another process too
    first.store.close()
    engine_on(tmp_path / "s.db").store.close()                                # free once the owner closed


def test_a_killed_owner_leaves_the_file_free(tmp_path):
    engine = engine_on(tmp_path / "s.db")
    engine.submit(ticket("A"))
    abandon(engine.store)                                                     # the kernel drops a dead process's lock
    assert engine_on(tmp_path / "s.db").ticket("A")


def test_an_empty_file_is_not_taken_for_an_empty_store(tmp_path):
    (tmp_path / "s.db").write_bytes(b"")
    with pytest.raises(StoreError, match="0 bytes"):
        SqliteStore(tmp_path / "s.db")


def _legacy_file(path, state) -> None:
    """A store as cxrules 0.1 wrote it: the snapshot a pickle, no `meta` table."""
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL);
        CREATE TABLE decisions (key TEXT PRIMARY KEY, seq INTEGER NOT NULL, payload TEXT NOT NULL, dispatched INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, org TEXT NOT NULL, state BLOB NOT NULL);
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);""")
    db.execute("INSERT INTO snapshot VALUES (1, 0, 'logistics', ?)", (pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL),))
    db.commit()
    db.close()


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_crafted_pickle_runs_nothing_and_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _legacy_file(tmp_path / "s.db", {"tickets": _Payload()})
    with pytest.raises(StoreError, match="not engine state"):
        engine_on(tmp_path / "s.db")
    assert not (tmp_path / "pwned").exists()


class _PickledBy0_1:
    """A ticket as cxrules 0.1 pickled it: the state of an ordinary class, without the fields added since."""

    def __init__(self, ticket: TicketState, without: tuple[str, ...] = (), **changed):
        self.fields = {name: value for name, value in {**asdict(ticket), **changed}.items() if name not in _ADDED_FIELDS and name not in without}

    @property  # type: ignore[misc]
    def __class__(self):  # what pickle writes as the class of what it builds
        return TicketState

    def __reduce_ex__(self, protocol):
        return copyreg.__newobj__, (TicketState,), self.fields


def _old_engine() -> Engine:
    old = Engine(ORG, VirtualClock(START))
    old.submit(ticket("A"))
    old.submit(TicketCreated("B", category="shipment_status", channel="phone", segment="retail", priority="normal", at=local(2025, 3, 3, 11)))
    return old


def test_a_store_of_cxrules_0_1_is_migrated_to_tables(tmp_path):
    old = _old_engine()
    state = old.store.state()
    _legacy_file(tmp_path / "s.db", {**state, "tickets": {ticket_id: _PickledBy0_1(t) for ticket_id, t in state["tickets"].items()}})
    migrated = engine_on(tmp_path / "s.db")
    assert asdict(migrated.ticket("A")) == asdict(old.ticket("A")) and migrated.ticket("B").created_at == local(2025, 3, 3, 11)
    assert migrated.store.next_due() == old.store.next_due()
    assert any("written in format 1; migrated" in fault for fault in migrated.faults)
    migrated.store.close()
    assert dict(sqlite3.connect(tmp_path / "s.db").execute("SELECT name, value FROM cx_meta"))["format"] == str(FORMAT)


@pytest.mark.parametrize("pickled, reason", [
    (lambda ticket: _PickledBy0_1(ticket, without=("category",)), r"ticket fields \['category'\] differ from the engine's"),
    (lambda ticket: _PickledBy0_1(ticket, member="yes"), "ticket 'A'.*(true or false|bool)"),  # compiled: on building it
    (lambda ticket: ["not", "a", "ticket"], "tickets are not tickets"),
    (lambda ticket: _PickledBy0_1(ticket, followups_pending="abc"), "ticket 'A'.*expected a list, found str"),
    (lambda ticket: _PickledBy0_1(ticket, fired={1, "a"}), "ticket 'A'.*expected text, found int"),
], ids=["a field missing", "a field of the wrong type", "no ticket", "a text for a set", "a set of more than texts"])
def test_a_store_of_cxrules_0_1_whose_ticket_is_not_one_is_refused(tmp_path, pickled, reason):
    state = _old_engine().store.state()
    _legacy_file(tmp_path / "s.db", {**state, "tickets": {"A": pickled(state["tickets"]["A"])}})
    with pytest.raises(StoreError, match=reason):
        engine_on(tmp_path / "s.db")


def test_a_store_of_cxrules_0_1_whose_ticket_has_none_for_a_set_reads_it_as_empty(tmp_path):
    """cxrules 0.1 took None for an empty set of keys (the ticket's class made it one)."""
    state = _old_engine().store.state()
    _legacy_file(tmp_path / "s.db", {**state, "tickets": {"A": _PickledBy0_1(state["tickets"]["A"], followups_pending=None)}})
    migrated = engine_on(tmp_path / "s.db").ticket("A")
    assert migrated.followups_pending == frozenset() and type(migrated.followups_pending) is frozenset


def _with_a_new_role_for_questions(data):
    data["roles"].append({"id": "question_desk", "name": "Question desk", "unit": data["roles"][0]["unit"], "handles": ["question"],
                          "staff": [{"agents": 1}]})


def test_an_org_changed_after_a_clean_shutdown_is_taken_like_a_reload(tmp_path):
    old = make_org(tmp_path, name="old.yaml")
    engine = Engine(old, VirtualClock(START), SqliteStore(tmp_path / "s.db"))
    engine.submit(TicketCreated("Q", category="question", channel="phone", segment="normal", priority="normal"))
    engine.store.close()

    def without_desk_rules(data):
        _with_a_new_role_for_questions(data)
        data["routing"] = [{"id": "all", "to": "question_desk", "precedence": 0}]
    new = make_org(tmp_path, without_desk_rules, "new.yaml")
    restarted = Engine(new, VirtualClock(START), SqliteStore(tmp_path / "s.db"))
    report = restarted.store.org_change
    assert report is not None and report.kept == ("Q",)
    assert any("changed since" in fault for fault in restarted.faults)


def test_an_org_changed_after_a_crash_is_taken_like_a_reload(tmp_path):
    """State and decisions are committed together, so a crash leaves nothing to replay under the wrong rules."""
    old = make_org(tmp_path, name="old.yaml")
    engine = Engine(old, VirtualClock(START), SqliteStore(tmp_path / "s.db"))
    engine.submit(TicketCreated("Q", category="question", channel="phone", segment="normal", priority="normal"))
    abandon(engine.store)
    new = make_org(tmp_path, lambda data: data["slas"][0].update({"resolution": "8h"}), "new.yaml")
    restarted = Engine(new, VirtualClock(START), SqliteStore(tmp_path / "s.db"))
    assert restarted.store.org_change.kept == ("Q",) and restarted.ticket("Q")


def test_a_format_2_journal_of_another_org_version_is_refused_with_what_to_do(tmp_path):
    old = make_org(tmp_path, name="old.yaml")
    reference = Engine(old, VirtualClock(START))
    _format2_file(tmp_path / "s.db", reference.store.state(), [TicketCreated("Q", category="question", channel="phone", segment="normal",
                                                                             priority="normal", at=START)], old, "tiny")
    new = make_org(tmp_path, lambda data: data["slas"][0].update({"resolution": "8h"}), "new.yaml")
    with pytest.raises(StoreError, match="another version of org `tiny`.*Start the engine once with the version"):
        Engine(new, VirtualClock(START), SqliteStore(tmp_path / "s.db"))                # and the file is let go
    Engine(old, VirtualClock(START), SqliteStore(tmp_path / "s.db")).store.close()  # the old version migrates it
    assert Engine(new, VirtualClock(START), SqliteStore(tmp_path / "s.db")).ticket("Q")


def test_comments_and_layout_of_the_org_file_are_no_change(tmp_path):
    org = make_org(tmp_path, name="a.yaml")
    engine = Engine(org, VirtualClock(START), SqliteStore(tmp_path / "s.db"))
    engine.submit(TicketCreated("Q", category="question", channel="phone", segment="normal", priority="normal"))
    abandon(engine.store)
    text = (tmp_path / "a.yaml").read_text(encoding="utf-8")
    (tmp_path / "b.yaml").write_text("# moved and commented\n" + text, encoding="utf-8")
    assert Engine(cxrules.load_org(tmp_path / "b.yaml"), VirtualClock(START), SqliteStore(tmp_path / "s.db")).ticket("Q")


def test_a_journal_entry_that_cannot_be_replayed_is_quarantined_not_fatal(tmp_path):
    reference = Engine(ORG, VirtualClock(START))
    reference.submit(ticket("A"))
    _format2_file(tmp_path / "s.db", reference.store.state(), ['{"type": "TicketCreated", "ticket_id": 5}'], ORG)
    restarted = engine_on(tmp_path / "s.db")
    assert restarted.ticket("A") and any("quarantine" in fault for fault in restarted.faults)
    (row,) = sqlite3.connect(tmp_path / "s.db").execute("SELECT payload FROM quarantine").fetchall()
    assert '"ticket_id": 5' in row[0]


def test_a_tampered_snapshot_is_refused_with_the_part_that_is_wrong(tmp_path):
    reference = Engine(ORG, VirtualClock(START))
    reference.submit(ticket("A"))
    data = json.loads(dump_state(reference.store.state()))
    data["tickets"][0]["member"] = "yes"
    _format2_file(tmp_path / "s.db", load_state(json.dumps({**data, "tickets": []})), [], ORG)
    sqlite3.connect(tmp_path / "s.db", isolation_level=None).execute("UPDATE snapshot SET state = ?", (json.dumps(data),))
    with pytest.raises(StoreError, match="expected true or false"):
        engine_on(tmp_path / "s.db")


@pytest.mark.parametrize("zone", ["x" * 5000, "../../etc/passwd", 7])
def test_a_time_in_a_zone_that_is_no_zone_is_an_event_error_not_an_os_error(zone):
    from cxrules.engine import EventError, parse_event

    with pytest.raises(EventError, match="field `at`"):
        parse_event({"type": "Resolved", "ticket_id": "T1", "at": {"$time": "2025-03-03T10:00:00+08:00", "$zone": zone}})


def test_a_damaged_decision_row_fails_recovery_clearly_and_lets_the_file_go(tmp_path):
    engine = engine_on(tmp_path / "s.db")
    engine.submit(ticket("A"))
    abandon(engine.store)
    db = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    db.execute("INSERT INTO cx_outbox (key, payload) VALUES ('x', '{\"type\": \"Assigned\", \"colour\": 1}')")
    db.close()
    with pytest.raises(StoreError, match="not a Assigned|not an? Assigned"):
        engine_on(tmp_path / "s.db")
    db = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    db.execute("DELETE FROM cx_outbox WHERE key = 'x'")
    db.close()
    assert engine_on(tmp_path / "s.db").ticket("A")                              # the failed start let the file go
