#!/bin/sh
# lint.sh - the project's own lint, run by `make lint` and `make test`: static analysis
# (cppcheck, clang-tidy) and the dependency rules of DESIGN §7 that hold today.
# One check per rule; prints "N passed, N failed" last and exits non-zero on any finding.
# Needs build/ built (`make all`): rules 4 and 6 read the object files.
#
# Invariants:
#  1. The allow-lists below may only shrink: a new entry is a new finding to fix, and a
#     stale entry (a file or variable that no longer offends) fails too, so it is removed.
#  2. A finding is fixed in the code; an inline suppression (cppcheck-suppress, NOLINT)
#     marks a false positive only and says why on the same line.
#  3. Compile flags come from the Makefile (the command `make` would run), not a copy.
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0
out=${LINT_OUT:-build/lint}
mkdir -p "$out"
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
JOBS=${LINT_JOBS:-2}

command -v cppcheck >/dev/null && command -v clang-tidy >/dev/null || sh scripts/deps.sh

# The flags `make` compiles src/ and plugins/ with (-Werror dropped: a clang-only
# warning must show up as a finding, not stop the analysis).
FLAGS=$(make --no-print-directory -n -B build/obj/src/arena.o | grep -- ' -c ' |
        sed -E 's/^[^ ]+ //; s/ -MMD//; s/ -c [^ ]+ -o [^ ]+$//; s/ -Werror//')
FILES=$(find src plugins -name '*.c' | sort)

# ---- 1. cppcheck --------------------------------------------------------------------
# warning: likely bugs (leaks on realloc, null use, bad format strings, ...);
# portability: implementation-defined behaviour (shifts of negative values, casts);
# performance: needless copies and slow idioms.  "style" is left out (taste, noisy).
# missingIncludeSystem: cppcheck does not need the system headers to check our code.
if cppcheck -q -j"$JOBS" --std=c11 --enable=warning,portability,performance \
        --inline-suppr --error-exitcode=1 --suppress=missingIncludeSystem \
        -D_GNU_SOURCE -Iinclude -Ibuild/gen \
        --template='{file}:{line}: {severity}: {id}: {message}' \
        src plugins include >"$out/cppcheck.txt" 2>&1; then
    ok "cppcheck"
else
    cat "$out/cppcheck.txt"; bad "cppcheck"
fi

# ---- 2. clang-tidy ------------------------------------------------------------------
# clang-analyzer-*            path-sensitive bugs (null use, leaks, garbage values), minus:
#   valist.Uninitialized      false positive of clang 14 on every va_start/vsnprintf pair
#   optin.performance.Padding struct layout, not a bug
#   security.insecureAPI.DeprecatedOrUnsafeBufferHandling  flags every memcpy/snprintf
# concurrency-mt-unsafe       functions not thread safe (strerror, rand, ...); glibc's set,
#                             so readdir on a stream of one thread is not flagged
# bugprone-*                  a low-noise subset, named one by one:
TIDY_CHECKS="-*,clang-analyzer-*,-clang-analyzer-valist.Uninitialized,\
-clang-analyzer-optin.performance.Padding,\
-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,\
concurrency-mt-unsafe,\
bugprone-signal-handler,bugprone-suspicious-memset-usage,bugprone-suspicious-string-compare,\
bugprone-suspicious-missing-comma,bugprone-suspicious-semicolon,bugprone-infinite-loop,\
bugprone-integer-division,bugprone-misplaced-operator-in-strlen-in-alloc,\
bugprone-misplaced-pointer-arithmetic-in-alloc,bugprone-undefined-memory-manipulation,\
bugprone-bool-pointer-implicit-conversion,bugprone-too-small-loop-variable,\
bugprone-redundant-branch-condition,bugprone-terminating-continue,bugprone-posix-return,\
bugprone-incorrect-roundings,bugprone-string-literal-with-embedded-nul,\
bugprone-sizeof-container,bugprone-multiple-statement-macro"
TIDY_CONFIG="{CheckOptions: [{key: concurrency-mt-unsafe.FunctionSet, value: glibc}]}"
export TIDY_CHECKS TIDY_CONFIG FLAGS
# two files per clang-tidy, $JOBS at a time; the findings of each file in one block
printf '%s\n' $FILES | xargs -P"$JOBS" -n2 sh -c \
    'clang-tidy --quiet --checks="$TIDY_CHECKS" --config="$TIDY_CONFIG" "$@" -- $FLAGS 2>/dev/null' _ \
    >"$out/clang-tidy.txt"
if grep -qE ': (warning|error):' "$out/clang-tidy.txt"; then
    grep -A3 -E ': (warning|error):' "$out/clang-tidy.txt"; bad "clang-tidy"
else
    ok "clang-tidy"
fi

# ---- 3. plugins include only include/sluice/ and their own or plugins/lib/ files ----
# Today's plugin files that reach into src/ (DESIGN §7: they go; this list only shrinks).
# The issue counted 22 files including "../../src/"; cql/pool.c reaches it as "../../../src/".
PLUGIN_SRC_ALLOW="
plugins/sink_cassandra/cassandra.c
plugins/sink_cassandra/cql/pool.c
plugins/sink_email/email.c
plugins/sink_kafka/kafka.c
plugins/sink_log/log.c
plugins/sink_mysql/mysql.c
plugins/sink_postgres/postgres.c
plugins/sink_sqlite/sqlite.c
plugins/sink_topic/topic.c
plugins/sink_webhook/webhook.c
plugins/src_ingest/ingest.c
plugins/src_kafka/kafka.c
plugins/step_alert/alert.c
plugins/step_debezium/debezium.c
plugins/step_dedup/dedup.c
plugins/step_drop/drop.c
plugins/step_explode/explode.c
plugins/step_map/map.c
plugins/step_rename/rename.c
plugins/step_set/set.c
plugins/step_validate/validate.c
plugins/step_where/where.c
plugins/step_window/window.c
"
# every plugin file whose quoted #include, resolved from its folder, lands in src/
find plugins -name '*.[ch]' | sort | while read -r f; do
    d=$(dirname "$f")
    sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/p' "$f" | while read -r inc; do
        r=$(realpath -m --relative-to=. "$d/$inc")
        case "$r" in src/*) echo "$f"; break ;; esac
    done
done | sort -u >"$out/plugin-src.txt"
printf '%s\n' $PLUGIN_SRC_ALLOW | sort -u >"$out/plugin-src-allow.txt"
new=$(comm -23 "$out/plugin-src.txt" "$out/plugin-src-allow.txt")
stale=$(comm -13 "$out/plugin-src.txt" "$out/plugin-src-allow.txt")
if [ -z "$new$stale" ]; then
    ok "plugin includes ($(wc -l <"$out/plugin-src.txt") allowed, list only shrinks)"
else
    for f in $new; do echo "$f: includes a header of src/ (use include/sluice/ or plugins/lib/)"; done
    for f in $stale; do echo "$f: no longer includes src/: remove it from PLUGIN_SRC_ALLOW in $0"; done
    bad "plugin includes"
fi

# ---- 4. no new writable process-wide state in src/ ----------------------------------
# Read from the objects: every variable in .data or .bss (file-scope or function static,
# not const, not thread-local) of src/*.o.  Allowed by design: the signal flag and
# logging; the rest is today's state the engine handle replaces (list only shrinks).
GLOBALS_ALLOW="
src/log.c:sl_log_json
src/log.c:sl_log_level
src/runner.c:sl_stop_requested
src/expr_func.c:names
src/json.c:json_empty_items
src/json.c:json_empty_members
src/metrics.c:head
src/metrics.c:lock
src/metrics.c:tail
src/runner.c:current
src/runner.c:sl_runner_journal
src/serve.c:server
src/value.c:value_empty_items
src/value.c:value_empty_members
"
for o in build/obj/src/*.o; do
    objdump -t "$o" | awk -v f="src/$(basename "$o" .o).c" \
        '$3 == "O" && $4 ~ /^\.(data|bss)(\.|$)/ && $4 !~ /rel\.ro/ { n = $NF; sub(/\.[0-9]+$/, "", n); print f ":" n }'
done | sort -u >"$out/globals.txt"
printf '%s\n' $GLOBALS_ALLOW | sort -u >"$out/globals-allow.txt"
new=$(comm -23 "$out/globals.txt" "$out/globals-allow.txt")
stale=$(comm -13 "$out/globals.txt" "$out/globals-allow.txt")
if [ ! -s "$out/globals.txt" ]; then
    echo "no objects in build/obj/src: run make all first"; bad "writable globals"
elif [ -z "$new$stale" ]; then
    ok "writable globals ($(wc -l <"$out/globals.txt") allowed, list only shrinks)"
else
    for g in $new; do echo "$g: new writable process-wide variable (make it const, or pass it in a handle)"; done
    for g in $stale; do echo "$g: gone: remove it from GLOBALS_ALLOW in $0"; done
    bad "writable globals"
fi

# ---- 5. no p = realloc(p, ...): on failure it leaks p and goes on with NULL ----------
# (cppcheck sees this for plain variables only; this rule covers fields too.)
grep -nE '(\*?[A-Za-z_][A-Za-z0-9_>.*-]*)[[:space:]]*=[[:space:]]*realloc\([[:space:]]*\1[[:space:]]*,' \
    $FILES >"$out/realloc.txt"
if [ -s "$out/realloc.txt" ]; then
    sed 's/$/  <- use sl_xrealloc or check a temporary/' "$out/realloc.txt"; bad "realloc"
else
    ok "realloc"
fi

# ---- 6. no dead functions -----------------------------------------------------------
# A function defined non-static in src/ or plugins/ that no other object calls, that
# no test or fuzzer names and that its own file never uses is dead code.
objs=$(find build/obj/src build/obj/plugins -name '*.o')
nm $objs 2>/dev/null | awk '$1 == "U" { print $2 }' | sort -u >"$out/used.txt"
nm -A $objs 2>/dev/null | awk '$2 == "T" { print $3 }' | sort -u | comm -23 - "$out/used.txt" |
while read -r fn; do
    grep -rqw -e "$fn" tests && continue
    [ "$(grep -rwo --include='*.c' -e "$fn" src plugins | wc -l)" -le 1 ] && echo "$fn"
done >"$out/dead.txt"
if [ -s "$out/dead.txt" ]; then
    sed 's/$/: defined, never called: delete it/' "$out/dead.txt"; bad "dead functions"
else
    ok "dead functions"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
