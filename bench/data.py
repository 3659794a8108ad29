"""Build the benchmark database fast: N sessions over 14 timezones, weekly instances for
a year, ``people_per_session``·N people and their answers around a busy Friday evening.

The window maths stays in Python — ``sessions_app.windows.compute_window``, exactly what
``SessionInstance.save()`` stores — but only once per *pattern* (zone, local times,
buffers) and week: a few thousand calls whatever N. The rows themselves are generated
set-based in SQL (``generate_series`` on PostgreSQL, a recursive CTE on SQLite) by joining
the sessions to small temporary tables of patterns and their weekly windows, so 100,000
sessions and 5.3 million instances build in minutes instead of the ~20 minutes that
``bulk_create`` would take.

Every session's instance in the busy week sits around the evaluated instant ``t``
(``BUSY_NOW`` plus the lookahead) in its own zone: a third of the sessions open their
active window exactly at ``t``, a third close it exactly at ``t`` (they were open at the
previous cron run, 15 minutes earlier), and a third are spread from six hours before to
five hours after. One session in 37 has its busy-week instance cancelled and one in 41
was terminated the week before, so those rules are exercised too.
"""

from __future__ import annotations

import time as timer
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction

from people.models import Attendance, Person
from sessions_app import clock
from sessions_app.models import Session, SessionInstance, SessionSchedule, SweepRun
from sessions_app.windows import compute_window, zone

# A Friday: the evaluated instant is 20:00 UTC (21:00 in Dublin, 16:00 in New York,
# 01:30 on Saturday in Kolkata, 06:00 on Saturday in Sydney).
BUSY_NOW = datetime(2026, 5, 15, 19, 59, tzinfo=UTC)
# The cron schedule runs every 15 minutes; the state before the busy sweep is the one
# the previous run left.
PREVIOUS_RUN = timedelta(minutes=15)
YEAR_OF_WEEKS = (-26, 26)

ZONES = (
    ("Europe/Dublin", "Dublin", "IE"),
    ("Europe/London", "London", "GB"),
    ("Europe/Berlin", "Berlin", "DE"),
    ("America/New_York", "New York", "US"),
    ("America/Chicago", "Chicago", "US"),
    ("America/Los_Angeles", "Los Angeles", "US"),
    ("America/St_Johns", "St. John's", "CA"),
    ("America/Sao_Paulo", "Sao Paulo", "BR"),
    ("Asia/Kolkata", "Kolkata", "IN"),
    ("Asia/Kathmandu", "Kathmandu", "NP"),
    ("Asia/Tokyo", "Tokyo", "JP"),
    ("Australia/Sydney", "Sydney", "AU"),
    ("Australia/Lord_Howe", "Lord Howe Island", "AU"),
    ("Pacific/Auckland", "Auckland", "NZ"),
)
# Per variant: buffers, length of the session, and (for the "spread" kind) where its
# start sits relative to t, all in minutes.
BEFORE = (60, 30, 0, 90, 60, 45, 120, 15)
AFTER = (60, 90, 30, 0, 120, 60, 15, 45)
LENGTH = (180, 150, 240, 210, 180, 120, 270, 300)
SPREAD = (-360, -180, -90, -30, 45, 180, 300, 75)
OPENING, CLOSING, SPREAD_OUT = range(3)
KINDS = 3
VARIANTS = len(BEFORE)
CANCEL_EVERY, CANCEL_AT = 37, 5
TERMINATE_EVERY, TERMINATE_AT = 41, 7
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Pattern:
    """The shape shared by every session with the same zone, kind and variant."""

    id: int
    timezone: str
    city: str
    country: str
    start_time: time
    end_time: time
    before: int
    after: int
    busy_date: date


def pattern_id(index: int) -> int:
    """The pattern of the session with 0-based ``index``; ``pattern_id_sql`` in SQL."""
    zones = len(ZONES)
    return (
        (index % zones) * KINDS * VARIANTS + (index // zones) % KINDS * VARIANTS + index // (zones * KINDS) % VARIANTS
    )


def second_pattern_id_sql(pattern: str) -> str:
    """The pattern of a session's second slot: same zone and variant (so the same buffers
    and length, which are the session's), the next kind (another start around t)."""
    per_zone = KINDS * VARIANTS
    return (
        f"(({pattern}) / {per_zone}) * {per_zone} + ((({pattern}) / {VARIANTS} %% {KINDS} + 1) %% {KINDS}) "
        f"* {VARIANTS} + ({pattern}) %% {VARIANTS}"
    )


def pattern_id_sql(index: str) -> str:
    zones = len(ZONES)
    return (
        f"(({index}) %% {zones}) * {KINDS * VARIANTS} + (({index}) / {zones}) %% {KINDS} * {VARIANTS} "
        f"+ ({index}) / {zones * KINDS} %% {VARIANTS}"
    )


def patterns(t: datetime) -> list[Pattern]:
    """Every pattern, placed around the evaluated instant ``t`` in its zone."""
    result = []
    for zone_index, (tz_name, city, country) in enumerate(ZONES):
        local_t = t.astimezone(zone(tz_name)).replace(tzinfo=None)
        for kind in range(KINDS):
            for variant in range(VARIANTS):
                before, after, length = BEFORE[variant], AFTER[variant], LENGTH[variant]
                offset = {OPENING: before, CLOSING: -length - after, SPREAD_OUT: SPREAD[variant]}[kind]
                start = local_t + timedelta(minutes=offset)
                result.append(
                    Pattern(
                        id=zone_index * KINDS * VARIANTS + kind * VARIANTS + variant,
                        timezone=tz_name,
                        city=city,
                        country=country,
                        start_time=start.time(),
                        end_time=(start + timedelta(minutes=length)).time(),
                        before=before,
                        after=after,
                        busy_date=start.date(),
                    )
                )
    return result


def weekly_windows(pattern: Pattern, weeks: tuple[int, int]):
    """``(week, date, starts_at, ends_at, active_from, active_until)`` for each week."""
    tz = zone(pattern.timezone)
    for week in range(weeks[0], weeks[1] + 1):
        day = pattern.busy_date + timedelta(weeks=week)
        window = compute_window(
            local_date=day,
            start_time=pattern.start_time,
            end_time=pattern.end_time,
            tz=tz,
            buffer_before_minutes=pattern.before,
            buffer_after_minutes=pattern.after,
        )
        if window is None:  # only for an unknown time, and a pattern has both
            raise ValueError(f"pattern {pattern.id} has no window")
        yield week, day, window.starts_at, window.ends_at, window.active_from, window.active_until


def bench_tables() -> list[str]:
    """ceol's tables the benchmark fills, children first."""
    return [m._meta.db_table for m in (Attendance, Person, SweepRun, SessionInstance, SessionSchedule, Session)]


def reset() -> None:
    """Empty ceol's tables (never ``auth``'s: benchmark people have no user)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(bench_tables())} RESTART IDENTITY CASCADE")
        else:
            for table in bench_tables():
                cursor.execute(f"DELETE FROM {table}")


class _Sql:
    """The few spellings that differ between PostgreSQL and SQLite."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"
        self.datetime_type = "timestamptz" if self.postgres else "text"
        self.date_type = "date" if self.postgres else "text"
        self.time_type = "time" if self.postgres else "text"

    def series(self, start: int, stop: int) -> str:
        """A table ``seq(x)`` of the integers ``start <= x < stop``."""
        start, stop = int(start), int(stop)
        if self.postgres:
            return f"generate_series({start}, {stop - 1}) AS seq(x)"
        return (
            f"(WITH RECURSIVE s(x) AS (SELECT {start} UNION ALL SELECT x + 1 FROM s WHERE x + 1 < {stop}) "
            "SELECT x FROM s) AS seq"
        )

    def minus_minutes(self, minutes_sql: str) -> str:
        """The bound instant parameter minus ``minutes_sql`` minutes."""
        if self.postgres:
            return f"(%s::timestamptz - make_interval(mins => ({minutes_sql})::int))"
        return f"datetime(%s, '-' || ({minutes_sql}) || ' minutes')"


def _chunks(total: int, parts: int):
    step = max(1, -(-total // parts))
    for start in range(0, total, step):
        yield start, min(total, start + step)


def build(
    *,
    sessions: int,
    now: datetime = BUSY_NOW,
    weeks: tuple[int, int] = YEAR_OF_WEEKS,
    people_per_session: int = 10,
    second_slot: bool = False,
    progress: Progress = lambda message: None,
) -> dict:
    """Fill an empty database; returns row counts and the build time in seconds.

    ``second_slot``: every session also gets a further time slot (``SessionSchedule``)
    with its own weekly instances, starting at another time around ``t`` (another kind
    of pattern in the same zone), so two of a session's instances can be open at once.

    ``weeks`` is the range of weeks (0 = the busy week, which must be included)
    generated for every session. Needs at least two sessions (each person answers for
    two different sessions).
    """
    if sessions < 2:
        raise ValueError("The benchmark needs at least two sessions.")
    if not weeks[0] <= 0 <= weeks[1]:
        raise ValueError("The week range must include the busy week 0.")
    started = timer.perf_counter()
    sql = _Sql()
    ops = connection.ops
    t = clock.evaluation_instant(now)
    people = sessions * people_per_session

    def say(message: str) -> None:
        progress(f"[build {timer.perf_counter() - started:7.1f}s] {message}")

    all_patterns = patterns(t)
    with transaction.atomic(), connection.cursor() as cursor:
        _create_pattern_tables(cursor, sql, all_patterns, weeks)
        say(f"{len(all_patterns)} patterns over {len(ZONES)} timezones, windows computed")

        session_table = Session._meta.db_table
        cursor.execute(
            f"INSERT INTO {session_table} (name, slug, venue_name, address, city, country, timezone, recurrence, "
            "initiation_date, start_time, end_time, active_buffer_minutes_before, active_buffer_minutes_after, "
            "auto_create_instances, auto_create_hours_ahead, termination_date, created_at) "
            "SELECT 'Bench session ' || seq.x, 'bench-' || seq.x, 'Venue ' || seq.x, '', p.city, p.country, "
            "p.timezone, p.recurrence, p.first_date, p.start_time, p.end_time, p.before, p.after, false, 24, "
            f"CASE WHEN seq.x %% {TERMINATE_EVERY} = {TERMINATE_AT} THEN p.terminate_date END, %s "
            f"FROM {sql.series(0, sessions)} JOIN bench_pattern p ON p.id = {pattern_id_sql('seq.x')}",
            [ops.adapt_datetimefield_value(now - timedelta(days=400))],
        )
        cursor.execute(
            "INSERT INTO bench_session (idx, session_id, pattern_id) "
            f"SELECT s.x, s.id, {pattern_id_sql('s.x')} "
            f"FROM (SELECT CAST(substr(slug, 7) AS integer) AS x, id FROM {session_table} "
            "      WHERE slug LIKE 'bench-%%') AS s",
            [],
        )
        say(f"{sessions:,} sessions")

        instance_table = SessionInstance._meta.db_table
        per_session = weeks[1] - weeks[0] + 1
        for low, high in _chunks(sessions, 10):
            cursor.execute(
                f"INSERT INTO {instance_table} (session_id, date, start_time, end_time, is_cancelled, is_active, "
                "auto_created, starts_at, ends_at, active_from, active_until) "
                "SELECT bs.session_id, w.date, p.start_time, p.end_time, "
                f"(w.week = 0 AND bs.idx %% {CANCEL_EVERY} = {CANCEL_AT}), false, false, "
                "w.starts_at, w.ends_at, w.active_from, w.active_until "
                "FROM bench_session bs JOIN bench_pattern p ON p.id = bs.pattern_id "
                "JOIN bench_pattern_week w ON w.pattern_id = bs.pattern_id "
                "WHERE bs.idx >= %s AND bs.idx < %s ORDER BY bs.session_id, w.week",
                [low, high],
            )
            say(f"instances: {high * per_session:,} / {sessions * per_session:,}")
        cursor.execute(
            "INSERT INTO bench_busy (idx, busy_id, previous_id) "
            "SELECT bs.idx, busy.id, previous.id FROM bench_session bs "
            "JOIN bench_pattern_week w ON w.pattern_id = bs.pattern_id AND w.week = 0 "
            f"JOIN {instance_table} busy ON busy.session_id = bs.session_id AND busy.date = w.date "
            "  AND busy.schedule_id IS NULL "
            f"LEFT JOIN {instance_table} previous ON previous.session_id = bs.session_id "
            "  AND previous.schedule_id IS NULL "
            f"  AND previous.date = {'w.date - 7' if sql.postgres else 'date(w.date, %s)'}",
            [] if sql.postgres else ["-7 days"],
        )
        if second_slot:
            _insert_second_slots(cursor, sessions=sessions, per_session=per_session, say=say)

        person_table = Person._meta.db_table
        for low, high in _chunks(people, 10):
            cursor.execute(
                f"INSERT INTO {person_table} (first_name, last_name, email, city, country, share_location) "
                "SELECT 'Player', 'No. ' || seq.x, '', p.city, p.country, true "
                f"FROM {sql.series(low, high)} JOIN bench_session bs ON bs.idx = seq.x %% {sessions} "
                "JOIN bench_pattern p ON p.id = bs.pattern_id",
                [],
            )
            say(f"people: {high:,} / {people:,}")
        cursor.execute(
            "INSERT INTO bench_person (idx, person_id) "
            f"SELECT CAST(substr(last_name, 5) AS integer), id FROM {person_table} "
            "WHERE first_name = 'Player' AND last_name LIKE 'No. %%'",
            [],
        )
        _insert_attendances(cursor, sql, sessions=sessions, people=people, t=t, say=say)
        cursor.execute("SELECT count(*) FROM bench_busy WHERE busy_id IS NOT NULL")
        busy_instances = cursor.fetchone()[0]
        for table in ("bench_pattern_week", "bench_pattern", "bench_session", "bench_busy", "bench_person"):
            cursor.execute(f"DROP TABLE {table}")
    if busy_instances != sessions:
        raise RuntimeError(f"Only {busy_instances} of {sessions} sessions got a busy-week instance.")
    counts: dict[str, int | float] = {
        "sessions": sessions,
        "slots": sessions * (2 if second_slot else 1),
        "instances": sessions * per_session * (2 if second_slot else 1),
        "people": people,
        "attendances": Attendance.objects.count(),
    }
    if sql.postgres:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(bench_tables())}")
    counts["build_s"] = timer.perf_counter() - started
    say(f"done: {counts['attendances']:,} attendances" + ("; tables analysed" if sql.postgres else ""))
    return counts


def _insert_second_slots(cursor, *, sessions: int, per_session: int, say: Progress) -> None:
    schedule_table = SessionSchedule._meta.db_table
    cursor.execute(
        f"INSERT INTO {schedule_table} (session_id, recurrence, start_time, end_time, label) "
        "SELECT bs.session_id, p.recurrence, p.start_time, p.end_time, 'Second slot' "
        f"FROM bench_session bs JOIN bench_pattern p ON p.id = {second_pattern_id_sql('bs.pattern_id')}",
        [],
    )
    instance_table = SessionInstance._meta.db_table
    for low, high in _chunks(sessions, 10):
        cursor.execute(
            f"INSERT INTO {instance_table} (session_id, schedule_id, date, start_time, end_time, is_cancelled, "
            "is_active, auto_created, starts_at, ends_at, active_from, active_until) "
            "SELECT bs.session_id, slot.id, w.date, p.start_time, p.end_time, "
            f"(w.week = 0 AND bs.idx %% {CANCEL_EVERY} = {CANCEL_AT}), false, false, "
            "w.starts_at, w.ends_at, w.active_from, w.active_until "
            f"FROM bench_session bs JOIN {schedule_table} slot ON slot.session_id = bs.session_id "
            f"JOIN bench_pattern p ON p.id = {second_pattern_id_sql('bs.pattern_id')} "
            "JOIN bench_pattern_week w ON w.pattern_id = p.id "
            "WHERE bs.idx >= %s AND bs.idx < %s ORDER BY bs.session_id, w.week",
            [low, high],
        )
        say(f"second-slot instances: {high * per_session:,} / {sessions * per_session:,}")


def _create_pattern_tables(cursor, sql: _Sql, all_patterns: list[Pattern], weeks: tuple[int, int]) -> None:
    ops = connection.ops
    dt, d, tm = sql.datetime_type, sql.date_type, sql.time_type
    for table in ("bench_pattern_week", "bench_pattern", "bench_session", "bench_busy", "bench_person"):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE bench_pattern (id integer PRIMARY KEY, timezone text, city text, country text, "
        f"recurrence text, first_date {d}, terminate_date {d}, start_time {tm}, end_time {tm}, "
        "before smallint, after smallint)"
    )
    cursor.execute(
        f"CREATE TEMPORARY TABLE bench_pattern_week (pattern_id integer, week integer, date {d}, "
        f"starts_at {dt}, ends_at {dt}, active_from {dt}, active_until {dt}, PRIMARY KEY (pattern_id, week))"
    )
    cursor.execute(
        "CREATE TEMPORARY TABLE bench_session (idx integer PRIMARY KEY, session_id bigint, pattern_id integer)"
    )
    cursor.execute("CREATE TEMPORARY TABLE bench_busy (idx integer PRIMARY KEY, busy_id bigint, previous_id bigint)")
    cursor.execute("CREATE TEMPORARY TABLE bench_person (idx integer PRIMARY KEY, person_id bigint)")
    cursor.executemany(
        "INSERT INTO bench_pattern VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (
                p.id,
                p.timezone,
                p.city,
                p.country,
                f"RRULE:FREQ=WEEKLY;BYDAY={WEEKDAYS[p.busy_date.weekday()]}",
                ops.adapt_datefield_value(p.busy_date + timedelta(weeks=weeks[0])),
                ops.adapt_datefield_value(p.busy_date - timedelta(weeks=1)),
                ops.adapt_timefield_value(p.start_time),
                ops.adapt_timefield_value(p.end_time),
                p.before,
                p.after,
            )
            for p in all_patterns
        ],
    )
    cursor.executemany(
        "INSERT INTO bench_pattern_week VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            (p.id, week, ops.adapt_datefield_value(day), *(ops.adapt_datetimefield_value(v) for v in instants))
            for p in all_patterns
            for week, day, *instants in weekly_windows(p, weeks)
        ],
    )


def _insert_attendances(cursor, sql: _Sql, *, sessions: int, people: int, t: datetime, say: Progress) -> None:
    """Each person answers for the busy-week instance of two sessions in different zones
    (the second one ``1 + 7k`` sessions further on), and said yes to the first session's
    previous week. Check-in times vary so that ties on ``starts_at`` go to the most
    recent check-in and, for one person in 25, to the higher instance id."""
    table = Attendance._meta.db_table
    checked = connection.ops.adapt_datetimefield_value(t - timedelta(hours=2))
    last_week = connection.ops.adapt_datetimefield_value(t - timedelta(days=7, hours=2))
    second = f"(bp.idx %% {sessions} + 1 + (bp.idx / {sessions}) * 7 %% {sessions - 1}) %% {sessions}"
    answers = (
        # (which session's instance, status, check-in time, label)
        ("ba.busy_id", f"ba.idx = bp.idx %% {sessions}", "bp.idx %% 4 = 3", "bp.idx %% 50", checked, "first"),
        ("ba.busy_id", f"ba.idx = {second}", "bp.idx %% 3 = 0", "bp.idx * 3 %% 50", checked, "second"),
        (
            "ba.previous_id",
            f"ba.idx = bp.idx %% {sessions} AND ba.previous_id IS NOT NULL",
            "false",
            "bp.idx %% 50",
            last_week,
            "last week's",
        ),
    )
    for instance, join, maybe, minutes, base, label in answers:
        for low, high in _chunks(people, 4):
            cursor.execute(
                f"INSERT INTO {table} (status, checked_in_at, session_instance_id, person_id) "
                f"SELECT CASE WHEN {maybe} THEN 'maybe' ELSE 'yes' END, "
                f"CASE WHEN {maybe} THEN NULL ELSE {sql.minus_minutes(minutes)} END, {instance}, bp.person_id "
                f"FROM bench_person bp JOIN bench_busy ba ON {join} WHERE bp.idx >= %s AND bp.idx < %s",
                [base, low, high],
            )
            say(f"{label} answers: {high:,} / {people:,} people")
