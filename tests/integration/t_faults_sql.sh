#!/bin/sh
# Fault injection into the transactional SQL sinks, read as a promise sheet: for SQLite,
# PostgreSQL and MariaDB, generated records (id = 0..N-1) -> 4 partitions -> a job
# appending them to a table without a key (so a repeat is an extra row), while
#   * sluice is SIGKILLed at a random moment of each round (after the table grew),
#   * the database server itself crashes and restarts every third round (PostgreSQL:
#     immediate stop; MariaDB: SIGKILL),
#   * tests/tcpproxy.py between sluice and the server cuts the connection at random
#     moments: any chunk either way, and a tenth of the COMMITs, before the server
#     gets it (rolled back) or right after (committed, the answer lost);
# then one `run --once` drains what is left.  Each table must hold every id exactly
# once: 0 lost, 0 duplicated.  Also, deterministically: the connection is cut while the
# job asks the sink, on start, what it already holds: the job retries (it used to stop
# the job: exit 3, nothing written).  One line per sink sums it up:
#   "postgres: 5 kills of sluice, 1 server crashes, 37 connection cuts, 15000 records, 0 lost, 0 duplicated"
# Short here (make test); `make soak` runs it long (FAULT_ROUNDS, FAULT_RECORDS) and
# appends those lines to bench/RESULTS.md.  FAULT_SEED replays the proxy's choices.
. "$(dirname "$0")/../runtime/lib.sh"
. "$(dirname "$0")/lib_pg.sh"
. "$(dirname "$0")/lib_mysql.sh"
. "$(dirname "$0")/lib_proxy.sh"
N=${FAULT_RECORDS:-15000}
ROUNDS=${FAULT_ROUNDS:-5}
RATE=${FAULT_RATE:-1500}
SEED=${FAULT_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
ONLY_SINKS=${FAULT_SINKS:-sqlite postgres mysql}
echo "fault seed $SEED, $ROUNDS rounds, $N records per sink"
rand() {  # rand LO HI (hundredths of a second) -> seconds
  awk -v s="$(od -An -N2 -tu2 /dev/urandom)" -v lo="$1" -v hi="$2" 'BEGIN { printf "%.2f", (lo + s % (hi - lo + 1)) / 100 }'
}
case " $ONLY_SINKS " in *" postgres "*) pg_start ;; esac
case " $ONLY_SINKS " in *" mysql "*) my_start ;; esac
trap 'proxy_stop; my_stop; pg_stop; cleanup_work' EXIT

# pipeline NAME SINK-YAML: a generator and the job, in $WORK/NAME.yaml
pipeline() {
  cat > "$WORK/$1.yaml" <<YAML
data_dir: $WORK/$1.data
topics:
  ev: { partitions: 4 }
sources:
  gen:
    generate: { count: $N, chunk: 500, rate: $RATE,
                template: { id: "meta.seq", name: "'row-' + string(meta.seq)", v: "meta.seq * 0.5" } }
    key: "string(id)"
    to: ev
jobs:
  faults:
    from: ev
    max_batch: 700
    to:
      - $2
YAML
}

# until_grows COUNT-FN AT-LEAST PID: wait (bounded, 600 polls) until the table holds
# at least that many rows (or N), or the process is gone
until_grows() {
  _w=0
  _t=$2; [ "$_t" -gt "$N" ] && _t=$N
  while [ "$($1)" -lt "$_t" ] 2>/dev/null && kill -0 "$3" 2>/dev/null && [ $_w -lt 600 ]; do
    sleep 0.05; _w=$((_w + 1))
  done
}

# faults NAME COUNT-FN STATS-FN CRASH-FN|"": the rounds, the final run, the checks
faults() {
  fname=$1 countf=$2 statsf=$3 crashf=$4
  kills=0 mid=0 crashes=0 r=0
  step=$((N / (ROUNDS + 2) + 1))   # each round waits for this many new rows: kills spread over the run
  while [ $r -lt "$ROUNDS" ]; do
    before=$($countf)
    [ "$before" -ge "$N" ] 2>/dev/null && break
    "$SLUICE" run "$WORK/$fname.yaml" --log-level warn 2>>"$WORK/$fname.log" &
    pid=$!
    until_grows "$countf" $((before + step)) $pid
    if [ -n "$crashf" ] && [ $((r % 3)) -eq 2 ]; then
      $crashf
      crashes=$((crashes + 1))
      until_grows "$countf" $(($($countf) + 1)) $pid   # it reconnected and wrote again
    fi
    sleep "$(rand 0 60)"
    [ "$($countf)" -lt "$N" ] 2>/dev/null && mid=$((mid + 1))
    kill -9 $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null
    r=$((r + 1))
    echo "# $(date +%T) $fname: round $r, $($countf) rows"
  done
  # the rest, through the same faults (bounded: a hang is a failure)
  timeout 300 "$SLUICE" run --once "$WORK/$fname.yaml" --log-level warn 2>>"$WORK/$fname.log"
  eq "$fname: the final run exits 0" "$?" 0
  echo "# $(date +%T) $fname: final run done"
  stats=$($statsf)   # rows:distinct ids:min-max
  rows=${stats%%:*}; rest=${stats#*:}; distinct=${rest%%:*}
  eq "$fname: every id exactly once" "$stats" "$N:$N:0-$((N - 1))"
  check "$fname: sluice was killed mid-stream" [ "$mid" -ge 1 ]
  cuts=0
  [ -n "${PROXY_FILE:-}" ] && [ "$fname" != sqlite ] && cuts=$(proxy_cuts)
  if [ -n "$crashf" ]; then
    check "$fname: the server crashes were seen and retried" grep -q "retry in" "$WORK/$fname.log"
  fi
  line="$fname: $kills kills of sluice, $crashes server crashes, $cuts connection cuts, $N records,"
  line="$line $((N - ${distinct:-0})) lost, $((${rows:-0} - ${distinct:-0})) duplicated"
  echo "$line"
  echo "$line" >> "${FAULT_SUMMARY:-/dev/null}"
}

# open_cut NAME SINK-YAML COUNT-FN: 1000 records through a proxy that cuts the first
# connection reading the offsets on start (--cut-at, armed once)
open_cut() {
  : > "$WORK/$1.arm"
  pipeline "$1" "$2"
  sed -i 's/count: [0-9]*,/count: 1000,/; s/rate: [0-9]*,/rate: 0,/' "$WORK/$1.yaml"
  timeout 120 "$SLUICE" run --once "$WORK/$1.yaml" --log-level warn 2>>"$WORK/$1.log"
  eq "$1: a cut while reading what the sink holds on start: run --once exits 0" "$?" 0
  check "$1: the cut happened" [ ! -e "$WORK/$1.arm" ]
  eq "$1: every id once after the cut on start" "$($3)" "1000:1000"
}

# ---- SQLite: the database is a file in the process; kills of sluice ----
if case " $ONLY_SINKS " in *" sqlite "*) true ;; *) false ;; esac; then
  pipeline sqlite "sqlite: { path: \"$WORK/faults.db\", table: ev, columns: { id: bigint, name: text, v: double } }"
  sq_count() { sqlite3 "$WORK/faults.db" "select count(*) from ev" 2>/dev/null || echo 0; }
  sq_stats() { sqlite3 "$WORK/faults.db" "select count(*) || ':' || count(distinct id) || ':' || min(id) || '-' || max(id) from ev"; }
  faults sqlite sq_count sq_stats ""
fi

# ---- PostgreSQL: through the proxy; the server crashes too ----
if case " $ONLY_SINKS " in *" postgres "*) true ;; *) false ;; esac; then
  proxy_start "$PG_PORT" --seed "$SEED" --cut 0.002 --cut-commit 0.1
  pipeline postgres "postgres: { dsn: \"host=127.0.0.1 port=$PROXY_PORT user=postgres dbname=postgres\", table: ev, columns: { id: bigint, name: text, v: double } }"
  pg_count() { psql_q "select count(*) from ev" 2>/dev/null || echo 0; }
  pg_open_count() { psql_q "select count(*) || ':' || count(distinct id) from ev_open" 2>/dev/null || echo 0; }
  pg_stats() { psql_q "select count(*) || ':' || count(distinct id) || ':' || min(id) || '-' || max(id) from ev"; }
  faults postgres pg_count pg_stats pg_crash
  proxy_start "$PG_PORT" --cut-at 'WHERE grp = $1' --arm "$WORK/pg_open.arm"
  open_cut pg_open "postgres: { dsn: \"host=127.0.0.1 port=$PROXY_PORT user=postgres dbname=postgres\", table: ev_open, columns: { id: bigint, name: text, v: double } }" \
    pg_open_count
fi

# ---- MariaDB: through the proxy; the server crashes too ----
if case " $ONLY_SINKS " in *" mysql "*) true ;; *) false ;; esac; then
  proxy_start "$MY_PORT" --seed "$SEED" --cut 0.002 --cut-commit 0.1
  pipeline mysql "mysql: { dsn: \"mysql://root@127.0.0.1:$PROXY_PORT/sluice_test\", table: ev, columns: { id: bigint, name: text, v: double } }"
  my_count() { my_q "select count(*) from ev" 2>/dev/null || echo 0; }
  my_open_count() { my_q "select concat(count(*), ':', count(distinct id)) from ev_open" 2>/dev/null || echo 0; }
  my_stats() { my_q "select concat(count(*), ':', count(distinct id), ':', min(id), '-', max(id)) from ev"; }
  faults mysql my_count my_stats my_crash
  proxy_start "$MY_PORT" --cut-at 'WHERE grp = ?' --arm "$WORK/my_open.arm"
  open_cut my_open "mysql: { dsn: \"mysql://root@127.0.0.1:$PROXY_PORT/sluice_test\", table: ev_open, columns: { id: bigint, name: text, v: double } }" \
    my_open_count
fi
done_tests
