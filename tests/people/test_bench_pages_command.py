"""``manage.py bench_pages``: a smoke test at a tiny size (the real runs are in the README)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_it_measures_every_page_at_each_size():
    out = StringIO()
    call_command("bench_pages", sessions="28", json=True, stdout=out, stderr=StringIO())
    (run,) = json.loads(out.getvalue())
    figures = {figure["name"]: figure for figure in run["figures"]}
    assert {figure["status"] for figure in run["figures"]} == {200}
    assert "home near me" in figures and "home city" in figures and "/api/live (all, last p.)" in figures
    assert all(figure["queries"] > 0 and figure["bytes"] > 0 for figure in run["figures"])


def test_it_refuses_a_database_that_holds_sessions(make_session):
    make_session()
    with pytest.raises(CommandError, match="--reset"):
        call_command("bench_pages", sessions="28", stdout=StringIO(), stderr=StringIO())
