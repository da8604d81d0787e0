"""The bench driver (`bench/run.py`): what it prints around each part, beside the part's own figures."""

from __future__ import annotations

import importlib.util
import re
import resource
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
_spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
assert _spec is not None and _spec.loader is not None
bench_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_run)


def test_each_part_is_printed_with_the_machine_s_pace_before_and_after_it(monkeypatch, capsys, tmp_path):
    """Seconds of two runs compare only at a like pace: the driver times its fixed work before the part and after it and
    prints both, in that order, with the part's peak RSS (the part itself is not run here)."""
    paces = iter([0.125, 0.25])
    monkeypatch.setattr(bench_run, "pace", lambda: next(paces))
    monkeypatch.setattr(bench_run, "run_child", lambda command: (0, resource.getrusage(resource.RUSAGE_SELF)))
    assert bench_run.run_part("validate", tmp_path) == 0
    line = capsys.readouterr().out
    assert "[validate: own process, peak RSS" in line and "the machine's pace 0.125 s before, 0.250 s after]" in line


def test_the_pace_is_the_seconds_of_the_fixed_work():
    """A number of seconds, whatever the machine's speed (no bound on it: a busy machine may take any time)."""
    from measure import pace

    seconds = pace()
    assert isinstance(seconds, float) and seconds > 0


def _python_with(folder: Path, code: str) -> str:
    """A stand-in for another build's Python: this Python with a stand-in cxrules (``code`` as its package) found first."""
    (folder / "cxrules").mkdir(parents=True)
    (folder / "cxrules" / "__init__.py").write_text(code, encoding="utf-8")
    wrapper = folder / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={folder} exec {sys.executable} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    return str(wrapper)


def test_the_whole_check_command_times_the_installed_build_not_a_cxrules_folder_in_the_working_directory(monkeypatch, tmp_path):
    """Run from the repository's root, as README.md says, `python -c` would import the package there, not the build
    installed (compiled, or another one given by BENCH_AGAINST); here a stand-in folder that exits 7 must not be imported."""
    import checking

    (tmp_path / "cxrules").mkdir()
    (tmp_path / "cxrules" / "__init__.py").write_text("raise SystemExit(7)\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, seconds, findings = checking._command(ROOT / "orgs" / "aftersales.yaml", sys.executable)
    assert code == 0 and seconds > 0 and findings == {}


def test_another_build_s_check_is_timed_in_turns_and_its_failure_costs_this_build_s_figures_nothing(monkeypatch, tmp_path, capsys):
    """BENCH_AGAINST: the other build's `cxrules check` runs in turns with this one's; if it fails, that is printed, it runs no
    more and its timing is None, and this build's timing is still whole (the part goes on to its growth)."""
    import checking

    calls = []
    real = checking._command
    monkeypatch.setattr(checking, "_command", lambda path, python: calls.append(python) or real(path, python))
    broken = _python_with(tmp_path, "raise SystemExit(5)\n")
    this, other = checking._commands(ROOT / "orgs" / "aftersales.yaml", [(sys.executable, 2), (broken, 2)])
    assert calls == [sys.executable, broken, sys.executable]
    assert other is None and len(this.seconds) == 2
    assert capsys.readouterr().out.strip() == f"check     the build at {broken}: `cxrules check` FAILED (exit 5)"


def test_a_check_s_findings_are_counted_per_code_from_its_report_lines_alone(tmp_path):
    """The report's finding lines, not every `CX…` in it (here the file's name holds another code)."""
    import checking

    org = tmp_path / "CX402.yaml"
    org.write_text((ROOT / "tests" / "checks" / "CX401_vip_gap.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    code, _, findings = checking._command(org, sys.executable)
    assert code == 1 and findings == {"CX401": 1}


def test_two_builds_checks_are_told_apart_by_their_findings_per_code():
    import checking
    from collections import Counter

    from measure import Timing

    this = Timing([1.0], Counter({"CX403": 66, "CX711": 5}))
    assert checking._findings_compared(this, Timing([2.0], Counter({"CX711": 5, "CX403": 66}))) == "the same findings"
    assert checking._findings_compared(this, Timing([2.0], Counter({"CX403": 60}))) == (
        "other findings: CX403 60 against CX403 66, CX711 5")


def test_measurements_compared_are_made_in_turns_each_as_often_as_asked():
    from measure import in_turns

    assert list(in_turns([3, 1])) == [0, 1, 0, 0]
    assert list(in_turns([2, 2, 1])) == [0, 1, 2, 1, 0]  # every other round backwards
    assert list(in_turns([])) == []


def _stand_in_build(folder: Path, label: str, calls: Path, exit_code: int = 0) -> str:
    """A build whose replay leaves 42 tickets open and writes ``label`` to ``calls`` each time it runs (or exits ``exit_code``)."""
    return _python_with(folder / label, f"""
import types, sys
with open({str(calls)!r}, "a") as calls:
    calls.write({label!r} + "\\n")
if {exit_code}:
    raise SystemExit({exit_code})
def load_org(path):
    return None
simulation = types.ModuleType("cxrules.simulation")
simulation.load_mapping = lambda path, org: (object(), [])
simulation.read_log = lambda log, mapping: ([1, 2, 3], types.SimpleNamespace(total=0))
simulation.simulate = lambda *args, **kwargs: types.SimpleNamespace(open_at_end={{"total": 42}}, attainment={{}})
sys.modules["cxrules.simulation"] = simulation
""")


def _replays_in_turns(tmp_path: Path, *builds: tuple[str, int, int]) -> tuple[list[list[dict]], list[str]]:
    """``_measure_in_turns`` of stand-in builds (label, repeats, exit code): each build's runs, and which ran, in order."""
    import simulation

    calls = tmp_path / "calls"
    pythons = [(_stand_in_build(tmp_path, label, calls, exit_code), repeat) for label, repeat, exit_code in builds]
    runs = simulation._measure_in_turns("simulate", "org.yaml", "mapping.yaml", "log.csv", "as-is", builds=pythons)
    return runs, calls.read_text(encoding="utf-8").split()


def test_builds_replay_in_turns_each_with_its_own_python(tmp_path):
    """`simulate` with BENCH_AGAINST: each build's runs are made by its Python, so with the cxrules it has (here stand-ins
    whose replay leaves 42 tickets open), in turns."""
    runs, calls = _replays_in_turns(tmp_path, ("this", 2, 0), ("other", 2, 0))
    assert calls == ["this", "other", "other", "this"]
    assert [[run["open_at_end"] for run in build] for build in runs] == [[42, 42], [42, 42]] and runs[1][0]["records"] == 3


def test_a_build_that_fails_to_replay_runs_no_more_and_if_it_is_this_build_neither_does_the_other(tmp_path, capsys):
    runs, calls = _replays_in_turns(tmp_path / "other", ("this", 2, 0), ("other", 2, 5))
    assert calls == ["this", "other", "this"] and [len(build) for build in runs] == [2, 0]
    assert "simulate with the build at " in capsys.readouterr().out
    runs, calls = _replays_in_turns(tmp_path / "this", ("this", 2, 5), ("other", 2, 0))
    assert calls == ["this"] and runs == [[], []]


def test_another_build_s_replay_is_printed_with_the_ratio_and_whether_its_figures_are_the_same(monkeypatch, capsys):
    """BENCH_AGAINST: the other build's min and median with its runs, this build's speed as a multiple of its (mins), and
    whether it left the same figures (else the two did other work, and the ratio says little)."""
    import simulation

    monkeypatch.setattr(simulation, "AGAINST", "/old/bin/python")
    ours = [{"seconds": 2.0, "records": 10, "open_at_end": 3, "sla_met": 0.9}, {"seconds": 2.5, "records": 10, "open_at_end": 3, "sla_met": 0.9}]
    simulation._against_line(ours, [{**ours[0], "seconds": 9.0}])
    assert capsys.readouterr().out.strip() == (
        "the build at /old/bin/python: min 9.00 s, median 9.00 s (1 run, this build's 2); this build 4.50× as fast; the same figures")
    simulation._against_line(ours, [{**ours[0], "seconds": 4.0, "records": 9, "sla_met": 0.8}])
    assert capsys.readouterr().out.strip().endswith("this build 2.00× as fast; other figures: records 9 against 10, sla_met 0.8 against 0.9")


def test_this_build_s_failed_check_ends_the_part(tmp_path, capsys):
    """A failed run's time means nothing, and the growth that follows would compare with it."""
    import checking

    broken = _python_with(tmp_path, "raise SystemExit(5)\n")
    with pytest.raises(SystemExit, match="failed"):
        checking._commands(ROOT / "orgs" / "aftersales.yaml", [(broken, 2)])
    assert capsys.readouterr().out.strip() == f"check     the build at {broken}: `cxrules check` FAILED (exit 5)"


def test_the_builds_compared_are_this_one_and_bench_against_s_each_with_its_repeats(monkeypatch):
    import measure

    monkeypatch.setattr(measure, "REPEAT", 3)
    monkeypatch.setattr(measure, "AGAINST_REPEAT", 1)
    assert measure.builds_to_compare("/old/bin/python") == [(sys.executable, 3), ("/old/bin/python", 1)]
    assert measure.builds_to_compare("") == [(sys.executable, 3)]


def test_works_timed_in_turns_are_each_prepared_and_released_by_their_own_setup_and_teardown():
    """`alternated` times several works in rounds, every other one backwards (what a work leaves behind falls on the work
    after it, then on the one before it); each timing of a work with a setup runs on what that setup made, and its teardown
    gets it after (an engine built for the timing is closed, not another's)."""
    from measure import Work, alternated

    log: list[tuple] = []
    made = iter(range(100))

    def work(name: str) -> Work:
        def setup() -> int:
            log.append(("setup", name))
            return next(made)
        return Work(lambda thing: log.append(("run", name, thing)) or name, setup=setup,
                    teardown=lambda thing: log.append(("teardown", name, thing)))

    timings = alternated({"engine": work("engine"), "raw": work("raw"), "plain": lambda: log.append(("run", "plain"))},
                         repeat=2)
    assert log == [("setup", "engine"), ("run", "engine", 0), ("teardown", "engine", 0),
                   ("setup", "raw"), ("run", "raw", 1), ("teardown", "raw", 1), ("run", "plain"),
                   ("run", "plain"), ("setup", "raw"), ("run", "raw", 2), ("teardown", "raw", 2),  # the next round backwards
                   ("setup", "engine"), ("run", "engine", 3), ("teardown", "engine", 3)]
    assert [len(timing.seconds) for timing in timings.values()] == [2, 2, 2] and timings["engine"].value == "engine"


def test_the_engine_part_times_what_it_reads_against_raw_posts_in_turns_with_them(monkeypatch, capsys):
    """A ratio's two sides timed minutes apart meet different stretches of the machine's drift: the best case, the realistic
    stream, its floors and the cold start's two sides (whose bound reads the best case against the fresh ruleset) are timed
    in the same rounds as the raw posts."""
    import engine_workloads
    import measure

    rounds: list[list[str]] = []

    def recorded_alternated(works, repeat=1):
        rounds.append(list(works))
        return measure.alternated(works, repeat=1)
    monkeypatch.setattr(engine_workloads, "alternated", recorded_alternated)
    monkeypatch.setattr(engine_workloads, "EVENTS", 60)
    monkeypatch.setattr(engine_workloads, "LOOKUPS", 20)
    monkeypatch.setattr(engine_workloads, "memory", lambda path: None)
    monkeypatch.setattr(engine_workloads, "COLD_STARTS", 2)
    rulesets, closed = [], []

    class CountedRuleset(engine_workloads.RawRuleset):
        def __init__(self, org):
            super().__init__(org)
            rulesets.append(self)

        def close(self):
            closed.append(self)
            super().close()
    monkeypatch.setattr(engine_workloads, "RawRuleset", CountedRuleset)
    engine_workloads.bench_table("aftersales", ROOT / "orgs" / "aftersales.yaml")
    assert len(rulesets) == 1 + 2  # the peers', then the cold start's two fresh ones in its one timing
    assert len(closed) == 3 and set(closed) == set(rulesets)  # each closed once
    assert rounds == [["dict floor (class → role, worked out before)", "hand-written first-match loop", "raw durable-rules post",
                       "engine's cached decision (router.route)", "best case", "realistic", "caller", "told", "checked",
                       "cold engine", "cold ruleset"]]
    out = capsys.readouterr().out
    assert "in turns with the raw posts they are read against" in out
    by_round = re.findall(r"by round: ([^;)]*)", out)  # the best case, the realistic stream, the cold start: one round each
    assert len(by_round) == 3 and all(re.fullmatch(r"\d+\.\d\d, median \d+\.\d\d", ratio) for ratio in by_round), by_round


def test_a_ratio_of_timings_made_in_turns_is_also_given_round_by_round():
    """The ratio of the mins hides how far the drift moved it: each round's ratio of rates is printed beside it."""
    from measure import Timing

    engine, raw = Timing([1.0, 2.0, 4.0]), Timing([2.0, 4.0, 4.0])  # the machine slowing down, the engine most in round 3
    assert engine.ratios_by_round(10, raw, 20) == "1.00, 1.00, 0.50, median 1.00"
    with pytest.raises(ValueError):  # the rounds of timings made in turns pair up
        engine.ratios_by_round(10, Timing([2.0, 4.0]), 20)


def test_a_timed_work_is_collected_as_often_whatever_the_bench_holds_alive():
    """What the bench keeps alive (a stream, its answers) is frozen, but the collector paces its full collections by the
    long-lived objects counted at the last one: counted afresh after the freeze, the timed work's own survivors pace them."""
    import gc

    from measure import timed

    def full_collections_of_work() -> int:
        def work() -> int:
            before, kept = gc.get_stats()[2]["collections"], []
            for number in range(300_000):
                made = [number, (number,)]
                if number % 3 == 0:
                    kept.append(made)
            return gc.get_stats()[2]["collections"] - before
        return timed(work)[0]
    alone = full_collections_of_work()
    held = [[number] for number in range(1_000_000)]
    assert alone > 0 and full_collections_of_work() == alone, len(held)


def test_a_knob_that_is_not_a_whole_number_of_at_least_one_is_a_usage_error_before_any_part_runs():
    """`BENCH_COLD_STARTS=0` would fail after the engine part's timings, with a traceback; every whole-number knob the
    driver lists is read first (exit 2, the knob named)."""
    import os
    import subprocess

    for knob, value in (("BENCH_COLD_STARTS", "0"), ("BENCH_TICKETS", "many"), ("BENCH_REPEAT", "-1")):
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "validate"], capture_output=True, text=True,
                              env={**os.environ, knob: value}, timeout=600)
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert done.stderr.strip() == f"bench: {knob}={value!r} is not a whole number of at least 1"


# ---------------------------------------------------------------------------------------------- cachesim

SUMMARY = """desc: I1 cache:         32768 B, 64 B, 8-way associative
desc: D1 cache:         49152 B, 64 B, 12-way associative
desc: LL cache:         33554432 B, 64 B, 16-way associative
cmd: python work
events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw Bc Bcm Bi Bim
fl= a.c
fn=f
1 5 1 0 2 1 0 1 0 0 3 1 1 0
summary: 1000 40 3 500 20 2 300 10 1 200 7 50 5
"""


def test_cachegrind_s_totals_are_read_into_the_figures_shown_reads_and_writes_summed(tmp_path):
    import cachesim

    out_file = tmp_path / "cachegrind.out"
    out_file.write_text(SUMMARY, encoding="utf-8")
    assert cachesim.counts_of(out_file) == {"instructions": 1000, "I1 misses": 40, "D1 misses": 30, "LL misses": 6,
                                            "conditional mispredicted": 7, "indirect mispredicted": 5}
    assert cachesim.caches_described(out_file) == ("I1 cache:         32768 B, 64 B, 8-way associative; D1 cache:         49152 B, "
                                                   "64 B, 12-way associative; LL cache:         33554432 B, 64 B, 16-way associative")


@pytest.mark.parametrize("text, says", [("events: Ir\nsummary: 1000\n", "has no I1mr.*--cache-sim=yes --branch-sim=yes"),
                                        (SUMMARY.split("summary:")[0], "has no totals.*did not finish")])
def test_a_cachegrind_output_without_the_simulation_or_without_totals_is_refused_saying_which(tmp_path, text, says):
    import cachesim

    out_file = tmp_path / "cachegrind.out"
    out_file.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=says):
        cachesim.counts_of(out_file)


def _cache(folder, index: int, level: int, kind: str, size: str, ways: int) -> None:
    entry = folder / f"index{index}"
    entry.mkdir(parents=True)
    for name, value in {"level": level, "type": kind, "size": size, "ways_of_associativity": ways, "coherency_line_size": 64}.items():
        (entry / name).write_text(f"{value}\n", encoding="utf-8")


def test_the_caches_simulated_are_this_machine_s_first_level_ones_and_its_last_unified_one(tmp_path):
    """cachegrind's own guess under a hypervisor took a host's 384 MB L3 for a 512 MB, 2-way last level."""
    import cachesim

    _cache(tmp_path, 0, 1, "Data", "48K", 12)
    _cache(tmp_path, 1, 1, "Instruction", "32K", 8)
    _cache(tmp_path, 2, 2, "Unified", "1024K", 16)
    _cache(tmp_path, 3, 3, "Unified", "32768K", 16)
    assert cachesim.simulated_caches(tmp_path) == ["--I1=32768,8,64", "--D1=49152,12,64", "--LL=33554432,16,64"]
    assert cachesim.simulated_caches(tmp_path / "missing") == []  # cachegrind's guess, then
    (tmp_path / "index3" / "size").write_text("lots\n", encoding="utf-8")
    assert cachesim.simulated_caches(tmp_path) == []


def test_each_work_s_counts_are_per_unit_and_each_ratio_is_a_post_s_over_the_ticket_s_of_the_same_kind(capsys):
    import cachesim

    def counts(instructions: float, misses: float) -> dict[str, float]:
        return {"instructions": instructions, "I1 misses": misses, "D1 misses": misses, "LL misses": -1.0,
                "conditional mispredicted": misses, "indirect mispredicted": misses}
    assert cachesim.per_unit(counts(100, 10), counts(700, 40), 3) == {**counts(200, 10), "LL misses": 0}
    cachesim.print_counts("an org", {"post": cachesim.Counted(counts(300_000, 6_000), 10, "LL cache: 32 MB"),
                                     "ticket": cachesim.Counted(counts(100_000, 6_000), 10),
                                     "realistic": cachesim.Counted(counts(200_000, 12_000), 4),
                                     "cold post": cachesim.Counted(counts(400_000, 8_000), 3),
                                     "cold ticket": cachesim.Counted(counts(100_000, 16_000), 3)})
    out = capsys.readouterr().out
    assert "(simulated: LL cache: 32 MB;" in out
    assert "raw durable-rules post, warm" in out and "300,000" in out and "(4 units)" in out and "-1.0" in out
    assert "best case: instructions 3.00x, I1 misses 1.00x" in out
    assert ("realistic stream: instructions 1.50x, I1 misses 0.50x, D1 misses 0.50x, conditional mispredicted 0.50x, "
            "indirect mispredicted 0.50x") in out
    assert "cold start: instructions 4.00x, I1 misses 0.50x" in out  # a fresh ruleset's post over a fresh engine's ticket
    assert "LL misses -" not in out  # a count that netted out below 0 has no ratio


def test_without_valgrind_the_cachesim_part_says_so_and_counts_nothing(monkeypatch, capsys, tmp_path):
    import cachesim

    monkeypatch.setattr(cachesim.shutil, "which", lambda name: None)
    monkeypatch.setattr(cachesim, "counted", lambda *args: pytest.fail("counted without valgrind"))
    cachesim.bench_cachesim(tmp_path)
    assert "valgrind is not on PATH: nothing counted" in capsys.readouterr().out


def _desk(tmp_path):
    from engine_workloads import DESK

    org = tmp_path / "desk.yaml"
    org.write_text(DESK.format(capacity=5, assignment="least_loaded", agents=10), encoding="utf-8")
    return org


def test_a_work_is_counted_under_cachegrind_as_its_run_less_its_setup_alone(monkeypatch, tmp_path):
    """The real thing on a desk of one role: two children under valgrind, the setup's counts taken off the whole run's."""
    import shutil

    from conftest import require_tool
    require_tool(shutil.which("valgrind"), "valgrind", "apt-get install valgrind")
    import cachesim

    monkeypatch.setenv("BENCH_CACHESIM_UNITS", "100")
    result = cachesim.counted(_desk(tmp_path), "ticket", tmp_path)
    assert result.units == 100
    # a ticket created and closed runs tens of thousands of instructions, and misses the caches some
    assert 10_000 < result.per_unit["instructions"] < 1_000_000
    assert result.per_unit["I1 misses"] > 0 and result.per_unit["conditional mispredicted"] > 0
    assert "I1 cache" in result.caches and "LL cache" in result.caches


@pytest.mark.parametrize("work", ["post", "ticket", "realistic", "cold post", "cold ticket"])
def test_each_work_is_set_up_and_done_in_the_child_with_its_units(monkeypatch, tmp_path, work):
    """What each child does, in-process (cachegrind only counts it): set up, then done, with the units it is divided by."""
    import cachesim
    from cxrules import load_org
    from cxrules.engine import TicketCreated
    from engine_workloads import whole_lives

    org = _desk(tmp_path)
    monkeypatch.setattr(cachesim, "UNITS", 30)
    monkeypatch.setattr(cachesim, "EVENTS", 200)
    job, units = cachesim.prepared(org, work)
    job()
    created = sum(1 for event in whole_lives(load_org(org), 200) if type(event) is TicketCreated)
    classes = 4 * 2  # the desk's one category, channel and segment, four priorities, member or not
    assert units == {"post": 30, "ticket": 30, "realistic": created, "cold post": classes, "cold ticket": classes}[work]
