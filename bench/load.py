"""Load figure for the pages: ``DATABASE_URL=postgres://... python bench/load.py``.

Builds (or reuses) a PostgreSQL database of ``--sessions`` sessions with the sweep
benchmark's generator (``bench/data.py``) around the current time, runs one sweep so that
a busy evening's instances are live and people placed, serves the site with gunicorn
(2 workers, the production ``gunicorn.conf.py`` and settings) on 127.0.0.1 on a free port,
and drives each endpoint for a fixed duration with ``wrk`` (or, without it, a small
Python load generator):

- ``/bench/trivial``: a view that does nothing behind the same middleware, the
  framework's own ceiling on this machine (routed only by ``bench.load_settings``),
  and ``/bench/trivial-logged-in``, which only reads the logged-in user (the session
  and user queries every logged-in request pays);
- the home page and an instance page (the live instance with the most answers), each
  anonymous and logged in (a session cookie);
- ``/api/live`` when the branch has it (otherwise noted and skipped): with the session ids
  the home page and the instance page send (``?sessions=``, read from their
  ``data-session-id`` attributes as ``static/ceol/live.js`` does), anonymous and logged
  in, and without ids (every live instance);
- the person endpoint, logged in.

Every request carries ``X-Forwarded-Proto: https``, as Render's proxy sends, so the
production HTTPS settings stay on. It prints requests/s, p50 and p99 latency per endpoint
and each one's throughput as a fraction of the trivial view's (measured first and last;
the ratio uses their mean). ``--rounds N`` goes through every endpoint N times and reports
medians, each round's ratios against that round's own trivial runs (the machine's load
moves between rounds); ``--only`` narrows the endpoints. Only loopback is ever a target;
every run is bounded by ``--duration``. A whole run at 10,000 sessions takes a few minutes, most of it the build.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import runpy
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only: never make this configurable
SETTINGS = "bench.load_settings"
WARMUP_S = 2
WORKERS = 2
SLOW_REQUEST_LIMIT_S = 120
# What Render's proxy adds: the production settings then neither redirect nor refuse.
FORWARDED_HTTPS = {"X-Forwarded-Proto": "https"}
MAX_DURATION_S = 60


@dataclass
class Result:
    name: str
    path: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    single_ms: float = 0.0  # one request alone, after the warm-up: the floor of the latency
    # True when one request alone takes more than half the run: no load was driven, and
    # requests/s is the ceiling of 2 workers at that latency.
    estimated: bool = False
    ratio: float | None = None
    ratio_low: float | None = None  # the lowest and highest ratio over the rounds
    ratio_high: float | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_environment(database_url: str) -> dict[str, str]:
    """Production settings on loopback: DEBUG off, a fresh key, the load URLconf."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY=os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(64),
        ALLOWED_HOSTS=HOST,
        CEOL_LOG_LEVEL="WARNING",
    )
    env.pop("SENTRY_DSN", None)
    return env


def ensure_database(database_url: str) -> None:
    """Create the PostgreSQL database named in the URL when it does not exist yet."""
    import psycopg
    from psycopg import conninfo, sql

    try:
        psycopg.connect(database_url, connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
        name = conninfo.conninfo_to_dict(database_url)["dbname"]
        with psycopg.connect(database_url, dbname="postgres", autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
        print(f"created database {name}", file=sys.stderr)


def page_session_ids(html: bytes) -> list[int]:
    """The session ids a page's script sends to ``/api/live`` (``data-session-id``)."""
    return sorted({int(found) for found in re.findall(rb'data-session-id="(\d+)"', html)})


def prepare_data(*, sessions: int, rebuild: bool, sweep: bool = True) -> dict:
    """Reuse the database when it holds exactly the benchmark's sessions; else build them.
    Returns the ids the endpoints need, the session ids the home and instance pages send
    to ``/api/live``, and a session cookie for the logged-in requests."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db.models import Count, Q
    from django.test import Client

    from bench import data
    from people.models import Person
    from sessions_app import clock
    from sessions_app.active_sessions import update_active_sessions
    from sessions_app.models import Session, SessionInstance

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    total = Session.objects.count()
    bench_sessions = Session.objects.filter(slug__startswith="bench-").count()
    if total == sessions == bench_sessions and not rebuild:
        print(f"reusing the database's {sessions:,} benchmark sessions", file=sys.stderr)
    else:
        if total and not rebuild:
            raise SystemExit(
                f"The database holds {total:,} sessions, not the benchmark's {sessions:,}: pass --rebuild "
                "to empty ceol's tables and build them (never on a database you want to keep)."
            )
        data.reset()
        data.build(sessions=sessions, now=clock.now(), progress=lambda message: print(message, file=sys.stderr))
    if sweep:
        started = time.perf_counter()
        result = update_active_sessions(trigger="cron")
        print(
            f"sweep: {len(result.get('activated', []))} activated, {len(result.get('people_moved', []))} people "
            f"moved in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )

    instance = (
        SessionInstance.objects.filter(is_active=True)
        .annotate(answers=Count("attendances", filter=Q(attendances__status__in=["yes", "maybe"])))
        .order_by("-answers", "pk")
        .first()
    )
    person = Person.objects.filter(at_active_session_instance__isnull=False, share_location=True).order_by("pk").first()
    if instance is None or person is None:
        raise SystemExit("No live instance or placed person after the sweep: rebuild the data (--rebuild).")
    viewer, _ = User.objects.get_or_create(username="bench-viewer")
    client = Client()
    client.force_login(viewer)
    from django.conf import settings

    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    page = Client(HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https")
    return {
        "instance_id": instance.pk,
        "answers": instance.answers,
        "person_id": person.pk,
        "cookie": cookie,
        "home_ids": page_session_ids(page.get("/").content),
        "instance_ids": page_session_ids(page.get(f"/instances/{instance.pk}/").content),
    }


def endpoints_of(targets: dict, secure: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """(name, path, headers) of every endpoint of the figure, in the order they are driven:
    the trivial view first and last (the ratio's ceiling), anonymous and logged in where
    the answer depends on the viewer."""
    logged_in = {**secure, "Cookie": targets["cookie"]}
    instance = f"/instances/{targets['instance_id']}/"
    home_live = "/api/live?sessions=" + ",".join(map(str, targets["home_ids"]))
    instance_live = "/api/live?sessions=" + ",".join(map(str, targets["instance_ids"]))
    endpoints = [
        ("trivial view", "/bench/trivial", secure),
        ("home page", "/", secure),
        ("home page, logged in", "/", logged_in),
        (f"instance page ({targets['answers']} answers)", instance, secure),
        ("instance page, logged in", instance, logged_in),
    ]
    if has_route("/api/live"):
        endpoints += [
            (f"/api/live, home's {len(targets['home_ids'])} ids", home_live, secure),
            ("/api/live, home's ids, logged in", home_live, logged_in),
            (f"/api/live, instance's {len(targets['instance_ids'])} ids", instance_live, secure),
            ("/api/live, no ids (first page of 500)", "/api/live", secure),
        ]
    endpoints += [
        ("trivial view, logged in", "/bench/trivial-logged-in", logged_in),
        ("person endpoint (logged in)", f"/api/person/{targets['person_id']}/active_session", logged_in),
        ("trivial view (again)", "/bench/trivial", secure),
    ]
    return endpoints


def has_route(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def start_server(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    server_env = dict(
        env,
        PORT=str(port),
        GUNICORN_BIND_HOST=HOST,
        WEB_CONCURRENCY=str(WORKERS),
        GUNICORN_TIMEOUT=str(SLOW_REQUEST_LIMIT_S),
    )
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ceol.wsgi:application", "--config", "gunicorn.conf.py"],
        cwd=ROOT,
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited ({process.returncode}); see {log_path}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"gunicorn did not answer /healthz within 30 s; see {log_path}")


def timed_request(port: int, path: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    check_endpoint(port, path, headers)
    return (time.perf_counter() - started) * 1000


def check_endpoint(port: int, path: str, headers: dict[str, str]) -> bytes:
    """One request first: a page that does not answer 200 is not worth measuring."""
    request = urllib.request.Request(f"http://{HOST}:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=SLOW_REQUEST_LIMIT_S) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{path} answered {exc.code}; not measuring it") from None


def wait_until_idle(port: int, *, limit_s: float = 120) -> None:
    """Wait until the workers have finished what the last run left queued.

    A load generator that stops leaves requests in gunicorn's accept queue; the sync
    workers still serve them, and they would slow the next endpoint's figures. Two quick
    answers in a row to the trivial view mean both workers are free again.
    """
    deadline = time.monotonic() + limit_s
    quick = 0
    while quick < 2 and time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            probe = urllib.request.Request(f"http://{HOST}:{port}/bench/trivial", headers=FORWARDED_HTTPS)
            with urllib.request.urlopen(probe, timeout=limit_s) as response:
                response.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            quick = 0
            time.sleep(0.2)
            continue
        quick = quick + 1 if time.perf_counter() - started < 0.05 else 0


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _match(pattern: str, output: str) -> str:
    found = re.search(pattern, output)
    if found is None:
        raise RuntimeError(f"wrk's output has no {pattern!r}:\n{output}")
    return found.group(1)


def parse_wrk(output: str) -> tuple[float, float, float, int, int]:
    """(requests/s, p50 ms, p99 ms, requests, non-2xx/3xx + socket errors) from ``wrk --latency``."""
    rps = float(_match(r"Requests/sec:\s+([\d.]+)", output))
    percentiles = {
        int(p): float(v) * UNITS[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    requests = int(_match(r"(\d+) requests in", output))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return rps, percentiles[50], percentiles[99], requests, errors


def run_wrk(url: str, *, duration: int, connections: int, headers: dict[str, str]) -> tuple:
    header_args = [arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")]
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "30s", *header_args, url]
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    return parse_wrk(output)


def run_python(url: str, *, duration: int, connections: int, headers: dict[str, str]) -> tuple:
    """A small closed-loop generator: ``connections`` threads, keep-alive, fixed duration.
    Python's own cost caps what it can measure; prefer wrk."""
    path = url.split(f"{HOST}:", 1)[1].split("/", 1)
    port, target = int(path[0]), "/" + path[1]
    deadline = time.monotonic() + duration
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        mine: list[float] = []
        bad = 0
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                connection.request("GET", target, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status >= 400:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
                continue
            mine.append((time.perf_counter() - started) * 1000)
        connection.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    if not latencies:
        return 0.0, 0.0, 0.0, 0, errors[0]
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / duration, p50, p99, len(latencies), errors[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000, help="benchmark sessions (default 10,000)")
    parser.add_argument(
        "--duration", type=int, default=10, help=f"seconds per endpoint, 1-{MAX_DURATION_S} (default 10)"
    )
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections, 1-64 (default 4)")
    parser.add_argument("--rounds", type=int, default=1, help="times through every endpoint, 1-10 (default 1)")
    parser.add_argument(
        "--only", default="", help="comma-separated parts of endpoint names to measure (the trivial view always is)"
    )
    parser.add_argument("--rebuild", action="store_true", help="empty ceol's tables and build the data again")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--allow-sqlite", action="store_true", help="run on SQLite anyway (figures not comparable)")
    args = parser.parse_args(argv)
    if (
        not 1 <= args.duration <= MAX_DURATION_S
        or not 1 <= args.connections <= 64
        or not 1 <= args.rounds <= 10
        or args.sessions < 2
    ):
        parser.error(f"--duration 1-{MAX_DURATION_S}, --connections 1-64, --rounds 1-10, --sessions at least 2")
    database_url = os.environ.get("DATABASE_URL", "")
    postgres = database_url.startswith(("postgres://", "postgresql://"))
    if not postgres and not args.allow_sqlite:
        parser.error("set DATABASE_URL to a PostgreSQL database for the benchmark (it is emptied with --rebuild)")
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    if generator == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), or use --generator python")

    env = server_environment(database_url)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    if postgres:
        ensure_database(database_url)
    import django

    django.setup()
    targets = prepare_data(sessions=args.sessions, rebuild=args.rebuild)
    endpoints = endpoints_of(targets, FORWARDED_HTTPS)
    if args.only:
        wanted = [part.strip() for part in args.only.split(",") if part.strip()]
        endpoints = [e for e in endpoints if e[1] == "/bench/trivial" or any(w in e[0] for w in wanted)]
    notes = [] if has_route("/api/live") else ["/api/live: not on this branch, skipped"]
    person_path = f"/api/person/{targets['person_id']}/active_session"
    logged_in = {**FORWARDED_HTTPS, "Cookie": targets["cookie"]}

    load_samples = [os.getloadavg()[0]]
    port = free_port()
    log_path = Path(tempfile.gettempdir()) / f"ceol-bench-load-{port}.log"
    server = start_server(env, port, log_path)
    drive = run_wrk if generator == "wrk" else run_python
    rounds: list[list[Result]] = []
    try:
        person_body = json.loads(check_endpoint(port, person_path, logged_in))
        if person_body.get("active_session") is None:
            raise SystemExit("The person endpoint shows no location: the session cookie did not log in.")
        if check_endpoint(port, "/bench/trivial-logged-in", logged_in) != b"yes":
            raise SystemExit("The session cookie did not log in.")
        for number in range(args.rounds):
            if args.rounds > 1:
                print(f"round {number + 1} of {args.rounds}", file=sys.stderr)
            rounds.append(
                [measure(port, endpoint, args=args, drive=drive, load_samples=load_samples) for endpoint in endpoints]
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    load_samples.append(os.getloadavg()[0])
    results = combine(rounds)
    load_range = [min(load_samples), max(load_samples)]
    threads = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["threads"]
    if args.json:
        print(
            json.dumps(
                {
                    "sessions": args.sessions,
                    "generator": generator,
                    "connections": args.connections,
                    "duration_s": args.duration,
                    "rounds": args.rounds,
                    "threads": threads,
                    "notes": notes,
                    "load_average": load_range,
                    "results": [asdict(r) for r in results],
                    "each_round": [[asdict(r) for r in one] for one in rounds],
                },
                indent=2,
            )
        )
        return 0
    print(
        f"ceol load figure: {args.sessions:,} sessions on {'PostgreSQL' if postgres else 'SQLite'}, gunicorn "
        f"{WORKERS} workers x {threads} threads on {HOST}, {generator} with {args.connections} connections, "
        f"{args.duration} s per endpoint, {args.rounds} round(s)"
    )
    print(
        f"{'endpoint':<40}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'alone ms':>10}{'errors':>8}{'x trivial':>11}"
        f"{'range':>14}"
    )
    for r in results:
        rps_text = f"~{r.requests_per_s:.2f}" if r.estimated else f"{r.requests_per_s:.1f}"
        spread = f"{r.ratio_low:.3f}-{r.ratio_high:.3f}" if args.rounds > 1 else ""
        print(
            f"{r.name:<40}{rps_text:>9}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{r.single_ms:>10.1f}{r.errors:>8}"
            f"{r.ratio:>11.3f}{spread:>14}"
        )
    for note in notes:
        print(f"note: {note}")
    print(
        f"machine load average (1 min) during the run: {load_range[0]:.1f}-{load_range[1]:.1f} on "
        f"{os.cpu_count()} cores (other processes share them: figures vary between runs)"
    )
    if any(r.estimated for r in results):
        print(
            f"~: one request alone took more than half the run; no load driven, requests/s = {WORKERS} workers "
            "/ that latency"
        )
    print(
        "(medians over the rounds; ratio to the mean of each round's two trivial runs; goal: every page at "
        f"least 0.5; server log: {log_path})"
    )
    return 0


def measure(port: int, endpoint: tuple, *, args, drive, load_samples: list[float]) -> Result:
    """Warm up, wait for idle workers, time one request alone, then drive the load."""
    name, path, headers = endpoint
    first_ms = timed_request(port, path, headers)
    url = f"http://{HOST}:{port}{path}"
    if first_ms > args.duration * 1000 / 2:
        single_ms = timed_request(port, path, headers)
        print(f"{name}: one request takes {single_ms / 1000:.1f} s alone; not driving load", file=sys.stderr)
        rps = WORKERS * 1000 / single_ms
        return Result(name, path, rps, single_ms, single_ms, 1, 0, single_ms, estimated=True)
    drive(url, duration=WARMUP_S, connections=args.connections, headers=headers)
    wait_until_idle(port)
    single_ms = min(timed_request(port, path, headers) for _ in range(3))
    print(f"measuring {name} ({args.duration} s) ...", file=sys.stderr)
    load_samples.append(os.getloadavg()[0])
    rps, p50, p99, requests, errors = drive(url, duration=args.duration, connections=args.connections, headers=headers)
    wait_until_idle(port)
    return Result(name, path, rps, p50, p99, requests, errors, single_ms)


def combine(rounds: list[list[Result]]) -> list[Result]:
    """One result per endpoint: medians over the rounds, each round's ratio to the mean of
    its own trivial runs (the machine's load moves between rounds), errors summed."""
    ratios: dict[str, list[float]] = {}
    for one in rounds:
        ceiling = statistics.mean(r.requests_per_s for r in one if r.path == "/bench/trivial")
        for r in one:
            ratios.setdefault(r.name, []).append(r.requests_per_s / ceiling if ceiling else 0.0)
    combined = []
    for position, first in enumerate(rounds[0]):
        same = [one[position] for one in rounds]
        combined.append(
            Result(
                first.name,
                first.path,
                statistics.median(r.requests_per_s for r in same),
                statistics.median(r.p50_ms for r in same),
                statistics.median(r.p99_ms for r in same),
                sum(r.requests for r in same),
                sum(r.errors for r in same),
                statistics.median(r.single_ms for r in same),
                estimated=any(r.estimated for r in same),
                ratio=statistics.median(ratios[first.name]),
                ratio_low=min(ratios[first.name]),
                ratio_high=max(ratios[first.name]),
            )
        )
    return combined


if __name__ == "__main__":
    sys.exit(main())
