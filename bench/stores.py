"""`python bench/run.py service` and `durable`: the engine on its durable stores, beside the in-memory engine in the same run."""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cxrules
from cxrules.engine import Engine, Resolved, SqliteStore, TicketCreated, VirtualClock
from measure import REPEAT, env_int, repeated, rss_mb

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2025, 3, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai"))


class ThreadsOnSqlite:
    """One engine on a fresh SQLite store, and eight threads submitting their tickets to it (created, then resolved)."""

    def __init__(self, org, path: Path, total: int):
        self.org, self.total = org, total
        self.store = SqliteStore(path)
        self.engine = Engine(org, VirtualClock(START), self.store)
        self.seen: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self.engine.on(None, self._record)

    def _record(self, decision) -> None:
        with self._lock:
            self.seen.setdefault(decision.ticket_id, []).append(decision.kind)

    def run(self) -> "ThreadsOnSqlite":
        categories = [c.id for c in self.org.categories]

        def worker(n: int) -> None:
            for i in range(self.total // 16):
                ticket = f"w{n}-{i}"
                self.engine.submit(TicketCreated(ticket, category=categories[i % len(categories)], channel="phone",
                                                 segment="retail", priority="normal"))
                self.engine.submit(Resolved(ticket))
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self

    def close(self) -> None:
        """Note what the run left (tickets seen, resolved, whether each ticket's decisions came in order), then close."""
        self.tickets = sum(1 for t in self.seen if t and t.startswith("w"))
        self.resolved = sum(1 for t in self.store.all_tickets() if t.status == "resolved")
        self.in_order = all(kinds[0] in ("Assigned", "Queued", "Fallback") for ticket, kinds in self.seen.items() if ticket)
        self.engine.close()
        self.store.close()


def bench_service(folder: Path) -> None:
    """8 threads submitting events to one engine on the SQLite store (BENCH_SERVICE_EVENTS); then 1,000 hot reloads."""
    org = cxrules.load_org(ROOT / "orgs" / "logistics.yaml")
    total = env_int("BENCH_SERVICE_EVENTS", 200_000)
    runs = iter(range(REPEAT))
    timing = repeated(ThreadsOnSqlite.run, setup=lambda: ThreadsOnSqlite(org, folder / f"service{next(runs)}.db", total),
                      teardown=ThreadsOnSqlite.close)
    last = timing.value
    print(f"service   8 threads, {total:,} events on SQLite (WAL, one transaction each): {timing.spread(2)}, "
          f"{timing.rate(total):,.0f} events/s; {last.tickets:,} tickets, {last.resolved:,} resolved (expected {total // 2:,}), "
          f"per-ticket order kept: {last.in_order}; RSS {rss_mb():.0f} MB")
    reload_engine = Engine(org, VirtualClock(START))
    marks = []
    for n in range(1000):
        reload_engine.reload(org)
        if n % 250 == 249:
            gc.collect()
            marks.append(rss_mb())
    print("reload    1,000 hot reloads, RSS after each 250 (one run): " + ", ".join(f"{m:.1f} MB" for m in marks))
    reload_engine.close()


def bench_durable(folder: Path) -> None:
    """Durable events/s and RSS as a centre's stream grows, for each store beside the in-memory engine in the same run.

    The stream is :mod:`centre` (every class, a moving clock, tickets that close), fed by
    `durable_worker.py` processes, one store at a time so each has the machine to itself:
    memory (the baseline), SQLite (one event per transaction, and 100 per transaction: group
    commit), PostgreSQL with one process and with three (each feeding a third of the tickets,
    on one database). Each configuration runs BENCH_REPEAT times on a fresh store: at each
    checkpoint the best and the median events/s of the stretch before it, and the largest RSS.
    BENCH_DURABLE_CHECKPOINTS (default 20000,200000,1000000) sets the sizes;
    BENCH_DURABLE_STORES picks configurations; PostgreSQL needs CXRULES_BENCH_POSTGRES (or
    CXRULES_TEST_POSTGRES), a URL of a role that may create databases.
    """
    checkpoints = os.environ.get("BENCH_DURABLE_CHECKPOINTS", "20000,200000,1000000")
    server = os.environ.get("CXRULES_BENCH_POSTGRES") or os.environ.get("CXRULES_TEST_POSTGRES")
    configurations = {"memory": ("memory", 1, 1), "sqlite": ("sqlite", 1, 1), "sqlite-batch": ("sqlite", 100, 1),
                      "postgres": ("postgres", 1, 1), "postgres-batch": ("postgres", 100, 1), "postgres-3": ("postgres", 100, 3)}
    chosen = os.environ.get("BENCH_DURABLE_STORES", ",".join(configurations)).split(",")
    nominal = [int(n) for n in checkpoints.split(",")]
    figures: dict[str, list[tuple[int, float, float, float]]] = {}
    for name in chosen:
        kind, batch, parts = configurations[name]
        if kind == "postgres" and not server:
            print(f"durable   {name}: skipped (no PostgreSQL: set CXRULES_BENCH_POSTGRES)")
            continue
        started = time.perf_counter()
        runs = [_feed(folder, server, name, kind, batch, parts, checkpoints, run) for run in range(REPEAT)]
        # per checkpoint: events, the best and the median events/s over the runs, the largest RSS
        figures[name] = [(runs[0][index][0], max(run[index][1] for run in runs), statistics.median(run[index][1] for run in runs),
                          max(run[index][2] for run in runs)) for index in range(min(len(run) for run in runs))]
        print(f"durable   {name}: done in {time.perf_counter() - started:.0f} s ({REPEAT} runs)", flush=True)
    for index, size in enumerate(nominal):
        baseline = figures["memory"][index][1] if len(figures.get("memory", [])) > index else None
        for name, rows in figures.items():
            if len(rows) > index:
                events, best, median, rss = rows[index]
                ratio = f" ({best / baseline:.2f} of memory)" if baseline and name != "memory" else ""
                print(f"durable   {size:>9,} events  {name:<15} best {best:>7,.0f} events/s, median {median:>7,.0f}{ratio:<18} "
                      f"RSS {rss:>5.0f} MB" + (f"  ({events:,} fed by {configurations[name][2]} processes)" if configurations[name][2] > 1 else ""))


def _feed(folder: Path, server: str | None, name: str, kind: str, batch: int, parts: int, checkpoints: str,
          run: int) -> list[tuple[int, float, float]]:
    """One run of a configuration on a fresh store: per checkpoint, events fed, events/s (summed over the feeders), RSS (largest)."""
    worker = Path(__file__).resolve().parent / "durable_worker.py"
    store = {"memory": "memory", "sqlite": str(folder / f"{name}-{run}.db")}.get(kind) or _fresh_database(server, f"{name}_{run}")
    share = ",".join(str(int(n) // parts) for n in checkpoints.split(","))
    workers = [subprocess.Popen([sys.executable, str(worker), store, str(batch), share, str(part), str(parts)],
                                stdout=subprocess.PIPE, text=True) for part in range(parts)]
    lines = [[line.split() for line in process.stdout] for process in workers]
    for process in workers:
        process.wait()
    return [(sum(int(row[1]) for row in rows), sum(float(row[2]) for row in rows), max(float(row[3]) for row in rows))
            for rows in zip(*lines)]


def _fresh_database(server: str, name: str) -> str:
    """A new empty database on ``server`` for one bench run; its URL."""
    from urllib.parse import urlsplit

    import psycopg

    database = f"cxrules_bench_{name.replace('-', '_')}_{int(time.time())}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    parts = urlsplit(server)
    return f"{parts.scheme}://{parts.netloc}/{database}" + (f"?{parts.query}" if parts.query else "")
