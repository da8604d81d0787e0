"""How every bench measures: repeated timings (min and median), memory now and at peak, one rule for the collector.

The collector stays ON in every timing, the baselines' and the engine's alike, because a
service runs with it on; before each timing `gc.collect()` clears what earlier work left, and
what is alive then (the bench's own inputs: streams, class lists, the org) is frozen
(`gc.freeze`) until the timing ends, so the collector walks only what the timed work makes, and
collects it as often whatever else is alive (a second `gc.collect()` after the freeze counts the
long-lived objects afresh, which paces full collections).
The exceptions are forced by cxrules itself: `validate_path` and `run_checks` pause the collector
while they build, so the libyaml parse and the brute force beside them run paused too
(:mod:`checking`).
Each measurement is repeated BENCH_REPEAT times (default 3); the min is the figure (the run
the machine disturbed least), the median says how noisy it was.
"""

from __future__ import annotations

import cProfile
import gc
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.machinery import EXTENSION_SUFFIXES
from typing import IO, Callable, Iterator, TypeVar

R = TypeVar("R")


def env_int(name: str, default: int) -> int:
    """A size or repeat knob: the environment variable ``name`` (underscores allowed, `200_000`), else ``default``. Anything
    but a whole number of at least 1 is a usage error (exit 2), not a traceback; `bench/run.py` reads every knob it lists
    before any part runs."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        print(f"bench: {name}={text!r} is not a whole number of at least 1", file=sys.stderr)
        raise SystemExit(2)
    return value


REPEAT = env_int("BENCH_REPEAT", 3)
AGAINST = os.environ.get("BENCH_AGAINST", "")
"""Another build's Python: a virtualenv holding another cxrules, such as the commit an issue measured. Seconds travel
neither between machines nor between hours of one machine, so a target in seconds is read against that build timed at the
same work in the same run: the parts whose targets are seconds (`simulate`, `check`'s whole command) time it too."""
AGAINST_REPEAT = env_int("BENCH_AGAINST_REPEAT", REPEAT)
"""Repeats of each timing of the other build (an older build may be slow)."""


def rss_mb() -> float:
    """This process's resident memory now, in MB (MiB)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM): unlike `ru_maxrss`, not raised by the parent's peak when it was spawned."""
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def run_child(command: list[str], stdout: IO | None = None) -> tuple[int, resource.struct_rusage]:
    """Run ``command`` to its end: its exit code and its own resource usage (CPU seconds, peak RSS), not this process's;
    what it prints on standard output goes to ``stdout`` if given (a file: a pipe could fill while this waits)."""
    process = subprocess.Popen(command, stdout=stdout)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: the Popen must not wait for it again
    return process.returncode, usage


def pace() -> float:
    """Seconds this machine takes, now, for a fixed piece of interpreted work (tuples made, a dict filled, a sort): the
    least of three. The speed of these shared machines drifts by up to twice over half an hour, and every timing with it;
    ratios within a part need no correction, but seconds read against an absolute target (`simulate` < 20 s) or against
    another run mean something only beside the pace each was taken at."""
    def work() -> None:
        table = {}
        for number in range(200_000):
            table[(number % 997, number)] = number
        sorted(table)

    return repeated(work, repeat=3).best


def timed(work: Callable, *args, **kwargs) -> tuple[object, float]:
    """``work(*args, **kwargs)`` and its seconds, the collector on, after a collection, with what was alive before frozen: the
    collector walks only what the work makes, and collects it as often whatever else the process holds."""
    gc.collect()
    gc.freeze()
    # collected again, the long-lived objects are counted afresh (none, all frozen): else the more the bench holds alive, the
    # rarer the timed work's full collections, each of which waits for new survivors to reach a quarter of that count
    gc.collect()
    try:
        started = time.perf_counter()
        value = work(*args, **kwargs)
        return value, time.perf_counter() - started
    finally:
        gc.unfreeze()


@dataclass
class Timing:
    """Seconds of the repeats of one measurement."""

    seconds: list[float] = field(default_factory=list)
    value: object = None
    """What the last repeat's work returned."""

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def rate(self, count: float) -> float:
        """``count`` per second in the least disturbed repeat."""
        return count / self.best

    def spread(self, digits: int = 3) -> str:
        """`min 0.123 s, median 0.130 s`."""
        return f"min {self.best:.{digits}f} s, median {self.median:.{digits}f} s"

    def ratios_by_round(self, count: float, baseline: "Timing", baseline_count: float) -> str:
        """This timing's rate over ``baseline``'s in each round of timings made in turns, and their median (`0.71, 0.88,
        0.80, median 0.80`): how much the ratio of two timings made close together varies, beside the ratio of the mins,
        whose two mins may come from different rounds."""
        ratios = [(count / mine) / (baseline_count / theirs) for mine, theirs in zip(self.seconds, baseline.seconds, strict=True)]
        return ", ".join(f"{ratio:.2f}" for ratio in ratios) + f", median {statistics.median(ratios):.2f}"


def other_build_line(python: str, this: Timing, other: Timing) -> str:
    """The timing of the same work by the build ``python`` has installed, and how many times as fast this build is (of the
    mins; with the runs of each, since a min over fewer runs reads higher)."""
    return (f"the build at {python}: {other.spread(2)} ({_runs(len(other.seconds))}, this build's {len(this.seconds)}); "
            f"this build {other.best / this.best:.2f}× as fast")


def _runs(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"


def in_turns(repeats: list[int]) -> Iterator[int]:
    """Which measurement to make next, in rounds, every other one backwards (0, 1, 2, then 2, 1, 0, ...), each as many times
    as ``repeats`` says: measurements compared with each other spread over the same stretch of the machine's drift (one
    repeated fewer times has its runs in the first rounds only), and what one leaves behind (freed memory, a cold cache)
    falls on the one after it in one round and on the one before it in the next."""
    for round_ in range(max(repeats, default=0)):
        order = [index for index, count in enumerate(repeats) if round_ < count]
        yield from (order if round_ % 2 == 0 else reversed(order))


def builds_to_compare(other: str = AGAINST) -> list[tuple[str, int]]:
    """This build's Python with its repeats (BENCH_REPEAT), then ``other``'s (BENCH_AGAINST_REPEAT), if there is one."""
    return [(sys.executable, REPEAT), *([(other, AGAINST_REPEAT)] if other else [])]


def runs_in_turns(builds: list[tuple[str, int]], run: Callable[[str], R | None]) -> list[list[R]]:
    """``run(python)`` for each of ``builds`` (a Python and its repeats), in turns (:func:`in_turns`): each build's results.
    ``run`` returns None for a run that failed, having said why; that build then makes no more runs and has none, and if
    it is the first (this build), no build has any: nothing would be compared with them."""
    results: list[list[R]] = [[] for _ in builds]
    failed: set[int] = set()
    for index in in_turns([repeat for _, repeat in builds]):
        if index in failed:
            continue
        result = run(builds[index][0])
        if result is None:
            if index == 0:
                return [[] for _ in builds]
            failed.add(index)
            results[index] = []
            continue
        results[index].append(result)
    return results


@dataclass(frozen=True)
class Work:
    """One thing to time: ``run(setup())`` with a setup, else ``run()``. ``teardown`` is called after each timing with what
    the setup made (with no setup: with what ``run`` returned); neither it nor the setup is timed."""

    run: Callable
    setup: Callable[[], object] | None = None
    teardown: Callable[[object], object] | None = None

    def time_into(self, timing: Timing) -> None:
        """One timing of it, added to ``timing``."""
        prepared = None if self.setup is None else self.setup()
        timing.value, seconds = timed(self.run) if self.setup is None else timed(self.run, prepared)
        timing.seconds.append(seconds)
        if self.teardown is not None:
            self.teardown(timing.value if self.setup is None else prepared)


def repeated(work: Callable, repeat: int = REPEAT, setup: Callable[[], object] | None = None,
             teardown: Callable[[object], object] | None = None) -> Timing:
    """Time ``work`` ``repeat`` times (see :class:`Work` for ``setup`` and ``teardown``)."""
    return alternated({"": Work(work, setup, teardown)}, repeat)[""]


def alternated(works: dict[str, Callable[[], object] | Work], repeat: int = REPEAT) -> dict[str, Timing]:
    """Time each of ``works`` ``repeat`` times, in turns (:func:`in_turns`: a, b, c, then c, b, a, ...), so that a ratio of
    two of them is read over the same stretch of the machine's drift, not over two stretches minutes apart."""
    names = list(works)
    timings = {name: Timing() for name in names}
    for index in in_turns([repeat] * len(names)):
        work = works[names[index]]
        (work if isinstance(work, Work) else Work(work)).time_into(timings[names[index]])
    return timings


def own_time_by_module(work: Callable[[], object]) -> dict[str, float]:
    """Where ``work`` spends its time: the share of each module (profiled own time, that of built-ins such as dict and
    heapq methods counted to the module that called them), largest first; shares, since profiling slows it down."""
    profiler = cProfile.Profile()
    profiler.runcall(work)
    return shares_by_module(pstats.Stats(profiler))


def shares_by_module(profile: pstats.Stats) -> dict[str, float]:
    """:func:`own_time_by_module` of a profile taken already."""
    stats = profile.stats  # type: ignore[attr-defined]
    by_module: dict[str, float] = {}
    compiled = _compiled_markers()
    for (path, _, name), (_, _, own, _, callers) in stats.items():
        if path == "~" and any(marker in name for marker in compiled):  # compiled by mypyc: a built-in to the profiler
            by_module[COMPILED] = by_module.get(COMPILED, 0.0) + own
        elif path == "~" and callers:  # a built-in: its time, caller by caller, to the module that called it
            for (caller_path, _, _), (_, _, spent, _) in callers.items():
                module = _module(caller_path)
                by_module[module] = by_module.get(module, 0.0) + spent
        else:
            by_module[_module(path)] = by_module.get(_module(path), 0.0) + own
    total = sum(by_module.values())
    return dict(sorted(((module, seconds / total) for module, seconds in by_module.items()), key=lambda item: -item[1]))


COMPILED = "cxrules compiled"
"""The modules mypyc compiled, together: the profiler sees a call into them, not the calls they make to each other."""


def _compiled_markers() -> tuple[str, ...]:
    """How the profiler names what mypyc compiled: a function as `cxrules.module.name`, a method as `of 'Class' objects`
    (the class's name alone: hence those of every class the loaded compiled modules define)."""
    modules = [module for name, module in list(sys.modules.items())
               if name.startswith("cxrules.") and str(getattr(module, "__file__", "")).endswith(tuple(EXTENSION_SUFFIXES))]
    classes = {f"of '{value.__name__}' objects" for module in modules for value in vars(module).values()
               if isinstance(value, type) and value.__module__ == module.__name__}
    return ("cxrules.", *sorted(classes))


def _module(path: str) -> str:
    """A profiled file's short name: `engine/slas.py` for cxrules' own, `bench/centre.py` for the bench's, the package for
    others (`durable`), `python` for the standard library."""
    parts = path.replace("\\", "/").split("/")
    if "bench" in parts:
        return "bench/" + parts[-1]
    if "cxrules" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("cxrules") + 1:])
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    return "python" if path != "~" else "built-ins"
