#!/bin/sh
# Retention never deletes unread data (issue 12, DESIGN §2.8), as a real process on
# 127.0.0.1: a generate source fills a topic with a small retention_bytes while its job's
# SQLite sink is stopped (an EXCLUSIVE lock held by another process).
#  pause (default): the topic fills, the source pauses, /health says degraded naming the
#    topic, the gauge and the status JSON say full, ingest answers 503 + Retry-After and
#    the topic stays bounded; once the sink is released every record arrives, by id.
#  drop_oldest: retention deletes unread records; the sink gets the rest and the metric
#    counts exactly the ones it never got.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
N=20000
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SPID=""; LPID=""
stop_all() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; SPID=""
  [ -n "$LPID" ] && kill "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null; LPID=""
}
trap 'stop_all; cleanup_work' EXIT

# lock_db DB: hold an EXCLUSIVE lock on DB until DB.release exists (the stopped sink)
lock_db() {
  rm -f "$1.release" "$1.locked"
  $PY - "$1" <<'PY' &
import os, sqlite3, sys, time
db = sys.argv[1]
c = sqlite3.connect(db, isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(db + ".locked", "w").close()
for _ in range(3000):           # at most 5 minutes
    if os.path.exists(db + ".release"): break
    time.sleep(0.1)
c.execute("ROLLBACK")
PY
  LPID=$!
  for _ in $(seq 1 100); do [ -e "$1.locked" ] && return 0; sleep 0.1; done
  return 1
}
release_db() { touch "$1.release"; wait "$LPID" 2>/dev/null; LPID=""; }
# status BASE EXPR: a Python expression over d = /api/pipeline's JSON
status() { curl -s "$1/api/pipeline" | $PY -c "import json,sys
try: d = json.load(sys.stdin)
except Exception: print(''); sys.exit(0)
t = {x['name']: x for x in d.get('topics', [])}; s = {x['name']: x for x in d.get('sources', [])}
print($2)" 2>/dev/null; }
# wait_for SECONDS CMD...: until CMD succeeds (bounded)
wait_for() { n=$(($1 * 10)); shift; i=0; while ! "$@" && [ $i -lt $n ]; do sleep 0.1; i=$((i + 1)); done; "$@"; }
is() { [ "$(status "$1" "$2")" = "$3" ]; }
metric() { curl -s "$1/metrics" | grep "^$2" | awk '{print $2}' | head -n 1; }

write_pipeline() {  # write_pipeline DIR PORT [ON_FULL]: no ON_FULL = the default
  cat > "$1/p.yaml" <<YAML
data_dir: $1/data
serve: { listen: 127.0.0.1:$2 }
topics:
  ev: { partitions: 1, retention_bytes: 256KiB, segment_bytes: 32KiB${3:+, on_full: $3} }
sources:
  gen:
    generate: { count: $N, chunk: 200,
                template: { id: "meta.seq", pad: "'$(printf '%0200d' 0)'" } }
    to: ev
  push:
    ingest: { path: /ingest/ev }
    to: ev
jobs:
  store:
    from: ev
    to:
      - sqlite: { path: $1/out.db, table: ev, busy_timeout: 200ms, columns: { id: bigint, pad: text } }
YAML
}

# ---------------------------------------------------------------- 1. on_full: pause (default)
c=$WORK/pause; mkdir -p "$c"; PORT=$(free_port); BASE=http://127.0.0.1:$PORT
write_pipeline "$c" "$PORT"
"$SLUICE" check "$c/p.yaml"; eq "pause: the pipeline checks" "$?" 0
check "pause: the sink's database is locked (stopped sink)" lock_db "$c/out.db"
"$SLUICE" run "$c/p.yaml" --log-level info 2>>"$c/log" &
SPID=$!
wait_for 30 is "$BASE" "s['gen']['state']" paused
eq "pause: the source pauses on the full topic" "$(status "$BASE" "s['gen']['state']")" paused
eq "pause: the status JSON counts the full partition" "$(status "$BASE" "t['ev']['full_partitions']")" 1
curl -s "$BASE/health" > "$c/health"
check "pause: /health is degraded and names the topic" \
  $PY -c "import json,sys; d=json.load(open('$c/health')); sys.exit(not (d['status']=='degraded' and d['full_topics']==['ev']))"
eq "pause: the gauge says one full partition" "$(metric "$BASE" 'sluice_topic_full_partitions{topic="ev"}')" 1
code=$(curl -s -D "$c/hdr" -o "$c/ingest" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"id": -1}' "$BASE/ingest/ev")
eq "pause: ingest into the full topic answers 503" "$code" 503
check "pause: ... with Retry-After" grep -qi '^Retry-After:' "$c/hdr"
# bounded: at most retention_bytes plus one segment and one chunk (256 + 32 + ~60 KiB)
bytes=$(status "$BASE" "t['ev']['partitions'][0]['bytes']")
check "pause: the topic stays bounded while full ($bytes bytes)" test "${bytes:-999999999}" -le 360000
check "pause: nothing was deleted while unread (start 0)" is "$BASE" "t['ev']['partitions'][0]['start']" 0
check "pause: the pause is logged" grep -q "source gen: topic ev is full: paused" "$c/log"
release_db "$c/out.db"
wait_for 120 is "$BASE" "s['gen']['state']" done
eq "pause: the source resumes and finishes" "$(status "$BASE" "s['gen']['state']")" done
rows() { sq "$c/out.db" "select count(*) || ' ' || count(distinct id) || ' ' || min(id) || ' ' || max(id) from ev" 2>/dev/null; }
wait_for 120 sh -c "[ \"\$(sqlite3 '$c/out.db' 'select count(*) from ev' 2>/dev/null)\" = $N ]"
eq "pause: every record reaches the sink exactly once, by id" "$(rows)" "$N $N 0 $((N - 1))"
wait_for 30 is "$BASE" "t['ev']['partitions'][0]['start'] > 0" True
eq "pause: retention still deletes what was committed" "$(status "$BASE" "t['ev']['partitions'][0]['start'] > 0")" True
eq "pause: /health is ok again" "$(curl -s "$BASE/health")" '{"status":"ok"}'
eq "pause: nothing was dropped" "$(status "$BASE" "t['ev']['dropped']")" 0
stop_all
check "pause: no record was dropped in the log" sh -c "! grep -q 'retention dropped' '$c/log'"

# ---------------------------------------------------------------- 2. on_full: drop_oldest
c=$WORK/drop; mkdir -p "$c"; PORT=$(free_port); BASE=http://127.0.0.1:$PORT
write_pipeline "$c" "$PORT" drop_oldest
check "drop: the sink's database is locked (stopped sink)" lock_db "$c/out.db"
"$SLUICE" run "$c/p.yaml" --log-level info 2>>"$c/log" &
SPID=$!
# until the source is done and retention has brought the topic under retention_bytes:
# from then on retention deletes nothing more, so the figures below are final
wait_for 120 is "$BASE" "s['gen']['state'] == 'done' and t['ev']['partitions'][0]['bytes'] <= 262144" True
eq "drop: the source never pauses and finishes" "$(status "$BASE" "s['gen']['state']")" done
dropped=$(status "$BASE" "t['ev']['dropped']")
check "drop: retention dropped unread records ($dropped)" test "${dropped:-0}" -gt 0
eq "drop: the metric counts them" "$(metric "$BASE" 'sluice_topic_dropped_records_total{topic="ev"}')" "${dropped:-none}"
check "drop: the drops are logged" grep -q "topic ev partition 0: retention dropped .* (on_full: drop_oldest)" "$c/log"
logged=$(sed -n 's/.*retention dropped \([0-9]*\) record.*/\1/p' "$c/log" | awk '{s += $1} END {print s + 0}')
eq "drop: the log names every dropped record" "$logged" "${dropped:-none}"
release_db "$c/out.db"
wait_for 120 sh -c "[ \"\$(sqlite3 '$c/out.db' 'select count(*) from ev' 2>/dev/null)\" = $((N - dropped)) ]"
eq "drop: the sink holds exactly the records not dropped" \
  "$(sq "$c/out.db" "select count(*) || ' ' || count(distinct id) || ' ' || max(id) from ev")" \
  "$((N - dropped)) $((N - dropped)) $((N - 1))"
eq "drop: the ids dropped are the oldest" "$(sq "$c/out.db" "select min(id) from ev")" "$dropped"
stop_all

done_tests
