"""Shared test helpers: paths to fixtures and a CLI runner that lets tracebacks fail tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
ORGS = ROOT / "orgs"
EXAMPLES = Path(__file__).resolve().parent / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
SEED_ORGS = sorted(ORGS.glob("*.yaml"))


@pytest.fixture
def run_cli(monkeypatch):
    """Run `cxrules ARGS` in-process; exceptions propagate so a traceback fails the test."""
    from cxrules.cli import app

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args: str):
        return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run


def assert_golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; `UPDATE_GOLDEN=1 pytest` rewrites the files."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"golden file {path} missing: run UPDATE_GOLDEN=1 pytest"
    assert text == path.read_text(encoding="utf-8")
