#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised: creates the
# server's two least-privilege login roles with passwords from Docker
# secrets. The server's migrations (migrations/0002_roles.sql) then grant
# them exactly what they need; they find the roles already present and do
# not need CREATEROLE.
set -eu
reader_pw=$(cat /run/secrets/reader-password)
writer_pw=$(cat /run/secrets/writer-password)
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v reader_pw="$reader_pw" -v writer_pw="$writer_pw" <<'SQL'
CREATE ROLE customer_reader LOGIN PASSWORD :'reader_pw' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE customer_writer LOGIN PASSWORD :'writer_pw' NOSUPERUSER NOCREATEDB NOCREATEROLE;
SQL
