#!/bin/sh
# Alerts (issue 8): the ISS visible-pass rule of pipelines/iss.yaml, run as is on replayed
# positions (a cassette per case, written here with geometry checked by an independent
# Python computation) with only vars.home overridden by a second file, mailing to a real
# SMTP server on 127.0.0.1 (python3-aiosmtpd, started here); a webhook to a local HTTP
# server that fails twice; the alert history table.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
PY=/usr/bin/python3
if ! $PY -c 'import aiosmtpd' 2>/dev/null; then
  echo "SKIP: python3-aiosmtpd is not installed (scripts/deps.sh installs it)"
  fail "python3-aiosmtpd installed" "missing"; done_tests; exit 1
fi
PIDS=""
stop_all() { for p in $PIDS; do kill "$p" 2>/dev/null; done; for p in $PIDS; do wait "$p" 2>/dev/null; done; PIDS=""; }
trap 'stop_all; cleanup_work' EXIT

# ---------------------------------------------------------------- helpers (Python)
cat > "$WORK/geo.py" <<'PY'
# Independent geometry: the same formulas as the documentation of elevation_deg,
# sun_elevation (NOAA) and azimuth_deg, written again here to check the engine.
import json, math, os, sys
DEG = math.pi / 180
def central(a1, o1, a2, o2):
    h = math.sin((a2 - a1) * DEG / 2) ** 2 + math.cos(a1 * DEG) * math.cos(a2 * DEG) * math.sin((o2 - o1) * DEG / 2) ** 2
    return 2 * math.asin(math.sqrt(min(h, 1)))
def elev(olat, olon, slat, slon, alt):
    g = central(olat, olon, slat, slon); R = 6371.0
    return math.atan2(math.cos(g) - R / (R + alt), math.sin(g)) / DEG
def dist(a1, o1, a2, o2): return 6371.0088 * central(a1, o1, a2, o2)
def azim(a1, o1, a2, o2):
    p1, p2, dl = a1 * DEG, a2 * DEG, (o2 - o1) * DEG
    return (math.atan2(math.sin(dl) * math.cos(p2), math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)) / DEG + 360) % 360
def sun(lat, lon, ms):  # geometric elevation (NOAA), no refraction: at night it is < 0.01 deg off
    jd = ms / 86400000.0 + 2440587.5; jc = (jd - 2451545.0) / 36525.0
    l0 = (280.46646 + jc * (36000.76983 + jc * 0.0003032)) % 360
    m = 357.52911 + jc * (35999.05029 - 0.0001537 * jc); e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    c = math.sin(m * DEG) * (1.914602 - jc * (0.004817 + 0.000014 * jc)) + math.sin(2 * m * DEG) * (0.019993 - 0.000101 * jc) + math.sin(3 * m * DEG) * 0.000289
    om = 125.04 - 1934.136 * jc; al = l0 + c - 0.00569 - 0.00478 * math.sin(om * DEG)
    ob = 23 + (26 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60) / 60 + 0.00256 * math.cos(om * DEG)
    decl = math.asin(math.sin(ob * DEG) * math.sin(al * DEG)) / DEG
    vy = math.tan(ob / 2 * DEG) ** 2
    eqt = 4 / DEG * (vy * math.sin(2 * l0 * DEG) - 2 * e * math.sin(m * DEG) + 4 * e * vy * math.sin(m * DEG) * math.cos(2 * l0 * DEG) - 0.5 * vy * vy * math.sin(4 * l0 * DEG) - 1.25 * e * e * math.sin(2 * m * DEG))
    tst = ((ms / 60000.0) % 1440 + eqt + 4 * lon) % 1440
    ha = tst / 4 - 180
    cz = math.sin(lat * DEG) * math.sin(decl * DEG) + math.cos(lat * DEG) * math.cos(decl * DEG) * math.cos(ha * DEG)
    return 90 - math.acos(max(-1, min(1, cz))) / DEG
def track(lat0, lon0, lat1, lon1, n):
    """n points from (lat0, lon0) to (lat1, lon1), longitudes wrapped into [-180, 180)."""
    dl = ((lon1 - lon0 + 540) % 360) - 180
    return [(lat0 + (lat1 - lat0) * i / (n - 1), ((lon0 + dl * i / (n - 1) + 540) % 360) - 180) for i in range(n)]
def write_pass(dirname, start_index, t0, pts, vis, step=20, alt=420.0):
    """Cassette files NNN.json, one wheretheiss-shaped position each; returns the positions."""
    os.makedirs(dirname, exist_ok=True)
    out = []
    for i, (la, lo) in enumerate(pts):
        p = {"name": "iss", "id": 25544, "latitude": round(la, 6), "longitude": round(lo, 6), "altitude": alt,
             "velocity": 27600.0, "visibility": vis, "footprint": 4500.0, "timestamp": t0 + i * step, "units": "kilometers"}
        with open(os.path.join(dirname, "%03d.json" % (start_index + i)), "w") as f: json.dump(p, f)
        out.append(p)
    return out
def first_visible(home, ps, min_el=10):
    for p in ps:
        if (elev(home[0], home[1], p["latitude"], p["longitude"], p["altitude"]) > min_el and
                sun(home[0], home[1], p["timestamp"] * 1000) < -6 and p["visibility"] == "daylight"):
            return p
    return None
PY

cat > "$WORK/smtpd.py" <<'PY'
# A mail sink on 127.0.0.1: every message to DIR/NNN.eml (raw, as received), envelope to
# DIR/NNN.env; with USER PASS, AUTH is required (and allowed without TLS).
import os, signal, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
port, out = int(sys.argv[1]), sys.argv[2]
user, pw = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else (None, None)
os.makedirs(out, exist_ok=True)
class Handler:
    n = len([f for f in os.listdir(out) if f.endswith(".eml")])
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        base = os.path.join(out, "%03d" % Handler.n)
        with open(base + ".env", "w") as f: f.write(envelope.mail_from + "\n" + "\n".join(envelope.rcpt_tos) + "\n")
        with open(base + ".tmp", "wb") as f: f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK"
def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == pw
    return AuthResult(success=ok, handled=False)
kw = dict(authenticator=auth, auth_required=True, auth_require_tls=False) if user else {}
c = Controller(Handler(), hostname="127.0.0.1", port=port, **kw)
c.start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
c.stop()
PY

cat > "$WORK/hook.py" <<'PY'
# A webhook on 127.0.0.1 that answers 500 to the first FAILS requests, then 200; each
# request's body goes to DIR/requests.jsonl as {"status", "body"}.
import http.server, json, os, sys
port, out, fails = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
count = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        count += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        status = 500 if count <= fails else 200
        with open(os.path.join(out, "requests.jsonl"), "a") as f:
            f.write(json.dumps({"status": status, "body": body, "auth": self.headers.get("Authorization")}) + "\n")
        self.send_response(status); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", port), H)
print("ready", flush=True)
s.serve_forever()
PY

cat > "$WORK/mail.py" <<'PY'
# Parse a received message with Python's email package; print its fields as JSON.
import email, email.policy, email.utils, json, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.default)
body = m.get_body(preferencelist=("plain",))
subject_raw = [l for l in raw.decode("ascii", "replace").split("\r\n\r\n")[0].split("\r\n") if l.startswith("Subject:")]
print(json.dumps({
    "subject": str(m["Subject"]), "subject_raw": subject_raw[0] if subject_raw else "",
    "from": str(m["From"]), "to": str(m["To"]), "message_id": str(m["Message-ID"]),
    "date_ok": email.utils.parsedate_to_datetime(str(m["Date"])) is not None,
    "content_type": m.get_content_type(), "charset": body.get_content_charset() if body else None,
    "body": body.get_content() if body else "", "defects": len(m.defects)}))
PY

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
start_smtp() {  # start_smtp PORT DIR [USER PASS]: background, waits until ready
  $PY "$WORK/smtpd.py" "$@" > "$WORK/smtpd.$1.out" 2>&1 &
  PIDS="$PIDS $!"; SMTP_PID=$!
  i=0; while ! grep -q ready "$WORK/smtpd.$1.out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}
mails() { ls "$1" 2>/dev/null | grep -c '\.eml$'; }
wait_mails() {  # wait_mails DIR N SECONDS
  i=0; while [ "$(mails "$1")" -lt "$2" ] && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
}
override() {  # override FILE LAT LON: vars.home for pipelines/iss.yaml
  printf 'vars:\n  home: { lat: %s, lon: %s }\n' "$2" "$3" > "$1"
}
run_iss() {  # run_iss CASE [extra args]: pipelines/iss.yaml + CASE/home.yaml on CASE/cassette, --once
  c=$1; shift
  SLUICE_OUT=$c/out SLUICE_DATA=$c/data SLUICE_LISTEN=127.0.0.1:0 SMTP_PORT=$SMTP_PORT \
    "$SLUICE" run --once --replay "$c/cassette" pipelines/iss.yaml "$c/home.yaml" "$@" --log-level warn 2>> "$c/log"
}
json_get() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

SMTP_PORT=$(free_port)
MAIL=$WORK/mail
start_smtp "$SMTP_PORT" "$MAIL"
check "the SMTP server starts" grep -q ready "$WORK/smtpd.$SMTP_PORT.out"

# ---------------------------------------------------------------- 1. a pass at night
# Paris, 2024-01-15 20:00 UTC (the Sun ~ -45 degrees); the track runs south-west to
# north-east, ~330 km east of the observer at its closest.
PARIS="48.8566 2.3522"
c=$WORK/night; mkdir -p "$c"; override "$c/home.yaml" 48.8566 2.3522
cat > "$WORK/gen_night.py" <<'PY'
import json, sys; sys.path.insert(0, sys.argv[1]); from geo import *
home = (48.8566, 2.3522); t0 = 1705348800   # 2024-01-15T20:00:00Z
ps = write_pass(sys.argv[2], 0, t0, track(38.0, -8.0, 51.4, 22.0, 22), "daylight")
p = first_visible(home, ps)
assert p is not None and sun(home[0], home[1], t0 * 1000) < -30
print(json.dumps({"lat": p["latitude"], "lon": p["longitude"], "ts": p["timestamp"],
                  "az": azim(home[0], home[1], p["latitude"], p["longitude"]),
                  "el": elev(home[0], home[1], p["latitude"], p["longitude"], p["altitude"]),
                  "km": dist(home[0], home[1], p["latitude"], p["longitude"]),
                  "visible": sum(1 for q in ps if elev(home[0], home[1], q["latitude"], q["longitude"], 420) > 10)}))
PY
$PY "$WORK/gen_night.py" "$WORK" "$c/cassette/iss" > "$c/expect.json"
check "night: the generated pass is visible (Python's geometry)" test -s "$c/expect.json"
run_iss "$c"; eq "night: run --once exits 0" "$?" 0
wait_mails "$MAIL" 1 5
eq "night: exactly one mail" "$(mails "$MAIL")" 1
check "night: the pass had several visible positions (one mail for all)" test "$(json_get "$c/expect.json" visible)" -ge 3
$PY "$WORK/mail.py" "$MAIL/001.eml" > "$c/mail.json"
eq "mail: parses without defects" "$(json_get "$c/mail.json" defects)" 0
eq "mail: text/plain" "$(json_get "$c/mail.json" content_type)" text/plain
eq "mail: charset utf-8" "$(json_get "$c/mail.json" charset)" utf-8
eq "mail: From" "$(json_get "$c/mail.json" from)" "sluice <sluice@localhost>"
eq "mail: To" "$(json_get "$c/mail.json" to)" "observer@localhost"
check "mail: a Date that parses" test "$(json_get "$c/mail.json" date_ok)" = True
json_get "$c/mail.json" message_id > "$c/mid"
check "mail: a Message-ID from the notification's id" grep -Eq '^<[0-9a-f]{32}\.sluice@localhost>$' "$c/mid"
check "mail: the subject is RFC 2047 encoded on the wire" sh -c "grep -q '=?UTF-8?B?' $c/mail.json"
$PY - "$c/mail.json" "$c/expect.json" > "$c/content.out" <<'PY'
import json, re, sys
m = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))
dirs = ['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW']
want_dir = dirs[int(e["az"] / 45 + 0.5) % 8]
body = m["body"]
checks = {
  "subject decodes to UTF-8 with the direction and elevation":
      m["subject"] == "ISS visible now: look %s, %d° up" % (want_dir, int(e["el"] + 0.5)),
  "body: the direction to look": ("Look towards: %s " % want_dir) in body,
  "body: the azimuth": abs(float(re.search(r"azimuth (\d+)°", body).group(1)) - e["az"]) <= 0.5,
  "body: the elevation": abs(float(re.search(r"Elevation: ([\d.]+)°", body).group(1)) - e["el"]) <= 0.051,
  "body: the distance": abs(float(re.search(r"below it: (\d+) km", body).group(1)) - e["km"]) <= 0.5,
  "body: the time of the first visible position": "2024-01-15 %s" % __import__("time").strftime("%H:%M:%S", __import__("time").gmtime(e["ts"])) in body,
}
for k, v in checks.items(): print(("ok " if v else "FAIL ") + k)
if not all(checks.values()): print("subject: " + m["subject"]); print(body)
PY
while read -r line; do case $line in "ok "*) ok "${line#ok }";; "FAIL "*) fail "${line#FAIL }" "see $c/content.out";; esac; done < "$c/content.out"
grep -v '^ok \|^FAIL ' "$c/content.out" | head -n 20
eq "night: one row in alert_history" "$(sq "$c/data/alerts.db" "select count(*) from alert_history where state='firing'")" 1
eq "night: no dead letters" "$(SLUICE_DATA=$c/data "$SLUICE" tail pipelines/iss.yaml alert.iss_visible.dlq --from-start 2>/dev/null | wc -l | tr -d ' ')" 0
check "night: the log sink logged the firing" grep -q "alert iss_visible firing \[25544\]" "$c/log"
# a rerun replays nothing new and sends nothing
run_iss "$c"; wait_mails "$MAIL" 2 1
eq "night: a rerun sends nothing" "$(mails "$MAIL")" 1

# ---------------------------------------------------------------- 2. the same pass in daylight
c=$WORK/day; mkdir -p "$c"; override "$c/home.yaml" 48.8566 2.3522
$PY -c "
import sys; sys.path.insert(0, '$WORK'); from geo import *
t0 = 1705320000   # 2024-01-15T12:00:00Z: noon in Paris
assert sun(48.8566, 2.3522, t0 * 1000) > 10
ps = write_pass('$c/cassette/iss', 0, t0, track(38.0, -8.0, 51.4, 22.0, 22), 'daylight')
assert any(elev(48.8566, 2.3522, p['latitude'], p['longitude'], 420) > 10 for p in ps)"
check "day: the generated pass is high enough but in daylight" test $? -eq 0
run_iss "$c"; eq "day: run --once exits 0" "$?" 0
sleep 0.3
eq "day: no mail" "$(mails "$MAIL")" 1

# ---------------------------------------------------------------- 3. night, station eclipsed
c=$WORK/eclipsed; mkdir -p "$c"; override "$c/home.yaml" 48.8566 2.3522
$PY -c "
import sys; sys.path.insert(0, '$WORK'); from geo import *
write_pass('$c/cassette/iss', 0, 1705348800, track(38.0, -8.0, 51.4, 22.0, 22), 'eclipsed')"
run_iss "$c"; eq "eclipsed: run --once exits 0" "$?" 0
sleep 0.3
eq "eclipsed: no mail" "$(mails "$MAIL")" 1

# ---------------------------------------------------------------- 4. two passes 95 minutes apart
c=$WORK/two; mkdir -p "$c"; override "$c/home.yaml" 48.8566 2.3522
$PY -c "
import sys; sys.path.insert(0, '$WORK'); from geo import *
home = (48.8566, 2.3522); t0 = 1705345200   # 2024-01-15T19:00:00Z
a = write_pass('$c/cassette/iss', 0, t0, track(38.0, -8.0, 51.4, 22.0, 22), 'daylight')
b = write_pass('$c/cassette/iss', 100, t0 + 95 * 60, track(36.0, -14.0, 50.5, 14.0, 22), 'daylight')
assert first_visible(home, a) and first_visible(home, b)"
run_iss "$c"; eq "two passes: run --once exits 0" "$?" 0
wait_mails "$MAIL" 3 5
eq "two passes: two mails" "$(mails "$MAIL")" 3
eq "two passes: two firings in the history" "$(sq "$c/data/alerts.db" "select count(*) from alert_history")" 2

# ---------------------------------------------------------------- 5. SIGKILL in the middle of a pass
c=$WORK/kill; mkdir -p "$c"; override "$c/home.yaml" 48.8566 2.3522
$PY -c "
import sys, os, shutil; sys.path.insert(0, '$WORK'); from geo import *
home = (48.8566, 2.3522)
ps = write_pass('$c/all', 0, 1705348800, track(38.0, -8.0, 51.4, 22.0, 22), 'daylight')
first = ps.index(first_visible(home, ps))
os.makedirs('$c/cassette/iss')
for i in range(first + 2): shutil.copy('$c/all/%03d.json' % i, '$c/cassette/iss/')
vis_after = [p for p in ps[first + 2:] if elev(home[0], home[1], p['latitude'], p['longitude'], 420) > 10]
assert len(vis_after) >= 2   # the pass goes on after the restart
print(len(ps))" > "$c/n"
SLUICE_OUT=$c/out SLUICE_DATA=$c/data SLUICE_LISTEN=127.0.0.1:0 SMTP_PORT=$SMTP_PORT \
  "$SLUICE" run --replay "$c/cassette" pipelines/iss.yaml "$c/home.yaml" --log-level warn 2>> "$c/log" &
RUN=$!
wait_mails "$MAIL" 4 10
i=0; while [ "$(sq "$c/data/alerts.db" "select count(*) from alert_history" 2>/dev/null || echo 0)" -lt 1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sleep 1   # the job commits its offsets and the alert's state right after the sinks
kill -9 $RUN; wait $RUN 2>/dev/null
eq "kill: the mail of the pass was sent before the kill" "$(mails "$MAIL")" 4
cp "$c"/all/*.json "$c/cassette/iss/"
run_iss "$c"; eq "kill: the restart exits 0" "$?" 0
sleep 0.5
eq "kill: no second mail after the restart" "$(mails "$MAIL")" 4
eq "kill: every position was stored" "$(sq "$c/out/iss.db" "select count(*) from iss_data")" "$(cat "$c/n")"

# ---------------------------------------------------------------- 6. the 180 degree seam, high latitude
# an observer at 60N 179.9E; the station passes at ~51.5N crossing the antimeridian
# (positions at +179.x and -179.9); 2024-01-15 10:00 UTC is ~22:00 local solar time.
c=$WORK/seam; mkdir -p "$c"; override "$c/home.yaml" 60.0 179.9
$PY -c "
import sys, json; sys.path.insert(0, '$WORK'); from geo import *
home = (60.0, 179.9); t0 = 1705312800
pts = [(51.3 + 0.02 * i - 0.0004 * i * i, ((170.0 + 1.0 * i + 540) % 360) - 180) for i in range(21)]
pts[10] = (pts[10][0], -179.9)
ps = write_pass('$c/cassette/iss', 0, t0, pts, 'daylight')
assert sun(home[0], home[1], t0 * 1000) < -6, sun(home[0], home[1], t0 * 1000)
p = first_visible(home, ps); assert p is not None
assert any(q['longitude'] == -179.9 and elev(home[0], home[1], q['latitude'], q['longitude'], 420) > 10 for q in ps)
assert any(q['longitude'] > 170 for q in ps) and any(q['longitude'] < -170 for q in ps)"
check "seam: the generated pass crosses the antimeridian and is visible" test $? -eq 0
run_iss "$c"; eq "seam: run --once exits 0" "$?" 0
wait_mails "$MAIL" 5 5
eq "seam: one mail" "$(mails "$MAIL")" 5
eq "seam: the distance at -179.9 seen from 179.9 is small (not ~20000 km)" \
  "$(sq "$c/out/iss.db" "select count(*) from iss_data where longitude = -179.9 and distance_km < 1100 and elevation_deg > 10")" 1

# ---------------------------------------------------------------- 7. SMTP down at firing time
c=$WORK/down; mkdir -p "$c"; override "$c/home.yaml" 48.8566 2.3522
$PY -c "
import sys; sys.path.insert(0, '$WORK'); from geo import *
write_pass('$c/cassette/iss', 0, 1705348800, track(38.0, -8.0, 51.4, 22.0, 22), 'daylight')"
DOWN_PORT=$(free_port)
SLUICE_OUT=$c/out SLUICE_DATA=$c/data SLUICE_LISTEN=127.0.0.1:0 SMTP_PORT=$DOWN_PORT \
  "$SLUICE" run --replay "$c/cassette" pipelines/iss.yaml "$c/home.yaml" --log-level warn 2>> "$c/log" &
RUN=$!
i=0; while ! grep -q "sink email" "$c/log" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "down: the failed delivery is logged and retried" grep -q "Couldn't connect\|Failed to connect" "$c/log"
sleep 1
start_smtp "$DOWN_PORT" "$c/mail"
wait_mails "$c/mail" 1 40
kill -TERM $RUN; wait $RUN; rc=$?
eq "down: the mail is delivered once the server is back" "$(mails "$c/mail")" 1
eq "down: stops cleanly on SIGTERM" "$rc" 0
eq "down: no dead letter" "$(SLUICE_DATA=$c/data "$SLUICE" tail pipelines/iss.yaml alert.iss_visible.dlq --from-start 2>/dev/null | wc -l | tr -d ' ')" 0

# ---------------------------------------------------------------- 8. wrong password / right password
AUTH_PORT=$(free_port)
start_smtp "$AUTH_PORT" "$WORK/authmail" alice "s3cret-pass"
c=$WORK/badpw; mkdir -p "$c"; override "$c/home.yaml" 48.8566 2.3522
$PY -c "
import sys; sys.path.insert(0, '$WORK'); from geo import *
write_pass('$c/cassette/iss', 0, 1705348800, track(38.0, -8.0, 51.4, 22.0, 22), 'daylight')"
SMTP_PORT=$AUTH_PORT SMTP_USER=alice SMTP_PASSWORD=Wr0ng-Pa55word \
  SLUICE_OUT=$c/out SLUICE_DATA=$c/data SLUICE_LISTEN=127.0.0.1:0 \
  "$SLUICE" run --once --replay "$c/cassette" pipelines/iss.yaml "$c/home.yaml" --log-level info 2>> "$c/log"
eq "wrong password: run --once exits 0 (no crash)" "$?" 0
eq "wrong password: no mail" "$(mails "$WORK/authmail")" 0
check "wrong password: a clear error in the log" grep -q "error.*sink email.*535.*dead-letter" "$c/log"
check "wrong password: the password is not in the log" sh -c "! grep -q 'Wr0ng-Pa55word' $c/log"
SLUICE_DATA=$c/data SLUICE_OUT=$c/out "$SLUICE" tail pipelines/iss.yaml alert.iss_visible.dlq --from-start > "$c/dlq" 2>/dev/null
eq "wrong password: the notification is in the DLQ" "$(wc -l < "$c/dlq" | tr -d ' ')" 1
check "wrong password: the DLQ entry holds the server's reply" grep -q '535' "$c/dlq"
check "wrong password: the DLQ entry holds the notification" grep -q '"state":"firing"' "$c/dlq"
check "wrong password: the password is not in the DLQ" sh -c "! grep -q 'Wr0ng-Pa55word' $c/dlq"
c=$WORK/goodpw; mkdir -p "$c"; override "$c/home.yaml" 48.8566 2.3522
cp -r "$WORK/badpw/cassette" "$c/"
SMTP_PORT=$AUTH_PORT SMTP_USER=alice SMTP_PASSWORD=s3cret-pass \
  SLUICE_OUT=$c/out SLUICE_DATA=$c/data SLUICE_LISTEN=127.0.0.1:0 \
  "$SLUICE" run --once --replay "$c/cassette" pipelines/iss.yaml "$c/home.yaml" --log-level debug 2>> "$c/log"
wait_mails "$WORK/authmail" 1 5
eq "right password: AUTH succeeds and the mail arrives" "$(mails "$WORK/authmail")" 1
check "right password: not in the log even at debug level" sh -c "! grep -q 's3cret-pass' $c/log"

# ---------------------------------------------------------------- 9. no server, --once, give_up_after 0s
c=$WORK/nosrv; mkdir -p "$c"; override "$c/home.yaml" 48.8566 2.3522
cp -r "$WORK/badpw/cassette" "$c/"
SMTP_PORT=$(free_port) ALERT_GIVE_UP_AFTER=0s SLUICE_OUT=$c/out SLUICE_DATA=$c/data SLUICE_LISTEN=127.0.0.1:0 \
  "$SLUICE" run --once --replay "$c/cassette" pipelines/iss.yaml "$c/home.yaml" --log-level error 2>> "$c/log"
eq "no server: run --once still exits 0" "$?" 0
eq "no server: the notification is in the DLQ" \
  "$(SLUICE_DATA=$c/data "$SLUICE" tail pipelines/iss.yaml alert.iss_visible.dlq --from-start 2>/dev/null | grep -c 'connect')" 1

# ---------------------------------------------------------------- 9b. durable retries (issue 12)
# A notification is retried for give_up_after (default 1h), not 9 attempts (~2.4 s), and
# it is pending durably: the alert job commits only after the sink acknowledged.
hot_pipeline() {  # hot_pipeline DIR SMTP_PORT [EXTRA email keys]: one firing for t1
  printf '%s\n' '{"sensor":"t1","temp":35,"at":1000}' > "$1/in.jsonl"
  cat > "$1/p.yaml" <<EOF
data_dir: $1/data
sources:
  temps: { file: { path: $1/in.jsonl }, key: sensor, ts: at, to: temps }
alerts:
  hot:
    from: temps
    when: "temp > 30"
    key: sensor
    cooldown: 1h
    subject: "{{sensor}} is hot: {{temp}} degrees"
    notify:
      - email: { smtp: "smtp://127.0.0.1:$2", from: "sluice <sluice@localhost>", to: [ops@localhost], timeout: 5s${3:+, $3} }
EOF
}
dlq_count() { "$SLUICE" tail "$1/p.yaml" alert.hot.dlq --from-start 2>/dev/null | wc -l | tr -d ' '; }
# wait_log FILE PATTERN SECONDS
wait_log() { i=0; while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done; grep -q "$2" "$1"; }

# the SMTP server comes up only after more failed attempts than the old budget (9)
c=$WORK/late; mkdir -p "$c"; LATE_PORT=$(free_port); hot_pipeline "$c" "$LATE_PORT"
"$SLUICE" run "$c/p.yaml" --log-level warn 2>> "$c/log" &
RUN=$!
check "late: a tenth attempt is made (the old budget was 9)" wait_log "$c/log" "attempt 10," 90
eq "late: nothing was given up meanwhile" "$(grep -c 'giving up' "$c/log")" 0
start_smtp "$LATE_PORT" "$c/mail"
wait_mails "$c/mail" 1 60
kill -TERM $RUN; wait $RUN; rc=$?
eq "late: stops cleanly on SIGTERM" "$rc" 0
eq "late: the mail arrives once the server is up" "$(mails "$c/mail")" 1
eq "late: no dead letter" "$(dlq_count "$c")" 0
"$SLUICE" run --once "$c/p.yaml" --log-level warn 2>> "$c/log"
eq "late: a restart does not send it again" "$(mails "$c/mail")" 1
kill "$SMTP_PID" 2>/dev/null

# kill -9 while the notification is pending, restart with the server up
c=$WORK/kill9; mkdir -p "$c"; K_PORT=$(free_port); hot_pipeline "$c" "$K_PORT"
"$SLUICE" run "$c/p.yaml" --log-level warn 2>> "$c/log" &
RUN=$!
check "kill -9: the notification is pending (failed attempts)" wait_log "$c/log" "attempt 3," 60
kill -KILL $RUN; wait $RUN 2>/dev/null
eq "kill -9: nothing sent, nothing given up before the kill" "$(mails "$c/mail") $(dlq_count "$c")" "0 0"
start_smtp "$K_PORT" "$c/mail"
"$SLUICE" run "$c/p.yaml" --log-level warn 2>> "$c/log" &
RUN=$!
wait_mails "$c/mail" 1 60
kill -TERM $RUN; wait $RUN
eq "kill -9: the pending mail is sent after the restart" "$(mails "$c/mail")" 1
"$SLUICE" run --once "$c/p.yaml" --log-level warn 2>> "$c/log"
eq "kill -9: and not twice" "$(mails "$c/mail")" 1
eq "kill -9: no dead letter" "$(dlq_count "$c")" 0
check "kill -9: the subject is the alert's" grep -q "Subject: t1 is hot: 35 degrees" "$c/mail/001.eml"
kill "$SMTP_PID" 2>/dev/null

# give_up_after: past it the notification goes to the DLQ, and a job reading the DLQ
# sends it again (the replay documented in docs/ARCHITECTURE.md)
c=$WORK/giveup; mkdir -p "$c"; G_PORT=$(free_port); hot_pipeline "$c" "$G_PORT" "give_up_after: 2s"
"$SLUICE" run --once "$c/p.yaml" --log-level warn 2>> "$c/log"
eq "give up: run --once exits 0" "$?" 0
check "give up: it was retried before giving up" grep -q "attempt 2," "$c/log"
check "give up: giving up is logged" grep -q "error.*sink email.*giving up after [0-9]* attempts in [0-9]* s" "$c/log"
eq "give up: the notification is kept in the DLQ" "$(dlq_count "$c")" 1
cat > "$c/replay.yaml" <<EOF
jobs:
  resend_hot:
    from: alert.hot.dlq
    steps:
      - map: { id: record.id, alert: record.alert, key: record.key, state: record.state, subject: record.subject,
               message: record.message, ts: record.ts, since: record.since, record: record.record }
    to:
      - email: { smtp: "smtp://127.0.0.1:$G_PORT", from: "sluice <sluice@localhost>", to: [ops@localhost] }
EOF
start_smtp "$G_PORT" "$c/mail"
"$SLUICE" run --once "$c/p.yaml" "$c/replay.yaml" --log-level warn 2>> "$c/log"
eq "give up: replayed from the DLQ, the mail arrives once" "$(mails "$c/mail")" 1
check "give up: ... as the alert's notification" grep -q "Subject: t1 is hot: 35 degrees" "$c/mail/001.eml"
"$SLUICE" run --once "$c/p.yaml" "$c/replay.yaml" --log-level warn 2>> "$c/log"
eq "give up: replayed once only" "$(mails "$c/mail")" 1
kill "$SMTP_PID" 2>/dev/null

# ---------------------------------------------------------------- 10. webhook: fails twice, then accepts
HOOK_PORT=$(free_port)
mkdir -p "$WORK/hook"
$PY "$WORK/hook.py" "$HOOK_PORT" "$WORK/hook" 2 > "$WORK/hook.out" 2>&1 &
PIDS="$PIDS $!"
i=0; while ! grep -q ready "$WORK/hook.out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
c=$WORK/webhook; mkdir -p "$c"
printf '%s\n' '{"sensor":"t1","temp":21,"at":1000}' '{"sensor":"t1","temp":35,"at":2000}' \
  '{"sensor":"t1","temp":36,"at":3000}' '{"sensor":"t1","temp":20,"at":4000}' > "$c/in.jsonl"
cat > "$c/p.yaml" <<EOF
data_dir: $c/data
sources:
  temps: { file: { path: $c/in.jsonl }, key: sensor, ts: at, to: temps }
alerts:
  hot:
    from: temps
    when: "temp > 30"
    key: sensor
    cooldown: 1h
    resolve: "{{sensor}} is back to {{temp}} degrees"
    subject: "{{sensor}} is hot: {{temp}} degrees"
    notify:
      - webhook: { url: "http://127.0.0.1:$HOOK_PORT/hook", headers: { Authorization: "Bearer \${HOOK_TOKEN:-tok}" } }
      - http: { url: "http://127.0.0.1:$HOOK_PORT/second" }
EOF
"$SLUICE" check "$c/p.yaml"; eq "webhook: the pipeline checks" "$?" 0
HOOK_TOKEN=t0ken-XYZ "$SLUICE" run --once "$c/p.yaml" --log-level warn 2>> "$c/log"
eq "webhook: run --once exits 0" "$?" 0
$PY - "$WORK/hook/requests.jsonl" > "$c/hook.out" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in reqs if r["status"] == 200]
bodies = [json.loads(r["body"]) for r in ok]
print("attempts %d" % len(reqs))
print("delivered %d" % len(ok))
print("states %s" % ",".join(b["state"] for b in bodies))
print("subject %s" % bodies[0]["subject"])
print("auth %s" % ok[0]["auth"])
print("ids %d" % len(set(b["id"] for b in bodies)))
PY
# each sink gets firing + resolved; the webhook's first request fails twice: 2 + 2 deliveries
eq "webhook: two failures then accepted" "$(grep attempts "$c/hook.out")" "attempts 6"
eq "webhook: each notification delivered once per sink" "$(grep delivered "$c/hook.out")" "delivered 4"
eq "webhook: firing then resolved" "$(grep states "$c/hook.out")" "states firing,resolved,firing,resolved"
eq "webhook: the subject template" "$(grep subject "$c/hook.out")" "subject t1 is hot: 35 degrees"
eq "webhook: the configured header" "$(grep auth "$c/hook.out")" "auth Bearer t0ken-XYZ"
check "webhook: the retries were logged" grep -q "HTTP 500" "$c/log"
eq "webhook: the history holds the firing and the resolution" \
  "$(sq "$c/data/alerts.db" "select group_concat(state || ':' || key, ' ') from (select * from alert_history order by ts)")" "firing:t1 resolved:t1"

# ---------------------------------------------------------------- 11. check reports alert problems with positions
cat > "$WORK/bad.yaml" <<'EOF'
alerts:
  a1:
    from: t
    when: "x >"
    cooldwn: 5m
    notify: [ { email: { smtp: "http://x", from: me, to: [] } } ]
EOF
"$SLUICE" check "$WORK/bad.yaml" > "$WORK/bad.out" 2>&1
eq "check: a bad alert exits 1" "$?" 1
check "check: unknown key with a suggestion, at its line" grep -q "bad.yaml:5:5: error: unknown key 'cooldwn' in alert 'a1' (did you mean 'cooldown'?)" "$WORK/bad.out"
check "check: the expression error at its position" grep -q "bad.yaml:4:" "$WORK/bad.out"
check "check: the email sink's problems" grep -q "must be an smtp:// or smtps:// URL" "$WORK/bad.out"

stop_all
done_tests
