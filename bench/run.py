"""Benchmarks: `python bench/run.py [PART ...]` prints each part's figures beside baselines measured in the same run.

Parts (default: all, in this order):
  durable      a centre's stream through the engine on each store (memory, SQLite, PostgreSQL)   stores.py
  validate     validating a large generated org, beside parsing it with libyaml alone           checking.py
  check        checking it, beside a brute force cell by cell on a smaller org                  checking.py
  engine       the engine on one routing table beside its peers (a dict, a hand-written loop,   engine_workloads.py
               raw durable-rules): best case, realistic stream, cold start, memory; a desk kept full
  simulate     read_log + simulate of a month of tickets, then of as many at the centre's usual  simulation.py
               load, beside reading the CSV alone; a month of one customer beside customers spread
  import       a million-row event log read with a mapping, beside reading the CSV alone        simulation.py
  service      8 threads on one engine on SQLite; 1,000 hot reloads                             stores.py
  automations  200 automations beside the same engine and stream without them                   automations.py
  cachesim     a ticket's and a raw post's instructions, cache misses and mispredicted branches, cachesim.py
               counted by valgrind's cachegrind (a simulation), warm, on the realistic stream and
               at the cold start: what the engine part's timings leave unexplained

How it measures (measure.py): every part runs in its own process, so the peak RSS printed after
it is its own (that process's or, if larger, one it started), not what an earlier part left;
this driver imports nothing heavy, so it adds nothing. Every timing is repeated BENCH_REPEAT
times, min and median printed; a baseline does the same work as what it is compared with,
under the same conditions: the garbage collector is ON in every timing, baselines and
cxrules alike, after a `gc.collect()`, with what was alive before frozen (`gc.freeze`). Ratios
are of the mins, within one run: ratios travel between machines, seconds do not. The driver
times a fixed piece of interpreted work (`measure.pace`) before and after each part and prints it
with the part's peak RSS: the speed of these machines drifts by up to twice within half an hour,
so seconds read against an absolute target or another run mean something only at a like pace.

Knobs (environment):
  BENCH_REPEAT=3                   repeats of every timing
  BENCH_RULES=20000                validate, check: rules of the large org (a tenth as many roles, a fortieth as many categories)
  BENCH_EVENTS=200000              engine: events of the best case and of the realistic stream (automations: 50000)
  BENCH_LOOKUPS=50000              engine: routing decisions each peer makes
  BENCH_MEMORY_EVENTS=1000000      engine: events of the realistic stream in the memory run
  BENCH_DESK_TICKETS=20000         engine: tickets through the desk kept full, at each size
  BENCH_COLD_STARTS=5              engine: fresh engines (and fresh rulesets) in each timing of the cold start
  BENCH_TICKETS=100000             simulate: tickets of the month (and of the usual load's months)
  BENCH_ONE_CUSTOMER=4000          simulate: tickets of the month of one customer (and of customers spread)
  BENCH_ROWS=1000000               import: rows of the event log
  BENCH_SERVICE_EVENTS=200000      service: events the 8 threads submit
  BENCH_DURABLE_CHECKPOINTS=20000,200000,1000000, BENCH_DURABLE_STORES=memory,sqlite,...,
  CXRULES_BENCH_POSTGRES=URL       durable: sizes, stores, the PostgreSQL server
  BENCH_LONG_EVENTS=1000000        automations: events of the memory run
  BENCH_CACHESIM_UNITS=5000        cachesim: warm posts, and warm tickets of the best case, counted (after a warm-up)
  BENCH_CACHESIM_EVENTS=20000      cachesim: events of the realistic stream counted
  BENCH_AGAINST=PYTHON             simulate, check: time the same work with another build too, in turns with this one (the
                                   Python of a virtualenv holding it, e.g. the commit an issue measured), and print the ratio
  BENCH_AGAINST_REPEAT=3           repeats of each timing of that build (default: BENCH_REPEAT)
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from measure import AGAINST, env_int, pace, run_child

PARTS = {"durable": ("stores", "bench_durable"), "validate": ("checking", "bench_validate"), "check": ("checking", "bench_check"),
         "engine": ("engine_workloads", "bench_engine"), "simulate": ("simulation", "bench_simulate"),
         "import": ("simulation", "bench_import"), "service": ("stores", "bench_service"),
         "automations": ("automations", "bench_automations"), "cachesim": ("cachesim", "bench_cachesim")}
"""Each part's module (in bench/) and function, imported only in the part's own process."""


def run_part(name: str, folder: Path) -> int:
    """Run one part in a fresh process; print its peak RSS and wall time; its exit status."""
    before = pace()
    started = time.perf_counter()
    code, usage = run_child([sys.executable, __file__, "--part", name, str(folder)])
    seconds = time.perf_counter() - started
    verdict = "" if code == 0 else f", FAILED (exit {code})"
    print(f"          [{name}: own process, peak RSS {usage.ru_maxrss / 1024:.0f} MB, {seconds:.0f} s in all{verdict}; "
          f"the machine's pace {before:.3f} s before, {pace():.3f} s after]", flush=True)
    return code


def main() -> None:
    if sys.argv[1:2] == ["--part"]:  # in the part's own process
        module, function = PARTS[sys.argv[2]]
        getattr(importlib.import_module(module), function)(Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", choices=[*PARTS, []], help="parts to run (default: all)")
    names = parser.parse_args().names or list(PARTS)
    for knob in re.findall(r"^  (BENCH_\w+)=\d+\s", __doc__ or "", re.MULTILINE):  # the whole-number knobs listed above
        env_int(knob, 1)  # a bad one stops the run here, not in a part's process after others have run
    if AGAINST and not (os.path.isfile(AGAINST) and os.access(AGAINST, os.X_OK)):
        parser.error(f"BENCH_AGAINST={AGAINST} is not a Python to run (a virtualenv's bin/python)")
    with tempfile.TemporaryDirectory() as folder:
        failed = [name for name in names if run_part(name, Path(folder)) != 0]
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
