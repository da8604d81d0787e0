"""What the org promises its customers, drawn as the engine keeps it: SLAs, escalation, follow-ups, surges and campaigns,
workflows, automations.

A manager reads a promise best on a calendar: a ticket that arrives on a Monday morning and one that arrives on the eve of
the weekend. So every moment these sections show is the engine's own: typical tickets go through
:class:`cxrules.engine.Engine` on a virtual clock, in memory (:func:`dry_run`), and the deadlines, warnings, escalation
levels and follow-up calls are read off the decisions it takes. Nothing re-derives the engine's arithmetic, so the
report cannot drift from what the engine does. Hours of the typical week come from the checks' helpers, as the rest of
the report's do.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from typing import Callable, Optional, TypeVar
from zoneinfo import ZoneInfo

from ..calendars import BusinessCalendar, WeekSet, open_spans
from ..checks import CheckContext, describe_dates
from ..checks.followups import callable_hours
from ..engine import Engine
from ..engine import decisions as d
from ..engine import events as e
from ..engine.clock import VirtualClock
from ..engine.slas import sla_of_class
from ..model import Match, Org, format_duration
from ..routing import class_values
from .svg import Lane, Mark, Node, state_diagram, timeline, week_strip

__all__ = ["DryRun", "Story", "dry_run", "typical_week", "arrivals", "ticket_class", "on_shift", "organisation_sections"]

Name = Callable[[object], str]
D = TypeVar("D", bound=d.Decision)
Title = Callable[[str], str]

_FIRST, _RESOLUTION, _ARRIVAL = "#2f6db3", "#b3261e", "#222"
_RUN_FOR = timedelta(days=400)
"""How far the dry run follows its tickets: past the longest target an org may set (366 days) and the escalation after it."""


@dataclass(frozen=True)
class Story:
    """What the engine decided for one typical ticket: its class (category, channel, segment, priority, member) and decisions."""

    ticket_class: tuple
    decisions: tuple[d.Decision, ...]

    def first(self, kind: type[D], **fields) -> Optional[D]:
        """The first decision of ``kind`` whose fields have the values given."""
        return next((x for x in self.decisions if isinstance(x, kind) and all(getattr(x, k) == v for k, v in fields.items())), None)

    @property
    def shown_class(self) -> str:
        category, channel, segment, priority, member = self.ticket_class
        return f"{category} × {channel} × {segment} × {priority}" + (" × member" if member else "")


@dataclass(frozen=True)
class DryRun:
    """Typical tickets that arrive at one moment, followed by the engine until nothing is left to fire.

    ``slas``: per SLA, a ticket of a class that gets it, never answered (so its targets breach and its escalation runs);
    ``followups``: per policy, a ticket of a class it covers, resolved (or closed) on arrival; ``paths``: per escalation
    path no SLA starts, a ticket escalated along it on arrival, as an unsatisfied follow-up would.
    """

    arrival: datetime
    engine: Engine
    slas: dict[str, Story]
    followups: dict[str, Story]
    paths: dict[str, Story]


def typical_week(org: Org, today: Optional[date] = None) -> date:
    """The Monday of the first fortnight from ``today`` in which every calendar of the org keeps its typical hours.

    A holiday or make-up day would make the typical ticket untypical; a fortnight, because deadlines run past Friday.
    """
    calendars = [BusinessCalendar(calendar) for calendar in org.calendars]
    start = today or datetime.now(ZoneInfo(org.info.timezone)).date()
    monday = start + timedelta(days=-start.weekday() % 7)
    for week in range(53):
        first = monday + timedelta(weeks=week)
        days = [first + timedelta(days=n) for n in range(14)]
        if all(calendar.shifts_on(day) == calendar.calendar.shifts[day.weekday()] for calendar in calendars for day in days):
            return first
    return monday


def arrivals(org: Org, monday: date) -> tuple[datetime, datetime]:
    """Monday 10:00 and Friday 17:30 of that week in the org's time zone: a working morning and the eve of the weekend."""
    zone = ZoneInfo(org.info.timezone)
    return (datetime(monday.year, monday.month, monday.day, 10, tzinfo=zone),
            datetime.combine(monday + timedelta(days=4), datetime.min.time(), zone).replace(hour=17, minute=30))


def ticket_class(org: Org, match: Match, accepts: Callable[[tuple], bool] = lambda fields: True,
                 members: tuple[bool, ...] = (False, True)) -> Optional[tuple]:
    """The first ticket class, in the org's own order, that ``match`` takes and ``accepts`` agrees to; None if there is none."""
    values = class_values(org)
    dims = [[value for value in (list(values[name]) or ["any"]) if wanted is None or value in wanted]
            for name, wanted in zip(("category", "channel", "segment", "priority"),
                                    (match.categories, match.channels, match.segments, match.priorities))]
    flags = [flag for flag in members if match.member is None or flag == match.member]
    return next((fields for fields in itertools.product(*dims, flags) if accepts(fields)), None)


def dry_run(org: Org, arrival: datetime) -> DryRun:
    """Typical tickets through the engine, on a virtual clock and in memory: see :class:`DryRun`."""
    engine = Engine(org, clock=VirtualClock(arrival))
    decided: dict[str, list[d.Decision]] = {}
    classes: dict[str, tuple] = {}

    def submit(event: e.Event) -> None:
        for decision in engine.submit(event):
            decided.setdefault(decision.ticket_id or "", []).append(decision)

    def create(ticket_id: str, fields: tuple) -> None:
        classes[ticket_id] = fields
        submit(e.TicketCreated(ticket_id, *fields, at=arrival))

    for sla in org.slas:
        fields = ticket_class(org, sla.match, lambda f: sla_of_class(org, f) is sla)  # noqa: B023
        if fields is not None:
            create(f"sla:{sla.id}", fields)
    for policy in org.followups:
        _follow_up(org, engine, policy, create, submit, decided, arrival)
    started = {sla.escalation for sla in org.slas if sla.escalation and f"sla:{sla.id}" in classes}
    for path in org.escalations:
        if path.id not in started and (fields := ticket_class(org, Match())) is not None:
            create(f"path:{path.id}", fields)
            ticket = engine.ticket(f"path:{path.id}")
            assert ticket is not None  # just created
            decided[ticket.id].extend(engine.slas.escalate(ticket, path.id, 0, arrival))  # as an unsatisfied follow-up does
    for decision in engine.advance(arrival + _RUN_FOR):
        decided.setdefault(decision.ticket_id or "", []).append(decision)
    engine.close()
    stories = {ticket_id: Story(fields, tuple(decided.get(ticket_id, ()))) for ticket_id, fields in classes.items()}
    pick = lambda prefix: {key.split(":", 2)[1]: story for key, story in stories.items() if key.startswith(prefix)}  # noqa: E731
    return DryRun(arrival, engine, pick("sla:"), pick("fu:"), pick("path:"))


def _follow_up(org: Org, engine: Engine, policy, create, submit, decided: dict, arrival: datetime) -> None:
    """A ticket the policy covers, handed over, resolved or closed on arrival; another (a few at most) while coverage leaves it out."""
    members = (True, False) if policy.coverage_members >= policy.coverage_others else (False, True)
    fields = ticket_class(org, policy.match, members=members)
    if fields is None or max(policy.coverage_members, policy.coverage_others) <= 0:
        return
    for attempt in range(1, 41):  # coverage is a draw per ticket id: below 100 % some tickets are not called
        ticket_id = f"fu:{policy.id}:{attempt}"
        create(ticket_id, fields)
        if policy.on == "handed_over":
            ticket = engine.ticket(ticket_id)
            handoff = next((h for h in org.handoffs if ticket is not None and h.from_role == ticket.role and not h.returns
                            and (h.categories is None or fields[0] in h.categories)), None)
            if handoff is None:
                return
            submit(e.HandOff(ticket_id, handoff.to_role, at=arrival))
        else:
            submit(e.Resolved(ticket_id, at=arrival))
            if policy.on == "closed":
                submit(e.Closed(ticket_id, at=arrival))
        if any(isinstance(x, d.FollowUpScheduled) and x.policy == policy.id for x in decided.get(ticket_id, ())):
            return


def on_shift(run: DryRun, role: str, moment: datetime, deadline: bool = False) -> list[tuple[str, int]]:
    """(shift calendar, agents) of the role on shift at ``moment``, as the engine's assignment sees its agents.

    With ``deadline``, ``moment`` ends the business minute that ran out (a level fires when a limit is reached, at
    18:00 for a limit ending with the day): that minute counts, as `cxrules check` counts it (CX504).
    """
    engine = run.engine
    minute = moment - timedelta(minutes=1) if deadline else moment
    counts = Counter(agent.shift for agent in engine.agents.get(role, ()) if engine.calendars[agent.shift].is_open(minute))
    return sorted(counts.items())


# ---------------------------------------------------------------------------------------------------- the sections


@dataclass(frozen=True)
class _Page:
    """What every section needs: the org, the checks' view of it, the two dry runs, and how titles and names are written."""

    org: Org
    context: CheckContext
    runs: tuple[DryRun, DryRun]
    title: Title
    name: Name
    chinese: bool

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.org.info.timezone)

    def when(self, moment: Optional[datetime]) -> str:
        """`Mon 3 Mar 10:00` in the org's time zone."""
        if moment is None:
            return "never"
        local = moment.astimezone(self.zone)
        return f"{local:%a} {local.day} {local:%b} {local:%H:%M}"

    def called(self, item) -> str:
        return escape(self.name(item) if getattr(item, "name", None) else item.id)

    def calendar(self, calendar_id: Optional[str]) -> str:
        """A calendar by name, with its typical week in the org's time zone and its holidays."""
        if calendar_id is None:
            return "—"
        calendar = self.org.calendar(calendar_id)
        holidays = f"; {calendar.holiday_country} public holidays closed" if calendar.holiday_country else ""
        return (f"{self.called(calendar)} <span class=\"muted\">({escape(self.context.hours(calendar_id).describe())}"
                f"{escape(holidays)})</span>")

    def role(self, role_id: str) -> str:
        return self.called(self.org.role(role_id))

    def of(self, items, item_id: str) -> str:
        """The item of ``items`` with this id by name (a surge, campaign, workflow … the org has no lookup for)."""
        item = next((item for item in items if item.id == item_id), None)
        return self.called(item) if item is not None else f"<code>{escape(item_id)}</code>"

    def roles(self, role_ids) -> str:
        return ", ".join(self.role(role) for role in role_ids) or "—"

    def matched(self, match: Match) -> str:
        """Which tickets a match takes, in the words of the checks (`complaint × any channel × vip | key × any priority`)."""
        box = self.context.box(match, WeekSet.full())
        return escape(self.context.describe(box).removesuffix(", at all hours")) if box is not None else "no ticket"

    def staffed(self, shifts: list[tuple[str, int]]) -> str:
        """Who is on shift, or a flag that nobody is."""
        if not shifts:
            return "<span class=\"bad nobody\">⚠ nobody on shift</span>"
        return ", ".join(f"{self.called(self.org.calendar(shift))} ×{agents}" for shift, agents in shifts)

    def section(self, key: str, body: str, lead: str = "", first: str = "") -> str:
        """A section of the report; one with nothing to show (one line) is `short`: printed on one page, never split.

        ``first`` is the first block of the body, kept with the title on paper (no title alone at the foot of a page).
        """
        lead_html = f"<p class=\"muted\">{lead}</p>" if lead else ""
        short = ' class="short"' if body.startswith("<p>") and body.count("<p") == 1 else ""
        return f"<section id=\"{key}\"{short}><div class=\"keep\"><h2>{self.title(key)}</h2>{lead_html}{first}</div>{body}</section>"

    def arrivals_said(self) -> str:
        monday, friday = (run.arrival for run in self.runs)
        return (f"Typical tickets arrive on {self.when(monday)} and on the eve of the weekend, {self.when(friday)} "
                f"({escape(self.org.info.timezone)}), in a week without holidays; every moment below is what the engine decides for them.")


def organisation_sections(org: Org, context: CheckContext, title: Title, name: Name, chinese: bool,
                          today: Optional[date] = None) -> list[str]:
    """The report's sections on SLAs, escalation, follow-ups, surges with campaigns and special dates, workflows and
    automations (HTML, in that order).

    ``today`` fixes the week the typical tickets arrive in (default: the first week from today without holidays) and the
    year the special dates are listed for.
    """
    monday = typical_week(org, today)
    page = _Page(org, context, tuple(dry_run(org, moment) for moment in arrivals(org, monday)), title, name, chinese)  # type: ignore[arg-type]
    drawn = {"slas": (org.slas, _slas), "escalations": (org.escalations, _escalations), "followups": (org.followups, _followups),
             "workflows": (org.workflows, _workflows), "automations": (org.automations, _automations)}
    made = lambda key: drawn[key][1](page) if drawn[key][0] else page.section(key, f"<p>{_NOTHING[key]}</p>")  # noqa: E731
    return [made("slas"), made("escalations"), made("followups"), _surges(page, today or date.today()), made("workflows"),
            made("automations")]


_NOTHING = {
    "slas": "This org sets no SLA: no ticket has a deadline.",
    "escalations": "This org has no escalation path: a breached ticket stays where it is.",
    "followups": "This org promises no follow-up call.",
    "workflows": "This org declares no workflow: tickets move freely between statuses.",
    "automations": "This org declares no automation: nothing acts on a ticket event, a timer or a pattern of tickets.",
}
"""What a section says when the org has nothing of its kind: one line, not an empty box."""


def _slas(page: _Page) -> str:
    """The SLA table, then a timeline per kind of target (same calendar and durations) for the two typical arrivals."""
    org = page.org
    rows = []
    for sla in org.slas:
        story = page.runs[0].slas.get(sla.id)
        applies = page.matched(sla.match) + ("" if story else " <span class=\"bad\">(no ticket gets it: an earlier SLA takes them all)</span>")
        rows.append(f"<tr><td>{page.called(sla)}<br><code>{escape(sla.id)}</code></td><td>{applies}</td>"
                    f"<td class=\"num\">{_duration(sla.first_response)}</td><td class=\"num\">{_duration(sla.resolution)}</td>"
                    f"<td class=\"num\">{'—' if sla.warn_at is None else f'{sla.warn_at:.0%}'}</td><td>{page.calendar(sla.calendar)}</td>"
                    f"<td>{escape(_paused_while(sla)) or '—'}</td>"
                    f"<td>{page.called(org.escalation(sla.escalation)) if sla.escalation else '—'}</td></tr>")
    table = ("<table class=\"slas\"><thead><tr><th>SLA</th><th>applies to</th><th class=\"num\">first response</th>"
             "<th class=\"num\">resolution</th><th class=\"num\">warn at</th><th>calendar (business time)</th><th>paused while</th>"
             f"<th>escalation</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    kinds: dict[tuple, list] = {}
    for sla in org.slas:
        if sla.id in page.runs[0].slas:
            kinds.setdefault((sla.calendar, sla.first_response, sla.resolution, sla.warn_at), []).append(sla)
    figures = [_timeline_figure(page, slas) for slas in kinds.values()]
    legend = ("<p class=\"legend\"><span style=\"background:#b7e1b0\">calendar open: the clock runs</span><span style=\"background:#e4e4e4\">"
              f"closed: the clock stops</span><span style=\"color:{_FIRST}\">first response</span><span style=\"color:{_RESOLUTION}\">"
              "resolution</span><span>dashed: the warning (warn at)</span></p>")
    return page.section("slas", legend + "<div class=\"figures\">" + "".join(figures) + "</div>", page.arrivals_said(), table)


def _duration(value: Optional[timedelta]) -> str:
    return format_duration(value, days=False) if value is not None else "—"


def _timeline_figure(page: _Page, slas: list) -> str:
    """One SLA kind on a timeline: a lane per typical arrival, its warnings and deadlines as the engine set them."""
    sla = slas[0]
    lanes = []
    for run, said in zip(page.runs, ("Arrives on a Monday morning", "Arrives on the eve of the weekend")):
        story = run.slas[sla.id]
        marks = [Mark(run.arrival, f"arrives {page.when(run.arrival)}", _ARRIVAL)]
        for target, colour, words in (("first_response", _FIRST, "first response"), ("resolution", _RESOLUTION, "resolution")):
            warning, breach = story.first(d.SlaWarning, target=target), story.first(d.SlaBreached, target=target)
            if warning is not None:
                marks.append(Mark(warning.at, f"{words}: warning {page.when(warning.at)}", colour, dashed=True))
            if breach is not None:
                marks.append(Mark(breach.due, f"{words} due {page.when(breach.due)}", colour))
        last = max(mark.moment for mark in marks)
        pad = max(timedelta(hours=1), (last - run.arrival) * 0.04)
        start = run.arrival.replace(minute=0) - pad
        end = last + pad
        calendar = run.engine.calendars[sla.calendar]
        lanes.append(Lane(f"{said}: {story.shown_class}", start, end, open_spans(calendar, start, end), marks))
    names = ", ".join(f"{page.called(item)} (<code>{escape(item.id)}</code>)" for item in slas)
    caption = (f"{names}: first response {_duration(sla.first_response)}, resolution {_duration(sla.resolution)}"
               f"{'' if sla.warn_at is None else f', warning at {sla.warn_at:.0%}'} of business time on {page.calendar(sla.calendar)}")
    svg = timeline(lanes, page.zone, aria=f"deadlines of SLA {sla.id}")
    return f"<figure class=\"deadlines\" data-sla=\"{escape(sla.id)}\"><figcaption>{caption}</figcaption>{svg}</figure>"


def _escalations(page: _Page) -> str:
    """Per path: its levels, when each fires for the typical tickets, and who of the level's role is on shift then."""
    org = page.org
    blocks = []
    for path in org.escalations:
        stories = [_path_story(run, path.id) for run in page.runs]
        started = _started_by(page, path.id)
        head = "".join(f"<th>fires (ticket arriving {page.when(run.arrival)})</th><th>on shift then</th>" for run in page.runs)
        rows = []
        for number, level in enumerate(path.levels, start=1):
            cells = []
            for run, story in zip(page.runs, stories):
                fired = story.first(d.Escalated, path=path.id, level=number) if story else None
                if fired is None:
                    cells.append("<td class=\"muted\">does not fire</td><td></td>")
                else:
                    cells.append(f"<td>{page.when(fired.at)}</td><td>{page.staffed(on_shift(run, level.role, fired.at, deadline=True))}</td>")
            rows.append(f"<tr><td class=\"num\">{number}</td><td>{page.role(level.role)}</td>"
                        f"<td class=\"num\">{_duration(level.within) if level.within else '—'}</td><td>{page.roles(level.notify)}</td>"
                        f"{''.join(cells)}</tr>")
        then = (f"then on path {page.called(org.escalation(path.then))}" if path.then else "the path ends here")
        rows.append(f"<tr><td></td><td colspan=\"{3 + 2 * len(page.runs)}\" class=\"muted\">{then}</td></tr>")
        blocks.append(f"<div class=\"keep\"><h3>{page.called(path)} <code>{escape(path.id)}</code></h3><p class=\"muted\">{started}</p>"
                      f"<table class=\"escalation\" data-path=\"{escape(path.id)}\"><thead><tr><th class=\"num\">level</th><th>role</th>"
                      f"<th class=\"num\">within</th><th>notify</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    lead = ("A level fires when the one before it has run its `within` in business time on the SLA's calendar; the first "
            "level fires at the ticket's first breach. “On shift” counts the role's agents whose shift is open then.")
    return page.section("escalations", "".join(blocks[1:]), lead, blocks[0])


def _path_story(run: DryRun, path_id: str) -> Optional[Story]:
    """The typical ticket whose escalation runs along the path: an SLA's that starts it or continues into it, else its own."""
    for story in itertools.chain(run.slas.values(), run.paths.values()):
        if story.first(d.Escalated, path=path_id) is not None:
            return story
    return None


def _started_by(page: _Page, path_id: str) -> str:
    """Which SLAs start the path (at their first breach) and which follow-ups (an unsatisfied customer), in words."""
    org = page.org
    slas = [sla for sla in org.slas if sla.escalation == path_id]
    before = [other for other in org.escalations if other.then == path_id]
    followups = [policy for policy in org.followups if policy.escalate_when_unsatisfied == path_id]
    said = []
    if slas:
        said.append("started by SLA " + ", ".join(
            f"{page.called(sla)} at its first breach ({'first response ' + _duration(sla.first_response) if sla.first_response else 'resolution ' + _duration(sla.resolution)})"
            for sla in slas))
    if before:
        said.append("continues from " + ", ".join(page.called(other) for other in before))
    if followups:
        said.append("started by follow-up " + ", ".join(page.called(policy) for policy in followups) + " when the customer is unsatisfied")
    if not slas and not before:
        said.append("the times below start the path at the arrival, as an unsatisfied follow-up would" if followups else
                    "nothing starts this path; the times below start it at the arrival")
    return "; ".join(said)


def _followups(page: _Page) -> str:
    """The follow-up policies, when the engine first calls for the typical tickets, and a week strip of when calls may be made."""
    org = page.org
    rows, strip = [], []
    for policy in org.followups:
        calls = []
        for run in page.runs:
            story = run.followups.get(policy.id)
            scheduled = story.first(d.FollowUpScheduled, policy=policy.id) if story else None
            calls.append(f"{policy.on.replace('_', ' ')} {page.when(run.arrival)} → "
                         + (f"call {page.when(scheduled.call_at)}, due {page.when(scheduled.due)}" if scheduled else "no call scheduled"))
        unsatisfied = ["reopen"] if policy.reopen_when_unsatisfied else []
        if policy.escalate_when_unsatisfied:
            unsatisfied.append(f"escalate on {page.called(org.escalation(policy.escalate_when_unsatisfied))}")
        if policy.notify_when_unsatisfied:
            unsatisfied.append(f"notify {page.roles(policy.notify_when_unsatisfied)}")
        overdue = f"overdue: notify {page.roles(policy.notify_when_overdue)}" if policy.notify_when_overdue else ""
        hours = f"not in quiet hours {page.calendar(policy.quiet_hours)}" if policy.quiet_hours else "any hour"
        if policy.calendar:
            hours += f"; only in {page.calendar(policy.calendar)}"
        rows.append(f"<tr><td>{page.called(policy)}<br><code>{escape(policy.id)}</code><br>on {escape(policy.on.replace('_', ' '))}</td>"
                    f"<td>{page.matched(policy.match)}</td><td class=\"num\">{format_duration(policy.within)}</td><td>{page.role(policy.by)}</td>"
                    f"<td class=\"num\">{policy.coverage_members:.0%} / {policy.coverage_others:.0%}</td><td>{hours}</td>"
                    f"<td>{'<br>'.join(calls)}</td><td>{'; '.join(unsatisfied) or '—'}{'<br>' if overdue else ''}{overdue}</td></tr>")
        strip.append((page.name(policy) if policy.name else policy.id, list(page.context.role_hours(policy.by).intervals),
                      list(callable_hours(page.context, policy).intervals)))
    table = ("<table class=\"followups\"><thead><tr><th>follow-up</th><th>tickets</th><th class=\"num\">within</th><th>by</th>"
             "<th class=\"num\">coverage members / others</th><th>calls may be made</th>"
             "<th>calls the engine schedules</th><th>if unsatisfied / overdue</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>")
    legend = ("<p class=\"muted\">light: someone of the calling role is on shift · dark: a call may be made (on shift, in the policy's "
              "calendar, outside the customers' quiet hours)</p>")
    return page.section("followups", legend + week_strip(strip, id="followup-hours", titles=("caller on shift", "calls allowed")), first=table)


def _surges(page: _Page, today: date) -> str:
    """Surges and the team each switches on; the campaigns; then the dates in the coming year on which a calendar leaves
    its typical week (a campaign's own calendars left out: the campaigns table says their dates)."""
    org = page.org
    if org.surges:
        rows = []
        for surge in org.surges:
            role = org.role(surge.activate)
            unit = org.unit(role.unit)
            staff = "<br>".join(_group(page, group) for group in role.staff) or "<span class=\"bad\">no staff</span>"
            rows.append(f"<tr><td>{page.called(surge)}<br><code>{escape(surge.id)}</code></td><td>{page.matched(surge.match)}</td>"
                        f"<td class=\"num\">{_threshold(surge)} in {format_duration(surge.window)}</td>"
                        f"<td class=\"num\">{'below ' + str(surge.release_below) if surge.release_below is not None else 'below half of it'}</td>"
                        f"<td>{page.called(role)}{' (temporary)' if role.temporary else ''}</td>"
                        f"<td>{page.called(unit)}{' (temporary)' if unit.temporary else ''}</td><td>{staff}</td>"
                        f"<td>{escape(page.context.role_hours(role.id).describe())}</td></tr>")
        surges = ("<table class=\"surges\"><thead><tr><th>surge</th><th>counts</th><th class=\"num\">switches on at</th>"
                  "<th class=\"num\">switches off</th><th>activates</th><th>unit</th><th>staff (shift ×agents)</th><th>on shift</th></tr></thead>"
                  f"<tbody>{''.join(rows)}</tbody></table>")
    else:
        surges = "<p>This org declares no surge: no team is switched on by a wave of tickets.</p>"
    surges += _campaigns(page)
    dated = []
    last = today + timedelta(days=365)
    for calendar in org.calendars:
        if calendar.dates is not None:  # a campaign's, or a shift worked during one: in the campaigns table
            continue
        business = BusinessCalendar(calendar)
        closed: list[date] = []
        opened: list[date] = []
        day = today
        while day <= last:
            shifts, usual = business.shifts_on(day), calendar.shifts[day.weekday()]
            if shifts != usual:
                (opened if shifts else closed).append(day)
            day += timedelta(days=1)
        if closed or opened:
            dated.append(f"<tr><td>{page.called(calendar)}</td><td>{describe_dates(closed) or '—'}</td><td>{describe_dates(opened) or '—'}</td></tr>")
    if dated:
        dates = ("<h3>Special dates, " f"{today} to {last}</h3><table class=\"dates\"><thead><tr><th>calendar</th>"
                 "<th>closed (holidays, closed dates)</th><th>extra working days (make-up days, open dates)</th></tr></thead>"
                 f"<tbody>{''.join(dated)}</tbody></table>")
    else:
        dates = f"<p>No calendar has a special date from {today} to {last}: every week keeps its typical hours.</p>"
    return page.section("surges", surges + dates)


def _group(page: _Page, group) -> str:
    """A staff group as `Day shift ×12`, `(during Double 11)` for a campaign's extra staff."""
    shift = group.shift.rpartition("@")[0] if group.during else group.shift
    during = f" <span class=\"muted\">(during {page.of(page.org.campaigns, group.during)})</span>" if group.during else ""
    return f"{page.called(page.org.calendar(shift))} ×{group.agents}{during}"


def _campaigns(page: _Page) -> str:
    """Per campaign: its dates as runs, the surge teams on for all of it, the routing rules and extra staff `during` it."""
    org = page.org
    if not org.campaigns:
        return "<p class=\"muted\">This org declares no campaign: no dates with their own rules, staff or surge teams.</p>"
    rows = []
    for campaign in org.campaigns:
        activates = {surge.id: surge.activate for surge in org.surges}
        teams = "<br>".join(f"{page.of(org.surges, surge)}: {page.role(activates[surge])}" for surge in campaign.surges) or "—"
        rules = "<br>".join(f"<code>{escape(rule.id)}</code> {page.matched(rule.match)} → {page.role(rule.to)}"
                            for rule in org.routing if rule.during == campaign.id) or "—"
        staff = "<br>".join(f"{page.role(role.id)}: {page.calendar(group.shift.rpartition('@')[0])} ×{group.agents}"
                            for role in org.roles for group in role.staff if group.during == campaign.id) or "—"
        rows.append(f"<tr><td>{page.called(campaign)}<br><code>{escape(campaign.id)}</code></td>"
                    f"<td class=\"runs\">{escape(describe_dates(campaign.dates)).replace(', ', '<br>')}</td><td>{teams}</td>"
                    f"<td>{rules}</td><td>{staff}</td></tr>")
    return ("<h3>Campaigns</h3><p class=\"muted\">Dates with their own needs: surge teams on for all of them, routing rules and "
            "extra staff that work on them only.</p><table class=\"campaigns\"><thead><tr><th>campaign</th><th>dates</th>"
            "<th>surge teams on (surge: team)</th><th>routing rules during it</th><th>extra staff (role: shift ×agents)</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _workflows(page: _Page) -> str:
    """Each workflow as a state diagram: a box per state with its role, an arrow per allowed step, what a state requires."""
    org = page.org
    chinese = page.chinese
    figures = []
    for workflow in org.workflows:
        nodes = []
        for state in workflow.states:
            first, second = (state.label, state.name) if chinese and state.label else (state.name or state.id, state.label)
            role = f"role: {page.name(org.role(state.role))}" if state.role else "role: any"
            nodes.append(Node(state.id, tuple(filter(None, (first, second, role))), state.requires or "", final=not state.next))
        edges = [(state.id, step) for state in workflow.states for step in state.next]
        requires = "".join(f"<li><b>{escape(state.label if chinese and state.label else state.name or state.id)}</b>: {escape(state.requires)}</li>"
                           for state in workflow.states if state.requires)
        figures.append(f"<figure class=\"workflow\" data-workflow=\"{escape(workflow.id)}\"><figcaption><b>{page.called(workflow)}</b> "
                       f"<code>{escape(workflow.id)}</code> · tickets: {page.matched(workflow.match)}</figcaption>"
                       f"{state_diagram(nodes, edges, workflow.id)}"
                       + (f"<ul class=\"requires\">{requires}</ul>" if requires else "") + "</figure>")
    lead = ("Arrows are the steps the engine allows (any other is refused); a dashed arrow goes back to an earlier state; "
            "a double border ends the flow; the list says what a state requires before the ticket moves on.")
    return page.section("workflows", "".join(figures[1:]), lead, figures[0])


def _automations(page: _Page) -> str:
    """One row per automation, in file order (the order they run in): its trigger, conditions and actions in words."""
    rows = []
    for automation in page.org.automations:
        rows.append(f"<tr><td>{page.called(automation)}<br><code>{escape(automation.id)}</code></td>"
                    f"<td>{escape(trigger_words(automation.trigger, page.org))}</td><td>{_conditions(page, automation.conditions)}</td>"
                    f"<td>{'<br>'.join(_actions(page, automation.actions))}</td></tr>")
    lead = ("They run in this order on every ticket event, timer or pattern; what an action changes is an <code>updated</code> event "
            "the automations below it may react to. Durations are business time unless said otherwise; a pattern's window "
            "is calendar time.")
    return page.section("automations", "", lead,
                        "<table class=\"automations\"><thead><tr><th>automation</th><th>when</th><th>if</th><th>then</th></tr></thead>"
                        f"<tbody>{''.join(rows)}</tbody></table>")


_BEING = {"created": "created", "first_response": "first answered", "handed_over": "handed over", "reassigned": "reassigned",
          "waiting": "set waiting", "customer_reply": "replied to by the customer", "resolved": "resolved", "reopened": "reopened",
          "closed": "closed", "updated": "updated"}
"""An event as what happens to a ticket (`another ticket being resolved`)."""


def _event(event: str) -> str:
    return event.replace("_", " ")


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def trigger_words(trigger, org: Org) -> str:
    """`created`, `2h business after created`, `the 2nd created of one customer within 30d`,
    `created within 7d of another of the customer's tickets being resolved`."""
    if trigger.after is not None:
        business = trigger.clock == "business"
        on = f" on {org.calendar(trigger.calendar).name or trigger.calendar}" if business and trigger.calendar else ""
        return f"{format_duration(trigger.after, days=not business)} {trigger.clock}{on} after {_event(trigger.event)}"
    within = format_duration(trigger.within) if trigger.within is not None else "any time"
    if trigger.count is not None:
        whose = "of one customer" if trigger.per == "customer" else "of all tickets"
        return f"the {_ordinal(trigger.count)} {_event(trigger.event)} {whose} within {within}"
    if trigger.following is not None:
        whose = "another of the customer's tickets" if trigger.per == "customer" else "another ticket"
        return f"{_event(trigger.event)} within {within} of {whose} being {_BEING.get(trigger.following, _event(trigger.following))}"
    return _event(trigger.event)


def _conditions(page: _Page, conditions) -> str:
    """`complaint × any channel × …; status open | queued; not yet answered; tagged vip; not tagged came_back` (HTML)."""
    match = conditions.match
    anything = all(getattr(match, dim) is None for dim in ("categories", "channels", "segments", "priorities", "member"))
    responded = {True: "answered", False: "not yet answered", None: ""}[conditions.responded]
    said = ["" if anything else page.matched(match),
            "status " + " | ".join(sorted(conditions.statuses)) if conditions.statuses is not None else "",
            responded,
            "tagged " + _codes(sorted(conditions.tags)) if conditions.tags else "",
            "not tagged " + _codes(sorted(conditions.without_tags)) if conditions.without_tags else ""]
    return "; ".join(filter(None, said)) or "any ticket"


def _actions(page: _Page, actions) -> list[str]:
    """What an automation does, in the order the engine does it, one line (HTML) each."""
    org = page.org
    reopen = {"this": "reopen this ticket", "earlier": "reopen the earlier ticket", None: ""}[actions.reopen]
    said = [f"priority → {escape(actions.priority)}" if actions.priority else "",
            f"segment → {escape(actions.segment)}" if actions.segment else "",
            "tag " + _codes(actions.tags) if actions.tags else "",
            f"assign to {page.role(actions.assign)}" if actions.assign else "",
            f"escalate on {page.of(org.escalations, actions.escalate)}" if actions.escalate else "",
            f"notify {page.roles(actions.notify)}" if actions.notify else "",
            reopen,
            f"switch on surge team {page.of(org.surges, actions.surge)}" if actions.surge else "",
            f"schedule follow-up {page.of(org.followups, actions.follow_up)}" if actions.follow_up else "",
            f"start workflow {page.of(org.workflows, actions.workflow)}" if actions.workflow else "",
            f"move its workflow on to {_codes([actions.step])}" if actions.step else ""]
    return [line for line in said if line] or ["nothing"]


def _codes(ids) -> str:
    return ", ".join(f"<code>{escape(item)}</code>" for item in ids)


def _threshold(surge) -> str:
    """`30`, or `2× the usual (last 4 weeks), at least 10`."""
    if surge.usual_times is None:
        return str(surge.threshold)
    floor = f", at least {surge.threshold}" if surge.threshold > 1 else ""
    return f"{surge.usual_times:g}× the usual (last {surge.usual_weeks} weeks){floor}"


def _paused_while(sla) -> str:
    """`waiting_customer, waiting_parts`, or per target: `resolution: waiting_customer; next_reply: waiting_parts`."""
    if not sla.pause_targets:
        return ", ".join(sla.pause_when)
    return "; ".join(f"{target.replace('_', ' ')}: {', '.join(states) or 'never'}" for target, states in sla.pause_targets)
