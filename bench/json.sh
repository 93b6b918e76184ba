#!/bin/sh
# json.sh - build and run the JSON benchmark (sluice vs jansson); prints a Markdown
# table and records it under "## JSON parse and serialise" in bench/RESULTS.md.
# Run from the repository root: sh bench/json.sh [--mb N]
set -eu
cd "$(dirname "$0")/.."
CC=${CC:-cc}
mkdir -p build/bench
BUILD="$CC -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -O2 -g -Iinclude \
 -o build/bench/json_bench bench/json_bench.c src/json.c src/value.c src/arena.c src/buf.c src/error.c -ljansson -lm"
eval "$BUILD"
RUN="build/bench/json_bench ../shared/fixtures/api ../shared/fixtures/donki-months $*"
OUT=$($RUN)
echo "$OUT"

# Replace (or append) only our section of RESULTS.md.
RESULTS=bench/RESULTS.md
[ -f "$RESULTS" ] || printf '# Benchmark results\n' > "$RESULTS"
SECTION=$(mktemp)
{
    echo "## JSON parse and serialise"
    echo
    echo "Measured $(date -u +%Y-%m-%d) on $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //') ($(nproc) cores), one thread."
    echo "Input: every fixture of \`../shared/fixtures/api\` and \`../shared/fixtures/donki-months\`"
    echo "(except the truncated one), parsed from memory; sluice resets its arena per document,"
    echo "jansson frees with json_decref; serialise = compact output (jansson: JSON_COMPACT|JSON_PRESERVE_ORDER)."
    echo
    echo "Command: \`sh bench/json.sh\` (builds with \`$CC -O2\`, runs \`$RUN\`)"
    echo
    echo "$OUT"
    echo
} > "$SECTION"
awk -v secfile="$SECTION" '
    BEGIN { while ((getline line < secfile) > 0) sec = sec line "\n" }
    /^## / { if (skip) skip = 0
             if ($0 == "## JSON parse and serialise") { printf "%s", sec; skip = 1; done = 1; next } }
    !skip { print }
    END { if (!done) { print ""; printf "%s", sec } }
' "$RESULTS" > "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
rm -f "$SECTION"
