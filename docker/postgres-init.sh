#!/bin/sh
# Run by the postgres image once, when it initialises an empty data directory: the
# portal's three login roles, with the passwords of their secrets, and the database given
# to the owner, which then runs migrate and `manage.py db_roles --apply` (the migrate
# service of compose.yaml). The names are DATABASE_OWNER_ROLE, DATABASE_WEB_ROLE and
# DATABASE_SEQUENCER_ROLE's defaults; change them here and in portal.env together.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner_password="$(cat /run/secrets/db_owner_password)" \
    -v web_password="$(cat /run/secrets/db_web_password)" \
    -v sequencer_password="$(cat /run/secrets/db_sequencer_password)" <<'SQL'
CREATE ROLE portal_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE portal_web LOGIN PASSWORD :'web_password';
CREATE ROLE portal_sequencer LOGIN PASSWORD :'sequencer_password';
-- The database's owner owns its public schema (PostgreSQL 15 and later), so it may
-- create the tables; the runtime roles get only what db_roles grants them.
ALTER DATABASE :"DBNAME" OWNER TO portal_owner;
SQL
