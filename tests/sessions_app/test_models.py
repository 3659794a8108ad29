"""Session and SessionInstance: constraints the database enforces, validation, and the
stored UTC window columns kept in step with their inputs.

Ordinary (non-transactional) ``django_db`` tests: on-commit hooks never run here, so
what these tests read back was written by ``save()`` itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
import recurrence
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from sessions_app import clock
from sessions_app.models import Session, SessionInstance

pytestmark = pytest.mark.django_db

# A fixed "now": Thursday 2026-01-15 12:00 UTC (Europe/Dublin is on GMT, +00:00).
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    return NOW


def stored_window(instance: SessionInstance) -> tuple:
    row = SessionInstance.objects.values_list("starts_at", "ends_at", "active_from", "active_until").get(pk=instance.pk)
    return tuple(row)


def stored_times(instance: SessionInstance) -> tuple:
    return tuple(SessionInstance.objects.values_list("start_time", "end_time").get(pk=instance.pk))


def expect_integrity_error(write) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def field_errors(obj) -> dict:
    with pytest.raises(ValidationError) as caught:
        obj.full_clean()
    return caught.value.message_dict


# --- constraints enforced by the database -------------------------------------------


def test_a_second_active_instance_of_one_session_is_rejected(make_session, make_instance):
    session = make_session()
    make_instance(session, date(2026, 1, 15), is_active=True)
    second = make_instance(session, date(2026, 1, 16))

    expect_integrity_error(lambda: SessionInstance.objects.filter(pk=second.pk).update(is_active=True))
    expect_integrity_error(lambda: make_instance(session, date(2026, 1, 17), is_active=True))

    assert SessionInstance.objects.filter(session=session, is_active=True).count() == 1
    assert SessionInstance.objects.filter(session=session).count() == 2


def test_each_session_may_have_one_active_instance(make_session, make_instance):
    first, second = make_session(), make_session()
    make_instance(first, date(2026, 1, 15), is_active=True)
    make_instance(second, date(2026, 1, 15), is_active=True)
    make_instance(first, date(2026, 1, 16), is_active=False)
    make_instance(first, date(2026, 1, 17), is_active=False)

    assert SessionInstance.objects.filter(is_active=True).count() == 2
    assert SessionInstance.objects.filter(session=first, is_active=False).count() == 2


@pytest.mark.parametrize("hours", [0, 169, 1000])
def test_hours_ahead_outside_1_to_168_is_rejected_by_the_database(make_session, hours):
    session = make_session()

    expect_integrity_error(lambda: Session.objects.filter(pk=session.pk).update(auto_create_hours_ahead=hours))
    session.auto_create_hours_ahead = hours
    expect_integrity_error(session.save)

    assert Session.objects.get(pk=session.pk).auto_create_hours_ahead == 24


@pytest.mark.parametrize("hours", [1, 168])
def test_hours_ahead_limits_are_accepted(make_session, hours):
    session = make_session(auto_create_hours_ahead=hours)
    session.full_clean()

    assert Session.objects.get(pk=session.pk).auto_create_hours_ahead == hours


@pytest.mark.parametrize("hours", [0, 169])
def test_hours_ahead_outside_1_to_168_is_rejected_by_full_clean(make_session, hours):
    session = make_session()
    session.auto_create_hours_ahead = hours

    assert set(field_errors(session)) == {"auto_create_hours_ahead"}


@pytest.mark.parametrize("field", ["active_buffer_minutes_before", "active_buffer_minutes_after"])
def test_buffers_above_720_are_rejected(make_session, field):
    session = make_session()

    expect_integrity_error(lambda: Session.objects.filter(pk=session.pk).update(**{field: 721}))
    setattr(session, field, 721)
    assert set(field_errors(session)) == {field}

    setattr(session, field, 720)
    session.full_clean()
    session.save()
    assert getattr(Session.objects.get(pk=session.pk), field) == 720


def test_buffers_default_to_60(make_session):
    session = Session.objects.get(pk=make_session().pk)

    assert (session.active_buffer_minutes_before, session.active_buffer_minutes_after) == (60, 60)
    assert (session.auto_create_instances, session.auto_create_hours_ahead) == (False, 24)


def test_one_instance_per_session_date_and_start_time(make_session, make_instance):
    session = make_session()
    make_instance(session, date(2026, 1, 15), start_time=time(20, 0))

    expect_integrity_error(lambda: make_instance(session, date(2026, 1, 15), start_time=time(20, 0)))

    # Festival afternoon and evening sets on one date, and the same time on another
    # session, are all fine.
    make_instance(session, date(2026, 1, 15), start_time=time(14, 0), end_time=time(17, 0))
    make_instance(make_session(), date(2026, 1, 15), start_time=time(20, 0))
    assert SessionInstance.objects.filter(date=date(2026, 1, 15)).count() == 3


# --- validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, valid",
    [
        ("Europe/Dublin", True),
        ("Pacific/Chatham", True),
        ("Mars/Olympus", False),
        ("Europe/dublin", False),
        ("GMT+1", False),
    ],
)
def test_timezone_is_validated_against_zoneinfo(make_session, name, valid):
    session = make_session()
    session.timezone = name

    if valid:
        session.full_clean()
    else:
        assert set(field_errors(session)) == {"timezone"}


@pytest.mark.parametrize(
    "entered, stored",
    [("IE", "IE"), ("ie", "IE"), (" us ", "US"), ("De", "DE")],
)
def test_country_is_stored_upper_case(make_session, entered, stored):
    session = make_session(country=entered)
    assert Session.objects.get(pk=session.pk).country == stored

    form_entry = Session.objects.get(pk=session.pk)
    form_entry.country = entered
    form_entry.full_clean()
    assert form_entry.country == stored


@pytest.mark.parametrize("entered", ["ZZ", "XX", "UK", "IRL", "I1", "1E"])
def test_country_must_be_an_iso_alpha_2_code(make_session, entered):
    session = make_session()
    session.country = entered

    assert set(field_errors(session)) == {"country"}


def test_full_clean_reports_country_with_other_field_errors(make_session):
    session = make_session()
    session.country = "ZZ"
    session.timezone = "Mars/Olympus"

    assert set(field_errors(session)) == {"country", "timezone"}


@pytest.mark.parametrize(
    "rules, needs_anchor",
    [
        ("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", True),
        ("RRULE:FREQ=MONTHLY;INTERVAL=3;BYDAY=-1TH", True),
        ("RRULE:FREQ=WEEKLY", True),
        ("RRULE:FREQ=WEEKLY;BYDAY=TH", False),
        ("RRULE:FREQ=MONTHLY;BYDAY=-1TH", False),
    ],
)
def test_rules_counting_from_a_first_date_require_initiation_date(make_session, rules, needs_anchor):
    session = make_session(recurrence=rules)
    session = Session.objects.get(pk=session.pk)

    if needs_anchor:
        assert set(field_errors(session)) == {"initiation_date"}
        session.initiation_date = date(2026, 1, 1)
    session.full_clean()


def test_a_recurring_session_needs_both_times(make_session):
    session = Session.objects.get(pk=make_session(recurrence="RRULE:FREQ=WEEKLY;BYDAY=TH").pk)
    session.end_time = None

    assert set(field_errors(session)) == {"start_time"}


# --- instance times and the stored UTC window ---------------------------------------


def test_an_instance_created_without_times_copies_the_sessions(make_session, make_instance):
    session = make_session(start_time=time(21, 30), end_time=time(1, 0))

    copied = make_instance(session, date(2026, 1, 15))
    own_start = make_instance(session, date(2026, 1, 16), start_time=time(20, 0))
    own_both = make_instance(session, date(2026, 1, 17), start_time=time(14, 0), end_time=time(17, 0))

    assert stored_times(copied) == (time(21, 30), time(1, 0))
    assert stored_times(own_start) == (time(20, 0), time(1, 0))
    assert stored_times(own_both) == (time(14, 0), time(17, 0))


def test_the_utc_window_is_written_by_save_itself(make_session, make_instance, django_capture_on_commit_callbacks):
    session = make_session(timezone="America/New_York", start_time=time(21, 30), end_time=time(1, 0))

    with django_capture_on_commit_callbacks(execute=False):
        instance = make_instance(session, date(2026, 3, 7))
        # 21:30 EST = 02:30Z; 01:00 EST on the 8th (before the 02:00 change) = 06:00Z
        assert stored_window(instance) == (
            utc(2026, 3, 8, 2, 30),
            utc(2026, 3, 8, 6, 0),
            utc(2026, 3, 8, 1, 30),
            utc(2026, 3, 8, 7, 0),
        )

        instance.start_time = time(2, 30)
        instance.end_time = time(4, 0)
        instance.date = date(2026, 3, 8)
        instance.save(update_fields=["date", "start_time", "end_time"])
        # the gap: 02:30 -> 03:30 EDT = 07:30Z; 04:00 EDT = 08:00Z
        assert stored_window(instance) == (
            utc(2026, 3, 8, 7, 30),
            utc(2026, 3, 8, 8, 0),
            utc(2026, 3, 8, 6, 30),
            utc(2026, 3, 8, 9, 0),
        )


def test_an_instance_without_times_has_no_window(make_session, make_instance):
    session = make_session(start_time=None, end_time=None)
    instance = make_instance(session, date(2026, 1, 15))
    assert stored_window(instance) == (None, None, None, None)

    instance.start_time, instance.end_time = time(20, 0), time(22, 0)
    instance.save()
    assert stored_window(instance) == (
        utc(2026, 1, 15, 20, 0),
        utc(2026, 1, 15, 22, 0),
        utc(2026, 1, 15, 19, 0),
        utc(2026, 1, 15, 23, 0),
    )


def test_an_invalid_stored_timezone_gives_null_windows(make_session, make_instance):
    session = make_session()
    instance = make_instance(session, date(2026, 1, 15))
    assert stored_window(instance)[0] == utc(2026, 1, 15, 21, 0)
    Session.objects.filter(pk=session.pk).update(timezone="Mars/Olympus")

    reloaded = SessionInstance.objects.get(pk=instance.pk)
    reloaded.save()
    created = make_instance(Session.objects.get(pk=session.pk), date(2026, 1, 16))

    assert stored_window(reloaded) == (None, None, None, None)
    assert stored_window(created) == (None, None, None, None)
    assert stored_times(created) == (time(21, 0), time(23, 30))


# --- session changes carried to its instances ---------------------------------------


@pytest.fixture
def dublin_week(make_session, make_instance, frozen_clock):
    """A Dublin 21:00-23:30 session (GMT) with an ended, a live and a future instance at NOW."""
    session = make_session(start_time=time(21, 0), end_time=time(23, 30))
    ended = make_instance(session, date(2026, 1, 13))  # ended 2026-01-13 23:30Z
    live = make_instance(session, date(2026, 1, 15), start_time=time(11, 0), end_time=time(13, 0))
    future = make_instance(session, date(2026, 1, 16))
    return Session.objects.get(pk=session.pk), ended, live, future


def test_changing_the_timezone_moves_instances_not_ended_and_leaves_ended_ones(dublin_week):
    session, ended, live, future = dublin_week
    ended_before = stored_window(ended)

    session.timezone = "America/New_York"
    session.save()

    assert (
        stored_window(ended)
        == ended_before
        == (utc(2026, 1, 13, 21, 0), utc(2026, 1, 13, 23, 30), utc(2026, 1, 13, 20, 0), utc(2026, 1, 14, 0, 30))
    )
    # EST -05:00
    assert stored_window(live) == (
        utc(2026, 1, 15, 16, 0),
        utc(2026, 1, 15, 18, 0),
        utc(2026, 1, 15, 15, 0),
        utc(2026, 1, 15, 19, 0),
    )
    assert stored_window(future) == (
        utc(2026, 1, 17, 2, 0),
        utc(2026, 1, 17, 4, 30),
        utc(2026, 1, 17, 1, 0),
        utc(2026, 1, 17, 5, 30),
    )


def test_changing_the_buffers_moves_instances_not_ended_and_leaves_ended_ones(dublin_week):
    session, ended, live, future = dublin_week
    ended_before = stored_window(ended)

    session.active_buffer_minutes_before = 0
    session.active_buffer_minutes_after = 720
    session.save(update_fields=["active_buffer_minutes_before", "active_buffer_minutes_after"])

    assert stored_window(ended) == ended_before
    assert stored_window(live) == (
        utc(2026, 1, 15, 11, 0),
        utc(2026, 1, 15, 13, 0),
        utc(2026, 1, 15, 11, 0),
        utc(2026, 1, 16, 1, 0),
    )
    assert stored_window(future) == (
        utc(2026, 1, 16, 21, 0),
        utc(2026, 1, 16, 23, 30),
        utc(2026, 1, 16, 21, 0),
        utc(2026, 1, 17, 11, 30),
    )


def test_changing_the_start_time_moves_instances_that_have_not_started_and_carry_the_old_time(
    dublin_week, make_instance
):
    session, ended, live, future = dublin_week
    edited = make_instance(session, date(2026, 1, 17), start_time=time(19, 0))
    started_at_old_time = make_instance(
        session, date(2026, 1, 14), start_time=time(21, 0), end_time=time(14, 0)
    )  # 21:00 on the 14th until 14:00 on the 15th: started, not ended at NOW
    ended_before, started_before = stored_window(ended), stored_window(started_at_old_time)

    session.start_time = time(20, 0)
    session.save()

    assert stored_times(future) == (time(20, 0), time(23, 30))
    assert stored_window(future) == (
        utc(2026, 1, 16, 20, 0),
        utc(2026, 1, 16, 23, 30),
        utc(2026, 1, 16, 19, 0),
        utc(2026, 1, 17, 0, 30),
    )
    assert stored_times(edited) == (time(19, 0), time(23, 30))
    assert stored_times(ended) == (time(21, 0), time(23, 30))
    assert stored_window(ended) == ended_before
    assert stored_times(started_at_old_time) == (time(21, 0), time(14, 0))
    assert stored_window(started_at_old_time) == started_before
    assert stored_times(live) == (time(11, 0), time(13, 0))


def test_changing_the_end_time_moves_instances_that_have_not_started_and_carry_the_old_end(dublin_week):
    session, ended, live, future = dublin_week

    session.end_time = time(1, 0)
    session.save()

    assert stored_times(future) == (time(21, 0), time(1, 0))
    assert stored_window(future)[1] == utc(2026, 1, 17, 1, 0)
    assert stored_times(ended) == (time(21, 0), time(23, 30))
    assert stored_times(live) == (time(11, 0), time(13, 0))


def test_a_start_time_change_keeps_an_instance_whose_new_time_is_taken(dublin_week, make_instance):
    session, ended, live, future = dublin_week
    afternoon = make_instance(session, date(2026, 1, 16), start_time=time(20, 0), end_time=time(20, 45))

    session.start_time = time(20, 0)
    session.save()  # would break unique (session, date, start_time) if the evening moved

    assert stored_times(future) == (time(21, 0), time(23, 30))
    assert stored_times(afternoon) == (time(20, 0), time(20, 45))
    assert Session.objects.get(pk=session.pk).start_time == time(20, 0)


def test_a_reloaded_session_does_not_replay_changes_made_elsewhere(dublin_week, make_instance):
    session, ended, live, future = dublin_week
    elsewhere = Session.objects.get(pk=session.pk)
    elsewhere.start_time = time(20, 0)
    elsewhere.save()
    assert stored_times(future) == (time(20, 0), time(23, 30))
    edited = make_instance(session, date(2026, 1, 18), start_time=time(21, 0))

    session.refresh_from_db()
    session.name = "Renamed"
    session.save()

    # 21:00 on the 18th was set on that instance by hand; the session's start was already
    # 20:00 when this copy was reloaded, so nothing moves.
    assert stored_times(edited) == (time(21, 0), time(23, 30))
    assert stored_times(future) == (time(20, 0), time(23, 30))


# --- A stale copy's full save() never undoes what the sweep wrote -------------------


def test_stale_instance_save_keeps_the_sweeps_is_active(make_session, make_instance):
    from sessions_app.active_sessions import update_active_sessions

    instance = make_instance(make_session(), date(2026, 1, 15))  # 21:00-23:30 Dublin
    stale = SessionInstance.objects.get(pk=instance.pk)  # loaded before the sweep
    update_active_sessions(datetime(2026, 1, 15, 21, 0, tzinfo=UTC))
    stale.end_time = time(23, 45)
    stale.save()
    instance.refresh_from_db()
    assert (instance.is_active, instance.end_time) == (True, time(23, 45))


def test_stale_person_save_keeps_the_sweeps_location(make_session, make_instance, make_person, make_attendance):
    from people.models import Person
    from sessions_app.active_sessions import update_active_sessions

    instance = make_instance(make_session(), date(2026, 1, 15))
    person = make_person()
    make_attendance(person, instance, "yes")
    stale = Person.objects.get(pk=person.pk)
    update_active_sessions(datetime(2026, 1, 15, 21, 0, tzinfo=UTC))
    stale.city = "Cork"
    stale.save()
    person.refresh_from_db()
    assert (person.at_active_session_instance_id, person.city) == (instance.pk, "Cork")


def test_stale_session_save_keeps_the_auto_create_horizon(make_session):
    from sessions_app.active_sessions import update_active_sessions

    session = make_session(
        recurrence=recurrence.deserialize("RRULE:FREQ=WEEKLY;BYDAY=TH"),
        auto_create_instances=True,
        initiation_date=date(2026, 1, 1),
    )
    stale = Session.objects.get(pk=session.pk)
    update_active_sessions(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    horizon = Session.objects.values_list("auto_created_until", flat=True).get(pk=session.pk)
    assert horizon is not None
    stale.venue_name = "The Back Room"
    stale.save()
    assert Session.objects.values_list("auto_created_until", "venue_name").get(pk=session.pk) == (
        horizon,
        "The Back Room",
    )


# --- near me ----------------------------------------------------------------------------


def brute_force_nearest(sessions, latitude: float, longitude: float) -> list[int]:
    """Every session by ``distance_km``'s formula, nearest first (ties by id)."""
    import math

    def distance(session) -> float:
        s_lat, s_lon = float(session.latitude), float(session.longitude)
        d_lon = (s_lon - longitude + 540.0) % 360.0 - 180.0
        x = math.radians(d_lon) * math.cos(math.radians((s_lat + latitude) / 2.0))
        y = math.radians(s_lat - latitude)
        return math.sqrt(x * x + y * y)

    return [s.pk for s in sorted(sessions, key=lambda s: (distance(s), s.pk))]


@pytest.fixture
def scattered_sessions(db):
    """A dense cluster in Dublin, sessions either side of the antimeridian, some near the
    North Pole and a few anywhere, at reproducible random places."""
    import random
    from decimal import Decimal

    rng = random.Random(8)
    places = (
        [(53.35 + rng.uniform(-0.15, 0.15), -6.26 + rng.uniform(-0.25, 0.25)) for _ in range(600)]
        + [(-18 + rng.uniform(-1, 1), (179.3 + rng.uniform(0, 1.4) + 180) % 360 - 180) for _ in range(60)]
        + [(rng.uniform(88.5, 90), rng.uniform(-180, 180)) for _ in range(30)]
        + [(rng.uniform(-70, 70), rng.uniform(-180, 180)) for _ in range(60)]
    )
    Session.objects.bulk_create(
        Session(
            name=f"S{n}",
            slug=f"s{n}",
            venue_name="Pub",
            city="Somewhere",
            country="IE",
            timezone="UTC",
            latitude=Decimal(f"{latitude:.5f}"),
            longitude=Decimal(f"{longitude:.5f}"),
        )
        for n, (latitude, longitude) in enumerate(places)
    )
    Session.objects.create(name="Nowhere", slug="nowhere", venue_name="Pub", city="X", country="IE", timezone="UTC")
    return list(Session.objects.filter(latitude__isnull=False))


@pytest.mark.parametrize(
    "latitude, longitude, wanted",
    [
        (53.35, -6.26, 1),  # in the cluster: the smallest box
        (53.35, -6.26, 26),
        (53.35, -6.26, 601),  # more than the cluster holds: a wider box
        (53.0, -6.0, 10),  # beside the cluster
        (-18.0, 179.95, 12),  # on the antimeridian
        (-18.0, -179.2, 30),
        (89.9, 10.0, 20),  # at the pole: every longitude
        (0.0, -30.0, 5),  # in the ocean
        (-60.0, 100.0, 300),  # more than there are: every session, sorted
    ],
)
def test_near_is_exact_for_the_first_wanted(scattered_sessions, django_assert_num_queries, latitude, longitude, wanted):
    expected = brute_force_nearest(scattered_sessions, latitude, longitude)[:wanted]
    # 1 the smallest box that holds `wanted`, 1 the sessions of the box around it, nearest first.
    with django_assert_num_queries(2):
        found = list(Session.objects.near(latitude, longitude, wanted=wanted).values_list("pk", flat=True)[:wanted])
    assert found == expected


def test_near_is_exact_whatever_box_it_picks(scattered_sessions):
    """Every number wanted, so that the box picked holds just enough: the sessions just
    outside its sides are nearer than those in its corners."""
    for latitude, longitude in [(53.35, -6.26), (53.43, -6.1)]:
        expected = brute_force_nearest(scattered_sessions, latitude, longitude)
        for wanted in range(1, 300, 7):
            found = list(Session.objects.near(latitude, longitude, wanted=wanted).values_list("pk", flat=True))
            assert found[:wanted] == expected[:wanted], (latitude, longitude, wanted)


def test_near_counts_only_the_sessions_asked_about(scattered_sessions):
    dubliners = Session.objects.filter(latitude__gt=53)
    nearest = list(dubliners.near(-18.0, 179.95, wanted=3)[:3])
    assert len(nearest) == 3 and all(session.latitude > 53 for session in nearest)
