"""Staffing advice: how many agents each role needs, hour by hour of the week, to reach a service level.

Erlang C gives each role's requirement per hour of the week from what a replay of the log
measures (arrivals at the role, how long a ticket holds an agent's place). An org staffs by
groups on shift calendars, not by hours, so the requirement becomes agents per staff group.
The simulation is the judge: the advised org is replayed on the same log, and a role that
still misses the target gets one more agent on the group covering its worst hour, for a few
rounds. Each round replays several candidates at once (the advice, and the advice with one,
two … more agents for the roles still missing), in parallel processes. The change comes out
as a patch of the org file that touches nothing but `agents:` numbers.

Erlang C is written here (a dozen lines) rather than taken from `pyworkforce`, which pulls in
pandas, numpy and OR-Tools for it.
"""

from __future__ import annotations

import difflib
import itertools
import math
import os
import re
import tempfile
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator, Mapping, Optional, Sequence
from zoneinfo import ZoneInfo

from ..calendars import HourOfWeek, WeekSet, span_micros, week_set
from ..diagnostics import Diagnostic
from ..model import DAYS, Org, WorkingDays, format_duration, parse_duration
from ..validation import ValidationResult, load_org, validate_path
from .mapping import LogError, load_mapping, read_log
from .replay import MODES, simulate

__all__ = ["ServiceTarget", "parse_target", "erlang_c", "service_level", "agents_needed", "cover", "staff_patch",
           "InputError", "GroupAdvice", "RoleAdvice", "StaffingAdvice", "advise", "render_advice"]

HOURS = 168
Plan = dict[str, tuple[int, ...]]
"""Agents per staff group (in the order the org writes them), by role."""


class InputError(ValueError):
    """An org, mapping, log or model that cannot be used; ``diagnostics`` point into the file when there are any."""

    def __init__(self, message: str, files: Sequence[str] = (), diagnostics: Sequence[Diagnostic] = ()):
        super().__init__(message)
        self.files, self.diagnostics = tuple(files), tuple(diagnostics)


# ---------------------------------------------------------------- the target


@dataclass(frozen=True)
class ServiceTarget:
    """``share`` of a role's tickets taken by an agent within ``within`` of reaching the role."""

    share: float
    within: timedelta

    def __str__(self) -> str:
        return f"{self.share * 100:g}% in {format_duration(self.within)}"

    def met_by(self, level: Optional[float]) -> bool:
        """Whether a simulated service level reaches the target (no ticket came: nothing to miss)."""
        return level is None or level >= self.share


_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*(?:in|within)\s+(\S+)\s*$")


def parse_target(text: str) -> ServiceTarget:
    """`80% in 30m`, `90 % in 1h` → :class:`ServiceTarget`; ValueError saying what is expected otherwise."""
    match = _TARGET.match(text)
    if match is None:
        raise ValueError(f"expected a share and a time such as `80% in 30m` or `90% in 1h`, got `{text}`")
    share = float(match.group(1))
    if not 0 < share < 100:
        raise ValueError(f"the share must lie between 0% and 100% (100% is never reached with random arrivals), got `{text}`")
    try:
        within = parse_duration(match.group(2))
    except ValueError as error:
        raise ValueError(f"`{match.group(2)}` in `{text}`: {error}") from None
    if isinstance(within, WorkingDays):
        raise ValueError(f"the time must be a duration such as `30m` or `1h`, not working days: `{text}`")
    return ServiceTarget(share / 100, within)


# ---------------------------------------------------------------- Erlang C


def _erlang_b(load: float) -> Iterator[tuple[int, float]]:
    """Erlang B for 1, 2, 3 … servers: B(n) = a·B(n−1) / (n + a·B(n−1)), B(0) = 1.

    The recursion stays within [0, 1], so it never overflows where aⁿ/n! would.
    """
    blocking, servers = 1.0, 0
    while True:
        servers += 1
        blocking = load * blocking / (servers + load * blocking)
        yield servers, blocking


def _waiting(servers: int, load: float, blocking: float) -> float:
    """Erlang C from Erlang B: C = n·B / (n − a·(1 − B)), for n > a."""
    return servers * blocking / (servers - load * (1 - blocking))


def erlang_c(servers: int, load: float) -> float:
    """Probability that a ticket waits, with ``servers`` places and ``load`` Erlangs offered (1 when the queue never empties)."""
    if servers <= load:
        return 1.0
    return next(_waiting(n, load, blocking) for n, blocking in _erlang_b(load) if n == servers)


def _level(servers: int, load: float, waiting: float, within: timedelta, handling: timedelta) -> float:
    """P(wait ≤ T) = 1 − C·exp(−(n − a)·T/h)."""
    return 1 - waiting * math.exp(-(servers - load) * within / handling)


def service_level(servers: int, load: float, within: timedelta, handling: timedelta) -> float:
    """Erlang C's share of tickets taken within ``within``, each holding a place for ``handling`` on average."""
    if load == 0:
        return 1.0
    if servers <= load:
        return 0.0
    return _level(servers, load, erlang_c(servers, load), within, handling)


def agents_needed(arrivals_per_hour: float, handling: timedelta, capacity: int, target: ServiceTarget) -> int:
    """The fewest agents (``capacity`` places each) whose Erlang-C service level reaches ``target``."""
    load = arrivals_per_hour * handling / timedelta(hours=1)
    if load == 0:
        return 0
    return next(servers // capacity for servers, blocking in _erlang_b(load)
                if servers % capacity == 0 and servers > load
                and _level(servers, load, _waiting(servers, load, blocking), target.within, handling) >= target.share)


# ---------------------------------------------------------------- hours → staff groups


def hours_on_shift(org: Org, shift: str) -> frozenset[int]:
    """Hours of the week (org's time zone) the shift is open for at least half of: its agents count there."""
    open_hours = week_set(org.calendar(shift), org.info.timezone)
    return frozenset(hour for hour in range(HOURS) if (open_hours & WeekSet.of([(hour * 60, hour * 60 + 60)])).minutes >= 30)


def cover(required: Sequence[int], shifts: Sequence[frozenset[int]]) -> list[int]:
    """Agents per group so that every hour has its requirement on shift, with no agent to spare.

    Each group starts able to cover the peak of its hours alone; then, longest shift first
    (its agents cost the most hours), each is lowered as far as the groups beside it still
    cover every hour. Lowering them one after the other, each against the others' numbers as
    they stand by then, keeps two groups on the same hours from both covering them in full.
    """
    agents = [max((required[hour] for hour in hours), default=0) for hours in shifts]
    for index in sorted(range(len(shifts)), key=lambda i: -len(shifts[i])):
        beside = lambda hour: sum(agents[j] for j, other in enumerate(shifts) if j != index and hour in other)  # noqa: E731
        agents[index] = max([0] + [required[hour] - beside(hour) for hour in shifts[index]])
    return agents


# ---------------------------------------------------------------- the patch


_NUMBER = re.compile(r"\d+")


def _edited(org: Org, plan: Mapping[str, Sequence[int]]) -> dict[str, tuple[str, str]]:
    """The org's files whose `agents:` numbers ``plan`` changes: (text as it is, text with the new numbers), by file.

    The numbers are rewritten in place, where the loader saw them, so comments and layout stay.
    """
    edits: dict[str, dict[tuple[int, int], tuple[int, int, str]]] = defaultdict(dict)
    for role_id, agents in plan.items():
        role = org.role(role_id)
        for index, (group, count) in enumerate(zip(role.staff, agents)):
            if count == group.agents:
                continue
            document, path = role.source.document, role.source.path + ("staff", index, "agents")
            *_, line, column = document.positions[path]
            earlier = edits[document.file].setdefault((line, column), (count, group.agents, role_id))
            if earlier[0] != count:
                raise InputError(f"{document.file}:{line}: the `agents:` of roles {earlier[2]} and {role_id} is one value "
                                 "(a YAML alias); write each out to get a patch")
    changed = {}
    for file, numbers in edits.items():
        text = _text(file)
        lines = text.splitlines(keepends=True)
        for (line, column), (count, current, role_id) in numbers.items():
            match = _NUMBER.match(lines[line - 1], column - 1)
            if match is None or int(match.group()) != current:
                raise InputError(f"{file}:{line}: the `agents:` of role {role_id} is not written as a plain number; "
                                 "write it out to get a patch")
            lines[line - 1] = lines[line - 1][:match.start()] + str(count) + lines[line - 1][match.end():]
        changed[file] = (text, "".join(lines))
    return changed


def _text(file: str) -> str:
    """A file's text exactly as written (line ends kept), for edits that change nothing else."""
    with open(file, encoding="utf-8", newline="") as stream:
        return stream.read()


def staff_patch(org: Org, plan: Mapping[str, Sequence[int]]) -> str:
    """A unified diff of the org's files giving the staff groups of ``plan`` its numbers (apply with `patch -p0`)."""
    lines = []
    for file, (before, after) in sorted(_edited(org, plan).items()):
        for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), file, file):
            lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)


# ---------------------------------------------------------------- replays


@dataclass(frozen=True)
class _Inputs:
    """What every replay shares: paths and parameters, cheap to send to a worker process."""

    org_path: str
    log_path: str
    mapping_path: str
    model_path: Optional[str]
    mode: str
    seed: Optional[int]
    within: timedelta


@dataclass(frozen=True)
class _Outcome:
    """What the advice needs of one replay, per role: small enough to come back from a worker."""

    levels: dict[str, Optional[float]]
    tickets: dict[str, int]
    late: dict[str, list[int]]
    """Tickets taken later than the target (or never) by the hour of the week they reached the role."""
    arrivals: dict[str, list[float]]
    handling: dict[str, float]
    """Mean minutes of the agents' shift time a ticket holds a place (a ticket kept overnight holds it for its shift hours only)."""


class _Replayer:
    """The log, its mapping and the work model, loaded once per process, replayed against scenario orgs."""

    def __init__(self, inputs: _Inputs, org: Optional[Org] = None):
        self.inputs = inputs
        org = org or _validated(inputs.org_path).org
        assert org is not None  # _validated says so
        self.mapping, problems = load_mapping(inputs.mapping_path, org)
        if self.mapping is None:
            raise InputError("the mapping cannot be used", (inputs.mapping_path,), problems)
        try:
            self.records, unmapped = read_log(inputs.log_path, self.mapping)
        except (LogError, OSError) as error:
            raise InputError(str(error)) from None
        self.unmapped = unmapped.total
        self.model = None
        if inputs.model_path is not None:
            from .calibration import load_model

            self.model, problems = load_model(inputs.model_path, org)
            if self.model is None:
                raise InputError("the model cannot be used", (inputs.model_path,), problems)

    def run(self, org_path: str) -> _Outcome:
        org = load_org(org_path)
        result = simulate(org, self.records, self.mapping, mode=self.inputs.mode, model=self.model, seed=self.inputs.seed,
                          keep_flights=True)
        hours, within = HourOfWeek(ZoneInfo(org.info.timezone)), self.inputs.within
        within_micros = span_micros(within)
        late: dict[str, list[int]] = defaultdict(lambda: [0] * HOURS)
        for flight in result.flights.values():
            for wait in flight.waits:
                if not wait.taken or wait.until_micros - wait.entered_micros > within_micros:
                    late[wait.role][hours.of(wait.entered_micros)] += 1
        reached = result.roles_reached
        return _Outcome({role: result.service_level(role, within) for role in reached},
                        {role: result.arrived(role) for role in reached},
                        dict(late), dict(result.role_arrivals), dict(result.role_handling))


def _validated(path: str) -> ValidationResult:
    result = validate_path(path)
    if result.org is None:
        raise InputError("the org does not validate", result.files or (path,), result.diagnostics)
    return result


_WORKER: Optional[_Replayer] = None


def _start_worker(inputs: _Inputs) -> None:
    global _WORKER
    _WORKER = _Replayer(inputs)


def _run_in_worker(org_path: str) -> _Outcome:
    assert _WORKER is not None  # set by the pool's initializer
    return _WORKER.run(org_path)


class _Runner:
    """Replays scenario orgs, in this process (one job) or in a pool of processes; results come in the order asked."""

    def __init__(self, replayer: _Replayer, jobs: int, org: Org, files: Sequence[str], folder: Path):
        self.replayer, self.org, self.files, self.folder = replayer, org, files, folder
        self.pool = ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(replayer.inputs,)) if jobs > 1 else None
        self.scenarios = itertools.count(1)
        self.replays = 0

    def __enter__(self) -> "_Runner":
        return self

    def __exit__(self, *_) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def replay(self, plans: list[Plan]) -> list[_Outcome]:
        return self.replay_files([self._write(plan, self.folder / str(next(self.scenarios))) for plan in plans])

    def replay_files(self, org_paths: list[str]) -> list[_Outcome]:
        self.replays += len(org_paths)
        if self.pool is None:
            return [self.replayer.run(path) for path in org_paths]
        return list(self.pool.map(_run_in_worker, org_paths))

    def _write(self, plan: Plan, folder: Path) -> str:
        """The org with ``plan``'s staff, its files written into ``folder`` where the main file finds them."""
        main = Path(self.replayer.inputs.org_path).resolve()
        changed = _edited(self.org, plan)
        for file in self.files:
            target = folder / Path(file).resolve().relative_to(main.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="") as stream:
                stream.write(changed[file][1] if file in changed else _text(file))
        return str(folder / main.name)


# ---------------------------------------------------------------- the advice


@dataclass(frozen=True)
class GroupAdvice:
    shift: str
    current: int
    erlang_c: int
    """Agents the Erlang-C requirement asks of this group (0: the others cover its hours)."""
    advised: int
    """What the simulation confirmed: at least 1 (a group has agents; drop one that needs none by hand)."""


@dataclass(frozen=True)
class RoleAdvice:
    role: str
    capacity: int
    tickets: int
    handling_minutes: Optional[float]
    required: tuple[int, ...]
    """Erlang-C agents per hour of the week, Monday 00h first (org's time zone)."""
    groups: tuple[GroupAdvice, ...]
    gaps: tuple[int, ...]
    """Hours of the week in which tickets reach the role and none of its groups is on shift."""
    before: Optional[float]
    after: Optional[float]


@dataclass(frozen=True)
class StaffingAdvice:
    org: str
    target: ServiceTarget
    mode: str
    roles: tuple[RoleAdvice, ...]
    rounds: int
    replays: int
    unmapped: int
    """Rows of the log that could not be mapped, left out."""
    patch: str = field(repr=False)

    @property
    def missing(self) -> list[str]:
        """Roles that still miss the target in the simulation of the advice (unstaffed ones included)."""
        return [role.role for role in self.roles if not self.target.met_by(role.after)]

    def to_dict(self) -> dict:
        return {
            "org": self.org, "mode": self.mode, "rounds": self.rounds, "replays": self.replays, "unmapped_rows": self.unmapped,
            "target": {"text": str(self.target), "share": self.target.share, "within_minutes": self.target.within / timedelta(minutes=1)},
            "roles": [{
                "role": role.role, "capacity": role.capacity, "tickets": role.tickets, "handling_minutes": role.handling_minutes,
                "staffed": bool(role.groups),
                "groups": [{"shift": g.shift, "current": g.current, "erlang_c": g.erlang_c, "advised": g.advised} for g in role.groups],
                "required_by_hour_of_week": list(role.required),
                "service_level": {"before": _rounded(role.before), "after": _rounded(role.after)},
                "meets_target": self.target.met_by(role.after),
                "gaps": _ranges(role.gaps),
            } for role in self.roles],
            "missing": self.missing, "patch": self.patch,
        }


def _rounded(level: Optional[float]) -> Optional[float]:
    return None if level is None else round(level, 4)


ROUNDS, LADDER = 4, 3
"""Rounds of replays at most, and candidates per round (the advice, with one more agent, with two more)."""


def advise(org_path: str | Path, log_path: str | Path, mapping_path: str | Path, target: ServiceTarget, *,
           model_path: Optional[str | Path] = None, mode: str = "as-is", jobs: Optional[int] = None,
           seed: Optional[int] = None) -> StaffingAdvice:
    """Advise the staff of every role that gets tickets in the log, confirmed by replaying the log.

    Each of at most :data:`ROUNDS` rounds replays the current advice and, for the roles still
    missing the target, that advice with 1 … :data:`LADDER` − 1 more agents on the group covering
    the role's worst hour; each role keeps the fewest that reach the target, and the next
    round confirms the whole. ``jobs`` processes replay at once (default: one per core); the
    result does not depend on it. Raises :class:`InputError` for inputs that cannot be used.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    validated = _validated(str(org_path))
    org = validated.org
    assert org is not None  # _validated says so
    inputs = _Inputs(str(org_path), str(log_path), str(mapping_path), str(model_path) if model_path else None, mode, seed, target.within)
    replayer = _Replayer(inputs, org)  # bad inputs stop here, before any process starts
    with tempfile.TemporaryDirectory(prefix="cxrules-staff-") as folder, \
            _Runner(replayer, min(jobs or os.cpu_count() or 1, LADDER), org, validated.files, Path(folder)) as runner:
        before = runner.replay_files([str(org_path)])[0]
        roles = [org.role(role_id) for role_id in before.tickets]
        shifts = {role.id: [hours_on_shift(org, group.shift) for group in role.staff] for role in roles}
        required = {role.id: _required(role.id, role.capacity, before, target) for role in roles}
        erlang = {role.id: tuple(cover(required[role.id], shifts[role.id])) if role.id in before.handling
                  else tuple(group.agents for group in role.staff) for role in roles if role.staff}
        plan = {role_id: tuple(max(1, agents) for agents in groups) for role_id, groups in erlang.items()}
        plan, after, used = _confirm(plan, shifts, required, before, target, runner.replay, ROUNDS, LADDER)
        return StaffingAdvice(org.info.id, target, mode, tuple(RoleAdvice(
            role.id, role.capacity, before.tickets[role.id],
            round(before.handling[role.id], 1) if role.id in before.handling else None, tuple(required[role.id]),
            tuple(GroupAdvice(group.shift, group.agents, erlang[role.id][index], plan[role.id][index])
                  for index, group in enumerate(role.staff)),
            _gaps(shifts[role.id], before.arrivals.get(role.id)), before.levels[role.id], after.levels.get(role.id),
        ) for role in roles), used, runner.replays, replayer.unmapped, staff_patch(org, plan))


def required_by_hour(arrivals: Optional[Sequence[float]], handling_minutes: Optional[float], capacity: int,
                     target: ServiceTarget) -> Optional[list[int]]:
    """Erlang-C agents per hour of the week from a role's arrivals per hour and its mean handling time; None without a
    handling time (nobody of the role ever took a ticket: Erlang C has nothing to go on)."""
    if handling_minutes is None:
        return None
    handling = timedelta(minutes=handling_minutes)
    return [agents_needed(arrivals[hour] if arrivals else 0.0, handling, capacity, target) for hour in range(HOURS)]


def _required(role: str, capacity: int, outcome: _Outcome, target: ServiceTarget) -> list[int]:
    return required_by_hour(outcome.arrivals.get(role), outcome.handling.get(role), capacity, target) or [0] * HOURS


def _gaps(shifts: list[frozenset[int]], arrivals: Optional[list[float]]) -> tuple[int, ...]:
    covered = set().union(*shifts)
    return tuple(hour for hour in range(HOURS) if arrivals and arrivals[hour] > 0 and hour not in covered)


def _confirm(plan: Plan, shifts: dict, required: dict, before: _Outcome, target: ServiceTarget, replay: Callable[[list[Plan]], list[_Outcome]],
             rounds: int, ladder: int) -> tuple[Plan, _Outcome, int]:
    """Replay the advice and correct it until every role reaches the target, nothing is left to try, or the rounds are used up.

    Returns the advice, its replay and the rounds used: what is advised has always been replayed as a whole.
    """
    sources = dict.fromkeys(plan, before)
    """Per role, the replay whose late tickets say where it needs more agents."""
    pending = set(plan)
    meets = lambda outcome, role: target.met_by(outcome.levels.get(role))  # noqa: E731

    def bumps_for(pending: set[str]) -> dict[str, int]:
        chosen = {role: _worst_group(shifts[role], sources[role].late.get(role), required[role]) for role in sorted(pending)}
        return {role: group for role, group in chosen.items() if group is not None}

    for number in range(1, rounds + 1):
        bumps = bumps_for(pending) if number < rounds else {}
        candidates = [_plus(plan, bumps, extra) for extra in range(ladder if bumps else 1)]
        outcomes = replay(candidates)
        if number == rounds or all(meets(outcomes[0], role) for role in plan):
            return plan, outcomes[0], number
        extra = {role: next((k for k, outcome in enumerate(outcomes) if meets(outcome, role)), ladder - 1) for role in bumps}
        sources = {role: outcomes[extra.get(role, 0)] for role in plan}
        pending = {role for role in plan if not meets(sources[role], role)}
        if not bumps and not bumps_for(pending):
            return plan, outcomes[0], number  # nothing more to try: no group is on shift where the missing roles are late
        plan = {role: _plus(plan, bumps, extra.get(role, 0))[role] for role in plan}
        if plan in candidates and all(meets(outcomes[candidates.index(plan)], role) for role in plan):
            return plan, outcomes[candidates.index(plan)], number
    raise AssertionError("the last round returns")


def _plus(plan: Plan, bumps: Mapping[str, int], extra: int) -> Plan:
    """``plan`` with ``extra`` more agents on the group ``bumps`` names for each role."""
    return {role: tuple(agents + extra * (index == bumps.get(role)) for index, agents in enumerate(groups)) for role, groups in plan.items()}


def _worst_group(shifts: list[frozenset[int]], late: Optional[list[int]], required: list[int]) -> Optional[int]:
    """The group to add an agent to: on shift in the role's worst hour that a group covers, the shortest such shift.

    The worst hour is the one with most tickets taken late; when none was, the peak of the requirement.
    """
    covered = set().union(*shifts)
    score = late if late and any(late[hour] for hour in covered) else required
    hours = [hour for hour in sorted(covered) if score[hour] > 0]
    if not hours:
        return None
    worst = max(hours, key=lambda hour: score[hour])
    return min((index for index, hours in enumerate(shifts) if worst in hours), key=lambda index: len(shifts[index]))


# ---------------------------------------------------------------- the report


_DAY_NAMES = tuple(day.capitalize() for day in DAYS)


def _ranges(hours: Sequence[int]) -> list[str]:
    """Hours of the week as day and hour ranges: [129, 130, 131] → [`Sat 09–12`]."""
    spans: list[list[int]] = []
    for hour in sorted(hours):
        if spans and hour == spans[-1][1] and hour % 24:
            spans[-1][1] = hour + 1
        else:
            spans.append([hour, hour + 1])
    return [f"{_DAY_NAMES[start // 24]} {start % 24:02d}–{(end - 1) % 24 + 1:02d}" for start, end in spans]


def _percent(level: Optional[float]) -> str:
    return "no tickets" if level is None else f"{level * 100:.1f}%"


def render_advice(advice: StaffingAdvice, with_patch: bool = True) -> str:
    """The advice as a text table per role, then the patch (unless written elsewhere)."""
    rounds = f"{advice.rounds} round{'s' * (advice.rounds != 1)}"
    unmapped = f"; {advice.unmapped} rows of the log not mapped, left out" if advice.unmapped else ""
    lines = [f"staffing of {advice.org} for {advice.target} ({advice.mode}; {rounds}, {advice.replays} replays{unmapped})"]
    for role in advice.roles:
        handling = f", a ticket holds a place {role.handling_minutes} min" if role.handling_minutes is not None else ""
        lines += ["", f"{role.role}  (capacity {role.capacity}, {role.tickets} tickets{handling})"]
        if not role.groups:
            lines.append(f"  role {role.role} gets {role.tickets} tickets and has no staff: add a `staff` group (not invented here)")
        width = max((len(group.shift) for group in role.groups), default=0)
        lines += [f"  {group.shift:<{width}}  {group.current:>4} → {group.advised:<4} (Erlang C {group.erlang_c})" for group in role.groups]
        verdict = "meets" if advice.target.met_by(role.after) else "MISSES"
        lines.append(f"  service level {_percent(role.before)} → {_percent(role.after)}  ({verdict} {advice.target})")
        if any(role.required):
            digits = len(str(max(role.required)))
            lines.append("  Erlang C agents by hour:")
            lines += [f"    {name} " + " ".join(f"{n:>{digits}}" for n in role.required[day * 24:day * 24 + 24])
                      for day, name in enumerate(_DAY_NAMES)]
        if role.gaps:
            lines.append(f"  role {role.role} gets tickets {', '.join(_ranges(role.gaps))} and nobody is on shift")
    if advice.missing:
        lines += ["", f"still missing {advice.target}: {', '.join(advice.missing)}"]
    if with_patch:
        lines += ["", advice.patch.rstrip("\n") if advice.patch else "no change to the staff groups"]
    return "\n".join(lines) + "\n"
