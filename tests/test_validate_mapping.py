"""`cxrules validate MAPPING.yaml` (issue 11): a ticket-log mapping is validated as a mapping, not as an org."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT

MAPPING = ROOT / "tests" / "corpus" / "logs" / "mapping.yaml"
TINY = ROOT / "tests" / "fixtures" / "tiny.yaml"


def test_a_good_mapping_validates_clean(run_cli):
    result = run_cli("validate", MAPPING)
    assert result.exit_code == 0, result.stdout
    assert "kind" not in result.stdout and "Organisation" not in result.stdout
    assert "1 file checked: no problems" in result.stdout


def test_a_bad_mapping_gets_mapping_diagnostics_with_positions(run_cli, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("apiVersion: cxrules/v1\nkind: TicketLogMapping\ntime_formats: ['%Y-%m-%d']\n"
                    "fields:\n  created: {column: opened}\n  category: {colum: type}\n  channel: {value: phone}\n"
                    "  priority: {value: normal}\n", encoding="utf-8")
    result = run_cli("validate", path, "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    found = {(d["code"], d["line"], d["column"]) for d in report["diagnostics"]}
    assert ("CX112", 6, 14) in found  # unknown property `colum`: did you mean `column`?
    assert not any("Organisation" in d["message"] for d in report["diagnostics"])
    text = run_cli("validate", path).stdout
    assert f"{path}:6:14: error CX112 unknown property `colum`" in text and "did you mean `column`?" in text


def test_a_mapping_with_an_unknown_time_zone(run_cli, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING.read_text(encoding="utf-8").replace("timezone: Asia/Shanghai", "timezone: Mars/Olympus"), encoding="utf-8")
    result = run_cli("validate", path)
    assert result.exit_code == 1 and f"{path}:3:11: error CX303 unknown time zone `Mars/Olympus`" in result.stdout


def test_mappings_and_orgs_together(run_cli, tmp_path):
    result = run_cli("validate", TINY, MAPPING)
    assert result.exit_code == 0 and "2 files checked: no problems" in result.stdout


def test_an_org_file_still_says_what_kind_it_needs(run_cli, tmp_path):
    path = tmp_path / "o.yaml"
    path.write_text(TINY.read_text(encoding="utf-8").replace("kind: Organisation", "kind: Organization"), encoding="utf-8")
    result = run_cli("validate", path)
    assert result.exit_code == 1 and "`Organisation`" in result.stdout


def test_check_validates_a_mapping_as_a_mapping_beside_the_orgs(run_cli):
    result = run_cli("check", MAPPING, TINY)
    assert result.exit_code == 0, result.stdout
    assert "Organisation" not in result.stdout and "2 files checked" in result.stdout


def test_a_service_time_beyond_the_bound_is_a_diagnostic_not_a_traceback(tmp_path):
    import cxrules
    from cxrules.simulation import load_mapping

    path = tmp_path / "m.yaml"
    path.write_text(MAPPING.read_text(encoding="utf-8") + "service_time:\n  default: {mean: 99999999999w}\n", encoding="utf-8")
    mapping, problems = load_mapping(path, cxrules.load_org(TINY))
    assert mapping is None and [(p.code, p.location.line) for p in problems] == [("CX311", len(path.read_text().splitlines()))]


def test_a_symlink_out_of_its_folder_is_not_opened_to_see_whether_it_is_a_mapping(tmp_path):
    from cxrules.simulation.mapping import is_mapping_file

    outside, inside = tmp_path / "outside", tmp_path / "inside"
    outside.mkdir()
    inside.mkdir()
    (outside / "m.yaml").write_text(MAPPING.read_text(encoding="utf-8"), encoding="utf-8")
    (inside / "m.yaml").symlink_to(outside / "m.yaml")
    assert is_mapping_file(outside / "m.yaml") and not is_mapping_file(inside / "m.yaml")


@pytest.mark.parametrize("extra, code", [("encoding: bogus\n", "CX113"), ("service_time:\n  default: {mean: 999d}\n", "CX311")])
def test_validate_finds_what_simulate_would_stumble_on(run_cli, tmp_path, extra, code):
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING.read_text(encoding="utf-8") + extra, encoding="utf-8")
    result = run_cli("validate", path)
    assert result.exit_code == 1 and f"error {code}" in result.stdout


def test_a_log_that_is_a_fifo_is_refused_not_waited_on(run_cli, tmp_path):
    import os

    os.mkfifo(tmp_path / "log.csv")
    result = run_cli("report", TINY, "-o", tmp_path / "r.html", "--tickets", tmp_path / "log.csv", "-m", MAPPING)
    assert result.exit_code == 2 and "not a regular file" in result.stderr
