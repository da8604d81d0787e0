"""A customer id that holds a large share of a log: told by `simulate`, with the mapping's fix, when the org's patterns
across a customer's tickets would take all its tickets as one customer's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import cxrules
from cxrules.simulation import crowded_customers, load_mapping, read_log
from cxrules.simulation.customers import CROWDED_SHARE, CROWDED_TICKETS, customer_patterns
from cxrules.simulation.history import TicketRecord

from conftest import ROOT
from engine_helpers import make_org, with_automations

CAME_BACK = {"id": "came_back", "when": {"event": "created", "following": "resolved", "within": "7d"}, "then": {"tag": ["came_back"]}}
WAVE = {"id": "wave", "when": {"event": "created", "count": 21, "within": "1h", "per": "all"}, "then": {"tag": ["wave"]}}
RAISE = {"id": "raise", "when": {"event": "created"}, "then": {"priority": "urgent"}}
START = datetime(2025, 3, 3, 1, tzinfo=timezone.utc)


def _records(customers: list, category: str = "question") -> list[TicketRecord]:
    return [TicketRecord(f"T{n}", START + timedelta(minutes=n), category, "phone", "normal", "normal", customer_id=customer)
            for n, customer in enumerate(customers)]


def _spread(count: int) -> list[str]:
    return [f"c{n}" for n in range(count)]


def test_an_id_holding_a_fifth_of_the_tickets_that_name_a_customer_is_told_with_the_patterns_it_concerns(tmp_path):
    org = make_org(tmp_path, with_automations(CAME_BACK, WAVE, RAISE))
    [crowded] = crowded_customers(org, _records(["unknown"] * 25 + _spread(75) + [None] * 400))
    assert crowded.customer_id == "unknown"
    assert (crowded.tickets, crowded.named, crowded.share) == (25, 100, 0.25)  # tickets naming no customer are not counted
    assert crowded.patterns == ("came_back",)  # `per: all` counts every ticket whoever its customer; `raise` is no pattern
    assert "`null_values`" in crowded.fix  # no mapping known: the usual fix


@pytest.mark.parametrize("customers", [
    ["unknown"] * CROWDED_TICKETS + _spread(int(CROWDED_TICKETS / CROWDED_SHARE) - CROWDED_TICKETS + 1),  # just under a fifth
    ["unknown"] * (CROWDED_TICKETS - 1) + _spread(CROWDED_TICKETS),  # half, but too few tickets to tell
    _spread(200),
    [None] * 200,
])
def test_no_id_is_told_below_the_share_or_the_count(tmp_path, customers):
    assert crowded_customers(make_org(tmp_path, with_automations(CAME_BACK)), _records(customers)) == []


def test_at_the_share_and_the_count_the_id_is_told(tmp_path):
    customers = ["unknown"] * CROWDED_TICKETS + _spread(int(CROWDED_TICKETS / CROWDED_SHARE) - CROWDED_TICKETS)
    [crowded] = crowded_customers(make_org(tmp_path, with_automations(CAME_BACK)), _records(customers))
    assert crowded.share == CROWDED_SHARE


def test_every_id_over_the_bounds_is_told_most_tickets_first(tmp_path):
    told = crowded_customers(make_org(tmp_path, with_automations(CAME_BACK)), _records(["-"] * 25 + ["unknown"] * 30 + _spread(45)))
    assert [(crowded.customer_id, crowded.tickets) for crowded in told] == [("unknown", 30), ("-", 25)]


def test_ids_are_counted_as_text_as_the_engine_keys_a_customer_s_tickets(tmp_path):
    [crowded] = crowded_customers(make_org(tmp_path, with_automations(CAME_BACK)), _records([42] * 15 + ["42"] * 15 + _spread(30)))
    assert (crowded.customer_id, crowded.tickets) == ("42", 30)
    assert "as a number" in crowded.fix  # `null_values` match texts only


def test_only_tickets_of_a_class_the_patterns_look_at_count(tmp_path):
    complaints_only = dict(CAME_BACK, **{"if": {"match": {"category": ["complaint"]}}})
    org = make_org(tmp_path, with_automations(complaints_only))
    assert crowded_customers(org, _records(["unknown"] * 100)) == []  # questions: no pattern of this org looks at them
    [crowded] = crowded_customers(org, _records(["unknown"] * 30, "complaint") + _records(_spread(70)))
    assert (crowded.tickets, crowded.named) == (30, 30)  # the questions' customers are not counted either


def test_an_org_with_no_pattern_across_a_customer_s_tickets_is_told_nothing(tmp_path):
    org = make_org(tmp_path, with_automations(WAVE, RAISE))
    assert customer_patterns(org) == ()
    assert crowded_customers(org, _records(["unknown"] * 100)) == []


def test_the_automotive_centre_s_complaint_loop_is_a_pattern_across_a_customer_s_tickets():
    org = cxrules.load_org(ROOT / "orgs/automotive.yaml")
    assert {"repeat_complaint", "complaint_comes_back"} <= {automation.id for automation in customer_patterns(org)}


LOG_MAPPING = """apiVersion: cxrules/v1
kind: TicketLogMapping
timezone: Asia/Shanghai
time_formats: ["%Y-%m-%d %H:%M"]
{nulls}fields:
  id: {{column: id}}
  created: {{column: opened}}
  first_response: {{column: opened}}
  category: {{value: question}}
  channel: {{value: phone}}
  segment: {{value: normal}}
  priority: {{value: normal}}
  customer_id: {customer}
service_time:
  default: {{mean: 10m}}
"""


def _log(tmp_path, customers: list[str], nulls: str = "", customer: str = "{column: customer}"):
    rows = "".join(f"T{n},2025-03-03 {9 + n // 60:02d}:{n % 60:02d},{who}\n" for n, who in enumerate(customers))
    (tmp_path / "log.csv").write_text("id,opened,customer\n" + rows, encoding="utf-8")
    (tmp_path / "mapping.yaml").write_text(LOG_MAPPING.format(nulls=nulls, customer=customer), encoding="utf-8")
    return tmp_path / "log.csv", tmp_path / "mapping.yaml"


def _note(log, share: str = "30 (50%) of the 60") -> str:
    return (f"cxrules: note: customer `unknown` is named by {share} tickets of {log} that name a customer and are of a class "
            "org `tiny`'s patterns across a customer's tickets look at (`came_back`), which take them all as one customer's "
            "tickets. If the id stands for no one customer (`unknown`, a placeholder), add it to the mapping's `null_values`, "
            "which read it as empty in every column (check that no other column holds it as a value).\n")


def test_simulate_notes_a_crowded_customer_on_standard_error_and_replays_as_ever(run_cli, tmp_path):
    make_org(tmp_path, with_automations(CAME_BACK))
    log, mapping = _log(tmp_path, ["unknown"] * 30 + _spread(30))
    result = run_cli("simulate", tmp_path / "org.yaml", log, "--mapping", mapping, "--no-progress", "--format", "json")
    assert result.exit_code == 0 and '"tickets": 60' in result.stdout
    assert result.stderr == _note(log)


def test_the_mapping_s_null_values_the_note_advises_leave_the_id_out(run_cli, tmp_path):
    make_org(tmp_path, with_automations(CAME_BACK))
    log, mapping = _log(tmp_path, ["unknown"] * 30 + _spread(30), nulls='null_values: ["unknown"]\n')
    result = run_cli("simulate", tmp_path / "org.yaml", log, "--mapping", mapping, "--no-progress", "--format", "json")
    assert result.exit_code == 0 and result.stderr == ""


def test_simulate_says_nothing_of_customers_spread(run_cli, tmp_path):
    make_org(tmp_path, with_automations(CAME_BACK))
    log, mapping = _log(tmp_path, _spread(60))
    result = run_cli("simulate", tmp_path / "org.yaml", log, "--mapping", mapping, "--no-progress", "--format", "json")
    assert result.exit_code == 0 and result.stderr == ""


def test_tickets_drawn_from_a_model_name_no_customer_and_are_not_noted(run_cli, tmp_path):
    make_org(tmp_path, with_automations(CAME_BACK))
    log, mapping = _log(tmp_path, ["unknown"] * 30 + _spread(30))
    model = tmp_path / "model.yaml"
    assert run_cli("calibrate", tmp_path / "org.yaml", log, "-m", mapping, "-o", model).exit_code == 0
    model.write_text(model.read_text(encoding="utf-8").replace("  cells: []", "  cells:\n    - {work: {n: 1, p10: 20m, p25: 20m, p50: 20m, "
                     "p75: 20m, p90: 20m, p99: 20m, mean: 20m}, zero_share: 0, distribution: empirical}"), encoding="utf-8")
    result = run_cli("simulate", tmp_path / "org.yaml", log, "-m", mapping, "--model", model, "--arrivals", "model", "--days", "2",
                     "--format", "json", "--no-progress")
    assert result.exit_code == 0 and "note:" not in result.stderr, result.stderr


def test_the_report_of_a_ticket_log_notes_it_too(run_cli, tmp_path):
    make_org(tmp_path, with_automations(CAME_BACK))
    log, mapping = _log(tmp_path, ["unknown"] * 30 + _spread(30))
    result = run_cli("report", tmp_path / "org.yaml", "--tickets", log, "-m", mapping, "-o", tmp_path / "report.html")
    assert result.exit_code == 0 and _note(log) in result.stderr


@pytest.mark.parametrize(("customer", "fix"), [
    ("{value: unknown}", "the mapping names it on every ticket (`customer_id: {value: ...}`): map the log's customer column"),
    ("{column: customer, default: unknown}", "it is the mapping's `default` of `customer_id`"),
    ("{column: customer, values: {'?': unknown, c1: c1}, default: c2}", "the mapping's `values` of `customer_id` translate to it"),
])
def test_the_fix_is_worded_for_the_mapping(tmp_path, customer, fix):
    org = make_org(tmp_path, with_automations(CAME_BACK))
    log, mapping_path = _log(tmp_path, ["?"] * 30 + [""] * 30 if "values" in customer else [""] * 30, customer=customer)
    mapping, problems = load_mapping(mapping_path, org)
    assert problems == []
    records, _ = read_log(log, mapping)
    [crowded] = [crowded for crowded in crowded_customers(org, records, mapping) if crowded.customer_id == "unknown"]
    assert crowded.fix.startswith(fix)
