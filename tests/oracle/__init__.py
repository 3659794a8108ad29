"""A brute-force oracle of SPEC section 3, independent of the engine.

It reads the database rows with plain ``.values()`` and computes from scratch, in
Python, what a sweep at ``t`` must leave behind:

- ``is_active`` of every instance (rules 3.1-3.3), from the stored UTC window columns
  (the input the sweep uses, SPEC 4), the cancelled flag, the session's timezone and its
  termination date;
- every person's ``at_active_session_instance`` (rule 3.4), which needs the location the
  person had *before* the sweep (people stay where they are).

It also computes each instance's window on its own from the local date, times, zone and
buffers (SPEC 1-2: RFC 5545 gap and fold rules), so tests can check the stored columns.

Nothing here imports the engine (``sessions_app.active_sessions``, ``people.location``,
``sessions_app.windows``): only the models, to read rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from people.models import Attendance, Person
from sessions_app.models import Session, SessionInstance, SweepRun

# (starts_at, ends_at, active_from, active_until), all UTC.
Window = tuple[datetime, datetime, datetime, datetime]

SESSION_COLUMNS = (
    "id",
    "timezone",
    "termination_date",
    "start_time",
    "end_time",
    "active_buffer_minutes_before",
    "active_buffer_minutes_after",
    "auto_create_instances",
)
INSTANCE_INPUTS = (
    "id",
    "session_id",
    "date",
    "start_time",
    "end_time",
    "is_cancelled",
    "starts_at",
    "ends_at",
    "active_from",
    "active_until",
    "auto_created",
)
WINDOW_COLUMNS = ("starts_at", "ends_at", "active_from", "active_until")
ATTENDANCE_COLUMNS = ("id", "person_id", "session_instance_id", "status", "checked_in_at", "left_at")


@lru_cache(maxsize=1)
def iana_names() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass
class Snapshot:
    """Every row the rules read, plus the state they decide, as plain dicts."""

    sessions: dict[int, dict]
    instances: dict[int, dict]  # inputs and ``is_active``
    attendances: list[dict]
    locations: dict[int, int | None]  # person id -> instance id
    sweep_runs: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def active(self) -> set[int]:
        return {pk for pk, row in self.instances.items() if row["is_active"]}

    def state(self) -> tuple:
        """What a sweep may change: active flags, locations, the set of instances."""
        return (self.active, dict(self.locations), set(self.instances))


def snapshot() -> Snapshot:
    sessions = {row["id"]: row for row in Session.objects.order_by().values(*SESSION_COLUMNS)}
    instances = {row["id"]: row for row in SessionInstance.objects.order_by().values(*INSTANCE_INPUTS, "is_active")}
    attendances = list(Attendance.objects.order_by().values(*ATTENDANCE_COLUMNS))
    locations: dict[int, int | None] = dict(
        Person.objects.order_by().values_list("id", "at_active_session_instance_id")
    )
    return Snapshot(sessions, instances, attendances, locations, SweepRun.objects.count())


# --- Rules 3.1-3.3: which instance of each session is active ---------------------------


def qualifies(instance: dict, session: dict, t: datetime) -> bool:
    """Rule 3.1 (stored window contains ``t``, not cancelled, valid zone, not terminated)."""
    if instance["active_from"] is None or instance["active_until"] is None:
        return False
    if not instance["active_from"] <= t < instance["active_until"]:
        return False
    if instance["is_cancelled"]:
        return False
    if session["timezone"] not in iana_names():
        return False
    termination = session["termination_date"]
    return termination is None or instance["date"] <= termination


def expected_active(snap: Snapshot, t: datetime) -> set[int]:
    """Rule 3.2: per session, the qualifying instance with the latest ``starts_at``, ties
    to the higher id; every other instance inactive (3.1: nothing stale, 3.3)."""
    best: dict[int, tuple] = {}
    for pk, instance in snap.instances.items():
        session = snap.sessions[instance["session_id"]]
        if not qualifies(instance, session, t):
            continue
        key = (instance["starts_at"], pk)
        current = best.get(instance["session_id"])
        if current is None or key > current:
            best[instance["session_id"]] = key
    return {pk for _, pk in best.values()}


# --- Rule 3.4: where every person is -------------------------------------------------------


def _never(_: object) -> float:
    return float("-inf")


def expected_locations(
    snap: Snapshot, active: set[int], previous: dict[int, int | None] | None = None
) -> dict[int, int | None]:
    """Each person's location after a sweep that leaves ``active`` active.

    ``previous`` is the location before the sweep (default: the snapshot's); it is kept
    when it is still an active instance with the person's ``yes`` not marked left.
    Otherwise: the candidate that starts first (UTC), then the most recent
    ``checked_in_at`` (a missing one counts as the oldest), then the higher instance id.
    """
    previous = snap.locations if previous is None else previous
    candidates: dict[int, list[int]] = {}
    checked: dict[tuple[int, int], datetime | None] = {}
    for row in snap.attendances:
        if row["status"] == "yes" and row["left_at"] is None and row["session_instance_id"] in active:
            candidates.setdefault(row["person_id"], []).append(row["session_instance_id"])
            checked[(row["person_id"], row["session_instance_id"])] = row["checked_in_at"]
    result: dict[int, int | None] = {}
    for person_id in snap.locations:
        options = candidates.get(person_id, [])
        here = previous.get(person_id)
        if here is not None and here in options:
            result[person_id] = here
            continue
        if not options:
            result[person_id] = None
            continue

        def order(instance_id: int, person_id=person_id):
            stamp = checked[(person_id, instance_id)]
            recency = stamp.timestamp() if stamp is not None else float("-inf")
            return (snap.instances[instance_id]["starts_at"], -recency, -instance_id)

        result[person_id] = min(options, key=order)
    return result


def expected_state(snap: Snapshot, t: datetime, previous: dict[int, int | None] | None = None) -> tuple:
    active = expected_active(snap, t)
    return active, expected_locations(snap, active, previous)


# --- Windows (SPEC 1-2), computed independently ---------------------------------------


def local_instant(on: date, wall: time, tz: ZoneInfo) -> datetime:
    """RFC 5545: a wall time in a gap moves forward by the gap, an ambiguous one is its
    first occurrence (``fold=0``)."""
    return datetime(on.year, on.month, on.day, wall.hour, wall.minute, wall.second, tzinfo=tz, fold=0).astimezone(UTC)


def expected_window(instance: dict, session: dict) -> Window | None:
    """(starts_at, ends_at, active_from, active_until) for one instance, or ``None`` when a
    time is unknown or the zone is not an IANA name."""
    if instance["start_time"] is None or instance["end_time"] is None:
        return None
    if session["timezone"] not in iana_names():
        return None
    tz = ZoneInfo(session["timezone"])
    start, end = instance["start_time"], instance["end_time"]
    end_date = instance["date"] + timedelta(days=1) if end <= start else instance["date"]
    starts_at = local_instant(instance["date"], start, tz)
    ends_at = local_instant(end_date, end, tz)
    if ends_at <= starts_at:
        # A start shifted forward out of a gap past the end: keep the wall-clock length.
        wall_length = datetime.combine(end_date, end) - datetime.combine(instance["date"], start)
        ends_at = starts_at + wall_length
    before = timedelta(minutes=session["active_buffer_minutes_before"])
    after = timedelta(minutes=session["active_buffer_minutes_after"])
    return starts_at, ends_at, starts_at - before, ends_at + after


def window_mismatches(snap: Snapshot) -> list[tuple]:
    """Instances whose stored window differs from the independent computation."""
    wrong = []
    for pk, instance in snap.instances.items():
        have = (instance["starts_at"], instance["ends_at"], instance["active_from"], instance["active_until"])
        want: tuple[datetime | None, ...] = expected_window(instance, snap.sessions[instance["session_id"]]) or (
            None,
            None,
            None,
            None,
        )
        if want != have:
            wrong.append((pk, have, want))
    return wrong


# --- Assertions used by the tests -----------------------------------------------------


def describe(snap: Snapshot, ids) -> list[str]:
    return [
        f"#{pk} (session {snap.instances[pk]['session_id']}, {snap.instances[pk]['date']} "
        f"{snap.instances[pk]['start_time']}, cancelled={snap.instances[pk]['is_cancelled']})"
        for pk in sorted(ids)
        if pk in snap.instances
    ]


def assert_swept_state(before: Snapshot, t: datetime) -> Snapshot:
    """After one sweep at ``t`` that started from ``before``: the instances' inputs are
    untouched (new rows only auto-created ones), and ``is_active`` and every location
    equal the oracle's. Returns the snapshot after."""
    after = snapshot()
    for pk, row in before.instances.items():
        if pk in after.instances:
            # The windows of a session whose zone is not valid mean nothing (never active):
            # an engine may clear them.
            ignored = {"is_active"} | (
                set() if after.sessions[row["session_id"]]["timezone"] in iana_names() else set(WINDOW_COLUMNS)
            )
            kept = {k: v for k, v in after.instances[pk].items() if k not in ignored}
            was = {k: v for k, v in row.items() if k not in ignored}
            assert kept == was, f"the sweep changed the inputs of instance {pk}: {was} -> {kept}"
    new = set(after.instances) - set(before.instances)
    assert all(after.instances[pk]["auto_created"] for pk in new), "the sweep created non-auto instances"
    want_active, want_locations = expected_state(after, t, previous=before.locations)
    have_active = after.active
    assert have_active == want_active, (
        f"is_active at t={t.isoformat()}: missing {describe(after, want_active - have_active)}, "
        f"stale {describe(after, have_active - want_active)}"
    )
    wrong = {pid: (after.locations[pid], want) for pid, want in want_locations.items() if after.locations[pid] != want}
    assert not wrong, f"locations at t={t.isoformat()} (person: (have, want)): {wrong}"
    return after


def assert_second_sweep_changes_nothing(result: dict, before: Snapshot) -> None:
    """``result`` is a second sweep at the same ``t`` as the one that produced ``before``."""
    after = snapshot()
    assert after.state() == before.state(), "a second sweep at the same t changed the state"
    for key in ("activated", "deactivated", "auto_created", "people_moved"):
        assert not result.get(key), f"a second sweep at the same t reported {key}: {result[key]}"
