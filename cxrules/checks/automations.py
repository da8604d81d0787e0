"""Automations: loops, conflicts, conditions no ticket can meet.

Helpdesk users' most common complaints about their triggers are loops (A's action sets off B, whose action sets off
A again), order-dependent conflicts (two rules set one field differently on one event) and rules that never run.
Each is found here from the org file, on the tickets' regions (:mod:`cxrules.regions`), before the engine meets it.
"""

from __future__ import annotations

from itertools import combinations
from typing import Iterator, Optional

import networkx as nx

from ..calendars import WeekSet
from ..diagnostics import Related, Severity
from ..model import Automation
from ..regions import Box
from . import CheckContext, Finding, register

_STATUSES = frozenset({"open", "queued", "waiting", "resolved", "closed"})
_STATUS_ON = {"created": {"open", "queued"}, "first_response": {"open", "queued", "waiting"}, "agent_replied": {"open", "queued", "waiting"}, "handed_over": {"open", "queued"},
              "reassigned": {"open", "queued"}, "waiting": {"waiting", "queued"}, "customer_reply": {"open", "queued"},
              "resolved": {"resolved"}, "reopened": {"open", "queued"}, "closed": {"closed"}, "updated": set(_STATUSES)}
"""The statuses a ticket can have right after each event (a queued ticket stays queued while it waits or is answered)."""

_FIELDS = {"segment": 2, "priority": 3}
"""The fields an automation may set, by their place in a region's dimensions."""


def _region(context: CheckContext, automation: Automation) -> Optional[Box]:
    """The tickets whose class meets the automation's conditions: any value a ticket arrives with or an automation sets."""
    reachable = context.remember(_reachable_values)
    box = context.box(automation.conditions.match, WeekSet.full())
    if box is None:
        return None
    sets = tuple(values & reachable[index] for index, values in enumerate(box.sets))
    return Box(sets, box.hours) if all(sets) else None


def _reachable_values(context: CheckContext) -> tuple[frozenset, ...]:
    """Per dimension, the values a ticket can have: those a channel receives, and those automations set."""
    received = [frozenset().union(*(space.sets[index] for _, space in context.channel_spaces)) for index in range(5)]
    for automation in context.org.automations:
        for name, index in _FIELDS.items():
            value = getattr(automation.actions, name)
            if value is not None:
                received[index] = received[index] | {value}
    return tuple(received)


def _after(box: Box, automation: Automation) -> Box:
    """The tickets ``box`` holds once the automation has set its fields."""
    for name, index in _FIELDS.items():
        value = getattr(automation.actions, name)
        if value is not None:
            box = box.replace(index, frozenset({value}))
    return box


def _caused(automation: Automation) -> set[str]:
    """The events the automation's actions can set off."""
    actions = automation.actions
    events = set()
    if actions.priority or actions.segment or actions.tags:
        events.add("updated")
    if actions.assign:
        events.add("reassigned")
    if actions.reopen:
        events.add("reopened")
    return events


def _statuses(automation: Automation, event: str) -> set[str]:
    wanted = automation.conditions.statuses
    return set(_STATUS_ON[event]) & (set(wanted) if wanted is not None else set(_STATUSES))


def _changes(automation: Automation, box: Box, tags: frozenset[str]) -> bool:
    """Whether the automation's actions can change a ticket of ``box`` that carries ``tags`` (an action that finds its value
    already set changes nothing and sets nothing off)."""
    actions = automation.actions
    for name, index in _FIELDS.items():
        value = getattr(actions, name)
        if value is not None and box.sets[index] - {value}:
            return True
    return bool(set(actions.tags) - tags) or actions.assign is not None or actions.reopen is not None


def _sets_off(context: CheckContext, first: Automation, second: Automation) -> Optional[str]:
    """The event by which ``first``'s actions can set ``second`` off, changing something again; None when they cannot."""
    trigger = second.trigger
    if trigger.after is not None or trigger.pattern:
        return None  # a timer or a pattern waits for time or for other tickets: no loop of one event
    event = trigger.event
    if event not in _caused(first):
        return None
    before, after = _region(context, first), _region(context, second)
    if before is None or after is None:
        return None
    both = _after(before, first).intersect(after)
    tags = frozenset(first.actions.tags) | first.conditions.tags
    conditions = second.conditions
    if both is None or conditions.without_tags & tags or not _statuses(second, event) & (
            {"open", "queued"} if first.actions.reopen else set(_STATUSES)):
        return None
    return event if _changes(second, both, tags | conditions.tags) else None


@register("CX801", "automation-loop", Severity.ERROR)
def automation_loop(context: CheckContext) -> Iterator[Finding]:
    """Automations that set each other off in a loop.

    An action changes the ticket (an `updated` event; a move is `reassigned`, a reopening
    `reopened`), which can set off another automation whose action sets off the first
    again. The engine stops such a cascade after 8 rounds (`AutomationStopped`); until
    then the ticket's priority, tags or owner flip back and forth. An automation whose
    action finds its value already set changes nothing and sets nothing off, so
    "make VIP tickets urgent" on `updated` is no loop.

    Failing::

        automations:
          - {id: ping, when: {event: updated}, if: {match: {priority: [high]}}, then: {priority: urgent}}
          - {id: pong, when: {event: updated}, if: {match: {priority: [urgent]}}, then: {priority: high}}

    Passing (`pong` only lowers what nobody raised this way)::

          - {id: pong, when: {event: updated}, if: {match: {priority: [urgent]}, without_tags: [raised]}, then: {priority: high}}
          (with `ping` tagging `raised`)
    """
    automations = context.org.automations
    graph = nx.DiGraph()
    for first in automations:
        for second in automations:
            event = _sets_off(context, first, second)
            if event is not None:
                graph.add_edge(first.id, second.id, event=event)
    order = {automation.id: index for index, automation in enumerate(automations)}
    by_id = {automation.id: automation for automation in automations}
    for cycle in sorted(nx.simple_cycles(graph), key=lambda c: sorted(order[a] for a in c)):
        start = min(cycle, key=order.__getitem__)
        ordered = cycle[cycle.index(start):] + cycle[:cycle.index(start)]
        steps = [f"`{a}` sets off `{b}` ({graph.edges[a, b]['event']})" for a, b in zip(ordered, ordered[1:] + ordered[:1])]
        yield Finding(f"automations loop: {'; '.join(steps)}", by_id[start].source.at("then"),
                      hint="add a condition that the other's action makes false (a tag it sets, the value it gives), or merge them",
                      related=tuple(Related(by_id[a].source.at("then"), f"`{a}` is part of the loop") for a in ordered[1:]),
                      subject=start)


def _same_moment(first: Automation, second: Automation) -> bool:
    """Whether both run on one and the same occasion: the same event, or the same time after the same event."""
    one, other = first.trigger, second.trigger
    return (one.event, one.after, one.clock, one.calendar) == (other.event, other.after, other.clock, other.calendar) \
        and not one.pattern and not other.pattern


@register("CX802", "automation-conflict", Severity.ERROR)
def automation_conflict(context: CheckContext) -> Iterator[Finding]:
    """Two automations run on the same event and set the same field differently for the same tickets.

    They run in file order, so the later one wins without saying so; moving one line
    changes the result (the order-dependence helpdesk users trip over). The finding names
    the tickets both apply to.

    Failing::

        - {id: vip_urgent, when: {event: created}, if: {match: {segment: [vip]}}, then: {priority: urgent}}
        - {id: complaints_high, when: {event: created}, if: {match: {category: [complaint]}}, then: {priority: high}}

    Passing: one of them excludes the other's tickets (`segment: [normal]`), or they agree.
    """
    for first, second in combinations(context.org.automations, 2):
        if not _same_moment(first, second):
            continue
        fields = {name: (value, second.actions.sets()[name]) for name, value in first.actions.sets().items()
                  if name in second.actions.sets() and second.actions.sets()[name] != value}
        if not fields:
            continue
        one, other = _region(context, first), _region(context, second)
        both = one.intersect(other) if one is not None and other is not None else None
        tags_clash = first.conditions.tags & second.conditions.without_tags or second.conditions.tags & first.conditions.without_tags
        statuses = _statuses(first, first.trigger.event) & _statuses(second, second.trigger.event)
        responded = {first.conditions.responded, second.conditions.responded} - {None}
        if both is None or tags_clash or not statuses or len(responded) > 1:
            continue
        said = ", ".join(f"{name} to `{a}` and `{b}`" for name, (a, b) in fields.items())
        tickets = context.describe(both).removesuffix(", at all hours")
        yield Finding(f"automations `{first.id}` and `{second.id}` both run on `{first.trigger.event}` and set {said} for {tickets}; "
                      f"the later one, `{second.id}`, wins", second.source.at("then"),
                      hint="narrow one's `if` so their tickets do not meet, or make them agree",
                      related=(Related(first.source.at("then"), f"`{first.id}` sets it here"),), subject=second.id)


def _never(context: CheckContext, automation: Automation) -> Optional[tuple[str, tuple]]:
    """Why no ticket can meet the automation's conditions when it is triggered, and where; None when some can."""
    conditions, event = automation.conditions, automation.trigger.event
    if _region(context, automation) is None:
        return "no ticket a channel receives (or an automation makes) has the class its `if.match` asks for", ("if", "match")
    if not _statuses(automation, event):
        return f"right after `{event}` a ticket is {' or '.join(sorted(_STATUS_ON[event]))}, never as `if.status` asks", ("if", "status")
    if conditions.tags & conditions.without_tags:
        return "it asks for tags it also forbids: " + ", ".join(f"`{t}`" for t in sorted(conditions.tags & conditions.without_tags)), ("if",)
    given = {tag for other in context.org.automations for tag in other.actions.tags}
    if missing := conditions.tags - given:
        return "no automation ever sets " + ", ".join(f"`{t}`" for t in sorted(missing)) + ", and tickets arrive without tags", ("if", "tags")
    if event == "first_response" and conditions.responded is False:
        return "on `first_response` the customer has just been answered, so `responded: false` never holds", ("if", "responded")
    if automation.actions.reopen == "this" and not {"resolved", "closed"} & _STATUS_ON[event] and automation.trigger.after is None:
        return f"right after `{event}` the ticket is open, so `reopen: this` has nothing to reopen", ("then", "reopen")
    return None


@register("CX803", "automation-never-fires", Severity.ERROR)
def automation_never_fires(context: CheckContext) -> Iterator[Finding]:
    """An automation whose conditions no ticket can meet when its trigger fires.

    A class no channel receives and no automation sets, a status a ticket cannot have
    right after the event (`resolved` on `created`), tags nobody sets, `responded: false`
    on `first_response`: the automation is dead weight, or a typo for what was meant.

    Failing::

        - {id: vip_on_create, when: {event: created}, if: {status: [resolved]}, then: {notify: [manager]}}

    Passing::

        - {id: vip_on_resolve, when: {event: resolved}, if: {status: [resolved]}, then: {notify: [manager]}}
    """
    for automation in context.org.automations:
        reason = _never(context, automation)
        if reason is not None:
            why, path = reason
            yield Finding(f"automation `{automation.id}` can never fire: {why}", automation.source.at(*path),
                          hint="check its `when` and `if` against the tickets the channels receive", subject=automation.id)
