#!/bin/sh
# PostgreSQL sink against a real PostgreSQL 15 (started here on 127.0.0.1, random port):
#  1. exactly-once under crashes: 100,000 generated records -> 4 partitions -> a job
#     writing an append table (no key: a repeat would be an extra row) and a keyed
#     table; sluice is SIGKILLed at 5 random moments and the database server itself is
#     restarted once mid-run; at the end each table holds exactly 100,000 rows, each id once;
#  2. a value out of range goes to <job>.dlq with the server's message while the rest
#     of its batch lands;
#  3. every column type round-trips (nulls, unicode, large ints, timestamps before 1970),
#     read back with psql, and the created table's schema matches `columns`;
#  4. the shipped pipelines/crypto.postgres.yaml runs on the sample responses;
#  5. binary COPY stores exactly what multi-row INSERTs (text) store, rejects the same
#     rows, and falls back to the text format where the server must convert a value;
#  6. a killed process's transaction still committing on the server (issue 12 item 1):
#     a trigger slows the offsets update, sluice is SIGKILLed six times while a
#     backend is inside it, and the next process must wait for that transaction and
#     skip what it committed: every id exactly once.
. "$(dirname "$0")/../runtime/lib.sh"
. "$(dirname "$0")/lib_pg.sh"
pg_start
export PGTZ=UTC
N=${PG_RECORDS:-100000}
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
      - postgres: { dsn: "\${PG_DSN}", table: events_append,
                    columns: { id: bigint, name: text, price: double } }
      - postgres: { dsn: "\${PG_DSN}", table: events_keyed, key: [id],
                    columns: { id: bigint, name: text, price: double } }
YAML
count() { psql_q "select count(*) from $1" 2>/dev/null || echo "?"; }
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
    pg_restart
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
eq "append table: each id exactly once" "$(psql_q 'select count(distinct id) from events_append')" "$N"
eq "ids 0..N-1" "$(psql_q "select min(id) || '-' || max(id) from events_append")" "0-$((N - 1))"
eq "keyed table holds exactly $N rows" "$(count events_keyed)" "$N"
eq "rows are the records" "$(psql_q 'select count(*) from events_keyed where price <> id * 0.25')" 0
eq "offsets stored per partition" "$(psql_q "select count(*) || ':' || sum(next_offset) from sluice_offsets where grp = 'store:events_append'")" "4:$N"
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
      - postgres: { table: nums, key: [id], columns: { id: bigint, small: int, name: text } }
YAML
psql_q "create table nums (id bigint primary key, small int, name text not null)" >/dev/null
"$SLUICE" run --once "$WORK/dlq.yaml" --log-level error 2>>"$WORK/log"
eq "dlq run exits 0" "$?" 0
eq "the rest of the batch landed" "$(psql_q 'select count(*) from nums')" 998
"$SLUICE" tail "$WORK/dlq.yaml" nums_store.dlq --from-start > "$WORK/dlq.out"
eq "two records in nums_store.dlq" "$(wc -l < "$WORK/dlq.out" | tr -d ' ')" 2
check "out of range: the server's message" grep -q 'value \\"99999999999\\" is out of range for type integer' "$WORK/dlq.out"
check "NOT NULL: the server's message" grep -q 'null value in column \\"name\\"' "$WORK/dlq.out"
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
      - postgres: { table: typed, schema: sl_types, key: [id],
                    columns: { id: bigint, t: text, i: int, b: bigint, d: double, f: bool, ts: timestamp,
                               tz: timestamptz, j: jsonb, n: "decimal(12,6)" } }
YAML
cat > "$WORK/typed.jsonl" <<'JSON'
{"id":1,"t":"héllo wörld ✓ 日本 'quote' \"dq\" \\ back","i":-2147483648,"b":9223372036854775807,"d":-1.5e300,"f":true,"ts":-86400000,"tz":-1234567,"j":{"a":[1,2.5,{"b":null}],"u":"ü"},"n":"-123456.789012"}
{"id":2,"t":null,"i":null,"b":null,"d":null,"f":null,"ts":null,"tz":null,"j":null,"n":null}
{"id":3,"t":"","i":0,"b":-9223372036854775808,"d":0.1,"f":false,"ts":"1969-07-20T20:17:40Z","tz":"1900-01-01T00:00:00.001Z","j":"just a string","n":0.5}
JSON
"$SLUICE" produce "$WORK/types.yaml" typed < "$WORK/typed.jsonl" >/dev/null
"$SLUICE" run --once "$WORK/types.yaml" --log-level error 2>>"$WORK/log"
eq "types run exits 0" "$?" 0
row() { psql_q "select concat_ws('|', t, i, b, d, f, ts, tz, j::text, n, t is null) from sl_types.typed where id = $1"; }
eq "row 1: unicode, extremes, pre-1970 timestamps, json" "$(row 1)" \
  "héllo wörld ✓ 日本 'quote' \"dq\" \\ back|-2147483648|9223372036854775807|-1.5e+300|t|1969-12-31 00:00:00|1969-12-31 23:39:25.433+00|{\"a\": [1, 2.5, {\"b\": null}], \"u\": \"ü\"}|-123456.789012|f"
eq "row 2: nulls stay null" "$(psql_q "select num_nulls(t, i, b, d, f, ts, tz, j, n) from sl_types.typed where id = 2")" 9
eq "row 3: empty string, min bigint, ISO strings, json string" "$(row 3)" \
  "|0|-9223372036854775808|0.1|f|1969-07-20 20:17:40|1900-01-01 00:00:00.001+00|\"just a string\"|0.500000|f"
eq "schema matches columns" "$(psql_q "select string_agg(column_name || ':' || data_type || ':' || is_nullable, ',' order by ordinal_position) from information_schema.columns where table_schema = 'sl_types' and table_name = 'typed'")" \
  "id:bigint:NO,t:text:YES,i:integer:YES,b:bigint:YES,d:double precision:YES,f:boolean:YES,ts:timestamp without time zone:YES,tz:timestamp with time zone:YES,j:jsonb:YES,n:numeric:YES"
eq "numeric precision and scale" "$(psql_q "select numeric_precision || ',' || numeric_scale from information_schema.columns where table_schema = 'sl_types' and table_name = 'typed' and column_name = 'n'")" "12,6"
eq "primary key is (id)" "$(psql_q "select string_agg(a.attname, ',') from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) where i.indrelid = 'sl_types.typed'::regclass and i.indisprimary")" "id"
eq "offsets live in the sink's schema" "$(psql_q "select count(*) from sl_types.sluice_offsets where grp = 'types_store:typed'")" 1
# ---- 4. the shipped pipeline pipelines/crypto.postgres.yaml, on the sample responses ----
runp() { SLUICE_DATA=$WORK/pdata SLUICE_LISTEN=127.0.0.1:0 "$SLUICE" run --once --replay "$ROOT/samples" \
  "$ROOT/pipelines/crypto.postgres.yaml" --log-level error 2>>"$WORK/log"; }
runp
eq "crypto.postgres.yaml: run --once --replay exits 0" "$?" 0
n1=$(psql_q "select count(*) from prices")
check "crypto.postgres.yaml: prices has rows" [ "${n1:-0}" -gt 0 ]
eq "crypto.postgres.yaml: prices_latest has one row per coin" "$(psql_q "select count(*) from prices_latest")" "$(psql_q "select count(distinct id) from prices")"
eq "crypto.postgres.yaml: primary key (id, ts)" "$(psql_q "select string_agg(a.attname, ',' order by array_position(i.indkey::int2[], a.attnum)) from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) where i.indrelid = 'prices'::regclass and i.indisprimary")" "id,ts"
runp
eq "crypto.postgres.yaml: a second run adds nothing" "$(psql_q "select count(*) from prices")" "$n1"
# ---- 5. binary COPY stores what the text path stores ----
# The same records through COPY (binary where every value allows, text otherwise) and
# through multi-row INSERTs (copy: false, text parameters): the tables and the rejected
# rows must be the same.  Batches of 4 mix binary batches, text batches (a string
# timestamp, values out of range), rows rejected by the server, keys twice in a batch,
# keys already in the table (upserts: COPY straight into the table fails on them, then
# the staging table), and existing tables whose column types differ
# from `columns`.
COLS="{ id: bigint, k: bigint, s: smallint, i: int, b: bigint, d: double, r: real, f: bool, ts: timestamp, tz: timestamptz, t: text, j: json, jb: jsonb }"
LCOLS="{ id: bigint, s: smallint, i: int, d: double, t: text, ts: timestamp, f: bool }"
cat > "$WORK/mix.yaml" <<YAML
data_dir: $WORK/data5
topics:
  mix: { partitions: 1 }
jobs:
  bin_a: { from: mix, max_batch: 4, to: [ postgres: { table: mix_bin_a, columns: $COLS } ] }
  ins_a: { from: mix, max_batch: 4, to: [ postgres: { table: mix_ins_a, copy: false, columns: $COLS } ] }
  bin_k: { from: mix, max_batch: 4, to: [ postgres: { table: mix_bin_k, key: [k], columns: $COLS } ] }
  ins_k: { from: mix, max_batch: 4, to: [ postgres: { table: mix_ins_k, key: [k], copy: false, columns: $COLS } ] }
  bin_l: { from: mix, max_batch: 4, to: [ postgres: { table: mix_bin_l, columns: $LCOLS } ] }
  ins_l: { from: mix, max_batch: 4, to: [ postgres: { table: mix_ins_l, copy: false, columns: $LCOLS } ] }
YAML
cat > "$WORK/mix.jsonl" <<'JSON'
{"id":1,"k":1,"s":1,"i":-2147483648,"b":9223372036854775807,"d":-0.0,"r":0.1,"f":true,"ts":-86400001,"tz":1700000000123,"t":"tab\there\nnew \\ back ✓ 'q' \"dq\"","j":{"a":[1,2.5,{"b":null}]},"jb":{"z":1,"a":"ü"}}
{"id":2,"k":2,"s":-32768,"i":42.0,"b":-9223372036854775808,"d":1e-300,"r":3.4028234e38,"f":false,"ts":1.5,"tz":-62135596800000,"t":"","j":"str","jb":[1,"x",null]}
{"id":3,"k":3,"s":32767,"d":1.7976931348623157e308,"r":1e-45,"ts":253402300799999,"t":"\\N","j":null,"jb":"s"}
{"id":4,"k":4,"i":7,"d":5,"r":16777217,"f":1,"tz":-1.5,"t":"x"}
{"id":5,"k":0,"ts":"2024-01-01 12:00:00","t":"string timestamp"}
{"id":6,"k":1,"s":40000,"t":"smallint out of range"}
{"id":7,"k":2,"d":"1.5","t":"double from a string"}
{"id":8,"k":3,"i":1.5,"t":"int from a fraction"}
{"id":9,"k":4,"t":123}
{"id":10,"k":0,"t":1.25,"d":-123456789.125,"s":5.0}
{"id":11,"k":1,"t":true,"b":1e19}
{"id":12,"k":2,"t":{"o":1},"ts":1e20}
{"id":13,"k":3,"r":1e39,"t":"real out of range"}
{"id":14,"k":4,"f":"yes","t":"bool from a string"}
{"id":15,"k":0,"jb":{"bad":"\u0000"},"t":"jsonb with NUL"}
{"id":16,"k":1,"t":"nul\u0000byte"}
{"id":17,"k":2,"d":0.1,"r":-0.0,"f":false,"t":"after","i":2147483647}
{"id":18,"k":2,"d":0.2,"t":"same key, same batch"}
{"id":19,"k":3,"d":0.3,"t":"x"}
{"id":20,"k":2,"d":0.4,"t":"same key again","b":-5}
{"id":21,"k":7,"t":"new key"}
{"id":22,"k":8,"t":"new key"}
{"id":23,"k":9,"t":"new key","ts":0,"tz":0}
{"id":24,"k":7,"t":"last of 7","s":-1}
{"id":25,"k":1,"t":"key in the table","d":2.5}
{"id":26,"k":3,"t":"key in the table"}
{"id":27,"k":10,"t":"new key"}
{"id":28,"k":11,"t":"new key"}
{"id":29,"k":12,"t":"new key"}
{"id":30,"k":13,"t":"new key"}
{"id":31,"k":14,"t":"new key"}
{"id":32,"k":15,"t":"new key"}
{"id":33,"k":16,"t":"new key"}
{"id":34,"k":17,"t":"new key"}
{"id":35,"k":18,"t":"new key"}
{"id":36,"k":19,"t":"new key"}
JSON
for t in mix_bin_l mix_ins_l; do
  psql_q "create table $t (id bigint, s bigint, i text, d real, t varchar(60), ts timestamptz, f text, extra text default 'dflt')" >/dev/null
done
"$SLUICE" produce "$WORK/mix.yaml" mix < "$WORK/mix.jsonl" >/dev/null
"$SLUICE" run --once "$WORK/mix.yaml" --log-level error 2>>"$WORK/log"
eq "mix run exits 0" "$?" 0
digest() { psql_q "select count(*) || ':' || md5(string_agg(x::text, '|' order by id)) from $1 x"; }
dlq() {  # the reasons of a job's rejected rows, one a line, sorted
  "$SLUICE" tail "$WORK/mix.yaml" "$1.dlq" --from-start |
    python3 -c 'import json, sys; print("\n".join(sorted(json.loads(l)["value"]["error"] for l in sys.stdin if l.strip())))'
}
eq "append: binary COPY and INSERT store the same rows" "$(digest mix_bin_a)" "$(digest mix_ins_a)"
eq "append: 29 of 36 rows stored" "$(psql_q 'select count(*) from mix_bin_a')" 29
eq "append: the same rows rejected, for the same reasons" "$(dlq bin_a)" "$(dlq ins_a)"
dlq bin_a > "$WORK/mix_dlq"
check "append: the server's reason" grep -q 'value "40000" is out of range for type smallint' "$WORK/mix_dlq"
check "append: the client's reason (NUL)" grep -q 'a string with a NUL byte' "$WORK/mix_dlq"
eq "append: values read back (extremes, -0, denormal real, fractional ms)" "$(psql_q "select concat_ws('|', id, s, i, b, d, r, f, ts, tz, j, jb) from mix_bin_a where id in (1, 2, 3, 4) order by id")" "$(cat <<'ROWS'
1|1|-2147483648|9223372036854775807|-0|0.1|t|1969-12-30 23:59:59.999|2023-11-14 22:13:20.123+00|{"a":[1,2.5,{"b":null}]}|{"a": "ü", "z": 1}
2|-32768|42|-9223372036854775808|1e-300|3.4028235e+38|f|1970-01-01 00:00:00.001|0001-01-01 00:00:00+00|"str"|[1, "x", null]
3|32767|1.7976931348623157e+308|1e-45|9999-12-31 23:59:59.999|"s"
4|7|5|1.6777216e+07|t|1969-12-31 23:59:59.998+00
ROWS
)"
eq "upsert: binary COPY and INSERT store the same rows" "$(digest mix_bin_k)" "$(digest mix_ins_k)"
eq "upsert: the last row of each key wins" "$(psql_q "select string_agg(k || '=' || id, ',' order by k) from mix_bin_k")" \
  "0=10,1=25,2=20,3=26,4=14,7=24,8=22,9=23,10=27,11=28,12=29,13=30,14=31,15=32,16=33,17=34,18=35,19=36"
eq "existing table of other types: the same rows" "$(digest mix_bin_l)" "$(digest mix_ins_l)"
eq "existing table of other types: the same rows rejected" "$(dlq bin_l)" "$(dlq ins_l)"

# ---- 6. the killed process's transaction commits after the new one has started ----
# The old backend has the whole batch, the offsets and COMMIT (one pipeline) when the
# process dies; a slow trigger on sluice_offsets keeps it busy, so the next process
# starts while that transaction is still open.  It must not write the batch again.
psql_q "create schema sl_inflight" >/dev/null
psql_q "create table sl_inflight.sluice_offsets (grp text not null, topic text not null, part integer not null,
          next_offset bigint not null, primary key (grp, topic, part))" >/dev/null
psql_q "create function sl_inflight.slow() returns trigger language plpgsql as \$\$ begin perform pg_sleep(0.3); return new; end \$\$" >/dev/null
psql_q "create trigger slow before update on sl_inflight.sluice_offsets for each row execute function sl_inflight.slow()" >/dev/null
cat > "$WORK/inflight.yaml" <<YAML
data_dir: $WORK/data6
topics:
  ev6: { partitions: 4 }
sources:
  gen6:
    generate: { count: 20000, chunk: 2000, template: { id: "meta.seq" } }
    key: "string(id)"
    to: ev6
jobs:
  inflight:
    from: ev6
    max_batch: 2500
    to:
      - postgres: { table: inflight, schema: sl_inflight, columns: { id: bigint } }
YAML
# a backend of this process (connected after $t0) inside the slow trigger = a commit in flight
in_trigger() { [ "$(psql_q "select count(*) from pg_stat_activity where application_name = 'sluice' and wait_event = 'PgSleep' and backend_start > '$t0'")" -gt 0 ]; }
kills=0
i=0
while [ $i -lt 6 ]; do
  t0=$(psql_q "select clock_timestamp()")
  "$SLUICE" run "$WORK/inflight.yaml" --log-level error 2>>"$WORK/log6" &
  pid=$!
  w=0
  while ! in_trigger && kill -0 $pid 2>/dev/null && [ $w -lt 2400 ]; do sleep 0.05; w=$((w + 1)); done
  if in_trigger; then kill -9 $pid 2>/dev/null && kills=$((kills + 1)); fi
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  i=$((i + 1))
done
eq "six kills with a commit in flight" "$kills" 6
"$SLUICE" run --once "$WORK/inflight.yaml" --log-level warn 2>>"$WORK/log6"
eq "in-flight: final run exits 0" "$?" 0
eq "in-flight: exactly 20000 rows" "$(psql_q 'select count(*) from sl_inflight.inflight')" 20000
eq "in-flight: each id exactly once" "$(psql_q "select count(distinct id) || ':' || min(id) || '-' || max(id) from sl_inflight.inflight")" "20000:0-19999"
eq "in-flight: offsets held per partition" "$(psql_q "select count(*) || ':' || sum(next_offset) from sl_inflight.sluice_offsets where grp = 'inflight:inflight'")" "4:20000"
done_tests
