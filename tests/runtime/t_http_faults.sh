#!/bin/sh
# The http source against a failing or hostile API (DESIGN §2.4, §2.6, §2.9), on a
# Python HTTP server of our own on 127.0.0.1 (random free port) that counts requests:
#  - 503, 503 with Retry-After, a closed port, TLS to a plain-HTTP port, a body over
#    max_body: backoff with jitter, never a tight loop (request counts over a window);
#  - a malformed 200 body: one request, the body in <source>.dlq with the reason, the
#    next poll waits for the schedule;
#  - listed records that are scalars or null: each one in <source>.dlq, the objects kept;
#  - --once: "gave up after N failed polls" agrees with "N polls, N failed";
#  - backfill: a malformed window is dead-lettered once, not retried, and the rest goes on.
# Assertions are counts (requests, records, log lines), never timings.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SRV_PID=; RUN_PID=
stop_all() {
  [ -n "$RUN_PID" ] && kill "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null; RUN_PID=
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null; SRV_PID=
}
trap 'stop_all; cleanup_work' EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cat > "$WORK/server.py" <<'PY'
import json, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
portfile, logfile = sys.argv[1:3]
lock = threading.Lock()
BIG = b'[' + b','.join(b'{"id":%d,"pad":"%s"}' % (i, b"x" * 100) for i in range(200)) + b']'
ROUTES = {
    "/down": (503, {}, b'{"error":"down"}'),
    "/later": (503, {"Retry-After": "3600"}, b'{"error":"later"}'),
    "/big": (200, {}, BIG),
    "/bad": (200, {}, b'{"records": [1,2,,}'),
    "/hugebad": (200, {}, b"<p>" * 40000),
    "/scalars": (200, {}, b'[{"id":1}, 5, "str", null, true, {"id":2}]'),
}
WINDOWS = {  # /win?startDate=: one good day, one malformed, one with a scalar
    "2024-01-01": b'[{"id":1}]', "2024-01-02": b'{"oops": [1,,', "2024-01-03": b'[{"id":3}, 7]',
}
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        path = self.path.split("?")[0]
        with lock, open(logfile, "a") as f: f.write(path + "\n")
        status, hdrs, body = ROUTES.get(path, (404, {}, b"{}"))
        if path == "/win":
            day = self.path.split("startDate=")[-1][:10]
            status, hdrs, body = 200, {}, WINDOWS.get(day, b"[]")
        self.send_response(status)
        for k, v in hdrs.items(): self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try: self.wfile.write(body)
        except OSError: pass
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f: f.write(str(srv.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
PY
: > "$WORK/req.log"
$PY "$WORK/server.py" "$WORK/port" "$WORK/req.log" &
SRV_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
U=http://127.0.0.1:$PORT
CLOSED=$(free_port)   # nothing listens there
reqs() { grep -c "^$1\$" "$WORK/req.log"; }
fails() { grep -c "source $1: poll failed" "$WORK/run.err"; }

# ---- a failing API is never hammered (every: 1m; the window is 10 s) ----
cat > "$WORK/f.yaml" <<YAML
data_dir: $WORK/d1
sources:
  down:   { http: { url: "$U/down" }, every: 1m, to: t }
  later:  { http: { url: "$U/later" }, every: 1m, to: t }
  closed: { http: { url: "http://127.0.0.1:$CLOSED/x" }, every: 1m, to: t }
  tls:    { http: { url: "https://127.0.0.1:$PORT/tls" }, every: 1m, to: t }
  big:    { http: { url: "$U/big", max_body: 1KiB }, every: 1m, to: t }
  bad:    { http: { url: "$U/bad" }, records: records, every: 1m, to: t }
  hugebad: { http: { url: "$U/hugebad" }, every: 1m, to: t }
  scalars: { http: { url: "$U/scalars" }, key: "string(id)", every: 1m, to: s }
YAML
"$SLUICE" run "$WORK/f.yaml" --log-level warn 2> "$WORK/run.err" &
RUN_PID=$!
# the window starts when every source has made its first attempt
for _ in $(seq 1 200); do
  [ "$(reqs /down)" -ge 1 ] && [ "$(reqs /later)" -ge 1 ] && [ "$(reqs /big)" -ge 1 ] &&
    [ "$(reqs /bad)" -ge 1 ] && [ "$(reqs /hugebad)" -ge 1 ] && [ "$(reqs /scalars)" -ge 1 ] && [ "$(fails closed)" -ge 1 ] &&
    [ "$(fails tls)" -ge 1 ] && break
  sleep 0.1
done
n0_down=$(reqs /down); n0_closed=$(fails closed); n0_tls=$(fails tls); n0_big=$(reqs /big)
sleep 10
n1_down=$(reqs /down); n1_closed=$(fails closed); n1_tls=$(fails tls); n1_big=$(reqs /big)
kill -TERM "$RUN_PID"; wait "$RUN_PID"; rc=$?; RUN_PID=
eq "faults: run exits 0 on SIGTERM" "$rc" 0
# retried (2 or more attempts in all), but at most 5 in the 10 s window (with 1 s
# doubling and jitter in [d/2, d] the densest 10 s holds 5: 0, 0.5, 1.5, 3.5, 7.5 s)
window() {  # window NAME BEFORE AFTER
  if [ "$3" -ge 2 ] && [ $(($3 - $2)) -le 5 ]; then ok "$1 ($(($3 - $2)) in the window, $3 in all)"
  else fail "$1" "$(($3 - $2)) attempts in the 10 s window, $3 in all"; fi
}
window "503: retried, at most 5 requests in 10 s" "$n0_down" "$n1_down"
eq "503 with Retry-After: 3600: one request" "$(reqs /later)" 1
window "closed port: retried, at most 5 attempts in 10 s" "$n0_closed" "$n1_closed"
window "TLS error: retried, at most 5 attempts in 10 s" "$n0_tls" "$n1_tls"
window "body over max_body: retried, at most 5 requests in 10 s" "$n0_big" "$n1_big"
grep -q "source big: poll failed: response larger than max_body" "$WORK/run.err"; eq "max_body: the reason is logged" "$?" 0
grep -Eq "source down: .*retry in [0-9]{4,} ms" "$WORK/run.err"; eq "503: the retry waits seconds, not milliseconds" "$?" 0
# ---- a malformed body: once, dead-lettered with the reason and the raw body ----
eq "malformed body: one request (the next poll waits for the schedule)" "$(reqs /bad)" 1
eq "malformed body: not a failed poll" "$(fails bad)" 0
"$SLUICE" tail "$WORK/f.yaml" bad.dlq --from-start > "$WORK/bad.dlq" 2> "$WORK/tail.err"
eq "malformed body: one dead letter in bad.dlq" "$(wc -l < "$WORK/bad.dlq" | tr -d ' ')" 1
$PY - "$WORK/bad.dlq" <<'PY' > "$WORK/bad.out"
import json, sys
v = json.loads(open(sys.argv[1]).readline())["value"]
print("raw" if v.get("raw") == '{"records": [1,2,,}' else "raw? %r" % v.get("raw"))
print("reason" if "not JSON" in v.get("error", "") else "reason? %r" % v.get("error"))
print("source" if v.get("source") == "bad" else "source? %r" % v.get("source"))
PY
eq "malformed body: the dead letter holds the raw body, the reason and the source" "$(tr '\n' ' ' < "$WORK/bad.out")" "raw reason source "
"$SLUICE" tail "$WORK/f.yaml" hugebad.dlq --from-start > "$WORK/hugebad.dlq"
eq "malformed 120 kB body: one dead letter, the raw body cut at 64 KiB and said so" \
  "$($PY -c 'import json,sys; v=[json.loads(l)["value"] for l in open(sys.argv[1])]; print(len(v), len(v[0]["raw"]), "(the first 65536 of 120000 bytes kept)" in v[0]["error"])' "$WORK/hugebad.dlq")" "1 65536 True"
# ---- records that are not objects: each to scalars.dlq, the objects to the topic ----
eq "non-objects: one request" "$(reqs /scalars)" 1
"$SLUICE" tail "$WORK/f.yaml" s --from-start > "$WORK/s.jsonl"
eq "non-objects: the two objects are records" "$($PY -c 'import json,sys; print(" ".join(json.loads(l)["key"] for l in open(sys.argv[1])))' "$WORK/s.jsonl")" "1 2"
"$SLUICE" tail "$WORK/f.yaml" scalars.dlq --from-start > "$WORK/s.dlq"
eq "non-objects: four dead letters (5, \"str\", null, true)" \
  "$($PY -c 'import json,sys; print(" ".join(json.loads(l)["value"]["raw"] for l in open(sys.argv[1])))' "$WORK/s.dlq")" '5 "str" null true'
grep -q '"error":"record 1 is a number, not a JSON object' "$WORK/s.dlq"; eq "non-objects: the reason names the record and its type" "$?" 0
eq "metrics: nothing in the topic of the failing sources" "$("$SLUICE" tail "$WORK/f.yaml" t --from-start | wc -l | tr -d ' ')" 0

# ---- --once: the give-up line and the summary count the same polls ----
cat > "$WORK/once.yaml" <<YAML
data_dir: $WORK/d2
sources:
  down: { http: { url: "$U/down", max_failures: 3 }, to: t }
YAML
: > "$WORK/req.log"
"$SLUICE" run --once "$WORK/once.yaml" --log-level info 2> "$WORK/once.err"
eq "--once: gives up with exit 3" "$?" 3
grep -q "gave up after 3 failed polls" "$WORK/once.err"; eq "--once: gave up after 3 failed polls" "$?" 0
grep -q "source down: done (0 records in 3 polls, 3 failed)" "$WORK/once.err"; eq "--once: the summary counts the same 3 polls" "$?" 0
eq "--once: 3 requests" "$(reqs /down)" 3

# ---- backfill: the same rules, window by window ----
cat > "$WORK/bf.yaml" <<YAML
data_dir: $WORK/d3
sources:
  win:
    http: { url: "$U/win", query: { startDate: "{{window.start}}" }, window: { size: 1d } }
    key: "string(id)"
    to: w
YAML
: > "$WORK/req.log"
timeout -s INT 60 "$SLUICE" backfill "$WORK/bf.yaml" win --from 2024-01-01 --to 2024-01-03 2> "$WORK/bf.err"
eq "backfill: exits 0" "$?" 0
eq "backfill: three requests, the malformed window not retried" "$(reqs /win)" 3
eq "backfill: the records of the good windows" "$("$SLUICE" tail "$WORK/bf.yaml" w --from-start | wc -l | tr -d ' ')" 2
"$SLUICE" tail "$WORK/bf.yaml" win.dlq --from-start > "$WORK/bf.dlq"
eq "backfill: the malformed body and the scalar in win.dlq" \
  "$($PY -c 'import json,sys; print(" | ".join(json.loads(l)["value"]["at"] + ": " + json.loads(l)["value"]["raw"] for l in open(sys.argv[1])))' "$WORK/bf.dlq")" \
  'window 2024-01-02..2024-01-02: {"oops": [1,, | window 2024-01-03..2024-01-03 records[1]: 7'
stop_all
done_tests
