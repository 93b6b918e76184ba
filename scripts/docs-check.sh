#!/bin/sh
# The generated references must match the code: docs/CONFIG.md from the plugins'
# config tables, docs/EXPRESSIONS.md from the function table.  Prints the difference
# and fails when a file is stale (regenerate with `make docs`).
set -u
cd "$(dirname "$0")/.."
fail=0; pass=0
for kind in config expressions; do
  f=docs/$(echo "$kind" | tr a-z A-Z).md
  if ./build/sluice docs "$kind" | diff -u "$f" - >/tmp/sluice-docs.diff 2>&1; then
    pass=$((pass + 1))
  else
    echo "$f is stale (run: make docs):"; head -n 40 /tmp/sluice-docs.diff; fail=$((fail + 1))
  fi
done
echo "docs: $pass passed, $fail failed"
[ $fail -eq 0 ]
