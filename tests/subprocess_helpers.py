"""Running ``manage.py`` for real, in a child process, against a throw-away SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def manage_env(database: Path | None = None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "SECRET_KEY": "test-only",
        "DJANGO_SETTINGS_MODULE": "ceol.settings",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    if database is not None:
        env["DATABASE_URL"] = f"sqlite:///{database}"
    return env


def manage(*args: str, database: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=manage_env(database),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def migrated_sqlite(directory: Path) -> Path:
    """A new SQLite database file in ``directory`` with every migration applied."""
    database = directory / "ceol.sqlite3"
    done = manage("migrate", "--noinput", database=database)
    assert done.returncode == 0, done.stderr
    return database
