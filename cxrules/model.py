"""The typed, frozen org model that every stage after validation works on.

Nothing here parses YAML or reports problems: :mod:`cxrules.validation` checks the raw data
and then builds these objects, so code that holds an :class:`Org` may rely on every id it
meets to exist, every duration to be positive and every tree to be a tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Iterator, Mapping, Optional

from .diagnostics import Location
from .loading import Document, JsonPath

__all__ = [
    "Source", "Match", "Interval", "Calendar", "Unit", "StaffGroup", "Role", "Duty", "Channel", "Category",
    "Segment", "Skill", "Sla", "RoutingRule", "Handoff", "EscalationLevel", "EscalationPath", "FollowUp",
    "Surge", "WorkflowState", "Workflow", "Trigger", "Conditions", "Actions", "Automation", "Campaign", "TICKET_EVENTS", "Accepted", "OrgInfo", "Org", "WorkingDays", "parse_duration", "format_duration",
    "duration_problem", "DAYS", "DEFAULT_PRIORITIES", "fingerprint", "MAX_DURATION", "MAX_WORKING_DAYS", "MAX_DURATION_TEXT",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_PRIORITIES = ("urgent", "high", "normal", "low")
DURATION_FORM = re.compile(r"^(?:(\d+)wd|(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?)$")

MAX_DURATION = timedelta(days=366)
"""The longest duration an org may write: 366 days (`366d`, `8784h`)."""
MAX_WORKING_DAYS = 366
"""The most working days a business-time target may count (`366wd`)."""
MAX_DURATION_TEXT = 20
"""Longest duration text the schema takes, so that no number is too large to read."""


class WorkingDays(timedelta):
    """`3wd`: a business-time target due at the same local time on the 3rd working day.

    :meth:`cxrules.calendars.BusinessCalendar.add` turns it into a deadline on a real
    calendar. As a :class:`~datetime.timedelta` it counts 24 hours per working day, a stand-in
    for comparisons made without a calendar (24 hours is at least the open time of any one
    working day). It equals only another ``WorkingDays`` of the same count, never a plain
    timedelta, so `1wd` and `24h` are told apart.
    """

    __slots__ = ("count",)
    count: int

    def __new__(cls, count: int) -> "WorkingDays":
        self = super().__new__(cls, days=count)
        object.__setattr__(self, "count", count)
        return self

    def __setattr__(self, name, value):
        raise AttributeError("WorkingDays is immutable")

    def __eq__(self, other) -> bool:
        return isinstance(other, WorkingDays) and other.count == self.count

    def __ne__(self, other) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(("wd", self.count))

    def __reduce__(self):
        return WorkingDays, (self.count,)

    def __repr__(self) -> str:
        return f"WorkingDays({self.count})"

    def __str__(self) -> str:
        return f"{self.count}wd"


def duration_problem(text: str) -> str | None:
    """Why ``text`` is no duration an org may use (too long, or not a duration), or None."""
    match = DURATION_FORM.match(text) if isinstance(text, str) and len(text) <= MAX_DURATION_TEXT else None
    if match is None:
        return f"`{text}` is not a duration of at most {MAX_DURATION_TEXT} characters"
    working_days, *parts = match.groups()
    if working_days is not None:
        if int(working_days) > MAX_WORKING_DAYS:
            return f"`{text}` is more than {MAX_WORKING_DAYS} working days"
        return None
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in parts)
    total = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds  # Python ints: no overflow
    if total > MAX_DURATION.total_seconds():
        return f"`{text}` is more than {MAX_DURATION.days} days"
    return None


def parse_duration(text: str) -> timedelta:
    """`2h30m` → 2:30:00, `3wd` → ``WorkingDays(3)``.

    Raises ValueError (never OverflowError) for text that is no duration or is longer than
    :data:`MAX_DURATION` / :data:`MAX_WORKING_DAYS`; validation has reported those already.
    """
    problem = duration_problem(text)
    if problem:
        raise ValueError(problem)
    match = DURATION_FORM.match(text)
    assert match is not None  # duration_problem said so
    working_days, weeks, days, hours, minutes, seconds = (int(part) if part else None for part in match.groups())
    if working_days is not None:
        return WorkingDays(working_days)
    return timedelta(weeks=weeks or 0, days=days or 0, hours=hours or 0, minutes=minutes or 0, seconds=seconds or 0)


def format_duration(value: timedelta, days: bool = True) -> str:
    """The inverse of :func:`parse_duration`, for messages: 9000 s → `2h30m`, ``WorkingDays(3)`` → `3wd`.

    ``days=False`` for business time, where `d` is refused (CX310): 1 day of open time is `24h`.
    """
    if isinstance(value, WorkingDays):
        return str(value)
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400 if days else 0), ("h", 3600), ("m", 60), ("s", 1)):
        if not size:
            continue
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0m"


@dataclass(frozen=True)
class Source:
    """Where an item is written, so any later stage can point into the file."""

    document: Document = field(repr=False, compare=False, hash=False)
    path: JsonPath = field(compare=False, hash=False)

    def at(self, *subpath, key: bool = False) -> Location:
        return self.document.location(self.path + subpath, key=key)

    @property
    def location(self) -> Location:
        return self.document.location(self.path)


@dataclass(frozen=True)
class Match:
    """Which tickets an SLA, rule or policy applies to; ``None`` on a dimension means any."""

    categories: Optional[frozenset[str]] = None
    """Matched categories with their sub-categories expanded."""
    channels: Optional[frozenset[str]] = None
    segments: Optional[frozenset[str]] = None
    priorities: Optional[frozenset[str]] = None
    member: Optional[bool] = None
    declared_categories: tuple[str, ...] = ()

    def matches(self, category: str, channel: str, segment: str, priority: str, member: bool = False) -> bool:
        return (
            (self.categories is None or category in self.categories)
            and (self.channels is None or channel in self.channels)
            and (self.segments is None or segment in self.segments)
            and (self.priorities is None or priority in self.priorities)
            and (self.member is None or self.member == member)
        )


@dataclass(frozen=True)
class Interval:
    """Minutes from midnight, ``start < end``: ``end <= 1440`` within a day, up to 2880 for a
    shift that runs past midnight (``22:00-06:00`` is ``Interval(1320, 1800)``)."""

    start: int
    end: int

    def __str__(self) -> str:
        end = self.end - 1440 if self.end > 1440 else self.end
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


@dataclass(frozen=True)
class Calendar:
    id: str
    timezone: str
    week: tuple[tuple[Interval, ...], ...]
    """The typical week, seven tuples (Monday first) of sorted, disjoint open intervals within
    each day: a shift past midnight is split, its tail counted on the next weekday. Static
    checks read this."""
    source: Source
    name: str | None = None
    label: str | None = None
    holiday_country: str | None = None
    closed: frozenset[date] = frozenset()
    open: frozenset[date] = frozenset()
    dates: Optional[frozenset[date]] = None
    """Open only on these dates (a campaign's): None for a calendar that runs every week."""
    shifts: tuple[tuple[Interval, ...], ...] = ()
    """Seven tuples (Monday first) of the shifts each weekday starts, as written: sorted and
    merged, an end past midnight kept (up to 2880). Real dates are computed from these, so a
    holiday or make-up day changes the shifts that start on it, not the tail of the day
    before. Default: ``week``, with no shift past midnight."""

    def __post_init__(self) -> None:
        if not self.shifts:
            object.__setattr__(self, "shifts", self.week)


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    source: Source
    label: str | None = None
    description: str | None = None
    parent: str | None = None
    temporary: bool = False


@dataclass(frozen=True)
class StaffGroup:
    shift: str
    """Its calendar of working hours; for a group `during` a campaign, `shift@campaign` (that shift on the campaign's dates)."""
    agents: int
    skills: tuple[str, ...] = ()
    during: str | None = None


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    unit: str
    source: Source
    label: str | None = None
    description: str | None = None
    reports_to: str | None = None
    duties: tuple[str, ...] = ()
    handles: frozenset[str] = frozenset()
    """Categories the role can take, sub-categories expanded."""
    closes: frozenset[str] = frozenset()
    skills: tuple[str, ...] = ()
    authority: bool = False
    capacity: int = 1
    assignment: str = "least_loaded"
    staff: tuple[StaffGroup, ...] = ()
    temporary: bool = False

    @property
    def headcount(self) -> int:
        """Agents on its staff all year: groups that work a campaign only are extra (see :attr:`StaffGroup.during`)."""
        return sum(group.agents for group in self.staff if group.during is None)


@dataclass(frozen=True)
class Duty:
    id: str
    name: str
    source: Source
    label: str | None = None
    description: str | None = None
    accountable: tuple[str, ...] = ()
    consulted: tuple[str, ...] = ()
    informed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    hours: str
    source: Source
    label: str | None = None
    categories: Optional[frozenset[str]] = None


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    source: Source
    label: str | None = None
    description: str | None = None
    parent: str | None = None


@dataclass(frozen=True)
class Segment:
    id: str
    name: str
    source: Source
    label: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Skill:
    id: str
    name: str
    source: Source
    label: str | None = None


@dataclass(frozen=True)
class Sla:
    id: str
    match: Match
    resolution: timedelta | None
    calendar: str
    source: Source
    name: str | None = None
    first_response: timedelta | None = None
    warn_at: float | None = None
    pause_when: tuple[str, ...] = ()
    """The waiting states that stop any of its clocks (see :meth:`pauses`)."""
    escalation: str | None = None
    next_reply: timedelta | None = None
    """Business time from each customer reply to the agent's next answer (once the customer has had a first response)."""
    pause_targets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Per target, the waiting states that stop its clock, when the file says so target by target; empty: ``pause_when``
    stops every target."""

    def pauses(self, target: str, reason: str) -> bool:
        """Whether waiting for ``reason`` stops the clock of ``target`` (`first_response`, `resolution`, `next_reply`)."""
        if not self.pause_targets:
            return reason in self.pause_when
        return reason in dict(self.pause_targets).get(target, ())


@dataclass(frozen=True)
class RoutingRule:
    id: str
    match: Match
    to: str
    precedence: int
    order: int
    """Position in the org (across included files); breaks no ties, only orders reports."""
    source: Source
    description: str | None = None
    during: str | None = None
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Handoff:
    id: str
    from_role: str
    to_role: str
    source: Source
    description: str | None = None
    categories: Optional[frozenset[str]] = None
    returns: bool = False
    within: timedelta | None = None


@dataclass(frozen=True)
class EscalationLevel:
    role: str
    within: timedelta | None = None
    notify: tuple[str, ...] = ()


@dataclass(frozen=True)
class EscalationPath:
    id: str
    levels: tuple[EscalationLevel, ...]
    source: Source
    name: str | None = None
    then: str | None = None


@dataclass(frozen=True)
class FollowUp:
    id: str
    on: str
    within: timedelta
    by: str
    match: Match
    source: Source
    name: str | None = None
    calendar: str | None = None
    quiet_hours: str | None = None
    coverage_members: float = 1.0
    coverage_others: float = 1.0
    record: bool = False
    reopen_when_unsatisfied: bool = False
    escalate_when_unsatisfied: str | None = None
    notify_when_unsatisfied: tuple[str, ...] = ()
    notify_when_overdue: tuple[str, ...] = ()


@dataclass(frozen=True)
class Surge:
    id: str
    match: Match
    threshold: int
    """Tickets within ``window`` that switch the team on; with ``usual_times``, the least that does."""
    window: timedelta
    release_below: Optional[int]
    """Below this count the team goes off again; None: half the threshold in force."""
    activate: str
    source: Source
    name: str | None = None
    usual_times: Optional[float] = None
    """A threshold relative to the usual volume: this many times the average count of the same window at the same time of
    the week over the last ``usual_weeks`` weeks."""
    usual_weeks: int = 4


@dataclass(frozen=True)
class WorkflowState:
    id: str
    next: tuple[str, ...]
    name: str | None = None
    label: str | None = None
    role: str | None = None
    requires: str | None = None


@dataclass(frozen=True)
class Workflow:
    id: str
    match: Match
    states: tuple[WorkflowState, ...]
    source: Source
    name: str | None = None
    label: str | None = None

    @property
    def initial(self) -> str:
        return self.states[0].id


TICKET_EVENTS = ("created", "first_response", "agent_replied", "handed_over", "reassigned", "waiting", "customer_reply", "resolved", "reopened",
                 "closed", "updated")
"""What can happen to a ticket, as automations name it; `updated` is a change an automation made."""


@dataclass(frozen=True)
class Trigger:
    """When an automation runs: on one ticket event, at a time after one, or on a pattern across tickets."""

    event: str = "created"
    after: Optional[timedelta] = None
    """A timer: this long after the ``event`` (named `since` in the file), in business time unless ``clock`` is `calendar`."""
    clock: str = "business"
    calendar: Optional[str] = None
    count: Optional[int] = None
    """A pattern: the event is at least the ``count``-th such event of the same customer (or of all tickets) within ``within``."""
    following: Optional[str] = None
    """A pattern: another ticket of the same customer, of the class the conditions ask for, had this event within ``within`` before."""
    within: Optional[timedelta] = None
    per: str = "customer"

    @property
    def pattern(self) -> bool:
        return self.count is not None or self.following is not None


@dataclass(frozen=True)
class Conditions:
    """What must hold of the ticket when an automation's trigger fires."""

    match: Match = Match()
    statuses: Optional[frozenset[str]] = None
    responded: Optional[bool] = None
    tags: frozenset[str] = frozenset()
    without_tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Actions:
    """What an automation does, applied in this order."""

    priority: Optional[str] = None
    segment: Optional[str] = None
    tags: tuple[str, ...] = ()
    assign: Optional[str] = None
    escalate: Optional[str] = None
    notify: tuple[str, ...] = ()
    reopen: Optional[str] = None
    """`this` ticket, or the `earlier` one a `following` pattern found."""
    surge: Optional[str] = None
    follow_up: Optional[str] = None
    workflow: Optional[str] = None
    step: Optional[str] = None

    def sets(self) -> dict[str, str]:
        """Fields it gives a value: `priority`, `segment`, `role` (by `assign`)."""
        return {name: value for name, value in (("priority", self.priority), ("segment", self.segment), ("role", self.assign))
                if value is not None}


@dataclass(frozen=True)
class Automation:
    id: str
    trigger: Trigger
    conditions: Conditions
    actions: Actions
    source: Source
    name: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Campaign:
    """Dates with their own needs (a sales festival, a model launch): rules and staff `during` it, surge teams on for it.

    The org also holds it as a calendar of the same id, open all day on its dates, so that `during: <campaign>` works
    wherever a calendar does and `check` looks at its dates as it looks at holidays.
    """

    id: str
    dates: frozenset[date]
    source: Source
    name: str | None = None
    label: str | None = None
    surges: tuple[str, ...] = ()


@dataclass(frozen=True)
class Accepted:
    """A finding the org's authors accepted on purpose, with their reason."""

    code: str
    reason: str
    source: Source
    at: str | None = None


@dataclass(frozen=True)
class OrgInfo:
    id: str
    name: str
    timezone: str
    calendar: str
    fallback_queue: str
    priorities: tuple[str, ...]
    span_of_control: int
    capacity_floor: int
    source: Source
    label: str | None = None
    description: str | None = None
    locale: str | None = None


def _index(items) -> Mapping:
    return MappingProxyType({item.id: item for item in items})


def _lookup():
    return field(default_factory=lambda: MappingProxyType({}), init=False, repr=False, compare=False, hash=False)


@dataclass(frozen=True)
class Org:
    """A validated organisation. Build one with :func:`cxrules.load_org`."""

    info: OrgInfo
    calendars: tuple[Calendar, ...] = ()
    units: tuple[Unit, ...] = ()
    roles: tuple[Role, ...] = ()
    duties: tuple[Duty, ...] = ()
    channels: tuple[Channel, ...] = ()
    categories: tuple[Category, ...] = ()
    segments: tuple[Segment, ...] = ()
    skills: tuple[Skill, ...] = ()
    slas: tuple[Sla, ...] = ()
    routing: tuple[RoutingRule, ...] = ()
    handoffs: tuple[Handoff, ...] = ()
    escalations: tuple[EscalationPath, ...] = ()
    followups: tuple[FollowUp, ...] = ()
    surges: tuple[Surge, ...] = ()
    workflows: tuple[Workflow, ...] = ()
    accepted: tuple[Accepted, ...] = ()
    files: tuple[str, ...] = ()
    automations: tuple[Automation, ...] = ()
    campaigns: tuple[Campaign, ...] = ()

    # Lookups by id, filled in by __post_init__.
    _calendars_by_id: Mapping[str, Calendar] = _lookup()
    _units_by_id: Mapping[str, Unit] = _lookup()
    _roles_by_id: Mapping[str, Role] = _lookup()
    _duties_by_id: Mapping[str, Duty] = _lookup()
    _channels_by_id: Mapping[str, Channel] = _lookup()
    _categories_by_id: Mapping[str, Category] = _lookup()
    _escalations_by_id: Mapping[str, EscalationPath] = _lookup()
    _slas_by_id: Mapping[str, Sla] = _lookup()

    def __post_init__(self) -> None:
        for name in ("calendars", "units", "roles", "duties", "channels", "categories", "segments", "skills",
                     "slas", "routing", "handoffs", "escalations", "followups", "surges", "workflows", "automations"):
            object.__setattr__(self, f"_{name}_by_id", _index(getattr(self, name)))

    def calendar(self, id: str) -> Calendar:
        return self._calendars_by_id[id]

    def unit(self, id: str) -> Unit:
        return self._units_by_id[id]

    def role(self, id: str) -> Role:
        return self._roles_by_id[id]

    def duty(self, id: str) -> Duty:
        return self._duties_by_id[id]

    def channel(self, id: str) -> Channel:
        return self._channels_by_id[id]

    def category(self, id: str) -> Category:
        return self._categories_by_id[id]

    def escalation(self, id: str) -> EscalationPath:
        return self._escalations_by_id[id]

    def sla(self, id: str) -> Sla:
        return self._slas_by_id[id]

    def descendants(self, category: str) -> Iterator[str]:
        """The category and every category beneath it."""
        yield category
        for child in self.categories:
            if child.parent == category:
                yield from self.descendants(child.id)


def fingerprint(org: Org) -> str:
    """A hash of what the org says, not of how its files are written: comments, layout and file
    names leave it alone, any change of meaning changes it. The engine's store records it to
    tell whether its state was written under this version of the org."""
    import hashlib
    import json
    from dataclasses import fields, is_dataclass

    def plain(value):
        if is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in fields(value)
                    if f.name not in ("source", "files") and not f.name.startswith("_")}  # `_x_by_id`: indexes of the rest
        if isinstance(value, WorkingDays):
            return str(value)
        if isinstance(value, timedelta):
            return value.total_seconds()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, (frozenset, set)):
            return sorted(plain(item) for item in value)
        if isinstance(value, (tuple, list)):
            return [plain(item) for item in value]
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        raise TypeError(f"no fingerprint for a {type(value).__name__}")  # a new model type must say how it is compared

    return hashlib.sha256(json.dumps(plain(org), sort_keys=True, ensure_ascii=False).encode()).hexdigest()
