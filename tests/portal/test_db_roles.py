"""The database roles on real PostgreSQL: neither runtime role can rewrite the ledger.

Roles are created for each test with names of their own (tests/database_roles.py) and
the statements are run as those roles, so a grant that is too broad fails here: a refused
statement must be refused for lack of a privilege, not by the append-only triggers.
"""

import io
import secrets
import subprocess
import sys

import psycopg
import pytest
import yaml
from django.apps import apps
from django.core.management import call_command
from django.db import connection, models
from django.test.utils import isolate_apps
from django.utils import timezone

from anchoring import keys, sequencer
from anchoring.checkpoint import open_checkpoint
from anchoring.models import Alarm, Checkpoint, Entry, Submission, Tile
from documents import db_roles
from documents.models import Court, Record, ServiceEvent
from tests.anchoring.ledger import content_leaf, grow_ledger
from tests.database_roles import connect, database_url, granted_roles
from tests.processes import ROOT, environment

LEDGER = ["anchoring_entry", "anchoring_tile", "anchoring_checkpoint"]

# What each runtime role may do on the tables with rules of their own: (web, sequencer).
EXPECTED = {
    "anchoring_submission": ({"SELECT", "INSERT"}, {"SELECT", "DELETE"}),
    "anchoring_entry": ({"SELECT"}, {"SELECT", "INSERT"}),
    "anchoring_tile": ({"SELECT"}, {"SELECT", "INSERT"}),
    "anchoring_checkpoint": ({"SELECT"}, {"SELECT", "INSERT"}),
    "anchoring_publishedcheckpoint": ({"SELECT"}, {"SELECT", "INSERT"}),
    "anchoring_witnessstate": ({"SELECT"}, {"SELECT", "INSERT", "UPDATE"}),
    "anchoring_checkpointtimestamp": ({"SELECT"}, {"SELECT", "INSERT"}),
    "anchoring_timestampauthority": ({"SELECT"}, {"SELECT", "INSERT", "UPDATE"}),
    "anchoring_chainanchor": ({"SELECT"}, {"SELECT", "INSERT", "UPDATE"}),
    "anchoring_chainstate": ({"SELECT"}, {"SELECT", "INSERT", "UPDATE"}),
    "anchoring_alarm": ({"SELECT", "INSERT", "UPDATE"}, {"SELECT", "INSERT", "UPDATE"}),
    "django_migrations": ({"SELECT"}, set()),
    "documents_record": (set(db_roles.READ_WRITE), set()),
    "documents_serviceevent": (set(db_roles.READ_WRITE), set()),
}

# Statements that would change the ledger or switch its triggers off.
TAMPERING = [
    *(f"UPDATE {t} SET {c} = {c}" for t, c in zip(LEDGER, ["kind", "root", "note"], strict=True)),
    *(f"DELETE FROM {t}" for t in LEDGER),
    *(f"TRUNCATE {t}" for t in LEDGER),
    "TRUNCATE anchoring_submission",
    "UPDATE anchoring_submission SET data = data",
    "ALTER TABLE anchoring_entry DISABLE TRIGGER anchoring_entry_append_only",
    "ALTER TABLE anchoring_checkpoint DISABLE TRIGGER ALL",
    "DROP TRIGGER anchoring_tile_append_only ON anchoring_tile",
    "ALTER TABLE anchoring_entry OWNER TO CURRENT_USER",
    "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
    "SET session_replication_role = replica",
    "DELETE FROM anchoring_alarm",
    "DELETE FROM django_migrations",
    "CREATE TABLE made_at_runtime (id int)",
]
WEB_REFUSED = [
    *TAMPERING,
    "INSERT INTO anchoring_entry (index, data, kind, sha256, sm3, integrated_at) "
    "VALUES (1000000, '\\x00', 1, '\\x00', '\\x00', now())",
    "INSERT INTO anchoring_tile (level, index, hashes, root) VALUES (9, 9, '\\x00', '\\x00')",
    "INSERT INTO anchoring_checkpoint (tree_size, root_hash, note, created_at) "
    "VALUES (1000000, '\\x00', 'forged', now())",
    "DELETE FROM anchoring_submission",
]
SEQUENCER_REFUSED = [
    *TAMPERING,
    "INSERT INTO anchoring_submission (data, submitted_at) VALUES ('\\x00', now())",
    "SELECT title FROM documents_record",
    "SELECT * FROM documents_serviceevent",
    "UPDATE documents_record SET title = title",
    "UPDATE documents_record SET submission = submission",
    "DELETE FROM documents_record",
    "SELECT * FROM documents_court",
    "SELECT * FROM documents_courttoken",
    "SELECT * FROM verification_verification",
    "SELECT * FROM auth_user",
    "SELECT * FROM django_session",
]


def _privileges(grants: tuple[db_roles.Grant, ...]) -> set[str]:
    return {p for g in grants if not g.columns for p in g.privileges}


def test_every_table_of_the_model_registry_has_a_rule():
    tables = {
        m._meta.db_table
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy
    }
    roles = db_roles.Roles("o", "w", "s")
    script = db_roles.script(db_roles.statements(roles, set_owner=True), roles)

    assert {rule.table for rule in db_roles.rules()} == tables | {"django_migrations"}
    for table in tables:
        assert f'ON TABLE "{table}" TO "w"' in script, table
        assert f'ALTER TABLE "{table}" OWNER TO "o"' in script


def test_the_ledger_tables_have_explicit_rules_and_every_other_table_the_default():
    for rule in db_roles.rules():
        web, sequencer = EXPECTED.get(rule.table, (set(db_roles.READ_WRITE), set()))
        assert (_privileges(rule.web), _privileges(rule.sequencer)) == (web, sequencer), rule
    for model in (Record, ServiceEvent):
        (rule,) = db_roles.rules([model])
        assert rule.sequencer == (
            db_roles.Grant(("SELECT",), ("submission", "ledger_index")),
            db_roles.Grant(("UPDATE",), ("ledger_index",)),
        )


@isolate_apps("documents")
def test_a_model_added_later_gets_the_web_roles_read_write_and_nothing_else():
    class Newcomer(models.Model):
        note = models.TextField()

        class Meta:
            app_label = "documents"

    (rule,) = db_roles.rules([Newcomer])
    roles = db_roles.Roles("o", "w", "s")
    script = db_roles.script(db_roles.statements(roles, [rule]), roles)

    assert (rule.table, rule.sequences) == ("documents_newcomer", ("id",))
    assert _privileges(rule.web) == set(db_roles.READ_WRITE) and rule.sequencer == ()
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "documents_newcomer" TO "w"' in script
    assert "('documents_newcomer', 'id', 'w')" in script
    assert '"documents_newcomer" TO "s"' not in script and "'id', 's')" not in script


def test_the_command_prints_nologin_roles_and_no_ownership_unless_asked():
    out = io.StringIO()
    call_command("db_roles", stdout=out)
    printed = out.getvalue()
    assert 'CREATE ROLE "portal_owner" NOLOGIN' in printed
    assert 'CREATE ROLE "portal_web" NOLOGIN' in printed
    assert "OWNER TO" not in printed
    out = io.StringIO()
    call_command("db_roles", "--login", "--set-owner", web="w2", stdout=out)
    assert 'CREATE ROLE "w2" LOGIN' in out.getvalue()
    assert 'ALTER TABLE "anchoring_entry" OWNER TO "portal_owner"' in out.getvalue()


@pytest.fixture
def roles(transactional_db, settings):
    """Granted roles over a committed ledger of 300 entries (a full tile) and a record."""
    settings.LEDGER_SEQUENCER = "off"
    grow_ledger(300)
    with granted_roles() as names:
        yield names


def _refused(conn: psycopg.Connection, sql: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
        conn.execute(sql)
    message = str(info.value)
    # Not the append-only trigger's refusal: the role never gets that far.
    assert "permission denied" in message or "must be owner" in message, (sql, message)


def test_privileges_are_exactly_the_rules_and_neither_runtime_role_owns_a_table(roles):
    assert db_roles.problems(connection, roles) == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s", [db_roles.SCHEMA]
        )
        assert cursor.fetchall() == [(roles.owner,)]
        cursor.execute(
            "SELECT proowner::regrole::text FROM pg_proc WHERE proname = %s",
            ["ledger_refuse_change"],
        )
        assert cursor.fetchall() == [(roles.owner,)]
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE relowner::regrole::text = ANY(%s)",
            [[roles.web, roles.sequencer]],
        )
        assert cursor.fetchone() == (0,)


def test_a_grant_too_broad_is_found_and_taken_back_by_the_next_apply(roles):
    web, seq = db_roles.quote(roles.web), db_roles.quote(roles.sequencer)
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT DELETE ON anchoring_entry TO {web}")
        cursor.execute("GRANT SELECT ON documents_court TO PUBLIC")
        cursor.execute(f"GRANT USAGE ON SEQUENCE anchoring_submission_id_seq TO {seq}")
        cursor.execute(f"GRANT {web} TO {seq}")
    found = db_roles.problems(connection, roles)
    assert f"{roles.web} has DELETE on anchoring_entry, which it must not" in found
    assert f"{roles.sequencer} has SELECT on documents_court.code, which it must not" in found
    assert (
        f"{roles.sequencer} has USAGE on sequence anchoring_submission_id_seq, which it must not"
        in found
    )
    assert f"{roles.sequencer} is a member of {roles.web}" in found
    with pytest.raises(Exception, match="privileges differ"):
        call_command(
            "db_roles",
            "--check",
            owner=roles.owner,
            web=roles.web,
            sequencer=roles.sequencer,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )

    with connection.cursor() as cursor:
        cursor.execute(f"REVOKE {web} FROM {seq}")  # memberships are the operator's
    with connect(roles.owner) as owner:  # as docker/compose.yaml's migrate service does
        for statement in db_roles.statements(roles):
            owner.execute(statement)
    assert db_roles.problems(connection, roles) == []


def test_the_web_role_pools_submissions_and_reads_the_ledger_but_cannot_change_it(roles):
    leaf = content_leaf(b"pooled by the web role").encode()
    with connect(roles.web) as web:
        (pooled,) = web.execute(
            "INSERT INTO anchoring_submission (data, submitted_at) VALUES (%s, now()) RETURNING id",
            [leaf],
        ).fetchone()
        assert web.execute("SELECT count(*) FROM anchoring_entry").fetchone() == (300,)
        assert web.execute("SELECT count(*) FROM anchoring_tile").fetchone() == (1,)
        assert web.execute("SELECT max(tree_size) FROM anchoring_checkpoint").fetchone() == (300,)
        web.execute(
            "INSERT INTO anchoring_alarm (source, subject, message, raised_at, last_seen_at, "
            "count) VALUES ('verification', 'x', 'test', now(), now(), 1)"
        )
        web.execute("UPDATE anchoring_alarm SET resolved_at = now()")
        for sql in WEB_REFUSED:
            _refused(web, sql)
    assert bytes(Submission.objects.get(pk=pooled).data) == leaf
    assert Entry.objects.count() == 300 and Tile.objects.count() == 1
    assert Checkpoint.objects.latest().tree_size == 300


def test_the_sequencer_role_integrates_a_batch_in_a_process_of_its_own(roles, settings):
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang Court")
    leaves = [content_leaf(f"record {i}".encode()).encode() for i in range(3)]
    with connect(roles.web) as web:
        ids = [
            web.execute(
                "INSERT INTO anchoring_submission (data, submitted_at) VALUES (%s, now()) "
                "RETURNING id",
                [data],
            ).fetchone()[0]
            for data in [*leaves, b"\x00 not a leaf"]
        ]
    now = timezone.now()
    record = Record.objects.create(
        code=secrets.token_hex(8).upper(),
        court=court,
        category=Record.Category.LITIGATION_DOCUMENT,
        title="民事判决书",
        sha256="0" * 64,
        sm3="0" * 64,
        metadata_salt=b"\x00" * 16,
        recorded_at=now,
        submission=ids[0],
    )
    event = ServiceEvent.objects.create(
        record=record,
        event=ServiceEvent.Event.ISSUED,
        details_salt=b"\x00" * 16,
        occurred_at=now,
        recorded_at=now,
        submission=ids[1],
    )

    done = subprocess.run(
        [sys.executable, "manage.py", "sequencer", "--once"],
        env=environment(DATABASE_URL=database_url(roles.sequencer), LEDGER_SEQUENCER="off"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "integrated 3 entries" in done.stdout
    assert not Submission.objects.exists()  # the malformed one is dropped, with an alarm
    assert Alarm.objects.get(source=Alarm.Source.SEQUENCER).subject == f"submission {ids[3]}"
    added = dict(Entry.objects.filter(index__gte=300).values_list("submission", "index"))
    assert sorted(added) == ids[:3]
    record.refresh_from_db()
    event.refresh_from_db()
    assert (record.ledger_index, event.ledger_index) == (added[ids[0]], added[ids[1]])
    cp = open_checkpoint(Checkpoint.objects.latest().note, keys.verifier())
    assert cp.size == 303
    # What it wrote reproduces its signed head: the next batch (this process's) builds on it.
    Submission.objects.create(data=content_leaf(b"after the sequencer role").encode())
    assert sequencer.integrate() == 1

    with connect(roles.sequencer) as seq:
        for sql in SEQUENCER_REFUSED:
            _refused(seq, sql)


def test_only_the_owner_can_disable_the_append_only_triggers(roles):
    disable = "ALTER TABLE anchoring_entry DISABLE TRIGGER anchoring_entry_append_only"
    for role in (roles.web, roles.sequencer):
        with connect(role) as conn:
            _refused(conn, disable)
    with connect(roles.owner) as owner, owner.transaction(force_rollback=True):
        owner.execute(disable)


def test_tables_made_by_later_migrations_get_the_default_rule(roles):
    table = f"later_{secrets.token_hex(4)}"
    with connect(roles.owner) as owner:
        owner.execute(
            f"CREATE TABLE {table} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "note text)"
        )
        try:
            with connect(roles.web) as web:
                web.execute(f"INSERT INTO {table} (note) VALUES ('x') RETURNING id")
                web.execute(f"UPDATE {table} SET note = 'y'")
                assert web.execute(f"SELECT note FROM {table}").fetchall() == [("y",)]
            with connect(roles.sequencer) as seq:
                _refused(seq, f"SELECT * FROM {table}")
        finally:
            owner.execute(f"DROP TABLE {table}")


def test_the_compose_file_gives_each_process_its_role_and_the_key_to_the_sequencer_only():
    docker = ROOT / "docker"
    services = yaml.safe_load((docker / "compose.yaml").read_text())["services"]
    portal = {name: s for name, s in services.items() if s.get("image") == "judicial-portal"}
    roles = {name: s["environment"]["DATABASE_URL_FILE"] for name, s in portal.items()}
    secrets = {name: set(s["secrets"]) for name, s in portal.items()}
    keys_mounted = [n for n, s in portal.items() if any("/keys" in v for v in s.get("volumes", []))]
    example = (docker / "portal.env.example").read_text().splitlines()

    assert roles.pop("migrate") == "/run/secrets/database_url_owner"
    assert roles.pop("sequencer") == "/run/secrets/database_url_sequencer"
    assert set(roles.values()) == {"/run/secrets/database_url_web"}
    assert secrets.pop("migrate") == {"database_url_owner", "secret_key"}
    assert secrets.pop("sequencer") == {"database_url_sequencer", "secret_key"}
    assert all(given == {"database_url_web", "secret_key"} for given in secrets.values())
    assert portal["migrate"]["command"][-1].endswith("manage.py db_roles --apply")
    assert portal["sequencer"]["command"] == ["python", "manage.py", "sequencer"]
    assert keys_mounted == ["sequencer"]
    assert all(
        s["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        for n, s in portal.items()
        if n != "migrate"
    )
    assert "LEDGER_SEQUENCER=off" in example
    assert not [line for line in example if line.startswith("DATABASE_URL")]
