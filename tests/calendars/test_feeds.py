"""Calendar feeds, read back with vobject (a second, independent iCalendar library that
builds its time zones from the feed's own VTIMEZONE): every event's start and end,
converted to UTC, are the instance's stored instants — across DST changes and midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import vobject

from calendars.ical import Entry, build_calendar, on_wall_clock
from people.models import Attendance
from sessions_app.models import Session, SessionInstance


def parse(response) -> vobject.base.Component:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return vobject.readOne(response.content.decode())


def events_by_uid(calendar) -> dict[str, vobject.base.Component]:
    return {event.uid.value: event for event in getattr(calendar, "vevent_list", [])}


def uid_of(instance) -> str:
    return f"session-instance-{instance.pk}@testserver"


# (zone, local date, start, end): spring-forward and fall-back nights of 2026, sessions
# across the change and past midnight, starts and ends inside the gap or the repeated hour.
DST_CASES = [
    ("America/New_York", date(2026, 3, 8), time(1, 30), time(3, 30)),  # across the gap
    ("America/New_York", date(2026, 3, 8), time(2, 30), time(4, 0)),  # starts in the gap
    ("America/New_York", date(2026, 3, 7), time(23, 0), time(2, 30)),  # past midnight, ends in the gap
    ("America/New_York", date(2026, 3, 7), time(22, 0), time(4, 0)),  # past midnight, across the gap
    ("America/New_York", date(2026, 11, 1), time(0, 30), time(1, 30)),  # ends in the repeated hour
    ("America/New_York", date(2026, 11, 1), time(1, 30), time(3, 0)),  # starts in the repeated hour
    ("America/New_York", date(2026, 10, 31), time(22, 0), time(2, 0)),  # past midnight, across the change
    ("Europe/Dublin", date(2026, 3, 29), time(0, 30), time(3, 0)),
    ("Europe/Dublin", date(2026, 3, 29), time(1, 15), time(2, 30)),  # starts in the gap
    ("Europe/Dublin", date(2026, 3, 28), time(21, 0), time(1, 30)),  # past midnight, ends in the gap
    ("Europe/Dublin", date(2026, 10, 25), time(0, 30), time(1, 30)),
    ("Europe/Dublin", date(2026, 10, 25), time(1, 30), time(2, 30)),
    ("Europe/Dublin", date(2026, 10, 24), time(21, 0), time(1, 45)),  # past midnight, across the change
    ("Europe/Dublin", date(2026, 1, 15), time(21, 0), time(0, 30)),  # an ordinary night past midnight
    ("Asia/Kolkata", date(2026, 6, 1), time(19, 0), time(22, 0)),  # +05:30, no DST
]


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "on", "start", "end"), DST_CASES)
def test_session_feed_events_convert_to_the_stored_instants(
    client, clock, make_session, make_instance, zone, on, start, end
):
    session = make_session(timezone=zone, start_time=start, end_time=end, address="1 Main St", city="Springfield")
    instance = make_instance(session, on)
    instance.refresh_from_db()
    assert instance.starts_at is not None and instance.ends_at > instance.starts_at
    clock.set(instance.starts_at - timedelta(days=3))
    response = client.get(f"/sessions/{session.slug}/calendar.ics")
    calendar = parse(response)
    event = events_by_uid(calendar)[uid_of(instance)]
    assert event.dtstart.value.astimezone(UTC) == instance.starts_at
    assert event.dtend.value.astimezone(UTC) == instance.ends_at
    # Written as wall time in the session's zone, with that zone's VTIMEZONE in the file.
    text = response.content.decode()
    local_start = instance.starts_at.astimezone(ZoneInfo(zone))
    assert f"DTSTART;TZID={zone}:{local_start:%Y%m%dT%H%M%S}" in text
    assert [tz.tzid.value for tz in calendar.vtimezone_list] == [zone]
    assert event.location.value == f"{session.venue_name}, 1 Main St, Springfield"
    assert event.url.value == f"http://testserver/instances/{instance.pk}/"
    assert event.status.value == "CONFIRMED"


@pytest.mark.django_db
def test_person_feed_lists_yes_and_maybe_across_zones(
    client, clock, make_session, make_instance, make_person, make_attendance
):
    clock.set(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    new_york = make_session(timezone="America/New_York", start_time=time(1, 30), end_time=time(3, 30))
    dublin = make_session(timezone="Europe/Dublin", start_time=time(21, 0), end_time=time(1, 30))
    going = make_instance(new_york, date(2026, 3, 8))
    maybe = make_instance(dublin, date(2026, 3, 28))
    declined = make_instance(dublin, date(2026, 3, 21))
    someone_elses = make_instance(dublin, date(2026, 3, 14))
    person, other = make_person(), make_person()
    make_attendance(person, going, "yes")
    make_attendance(person, maybe, "maybe")
    make_attendance(person, declined, "no")
    make_attendance(other, someone_elses, "yes")
    token = person.renew_calendar_token()
    calendar = parse(client.get(f"/calendar/{token}.ics"))
    events = events_by_uid(calendar)
    assert set(events) == {uid_of(going), uid_of(maybe)}
    for instance in (going, maybe):
        instance.refresh_from_db()
        event = events[uid_of(instance)]
        assert event.dtstart.value.astimezone(UTC) == instance.starts_at
        assert event.dtend.value.astimezone(UTC) == instance.ends_at
    assert sorted(tz.tzid.value for tz in calendar.vtimezone_list) == ["America/New_York", "Europe/Dublin"]
    assert events[uid_of(maybe)].description.value == "Your answer: Maybe."


@pytest.mark.django_db
def test_range_uid_cancelled_and_updates(client, clock, make_session, make_instance):
    session = make_session()
    today = date(2026, 5, 1)
    clock.set(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    too_old = make_instance(session, today - timedelta(days=31))
    oldest = make_instance(session, today - timedelta(days=29))
    last = make_instance(session, today + timedelta(days=55))
    too_far = make_instance(session, today + timedelta(days=57))
    cancelled = make_instance(session, today + timedelta(days=7), is_cancelled=True)
    unknown_time = make_instance(session, today + timedelta(days=3), start_time=None, end_time=None)
    SessionInstance.objects.filter(pk=unknown_time.pk).update(
        start_time=None, end_time=None, starts_at=None, ends_at=None, active_from=None, active_until=None
    )
    url = f"/sessions/{session.slug}/calendar.ics"
    a_while_ago = datetime(2026, 4, 1, tzinfo=UTC)  # saves in this test all happen within a second
    SessionInstance.objects.update(updated_at=a_while_ago)
    Session.objects.update(updated_at=a_while_ago)
    first = events_by_uid(parse(client.get(url)))
    assert set(first) == {uid_of(i) for i in (oldest, last, cancelled, unknown_time)}
    assert {uid_of(too_old), uid_of(too_far)}.isdisjoint(first)
    assert first[uid_of(cancelled)].status.value == "CANCELLED"
    all_day = first[uid_of(unknown_time)]
    assert all_day.dtstart.value == unknown_time.date and all_day.dtend.value == unknown_time.date + timedelta(days=1)
    # A change to the instance: same UID, a later LAST-MODIFIED and a higher SEQUENCE.
    before = first[uid_of(oldest)]
    oldest.end_time = time(23, 45)
    oldest.save()
    after = events_by_uid(parse(client.get(url)))[uid_of(oldest)]
    assert int(after.sequence.value) > int(before.sequence.value)
    assert after.last_modified.value > before.last_modified.value
    oldest.refresh_from_db()
    assert after.dtend.value.astimezone(UTC) == oldest.ends_at


@pytest.mark.django_db
def test_a_session_time_change_carried_to_instances_bumps_their_sequence(client, clock, make_session, make_instance):
    session = make_session()
    clock.set(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    instance = make_instance(session, date(2026, 5, 8))
    url = f"/sessions/{session.slug}/calendar.ics"
    a_while_ago = datetime(2026, 4, 1, tzinfo=UTC)  # saves in this test all happen within a second
    SessionInstance.objects.update(updated_at=a_while_ago)
    Session.objects.update(updated_at=a_while_ago)
    before = events_by_uid(parse(client.get(url)))[uid_of(instance)]
    session.refresh_from_db()
    session.end_time = time(23, 59)
    session.save()
    after = events_by_uid(parse(client.get(url)))[uid_of(instance)]
    instance.refresh_from_db()
    assert instance.end_time == time(23, 59)
    assert after.dtend.value.astimezone(UTC) == instance.ends_at != before.dtend.value.astimezone(UTC)
    assert int(after.sequence.value) > int(before.sequence.value)


@pytest.mark.django_db
def test_a_session_with_an_invalid_timezone_gives_all_day_events(client, clock, make_session, make_instance):
    session = make_session()
    instance = make_instance(session, date(2026, 5, 8))
    Session.objects.filter(pk=session.pk).update(timezone="Mars/Olympus")
    SessionInstance.objects.filter(pk=instance.pk).update(starts_at=None, ends_at=None)
    clock.set(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    event = events_by_uid(parse(client.get(f"/sessions/{session.slug}/calendar.ics")))[uid_of(instance)]
    assert event.dtstart.value == date(2026, 5, 8)


def test_the_second_pass_through_a_repeated_hour_is_written_in_utc():
    new_york = ZoneInfo("America/New_York")
    first, second = datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert on_wall_clock(first, new_york).tzinfo is new_york
    assert on_wall_clock(second, new_york) == second and on_wall_clock(second, new_york).tzinfo is UTC
    session = SimpleNamespace(
        name="Late",
        venue_name="Pub",
        address="",
        city="NYC",
        timezone="America/New_York",
        zone=new_york,
        updated_at=None,
        created_at=first,
    )
    instance = SimpleNamespace(
        pk=1,
        session=session,
        starts_at=first,
        ends_at=second,
        is_cancelled=False,
        updated_at=None,
        date=date(2026, 11, 1),
    )
    body = build_calendar(name="x", entries=[Entry(instance)], url_of=lambda i: "http://x/", uid_domain="x")
    event = vobject.readOne(body.decode()).vevent
    assert event.dtstart.value.astimezone(UTC) == first and event.dtend.value.astimezone(UTC) == second


def _many_instances(session, count: int, first_day: date) -> None:
    rows = []
    for n in range(count):
        instance = SessionInstance(
            session=session,
            date=first_day + timedelta(days=n // 6),
            start_time=time(10 + 2 * (n % 6), 0),
            end_time=time(11 + 2 * (n % 6), 30),
        )
        instance.refresh_window()
        rows.append(instance)
    SessionInstance.objects.bulk_create(rows)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [5, 500])
def test_session_feed_is_two_queries_whatever_its_size(client, clock, make_session, django_assert_num_queries, count):
    session = make_session()
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    clock.set(now)
    _many_instances(session, count, (now - timedelta(days=29)).date())
    # 1: the session by slug; 2: its instances in range.
    with django_assert_num_queries(2):
        response = client.get(f"/sessions/{session.slug}/calendar.ics")
    assert len(parse(response).vevent_list) == count


@pytest.mark.django_db
@pytest.mark.parametrize("count", [5, 500])
def test_person_feed_is_two_queries_whatever_its_size(
    client, clock, make_session, make_person, django_assert_num_queries, count
):
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    clock.set(now)
    sessions = [make_session(), make_session(timezone="America/New_York")]
    for session in sessions:
        _many_instances(session, count // 2 + count % 2, (now - timedelta(days=29)).date())
    person = make_person()
    instances = SessionInstance.objects.order_by("pk")[:count]
    Attendance.objects.bulk_create(Attendance(person=person, session_instance=i, status="yes") for i in instances)
    token = person.renew_calendar_token()
    # 1: the person by token; 2: their answers with instances and sessions.
    with django_assert_num_queries(2):
        response = client.get(f"/calendar/{token}.ics")
    assert len(parse(response).vevent_list) == count


@pytest.mark.django_db
def test_wrong_and_renewed_tokens_are_a_plain_404(client, make_person):
    person = make_person()
    old = person.renew_calendar_token()
    assert client.get(f"/calendar/{old}.ics").status_code == 200
    new = person.renew_calendar_token()
    assert new != old

    def not_found_page(path: str) -> bytes:
        response = client.get(path)
        assert response.status_code == 404
        return response.content.replace(path.encode(), b"PATH")  # the page links back to its own path

    plain = not_found_page("/no-such-page/")
    for path in (f"/calendar/{old}.ics", f"/calendar/{'x' * 43}.ics", "/calendar/short.ics"):
        assert not_found_page(path) == plain  # the site's plain 404: no hint
    assert client.get(f"/calendar/{new}.ics").status_code == 200


@pytest.mark.django_db
def test_unknown_session_feed_is_404(client):
    assert client.get("/sessions/no-such-session/calendar.ics").status_code == 404
