"""A customer id that holds a large share of a log: told by `simulate`, with the mapping's fix, when the org's patterns
across a customer's tickets would take all its tickets as one customer's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import cxrules
from cxrules.simulation import crowded_customer
from cxrules.simulation.customers import CROWDED_SHARE, CROWDED_TICKETS, customer_patterns
from cxrules.simulation.history import TicketRecord

from conftest import ROOT
from engine_helpers import make_org

CAME_BACK = {"id": "came_back", "when": {"event": "created", "following": "resolved", "within": "7d"}, "then": {"tag": ["came_back"]}}
WAVE = {"id": "wave", "when": {"event": "created", "count": 21, "within": "1h", "per": "all"}, "then": {"tag": ["wave"]}}
START = datetime(2025, 3, 3, 1, tzinfo=timezone.utc)


def _with(*automations):
    def change(data):
        data["automations"] = list(automations)
    return change


def _records(customers: list) -> list[TicketRecord]:
    return [TicketRecord(f"T{n}", START + timedelta(minutes=n), "question", "phone", "normal", "normal", customer_id=customer)
            for n, customer in enumerate(customers)]


def _spread(count: int) -> list[str]:
    return [f"c{n}" for n in range(count)]


def test_an_id_holding_a_fifth_of_the_tickets_that_name_a_customer_is_told_with_the_patterns_it_concerns(tmp_path):
    org = make_org(tmp_path, _with(CAME_BACK, WAVE))
    crowded = crowded_customer(org, _records(["unknown"] * 25 + _spread(75) + [None] * 400))
    assert crowded is not None and crowded.customer_id == "unknown"
    assert (crowded.tickets, crowded.named, crowded.share) == (25, 100, 0.25)  # tickets naming no customer are not counted
    assert crowded.patterns == ("came_back",)  # `per: all` counts every ticket whoever its customer


@pytest.mark.parametrize("customers", [
    ["unknown"] * CROWDED_TICKETS + _spread(int(CROWDED_TICKETS / CROWDED_SHARE) - CROWDED_TICKETS + 1),  # just under a fifth
    ["unknown"] * (CROWDED_TICKETS - 1) + _spread(CROWDED_TICKETS),  # half, but too few tickets to tell
    _spread(200),
    [None] * 200,
])
def test_no_id_is_told_below_the_share_or_the_count(tmp_path, customers):
    assert crowded_customer(make_org(tmp_path, _with(CAME_BACK)), _records(customers)) is None


def test_at_the_share_and_the_count_the_id_is_told(tmp_path):
    customers = ["unknown"] * CROWDED_TICKETS + _spread(int(CROWDED_TICKETS / CROWDED_SHARE) - CROWDED_TICKETS)
    crowded = crowded_customer(make_org(tmp_path, _with(CAME_BACK)), _records(customers))
    assert crowded is not None and crowded.share == CROWDED_SHARE


def test_an_org_with_no_pattern_across_a_customer_s_tickets_is_told_nothing(tmp_path):
    org = make_org(tmp_path, _with(WAVE))
    assert customer_patterns(org) == ()
    assert crowded_customer(org, _records(["unknown"] * 100)) is None


def test_the_automotive_centre_s_complaint_loop_is_a_pattern_across_a_customer_s_tickets():
    org = cxrules.load_org(ROOT / "orgs/automotive.yaml")
    assert {"repeat_complaint", "complaint_comes_back"} <= set(customer_patterns(org))


LOG_MAPPING = """apiVersion: cxrules/v1
kind: TicketLogMapping
timezone: Asia/Shanghai
time_formats: ["%Y-%m-%d %H:%M"]
{nulls}fields:
  id: {{column: id}}
  created: {{column: opened}}
  category: {{value: question}}
  channel: {{value: phone}}
  segment: {{value: normal}}
  priority: {{value: normal}}
  customer_id: {{column: customer}}
service_time:
  default: {{mean: 10m}}
"""


def _log(tmp_path, customers: list[str], nulls: str = ""):
    rows = "".join(f"T{n},2025-03-03 {9 + n // 60:02d}:{n % 60:02d},{customer}\n" for n, customer in enumerate(customers))
    (tmp_path / "log.csv").write_text("id,opened,customer\n" + rows, encoding="utf-8")
    (tmp_path / "mapping.yaml").write_text(LOG_MAPPING.format(nulls=nulls), encoding="utf-8")
    return tmp_path / "log.csv", tmp_path / "mapping.yaml"


def test_simulate_notes_a_crowded_customer_on_standard_error_and_replays_as_ever(run_cli, tmp_path):
    make_org(tmp_path, _with(CAME_BACK))
    log, mapping = _log(tmp_path, ["unknown"] * 30 + _spread(30))
    result = run_cli("simulate", tmp_path / "org.yaml", log, "--mapping", mapping, "--no-progress", "--format", "json")
    assert result.exit_code == 0 and '"tickets": 60' in result.stdout
    assert (f"cxrules: note: customer `unknown` holds 30 of the 60 tickets of {log} that name a customer (50%); org `tiny`'s "
            "patterns across a customer's tickets (`came_back`) match each of them with the others. If the id stands for no one "
            "customer (`unknown`, a placeholder), add it to the mapping's `null_values`") in result.stderr


def test_the_mapping_s_null_values_the_note_advises_leave_the_id_out(run_cli, tmp_path):
    make_org(tmp_path, _with(CAME_BACK))
    log, mapping = _log(tmp_path, ["unknown"] * 30 + _spread(30), nulls='null_values: ["unknown"]\n')
    result = run_cli("simulate", tmp_path / "org.yaml", log, "--mapping", mapping, "--no-progress", "--format", "json")
    assert result.exit_code == 0 and "note:" not in result.stderr


def test_simulate_says_nothing_of_customers_spread(run_cli, tmp_path):
    make_org(tmp_path, _with(CAME_BACK))
    log, mapping = _log(tmp_path, _spread(60))
    result = run_cli("simulate", tmp_path / "org.yaml", log, "--mapping", mapping, "--no-progress", "--format", "json")
    assert result.exit_code == 0 and result.stderr == ""
