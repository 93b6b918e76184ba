#!/bin/sh
# Run every integration test (tests/integration/t_*.sh): sluice against real servers it
# starts itself on 127.0.0.1 (PostgreSQL, MariaDB, Cassandra, a Kafka mock cluster...).
# A test whose server is not installed skips with "0 passed, 0 failed".
# Ends with the summed "N passed, N failed".
cd "$(dirname "$0")/../.."
pass=0; fail=0
for t in tests/integration/t_*.sh; do
  [ -e "$t" ] || continue
  [ -n "${ONLY:-}" ] && case "$t" in *"$ONLY"*) ;; *) continue;; esac
  out=$(sh "$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
  printf '%s\n' "$out" | grep -E '^FAIL ' | sed "s|^|  $(basename "$t" .sh): |"
  f=0
  if [ -n "$line" ]; then
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    pass=$((pass + p)); fail=$((fail + f))
  fi
  if [ $rc -ne 0 ] && { [ -z "$line" ] || [ "$f" -eq 0 ]; }; then
    printf '%s\n' "$out" | tail -n 30
    fail=$((fail + 1))
  fi
  echo "$(basename "$t" .sh): ${line:-crashed (exit $rc)}"
done
echo "integration: $pass passed, $fail failed"
[ $fail -eq 0 ]
