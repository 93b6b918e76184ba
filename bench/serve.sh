#!/bin/sh
# Benchmarks of the embedded server (issue 7), each against a peer in the same command:
#  1. query API: a one-day range over a 1,000,000-row SQLite table (wrk, 8 connections,
#     10 s) — sluice's /api/tables/NAME?time=&from=&to= against the same query served by
#     Python's ThreadingHTTPServer + sqlite3;
#  2. SSE fan-out: 100 clients on /api/tail/TOPIC while 1,000 records/s are ingested
#     for 10 s: records delivered to every client, and delivery latency;
#  3. page load to the first map draw in headless Chromium (playwright-core).
# Writes the section "## Server" of bench/RESULTS.md.  Needs wrk, chromium and
# tests/e2e/node_modules (sh tests/e2e/run.sh installs them).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
W=$(mktemp -d /tmp/sluice-serve.XXXXXX)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null || true; done; rm -rf "$W"' EXIT
S=$root/build/sluice
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# ---- 1. query API over 1,000,000 rows ----
sqlite3 "$W/big.db" <<'SQL'
PRAGMA journal_mode=WAL;
CREATE TABLE pos (seen_at TEXT, latitude REAL, longitude REAL, altitude_km REAL, PRIMARY KEY (seen_at));
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
INSERT INTO pos SELECT strftime('%Y-%m-%dT%H:%M:%S', 1704067200 + i * 31, 'unixepoch') || '.000Z',
  (i % 1000) / 20.0 - 25, (i % 3600) / 10.0 - 180, 420 + (i % 7) FROM n;
SQL
p1=$(free_port)
cat > "$W/q.yaml" <<YAML
data_dir: $W/qdata
serve: { listen: "127.0.0.1:$p1" }
jobs:
  store:
    from: unused
    to:
      - sqlite: { path: $W/big.db, table: pos, key: [seen_at] }
YAML
$S run "$W/q.yaml" --log-level warn 2>"$W/q.log" &
pids="$pids $!"
wait_up "$p1"
q="time=seen_at&from=2024-03-01&to=2024-03-01&limit=1000"
n_sluice=$(curl -sf "http://127.0.0.1:$p1/api/tables/pos?$q" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))')
p2=$(free_port)
cat > "$W/peer.py" <<'PY'
import json, sqlite3, sys, urllib.parse
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
db_path, port = sys.argv[1], int(sys.argv[2])
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
        lo, hi = q["from"][0], q["to"][0] + "T23:59:59.999Z"
        cur = db.execute("SELECT * FROM pos WHERE seen_at >= ? AND seen_at <= ? ORDER BY seen_at LIMIT ?", (lo, hi, int(q["limit"][0])))
        body = json.dumps({"columns": [d[0] for d in cur.description], "rows": cur.fetchall()}).encode()
        db.close()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
/usr/bin/python3 "$W/peer.py" "$W/big.db" "$p2" &
pids="$pids $!"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$p2/x?$q" >/dev/null 2>&1 && break; sleep 0.1; done
n_peer=$(curl -sf "http://127.0.0.1:$p2/x?$q" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))')
[ "$n_sluice" = "$n_peer" ] || { echo "row counts differ: $n_sluice vs $n_peer" >&2; exit 1; }
wrk_run() { wrk -t2 -c8 -d10s --latency "$1" > "$W/wrk.out"; awk '/Requests\/sec/ { r = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } END { print r, p50, p99 }' "$W/wrk.out"; }
set -- $(wrk_run "http://127.0.0.1:$p1/api/tables/pos?$q"); s_rps=$1; s_p50=$2; s_p99=$3
set -- $(wrk_run "http://127.0.0.1:$p2/x?$q"); y_rps=$1; y_p50=$2; y_p99=$3

# ---- 2. SSE fan-out ----
p3=$(free_port)
cat > "$W/sse.yaml" <<YAML
data_dir: $W/sdata
serve: { listen: "127.0.0.1:$p3" }
sources:
  in: { ingest: { path: /ingest/e }, to: events }
jobs:
  sink:
    from: events
    to: [ { file: { path: $W/events.jsonl, sync: false } } ]
YAML
$S run "$W/sse.yaml" --log-level warn 2>"$W/sse.log" &
spid=$!
pids="$pids $spid"
wait_up "$p3"
sse=$(/usr/bin/python3 - "$p3" <<'PY'
import http.client, json, socket, sys, threading, time
port = int(sys.argv[1]); clients = 100; rate = 1000; secs = 10; total = rate * secs
got = [0] * clients; lat = []; lock = threading.Lock(); ready = threading.Barrier(clients + 1)
def reader(k):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /api/tail/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    f = s.makefile("rb"); ready.wait(); mine = []
    while got[k] < total:
        line = f.readline()
        if not line: break
        if line.startswith(b"data: "):
            v = json.loads(line[6:])["value"]
            got[k] += 1
            if v["i"] % 50 == 0: mine.append(time.time() - v["t"])
    with lock: lat.extend(mine)
    s.close()
ts = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(clients)]
[t.start() for t in ts]; ready.wait(); time.sleep(0.5)
c = http.client.HTTPConnection("127.0.0.1", port); t0 = time.monotonic(); sent = 0
while sent < total:  # batches of 10 every 10 ms = 1,000 records/s
    due = t0 + sent / rate
    d = due - time.monotonic()
    if d > 0: time.sleep(d)
    body = "\n".join(json.dumps({"i": sent + j, "t": time.time()}) for j in range(10))
    c.request("POST", "/ingest/e", body, {"Content-Type": "application/x-ndjson"}); r = c.getresponse(); r.read()
    sent += 10
deadline = time.monotonic() + 20
for t in ts: t.join(max(0.1, deadline - time.monotonic()))
lat.sort(); full = sum(1 for g in got if g >= total)
print(full, min(got), "%.1f" % (lat[len(lat) // 2] * 1000 if lat else -1), "%.1f" % (lat[int(len(lat) * 0.99)] * 1000 if lat else -1))
PY
)
set -- $sse; sse_full=$1; sse_min=$2; sse_p50=$3; sse_p99=$4
sse_rss=$(awk '/VmHWM/ { print $2 }' /proc/$spid/status)

# ---- 3. page load to first map draw ----
p4=$(free_port)
SLUICE_OUT=$W/demo SLUICE_DATA=$W/demo/data SLUICE_LISTEN=127.0.0.1:$p4 $S demo --log-level warn 2>"$W/demo.log" &
pids="$pids $!"
wait_up "$p4"
sleep 2
cat > "$W/load.mjs" <<'JS'
import { chromium } from 'playwright-core';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu',
  '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const times = [];
for (let i = 0; i < 5; i++) {
  const ctx = await b.newContext(); const p = await ctx.newPage();
  const t0 = Date.now();
  await p.goto(process.argv[2]);
  await p.waitForSelector('svg circle, svg path.track, canvas', { timeout: 20000 });
  times.push(Date.now() - t0); await ctx.close();
}
times.sort((a, b) => a - b); console.log(times[2], times[0]);
await b.close();
JS
cp "$W/load.mjs" tests/e2e/.load-bench.mjs
set -- $(cd tests/e2e && node .load-bench.mjs "http://127.0.0.1:$p4/"); rm -f tests/e2e/.load-bench.mjs; pl_med=$1; pl_min=$2

section=$(cat <<MD
## Server

Measured $(date -u +%Y-%m-%d) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) cores; the load generators share them).

Command: \`sh bench/serve.sh\`

| what | sluice | peer | ratio |
|---|---|---|---|
| query API, one day ($n_sluice rows) of a 1,000,000-row SQLite table, wrk -c8 10 s | $s_rps req/s, p50 $s_p50, p99 $s_p99 | Python ThreadingHTTPServer + sqlite3, same query: $y_rps req/s, p50 $y_p50, p99 $y_p99 | $(awk -v a="$s_rps" -v b="$y_rps" 'BEGIN { printf "%.1fx", a / b }') |
| SSE fan-out: 100 clients, 1,000 records/s ingested for 10 s | $sse_full of 100 clients got all 10,000 (fewest: $sse_min); delivery latency p50 $sse_p50 ms, p99 $sse_p99 ms (from the ingest POST to the client); peak RSS $((sse_rss / 1024)) MB | | |
| page load to the first map draw (the demo dashboard), Chromium | median $pl_med ms, best $pl_min ms of 5 cold loads | | |

The query's cost is SQLite's range scan on the primary key plus JSON encoding; a
connection is served by its own thread (libmicrohttpd), and each request opens the
database read-only. Readers in the process (jobs, the live tail) see a commit at once;
the ingest's 202 waits for the group commit's fsync (50 ms).
MD
)
python3 - "$section" <<'PY'
import re, sys
path = "bench/RESULTS.md"
text = open(path).read()
sec = sys.argv[1].strip() + "\n"
pat = re.compile(r"^## Server\n.*?(?=^## |\Z)", re.S | re.M)
text = pat.sub(lambda m: sec + "\n", text) if pat.search(text) else text.rstrip() + "\n\n" + sec
open(path, "w").write(text)
PY
echo "$section"
