"""Generated orgs, valid and adversarial, through load → validate → check → engine.

Invariants: nothing but the documented errors escapes; every ticket ends with exactly one
owner or in the fallback queue; no follow-up fires twice; every SLA deadline lies inside
business hours; `check` reports an overlap exactly where two rules of equal precedence
claim a ticket for different owners; and, on every real date of a year, the engine's router sends a
ticket to the fallback queue exactly where `check`'s analysis of that kind of day reports a gap.
`pytest -m slow` adds a 1,000-org fuzz run; `HYPOTHESIS_PROFILE=fuzz` (tests/conftest.py) makes every property longer.
"""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import event, given, settings, strategies as st

import cxrules
from cxrules.calendars import BusinessCalendar
from cxrules.checks import CheckConfig, CheckContext, run_checks
from cxrules.engine import Engine, FollowUpDue, Resolved, TicketCreated, VirtualClock
from cxrules.routing import TicketClass

from conftest import ROOT
from engine_helpers import local

sys.path.insert(0, str(ROOT / "bench"))
from generate import generate_org  # noqa: E402


ID = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12).map(lambda s: "x" + s)
WEIRD_ID = st.one_of(ID, st.text(min_size=1, max_size=8))  # unicode, spaces, empty-looking ids


def _interval(a: int, b: int) -> str:
    return f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"


@st.composite
def adversarial_orgs(draw) -> dict:
    """A small org with one knob turned to an extreme: deep units, long escalations, dense calendars, odd ids, empty sets."""
    depth = draw(st.integers(1, 60))
    units = [{"id": "u0", "name": "Root"}] + [{"id": f"u{i}", "name": f"Unit {i}", "parent": f"u{i - 1}"} for i in range(1, depth)]
    chain = draw(st.integers(1, 40))
    roles = [{"id": "boss", "name": "Boss", "unit": "u0", "authority": True, "handles": ["c0", "c1"],
              "staff": [{"shift": "office", "agents": 1}]}]
    for i in range(chain):
        roles.append({"id": f"r{i}", "name": f"Role {i}", "unit": f"u{min(i, depth - 1)}", "reports_to": "boss" if i == 0 else f"r{i - 1}",
                      "handles": ["c0", "c1"], "capacity": draw(st.integers(1, 3)),
                      "staff": [{"shift": draw(st.sampled_from(["office", "always"])), "agents": draw(st.integers(1, 3))}]})
    pieces = draw(st.integers(1, 40))
    step = 1440 // (pieces * 2)
    dense = [_interval(k * 2 * step, k * 2 * step + step) for k in range(pieces)]
    odd_id = draw(WEIRD_ID) if draw(st.integers(0, 4)) == 0 else draw(ID)
    data = {
        "apiVersion": "cxrules/v1", "kind": "Organisation",
        "org": {"id": "gen", "name": "Generated", "timezone": draw(st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York"])),
                "calendar": "office", "fallback_queue": "boss", "span_of_control": 50},
        "calendars": [{"id": "office", "hours": {"mon-fri": dense}, "holidays": {"country": "CN"}},
                      {"id": "always", "hours": {"daily": ["00:00-24:00"]}}],
        "units": units, "roles": roles,
        "channels": [{"id": "phone", "name": "Phone", "hours": "always"}] if draw(st.integers(0, 4)) else [],
        "categories": [{"id": "c0", "name": "C0", "children": [{"id": "c1", "name": "C1"}]}],
        "segments": [{"id": odd_id, "name": "Odd"}] if draw(st.booleans()) else [],
        "slas": [{"id": "s", "first_response": draw(st.sampled_from(["1m", "30m", "2h", "72h"])), "resolution": "168h", "warn_at": "50%",
                  "escalation": "chain"}],
        "escalations": [{"id": "chain", "levels": [{"role": f"r{i}", "within": "1m"} for i in range(chain)] + [{"role": "boss"}]}],
        "routing": [{"id": "all", "to": "r0", "precedence": 0}] if draw(st.booleans()) else [],
        "followups": [{"id": "f", "on": "resolved", "within": draw(st.sampled_from(["1h", "3d"])), "by": f"r{chain - 1}",
                       "coverage": {"members": "100%", "others": "50%"}}],
    }
    return data


ARRIVALS = st.lists(st.tuples(st.integers(0, 7 * 24 * 60), st.booleans()), max_size=12)


@given(data=adversarial_orgs(), arrivals=ARRIVALS)
def test_adversarial_orgs_through_the_whole_pipeline(tmp_path_factory, data, arrivals):
    through_the_pipeline(tmp_path_factory, data, arrivals)


@pytest.mark.slow
@settings(max_examples=1000)
@given(data=adversarial_orgs(), arrivals=ARRIVALS)
def test_adversarial_orgs_fuzz(tmp_path_factory, data, arrivals):
    through_the_pipeline(tmp_path_factory, data, arrivals)


def through_the_pipeline(tmp_path_factory, data: dict, arrivals: list) -> None:
    path = tmp_path_factory.mktemp("org") / "org.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = cxrules.validate_path(path)
    for diagnostic in result.diagnostics:
        assert diagnostic.code.startswith("CX") and diagnostic.location.line >= 1
    if result.org is None:
        event("refused by validation: " + ",".join(sorted({d.code for d in result.diagnostics if d.severity.value == "error"})))
        return
    org = result.org
    run_checks(org)
    if not org.channels:
        event("valid, no channel")
        return
    event("through the engine")
    engine = Engine(org, VirtualClock(local(2025, 3, 3, 0)))
    try:
        created = []
        segment = org.segments[0].id if org.segments else "any"
        for number, (minute, member) in enumerate(sorted(arrivals)):
            ticket_id = f"t{number}"
            engine.submit(TicketCreated(ticket_id, category="c1", channel="phone", segment=segment, priority="normal", member=member,
                                        at=local(2025, 3, 3) + timedelta(minutes=minute)))
            created.append(ticket_id)
        decisions = []
        for ticket_id in created[::2]:
            decisions += engine.submit(Resolved(ticket_id))
        decisions += engine.advance(local(2025, 3, 3) + timedelta(days=30))
        for ticket_id in created:
            ticket = engine.ticket(ticket_id)
            assert ticket is not None and ticket.role is not None                     # one owner, or the fallback queue
            assert ticket.fallback == (not org.routing)
            for due in (ticket.first_response_due, ticket.resolution_due):
                if due is not None:                                                    # deadlines fall inside business hours
                    calendar = BusinessCalendar(org.calendar(org.slas[0].calendar))
                    assert calendar.is_open(due - timedelta(seconds=1))
        calls = Counter((x.ticket_id, x.policy) for x in decisions if isinstance(x, FollowUpDue))
        assert all(count == 1 for count in calls.values())                              # no follow-up twice
    finally:
        engine.close()


@settings(max_examples=25)
@given(seed=st.integers(0, 100_000))
def test_check_reports_an_overlap_exactly_where_two_rules_claim_a_ticket(tmp_path_factory, seed):
    data = generate_org(roles=6, categories=10, channels=2, segments=2, rules=12, units=2, seed=seed, overlaps=True)
    path = tmp_path_factory.mktemp("org") / "org.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    org = cxrules.load_org(path)
    context = CheckContext(org)
    claimed = set()
    for channel, space in context.channel_spaces:
        for category, segment, priority, member in itertools.product(space.sets[0], *space.sets[2:]):
            candidates = context.router.candidates(TicketClass(category, channel.id, segment, priority, member))
            top = [rule for rule in candidates if rule.precedence == candidates[0].precedence] if candidates else []
            if len({rule.to for rule in top}) > 1:
                claimed.add((category, channel.id, segment, priority, member))
    findings = run_checks(org, CheckConfig(select=frozenset({"CX402"}))).diagnostics
    reported = set()
    for finding in findings:
        first, second = finding.message.split("`")[1], finding.message.split("`")[3]
        boxes = [context.rule_boxes[first].intersect(context.rule_boxes[second])]
        for box in boxes:
            for space in context.receivable:
                part = box.intersect(space) if box else None
                if part is not None:
                    reported.update(itertools.product(*part.sets))
    # every doubly claimed ticket is reported; what is reported is claimed by two (unless a higher rule took it)
    assert claimed <= reported
    assert all(cell in claimed or _taken_higher(context, cell) for cell in reported)


def _taken_higher(context: CheckContext, cell) -> bool:
    candidates = context.router.candidates(TicketClass(*cell))
    return len({rule.to for rule in candidates if rule.precedence == candidates[0].precedence}) <= 1


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 100_000), minutes=st.lists(st.integers(0, 365 * 1440 - 1), min_size=10, max_size=40))
def test_check_and_the_engine_agree_on_who_owns_a_ticket_on_every_real_date(tmp_path_factory, seed, minutes):
    """Differential: at any moment of a year (public holidays, make-up working days, nights included), the engine's
    router sends a ticket of an open channel to the fallback queue exactly where `check`'s analysis of that kind of
    day (the typical week, or the date's own hours) reports a gap; and the channel is open then for both."""
    data = generate_org(roles=5, categories=6, channels=2, segments=2, rules=10, units=2, seed=seed, catch_all=False, timed=0.5)
    data["calendars"][0]["holidays"] = {"country": "CN"}  # rules `during: office` stop on holidays; `always` channels do not
    path = tmp_path_factory.mktemp("org") / "org.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    org = cxrules.load_org(path)
    zone = ZoneInfo(org.info.timezone)
    context = CheckContext(org, (date(2025, 1, 1), date(2025, 12, 31)))
    kinds = {day: dated for dated, days in context.day_kinds for day in days}
    start = datetime(2025, 1, 1, tzinfo=zone)
    holidays = [datetime(2025, 10, 1, 10, tzinfo=zone), datetime(2025, 1, 26, 10, tzinfo=zone)]  # National Day; a make-up Sunday
    for moment in holidays + [start + timedelta(minutes=minute) for minute in minutes]:
        analysis = kinds.get(moment.date(), context)
        minute_of_week = moment.weekday() * 1440 + moment.hour * 60 + moment.minute
        gaps = {channel.id: regions for channel, regions in analysis.gap_regions}
        for channel, space in analysis.channel_spaces:
            open_now = any(s <= minute_of_week < e for s, e in space.hours.intervals)
            assert open_now == BusinessCalendar(org.calendar(channel.hours or org.info.calendar)).is_open(moment)
            if not open_now:
                continue
            for ticket in itertools.product(space.sets[0], [channel.id], *space.sets[2:]):
                reported = any(all(value in values for value, values in zip(ticket, box.sets))
                               and any(s <= minute_of_week < e for s, e in box.hours.intervals) for box in gaps[channel.id])
                assert context.router.route(TicketClass(*ticket), moment).fallback == reported, (moment, ticket)
