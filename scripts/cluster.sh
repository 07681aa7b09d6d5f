#!/usr/bin/env bash
# A whole ESP deployment on loopback, for trying the cluster out and for
# tests/cluster: PostgreSQL with a synchronous streaming standby, two espd
# on one data directory and one database, and HAProxy in front of them.
#
#   cluster.sh start [DIR [ESPD-ARGS...]]
#                              start everything (DIR default /tmp/esp-cluster;
#                              --key=value arguments go to both espd); prints
#                              the addresses, and writes them to DIR/env
#   cluster.sh stop [DIR]      stop everything (DIR can then be removed)
#   cluster.sh failover [DIR]  stop the primary and promote the standby
#   cluster.sh status [DIR]    which PostgreSQL is the primary, which espd run
#
# HAProxy: the portal in HTTP mode (it appends the client's address to
# X-Forwarded-For; espd believes it only from trusted_proxies, here
# 127.0.0.2, the address HAProxy connects from), and the certificate-login
# listener in TCP mode, so TLS and the client certificate go end to end
# from the browser to espd, with the client's address in a PROXY protocol
# v2 header before the TLS bytes (espd: login_proxy_protocol). espd reaches PostgreSQL through a multi-host
# connection string with target_session_attrs=read-write: after a failover
# it reconnects to whichever server is the primary (docs/failover.md).
#
# ESP_BUILD (default build/) says which espd and espctl run. Test settings:
# fsync off, trust authentication, demo accounts; never for real data.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${ESP_BUILD:-$root/build}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
pgt="$root/scripts/pg-test-cluster.sh"
cmd=${1:-}
dir=${2:-/tmp/esp-cluster}

die() { echo "cluster: $*" >&2; exit 1; }
# Run as the PostgreSQL test user when root (pg-test-cluster.sh made it).
as_pg() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u esptest -- "$@"); else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # URL SECONDS
  local i=0
  until curl -fs -o /dev/null "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt $(($2 * 10)) ] || return 1; sleep 0.1
  done
}

# The PostgreSQL server in pg1 or pg2 that is not in recovery, if any.
primary_dir() {
  for n in pg1 pg2; do
    [ -f "$dir/$n/port" ] || continue
    local p; p=$(cat "$dir/$n/port")
    if [ "$(as_pg "$PGBIN/psql" -X -h 127.0.0.1 -p "$p" -U esptest -d postgres -Atqc \
      'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; then echo "$dir/$n"; return 0; fi
  done
  return 1
}

start_pg() {
  # The primary: pg-test-cluster.sh's cluster, with commits that wait for
  # the standby (synchronous_commit on, one named standby).
  local uri1; uri1=$(bash "$pgt" start "$dir/pg1")
  local p1; p1=$(cat "$dir/pg1/port")
  as_pg "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$p1" -U esptest -d postgres \
    -c "ALTER SYSTEM SET synchronous_commit = 'on'" \
    -c "ALTER SYSTEM SET synchronous_standby_names = 'esp_standby'" \
    -c "ALTER SYSTEM SET wal_keep_size = '256MB'" -c 'SELECT pg_reload_conf()' >/dev/null
  # The standby: a base backup of the primary, streaming from it.
  if [ ! -f "$dir/pg2/data/PG_VERSION" ]; then
    mkdir -p "$dir/pg2"; chmod 700 "$dir/pg2"
    [ "$(id -u)" -eq 0 ] && chown esptest: "$dir/pg2"
    as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$p1" -U esptest -D "$dir/pg2/data" \
      -X stream -R -c fast >/dev/null 2>"$dir/pg2/basebackup.log" ||
      die "pg_basebackup failed; see $dir/pg2/basebackup.log"
    local p2; p2=$(free_port)
    echo "$p2" >"$dir/pg2/port"
    # Its own port and socket directory, and a name the primary waits for.
    as_pg sed -i -e "s/^port = .*/port = $p2/" \
      -e "s|^unix_socket_directories = .*|unix_socket_directories = '$dir/pg2'|" \
      "$dir/pg2/data/postgresql.conf"
    # (The base backup copied the primary's synchronous_standby_names: once
    # promoted, this server has no standby to wait for.)
    as_pg sh -c "printf '%s\n' \"primary_conninfo = 'host=127.0.0.1 port=$p1 user=esptest application_name=esp_standby'\" \"synchronous_standby_names = ''\" >>'$dir/pg2/data/postgresql.auto.conf'"
  fi
  bash "$pgt" start "$dir/pg2" >/dev/null || die "the standby did not start; see $dir/pg2/postgres.log"
}

start_espd() { # N
  local n=$1
  . "$dir/env"
  local http https login
  http=$(eval echo "\$ESPD${n}_HTTP"); https=$(eval echo "\$ESPD${n}_HTTPS"); login=$(eval echo "\$ESPD${n}_LOGIN")
  "$build/src/httpd/espd" --data_dir="$dir/esp" --database="$ESP_DATABASE" \
    --http_listen="$http" --https_listen="$https" --login_listen="$login" \
    --public_url="$ESP_URL" --login_url="$ESP_LOGIN_URL/" --trusted_proxies=127.0.0.2 \
    --login_proxy_protocol=true \
    --password_hash="${ESP_PASSWORD_HASH:-interactive}" --staff_password_login=true \
    "${ESPD_ARGS[@]}" </dev/null >/dev/null 2>>"$dir/espd$n.log" &
  echo $! >"$dir/espd$n.pid"
}

cmd_start() {
  command -v haproxy >/dev/null || die "haproxy not found (apt-get install haproxy; scripts/deps.sh test)"
  [ -x "$build/src/httpd/espd" ] || die "no espd in $build (meson setup build && ninja -C build)"
  mkdir -p "$dir"; chmod 755 "$dir"
  start_pg
  local p1 p2; p1=$(cat "$dir/pg1/port"); p2=$(cat "$dir/pg2/port")
  if [ ! -f "$dir/env" ]; then
    local ha ha_login
    ha=$(free_port); ha_login=$(free_port)
    cat >"$dir/env" <<EOF
ESP_DATABASE='postgresql://esptest@127.0.0.1:$p1,127.0.0.1:$p2/esp_test?target_session_attrs=read-write&connect_timeout=2'
ESP_URL=http://127.0.0.1:$ha
ESP_LOGIN_URL=https://127.0.0.1:$ha_login
ESP_DATA_DIR=$dir/esp
ESPD1_HTTP=127.0.0.1:$(free_port)
ESPD1_HTTPS=127.0.0.1:$(free_port)
ESPD1_LOGIN=127.0.0.1:$(free_port)
ESPD2_HTTP=127.0.0.1:$(free_port)
ESPD2_HTTPS=127.0.0.1:$(free_port)
ESPD2_LOGIN=127.0.0.1:$(free_port)
EOF
  fi
  . "$dir/env"
  local ctl=("$build/src/cli/espctl" --data_dir="$dir/esp" --database="$ESP_DATABASE"
    --password_hash="${ESP_PASSWORD_HASH:-interactive}")
  if [ ! -f "$dir/esp/ca/ca.crt" ]; then
    "${ctl[@]}" init >"$dir/init.log"
    "${ctl[@]}" demo >>"$dir/init.log"
    "${ctl[@]}" directory load "$root/scripts/demo-ra-directory.csv" >>"$dir/init.log"
  fi
  ESPD_ARGS=("${@}")
  for n in 1 2; do
    if [ -f "$dir/espd$n.pid" ] && kill -0 "$(cat "$dir/espd$n.pid")" 2>/dev/null; then continue; fi
    start_espd "$n"
  done
  for n in 1 2; do
    local h; h=$(eval echo "\$ESPD${n}_HTTP")
    wait_http "http://$h/healthz" 120 || die "espd $n did not start; see $dir/espd$n.log"
  done
  cat >"$dir/haproxy.cfg" <<EOF
# Written by scripts/cluster.sh.
global
	log stderr format short local0 warning
	pidfile $dir/haproxy.pid
	maxconn 2000

defaults
	timeout connect 2s
	timeout client 60s
	timeout server 60s
	retries 2

# The portal: HTTP, the client's address appended to X-Forwarded-For;
# espd trusts it from 127.0.0.2 only (trusted_proxies).
frontend portal
	mode http
	bind ${ESP_URL#http://}
	option forwardfor
	default_backend espd_portal

backend espd_portal
	mode http
	balance roundrobin
	# readiness: an espd whose store does not answer takes no requests
	option httpchk GET /readyz
	option redispatch
	source 127.0.0.2
	server espd1 $ESPD1_HTTP check inter 1s fall 2 rise 1
	server espd2 $ESPD2_HTTP check inter 1s fall 2 rise 1

# Certificate login: TCP, so the TLS session (and the client certificate
# in it) reaches espd unopened; the client's address goes before it in a
# PROXY protocol v2 header (send-proxy-v2), which espd reads from
# trusted_proxies only (login_proxy_protocol).
frontend certificate_login
	mode tcp
	bind ${ESP_LOGIN_URL#https://}
	default_backend espd_login

backend espd_login
	mode tcp
	balance roundrobin
	source 127.0.0.2
	server espd1 $ESPD1_LOGIN send-proxy-v2 check inter 1s fall 2 rise 1
	server espd2 $ESPD2_LOGIN send-proxy-v2 check inter 1s fall 2 rise 1
EOF
  if [ -f "$dir/haproxy.pid" ] && kill -0 "$(cat "$dir/haproxy.pid")" 2>/dev/null; then :; else
    haproxy -D -f "$dir/haproxy.cfg" </dev/null >/dev/null 2>>"$dir/haproxy.log" || die "haproxy did not start; see $dir/haproxy.log"
  fi
  wait_http "$ESP_URL/healthz" 30 || die "HAProxy does not reach espd; see $dir/haproxy.log"
  echo "ESP cluster in $dir:"
  echo "  portal (HAProxy, HTTP)          $ESP_URL"
  echo "  certificate login (HAProxy, TCP) $ESP_LOGIN_URL"
  echo "  espd 1 $ESPD1_HTTP, espd 2 $ESPD2_HTTP (logs: $dir/espd1.log, $dir/espd2.log)"
  echo "  PostgreSQL primary 127.0.0.1:$p1, synchronous standby 127.0.0.1:$p2"
  echo "  demo accounts: $dir/esp/demo-accounts.tsv"
}

stop_pid() { # FILE
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$1"
}

cmd_stop() {
  [ -d "$dir" ] || return 0
  stop_pid "$dir/haproxy.pid"
  stop_pid "$dir/espd1.pid"
  stop_pid "$dir/espd2.pid"
  bash "$pgt" stop "$dir/pg2" >/dev/null 2>&1 || true
  bash "$pgt" stop "$dir/pg1" >/dev/null 2>&1 || true
}

# The runbook's steps (docs/failover.md), for the loopback cluster.
cmd_failover() {
  local old; old=$(primary_dir) || die "no primary is running"
  local new=$dir/pg2; [ "$old" = "$dir/pg2" ] && new=$dir/pg1
  bash "$pgt" stop "$old" >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$new/data" -w -t 60 promote >/dev/null || die "promotion failed"
  # No standby left to wait for: commits must not hang on one.
  as_pg "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$(cat "$new/port")" -U esptest -d postgres \
    -c "ALTER SYSTEM SET synchronous_standby_names = ''" -c 'SELECT pg_reload_conf()' >/dev/null
  echo "primary now $(basename "$new") (127.0.0.1:$(cat "$new/port")); $(basename "$old") stopped"
}

cmd_status() {
  local p; p=$(primary_dir) && echo "primary: $(basename "$p") (127.0.0.1:$(cat "$p/port"))" || echo "primary: none"
  for n in 1 2; do
    if [ -f "$dir/espd$n.pid" ] && kill -0 "$(cat "$dir/espd$n.pid")" 2>/dev/null; then echo "espd $n: running"; else echo "espd $n: stopped"; fi
  done
}

case $cmd in
start) shift; [ $# -gt 0 ] && shift; cmd_start "$@" ;;
stop) cmd_stop ;;
failover) cmd_failover ;;
status) cmd_status ;;
*) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
