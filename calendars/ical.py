"""iCalendar (RFC 5545) text for session instances, written with the ``icalendar`` library.

No ORM here: the views load the instances (with their sessions) and pass them in.

- DTSTART/DTEND are the stored UTC instants on the session's wall clock, with its TZID
  and a VTIMEZONE built from the same tz database (so a client converts them back to
  exactly ``starts_at``/``ends_at``). The one wall time that cannot carry its instant —
  the second pass through a fall-back hour — is written in UTC instead.
- Instances without known times (or of a session whose timezone is not valid) are
  all-day events on their local date.
- UID is stable per instance; DTSTAMP = LAST-MODIFIED (a feed without METHOD, RFC 5545
  3.8.7.2); SEQUENCE is the seconds from SEQUENCE_EPOCH to LAST-MODIFIED, so it grows
  with every change calendar clients should pick up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

import icalendar

PRODID = "-//ceol//session calendar//EN"
SEQUENCE_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
REFRESH_INTERVAL = timedelta(hours=1)


class CalendarSession(Protocol):
    """What an event reads of a session (``sessions_app.models.Session`` has it)."""

    @property
    def name(self) -> str: ...
    @property
    def venue_name(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def city(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def zone(self) -> ZoneInfo | None: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def updated_at(self) -> datetime | None: ...


class CalendarInstance(Protocol):
    """What an event reads of an instance (``sessions_app.models.SessionInstance`` has it)."""

    @property
    def pk(self) -> object: ...
    @property
    def session(self) -> CalendarSession: ...
    @property
    def date(self) -> date: ...
    @property
    def starts_at(self) -> datetime | None: ...
    @property
    def ends_at(self) -> datetime | None: ...
    @property
    def is_cancelled(self) -> bool: ...
    @property
    def updated_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Entry:
    """One event: an instance (with ``.session`` loaded) and an optional line of description."""

    instance: CalendarInstance
    description: str = ""


@lru_cache(maxsize=512)
def vtimezone(name: str, first_year: int, last_year: int) -> icalendar.Timezone:
    """The VTIMEZONE of an IANA zone for the given years (cached: shared, never mutated)."""
    return icalendar.Timezone.from_tzinfo(
        ZoneInfo(name), tzid=name, first_date=date(first_year, 1, 1), last_date=date(last_year, 12, 31)
    )


def on_wall_clock(instant: datetime, tz: ZoneInfo) -> datetime:
    """``instant`` as the session's local time with its zone, or in UTC when the local
    reading is the second pass through a fall-back hour (a TZID wall time means the
    first, RFC 5545 3.3.5)."""
    local = instant.astimezone(tz)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return instant.astimezone(UTC)
    return local


def last_modified(instance: CalendarInstance) -> datetime:
    session = instance.session
    stamps = [s for s in (instance.updated_at, session.updated_at) if s is not None]
    # Rows written around save() have no updated_at: the session's creation is the best known.
    return max(stamps) if stamps else (session.created_at or SEQUENCE_EPOCH)


def sequence(modified: datetime) -> int:
    return max(0, int((modified - SEQUENCE_EPOCH).total_seconds()))


def location(instance: CalendarInstance) -> str:
    session = instance.session
    # The place shown for this instance: its location_override (SPEC 1) when set, else the venue.
    place = getattr(instance, "location_override", "") or session.venue_name
    return ", ".join(part.strip() for part in (place, session.address, session.city) if part and part.strip())


def build_calendar(
    *, name: str, entries: Iterable[Entry], url_of: Callable[[CalendarInstance], str], uid_domain: str
) -> bytes:
    """The feed as bytes. ``url_of(instance)`` gives the absolute URL of its page."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")  # the same hour, for clients that read only this one
    events = []
    zones: dict[str, set[int]] = {}
    for entry in entries:
        event, zone_years = _event(entry, url_of=url_of, uid_domain=uid_domain)
        events.append(event)
        for zone_name, year in zone_years:
            zones.setdefault(zone_name, set()).add(year)
    for zone_name in sorted(zones):
        years = zones[zone_name]
        calendar.add_component(vtimezone(zone_name, min(years) - 1, max(years) + 1))
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()


def _event(
    entry: Entry, *, url_of: Callable[[CalendarInstance], str], uid_domain: str
) -> tuple[icalendar.Event, list[tuple[str, int]]]:
    instance = entry.instance
    session = instance.session
    event = icalendar.Event()
    event.add("uid", f"session-instance-{instance.pk}@{uid_domain}")
    modified = last_modified(instance)
    event.add("dtstamp", modified.astimezone(UTC))
    event.add("last-modified", modified.astimezone(UTC))
    event.add("sequence", sequence(modified))
    cancelled = bool(instance.is_cancelled)
    event.add("summary", f"Cancelled: {session.name}" if cancelled else session.name)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    where = location(instance)
    if where:
        event.add("location", where)
    event.add("url", url_of(instance))
    if entry.description:
        event.add("description", entry.description)
    tz = session.zone
    zone_years: list[tuple[str, int]] = []
    if instance.starts_at is not None and instance.ends_at is not None and tz is not None:
        start, end = on_wall_clock(instance.starts_at, tz), on_wall_clock(instance.ends_at, tz)
        event.add("dtstart", start)
        event.add("dtend", end)
        if session.timezone != "UTC":
            zone_years = [(session.timezone, start.year), (session.timezone, end.year)]
    else:
        event.add("dtstart", instance.date)
        event.add("dtend", instance.date + timedelta(days=1))
    return event, zone_years
