"""Calibration: a simulation model measured from a log, written as YAML that a consultant edits.

The what-if simulation does not replay a log: it draws arrivals, work, reassignments, pauses
and reopenings from a :class:`SimulationModel`. :func:`calibrate` measures one from the
records `read_log` returns, :func:`model_to_yaml` writes it with comments, and
:func:`load_model` reads it back (schema-checked, ids checked against the org), edits
included. Fitting needs scipy, imported only while fitting; drawing needs nothing but a
:class:`random.Random`, so a simulation never imports scipy.

A record from an event log brings its stints; a record from a flat log (one row per ticket)
becomes one implicit stint with the role the org routes it to, from `created` (first picked
at `first_response`) to `resolved`.
"""

from __future__ import annotations

import bisect
import math
import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from ..calendars import BusinessCalendar, hour_start
from ..diagnostics import Diagnostic
from ..loading import MODEL_KIND, Document, load_file
from ..model import MAX_DURATION, Org, duration_problem, format_duration, parse_duration
from ..routing import Router, TicketClass, class_values, meant
from ..schema import validate_against
from .history import Stint, TicketRecord

__all__ = ["SimulationModel", "Quantiles", "WorkCell", "Fit", "Merged", "Handling", "Odds", "NextRoles", "ReasonPauses",
           "RolePauses", "RoleRoutes", "ReopenRate", "Reopen", "Pick", "RolePick", "Entry", "Arrivals", "ClassShare", "MIN_SAMPLES", "LEVELS",
           "calibrate", "model_to_yaml", "load_model", "validate_model", "MODEL_KIND", "generate_arrivals"]

MIN_SAMPLES = 20
"""Samples a role × category × priority needs before it gets a work-time cell of its own."""
LEVELS = ("role_category_priority", "role_category", "role", "all")
"""Work-time cells from the most specific to all roles pooled."""
QUANTILES = (("p10", 0.10), ("p25", 0.25), ("p50", 0.50), ("p75", 0.75), ("p90", 0.90), ("p99", 0.99))
GOOD_FIT = 0.1
"""A fit is used when its Kolmogorov–Smirnov statistic is below this; else the measured quantiles are."""
SUM_TOLERANCE = 0.01
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLASS_FIELDS = ("category", "channel", "segment", "priority", "member")


# ---------------------------------------------------------------- the model


def _keys(role: Optional[str], category: Optional[str], priority: Optional[str]) -> tuple[tuple, ...]:
    """The work-time cells a combination may draw from, one per level of :data:`LEVELS`."""
    return (role, category, priority), (role, category, None), (role, None, None), (None, None, None)


@dataclass(frozen=True)
class Quantiles:
    """A measured sample of durations: its size, its quantiles (:data:`QUANTILES`, in order) and mean."""

    n: int
    points: tuple[timedelta, ...]
    mean: timedelta

    def seconds(self, u: float, zero_share: float = 0.0) -> float:
        """The inverse CDF at ``u``: zero below the zero share, else linear between the quantiles
        and continued at the slope of the outer two beyond p10 and p99 (never below zero)."""
        if u < zero_share:
            return 0.0
        xs = [share for _, share in QUANTILES]
        ys = [point.total_seconds() for point in self.points]
        index = min(max(bisect.bisect_right(xs, u), 1), len(xs) - 1)
        x0, x1, y0, y1 = xs[index - 1], xs[index], ys[index - 1], ys[index]
        return max(0.0, y0 + (u - x0) * (y1 - y0) / (x1 - x0))

    def draw(self, rng: random.Random, zero_share: float = 0.0) -> timedelta:
        return timedelta(seconds=self.seconds(rng.random(), zero_share))


@dataclass(frozen=True)
class Fit:
    """A distribution fitted to the non-zero work times: lognormal (``shape`` sigma, ``scale`` the
    median) or gamma (``shape`` k, ``scale`` theta), with its Kolmogorov–Smirnov statistic."""

    family: str
    shape: float
    scale: timedelta
    ks: float

    def draw_seconds(self, rng: random.Random) -> float:
        scale = self.scale.total_seconds()
        if self.family == "lognormal":
            return rng.lognormvariate(math.log(scale), self.shape) if scale > 0 else 0.0
        return rng.gammavariate(self.shape, scale)


@dataclass(frozen=True)
class WorkCell:
    """Work times of a role, category and priority; None on a dimension pools over it."""

    role: Optional[str]
    category: Optional[str]
    priority: Optional[str]
    work: Quantiles
    zero_share: float
    fits: tuple[Fit, ...]
    distribution: str
    """`empirical`, `lognormal` or `gamma`: what :meth:`draw` draws from."""

    @property
    def key(self) -> tuple[Optional[str], Optional[str], Optional[str]]:
        return self.role, self.category, self.priority

    @property
    def level(self) -> str:
        return LEVELS[3 - sum(value is not None for value in self.key)]

    def fit(self, family: str) -> Optional[Fit]:
        return next((fit for fit in self.fits if fit.family == family), None)

    def draw(self, rng: random.Random) -> timedelta:
        fit = self.fit(self.distribution)
        if fit is None:
            return self.work.draw(rng, self.zero_share)
        return timedelta(seconds=0.0 if rng.random() < self.zero_share else fit.draw_seconds(rng))


@dataclass(frozen=True)
class Merged:
    """A role × category × priority with fewer samples than a cell needs, and the level of the cell it draws from."""

    role: str
    category: str
    priority: str
    n: int
    uses: str


@dataclass(frozen=True)
class Handling:
    min_samples: int
    cells: tuple[WorkCell, ...]
    """Work of the stints someone of the role took up, from then to leaving."""
    merged: tuple[Merged, ...]
    censored: dict[str, int]
    """Per role, stints still open when the log ends: not measured."""
    triage: dict[str, Quantiles] = field(default_factory=dict)
    """Per role, the time of the stints nobody of the role took up, from coming to leaving: passing on is quicker work."""


@dataclass(frozen=True)
class Odds:
    probability: float
    count: int = 0


@dataclass(frozen=True)
class NextRoles:
    """Where a ticket goes after a stint with a role that someone of it took up: resolved, or to another role;
    ``unpicked``: the same after a stint nobody of the role took up (it was passed on, or closed, unassigned)."""

    resolved: Odds
    to: dict[str, Odds]
    unpicked: Optional["NextRoles"] = None


@dataclass(frozen=True)
class RoleRoutes:
    """Where tickets go after a stint with a role, apart for new tickets (``arrival``) and tickets passed to it
    (``transfer``): a first line resolves or dispatches, a resolver group that got a ticket passed on mostly resolves it."""

    arrival: Optional[NextRoles]
    transfer: Optional[NextRoles]


@dataclass(frozen=True)
class ReasonPauses:
    share: float
    count: int
    length: Optional[Quantiles]
    """None when no pause of the reason ended within the log."""


@dataclass(frozen=True)
class RolePauses:
    stints: int
    paused_share: float
    per_paused_stint: float
    reasons: dict[str, ReasonPauses]


@dataclass(frozen=True)
class ReopenRate:
    rate: float
    resolved: int = 0
    reopenings: int = 0


@dataclass(frozen=True)
class Reopen:
    overall: ReopenRate
    by_category: dict[str, ReopenRate]
    delay: Optional[Quantiles]
    """From resolution to reopening; None when the log gives no times (a flat log), and then nothing reopens."""


@dataclass(frozen=True)
class Pick:
    """How a role takes up the tickets that come to it: the share someone of it took up (the rest it passed on or
    closed with nobody assigned), and the wall-clock wait until then."""

    picked: float
    stints: int
    wait: Optional[Quantiles]

    def draw(self, rng: random.Random) -> Optional[timedelta]:
        if rng.random() >= self.picked:
            return None
        return self.wait.draw(rng) if self.wait is not None else timedelta(0)


@dataclass(frozen=True)
class RolePick:
    """A role's picks of new tickets (``arrival``) and of tickets passed to it (``transfer``): a new ticket is
    usually taken up at once, one passed on to a resolver group waits far longer."""

    arrival: Optional[Pick]
    transfer: Optional[Pick]


@dataclass(frozen=True)
class Entry:
    """Where the tickets the org's rules route to a role started in the log: some are raised directly with another
    role. Per category where the category has enough tickets, else for all."""

    all: dict[str, Odds]
    by_category: dict[str, dict[str, Odds]]


@dataclass(frozen=True)
class ClassShare:
    category: str
    channel: str
    segment: str
    priority: str
    member: bool
    share: float
    tickets: int = 0


@dataclass(frozen=True)
class Arrivals:
    start: date
    end: date
    """The log's first and last local day."""
    total: int
    trend: float
    """Change of the daily count per day (least squares)."""
    per_hour: tuple[float, ...]
    """168 values: tickets per hour of an average week, Monday 00 to Sunday 23, local time."""
    classes: tuple[ClassShare, ...]


@dataclass(frozen=True)
class SimulationModel:
    """What the what-if simulation draws from; every draw takes the caller's :class:`random.Random`."""

    org: str
    timezone: str
    arrivals: Arrivals
    handling: Handling
    reassignment: dict[str, RoleRoutes]
    pauses: dict[str, RolePauses]
    reopen: Reopen
    first_pick: dict[str, RolePick]
    entry: dict[str, Entry] = field(default_factory=dict)
    _cells: dict = field(init=False, repr=False, compare=False)
    _uses: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cells", {cell.key: cell for cell in self.handling.cells})
        object.__setattr__(self, "_uses", {(m.role, m.category, m.priority): LEVELS.index(m.uses) for m in self.handling.merged})

    def work(self, role: str, category: str, priority: str, rng: random.Random, picked: bool = True) -> timedelta:
        """Work time drawn from the most specific cell there is (a sparse combination starts at the level it records);
        for a stint nobody takes up (``picked`` false), the role's triage time where the log has one."""
        if not picked and role in self.handling.triage:
            return self.handling.triage[role].draw(rng)
        for key in _keys(role, category, priority)[self._uses.get((role, category, priority), 0):]:
            cell = self._cells.get(key)
            if cell is not None:
                return cell.draw(rng)
        raise LookupError("the model has no work times: the log had no finished stint")

    def next_role(self, role: str, rng: random.Random, picked: bool = True, arrival: bool = True) -> Optional[str]:
        """The role a ticket goes to after a stint with ``role`` (new to the centre or passed on, taken up by someone or
        not); None: it is resolved (also for a role the log never showed)."""
        routes = self.reassignment.get(role)
        if routes is None:
            return None
        odds = (routes.arrival or routes.transfer) if arrival else (routes.transfer or routes.arrival)
        if odds is None:
            return None
        if not picked and odds.unpicked is not None:
            odds = odds.unpicked
        options: list[Optional[str]] = [None, *odds.to]
        return rng.choices(options, weights=[odds.resolved.probability, *(o.probability for o in odds.to.values())])[0]

    def pause(self, role: str, rng: random.Random) -> Optional[tuple[str, timedelta]]:
        """A pause of a stint with ``role`` (reason, wall-clock length), or None when it does not pause."""
        pauses = self.pauses.get(role)
        if pauses is None or rng.random() >= pauses.paused_share:
            return None
        reasons = [(reason, found) for reason, found in pauses.reasons.items() if found.length is not None and found.share > 0]
        if not reasons:
            return None
        reason, found = rng.choices(reasons, weights=[found.share for _, found in reasons])[0]
        assert found.length is not None  # filtered above
        return reason, found.length.draw(rng)

    def reopens(self, category: str, rng: random.Random) -> Optional[timedelta]:
        """How long after its resolution a ticket of ``category`` reopens, or None when it does not."""
        rate = self.reopen.by_category.get(category, self.reopen.overall).rate
        if self.reopen.delay is None or rng.random() >= rate:
            return None
        return self.reopen.delay.draw(rng)

    def pick(self, role: str, rng: random.Random, arrival: bool = True) -> Optional[timedelta]:
        """The wait until someone of ``role`` takes up a ticket that came to it, new (``arrival``) or passed on; None:
        nobody does (it is passed on or resolved unassigned). A role the log never showed takes tickets up at once."""
        picks = self.first_pick.get(role)
        if picks is None:
            return timedelta(0)
        pick = (picks.arrival or picks.transfer) if arrival else (picks.transfer or picks.arrival)
        return pick.draw(rng) if pick is not None else timedelta(0)

    def start(self, routed: str, category: str, rng: random.Random) -> str:
        """The role a ticket the rules route to ``routed`` starts with, as the log shows such tickets starting."""
        entry = self.entry.get(routed)
        if entry is None:
            return routed
        odds = entry.by_category.get(category, entry.all)
        return rng.choices(list(odds), weights=[o.probability for o in odds.values()])[0] if odds else routed

    def arrivals_per_hour(self, hour_of_week: int) -> float:
        """Tickets per hour in an average week, hour 0 being Monday 00:00 local time."""
        return self.arrivals.per_hour[hour_of_week % 168]

    @property
    def class_mix(self) -> list[tuple[dict, float]]:
        return [({name: getattr(c, name) for name in CLASS_FIELDS}, c.share) for c in self.arrivals.classes]


def generate_arrivals(model: SimulationModel, start: datetime, days: int, rng: random.Random, volume: float = 1.0) -> list[TicketRecord]:
    """Tickets arriving from ``start`` for ``days`` days: a Poisson process whose rate is the
    hour-of-week profile scaled by the trend (relative to the log's mean day, 0 at worst) and by ``volume``
    (1.2: a fifth more tickets), each of a class drawn from the mix."""
    zone = ZoneInfo(model.timezone)
    arrivals = model.arrivals
    span = (arrivals.end - arrivals.start).days + 1
    mean_daily = arrivals.total / span
    origin = datetime.combine(arrivals.start, datetime.min.time(), zone).astimezone(timezone.utc)
    mix = model.class_mix
    weights = [share for _, share in mix]
    records: list[TicketRecord] = []
    end = start + timedelta(days=days)
    hour = hour_start(start, zone)
    while hour < end:
        local = hour.astimezone(zone)
        middle = (hour + timedelta(minutes=30) - origin) / timedelta(days=1) - 0.5  # the regression's day index
        factor = max(0.0, 1 + arrivals.trend * (middle - (span - 1) / 2) / mean_daily) if mean_daily else 1.0
        rate = model.arrivals_per_hour(local.weekday() * 24 + local.hour) * factor * volume
        moment = 0.0
        while rate > 0:
            moment += rng.expovariate(rate)
            created = hour + timedelta(hours=moment)
            if moment >= 1 or created >= end:
                break
            fields, _ = rng.choices(mix, weights=weights)[0]
            if created >= start:  # arrivals are memoryless: the hour's part before the start is drawn and dropped
                records.append(TicketRecord(id=f"G{len(records) + 1}", created=created, row=len(records) + 1, **fields))
        hour += timedelta(hours=1)
    return records


# ---------------------------------------------------------------- rounding: what the YAML shows is what the model holds


def _number(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def _duration(seconds: float) -> timedelta:
    """Whole seconds under an hour, whole minutes above; never more than a duration may be."""
    seconds = min(max(seconds, 0.0), MAX_DURATION.total_seconds())
    return timedelta(seconds=round(seconds) if seconds < 3600 else 60 * round(seconds / 60))


def _quantile(ordered: list[float], share: float) -> float:
    """Linear interpolation between order statistics (numpy's default)."""
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def _quantiles(values: list[float], zero_share: float = 0.0) -> Quantiles:
    """Quantiles of ``values``; one whose share lies within ``zero_share`` is zero (interpolating from the last zero
    would make up work no stint had, and draws honouring the zero share would not reproduce it)."""
    ordered = sorted(values)
    points = tuple(_duration(_quantile(ordered, share) if share >= zero_share else 0.0) for _, share in QUANTILES)
    return Quantiles(len(ordered), points, _duration(statistics.fmean(ordered)))


# ---------------------------------------------------------------- calibration


def calibrate(org: Org, records: Iterable[TicketRecord], *, window: Optional[tuple[datetime, datetime]] = None,
              min_samples: int = MIN_SAMPLES) -> SimulationModel:
    """Measure a simulation model from ``records`` (those created within ``window``, if given).

    Raises ValueError when no record is left to measure.
    """
    chosen = [r for r in records if window is None or window[0] <= r.created < window[1]]
    if not chosen:
        raise ValueError("no tickets to calibrate from" + (" in the window" if window else ""))
    router = Router(org)
    roles = frozenset(role.id for role in org.roles)
    histories = [(record, record.stints or _implicit(record, router)) for record in chosen]
    return SimulationModel(
        org=org.info.id, timezone=org.info.timezone, arrivals=_arrivals(chosen, ZoneInfo(org.info.timezone)),
        handling=_handling(org, histories, roles, min_samples), reassignment=_reassignment(histories, roles),
        pauses=_pauses(histories, roles), reopen=_reopen(histories), first_pick=_first_pick(histories, roles),
        entry=_entry(histories, router, roles, min_samples))


def _implicit(record: TicketRecord, router: Router) -> tuple[Stint, ...]:
    """A flat log's ticket as one stint with the role the org routes it to."""
    role = router.route(TicketClass(record.category, record.channel, record.segment, record.priority, record.member), record.created).role
    return (Stint(role, entered=record.created, picked=record.first_response, left=record.resolved, resolved=record.resolved is not None),)


def _arrivals(records: list[TicketRecord], zone: ZoneInfo) -> Arrivals:
    local = [r.created.astimezone(zone) for r in records]
    first, last = min(local).date(), max(local).date()
    span = (last - first).days + 1
    weekdays = Counter((first + timedelta(days=d)).weekday() for d in range(span))
    slots = Counter(moment.weekday() * 24 + moment.hour for moment in local)
    daily = Counter((moment.date() - first).days for moment in local)
    counts = [daily[d] for d in range(span)]
    mean_x, mean_y = (span - 1) / 2, statistics.fmean(counts)
    spread = sum((x - mean_x) ** 2 for x in range(span))
    trend = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(counts)) / spread if spread else 0.0
    classes = Counter(tuple(getattr(r, name) for name in CLASS_FIELDS) for r in records)
    return Arrivals(
        start=first, end=last, total=len(records), trend=_number(trend),
        per_hour=tuple(_number(slots[slot] / weekdays[slot // 24]) if weekdays[slot // 24] else 0.0 for slot in range(168)),
        classes=tuple(ClassShare(**dict(zip(CLASS_FIELDS, values)), share=_number(n / len(records)), tickets=n)
                      for values, n in sorted(classes.items(), key=lambda item: (-item[1], item[0]))))


def _calendar_of(org: Org, role: str, calendars: dict[str, BusinessCalendar]) -> BusinessCalendar:
    """The shift calendar of the role's largest staff group (the org's calendar for a role without staff)."""
    staff = org.role(role).staff
    name = max(staff, key=lambda group: group.agents).shift if staff else org.info.calendar
    if name not in calendars:
        calendars[name] = BusinessCalendar(org.calendar(name))
    return calendars[name]


def _work_seconds(stint: Stint, calendar: BusinessCalendar) -> float:
    """Business time from pick-up (or arrival) to leaving, less the business time of the pauses in it."""
    assert stint.left is not None
    start, end = stint.picked or stint.entered, stint.left
    paused = sum((calendar.between(max(p.start, start), min(p.end or end, end)) for p in stint.pauses), timedelta(0))
    return max(0.0, (calendar.between(start, end) - paused).total_seconds())


def _stints(histories, roles: frozenset[str]) -> Iterator[tuple[TicketRecord, Stint]]:
    """Every stint with a role of the org, with its ticket."""
    return ((record, stint) for record, stints in histories for stint in stints if stint.role in roles)


def _handling(org: Org, histories, roles: frozenset[str], min_samples: int) -> Handling:
    calendars: dict[str, BusinessCalendar] = {}
    samples: dict[tuple, list[float]] = defaultdict(list)
    triage: dict[str, list[float]] = defaultdict(list)
    censored: Counter = Counter()
    for record, stint in _stints(histories, roles):
        if stint.left is None:
            censored[stint.role] += 1
            continue
        seconds = _work_seconds(stint, _calendar_of(org, stint.role, calendars))
        if stint.picked is None and record.stints:  # an event log's stint nobody took up (a flat log's has no pick time)
            triage[stint.role].append(seconds)
            continue
        for key in _keys(stint.role, record.category, record.priority):
            samples[key].append(seconds)
    kept = {key: values for key, values in samples.items() if len(values) >= min_samples or key == (None, None, None)}
    merged = []
    for (role, category, priority), values in sorted((k, v) for k, v in samples.items() if k[2] is not None and k not in kept):
        uses = next(level for level, key in zip(LEVELS, _keys(role, category, priority)) if key in kept)
        merged.append(Merged(role, category, priority, len(values), uses))
    cells = tuple(_cell(key, kept[key]) for key in sorted(kept, key=lambda k: (k.count(None), tuple(v or "" for v in k))))
    return Handling(min_samples, cells, tuple(merged), dict(sorted(censored.items())),
                    {role: _quantiles(values, _number(sum(v == 0 for v in values) / len(values))) for role, values in sorted(triage.items())})


def _cell(key: tuple, values: list[float]) -> WorkCell:
    role, category, priority = key
    fits = _fit([v for v in values if v > 0])
    best = min(fits, key=lambda fit: fit.ks, default=None)
    zero_share = _number(sum(v == 0 for v in values) / len(values))
    return WorkCell(role, category, priority, work=_quantiles(values, zero_share), zero_share=zero_share, fits=fits,
                    distribution=best.family if best is not None and best.ks < GOOD_FIT else "empirical")


def _fit(positive: list[float]) -> tuple[Fit, ...]:
    """Maximum-likelihood lognormal and gamma (location fixed at 0) with their KS statistics; none for fewer than two distinct values."""
    if len(set(positive)) < 2:
        return ()
    import warnings

    from scipy import stats

    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a poor fit warns; its KS statistic says so anyway
        for family, distribution in (("lognormal", stats.lognorm), ("gamma", stats.gamma)):
            shape, _, scale = distribution.fit(positive, floc=0)
            ks = stats.kstest(positive, distribution.name, args=(shape, 0, scale)).statistic
            fits.append(Fit(family, _number(shape), _duration(scale), _number(ks, 3)))
    return tuple(fits)


def _reassignment(histories, roles: frozenset[str]) -> dict[str, RoleRoutes]:
    """Where each finished stint of a role of the org led, apart for a ticket's first stint and later ones, and for
    stints someone took up and stints nobody did: the next stint's role (if the org's), or resolved (a reopening
    follows a resolution, it is no reassignment)."""
    counts: dict[tuple[str, bool, bool], Counter] = defaultdict(Counter)
    for record, stints in histories:
        for index, (current, following) in enumerate(zip(stints, (*stints[1:], None))):
            if current.left is None or current.role not in roles:
                continue
            key = (current.role, index == 0, current.picked is not None or not record.stints)
            if following is not None and not following.reopened:
                if following.role in roles:
                    counts[key][following.role] += 1
            elif current.resolved:
                counts[key][None] += 1

    def odds(found: Counter, unpicked: Optional[NextRoles] = None) -> NextRoles:
        total = sum(found.values())
        others = sorted(((to, n) for to, n in found.items() if to is not None), key=lambda item: (-item[1], item[0]))
        return NextRoles(Odds(_number(found[None] / total), found[None]), {to: Odds(_number(n / total), n) for to, n in others}, unpicked)

    def routes(role: str, first: bool) -> Optional[NextRoles]:
        picked, unpicked = counts.get((role, first, True)), counts.get((role, first, False))
        if picked is None:
            return odds(unpicked) if unpicked else None
        return odds(picked, odds(unpicked) if unpicked else None)

    return {role: RoleRoutes(routes(role, True), routes(role, False)) for role in sorted({role for role, _, _ in counts})}


def _pauses(histories, roles: frozenset[str]) -> dict[str, RolePauses]:
    stints: Counter = Counter()
    paused: Counter = Counter()
    reasons: dict[str, Counter] = defaultdict(Counter)
    lengths: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _, stint in _stints(histories, roles):
        if stint.left is None:
            continue
        stints[stint.role] += 1
        paused[stint.role] += bool(stint.pauses)
        for pause in stint.pauses:
            reasons[stint.role][pause.reason] += 1
            if pause.end is not None:
                lengths[(stint.role, pause.reason)].append((pause.end - pause.start).total_seconds())
    result = {}
    for role, n in sorted(stints.items()):
        total = sum(reasons[role].values())
        result[role] = RolePauses(n, _number(paused[role] / n), _number(total / paused[role]) if paused[role] else 0.0, {
            reason: ReasonPauses(_number(count / total), count, _quantiles(lengths[(role, reason)]) if lengths[(role, reason)] else None)
            for reason, count in sorted(reasons[role].items(), key=lambda item: (-item[1], item[0]))})
    return result


def _reopen(histories) -> Reopen:
    resolved: Counter = Counter()
    reopened: Counter = Counter()
    delays: list[float] = []
    for record, stints in histories:
        if record.resolved is None and not any(s.resolved for s in stints):
            continue
        resolved[record.category] += 1
        reopened[record.category] += sum(s.reopened for s in stints) if record.stints else record.reopenings
        delays += [(following.entered - current.left).total_seconds() for current, following in zip(stints, stints[1:])
                   if following.reopened and current.left is not None]

    def rate(category: Optional[str]) -> ReopenRate:
        done, again = (resolved[category], reopened[category]) if category else (sum(resolved.values()), sum(reopened.values()))
        return ReopenRate(_number(again / done) if done else 0.0, done, again)

    return Reopen(rate(None), {category: rate(category) for category in sorted(resolved)}, _quantiles(delays) if delays else None)


def _first_pick(histories, roles: frozenset[str]) -> dict[str, RolePick]:
    """Per role, apart for new tickets and tickets passed to it: the share taken up, and the waits until then."""
    waits: dict[tuple[str, bool], list[float]] = defaultdict(list)
    stints: Counter = Counter()
    for _, history in histories:
        for index, stint in enumerate(history):
            if stint.role not in roles or (stint.left is None and stint.picked is None):
                continue  # still waiting when the log ends: whether it will be taken up is not known
            key = (stint.role, index == 0)
            stints[key] += 1
            if stint.picked is not None:
                waits[key].append(max(0.0, (stint.picked - stint.entered).total_seconds()))

    def pick(key: tuple[str, bool]) -> Optional[Pick]:
        n = stints.get(key, 0)
        return Pick(_number(len(waits[key]) / n), n, _quantiles(waits[key]) if waits[key] else None) if n else None

    return {role: RolePick(pick((role, True)), pick((role, False))) for role in sorted({role for role, _ in stints})}


def _entry(histories, router: Router, roles: frozenset[str], min_samples: int) -> dict[str, Entry]:
    """Per role the rules route to: the roles such tickets started with, overall and per category with enough tickets."""
    starts: dict[str, Counter] = defaultdict(Counter)
    by_category: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for record, stints in histories:
        if not stints or stints[0].role not in roles:
            continue
        routed = router.route(TicketClass(record.category, record.channel, record.segment, record.priority, record.member),
                              record.created).role
        starts[routed][stints[0].role] += 1
        by_category[(routed, record.category)][stints[0].role] += 1

    def odds(found: Counter) -> dict[str, Odds]:
        total = sum(found.values())
        return {role: Odds(_number(n / total), n) for role, n in sorted(found.items(), key=lambda item: (-item[1], item[0]))}

    return {routed: Entry(odds(found), {category: odds(counts) for (to, category), counts in sorted(by_category.items())
                                        if to == routed and sum(counts.values()) >= min_samples})
            for routed, found in sorted(starts.items())}


# ---------------------------------------------------------------- writing


def _flow(value: Any) -> str:
    """One value in YAML flow style, quoted only where YAML needs it."""
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=1 << 20).strip().removesuffix("\n...")


def _sample(q: Quantiles) -> dict:
    return {"n": q.n, **{name: format_duration(point) for (name, _), point in zip(QUANTILES, q.points)}, "mean": format_duration(q.mean)}


_FIT_FIELDS = {"lognormal": ("sigma", "median"), "gamma": ("shape", "scale")}


def model_to_yaml(model: SimulationModel) -> str:
    """The model as commented YAML; :func:`load_model` reads it back into an equal model."""
    a, h = model.arrivals, model.handling
    seen = {(a.start + timedelta(days=d)).weekday() for d in range(min((a.end - a.start).days + 1, 7))}
    unseen = [day for index, day in enumerate(DAYS) if index not in seen]
    lines = [
        f"# Simulation model of org `{model.org}`, measured by `cxrules calibrate` from {a.total} tickets ({a.start} to {a.end}).",
        "# The what-if simulation draws arrivals, work, reassignments, pauses and reopenings from it. Edit any figure:",
        "# durations are written like `45s`, `30m` or `3h20m`; shares and probabilities are numbers from 0 to 1.",
        "apiVersion: cxrules/v1", "kind: SimulationModel", f"org: {_flow(model.org)}", f"timezone: {_flow(model.timezone)}", "",
        f"# Arrivals: tickets per hour of an average week ({model.timezone}), one row per day, hours 00 to 23; each value is",
        "# the tickets that arrived in that hour of the log divided by the times that hour occurs in it.",
        "arrivals:", f"  from: {a.start}", f"  to: {a.end}", f"  total: {a.total}",
        "  # change of tickets per day, per day (least-squares slope of the daily counts); 0 keeps the load steady",
        f"  trend: {_flow(a.trend)}",
        *([f"  # the log has no {', '.join(unseen)}: their hours stay at 0 until you fill them in"] if unseen else []),
        "  per_hour:",
        *(f"    {day}: {_flow([int(v) if v.is_integer() else v for v in a.per_hour[24 * i:24 * i + 24]])}" for i, day in enumerate(DAYS)),
        "  # the ticket classes seen, with their share of arrivals (adding up to 1) and the number of tickets",
        "  classes:",
        *(f"    - {_flow({name: getattr(c, name) for name in (*CLASS_FIELDS, 'share', 'tickets')})}" for c in a.classes), "",
        "# Handling: work time per role, category and priority, in business time of the role's shift (its largest staff",
        "# group's calendar) from pick-up to leaving, pauses left out. A combination with fewer than `min_samples`",
        "# stints draws from a coarser cell (`merged`: role × category, then role, then all roles). `work` holds the measured",
        "# quantiles, zeros included; lognormal and gamma are fitted to the non-zero times, `ks` (Kolmogorov-Smirnov, smaller",
        "# is better) says how well. `distribution` is what is drawn: the better fit when its ks is below 0.1, else the",
        "# quantiles (`empirical`). `zero_share`: stints picked and left within the same minute. `triage`: per role, the time",
        "# of the stints nobody of the role took up (it passed them on, or closed them, unassigned), from coming to leaving.",
        "handling:", f"  min_samples: {h.min_samples}",
        "  # stints still open when the log ends, per role: not measured",
        f"  censored: {_flow(h.censored)}", "  cells:" + ("" if h.cells else " []"),
    ]
    for cell in h.cells:
        where = {name: value for name, value in zip(("role", "category", "priority"), cell.key) if value is not None}
        lines.append(f"    - # {cell.level.replace('_', ' × ')}" if where else "    - # all roles")
        lines += [f"      {name}: {_flow(value)}" for name, value in where.items()]
        lines += [f"      work: {_flow(_sample(cell.work))}", f"      zero_share: {_flow(cell.zero_share)}"]
        for fit in cell.fits:
            shape, scale = _FIT_FIELDS[fit.family]
            lines.append(f"      {fit.family}: {_flow({shape: fit.shape, scale: format_duration(fit.scale), 'ks': fit.ks})}")
        lines.append(f"      distribution: {cell.distribution}")
    lines += ["  merged:" + ("" if h.merged else " []"), *(f"    - {_flow(vars(m))}" for m in h.merged),
              "  triage:" + ("" if h.triage else " {}"), *(f"    {_flow(role)}: {_flow(_sample(q))}" for role, q in h.triage.items()), "",
              "# Reassignment: after a stint with a role that someone of it took up, the ticket is resolved or goes to another",
              "# role, apart for new tickets (`arrival`) and tickets passed to the role (`transfer`); `unpicked`: the same after",
              "# a stint nobody of the role took up. Probabilities add up to 1, counts are the stints of the log (a reopening is",
              "# no reassignment).",
              "reassignment:" + ("" if model.reassignment else " {}")]
    for role, routes in model.reassignment.items():
        lines.append(f"  {_flow(role)}:")
        for name, odds in (("arrival", routes.arrival), ("transfer", routes.transfer)):
            if odds is not None:
                lines += [f"    {name}:", *_next_roles(odds, "      ")]
                if odds.unpicked is not None:
                    lines += ["      unpicked:", *_next_roles(odds.unpicked, "        ")]
    lines += ["", "# Pauses: waiting on the customer or a third party, in wall-clock time. Per role: the share of stints with a pause,",
              "# pauses per paused stint, and per reason its share of the pauses (adding up to 1) and their lengths.",
              "pauses:" + ("" if model.pauses else " {}")]
    for role, pauses in model.pauses.items():
        lines += [f"  {_flow(role)}:", f"    stints: {pauses.stints}", f"    paused_share: {_flow(pauses.paused_share)}",
                  f"    per_paused_stint: {_flow(pauses.per_paused_stint)}", "    reasons:" + ("" if pauses.reasons else " {}")]
        for reason, found in pauses.reasons.items():
            lines += [f"      {_flow(reason)}:", f"        share: {_flow(found.share)}", f"        count: {found.count}"]
            if found.length is not None:
                lines.append(f"        length: {_flow(_sample(found.length))}")
    r = model.reopen
    lines += ["", "# Reopen: reopenings per resolved ticket, and the wall-clock delay from resolution to reopening; a category",
              "# not listed takes the overall rate. Without a delay (a flat log) nothing reopens.",
              "reopen:", f"  rate: {_flow(r.overall.rate)}", f"  resolved: {r.overall.resolved}", f"  reopenings: {r.overall.reopenings}"]
    if r.delay is not None:
        lines.append(f"  delay: {_flow(_sample(r.delay))}")
    lines += ["  by_category:" + ("" if r.by_category else " {}"),
              *(f"    {_flow(category)}: {_flow(vars(rate))}" for category, rate in r.by_category.items()), "",
              "# First pick: per role, for new tickets (`arrival`) and tickets passed to it (`transfer`), the share of the stints",
              "# someone of the role took up (`picked`; the others it passed on or closed unassigned) and the wall-clock wait from",
              "# a ticket's coming to the role to then (`wait`). The what-if replay draws both: the customer is answered when",
              "# the ticket is taken up.",
              "first_pick:" + ("" if model.first_pick else " {}")]
    for role, picks in model.first_pick.items():
        lines += [f"  {_flow(role)}:", *(f"    {name}: {_flow(_pick(pick))}" for name, pick in (("arrival", picks.arrival),
                                                                                             ("transfer", picks.transfer)) if pick)]
    lines += ["",
              "# Entry: per role the org's rules route new tickets to, the roles such tickets started with in the log (some are",
              "# raised directly with a resolver group), overall (`all`) and per category with enough tickets. Probabilities add",
              "# up to 1. Remove an entry to have the rules' choice stand.",
              "entry:" + ("" if model.entry else " {}")]
    for routed, entry in model.entry.items():
        lines += [f"  {_flow(routed)}:", "    all:", *(f"      {_flow(role)}: {_flow(vars(o))}" for role, o in entry.all.items()),
                  "    by_category:" + ("" if entry.by_category else " {}")]
        for category, table in entry.by_category.items():
            lines += [f"      {_flow(category)}:", *(f"        {_flow(role)}: {_flow(vars(o))}" for role, o in table.items())]
    return "\n".join(lines) + "\n"


def _next_roles(odds: NextRoles, indent: str) -> list[str]:
    return [f"{indent}resolved: {_flow(vars(odds.resolved))}", f"{indent}to:" + ("" if odds.to else " {}"),
            *(f"{indent}  {_flow(to)}: {_flow(vars(o))}" for to, o in odds.to.items())]


def _pick(pick: Pick) -> dict:
    return {"picked": pick.picked, "stints": pick.stints, **({"wait": _sample(pick.wait)} if pick.wait is not None else {})}


# ---------------------------------------------------------------- reading


def validate_model(path: str | Path) -> list[Diagnostic]:
    """Check a model file on its own (YAML and schema): what `cxrules validate` reports for it.

    Its ids, sums and durations are checked against an org when it is used (`simulate`, `staff`, `report`).
    """
    document, problems = load_file(path)
    return problems if document is None else problems + validate_against(document, "model.schema.json")


def load_model(path: str | Path, org: Org) -> tuple[Optional[SimulationModel], list[Diagnostic]]:
    """Read a model for ``org``; diagnostics point into the file (schema, ids the org lacks, probabilities, durations)."""
    document, problems = load_file(path)
    if document is None:
        return None, problems
    problems += validate_against(document, "model.schema.json")
    if problems:
        return None, problems
    if document.data["org"] != org.info.id:  # another org's model: one clear problem, not one per id it names
        return None, [Diagnostic("CX201", f"the model was calibrated for org `{document.data['org']}`, not `{org.info.id}`",
                                 document.location(("org",)), hint=f"calibrate one for `{org.info.id}`: cxrules calibrate ORG LOG -m MAPPING")]
    reader = _Reader(document, org)
    model = reader.model()
    return (None, reader.problems) if reader.problems else (model, [])


class _Reader:
    """Builds the model from a schema-valid document, noting every problem at its place."""

    def __init__(self, document: Document, org: Org):
        self.document = document
        self.org = org
        self.problems: list[Diagnostic] = []
        self.known = {**class_values(org), "role": {role.id: tuple(t for t in (role.name, role.label) if t) for role in org.roles}}

    def at(self, *path):
        return self.document.location(path)

    def id(self, kind: str, value: str, *path, key: bool = False) -> str:
        known = self.known[kind]
        if known and value not in known:
            suggestion = meant(value, known)
            hint = f"did you mean `{suggestion}`?" if suggestion else f"known: {', '.join(list(known)[:10])}"
            self.problems.append(Diagnostic("CX201", f"the model names {kind} `{value}`, which org `{self.org.info.id}` does not have",
                                            self.document.location(path, key=key), hint=hint))
        return value

    def duration(self, *path) -> timedelta:
        text = self.document.get(path)
        problem = duration_problem(text)
        if problem is not None:
            self.problems.append(Diagnostic("CX311", f"`{path[-1]}` {problem}", self.at(*path),
                                            hint=f"a duration is at most {MAX_DURATION.days} days"))
            return timedelta(0)
        return parse_duration(text)

    def sample(self, *path) -> Quantiles:
        points = tuple(self.duration(*path, name) for name, _ in QUANTILES)
        for (before, _), (name, _), low, high in zip(QUANTILES, QUANTILES[1:], points, points[1:]):
            if high < low:
                self.problems.append(Diagnostic("CX115", f"`{name}` is shorter than `{before}`: quantiles go up", self.at(*path, name),
                                                hint=f"make `{name}` at least {format_duration(low)}"))
        return Quantiles(self.document.get((*path, "n")), points, self.duration(*path, "mean"))

    def sums_to_one(self, shares: list[float], what: str, *path) -> None:
        total = sum(shares)
        if shares and abs(total - 1) > SUM_TOLERANCE:
            self.problems.append(Diagnostic("CX119", f"{what} add up to {total:.4g}, not 1", self.document.location(path, key=True),
                                            hint=f"change them so that they add up to 1 (within ±{SUM_TOLERANCE})"))

    def model(self) -> SimulationModel:
        data = self.document.data
        try:
            ZoneInfo(data["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            self.problems.append(Diagnostic("CX303", f"unknown time zone `{data['timezone']}`", self.at("timezone")))
        return SimulationModel(org=data["org"], timezone=data["timezone"], arrivals=self.arrivals(data["arrivals"]),
                               handling=self.handling(data["handling"]), reassignment=self.reassignment(data["reassignment"]),
                               pauses=self.pauses(data["pauses"]), reopen=self.reopen(data["reopen"]),
                               first_pick={self.id("role", role, "first_pick", role, key=True): RolePick(
                                   *(self.pick(picks[name], "first_pick", role, name) if name in picks else None
                                     for name in ("arrival", "transfer"))) for role, picks in data["first_pick"].items()},
                               entry=self.entry(data.get("entry", {})))

    def pick(self, data: dict, *path) -> Pick:
        return Pick(data["picked"], data["stints"], self.sample(*path, "wait") if "wait" in data else None)

    def entry(self, data: dict) -> dict[str, Entry]:
        result = {}
        for routed, entry in data.items():
            self.id("role", routed, "entry", routed, key=True)
            tables = [(("entry", routed, "all"), entry["all"])] + [
                (("entry", routed, "by_category", self.id("category", category, "entry", routed, "by_category", category, key=True)), odds)
                for category, odds in entry["by_category"].items()]
            for where, odds in tables:
                for role in odds:
                    self.id("role", role, *where, role, key=True)
                self.sums_to_one([o["probability"] for o in odds.values()], f"the roles tickets routed to `{routed}` start with", *where)
            result[routed] = Entry({role: Odds(**o) for role, o in entry["all"].items()},
                                   {category: {role: Odds(**o) for role, o in odds.items()} for category, odds in entry["by_category"].items()})
        return result

    def arrivals(self, data: dict) -> Arrivals:
        classes = []
        for index, c in enumerate(data["classes"]):
            for name in ("category", "channel", "segment", "priority"):
                self.id(name, c[name], "arrivals", "classes", index, name)
            classes.append(ClassShare(**{name: c[name] for name in CLASS_FIELDS}, share=c["share"], tickets=c.get("tickets", 0)))
        self.sums_to_one([c.share for c in classes], "the shares of the ticket classes", "arrivals", "classes")
        dates = []
        for name in ("from", "to"):
            try:
                dates.append(date.fromisoformat(data[name]))
            except ValueError:
                self.problems.append(Diagnostic("CX306", f"`{data[name]}` is no date", self.at("arrivals", name)))
                dates.append(date.min)
        per_hour = tuple(float(v) for day in DAYS for v in data["per_hour"][day])
        return Arrivals(dates[0], dates[1], data["total"], data["trend"], per_hour, tuple(classes))

    def handling(self, data: dict) -> Handling:
        if not data["cells"]:
            self.problems.append(Diagnostic("CX111", "the model has no work times: the log it was measured from had no finished stint",
                                            self.at("handling", "cells"), hint="calibrate from a log with resolved tickets, or add a cell"))
        cells = []
        for index, c in enumerate(data["cells"]):
            where = ("handling", "cells", index)
            role, category, priority = (self.id(name, c[name], *where, name) if name in c else None
                                        for name in ("role", "category", "priority"))
            fits = tuple(Fit(family, c[family][shape], self.duration(*where, family, scale), c[family]["ks"])
                         for family, (shape, scale) in _FIT_FIELDS.items() if family in c)
            distribution = c["distribution"]
            if distribution != "empirical" and distribution not in c:
                self.problems.append(Diagnostic("CX111", f"the cell draws from `{distribution}` but gives no `{distribution}` parameters",
                                                self.at(*where, "distribution"), hint="give them, or draw from `empirical`"))
            cells.append(WorkCell(role, category, priority, work=self.sample(*where, "work"), zero_share=c["zero_share"], fits=fits,
                                  distribution=distribution))
        seen: dict[tuple, int] = {}
        for index, cell in enumerate(cells):
            if cell.key in seen:
                self.problems.append(Diagnostic("CX202", f"two cells for {' / '.join(v for v in cell.key if v) or 'all roles'}",
                                                self.at("handling", "cells", index),
                                                hint=f"the first is cell {seen[cell.key] + 1}; remove one"))
            seen.setdefault(cell.key, index)
        merged = []
        for index, m in enumerate(data["merged"]):
            where = ("handling", "merged", index)
            if _keys(m["role"], m["category"], m["priority"])[LEVELS.index(m["uses"])] not in seen:
                self.problems.append(Diagnostic("CX201", f"`{m['uses']}` names a cell the model does not have", self.at(*where, "uses"),
                                                hint="add that cell, or name a level that has one"))
            merged.append(Merged(self.id("role", m["role"], *where, "role"), self.id("category", m["category"], *where, "category"),
                                 self.id("priority", m["priority"], *where, "priority"), m["n"], m["uses"]))
        censored = {self.id("role", role, "handling", "censored", role, key=True): n for role, n in data["censored"].items()}
        triage = {self.id("role", role, "handling", "triage", role, key=True): self.sample("handling", "triage", role)
                  for role in data.get("triage", {})}
        return Handling(data["min_samples"], tuple(cells), tuple(merged), censored, triage)

    def reassignment(self, data: dict) -> dict[str, RoleRoutes]:
        result = {}
        for role, routes in data.items():
            self.id("role", role, "reassignment", role, key=True)
            found = {}
            for name in ("arrival", "transfer"):
                if name in routes:
                    odds = routes[name]
                    unpicked = self.next_roles(odds["unpicked"], "an unpicked stint", "reassignment", role, name, "unpicked") \
                        if "unpicked" in odds else None
                    found[name] = self.next_roles(odds, "a stint", "reassignment", role, name, unpicked=unpicked)
            result[role] = RoleRoutes(found.get("arrival"), found.get("transfer"))
        return result

    def next_roles(self, odds: dict, what: str, *path, unpicked: Optional[NextRoles] = None) -> NextRoles:
        to = {self.id("role", other, *path, "to", other, key=True): Odds(**o) for other, o in odds["to"].items()}
        self.sums_to_one([odds["resolved"]["probability"], *(o.probability for o in to.values())],
                         f"the probabilities after {what} with `{path[1]}`", *path)
        return NextRoles(Odds(**odds["resolved"]), to, unpicked)

    def pauses(self, data: dict) -> dict[str, RolePauses]:
        result = {}
        for role, p in data.items():
            self.id("role", role, "pauses", role, key=True)
            reasons = {reason: ReasonPauses(found["share"], found["count"],
                                            self.sample("pauses", role, "reasons", reason, "length") if "length" in found else None)
                       for reason, found in p["reasons"].items()}
            self.sums_to_one([found.share for found in reasons.values()], f"the shares of the pause reasons of `{role}`",
                             "pauses", role, "reasons")
            result[role] = RolePauses(p["stints"], p["paused_share"], p["per_paused_stint"], reasons)
        return result

    def reopen(self, data: dict) -> Reopen:
        by_category = {self.id("category", category, "reopen", "by_category", category, key=True): ReopenRate(**rate)
                       for category, rate in data["by_category"].items()}
        return Reopen(ReopenRate(data["rate"], data["resolved"], data["reopenings"]), by_category,
                      self.sample("reopen", "delay") if "delay" in data else None)
