"""Decisions and events are frozen dataclasses with a quicker __init__ (cxrules.engine.frozen): built, compared and guarded
exactly as ``@dataclass(frozen=True)`` would build them."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from cxrules.engine import decisions, events
from cxrules.engine.frozen import frozen

KINDS = [kind for module in (decisions, events) for kind in vars(module).values()
         if isinstance(kind, type) and dataclasses.is_dataclass(kind) and kind.__module__ == module.__name__]


def _as_a_dataclass_makes_it(kind: type) -> type:
    """The same fields through ``dataclasses`` alone."""
    return dataclasses.make_dataclass(kind.__name__, [(spec.name, spec.type, dataclasses.field(default=spec.default, kw_only=spec.kw_only))
                                                      for spec in dataclasses.fields(kind)], frozen=True)


def test_every_decision_and_event_kind_is_made_by_frozen():
    """(Not ``dataclass(frozen=True)``'s own, which sets each field through ``object.__setattr__``.)"""
    assert len(KINDS) == 32 and [kind for kind in KINDS if "_held" not in kind.__init__.__code__.co_varnames] == []


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_a_kind_takes_the_arguments_a_frozen_dataclass_takes_and_holds_each_in_its_field(kind):
    assert str(inspect.signature(kind)) == str(inspect.signature(_as_a_dataclass_makes_it(kind)))
    specs = dataclasses.fields(kind)
    values = {spec.name: f"value of {spec.name}" for spec in specs}
    made = kind(*(values[spec.name] for spec in specs if not spec.kw_only), **{spec.name: values[spec.name] for spec in specs if spec.kw_only})
    assert dataclasses.asdict(made) == values and list(vars(made)) == list(values)  # in order: the wire form is vars()
    twin = _as_a_dataclass_makes_it(kind)(**values)
    assert repr(made) == repr(twin) and made == kind(**values) and hash(made) == hash(kind(**values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, specs[0].name, "changed")


def test_defaults_are_given_when_left_out():
    created = events.TicketCreated("A", category="complaint", channel="phone", segment="vip", priority="high")
    assert (created.member, created.customer_id, created.at) == (False, None, None)


def test_what_frozen_cannot_build_fast_is_refused():
    with pytest.raises(TypeError, match="default factories"):
        @frozen
        class WithAFactory:
            tags: list = dataclasses.field(default_factory=list)
    with pytest.raises(TypeError, match="__post_init__"):
        @frozen
        class Checked:
            value: int

            def __post_init__(self):
                pass
