#!/bin/sh
# MySQL sink against a real MariaDB (started here on 127.0.0.1, random port):
#  1. exactly-once under crashes: 100,000 generated records -> 4 partitions -> a job
#     writing an append table (no key: a repeat would be an extra row) and a keyed
#     table; sluice is SIGKILLed at 5 random moments and the database server itself is
#     restarted once mid-run; at the end each table holds exactly 100,000 rows, each id once;
#  2. a value out of range goes to <job>.dlq with the server's message while the rest
#     of its batch lands;
#  3. every column type round-trips (nulls, unicode, large ints, timestamps before 1970),
#     read back with the mariadb CLI, and the created table's schema matches `columns`;
#  5. a killed process's COMMIT reaching the server late (issue 12 item 2): a proxy
#     (tests/tcpproxy.py) holds the COMMIT after the offsets statement for 3 s, sluice
#     is SIGKILLed meanwhile and restarted at once; the new process must wait for that
#     transaction and skip what it committed: every id exactly once.
. "$(dirname "$0")/../runtime/lib.sh"
. "$(dirname "$0")/lib_mysql.sh"
. "$(dirname "$0")/lib_proxy.sh"
my_start
trap 'proxy_stop; my_stop; cleanup_work' EXIT

N=${MY_RECORDS:-100000}
rand() {  # rand LO HI (hundredths of a second) -> seconds
  awk -v s="$(od -An -N2 -tu2 /dev/urandom)" -v lo="$1" -v hi="$2" 'BEGIN { printf "%.2f", (lo + s % (hi - lo + 1)) / 100 }'
}

# ---- 1. crashes and a server restart ----
cat > "$WORK/crash.yaml" <<YAML
data_dir: $WORK/data
topics:
  events: { partitions: 4 }
sources:
  gen:
    generate: { count: $N, chunk: 1000, rate: 10000,
                template: { id: "meta.seq", name: "'coin-' + string(meta.seq % 97)", price: "meta.seq * 0.25" } }
    key: "string(id)"
    to: events
jobs:
  store:
    from: events
    max_batch: 2000
    to:
      - mysql: { dsn: "\${MYSQL_DSN}", table: events_append,
                    columns: { id: bigint, name: text, price: double } }
      - mysql: { dsn: "\${MYSQL_DSN}", table: events_keyed, key: [id],
                    columns: { id: bigint, name: text, price: double } }
YAML
count() { my_q "select count(*) from $1" 2>/dev/null || echo "?"; }
i=0
while [ $i -lt 5 ]; do
  "$SLUICE" run "$WORK/crash.yaml" --log-level error 2>>"$WORK/log" &
  pid=$!
  sleep "$(rand 20 90)"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  i=$((i + 1))
  printf '%s ' "$(count events_append)" >> "$WORK/progress"
  if [ $i -eq 3 ]; then
    # the server itself restarts while sluice is writing
    "$SLUICE" run "$WORK/crash.yaml" --log-level warn 2>>"$WORK/restart.log" &
    pid=$!
    sleep 0.5
    my_restart
    sleep 1.5
    printf '[restart] %s ' "$(count events_append)" >> "$WORK/progress"
    sleep "$(rand 10 50)"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    printf '%s ' "$(count events_append)" >> "$WORK/progress"
  fi
done
echo "rows after each kill: $(cat "$WORK/progress")"
last=$(awk '{ print $NF }' "$WORK/progress")
check "the kills happened mid-stream (not after the end)" [ "${last:-0}" -lt "$N" ]
check "the server restart was seen and retried" grep -q "retry in" "$WORK/restart.log"
"$SLUICE" run --once "$WORK/crash.yaml" --log-level warn 2>>"$WORK/log"
eq "final run exits 0" "$?" 0
eq "append table holds exactly $N rows" "$(count events_append)" "$N"
eq "append table: each id exactly once" "$(my_q 'select count(distinct id) from events_append')" "$N"
eq "ids 0..N-1" "$(my_q "select concat(min(id), '-', max(id)) from events_append")" "0-$((N - 1))"
eq "keyed table holds exactly $N rows" "$(count events_keyed)" "$N"
eq "rows are the records" "$(my_q 'select count(*) from events_keyed where price <> id * 0.25')" 0
eq "offsets stored per partition" "$(my_q "select concat(count(*), ':', sum(next_offset)) from sluice_offsets where grp = 'store:events_append'")" "4:$N"
lag=$("$SLUICE" topics "$WORK/crash.yaml" | awk '$1 == "store" && $2 == "events" { s += $5 } END { print s }')
eq "group lag is 0" "$lag" 0

# ---- 2. a rejected row goes to the DLQ, the rest of its batch lands ----
cat > "$WORK/dlq.yaml" <<YAML
data_dir: $WORK/data2
sources:
  gen:
    generate: { count: 1000, template: { id: "meta.seq", small: "if meta.seq == 500 then 99999999999 else meta.seq",
                                         name: "if meta.seq == 700 then null else 'n'" } }
    to: nums
jobs:
  nums_store:
    from: nums
    to:
      - mysql: { table: nums, key: [id], columns: { id: bigint, small: int, name: text } }
YAML
my_q "create table nums (id bigint primary key, small int, name text not null) engine=InnoDB" >/dev/null
"$SLUICE" run --once "$WORK/dlq.yaml" --log-level error 2>>"$WORK/log"
eq "dlq run exits 0" "$?" 0
eq "the rest of the batch landed" "$(my_q 'select count(*) from nums')" 998
"$SLUICE" tail "$WORK/dlq.yaml" nums_store.dlq --from-start > "$WORK/dlq.out"
eq "two records in nums_store.dlq" "$(wc -l < "$WORK/dlq.out" | tr -d ' ')" 2
check "out of range: the shared type check's reason (as in SQLite and PostgreSQL)" \
  grep -q "column 'small': 99999999999 is out of range for int" "$WORK/dlq.out"
check "NOT NULL: the server's message" grep -q "Column 'name' cannot be null" "$WORK/dlq.out"
check "the dlq holds the original record" grep -q '"record":{"id":500' "$WORK/dlq.out"

# ---- 3. every column type round-trips; the schema matches columns ----
cat > "$WORK/types.yaml" <<YAML
data_dir: $WORK/data3
topics:
  typed: { partitions: 1 }
jobs:
  types_store:
    from: typed
    to:
      - mysql: { table: typed, key: [id, k],
                 columns: { id: bigint, k: text, t: text, i: int, b: bigint, d: double, f: bool, ts: timestamp,
                            j: json, lat: "decimal(9,6)", lon: "decimal(9,6)", v: "varchar(20)" } }
YAML
cat > "$WORK/typed.jsonl" <<'JSON'
{"id":1,"k":"Ä","t":"héllo wörld ✓ 日本 😀 'quote' \"dq\" \\ back","i":-2147483648,"b":9223372036854775807,"d":-1.5e300,"f":true,"ts":-86400001,"j":{"a":[1,2.5,{"b":null}],"u":"ü"},"lat":-89.999999,"lon":180,"v":"short"}
{"id":1,"k":"ä","t":null,"i":null,"b":null,"d":null,"f":null,"ts":null,"j":null,"lat":null,"lon":null,"v":null}
{"id":3,"k":"x","t":"","i":0,"b":-9223372036854775808,"d":0.1,"f":false,"ts":"1969-07-20 20:17:40.5","j":"just a string","lat":47.2451,"lon":-179.999999,"v":"x"}
JSON
"$SLUICE" produce "$WORK/types.yaml" typed < "$WORK/typed.jsonl" >/dev/null
"$SLUICE" run --once "$WORK/types.yaml" --log-level error 2>>"$WORK/log"
eq "types run exits 0" "$?" 0
row() { my_q "select concat_ws('|', t, i, b, d, f, ts, j, lat, lon, v, t is null) from typed where id = $1 and k = '$2'"; }
eq "row 1: unicode (4-byte too), extremes, pre-1970 timestamp (-86400001 ms), json, lat/lon" "$(row 1 Ä)" \
  "héllo wörld ✓ 日本 😀 'quote' \"dq\" \\\\ back|-2147483648|9223372036854775807|-1.5e300|1|1969-12-30 23:59:59.999|{\"a\":[1,2.5,{\"b\":null}],\"u\":\"ü\"}|-89.999999|180.000000|short|0"
eq "keys compare exactly (Ä and ä are two rows)" "$(my_q "select count(*) from typed where id = 1")" 2
eq "row 2: nulls stay null" "$(my_q "select isnull(t) + isnull(i) + isnull(b) + isnull(d) + isnull(f) + isnull(ts) + isnull(j) + isnull(lat) + isnull(lon) + isnull(v) from typed where id = 1 and k = 'ä'")" 10
eq "row 3: empty string, min bigint, string timestamp, json string, decimals" "$(row 3 x)" \
  "|0|-9223372036854775808|0.1|0|1969-07-20 20:17:40.500|\"just a string\"|47.245100|-179.999999|x|0"
eq "schema matches columns" "$(my_q "select group_concat(concat(column_name, ':', column_type, ':', is_nullable) order by ordinal_position) from information_schema.columns where table_schema = 'sluice_test' and table_name = 'typed'")" \
  "id:bigint(20):NO,k:varchar(255):NO,t:text:YES,i:int(11):YES,b:bigint(20):YES,d:double:YES,f:tinyint(1):YES,ts:datetime(3):YES,j:longtext:YES,lat:decimal(9,6):YES,lon:decimal(9,6):YES,v:varchar(20):YES"
eq "primary key is (id, k)" "$(my_q "select group_concat(column_name order by seq_in_index) from information_schema.statistics where table_schema = 'sluice_test' and table_name = 'typed' and index_name = 'PRIMARY'")" "id,k"
eq "InnoDB, utf8mb4" "$(my_q "select concat(engine, ',', table_collation) from information_schema.tables where table_schema = 'sluice_test' and table_name = 'typed'")" "InnoDB,utf8mb4_bin"
# ---- 4. the shipped pipeline pipelines/flights.mysql.yaml, on the sample responses ----
runp() { MYSQL_DSN="mysql://root@127.0.0.1:$MY_PORT/final" SLUICE_DATA=$WORK/pdata SLUICE_LISTEN=127.0.0.1:0 \
  "$SLUICE" run --once --replay "$ROOT/samples" "$ROOT/pipelines/flights.mysql.yaml" --log-level error 2>>"$WORK/log"; }
runp
eq "flights.mysql.yaml: run --once --replay exits 0" "$?" 0
n1=$(my_q "select count(*) from flights" final)
check "flights.mysql.yaml: final.flights has rows" [ "${n1:-0}" -gt 0 ]
eq "flights.mysql.yaml: flights_latest has one row per aircraft" "$(my_q "select count(*) from flights_latest" final)" "$(my_q "select count(distinct icao24) from flights" final)"
eq "flights.mysql.yaml: primary key (icao24, last_contact)" "$(my_q "select group_concat(column_name order by seq_in_index) from information_schema.statistics where table_schema = 'final' and table_name = 'flights' and index_name = 'PRIMARY'")" "icao24,last_contact"
eq "flights.mysql.yaml: lat/lon are decimal(9,6)" "$(my_q "select group_concat(column_type order by column_name) from information_schema.columns where table_schema = 'final' and table_name = 'flights' and column_name in ('latitude', 'longitude')")" "decimal(9,6),decimal(9,6)"
runp
eq "flights.mysql.yaml: a second run adds nothing" "$(my_q "select count(*) from flights" final)" "$n1"

# ---- 5. the killed process's COMMIT arrives after the new process started ----
proxy_start "$MY_PORT" --hold COMMIT --after "INTO sluice_offsets" --hold-ms 3000 \
  --arm "$WORK/arm" --held "$WORK/held"
cat > "$WORK/late.yaml" <<YAML
data_dir: $WORK/data5
topics:
  ev5: { partitions: 4 }
sources:
  gen5:
    generate: { count: 20000, chunk: 2000, template: { id: "meta.seq" } }
    key: "string(id)"
    to: ev5
jobs:
  late:
    from: ev5
    max_batch: 2500
    to:
      - mysql: { dsn: "mysql://root@127.0.0.1:$PROXY_PORT/sluice_test", table: late, columns: { id: bigint } }
YAML
kills=0
i=0
while [ $i -lt 4 ]; do
  : > "$WORK/arm"     # the proxy takes it away when it holds a COMMIT of this process
  "$SLUICE" run "$WORK/late.yaml" --log-level error 2>>"$WORK/log5" &
  pid=$!
  w=0
  while [ -e "$WORK/arm" ] && kill -0 $pid 2>/dev/null && [ $w -lt 2400 ]; do sleep 0.05; w=$((w + 1)); done
  if [ ! -e "$WORK/arm" ]; then kill -9 $pid 2>/dev/null && kills=$((kills + 1)); fi
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  i=$((i + 1))
done
rm -f "$WORK/arm"
eq "four kills with a COMMIT in flight" "$kills" 4
"$SLUICE" run --once "$WORK/late.yaml" --log-level warn 2>>"$WORK/log5"
eq "late commit: final run exits 0" "$?" 0
eq "late commit: exactly 20000 rows" "$(my_q 'select count(*) from late')" 20000
eq "late commit: each id exactly once" "$(my_q "select concat(count(distinct id), ':', min(id), '-', max(id)) from late")" "20000:0-19999"
eq "late commit: offsets held per partition" "$(my_q "select concat(count(*), ':', sum(next_offset)) from sluice_offsets where grp = 'late:late'")" "4:20000"
done_tests
