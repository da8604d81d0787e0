"""Follow-ups: deadlines that the caller's hours and the customers' quiet hours make impossible."""

from __future__ import annotations

from typing import Iterator

from ..calendars import WEEK, WeekSet
from ..diagnostics import Related, Severity
from ..model import format_duration
from . import CheckContext, Finding, register

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _moment(minute: int) -> str:
    minute %= WEEK
    return f"{_DAY_NAMES[minute // 1440]} {minute % 1440 // 60:02d}:{minute % 60:02d}"


def callable_hours(context: CheckContext, followup) -> WeekSet:
    """When the follow-up may be made: the caller on shift, in the policy's calendar, outside quiet hours."""
    hours = context.role_hours(followup.by)
    if followup.calendar:
        hours = hours & context.hours(followup.calendar)
    if followup.quiet_hours:
        hours = hours - context.hours(followup.quiet_hours)
    return hours


@register("CX701", "followup-deadline-unmeetable", Severity.ERROR)
def followup_deadline_unmeetable(context: CheckContext) -> Iterator[Finding]:
    """A follow-up deadline that cannot always be met.

    The call must fall in the calling role's shifts, in the policy's `calendar` if it has
    one, and outside the customers' `quiet_hours`. If the longest stretch of the week
    without such a moment is as long as the deadline, a ticket resolved at its start
    cannot be followed up in time. (Checked on a typical week; public holidays can make it
    worse.)

    Failing (the only caller works weekdays 09:00–12:00 and customers rest 12:00–14:00 and
    21:00–09:00, so nobody can call at all)::

        roles: [{id: caller, name: Caller, unit: cs, staff: [{shift: mornings, agents: 1}]}]
        followups: [{id: revisit, on: resolved, within: 3d, by: caller, quiet_hours: rest, calendar: afternoons}]

    Passing: the caller also works afternoons, outside the quiet hours.
    """
    for followup in context.org.followups:
        hours = callable_hours(context, followup)
        related = [Related(context.org.role(followup.by).source.at("staff"), f"shifts of `{followup.by}`")]
        if followup.quiet_hours:
            related.append(Related(context.org.calendar(followup.quiet_hours).source.at("hours"), "customers' quiet hours"))
        if not hours:
            limits = [f"on shift (`{followup.by}`)"]
            if followup.calendar:
                limits.append(f"within calendar `{followup.calendar}`")
                related.append(Related(context.org.calendar(followup.calendar).source.at("hours"), f"calendar `{followup.calendar}`"))
            if followup.quiet_hours:
                limits.append(f"outside quiet hours `{followup.quiet_hours}`")
            yield Finding(f"follow-up `{followup.id}` can never be made: no hour of the week is {', '.join(limits)}",
                          followup.source.at("by"), hint="give the caller shifts outside the quiet hours, or choose another caller",
                          related=tuple(related), subject=followup.id)
            continue
        window = int(followup.within.total_seconds() // 60)
        gap_start, gap = _longest_gap(hours)
        if gap >= window:
            yield Finding(
                f"follow-up `{followup.id}` cannot always be made within {format_duration(followup.within)}: "
                f"a ticket resolved on {_moment(gap_start)} can first be called on {_moment(gap_start + gap)}",
                followup.source.at("within"),
                hint=f"lengthen the deadline beyond {format_duration(__import__('datetime').timedelta(minutes=gap))}, or add call shifts in that stretch",
                related=tuple(related), subject=followup.id)


def _longest_gap(hours: WeekSet) -> tuple[int, int]:
    """Start and length of the longest stretch (round the week) with no minute of ``hours``."""
    intervals = hours.intervals
    best = (intervals[-1][1], intervals[0][0] + WEEK - intervals[-1][1])
    for (_, end), (start, _) in zip(intervals, intervals[1:]):
        if start - end > best[1]:
            best = (end, start - end)
    return best
