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

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import recurrence as recurrence_lib
import recurrence.exceptions

from sessions_app.windows import zone


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
            raise RecurrenceError("Unsupported recurrence: more than one start a day (a session has one start time)")


# A property line of the stored text: name, ";"-parameters, ":" value(s).
_DATE_LIST_LINE = re.compile(r"^(?P<name>RDATE|EXDATE)(?P<params>;[^:]*)?:(?P<values>.*)$")
_LOCAL_DATE_TIME = re.compile(r"^\d{8}T\d{6}$")
_DATE_ONLY = re.compile(r"^\d{8}$")


def _parameters(text: str | None) -> dict[str, str]:
    params = {}
    for item in filter(None, (text or "").split(";")):
        key, _, value = item.partition("=")
        params[key.strip().upper()] = value.strip().strip('"')
    return params


def _rewrite_date_list(line: str) -> list[str]:
    """One RDATE/EXDATE line as lines django-recurrence reads right: one value per line,
    a ``TZID`` time converted to its exact UTC instant (``...Z``).

    django-recurrence ignores every parameter, so ``EXDATE;TZID=America/New_York:
    19971224T020000`` would be read as 02:00 UTC (Dec 23 in New York). A local time that
    does not exist or happens twice in that zone follows RFC 5545 (``fold=0``).
    """
    match = _DATE_LIST_LINE.match(line)
    if match is None:
        return [line]
    name = match["name"]
    params = _parameters(match["params"])
    values = [v.strip() for v in match["values"].split(",") if v.strip()]
    if not values:
        raise RecurrenceError(f"Unparsable recurrence: {name} has no value")
    if params.get("VALUE", "DATE-TIME").upper() not in ("DATE", "DATE-TIME"):
        raise RecurrenceError(f"Unsupported recurrence: {name};VALUE={params['VALUE']} (use dates or date-times)")
    tzid = params.get("TZID")
    if not tzid:
        return [f"{name}:{value}" for value in values]
    try:
        tz = zone(tzid)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RecurrenceError(f"Unsupported recurrence: {name} names an unknown time zone TZID={tzid}") from exc
    lines = []
    for value in values:
        if _DATE_ONLY.match(value):
            lines.append(f"{name}:{value}")  # a calendar date has no zone
            continue
        if not _LOCAL_DATE_TIME.match(value):
            raise RecurrenceError(
                f"Unparsable recurrence: {name};TZID={tzid} needs a local date-time like 19971224T020000, not {value!r}"
            )
        try:
            local = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=tz)
            utc = local.astimezone(UTC)
        except (ValueError, OverflowError) as exc:
            raise RecurrenceError(f"Unparsable recurrence: {name} value {value!r}: {exc}") from exc
        lines.append(f"{name}:{utc:%Y%m%dT%H%M%S}Z")
    return lines


def _first_line(exc: Exception) -> str:
    text = str(exc.args[0] if exc.args else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def parse_rules(text: str | None) -> recurrence_lib.Recurrence:
    """The stored or typed rules (RFC 5545 lines) as a ``Recurrence``, or ``RecurrenceError``.

    The one parser for the model field, its form field and the sweep. On top of
    ``recurrence.deserialize`` it honours ``TZID`` on RDATE/EXDATE (see
    ``_rewrite_date_list``), refuses what django-recurrence could read but not write back
    (``INTERVAL=0``: ``serialize()`` would fail when saving) and what a session cannot be
    (more than one start a day). Empty text is an empty ``Recurrence``. Never raises
    anything but ``RecurrenceError``.
    """
    text = (text or "").strip()
    if not text:
        return recurrence_lib.Recurrence()
    try:
        lines = [new for line in text.splitlines() if line.strip() for new in _rewrite_date_list(line.strip())]
        rules = recurrence_lib.deserialize("\n".join(lines))
    except RecurrenceError:
        raise
    except (
        recurrence.exceptions.DeserializationError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        OverflowError,
        AttributeError,
    ) as exc:
        raise RecurrenceError(f"Unparsable recurrence: {_first_line(exc)}") from exc
    check_rules(rules)
    return rules


def check_rules(rules: recurrence_lib.Recurrence) -> None:
    """``RecurrenceError`` unless django-recurrence can write ``rules`` back and a session
    can follow them (``parse_rules`` applies it; the model field applies it to rules
    built in code)."""
    for rule in [*rules.rrules, *rules.exrules]:
        if isinstance(rule.interval, int) and rule.interval < 1:
            raise RecurrenceError(f"Invalid recurrence: INTERVAL must be 1 or more (got {rule.interval})")
        if isinstance(rule.count, int) and rule.count < 1:
            raise RecurrenceError(f"Invalid recurrence: COUNT must be 1 or more (got {rule.count})")
    try:
        recurrence_lib.serialize(rules)
    except (recurrence.exceptions.SerializationError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise RecurrenceError(f"Invalid recurrence: {_first_line(exc)}") from exc
    check_supported(rules)


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
    if getattr(rules, "unreadable", False):  # a stored value that did not parse (sessions_app.fields)
        raise RecurrenceError(rules.error)
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
