"""Shared fixtures: small factories for sessions, instances and people."""

from __future__ import annotations

import itertools
from datetime import date, time

import pytest

from people.models import Attendance, Person
from sessions_app.models import Session, SessionInstance

_counter = itertools.count(1)


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
