#!/bin/sh
# Journal damage, table-driven (issue 12): 10,000 records in a 2-partition topic of
# small segments; every region of the journal (segment/batch header, payload, index,
# meta.log, topic meta) is flipped, zeroed, truncated or deleted, one case at a time
# on a fresh copy.  For each case:
#   * fsck (read-only) reports the damage (exit 1), except for the index (a cache);
#   * a plain `run --once` exits 0, deletes no batch that passed its checksum (every
#     record id of a valid batch before the run is in a valid batch after it), and its
#     job delivers exactly the ids of the valid batches, each once;
#   * the damage is reported in the run's log;
#   * `fsck --repair` exits 0, a second fsck is clean, and the repair report matches
#     what it did: the offsets readable after the repair are exactly the valid
#     batches' offsets, and the offsets it says it quarantined are exactly the rest.
# Topic meta cases: run refuses (exit 3), no byte of the journal changes, fsck exit 1.
. "$(dirname "$0")/lib.sh"
N=10000
BOUND=${DAMAGE_RUN_BOUND:-300}   # seconds: a bound against hangs, never an assertion
cat > "$WORK/gen.yaml" <<YAML
data_dir: $WORK/data
topics:
  events: { partitions: 2, segment_bytes: 64KiB }
sources:
  gen:
    generate: { count: $N, chunk: 500, template: { id: "meta.seq", pad: "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'" } }
    to: events
YAML
cat > "$WORK/job.yaml" <<YAML
data_dir: $WORK/data
topics:
  events: { partitions: 2, segment_bytes: 64KiB }
jobs:
  out:
    from: events
    to:
      - file: { path: $WORK/out.jsonl }
YAML
# The oracle: parse the segments as docs/FORMAT.md says, independently of sluice.
cat > "$WORK/oracle.py" <<'PY'
import json, os, re, struct, sys, zlib
MAGIC = 0xB1A5C0DE
def varint(b, i):
    x = s = 0
    while True:
        c = b[i]; i += 1
        x |= (c & 0x7f) << s; s += 7
        if not c & 0x80: return x, i
def batches(path):
    b = open(path, 'rb').read()
    pos = 0
    while pos + 48 <= len(b):
        magic, crc, base, count, ln = struct.unpack_from('<IIqII', b, pos)
        if magic == MAGIC and pos + 48 + ln <= len(b) and zlib.crc32(b[pos + 8:pos + 48 + ln]) & 0xffffffff == crc:
            yield base, count, b[pos + 48:pos + 48 + ln]
            pos += 48 + ln
        else:
            pos += 1   # resync byte by byte: every batch that passes its crc counts
def valid(data):
    out = {}   # (partition, offset) -> id
    root = os.path.join(data, 'topics', 'events')
    for p in sorted(os.listdir(root)):
        if not p.isdigit(): continue
        for f in sorted(os.listdir(os.path.join(root, p))):
            if not f.endswith('.log'): continue
            for base, count, pl in batches(os.path.join(root, p, f)):
                i = 0
                for k in range(count):
                    bl, i = varint(pl, i); end = i + bl
                    kl, j = varint(pl, i); j += max(kl - 1, 0)
                    for _ in range(3): _, j = varint(pl, j)
                    sl, j = varint(pl, j); j += max(sl - 1, 0)
                    out[(int(p), base + k)] = json.loads(pl[j:end])['id']
                    i = end
    return out
cmd = sys.argv[1]
if cmd == 'valid':
    v = valid(sys.argv[2])
    json.dump(sorted([p, o, i] for (p, o), i in v.items()), open(sys.argv[3], 'w'))
elif cmd == 'kept':       # every valid (partition, offset, id) before is still valid after
    before = json.load(open(sys.argv[2])); after = {(p, o): i for p, o, i in json.load(open(sys.argv[3]))}
    lost = [x for x in before if after.get((x[0], x[1])) != x[2]]
    print(len(lost))
elif cmd == 'delivered':  # the sink got exactly the valid ids, each once
    want = sorted(i for _, _, i in json.load(open(sys.argv[2])))
    got = sorted(json.loads(l)['id'] for l in open(sys.argv[3]) if l.strip()) if os.path.exists(sys.argv[3]) else []
    print('ok' if got == want else 'want %d ids, got %d (%d distinct)' % (len(want), len(got), len(set(got))))
elif cmd == 'report':     # repair report vs what is readable after it
    before = json.load(open(sys.argv[2]))
    readable = set()
    for l in open(sys.argv[3]):
        r = json.loads(l); readable.add((r['partition'], r['offset']))
    valid_po = {(p, o) for p, o, _ in before}
    removed = set()
    for l in open(sys.argv[4]):
        m = re.search(r'topics/events/(\d+)/\S+: byte \d+: .*records \[(\d+), (\d+)\)', l)
        if m and 'repaired' in l:
            for o in range(int(m.group(2)), int(m.group(3))): removed.add((int(m.group(1)), o))
    ends = {}
    for p, o in valid_po | removed: ends[p] = max(ends.get(p, 0), o + 1)
    every = {(p, o) for p in ends for o in range(ends[p])}
    if readable != valid_po: print('readable after repair != valid batches (%d vs %d)' % (len(readable), len(valid_po)))
    elif readable & removed: print('reported as quarantined but readable: %d' % len(readable & removed))
    elif readable | removed != every: print('offsets neither readable nor reported: %d' % len(every - readable - removed))
    else: print('ok')
PY
py() { python3 "$WORK/oracle.py" "$@"; }

"$SLUICE" run --once "$WORK/gen.yaml" --log-level error; eq "produce $N records" "$?" 0
cp -a "$WORK/data" "$WORK/pristine"
seg_count=$(ls "$WORK"/pristine/topics/events/0/*.log | wc -l)
check "partition 0 has at least 4 segments" [ "$seg_count" -ge 4 ]

# helpers for damage: flip / zero N bytes at a position; the Nth segment of partition 0
flip() { python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); c=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([c[0]^0x5a]))" "$1" "$2"; }
zero() { dd if=/dev/zero of="$1" bs=1 seek="$2" count="$3" conv=notrunc 2>/dev/null; }
seg() { ls "$WORK"/data/topics/events/0/*.log | sed -n "${1}p"; }
size() { stat -c %s "$1"; }
# position of the second batch of a segment (its first batch's length + 48)
second() { python3 -c "import struct,sys; b=open(sys.argv[1],'rb').read(48); print(48+struct.unpack_from('<I',b,20)[0])" "$1"; }

apply() {
  case "$1" in
    seghdr-flip)    flip "$(seg 2)" 9 ;;                      # first batch of a segment: base
    seghdr-zero)    zero "$(seg 2)" 0 48 ;;
    batchhdr-flip)  s=$(seg 2); flip "$s" $(( $(second "$s") + 20 )) ;;   # a length field
    batchhdr-zero)  s=$(seg 2); zero "$s" "$(second "$s")" 48 ;;
    payload-flip)   s=$(seg 2); flip "$s" $(( $(size "$s") - 100 )) ;;
    payload-zero)   s=$(seg 3); zero "$s" 500 64 ;;
    index-flip)     flip "$(seg 2 | sed 's/\.log$/.idx/')" 1 ;;
    index-zero)     i=$(seg 1 | sed 's/\.log$/.idx/'); zero "$i" 0 "$(size "$i")" ;;
    index-truncate) : > "$(seg 2 | sed 's/\.log$/.idx/')" ;;
    midseg-truncate) s=$(seg 2); truncate -s "$(second "$s")" "$s" ;;
    lastseg-truncate) s=$(ls "$WORK"/data/topics/events/0/*.log | tail -n 1); truncate -s $(( $(size "$s") - 77 )) "$s" ;;
    meta-flip)      m="$WORK/data/meta.log"; flip "$m" $(( $(size "$m") / 2 )) ;;
    meta-zero)      m="$WORK/data/meta.log"; zero "$m" $(( $(size "$m") / 3 )) 32 ;;
    meta-truncate)  m="$WORK/data/meta.log"; truncate -s $(( $(size "$m") / 2 )) "$m" ;;
    meta-delete)    rm -f "$WORK/data/meta.log" ;;
    topicmeta-edit) sed -i 's/^partitions 2$/partitions 1/' "$WORK/data/topics/events/meta" ;;
    topicmeta-zero) m="$WORK/data/topics/events/meta"; zero "$m" 0 "$(size "$m")" ;;
    topicmeta-delete) rm -f "$WORK/data/topics/events/meta" ;;
  esac
}

sums() { (cd "$WORK/data" && find . -type f ! -name LOCK | sort | xargs md5sum); }

for case in seghdr-flip seghdr-zero batchhdr-flip batchhdr-zero payload-flip payload-zero \
            index-flip index-zero index-truncate midseg-truncate lastseg-truncate \
            meta-flip meta-zero meta-truncate meta-delete \
            topicmeta-edit topicmeta-zero topicmeta-delete; do
  rm -rf "$WORK/data" "$WORK/out.jsonl"
  cp -a "$WORK/pristine" "$WORK/data"
  apply "$case"
  "$SLUICE" fsck "$WORK/data" > "$WORK/fsck.out" 2>&1; frc=$?
  case "$case" in
    index-*) eq "$case: fsck (an index is a cache)" "$frc" 0 ;;
    *)       eq "$case: fsck reports the damage" "$frc" 1 ;;
  esac
  case "$case" in
    topicmeta-*)
      before=$(sums)
      timeout -k 5 "$BOUND" "$SLUICE" run --once "$WORK/job.yaml" --log-level warn 2> "$WORK/run.log"; rc=$?
      eq "$case: run refuses" "$rc" 3
      eq "$case: no byte changed" "$(sums)" "$before"
      grep -q "nothing was changed" "$WORK/run.log"; eq "$case: the error says so" "$?" 0
      continue ;;
  esac
  py valid "$WORK/data" "$WORK/before.json"
  # bounded: a reader that cannot get past damage must not hang the test (it did)
  timeout -k 5 "$BOUND" "$SLUICE" run --once "$WORK/job.yaml" --log-level warn 2> "$WORK/run.log"; rc=$?
  eq "$case: run exits 0" "$rc" 0
  py valid "$WORK/data" "$WORK/after.json"
  eq "$case: no batch that passed its crc was deleted" "$(py kept "$WORK/before.json" "$WORK/after.json")" 0
  eq "$case: the job delivered every valid record once" "$(py delivered "$WORK/before.json" "$WORK/out.jsonl")" ok
  case "$case" in
    index-*) ;;
    *) grep -q "journal:" "$WORK/run.log"; eq "$case: the run logged the damage" "$?" 0 ;;
  esac
  "$SLUICE" fsck "$WORK/data" --repair > "$WORK/repair.out" 2>&1; eq "$case: fsck --repair exits 0" "$?" 0
  "$SLUICE" fsck "$WORK/data" > /dev/null 2>&1; eq "$case: clean after --repair" "$?" 0
  "$SLUICE" tail "$WORK/job.yaml" events --from-start > "$WORK/tail.out" 2>/dev/null
  eq "$case: the repair report matches what it did" \
     "$(py report "$WORK/after.json" "$WORK/tail.out" "$WORK/repair.out")" ok
  [ -n "${VERBOSE:-}" ] && { echo "--- $case"; cat "$WORK/fsck.out" "$WORK/run.log" "$WORK/repair.out"; }
done

# Live: a running pipeline with a damaged batch keeps serving, delivers everything
# else (both partitions), and /health and /metrics say the journal is damaged.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; cleanup_work' EXIT
rm -rf "$WORK/data" "$WORK/out.jsonl"
cp -a "$WORK/pristine" "$WORK/data"
apply payload-flip
py valid "$WORK/data" "$WORK/before.json"
{ cat "$WORK/job.yaml"; echo "serve: { listen: 127.0.0.1:$PORT }"; } > "$WORK/serve.yaml"
"$SLUICE" run "$WORK/serve.yaml" --log-level warn 2> "$WORK/serve.log" &
SPID=$!
want=$(python3 -c "import json; print(len(json.load(open('$WORK/before.json'))))")
i=0   # bounded waits (up to 60 s each), for conditions, not for time
while [ $i -lt 600 ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" != 200 ]; do sleep 0.1; i=$((i + 1)); done
i=0
while [ $i -lt 600 ] && [ "$(cat "$WORK/out.jsonl" 2>/dev/null | wc -l)" -lt "$want" ]; do sleep 0.1; i=$((i + 1)); done
eq "live: the job delivered every valid record once" "$(py delivered "$WORK/before.json" "$WORK/out.jsonl")" ok
curl -s "http://127.0.0.1:$PORT/health" > "$WORK/health.json"
eq "live: /health says degraded" "$(python3 -c "import json; d=json.load(open('$WORK/health.json')); print(d['status'], d['journal_damages'] >= 1)")" "degraded True"
curl -s "http://127.0.0.1:$PORT/metrics" > "$WORK/metrics.txt"
eq "live: /metrics counts the damage" "$(awk '$1 == "sluice_journal_damages_total" { print ($2 >= 1) }' "$WORK/metrics.txt")" 1
kill -TERM "$SPID"; wait "$SPID"; rc=$?; SPID=""
eq "live: SIGTERM, exit 0" "$rc" 0
done_tests
