"""A tiny service for the kill test: feeds events to an engine on a SQLite store, resuming after a crash.

Usage: python kill_child.py ORG STORE EVENTS.jsonl OUTBOX END_ISO [KILL_AT]
Every decision's key is appended to OUTBOX by a handler (flushed and fsynced), so the
parent sees what handlers were called; the store decides what the engine remembers.
After starting, and after each event, the child prints `progress N` (N: events the store
holds) on stdout, so the parent can pick its kill points by progress, never by time.
At the end it writes the engine's faults on stderr, which the parent shows if the test fails.
With KILL_AT, the child kills itself at its KILL_AT-th step, counting from the first the start of
each SQL statement (by SQLite's trace callback) and each handler call (before it writes): a kill
point that no machine's speed moves, between a commit and its handlers included.
"""

import itertools
import os
import signal
import sqlite3
import sys
from datetime import datetime

import cxrules
from cxrules.engine import Engine, SqliteStore, VirtualClock
from cxrules.engine.sqlite import event_from_json

org_path, store_path, events_path, outbox_path, end = sys.argv[1:6]
kill_at = int(sys.argv[6]) if len(sys.argv) > 6 else 0
steps = itertools.count(1)


def step(*_statement):
    if next(steps) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


if kill_at:
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        db = connect(*args, **kwargs)
        db.set_trace_callback(step)
        return db

    sqlite3.connect = traced  # the store connects through the module, so every statement it runs is counted

org = cxrules.load_org(org_path)
events = [event_from_json(line) for line in open(events_path, encoding="utf-8")]
store = SqliteStore(store_path)
engine = Engine(org, VirtualClock(events[0].at), store)
outbox = open(outbox_path, "a", encoding="utf-8")


def deliver(decision):
    step()
    outbox.write(decision.key + "\n")
    outbox.flush()
    os.fsync(outbox.fileno())


def report_progress():
    print(f"progress {store.events_applied}", flush=True)


engine.on(None, deliver)
report_progress()
engine.start()
for event in events[store.events_applied:]:
    engine.submit(event)
    report_progress()
engine.advance(datetime.fromisoformat(end))
for fault in engine.faults:  # what the engine worked round (a failed handler is logged as it happens): shown on a failure
    print(f"fault: {fault}", file=sys.stderr)
outbox.write("DONE\n")
outbox.close()
