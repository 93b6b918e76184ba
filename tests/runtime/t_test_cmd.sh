#!/bin/sh
# `sluice test FILE` runs the tests: section, prints a diff for failures and ends with
# "N passed, N failed"; exit 0 all pass, 1 otherwise.
. "$(dirname "$0")/lib.sh"
cat > "$WORK/p.yaml" <<'YAML'
jobs:
  prices:
    from: raw
    steps:
      - set: { price: "number(price_usd)" }
      - where: "price > 1"
    to:
      - stdout: {}
tests:
  - name: converts and filters
    job: prices
    input: [ { id: a, price_usd: "2.5" }, { id: b, price_usd: "0.5" } ]
    expect: [ { id: a, price: 2.5 } ]
  - name: a bad number goes to the dead-letter topic
    job: prices
    input: [ { id: c, price_usd: "abc" } ]
    expect: []
    expect_dlq: [ { step: set, record: { id: c } } ]
YAML
out=$("$SLUICE" test "$WORK/p.yaml"); rc=$?
eq "passing tests exit 0" "$rc" 0
eq "summary line" "$(printf '%s\n' "$out" | tail -n 1)" "2 passed, 0 failed"
sed 's/price: 2.5 }/price: 3 }/' "$WORK/p.yaml" > "$WORK/bad.yaml"
out=$("$SLUICE" test "$WORK/bad.yaml" 2>"$WORK/err"); rc=$?
eq "a failing test exits 1" "$rc" 1
eq "summary counts the failure" "$(printf '%s\n' "$out" | tail -n 1)" "1 passed, 1 failed"
grep -q '"price":2.5' "$WORK/err"; eq "the diff shows what came out" "$?" 0
done_tests
