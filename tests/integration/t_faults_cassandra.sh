#!/bin/sh
# Fault injection into the `cassandra` sink, the Cassandra row of the promise sheet of
# tests/integration/t_faults_sql.sh: generated records (id = 0..N-1) -> 4 partitions ->
# a job writing them to a table with primary key id on a real single-node Cassandra
# 2.1 (at least once with idempotent upserts: a repeat rewrites the same row), while
#   * sluice is SIGKILLed at a random moment of each round (after the table grew),
#   * once (the second round), the Cassandra node itself is SIGKILLed and restarted on
#     its data dir; the node runs with `commitlog_sync: batch` (a write is acknowledged
#     once its commitlog entry is on disk): with the default periodic sync an
#     acknowledged write of a single replica is lost by a node crash
#     (CASS_COMMITLOG_SYNC=periodic shows it: the check by id fails),
#   * tests/tcpproxy.py between sluice and the node's native port cuts the connection
#     at random moments (any chunk either way);
# then one `run --once` drains what is left.  Read back by id with python3-cassandra
# (protocol v3), the table must hold exactly N rows, every id 0..N-1 with its values:
# 0 lost, 0 duplicated.  One line sums it up:
#   "cassandra: 5 kills of sluice, 1 server crashes, 12 connection cuts, 15000 records, 0 lost, 0 duplicated"
# Short here (make test); `make soak` runs it long (FAULT_ROUNDS, FAULT_RECORDS) and
# appends the line to bench/RESULTS.md.  FAULT_SEED replays the proxy's choices.
. "$(dirname "$0")/../runtime/lib.sh"
. "$(dirname "$0")/lib_cassandra.sh"
. "$(dirname "$0")/lib_proxy.sh"
N=${FAULT_RECORDS:-15000}
ROUNDS=${FAULT_ROUNDS:-5}
RATE=${FAULT_RATE:-1500}
SEED=${FAULT_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
CUT=${FAULT_CUT:-0.002}
CASS_COMMITLOG_SYNC=${CASS_COMMITLOG_SYNC:-batch}
export CASS_COMMITLOG_SYNC
echo "fault seed $SEED, $ROUNDS rounds, $N records, commitlog_sync $CASS_COMMITLOG_SYNC"
rand() {  # rand LO HI (hundredths of a second) -> seconds
  awk -v s="$(od -An -N2 -tu2 /dev/urandom)" -v lo="$1" -v hi="$2" 'BEGIN { printf "%.2f", (lo + s % (hi - lo + 1)) / 100 }'
}
cass_setup
cass_start
traps() { trap 'proxy_stop; cass_stop_final; cleanup_work' EXIT; }   # cass_start sets its own
traps
proxy_start "$CASS_PORT" --seed "$SEED" --cut "$CUT"

cat > "$WORK/cassandra.yaml" <<YAML
data_dir: $WORK/data
topics:
  ev: { partitions: 4 }
sources:
  gen:
    generate: { count: $N, chunk: 500, rate: $RATE,
                template: { id: "meta.seq", name: "'row-' + string(meta.seq)", v: "meta.seq * 0.5" } }
    key: "string(id)"
    to: ev
jobs:
  faults:
    from: ev
    max_batch: 700
    to:
      - cassandra: { hosts: ["127.0.0.1:$PROXY_PORT"], keyspace: sluice_faults, table: ev, primary_key: id,
                     columns: { id: bigint, name: text, v: double } }
YAML

# cass_py MODE: straight to the node (not through the proxy), consistency ONE.
#   count -> rows in the table (0 while it or the node is missing)
#   check -> "rows R distinct D lost L extra E bad B": every row read back by id
cass_py() {
  $PY3 - "$CASS_PORT" "$N" "$1" <<'PY' 2>/dev/null || echo 0
import sys
from cassandra.cluster import Cluster
from cassandra.query import SimpleStatement
port, n, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = Cluster(["127.0.0.1"], port=port, protocol_version=3, connect_timeout=10)
s = c.connect()
s.default_timeout = 60
if mode == "count":
    print(s.execute("SELECT count(*) FROM sluice_faults.ev").one()[0])
else:
    ids, bad = [], 0
    for r in s.execute(SimpleStatement("SELECT id, name, v FROM sluice_faults.ev", fetch_size=5000)):
        ids.append(r.id)
        bad += r.name != "row-%d" % r.id or r.v != r.id * 0.5
    got = set(ids)
    # and by id: each of 0..N-1 looked up on its own
    q = s.prepare("SELECT id FROM sluice_faults.ev WHERE id = ?")
    from cassandra.concurrent import execute_concurrent_with_args
    found = sum(1 for ok, rs in execute_concurrent_with_args(s, q, [(i,) for i in range(n)], concurrency=64)
                if ok and rs.one() is not None)
    lost = max(n - found, len(set(range(n)) - got))
    print("rows %d distinct %d lost %d extra %d bad %d" % (len(ids), len(got), lost,
                                                         len(got - set(range(n))), bad))
c.shutdown()
PY
}
c_count() { cass_py count; }

# until_grows AT-LEAST PID [POLLS]: wait (bounded, 60 polls) until the table holds at
# least that many rows (or N), or the process is gone
until_grows() {
  _w=0
  _t=$1; [ "$_t" -gt "$N" ] && _t=$N
  while [ "$(c_count)" -lt "$_t" ] 2>/dev/null && kill -0 "$2" 2>/dev/null && [ $_w -lt "${3:-60}" ]; do
    sleep 0.1; _w=$((_w + 1))
  done
}

# cass_crash: SIGKILL the node, restart it on its data dir (commitlog replayed)
cass_crash() {
  kill -KILL "$CASS_PID" 2>/dev/null
  wait "$CASS_PID" 2>/dev/null
  CASS_PID=""
  echo "# $(date +%T) cassandra: node SIGKILLed"
  cass_start
  traps
  echo "# $(date +%T) cassandra: node restarted"
}

kills=0 mid=0 crashes=0 r=0
crash_round=1; [ "$ROUNDS" -lt 2 ] && crash_round=0
step=$((N / (ROUNDS + 2) + 1))   # each round waits for this many new rows: kills spread over the run
while [ $r -lt "$ROUNDS" ]; do
  before=$(c_count)
  [ "$before" -ge "$N" ] 2>/dev/null && break
  "$SLUICE" run "$WORK/cassandra.yaml" --log-level warn 2>>"$WORK/cassandra.log" &
  pid=$!
  until_grows $((before + step)) $pid
  if [ $r -eq $crash_round ]; then
    cass_crash
    crashes=$((crashes + 1))
    # it reconnected and wrote again (fewer polls: with a periodic commitlog the node
    # may have lost rows sluice already committed, then nothing grows)
    until_grows $(($(c_count) + 1)) $pid 30
  fi
  sleep "$(rand 0 60)"
  [ "$(c_count)" -lt "$N" ] 2>/dev/null && mid=$((mid + 1))
  kill -9 $pid 2>/dev/null && kills=$((kills + 1))
  wait $pid 2>/dev/null
  r=$((r + 1))
  echo "# $(date +%T) cassandra: round $r, $(c_count) rows"
done
# the rest, through the same cuts (bounded: a hang is a failure)
timeout 300 "$SLUICE" run --once "$WORK/cassandra.yaml" --log-level warn 2>>"$WORK/cassandra.log"
eq "cassandra: the final run exits 0" "$?" 0
echo "# $(date +%T) cassandra: final run done"
out=$(cass_py check)
eq "cassandra: every id 0..N-1 read back by id, exactly N rows, values intact" "$out" \
  "rows $N distinct $N lost 0 extra 0 bad 0"
check "cassandra: sluice was killed mid-stream" [ "$mid" -ge 1 ]
check "cassandra: the node crash was seen and retried" grep -q "retry in" "$WORK/cassandra.log"
cuts=$(proxy_cuts)
rows=$(echo "$out" | awk '{print $2}'); lost=$(echo "$out" | awk '{print $6}')
line="cassandra: $kills kills of sluice, $crashes server crashes, $cuts connection cuts, $N records,"
line="$line ${lost:-$N} lost, $((${rows:-0} - N + ${lost:-N})) duplicated"
echo "$line"
echo "$line" >> "${FAULT_SUMMARY:-/dev/null}"
[ -n "${KEEP:-}" ] && cp "$WORK/cassandra.log" /tmp/faults_cassandra.log
done_tests
