#!/bin/sh
# SIGTERM and SIGINT drain the batch in flight and exit 0; what was committed stays.
. "$(dirname "$0")/lib.sh"
cat > "$WORK/p.yaml" <<YAML
data_dir: $WORK/data
sources:
  gen:
    generate: { rate: 2000, template: { id: "meta.seq" } }
    to: events
jobs:
  store:
    from: events
    to:
      - sqlite: { path: $WORK/out.db, table: t, key: [id] }
YAML
for sig in TERM INT; do
  "$SLUICE" run "$WORK/p.yaml" --log-level error &
  pid=$!
  sleep 1
  kill -$sig $pid
  wait $pid
  eq "SIG$sig exits 0" "$?" 0
done
n=$(sq "$WORK/out.db" "select count(*) from t")
m=$(sq "$WORK/out.db" "select max(id) + 1 from t")
check "rows were written before the stop" [ "$n" -gt 0 ]
eq "no gaps: rows are 0..n-1" "$n" "$m"
done_tests
