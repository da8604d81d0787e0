"""One process of the durable bench: feeds the centre's stream to an engine on one store, prints figures at checkpoints.

Usage: python bench/durable_worker.py STORE BATCH CHECKPOINTS [PART PARTS]
STORE is `memory`, a SQLite file path or a PostgreSQL URL; BATCH events go to
`Engine.submit_all` at a time (1: `submit` each). At each checkpoint (events fed so far,
comma-separated) it prints `checkpoint N events_per_second RSS_MB` for the stretch since
the last one; with PARTS feeders, each takes its share of tickets (and N counts its share).
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from centre import START, Centre  # noqa: E402
from measure import rss_mb  # noqa: E402

import cxrules  # noqa: E402
from cxrules.engine import Engine, FollowUpDue, VirtualClock  # noqa: E402

ORG = Path(__file__).resolve().parent.parent / "orgs" / "logistics.yaml"


def main() -> None:
    store, batch, checkpoints = sys.argv[1], int(sys.argv[2]), [int(n) for n in sys.argv[3].split(",")]
    part, parts = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 5 else (0, 1)
    org = cxrules.load_org(ORG)
    engine = Engine(org, VirtualClock(START), None if store == "memory" else store)
    centre = Centre()
    engine.on(FollowUpDue, centre.call_back)
    events = centre.events(org, checkpoints[-1] * parts, part=part, parts=parts)
    fed = 0
    for checkpoint in checkpoints:
        started = time.perf_counter()
        stretch = checkpoint - fed
        while fed < checkpoint:
            chunk = list(itertools.islice(events, min(batch, checkpoint - fed)))
            if not chunk:
                break
            if batch == 1:
                engine.submit(chunk[0])
            else:
                engine.submit_all(chunk)
            fed += len(chunk)
        print(f"checkpoint {fed} {stretch / (time.perf_counter() - started):.0f} {rss_mb():.0f}", flush=True)
    engine.close()
    if store != "memory":
        engine.store.close()


if __name__ == "__main__":
    main()
