"""`python bench/run.py automations`: events per second with 200 automations over 100,000 customers, beside the same
engine and stream without automations, and memory over a long stream with and without them (the longest window, 30
days, is about 520,000 events of this stream: after it, what automations keep stops growing).

The stream is a centre's (:mod:`centre`): every class of the automotive seed org, tickets answered, resolved and closed
on a moving clock, follow-up calls made; tickets come from 100,000 customers. The 200 automations are what a centre
writes: tags and notices on events, nudges after a business time, repeat complainers and returning customers (patterns
across tickets, decided by durable-rules, their facts in the store).
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import time
from pathlib import Path

import yaml

import cxrules
from centre import START, Centre
from cxrules.engine import Engine, FollowUpDue, VirtualClock
from cxrules.loading import load_file

ROOT = Path(__file__).resolve().parent.parent
CUSTOMERS = 100_000


def automations(org: cxrules.Org, count: int = 200) -> list[dict]:
    """``count`` automations over the org's categories and segments, of every kind of trigger."""
    categories = [c.id for c in org.categories]
    segments = [s.id for s in org.segments]
    made = []
    for n in range(count):
        category, segment = categories[n % len(categories)], segments[n % len(segments)]
        kind = n % 5
        if kind == 0:
            made.append({"id": f"a{n}_tag", "when": {"event": "created"}, "if": {"match": {"category": [category], "segment": [segment]}},
                         "then": {"tag": [f"t{n}"]}})
        elif kind == 1:
            made.append({"id": f"a{n}_nudge", "when": {"after": "2h", "since": "created"},
                         "if": {"match": {"category": [category]}, "responded": False}, "then": {"notify": [org.info.fallback_queue]}})
        elif kind == 2:
            made.append({"id": f"a{n}_repeat", "when": {"event": "created", "count": 3, "within": "30d"},
                         "if": {"match": {"category": [category]}}, "then": {"tag": [f"repeat{n}"]}})
        elif kind == 3:
            made.append({"id": f"a{n}_back", "when": {"event": "created", "following": "resolved", "within": "7d"},
                         "if": {"match": {"category": [category]}}, "then": {"tag": [f"back{n}"]}})
        else:
            made.append({"id": f"a{n}_resolved", "when": {"event": "resolved"}, "if": {"match": {"segment": [segment]}},
                         "then": {"notify": [org.info.fallback_queue]}})
    return made


def _rss_mb() -> float:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * resource.getpagesize() / 1e6


def _run(org: cxrules.Org, total: int, checkpoints: int = 0) -> tuple[float, list[float], int]:
    """Seconds for ``total`` events of the stream through an engine in memory; RSS at ``checkpoints`` even steps."""
    engine = Engine(org, VirtualClock(START))
    centre = Centre()
    engine.on(FollowUpDue, centre.call_back)  # the agents make the calls the engine asks for, as a centre does
    fired = 0
    rss = []
    step = total // checkpoints if checkpoints else 0
    gc.collect()
    start = time.perf_counter()
    for number, event in enumerate(centre.events(org, total, customers=CUSTOMERS), 1):
        fired += sum(1 for decision in engine.submit(event) if decision.kind == "AutomationFired")
        if step and number % step == 0:
            rss.append(_rss_mb())
    seconds = time.perf_counter() - start
    engine.close()
    return seconds, rss, fired


def bench_automations(folder: Path) -> None:
    source = ROOT / "orgs" / "automotive.yaml"
    plain = cxrules.load_org(source)
    data = load_file(source)[0].data
    data["automations"] = automations(plain)
    path = folder / "automations.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    busy = cxrules.load_org(path)
    total = int(os.environ.get("BENCH_EVENTS", 50_000))
    rounds = [(_run(plain, total)[0], _run(busy, total)) for _ in range(3)]  # alternated, so both meet the same noise
    without = statistics.median(seconds for seconds, _ in rounds)
    with_rules = statistics.median(run[0] for _, run in rounds)
    fired = rounds[0][1][2]
    print(f"automations {len(busy.automations)} automations, {CUSTOMERS:,} customers, {total:,} events of a centre's stream "
          f"(median of 3): {total / with_rules:,.0f} events/s ({fired:,} firings); the same engine and stream without "
          f"automations {total / without:,.0f} events/s; automations cost {with_rules / without:.2f}x its time")
    long_run = int(os.environ.get("BENCH_LONG_EVENTS", 1_000_000))
    for label, org in (("without automations", plain), ("with automations", busy)):  # the engine's own growth beside theirs
        seconds, rss, fired = _run(org, long_run, checkpoints=4)
        print(f"            memory over {long_run:,} events {label} (RSS after each quarter): "
              + ", ".join(f"{m:.0f} MB" for m in rss) + f"; {long_run / seconds:,.0f} events/s, {fired:,} firings")
