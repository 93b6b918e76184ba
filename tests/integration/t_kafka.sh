#!/bin/sh
# Kafka (issue 6): the `kafka` sink, the `kafka` source, the `debezium` step and
# scale-out of a kafka source over a consumer group, against librdkafka's mock cluster
# in its own process (clients connect to 127.0.0.1).  kcat is the independent client.
#  1. sluice -> kafka sink -> kcat reads every record back with the right key
#     (key expression, and the record's key by default), headers, compression;
#  2. kcat -> kafka source -> job -> SQLite: exact count; a malformed message -> dlq;
#  3. SIGKILL of sluice mid-stream, restart: the keyed SQLite table holds every record
#     exactly once (the source is at-least-once into the journal; the table upserts);
#  4. a Debezium-shaped topic unwrapped into a flights table: deletes skip/keep/dlq;
#  5. two sluice processes on one pipeline file split the partitions of the source's
#     group; SIGKILL of one moves its partitions to the other; every record once.
. "$(dirname "$0")/../runtime/lib.sh"
. "$(dirname "$0")/lib_kafka.sh"
command -v kcat >/dev/null || { echo "kcat missing (apt-get install kcat)"; echo "0 passed, 1 failed"; exit 1; }
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; kafka_stop; cleanup_work' EXIT
kafka_start inp:4 crash:4 cdc:2 split:4
SESS='props: { session.timeout.ms: "6000", heartbeat.interval.ms: "500" }'
rows() { sq "$1" "select count(*) from $2" 2>/dev/null || echo 0; }

# ---- 1. kafka sink -> kcat --------------------------------------------------------
cat > "$WORK/sink.yaml" <<YAML
data_dir: $WORK/d1
sources:
  gen:
    generate: { count: 1000, template: { id: "meta.seq", name: "'n' + string(meta.seq)" } }
    key: "'r' + string(id)"
    to: events
jobs:
  out:
    from: events
    to:
      - kafka: { brokers: "$BROKERS", topic: by_expr, key: "'k' + string(id)", compression: lz4, headers: true }
      - kafka: { brokers: "$BROKERS", topic: by_key, compression: gzip }
YAML
"$SLUICE" run --once "$WORK/sink.yaml" --log-level warn 2>"$WORK/sink.log"
eq "kafka sink: run exits 0" "$?" 0
kcat -b "$BROKERS" -C -t by_expr -o beginning -e -q -f '%k\t%s\n' > "$WORK/by_expr.txt" 2>/dev/null
kcat -b "$BROKERS" -C -t by_key -o beginning -e -q -f '%k\t%s\n' > "$WORK/by_key.txt" 2>/dev/null
keycheck='{ match($2, /"id":[0-9]+/); id = substr($2, RSTART + 5, RLENGTH - 5); if ($1 != P id) bad++; n++ }
          END { print n + 0, bad + 0 }'
eq "kcat reads 1000 records, each keyed by the key expression" "$(awk -F'\t' -v P=k "$keycheck" "$WORK/by_expr.txt")" "1000 0"
eq "without key: the record's key is the Kafka key" "$(awk -F'\t' -v P=r "$keycheck" "$WORK/by_key.txt")" "1000 0"
eq "every id once" "$(cut -f2 "$WORK/by_expr.txt" | sort -u | wc -l)" 1000
h=$(kcat -b "$BROKERS" -C -t by_expr -o beginning -c 1 -e -q -f '%h\n' 2>/dev/null)
check "headers carry the metadata ($h)" sh -c "echo '$h' | grep -q 'sluice.source=gen'"

# ---- 2. kcat -> kafka source -> SQLite --------------------------------------------
seq 0 1999 | awk '{ printf "u%d|{\"id\":%d,\"v\":\"x%d\"}\n", $1, $1, $1 }' | kcat -b "$BROKERS" -P -t inp -K '|'
printf 'bad|{not json\n' | kcat -b "$BROKERS" -P -t inp -K '|'
cat > "$WORK/src.yaml" <<YAML
data_dir: $WORK/d2
sources:
  kin:
    kafka: { brokers: "$BROKERS", topic: inp, $SESS }
    to: events
jobs:
  store:
    from: events
    steps:
      - set: { key: "meta.key" }
    to:
      - sqlite: { path: $WORK/src.db, table: rows, columns: { id: bigint, v: text, key: text } }
YAML
"$SLUICE" run --once "$WORK/src.yaml" --log-level warn 2>"$WORK/src.log"
eq "kafka source: run --once exits 0" "$?" 0
eq "SQLite holds exactly the 2000 records (append table: no repeats)" "$(rows "$WORK/src.db" rows)" 2000
eq "each id once" "$(sq "$WORK/src.db" 'select count(distinct id) from rows')" 2000
eq "Kafka key -> record key" "$(sq "$WORK/src.db" "select count(*) from rows where key = 'u' || id")" 2000
eq "the malformed message went to kin.dlq" \
  "$("$SLUICE" tail "$WORK/src.yaml" kin.dlq --from-start 2>/dev/null | grep -c 'malformed JSON')" 1
"$SLUICE" run --once "$WORK/src.yaml" --log-level warn 2>>"$WORK/src.log"
eq "a second run reads nothing again (offsets committed to Kafka)" "$(rows "$WORK/src.db" rows)" 2000

# ---- 3. SIGKILL mid-stream, restart -----------------------------------------------
N1=20000; N2=400000; N=$((N1 + N2))   # N2 large enough to take a while at full speed
cat > "$WORK/crash.yaml" <<YAML
data_dir: $WORK/d3
topics:
  events: { partitions: 2 }
sources:
  kin:
    kafka: { brokers: "$BROKERS", topic: crash, max_batch: 500, $SESS }
    to: events
jobs:
  store:
    from: events
    max_batch: 500
    to:
      - sqlite: { path: $WORK/crash.db, table: rows, key: [id], columns: { id: bigint, v: text } }
YAML
seq 0 $((N1 - 1)) | awk '{ printf "%d|{\"id\":%d,\"v\":\"x%d\"}\n", $1, $1, $1 }' | kcat -b "$BROKERS" -P -t crash -K '|'
"$SLUICE" run "$WORK/crash.yaml" --log-level warn 2>>"$WORK/crash.log" &
pid=$!; PIDS="$PIDS $pid"
wait_for 30 sh -c "[ \$(sqlite3 '$WORK/crash.db' 'select count(*) from rows' 2>/dev/null || echo 0) -ge 5000 ]"
# more arrives while it runs; kill it in the middle of that
seq $N1 $((N - 1)) | awk '{ printf "%d|{\"id\":%d,\"v\":\"x%d\"}\n", $1, $1, $1 }' | kcat -b "$BROKERS" -P -t crash -K '|' &
kpid=$!
wait_for 30 sh -c "[ \$(sqlite3 '$WORK/crash.db' 'select count(*) from rows' 2>/dev/null || echo 0) -gt $N1 ]"
kill -9 $pid; wait $pid 2>/dev/null
at_kill=$(rows "$WORK/crash.db" rows)
wait $kpid
echo "rows when killed: $at_kill of $N"
check "killed mid-stream ($at_kill < $N rows)" [ "$at_kill" -lt "$N" ]
"$SLUICE" run --once "$WORK/crash.yaml" --log-level warn 2>>"$WORK/crash.log"
eq "restart with --once exits 0" "$?" 0
eq "keyed table: every record exactly once after the crash" \
  "$(sq "$WORK/crash.db" 'select count(*) || " " || count(distinct id) || " " || min(id) || " " || max(id) from rows')" \
  "$N $N 0 $((N - 1))"
in_topic=$("$SLUICE" topics "$WORK/crash.yaml" 2>/dev/null | awk '$1 == "events" { s += $4 } END { print s + 0 }')
echo "records in the journal topic: $in_topic (at-least-once from Kafka: >= $N)"
check "the journal topic holds every record at least once" [ "$in_topic" -ge "$N" ]

# ---- 4. Debezium-shaped topic -> flights --------------------------------------------
env_s() {  # KEY OP BEFORE AFTER: the JSON converter's envelope with a schema
  printf '%s|{"schema":{"type":"struct","optional":false,"name":"db.public.flights.Envelope","fields":[]},"payload":{"before":%s,"after":%s,"source":{"connector":"postgresql","table":"flights"},"op":"%s","ts_ms":1700000000000}}\n' "$1" "$3" "$4" "$2"
}
f() { printf '{"icao24":"%s","callsign":"%s","altitude":%s}' "$1" "$2" "$3"; }
{
  env_s a1 r null "$(f a1 DLH1 1000)"
  env_s a2 c null "$(f a2 BAW2 2000)"
  env_s a3 c null "$(f a3 AFR3 3000)"
  env_s a4 c null "$(f a4 KLM4 4000)"
  env_s a1 u "$(f a1 DLH1 1000)" "$(f a1 DLH1 1500)"
  env_s a3 d "$(f a3 AFR3 3000)" null
  # the bare envelope (schemas.enable=false)
  printf 'a5|{"before":null,"after":%s,"op":"c","ts_ms":1700000000001}\n' "$(f a5 SAS5 5000)"
  printf 'a9|{"unrelated":true}\n'
} | kcat -b "$BROKERS" -P -t cdc -K '|'
printf 'a3|\n' | kcat -b "$BROKERS" -P -t cdc -K '|' -Z   # the tombstone after a delete
cat > "$WORK/cdc.yaml" <<YAML
data_dir: $WORK/d4
sources:
  cdc:
    kafka: { brokers: "$BROKERS", topic: cdc, $SESS }
    to: flights.cdc
jobs:
  keep:
    from: flights.cdc
    steps: [ { debezium: { deletes: keep } } ]
    to: [ { sqlite: { path: $WORK/cdc.db, table: flights, key: [icao24] } } ]
  skip:
    from: flights.cdc
    steps: [ { debezium: {} } ]
    to: [ { sqlite: { path: $WORK/cdc.db, table: flights_skip, key: [icao24] } } ]
  dlq:
    from: flights.cdc
    steps: [ { debezium: dlq } ]
    to: [ { sqlite: { path: $WORK/cdc.db, table: flights_dlq, key: [icao24] } } ]
YAML
"$SLUICE" run --once "$WORK/cdc.yaml" --log-level error 2>"$WORK/cdc.log"
eq "debezium: run exits 0" "$?" 0
eq "keep: five aircraft, a3 marked deleted" \
  "$(sq "$WORK/cdc.db" "select group_concat(icao24 || ':' || _deleted, ' ') from (select * from flights order by icao24)")" \
  "a1:0 a2:0 a3:1 a4:0 a5:0"
eq "payload.after unwrapped, the update applied" "$(sq "$WORK/cdc.db" "select callsign || ' ' || altitude from flights where icao24 = 'a1'")" "DLH1 1500"
eq "skip: the delete is dropped (the row keeps its last after-image)" \
  "$(sq "$WORK/cdc.db" "select count(*) from flights_skip")" 5
eq "skip: no soft-delete column" "$(sq "$WORK/cdc.db" "select count(*) from pragma_table_info('flights_skip') where name = '_deleted'")" 0
dl=$("$SLUICE" tail "$WORK/cdc.yaml" dlq.dlq --from-start 2>/dev/null)
eq "dlq: the delete event is a dead letter" "$(printf '%s\n' "$dl" | grep -c 'delete event')" 1
eq "a record that is not a change event is a dead letter (every job)" \
  "$("$SLUICE" tail "$WORK/cdc.yaml" keep.dlq --from-start 2>/dev/null | grep -c 'not a change event')" 1
eq "the tombstone is skipped by the source" \
  "$("$SLUICE" topics "$WORK/cdc.yaml" 2>/dev/null | awk '$1 == "flights.cdc" { s += $4 } END { print s + 0 }')" 8

# ---- 5. two processes share the partitions; SIGKILL moves them ---------------------
S1=4000; S2=4000; S=$((S1 + S2))
cat > "$WORK/split.yaml" <<YAML
data_dir: \${DATA}
sources:
  kin:
    kafka: { brokers: "$BROKERS", topic: split, max_batch: 200, $SESS }
    to: events
jobs:
  store:
    from: events
    to:
      - sqlite: { path: $WORK/split.db, table: rows, key: [id], columns: { id: bigint, v: text }, busy_timeout: 30s }
YAML
seq 0 $((S1 - 1)) | awk '{ printf "%d|{\"id\":%d,\"v\":\"x%d\"}\n", $1, $1, $1 }' | kcat -b "$BROKERS" -P -t split -K '|'
DATA=$WORK/dA "$SLUICE" run "$WORK/split.yaml" --log-level info 2>"$WORK/A.log" &
pa=$!; PIDS="$PIDS $pa"
DATA=$WORK/dB "$SLUICE" run "$WORK/split.yaml" --log-level info 2>"$WORK/B.log" &
pb=$!; PIDS="$PIDS $pb"
last_assigned() { grep 'partition(s) assigned' "$1" | tail -n 1 | sed -E 's/.*: ([0-9]+) partition.*/\1/'; }
wait_for 40 sh -c "[ \$(grep 'partition(s) assigned' '$WORK/A.log' | tail -n 1 | sed -E 's/.*: ([0-9]+) partition.*/\\1/') = 2 ] &&
                   [ \$(grep 'partition(s) assigned' '$WORK/B.log' | tail -n 1 | sed -E 's/.*: ([0-9]+) partition.*/\\1/') = 2 ]"
eq "two processes: 2 + 2 of the 4 partitions" "$(last_assigned "$WORK/A.log") $(last_assigned "$WORK/B.log")" "2 2"
wait_for 40 sh -c "[ \$(sqlite3 '$WORK/split.db' 'select count(*) from rows' 2>/dev/null || echo 0) -ge $S1 ]"
eq "the first $S1 records are in the table" "$(rows "$WORK/split.db" rows)" "$S1"
kill -9 $pa; wait $pa 2>/dev/null
seq $S1 $((S - 1)) | awk '{ printf "%d|{\"id\":%d,\"v\":\"x%d\"}\n", $1, $1, $1 }' | kcat -b "$BROKERS" -P -t split -K '|'
wait_for 40 sh -c "[ \$(grep 'partition(s) assigned' '$WORK/B.log' | tail -n 1 | sed -E 's/.*: ([0-9]+) partition.*/\\1/') = 4 ]"
eq "after SIGKILL of one, the other holds all 4 partitions" "$(last_assigned "$WORK/B.log")" 4
wait_for 40 sh -c "[ \$(sqlite3 '$WORK/split.db' 'select count(*) from rows' 2>/dev/null || echo 0) -ge $S ]"
kill -TERM $pb; wait $pb
eq "the survivor stops cleanly" "$?" 0
eq "every record exactly once in the table" \
  "$(sq "$WORK/split.db" 'select count(*) || " " || count(distinct id) from rows')" "$S $S"
done_tests
