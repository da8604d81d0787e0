"""The bad-input corpus for events, tickets given to `route`, and ticket logs (files: tests/examples/invalid).

Every entry states what it must produce; none may raise anything but the documented errors.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import cxrules
from cxrules.codes import REGISTRY
from cxrules.engine import Engine, EventError, VirtualClock, parse_event
from cxrules.simulation import load_mapping, read_log

from conftest import ROOT
from engine_helpers import local

CORPUS = Path(__file__).parent / "corpus"
TINY = ROOT / "tests" / "fixtures" / "tiny.yaml"
EVENTS = yaml.safe_load((CORPUS / "events" / "expected.yaml").read_text(encoding="utf-8"))
ROUTES = yaml.safe_load((CORPUS / "route" / "expected.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_event_corpus(name):
    engine = Engine(cxrules.load_org(TINY), VirtualClock(local(2025, 3, 3, 10)))
    lines = (CORPUS / "events" / name).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(EVENTS[name])
    for number, (line, expected) in enumerate(zip(lines, EVENTS[name]), start=1):
        try:
            event = parse_event(json.loads(line))
        except json.JSONDecodeError:
            assert expected == "error: not JSON", (number, line)
            continue
        except EventError as error:
            assert expected.startswith("error: ") and expected[7:] in str(error), (number, str(error))
            continue
        decisions = engine.submit(event)
        refusals = [d.reason for d in decisions if d.kind == "Refused"]
        if expected == "ok":
            assert refusals == [], (number, refusals)
        else:
            assert expected.startswith("refused: ") and any(expected[9:] in reason for reason in refusals), (number, refusals)


def test_every_event_file_is_listed():
    assert sorted(EVENTS) == sorted(p.name for p in (CORPUS / "events").glob("*.jsonl"))


_HEADER = re.compile(r"^(?P<file>.+):(?P<at>\d+:\d+): error (?P<code>CX\d{3}) (?P<message>.+)$")


def _text_diagnostics(text: str) -> list[dict]:
    """The diagnostics of the text reporter's output: header line, then quoted source, `hint:` and notes indented."""
    found: list[dict] = []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            found.append({**header.groupdict(), "hint": None})
        elif line.startswith("    hint: ") and found:
            found[-1]["hint"] = line.removeprefix("    hint: ")
    return found


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_route_corpus(run_cli, name):
    """Exit 2 and exactly the expected diagnostics, each with file:line:column, code, message and fix, in text and JSON."""
    path = CORPUS / "route" / name
    expected = ROUTES[name]
    data = run_cli("route", TINY, path, "--format", "json")
    assert data.exit_code == 2 and "Traceback" not in data.output
    found = json.loads(data.stdout)["diagnostics"]
    assert [(d["code"], f"{d['line']}:{d['column']}") for d in found] == [(e["code"], e["at"]) for e in expected], found
    for diagnostic, entry in zip(found, expected):
        assert diagnostic["file"] == str(path) and diagnostic["severity"] == "error"
        assert entry["message"] in diagnostic["message"], diagnostic
        assert diagnostic["hint"] and entry["hint"] in diagnostic["hint"], diagnostic
        assert [f"{r['line']}:{r['column']}" for r in diagnostic["related"]] == ([entry["first"]] if "first" in entry else [])
    text = run_cli("route", TINY, path)
    assert text.exit_code == 2 and text.stdout == "" and "Traceback" not in text.output
    shown = _text_diagnostics(text.stderr)
    assert [(d["file"], d["at"], d["code"]) for d in shown] == [(str(path), e["at"], e["code"]) for e in expected], text.stderr
    for diagnostic, entry in zip(shown, expected):
        assert entry["message"] in diagnostic["message"] and entry["hint"] in (diagnostic["hint"] or ""), text.stderr


def test_every_route_file_is_listed_and_every_ticket_code_has_one():
    assert sorted(ROUTES) == sorted(p.name for p in (CORPUS / "route").iterdir() if p.name != "expected.yaml")
    ticket_codes = {code for code, info in REGISTRY.items() if info.name.startswith("ticket-")}
    assert ticket_codes == {entry["code"] for entries in ROUTES.values() for entry in entries}


def test_log_corpus():
    expected = yaml.safe_load((CORPUS / "logs" / "expected.yaml").read_text(encoding="utf-8"))
    mapping, problems = load_mapping(CORPUS / "logs" / "mapping.yaml", cxrules.load_org(TINY))
    assert problems == []
    records, unmapped = read_log(CORPUS / "logs" / "broken.csv", mapping)
    assert [r.id for r in records] == expected["replayed"]
    assert unmapped.reasons == expected["unmapped"]
