"""Every follow-up, surge, workflow and escalation path of the three seed orgs, run through the engine."""

from __future__ import annotations

from datetime import timedelta

import pytest

import cxrules
from cxrules.calendars import BusinessCalendar
from cxrules.engine import (AutomationFired, Closed, Escalated, FollowUpScheduled, Refused, Resolved, StateChanged, SurgeActivated,
                            TicketCreated, WorkflowStep)

from conftest import SEED_ORGS
from engine_helpers import local, make_engine

ORGS = {path.stem: cxrules.load_org(path) for path in SEED_ORGS}


def _ticket(org, match, ticket_id, member=None, at=None, customer_id=None):
    """A ticket of the first class the match allows."""
    def pick(allowed, values):
        return sorted(allowed)[0] if allowed is not None else values[0]
    return TicketCreated(ticket_id, customer_id=customer_id, category=pick(match.categories, [c.id for c in org.categories]),
                         channel=pick(match.channels, [c.id for c in org.channels]),
                         segment=pick(match.segments, [s.id for s in org.segments]),
                         priority=pick(match.priorities, list(org.info.priorities)),
                         member=match.member if match.member is not None else (True if member is None else member), at=at)


def _cases(kind):
    return [(name, item.id) for name, org in ORGS.items() for item in getattr(org, kind)]


def _item(name: str, kind: str, item_id: str):
    """The seed org ``name`` and its item of ``kind`` (`followups`, `surges`, …) with ``item_id``."""
    org = ORGS[name]
    return org, next(item for item in getattr(org, kind) if item.id == item_id)


@pytest.mark.parametrize("name,policy_id", _cases("followups"))
def test_every_followup_is_scheduled_outside_quiet_hours_within_its_deadline(name, policy_id):
    org, policy = _item(name, "followups", policy_id)
    engine = make_engine(org, local(2025, 3, 7, 20, 30))  # Friday evening, customers about to rest
    try:
        engine.submit(_ticket(org, policy.match, "F1", member=True))
        assert policy.on in ("resolved", "closed")
        trigger = Resolved("F1") if policy.on == "resolved" else Closed("F1")
        if policy.on == "closed":
            engine.submit(Resolved("F1"))
        scheduled = [x for x in engine.submit(trigger) if isinstance(x, FollowUpScheduled) and x.policy == policy_id]
        assert len(scheduled) == 1
        call = scheduled[0]
        assert call.by == policy.by and call.due == call.at + policy.within
        if policy.quiet_hours:
            assert not BusinessCalendar(org.calendar(policy.quiet_hours)).is_open(call.call_at)
        assert call.call_at <= call.due, "the seed orgs keep every promise (checked statically by CX701)"
    finally:
        engine.close()


@pytest.mark.parametrize("name,surge_id", _cases("surges"))
def test_every_surge_switches_its_team_on_at_the_threshold(name, surge_id):
    org, surge = _item(name, "surges", surge_id)
    engine = make_engine(org, local(2025, 3, 3, 10))
    try:
        activated = []
        step = surge.window / (surge.threshold + 1)
        for i in range(surge.threshold):
            decisions = engine.submit(_ticket(org, surge.match, f"S{i}", at=local(2025, 3, 3, 10) + step * i))
            activated += [x for x in decisions if isinstance(x, SurgeActivated)]
        assert [(x.surge, x.team, x.count) for x in activated] == [(surge.id, surge.activate, surge.threshold)]
    finally:
        engine.close()


@pytest.mark.parametrize("name,workflow_id", _cases("workflows"))
def test_every_workflow_walks_its_states_and_refuses_a_skip(name, workflow_id):
    org, workflow = _item(name, "workflows", workflow_id)
    engine = make_engine(org, local(2025, 3, 3, 10))
    try:
        engine.submit(_ticket(org, workflow.match, "W1"))
        if engine.ticket("W1").workflow != workflow.id:
            pytest.skip(f"an earlier workflow of {name} matches the same tickets")
        states = {s.id: s for s in workflow.states}
        current = workflow.initial
        skip = next((s.id for s in workflow.states if s.id not in states[current].next and s.id != current), None)
        if skip:
            assert isinstance(engine.submit(WorkflowStep("W1", state=skip))[0], Refused)
        visited = 1
        while states[current].next:
            current = states[current].next[0]
            assert isinstance(engine.submit(WorkflowStep("W1", state=current))[0], StateChanged)
            visited += 1
        assert visited >= 2
    finally:
        engine.close()


def _ticket_for_sla(org, sla, ticket_id):
    """A ticket whose first matching SLA is ``sla`` (None if earlier SLAs take all it matches)."""
    import itertools

    values = ([c.id for c in org.categories], [c.id for c in org.channels], [s.id for s in org.segments], list(org.info.priorities),
              [True, False])
    for category, channel, segment, priority, member in itertools.product(*values):
        first = next((s for s in org.slas if s.match.matches(category, channel, segment, priority, member)), None)
        if first is sla:
            return TicketCreated(ticket_id, category=category, channel=channel, segment=segment, priority=priority, member=member)
    return None


@pytest.mark.parametrize("name,sla_id", [(n, s.id) for n, org in ORGS.items() for s in org.slas if s.escalation])
def test_every_sla_breach_walks_its_escalation_path_to_the_authority(name, sla_id):
    org = ORGS[name]
    sla = org.sla(sla_id)
    ticket = _ticket_for_sla(org, sla, "E1")
    if ticket is None:
        pytest.skip(f"earlier SLAs of {name} take every ticket `{sla_id}` matches")
    engine = make_engine(org, local(2025, 3, 3, 10))
    try:
        engine.submit(ticket)
        if engine.ticket("E1").sla != sla.id:
            pytest.skip(f"an earlier SLA of {name} matches the same tickets")
        escalations = [x for x in engine.advance(local(2025, 3, 3, 10) + timedelta(days=30)) if isinstance(x, Escalated)]
        path, roles = org.escalation(sla.escalation), []
        while path:
            roles += [level.role for level in path.levels]
            path = org.escalation(path.then) if path.then else None
        assert [x.role for x in escalations] == roles
        assert org.role(escalations[-1].role).authority
    finally:
        engine.close()


@pytest.mark.parametrize("name,automation_id", _cases("automations"))
def test_every_automation_fires_on_its_pattern_and_not_before(name, automation_id):
    """A repeat complainer is caught on the count-th ticket within the window and not before; a customer back within the
    window reopens the resolved ticket, and one back after it does not."""
    org, automation = _item(name, "automations", automation_id)
    trigger, start = automation.trigger, local(2025, 3, 3, 10)
    engine = make_engine(org, start)

    def fired(decisions):
        return [x for x in decisions if isinstance(x, AutomationFired) and x.automation == automation_id]

    try:
        if trigger.count is not None:
            step = trigger.within / (trigger.count + 1)
            seen = [fired(engine.submit(_ticket(org, automation.conditions.match, f"A{n}", at=start + step * n, customer_id="C")))
                    for n in range(trigger.count)]
            assert [len(x) for x in seen] == [0] * (trigger.count - 1) + [1]
            ticket = engine.ticket(f"A{trigger.count - 1}")
            actions = automation.actions
            assert set(actions.tags) <= ticket.tags and ticket.role == (actions.assign or ticket.role)
            assert ticket.priority == (actions.priority or ticket.priority)
        else:
            assert trigger.following == "resolved" and automation.actions.reopen == "earlier"
            engine.submit(_ticket(org, automation.conditions.match, "B0", at=start, customer_id="C"))
            engine.submit(Resolved("B0", at=start + timedelta(hours=2)))
            (firing,) = fired(engine.submit(_ticket(org, automation.conditions.match, "B1", at=start + timedelta(days=1), customer_id="C")))
            assert firing.matched[0].startswith("B0 at") and engine.ticket("B0").status != "resolved"
            engine.submit(Resolved("B0", at=start + timedelta(days=1, hours=1)))
            late = start + timedelta(days=1, hours=1) + trigger.within + timedelta(minutes=1)
            assert fired(engine.submit(_ticket(org, automation.conditions.match, "B2", at=late, customer_id="C"))) == []
    finally:
        engine.close()


@pytest.mark.parametrize("name,campaign_id", _cases("campaigns"))
def test_every_campaign_switches_its_surge_teams_on_for_its_dates(name, campaign_id):
    org, campaign = _item(name, "campaigns", campaign_id)
    first = min(campaign.dates)
    for surge in (s for s in org.surges if s.id in campaign.surges):
        during = make_engine(org, local(first.year, first.month, first.day, 10))
        before = make_engine(org, local(first.year, first.month, first.day, 10) - timedelta(days=3))
        try:
            during.submit(_ticket(org, surge.match, "D1", at=local(first.year, first.month, first.day, 10)))
            before.submit(_ticket(org, surge.match, "D1", at=local(first.year, first.month, first.day, 10) - timedelta(days=3)))
            assert during.ticket("D1").role == surge.activate != before.ticket("D1").role
        finally:
            during.close()
            before.close()
