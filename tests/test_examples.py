"""Every file under tests/examples runs automatically.

`valid/` files must validate with no diagnostic. Each `invalid/` file is listed in
`invalid/expected.yaml` with the exact diagnostics (code, line, column) it must produce, so
a change in what or where we report fails here.
"""

from __future__ import annotations

import yaml
import pytest

from cxrules import validate_path
from cxrules.codes import REGISTRY

from conftest import EXAMPLES

EXPECTED = yaml.safe_load((EXAMPLES / "invalid" / "expected.yaml").read_text(encoding="utf-8"))
INVALID = sorted(p for p in (EXAMPLES / "invalid").iterdir() if p.is_file() and p.name != "expected.yaml")
VALID = sorted((EXAMPLES / "valid").glob("*.yaml"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_has_no_diagnostics(path):
    result = validate_path(path)
    assert result.diagnostics == ()
    assert result.org is not None


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_reports_exactly_the_expected_diagnostics(path):
    assert path.name in EXPECTED, f"add {path.name} with its expected diagnostics to expected.yaml"
    result = validate_path(path)
    found = sorted(f"{d.code} {d.location.line}:{d.location.column}" for d in result.diagnostics)
    assert found == sorted(EXPECTED[path.name])
    assert result.org is None


def test_every_expected_entry_has_a_file():
    assert sorted(EXPECTED) == sorted(p.name for p in INVALID)


# CX001 (unreadable path) and CX102 (a file over 10 MB) are made at test time in
# test_loading.py; CX119 is the net for schema keywords the translator does not know yet.
NOT_AS_FILES = {"CX001", "CX102", "CX119"}


def test_every_validation_code_has_an_example():
    used = {entry.split()[0] for entries in EXPECTED.values() for entry in entries}
    # the ticket codes of `cxrules route` (CX010-CX018) have their cases in tests/corpus/route
    validation_codes = {code for code, info in REGISTRY.items() if code < "CX400" and not info.name.startswith("ticket-")}
    assert validation_codes - used == NOT_AS_FILES


def test_positions_stay_exact_across_included_files():
    org = validate_path(EXAMPLES / "valid" / "split.yaml").org
    duty = next(d for d in org.duties if d.id == "answer")
    where = duty.source.at("id")
    assert where.file.endswith("parts/duties.yaml") and where.line == 9
