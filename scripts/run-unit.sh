#!/bin/sh
# Run unit test binaries; each prints "N passed, N failed" as its last line.
# Prints the sum (labelled $SUITE, default unit) and exits non-zero if any test failed
# or a binary crashed.
pass=0; fail=0; crashed=0
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    printf '%s\n' "$out" | tail -n 40
    echo "FAIL: $t (exit $rc)"
    [ -z "$line" ] && crashed=$((crashed + 1))
  fi
  if [ -n "$line" ]; then
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    pass=$((pass + p)); fail=$((fail + f))
  fi
done
echo "${SUITE:-unit}: $pass passed, $((fail + crashed)) failed"
[ $fail -eq 0 ] && [ $crashed -eq 0 ]
