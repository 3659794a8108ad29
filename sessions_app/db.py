"""Small database helpers that keep set-based statements set-based on both backends.

Django spells ``pk__in=[...]`` as one placeholder per id: slow to build for 100,000 ids
and over SQLite's 32,766-variable limit. ``IdIn`` sends the whole list as a single
parameter instead (a PostgreSQL array, a JSON text on SQLite), so a statement stays one
statement whatever the number of changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from django.db import connection, models
from django.db.models import BooleanField, F, Func


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

    def as_sql(self, compiler, connection, **extra_context):
        column_sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"{column_sql} = ANY(%s::{self.array_type}[])", [*params, self.values]
        return f"{column_sql} IN (SELECT value FROM json_each(%s))", [*params, json.dumps(self.values)]


class TextIn(IdIn):
    """``column IN (texts)``, the texts bound as one parameter (e.g. the ~600 IANA names)."""

    array_type = "text"

    @staticmethod
    def normalise(values: Iterable) -> list:
        return sorted({str(v) for v in values})


def assign_foreign_keys(model: type[models.Model], field_name: str, values: Mapping[int, int | None]) -> int:
    """Set ``field_name`` per row in one statement: ``{pk: new value or None}``.

    ``bulk_update`` would write a ``CASE`` with a branch per row, which databases
    evaluate branch by branch (quadratic at tens of thousands of rows); this joins a
    list of pairs instead. Returns the number of rows updated.
    """
    if not values:
        return 0
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column = quote(model._meta.get_field(field_name).column)
    pk = quote(model._meta.pk.column)
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


def assign_columns(model: type[models.Model], field_names: Sequence[str], rows: Mapping[int, Sequence]) -> int:
    """Set several columns per row in one statement: ``{pk: (value per field, ...)}``.

    The same join against a list of rows as ``assign_foreign_keys`` (one array per column
    through ``unnest`` on PostgreSQL, one JSON text on SQLite), for any column type Django
    can prepare. Returns the number of rows updated.
    """
    if not rows:
        return 0
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = quote(model._meta.pk.column)
    fields = [model._meta.get_field(name) for name in field_names]
    columns = [quote(field.column) for field in fields]
    assignments = ", ".join(f"{column} = v.c{n}" for n, column in enumerate(columns))
    ids = list(rows)
    prepared = {pk_: [field.get_db_prep_value(value, connection) for field, value in zip(fields, rows[pk_], strict=True)]
                for pk_ in ids}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
            names = ", ".join(f"c{n}" for n in range(len(fields)))
            cursor.execute(
                f"UPDATE {table} SET {assignments} "
                f"FROM unnest(%s::bigint[], {arrays}) AS v(id, {names}) WHERE {table}.{pk} = v.id",
                [ids, *([prepared[i][n] for i in ids] for n in range(len(fields)))],
            )
        else:
            extracted = ", ".join(f"json_extract(value, '$[{n + 1}]') AS c{n}" for n in range(len(fields)))
            cursor.execute(
                f"UPDATE {table} SET {assignments} "
                f"FROM (SELECT json_extract(value, '$[0]') AS id, {extracted} FROM json_each(%s)) AS v "
                f"WHERE {table}.{pk} = v.id",
                [json.dumps([[i, *prepared[i]] for i in ids])],
            )
        return cursor.rowcount
