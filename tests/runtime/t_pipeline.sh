#!/bin/sh
# A whole pipeline: file source (with a malformed line) -> set/where/map/drop/rename
# -> SQLite (inferred table, upsert by key) + a topic -> a second job -> JSONL file.
# Bad input and failing steps go to dead-letter topics; the job keeps running.
. "$(dirname "$0")/lib.sh"
cat > "$WORK/in.jsonl" <<'JSON'
{"id":"1","name":"bitcoin","price_usd":"68000.5","qty":2}
{"id":"2","name":"ether","price_usd":"3500","qty":1}
not json at all
{"id":"3","name":"dust","price_usd":"0.001","qty":5}
{"id":"4","name":"broken","price_usd":"abc","qty":1}
{"id":"1","name":"bitcoin","price_usd":"69000","qty":3}

{"id":"5","name":"five","price_usd":"10","qty":"many"}
JSON
cat > "$WORK/p.yaml" <<YAML
data_dir: $WORK/data
vars: { min_value: 1 }
sources:
  coins:
    file: { path: $WORK/in.jsonl }
    key: id
    to: raw
jobs:
  clean:
    from: raw
    steps:
      - set: { price: "number(price_usd)", id: "int(id)" }
      - set: { value: "price * qty" }
      - where: "value >= vars.min_value"
      - drop: [price_usd]
      - rename: { name: coin }
    to:
      - sqlite: { path: $WORK/out.db, table: coins, key: [id] }
      - topic: clean
  export:
    from: clean
    steps:
      - map: { coin: "upper(coin)", v: "round(value)" }
    to:
      - file: { path: $WORK/out.jsonl }
YAML
"$SLUICE" check "$WORK/p.yaml"; eq "check passes" "$?" 0
"$SLUICE" run --once "$WORK/p.yaml" --log-level error
eq "run --once exits 0" "$?" 0
eq "sqlite rows (upsert by key)" "$(sq "$WORK/out.db" "select group_concat(id || ':' || coin || ':' || value, ' ') from (select * from coins order by id)")" "1:bitcoin:207000.0 2:ether:3500.0"
eq "price_usd dropped" "$(sq "$WORK/out.db" "select count(*) from pragma_table_info('coins') where name = 'price_usd'")" 0
eq "export file" "$(cat "$WORK/out.jsonl" | tr '\n' ' ')" '{"coin":"BITCOIN","v":136001} {"coin":"ETHER","v":3500} {"coin":"BITCOIN","v":207000} '
"$SLUICE" tail "$WORK/p.yaml" coins.dlq --from-start > "$WORK/src.dlq"
eq "malformed line in the source's dead-letter topic" "$(wc -l < "$WORK/src.dlq" | tr -d ' ')" 1
grep -q 'not json at all' "$WORK/src.dlq"; eq "dead letter keeps the raw line" "$?" 0
"$SLUICE" tail "$WORK/p.yaml" clean.dlq --from-start > "$WORK/job.dlq"
eq "failing records in the job's dead-letter topic" "$(wc -l < "$WORK/job.dlq" | tr -d ' ')" 2
python3 - "$WORK/job.dlq" <<'PY'
import json, sys
rows = [json.loads(l)["value"] for l in open(sys.argv[1])]
by = {r["record"]["id"]: r for r in rows}
assert set(by) == {"4", "5"}, by
for r in rows:
    assert set(r) >= {"error", "step", "record", "topic", "partition", "offset"}, r
    assert r["topic"] == "raw" and r["step"] == "set", r
assert "number" in by["4"]["error"], by["4"]
PY
eq "dead letters name the step, the reason and the original record" "$?" 0
# a second run reads nothing again (offsets committed)
"$SLUICE" run --once "$WORK/p.yaml" --log-level error
eq "second run: no duplicates in the export" "$(wc -l < "$WORK/out.jsonl" | tr -d ' ')" 3
done_tests
