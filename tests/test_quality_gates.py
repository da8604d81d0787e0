"""The quality gates, run with the tests so that CI (and anyone running `pytest`) fails on them.

ruff (pyproject.toml: `[tool.ruff]`), mypy on `cxrules/` (`[tool.mypy]`) and the import
contracts of the layers (`[tool.importlinter]`: model and loading import nothing above them,
checks never import the engine, simulation or rendering, only the CLI imports typer and rich).
The same commands run as pre-commit hooks (.pre-commit-config.yaml).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, require_tool

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", [["ruff", "check", "."], ["mypy"], ["lint-imports"]], ids=lambda c: c[0])
def test_gate_passes(command):
    tool = BIN / command[0] if (BIN / command[0]).exists() else shutil.which(command[0])
    require_tool(tool, command[0], "pip install '.[test]'")
    run = subprocess.run([str(tool), *command[1:]], cwd=ROOT, capture_output=True, text=True,
                         timeout=1800)  # a guard against a hang, not a speed limit
    assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]
