#!/usr/bin/env bash
# Installs (apt, as root) and starts what the tests need beyond the project's own venv: Redis
# (the Celery broker of the integration tests) and Chromium (the browser tests), on loopback,
# in throwaway folders under $SERVICES_DIR. The database is the embedded PostgreSQL
# (config/embedded_postgres.py), which needs nothing from apt.
#
# --postgres also installs and starts a plain PostgreSQL server from apt (CI runs the
# integration tests once against it, so a server that is not ours is covered too).
# Prints the export lines for the URLs.
set -euo pipefail
SERVICES_DIR=${SERVICES_DIR:-/tmp/stickersim-services}
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}
with_pg=0
[ "${1:-}" = "--postgres" ] && with_pg=1

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium >/dev/null || need+=(chromium)
if [ $with_pg = 1 ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing ${need[*]}: install them with apt (needs root)" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need[@]}" >&2
fi

mkdir -p "$SERVICES_DIR"
if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --logfile "$SERVICES_DIR/redis.log"
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"

if [ $with_pg = 1 ]; then
  PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
  PGDATA="$SERVICES_DIR/pg"
  as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
  if ! as_pg "$PGBIN/pg_isready -h 127.0.0.1 -p $PG_PORT -q"; then
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
      mkdir -p "$PGDATA"; [ "$(id -u)" = 0 ] && chown -R postgres "$SERVICES_DIR"
      as_pg "$PGBIN/initdb -D $PGDATA -U postgres --auth=trust -E UTF8 >/dev/null"
    fi
    as_pg "$PGBIN/pg_ctl -D $PGDATA -l $SERVICES_DIR/pg.log -w \
      -o '-p $PG_PORT -k $SERVICES_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off' start >/dev/null"
  fi
  echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/stickersim"
fi
