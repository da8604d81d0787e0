"""The bench driver (`bench/run.py`): what it prints around each part, beside the part's own figures."""

from __future__ import annotations

import importlib.util
import resource
import sys
from pathlib import Path

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


def test_the_whole_check_command_times_the_installed_build_not_a_cxrules_folder_in_the_working_directory(monkeypatch, tmp_path):
    """Run from the repository's root, as README.md says, `python -c` would import the source folder there, not the build
    installed (compiled, or another one given by BENCH_AGAINST); here a stand-in folder that exits 7 must not be imported."""
    import checking

    (tmp_path / "cxrules").mkdir()
    (tmp_path / "cxrules" / "__init__.py").write_text("raise SystemExit(7)\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    timing = checking._command(ROOT / "orgs" / "aftersales.yaml", repeat=1)
    assert len(timing.seconds) == 1 and timing.best > 0


def test_another_build_s_replay_is_printed_with_the_ratio_and_whether_its_figures_are_the_same(monkeypatch, capsys):
    """BENCH_AGAINST: the other build's min and median, this build's speed as a multiple of its (mins), and a word on whether
    it left the same figures (else the two did other work, and the ratio says little)."""
    import measure
    import simulation

    monkeypatch.setattr(measure, "AGAINST", "/old/bin/python")
    ours = [{"seconds": 2.0, "records": 10, "open_at_end": 3, "sla_met": 0.9}, {"seconds": 2.5, "records": 10, "open_at_end": 3, "sla_met": 0.9}]
    simulation._against_line(ours, [{**ours[0], "seconds": 9.0}])
    assert capsys.readouterr().out.strip() == (
        "the build at /old/bin/python: min 9.00 s, median 9.00 s; this build 4.50× as fast; the same figures")
    simulation._against_line(ours, [{**ours[0], "seconds": 4.0, "open_at_end": 5}])
    assert capsys.readouterr().out.strip().endswith("this build 2.00× as fast; other figures: 5 open at the end, SLA met 0.9")
