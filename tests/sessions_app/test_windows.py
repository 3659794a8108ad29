"""The pure window maths: local date + wall times + zone + buffers -> UTC instants.

No database. Every expected instant below was worked out by hand from the zone's offset
on that date (noted in each row), not by calling the code under test.
"""

from __future__ import annotations

from datetime import UTC, date, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from sessions_app.windows import (
    MAX_BUFFER_MINUTES,
    MAX_WINDOW,
    compute_window,
    is_valid_timezone,
    local_date_at,
    local_to_utc,
    zone,
)
from tests.site_helpers import utc


def window_of(zone_name, on, start, end, before=60, after=60):
    return compute_window(
        local_date=on,
        start_time=start,
        end_time=end,
        tz=ZoneInfo(zone_name),
        buffer_before_minutes=before,
        buffer_after_minutes=after,
    )


# (id, zone, local date, start, end, buffer before, buffer after,
#  expected starts_at, ends_at, active_from, active_until)
WINDOW_CASES = [
    pytest.param(
        "Europe/Berlin",
        date(2026, 1, 15),
        time(19, 0),
        time(22, 0),
        60,
        60,
        # CET +01:00
        utc(2026, 1, 15, 18, 0),
        utc(2026, 1, 15, 21, 0),
        utc(2026, 1, 15, 17, 0),
        utc(2026, 1, 15, 22, 0),
        id="ordinary-evening",
    ),
    pytest.param(
        "Europe/Berlin",
        date(2026, 1, 15),
        time(21, 30),
        time(1, 0),
        60,
        60,
        # ends 01:00 CET on the 16th
        utc(2026, 1, 15, 20, 30),
        utc(2026, 1, 16, 0, 0),
        utc(2026, 1, 15, 19, 30),
        utc(2026, 1, 16, 1, 0),
        id="past-midnight-21:30-01:00",
    ),
    pytest.param(
        "America/New_York",
        date(2026, 1, 15),
        time(23, 0),
        time(23, 59),
        60,
        60,
        # EST -05:00: the whole instance is on the next UTC date
        utc(2026, 1, 16, 4, 0),
        utc(2026, 1, 16, 4, 59),
        utc(2026, 1, 16, 3, 0),
        utc(2026, 1, 16, 5, 59),
        id="23:00-23:59",
    ),
    pytest.param(
        "Europe/Berlin",
        date(2026, 1, 15),
        time(20, 0),
        time(20, 0),
        0,
        0,
        # end == start: a whole day
        utc(2026, 1, 15, 19, 0),
        utc(2026, 1, 16, 19, 0),
        utc(2026, 1, 15, 19, 0),
        utc(2026, 1, 16, 19, 0),
        id="end-equals-start-lasts-a-day",
    ),
    pytest.param(
        "America/New_York",
        date(2026, 3, 8),
        time(2, 30),
        time(4, 0),
        60,
        60,
        # 02:30 does not exist (02:00 EST -> 03:00 EDT): shifted forward to 03:30 EDT = 07:30Z
        utc(2026, 3, 8, 7, 30),
        utc(2026, 3, 8, 8, 0),
        utc(2026, 3, 8, 6, 30),
        utc(2026, 3, 8, 9, 0),
        id="spring-forward-gap-new-york",
    ),
    pytest.param(
        "America/Chicago",
        date(2026, 11, 1),
        time(1, 30),
        time(3, 0),
        60,
        60,
        # 01:30 happens twice; the first is CDT -05:00 = 06:30Z. 03:00 is CST -06:00 = 09:00Z
        utc(2026, 11, 1, 6, 30),
        utc(2026, 11, 1, 9, 0),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 10, 0),
        id="fall-back-fold-chicago-first-occurrence",
    ),
    pytest.param(
        "America/Chicago",
        date(2026, 11, 1),
        time(0, 0),
        time(1, 30),
        0,
        0,
        # an ambiguous end also means its first occurrence (CDT)
        utc(2026, 11, 1, 5, 0),
        utc(2026, 11, 1, 6, 30),
        utc(2026, 11, 1, 5, 0),
        utc(2026, 11, 1, 6, 30),
        id="fall-back-fold-chicago-ambiguous-end",
    ),
    pytest.param(
        "Europe/Dublin",
        date(2026, 7, 2),
        time(21, 0),
        time(23, 30),
        60,
        60,
        # IST +01:00
        utc(2026, 7, 2, 20, 0),
        utc(2026, 7, 2, 22, 30),
        utc(2026, 7, 2, 19, 0),
        utc(2026, 7, 2, 23, 30),
        id="dublin-summer",
    ),
    pytest.param(
        "Europe/Dublin",
        date(2026, 1, 8),
        time(21, 0),
        time(23, 30),
        60,
        60,
        # GMT +00:00 (tzdata models Irish winter as negative DST)
        utc(2026, 1, 8, 21, 0),
        utc(2026, 1, 8, 23, 30),
        utc(2026, 1, 8, 20, 0),
        utc(2026, 1, 9, 0, 30),
        id="dublin-winter",
    ),
    pytest.param(
        "Asia/Kolkata",
        date(2026, 5, 10),
        time(19, 0),
        time(22, 0),
        60,
        60,
        # IST +05:30
        utc(2026, 5, 10, 13, 30),
        utc(2026, 5, 10, 16, 30),
        utc(2026, 5, 10, 12, 30),
        utc(2026, 5, 10, 17, 30),
        id="kolkata-plus-05:30",
    ),
    pytest.param(
        "Pacific/Chatham",
        date(2026, 1, 15),
        time(19, 0),
        time(22, 0),
        60,
        60,
        # CHADT +13:45
        utc(2026, 1, 15, 5, 15),
        utc(2026, 1, 15, 8, 15),
        utc(2026, 1, 15, 4, 15),
        utc(2026, 1, 15, 9, 15),
        id="chatham-summer-plus-13:45",
    ),
    pytest.param(
        "Pacific/Chatham",
        date(2026, 7, 15),
        time(19, 0),
        time(22, 0),
        60,
        60,
        # CHAST +12:45
        utc(2026, 7, 15, 6, 15),
        utc(2026, 7, 15, 9, 15),
        utc(2026, 7, 15, 5, 15),
        utc(2026, 7, 15, 10, 15),
        id="chatham-winter-plus-12:45",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        date(2026, 10, 3),
        time(19, 0),
        time(22, 0),
        0,
        0,
        # LHST +10:30, the day before the change
        utc(2026, 10, 3, 8, 30),
        utc(2026, 10, 3, 11, 30),
        utc(2026, 10, 3, 8, 30),
        utc(2026, 10, 3, 11, 30),
        id="lord-howe-standard-plus-10:30",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        date(2026, 10, 4),
        time(19, 0),
        time(22, 0),
        0,
        0,
        # LHDT +11:00 from 02:00 on 2026-10-04: the same wall time is 30 minutes earlier in UTC
        utc(2026, 10, 4, 8, 0),
        utc(2026, 10, 4, 11, 0),
        utc(2026, 10, 4, 8, 0),
        utc(2026, 10, 4, 11, 0),
        id="lord-howe-dst-plus-11:00",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        date(2026, 10, 4),
        time(2, 15),
        time(4, 0),
        0,
        0,
        # 02:00-02:30 does not exist: 02:15 is shifted forward 30 minutes to 02:45 LHDT = 15:45Z on the 3rd
        utc(2026, 10, 3, 15, 45),
        utc(2026, 10, 3, 17, 0),
        utc(2026, 10, 3, 15, 45),
        utc(2026, 10, 3, 17, 0),
        id="lord-howe-30-minute-gap",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        date(2026, 4, 5),
        time(1, 45),
        time(3, 0),
        0,
        0,
        # 01:30-02:00 happens twice on 2026-04-05; first occurrence is LHDT +11:00. 03:00 is LHST +10:30
        utc(2026, 4, 4, 14, 45),
        utc(2026, 4, 4, 16, 30),
        utc(2026, 4, 4, 14, 45),
        utc(2026, 4, 4, 16, 30),
        id="lord-howe-30-minute-fold",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        date(2026, 10, 3),
        time(21, 0),
        time(3, 0),
        0,
        0,
        # overnight across the change: 21:00 LHST to 03:00 LHDT lasts 5h30 of real time
        utc(2026, 10, 3, 10, 30),
        utc(2026, 10, 3, 16, 0),
        utc(2026, 10, 3, 10, 30),
        utc(2026, 10, 3, 16, 0),
        id="lord-howe-overnight-across-change",
    ),
    pytest.param(
        "Europe/Berlin",
        date(2026, 1, 15),
        time(19, 0),
        time(22, 0),
        0,
        0,
        utc(2026, 1, 15, 18, 0),
        utc(2026, 1, 15, 21, 0),
        utc(2026, 1, 15, 18, 0),
        utc(2026, 1, 15, 21, 0),
        id="buffers-0",
    ),
    pytest.param(
        "Europe/Berlin",
        date(2026, 1, 15),
        time(19, 0),
        time(22, 0),
        720,
        720,
        utc(2026, 1, 15, 18, 0),
        utc(2026, 1, 15, 21, 0),
        utc(2026, 1, 15, 6, 0),
        utc(2026, 1, 16, 9, 0),
        id="buffers-720",
    ),
    pytest.param(
        "Europe/Berlin",
        date(2026, 1, 15),
        time(19, 0),
        time(22, 0),
        0,
        720,
        utc(2026, 1, 15, 18, 0),
        utc(2026, 1, 15, 21, 0),
        utc(2026, 1, 15, 18, 0),
        utc(2026, 1, 16, 9, 0),
        id="buffers-0-before-720-after",
    ),
    pytest.param(
        "America/New_York",
        date(2026, 3, 7),
        time(22, 0),
        time(3, 0),
        60,
        60,
        # 22:00 EST = 03:00Z; 03:00 EDT next morning = 07:00Z: five wall hours, four real ones
        utc(2026, 3, 8, 3, 0),
        utc(2026, 3, 8, 7, 0),
        utc(2026, 3, 8, 2, 0),
        utc(2026, 3, 8, 8, 0),
        id="overnight-across-spring-forward",
    ),
    pytest.param(
        "America/Chicago",
        date(2026, 10, 31),
        time(22, 0),
        time(3, 0),
        60,
        60,
        # 22:00 CDT = 03:00Z; 03:00 CST next morning = 09:00Z: five wall hours, six real ones
        utc(2026, 11, 1, 3, 0),
        utc(2026, 11, 1, 9, 0),
        utc(2026, 11, 1, 2, 0),
        utc(2026, 11, 1, 10, 0),
        id="overnight-across-fall-back",
    ),
    pytest.param(
        "America/New_York",
        date(2026, 2, 28),
        time(23, 0),
        time(2, 0),
        60,
        60,
        # month end: local Feb 28 -> Mar 1, UTC already Mar 1
        utc(2026, 3, 1, 4, 0),
        utc(2026, 3, 1, 7, 0),
        utc(2026, 3, 1, 3, 0),
        utc(2026, 3, 1, 8, 0),
        id="month-end-february",
    ),
    pytest.param(
        "Europe/Berlin",
        date(2028, 2, 28),
        time(22, 0),
        time(1, 0),
        60,
        60,
        # leap year: ends 01:00 CET on Feb 29 = 00:00Z Feb 29
        utc(2028, 2, 28, 21, 0),
        utc(2028, 2, 29, 0, 0),
        utc(2028, 2, 28, 20, 0),
        utc(2028, 2, 29, 1, 0),
        id="month-end-leap-year",
    ),
    pytest.param(
        "Europe/Berlin",
        date(2026, 12, 31),
        time(21, 30),
        time(1, 0),
        60,
        60,
        # year end: ends 01:00 CET on 2027-01-01 = midnight UTC
        utc(2026, 12, 31, 20, 30),
        utc(2027, 1, 1, 0, 0),
        utc(2026, 12, 31, 19, 30),
        utc(2027, 1, 1, 1, 0),
        id="year-end-berlin",
    ),
    pytest.param(
        "Asia/Kolkata",
        date(2027, 1, 1),
        time(1, 0),
        time(3, 0),
        60,
        60,
        # local new year's night is still the old year in UTC
        utc(2026, 12, 31, 19, 30),
        utc(2026, 12, 31, 21, 30),
        utc(2026, 12, 31, 18, 30),
        utc(2026, 12, 31, 22, 30),
        id="year-start-kolkata",
    ),
    pytest.param(
        "America/New_York",
        date(2026, 3, 8),
        time(2, 50),
        time(3, 10),
        0,
        0,
        # start in the gap -> 03:50 EDT = 07:50Z, which passes the end (03:10 EDT = 07:10Z):
        # the instance keeps its 20 wall-clock minutes
        utc(2026, 3, 8, 7, 50),
        utc(2026, 3, 8, 8, 10),
        utc(2026, 3, 8, 7, 50),
        utc(2026, 3, 8, 8, 10),
        id="start-in-gap-passes-end-new-york",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        date(2026, 10, 4),
        time(2, 20),
        time(2, 40),
        0,
        0,
        # start in the 30-minute gap -> 02:50 LHDT = 15:50Z, past the end (02:40 LHDT = 15:40Z)
        utc(2026, 10, 3, 15, 50),
        utc(2026, 10, 3, 16, 10),
        utc(2026, 10, 3, 15, 50),
        utc(2026, 10, 3, 16, 10),
        id="start-in-gap-passes-end-lord-howe",
    ),
    pytest.param(
        "Antarctica/Vostok",
        date(1994, 1, 31),
        time(20, 0),
        time(20, 0),
        0,
        0,
        # +07:00 then -00 (UTC) from February 1994: a whole wall day would last 31 real
        # hours, past MAX_INSTANCE_LENGTH, so it keeps its 24 wall-clock hours
        utc(1994, 1, 31, 13, 0),
        utc(1994, 2, 1, 13, 0),
        utc(1994, 1, 31, 13, 0),
        utc(1994, 2, 1, 13, 0),
        id="clocks-back-past-the-bound-keeps-wall-length",
    ),
    pytest.param(
        "America/New_York",
        date(2026, 3, 8),
        time(2, 10),
        time(2, 50),
        0,
        0,
        # both ends in the gap: both shifted forward by an hour, the length is kept
        utc(2026, 3, 8, 7, 10),
        utc(2026, 3, 8, 7, 50),
        utc(2026, 3, 8, 7, 10),
        utc(2026, 3, 8, 7, 50),
        id="start-and-end-in-gap",
    ),
]


@pytest.mark.parametrize(
    "zone_name, on, start, end, before, after, starts_at, ends_at, active_from, active_until", WINDOW_CASES
)
def test_compute_window(zone_name, on, start, end, before, after, starts_at, ends_at, active_from, active_until):
    window = window_of(zone_name, on, start, end, before, after)

    assert (window.starts_at, window.ends_at, window.active_from, window.active_until) == (
        starts_at,
        ends_at,
        active_from,
        active_until,
    )
    assert all(value.utcoffset() == timedelta(0) for value in (window.starts_at, window.ends_at))


@pytest.mark.parametrize(
    "start, end",
    [
        pytest.param(None, time(22, 0), id="no-start"),
        pytest.param(time(19, 0), None, id="no-end"),
        pytest.param(None, None, id="neither"),
    ],
)
def test_compute_window_without_a_time_is_none(start, end):
    assert window_of("Europe/Dublin", date(2026, 1, 8), start, end) is None


@pytest.mark.parametrize(
    "zone_name, on, wall, expected",
    [
        pytest.param("Europe/Dublin", date(2026, 1, 8), time(21, 0), utc(2026, 1, 8, 21, 0), id="dublin-gmt"),
        pytest.param("Europe/Dublin", date(2026, 7, 2), time(21, 0), utc(2026, 7, 2, 20, 0), id="dublin-ist"),
        pytest.param(
            "America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30), id="gap-shifts-forward"
        ),
        pytest.param("America/New_York", date(2026, 3, 8), time(3, 30), utc(2026, 3, 8, 7, 30), id="just-after-gap"),
        pytest.param(
            "America/Chicago", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 6, 30), id="fold-first-occurrence"
        ),
        pytest.param(
            # a fold=1 time (never stored by the database, but possible in memory) still
            # means the first occurrence: RFC 5545 has no second one
            "America/Chicago",
            date(2026, 11, 1),
            time(1, 30, fold=1),
            utc(2026, 11, 1, 6, 30),
            id="fold-1-ignored",
        ),
        pytest.param(
            # an aware time's own tzinfo is ignored: the zone argument decides
            "Asia/Kolkata",
            date(2026, 5, 10),
            time(19, 0, tzinfo=UTC),
            utc(2026, 5, 10, 13, 30),
            id="tzinfo-ignored",
        ),
        pytest.param("Pacific/Chatham", date(2026, 9, 27), time(2, 50), utc(2026, 9, 26, 14, 5), id="chatham-gap"),
    ],
)
def test_local_to_utc(zone_name, on, wall, expected):
    # Chatham: DST starts 2026-09-27 at 02:45 CHAST (+12:45) -> 03:45 CHADT; 02:50 is in the
    # gap, read with the offset before it: 02:50 - 12:45 = 14:05Z the day before.
    result = local_to_utc(on, wall, ZoneInfo(zone_name))

    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    "zone_name, on, start, end",
    [
        pytest.param("America/Chicago", date(2026, 10, 31), time(20, 0), time(20, 0), id="chicago-fall-back"),
        # Troll leaves +02:00 for +00:00 on 2026-10-25 at 01:00Z: a whole wall day lasts 26 hours
        pytest.param("Antarctica/Troll", date(2026, 10, 24), time(20, 0), time(20, 0), id="troll-2h-shift"),
        # Casey went from +11:00 to +08:00 on 2023-03-08: a whole wall day lasted 27 hours
        pytest.param("Antarctica/Casey", date(2023, 3, 8), time(20, 0), time(20, 0), id="casey-3h-shift"),
        # Vostok went from +07:00 to +00:00 in 1994
        pytest.param("Antarctica/Vostok", date(1994, 1, 31), time(20, 0), time(20, 0), id="vostok-7h-shift"),
    ],
)
def test_no_window_is_longer_than_max_window(zone_name, on, start, end):
    """``open_at`` scans ``active_from > t - MAX_WINDOW``: a longer window would be missed."""
    window = window_of(zone_name, on, start, end, MAX_BUFFER_MINUTES, MAX_BUFFER_MINUTES)

    assert window.ends_at > window.starts_at
    assert window.active_until - window.active_from <= MAX_WINDOW


def test_troll_whole_day_keeps_its_real_length():
    # 20:00 +02:00 = 18:00Z on the 24th; 20:00 +00:00 = 20:00Z on the 25th
    window = window_of("Antarctica/Troll", date(2026, 10, 24), time(20, 0), time(20, 0), 0, 0)

    assert (window.starts_at, window.ends_at) == (utc(2026, 10, 24, 18, 0), utc(2026, 10, 25, 20, 0))


@pytest.mark.parametrize(
    "name, valid",
    [
        ("Europe/Dublin", True),
        ("Pacific/Chatham", True),
        ("UTC", True),
        ("Mars/Olympus", False),
        ("europe/dublin", False),
        ("", False),
        ("../etc/passwd", False),
    ],
)
def test_timezone_names(name, valid):
    assert is_valid_timezone(name) is valid
    if valid:
        assert zone(name) == ZoneInfo(name)
    else:
        with pytest.raises(ZoneInfoNotFoundError):
            zone(name)


@pytest.mark.parametrize(
    "instant, zone_name, expected",
    [
        (utc(2026, 12, 31, 19, 30), "Asia/Kolkata", date(2027, 1, 1)),
        (utc(2026, 12, 31, 19, 30), "America/New_York", date(2026, 12, 31)),
        (utc(2026, 3, 1, 4, 0), "America/New_York", date(2026, 2, 28)),
    ],
)
def test_local_date_at(instant, zone_name, expected):
    assert local_date_at(instant, ZoneInfo(zone_name)) == expected
