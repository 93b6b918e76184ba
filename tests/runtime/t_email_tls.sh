#!/bin/sh
# E-mail over TLS: the `email` sink against real SMTP servers on 127.0.0.1
# (python3-aiosmtpd, started here) with a self-signed certificate made here: STARTTLS
# required, implicit TLS (smtps://), AUTH PLAIN / LOGIN over TLS.  Each case is the shape
# of t_alerts.sh's webhook case: a file source, an alert, an email sink, `run --once`,
# then the mails the server wrote and the alert's dead-letter topic.
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

# ---------------------------------------------------------------- certificate
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
check "a self-signed certificate for 127.0.0.1" test -s "$WORK/cert.pem"

cat > "$WORK/smtpd_tls.py" <<'PY'
# A TLS mail sink on 127.0.0.1.  MODE starttls: plain SMTP that requires STARTTLS before
# MAIL; MODE smtps: TLS from the first byte.  Every message goes to DIR/NNN.eml, and
# DIR/NNN.env holds the envelope and "tls VERSION" (or "tls none") of its session; with
# USER PASS MECH, AUTH is required and only MECH (PLAIN or LOGIN) is offered; each AUTH
# attempt appends "MECH LOGIN ok|fail" to DIR/auth.log (never the password).
import os, signal, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
port, out, mode, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
user, pw, mech = (sys.argv[6], sys.argv[7], sys.argv[8]) if len(sys.argv) > 8 else (None, None, None)
os.makedirs(out, exist_ok=True)
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
class Handler:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        base = os.path.join(out, "%03d" % Handler.n)
        so = server.transport.get_extra_info("ssl_object") if server.transport else None
        with open(base + ".env", "w") as f:
            f.write(envelope.mail_from + "\n" + "\n".join(envelope.rcpt_tos) + "\n")
            f.write("tls %s\n" % (so.version() if so else "none"))
        with open(base + ".tmp", "wb") as f: f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK"
def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == pw
    with open(os.path.join(out, "auth.log"), "a") as f:
        f.write("%s %s %s\n" % (mechanism, data.login.decode() if isinstance(data, LoginPassword) else "?",
                                "ok" if ok else "fail"))
    return AuthResult(success=ok, handled=False)
kw = {}
if user:
    kw = dict(authenticator=auth, auth_required=True,
              auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN") if m != mech])
if mode == "starttls":
    c = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True, **kw)
else:
    c = Controller(Handler(), hostname="127.0.0.1", port=port, ssl_context=ctx,
                   **dict(kw, auth_require_tls=False) if user else kw)
c.start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
c.stop()
PY

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
start_smtp() {  # start_smtp PORT DIR MODE [USER PASS MECH]: background, waits until ready
  p=$1; d=$2; shift 2; m=$1; shift
  $PY "$WORK/smtpd_tls.py" "$p" "$d" "$m" "$WORK/cert.pem" "$WORK/key.pem" "$@" > "$WORK/smtpd.$p.out" 2>&1 &
  PIDS="$PIDS $!"
  i=0; while ! grep -q ready "$WORK/smtpd.$p.out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}
mails() { ls "$1" 2>/dev/null | grep -c '\.eml$'; }
# pipe CASE URL EMAIL-OPTIONS: CASE/p.yaml, a temperature alert mailed with the options
pipe() {
  c=$WORK/$1; mkdir -p "$c"
  printf '%s\n' '{"sensor":"t1","temp":35,"at":1000}' > "$c/in.jsonl"
  cat > "$c/p.yaml" <<EOF
data_dir: $c/data
sources:
  temps: { file: { path: $c/in.jsonl }, key: sensor, ts: at, to: temps }
alerts:
  hot:
    from: temps
    when: "temp > 30"
    key: sensor
    subject: "{{sensor}} is hot: {{temp}} degrees"
    notify:
      - email: { smtp: "$2", from: "sluice <sluice@localhost>", to: ["ops@localhost"], retries: 2, timeout: 10s${3:+, $3} }
EOF
}
# run CASE [env...]: run --once at debug level (curl's and the sink's messages in CASE/log)
run() { c=$WORK/$1; shift; env "$@" "$SLUICE" run --once "$c/p.yaml" --log-level debug 2>> "$c/log"; }
# dlq CASE: the alert's dead letters (the config's ${SMTP_*} need values to load)
dlq() { SMTP_USER=u SMTP_PASSWORD=p "$SLUICE" tail "$WORK/$1/p.yaml" alert.hot.dlq --from-start 2>/dev/null; }

ST_PORT=$(free_port); start_smtp "$ST_PORT" "$WORK/st" starttls
SS_PORT=$(free_port); start_smtp "$SS_PORT" "$WORK/ss" smtps
PL_PORT=$(free_port); start_smtp "$PL_PORT" "$WORK/pl" starttls alice "s3cret-Pa55" PLAIN
LG_PORT=$(free_port); start_smtp "$LG_PORT" "$WORK/lg" smtps alice "s3cret-Pa55" LOGIN
for p in $ST_PORT $SS_PORT $PL_PORT $LG_PORT; do
  check "the TLS SMTP server on $p starts" grep -q ready "$WORK/smtpd.$p.out"
done
CA="ca_file: $WORK/cert.pem"

# ---------------------------------------------------------------- 1. STARTTLS required + ca_file
pipe st_ok "smtp://127.0.0.1:$ST_PORT" "starttls: required, $CA"
"$SLUICE" check "$WORK/st_ok/p.yaml" >/dev/null 2>&1; eq "starttls: the pipeline checks" "$?" 0
run st_ok; eq "starttls: run --once exits 0" "$?" 0
eq "starttls: one mail" "$(mails "$WORK/st")" 1
check "starttls: the server saw a TLS session" grep -q '^tls TLSv1\.[23]$' "$WORK/st/001.env"
check "starttls: the subject arrived" grep -q '^Subject: t1 is hot: 35 degrees' "$WORK/st/001.eml"
eq "starttls: no dead letter" "$(dlq st_ok | wc -l | tr -d ' ')" 0

# ---------------------------------------------------------------- 2. STARTTLS off against a server that requires it
pipe st_off "smtp://127.0.0.1:$ST_PORT" "starttls: \"off\", $CA"
run st_off; eq "starttls off: run --once exits 0" "$?" 0
eq "starttls off: no mail" "$(mails "$WORK/st")" 1
check "starttls off: a clear error in the log" grep -q "error.*sink email.*530.*STARTTLS.*dead-letter" "$WORK/st_off/log"
dlq st_off > "$WORK/st_off/dlq"
eq "starttls off: the notification is in the DLQ" "$(wc -l < "$WORK/st_off/dlq" | tr -d ' ')" 1
check "starttls off: the DLQ entry holds the server's reply" grep -q '530 Must issue a STARTTLS command first' "$WORK/st_off/dlq"

# ---------------------------------------------------------------- 3. no ca_file: the self-signed certificate is refused
pipe st_noca "smtp://127.0.0.1:$ST_PORT" "starttls: required"
run st_noca; eq "no ca_file: run --once exits 0" "$?" 0
eq "no ca_file: no mail" "$(mails "$WORK/st")" 1
check "no ca_file: a clear error in the log" grep -q "error.*sink email.*certificate.*not trusted.*ca_file" "$WORK/st_noca/log"
dlq st_noca > "$WORK/st_noca/dlq"
eq "no ca_file: the notification is in the DLQ" "$(wc -l < "$WORK/st_noca/dlq" | tr -d ' ')" 1
check "no ca_file: the DLQ entry says why" grep -q 'self.signed certificate' "$WORK/st_noca/dlq"
# the certificate of another CA in ca_file: refused as well
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=other -days 1 -keyout "$WORK/other.key" -out "$WORK/other.pem" 2>/dev/null
pipe st_other "smtp://127.0.0.1:$ST_PORT" "starttls: required, ca_file: $WORK/other.pem"
run st_other
eq "another CA: no mail" "$(mails "$WORK/st")" 1
eq "another CA: the notification is in the DLQ" "$(dlq st_other | grep -c 'certificate')" 1

# ---------------------------------------------------------------- 4. starttls: optional upgrades when offered
pipe st_opt "smtp://127.0.0.1:$ST_PORT" "starttls: optional, $CA"
run st_opt; eq "starttls optional: run --once exits 0" "$?" 0
eq "starttls optional: the mail arrives" "$(mails "$WORK/st")" 2
check "starttls optional: over TLS" grep -q '^tls TLSv1\.[23]$' "$WORK/st/002.env"

# ---------------------------------------------------------------- 5. smtps://
pipe ss_ok "smtps://127.0.0.1:$SS_PORT" "$CA"
run ss_ok; eq "smtps: run --once exits 0" "$?" 0
eq "smtps: one mail" "$(mails "$WORK/ss")" 1
check "smtps: the server saw a TLS session" grep -q '^tls TLSv1\.[23]$' "$WORK/ss/001.env"
eq "smtps: no dead letter" "$(dlq ss_ok | wc -l | tr -d ' ')" 0
pipe ss_noca "smtps://127.0.0.1:$SS_PORT" ""
run ss_noca
eq "smtps without ca_file: no mail" "$(mails "$WORK/ss")" 1
eq "smtps without ca_file: the notification is in the DLQ" "$(dlq ss_noca | grep -c 'certificate')" 1

# ---------------------------------------------------------------- 6. AUTH over TLS, user and password from the environment
AUTHOPT='user: "${SMTP_USER}", password: "${SMTP_PASSWORD}"'
pipe pl_ok "smtp://127.0.0.1:$PL_PORT" "starttls: required, $CA, $AUTHOPT"
run pl_ok SMTP_USER=alice SMTP_PASSWORD=s3cret-Pa55; eq "AUTH PLAIN: run --once exits 0" "$?" 0
eq "AUTH PLAIN over STARTTLS: the mail arrives" "$(mails "$WORK/pl")" 1
eq "AUTH PLAIN: the server authenticated alice with PLAIN" "$(cat "$WORK/pl/auth.log" 2>/dev/null)" "PLAIN alice ok"
check "AUTH PLAIN: over TLS" grep -q '^tls TLSv1\.[23]$' "$WORK/pl/001.env"
check "AUTH PLAIN: the password is not in the log (debug level)" sh -c "! grep -q 's3cret-Pa55' $WORK/pl_ok/log"
check "AUTH PLAIN: the password is not in the data dir" sh -c "! grep -rq 's3cret-Pa55' $WORK/pl_ok/data"

pipe lg_ok "smtps://127.0.0.1:$LG_PORT" "$CA, $AUTHOPT"
run lg_ok SMTP_USER=alice SMTP_PASSWORD=s3cret-Pa55; eq "AUTH LOGIN: run --once exits 0" "$?" 0
eq "AUTH LOGIN over smtps: the mail arrives" "$(mails "$WORK/lg")" 1
eq "AUTH LOGIN: the server authenticated alice with LOGIN" "$(cat "$WORK/lg/auth.log" 2>/dev/null)" "LOGIN alice ok"
check "AUTH LOGIN: the password is not in the log (debug level)" sh -c "! grep -q 's3cret-Pa55' $WORK/lg_ok/log"

pipe pl_bad "smtp://127.0.0.1:$PL_PORT" "starttls: required, $CA, $AUTHOPT"
run pl_bad SMTP_USER=alice SMTP_PASSWORD=Wr0ng-Pa55word; eq "wrong password over TLS: run --once exits 0" "$?" 0
eq "wrong password over TLS: no mail" "$(mails "$WORK/pl")" 1
check "wrong password over TLS: a clear error in the log" grep -q "error.*sink email.*535.*dead-letter" "$WORK/pl_bad/log"
dlq pl_bad > "$WORK/pl_bad/dlq"
eq "wrong password over TLS: the notification is in the DLQ" "$(grep -c 535 "$WORK/pl_bad/dlq")" 1
check "wrong password over TLS: the password is not in the log" sh -c "! grep -q 'Wr0ng-Pa55word' $WORK/pl_bad/log"
check "wrong password over TLS: the password is not in the DLQ" sh -c "! grep -q 'Wr0ng-Pa55word' $WORK/pl_bad/dlq"
check "wrong password over TLS: nor anywhere in the data dir" sh -c "! grep -rq 'Wr0ng-Pa55word' $WORK/pl_bad/data"

# ---------------------------------------------------------------- 7. check: an unreadable ca_file is a config error
pipe bad_ca "smtps://127.0.0.1:$SS_PORT" "ca_file: $WORK/missing.pem"
"$SLUICE" check "$WORK/bad_ca/p.yaml" > "$WORK/bad_ca/out" 2>&1; eq "check: a missing ca_file exits 1" "$?" 1
check "check: the error names ca_file" grep -q "cannot read 'ca_file' $WORK/missing.pem" "$WORK/bad_ca/out"

stop_all
done_tests
