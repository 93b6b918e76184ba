#!/bin/sh
# Cassandra sink against a real Apache Cassandra 2.1.0 (started here on 127.0.0.1,
# random ports; it speaks protocol v1-v3 only, so sluice's v4 -> v3 negotiation runs):
#  1. keyspace and tables created from `columns` + primary_key + clustering_order;
#  2. 50,000 generated rows of every type written by sluice, read back with an
#     independent client (Debian's python3-cassandra, protocol v3) and compared value
#     by value; a row Cassandra rejects (Invalid) and one that does not fit its column
#     type go to the DLQ while the rest lands;
#  3. the server stopped mid-run and restarted: the job retries, nothing is lost;
#  4. PasswordAuthenticator: cassandra/cassandra logs in; a wrong password is a clear
#     error in sluice's log and the job keeps retrying instead of crashing.
. "$(dirname "$0")/../runtime/lib.sh"
. "$(dirname "$0")/lib_cassandra.sh"
cass_setup
cass_start
N=${CASS_RECORDS:-50000}
PY3=/usr/bin/python3
export CASSANDRA_HOSTS="127.0.0.1:$CASS_PORT"

# ---- 1 + 2. schema, 50,000 rows of every type, DLQ ----
cat > "$WORK/all.yaml" <<'YAML'
data_dir: ${WORK}/data
sources:
  gen:
    generate:
      count: ${N}
      rate: ${RATE:-0}
      template:
        id: "meta.seq"
        name: "'café ☕ ' + string(meta.seq)"
        n: "meta.seq % 1000 - 500"
        big: "meta.seq * 1000000007"
        price: "meta.seq * 0.25"
        ratio: "meta.seq / 8"
        ok: "meta.seq % 2 == 0"
        ts: "(meta.seq - 1000) * 86400000"
        day: "format_time(meta.seq * 60000, '%Y-%m-%dT%H:%M:%SZ')"
        uid: "uuid5('url', 'sluice:' + string(meta.seq))"
        amount: "string(meta.seq) + '.' + string(meta.seq % 100)"
        tags: "['a', string(meta.seq % 3)]"
        attrs: '{"k": string(meta.seq), "e": ""}'
        coin: "'c' + string(meta.seq % 50)"
        maybe: "if meta.seq % 10 == 0 then null else meta.seq"
    key: "string(meta.seq)"
    to: events
jobs:
  store:
    from: events
    to:
      - cassandra:
          hosts: ["${CASSANDRA_HOSTS}"]
          keyspace: sluice_it
          table: all_types
          primary_key: "((id))"
          columns: { id: bigint, name: text, n: int, big: bigint, price: double, ratio: float, ok: boolean,
                     ts: timestamp, day: timestamp, uid: uuid, amount: decimal, tags: list<text>,
                     attrs: "map<text, text>", maybe: int }
      - cassandra:
          hosts: ["${CASSANDRA_HOSTS}"]
          keyspace: sluice_it
          table: prices
          primary_key: "((coin), ts)"
          clustering_order: "ts desc"
          batch_size: 20
          columns: { coin: text, ts: timestamp, price: double }
YAML
export WORK N
"$SLUICE" run "$WORK/all.yaml" --once 2>"$WORK/all.log"
eq "run --once exits 0" "$?" 0
check "v3 negotiated after the server refused v4" grep -q "CQL protocol v3, after the server refused v4" "$WORK/all.log"
tables=$(cql "SELECT columnfamily_name FROM system.schema_columnfamilies WHERE keyspace_name = 'sluice_it'" |
  tr -d '{}" ' | sed 's/columnfamily_name://' | sort | tr '\n' ' ')
eq "keyspace and tables created" "$tables" "all_types prices "
order=$(cql "SELECT validator FROM system.schema_columns WHERE keyspace_name='sluice_it' AND columnfamily_name='prices' AND column_name='ts'")
check "clustering order ts DESC" sh -c "echo '$order' | grep -q ReversedType"
types=$(cql "SELECT column_name, validator FROM system.schema_columns WHERE keyspace_name='sluice_it' AND columnfamily_name='all_types'" |
  $PY3 -c 'import sys,json; print(" ".join(sorted(json.loads(l)["column_name"]+"="+json.loads(l)["validator"].replace("org.apache.cassandra.db.marshal.","") for l in sys.stdin)))')
eq "column types" "$types" "amount=DecimalType attrs=MapType(UTF8Type,UTF8Type) big=LongType day=TimestampType id=LongType maybe=Int32Type n=Int32Type name=UTF8Type ok=BooleanType price=DoubleType ratio=FloatType tags=ListType(UTF8Type) ts=TimestampType uid=UUIDType"

# an independent client reads every row back and compares it with what was generated
verify_all() {
  $PY3 - "$CASS_PORT" "$N" "$1" <<'PY'
import sys, uuid, datetime, decimal
from cassandra.cluster import Cluster
from cassandra.query import SimpleStatement
port, n, table = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = Cluster(["127.0.0.1"], port=port, protocol_version=3, connect_timeout=10)
s = c.connect()
s.default_timeout = 120
epoch = datetime.datetime(1970, 1, 1)
seen, bad = 0, []
for r in s.execute(SimpleStatement("SELECT * FROM sluice_it." + table, fetch_size=5000)):
    i = r.id
    seen += 1
    exp = {
        "name": "café ☕ %d" % i, "n": i % 1000 - 500, "big": i * 1000000007, "price": i * 0.25,
        "ratio": i / 8, "ok": i % 2 == 0,
        "ts": epoch + datetime.timedelta(milliseconds=(i - 1000) * 86400000),
        "day": epoch + datetime.timedelta(milliseconds=i * 60000),
        "uid": uuid.uuid5(uuid.NAMESPACE_URL, "sluice:%d" % i),
        "amount": decimal.Decimal("%d.%d" % (i, i % 100)), "tags": ["a", str(i % 3)],
        "attrs": {"k": str(i), "e": ""}, "maybe": None if i % 10 == 0 else i,
    }
    for k, v in exp.items():
        got = getattr(r, k)
        if k == "ratio": ok = abs(got - v) <= abs(v) * 1e-6
        elif k in ("tags",): ok = list(got or []) == v
        elif k in ("attrs",): ok = dict(got or {}) == v
        else: ok = got == v
        if not ok and len(bad) < 5: bad.append("id %d %s: %r != %r" % (i, k, got, v))
print("rows %d" % seen)
for b in bad: print("BAD " + b)
c.shutdown()
PY
}
out=$(verify_all all_types)
eq "$N rows read back" "$(echo "$out" | grep '^rows')" "rows $N"
eq "every value as generated (unicode, big ints, pre-1970 times, decimal, uuid, list, map, nulls)" \
  "$(echo "$out" | grep -c '^BAD')" 0
echo "$out" | grep '^BAD' | head -5
eq "prices: 50 coin partitions" "$(cql "SELECT count(*) FROM sluice_it.prices" | tr -d '{}" ')" "count:$N"
first=$(cql "SELECT ts FROM sluice_it.prices WHERE coin = 'c7' LIMIT 1" | tr -d '{}"')
last=$($PY3 -c "import datetime; n=$N; i=max(k for k in range(n) if k%50==7); print((datetime.datetime(1970,1,1)+datetime.timedelta(milliseconds=(i-1000)*86400000)))")
eq "newest first in a partition (ts DESC)" "$first" "ts: $last"

# DLQ: a partition key over 64 KiB (Cassandra: Invalid) and a value that is not an int
cat > "$WORK/dlq.yaml" <<'YAML'
data_dir: ${WORK}/dlq-data
sources:
  in: { file: { path: "${WORK}/dlq.jsonl" }, to: rows }
jobs:
  store:
    from: rows
    to:
      - cassandra: { hosts: ["${CASSANDRA_HOSTS}"], keyspace: sluice_it, table: dlq_rows, primary_key: k,
                     columns: { k: text, v: int }, batch_size: 10 }
YAML
$PY3 -c '
import json
print(json.dumps({"k": "a", "v": 1}))
print(json.dumps({"k": "x" * 70000, "v": 2}))
print(json.dumps({"k": "b", "v": "not a number"}))
print(json.dumps({"k": "c", "v": 3}))
print(json.dumps({"v": 4}))' > "$WORK/dlq.jsonl"
"$SLUICE" run "$WORK/dlq.yaml" --once 2>"$WORK/dlq.log"
eq "dlq run exits 0" "$?" 0
eq "the good rows land" "$(cql "SELECT k, v FROM sluice_it.dlq_rows" | sort | tr -d '\n')" '{"k": "a", "v": 1}{"k": "c", "v": 3}'
"$SLUICE" tail "$WORK/dlq.yaml" store.dlq --from-start > "$WORK/dlq.out" 2>/dev/null
eq "3 rejected rows in store.dlq" "$(wc -l < "$WORK/dlq.out" | tr -d ' ')" 3
check "Invalid from Cassandra, with its message" grep -q 'Invalid query (0x2200)' "$WORK/dlq.out"
check "type mismatch named" grep -q "column 'v': int: not an integer" "$WORK/dlq.out"
check "missing key named" grep -q "primary key column 'k' is null or missing" "$WORK/dlq.out"

# ---- 3. the server stopped mid-run and restarted ----
sed -e 's|table: all_types|table: restart_rows|' -e 's|data_dir: ${WORK}/data|data_dir: ${WORK}/data2|' \
  "$WORK/all.yaml" |
  awk '/- cassandra:/{n++} n<2' > "$WORK/restart.yaml"
RATE=10000 "$SLUICE" run "$WORK/restart.yaml" --once 2>"$WORK/restart.log" &
spid=$!
sleep 2
cass_stop
sleep 3
check "sluice still running while the server is down" kill -0 $spid
cass_start
i=0; while kill -0 $spid 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
wait $spid
eq "run --once finishes after the restart" "$?" 0
check "the outage was retried" grep -q "sink cassandra: .*retry in" "$WORK/restart.log"
out=$(verify_all restart_rows)
eq "no loss: all $N rows present after the restart" "$(echo "$out" | grep '^rows')" "rows $N"
eq "restart rows intact" "$(echo "$out" | grep -c '^BAD')" 0

# ---- 4. PasswordAuthenticator ----
cass_stop
cass_start password
cat > "$WORK/auth.yaml" <<'YAML'
data_dir: ${WORK}/auth-data
sources:
  gen: { generate: { count: 100, template: { id: "meta.seq" } }, to: ev }
jobs:
  store:
    from: ev
    to:
      - cassandra: { hosts: ["${CASSANDRA_HOSTS}"], keyspace: sluice_auth, table: t, primary_key: id,
                     columns: { id: int }, username: cassandra, password: "${CASSANDRA_PASSWORD}" }
YAML
CASSANDRA_PASSWORD=cassandra "$SLUICE" run "$WORK/auth.yaml" --once 2>"$WORK/auth.log"
eq "login with cassandra/cassandra" "$?" 0
eq "100 rows written with authentication" "$(cql "SELECT count(*) FROM sluice_auth.t" cassandra cassandra | tr -d '{}" ')" "count:100"
rm -rf "$WORK/auth-data"
CASSANDRA_PASSWORD=wrong-secret "$SLUICE" run "$WORK/auth.yaml" 2>"$WORK/badauth.log" &
bpid=$!
sleep 5
check "wrong password: the job keeps retrying" kill -0 $bpid
kill -TERM $bpid
wait $bpid
brc=$?
check "wrong password: clean exit on SIGTERM (rc $brc)" [ "$brc" -lt 128 ]
# (Cassandra 2.1 says "Username and/or password are incorrect"; later versions
# "Provided username cassandra and/or password are incorrect")
check "wrong password: a clear error in the log" grep -Eq \
  "authentication failed for user 'cassandra': Authentication error \(0x0100\): (Provided username cassandra and/or password|Username and/or password) are incorrect" \
  "$WORK/badauth.log"
check "wrong password: retried with backoff" sh -c "grep -c 'retry in' '$WORK/badauth.log' | awk '{exit !(\$1 >= 2)}'"
check "the password is never logged" sh -c "! grep -q wrong-secret '$WORK/badauth.log'"
[ -n "${KEEP:-}" ] && cp "$WORK"/*.log /tmp/ 2>/dev/null
done_tests
