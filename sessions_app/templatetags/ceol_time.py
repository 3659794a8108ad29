"""Times people read right (issue 8): every instant in the session's zone with the
abbreviation in force at *that* instant (the end of a spring-forward night says IST),
weekday and date in words. ``static/ceol/live.js`` adds the viewer's browser-zone time
next to every ``<time data-zone>`` when it differs.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.html import format_html

register = template.Library()


def _day(local: datetime) -> str:
    return f"{local:%A} {local.day} {local:%B %Y}"


def _clock(local: datetime) -> str:
    return f"{local:%H:%M} {local:%Z}"


def describe_when(instance) -> str:
    """``Thursday 15 January 2026, 21:00 GMT – 23:30 GMT``; an end on a later date names
    it (``– Monday 30 March 2026, 02:00 IST``); the date alone when the time is unknown."""
    start, end = instance.local_starts, instance.local_ends
    if start is None:
        return f"{instance.date:%A} {instance.date.day} {instance.date:%B %Y}, time unknown"
    text = f"{_day(start)}, {_clock(start)}"
    if end is not None:
        text += f" – {_day(end)}, {_clock(end)}" if end.date() != start.date() else f" – {_clock(end)}"
    return text


@register.simple_tag
def when(instance):
    """``describe_when`` as HTML: one ``<time>`` per instant for the browser-zone hint."""
    start, end = instance.local_starts, instance.local_ends
    if start is None:
        return describe_when(instance)
    zone = instance.session.timezone
    html = format_html(
        '<time datetime="{}" data-zone="{}">{}, {}</time>', start.isoformat(), zone, _day(start), _clock(start)
    )
    if end is not None:
        shown = f"{_day(end)}, {_clock(end)}" if end.date() != start.date() else _clock(end)
        html += format_html(' – <time datetime="{}" data-zone="{}">{}</time>', end.isoformat(), zone, shown)
    return html


@register.simple_tag
def local_instant(session, instant):
    """One instant on the session's wall clock, e.g. ``Thu 15 Jan, 21:00 GMT``."""
    local = session.on_wall_clock(instant)
    if local is None:
        return ""
    return format_html(
        '<time datetime="{}" data-zone="{}">{} {} {}, {}</time>',
        local.isoformat(),
        session.timezone,
        f"{local:%a}",
        local.day,
        f"{local:%b}",
        _clock(local),
    )
