#!/bin/sh
# `sluice check` on broken configs prints exactly the expected FILE:LINE:COL lines
# (tests/golden/check/NAME.expected) and exits 1; on good configs exits 0 silently.
. "$(dirname "$0")/lib.sh"
cd "$ROOT/tests/golden/check"
unset SLUICE_TEST_UNSET_VAR
for f in bad_*.yaml; do
  name=${f%.yaml}
  out=$("$SLUICE" check "$f" 2>&1); rc=$?
  eq "$name exit" "$rc" 1
  if [ "$out" = "$(cat "$name.expected")" ]; then ok "$name output"
  else fail "$name output" "got:
$out"; fi
done
for f in good_*.yaml ../../../pipelines/*.yaml; do
  [ -f "$f" ] || continue
  out=$("$SLUICE" check "$f" 2>&1); rc=$?
  eq "$(basename "$f") valid" "$rc:$out" "0:"
done
# usage errors exit 2
"$SLUICE" check >/dev/null 2>&1; eq "check without file" "$?" 2
"$SLUICE" frobnicate >/dev/null 2>&1; eq "unknown command" "$?" 2
"$SLUICE" run --help | grep -q 'usage: sluice run'; eq "run --help" "$?" 0
done_tests
