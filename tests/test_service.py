"""examples/service.py: the runnable service cannot deadlock, and no input line kills it.

The service runs as a subprocess; tests synchronise on the lines it prints (its `{"ready": true}`
line, decisions, refusals), never on time. Timeouts are only hang guards.
"""

from __future__ import annotations

import importlib.util
import io
import json
import queue
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest

import cxrules
from cxrules.engine import Engine, MemoryStore, StoreError, VirtualClock, parse_event

from conftest import ORGS, ROOT

SERVICE = ROOT / "examples" / "service.py"
ORG = ORGS / "automotive.yaml"
HANG_GUARD = 600  # seconds; a guard against a hang, not a speed assertion


def _load_service():
    spec = importlib.util.spec_from_file_location("cx_example_service", SERVICE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


service = _load_service()


def ticket(ticket_id: str, **fields) -> str:
    event = {"type": "TicketCreated", "ticket_id": ticket_id, "category": "complaint", "channel": "wechat", "segment": "vip",
             "priority": "high", "member": True, **fields}
    return json.dumps(event)


class Running:
    """The service as a subprocess, its stdout and stderr read line by line by two threads."""

    def __init__(self, store):
        self.proc = subprocess.Popen([sys.executable, str(SERVICE), str(ORG), str(store)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out: queue.Queue = queue.Queue()
        self.err: queue.Queue = queue.Queue()
        self.stdout: list[dict] = []
        self.stderr: list[dict] = []
        self.threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
                        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)]
        for thread in self.threads:
            thread.start()
        self.ready = self.wait_err(lambda line: line.get("ready") is True)

    @staticmethod
    def _pump(stream, into: queue.Queue) -> None:
        for raw in stream:
            try:
                into.put(json.loads(raw))
            except ValueError:
                into.put({"unparsed": raw.decode("utf-8", "replace")})
        into.put(None)

    def _wait(self, source: queue.Queue, seen: list, predicate) -> dict:
        while True:
            line = source.get(timeout=HANG_GUARD)
            assert line is not None, f"the service ended first; stderr so far: {self.stderr}"
            seen.append(line)
            if predicate(line):
                return line

    def wait_out(self, predicate) -> dict:
        return self._wait(self.out, self.stdout, predicate)

    def wait_err(self, predicate) -> dict:
        return self._wait(self.err, self.stderr, predicate)

    def send(self, *lines: str | bytes) -> None:
        for line in lines:
            self.proc.stdin.write((line.encode("utf-8") if isinstance(line, str) else line) + b"\n")
        self.proc.stdin.flush()

    def finish(self) -> int:
        """Wait for the exit (stdin closed or a signal sent), then drain what it printed."""
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        code = self.proc.wait(timeout=HANG_GUARD)
        for thread in self.threads:
            thread.join(timeout=HANG_GUARD)
        for source, seen in ((self.out, self.stdout), (self.err, self.stderr)):
            while (line := source.get_nowait()) is not None:
                seen.append(line)
        return code


def test_the_example_service_runs(tmp_path):
    lines = ('{"type": "TicketCreated", "ticket_id": "T1", "category": "complaint", "channel": "wechat", "segment": "vip", '
             '"priority": "high", "member": true}\n{"type": "Nonsense"}\n')
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "service.py"), str(ORGS / "automotive.yaml"), str(tmp_path / "s.db")],
                         input=lines, capture_output=True, text=True, timeout=HANG_GUARD)
    assert run.returncode == 0, run.stderr
    assert '"type": "Assigned"' in run.stdout and "refused" in run.stderr and "Traceback" not in run.stderr


BAD_LINES = {
    "not JSON": b"{nope",
    "not an object": b"[1, 2]",
    "type a list": b'{"type": ["Resolved"], "ticket_id": "T1"}',
    "type an object": b'{"type": {}}',
    "type missing": b'{"ticket_id": "T1"}',
    "type unknown": b'{"type": "Nonsense", "ticket_id": "T1"}',
    "100,000-deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "100,000-deep object": b'{"type": "Resolved", "ticket_id": "T1", "x": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"}",
    "5,000-digit number": b'{"type": "FollowUpDone", "ticket_id": "T1", "policy": "p", "satisfied": ' + b"9" * 5000 + b"}",
    "5,000-digit float": b'{"type": "Resolved", "ticket_id": "T1", "at": 1.' + b"5" * 5000 + b"}",
    "NaN": b'{"type": "Resolved", "ticket_id": "T1", "at": NaN}',
    "over the size cap": b'{"type": "Resolved", "ticket_id": "' + b"x" * (2 << 20) + b'"}',
    "invalid UTF-8": b'{"type": "Resolved", "ticket_id": "T\xff\xfe1"}',
    "EventError: a missing field": b'{"type": "Resolved"}',
    "EventError: a field of the wrong type": b'{"type": "Resolved", "ticket_id": "T1", "at": 3}',
}


def test_every_bad_line_is_refused_and_the_service_carries_on(tmp_path):
    run = Running(tmp_path / "s.db")
    run.send(ticket("T1"))
    run.wait_out(lambda line: line.get("ticket_id") == "T1")
    for name, line in BAD_LINES.items():
        run.send(line)
        refusal = run.wait_err(lambda line: "refused" in line)
        assert isinstance(refusal["refused"], str) and len(refusal["refused"]) <= 200, name
        assert refusal["reason"], name
        run.send(ticket(f"after {name}"))       # the next good line still gets its decision
        run.wait_out(lambda line, name=name: line.get("ticket_id") == f"after {name}")
    assert run.finish() == 0
    refusals = [line for line in run.stderr if "refused" in line]
    assert len(refusals) == len(BAD_LINES)
    assert not [line for line in run.stderr if "unparsed" in line or "error" in line or "fatal" in line]
    assert run.stderr[-1] == {"stopped": True, "applied": 1 + len(BAD_LINES), "refusals": len(BAD_LINES), "unapplied": 0}


def test_reasons_name_the_problem(tmp_path):
    lines = b"\n".join(BAD_LINES[name] for name in ("type a list", "100,000-deep nesting", "5,000-digit number",
                                                     "over the size cap", "invalid UTF-8")) + b"\n"
    run = subprocess.run([sys.executable, str(SERVICE), str(ORG), str(tmp_path / "s.db")], input=lines, capture_output=True,
                         timeout=HANG_GUARD)
    assert run.returncode == 0, run.stderr
    reasons = [json.loads(line)["reason"] for line in run.stderr.splitlines() if b'"refused"' in line]
    assert ["field `type` must be one of" in reasons[0] and reasons[0].endswith("got a list"), "nested too deeply" in reasons[1], "5000 digits" in reasons[2],
            "longer than" in reasons[3], "not UTF-8" in reasons[4]] == [True] * 5, reasons


def test_a_store_error_or_any_surprise_from_one_event_is_refused_not_fatal(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(service.signal, "signal", lambda *args: None)   # leave pytest's own handlers alone
    runner = service.Service(str(ORG), str(tmp_path / "s.db"), stdin=io.BytesIO())
    failures = iter([StoreError("disk full"), RuntimeError("boom"), RecursionError("deep")])
    real_submit = Engine.submit

    def submit(engine, event):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_submit(engine, event)

    monkeypatch.setattr(Engine, "submit", submit)  # on the class: the engine is compiled, its instances take no attributes
    assert [runner.apply(ticket(f"T{n}").encode()) for n in range(4)] == [False, False, False, True]
    runner.close()
    reasons = [json.loads(line)["reason"] for line in capsys.readouterr().err.splitlines()]
    assert "not applied" in reasons[0] and "disk full" in reasons[0]
    assert "RuntimeError" in reasons[1] and "RecursionError" in reasons[2]


def test_a_sighup_storm_while_events_flow_reloads_one_at_a_time_and_loses_nothing(tmp_path):
    run = Running(tmp_path / "s.db")
    sent_hups = 0
    for n in range(200):
        run.send(ticket(f"T{n}"))
        if n % 4 == 0 and sent_hups < 50:
            run.proc.send_signal(signal.SIGHUP)     # lands while the service is recording events
            sent_hups += 1
        if n % 20 == 19:                            # keep in step with the service: its output, not time
            run.wait_out(lambda line, n=n: line.get("ticket_id") == f"T{n}")
    assert sent_hups == 50
    assert run.finish() == 0
    decided = {line["ticket_id"] for line in run.stdout}
    assert {f"T{n}" for n in range(200)} <= decided
    reloads = [line for line in run.stderr if "reload" in line]
    assert 1 <= len(reloads) <= 50 and all(line["reload"] == "done" for line in reloads)
    assert not [line for line in run.stderr if "refused" in line or "error" in line or "unparsed" in line]


def test_a_timer_fires_with_no_input(tmp_path):
    """An urgent ticket's first-response warning falls due (80% of 15m) two seconds after the service
    said it was ready; nothing more is sent, and the warning still comes out."""
    run = Running(tmp_path / "s.db")
    now = datetime.fromisoformat(run.ready["now"])
    run.send(ticket("U1", priority="urgent", at=(now - timedelta(minutes=12) + timedelta(seconds=2)).isoformat()))
    warning = run.wait_out(lambda line: line.get("type") == "SlaWarning")
    assert warning["ticket_id"] == "U1" and warning["target"] == "first_response"
    assert run.finish() == 0


def test_next_wake_is_the_time_to_the_next_timer_capped():
    clock = VirtualClock(datetime(2026, 3, 3, 10, tzinfo=timezone.utc))
    engine = Engine(cxrules.load_org(ORG), clock=clock, store=MemoryStore())
    assert service.next_wake(engine) == service.MAX_WAIT            # no timer: wait the cap
    assert service.next_wake(engine, cap=30) == 30
    engine.submit(parse_event(json.loads(ticket("U1", priority="urgent"))))
    assert engine.store.next_due() == clock.now() + timedelta(minutes=12)
    assert service.next_wake(engine) == service.MAX_WAIT
    assert service.next_wake(engine, cap=3600) == 12 * 60
    clock.advance(timedelta(minutes=12) - timedelta(seconds=0.25))
    assert service.next_wake(engine) == 0.25
    clock.advance(timedelta(seconds=1))
    assert service.next_wake(engine) == 0                            # overdue: fire now, never a negative wait
    assert [type(x).__name__ for x in engine.advance()] == ["SlaWarning"]
    assert service.next_wake(engine, cap=3600) == 3 * 60 - 0.75      # then the breach, at 15 minutes


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_exits_0_with_the_store_closed_and_a_restart_carries_on(tmp_path, signum):
    store = tmp_path / "s.db"
    run = Running(store)
    run.send(ticket("T1"))
    run.wait_out(lambda line: line.get("ticket_id") == "T1" and line["type"] == "Assigned")
    run.proc.send_signal(signum)                    # stdin stays open: the reader is blocked, the service still stops
    assert run.finish() == 0
    assert run.stderr[-1]["stopped"] is True and run.stderr[-1]["applied"] == 1
    again = Running(store)
    again.send('{"type": "Resolved", "ticket_id": "T1"}', '{"type": "Resolved", "ticket_id": "T9"}')
    assert again.finish() == 0
    assert not [line for line in again.stderr if "refused" in line or "fatal" in line or "error" in line]
    refused = [line for line in again.stdout if line["type"] == "Refused"]
    assert [line["ticket_id"] for line in refused] == ["T9"]      # T1 was remembered, T9 never existed


def test_a_second_service_on_the_same_store_is_refused_in_one_line(tmp_path):
    first = Running(tmp_path / "s.db")
    second = subprocess.run([sys.executable, str(SERVICE), str(ORG), str(tmp_path / "s.db")], input=b"", capture_output=True,
                            timeout=HANG_GUARD)
    assert second.returncode == 1
    assert [list(json.loads(line)) for line in second.stderr.splitlines()] == [["fatal"]], second.stderr
    assert "StoreError" in json.loads(second.stderr)["fatal"]
    assert first.finish() == 0
