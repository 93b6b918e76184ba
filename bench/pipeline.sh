#!/bin/sh
# End-to-end benchmarks of the spine, each against a peer run in the same command:
#   1. JSONL file -> journal -> T -> SQLite upsert      vs Python json+sqlite3, and vs
#      SQLite's own bulk load (.import of the final rows in one transaction)
#   2. JSONL file -> journal -> T -> JSONL file         vs jq -c
#   3. peak RSS of the 200k-record crash-test pipeline (generate -> 4 partitions -> SQLite)
# T = parse, two numbers from strings, a filter passing 2/3, one product (DESIGN §6).
# Writes the section "## Pipelines" of bench/RESULTS.md.  Usage: sh bench/pipeline.sh [N]
set -eu
cd "$(dirname "$0")/.."
N=${1:-300000}
W=$(mktemp -d /tmp/sluice-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
S=./build/sluice
python3 bench/gen_coinlore.py "$N" > "$W/in.jsonl"
BYTES=$(stat -c %s "$W/in.jsonl")

now() { date +%s.%N; }
# run CMD...: prints "seconds peak_rss_kb"
run() {
  /usr/bin/time -f '%e %M' -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
  cat "$W/time"
}

cat > "$W/sqlite.yaml" <<YAML
data_dir: $W/data1
topics: { tickers: { fsync: interval } }
sources:
  in: { file: { path: $W/in.jsonl, chunk: 5000 }, to: tickers }
jobs:
  t:
    from: tickers
    max_batch: 5000
    steps:
      - set: { price: "number(price_usd)", vol: "number(volume24)" }
      - where: "price >= 1"
      - set: { value: "price * vol" }
    to:
      - sqlite: { path: $W/s.db, table: t, key: [id],
                  columns: { id: text, name: text, price: double, vol: double, value: double } }
YAML
cat > "$W/jsonl.yaml" <<YAML
data_dir: $W/data2
sources:
  in: { file: { path: $W/in.jsonl, chunk: 5000 }, to: tickers }
jobs:
  t:
    from: tickers
    max_batch: 5000
    steps:
      - set: { price: "number(price_usd)", vol: "number(volume24)" }
      - where: "price >= 1"
      - set: { value: "price * vol" }
    to:
      - file: { path: $W/out.jsonl, sync: false }
YAML
cat > "$W/set5.yaml" <<YAML
data_dir: $W/data4
sources:
  in: { file: { path: $W/in.jsonl, chunk: 5000 }, to: tickers }
jobs:
  t:
    from: tickers
    max_batch: 5000
    steps:
      - set: { price: "number(price_usd)", vol: "number(volume24)", cap: "number(market_cap_usd)",
               change: "number(percent_change_24h)", value: "number(price_usd) * number(volume24)" }
      - where: "price >= 1 and change > -50"
    to:
      - file: { path: $W/set5.jsonl, sync: false }
YAML
cat > "$W/set5.py" <<'PY'
import json, sys
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    r = json.loads(line)
    num = lambda s: float(s) if s not in ("", None) else None
    r["price"] = num(r["price_usd"]); r["vol"] = num(r["volume24"]); r["cap"] = num(r["market_cap_usd"])
    r["change"] = num(r["percent_change_24h"]); r["value"] = num(r["price_usd"]) * num(r["volume24"])
    if r["price"] is not None and r["price"] >= 1 and r["change"] > -50:
        out.write(json.dumps(r, separators=(",", ":")) + "\n")
PY
cat > "$W/peer.py" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[2])
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT, price REAL, vol REAL, value REAL)")
rows = []
def flush():
    db.executemany("INSERT INTO t VALUES (?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET name=excluded.name,"
                   " price=excluded.price, vol=excluded.vol, value=excluded.value", rows)
    db.commit(); rows.clear()
for line in open(sys.argv[1]):
    r = json.loads(line)
    p = float(r["price_usd"]) if r["price_usd"] else None
    v = float(r["volume24"]) if r["volume24"] else None
    if p is None or p < 1: continue
    rows.append((r["id"], r["name"], p, v, p * v))
    if len(rows) >= 5000: flush()
flush()
PY
cat > "$W/final.py" <<'PY'
import json, sys, csv
w = csv.writer(open(sys.argv[2], "w", newline=""))
for line in open(sys.argv[1]):
    r = json.loads(line); p = float(r["price_usd"]); v = float(r["volume24"])
    if p >= 1: w.writerow([r["id"], r["name"], p, v, p * v])
PY
python3 "$W/final.py" "$W/in.jsonl" "$W/final.csv"
cat > "$W/bulk.sql" <<SQL
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT, price REAL, vol REAL, value REAL);
BEGIN;
.mode csv
.import $W/final.csv t
COMMIT;
SQL

set -- $(run $S run --once "$W/sqlite.yaml" --log-level error); s_t=$1; s_rss=$2
set -- $(run /usr/bin/python3 "$W/peer.py" "$W/in.jsonl" "$W/p.db"); p_t=$1; p_rss=$2
set -- $(run sh -c "sqlite3 $W/b.db < $W/bulk.sql"); b_t=$1
rows_s=$(sqlite3 "$W/s.db" "select count(*) from t"); rows_p=$(sqlite3 "$W/p.db" "select count(*) from t")
[ "$rows_s" = "$rows_p" ] || { echo "row counts differ: sluice $rows_s, python $rows_p" >&2; exit 1; }
set -- $(run $S run --once "$W/jsonl.yaml" --log-level error); j_t=$1; j_rss=$2
JQ='select((.price_usd|tonumber) >= 1) | .price = (.price_usd|tonumber) | .vol = (.volume24|tonumber) | .value = .price * .vol'
set -- $(run sh -c "jq -c '$JQ' $W/in.jsonl > $W/jq.jsonl"); q_t=$1; q_rss=$2
[ "$(wc -l < "$W/out.jsonl")" = "$(wc -l < "$W/jq.jsonl")" ] || { echo "jsonl outputs differ in length" >&2; exit 1; }

set -- $(run $S run --once "$W/set5.yaml" --log-level error); f_t=$1; f_rss=$2
set -- $(run /usr/bin/python3 "$W/set5.py" "$W/in.jsonl" "$W/set5.py.jsonl"); fp_t=$1; fp_rss=$2
JQ5='(.price_usd|tonumber) as $p | (.percent_change_24h|tonumber) as $c | select($p >= 1 and $c > -50) | .price = $p | .vol = (.volume24|tonumber) | .cap = (.market_cap_usd|tonumber) | .change = $c | .value = $p * .vol'
set -- $(run sh -c "jq -c '$JQ5' $W/in.jsonl > $W/set5.jq.jsonl"); fq_t=$1; fq_rss=$2
[ "$(wc -l < "$W/set5.jsonl")" = "$(wc -l < "$W/set5.jq.jsonl")" ] || { echo "set5 outputs differ in length" >&2; exit 1; }
[ "$(wc -l < "$W/set5.jsonl")" = "$(wc -l < "$W/set5.py.jsonl")" ] || { echo "set5 python output differs in length" >&2; exit 1; }

cat > "$W/crash.yaml" <<YAML
data_dir: $W/data3
topics: { events: { partitions: 4 } }
sources:
  gen:
    generate: { count: 200000, chunk: 2000, template: { id: "meta.seq", name: "'coin-' + string(meta.seq % 97)", price: "meta.seq * 0.25" } }
    key: "string(id)"
    to: events
jobs:
  store:
    from: events
    steps: [ { set: { price_x2: "price * 2" } } ]
    to:
      - sqlite: { path: $W/c.db, table: rows, columns: { id: bigint, name: text, price: double, price_x2: double } }
YAML
set -- $(run $S run --once "$W/crash.yaml" --log-level error); c_t=$1; c_rss=$2

rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
section=$(cat <<MD
## Pipelines

Measured $(date -u +%Y-%m-%d) on $cpu ($(nproc) cores). Input: $N CoinLore-shaped JSON
lines ($(awk -v b="$BYTES" -v n="$N" 'BEGIN { printf "%.0f", b / n }') B each, numbers as strings,
\`bench/gen_coinlore.py\`); T = parse, two numbers from strings, a filter passing 2/3, one
product. Every sluice run goes through the journal (file source -> topic -> job), fsync interval.

Command: \`sh bench/pipeline.sh $N\`

| path | sluice | peer | peer | sluice / peer |
|---|---:|---:|---|---:|
| JSONL -> T -> SQLite upsert ($rows_s rows) | $(rate "$N" "$s_t") rec/s, ${s_t} s, $((s_rss / 1024)) MB RSS | $(rate "$N" "$p_t") rec/s, ${p_t} s, $((p_rss / 1024)) MB RSS | Python json + sqlite3 | $(ratio "$s_t" "$p_t")x |
| the same, against SQLite's own bulk load of the final rows | $(rate "$N" "$s_t") rec/s | $(rate "$N" "$b_t") input rec/s (${b_t} s) | sqlite3 .import, one transaction | $(ratio "$s_t" "$b_t")x |
| JSONL -> T -> JSONL | $(rate "$N" "$j_t") rec/s, ${j_t} s, $((j_rss / 1024)) MB RSS | $(rate "$N" "$q_t") rec/s, ${q_t} s, $((q_rss / 1024)) MB RSS | jq -c | $(ratio "$j_t" "$q_t")x |
| JSONL -> set (5 expressions) + where -> JSONL (issue 3) | $(rate "$N" "$f_t") rec/s, ${f_t} s, $((f_rss / 1024)) MB RSS | $(rate "$N" "$fq_t") rec/s (jq -c), $(rate "$N" "$fp_t") rec/s (Python) | jq -c / Python json | $(ratio "$f_t" "$fq_t")x jq, $(ratio "$f_t" "$fp_t")x Python |
| generate 200k -> 4 partitions -> set -> SQLite (the crash test's pipeline) | $(rate 200000 "$c_t") rec/s, ${c_t} s, **$((c_rss / 1024)) MB peak RSS** | | | |
MD
)
python3 - "$section" <<'PY'
import re, sys
path = "bench/RESULTS.md"
try: text = open(path).read()
except FileNotFoundError: text = "# Benchmark results\n"
sec = sys.argv[1].strip() + "\n"
pat = re.compile(r"^## Pipelines\n.*?(?=^## |\Z)", re.S | re.M)
text = pat.sub(lambda m: sec + "\n", text) if pat.search(text) else text.rstrip() + "\n\n" + sec
open(path, "w").write(text)
PY
echo "$section"
