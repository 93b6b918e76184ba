#!/bin/sh
# Every test of sluice, in order: unit tests, unit tests under ASan+UBSan, engine tests
# (whole pipelines in-process, plain and under ASan+UBSan), runtime tests (pipelines as
# processes), integration tests (real servers), browser tests, docs freshness, lint,
# fuzzers.
# Ends with one line "N passed, N failed" summing every suite.
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0
tally() {  # tally NAME COMMAND...: run, parse its "N passed, N failed" line
  name=$1; shift
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out" | tail -n 60
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -n "$line" ]; then
    p=$(printf '%s' "$line" | sed -E 's/.*[^0-9]?([0-9]+) passed.*/\1/; s/^[^0-9]*//')
    p=$(printf '%s' "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
    f=$(printf '%s' "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
    pass=$((pass + p)); fail=$((fail + f))
  fi
  if [ $rc -ne 0 ]; then
    echo "== $name: FAILED (exit $rc)"
    [ -z "$line" ] || [ "${f:-0}" -eq 0 ] && fail=$((fail + 1))
  else
    echo "== $name: ok"
  fi
}
tally unit make --no-print-directory -j2 unit
tally unit-asan make --no-print-directory -j2 unit-asan
tally engine make --no-print-directory -j2 engine
tally engine-asan make --no-print-directory -j2 engine-asan
tally runtime sh tests/runtime/run.sh
tally integration sh tests/integration/run.sh
tally e2e sh tests/e2e/run.sh
tally docs make --no-print-directory docs-check
tally lint make --no-print-directory lint
tally fuzz make --no-print-directory -j2 fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-60}
echo
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
