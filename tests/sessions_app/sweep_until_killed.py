"""A sweep that stops half-way, for ``test_active_sessions_sigkill``: run as a script, not collected.

It sets Django up against the database named by ``DATABASE_URL``, wraps the person step
(``people.location.relocate_people``, wherever the engine holds a reference to it) so
that once the activation and person statements have run inside the sweep's open
transaction it writes what it sees to ``CEOL_SWEEP_MARKER`` and sleeps, then sweeps at
``CEOL_SWEEP_NOW``. The test kills it with SIGKILL while it sleeps.
"""

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ceol.test_settings")


def main() -> None:
    import django

    django.setup()
    from django.db import connection

    import people.location
    import sessions_app.active_sessions  # noqa: F401 - loads the engine's modules
    from sessions_app.models import SessionInstance

    original = people.location.relocate_people

    def stalled(*args, **kwargs):
        result = original(*args, **kwargs)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        seen = {
            "pid": pid,
            "in_transaction": connection.in_atomic_block,
            "active": sorted(SessionInstance.objects.filter(is_active=True).values_list("id", flat=True)),
        }
        Path(os.environ["CEOL_SWEEP_MARKER"]).write_text(json.dumps(seen))
        time.sleep(120)
        return result

    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(("people", "sessions_app")):
            continue
        for attribute, value in list(vars(module).items()):
            if value is original:
                setattr(module, attribute, stalled)

    from sessions_app.active_sessions import update_active_sessions

    update_active_sessions(datetime.fromisoformat(os.environ["CEOL_SWEEP_NOW"]))
    print("the sweep finished without being stopped in the person step", file=sys.stderr)
    sys.exit(3)


if __name__ == "__main__":
    main()
