"""Frozen dataclasses that are quick to build: the engine's decisions and events.

The engine makes about ten of them a ticket. ``@dataclass(frozen=True)`` makes its ``__init__`` set each field through
``object.__setattr__`` to get past the guard against changes, which takes 3.5 times as long as writing the new instance's
``__dict__``; :func:`frozen` gives the class an ``__init__`` that writes it at once, and is otherwise that dataclass.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar, dataclass_transform

__all__ = ["frozen"]

_Class = TypeVar("_Class", bound=type)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: _Class) -> _Class:
    """``@dataclass(frozen=True)`` with a quicker ``__init__`` of the same signature (fields, defaults, keyword-only ones).

    Like the dataclass's own, it is generated from source: a function that takes ``*args`` and binds them itself would
    lose most of what is saved. Default factories and ``__post_init__`` are not supported (no decision or event needs
    them), and are refused rather than ignored.
    """
    made: Any = dataclass(frozen=True)(cls)
    specs = fields(made)
    if any(spec.default_factory is not MISSING for spec in specs) or hasattr(made, "__post_init__"):
        raise TypeError(f"{made.__name__}: @frozen supports neither default factories nor __post_init__")

    def parameter(spec) -> str:
        return spec.name if spec.default is MISSING else f"{spec.name}=_defaults[{spec.name!r}]"

    positional = [parameter(spec) for spec in specs if not spec.kw_only]
    keyword = [parameter(spec) for spec in specs if spec.kw_only]
    parameters = ", ".join(["_self", *positional, *(["*", *keyword] if keyword else [])])
    writes = "".join(f"    _held[{spec.name!r}] = {spec.name}\n" for spec in specs)
    namespace: dict = {"_defaults": {spec.name: spec.default for spec in specs if spec.default is not MISSING}}
    exec(f"def __init__({parameters}):\n    _held = _self.__dict__\n{writes or '    pass'}\n", namespace)  # noqa: S102 (our source)
    init = namespace["__init__"]
    init.__qualname__, init.__module__ = f"{made.__qualname__}.__init__", made.__module__
    init.__annotations__ = dict(made.__init__.__annotations__)
    made.__init__ = init
    return made
