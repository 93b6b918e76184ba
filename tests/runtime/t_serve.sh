#!/bin/sh
# The embedded HTTP server as a real process on 127.0.0.1: ingest endpoints (status
# codes, all-or-nothing bodies, durability across kill -9), /health, /ready, /metrics
# (parsed by prometheus_client), /api/pipeline, the query API over the SQLite sink
# (filters, order, caps, rejected identifiers and dates), the SSE live tail, tokens and
# the /login cookie, keep-alive, and the config rule for non-loopback addresses.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
SPID=""
stop_sluice() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; SPID=""; }
trap 'stop_sluice; cleanup_work' EXIT
# req ARGS...: HTTP status on stdout, body in $WORK/body, headers in $WORK/hdr
req() { curl -s -D "$WORK/hdr" -o "$WORK/body" -w '%{http_code}' "$@"; }
body() { cat "$WORK/body"; }
wait_health() {
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/health" 2>/dev/null)" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
start_sluice() {  # start_sluice FILE [extra args]: background run, waits for /health
  "$SLUICE" run "$@" --log-level warn 2>>"$WORK/sluice.log" &
  SPID=$!
  wait_health "$BASE"
}
rows() { sq "$WORK/out.db" "select count(*) from flares" 2>/dev/null || echo 0; }
wait_rows() {  # wait_rows N: until the sink table holds N rows
  for _ in $(seq 1 100); do [ "$(rows)" = "$1" ] && return 0; sleep 0.1; done
  return 1
}
jq_py() { $PY -c "import json,sys; d=json.load(open('$WORK/body')); print($1)"; }

cat > "$WORK/p.yaml" <<YAML
data_dir: $WORK/data
serve: { listen: 127.0.0.1:$PORT, max_body: 2MiB }
topics:
  flares: { fsync: interval }
sources:
  solar:
    ingest: { path: /ingest/solar, max_bytes: 4k }
    key: "string(id)"
    to: flares
  secure:
    ingest: { path: /ingest/secure, token: s3cret }
    key: "string(id)"
    to: flares
  bulk:
    ingest: { path: /ingest/bulk }
    key: "string(id)"
    to: flares
jobs:
  store:
    from: flares
    steps:
      - set: { at: "if at_s == null then null else parse_time(at_s)" }
      - drop: [at_s]
    to:
      - sqlite: { path: $WORK/out.db, table: flares, key: [id],
                  columns: { id: bigint, cls: text, at: timestamp, v: double } }
YAML
"$SLUICE" check "$WORK/p.yaml"; eq "check passes" "$?" 0
check "server comes up" start_sluice "$WORK/p.yaml"

# ---- health, keep-alive
eq "/health 200" "$(req "$BASE/health")" 200
eq "/health body" "$(body)" '{"status":"ok"}'
grep -qi '^Content-Type: application/json' "$WORK/hdr"; eq "/health is application/json" "$?" 0
curl -sv "$BASE/health" "$BASE/health" 2>&1 | grep -q 'Re-using existing connection'
eq "keep-alive: the second request reuses the connection" "$?" 0

# ---- ingest status codes
J='Content-Type: application/json'
eq "ingest array -> 202" "$(req -X POST -H "$J" --data '[{"id":1,"cls":"X1.2","at_s":"2024-01-01T00:00:00Z","v":1.5},{"id":2,"cls":"M5.0","at_s":"2024-01-02T12:00:00Z","v":2},{"id":3,"cls":"C1","at_s":"2024-01-03T00:00:00Z","v":3}]' "$BASE/ingest/solar")" 202
eq "ingest array body" "$(body)" '{"accepted":3}'
eq "ingest object -> 202" "$(req -X POST -H "$J; charset=utf-8" --data '{"id":4,"cls":"B1","at_s":"2024-01-04T00:00:00Z"}' "$BASE/ingest/solar")" 202
eq "ingest object body" "$(body)" '{"accepted":1}'
printf '{"id":5,"cls":"A1"}\n\n{"id":6,"cls":"A2"}\n' > "$WORK/l.jsonl"
eq "ingest ndjson -> 202" "$(req -X POST -H 'Content-Type: application/x-ndjson' --data-binary @"$WORK/l.jsonl" "$BASE/ingest/solar")" 202
eq "ingest ndjson body" "$(body)" '{"accepted":2}'
printf '{"id":70}\n{"id":71,}\n' > "$WORK/bad.jsonl"
eq "malformed json lines -> 400" "$(req -X POST -H 'Content-Type: application/jsonl' --data-binary @"$WORK/bad.jsonl" "$BASE/ingest/solar")" 400
eq "400 names the byte offset" "$(jq_py 'd["offset"]')" 19
eq "malformed array -> 400" "$(req -X POST -H "$J" --data '[{"id":80},{"id":' "$BASE/ingest/solar")" 400
eq "400 offset at the end" "$(jq_py 'd["offset"], "error" in d')" "17 True"
# a record is a JSON object (DESIGN 2.9): a scalar, null or array where a record belongs
# rejects the whole body with 400 naming it, and nothing of that body is appended
eq "number in an array -> 400" "$(req -X POST -H "$J" --data '[{"id":100,"cls":"NO"},5,{"id":101,"cls":"NO"}]' "$BASE/ingest/solar")" 400
eq "  ... names the element" "$(jq_py 'd["error"], d["offset"]')" "element 1 of the array (from 0) is a number: a record must be a JSON object 23"
eq "string in an array -> 400" "$(req -X POST -H "$J" --data '[{"id":102,"cls":"NO"},"str"]' "$BASE/ingest/solar")" 400
eq "null in an array -> 400" "$(req -X POST -H "$J" --data '[{"id":103,"cls":"NO"},null]' "$BASE/ingest/solar")" 400
eq "  ... names it" "$(jq_py 'd["error"]')" "element 1 of the array (from 0) is null: a record must be a JSON object"
eq "a bare number -> 400" "$(req -X POST -H "$J" --data '5' "$BASE/ingest/solar")" 400
printf '{"id":104,"cls":"NO"}\n"str"\n{"id":105,"cls":"NO"}\n' > "$WORK/scalar.jsonl"
eq "string line in JSON lines -> 400" "$(req -X POST -H 'Content-Type: application/x-ndjson' --data-binary @"$WORK/scalar.jsonl" "$BASE/ingest/solar")" 400
eq "  ... names the line" "$(jq_py 'd["error"], d["offset"]')" "line 2 is a string: a record must be a JSON object 22"
$PY -c "print('[' + ','.join('{\"id\":%d,\"pad\":\"%s\"}' % (i, 'x'*100) for i in range(100)) + ']')" > "$WORK/big.json"
eq "over max_bytes -> 413" "$(req -X POST -H "$J" --data-binary @"$WORK/big.json" "$BASE/ingest/solar")" 413
grep -q '"error"' "$WORK/body"; eq "413 has a JSON error" "$?" 0
eq "chunked over max_bytes -> 413" "$(req -X POST -H "$J" -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/big.json" "$BASE/ingest/solar")" 413
eq "text/plain -> 415" "$(req -X POST -H 'Content-Type: text/plain' --data 'hi' "$BASE/ingest/solar")" 415
eq "GET on ingest -> 405" "$(req "$BASE/ingest/solar")" 405
grep -qi '^Allow: POST' "$WORK/hdr"; eq "405 says Allow: POST" "$?" 0
eq "no token -> 401" "$(req -X POST -H "$J" --data '{"id":90}' "$BASE/ingest/secure")" 401
eq "wrong token -> 401" "$(req -X POST -H "$J" -H 'Authorization: Bearer nope' --data '{"id":90}' "$BASE/ingest/secure")" 401
eq "right token -> 202" "$(req -X POST -H "$J" -H 'Authorization: Bearer s3cret' --data '{"id":7,"cls":"X9"}' "$BASE/ingest/secure")" 202
eq "unknown route -> 404 JSON" "$(req "$BASE/nope")" 404
grep -q '"error"' "$WORK/body"; eq "404 body is a JSON error" "$?" 0
eq "POST on /health -> 405" "$(req -X POST --data x "$BASE/health")" 405
check "7 rows reach the sink (nothing of a rejected body)" wait_rows 7
eq "no record of a body with a non-object was appended" "$(sq "$WORK/out.db" "select count(*) from flares where cls = 'NO'")" 0

# ---- ready, pipeline, metrics
eq "/ready 200" "$(req "$BASE/ready")" 200
eq "/ready reports sources and jobs" "$(jq_py 'd["status"], d["ready"], sorted(s["name"] for s in d["sources"]), d["jobs"][0]["state"]')" "ready True ['bulk', 'secure', 'solar'] running"
eq "/api/pipeline 200" "$(req "$BASE/api/pipeline")" 200
eq "/api/pipeline is the runner status" "$(jq_py '[s["type"] for s in d["sources"]], d["jobs"][0]["name"]')" "['ingest', 'ingest', 'ingest'] store"
eq "/metrics 200" "$(req "$BASE/metrics")" 200
grep -qi '^Content-Type: text/plain; version=0.0.4' "$WORK/hdr"; eq "/metrics content type" "$?" 0
$PY - "$WORK/body" "$(rows)" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
def val(fam, **labels):
    return sum(s.value for s in fams[fam].samples
               if s.name.endswith("_total") or fam == s.name
               if all(s.labels.get(k) == v for k, v in labels.items()))
out = val("sluice_job_records_out", job="store")
assert out == int(sys.argv[2]), (out, sys.argv[2])
assert val("sluice_source_records", source="solar") == 6, val("sluice_source_records", source="solar")
assert val("sluice_http_requests", route="/ingest/solar", code="202") == 3
assert val("sluice_http_requests", route="/ingest/solar", code="400") == 7
assert val("sluice_http_requests", route="/ingest/secure", code="401") == 2
assert val("sluice_http_requests", route="/health", code="200") >= 3
PY
eq "/metrics parses; counters match the records processed" "$?" 0

# ---- query API
eq "/api/tables 200" "$(req "$BASE/api/tables")" 200
eq "/api/tables lists the sink table" "$(jq_py '[(t["name"], [c["name"] for c in t["columns"]], t["rows"]) for t in d]')" "[('flares', ['id', 'cls', 'at', 'v'], 7)]"
eq "filter + order" "$(req "$BASE/api/tables/flares?where=id:gt:2&where=cls:like:%25%25&order=id%20desc&limit=2")" 200
eq "filter + order rows" "$(jq_py '[r[0] for r in d["rows"]], d["total"], [c["name"] for c in d["columns"]]')" "[7, 6] 5 ['id', 'cls', 'at', 'v']"
eq "time range on ISO text" "$(req "$BASE/api/tables/flares?time=at&from=2024-01-02&to=2024-01-03&order=at")" 200
eq "time range rows" "$(jq_py '[r[0] for r in d["rows"]], d["rows"][0][2]')" "[2, 3] 2024-01-02T12:00:00.000Z"
eq "time range with epoch ms and a time" "$(req "$BASE/api/tables/flares?time=at&from=1704153600000&to=2024-01-03T00:00:00Z")" 200
eq "epoch ms rows" "$(jq_py 'sorted(r[0] for r in d["rows"])')" "[2, 3]"
eq "offset pages" "$(req "$BASE/api/tables/flares?order=id&limit=2&offset=2")" 200
eq "offset rows" "$(jq_py '[r[0] for r in d["rows"]]')" "[3, 4]"
eq "bad column in where -> 400" "$(req "$BASE/api/tables/flares?where=nope:eq:1")" 400
eq "400 names the bad column" "$(jq_py 'd["error"]')" "unknown column 'nope' in 'where'"
eq "bad order column -> 400" "$(req "$BASE/api/tables/flares?order=nope")" 400
eq "injection in where column -> 400" "$(req "$BASE/api/tables/flares?where=id%20OR%201%3D1%20--:eq:1")" 400
eq "injection in order -> 400" "$(req "$BASE/api/tables/flares?order=id%3B%20DROP%20TABLE%20flares")" 400
eq "subquery in order -> 400" "$(req "$BASE/api/tables/flares?order=(SELECT%201)")" 400
! grep -qiE 'sqlite|syntax|no such|SELECT' "$WORK/body"; eq "errors carry no SQL text" "$?" 0
eq "injection in a value is only a value" "$(req "$BASE/api/tables/flares?where=cls:eq:x%27%20OR%20%271%27%3D%271")" 200
eq "  ... and matches nothing" "$(jq_py 'd["total"]')" 0
eq "malformed date -> 400" "$(req "$BASE/api/tables/flares?time=at&from=2024-13-45")" 400
grep -q 'malformed date' "$WORK/body"; eq "400 says malformed date" "$?" 0
eq "garbage date -> 400" "$(req "$BASE/api/tables/flares?time=at&to=yesterday")" 400
eq "unknown table -> 404" "$(req "$BASE/api/tables/sqlite_master")" 404
eq "unknown parameter -> 400" "$(req "$BASE/api/tables/flares?sql=select")" 400
eq "table still there" "$(rows)" 7
$PY -c "
for i in range(1000, 11100): print('{\"id\":%d,\"cls\":\"Z\"}' % i)" > "$WORK/bulk.jsonl"
eq "bulk ingest 10100 lines -> 202" "$(req -X POST -H 'Content-Type: application/x-ndjson' --data-binary @"$WORK/bulk.jsonl" "$BASE/ingest/bulk")" 202
check "bulk rows reach the sink" wait_rows 10107
eq "huge limit is capped at 10000" "$(req "$BASE/api/tables/flares?limit=99999999")" 200
eq "capped rows and total" "$(jq_py 'len(d["rows"]), d["total"]')" "10000 10107"
eq "default limit 1000" "$(req "$BASE/api/tables/flares")" 200
eq "default limit rows" "$(jq_py 'len(d["rows"])')" 1000

# ---- live tail (SSE)
req "$BASE/api/pipeline" >/dev/null
END=$(jq_py '[t for t in d["topics"] if t["name"] == "flares"][0]["partitions"][0]["end"]')
curl -s -N "$BASE/api/tail/flares" > "$WORK/sse.txt" &
CPID=$!
for _ in $(seq 1 50); do grep -q connected "$WORK/sse.txt" && break; sleep 0.1; done
eq "SSE: ingest while tailing" "$(req -X POST -H "$J" --data '{"id":5555,"cls":"SSE"}' "$BASE/ingest/solar")" 202
for _ in $(seq 1 50); do grep -q "^id: 0-$END\$" "$WORK/sse.txt" && break; sleep 0.1; done
kill $CPID 2>/dev/null; wait $CPID 2>/dev/null
grep -q "^id: 0-$END\$" "$WORK/sse.txt"; eq "SSE event has id partition-offset" "$?" 0
grep -A1 "^id: 0-$END\$" "$WORK/sse.txt" | grep '^data: ' | sed 's/^data: //' > "$WORK/ev.json"
eq "SSE data is the record line" "$($PY -c "import json; d=json.load(open('$WORK/ev.json')); print(d['topic'], d['partition'], d['offset'], d['key'], d['value']['id'])")" "flares 0 $END 5555 5555"
curl -s -N --max-time 2 -H "Last-Event-ID: 0-$((END - 1))" "$BASE/api/tail/flares" > "$WORK/sse2.txt"
eq "SSE resumes after Last-Event-ID" "$(grep '^id:' "$WORK/sse2.txt" | head -n 1)" "id: 0-$END"
curl -s -N --max-time 2 "$BASE/api/tail/flares?from=start" > "$WORK/sse3.txt"
eq "SSE from=start begins at offset 0" "$(grep '^id:' "$WORK/sse3.txt" | head -n 1)" "id: 0-0"
eq "SSE of an unknown topic -> 404" "$(req "$BASE/api/tail/nope")" 404
curl -s -N --max-time 1 -D "$WORK/sseh" -o /dev/null "$BASE/api/tail/flares"
grep -qi '^Content-Type: text/event-stream' "$WORK/sseh"; eq "SSE content type" "$?" 0

# ---- durability: acknowledged means durable, even across kill -9
eq "ingest before kill -9 -> 202" "$(req -X POST -H "$J" --data '{"id":424242,"cls":"DUR"}' "$BASE/ingest/solar")" 202
kill -9 "$SPID"; wait "$SPID" 2>/dev/null; SPID=""
"$SLUICE" run --once "$WORK/p.yaml" --log-level error
eq "restart --once exits 0" "$?" 0
eq "acknowledged record reached the sink after kill -9" "$(sq "$WORK/out.db" "select cls from flares where id = 424242")" DUR

# ---- graceful stop
check "server comes up again" start_sluice "$WORK/p.yaml"
curl -s -N "$BASE/api/tail/flares" > /dev/null &
CPID=$!
sleep 0.3
kill -TERM "$SPID"; wait "$SPID"; eq "SIGTERM with a live tail open: exit 0" "$?" 0
SPID=""
wait $CPID 2>/dev/null; eq "the tail ends on shutdown" "$?" 0

# ---- token, login cookie, CORS
PORT=$(free_port); BASE="http://127.0.0.1:$PORT"
cat > "$WORK/t.yaml" <<YAML
data_dir: $WORK/data2
serve: { listen: "127.0.0.1:$PORT", token: tok3n, cors: "https://dash.example", session_ttl: 1h }
sources:
  g: { generate: { count: 3, template: { n: "meta.seq" } }, to: nums }
jobs:
  j: { from: nums, to: [ { sqlite: { path: $WORK/t.db, table: nums } } ] }
YAML
check "token server comes up" start_sluice "$WORK/t.yaml"
eq "token: /health needs none" "$(req "$BASE/health")" 200
eq "token: /ready without -> 401" "$(req "$BASE/ready")" 401
eq "token: 401 is JSON" "$(jq_py 'd["error"]')" "missing or wrong bearer token"
eq "token: /metrics without -> 401" "$(req "$BASE/metrics")" 401
eq "token: /api/tables with bearer -> 200" "$(req -H 'Authorization: Bearer tok3n' "$BASE/api/tables")" 200
eq "token: wrong bearer -> 401" "$(req -H 'Authorization: Bearer tok3' "$BASE/api/tables")" 401
eq "token: GET /login form" "$(req "$BASE/login")" 200
eq "token: wrong login -> 401" "$(req -X POST --data 'token=bad' "$BASE/login")" 401
eq "token: POST /login -> 303" "$(req -X POST --data 'token=tok3n' "$BASE/login")" 303
grep -i '^Set-Cookie:' "$WORK/hdr" | grep -q 'HttpOnly' && grep -i '^Set-Cookie:' "$WORK/hdr" | grep -q 'SameSite=Strict'
eq "login cookie is HttpOnly SameSite=Strict" "$?" 0
COOKIE=$(grep -i '^Set-Cookie:' "$WORK/hdr" | sed 's/^[^:]*: *//; s/;.*//')
eq "cookie opens the API" "$(req -b "$COOKIE" "$BASE/api/pipeline")" 200
grep -qi '^Access-Control-Allow-Origin: https://dash.example' "$WORK/hdr"; eq "CORS header when configured" "$?" 0
eq "CORS preflight -> 204" "$(req -X OPTIONS "$BASE/api/tables")" 204

# ---- sessions (issue 12: the cookie was a fixed SHA-1 of the token, same on every
# login, never expiring, not revocable), CSP as a header, the /login throttle
echo "$COOKIE" | grep -Eq '^sluice_session=[0-9a-f]{64}$'; eq "session cookie is a 64-hex id" "$?" 0
grep -i '^Set-Cookie:' "$WORK/hdr" >/dev/null
eq "second login -> 303" "$(req -X POST --data 'token=tok3n' "$BASE/login")" 303
grep -i '^Set-Cookie:' "$WORK/hdr" | grep -q 'Max-Age=3600'; eq "cookie lives session_ttl (Max-Age=3600)" "$?" 0
COOKIE2=$(grep -i '^Set-Cookie:' "$WORK/hdr" | sed 's/^[^:]*: *//; s/;.*//')
check "every login gets another random id" test "$COOKIE" != "$COOKIE2"
OLD=$(printf 'sluice-session\ntok3n' | sha1sum | cut -c1-40)
eq "the old fixed cookie (SHA-1 of the token) opens nothing" "$(req -b "sluice_session=$OLD" "$BASE/api/pipeline")" 401
eq "POST /logout -> 303" "$(req -X POST -b "$COOKIE" "$BASE/logout")" 303
grep -i '^Set-Cookie:' "$WORK/hdr" | grep -q 'Max-Age=0'; eq "logout clears the cookie" "$?" 0
eq "a logged-out session opens nothing" "$(req -b "$COOKIE" "$BASE/api/pipeline")" 401
eq "  ... while another session still works" "$(req -b "$COOKIE2" "$BASE/api/pipeline")" 200
eq "GET /logout -> 405" "$(req "$BASE/logout")" 405
eq "dashboard page with the session -> 200" "$(req -b "$COOKIE2" "$BASE/")" 200
grep -i '^Content-Security-Policy:' "$WORK/hdr" | grep -q "script-src 'self'.*frame-ancestors 'none'"
eq "dashboard page: Content-Security-Policy header" "$?" 0
req "$BASE/login" >/dev/null
grep -qi '^Content-Security-Policy:' "$WORK/hdr"; eq "sign-in form: Content-Security-Policy header" "$?" 0
$PY - "$PORT" > "$WORK/guess.out" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
counts = {}
for i in range(300):
    c.request("POST", "/login", body="token=guess%d" % i,
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    r.read()
    k = str(r.status) + ("" if r.status != 429 or r.getheader("Retry-After") else "-no-retry-after")
    counts[k] = counts.get(k, 0) + 1
print(counts.get("401", 0), counts.get("429", 0), sum(counts.values()))
PY
read -r G401 G429 GALL < "$WORK/guess.out"
eq "300 wrong guesses: every one answered 401 or 429 with Retry-After" "$((G401 + G429)) $GALL" "300 300"
check "300 wrong guesses: at most 12 were checked ($G401), the rest 429" test "$G401" -ge 5 -a "$G401" -le 12
eq "the right token from 127.0.0.2 is not throttled" "$(req --interface 127.0.0.2 -X POST --data 'token=tok3n' "$BASE/login")" 303
req "$BASE/metrics" -b "$COOKIE2" >/dev/null
check "/metrics counts throttled attempts" test "$(awk '$1 == "sluice_http_login_throttled_total" { print int($2) }' "$WORK/body")" -ge 288
stop_sluice
check "token server comes up again" start_sluice "$WORK/t.yaml"
eq "a restart ends every session" "$(req -b "$COOKIE2" "$BASE/api/pipeline")" 401
stop_sluice
PORT=$(free_port); BASE="http://127.0.0.1:$PORT"
sed -i "s/127.0.0.1:[0-9]*\", token: tok3n, cors: \"https:\/\/dash.example\", session_ttl: 1h/127.0.0.1:$PORT\"/" "$WORK/t.yaml"
check "server without cors comes up" start_sluice "$WORK/t.yaml"
req "$BASE/health" >/dev/null
! grep -qi '^Access-Control' "$WORK/hdr"; eq "no CORS headers by default" "$?" 0
eq "no token: /ready open" "$(req "$BASE/ready")" 200
stop_sluice

# ---- config: a non-loopback address needs a token
cat > "$WORK/open.yaml" <<YAML
data_dir: $WORK/data3
serve:
  listen: 0.0.0.0:8080
sources:
  s: { ingest: { path: /in }, to: t }
YAML
"$SLUICE" check "$WORK/open.yaml" > "$WORK/check.out" 2>&1; eq "non-loopback without token: check fails" "$?" 1
grep -q "open.yaml:3:11: error: .*not a loopback address.*token" "$WORK/check.out"; eq "  ... at FILE:LINE:COL" "$?" 0
printf 'data_dir: %s\nserve: { listen: "0.0.0.0:8080", token: x }\nsources:\n  s: { ingest: { path: /api/x }, to: t }\n' "$WORK/d4" > "$WORK/res.yaml"
"$SLUICE" check "$WORK/res.yaml" > "$WORK/check.out" 2>&1; eq "ingest path on a built-in route: check fails" "$?" 1
printf 'data_dir: %s\nserve: { listen: "0.0.0.0:8080", token: x }\nsources:\n  s: { ingest: { path: /in }, to: t }\n' "$WORK/d4" > "$WORK/ok.yaml"
"$SLUICE" check "$WORK/ok.yaml"; eq "non-loopback with token: check passes" "$?" 0
done_tests
