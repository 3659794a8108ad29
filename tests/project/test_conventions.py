"""House rules of the test tree that a grep can check.

Time: a test controls the clock only through the ``clock`` fixture (``tests/conftest.py``,
built on ``tests/fixed_clock.py``), or by passing ``--simulate-time`` / ``simulate_time=``
to a command. Any other way of patching time (freezegun, ``mock.patch`` of a ``now``,
``monkeypatch.setattr`` on the clock module or on ``timezone``) fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fixed_clock import ClockNotSet

TESTS = Path(__file__).resolve().parents[1]
# The one place allowed to replace ``sessions_app.clock.now``.
CLOCK_HOME = {TESTS / "conftest.py", TESTS / "fixed_clock.py"}

OTHER_WAYS_OF_PATCHING_TIME = [
    re.compile(r"\bfreezegun\b|\bfreeze_time\b|\btime_machine\b|\btravel_to\b"),
    # monkeypatch.setattr(clock, "now", ...), setattr("sessions_app.clock.now", ...),
    # setattr(timezone, "now", ...), setattr(datetime, ...)
    re.compile(r"setattr\(\s*[\"']?[\w.]*\b(clock|timezone|datetime|time)\b"),
    re.compile(r"setattr\([^)]*[\"']now[\"']"),
    # mock.patch("...now"), patch.object(clock, "now"), patch("django.utils.timezone...")
    re.compile(r"\bpatch(\.object)?\(\s*[\"']?[\w.]*\b(clock|timezone|now|datetime)\b"),
    re.compile(r"\bpatch(\.object)?\([^)]*[\"']now[\"']"),
    # clock.now = ..., timezone.now = ...
    re.compile(r"\b(clock|timezone)\.now\s*=[^=]"),
]


def time_patches(text: str) -> list[tuple[int, str]]:
    """(line number, line) for every line of ``text`` that patches time another way."""
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if any(pattern.search(line) for pattern in OTHER_WAYS_OF_PATCHING_TIME)
    ]


def tree_files() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if path not in CLOCK_HOME and path != Path(__file__).resolve())


@pytest.mark.parametrize(
    "line",
    [
        "from freezegun import freeze_time",
        "    with freeze_time('2026-01-15 21:30'):",
        '    monkeypatch.setattr(clock, "now", lambda: NOW)',
        '    monkeypatch.setattr("sessions_app.clock.now", lambda: t)',
        '    monkeypatch.setattr(timezone, "now", lambda: NOW)',
        '    monkeypatch.setattr(active_sessions, "now", fake)',
        '    with mock.patch("django.utils.timezone.now", return_value=NOW):',
        '    with patch.object(clock, "now", return_value=NOW):',
        "    clock.now = lambda: NOW",
    ],
)
def test_each_other_way_of_patching_time_is_caught(line):
    assert time_patches(f"import pytest\n{line}\n") == [(2, line.strip())]


@pytest.mark.parametrize(
    "line",
    [
        "    clock.set(NOW)",
        "    later = clock.advance(minutes=5)",
        '    run("--simulate-time", "2026-01-15T21:00Z")',
        "    t = clock.now()",
        '    monkeypatch.setattr(location_module, "move_people", broken)',
        "    if clock.now() == NOW:",
    ],
)
def test_the_clock_fixture_and_simulated_times_are_not_flagged(line):
    assert time_patches(line) == []


def test_the_walk_sees_the_test_tree():
    names = {path.relative_to(TESTS).as_posix() for path in tree_files()}
    assert {"people/test_models.py", "sessions_app/test_models.py", "site_helpers.py"} <= names
    assert not names & {"conftest.py", "fixed_clock.py", "project/test_conventions.py"}


def test_no_test_patches_time_except_through_the_clock_fixture():
    found = [
        f"{path.relative_to(TESTS)}:{number}: {line}"
        for path in tree_files()
        for number, line in time_patches(path.read_text())
    ]
    assert found == [], "patch time with the `clock` fixture (tests/conftest.py) instead:\n" + "\n".join(found)


# --- the clock fixture itself ------------------------------------------------------------


def test_the_clock_fixture_is_what_the_app_reads(clock):
    from sessions_app import clock as app_clock

    noon = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert clock.set(noon) == noon and app_clock.now() == noon
    assert clock.advance(minutes=5) == noon + timedelta(minutes=5) == app_clock.now()
    assert clock.advance(timedelta(hours=1)) == noon + timedelta(hours=1, minutes=5) == app_clock.now()
    assert app_clock.evaluation_instant() == noon + timedelta(hours=1, minutes=5) + app_clock.lookahead()


def test_the_clock_refuses_naive_times_and_reads_before_set(clock):
    with pytest.raises(ClockNotSet):
        clock.now()
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2026, 1, 15, 12, 0))  # noqa: DTZ001 -- the naive value under test
    with pytest.raises(TypeError):
        clock.advance()
    with pytest.raises(TypeError):
        clock.advance(timedelta(minutes=1), minutes=1)
