"""Event logs (issue 13): rows of updates, in any order, rebuilt into each ticket's way through the roles."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

import cxrules
from cxrules.simulation import LogError, Pause, Stint, load_mapping, read_log, simulate
from cxrules.simulation.mapping import validate_mapping

from conftest import ROOT
from engine_helpers import counts_out_of_step, make_org

SERVICENOW_LOG = ROOT.parent / "shared" / "data" / "servicenow_incident_event_log_excerpt.csv"

MAPPING = """apiVersion: cxrules/v1
kind: TicketLogMapping
timezone: UTC
time_formats: ["%Y-%m-%d %H:%M"]
null_values: ["?", "NULL"]
fields:
  id: {column: ticket}
  updated: {column: at}
  order: {column: seq}
  created: {column: opened}
  state:
    column: status
    values: {Open: new, Working: active, Waiting on customer: waiting_customer, Solved: resolved, Closed: closed}
  role: {column: group, values: {Front desk: desk, Tech team: tech}}
  assignee: {column: agent}
  category: {column: type, values: {Question: question, Complaint: complaint}}
  channel: {value: phone}
  segment: {value: normal}
  priority: {value: normal}
  made_sla: {column: sla}
"""

HEADER = "ticket,seq,at,opened,status,group,agent,type,sla\n"
ROWS = [
    # A: the desk takes it, passes it to tech (ann still named: no pick for tech until bob), waits on the customer, solved
    "A,0,2025-03-03 09:00,2025-03-03 08:58,Open,Front desk,?,Question,TRUE",
    "A,1,2025-03-03 09:10,?,Working,Front desk,ann,Question,TRUE",
    "A,2,2025-03-03 09:30,?,Working,Tech team,ann,Question,TRUE",
    "A,3,2025-03-03 10:00,?,Working,Tech team,bob,Question,TRUE",
    "A,4,2025-03-03 11:00,?,Waiting on customer,Tech team,bob,Question,TRUE",
    "A,5,2025-03-03 13:00,?,Working,Tech team,bob,Question,TRUE",
    "A,6,2025-03-03 14:00,?,Solved,Tech team,bob,Question,FALSE",
    "A,7,2025-03-05 14:00,?,Closed,Front desk,bob,Question,FALSE",     # after the resolution: no stint
    # B: no group on its first row; solved in the same minute it was opened (the counter orders them); reopened
    "B,0,2025-03-03 09:05,2025-03-03 09:05,Open,NULL,?,Complaint,?",
    "B,1,2025-03-03 09:20,?,Open,Front desk,?,Complaint,TRUE",
    "B,2,2025-03-03 09:20,?,Solved,Front desk,cat,Complaint,TRUE",
    "B,3,2025-03-04 10:00,?,Working,Front desk,cat,Complaint,TRUE",
    "B,4,2025-03-04 12:00,?,Solved,Front desk,cat,Complaint,TRUE",
    # C: still with tech and waiting on the customer when the log ends, nobody ever took it
    "C,0,2025-03-03 10:00,2025-03-03 10:00,Open,Tech team,?,Question,?",
    "C,1,2025-03-03 11:00,?,Waiting on customer,Tech team,?,Question,?",
]
SCRAMBLED = [ROWS[i] for i in (13, 6, 0, 10, 2, 14, 9, 4, 7, 1, 12, 5, 8, 3, 11)]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=timezone.utc)


EXPECTED_STINTS = {
    "A": (Stint("desk", at(3, 8, 58), picked=at(3, 9, 10), left=at(3, 9, 30)),
          Stint("tech", at(3, 9, 30), picked=at(3, 10), left=at(3, 14), resolved=True,
                pauses=(Pause(at(3, 11), at(3, 13), "waiting_customer"),))),
    "B": (Stint("desk", at(3, 9, 5), picked=at(3, 9, 20), left=at(3, 9, 20), resolved=True),
          Stint("desk", at(4, 10), picked=at(4, 10), left=at(4, 12), resolved=True, reopened=True)),
    "C": (Stint("tech", at(3, 10), pauses=(Pause(at(3, 11), None, "waiting_customer"),)),),
}


def _with_tech(data):
    data["roles"].append({"id": "tech", "name": "Tech team", "unit": "front", "reports_to": "manager", "duties": ["answer"],
                          "handles": ["complaint", "question"], "staff": [{"shift": "office", "agents": 1}]})


@pytest.fixture
def org(tmp_path):
    return make_org(tmp_path, _with_tech)


@pytest.fixture(scope="module")
def shared_org(tmp_path_factory):
    return make_org(tmp_path_factory.mktemp("org"), _with_tech)


@pytest.fixture(scope="module")
def reference(shared_org, tmp_path_factory):
    """The records of the rows in their written order, without the row numbers (which follow the order in the file)."""
    return [dataclasses.replace(r, row=0) for r in _read(tmp_path_factory.mktemp("log"), shared_org, ROWS)[0]]


def _read(tmp_path, org, rows, mapping_text: str = MAPPING, header: str = HEADER):
    (tmp_path / "mapping.yaml").write_text(mapping_text, encoding="utf-8")
    (tmp_path / "log.csv").write_text(header + "".join(row + "\n" for row in rows), encoding="utf-8")
    mapping, problems = load_mapping(tmp_path / "mapping.yaml", org)
    assert problems == []
    return read_log(tmp_path / "log.csv", mapping)


def test_a_scrambled_event_log_becomes_one_history_per_ticket(tmp_path, org):
    records, unmapped = _read(tmp_path, org, SCRAMBLED)
    assert unmapped.total == 0
    assert [r.id for r in records] == ["A", "B", "C"]           # by arrival
    a, b, c = records
    assert {r.id: r.stints for r in records} == EXPECTED_STINTS
    assert (a.created, a.first_response, a.resolved, a.closed) == (at(3, 8, 58), at(3, 9, 10), at(3, 14), at(5, 14))
    assert (a.category, a.channel, a.segment, a.priority, a.made_sla, a.reopenings, a.reassigned) == (
        "question", "phone", "normal", "normal", False, 0, True)
    assert (b.created, b.first_response, b.resolved, b.closed, b.reopenings, b.reassigned, b.made_sla) == (
        at(3, 9, 5), at(3, 9, 20), at(3, 9, 20), None, 1, False, True)   # the first resolution; a reopening is no reassignment
    assert b.category == "complaint"
    assert (c.first_response, c.resolved, c.closed, c.made_sla) == (None, None, None, None)
    assert [r.row for r in records] == [3, 5, 2]                # each ticket's first row in the file


@given(st.permutations(ROWS))
def test_the_order_of_the_rows_in_the_file_does_not_matter(tmp_path_factory, shared_org, reference, rows):
    records, unmapped = _read(tmp_path_factory.mktemp("log"), shared_org, rows)
    assert unmapped.total == 0
    assert [dataclasses.replace(r, row=0) for r in records] == reference


def test_null_markers_are_empty_in_every_column(tmp_path, org):
    records, _ = _read(tmp_path, org, ["D,0,2025-03-03 09:00,NULL,Open,NULL,NULL,Question,?",
                                       "D,1,2025-03-03 09:30,?,Working,Tech team,?,?,NULL"])
    (d,) = records
    assert d.created == at(3, 9)                                  # no opening time: the first update
    assert d.stints == (Stint("tech", at(3, 9), picked=at(3, 9, 30)),)
    assert d.category == "question" and d.made_sla is None
    mapping_text = MAPPING.replace('null_values: ["?", "NULL"]\n', "")
    records, unmapped = _read(tmp_path, org, ["D,0,2025-03-03 09:00,,Open,?,,Question,"], mapping_text)
    assert records == [] and unmapped.reasons == {"ticket: role: value `?` not in the mapping": 1}   # `?` is a value unless declared empty


def test_rows_and_tickets_that_cannot_be_mapped_are_counted_by_reason(tmp_path, org):
    records, unmapped = _read(tmp_path, org, [
        "E,0,2025-03-03 09:00,?,Open,Front desk,?,Question,?",
        "E,1,yesterday,?,Working,Front desk,?,Question,?",            # left out alone: it cannot be placed in time
        "E,2,2025-03-03 10:00,?,Solved,Front desk,?,Question,?",
        "F,0,2025-03-03 09:00,?,Escalated,Front desk,?,Question,?",   # an unknown state: the whole ticket
        "F,1,2025-03-03 09:30,?,Solved,Front desk,?,Question,?",
        "G,0,2025-03-03 09:00,?,Open,Night team,?,Question,?",        # an unknown group
        "H,0,2025-03-03 09:00,?,Open,?,?,Question,?",                  # never with any group
        "I,x,2025-03-03 09:00,?,Open,Front desk,?,Question,?",
        ",0,2025-03-03 09:00,?,Open,Front desk,?,Question,?",
    ])
    assert [r.id for r in records] == ["E"] and records[0].stints == (Stint("desk", at(3, 9), left=at(3, 10), resolved=True),)
    assert unmapped.reasons == {"updated: `yesterday` matches no time format": 1, "ticket: state: value `Escalated` not in the mapping": 1,
                                "ticket: role: value `Night team` not in the mapping": 1, "ticket: role: empty on every row": 1,
                                "order: `x` is not a whole number": 1, "id: empty": 1}
    assert unmapped.examples["updated: `yesterday` matches no time format"] == ["row 3"]
    assert unmapped.examples["ticket: state: value `Escalated` not in the mapping"] == ["row 5"]


def test_a_role_default_takes_unknown_and_missing_groups(tmp_path, org):
    mapping_text = MAPPING.replace("role: {column: group, values: {Front desk: desk, Tech team: tech}}",
                                   "role: {column: group, values: {Front desk: desk}, default: tech}")
    records, unmapped = _read(tmp_path, org, ["G,0,2025-03-03 09:00,?,Open,Night team,?,Question,?",
                                              "H,0,2025-03-03 09:00,?,Open,?,?,Question,?",
                                              "H,1,2025-03-03 09:10,?,Open,Front desk,?,Question,?"], mapping_text)
    assert unmapped.total == 0
    assert {r.id: [s.role for s in r.stints] for r in records} == {"G": ["tech"], "H": ["desk"]}   # H: its first group, not the default


def test_a_flat_log_still_reads_one_ticket_per_row_with_null_markers(tmp_path, org):
    mapping_text = """apiVersion: cxrules/v1
kind: TicketLogMapping
timezone: UTC
time_formats: ["%Y-%m-%d %H:%M"]
null_values: ["N/A"]
fields:
  id: {column: id}
  created: {column: opened}
  first_response: {column: answered}
  closed: {column: closed}
  made_sla: {column: sla}
  category: {column: type, values: {Question: question}}
  channel: {value: phone}
  segment: {value: normal}
  priority: {value: normal}
"""
    records, unmapped = _read(tmp_path, org, ["T1,2025-03-03 09:00,N/A,2025-03-04 09:00,yes,Question",
                                              "T2,2025-03-03 08:00,2025-03-03 08:05,,no,Question"],
                              mapping_text, header="id,opened,answered,closed,sla,type\n")
    assert unmapped.total == 0
    assert [(r.id, r.first_response, r.closed, r.made_sla, r.stints) for r in records] == [
        ("T2", at(3, 8, 5), None, False, ()), ("T1", None, at(4, 9), True, ())]


def test_a_utf16_log_is_named_with_the_setting_that_reads_it(tmp_path, org):
    text = HEADER + "".join(row + "\n" for row in ROWS)
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    mapping, _ = load_mapping(tmp_path / "mapping.yaml", org)
    for encoding, setting in (("utf-16", "utf-16"), ("utf-16-le", "utf-16-le")):
        (tmp_path / "log.csv").write_bytes(text.encode(encoding))
        with pytest.raises(LogError) as raised:
            read_log(tmp_path / "log.csv", mapping)
        assert "UTF-16 (little-endian" in str(raised.value) and f"set `encoding: {setting}` in the mapping" in str(raised.value)
    (tmp_path / "wide.yaml").write_text(MAPPING.replace("timezone: UTC", "timezone: UTC\nencoding: utf-16"), encoding="utf-8")
    (tmp_path / "log.csv").write_bytes(text.encode("utf-16"))
    wide, _ = load_mapping(tmp_path / "wide.yaml", org)
    assert len(read_log(tmp_path / "log.csv", wide)[0]) == 3      # with the setting it reads


@pytest.mark.parametrize("bad, encoding", [("Café".encode("cp1252"), "cp1252"), ("问题".encode("gb18030"), "gb18030")])
def test_a_byte_that_is_not_utf8_stops_the_read_with_its_place(tmp_path, org, bad, encoding):
    data = (HEADER + ROWS[0] + "\n").encode("utf-8") + b"A,1,2025-03-03 09:10,?,Working,Front desk," + bad + b",Question,TRUE\n"
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "log.csv").write_bytes(data)
    mapping, _ = load_mapping(tmp_path / "mapping.yaml", org)
    with pytest.raises(LogError) as raised:
        read_log(tmp_path / "log.csv", mapping)
    offset = data.index(bad) + (3 if encoding == "cp1252" else 0)   # `Caf` is ASCII; the é is the bad byte
    message = str(raised.value)
    assert str(tmp_path / "log.csv") in message and "line 3" in message and f"byte offset {offset}" in message
    assert f"byte(s) {data[offset]:02x}" in message and f"set `encoding: {encoding}`" in message


def test_a_log_cut_inside_a_character_is_told_too(tmp_path, org):
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "log.csv").write_bytes((HEADER + ROWS[0] + ",问").encode("utf-8")[:-1])
    mapping, _ = load_mapping(tmp_path / "mapping.yaml", org)
    with pytest.raises(LogError, match=r"line 2, byte offset \d+: byte\(s\) e9 97 .*the file ends inside a character"):
        read_log(tmp_path / "log.csv", mapping)


@pytest.mark.skipif(not SERVICENOW_LOG.exists(), reason="the shared ServiceNow excerpt is beside the project in CI and for developers")
def test_the_servicenow_excerpt_reads_into_one_history_per_incident():
    org = cxrules.load_org(ROOT / "examples" / "servicenow" / "org.yaml")
    mapping, problems = load_mapping(ROOT / "examples" / "servicenow" / "mapping.yaml", org)
    assert problems == []
    records, unmapped = read_log(SERVICENOW_LOG, mapping)
    assert len(records) == 890 and unmapped.total == 0
    assert all(r.stints and r.stints[0].entered == r.created for r in records)
    assert sum(r.resolved is not None for r in records) == 890      # every incident of the excerpt is resolved at last
    # The log's own `reassignment_count` is above 0 for 391 incidents; the stints show 376
    # reassigned. Fewer, because two groups that are both `other_groups` in the org are one
    # role here, and the excerpt lacks some update rows (gaps in `sys_mod_count`), so a group
    # held between two kept rows is not seen.
    reassigned = sum(r.reassigned for r in records)
    assert 0.85 * 391 <= reassigned <= 391
    assert sum(r.reopenings for r in records) >= 10                   # reopen_count > 0 for 10 incidents
    assert sum(len(s.pauses) for r in records for s in r.stints) > 0
    replayed = simulate(org, records, mapping, mode="as-is", keep_flights=True)  # the figures' counts, through reopenings
    assert sum(f.reopened for f in replayed.flights.values()) >= 10 and counts_out_of_step(replayed.flights.values()) == []


def test_an_unknown_lifecycle_state_is_a_diagnostic_at_its_line(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING.replace("Working: active", "Working: activ"), encoding="utf-8")
    problems = validate_mapping(path)
    assert [(p.code, p.location.line) for p in problems] == [("CX113", 13)]
    assert "`activ`" in problems[0].message and problems[0].hint == "did you mean `active`?"


@pytest.mark.parametrize("change, message", [
    (lambda text: text.replace("  state:\n    column: status\n    values: {Open: new, Working: active, Waiting on customer: waiting_customer,"
                               " Solved: resolved, Closed: closed}\n", ""), "an event log (`updated` is mapped) needs `state`"),
    (lambda text: text.replace("  updated: {column: at}\n", ""), "`order` describes the rows of an event log"),
])
def test_an_event_log_mapping_needs_its_event_fields(tmp_path, change, message):
    path = tmp_path / "m.yaml"
    path.write_text(change(MAPPING), encoding="utf-8")
    problems = validate_mapping(path)
    assert any(p.code == "CX111" and message in p.message for p in problems), [p.message for p in problems]


def test_json_lines_event_logs_read_the_same(tmp_path, org):
    names = HEADER.strip().split(",")
    lines = [json.dumps({k: v for k, v in zip(names, row.split(",")) if v not in ("?", "NULL")}) for row in SCRAMBLED]
    (tmp_path / "log.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    mapping, _ = load_mapping(tmp_path / "mapping.yaml", org)
    records, unmapped = read_log(tmp_path / "log.jsonl", mapping)
    assert unmapped.total == 0 and {r.id: r.stints for r in records} == EXPECTED_STINTS


def test_times_outside_the_engines_years_and_yes_written_any_way_are_rows_not_tracebacks(tmp_path, org):
    mapping_text = """apiVersion: cxrules/v1
kind: TicketLogMapping
timezone: Asia/Shanghai
time_formats: ["%Y-%m-%d %H:%M"]
fields:
  id: {column: id}
  created: {column: opened}
  member: {column: member}
  category: {value: question}
  channel: {value: phone}
  segment: {value: normal}
  priority: {value: normal}
"""
    records, unmapped = _read(tmp_path, org, ["T1,0001-01-01 00:00,no", "T2,9999-12-31 23:59,no", "T3,2025-03-03 09:00,TRUE",
                                              "T4,2025-03-03 09:00,Y", "T5,2025-03-03 09:00,maybe"],
                              mapping_text, header="id,opened,member\n")
    assert [(r.id, r.member) for r in records] == [("T3", True), ("T4", True)]
    assert unmapped.reasons == {"created: `0001-01-01 00:00` lies outside the years 1970–2100": 1,
                                "created: `9999-12-31 23:59` lies outside the years 1970–2100": 1,
                                "member: `maybe` is not true or false": 1}


def test_a_log_the_csv_reader_cannot_read_or_an_empty_log_is_a_clear_error(tmp_path, org):
    with pytest.raises(LogError, match="cannot read it as CSV: field larger than field limit"):
        _read(tmp_path, org, ["A,0," + "x" * 200_000])
    with pytest.raises(LogError, match="the log is empty"):
        _read(tmp_path, org, [], header="")


def test_times_in_a_repeated_hour_order_and_measure_tickets_by_instant(tmp_path, org):
    """Berlin's 26 October 2025 runs 02:00–03:00 twice. Python orders and subtracts two datetimes of one zone by wall
    time, so A (02:50, first pass) sorted after B (02:10, second pass), and C, resolved 25 minutes after it was opened
    (02:40 first pass, 02:05 second), was dropped as resolved before it was created. Records are kept in UTC."""
    mapping_text = MAPPING.replace("timezone: UTC", "timezone: Europe/Berlin").replace('time_formats: ["%Y-%m-%d %H:%M"]', "time_formats: [iso]")
    records, unmapped = _read(tmp_path, org, [
        "A,0,2025-10-26T02:50+02:00,2025-10-26T02:50+02:00,Open,Front desk,?,Question,TRUE",
        "B,0,2025-10-26T02:10+01:00,2025-10-26T02:10+01:00,Open,Front desk,?,Question,TRUE",
        "C,0,2025-10-26T02:40+02:00,2025-10-26T02:40+02:00,Open,Front desk,?,Question,TRUE",
        "C,1,2025-10-26T02:05+01:00,?,Solved,Front desk,ann,Question,TRUE",
    ], mapping_text)
    assert unmapped.total == 0
    assert [(r.id, r.created.strftime("%H:%M")) for r in records] == [("C", "00:40"), ("A", "00:50"), ("B", "01:10")]
    assert all(r.created.tzinfo is timezone.utc for r in records)
    resolved = next(r for r in records if r.id == "C").resolved
    assert resolved is not None and resolved - records[0].created == timedelta(minutes=25)
