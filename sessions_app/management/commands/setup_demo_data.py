"""Load the demo data in ``fixtures/demo.json`` and give it instances around today.

Idempotent: sessions are matched by slug, people and users by username, instances by
(session, date, start time) and attendances by (person, instance), so a second run on
the same day changes nothing. Everything goes through the models (windows are computed
in ``save()``) inside one transaction; the event hooks run when it commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from people.models import Attendance, Person
from sessions_app import clock
from sessions_app.models import Session, SessionInstance, SessionSchedule, serialize_rules
from sessions_app.occurrences import RecurrenceError, occurrence_starts

DEMO_FILE = Path(settings.BASE_DIR) / "fixtures" / "demo.json"
DAYS_BEFORE = 7
DAYS_AHEAD = 14
# How far past the window to look for a session's next occurrence (monthly rules, or a
# session that has not started yet), so every session shows at least one upcoming date.
NEXT_OCCURRENCE_SEARCH = timedelta(days=400)

SESSION_DEFAULTS = {
    "address": "",
    "recurrence": "",
    "initiation_date": None,
    "termination_date": None,
    "active_buffer_minutes_before": 60,
    "active_buffer_minutes_after": 60,
    "auto_create_instances": False,
    "auto_create_hours_ahead": 24,
    "latitude": None,
    "longitude": None,
}


@dataclass
class DemoSummary:
    """What one load did, for the command's report."""

    sessions_created: int = 0
    sessions_updated: int = 0
    instances_created: int = 0
    users_created: int = 0
    people_created: int = 0
    attendances_created: int = 0
    unresolved: list[str] = field(default_factory=list)
    logins: list[tuple[str, str, bool]] = field(default_factory=list)  # username, password, staff


def load_demo_data(data: dict, *, today: date | None = None, now: datetime | None = None) -> DemoSummary:
    """Create or update the demo sessions, people, logins, instances and attendances.

    ``today`` fixes the date the instances are placed around (from ``DAYS_BEFORE`` days
    before to ``DAYS_AHEAD`` days after); without it each session uses its own local
    date at ``now``. Raises ``ValueError`` on data the models reject.
    """
    now = now or clock.now()
    summary = DemoSummary()
    with transaction.atomic():
        users = {spec["username"]: _sync_user(spec, summary) for spec in data["people"]}
        for username, login in data.get("logins", {}).items():
            users[username] = _sync_login(username, login, users.get(username), summary)
        for spec in data["people"]:
            _sync_person(spec, users[spec["username"]], summary)
        sessions = {}
        for spec in data["sessions"]:
            session = _sync_session(spec, now=now, today=today, summary=summary)
            slots = [_sync_schedule(session, slot) for slot in spec.get("schedules", [])]
            _ensure_instances(session, today=_local_today(session, today, now), summary=summary)
            for slot in slots:
                _ensure_instances(session, today=_local_today(session, today, now), summary=summary, slot=slot)
            sessions[session.slug] = session
        for spec in data.get("attendances", []):
            _add_attendances(spec, sessions, users, today=today, now=now, summary=summary)
        for spec in data.get("location_overrides", []):
            _set_location_override(spec, sessions, today=today, now=now, summary=summary)
    return summary


def _local_today(session: Session, today: date | None, now: datetime) -> date:
    return today if today is not None else now.astimezone(session.zone).date()


def _assign(obj, values: dict) -> bool:
    """Set ``values`` on ``obj``; True when any of them differs from what it held."""
    changed = False
    for name, value in values.items():
        current = getattr(obj, name)
        if name == "recurrence":
            current, value = serialize_rules(current), value or ""
        if current != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _save_valid(obj, label: str) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise ValueError(f"{label}: {exc.message_dict}") from exc
    obj.save()


def _sync_user(spec: dict, summary: DemoSummary):
    user, created = get_user_model().objects.get_or_create(username=spec["username"])
    if created:
        # Players log in only when listed under "logins".
        user.set_unusable_password()
        summary.users_created += 1
    values = {name: spec.get(name, "") for name in ("first_name", "last_name", "email")}
    if _assign(user, values) or created:
        user.save()
    return user


def _sync_login(username: str, login: dict, user, summary: DemoSummary):
    if user is None:
        user, created = get_user_model().objects.get_or_create(username=username)
        summary.users_created += created
    staff = bool(login.get("staff"))
    changed = _assign(user, {"is_staff": staff, "is_superuser": staff, "is_active": True})
    if login.get("email"):
        changed |= _assign(user, {"email": login["email"]})
    if not user.check_password(login["password"]):
        user.set_password(login["password"])
        changed = True
    if changed:
        user.save()
    summary.logins.append((username, login["password"], staff))
    return user


def _sync_person(spec: dict, user, summary: DemoSummary) -> None:
    person = Person.objects.filter(user=user).first()
    if person is None:
        person = Person(user=user)
        summary.people_created += 1
    values = {
        "first_name": spec["first_name"],
        "last_name": spec.get("last_name", ""),
        "email": spec.get("email", ""),
        "city": spec.get("city", ""),
        "country": spec.get("country", ""),
        "share_location": spec.get("share_location", True),
    }
    if _assign(person, values) or person.pk is None:
        _save_valid(person, f"person {spec['username']}")


def _session_values(spec: dict) -> dict:
    values = {**SESSION_DEFAULTS, **{k: v for k, v in spec.items() if k not in ("initiation_in_days", "schedules")}}
    for name in ("start_time", "end_time"):
        values[name] = time.fromisoformat(values[name]) if values.get(name) else None
    for name in ("initiation_date", "termination_date"):
        values[name] = date.fromisoformat(values[name]) if values[name] else None
    for name in ("latitude", "longitude"):
        values[name] = Decimal(str(values[name])) if values[name] not in (None, "") else None
    return values


def _sync_session(spec: dict, *, now: datetime, today: date | None, summary: DemoSummary) -> Session:
    existing = Session.objects.filter(slug=spec["slug"]).first()
    created = existing is None
    session = Session() if existing is None else existing
    values = _session_values(spec)
    starts_later = "initiation_in_days" in spec
    if starts_later:
        # Leave the first date alone while it is still ahead, so reruns change nothing.
        values["initiation_date"] = session.initiation_date
    changed = _assign(session, values)
    if starts_later:
        changed |= _keep_in_future(session, spec["initiation_in_days"], today=today, now=now)
    if changed or created:
        _save_valid(session, f"session {spec['slug']}")
        summary.sessions_created += created
        summary.sessions_updated += not created
    if starts_later:
        # Instances made while the first date was earlier would contradict it.
        session.instances.filter(date__lt=session.initiation_date).delete()
    return session


def _sync_schedule(session: Session, spec: dict) -> SessionSchedule:
    """Create or update the further time slot of ``session`` named by ``spec["label"]``."""
    slot = session.schedules.filter(label=spec["label"]).first() or SessionSchedule(session=session)
    values = {
        "label": spec["label"],
        "recurrence": spec["recurrence"],
        "start_time": time.fromisoformat(spec["start_time"]),
        "end_time": time.fromisoformat(spec["end_time"]),
    }
    if _assign(slot, values) or slot.pk is None:
        _save_valid(slot, f"session {session.slug} slot {spec['label']!r}")
    return slot


def _keep_in_future(session: Session, days: int, *, today: date | None, now: datetime) -> bool:
    """Give a session that has not started an ``initiation_date`` after today: the first
    date its rules produce from ``days`` days on. True when it had to change."""
    local_today = _local_today(session, today, now)
    if session.initiation_date and session.initiation_date > local_today:
        return False
    earliest = local_today + timedelta(days=days)
    session.initiation_date = earliest
    first = _occurrence_dates(session, earliest, earliest + NEXT_OCCURRENCE_SEARCH)
    session.initiation_date = first[0] if first else earliest
    return True


def _occurrence_dates(session: Session, first: date, stop: date, slot: SessionSchedule | None = None) -> list[date]:
    """Local dates from ``first`` up to, not including, ``stop`` on which the session
    (its main slot, or ``slot``) occurs, within its initiation and termination dates."""
    tz = session.zone
    rules = slot or session
    if tz is None or rules.start_time is None:
        return []  # nothing to expand; saving the session then reports what is missing
    starts = occurrence_starts(
        rules.recurrence,
        anchor_date=session.anchor_date(),
        start_time=rules.start_time,
        tz=tz,
        after=datetime.combine(first, time(0), tzinfo=tz),
        before=datetime.combine(stop, time(0), tzinfo=tz),
    )
    return [
        start.date()
        for start in starts
        if (session.initiation_date is None or start.date() >= session.initiation_date)
        and (session.termination_date is None or start.date() <= session.termination_date)
    ]


def _ensure_instances(
    session: Session, *, today: date, summary: DemoSummary, slot: SessionSchedule | None = None
) -> None:
    """Instances for every occurrence of the main slot (or ``slot``) from ``DAYS_BEFORE``
    days before ``today`` to ``DAYS_AHEAD`` days after, plus the next occurrence when none
    falls in that span."""
    rules = slot or session
    if not rules.recurrence or rules.start_time is None:
        return
    stop = today + timedelta(days=DAYS_AHEAD + 1)
    try:
        dates = _occurrence_dates(session, today - timedelta(days=DAYS_BEFORE), stop, slot)
        if not any(d >= today for d in dates):
            dates += _occurrence_dates(session, stop, stop + NEXT_OCCURRENCE_SEARCH, slot)[:1]
    except RecurrenceError as exc:
        raise ValueError(f"session {session.slug}: {exc}") from exc
    for on in dates:
        _, created = SessionInstance.objects.get_or_create(
            session=session,
            date=on,
            start_time=rules.start_time,
            defaults={"end_time": rules.end_time, "schedule": slot},
        )
        summary.instances_created += created


def _instance_relative_to_today(session: Session, offset: int, today: date) -> SessionInstance | None:
    """0: the first instance dated today or later; 1: the one after; -1: the last before today."""
    instances = session.instances.filter(is_cancelled=False)
    if offset >= 0:
        ordered = instances.filter(date__gte=today).order_by("date", "start_time", "id")
        return ordered[offset : offset + 1].first()
    ordered = instances.filter(date__lt=today).order_by("-date", "-start_time", "-id")
    return ordered[-offset - 1 : -offset].first()


def _add_attendances(spec, sessions, users, *, today, now, summary: DemoSummary) -> None:
    session = sessions[spec["session"]]
    instance = _instance_relative_to_today(session, spec["instance"], _local_today(session, today, now))
    if instance is None:
        summary.unresolved.append(f"{session.slug} instance {spec['instance']}")
        return
    for username, status in spec["answers"].items():
        if status not in Attendance.Status.values:
            raise ValueError(f"attendance of {username} at {session.slug}: unknown status {status!r}")
        # get_or_create: an answer someone changed on the demo site is theirs to keep.
        _, created = Attendance.objects.get_or_create(
            person=users[username].person, session_instance=instance, defaults={"status": status}
        )
        summary.attendances_created += created


def _set_location_override(spec, sessions, *, today, now, summary: DemoSummary) -> None:
    session = sessions[spec["session"]]
    instance = _instance_relative_to_today(session, spec["instance"], _local_today(session, today, now))
    if instance is None:
        summary.unresolved.append(f"{session.slug} instance {spec['instance']}")
        return
    if not instance.location_override:  # one set on the demo site is theirs to keep
        instance.location_override = spec["location_override"]
        instance.save(update_fields=["location_override"])


class Command(BaseCommand):
    help = (
        "Load the demo sessions, people and attendances from fixtures/demo.json and create "
        "instances from a week ago to two weeks ahead. Safe to run again; prints the logins."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--today", help="Place instances around this date (YYYY-MM-DD) instead of each session's local today"
        )
        parser.add_argument("--file", default=str(DEMO_FILE), help="The demo data file (default: %(default)s)")

    def handle(self, *args, today=None, file=None, **options):
        day = self._parse_today(today)
        path = Path(file or DEMO_FILE)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the demo data in {path}: {exc}") from None
        try:
            summary = load_demo_data(data, today=day)
        except (ValueError, KeyError) as exc:
            raise CommandError(f"Bad demo data in {path}: {exc}") from None
        self._report(summary, day)

    @staticmethod
    def _parse_today(value) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            raise CommandError(f"--today: {value!r} is not a date like 2026-01-15", returncode=2) from None

    def _report(self, summary: DemoSummary, day: date | None) -> None:
        around = day.isoformat() if day else "each session's local today"
        self.stdout.write(self.style.SUCCESS(f"Demo data ready around {around}."))
        self.stdout.write(
            f"  Sessions: {Session.objects.count()} "
            f"({summary.sessions_created} created, {summary.sessions_updated} updated)"
        )
        self.stdout.write(f"  Instances: {SessionInstance.objects.count()} ({summary.instances_created} created)")
        self.stdout.write(
            f"  People: {Person.objects.count()} ({summary.people_created} created), "
            f"users: {get_user_model().objects.count()} ({summary.users_created} created)"
        )
        self.stdout.write(f"  Attendances: {Attendance.objects.count()} ({summary.attendances_created} created)")
        for missing in summary.unresolved:
            self.stderr.write(f"  No instance for attendances at {missing}; skipped")
        for username, password, staff in summary.logins:
            where = "the admin at /admin/" if staff else "the site"
            self.stdout.write(f"Log in to {where} as {username!r} with password {password!r}")
