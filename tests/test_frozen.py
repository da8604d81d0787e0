"""Events and the records of a ticket log are frozen dataclasses with a quicker __init__ (cxrules.engine.frozen): built,
compared and guarded exactly as ``@dataclass(frozen=True)`` (the records: with ``slots=True``) would build them. Decisions
are compiled classes with an ``__init__`` written out: built, compared, copied and guarded as frozen dataclasses of
their fields are, compiled or not."""

from __future__ import annotations

import dataclasses
import inspect
import copy
import pickle
from datetime import datetime, timedelta, timezone

import pytest

from cxrules.engine import decisions, events
from cxrules.engine.frozen import frozen
from cxrules.engine.wire import decision_from_json, decision_to_json
from cxrules.simulation import history, journeys

KINDS = [kind for kind in vars(events).values() if isinstance(kind, type) and dataclasses.is_dataclass(kind) and kind.__module__ == events.__name__]
DECISIONS = [getattr(decisions, name) for name in decisions.__all__]
_NOT_TEXT = {"position": 1, "level": 2, "count": 3, "in_min": 4.5, "paused_min": 5.5, "met": True, "roles": ("role a",),
             "notify": ("role b",), "matched": ("ticket c",), "actions": ("action d",)}
"""A value of its own type for each decision field that is not text (compiled, a decision checks the types of ints,
floats, bools and tuples it is given)."""


def _values_of(kind: type) -> dict:
    """A value for each field of decision ``kind``, each different."""
    return {spec.name: _NOT_TEXT.get(spec.name, f"value of {spec.name}") for spec in dataclasses.fields(kind)}


RECORDS = [history.Pause, history.Stint, history.TicketRecord]


def _as_a_dataclass_makes_it(kind: type, slots: bool = False) -> type:
    """The same fields through ``dataclasses`` alone."""
    return dataclasses.make_dataclass(kind.__name__, [(spec.name, spec.type, dataclasses.field(default=spec.default, kw_only=spec.kw_only))
                                                      for spec in dataclasses.fields(kind)], frozen=True, slots=slots)


def test_every_event_kind_is_made_by_frozen():
    """(Not ``dataclass(frozen=True)``'s own, which sets each field through ``object.__setattr__``.)"""
    assert len(KINDS) == 13 and [kind for kind in KINDS if "_held" not in kind.__init__.__code__.co_varnames] == []


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


def test_every_decision_kind_is_a_dataclass_with_its_own_init():
    """(Not the ``__init__`` ``@dataclass`` generates, which compiled would be interpreted; the fields declared Final.)"""
    assert len(DECISIONS) == 19 and all(dataclasses.is_dataclass(kind) and "__init__" in vars(kind) for kind in DECISIONS
                                        if kind not in (decisions.SlaWarning, decisions.SlaBreached, decisions.SurgeActivated,
                                                        decisions.SurgeDeactivated))


@pytest.mark.parametrize("kind", DECISIONS, ids=lambda kind: kind.__name__)
def test_a_decision_takes_its_fields_in_order_and_holds_each(kind):
    specs = dataclasses.fields(kind)
    assert list(inspect.signature(kind).parameters) == [spec.name for spec in specs]
    values = _values_of(kind)
    made = kind(*values.values())
    assert made.field_values() == dataclasses.asdict(made) == values and list(made.field_values()) == list(values)
    assert made == kind(**values) and hash(made) == hash(kind(**values)) and made != dataclasses.replace(made, ticket_id="other")
    twin = dataclasses.make_dataclass(kind.__name__, [spec.name for spec in specs], frozen=True)(**values)
    assert repr(made) == repr(twin) and hash(made) == hash(twin)


@pytest.mark.parametrize("kind", DECISIONS, ids=lambda kind: kind.__name__)
def test_a_decision_is_copied_pickled_and_written_whole_and_refuses_every_change(kind):
    made = kind(*_values_of(kind).values())
    for twin in (copy.copy(made), copy.deepcopy(made), pickle.loads(pickle.dumps(made)), decision_from_json(decision_to_json(made))):
        assert type(twin) is kind and twin == made and twin is not made
    for change in (lambda: setattr(made, "ticket_id", "changed"), lambda: setattr(made, dataclasses.fields(kind)[-1].name, "changed"),
                   lambda: delattr(made, "at"), lambda: setattr(made, "added", 1)):
        with pytest.raises(AttributeError):
            change()
    assert made.field_values() == _values_of(kind)


@pytest.mark.parametrize("make", [lambda: journeys.Phase(timedelta(minutes=5), "pause", "waiting_customer"),
                                  lambda: journeys.Step("desk", (journeys.Phase(timedelta(minutes=5)),), False, timedelta(days=1), False),
                                  lambda: journeys.Next("move", "desk", timedelta(hours=2))], ids=["Phase", "Step", "Next"])
def test_a_replay_s_phases_steps_and_what_follows_refuse_every_change_compiled_or_not(make):
    """Their fields are Final, with an ``__init__`` written out (as the decisions'): compiled, the class refuses a change;
    interpreted, ``written_once`` does."""
    made, twin = make(), make()
    for change in (lambda: setattr(made, dataclasses.fields(made)[0].name, "changed"),
                   lambda: setattr(made, dataclasses.fields(made)[-1].name, "changed"),
                   lambda: delattr(made, dataclasses.fields(made)[0].name), lambda: setattr(made, "added", 1)):
        with pytest.raises(AttributeError):
            change()
    assert made == twin and hash(made) == hash(twin)


def test_the_decisions_that_default_a_field_give_the_defaults_they_gave_as_frozen_dataclasses():
    """(A field's default lives in the ``__init__`` written out; ``dataclasses.fields()`` tells none.)"""
    defaults = {kind.__name__: {name: parameter.default for name, parameter in inspect.signature(kind).parameters.items()
                                if parameter.default is not inspect.Parameter.empty} for kind in DECISIONS}
    assert {kind: given for kind, given in defaults.items() if given} == {
        "Assigned": {"first_response_due": None, "resolution_due": None}, "Escalated": {"notify": (), "next_at": None},
        "AutomationFired": {"matched": (), "actions": ()}}


def test_the_fields_two_decisions_share_are_no_decision_of_their_own():
    written = decisions.SlaWarning("A", datetime(2025, 3, 3, 9, tzinfo=timezone.utc), "resolution", datetime(2025, 3, 3, 10, tzinfo=timezone.utc))
    for shared in ("_TargetDue", "Decision"):
        text = decision_to_json(written).replace('"SlaWarning"', f'"{shared}"')
        with pytest.raises(ValueError, match="not a decision" if shared == "_TargetDue" else "not a Decision"):
            decision_from_json(text)


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
