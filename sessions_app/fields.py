"""The recurrence field: django-recurrence's, with one parser and one bad row never fatal.

django-recurrence's own field raises ``DeserializationError`` from ``from_db_value`` for
a stored rule it cannot parse, which fails every query that loads the column (a whole
page for one bad row), and it accepts rules in forms that ``save()`` then cannot write
(``INTERVAL=0``). This field parses with ``occurrences.parse_rules`` everywhere:

- loading never raises: an unreadable value becomes an ``UnreadableRecurrence`` that
  keeps the stored text and the reason, has no rules (so nothing is expanded from it),
  and is written back unchanged when the row is saved for another reason;
- model validation (``full_clean``) and the form field refuse it, and any rule that
  cannot be parsed or written back, with the parser's message;
- the form widget shows the stored text and the reason above the editor, so that staff
  can replace the rule in the admin.
"""

from __future__ import annotations

import recurrence as recurrence_lib
import recurrence.exceptions
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from recurrence import fields as recurrence_fields
from recurrence import forms as recurrence_forms

from sessions_app.occurrences import RecurrenceError, check_rules, parse_rules


class UnreadableRecurrence(recurrence_lib.Recurrence):
    """A stored recurrence that cannot be parsed: no rules, the raw ``text`` and ``error``."""

    unreadable = True

    def __init__(self, text: str, error: str):
        super().__init__()
        self.text = text
        self.error = error

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<UnreadableRecurrence {self.text!r}: {self.error}>"

    def __bool__(self) -> bool:
        return bool(self.text)

    def __hash__(self):
        return hash((UnreadableRecurrence, self.text))

    def __eq__(self, other):
        return isinstance(other, UnreadableRecurrence) and other.text == self.text


def is_unreadable(value) -> bool:
    return isinstance(value, UnreadableRecurrence)


def load_rules(text: str | None) -> recurrence_lib.Recurrence:
    """``parse_rules``, or an ``UnreadableRecurrence`` carrying the text and the reason."""
    try:
        return parse_rules(text)
    except RecurrenceError as exc:
        return UnreadableRecurrence(text or "", str(exc))


def serialize_rules(value) -> str:
    """The text stored for a value: the rules, or an unreadable value's own text.

    Raises ``RecurrenceError`` (not django-recurrence's ``SerializationError``) when the
    rules cannot be written, e.g. a ``Recurrence`` built in code with ``interval=0``.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if is_unreadable(value):
        return value.text
    try:
        return recurrence_lib.serialize(value) or ""
    except (recurrence.exceptions.SerializationError, ValueError, TypeError, AttributeError) as exc:
        raise RecurrenceError(f"Invalid recurrence: {exc.args[0] if exc.args else exc}") from exc


class RecurrenceWidget(recurrence_forms.RecurrenceWidget):
    """django-recurrence's editor, with an unreadable stored value shown above it."""

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, attrs=attrs, renderer=renderer)
        if not is_unreadable(value):
            return html
        notice = format_html(
            '<p class="errornote recurrence-unreadable">The stored schedule cannot be read ({}). '
            "Stored text: <code>{}</code>. Enter the rule again and save.</p>",
            value.error,
            value.text,
        )
        return notice + html

    def format_value(self, value):
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else serialize_rules(value)


class RecurrenceFormField(recurrence_forms.RecurrenceField):
    """django-recurrence's form field, parsing with ``parse_rules`` (a clear form error
    for anything the model could not store or the sweep could not expand)."""

    widget = RecurrenceWidget

    def clean(self, value):
        if isinstance(value, recurrence_lib.Recurrence):
            value = serialize_rules(value)
        try:
            rules = parse_rules(value)
        except RecurrenceError as exc:
            raise ValidationError(str(exc), code="invalid") from exc
        # The library's own checks (required, limits) on the already-checked rules.
        return super().clean(recurrence_lib.serialize(rules))


class RecurrenceField(recurrence_fields.RecurrenceField):
    """``RecurrenceField`` whose loading never raises (see the module docstring)."""

    def to_python(self, value):
        if value is None or isinstance(value, recurrence_lib.Recurrence):
            return value
        return load_rules(str(value))

    def from_db_value(self, value, expression, connection):
        return self.to_python(value)

    def get_prep_value(self, value):
        if value is None:
            return None
        return serialize_rules(value)

    def validate(self, value, model_instance):
        super().validate(value, model_instance)
        if is_unreadable(value):
            raise ValidationError("%(error)s", code="unreadable", params={"error": value.error})
        if isinstance(value, recurrence_lib.Recurrence):
            try:
                check_rules(value)
            except RecurrenceError as exc:
                raise ValidationError(str(exc), code="invalid") from exc

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": RecurrenceFormField, "widget": RecurrenceWidget, **kwargs})
