"""Shared fixtures: small factories for sessions, instances and people."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time

import pytest
from django.contrib.auth.models import User

from people.models import Attendance, Person
from sessions_app import clock as app_clock
from sessions_app.active_sessions import update_active_sessions
from sessions_app.models import Session, SessionInstance
from tests.fixed_clock import FixedClock
from tests.site_helpers import EVENING

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The home page caches its country and city counts: no test sees another's."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_session(db):
    def make(**fields) -> Session:
        n = next(_counter)
        values = {
            "name": f"Session {n}",
            "slug": f"session-{n}",
            "venue_name": f"Pub {n}",
            "city": "Dublin",
            "country": "IE",
            "timezone": "Europe/Dublin",
            "start_time": time(21, 0),
            "end_time": time(23, 30),
        }
        values.update(fields)
        return Session.objects.create(**values)

    return make


@pytest.fixture
def make_instance(db):
    def make(session: Session, on: date, **fields) -> SessionInstance:
        return SessionInstance.objects.create(session=session, date=on, **fields)

    return make


@pytest.fixture
def make_person(db):
    def make(**fields) -> Person:
        n = next(_counter)
        values = {"first_name": f"Player{n}", "last_name": "Test", "city": "Dublin", "country": "IE"}
        values.update(fields)
        return Person.objects.create(**values)

    return make


@pytest.fixture
def make_attendance(db):
    def make(person: Person, instance: SessionInstance, status: str = "yes", **fields) -> Attendance:
        return Attendance.objects.create(person=person, session_instance=instance, status=status, **fields)

    return make


@pytest.fixture
def clock(monkeypatch) -> FixedClock:
    """The one way tests control time: ``clock.set(aware)``, ``clock.advance(minutes=5)``.

    Replaces ``sessions_app.clock.now`` for the test (see ``tests/fixed_clock.py``);
    reading it before ``set`` fails the test.
    """
    fixed = FixedClock()
    monkeypatch.setattr(app_clock, "now", fixed.now)
    return fixed


@pytest.fixture
def at_evening(clock: FixedClock) -> datetime:
    """Every clock read (views, services, sweeps) sees EVENING minus the lookahead, so the
    evaluation instant ``t`` is EVENING."""
    clock.set(EVENING - app_clock.lookahead())
    return EVENING


@pytest.fixture
def live_instance(at_evening, make_session, make_instance) -> SessionInstance:
    """Mueller Monday at Mueller's, Dublin, 21:00-23:30 on 2026-01-15: active at EVENING."""
    session = make_session(name="Mueller Monday", venue_name="Mueller's", city="Dublin", address="1 Quay St")
    instance = make_instance(session, date(2026, 1, 15))
    update_active_sessions(EVENING - app_clock.lookahead())
    instance.refresh_from_db()
    assert instance.is_active
    return instance


@pytest.fixture
def member(make_person) -> Person:
    """A player who can log in: user ``aoife`` with a person."""
    user = User.objects.create_user("aoife", password="pw")
    return make_person(user=user, first_name="Aoife", last_name="Byrne")


@pytest.fixture
def staff_user(db) -> User:
    return User.objects.create_user("boss", password="pw", is_staff=True)
