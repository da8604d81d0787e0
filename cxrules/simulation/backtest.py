"""A back-test that says how far to trust the simulation: the log's own figures beside the replay's.

The as-is org runs on the log's own arrivals; both sides are measured with the same yardstick
(the org's SLA targets on its calendars, the same window) and compared the way the research
on simulation quality does (Chapela-Campa et al., "Can I trust my simulation model?", BPM
2023): differences of shares in percentage points, of medians in per cent, and distances
between whole distributions (Wasserstein, in hours and relative to the log's mean;
Kolmogorov–Smirnov). Each comparison has a tolerance; the verdict says which are met.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Optional
from zoneinfo import ZoneInfo

from ..calendars import BusinessCalendar
from ..engine.slas import sla_of_class
from ..model import Org
from .figures import SimulationResult, Window, attainment_table, stats, wip_series
from .history import TicketRecord
from .journeys import WorkModel
from .mapping import LogMapping, Unmapped
from .replay import simulate

__all__ = ["Tolerances", "Comparison", "Backtest", "backtest", "log_breaches"]


@dataclass(frozen=True)
class Tolerances:
    """How close the simulation must come to the log (the issue's figures by default)."""

    share_points: float = 3.0
    """SLA attainment and reassignment share: at most this many percentage points apart."""
    median_relative: float = 0.15
    """Median resolution time: at most this share apart."""


@dataclass(frozen=True)
class Comparison:
    """One figure, log against simulation, and whether it is within its tolerance (None: not compared)."""

    figure: str
    log: Optional[float]
    simulated: Optional[float]
    difference: Optional[float]
    unit: str
    within: Optional[bool]

    def to_dict(self) -> dict:
        return {"figure": self.figure, "log": self.log, "simulated": self.simulated, "difference": self.difference,
                "unit": self.unit, "within_tolerance": self.within}


@dataclass(frozen=True)
class Backtest:
    """The log's figures, each run's figures (as-is, and what-if with a model) and their comparisons."""

    log: dict
    runs: dict
    comparisons: dict
    tolerances: Tolerances
    results: dict = field(repr=False, default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether the as-is run is within every tolerance it is held to."""
        return all(c.within is not False for c in self.comparisons.get("as-is", []))

    def to_dict(self) -> dict:
        return {"log": self.log, "runs": self.runs, "passed": self.passed,
                "tolerances": {"share_points": self.tolerances.share_points, "median_relative": self.tolerances.median_relative},
                "comparisons": {mode: [c.to_dict() for c in comparisons] for mode, comparisons in self.comparisons.items()}}


def log_breaches(org: Org, record: TicketRecord, calendars: dict[str, BusinessCalendar], log_end: datetime) -> Optional[set]:
    """The SLA targets the log shows breached for ``record`` (None: no SLA covers it), judged as the engine would.

    Targets count from arrival on the SLA's calendar and move by the pauses the SLA pauses
    for; a target not met when the log ends counts as breached only if it had passed by then.
    """
    sla = sla_of_class(org, (record.category, record.channel, record.segment, record.priority, record.member))
    if sla is None:
        return None
    calendar = calendars[sla.calendar]
    pauses = sorted((p for stint in record.stints for p in stint.pauses), key=lambda p: p.start)
    breached = set()
    answered = min((m for m in (record.first_response, record.resolved) if m is not None), default=None)
    for target, length, met_at in (("first_response", sla.first_response, answered),  # a resolution answers too, as in the engine
                                   ("resolution", sla.resolution, record.resolved)):
        if length is None:
            continue
        due = calendar.add(record.created, length)
        for pause in (p for p in pauses if sla.pauses(target, p.reason)):  # the waiting that stops this target's clock
            if due is None or pause.start >= due or (met_at is not None and pause.start >= met_at):
                break
            due = calendar.add(pause.end, calendar.between(pause.start, due)) if pause.end else None
        if due is not None and (met_at or log_end) > due:
            breached.add(target)
    return breached


def _log_figures(org: Org, records: list[TicketRecord], window: Window, log_end: datetime) -> tuple[dict, dict]:
    """The log's figures (as a dict) and its raw series for the distances."""
    calendars = {c.id: BusinessCalendar(c) for c in org.calendars}
    counted = [r for r in records if window.counts(r.created)]
    judged = [(r, b) for r in counted if (b := log_breaches(org, r, calendars, log_end)) is not None]
    resolution = [(r.resolved - r.created).total_seconds() / 60 for r in counted if r.resolved]
    entries = Counter(stint.role for r in counted for stint in r.stints)
    figures = {
        "tickets": len(counted), "sla_attainment": attainment_table(judged),
        "resolution_minutes": {"all": stats(resolution)},
        "reassigned_share": round(sum(r.reassigned for r in counted) / len(counted), 4) if counted else None,
        "made_sla_share": _made_sla_share(counted), "role_entries": dict(sorted(entries.items())),
        "unresolved": sum(r.resolved is None for r in counted),
        "wip_series": wip_series(((r.created, r.resolved) for r in counted), window.counted_from, window.to, ZoneInfo(org.info.timezone))
        if window.counted_from and window.to else [],
    }
    return figures, {"resolution": resolution}


def _made_sla_share(records: list[TicketRecord]) -> Optional[float]:
    """The log's own SLA verdict, where it records one: shown beside ours, never used to judge."""
    verdicts = [r.made_sla for r in records if r.made_sla is not None]
    return round(sum(verdicts) / len(verdicts), 4) if verdicts else None


def backtest(org: Org, records: list[TicketRecord], mapping: Optional[LogMapping] = None, unmapped: Optional[Unmapped] = None, *,
             model: Optional[WorkModel] = None, window=None, warm_up: timedelta = timedelta(0), seed: Optional[int] = None,
             tolerances: Tolerances = Tolerances(), progress: Optional[Callable[[int, int], None]] = None) -> Backtest:
    """Run the as-is replay (and, given a calibrated ``model``, the what-if replay) on the log's arrivals; compare each with the log."""
    records = sorted(records, key=lambda r: (r.created, r.row))
    log_end = max((r.last_moment for r in records), default=None)
    results: dict[str, SimulationResult] = {"as-is": simulate(org, records, mapping, unmapped, progress, mode="as-is", window=window,
                                                              warm_up=warm_up, seed=seed, keep_flights=True)}
    if model is not None:
        results["what-if"] = simulate(org, records, mapping, unmapped, progress, mode="what-if", model=model, window=window,
                                      warm_up=warm_up, seed=seed, keep_flights=True)
    scope = results["as-is"].scope
    log, raw = _log_figures(org, records, scope, log_end) if log_end and scope else ({}, {"resolution": []})
    comparisons = {mode: _compare(log, raw, result, tolerances) for mode, result in results.items()} if log else {}
    runs = {mode: {"resolution_minutes": r.resolution_minutes["all"], "sla_attainment": r.attainment, "moves": r.moves,
                   "open_at_end": r.open_at_end, "role_entries": _role_entries(r), "wip_series": r.wip_series}
            for mode, r in results.items()}
    return Backtest(log, runs, comparisons, tolerances, results)


def _role_entries(result: SimulationResult) -> dict:
    """How many times tickets came to each role in the replay (taken or not), counted tickets only."""
    counts: Counter = Counter()
    for flight in _counted_flights(result):
        counts.update(wait.role for wait in flight.waits)
    return dict(sorted(counts.items()))


def _compare(log: dict, raw: dict, result: SimulationResult, tolerances: Tolerances) -> list[Comparison]:
    comparisons = []

    def share(figure: str, logged: Optional[float], simulated: Optional[float], decides: bool = True) -> None:
        """A share compared in percentage points; ``decides``: whether its tolerance counts in the verdict."""
        if logged is None or simulated is None:
            comparisons.append(Comparison(figure, logged, simulated, None, "pp", None))
            return
        points = round((simulated - logged) * 100, 2)
        comparisons.append(Comparison(figure, round(logged * 100, 2), round(simulated * 100, 2), points, "pp",
                                      abs(points) <= tolerances.share_points if decides else None))

    for target in ("first_response", "resolution"):
        share(f"SLA {target.replace('_', ' ')} attained, all", log["sla_attainment"][target]["all"]["all"]["rate"],
              result.attainment[target]["all"]["all"]["rate"])
        for priority, logged in log["sla_attainment"][target]["priority"].items():  # small groups: shown, not judged
            share(f"  priority {priority}", logged["rate"], result.attainment[target]["priority"].get(priority, {}).get("rate"), False)
    share("reassigned share", log["reassigned_share"], result.moves["reassigned_share"])
    logged_median, simulated_median = log["resolution_minutes"]["all"]["p50"], result.resolution_minutes["all"]["p50"]
    if logged_median and simulated_median is not None:
        relative = round((simulated_median - logged_median) / logged_median, 4)
        comparisons.append(Comparison("median resolution time", round(logged_median / 60, 2), round(simulated_median / 60, 2),
                                      round(relative * 100, 1), "% (hours)", abs(relative) <= tolerances.median_relative))
    logged_p90, simulated_p90 = log["resolution_minutes"]["all"]["p90"], result.resolution_minutes["all"]["p90"]
    if logged_p90 and simulated_p90 is not None:
        comparisons.append(Comparison("p90 resolution time", round(logged_p90 / 60, 2), round(simulated_p90 / 60, 2),
                                      round((simulated_p90 - logged_p90) / logged_p90 * 100, 1), "% (hours)", None))
    simulated = [(f.first_resolved_at - f.record.created).total_seconds() / 60 for f in _counted_flights(result) if f.first_resolved_at]
    if raw["resolution"] and simulated:
        from scipy.stats import ks_2samp, wasserstein_distance  # the distances of the simulation-quality literature, maintained upstream

        distance = wasserstein_distance(raw["resolution"], simulated) / 60
        mean = sum(raw["resolution"]) / len(raw["resolution"]) / 60
        comparisons.append(Comparison("resolution time, Wasserstein distance", None, round(distance, 2), round(distance / mean * 100, 1)
                                      if mean else None, "h (% of the log's mean)", None))
        comparisons.append(Comparison("resolution time, Kolmogorov–Smirnov", None, round(float(ks_2samp(raw["resolution"], simulated).statistic), 4),
                                      None, "statistic", None))
    logged_wip = [value for _, value in log["wip_series"]]
    simulated_wip = [value for _, value in result.wip_series]
    if logged_wip and len(logged_wip) == len(simulated_wip) and sum(logged_wip):
        gap = sum(abs(a - b) for a, b in zip(logged_wip, simulated_wip)) / sum(logged_wip)
        comparisons.append(Comparison("work in progress over time, mean gap", round(sum(logged_wip) / len(logged_wip), 1),
                                      round(sum(simulated_wip) / len(simulated_wip), 1), round(gap * 100, 1), "% of the log's", None))
    return comparisons


def _counted_flights(result: SimulationResult):
    return (f for f in result.flights.values() if result.scope is None or result.scope.counts(f.record.created))
