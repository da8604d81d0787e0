"""Engine values as JSON data: times keep their IANA zone (``{"$time": ISO, "$zone": name}``), tuples are lists.

One codec for everything the engine writes down: events, decisions, tickets and timers in the stores.
Reading it back checks every time and zone, so a damaged or hostile value is a
:class:`DataError`, never an OSError or a time that came back as another.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["DataError", "to_data", "from_data", "time_to_json"]


class DataError(ValueError):
    """A stored value that is not what the engine writes: the message says which."""


_PLAIN = (str, int, float, bool)


def to_data(value: Any) -> Any:
    """JSON-ready form of a state value: times as ``{"$time", "$zone"}``, tuples as lists."""
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, datetime):
        data = {"$time": value.isoformat()}
        if isinstance(value.tzinfo, ZoneInfo):
            data["$zone"] = value.tzinfo.key
        return data
    if isinstance(value, (tuple, list)):
        return [to_data(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise DataError(f"cannot write a {type(value).__name__} into stored data")


def time_to_json(moment: datetime) -> str:
    """``json.dumps(to_data(moment))``, faster: timers are written by the thousand."""
    if isinstance(moment.tzinfo, ZoneInfo):
        return f'{{"$time": "{moment.isoformat()}", "$zone": {json.dumps(moment.tzinfo.key)}}}'
    return f'{{"$time": "{moment.isoformat()}"}}'


def from_data(value: Any) -> Any:
    """The inverse of :func:`to_data` (lists come back as tuples)."""
    if isinstance(value, dict):
        if set(value) - {"$time", "$zone"} or not isinstance(value.get("$time"), str) or not isinstance(value.get("$zone", ""), str):
            raise DataError(f"unexpected object {sorted(map(str, value))[:5]}")
        try:
            moment = datetime.fromisoformat(value["$time"])
            zone = ZoneInfo(value["$zone"]) if "$zone" in value else None
        except (ValueError, OSError, KeyError) as error:  # a bad time, or a zone name that is no zone
            raise DataError(f"bad time {value['$time'][:40]!r} in zone {value.get('$zone', '')[:40]!r}: {error}") from None
        if moment.tzinfo is None:
            raise DataError(f"time {value['$time'][:40]} has no offset")
        return moment.astimezone(zone) if zone is not None else moment
    if isinstance(value, list):
        return tuple(from_data(item) for item in value)
    return value
