"""Pure time arithmetic: a local date and wall-clock times in a zone -> UTC instants.

No ORM here. The database layer stores what these functions return.

RFC 5545 rules, which Python's ``fold=0`` gives exactly:
- a wall time that does not exist (spring-forward gap) is shifted forward by the gap;
- an ambiguous wall time (fall-back) means its first occurrence.
"""

from __future__ import annotations

import os
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MAX_BUFFER_MINUTES = 720

# The longest an instance can last in real time: at most a day of wall-clock time plus
# the zone turning its clocks back overnight. That is an hour almost everywhere, but
# tzdata holds larger steps: Antarctica/Troll (+02 -> +00 every October), Antarctica/Casey
# (+11 -> +08 in 2021-2023). compute_window() guarantees the bound for any zone and date
# (Vostok's 7-hour step in 1994 included), so the bound can be relied on.
MAX_INSTANCE_LENGTH = timedelta(days=1, hours=3)

# The longest any active window can be: the longest instance plus both buffers.
# The sweep uses it as the lower bound of its index range scan on ``active_from``.
MAX_WINDOW = MAX_INSTANCE_LENGTH + 2 * timedelta(minutes=MAX_BUFFER_MINUTES)


@lru_cache(maxsize=1)
def valid_timezone_names() -> frozenset[str]:
    """The IANA names ``zoneinfo`` knows on this machine (tzdata)."""
    return frozenset(available_timezones())


def is_valid_timezone(name: str) -> bool:
    return name in valid_timezone_names()


def zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name; ``ZoneInfoNotFoundError`` when it is not one."""
    if not is_valid_timezone(name):
        raise ZoneInfoNotFoundError(f"Invalid timezone {name!r}")
    return _loaded_zone(name)


@lru_cache(maxsize=1024)
def _loaded_zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def forget_loaded_zones() -> None:
    """Drop every cached zone and the list of names, so the next lookups read the tz
    database as it is on disk now (after a ``tzdata`` upgrade under a running process)."""
    _loaded_zone.cache_clear()
    valid_timezone_names.cache_clear()
    ZoneInfo.clear_cache()


def tz_database_version() -> str:
    """The version of the tz database ``zoneinfo`` loads zones from, read from disk now.

    ``ZoneInfo(name)`` looks for the zone file in each directory of ``zoneinfo.TZPATH``
    in turn (the system's ``/usr/share/zoneinfo`` on Debian, unless ``PYTHONTZPATH``
    says otherwise) and falls back to the ``tzdata`` package only for a zone none of
    them has. So the answer names every TZPATH directory that exists, with the version
    its ``tzdata.zi`` (or ``+VERSION``) declares, then the package's version, e.g.
    ``"/usr/share/zoneinfo 2025b; tzdata 2026f"``. Any change of any part counts as a new
    version; an upgrade of a source that supplies no zone only costs a needless (cheap)
    recompute. Limit: a TZPATH directory with neither file is named with version
    ``unknown``, so an upgrade of it alone goes unnoticed.
    """
    parts = []
    for directory in zoneinfo.TZPATH:
        if os.path.isdir(directory):
            parts.append(f"{directory} {_declared_version(Path(directory)) or 'unknown'}")
    parts.append(f"tzdata {_package_version() or 'absent'}")
    return "; ".join(parts)


def _declared_version(directory) -> str | None:
    """The version a tz directory declares: ``# version 2026a`` on the first line of
    ``tzdata.zi`` (zic's compact source, shipped by Debian and by the tzdata package),
    else the contents of ``+VERSION`` (macOS)."""
    try:
        with directory.joinpath("tzdata.zi").open(encoding="utf-8") as source:
            first = source.readline().split()
        if first[:2] == ["#", "version"] and len(first) == 3:
            return first[2]
    except (OSError, ValueError):
        pass
    try:
        return directory.joinpath("+VERSION").read_text(encoding="utf-8").strip() or None
    except (OSError, ValueError):
        return None


def _package_version() -> str | None:
    """The ``tzdata`` package's version, read from its files (an upgrade under a running
    process changes the files, not the imported module's ``IANA_VERSION``)."""
    try:
        return _declared_version(resources.files("tzdata").joinpath("zoneinfo"))
    except ModuleNotFoundError:
        return None


def local_to_utc(local_date: date, wall_time: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time, with RFC 5545 gap and fold rules."""
    local = datetime.combine(local_date, wall_time.replace(tzinfo=None, fold=0), tzinfo=tz)
    return local.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """When an instance runs and when it counts as active, all in UTC.

    ``active_from <= t < active_until`` is the active test (half-open).
    """

    starts_at: datetime
    ends_at: datetime
    active_from: datetime
    active_until: datetime


def compute_window(
    *,
    local_date: date,
    start_time: time | None,
    end_time: time | None,
    tz: ZoneInfo,
    buffer_before_minutes: int,
    buffer_after_minutes: int,
) -> Window | None:
    """The UTC window of one instance, or ``None`` when a start or end time is unknown.

    An ``end_time`` at or before ``start_time`` means the instance ends the next day
    (21:30-01:00 runs past midnight; 20:00-20:00 lasts a whole day). The real length
    follows the zone's clock changes, within two limits: an instance never ends at or
    before its start, and never lasts longer than ``MAX_INSTANCE_LENGTH``; outside them
    it keeps its wall-clock length.
    """
    if start_time is None or end_time is None:
        return None
    starts_at = local_to_utc(local_date, start_time, tz)
    end_date = local_date + timedelta(days=1) if end_time <= start_time else local_date
    ends_at = local_to_utc(end_date, end_time, tz)
    if not starts_at < ends_at <= starts_at + MAX_INSTANCE_LENGTH:
        # A start inside a spring-forward gap is shifted forward and can pass an end
        # just after the gap (02:50-03:10 on the change day), and a zone may turn its
        # clocks back by more than the bound allows; keep the wall-clock length.
        ends_at = starts_at + (datetime.combine(end_date, end_time) - datetime.combine(local_date, start_time))
    return Window(
        starts_at=starts_at,
        ends_at=ends_at,
        active_from=starts_at - timedelta(minutes=buffer_before_minutes),
        active_until=ends_at + timedelta(minutes=buffer_after_minutes),
    )


def window_in_zone(
    *,
    timezone_name: str,
    local_date: date,
    start_time: time | None,
    end_time: time | None,
    buffer_before_minutes: int,
    buffer_after_minutes: int,
) -> Window | None:
    """``compute_window`` in the zone named ``timezone_name``; ``None`` when a time is
    unknown or the name is not a valid zone (such an instance has no window)."""
    try:
        tz = zone(timezone_name)
    except ZoneInfoNotFoundError:
        return None
    return compute_window(
        local_date=local_date,
        start_time=start_time,
        end_time=end_time,
        tz=tz,
        buffer_before_minutes=buffer_before_minutes,
        buffer_after_minutes=buffer_after_minutes,
    )


def local_date_at(instant: datetime, tz: ZoneInfo) -> date:
    """The date on the wall calendar of ``tz`` at an aware instant."""
    return instant.astimezone(tz).date()
