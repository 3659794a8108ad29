"""House rules of the test tree that a grep can check.

Layout: the tests of ``<app>/<module>.py`` are in ``tests/<app>/test_<module>.py`` or
``tests/<app>/test_<module>_<aspect>.py`` (see ``tests/README.md``); the folders that walk
across apps (browser, oracle, whole_site, project) are named for what they check.

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


# --- the layout ---------------------------------------------------------------------------

ROOT = TESTS.parent
CODE_APPS = ("accounts", "bench", "calendars", "ceol", "people", "sessions_app")
ACROSS_APPS = {"browser", "oracle", "whole_site", "project"}


def misplaced_test_files(paths: list[Path]) -> list[str]:
    """Test files under a code app's folder whose name names no module of that folder."""
    wrong = []
    for path in paths:
        relative = path.relative_to(TESTS)
        if relative.parts[0] in ACROSS_APPS:
            continue
        if relative.parts[0] not in CODE_APPS:
            wrong.append(f"{relative}: not under an app's folder nor a cross-app one")
            continue
        code_dir = ROOT.joinpath(*relative.parts[:-1])
        modules = {module.stem for module in code_dir.glob("*.py") if module.stem != "__init__"}
        stem = path.stem.removeprefix("test_")
        if not any(stem == module or stem.startswith(module + "_") for module in modules):
            wrong.append(f"{relative}: no {relative.parent}/<module>.py for it")
    return wrong


def test_the_test_tree_mirrors_the_code_tree():
    assert misplaced_test_files(sorted(TESTS.rglob("test_*.py"))) == []


def test_the_layout_check_finds_misplaced_files():
    stray = [TESTS / "sessions_app" / "test_zz_no_such_module.py", TESTS / "test_at_the_top.py"]
    assert misplaced_test_files(stray) == [
        "sessions_app/test_zz_no_such_module.py: no sessions_app/<module>.py for it",
        "test_at_the_top.py: not under an app's folder nor a cross-app one",
    ]
    assert misplaced_test_files([TESTS / "sessions_app" / "management" / "commands" / "test_bench_sweep_x.py"]) == []


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
