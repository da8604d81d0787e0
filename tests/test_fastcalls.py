"""The compiled stand-ins of the standard library's calls: a lock taken by `with` (the engine's, its clock's and its
automations'), and the calendars' searches of a few ints."""

from __future__ import annotations

import bisect
import threading

import pytest
from hypothesis import given, strategies as st

from cxrules.fastcalls import COMPILED, Guard, guarded, ints_bisect_left, ints_bisect_right


def test_a_guard_holds_its_lock_inside_with_and_releases_it_after():
    """Fails if `__enter__` takes nothing or `__exit__` releases nothing."""
    lock = threading.Lock()
    with Guard(lock):
        assert not lock.acquire(blocking=False)
    assert lock.acquire(blocking=False)


def test_a_guard_releases_its_lock_when_the_block_raises_and_the_error_goes_on():
    """Fails if `__exit__` swallows the error (returns true) or leaves the lock taken."""
    guard = Guard(threading.Lock())
    with pytest.raises(KeyError):
        with guard:
            raise KeyError("x")
    assert not guard.lock.locked()


def test_a_guard_is_reentrant_over_a_reentrant_lock_only():
    """Fails if the guard takes a lock of its own instead of the one given, or over a plain lock is re-entrant (asked
    without blocking: a wrong lock fails the test rather than hanging it)."""
    reentrant = threading.RLock()
    guard = Guard(reentrant)
    assert guard.lock is reentrant
    with guard:
        assert guard.acquire(blocking=False)
        guard.release()
    plain = Guard(threading.Lock())
    with plain:
        assert not plain.acquire(blocking=False)


def test_guarded_gives_a_guard_where_compiled_and_the_lock_itself_where_interpreted():
    """Fails if an interpreted run gets a guard (whose `__enter__`, a frame of Python, may be interrupted holding the lock)
    or a compiled one the bare lock (whose `with` calls by name), or if the lock given is not the one taken."""
    reentrant = threading.RLock()
    held = guarded(reentrant)
    assert (held.lock if COMPILED else held) is reentrant
    assert isinstance(held, Guard) == COMPILED
    fresh = guarded()
    with fresh:  # a new plain lock either way
        assert not fresh.acquire(blocking=False)


@given(st.lists(st.integers(-2**70, 2**70), max_size=40).map(sorted), st.integers(-2**70, 2**70),
       st.integers(0, 45), st.integers(0, 45), st.booleans())
def test_the_searches_of_ints_are_bisects_own(values, value, lo, hi, present):
    """Fails if either search is off by one, takes the other side of an equal value, or strays outside lo..hi (values
    past an i64 included, and equal runs: ``present`` searches for a value that is there)."""
    value = values[lo % len(values)] if present and values else value
    lo, hi = min(lo, len(values)), min(hi, len(values))
    assert ints_bisect_right(values, value, lo, hi) == bisect.bisect_right(values, value, lo, hi)
    assert ints_bisect_left(values, value, lo, hi) == bisect.bisect_left(values, value, lo, hi)
