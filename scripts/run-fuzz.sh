#!/bin/sh
# Run each fuzzer for SECONDS on its seed corpus (tests/fuzz/corpus/NAME/, copied to a
# scratch dir so runs never write into the tree).
set -u
secs=$1; shift
rc=0
for f in "$@"; do
  name=$(basename "$f")
  work=$(mktemp -d)
  [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
  echo "fuzz: $name for ${secs}s"
  if ! "$f" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 "$work" >"$work.log" 2>&1; then
    tail -n 60 "$work.log"; echo "FAIL: fuzzer $name"; rc=1
  fi
  rm -rf "$work" "$work.log"
done
exit $rc
