"""Guard: a lock taken by `with` through compiled methods (the engine's, its clock's and its automations')."""

from __future__ import annotations

import threading

import pytest

from cxrules.fastcalls import Guard


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
