#!/usr/bin/env bash
# Prepares this machine for Stadtkarte: installs the Debian packages that are missing and
# starts a private PostGIS cluster under .local/pg (its own port and socket; a system cluster
# is never touched). Safe to run again: it only does what is not done yet.
#
#   scripts/env.sh            install + start the private cluster, print its URL
#   scripts/env.sh stop       stop the private cluster
#
# Environment: PG_PORT (default 5439).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PORT=${PG_PORT:-5439}
PGBIN=/usr/lib/postgresql/15/bin
PGHOME=$ROOT/.local/pg
PACKAGES=(
  postgresql-15 postgresql-15-postgis-3 postgresql-client-15
  gdal-bin libgdal-dev libproj-dev proj-bin pkg-config
  wrk chromium python3-aiosmtpd haproxy poppler-utils
)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "Installing Debian packages: ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# PostgreSQL refuses to run as root. As root, the cluster belongs to the `postgres` user; if
# that user cannot reach the checkout (e.g. under /root), the data lives in /var/tmp and
# .local/pg links to it.
pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

prepare_dir() {
  mkdir -p "$ROOT/.local"
  if [ "$(id -u)" -ne 0 ]; then
    mkdir -p "$PGHOME"
    return
  fi
  if [ -e "$PGHOME" ] && pg test -w "$PGHOME/"; then
    return
  fi
  if runuser -u postgres -- test -x "$ROOT/.local"; then
    mkdir -p "$PGHOME"
  else
    local target
    target=/var/tmp/stadtkarte-pg-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)
    mkdir -p "$target"
    ln -sfn "$target" "$PGHOME"
  fi
  chown postgres:postgres "$(readlink -f "$PGHOME")"
}

start_cluster() {
  prepare_dir
  local data=$PGHOME/data run=$PGHOME/run
  if [ ! -f "$data/PG_VERSION" ]; then
    say "Creating the private PostGIS cluster in .local/pg (port $PORT)"
    pg mkdir -p "$run"
    pg "$PGBIN/initdb" -D "$data" -U stadtkarte --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat <<CONF | pg tee -a "$data/postgresql.conf" >/dev/null
# Stadtkarte private cluster
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$run'
shared_buffers = 256MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_wal_size = 2GB
CONF
  fi
  if ! pg "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "Starting the private PostGIS cluster on 127.0.0.1:$PORT"
    if ! pg "$PGBIN/pg_ctl" -D "$data" -l "$PGHOME/postgresql.log" -w -t 60 start >/dev/null; then
      echo "PostgreSQL did not start; the end of its log:" >&2
      tail -n 20 "$PGHOME/postgresql.log" >&2
      exit 1
    fi
  fi
  if ! "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U stadtkarte -d postgres -Atqc \
      "SELECT 1 FROM pg_database WHERE datname = 'stadtkarte'" | grep -q 1; then
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U stadtkarte stadtkarte
  fi
  # Least privilege: the server runs as stadtkarte_web, a member of stadtkarte_server (which the
  # migrations grant exactly what is served and what citizens and staff change); the schemas
  # belong to stadtkarte, which runs the migrations and the command-line tools.
  "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U stadtkarte -d postgres -Atq -v ON_ERROR_STOP=1 <<'SQL'
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
}

# Python clients for the tests (OWSLib, openapi-spec-validator) in a private virtualenv.
python_clients() {
  local venv=$ROOT/.local/venv req=$ROOT/scripts/requirements-test.txt
  if [ ! -x "$venv/bin/python" ]; then
    say "Creating the Python environment for the client tests in .local/venv"
    python3 -m venv "$venv"
  fi
  if ! cmp -s "$req" "$venv/.requirements" 2>/dev/null; then
    say "Installing the Python test clients (${req#$ROOT/})"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
    cp "$req" "$venv/.requirements"
  fi
}

# npm packages by their lockfiles: the map app (mapviewer/web: MapLibre GL JS, esbuild; built
# into the binary by mapviewer/build.rs) and the browser test clients (tests/browser:
# MapLibre, playwright-core, axe-core).
browser_clients() {
  command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 (Debian: nodejs npm)" >&2; exit 1; }
  local dir
  for dir in "$ROOT/mapviewer/web" "$ROOT/tests/browser"; do
    if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed" 2>/dev/null; then
      say "Installing npm packages (${dir#$ROOT/}, npm ci)"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
      cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"
    fi
  done
}

stop_cluster() {
  if [ -f "$PGHOME/data/PG_VERSION" ]; then
    pg "$PGBIN/pg_ctl" -D "$PGHOME/data" -m fast stop || true
  fi
}

case "${1:-start}" in
  start)
    install_packages
    start_cluster
    python_clients
    browser_clients
    echo "postgresql://stadtkarte@127.0.0.1:$PORT/stadtkarte"
    ;;
  install) install_packages ;;
  stop) stop_cluster ;;
  *) echo "usage: $0 [start|install|stop]" >&2; exit 2 ;;
esac
