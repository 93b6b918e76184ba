#!/bin/sh
# SQLite sink: a batch whose COMMIT fails is retried without losing or repeating
# anything.  A trigger on sluice_offsets makes every COMMIT attempt fail (after the
# rows were inserted and the bad one rejected) until the test drops it once sluice has
# logged two retries; then the batch commits:
#  - the rejected row is in store.dlq exactly once (rejects are reported after COMMIT);
#  - every good row is in the table exactly once;
#  - when the table did not exist, the failed transaction's CREATE TABLE was rolled
#    back with it: the retry creates it again instead of failing on "no such table"
#    forever.
. "$(dirname "$0")/lib.sh"
printf '{"id": 1, "n": 1}\n{"id": 2, "n": "x4"}\n{"id": 3, "n": 3}\n' > "$WORK/in.jsonl"

run_case() {   # run_case NAME TABLE-SQL
  d=$WORK/$1
  mkdir -p "$d"
  sqlite3 "$d/db.sqlite" "PRAGMA journal_mode=WAL; $2
    CREATE TABLE sluice_offsets (grp TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,
      next_offset INTEGER NOT NULL, PRIMARY KEY (grp, topic, part));
    CREATE TRIGGER fail_commit BEFORE INSERT ON sluice_offsets BEGIN SELECT RAISE(ABORT, 'forced failure'); END;" >/dev/null
  cat > "$d/p.yaml" <<YAML
data_dir: $d/data
sources:
  in: { file: { path: "$WORK/in.jsonl" }, to: rows }
jobs:
  store:
    from: rows
    to:
      - sqlite: { path: $d/db.sqlite, table: t, key: [id], columns: { id: bigint, n: bigint } }
YAML
  "$SLUICE" run "$d/p.yaml" --once 2>"$d/run.log" &
  pid=$!
  i=0   # two failed attempts, then let the next one through
  while [ "$(grep -c 'forced failure.*retry in' "$d/run.log")" -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  check "$1: the first commits failed and were retried" sh -c "[ \$(grep -c 'forced failure.*retry in' '$d/run.log') -ge 2 ]"
  sqlite3 -cmd ".timeout 10000" "$d/db.sqlite" "DROP TRIGGER fail_commit"
  i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
  check "$1: the batch commits once the fault is gone (run --once ends)" sh -c "! kill -0 $pid 2>/dev/null"
  kill -TERM $pid 2>/dev/null
  wait $pid
  eq "$1: run --once exits 0" "$?" 0
  check "$1: no retry finds its table missing" sh -c "! grep -q 'no such table' '$d/run.log'"
  eq "$1: good rows once" "$(sqlite3 "$d/db.sqlite" 'SELECT id, count(*) FROM t GROUP BY id ORDER BY id' 2>&1 | tr '\n' ' ')" "1|1 3|1 "
  "$SLUICE" tail "$d/p.yaml" store.dlq --from-start > "$d/dlq.jsonl" 2>/dev/null
  eq "$1: the rejected row dead-lettered exactly once" "$(grep -c '"record":{"id":2,' "$d/dlq.jsonl")" 1
  eq "$1: nothing else dead-lettered" "$(wc -l < "$d/dlq.jsonl" | tr -d ' ')" 1
}
run_case existing-table "CREATE TABLE t (id INTEGER, n INTEGER, PRIMARY KEY (id));"
run_case new-table ""
done_tests
