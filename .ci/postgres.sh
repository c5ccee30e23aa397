#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the test suite, on loopback only.
#
#   eval "$(bash .ci/postgres.sh)"      installs PostgreSQL if needed, starts it, and prints
#                                       export SQLML_TEST_PG_URI=... as its last (only) stdout line
#   bash .ci/postgres.sh stop           stops it again
#
# Safe to run again: a server already running in the folder is reused. Role `postgres` is
# trusted on 127.0.0.1; every other role must give its password (the tests check a wrong one).
# Progress goes to stderr. Settings: SQLML_PG_PORT (54329), SQLML_PG_DIR (/tmp/sqlml-ci-postgres).
set -euo pipefail

PORT="${SQLML_PG_PORT:-54329}"
DIR="${SQLML_PG_DIR:-/tmp/sqlml-ci-postgres}"
DATABASE=sqlml_test
DATA="$DIR/data"

say() { echo "postgres.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

find_bin() {
    local initdb
    initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)"
    [ -n "$initdb" ] || initdb="$(command -v initdb || true)"
    [ -n "$initdb" ] && dirname "$initdb"
}

# Server binaries refuse to run as root: run them as the postgres OS user then.
as_server_user() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

BIN="$(find_bin || true)"

if [ "${1:-start}" = stop ]; then
    [ -n "$BIN" ] || die "PostgreSQL is not installed"
    if as_server_user "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        as_server_user "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
    else
        say "no server running in $DATA"
    fi
    exit 0
fi
[ "${1:-start}" = start ] || die "usage: $0 [start|stop]"

if [ -z "$BIN" ]; then
    say "installing postgresql from the Debian packages"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >&2 || die "apt-get update failed"
    $SUDO apt-get install -y -qq postgresql >&2 || die "apt-get install postgresql failed"
    BIN="$(find_bin)" || die "postgresql installed but initdb not found"
fi
say "using $("$BIN/postgres" --version)"

if [ ! -d "$DIR" ]; then
    mkdir -p "$DIR"
    [ "$(id -u)" != 0 ] || chown postgres: "$DIR"
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
    say "creating a cluster in $DATA"
    as_server_user "$BIN/initdb" -D "$DATA" -U postgres -A trust --no-sync >/dev/null \
        || die "initdb failed"
    as_server_user tee "$DATA/pg_hba.conf" >/dev/null <<'HBA'
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
HBA
fi

if as_server_user "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    PORT="$(sed -n 4p "$DATA/postmaster.pid")"  # the port it was started on
    say "server already running in $DATA on port $PORT"
else
    say "starting the server on 127.0.0.1:$PORT"
    as_server_user "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >&2 \
        || { cat "$DIR/server.log" >&2 || true; die "the server did not start (log above)"; }
fi

PSQL=("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
if [ "$("${PSQL[@]}" -d postgres -c "select 1 from pg_database where datname = '$DATABASE'")" != 1 ]; then
    say "creating database $DATABASE"
    "${PSQL[@]}" -d postgres -c "create database $DATABASE" >&2 || die "create database failed"
fi
"${PSQL[@]}" -d "$DATABASE" -c "select 1" >/dev/null || die "cannot connect to $DATABASE"

echo "export SQLML_TEST_PG_URI=postgresql://postgres@127.0.0.1:$PORT/$DATABASE"
