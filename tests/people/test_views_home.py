"""The home page at any size: live now, the next 24 hours, countries by name, cities
case- and space-insensitive, search, pages, near me (distance in the database)."""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal

import pytest
import recurrence
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from people.views import PAGE_SIZE
from sessions_app.models import Session
from tests.site_helpers import place

pytestmark = pytest.mark.django_db


def section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def card_names(html: str) -> list[str]:
    return re.findall(r'<li class="card".*?<a href="/sessions/[^"]+/">([^<]+)</a>', section(html, "sessions"), re.S)


def test_live_now_first_with_how_many_are_there(client, live_instance, make_person, make_attendance):
    for _ in range(2):
        person = make_person()
        make_attendance(person, live_instance, "yes")
        place(person, live_instance)
    html = client.get("/").content.decode()
    live = section(html, "live-now")
    assert "Mueller Monday" in live and "<span data-here-count>2</span> here" in live
    assert html.index('id="live-now"') < html.index('id="sessions"')


def test_next_24_hours_soonest_first(client, at_evening, make_session, make_instance):
    late = make_instance(make_session(name="Late one", start_time=time(20, 0)), date(2026, 1, 16))
    early = make_instance(make_session(name="Early one", start_time=time(10, 0)), date(2026, 1, 16))
    make_instance(make_session(name="Next week"), date(2026, 1, 22))
    soon = section(client.get("/").content.decode(), "starting-soon")
    assert soon.index("Early one") < soon.index("Late one") and "Next week" not in soon
    assert f"/instances/{early.pk}/" in soon and f"/instances/{late.pk}/" in soon


def test_countries_by_name_and_cities_case_and_space_insensitive(client, make_session):
    make_session(city="Dublin")
    make_session(city=" dublin ")
    make_session(city="DUBLIN")
    make_session(city="Cork")
    make_session(city="Berlin", country="DE", timezone="Europe/Berlin")
    html = client.get("/").content.decode()
    countries = section(html, "countries")
    assert ">Ireland</a>" in countries and ">Germany</a>" in countries and ">IE</a>" not in countries
    cities = client.get("/?country=ie").content.decode()
    city_list = cities[cities.index('id="cities"') : cities.index("</ul>", cities.index('id="cities"'))]
    assert re.findall(r">([A-Za-z]+)</a> <span class=\"muted small\">(\d+)", city_list) == [
        ("Dublin", "3"),
        ("Cork", "1"),
    ]
    in_dublin = client.get("/?country=IE&city=dUbLiN").content.decode()
    assert len(card_names(in_dublin)) == 3


def test_search_by_name_venue_or_city(client, make_session):
    make_session(name="Mueller Monday", venue_name="Mueller's")
    make_session(name="Quiet Night", venue_name="The Cobblestone")
    make_session(name="Other", city="Galway")
    assert card_names(client.get("/?q=mueller").content.decode()) == ["Mueller Monday"]
    assert card_names(client.get("/?q=cobble").content.decode()) == ["Quiet Night"]
    assert card_names(client.get("/?q=GALWAY").content.decode()) == ["Other"]


def test_pages_of_sessions(client, make_session):
    for n in range(PAGE_SIZE + 3):
        make_session(name=f"S{n:03d}")
    first = client.get("/").content.decode()
    assert len(card_names(first)) == PAGE_SIZE and 'rel="next" href="?page=2"' in first
    second = client.get("/?page=2").content.decode()
    assert card_names(second) == ["S025", "S026", "S027"] and 'rel="prev"' in second
    assert client.get("/?page=abc").status_code == 200
    assert card_names(client.get("/?page=99").content.decode()) == []


def test_near_me_sorts_by_distance_in_the_database(client, make_session):
    def at(name, lat, lon):
        return make_session(name=name, latitude=Decimal(lat), longitude=Decimal(lon))

    at("Cobblestone", "53.34867", "-6.27807")  # Dublin
    at("Galway", "53.27310", "-9.05118")
    at("Cork", "51.90120", "-8.47360")
    at("Berlin", "52.52000", "13.40500")  # same latitude band, far east
    make_session(name="Nowhere")  # no coordinates
    html = client.get("/?lat=53.35&lon=-6.26").content.decode()
    assert card_names(html) == ["Cobblestone", "Galway", "Cork", "Berlin"]
    assert "Nowhere" not in card_names(html)
    distances = [int(d) for d in re.findall(r'class="distance">(\d+) km', html)]
    assert distances == sorted(distances) and distances[0] <= 2 and 170 <= distances[1] <= 200
    assert client.get("/?lat=500&lon=1").status_code == 200  # ignored, not an error


def test_near_me_across_the_antimeridian(make_session):
    make_session(name="Fiji", latitude=Decimal("-18.1"), longitude=Decimal("178.4"))
    make_session(name="Samoa", latitude=Decimal("-18.0"), longitude=Decimal("-179.9"))
    nearest = Session.objects.near(-18.0, -179.5).first()
    assert nearest.name == "Samoa"
    fiji = Session.objects.near(-18.0, -179.5, wanted=2).get(name="Fiji")
    assert 200 < fiji.distance_km < 250  # ~2.1 degrees of longitude at 18 S, not 358


def test_home_html_stays_small(client, make_session):
    for n in range(60):
        make_session(name="A very long session name " * 3 + str(n))
    assert len(client.get("/").content) < 100_000


def test_home_queries_are_constant_with_live_instances(
    client, at_evening, make_session, make_instance, make_person, django_assert_num_queries
):
    from django.core.cache import cache

    from sessions_app import clock
    from sessions_app.active_sessions import update_active_sessions
    from tests.site_helpers import EVENING

    def measure(count: int) -> int:
        for _ in range(count):
            instance = make_instance(make_session(), date(2026, 1, 15))
            place(make_person(), instance)
        update_active_sessions(EVENING - clock.lookahead(), full=True)
        cache.clear()
        # 1 live ids, 1 those live instances with sessions and people counts, 1 starting
        # within a day, 1 countries, 1 the page of sessions, 1 their live instances.
        with django_assert_num_queries(6):
            html = client.get("/").content.decode()
        return section(html, "live-now").count("data-instance-id=")

    assert measure(2) == 2
    assert measure(10) == 12


@pytest.mark.parametrize("probed", [200, 1])  # a small city, and one read as a big one
def test_live_now_of_the_city_browsed(
    client, at_evening, make_session, make_instance, make_person, django_assert_num_queries, monkeypatch, probed
):
    from django.core.cache import cache

    from sessions_app import clock, models
    from sessions_app.active_sessions import update_active_sessions
    from tests.site_helpers import EVENING

    monkeypatch.setattr(models, "CITY_SESSIONS_PROBED", probed)
    places = [("Late", " dublin", time(21, 15)), ("Early", "Dublin", time(20, 0)), ("Cork", "Cork", time(19, 0))]
    instances = [
        make_instance(make_session(name=name, city=city, start_time=start), date(2026, 1, 15))
        for name, city, start in places
    ]
    update_active_sessions(EVENING - clock.lookahead(), full=True)
    place(make_person(), instances[1])
    cache.clear()
    everywhere = section(client.get("/").content.decode(), "live-now")
    assert re.findall(r'">(\w+)</a>', everywhere) == ["Cork", "Early", "Late"]
    # 1 the city's session ids, 1 their live instances with sessions and people counts,
    # 1 starting within a day, 1 the page of sessions, 1 their live instances.
    with django_assert_num_queries(5):
        html = client.get("/?country=IE&city=DUBLIN").content.decode()
    live = section(html, "live-now")
    assert "Live now in Dublin" in live and re.findall(r'">(\w+)</a>', live) == ["Early", "Late"]
    assert re.findall(r"<span data-here-count>(\d+)</span> here", live) == ["1", "0"]
    # A big city's list may be incomplete: it says there may be more.
    assert ("And more" in live) is (probed == 1)
    galway = section(client.get("/?country=IE&city=Galway").content.decode(), "live-now")
    assert "No session is live in Galway right now." in galway


def test_live_now_and_next_24_hours_show_the_location_override(client, live_instance, make_instance):
    live_instance.location_override = "Upstairs at the Swan this week"
    live_instance.save()
    soon = make_instance(live_instance.session, date(2026, 1, 16), location_override="The back room")
    html = client.get("/").content.decode()
    assert "Upstairs at the Swan this week" in section(html, "live-now")
    starting = section(html, "starting-soon")
    assert f"/instances/{soon.pk}/" in starting and "The back room" in starting
    assert live_instance.session.venue_name not in section(html, "live-now")


def test_a_session_without_upcoming_instances_shows_its_next_date_from_the_rules(
    client, at_evening, make_session, make_instance
):
    """No auto-create, no instance: "Next:" comes from the rules; a cancelled instance
    takes its date out; one query for every such session on the page."""
    weekly = recurrence.Recurrence(rrules=[recurrence.Rule(recurrence.WEEKLY, byday=[recurrence.FR])])
    # initiation_date anchors the rules (created_at is the real clock's, not the test's).
    fridays = [make_session(name=f"Fridays {n}", recurrence=weekly, initiation_date=date(2026, 1, 1)) for n in range(3)]
    make_instance(fridays[0], date(2026, 1, 16), is_cancelled=True)
    html = client.get("/").content.decode()
    assert "Next: Fri 23 Jan, 21:00 GMT" in card_text(html, "Fridays 0")  # the 16th is cancelled
    assert "Next: Fri 16 Jan, 21:00 GMT" in card_text(html, "Fridays 1")

    def count_queries() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            client.get("/")
        return len(queries)

    few = count_queries()
    for n in range(3, 20):
        make_session(name=f"Fridays {n}", recurrence=weekly, initiation_date=date(2026, 1, 1))
    assert count_queries() == few


def card_text(html: str, name: str) -> str:
    """The text of the card that names ``name``, tags removed."""
    start = html.index(f">{name}</a>")
    return " ".join(re.sub(r"<[^>]+>", " ", html[start : html.index("</li>", start)]).split())
