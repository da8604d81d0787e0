"""README.md's two commands are the ones CI runs, and its examples stay true."""

from __future__ import annotations

import re

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README)


def test_readme_opens_with_the_main_job_and_the_test_command():
    main_job, tests = _commands()[:2]
    assert main_job.startswith("python3 -m venv .venv") and "cxrules check orgs/" in main_job
    assert tests.startswith("python3 -m venv .venv") and tests.endswith(".venv/bin/pytest")


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _commands()[1] in ci.splitlines()
