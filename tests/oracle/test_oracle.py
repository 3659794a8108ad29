"""The oracle itself (``tests/oracle/__init__.py``) against cases worked out by hand from SPEC 2-3,
so that the sweep tests compare the engine with something known to be right."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from tests.oracle import Snapshot, Window, expected_active, expected_locations, expected_window
from tests.site_helpers import utc

T = datetime(2026, 1, 15, 21, 30, tzinfo=UTC)


def session(pk=1, tz="Europe/Dublin", termination=None, before=60, after=60) -> dict:
    return {
        "id": pk,
        "timezone": tz,
        "termination_date": termination,
        "start_time": None,
        "end_time": None,
        "active_buffer_minutes_before": before,
        "active_buffer_minutes_after": after,
        "auto_create_instances": False,
    }


def instance(
    pk,
    session_id=1,
    *,
    on=date(2026, 1, 15),
    start=time(21, 0),
    end=time(23, 0),
    cancelled=False,
    starts_at=None,
    sessions=None,
) -> dict:
    row = {
        "id": pk,
        "session_id": session_id,
        "date": on,
        "start_time": start,
        "end_time": end,
        "is_cancelled": cancelled,
        "auto_created": False,
        "is_active": False,
    }
    window = expected_window(row, (sessions or {}).get(session_id, session(session_id)))
    row.update(zip(("starts_at", "ends_at", "active_from", "active_until"), window or (None,) * 4, strict=True))
    if starts_at is not None:  # a hand-made window: starts_at only matters for ordering
        row.update(
            starts_at=starts_at, active_from=starts_at - timedelta(hours=1), active_until=starts_at + timedelta(hours=3)
        )
    return row


def window_of(row: dict, session_row: dict) -> Window:
    window = expected_window(row, session_row)
    assert window is not None, row
    return window


def snap(sessions, instances, attendances=(), locations=None) -> Snapshot:
    return Snapshot(
        {s["id"]: s for s in sessions}, {i["id"]: i for i in instances}, list(attendances), dict(locations or {})
    )


def yes(person, instance_id, checked=None, left=None, status="yes") -> dict:
    return {
        "id": None,
        "person_id": person,
        "session_instance_id": instance_id,
        "status": status,
        "checked_in_at": checked,
        "left_at": left,
    }


# --- Windows -------------------------------------------------------------------------


def test_window_in_winter_and_past_midnight():
    row = {"date": date(2026, 1, 15), "start_time": time(21, 30), "end_time": time(1, 0)}
    assert expected_window(row, session(before=30, after=15)) == (
        utc(2026, 1, 15, 21, 30),
        utc(2026, 1, 16, 1, 0),
        utc(2026, 1, 15, 21, 0),
        utc(2026, 1, 16, 1, 15),
    )


def test_a_start_in_the_spring_gap_moves_forward_by_the_gap():
    # Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST. 02:30 does not exist -> 03:30 CEST.
    row = {"date": date(2026, 3, 29), "start_time": time(2, 30), "end_time": time(4, 0)}
    starts_at, ends_at, _, _ = window_of(row, session(tz="Europe/Berlin"))
    assert (starts_at, ends_at) == (utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 0))


def test_a_shifted_start_past_the_end_keeps_the_wall_clock_length():
    row = {"date": date(2026, 3, 29), "start_time": time(2, 50), "end_time": time(3, 10)}
    starts_at, ends_at, _, _ = window_of(row, session(tz="Europe/Berlin"))
    assert (starts_at, ends_at) == (utc(2026, 3, 29, 1, 50), utc(2026, 3, 29, 2, 10))


def test_an_ambiguous_time_is_its_first_occurrence():
    # Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    row = {"date": date(2026, 10, 25), "start_time": time(2, 30), "end_time": time(5, 0)}
    starts_at, ends_at, _, _ = window_of(row, session(tz="Europe/Berlin"))
    assert (starts_at, ends_at) == (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 4, 0))


def test_no_window_without_times_or_with_an_invalid_zone():
    row = {"date": date(2026, 1, 15), "start_time": time(21, 0), "end_time": None}
    assert expected_window(row, session()) is None
    row["end_time"] = time(23, 0)
    assert expected_window(row, session(tz="Mars/Olympus")) is None


# --- Activation ----------------------------------------------------------------------


def test_activation_rule_one():
    s = [
        session(1),
        session(2, termination=date(2026, 1, 14)),
        session(3, tz="Mars/Olympus"),
        session(4, termination=date(2026, 1, 15)),
    ]
    rows = [
        instance(10, 1),  # open
        instance(11, 1, on=date(2026, 1, 16)),  # not open
        instance(12, 2),  # dated after its termination date
        instance(13, 3, starts_at=utc(2026, 1, 15, 21)),  # invalid zone
        instance(14, 4, start=time(21, 30), end=time(0, 30)),  # on its termination date: keeps its window
    ]
    cancelled = instance(15, 5, cancelled=True)
    s.append(session(5))
    assert expected_active(snap(s, [*rows, cancelled]), T) == {10, 14}
    # Past midnight on the termination date, the window still counts.
    assert 14 in expected_active(snap(s, rows), utc(2026, 1, 16, 0, 45))


def test_the_window_is_half_open():
    rows = [instance(10)]  # active 20:00-00:00 UTC
    assert expected_active(snap([session()], rows), utc(2026, 1, 15, 20, 0)) == {10}
    assert expected_active(snap([session()], rows), utc(2026, 1, 16, 0, 0)) == set()


def test_latest_start_wins_then_higher_id():
    rows = [instance(10, start=time(20, 0)), instance(11, start=time(21, 0)), instance(9, start=time(20, 30))]
    assert expected_active(snap([session()], rows), T) == {11}
    tied = [instance(10, start=time(21, 0)), instance(12, start=time(21, 0), end=time(22, 0))]
    assert expected_active(snap([session()], tied), T) == {12}


# --- People --------------------------------------------------------------------------


def test_people_stay_put_then_first_start_across_zones():
    # Session 2 is in New York: an instance starting 16:00 there (21:00 UTC) starts
    # before a Dublin one at 21:15, whatever the wall clocks say.
    sessions = {1: session(1), 2: session(2, tz="America/New_York")}
    dublin = instance(10, 1, start=time(21, 15), sessions=sessions)
    new_york = instance(20, 2, start=time(16, 0), end=time(19, 0), sessions=sessions)
    s = snap(sessions.values(), [dublin, new_york], [yes(1, 10), yes(1, 20), yes(2, 10), yes(2, 20)], {1: None, 2: 10})
    assert expected_locations(s, {10, 20}) == {1: 20, 2: 10}


def test_ties_go_to_the_latest_check_in_then_the_higher_instance():
    rows = [instance(10, 1), instance(11, 2), instance(12, 3)]
    sessions = [session(1), session(2), session(3)]
    s = snap(
        sessions,
        rows,
        [
            yes(1, 10, checked=utc(2026, 1, 15, 20)),
            yes(1, 11, checked=utc(2026, 1, 15, 21)),
            yes(1, 12),
            yes(2, 10),
            yes(2, 11),
        ],
        {1: None, 2: None},
    )
    assert expected_locations(s, {10, 11, 12}) == {1: 11, 2: 11}


def test_left_no_and_inactive_answers_do_not_place():
    rows = [instance(10, 1), instance(11, 2), instance(12, 3)]
    s = snap(
        [session(1), session(2), session(3)],
        rows,
        [
            yes(1, 10, left=utc(2026, 1, 15, 21)),
            yes(1, 11, status="no"),
            yes(1, 12),
            yes(2, 10, left=utc(2026, 1, 15, 21)),
        ],
        {1: 10, 2: 10, 3: 11},
    )
    # 12 is not active: nobody goes there; a location that breaks the rule is dropped.
    assert expected_locations(s, {10, 11}) == {1: None, 2: None, 3: None}
    assert expected_locations(s, {10, 11, 12}) == {1: 12, 2: None, 3: None}
