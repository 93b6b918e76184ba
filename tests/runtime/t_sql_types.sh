#!/bin/sh
# One meaning for a declared column type in every SQL sink: the rows of sql_types.jsonl
# (each says whether it must be stored or rejected) into SQLite give exactly the
# accepted and dead-lettered sets that PostgreSQL and MariaDB give
# (tests/integration/t_sql_types.sh runs the same rows there): "x4", 2.5, 1e20 and a
# 30-digit integer in a bigint column, 2^31 in an int column, "abc" in a double column
# are rejected rows with their reason; "42" and 5.0 in a bigint column are stored as
# the integers; a 30-digit integer in a double column is the nearest double.
. "$(dirname "$0")/lib.sh"
ROWS="$ROOT/tests/runtime/sql_types.jsonl"
cat > "$WORK/p.yaml" <<YAML
data_dir: $WORK/data
sources:
  in: { file: { path: "$ROWS" }, to: rows }
jobs:
  store:
    from: rows
    to:
      - sqlite:
          path: $WORK/db.sqlite
          table: t
          key: [id]
          columns: { id: bigint, big: bigint, n: int, f: double, ok: bool, ts: timestamp, s: text }
YAML
"$SLUICE" run "$WORK/p.yaml" --once 2>"$WORK/run.log"
eq "run --once exits 0" "$?" 0
want_ok=$(grep '"want": "ok"' "$ROWS" | sed 's/.*"id": \([0-9]*\),.*/\1/' | sort -n | tr '\n' ' ')
want_rej=$(grep '"want": "reject"' "$ROWS" | sed 's/.*"id": \([0-9]*\),.*/\1/' | sort -n | tr '\n' ' ')
eq "stored rows" "$(sqlite3 "$WORK/db.sqlite" 'SELECT id FROM t ORDER BY id' | tr '\n' ' ')" "$want_ok"
"$SLUICE" tail "$WORK/p.yaml" store.dlq --from-start > "$WORK/dlq.jsonl" 2>/dev/null
got_rej=$(sed 's/.*"record":{"id":\([0-9]*\),.*/\1/' "$WORK/dlq.jsonl" | sort -n | tr '\n' ' ')
eq "dead-lettered rows" "$got_rej" "$want_rej"
reason() { grep "\"record\":{\"id\":$1," "$WORK/dlq.jsonl" | sed 's/.*"error":"\([^"]*\)".*/\1/'; }
eq "reason: x4" "$(reason 2)" "column 'big': 'x4' is not an integer (bigint)"
eq "reason: 1e20" "$(reason 3)" "column 'big': 1e+20 is out of range for bigint (a JSON integer of more than 19 digits is read as a float)"
eq "reason: 30 digits" "$(reason 4)" "column 'big': 1.2345678901234568e+29 is out of range for bigint (a JSON integer of more than 19 digits is read as a float)"
eq "reason: 2.5" "$(reason 6)" "column 'big': 2.5 is not an integer (bigint)"
eq "reason: 2^31 in int" "$(reason 11)" "column 'n': 2147483648 is out of range for int"
eq "reason: abc" "$(reason 14)" "column 'f': 'abc' is not a number (float)"
eq "stored as integers: \"42\", 5.0, \" -7 \"" \
  "$(sqlite3 "$WORK/db.sqlite" "SELECT typeof(big) || ':' || big FROM t WHERE id IN (5, 7) UNION ALL SELECT typeof(n) || ':' || n FROM t WHERE id = 25" | tr '\n' ' ')" \
  "integer:42 integer:5 integer:-7 "
eq "30 digits in a double column: the nearest double; in a text column: its JSON text" \
  "$(sqlite3 "$WORK/db.sqlite" "SELECT typeof(f) || ':' || (f = 123456789012345678901234567890.0) FROM t WHERE id = 16 UNION ALL SELECT typeof(s) || ':' || s FROM t WHERE id = 22" | tr '\n' ' ')" \
  "real:1 text:1.2345678901234568e+29 "
eq "a numeric string in a double column is stored as a number" "$(sqlite3 "$WORK/db.sqlite" "SELECT typeof(f) || ':' || f FROM t WHERE id = 15")" "real:2.5"
done_tests
