"""The job django-crontab runs (settings.CRONJOBS).

django-crontab calls a function and swallows whatever it raises, so this job reports a
failed sweep itself: one ERROR line through the ``ceol`` logger (stderr, which the cron
entry appends to ``cron.log``), besides the ``failed`` SweepRun the sweep records when the
database is reachable.
"""

from __future__ import annotations

import logging
from io import StringIO

from django.core.management import CommandError, call_command

logger = logging.getLogger("ceol.cron")


def check_active_sessions() -> bool:
    """Run ``check_active_sessions`` once; True when the sweep ran."""
    out = StringIO()
    try:
        call_command("check_active_sessions", stdout=out, stderr=out)
    except CommandError as exc:
        logger.error("check_active_sessions failed: %s", exc)
        return False
    logger.info("%s", out.getvalue().rstrip())
    return True
