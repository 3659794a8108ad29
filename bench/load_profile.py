"""Where a page's time goes: ``DATABASE_URL=postgres://... python bench/load_profile.py``.

Runs in one process, without gunicorn or a load generator, over the load benchmark's
database (build it first with ``bench/load.py``): each endpoint of the load figure is
requested ``--repeat`` times through Django's full handler (every middleware, the
production settings of ``bench.load_settings``), and for each one it prints the number of
queries per request, the time spent waiting for them, the time spent rendering templates,
and the rest (Python: middleware, views, serialisation). Medians over the repeats; the
first request of each endpoint (cold caches) is not counted. ``--sql`` lists each
endpoint's statements with their median time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import FORWARDED_HTTPS, HOST, endpoints_of, prepare_data, server_environment  # noqa: E402


@dataclass
class Sample:
    total_ms: float
    sql_ms: float
    template_ms: float
    queries: list[tuple[str, float]] = field(default_factory=list)


class Recorder:
    """Times every statement (``connection.execute_wrapper``) and the outermost template
    render of one request."""

    def __init__(self):
        self.queries: list[tuple[str, float]] = []
        self.template_s = 0.0
        self._depth = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((sql, time.perf_counter() - started))

    @contextmanager
    def rendering(self):
        self._depth += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self.template_s += time.perf_counter() - started


def install_template_timer(recorder_of):
    """Wrap the Django template backend's ``render`` so that its time is counted."""
    from django.template.backends.django import Template

    original = Template.render

    def render(self, context=None, request=None):
        recorder = recorder_of()
        if recorder is None:
            return original(self, context, request)
        with recorder.rendering():
            return original(self, context, request)

    Template.render = render  # type: ignore[method-assign]  # this measuring process only: time each render


def headers_for(headers: dict[str, str]) -> dict[str, str]:
    """wrk's headers, and the host, for the Django test client's ``headers=``."""
    return {"Host": HOST, **headers}


def profile(path: str, headers: dict[str, str], repeat: int, current: list) -> list[Sample]:
    from django.db import connection
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    extra = headers_for(headers)
    samples = []
    for number in range(repeat + 1):
        recorder = Recorder()
        current[0] = recorder
        with connection.execute_wrapper(recorder):
            started = time.perf_counter()
            response = client.get(path, headers=extra)
            total = time.perf_counter() - started
        current[0] = None
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
        if number:  # the first request fills caches (templates, the browse counts)
            sql = sum(seconds for _, seconds in recorder.queries)
            samples.append(Sample(total * 1000, sql * 1000, recorder.template_s * 1000, recorder.queries))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30, help="requests per endpoint (default 30)")
    parser.add_argument("--sql", action="store_true", help="list each endpoint's statements")
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        parser.error("set DATABASE_URL to the load benchmark's PostgreSQL database")
    os.environ.update(server_environment(database_url))
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [HOST]
    targets = prepare_data(sessions=args.sessions, rebuild=False, sweep=False)
    current: list = [None]
    install_template_timer(lambda: current[0])
    print(f"{'endpoint':<44}{'queries':>8}{'total ms':>10}{'sql ms':>8}{'tmpl ms':>9}{'other ms':>10}")
    for name, path, headers in endpoints_of(targets, FORWARDED_HTTPS):
        samples = profile(path, headers, args.repeat, current)
        total = statistics.median(s.total_ms for s in samples)
        sql = statistics.median(s.sql_ms for s in samples)
        template = statistics.median(s.template_ms for s in samples)
        queries = statistics.median(len(s.queries) for s in samples)
        print(f"{name:<44}{queries:>8.0f}{total:>10.1f}{sql:>8.1f}{template:>9.1f}{total - sql - template:>10.1f}")
        if args.sql:
            per_statement = defaultdict(list)
            for sample in samples:
                for number, (sql_text, seconds) in enumerate(sample.queries):
                    per_statement[number, sql_text[:160]].append(seconds * 1000)
            for (_, text), times in sorted(per_statement.items()):
                print(f"    {statistics.median(times):7.2f} ms  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
