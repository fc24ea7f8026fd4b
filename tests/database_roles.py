"""Owner, web and sequencer roles for one test, granted by `manage.py db_roles`, then dropped.

Roles belong to the whole PostgreSQL server, which other suites use at the same time: each
test's roles have new names, and whatever they own or were granted goes with them.
"""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Iterator

import psycopg
from django.core.management import call_command
from django.db import connection

from documents.db_roles import SCHEMA, Roles, quote


@contextlib.contextmanager
def granted_roles() -> Iterator[Roles]:
    """New roles with LOGIN, the owner owning every table as after `migrate`; dropped after.

    The owner gets CREATE on the schema, as the owner of a database of its own has.
    """
    suffix = secrets.token_hex(4)
    roles = Roles(f"portal_owner_{suffix}", f"portal_web_{suffix}", f"portal_sequencer_{suffix}")
    try:
        call_command(
            "db_roles",
            "--apply",
            "--login",
            "--set-owner",
            owner=roles.owner,
            web=roles.web,
            sequencer=roles.sequencer,
            stdout=io.StringIO(),
        )
        with connection.cursor() as cursor:
            cursor.execute(f"GRANT CREATE ON SCHEMA {quote(SCHEMA)} TO {quote(roles.owner)}")
        yield roles
    finally:
        drop(roles)


def drop(roles: Roles) -> None:
    """Give back what the roles own to the test's user, then drop them and their grants."""
    names = [roles.owner, roles.web, roles.sequencer]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY(%s)",
            [names],
        )
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [names])
        existing = {name for (name,) in cursor.fetchall()}
        # One role at a time: PostgreSQL cannot drop the owner's default privileges and a
        # grantee's part of them in one statement.
        for name in [n for n in names if n in existing]:
            cursor.execute(f"REASSIGN OWNED BY {quote(name)} TO CURRENT_USER")
            cursor.execute(f"DROP OWNED BY {quote(name)}")
            cursor.execute(f"DROP ROLE {quote(name)}")


def connect(role: str) -> psycopg.Connection:
    """A connection to the test database as `role`, in autocommit."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=role, dbname=db["NAME"], autocommit=True
    )


def database_url(role: str) -> str:
    """The DATABASE_URL of a process that connects to the test database as `role`."""
    db = connection.settings_dict
    return f"postgres://{role}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
