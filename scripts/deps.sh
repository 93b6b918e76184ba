#!/bin/sh
# Install the Debian packages sluice needs to build and test, if any are missing.
# Idempotent and quiet when everything is present.  Needs root (or sudo) to install.
set -eu
PKGS="gcc make clang libclang-rt-14-dev libyaml-dev libsqlite3-dev zlib1g-dev \
libjansson-dev sqlite3 jq python3 procps libmicrohttpd-dev python3-prometheus-client curl libcurl4-openssl-dev librdkafka-dev kcat python3-confluent-kafka postgresql libpq-dev mariadb-server libmariadb-dev python3-aiosmtpd tzdata openssl cppcheck clang-tidy"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# npm (web assets, browser tests): the machine's own Node.js when it has one (a
# NodeSource build conflicts with Debian's npm package), else Debian's.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
