"""README.md's two commands are the ones CI runs, and its examples stay true."""

from __future__ import annotations

import re

import pytest

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


def _python_snippets() -> list[str]:
    return re.findall(r"```python\n(.+?)\n```", README, flags=re.S)


@pytest.mark.parametrize("number", range(len(_python_snippets())), ids=lambda n: f"snippet{n + 1}")
def test_every_python_snippet_of_the_readme_runs_as_written(number, tmp_path, monkeypatch, request):
    """Run from a fresh folder holding the shipped orgs, as a reader who cloned the repository would
    (the PostgreSQL snippet against a fresh database of the test server)."""
    if "CXRULES_DATABASE" in _python_snippets()[number]:
        monkeypatch.setenv("CXRULES_DATABASE", request.getfixturevalue("postgres_url"))
    (tmp_path / "orgs").symlink_to(ROOT / "orgs")
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_snippets()[number], f"README.md python snippet {number + 1}", "exec"), {"__name__": "readme"})


def test_the_readme_example_output_is_what_validate_prints(run_cli, monkeypatch):
    example = re.search(r"```text\n\$ cxrules (validate \S+)\n(.+?)\n```", README, flags=re.S)
    monkeypatch.chdir(ROOT)
    assert run_cli(*example.group(1).split()).stdout.strip() == example.group(2).strip()
