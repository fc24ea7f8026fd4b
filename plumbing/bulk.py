"""Many new rows of one model in one cheap INSERT on PostgreSQL.

bulk_create() compiles its INSERT for every call and binds each value on the client, so
for the court API's group commit (hundreds of records a second, a few hundred at a time)
it would be most of a write's CPU. One INSERT ... SELECT FROM unnest() of one typed array per
column is a short statement whose values psycopg adapts in bulk: about half the CPU
(docs/benchmarks.md, "Court API on gevent"). Elsewhere (SQLite) it is bulk_create().
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model


def _column(field: Field[Any, Any]) -> str:
    """A concrete field's column name (only fields without a column have None)."""
    assert field.column is not None, field
    return field.column


def _array_type(field: Field[Any, Any], connection: BaseDatabaseWrapper) -> str:
    """The field's column type as an array element type: varchar, not varchar(255)."""
    db_type = field.db_type(connection)
    assert db_type is not None, field
    return db_type.split("(")[0]


def insert[M: Model](model: type[M], objs: Sequence[M]) -> None:
    """Insert the unsaved instances and set their primary keys, in order."""
    connection = connections[router.db_for_write(model)]  # not the proxy: read per value
    if connection.vendor != "postgresql" or not objs:
        model._default_manager.bulk_create(objs)
        return
    ops = connection.ops
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(ops.quote_name(_column(f)) for f in fields)
    # varchar[], not varchar(255)[]: a cast to a length truncates, the column refuses.
    arrays = ", ".join(f"%s::{_array_type(f, connection)}[]" for f in fields)
    pk = model._meta.pk
    assert pk is not None
    sql = (
        f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({columns}) "
        f"SELECT * FROM unnest({arrays}) RETURNING {ops.quote_name(_column(pk))}"
    )
    # pre_save() fills auto_now_add times, as bulk_create() does.
    params = [[f.get_db_prep_save(f.pre_save(o, True), connection) for o in objs] for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # Rows come back in the order unnest() gave them, which bulk_create() relies on too.
        for obj, (key,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = key
            obj._state.adding = False
            obj._state.db = connection.alias
