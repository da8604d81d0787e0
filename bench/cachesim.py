"""`python bench/run.py cachesim`: a ticket's work and a raw durable-rules post's, counted by valgrind's cachegrind with its
simulated caches and branch predictor: what the engine part's timed ratios leave unexplained.

The engine part times the engine against raw posts, and its ratios fall short of what the instructions each side runs
would give: on orgs/automotive.yaml a warm ticket runs about two thirds of a warm post's instructions, yet takes about as
long. A processor spends cycles on more than instructions (a miss in the first-level instruction or data cache, a
mispredicted branch each cost many), and this machine's counters cannot be read (`perf stat` says they are not supported).
So each side runs under cachegrind, which counts those events on a simulation: a first-level instruction cache (I1), a
first-level data cache (D1) and a last-level cache (LL, nothing between), given this machine's sizes as Linux reports them
(`/sys/devices/system/cpu/cpu0/cache`; cachegrind's own guess, where that is missing, may be far off under a hypervisor), and
a branch predictor cachegrind's manual calls typical of around 2004. The counts are a model of the machine, not its
counters; mispredicted indirect branches in particular (an interpreter's dispatch, a call through a table) are those of
a predictor cruder than a real one, so they are printed apart from conditional ones.

Per org (the engine part's two: the generated 1,000-rule org and orgs/automotive.yaml), five works, each in two child
processes under cachegrind: one doing the setup alone, one doing the setup and then the work, in the same way up to the
work. The difference between the two, divided by the units of work, is the count per unit:
- a raw durable-rules post, warm: a ruleset posted every class once, then BENCH_CACHESIM_UNITS posts, classes cycling;
- the best case: a warm engine's ticket created and closed, the clock standing, classes cycling as the posts do;
- the realistic stream: a ticket of the engine part's stream of BENCH_CACHESIM_EVENTS events (created to closed, with
  every timer, queue and follow-up call; that part runs BENCH_EVENTS). The bench's own driver and handler are included,
  as in its timing;
- the cold start, as the engine part's: a fresh ruleset built, then posted each class once; and a fresh engine built, then
  given the first ticket of each class, created and closed (per class, building included).
The collector runs as in the timings (:func:`measure.timed`'s prologue, in both children), both children of a work get one
hash seed (their dicts lay out alike) and both leave without tearing down what they made. valgrind must be on PATH
(.ci/run installs it); without it the part says so and counts nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import env_int, timed  # noqa: E402

UNITS = env_int("BENCH_CACHESIM_UNITS", 5_000)
EVENTS = env_int("BENCH_CACHESIM_EVENTS", 20_000)
CHILD_TIMEOUT = 3600
"""Seconds a child may run under cachegrind (the generated org's cold start takes some minutes)."""

SHOWN = {"instructions": ("Ir",), "I1 misses": ("I1mr",), "D1 misses": ("D1mr", "D1mw"), "LL misses": ("ILmr", "DLmr", "DLmw"),
         "conditional mispredicted": ("Bcm",), "indirect mispredicted": ("Bim",)}
"""The figures printed, each the sum of these of cachegrind's events (reads and writes)."""

WORKS = {"post": "raw durable-rules post, warm", "ticket": "best case: a ticket, warm", "realistic": "realistic stream: a ticket",
         "cold post": "cold start: a ruleset's post", "cold ticket": "cold start: an engine's ticket"}
COMPARED = {"best case": ("post", "ticket"), "realistic stream": ("post", "realistic"), "cold start": ("cold post", "cold ticket")}
"""The ratios printed: a post's counts over a ticket's, as the engine part's timed ratios are read."""

CACHE_INFO = Path("/sys/devices/system/cpu/cpu0/cache")


def simulated_caches(info: Path = CACHE_INFO) -> list[str]:
    """cachegrind's options for this machine's caches (`--I1=size,ways,line`, `--D1=`, `--LL=` the last level), from what
    Linux reports; none (cachegrind guesses) if it reports no first-level caches or no unified one."""
    caches = []
    for index in sorted(info.glob("index*")):
        try:
            level, kind, size, ways, line = (int((index / "level").read_text()), (index / "type").read_text().strip(),
                                             _bytes((index / "size").read_text().strip()),
                                             int((index / "ways_of_associativity").read_text()),
                                             int((index / "coherency_line_size").read_text()))
        except (OSError, ValueError):
            return []
        caches.append((level, kind, f"{size},{ways},{line}"))
    first = {kind: spec for level, kind, spec in caches if level == 1}
    unified = sorted((level, spec) for level, kind, spec in caches if kind == "Unified")
    if "Instruction" not in first or "Data" not in first or not unified:
        return []
    return [f"--I1={first['Instruction']}", f"--D1={first['Data']}", f"--LL={unified[-1][1]}"]


def _bytes(size: str) -> int:
    """A size as Linux writes it (`48K`, `32768K`, `1M`) in bytes."""
    written = re.fullmatch(r"(\d+)([KMG]?)", size)
    if written is None:
        raise ValueError(f"a cache size of {size!r}")
    return int(written[1]) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[written[2]]


def counts_of(out_file: Path) -> dict[str, int]:
    """The figures of :data:`SHOWN` from the totals of a cachegrind output file (its `events:` and `summary:` lines)."""
    events: list[str] = []
    totals: list[int] = []
    for line in out_file.read_text(encoding="utf-8").splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            totals = [int(total) for total in line.split()[1:]]
    if not totals:
        raise ValueError(f"{out_file} has no totals (`summary:`): the run under cachegrind did not finish")
    by_event = dict(zip(events, totals))
    missing = [event for names in SHOWN.values() for event in names if event not in by_event]
    if missing:
        raise ValueError(f"{out_file} has no {', '.join(missing)}: cachegrind was not run with --cache-sim=yes --branch-sim=yes")
    return {figure: sum(by_event[event] for event in names) for figure, names in SHOWN.items()}


def caches_described(out_file: Path) -> str:
    """The caches cachegrind simulated, as its output file's `desc:` lines say."""
    lines = out_file.read_text(encoding="utf-8").splitlines()
    return "; ".join(line.removeprefix("desc:").strip() for line in lines if line.startswith("desc:"))


def per_unit(setup: dict[str, int], whole: dict[str, int], units: int) -> dict[str, float]:
    """What the work alone took per unit: the run with it, less the run of its setup alone."""
    return {figure: (whole[figure] - setup[figure]) / units for figure in SHOWN}


@dataclass(frozen=True)
class Counted:
    """One work's counts per unit, how many units it did, and the caches simulated."""

    per_unit: dict[str, float]
    units: int
    caches: str = ""


def counted(org_path: Path, work: str, folder: Path) -> Counted:
    """Run ``work`` on the org under cachegrind twice at once, setup alone and setup with the work; its counts per unit."""
    runs = []
    caches = simulated_caches()
    try:
        for doing in (False, True):
            out_file = folder / f"cachegrind.{work.replace(' ', '_')}.{int(doing)}.out"
            command = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--branch-sim=yes", *caches,
                       f"--cachegrind-out-file={out_file}", sys.executable, __file__, str(org_path), work, "1" if doing else "0"]
            runs.append((out_file, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                    env={**os.environ, "PYTHONHASHSEED": "0"})))
        finished = [(out_file, *process.communicate(timeout=CHILD_TIMEOUT), process.returncode) for out_file, process in runs]
    finally:
        for _, process in runs:  # a child that failed or ran out of time leaves its sibling nothing to be compared with
            if process.poll() is None:
                process.kill()
                process.wait()
    for out_file, _, stderr, code in finished:
        if code != 0:
            raise RuntimeError(f"cachegrind's run of {work} failed (exit {code}):\n{stderr[-2000:]}")
    (setup_file, _, _, _), (whole_file, stdout, _, _) = finished
    units = json.loads(stdout.splitlines()[-1])["units"]
    return Counted(per_unit(counts_of(setup_file), counts_of(whole_file), units), units, caches_described(whole_file))


def print_counts(label: str, results: dict[str, Counted]) -> None:
    """A table of each work's counts per unit, then a post's counts over a ticket's for each kind of work."""
    caches = next(iter(results.values())).caches
    print(f"cachesim  {label}: per unit, counted by cachegrind, collector on (simulated: {caches or 'caches not said'}; a "
          "simple branch predictor)")
    print(f"          {'':<30}" + "".join(f"{figure:>{len(figure) + 3}}" for figure in SHOWN))
    for work, result in results.items():
        print(f"          {WORKS[work]:<30}" + "".join(f"{result.per_unit[figure]:>{len(figure) + 3},.{1 if figure == 'LL misses' else 0}f}"
                                                       for figure in SHOWN) + f"   ({result.units:,} units)")
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
    from engine_workloads import engine_orgs

    for label, path in engine_orgs(folder):
        print_counts(label, {work: counted(path, work, folder) for work in WORKS})


def prepared(org_path: Path, work: str) -> tuple[Callable[[], object], int]:
    """In the child: ``work`` set up on the org (warm, but for a cold start's, whose building is part of the work), as a call
    that does it, and its units."""
    import cxrules
    from cxrules.engine import Engine, VirtualClock
    from engine_workloads import (MOMENT, OpenFlags, RawRuleset, Realistic, created_and_closed, cycled, decide_each, every_class,
                                  tickets_created, whole_lives)

    org = cxrules.load_org(org_path)
    classes = every_class(org)
    flags = OpenFlags(org).at(MOMENT)
    if work == "cold post":
        return lambda: decide_each(RawRuleset(org).decider(flags), classes)(), len(classes)
    if work == "cold ticket":
        return lambda: created_and_closed(Engine(org, VirtualClock(MOMENT)), classes, len(classes), "c"), len(classes)
    if work == "post":
        decide = RawRuleset(org).decider(flags)
        decide_each(decide, classes)()
        return decide_each(decide, cycled(classes, UNITS)), UNITS
    if work == "ticket":
        engine = Engine(org, VirtualClock(MOMENT))
        created_and_closed(engine, classes, len(classes), "w")  # warm: routes cached, calendars' tables laid out
        return partial(created_and_closed, engine, classes, UNITS, "t"), UNITS
    recorded = whole_lives(org, EVENTS)
    return Realistic(org, classes, recorded).run, tickets_created(recorded)


def child(org_path: Path, work: str, doing: bool) -> None:
    """Set ``work`` up, then do it if ``doing``, both children through the timings' prologue; print its units as JSON, and
    leave without tearing anything down (cachegrind counts the whole process, and the work's leftovers are not its work)."""
    job, units = prepared(org_path, work)
    timed(job if doing else lambda: None)
    print(json.dumps({"units": units}), flush=True)
    os._exit(0)


if __name__ == "__main__":
    child(Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1")
