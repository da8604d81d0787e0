"""`cxrules diff`: owner changes over hours, computed with the region algebra of `check`.

The owner of a ticket depends on the hour (rules with `during:`), so a diff that routes
with no time misses changes behind a night-only rule. Each test here states a change and
compares the diff with what the router decides at real moments of an ordinary week.
"""

from __future__ import annotations

import copy
import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

import cxrules
from cxrules.calendars import BusinessCalendar
from cxrules.checks import CheckContext
from cxrules.diff import day_kinds, diff_orgs, owner_moves, render_markdown, render_text
from cxrules.loading import load_file
from cxrules.routing import Router, TicketClass

from conftest import ROOT

TINY = ROOT / "tests/fixtures/tiny.yaml"
MONDAY = datetime(2025, 3, 3)  # a week with no public holiday in China (the fixtures' calendars)


def _org(tmp_path, name: str, change=None):
    data = copy.deepcopy(load_file(TINY)[0].data)
    data["calendars"] += [{"id": "always", "hours": {"daily": ["00:00-24:00"]}},
                          {"id": "night", "hours": {"daily": ["18:00-09:00"]}},
                          {"id": "weekend", "hours": {"sat-sun": ["00:00-24:00"]}}]
    data["channels"] = [{"id": "phone", "name": "Phone", "hours": "always"}]
    data["routing"] = [
        {"id": "night_shift", "to": "manager", "during": "night", "precedence": 20},
        {"id": "complaints", "match": {"category": ["complaint"]}, "to": "desk", "precedence": 10},
        {"id": "everything_else", "to": "desk", "precedence": 0},
    ]
    if change:
        change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return cxrules.load_org(path)


def _rule(data, rule_id):
    return next(rule for rule in data["routing"] if rule["id"] == rule_id)


def test_an_owner_change_behind_a_night_only_rule_is_found_and_says_when(tmp_path):
    """The issue's case: moving the daytime complaints rule changes the owner from 09:00 to 18:00."""
    old = _org(tmp_path, "old.yaml")
    new = _org(tmp_path, "new.yaml", lambda d: _rule(d, "complaints").update(to="manager"))
    details = [c.detail for c in diff_orgs(old, new).changes if c.section == "owners"]
    assert details == ["complaint × any channel × any segment × any priority, daily 09:00–18:00: `desk` → `manager`"]
    ticket = TicketClass("complaint", "phone", "vip", old.info.priorities[0])
    zone = ZoneInfo(old.info.timezone)
    at_ten, at_night = (MONDAY + timedelta(hours=10)).replace(tzinfo=zone), (MONDAY + timedelta(hours=23)).replace(tzinfo=zone)
    assert (Router(old).route(ticket, at_ten).role, Router(new).route(ticket, at_ten).role) == ("desk", "manager")
    assert Router(old).route(ticket, at_night).role == Router(new).route(ticket, at_night).role == "manager"


def _channel_open(org, context):
    calendars = {channel.id: BusinessCalendar(org.calendar(channel.hours)) if channel.hours else None for channel in org.channels}

    def open_(channel, category, moment):
        for item in org.channels:
            if item.id == channel and (item.categories is None or category in item.categories):
                return calendars[channel] is None or calendars[channel].is_open(moment)
        return False

    return open_


def _contains(box, values, minute) -> bool:
    return all(value in values_ for value, values_ in zip(values, box.sets)) and any(s <= minute < e for s, e in box.hours.intervals)


def _assert_matches_the_router(old, new):
    """Every (ticket class, half hour) of a week: the owners differ exactly where the diff says, and as it says."""
    context, moved = owner_moves(old, new)
    zone = ZoneInfo(old.info.timezone)
    old_router, new_router = Router(old), Router(new)
    receives = [_channel_open(org, CheckContext(org)) for org in (old, new)]
    seen = 0
    for minute in range(15, 7 * 1440, 30):
        moment = (MONDAY + timedelta(minutes=minute)).replace(tzinfo=zone)
        for values in itertools.product(*(sorted(v, key=str) for v in context.values)):
            if not any(open_(values[1], values[0], moment) for open_ in receives):
                continue
            ticket = TicketClass(*values)
            was, now = old_router.route(ticket, moment).role, new_router.route(ticket, moment).role
            claimed = [pair for pair, regions in moved.items() if any(_contains(box, values, minute) for box in regions)]
            assert claimed == ([(was, now)] if was != now else []), (values, moment, was, now, claimed)
            seen += was != now
    return seen


def test_owner_changes_match_the_router_at_every_hour(tmp_path):
    def change(data):
        data["channels"].append({"id": "wechat", "name": "WeChat", "hours": "office", "categories": ["complaint", "question"]})
        _rule(data, "night_shift")["during"] = "weekend"                 # nights now stay with the daytime owners
        _rule(data, "complaints").update(to="manager", match={"category": ["repair_quality"], "segment": ["vip"]})
        data["routing"].append({"id": "vip_questions", "match": {"category": ["question"], "segment": ["vip"], "channel": ["wechat"]},
                                "to": "manager", "during": "night", "precedence": 15})
        data["org"]["fallback_queue"] = "manager"
        _rule(data, "everything_else")["during"] = "office"             # out of hours, what no rule takes goes to the fallback

    old, new = _org(tmp_path, "old.yaml"), _org(tmp_path, "new.yaml", change)
    assert _assert_matches_the_router(old, new) > 100
    assert _assert_matches_the_router(new, old) > 100


def test_no_owner_change_when_only_the_wording_changes(tmp_path):
    old = _org(tmp_path, "old.yaml")
    new = _org(tmp_path, "new.yaml", lambda d: d["routing"].reverse())  # same precedences: order within them is irrelevant here
    assert [c for c in diff_orgs(old, new).changes if c.section == "owners"] == []
    assert _assert_matches_the_router(old, new) == 0


def test_the_cost_grows_with_the_rules_not_with_the_product_of_values(tmp_path):
    """40 categories × 30 segments × 10 priorities × 2 channels × 2 = 48,000 classes; the diff never visits them."""
    def many(to):
        def change(data):
            data["categories"] = [{"id": f"c{i}", "name": f"C{i}"} for i in range(40)]
            data["segments"] = [{"id": f"s{i}", "name": f"S{i}"} for i in range(30)]
            data["org"]["priorities"] = [f"p{i}" for i in range(10)]
            data["channels"].append({"id": "wechat", "name": "WeChat", "hours": "office"})
            for role in data["roles"]:
                role["handles"] = [f"c{i}" for i in range(40)]
            data.pop("followups", None)
            data["routing"] = [{"id": "night_shift", "to": "manager", "during": "night", "precedence": 20},
                               {"id": "c7", "match": {"category": ["c7"], "segment": ["s3"]}, "to": to, "precedence": 10},
                               {"id": "everything_else", "to": "desk", "precedence": 0}]
        return change

    old, new = _org(tmp_path, "old.yaml", many("desk")), _org(tmp_path, "new.yaml", many("manager"))
    context, moved = owner_moves(old, new)
    assert list(moved) == [("desk", "manager")]
    assert sorted(context.describe(box) for box in moved[("desk", "manager")]) == [
        "c7 × phone × s3 × any priority, daily 09:00–18:00", "c7 × wechat × s3 × any priority, Mon–Fri 09:00–18:00"]
    calls = []
    original = Router.route
    Router.route = lambda self, *a, **k: calls.append(a) or original(self, *a, **k)
    try:
        diff_orgs(old, new)
    finally:
        Router.route = original
    assert calls == []  # regions, not a walk over ticket classes


def test_the_title_names_the_files_when_both_versions_share_an_id(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    old = _org(tmp_path / "a", "homeapp.yaml")
    new = _org(tmp_path / "b", "homeapp.yaml", lambda d: _rule(d, "complaints").update(to="manager"))
    result = diff_orgs(old, new)
    first_line = render_text(result).splitlines()[0]
    assert first_line.startswith(f"{old.files[0]} (tiny) → {new.files[0]} (tiny):"), first_line
    assert old.files[0] != new.files[0]
    assert render_markdown(result).startswith(f"### Org changes: `{old.files[0]} (tiny)` → `{new.files[0]} (tiny)`")
    assert result.to_dict()["old_file"] == old.files[0]


def test_cli_diff_titles_with_the_file_names(run_cli, tmp_path):
    old = _org(tmp_path, "before.yaml")
    _org(tmp_path, "after.yaml", lambda d: _rule(d, "complaints").update(to="manager"))
    result = run_cli("diff", tmp_path / "before.yaml", tmp_path / "after.yaml")
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert "before.yaml (tiny) → " in first and "after.yaml (tiny): " in first, first
    assert "daily 09:00–18:00: `desk` → `manager`" in result.stdout
    assert old.info.id == "tiny"


ANY = "any category × any channel × any segment × any priority"


@pytest.mark.parametrize("field, expected", [
    ("during", [f"{ANY}, Sat–Sun 09:00–18:00: `desk` → `manager`", f"{ANY}, Mon–Fri 00:00–09:00, 18:00–24:00: `manager` → `desk`"]),
    ("precedence", ["complaint × any channel × any segment × any priority, daily 00:00–09:00, 18:00–24:00: `manager` → `desk`"]),
])
def test_a_rule_that_changes_only_its_hours_or_precedence_moves_owners_in_those_hours(tmp_path, field, expected):
    def change(data):
        if field == "during":
            _rule(data, "night_shift")["during"] = "weekend"  # the manager takes weekends instead of nights
        else:
            _rule(data, "night_shift")["precedence"] = 5      # below complaints: complaints stay with desk at night
    old, new = _org(tmp_path, "old.yaml"), _org(tmp_path, "new.yaml", change)
    assert [c.detail for c in diff_orgs(old, new).changes if c.section == "owners"] == expected
    assert _assert_matches_the_router(old, new) > 0


def _office_org(tmp_path, name, office_to, rest_to):
    """Phone always open; office-hours rule (calendar with China's holidays) and a catch-all."""
    def change(data):
        data["routing"] = [{"id": "office_hours", "to": office_to, "during": "office", "precedence": 20},
                           {"id": "everything_else", "to": rest_to, "precedence": 0}]
    return _org(tmp_path, name, change)


def _owner_at(org, moment):
    return Router(org).route(TicketClass("question", "phone", "vip", org.info.priorities[0]), moment.replace(tzinfo=ZoneInfo(org.info.timezone))).role


NATIONAL_DAY, ORDINARY_WEDNESDAY = datetime(2025, 10, 1, 10), datetime(2025, 10, 15, 10)
MAKE_UP_SUNDAY, ORDINARY_SUNDAY = datetime(2025, 9, 28, 10), datetime(2025, 9, 21, 10)


@pytest.mark.parametrize("new_owners, said, owners_on", [
    # the catch-all moves: nights and weekends, and office hours on holidays (the office rule stops), not on make-up days
    (("desk", "desk"), [f"{ANY}, Mon–Fri 00:00–09:00, 18:00–24:00; Sat–Sun: `manager` → `desk`",
                        f"{ANY}, Mon–Fri 09:00–18:00 on public holidays (CN): `manager` → `desk`",
                        f"except {ANY}, Sat–Sun 09:00–18:00 on make-up working days (CN): `manager` → `desk`"],
     {NATIONAL_DAY: ("manager", "desk"), MAKE_UP_SUNDAY: ("desk", "desk"), ORDINARY_WEDNESDAY: ("desk", "desk")}),
    # the office rule moves: weekdays in office hours and China's make-up weekend days, not holidays
    (("manager", "manager"), [f"{ANY}, Mon–Fri 09:00–18:00: `desk` → `manager`",
                              f"{ANY}, Sat–Sun 09:00–18:00 on make-up working days (CN): `desk` → `manager`",
                              f"except {ANY}, Mon–Fri 09:00–18:00 on public holidays (CN): `desk` → `manager`"],
     {MAKE_UP_SUNDAY: ("desk", "manager"), ORDINARY_SUNDAY: ("manager", "manager"), NATIONAL_DAY: ("manager", "manager")}),
], ids=["catch_all_moves", "office_rule_moves"])
def test_owner_changes_on_holidays_and_make_up_days_are_said_apart(tmp_path, new_owners, said, owners_on):
    old, new = _office_org(tmp_path, "old.yaml", "desk", "manager"), _office_org(tmp_path, "new.yaml", *new_owners)
    assert [c.detail for c in diff_orgs(old, new).changes if c.section == "owners"] == said
    for moment, owners in owners_on.items():                          # and the router agrees on those real dates
        assert (_owner_at(old, moment), _owner_at(new, moment)) == owners, moment


def test_no_day_kinds_without_holidays(tmp_path):
    def change(data):
        for calendar in data["calendars"]:
            calendar.pop("holidays", None)
    old = _org(tmp_path, "old.yaml", change)
    assert day_kinds(old, old) == []
