"""Every output of the CLI is byte-identical whatever Python's hash seed.

Sets of strings iterate in an order that changes with ``PYTHONHASHSEED``; anything printed
from one (a cycle's starting role, the order of regions, of moved units) would make CI
annotations and SARIF uploads differ from run to run. Each seed runs in its own process:
one driver per seed runs every command through the CLI (in that process, so the seed is
the only difference) and returns what each printed and wrote.

Seeds 0 and 1 are a pair under which CX511's old cycle listing started from different roles.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys

from conftest import ORGS, ROOT, SEED_ORGS, assert_golden

SEEDS = ("0", "1")
CX511 = sorted((ROOT / "tests/checks").glob("CX511_*.yaml"))

DRIVER = r"""
import json, sys
from pathlib import Path
from typer.testing import CliRunner
from cxrules.cli import app

commands, out_dir = json.loads(sys.argv[1]), Path(sys.argv[2])
results = {}
for name, args in commands:
    written = out_dir / name.replace("/", "_").replace(" ", "_")
    args = [str(written) if arg == "{output}" else arg for arg in args]
    result = CliRunner().invoke(app, args, catch_exceptions=True)
    results[name] = {"exit": result.exit_code, "stdout": result.stdout,
                     "error": repr(result.exception) if result.exception and not isinstance(result.exception, SystemExit) else None,
                     "file": written.read_text(encoding="utf-8") if written.exists() else None}
print(json.dumps(results, ensure_ascii=False))
"""


def _commands() -> list[tuple[str, list[str]]]:
    orgs = [str(p.relative_to(ROOT)) for p in SEED_ORGS]
    fixtures = [str(p.relative_to(ROOT)) for p in CX511]
    commands = []
    for command in ("validate", "check"):
        for fmt in ("text", "json", "sarif", "github"):
            commands.append((f"{command} {fmt}", [command, *orgs, *fixtures, "--format", fmt]))
    for org in orgs:
        for view in ("org", "routing", "escalation", "handoffs"):
            for fmt in ("mermaid", "dot"):
                commands.append((f"graph {org} {view} {fmt}", ["graph", org, "--view", view, "--format", fmt, "--findings"]))
        commands.append((f"report {org}", ["report", org, "--output", "{output}"]))
    for fixture in fixtures:
        commands.append((f"graph {fixture} handoffs", ["graph", fixture, "--view", "handoffs", "--findings"]))
        commands.append((f"report {fixture}", ["report", fixture, "--output", "{output}"]))
    pairs = [(str((ORGS / "automotive.yaml").relative_to(ROOT)), str((ORGS / "aftersales.yaml").relative_to(ROOT))),
             (str((ORGS / "logistics.yaml").relative_to(ROOT)), str((ORGS / "automotive.yaml").relative_to(ROOT))),
             ("tests/checks/CX511_ping_pong.yaml", "tests/checks/CX511_two_groups.yaml"),
             ("tests/checks/CX401_weekend_gap.yaml", "tests/checks/CX402_hours.yaml")]
    for old, new in pairs:
        for fmt in ("text", "markdown", "json"):
            commands.append((f"diff {old} {new} {fmt}", ["diff", old, new, "--format", fmt]))
    return commands


def _run(seed: str, tmp_path) -> dict:
    out = tmp_path / f"seed-{seed}"
    out.mkdir()
    env = {**os.environ, "PYTHONHASHSEED": seed, "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    completed = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(_commands()), str(out)], cwd=ROOT, env=env,
                               capture_output=True, text=True, encoding="utf-8", timeout=1800)  # a guard against a hang, not a speed limit
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


def _entry_point(seed: str, *args: str) -> str:
    """The console entry's function (`cxrules.cli:main`, what the `cxrules` script calls) in a process of its own."""
    env = {**os.environ, "PYTHONHASHSEED": seed, "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    code = "import sys; from cxrules.cli import main; sys.argv[0] = 'cxrules'; main()"
    completed = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                               encoding="utf-8", timeout=600)  # a guard against a hang, not a speed limit
    return f"exit {completed.returncode}\n{completed.stdout}{completed.stderr}"


def _first_difference(a: str, b: str) -> str:
    return "\n".join(list(difflib.unified_diff((a or "").splitlines(), (b or "").splitlines(), "seed A", "seed B", lineterm=""))[:40])


def test_every_output_is_the_same_under_any_hash_seed(tmp_path):
    runs = [_run(seed, tmp_path) for seed in SEEDS]
    first = runs[0]
    assert len(first) == len(_commands())
    for name, result in first.items():
        assert result["error"] is None, (name, result["error"])
        assert result["stdout"] or result["file"], name
    for other in runs[1:]:
        for name, result in first.items():
            for part in ("exit", "stdout", "file"):
                assert result[part] == other[name][part], f"{name} ({part}) differs between hash seeds:\n" + \
                    _first_difference(str(result[part]), str(other[name][part]))


def test_check_of_the_loop_fixtures_is_the_same_under_any_hash_seed_from_the_command_line():
    args = ["check", *(str(p.relative_to(ROOT)) for p in CX511), "--format", "sarif"]
    outputs = {seed: _entry_point(seed, *args) for seed in SEEDS}
    assert '"ruleId": "CX511"' in outputs[SEEDS[0]]
    assert outputs[SEEDS[0]] == outputs[SEEDS[1]], _first_difference(outputs[SEEDS[0]], outputs[SEEDS[1]])


def test_loop_findings_match_their_golden_files(run_cli, monkeypatch):
    """The same bytes on every machine too: CX511's findings as reviewed (SARIF is compared across seeds above)."""
    monkeypatch.chdir(ROOT)
    result = run_cli("check", *(str(p.relative_to(ROOT)) for p in CX511), "--select", "CX511", "--format", "text")
    assert result.exit_code == 1
    assert_golden("check_cx511.txt", result.stdout)


def test_overlaps_in_a_large_group_of_equal_precedence_are_listed_in_the_same_order_under_any_hash_seed(tmp_path):
    """Over 64 rules of one precedence the overlaps were once ordered by the first of a rule's categories as a set
    iterates them, which the hash seed decides: the same findings, listed in another order from run to run."""
    import yaml
    from test_rule_index import varied_org

    data = varied_org(7, 220, big_groups=True)
    data["routing"] = [rule for rule in data["routing"] if "match" in rule]
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    outputs = {seed: _entry_point(seed, "check", str(path), "--format", "json") for seed in SEEDS}
    assert '"CX402"' in outputs["0"]
    assert outputs["0"] == outputs["1"], _first_difference(outputs["0"], outputs["1"])
