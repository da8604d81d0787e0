"""`python bench/run.py cachesim`: a ticket's work and a raw durable-rules post's, counted by valgrind's cachegrind with its
simulated caches and branch predictor: what the engine part's timed ratios leave unexplained.

The engine part times the engine against raw posts, and its ratios fall short of what the instructions each side runs
would give: on orgs/automotive.yaml a warm ticket runs about two thirds of a warm post's instructions, yet takes about as
long. A processor spends its cycles on more than instructions. A miss in the first-level instruction or data cache costs
many cycles, and so does a mispredicted branch. This machine's counters cannot be read (`perf stat` says they are not
supported), so each side runs under cachegrind. It counts those events on a simulation of caches of this machine's sizes
and of a simple branch predictor. The counts come out the same run after run. They model the machine but are not
measured on it: the simulated predictor of indirect branches is cruder than a real one's.

Per org (the generated 1,000-rule org and orgs/automotive.yaml, as in the engine part), three works. Each runs in two child
processes under cachegrind, one doing the setup alone, one doing the setup and then the work. The difference between the
two, divided by the units of work, is the count per unit:
- a raw durable-rules post, warm: the ruleset is posted each class of a sample of SAMPLE classes once, then
  BENCH_CACHESIM_UNITS posts of them;
- the best case: a ticket created and closed on a warm engine, classes of the same sample, the clock standing;
- the realistic stream: a ticket of the engine part's stream of BENCH_CACHESIM_EVENTS events (created to closed, with
  every timer, queue and follow-up call). The bench's own driver and handler are included, as in its timing;
- the cold start, as the engine part's, on the sample: a fresh ruleset built, then posted each class once; and a fresh
  engine built, then the first ticket of each class created and closed (per class, building included).
The collector is on in each, as in the timings (:mod:`measure`); both children of a work get one hash seed, so their dicts
lay out alike. valgrind must be on PATH (.ci/run installs it); without it the part says so and counts nothing.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import env_int  # noqa: E402

UNITS = env_int("BENCH_CACHESIM_UNITS", 5_000)
EVENTS = env_int("BENCH_CACHESIM_EVENTS", 20_000)
SAMPLE = 2_000
"""Classes the warm post and the best case cycle through: all of automotive's 2,560 would take a warm-up as long as the
work, the generated org's 16,000 eight times as long."""

SHOWN = {"instructions": ("Ir",), "I1 misses": ("I1mr",), "D1 misses": ("D1mr", "D1mw"), "LL misses": ("ILmr", "DLmr", "DLmw"),
         "mispredicted branches": ("Bcm", "Bim")}
"""The figures printed, each the sum of these of cachegrind's events (reads and writes, conditional and indirect branches)."""

WORKS = {"post": "raw durable-rules post, warm", "ticket": "best case: a ticket, warm", "realistic": "realistic stream: a ticket",
         "cold post": "cold start: a ruleset's post", "cold ticket": "cold start: an engine's ticket"}
COMPARED = {"best case": ("post", "ticket"), "realistic stream": ("post", "realistic"), "cold start": ("cold post", "cold ticket")}
"""The ratios printed: a post's counts over a ticket's, as the engine part's timed ratios are read."""


def counts_of(out_file: Path) -> dict[str, int]:
    """The figures of :data:`SHOWN` from the totals of a cachegrind output file (its `events:` and `summary:` lines)."""
    events: list[str] = []
    totals: list[int] = []
    for line in out_file.read_text(encoding="utf-8").splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            totals = [int(total) for total in line.split()[1:]]
    by_event = dict(zip(events, totals))
    missing = [event for names in SHOWN.values() for event in names if event not in by_event]
    if missing:
        raise ValueError(f"{out_file} has no {', '.join(missing)}: cachegrind was not run with --cache-sim=yes --branch-sim=yes")
    return {figure: sum(by_event[event] for event in names) for figure, names in SHOWN.items()}


def per_unit(setup: dict[str, int], whole: dict[str, int], units: int) -> dict[str, float]:
    """What the work alone took per unit: the run with it, less the run of its setup alone."""
    return {figure: (whole[figure] - setup[figure]) / units for figure in SHOWN}


@dataclass(frozen=True)
class Counted:
    """One work's counts per unit, and how many units it did."""

    per_unit: dict[str, float]
    units: int


def counted(org_path: Path, work: str, folder: Path) -> Counted:
    """Run ``work`` on the org under cachegrind twice at once, setup alone and setup with the work; its counts per unit."""
    runs = []
    for doing in (False, True):
        out_file = folder / f"cachegrind.{work}.{int(doing)}.out"
        command = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--branch-sim=yes", f"--cachegrind-out-file={out_file}",
                   sys.executable, __file__, str(org_path), work, "1" if doing else "0"]
        runs.append((out_file, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                env={**os.environ, "PYTHONHASHSEED": "0"})))
    results = []
    for out_file, process in runs:
        stdout, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"cachegrind's run of {work} failed (exit {process.returncode}):\n{stderr[-2000:]}")
        results.append((counts_of(out_file), json.loads(stdout.splitlines()[-1])["units"]))
    (setup, _), (whole, units) = results
    return Counted(per_unit(setup, whole, units), units)


def print_counts(label: str, results: dict[str, Counted]) -> None:
    """A table of each work's counts per unit, then a post's counts over a ticket's, for the best case and the stream."""
    print(f"cachesim  {label}: per unit, counted by cachegrind (simulated caches of this machine's sizes and a simulated "
          "branch predictor; collector on)")
    print(f"          {'':<30}" + "".join(f"{figure:>{len(figure) + 3}}" for figure in SHOWN))
    for work, result in results.items():
        print(f"          {WORKS[work]:<30}" + "".join(f"{result.per_unit[figure]:>{len(figure) + 3},.0f}" for figure in SHOWN)
              + f"   ({result.units:,} units)")
    for name, (post_work, ticket_work) in COMPARED.items():
        post, ticket = results[post_work].per_unit, results[ticket_work].per_unit
        ratios = ", ".join(f"{figure} {post[figure] / ticket[figure]:.2f}x" for figure in SHOWN
                           if post[figure] > 0 and ticket[figure] > 0)  # a handful of LL misses may net out below 0
        print(f"          a post's counts over a ticket's, {name}: {ratios}", flush=True)


def bench_cachesim(folder: Path) -> None:
    """The generated table, then the seed org's; or a line saying valgrind is missing."""
    if shutil.which("valgrind") is None:
        print("cachesim  valgrind is not on PATH: nothing counted (install it, e.g. `apt-get install valgrind`)")
        return
    from generate import generate_yaml

    generated = folder / "engine.yaml"
    generated.write_text(generate_yaml(roles=200, categories=100, channels=5, segments=4, rules=1000, service=True), encoding="utf-8")
    for label, path in (("generated org (bench/generate.py with service=True)", generated),
                        ("orgs/automotive.yaml", ROOT / "orgs" / "automotive.yaml")):
        print_counts(label, {work: counted(path, work, folder) for work in WORKS})


def prepared(org_path: Path, work: str) -> tuple[Callable[[], object], int]:
    """In the child: ``work`` set up on the org (warm, but for a cold start's, whose building is part of the work), as a call
    that does it, and its units."""
    import cxrules
    from cxrules.engine import Engine, TicketCreated, VirtualClock
    from engine_workloads import (MOMENT, OpenFlags, RawRuleset, Realistic, created_and_closed, decide_each, every_class,
                                  whole_lives)

    org = cxrules.load_org(org_path)
    classes = every_class(org)
    sample = classes[:SAMPLE]
    flags = OpenFlags(org).at(MOMENT)
    if work == "cold post":
        return lambda: decide_each(RawRuleset(org).decider(flags), sample)(), len(sample)
    if work == "cold ticket":
        return lambda: created_and_closed(Engine(org, VirtualClock(MOMENT)), sample, len(sample), "c"), len(sample)
    if work == "post":
        decide = RawRuleset(org).decider(flags)
        decide_each(decide, sample)()
        return decide_each(decide, [sample[number % len(sample)] for number in range(UNITS)]), UNITS
    if work == "ticket":
        engine = Engine(org, VirtualClock(MOMENT))
        created_and_closed(engine, sample, len(sample), "w")
        return partial(created_and_closed, engine, sample, UNITS, "t"), UNITS
    recorded = whole_lives(org, EVENTS)
    return Realistic(org, classes, recorded).run, sum(1 for event in recorded if type(event) is TicketCreated)


def child(org_path: Path, work: str, doing: bool) -> None:
    """Set ``work`` up, then do it if ``doing``; print its units as JSON (cachegrind counts the whole process)."""
    job, units = prepared(org_path, work)
    gc.collect()
    gc.freeze()
    if doing:
        job()
    print(json.dumps({"units": units}))


if __name__ == "__main__":
    child(Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1")
