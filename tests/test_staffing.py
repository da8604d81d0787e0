"""Staffing advice: Erlang C against the closed form, targets, hours → staff groups, advice the simulation confirms, the patch."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

import cxrules
from cxrules.simulation.staffing import (ServiceTarget, advise, agents_needed, cover, erlang_c, parse_target, render_advice,
                                         service_level, staff_patch)

from conftest import ORGS
from engine_helpers import make_org

MAPPING = """apiVersion: cxrules/v1
kind: TicketLogMapping
timezone: Asia/Shanghai
time_formats: ["%Y-%m-%d %H:%M"]
fields:
  id: {column: id}
  created: {column: opened}
  category: {value: question}
  channel: {value: phone}
  segment: {value: normal}
  priority: {value: normal}
service_time:
  default: {mean: 12m}
"""
TARGET = ServiceTarget(0.8, timedelta(minutes=30))
MONDAY = datetime(2025, 3, 3)


def _closed_form(servers: int, load: Fraction) -> Fraction:
    """Erlang C as textbooks write it: (aⁿ/n!·n/(n−a)) / (Σₖ₍ₖ₌₀…ₙ₋₁₎ aᵏ/k! + aⁿ/n!·n/(n−a)), exactly."""
    top = load ** servers / math.factorial(servers) * servers / (servers - load)
    return top / (sum(load ** k / math.factorial(k) for k in range(servers)) + top)


@pytest.mark.parametrize("servers, load", [(1, Fraction(1, 2)), (2, Fraction(1)), (3, Fraction(2)), (12, Fraction(10)),
                                           (40, Fraction(351, 10))])
def test_erlang_c_is_the_closed_form(servers, load):
    assert erlang_c(servers, float(load)) == pytest.approx(float(_closed_form(servers, load)), rel=1e-12)


def test_erlang_c_known_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)       # one server: a ticket waits when the server is busy, ρ of the time
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # 10 Erlangs on 12 servers, 3-minute handling: 44.9 % wait, 64.0 % are answered within 20 s
    assert erlang_c(12, 10.0) == pytest.approx(0.44939, abs=1e-5)
    assert service_level(12, 10.0, timedelta(seconds=20), timedelta(minutes=3)) == pytest.approx(0.64016, abs=1e-5)
    assert erlang_c(10, 10.0) == 1.0 and service_level(10, 10.0, timedelta(minutes=1), timedelta(minutes=3)) == 0.0
    assert service_level(1, 0.0, timedelta(0), timedelta(minutes=3)) == 1.0


def test_erlang_c_stays_finite_where_powers_and_factorials_overflow():
    waiting = erlang_c(2000, 1900.0)   # 1900²⁰⁰⁰ / 2000! is far beyond a float
    assert 0 < waiting < 1 and waiting == pytest.approx(0.0134064, abs=1e-6)


def test_agents_needed():
    twelve_minutes = timedelta(minutes=12)   # 10 tickets an hour: 2 Erlangs
    assert agents_needed(10, twelve_minutes, 1, TARGET) == 3                                              # 96.3 %; 2 servers never empty the queue
    assert agents_needed(10, twelve_minutes, 1, ServiceTarget(0.8, timedelta(minutes=5))) == 4            # 3: 70.7 %, 4: 92.4 %
    assert agents_needed(10, twelve_minutes, 2, ServiceTarget(0.8, timedelta(minutes=5))) == 2            # 4 places
    assert agents_needed(0, twelve_minutes, 1, TARGET) == 0


@pytest.mark.parametrize("text, share, within", [("80% in 30m", 0.8, timedelta(minutes=30)), ("90 % in 1h", 0.9, timedelta(hours=1)),
                                                 ("95.5% within 1m30s", 0.955, timedelta(seconds=90))])
def test_parse_target(text, share, within):
    assert parse_target(text) == ServiceTarget(share, within)


@pytest.mark.parametrize("text, says", [("80", "such as `80% in 30m`"), ("80% in soon", "`soon`"), ("0% in 1m", "between 0% and 100%"),
                                        ("100% in 1m", "between 0% and 100%"), ("80% in 2wd", "not working days")])
def test_parse_target_refuses_with_a_reason(text, says):
    with pytest.raises(ValueError, match=says.replace("%", "%")):
        parse_target(text)


def test_cover_counts_overlapping_groups_once():
    day, late = frozenset(range(8, 16)), frozenset(range(14, 22))
    required = [0] * 168
    required[8:22] = [4] * 14
    required[14:16] = [10, 10]
    # each alone would need 10; the longest shift first lowered: day keeps 4 for 08–14, late brings 10 − 4 at 14–16
    assert cover(required, [day, late]) == [4, 6]
    assert cover(required, [frozenset(range(8, 22))]) == [10]
    assert cover([0] * 168, [day]) == [0]


def _case(tmp_path, arrivals, change=None):
    """An org (tiny, the desk 1 place per agent, one agent on office hours), a log of ``arrivals`` and its mapping (12-minute work)."""
    def desk(data):
        role = next(r for r in data["roles"] if r["id"] == "desk")
        role.update(capacity=1, staff=[{"shift": "office", "agents": 1}])
        if change:
            change(role)
    make_org(tmp_path, desk)
    rows = "".join(f"T{n},{moment:%Y-%m-%d %H:%M}\n" for n, moment in enumerate(arrivals))
    (tmp_path / "log.csv").write_text("id,opened\n" + rows, encoding="utf-8")
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return tmp_path / "org.yaml", tmp_path / "log.csv", tmp_path / "mapping.yaml"


def _every_six_minutes(start: datetime, hours: int) -> list[datetime]:
    return [start + timedelta(minutes=6 * n) for n in range(10 * hours)]


@pytest.fixture
def monday(tmp_path, monkeypatch):
    """10 tickets an hour at the desk, Monday 09:00–11:00, 12 minutes of work each: 2 Erlangs."""
    monkeypatch.chdir(tmp_path)  # the patch names the org as given, relative to here
    return _case(tmp_path, _every_six_minutes(MONDAY.replace(hour=9), 2))


def test_two_erlangs_need_three_agents_and_the_simulation_confirms_it(monday):
    advice = advise(*monday, TARGET, jobs=1)
    (desk,) = advice.roles
    assert desk.role == "desk" and desk.tickets == 20 and desk.handling_minutes == 12.0
    assert desk.required[9:11] == (3, 3) and sum(desk.required) == 6     # Monday 09–11 only
    assert [(g.shift, g.current, g.erlang_c, g.advised) for g in desk.groups] == [("office", 1, 3, 3)]
    # one agent: ticket n arrives at 6n minutes and is taken at 12n, so only the first six wait 30 minutes or less
    assert desk.before == 6 / 20 and desk.after == 1.0
    assert advice.missing == [] and advice.rounds == 1 and desk.gaps == ()
    text = render_advice(advice)
    assert "office     1 → 3    (Erlang C 3)" in text and "service level 30.0% → 100.0%  (meets 80% in 30m)" in text
    assert "    Mon 0 0 0 0 0 0 0 0 0 3 3 0 0 0 0 0 0 0 0 0 0 0 0 0" in text


def test_a_replay_counts_the_tickets_taken_late_by_the_hour_of_the_week_they_reached_the_role(monday):
    """Where the advice adds agents: ticket n reaches the desk at 09:00 + 6n minutes and is taken at 12n, so it waits 6n
    minutes. Those that wait more than 30 (n from 6, not 5, which waits exactly 30) count in the hour they arrived: four
    from 09:36 to 09:54, ten from 10:00, on Monday (hours 9 and 10 of the week)."""
    from cxrules.simulation.staffing import _Inputs, _Replayer

    org, log, mapping = (str(path) for path in monday)
    outcome = _Replayer(_Inputs(org, log, mapping, None, "what-if", None, TARGET.within)).run(org)
    late = outcome.late["desk"]
    assert (late[9], late[10], sum(late)) == (4, 10, 14) and outcome.levels["desk"] == 6 / 20


def test_a_replay_counts_the_tickets_never_taken_as_late(tmp_path):
    """A ticket nobody takes counts as late in the hour it reached the role, however short its wait there. The one agent
    works on the first ticket (100 hours of work) until it is escalated; the other 19 wait at the desk, untaken, for the
    150 minutes before they are escalated: nine that came from 09:06 to 09:54, ten from 10:00, on Monday. The target here
    is 3 hours, longer than those waits, so they are late only because nobody took them."""
    from cxrules.simulation.staffing import _Inputs, _Replayer

    org, log, mapping = (str(path) for path in _case(tmp_path, _every_six_minutes(MONDAY.replace(hour=9), 2)))
    Path(mapping).write_text(MAPPING.replace("mean: 12m", "mean: 100h"), encoding="utf-8")
    outcome = _Replayer(_Inputs(org, log, mapping, None, "what-if", None, timedelta(hours=3))).run(org)
    late = outcome.late["desk"]
    assert (late[9], late[10], sum(late)) == (9, 10, 19) and outcome.levels["desk"] == 1 / 20


def test_the_patch_applies_and_the_org_validates(monday):
    patch = advise(*monday, TARGET, jobs=1).patch
    assert patch.startswith("--- org.yaml\n+++ org.yaml\n")
    assert [line for line in patch.splitlines() if line[:1] in "+-" and line[:3] not in ("---", "+++")] == \
        ["-    agents: 1", "+    agents: 3"]
    assert _applied(patch, monday[0]).role("desk").staff[0].agents == 3


def _applied(patch: str, org_path) -> cxrules.Org:
    if shutil.which("patch") is None:
        pytest.skip("no `patch` command")
    subprocess.run(["patch", "-p0"], input=patch, text=True, check=True, capture_output=True, cwd=org_path.parent)
    return cxrules.load_org(org_path)


def test_roles_in_an_included_file_are_replayed_and_patched_there(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    org_path, log, mapping = _case(tmp_path, _every_six_minutes(MONDAY.replace(hour=9), 2))
    data = yaml.safe_load(org_path.read_text(encoding="utf-8"))
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "roles.yaml").write_text(yaml.safe_dump({"apiVersion": "cxrules/v1", "kind": "Fragment", "roles": data.pop("roles")}),
                                                   encoding="utf-8")
    org_path.write_text(yaml.safe_dump({**data, "include": ["parts/roles.yaml"]}, sort_keys=False), encoding="utf-8")
    advice = advise(org_path, log, mapping, TARGET, jobs=1)
    assert advice.roles[0].after == 1.0 and advice.patch.startswith("--- parts/roles.yaml\n+++ parts/roles.yaml\n")
    assert _applied(advice.patch, org_path).role("desk").staff[0].agents == 3


def test_the_patch_keeps_comments_and_flow_style(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(ORGS / "logistics.yaml", "logistics.yaml")
    original = (tmp_path / "logistics.yaml").read_text(encoding="utf-8")
    org = cxrules.load_org("logistics.yaml")
    patch = staff_patch(org, {"cs_rep": (30, 14, 7), "billing_specialist": (1, 1)})
    assert patch.count("\n-      - {shift:") == 2 and "+      - {shift: day_shift, agents: 30}\n" in patch
    patched = _applied(patch, tmp_path / "logistics.yaml")
    assert [group.agents for group in patched.role("cs_rep").staff] == [30, 14, 7, 12]  # the Double 11 group untouched
    changed = [(a, b) for a, b in zip(original.splitlines(), (tmp_path / "logistics.yaml").read_text(encoding="utf-8").splitlines()) if a != b]
    assert changed == [("      - {shift: day_shift, agents: 24}", "      - {shift: day_shift, agents: 30}"),
                       ("      - {shift: night_shift, agents: 5}", "      - {shift: night_shift, agents: 7}")]
    assert staff_patch(org, {"cs_rep": (24, 14, 5)}) == ""


def test_tickets_when_nobody_is_on_shift_are_a_gap(tmp_path):
    saturday, next_monday = MONDAY.replace(day=8, hour=10), MONDAY.replace(day=10, hour=12)
    paths = _case(tmp_path, _every_six_minutes(MONDAY.replace(hour=9), 2) + [saturday, saturday + timedelta(minutes=90), next_monday])
    advice = advise(*paths, TARGET, jobs=1)
    (desk,) = advice.roles
    assert desk.gaps == (5 * 24 + 10, 5 * 24 + 11)
    assert "role desk gets tickets Sat 10–12 and nobody is on shift" in render_advice(advice)
    assert advice.to_dict()["roles"][0]["gaps"] == ["Sat 10–12"]


def test_a_role_without_staff_is_reported_not_staffed(tmp_path):
    paths = _case(tmp_path, _every_six_minutes(MONDAY.replace(hour=9), 1), change=lambda desk: desk.pop("staff"))
    advice = advise(*paths, TARGET, jobs=1)
    (desk,) = advice.roles
    assert desk.groups == () and desk.before == 0.0 and advice.missing == ["desk"] and advice.patch == ""
    assert "role desk gets 10 tickets and has no staff" in render_advice(advice)


def test_a_burst_needs_more_than_erlang_c_and_the_rounds_add_it(tmp_path):
    """40 tickets at once (Erlang C sees 20 an hour over the two weeks the replay runs): 5 agents leave 35 waiting."""
    advice = advise(*_case(tmp_path, [MONDAY.replace(hour=9)] * 40), TARGET, jobs=1)
    (desk,) = advice.roles
    # 11 agents take the tickets in waves at 0, 12 and 24 minutes: 33 of 40 within 30 minutes; 10 agents only 30
    assert [(g.erlang_c, g.advised) for g in desk.groups] == [(5, 11)] and desk.after == 33 / 40
    assert advice.rounds == 3 and advice.replays == 1 + 3 * 3 and advice.missing == []


def test_processes_in_parallel_give_the_same_advice_as_one(tmp_path):
    paths = _case(tmp_path, [MONDAY.replace(hour=9)] * 40)
    one, many = advise(*paths, TARGET, jobs=1), advise(*paths, TARGET, jobs=3)
    assert one == many and one.rounds > 1


def test_cli_table_json_and_exit_codes(monday, run_cli):
    org, log, mapping = monday
    table = run_cli("staff", org, log, "-m", mapping, "--target", "80% in 30m", "--jobs", "1")
    assert table.exit_code == 0 and "1 → 3" in table.stdout and "+    agents: 3" in table.stdout
    data = run_cli("staff", org, log, "-m", mapping, "--target", "80% in 30m", "-j", "1", "--format", "json", "--patch", "staff.patch")
    assert data.exit_code == 0 and json.loads(data.stdout)["roles"][0]["groups"] == [{"shift": "office", "current": 1, "erlang_c": 3, "advised": 3}]
    assert (org.parent / "staff.patch").read_text(encoding="utf-8") == json.loads(data.stdout)["patch"]
    assert run_cli("staff", org, log, "-m", mapping, "--target", "most of them").exit_code == 2
    assert run_cli("staff", org, log, "-m", mapping, "--target", "80% in 30m", "--mode", "maybe").exit_code == 2
    assert run_cli("staff", org, log.with_name("missing.csv"), "-m", mapping, "--target", "80% in 30m").exit_code == 2


def test_cli_exit_1_names_the_roles_that_miss(tmp_path, run_cli):
    org, log, mapping = _case(tmp_path, _every_six_minutes(MONDAY.replace(hour=9), 1), change=lambda desk: desk.pop("staff"))
    result = run_cli("staff", org, log, "-m", mapping, "--target", "80% in 30m", "--mode", "what-if", "-j", "1")
    assert result.exit_code == 1 and "cxrules: desk still miss 80% in 30m after 1 round" in result.stderr
