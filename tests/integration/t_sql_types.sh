#!/bin/sh
# One meaning for a declared column type in every SQL sink: the rows of
# tests/runtime/sql_types.jsonl (each says whether it must be stored or rejected; the
# SQLite sink is held to it by tests/runtime/t_sql_types.sh) into a real PostgreSQL 15
# and a real MariaDB give exactly the same accepted and dead-lettered sets.
#
# MY_DIFF lists rows MariaDB may store or reject otherwise (none since the MariaDB sink
# calls sl_sql_value_fit: it rounded 2.5 into a bigint and refused an ISO time with 'Z').
MY_DIFF=""
. "$(dirname "$0")/../runtime/lib.sh"
. "$(dirname "$0")/lib_pg.sh"
. "$(dirname "$0")/lib_mysql.sh"
pg_start
my_start
trap 'pg_stop; my_stop; cleanup_work' EXIT
ROWS="$ROOT/tests/runtime/sql_types.jsonl"
want_ok=$(grep '"want": "ok"' "$ROWS" | sed 's/.*"id": \([0-9]*\),.*/\1/' | sort -n | tr '\n' ' ')
want_rej=$(grep '"want": "reject"' "$ROWS" | sed 's/.*"id": \([0-9]*\),.*/\1/' | sort -n | tr '\n' ' ')
for db in postgres mysql; do
  dsn='${PG_DSN}'; [ $db = mysql ] && dsn='${MYSQL_DSN}'
  cat > "$WORK/$db.yaml" <<YAML
data_dir: $WORK/data-$db
sources:
  in: { file: { path: "$ROWS" }, to: rows }
jobs:
  store:
    from: rows
    to:
      - $db:
          dsn: "$dsn"
          table: types_t
          key: [id]
          columns: { id: bigint, big: bigint, n: int, f: double, ok: bool, ts: timestamp, s: text }
YAML
  "$SLUICE" run "$WORK/$db.yaml" --once 2>"$WORK/$db.log"
  eq "$db: run --once exits 0" "$?" 0
  if [ $db = postgres ]; then got=$(psql_q 'SELECT id FROM types_t ORDER BY id' | tr '\n' ' ')
  else got=$(my_q 'SELECT id FROM types_t ORDER BY id' | tr '\n' ' '); fi
  "$SLUICE" tail "$WORK/$db.yaml" store.dlq --from-start > "$WORK/$db.dlq" 2>/dev/null
  got_rej=$(sed 's/.*"record":{"id":\([0-9]*\),.*/\1/' "$WORK/$db.dlq" | sort -n | tr '\n' ' ')
  w_ok=$want_ok; w_rej=$want_rej
  if [ $db = mysql ]; then   # the known differences swap sides
    w_ok=$(for i in $want_ok; do echo "$MY_DIFF" | grep -qw "$i" || echo "$i"; done
           for i in $want_rej; do echo "$MY_DIFF" | grep -qw "$i" && echo "$i"; done)
    w_rej=$(for i in $want_rej; do echo "$MY_DIFF" | grep -qw "$i" || echo "$i"; done
            for i in $want_ok; do echo "$MY_DIFF" | grep -qw "$i" && echo "$i"; done)
    w_ok=$(echo "$w_ok" | sort -n | tr '\n' ' '); w_rej=$(echo "$w_rej" | sort -n | tr '\n' ' ')
  fi
  eq "$db: stored rows as in SQLite" "$got" "$w_ok"
  eq "$db: dead-lettered rows as in SQLite" "$got_rej" "$w_rej"
done
[ -n "${KEEP:-}" ] && cp "$WORK"/*.dlq /tmp/ 2>/dev/null
done_tests
