"""The portal's hand-written SQL: many rows of one model written in one statement on
PostgreSQL, each kept because it is much cheaper than the ORM on a path that runs per
request or per ledger batch (bench/sql_paths.py; docs/benchmarks.md, "SQL fast paths").
Elsewhere (SQLite) each falls back to the ORM.

- `insert`: new rows by INSERT ... SELECT FROM unnest() of one typed array per column;
  bulk_create() compiles its INSERT for every call and binds each value on the client.
- `copy`: new rows by COPY, for the ledger's batches of entries.
- `delete`: rows by primary key, one `= ANY(array)` instead of chunks of IN lists.
- `insert_with_children`: a new row and its children in one statement, no BEGIN/COMMIT.
- `select_by_keys` and `select_range`: the reads of a ledger proof (tiles by level and
  index, a range of hashes below a partial tile); the ORM's Q objects and per-row value
  converters cost more than the queries themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

# Below this many rows bulk_create() is as cheap as the unnest() form.
INSERT_MIN_ROWS = 5
# SQLite binds at most 999 parameters a statement.
_IDS_PER_STATEMENT = 900


def _connection(model: type[Model]) -> BaseDatabaseWrapper:
    return connections[router.db_for_write(model)]  # not the proxy: read per value


def _column(field: Field[Any, Any]) -> str:
    """A concrete field's column name (only fields without a column have None)."""
    assert field.column is not None, field
    return field.column


def _base_type(field: Field[Any, Any], connection: BaseDatabaseWrapper) -> str:
    """The field's column type without its length: varchar, not varchar(255).

    A cast to varchar(n) truncates, where the column itself refuses a longer value.
    """
    db_type = field.db_type(connection)
    assert db_type is not None, field
    return db_type.split("(")[0]


def _adopt(objs: Iterable[Model], connection: BaseDatabaseWrapper) -> None:
    """Mark instances saved, as the ORM does after an INSERT."""
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


def insert[M: Model](model: type[M], objs: Sequence[M]) -> None:
    """Insert the unsaved instances and set their primary keys, in order."""
    connection = _connection(model)
    if connection.vendor != "postgresql" or len(objs) < INSERT_MIN_ROWS:
        model._default_manager.bulk_create(objs)
        return
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    pk = model._meta.pk
    assert pk is not None
    columns = ", ".join(quote(_column(f)) for f in fields)
    arrays = ", ".join(f"%s::{_base_type(f, connection)}[]" for f in fields)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "
        f"SELECT * FROM unnest({arrays}) RETURNING {quote(_column(pk))}"
    )
    # pre_save() fills auto_now_add times, as bulk_create() does.
    params = [[f.get_db_prep_save(f.pre_save(o, True), connection) for o in objs] for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # Rows come back in the order unnest() gave them, which bulk_create() relies on too.
        for obj, (key,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = key
    _adopt(objs, connection)


def copy(model: type[Model], fields: Sequence[str], rows: Iterable[tuple]) -> None:
    """Insert rows given as tuples of the named fields' database values."""
    connection = _connection(model)
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(model(**dict(zip(fields, r, strict=True))) for r in rows)
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(model._meta.get_field(name))) for name in fields)  # type: ignore[arg-type]
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as out,
    ):
        for row in rows:
            out.write_row(row)


def delete(model: type[Model], pks: Sequence[Any]) -> None:
    """Delete the rows with these primary keys; on PostgreSQL without the ORM's signals
    and cascades, so only for models that have neither."""
    connection = _connection(model)
    if connection.vendor != "postgresql":
        for i in range(0, len(pks), _IDS_PER_STATEMENT):
            model._default_manager.filter(pk__in=pks[i : i + _IDS_PER_STATEMENT]).delete()
        return
    pk = model._meta.pk
    assert pk is not None
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {quote(model._meta.db_table)} WHERE {quote(_column(pk))} = ANY(%s)",
            [list(pks)],
        )


def insert_with_children(parent: Model, children: Sequence[Model], link: str) -> None:
    """Insert a new row and its new children (whose foreign key `link` names the parent)
    in one statement, atomic on its own.

    The parent's primary key is set before (it is what the children point to). The
    children travel as one JSON parameter (jsonb_to_recordset), so the statement has few
    parameters and psycopg keeps its parsed form (it re-parses statements with over 50).
    Their fields must be JSON values as they are (text, numbers, JSON fields).
    """
    model, child = type(parent), type(children[0]) if children else None
    connection = _connection(model)
    if connection.vendor != "postgresql" or child is None:
        from django.db import transaction

        with transaction.atomic(using=connection.alias):
            parent.save(force_insert=True, using=connection.alias)
            if child is not None:
                child._default_manager.bulk_create(children)
        return
    assert parent.pk is not None, "the parent's primary key is set before it is inserted"
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
    params = [f.get_db_prep_save(f.pre_save(parent, add=True), connection) for f in fields]
    foreign_key = child._meta.get_field(link)
    own = [
        f
        for f in child._meta.concrete_fields
        if f is not child._meta.auto_field and f is not foreign_key
    ]
    records = json.dumps([{f.attname: f.value_from_object(c) for f in own} for c in children])
    shape = ", ".join(f"{quote(f.attname)} {_base_type(f, connection)}" for f in own)
    picked = ", ".join(f"s.{quote(f.attname)}" for f in own)
    sql = (
        f"WITH p AS (INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(_column(f)) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})) "
        f"INSERT INTO {quote(child._meta.db_table)} "
        f"({quote(_column(foreign_key))}, {', '.join(quote(_column(f)) for f in own)}) "  # type: ignore[arg-type]
        f"SELECT %s, {picked} FROM jsonb_to_recordset(%s::jsonb) AS s({shape})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, parent.pk, records])
    _adopt((parent, *children), connection)


def select_by_keys(
    model: type[Model], keys: tuple[str, str], values: Iterable[tuple], columns: Sequence[str]
) -> list[tuple]:
    """The rows whose two key fields are one of the pairs in `values`, each as a tuple of
    its two keys and then `columns`, in no particular order."""
    pairs = sorted(set(values))
    if not pairs:
        return []
    connection = connections[router.db_for_read(model)]
    quote = connection.ops.quote_name
    names = [*keys, *columns]
    fields = [_column(model._meta.get_field(name)) for name in names]  # type: ignore[arg-type]
    a, b = (quote(f) for f in fields[:2])
    sql = (
        f"SELECT {', '.join(quote(f) for f in fields)} FROM {quote(model._meta.db_table)} "
        f"WHERE {' OR '.join([f'({a} = %s AND {b} = %s)'] * len(pairs))}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [v for pair in pairs for v in pair])
        return cursor.fetchall()


def select_range(
    model: type[Model], column: str, key: str, start: int, end: int, **equal: Any
) -> list[Any]:
    """One column of the rows with start <= key < end (and the fields in `equal` equal to
    their values), ordered by key, as the driver gives it."""
    connection = connections[router.db_for_read(model)]
    quote = connection.ops.quote_name

    def col(name: str) -> str:
        return quote(_column(model._meta.get_field(name)))  # type: ignore[arg-type]

    where = [f"{col(name)} = %s" for name in equal] + [f"{col(key)} >= %s", f"{col(key)} < %s"]
    sql = (
        f"SELECT {col(column)} FROM {quote(model._meta.db_table)} "
        f"WHERE {' AND '.join(where)} ORDER BY {col(key)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*equal.values(), start, end])
        return [value for (value,) in cursor.fetchall()]
