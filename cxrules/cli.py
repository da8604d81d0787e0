"""The `cxrules` command: a few lines per command over the public library functions."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperGroup

from .version import __version__
from .codes import lookup
from .diagnostics import Diagnostic, Severity
from .reporting import REPORTERS, Report, default_format, render, render_route
from .schema import schema_text
from .checks import CheckConfig, ConfigError, check as check_org, check_paths, load_config
from .validation import validate_paths

def _no_flag_types(params: list) -> list:
    """Flags take no value, so help shows no type beside them.

    Typer (0.29 and later) prints a parameter's type in angle brackets, `<bool>` for every
    flag, `--help` included: an empty metavar is what it prints instead.
    """
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Group(TyperGroup):
    """The `cxrules` command group: its flags and its commands' flags are shown without a type."""

    def get_params(self, ctx):
        return _no_flag_types(super().get_params(ctx))

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _no_flag_types(command.get_params(ctx))
        return command


app = typer.Typer(
    cls=_Group,
    name="cxrules",
    help="Org-as-code for customer-service centres: validate, check, route and simulate an org file.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Format = Enum("Format", {name: name for name in ["auto", *REPORTERS]}, type=str)  # type: ignore[misc]  # members from REPORTERS

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cxrules {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Org-as-code for customer-service centres."""


def _emit(report: Report, format: Format, output: Optional[Path], colour: Optional[bool]) -> None:
    name = default_format() if format.value == "auto" else format.value
    to_terminal = output is None and sys.stdout.isatty()
    use_colour = colour if colour is not None else (to_terminal and "NO_COLOR" not in __import__("os").environ)
    text = render(report, name, use_colour)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8", errors="backslashreplace")  # a file name that is not UTF-8 stays visible
    except OSError as error:
        typer.echo(f"cxrules: cannot write {output}: {error.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE)


def _exit_code(diagnostics: list[Diagnostic], strict: bool) -> int:
    if any(d.code == "CX001" for d in diagnostics):
        return EXIT_USAGE
    failing = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    return EXIT_PROBLEMS if any(d.severity in failing for d in diagnostics) else EXIT_CLEAN


FORMAT_OPTION = typer.Option(Format["auto"], "--format", "-f", help="Output format; `auto` is `github` under GitHub Actions, else `text`.")
OUTPUT_OPTION = typer.Option(None, "--output", "-o", help="Write the report to this file instead of standard output.")
COLOUR_OPTION = typer.Option(None, "--color/--no-color", help="Colour the text output (default: on a terminal, unless NO_COLOR is set).")
STRICT_OPTION = typer.Option(False, "--strict", help="Exit 1 on warnings too.")


@app.command()
def validate(
    paths: List[Path] = typer.Argument(..., help="Org files, or folders searched for org files (YAML with `apiVersion: cxrules/v1`)."),
    format: Format = FORMAT_OPTION,
    output: Optional[Path] = OUTPUT_OPTION,
    color: Optional[bool] = COLOUR_OPTION,
    strict: bool = STRICT_OPTION,
) -> None:
    """Check that org files are well-formed: YAML, schema, references, trees.

    A ticket-log mapping (`kind: TicketLogMapping`) or a simulation model (`kind: SimulationModel`)
    named here is checked as one. Exit status: 0 clean, 1 problems found, 2 a path could not be read.
    """
    orgs, files, diagnostics = _side_files_validated(paths)
    results, problems = validate_paths(orgs) if orgs else ([], [])
    diagnostics += problems + [d for result in results for d in result.diagnostics]
    files = [file for result in results for file in (result.files or (result.path,))] + files
    _emit(Report(tuple(files), tuple(diagnostics)), format, output, color)
    raise typer.Exit(_exit_code(diagnostics, strict))


def _side_files_validated(paths: List[Path]) -> tuple[list[Path], list[str], list[Diagnostic]]:
    """Log mappings and simulation models named on the command line are validated as such: the other paths, those files,
    their problems."""
    from .loading import MAPPING_KIND, MODEL_KIND, file_kind

    kinds = {}
    for path in paths:
        try:
            kinds[path] = file_kind(path)
        except OSError:
            continue  # the org reader says why it cannot be read
    side_kinds = {path: kind for path, kind in kinds.items() if kind in (MAPPING_KIND, MODEL_KIND)}
    side = {}
    if side_kinds:  # the simulation's readers (and the engine behind them) only when there is such a file
        from .simulation.calibration import validate_model
        from .simulation.mapping import validate_mapping

        validators = {MAPPING_KIND: validate_mapping, MODEL_KIND: validate_model}
        side = {path: validators[kind] for path, kind in side_kinds.items()}
    return ([path for path in paths if path not in side], [str(path) for path in side],
            [d for path, validator in side.items() for d in validator(path)])


def _codes(values: Optional[List[str]]) -> list[str]:
    return [code.strip().upper() for value in values or [] for code in value.split(",") if code.strip()]


def _severities(values: Optional[List[str]]) -> tuple[tuple[str, Severity], ...]:
    pairs = []
    for value in values or []:
        code, _, level = value.partition("=")
        try:
            pairs.append((code.strip().upper(), Severity(level.strip().lower())))
        except ValueError:
            raise typer.BadParameter(f"expected CODE=error|warning|info, got {value!r}", param_hint="--severity") from None
    return tuple(pairs)


@app.command()
def check(
    paths: List[Path] = typer.Argument(..., help="Org files, or folders searched for org files (YAML with `apiVersion: cxrules/v1`)."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Run only these codes or code prefixes (e.g. CX4,CX511)."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Skip these codes or code prefixes."),
    severity: Optional[List[str]] = typer.Option(None, "--severity", help="Override a severity: CODE=error|warning|info."),
    start: Optional[str] = typer.Option(None, "--from", help="First real date the dated checks look at (YYYY-MM-DD; default today)."),
    end: Optional[str] = typer.Option(None, "--to", help="Last real date the dated checks look at (default: twelve months after --from)."),
    format: Format = FORMAT_OPTION,
    output: Optional[Path] = OUTPUT_OPTION,
    color: Optional[bool] = COLOUR_OPTION,
    strict: bool = STRICT_OPTION,
) -> None:
    """Prove the org works: routing gaps and overlaps (in the typical week and on every real date of the horizon:
    public holidays, make-up working days), escalations, hand-offs, duties, staffing.

    Validates first (as `validate` does). Options default to `\\[tool.cxrules]` in the
    nearest pyproject.toml. Exit status: 0 clean, 1 problems found, 2 usage or I/O error.
    """
    try:
        config, _ = load_config(Path.cwd())
    except ConfigError as error:
        typer.echo(f"cxrules: {error}", err=True)
        raise typer.Exit(EXIT_USAGE)
    config = config.merged(_codes(select), _codes(ignore))
    overrides = _severities(severity)
    if overrides:
        config = CheckConfig(config.select, config.ignore, config.severity + overrides)
    config = replace(config, horizon=_horizon(start, end))
    unknown = config.unknown_codes()
    if unknown:
        typer.echo(f"cxrules: no check code starts with `{unknown[0]}`; see docs/codes.md or `cxrules explain CODE`", err=True)
        raise typer.Exit(EXIT_USAGE)
    orgs, side_files, diagnostics = _side_files_validated(paths)
    files, found, _accepted = check_paths(orgs, config) if orgs else ([], [], [])
    diagnostics += found
    _emit(Report(tuple(files) + tuple(side_files), tuple(diagnostics)), format, output, color)
    raise typer.Exit(_exit_code(diagnostics, strict))


def _horizon(start: Optional[str], end: Optional[str]):
    """The dates the dated checks look at: --from (default today) to --to (default twelve months on)."""
    from datetime import date

    try:
        first = date.fromisoformat(start) if start else date.today()
    except ValueError:
        raise typer.BadParameter(f"`{start}` is no date (YYYY-MM-DD)", param_hint="--from") from None
    try:
        last = date.fromisoformat(end) if end else first + timedelta(days=365)
    except ValueError:
        raise typer.BadParameter(f"`{end}` is no date (YYYY-MM-DD)", param_hint="--to") from None
    if last < first or (last - first).days > 3660:
        raise typer.BadParameter("--to must fall after --from, at most ten years on", param_hint="--to")
    return first, last


ROUTE_EPILOG = """\b
TICKET is JSON (UTF-8, at most 1 MB): a regular file, or - for standard input.
  field        type            default     meaning
  id           text            "ticket"    the ticket's id
  category     text, required              a category id of the org
  channel      text, required              a channel id of the org
  segment      text, required              a segment id of the org
  priority     text, required              a priority of the org
  member       true or false   false       the customer is a member
  customer_id  text or null    null        the customer's id
  created      ISO 8601 time   now         arrival (--at wins); without an
                                           offset, in the org's time zone
Texts hold 1-200 characters and no control characters; times fall in the
years 1970-2100; no other fields, none given twice. For example:
  {"id": "T-1001", "category": "complaint", "channel": "phone",
   "segment": "vip", "priority": "high", "member": true,
   "created": "2025-09-30T10:00:00+08:00"}
The timeline runs to the ticket's last deadline (resolution, every
escalation level), at most one year after arrival, and says where and why
it stops. Follow-ups assume resolution at the resolution deadline.
A bad ticket gets every problem as FILE:LINE:COL: error CODE (CX010-CX018)
with a hint, and exit 2; `cxrules explain CX016` says more.
More: docs/route.md
"""


def _read_ticket_bytes(ticket_path: Path, name: str) -> bytes:
    """The ticket file's bytes, read bounded: only a regular file or standard input, at most the size cap (+1 to notice more).

    Raises :class:`~cxrules.engine.explain.TicketError` (CX010, in ``name``) when it cannot be read.
    """
    from .diagnostics import Location
    from .engine.explain import MAX_TICKET_BYTES, TICKET_UNREADABLE, TicketError, ticket_too_large
    from .loading import FileTooLarge, NotRegularFile, named_link_refusal, read_regular

    def unreadable(why: str, hint: str) -> TicketError:
        return TicketError([Diagnostic(TICKET_UNREADABLE, f"cannot read the ticket: {why}", Location(name), hint=hint)])

    if str(ticket_path) == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is not None:
            return stream.read(MAX_TICKET_BYTES + 1)
        return sys.stdin.read(MAX_TICKET_BYTES + 1).encode("utf-8", "surrogateescape")
    refusal = named_link_refusal(ticket_path)  # the rule org files follow: no symlink out of its folder
    if refusal is not None:
        raise unreadable(refusal.message, "name the ticket file itself, or copy it next to the link")
    try:
        return read_regular(ticket_path, MAX_TICKET_BYTES)  # regular files only, read through one bounded descriptor
    except NotRegularFile:
        raise unreadable("not a regular file", "give a JSON file, or - for standard input") from None
    except FileTooLarge:
        raise ticket_too_large(name) from None
    except OSError as error:
        raise unreadable(error.strerror or str(error), "check the path and its permissions; - reads standard input") from None


def _safe_path(path: Path) -> str:
    """A path for a message: characters that cannot be printed (undecodable bytes) escaped."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


@app.command(epilog=ROUTE_EPILOG)
def route(
    org_path: Path = typer.Argument(..., metavar="ORG", help="The org file."),
    ticket_path: Path = typer.Argument(..., metavar="TICKET", help="A ticket as JSON (`-` for standard input); format below."),
    at: Optional[str] = typer.Option(None, "--at", help="When the ticket arrives (ISO 8601, years 1970-2100); default its `created`, else now."),
    format: str = typer.Option("text", "--format", "-f", help="text or json."),
) -> None:
    """Route one ticket and explain the decision: rule, owner, SLA deadlines, escalations, follow-ups.

    Exit status: 0 routed by a rule, 1 sent to the fallback queue, 2 bad org, ticket or usage.
    """
    import dataclasses
    import json
    from typing import NoReturn
    from zoneinfo import ZoneInfo

    from .diagnostics import Location
    from .engine.explain import TicketError, explain_route, parse_ticket, parse_time, read_ticket
    from .validation import validate_path

    if format not in ("text", "json"):
        raise typer.BadParameter("expected text or json", param_hint="--format")
    result = validate_path(org_path)
    if result.org is None:
        _emit(Report(result.files or (str(org_path),), result.diagnostics), Format[format], None, None)
        raise typer.Exit(EXIT_USAGE)
    zone = ZoneInfo(result.org.info.timezone)
    try:
        moment = parse_time(at, zone, "--at") if at is not None else None
    except TicketError as error:
        message = str(error).removeprefix("--at ").removeprefix("--at: ")
        raise typer.BadParameter(f"{message}; {error.hint}" if error.hint else message, param_hint="--at") from None
    name = "<stdin>" if str(ticket_path) == "-" else _safe_path(ticket_path)

    def refuse(error: TicketError) -> NoReturn:
        """The ticket's problems as diagnostics, printed as `validate` prints them (text on stderr, json on stdout); exit 2."""
        here = [d if d.location.file == name else dataclasses.replace(d, location=Location(name, d.location.line, d.location.column))
                for d in error.diagnostics]
        report = Report((name,), tuple(here))
        if format == "json":
            typer.echo(render(report, "json"), nl=False)
        else:
            colour = sys.stderr.isatty() and "NO_COLOR" not in os.environ
            more = f"cxrules: {error.more} more problems in the ticket are not shown\n" if error.more else ""
            typer.echo(render(report, "text", colour) + more, nl=False, err=True)
        raise typer.Exit(EXIT_USAGE)

    try:
        ticket = parse_ticket(result.org, read_ticket(_read_ticket_bytes(ticket_path, name), name))
        report = explain_route(result.org, ticket, moment)
    except TicketError as error:
        refuse(error)
    except (OverflowError, ValueError) as error:  # a deadline past what dates can hold (an org with enormous durations)
        typer.echo(f"cxrules: cannot compute the deadlines of {name}: {error}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if format == "json":
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(render_route(report))
        if report.end is not None:
            typer.echo(f"timeline {report.end.reason}")
    raise typer.Exit(EXIT_PROBLEMS if report.fallback else EXIT_CLEAN)


@app.command()
def simulate(
    paths: List[Path] = typer.Argument(..., metavar="ORG [ORG_B] LOG", help="One org (or two, to compare) and a ticket log (CSV or JSON Lines)."),
    mapping: Path = typer.Option(..., "--mapping", "-m", help="Mapping from the log's columns and values to tickets (YAML)."),
    mapping_b: Optional[Path] = typer.Option(None, "--mapping-b", help="Mapping for ORG_B when it differs from --mapping."),
    mode: Optional[str] = typer.Option(None, "--mode", help="as-is (each ticket's route and work from the log; the default) or what-if "
                                                              "(routes from the org's rules, work drawn from --model; the default with --model)."),
    model: Optional[Path] = typer.Option(None, "--model", help="A model from `cxrules calibrate` for the what-if mode."),
    escalation: Optional[str] = typer.Option(None, "--escalation", help="move (the escalation role takes the ticket and its remaining work; "
                                                                          "what-if default) or notify (as-is default)."),
    backtest: bool = typer.Option(False, "--backtest", help="Put the log's own figures beside the as-is replay's (and the what-if's, with "
                                                             "--model); exit 1 when outside tolerance."),
    arrivals: str = typer.Option("log", "--arrivals", help="log (the log's own tickets) or model (tickets drawn from --model's arrivals "
                                                           "per hour of the week, trend and class mix; what-if only)."),
    days: Optional[int] = typer.Option(None, "--days", min=1, max=3660, help="With --arrivals model: days to draw (default: the log's span)."),
    volume: float = typer.Option(1.0, "--volume", min=0.0, max=100.0, help="With --arrivals model: scale the arrivals, e.g. 1.2 for a "
                                                                          "fifth more tickets."),
    start: Optional[str] = typer.Option(None, "--from", help="Count tickets arriving from this time (ISO 8601; the org's zone if none)."),
    end: Optional[str] = typer.Option(None, "--to", help="Count tickets arriving up to this time."),
    warm_up: Optional[str] = typer.Option(None, "--warm-up", help="Leave the first stretch out of the figures, e.g. `2d`: queues fill up first."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the random draws (default: the mapping's)."),
    format: str = typer.Option("table", "--format", "-f", help="table, json or csv (queue length per role and hour)."),
    output: Optional[Path] = OUTPUT_OPTION,
    strict: bool = typer.Option(False, "--strict", help="Stop with exit 1 if any row of the log cannot be mapped."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Progress bar (default: on a terminal, off in CI)."),
) -> None:
    """Replay a ticket log against an org, or two side by side: agents work each ticket's work in their shifts.

    Figures: SLA attainment, resolution times, waits per role, utilisation, moves, escalations,
    follow-ups, and tickets still open at the end. A customer id on a large share of the tickets,
    which the org's patterns across a customer's tickets take as one customer's, is noted on
    standard error. Exit status: 0 replayed, 1 rows unmapped with --strict or a back-test
    outside tolerance, 2 bad org, mapping, model, log or usage.
    """
    import json

    from .model import parse_duration
    from .simulation import backtest as run_backtest, simulate as replay
    from .simulation.replay import ESCALATIONS, MODES
    from .reporting import render_backtest, render_simulation, render_simulation_csv

    if format not in ("table", "json", "csv"):
        raise typer.BadParameter("expected table, json or csv", param_hint="--format")
    mode = mode or ("what-if" if model else "as-is")
    if mode not in MODES:
        raise typer.BadParameter(f"expected {' or '.join(MODES)}", param_hint="--mode")
    if escalation is not None and escalation not in ESCALATIONS:
        raise typer.BadParameter(f"expected {' or '.join(ESCALATIONS)}", param_hint="--escalation")
    if len(paths) not in (2, 3) or (backtest and len(paths) != 2):
        raise typer.BadParameter("give ORG LOG, or ORG ORG_B LOG (a back-test takes one org)", param_hint="ORG [ORG_B] LOG")
    if arrivals not in ("log", "model"):
        raise typer.BadParameter("expected log or model", param_hint="--arrivals")
    if arrivals == "model" and (model is None or mode != "what-if" or backtest):
        raise typer.BadParameter("drawn arrivals need --model and the what-if mode, and are no back-test", param_hint="--arrivals")
    try:
        warm = parse_duration(warm_up) if warm_up else timedelta(0)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--warm-up") from None
    *org_paths, log = paths
    if not log.is_file():
        typer.echo(f"cxrules: cannot read the log {log}", err=True)
        raise typer.Exit(EXIT_USAGE)
    show = progress if progress is not None else (sys.stderr.isatty() and not os.environ.get("CI"))
    results = []
    for index, org_path in enumerate(org_paths):
        org, loaded, records, unmapped = _log_or_exit(org_path, mapping_b if index and mapping_b else mapping, log)
        if strict and unmapped.total:
            typer.echo(f"cxrules: {unmapped.total} rows of {log} cannot be mapped: {_unmapped_counts(unmapped)}", err=True)
            raise typer.Exit(EXIT_PROBLEMS)
        calibrated = _model_or_exit(model, org)
        window = (_moment_option(start, "--from", org), _moment_option(end, "--to", org))
        if window[0] and window[1] and window[1] <= window[0]:
            raise typer.BadParameter("--to must come after --from", param_hint="--to")
        if arrivals == "log":  # drawn arrivals name no customer
            _note_crowded_customers(org, records, loaded, log)
        if backtest:
            verdict = _with_progress(show, f"back-testing {org.info.id}", lambda report: run_backtest(
                org, records, loaded, unmapped, model=calibrated, window=window, warm_up=warm, seed=seed, progress=report))
            _write(output, json.dumps(verdict.to_dict(), ensure_ascii=False, indent=2) + "\n" if format == "json" else render_backtest(verdict))
            raise typer.Exit(EXIT_CLEAN if verdict.passed else EXIT_PROBLEMS)
        if arrivals == "model":
            records = _drawn_arrivals(calibrated, records, window[0], days, volume, loaded.seed if seed is None else seed)
        results.append(_with_progress(show, f"replaying against {org.info.id}", lambda report: replay(
            org, records, loaded, unmapped, progress=report, mode=mode, model=calibrated, escalation=escalation, window=window,
            warm_up=warm, seed=seed)))
    text = {"json": lambda: json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2) + "\n",
            "csv": lambda: render_simulation_csv(results), "table": lambda: render_simulation(results)}[format]()
    _write(output, text)


def _drawn_arrivals(model, records, start, days: Optional[int], volume: float, seed: int):
    """Tickets drawn from the model's arrivals over the log's span (or ``days`` from ``start``, default the log's first day)."""
    import random

    from .simulation.calibration import generate_arrivals

    first = start or (records[0].created if records else datetime.combine(model.arrivals.start, datetime.min.time()).astimezone())
    span = days or max(1, (model.arrivals.end - model.arrivals.start).days + 1)
    return generate_arrivals(model, first, span, random.Random(seed), volume)


def _moment_option(text: Optional[str], option: str, org):
    """An ISO 8601 time given on the command line; without an offset, in the org's time zone."""
    if text is None:
        return None
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"`{text}` is no ISO 8601 time, e.g. 2016-03-01 or 2016-03-01T08:00", param_hint=option) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(org.info.timezone))


@app.command()
def staff(
    org_path: Path = typer.Argument(..., metavar="ORG", help="The org file."),
    log: Path = typer.Argument(..., metavar="LOG", help="A ticket log (CSV or JSON Lines)."),
    mapping: Path = typer.Option(..., "--mapping", "-m", help="Mapping from the log's columns and values to tickets (YAML)."),
    target: str = typer.Option(..., "--target", help="Service level to reach: `80% in 30m` (share of a role's tickets an agent takes within that time)."),
    model: Optional[Path] = typer.Option(None, "--model", help="A model from `cxrules calibrate` for the what-if mode."),
    mode: str = typer.Option("as-is", "--mode", help="as-is (each ticket's work from the log) or what-if."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Replays at once (default: one per core); the advice does not depend on it."),
    patch: Optional[Path] = typer.Option(None, "--patch", help="Write the change to the staff groups here as a unified diff (`patch -p0`)."),
    format: str = typer.Option("table", "--format", "-f", help="table (the patch follows it unless --patch) or json."),
) -> None:
    """Advise agents per role and staff group to reach a service level: Erlang C per hour of the week, confirmed by replaying the log.

    Exit status: 0 the advice reaches the target in the simulation, 1 some role still misses it, 2 bad org, mapping, log or usage.
    """
    import json

    from .simulation.replay import MODES
    from .simulation.staffing import InputError, advise, parse_target, render_advice

    if format not in ("table", "json"):
        raise typer.BadParameter("expected table or json", param_hint="--format")
    if mode not in MODES:
        raise typer.BadParameter(f"expected {' or '.join(MODES)}", param_hint="--mode")
    try:
        wanted = parse_target(target)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--target") from None
    try:
        advice = advise(org_path, log, mapping, wanted, model_path=model, mode=mode, jobs=jobs)
    except InputError as error:
        if error.diagnostics:
            _emit(Report(error.files, error.diagnostics), Format["text"], None, None)
        else:
            typer.echo(f"cxrules: {error}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if patch is not None:
        _write(patch, advice.patch)
    _write(None, json.dumps(advice.to_dict(), ensure_ascii=False, indent=2) + "\n" if format == "json"
           else render_advice(advice, with_patch=patch is None))
    if advice.missing:
        rounds = f"{advice.rounds} round{'s' * (advice.rounds != 1)}"
        typer.echo(f"cxrules: {', '.join(advice.missing)} still miss {wanted} after {rounds}", err=True)
    raise typer.Exit(EXIT_PROBLEMS if advice.missing else EXIT_CLEAN)


def _log_or_exit(org_path: Path, mapping: Path, log: Path):
    """The validated org, the mapping loaded for it, the log's records and its unmapped rows; or the problem and exit 2."""
    from .simulation import LogError, load_mapping, read_log

    org = _org_or_exit(org_path)
    loaded, problems = load_mapping(mapping, org)
    if loaded is None:
        _emit(Report((str(mapping),), tuple(problems)), Format["text"], None, None)
        raise typer.Exit(EXIT_USAGE)
    try:
        records, unmapped = read_log(log, loaded)
    except (LogError, OSError) as error:
        typer.echo(f"cxrules: {error}", err=True)
        raise typer.Exit(EXIT_USAGE)
    return org, loaded, records, unmapped


def _model_or_exit(path: Optional[Path], org):
    """The simulation model at ``path`` checked against ``org`` (None without a path); or its problems and exit 2."""
    if path is None:
        return None
    from .simulation import load_model

    model, problems = load_model(path, org)
    if model is None:
        _emit(Report((str(path),), tuple(problems)), Format["text"], None, None)
        raise typer.Exit(EXIT_USAGE)
    return model


def _note_crowded_customers(org, records, mapping, log: Path) -> None:
    """Tell on standard error of each customer id holding a large share of the log, which the org's patterns across a
    customer's tickets take as one customer's (see :mod:`.simulation.customers`); a note, not a problem: the exit status
    stays."""
    from .engine.eventcheck import quoted
    from .simulation import crowded_customers

    for crowded in crowded_customers(org, records, mapping):
        typer.echo(f"cxrules: note: customer {quoted(crowded.customer_id)} is named by {crowded.tickets:,} ({crowded.share:.0%}) of "
                   f"the {crowded.named:,} tickets of {log} that name a customer and are of a class org `{org.info.id}`'s patterns "
                   f"across a customer's tickets look at ({', '.join(f'`{pattern}`' for pattern in crowded.patterns)}), which take "
                   f"them all as one customer's tickets. If the id stands for no one customer (`unknown`, a placeholder), "
                   f"{crowded.fix}.", err=True)


def _unmapped_counts(unmapped) -> str:
    """`3 × reason; 1 × other reason`: a log's rows that could not be mapped, by reason."""
    return "; ".join(f"{n} × {reason}" for reason, n in unmapped.reasons.items())


@app.command()
def calibrate(
    org_path: Path = typer.Argument(..., metavar="ORG", help="The org file."),
    log: Path = typer.Argument(..., metavar="LOG", help="A ticket log (CSV or JSON Lines): one row per ticket, or an event log."),
    mapping: Path = typer.Option(..., "--mapping", "-m", help="Mapping from the log's columns and values to tickets (YAML)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the model to this file instead of standard output."),
    min_samples: Optional[int] = typer.Option(None, "--min-samples", min=1,
                                              help="Stints a role, category and priority need for a work-time cell of their own "
                                                   "(default 20); fewer draw from a coarser cell."),
) -> None:
    """Measure a simulation model from a log for what-if runs: arrivals, work times, reassignments, pauses, reopenings (YAML to edit).

    Exit status: 0 written, 2 bad org, mapping, log or usage.
    """
    from .simulation.calibration import MIN_SAMPLES, calibrate as measure, model_to_yaml

    org, _, records, unmapped = _log_or_exit(org_path, mapping, log)
    if unmapped.total:
        typer.echo(f"cxrules: {unmapped.total} rows of {log} cannot be mapped and are left out: {_unmapped_counts(unmapped)}", err=True)
    try:
        model = measure(org, records, min_samples=min_samples or MIN_SAMPLES)
    except ValueError as error:  # nothing left to measure
        typer.echo(f"cxrules: {error} in {log}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if not model.handling.cells:
        typer.echo(f"cxrules: warning: no ticket of {log} was resolved, so the model has no work times; add a cell under "
                   "`handling.cells` before simulating with it", err=True)
    _write(output, model_to_yaml(model))


def _with_progress(show: bool, label: str, run):
    """Run ``run(report)`` with a progress bar (rate and ETA) on the terminal, or silently."""
    if not show:
        return run(None)
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rate]:.0f} tickets/s"), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=None, rate=0.0)

        def report(done: int, total: int) -> None:
            elapsed = bar.tasks[0].elapsed or 1e-9
            bar.update(task, completed=done, total=total, rate=done / elapsed)

        return run(report)


def _org_or_exit(path: Path):
    """The validated org, or the validation report and exit 2."""
    from .validation import validate_path

    result = validate_path(path)
    if result.org is None:
        _emit(Report(result.files or (str(path),), result.diagnostics), Format["text"], None, None)
        raise typer.Exit(EXIT_USAGE)
    return result.org


def _write(output: Optional[Path], content: str | bytes) -> None:
    if output is None:
        if isinstance(content, bytes):
            sys.stdout.buffer.write(content)
        else:
            typer.echo(content, nl=False)
        return
    try:
        if isinstance(content, bytes):
            output.write_bytes(content)
        else:
            output.write_text(content, encoding="utf-8")
    except OSError as error:
        typer.echo(f"cxrules: cannot write {output}: {error.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE)


@app.command()
def graph(
    org_path: Path = typer.Argument(..., metavar="ORG", help="The org file."),
    view: str = typer.Option("org", "--view", help="org (chart), routing, escalation or handoffs."),
    format: str = typer.Option("mermaid", "--format", "-f", help="mermaid, dot, svg or png (svg/png need Graphviz)."),
    findings: bool = typer.Option(False, "--findings", help="Draw the findings of `check` in (gaps red, overlaps orange)."),
    output: Optional[Path] = OUTPUT_OPTION,
) -> None:
    """Draw the org chart, the routing map, the escalation paths or the hand-offs."""
    from .rendering.graphs import VIEWS, build, cjk_font_warning, render_image, to_dot, to_mermaid

    if view not in VIEWS:
        raise typer.BadParameter(f"expected one of {', '.join(VIEWS)}", param_hint="--view")
    if format not in ("mermaid", "dot", "svg", "png"):
        raise typer.BadParameter("expected mermaid, dot, svg or png", param_hint="--format")
    org = _org_or_exit(org_path)
    picture = build(org, view, check_org(org) if findings else ())
    if format == "mermaid":
        _write(output, to_mermaid(picture))
        return
    dot = to_dot(picture)
    try:
        content = dot if format == "dot" else render_image(dot, format)
    except RuntimeError as error:  # GraphvizMissing, or dot itself failed
        typer.echo(f"cxrules: {error}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if format == "png":
        warning = cjk_font_warning(dot)
        if warning:
            typer.echo(f"cxrules: warning: {warning}", err=True)
    _write(output, content)


@app.command()
def report(
    org_path: Path = typer.Argument(..., metavar="ORG", help="The org file."),
    tickets: Optional[Path] = typer.Option(None, "--tickets", help="A ticket log: the back-test, the simulation's charts, the staffing curve."),
    mapping: Optional[Path] = typer.Option(None, "--mapping", "-m", help="Mapping of the ticket log (needed with --tickets)."),
    model: Optional[Path] = typer.Option(None, "--model", help="A model from `cxrules calibrate`: the what-if replay beside the as-is one."),
    target: str = typer.Option("80% in 30m", "--target", help="Service level the staffing curve asks Erlang C for, e.g. `90% in 1h`."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="Where to write the HTML file."),
    pdf: Optional[Path] = typer.Option(None, "--pdf", help="Also print the report to this PDF (A4), with headless Chromium."),
) -> None:
    """Write one self-contained HTML report: org chart, RACI, coverage, staffing, SLAs, escalation, follow-ups, surges, workflows,
    findings, and with a log the back-test; `--pdf` prints it too."""
    from .rendering.pdf import html_to_pdf
    from .rendering.report import build_report
    from .simulation import backtest
    from .simulation.staffing import parse_target

    try:
        wanted = parse_target(target)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--target") from None
    if tickets is None:
        if mapping is not None or model is not None:
            raise typer.BadParameter("a mapping or a model goes with a ticket log", param_hint="--tickets")
        org, verdict = _org_or_exit(org_path), None
    else:
        if mapping is None:
            raise typer.BadParameter("give the log's mapping too", param_hint="--mapping")
        org, loaded, records, unmapped = _log_or_exit(org_path, mapping, tickets)
        calibrated = _model_or_exit(model, org)
        _note_crowded_customers(org, records, loaded, tickets)
        verdict = _with_progress(sys.stderr.isatty(), f"back-testing {org.info.id}", lambda progress: backtest(
            org, records, loaded, unmapped, model=calibrated, progress=progress))
    _write(output, build_report(org, check_org(org), verdict, wanted))
    typer.echo(f"wrote {output}", err=True)
    if pdf is not None:
        try:
            html_to_pdf(output, pdf)
        except RuntimeError as error:  # no Chromium, or it printed nothing
            typer.echo(f"cxrules: {error}", err=True)
            raise typer.Exit(EXIT_USAGE)
        typer.echo(f"wrote {pdf}", err=True)


@app.command()
def diff(
    old_path: Path = typer.Argument(..., metavar="OLD", help="The org as it was."),
    new_path: Path = typer.Argument(..., metavar="NEW", help="The org as it is proposed."),
    format: str = typer.Option("text", "--format", "-f", help="text, markdown (for a pull request) or json."),
    output: Optional[Path] = OUTPUT_OPTION,
) -> None:
    """What changed between two versions of an org: roles, duties, routing owners, SLAs, escalations, findings.

    Exit status: 0 no changes, 1 changes, 2 usage or invalid org.
    """
    import json

    from .diff import diff_orgs, render_markdown, render_text

    if format not in ("text", "markdown", "json"):
        raise typer.BadParameter("expected text, markdown or json", param_hint="--format")
    result = diff_orgs(_org_or_exit(old_path), _org_or_exit(new_path))
    text = {"text": render_text, "markdown": render_markdown,
            "json": lambda r: json.dumps(r.to_dict(), ensure_ascii=False, indent=2) + "\n"}[format](result)
    _write(output, text)
    raise typer.Exit(EXIT_PROBLEMS if result.changes else EXIT_CLEAN)


@app.command()
def init(
    output: Path = typer.Argument(Path("org.yaml"), help="The org file to create."),
    template: str = typer.Option("blank", "--template", "-t", help="blank, automotive, logistics or aftersales."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Start a new org file from a template that validates and checks clean."""
    from .templates import TEMPLATES, write_template

    if template not in TEMPLATES:
        raise typer.BadParameter(f"expected one of {', '.join(TEMPLATES)}", param_hint="--template")
    try:
        if output.exists() and not force:
            typer.echo(f"cxrules: {output} exists; use --force to overwrite", err=True)
            raise typer.Exit(EXIT_USAGE)
        written = write_template(template, output)
    except OSError as error:
        typer.echo(f"cxrules: cannot write {output}: {error.strerror or error}", err=True)
        raise typer.Exit(EXIT_USAGE)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(f"next: cxrules check {output}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of org files (for editors and other tools)."""
    typer.echo(schema_text(), nl=False)


@app.command()
def explain(code: str = typer.Argument(..., help="A diagnostic code such as CX201.")) -> None:
    """Explain what a diagnostic code means and how to fix it."""
    info = lookup(code)
    if info is None:
        typer.echo(f"cxrules: unknown code `{code}`; codes look like CX201", err=True)
        raise typer.Exit(EXIT_USAGE)
    typer.echo(f"{info.code} {info.name} ({info.severity.value})\n\n{info.summary}\n\n{info.doc}\n")


def main() -> None:
    """Console entry point. An exception no command expects is a bug in cxrules: it is told in one line, with exit 2, and
    its traceback goes to a file for the bug report instead of the terminal. (A reader that stops reading, `| head`, is
    no bug: Click ends the output quietly before this.)"""
    try:
        app()
    except Exception as error:  # noqa: BLE001 - the last guard: whatever escaped is a bug, reported as one
        first_line = (str(error).splitlines() or [""])[0][:300]
        typer.echo(f"cxrules: internal error, a bug in cxrules: {type(error).__name__}: {first_line}", err=True)
        try:
            details = f"the details are in {_crash_report(error)}"
        except Exception as failure:  # noqa: BLE001 - the report of a bug must not fail in turn
            details = f"its details could not be written ({type(failure).__name__}: {failure})"
        typer.echo(f"cxrules: please report it with the command you ran; {details}", err=True)
        raise SystemExit(EXIT_USAGE) from None


def _crash_report(error: Exception) -> str:
    """Write the traceback, the version and the command line to a new file in the temporary folder; its path."""
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="cxrules-crash-", suffix=".txt", delete=False, encoding="utf-8",
                                     errors="backslashreplace") as report:  # a command line may hold bytes of no encoding
        report.write(f"cxrules {__version__}, Python {sys.version.split()[0]}\ncommand: {' '.join(sys.argv)}\n\n")
        report.write("".join(traceback.format_exception(error)))
    return report.name
