"""Stored UTC windows brought back in line with what they derive from (SPEC sections 1, 6).

``SessionInstance.save()`` and ``Session.save()`` keep ``starts_at``, ``ends_at``,
``active_from`` and ``active_until`` right for writes through the models. Two things
bypass them: rows written around ``save()`` (``bulk_create``, ``QuerySet.update()``,
``loaddata``, SQL), and a new tz database, which can move the UTC instant of an unchanged
local time. ``recompute_windows`` repairs the first (``manage.py recompute_windows``);
``recompute_windows_if_tz_database_changed`` repairs the second at the start of every
cron/HTTP sweep.

Only instances that have not ended are recomputed: an ended one is history, kept as it
was computed (SPEC 1), like the hooks do.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from sessions_app import clock, windows
from sessions_app.db import EpochMicroseconds, assign_instants, epoch_microseconds
from sessions_app.locks import lock_live_state
from sessions_app.models import SessionInstance, TimeZoneDataVersion

logger = logging.getLogger("ceol.windows")

WINDOW_COLUMNS = ("starts_at", "ends_at", "active_from", "active_until")
NO_WINDOW = (None, None, None, None)
# Instances per step: each step is one SELECT (keyset-paged on the primary key, joined to
# the session's zone and buffers) and, when some rows differ, one UPDATE of those rows.
BATCH_SIZE = 5000
# What a window derives from, then the stored window as integers (see EpochMicroseconds).
PAGE_COLUMNS = (
    "pk",
    "date",
    "start_time",
    "end_time",
    "session__timezone",
    "session__active_buffer_minutes_before",
    "session__active_buffer_minutes_after",
    *(f"{column}_us" for column in WINDOW_COLUMNS),
)
# Windows computed so far in one run, by their inputs: many instances share zone, date,
# times and buffers (the same evening in one city), and the lookup costs far less than the
# zone arithmetic. Bounded so that memory stays small whatever the table size.
MEMO_LIMIT = 50_000

# The tz database version this process's zone caches were filled under.
_zones_loaded_for: str | None = None


def _current_tz_database_version() -> str:
    """The tz database version on disk now; when it is not the one this process's zone
    caches were filled under (a ``tzdata`` upgrade under a long-running process), drop
    those caches first, so that windows are computed with the rules on disk."""
    global _zones_loaded_for
    version = windows.tz_database_version()
    if version != _zones_loaded_for:
        windows.forget_loaded_zones()
        _zones_loaded_for = version
    return version


def _page(now: datetime, *, after_pk: int) -> list[tuple]:
    """The next ``BATCH_SIZE`` not-ended instances after ``after_pk``, in primary-key order.

    Keyset pages rather than one streaming cursor: each page is a short read, a page's
    writes never run under an open cursor over the same table (SQLite has no isolation
    between the two), and memory stays at one page whatever the table size.
    """
    rows = (
        SessionInstance.objects.not_ended_at(now)
        .filter(pk__gt=after_pk)
        .annotate(**{f"{column}_us": EpochMicroseconds(column) for column in WINDOW_COLUMNS})
        .order_by("pk")
    )
    return list(rows.values_list(*PAGE_COLUMNS)[:BATCH_SIZE])


def _changed_windows(page: list[tuple], memo: dict[tuple, tuple]) -> dict[int, tuple]:
    """``{pk: (starts_at, ends_at, active_from, active_until)}`` for the rows of a page
    whose stored window differs from the one computed from their local fields (all
    ``None`` for unknown times or an invalid zone, as ``SessionInstance.refresh_window``
    stores them)."""
    if len(memo) > MEMO_LIMIT:
        memo.clear()
    changed = {}
    for pk, *row in page:
        inputs, stored = tuple(row[:6]), tuple(row[6:])
        known = memo.get(inputs)
        if known is None:
            on, start, end, timezone_name, before, after = inputs
            try:
                found = windows.window_in_zone(
                    timezone_name=timezone_name,
                    local_date=on,
                    start_time=start,
                    end_time=end,
                    buffer_before_minutes=before,
                    buffer_after_minutes=after,
                )
            except OverflowError:
                # A date at the edge of the calendar (year 1 or 9999, written around
                # save()): no representable window, so none; one row never stops the rest.
                found = None
            window = (
                NO_WINDOW if found is None else (found.starts_at, found.ends_at, found.active_from, found.active_until)
            )
            known = memo[inputs] = (window, tuple(map(epoch_microseconds, window)))
        window, as_stored = known
        if as_stored != stored:
            changed[pk] = window
    return changed


def _recompute(now: datetime, *, dry_run: bool) -> dict:
    """Page through the not-ended instances; each page is read, compared and (unless
    ``dry_run``) written in one transaction under the live-state lock."""
    checked = recomputed = 0
    after_pk = 0
    memo: dict[tuple, tuple] = {}
    while True:
        with transaction.atomic():
            if not dry_run:
                lock_live_state(wait=True)
            page = _page(now, after_pk=after_pk)
            changed = _changed_windows(page, memo)
            if not dry_run:
                assign_instants(SessionInstance, WINDOW_COLUMNS, changed)
        recomputed += len(changed)
        if not page:
            return {"checked": checked, "recomputed": recomputed}
        checked += len(page)
        after_pk = page[-1][0]


def recompute_windows(*, now: datetime, dry_run: bool = False) -> dict:
    """Recompute the stored UTC window of every instance that has not ended at ``now``
    (or has no known end) from its date, times and its session's zone and buffers.

    Writes only the rows whose window differs. Works in steps of ``BATCH_SIZE``
    instances, each in its own transaction under the live-state lock (the sweep reads
    these columns), so event hooks and check-ins wait at most one step; interrupted, it
    leaves every finished step correct and can simply be run again. Records the tz
    database version the windows now match, so the next sweep does not redo the work.
    ``dry_run`` computes and writes nothing (and takes no lock).

    Returns ``{"checked": instances compared, "recomputed": instances whose window
    changed (or would change)}``. Cost: per ``BATCH_SIZE`` instances one read, and one
    write of the rows that differ when there are any; ``ends_at`` has no index of its
    own, so a run reads the instance table once.
    """
    version = _current_tz_database_version()
    result = _recompute(now, dry_run=dry_run)
    if not dry_run and _recorded_version() != version:
        TimeZoneDataVersion.objects.create(
            version=version, recorded_at=clock.now(), instances_recomputed=result["recomputed"]
        )
    return result


def _recorded_version() -> str | None:
    return TimeZoneDataVersion.objects.order_by("-pk").values_list("version", flat=True).first()


def recompute_windows_if_tz_database_changed(*, now: datetime) -> int | None:
    """After a tz database upgrade, recompute the windows of instances not ended at ``now``.

    Compares ``windows.tz_database_version()`` with the version the windows were last
    computed with (the latest ``TimeZoneDataVersion``): one query when they are equal,
    and then it returns ``None``. Otherwise (a new tz database, or a database that never
    recorded one) it recomputes every not-ended window in the caller's transaction (it
    takes the live-state lock, which the sweep already holds), records the version and
    returns how many windows changed. Call it inside the sweep's transaction before the
    activation reads the windows, so that sweep already uses the new ones; a rollback
    (a dry run, a failure) undoes the recompute and the record together.

    A process whose zone caches were filled under another version drops them first
    (``_current_tz_database_version``), so a long-running process (gunicorn serving the
    HTTP sweep) computes with the new rules, not the zones it loaded before.
    """
    version = _current_tz_database_version()
    recorded = _recorded_version()
    if recorded == version:
        return None
    with transaction.atomic():
        lock_live_state(wait=True)
        recomputed = _recompute(now, dry_run=False)["recomputed"]
        TimeZoneDataVersion.objects.create(version=version, recorded_at=clock.now(), instances_recomputed=recomputed)
    logger.info(
        "tz database %s (windows were computed with %s): %d instance windows recomputed",
        version,
        recorded or "no recorded version",
        recomputed,
    )
    return recomputed
