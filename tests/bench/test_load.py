"""The load benchmark's pieces that can be checked without a server: reading wrk's
report, and the trivial route existing only in the benchmark's URLconf."""

from __future__ import annotations

import pytest

from bench.load import Result, combine, page_session_ids, parse_wrk

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:40123/bench/trivial
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.10ms   12.02ms 145.00ms   96.12%
    Req/Sec   687.50    101.20     0.90k    71.00%
  Latency Distribution
     50%    3.20ms
     75%    4.10ms
     90%    6.00ms
     99%  145.00ms
  6845 requests in 10.00s, 1.21MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:    684.40
Transfer/sec:    123.45KB
"""


def test_parse_wrk_reads_throughput_percentiles_and_errors():
    assert parse_wrk(WRK_OUTPUT) == (684.40, 3.2, 145.0, 6845, 7)


@pytest.mark.parametrize(("text", "ms"), [("850.00us", 0.85), ("12.50ms", 12.5), ("1.20s", 1200.0)])
def test_parse_wrk_converts_latency_units(text, ms):
    output = WRK_OUTPUT.replace("3.20ms", text)
    assert parse_wrk(output)[1] == pytest.approx(ms)


def test_parse_wrk_refuses_output_it_does_not_understand():
    with pytest.raises(RuntimeError, match="Requests/sec"):
        parse_wrk("wrk: connection refused")


@pytest.mark.django_db
@pytest.mark.urls("bench.load_urls")
def test_trivial_view_exists_in_the_benchmark_urlconf(client):
    response = client.get("/bench/trivial")
    assert response.status_code == 200 and response.content == b"ok"


@pytest.mark.django_db
@pytest.mark.urls("bench.load_urls")
def test_trivial_logged_in_view_reads_the_user(client, member):
    assert client.get("/bench/trivial-logged-in").content == b"no"
    client.force_login(member.user)
    assert client.get("/bench/trivial-logged-in").content == b"yes"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/bench/trivial", "/bench/trivial-logged-in"])
def test_trivial_views_are_not_part_of_the_site(client, path):
    assert client.get(path).status_code == 404


def test_page_session_ids_are_the_ones_the_pages_script_sends():
    html = b'<li data-session-id="12"><div data-session-id="3" data-instance-id="9"></div><li data-session-id="12">'
    assert page_session_ids(html) == [3, 12]


def one_round(trivial: float, page: float, trivial_again: float) -> list[Result]:
    return [
        Result("trivial view", "/bench/trivial", trivial, 1, 2, 100, 0, 1),
        Result("home page", "/", page, 10, 20, 10, 0, 5),
        Result("trivial view (again)", "/bench/trivial", trivial_again, 1, 2, 100, 1, 1),
    ]


def test_each_rounds_ratio_is_against_its_own_trivial_runs():
    # The machine is twice as busy in the second round: the ratio stays 0.1.
    results = combine([one_round(1000, 100, 1000), one_round(500, 50, 500), one_round(800, 100, 800)])
    home = results[1]
    assert home.ratio == pytest.approx(0.1)
    assert (home.ratio_low, home.ratio_high) == (pytest.approx(0.1), pytest.approx(0.125))
    assert home.requests_per_s == 100 and home.requests == 30
    assert results[2].errors == 3
