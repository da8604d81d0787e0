"""Decisions and events, and the records of a ticket log, are frozen dataclasses with a quicker __init__
(cxrules.engine.frozen): built, compared and guarded exactly as ``@dataclass(frozen=True)`` (the records: with
``slots=True``) would build them."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from datetime import datetime, timezone

import pytest

from cxrules.engine import decisions, events
from cxrules.engine.frozen import frozen
from cxrules.simulation import history

KINDS = [kind for module in (decisions, events) for kind in vars(module).values()
         if isinstance(kind, type) and dataclasses.is_dataclass(kind) and kind.__module__ == module.__name__]


RECORDS = [history.Pause, history.Stint, history.TicketRecord]


def _as_a_dataclass_makes_it(kind: type, slots: bool = False) -> type:
    """The same fields through ``dataclasses`` alone."""
    return dataclasses.make_dataclass(kind.__name__, [(spec.name, spec.type, dataclasses.field(default=spec.default, kw_only=spec.kw_only))
                                                      for spec in dataclasses.fields(kind)], frozen=True, slots=slots)


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


def test_every_record_of_a_log_is_made_by_frozen_with_slots():
    """(Not ``dataclass(frozen=True, slots=True)``'s own, which sets each field through ``object.__setattr__``.)"""
    assert [kind for kind in RECORDS if "__slots__" not in vars(kind) or any(
        f"_set_{spec.name}" not in kind.__init__.__code__.co_names for spec in dataclasses.fields(kind))] == []


@pytest.mark.parametrize("kind", RECORDS, ids=lambda kind: kind.__name__)
def test_a_record_takes_the_arguments_a_frozen_slotted_dataclass_takes_and_holds_each_in_its_slot(kind):
    twin_kind = _as_a_dataclass_makes_it(kind, slots=True)
    assert str(inspect.signature(kind)) == str(inspect.signature(twin_kind))
    specs = dataclasses.fields(kind)
    values = {spec.name: f"value of {spec.name}" for spec in specs}
    made = kind(*values.values())
    assert dataclasses.asdict(made) == values and not hasattr(made, "__dict__")
    assert repr(made) == repr(twin_kind(**values)) and made == kind(**values) and hash(made) == hash(kind(**values))
    assert pickle.loads(pickle.dumps(made)) == made and dataclasses.replace(made, **{specs[0].name: "other"}) != made
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, specs[-1].name, "changed")


def test_a_slotted_record_s_defaults_are_given_when_left_out():
    created = datetime(2025, 3, 3, 9, tzinfo=timezone.utc)
    record = history.TicketRecord("T1", created, "question", "phone", "normal", "normal")
    assert (record.member, record.customer_id, record.stints, record.reopenings, record.made_sla) == (False, None, (), 0, None)


def test_a_slotted_kind_sets_the_slots_its_base_holds_too():
    @frozen(slots=True)
    class Base:
        first: str

    @frozen(slots=True)
    class Extended(Base):
        second: int = 2

    made = Extended("a")
    assert (made.first, made.second) == ("a", 2) and "first" not in vars(Extended) and not hasattr(made, "__dict__")


@pytest.mark.parametrize("slots", [False, True])
def test_fields_frozen_would_build_wrongly_are_refused(slots):
    """A field left out of __init__ would become a parameter, an InitVar would be dropped, and a field named as the
    generated __init__'s own names would break it."""
    with pytest.raises(TypeError, match="init=False"):
        @frozen(slots=slots)
        class LeftOut:
            kept: int
            derived: int = dataclasses.field(default=0, init=False)
    with pytest.raises(TypeError, match="InitVar"):
        @frozen(slots=slots)
        class Passing:
            kept: int
            only_passed: dataclasses.InitVar[int] = 0
    for name in ("_self", "_held", "_defaults", "_set_kept"):
        with pytest.raises(TypeError, match=name):
            frozen(slots=slots)(dataclasses.make_dataclass("Clashing", [("kept", int), (name, int)]))
