"""Helpers shared by the API, page and browser tests: a fixed evening, placing a person,
a logged-in client. The matching fixtures are in ``tests/conftest.py``."""

from __future__ import annotations

from datetime import UTC, datetime

from django.test import Client

from people.models import Person
from sessions_app.models import SessionInstance

EVENING = datetime(2026, 1, 15, 21, 30, tzinfo=UTC)  # 21:30 in Dublin (winter: UTC+0)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def place(person: Person, instance: SessionInstance) -> None:
    Person.objects.filter(pk=person.pk).update(at_active_session_instance=instance)


def login_client(user, *, enforce_csrf_checks: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    client.force_login(user)
    return client
