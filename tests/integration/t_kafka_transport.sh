#!/bin/sh
# transport: kafka (issue 6): the pipeline's own topics on Kafka, against librdkafka's
# mock cluster in its own process (clients on 127.0.0.1); kcat is the independent client.
#  1. source -> Kafka topic -> job -> SQLite: every record; kcat reads the topic with the
#     record keys and the sluice.source header; `sluice topics` shows the group's offsets;
#  2. kcat -> a pipeline topic -> job: consumed; a message that is not JSON -> the job's
#     dead-letter topic (on Kafka), read back by kcat; the `topic` sink and ingest
#     endpoint append to Kafka topics; `sluice tail` and the live tail read Kafka;
#  3. two processes on one file: the partitions split 2 + 2, exactly one polls the
#     source (the lease); SIGKILL of the holder moves its partitions AND the lease with
#     the source's cursor; the SQLite table holds every message of the topic exactly
#     once and every generated id; `sluice topics` names the member holding each
#     partition and the lease;
#  1b. a job whose sinks all hold offsets moves the group's offset up to what they hold;
#  4. config errors of `transport` at FILE:LINE:COL;
#  5. the five pipelines of pipelines/, unchanged, run on Kafka (a first file adds the
#     transport) and give exactly the golden tables of the journal runs.
. "$(dirname "$0")/../runtime/lib.sh"
# no SMTP server here: the solar and ISS alert e-mails are given up after their first
# attempt (kept in alert.<name>.dlq) instead of retried for the default give_up_after, 1h
export ALERT_GIVE_UP_AFTER=0s
. "$(dirname "$0")/lib_kafka.sh"
command -v kcat >/dev/null || { echo "kcat missing (apt-get install kcat)"; echo "0 passed, 1 failed"; exit 1; }
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; kafka_stop; [ -n "${KEEP:-}" ] || cleanup_work' EXIT
# the topics exist up front (the mock cluster does not implement CreateTopics; it would
# auto-create them with 4 partitions, which sluice also handles)
# (but j2.dlq: its CreateTopics times out on the mock, then the cluster auto-creates it)
kafka_start events:4 store.dlq:1 enriched:2 sluice.t1.coord:1 sluice.t1.members:1 \
  ev2:2 in2.dlq:1 out2:1 sluice.t2.coord:1 sluice.t2.members:1 \
  ev3:4 store3.dlq:1 sluice.t3.coord:1 sluice.t3.members:1 \
  solar.flares:1 solar.notifications:1 iss.positions:1 crypto.tickers:2 users.created:1 flights.states:2
SESS='session.timeout.ms: "6000", heartbeat.interval.ms: "500"'
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
rows() { sq "$1" "select count(*) from $2" 2>/dev/null || echo 0; }
# sum of the high watermarks of a topic's partitions (kcat's metadata/offsets query)
topic_end() {
  n=0
  for p in $(seq 0 $(($2 - 1))); do
    e=$(kcat -b "$BROKERS" -Q -t "$1:$p:-1" 2>/dev/null | awk '{ print $NF }')
    n=$((n + ${e:-0}))
  done
  echo $n
}

# ---- 1. source -> Kafka -> job -> SQLite -------------------------------------------
cat > "$WORK/t1.yaml" <<YAML
data_dir: $WORK/d1
transport: { kafka: { brokers: "$BROKERS", compression: lz4, props: { $SESS } } }
topics:
  events: { partitions: 4 }
sources:
  gen:
    generate: { count: 3000, chunk: 500, template: { id: "meta.seq", name: "'n' + string(meta.seq)" } }
    key: "'r' + string(id)"
    to: events
jobs:
  store:
    from: events
    steps:
      - set: { part: "meta.partition", off: "meta.offset", src: "meta.source" }
    to:
      - sqlite: { path: $WORK/t1.db, table: rows, columns: { id: bigint, name: text, part: int, off: bigint, src: text } }
      - topic: enriched
YAML
"$SLUICE" run --once "$WORK/t1.yaml" --log-level info 2>"$WORK/t1.log"
eq "transport kafka: run --once exits 0" "$?" 0
eq "SQLite holds the 3000 records, each once" "$(sq "$WORK/t1.db" 'select count(*) || " " || count(distinct id) from rows')" "3000 3000"
eq "they came over the 4 Kafka partitions" "$(sq "$WORK/t1.db" 'select count(distinct part) from rows')" 4
eq "the sluice.source header -> meta.source" "$(sq "$WORK/t1.db" "select count(*) from rows where src = 'gen'")" 3000
kcat -b "$BROKERS" -C -t events -o beginning -e -q -f '%k\t%s\n' > "$WORK/events.txt" 2>/dev/null
eq "kcat reads the 3000 records of topic events" "$(wc -l < "$WORK/events.txt")" 3000
eq "... each with the source's key" "$(awk -F'\t' '{ match($2, /"id":[0-9]+/); if ($1 != "r" substr($2, RSTART + 5, RLENGTH - 5)) bad++ } END { print bad + 0 }' "$WORK/events.txt")" 0
eq "the topic sink appended to Kafka topic enriched" "$(kcat -b "$BROKERS" -C -t enriched -o beginning -e -q 2>/dev/null | wc -l)" 3000
"$SLUICE" tail "$WORK/t1.yaml" events --from-start --limit 5 > "$WORK/tail5.txt" 2>&1
eq "sluice tail --from-start --limit 5 reads 5 records off Kafka" "$(grep -c '"topic":"events"' "$WORK/tail5.txt")" 5
"$SLUICE" tail "$WORK/t1.yaml" events > "$WORK/tail.txt" 2>&1
eq "sluice tail: the last 10 of each of the 4 partitions, then it ends" "$(grep -c '"topic":"events"' "$WORK/tail.txt")" 40
"$SLUICE" topics "$WORK/t1.yaml" > "$WORK/topics1.txt" 2>&1
eq "sluice topics: the group committed the end of every partition (lag 0)" \
  "$(awk '$1 == "sluice.store" && $2 == "events" { n++; if ($5 != 0) bad++ } END { print n + 0, bad + 0 }' "$WORK/topics1.txt")" "4 0"
"$SLUICE" run --once "$WORK/t1.yaml" --log-level info 2>"$WORK/t1b.log"
eq "a second run: the cursor on Kafka says the source is done, nothing twice" "$(rows "$WORK/t1.db" rows)" 3000
check "a second run: the lease holder read the cursor back" grep -q "holds the lease of the sources (1 cursor" "$WORK/t1b.log"
# 1b. a job whose sinks are all transactional starts where they hold; when they hold more
# than the group committed (a process killed between its sinks' commit and its Kafka
# commit, as under load in part 3), the group's offset moves up to it: before, nothing
# was left to read there, so nothing was ever committed and `topics` showed lag for good
cat > "$WORK/t1c.yaml" <<YAML
data_dir: $WORK/d1c
transport: { kafka: { brokers: "$BROKERS", props: { $SESS } } }
topics:
  events: { partitions: 4 }
jobs:
  onlysql:
    from: events
    to:
      - sqlite: { path: $WORK/t1c.db, table: rows, columns: { id: bigint, name: text } }
YAML
"$SLUICE" run --once "$WORK/t1c.yaml" 2>"$WORK/t1c.log"
eq "1b: a job with one SQLite sink takes the 3000 records" "$(rows "$WORK/t1c.db" rows)" 3000
# the group's commit is lost (as if the process died right after the SQLite commit)
/usr/bin/python3 - "$BROKERS" <<'PY' 2>"$WORK/reset.log"
import sys
from confluent_kafka import Consumer, TopicPartition
import time
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "sluice.onlysql", "enable.auto.commit": False,
              "session.timeout.ms": 6000})
c.subscribe(["events"])
end = time.time() + 30
while not c.assignment() and time.time() < end:
    c.poll(0.2)
c.commit(offsets=[TopicPartition("events", p, 0) for p in range(4)], asynchronous=False)
c.close()
PY
"$SLUICE" topics "$WORK/t1c.yaml" > "$WORK/topics1c.txt" 2>&1
eq "1b: the group's offsets reset to 0 (lag 3000)" \
  "$(awk '$1 == "sluice.onlysql" && $2 == "events" { n += $5 } END { print n + 0 }' "$WORK/topics1c.txt")" 3000
"$SLUICE" run --once "$WORK/t1c.yaml" 2>"$WORK/t1d.log"
eq "1b: a rerun starts where SQLite holds: nothing twice" "$(sq "$WORK/t1c.db" 'select count(*) || " " || count(distinct id) from rows')" "3000 3000"
"$SLUICE" topics "$WORK/t1c.yaml" > "$WORK/topics1d.txt" 2>&1
eq "1b: ... and the group's offsets moved up to what SQLite holds (lag 0)" \
  "$(awk '$1 == "sluice.onlysql" && $2 == "events" { n++; l += $5 } END { print n + 0, l + 0 }' "$WORK/topics1d.txt")" "4 0"

# ---- 2. kcat -> topic -> job; dead letters and ingest on Kafka ---------------------
PORT=$(free_port)
cat > "$WORK/t2.yaml" <<YAML
data_dir: $WORK/d2
transport: { kafka: { brokers: "$BROKERS", props: { $SESS } } }
serve: { listen: 127.0.0.1:$PORT }
topics:
  ev2: { partitions: 2 }
sources:
  in2:
    ingest: { path: /in }
    key: "string(id)"
    to: ev2
jobs:
  j2:
    from: ev2
    steps:
      - where: "id >= 0"
    to:
      - sqlite: { path: $WORK/t2.db, table: rows, key: [id], columns: { id: bigint, v: text } }
      - kafka: { topic: out2 }      # brokers: the transport's
YAML
seq 0 499 | awk '{ printf "u%d|{\"id\":%d,\"v\":\"x%d\"}\n", $1, $1, $1 }' | kcat -b "$BROKERS" -P -t ev2 -K '|'
printf 'bad|{not json\n' | kcat -b "$BROKERS" -P -t ev2 -K '|'
"$SLUICE" run "$WORK/t2.yaml" --log-level info 2>"$WORK/t2.log" &
p2=$!; PIDS="$PIDS $p2"
wait_for 40 sh -c "[ \$(sqlite3 '$WORK/t2.db' 'select count(*) from rows' 2>/dev/null || echo 0) -ge 500 ]"
eq "records produced by kcat into a pipeline topic reach SQLite" "$(rows "$WORK/t2.db" rows)" 500
check "a topic the cluster would not create (CreateTopics) was auto-created" \
  grep -q "topic j2.dlq has 4 partition(s) on the cluster" "$WORK/t2.log"
wait_for 20 sh -c "kcat -b '$BROKERS' -C -t j2.dlq -o beginning -e -q 2>/dev/null | grep -q 'not JSON'"
check "the malformed message is in j2.dlq on Kafka, with the reason" \
  sh -c "kcat -b '$BROKERS' -C -t j2.dlq -o beginning -e -q 2>/dev/null | grep -q '\"record\":\"{not json\"'"
wait_for 20 sh -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/health | grep -q 200"
curl -s -N --max-time 30 "http://127.0.0.1:$PORT/api/tail/ev2?from=start" > "$WORK/sse.txt" 2>/dev/null &
sse=$!; PIDS="$PIDS $sse"
wait_for 10 grep -q ': connected' "$WORK/sse.txt"
code=$(curl -s -o "$WORK/ing.out" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data '[{"id": 900, "v": "posted"}, {"id": 901, "v": "posted"}]' "http://127.0.0.1:$PORT/in")
eq "ingest answers 202 once Kafka acknowledged" "$code" 202
wait_for 20 sh -c "[ \$(sqlite3 '$WORK/t2.db' \"select count(*) from rows where v = 'posted'\" 2>/dev/null || echo 0) -eq 2 ]"
eq "the ingested records went through Kafka to SQLite" "$(sq "$WORK/t2.db" "select count(*) from rows where v = 'posted'")" 2
eq "the kafka sink (brokers from the transport) wrote every record to out2" "$(kcat -b "$BROKERS" -C -t out2 -o beginning -e -q 2>/dev/null | wc -l)" 502
wait_for 20 sh -c "grep -c '\"v\":\"posted\"' '$WORK/sse.txt' | grep -q 2"
eq "the live tail (SSE) streams the records from Kafka, the new ones too" "$(grep -c '"v":"posted"' "$WORK/sse.txt")" 2
check "  ... and those kcat produced before" grep -q '"v":"x499"' "$WORK/sse.txt"
check "  ... with ids PARTITION-OFFSET" grep -qE '^id: [0-9]+-[0-9]+$' "$WORK/sse.txt"
kill $sse 2>/dev/null
kill -TERM $p2; wait $p2
eq "stops cleanly on SIGTERM" "$?" 0

# ---- 3. two processes: partitions and the source lease; SIGKILL moves both ---------
N=6000
cat > "$WORK/t3.yaml" <<YAML
data_dir: \${DATA}
transport: { kafka: { brokers: "$BROKERS", name: t3, publish_every: 500ms, props: { $SESS } } }
topics:
  ev3: { partitions: 4 }
sources:
  gen:
    generate: { count: $N, rate: 1500, chunk: 50, template: { id: "meta.seq" } }
    key: "'r' + string(id)"
    to: ev3
jobs:
  store3:
    from: ev3
    steps:
      - set: { part: "meta.partition", off: "meta.offset" }
    to:
      - sqlite: { path: $WORK/t3.db, table: rows, columns: { id: bigint, part: int, off: bigint }, busy_timeout: 30s }
YAML
lease_held() { grep -q 'holds the lease of the sources' "$1"; }
last_assigned() { grep 'partition(s) assigned' "$1" | tail -n 1 | sed -E 's/.*: ([0-9]+) partition.*/\1/'; }
DATA=$WORK/dA "$SLUICE" run "$WORK/t3.yaml" --log-level info 2>"$WORK/A.log" &
pa=$!; PIDS="$PIDS $pa"
wait_for 40 lease_held "$WORK/A.log"
DATA=$WORK/dB "$SLUICE" run "$WORK/t3.yaml" --log-level info 2>"$WORK/B.log" &
pb=$!; PIDS="$PIDS $pb"
wait_for 40 sh -c "[ \"\$(grep 'partition(s) assigned' '$WORK/A.log' | tail -n 1 | sed -E 's/.*: ([0-9]+) partition.*/\\1/')\" = 2 ] &&
                   [ \"\$(grep 'partition(s) assigned' '$WORK/B.log' | tail -n 1 | sed -E 's/.*: ([0-9]+) partition.*/\\1/')\" = 2 ]"
eq "two processes: 2 + 2 of the 4 partitions" "$(last_assigned "$WORK/A.log") $(last_assigned "$WORK/B.log")" "2 2"
wait_for 40 sh -c "[ \$(sqlite3 '$WORK/t3.db' 'select count(*) from rows' 2>/dev/null || echo 0) -ge 1500 ]"
# both publish their status every 500 ms; a rebalance may still be settling
held4() {
  DATA=$WORK/dB "$SLUICE" topics "$WORK/t3.yaml" > "$WORK/topics3.txt" 2>&1
  [ "$(awk '$1 == "sluice.store3" && $2 == "ev3" && $6 ~ /:/ { n++ } END { print n + 0 }' "$WORK/topics3.txt")" = 4 ]
}
wait_for 30 held4
eq "while both run: sluice topics shows each partition held by a live member" \
  "$(awk '$1 == "sluice.store3" && $2 == "ev3" && $6 ~ /:/ { n++ } END { print n + 0 }' "$WORK/topics3.txt")" 4
eq "... two members, one holding the lease" \
  "$(awk '/^MEMBER/ { m = 1; next } m && NF >= 2 { n++; if ($2 == "yes") l++ } END { print n + 0, l + 0 }' "$WORK/topics3.txt")" "2 1"
check "only the lease holder (A) polls: B does not hold the lease" sh -c "! grep -q 'holds the lease' '$WORK/B.log'"
kill -9 $pa; wait $pa 2>/dev/null
wait_for 60 lease_held "$WORK/B.log"
check "after SIGKILL of the holder, the other takes the lease" lease_held "$WORK/B.log"
wait_for 40 sh -c "[ \"\$(grep 'partition(s) assigned' '$WORK/B.log' | tail -n 1 | sed -E 's/.*: ([0-9]+) partition.*/\\1/')\" = 4 ]"
eq "... and all 4 partitions" "$(last_assigned "$WORK/B.log")" 4
wait_for 60 grep -q 'source gen: done' "$WORK/B.log"
check "the source finished on B, from the cursor A committed" grep -q 'source gen: done' "$WORK/B.log"
END3=$(topic_end ev3 4)
wait_for 60 sh -c "[ \$(sqlite3 '$WORK/t3.db' 'select count(*) from rows' 2>/dev/null || echo 0) -ge $END3 ]"
sleep 1
eq "every message of the topic exactly once in the table ($END3 messages)" \
  "$(sq "$WORK/t3.db" "select count(*) || ' ' || count(distinct part || '/' || off) from rows")" "$END3 $END3"
eq "every generated id is there (the cursor moved with the lease)" \
  "$(sq "$WORK/t3.db" "select count(distinct id) || ' ' || min(id) || ' ' || max(id) from rows")" "$N 0 $((N - 1))"
check "at most one chunk polled twice across the kill (at-least-once window: $((END3 - N)) repeats)" \
  [ $((END3 - N)) -le 50 ]
heldB() {
  DATA=$WORK/dB "$SLUICE" topics "$WORK/t3.yaml" > "$WORK/topics3b.txt" 2>&1
  [ "$(awk -v m=":$pb" '$1 == "sluice.store3" && $2 == "ev3" && $6 ~ m"$" && $5 == 0 { n++ } END { print n + 0 }' "$WORK/topics3b.txt")" = 4 ]
}
wait_for 30 heldB
eq "sluice topics: B holds every partition, lag 0" \
  "$(awk -v m=":$pb" '$1 == "sluice.store3" && $2 == "ev3" { n++; if ($6 ~ m"$" && $5 == 0) ok++ } END { print n + 0, ok + 0 }' "$WORK/topics3b.txt")" "4 4"
kill -TERM $pb; wait $pb
eq "the survivor stops cleanly" "$?" 0

# ---- 5. the five pipelines, unchanged, on Kafka: the same tables ----------------
# A first file gives the transport (files run together take it from the first one).
# The data topics exist with the partitions the files declare, as CreateTopics makes
# them on a real cluster (on the mock's 4 auto-created partitions, the versions of one
# flare would spread over partitions and the newest might not be written last); the
# dead-letter and alert topics are left to the auto-create.
printf 'data_dir: %s\ntransport: { kafka: { brokers: "%s", name: five, props: { %s } } }\n' \
  "$WORK/five/data" "$BROKERS" "$SESS" > "$WORK/five.yaml"
(cd "$ROOT" && SLUICE_OUT=$WORK/five SLUICE_DATA=$WORK/five/data SLUICE_LISTEN=127.0.0.1:0 "$SLUICE" run --once \
  --replay samples "$WORK/five.yaml" pipelines/solar.yaml pipelines/iss.yaml pipelines/crypto.yaml \
  pipelines/users.yaml pipelines/flights.yaml --log-level error 2>"$WORK/five.log")
eq "the five pipelines on transport kafka: run --once --replay exits 0" "$?" 0
dump() {  # dump DB TABLE ORDER: deterministic JSON of a table (as tests/runtime/t_pipelines.sh)
  cols=$(sqlite3 "$1" "select group_concat('\"' || name || '\"', ',') from pragma_table_info('$2') where name not in ('processing_time')")
  sqlite3 -json "$1" "select $cols from \"$2\" order by $3" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), indent=1, sort_keys=True, ensure_ascii=False))'
}
for x in "solar solar_data flr_id" "solar notifications message_id" "iss iss_data seen_at" "crypto prices id,ts" \
         "users created_users id" "flights flights_latest icao24" "flights flights icao24,last_contact"; do
  set -- $x
  dump "$WORK/five/$1.db" "$2" "$3" > "$WORK/$2.json" 2>/dev/null
  check "on Kafka, table $2 is the golden one (tests/golden/pipelines)" cmp -s "$WORK/$2.json" "$ROOT/tests/golden/pipelines/$2.json"
done

# ---- 4. config errors --------------------------------------------------------------
printf 'data_dir: %s\ntransport:\n  kafka: { brokerz: "127.0.0.1:9092" }\nsources:\n  s: { generate: { count: 1 }, to: t }\n' \
  "$WORK/d4" > "$WORK/bad.yaml"
"$SLUICE" check "$WORK/bad.yaml" > "$WORK/bad.out" 2>&1
eq "a misspelt transport key: check fails" "$?" 1
check "  ... naming FILE:LINE:COL and the key" grep -q "bad.yaml:3:.*brokerz" "$WORK/bad.out"
check "  ... and the missing brokers" grep -q "brokers" "$WORK/bad.out"
printf 'data_dir: %s\ntransport: { rabbit: {} }\n' "$WORK/d4" > "$WORK/bad2.yaml"
"$SLUICE" check "$WORK/bad2.yaml" > "$WORK/bad2.out" 2>&1
check "an unknown transport is named at its position" grep -q "bad2.yaml:2:14: error: unknown transport 'rabbit'" "$WORK/bad2.out"
printf 'data_dir: %s\nsources:\n  s: { generate: { count: 1 }, to: t }\njobs:\n  j:\n    from: t\n    to:\n      - kafka: { topic: x }\n' \
  "$WORK/d4" > "$WORK/bad3.yaml"
"$SLUICE" check "$WORK/bad3.yaml" > "$WORK/bad3.out" 2>&1
check "a kafka sink without brokers and without transport kafka: check names it" \
  grep -q "bad3.yaml:8:.*needs 'brokers'" "$WORK/bad3.out"
done_tests
