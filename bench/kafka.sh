#!/bin/sh
# Kafka benchmark (issue 6, DESIGN §6): consume -> T -> produce through librdkafka's mock
# cluster (its own process, 127.0.0.1), three ways on the same input topic:
#   sluice:  kafka source -> journal topic -> job (set/where/set) -> kafka sink
#   kcat:    kcat -C | jq -c T | kcat -P
#   python:  python3-confluent-kafka consumer -> json -> T -> producer
# T = parse, two numbers from strings, a filter passing 2/3, one product (DESIGN §6).
# Rate = input records / (time of the last output record - time of the first), read off
# the output topic's high watermarks every 20 ms by a watcher: startup (connecting,
# the ~3 s first group join of the mock broker) is left out for every tool alike.
# Also wall time and peak RSS (/usr/bin/time; for the kcat pipe, its largest process).
# The mock broker keeps only the last 5 MiB of a partition: topics get 32 partitions.
# Writes the section "## Kafka" of bench/RESULTS.md.  Usage: sh bench/kafka.sh [N]
set -eu
cd "$(dirname "$0")/.."
N=${1:-300000}
P=32
W=$(mktemp -d /tmp/sluice-kbench.XXXXXX)
MOCK_PID=
trap '[ -n "$MOCK_PID" ] && kill $MOCK_PID 2>/dev/null; rm -rf "$W"' EXIT
S=./build/sluice
PY=/usr/bin/python3   # Debian's python3-confluent-kafka imports only here
[ -x build/tests/kafka_mock ] || make --no-print-directory build/tests/kafka_mock >/dev/null
build/tests/kafka_mock in:$P out_s:$P out_k:$P out_p:$P > "$W/brokers" 2>"$W/mock.log" &
MOCK_PID=$!
while [ ! -s "$W/brokers" ]; do sleep 0.05; done
B=$(head -n 1 "$W/brokers")

python3 bench/gen_coinlore.py "$N" > "$W/in.jsonl"
BYTES=$(stat -c %s "$W/in.jsonl")
EXPECT=$(python3 -c "
import json,sys
print(sum(1 for l in open(sys.argv[1]) if float(json.loads(l)['price_usd']) >= 1))" "$W/in.jsonl")
# keyed by id: spread over the partitions by hash (without a key, the sticky partitioner
# fills one partition at a time and the mock's 5 MiB cap would drop records)
awk '{ printf "%d\t%s\n", NR - 1, $0 }' "$W/in.jsonl" | kcat -b "$B" -P -t in -K '\t' -X linger.ms=20

cat > "$W/watch.py" <<'PY'
# watch.py BROKERS TOPIC PARTITIONS EXPECT: print "t_first t_last" (monotonic seconds)
# of the topic's total high watermark leaving 0 and reaching EXPECT.
import sys, time
from confluent_kafka import Consumer, TopicPartition
b, topic, parts, expect = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = Consumer({"bootstrap.servers": b, "group.id": "watch"})
first = None
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    total = sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1] for p in range(parts))
    now = time.monotonic()
    if total and first is None: first = now
    if total >= expect: print("%.3f %.3f" % (first, now)); break
    time.sleep(0.02)
c.close()
PY
cat > "$W/total.py" <<'PY'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "total"})
print(sum(c.get_watermark_offsets(TopicPartition(sys.argv[2], p), timeout=5)[1] for p in range(int(sys.argv[3]))))
c.close()
PY
[ "$($PY "$W/total.py" "$B" in $P)" = "$N" ] || { echo "the input topic does not hold $N records" >&2; exit 1; }

cat > "$W/k.yaml" <<YAML
data_dir: $W/data
topics: { tickers: { fsync: interval } }
sources:
  in:
    kafka: { brokers: "$B", topic: in, max_batch: 1000, props: { session.timeout.ms: "6000" } }
    to: tickers
jobs:
  t:
    from: tickers
    max_batch: 3000
    steps:
      - set: { price: "number(price_usd)", vol: "number(volume24)" }
      - where: "price >= 1"
      - set: { value: "price * vol" }
    to:
      - kafka: { brokers: "$B", topic: out_s }
YAML
JQ='select((.price_usd|tonumber) >= 1) | .price = (.price_usd|tonumber) | .vol = (.volume24|tonumber) | .value = .price * .vol'
cat > "$W/peer.py" <<'PY'
import json, sys
from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING, KafkaError
b, parts = sys.argv[1], int(sys.argv[2])
c = Consumer({"bootstrap.servers": b, "group.id": "peer", "enable.partition.eof": True,
              "enable.auto.commit": False})
c.assign([TopicPartition("in", p, OFFSET_BEGINNING) for p in range(parts)])
p = Producer({"bootstrap.servers": b, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
eof = set()
while len(eof) < parts:
    for m in c.consume(num_messages=1000, timeout=1.0):
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF: eof.add(m.partition())
            continue
        r = json.loads(m.value())
        price = float(r["price_usd"])
        if price < 1: continue
        r["price"] = price; r["vol"] = float(r["volume24"]); r["value"] = price * r["vol"]
        while True:
            try:
                p.produce("out_p", json.dumps(r, separators=(",", ":")), key=m.key()); break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
p.flush()
c.close()
PY

# bench NAME OUT_TOPIC CMD...: prints "rate wall_s rss_kb"
bench() {
  name=$1; topic=$2; shift 2
  $PY "$W/watch.py" "$B" "$topic" $P "$EXPECT" > "$W/$name.watch" &
  wpid=$!
  /usr/bin/time -f '%e %M' -o "$W/$name.time" "$@" >/dev/null 2>"$W/$name.err" || { cat "$W/$name.err" >&2; exit 1; }
  wait $wpid
  got=$($PY "$W/total.py" "$B" "$topic" $P)
  [ "$got" = "$EXPECT" ] || { echo "$name produced $got records, expected $EXPECT" >&2; exit 1; }
  set -- $(cat "$W/$name.watch") $(cat "$W/$name.time")
  awk -v n="$N" -v a="$1" -v b="$2" -v w="$3" -v m="$4" 'BEGIN { printf "%.0f %s %d\n", n / (b - a), w, m }'
}
set -- $(bench sluice out_s $S run --once "$W/k.yaml" --log-level error); s_r=$1; s_w=$2; s_m=$3
set -- $(bench kcat out_k sh -c "kcat -C -b $B -t in -o beginning -e -q | jq -c '$JQ' | kcat -P -b $B -t out_k -X linger.ms=5 -X sticky.partitioning.linger.ms=0"); k_r=$1; k_w=$2; k_m=$3
set -- $(bench python out_p $PY "$W/peer.py" "$B" $P); p_r=$1; p_w=$2; p_m=$3

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
section=$(cat <<MD
## Kafka

Measured $(date -u +%Y-%m-%d) on $cpu ($(nproc) cores), librdkafka $(dpkg-query -W -f='${Version}' librdkafka1 2>/dev/null)
mock cluster (3 brokers, its own process, 127.0.0.1), topics of $P partitions (the mock keeps 5 MiB
per partition). Input: $N CoinLore-shaped JSON messages ($(awk -v b="$BYTES" -v n="$N" 'BEGIN { printf "%.0f", b / n }') B each);
T = parse, two numbers from strings, a filter passing 2/3 ($EXPECT out), one product; output
produced with acks=all. Rate = input records / time from the first to the last output record
(output high watermarks read every 20 ms), so connecting and the mock's ~3 s first group join
are left out for every tool; wall = the whole run. sluice goes through its journal (kafka source
-> topic -> job -> kafka sink), idempotent producer; Python uses the idempotent producer too.

Command: \`sh bench/kafka.sh $N\`

| tool | records/s | wall | peak RSS | sluice / tool |
|---|---:|---:|---:|---:|
| sluice (kafka source -> journal -> set/where/set -> kafka sink) | $s_r | ${s_w} s | $((s_m / 1024)) MB | |
| kcat -C \| jq -c T \| kcat -P | $k_r | ${k_w} s | $((k_m / 1024)) MB (largest process) | $(ratio "$s_r" "$k_r")x |
| Python confluent-kafka $($PY -c 'import confluent_kafka; print(confluent_kafka.version()[0])') consume -> json -> T -> produce | $p_r | ${p_w} s | $((p_m / 1024)) MB | $(ratio "$s_r" "$p_r")x |

Target (DESIGN §6): >= 3x both, peak RSS < 30 MB.
MD
)
python3 - "$section" <<'PY'
import re, sys
path = "bench/RESULTS.md"
try: text = open(path).read()
except FileNotFoundError: text = "# Benchmark results\n"
sec = sys.argv[1].strip() + "\n"
pat = re.compile(r"^## Kafka\n.*?(?=^## |\Z)", re.S | re.M)
text = pat.sub(lambda m: sec + "\n", text) if pat.search(text) else text.rstrip() + "\n\n" + sec
open(path, "w").write(text)
PY
echo "$section"
