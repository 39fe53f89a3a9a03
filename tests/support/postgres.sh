#!/bin/sh
# A private, throwaway PostgreSQL cluster for tests and fixtures (scenarios/apps/io/pg-noindex.js).
#
#   postgres.sh start DIR   creates the cluster in DIR/data (once), starts it listening only on
#                           a Unix socket in DIR (no TCP), creates the database "harness", and
#                           prints the connection as shell assignments:
#                             PGHOST=DIR PGPORT=5432 PGUSER=postgres PGDATABASE=harness
#                           (eval "$(postgres.sh start DIR)" sets them). Starting a running
#                           cluster only prints them again.
#   postgres.sh stop DIR    stops it (fast shutdown); stopping a stopped cluster is not an error.
#
# Run as root, the server runs as the `postgres` user and DIR is handed to it; run as any other
# user, the server runs as that user. Exits non-zero with a one-line reason when PostgreSQL is
# not installed or the cluster does not come up. PGPORT only names the socket file
# (DIR/.s.PGSQL.PORT); set PGPORT beforehand to run two clusters in one DIR's parent.
set -eu

fail() { echo "postgres.sh: $*" >&2; exit 1; }

[ $# -eq 2 ] || fail "usage: postgres.sh start|stop DIR"
action=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
port=${PGPORT:-5432}
database=harness

# Debian and Ubuntu put the server binaries outside PATH; take the newest version installed.
bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) /usr/local/pgsql/bin; do
  if [ -x "$d/pg_ctl" ]; then bindir=$d; break; fi
done
if [ -z "$bindir" ] && command -v pg_ctl >/dev/null 2>&1; then bindir=$(dirname "$(command -v pg_ctl)"); fi
[ -n "$bindir" ] || fail "PostgreSQL is not installed (no pg_ctl in /usr/lib/postgresql/*/bin or PATH)"

# as_owner CMD...: runs CMD as the cluster's owner (postgres when we are root).
if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  id "$owner" >/dev/null 2>&1 || fail "running as root but there is no 'postgres' user to run the server"
  as_owner() { runuser -u "$owner" -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

data=$dir/data
log=$dir/postgres.log

print_env() {
  echo "PGHOST=$dir"
  echo "PGPORT=$port"
  echo "PGUSER=$owner"
  echo "PGDATABASE=$database"
}

running() { [ -f "$data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

case $action in
start)
  if [ "$(id -u)" -eq 0 ]; then chown "$owner" "$dir"; fi
  as_owner test -w "$dir" || fail "$owner cannot write to $dir (is a parent directory private?)"
  if [ ! -f "$data/PG_VERSION" ]; then
    as_owner "$bindir/initdb" -D "$data" -U "$owner" -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
      fail "initdb failed (see $dir/initdb.log)"
    # Unix socket only, in DIR; fsync off: the data is throwaway and the tests want speed.
    cat >>"$data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  if ! running; then
    as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 30 start >/dev/null 2>&1 ||
      fail "the server did not start (see $log)"
  fi
  if ! as_owner "$bindir/psql" -h "$dir" -p "$port" -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
    as_owner "$bindir/createdb" -h "$dir" -p "$port" "$database" || fail "createdb $database failed"
  fi
  print_env
  ;;
stop)
  if [ -f "$data/PG_VERSION" ] && running; then
    as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 || fail "the server did not stop (see $log)"
  fi
  ;;
*)
  fail "unknown action '$action' (start or stop)"
  ;;
esac
