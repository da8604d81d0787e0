"""Routing: tickets nobody owns, tickets two owners claim, rules that can never fire."""

from __future__ import annotations

from typing import Iterator, Optional

from ..calendars import WeekSet
from ..diagnostics import Related, Severity
from ..model import RoutingRule
from ..regions import Box, is_covered, uncovered
from . import CheckContext, Finding, describe_dates, describe_times, regions_on_dates, register


@register("CX401", "routing-gap", Severity.ERROR)
def routing_gap(context: CheckContext) -> Iterator[Finding]:
    """Tickets a channel can receive while open that no routing rule owns.

    Every class of ticket (category × channel × segment × priority) a channel can receive
    must be matched by some rule at every hour the channel is open; otherwise the ticket
    lands in the fallback queue. The finding names the smallest regions that are missing.

    Failing (WeChat is open at weekends but the only rule runs on office hours)::

        channels: [{id: wechat, name: WeChat, hours: always}]
        routing:
          - {id: complaints, match: {category: [complaint]}, to: desk, during: office, precedence: 10}

    Passing (a catch-all rule with low precedence owns everything else)::

        routing:
          - {id: complaints, match: {category: [complaint]}, to: desk, during: office, precedence: 10}
          - {id: everything_else, to: duty_desk, precedence: 0}
    """
    fallback = context.org.info.fallback_queue
    for channel, regions in context.gap_regions:
        for region in regions:
            yield Finding(
                f"no routing rule owns {context.describe(region)}", channel.source.at("id"),
                hint=f"add a rule for these tickets or a catch-all rule with a low precedence; until then they go to the fallback queue `{fallback}`",
                subject=channel.id)


@register("CX406", "routing-gap-on-dates", Severity.ERROR)
def routing_gap_on_dates(context: CheckContext) -> Iterator[Finding]:
    """Tickets no routing rule owns on some real dates only: public holidays, make-up working days.

    The typical week can be gap-free while a date is not: a rule limited to working days
    (`during:` a calendar with public holidays) leaves a channel that stays open on holidays
    without an owner then, and the engine sends those tickets to the fallback queue. Every
    date of the horizon (`check --from/--to`, default twelve months from today) is looked at,
    one analysis per kind of day; the finding names the dates.

    Failing: phone open every day; complaints routed only `during: office` (with China's
    public holidays) and no catch-all, so on 1 October phone complaints have no owner.

    Passing: a catch-all rule, or the complaint rule on a calendar that keeps holidays open.
    """
    fallback = context.org.info.fallback_queue
    channels = {channel.id: channel for channel in context.org.channels}
    gaps = lambda analysis: ((channel.id, region) for channel, regions in analysis.gap_regions for region in regions)  # noqa: E731
    for channel_id, sets, times, days in regions_on_dates(context, gaps):
        yield Finding(f"on {describe_dates(days)}: no routing rule owns {_tickets(context, sets)}, {describe_times(times)}",
                      channels[channel_id].source.at("id"),
                      hint=f"add a rule (or a catch-all) that applies on those dates; until then these tickets go to the fallback "
                           f"queue `{fallback}`", subject=channel_id)


def _tickets(context: CheckContext, sets: tuple[frozenset, ...]) -> str:
    """The tickets of a region, without its hours: `complaint × phone × any segment × any priority`."""
    return context.describe(Box(sets, WeekSet.full())).removesuffix(", at all hours")


@register("CX402", "routing-overlap", Severity.ERROR)
def routing_overlap(context: CheckContext) -> Iterator[Finding]:
    """Two rules of equal precedence claim the same tickets for different owners.

    When both match, the engine takes the earlier rule in the file, which is rarely what
    the authors meant. The finding names the tickets both claim (less any that a rule of
    higher precedence takes first).

    Failing::

        - {id: vip, match: {segment: [vip]}, to: vip_desk, precedence: 10}
        - {id: complaints, match: {category: [complaint]}, to: complaint_group, precedence: 10}

    Passing (VIP complaints are decided explicitly)::

        - {id: vip, match: {segment: [vip]}, to: vip_desk, precedence: 20}
        - {id: complaints, match: {category: [complaint]}, to: complaint_group, precedence: 10}
    """
    for first, second, regions in context.overlap_regions:
        yield Finding(
            f"rules `{first.id}` and `{second.id}` both have precedence {first.precedence} and claim "
            f"{'; '.join(context.describe(r) for r in regions)} for different owners (`{first.to}`, `{second.to}`)",
            second.source.at("precedence"),
            hint=f"give one of them a higher precedence; today `{first.id}` wins because it comes first",
            related=(Related(first.source.at("id"), f"overlaps with rule `{first.id}` here"),),
            subject=second.id)


@register("CX407", "routing-overlap-on-dates", Severity.ERROR)
def routing_overlap_on_dates(context: CheckContext) -> Iterator[Finding]:
    """Two rules of equal precedence claim the same tickets for different owners on some real dates only.

    A typical week can keep two rules apart by their hours while a date brings them
    together: a weekend desk (`during: weekend`) and the office team (`during: office`, with
    China's make-up working Sundays) at the same precedence both claim Sunday's tickets on
    2025-01-26. The engine then takes the earlier rule in the file. Every date of the horizon
    (`check --from/--to`) is looked at, one analysis per kind of day; the finding names the dates.

    Failing: `weekend_desk` (`during: weekend`) and `office_team` (`during: office`, CN
    holidays), both precedence 10, both for every ticket.

    Passing: the weekend desk one precedence higher, so make-up Sundays are decided.
    """
    rules = {rule.id: rule for rule in context.org.routing}
    pairs = lambda analysis: (((first.id, second.id), region) for first, second, regions in analysis.overlap_regions  # noqa: E731
                              for region in regions)
    for (first_id, second_id), sets, times, days in regions_on_dates(context, pairs):
        first, second = rules[first_id], rules[second_id]
        yield Finding(
            f"on {describe_dates(days)}: rules `{first.id}` and `{second.id}` both have precedence {first.precedence} and claim "
            f"{_tickets(context, sets)}, {describe_times(times)} for different owners (`{first.to}`, `{second.to}`)",
            second.source.at("precedence"), hint=f"give one of them a higher precedence; on those dates `{first.id}` wins because it comes first",
            related=(Related(first.source.at("id"), f"overlaps with rule `{first.id}` here"),), subject=second.id)


@register("CX403", "shadowed-rule", Severity.ERROR)
def shadowed_rule(context: CheckContext) -> Iterator[Finding]:
    """A rule that can never fire because rules tried before it take all it matches.

    Rules are tried by precedence (then file order); if earlier rules already own every
    ticket a rule matches, in every hour it applies, the rule is dead weight or a mistake,
    and its tickets go to another role than it says: an error. The finding names the rules
    that win and the roles that actually get the tickets. A rule that fires on some real
    dates only (public holidays, make-up working days: see CX406) is no dead rule.

    Failing (`vip_complaints` is inside `complaints`, which is tried first)::

        - {id: complaints, match: {category: [complaint]}, to: complaint_group, precedence: 20}
        - {id: vip_complaints, match: {category: [complaint], segment: [vip]}, to: vip_desk, precedence: 10}

    Passing (the narrower rule is tried first)::

        - {id: vip_complaints, match: {category: [complaint], segment: [vip]}, to: vip_desk, precedence: 20}
        - {id: complaints, match: {category: [complaint]}, to: complaint_group, precedence: 10}
    """
    tried, regions = context.indexed_rules, context.rule_index.boxes
    for rule in context.router.rules:
        box = context.rule_boxes.get(rule.id)
        if box is None or not any(box.meets(space) for space in context.receivable):
            if not _fires_on_dates(context, rule, box, []):  # a rule for holidays or a campaign
                yield unreachable_rule(rule)
            continue
        earlier = context.earlier_places(rule, box)  # only the rules that meet it, found through the index of rule regions
        if not earlier:
            continue  # nothing tried before it can take its tickets
        reachable = [part for space in context.receivable if (part := box.intersect(space)) is not None]
        earlier_boxes = [regions[place] for place in earlier]
        if not all(is_covered(part, earlier_boxes) for part in reachable) or _fires_on_dates(context, rule, box, earlier):
            continue
        if reachable == [box]:  # all it matches can reach it: every rule the index found takes some of its tickets
            winners = [tried[place] for place in earlier]
        else:
            winners = [tried[place] for place in earlier if any(regions[place].meets(part) for part in reachable)]
        yield dead_rule(rule, winners)


def unreachable_rule(rule: RoutingRule) -> Finding:
    """CX403 for a rule that matches nothing a channel receives while open."""
    return Finding(f"rule `{rule.id}` matches no ticket any channel receives while open", rule.source.at("id"),
                   hint="check its `match` and `during` against the channels' categories and hours", subject=rule.id)


def dead_rule(rule: RoutingRule, winners: list[RoutingRule]) -> Finding:
    """CX403 for a rule whose every ticket ``winners`` (tried before it, in that order) take."""
    owners = sorted({other.to for other in winners})
    return Finding(
        f"rule `{rule.id}` can never fire: rules tried before it own every ticket it matches, so its tickets go to "
        + " and ".join(f"`{role}`" for role in owners) + ("" if owners == [rule.to] else f" (it names `{rule.to}`)"),
        rule.source.at("precedence"),
        hint="raise its precedence above the rules named below, or remove it",
        related=tuple(Related(other.source.at("id"), f"`{other.id}` (precedence {other.precedence}) takes its tickets, to `{other.to}`")
                      for other in winners[:3]),
        subject=rule.id)


def _shadowed(context: CheckContext, rule) -> bool:
    """Whether rules tried before ``rule`` own every ticket it matches while channels are open (in ``context``'s hours)."""
    box = context.rule_boxes.get(rule.id)
    if box is None:
        return True
    earlier_boxes = context.earlier_boxes(rule, box)
    return all(is_covered(part, earlier_boxes) for space in context.receivable if (part := box.intersect(space)) is not None)


def _fires_on_dates(context: CheckContext, rule: RoutingRule, box: Optional[Box], earlier: list[int]) -> bool:
    """Whether ``rule``, which takes no ticket in the typical week, takes some on some kind of real day of the horizon
    (public holidays, make-up days).

    Only the kinds of day that change a calendar the answer depends on are asked: the rule's `during`, the hours of the
    channels it can receive tickets from (of every channel when it has no region: ``box`` is None), and the `during` of
    the rules tried before it that meet it (``earlier``, places in ``rule_index``; none when it meets nothing a channel
    receives). On other kinds of day its region and what channels receive of it are the typical week's, and the rules
    before it take at least what they take in the typical week: all of it.
    """
    tried = context.indexed_rules
    deciding = {rule.during, *(channel.hours for channel in context.org.channels if box is None or channel.id in box.sets[1]),
                *(tried[place].during for place in earlier)}
    return any(_fires(dated, rule) for dated, _ in context.day_kinds if not dated.changed_calendars.isdisjoint(deciding))


def _fires(dated: CheckContext, rule) -> bool:
    """Whether ``rule`` takes some ticket on a kind of real day (a rule for holidays only is no dead rule)."""
    box = dated.rule_boxes.get(rule.id)
    return box is not None and any(box.intersect(space) is not None for space in dated.receivable) and not _shadowed(dated, rule)


@register("CX404", "route-to-role-without-category", Severity.WARNING)
def route_to_role_without_category(context: CheckContext) -> Iterator[Finding]:
    """A rule sends categories to a role that does not handle them.

    A role's `handles` lists the categories its people are trained for; sending others
    there means tickets are owned by someone who cannot solve them.

    Only the tickets that reach the rule count, so a catch-all is judged on what the
    rules before it leave over.

    Failing::

        roles: [{id: cashier, name: Cashier, unit: shop, handles: [billing]}]
        routing: [{id: faults, match: {category: [technical_fault]}, to: cashier, precedence: 10}]

    Passing::

        roles: [{id: technician, name: Technician, unit: shop, handles: [technical_fault]}]
        routing: [{id: faults, match: {category: [technical_fault]}, to: technician, precedence: 10}]
    """
    for rule in context.org.routing:
        box = context.rule_boxes.get(rule.id)
        handles = context.org.role(rule.to).handles
        if box is None or box.sets[0] <= handles:
            continue
        received: frozenset[str] = frozenset()  # only what reaches the rule counts: a catch-all sees what others leave
        for space in context.receivable:
            part = box.intersect(space)
            if part is not None:
                for region in uncovered(part, context.earlier_boxes(rule, part)):
                    received |= region.sets[0]
        missing = received - handles
        if missing:
            shown = context.describe_categories(frozenset(missing))
            yield Finding(f"rule `{rule.id}` sends {shown} to `{rule.to}`, which does not handle them", rule.source.at("to"),
                          hint=f"add them to `handles` of role `{rule.to}`, or route them to a role that handles them",
                          subject=rule.id)


@register("CX405", "required-skill-missing", Severity.ERROR)
def required_skill_missing(context: CheckContext) -> Iterator[Finding]:
    """A rule requires skills that no agent of its target role has.

    Such tickets would wait in the queue forever.

    Failing::

        roles: [{id: desk, name: Desk, unit: front, staff: [{agents: 3}]}]
        routing: [{id: english, match: {segment: [export]}, to: desk, requires: [english], precedence: 5}]

    Passing::

        roles: [{id: desk, name: Desk, unit: front, staff: [{agents: 3}, {agents: 1, skills: [english]}]}]
    """
    for rule in context.org.routing:
        if not rule.requires:
            continue
        role = context.org.role(rule.to)
        if not any(set(rule.requires) <= set(role.skills) | set(group.skills) for group in role.staff):
            yield Finding(f"rule `{rule.id}` requires {', '.join(f'`{s}`' for s in rule.requires)} but no agent of `{role.id}` has all of them",
                          rule.source.at("requires"), hint=f"add the skills to a staff group of `{role.id}`", subject=rule.id)
