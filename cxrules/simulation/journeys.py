"""A ticket's way through the centre as work to be done: from its own history (as-is) or drawn from a model (what-if).

A journey is a run of steps, one per role the ticket comes to. A step is phases of work and
pauses: work is done by an agent within their shift (so it is measured in the business time
of that agent's shift), a pause is the customer's or a third party's time and runs on the
wall clock. When a step's phases are done the ticket is resolved, moves to the next role
(reassignment or hand-off), or, when the log ends with it still in hand, stays with its agent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Optional, Protocol, TypeAlias, Union

from ..engine.frozen import written_once
from ..fastcalls import COMPILED
from .history import Stint, TicketRecord

__all__ = ["Work", "Phase", "Step", "Next", "Journey", "AsIsJourney", "ModelJourney", "WorkModel", "as_is_steps"]

Work: TypeAlias = Union[timedelta, tuple[datetime, datetime], None]
"""Business time to work; or a stretch of the log, measured on the shift of the agent who works it; None: never done (the log ends first)."""


@dataclass(init=False, unsafe_hash=True)
class Phase:
    """A stretch of a step, of ``length`` (:data:`Work`), by ``kind``.

    ``work``: an agent works the ticket, and answers the customer as they start. ``pick``: the
    ticket waits with the role before anyone of it answers (the log's time from arrival at the
    role to the first assignee or activity): it takes a place like work, and the answer comes at
    its end. ``pause``: the ticket waits on someone outside (``reason``), wall-clock ``length``.

    Phases, steps and what follows them compare, hash and print as frozen dataclasses do, but their fields are final
    and their ``__init__`` written out: the replay makes about eight of them a ticket, and a dataclass's ``__init__`` is
    made at run time, so it is interpreted even where this module is compiled (4,600 instructions a phase, against a
    few hundred). Final fields, because mypy refuses an ``__init__`` that writes a frozen dataclass's fields.
    """

    length: Final[Work]
    kind: Final[str]
    reason: Final[Optional[str]]

    def __init__(self, length: Work, kind: str = "work", reason: Optional[str] = None) -> None:
        self.length = length
        self.kind = kind
        self.reason = reason


@dataclass(init=False, unsafe_hash=True)
class Step:
    """The work one role does on a ticket; ``role`` None: whichever role the org's rules route it to."""

    role: Final[Optional[str]]
    phases: Final[tuple[Phase, ...]]
    resolves: Final[bool]
    reopen_after: Final[Optional[timedelta]]
    """Set when the step begins with a reopening: this long after the previous step's resolution."""
    responds: Final[bool]
    """Whether taking the ticket at this step answers the customer: not for a stint the log shows nobody
    of the role took (the group passed it on unassigned: triage time, replayed as work but no response)."""

    def __init__(self, role: Optional[str], phases: tuple[Phase, ...], resolves: bool = True,
                 reopen_after: Optional[timedelta] = None, responds: bool = True) -> None:
        self.role = role
        self.phases = phases
        self.resolves = resolves
        self.reopen_after = reopen_after
        self.responds = responds


@dataclass(init=False, unsafe_hash=True)
class Next:
    """What follows a finished step: ``resolve``, ``move`` (to ``role``) or ``hold`` (the log ends with the ticket in hand)."""

    kind: Final[str]
    role: Final[Optional[str]]
    reopen_after: Final[Optional[timedelta]]

    def __init__(self, kind: str, role: Optional[str] = None, reopen_after: Optional[timedelta] = None) -> None:
        self.kind = kind
        self.role = role
        self.reopen_after = reopen_after


if not COMPILED:  # compiled, a Final field is neither set nor deleted from outside; interpreted, this sees to it
    written_once(Phase)
    written_once(Step)
    written_once(Next)


class Journey(Protocol):
    """Where a ticket goes and what work it brings there, asked step by step by the replay."""

    def first_role(self, routed: Optional[str]) -> Optional[str]:
        """The role the ticket starts with, now that the org's rules routed it to ``routed`` (None: stay there)."""

    def responds(self) -> bool:
        """Whether an agent taking the ticket at the current step gives the customer a first response."""

    def phases(self, role: str) -> list[Phase]:
        """The phases of the current step, now that the ticket is at ``role``."""

    def finish(self, role: Optional[str]) -> Next:
        """The current step is done at ``role``: what follows (and the next step becomes current)."""

    def reopen(self) -> Optional[tuple[timedelta, Optional[str]]]:
        """After a resolution: (delay, role) if the ticket reopens, else None."""


def as_is_steps(record: TicketRecord, service_time) -> list[Step]:
    """The steps the log shows for ``record``; ``service_time(category)`` stands in for work the log does not give.

    From an event log, one step per stint: the time until someone of the role first had the
    ticket (a pick), then work until it left, the stint's pauses cut out of it. From a flat
    log, one step at the role the rules choose: a pick until the first response, then work to
    the resolution, or work drawn from the service-time model when the log has no resolution.
    """
    if not record.stints:
        if record.resolved is None:
            return [Step(None, (Phase(service_time(record.category)),))]
        answered = min(record.first_response or record.created, record.resolved)
        return [Step(None, _picked(record.created, answered) + (Phase((answered, record.resolved)),))]
    steps: list[Step] = []
    previous: Optional[Stint] = None
    for stint in record.stints:
        reopen_after = stint.entered - previous.left if stint.reopened and previous and previous.left else None
        steps.append(Step(stint.role, _stint_phases(stint), stint.resolved, reopen_after, responds=stint.picked is not None))
        previous = stint
    return steps


def _picked(entered: datetime, picked: Optional[datetime]) -> tuple[Phase, ...]:
    return (Phase((entered, picked), "pick"),) if picked is not None and picked > entered else ()


def _stint_phases(stint: Stint) -> tuple[Phase, ...]:
    """The stint from its start to its end: pauses where the log has them, the rest a pick until someone had it, then work."""
    phases: list[Phase] = []
    cursor = stint.entered

    def run(until: datetime) -> None:
        nonlocal cursor
        if stint.picked is not None and cursor < stint.picked:
            split = min(stint.picked, until)
            phases.extend(_picked(cursor, split))
            cursor = max(cursor, split)
        if until > cursor:
            phases.append(Phase((cursor, until)))
            cursor = until

    for pause in sorted(stint.pauses, key=lambda p: p.start):
        start = max(pause.start, cursor)
        run(start)
        if pause.end is None:
            return tuple(phases) + (Phase(None, "pause", pause.reason),)
        if pause.end > start:
            phases.append(Phase(pause.end - start, "pause", pause.reason))
        cursor = max(cursor, pause.end)
    if stint.left is not None:
        run(stint.left)
        return tuple(phases)
    if stint.picked is not None and stint.picked > cursor:
        run(stint.picked)
    return tuple(phases) + (Phase(None),)


@dataclass(init=False)
class AsIsJourney:
    """Each ticket's route and work per role from its own history in the log (its ``__init__`` written out: see
    :class:`Phase`)."""

    steps: list[Step]
    index: int

    def __init__(self, steps: list[Step], index: int = 0) -> None:
        self.steps = steps
        self.index = index

    def first_role(self, routed: Optional[str]) -> Optional[str]:
        return self.steps[0].role

    def responds(self) -> bool:
        return self.steps[self.index].responds

    def phases(self, role: str) -> list[Phase]:
        return list(self.steps[self.index].phases)

    def finish(self, role: Optional[str]) -> Next:
        step = self.steps[self.index]
        following = self.steps[self.index + 1] if self.index + 1 < len(self.steps) else None
        if step.resolves:
            return Next("resolve")
        if following is None or (step.phases and step.phases[-1].length is None):
            return Next("hold")
        self.index += 1
        return Next("move", following.role)

    def reopen(self) -> Optional[tuple[timedelta, Optional[str]]]:
        following = self.steps[self.index + 1] if self.index + 1 < len(self.steps) else None
        if following is None or following.reopen_after is None:
            return None
        self.index += 1
        return following.reopen_after, following.role


class WorkModel(Protocol):
    """What the what-if mode draws from: a calibrated model (see :mod:`.calibration`)."""

    def start(self, routed: str, category: str, rng: random.Random) -> str: ...

    def pick(self, role: str, rng: random.Random, arrival: bool = True) -> Optional[timedelta]: ...

    def work(self, role: str, category: str, priority: str, rng: random.Random, picked: bool = True) -> timedelta: ...

    def next_role(self, role: str, rng: random.Random, picked: bool = True, arrival: bool = True) -> Optional[str]: ...

    def pause(self, role: str, rng: random.Random) -> Optional[tuple[str, timedelta]]: ...

    def reopens(self, category: str, rng: random.Random) -> Optional[timedelta]: ...


MAX_STEPS: Final = 20
"""A drawn route longer than this resolves: a model's ping-pong probabilities cannot keep a ticket for ever."""


@dataclass(init=False)
class ModelJourney:
    """Routes from the org's rules, then calibrated reassignment probabilities; work and pauses drawn per role (its
    ``__init__`` written out: see :class:`Phase`)."""

    record: TicketRecord
    model: WorkModel
    rng: random.Random
    steps: int
    truncated: list
    """Shared by every journey of a run: ids of tickets whose drawn route hit :data:`MAX_STEPS`."""
    answering: bool

    def __init__(self, record: TicketRecord, model: WorkModel, rng: random.Random, steps: int = 0,
                 truncated: Optional[list] = None, answering: bool = True) -> None:
        self.record, self.model, self.rng, self.steps = record, model, rng, steps
        self.truncated = [] if truncated is None else truncated
        self.answering = answering

    def first_role(self, routed: Optional[str]) -> Optional[str]:
        return self.model.start(routed, self.record.category, self.rng) if routed else None

    def responds(self) -> bool:
        return self.answering

    def phases(self, role: str) -> list[Phase]:
        """A pick (if someone of the role takes the ticket up), the work, and a pause half-way if one is drawn.

        Whether the ticket is new to the centre or passed on, and whether someone takes it up, change
        the draws: a first line takes new tickets up at once, a group that passes a ticket on unassigned
        does so quickly, and where it goes next depends on it.
        """
        wait = self.model.pick(role, self.rng, arrival=self.steps == 0)
        self.answering = wait is not None
        picked = [Phase(wait, "pick")] if wait else []
        work = self.model.work(role, self.record.category, self.record.priority, self.rng, picked=self.answering)
        pause = self.model.pause(role, self.rng)
        if pause is None:
            return picked + [Phase(work)]
        reason, length = pause
        return picked + [Phase(work / 2), Phase(length, "pause", reason), Phase(work - work / 2)]

    def finish(self, role: Optional[str]) -> Next:
        following = self.model.next_role(role, self.rng, picked=self.answering, arrival=self.steps == 0) if role else None
        self.steps += 1
        if following is None or following == role:
            return Next("resolve")
        if self.steps >= MAX_STEPS:
            self.truncated.append(self.record.id)
            return Next("resolve")
        return Next("move", following)

    def reopen(self) -> Optional[tuple[timedelta, Optional[str]]]:
        delay = self.model.reopens(self.record.category, self.rng)
        return (delay, None) if delay is not None else None
