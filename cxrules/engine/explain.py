"""`cxrules route`: one ticket through the engine, with the reasons for every decision.

Reads a ticket as plain JSON data, checks every field (each problem a :class:`Diagnostic`
with a stable code, the line and column in the ticket's text and, where known, the fix),
runs it through a fresh :class:`Engine` on a virtual clock and replays the escalation
timeline it would follow if nobody answered, up to its last deadline (at most one year of
calendar time; where the timeline stops earlier the report says where and why).

The ticket format is described in docs/route.md and in `cxrules route --help`; the codes
(CX010–CX018) in docs/codes.md.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Sequence
from zoneinfo import ZoneInfo

from ..calendars import HORIZON
from ..diagnostics import Diagnostic, Location, Related
from ..loading import LOOKALIKES
from ..model import Org, format_duration
from ..routing import Names, Router, TicketClass, class_values, meant
from ..schema import closest
from . import decisions as d
from .clock import VirtualClock
from .engine import Engine
from .eventcheck import FIRST_YEAR, LAST_YEAR, MAX_TEXT, MAX_TIME_TEXT, UNFIT, quoted, text_problem, time_problem
from .eventcheck import SURROGATE as _SURROGATE
from .events import Resolved, TicketCreated

__all__ = ["TicketError", "TicketSource", "read_ticket", "parse_ticket", "parse_time", "RouteReport", "TimelineEnd",
           "explain_route", "MAX_TICKET_BYTES", "FIRST_YEAR", "LAST_YEAR", "TIMELINE_LIMIT", "TICKET_FILE",
           "TICKET_UNREADABLE", "TICKET_NOT_JSON", "TICKET_NOT_OBJECT", "TICKET_MISSING_FIELD", "TICKET_UNKNOWN_FIELD",
           "TICKET_DUPLICATE_FIELD", "TICKET_WRONG_TYPE", "TICKET_UNKNOWN_VALUE", "TICKET_BAD_VALUE"]

REQUIRED = ("category", "channel", "segment", "priority")
OPTIONAL = ("id", "member", "customer_id", "created")
MAX_TICKET_BYTES = 1_000_000
"""A ticket file larger than this is refused before it is parsed (a ticket is a few hundred bytes)."""
TIMELINE_LIMIT = timedelta(days=366)
"""The timeline runs to the ticket's last deadline, but never further than this after arrival."""
MAX_TIMELINE_ENTRIES = 1000
MAX_PROBLEMS = 20
"""At most this many problems of one ticket are reported (the first found: duplicates, unknown fields, then field by field)."""
DEFAULT_ID = "ticket"
TICKET_FILE = "<ticket>"
"""The file name of diagnostics about a ticket given as bytes or data without one."""

# The codes of ticket problems (documented in cxrules/codes.py and docs/codes.md).
TICKET_UNREADABLE = "CX010"
"""The ticket cannot be read: not a regular file, missing, unreadable, larger than 1 MB, not UTF-8."""
TICKET_NOT_JSON = "CX011"
TICKET_NOT_OBJECT = "CX012"
TICKET_MISSING_FIELD = "CX013"
TICKET_UNKNOWN_FIELD = "CX014"
TICKET_DUPLICATE_FIELD = "CX015"
TICKET_WRONG_TYPE = "CX016"
TICKET_UNKNOWN_VALUE = "CX017"
TICKET_BAD_VALUE = "CX018"

_EXAMPLE = '{"category": "…", "channel": "…", "segment": "…", "priority": "…"}'
_ISO_EXAMPLE = "2025-03-07T19:30:00+08:00"


class TicketError(ValueError):
    """A ticket that cannot be routed as given: one or more diagnostics (code, place, message, fix).

    ``str(error)`` is the first diagnostic's message; ``diagnostics`` holds them all, in the
    order of their place in the ticket's text.
    """

    def __init__(self, diagnostics: Sequence[Diagnostic], more: int = 0):
        self.diagnostics = tuple(sorted(diagnostics, key=lambda x: (x.location.line, x.location.column)))
        self.more = max(more, 0)
        """How many more problems were found than are kept (at most :data:`MAX_PROBLEMS`)."""
        super().__init__(self.diagnostics[0].message)

    @property
    def hint(self) -> Optional[str]:
        """The first diagnostic's fix, if one is known."""
        return self.diagnostics[0].hint


def _fail(code: str, message: str, file: str = TICKET_FILE, at: tuple[int, int] = (1, 1), hint: Optional[str] = None) -> TicketError:
    return TicketError([Diagnostic(code, message, Location(file, *at), hint=hint)])


class _Number:
    """A JSON number, kept as its text: no ticket field is a number, and a 5,000-digit one must not be converted."""

    def __init__(self, text: str):
        self.text = text


class _Constant:
    """`NaN`, `Infinity` or `-Infinity`: Python's JSON reader takes them, JSON does not."""

    def __init__(self, text: str):
        self.text = text


# ---------------------------------------------------------------- where things are in the text

_WHITESPACE = re.compile(r"[ \t\n\r]*")
"""JSON's whitespace (nothing else may stand between tokens)."""
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[^ \t\n\r,:\[\]{}"]+')
"""In valid JSON: a string, or a run of a number or a literal (`true`, `null`, `NaN`, ...)."""
_SKIPPER = json.JSONDecoder(parse_int=len, parse_float=len, parse_constant=len, object_pairs_hook=len)
"""Steps over one JSON value without converting numbers or building objects."""


def _line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``offset`` in ``text``; lines end at `\\n`."""
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


class _Lines:
    """Line and column of many offsets in one text, each found by bisection (a ticket may have thousands of keys)."""

    def __init__(self, text: str):
        self.breaks = [match.start() for match in re.finditer("\n", text)]

    def __call__(self, offset: int) -> tuple[int, int]:
        before = bisect_left(self.breaks, offset)
        return before + 1, offset - (self.breaks[before - 1] if before else -1)


def _skip(text: str, offset: int) -> int:
    match = _WHITESPACE.match(text, offset)
    return match.end() if match else offset


def _entries(text: str, start: int) -> list[tuple[str, int, int]]:
    """``(key, key offset, value offset)`` of every member of the object at ``start``, duplicates included.

    ``text`` must be valid JSON (it was parsed already) and hold an object at ``start``: then
    the members are a key in double quotes, `:`, a value, separated by `,`, and JSON's own
    decoder steps over each value (however nested; nothing is converted).
    """
    found: list[tuple[str, int, int]] = []
    offset = _skip(text, start + 1)
    if text[offset] == "}":
        return found
    while True:
        key, end = _SKIPPER.raw_decode(text, offset)
        value = _skip(text, _skip(text, end) + 1)
        found.append((key, offset, value))
        _, end = _SKIPPER.raw_decode(text, value)
        end = _skip(text, end)
        if text[end] == "}":
            return found
        offset = _skip(text, end + 1)


def _constant_at(text: str) -> int:
    """Offset of the first `NaN`/`Infinity` token in ``text`` (valid JSON but for those), or -1."""
    for match in _TOKEN.finditer(text):
        if match.group() in ("NaN", "Infinity", "-Infinity"):
            return match.start()
    return -1


@dataclass(frozen=True)
class TicketSource:
    """A ticket's JSON data and where each of its fields is in the text, for diagnostics.

    Made by :func:`read_ticket`; :func:`parse_ticket` also takes plain data (a dict), whose
    diagnostics then point at line 1, column 1 of :data:`TICKET_FILE`.
    """

    data: Any
    file: str = TICKET_FILE
    start: tuple[int, int] = (1, 1)
    """The first character of the JSON value (an object's `{`)."""
    entries: tuple[tuple[str, tuple[int, int], tuple[int, int]], ...] = ()
    """Every member of the object in text order, a key given twice twice: (key, key's place, value's place)."""

    @cached_property
    def _last(self) -> dict[str, tuple[tuple[int, int], tuple[int, int]]]:
        return {name: (key, value) for name, key, value in self.entries}

    def key(self, name: str) -> tuple[int, int]:
        """Where the field ``name`` is given (the last time, as its value is the last one), else the object's start."""
        return self._last[name][0] if name in self._last else self.start

    def value(self, name: str) -> tuple[int, int]:
        """Where the value of the field ``name`` starts (the last given), else the object's start."""
        return self._last[name][1] if name in self._last else self.start


# ---------------------------------------------------------------- reading

_SYNTAX = {
    "Expecting value": "expected a value: text in double quotes, true, false or null",
    "Expecting property name enclosed in double quotes": "expected a field name in double quotes",
    "Expecting ':' delimiter": "expected `:` between a field name and its value",
    "Expecting ',' delimiter": "expected `,` between two fields or items, or the closing bracket",
    "Extra data": "more text after the ticket's JSON value",
    "Unterminated string starting at": "text in double quotes that is never closed",
    "Invalid control character at": "a control character (a line break, a tab) inside text in double quotes",
    "Invalid \\escape": "an unknown escape after `\\` inside text",
    "Invalid \\uXXXX escape": "a `\\u` escape without four hexadecimal digits",
    "Illegal trailing comma before end of object": "a `,` before the closing `}`",
    "Illegal trailing comma before end of array": "a `,` before the closing `]`",
}
_WORD = re.compile(r"[^\W\d][\w.-]*")


def _syntax_problem(text: str, error: json.JSONDecodeError) -> tuple[int, str, Optional[str]]:
    """Where to point, what is wrong and the fix (where the cause is recognisable) for a JSON syntax error."""
    described = _SYNTAX.get(error.msg) or next((v for k, v in _SYNTAX.items() if error.msg.startswith(k)), error.msg)
    offset, hint = _syntax_fix(text, error)
    if offset != error.pos and text.strip(" \t\n\r"):  # a comma after the last item: pointed at
        described = _SYNTAX[f"Illegal trailing comma before end of {'object' if text[error.pos] == '}' else 'array'}"]
    return offset, "the ticket is empty: not JSON" if not text.strip(" \t\n\r") else f"not JSON: {described}", hint


def _syntax_fix(text: str, error: json.JSONDecodeError) -> tuple[int, Optional[str]]:
    """Where to point and the fix for a JSON syntax error; the place moves only for a comma after the last item."""
    pos, msg = error.pos, error.msg
    char = text[pos] if pos < len(text) else ""
    if char in LOOKALIKES:
        name, ascii_form = LOOKALIKES[char]
        return pos, f"replace `{char}` ({name}) with `{ascii_form}`: JSON's punctuation is ASCII"
    if char == "'":
        return pos, "JSON writes text and field names in double quotes: `\"…\"`, not `'…'`"
    before = text[:pos].rstrip(" \t\n\r")
    if char and char in "}]" and before.endswith(","):
        return len(before) - 1, f"remove the `,` before `{char}`: JSON allows no comma after the last item"
    word = _WORD.match(text, pos)
    if not text.strip(" \t\n\r"):
        return 0, f"a ticket is one JSON object, e.g. {_EXAMPLE}"
    if pos >= len(text):
        return pos, "the text ends in the middle of the JSON: complete it and close every `{` and `[`"
    if msg == "Expecting value":
        if pos == _skip(text, 0):
            return pos, f"a ticket is one JSON object, e.g. {_EXAMPLE}"
        if word and word.group() in ("True", "False", "None", "TRUE", "FALSE", "NULL", "Null"):
            fixed = {"true": "true", "false": "false", "none": "null", "null": "null"}[word.group().lower()]
            return pos, f"JSON writes `{fixed}` in lower case"
        if word:
            return pos, f"write text in double quotes: `\"{word.group()}\"`"
        if char in ",}" and before.endswith(":"):
            return pos, "give the field a value, or leave the field out"
    if msg == "Expecting property name enclosed in double quotes" and word:
        return pos, f"put the field name in double quotes: `\"{word.group()}\"`"
    if msg == "Expecting ':' delimiter":
        return pos, "write each field as `\"name\": value`" + (", with `:`, not `=`" if char == "=" else "")
    if msg == "Expecting ',' delimiter":
        return pos, "put a `,` before this (between two fields, or two items of a list)"
    if msg == "Extra data" and char in "}]":
        return pos, f"remove this `{char}`: it closes nothing"
    if msg == "Extra data":
        return pos, ("a ticket file holds one JSON object: remove what follows it "
                     "(to route several tickets, run `cxrules route` once for each)")
    if msg == "Unterminated string starting at":
        return pos, "close the text with `\"`"
    if msg == "Invalid control character at":
        return pos, "inside text, write a line break as `\\n` and a tab as `\\t`"
    if msg.startswith("Invalid \\escape"):
        return pos, "inside text, write a backslash as `\\\\`"
    if msg.startswith("Invalid \\uXXXX"):
        return pos, "`\\u` takes four hexadecimal digits, e.g. `\\u00e9` for é"
    return pos, None


def read_ticket(raw: bytes, file: str = TICKET_FILE) -> TicketSource:
    """The JSON data of a ticket file's bytes and where its fields are (checked by :func:`parse_ticket` next).

    Raises :class:`TicketError` (a diagnostic in ``file`` at the offending line and column)
    for more than :data:`MAX_TICKET_BYTES` or text that is not UTF-8 (CX010), text that is
    not JSON, NaN/Infinity or nesting deeper than Python can follow (CX011), and JSON that
    is not one object (CX012). Numbers are not converted (no ticket field is a number).
    """
    if len(raw) > MAX_TICKET_BYTES:
        raise ticket_too_large(file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        before = raw[:error.start].decode("utf-8").removeprefix("\ufeff")
        raise _fail(TICKET_UNREADABLE, f"cannot read the ticket: not UTF-8 text (byte 0x{raw[error.start]:02x} "
                                       f"at offset {error.start})", file, _line_column(before, len(before)),
                    hint="save the ticket as UTF-8, e.g. `iconv -f GBK -t UTF-8 ticket.json > ticket-utf8.json`") from None
    text = text.removeprefix("\ufeff")
    start = _skip(text, 0)
    constants: list[str] = []

    def constant(name: str) -> _Constant:
        constants.append(name)
        return _Constant(name)

    try:
        data = json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=constant)
    except json.JSONDecodeError as error:
        offset, message, hint = _syntax_problem(text, error)
        raise _fail(TICKET_NOT_JSON, message, file, _line_column(text, offset), hint) from None
    except RecursionError:
        raise _fail(TICKET_NOT_JSON, "not a ticket: the JSON is nested too deeply for cxrules to read", file,
                    _line_column(text, start), f"a ticket is one flat JSON object, e.g. {_EXAMPLE}") from None
    if constants:
        offset = _constant_at(text)
        raise _fail(TICKET_NOT_JSON, f"`{constants[0]}` is not JSON (JavaScript's NaN and Infinity are not allowed)", file,
                    _line_column(text, max(offset, 0)), "no ticket field is a number: leave the field out, or give text in double quotes")
    if not isinstance(data, dict):
        hint = f"write one object: {_EXAMPLE}"
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
            hint = "remove the `[` and `]` around the object: `cxrules route` takes one ticket"
        raise _fail(TICKET_NOT_OBJECT, f"a ticket is a JSON object with {', '.join(REQUIRED)}; got {_kind(data)}", file,
                    _line_column(text, start), hint)
    where = _Lines(text)
    entries = tuple((key, where(k), where(v)) for key, k, v in _entries(text, start))
    return TicketSource(data, file, where(start), entries)


def _kind(value: Any) -> str:
    """What a JSON value is, for messages (never the whole value: it may be huge)."""
    if isinstance(value, _Number):
        digits = len(value.text.lstrip("-"))
        return f"a {digits:,}-digit number" if digits > 20 else f"the number {value.text}"
    if isinstance(value, _Constant):
        return f"`{value.text}`"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the text {quoted(value)}"
    return {"list": "a list", "dict": "an object"}.get(type(value).__name__, type(value).__name__)


# ---------------------------------------------------------------- checking

_TRUE = ("true", "yes", "y", "1", "on", "是", "真")
_FALSE = ("false", "no", "n", "0", "off", "否", "假")


def _some(known: Names, limit: int = 12) -> str:
    values = list(known)
    return ", ".join(values[:limit]) + (f" (and {len(values) - limit} more)" if len(values) > limit else "")


def _type_hint(name: str, value: Any, known: Optional[Names]) -> str:
    """The fix for a value that is not text where text is expected."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str) and value[0].strip():
        return f"give one value, without the brackets: `\"{quoted(value[0])[1:-1]}\"`"
    if value is None:
        if known:
            return f"give one of: {_some(known)}"
        return {"id": f"leave `id` out for the default `{DEFAULT_ID}`",
                "created": "leave `created` out: the ticket then arrives at --at, else now"}.get(name, "give text in double quotes")
    if isinstance(value, _Number) and not known:
        if len(value.text) <= MAX_TEXT:
            return f"write it in double quotes: `\"{value.text}\"`"
        return f"give the {name} as text in double quotes, of at most {MAX_TEXT} characters"
    if name == "created":
        return f"write the time as text in double quotes, e.g. `\"{_ISO_EXAMPLE}\"`"
    if known:
        return f"give one of: {_some(known)} (in double quotes)"
    return "give one value as text in double quotes"


_EMPTY_HINT = {"id": f"give the ticket's id, or leave `id` out for the default `{DEFAULT_ID}`",
               "customer_id": "give the customer's id, or `null`, or leave `customer_id` out",
               "created": f"give the time it arrived, e.g. `{_ISO_EXAMPLE}`, or leave `created` out"}


def _text_problem(name: str, value: Any, limit: int = MAX_TEXT,
                  known: Optional[Names] = None) -> Optional[tuple[str, str, str]]:
    """Why ``value`` is not text the field ``name`` may hold: (code, message, fix); None if it is.

    The message is the engine's own (:func:`~.events.text_problem`); `route` adds the code and the fix,
    and names JSON values (a number is kept as its digits here) in JSON's terms.
    """
    if not isinstance(value, str):
        return TICKET_WRONG_TYPE, f"field `{name}` must be text, got {_kind(value)}", _type_hint(name, value, known)
    message = text_problem(name, value, limit)
    if message is None:
        return None
    unfit = UNFIT.search(value)
    if len(value) > limit:
        hint = f"shorten it to at most {limit} characters"
    elif not value.strip():
        hint = f"give one of: {_some(known)}" if known else _EMPTY_HINT.get(name, "give a value")
    elif unfit is not None and _SURROGATE.match(unfit.group()):
        hint = "remove the escape, or write the character itself"
    else:
        hint = "remove it: ids and values are printable text"
    return TICKET_BAD_VALUE, message, hint


_LOOSE_TIME = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                         r"(?:(?:\s+|T|\s*T\s*)(\d{1,2})\s*[:：]\s*(\d{2})(?:\s*[:：]\s*(\d{2}))?)?\s*(Z|[+-]\d{2}:?\d{2})?")


def ticket_too_large(file: str) -> TicketError:
    """The refusal of a ticket over :data:`MAX_TICKET_BYTES`, whether its size was seen on disk or in what was read."""
    return _fail(TICKET_UNREADABLE, f"the ticket is larger than {MAX_TICKET_BYTES / 1e6:g} MB", file,
                 hint="a ticket is one small JSON object (a few hundred bytes): give one ticket; `cxrules simulate` replays a log of many")


def _time_fix(text: str) -> Optional[str]:
    """An ISO 8601 form of a near miss (`2025/3/7 9:30`, `2025年3月7日 19:30`), if it is a valid time."""
    match = _LOOSE_TIME.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    candidate = f"{year}-{int(month):02d}-{int(day):02d}"
    if hour is not None:
        candidate += f"T{int(hour):02d}:{minute}" + (f":{second}" if second else "")
    if offset:
        candidate += "Z" if offset == "Z" else f"{offset[:3]}:{offset[-2:]}"
    if candidate == text:
        return None
    try:
        datetime.fromisoformat(candidate)
    except ValueError:
        return None
    return candidate


def _time(text: str, zone: ZoneInfo, what: str) -> datetime | tuple[str, str]:
    """The time ``text`` stands for (in ``zone`` without an offset), or why it cannot be one: (message, fix)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fix = _time_fix(text)
        return (f"{what} must be an ISO 8601 time such as {_ISO_EXAMPLE}, got {quoted(text)}",
                f"did you mean `{fix}`?" if fix else
                f"write it as `{_ISO_EXAMPLE}`, or without the offset, `{_ISO_EXAMPLE[:19]}`, in the org's time zone ({zone.key})")
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    fix = f"give a time in the years {FIRST_YEAR}–{LAST_YEAR}" + (", or leave `created` out" if what == "field `created`" else "")
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        return (f"{what}: year {moment.year} is outside the years cxrules computes deadlines for "
                f"({FIRST_YEAR}–{LAST_YEAR}), got {quoted(text)}", fix)
    if (problem := time_problem("time", moment)) is not None:  # the engine's rule: e.g. 1970-01-01T00:00+23:59 is 1969 in UTC
        return problem.replace("field `time`", what, 1), fix
    return moment


def parse_time(text: str, zone: ZoneInfo, what: str) -> datetime:
    """An ISO 8601 time in the years :data:`FIRST_YEAR`–:data:`LAST_YEAR`; without an offset it is in ``zone``.

    ``what`` names the time in messages (e.g. "field `created`", "--at"); raises
    :class:`TicketError` (CX018, with the fix as its hint).
    """
    moment = _time(text, zone, what)
    if isinstance(moment, tuple):
        raise _fail(TICKET_BAD_VALUE, moment[0], hint=moment[1])
    return moment


def _boolean_hint(value: Any) -> str:
    word = value.strip().lower() if isinstance(value, str) else value.text if isinstance(value, _Number) else None
    if word in _TRUE:
        return "write `true`, without quotes"
    if word in _FALSE:
        return "write `false`, without quotes"
    return "write `true` or `false`, without quotes (or leave `member` out: false)"


class _Problems:
    """The diagnostics of one ticket: the first :data:`MAX_PROBLEMS` kept, the rest counted."""

    def __init__(self, file: str):
        self.file = file
        self.kept: list[Diagnostic] = []
        self.found = 0

    @property
    def full(self) -> bool:
        return self.found >= MAX_PROBLEMS

    def add(self, at: tuple[int, int], code: str, message: str, hint: Optional[str] = None, related: tuple[Related, ...] = ()) -> None:
        self.found += 1
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(Diagnostic(code, message, Location(self.file, *at), hint=hint or None, related=related))


def parse_ticket(org: Org, data: Any) -> TicketCreated:
    """Check a ticket against the org and make the event of it; raises :class:`TicketError` with every problem.

    ``data`` is what :func:`read_ticket` returns (the diagnostics then point into the
    ticket's text), or plain JSON data. Every field is checked before anything is used: no
    field given twice (CX015), no unknown one (CX014), none of the required ones missing
    (CX013); the type of each (CX016), its length, that its text is printable, that
    `created` is an ISO 8601 time in a supported year (CX018), and that category, channel,
    segment and priority are ids of the org (CX017). Each problem names the field.
    """
    source = data if isinstance(data, TicketSource) else TicketSource(data)
    if not isinstance(source.data, dict):
        raise _fail(TICKET_NOT_OBJECT, f"a ticket is a JSON object with {', '.join(REQUIRED)}; got {_kind(source.data)}",
                    source.file, source.start, f"write one object: {_EXAMPLE}")
    ticket: dict = source.data
    problems = _Problems(source.file)
    problem = problems.add
    first: dict[str, tuple[int, int]] = {}
    for name, key_at, _ in source.entries:
        if name in first:
            problem(key_at, TICKET_DUPLICATE_FIELD, f"field {quoted(name)} is given twice",
                    "remove one of the two: JSON readers keep only one of them, and not all the same one",
                    (Related(Location(source.file, *first[name]), "first given here"),))
        first.setdefault(name, key_at)
    fields = REQUIRED + OPTIONAL
    misspelt: dict[str, str] = {}
    """A missing field's name -> the unknown field that is likely it, misspelt."""
    for name in ticket:
        if name not in fields and problems.full:  # a ticket of thousands of fields: count them, suggest nothing
            problems.found += 1
        elif name not in fields:
            suggestion = None if _SURROGATE.search(name) else name.lower() if name.lower() in fields else closest(name, fields)
            problem(source.key(name), TICKET_UNKNOWN_FIELD, f"unknown field {quoted(name)}",
                    f"did you mean `{suggestion}`?" if suggestion else f"remove it; the fields are {', '.join(fields)}")
            if suggestion and suggestion not in ticket:
                misspelt.setdefault(suggestion, name)
    known = class_values(org)
    values: dict[str, str] = {}
    for name in REQUIRED:
        if name not in ticket:
            choices = f" with one of: {_some(known[name])}" if known[name] else ""
            hint = f"add `\"{name}\": \"…\"`{choices}"
            if name in misspelt:
                hint = f"rename {quoted(misspelt[name])} (line {source.key(misspelt[name])[0]}) to `{name}`"
            problem(source.start, TICKET_MISSING_FIELD, f"missing field `{name}`", hint)
            continue
        value = ticket[name]
        text = _text_problem(name, value, known=known[name])
        if text is not None:
            problem(source.value(name), *text)
        elif known[name] and value not in known[name]:
            suggestion = meant(value, known[name])
            problem(source.value(name), TICKET_UNKNOWN_VALUE, f"field `{name}`: unknown {name} {quoted(value)}, expected a {name} of the org",
                    f"did you mean `{suggestion}`?" if suggestion else f"one of: {_some(known[name])}")
        else:
            values[name] = value
    ticket_id = DEFAULT_ID
    if "id" in ticket:
        text = _text_problem("id", ticket["id"])
        if text is not None:
            problem(source.value("id"), *text)
        else:
            ticket_id = ticket["id"]
    member = ticket.get("member", False)
    if not isinstance(member, bool):
        problem(source.value("member"), TICKET_WRONG_TYPE, f"field `member` must be true or false, got {_kind(member)}",
                _boolean_hint(member))
        member = False
    customer_id = ticket.get("customer_id")
    if customer_id is not None:
        text = _text_problem("customer_id", customer_id)
        if text is not None:
            problem(source.value("customer_id"), *text)
            customer_id = None
    created = None
    if "created" in ticket:
        text = _text_problem("created", ticket["created"], MAX_TIME_TEXT)
        moment = _time(ticket["created"], ZoneInfo(org.info.timezone), "field `created`") if text is None else None
        if text is not None:
            problem(source.value("created"), *text)
        elif isinstance(moment, tuple):
            problem(source.value("created"), TICKET_BAD_VALUE, *moment)
        else:
            created = moment
    if problems.kept:
        raise TicketError(problems.kept, problems.found - len(problems.kept))
    return TicketCreated(ticket_id, category=values["category"], channel=values["channel"], segment=values["segment"],
                         priority=values["priority"], member=member, customer_id=customer_id, at=created)


@dataclass(frozen=True)
class TimelineEnd:
    """Where the "if nobody answers" timeline ends, and why."""

    complete: bool
    """True: every deadline of the ticket is in the timeline (nothing more would happen)."""
    at: datetime
    """The last moment the timeline covers."""
    reason: str
    next_due: Optional[datetime] = None
    """When the timeline stopped early: the first deadline it does not show."""


@dataclass(frozen=True)
class RouteReport:
    """Everything `cxrules route` prints."""

    ticket: TicketCreated
    at: datetime
    role: str
    agent: Optional[str]
    rule: Optional[str]
    fallback: bool
    considered: tuple[tuple[str, str], ...]
    decisions: tuple[d.Decision, ...]
    timeline: tuple[d.Decision, ...] = field(default=())
    followups: tuple[d.Decision, ...] = field(default=())
    end: Optional[TimelineEnd] = None
    resolved_at: Optional[datetime] = None
    """The resolution the follow-ups assume: at the resolution deadline (else the end of the timeline)."""

    def to_dict(self) -> dict:
        zone = self.at.tzinfo

        def when(moment):
            return moment.astimezone(zone).isoformat() if isinstance(moment, datetime) else moment

        def plain(decision):
            return {"kind": decision.kind, **{k: when(v) if isinstance(v, datetime) else v
                                               for k, v in decision.field_values().items() if k != "ticket_id"}}

        end = None if self.end is None else {"complete": self.end.complete, "at": when(self.end.at), "reason": self.end.reason,
                                             "next_due": when(self.end.next_due)}
        return {"ticket": self.ticket.ticket_id, "at": when(self.at), "role": self.role, "agent": self.agent,
                "rule": self.rule, "fallback": self.fallback,
                "considered": [{"rule": rule, "why_not": why} for rule, why in self.considered],
                "decisions": [plain(x) for x in self.decisions], "timeline": [plain(x) for x in self.timeline],
                "timeline_end": end, "followups_if_resolved_at": when(self.resolved_at),
                "followups": [plain(x) for x in self.followups]}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M")


def _beyond(due: datetime, resolution_due: Optional[datetime], stop: datetime, zone: ZoneInfo) -> str:
    """What lies beyond the end of a stopped timeline, for its reason."""
    if due == resolution_due:
        return f"the resolution deadline ({_stamp(due.astimezone(zone))}) lies beyond"
    text = f"the next warning or escalation ({_stamp(due.astimezone(zone))})"
    if resolution_due is not None and resolution_due > stop:
        return f"{text} and the resolution deadline ({_stamp(resolution_due.astimezone(zone))}) lie beyond"
    return f"{text} lies beyond"


def explain_route(org: Org, ticket: TicketCreated, at: Optional[datetime] = None,
                  limit: timedelta = TIMELINE_LIMIT) -> RouteReport:
    """Route one ticket and explain it; then show what would follow if nobody answered.

    The timeline runs to the ticket's last deadline (SLA warnings and breaches, every
    escalation level), however far that is, but at most ``limit`` after arrival; the
    report's ``end`` says whether it is complete, or where and why it stopped. Follow-ups
    are shown as they would be scheduled if the ticket were resolved at its resolution
    deadline.
    """
    moment = at or ticket.at or datetime.now(timezone.utc)
    zone = ZoneInfo(org.info.timezone)
    moment = moment.astimezone(zone)
    arriving = ticket.__class__(**{**vars(ticket), "at": moment})
    engine = Engine(org, VirtualClock(moment))
    try:
        decisions = tuple(engine.submit(arriving))
        state = engine.ticket(ticket.ticket_id)
        if state is None:
            refusals = [x.reason for x in decisions if isinstance(x, d.Refused)]
            raise _fail(TICKET_BAD_VALUE, f"the engine refused the ticket: {refusals[0] if refusals else 'no reason given'}")
        role, agent, rule, fallback = state.role or org.info.fallback_queue, state.agent, state.rule, state.fallback
        resolution_due = state.resolution_due
        unreachable = ""
        sla = org.sla(state.sla) if state.sla else None
        if sla is not None and sla.resolution is not None and resolution_due is None:
            unreachable = (f"; SLA `{sla.id}` sets no resolution deadline: calendar `{sla.calendar}` does not reach "
                           f"`{format_duration(sla.resolution, days=False)}` of business time within {HORIZON.days} days (CX714)")
        # The owner above comes from the engine (durable-rules); the reference router, which decides the
        # same (tests/test_routing.py), also says why each other matching rule lost.
        route = Router(org).route(TicketClass(ticket.category, ticket.channel, ticket.segment, ticket.priority, ticket.member),
                                  moment, explain=True)
        considered = tuple((x.id, why) for x, why in route.considered)
        stop = moment + limit
        timeline: list[d.Decision] = []
        end = None
        while end is None:
            due = engine.store.next_due()
            if due is None:
                last = timeline[-1].at.astimezone(zone) if timeline else moment
                end = TimelineEnd(True, last, f"complete: nothing more happens after {_stamp(last)} if nobody answers{unreachable}")
            elif due > stop:
                end = TimelineEnd(False, stop, f"stops at {_stamp(stop)}, its limit of {limit.days} days after arrival: "
                                               + _beyond(due, resolution_due, stop, zone), due.astimezone(zone))
            elif len(timeline) >= MAX_TIMELINE_ENTRIES:
                last = timeline[-1].at.astimezone(zone)
                end = TimelineEnd(False, last, f"stops at {_stamp(last)} after {MAX_TIMELINE_ENTRIES} entries: "
                                               "the escalation paths go on and on", due.astimezone(zone))
            else:
                timeline.extend(x for x in engine.advance(due) if not isinstance(x, (d.Assigned, d.Queued)))
    finally:
        engine.close()
    resolved_at = (resolution_due or (timeline[-1].at if timeline else moment)).astimezone(zone)
    followups = _followups(org, arriving, moment, resolved_at)
    return RouteReport(ticket, moment, role, agent, rule, fallback, considered, decisions, tuple(timeline), followups,
                       end, resolved_at)


def _followups(org: Org, ticket: TicketCreated, arrival: datetime, resolved_at: datetime) -> tuple[d.Decision, ...]:
    """The follow-ups scheduled if ``ticket``, arriving at ``arrival``, is resolved at ``resolved_at`` (on an engine of their own)."""
    engine = Engine(org, VirtualClock(arrival))
    try:
        engine.submit(ticket)
        return tuple(x for x in engine.submit(Resolved(ticket.ticket_id, at=resolved_at)) if isinstance(x, d.FollowUpScheduled))
    finally:
        engine.close()
