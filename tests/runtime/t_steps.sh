#!/bin/sh
# The steps explode, dedup, validate and window in a whole pipeline: file source ->
# explode -> set -> dedup -> validate -> window -> SQLite (upsert by key, window_start)
# + JSONL file.  Then the same input in two halves with a restart in between must
# leave the same window rows (window and dedup state restored from the journal), and
# the job's dead-letter topic must hold exactly the failed records.  Also `sluice
# check`/`sluice test` on pipelines/examples/steps.yaml and on a test file here.
. "$(dirname "$0")/lib.sh"

# 10 orders; times are 2024-01-01T00:MM:SSZ (window_start 1704067200000 = 00:00:00)
cat > "$WORK/all.jsonl" <<'JSON'
{"id":"o1","at":"2024-01-01T00:00:10Z","lines":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}
{"id":"o2","at":"2024-01-01T00:00:20Z","lines":[{"sku":"a","qty":3}]}
{"id":"o1","at":"2024-01-01T00:00:30Z","lines":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}
{"id":"o3","at":"2024-01-01T00:00:40Z","lines":"none"}
{"id":"o4","at":"2024-01-01T00:00:50Z","lines":[{"sku":"c","qty":"x"}]}
{"id":"o5","at":"2024-01-01T00:00:55Z","lines":[{"sku":"a","qty":4}]}
{"id":"o6","at":"2024-01-01T00:01:10Z","lines":[{"sku":"b","qty":5}]}
{"id":"o2","at":"2024-01-01T00:01:20Z","lines":[{"sku":"a","qty":3}]}
{"id":"o7","at":"2024-01-01T00:00:05Z","lines":[{"sku":"a","qty":9}]}
{"id":"o8","at":"2024-01-01T00:02:30Z","lines":[{"sku":"a","qty":1}]}
JSON
# o1 again: both lines are repeats (dedup); o3: not an array (explode); o4: qty not an
# int (validate); o2 again at 00:01:20: a repeat (across the restart in run B);
# o7: late for [00:00, 00:01) (window)

pipeline() {  # pipeline DIR: the pipeline file of a run in DIR
  cat > "$1/p.yaml" <<YAML
data_dir: $1/data
sources:
  orders:
    file: { path: $1/in.jsonl }
    key: id
    ts: parse_time(at)
    to: orders
jobs:
  sales:
    from: orders
    steps:
      - explode: { path: lines, as: line }
      - set: { sku: line.sku, qty: line.qty }
      - drop: [lines, line]
      - dedup: { key: "[id, sku]", within: 1d }
      - validate: { fields: { sku: string, qty: int, at: time }, required: [sku, qty] }
      - window:
          key: sku
          size: 1m
          emit: { orders: count(), qty: sum(qty), biggest: max(qty), first_order: first(id) }
    to:
      - sqlite: { path: $1/out.db, table: sales, key: [key, window_start] }
      - file: { path: $1/out.jsonl }
YAML
}

rows() {  # the window rows of a run, sorted
  sq "$1/out.db" "select key || ' ' || window_start || ' ' || window_end || ' ' || orders || ' ' || qty || ' ' || biggest || ' ' || first_order from sales order by window_start, key" | tr '\n' ';'
}

WANT='a 1704067200000 1704067260000 3 8 4 o1;b 1704067200000 1704067260000 1 2 2 o1;b 1704067260000 1704067320000 1 5 5 o6;a 1704067320000 1704067380000 1 1 1 o8;'

# ---- run A: everything at once
A=$WORK/a; mkdir -p "$A"; cp "$WORK/all.jsonl" "$A/in.jsonl"; pipeline "$A"
"$SLUICE" check "$A/p.yaml"; eq "check passes" "$?" 0
"$SLUICE" run --once "$A/p.yaml" --log-level error; eq "run A exits 0" "$?" 0
eq "run A: window rows" "$(rows "$A")" "$WANT"
eq "run A: the file sink got each window once, in window order" \
  "$(python3 -c 'import json,sys; print(" ".join("%s@%d=%d" % (r["key"], r["window_start"] % 3600000 // 60000, r["qty"]) for r in map(json.loads, open(sys.argv[1]))))' "$A/out.jsonl")" \
  "a@0=8 b@0=2 b@1=5 a@2=1"

# ---- run B: the first half, run --once, append the second half, run --once again
B=$WORK/b; mkdir -p "$B"; head -n 5 "$WORK/all.jsonl" > "$B/in.jsonl"; pipeline "$B"
"$SLUICE" run --once "$B/p.yaml" --log-level error; eq "run B1 exits 0" "$?" 0
eq "run B1: the open windows were flushed" "$(rows "$B")" \
  'a 1704067200000 1704067260000 2 4 3 o1;b 1704067200000 1704067260000 1 2 2 o1;'
tail -n 5 "$WORK/all.jsonl" >> "$B/in.jsonl"
"$SLUICE" run --once "$B/p.yaml" --log-level error; eq "run B2 exits 0" "$?" 0
eq "run B (restart in the middle): same window rows as run A" "$(rows "$B")" "$WANT"
eq "run B: no window for the repeat o2 across the restart (dedup state kept)" \
  "$(sq "$B/out.db" "select count(*) from sales where key = 'a' and window_start = 1704067260000")" 0

# ---- the dead-letter topics hold exactly the failed records
for R in A B; do
  eval D=\$$R
  "$SLUICE" tail "$D/p.yaml" sales.dlq --from-start > "$D/dlq.jsonl"
  python3 - "$D/dlq.jsonl" <<'PY'
import json, sys
rows = [json.loads(l)["value"] for l in open(sys.argv[1])]
got = sorted((r["step"], r["record"]["id"]) for r in rows)
assert got == [("explode", "o3"), ("validate", "o4"), ("window", "o7")], got
by = {r["record"]["id"]: r for r in rows}
assert "not an array" in by["o3"]["error"], by["o3"]
assert by["o4"]["error"] == "validate: field 'qty' must be int, got string", by["o4"]
assert by["o7"]["error"].startswith("late record: window [2024-01-01T00:00:00.000Z, 2024-01-01T00:01:00.000Z) already closed"), by["o7"]
assert by["o4"]["record"]["lines"] == [{"sku": "c", "qty": "x"}], by["o4"]   # the original record
for r in rows:
    assert r["topic"] == "orders", r
PY
  eq "run $R: the dead-letter topic has exactly the 3 failed records, with reasons" "$?" 0
done

# ---- a third run reads nothing new and changes nothing
"$SLUICE" run --once "$B/p.yaml" --log-level error; eq "run B3 exits 0" "$?" 0
eq "run B3: rows unchanged" "$(rows "$B")" "$WANT"
"$SLUICE" tail "$B/p.yaml" sales.dlq --from-start > "$B/dlq3.jsonl"
eq "run B3: no new dead letters" "$(wc -l < "$B/dlq3.jsonl" | tr -d ' ')" 3

# ---- config errors name FILE:LINE:COL inside the emit string
sed 's/qty: sum(qty)/qty: summ(qty)/' "$A/p.yaml" > "$WORK/bad.yaml"
out=$("$SLUICE" check "$WORK/bad.yaml" 2>&1); rc=$?
check "check rejects an unknown aggregate" [ "$rc" -ne 0 ]
line=$(grep -n 'summ(qty)' "$WORK/bad.yaml" | cut -d: -f1)
col=$(($(sed -n "${line}p" "$WORK/bad.yaml" | awk '{ print index($0, "summ(") }')))
printf '%s\n' "$out" | grep -q "bad.yaml:$line:$col: error: .*unknown aggregate 'summ' (did you mean 'sum'?)"
eq "the error points at the aggregate ($line:$col) and suggests sum" "$?" 0

# ---- sluice check / sluice test on the examples, and a test file using these steps
"$SLUICE" check "$ROOT/pipelines/examples/steps.yaml"; eq "examples/steps.yaml: check passes" "$?" 0
out=$("$SLUICE" test "$ROOT/pipelines/examples/steps.yaml"); rc=$?
eq "examples/steps.yaml: tests pass" "$rc" 0
eq "examples/steps.yaml: 4 tests" "$(printf '%s\n' "$out" | tail -n 1)" "4 passed, 0 failed"

cat > "$WORK/t.yaml" <<'YAML'
jobs:
  flat:
    from: raw
    steps:
      - explode: items
      - validate: { fields: { v: number }, required: [name] }
      - dedup: { key: name }
      - window: { time: t, size: 10s, slide: 5s, emit: { n: count(), total: sum(v), names: count(name) } }
    to:
      - stdout: {}
tests:
  - name: the four steps in a row
    job: flat
    input:
      - { items: [ { name: x, v: 1, t: 1000 }, { name: y, v: 2, t: 6000 } ] }
      - { items: [ { name: x, v: 5, t: 7000 }, { v: 3, t: 7000 }, { name: z, v: "3", t: 7000 } ] }
      - { items: 42 }
      - { items: [ { name: w, v: 4, t: 14000 } ] }
    expect:
      - { window_start: -5000, window_end: 5000, n: 1, total: 1 }
      - { window_start: 0, window_end: 10000, n: 2, total: 3 }
      - { window_start: 5000, window_end: 15000, n: 2, total: 6, names: 2 }
      - { window_start: 10000, window_end: 20000, n: 1, total: 4 }
    expect_dlq:
      - { step: explode, error: "explode: 'items' gave int, not an array" }
      - { step: validate, error: "validate: field 'name' is required, missing", record: { items: [ {}, {}, {} ] } }
      - { step: validate, error: "validate: field 'v' must be number, got string" }
YAML
out=$("$SLUICE" test "$WORK/t.yaml" 2>"$WORK/t.err"); rc=$?
eq "sluice test with explode/validate/dedup/window: passes" "$rc" 0
eq "sluice test summary" "$(printf '%s\n' "$out" | tail -n 1)" "1 passed, 0 failed"
[ "$rc" -eq 0 ] || cat "$WORK/t.err"
# a wrong expectation fails
sed 's/n: 2, total: 6, names: 2/n: 2, total: 7, names: 2/' "$WORK/t.yaml" > "$WORK/t2.yaml"
"$SLUICE" test "$WORK/t2.yaml" > /dev/null 2>&1; eq "a wrong window expectation fails" "$?" 1
done_tests
