"""The suite's own rules: outside tools are required in CI, and no test leans on the wall clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import require_tool

TESTS = Path(__file__).parent


def test_a_missing_tool_is_a_skip_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Graphviz is not available"):
        require_tool(None, "Graphviz", "apt-get install graphviz")


def test_a_missing_tool_is_a_failure_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="in CI its absence is a failure"):
        require_tool("", "Graphviz", "apt-get install graphviz")
    require_tool("/usr/bin/dot", "Graphviz", "apt-get install graphviz")  # present: nothing happens


WALL_CLOCK = {"sleep", "perf_counter", "monotonic", "time"}


def _reads_the_wall_clock(node: ast.AST) -> bool:
    """`time.sleep(…)`, `from time import sleep`, `datetime.now()` / `utcnow()`: a test must get time from the virtual clock."""
    if isinstance(node, ast.ImportFrom) and node.module == "time":
        return any(alias.name in WALL_CLOCK for alias in node.names)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
        module, name = node.func.value.id, node.func.attr
        return (module == "time" and name in WALL_CLOCK) or (module == "datetime" and name in ("now", "utcnow", "today"))
    return False


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.py")), ids=lambda p: p.name)
def test_no_test_reads_the_wall_clock_or_sleeps(path):
    """A busy 2-core machine must not fail a test: time comes from the virtual clock, kill points from progress."""
    found = [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if _reads_the_wall_clock(node)]
    assert not found, f"{path.name}:{found[0].lineno} reads the wall clock"


@pytest.mark.parametrize("source", ["import time\ntime.sleep(1)\n", "from time import perf_counter\n",
                                    "from datetime import datetime\ndatetime.now()\n"])
def test_the_guard_sees_every_way_of_reading_the_clock(source):
    assert any(_reads_the_wall_clock(node) for node in ast.walk(ast.parse(source)))
