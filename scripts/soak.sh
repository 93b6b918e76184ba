#!/bin/sh
# make soak: the fault-injection suite of the transactional SQL sinks
# (tests/integration/t_faults_sql.sh), long: SOAK_ROUNDS rounds of SIGKILLs of sluice,
# server crashes and proxy cuts per sink over SOAK_RECORDS records (defaults: 40 rounds,
# 200000 records, some minutes).  Appends the figures ("N kills, M records, 0 lost,
# 0 duplicated") with the command to bench/RESULTS.md when every check passed.
set -u
cd "$(dirname "$0")/.."
sh scripts/deps.sh
make --no-print-directory -j2 all >/dev/null || exit 1
ROUNDS=${SOAK_ROUNDS:-40}
RECORDS=${SOAK_RECORDS:-200000}
RATE=${SOAK_RATE:-1200}
summary=$(mktemp /tmp/sluice-soak.XXXXXX)
start=$(date +%s)
FAULT_ROUNDS=$ROUNDS FAULT_RECORDS=$RECORDS FAULT_RATE=$RATE FAULT_SUMMARY=$summary \
  sh tests/integration/t_faults_sql.sh
rc=$?
secs=$(($(date +%s) - start))
if [ $rc -eq 0 ] && [ -s "$summary" ]; then
  {
    echo
    echo "## Soak: faults in the transactional SQL sinks ($(date -u +%Y-%m-%d))"
    echo
    echo "Command: \`SOAK_ROUNDS=$ROUNDS SOAK_RECORDS=$RECORDS SOAK_RATE=$RATE make soak\`"
    echo "(tests/integration/t_faults_sql.sh: per sink, $ROUNDS rounds of a SIGKILL of sluice at a"
    echo "random moment, the server crashed every third round, tests/tcpproxy.py cutting the"
    echo "connection at random and around a tenth of the COMMITs; checked by id), $secs s on"
    echo "$(nproc) cores, $(uname -m):"
    echo
    sed 's/^/    /' "$summary"
  } >> bench/RESULTS.md
  echo "soak: figures appended to bench/RESULTS.md"
fi
rm -f "$summary"
# the Cassandra row of the promise sheet (tests/integration/t_faults_cassandra.sh), as long
rc2=0
summary=$(mktemp /tmp/sluice-soak.XXXXXX)
start=$(date +%s)
FAULT_ROUNDS=$ROUNDS FAULT_RECORDS=$RECORDS FAULT_RATE=$RATE FAULT_SUMMARY=$summary \
  sh tests/integration/t_faults_cassandra.sh || rc2=$?
secs=$(($(date +%s) - start))
if [ $rc2 -eq 0 ] && [ -s "$summary" ]; then
  {
    echo
    echo "## Soak: faults in the Cassandra sink ($(date -u +%Y-%m-%d))"
    echo
    echo "Command: \`SOAK_ROUNDS=$ROUNDS SOAK_RECORDS=$RECORDS SOAK_RATE=$RATE make soak\`"
    echo "(tests/integration/t_faults_cassandra.sh: $ROUNDS rounds of a SIGKILL of sluice at a random"
    echo "moment, one SIGKILL of the single Cassandra 2.1 node (commitlog_sync: batch) and its"
    echo "restart, tests/tcpproxy.py cutting the connection at random; checked by id), $secs s on"
    echo "$(nproc) cores, $(uname -m):"
    echo
    sed 's/^/    /' "$summary"
  } >> bench/RESULTS.md
  echo "soak: cassandra figures appended to bench/RESULTS.md"
fi
rm -f "$summary"
[ $rc -eq 0 ] && [ $rc2 -eq 0 ]
