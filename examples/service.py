"""A minimal service embedding the cxrules engine: JSON ticket events in on stdin, decisions out on stdout.

    python examples/service.py orgs/automotive.yaml state.db < events.jsonl

Each input line is an event such as
    {"type": "TicketCreated", "ticket_id": "T1", "category": "complaint", "channel": "wechat",
     "segment": "vip", "priority": "high", "member": true}
State lives in a SQLite file: stop the service (or kill it) and start it again, and it
carries on where it was, firing the timers that fell due meanwhile. Send SIGHUP to reload
the org file; an invalid file is refused and the old org keeps running.
"""

from __future__ import annotations

import json
import signal
import sys

import cxrules
from cxrules.engine import Engine, EventError, SqliteStore, StoreError, parse_event
from cxrules.engine.sqlite import decision_to_json


def main(org_path: str, store_path: str) -> None:
    engine = Engine(cxrules.load_org(org_path), store=SqliteStore(store_path))
    engine.on(None, lambda decision: print(decision_to_json(decision), flush=True))   # at least once; dedupe on `key`

    def reload(*_):
        outcome = engine.reload_file(org_path)
        print(json.dumps({"reload": "refused" if isinstance(outcome, list) else "done",
                          "problems": [f"{d.location} {d.code} {d.message}" for d in outcome] if isinstance(outcome, list) else []}),
              file=sys.stderr, flush=True)

    signal.signal(signal.SIGHUP, reload)
    engine.start()                         # handlers missed before a crash, then timers due while down
    for line in sys.stdin:
        if line.strip():
            try:
                engine.submit(parse_event(json.loads(line)))
            except (json.JSONDecodeError, EventError, StoreError) as error:  # StoreError: not applied, the feeder retries
                print(json.dumps({"refused": line.strip()[:200], "reason": str(error)}), file=sys.stderr, flush=True)
        engine.advance()                   # fire timers due by now
    engine.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
