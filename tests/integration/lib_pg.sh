# lib_pg.sh - start a throwaway PostgreSQL 15 on 127.0.0.1 (random free port, data in a
# temp dir, fsync off), stopped by PID at exit (sourced after lib.sh: uses $WORK).
#   pg_start            -> sets PG_PORT, PG_DIR, PG_DSN (exported), PG_PID
#   pg_stop / pg_restart / pg_crash (immediate stop: no checkpoint, WAL recovery on start)
#   psql_q "SQL"        -> unaligned, tuples-only output
# Skips (exit 0 with "0 passed, 0 failed") when PostgreSQL 15 is not installed.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
pg_start() {
  if [ ! -x "$PG_BIN/initdb" ]; then
    echo "skip: PostgreSQL 15 is not installed ($PG_BIN/initdb)"; echo "0 passed, 0 failed"; exit 0
  fi
  PG_DIR=$(mktemp -d /tmp/sluice-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  PG_PORT=$(free_port)
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$PG_DIR"; PG_AS="runuser -u postgres --"
  else
    PG_AS=""
  fi
  $PG_AS "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync >"$WORK/initdb.log" 2>&1 ||
    { echo "FAIL initdb: $(tail -3 "$WORK/initdb.log")"; echo "0 passed, 1 failed"; exit 1; }
  pg_up
  export PG_DSN="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
  trap 'pg_stop; cleanup_work' EXIT
}
pg_up() {
  $PG_AS "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -l "$PG_DIR/log" \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1 ||
    { echo "FAIL pg_ctl start: $(tail -3 "$PG_DIR/log")"; }
  PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null)
}
pg_stop() {
  [ -n "${PG_PID:-}" ] || return 0
  # the postmaster by PID: SIGINT = fast shutdown
  kill -INT "$PG_PID" 2>/dev/null
  _pg_i=0; while kill -0 "$PG_PID" 2>/dev/null && [ $_pg_i -lt 100 ]; do sleep 0.1; _pg_i=$((_pg_i + 1)); done
  PG_PID=""
  [ -n "${KEEP:-}" ] || rm -rf "$PG_DIR"
}
# a real server restart (connections are cut), keeping the data
pg_restart() {
  kill -INT "$PG_PID" 2>/dev/null
  _pg_i=0; while kill -0 "$PG_PID" 2>/dev/null && [ $_pg_i -lt 100 ]; do sleep 0.1; _pg_i=$((_pg_i + 1)); done
  pg_up
}
# a crash of the server (SIGQUIT to the postmaster: every backend exits at once, no
# checkpoint; the next start recovers from the WAL), then a start, keeping the data
pg_crash() {
  $PG_AS "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
  _pg_i=0; while kill -0 "$PG_PID" 2>/dev/null && [ $_pg_i -lt 100 ]; do sleep 0.1; _pg_i=$((_pg_i + 1)); done
  pg_up
}
psql_q() { psql -X -q -A -t -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$1"; }
