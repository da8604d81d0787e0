"""The compiled stand-ins of the standard library's calls: a lock taken by `with` (the engine's, its clock's and its
automations'), and the calendars' searches of a few ints."""

from __future__ import annotations

import bisect
import threading

import pytest
from hypothesis import given, strategies as st

from cxrules.fastcalls import Guard, ints_bisect_left, ints_bisect_right


def test_a_guard_holds_its_lock_inside_with_and_releases_it_after():
    """Fails if `__enter__` takes nothing or `__exit__` releases nothing."""
    lock = threading.Lock()
    with Guard(lock):
        assert not lock.acquire(blocking=False)
    assert lock.acquire(blocking=False)


def test_a_guard_releases_its_lock_when_the_block_raises_and_the_error_goes_on():
    """Fails if `__exit__` swallows the error (returns true) or leaves the lock taken."""
    guard = Guard()
    with pytest.raises(KeyError):
        with guard:
            raise KeyError("x")
    assert not guard.lock.locked()


def test_a_guard_of_a_reentrant_lock_is_reentrant_and_a_new_guard_holds_a_plain_lock():
    """Fails if the guard takes a lock of its own instead of the one given, or its default is re-entrant."""
    guard = Guard(threading.RLock())
    with guard:
        with guard:
            assert guard.acquire(blocking=False)
            guard.release()
    plain = Guard()
    with plain:
        assert not plain.acquire(blocking=False)


@given(st.lists(st.integers(-2**63, 2**63 - 1), max_size=40).map(sorted), st.integers(-2**63, 2**63 - 1),
       st.integers(0, 45), st.integers(0, 45), st.booleans())
def test_the_searches_of_ints_are_bisects_own(values, value, lo, hi, present):
    """Fails if either search is off by one, takes the other side of an equal value, or strays outside lo..hi (values
    past an i64 included, and equal runs: ``present`` searches for a value that is there)."""
    value = values[lo % len(values)] if present and values else value
    lo, hi = min(lo, len(values)), min(hi, len(values))
    assert ints_bisect_right(values, value, lo, hi) == bisect.bisect_right(values, value, lo, hi)
    assert ints_bisect_left(values, value, lo, hi) == bisect.bisect_left(values, value, lo, hi)
