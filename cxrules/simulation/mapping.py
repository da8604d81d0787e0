"""Ticket-log mappings: from a foreign log's columns and values to cxrules tickets.

A mapping is YAML validated by `schemas/mapping.schema.json` (same diagnostics, with
positions, as org files) and then checked against the org: every value it maps to must be
an id of that org. Reading a log never stops at a bad row: each row either becomes a
:class:`TicketRecord` or is counted under the reason it could not be mapped, with examples.

A mapping that maps `updated` reads an event log (one row per update of a ticket); the
tickets' histories are built in :mod:`.eventlog`. This module reads the rows of both kinds.
The log's text is decoded strictly: a byte that is not of the mapping's encoding stops the
read with the place and a likely encoding (:class:`LogError`), it is never replaced.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import random
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Final, Iterator, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mypy_extensions import mypyc_attr

from ..calendars import UTC, wall_instant
from ..diagnostics import Diagnostic
from ..loading import MAPPING_KIND, file_kind, load_file, open_regular_binary
from ..model import MAX_DURATION, Org, duration_problem, parse_duration
from ..performance import paused_gc
from ..schema import closest, validate_against
from ..engine.events import FIRST_YEAR, LAST_YEAR
from .history import LIFECYCLE, TicketRecord

__all__ = ["LogMapping", "LogError", "TicketRecord", "Unmapped", "load_mapping", "validate_mapping", "is_mapping_file", "read_log"]

TIME_FIELDS: Final = ("created", "first_response", "resolved", "closed")
EVENT_ONLY_FIELDS: Final = ("state", "role", "assignee", "order")
"""Fields that describe the rows of an event log: they need `updated`."""


@mypyc_attr(native_class=False)  # pickled to `staff --jobs` workers
@dataclass
class Unmapped:
    """Rows that could not be mapped, by reason, with up to five examples each.

    In an event log a row is left out alone when it cannot be placed in its ticket's
    history (no time); a ticket whose history would be wrong is left out whole, counted once
    under a reason that starts with `ticket:`.
    """

    reasons: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, example: str) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        samples = self.examples.setdefault(reason, [])
        if len(samples) < 5:
            samples.append(example)

    @property
    def total(self) -> int:
        return sum(self.reasons.values())


@mypyc_attr(native_class=False)  # pickled to `staff --jobs` workers
@dataclass(frozen=True)
class LogMapping:
    """A validated mapping (see the module docstring)."""

    fields: dict
    path: str
    format: Optional[str] = None
    encoding: str = "utf-8-sig"
    null_values: frozenset[str] = frozenset({""})
    """Cell texts read as empty in every column (the empty cell always is)."""
    delimiter: str = ","
    timezone: str = "UTC"
    time_formats: tuple[str, ...] = ("iso",)
    satisfied_at_least: float = 3.0
    service_default: tuple[timedelta, str] = (timedelta(hours=1), "fixed")
    service_by_category: dict = field(default_factory=dict)
    seed: int = 0
    known: dict = field(default_factory=dict)
    """The org's ids per field (category, channel, segment, priority, role): other values are unmapped rows."""

    @property
    def is_event_log(self) -> bool:
        """Whether the log has a row per update of a ticket (it maps `updated`) rather than a row per ticket."""
        return "updated" in self.fields

    def service_time(self, category: str, rng: random.Random) -> timedelta:
        """A handling time drawn from the model for ``category``. An exponential one is ``rng.expovariate``'s draw, worked out
        as CPython works it (``-log(1 - random()) / rate``, the same float): compiled, the method is a frame of interpreted
        Python; and the seconds are given by position, not by name (a what-if replay's draws: a quarter fewer instructions)."""
        mean, distribution = self.service_by_category.get(category, self.service_default)
        if distribution == "exponential":
            rate = 1 / max(mean.total_seconds(), 1)
            return timedelta(0, -math.log(1.0 - rng.random()) / rate)
        return mean


_ORG_KINDS: Final = {"category": "categories", "channel": "channels", "segment": "segments", "priority": "priorities", "role": "roles"}



def is_mapping_file(path: str | Path) -> bool:
    """Whether ``path`` is a regular file that declares `kind: TicketLogMapping` (anything unreadable is not, so the org reader reports it)."""
    try:
        return file_kind(path) == MAPPING_KIND
    except OSError:
        return False


def validate_mapping(path: str | Path) -> list[Diagnostic]:
    """Check a mapping file on its own (YAML, schema, time zone): what `cxrules validate` reports for it.

    The ids it maps values to are checked against an org when the mapping is used (`simulate`, `report`).
    """
    document, problems = load_file(path)
    if document is None:
        return problems
    return problems + _check_document(document, None)


def _check_document(document, default_zone: Optional[str]) -> list[Diagnostic]:
    """Schema problems, then (on a well-formed mapping) an unknown time zone."""
    problems = validate_against(document, "mapping.schema.json")
    if problems:
        return problems
    data = document.data
    zone = data.get("timezone", default_zone)
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(Diagnostic("CX303", f"unknown time zone `{zone}`", document.location(("timezone",))))
    if "encoding" in data:
        try:
            codecs.lookup(data["encoding"])
        except LookupError:
            problems.append(Diagnostic("CX113", f"unknown text encoding `{data['encoding']}`", document.location(("encoding",)),
                                       hint="a Python codec name such as `utf-8-sig`, `gb18030` or `utf-16`"))
    problems += _event_log_problems(document)
    service = data.get("service_time", {})
    means: list[tuple[tuple, str]] = [(("service_time", "default", "mean"), service["default"]["mean"])] if "default" in service else []
    means += [(("service_time", "by_category", category, "mean"), spec["mean"]) for category, spec in service.get("by_category", {}).items()]
    for where, text in means:
        if (problem := duration_problem(text)) is not None:
            problems.append(Diagnostic("CX311", f"service time {problem}", document.location(where),
                                       hint=f"a handling time is at most {MAX_DURATION.days} days"))
    return problems


def _targets(spec: dict, name: str) -> Iterator[tuple[tuple, Any]]:
    """Where a field's spec names a value it maps to (its constant, translations and default), with that value."""
    if "value" in spec:
        yield ("fields", name, "value"), spec["value"]
    for raw, value in (spec.get("values") or {}).items():
        yield ("fields", name, "values", raw), value
    if "default" in spec:
        yield ("fields", name, "default"), spec["default"]


def _event_log_problems(document) -> list[Diagnostic]:
    """An event log needs ids, states and roles; states map to the lifecycle; row-level fields need `updated`."""
    fields = document.data["fields"]
    problems = []
    if "updated" in fields:
        needs = {"id": "map the ticket-id column: the rows of one ticket are grouped by it",
                 "state": "map the column of each row's state, with `values` from the log's states to "
                          f"{', '.join(LIFECYCLE)}",
                 "role": "map the column of the group that has the ticket, or give a constant such as `role: {value: desk}`"}
        problems += [Diagnostic("CX111", f"an event log (`updated` is mapped) needs `{name}`", document.location(("fields",), key=True), hint=hint)
                     for name, hint in needs.items() if name not in fields]
    else:
        problems += [Diagnostic("CX111", f"`{name}` describes the rows of an event log, but `updated` (the time of each row) is not mapped",
                                document.location(("fields", name), key=True), hint=f"map `updated`, or remove `{name}` for a log of one row per ticket")
                     for name in EVENT_ONLY_FIELDS if name in fields]
    for where, value in _targets(fields.get("state", {}), "state"):
        if value not in LIFECYCLE:
            suggestion = closest(str(value), LIFECYCLE)
            problems.append(Diagnostic("CX113", f"the mapping sends state values to `{value}`, which is not a lifecycle state",
                                       document.location(where), hint=f"did you mean `{suggestion}`?" if suggestion
                                       else f"lifecycle states: {', '.join(LIFECYCLE)}"))
    return problems


def load_mapping(path: str | Path, org: Org) -> tuple[Optional[LogMapping], list[Diagnostic]]:
    """Load and check a mapping for ``org``; diagnostics point into the mapping file."""
    document, problems = load_file(path)
    if document is None:
        return None, problems
    problems += _check_document(document, org.info.timezone)
    if problems:
        return None, problems
    data = document.data
    known = {"categories": [c.id for c in org.categories], "channels": [c.id for c in org.channels],
             "segments": [s.id for s in org.segments], "priorities": list(org.info.priorities), "roles": [r.id for r in org.roles]}
    for name, kind in _ORG_KINDS.items():
        spec = data["fields"].get(name)
        if spec is None or not known[kind]:
            continue
        for where, value in _targets(spec, name):
            if value not in known[kind]:
                suggestion = closest(str(value), known[kind])
                problems.append(Diagnostic("CX201", f"the mapping sends {name} values to `{value}`, which org `{org.info.id}` does not have",
                                           document.location(where), hint=f"did you mean `{suggestion}`?" if suggestion
                                           else f"known: {', '.join(known[kind][:10])}"))
    if known["segments"] and "segment" not in data["fields"]:
        problems.append(Diagnostic("CX111", f"org `{org.info.id}` has customer segments but the mapping gives none",
                                   document.location(("fields",), key=True),
                                   hint=f"map a column, or give a constant such as `segment: {{value: {known['segments'][-1]}}}`"))
    zone = data.get("timezone", org.info.timezone)
    service = data.get("service_time", {})
    if problems:
        return None, problems
    model = lambda spec: (parse_duration(spec["mean"]), spec.get("distribution", "fixed"))  # noqa: E731
    return LogMapping(
        fields=data["fields"], path=str(path), format=data.get("format"), encoding=data.get("encoding", "utf-8-sig"),
        null_values=frozenset(data.get("null_values", [])) | {""},
        delimiter=data.get("delimiter", ","), timezone=zone, time_formats=tuple(data.get("time_formats", ["iso"])),
        satisfied_at_least=float(data.get("satisfied_at_least", 3)),
        service_default=model(service["default"]) if "default" in service else (timedelta(hours=1), "fixed"),
        service_by_category={k: model(v) for k, v in service.get("by_category", {}).items()}, seed=data.get("seed", 0),
        known={name: frozenset(known[kind]) for name, kind in _ORG_KINDS.items() if known[kind]},
    ), []


@mypyc_attr(native_class=False)  # compiled classes cannot extend ValueError
class LogError(ValueError):
    """The log as a whole cannot be read with this mapping (e.g. a mapped column is not in its header, or a byte is not of its encoding)."""


@mypyc_attr(native_class=False)  # compiled classes cannot extend Exception
class RowError(Exception):
    """Why one row (or, in an event log, one ticket) cannot be mapped; the message is the reason it is counted under."""


def log_rows(path: Path, mapping: LogMapping, unmapped: Unmapped) -> Iterator[tuple[int, dict]]:
    """The log's rows as dicts, with their row numbers (the line of a JSON Lines log; the header is row 1 of a CSV log)."""
    kind = mapping.format or ("jsonl" if path.suffix in (".jsonl", ".ndjson") else "csv")
    with open_regular_binary(path) as raw:
        _refuse_wide_text(path, mapping, raw.peek(4096)[:4096])
        with io.TextIOWrapper(raw, encoding=mapping.encoding, errors="strict", newline="") as stream:
            try:
                yield from (_csv_rows(path, mapping, stream) if kind == "csv" else _json_rows(stream, unmapped))
            except UnicodeDecodeError:
                raise _decoding_error(path, mapping) from None
            except csv.Error as error:  # a field longer than the csv module takes, a NUL in a quoted field…
                raise LogError(f"{path}: cannot read it as CSV: {error}") from None


def _csv_rows(path: Path, mapping: LogMapping, stream: io.TextIOWrapper) -> Iterator[tuple[int, dict]]:
    """Each row as :class:`csv.DictReader` gives it (blank rows skipped, missing cells None, extra ones in a list under
    None), numbered as it numbers them, but built here: its ``__next__`` is interpreted, a sixth of reading a flat log."""
    reader = csv.reader(stream, delimiter=mapping.delimiter)
    header: list[str] = next(reader, [])
    if not header:
        raise LogError(f"{path}: the log is empty: a CSV log starts with a header row naming its columns")
    missing = [spec["column"] for spec in mapping.fields.values() if "column" in spec and spec["column"] not in header]
    if missing:
        suggestion = closest(missing[0], header)
        raise LogError(f"{path}: column `{missing[0]}` named in {mapping.path} is not in the log's header"
                       + (f"; did you mean `{suggestion}`?" if suggestion else f"; columns: {', '.join(header[:12])}"))
    width, number = len(header), 1
    for row in reader:
        if not row:
            continue
        number += 1
        values: dict[Optional[str], Any] = dict(zip(header, row))
        if len(row) > width:
            values[None] = row[width:]
        else:
            for name in header[len(row):]:
                values[name] = None
        yield number, values


def _json_rows(stream: io.TextIOWrapper, unmapped: Unmapped) -> Iterator[tuple[int, dict]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            unmapped.add("line is not JSON", f"line {number}: {error.msg}")
            continue
        if not isinstance(row, dict):
            unmapped.add("line is not a JSON object", f"line {number}")
            continue
        yield number, row


_WIDE_BOMS: Final = ((codecs.BOM_UTF32_LE, "UTF-32 (little-endian)", "utf-32"), (codecs.BOM_UTF32_BE, "UTF-32 (big-endian)", "utf-32"),
              (codecs.BOM_UTF16_LE, "UTF-16 (little-endian)", "utf-16"), (codecs.BOM_UTF16_BE, "UTF-16 (big-endian)", "utf-16"))


def _wide_text(head: bytes) -> Optional[tuple[str, str]]:
    """What UTF-16/32 the start of a file is written in, and the encoding to set; None for any other text.

    A byte-order mark says so; without one, ASCII text in UTF-16 has a NUL in every other byte.
    Such a file read as UTF-8 would not fail but give text full of NULs, so it is told up front.
    """
    for bom, name, encoding in _WIDE_BOMS:
        if head.startswith(bom):
            return name, encoding
    even, odd = head[0::2], head[1::2]
    if len(odd) >= 2:
        for nuls, others, endian in ((odd, even, "little"), (even, odd, "big")):
            if nuls.count(0) > len(nuls) / 2 and others.count(0) < len(others) / 10:
                return f"UTF-16 ({endian}-endian, no byte-order mark)", f"utf-16-{endian[0]}e"
    return None


def _refuse_wide_text(path: Path, mapping: LogMapping, head: bytes) -> None:
    found = _wide_text(head)
    if found is None:
        return
    name, encoding = found
    if codecs.lookup(mapping.encoding).name.startswith(encoding[:6]):
        return  # the mapping already reads it as UTF-16 (or UTF-32)
    raise LogError(f"{path}: the file is {name}, but {mapping.path} reads it as `{mapping.encoding}`; "
                   f"set `encoding: {encoding}` in the mapping")


_HINT_ENCODINGS: Final = ("gb18030", "cp1252")
"""Encodings suggested, in this order, for a log that is not in the mapping's: the usual exports of Chinese and Western Windows."""


def _decoding_error(path: Path, mapping: LogMapping) -> LogError:
    """Where the log stops being text of the mapping's encoding, the bytes there, and an encoding they do read in."""
    found = _first_undecodable(path, mapping.encoding)
    if found is None:  # the file changed under us; say what we can
        return LogError(f"{path}: the log is not `{mapping.encoding}` text; set `encoding:` in {mapping.path} to the file's encoding")
    offset, line, bad = found
    with open_regular_binary(path) as raw:
        head = raw.read(4096)
        raw.seek(max(0, offset - 4096))
        around = raw.read(8192)
        cut_off = offset + len(bad) == raw.seek(0, io.SEEK_END)
    samples = [_whole_lines(head, None), _whole_lines(around, min(offset, 4096))]
    fits = next((name for name in _HINT_ENCODINGS if codecs.lookup(name).name != codecs.lookup(mapping.encoding).name
                 and all(_decodes(sample, name) for sample in samples)), None)
    hint = ("the file ends inside a character: was it cut off while being copied?" if cut_off
            else f"the bytes read as {fits}: set `encoding: {fits}` in {mapping.path}" if fits
            else f"save the log as UTF-8, or set `encoding:` in {mapping.path} to the file's encoding")
    return LogError(f"{path}: line {line}, byte offset {offset}: byte(s) {bad.hex(' ')} are not `{mapping.encoding}` text; {hint}")


def _whole_lines(data: bytes, inside: Optional[int]) -> bytes:
    """``data`` cut to whole lines (around position ``inside``), so that no character is cut in two."""
    start = data.rfind(b"\n", 0, inside) + 1 if inside is not None else 0
    end = data.rfind(b"\n")
    return data[start:end] if end > (inside or 0) else data[start:]


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _first_undecodable(path: Path, encoding: str) -> Optional[tuple[int, int, bytes]]:
    """The byte offset, line and bytes of the first place ``path`` does not decode in ``encoding``; None if it all does.

    Decodes in chunks, and byte by byte only within the chunk that fails, to find the offset
    exactly whatever the encoding (a UTF-8 BOM, a UTF-16 surrogate, a cut-off last character).
    """
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    lines, offset = 1, 0
    with open_regular_binary(path) as raw:
        while chunk := raw.read(1 << 16):
            state = decoder.getstate()
            try:
                lines += decoder.decode(chunk).count("\n")
            except UnicodeDecodeError:
                decoder.setstate(state)
                for index in range(len(chunk)):
                    try:
                        lines += decoder.decode(chunk[index:index + 1]).count("\n")
                    except UnicodeDecodeError as error:
                        return offset + index + 1 - len(error.object) + error.start, lines, error.object[error.start:error.end]
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        return offset - len(error.object) + error.start, lines, error.object[error.start:error.end]
    return None


def field_reader(name: str, spec: Optional[dict], nulls: frozenset[str], *, default_when_empty: bool = True) -> Callable[[dict], Any]:
    """How to read field ``name`` from a row: the value after the mapping's translation, None when empty.

    Compiled once per read, as a log has millions of cells. An event log resolves empty values
    per ticket (a later row may have the value), so it asks for the default only for values
    the translation lacks (``default_when_empty=False``).
    """
    if spec is None:
        return lambda row: None
    if "value" in spec:
        constant = spec["value"]
        return lambda row: constant
    column, translation = spec["column"], spec.get("values")
    has_default, default = "default" in spec, spec.get("default")
    empty = default if default_when_empty else None

    def read(row: dict) -> Any:
        raw = row.get(column)  # JSON lines may leave out keys whose value is empty
        if isinstance(raw, str):
            raw = raw.strip()
            if raw in nulls:
                return empty
        elif raw is None:
            return empty
        if translation is None:
            return raw
        key = raw if isinstance(raw, str) else json.dumps(raw)
        if key in translation:
            return translation[key]
        if has_default:
            return default
        raise RowError(f"{name}: value `{key}` not in the mapping")

    return read


@mypyc_attr(native_class=False)  # compiled classes cannot extend ValueError
class OutOfYears(ValueError):
    """A time that reads but lies outside the years the engine works in (its deadlines could not be computed)."""


def parse_moment(text: str, mapping: LogMapping, zone: ZoneInfo) -> datetime:
    """A time of the log in the first of the mapping's formats that reads it, in UTC; ValueError if none does (OutOfYears
    if it lies outside the years the engine takes). A time without an offset is of ``zone``. In UTC, because Python
    orders and subtracts two datetimes of one zone by their wall times: a ticket created in the repeated autumn hour
    would sort after one created later, and a resolution time spanning a clock change would be an hour off."""
    for form in mapping.time_formats:
        try:
            if form == "iso":
                moment = _FROM_ISO(text)
            elif form == "epoch":
                moment = datetime.fromtimestamp(float(text), tz=timezone.utc)
            else:
                moment = datetime.strptime(text, form)
        except (ValueError, OverflowError, OSError):
            continue
        if not FIRST_YEAR <= moment.year <= LAST_YEAR:  # checked on the year as read: year 1 or 9999 cannot even change zone
            raise OutOfYears(text)
        return moment.astimezone(UTC) if moment.tzinfo else wall_instant(moment, zone)
    raise ValueError(text)


_FROM_ISO: Final = datetime.fromisoformat
"""Called as a constant: compiled, a class's method named in the call is looked up by name each time."""


def no_time_format(name: str, text: str, error: ValueError) -> RowError:
    """Why a time column's value cannot be read, as the reason its row is counted under."""
    if isinstance(error, OutOfYears):
        return RowError(f"{name}: `{text[:40]}` lies outside the years {FIRST_YEAR}–{LAST_YEAR}")
    return RowError(f"{name}: `{text[:40]}` matches no time format")


def time_parser(mapping: LogMapping, zone: ZoneInfo) -> Callable[[str], datetime]:
    """:func:`parse_moment` for one read of a log, remembering what it read: logs repeat their times (a ticket's
    opening on every row, the same minute on many)."""
    return lru_cache(maxsize=1 << 16)(lambda text: parse_moment(text, mapping, zone))


def _time(value: Any, parse: Callable[[str], datetime], name: str) -> Optional[datetime]:
    if value is None:
        return None
    try:
        return parse(str(value))
    except ValueError as error:
        raise no_time_format(name, str(value), error) from None


_TRUE: Final = frozenset({"true", "yes", "y", "1", "t"})
_FALSE: Final = frozenset({"false", "no", "n", "0", "f"})


def truth(value: Any, name: str) -> Optional[bool]:
    """A yes/no value as logs write it (`TRUE`, `false`, `yes`, `1`, a JSON boolean); None when empty."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise RowError(f"{name}: `{str(value)[:40]}` is not true or false")


def is_member(value: Any) -> bool:
    """Whether a member column says yes, written as logs write it (`TRUE`, `Y`, `1`, a JSON boolean); empty is no."""
    return truth(value, "member") is True


def known_id(values: dict, mapping: LogMapping) -> None:
    """Refuse a value that is no id of the org (a column read without translation, or one whose translation names none)."""
    for name, ids in mapping.known.items():
        if values.get(name) is not None and str(values[name]) not in ids:
            raise RowError(f"{name}: `{values[name]}` is not a {name} of the org")


def read_log(path: str | Path, mapping: LogMapping) -> tuple[list[TicketRecord], Unmapped]:
    """Every ticket that maps, sorted by arrival, and the rest counted by reason.

    A flat log gives a ticket per row; an event log (the mapping maps `updated`) a ticket per
    id with its way through the roles, built by :func:`.eventlog.read_event_log`. The collector is paused: the
    records form no reference cycles, and its passes over them took a tenth of reading a flat log of 100,000 tickets.
    """
    with paused_gc():
        if mapping.is_event_log:
            from .eventlog import read_event_log  # it builds on this module's row reading

            return read_event_log(Path(path), mapping)
        return _read_flat_log(Path(path), mapping)


def _read_flat_log(path: Path, mapping: LogMapping) -> tuple[list[TicketRecord], Unmapped]:
    unmapped = Unmapped()
    records: list[TicketRecord] = []
    zone = ZoneInfo(mapping.timezone)
    readers = {name: field_reader(name, spec, mapping.null_values) for name, spec in mapping.fields.items()}
    parse = time_parser(mapping, zone)
    seen: set[str] = set()
    for number, row in log_rows(path, mapping, unmapped):
        try:
            values = {name: read(row) for name, read in readers.items()}
            for name in ("created", "category", "channel", "priority"):
                if values.get(name) is None:
                    raise RowError(f"{name}: empty")
            known_id(values, mapping)
            times = {name: _time(values.get(name), parse, name) for name in TIME_FIELDS}
            created = times["created"]
            if created is None:
                raise RowError("created: empty")
            if times["resolved"] and times["resolved"] < created:
                raise RowError("resolved before it was created")
            if times["first_response"] and times["first_response"] < created:
                raise RowError("first response before it was created")
            ticket_id = str(values.get("id") or f"row{number}")
            if ticket_id in seen:
                raise RowError("duplicate ticket id")
            seen.add(ticket_id)
            records.append(TicketRecord(
                id=ticket_id, created=created, category=str(values["category"]), channel=str(values["channel"]),
                segment=str(values.get("segment") or "any"), priority=str(values["priority"]),
                member=is_member(values.get("member")), customer_id=values.get("customer_id"),
                first_response=times["first_response"], resolved=times["resolved"], closed=times["closed"],
                satisfaction=number_or_none(values.get("satisfaction")), made_sla=truth(values.get("made_sla"), "made_sla"), row=number))
        except RowError as error:
            unmapped.add(str(error), f"row {number}")
    records.sort(key=lambda record: (record.created, record.row))
    return records, unmapped


def number_or_none(value: Any) -> Optional[float]:
    """A satisfaction score as a number."""
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        raise RowError(f"satisfaction: `{value}` is not a number") from None
