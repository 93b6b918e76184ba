#!/bin/sh
# The five pipelines (issue 4): each runs with --once --replay on the project's own
# sample responses (samples/) and produces exactly the expected rows
# (tests/golden/pipelines/TABLE.json; columns that hold the wall clock are left out).
# Their tests: sections pass, and all five run together in one process (`sluice demo`'s
# setup) give the same tables.  UPDATE_GOLDEN=1 rewrites the golden files.
. "$(dirname "$0")/lib.sh"
# no SMTP server here: the solar and ISS alert e-mails are given up after their first
# attempt (kept in alert.<name>.dlq) instead of retried for the default give_up_after, 1h
export ALERT_GIVE_UP_AFTER=0s
cd "$ROOT"
dump() {  # dump DB TABLE ORDER: deterministic JSON of a table
  cols=$(sqlite3 "$1" "select group_concat('\"' || name || '\"', ',') from pragma_table_info('$2') where name not in ('processing_time')")
  sqlite3 -json "$1" "select $cols from \"$2\" order by $3" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), indent=1, sort_keys=True, ensure_ascii=False))'
}
tables() {  # tables PIPELINE: "db table order" lines
  case $1 in
    solar) echo "solar solar_data flr_id"; echo "solar notifications message_id";;
    iss) echo "iss iss_data seen_at";;
    crypto) echo "crypto prices id,ts";;
    users) echo "users created_users id";;
    flights) echo "flights flights_latest icao24"; echo "flights flights icao24,last_contact";;
  esac
}
compare() {  # compare OUTDIR LABEL
  tables "$p" | while read -r db t order; do
    dump "$1/$db.db" "$t" "$order" > "$WORK/$t.json"
    if [ -n "${UPDATE_GOLDEN:-}" ]; then cp "$WORK/$t.json" "tests/golden/pipelines/$t.json"; fi
    if cmp -s "$WORK/$t.json" "tests/golden/pipelines/$t.json"; then echo "ok $2 $t rows"
    else echo "FAIL $2 $t rows: $(diff "tests/golden/pipelines/$t.json" "$WORK/$t.json" | head -n 10)"; fi
  done > "$WORK/cmp.out"
  while read -r line; do case $line in ok*) ok "${line#ok }";; FAIL*) fail "${line#FAIL }" "";; esac; done < "$WORK/cmp.out"
}
for p in solar iss crypto users flights; do
  out="$WORK/$p"
  "$SLUICE" check "pipelines/$p.yaml"; eq "$p: check" "$?" 0
  "$SLUICE" test "pipelines/$p.yaml" > "$WORK/test.out" 2>&1; eq "$p: its tests pass" "$?" 0
  SLUICE_OUT=$out SLUICE_DATA=$out/data SLUICE_LISTEN=127.0.0.1:0 "$SLUICE" run --once --replay samples "pipelines/$p.yaml" --log-level error
  eq "$p: run --once --replay exits 0" "$?" 0
  compare "$out" "$p"
  # a second run replays nothing new (the replay position is the source's cursor)
  SLUICE_OUT=$out SLUICE_DATA=$out/data SLUICE_LISTEN=127.0.0.1:0 "$SLUICE" run --once --replay samples "pipelines/$p.yaml" --log-level error
  compare "$out" "$p (rerun)"
done
all="$WORK/all"
SLUICE_OUT=$all SLUICE_DATA=$all/data SLUICE_LISTEN=127.0.0.1:0 "$SLUICE" run --once --replay samples \
  pipelines/solar.yaml pipelines/iss.yaml pipelines/crypto.yaml pipelines/users.yaml pipelines/flights.yaml --log-level error
eq "all five in one process" "$?" 0
for p in solar iss crypto users flights; do compare "$all" "$p (together)"; done
done_tests
