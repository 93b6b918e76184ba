# lib_kafka.sh - start and stop librdkafka's mock Kafka cluster (build/tests/kafka_mock)
# for a test, by PID (sourced after tests/runtime/lib.sh).  Clients connect over
# 127.0.0.1; ports are random per start.
#   kafka_start [TOPIC:PARTITIONS ...]   sets KAFKA_PID and BROKERS
#   kafka_stop
#   wait_for SECONDS COMMAND...          poll a condition every 0.2 s (no timing asserts)
KAFKA_MOCK=${KAFKA_MOCK:-$ROOT/build/tests/kafka_mock}
KAFKA_PID=
BROKERS=
kafka_start() {
  [ -x "$KAFKA_MOCK" ] || make -C "$ROOT" --no-print-directory build/tests/kafka_mock >/dev/null
  [ -x "$KAFKA_MOCK" ] || { echo "no $KAFKA_MOCK and it would not build (make build/tests/kafka_mock)"; exit 1; }
  "$KAFKA_MOCK" "$@" > "$WORK/kafka.brokers" 2> "$WORK/kafka.log" &
  KAFKA_PID=$!
  i=0
  while [ ! -s "$WORK/kafka.brokers" ] && [ $i -lt 400 ] && kill -0 "$KAFKA_PID" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
  BROKERS=$(head -n 1 "$WORK/kafka.brokers")
  case "$BROKERS" in 127.0.0.1:*) ;; *) echo "kafka mock did not start: $(cat "$WORK/kafka.log")"; exit 1;; esac
}
kafka_stop() {
  [ -n "$KAFKA_PID" ] || return 0
  kill "$KAFKA_PID" 2>/dev/null
  wait "$KAFKA_PID" 2>/dev/null
  KAFKA_PID=
}
wait_for() {
  limit=$1; shift
  n=0
  while ! "$@" 2>/dev/null; do
    n=$((n + 1))
    [ $n -ge $((limit * 5)) ] && return 1
    sleep 0.2
  done
  return 0
}
