"""`cxrules route`: the timeline runs to the last deadline (issue 11), tickets are read bounded and checked whole.

Bad ticket files are in the corpus (tests/corpus/route, run by test_corpus.py, each with its
code, line:column and fix); here are the cases a file cannot express: `--at`, standard input,
sizes, FIFOs, the timeline itself, and the scanner that finds where each field is in the text.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

import pytest
from hypothesis import given, strategies as st

from conftest import ORGS, ROOT

TINY = ROOT / "tests" / "fixtures" / "tiny.yaml"
TICKET = {"id": "N1", "category": "complaint", "channel": "phone", "segment": "normal", "priority": "normal",
          "created": "2025-09-30T10:00:00+08:00"}


def _org(tmp_path, resolution: str):
    """tiny.yaml (office hours Mon–Fri 09:00–18:00, China's holidays) with another resolution target."""
    text = TINY.read_text(encoding="utf-8")
    assert "    resolution: 24h\n" in text
    path = tmp_path / "org.yaml"
    path.write_text(text.replace("    resolution: 24h\n", f"    resolution: {resolution}\n"), encoding="utf-8")
    return path


def _ticket(tmp_path, **changes):
    path = tmp_path / "ticket.json"
    path.write_text(json.dumps({**TICKET, **changes}), encoding="utf-8")
    return path


def _route(run_cli, org, ticket, *options):
    result = run_cli("route", org, ticket, "--format", "json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_timeline_runs_across_national_day_to_the_resolution_deadline(run_cli, tmp_path):
    # 60 business hours from Tue 30 Sep 10:00, with 1–8 October off: Wed 15 October 16:00, 15 days later
    # (it used to stop at 14 days, showing neither the warning nor the breach).
    report = _route(run_cli, _org(tmp_path, "60h"), _ticket(tmp_path))
    due = report["decisions"][0]["resolution_due"]
    assert due == "2025-10-15T16:00:00+08:00"
    resolution = [(x["kind"], x["at"]) for x in report["timeline"] if x.get("target") == "resolution"]
    assert [kind for kind, _ in resolution] == ["SlaWarning", "SlaBreached"]
    assert resolution[1][1] == due
    assert datetime.fromisoformat(due) - datetime.fromisoformat(TICKET["created"]) > timedelta(days=14)
    assert report["timeline_end"] == {"complete": True, "at": due, "next_due": None,
                                      "reason": "complete: nothing more happens after Wed 2025-10-15 16:00 if nobody answers"}
    # the follow-up assumes resolution at the deadline, not at arrival + 14 days
    assert report["followups_if_resolved_at"] == due
    (followup,) = report["followups"]
    assert followup["at"] == due and followup["due"] == "2025-10-18T16:00:00+08:00"


def test_text_output_shows_the_breach_and_where_the_timeline_ends(run_cli, tmp_path):
    result = run_cli("route", _org(tmp_path, "60h"), _ticket(tmp_path))
    assert result.exit_code == 0, result.output
    assert "Wed 2025-10-15 16:00  resolution target breached" in result.stdout
    assert "(if resolved on Wed 2025-10-15 16:00)" in result.stdout
    assert result.stdout.rstrip().endswith("timeline complete: nothing more happens after Wed 2025-10-15 16:00 if nobody answers")


@pytest.mark.parametrize("category", ["warranty", "complaint"])
def test_shipped_org_across_national_day_follow_up_assumes_resolution_at_its_deadline(run_cli, tmp_path, category):
    ticket = _ticket(tmp_path, category=category)
    report = _route(run_cli, ORGS / "automotive.yaml", ticket)
    due = report["decisions"][-1]["resolution_due"]
    assert due and any(x["kind"] == "SlaBreached" and x["target"] == "resolution" and x["at"] == due for x in report["timeline"])
    assert report["timeline_end"]["complete"] is True
    last = max(x["at"] for x in report["timeline"])
    assert report["timeline_end"]["at"] == last
    assert report["followups"] and all(x["at"] == due for x in report["followups"])


def test_timeline_stops_one_year_after_arrival_and_says_why(run_cli, tmp_path):
    org = _org(tmp_path, "3000h")  # 3,000 office hours: February 2027
    report = _route(run_cli, org, _ticket(tmp_path))
    assert report["decisions"][0]["resolution_due"] == "2027-02-04T13:00:00+08:00"
    end = report["timeline_end"]
    assert end["complete"] is False and end["at"] == "2026-10-01T10:00:00+08:00"
    assert "limit of 366 days after arrival" in end["reason"] and "the resolution deadline (Thu 2027-02-04 13:00)" in end["reason"]
    assert end["next_due"] > end["at"]
    assert all(x["at"] <= end["at"] for x in report["timeline"])
    assert report["followups_if_resolved_at"] == "2027-02-04T13:00:00+08:00"
    text = run_cli("route", org, _ticket(tmp_path)).stdout
    assert "timeline stops at Thu 2026-10-01 10:00, its limit of 366 days after arrival" in text


@pytest.mark.parametrize("at, message", [
    ("9999-12-31T23:00:00+08:00", "year 9999 is outside the years cxrules computes deadlines for (1970–2100)"),
    ("0001-01-01T00:00:00", "year 1 is outside the years cxrules computes deadlines for (1970–2100)"),
    ("2101-01-01", "year 2101 is outside"),
    ("1969-12-31T23:59:59+00:00", "year 1969 is outside"),
    ("next tuesday", "must be an ISO 8601 time"),
])
def test_at_outside_the_supported_years_or_not_a_time_is_refused(run_cli, tmp_path, at, message):
    result = run_cli("route", TINY, _ticket(tmp_path), "--at", at)
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())
    assert "Traceback" not in result.output


def test_at_on_the_edges_of_the_supported_years_routes(run_cli, tmp_path):
    for at in ("1970-01-01T00:00:00+14:00", "2100-12-31T23:59:59-12:00"):
        report = _route(run_cli, TINY, _ticket(tmp_path), "--at", at)
        assert report["timeline_end"]["complete"] is True, at


def test_ticket_from_standard_input(run_cli, tmp_path):
    from typer.testing import CliRunner

    from cxrules.cli import app

    result = CliRunner().invoke(app, ["route", str(TINY), "-", "-f", "json"], input=json.dumps(TICKET), catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.stdout)["ticket"] == "N1"


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_a_ticket_larger_than_one_megabyte_is_refused_unread(run_cli, tmp_path, source):
    from typer.testing import CliRunner

    from cxrules.cli import app

    padding = " " * 1_000_001
    text = json.dumps(TICKET)[:-1] + padding + "}"
    if source == "file":
        path = tmp_path / "big.json"
        path.write_text(text, encoding="utf-8")
        result = run_cli("route", TINY, path)
    else:
        result = CliRunner().invoke(app, ["route", str(TINY), "-"], input=text, catch_exceptions=False)
    assert result.exit_code == 2 and "larger than 1 MB" in result.stderr
    name = path if source == "file" else "<stdin>"
    assert f"{name}:1:1: error CX010 " in result.stderr and "hint: a ticket is one small JSON object" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_waiting_for_a_writer(run_cli, tmp_path):
    fifo = tmp_path / "ticket.json"
    os.mkfifo(fifo)
    result = run_cli("route", TINY, fifo)
    assert result.exit_code == 2 and f"{fifo}:1:1: error CX010 cannot read the ticket: not a regular file" in result.stderr


def test_a_folder_or_a_missing_file_is_refused(run_cli, tmp_path):
    result = run_cli("route", TINY, tmp_path)
    assert result.exit_code == 2 and f"{tmp_path}:1:1: error CX010 cannot read the ticket: not a regular file" in result.stderr
    assert "hint: give a JSON file, or - for standard input" in result.stderr
    result = run_cli("route", TINY, tmp_path / "missing.json")
    assert result.exit_code == 2 and "error CX010 cannot read the ticket: No such file" in result.stderr
    assert "hint: check the path" in result.stderr


def test_every_field_is_checked_before_use(run_cli, tmp_path):
    cases = {
        "customer_id": ([1], "CX016", "field `customer_id` must be text, got a list"),
        "member": ({"a": 1}, "CX016", "field `member` must be true or false, got an object"),
        "category": ("\u202ecomplaint", "CX018", "field `category` holds a control character (U+202E"),
        "created": ("2025-09-30T10:00:00+08:00" + " " * 60, "CX018", "field `created` is longer than 64 characters"),
        "priority": (None, "CX016", "field `priority` must be text, got null"),
    }
    for field, (value, code, message) in cases.items():
        path = _ticket(tmp_path, **{field: value})
        column = path.read_text(encoding="utf-8").index(f'"{field}": ') + len(f'"{field}": ') + 1
        result = run_cli("route", TINY, path)
        assert result.exit_code == 2 and f"{path}:1:{column}: error {code} {message}" in result.stderr, (field, result.stderr)
        assert "\n    hint: " in result.stderr, (field, result.stderr)


def test_every_problem_of_a_ticket_is_reported_at_once_in_text_and_json(run_cli, tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{\n  "category": "complain",\n  "channel": 7,\n  "segment": "normal",\n  "colour": "red"\n}\n', encoding="utf-8")
    result = run_cli("route", TINY, path, "--format", "json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["summary"]["errors"] == 4 and report["files"] == [str(path)]
    assert [(d["code"], d["line"], d["column"]) for d in report["diagnostics"]] == [
        ("CX013", 1, 1), ("CX017", 2, 15), ("CX016", 3, 14), ("CX014", 5, 3)]
    for diagnostic in report["diagnostics"]:
        assert diagnostic["file"] == str(path) and diagnostic["message"] and diagnostic["hint"], diagnostic
    assert report["diagnostics"][0]["hint"] == "add `\"priority\": \"…\"` with one of: urgent, high, normal, low"
    text = run_cli("route", TINY, path).stderr
    assert f"{path}:2:15: error CX017 field `category`: unknown category `complain`" in text
    assert "    hint: did you mean `complaint`?" in text and text.rstrip().endswith("1 file checked: 4 errors, 0 warnings")


def test_a_ticket_from_standard_input_is_named_stdin(tmp_path):
    from typer.testing import CliRunner

    from cxrules.cli import app

    ticket = json.dumps({**TICKET, "member": "yes"})
    column = ticket.index('"member": ') + len('"member": ') + 1
    result = CliRunner().invoke(app, ["route", str(TINY), "-"], input=ticket, catch_exceptions=False)
    assert result.exit_code == 2 and f"<stdin>:1:{column}: error CX016 field `member` must be true or false" in result.stderr
    result = CliRunner().invoke(app, ["route", str(TINY), "-", "-f", "json"], input="{\n", catch_exceptions=False)
    (diagnostic,) = json.loads(result.stdout)["diagnostics"]
    assert result.exit_code == 2 and (diagnostic["file"], diagnostic["line"], diagnostic["column"], diagnostic["code"]) == ("<stdin>", 2, 1, "CX011")
    assert "close every `{`" in diagnostic["hint"]


def test_json_output_of_a_bad_org_is_json_too(run_cli, tmp_path):
    org = tmp_path / "org.yaml"
    org.write_text(TINY.read_text(encoding="utf-8").replace("apiVersion: cxrules/v1", "apiVersion: cxrules/v9"), encoding="utf-8")
    result = run_cli("route", org, _ticket(tmp_path), "--format", "json")
    assert result.exit_code == 2 and json.loads(result.stdout)["diagnostics"][0]["code"] == "CX120"


def test_problems_beyond_the_limit_are_counted_not_listed(run_cli, tmp_path):
    from cxrules.engine.explain import MAX_PROBLEMS

    path = _ticket(tmp_path, **{f"extra_{i}": i for i in range(MAX_PROBLEMS + 5)})
    result = run_cli("route", TINY, path)
    assert result.exit_code == 2 and result.stderr.count(": error CX014 ") == MAX_PROBLEMS
    assert result.stderr.rstrip().endswith("cxrules: 5 more problems in the ticket are not shown")


def test_at_gets_the_fix_too(run_cli, tmp_path):
    result = run_cli("route", TINY, _ticket(tmp_path), "--at", "2025/9/30 10:00")
    assert result.exit_code == 2 and "did you mean `2025-09-30T10:00`?" in " ".join(result.output.replace("│", " ").split())


def test_every_ticket_code_is_documented():
    from cxrules.codes import lookup
    from cxrules.engine import explain

    codes = {name: value for name, value in vars(explain).items() if name.startswith("TICKET_") and name != "TICKET_FILE"}
    assert sorted(codes.values()) == [f"CX01{i}" for i in range(9)]
    for code in codes.values():
        info = lookup(code)
        assert info is not None and info.name.startswith("ticket-") and "Fix" in info.doc, code


# ------------------------------------------------------------------ where each field is in the text

def _offset(text: str, line: int, column: int) -> int:
    return sum(len(x) + 1 for x in text.split("\n")[:line - 1]) + column - 1


_SPACE = st.sampled_from(["", " ", "\n", "\t", "\r\n", "  \n    "])
_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                      max_leaves=8)


@given(pairs=st.lists(st.tuples(st.text(max_size=12) | st.sampled_from(["id", "category", "a\"b", "{", "}"]), _VALUE), max_size=8),
       spaces=st.lists(_SPACE, min_size=40, max_size=40), ascii_only=st.booleans(), bom=st.booleans())
def test_the_scanner_finds_every_key_and_value_where_it_is(pairs, spaces, ascii_only, bom):
    """Any flat or nested object, any JSON whitespace, escapes, duplicates, CJK: each (line, column) points at the key / value."""
    from cxrules.engine.explain import read_ticket

    space = iter(spaces * 10)
    dump = lambda value: json.dumps(value, ensure_ascii=ascii_only)  # noqa: E731
    members = [f"{next(space)}{dump(k)}{next(space)}:{next(space)}{dump(v)}{next(space)}" for k, v in pairs]
    text = next(space) + "{" + ",".join(members) + ("" if members else next(space)) + "}" + next(space)
    source = read_ticket(("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8"), "t.json")
    assert [name for name, _, _ in source.entries] == [k for k, _ in pairs]
    decoder = json.JSONDecoder()
    assert text[_offset(text, *source.start)] == "{"
    for (name, key, value), (_, expected) in zip(source.entries, pairs):
        assert decoder.raw_decode(text, _offset(text, *key))[0] == name
        assert decoder.raw_decode(text, _offset(text, *value))[0] == expected


@pytest.mark.parametrize("text, position", [
    ('{"id": "NaN", "member": NaN}', (1, 25)),
    ('{"a": ["NaN \\" Infinity", -Infinity]}', (1, 27)),
    ('\n\n  [1, 2,\n   Infinity]', (4, 4)),
])
def test_nan_and_infinity_are_found_outside_text(text, position):
    from cxrules.engine.explain import TicketError, read_ticket

    with pytest.raises(TicketError) as error:
        read_ticket(text.encode("utf-8"))
    (diagnostic,) = error.value.diagnostics
    assert diagnostic.code == "CX011" and (diagnostic.location.line, diagnostic.location.column) == position


def test_positions_count_characters_not_bytes_and_skip_a_byte_order_mark():
    from cxrules.engine.explain import read_ticket

    source = read_ticket('\ufeff{"投诉": "问题", "id": 1}'.encode("utf-8"))
    assert source.start == (1, 1) and source.key("id") == (1, 14) and source.value("id") == (1, 20)
    assert source.key("missing") == source.start == source.value("missing")


def test_not_utf8_points_at_the_byte():
    from cxrules.engine.explain import TicketError, read_ticket

    with pytest.raises(TicketError) as error:
        read_ticket('{\n  "id": "投'.encode("utf-8") + b"\xff\"}")
    (diagnostic,) = error.value.diagnostics
    assert (diagnostic.code, diagnostic.location.line, diagnostic.location.column) == ("CX010", 2, 11)
    assert "byte 0xff" in diagnostic.message and "UTF-8" in diagnostic.hint


def test_plain_data_is_checked_the_same_without_positions():
    from cxrules import load_org
    from cxrules.engine.explain import TICKET_FILE, TicketError, parse_ticket

    with pytest.raises(TicketError) as error:
        parse_ticket(load_org(TINY), {**TICKET, "priority": "hgih"})
    (diagnostic,) = error.value.diagnostics
    assert (diagnostic.code, str(diagnostic.location), diagnostic.hint) == ("CX017", f"{TICKET_FILE}:1:1", "did you mean `high`?")
    assert str(error.value) == diagnostic.message


def test_a_ticket_without_id_or_created_gets_the_documented_defaults(run_cli, tmp_path):
    ticket = {k: v for k, v in TICKET.items() if k not in ("id", "created")}
    path = tmp_path / "t.json"
    path.write_text(json.dumps({**ticket, "customer_id": None}), encoding="utf-8")
    report = _route(run_cli, TINY, path, "--at", "2025-03-03T10:00")
    assert report["ticket"] == "ticket" and report["at"] == "2025-03-03T10:00:00+08:00"


def test_help_documents_every_ticket_field_and_docs_route_md_does_too(run_cli):
    from cxrules.engine.explain import OPTIONAL, REQUIRED

    text = run_cli("route", "--help").stdout
    docs = (ROOT / "docs" / "route.md").read_text(encoding="utf-8")
    for field in REQUIRED + OPTIONAL:
        assert f"  {field} " in text, field
        assert f"`{field}`" in docs, field
    assert "1970-2100" in text and "docs/route.md" in text and "1 MB" in text


def test_a_target_the_calendar_cannot_reach_gives_no_deadline_and_says_so(run_cli, tmp_path):
    """Open one minute a week, 8784 business hours lie millennia ahead: no deadline, quickly, and the reason."""
    org = _org(tmp_path, "8784h")
    org.write_text(org.read_text(encoding="utf-8").replace('mon-fri: ["09:00-18:00"]', 'mon: ["09:00-09:01"]', 1), encoding="utf-8")
    report = _route(run_cli, org, _ticket(tmp_path))
    assert report["timeline_end"]["complete"] and "sets no resolution deadline" in report["timeline_end"]["reason"]
    assert not any(x["kind"] == "SlaBreached" and x["target"] == "resolution" for x in report["timeline"])
    assert "CX714" in run_cli("check", org).stdout


def test_a_value_given_by_its_chinese_label_or_name_suggests_the_id(run_cli, tmp_path):
    ticket = tmp_path / "t.json"
    ticket.write_text('{"category": "投诉", "channel": "phone", "segment": "normal", "priority": "normal"}', encoding="utf-8")
    result = run_cli("route", ORGS / "automotive.yaml", ticket)
    assert result.exit_code == 2 and "unknown category `投诉`" in result.stderr and "did you mean `complaint`?" in result.stderr


def test_the_engine_refuses_a_label_with_the_id_it_names():
    import cxrules
    from cxrules.engine import Engine, TicketCreated, VirtualClock

    engine = Engine(cxrules.load_org(ORGS / "automotive.yaml"), VirtualClock(datetime.fromisoformat("2025-03-03T10:00:00+08:00")))
    (refused,) = engine.submit(TicketCreated("T1", category="投诉", channel="phone", segment="normal", priority="normal"))
    assert refused.kind == "Refused" and "did you mean `complaint`?" in refused.reason


def test_a_created_time_the_engine_would_refuse_is_refused_at_its_place(run_cli, tmp_path):
    """Local year 1970, but 1969 everywhere else: the engine's own time rule, reported at the value, not at 1:1."""
    result = run_cli("route", TINY, _ticket(tmp_path, created="1970-01-01T00:00+23:59"))
    assert result.exit_code == 2 and "error CX018 field `created`: 1970-01-01T00:00:00+23:59" in result.stderr
    assert ":1:1:" not in result.stderr


def test_a_file_that_is_no_ticket_is_never_quoted(run_cli, tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret-hash:20228:0:99999:7:::\n", encoding="utf-8")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "link.json").symlink_to(secret)
    for path in (secret, tmp_path / "in" / "link.json"):
        result = run_cli("route", TINY, path)
        assert result.exit_code == 2 and "CX01" in result.stderr and "secret-hash" not in result.output + result.stderr


def test_standard_input_never_quotes_a_file_that_happens_to_be_named_stdin(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "<stdin>").write_text("private line\n", encoding="utf-8")
    from typer.testing import CliRunner

    from cxrules.cli import app
    result = CliRunner().invoke(app, ["route", str(TINY), "-"], input="nope\n")
    assert result.exit_code == 2 and "CX011" in result.stderr and "private line" not in result.stderr


def test_the_help_states_the_limits_the_code_applies():
    """The epilog is plain text (so `--help` does not load the engine); this keeps its numbers true."""
    from cxrules.cli import ROUTE_EPILOG
    from cxrules.engine.events import FIRST_YEAR, LAST_YEAR, MAX_TEXT
    from cxrules.engine.explain import MAX_TICKET_BYTES, TIMELINE_LIMIT

    assert f"at most {MAX_TICKET_BYTES / 1e6:g} MB" in ROUTE_EPILOG and f"1-{MAX_TEXT} characters" in ROUTE_EPILOG
    assert f"years {FIRST_YEAR}-{LAST_YEAR}" in ROUTE_EPILOG and TIMELINE_LIMIT.days == 366 and "at most one year" in ROUTE_EPILOG
