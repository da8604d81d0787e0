"""Golden cases for `cxrules check`: one failing and one passing org per check code.

Each file in tests/checks/ starts with comment lines that state what it must produce::

    # expect: CX401 12:5 complaint × wechat     (code, line:column, text the message contains)
    # expect: none                               (a passing case: no finding at all)

Only findings of codes named in the file name's prefix (e.g. `CX401_...`) are compared,
so a case stays about its own check.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from cxrules import CheckConfig, check, validate_path
from cxrules.checks import CHECKS

HORIZON = (date(2025, 1, 1), date(2025, 12, 31))
"""The dates the dated checks look at in these cases, fixed so that a case says the same on any day it runs."""
CASES = sorted((Path(__file__).parent / "checks").glob("CX*.yaml"))
_EXPECT = re.compile(r"^# expect: (?:none|(CX\d{3}) (\d+):(\d+)(?: (.*))?)\s*$")


def _expectations(path: Path) -> list[tuple[str, int, int, str]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _EXPECT.match(line)
        if match and match.group(1):
            code, row, column, text = match.groups()
            found.append((code, int(row), int(column), (text or "").strip()))
    return found


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_check_case(path):
    result = validate_path(path)
    assert result.org is not None, [str(d.location) + " " + d.message for d in result.diagnostics]
    code = path.name[:5]
    findings = [d for d in check(result.org, CheckConfig(select=frozenset({code}), horizon=HORIZON))]
    expected = _expectations(path)
    assert sorted((d.code, d.location.line, d.location.column) for d in findings) == sorted((c, row, k) for c, row, k, _ in expected), \
        [f"{d.code} {d.location.line}:{d.location.column} {d.message}" for d in findings]
    for code_, line, column, text in expected:
        messages = [d.message for d in findings if (d.code, d.location.line, d.location.column) == (code_, line, column)]
        assert any(text in message for message in messages), (text, messages)


def test_every_check_has_a_failing_and_a_passing_case():
    names = [p.stem for p in CASES]
    for code in CHECKS:
        fails = [p for p in CASES if p.stem.startswith(code) and _expectations(p)]
        passes = [p for p in CASES if p.stem.startswith(code) and not _expectations(p)]
        assert fails and passes, f"{code} needs a failing and a passing case in tests/checks/ (have {names})"
