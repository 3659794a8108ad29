"""gunicorn settings for ceol (``gunicorn ceol.wsgi:application --config gunicorn.conf.py``).

Render's start command uses this file; a self-hosted server can too. Everything can be
overridden by the environment: ``PORT``, ``WEB_CONCURRENCY``, ``GUNICORN_THREADS``,
``GUNICORN_TIMEOUT``.
"""

import os

bind = f"{os.environ.get('GUNICORN_BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads per worker (gunicorn's gthread worker when more than 1): while one request waits
# for PostgreSQL another runs, and connections are kept alive. Each thread keeps its own
# database connection (CONN_MAX_AGE), so workers x threads connections at most.
# Measured in bench/LOAD.md; 1 gives the plain sync worker.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Sync worker: a request running longer than this is killed with its worker. gthread: the
# worker is restarted only when it stops answering gunicorn's heartbeat altogether.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))

# One access line per request on stdout, with a timestamp and the time taken:
# [01/Dec/2026:09:00:00 +0000] "GET /healthz HTTP/1.1" 200 74 3ms "Render/1.0"
accesslog = "-"
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# gunicorn's own lines (start, worker timeouts) on stderr, timestamped by gunicorn.
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
