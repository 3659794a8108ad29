"""Pure recurrence maths: a session's rules + anchor + zone -> local occurrence starts.

No ORM here. django-recurrence only stores the rules (RRULE/EXRULE/RDATE/EXDATE); this
module expands them with a zone-aware ``dtstart`` so that wall-clock times survive DST
and BYDAY does not drift across UTC midnight (see ../shared/PITFALLS.md):

- ``dtstart`` is ``combine(anchor_date, start_time, zone)``: it anchors "every other
  week" and gives dateutil the wall-clock time to keep;
- ``dtstart`` itself is never an occurrence unless a rule produces it, and ``dtend``
  is never passed (django-recurrence would add it as an occurrence);
- RDATE and EXDATE name a *local date*: a value at 00:00 UTC (what the admin widget
  stores for a picked day) is that calendar date; any other instant is taken on the
  session's wall calendar. An RDATE occurs at the session's start time on its date;
  an EXDATE removes every occurrence on its date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import recurrence as recurrence_lib
import recurrence.exceptions


class RecurrenceError(ValueError):
    """The stored rules cannot be expanded."""


def _named_local_date(value: datetime | date, tz: ZoneInfo, start_time: time) -> date:
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(tz)
    if local.time() == start_time.replace(tzinfo=None):
        return local.date()  # the exact instant of a local start (New York 19:00 is 00:00Z)
    utc = value.astimezone(UTC)
    if utc.time() == time(0, 0):
        return utc.date()
    return local.date()


SUB_DAILY = {recurrence_lib.HOURLY, recurrence_lib.MINUTELY, recurrence_lib.SECONDLY}


def check_supported(rules: recurrence_lib.Recurrence) -> None:
    """A session starts once a day at its start time: finer rules cannot be instances."""
    for rule in [*rules.rrules, *rules.exrules]:
        if rule.freq in SUB_DAILY or rule.byhour or rule.byminute or rule.bysecond:
            raise RecurrenceError(
                "Unsupported recurrence: more than one start a day (a session has one start time)"
            )


def occurrence_starts(
    rules: recurrence_lib.Recurrence | None,
    *,
    anchor_date: date,
    start_time: time,
    tz: ZoneInfo,
    after: datetime,
    before: datetime,
) -> list[datetime]:
    """Local, zone-aware starts of the occurrences with ``after <= start < before``.

    ``after`` and ``before`` are aware instants (any zone). The result is sorted and
    carries ``tz``. Raises ``RecurrenceError`` when the rules cannot be expanded.
    """
    if rules is None:
        return []
    check_supported(rules)
    dtstart = datetime.combine(anchor_date, start_time.replace(tzinfo=None, fold=0), tzinfo=tz)
    try:
        starts: set[datetime] = set()
        for rule in rules.rrules:
            starts.update(rule.to_dateutil_rrule(dtstart=dtstart).between(after, before, inc=True))
        for rdate in rules.rdates:
            local = datetime.combine(_named_local_date(rdate, tz, start_time), dtstart.timetz())
            if local.date() >= anchor_date:
                starts.add(local)
        excluded_dates = {_named_local_date(exdate, tz, start_time) for exdate in rules.exdates}
        for exrule in rules.exrules:
            excluded_dates.update(
                occurrence.date()
                for occurrence in exrule.to_dateutil_rrule(dtstart=dtstart).between(after, before, inc=True)
            )
    except (TypeError, ValueError, OverflowError, AttributeError, IndexError, KeyError) as exc:
        raise RecurrenceError(f"Unparsable recurrence: {exc}") from exc
    # One start a day: an RDATE on a date a rule also produces is the same occurrence.
    by_date = {s.date(): s for s in sorted(starts, reverse=True) if after <= s < before}
    return sorted(s for d, s in by_date.items() if d not in excluded_dates)


def parse_rules_text(text: str | None) -> recurrence_lib.Recurrence:
    """Stored rules text -> ``Recurrence``; ``RecurrenceError`` when it cannot be read.
    The one place where rules read as text (``Cast``) are parsed, per row."""
    try:
        return recurrence_lib.deserialize(text or "")
    except (recurrence_lib.exceptions.DeserializationError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise RecurrenceError(f"Unparsable recurrence: {exc}") from exc


def rules_need_anchor(rules: recurrence_lib.Recurrence | None) -> bool:
    """True when the rules only make sense from a fixed first date.

    "Every other Thursday" (INTERVAL > 1) and a weekly rule without BYDAY both count
    weeks or weekdays from the anchor date.
    """
    if rules is None:
        return False
    for rule in [*rules.rrules, *rules.exrules]:
        if (rule.interval or 1) > 1:
            return True
        if rule.freq == recurrence_lib.WEEKLY and not rule.byday:
            return True
    return False
