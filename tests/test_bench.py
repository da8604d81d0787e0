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
