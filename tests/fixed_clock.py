"""The tests' one way to control time: ``FixedClock``, installed by the ``clock`` fixture.

ceol reads the time in one place, ``sessions_app.clock.now()``; the fixture (in
``tests/conftest.py``) replaces that function for the test, so views, services, hooks,
sweeps, admin pages and the browser tests' live server (a thread of this process) all
read the instant the test set. The clock does not tick: it moves only when the test
calls ``set`` or ``advance``. Subprocess tests pass ``--simulate-time`` instead.
``tests/project/test_conventions.py`` fails if a test file patches time any other way.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class ClockNotSet(AssertionError):
    """A test read the clock before saying what time it is."""


class FixedClock:
    def __init__(self) -> None:
        self._at: datetime | None = None
        self._lock = threading.Lock()  # the concurrency tests read it from many threads

    def now(self) -> datetime:
        with self._lock:
            if self._at is None:
                raise ClockNotSet("the test read the clock before clock.set(...)")
            return self._at

    def set(self, instant: datetime) -> datetime:
        """Every later read answers ``instant`` (timezone-aware; a naive one is refused)."""
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"clock.set needs an aware datetime, got naive {instant.isoformat()}")
        with self._lock:
            self._at = instant
        return instant

    def advance(self, delta: timedelta | None = None, /, **units: float) -> datetime:
        """Move the clock on by ``delta`` or by ``timedelta(**units)`` (``minutes=5``)."""
        if (delta is None) == (not units):
            raise TypeError("clock.advance takes a timedelta or keyword units, not both or neither")
        step = delta if delta is not None else timedelta(**units)
        return self.set(self.now() + step)
