# lib_mysql.sh - start a throwaway MariaDB on 127.0.0.1 (random free port, data in a
# temp dir), stopped by PID at exit (sourced after lib.sh: uses $WORK).
#   my_start            -> sets MY_PORT, MY_DIR, MYSQL_DSN (exported), MY_PID
#   my_stop / my_restart / my_crash (SIGKILL of mariadbd, then a start: InnoDB recovery)
#   my_q "SQL"          -> tab-separated rows without headers
# Skips (exit 0 with "0 passed, 0 failed") when MariaDB is not installed.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
my_start() {
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    echo "skip: MariaDB is not installed (mariadbd)"; echo "0 passed, 0 failed"; exit 0
  fi
  MY_DIR=$(mktemp -d /tmp/sluice-my.XXXXXX)
  MY_PORT=$(free_port)
  mariadb-install-db --datadir="$MY_DIR/data" --user="$(id -un)" --auth-root-authentication-method=normal \
    --skip-test-db >"$WORK/install-db.log" 2>&1 ||
    { echo "FAIL mariadb-install-db: $(tail -3 "$WORK/install-db.log")"; echo "0 passed, 1 failed"; exit 1; }
  my_up
  export MYSQL_DSN="mysql://root@127.0.0.1:$MY_PORT/sluice_test"
  trap 'my_stop; cleanup_work' EXIT
}
my_up() {
  /usr/sbin/mariadbd --no-defaults --datadir="$MY_DIR/data" --socket="$MY_DIR/s" --port="$MY_PORT" \
    --bind-address=127.0.0.1 --user="$(id -un)" --pid-file="$MY_DIR/pid" --log-error="$MY_DIR/err.log" \
    --innodb-flush-log-at-trx-commit=2 --skip-log-bin --max-allowed-packet=64M 2>>"$MY_DIR/stderr.log" &
  MY_PID=$!
  _my_i=0
  while [ $_my_i -lt 300 ]; do
    mariadb --no-defaults -S "$MY_DIR/s" -uroot -e 'select 1' >/dev/null 2>&1 && return 0
    sleep 0.1; _my_i=$((_my_i + 1))
  done
  echo "FAIL mariadbd did not start: $(tail -3 "$MY_DIR/err.log")"
}
my_down() {
  kill -TERM "$MY_PID" 2>/dev/null   # SIGTERM = normal shutdown
  _my_i=0; while kill -0 "$MY_PID" 2>/dev/null && [ $_my_i -lt 300 ]; do sleep 0.1; _my_i=$((_my_i + 1)); done
  wait "$MY_PID" 2>/dev/null
}
my_stop() {
  [ -n "${MY_PID:-}" ] || return 0
  my_down
  MY_PID=""
  [ -n "${KEEP:-}" ] || rm -rf "$MY_DIR"
}
# a real server restart (connections are cut), keeping the data
my_restart() { my_down; my_up; }
# a crash of the server: SIGKILL, then a start (committed transactions survive:
# the redo log is written at each commit, innodb_flush_log_at_trx_commit=2)
my_crash() { kill -KILL "$MY_PID" 2>/dev/null; wait "$MY_PID" 2>/dev/null; my_up; }
my_q() { mariadb --no-defaults --default-character-set=utf8mb4 -S "$MY_DIR/s" -uroot -N -B -e "$1" "${2:-sluice_test}"; }
