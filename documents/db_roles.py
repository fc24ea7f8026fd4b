"""The PostgreSQL roles of a production database and what each may do on every table.

Three roles (docs/operations.md, "Database roles"): the owner owns every table and runs
`migrate`, so only it can alter a ledger table or disable its append-only triggers; the
web role (gunicorn and the Celery workers) reads what it serves, writes the portal's own
tables and only pools submissions for the ledger; the sequencer's role writes the log.

This lives in documents, not anchoring: it grants on every app's tables, anchoring knows no
other app, and the sequencer's rights include this app's handler of `integrated`
(ledger.note_indexes), which runs inside the batch's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Field, ForeignObjectRel, Model
from django.db.models.fields import AutoFieldMixin

from anchoring.models import (
    Alarm,
    ChainAnchor,
    ChainState,
    Checkpoint,
    CheckpointTimestamp,
    Entry,
    PublishedCheckpoint,
    Submission,
    Tile,
    TimestampAuthority,
    WitnessState,
)
from documents.models import Record, ServiceEvent

SCHEMA = "public"
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
COLUMN_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "REFERENCES")
SEQUENCE_PRIVILEGES = ("USAGE", "SELECT", "UPDATE")
# The web role's rights on a table no rule names: the portal's own tables, and any table a
# new model adds (ALTER DEFAULT PRIVILEGES gives the same to tables made by migrate).
READ_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class Roles:
    """The names of the owner, web and sequencer roles."""

    owner: str
    web: str
    sequencer: str

    def __post_init__(self) -> None:
        names = (self.owner, self.web, self.sequencer)
        for name in names:
            if not _ROLE_NAME.fullmatch(name):
                raise ValueError(f"role name {name!r}: lower-case letters, digits and _ only")
        if len(set(names)) != 3:
            raise ValueError("the owner, web and sequencer roles must be three roles")


@dataclass(frozen=True)
class Grant:
    """Privileges on a whole table, or with `columns` on those columns only."""

    privileges: tuple[str, ...]
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """What the web role and the sequencer's role may do on one table.

    `sequences` are the columns whose sequence a role that may INSERT may use.
    """

    table: str
    web: tuple[Grant, ...]
    sequencer: tuple[Grant, ...]
    sequences: tuple[str, ...] = ()

    def grants(self, roles: Roles) -> dict[str, tuple[Grant, ...]]:
        """The grants of each runtime role, by name."""
        return {roles.web: self.web, roles.sequencer: self.sequencer}

    def inserters(self, roles: Roles) -> list[str]:
        """The runtime roles that may INSERT whole rows (and so use the sequences)."""
        return [
            role
            for role, grants in self.grants(roles).items()
            if any("INSERT" in g.privileges and not g.columns for g in grants)
        ]


def _column(field: Field[Any, Any] | ForeignObjectRel) -> str:
    if not isinstance(field, Field) or field.column is None:
        raise ValueError(f"{field} has no column of its own")
    return field.column


def _columns(model: type[Model], *names: str) -> tuple[str, ...]:
    return tuple(_column(model._meta.get_field(name)) for name in names)


def _explicit() -> dict[str, tuple[tuple[Grant, ...], tuple[Grant, ...]]]:
    """(web, sequencer) grants of the tables whose rules are not the default."""
    read, append = (Grant(("SELECT",)),), (Grant(("SELECT", "INSERT")),)
    alarms = (Grant(("SELECT", "INSERT", "UPDATE")),)
    rules = {
        # The pool: the web role adds submissions, only the sequencer takes them out.
        Submission: ((Grant(("SELECT", "INSERT")),), (Grant(("SELECT", "DELETE")),)),
        # The log itself: read by everyone, appended to by the sequencer only.
        Entry: (read, append),
        Tile: (read, append),
        Checkpoint: (read, append),
        # Published by the sequencer's process (or a worker running anchoring.tasks.publish).
        PublishedCheckpoint: (read, append),
        # The publisher's memory of each witness: shown by the web role, kept by the publisher.
        WitnessState: (read, alarms),
        # Trusted time: tokens appended and each TSA's state kept by the timestamper (the
        # sequencer's process, or a worker running anchoring.tasks.timestamp).
        CheckpointTimestamp: (read, append),
        TimestampAuthority: (read, alarms),
        # Chain anchors: sent, confirmed or dropped, and the chain's state, kept by the
        # anchoring loop (the sequencer's process, or a worker running
        # anchoring.tasks.chain_anchor).
        ChainAnchor: (read, alarms),
        ChainState: (read, alarms),
        # Raised (and counted again) by both; resolved by an operator in the admin.
        Alarm: (alarms, alarms),
        # Django's own record of migrations: written by the owner's `migrate` only.
        MigrationRecorder.Migration: (read, ()),
    }
    for model in (Record, ServiceEvent):
        # note_indexes fills ledger_index in the batch's transaction, matching rows by
        # submission; it reads nothing else (titles and parties are personal data).
        rules[model] = (
            (Grant(READ_WRITE),),
            (
                Grant(("SELECT",), _columns(model, "submission", "ledger_index")),
                Grant(("UPDATE",), _columns(model, "ledger_index")),
            ),
        )
    return {model._meta.db_table: grants for model, grants in rules.items()}


def registry_models() -> list[type[Model]]:
    """Every model with a table of its own, many-to-many tables and Django's migrations."""
    models = [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]
    return [*models, MigrationRecorder.Migration]


def rules(models: Iterable[type[Model]] | None = None) -> list[Rule]:
    """One rule per table of the models (default: the registry's), sorted by table.

    A table without an explicit rule gets the web role's read-write and nothing for the
    sequencer, so a new model can never escape the grants.
    """
    explicit = _explicit()
    found: dict[str, Rule] = {}
    for model in registry_models() if models is None else models:
        meta = model._meta
        web, sequencer = explicit.get(meta.db_table, ((Grant(READ_WRITE),), ()))
        sequences = tuple(
            _column(f) for f in meta.local_concrete_fields if isinstance(f, AutoFieldMixin)
        )
        found[meta.db_table] = Rule(meta.db_table, web, sequencer, sequences)
    return [found[table] for table in sorted(found)]


def quote(name: str) -> str:
    """An SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """An SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _do(body: str) -> str:
    return f"DO $roles$\n{body}\n$roles$"


def _create_role(name: str, login: bool) -> str:
    attributes = "LOGIN" if login else "NOLOGIN"
    return _do(
        f"BEGIN\n    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(name)}) THEN\n"
        f"        CREATE ROLE {quote(name)} {attributes} NOSUPERUSER NOCREATEDB NOCREATEROLE "
        "NOBYPASSRLS;\n    END IF;\nEND"
    )


def _grant(grant: Grant, table: str, role: str) -> str:
    if grant.columns:
        columns = ", ".join(quote(c) for c in grant.columns)
        privileges = ", ".join(f"{p} ({columns})" for p in grant.privileges)
    else:
        privileges = ", ".join(grant.privileges)
    return f"GRANT {privileges} ON TABLE {quote(table)} TO {quote(role)}"


def _sequence_grants(uses: list[tuple[str, str, str]]) -> str:
    """USAGE on the sequences of auto fields, (table, column, role); found by name when the
    SQL runs, as PostgreSQL named them."""
    rows = ",\n".join(
        f"        ({literal(table)}, {literal(column)}, {literal(role)})"
        for table, column, role in uses
    )
    return _do(
        "DECLARE u record; s text;\nBEGIN\n    FOR u IN SELECT * FROM (VALUES\n"
        f"{rows}\n    ) AS uses (tab, col, role) LOOP\n"
        f"        s := pg_get_serial_sequence(format('%I.%I', {literal(SCHEMA)}, u.tab), u.col);\n"
        "        IF s IS NOT NULL THEN\n"
        "            EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', s, u.role);\n"
        "        END IF;\n    END LOOP;\nEND"
    )


def statements(
    roles: Roles,
    table_rules: list[Rule] | None = None,
    *,
    login: bool = False,
    set_owner: bool = False,
) -> list[str]:
    """The SQL that makes the database's privileges those of the rules; idempotent.

    Creates missing roles, takes every privilege of the runtime roles (and of PUBLIC) on
    the schema's tables and sequences away, grants what the rules say, and sets the
    owner's default privileges for tables later migrations create. With `set_owner`, the
    owner is given every table of the rules and every function of the schema.
    """
    table_rules = rules() if table_rules is None else table_rules
    schema, owner = quote(SCHEMA), quote(roles.owner)
    runtime = f"{quote(roles.web)}, {quote(roles.sequencer)}"
    sql = [_create_role(name, login) for name in (roles.owner, roles.web, roles.sequencer)]
    if set_owner:
        sql += [f"ALTER TABLE {quote(r.table)} OWNER TO {owner}" for r in table_rules]
        sql.append(
            _do(
                "DECLARE f regprocedure;\nBEGIN\n"
                "    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p\n"
                "        JOIN pg_namespace n ON n.oid = p.pronamespace\n"
                f"        WHERE n.nspname = {literal(SCHEMA)} AND p.prokind IN ('f', 'p')\n"
                "        AND NOT EXISTS (SELECT FROM pg_depend d\n"
                "            WHERE d.objid = p.oid AND d.deptype = 'e')\n"
                "    LOOP\n"
                "        EXECUTE format('ALTER ROUTINE %s OWNER TO %I', f, "
                f"{literal(roles.owner)});\n"
                "    END LOOP;\nEND"
            )
        )
    sql += [
        _do(
            "BEGIN\n    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I, %I', "
            f"current_database(), {literal(roles.web)}, {literal(roles.sequencer)});\nEND"
        ),
        f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC, {runtime}",
        f"GRANT USAGE ON SCHEMA {schema} TO {runtime}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM PUBLIC, {runtime}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM PUBLIC, {runtime}",
    ]
    uses = []
    for rule in table_rules:
        for role, grants in rule.grants(roles).items():
            sql += [_grant(grant, rule.table, role) for grant in grants]
        uses += [(rule.table, c, role) for c in rule.sequences for role in rule.inserters(roles)]
    if uses:
        sql.append(_sequence_grants(uses))
    default = f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}"
    sql += [
        f"{default} REVOKE ALL ON TABLES FROM {runtime}",
        f"{default} REVOKE ALL ON SEQUENCES FROM {runtime}",
        f"{default} GRANT {', '.join(READ_WRITE)} ON TABLES TO {quote(roles.web)}",
        f"{default} GRANT USAGE ON SEQUENCES TO {quote(roles.web)}",
    ]
    return sql


def script(sql: list[str], roles: Roles) -> str:
    """The statements as one script for psql."""
    head = (
        f"-- Privileges of the owner {roles.owner}, the web role {roles.web} and the "
        f"sequencer's role {roles.sequencer}\n-- (manage.py db_roles; docs/operations.md).\n\n"
    )
    return head + "".join(f"{statement};\n\n" for statement in sql)


def _expected(rule: Rule, role: str, roles: Roles) -> tuple[set[str], dict[str, set[str]]]:
    """A role's table-wide privileges on a rule's table, and its column-only ones."""
    table: set[str] = set()
    columns: dict[str, set[str]] = {}
    for grant in rule.grants(roles)[role]:
        if grant.columns:
            for column in grant.columns:
                columns.setdefault(column, set()).update(grant.privileges)
        else:
            table.update(grant.privileges)
    return table, columns


def problems(
    connection: BaseDatabaseWrapper, roles: Roles, table_rules: list[Rule] | None = None
) -> list[str]:
    """Where the database's privileges differ from the rules, in words; [] when none.

    Compares what each runtime role may effectively do (through its memberships and
    PUBLIC too) on every table, column and sequence of the schema with what the rules
    allow, and checks that neither owns anything, is a superuser or can act as the owner.
    """
    table_rules = rules() if table_rules is None else table_rules
    by_table = {rule.table: rule for rule in table_rules}
    runtime = [roles.web, roles.sequencer]
    found: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolname, rolsuper FROM pg_roles WHERE rolname = ANY(%s)",
            [[roles.owner, *runtime]],
        )
        existing = dict(cursor.fetchall())
        missing = [r for r in (roles.owner, *runtime) if r not in existing]
        if missing:
            return [f"role {r} does not exist" for r in missing]
        found += [f"{r} is a superuser" for r in runtime if existing[r]]
        cursor.execute(
            "SELECT m.rolname, o.rolname FROM pg_roles m CROSS JOIN pg_roles o "
            "WHERE m.rolname = ANY(%s) AND o.rolname = ANY(%s) AND m.oid <> o.oid "
            "AND pg_has_role(m.oid, o.oid, 'MEMBER')",
            [runtime, [roles.owner, *runtime]],
        )
        found += [f"{m} is a member of {o}" for m, o in cursor.fetchall()]
        cursor.execute(
            "SELECT r.rolname, 'schema ' || n.nspname FROM pg_namespace n CROSS JOIN pg_roles r "
            "WHERE n.nspname = %(schema)s AND r.rolname = ANY(%(runtime)s) "
            "AND pg_has_role(r.oid, n.nspowner, 'MEMBER') "
            "UNION ALL SELECT r.rolname, 'table ' || c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.oid = c.relowner "
            "WHERE n.nspname = %(schema)s AND r.rolname = ANY(%(runtime)s) "
            "UNION ALL SELECT r.rolname, 'function ' || p.oid::regprocedure FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner "
            "WHERE n.nspname = %(schema)s AND r.rolname = ANY(%(runtime)s)",
            {"schema": SCHEMA, "runtime": runtime},
        )
        found += [f"{role} owns {what}" for role, what in cursor.fetchall()]
        cursor.execute(
            "SELECT c.relname, r.rolname, p.priv, has_table_privilege(r.oid, c.oid, p.priv) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "CROSS JOIN pg_roles r CROSS JOIN unnest(%s::text[]) AS p(priv) "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
            "AND r.rolname = ANY(%s) ORDER BY 1, 2, 3",
            [list(TABLE_PRIVILEGES), SCHEMA, runtime],
        )
        for table, role, privilege, has in cursor.fetchall():
            rule = by_table.get(table)
            wanted = privilege in _expected(rule, role, roles)[0] if rule else False
            if has != wanted:
                found.append(_difference(role, privilege, table, wanted))
        cursor.execute(
            "SELECT c.relname, a.attname, r.rolname, p.priv, "
            "has_column_privilege(r.oid, c.oid, a.attnum, p.priv) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "CROSS JOIN pg_roles r CROSS JOIN unnest(%s::text[]) AS p(priv) "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
            "AND a.attnum > 0 AND NOT a.attisdropped AND r.rolname = ANY(%s) ORDER BY 1, 2, 3, 4",
            [list(COLUMN_PRIVILEGES), SCHEMA, runtime],
        )
        for table, column, role, privilege, has in cursor.fetchall():
            rule = by_table.get(table)
            wanted = False
            if rule:
                whole, columns = _expected(rule, role, roles)
                wanted = privilege in whole or privilege in columns.get(column, ())
            if has != wanted:
                found.append(_difference(role, privilege, f"{table}.{column}", wanted))
        cursor.execute(
            "SELECT s.relname, t.relname, a.attname, r.rolname, p.priv, "
            "has_sequence_privilege(r.oid, s.oid, p.priv) "
            "FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace "
            "LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid "
            "AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
            "LEFT JOIN pg_class t ON t.oid = d.refobjid "
            "LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
            "CROSS JOIN pg_roles r CROSS JOIN unnest(%s::text[]) AS p(priv) "
            "WHERE s.relkind = 'S' AND n.nspname = %s AND r.rolname = ANY(%s) ORDER BY 1, 4, 5",
            [list(SEQUENCE_PRIVILEGES), SCHEMA, runtime],
        )
        for sequence, table, column, role, privilege, has in cursor.fetchall():
            rule = by_table.get(table)
            wanted = (
                privilege == "USAGE"
                and rule is not None
                and column in rule.sequences
                and role in rule.inserters(roles)
            )
            if has != wanted:
                found.append(_difference(role, privilege, f"sequence {sequence}", wanted))
    return found


def _difference(role: str, privilege: str, on: str, wanted: bool) -> str:
    if wanted:
        return f"{role} lacks {privilege} on {on}"
    return f"{role} has {privilege} on {on}, which it must not"
