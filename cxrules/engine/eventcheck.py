"""The one check of an event (every field's type, range, size and text), compiled with the engine's event path.

The event types are plain dataclasses (:mod:`.events`), registered here with how each field is checked, read from
their annotations (which compiled classes would not keep); :func:`check_event` takes an event of those types only.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Mapping, Optional, TypeGuard

from mypy_extensions import mypyc_attr

from ..calendars import DATETIME, UTC, seconds, zoneinfo_of

__all__ = ["EventError", "check_event", "register_event_types", "text_problem", "time_problem", "plainly_sound", "MAX_TEXT",
           "MAX_TIME_TEXT", "FIRST_YEAR", "LAST_YEAR", "FIRST_MOMENT", "LAST_MOMENT", "BAD_CHARACTER", "SURROGATE", "UNFIT",
           "described", "quoted"]

MAX_TEXT: Final = 200
"""Longest text a field may hold (ids, customer ids, category and other codes); `cxrules route` uses it too."""
MAX_TIME_TEXT: Final = 64
"""Longest text of a time (ISO 8601) that is parsed at all."""
FIRST_YEAR: Final = 1970
LAST_YEAR: Final = 2100
"""Event times (and `cxrules route`'s `created` and `--at`) must fall in these years: outside them deadlines cannot be computed."""
FIRST_MOMENT: Final = datetime(FIRST_YEAR, 1, 1, tzinfo=timezone(timedelta(hours=14)))
LAST_MOMENT: Final = datetime(LAST_YEAR, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-12)))
"""The first and last moment that is in those years somewhere on Earth (UTC+14 to UTC−12): an event's time must lie
between them, so a time written in the years as route takes it stays valid in any time zone it is moved to."""
_CONTROLS: Final = "\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
_SURROGATES: Final = f"{chr(0xD800)}-{chr(0xDFFF)}"  # built: mypyc takes no surrogate in a literal
BAD_CHARACTER: Final = re.compile(f"[{_CONTROLS}]")
"""Characters that have no place in an id or a value: C0/C1 controls, and the bidirectional
controls that make text display differently from what it is."""
SURROGATE: Final = re.compile(f"[{_SURROGATES}]")
"""A lone surrogate: a `str` can hold one (e.g. from the JSON escape "\\ud800"), UTF-8 cannot."""
UNFIT: Final = re.compile(f"[{_CONTROLS}{_SURROGATES}]")


@mypyc_attr(native_class=False)  # compiled classes cannot extend ValueError
class EventError(ValueError):
    """An event that cannot be one as given; the message names the field.

    ``ticket_id``, ``at`` and ``kind`` are what can safely be said of the event ("?" when
    its id is itself the problem, None when its time is), e.g. for a refusal.
    """

    def __init__(self, message: str, ticket_id: str = "?", at: Optional[datetime] = None, kind: str = "?"):
        super().__init__(message)
        self.ticket_id = ticket_id
        self.at = at
        self.kind = kind


# ---------------------------------------------------------------- the one check of an event

_CHECKS: Final = {"str": "text", "Optional[str]": "optional text", "bool": "boolean", "Optional[datetime]": "time"}
_FIELDS: Final[dict[type, tuple[tuple[str, str], ...]]] = {}
"""Per event type: each field and how it is checked."""
_TYPE_NAMES: Final[list[str]] = []


def register_event_types(types: Mapping[str, type]) -> None:
    """The event types :func:`check_event` takes, by name: dataclasses whose fields are of the types `_CHECKS` lists (any
    other fails here, at import)."""
    for name, cls in types.items():
        _FIELDS[cls] = tuple((f.name, _CHECKS[str(f.type)]) for f in dataclasses.fields(cls))
        _TYPE_NAMES.append(name)


def described(value: Any) -> str:
    """What a value is, for a message: short whatever the value (a 10 MB text, a 5,000-digit number)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the text {quoted(value)}"
    if isinstance(value, float):
        return f"the number {value:.6g}"
    if isinstance(value, int):
        return f"the number {value}" if value.bit_length() < 100 else "a number of more than 30 digits"
    return {"list": "a list", "dict": "an object", "tuple": "a list", "date": "a date without a time"}.get(
        type(value).__name__, f"a {type(value).__name__}")


def quoted(text: str, limit: int = 60) -> str:
    """Text quoted for a message: clipped, with control characters and lone surrogates escaped."""
    clipped = text if len(text) <= limit else text[: limit - 1] + "…"
    return "`" + UNFIT.sub(lambda m: f"\\u{ord(m.group()):04x}", clipped) + "`"


def text_problem(name: str, value: Any, limit: int = MAX_TEXT) -> Optional[str]:
    """Why ``value`` cannot be the text of field ``name`` (an id or code): wrong type, empty, too long, not clean text."""
    if not isinstance(value, str):
        return f"field `{name}` must be text, got {described(value)}"
    if len(value) > limit:
        return f"field `{name}` is longer than {limit} characters ({len(value):,})"
    if not value.strip():
        return f"field `{name}` is empty"
    bad = UNFIT.search(value)
    if bad is None:
        return None
    if SURROGATE.match(bad.group()):
        return (f"field `{name}` is not valid text: it holds a lone surrogate \\u{ord(bad.group()):04x} at character {bad.start() + 1} "
                f"(an escape such as \"\\ud800\" that encodes no character)")
    return f"field `{name}` holds a control character (U+{ord(bad.group()):04X} at character {bad.start() + 1})"


_CLEAN: Final[set[str]] = set()
"""Texts :func:`text_problem` found sound already: ids and codes recur (a ticket's id in each of its events, a category in
each ticket of it), and a set lookup costs a tenth of the check. Emptied when full."""
_CLEAN_LIMIT: Final = 8192


def _text_problem_of_event(name: str, value: Any) -> Optional[str]:
    """:func:`text_problem` of a text not remembered yet (see :func:`check_event`), remembering it if it passes (only plain
    `str`: a subclass may hash or compare as it likes)."""
    problem = text_problem(name, value)
    if problem is None and type(value) is str:
        if len(_CLEAN) >= _CLEAN_LIMIT:
            _CLEAN.clear()
        _CLEAN.add(value)
    return problem


_FIRST_SECOND: Final = FIRST_MOMENT.timestamp() + 1
_LAST_SECOND: Final = LAST_MOMENT.timestamp() - 1
"""Within a second of the years' ends a float timestamp may round the wrong way: there, moments are compared exactly."""


_FIRST_UTC: Final = FIRST_MOMENT.astimezone(UTC)
_LAST_UTC: Final = LAST_MOMENT.astimezone(UTC)


def plainly_sound(value: Any) -> TypeGuard[datetime]:
    """Whether ``value`` is a UTC datetime inside the years: the common case, which :func:`time_problem` passes, told
    without it (an engine's own moments are such). Two datetimes of one zone compare by their fields: no offset asked."""
    return type(value) is DATETIME and value.tzinfo is UTC and _FIRST_UTC <= value <= _LAST_UTC


def time_problem(name: str, value: Any, latest: datetime = LAST_MOMENT) -> Optional[str]:
    """Why ``value`` cannot be the time of field ``name``: not a datetime, no time zone, outside FIRST_YEAR–LAST_YEAR
    (``latest``: a later end, for moments a timeline may reach beyond the last event)."""
    if not isinstance(value, DATETIME):
        return f"field `{name}` must be a datetime with a time zone, got {described(value)}"
    try:
        if zoneinfo_of(value, value.tzinfo) is None and value.utcoffset() is None:
            return f"field `{name}` needs a time-zone offset (it has no time zone), e.g. {value.isoformat()}+08:00"
        # two comparisons of aware moments in different zones cost four times the timestamp; the exact ones decide only
        # within a second of either end
        last_second = _LAST_SECOND if latest is LAST_MOMENT else seconds(latest) - 1
        inside = _FIRST_SECOND < seconds(value) < last_second or FIRST_MOMENT <= value <= latest
    except Exception as error:  # a tzinfo of the caller's that raises, or gives an offset of a day or more
        return f"field `{name}` has a time zone that gives no offset ({type(error).__name__}: {quoted(str(error))[1:-1]})"
    if not inside:
        said = f"year {value.year}" if not FIRST_YEAR <= value.year <= LAST_YEAR else f"{value.isoformat()} (a year earlier or later everywhere)"
        return f"field `{name}`: {said} is outside the years cxrules computes deadlines for ({FIRST_YEAR}–{LAST_YEAR})"
    return None


def check_event(event: Any) -> Any:
    """``event`` if it is a complete, sane event; else raise :class:`EventError` naming the field.

    Checked: the type is one of the registered :data:`~.events.EVENT_TYPES` (exactly: a subclass could not be
    written down and read back); it holds its own fields and no others; ids and codes are
    text of 1–:data:`MAX_TEXT` characters, valid Unicode (no lone surrogate) without
    control characters; `member` and `satisfied` are ``True`` or ``False``; ``at`` is
    ``None`` or an aware datetime in the years :data:`FIRST_YEAR`–:data:`LAST_YEAR` somewhere on
    Earth (between :data:`FIRST_MOMENT` and :data:`LAST_MOMENT`).
    Known values (categories, roles, workflow states, ...) are the engine's to check.
    """
    cls = type(event)
    checks = _FIELDS.get(cls)
    if checks is None:
        kind = _kind_of(cls)
        raise EventError(f"an event is one of {', '.join(_TYPE_NAMES)}, not {kind}", kind=kind)
    held = getattr(event, "__dict__", _NOTHING)
    if type(held) is not dict:  # swapped for a mapping of its own, whose answers cannot be trusted
        kind = _kind_of(cls)
        raise EventError(f"{kind} holds its fields in a {quoted(type(held).__name__)[1:-1]}, not as an event's own", kind=kind)
    # its own fields are the type's: as many, each there (a dict's keys compared with a set are walked both ways, 1,000
    # instructions an event); each read once, for the checks below
    values = [held.get(name, _ABSENT) for name, _ in checks]
    if len(held) != len(checks) or any(value is _ABSENT for value in values):  # by identity: a value's own == may do anything
        kind = _kind_of(cls)
        extra = sorted(str(name) for name in held if name not in dict(checks))
        missing = [name for name, _ in checks if name not in held]
        absent = f"{kind} has no field `{quoted(extra[0])[1:-1]}`" if extra else f"{kind} needs field `{missing[0]}`"
        raise EventError(f"{absent}; fields: {', '.join(name for name, _ in checks)}", *_safe_names(held), kind)
    for (name, check), value in zip(checks, values):
        problem: Optional[str]
        if check == "text" or (check == "optional text" and value is not None):
            if type(value) is str and len(value) <= MAX_TEXT and value in _CLEAN:  # found sound before; the length first: a
                continue  # huge text is not hashed
            problem = _text_problem_of_event(name, value)
        elif check == "boolean":
            problem = None if isinstance(value, bool) else f"field `{name}` must be true or false, got {described(value)}"
        elif check == "time" and value is not None:
            if plainly_sound(value):
                continue
            problem = time_problem(name, value)
        else:
            problem = None
        if problem is not None:
            raise EventError(problem, *_safe_names(held), _kind_of(cls))
    return event


_ABSENT: Final = object()
"""The value of a field an event does not hold (no value of a caller's is this object)."""
_NOTHING: Final[dict] = {}
"""The fields of an object that has none (never changed)."""


def _kind_of(cls: type) -> str:
    """The name of an event's type for a message ("?" if it is not a short text)."""
    return cls.__name__ if isinstance(cls.__name__, str) and len(cls.__name__) <= MAX_TEXT else "?"


def _safe_names(held: dict) -> tuple[str, Optional[datetime]]:
    """The ticket id and time a refusal may name: each as given if sound, else `?` and None."""
    ticket_id, at = held.get("ticket_id"), held.get("at")
    return (ticket_id if isinstance(ticket_id, str) and text_problem("ticket_id", ticket_id) is None else "?",
            at if at is None or time_problem("at", at) is None else None)
