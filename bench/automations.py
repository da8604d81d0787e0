"""`python bench/run.py automations`: events per second with 200 automations over 100,000 customers, beside the same
engine and stream without automations, and memory over a long stream with and without them (the longest window, 30
days, is about 520,000 events of this stream: after it, what automations keep stops growing).

The stream is a centre's (:mod:`centre`): every class of the automotive seed org, tickets answered, resolved and closed
on a moving clock, follow-up calls made; tickets come from 100,000 customers. The 200 automations are what a centre
writes: tags and notices on events, nudges after a business time, repeat complainers and returning customers (patterns
across tickets, decided by durable-rules, their facts in the store).
"""

from __future__ import annotations

from pathlib import Path

import yaml

import cxrules
from centre import serve
from cxrules.engine import AutomationFired
from cxrules.loading import load_file
from measure import REPEAT, Timing, env_int

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


def bench_automations(folder: Path) -> None:
    source = ROOT / "orgs" / "automotive.yaml"
    plain = cxrules.load_org(source)
    data = load_file(source)[0].data
    data["automations"] = automations(plain)
    path = folder / "automations.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    busy = cxrules.load_org(path)
    total = env_int("BENCH_EVENTS", 50_000)
    without, with_them = Timing(), Timing()
    for _ in range(REPEAT):  # alternated, so both meet the same noise
        without.seconds.append(serve(plain, total, customers=CUSTOMERS, count=AutomationFired).seconds)
        served = serve(busy, total, customers=CUSTOMERS, count=AutomationFired)
        with_them.seconds.append(served.seconds)
    print(f"automations {len(busy.automations)} automations, {CUSTOMERS:,} customers, {total:,} events of a centre's stream, "
          f"{REPEAT}x each: {with_them.spread(2)}, {with_them.rate(total):,.0f} events/s ({served.counted:,} firings); the same "
          f"engine and stream without automations {without.spread(2)}, {without.rate(total):,.0f} events/s; automations cost "
          f"{with_them.best / without.best:.2f}x its time (mins), {with_them.median / without.median:.2f}x (medians)")
    long_run = env_int("BENCH_LONG_EVENTS", 1_000_000)
    for label, org in (("without automations", plain), ("with automations", busy)):  # the engine's own growth beside theirs
        served = serve(org, long_run, checkpoints=4, customers=CUSTOMERS, count=AutomationFired)
        print(f"            memory over {long_run:,} events {label} (RSS after each quarter, one run): "
              + ", ".join(f"{m:.0f} MB" for m in served.rss_mb) + f"; {long_run / served.seconds:,.0f} events/s, "
              f"{served.counted:,} firings, {served.tickets_kept:,} tickets kept")
