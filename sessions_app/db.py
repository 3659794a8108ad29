"""Small database helpers that keep set-based statements set-based on both backends.

Django spells ``pk__in=[...]`` as one placeholder per id: slow to build for 100,000 ids
and over SQLite's 32,766-variable limit. ``IdIn`` sends the whole list as a single
parameter instead (a PostgreSQL array, a JSON text on SQLite), so a statement stays one
statement whatever the number of changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection, models
from django.db.models import BigIntegerField, BooleanField, F, Func

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


class IdIn(Func):
    """``column IN (ids)`` with the ids bound as one parameter; usable in ``filter()``
    and ``exclude()``."""

    output_field = BooleanField()
    array_type = "bigint"

    def __init__(self, column: str, values: Iterable):
        super().__init__(F(column))
        self.values = self.normalise(values)

    @staticmethod
    def normalise(values: Iterable) -> list:
        return sorted({int(v) for v in values})

    # The parameters hold the id list itself (one array or JSON parameter), which the
    # stubs' tuple of str and int parameters does not allow.
    def as_sql(  # type: ignore[override]  # see above
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, list[Any]]:
        column_sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"{column_sql} = ANY(%s::{self.array_type}[])", [*params, self.values]
        return f"{column_sql} IN (SELECT value FROM json_each(%s))", [*params, json.dumps(self.values)]


class EpochMicroseconds(Func):
    """A ``DateTimeField`` column as whole microseconds since 1970-01-01 UTC (NULL stays
    NULL): compared in Python as an integer, which the driver loads far faster than a
    ``datetime`` (psycopg's timestamp loader runs in Python for Django's aware values).

    SQLite holds Django's text ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (UTC); text in another
    form reads as some other number, which can only make a comparison fail, never pass.
    """

    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(EXTRACT(EPOCH FROM {sql}) * 1000000)::bigint", params

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"(CAST(strftime('%%s', {sql}) AS INTEGER) * 1000000 + CAST(substr({sql} || '.000000', 21, 6) AS INTEGER))",
            [*params, *params],
        )


def epoch_microseconds(value: datetime | None) -> int | None:
    """What ``EpochMicroseconds`` reads for an aware ``value``."""
    return None if value is None else (value - EPOCH) // ONE_MICROSECOND


class TextIn(IdIn):
    """``column IN (texts)``, the texts bound as one parameter (e.g. the ~600 IANA names)."""

    array_type = "text"

    @staticmethod
    def normalise(values: Iterable) -> list:
        return sorted({str(v) for v in values})


def _column(model: type[models.Model], name: str) -> str:
    """The quoted column of one of ``model``'s concrete fields (a reverse relation has none)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or field.column is None:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return connection.ops.quote_name(field.column)


def assign_foreign_keys(model: type[models.Model], field_name: str, values: Mapping[int, int | None]) -> int:
    """Set ``field_name`` per row in one statement: ``{pk: new value or None}``.

    ``bulk_update`` would write a ``CASE`` with a branch per row, which databases
    evaluate branch by branch (quadratic at tens of thousands of rows); this joins a
    list of pairs instead. Returns the number of rows updated.
    """
    if not values:
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    column = _column(model, field_name)
    pk = _column(model, model._meta.pk.name)
    ids = list(values)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET {column} = v.value "
                f"FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, value) WHERE {table}.{pk} = v.id",
                [ids, [values[i] for i in ids]],
            )
        else:
            cursor.execute(
                f"UPDATE {table} SET {column} = v.value "
                "FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS value "
                "      FROM json_each(%s)) AS v "
                f"WHERE {table}.{pk} = v.id",
                [json.dumps([[i, values[i]] for i in ids])],
            )
        return cursor.rowcount


def _iso_instant(value: datetime | None) -> str | None:
    """PostgreSQL: an aware instant as ISO 8601 text with its offset, read as
    ``timestamptz`` by the statement. Cheaper in bulk than Django's own
    ``get_db_prep_value``, which costs several times the window maths per value."""
    return None if value is None else value.isoformat()


def _sqlite_instant(value: datetime | None) -> str | None:
    """SQLite: the text Django stores for an aware instant (naive UTC, ``str()``)."""
    return None if value is None else str(value.astimezone(UTC).replace(tzinfo=None))


def _instant_rows(model: type[models.Model], field_names: Sequence[str], rows: Mapping[int, Sequence]):
    """SQL for ``rows`` (``{pk: (instant per field, ...)}``) as a relation
    ``v(id, c0, c1, ...)``, its parameters, the null-safe "stored value differs" test of
    each column against the table, and the ``SET`` list."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [_column(model, name) for name in field_names]
    names = [f"c{n}" for n in range(len(columns))]
    ids = list(rows)
    if connection.vendor == "postgresql":
        # One JSON text, parsed by the server: binding arrays would make psycopg dump
        # every element in Python.
        declared = ", ".join(f"{name} timestamptz" for name in names)
        source = f"json_to_recordset(%s::json) AS v(id bigint, {declared})"
        params = [json.dumps([{"id": i, **dict(zip(names, map(_iso_instant, rows[i]), strict=True))} for i in ids])]
        differs = "IS DISTINCT FROM"
    else:
        extracted = ", ".join(f"json_extract(value, '$[{n + 1}]') AS {name}" for n, name in enumerate(names))
        source = f"(SELECT json_extract(value, '$[0]') AS id, {extracted} FROM json_each(%s)) AS v"
        params = [json.dumps([[i, *map(_sqlite_instant, rows[i])] for i in ids])]
        differs = "IS NOT"
    different = " OR ".join(f"{table}.{column} {differs} v.{name}" for column, name in zip(columns, names, strict=True))
    assignments = ", ".join(f"{column} = v.{name}" for column, name in zip(columns, names, strict=True))
    return source, params, f"({different})", assignments


def assign_instants(model: type[models.Model], field_names: Sequence[str], rows: Mapping[int, Sequence]) -> int:
    """Set several ``DateTimeField`` columns per row in one statement, ``{pk: (aware
    instant or None per field, ...)}``, writing only the rows that hold other values (no
    write, no dead tuple for the rest). The same join against a list of rows as
    ``assign_foreign_keys``. Returns the number of rows that changed."""
    if not rows:
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    pk = _column(model, model._meta.pk.name)
    source, params, different, assignments = _instant_rows(model, field_names, rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {source} WHERE {table}.{pk} = v.id AND {different}", params
        )
        return cursor.rowcount
