"""`cxrules check`: static checks that an org works, one module per family of checks.

Each check is a generator registered with :func:`register` under a stable code; its
docstring's first line is its summary and the rest (with a failing and a passing example)
is what ``cxrules explain CODE`` prints and what docs/codes.md is generated from. Checks
yield :class:`Finding` objects; the runner, not the check, stamps the code and severity
(so severities can be configured) and drops findings the org accepts inline.
"""

from __future__ import annotations

import inspect
import tomllib
from bisect import bisect_left
from itertools import groupby
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Callable, Hashable, Iterable, Iterator, Optional, TypeVar

import networkx as nx

from ..calendars import BusinessCalendar, WeekSet, dated_week, week_set
from ..codes import register as register_code
from ..diagnostics import Diagnostic, Location, Related, Severity, sort_key
from ..model import Channel, Org, RoutingRule
from ..performance import paused_gc
from ..regions import Box, BoxIndex, coalesce, uncovered
from ..routing import Router

__all__ = ["Finding", "Check", "CHECKS", "register", "CheckConfig", "CheckContext", "CheckResult", "check", "run_checks",
           "load_config", "describe_dates", "describe_times", "on_dates", "regions_on_dates"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Finding:
    """What a check yields: the runner turns it into a :class:`Diagnostic`."""

    message: str
    location: Location
    hint: Optional[str] = None
    related: tuple[Related, ...] = ()
    subject: Optional[str] = None


@dataclass(frozen=True)
class Check:
    code: str
    name: str
    summary: str
    doc: str
    severity: Severity
    run: Callable[["CheckContext"], Iterable[Finding]]


CHECKS: dict[str, Check] = {}


def register(code: str, name: str, severity: Severity = Severity.WARNING):
    """Register a check function under ``code``; its docstring documents it."""

    def decorate(function):
        doc = inspect.getdoc(function) or ""
        summary, _, rest = doc.partition("\n")
        CHECKS[code] = Check(code, name, summary.strip(), rest.strip(), severity, function)
        register_code(code, name, summary.strip(), rest, severity)
        return function

    return decorate


@dataclass(frozen=True)
class CheckConfig:
    """Which checks run and how severe their findings are (CLI options or `[tool.cxrules]`)."""

    select: Optional[frozenset[str]] = None
    ignore: frozenset[str] = frozenset()
    severity: tuple[tuple[str, Severity], ...] = ()
    horizon: Optional[tuple[date, date]] = None
    """The real dates the dated checks look at (first, last); default: twelve months from today."""

    def enabled(self, code: str) -> bool:
        selected = self.select is None or any(code.startswith(prefix) for prefix in self.select)
        return selected and not any(code.startswith(prefix) for prefix in self.ignore)

    def severity_of(self, check: Check) -> Severity:
        return dict(self.severity).get(check.code, check.severity)

    def unknown_codes(self) -> list[str]:
        """Codes or prefixes in the configuration that name no check (a typo would silently select nothing)."""
        from ..codes import all_codes

        named = [*(self.select or ()), *self.ignore, *(code for code, _ in self.severity)]
        return [prefix for prefix in named if not any(code.startswith(prefix) for code in all_codes())]

    def merged(self, select=None, ignore=None) -> "CheckConfig":
        return replace(self, select=frozenset(select) if select else self.select,
                       ignore=self.ignore | frozenset(ignore or ()))


class ConfigError(ValueError):
    """A `[tool.cxrules]` table that cannot be used; the message says what is wrong."""


def load_config(start: Path) -> tuple[CheckConfig, Optional[Path]]:
    """Read `[tool.cxrules]` from the nearest pyproject.toml at or above ``start``."""
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                table = tomllib.loads(candidate.read_text(encoding="utf-8")).get("tool", {}).get("cxrules")
            except (tomllib.TOMLDecodeError, OSError) as error:
                raise ConfigError(f"{candidate}: {error}") from None
            if table is None:
                continue
            return _config_from_table(table, candidate), candidate
    return CheckConfig(), None


def _codes(table: dict, key: str, where: Path) -> frozenset[str] | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise ConfigError(f"{where}: [tool.cxrules] {key} must be a list of codes such as [\"CX4\", \"CX511\"], not {value!r}")
    return frozenset(code.strip().upper() for code in value)


def _config_from_table(table, where: Path) -> CheckConfig:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [tool.cxrules] must be a table, not {table!r}")
    unknown = set(table) - {"select", "ignore", "severity"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) in [tool.cxrules]: {', '.join(sorted(unknown))}; known: select, ignore, severity")
    levels = table.get("severity", {})
    if not isinstance(levels, dict):
        raise ConfigError(f"{where}: [tool.cxrules] severity must be a table such as {{ CX403 = \"error\" }}, not {levels!r}")
    severities = []
    for code, level in levels.items():
        try:
            severities.append((code.upper(), Severity(str(level).lower())))
        except ValueError:
            raise ConfigError(f"{where}: severity of {code} must be error, warning or info, not {level!r}") from None
    return CheckConfig(_codes(table, "select", where), _codes(table, "ignore", where) or frozenset(), tuple(severities))


class CheckContext:
    """The org plus what several checks need, computed once: graphs, hours, rule regions."""

    def __init__(self, org: Org, horizon: Optional[tuple[date, date]] = None, router: Optional[Router] = None):
        self.org = org
        self.router = router or Router(org)
        self.horizon = horizon or (date.today(), date.today() + timedelta(days=365))

    @cached_property
    def day_kinds(self) -> list[tuple["DatedContext", list[date]]]:
        """The dates of the horizon whose hours differ from the typical week (public holidays, make-up working days),
        grouped by kind: one context per kind, with that date's real hours in place of its weekday's. The cost grows
        with the kinds of day, not with the days."""
        calendars = {c.id: BusinessCalendar(c) for c in self.org.calendars}
        kinds: dict[tuple, list[date]] = {}
        seen: dict[tuple, Optional[tuple[WeekSet, ...]]] = {}
        day, last = self.horizon
        while day <= last:
            key = (day.weekday(), tuple(calendars[c.id].hours_on(day) for c in self.org.calendars))
            if key not in seen:  # a kind of day met before: its weeks are known
                dated = tuple(dated_week(calendars[c.id], day, self.zone) for c in self.org.calendars)
                seen[key] = dated if any(week != self.hours(c.id) for week, c in zip(dated, self.org.calendars)) else None
            if (weeks := seen[key]) is not None:
                kinds.setdefault((day.weekday(), weeks), []).append(day)
            day += timedelta(days=1)
        return [(DatedContext(self, dict(zip((c.id for c in self.org.calendars), weeks))), days)
                for (_, weeks), days in kinds.items()]

    @cached_property
    def zone(self) -> str:
        return self.org.info.timezone

    def hours(self, calendar_id: Optional[str]) -> WeekSet:
        if calendar_id is None:
            return WeekSet.full()
        hours = self._hours.get(calendar_id)
        if hours is None:
            hours = self._hours[calendar_id] = week_set(self.org.calendar(calendar_id), self.zone)
        return hours

    @cached_property
    def _hours(self) -> dict[str, WeekSet]:
        return {}

    def remember(self, compute: Callable[["CheckContext"], T]) -> T:
        """``compute(self)``, computed once per context: a check module's own analysis, shared by its checks and reused
        for every kind of day."""
        if compute not in self._remembered:
            self._remembered[compute] = compute(self)
        return self._remembered[compute]

    @cached_property
    def _remembered(self) -> dict:
        return {}

    def role_hours(self, role_id: str) -> WeekSet:
        """When at least one agent of the role is on shift (remembered: staffing asks it of every rule's owner)."""
        hours = self._role_hours.get(role_id)
        if hours is None:
            hours = WeekSet()
            for group in self.org.role(role_id).staff:
                hours = hours | self.hours(group.shift)
            self._role_hours[role_id] = hours
        return hours

    @cached_property
    def _role_hours(self) -> dict[str, WeekSet]:
        return {}

    @cached_property
    def values(self) -> tuple[frozenset, ...]:
        org = self.org
        return (frozenset(c.id for c in org.categories), frozenset(c.id for c in org.channels),
                frozenset(s.id for s in org.segments) or frozenset({"any"}), frozenset(org.info.priorities),
                frozenset({True, False}))

    def box(self, match, hours: WeekSet) -> Optional[Box]:
        """The region of a match (with hours); None when it can match nothing."""
        dims = (match.categories, match.channels, match.segments, match.priorities,
                None if match.member is None else frozenset({match.member}))
        sets = tuple(self.values[i] if values is None else frozenset(values) & self.values[i] for i, values in enumerate(dims))
        return Box(sets, hours) if all(sets) and hours else None

    @cached_property
    def rule_boxes(self) -> dict[str, Box]:
        """Each rule's region (rules that can match nothing have none), in the order rules are tried."""
        return {rule.id: box for rule in self.router.rules if (box := self.rule_box(rule)) is not None}

    def rule_box(self, rule: RoutingRule) -> Optional[Box]:
        """The tickets and hours ``rule`` matches (None: none)."""
        return self.box(rule.match, self.hours(rule.during))

    @cached_property
    def channel_spaces(self) -> list[tuple[Channel, Box]]:
        """Per channel, every ticket it can receive during its opening hours."""
        spaces: list[tuple[Channel, Box]] = []
        for channel in self.org.channels:
            categories = channel.categories if channel.categories is not None else self.values[0]
            hours = self.hours(channel.hours)
            if categories and hours:
                spaces.append((channel, Box((frozenset(categories), frozenset({channel.id}), *self.values[2:]), hours)))
        return spaces

    @cached_property
    def rule_position(self) -> dict[str, int]:
        """Rule id → its place in the order rules are tried."""
        return {rule.id: index for index, rule in enumerate(self.router.rules)}

    @cached_property
    def rule_order(self) -> dict[str, int]:
        """Rule id → its index in ``org.routing``."""
        return {rule.id: index for index, rule in enumerate(self.org.routing)}

    def describe_categories(self, values: frozenset) -> str:
        return " | ".join(self._compress_categories(values))

    @cached_property
    def receivable(self) -> list[Box]:
        """Every ticket some channel can receive while open, as few regions as possible."""
        return coalesce(space for _, space in self.channel_spaces)

    @cached_property
    def rule_index(self) -> BoxIndex:
        """The regions of the rules that have one, in the order they are tried (``indexed_rules``), indexed by the
        values they hold: which rules meet a region is found without trying every rule."""
        return BoxIndex(self.rule_boxes.values(), self.values)

    @cached_property
    def indexed_rules(self) -> list[RoutingRule]:
        """The rules that have a region, in the order they are tried: ``rule_index.boxes[i]`` is the region of the i-th."""
        return [rule for rule in self.router.rules if rule.id in self.rule_boxes]

    @cached_property
    def _indexed_positions(self) -> list[int]:
        """The places of ``indexed_rules`` in the order rules are tried (ascending)."""
        return [self.rule_position[rule.id] for rule in self.indexed_rules]

    @cached_property
    def channel_rules(self) -> dict[str, list[int]]:
        """Per channel id, places in ``rule_index`` of the rules that take something the channel receives while open, in
        the order they are tried: the gap and staffing analyses each start from them."""
        return {channel.id: self.places_meeting(space) for channel, space in self.channel_spaces}

    @cached_property
    def gap_regions(self) -> list[tuple[Channel, list[Box]]]:
        """Per channel, the tickets it receives while open that no rule owns (what CX401 reports)."""
        boxes = self.rule_index.boxes
        return [(channel, coalesce(uncovered(space, [boxes[place] for place in self.channel_rules[channel.id]])))
                for channel, space in self.channel_spaces]

    @cached_property
    def overlap_regions(self) -> list[tuple[RoutingRule, RoutingRule, list[Box]]]:
        """(first rule, second rule, regions): equal precedence, different owners, both claim (what CX402 reports)."""
        rules = self.indexed_rules  # rules of equal precedence follow each other in the order rules are tried
        found: list[tuple[RoutingRule, RoutingRule, list[Box]]] = []
        for _, tied in groupby(range(len(rules)), key=lambda place: rules[place].precedence):
            places = list(tied)
            group = range(places[0], places[-1] + 1)
            if len({rules[place].to for place in group}) < 2:
                continue
            for first, second in self._pairs_among(group):
                if first.to != second.to and (regions := self.claimed_by_both(first, second)):
                    found.append((first, second, regions))
        return found

    def claimed_by_both(self, first: RoutingRule, second: RoutingRule) -> list[Box]:
        """The tickets channels receive that both rules claim and no rule tried before ``first`` takes (coalesced)."""
        both = self.rule_boxes[first.id].intersect(self.rule_boxes[second.id])
        if both is None:
            return []
        regions: list[Box] = []
        for space in self.receivable:
            claimed = both.intersect(space)
            if claimed is not None:
                regions.extend(uncovered(claimed, self.earlier_boxes(first, claimed)))
        return coalesce(regions) if regions else []

    def _pairs_among(self, places: range) -> Iterator[tuple[RoutingRule, RoutingRule]]:
        """Pairs of the rules at ``places`` in ``indexed_rules`` (each with a later one) whose regions meet, found
        through ``rule_index``, so the cost grows with the pairs that meet, not with every pair: for each rule, the
        later rules in the order they are tried, whatever the size of the group (and whatever the hash seed)."""
        rules, index = self.indexed_rules, self.rule_index
        for place in places:
            for other in index.meeting(index.boxes[place], start=place + 1, stop=places.stop):
                yield rules[place], rules[other]

    def places_meeting(self, region: Box) -> list[int]:
        """Places in ``rule_index`` (and ``indexed_rules``) of the rules whose regions meet ``region``, in the order they
        are tried; found through the index, so only rules that can meet it are tried."""
        return self.rule_index.meeting(region)

    def earlier_places(self, rule: RoutingRule, region: Box) -> list[int]:
        """``places_meeting`` of the rules tried before ``rule``."""
        return self.rule_index.meeting(region, stop=bisect_left(self._indexed_positions, self.rule_position[rule.id]))

    def earlier_rules(self, rule: RoutingRule, region: Box) -> list[str]:
        """Ids of rules tried before ``rule`` whose regions meet ``region``, in the order they are tried."""
        rules = self.indexed_rules
        return [rules[place].id for place in self.earlier_places(rule, region)]

    def earlier_boxes(self, rule: RoutingRule, region: Box) -> list[Box]:
        """Regions of rules tried before ``rule`` that meet ``region``, in the order they are tried."""
        boxes = self.rule_index.boxes
        return [boxes[place] for place in self.earlier_places(rule, region)]

    def ownership(self, spaces: Optional[list[Box]] = None) -> list[tuple[str, Optional[str], Box]]:
        """(owner, rule id or None for the fallback queue, region) covering ``spaces`` (default: what channels receive).

        Rules in the order they are tried each own their region less the regions of the rules
        tried before them; what no rule matches goes to the fallback queue. The regions are
        disjoint and carry their hours, so the owner of a ticket at an hour is read off them.
        """
        spaces = self.receivable if spaces is None else spaces
        owned: list[tuple[str, Optional[str], Box]] = []
        for rule in self.router.rules:
            box = self.rule_boxes.get(rule.id)
            if box is None:
                continue
            for space in spaces:
                part = box.intersect(space)
                if part is not None:
                    owned.extend((rule.to, rule.id, region) for region in uncovered(part, self.earlier_boxes(rule, part)))
        fallback = self.org.info.fallback_queue
        boxes = self.rule_index.boxes
        for space in spaces:
            owned.extend((fallback, None, region) for region in uncovered(space, [boxes[place] for place in self.places_meeting(space)]))
        return owned

    @cached_property
    def reporting_graph(self) -> nx.DiGraph:
        graph = nx.DiGraph()
        graph.add_nodes_from(role.id for role in self.org.roles)
        graph.add_edges_from((role.reports_to, role.id) for role in self.org.roles if role.reports_to)
        return graph

    def describe(self, box: Box) -> str:
        """A region in words: `complaint × wechat × any segment × any priority, Sat–Sun`."""
        parts = []
        names = ("category", "channel", "segment", "priority")
        for index, name in enumerate(names):
            values = box.sets[index]
            if values == self.values[index]:
                parts.append(f"any {name}")
            else:
                shown = self._compress_categories(values) if name == "category" else sorted(values)
                parts.append(" | ".join(shown))
        if box.sets[4] != self.values[4]:
            parts.append("members" if True in box.sets[4] else "non-members")
        return " × ".join(parts) + f", {box.hours.describe()}"

    def _compress_categories(self, values: frozenset) -> list[str]:
        """Name a parent alone when all its sub-categories are in the set too."""
        shown = []
        for category in self.org.categories:
            if category.id not in values or (category.parent and self._whole(category.parent, values)):
                continue
            has_children = any(c.parent == category.id for c in self.org.categories)
            shown.append(category.id if self._whole(category.id, values) or not has_children else f"{category.id} (itself)")
        shown.extend(sorted(v for v in values if v not in {c.id for c in self.org.categories}))
        return shown

    def _whole(self, category: str, values: frozenset) -> bool:
        return all(c in values for c in self.org.descendants(category))


@dataclass(frozen=True)
class CheckResult:
    diagnostics: tuple[Diagnostic, ...]
    accepted: tuple[Diagnostic, ...] = field(default=())


def _is_accepted(org: Org, diagnostic: Diagnostic) -> bool:
    return any(a.code == diagnostic.code and (a.at is None or a.at == diagnostic.subject) for a in org.accepted)


class DatedContext(CheckContext):
    """The org on one kind of real day: each calendar's hours are those of such a date (see :meth:`CheckContext.day_kinds`)."""

    def __init__(self, typical: CheckContext, weeks: dict[str, WeekSet]):
        super().__init__(typical.org, typical.horizon, typical.router)  # the order rules are tried is the same on every date
        self._weeks = weeks
        self._typical = typical
        self.changed_calendars = frozenset(id_ for id_, week in weeks.items() if week != typical.hours(id_))
        """Ids of the calendars whose hours in such a week differ from the typical week's: only what depends on them can
        differ from the typical week's analysis."""

    def hours(self, calendar_id: Optional[str]) -> WeekSet:
        return self._weeks[calendar_id] if calendar_id is not None else WeekSet.full()

    def rule_box(self, rule: RoutingRule) -> Optional[Box]:
        """The typical week's region, computed again only for a rule whose `during` has other hours on such a date."""
        return super().rule_box(rule) if rule.during in self.changed_calendars else self._typical.rule_boxes.get(rule.id)

    @cached_property
    def _same_rules(self) -> bool:
        """Whether the same rules have a region as in the typical week: then the typical week's index and lists of rules
        serve, at this date's hours (not when a calendar open on such dates only gives a rule its first hours)."""
        return self.rule_boxes.keys() == self._typical.rule_boxes.keys()

    @cached_property
    def rule_index(self) -> BoxIndex:
        """The typical week's index at this date's hours when the same rules have a region: the values that decide where a
        region is filed are the same on every date."""
        if self._same_rules:
            return self._typical.rule_index.at_hours(self.rule_boxes.values())
        return super().rule_index

    @cached_property
    def indexed_rules(self) -> list[RoutingRule]:
        return self._typical.indexed_rules if self._same_rules else super().indexed_rules

    @cached_property
    def _indexed_positions(self) -> list[int]:
        return self._typical._indexed_positions if self._same_rules else super()._indexed_positions

    @cached_property
    def rule_position(self) -> dict[str, int]:
        return self._typical.rule_position  # the router, and so the order rules are tried, is the typical week's


def describe_dates(days: Iterable[date]) -> str:
    """`2025-10-01 to 10-07, 2026-01-01`: dates in order, runs of consecutive days joined."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(f"{run[0]}" if len(run) == 1 else f"{run[0]} to {run[-1]:%m-%d}" for run in runs)


def describe_times(intervals: Iterable[tuple[int, int]]) -> str:
    """Minutes of a day as `09:00–18:00, 20:00–22:00`."""
    return ", ".join(f"{start // 60:02d}:{start % 60:02d}–{end // 60:02d}:{end % 60:02d}" for start, end in intervals)


def regions_on_dates(context: "CheckContext", regions_of: Callable[["CheckContext"], Iterable[tuple[K, Box]]]
                     ) -> list[tuple[K, tuple[frozenset, ...], tuple, list[date]]]:
    """Regions an analysis finds on some real dates only: for each kind of day of the horizon, ``regions_of`` that day
    (pairs of a key, such as a channel id, and a region) less what it finds in the typical week under the same key.
    Returned as (key, the region's tickets, times of day in minutes from midnight, dates), the same tickets at the same
    times on dates of any weekday joined into one."""
    typical: dict[K, list[Box]] = {}
    for key, region in regions_of(context):
        typical.setdefault(key, []).append(region)
    found: dict[tuple, list[date]] = {}
    for dated, days in context.day_kinds:
        start = days[0].weekday() * 1440
        day_hours = WeekSet.of([(start, start + 1440)])
        for key, region in regions_of(dated):
            hours = region.hours & day_hours
            if hours:
                for part in uncovered(region.replace(len(region.sets), hours), typical.get(key, [])):
                    found.setdefault((key, part.sets, part.hours.shifted(-start).intervals), []).extend(days)
    return [(key, sets, times, sorted(days)) for (key, sets, times), days in found.items()]


def on_dates(context: "CheckContext", hours_of: Callable[["CheckContext"], WeekSet]) -> list[tuple[list[date], tuple]]:
    """Hours a question adds on some real dates only: for each kind of day of the horizon, ``hours_of`` its analysis on
    that day less ``hours_of`` the typical week; grouped by time of day (minutes from midnight), with their dates."""
    typical = hours_of(context)
    found: dict[tuple, list[date]] = {}
    for dated, days in context.day_kinds:
        start = days[0].weekday() * 1440
        extra = (hours_of(dated) - typical) & WeekSet.of([(start, start + 1440)])
        if extra:
            found.setdefault(extra.shifted(-start).intervals, []).extend(days)
    return [(sorted(days), times) for times, days in found.items()]


def run_checks(org: Org, config: CheckConfig = CheckConfig()) -> CheckResult:
    """Run every enabled check; findings the org accepts inline are returned apart."""
    kept: list[Diagnostic] = []
    accepted: list[Diagnostic] = []
    with paused_gc():
        _run(CheckContext(org, config.horizon), org, config, kept, accepted)
        # sorted while the collector still sleeps and the analyses are already freed: switched back on earlier, its
        # first pass walks every object the analyses allocated (seconds on a large org) for nothing
        return CheckResult(tuple(sorted(kept, key=sort_key)), tuple(sorted(accepted, key=sort_key)))


def _run(context: "CheckContext", org: Org, config: CheckConfig, kept: list, accepted: list) -> None:
    for code in sorted(CHECKS):
        if not config.enabled(code):
            continue
        check_ = CHECKS[code]
        severity = config.severity_of(check_)
        for finding in check_.run(context):
            diagnostic = Diagnostic(code, finding.message, finding.location, severity, finding.hint, finding.related,
                                    finding.subject)
            (accepted if org.accepted and _is_accepted(org, diagnostic) else kept).append(diagnostic)


def check(org: Org, config: CheckConfig = CheckConfig()) -> list[Diagnostic]:
    """The findings of every enabled check on a validated org (accepted ones left out)."""
    return list(run_checks(org, config).diagnostics)


def check_paths(paths, config: CheckConfig = CheckConfig()) -> tuple[list[str], list[Diagnostic], int]:
    """Validate and check every org under ``paths``.

    Returns the files read, every diagnostic (validation problems, then check findings of
    the orgs that validated) and how many findings were accepted inline.
    """
    with paused_gc():  # validation and checks each pause the collector; switched on between them, its first pass walks
        return _check_paths(paths, config)  # every object of the orgs (1.4 s of 80,000 rules), which form no cycles


def _check_paths(paths, config: CheckConfig) -> tuple[list[str], list[Diagnostic], int]:
    """``check_paths``, in a frame of its own: the orgs are let go when it returns, before the collector is switched on."""
    from ..validation import validate_paths

    results, diagnostics = validate_paths(paths)
    files: list[str] = []
    accepted = 0
    for result in results:
        files.extend(result.files or (result.path,))
        diagnostics.extend(result.diagnostics)
        if result.org is not None:
            outcome = run_checks(result.org, config)
            diagnostics.extend(outcome.diagnostics)
            accepted += len(outcome.accepted)
    return files, diagnostics, accepted


# Importing the check modules registers their checks (kept last: they import from here).
from . import automations, duties, escalation, followups, handoffs, routing, staffing, structure  # noqa: E402,F401
