"""The one lock every writer of live state takes first (SPEC section 4).

``is_active`` and people's locations are written by the sweep, the event hooks, the
admin and the person services. Each of them takes this lock before its first write, so
lock order is the same everywhere and no two writers deadlock on row locks (the foreign
key from a person to an instance makes every location write lock the instance row).

PostgreSQL: a transaction-level advisory lock, released at commit or rollback. SQLite:
transactions begin IMMEDIATE (see settings), so the database's own write lock already
serialises writers and this is a no-op.

Cron and HTTP sweeps also take a second key first, with a *try* (``claim_sweep``): a
sweep that finds another sweep running returns at once, while one that finds a user's
write (a check-in, a profile save, a hook) holding the live-state lock simply waits the
few milliseconds that write takes. Order is always sweep key, then live-state key, and
nothing else takes the sweep key, so the two never form a cycle.
"""

from __future__ import annotations

from django.db import connection

# pg_advisory_xact_lock key shared by every writer ("ceol" in ASCII).
ADVISORY_LOCK_KEY = 0x63656F6C
# The key only cron/HTTP sweeps take (with a try), before the live-state key ("ceoS").
SWEEP_LOCK_KEY = 0x63656F53


def lock_live_state(*, wait: bool) -> bool:
    """Take the live-state lock for the current transaction.

    ``wait=True`` blocks until the lock is free and returns True; ``wait=False`` returns
    at once, False when another transaction holds it. Call inside ``transaction.atomic()``.
    """
    if connection.vendor != "postgresql":
        return True
    if not connection.in_atomic_block:
        raise RuntimeError("lock_live_state() needs a transaction (transaction.atomic())")
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def claim_sweep() -> bool:
    """Cron/HTTP sweeps: claim the right to sweep for this transaction without waiting.

    False when another sweep holds it (the caller reports ``"skipped"``). Call inside
    ``transaction.atomic()``, before ``lock_live_state(wait=True)``.
    """
    if connection.vendor != "postgresql":
        return True
    if not connection.in_atomic_block:
        raise RuntimeError("claim_sweep() needs a transaction (transaction.atomic())")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK_KEY])
        return bool(cursor.fetchone()[0])
