"""A new tz database: the next cron/HTTP sweep recomputes the windows of instances that have
not ended, and already activates with them (SPEC 1, issue 6 item 2).

The realistic tests install a tz database of their own in front of ``zoneinfo.TZPATH``
(a directory with a ``tzdata.zi`` naming its version and a zone file whose rules moved),
exactly what an upgrade of the system's tzdata does under a running process.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest
import tzdata

from sessions_app import clock, windows
from sessions_app.active_sessions import reevaluate, update_active_sessions
from sessions_app.models import SessionInstance, SweepRun, TimeZoneDataVersion
from sessions_app.recompute import recompute_windows_if_tz_database_changed
from sessions_app.windows import forget_loaded_zones, tz_database_version, zone
from tests.site_helpers import utc

WINDOW = ("starts_at", "ends_at", "active_from", "active_until")
# Evaluated instant: 18:30 UTC on 2026-01-15. Dublin (UTC+0 in January) at 21:00-23:30
# with 60-minute buffers opens at 20:00 UTC: not yet live. Under the moved rules
# (UTC+2) it opens at 18:00 UTC: live.
T = datetime(2026, 1, 15, 18, 30, tzinfo=UTC)

# A wall-clock time asked of a zone (naive on purpose: utcoffset() takes the local time).
WINTER_WALL_TIME = datetime(2026, 1, 15)  # noqa: DTZ001


def stored(instance: SessionInstance) -> tuple:
    return tuple(SessionInstance.objects.filter(pk=instance.pk).values_list(*WINDOW).get())


def sweep(t: datetime, **options) -> dict:
    return update_active_sessions(t - clock.lookahead(), **options)


def active_ids() -> set[int]:
    return set(SessionInstance.objects.filter(is_active=True).values_list("pk", flat=True))


@pytest.fixture
def tz_database(tmp_path):
    """``install(version, {zone: zone whose rules it takes})`` puts a tz database of that
    version first on ``zoneinfo.TZPATH`` (zones it lacks come from the usual places).
    Caches are not cleared on install: noticing the change is the code's job."""
    original = zoneinfo.TZPATH

    def install(version: str, moved: dict[str, str]) -> str:
        directory = tmp_path / version
        for name, rules_of in moved.items():
            target = directory.joinpath(*name.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(resources.files("tzdata").joinpath("zoneinfo", *rules_of.split("/")).read_bytes())
        directory.joinpath("tzdata.zi").write_text(f"# version {version}\n# (test data)\n")
        zoneinfo.reset_tzpath(to=[str(directory), *original])
        return str(directory)

    yield install
    zoneinfo.reset_tzpath(to=original)
    forget_loaded_zones()


@pytest.fixture
def dublin_evening(make_session, make_instance):
    dublin = make_session(timezone="Europe/Dublin", start_time=time(21, 0), end_time=time(23, 30))
    berlin = make_session(timezone="Europe/Berlin", start_time=time(21, 0), end_time=time(23, 30))
    return {
        "ended": make_instance(dublin, date(2026, 1, 14)),
        "tonight": make_instance(dublin, date(2026, 1, 15)),
        "tomorrow": make_instance(dublin, date(2026, 1, 16)),
        "berlin": make_instance(berlin, date(2026, 1, 15)),
    }


@pytest.mark.django_db
def test_the_sweep_after_a_tz_upgrade_recomputes_and_activates_with_the_new_windows(tz_database, dublin_evening):
    made = dublin_evening
    sweep(T - timedelta(minutes=15))  # the previous cron run, under this machine's tz database
    before = {name: stored(instance) for name, instance in made.items()}
    assert before["tonight"][2] == utc(2026, 1, 15, 20, 0)
    assert active_ids() == set()

    directory = tz_database("2099a", {"Europe/Dublin": "Etc/GMT-2"})  # Dublin moves to UTC+2
    result = sweep(T)

    # Not ended: moved two hours earlier. Ended, and other zones: as they were.
    assert stored(made["tonight"]) == (
        utc(2026, 1, 15, 19),
        utc(2026, 1, 15, 21, 30),
        utc(2026, 1, 15, 18),
        utc(2026, 1, 15, 22, 30),
    )
    assert stored(made["tomorrow"]) == (
        utc(2026, 1, 16, 19),
        utc(2026, 1, 16, 21, 30),
        utc(2026, 1, 16, 18),
        utc(2026, 1, 16, 22, 30),
    )
    assert stored(made["ended"]) == before["ended"]
    assert stored(made["berlin"]) == before["berlin"]
    # The same sweep already used them, although this cron run would otherwise only have
    # looked at windows that opened since the previous run (18:00 is before it).
    assert [entry["instance_id"] for entry in result["activated"]] == [made["tonight"].pk]
    assert active_ids() == {made["tonight"].pk}
    assert SweepRun.objects.order_by("-pk").values_list("full", flat=True).first() is True
    latest = TimeZoneDataVersion.objects.latest("pk")
    assert latest.version.startswith(f"{directory} 2099a; ")
    assert latest.instances_recomputed == 2
    assert TimeZoneDataVersion.objects.count() == 2

    # The next sweep finds nothing new to recompute.
    assert recompute_windows_if_tz_database_changed(now=T) is None


@pytest.mark.django_db
def test_a_dry_run_sweep_shows_the_new_windows_and_writes_nothing(tz_database, dublin_evening):
    made = dublin_evening
    sweep(T - timedelta(minutes=15))
    before = {name: stored(instance) for name, instance in made.items()}
    tz_database("2099a", {"Europe/Dublin": "Etc/GMT-2"})

    result = sweep(T, dry_run=True)

    assert [entry["instance_id"] for entry in result["activated"]] == [made["tonight"].pk]
    assert {name: stored(instance) for name, instance in made.items()} == before
    assert active_ids() == set()
    assert TimeZoneDataVersion.objects.count() == 1
    # The real sweep then does the work.
    sweep(T)
    assert active_ids() == {made["tonight"].pk}


@pytest.mark.django_db
def test_a_faked_version_change_and_moved_zone_recompute_only_that_zones_not_ended_windows(
    monkeypatch, make_session, make_instance
):
    """The same with the seams monkeypatched: the version function and the zone lookup."""
    monkeypatch.setattr(windows, "tz_database_version", lambda: "fake 1")
    new_york = make_session(timezone="America/New_York", start_time=time(13, 0), end_time=time(15, 0))
    ended = make_instance(new_york, date(2026, 1, 14))
    today = make_instance(new_york, date(2026, 1, 15))  # 13:00 EST = 18:00 UTC, opens 17:00
    dublin = make_instance(make_session(timezone="Europe/Dublin"), date(2026, 1, 15))
    sweep(T - timedelta(minutes=15))
    before = {"ended": stored(ended), "dublin": stored(dublin)}
    assert TimeZoneDataVersion.objects.get().version == "fake 1"
    assert active_ids() == {today.pk}

    real_zone = windows.zone
    monkeypatch.setattr(windows, "tz_database_version", lambda: "fake 2")
    # New York moves to UTC-8: 13:00 is 21:00 UTC, the window opens at 20:00.
    monkeypatch.setattr(
        windows, "zone", lambda name: timezone(timedelta(hours=-8)) if name == "America/New_York" else real_zone(name)
    )
    result = sweep(T)

    assert stored(today) == (utc(2026, 1, 15, 21), utc(2026, 1, 15, 23), utc(2026, 1, 15, 20), utc(2026, 1, 16, 0))
    assert stored(ended) == before["ended"]
    assert stored(dublin) == before["dublin"]
    assert [entry["instance_id"] for entry in result["deactivated"]] == [today.pk]
    assert active_ids() == set()
    assert TimeZoneDataVersion.objects.order_by("-pk").values_list("version", "instances_recomputed").first() == (
        "fake 2",
        1,
    )


@pytest.mark.django_db
def test_an_unchanged_version_costs_one_query_and_recomputes_nothing(
    make_session, make_instance, django_assert_num_queries
):
    instance = make_instance(make_session(), date(2026, 1, 15))
    sweep(T)  # records the version
    SessionInstance.objects.filter(pk=instance.pk).update(starts_at=None)  # around save()

    # SELECT the latest recorded tz database version.
    with django_assert_num_queries(1):
        assert recompute_windows_if_tz_database_changed(now=T) is None
    sweep(T + timedelta(minutes=15))
    # The sweep leaves windows written around save() to recompute_windows (SPEC 4).
    assert stored(instance)[0] is None
    assert TimeZoneDataVersion.objects.count() == 1


@pytest.mark.django_db
def test_the_first_sweep_on_a_fresh_database_records_the_version(make_session, make_instance):
    instance = make_instance(make_session(), date(2026, 1, 15))
    SessionInstance.objects.filter(pk=instance.pk).update(active_from=None)
    assert not TimeZoneDataVersion.objects.exists()

    sweep(T)

    assert list(TimeZoneDataVersion.objects.values_list("version", "instances_recomputed")) == [
        (tz_database_version(), 1)
    ]
    assert stored(instance)[2] == utc(2026, 1, 15, 20)  # Dublin 21:00 minus the 60-minute buffer
    sweep(T + timedelta(minutes=15))
    assert TimeZoneDataVersion.objects.count() == 1


@pytest.mark.django_db
def test_event_evaluations_do_not_check_the_tz_database(make_session, make_instance):
    instance = make_instance(make_session(), date(2026, 1, 15))
    reevaluate(session_ids=[instance.session_id])
    assert not TimeZoneDataVersion.objects.exists()


@pytest.mark.django_db
def test_a_process_drops_its_cached_zones_when_the_tz_database_on_disk_changes(tz_database):
    assert zone("Europe/Dublin").utcoffset(WINTER_WALL_TIME) == timedelta(0)
    tz_database("2099a", {"Europe/Dublin": "Etc/GMT-2"})
    assert zone("Europe/Dublin").utcoffset(WINTER_WALL_TIME) == timedelta(0)  # still cached
    # Another process already recomputed and recorded the new version: nothing to do
    # in the database, but this process must stop using the zones it loaded before.
    TimeZoneDataVersion.objects.create(version=tz_database_version(), recorded_at=T)

    assert recompute_windows_if_tz_database_changed(now=T) is None
    assert zone("Europe/Dublin").utcoffset(WINTER_WALL_TIME) == timedelta(hours=2)


def test_the_version_names_each_tz_directory_zoneinfo_searches_then_the_package(tmp_path, monkeypatch):
    compiled, mac, bare = tmp_path / "compiled", tmp_path / "mac", tmp_path / "bare"
    for directory in (compiled, mac, bare):
        directory.mkdir()
    (compiled / "tzdata.zi").write_text("# version 2031c\n# ddeps\n")
    (mac / "+VERSION").write_text("2030b\n")
    monkeypatch.setattr(zoneinfo, "TZPATH", (str(compiled), str(tmp_path / "missing"), str(mac), str(bare)))

    assert tz_database_version() == f"{compiled} 2031c; {mac} 2030b; {bare} unknown; tzdata {tzdata.IANA_VERSION}"


def test_the_version_on_this_machine_starts_with_the_directory_zoneinfo_reads_first():
    """ZoneInfo reads a zone from the first TZPATH directory that has it (Debian's
    /usr/share/zoneinfo here, not the pinned package); that directory leads the answer."""
    directory = next(d for d in zoneinfo.TZPATH if Path(d, "Europe", "Dublin").is_file())
    declared = Path(directory, "tzdata.zi").read_text().split()[2] if Path(directory, "tzdata.zi").exists() else None
    assert tz_database_version().startswith(f"{directory} {declared or 'unknown'}")
    assert tz_database_version().endswith(f"; tzdata {tzdata.IANA_VERSION}")
