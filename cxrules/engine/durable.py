"""The org's routing rules compiled into a durable-rules ruleset, behind a narrow interface.

What we rely on, and guard against (durable-rules 2.0.28): rulesets are built from plain
dicts, so they are generated from the validated model, never written by hand; a ruleset's
name must be unique in the process, so each compiled org gets a fresh one and releases it
with :meth:`DurableRouter.close`; its Host starts wall-clock timer threads, so we use bare
``Ruleset`` objects and keep time ourselves; its own loop over actions swallows one that
raises and leaves reference cycles behind, so we run the actions ourselves
(:func:`post_and_act`), and ours only note what matched; an event no rule matches raises
``MessageNotHandledException``, which means the fallback queue.

A routing decision is a pure function of the ticket's class and of which calendars are
open among those of the `during` rules that match the class, so each one is computed by
durable-rules once and then served from a cache (:class:`~.routes.RouteCache`, compiled): the engine is fast without a second
implementation of the rules. Durable-rules fires the first rule, by precedence, whose
conditions hold, so a class matters only through which rules' matches take it: classes
taken by the same rules share one answer, and durable-rules is asked once per such set
(13 for the 2,560 classes of orgs/automotive.yaml, 1,001 for the 16,000 of the bench's
generated org). Which rules take a class is told by a :class:`~.matching.MatchIndex` of the
rules' matches, the model's sets that :func:`compile_routing` writes as conditions; which
of them wins is durable-rules' to say.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from datetime import datetime
from typing import Callable, Iterable, Optional

import durable_rules_engine
from durable.engine import MessageNotHandledException, Ruleset

from ..model import Match, Org, RoutingRule, Surge
from ..routing import Route, TicketClass, precedence_order
from .matching import MatchIndex
from .routes import ClassFields, RouteCache

__all__ = ["DurableRouter", "compile_routing", "post_and_act", "run_by_post_and_act"]

_serial = itertools.count()


def _condition(name: str, values: Optional[frozenset]) -> Optional[dict]:
    if values is None:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return {name: ordered[0]}
    return {"$or": [{name: value} for value in ordered]}


def _match_terms(match: Match) -> list[dict]:
    terms = [_condition("category", match.categories), _condition("channel", match.channels),
             _condition("segment", match.segments), _condition("priority", match.priorities)]
    if match.member is not None:
        terms.append({"member": match.member})
    return [term for term in terms if term is not None]


def run_by_post_and_act(closure) -> None:
    """The action every rule of ours names, as durable-rules' ``Ruleset`` requires one: :func:`post_and_act` runs the actions
    by the rules' names, and ``Ruleset.do_actions``, which would call this, is not used."""
    raise RuntimeError("cxrules runs its durable-rules actions with post_and_act")


def post_and_act(ruleset: Ruleset, post: Callable[[dict], int], message: dict, act: Callable[[str, dict], None]) -> None:
    """Post ``message`` (``post``: the ruleset's ``assert_event``, ``assert_fact`` or ``retract_fact``) and hand each action it
    sets off, in durable-rules' order, to ``act(rule name, what the rule matched)``; a message no rule takes sets off none.

    The loop of ``Ruleset.do_actions`` without what only its asynchronous actions need: there each action builds a closure,
    a promise and a timeout function that refers to itself, a reference cycle of some 28 objects left to the collector, and
    writes the session's state back re-encoded. Our actions only note what matched, so the state goes back as it came.
    A failure in durable-rules abandons the action and raises RuntimeError.
    """
    try:
        handle = post(message)
    except MessageNotHandledException:
        return
    engine = ruleset._handle
    try:
        result = durable_rules_engine.start_action_for_state(engine, handle)
        if not result:
            return
        state, actions = result
        while actions:
            name, matched = next(iter(json.loads(actions).items()))
            act(name, matched)
            durable_rules_engine.update_state(engine, state)
            actions = durable_rules_engine.complete_and_start_action(engine, handle)
    except Exception as error:
        with contextlib.suppress(Exception):  # none may be open (starting one failed): nothing to abandon
            durable_rules_engine.abandon_action(engine, handle)
        raise RuntimeError(f"durable-rules failed on {sorted(message)}: {type(error).__name__}: {error}") from error


def compile_routing(rules: Iterable[RoutingRule]) -> dict:
    """A durable-rules ruleset definition: one rule per routing rule, named `r_` and its id, tried in precedence order.

    ``pri`` (lower fires first) is the rule's place in :func:`precedence_order`, so
    durable-rules resolves conflicts exactly as the reference router does.
    """
    definition = {}
    for rank, rule in enumerate(precedence_order(rules)):
        terms = [{"t": "route"}, *_match_terms(rule.match)]
        if rule.during:
            terms.append({f"open_{rule.during}": True})
        definition[f"r_{rule.id}"] = {"all": [{"m": {"$and": terms}}], "pri": rank, "run": run_by_post_and_act}
    return definition


class DurableRouter:
    """Decides owners with durable-rules; same contract as :class:`cxrules.routing.Router`."""

    def __init__(self, org: Org):
        self.org = org
        self.rules = {rule.id: rule for rule in org.routing}
        self.routes = RouteCache(org, self._decided)
        """Every route decided so far, served compiled: what the engine asks of each new ticket (:meth:`route_fields` is
        the same)."""
        self._winner: Optional[str] = None
        """The rule that took the last message posted (under the routes' lock)."""
        self._rule_of_action = {f"r_{rule.id}": rule.id for rule in org.routing}
        self._by_class = MatchIndex(org.routing)
        self._calendars_of: dict[int, frozenset[str]] = {}
        """Per set of rules taking a class (:meth:`.MatchIndex.taking`), the calendars of its `during` rules: whether any other
        calendar is open cannot change its winner, so durable-rules is asked once for all the states of the others (and told
        none is open)."""
        self._decisions: dict[tuple[int, frozenset[str]], Optional[str]] = {}
        """Winners by (set of rules taking the class, open calendars that matter to it): what durable-rules was asked."""
        self.name = f"cxrules_{org.info.id}_{os.getpid()}_{next(_serial)}"
        self._ruleset = Ruleset(self.name, None, compile_routing(org.routing)) if org.routing else None

    @property
    def asked(self) -> int:
        """How many times durable-rules has been asked: once per set of rules taking the classes met so far and state of the
        calendars that matter to it (what a fresh engine pays for beyond a warm one)."""
        return len(self._decisions)

    def _record(self, action: str, matched: dict) -> None:
        self._winner = self._rule_of_action[action]

    def winner(self, ticket: TicketClass, at: Optional[datetime] = None) -> Optional[str]:
        """Id of the rule that owns the ticket at ``at`` (None: no rule, the fallback queue)."""
        return self.routes.winner_of(ticket.class_fields(), at, ticket)

    def _decided(self, fields: ClassFields, ticket: Optional[TicketClass], open_calendars: frozenset[str]) -> Optional[str]:
        """The winner by durable-rules, asked once per set of rules taking the class and state of the calendars among those
        that matter to it (the first class met of each is the one posted; ``ticket``: its class, if the caller has it)."""
        taking = self._by_class.taking(fields)
        if (relevant := self._calendars_of.get(taking)) is None:
            relevant = self._calendars_of[taking] = frozenset(rule.during for rule in self._by_class.all(fields) if rule.during)
        key = (taking, open_calendars & relevant)
        if key not in self._decisions:
            self._decisions[key] = self._post(ticket or TicketClass(*fields), key[1])
        return self._decisions[key]

    def _post(self, ticket: TicketClass, open_calendars: frozenset[str]) -> Optional[str]:
        if self._ruleset is None:
            return None
        message = {"t": "route", "category": ticket.category, "channel": ticket.channel, "segment": ticket.segment,
                   "priority": ticket.priority, "member": ticket.member}
        message.update({f"open_{cid}": cid in open_calendars for cid in self.routes.calendars})
        self._winner = None
        post_and_act(self._ruleset, self._ruleset.assert_event, message, self._record)
        return self._winner

    def route(self, ticket: TicketClass, at: Optional[datetime] = None, active_surges: Iterable[Surge] = ()) -> Route:
        return self.routes.route_fields(ticket.class_fields(), at, active_surges, ticket)

    def route_fields(self, fields: ClassFields, at: Optional[datetime] = None, active_surges: Iterable[Surge] = (),
                     ticket: Optional[TicketClass] = None) -> Route:
        """:meth:`route` of the class of these fields (category, channel, segment, priority, member: what
        :meth:`.TicketState.class_fields` gives), its :class:`TicketClass` built only if needed (``ticket``: it, if at hand)."""
        return self.routes.route_fields(fields, at, active_surges, ticket)

    def close(self) -> None:
        """Release the compiled ruleset (durable-rules keeps it until told)."""
        if self._ruleset is not None:
            durable_rules_engine.delete_ruleset(self._ruleset._handle)
            self._ruleset = None
            self.routes.clear()
            self._decisions.clear()
