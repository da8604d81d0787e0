"""`cxrules diff OLD NEW`: what changed between two versions of an org, in the org's own terms.

Roles and units added, removed or moved; duties reassigned; routing rules changed and,
more to the point, the tickets whose owner changes (as regions with their hours, in an
ordinary week and on the kinds of day calendars treat apart: holidays, make-up days); SLA
and escalation changes; and the findings of `check` that appear or disappear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from .calendars import WeekSet
from .checks import CheckContext, check
from .model import Calendar, Match, Org, format_duration
from .regions import Box, coalesce, uncovered

__all__ = ["Change", "OrgDiff", "diff_orgs", "owner_moves", "day_kinds", "render_text", "render_markdown"]


@dataclass(frozen=True)
class Change:
    section: str
    kind: str  # added | removed | changed | moved
    subject: str
    detail: str = ""


@dataclass(frozen=True)
class OrgDiff:
    old: str
    new: str
    changes: tuple[Change, ...] = field(default=())
    old_file: str = ""
    new_file: str = ""

    @property
    def title(self) -> tuple[str, str]:
        """How the two versions are named: by file (with the org's id), the id alone when there is no file."""
        return (f"{self.old_file} ({self.old})" if self.old_file else self.old,
                f"{self.new_file} ({self.new})" if self.new_file else self.new)

    def to_dict(self) -> dict:
        return {"old": self.old, "new": self.new, "old_file": self.old_file, "new_file": self.new_file,
                "changes": [{"section": c.section, "kind": c.kind, "subject": c.subject, "detail": c.detail} for c in self.changes]}


def _items(org: Org, section: str) -> dict:
    return {item.id: item for item in getattr(org, section)}


def _added_removed(section: str, old: dict, new: dict, noun: str) -> list[Change]:
    changes = [Change(section, "added", key, f"{noun} `{key}` added") for key in new if key not in old]
    changes += [Change(section, "removed", key, f"{noun} `{key}` removed") for key in old if key not in new]
    return changes


def _shown(value) -> str:
    """An attribute's value in a change line: durations as `2h30m`, matches by their dimensions."""
    if isinstance(value, Match):
        parts = [f"{name} {', '.join(sorted(values))}" for name, values in (
            ("category", value.declared_categories), ("channel", value.channels or ()), ("segment", value.segments or ()),
            ("priority", value.priorities or ())) if values]
        if value.member is not None:
            parts.append("members" if value.member else "non-members")
        return "; ".join(parts) or "any ticket"
    if hasattr(value, "total_seconds"):
        return format_duration(value, days=False)  # the durations diffed are SLA targets: business time
    return str(value)


def _compare(section: str, noun: str, old: Org, new: Org, attributes: tuple[str, ...]) -> list[Change]:
    """Items of a section added, removed, or changed in any of ``attributes``."""
    before, after = _items(old, section), _items(new, section)
    changes = _added_removed(section, before, after, noun)
    for key in sorted(before.keys() & after.keys()):
        for attribute in attributes:
            x, y = getattr(before[key], attribute), getattr(after[key], attribute)
            if x != y:
                changes.append(Change(section, "changed", key, f"{noun} `{key}` {attribute}: {_shown(x)} → {_shown(y)}"))
    return changes


def diff_orgs(old: Org, new: Org) -> OrgDiff:
    changes: list[Change] = []
    old_units, new_units = _items(old, "units"), _items(new, "units")
    changes += _added_removed("units", old_units, new_units, "unit")
    for key in sorted(old_units.keys() & new_units.keys()):
        if old_units[key].parent != new_units[key].parent:
            changes.append(Change("units", "moved", key, f"unit `{key}` moved from `{old_units[key].parent or 'the top'}` "
                                                         f"to `{new_units[key].parent or 'the top'}`"))
    old_roles, new_roles = _items(old, "roles"), _items(new, "roles")
    changes += _added_removed("roles", old_roles, new_roles, "role")
    for key in sorted(old_roles.keys() & new_roles.keys()):
        a, b = old_roles[key], new_roles[key]
        if a.unit != b.unit:
            changes.append(Change("roles", "moved", key, f"role `{key}` moved from unit `{a.unit}` to `{b.unit}`"))
        if a.reports_to != b.reports_to:
            was = f"`{a.reports_to}`" if a.reports_to else "nobody"
            now = f"`{b.reports_to}`" if b.reports_to else "nobody"
            changes.append(Change("roles", "moved", key, f"role `{key}` now reports to {now} (was {was})"))
        if (a.headcount, a.capacity) != (b.headcount, b.capacity):
            changes.append(Change("roles", "changed", key, f"role `{key}` staffing {a.headcount}×{a.capacity} → {b.headcount}×{b.capacity}"))
    responsible = lambda org: {d.id: sorted(r.id for r in org.roles if d.id in r.duties) for d in org.duties}  # noqa: E731
    old_r, new_r = responsible(old), responsible(new)
    old_duties, new_duties = _items(old, "duties"), _items(new, "duties")
    changes += _added_removed("duties", old_duties, new_duties, "duty")
    for key in sorted(old_duties.keys() & new_duties.keys()):
        if old_r[key] != new_r[key]:
            changes.append(Change("duties", "changed", key, f"duty `{key}` responsible {', '.join(old_r[key]) or 'nobody'} → {', '.join(new_r[key]) or 'nobody'}"))
        if old_duties[key].accountable != new_duties[key].accountable:
            changes.append(Change("duties", "changed", key, f"duty `{key}` accountable {', '.join(old_duties[key].accountable) or 'nobody'} → "
                                                           f"{', '.join(new_duties[key].accountable) or 'nobody'}"))
    changes += _compare("routing", "routing rule", old, new, ("to", "precedence", "during", "match", "requires"))
    changes += _owner_changes(old, new)
    changes += _compare("slas", "SLA", old, new, ("first_response", "resolution", "calendar", "escalation", "warn_at"))
    old_paths, new_paths = _items(old, "escalations"), _items(new, "escalations")
    changes += _added_removed("escalations", old_paths, new_paths, "escalation path")
    for key in sorted(old_paths.keys() & new_paths.keys()):
        describe = lambda p: " → ".join(f"{l.role}" + (f" ({format_duration(l.within, days=False)})" if l.within else "") for l in p.levels)  # noqa: E731,E741
        if describe(old_paths[key]) != describe(new_paths[key]) or old_paths[key].then != new_paths[key].then:
            changes.append(Change("escalations", "changed", key, f"escalation `{key}`: {describe(old_paths[key])} → {describe(new_paths[key])}"))
    old_findings = {(f.code, f.subject, f.message) for f in check(old)}
    new_findings = {(f.code, f.subject, f.message) for f in check(new)}
    changes += [Change("findings", "added", code, f"new finding {code}: {message}") for code, _, message in sorted(new_findings - old_findings)]
    changes += [Change("findings", "removed", code, f"fixed {code}: {message}") for code, _, message in sorted(old_findings - new_findings)]
    return OrgDiff(old.info.id, new.info.id, tuple(changes), old.files[0] if old.files else "", new.files[0] if new.files else "")


Adjust = Callable[[Calendar, WeekSet], WeekSet]


def owner_moves(old: Org, new: Org, adjust: Optional[Adjust] = None) -> tuple[CheckContext, dict[tuple[str, str], list[Box]]]:
    """Tickets whose owner differs, as regions (with the hours) per (old owner, new owner).

    The same region algebra as `check`: each version's rules, in the order they are tried,
    own their region less the regions of the rules tried before them (the fallback queue
    owns what no rule matches), over every ticket a channel of either version receives
    while open. Old and new ownership regions are intersected where the owners differ, so
    a rule that applies only at night, or a calendar, is seen as `route` sees it at that
    hour. The cost grows with the regions, not with the product of the dimensions' values.

    ``adjust`` turns each calendar's weekly hours into those of a kind of day (see
    :func:`day_kinds`); without it, an ordinary week.
    """
    values = tuple(a | b for a, b in zip(CheckContext(old).values, CheckContext(new).values))
    old_context, new_context = _Context(old, values, adjust), _Context(new, values, adjust)
    spaces = list(old_context.receivable)
    for space in new_context.receivable:
        spaces.extend(uncovered(space, spaces))
    before = [(owner, region) for owner, _, region in old_context.ownership(spaces)]
    after = [(owner, region) for owner, _, region in new_context.ownership(spaces)]
    by_category: dict[str, list[int]] = {}
    for index, (_, region) in enumerate(before):
        for category in region.sets[0]:
            by_category.setdefault(category, []).append(index)
    moved: dict[tuple[str, str], list[Box]] = {}
    for owner, region in after:
        candidates = sorted({index for category in region.sets[0] for index in by_category.get(category, ())})
        for index in candidates:
            was, part = before[index][0], before[index][1].intersect(region)
            if was != owner and part is not None:
                moved.setdefault((was, owner), []).append(part)
    return new_context, {pair: coalesce(moved[pair]) for pair in sorted(moved)}


_DAY = 1440
_WEEKEND = WeekSet(((5 * _DAY, 7 * _DAY),))


def _has_make_up_days(country: str) -> bool:
    import holidays

    return bool(getattr(holidays.country_holidays(country), "weekend_workdays", ()))


def day_kinds(old: Org, new: Org) -> list[tuple[str, Adjust, WeekSet]]:
    """Kinds of day on which calendars keep other hours than in an ordinary week: (words, hours, days of the week).

    On a public holiday or a `closed` date, a calendar with holidays is closed; on a make-up
    working day (China's weekend workdays, or an `open` date), it works Monday's hours too.
    Routing can change owners on those days only (a rule `during: office` stops applying on
    holidays), so the diff looks at them as well. Calendars with holidays are taken to
    close together (one country per org is the rule).
    """
    calendars = [calendar for org in (old, new) for calendar in org.calendars]
    countries = sorted({c.holiday_country for c in calendars if c.holiday_country})
    kinds: list[tuple[str, Adjust, WeekSet]] = []
    closed = any(c.closed for c in calendars)
    if countries or closed:
        words = " and ".join(([f"public holidays ({', '.join(countries)})"] if countries else []) + (["closed dates"] if closed else []))
        kinds.append((f"on {words}", lambda c, hours: WeekSet() if c.holiday_country or c.closed else hours, WeekSet.full()))
    make_up = [country for country in countries if _has_make_up_days(country)]
    opened = any(c.open for c in calendars)
    if make_up or opened:
        def working(c: Calendar, hours: WeekSet) -> WeekSet:
            if not (c.open or c.holiday_country in make_up):
                return hours
            monday = hours & WeekSet(((0, _DAY),))
            return hours | monday.shifted(5 * _DAY) | monday.shifted(6 * _DAY)

        words = " and ".join(([f"make-up working days ({', '.join(make_up)})"] if make_up else []) + (["open dates"] if opened else []))
        kinds.append((f"on {words}", working, _WEEKEND))
    return kinds


def _owner_changes(old: Org, new: Org) -> list[Change]:
    context, moved = owner_moves(old, new)
    lines: dict[tuple[str, str], list[str]] = {pair: [context.describe(region).removesuffix(", at all hours") for region in regions]
                                               for pair, regions in moved.items()}
    for words, adjust, days in day_kinds(old, new):
        _, on_those_days = owner_moves(old, new, adjust)
        for pair in sorted(moved.keys() | on_those_days.keys()):
            extra = _on_days(on_those_days.get(pair, []), moved.get(pair, []), days)    # what an ordinary week does not say
            spared = _on_days(moved.get(pair, []), on_those_days.get(pair, []), days)   # what it says but these days do not do
            lines.setdefault(pair, []).extend(
                [f"{context.describe(region).removesuffix(', at all hours')} {words}" for region in extra]
                + [f"except {context.describe(region).removesuffix(', at all hours')} {words}" for region in spared])
    changes = []
    for (was, now) in sorted(lines):
        changes += [Change("owners", "moved", f"{was}→{now}", f"{text}: `{was}` → `{now}`") for text in sorted(lines[(was, now)])]
    return changes


def _on_days(regions: list[Box], less: list[Box], days: WeekSet) -> list[Box]:
    """The parts of ``regions`` on the given days of the week that ``less`` does not cover."""
    found: list[Box] = []
    for region in regions:
        within = region.replace(len(region.sets), region.hours & days)
        if within.hours:
            found.extend(uncovered(within, less))
    return coalesce(found)


class _Context(CheckContext):
    """A check context whose dimensions take the values of both versions, so their regions meet.

    With ``adjust``, calendars keep the hours of a kind of day instead of an ordinary week.
    """

    def __init__(self, org: Org, values: tuple[frozenset, ...], adjust: Optional[Adjust] = None):
        super().__init__(org)
        self.values = values  # replaces the cached property: both versions name the same tickets
        self._adjust = adjust

    def hours(self, calendar_id: Optional[str]) -> WeekSet:
        hours = super().hours(calendar_id)
        if self._adjust is None or calendar_id is None:
            return hours
        return self._adjust(self.org.calendar(calendar_id), hours)


_HEADINGS = {"units": "Units", "roles": "Roles", "duties": "Duties", "routing": "Routing rules", "owners": "Who owns which tickets",
             "slas": "SLAs", "escalations": "Escalation paths", "findings": "Findings of `cxrules check`"}


def render_text(result: OrgDiff) -> str:
    old, new = result.title
    if not result.changes:
        return f"{old} → {new}: no changes\n"
    lines = [f"{old} → {new}: {len(result.changes)} change(s)"]
    for section, heading in _HEADINGS.items():
        items = [c for c in result.changes if c.section == section]
        if items:
            lines.append(heading.replace("`", ""))
            lines += [f"  {'+' if c.kind == 'added' else '-' if c.kind == 'removed' else '~'} {c.detail}" for c in items]
    return "\n".join(lines) + "\n"


def render_markdown(result: OrgDiff) -> str:
    old, new = result.title
    if not result.changes:
        return f"**{old} → {new}**: no changes\n"
    lines = [f"### Org changes: `{old}` → `{new}`", ""]
    for section, heading in _HEADINGS.items():
        items = [c for c in result.changes if c.section == section]
        if items:
            lines += [f"**{heading}**", ""] + [f"- {'➕' if c.kind == 'added' else '➖' if c.kind == 'removed' else '✏️'} {c.detail}" for c in items] + [""]
    return "\n".join(lines)
