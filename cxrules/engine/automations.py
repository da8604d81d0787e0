"""Automations: the org's own event-condition-action rules, run on every ticket event, at exact times, and on patterns
across tickets.

A ticket event runs, in file order, the automations it triggers whose conditions hold. A timer automation (`after`)
is scheduled when its `since` event happens and fires at that exact moment of the engine's clock (business time on a
calendar, or calendar time), its conditions judged again then: no hourly sweep.

Patterns across tickets are decided by durable-rules (:class:`Patterns`). The events a pattern counts are facts kept
in the store (so they survive a restart and are shared by processes on one database); for each new one, the facts of
its key within the window (those that can match: for a count, the one count-1 places before it; for a following pattern,
a ticket's facts but those a later one of it stands for) are matched with the new fact by the compiled rule (the count-th
fact after an earlier one of the same key; a fact following another ticket's within the window), whose matches are those
that end with it. Each rule matches a pair, one earlier fact and the new one, so durable-rules is asked about pairs, each
posted to a session with the new fact last; the session is emptied afterwards: durable-rules keeps nothing between
events, its wall-clock timers are never used, and memory stays flat however many customers come and go (the answers kept
per shape, below, are bounded in number and in size).

What the rules can tell of a pair is little: of the earlier fact, its type, how far its number lies from the new one's,
whether it is the same ticket, and which side of the window's end the new one falls. Pairs alike in that (their
*shape*) match alike, so durable-rules is asked once per shape and its answer serves every later pair of that shape,
however many facts a customer has in the window, as routing is served once per set of rules taking a class
(:mod:`.durable`). Its sum of a fact's time and the window is the very one of IEEE doubles that durable-rules makes, so a
fact at the window's end falls on the side durable-rules puts it.

What an action changes is an event other automations may react to (`updated`; a reopening is `reopened`, a move
`reassigned`), at most :data:`MAX_CASCADE` deep: deeper is a loop, stopped and reported (`cxrules check` finds such
loops beforehand, CX801).
"""

from __future__ import annotations

import itertools
import os
from datetime import datetime
from typing import Callable, Final, Optional, TypeAlias
from zoneinfo import ZoneInfo

import durable_rules_engine
from durable.engine import Ruleset

from ..calendars import BusinessCalendar, iso_text, seconds, shift
from ..fastcalls import guarded
from ..model import Automation, Match, Org, Trigger, format_duration
from . import decisions as d
from .durable import post_and_act, run_by_post_and_act
from .matching import MatchIndex
from .store import Store, TicketState, Timer
from .timers import TEXT, TimerKinds

__all__ = ["Automations", "Patterns", "MAX_CASCADE"]

MAX_CASCADE: Final = 8
"""How many automations may set each other off from one event before the cascade counts as a loop."""

_serial: Final = itertools.count()


_MAX_SHAPES: Final = 4096
"""Answers kept per org at most; a shape seen later is asked about each time."""
_FACT_WORDS_KEPT: Final = 16_384
"""Facts told in words kept at most (then forgotten at once): some 3 MB."""

Answer: TypeAlias = tuple[tuple[str, int, int], ...]
"""Durable-rules' matches, in its order: (automation id, place of the earlier fact, place of the new one)."""


def _all_of(terms: list[dict]) -> dict:
    """A condition on a rule's second fact that holds when every term does: ``$and``, inside a ``$or`` of one.

    Durable-rules 2.0.28 (events.c, ``reduceExpressionSequence``) skips the end mark of an ``$and`` whose last term it finds
    false, and reads on past the rule's expressions, through memory it does not own, until some byte looks like an end
    mark: a crash when that memory runs out (it did, in a long test run). The ``$or`` around it puts a second end mark
    where that read lands. The answers are the same: a test holds them to the plain ``$and``'s, and valgrind finds
    no read outside durable-rules' own memory."""
    return {"$or": [{"$and": terms}]}


def _key(automation: Automation, role: str, whose: str) -> str:
    return f"{automation.id}|{role}|{whose}"


class Patterns:
    """The org's patterns across tickets, compiled into one durable-rules ruleset, asked once per shape of a pair of facts."""

    def __init__(self, org: Org):
        self.name = f"cxrules_automations_{org.info.id}_{os.getpid()}_{next(_serial)}"
        self._matches: list[tuple[str, int, int]] = []
        self._named: dict[str, tuple[str, str, str]] = {}
        """Per rule: its automation, and the names of the earlier fact and of the new one in what the rule matched."""
        self._windows: dict[str, float] = {}
        """Per type of earlier fact a rule compares times with: the seconds of its window."""
        self._answers: dict[tuple, Answer] = {}
        """Durable-rules' answer per shape of a pair posted, an earlier fact and the new one (see :meth:`matches`)."""
        self._lock = guarded()
        rules = {}
        for automation in org.automations:
            trigger = automation.trigger
            if trigger.count is not None:
                # the new fact is the count-th after `first`: numbered in order, so count-1 places later
                rules[f"c_{automation.id}"] = {"all": [
                    {"first": {"t": automation.id}},
                    {"last": _all_of([{"t": automation.id}, {"new": True},
                                      {"n": {"$add": {"$l": {"first": "n"}, "$r": trigger.count - 1}}}])}],
                    "run": run_by_post_and_act}
                self._named[f"c_{automation.id}"] = (automation.id, "first", "last")
            elif trigger.following is not None:
                window = trigger.within.total_seconds() if trigger.within else 0
                rules[f"f_{automation.id}"] = {"all": [
                    {"earlier": {"t": f"{automation.id}:earlier"}},
                    {"this": _all_of([{"t": f"{automation.id}:this"}, {"$neq": {"ticket": {"earlier": "ticket"}}},
                                      {"$lte": {"at": {"$add": {"$l": {"earlier": "at"}, "$r": window}}}}])}],
                    "run": run_by_post_and_act}
                self._named[f"f_{automation.id}"] = (automation.id, "earlier", "this")
                self._windows[f"{automation.id}:earlier"] = window
        self._ruleset: Optional[Ruleset] = Ruleset(self.name, None, rules) if rules else None

    def _record(self, rule: str, matched: dict) -> None:
        automation_id, first, last = self._named[rule]
        self._matches.append((automation_id, int(matched[first]["id"][1:]), int(matched[last]["id"][1:])))

    def matches(self, facts: list[dict], new: dict) -> list[tuple[str, tuple[str, ...]]]:
        """(automation id, (matched earlier ticket, new fact's ticket)) for each match ending with ``new``, in durable-rules'
        order: the latest earlier fact's first.

        ``facts`` are earlier ones only: none is new (`new: true`, or the type of a `following` pattern's new fact). Each rule
        matches a pair, one earlier fact and the new one (`last` needs `new`, and `this` is a type only the new fact has), so
        durable-rules is asked about each earlier fact beside the new one, once per shape of the pair, and the matches of
        all are those durable-rules gives when asked about them all at once (tests hold them alike). Asking about them all
        at once cost a customer with a thousand facts in the window (a fleet, a catch-all id) two thousand posts for each
        new ticket: a replay of such a customer's month never ended.

        Each pair of tickets matches once: an earlier ticket with two facts in the window (resolved, reopened, resolved
        again) is one earlier ticket, and the match of its fact listed last stands for it (two would fire the automation
        twice for the same pair, notifying twice)."""
        if self._ruleset is None:
            return []
        found: dict[tuple[str, tuple[str, ...]], None] = {}
        new_type, new_flag, new_at, new_ticket, new_number = new["t"], new.get("new"), new["at"], new["ticket"], new.get("n")
        with self._lock:
            for place in range(len(facts) - 1, -1, -1):  # not reversed(facts), which mypyc 2.4 fails to compile for a list of dicts
                fact = facts[place]
                fact_type, ticket_id, number = fact["t"], fact["ticket"], fact.get("n")
                window = self._windows.get(fact_type)
                # the pair's shape: all the rules can test of the fact beside the new one (the window's end by durable-rules'
                # own sum, to the last bit)
                shape = (new_type, new_flag, fact_type, fact.get("new"), None if number is None or new_number is None else new_number - number,
                         ticket_id == new_ticket, None if window is None else new_at <= fact["at"] + window)
                answer = self._answers.get(shape)
                if answer is None:
                    answer = self._ask([fact], new)
                    if len(self._answers) < _MAX_SHAPES:
                        self._answers[shape] = answer
                for automation_id, _, _ in answer:
                    found.setdefault((automation_id, (ticket_id, new_ticket)))
        return list(found)

    def _ask(self, facts: list[dict], new: dict) -> Answer:
        """Durable-rules' matches of ``facts`` then ``new``, posted to one session and retracted after, which leaves it
        empty (deleting a session's state crashes durable-rules 2.0.28)."""
        ruleset = self._ruleset
        assert ruleset is not None
        self._matches.clear()
        posted = []
        try:
            for number, fact in enumerate([*facts, new]):
                posted.append({**fact, "sid": "patterns", "id": f"f{number}"})
                post_and_act(ruleset, ruleset.assert_fact, posted[-1], self._record)
            return tuple(self._matches)
        finally:
            for fact in posted:
                post_and_act(ruleset, ruleset.retract_fact, fact, self._record)

    def close(self) -> None:
        if self._ruleset is not None:
            durable_rules_engine.delete_ruleset(self._ruleset._handle)
            self._ruleset = None


class Automations:
    """Runs the org's automations on ticket events and timers; the actions are done through the engine's parts."""

    def __init__(self, org: Org, store: Store, calendars: dict[str, BusinessCalendar], timers: TimerKinds, faults: list[str],
                 act: Callable[[TicketState, Automation, datetime, Optional[TicketState]], tuple[list[d.Decision], list[str], list[tuple[TicketState, str]]]]):
        """``act(ticket, automation, at, earlier)`` does an automation's actions: its decisions, the actions in words, and the
        (ticket, event) pairs they caused, for the automations that react to them."""
        self.org, self.store, self.calendars, self.timers, self.faults, self.act = org, store, calendars, timers, faults, act
        self.automations = org.automations
        self.by_id = {automation.id: automation for automation in org.automations}
        self.patterns = Patterns(org)
        self.patterned = frozenset(automation.id for automation in org.automations if automation.trigger.pattern)
        """The automations triggered by a pattern across tickets: asked on most events, and ``Trigger.pattern`` is an
        interpreted property."""
        self.slas = {sla.id: sla for sla in org.slas}
        self.zone = ZoneInfo(org.info.timezone)
        """The centre's clock: it tells local hours, and counts an automation's days."""
        self.by_event: dict[str, list[Automation]] = {}
        """Per event, in file order, the automations it concerns: triggered by it, timed from it, or counting it."""
        for automation in org.automations:
            trigger = automation.trigger
            for event in dict.fromkeys(filter(None, (trigger.event, trigger.following))):
                self.by_event.setdefault(event, []).append(automation)
        self.concerned = {event: MatchIndex(concerned, _class_match) for event, concerned in self.by_event.items()}
        """Per event, the automations it concerns whose class conditions a ticket's class meets (a timer starts only for them)."""
        self.after_words = {automation.id: _after_words(automation.trigger) for automation in org.automations
                            if automation.trigger.after is not None}
        self.within_words = {automation.id: format_duration(automation.trigger.within) for automation in org.automations
                             if automation.trigger.within is not None}
        """Per automation, its timer's length and its pattern's window as its decisions word them (`2h business`, `7d`): worded
        once, not by an interpreted function's call each."""
        self._fact_words: dict[tuple[str, float], str] = {}
        """Matched facts as decisions tell them (:func:`_fact`), by ticket and time: a customer with many tickets in a pattern's
        window has each told again for each new ticket, and the new ticket once for each earlier one."""
        timers.register_for_ticket("automation", self._fire_timer, self._unwanted, TEXT)

    def on(self, ticket: TicketState, event: str, at: datetime, depth: int = 0) -> list[d.Decision]:
        """Run the automations ``event`` sets off for ``ticket``, in file order."""
        decisions: list[d.Decision] = []
        dues: dict[tuple, Optional[datetime]] = {}  # timers of one length on one calendar are due at one moment
        concerned = self.concerned.get(event)
        fields = ticket.class_fields()
        for automation in concerned.all(fields) if concerned is not None else ():  # their class conditions met
            trigger = automation.trigger
            if trigger.after is not None:
                self._schedule(ticket, automation, at, dues)
            elif automation.id in self.patterned:
                decisions.extend(self._pattern(ticket, automation, event, at, depth, fields))
            elif trigger.event == event and _class_still_met(automation, ticket, fields) and _holds_but_class(automation, ticket):
                decisions.extend(self._fire(ticket, automation, at, event, (), None, depth))
        return decisions

    def holds(self, automation: Automation, ticket: TicketState) -> bool:
        """Whether the ticket meets the automation's conditions now."""
        return automation.conditions.match.matches(*ticket.class_fields()) and _holds_but_class(automation, ticket)

    # ------------------------------------------------------------ timers

    def _schedule(self, ticket: TicketState, automation: Automation, at: datetime, dues: dict[tuple, Optional[datetime]]) -> None:
        """The automation's timer for ``ticket``, due ``after`` its `since` event (``dues``: moments worked out already)."""
        trigger = automation.trigger
        assert trigger.after is not None
        if trigger.clock == "calendar":
            key: tuple = ("calendar", trigger.after)
        else:
            sla = self.slas.get(ticket.sla) if ticket.sla else None
            key = (trigger.calendar or (sla.calendar if sla else self.org.info.calendar), trigger.after)
        if key not in dues:
            dues[key] = shift(at, trigger.after, self.zone) if trigger.clock == "calendar" else self.calendars[key[0]].add(at, trigger.after)
        due = dues[key]
        self.timers.schedule(due, "automation", ticket, f"{ticket.id}:auto:{automation.id}:{iso_text(at)}", automation.id)

    def _unwanted(self, ticket: TicketState, timer: Timer) -> bool:
        """The automation is gone or no longer a timer (a reload), or the ticket no longer meets its conditions."""
        automation = self.by_id.get(timer.data)
        return automation is None or automation.trigger.after is None or not self.holds(automation, ticket)

    def _fire_timer(self, ticket: TicketState, timer: Timer) -> list[d.Decision]:
        automation = self.by_id[timer.data]
        trigger = automation.trigger
        return self._fire(ticket, automation, timer.due, f"{self.after_words[automation.id]} after {trigger.event}", (), None, 0)

    # ------------------------------------------------------------ patterns across tickets

    def _pattern(self, ticket: TicketState, automation: Automation, event: str, at: datetime, depth: int,
                 fields: tuple) -> list[d.Decision]:
        """``event`` of a ticket in the automation's pattern; ``fields``: the class it had when the event came, which the
        automation's conditions take (see :attr:`concerned`)."""
        trigger = automation.trigger
        whose = "all" if trigger.per == "all" else ticket.customer_id
        if whose is None or trigger.within is None:
            return []  # a ticket of no known customer is no one's repeat
        until: Optional[datetime] = None  # when a fact of this event is spent: worked out only for a fact kept
        if trigger.following == event and _class_still_met(automation, ticket, fields):
            # a ticket of the class the automation is about becomes the earlier one of the customer's later tickets
            self.store.expire_facts(at)
            until = shift(at, trigger.within, self.zone)
            self.store.add_fact(_key(automation, "earlier", whose), at, ticket.id, until)
        if trigger.event != event or not (_class_still_met(automation, ticket, fields) and _holds_but_class(automation, ticket)):
            return []
        self.store.expire_facts(at)
        now = seconds(at)
        if trigger.count is not None:
            key = _key(automation, "counted", whose)
            # only the fact count-1 places before the new one can be a match's first: the earlier ones are not posted, nor listed
            total, kept = self.store.facts_tail(key, shift(at, -trigger.within, self.zone), trigger.count - 1)
            facts = [{"t": automation.id, "n": total - len(kept), "new": False, "at": kept[0][0], "ticket": kept[0][1]}] if len(kept) == trigger.count - 1 else []
            new = {"t": automation.id, "n": total, "new": True, "at": now, "ticket": ticket.id}
            self.store.add_fact(key, at, ticket.id, until or shift(at, trigger.within, self.zone))
        else:
            kept = self.store.facts_since(_key(automation, "earlier", whose), shift(at, -trigger.within, self.zone))
            total = len(kept)
            # a ticket reopened and resolved again and again leaves a fact each time, and a pair of tickets matches once, for
            # its fact listed last that matches (see Patterns.matches): a fact is left out when one of its ticket listed after
            # it is as late or later, which then matches wherever it would, and comes first (a late event's fact is listed
            # after those of later times: it is kept)
            earlier_type, facts = f"{automation.id}:earlier", []
            latest: dict[str, float] = {}
            for place in range(len(kept) - 1, -1, -1):
                moment, ticket_id = kept[place]
                if ticket_id not in latest or moment > latest[ticket_id]:
                    latest[ticket_id] = moment
                    facts.append({"t": earlier_type, "at": moment, "ticket": ticket_id})
            facts.reverse()  # in the order kept
            new = {"t": f"{automation.id}:this", "at": now, "ticket": ticket.id}
        decisions: list[d.Decision] = []
        if total + 1 < (trigger.count or 2):
            return decisions  # too few facts for any match: durable-rules need not be asked (most customers write once)
        times = {ticket_id: moment for moment, ticket_id in kept}
        for automation_id, (first, _) in self.patterns.matches(facts, new):
            if automation_id != automation.id:
                continue
            if trigger.count is not None:
                matched = tuple(self._told(ticket_id, moment) for moment, ticket_id in kept) + (self._told(ticket.id, now),)
                described = (f"{trigger.event}: the {_ordinal(total + 1)} of {_whose(trigger.per, whose)} within "
                             f"{self.within_words[automation.id]} (at least {trigger.count})")
                decisions.extend(self._fire(ticket, automation, at, described, matched, None, depth))
            else:
                earlier = self.store.get(first)
                described = (f"{trigger.event} within {self.within_words[automation.id]} of ticket `{first}` of "
                             f"{_whose(trigger.per, whose)} being {trigger.following}")
                decisions.extend(self._fire(ticket, automation, at, described, (self._told(first, times[first]), self._told(ticket.id, now)),
                                            earlier, depth, earlier_id=first))
        return decisions

    def _told(self, ticket_id: str, moment: float) -> str:
        """:func:`_fact`, kept (see :attr:`_fact_words`)."""
        key = (ticket_id, moment)
        words = self._fact_words.get(key)
        if words is None:
            if len(self._fact_words) >= _FACT_WORDS_KEPT:
                self._fact_words.clear()
            words = self._fact_words[key] = _fact(ticket_id, moment, self.zone)
        return words

    # ------------------------------------------------------------ firing

    def _fire(self, ticket: TicketState, automation: Automation, at: datetime, trigger: str, matched: tuple[str, ...],
              earlier: Optional[TicketState], depth: int, earlier_id: Optional[str] = None) -> list[d.Decision]:
        if depth >= MAX_CASCADE:
            reason = (f"automations set each other off {MAX_CASCADE} times from one event; stopped before `{automation.id}` "
                      "(see `cxrules check`, CX801)")
            self.faults.append(f"ticket `{ticket.id}` at {at.isoformat()}: {reason}")
            return [d.AutomationStopped(ticket.id, at, automation.id, reason)]
        done: list[d.Decision] = []
        caused: list[tuple[TicketState, str]] = []
        if automation.actions.reopen == "earlier" and earlier is None:
            words = [f"reopen `{earlier_id}`: skipped, the ticket is closed and gone"]
        else:
            done, words, caused = self.act(ticket, automation, at, earlier)
        decisions: list[d.Decision] = [d.AutomationFired(ticket.id, at, automation.id, trigger, matched, tuple(words)), *done]
        for changed, event in caused:
            decisions.extend(self.on(changed, event, at, depth + 1))
        return decisions

    def close(self) -> None:
        self.patterns.close()


def _class_match(automation: Automation) -> Match:
    return automation.conditions.match


def _class_still_met(automation: Automation, ticket: TicketState, fields: tuple) -> bool:
    """Whether the ticket's class still meets the automation's conditions, found met for the class ``fields`` it had when
    the event came: an automation before it, set off by the same event, may have changed its priority or segment."""
    now = ticket.class_fields()
    return now == fields or automation.conditions.match.matches(*now)


def _holds_but_class(automation: Automation, ticket: TicketState) -> bool:
    """Whether the ticket meets the automation's conditions now, its class apart (known to: see :attr:`Automations.concerned`)."""
    conditions = automation.conditions
    return ((conditions.statuses is None or ticket.status in conditions.statuses)
            and (conditions.responded is None or ticket.responded == conditions.responded)
            and conditions.tags <= ticket.tags and not conditions.without_tags & ticket.tags)


def _fact(ticket_id: str, moment: float, zone: ZoneInfo) -> str:
    """A matched fact as the decision tells it: the ticket and its local time to the minute, as ``strftime("%Y-%m-%d %H:%M")``
    writes it, in half the instructions: ``isoformat`` parses its arguments and asks the zone for the offset it writes
    after the minutes, to be cut off (4-digit years, as events may have)."""
    local = datetime.fromtimestamp(moment, zone)
    return "%s at %04d-%02d-%02d %02d:%02d" % (ticket_id, local.year, local.month, local.day, local.hour, local.minute)


def _after_words(trigger: Trigger) -> str:
    """A timer trigger's length as its decisions word it: `2h business`, or `3d` of the calendar's clock."""
    assert trigger.after is not None
    on_calendar = trigger.clock == "calendar"
    return format_duration(trigger.after, days=on_calendar) + ("" if on_calendar else " business")


def _whose(per: str, whose: str) -> str:
    return "all tickets" if per == "all" else f"customer `{whose}`"


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"

