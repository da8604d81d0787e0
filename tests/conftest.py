"""Shared test helpers: paths to fixtures and a CLI runner that lets tracebacks fail tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

# No deadline anywhere: a busy machine must not fail a property. `fuzz` is for long runs
# (`HYPOTHESIS_PROFILE=fuzz pytest -m slow`).
_RELAXED = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("default-run", max_examples=80, **_RELAXED)
settings.register_profile("fuzz", max_examples=2000, **_RELAXED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default-run"))
FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"


def examples(count: int) -> int:
    """A property's own example count (what a test's `@settings` sets overrides the profile), 25 times more under `fuzz`."""
    return count * 25 if FUZZ else count

ROOT = Path(__file__).resolve().parent.parent
ORGS = ROOT / "orgs"
EXAMPLES = Path(__file__).resolve().parent / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
SEED_ORGS = sorted(ORGS.glob("*.yaml"))


def require_tool(available: object, what: str, install: str) -> None:
    """Skip a test whose outside tool is missing, saying why; fail instead in CI (``CI=true``).

    `.ci/run` installs Chromium, Graphviz, Mermaid's parser and valgrind, so there a missing tool is a
    broken install, not a reason to pass quietly.
    """
    if available:
        return
    message = f"{what} is not available ({install})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; .ci/run installs it, so in CI its absence is a failure", pytrace=False)
    pytest.skip(f"{message}; .ci/run installs it")


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


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    The server comes from ``CXRULES_TEST_POSTGRES`` (a connection URL of a role that may create
    databases); `.ci/run` installs PostgreSQL from the distribution, starts it and sets it.
    """
    server = os.environ.get("CXRULES_TEST_POSTGRES")
    require_tool(server, "a PostgreSQL server", "set CXRULES_TEST_POSTGRES=postgresql:///postgres?host=/var/run/postgresql")
    import uuid
    from urllib.parse import urlsplit

    import psycopg

    name = f"cxrules_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(server)
    yield f"{parts.scheme}://{parts.netloc}/{name}" + (f"?{parts.query}" if parts.query else "")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
