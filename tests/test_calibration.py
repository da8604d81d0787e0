"""Calibration: figures computed by hand from built histories, fits that recover their parameters, draws that
reproduce what was measured, the YAML read back equal and edits taking effect, bad files pointed at by line."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from datetime import timedelta

import pytest
from hypothesis import given, strategies as st

import cxrules
from cxrules.simulation import load_mapping, read_log
from cxrules.simulation.calibration import QUANTILES, Quantiles, calibrate, generate_arrivals, load_model, model_to_yaml
from cxrules.simulation.history import Pause, Stint, TicketRecord

from conftest import ROOT
from engine_helpers import SHANGHAI, local, make_org
from test_simulation import MAPPING

MINUTE = timedelta(minutes=1)


def _with_tier2(data):
    """desk and a new tier2 work around the clock (a 24/7 calendar: business time is elapsed time)."""
    data["calendars"].append({"id": "always", "hours": {"daily": ["00:00-24:00"]}})
    next(r for r in data["roles"] if r["id"] == "desk")["staff"] = [{"shift": "always", "agents": 2}]
    data["roles"].append({"id": "tier2", "name": "Tier 2", "unit": "front", "reports_to": "manager",
                          "handles": ["complaint", "question"], "staff": [{"shift": "always", "agents": 1}]})


@pytest.fixture
def org(tmp_path):
    return make_org(tmp_path, _with_tier2)


def _ticket(id: str, stints, category: str = "question", priority: str = "normal") -> TicketRecord:
    return TicketRecord(id=id, created=stints[0].entered, category=category, channel="phone", segment="normal", priority=priority,
                        resolved=next((s.left for s in stints if s.resolved), None), stints=tuple(stints))


def _at(hour: int, minute: int = 0):
    return local(2025, 3, 3, hour, minute)  # a Monday


# Four finished tickets, 30 work minutes each with desk; one goes on to tier2 (60 minutes) and reopens there; one is still open.
HISTORIES = [
    _ticket("T1", [Stint("desk", _at(9), _at(9, 10), _at(9, 40), resolved=True)]),
    _ticket("T2", [Stint("desk", _at(10), _at(10, 5), _at(11, 5), resolved=True,
                         pauses=(Pause(_at(10, 20), _at(10, 50), "waiting_customer"),))]),
    _ticket("T3", [Stint("desk", _at(11), _at(11), _at(11, 30)),
                   Stint("tier2", _at(11, 30), _at(12), _at(13), resolved=True),
                   Stint("tier2", _at(15), _at(15), _at(15), resolved=True, reopened=True)]),
    _ticket("T4", [Stint("desk", _at(12), _at(12, 15), _at(12, 45), resolved=True)]),
    _ticket("T5", [Stint("desk", _at(13))]),
]


def _minutes(q: Quantiles) -> list[float]:
    return [point / MINUTE for point in (*q.points, q.mean)]


def test_stints_nobody_took_up_are_measured_apart(org, tmp_path):
    """A first line that passes tickets on unassigned does so quickly, and where they go then is not where taken-up ones go."""
    passed_on = [_ticket(f"P{n}", [Stint("desk", _at(9, n), None, _at(9, n + 5)),
                                   Stint("tier2", _at(9, n + 5), _at(10), _at(11), resolved=True)]) for n in range(3)]
    model = calibrate(org, HISTORIES + passed_on, min_samples=4)
    assert _minutes(model.handling.triage["desk"]) == [5] * 7
    assert model.reassignment["desk"].arrival.unpicked.to["tier2"].probability == 1.0
    assert model.reassignment["desk"].arrival.resolved.probability == 0.75       # taken-up desk stints: 3 of 4 resolved
    assert (model.first_pick["desk"].arrival.picked, model.first_pick["desk"].arrival.stints) == (round(4 / 7, 4), 7)
    rng = __import__("random").Random(1)
    assert model.work("desk", "question", "normal", rng, picked=False) == timedelta(minutes=5)
    assert {model.next_role("desk", rng, picked=False) for _ in range(20)} == {"tier2"}
    (tmp_path / "model.yaml").write_text(model_to_yaml(model), encoding="utf-8")
    assert load_model(tmp_path / "model.yaml", org) == (model, [])


def test_stints_give_hand_computed_figures(org):
    model = calibrate(org, HISTORIES, min_samples=4)
    cells = {cell.key: cell for cell in model.handling.cells}
    desk = cells[("desk", "question", "normal")]
    assert (desk.work.n, _minutes(desk.work), desk.zero_share, desk.distribution) == (4, [30] * 7, 0, "empirical")
    # all roles: 0 (the reopened stint, picked and left at once), 30, 30, 30, 30, 60 minutes; p10 lies within the zeros
    pooled = cells[(None, None, None)]
    assert _minutes(pooled.work) == [0, 30, 30, 30, 45, 58.5, 30] and pooled.zero_share == round(1 / 6, 4)
    assert [(m.role, m.n, m.uses) for m in model.handling.merged] == [("tier2", 2, "all")]
    assert model.handling.censored == {"desk": 1}

    desk = model.reassignment["desk"].arrival
    assert desk.resolved.probability == 0.75 and desk.resolved.count == 3 and model.reassignment["desk"].transfer is None
    assert {role: odds.probability for role, odds in desk.to.items()} == {"tier2": 0.25}
    tier2 = model.reassignment["tier2"]  # only ever got tickets passed on (or reopened): all resolved
    assert tier2.arrival is None and tier2.transfer.resolved.probability == 1.0 and tier2.transfer.to == {}

    pauses = model.pauses["desk"]
    assert (pauses.stints, pauses.paused_share, pauses.per_paused_stint) == (4, 0.25, 1.0)
    assert list(pauses.reasons) == ["waiting_customer"] and _minutes(pauses.reasons["waiting_customer"].length) == [30] * 7
    assert model.pauses["tier2"].paused_share == 0

    assert (model.reopen.overall.rate, model.reopen.overall.resolved, model.reopen.overall.reopenings) == (0.25, 4, 1)
    assert _minutes(model.reopen.delay) == [120] * 7
    # desk picked after 10, 5, 0 and 15 minutes; the open T5 was never picked (and is not counted: it may still be)
    assert _minutes(model.first_pick["desk"].arrival.wait) == [1.5, 3.75, 7.5, 11.25, 13.5, 14.85, 7.5]
    assert (model.first_pick["desk"].arrival.picked, model.first_pick["desk"].arrival.stints) == (1.0, 4)
    assert model.first_pick["desk"].transfer is None          # desk only ever had new tickets
    # tier2 only had tickets passed on (30 minutes to pick-up) or reopened (taken up at once)
    assert _minutes(model.first_pick["tier2"].transfer.wait) == [3, 7.5, 15, 22.5, 27, 29.7, 15]

    assert model.arrivals.total == 5 and model.arrivals.trend == 0
    assert "# the log has no tue, wed, thu, fri, sat, sun: their hours stay at 0" in model_to_yaml(model)
    assert [model.arrivals_per_hour(h) for h in range(8, 15)] == [0, 1, 1, 1, 1, 1, 0]
    assert model.class_mix == [({"category": "question", "channel": "phone", "segment": "normal", "priority": "normal",
                                 "member": False}, 1.0)]


def test_a_window_keeps_the_tickets_created_within_it(org):
    assert calibrate(org, HISTORIES, window=(_at(10), _at(12))).arrivals.total == 2
    with pytest.raises(ValueError, match="no tickets to calibrate from in the window"):
        calibrate(org, HISTORIES, window=(_at(20), _at(21)))


def test_work_is_business_time_of_the_largest_staff_group_less_pauses(tmp_path):
    def two_groups(data):
        data["calendars"].append({"id": "always", "hours": {"daily": ["00:00-24:00"]}})
        next(r for r in data["roles"] if r["id"] == "desk")["staff"] = [{"shift": "always", "agents": 1}, {"shift": "office", "agents": 3}]
    org = make_org(tmp_path, two_groups)
    # office hours Mon-Fri 09:00-18:00: Friday 17:00-18:00 and Monday 09:00-10:00, less a pause on Monday 09:00-09:30
    stint = Stint("desk", local(2025, 3, 7, 16), local(2025, 3, 7, 17), local(2025, 3, 10, 10), resolved=True,
                  pauses=(Pause(local(2025, 3, 10, 9), local(2025, 3, 10, 9, 30), "waiting_customer"),))
    model = calibrate(org, [_ticket("W", [stint])])
    assert _minutes(model.handling.cells[0].work) == [90] * 7
    assert _minutes(model.pauses["desk"].reasons["waiting_customer"].length) == [30] * 7  # pauses count the wall clock


def test_a_flat_log_has_one_stint_with_the_routed_role_and_its_arrival_profile(org):
    def flat(day: int, hour: int, minute: int = 0) -> TicketRecord:
        created = local(2025, 3, day, hour, minute)
        return TicketRecord(id=f"F{day}{hour}{minute}", created=created, category="complaint", channel="phone", segment="vip",
                            priority="high", member=True, first_response=created + 4 * MINUTE, resolved=created + 64 * MINUTE)
    # two weeks from Monday 3 March: Monday 09:00 twice, Tuesday 10:00 once, Sunday 16 March 23:00 once
    records = [flat(3, 9, 10), flat(10, 9, 20), flat(4, 10), flat(16, 23)]
    model = calibrate(org, records)
    assert model.arrivals.start.isoformat() == "2025-03-03" and model.arrivals.end.isoformat() == "2025-03-16"
    assert model.arrivals_per_hour(9) == 1.0 and model.arrivals_per_hour(24 + 10) == 0.5 and model.arrivals_per_hour(167) == 0.5
    assert sum(model.arrivals.per_hour) == 2.0
    assert model.reassignment["desk"].arrival.resolved.probability == 1.0  # tiny routes everything to desk
    assert _minutes(model.handling.cells[0].work) == [60] * 7      # first response to resolution, around the clock for desk
    assert _minutes(model.first_pick["desk"].arrival.wait) == [4] * 7
    assert model.class_mix[0][0]["member"] is True and model.reopen.delay is None


def test_the_trend_is_the_least_squares_slope_of_daily_counts(org):
    records = [_ticket(f"D{day}{n}", [Stint("desk", local(2025, 3, day, 9 + n), left=local(2025, 3, day, 10 + n), resolved=True)])
               for day, count in ((3, 1), (4, 2), (5, 6)) for n in range(count)]
    assert calibrate(org, records).arrivals.trend == 2.5  # daily counts 1, 2, 6


def _lognormal_log(rng: random.Random, n: int = 2000, median_minutes: float = 30, sigma: float = 0.8) -> list[TicketRecord]:
    records = []
    for i in range(n):
        start = _at(0) + i * timedelta(hours=6)
        work = timedelta(minutes=rng.lognormvariate(math.log(median_minutes), sigma))
        records.append(_ticket(f"L{i}", [Stint("desk", start, start, start + work, resolved=True)]))
    return records


def test_a_lognormal_sample_recovers_its_parameters_and_is_chosen_over_gamma(org):
    model = calibrate(org, _lognormal_log(random.Random(7)))
    cell = next(cell for cell in model.handling.cells if cell.key == ("desk", "question", "normal"))
    lognormal, gamma = cell.fit("lognormal"), cell.fit("gamma")
    assert lognormal is not None and gamma is not None
    assert lognormal.shape == pytest.approx(0.8, abs=0.04)
    assert lognormal.scale / MINUTE == pytest.approx(30, rel=0.05)
    assert lognormal.ks < gamma.ks and lognormal.ks < 0.1
    assert cell.distribution == "lognormal"
    rng = random.Random(1)
    draws = sorted(model.work("desk", "question", "normal", rng) / MINUTE for _ in range(20000))
    assert draws[len(draws) // 2] == pytest.approx(30, rel=0.05)


def test_draws_from_measured_quantiles_reproduce_them_and_the_zero_share(org):
    cell = next(cell for cell in calibrate(org, HISTORIES).handling.cells)  # all roles: 1 in 6 without work
    rng = random.Random(3)
    draws = sorted(cell.draw(rng) / MINUTE for _ in range(60000))
    for (name, share), point in zip(QUANTILES, cell.work.points):
        assert draws[int(share * len(draws))] == pytest.approx(point / MINUTE, abs=1.0), name
    assert sum(d == 0 for d in draws) / len(draws) == pytest.approx(1 / 6, abs=0.01)


@given(st.lists(st.integers(0, 10_000), min_size=6, max_size=6), st.floats(0, 0.5))
def test_the_inverse_cdf_passes_through_every_quantile_and_never_goes_down(seconds, zero_share):
    points = tuple(timedelta(seconds=s) for s in sorted(seconds))
    q = Quantiles(10, points, points[2])
    for (_, share), point in zip(QUANTILES, points):
        if share >= zero_share:
            assert q.seconds(share, zero_share) == pytest.approx(point.total_seconds())
    values = [q.seconds(u / 1000, zero_share) for u in range(1000)]
    assert values == sorted(values) and min(values) >= 0


def test_an_unknown_role_draws_from_all_roles_and_is_resolved(org):
    model = calibrate(org, HISTORIES, min_samples=4)
    pooled = next(cell for cell in model.handling.cells if cell.key == (None, None, None))
    assert model.work("nobody", "question", "normal", random.Random(5)) == pooled.draw(random.Random(5))
    assert model.next_role("nobody", random.Random(5)) is None
    assert model.pause("tier2", random.Random(5)) is None


def test_the_yaml_reads_back_equal_and_edits_take_effect(tmp_path, org):
    model = calibrate(org, HISTORIES, min_samples=4)
    text = model_to_yaml(model)
    path = tmp_path / "model.yaml"
    path.write_text(text, encoding="utf-8")
    loaded, problems = load_model(path, org)
    assert problems == [] and loaded == model

    desk_line = "work: {n: 4, p10: 30m, p25: 30m, p50: 30m, p75: 30m, p90: 30m, p99: 30m, mean: 30m}"
    edited = text.replace(desk_line, desk_line.replace("30m", "2h"), 1)
    edited = edited.replace("resolved: {probability: 0.75, count: 3}", "resolved: {probability: 0.0, count: 3}")
    edited = edited.replace("tier2: {probability: 0.25, count: 1}", "tier2: {probability: 1.0, count: 1}")
    edited = edited.replace("paused_share: 0.25", "paused_share: 1.0")
    path.write_text(edited, encoding="utf-8")
    changed, problems = load_model(path, org)
    assert problems == [] and changed is not None
    rng = random.Random(0)
    assert {changed.work("desk", "question", "normal", rng) for _ in range(20)} == {timedelta(hours=2)}
    assert {changed.next_role("desk", rng) for _ in range(20)} == {"tier2"}
    assert {changed.pause("desk", rng) for _ in range(20)} == {("waiting_customer", timedelta(minutes=30))}


def test_a_bad_model_file_gets_diagnostics_at_its_lines(tmp_path, org):
    text = model_to_yaml(calibrate(org, HISTORIES, min_samples=4))
    text = text.replace("tier2: {probability: 0.25, count: 1}", "tier2: {probability: 0.35, count: 1}")
    text = text.replace("first_pick:\n  desk:", "first_pick:\n  dsek:")
    text = text.replace("p50: 15m, p75: 22m30s", "p50: 25m, p75: 22m30s")
    path = tmp_path / "model.yaml"
    path.write_text(text, encoding="utf-8")
    model, problems = load_model(path, org)
    lines = text.splitlines()
    assert model is None
    found = {(p.code, p.location.line) for p in problems}
    assert ("CX119", lines.index("    arrival:", lines.index("reassignment:")) + 1) in found
    unknown = next(p for p in problems if p.code == "CX201")
    assert unknown.location.line == lines.index("first_pick:") + 2 and unknown.hint == "did you mean `desk`?"
    assert next(p for p in problems if p.code == "CX115").message == "`p75` is shorter than `p50`: quantiles go up"
    assert len(problems) == 3


def test_a_model_file_that_breaks_the_schema_is_refused_by_the_schema(tmp_path, org):
    text = model_to_yaml(calibrate(org, HISTORIES)).replace("kind: SimulationModel", "kind: SimulationModle")
    path = tmp_path / "model.yaml"
    path.write_text(text.replace("zero_share: 0.1667", "zero_share: 1.5"), encoding="utf-8")
    model, problems = load_model(path, org)
    assert model is None and {p.code for p in problems} == {"CX113", "CX115"}


def test_generated_arrivals_follow_the_hour_of_week_profile_and_the_trend(org):
    model = calibrate(org, HISTORIES)
    profile = tuple(3.0 if hour == 9 else 0.0 for hour in range(168))  # Mondays 09:00-10:00 only, 3 an hour
    steady = dataclasses.replace(model, arrivals=dataclasses.replace(model.arrivals, per_hour=profile))
    tickets = generate_arrivals(steady, local(2025, 3, 10), 7 * 200, random.Random(11))
    assert {(t.created.astimezone(SHANGHAI).weekday(), t.created.astimezone(SHANGHAI).hour) for t in tickets} == {(0, 9)}
    assert len(tickets) == pytest.approx(600, rel=0.1)
    assert {t.category for t in tickets} == {"question"} and [t.id for t in tickets[:2]] == ["G1", "G2"]
    # the log's one day had 5 tickets; +5 a day per day adds the profile once more per day after its middle (noon):
    # Monday 3 March 09:30 is 0.1 day before it, Monday 10 March 09:30 6.9 days after
    rising = dataclasses.replace(steady, arrivals=dataclasses.replace(steady.arrivals, trend=5.0))
    assert len(generate_arrivals(rising, local(2025, 3, 3), 1, random.Random(11))) == pytest.approx(3 * 0.9, abs=3)
    assert len(generate_arrivals(rising, local(2025, 3, 10), 1, random.Random(11))) == pytest.approx(3 * 7.9, rel=0.4)


def _log(tmp_path, rows: str):
    (tmp_path / "log.csv").write_text("id,opened,answered,type,prio\n" + rows, encoding="utf-8")
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return tmp_path / "log.csv", tmp_path / "mapping.yaml"


def test_calibrate_cli_writes_a_model_that_loads_and_reports_unmapped_rows(run_cli, tmp_path):
    tiny = ROOT / "tests/fixtures/tiny.yaml"
    log, mapping = _log(tmp_path, "T1,2025-03-03 09:00,2025-03-03 09:05,Question,P2\n"
                                  "T2,2025-03-04 10:00,2025-03-04 10:30,Complaint,P1\n"
                                  "T3,2025-03-04 10:00,,Refund,P1\n")
    out = tmp_path / "model.yaml"
    result = run_cli("calibrate", tiny, log, "-m", mapping, "-o", out, "--min-samples", "1")
    assert result.exit_code == 0, result.output
    assert "1 rows of" in result.stderr and "1 × category: value `Refund` not in the mapping" in result.stderr
    assert "the model has no work times" in result.stderr
    model, problems = load_model(out, cxrules.load_org(tiny))
    assert [p.code for p in problems] == ["CX111"] and model is None  # no ticket was resolved: no work times to draw
    model = calibrate(cxrules.load_org(tiny), read_log(log, load_mapping(mapping, cxrules.load_org(tiny))[0])[0])
    assert model.arrivals.total == 2 and model.first_pick["desk"].arrival.wait.points[0] == timedelta(minutes=5 + 0.1 * 25)
    assert "kind: SimulationModel" in run_cli("calibrate", tiny, log, "-m", mapping).stdout

    # what-if on tickets drawn from the model's arrivals: a week of them, then twice the volume (a model needs work times)
    text = out.read_text(encoding="utf-8")
    (tmp_path / "empty.yaml").write_text(text, encoding="utf-8")
    refused = run_cli("simulate", tiny, log, "-m", mapping, "--model", tmp_path / "empty.yaml", "--no-progress")
    assert refused.exit_code == 2 and "CX111" in refused.output and "no work times" in refused.output
    other = run_cli("simulate", tiny, log, "-m", mapping, "--model", ROOT / "examples/servicenow/model.yaml", "--no-progress")
    assert other.exit_code == 2 and "calibrated for org `servicenow_desk`, not `tiny`" in other.output and "1 error" in other.output
    out.write_text(text.replace("  cells: []", "  cells:\n    - {work: {n: 1, p10: 20m, p25: 20m, p50: 20m, p75: 20m, p90: 20m, p99: 20m, "
                                "mean: 20m}, zero_share: 0, distribution: empirical}"), encoding="utf-8")
    drawn = ("simulate", tiny, log, "-m", mapping, "--model", out, "--arrivals", "model", "--days", "280", "--format", "json", "--no-progress")
    week, doubled = (json.loads(run_cli(*drawn, "--volume", volume).stdout)[0] for volume in ("1", "2"))
    # the log: Monday 1 ticket at 09h, Tuesday 1 at 10h: 40 weeks draw Poisson(80) tickets (Poisson(160) with --volume 2)
    assert week["mode"] == "what-if" and (week["tickets"], doubled["tickets"]) == (81, 142)
    assert run_cli(*drawn[:-3], "--mode", "as-is", "--format", "json").exit_code == 2   # drawn tickets have no history to replay


def test_calibrate_cli_exits_2_on_a_bad_mapping_or_log(run_cli, tmp_path):
    tiny = ROOT / "tests/fixtures/tiny.yaml"
    log, mapping = _log(tmp_path, "T1,2025-03-03 09:00,,Refund,P2\n")
    assert run_cli("calibrate", tiny, tmp_path / "missing.csv", "-m", mapping).exit_code == 2
    nothing = run_cli("calibrate", tiny, log, "-m", mapping)
    assert nothing.exit_code == 2 and "no tickets to calibrate from" in nothing.stderr
    mapping.write_text(MAPPING.replace("Question: question", "Question: questoin"), encoding="utf-8")
    assert run_cli("calibrate", tiny, log, "-m", mapping).exit_code == 2


SERVICENOW = ROOT / "examples" / "servicenow"
EVENT_LOG = ROOT.parent / "shared" / "data" / "servicenow_incident_event_log_excerpt.csv"


def test_the_servicenow_example_model_loads_for_its_org():
    model, problems = load_model(SERVICENOW / "model.yaml", cxrules.load_org(SERVICENOW / "org.yaml"))
    assert problems == [] and model is not None and model.arrivals.total == 890


@pytest.mark.skipif(not EVENT_LOG.exists(), reason="the shared event log is beside the project in CI and for developers")
def test_the_servicenow_example_model_is_what_calibrate_measures_from_the_log():
    org = cxrules.load_org(SERVICENOW / "org.yaml")
    mapping, _ = load_mapping(SERVICENOW / "mapping.yaml", org)
    records, unmapped = read_log(EVENT_LOG, mapping)
    assert model_to_yaml(calibrate(org, records)) == (SERVICENOW / "model.yaml").read_text(encoding="utf-8"), \
        "regenerate it: cxrules calibrate examples/servicenow/org.yaml LOG -m examples/servicenow/mapping.yaml -o examples/servicenow/model.yaml"


def test_validate_checks_a_model_as_a_model_and_a_folder_scan_skips_it(tmp_path, org, run_cli):
    text = model_to_yaml(calibrate(org, HISTORIES, min_samples=4))
    (tmp_path / "model.yaml").write_text(text, encoding="utf-8")
    assert run_cli("validate", tmp_path / "model.yaml").exit_code == 0
    assert run_cli("validate", tmp_path).exit_code == 0           # the folder's org only: the model is no org
    (tmp_path / "model.yaml").write_text(text.replace("  total: 5", "  total: many"), encoding="utf-8")
    bad = run_cli("validate", tmp_path / "model.yaml", "--format", "json")
    lines = text.splitlines()
    found = [(d["code"], d["line"]) for d in json.loads(bad.stdout)["diagnostics"]]
    assert bad.exit_code == 1 and found == [("CX110", lines.index("  total: 5") + 1)]   # a number was expected, on its line
