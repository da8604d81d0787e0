"""Nothing reaches the journal unchecked (issue 12): every event is checked completely before the engine stores it.

A bad event given to ``Engine.submit`` is refused with a reason naming the field, leaves
the store as it was, and the store still opens after it; ``parse_event`` raises EventError
for the same events given as data (their JSON cases are in tests/corpus/events).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings, strategies as st

import cxrules
from cxrules.engine import (EVENT_TYPES, FIRST_MOMENT, FIRST_YEAR, LAST_MOMENT, LAST_YEAR, MAX_TEXT, Closed, CustomerReply, Engine, EventError, FirstResponse,
                            FollowUpDone, HandOff, Refused, Reopened, Resolved, SqliteStore, TicketCreated, VirtualClock, Waiting,
                            WorkflowStep, check_event, parse_event)
from cxrules.calendars import HORIZON
from cxrules.engine.eventcheck import _CLEAN, _CLEAN_LIMIT, time_problem
from cxrules.engine.data import from_data, time_to_json
from cxrules.engine.sqlite import event_to_json

from conftest import ROOT, examples
from engine_helpers import abandon, local

TINY = cxrules.load_org(ROOT / "tests" / "fixtures" / "tiny.yaml")
UTC = timezone.utc


def created(ticket_id="A", **changes) -> TicketCreated:
    return TicketCreated(ticket_id, **{"category": "question", "channel": "phone", "segment": "normal", "priority": "low", **changes})


class Broken(tzinfo):
    """A time zone of the caller's that cannot say its offset."""

    def utcoffset(self, dt):
        raise RuntimeError("no offset today")


class Naive(tzinfo):
    """A time zone that gives no offset: the time is naive in all but name."""

    def utcoffset(self, dt):
        return None


class OffsetDenied(datetime):
    """A datetime of its own that says it has no offset, whatever its zone: a ZoneInfo's too."""

    def utcoffset(self):
        return None


class MyResolved(Resolved):
    """A subclass: journalled as `MyResolved`, it could never be read back."""


class Quarrelsome:
    """A value that no comparison may be asked of: the check must tell its type without it."""

    def __eq__(self, other):
        raise RuntimeError("compared")

    __hash__ = object.__hash__


def with_extra(event):
    object.__setattr__(event, "colour", "red")
    return event


def without(event, name):
    del event.__dict__[name]
    return event


# (event, ticket id of the refusal, text in the reason)
BAD = [
    (created(123), "?", "field `ticket_id` must be text, got the number 123"),
    (created("B", member="yes"), "B", "field `member` must be true or false, got the text `yes`"),
    (created("B", member=1), "B", "field `member` must be true or false"),
    (created("B", customer_id={}), "B", "field `customer_id` must be text, got an object"),
    (created("B", segment=Quarrelsome()), "B", "field `segment` must be text, got a Quarrelsome"),
    (created("B", category=123), "B", "field `category` must be text"),
    (created("B", channel=None), "B", "field `channel` must be text, got null"),
    (created("B", segment=b"normal"), "B", "field `segment` must be text, got a bytes"),
    (created("B", priority=""), "B", "field `priority` is empty"),
    (Waiting("A", reason=3), "A", "field `reason` must be text, got the number 3"),
    (HandOff("A", to_role=None), "A", "field `to_role` must be text"),
    (FollowUpDone("A", policy="revisit", satisfied=None), "A", "field `satisfied` must be true or false, got null"),
    (WorkflowStep("A", state=["s"]), "A", "field `state` must be text, got a list"),
    (Resolved("A", at=datetime(2025, 3, 3, 11)), "A", "field `at` needs a time-zone offset (it has no time zone)"),
    (Resolved("A", at=datetime(2025, 3, 3, 11, tzinfo=Naive())), "A", "field `at` needs a time-zone offset"),
    (Resolved("A", at=datetime(2025, 3, 3, 11, tzinfo=Broken())), "A", "field `at` has a time zone that gives no offset"),
    (Resolved("A", at=OffsetDenied(2025, 3, 3, 11, tzinfo=ZoneInfo("Asia/Shanghai"))), "A", "field `at` needs a time-zone offset"),
    (Resolved("A", at="2025-01-01"), "A", "field `at` must be a datetime with a time zone, got the text `2025-01-01`"),
    (Resolved("A", at=date(2025, 3, 3)), "A", "field `at` must be a datetime with a time zone, got a date without a time"),
    (Resolved("A", at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)), "A", "field `at`: year 9999 is outside the years"),
    (Resolved("A", at=datetime(1, 1, 1, tzinfo=UTC)), "A", "field `at`: year 1 is outside the years"),
    (Resolved("A", at=datetime(LAST_YEAR + 1, 1, 2, tzinfo=UTC)), "A", f"year {LAST_YEAR + 1} is outside"),
    (Resolved("A", at=datetime(FIRST_YEAR - 1, 12, 31, tzinfo=UTC)), "A", f"year {FIRST_YEAR - 1} is outside"),
    (created("\ud800"), "?", "field `ticket_id` is not valid text: it holds a lone surrogate \\ud800 at character 1"),
    (created("B", customer_id="C\udc80"), "B", "field `customer_id` is not valid text: it holds a lone surrogate \\udc80"),
    (created("x" * 10_000_000), "?", "field `ticket_id` is longer than 200 characters (10,000,000)"),
    (created("B", category="q" * (MAX_TEXT + 1)), "B", f"field `category` is longer than {MAX_TEXT} characters"),
    (created("A\x00"), "?", "field `ticket_id` holds a control character (U+0000 at character 2)"),
    (created("A\x1b[31m"), "?", "field `ticket_id` holds a control character (U+001B"),
    (created("B", customer_id="C\u202e1"), "B", "field `customer_id` holds a control character (U+202E"),
    (Closed("  "), "?", "field `ticket_id` is empty"),
    (MyResolved("A"), "?", "an event is one of TicketCreated"),
    (with_extra(Resolved("A")), "A", "Resolved has no field `colour`"),
    (without(with_extra(Resolved("A")), "at"), "A", "Resolved has no field `colour`"),  # as many fields, one not its own
    (without(Resolved("A"), "at"), "A", "Resolved needs field `at`"),
    ({"type": "Resolved", "ticket_id": "A"}, "?", "an event is one of TicketCreated, FirstResponse"),
    (None, "?", "an event is one of"),
]


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "state.db"


def engine_on(path) -> Engine:
    return Engine(TINY, VirtualClock(local(2025, 3, 3, 10)), SqliteStore(path))


@pytest.mark.parametrize("event, ticket_id, reason", BAD, ids=[str(n) for n in range(len(BAD))])
def test_a_bad_event_is_refused_and_never_reaches_the_store(store_path, event, ticket_id, reason):
    engine = engine_on(store_path)
    engine.submit(created("A", category="complaint", member=True))
    applied, tickets, now = engine.store.events_applied, {t.id for t in engine.store.all_tickets()}, engine.clock.now()

    decisions = engine.submit(event)

    assert [type(x) for x in decisions] == [Refused], decisions
    refused = decisions[0]
    assert reason in refused.reason and refused.ticket_id == ticket_id, refused
    assert refused.event == type(event).__name__
    assert {t.id for t in engine.store.all_tickets()} == tickets
    assert engine.store.events_applied == applied + 1           # counted all the same: a feeder resumes after it
    assert engine.clock.now() == now                            # a refused time does not move the virtual clock
    assert engine.submit(created("B"))[0].kind == "Assigned"    # the next event goes through (a lone surrogate wedged it)
    engine.store.close()

    again = engine_on(store_path)                               # and the store still opens, with both good tickets
    assert again.ticket("A") is not None and again.ticket("B") is not None
    assert again.store.events_applied == applied + 2
    again.store.close()


def test_every_bad_event_in_one_store_then_a_restart(store_path):
    engine = engine_on(store_path)
    engine.submit(created("A", category="complaint"))
    for event, _, _ in BAD:
        assert [x.kind for x in engine.submit(event)] == ["Refused"]
    assert engine.store.events_applied == 1 + len(BAD)
    engine.store.close()
    assert {t.id for t in engine_on(store_path).store.all_tickets()} == {"A"}


AS_DATA = [(event, reason) for event, _, reason in BAD
           if type(event) in EVENT_TYPES.values() and "colour" not in vars(event) and "at" in vars(event)  # as data, a missing time is now
           and (event.at is None or isinstance(event.at, datetime) and isinstance(event.at.tzinfo, (type(None), timezone)))]


@pytest.mark.parametrize("event, reason", AS_DATA, ids=[str(n) for n in range(len(AS_DATA))])
def test_parse_event_refuses_what_submit_refuses(event, reason):
    """The same bad event given as data (its time as ISO 8601 text) is an EventError with the same message."""
    data = {"type": type(event).__name__, **vars(event)}
    if event.at is not None:
        data["at"] = event.at.isoformat()
    with pytest.raises(EventError) as error:
        parse_event(data)
    assert reason in str(error.value)


def test_parse_event_refuses_keys_and_types_that_are_not_text():
    with pytest.raises(EventError, match="Resolved has no field `1`"):
        parse_event({"type": "Resolved", "ticket_id": "A", 1: "x", "b": 2})
    for kind in (["Resolved"], {}, 7, None):
        with pytest.raises(EventError, match="field `type` must be one of"):
            parse_event({"type": kind, "ticket_id": "A"})
    with pytest.raises(EventError, match="got a number of more than 30 digits"):
        parse_event({"type": "Resolved", "ticket_id": 10 ** 5000})
    with pytest.raises(EventError, match="an event is a JSON object, not a list"):
        parse_event(["Resolved", "A"])
    with pytest.raises(EventError) as error:
        parse_event({"type": "Resolved", "ticket_id": "A", "at": "x" * 10_000_000})
    assert len(str(error.value)) < 300                          # a message never echoes a huge value


def test_the_boundaries_are_accepted():
    engine = Engine(TINY, VirtualClock(datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)))
    longest = "客" * MAX_TEXT
    arrived = engine.submit(created(longest, customer_id="😀 Ünïcode", at=datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)))
    assert [x.kind for x in arrived] in (["Assigned"], ["Queued"]) and engine.ticket(longest) is not None
    last = datetime(LAST_YEAR, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-12)))
    assert [x.kind for x in engine.submit(Resolved(longest, at=last)) if x.kind == "Refused"] == []


def test_a_time_is_valid_if_it_is_in_the_years_somewhere_on_earth():
    """`cxrules route --at 1970-01-01T00:00:00+14:00` arrives in the org's zone as 1969-12-31 18:00+08:00: still valid."""
    for at in (FIRST_MOMENT, LAST_MOMENT, FIRST_MOMENT.astimezone(local(2025, 1, 1).tzinfo), LAST_MOMENT.astimezone(UTC)):
        assert check_event(Resolved("A", at=at)).at == at
    for at, said in ((FIRST_MOMENT - timedelta(microseconds=1), "year 1969"), (LAST_MOMENT + timedelta(microseconds=1), "year 2101"),
                     (datetime(1970, 1, 1, tzinfo=timezone(timedelta(hours=23))), "1970-01-01T00:00:00+23:00 (a year earlier")):
        with pytest.raises(EventError, match=re.escape(f"field `at`: {said}")):
            check_event(Resolved("A", at=at))


@settings(max_examples=examples(300), deadline=None)
@example(end=FIRST_MOMENT, micros=-1, zone=UTC)  # a microsecond either side of each end, in UTC (the short path)
@example(end=FIRST_MOMENT, micros=0, zone=UTC)
@example(end=LAST_MOMENT, micros=0, zone=UTC)
@example(end=LAST_MOMENT, micros=1, zone=UTC)
@given(end=st.sampled_from([FIRST_MOMENT, LAST_MOMENT, LAST_MOMENT + HORIZON]), micros=st.integers(-3_000_000, 3_000_000),
       zone=st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)), timezone(timedelta(hours=5, minutes=45))]))
def test_a_time_within_a_second_or_so_of_the_years_ends_is_judged_exactly(end, micros, zone):
    """The years are checked on a float timestamp first, which may round a microsecond either way: near the ends the answer
    is still that of comparing the moments themselves, for events and for an advance's `until` (which may go further)."""
    at = (end + timedelta(microseconds=micros)).astimezone(zone)
    for latest in (LAST_MOMENT, LAST_MOMENT + HORIZON, datetime(2030, 1, 1, tzinfo=UTC)):
        assert (time_problem("at", at, latest) is None) == (FIRST_MOMENT <= at <= latest), (at, latest)
    try:  # an event's check takes a moment in UTC on a shorter path: it answers the same
        accepted = check_event(Resolved("A", at=at)) is not None
    except EventError:
        accepted = False
    assert accepted == (FIRST_MOMENT <= at <= LAST_MOMENT), at
    assert time_problem("until", datetime(2050, 1, 1, tzinfo=UTC), latest=datetime(2030, 1, 1, tzinfo=UTC)) is not None


def test_texts_remembered_as_sound_stay_few_and_a_bad_one_is_refused_every_time():
    """Ids and codes passed once are not checked again; the memory of them is bounded, and a text it holds is still refused
    in a field it does not fit (too long for none: sound text is sound in any text field)."""
    for number in range(3 * _CLEAN_LIMIT):
        check_event(created(f"remembered-{number}"))
        assert len(_CLEAN) <= _CLEAN_LIMIT
    for _ in range(2):
        with pytest.raises(EventError, match="control character"):
            check_event(created("A", category="que\x00stion"))
        with pytest.raises(EventError, match="must be text"):
            check_event(created("A", channel=["phone"]))


def test_check_event_passes_every_sane_event_and_it_survives_the_journal_format():
    at = local(2025, 3, 3, 11)
    for event in (created("A", member=True, customer_id="C1", at=at), FirstResponse("A"), HandOff("A", to_role="manager", at=at),
                  Waiting("A", reason="waiting_customer"), CustomerReply("A"), Resolved("A"), Reopened("A"), Closed("A"),
                  FollowUpDone("A", policy="revisit", satisfied=False), WorkflowStep("A", state="s1", at=at)):
        assert check_event(event) is event
        assert parse_event(json.loads(event_to_json(event))) == event
    assert {f.name for cls in EVENT_TYPES.values() for f in dataclasses.fields(cls)} == {
        "ticket_id", "at", "category", "channel", "segment", "priority", "member", "customer_id", "to_role", "reason", "policy",
        "satisfied", "state"}, "a new field: give it a check in events._CHECKS"


def test_the_error_says_what_can_safely_be_said_of_the_event():
    with pytest.raises(EventError) as error:
        check_event(created("B", member="yes", at=local(2025, 3, 3, 11)))
    assert (error.value.ticket_id, error.value.at, error.value.kind) == ("B", local(2025, 3, 3, 11), "TicketCreated")
    with pytest.raises(EventError) as error:
        check_event(created("\ud800", at=datetime(9999, 1, 1, tzinfo=UTC)))
    assert (error.value.ticket_id, error.value.at) == ("?", None)


def test_an_event_without_a_time_is_refused_when_the_clock_is_outside_the_years():
    engine = Engine(TINY, VirtualClock(datetime(LAST_YEAR + 1, 6, 1, tzinfo=UTC)))
    refused = engine.submit(created("A"))
    assert [x.kind for x in refused] == ["Refused"] and "year 2101 is outside" in refused[0].reason
    assert engine.ticket("A") is None


@pytest.mark.parametrize("now, said", [(datetime(2025, 3, 3, 10), "needs a time-zone offset"),
                                        (datetime(2101, 3, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai")), "year 2101 is outside"),
                                        ("2025-03-03T10:00:00Z", "must be a datetime")])
def test_an_event_without_a_time_is_refused_when_a_clock_of_the_caller_s_own_gives_no_sound_moment(now, said):
    """A clock of the caller's own may give anything: what is not a UTC moment in the years gets the whole check."""
    class Told:
        def now(self):
            return now

    engine = Engine(TINY, Told())
    refused = engine.submit(created("A"))
    assert [x.kind for x in refused] == ["Refused"] and "the clock's now cannot be the event's time" in refused[0].reason
    assert said in refused[0].reason and engine.ticket("A") is None


def test_an_event_that_fails_while_applied_is_refused_and_noted_not_raised(store_path, monkeypatch):
    """A bug in applying a checked event: refused with the reason, kept in `faults`, and the engine goes on."""
    engine = engine_on(store_path)

    def broken(self, ticket, event, at):
        raise OverflowError("date value out of range")

    monkeypatch.setattr(Engine, "_resolved", broken)
    engine.submit(created("A"))
    decisions = engine.submit(Resolved("A", at=local(2025, 3, 3, 11)))
    assert [(x.kind, x.ticket_id, x.at) for x in decisions] == [("Refused", "A", local(2025, 3, 3, 11))]
    assert decisions[0].at.tzinfo is timezone.utc  # told by the virtual clock, in UTC, as any refusal
    assert decisions[0].reason == "applying it failed: OverflowError: date value out of range"
    assert any("Resolved of ticket `A` at 2025-03-03T03:00:00+00:00" in fault and "OverflowError" in fault for fault in engine.faults)
    assert "Assigned" in [x.kind for x in engine.submit(created("B"))]


def test_an_event_that_fails_half_applied_is_rolled_back_in_memory_and_in_the_journal(store_path, monkeypatch):
    """The failing event changed the ticket, the agent's load and the timers before it raised: all of it is undone."""
    engine = engine_on(store_path)
    engine.submit(created("A"))
    engine.advance(local(2025, 3, 3, 10, 30))
    before = (dataclasses.asdict(engine.ticket("A")), engine.store.next_seq, engine.store.next_due(), engine.queue("desk"))
    half_done = Engine._resolved

    def fails_half_way(self, ticket, event, at):
        half_done(self, ticket, event, at)  # released the agent, scheduled the follow-ups, marked the ticket resolved
        raise OverflowError("date value out of range")

    monkeypatch.setattr(Engine, "_resolved", fails_half_way)
    assert engine.submit(Resolved("A", at=local(2025, 3, 3, 10, 40)))[0].kind == "Refused"
    assert (dataclasses.asdict(engine.ticket("A")), engine.store.next_seq, engine.store.next_due(), engine.queue("desk")) == before
    monkeypatch.undo()
    abandon(engine.store)
    restarted = engine_on(store_path)
    assert dataclasses.asdict(restarted.ticket("A")) == before[0] and not [f for f in restarted.faults if "quarantine" in f]


_IMPOSSIBLE = [datetime(9999, 12, 31, tzinfo=timezone.utc), datetime(2025, 3, 3, 12), "2025-03-03"]


@pytest.mark.parametrize("advance, until", [*(("advance", until) for until in _IMPOSSIBLE),
                                            *(("advance_to_decision", until) for until in [*_IMPOSSIBLE, None])])
def test_advance_to_an_impossible_time_is_refused_before_the_journal_and_the_clock(tmp_path, until, advance):
    """Either way of advancing (`advance` alone takes None: the clock's now)."""
    engine = engine_on(tmp_path / "s.db")
    engine.submit(created("A"))
    with pytest.raises(EventError, match="field `until`"):
        getattr(engine, advance)(until)
    assert engine.clock.now() == local(2025, 3, 3, 10) and engine.submit(created("B"))[0].kind != "Refused"


def test_a_timer_of_an_unknown_kind_is_skipped_and_reported():
    engine = Engine(TINY, VirtualClock(local(2025, 3, 3, 10)))
    engine.store.schedule(local(2025, 3, 3, 10, 1), "teleport", None, "teleport:1")
    engine.advance(local(2025, 3, 3, 10, 2))
    assert any("unknown kind `teleport`" in fault for fault in engine.faults)


_BAD_PAYLOADS = [("sla", None), ("sla", ("first_response", 3, 1)), ("sla", ("nope", "breach", 1)), ("sla", ("first_response", "breach", True)),
                 ("sla", ("first_response", "breach", 7, 1)), ("escalate", (5, 0, 1)), ("escalate", ("complaints", "0", 1)),
                 ("followup_call", (["u"], None)), ("followup_call", ("survey", "2025-03-04")), ("followup_deadline", ["survey"]),
                 ("automation", 5), ("surge", ["rush"]), ("drain", None)]


def _edited_by_hand(store_path, sql: str, *parameters, tickets=("A",)):
    """A store with a complaint ticket of each id, created at 10:00 (warned at 10:24, breached at 10:30), edited by ``sql``
    while no engine runs, and an engine restarted on it."""
    engine = engine_on(store_path)
    for ticket_id in tickets:
        engine.submit(created(ticket_id, category="complaint", member=True))
    abandon(engine.store)
    with sqlite3.connect(store_path) as db:
        db.execute(sql, parameters)
    db.close()
    return engine_on(store_path)


_BAD_TIMER = "INSERT INTO cx_timers VALUES (1000, ?, ?, ?, ?, 'bad', ?)"
"""A timer keyed `bad` due at 10:01: (due, due as written, kind, ticket, payload as written)."""
_AT_10_01 = local(2025, 3, 3, 10, 1)


@pytest.mark.parametrize("kind, payload", _BAD_PAYLOADS, ids=[f"{kind}-{n}" for n, (kind, _) in enumerate(_BAD_PAYLOADS)])
def test_a_stored_timer_whose_payload_does_not_fit_its_kind_is_skipped_and_reported_and_holds_back_nothing(store_path, kind, payload):
    """A store edited by hand: such a timer is neither fired (a phase of 3 was once taken for a breach) nor tried again on every
    advance, rolled back each time, which held back every timer due after it (here: the ticket's own warning and breach)."""
    restarted = _edited_by_hand(store_path, _BAD_TIMER, _AT_10_01.timestamp(), time_to_json(_AT_10_01), kind,
                                None if kind in ("surge", "drain") else "A", json.dumps(payload))
    assert [x.kind for x in restarted.advance(local(2025, 3, 3, 10, 30))] == ["SlaWarning", "SlaBreached", "Escalated"]
    assert [fault for fault in restarted.faults if "bad" in fault] == [
        f"timer `bad` of kind `{kind}` skipped: its payload `{from_data(json.loads(json.dumps(payload)))!r}` is not "
        f"{restarted.timer_kinds._payloads[kind].words}"]
    assert restarted.store.db.execute("SELECT count(*) FROM cx_timers WHERE key = 'bad'").fetchone() == (0,)


@pytest.mark.parametrize("damage", ["not json {", '{"$time": "yesterday"}', "[" * 100_000])
def test_a_stored_timer_whose_payload_cannot_be_read_back_is_skipped_and_reported_and_holds_back_nothing(store_path, damage):
    """Damaged JSON in a timer's row failed every advance that reached it (rolled back, tried again)."""
    restarted = _edited_by_hand(store_path, _BAD_TIMER, _AT_10_01.timestamp(), time_to_json(_AT_10_01), "sla", "A", damage)
    assert [x.kind for x in restarted.advance(local(2025, 3, 3, 10, 30))] == ["SlaWarning", "SlaBreached", "Escalated"]
    assert [fault.split(":")[0] for fault in restarted.faults] == ["timer `bad` of kind `sla` skipped"]
    assert "its payload `unreadable (a timer's payload in the store is damaged: " in restarted.faults[0]


def test_the_timers_of_a_ticket_whose_row_cannot_be_read_back_are_skipped_and_reported_and_hold_back_no_other_ticket(store_path):
    """A's warning falls due first, with B's; A's damaged row failed every advance that reached it (rolled back, tried again)."""
    restarted = _edited_by_hand(store_path, "UPDATE cx_tickets SET state = 'not json {' WHERE id = 'A'", tickets=("A", "B"))
    decided = restarted.advance(local(2025, 3, 3, 10, 30))
    assert [(x.kind, x.ticket_id) for x in decided] == [("SlaWarning", "B"), ("SlaBreached", "B"), ("Escalated", "B")]
    assert restarted.faults and all(fault.startswith("a timer of ticket `A` skipped: a ticket row in the store is damaged")
                                    for fault in restarted.faults)
    assert restarted.store.db.execute("SELECT state FROM cx_tickets WHERE id = 'A'").fetchone() == ("not json {",)


def test_a_stored_timer_whose_due_time_cannot_be_read_back_fires_at_the_moment_it_is_ordered_by(store_path):
    restarted = _edited_by_hand(store_path, "UPDATE cx_timers SET due_data = 'not json {' WHERE key = 'A:sla:first_response:1:warn'")
    warned = restarted.advance(local(2025, 3, 3, 10, 30))
    assert [x.kind for x in warned] == ["SlaWarning", "SlaBreached", "Escalated"] and restarted.faults == []
    assert warned[0].at == local(2025, 3, 3, 10, 24)


def test_an_event_whose_fields_were_swapped_for_a_mapping_of_its_own_is_refused():
    """A frozen event's `__dict__` replaced by a dict subclass (whose length, keys and lookups may say anything) is refused
    with an EventError, never a crash or a pass."""
    class Lying(dict):
        def __len__(self):
            return 99

        def keys(self):
            return {"ticket_id"}

    event = Resolved("A", at=datetime(2025, 1, 1, tzinfo=UTC))
    object.__setattr__(event, "__dict__", Lying(event.__dict__))
    with pytest.raises(EventError, match="holds its fields in a Lying"):
        check_event(event)
