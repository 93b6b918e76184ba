#!/bin/sh
# Crash safety (issue 2): 200,000 generated records -> a 4-partition topic -> a job ->
# SQLite in append mode (no key, so a repeat would show as an extra row), killed with
# SIGKILL at 10 random moments and restarted each time.  At the end the topic holds
# exactly 200,000 records, the table exactly 200,000 rows, each id once, and fsck is
# clean.
. "$(dirname "$0")/lib.sh"
N=${CRASH_RECORDS:-200000}
cat > "$WORK/p.yaml" <<YAML
data_dir: $WORK/data
topics:
  events: { partitions: 4 }
sources:
  gen:
    generate: { count: $N, chunk: 2000, rate: 40000,
                template: { id: "meta.seq", name: "'coin-' + string(meta.seq % 97)", price: "meta.seq * 0.25" } }
    key: "string(id)"
    to: events
jobs:
  store:
    from: events
    max_batch: 3000
    steps:
      - set: { price_x2: "price * 2" }
    to:
      - sqlite: { path: $WORK/out.db, table: rows,
                  columns: { id: bigint, name: text, price: double, price_x2: double } }
YAML
i=0
while [ $i -lt 10 ]; do
  "$SLUICE" run "$WORK/p.yaml" --log-level error 2>>"$WORK/log" &
  pid=$!
  # a random moment between 0.02 s and 0.42 s (the run takes about 5 s at 40k records/s)
  sleep "$(awk -v s="$(od -An -N2 -tu2 /dev/urandom)" 'BEGIN { printf "%.2f", 0.02 + (s % 41) / 100 }')"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  i=$((i + 1))
  # how far it got: rows in the table when it died
  [ -f "$WORK/out.db" ] && printf '%s ' "$(sq "$WORK/out.db" 'select count(*) from rows' 2>/dev/null)" >> "$WORK/progress"
done
echo "rows after each kill: $(cat "$WORK/progress" 2>/dev/null)"
last=$(awk '{ print $NF }' "$WORK/progress" 2>/dev/null)
check "the kills happened mid-stream (not after the end)" [ "${last:-0}" -lt "$N" ]
"$SLUICE" run --once "$WORK/p.yaml" --log-level warn 2>>"$WORK/log"
eq "final run exits 0" "$?" 0
rows=$(sq "$WORK/out.db" "select count(*) from rows")
eq "table holds exactly $N rows" "$rows" "$N"
distinct=$(sq "$WORK/out.db" "select count(distinct id) from rows")
eq "each id exactly once" "$distinct" "$N"
range=$(sq "$WORK/out.db" "select min(id) || '-' || max(id) from rows")
eq "ids 0..N-1" "$range" "0-$((N - 1))"
bad=$(sq "$WORK/out.db" "select count(*) from rows where price_x2 != price * 2")
eq "every row transformed" "$bad" 0
total=$("$SLUICE" topics "$WORK/p.yaml" | awk '$1 == "events" { s += $4 } END { print s }')
eq "the topic holds exactly $N records (sources exactly-once)" "$total" "$N"
lag=$("$SLUICE" topics "$WORK/p.yaml" | awk '$1 == "store" && $2 == "events" { s += $5 } END { print s }')
eq "group lag is 0" "$lag" 0
"$SLUICE" fsck "$WORK/data" >"$WORK/fsck.out" 2>&1
eq "fsck clean" "$?" 0
done_tests
