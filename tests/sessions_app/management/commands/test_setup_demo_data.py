"""setup_demo_data: idempotent, the promised scenarios, instances around today, logins."""

from __future__ import annotations

from datetime import date, time, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from people.models import Attendance, Person
from sessions_app.models import Session, SessionInstance, SweepRun, serialize_rules
from tests.site_helpers import utc

TODAY = date(2026, 1, 15)  # a Thursday, in winter on both sides of the Atlantic
MODELS = (Session, SessionInstance, Person, Attendance, get_user_model(), SweepRun)


def setup_demo(*args: str, today: date | None = TODAY) -> str:
    out = StringIO()
    if today is not None:
        args = (*args, f"--today={today.isoformat()}")
    call_command("setup_demo_data", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def instance_dates(slug: str) -> list[date]:
    return list(SessionInstance.objects.filter(session__slug=slug).order_by("date").values_list("date", flat=True))


@pytest.mark.django_db(transaction=True)
def test_second_run_on_a_real_clock_changes_no_row_counts():
    # transaction=True: the event hooks run on commit (and may auto-create), as on a real site.
    setup_demo(today=None)
    first = row_counts()
    assert first["Session"] >= 10 and first["Person"] >= 10 and first["SessionInstance"] >= 20
    assert first["Attendance"] >= 20
    setup_demo(today=None)
    assert row_counts() == first


@pytest.mark.django_db
def test_second_run_with_a_fixed_date_changes_nothing():
    setup_demo()
    counts = row_counts()
    windows = sorted(SessionInstance.objects.values_list("id", "starts_at", "active_from", "active_until"))
    out = setup_demo()
    assert row_counts() == counts
    assert sorted(SessionInstance.objects.values_list("id", "starts_at", "active_from", "active_until")) == windows
    assert "(0 created, 0 updated)" in out


@pytest.mark.django_db
def test_scenarios_have_their_local_times_zones_and_rules():
    setup_demo()
    sessions = {s.slug: s for s in Session.objects.all()}
    expected = {
        # slug: (timezone, rule, start, end)
        "cobblestone-thursday": ("Europe/Dublin", "RRULE:FREQ=WEEKLY;BYDAY=TH", time(19), time(22, 30)),
        "galway-wednesday-morning-slow-session": ("Europe/Dublin", "RRULE:FREQ=WEEKLY;BYDAY=WE", time(9), time(11)),
        "harp-and-hound-friday": ("Europe/Berlin", "RRULE:FREQ=WEEKLY;BYDAY=FR", time(20), time(23)),
        "gruener-baum-friday-late": ("Europe/Berlin", "RRULE:FREQ=WEEKLY;BYDAY=FR", time(21), time(23, 30)),
        "swift-tuesday-session": ("America/New_York", "RRULE:FREQ=WEEKLY;BYDAY=TU", time(20), time(23)),
        "elston-saturday-afternoon": ("America/Chicago", "RRULE:FREQ=WEEKLY;BYDAY=SA", time(14), time(17)),
        "drunken-poet-sunday": ("Australia/Melbourne", "RRULE:FREQ=WEEKLY;BYDAY=SU", time(15), time(18)),
        "tigh-coili-late-saturday": ("Europe/Dublin", "RRULE:FREQ=WEEKLY;BYDAY=SA", time(21, 30), time(1)),
        "auld-shillelagh-fortnightly": ("Europe/London", "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", time(20), time(23)),
        "sin-e-last-thursday": ("Europe/Dublin", "RRULE:FREQ=MONTHLY;BYDAY=-1TH", time(21), time(23, 30)),
    }
    for slug, (tz, rule, start, end) in expected.items():
        session = sessions[slug]
        assert (session.timezone, serialize_rules(session.recurrence), session.start_time, session.end_time) == (
            tz,
            rule,
            start,
            end,
        ), slug
        assert "DTSTART" not in serialize_rules(session.recurrence)
        assert session.auto_create_instances, slug
    assert len({s.city for s in sessions.values()}) >= 6
    assert sessions["harp-and-hound-friday"].city == sessions["gruener-baum-friday-late"].city == "Berlin"
    poet = sessions["drunken-poet-sunday"]
    assert (poet.active_buffer_minutes_before, poet.active_buffer_minutes_after) == (15, 30)
    assert sessions["auld-shillelagh-fortnightly"].initiation_date == date(2025, 1, 8)


@pytest.mark.django_db
def test_instances_fall_on_the_rules_dates_around_today():
    setup_demo()
    # From 2026-01-08 to 2026-01-29, in each session's zone.
    assert instance_dates("cobblestone-thursday") == [date(2026, 1, d) for d in (8, 15, 22, 29)]
    assert instance_dates("mueller-monday") == [date(2026, 1, d) for d in (12, 19, 26)]
    assert instance_dates("galway-wednesday-morning-slow-session") == [date(2026, 1, d) for d in (14, 21, 28)]
    # Every other Wednesday from 2025-01-08: 54 weeks on is 2026-01-21; the 14th and 28th are off weeks.
    assert instance_dates("auld-shillelagh-fortnightly") == [date(2026, 1, 21)]
    # Last Thursday of January 2026 (December's, the 25th, is before the window).
    assert instance_dates("sin-e-last-thursday") == [date(2026, 1, 29)]
    for slug in Session.objects.exclude(slug="elston-saturday-afternoon").values_list("slug", flat=True):
        assert any(d >= TODAY for d in instance_dates(slug)), slug
        assert all(TODAY - timedelta(days=7) <= d <= TODAY + timedelta(days=14) for d in instance_dates(slug)), slug


@pytest.mark.django_db
def test_instance_windows_are_computed_in_each_sessions_zone():
    setup_demo()

    def instance(slug, on):
        return SessionInstance.objects.get(session__slug=slug, date=on)

    thursday = instance("cobblestone-thursday", date(2026, 1, 15))  # Dublin is UTC in winter
    assert (thursday.starts_at, thursday.ends_at) == (utc(2026, 1, 15, 19), utc(2026, 1, 15, 22, 30))
    morning = instance("galway-wednesday-morning-slow-session", date(2026, 1, 21))
    assert morning.starts_at == utc(2026, 1, 21, 9)
    early = instance("harp-and-hound-friday", date(2026, 1, 16))
    late = instance("gruener-baum-friday-late", date(2026, 1, 16))
    assert (early.starts_at, late.starts_at) == (utc(2026, 1, 16, 19), utc(2026, 1, 16, 20))  # CET
    assert late.starts_at < early.ends_at  # the two Berlin Fridays overlap
    tuesday = instance("swift-tuesday-session", date(2026, 1, 20))
    assert tuesday.starts_at == utc(2026, 1, 21, 1)  # 20:00 EST
    sunday = instance("drunken-poet-sunday", date(2026, 1, 18))  # 15:00 AEDT = 04:00 UTC
    assert (sunday.active_from, sunday.active_until) == (utc(2026, 1, 18, 3, 45), utc(2026, 1, 18, 7, 30))
    past_midnight = instance("tigh-coili-late-saturday", date(2026, 1, 17))
    assert (past_midnight.starts_at, past_midnight.ends_at) == (utc(2026, 1, 17, 21, 30), utc(2026, 1, 18, 1))


@pytest.mark.django_db
def test_saturday_session_starts_in_the_future_and_stays_there_on_a_later_run():
    setup_demo()
    session = Session.objects.get(slug="elston-saturday-afternoon")
    first = session.initiation_date
    assert first is not None and first >= TODAY + timedelta(days=21)
    assert first.weekday() == 5  # a Saturday
    # No instance before it starts, but its first date is listed as upcoming.
    assert instance_dates(session.slug) == [first]

    later = TODAY + timedelta(days=60)
    setup_demo(today=later)
    session.refresh_from_db()
    moved = session.initiation_date
    assert moved is not None and moved >= later + timedelta(days=21)
    assert instance_dates(session.slug) == [moved]


@pytest.mark.django_db
def test_a_later_run_adds_instances_around_the_new_today_without_duplicates():
    setup_demo()
    counts = row_counts()
    later = TODAY + timedelta(days=7)
    setup_demo(today=later)
    assert instance_dates("cobblestone-thursday") == [date(2026, 1, d) for d in (8, 15, 22, 29)] + [date(2026, 2, 5)]
    assert row_counts()["Session"] == counts["Session"]
    assert row_counts()["Person"] == counts["Person"]
    instances = SessionInstance.objects.values_list("session_id", "date", "start_time")
    assert len(set(instances)) == len(instances)


@pytest.mark.django_db
def test_attendances_are_on_instances_relative_to_today():
    setup_demo()
    demo = Person.objects.get(user__username="demo")
    answers = {
        (a.session_instance.session.slug, a.session_instance.date): a.status
        for a in demo.attendances.select_related("session_instance__session")
    }
    assert answers[("cobblestone-thursday", TODAY)] == "yes"  # 0: today's instance
    assert answers[("cobblestone-thursday", date(2026, 1, 8))] == "yes"  # -1: the last one before today
    assert answers[("mueller-monday", date(2026, 1, 19))] == "no"
    assert answers[("harp-and-hound-friday", date(2026, 1, 16))] == "maybe"
    assert set(Attendance.objects.values_list("status", flat=True)) == {"yes", "maybe", "no"}
    # Every player answered something, and nobody answered twice for one instance (DB constraint).
    assert not Person.objects.filter(attendances__isnull=True).exists()
    yes = Attendance.objects.get(
        person=demo, session_instance__session__slug="cobblestone-thursday", session_instance__date=TODAY
    )
    assert yes.checked_in_at is not None


@pytest.mark.django_db
def test_an_answer_changed_on_the_site_is_kept_by_a_rerun():
    setup_demo()
    answer = Attendance.objects.get(
        person__user__username="demo",
        session_instance__session__slug="cobblestone-thursday",
        session_instance__date=TODAY,
    )
    answer.status = "no"
    answer.save()
    setup_demo()
    answer.refresh_from_db()
    assert answer.status == "no"


@pytest.mark.django_db
def test_printed_logins_work(client):
    out = setup_demo()
    assert "'demo' with password 'ceol-demo'" in out
    assert "'admin' with password 'ceol-admin'" in out
    assert client.login(username="demo", password="ceol-demo")
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert client.login(username="admin", password="ceol-admin")
    assert client.get("/admin/").status_code == 200
    player = get_user_model().objects.get(username="siobhan.kelly")
    assert player.person.first_name == "Siobhán"
    assert not player.has_usable_password()
    assert not get_user_model().objects.get(username="demo").is_staff


@pytest.mark.django_db
def test_a_rerun_restores_the_demo_password_and_the_session_fields():
    setup_demo()
    demo = get_user_model().objects.get(username="demo")
    demo.set_password("changed")
    demo.save()
    Session.objects.filter(slug="drunken-poet-sunday").update(active_buffer_minutes_before=60)
    out = setup_demo()
    demo.refresh_from_db()
    assert demo.check_password("ceol-demo")
    poet = Session.objects.get(slug="drunken-poet-sunday")
    assert poet.active_buffer_minutes_before == 15
    assert "(0 created, 1 updated)" in out


@pytest.mark.django_db
def test_bad_today_is_a_usage_error():
    with pytest.raises(CommandError, match="--today") as excinfo:
        setup_demo("--today=15/01/2026", today=None)
    assert excinfo.value.returncode == 2
    assert Session.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_demo_sessions_have_coordinates_for_near_me():
    setup_demo()
    cobblestone = Session.objects.get(slug="cobblestone-thursday")
    assert (str(cobblestone.latitude), str(cobblestone.longitude)) == ("53.34867", "-6.27807")
    assert not Session.objects.filter(latitude__isnull=True).exists()
    nearest = Session.objects.near(53.35, -6.26).values_list("slug", flat=True)[:1]
    assert list(nearest) == ["cobblestone-thursday"]
