"""Replaying logs: figures computed by hand, broken rows counted by reason, the sample log on every seed org."""

from __future__ import annotations

import gc
import heapq
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings, strategies as st

import cxrules
from cxrules.calendars import hour_start, micros
from cxrules.simulation import LogError, load_mapping, read_log, simulate
from cxrules.simulation.history import Pause, Stint, TicketRecord
from cxrules.simulation.replay import _Agendum

from conftest import ORGS, ROOT
from engine_helpers import counts_out_of_step, make_org

SAMPLE = ROOT.parent / "shared" / "data" / "support_tickets_sample.csv"

MAPPING = """apiVersion: cxrules/v1
kind: TicketLogMapping
timezone: Asia/Shanghai
time_formats: ["%Y-%m-%d %H:%M"]
fields:
  id: {column: id}
  created: {column: opened}
  first_response: {column: answered}
  category: {column: type, values: {Question: question, Complaint: complaint}}
  channel: {value: phone}
  segment: {value: normal}
  priority: {column: prio, values: {P1: urgent, P2: normal}, default: low}
service_time:
  default: {mean: 30m}
"""


def _one_agent(data):
    desk = next(r for r in data["roles"] if r["id"] == "desk")
    desk.update(capacity=1, staff=[{"shift": "office", "agents": 1}])


@pytest.fixture
def org(tmp_path):
    return make_org(tmp_path, _one_agent)


def _files(tmp_path, rows: str, mapping: str = MAPPING):
    (tmp_path / "log.csv").write_text("id,opened,answered,type,prio\n" + rows, encoding="utf-8")
    (tmp_path / "mapping.yaml").write_text(mapping, encoding="utf-8")
    return tmp_path / "log.csv", tmp_path / "mapping.yaml"


def test_one_agent_three_arrivals_known_waits_and_attainment(tmp_path, org):
    log, mapping_path = _files(tmp_path, "T1,2025-03-03 09:00,2025-03-03 09:05,Question,P2\n"
                                         "T2,2025-03-03 09:10,2025-03-03 09:45,Question,P2\n"
                                         "T3,2025-03-03 09:20,2025-03-03 09:49,Question,P2\n")
    mapping, problems = load_mapping(mapping_path, org)
    assert problems == []
    records, unmapped = read_log(log, mapping)
    result = simulate(org, records, mapping, unmapped).to_dict()
    # one agent, 30 minutes each: T1 09:00–09:30, T2 waits 20 min (09:30–10:00), T3 waits 40 min (10:00–10:30)
    assert result["waits_minutes"] == {"n": 3, "p50": 20.0, "p90": 40.0, "p99": 40.0, "mean": 20.0}
    # first response due 30 min after arrival: T2 answered after 35 min, the others in time
    assert result["sla_attainment"]["first_response"]["all"]["all"] == {"met": 2, "total": 3, "rate": 0.6667}
    assert result["sla_attainment"]["resolution"]["all"]["all"] == {"met": 3, "total": 3, "rate": 1.0}
    assert result["roles"]["desk"]["assigned"] == 3 and result["roles"]["desk"]["max_queue"] == 2
    assert result["fallback_queue"] == 0 and result["unmapped"]["total"] == 0


def test_broken_rows_are_counted_by_reason_with_examples(tmp_path, org):
    log, mapping_path = _files(tmp_path, "A,2025-03-03 09:00,,Question,P1\n"
                                         "B,yesterday,,Question,P1\n"
                                         "C,2025-03-03 09:00,,Refund,P1\n"
                                         "D,,,Question,P1\n"
                                         "E,2025-03-03 09:00,2025-03-03 08:00,Question,P1\n"
                                         "A,2025-03-03 09:30,,Question,P9\n")
    mapping, _ = load_mapping(mapping_path, org)
    records, unmapped = read_log(log, mapping)
    assert [r.id for r in records] == ["A"]
    assert unmapped.reasons == {"created: `yesterday` matches no time format": 1, "category: value `Refund` not in the mapping": 1,
                                "created: empty": 1, "first response before it was created": 1, "duplicate ticket id": 1}
    assert unmapped.examples["created: empty"] == ["row 5"]


def test_reading_a_log_runs_no_pass_of_the_collector_and_switches_it_back_on_even_when_it_fails(tmp_path, org):
    """The records form no reference cycles: a pass of the collector over thousands of them is time lost (read with it on,
    these 3,000 rows set off nine)."""
    log, mapping_path = _files(tmp_path, "".join(f"T{n},2025-03-03 09:{n % 60:02},,Question,P2\n" for n in range(3000)))
    mapping, _ = load_mapping(mapping_path, org)
    passes: list[int] = []
    gc.collect()  # a pass due within the next few allocations would otherwise start before the read pauses the collector
    gc.callbacks.append(note_pass := lambda phase, info: phase == "start" and passes.append(info["generation"]))
    try:
        records, _ = read_log(log, mapping)
        assert len(records) == 3000 and len(passes) <= 1 and gc.isenabled(), passes  # the one pass once it is switched on again
        log.write_bytes(b"id,opened\n\xff\n")  # not UTF-8: the read fails
        with pytest.raises(LogError):
            read_log(log, mapping)
        assert gc.isenabled()
    finally:
        gc.callbacks.remove(note_pass)


def test_a_mapping_that_names_ids_the_org_lacks_is_refused_with_positions(tmp_path, org):
    _, mapping_path = _files(tmp_path, "", MAPPING.replace("Question: question", "Question: questoin"))
    mapping, problems = load_mapping(mapping_path, org)
    assert mapping is None
    assert [(p.code, p.location.line) for p in problems] == [("CX201", 9)]
    assert "did you mean `question`" in problems[0].hint


def test_json_lines_logs_are_read_too(tmp_path, org):
    (tmp_path / "log.jsonl").write_text('{"id": "J1", "opened": "2025-03-03 09:00", "type": "Question", "prio": "P2"}\n'
                                        'not json\n[1, 2]\n', encoding="utf-8")
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    mapping, _ = load_mapping(tmp_path / "mapping.yaml", org)
    records, unmapped = read_log(tmp_path / "log.jsonl", mapping)
    assert [r.id for r in records] == ["J1"]
    assert unmapped.reasons == {"line is not JSON": 1, "line is not a JSON object": 1}


@pytest.mark.skipif(not SAMPLE.exists(), reason="the shared sample log is beside the project in CI and for developers")
@pytest.mark.parametrize("name", ["automotive", "logistics", "aftersales"])
def test_the_sample_log_replays_against_each_seed_org(name):
    org = cxrules.load_org(ORGS / f"{name}.yaml")
    mapping, problems = load_mapping(ROOT / "examples" / "mappings" / f"support_tickets_to_{name}.yaml", org)
    assert problems == []
    records, unmapped = read_log(SAMPLE, mapping)
    assert len(records) + unmapped.total == 999            # every row replayed or reported
    assert unmapped.reasons["resolved before it was created"] > 0
    result = simulate(org, records, mapping, unmapped)
    assert result.tickets == len(records) > 300
    assert result.fallback == 0 and result.refused == {}
    assert result.followups["scheduled"] > 0


def test_simulate_cli_compares_two_orgs_as_json(run_cli, tmp_path, org):
    log, mapping_path = _files(tmp_path, "T1,2025-03-03 09:00,2025-03-03 09:05,Question,P2\n")
    result = run_cli("simulate", ROOT / "tests/fixtures/tiny.yaml", ROOT / "tests/fixtures/tiny.yaml", log,
                     "--mapping", mapping_path, "--format", "json", "--no-progress")
    assert result.exit_code == 0, result.output
    both = json.loads(result.stdout)
    assert [r["org"] for r in both] == ["tiny", "tiny"] and both[0]["tickets"] == 1
    table = run_cli("simulate", ROOT / "tests/fixtures/tiny.yaml", log, "--mapping", mapping_path, "--no-progress")
    assert "SLA first response" in table.stdout and "wait to assignment p50" in table.stdout


def test_a_bug_met_in_a_replay_is_told_in_one_line_with_exit_2_and_its_traceback_kept_in_a_file(tmp_path, monkeypatch, capsys):
    """What the `cxrules` script runs (`cli.main`): an exception no command expects is no traceback on the terminal."""
    import tempfile

    from cxrules.cli import main
    from cxrules.engine import Engine

    def broken(self, ticket, event, at):
        raise KeyError("a bug in resolving")

    log, mapping_path = _files(tmp_path, "T1,2025-03-03 09:00,2025-03-03 09:05,Question,P2\n")
    monkeypatch.setattr(Engine, "_resolved", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["cxrules", "simulate", str(ROOT / "tests/fixtures/tiny.yaml"), str(log), "--mapping", str(mapping_path),
                                     "--no-progress"])
    with pytest.raises(SystemExit) as exit_:
        main()
    error = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in error
    assert "cxrules: internal error, a bug in cxrules: SimulationError: the engine failed at" in error
    [crash] = tmp_path.glob("cxrules-crash-*.txt")
    assert str(crash) in error
    details = crash.read_text(encoding="utf-8")
    assert "Traceback" in details and "KeyError: 'a bug in resolving'" in details and "command: cxrules simulate" in details


def test_a_flat_log_in_a_zone_with_clock_changes_measures_real_time(tmp_path, org):
    """Berlin's clocks skip 02:00–03:00 on 30 March 2025: a ticket opened at 01:30 and answered at 03:30 local waited an
    hour, which subtracting the wall times would make two."""
    log, mapping_path = _files(tmp_path, "T1,2025-03-30 01:30,2025-03-30 03:30,Question,P2\n",
                               MAPPING.replace("timezone: Asia/Shanghai", "timezone: Europe/Berlin"))
    mapping, _ = load_mapping(mapping_path, org)
    [record], _ = read_log(log, mapping)
    assert record.first_response - record.created == timedelta(hours=1)
    assert record.created.isoformat() == "2025-03-30T00:30:00+00:00"


def test_simulate_cli_strict_stops_on_unmapped_rows(run_cli, tmp_path):
    log, mapping_path = _files(tmp_path, "T1,2025-03-03 09:00,,Refund,P2\n")
    result = run_cli("simulate", ROOT / "tests/fixtures/tiny.yaml", log, "--mapping", mapping_path, "--strict", "--no-progress")
    assert result.exit_code == 1 and "cannot be mapped" in result.stderr


def test_a_mapped_column_missing_from_the_header_is_a_clear_error(run_cli, tmp_path):
    log, mapping_path = _files(tmp_path, "T1,2025-03-03 09:00,,Question,P2\n", MAPPING.replace("column: prio", "column: priority"))
    result = run_cli("simulate", ROOT / "tests/fixtures/tiny.yaml", log, "--mapping", mapping_path, "--no-progress")
    assert result.exit_code == 2 and "column `priority`" in result.stderr and "did you mean `prio`" in result.stderr


def test_tickets_still_queued_count_in_attainment_and_waits(tmp_path, org):
    rows = "".join(f"L{i},2025-03-03 09:00,2025-03-03 09:00,Question,P2\n" for i in range(3))
    log, mapping_path = _files(tmp_path, rows, MAPPING.replace("default: {mean: 30m}", "default: {mean: 3d}"))
    mapping, _ = load_mapping(mapping_path, org)
    replayed = simulate(org, *read_log(log, mapping)[:1], mapping)
    result = replayed.to_dict()
    assert result["sla_attainment"]["first_response"]["all"]["all"]["total"] == 3      # the two still queued count
    assert replayed.queue_series and {row["hour"][-6:] for row in replayed.queue_series} == {"+08:00"}  # the centre's clock
    assert result["window"]["from"] == "2025-03-03T09:00:00+08:00" and result["start"].endswith("+08:00")
    assert result["waits_minutes"]["p99"] > 60 * 24                                     # and so do their waits
    assert result["roles"]["desk"]["utilisation"] <= 1.0                                # busy only while on shift


def test_the_queue_series_counts_the_hours_of_the_centres_clock_even_half_an_hour_off_utc_and_surges_are_told_in_it(tmp_path):
    def in_kolkata(data):
        _one_agent(data)
        data["org"]["timezone"] = "Asia/Kolkata"   # UTC+05:30
        data["roles"].append({"id": "rapid", "name": "Rapid team", "unit": "front", "reports_to": "manager", "duties": ["answer"],
                              "handles": ["question"], "temporary": True, "staff": [{"agents": 1}]})
        data["surges"] = [{"id": "wave", "match": {"category": ["question"]}, "threshold": 2, "window": "1h", "activate": "rapid"}]

    org = make_org(tmp_path, in_kolkata)
    rows = "".join(f"L{i},2025-03-03 09:40,,Question,P2\n" for i in range(3))
    log, mapping_path = _files(tmp_path, rows, MAPPING.replace("timezone: Asia/Shanghai", "timezone: Asia/Kolkata"))
    mapping, _ = load_mapping(mapping_path, org)
    result = simulate(org, *read_log(log, mapping)[:1], mapping)
    series = result.queue_series
    assert series and {row["hour"][13:] for row in series} == {":00:00+05:30"} and series[0]["hour"].startswith("2025-03-03T09")
    assert result.surges and {entry["at"][-6:] for entry in result.surges} == {"+05:30"}          # and surges are told so


def test_the_figures_a_replay_reads_from_the_counts_it_kept_are_those_its_moments_give(tmp_path):
    """A flight keeps the µs of its moments as they happen, and the figures read those: each is its moment's, and the
    arrivals by hour of the week (overall and per role), the work in progress and the waits are what the moments themselves
    give. In St John's, half an hour off whole hours, over its clocks' change of 9 March 2025 (in the middle of an hour of
    UTC), with tickets arriving on either side of it, night and day. Two agents, day and night, so tickets queue; a ticket
    not resolved within two hours goes to the manager, so it comes to a second role after it arrived. The replay stops at
    the last arrival, with tickets still queued (their waits untaken)."""
    def in_st_johns(data):
        data["org"]["timezone"] = "America/St_Johns"
        data["calendars"][0]["hours"] = {"mon-sun": ["00:00-24:00"]}
        data["slas"][0].update(resolution="2h", first_response="2h")
        data["escalations"][0]["levels"] = [{"role": "manager"}]
        next(r for r in data["roles"] if r["id"] == "desk").update(capacity=1, staff=[{"shift": "office", "agents": 2}])

    org = make_org(tmp_path, in_st_johns)
    times = ["2025-03-08 23:50", "2025-03-09 01:15", "2025-03-09 01:45", "2025-03-09 01:59", "2025-03-09 03:00",
             "2025-03-09 03:20", "2025-03-09 03:40", "2025-03-09 03:41", "2025-03-09 03:42", "2025-03-09 09:05",
             "2025-03-10 12:31", "2025-03-10 12:32", "2025-03-10 12:40", "2025-03-10 13:00"]
    rows = "".join(f"L{i},{moment},,Question,P2\n" for i, moment in enumerate(times))
    log, mapping_path = _files(tmp_path, rows, MAPPING.replace("timezone: Asia/Shanghai", "timezone: America/St_Johns")
                               .replace("default: {mean: 30m}", "default: {mean: 80m}"))
    mapping, _ = load_mapping(mapping_path, org)
    result = simulate(org, *read_log(log, mapping)[:1], mapping, mode="what-if", keep_flights=True, tail=timedelta(0))
    zone = ZoneInfo("America/St_Johns")

    def hour_of_week(moment):
        local = moment.astimezone(zone)
        return local.weekday() * 24 + local.hour

    def minutes(since, until):
        return (until - since).total_seconds() / 60

    flights = list(result.flights.values())
    assert counts_out_of_step(flights) == []
    assert sum(len(flight.waits) for flight in flights) >= len(times) and any(len(flight.holdings) for flight in flights)
    assert result.counted == len(flights) == len(times)
    arrivals = [0] * 168
    for flight in flights:
        arrivals[hour_of_week(flight.record.created)] += 1
    assert result.arrivals_by_hour_of_week == arrivals and arrivals.count(0) < 168 - 4
    weeks = max(1.0, (result.scope.to - result.scope.counted_from).total_seconds() / (7 * 86400))
    by_role: dict = {}
    for flight in flights:
        for wait in flight.waits:
            by_role.setdefault(wait.role, [0.0] * 168)[hour_of_week(wait.entered)] += 1 / weeks
    assert result.role_arrivals == by_role
    for taken, figures in ((True, result.role_waits), (False, result.role_untaken)):
        expected: dict = {}
        for flight in flights:
            for wait in flight.waits:
                if wait.taken == taken:
                    expected.setdefault(wait.role, []).append(minutes(wait.entered, wait.until))
        assert figures == expected and expected
    assert any(wait.entered != flight.record.created for flight in flights for wait in flight.waits)
    hour, series = hour_start(result.scope.counted_from, zone) + timedelta(hours=1), []
    while hour <= result.scope.to:
        series.append((hour.astimezone(zone).isoformat(),
                       sum(f.record.created <= hour and not (f.first_resolved_at and f.first_resolved_at <= hour) for f in flights)))
        hour += timedelta(hours=1)
    assert result.wip_series == series and {value for _, value in series} != {0} and series[-1][0] == "2025-03-10T13:00:00-02:30"
    assert {text[-6:] for text, _ in series} == {"-03:30", "-02:30"}  # either side of the change


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 30 * 24 * 60), st.one_of(st.none(), st.integers(0, 40 * 24 * 60))), max_size=30),
       st.sampled_from(["America/St_Johns", "Europe/Berlin", "Asia/Kathmandu"]))
def test_the_work_in_progress_is_what_each_hour_sees_open_in_any_order_given(spans, zone):
    """Tickets open at each hour of the centre's clock, stepped in UTC (a day of 23 or 25 hours where the clocks change),
    from spans given in no order (a replay's tickets are resolved out of their order), some never resolved."""
    from cxrules.simulation.figures import wip_series

    start, tz = datetime(2025, 3, 1, 0, 7, tzinfo=timezone.utc), ZoneInfo(zone)
    moments = [(start + timedelta(minutes=arrived), None if took is None else start + timedelta(minutes=arrived + took))
               for arrived, took in spans]
    end = start + timedelta(days=40, minutes=13)
    series, hour = [], hour_start(start, tz) + timedelta(hours=1)
    while hour <= end:
        series.append((hour.astimezone(tz).isoformat(),
                       sum(arrived <= hour and not (resolved is not None and resolved <= hour) for arrived, resolved in moments)))
        hour += timedelta(hours=1)
    assert wip_series([(arrived.astimezone(tz), resolved) for arrived, resolved in moments], start, end, tz) == series


@settings(max_examples=300)
@given(st.integers(-10**15, 10**15), st.integers(-10**15, 10**15))
def test_minutes_from_counts_of_microseconds_are_the_timedelta_s_float_for_float(since, until):
    """The replay's figures turn µs into minutes as ``total_seconds() / 60`` of the moments did: over a million, then over
    sixty (one division by sixty million rounds differently, for some counts)."""
    from cxrules.simulation.figures import _minutes

    moment = datetime(2025, 3, 3, tzinfo=timezone.utc)
    span = (moment + timedelta(microseconds=until)) - (moment + timedelta(microseconds=since))
    assert _minutes(since, until) == span.total_seconds() / 60


def test_values_the_org_does_not_know_are_unmapped_rows(tmp_path, org):
    mapping_text = MAPPING.replace("category: {column: type, values: {Question: question, Complaint: complaint}}", "category: {column: type}")
    log, mapping_path = _files(tmp_path, "T1,2025-03-03 09:00,,questoin,P2\nT2,2025-03-03 09:00,,question,P2\n", mapping_text)
    mapping, _ = load_mapping(mapping_path, org)
    records, unmapped = read_log(log, mapping)
    assert [r.id for r in records] == ["T2"] and unmapped.reasons == {"category: `questoin` is not a category of the org": 1}


def test_simulate_cli_modes_windows_and_bad_options(run_cli, tmp_path):
    rows = "".join(f"T{i},2025-03-0{3 + i // 3} 1{i % 3}:00,,Question,P2\n" for i in range(9))  # 3 a day, Mon–Wed
    log, mapping_path = _files(tmp_path, rows)
    tiny = ROOT / "tests/fixtures/tiny.yaml"
    base = ("simulate", tiny, log, "--mapping", mapping_path, "--no-progress", "--format", "json")
    what_if = json.loads(run_cli(*base, "--mode", "what-if").stdout)[0]
    assert (what_if["mode"], what_if["escalation"], what_if["counted"]) == ("what-if", "move", 9)
    windowed = json.loads(run_cli(*base, "--from", "2025-03-04", "--to", "2025-03-04T23:59").stdout)[0]
    assert (windowed["mode"], windowed["counted"], windowed["tickets"]) == ("as-is", 3, 9)
    warmed = json.loads(run_cli(*base, "--warm-up", "1d").stdout)[0]
    assert warmed["counted"] == 6 and warmed["window"]["counted_from"].startswith("2025-03-04T10:00")
    for option, value in (("--mode", "maybe"), ("--from", "Tuesday"), ("--warm-up", "3x"), ("--escalation", "shout")):
        refused = run_cli(*base, option, value)
        assert refused.exit_code == 2 and option in refused.output, (option, refused.output)
    assert run_cli(*base, "--from", "2025-03-05", "--to", "2025-03-04").exit_code == 2    # an empty window is a mistake
    assert run_cli("simulate", tiny, tiny, log, "--mapping", mapping_path, "--backtest").exit_code == 2
    (tmp_path / "model.yaml").write_text("apiVersion: cxrules/v1\nkind: SimulationModel\n", encoding="utf-8")
    bad_model = run_cli(*base, "--model", tmp_path / "model.yaml")
    assert bad_model.exit_code == 2 and "model.yaml:" in bad_model.output


_CELLS = st.text(alphabet=st.sampled_from(list('ab,;"\n\r x')), max_size=4)


@given(header=st.lists(st.sampled_from(["id", "opened", "type", "a b", ""]), min_size=1, max_size=5),
       rows=st.lists(st.lists(_CELLS, max_size=7), max_size=6), delimiter=st.sampled_from([",", ";"]))
@example(header=["id", "opened"], rows=[["T1"], [], ["T2", "x", "extra", "more"], ["", ""]], delimiter=",")
def test_a_csv_log_s_rows_are_those_of_the_csv_module_s_dict_reader(tmp_path_factory, header, rows, delimiter):
    """Rows with cells missing (None), cells beyond the header (a list under None), blank rows (skipped), quoted delimiters
    and line breaks, numbered as DictReader numbers them: the row reader builds them itself, DictReader being interpreted."""
    import csv
    import io

    from cxrules.simulation.mapping import LogMapping, _csv_rows

    text = io.StringIO(newline="")
    writer = csv.writer(text, delimiter=delimiter)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    log = tmp_path_factory.mktemp("rows") / "log.csv"
    log.write_text(text.getvalue(), encoding="utf-8", newline="")
    mapping = LogMapping(fields={}, path="mapping.yaml", delimiter=delimiter)

    def read(rows_of):
        with open(log, encoding="utf-8", newline="") as stream:
            return list(rows_of(stream))

    def in_order(rows):  # each row's cells in the order DictReader gives them, not only the same dict
        return [(number, list(row.items())) for number, row in rows]

    expected = read(lambda stream: in_order(enumerate(csv.DictReader(stream, delimiter=delimiter), start=2)))
    assert read(lambda stream: in_order(_csv_rows(log, mapping, stream))) == expected


def test_a_new_flight_holds_every_field_of_its_own():
    """A flight's ``__init__`` is written out (a dataclass's is interpreted, even compiled): it takes every field, as the
    dataclass's would, holds each, and gives each flight its own sets and lists. The µs it keeps of its moments are worked
    out from the moments given (0 for a moment unset), never taken as arguments, so a flight's copy keeps them right."""
    import dataclasses

    from cxrules.simulation.figures import Flight, Holding, Wait
    from cxrules.simulation.journeys import AsIsJourney, Phase

    record = TicketRecord("T1", datetime(2025, 3, 3, 9, tzinfo=timezone.utc), "question", "phone", "normal", "normal")
    first, second = Flight(record, AsIsJourney([])), Flight(record, AsIsJourney([]))
    kept = ("created_micros", "entered_role_micros", "holding_since_micros", "first_assigned_micros", "first_resolved_micros")
    assert [field.name for field in dataclasses.fields(Flight) if not field.init] == list(kept)
    assert [getattr(first, name) for name in kept] == [micros(record.created), 0, 0, 0, 0]
    values = {field.name: getattr(first, field.name) for field in dataclasses.fields(Flight) if field.init}
    assert values.pop("record") is record and values.pop("journey") == AsIsJourney([])
    assert values == {**dict.fromkeys(("expected_role", "role", "phases", "agent", "phase_started", "entered_role_at",
                                       "holding_since", "first_assigned_at", "first_resolved_at", "resolved_at",
                                       "resolved_by")),
                      **dict.fromkeys(("paused", "responded", "escalated", "fallback", "has_sla"), False),
                      **dict.fromkeys(("generation", "reopened", "moves", "moves_by_escalation"), 0),
                      "breached": set(), "waits": [], "holdings": []}
    assert first.breached is not second.breached and first.waits is not second.waits and first.holdings is not second.holdings
    assert first == second and repr(first).startswith("Flight(record=TicketRecord(")
    moment = datetime(2025, 3, 3, 10, tzinfo=timezone.utc)
    every = {"record": record, "journey": AsIsJourney([]), "generation": 2, "expected_role": "desk", "role": "desk",
             "phases": [Phase(timedelta(minutes=5))], "agent": "desk#1", "phase_started": moment, "paused": True,
             "entered_role_at": moment, "holding_since": moment, "first_assigned_at": moment, "first_resolved_at": moment,
             "resolved_at": moment, "resolved_by": "desk", "responded": True, "reopened": 1, "moves": 2,
             "moves_by_escalation": 1, "escalated": True, "fallback": True, "has_sla": True, "breached": {"resolution"},
             "waits": [Wait("desk", moment, moment, True, 1, 1)], "holdings": [Holding("desk#1", "desk", moment, moment, 1, 1)]}
    assert list(every) == [field.name for field in dataclasses.fields(Flight) if field.init]  # every field, each unlike its default
    made = Flight(**every)
    assert {field.name: getattr(made, field.name) for field in dataclasses.fields(Flight) if field.init} == every
    assert [getattr(made, name) for name in kept] == [micros(record.created)] + [micros(moment)] * 4
    later = dataclasses.replace(made, moves=3, entered_role_at=record.created)
    assert later == Flight(**{**every, "moves": 3, "entered_role_at": record.created})
    assert later.entered_role_micros == micros(record.created) and later.holding_since_micros == micros(moment)


def test_the_replay_s_phases_steps_and_journeys_compare_hash_and_print_as_the_dataclasses_they_were():
    """Their ``__init__`` is written out, for speed: a flight's equality and repr, which hold them, are unchanged."""
    import dataclasses

    from cxrules.simulation import journeys

    phase = journeys.Phase(timedelta(hours=1), "pause", "waiting_customer")
    step = journeys.Step("desk", (phase,), False, timedelta(days=1), responds=False)
    for made, unlike, frozen in ((phase, journeys.Phase(timedelta(hours=1)), True), (step, journeys.Step("desk", ()), True),
                                 (journeys.Next("move", "desk", timedelta(0)), journeys.Next("move", "desk"), True),
                                 (journeys.AsIsJourney([step], 1), journeys.AsIsJourney([step]), False)):
        kind = type(made)
        values = {field.name: getattr(made, field.name) for field in dataclasses.fields(kind)}
        twin = dataclasses.make_dataclass(kind.__name__, list(values), frozen=frozen)(**values)
        assert repr(made) == repr(twin) and made == kind(**values) and made != unlike
        if frozen:
            assert hash(made) == hash(kind(**values))


@given(st.lists(st.tuples(st.sampled_from([0, 1_500_000, 1_500_001, 86_400_250_000, -3_000_000, 2**62]), st.integers(0, 10**6)),
                max_size=30, unique_by=lambda pair: pair[1]))
def test_the_replays_agenda_takes_its_steps_by_time_then_in_the_order_pushed(pairs):
    """Fails if the agenda's steps are not taken by instant (in µs), or if steps of one moment are not taken in the order
    they were pushed (the heap's order decides which of two steps at one moment the replay takes first)."""
    agenda: list = []
    for due, number in pairs:
        heapq.heappush(agenda, _Agendum(due, number, datetime(2025, 1, 1, tzinfo=timezone.utc), print, "T", None, None))
    taken = [heapq.heappop(agenda) for _ in pairs]
    assert [(step.due, step.number) for step in taken] == sorted(pairs)


@pytest.mark.parametrize("latest", ["resolved", "closed", "picked", "left", "pause"])
def test_a_records_last_moment_is_its_latest_of_every_moment_the_log_gives(latest):
    """Fails if the last moment leaves out the stints (who picked it, when it left) or their pauses' ends, or trips on the
    moments the log leaves out (None)."""
    created = datetime(2025, 3, 3, 9, tzinfo=timezone.utc)
    hour = timedelta(hours=1)
    late = created + 10 * hour
    stints = (Stint("desk", created, picked=late if latest == "picked" else created + hour, left=late if latest == "left" else None,
                    pauses=(Pause(created + hour, late if latest == "pause" else None, "waiting_customer"),)),
              Stint("expert", created + 2 * hour))
    record = TicketRecord("T1", created, "question", "phone", "normal", "normal", first_response=None,
                          resolved=late if latest == "resolved" else created + 3 * hour, closed=late if latest == "closed" else None,
                          stints=stints)
    assert record.last_moment == late


def _replay_of(created: list[datetime]):
    """A replay of automotive with one consultation by phone arriving at each of ``created`` (T0, T1, ...), not yet run."""
    import random

    from cxrules.simulation import LogMapping
    from cxrules.simulation.replay import _Replay

    org = cxrules.load_org(ORGS / "automotive.yaml")
    records = [TicketRecord(f"T{n}", moment, "consultation", "phone", "normal", "normal", row=n + 2) for n, moment in enumerate(created)]
    return _Replay(org, records, LogMapping(fields={}, path=""), "as-is", None, "move", random.Random(1))


def test_the_replay_takes_steps_of_one_moment_in_the_order_it_pushed_them():
    """Fails if the replay's steps are not numbered as pushed (steps of one moment would leave the heap in its own order)."""
    start = datetime(2025, 3, 3, 9, tzinfo=timezone.utc)
    replay = _replay_of([start, start + timedelta(minutes=10)])  # the replay runs to the log's last moment
    taken: list[int] = []
    for number in range(20):
        replay._push(start + timedelta(minutes=5 * (number % 2)), lambda flight, at, payload: taken.append(payload), "T0",
                     payload=number)
    try:
        replay.run(None, timedelta(0))
    finally:
        replay.close()
    assert taken == list(range(0, 20, 2)) + list(range(1, 20, 2))


def test_a_ticket_arriving_at_the_moment_of_a_step_arrives_first():
    """At one moment an arrival comes before what the agenda holds (the replay's rule): a step due when T1 arrives finds T1
    already known to the engine. Fails if the arrival is taken only when strictly earlier than the agenda's next step."""
    start = datetime(2025, 3, 3, 9, tzinfo=timezone.utc)
    later = start + timedelta(minutes=5)
    replay = _replay_of([start, later])
    seen: list[bool] = []
    replay._push(later, lambda flight, at, payload: seen.append(replay.engine.ticket("T1") is not None), "T0")
    try:
        replay.run(None, timedelta(0))
    finally:
        replay.close()
    assert seen == [True]
