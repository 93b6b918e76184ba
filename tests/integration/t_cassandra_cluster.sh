#!/bin/sh
# Cassandra sink against a real 3-node Apache Cassandra 2.1.0 cluster (127.0.0.1,
# 127.0.0.2, 127.0.0.3; keyspace with replication_factor 3, writes at QUORUM):
#  1. a feeder appends records to a followed file while sluice writes them to the cluster
#     through all three nodes;
#  2. node 2 is killed with SIGKILL mid-run: sluice logs it down (and /metrics shows
#     sluice_cassandra_host_up 0 for it), and writes go on through the two others;
#  3. node 2 is restarted on its data dir: sluice logs it back (host_up 1), connects to
#     it again and writes go on;
#  4. the feeder stops: every record it wrote is in the table, each id exactly once
#     (read back by id at QUORUM by an independent client, python3-cassandra).
# Waits are bounded polls of conditions (rows in the table, lines in the log).
. "$(dirname "$0")/../runtime/lib.sh"
. "$(dirname "$0")/lib_cassandra.sh"
cass_setup
t0=$(date +%s)
cass_cluster_start 3
echo "# cluster of 3 formed in $(( $(date +%s) - t0 )) s"
P=$CASS_PORT
export CASSANDRA_HOSTS="127.0.0.1:$P,127.0.0.2:$P,127.0.0.3:$P" WORK

# has_id ID: is row ID in sluice_cl.rows? (consistency ONE through nodes 1 and 3: a
# progress gauge; the feeder numbers records in order and the job writes them in order)
has_id() {
  $PY3 - "$P" "$1" <<'PY' 2>/dev/null
import sys
from cassandra.cluster import Cluster
from cassandra import ConsistencyLevel
from cassandra.query import SimpleStatement
p, i = int(sys.argv[1]), int(sys.argv[2])
c = Cluster(["127.0.0.1", "127.0.0.3"], port=p, protocol_version=3, connect_timeout=10)
s = c.connect()
s.default_timeout = 20
r = s.execute(SimpleStatement("SELECT id FROM sluice_cl.rows WHERE id = %d" % i, consistency_level=ConsistencyLevel.ONE))
c.shutdown()
sys.exit(0 if list(r) else 1)
PY
}
fed_now() { wc -l < "$WORK/feed.jsonl" | tr -d ' '; }
# wait_id ID [TRIES]: poll (1 s apart) until row ID is in the table
wait_id() {
  _w=0
  until has_id "$1"; do
    _w=$((_w + 1)); [ $_w -gt "${2:-90}" ] && return 1
    sleep 1
  done
}
# wait_log PATTERN COUNT [TRIES]: until grep -cE PATTERN run.log >= COUNT (0.5 s apart)
wait_log() {
  _w=0
  while [ "$(grep -cE "$1" "$WORK/run.log")" -lt "$2" ]; do
    _w=$((_w + 1)); [ $_w -gt "${3:-240}" ] && return 1
    sleep 0.5
  done
}

SPORT=$(cass_free_port)
export SPORT
# metric NAME: its value for node 2 at /metrics (empty when absent)
metric() {
  curl -s "http://127.0.0.1:$SPORT/metrics" | grep "^$1{" | grep "host=\"127.0.0.2:$P\"" | awk '{print $2}'
}
cat > "$WORK/cl.yaml" <<'YAML'
data_dir: ${WORK}/data
serve: { listen: "127.0.0.1:${SPORT}" }
sources:
  feed: { file: { path: "${WORK}/feed.jsonl", follow: true, poll: 50ms, chunk: 200 }, to: events }
jobs:
  store:
    from: events
    to:
      - cassandra:
          hosts: ["${CASSANDRA_HOSTS}"]
          keyspace: sluice_cl
          table: rows
          primary_key: id
          replication: { class: SimpleStrategy, replication_factor: 3 }
          consistency: quorum
          columns: { id: bigint, v: text }
YAML

# the feeder: 500 records a second, numbered from 1, until $WORK/stop exists; then
# the last id in $WORK/fed
: > "$WORK/feed.jsonl"
$PY3 - "$WORK" <<'PY' &
import os, sys, time
w = sys.argv[1]
i = 0
with open(w + "/feed.jsonl", "a") as f:
    while not os.path.exists(w + "/stop"):
        for _ in range(50):
            i += 1
            f.write('{"id": %d, "v": "r%d"}\n' % (i, i))
        f.flush()
        time.sleep(0.1)
with open(w + "/fed.tmp", "w") as g:
    g.write("%d\n" % i)
os.rename(w + "/fed.tmp", w + "/fed")
PY
fpid=$!

"$SLUICE" run "$WORK/cl.yaml" 2>"$WORK/run.log" &
spid=$!
check "connected to all three nodes" wait_log "connected to 127\.0\.0\.[123]:$P" 3
check "rows flow in" wait_id 3000

# ---- 2. node 2 killed mid-run ----
cass_node_kill 2
c1=$(fed_now)
check "node 2 down in sluice's log" wait_log "127\.0\.0\.2:$P is down" 1
check "writes go on while node 2 is down (5,000 records fed after the kill land)" wait_id $((c1 + 5000))
eq "/metrics: node 2 down" "$(metric sluice_cassandra_host_up) $(metric sluice_cassandra_host_down_total)" "0 1"
check "sluice still running with node 2 down" kill -0 $spid

# ---- 3. node 2 restarted ----
cass_node_start 2
check "node 2 back in sluice's log" wait_log "127\.0\.0\.2:$P is up again" 1
check "sluice connected to node 2 again" wait_log "connected to 127\.0\.0\.2:$P" 2
eq "/metrics: node 2 up again" "$(metric sluice_cassandra_host_up) $(metric sluice_cassandra_host_down_total)" "1 1"
c2=$(fed_now)
check "writes go on after node 2 is back (5,000 more)" wait_id $((c2 + 5000))

# ---- 4. everything the feeder wrote is in the table, once ----
touch "$WORK/stop"
wait $fpid
fed=$(cat "$WORK/fed")
echo "# fed $fed records"
check "the last fed record reached the table" wait_id "$fed"
kill -TERM $spid
wait $spid
rc=$?
eq "sluice exits 0 on SIGTERM" "$rc" 0
out=$($PY3 - "$P" "$fed" <<'PY'
import sys
from cassandra.cluster import Cluster
from cassandra import ConsistencyLevel
from cassandra.query import SimpleStatement
p, n = int(sys.argv[1]), int(sys.argv[2])
c = Cluster(["127.0.0.1", "127.0.0.2", "127.0.0.3"], port=p, protocol_version=3, connect_timeout=10)
s = c.connect()
s.default_timeout = 120
ids, bad = [], 0
for r in s.execute(SimpleStatement("SELECT id, v FROM sluice_cl.rows", fetch_size=5000,
                                   consistency_level=ConsistencyLevel.QUORUM)):
    ids.append(r.id)
    bad += r.v != "r%d" % r.id
want = set(range(1, n + 1))
print("rows %d distinct %d missing %d extra %d bad %d" % (len(ids), len(set(ids)), len(want - set(ids)),
                                                        len(set(ids) - want), bad))
c.shutdown()
PY
)
eq "every id once, read back at QUORUM" "$out" "rows $fed distinct $fed missing 0 extra 0 bad 0"
check "no fatal sink error" sh -c "! grep -qiE 'fatal|giving up' '$WORK/run.log'"
grep -E "is down|is up again|connected to|retry in" "$WORK/run.log" | sed 's/^/# /' | head -20
[ -n "${KEEP:-}" ] && cp "$WORK/run.log" /tmp/cass_cluster_run.log
done_tests
