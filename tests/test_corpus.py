"""The bad-input corpus for events, tickets given to `route`, and ticket logs (files: tests/examples/invalid).

Every entry states what it must produce; none may raise anything but the documented errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import cxrules
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


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_route_corpus(run_cli, name):
    result = run_cli("route", TINY, CORPUS / "route" / name)
    assert result.exit_code == 2 and ROUTES[name] in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_log_corpus():
    expected = yaml.safe_load((CORPUS / "logs" / "expected.yaml").read_text(encoding="utf-8"))
    mapping, problems = load_mapping(CORPUS / "logs" / "mapping.yaml", cxrules.load_org(TINY))
    assert problems == []
    records, unmapped = read_log(CORPUS / "logs" / "broken.csv", mapping)
    assert [r.id for r in records] == expected["replayed"]
    assert unmapped.reasons == expected["unmapped"]
