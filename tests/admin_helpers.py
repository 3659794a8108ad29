"""Driving the Django admin through its HTML, as a browser would: read a change form's
fields back from the page, post them with changes, and read a changelist's rows."""

from __future__ import annotations

from html.parser import HTMLParser

from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext


class _FormFields(HTMLParser):
    """The successful controls of the first ``<form>`` whose id is ``form_id``."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, list[str]] = {}
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def _add(self, name: str, value: str) -> None:
        if "__prefix__" not in name:  # the inline's template for "Add another"
            self.fields.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = {key: value if value is not None else "" for key, value in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside or "name" not in a and tag != "option":
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self._add(a["name"], a.get("value", "on"))
                return
            self._add(a["name"], a.get("value", ""))
        elif tag == "select":
            self._select, self._select_first, self._select_chosen = a["name"], None, False
        elif tag == "option" and self._select is not None:
            if self._select_first is None:
                self._select_first = a.get("value", "")
            if "selected" in a:
                self._add(self._select, a.get("value", ""))
                self._select_chosen = True
        elif tag == "textarea":
            self._textarea, self._text = a["name"], []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self._select is not None:
            if not self._select_chosen and self._select_first is not None:
                self._add(self._select, self._select_first)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._add(self._textarea, "".join(self._text).removeprefix("\n"))
            self._textarea = None


def form_fields(html: str, form_id: str) -> dict[str, list[str]]:
    parser = _FormFields(form_id)
    parser.feed(html)
    assert parser.fields, f"no form #{form_id} with fields in the page"
    return parser.fields


def change_form(client: Client, url: str, form_id: str) -> dict[str, list[str] | str]:
    """The admin form at ``url`` as the browser would post it back unchanged."""
    response = client.get(url)
    assert response.status_code == 200, f"GET {url}: {response.status_code}"
    return dict(form_fields(response.content.decode(), form_id))


def changelist_pks(client: Client, url: str) -> set[int]:
    """The primary keys of the rows a changelist shows (its first page)."""
    response = client.get(url)
    assert response.status_code == 200, f"GET {url}: {response.status_code}"
    return {row.pk for row in response.context["cl"].result_list}


def page_queries(client: Client, url: str) -> int:
    """How many SQL statements one GET of an admin page takes (after a warm-up GET)."""
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def pks(*objects: Model) -> set[int]:
    return {obj.pk for obj in objects}
