# lib_proxy.sh - tests/tcpproxy.py between sluice and a database (sourced after lib.sh:
# uses $WORK, $ROOT).  Loopback only, random free port, stopped by PID.
#   proxy_start TARGET_PORT [tcpproxy options...]  -> sets PROXY_PORT, PROXY_PID, PROXY_FILE
#   proxy_stop                                     -> stops the last one started
#   proxy_cuts                                     -> how many cuts/holds it made
_proxy_n=0
PROXY_PIDS=""
proxy_start() {
  _proxy_n=$((_proxy_n + 1))
  PROXY_FILE=$WORK/proxy$_proxy_n.port
  python3 "$ROOT/tests/tcpproxy.py" "$PROXY_FILE" "$@" 2>>"$WORK/proxy$_proxy_n.log" &
  PROXY_PID=$!
  PROXY_PIDS="$PROXY_PIDS $PROXY_PID"
  _p_i=0
  while [ ! -s "$PROXY_FILE" ] && [ $_p_i -lt 200 ]; do sleep 0.05; _p_i=$((_p_i + 1)); done
  PROXY_PORT=$(cat "$PROXY_FILE" 2>/dev/null)
  [ -n "$PROXY_PORT" ] || echo "FAIL tcpproxy did not start: $(tail -3 "$WORK/proxy$_proxy_n.log")"
}
proxy_stop() {
  for _p in $PROXY_PIDS; do kill "$_p" 2>/dev/null; wait "$_p" 2>/dev/null; done
  PROXY_PIDS=""
}
proxy_cuts() { cat "$PROXY_FILE.cuts" 2>/dev/null | wc -l | tr -d ' '; }
