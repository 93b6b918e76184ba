#!/bin/sh
# Run every runtime test (tests/runtime/t_*.sh): whole pipelines as real processes on
# real files and SQLite.  Ends with the summed "N passed, N failed".
cd "$(dirname "$0")/../.."
pass=0; fail=0
for t in tests/runtime/t_*.sh; do
  [ -n "${ONLY:-}" ] && case "$t" in *"$ONLY"*) ;; *) continue;; esac
  out=$(sh "$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
  printf '%s\n' "$out" | grep -E '^(FAIL|ok) ' | sed "s|^|  $(basename "$t" .sh): |" | grep FAIL
  if [ -n "$line" ]; then
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    pass=$((pass + p)); fail=$((fail + f))
  fi
  if [ $rc -ne 0 ] && { [ -z "$line" ] || [ "${f:-0}" -eq 0 ]; }; then
    printf '%s\n' "$out" | tail -n 30
    fail=$((fail + 1))
  fi
  echo "$(basename "$t" .sh): ${line:-crashed (exit $rc)}"
done
echo "runtime: $pass passed, $fail failed"
[ $fail -eq 0 ]
