#!/bin/sh
# Run each fuzzer for SECONDS on its seed corpus (tests/fuzz/corpus/NAME/, copied to a
# scratch dir so runs never write into the tree), two at a time (one per core).
set -u
secs=$1; shift
one() {  # one FUZZER: exit 0 when it found nothing
  f=$1; name=$(basename "$f")
  work=$(mktemp -d)
  [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
  if "$f" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 "$work" >"$work.log" 2>&1; then
    echo "fuzz: $name ran ${secs}s, nothing found"; rc=0
  else
    tail -n 60 "$work.log"; echo "FAIL: fuzzer $name"; rc=1
  fi
  rm -rf "$work" "$work.log"
  return $rc
}
rc=0
while [ $# -gt 0 ]; do
  a=$1; shift
  if [ $# -gt 0 ]; then
    b=$1; shift
    one "$a" & pa=$!
    one "$b" || rc=1
    wait $pa || rc=1
  else
    one "$a" || rc=1
  fi
done
exit $rc
