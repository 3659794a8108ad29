"""Pure recurrence expansion (no database): rules + anchor + zone -> local starts."""

from datetime import UTC, date, datetime, time
from functools import partial
from zoneinfo import ZoneInfo

import pytest
import recurrence

from sessions_app.occurrences import RecurrenceError, occurrence_starts, rules_need_anchor

DUBLIN = ZoneInfo("Europe/Dublin")
NEW_YORK = ZoneInfo("America/New_York")


def dates(rules: str, *, anchor: date, after: date, before: date, tz=DUBLIN, at=time(21, 0)) -> list[date]:
    starts = occurrence_starts(
        recurrence.deserialize(rules),
        anchor_date=anchor,
        start_time=at,
        tz=tz,
        after=datetime.combine(after, time(0, 0), tzinfo=tz),
        before=datetime.combine(before, time(0, 0), tzinfo=tz),
    )
    assert all(s.tzinfo is tz and s.time() == at for s in starts)
    return [s.date() for s in starts]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        # February 2026 has exactly four Thursdays: the 4th one is also the last one.
        ("RRULE:FREQ=MONTHLY;BYDAY=+4TH", [date(2026, 1, 22), date(2026, 2, 26), date(2026, 3, 26)]),
        ("RRULE:FREQ=MONTHLY;BYDAY=-1TH", [date(2026, 1, 29), date(2026, 2, 26), date(2026, 3, 26)]),
        ("RRULE:FREQ=MONTHLY;BYDAY=+1MO", [date(2026, 1, 5), date(2026, 2, 2), date(2026, 3, 2)]),
        ("RRULE:FREQ=MONTHLY;BYDAY=-1FR", [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27)]),
    ],
)
def test_nth_and_last_weekday_of_the_month(rules, expected):
    assert dates(rules, anchor=date(2026, 1, 1), after=date(2026, 1, 1), before=date(2026, 4, 1)) == expected


def test_every_other_week_counts_from_the_anchor():
    rules = "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"
    got = dates(rules, anchor=date(2026, 1, 8), after=date(2026, 1, 1), before=date(2026, 2, 28))
    assert got == [date(2026, 1, 8), date(2026, 1, 22), date(2026, 2, 5), date(2026, 2, 19)]
    shifted = dates(rules, anchor=date(2026, 1, 15), after=date(2026, 1, 1), before=date(2026, 2, 28))
    assert shifted == [date(2026, 1, 15), date(2026, 1, 29), date(2026, 2, 12), date(2026, 2, 26)]


def test_anchor_is_not_an_occurrence_unless_the_rule_makes_it_one():
    # 2026-01-07 is a Wednesday; the rule says Thursdays.
    got = dates("RRULE:FREQ=WEEKLY;BYDAY=TH", anchor=date(2026, 1, 7), after=date(2026, 1, 1), before=date(2026, 1, 20))
    assert got == [date(2026, 1, 8), date(2026, 1, 15)]


def test_nothing_before_the_anchor():
    got = dates(
        "RRULE:FREQ=WEEKLY;BYDAY=TH", anchor=date(2026, 1, 15), after=date(2026, 1, 1), before=date(2026, 1, 30)
    )
    assert got == [date(2026, 1, 15), date(2026, 1, 22), date(2026, 1, 29)]


@pytest.mark.parametrize(
    "exdate",
    [
        "EXDATE:20260212T000000Z",  # a picked day, as the admin widget stores it
        "EXDATE:20260212T210000Z",  # the exact UTC instant of the local start (Dublin, winter)
    ],
)
def test_exdate_removes_that_date(exdate):
    got = dates(
        f"RRULE:FREQ=WEEKLY;BYDAY=TH\n{exdate}",
        anchor=date(2026, 2, 1),
        after=date(2026, 2, 1),
        before=date(2026, 2, 27),
    )
    assert got == [date(2026, 2, 5), date(2026, 2, 19), date(2026, 2, 26)]


def test_rdate_adds_an_occurrence_at_the_session_start_time():
    got = dates(
        "RRULE:FREQ=WEEKLY;BYDAY=TH\nRDATE:20260214T000000Z",
        anchor=date(2026, 2, 1),
        after=date(2026, 2, 1),
        before=date(2026, 2, 20),
    )
    assert got == [date(2026, 2, 5), date(2026, 2, 12), date(2026, 2, 14), date(2026, 2, 19)]


def test_weekly_keeps_local_wall_clock_time_across_dst():
    starts = occurrence_starts(
        recurrence.deserialize("RRULE:FREQ=WEEKLY;BYDAY=TU"),
        anchor_date=date(2026, 10, 1),
        start_time=time(19, 0),
        tz=NEW_YORK,
        after=datetime(2026, 10, 26, tzinfo=UTC),
        before=datetime(2026, 11, 12, tzinfo=UTC),
    )
    assert [s.astimezone(UTC) for s in starts] == [
        datetime(2026, 10, 27, 23, 0, tzinfo=UTC),  # EDT, UTC-4
        datetime(2026, 11, 4, 0, 0, tzinfo=UTC),  # EST from 1 November, UTC-5
        datetime(2026, 11, 11, 0, 0, tzinfo=UTC),
    ]


def test_bounds_are_half_open():
    start = datetime(2026, 1, 15, 21, 0, tzinfo=DUBLIN)
    rules = recurrence.deserialize("RRULE:FREQ=WEEKLY;BYDAY=TH")
    expand = partial(occurrence_starts, rules, anchor_date=date(2026, 1, 1), start_time=time(21, 0), tz=DUBLIN)
    assert expand(after=start, before=start.replace(minute=1)) == [start]
    assert expand(after=start.replace(hour=20), before=start) == []


def test_no_rules_no_occurrences():
    assert (
        occurrence_starts(
            None,
            anchor_date=date(2026, 1, 1),
            start_time=time(21, 0),
            tz=DUBLIN,
            after=datetime(2026, 1, 1, tzinfo=UTC),
            before=datetime(2027, 1, 1, tzinfo=UTC),
        )
        == []
    )


def test_unexpandable_rules_raise_recurrence_error():
    rules = recurrence.deserialize("RRULE:FREQ=WEEKLY;BYDAY=TH")
    with pytest.raises(RecurrenceError):
        # Naive bounds cannot be compared with the zone-aware dtstart.
        occurrence_starts(
            rules,
            anchor_date=date(2026, 1, 1),
            start_time=time(21, 0),
            tz=DUBLIN,
            after=datetime(2026, 1, 1),  # noqa: DTZ001 - naive bounds on purpose: the error under test
            before=datetime(2026, 2, 1),  # noqa: DTZ001
        )


@pytest.mark.parametrize(
    ("rules", "needs_anchor"),
    [
        ("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", True),
        ("RRULE:FREQ=WEEKLY", True),
        ("RRULE:FREQ=WEEKLY;BYDAY=TH", False),
        ("RRULE:FREQ=MONTHLY;BYDAY=-1TH", False),
    ],
)
def test_rules_need_anchor(rules, needs_anchor):
    assert rules_need_anchor(recurrence.deserialize(rules)) is needs_anchor
