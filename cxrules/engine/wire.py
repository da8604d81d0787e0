"""Events and decisions as JSON text: how the stores write them down and services pass them on."""

from __future__ import annotations

import json

from . import decisions as d
from . import events as e
from .data import DataError, from_data, to_data

__all__ = ["event_to_json", "event_from_json", "decision_to_json", "decision_from_json"]


def event_to_json(event: e.Event) -> str:
    return json.dumps({"type": type(event).__name__, **{k: to_data(v) for k, v in vars(event).items()}}, ensure_ascii=False)


def event_from_json(text: str) -> e.Event:
    """An event as :func:`event_to_json` wrote it (its time with its zone), checked as any event is."""
    return e.parse_event(json.loads(text))


_DECISIONS = {cls.__name__: cls for cls in vars(d).values()
              if isinstance(cls, type) and issubclass(cls, d.Decision) and not cls.__name__.startswith("_")}


def decision_to_json(decision: d.Decision) -> str:
    return json.dumps({"type": decision.kind, **{k: to_data(v) for k, v in decision.field_values().items()}}, ensure_ascii=False)


def decision_from_json(text: str) -> d.Decision:
    """A decision as :func:`decision_to_json` wrote it; ValueError when the text is not one."""
    data = json.loads(text)
    cls = _DECISIONS.get(data.pop("type", None)) if isinstance(data, dict) else None
    if cls is None:
        raise ValueError(f"not a decision: {text[:80]}")
    try:
        return cls(**{k: from_data(v) for k, v in data.items()})
    except (TypeError, DataError) as error:
        raise ValueError(f"not a {cls.__name__}: {error}") from None
