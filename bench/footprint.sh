#!/bin/sh
# Memory and latency of the running engine (DESIGN §6):
#  1. peak RSS of `sluice demo` (the five systems + the dashboard server) after the
#     replay is processed and the dashboard, query API and /metrics have been served;
#  2. ingest -> sink latency at 1,000 records/s: a client POSTs one record a millisecond
#     for 10 s to an ingest endpoint (fsync interval); sluice's own histogram
#     sluice_end_to_end_latency_seconds (ingest to the job's commit after the SQLite
#     sink) gives the p50/p99 bucket bounds, and the client measures the 202 round trip.
# Writes the section "## Footprint and latency" of bench/RESULTS.md.
set -eu
cd "$(dirname "$0")/.."
W=$(mktemp -d /tmp/sluice-fp.XXXXXX)
trap 'kill $pid 2>/dev/null || true; rm -rf "$W"' EXIT
S=$(pwd)/build/sluice
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SLUICE_OUT=$W/out SLUICE_DATA=$W/data SLUICE_LISTEN=127.0.0.1:$port $S demo --log-level warn 2>"$W/demo.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
sleep 2
for _ in 1 2 3; do
  for u in / /pipeline /api/dashboard /api/tables /api/tables/iss_data /api/tables/prices /metrics /api/pipeline; do
    curl -sf "http://127.0.0.1:$port$u" >/dev/null
  done
done
rss=$(awk '/VmHWM/ { print $2 }' /proc/$pid/status)
kill $pid; wait $pid 2>/dev/null || true

cat > "$W/lat.yaml" <<YAML
data_dir: $W/ldata
serve: { listen: "127.0.0.1:$port" }
sources:
  in: { ingest: { path: /ingest/x }, to: events }
jobs:
  store:
    from: events
    to:
      - sqlite: { path: $W/lat.db, table: t, key: [id] }
YAML
$S run "$W/lat.yaml" --log-level warn 2>"$W/lat.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
client=$(/usr/bin/python3 - "$port" <<'PY'
# 50 connections, each POSTing one record every 50 ms: 1,000 records/s in all for 10 s.
import http.client, json, sys, threading, time
port = int(sys.argv[1]); conns = 50; per = 200; lat = []; lock = threading.Lock()
t0 = time.monotonic() + 0.2
def worker(w):
    c = http.client.HTTPConnection("127.0.0.1", port)
    mine = []
    for i in range(per):
        due = t0 + (i * conns + w) / 1000.0
        d = due - time.monotonic()
        if d > 0: time.sleep(d)
        s = time.monotonic()
        c.request("POST", "/ingest/x", json.dumps({"id": i * conns + w, "v": i * 0.5}), {"Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        assert r.status == 202, r.status
        mine.append(time.monotonic() - s)
    with lock: lat.extend(mine)
ts = [threading.Thread(target=worker, args=(w,)) for w in range(conns)]
[t.start() for t in ts]; [t.join() for t in ts]
lat.sort(); n = len(lat)
print("%.1f %.1f %.0f" % (lat[n // 2] * 1000, lat[int(n * 0.99)] * 1000, n / (time.monotonic() - t0)))
PY
)
sleep 1
curl -sf "http://127.0.0.1:$port/metrics" > "$W/metrics"
kill $pid; wait $pid 2>/dev/null || true
rows=$(sqlite3 "$W/lat.db" "select count(*) from t")
# p50/p99 bucket upper bounds of the engine's histogram
eng=$(awk '/^sluice_end_to_end_latency_seconds_bucket/ { match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); b[++n] = le; c[n] = $NF } END { tot = c[n]; p50 = ""; p99 = ""; for (i = 1; i <= n; i++) { if (p50 == "" && c[i] >= tot * 0.5) p50 = b[i]; if (p99 == "" && c[i] >= tot * 0.99) p99 = b[i] } print p50 " " p99 " " tot }' "$W/metrics")
set -- $client; c50=$1; c99=$2; crate=$3
set -- $eng; e50=$1; e99=$2; etot=$3
section=$(cat <<MD
## Footprint and latency

Measured $(date -u +%Y-%m-%d) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) cores).

Command: \`sh bench/footprint.sh\`

| what | figure | target |
|---|---|---|
| peak RSS, \`sluice demo\` (5 pipelines, 7 sources, 6 jobs, journal, SQLite, dashboard + API served) | **$((rss / 1024)) MB** | < 30 MB |
| ingest -> SQLite commit at ${crate} records/s (10,000 POSTs, fsync interval 50 ms) | engine histogram: p50 <= ${e50} s, p99 <= ${e99} s ($etot records, $rows rows) | p99 < 20 ms |
| the client's POST -> 202 (durable) round trip | p50 ${c50} ms, p99 ${c99} ms | |

The 202 waits for the group commit (fsync \`interval\`, 50 ms), so the durable round trip is
bounded by that interval; \`fsync: always\` trades throughput for a shorter wait. The
engine's latency is measured from a record's ingest time to its job's commit after the
sink (bucket upper bounds of \`sluice_end_to_end_latency_seconds\`).
MD
)
python3 - "$section" <<'PY'
import re, sys
path = "bench/RESULTS.md"
text = open(path).read()
sec = sys.argv[1].strip() + "\n"
pat = re.compile(r"^## Footprint and latency\n.*?(?=^## |\Z)", re.S | re.M)
text = pat.sub(lambda m: sec + "\n", text) if pat.search(text) else text.rstrip() + "\n\n" + sec
open(path, "w").write(text)
PY
echo "$section"
