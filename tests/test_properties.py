"""Generated orgs, valid and adversarial, through load → validate → check → engine.

Invariants: nothing but the documented errors escapes; every ticket ends with exactly one
owner or in the fallback queue; no follow-up fires twice; every SLA deadline lies inside
business hours; `check` reports an overlap exactly where two rules of equal precedence
claim a ticket for different owners; and, on every real date of a year, the engine's router sends a
ticket to the fallback queue exactly where `check`'s analysis of that kind of day reports a gap; and, through the
engine over generated and seed orgs, every ticket it queues with nobody on shift and every escalation to a role nobody
staffs then lies in a region `check` reports, with that date when only that date has it.
`pytest -m slow` adds a 1,000-org fuzz run; `HYPOTHESIS_PROFILE=fuzz` (tests/conftest.py) makes every property longer
(the differential ones 25 times).
"""

from __future__ import annotations

import itertools
import random
import re
import sys
from collections import Counter
from dataclasses import astuple
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import event, given, settings, strategies as st

import cxrules
from cxrules.calendars import BusinessCalendar, WeekSet
from cxrules.checks import CheckConfig, CheckContext, run_checks
from cxrules.checks.escalation import off_shift
from cxrules.checks.staffing import owners_off_shift, unstaffed_hours
from cxrules.engine import Engine, Escalated, Fallback, FollowUpDue, Queued, Resolved, TicketCreated, VirtualClock
from cxrules.routing import TicketClass

from conftest import ROOT, SEED_ORGS, examples
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


@settings(max_examples=examples(15), deadline=None)
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


SHIFTS = {"office": {"mon-fri": ["08:00-20:00"], "sat": ["09:00-17:00"]}, "early": {"mon-fri": ["07:00-13:00"]},
          "late": {"daily": ["12:00-23:00"]}, "always": {"daily": ["00:00-24:00"]}}


def staffed_org(seed: int) -> dict:
    """A generated org whose roles work different shifts (some stop on China's public holidays, some work make-up days),
    with an SLA whose escalation path climbs through them, and a campaign (618 and Double 11) with rules and extra staff
    of its own: tickets queue with nobody on shift and levels fire off shift."""
    rng = random.Random(seed)
    data = generate_org(roles=5, categories=6, channels=2, segments=2, rules=10, units=2, seed=seed, catch_all=False, timed=0.5)
    data["calendars"] = [{"id": name, "hours": hours, **({"holidays": {"country": "CN"}} if name in ("office", "early") else {})}
                         for name, hours in SHIFTS.items()]
    for role in data["roles"]:
        role["staff"] = [{"shift": rng.choice(list(SHIFTS)), "agents": 1}]
    data["roles"][0]["authority"] = True
    data["slas"] = [{"id": "standard", "first_response": "30m", "resolution": "8h", "calendar": rng.choice(["office", "always"]),
                     "escalation": "climb"}]
    data["escalations"] = [{"id": "climb", "levels": [{"role": "r3", "within": "1h"}, {"role": "r1", "within": "2h"}, {"role": "r0"}]}]
    data["surges"] = [{"id": "wave", "match": {"category": [data["categories"][0]["id"]]}, "threshold": 10_000, "window": "1h",
                       "activate": "r4"}]  # switched on by the campaign only
    data["campaigns"] = [{"id": "festival", "dates": ["2025-06-16/2025-06-20", "2025-11-01/2025-11-12"],  # 618 and Double 11
                          "surges": ["wave"]}]
    for rule in rng.sample(data["routing"], 2):
        rule["during"] = "festival"
    data["roles"][rng.randrange(1, 5)]["staff"].append({"shift": rng.choice(list(SHIFTS)), "agents": 1, "during": "festival"})
    return data


def _holds(hours, moment: datetime) -> bool:
    minute = moment.weekday() * 1440 + moment.hour * 60 + moment.minute
    return any(start <= minute < end for start, end in hours.intervals)


def _on_shift(org, calendars, role: str, moment: datetime) -> bool:
    return any(calendars[group.shift].is_open(moment) for group in org.role(role).staff)


@settings(max_examples=examples(30), deadline=None)
@given(seed=st.integers(0, 100_000), minutes=st.lists(st.integers(0, 365 * 1440 - 1), min_size=10, max_size=30),
       picks=st.randoms(use_true_random=False))
def test_whatever_the_engine_does_off_shift_on_a_real_date_check_has_reported(tmp_path_factory, seed, minutes, picks):
    path = tmp_path_factory.mktemp("org") / "org.yaml"
    path.write_text(yaml.safe_dump(staffed_org(seed), sort_keys=False), encoding="utf-8")
    engine_agrees_with_check(cxrules.load_org(path), minutes, picks)


@pytest.mark.parametrize("path", SEED_ORGS, ids=lambda p: p.stem)
@settings(max_examples=examples(8), deadline=None)
@given(minutes=st.lists(st.integers(0, 365 * 1440 - 1), min_size=10, max_size=30), picks=st.randoms(use_true_random=False))
def test_the_seed_orgs_run_as_check_says_on_every_real_date(path, minutes, picks):
    engine_agrees_with_check(cxrules.load_org(path), minutes, picks)


def engine_agrees_with_check(org, minutes: list[int], picks) -> None:
    """Differential, through the engine: over a year of moments (holidays, make-up days, nights), a ticket the engine
    sends to the fallback queue, queues with nobody of its role on shift, or escalates to a role with nobody on shift is in
    a region `check` reports (the typical week's or that date's) under the finding's code and subject; and a ticket of an
    owner `check` reports off shift then is queued by the engine with nobody on shift."""
    zone = ZoneInfo(org.info.timezone)
    horizon = (date(2025, 1, 1), date(2026, 2, 28))  # the year's tickets, and the escalations of its last ones
    context = CheckContext(org, horizon)
    kinds = {day: dated for dated, days in context.day_kinds for day in days}
    findings = run_checks(org, CheckConfig(horizon=horizon)).diagnostics
    calendars = {c.id: BusinessCalendar(c) for c in org.calendars}
    start = datetime(2025, 1, 1, tzinfo=zone)
    holidays = {datetime(2025, 10, day, hour, 30, tzinfo=zone) for day in (1, 2) for hour in (8, 12, 16, 21)}  # National Day
    make_up_days = {datetime(2025, 1, 26, hour, 30, tzinfo=zone) for hour in (7, 10, 19)}                     # a working Sunday
    campaign = {datetime(2025, 11, day, hour, 30, tzinfo=zone) for day in (7, 8) for hour in (8, 12, 21)}      # Double 11
    moments = sorted({start + timedelta(minutes=minute) for minute in minutes} | holidays | make_up_days | campaign)
    engine = Engine(org, VirtualClock(moments[0]))
    escalations: list[tuple[Escalated, str]] = []
    try:
        for number, moment in enumerate(moments):
            escalations += escalated_by(engine, engine.advance(moment))
            analysis = kinds.get(moment.date(), context)
            channel, space = picks.choice(analysis.channel_spaces)
            if not calendars[channel.hours or org.info.calendar].is_open(moment):
                continue  # a closed channel receives nothing
            category, segment, priority, member = (picks.choice(sorted(values, key=str)) for values in (space.sets[0], *space.sets[2:]))
            ticket = TicketClass(category, channel.id, segment, priority, member)
            decisions = engine.submit(TicketCreated(f"t{number}", category=category, channel=channel.id, segment=segment,
                                                    priority=priority, member=member, at=moment))
            escalations += escalated_by(engine, decisions)
            route = context.router.route(ticket, moment, engine.surges.active(moment))
            if route.surge is not None:  # a surge team's, switched on by a campaign: CX716's business
                assert engine.ticket(f"t{number}").role == route.role
                if any(isinstance(x, Queued) and x.reason == "nobody of the role is on shift" for x in decisions):
                    event("queued at a campaign's surge team with nobody on shift")
                    campaign = next(c for c in org.campaigns if route.surge.id in c.surges and moment.date() in c.dates)
                    assert_reported(findings, ("CX716",), campaign.id, moment, False)
                continue
            if any(isinstance(x, Fallback) for x in decisions):
                assert route.fallback, (moment, ticket)
                gaps = lambda analysis: [box for c, boxes in analysis.gap_regions if c.id == channel.id for box in boxes]  # noqa: E731
                assert_reported(findings, ("CX401", "CX406"), channel.id, moment, _in_regions(gaps(context), ticket, moment))
                event("fallback queue")
                continue
            nobody = any(isinstance(x, Queued) and x.reason == "nobody of the role is on shift" for x in decisions)
            assert route.rule is not None and engine.ticket(f"t{number}").role == route.role
            owned = (route.rule.id, route.role, channel.id)
            channel_unstaffed = _holds(unstaffed_hours(analysis, channel), moment)
            owner_off = _holds(owners_off_shift(analysis).get(owned, WeekSet()), moment)
            assert nobody == (channel_unstaffed or owner_off), (moment, ticket, route.role)
            event("queued with nobody on shift" if nobody else "assigned or queued behind busy agents")
            if channel_unstaffed:
                assert_reported(findings, ("CX711",), channel.id, moment, _holds(unstaffed_hours(context, channel), moment))
            if owner_off:
                event("queued while others serve the channel" + (" (on a date only)" if moment.date() in kinds else ""))
                assert_reported(findings, ("CX715",), route.rule.id, moment,
                                _holds(owners_off_shift(context).get(owned, WeekSet()), moment))
        escalations += escalated_by(engine, engine.advance(moments[-1] + timedelta(days=30)))
    finally:
        engine.close()
    slas = {sla.id: sla for sla in org.slas}
    for escalated, sla_id in escalations:
        minute = (escalated.at - timedelta(minutes=1)).astimezone(zone)  # the business minute whose end fired the level
        if _on_shift(org, calendars, escalated.role, minute):
            event("escalated to a role on shift")
            continue
        event("escalated to a role nobody is on shift for" + (" (on a date only)" if minute.date() in kinds else ""))
        analysis = kinds.get(minute.date(), context)
        assert _holds(off_shift(analysis, slas[sla_id].calendar, escalated.role), minute), (escalated, minute)
        assert_reported(findings, ("CX504",), escalated.path, minute, _holds(off_shift(context, slas[sla_id].calendar, escalated.role), minute))


DATES = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?: to (\d{2})-(\d{2}))?")


def named_dates(message: str) -> set[date]:
    """The dates a dated finding names (`on 2025-10-01 to 10-07, 2026-01-01: ...`)."""
    days = set()
    for year, month, day, to_month, to_day in DATES.findall(message):
        first = date(int(year), int(month), int(day))
        last = date(int(year), int(to_month), int(to_day)) if to_month else first
        days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return days


def assert_reported(findings, codes: tuple[str, ...], subject: str, moment: datetime, in_typical_week: bool) -> None:
    """A finding of one of ``codes`` about ``subject`` covers ``moment``: one about the typical week when the typical week
    has the problem then, else one that names the moment's date."""
    about = [f for f in findings if f.code in codes and f.subject == subject]
    if in_typical_week:
        assert any(not named_dates(f.message) for f in about), (codes, subject, moment, [f.message for f in about])
    else:
        assert any(moment.date() in named_dates(f.message) for f in about), (codes, subject, moment, [f.message for f in about])


def _in_regions(boxes, ticket: TicketClass, moment: datetime) -> bool:
    return any(all(value in values for value, values in zip(astuple(ticket), box.sets)) and _holds(box.hours, moment) for box in boxes)


def escalated_by(engine: Engine, decisions) -> list[tuple[Escalated, str]]:
    """The escalations among ``decisions``, each with the id of the SLA whose clock fired it."""
    return [(x, engine.ticket(x.ticket_id).sla) for x in decisions if isinstance(x, Escalated)]
