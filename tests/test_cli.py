"""The `cxrules` command line: exit codes, reporters, schema/explain/version, check configuration.

Every run goes through the `run_cli` fixture, which lets exceptions propagate: a traceback
anywhere fails the test. The reporters' output is pinned in tests/golden/ (rewrite with
`UPDATE_GOLDEN=1 pytest tests/test_cli.py`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest

from cxrules import __version__
from cxrules.checks import CHECKS

from conftest import EXAMPLES, ORGS, ROOT, SEED_ORGS, assert_golden

TINY = ROOT / "tests" / "fixtures" / "tiny.yaml"
SEVERAL_LAYERS = EXAMPLES / "invalid" / "several_layers.yaml"
# Relative to ROOT, so reports name it the same way on every machine.
DUPLICATE_KEY_REL = "tests/examples/invalid/several_with_duplicate_key.yaml"
FORMATS = ["text", "json", "sarif", "github"]
GOLDEN_SUFFIX = {"text": "txt", "json": "json", "sarif": "sarif", "github": "github.txt"}

GITHUB_LINE = re.compile(r"^::(error|warning|notice) file=[^,:]+,line=\d+,col=\d+,title=[^:]+::.+$")


# --- helpers -------------------------------------------------------------------------------


def _sub(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"fixture text changed: {old!r}"
    return text.replace(old, new)


def _tiny() -> str:
    return TINY.read_text(encoding="utf-8")


def _two_accountable(text: str) -> str:
    """tiny.yaml with the duty `answer` given two accountable roles (CX612, a warning)."""
    return _sub(text, "    name: Answer customers\n    accountable: [manager]",
                "    name: Answer customers\n    accountable: [manager, desk]")


def _several_findings(text: str) -> str:
    """tiny.yaml with four warnings of three families: CX403, CX604, CX612 (run_centre), CX612 (answer)."""
    text = _two_accountable(text)
    text = _sub(text, "    name: Run the centre\n    accountable: [manager]",
                "    name: Run the centre\n    accountable: [manager, desk]")
    text = _sub(text, "    parent: centre\nroles:",
                "    parent: centre\n  - id: archive\n    name: Archive\n    parent: front\nroles:")
    text = _sub(text, '      daily: ["12:00-14:00", "21:00-09:00"]\n',
                '      daily: ["12:00-14:00", "21:00-09:00"]\n  - id: night\n    hours:\n      daily: ["22:00-06:00"]\n')
    text = _sub(text, "escalations:", "  - id: night_complaints\n    match: {category: [complaint]}\n"
                "    to: manager\n    during: night\n    precedence: 20\nescalations:")
    return text


@pytest.fixture
def warning_org(tmp_path, monkeypatch):
    """An org whose only finding is one CX612 warning; the CWD is a clean tmp folder."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "warning.yaml"
    path.write_text(_two_accountable(_tiny()), encoding="utf-8")
    return path


@pytest.fixture
def findings_org(tmp_path, monkeypatch):
    """An org with warnings CX403, CX604 and two CX612; the CWD is a clean tmp folder."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "findings.yaml"
    path.write_text(_several_findings(_tiny()), encoding="utf-8")
    return path


def _codes_in(output: str) -> list[str]:
    """Codes of the diagnostics in text output, in order."""
    return re.findall(r"^\S+:\d+:\d+: (?:error|warning|info) (CX\d{3}) ", output, flags=re.MULTILINE)


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output


# --- exit codes ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["validate", "check"])
@pytest.mark.parametrize("target", [TINY, ORGS], ids=["tiny.yaml", "orgs"])
def test_clean_input_exits_0(run_cli, command, target, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(command, target)
    assert result.exit_code == 0, result.output
    assert "checked: no problems" in result.stdout


def test_seed_orgs_are_all_read(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("check", ORGS, "--format", "json")
    assert result.exit_code == 0
    files = json.loads(result.stdout)["files"]
    assert {Path(f).name for f in files} >= {p.name for p in ORGS.glob("*.yaml")}


@pytest.mark.parametrize("command", ["validate", "check"])
def test_file_with_errors_exits_1(run_cli, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(command, SEVERAL_LAYERS)
    assert result.exit_code == 1, result.output
    assert _codes_in(result.stdout) == ["CX115", "CX112", "CX202", "CX304", "CX201"]
    assert result.stdout.endswith("1 file checked: 5 errors, 0 warnings\n")


@pytest.mark.parametrize("command", ["validate", "check"])
def test_missing_path_exits_2(run_cli, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(command, "no_such_org.yaml")
    assert result.exit_code == 2
    assert "CX001" in result.stdout and "no such file or folder" in result.stdout


@pytest.mark.parametrize("command", ["validate", "check"])
def test_missing_path_next_to_a_good_one_still_exits_2(run_cli, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(command, TINY, "no_such_org.yaml")
    assert result.exit_code == 2
    assert "CX001" in result.stdout


@pytest.mark.parametrize("command", ["validate", "check"])
def test_folder_without_org_files_exits_2(run_cli, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an org\n", encoding="utf-8")
    (empty / "other.yaml").write_text("just: some yaml\n", encoding="utf-8")
    result = run_cli(command, empty)
    assert result.exit_code == 2
    assert "CX001" in result.stdout and "no org files" in result.stdout


@pytest.mark.parametrize("command", ["validate", "check"])
def test_unknown_option_exits_2(run_cli, command):
    result = run_cli(command, "--no-such-option", TINY)
    assert result.exit_code == 2
    assert "No such option" in result.stderr
    assert result.stdout == ""


def test_unknown_command_and_unknown_format_exit_2(run_cli):
    assert run_cli("frobnicate").exit_code == 2
    result = run_cli("validate", TINY, "--format", "xml")
    assert result.exit_code == 2
    assert "xml" in result.stderr


def test_bad_severity_option_exits_2(run_cli, warning_org):
    result = run_cli("check", warning_org, "--severity", "CX612=fatal")
    assert result.exit_code == 2
    assert "CODE=error|warning|info" in result.stderr


@pytest.mark.parametrize("code", ["CX999", "CX", "hello"])
def test_explain_unknown_code_exits_2(run_cli, code):
    result = run_cli("explain", code)
    assert result.exit_code == 2
    assert f"unknown code `{code}`" in result.stderr
    assert result.stdout == ""


def test_warning_exits_0_but_strict_exits_1(run_cli, warning_org):
    plain = run_cli("check", warning_org)
    assert plain.exit_code == 0, plain.output
    assert _codes_in(plain.stdout) == ["CX612"]
    assert "warning CX612" in plain.stdout
    strict = run_cli("check", "--strict", warning_org)
    assert strict.exit_code == 1
    assert _codes_in(strict.stdout) == ["CX612"]


def test_strict_ignores_info(run_cli, warning_org):
    result = run_cli("check", "--strict", "--severity", "CX612=info", warning_org)
    assert result.exit_code == 0
    assert "info CX612" in result.stdout


# --- reporters --------------------------------------------------------------------------------


@pytest.fixture
def at_root(monkeypatch):
    """Run from the project root so that reports name files by stable relative paths."""
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("fmt", FORMATS)
def test_validate_report_golden(run_cli, at_root, fmt):
    result = run_cli("validate", DUPLICATE_KEY_REL, "--format", fmt)
    assert result.exit_code == 1
    assert result.stderr == ""
    assert_golden(f"validate_several_with_duplicate_key.{GOLDEN_SUFFIX[fmt]}", result.stdout)


def test_text_report_shows_source_caret_hint_and_note(run_cli, at_root):
    out = run_cli("validate", DUPLICATE_KEY_REL).stdout
    lines = out.splitlines()
    first = lines.index(f"{DUPLICATE_KEY_REL}:36:5: error CX101 duplicate key `unit`: "
                        "YAML would silently keep only the last one [duplicate-key]")
    assert lines[first + 1] == "        unit: centre"
    assert lines[first + 2] == "        ^"
    assert lines[first + 3] == "    hint: remove or rename one of the two"
    assert lines[first + 4] == f"    {DUPLICATE_KEY_REL}:34:5: note: `unit` first defined here"
    assert lines[-1] == "1 file checked: 4 errors, 0 warnings"
    assert "\033[" not in out


def test_json_report_has_documented_keys(run_cli, at_root):
    result = run_cli("validate", DUPLICATE_KEY_REL, "--format", "json")
    report = json.loads(result.stdout)
    assert set(report) == {"tool", "version", "files", "summary", "diagnostics"}
    assert report["tool"] == "cxrules" and report["version"] == __version__
    assert report["files"] == [DUPLICATE_KEY_REL]
    assert report["summary"] == {"errors": 4, "warnings": 0, "infos": 0}
    assert [d["code"] for d in report["diagnostics"]] == ["CX101", "CX110", "CX201", "CX113"]
    for d in report["diagnostics"]:
        assert set(d) == {"code", "severity", "message", "file", "line", "column", "hint", "subject", "related"}
        assert d["file"] == DUPLICATE_KEY_REL and d["severity"] == "error"
        assert isinstance(d["line"], int) and isinstance(d["column"], int)
    duplicate = report["diagnostics"][0]
    assert (duplicate["line"], duplicate["column"]) == (36, 5)
    assert duplicate["hint"] == "remove or rename one of the two"
    assert duplicate["related"] == [{"file": DUPLICATE_KEY_REL, "line": 34, "column": 5,
                                     "message": "`unit` first defined here"}]


def test_json_report_of_check_carries_subject_and_warnings(run_cli, warning_org):
    report = json.loads(run_cli("check", warning_org, "--format", "json").stdout)
    assert report["summary"] == {"errors": 0, "warnings": 1, "infos": 0}
    (finding,) = report["diagnostics"]
    assert finding["code"] == "CX612" and finding["severity"] == "warning" and finding["subject"] == "answer"


SARIF_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def assert_valid_sarif(text: str) -> dict:
    """Parsed SARIF, after validating it against the OASIS SARIF 2.1.0 schema (errata 01) shipped in tests/schemas."""
    sarif = json.loads(text)
    errors = sorted(jsonschema.Draft4Validator(SARIF_SCHEMA).iter_errors(sarif), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]]
    return sarif


def test_the_sarif_schema_check_can_fail():
    with pytest.raises(AssertionError):
        assert_valid_sarif(json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}))


@pytest.mark.parametrize("command", ["validate", "check"])
def test_sarif_of_the_shipped_orgs_and_the_bad_corpus_is_valid(run_cli, command):
    for path in [*SEED_ORGS, *sorted((ROOT / "tests" / "examples" / "invalid").glob("*.yaml"))[:20]]:
        assert_valid_sarif(run_cli(command, path, "--format", "sarif").stdout)


def test_sarif_report_is_valid_2_1_0(run_cli, at_root):
    result = run_cli("validate", DUPLICATE_KEY_REL, "--format", "sarif")
    sarif = assert_valid_sarif(result.stdout)
    assert sarif["version"] == "2.1.0"
    assert "sarif" in sarif["$schema"]
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "cxrules" and driver["version"] == __version__
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["CX101", "CX110", "CX201", "CX113"]
    for r in results:
        assert r["ruleId"] in rule_ids
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]
        assert r["level"] == "error"
        assert r["message"]["text"]
        (location,) = r["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == DUPLICATE_KEY_REL
        region = physical["region"]
        assert isinstance(region["startLine"], int) and region["startLine"] >= 1
        assert isinstance(region["startColumn"], int) and region["startColumn"] >= 1
    assert results[0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 36, "startColumn": 5}
    assert "hint: remove or rename one of the two" in results[0]["message"]["text"]
    (related,) = results[0]["relatedLocations"]
    assert related["physicalLocation"]["region"] == {"startLine": 34, "startColumn": 5}
    assert related["message"]["text"] == "`unit` first defined here"
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["helpUri"].endswith("#" + rule["id"].lower())


def test_sarif_levels_of_check_findings(run_cli, warning_org):
    sarif = assert_valid_sarif(run_cli("check", warning_org, "--format", "sarif", "--severity", "CX612=info").stdout)
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "CX612" and result["level"] == "note"
    assert [rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]] == ["CX612"]


def test_github_report_lines(run_cli, at_root):
    result = run_cli("validate", DUPLICATE_KEY_REL, "--format", "github")
    *annotations, summary = result.stdout.splitlines()
    assert len(annotations) == 4
    for line in annotations:
        assert GITHUB_LINE.match(line), line
        assert line.startswith(f"::error file={DUPLICATE_KEY_REL},line=")
    assert annotations[0] == (f"::error file={DUPLICATE_KEY_REL},line=36,col=5,title=CX101 duplicate-key::"
                              "duplicate key `unit`: YAML would silently keep only the last one"
                              "%0Ahint: remove or rename one of the two"
                              f"%0A{DUPLICATE_KEY_REL}:34:5: `unit` first defined here")
    assert summary == "1 file checked: 4 errors, 0 warnings"


def test_github_report_of_warning(run_cli, warning_org):
    out = run_cli("check", warning_org, "--format", "github").stdout
    (line,) = [text for text in out.splitlines() if text.startswith("::")]
    assert re.match(r"^::warning file=[^,]+,line=\d+,col=\d+,title=CX612 duty-several-accountable::", line), line


def test_auto_format_is_github_under_github_actions(run_cli, at_root, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    auto = run_cli("validate", DUPLICATE_KEY_REL)
    explicit = run_cli("validate", DUPLICATE_KEY_REL, "--format", "github")
    assert auto.stdout.startswith("::error file=")
    assert auto.stdout == explicit.stdout
    assert run_cli("validate", DUPLICATE_KEY_REL, "--format", "auto").stdout == explicit.stdout


def test_auto_format_is_text_outside_github_actions(run_cli, at_root, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    auto = run_cli("validate", DUPLICATE_KEY_REL, "--format", "auto")
    assert auto.stdout == run_cli("validate", DUPLICATE_KEY_REL, "--format", "text").stdout
    assert not auto.stdout.startswith("::")


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_file_is_written_and_nothing_printed(run_cli, at_root, tmp_path, fmt):
    target = tmp_path / f"report.{fmt}"
    result = run_cli("validate", DUPLICATE_KEY_REL, "--format", fmt, "--output", target)
    assert result.exit_code == 1
    assert result.stdout == "" and result.stderr == ""
    assert target.read_text(encoding="utf-8") == run_cli("validate", DUPLICATE_KEY_REL, "--format", fmt).stdout


def test_output_file_of_clean_check(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "out.sarif"
    result = run_cli("check", ORGS, "-f", "sarif", "-o", target)
    assert result.exit_code == 0 and result.output == ""
    assert json.loads(target.read_text(encoding="utf-8"))["runs"][0]["results"] == []


def test_output_to_unwritable_place_exits_2(run_cli, tmp_path):
    target = tmp_path / "no" / "such" / "folder" / "report.txt"
    result = run_cli("validate", TINY, "--output", target)
    assert result.exit_code == 2
    assert "cannot write" in result.stderr


# --- schema, explain, version ------------------------------------------------------------------


def test_schema_prints_the_shipped_schema(run_cli):
    result = run_cli("schema")
    assert result.exit_code == 0
    shipped = (ROOT / "schemas" / "org.schema.json").read_text(encoding="utf-8")
    assert result.stdout == shipped
    assert json.loads(result.stdout) == json.loads(shipped)


def test_explain_prints_the_checks_docstring(run_cli):
    result = run_cli("explain", "CX401")
    assert result.exit_code == 0
    check = CHECKS["CX401"]
    assert result.stdout.startswith(f"CX401 {check.name} (error)\n\n{check.summary}\n")
    assert check.doc and check.doc in result.stdout
    assert "Failing" in result.stdout and "Passing" in result.stdout


@pytest.mark.parametrize("spelling", ["cx101", "Cx101", " CX101 "])
def test_explain_is_case_insensitive(run_cli, spelling):
    result = run_cli("explain", spelling)
    assert result.exit_code == 0
    assert result.stdout == run_cli("explain", "CX101").stdout
    assert result.stdout.startswith("CX101 duplicate-key (error)")


@pytest.mark.parametrize("code", sorted(CHECKS))
def test_explain_every_check_code(run_cli, code):
    result = run_cli("explain", code)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{code} {CHECKS[code].name} ({CHECKS[code].severity.value})")


def test_version(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"cxrules {__version__}\n"


# --- check configuration: options ---------------------------------------------------------------


def test_findings_org_reports_every_family(run_cli, findings_org):
    result = run_cli("check", findings_org)
    assert result.exit_code == 1  # the shadowed rule is an error: its tickets go elsewhere than it says
    assert _codes_in(result.stdout) == ["CX604", "CX612", "CX612", "CX403"]


@pytest.mark.parametrize("select", ["CX6", "cx6", "CX60,CX61"])
def test_select_reports_only_selected_codes(run_cli, findings_org, select):
    result = run_cli("check", "--select", select, findings_org)
    assert result.exit_code == 0
    codes = _codes_in(result.stdout)
    assert codes == ["CX604", "CX612", "CX612"]


def test_select_one_exact_code(run_cli, findings_org):
    result = run_cli("check", "--select", "CX403", findings_org)
    assert _codes_in(result.stdout) == ["CX403"]


@pytest.mark.parametrize("ignore", [["CX612"], ["CX61"], ["CX612,CX604"], ["CX612", "CX604"]])
def test_ignore_drops_those_codes(run_cli, findings_org, ignore):
    args = [a for value in ignore for a in ("--ignore", value)]
    codes = _codes_in(run_cli("check", *args, findings_org).stdout)
    assert "CX612" not in codes
    assert "CX403" in codes
    assert ("CX604" in codes) == (not any("CX604" in v for v in ignore))


def test_select_and_ignore_together(run_cli, findings_org):
    assert _codes_in(run_cli("check", "--select", "CX6", "--ignore", "CX604", findings_org).stdout) == ["CX612", "CX612"]


def test_severity_option_makes_exit_1(run_cli, warning_org):
    result = run_cli("check", "--severity", "CX612=error", warning_org)
    assert result.exit_code == 1
    assert "error CX612" in result.stdout
    assert result.stdout.endswith("1 file checked: 1 error, 0 warnings\n")
    lower = run_cli("check", "--severity", "cx612=ERROR", warning_org)
    assert lower.exit_code == 1


def test_severity_option_leaves_other_codes_alone(run_cli, findings_org):
    result = run_cli("check", "--severity", "CX604=error", "--format", "json", findings_org)
    assert result.exit_code == 1
    severities = {(d["code"], d["severity"]) for d in json.loads(result.stdout)["diagnostics"]}
    assert severities == {("CX604", "error"), ("CX612", "warning"), ("CX403", "error")}


# --- check configuration: pyproject.toml -----------------------------------------------------------


def _pyproject(folder: Path, body: str) -> None:
    (folder / "pyproject.toml").write_text(body, encoding="utf-8")


def test_pyproject_select(run_cli, findings_org):
    _pyproject(findings_org.parent, '[tool.cxrules]\nselect = ["CX6"]\n')
    assert _codes_in(run_cli("check", findings_org).stdout) == ["CX604", "CX612", "CX612"]


def test_pyproject_ignore(run_cli, findings_org):
    _pyproject(findings_org.parent, '[tool.cxrules]\nignore = ["CX612", "cx403"]\n')
    assert _codes_in(run_cli("check", findings_org).stdout) == ["CX604"]


def test_pyproject_severity(run_cli, warning_org):
    _pyproject(warning_org.parent, '[tool.cxrules]\nseverity = { CX612 = "error" }\n')
    result = run_cli("check", warning_org)
    assert result.exit_code == 1
    assert "error CX612" in result.stdout


def test_pyproject_all_three_keys(run_cli, findings_org):
    _pyproject(findings_org.parent,
               '[project]\nname = "client"\n\n[tool.cxrules]\nselect = ["CX4", "CX6"]\nignore = ["CX604"]\n'
               'severity = { CX403 = "warning" }\n')
    result = run_cli("check", findings_org, "--format", "json")
    assert result.exit_code == 0  # the shadowed rule, an error by default, lowered to a warning
    found = [(d["code"], d["severity"]) for d in json.loads(result.stdout)["diagnostics"]]
    assert found == [("CX612", "warning"), ("CX612", "warning"), ("CX403", "warning")]


def test_pyproject_found_in_a_parent_folder(run_cli, findings_org, monkeypatch):
    _pyproject(findings_org.parent, '[tool.cxrules]\nignore = ["CX6"]\n')
    child = findings_org.parent / "sub"
    child.mkdir()
    _pyproject(child, '[project]\nname = "no cxrules table here"\n')
    monkeypatch.chdir(child)
    assert _codes_in(run_cli("check", findings_org).stdout) == ["CX403"]


def test_command_line_overrides_pyproject(run_cli, findings_org):
    _pyproject(findings_org.parent, '[tool.cxrules]\nselect = ["CX4"]\nignore = ["CX604"]\n'
               'severity = { CX612 = "error" }\n')
    result = run_cli("check", "--select", "CX6", "--severity", "CX612=warning", findings_org)
    assert result.exit_code == 0
    # --select replaces the table's select; --ignore adds to the table's ignore
    assert _codes_in(result.stdout) == ["CX612", "CX612"]


def test_validate_does_not_read_pyproject(run_cli, findings_org):
    _pyproject(findings_org.parent, "[tool.cxrules]\nbogus = 1\n")
    assert run_cli("validate", findings_org).exit_code == 0


@pytest.mark.parametrize(
    "body, expected",
    [
        ("[tool.cxrules]\nbogus = 1\n", "unknown key(s) in [tool.cxrules]: bogus"),
        ("[tool.cxrules]\nselect = [\"CX6\"]\nselct = [\"CX4\"]\n", "unknown key(s) in [tool.cxrules]: selct"),
        ('[tool.cxrules]\nseverity = { CX612 = "fatal" }\n', "severity of CX612 must be error, warning or info"),
        ("[tool.cxrules\n", "pyproject.toml"),
    ],
    ids=["unknown-key", "misspelt-key", "bad-severity", "not-toml"],
)
def test_invalid_pyproject_exits_2_with_message(run_cli, warning_org, body, expected):
    _pyproject(warning_org.parent, body)
    result = run_cli("check", warning_org)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("cxrules: ")
    assert expected in result.stderr
    _no_traceback(result)


@pytest.mark.parametrize(
    "body",
    [
        '[tool.cxrules]\nseverity = "CX612=error"\n',
        "[tool.cxrules]\nignore = 5\n",
        "[tool.cxrules]\nselect = [4]\n",
        "[tool]\ncxrules = 3\n",
    ],
    ids=["severity-not-table", "ignore-not-list", "select-not-strings", "table-not-table"],
)
def test_wrongly_typed_pyproject_exits_2_without_traceback(run_cli, warning_org, body):
    _pyproject(warning_org.parent, body)
    result = run_cli("check", warning_org)
    assert result.exit_code == 2
    assert result.stderr.startswith("cxrules: ") and "pyproject.toml" in result.stderr


def test_select_as_a_string_is_not_split_into_characters(run_cli, warning_org):
    _pyproject(warning_org.parent, '[tool.cxrules]\nselect = "CX4"\n')
    result = run_cli("check", warning_org)
    assert result.exit_code == 2 or "CX612" not in result.stdout


# --- accepted findings ------------------------------------------------------------------------------


def _with_accept(text: str, *entries: str) -> str:
    return text + "accept:\n" + "".join(entries)


def test_accept_with_at_suppresses_exactly_that_finding(run_cli, findings_org):
    findings_org.write_text(_with_accept(
        _several_findings(_tiny()),
        "  - code: CX612\n    at: answer\n    reason: Manager and desk answer customers together on purpose.\n",
    ), encoding="utf-8")
    result = run_cli("check", findings_org, "--format", "json")
    assert result.exit_code == 1  # the shadowed rule (an error) is still there
    found = [(d["code"], d["subject"]) for d in json.loads(result.stdout)["diagnostics"]]
    assert ("CX612", "answer") not in found
    assert ("CX612", "run_centre") in found
    assert [code for code, _ in found] == ["CX604", "CX612", "CX403"]


def test_accept_without_at_suppresses_the_code_everywhere(run_cli, findings_org):
    findings_org.write_text(_with_accept(
        _several_findings(_tiny()),
        "  - code: CX612\n    reason: Shared accountability is how this centre works.\n",
        "  - code: CX403\n    at: night_complaints\n    reason: Kept for the night shift planned next year.\n",
    ), encoding="utf-8")
    result = run_cli("check", findings_org)
    assert result.exit_code == 0
    assert _codes_in(result.stdout) == ["CX604"]


def test_accept_of_another_subject_suppresses_nothing(run_cli, findings_org):
    findings_org.write_text(_with_accept(
        _several_findings(_tiny()),
        "  - code: CX612\n    at: night_complaints\n    reason: Wrong subject for this code on purpose.\n",
        "  - code: CX604\n    at: centre\n    reason: Wrong unit, so archive stays reported.\n",
    ), encoding="utf-8")
    result = run_cli("check", findings_org)
    assert _codes_in(result.stdout) == ["CX604", "CX612", "CX612", "CX403"]


def test_accepted_warning_passes_strict(run_cli, warning_org):
    warning_org.write_text(_with_accept(
        _two_accountable(_tiny()),
        "  - code: CX612\n    at: answer\n    reason: Manager and desk answer customers together on purpose.\n",
    ), encoding="utf-8")
    result = run_cli("check", "--strict", warning_org)
    assert result.exit_code == 0, result.output
    assert "checked: no problems" in result.stdout


def test_accept_naming_an_unknown_id_is_an_error(run_cli, warning_org):
    warning_org.write_text(_with_accept(
        _two_accountable(_tiny()),
        "  - code: CX612\n    at: nosuch\n    reason: Manager and desk answer customers together on purpose.\n",
    ), encoding="utf-8")
    result = run_cli("check", warning_org)
    assert result.exit_code == 1
    assert _codes_in(result.stdout) == ["CX201"]
    assert "accepted finding names `nosuch`" in result.stdout


def test_folder_scan_reports_unreadable_files_and_skips_log_mappings(run_cli, tmp_path):
    import os
    import shutil

    shutil.copy(ROOT / "tests/fixtures/tiny.yaml", tmp_path / "good.yaml")
    shutil.copy(ROOT / "examples/mappings/support_tickets_to_automotive.yaml", tmp_path / "mapping.yaml")
    assert run_cli("check", tmp_path).exit_code == 0                     # the mapping is not taken for an org
    (tmp_path / "locked.yaml").write_text("apiVersion: cxrules/v1\n", encoding="utf-8")
    os.chmod(tmp_path / "locked.yaml", 0)
    if os.access(tmp_path / "locked.yaml", os.R_OK):                    # root reads anything
        pytest.skip("running as root: permissions do not apply")
    result = run_cli("check", tmp_path)
    assert result.exit_code == 2 and "CX001" in result.stdout


def test_select_of_a_code_that_does_not_exist_is_a_usage_error(run_cli):
    result = run_cli("check", ROOT / "tests/fixtures/tiny.yaml", "--select", "XX9")
    assert result.exit_code == 2 and "no check code starts with `XX9`" in result.stderr


def test_writing_into_a_missing_folder_is_a_clear_error(run_cli, tmp_path):
    assert run_cli("init", tmp_path / "missing" / "org.yaml").exit_code == 2
    result = run_cli("graph", ROOT / "tests/fixtures/tiny.yaml", "-o", tmp_path / "missing" / "g.mmd")
    assert result.exit_code == 2 and "cannot write" in result.stderr


def test_unknown_codes_in_pyproject_or_severity_are_usage_errors(run_cli, warning_org):
    _pyproject(warning_org.parent, '[tool.cxrules]\nignore = ["CX9"]\n')
    assert run_cli("check", warning_org).exit_code == 2
    (warning_org.parent / "pyproject.toml").unlink()
    result = run_cli("check", warning_org, "--severity", "CX999=error")
    assert result.exit_code == 2 and "`CX999`" in result.stderr


def test_a_file_name_that_is_not_utf8_is_written_to_an_output_file_without_a_traceback(run_cli, tmp_path):
    folder = tmp_path / "scan"
    folder.mkdir()
    (folder / os.fsdecode(b"bad\xff.yaml")).write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    result = run_cli("validate", folder, "--format", "json", "--output", tmp_path / "out.json")
    assert result.exit_code == 0
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["files"][0].endswith(os.fsdecode(b"bad\xff.yaml"))


def test_a_line_break_in_a_file_name_cannot_forge_a_line_of_the_report(run_cli, tmp_path):
    forged = tmp_path / "x\nfake.yaml:1:1: error CX999 forged.yaml"
    forged.write_text("apiVersion: cxrules/v1\nkind: Organisation\norg: {id: x}\n", encoding="utf-8")
    out = run_cli("validate", forged).stdout
    assert not any(line.startswith("fake.yaml") for line in out.splitlines()) and "x\\nfake.yaml" in out


def test_check_looks_at_the_real_dates_of_its_horizon(run_cli):
    case = ROOT / "tests/checks/CX406_holiday_gap.yaml"
    autumn = run_cli("check", case, "--from", "2025-09-01", "--to", "2025-12-31")
    assert autumn.exit_code == 1 and "on 2025-10-01 to 10-03, 2025-10-06 to 10-08: no routing rule owns" in autumn.stdout
    summer = run_cli("check", case, "--from", "2025-07-01", "--to", "2025-08-31")  # no public holiday on a weekday then
    assert summer.exit_code == 0
    for bad in (("--from", "2025-13-01"), ("--from", "2025-09-01", "--to", "2025-08-01")):
        assert run_cli("check", case, *bad).exit_code == 2


@pytest.mark.parametrize("case", ["CX403_two_rules_shadow", "CX503_first_response_start", "CX711_channel_unstaffed",
                                  "CX406_holiday_gap", "CX407_make_up_day_overlap"])
def test_findings_that_do_harm_fail_check_by_default(run_cli, case):
    """A rule that never fires, an authority that hears too late, an open channel nobody staffs, tickets nobody owns or two
    owners claim on some dates: exit 1 without --strict; the passing case of each exits 0."""
    options = ("--select", case[:5], "--from", "2025-01-01", "--to", "2025-12-31")
    failing = run_cli("check", ROOT / f"tests/checks/{case}.yaml", *options)
    assert failing.exit_code == 1 and " error " + case[:5] in failing.stdout, failing.stdout
    assert run_cli("check", ROOT / f"tests/checks/{case}_ok.yaml", *options).exit_code == 0


def test_the_report_of_a_bug_survives_a_command_line_of_no_encoding_and_a_message_of_many_lines(tmp_path, monkeypatch, capsys):
    import tempfile

    from cxrules import cli

    def broken(code):
        raise ValueError("first line\nsecond line")

    monkeypatch.setattr(cli, "lookup", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["cxrules", "explain", "CX201\udcff"])  # a byte the file system's encoding could not read
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    error = capsys.readouterr().err
    assert exit_.value.code == 2 and "ValueError: first line\n" in error and "second line" not in error
    [crash] = tmp_path.glob("cxrules-crash-*.txt")
    assert "CX201\\udcff" in crash.read_text(encoding="utf-8") and "second line" in crash.read_text(encoding="utf-8")


def test_a_reader_that_stops_reading_ends_the_output_without_a_bug_report():
    """`cxrules … | head -c 10`: the rest cannot be written, which is no bug and no traceback."""
    import subprocess
    import sys

    code = "import sys; from cxrules import cli; cli.schema_text = lambda: 'x' * 4_000_000; sys.argv[0] = 'cxrules'; cli.main()"  # more than a pipe holds
    process = subprocess.Popen([sys.executable, "-c", code, "schema"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()
    error = process.stderr.read().decode("utf-8", "replace")
    process.wait(timeout=600)  # a guard against a hang, not a speed limit
    assert error == ""
