"""Small orgs for engine tests, written out from tiny.yaml with changes."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

import yaml

import cxrules
from cxrules.engine import Engine, VirtualClock
from cxrules.loading import load_file
from cxrules.routing import TicketClass

from conftest import ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
TINY = load_file(ROOT / "tests/fixtures/tiny.yaml")[0].data


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def with_automations(*automations):
    """A change for :func:`make_org`: the org's automations are these (and its surges none, unless it has some)."""
    def change(data):
        data["automations"] = list(automations)
        data.setdefault("surges", [])
    return change


def make_org(tmp_path: Path, change=None, name: str = "org.yaml") -> cxrules.Org:
    data = copy.deepcopy(TINY)
    if change:
        change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return cxrules.load_org(path)


class StoppedClock:
    """A service's clock, not the replay's virtual one (an event keeps its own time and zone, however late it comes),
    stopped: the suite reads no wall clock."""

    def __init__(self, now: datetime):
        self._now = now

    def now(self) -> datetime:
        return self._now


def make_engine(org: cxrules.Org, start: datetime) -> Engine:
    return Engine(org, VirtualClock(start))


def rules_taking(org: cxrules.Org, ticket: TicketClass) -> frozenset[str]:
    """The routing rules whose match takes a class, worked out plainly: each rule's match asked (a category names its children
    too: the model's sets, not the file's lists). Durable-rules' answer for a class depends on nothing else of it but which
    of those rules' `during` calendars are open."""
    return frozenset(rule.id for rule in org.routing if rule.match.matches(*ticket.class_fields()))


def abandon(store) -> None:
    """What a killed process leaves of a SQLite store: no snapshot on the way out, its lock dropped by the kernel."""
    store.db.close()
    store._release_lock()


class DiesBeforeHandlers(Engine):
    """An engine whose process dies each time a unit is made durable, before any handler runs: nothing is handed over."""

    def _dispatch(self, decisions, fresh: bool = True) -> None:
        pass


def keys_differ(expected: Iterable[str], delivered: Iterable[str]) -> str:
    """What a kill test reports when handlers did not see exactly the decisions of an uninterrupted run: the keys lost and
    those invented, counted, a few of each (a diff of both sets whole is too long for a CI log to show); empty if none."""
    expected, delivered = set(expected), set(delivered)
    lost, invented = sorted(expected - delivered), sorted(delivered - expected)
    return f"lost {len(lost)}: {lost[:10]}; invented {len(invented)}: {invented[:10]}" if lost or invented else ""


def counts_out_of_step(flights) -> list[str]:
    """Where a replay's flights keep a µs count that is not their moment's own (the figures read the counts): none, if the
    replay set each moment through the flight's methods."""
    from cxrules.calendars import micros

    wrong = []
    for flight in flights:
        moments = {"created": (flight.record.created, flight.created_micros),
                   "entered_role": (flight.entered_role_at, flight.entered_role_micros),
                   "first_assigned": (flight.first_assigned_at, flight.first_assigned_micros),
                   "first_resolved": (flight.first_resolved_at, flight.first_resolved_micros)}
        if flight.holding_since is not None:
            moments["holding_since"] = (flight.holding_since, flight.holding_since_micros)
        for number, wait in enumerate(flight.waits):
            moments[f"wait {number}"] = (wait.entered, wait.entered_micros)
            moments[f"wait {number} end"] = (wait.until, wait.until_micros)
        for number, held in enumerate(flight.holdings):
            moments[f"holding {number}"] = (held.since, held.since_micros)
            moments[f"holding {number} end"] = (held.until, held.until_micros)
        wrong += [f"{flight.record.id}: {name}" for name, (moment, count) in moments.items()
                  if count != (0 if moment is None else micros(moment))]
    return wrong
