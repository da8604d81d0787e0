"""Surge windows: arrivals of a matching class are counted over a sliding window that switches a team on and off.

The arrivals and the active surges are in the store; every arrival also schedules a
`surge` timer at the end of its window, when the count is judged again without it.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Optional, Sequence
from zoneinfo import ZoneInfo

from ..calendars import iso_text, local_date, shift
from ..model import Org, Surge
from . import decisions as d
from .matching import MatchIndex
from .store import Store, TicketState, Timer
from .timers import TEXT, TimerKinds

__all__ = ["Surges"]


class Surges:
    """Counts arrivals and turns surges on and off; fires the `surge` timers."""

    def __init__(self, org: Org, store: Store, timers: TimerKinds):
        self.store, self.timers = store, timers
        self.surges = org.surges
        self.campaigns = [campaign for campaign in org.campaigns if campaign.surges]
        self.zone = ZoneInfo(org.info.timezone)
        self.by_id = {surge.id: surge for surge in org.surges}
        self._campaign_day: Optional[tuple[date, frozenset[str]]] = None
        self.by_class = MatchIndex(org.surges)
        """The surges that count a ticket class."""
        timers.register("surge", self._fire_window_end, TEXT)

    def active(self, at: datetime) -> list[Surge]:
        """The surges whose team is on: switched on by their count (or an automation), or for a campaign running at ``at``."""
        return self._on(self.surges, at)

    def _on(self, surges: Sequence[Surge], at: datetime) -> list[Surge]:
        """Those of ``surges`` whose team is on at ``at``."""
        if not surges:
            return []
        campaigning = self._campaigning(local_date(at, self.zone))  # the campaign's date at the instant, in any zone told
        return [surge for surge in surges if surge.id in campaigning or self.store.surge_active(surge.id)]

    def _campaigning(self, day: date) -> frozenset[str]:
        """The surges a campaign running on ``day`` switches on (the last day asked is remembered: the clock moves on)."""
        known = self._campaign_day
        if known is None or known[0] != day:
            known = self._campaign_day = (day, frozenset(surge for campaign in self.campaigns if day in campaign.dates
                                                         for surge in campaign.surges))
        return known[1]

    def arrived(self, ticket: TicketState, at: datetime) -> tuple[list[d.Decision], list[Surge]]:
        """A new ticket arrives in the window of each surge matching its class: the decisions, and those of the surges
        that are on once it is counted (as :meth:`active` tells), in file order, the only ones that may take it. Most
        tickets are of a class no surge counts: then no surge is asked whether it is on, nor a router handed any."""
        decisions: list[d.Decision] = []
        if not self.surges:
            return decisions, []
        counting = self.by_class.all(ticket.class_fields())
        for surge in counting:
            self.store.add_arrival(surge.id, at)
            if surge.usual_times is not None:  # the history the usual count is taken from
                self.store.expire_facts(at)
                self.store.add_fact(f"usual|{surge.id}", at, ticket.id, shift(at, surge.usual_weeks * timedelta(days=7) + surge.window, self.zone))
            judged, count = self._judge(surge, at)
            decisions.extend(judged)
            self.timers.schedule(shift(at, surge.window, self.zone), "surge", None, f"surge:{surge.id}:{iso_text(at)}:{count}", surge.id)
        return decisions, self._on(counting, at)

    def _judge(self, surge: Surge, at: datetime) -> tuple[list[d.Decision], int]:
        """Count the arrivals inside the window; switch the surge on at its threshold, off below its release."""
        count = self.store.arrivals_since(surge.id, shift(at, -surge.window, self.zone))
        return self._switch(surge, at, count), count

    def threshold(self, surge: Surge, at: datetime) -> int:
        """The count that switches the surge on at ``at``: its own, or that many times the usual count of the same window at
        the same time of the week over the last weeks, never below its own."""
        if surge.usual_times is None:
            return surge.threshold
        week = timedelta(days=7)
        key = f"usual|{surge.id}"
        seen = sum(self.store.count_facts(key, shift(at, -n * week - surge.window, self.zone), shift(at, -n * week, self.zone))
                   for n in range(1, surge.usual_weeks + 1))
        return max(surge.threshold, math.ceil(surge.usual_times * seen / surge.usual_weeks))

    def _switch(self, surge: Surge, at: datetime, count: int) -> list[d.Decision]:
        active = self.store.surge_active(surge.id)
        threshold = self.threshold(surge, at)
        if not active and count >= threshold:
            self.store.set_surge_active(surge.id, True)
            return [d.SurgeActivated(None, at, surge.id, surge.activate, count)]
        release = surge.release_below if surge.release_below is not None else threshold // 2
        if active and count < release:
            self.store.set_surge_active(surge.id, False)
            return [d.SurgeDeactivated(None, at, surge.id, surge.activate, count)]
        return []

    def _fire_window_end(self, timer: Timer) -> list[d.Decision]:
        surge = self.by_id.get(timer.data)
        return self._judge(surge, timer.due)[0] if surge else []
