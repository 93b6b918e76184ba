#!/bin/sh
# Sources survive a full disk: a data_dir on an 8 MiB tmpfs fills up while a generate
# source and a paginated http source write to it.  While stuck the sources retry with
# backoff (never "done"), /health answers 503 and sluice_source_stuck is 1; after the
# tmpfs is remounted larger both resume by themselves, and every record is in its
# topic exactly once (the cursors moved only with committed records), fsck is clean.
# Needs root (mount); prints "skip:" and "0 passed, 0 failed" when mount is refused.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
MNT=$WORK/data
SPID=; SRV_PID=; MOUNTED=
stop_all() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; SPID=
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null; SRV_PID=
  [ -n "$MOUNTED" ] && umount "$MNT" 2>/dev/null; MOUNTED=
}
trap 'stop_all; cleanup_work' EXIT
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=8m tmpfs "$MNT" 2>/dev/null; then
  echo "skip: t_disk_full: mounting a tmpfs is not permitted here"
  done_tests; exit $?
fi
MOUNTED=1
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
N=60000          # generate: ~250 B each, 15 MB: more than the 8 MiB tmpfs holds
PAGES=100        # http: 100 pages (max_pages) of 200 records of ~250 B: 5 MB

# pages 1..PAGES of 200 records each, then empty pages (one poll fetches 100 pages at most)
cat > "$WORK/server.py" <<'PY'
import json, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs
portfile, pages = sys.argv[1], int(sys.argv[2])
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        page = int(parse_qs(urlparse(self.path).query).get("page", ["1"])[0])
        recs = [] if page > pages else [{"id": (page - 1) * 200 + i, "pad": "y" * 200} for i in range(200)]
        body = json.dumps(recs).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(srv.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
PY
$PY "$WORK/server.py" "$WORK/port" "$PAGES" &
SRV_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
U=http://127.0.0.1:$(cat "$WORK/port")

PAD=$($PY -c 'print("x" * 200)')
cat > "$WORK/p.yaml" <<YAML
data_dir: $MNT
serve: { listen: 127.0.0.1:$PORT }
sources:
  gen:
    generate: { count: $N, chunk: 500, template: { id: "meta.seq", pad: "'$PAD'" } }
    to: events
  api:
    http: { url: "$U/pages", paginate: { param: page, start: 1 } }
    key: "string(id)"
    every: 1h
    to: pages
YAML
health() { curl -s -o "$WORK/health.json" -w '%{http_code}' "$BASE/health" 2>/dev/null; }
metric() { curl -s "$BASE/metrics" 2>/dev/null | grep "^sluice_source_stuck{source=\"$1\"}" | awk '{print $2}'; }

"$SLUICE" run "$WORK/p.yaml" --log-level info 2> "$WORK/run.log" &
SPID=$!
# the disk fills: both sources stuck, /health 503
stuck=0
for _ in $(seq 1 600); do
  if [ "$(health)" = 503 ] && grep -q '"status":"unhealthy".*"stuck_sources":\[.*"gen"' "$WORK/health.json" &&
     grep -q 'source api: cannot commit to the journal' "$WORK/run.log"; then stuck=1; break; fi
  kill -0 "$SPID" 2>/dev/null || break
  sleep 0.1
done
eq "disk full: /health answers 503 while the sources are stuck" "$stuck" 1
grep -q 'source gen: cannot commit to the journal: .*No space left on device' "$WORK/run.log"
eq "disk full: the reason is logged (No space left on device)" "$?" 0
eq "disk full: /health names the reason" "$(grep -c 'No space left on device' "$WORK/health.json")" 1
eq "disk full: sluice_source_stuck is 1" "$(metric gen)" 1
curl -s "$BASE/api/pipeline" > "$WORK/pipeline.json"
eq "disk full: the pipeline page says stuck and failing" \
  "$($PY -c 'import json,sys; s={x["name"]: x for x in json.load(open(sys.argv[1]))["sources"]}["gen"]; print(s["stuck"], s["state"])' "$WORK/pipeline.json")" "True failing"
grep -Eq 'source gen: .*retry in [0-9]+ ms' "$WORK/run.log"; eq "disk full: the source retries with backoff" "$?" 0
eq "disk full: no source is 'done'" "$(grep -c 'source [a-z]*: done' "$WORK/run.log")" 0
check "disk full: the process keeps running" kill -0 "$SPID"

# space returns: both resume and finish by themselves
mount -o remount,size=64m "$MNT"
for _ in $(seq 1 900); do
  grep -q "source gen: done ($N records" "$WORK/run.log" &&
    [ "$(curl -s "$BASE/metrics" | grep '^sluice_source_records_total{source="api"}' | awk '{print $2}')" = $((PAGES * 200)) ] && break
  kill -0 "$SPID" 2>/dev/null || break
  sleep 0.1
done
grep -q "source gen: done ($N records" "$WORK/run.log"; eq "space back: the generate source finishes" "$?" 0
eq "space back: /health answers 200" "$(health)" 200
eq "space back: sluice_source_stuck is 0" "$(metric gen) $(metric api)" "0 0"
grep -q 'source gen: commits to the journal work again' "$WORK/run.log"; eq "space back: logged" "$?" 0
kill -TERM "$SPID"; wait "$SPID"; rc=$?; SPID=
eq "space back: exits 0 on SIGTERM" "$rc" 0

# nothing lost, nothing repeated
"$SLUICE" tail "$WORK/p.yaml" events --from-start > "$WORK/events.jsonl"
"$SLUICE" tail "$WORK/p.yaml" pages --from-start > "$WORK/pages.jsonl"
count() { $PY - "$1" "$2" <<'PY'
import json, sys
ids = [json.loads(l)["value"]["id"] for l in open(sys.argv[1])]
n = int(sys.argv[2])
print("ok" if sorted(ids) == list(range(n)) else "%d records, %d distinct, want 0..%d once each" % (len(ids), len(set(ids)), n - 1))
PY
}
eq "generate: ids 0..$((N - 1)), each exactly once" "$(count "$WORK/events.jsonl" $N)" ok
eq "http pages: ids 0..$((PAGES * 200 - 1)), each exactly once" "$(count "$WORK/pages.jsonl" $((PAGES * 200)))" ok
"$SLUICE" fsck "$MNT" > "$WORK/fsck.out" 2>&1; eq "fsck: the journal is clean" "$?" 0
stop_all
done_tests
