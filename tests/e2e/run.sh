#!/bin/sh
# Browser tests of the dashboard: installs Chromium (Debian) and playwright-core (npm)
# when missing, starts build/sluice on tests/e2e/pipeline.yaml on a free 127.0.0.1
# port, runs tests/e2e/dashboard.test.mjs, stops sluice by its PID.  Screenshots and
# logs go to tests/out/e2e/.  Ends with "N passed, N failed"; exit 0 when all pass.
set -u
cd "$(dirname "$0")/../.."
root=$(pwd)
out=$root/tests/out/e2e
rm -rf "$out" && mkdir -p "$out"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ! -x /usr/bin/chromium ]; then
  echo "e2e: installing chromium" >&2
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "e2e: installing npm" >&2
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
nm=tests/e2e/node_modules
if [ ! -f "$nm/.package-lock.json" ] || [ tests/e2e/package-lock.json -nt "$nm/.package-lock.json" ]; then
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error) >&2 || { echo "0 passed, 1 failed"; exit 1; }
fi
make --no-print-directory build/sluice >&2 || { echo "0 passed, 1 failed"; exit 1; }

work=$(mktemp -d /tmp/sluice-e2e.XXXXXX)
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
node tests/e2e/data.mjs "$work"
E2E_DIR=$work E2E_PORT=$port ./build/sluice run tests/e2e/pipeline.yaml >"$out/sluice.log" 2>&1 &
pid=$!
stop() {
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

url=http://127.0.0.1:$port
up=0
for _ in $(seq 100); do
  if node -e "fetch('$url/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then up=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ $up -ne 1 ]; then
  echo "e2e: sluice did not answer on $url/health; its log:" >&2
  tail -n 30 "$out/sluice.log" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

E2E_URL=$url E2E_DIR=$work E2E_OUT=$out node --test \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$out/results.tap" \
  tests/e2e/dashboard.test.mjs
rc=$?
pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out/results.tap" | tail -n 1)
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out/results.tap" | tail -n 1)
pass=${pass:-0}; fail=${fail:-0}
[ $rc -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
echo "screenshots: $out"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
