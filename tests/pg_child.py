"""One engine process of the PostgreSQL kill test, driven line by line on stdin.

Usage: python pg_child.py ORG DATABASE_URL START_ISO OUTBOX
Commands: `event JSON` submits an event, `advance ISO` fires timers up to then; after each,
and once started, the child prints `applied N` (events the database holds, from every
process). Each delivered decision is appended to OUTBOX as `PID KEY` in one write, so the
parent sees who delivered what; the database decides what the engines remember.
"""

import os
import sys
from datetime import datetime

import cxrules
from cxrules.engine import Engine, VirtualClock
from cxrules.engine.sqlite import event_from_json

org_path, url, start, outbox_path = sys.argv[1:5]
engine = Engine(cxrules.load_org(org_path), VirtualClock(datetime.fromisoformat(start)), url)
outbox = os.open(outbox_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
engine.on(None, lambda decision: os.write(outbox, f"{os.getpid()} {decision.key}\n".encode()))


def report() -> None:
    print(f"applied {engine.store.events_applied}", flush=True)


engine.start()
report()
for line in sys.stdin:
    command, _, argument = line.rstrip("\n").partition(" ")
    if command == "event":
        engine.submit(event_from_json(argument))
    elif command == "advance":
        engine.advance(datetime.fromisoformat(argument))
    report()
engine.store.close()
