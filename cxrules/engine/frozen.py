"""Frozen dataclasses that are quick to build: the engine's events, the records of a ticket log.

A replay makes several events a ticket, and reading a log one record a row. ``@dataclass(frozen=True)`` makes its
``__init__`` set each field through ``object.__setattr__`` to get past the guard against changes, which takes 3.5 times
as long as writing the new instance's ``__dict__``; :func:`frozen` gives the class an ``__init__`` that writes it at once,
and is otherwise that dataclass. With ``slots=True`` there is no ``__dict__``: each field is written by its slot's own
descriptor (a log's record of 16 fields is built in 45 % of the time).

The engine's decisions are compiled classes instead, whose ``Final`` fields :func:`written_once` guards where they run
interpreted.
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, FrozenInstanceError, dataclass, field, fields
from typing import Any, Callable, Final, Optional, TypeVar, dataclass_transform, overload

__all__ = ["frozen", "written_once"]

_Class = TypeVar("_Class", bound=type)
_OWN_NAMES: Final = frozenset({"_self", "_held", "_defaults"})
"""Names the generated ``__init__`` uses itself (besides ``_set_`` and a field's name, for a slot's descriptor)."""


@overload
@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: _Class, /) -> _Class: ...
@overload
@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(*, slots: bool = False) -> Callable[[_Class], _Class]: ...


def frozen(cls: Optional[_Class] = None, /, *, slots: bool = False) -> Any:
    """``@dataclass(frozen=True)`` (``slots``: and ``slots=True``) with a quicker ``__init__`` of the same signature (fields,
    defaults, keyword-only ones).

    Like the dataclass's own, it is generated from source: a function that takes ``*args`` and binds them itself would
    lose most of what is saved. Default factories and ``__post_init__`` are not supported (no decision, event or record
    needs them), and are refused rather than ignored.
    """
    if cls is None:
        return lambda undecorated: _made(undecorated, slots)
    return _made(cls, slots)


def _made(cls: _Class, slots: bool) -> _Class:
    made: Any = dataclass(frozen=True, slots=slots)(cls)
    specs = fields(made)
    if any(spec.default_factory is not MISSING for spec in specs) or hasattr(made, "__post_init__"):
        raise TypeError(f"{made.__name__}: @frozen supports neither default factories nor __post_init__")
    if set(inspect.signature(made.__init__).parameters) - {"self"} != {spec.name for spec in specs}:  # the dataclass's own
        raise TypeError(f"{made.__name__}: @frozen supports no field left out of __init__ (init=False) and no InitVar")
    if clashing := [spec.name for spec in specs if spec.name in _OWN_NAMES or spec.name.startswith("_set_")]:
        raise TypeError(f"{made.__name__}: @frozen's __init__ uses the names of fields {', '.join(clashing)} itself")

    def parameter(spec) -> str:
        return spec.name if spec.default is MISSING else f"{spec.name}=_defaults[{spec.name!r}]"

    positional = [parameter(spec) for spec in specs if not spec.kw_only]
    keyword = [parameter(spec) for spec in specs if spec.kw_only]
    parameters = ", ".join(["_self", *positional, *(["*", *keyword] if keyword else [])])
    namespace: dict = {"_defaults": {spec.name: spec.default for spec in specs if spec.default is not MISSING}}
    if slots:  # each slot's descriptor, found as attribute lookup would find it
        namespace.update({f"_set_{spec.name}": _slot(made, spec.name).__set__ for spec in specs})
        body = "".join(f"    _set_{spec.name}(_self, {spec.name})\n" for spec in specs)
    else:
        body = "    _held = _self.__dict__\n" + "".join(f"    _held[{spec.name!r}] = {spec.name}\n" for spec in specs)
    exec(f"def __init__({parameters}):\n{body if specs else '    pass'}\n", namespace)  # noqa: S102 (our source)
    init = namespace["__init__"]
    init.__qualname__, init.__module__ = f"{made.__qualname__}.__init__", made.__module__
    init.__annotations__ = dict(made.__init__.__annotations__)
    made.__init__ = init
    return made


def _slot(cls: type, name: str) -> Any:
    """The descriptor of slot ``name`` of ``cls``, from the first class of its MRO that holds it."""
    return next(klass.__dict__[name] for klass in cls.__mro__ if name in klass.__dict__)


def written_once(base: type) -> None:
    """Make the fields of dataclass ``base`` and of its subclasses final at run time where they are final for mypy alone.

    A compiled class refuses to set or delete a ``Final`` field from outside; the same source run by the interpreter does
    not. With this, as with a frozen dataclass, a field may be set only while it is unset (by ``__init__``), and nothing
    else may be set or deleted. (A frozen dataclass's own guard would refuse ``__init__`` too, which sets its fields by
    plain assignment to be compiled into a native store.)"""

    def refuse_a_change(held: Any, name: str, value: Any) -> None:
        if name in held.__dict__ or name not in held.__dataclass_fields__:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        held.__dict__[name] = value

    def refuse_a_deletion(held: Any, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    setattr(base, "__setattr__", refuse_a_change)
    setattr(base, "__delattr__", refuse_a_deletion)
