"""Benchmarks: `python bench/run.py [validate|check ...]` prints figures and same-run baselines.

Every figure is compared with a baseline measured in the same process, because these
machines are noisy: ratios travel, absolute seconds do not.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import tempfile
import time
import resource
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml  # noqa: E402

from generate import generate_yaml  # noqa: E402
from automations import bench_automations  # noqa: E402
from simulation import bench_import, bench_simulate  # noqa: E402

import cxrules  # noqa: E402
from cxrules.checks import CheckConfig, CheckContext, run_checks  # noqa: E402
from cxrules.routing import TicketClass  # noqa: E402


def _timed(function, *args, **kwargs):
    gc.collect()
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def _write(folder: Path, name: str, **sizes) -> Path:
    path = folder / name
    path.write_text(generate_yaml(**sizes), encoding="utf-8")
    return path


def bench_validate(folder: Path) -> None:
    """Validate a 2,000-role, 20,000-rule org; baseline: plain yaml.safe_load of the same file."""
    path = _write(folder, "large.yaml", roles=2000, rules=20000)
    size = path.stat().st_size / 1e6
    _, baseline = _timed(yaml.load, path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    result, seconds = _timed(cxrules.validate_path, path)
    assert result.ok, result.diagnostics[:3]
    print(f"validate  2,000 roles, 20,000 rules ({size:.1f} MB): {seconds:.2f} s "
          f"(target < 2 s); plain yaml load {baseline:.2f} s; ratio {seconds / baseline:.1f}x")
    shipped = sorted((Path(__file__).resolve().parent.parent / "orgs").glob("*.yaml"))
    if shipped:
        _, seconds = _timed(lambda: [cxrules.validate_path(p) for p in shipped])
        print(f"validate  the {len(shipped)} shipped orgs: {seconds * 1000:.0f} ms")


def _cells(context) -> list:
    """Every (channel, ticket class, piece of the week) a brute-force check must visit."""
    found = []
    for channel, space in context.channel_spaces:
        points = sorted({p for b in [space, *context.rule_boxes.values()] for span in b.hours.intervals for p in span})
        pieces = [(s, e) for s, e in zip(points, points[1:]) if space.hours & cxrules.calendars.WeekSet(((s, e),))]
        found.append((channel, space, pieces))
    return found


def _brute_force(org) -> tuple[int, int]:
    """Cell by cell: route every class at every piece of the week; count cells without an owner."""
    context = CheckContext(org)
    router = context.router
    gaps = cells = 0
    for channel, space, pieces in _cells(context):
        for category, segment, priority, member in itertools.product(space.sets[0], space.sets[2], space.sets[3], (True, False)):
            ticket = TicketClass(category, channel.id, segment, priority, member)
            for _ in pieces:
                cells += 1
                if not router.candidates(ticket):
                    gaps += 1
    return cells, gaps


def bench_check(folder: Path) -> None:
    """Check the large org; baseline: brute force cell by cell on a smaller org, in the same run."""
    import cxrules.calendars  # noqa: F401

    small = cxrules.load_org(_write(folder, "small.yaml", roles=200, categories=100, channels=5, segments=5, rules=2000))
    (cells, _), brute = _timed(_brute_force, small)
    _, fast_small = _timed(run_checks, small, CheckConfig(select=frozenset({"CX401"})))
    print(f"gaps      small org (2,000 rules, {cells:,} cells): brute force {brute:.2f} s, "
          f"regions {fast_small:.2f} s; ratio {brute / fast_small:.1f}x")
    large = cxrules.load_org(_write(folder, "large.yaml", roles=2000, categories=500, channels=10, segments=5, rules=20000))
    large_cells = sum(len(s.sets[0]) * len(s.sets[2]) * len(s.sets[3]) * 2 * len(p) for _, s, p in _cells(CheckContext(large)))
    result, seconds = _timed(run_checks, large)
    per_cell = brute / cells
    print(f"check     2,000 roles, 500 categories, 10 channels, 5 segments, 4 priorities, 20,000 rules: {seconds:.2f} s "
          f"(target < 5 s), {len(result.diagnostics)} findings; brute force would visit {large_cells:,} cells "
          f"(≈{per_cell * large_cells:.0f} s at the small org's rate, ratio {per_cell * large_cells / seconds:.0f}x)")
    overlapping = cxrules.load_org(_write(folder, "overlapping.yaml", roles=2000, categories=500, channels=10, rules=20000, overlaps=True))
    result, seconds = _timed(run_checks, overlapping)
    print(f"check     same size, precedence drawn from 1..50 (many overlaps): {seconds:.2f} s, {len(result.diagnostics)} findings")


def _rss_mb() -> float:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * resource.getpagesize() / 1e6


def bench_engine(folder: Path) -> None:
    """Routing decisions/s through Engine.submit vs raw durable-rules posts vs a dict lookup (the floor)."""
    import random
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from durable.engine import MessageNotHandledException, Ruleset

    from cxrules.engine import Closed, Engine, TicketCreated, VirtualClock
    from cxrules.engine.durable import compile_routing
    from cxrules.routing import Router

    org = cxrules.load_org(_write(folder, "engine.yaml", roles=200, categories=100, channels=5, segments=4, rules=1000))
    context = CheckContext(org)
    rng = random.Random(1)
    classes = [TicketClass(*(rng.choice(sorted(values, key=str)) for values in context.values)) for _ in range(5000)]
    count = int(__import__("os").environ.get("BENCH_EVENTS", 200_000))
    start = datetime(2025, 3, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai"))

    floor_table = {ticket: Router(org).route(ticket).role for ticket in set(classes)}
    _, floor = _timed(lambda: [floor_table[classes[i % 5000]] for i in range(count)])

    winners = []
    raw = Ruleset(f"bench_raw_{id(folder)}", None, compile_routing(org.routing, lambda rule_id: lambda c: winners.append(rule_id)))

    def post_raw(n):
        for i in range(n):
            t = classes[i % 5000]
            message = {"t": "route", "category": t.category, "channel": t.channel, "segment": t.segment,
                       "priority": t.priority, "member": t.member}
            try:
                raw.do_actions(raw.assert_event(message), lambda error, state: None)
            except MessageNotHandledException:
                pass
    raw_count = 20_000
    _, raw_seconds = _timed(post_raw, raw_count)

    engine = Engine(org, VirtualClock(start))
    decide = engine.router.route
    _, route_seconds = _timed(lambda: [decide(classes[i % 5000], start) for i in range(count)])
    route_rate = count / route_seconds
    print(f"engine    the routing decision alone (durable-rules once per class, then cached): {route_rate:,.0f}/s, "
          f"{route_rate / (raw_count / raw_seconds):.1f}x raw durable-rules, {(count / floor) / route_rate:.1f}x slower than the dict floor")

    def submit(n, offset=0):
        for i in range(offset, offset + n):
            t = classes[i % 5000]
            engine.submit(TicketCreated(f"t{i}", category=t.category, channel=t.channel, segment=t.segment,
                                        priority=t.priority, member=t.member))
            engine.submit(Closed(f"t{i}"))
    _, seconds = _timed(submit, count // 2)
    rate, raw_rate, floor_rate = count / 2 / seconds, raw_count / raw_seconds, count / floor
    print(f"engine    1,000 rules: Engine.submit {rate:,.0f} routing decisions/s (plus a close each); raw durable-rules post "
          f"{raw_rate:,.0f}/s; dict lookup {floor_rate:,.0f}/s")
    print(f"          Engine.submit is {rate / raw_rate:.1f}x raw durable-rules (target ≥ 10x) and "
          f"{floor_rate / rate:.1f}x slower than the dict floor (target ≤ 5x)")
    checkpoints = []
    done = count // 2
    for _ in range(4):
        submit(125_000, done)
        done += 125_000
        gc.collect()
        checkpoints.append(_rss_mb())
    print(f"          memory over {done * 2:,} events (RSS after each 250,000): "
          + ", ".join(f"{m:.0f} MB" for m in checkpoints) + f"; open tickets kept: {len(engine.store.tickets)}")
    engine.close()


def bench_service(folder: Path) -> None:
    """8 threads submitting events to one engine on the SQLite store; then 1,000 hot reloads."""
    import threading
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from cxrules.engine import Engine, Resolved, SqliteStore, TicketCreated, VirtualClock

    org = cxrules.load_org(Path(__file__).resolve().parent.parent / "orgs" / "logistics.yaml")
    total = int(__import__("os").environ.get("BENCH_SERVICE_EVENTS", 200_000))
    store = SqliteStore(folder / "service.db", snapshot_every=5000)
    engine = Engine(org, VirtualClock(datetime(2025, 3, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai"))), store)
    seen: dict[str, list[str]] = {}
    lock = threading.Lock()

    def record(decision):
        with lock:
            seen.setdefault(decision.ticket_id, []).append(decision.kind)

    engine.on(None, record)
    categories = [c.id for c in org.categories]

    def worker(n: int) -> None:
        for i in range(total // 16):
            ticket = f"w{n}-{i}"
            engine.submit(TicketCreated(ticket, category=categories[i % len(categories)], channel="phone",
                                        segment="retail", priority="normal"))
            engine.submit(Resolved(ticket))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    tickets = [t for t in seen if t and t.startswith("w")]
    in_order = all(kinds[0] in ("Assigned", "Queued", "Fallback") for ticket, kinds in seen.items() if ticket)
    resolved = sum(1 for t in store.tickets.values() if t.status == "resolved")
    print(f"service   8 threads, {total:,} events on SQLite (WAL, one transaction each): {total / seconds:,.0f} events/s; "
          f"{len(tickets):,} tickets, {resolved:,} resolved (expected {total // 2:,}), per-ticket order kept: {in_order}; "
          f"RSS {_rss_mb():.0f} MB")
    engine.close()
    store.close()
    reload_engine = Engine(org, VirtualClock(datetime(2025, 3, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai"))))
    marks = []
    for n in range(1000):
        reload_engine.reload(org)
        if n % 250 == 249:
            gc.collect()
            marks.append(_rss_mb())
    print("reload    1,000 hot reloads, RSS after each 250: " + ", ".join(f"{m:.1f} MB" for m in marks))
    reload_engine.close()


def bench_durable(folder: Path) -> None:
    """Durable events/s and RSS as a centre's stream grows, for each store beside the in-memory engine in the same run.

    The stream is :mod:`centre` (every class, a moving clock, tickets that close), fed by
    `durable_worker.py` processes, one store at a time so each has the machine to itself:
    memory (the baseline), SQLite (one event per transaction, and 100 per transaction: group
    commit), PostgreSQL with one process and with three (each feeding a third of the tickets,
    on one database). BENCH_DURABLE_CHECKPOINTS (default 20000,200000,1000000) sets the sizes;
    BENCH_DURABLE_STORES picks configurations; PostgreSQL needs CXRULES_BENCH_POSTGRES (or
    CXRULES_TEST_POSTGRES), a URL of a role that may create databases.
    """
    import os
    import subprocess

    checkpoints = os.environ.get("BENCH_DURABLE_CHECKPOINTS", "20000,200000,1000000")
    server = os.environ.get("CXRULES_BENCH_POSTGRES") or os.environ.get("CXRULES_TEST_POSTGRES")
    configurations = {"memory": ("memory", 1, 1), "sqlite": ("sqlite", 1, 1), "sqlite-batch": ("sqlite", 100, 1),
                      "postgres": ("postgres", 1, 1), "postgres-batch": ("postgres", 100, 1), "postgres-3": ("postgres", 100, 3)}
    chosen = os.environ.get("BENCH_DURABLE_STORES", ",".join(configurations)).split(",")
    worker = Path(__file__).resolve().parent / "durable_worker.py"
    nominal = [int(n) for n in checkpoints.split(",")]
    figures: dict[str, list[tuple[int, float, float]]] = {}
    for name in chosen:
        kind, batch, parts = configurations[name]
        if kind == "postgres" and not server:
            print(f"durable   {name}: skipped (no PostgreSQL: set CXRULES_BENCH_POSTGRES)")
            continue
        store = {"memory": "memory", "sqlite": str(folder / f"{name}.db")}.get(kind) or _fresh_database(server, name)
        share = ",".join(str(int(n) // parts) for n in checkpoints.split(","))
        started = time.perf_counter()
        workers = [subprocess.Popen([sys.executable, str(worker), store, str(batch), share, str(part), str(parts)],
                                    stdout=subprocess.PIPE, text=True) for part in range(parts)]
        lines = [[line.split() for line in process.stdout] for process in workers]
        for process in workers:
            process.wait()
        # the same checkpoint of every worker: events and events/s add up, RSS is the largest process's
        figures[name] = [(sum(int(row[1]) for row in rows), sum(float(row[2]) for row in rows), max(float(row[3]) for row in rows))
                         for rows in zip(*lines)]
        print(f"durable   {name}: done in {time.perf_counter() - started:.0f} s", flush=True)
    for index, size in enumerate(nominal):
        baseline = figures["memory"][index][1] if len(figures.get("memory", [])) > index else None
        for name, runs in figures.items():
            if len(runs) > index:
                events, rate, rss = runs[index]
                ratio = f" ({rate / baseline:.2f} of memory)" if baseline and name != "memory" else ""
                print(f"durable   {size:>9,} events  {name:<15} {rate:>7,.0f} events/s{ratio:<18} RSS {rss:>5.0f} MB"
                      + (f"  ({events:,} fed by {configurations[name][2]} processes)" if configurations[name][2] > 1 else ""))


def _fresh_database(server: str, name: str) -> str:
    """A new empty database on ``server`` for one bench run; its URL."""
    from urllib.parse import urlsplit

    import psycopg

    database = f"cxrules_bench_{name.replace('-', '_')}_{int(time.time())}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    parts = urlsplit(server)
    return f"{parts.scheme}://{parts.netloc}/{database}" + (f"?{parts.query}" if parts.query else "")


BENCHES = {"durable": bench_durable, "validate": bench_validate, "check": bench_check, "engine": bench_engine, "simulate": bench_simulate, "import": bench_import,
           "service": bench_service, "automations": bench_automations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHES, []], help="benchmarks to run (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name in args.names or BENCHES:
            BENCHES[name](Path(folder))
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"          peak memory of the process so far: {peak:.0f} MB")


if __name__ == "__main__":
    main()
