#!/usr/bin/env bash
# Restores a Stadtkarte backup into a fresh PostgreSQL cluster and serves it: the restore drill
# of docs/operations.md, and the way back after losing the database server.
#
#   scripts/restore.sh [options] DUMP
#
#   DUMP               a dump in pg_dump's custom format (pg_dump -Fc)
#   --roles FILE       the roles (pg_dumpall --roles-only) to create first; without it the
#                      script creates stadtkarte_server and stadtkarte_web as scripts/env.sh does
#   --dir DIR          where the new cluster lives (data/, run/, postgresql.log); must not hold
#                      a cluster yet (default: ./restore)
#   --port PORT        the new cluster's port on 127.0.0.1 (default 5440)
#   --database NAME    the database to create (default stadtkarte)
#   --owner ROLE       the role that owns the schemas and runs the migrations (from the roles
#                      file, else created; default stadtkarte)
#   --no-serve         restore and leave the cluster running, without starting the server
#
# Then `stadtkarte serve` runs in the foreground against the restored database (as
# stadtkarte_web, migrations as the owner) until it is stopped (Ctrl-C, SIGTERM); the cluster is
# stopped with it. Everything else the server needs comes from its configuration and the
# STADTKARTE_* variables as usual (e.g. STADTKARTE_SERVER__LISTEN). The binary is `stadtkarte`
# from PATH unless STADTKARTE_BIN names another. PostgreSQL's programs come from PGBIN (default
# /usr/lib/postgresql/15/bin); as root, the cluster runs as the postgres user. The new cluster's
# superuser is stadtkarte_restore (a name no roles file holds, so the file cannot take its
# rights away); every role may log in from 127.0.0.1 without a password (trust): set passwords
# and pg_hba.conf before anyone else can reach the machine.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DIR=./restore
PORT=5440
DB=stadtkarte
OWNER=stadtkarte
ADMIN=stadtkarte_restore
ROLES=
SERVE=1
DUMP=

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --roles) ROLES=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --database) DB=$2; shift 2 ;;
    --owner) OWNER=$2; shift 2 ;;
    --no-serve) SERVE=; shift ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) DUMP=$1; shift ;;
  esac
done
[ -n "$DUMP" ] || usage
[ -r "$DUMP" ] || { echo "cannot read the dump $DUMP" >&2; exit 1; }
[ -z "$ROLES" ] || [ -r "$ROLES" ] || { echo "cannot read the roles file $ROLES" >&2; exit 1; }
BIN=${STADTKARTE_BIN:-$(command -v stadtkarte || true)}
[ -n "$SERVE" ] && [ ! -x "$BIN" ] && { echo "stadtkarte not found: put it on PATH or set STADTKARTE_BIN" >&2; exit 1; }

say() { printf '==> %s\n' "$*" >&2; }
# PostgreSQL refuses to run as root: as root, the cluster belongs to postgres.
pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_admin() { "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U "$ADMIN" -X -q "$@"; }

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
DATA=$DIR/data
[ ! -e "$DATA/PG_VERSION" ] || { echo "$DATA already holds a cluster" >&2; exit 1; }
[ "$(id -u)" -ne 0 ] || chown postgres:postgres "$DIR"

say "Creating a fresh cluster in $DATA (port $PORT)"
pg mkdir -p "$DIR/run"
pg "$PGBIN/initdb" -D "$DATA" -U "$ADMIN" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat <<CONF | pg tee -a "$DATA/postgresql.conf" >/dev/null
# Restored by scripts/restore.sh
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR/run'
CONF
pg "$PGBIN/pg_ctl" -D "$DATA" -l "$DIR/postgresql.log" -w -t 60 start >/dev/null

stop_cluster() { pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true; }
trap stop_cluster EXIT

if [ -n "$ROLES" ]; then
  say "Creating the roles of $ROLES"
  psql_admin -d postgres -f "$ROLES" >&2
fi
say "Creating the owner and the server's roles where missing"
psql_admin -d postgres -v ON_ERROR_STOP=1 -v owner="$OWNER" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stadtkarte_server') THEN
        CREATE ROLE stadtkarte_server NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stadtkarte_web') THEN
        CREATE ROLE stadtkarte_web LOGIN IN ROLE stadtkarte_server;
    END IF;
END $$;
SQL

say "Restoring $DUMP into the database $DB"
"$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$ADMIN" -O "$OWNER" "$DB"
"$PGBIN/pg_restore" -h 127.0.0.1 -p "$PORT" -U "$ADMIN" -d "$DB" --exit-on-error --jobs=2 "$DUMP"
psql_admin -d "$DB" -c "ANALYZE"
TABLES=$(psql_admin -d "$DB" -At -c "SELECT count(*) FROM catalog.collections")
MIGRATION=$(psql_admin -d "$DB" -At -c "SELECT max(version) FROM public.stadtkarte_migrations")
say "Restored: $TABLES collections, schema version $MIGRATION"

if [ -z "$SERVE" ]; then
  trap - EXIT
  echo "postgresql://$OWNER@127.0.0.1:$PORT/$DB"
  exit 0
fi

say "Serving the restored database (stop with Ctrl-C)"
export STADTKARTE_DATABASE__URL="postgresql://stadtkarte_web@127.0.0.1:$PORT/$DB"
export STADTKARTE_DATABASE__MIGRATION_URL="postgresql://$OWNER@127.0.0.1:$PORT/$DB"
"$BIN" serve &
SERVER=$!
stop_all() {
  trap - EXIT INT TERM
  kill -TERM "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  stop_cluster
}
trap stop_all EXIT INT TERM
wait "$SERVER" || true
