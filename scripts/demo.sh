#!/bin/sh
# `make demo`: the five systems on the bundled sample responses, with a local SMTP sink
# (Debian's python3-aiosmtpd, 127.0.0.1:2525) so the alerts' e-mails land as files in
# demo-out/mail/ instead of failing; the dashboard on http://127.0.0.1:8080/.
set -u
cd "$(dirname "$0")/.."
out=${SLUICE_OUT:-./demo-out}
mkdir -p "$out/mail/tmp" "$out/mail/new" "$out/mail/cur"   # a Maildir
smtp=""
if /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 2525))' 2>/dev/null; then
  /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:2525 -c aiosmtpd.handlers.Mailbox "$out/mail" 2>/dev/null &
  smtp=$!
  echo "demo: alert e-mails go to $out/mail/ (an SMTP sink on 127.0.0.1:2525)"
fi
trap '[ -n "$smtp" ] && kill $smtp 2>/dev/null' EXIT INT TERM
./build/sluice demo "$@"
