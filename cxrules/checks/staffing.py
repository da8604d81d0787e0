"""Staffing coverage: open channels nobody serves, capacity below the floor, targets without staff or out of the calendar's reach."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Iterator

from ..calendars import WeekSet
from ..regions import uncovered
from ..diagnostics import Severity
from ..model import WorkingDays, format_duration
from . import CheckContext, Finding, describe_dates, describe_times, on_dates, register


def serving_roles(context: CheckContext, channel) -> list[tuple[str, WeekSet]]:
    """Roles that own tickets from this channel, each with the hours its rule applies.

    A rule serves the channel when it can match something the channel receives; tickets
    nobody routes (the fallback queue's) are the routing-gap check's business.
    """
    space = dict((c.id, box) for c, box in context.channel_spaces).get(channel.id)
    if space is None:
        return []
    rules, boxes, order = context.indexed_rules, context.rule_index.boxes, context.rule_order
    places = sorted(context.channel_rules[channel.id], key=lambda place: order[rules[place].id])  # in file order, as reports list them
    return [(rules[place].to, boxes[place].hours & space.hours) for place in places]


def unstaffed_hours(context: CheckContext, channel) -> WeekSet:
    """Hours the channel is open and nobody who serves it is on shift."""
    return context.remember(_unstaffed_hours)[channel.id]


def _unstaffed_hours(context: CheckContext) -> dict[str, WeekSet]:
    """``unstaffed_hours`` of every channel, found once per context: CX711 asks it twice, CX715 once more."""
    unstaffed = {}
    for channel in context.org.channels:
        staffed = WeekSet()
        for role, hours in serving_roles(context, channel):
            staffed = staffed | (context.role_hours(role) & hours)
        unstaffed[channel.id] = context.hours(channel.hours) - staffed
    return unstaffed


@register("CX711", "channel-unstaffed", Severity.ERROR)
def channel_unstaffed(context: CheckContext) -> Iterator[Finding]:
    """Hours in which a channel is open but no role that serves it has anyone on shift.

    Like a schedule gap in an on-call rota: tickets arrive, nobody is there to take them,
    and customers wait on a channel the centre says is open: an error.

    Failing: WeChat open `daily: ["08:00-22:00"]`, its roles staffed `mon-fri: ["09:00-18:00"]`.

    Passing: an evening and a weekend shift for one of the roles that serve WeChat.

    Real dates count too: a channel open on public holidays whose people's shifts stop then
    is reported with the dates (`check --from/--to`).
    """
    for channel in context.org.channels:
        where = channel.source.at("hours") if channel.source.document.get(channel.source.path + ("hours",)) else channel.source.at("id")
        for days, times in on_dates(context, partial(unstaffed_hours, channel=channel)):
            yield Finding(f"channel `{channel.id}` is open on {describe_dates(days)} at {describe_times(times)} but nobody who serves it "
                          "is on shift then", where, hint="add shifts that work on those dates, or close the channel then",
                          subject=channel.id)
        gap = unstaffed_hours(context, channel)
        if gap:
            yield Finding(f"channel `{channel.id}` is open but nobody who serves it is on shift: {gap.describe()}",
                          channel.source.at("hours") if channel.source.document.get(channel.source.path + ("hours",)) else channel.source.at("id"),
                          hint="add shifts to a role that serves the channel, or shorten its opening hours", subject=channel.id)


@register("CX715", "class-owner-off-shift", Severity.WARNING)
def class_owner_off_shift(context: CheckContext) -> Iterator[Finding]:
    """Hours in which a channel is open and staffed, but the role that owns some of its tickets has nobody on shift.

    The channel as a whole looks covered (CX711 is quiet), yet the tickets a rule sends to
    a role off shift wait in its queue: phone complaints at 08:30 for a complaint team that
    starts at 09:00, while the technical team that does not take them is on the phone.
    Ownership follows the routing precedence, as the engine routes.

    Failing: phone open 08:00–20:00 and served by a technical team on 08:00–20:00; complaints
    by phone go to reps on 09:00–18:00.

    Passing: the reps' shift covers the phone's hours, or complaints go to a role that does.

    Real dates count too: reps whose shifts stop on public holidays while the phone and the
    technical team work on are reported with the dates (`check --from/--to`).
    """
    rules = {rule.id: rule for rule in context.org.routing}
    hint = "add a shift to `{owner}` for those hours, or route those tickets then to a role on shift"
    for key, gap in context.remember(owners_off_shift).items():
        rule_id, owner, channel_id = key
        yield Finding(f"`{channel_id}` tickets that rule `{rule_id}` sends to `{owner}` arrive {gap.describe()} "
                      f"while nobody of `{owner}` is on shift (others who serve `{channel_id}` are)",
                      rules[rule_id].source.at("to"), hint=hint.format(owner=owner), subject=rule_id)
    dated_keys = {key for dated, _ in context.day_kinds for key in dated.remember(owners_off_shift)}
    for key in sorted(dated_keys):
        rule_id, owner, channel_id = key
        for days, times in on_dates(context, partial(_owner_off_shift, key=key)):
            yield Finding(f"`{channel_id}` tickets that rule `{rule_id}` sends to `{owner}` arrive on {describe_dates(days)} at "
                          f"{describe_times(times)} while nobody of `{owner}` is on shift (others who serve `{channel_id}` are)",
                          rules[rule_id].source.at("to"), hint=hint.format(owner=owner), subject=rule_id)


def _owner_off_shift(context: CheckContext, key: tuple[str, str, str]) -> WeekSet:
    return context.remember(owners_off_shift).get(key, WeekSet())


def owners_off_shift(context: CheckContext) -> dict[tuple[str, str, str], WeekSet]:
    """(rule id, owner, channel id) → hours the channel is open and someone who serves it is on shift, but nobody of the
    owner the rule sends its tickets to (only the tickets the rule takes after the rules tried before it count)."""
    found: dict[tuple[str, str, str], WeekSet] = {}
    for channel, space in context.channel_spaces:
        open_hours = space.hours - unstaffed_hours(context, channel)  # hours with nobody at all are CX711's
        off_shift: dict[str, WeekSet] = {}
        for place in context.channel_rules[channel.id]:  # only the rules that take something the channel receives
            rule, box = context.indexed_rules[place], context.rule_index.boxes[place]
            if rule.to not in off_shift:
                off_shift[rule.to] = open_hours - context.role_hours(rule.to)
            part = box.intersect(space.replace(len(space.sets), off_shift[rule.to])) if off_shift[rule.to] else None
            if part is None:
                continue  # its owner is on shift whenever the channel is staffed, or the rule takes nothing then
            owned = uncovered(part, context.earlier_boxes(rule, part))
            gap = WeekSet()
            for region in owned:  # what is left to this rule after the rules tried before it: its own tickets
                gap = gap | region.hours
            if gap:
                key = (rule.id, rule.to, channel.id)
                found[key] = found.get(key, WeekSet()) | gap
    return found


def surge_team_off_shift(context: CheckContext, campaign_id: str, surge_id: str) -> WeekSet:
    """Hours a campaign's surge team gets tickets (the campaign runs, a channel that receives the surge's tickets is open)
    with nobody of the team on shift; in a typical week, with no campaign, none."""
    surge = next(s for s in context.org.surges if s.id == surge_id)
    box = context.box(surge.match, WeekSet.full())
    arriving = WeekSet()
    for _, space in context.channel_spaces:
        if box is not None and box.intersect(space) is not None:
            arriving = arriving | space.hours
    return (arriving & context.hours(campaign_id)) - context.role_hours(surge.activate)


@register("CX716", "campaign-surge-team-off-shift", Severity.ERROR)
def campaign_surge_team_off_shift(context: CheckContext) -> Iterator[Finding]:
    """A campaign switches a surge team on while nobody of the team is on shift.

    For the whole campaign the surge rule's tickets go to its team, whatever the routing
    says; at hours the channels receive them and the team has no shift, they wait in its
    queue: Double 11 complaints at 22:00 for a surge team that works days.

    Failing: `campaigns: [{id: double_11, dates: [2025-11-01/2025-11-12], surges: [wave]}]`, the
    phone open 08:00–22:00, the surge team on `office` (09:00–18:00).

    Passing: an evening shift for the surge team (or one `during: double_11`), or phone hours
    the team covers.
    """
    for campaign in context.org.campaigns:
        for surge_id in campaign.surges:
            surge = next(s for s in context.org.surges if s.id == surge_id)
            for days, times in on_dates(context, partial(surge_team_off_shift, campaign_id=campaign.id, surge_id=surge_id)):
                yield Finding(f"campaign `{campaign.id}` sends surge `{surge_id}`'s tickets to `{surge.activate}` on {describe_dates(days)} "
                              f"at {describe_times(times)}, when nobody of `{surge.activate}` is on shift",
                              campaign.source.at("surges", campaign.surges.index(surge_id)),
                              hint=f"give `{surge.activate}` a shift for those hours (a staff group `during: {campaign.id}` will do)",
                              subject=campaign.id)


@register("CX712", "capacity-below-floor", Severity.WARNING)
def capacity_below_floor(context: CheckContext) -> Iterator[Finding]:
    """Hours in which a channel's staffed capacity is above zero but below `org.capacity_floor`.

    Capacity is agents on shift times each role's `capacity`, summed over the roles that
    serve the channel. (Hours with no one at all are reported by CX711.)

    Failing: `capacity_floor: 4`, one agent of capacity 2 on the evening shift.

    Passing: two such agents, or a lower floor.
    """
    floor = context.org.info.capacity_floor
    if floor <= 1:
        return
    for channel in context.org.channels:
        open_hours = context.hours(channel.hours)
        roles: dict[str, WeekSet] = {}
        for role, hours in serving_roles(context, channel):
            roles[role] = roles.get(role, WeekSet()) | hours
        groups = [(context.hours(group.shift) & hours, group.agents * context.org.role(role).capacity)
                  for role, hours in roles.items() for group in context.org.role(role).staff]
        points = sorted({p for hours, _ in groups for span in hours.intervals for p in span} | {p for span in open_hours.intervals for p in span})
        short = []
        for start, end in zip(points, points[1:]):
            piece = WeekSet(((start, end),))
            if not (piece & open_hours):
                continue
            capacity = sum(amount for hours, amount in groups if hours & piece)
            if 0 < capacity < floor:
                short.append((start, end))
        if short:
            yield Finding(f"channel `{channel.id}` can take fewer than {floor} tickets at once: {WeekSet.of(short).describe()}",
                          channel.source.at("id"), hint="add agents on those shifts, or lower `org.capacity_floor`", subject=channel.id)


@register("CX713", "role-unstaffed", Severity.ERROR)
def role_unstaffed(context: CheckContext) -> Iterator[Finding]:
    """A role that receives tickets has no `staff`.

    Routing targets, the fallback queue, hand-off receivers, follow-up callers, surge
    teams and the roles automations assign to all need people. (Escalation levels are checked by CX504.)

    Failing::

        roles: [{id: desk, name: Desk, unit: front}]
        routing: [{id: all, to: desk, precedence: 0}]

    Passing::

        roles: [{id: desk, name: Desk, unit: front, staff: [{shift: office, agents: 3}]}]
    """
    org = context.org
    needs = {org.info.fallback_queue: "the fallback queue"}
    for rule in org.routing:
        needs.setdefault(rule.to, f"the target of routing rule `{rule.id}`")
    for handoff in org.handoffs:
        needs.setdefault(handoff.to_role, f"the receiver of hand-off `{handoff.id}`")
    for followup in org.followups:
        needs.setdefault(followup.by, f"the caller of follow-up `{followup.id}`")
    for surge in org.surges:
        needs.setdefault(surge.activate, f"the team of surge rule `{surge.id}`")
    for automation in org.automations:
        if automation.actions.assign:
            needs.setdefault(automation.actions.assign, f"where automation `{automation.id}` assigns tickets")
    for role in org.roles:
        if role.id in needs and not role.staff:
            yield Finding(f"role `{role.id}` is {needs[role.id]} but has no staff", role.source.at("id"),
                          hint="add `staff:` with shifts and agent counts", subject=role.id)


REACH = timedelta(days=366)
"""How far ahead a target may fall; the engine's calendars look no further than twice that."""


@register("CX714", "sla-target-out-of-reach", Severity.ERROR)
def sla_target_out_of_reach(context: CheckContext) -> Iterator[Finding]:
    """An SLA target its calendar cannot reach within a year.

    Business time counts only the calendar's open hours, so a target that is short in
    hours can lie years ahead on a calendar that is seldom open (`8784h` on a calendar
    open one minute a week). The engine gives such a ticket no deadline at all; this
    finding says so beforehand, with the elapsed time the target stands for.

    Failing (one open hour a week: 100 business hours are about two years)::

        calendars: [{id: rare, hours: {mon: ["09:00-10:00"]}}]
        slas: [{id: standard, resolution: 100h, calendar: rare}]

    Passing::

        calendars: [{id: office, hours: {mon-fri: ["09:00-18:00"]}}]
        slas: [{id: standard, resolution: 100h, calendar: office}]
    """
    for sla in context.org.slas:
        week = context.hours(sla.calendar)
        open_days = week.days_open()
        for target in ("first_response", "resolution"):
            duration = getattr(sla, target)
            if duration is None:
                continue
            if isinstance(duration, WorkingDays):
                weeks = duration.count / open_days if open_days else float("inf")
            else:
                weeks = duration.total_seconds() / 60 / week.minutes if week.minutes else float("inf")
            if weeks * 7 > REACH.days:
                reach = "never" if weeks == float("inf") else f"about {weeks * 7 / 365:.1f} years later"
                yield Finding(
                    f"SLA `{sla.id}` {target.replace('_', ' ')} `{format_duration(duration, days=False)}` falls {reach} on calendar "
                    f"`{sla.calendar}`, open {format_duration(timedelta(minutes=week.minutes), days=False)} a week",
                    sla.source.at(target), hint=f"give a target the calendar reaches within {REACH.days} days, or use a calendar open longer",
                    subject=sla.id)
