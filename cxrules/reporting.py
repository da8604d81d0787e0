"""Reporters: the same diagnostics printed for people (text) or for machines (json, sarif, github).

Reporters only format; they never decide what is a problem. All of them take a
:class:`Report` and return the text to print, so a service can call them too. Only the
text reporter reads source files, and only the lines it quotes (see
:func:`cxrules.loading.source_lines`); json, sarif and github never open a file. It quotes
only files that the run read (:func:`_quotable`): never a path refused with an I/O
diagnostic (a symlink out of a scanned folder, a FIFO), never a file the loader found not to
be an org file (`/etc/passwd` named by mistake). Control characters in messages are shown as `\\xNN` on a
terminal and in GitHub annotations, so a file name or a value cannot send escape sequences.
"""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from .version import __version__
from .codes import lookup
from .diagnostics import Diagnostic, Severity, sort_key
from .loading import NOT_AN_ORG_FILE, source_lines

__all__ = ["Report", "REPORTERS", "render", "default_format"]

DOCS_URL = "https://github.com/cxrules/cxrules/blob/main/docs/codes.md"


@dataclass(frozen=True)
class Report:
    """The outcome of one run over one or more files."""

    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    tool: str = "cxrules"

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity is severity)

    @property
    def sorted(self) -> list[Diagnostic]:
        return sorted(self.diagnostics, key=sort_key)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary(report: Report) -> str:
    errors, warnings = report.count(Severity.ERROR), report.count(Severity.WARNING)
    files = _plural(len(report.files), "file")
    if not errors and not warnings:
        return f"{files} checked: no problems"
    return f"{files} checked: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"


_COLOURS = {Severity.ERROR: "\033[1;31m", Severity.WARNING: "\033[1;33m", Severity.INFO: "\033[1;36m"}
_DIM, _BOLD, _RESET = "\033[2m", "\033[1m", "\033[0m"


QUOTE_WIDTH = 200
"""Quoted source lines are cut to this many characters around the column, with an ellipsis."""


def _width(text: str) -> int:
    """Terminal columns: CJK characters (`投诉`, `：`) take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _quote(source: tuple[str, bool], column: int) -> tuple[str, int] | None:
    """The line to print under a diagnostic and the caret's offset in it (None: nothing to quote).

    Long lines show a window of :data:`QUOTE_WIDTH` characters around the column.
    """
    text, cut = source
    index = column - 1
    if index > len(text) or (cut and index >= len(text)):
        return None
    if len(text) <= QUOTE_WIDTH and not cut:
        return text, _width(text[:index])
    start = max(0, index - QUOTE_WIDTH // 2)
    if not cut:
        start = min(start, max(0, len(text) - QUOTE_WIDTH))
    shown = text[start:start + QUOTE_WIDTH]
    before = "…" if start else ""
    after = "…" if cut or start + QUOTE_WIDTH < len(text) else ""
    return before + shown + after, _width(before + text[start:index])


def _real(path: str) -> str | None:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return None


NOT_READ_AS_MEANT = frozenset({"CX001", "CX010", "CX011", "CX012"})
"""Codes saying a file was not read as the kind of file the command reads: not read at all (missing, a FIFO, a
symlink not followed), or no ticket (not JSON, not an object). Their files are never quoted: a line of
`/etc/passwd` named by mistake must not be printed."""


def _refused(d: Diagnostic) -> bool:
    """Whether ``d`` says its file was not read as what the command reads (see :data:`NOT_READ_AS_MEANT`), or is not an org file."""
    return d.code in NOT_READ_AS_MEANT or NOT_AN_ORG_FILE in d.message


def _quotable(report: Report) -> set[str]:
    """Real paths of the files whose lines may be quoted: those the run read (``report.files``), less any refused."""
    read = {_real(file) for file in report.files if not (file.startswith("<") and file.endswith(">"))}  # `<stdin>`: no file
    refused = {_real(d.location.file) for d in report.diagnostics if _refused(d)}
    return {path for path in read - refused if path is not None}


def _sources(report: Report, diagnostics) -> dict[str, dict[int, tuple[str, bool]]]:
    """The quoted lines of every file, each file read once and only up to its last quoted line.

    Only files in :func:`_quotable` are opened: a diagnostic about `/etc/shadow` reached by a
    symlink, or about a stray config file named by mistake, never prints a line of it.
    """
    quotable = _quotable(report)
    wanted: dict[str, set[int]] = {}
    for d in diagnostics:
        wanted.setdefault(d.location.file, set()).add(d.location.line)
    return {file: source_lines(file, lines) if _real(file) in quotable else {} for file, lines in wanted.items()}


_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x00, 0x09), *range(0x0b, 0x20), 0x7f, *range(0x80, 0xa0))}


_CONTROLS_AND_BREAKS = {**_CONTROLS, 0x0a: "\\n"}


def _printable(text: str) -> str:
    """``text`` with control characters (terminal escapes, NUL) shown as `\\xNN`; line breaks kept."""
    return text.translate(_CONTROLS)


def _place(location) -> str:
    """A ``file:line:column`` on one line whatever the file is called (a line break in a name must not forge a line)."""
    return str(location).translate(_CONTROLS_AND_BREAKS)


def render_text(report: Report, colour: bool = False) -> str:
    """Compiler-style lines with the offending source line and a caret under the column."""
    paint = (lambda code, text: f"{code}{text}{_RESET}") if colour else (lambda code, text: text)
    diagnostics = report.sorted
    sources = _sources(report, diagnostics)
    out = []
    for d in diagnostics:
        info = lookup(d.code)
        name = f" [{info.name}]" if info else ""
        out.append(f"{paint(_BOLD, _place(d.location))}: {paint(_COLOURS[d.severity], d.severity.value)} "
                   f"{paint(_BOLD, d.code)} {_printable(d.message)}{paint(_DIM, name)}")
        source = sources[d.location.file].get(d.location.line)
        quoted = _quote(source, d.location.column) if source is not None else None
        if quoted is not None:
            out.append(f"    {quoted[0]}")
            out.append("    " + " " * quoted[1] + paint(_COLOURS[d.severity], "^"))
        if d.hint:
            out.append(f"    {paint(_BOLD, 'hint')}: {_printable(d.hint)}")
        for related in d.related:
            out.append(f"    {paint(_DIM, _place(related.location))}: note: {_printable(related.message)}")
    out.append(_summary(report))
    return "\n".join(out) + "\n"


def render_json(report: Report, colour: bool = False) -> str:
    payload = {
        "tool": report.tool,
        "version": __version__,
        "files": list(report.files),
        "summary": {"errors": report.count(Severity.ERROR), "warnings": report.count(Severity.WARNING),
                    "infos": report.count(Severity.INFO)},
        "diagnostics": [d.to_dict() for d in report.sorted],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _sarif_location(location) -> dict:
    return {"physicalLocation": {"artifactLocation": {"uri": location.file.replace(os.sep, "/")},
                                 "region": {"startLine": location.line, "startColumn": location.column}}}


def render_sarif(report: Report, colour: bool = False) -> str:
    """SARIF 2.1.0, as GitHub code scanning reads it."""
    codes = sorted({d.code for d in report.diagnostics})
    rules = []
    for code in codes:
        info = lookup(code)
        rule: dict[str, object] = {"id": code, "helpUri": f"{DOCS_URL}#{code.lower()}"}
        if info:
            rule.update(name=info.name, shortDescription={"text": info.summary}, fullDescription={"text": info.doc or info.summary})
        rules.append(rule)
    results = []
    for d in report.sorted:
        text = d.message + (f" (hint: {d.hint})" if d.hint else "")
        result = {"ruleId": d.code, "ruleIndex": codes.index(d.code), "level": _SARIF_LEVEL[d.severity],
                  "message": {"text": text}, "locations": [_sarif_location(d.location)]}
        if d.related:
            result["relatedLocations"] = [dict(_sarif_location(r.location), id=i, message={"text": r.message})
                                          for i, r in enumerate(d.related)]
        results.append(result)
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": report.tool, "version": __version__, "informationUri": DOCS_URL, "rules": rules}},
                  "results": results}],
    }
    return json.dumps(sarif, ensure_ascii=False, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return _printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: Report, colour: bool = False) -> str:
    """GitHub Actions workflow commands: annotations on the pull request's diff."""
    command = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    out = []
    for d in report.sorted:
        info = lookup(d.code)
        title = f"{d.code} {info.name}" if info else d.code
        message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        message += "".join(f"\n{r.location}: {r.message}" for r in d.related)
        out.append(f"::{command[d.severity]} file={_escape_property(d.location.file)},line={d.location.line},"
                   f"col={d.location.column},title={_escape_property(title)}::{_escape_data(message)}")
    out.append(_summary(report))
    return "\n".join(out) + "\n"


def render_route(report) -> str:
    """`cxrules route` for people: the decision, why, and what follows if nobody answers."""
    zone = report.at.tzinfo
    when = lambda moment: moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M")  # noqa: E731
    t = report.ticket
    lines = [f"ticket {t.ticket_id}: {t.category} × {t.channel} × {t.segment} × {t.priority}"
             f"{' (member)' if t.member else ''}, arriving {when(report.at)}"]
    if report.fallback:
        lines.append(f"→ no routing rule matches: fallback queue `{report.role}` (reported)")
    else:
        lines.append(f"→ `{report.role}` by rule `{report.rule}`" + (f", agent {report.agent}" if report.agent else ""))
    for decision in report.decisions:
        if decision.kind in _AUTOMATION_WORDS:
            lines.append(f"  {_AUTOMATION_WORDS[decision.kind](decision)}")
        if decision.kind == "Queued":
            lines.append(f"  queued at `{decision.role}` (position {decision.position}): {decision.reason}")
        if decision.kind == "Assigned":
            if decision.first_response_due:
                lines.append(f"  first response due {when(decision.first_response_due)}")
            if decision.resolution_due:
                lines.append(f"  resolution due     {when(decision.resolution_due)}")
    if report.considered:
        lines.append("rules that also match, and why they lost:")
        lines.extend(f"  {rule}: {why}" for rule, why in report.considered)
    if report.timeline:
        lines.append("if nobody answers:")
        for decision in report.timeline:
            detail = {"SlaWarning": lambda x: f"warning: {x.target} target near",
                      "SlaBreached": lambda x: f"{x.target} target breached",
                      "Escalated": lambda x: f"escalated to `{x.role}` (level {x.level} of `{x.path}`)",
                      "Notified": lambda x: f"notify {', '.join(x.roles)}: {x.reason}",
                      **_AUTOMATION_WORDS}.get(decision.kind, lambda x: x.kind)(decision)
            lines.append(f"  {when(decision.at)}  {detail}")
    for decision in report.followups:
        lines.append(f"follow-up `{decision.policy}` by `{decision.by}`: call from {when(decision.call_at)}, due {when(decision.due)} "
                     f"(if resolved on {when(decision.at)})")
    return "\n".join(lines)


_AUTOMATION_WORDS = {
    "AutomationFired": lambda x: (f"automation `{x.automation}` fired ({x.trigger}): {'; '.join(x.actions) or 'nothing to change'}"
                                  + (f" [matched {', '.join(x.matched)}]" if x.matched else "")),
    "AutomationStopped": lambda x: f"automation `{x.automation}` stopped: {x.reason}",
}
"""How `route` tells which automations fired, why (the trigger, the tickets a pattern matched) and what they did."""


def _rate(share: dict) -> str:
    return "–" if share.get("rate") is None else f"{share['rate'] * 100:5.1f}% ({share['met']}/{share['total']})"


def _minutes_text(value) -> str:
    """Minutes as people read them: `45 min`, `5.2 h`, `3.1 d`."""
    if value is None:
        return "–"
    if value < 120:
        return f"{value:.0f} min"
    return f"{value / 60:.1f} h" if value < 48 * 60 else f"{value / 1440:.1f} d"


def render_simulation(results) -> str:
    """`cxrules simulate` as a table; two results are shown side by side (as-is against to-be)."""
    data = [r.to_dict() for r in results]
    rows: list[tuple[str, list[str]]] = [("mode", [f"{d['mode']}, escalations {d['escalation']}" for d in data]),
                                         ("tickets replayed", [str(d["tickets"]) for d in data]),
                                         ("  counted (window)", [f"{d['counted']} from {(d['window']['counted_from'] or '–')[:16]} "
                                                                 f"to {(d['window']['to'] or '–')[:16]}" for d in data]),
                                         ("rows not mapped", [str(d["unmapped"]["total"]) for d in data])]
    for target in ("first_response", "resolution"):
        rows.append((f"SLA {target.replace('_', ' ')}", [_rate(d["sla_attainment"][target]["all"]["all"]) for d in data]))
        for dimension in ("priority", "segment", "channel"):
            values = sorted({v for d in data for v in d["sla_attainment"][target][dimension]})
            for value in values:
                rows.append((f"  {dimension} {value}", [_rate(d["sla_attainment"][target][dimension].get(value, {})) for d in data]))
    for key in ("p50", "p90", "p99"):
        rows.append((f"resolution time {key}", [_minutes_text(d["resolution_minutes"]["all"][key]) for d in data]))
    for priority in sorted({p for d in data for p in d["resolution_minutes"]["priority"]}):
        rows.append((f"  priority {priority} p50 / p90", [(lambda s: f"{_minutes_text(s['p50'])} / {_minutes_text(s['p90'])}" if s else "–")(
            d["resolution_minutes"]["priority"].get(priority)) for d in data]))
    for key in ("p50", "p90", "p99"):
        rows.append((f"wait to assignment {key}", [_minutes_text(d["waits_minutes"][key]) for d in data]))
    roles = sorted({role for d in data for role in d["roles"]})
    for role in roles:
        rows.append((f"role {role}", [(lambda r, w: (f"{r['assigned']} tickets, util {r['utilisation'] * 100:.0f}%" if r["utilisation"] is not None
                                                     else f"{r['assigned']} tickets") + f", max queue {r['max_queue']}"
                                       + (f", wait p90 {_minutes_text(w['p90'])}" if w else "") if r else "–")(
            d["roles"].get(role), d["waits_by_role"].get(role)) for d in data]))
    rows.append(("reassigned", [f"{d['moves']['reassigned']} ({(d['moves']['reassigned_share'] or 0) * 100:.1f}%)" for d in data]))
    rows.append(("moved by escalation", [str(d["moves"]["moved_by_escalation"]) for d in data]))
    levels = sorted({level for d in data for level in d["escalations_by_level"]})
    for level in levels:
        rows.append((f"escalations level {level}", [str(d["escalations_by_level"].get(level, 0)) for d in data]))
    for key in ("scheduled", "due", "done", "late", "deferred_to_callable_hours"):
        rows.append((f"follow-ups {key.replace('_', ' ')}", [str(d["followups"][key]) for d in data]))
    rows.append(("surge activations", [str(sum(1 for s in d["surges"] if s["on"])) for d in data]))
    rows.append(("fallback queue", [str(d["fallback_queue"]) for d in data]))
    rows.append(("open at the end", [(lambda o: f"{o['total']} ({o['queued']} queued, {o['in_hand']} in hand, "
                                                f"{o['waiting_on_customer']} waiting on the customer)")(d["open_at_end"]) for d in data]))
    rows.append(("never assigned", [str(d["open_at_end"]["never_assigned"]) for d in data]))
    lines = _columns(rows, [d["org"] for d in data])
    for d in data:
        for reason, count in sorted(d["unmapped"]["reasons"].items(), key=lambda item: -item[1]):
            examples = ", ".join(d["unmapped"]["examples"].get(reason, [])[:3])
            lines.append(f"{d['org']}: {count} rows not mapped: {reason} (e.g. {examples})")
    return "\n".join(lines) + "\n"


def _columns(rows: list[tuple[str, list[str]]], heads: list[str]) -> list[str]:
    """Rows of a label and one value per column, aligned under ``heads``."""
    width = max(len(label) for label, _ in rows) + 2
    columns = [max([len(head)] + [len(values[i]) for _, values in rows]) + 2 for i, head in enumerate(heads)]
    lines = [" " * width + "".join(head.ljust(columns[i]) for i, head in enumerate(heads))]
    return lines + [label.ljust(width) + "".join(value.ljust(columns[i]) for i, value in enumerate(values)) for label, values in rows]


def render_backtest(backtest) -> str:
    """`cxrules simulate --backtest`: the log's figures beside each run's, the difference, and whether it is within tolerance."""
    data = backtest.to_dict()
    lines = []
    for mode, comparisons in data["comparisons"].items():
        rows = [(c["figure"], [_number(c["log"]), _number(c["simulated"]),
                               "" if c["difference"] is None else f"{c['difference']:+g} {c['unit']}",
                               {True: "ok", False: "OUTSIDE", None: ""}[c["within_tolerance"]]]) for c in comparisons]
        lines.append(f"back-test, {mode} replay against the log ({data['log']['tickets']} tickets; "
                     f"tolerance ±{data['tolerances']['share_points']:g} pp, median ±{data['tolerances']['median_relative'] * 100:g} %)")
        lines += _columns(rows, ["log", "simulated", "difference", "verdict"])
        run = data["runs"][mode]
        lines.append(f"open at the end: log {data['log']['unresolved']} unresolved; simulated {run['open_at_end']['total']} "
                     f"({run['open_at_end']['queued']} queued, {run['open_at_end']['never_assigned']} never assigned)")
        roles = sorted(set(data["log"]["role_entries"]) | set(run["role_entries"]))
        if roles:
            lines.append("tickets coming to each role, log → simulated: " + ", ".join(
                f"{role} {data['log']['role_entries'].get(role, 0)} → {run['role_entries'].get(role, 0)}" for role in roles))
        lines.append("")
    if data["log"].get("made_sla_share") is not None:
        lines.append(f"the log's own SLA verdict (its column, not judged by the org's targets): {data['log']['made_sla_share'] * 100:.1f}% made")
    lines.append("verdict: " + ("within tolerance" if data["passed"] else "OUTSIDE tolerance: do not trust the what-if figures yet"))
    return "\n".join(lines) + "\n"


def _number(value) -> str:
    return "–" if value is None else f"{value:g}"


def render_simulation_csv(results) -> str:
    """Queue length per role and hour, one row per (org, hour, role): a time series for spreadsheets."""
    lines = ["org,hour,role,max_queue"]
    for result in results:
        lines += [f"{result.org},{row['hour']},{row['role']},{row['queue']}" for row in result.queue_series]
    return "\n".join(lines) + "\n"


REPORTERS: dict[str, Callable[[Report, bool], str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
}


def default_format() -> str:
    """`github` inside GitHub Actions (annotations appear on the diff), else `text`."""
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"


def render(report: Report, format: str = "text", colour: bool = False) -> str:
    return REPORTERS[format](report, colour)
