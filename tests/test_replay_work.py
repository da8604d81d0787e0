"""Work drives the replay: hand-computed waits, escalations that move work, logged routes replayed exactly."""

from __future__ import annotations

import gc
from datetime import timedelta

import pytest
from hypothesis import given, settings, strategies as st

from cxrules.engine.engine import Engine
from cxrules.engine.slas import Slas
from cxrules.engine.store import TicketState, Timer
from cxrules.simulation.figures import Flight
from cxrules.simulation import LogMapping, Pause, SimulationError, Stint, TicketRecord, simulate

from engine_helpers import local, make_org

HOUR = timedelta(hours=1)


def _ticket(ticket_id: str, created, **extra) -> TicketRecord:
    return TicketRecord(ticket_id, created, "question", "phone", "normal", "normal", **extra)


def _fixed(work: timedelta) -> LogMapping:
    return LogMapping(fields={}, path="", service_default=(work, "fixed"))


def _escalating_org(tmp_path, desk_agents: int = 1):
    """Desk (1 place) escalates to the manager (1 place) when the 1 h resolution target passes (first response: 2 h); office hours."""
    def change(data):
        data["slas"][0].update(resolution="1h", first_response="2h")
        data["escalations"][0]["levels"] = [{"role": "manager"}]
        desk = next(r for r in data["roles"] if r["id"] == "desk")
        desk.update(capacity=1, staff=[{"shift": "office", "agents": desk_agents}])
    return make_org(tmp_path, change)


def _holdings(result, ticket_id):
    return [(holding.role, holding.since, holding.until) for holding in result.flights[ticket_id].holdings]


def test_an_escalation_moves_what_remains_of_the_work_into_the_next_roles_queue(tmp_path):
    org = _escalating_org(tmp_path)
    a, b = _ticket("A", local(2025, 3, 3, 9)), _ticket("B", local(2025, 3, 3, 9, 30))
    result = simulate(org, [a, b], _fixed(3 * HOUR), mode="what-if", keep_flights=True)
    # A: desk 09:00–10:00, breaches at 10:00 and goes to the manager with its remaining 2 h: resolved 12:00.
    assert _holdings(result, "A") == [("desk", local(2025, 3, 3, 9), local(2025, 3, 3, 10)),
                                      ("manager", local(2025, 3, 3, 10), local(2025, 3, 3, 12))]
    # B waited at the desk until A left (10:00), breached at 10:30 with 2.5 h left, and waited in the manager's
    # queue until A was done (12:00): the manager's queue grew by exactly B's remaining work.
    assert _holdings(result, "B") == [("desk", local(2025, 3, 3, 10), local(2025, 3, 3, 10, 30)),
                                      ("manager", local(2025, 3, 3, 12), local(2025, 3, 3, 14, 30))]
    assert result.flights["B"].first_resolved_at == local(2025, 3, 3, 14, 30)
    assert result.waits_by_role["manager"]["p99"] == 90.0 and result.moves["moved_by_escalation"] == 2
    assert result.roles["manager"]["mean_handling_minutes"] == 135.0     # (2 h + 2.5 h) / 2


def test_notify_only_escalations_leave_the_work_where_it_is(tmp_path):
    org = _escalating_org(tmp_path)
    result = simulate(org, [_ticket("A", local(2025, 3, 3, 9))], _fixed(3 * HOUR), mode="what-if", escalation="notify",
                      keep_flights=True)
    assert _holdings(result, "A") == [("desk", local(2025, 3, 3, 9), local(2025, 3, 3, 12))]
    assert result.escalations == {"1": 1} and result.moves["moved_by_escalation"] == 0


def test_a_logged_reassignment_path_replays_exactly(tmp_path):
    org = _escalating_org(tmp_path)
    at = lambda h, m=0: local(2025, 3, 3, h, m)  # noqa: E731
    routed = _ticket("R", at(9), stints=(
        Stint("desk", at(9), picked=at(9, 10), left=at(10)),
        Stint("manager", at(10), picked=at(10, 30), left=at(11, 30), resolved=True,
              pauses=(Pause(at(10, 45), at(11), "waiting_customer"),))))
    result = simulate(org, [routed], mode="as-is", keep_flights=True)
    # with nobody else in the way the replay is the log itself: the desk has it 09:00–10:00 (answering at 09:10),
    # the manager 10:00–11:30 (taking it up at 10:30, the customer's 15 minutes paused in between)
    assert _holdings(result, "R") == [("desk", at(9), at(10)), ("manager", at(10), at(11, 30))]
    assert result.flights["R"].first_resolved_at == at(11, 30)
    assert result.moves["reassigned_share"] == 1.0 and result.moves["started_elsewhere"] == 0
    # a manager busy until 11:00 with another ticket: R waits an hour in the manager's queue, and everything after moves by it
    busy = _ticket("B", at(9, 55), stints=(Stint("manager", at(9, 55), picked=at(9, 55), left=at(11), resolved=True),))
    result = simulate(org, [routed, busy], mode="as-is", keep_flights=True)
    assert _holdings(result, "R")[1] == ("manager", at(11), at(12, 30)) and result.waits_by_role["manager"]["p99"] == 60.0


def test_the_log_route_wins_over_the_rules_in_as_is_mode(tmp_path):
    org = _escalating_org(tmp_path)
    at = lambda h, m=0: local(2025, 3, 3, h, m)  # noqa: E731
    ticket = _ticket("M", at(9), stints=(Stint("manager", at(9), picked=at(9), left=at(9, 20), resolved=True),))
    result = simulate(org, [ticket], mode="as-is", keep_flights=True)
    assert _holdings(result, "M") == [("manager", at(9), at(9, 20))]
    assert result.moves["started_elsewhere"] == 1 and result.moves["reassigned_share"] == 0.0


def test_fewer_agents_change_sla_attainment_not_only_waits(tmp_path):
    burst = [_ticket(f"T{i}", local(2025, 3, 3, 9, i)) for i in range(6)]
    rates = []
    for agents in (6, 2):
        (tmp_path / str(agents)).mkdir()
        org = _escalating_org(tmp_path / str(agents), desk_agents=agents)
        result = simulate(org, burst, _fixed(timedelta(minutes=40)), mode="what-if")
        rates.append(result.attainment["resolution"]["all"]["all"]["rate"])
    assert rates == [1.0, 0.3333]          # 2 agents: T0 and T1 in time, the other four wait past the 1 h target


def test_open_tickets_at_the_end_are_counted_not_hidden(tmp_path):
    org = _escalating_org(tmp_path)
    at = lambda h, m=0: local(2025, 3, 3, h, m)  # noqa: E731
    held = _ticket("H", at(9), stints=(Stint("desk", at(9), picked=at(9), left=None),))
    queued = _ticket("Q", at(9, 5), stints=(Stint("desk", at(9, 5), picked=None, left=None),))
    result = simulate(org, [held, queued], mode="as-is", tail=timedelta(days=1))
    assert result.open_at_end["total"] == 2 and result.open_at_end["in_hand"] == 1 and result.open_at_end["queued"] == 1
    assert result.open_at_end["never_assigned"] == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 600), st.integers(1, 240)), min_size=1, max_size=25), st.integers(1, 3))
def test_no_ticket_is_resolved_while_queued_and_no_agent_holds_more_than_its_places(tmp_path_factory, arrivals, agents):
    org = _escalating_org(tmp_path_factory.mktemp("org"), desk_agents=agents)
    start = local(2025, 3, 3, 9)
    tickets = [_ticket(f"T{i}", start + timedelta(minutes=offset), stints=(
        Stint("desk", start + timedelta(minutes=offset), picked=start + timedelta(minutes=offset),
              left=start + timedelta(minutes=offset + work), resolved=True),)) for i, (offset, work) in enumerate(arrivals)]
    result = simulate(org, tickets, mode="as-is", escalation="move", keep_flights=True)
    places: dict[str, list] = {}
    for flight in result.flights.values():
        if flight.first_resolved_at is not None:  # resolved by the agent holding it, at the end of its work
            assert flight.holdings and flight.holdings[-1].until == flight.first_resolved_at
        for holding in flight.holdings:
            places.setdefault(holding.agent, []).append((holding.since, holding.until))
    for spans in places.values():  # capacity 1: an agent's holdings never overlap
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_a_backlog_that_outlasts_the_shift_is_worked_off_the_next_morning(tmp_path):
    org = _escalating_org(tmp_path)  # one desk agent, 09:00–18:00
    tickets = [_ticket(f"T{i}", local(2025, 3, 3, 9) + i * timedelta(minutes=20)) for i in range(27)]  # 09:00–17:40
    result = simulate(org, tickets, _fixed(timedelta(minutes=30)), mode="what-if", escalation="notify", keep_flights=True)
    # 18 tickets fill Monday 09:00–18:00; the other 9 wait for Tuesday 09:00 and are done by 13:30
    assert result.open_at_end["total"] == 0
    assert max(f.first_resolved_at for f in result.flights.values()) == local(2025, 3, 4, 13, 30)


def test_a_timer_the_engine_cannot_fire_stops_the_replay_with_the_fault_instead_of_asking_for_ever(tmp_path, monkeypatch):
    """The engine rolls back a timer that raises and tries it again on the next call, as a service wants; under the
    replay's virtual clock it would fail the same way for ever. The replay stops and says which moment and why."""
    calls = 0

    def broken(self, ticket, timer):
        nonlocal calls
        calls += 1
        if calls >= 100:  # a kill point by progress, not by time; pytest's failure is no Exception the engine would note
            pytest.fail("the replay asks the engine to fire the timer again and again")
        raise ZeroDivisionError("a bug in firing an SLA timer")

    # the timer's firing, not the replay's call to the engine, is counted: the compiled replay calls the engine directly
    monkeypatch.setattr(Slas, "_fire_target", broken)
    with pytest.raises(SimulationError, match=r"the engine failed at 2025-03-03T01:48:00\+00:00, .*ZeroDivisionError: a bug in firing"):
        simulate(_escalating_org(tmp_path), [_ticket("A", local(2025, 3, 3, 9))], _fixed(3 * HOUR), mode="what-if")


def test_an_event_the_engine_fails_to_apply_stops_the_replay_with_the_fault_instead_of_counting_a_refusal(tmp_path, monkeypatch):
    """The replay's store keeps no undo log, so what a failing event began cannot be undone: the figures would be of an
    engine half way through it. The replay stops at that moment and names the fault."""
    def broken(self, ticket, event, at):
        raise KeyError("a bug in resolving")

    monkeypatch.setattr(Engine, "_resolved", broken)
    tickets = [_ticket("A", local(2025, 3, 3, 9)), _ticket("B", local(2025, 3, 3, 15))]
    with pytest.raises(SimulationError, match=r"the engine failed at 2025-03-03T04:00:00\+00:00, .*KeyError: 'a bug in resolving'"):
        simulate(_escalating_org(tmp_path), tickets, _fixed(3 * HOUR), mode="what-if")


def test_a_replay_frees_its_tickets_and_flights_itself_and_leaves_them_not_to_the_collector(tmp_path):
    """The engine and the replay are webs of reference cycles; the collector is paused while the replay runs, and when it is
    switched back on it would walk every ticket and flight the replay held (a tenth of a month's replay). The replay lets go of
    them first, so reference counting frees them."""
    org = _escalating_org(tmp_path)
    tickets = [_ticket(f"T{n}", local(2025, 3, 3, 9) + n * timedelta(minutes=7)) for n in range(40)]
    gc.collect()
    gc.disable()
    try:
        result = simulate(org, tickets, _fixed(HOUR), mode="what-if")
        left = [type(thing).__name__ for thing in gc.get_objects() if isinstance(thing, (TicketState, Flight, Timer))]
    finally:
        gc.enable()
    assert result.tickets == 40 and left == []



def test_tickets_given_in_a_zone_whose_clocks_change_are_measured_by_their_instants(tmp_path):
    """A caller may hand the replay records in the centre's own zone (a log read by `read_log` is in UTC). Across Berlin's
    spring change an hour of work resolves an hour after arrival, though the wall clock moves two; a time the clock skips
    is the instant zoneinfo gives it, and counts in the hour of the week of that instant. (Before the replay's figures were
    read from µs, two moments of one zone were subtracted and sorted by wall time: 120 minutes, and 80 for the skipped time.)"""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    def in_berlin(data):
        data["org"]["timezone"] = "Europe/Berlin"
        data["calendars"][0]["hours"] = {"mon-sun": ["00:00-24:00"]}

    berlin, org = ZoneInfo("Europe/Berlin"), make_org(tmp_path, in_berlin)
    before, skipped = datetime(2025, 3, 30, 1, 30, tzinfo=berlin), datetime(2025, 3, 30, 2, 30, tzinfo=berlin)
    for created, hour_of_week in ((before, 6 * 24 + 1), (skipped, 6 * 24 + 3)):  # 02:30 is 03:30 summer time
        result = simulate(org, [_ticket("B", created)], _fixed(HOUR), mode="what-if")
        assert result.resolution_minutes["all"]["p50"] == 60.0 and result.roles["desk"]["mean_handling_minutes"] == 60.0
        assert result.arrivals_by_hour_of_week.index(1) == hour_of_week
