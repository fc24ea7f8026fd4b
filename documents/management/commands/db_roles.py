"""Print or apply the grants of the owner, web and sequencer database roles."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from documents import db_roles


class Command(BaseCommand):
    help = (
        "Print (default) or apply the SQL that gives the PostgreSQL roles of the portal "
        "their privileges: the owner owns every table and runs migrate, the web role pools "
        "ledger submissions and reads the ledger, the sequencer's role writes the ledger. "
        "Idempotent; run it after every migrate (docs/operations.md, 'Database roles')."
    )

    def add_arguments(self, parser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--apply", action="store_true", help="run the SQL, then --check")
        action.add_argument(
            "--check",
            action="store_true",
            help="change nothing; list where the privileges differ from the rules (exit 1)",
        )
        parser.add_argument(
            "--login",
            action="store_true",
            help="create missing roles with LOGIN (set their passwords yourself)",
        )
        parser.add_argument(
            "--set-owner",
            action="store_true",
            help="make the owner role own every table and function (needs a superuser)",
        )
        parser.add_argument("--owner", default=settings.DATABASE_OWNER_ROLE)
        parser.add_argument("--web", default=settings.DATABASE_WEB_ROLE)
        parser.add_argument("--sequencer", default=settings.DATABASE_SEQUENCER_ROLE)

    def handle(self, *args, **options) -> None:
        try:
            roles = db_roles.Roles(options["owner"], options["web"], options["sequencer"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        sql = db_roles.statements(roles, login=options["login"], set_owner=options["set_owner"])
        if not (options["apply"] or options["check"]):
            self.stdout.write(db_roles.script(sql, roles), ending="")
            return
        if connection.vendor != "postgresql":
            raise CommandError("database roles are for PostgreSQL; this database is not")
        if options["apply"]:
            with transaction.atomic(), connection.cursor() as cursor:
                for statement in sql:
                    cursor.execute(statement)
            self.stdout.write(f"applied {len(sql)} statements")
        found = db_roles.problems(connection, roles)
        for problem in found:
            self.stderr.write(problem)
        if found:
            raise CommandError(f"{len(found)} privileges differ from the rules")
        self.stdout.write(f"{roles.web} and {roles.sequencer} have exactly their privileges")
