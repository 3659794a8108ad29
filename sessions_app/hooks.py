"""A switch the sweep flips while it writes, so that the event hooks it would fire (the
deletions of stale auto-created instances) do not re-enter it."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_hooks_suppressed = contextvars.ContextVar("ceol_hooks_suppressed", default=False)


def hooks_suppressed() -> bool:
    """True while the sweep itself writes."""
    return _hooks_suppressed.get()


@contextmanager
def suppress_hooks() -> Iterator[None]:
    token = _hooks_suppressed.set(True)
    try:
        yield
    finally:
        _hooks_suppressed.reset(token)
