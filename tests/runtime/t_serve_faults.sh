#!/bin/sh
# The embedded server under hostile and greedy clients (issue 12), as a real process on
# 127.0.0.1, the attackers on 127.0.0.2 (a second loopback address):
#  - a slowloris (300 sockets trickling headers or a body) neither starves /health nor
#    ingest from another address, and every one of its sockets is cut by the server
#    (request_timeout is a total bound, not an idle one);
#  - 500 concurrent ingest POSTs: every one is answered (202, or 503 with Retry-After),
#    and exactly the records answered 202 are in the topic (by id, `sluice tail`).
# Counts and codes only; every wait is a bounded poll.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
SPID=""; APID=""
stop_sluice() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; SPID=""; }
trap '[ -n "$APID" ] && kill "$APID" 2>/dev/null; stop_sluice; cleanup_work' EXIT
code() { curl -s -o "$WORK/body" -w '%{http_code}' --max-time 20 "$@"; }
wait_health() {
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/health" 2>/dev/null)" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
metric() {  # metric NAME: its value in /metrics (0 when absent)
  curl -s "$BASE/metrics" | awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

cat > "$WORK/p.yaml" <<YAML
data_dir: $WORK/data
serve: { listen: 127.0.0.1:$PORT, request_timeout: 3s }
sources:
  in:
    ingest: { path: /ingest/x }
    key: "string(id)"
    to: events
YAML
"$SLUICE" run "$WORK/p.yaml" --log-level warn 2>>"$WORK/sluice.log" &
SPID=$!
check "server comes up" wait_health

# ---- slowloris from 127.0.0.2: 300 sockets; half trickle header lines, half a body
cat > "$WORK/slowloris.py" <<'PY'
import os, select, socket, sys, time
port, n, ready, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
socks = []
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    try:                               # a socket the server already closed is counted below
        if i % 2:
            s.sendall(b"POST /ingest/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100000\r\n\r\n[")
        else:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    except OSError:
        pass
    s.setblocking(False)
    socks.append(s)
open(ready, "w").write("%d\n" % n)
alive, answered, closed = set(range(n)), 0, 0
limit = time.monotonic() + 60          # the server must cut them long before this
while alive and time.monotonic() < limit:
    for i in list(alive):              # one more byte every half second: never idle
        try:
            socks[i].send(b"X-a: b\r\n" if i % 2 == 0 else b" ")
        except OSError:
            pass
    r, _, _ = select.select([socks[i] for i in alive], [], [], 0.5)
    for s in r:
        i = socks.index(s)
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if data:
            answered += 1
        closed += 1
        alive.discard(i)
        s.close()
open(out, "w").write("%d %d %d\n" % (closed, len(alive), answered))
PY
rm -f "$WORK/ready" "$WORK/attack.out"
$PY "$WORK/slowloris.py" "$PORT" 300 "$WORK/ready" "$WORK/attack.out" 2>"$WORK/attack.err" &
APID=$!
for _ in $(seq 1 300); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
eq "slowloris: 300 sockets open and trickling" "$(cat "$WORK/ready" 2>/dev/null)" 300
eq "slowloris: /health from 127.0.0.1 is answered" "$(code "$BASE/health")" 200
eq "slowloris: an ingest POST from 127.0.0.1 is answered 202" \
   "$(code -X POST -H 'Content-Type: application/json' --data '{"id":1}' "$BASE/ingest/x")" 202
for _ in $(seq 1 900); do [ -s "$WORK/attack.out" ] && break; sleep 0.1; done
wait "$APID" 2>/dev/null; APID=""
read -r CLOSED ALIVE _ < "$WORK/attack.out" 2>/dev/null
eq "slowloris: the server closed every one of the 300 sockets" "${CLOSED:-?} ${ALIVE:-?}" "300 0"
check "slowloris: /metrics counts the connections cut" test "$(metric sluice_http_connections_cut_total)" -ge 300
eq "after the attack: /health 200" "$(code "$BASE/health")" 200
grep -q 'serve: busy: .* from 127.0.0.2 ' "$WORK/sluice.log"; eq "slowloris: the address past its limit is logged" "$?" 0

# ---- 500 concurrent ingest POSTs, 10 records each: every one answered
cat > "$WORK/flood.py" <<'PY'
import asyncio, json, sys
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
async def one(i):
    body = json.dumps([{"id": 1000 + i * 10 + k} for k in range(10)]).encode()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 60)
        w.write(b"POST /ingest/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        await w.drain()
        data = await asyncio.wait_for(r.read(), 120)
        w.close()
    except Exception as e:
        return i, "error-" + type(e).__name__, b""
    if not data:
        return i, "no-answer", b""
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    return i, head[0].split()[1], "\n".join(head[1:]).lower()
async def main():
    res = await asyncio.gather(*(one(i) for i in range(n)))
    counts = {}
    with open(out + ".ids", "w") as f:
        for i, st, head in res:
            counts[st] = counts.get(st, 0) + 1
            if st == "503" and "retry-after:" not in head:
                counts["503-without-Retry-After"] = counts.get("503-without-Retry-After", 0) + 1
            if st == "202":
                for k in range(10):
                    f.write("%d\n" % (1000 + i * 10 + k))
    open(out, "w").write(" ".join("%s=%d" % kv for kv in sorted(counts.items())) + "\n")
asyncio.run(main())
PY
timeout 300 $PY "$WORK/flood.py" "$PORT" 500 "$WORK/flood.out"
cat "$WORK/flood.out"
ANSWERED=$($PY -c "
c = dict(kv.split('=') for kv in open('$WORK/flood.out').read().split())
print(int(c.get('202', 0)) + int(c.get('503', 0)), 'missing-retry-after' if '503-without-Retry-After' in c else 'ok')")
eq "500 concurrent POSTs: every one answered 202 or 503 with Retry-After" "$ANSWERED" "500 ok"
check "500 concurrent POSTs: some were accepted" test -s "$WORK/flood.out.ids"
stop_sluice
"$SLUICE" tail "$WORK/p.yaml" events --from-start > "$WORK/tail.jsonl" 2>>"$WORK/sluice.log"
$PY - "$WORK/tail.jsonl" "$WORK/flood.out.ids" <<'PY'
import json, sys
ids = sorted(json.loads(l)["value"]["id"] for l in open(sys.argv[1]) if l.strip())
acked = sorted(int(l) for l in open(sys.argv[2]))
got = [i for i in ids if i >= 1000]
assert got == acked, ("topic vs 202", len(got), len(acked))
assert [i for i in ids if i < 1000] == [1], ids[:5]
PY
eq "the topic holds exactly the records answered 202 (by id), once each" "$?" 0
done_tests
