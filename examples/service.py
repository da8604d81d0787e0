"""A minimal service embedding the cxrules engine: JSON ticket events in on stdin, decisions out on stdout.

    python examples/service.py orgs/automotive.yaml state.db < events.jsonl

Each input line is an event such as
    {"type": "TicketCreated", "ticket_id": "T1", "category": "complaint", "channel": "wechat",
     "segment": "vip", "priority": "high", "member": true}
and each decision comes out as one JSON line on stdout (at least once: dedupe on `key`).
On stderr, one JSON line each: `{"ready": true, ...}` once started, `{"refused": <line>,
"reason": ...}` for a line that was not applied (the service carries on), `{"reload":
"done"|"refused", ...}` after a reload, `{"stopped": true, "applied": n, "refusals": n, "unapplied": n}` at the end.

State lives in a SQLite file: stop the service (or kill it) and start it again, and it
carries on where it was, firing the timers that fell due meanwhile. Timers (SLA warnings,
breaches, escalations, follow-ups) fire on the real clock even when no input arrives.
Send SIGHUP to reload the org file (an invalid file is refused and the old org keeps
running); SIGTERM or SIGINT, or the end of stdin, finishes the event in hand, closes the
store and exits 0.

How it cannot deadlock: signal handlers only set a flag (and wake the main loop); a reader
thread only splits stdin into lines; the engine is used from the main thread alone, which
takes one line at a time, waiting no longer than until the engine's next due timer.
"""

from __future__ import annotations

import json
import queue
import signal
import sys
import threading
from datetime import datetime, timedelta
from typing import Any, Optional

import cxrules
from cxrules.engine import Engine, SqliteStore, StoreError, parse_event
from cxrules.engine.sqlite import decision_to_json

MAX_LINE = 1 << 20
"""Bytes in one input line, newline excluded; a longer line is refused (and skipped to its end)."""
MAX_WAIT = 1.0
"""Seconds the main loop waits at most for input before it looks at timers and flags again."""
READ_AHEAD = 64
"""Lines the reader may hold that the main loop has not taken yet (memory stays bounded)."""
MAX_DIGITS = 100
"""Digits in one JSON number; more is refused (int() of thousands of digits is slow, then fails)."""
EXCERPT = 200


def next_wake(engine: Engine, now: Optional[datetime] = None, cap: float = MAX_WAIT) -> float:
    """Seconds to wait for input before the engine's next timer falls due (0: due now), at most ``cap``."""
    due = engine.store.next_due()
    if due is None:
        return cap
    now = engine.clock.now() if now is None else now
    return max(0.0, min(cap, (due - now).total_seconds()))


class Flags:
    """What the signal handlers ask for; the main loop acts on it between events."""

    def __init__(self, wake: "queue.SimpleQueue[tuple]"):
        self.reload = False
        self.stop = False
        self._wake = wake

    def on_signal(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGHUP:
            self.reload = True
        else:
            self.stop = True
        self._wake.put(("wake",))  # SimpleQueue.put is reentrant: safe in a signal handler

    def install(self) -> None:
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.on_signal)


def _say(**fields: Any) -> None:
    try:
        print(json.dumps(fields), file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr gone: nothing to tell it
        pass


def _excerpt(raw: bytes) -> str:
    return raw[:EXCERPT * 4].decode("utf-8", errors="replace").strip()[:EXCERPT]


def read_lines(stream, inbox: "queue.SimpleQueue[tuple]", room: threading.Semaphore, limit: int = MAX_LINE) -> None:
    """The reader thread: split a byte stream into lines of at most ``limit`` bytes, then say `eof`.

    Puts ("line", bytes) or ("refused", excerpt, reason); it never parses or applies anything.
    """
    try:
        while True:
            room.acquire()
            raw = stream.readline(limit + 1)
            if not raw:
                break
            if len(raw) > limit and not raw.endswith(b"\n"):
                skipped = len(raw)
                while (rest := stream.readline(limit)) and not rest.endswith(b"\n"):
                    skipped += len(rest)
                skipped += len(rest)
                inbox.put(("refused", _excerpt(raw), f"line longer than {limit} bytes ({skipped} or more); skipped"))
            else:
                inbox.put(("line", raw))
    except Exception as error:  # a broken stdin ends the input, it does not kill the service
        inbox.put(("refused", "", f"stdin could not be read: {type(error).__name__}: {error}"))
    inbox.put(("eof",))


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"a number of {len(text.lstrip('-'))} digits (at most {MAX_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_DIGITS + 10:
        raise ValueError(f"a number of {len(text)} characters (at most {MAX_DIGITS + 10})")
    return float(text)


def _constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def event_of(raw: bytes):
    """The event a line holds; ValueError (EventError included) says why there is none."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8: byte {error.start} ({raw[error.start:error.start + 1]!r}): {error.reason}") from None
    try:
        data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as error:  # JSONDecodeError is one
        raise ValueError(f"not JSON: {error}") from None
    return parse_event(data)  # checks the object, its `type` and every field


class Service:
    def __init__(self, org_path: str, store_path: str, stdin=None):
        self.org_path = org_path
        self.inbox: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        self.room = threading.Semaphore(READ_AHEAD)
        self.flags = Flags(self.inbox)
        self.flags.install()  # before anything slow: a signal during start-up is kept for later, never fatal
        self.stdin = stdin if stdin is not None else sys.stdin.buffer
        self.engine = Engine(cxrules.load_org(org_path), store=SqliteStore(store_path))
        self.engine.on(None, self._emit)
        self.timers_blocked_until: Optional[datetime] = None

    @staticmethod
    def _emit(decision) -> None:
        print(decision_to_json(decision), flush=True)

    def run(self) -> int:
        engine = self.engine
        try:
            engine.start()  # handlers missed before a crash, then timers due while down
        except Exception as error:  # reported; the loop tries the timers again
            _say(error=f"{type(error).__name__}: {error}", during="start")
        reader = threading.Thread(target=read_lines, args=(self.stdin, self.inbox, self.room), name="stdin", daemon=True)
        reader.start()
        _say(ready=True, org=engine.org.info.id, now=engine.clock.now().isoformat())
        applied = refused = 0
        while not self.flags.stop:
            if self.flags.reload:
                self.reload()
                continue
            wait = self._timers()
            try:
                item = self.inbox.get(timeout=wait)
            except queue.Empty:
                continue
            if item[0] == "wake":
                continue
            if item[0] == "eof":
                break
            self.room.release()
            if item[0] == "refused":
                _say(refused=item[1], reason=item[2])
                refused += 1
            elif self.apply(item[1]):
                applied += 1
            else:
                refused += 1
        unread = self._unapplied() if self.flags.stop else 0
        self.close()
        _say(stopped=True, applied=applied, refusals=refused, unapplied=unread)
        return 0

    def apply(self, raw: bytes) -> bool:
        """Apply one line; False (and a refusal on stderr) when it was not applied."""
        if not raw.strip():
            return True
        try:
            self.engine.submit(event_of(raw))
            return True
        except ValueError as error:  # EventError is one
            reason = str(error)
        except StoreError as error:
            reason = f"not applied, the store failed (submit it again): {error}"
        except Exception as error:  # one event never kills the service
            reason = f"unexpected {type(error).__name__}: {str(error)[:EXCERPT]}"
        _say(refused=_excerpt(raw), reason=reason)
        return False

    def _timers(self) -> float:
        """Fire the timers due by now; the seconds to wait for input before looking again."""
        now = self.engine.clock.now()
        if self.timers_blocked_until is not None and now < self.timers_blocked_until:
            return min(MAX_WAIT, (self.timers_blocked_until - now).total_seconds())
        try:
            if next_wake(self.engine, now) == 0:
                self.engine.advance(now)
            self.timers_blocked_until = None
            return next_wake(self.engine)
        except Exception as error:  # reported, tried again a little later (no busy loop)
            _say(error=f"{type(error).__name__}: {str(error)[:EXCERPT]}", during="timers")
            self.timers_blocked_until = now + timedelta(seconds=MAX_WAIT)
            return MAX_WAIT

    def reload(self) -> None:
        self.flags.reload = False  # a SIGHUP during the reload asks for one more, not one each
        try:
            outcome = self.engine.reload_file(self.org_path)
        except Exception as error:  # the old org keeps running
            _say(reload="refused", problems=[f"{type(error).__name__}: {str(error)[:EXCERPT]}"])
            return
        if isinstance(outcome, list):
            _say(reload="refused", problems=[f"{d.location} {d.code} {d.message}" for d in outcome])
        else:
            _say(reload="done", org=outcome.org, kept=len(outcome.kept), moved_to_fallback=list(outcome.moved_to_fallback))

    def _unapplied(self) -> int:
        """Lines read but not applied when a stop came: each is refused, so the feeder can send it again."""
        count = 0
        while True:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return count
            if item[0] == "line" and item[1].strip():
                _say(refused=_excerpt(item[1]), reason="not applied: the service is stopping")
                count += 1

    def close(self) -> None:
        for closer in (getattr(self.engine.store, "close", None), self.engine.close):  # the store's last snapshot first
            if closer is None:
                continue
            try:
                closer()
            except Exception as error:  # reported; the exit stays clean
                _say(error=f"{type(error).__name__}: {error}", during="close")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python examples/service.py ORG_FILE STORE_FILE < events.jsonl", file=sys.stderr)
        return 2
    sys.stdout.reconfigure(errors="backslashreplace")  # a lone surrogate in a decision still prints (as a JSON escape)
    try:
        service = Service(*argv)
    except Exception as error:  # a bad org file, a store another process holds: said in one line, no traceback
        _say(fatal=f"{type(error).__name__}: {str(error)[:2000]}")
        return 1
    return service.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
