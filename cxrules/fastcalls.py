"""The standard library's functions that the compiled modules call on every event, bound as constants.

Compiled, a module-level name declared ``Final`` is a C static, and mypyc reads another compiled module's ``Final`` names
natively; any other global name, a function imported with ``from`` included, is looked up in the module's dict at each
use (a fifth of a µs). The engine, the calendars and the replay import these from here.

The same goes for a lock: ``with`` on one calls its ``__enter__`` and ``__exit__`` by name, which a compiled class's are
not (:func:`guarded`). And a search of a few ints costs less done here than by the C function (:func:`ints_bisect_right`).
"""

from __future__ import annotations

import bisect
import functools
import heapq
import threading
from types import FunctionType
from typing import Any, Callable, Final, cast, final

__all__ = ["bisect_left", "bisect_right", "insort", "heappush", "heappop", "partial", "Guard", "guarded", "ints_bisect_left",
           "ints_bisect_right"]

bisect_left: Final = bisect.bisect_left
bisect_right: Final = bisect.bisect_right
insort: Final = bisect.insort
heappush: Final = heapq.heappush
heappop: Final = heapq.heappop
partial: Final = functools.partial


def ints_bisect_right(values: list[int], value: int, lo: int, hi: int) -> int:
    """``bisect_right(values, value, lo, hi)`` of ints. Calling the C function, with ``value``, ``lo`` and ``hi`` made Python
    ints and its comparisons asked of them, costs more than the search, which compiled compares machine ints.

    The calendars search every span their table holds from a moment's date on (two months of dates on automotive, more as
    later dates are asked for, up to two years), for an answer nearly always within a few places of ``lo`` (the span a
    moment falls in, from the first of its own date; a deadline's, from the span it starts in): the search strides from
    ``lo`` 1, 2, 4... places on until it passes the answer, then bisects the last stride, in twice the steps of the
    distance's logarithm rather than the range's."""
    stride = 1
    while lo + stride <= hi:
        probe = lo + stride - 1
        if value < values[probe]:
            hi = probe  # the answer is at most ``probe``, and every value before ``lo`` is at most ``value``
            break
        lo = probe + 1
        stride *= 2
    while lo < hi:
        middle = (lo + hi) // 2
        if value < values[middle]:
            hi = middle
        else:
            lo = middle + 1
    return lo


def ints_bisect_left(values: list[int], value: int, lo: int, hi: int) -> int:
    """``bisect_left(values, value, lo, hi)`` of ints: the first place whose value is at least ``value``, which among ints
    is the first past ``value - 1`` (see :func:`ints_bisect_right`)."""
    return ints_bisect_right(values, value - 1, lo, hi)


@final
class Guard:
    """A :class:`threading.Lock` or ``RLock`` to take with ``with``, as the lock itself is taken: compiled, ``with`` on a
    compiled class calls its ``__enter__`` and ``__exit__`` directly, where a lock's are looked up by name and bound at each
    use (four calls by name an event, in the engine and its clock). It also takes and releases the lock as the lock does."""

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.acquire: Final[Callable[..., bool]] = lock.acquire
        self.release: Final[Callable[[], None]] = lock.release

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.release()  # an error goes on


def guarded(lock: Any = None) -> Guard:
    """``lock`` (a new :class:`threading.Lock` if not given) to take with ``with``: a :class:`Guard` of it where this module
    is compiled, else the lock itself. Interpreted, a guard's ``__enter__`` and ``__exit__`` are frames of Python, where an
    exception raised from outside (Ctrl-C) between taking the lock and returning would leave it held; a lock's own are C."""
    if lock is None:
        lock = threading.Lock()
    return Guard(lock) if COMPILED else cast(Guard, lock)  # interpreted, taken as a guard is: acquire, release, with


COMPILED: Final = not isinstance(guarded, FunctionType)
"""Whether this module runs compiled (its functions are then built-in ones)."""
