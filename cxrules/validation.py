"""Validation in layers: YAML → schema → references → semantic basics → the typed model.

Every layer runs on whatever the earlier ones left intact, so one run reports every
problem of every file together. An item with schema errors is left out of the later layers
(its id still counts as defined, so it causes no follow-on "unknown id" noise).
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache, partial
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import networkx as nx

from .diagnostics import Diagnostic, Location, Related, Severity, sort_key
from .performance import paused_gc
from .loading import Document, JsonPath, LoadLimits, load_file, load_included, org_files, resolve_include
from .model import (
    DAYS, DEFAULT_PRIORITIES, DURATION_FORM, Accepted, Actions, Automation, Calendar, Campaign, Conditions, Category, Channel, Duty, EscalationLevel, EscalationPath,
    FollowUp, Handoff, Interval, Match, Org, OrgInfo, Role, RoutingRule, Segment, Skill, Sla, Source,
    MAX_DURATION, MAX_WORKING_DAYS, StaffGroup, Surge, Trigger, Unit, Workflow, WorkflowState, duration_problem, parse_duration,
)
from .schema import closest, describe_path, schema_problems

__all__ = ["ValidationResult", "validate_path", "validate_paths", "load_org", "OrgError"]

SECTIONS = ("calendars", "units", "roles", "duties", "channels", "categories", "segments", "skills", "slas",
            "routing", "handoffs", "escalations", "followups", "surges", "workflows", "automations", "campaigns", "accept")


@dataclass(frozen=True)
class ValidationResult:
    """What validating one org produced: the model when there were no errors, and every diagnostic."""

    path: str
    org: Org | None
    diagnostics: tuple[Diagnostic, ...]
    files: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.org is not None


class OrgError(Exception):
    """Raised by :func:`load_org` when an org file does not validate; carries the diagnostics."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(f"{first.location}: {first.code} {first.message}" if first else "invalid org")


def load_org(path: str | Path, limits: LoadLimits = LoadLimits()) -> Org:
    """Load and validate an org file; the public entry point for services."""
    result = validate_path(path, limits)
    if result.org is None:
        raise OrgError(d for d in result.diagnostics if d.severity is Severity.ERROR)
    return result.org


def validate_path(path: str | Path, limits: LoadLimits = LoadLimits()) -> ValidationResult:
    """Validate the org whose main file is ``path`` (with everything it includes)."""
    with paused_gc():
        return _validate(path, limits)


def _validate(path: str | Path, limits: LoadLimits) -> ValidationResult:
    documents, diagnostics = _load_sources(Path(path), limits)
    files = tuple(document.file for document in documents)
    if not documents:
        return ValidationResult(str(path), None, tuple(sorted(diagnostics, key=sort_key)), files)
    broken: set[tuple[str, JsonPath]] = set()
    for document in documents:
        for at, diagnostic in schema_problems(document):
            diagnostics.append(diagnostic)
            broken.add((document.file, at[:2] if len(at) >= 2 and at[0] in SECTIONS else ()))
    items = _Items(documents, broken)
    diagnostics.extend(_check_root(documents))
    diagnostics.extend(_check_ids(items))
    diagnostics.extend(_check_references(items))
    diagnostics.extend(_check_values(items))
    diagnostics.extend(_check_trees(items))
    diagnostics.sort(key=sort_key)
    if any(d.severity is Severity.ERROR for d in diagnostics):
        return ValidationResult(str(path), None, tuple(diagnostics), files)
    return ValidationResult(str(path), _build(items), tuple(diagnostics), files)


# ---------------------------------------------------------------- files and includes

def _load_sources(root: Path, limits: LoadLimits) -> tuple[list[Document], list[Diagnostic]]:
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    document, problems = load_file(root, limits, display=_display(root))
    diagnostics.extend(problems)
    if document is None:
        return documents, diagnostics
    documents.append(document)
    pending: list[tuple[Document, Path, tuple[Path, ...]]] = [(document, root.resolve(), (root.resolve(),))]
    org_folder = root.resolve().parent  # includes stay inside it (resolve_include)
    while pending:
        parent, parent_path, chain = pending.pop(0)
        includes = parent.get(("include",))
        if not isinstance(includes, list):
            continue
        for index, entry in enumerate(includes):
            if not isinstance(entry, str):
                continue
            where = parent.location(("include", index))
            target = resolve_include(entry, parent_path.parent, org_folder, where)
            if not isinstance(target, Path):  # absolute, leaving the org's folder, or not .yaml (the schema says so)
                diagnostics.extend([target] if target else [])
                continue
            if target in chain:
                diagnostics.append(Diagnostic("CX131", f"including `{entry}` closes a cycle: {' → '.join(p.name for p in chain + (target,))}",
                                              where, hint="remove this include"))
                continue
            if any(Path(d.file).resolve() == target for d in documents):
                continue  # included twice through different files: read once
            child, problems = load_included(target, entry, where, limits, display=_display(target))
            if child is None:
                for problem in problems:
                    if problem.code == "CX001":
                        reason = problem.message.removeprefix("cannot read file: ")
                        diagnostics.append(Diagnostic("CX130", f"included file `{entry}` cannot be read: {reason}", where,
                                                      hint=_include_hint(parent_path.parent, entry)))
                    else:
                        diagnostics.append(problem)
                continue
            diagnostics.extend(problems)
            documents.append(child)
            pending.append((child, target, chain + (target,)))
    return documents, diagnostics


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError, RuntimeError):  # outside the working folder; or a symlink loop (the reader says so)
        return str(path)


def _include_hint(folder: Path, entry: str) -> str | None:
    candidates = [str(p.relative_to(folder)) for p in folder.rglob("*.y*ml")] if folder.is_dir() else []
    suggestion = closest(entry, candidates[:500], cutoff=0.85)
    return f"did you mean `{suggestion}`?" if suggestion else "paths are relative to the including file"


def _check_root(documents: list[Document]) -> Iterator[Diagnostic]:
    root, *fragments = documents
    if isinstance(root.data, dict) and root.data.get("kind", "Organisation") == "Organisation" and "org" not in root.data:
        yield Diagnostic("CX133", "the main file has no `org` section", root.location(()),
                         hint="add `org:` with id, name, timezone, calendar and fallback_queue")
    elif isinstance(root.data, dict) and root.data.get("kind") == "Fragment":
        yield Diagnostic("CX133", "this is a fragment; validate the org file that includes it", root.location(("kind",)))
    for fragment in fragments:
        if not isinstance(fragment.data, dict):
            continue
        if fragment.data.get("kind") != "Fragment":
            yield Diagnostic("CX132", "an included file must say `kind: Fragment`", fragment.location(("kind",) if "kind" in fragment.data else ()),
                             hint="add `kind: Fragment` at the top")
        for key in ("org", "include"):
            if key in fragment.data:
                yield Diagnostic("CX132", f"a fragment may not set `{key}`; only the main file does", fragment.location((key,), key=True))


# ---------------------------------------------------------------- items across files

@dataclass
class _Item:
    document: Document
    path: JsonPath
    data: dict
    parent: str | None = None
    """For categories: the id of the enclosing category."""

    def get(self, *keys: str, default: Any = None) -> Any:
        value: Any = self.data
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value

    def at(self, *subpath, key: bool = False) -> Location:
        return self.document.location(self.path + subpath, key=key)

    @property
    def id(self) -> str | None:
        value = self.data.get("id")
        return value if isinstance(value, str) else None

    @property
    def key(self) -> str:
        """The id of an item that passed the schema, which requires one (for building the model)."""
        return self.data["id"]

    @property
    def source(self) -> Source:
        return Source(self.document, self.path)


class _Items:
    """Every well-formed item of every section, across the main file and its fragments."""

    def __init__(self, documents: list[Document], broken: set[tuple[str, JsonPath]]):
        self.documents = documents
        self.root = documents[0]
        self.sections: dict[str, list[_Item]] = {section: [] for section in SECTIONS}
        self.defined: dict[str, set[str]] = {section: set() for section in SECTIONS}
        for document in documents:
            if not isinstance(document.data, dict):
                continue
            for section in SECTIONS:
                entries = document.data.get(section)
                if not isinstance(entries, list):
                    continue
                for index, entry in enumerate(entries):
                    if not isinstance(entry, dict):
                        continue
                    item = _Item(document, (section, index), entry)
                    if item.id:
                        self.defined[section].add(item.id)
                    if (document.file, (section, index)) not in broken:
                        self.sections[section].append(item)
        self.categories = list(self._walk_categories())
        self.defined["categories"] = {item.id for item in self.categories if item.id}
        org = self.root.data.get("org") if isinstance(self.root.data, dict) else None
        self.org = org if isinstance(org, dict) else {}
        priorities = self.org.get("priorities")
        self.priorities = tuple(priorities) if isinstance(priorities, list) else DEFAULT_PRIORITIES

    def _walk_categories(self) -> Iterator[_Item]:
        """Nested categories flattened, with the parent's id recorded."""
        stack: list[tuple[_Item, str | None]] = [(item, None) for item in reversed(self.sections["categories"])]
        while stack:
            item, parent = stack.pop()
            item.parent = parent
            yield item
            children = item.get("children", default=[])
            for index in reversed(range(len(children) if isinstance(children, list) else 0)):
                if isinstance(children[index], dict):
                    stack.append((_Item(item.document, item.path + ("children", index), children[index]), item.id))

    def each(self, section: str) -> list[_Item]:
        return self.categories if section == "categories" else self.sections[section]


# ---------------------------------------------------------------- ids and references

_KIND_NOUN = {"calendars": "calendar", "units": "unit", "roles": "role", "duties": "duty", "channels": "channel",
              "categories": "category", "segments": "segment", "skills": "skill", "escalations": "escalation path",
              "priorities": "priority", "states": "state", "slas": "SLA", "routing": "routing rule", "handoffs": "hand-off",
              "followups": "follow-up policy", "surges": "surge rule", "workflows": "workflow", "automations": "automation",
              "campaigns": "campaign", "spans": "calendar or campaign", "accept": "accepted finding"}

# (section, path inside an item with "*" for list positions) → kind of item it names
_REFERENCES: list[tuple[str, tuple, str]] = [
    ("roles", ("unit",), "units"), ("roles", ("reports_to",), "roles"), ("roles", ("duties", "*"), "duties"),
    ("roles", ("handles", "*"), "categories"), ("roles", ("closes", "*"), "categories"),
    ("roles", ("skills", "*"), "skills"), ("roles", ("staff", "*", "shift"), "calendars"),
    ("roles", ("staff", "*", "skills", "*"), "skills"),
    ("units", ("parent",), "units"),
    ("duties", ("accountable", "*"), "roles"), ("duties", ("consulted", "*"), "roles"), ("duties", ("informed", "*"), "roles"),
    ("channels", ("hours",), "calendars"), ("channels", ("categories", "*"), "categories"),
    ("slas", ("calendar",), "calendars"), ("slas", ("escalation",), "escalations"),
    ("routing", ("during",), "spans"), ("roles", ("staff", "*", "during"), "campaigns"), ("campaigns", ("surges", "*"), "surges"), ("routing", ("to",), "roles"), ("routing", ("requires", "*"), "skills"),
    ("handoffs", ("from",), "roles"), ("handoffs", ("to",), "roles"), ("handoffs", ("categories", "*"), "categories"),
    ("escalations", ("levels", "*", "role"), "roles"), ("escalations", ("levels", "*", "notify", "*"), "roles"),
    ("escalations", ("then",), "escalations"),
    ("followups", ("by",), "roles"), ("followups", ("calendar",), "calendars"), ("followups", ("quiet_hours",), "calendars"),
    ("followups", ("on_unsatisfied", "escalate"), "escalations"), ("followups", ("on_unsatisfied", "notify", "*"), "roles"),
    ("followups", ("on_overdue", "notify", "*"), "roles"),
    ("surges", ("activate",), "roles"),
    ("workflows", ("states", "*", "role"), "roles"),
    ("automations", ("when", "calendar"), "calendars"), ("automations", ("then", "priority"), "priorities"),
    ("automations", ("then", "segment"), "segments"), ("automations", ("then", "assign"), "roles"),
    ("automations", ("then", "escalate"), "escalations"), ("automations", ("then", "notify", "*"), "roles"),
    ("automations", ("then", "surge"), "surges"), ("automations", ("then", "follow_up"), "followups"),
    ("automations", ("then", "workflow"), "workflows"),
] + [(section, prefix + ("match",) + dimension, kind)
     for section, prefix in (("slas", ()), ("routing", ()), ("followups", ()), ("surges", ()), ("workflows", ()), ("automations", ("if",)))
     for dimension, kind in ((("category", "*"), "categories"), (("channel", "*"), "channels"),
                             (("segment", "*"), "segments"), (("priority", "*"), "priorities"))]


def _values_at(item: _Item, pattern: tuple) -> Iterator[tuple[JsonPath, Any]]:
    """Every value matching a pattern of keys and `*`, with its path inside the item."""
    return iter(_walker(pattern)(item.data))


@lru_cache(maxsize=None)
def _walker(pattern: tuple) -> Callable[[Any], list[tuple[JsonPath, Any]]]:
    """A function from an item's data to every value matching ``pattern`` (keys, and `*` for each list position), with its path.

    Most patterns are keys, perhaps ending in `*` (`to`, `match.category.*`): those are followed
    straight down, without building the paths of places that hold nothing, for they run on every
    item of a large org. A `*` before the end (`staff.*.shift`) takes the general walk.
    """
    keys, each = (pattern[:-1], True) if pattern[-1:] == ("*",) else (pattern, False)
    if "*" in keys:
        return partial(_walk, pattern)

    def straight(data: Any) -> list[tuple[JsonPath, Any]]:
        value = data
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return []
            value = value[key]
        if not each:
            return [(keys, value)]
        return [((*keys, index), item) for index, item in enumerate(value)] if isinstance(value, list) else []
    return straight


def _walk(pattern: tuple, data: Any) -> list[tuple[JsonPath, Any]]:
    frontier: list[tuple[JsonPath, Any]] = [((), data)]
    for step in pattern:
        next_frontier: list[tuple[JsonPath, Any]] = []
        for path, value in frontier:
            if step == "*" and isinstance(value, list):
                next_frontier.extend((path + (i,), v) for i, v in enumerate(value))
            elif step != "*" and isinstance(value, dict) and step in value:
                next_frontier.append((path + (step,), value[step]))
        frontier = next_frontier
    return frontier


def _check_ids(items: _Items) -> Iterator[Diagnostic]:
    for section in SECTIONS:
        if section == "accept":
            continue
        yield from _duplicates(items.each(section), _KIND_NOUN.get(section, section))
    calendars = {calendar.id for calendar in items.each("calendars")}
    for campaign in items.each("campaigns"):
        if campaign.id in calendars:
            yield Diagnostic("CX202", f"campaign id `{campaign.id}` is already a calendar's", campaign.at("id"),
                             hint="a campaign also serves as a calendar in `during`: give it an id of its own")
    for workflow in items.each("workflows"):
        states = workflow.get("states", default=[])
        state_items = [_Item(workflow.document, workflow.path + ("states", i), s) for i, s in enumerate(states) if isinstance(s, dict)]
        yield from _duplicates(state_items, f"state of workflow `{workflow.id}`")


def _duplicates(entries: list[_Item], noun: str) -> Iterator[Diagnostic]:
    first: dict[str, _Item] = {}
    for entry in entries:
        if not entry.id:
            continue
        if entry.id in first:
            earlier = first[entry.id]
            yield Diagnostic("CX202", f"{noun} id `{entry.id}` is already used", entry.at("id"),
                             hint="rename one of the two", related=(Related(earlier.at("id"), "first defined here"),))
        else:
            first[entry.id] = entry


def _check_references(items: _Items) -> Iterator[Diagnostic]:
    known = dict(items.defined)
    known["priorities"] = set(items.priorities)
    known["spans"] = known["calendars"] | known["campaigns"]  # a campaign is a calendar open on its dates
    for key, kind in (("calendar", "calendars"), ("fallback_queue", "roles")):
        value = items.org.get(key)
        if isinstance(value, str) and value not in known[kind]:
            yield _unknown(items.root.location(("org", key)), value, kind, known, "`org`")
    for section, pattern, kind in _REFERENCES:
        ids, walk = known[kind], _walker(pattern)
        for item in items.each(section):
            for path, value in walk(item.data):
                if isinstance(value, str) and value not in ids:
                    yield _unknown(item.at(*path), value, kind, known, describe_path(item.document, item.path))
    for workflow in items.each("workflows"):
        states = [s.get("id") for s in workflow.get("states", default=[]) if isinstance(s, dict)]
        for path, value in _values_at(workflow, ("states", "*", "next", "*")):
            if isinstance(value, str) and value not in states:
                yield _unknown(workflow.at(*path), value, "states", {"states": set(filter(None, states))}, f"workflow `{workflow.id}`")
    every_state: set[str] = {state["id"] for workflow in items.each("workflows") for state in workflow.get("states", default=[])
                             if isinstance(state, dict) and isinstance(state.get("id"), str)}
    for automation in items.each("automations"):
        step = automation.get("then", "step")
        if isinstance(step, str) and step not in every_state:
            yield _unknown(automation.at("then", "step"), step, "states", {"states": every_state}, f"automation `{automation.id}`")
    for accepted in items.each("accept"):
        target = accepted.get("at")
        everything = set().union(*(ids for section, ids in known.items() if section != "priorities"))
        if isinstance(target, str) and target not in everything:
            suggestion = closest(target, everything)
            yield Diagnostic("CX201", f"accepted finding names `{target}`, which is not an id in this org", accepted.at("at"),
                             hint=f"did you mean `{suggestion}`?" if suggestion else None)


def _unknown(where: Location, value: str, kind: str, known: dict[str, set[str]], owner: str) -> Diagnostic:
    noun = _KIND_NOUN[kind]
    suggestion = closest(value, known[kind])
    other_kinds = [_KIND_NOUN[k] for k, ids in known.items() if k != kind and value in ids]
    if suggestion:
        hint = f"did you mean `{suggestion}`?"
    elif other_kinds:
        hint = f"`{value}` is a {other_kinds[0]}, not a {noun}"
    elif known[kind]:
        hint = f"known {noun} ids: {', '.join(sorted(known[kind])[:8])}{' …' if len(known[kind]) > 8 else ''}"
    else:
        hint = f"this org defines no {noun} yet"
    return Diagnostic("CX201", f"{owner} names {noun} `{value}`, which does not exist", where, hint=hint)


# ---------------------------------------------------------------- values the schema cannot judge

_BUSINESS_DURATIONS = [
    ("slas", ("first_response",)), ("slas", ("resolution",)), ("slas", ("next_reply",)), ("handoffs", ("within",)), ("escalations", ("levels", "*", "within")),
]
"""Durations counted in business time: open hours (`4h`) or working days (`3wd`)."""
_CALENDAR_DURATIONS = [("followups", ("within",)), ("surges", ("window",)), ("automations", ("when", "within"))]
"""Durations counted on the wall clock (`3d`); the schema refuses working days there."""
_PERCENT_FIELDS = [("slas", ("warn_at",)), ("followups", ("coverage", "members")), ("followups", ("coverage", "others"))]


def _check_values(items: _Items) -> Iterator[Diagnostic]:
    zones = [(items.root, ("org", "timezone"), items.org.get("timezone"))]
    for calendar in items.each("calendars"):
        zones.append((calendar.document, calendar.path + ("timezone",), calendar.get("timezone")))
        for day, intervals in (calendar.get("hours", default={}) or {}).items():
            for index, text in enumerate(intervals if isinstance(intervals, list) else []):
                if isinstance(text, str) and text[:5] == text[6:]:
                    yield Diagnostic("CX305", f"interval `{text}` is empty", calendar.at("hours", day, index),
                                     hint="to mean the whole day write `00:00-24:00`")
        for path, value in [*_values_at(calendar, ("holidays", "closed", "*")), *_values_at(calendar, ("holidays", "open", "*"))]:
            try:
                date.fromisoformat(value)
            except (TypeError, ValueError):
                yield Diagnostic("CX306", f"`{value}` is not a date that exists", calendar.at(*path))
        country = calendar.get("holidays", "country")
        if isinstance(country, str) and country not in _holiday_countries():
            suggestion = closest(country, _holiday_countries())
            yield Diagnostic("CX309", f"no public holidays are known for country `{country}`", calendar.at("holidays", "country"),
                             hint=f"did you mean `{suggestion}`?" if suggestion else None)
    for document, path, zone in zones:
        if isinstance(zone, str) and not _known_zone(zone):
            suggestion = closest(zone, zoneinfo.available_timezones())
            yield Diagnostic("CX303", f"unknown time zone `{zone}`", document.location(path),
                             hint=f"did you mean `{suggestion}`?" if suggestion else "use an IANA name such as `Asia/Shanghai`")
    for fields, business in ((_BUSINESS_DURATIONS, True), (_CALENDAR_DURATIONS, False)):
        for section, pattern in fields:
            for item in items.each(section):
                for path, value in _values_at(item, pattern):
                    if isinstance(value, str):
                        yield from _check_duration(item, path, value, business)
    for section, pattern in _PERCENT_FIELDS:
        for item in items.each(section):
            for path, value in _values_at(item, pattern):
                if isinstance(value, str) and float(value[:-1]) > 100:
                    yield Diagnostic("CX307", f"`{path[-1]}` of {describe_path(item.document, item.path)} is {value}; shares go up to 100%", item.at(*path))
    for automation in items.each("automations"):
        yield from _check_automation(automation)
    for campaign in items.each("campaigns"):
        for path, text in _values_at(campaign, ("dates", "*")):
            if isinstance(text, str):
                yield from _check_date_range(campaign, path, text)
    for surge in items.each("surges"):
        if surge.get("threshold") is None and surge.get("usual") is None:
            yield Diagnostic("CX314", f"surge rule `{surge.id}` has no threshold", surge.at("id", key=True),
                             hint="give `threshold: 30` (tickets within the window), or `usual: {times: 2}` (twice the usual count)")
    for sla in items.each("slas"):
        if not any(sla.get(target) for target in ("first_response", "resolution", "next_reply")):
            yield Diagnostic("CX313", f"SLA `{sla.id}` sets no target", sla.at("id", key=True),
                             hint="give it `first_response`, `resolution` or `next_reply`, e.g. `resolution: 24h`")
    for path_item in items.each("escalations"):
        levels = path_item.get("levels", default=[])
        for index, level in enumerate(levels[:-1]):
            if isinstance(level, dict) and "within" not in level:
                yield Diagnostic("CX308", f"level {index + 1} of escalation path `{path_item.id}` has no time limit",
                                 path_item.at("levels", index), hint="add `within:` (e.g. `2h`): only the last level may go without")


def _date_range(text: str) -> tuple[date, date]:
    """`2025-11-01/2025-11-12` or `2025-06-18` as (first, last); ValueError for a date that does not exist."""
    first, _, last = text.partition("/")
    return date.fromisoformat(first), date.fromisoformat(last or first)


def _check_date_range(item: _Item, path: JsonPath, text: str) -> Iterator[Diagnostic]:
    try:
        first, last = _date_range(text)
    except ValueError:
        yield Diagnostic("CX306", f"`{text}` is not a date or a range of dates that exist", item.at(*path))
        return
    if last < first:
        yield Diagnostic("CX305", f"date range `{text}` ends before it starts", item.at(*path),
                         hint=f"write `{last}/{first}`")
    elif (last - first).days >= MAX_DURATION.days:
        yield Diagnostic("CX311", f"date range `{text}` is {(last - first).days + 1} days long; a range may be at most "
                                  f"{MAX_DURATION.days} days", item.at(*path),
                         hint="a campaign of more than a year is no campaign: give each year's dates as a range of its own")


_TRIGGER_NEEDS = [("since", "after"), ("clock", "after"), ("calendar", "after"), ("count", "within"), ("following", "within"),
                  ("within", ("count", "following")), ("per", "count")]
_TRIGGER_EXCLUDES = [("count", "following"), ("after", "count"), ("after", "following")]


def _check_automation(item: _Item) -> Iterator[Diagnostic]:
    """CX312 for trigger fields that do not make one trigger, and the `after` duration in its own clock."""
    when = item.get("when", default={})
    if not isinstance(when, dict):
        return
    for field_name, needed in _TRIGGER_NEEDS:
        options = needed if isinstance(needed, tuple) else (needed,)
        if field_name in when and not any(option in when for option in options):
            yield Diagnostic("CX312", f"`when.{field_name}` of automation `{item.id}` needs "
                             + " or ".join(f"`{option}`" for option in options), item.at("when", field_name),
                             hint=f"add {' or '.join(f'`{option}`' for option in options)}, or remove `{field_name}`")
    for first, second in _TRIGGER_EXCLUDES:
        if first in when and second in when:
            yield Diagnostic("CX312", f"automation `{item.id}` has both `when.{first}` and `when.{second}`: a trigger is one of them",
                             item.at("when", second), hint="split it into two automations")
    if when.get("calendar") is not None and when.get("clock") == "calendar":
        yield Diagnostic("CX312", f"automation `{item.id}` counts `after` in calendar time, so `when.calendar` means nothing",
                         item.at("when", "calendar"), hint="remove `calendar`, or count in business time (`clock: business`)")
    if item.get("then", "reopen") == "earlier" and "following" not in when:
        yield Diagnostic("CX312", f"automation `{item.id}` reopens the `earlier` ticket, which only a `following` pattern finds",
                         item.at("then", "reopen"), hint="add `when.following` (e.g. `resolved`) and `within`, or reopen `this`")
    if isinstance(when.get("after"), str):
        yield from _check_duration(item, ("when", "after"), when["after"], business=when.get("clock") != "calendar")


def _check_duration(item: _Item, path: JsonPath, value: str, business: bool) -> Iterator[Diagnostic]:
    """CX311, CX304 or CX310 for one duration; the wording of the place is worked out only for a finding."""
    def where() -> str:
        return f"`{path[-1]}` of {describe_path(item.document, item.path)}"
    if duration_problem(value):
        limit = (f"at most {MAX_DURATION.days} days of business time (`{int(MAX_DURATION.total_seconds()) // 3600}h`) "
                 f"or {MAX_WORKING_DAYS} working days (`{MAX_WORKING_DAYS}wd`)") if business else f"at most {MAX_DURATION.days} days (`{MAX_DURATION.days}d`)"
        yield Diagnostic("CX311", f"{where()} is `{value}`, longer than a duration may be: {limit}", item.at(*path),
                         hint="a target beyond a year is no target; give the time it really is")
    elif not parse_duration(value):
        yield Diagnostic("CX304", f"{where()} is zero", item.at(*path), hint="give a duration longer than zero, e.g. `30m`")
    elif business and (reading := _days_in_business_time(value)):
        message, hint = reading
        yield Diagnostic("CX310", f"{where()} is `{value}`: {message}", item.at(*path), hint=hint)


def _days_in_business_time(value: str) -> tuple[str, str] | None:
    """What `3d` in a business-time field would mean (72 open hours), and the two ways to say what was meant."""
    match = DURATION_FORM.match(value)
    if match is None or not (match.group(2) or match.group(3)):  # working days (group 1) and plain hours are fine
        return None
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups()[1:])
    open_hours = (weeks * 7 + days) * 24 + hours
    as_hours = f"{open_hours}h" + (f"{minutes}m" if minutes else "") + (f"{seconds}s" if seconds else "")
    said = " and ".join(f"{count} {unit}{'s' if count > 1 else ''}" for count, unit in ((weeks, "week"), (days, "day")) if count)
    eight_hour_days = (open_hours * 60 + minutes) / (8 * 60)
    message = (f"in business time that means {as_hours} of open time, not {said}; on a calendar open 8 hours a day "
               f"that is {round(eight_hour_days, 1):g} working days")
    working_days = weeks * 5 + days
    if hours or minutes or seconds:
        hint = f"write `{as_hours}` for {as_hours} of business time, or whole working days such as `{working_days}wd`"
    else:
        week_note = " (five to a working week)" if weeks else ""
        hint = (f"write `{working_days}wd` for {working_days} working day{'s' if working_days > 1 else ''}{week_note}, "
                f"or `{as_hours}` for {open_hours} business hours")
    return message, hint


def _known_zone(zone: str) -> bool:
    try:
        zoneinfo.ZoneInfo(zone)
        return True
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False


@lru_cache(maxsize=1)
def _holiday_countries() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries())


# ---------------------------------------------------------------- trees

def _check_trees(items: _Items) -> Iterator[Diagnostic]:
    for section, link, code, noun in (("units", "parent", "CX301", "unit"), ("roles", "reports_to", "CX302", "role")):
        graph = nx.DiGraph()
        where = {}
        for item in items.each(section):
            target = item.get(link)
            if item.id and isinstance(target, str):
                graph.add_edge(item.id, target)
                where[item.id] = item
        for cycle in sorted(nx.simple_cycles(graph), key=lambda c: min(c)):
            start = min(cycle)
            ordered = cycle[cycle.index(start):] + cycle[:cycle.index(start)]
            text = " → ".join(ordered + [start])
            yield Diagnostic(code, f"{noun}s form a cycle: {text}", where[start].at(link),
                             hint=f"one {noun} of the cycle must have a different `{link}`",
                             related=tuple(Related(where[other].at(link), f"`{other}` → `{where[other].get(link)}`") for other in ordered[1:]))


# ---------------------------------------------------------------- building the model

def _intervals(text_list: list[str]) -> list[tuple[int, int]]:
    result = []
    for text in text_list:
        start = int(text[0:2]) * 60 + int(text[3:5])
        end = int(text[6:8]) * 60 + int(text[9:11])
        result.append((start, end))
    return result


def _days(hours: dict) -> list[list[tuple[int, int]]]:
    """Each weekday's intervals as written; day keys applied in file order."""
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for key, texts in hours.items():
        for day in _expand_days(key):
            days[day] = _intervals(texts)
    return days


def _week(hours: dict) -> tuple[tuple[Interval, ...], ...]:
    """The typical week for static checks: overnight intervals spill into the next weekday."""
    spans: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for day, intervals in enumerate(_days(hours)):
        for start, end in intervals:
            if end > start:
                spans[day].append((start, end))
            else:
                spans[day].append((start, 1440))
                if end:
                    spans[(day + 1) % 7].append((0, end))
    return tuple(tuple(Interval(s, e) for s, e in _merge(day)) for day in spans)


def _shifts(hours: dict) -> tuple[tuple[Interval, ...], ...]:
    """The shifts each weekday starts: an end at or before the start runs past midnight."""
    return tuple(tuple(Interval(s, e) for s, e in _merge([(start, end if end > start else end + 1440) for start, end in day]))
                 for day in _days(hours))


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _expand_days(key: str) -> list[int]:
    if key == "daily":
        return list(range(7))
    if key == "weekdays":
        return list(range(5))
    if key == "weekends":
        return [5, 6]
    first, _, last = key.partition("-")
    start, end = DAYS.index(first), DAYS.index(last or first)
    return [(start + offset) % 7 for offset in range(((end - start) % 7) + 1)]


def _build(items: _Items) -> Org:
    org = items.org
    descendants = _category_descendants(items)

    def category_set(ids) -> frozenset[str]:
        return frozenset(c for category in ids for c in descendants[category])

    def categories(ids) -> frozenset[str] | None:
        return None if ids is None else category_set(ids)

    def match(item: _Item, key: str | tuple[str, ...] = "match") -> Match:
        raw = item.get(*((key,) if isinstance(key, str) else key), default={}) or {}
        as_set = lambda name: frozenset(raw[name]) if name in raw else None  # noqa: E731
        return Match(categories(raw.get("category")), as_set("channel"), as_set("segment"), as_set("priority"),
                     raw.get("member"), tuple(raw.get("category", ())))

    duration = lambda text: parse_duration(text) if text else None  # noqa: E731
    percent = lambda text, default=None: float(text[:-1]) / 100 if text else default  # noqa: E731
    default_calendar = org["calendar"]
    info = OrgInfo(
        id=org["id"], name=org["name"], timezone=org["timezone"], calendar=default_calendar,
        fallback_queue=org["fallback_queue"], priorities=items.priorities,
        span_of_control=org.get("span_of_control", 12), capacity_floor=org.get("capacity_floor", 1),
        source=Source(items.root, ("org",)), label=org.get("label"), description=org.get("description"), locale=org.get("locale"))

    calendars = tuple(Calendar(
        id=c.key, timezone=c.get("timezone") or org["timezone"], week=_week(c.get("hours")), shifts=_shifts(c.get("hours")), source=c.source,
        name=c.get("name"), label=c.get("label"), holiday_country=c.get("holidays", "country"),
        closed=frozenset(date.fromisoformat(d) for d in c.get("holidays", "closed", default=[])),
        open=frozenset(date.fromisoformat(d) for d in c.get("holidays", "open", default=[]))) for c in items.each("calendars"))
    units = tuple(Unit(u.key, u.get("name"), u.source, u.get("label"), u.get("description"), u.get("parent"), u.get("temporary", default=False))
                  for u in items.each("units"))
    roles = []
    for r in items.each("roles"):
        handles = category_set(r.get("handles", default=[]))
        roles.append(Role(
            id=r.key, name=r.get("name"), unit=r.get("unit"), source=r.source, label=r.get("label"), description=r.get("description"),
            reports_to=r.get("reports_to"), duties=tuple(r.get("duties", default=[])), handles=handles,
            closes=category_set(r.get("closes")) if r.get("closes") is not None else handles,
            skills=tuple(r.get("skills", default=[])), authority=r.get("authority", default=False),
            capacity=r.get("capacity", default=1), assignment=r.get("assignment", default="least_loaded"),
            staff=tuple(StaffGroup(g.get("shift", default_calendar), g["agents"], tuple(g.get("skills", [])), g.get("during"))
                        for g in r.get("staff", default=[])),
            temporary=r.get("temporary", default=False)))
    duties = tuple(Duty(d.key, d.get("name"), d.source, d.get("label"), d.get("description"), tuple(d.get("accountable", default=[])),
                        tuple(d.get("consulted", default=[])), tuple(d.get("informed", default=[]))) for d in items.each("duties"))
    channels = tuple(Channel(c.key, c.get("name"), c.get("hours") or default_calendar, c.source, c.get("label"), categories(c.get("categories")))
                     for c in items.each("channels"))
    category_models = tuple(Category(c.key, c.get("name"), c.source, c.get("label"), c.get("description"), c.parent) for c in items.categories)
    segments = tuple(Segment(s.key, s.get("name"), s.source, s.get("label"), s.get("description")) for s in items.each("segments"))
    skills = tuple(Skill(s.key, s.get("name"), s.source, s.get("label")) for s in items.each("skills"))
    slas = tuple(Sla(
        id=s.key, match=match(s), resolution=duration(s.get("resolution")), calendar=s.get("calendar") or default_calendar, source=s.source,
        name=s.get("name"), first_response=duration(s.get("first_response")), warn_at=percent(s.get("warn_at")),
        pause_when=_pause_states(s.get("pause_when", default=[])), escalation=s.get("escalation"), next_reply=duration(s.get("next_reply")),
        pause_targets=tuple(sorted((target, tuple(states)) for target, states in s.get("pause_when").items()))
        if isinstance(s.get("pause_when"), dict) else ()) for s in items.each("slas"))
    routing = tuple(RoutingRule(
        id=r.key, match=match(r), to=r.get("to"), precedence=r.get("precedence"), order=order, source=r.source,
        description=r.get("description"), during=r.get("during"), requires=tuple(r.get("requires", default=[])))
        for order, r in enumerate(items.each("routing")))
    handoffs = tuple(Handoff(h.key, h.get("from"), h.get("to"), h.source, h.get("description"), categories(h.get("categories")),
                             h.get("returns", default=False), duration(h.get("within"))) for h in items.each("handoffs"))
    escalations = tuple(EscalationPath(
        e.key, tuple(EscalationLevel(level["role"], duration(level.get("within")), tuple(level.get("notify", []))) for level in e.get("levels")),
        e.source, e.get("name"), e.get("then")) for e in items.each("escalations"))
    followups = tuple(FollowUp(
        id=f.key, on=f.get("on"), within=parse_duration(f.get("within")), by=f.get("by"), match=match(f), source=f.source, name=f.get("name"),
        calendar=f.get("calendar"), quiet_hours=f.get("quiet_hours"),
        coverage_members=percent(f.get("coverage", "members"), 1.0), coverage_others=percent(f.get("coverage", "others"), 1.0),
        record=f.get("record", default=False), reopen_when_unsatisfied=f.get("on_unsatisfied", "reopen", default=False),
        escalate_when_unsatisfied=f.get("on_unsatisfied", "escalate"), notify_when_unsatisfied=tuple(f.get("on_unsatisfied", "notify", default=[])),
        notify_when_overdue=tuple(f.get("on_overdue", "notify", default=[]))) for f in items.each("followups"))
    surges = tuple(Surge(
        id=s.key, match=match(s), threshold=s.get("threshold", default=1), window=parse_duration(s.get("window")),
        release_below=s.get("release_below"), activate=s.get("activate"), source=s.source, name=s.get("name"),
        usual_times=s.get("usual", "times"), usual_weeks=s.get("usual", "weeks", default=4)) for s in items.each("surges"))
    workflows = tuple(Workflow(
        id=w.key, match=match(w), states=_states(w.get("states")), source=w.source, name=w.get("name"), label=w.get("label"))
        for w in items.each("workflows"))
    automations = tuple(_automation(a, match, duration) for a in items.each("automations"))
    campaigns = tuple(Campaign(c.key, frozenset(day for text in c.get("dates") for day in _dates(*_date_range(text))), c.source,
                               c.get("name"), c.get("label"), tuple(c.get("surges", default=[]))) for c in items.each("campaigns"))
    calendars, staffed = _campaign_calendars(calendars, tuple(roles), campaigns, org["timezone"])
    accepted = tuple(Accepted(a.get("code"), a.get("reason"), a.source, a.get("at")) for a in items.each("accept"))
    return Org(info, calendars, units, staffed, duties, channels, category_models, segments, skills, slas, routing, handoffs,
               escalations, followups, surges, workflows, accepted, tuple(d.file for d in items.documents), automations, campaigns)


def _pause_states(pause_when: list | dict) -> tuple[str, ...]:
    """Every waiting state that stops some clock of an SLA, in the order first written."""
    lists = pause_when.values() if isinstance(pause_when, dict) else [pause_when]
    return tuple(dict.fromkeys(state for states in lists for state in states))


def _dates(first: date, last: date) -> Iterator[date]:
    while first <= last:
        yield first
        first += timedelta(days=1)


_ALL_DAY = tuple((Interval(0, 1440),) for _ in range(7))


def _campaign_calendars(calendars: tuple[Calendar, ...], roles: tuple[Role, ...], campaigns: tuple[Campaign, ...],
                        zone: str) -> tuple[tuple[Calendar, ...], tuple[Role, ...]]:
    """Each campaign as a calendar of its id, open all day on its dates; each staff group `during` a campaign on a
    calendar of its own, `shift@campaign`: its shift on the campaign's dates only. Both are then what every other
    calendar is to the engine and to `check`."""
    by_id = {calendar.id: calendar for calendar in calendars}
    dates = {campaign.id: campaign.dates for campaign in campaigns}
    made = [Calendar(c.id, zone, _ALL_DAY, c.source, c.name, c.label, dates=c.dates, shifts=_ALL_DAY) for c in campaigns]
    staffed = []
    for role in roles:
        groups = []
        for group in role.staff:
            if group.during is not None and group.shift in by_id:
                own = f"{group.shift}@{group.during}"
                if own not in {calendar.id for calendar in made}:
                    shift = by_id[group.shift]
                    made.append(replace(shift, id=own, dates=dates[group.during]))
                group = replace(group, shift=own)
            groups.append(group)
        staffed.append(replace(role, staff=tuple(groups)))
    return calendars + tuple(made), tuple(staffed)


def _automation(item: _Item, match, duration) -> Automation:
    when, then = item.get("when", default={}), item.get("then", default={})
    timed = "after" in when
    trigger = Trigger(event=when.get("since" if timed else "event", "created"), after=duration(when.get("after")),
                      clock=when.get("clock", "business"), calendar=when.get("calendar"), count=when.get("count"),
                      following=when.get("following"), within=duration(when.get("within")), per=when.get("per", "customer"))
    condition = item.get("if", default={})
    conditions = Conditions(match(item, ("if", "match")), frozenset(condition["status"]) if "status" in condition else None,
                            condition.get("responded"), frozenset(condition.get("tags", ())), frozenset(condition.get("without_tags", ())))
    actions = Actions(then.get("priority"), then.get("segment"), tuple(then.get("tag", ())), then.get("assign"), then.get("escalate"),
                      tuple(then.get("notify", ())), then.get("reopen"), then.get("surge"), then.get("follow_up"), then.get("workflow"),
                      then.get("step"))
    return Automation(item.key, trigger, conditions, actions, item.source, item.get("name"), item.get("label"))


def _states(raw: list[dict]) -> tuple[WorkflowState, ...]:
    states = []
    for index, state in enumerate(raw):
        default_next = (raw[index + 1]["id"],) if index + 1 < len(raw) else ()
        states.append(WorkflowState(state["id"], tuple(state.get("next", default_next)), state.get("name"), state.get("label"),
                                    state.get("role"), state.get("requires")))
    return tuple(states)


def _category_descendants(items: _Items) -> dict[str, tuple[str, ...]]:
    children: dict[str | None, list[str]] = {}
    for item in items.categories:
        children.setdefault(item.parent, []).append(item.key)

    def below(category: str) -> tuple[str, ...]:
        result = [category]
        for child in children.get(category, []):
            result.extend(below(child))
        return tuple(result)

    return {item.key: below(item.key) for item in items.categories}


def validate_paths(paths, limits: LoadLimits = LoadLimits()) -> tuple[list[ValidationResult], list[Diagnostic]]:
    """Validate every org named by ``paths`` (files, or folders searched for YAML files).

    Returns one result per org and the diagnostics about the paths themselves (I/O errors).
    """
    files, problems = org_files(paths)
    return [validate_path(file, limits) for file in files], problems
