# lib.sh - helpers for runtime tests (sourced).  Each test script prints "ok NAME" or
# "FAIL NAME: why" per check and ends with "N passed, N failed".
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SLUICE=${SLUICE:-$ROOT/build/sluice}
SHARED=${SHARED:-$ROOT/../shared}
T_PASS=0
T_FAIL=0
WORK=$(mktemp -d /tmp/sluice-test.XXXXXX)
trap 'cleanup_work' EXIT
cleanup_work() {
  [ -n "${KEEP:-}" ] && { echo "kept $WORK"; return; }
  rm -rf "$WORK"
}
ok() { T_PASS=$((T_PASS + 1)); echo "ok $1"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL $1: $2"; }
# check NAME CONDITION-COMMAND...: ok when the command succeeds
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "$*"; fi; }
# eq NAME ACTUAL EXPECTED
eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "got '$2', expected '$3'"; fi; }
done_tests() { echo "$T_PASS passed, $T_FAIL failed"; [ "$T_FAIL" -eq 0 ]; }
sq() { sqlite3 "$@"; }
