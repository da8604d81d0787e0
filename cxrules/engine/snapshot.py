"""The engine's state as data: the snapshot format of the SQLite store, versioned and documented.

A snapshot is one JSON object (format 2)::

    {"format": 2,
     "tickets": [{"id": "T1", "category": "complaint", ..., "created_at": TIME, "fired": ["key", ...], ...}],
     "timers": [{"due": TIME, "seq": 7, "kind": "sla", "ticket_id": "T1", "key": "T1:sla:...", "data": VALUE}],
     "fired_keys": ["surge:...", ...], "queues": {"role": ["T2", ...]}, "loads": {"role#1": 2},
     "cursors": {"role": 0}, "arrivals": {"surge": [TIME, ...]}, "active_surges": ["surge"],
     "fallback": ["T9"], "next_seq": 8}

where TIME is ``{"$time": ISO 8601 with offset}`` plus ``"$zone": IANA name`` when the time
carries one, and a VALUE is JSON with tuples as lists and times as TIME. Reading checks every
part and raises :class:`SnapshotError` with the place that is wrong; nothing in a snapshot is
ever executed. Format 1 (cxrules 0.1) pickled the state: :func:`load_legacy_pickle` reads it
with an unpickler that builds only the engine's own state classes, once, to migrate it.
"""

from __future__ import annotations

import io
import json
import pickle
from collections import deque
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from .data import DataError, from_data, to_data
from .store import TicketState, Timer, entry_timer, timer_entry

__all__ = ["FORMAT", "SnapshotError", "dump_state", "load_state", "load_legacy_pickle", "ticket_to_data", "ticket_from_data", "times_from_data", "strings_from_data"]

FORMAT = 2
"""1: a pickle (cxrules 0.1, read only to migrate); 2: JSON, as described above."""


class SnapshotError(DataError):
    """A snapshot that is not what the engine wrote: the message names the part."""


_TICKET_FIELD_ORDER = tuple(f.name for f in fields(TicketState))
_TICKET_FIELDS = set(_TICKET_FIELD_ORDER)
_ADDED_FIELDS: dict[str, Any] = {"pause_reason": None, "customer_id": None, "tags": [], "next_reply_due": None, "next_reply_since": None, "resolution_since": None,
                 "paused_min": 0.0, "first_response_in_min": None,
                 "resolution_in_min": None, "next_reply_in_min": None}
"""Ticket fields added after format 3 was first written, with the value a row without them reads as."""
_SETS = ("fired", "followups_pending", "tags")
_FROZEN_SETS = ("followups_pending", "tags")
"""Those a ticket holds frozen (:data:`~.store.TicketState`'s fields)."""
_TIMES = ("created_at", "first_response_due", "resolution_due", "paused_since", "next_reply_due", "next_reply_since", "resolution_since")


def dump_state(state: dict) -> str:
    """The snapshot text of a :meth:`MemoryStore.state` dict."""
    tickets = [ticket_to_data(ticket) for ticket in state["tickets"].values()]
    timers = [{"due": to_data(t.due), "seq": t.seq, "kind": t.kind, "ticket_id": t.ticket_id, "key": t.key, "data": to_data(t.data)}
              for t in map(entry_timer, sorted(state["timers"], key=lambda entry: (entry[0], entry[1])))]
    return json.dumps({
        "format": FORMAT, "tickets": tickets, "timers": timers, "fired_keys": sorted(state["fired_keys"]),
        "queues": {role: list(queue) for role, queue in state["queues"].items()}, "loads": dict(state["loads"]),
        "cursors": dict(state["cursors"]),
        "arrivals": {surge: [to_data(at) for at in times] for surge, times in state["arrivals"].items()},
        "active_surges": sorted(state["active_surges"]), "fallback": list(state["fallback"]), "next_seq": state["next_seq"],
    }, ensure_ascii=False, separators=(",", ":"))


def ticket_to_data(ticket: TicketState) -> dict:
    """One ticket as a JSON object (the form of a snapshot's `tickets` and of a database row)."""
    row = {name: getattr(ticket, name) for name in _TICKET_FIELD_ORDER}  # every field is text, a number, a flag or None, but for these:
    for name in _TIMES:
        if row[name] is not None:
            row[name] = to_data(row[name])
    for name in _SETS:
        row[name] = sorted(row[name])
    return row


def ticket_from_data(row: Any) -> TicketState:
    """A ticket back from :func:`ticket_to_data`'s form, every field checked (SnapshotError names the wrong one)."""
    if isinstance(row, dict):  # a row written before some fields were added has none of theirs yet
        row = {**{name: value for name, value in _ADDED_FIELDS.items() if name not in row}, **row}
    if not isinstance(row, dict) or set(row) != _TICKET_FIELDS:
        found = set(row) if isinstance(row, dict) else set()
        raise SnapshotError(f"ticket fields {sorted(found ^ _TICKET_FIELDS)} differ from the engine's")
    try:
        return TicketState(**{name: _TICKET_CHECKS[name](row[name]) for name in row})
    except DataError as error:
        raise SnapshotError(f"ticket {str(row.get('id'))[:40]!r}: {error}") from None


def times_from_data(values: Any) -> list[datetime]:
    """Times written with :func:`~.data.to_data`, each checked."""
    return [_time(from_data(value)) for value in _expecting(list, "a list")(values)]


def load_state(text: str | bytes) -> dict:
    """A :meth:`MemoryStore.restore` dict from snapshot text, every part checked."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise SnapshotError(f"not JSON: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SnapshotError(f"not a snapshot of format {FORMAT}")
    try:
        tickets = {ticket.id: ticket for ticket in map(ticket_from_data, data["tickets"])}
        timers = []
        for row in data["timers"]:
            timer = Timer(_time(from_data(row["due"])), _integer(row["seq"]), _string(row["kind"]),
                          None if row["ticket_id"] is None else _string(row["ticket_id"]), _string(row["key"]), from_data(row["data"]))
            timers.append(timer_entry(*timer))
        return {
            "tickets": tickets, "timers": timers, "fired_keys": set(strings_from_data(data["fired_keys"])),
            "queues": {_string(role): deque(strings_from_data(queue)) for role, queue in data["queues"].items()},
            "loads": {_string(agent): _integer(load) for agent, load in data["loads"].items()},
            "cursors": {_string(role): _integer(number) for role, number in data["cursors"].items()},
            "arrivals": {_string(surge): deque(times_from_data(times)) for surge, times in data["arrivals"].items()},
            "active_surges": set(strings_from_data(data["active_surges"])), "fallback": list(strings_from_data(data["fallback"])),
            "next_seq": _integer(data["next_seq"]),
        }
    except (KeyError, TypeError, AttributeError) as error:
        raise SnapshotError(f"missing or malformed part: {error}") from None


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def _expecting(kind: type | tuple[type, ...], what: str) -> Callable[[Any], Any]:
    """A check that a value read back is of ``kind`` (never a bool for a number), naming ``what`` otherwise."""
    numeric = int in (kind if isinstance(kind, tuple) else (kind,))

    def check(value: Any) -> Any:
        if not isinstance(value, kind) or (numeric and isinstance(value, bool)):
            raise SnapshotError(f"expected {what}, found {type(value).__name__}")
        return value
    return check


_boolean = _expecting(bool, "true or false")
_string = _expecting(str, "text")
_integer = _expecting(int, "a whole number")
_time = _expecting(datetime, "a time")
_number = _expecting((int, float), "a number")


def strings_from_data(values: Any) -> list[str]:
    return [_string(value) for value in _expecting(list, "a list")(values)]


_TICKET_CHECKS: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(("id", "category", "channel", "segment", "priority", "status"), _string),
    **dict.fromkeys(("role", "agent", "rule", "sla", "escalation", "workflow", "state", "customer_id", "pause_reason"), _optional(_string)),
    **dict.fromkeys(("member", "responded", "fallback"), _boolean),
    "generation": _integer, "first_seq": _integer, "created_at": lambda value: _time(from_data(value)),
    **dict.fromkeys(("first_response_due", "resolution_due", "paused_since", "next_reply_due", "next_reply_since", "resolution_since"), _optional(lambda value: _time(from_data(value)))),
    "paused_min": lambda value: _number(value),
    **dict.fromkeys(("first_response_in_min", "resolution_in_min", "next_reply_in_min"), _optional(lambda value: _number(value))),
    "fired": lambda value: set(strings_from_data(value)),
    **dict.fromkeys(_FROZEN_SETS, lambda value: frozenset(strings_from_data(value))),
}
"""How each field of a ticket is read back, checked."""


def _zone_unpickler(owner: Any, name: str) -> Callable:
    """The one `getattr` a pickled ZoneInfo needs (`ZoneInfo._unpickle`); any other is refused."""
    if owner is ZoneInfo and name == "_unpickle":
        return ZoneInfo._unpickle  # type: ignore[attr-defined]
    raise SnapshotError(f"a legacy snapshot asks for {name!r} of {owner!r}")


class _PickledTicket:
    """A ticket as a pickle holds it: the unpickler sets its fields on this plain object (a :class:`TicketState` is compiled
    and takes no pickled state of an ordinary class); :func:`load_legacy_pickle` then builds the ticket from them."""


_LEGACY_GLOBALS: dict[tuple[str, str], Any] = {
    ("cxrules.engine.store", "TicketState"): _PickledTicket, ("cxrules.engine.store", "Timer"): Timer,
    ("collections", "deque"): deque, ("datetime", "datetime"): datetime, ("datetime", "timezone"): timezone,
    ("datetime", "timedelta"): timedelta, ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("zoneinfo", "ZoneInfo"): ZoneInfo, ("builtins", "getattr"): _zone_unpickler,
}


class _LegacyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _LEGACY_GLOBALS[(module, name)]
        except KeyError:
            raise SnapshotError(f"a legacy snapshot asks for `{module}.{name}`, which is not engine state; refused") from None


def load_legacy_pickle(blob: bytes) -> dict:
    """A format-1 (pickled) snapshot, read building only the engine's state classes, to migrate it to JSON."""
    try:
        state = _LegacyUnpickler(io.BytesIO(blob)).load()
    except SnapshotError:
        raise
    except Exception as error:  # a damaged pickle fails in many ways; none may escape as anything but this
        raise SnapshotError(f"unreadable legacy snapshot: {error}") from None
    if not isinstance(state, dict) or not isinstance(state.get("tickets"), dict):
        raise SnapshotError("a legacy snapshot that is not the engine's state")
    state["tickets"] = {ticket_id: _unpickled(ticket) for ticket_id, ticket in state["tickets"].items()}
    return state


def _unpickled(ticket: Any) -> TicketState:
    """A pickled ticket's fields as a :class:`TicketState`, those added since it was written at their defaults (checked
    with every other field when the migrated state is read back)."""
    if not isinstance(ticket, _PickledTicket):
        raise SnapshotError("a legacy snapshot whose tickets are not tickets")
    held = vars(ticket)
    if differ := (set(held) ^ _TICKET_FIELDS) - set(_ADDED_FIELDS):
        raise SnapshotError(f"a legacy snapshot's ticket fields {sorted(map(str, differ))} differ from the engine's")
    given = {**_ADDED_FIELDS, **held}
    try:
        for name in _SETS:  # checked here: written out first, a set of anything but strings could not be sorted
            given[name] = _TICKET_CHECKS[name](_pickled_keys(given[name]))
        return TicketState(**given)
    except (TypeError, SnapshotError) as error:  # compiled, a field of the wrong type is refused here; interpreted, when read back
        raise SnapshotError(f"a legacy snapshot's ticket {str(held.get('id'))[:40]!r}: {error}") from None


def _pickled_keys(value: Any) -> Any:
    """A pickled ticket's set of keys as a snapshot's list (cxrules 0.1 took None for an empty one); anything else as it is,
    to be refused by the check."""
    return [] if value is None else list(value) if isinstance(value, (set, frozenset, list)) else value
