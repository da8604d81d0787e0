"""Ticket-log mappings: from a foreign log's columns and values to cxrules tickets.

A mapping is YAML validated by `schemas/mapping.schema.json` (same diagnostics, with
positions, as org files) and then checked against the org: every value it maps to must be
an id of that org. Reading a log never stops at a bad row: each row either becomes a
:class:`TicketRecord` or is counted under the reason it could not be mapped, with examples.
"""

from __future__ import annotations

import codecs
import csv
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..diagnostics import Diagnostic
from ..loading import load_file, open_regular_text, read_head
from ..model import MAX_DURATION, Org, duration_problem, parse_duration
from ..schema import closest, validate_against
from .history import TicketRecord

__all__ = ["LogMapping", "LogError", "TicketRecord", "Unmapped", "load_mapping", "validate_mapping", "is_mapping_file", "read_log"]

TIME_FIELDS = ("created", "first_response", "resolved")


@dataclass
class Unmapped:
    """Rows that could not be mapped, by reason, with up to five examples each."""

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


@dataclass(frozen=True)
class LogMapping:
    """A validated mapping (see the module docstring)."""

    fields: dict
    path: str
    format: Optional[str] = None
    encoding: str = "utf-8-sig"
    delimiter: str = ","
    timezone: str = "UTC"
    time_formats: tuple[str, ...] = ("iso",)
    satisfied_at_least: float = 3.0
    service_default: tuple[timedelta, str] = (timedelta(hours=1), "fixed")
    service_by_category: dict = field(default_factory=dict)
    seed: int = 0
    known: dict = field(default_factory=dict)
    """The org's ids per field (category, channel, segment, priority): other values are unmapped rows."""

    def service_time(self, category: str, rng: random.Random) -> timedelta:
        """A handling time drawn from the model for ``category``."""
        mean, distribution = self.service_by_category.get(category, self.service_default)
        if distribution == "exponential":
            return timedelta(seconds=rng.expovariate(1 / max(mean.total_seconds(), 1)))
        return mean


_ORG_KINDS = {"category": "categories", "channel": "channels", "segment": "segments", "priority": "priorities"}


MAPPING_KIND = "TicketLogMapping"


def is_mapping_file(path: str | Path) -> bool:
    """Whether ``path`` is a regular file that declares `kind: TicketLogMapping` at its top level.

    Looks at the first 8 kB only (as the folder scan of `validate` does); anything that cannot
    be read counts as no mapping, so the org reader reports it.
    """
    try:
        head = read_head(path)
    except OSError:
        return False
    for line in head.splitlines():
        if line[:1] in (" ", "\t"):
            continue
        if line.split("#")[0].strip().replace('"', "").replace("'", "").replace(" ", "") == f"kind:{MAPPING_KIND}":
            return True
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
    service = data.get("service_time", {})
    means: list[tuple[tuple, str]] = [(("service_time", "default", "mean"), service["default"]["mean"])] if "default" in service else []
    means += [(("service_time", "by_category", category, "mean"), spec["mean"]) for category, spec in service.get("by_category", {}).items()]
    for where, text in means:
        if (problem := duration_problem(text)) is not None:
            problems.append(Diagnostic("CX311", f"service time {problem}", document.location(where),
                                       hint=f"a handling time is at most {MAX_DURATION.days} days"))
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
             "segments": [s.id for s in org.segments], "priorities": list(org.info.priorities)}
    for name, kind in _ORG_KINDS.items():
        spec = data["fields"].get(name)
        if spec is None or not known[kind]:
            continue
        targets: list[tuple[tuple, Any]] = [(("fields", name, "value"), spec["value"])] if "value" in spec else []
        targets += [(("fields", name, "values", raw), value) for raw, value in (spec.get("values") or {}).items()]
        if "default" in spec:
            targets.append((("fields", name, "default"), spec["default"]))
        for where, value in targets:
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
        delimiter=data.get("delimiter", ","), timezone=zone, time_formats=tuple(data.get("time_formats", ["iso"])),
        satisfied_at_least=float(data.get("satisfied_at_least", 3)),
        service_default=model(service["default"]) if "default" in service else (timedelta(hours=1), "fixed"),
        service_by_category={k: model(v) for k, v in service.get("by_category", {}).items()}, seed=data.get("seed", 0),
        known={name: frozenset(known[kind]) for name, kind in _ORG_KINDS.items() if known[kind]},
    ), []


class LogError(ValueError):
    """The log as a whole cannot be read with this mapping (e.g. a mapped column is not in its header)."""


class _RowError(Exception):
    """Why one row cannot be mapped; the message is the reason it is counted under."""


def _rows(path: Path, mapping: LogMapping, unmapped: Unmapped) -> Iterator[tuple[int, dict]]:
    kind = mapping.format or ("jsonl" if path.suffix in (".jsonl", ".ndjson") else "csv")
    with open_regular_text(path, encoding=mapping.encoding) as stream:
        if kind == "csv":
            reader = csv.DictReader(stream, delimiter=mapping.delimiter)
            header = reader.fieldnames or []
            missing = [spec["column"] for spec in mapping.fields.values() if "column" in spec and spec["column"] not in header]
            if missing:
                suggestion = closest(missing[0], header)
                raise LogError(f"{path}: column `{missing[0]}` named in {mapping.path} is not in the log's header"
                               + (f"; did you mean `{suggestion}`?" if suggestion else f"; columns: {', '.join(header[:12])}"))
            for number, row in enumerate(reader, start=2):
                yield number, row
            return
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


def _value(row: dict, name: str, spec: Optional[dict]) -> Any:
    if spec is None:
        return None
    if "value" in spec:
        return spec["value"]
    raw = row.get(spec["column"])  # JSON lines may leave out keys whose value is empty
    raw = raw.strip() if isinstance(raw, str) else raw
    translation = spec.get("values")
    if raw in ("", None):
        if "default" in spec:
            return spec["default"]
        return None
    if translation is not None:
        key = raw if isinstance(raw, str) else json.dumps(raw)
        if key in translation:
            return translation[key]
        if "default" in spec:
            return spec["default"]
        raise _RowError(f"{name}: value `{key}` not in the mapping")
    return raw


def _time(value: Any, mapping: LogMapping, zone: ZoneInfo, name: str) -> Optional[datetime]:
    if value is None:
        return None
    text = str(value)
    for form in mapping.time_formats:
        try:
            if form == "iso":
                moment = datetime.fromisoformat(text)
            elif form == "epoch":
                moment = datetime.fromtimestamp(float(text), tz=timezone.utc)
            else:
                moment = datetime.strptime(text, form)
        except (ValueError, OverflowError, OSError):
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    raise _RowError(f"{name}: `{text[:40]}` matches no time format")


def read_log(path: str | Path, mapping: LogMapping) -> tuple[list[TicketRecord], Unmapped]:
    """Every row that maps, sorted by arrival, and the rest counted by reason."""
    unmapped = Unmapped()
    records: list[TicketRecord] = []
    zone = ZoneInfo(mapping.timezone)
    fields = mapping.fields
    seen: set[str] = set()
    for number, row in _rows(Path(path), mapping, unmapped):
        try:
            values = {name: _value(row, name, fields.get(name)) for name in fields}
            for name in ("created", "category", "channel", "priority"):
                if values.get(name) is None:
                    raise _RowError(f"{name}: empty")
            for name, ids in mapping.known.items():
                if values.get(name) is not None and str(values[name]) not in ids:
                    raise _RowError(f"{name}: `{values[name]}` is not a {name} of the org")
            times = {name: _time(values.get(name), mapping, zone, name) for name in TIME_FIELDS}
            created = times["created"]
            if created is None:
                raise _RowError("created: empty")
            if times["resolved"] and times["resolved"] < created:
                raise _RowError("resolved before it was created")
            if times["first_response"] and times["first_response"] < created:
                raise _RowError("first response before it was created")
            ticket_id = str(values.get("id") or f"row{number}")
            if ticket_id in seen:
                raise _RowError("duplicate ticket id")
            seen.add(ticket_id)
            satisfaction = values.get("satisfaction")
            try:
                satisfaction = float(satisfaction) if satisfaction is not None else None
            except (TypeError, ValueError):
                raise _RowError(f"satisfaction: `{satisfaction}` is not a number") from None
            member = values.get("member")
            records.append(TicketRecord(
                id=ticket_id, created=created, category=str(values["category"]), channel=str(values["channel"]),
                segment=str(values.get("segment") or "any"), priority=str(values["priority"]),
                member=member in (True, "true", "True", "yes", "1", 1), customer_id=values.get("customer_id"),
                first_response=times["first_response"], resolved=times["resolved"], satisfaction=satisfaction, row=number))
        except _RowError as error:
            unmapped.add(str(error), f"row {number}")
    records.sort(key=lambda record: (record.created, record.row))
    return records, unmapped
