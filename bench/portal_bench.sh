#!/usr/bin/env bash
# Portal page vs bare libmicrohttpd, in one run (a benchmark, never a test).
#
# Builds if needed, makes a throw-away data directory (espctl init + demo),
# files ENTRIES pending enterprise registrations under 福建省交通运输厅 through
# the real registration form, logs in as the demo reviewer fj_reviewer and
# measures his queue page /review with wrk; then serves a body of the same
# size from bench/baseline_mhd (same MHD set-up, no database) and the same
# bytes as a static file from nginx (Debian's nginx-light, bench/setup.sh;
# 2 workers, no access log, keep-alive without a request limit, like the
# others), and measures those. Prints requests/s, p50 and p99 of each, the
# server's CPU time per request (from /proc/PID/stat) and the ratios of espd
# to each.
#
# Usage: bench/portal_bench.sh
# Environment (defaults): ROUNDS=1 ENTRIES=100 CONNECTIONS=64 THREADS=2 WARMUP=3
#   DURATION=10 ESP_BUILD=<repo>/build ESP_DATABASE=<empty: SQLite in the
#   temp dir; or a postgresql:// URL of an empty database>
#   SHOW_WRK=1 prints wrk's whole output (latency distribution) to stderr.
#   PERF=1 also records a perf profile of espd (call graphs) during an extra
#   wrk run and prints the top of the report; PERF_OUT=file keeps perf.data.
#   CALLGRIND=S (e.g. 10) also runs espd and baseline_mhd under valgrind's
#   callgrind and prints the instructions each executes per request over S
#   seconds of requests (after a warm-up): counts that other people's work on
#   the machine does not move (the few requests in flight at the end are
#   counted in the instructions but not in the requests: < 0.1 %).
#   STRACE=1 prints the system calls of espd and baseline_mhd (strace -c)
#   over 2 s of wrk each, to compare them per request. CALLGRIND_OUT=dir keeps the profiles.
#   PEER_COOKIE=1 (default) sends the peers the same request as espd, session
#   cookie included: libmicrohttpd parses a Cookie header line and its
#   cookies for the bare reply too (~1,200 instructions a request); 0 sends
#   them no cookie, as the figures before 2026-12-01 08:00 were measured.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${ESP_BUILD:-$ROOT/build}
ENTRIES=${ENTRIES:-100}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-3}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-1}
PERF=${PERF:-0}
CALLGRIND=${CALLGRIND:-0}
STRACE=${STRACE:-0}
SHOW_WRK=${SHOW_WRK:-0}
PEER_COOKIE=${PEER_COOKIE:-1}
PAGE_SIZE=50 # QUEUE_PAGE in src/httpd/page_review.c

die() { echo "portal_bench: $*" >&2; exit 1; }
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || die "nginx not found (bench/setup.sh installs nginx-light)"
for tool in wrk curl node; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install $tool)"
done

if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" "$ROOT" >/dev/null
fi
ninja -C "$BUILD" >/dev/null || die "build failed"
ESPD=$BUILD/src/httpd/espd
ESPCTL=$BUILD/src/cli/espctl
BASELINE=$BUILD/bench/baseline_mhd
for b in "$ESPD" "$ESPCTL" "$BASELINE"; do [ -x "$b" ] || die "missing $b"; done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/esp-bench-XXXXXX")
ESPD_PID=
BASE_PID=
NGINX_PID=
cleanup() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
	[ -n "$ESPD_PID" ] && kill "$ESPD_PID" 2>/dev/null && wait "$ESPD_PID" 2>/dev/null || true
	[ -n "$BASE_PID" ] && kill "$BASE_PID" 2>/dev/null && wait "$BASE_PID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_http() { # URL PID
	for _ in $(seq 1 200); do
		curl -fs -o /dev/null "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# ---- the store ----
DB=${ESP_DATABASE:-$TMP/esp.db}
ctl() { "$ESPCTL" --data_dir="$TMP" --database="$DB" --password_hash=min "$@"; }
ctl init >/dev/null
ctl demo >/dev/null
PASSWORD=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	$col["username"] == "fj_reviewer" { print $col["password"] }' "$TMP/demo-accounts.tsv")
[ -n "$PASSWORD" ] || die "fj_reviewer not in demo-accounts.tsv"

# ---- espd ----
# --password_hash=min only makes the applicants' registrations and the one
# login cheap; the measured page hashes nothing. The filling registers from
# one address, faster than the per-address limit allows: that limit is off.
ESP_PORT=$(free_port)
ESP_URL=http://127.0.0.1:$ESP_PORT
"$ESPD" --data_dir="$TMP" --database="$DB" --http_listen="127.0.0.1:$ESP_PORT" \
	--https_listen= --login_listen= --public_url="$ESP_URL" --staff_password_login=true \
	--log_requests=false --password_hash=min --threads="$THREADS" \
	--registrations_per_address_hour=0 --login_checks_per_second=0 >"$TMP/espd.log" 2>&1 &
ESPD_PID=$!
wait_http "$ESP_URL/healthz" "$ESPD_PID" || { cat "$TMP/espd.log" >&2; die "espd did not start"; }

filed=$(node "$ROOT/bench/portal_fill.mjs" "$ESP_URL" "$ENTRIES") ||
	die "filling the store failed ($filed of $ENTRIES registrations accepted)"

# ---- log in as fj_reviewer (cookie jar, CSRF token of the login form) ----
JAR=$TMP/cookies.txt
csrf=$(curl -fs -c "$JAR" -b "$JAR" "$ESP_URL/login" |
	sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1)
[ -n "$csrf" ] || die "no CSRF token on /login"
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$JAR" -b "$JAR" --data-urlencode "csrf=$csrf" \
	--data-urlencode "username=fj_reviewer" --data-urlencode "password=$PASSWORD" "$ESP_URL/login")
[ "$code" = 303 ] || die "login as fj_reviewer answered $code"
SESSION=$(awk '$6 == "esp_session" { print $7 }' "$JAR")
[ -n "$SESSION" ] || die "no session cookie after login"

# ---- the page ----
PAGE_PATH=/review
curl -fs -H "Cookie: esp_session=$SESSION" -o "$TMP/page.html" "$ESP_URL$PAGE_PATH" ||
	die "GET $PAGE_PATH failed"
BYTES=$(wc -c <"$TMP/page.html")
ROWS=$(grep -c '查看并审核' "$TMP/page.html" || true)
want=$((ENTRIES < PAGE_SIZE ? ENTRIES : PAGE_SIZE))
[ "$ROWS" -eq "$want" ] || die "$PAGE_PATH lists $ROWS entries, expected $want"
TOTAL=$(sed -n 's/.*共 \([0-9][0-9]*\) 条.*/\1/p' "$TMP/page.html" | head -n1)
[ -n "$TOTAL" ] || TOTAL="?"
STORE=SQLite
[ -n "${ESP_DATABASE:-}" ] && STORE=PostgreSQL

# ---- the baseline ----
# Its connections get espd's memory pool (max_header_bytes + 16384, as
# src/httpd/main.c sets it): libmicrohttpd zeroes the whole pool after every
# request, the larger part of both servers' instructions.
POOL_BYTES=$((16384 + 16384))
PEER_HDR=
[ "$PEER_COOKIE" = 1 ] && PEER_HDR="Cookie: esp_session=$SESSION"
BASE_PORT=$(free_port)
BASE_URL=http://127.0.0.1:$BASE_PORT
"$BASELINE" "$BASE_PORT" "$BYTES" "$THREADS" "$POOL_BYTES" 2>"$TMP/baseline.log" &
BASE_PID=$!
wait_http "$BASE_URL/" "$BASE_PID" || die "baseline_mhd did not start"
bbytes=$(curl -fs "$BASE_URL$PAGE_PATH" | wc -c)
[ "$bbytes" -eq "$BYTES" ] || die "baseline body is $bbytes bytes, espd's $BYTES"

# ---- nginx: the same bytes as a static file ----
NGINX_PORT=$(free_port)
NGINX_URL=http://127.0.0.1:$NGINX_PORT
mkdir -p "$TMP/nginx/www" "$TMP/nginx/tmp"
cp "$TMP/page.html" "$TMP/nginx/www/review"
cat >"$TMP/nginx/nginx.conf" <<NGINX
# Runs as the invoking user (root here): the files are in a private directory.
user $(id -un);
worker_processes 2;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $TMP/nginx/tmp;
	proxy_temp_path $TMP/nginx/tmp;
	fastcgi_temp_path $TMP/nginx/tmp;
	uwsgi_temp_path $TMP/nginx/tmp;
	scgi_temp_path $TMP/nginx/tmp;
	keepalive_requests 1000000;
	sendfile on;
	tcp_nopush on;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $TMP/nginx/www;
		default_type "text/html; charset=utf-8";
	}
}
NGINX
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>"$TMP/nginx/stderr.log" &
NGINX_PID=$!
wait_http "$NGINX_URL/review" "$NGINX_PID" || { cat "$TMP/nginx/stderr.log" "$TMP/nginx/error.log" >&2; die "nginx did not start"; }
nbytes=$(curl -fs "$NGINX_URL$PAGE_PATH" | wc -c)
[ "$nbytes" -eq "$BYTES" ] || die "nginx body is $nbytes bytes, espd's $BYTES"

# ---- wrk ----
# to_ms VALUE: wrk prints latencies as 812.00us, 1.23ms, 2.10s or 1.00m.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		else if (u != "ms") { print "nan"; exit 1 }
		printf "%.3f", n }'
}

# ticks PID...: user + system CPU ticks of the processes (nginx: the master
# and its workers).
ticks() {
	local t=0 p
	for p in "$@"; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
CLK_TCK=$(getconf CLK_TCK)

# measure NAME URL HEADER PID...: warm-up, then the measured run; sets
# RPS_<NAME>, P50_<NAME>, P99_<NAME> (ms), ERR_<NAME> (non-2xx + socket errors)
# and CPU_<NAME>, the server's CPU time per request in µs: on a CPU shared
# with wrk and other people's work, requests/s move with the load, the CPU a
# request costs far less.
measure() {
	local name=$1 url=$2 hdr=${3:-}
	shift 3
	local pids=("$@")
	local args=(-t"$THREADS" -c"$CONNECTIONS")
	[ -n "$hdr" ] && args+=(-H "$hdr")
	wrk "${args[@]}" -d"${WARMUP}s" "$url" >/dev/null
	local t0 t1
	t0=$(ticks "${pids[@]}")
	wrk "${args[@]}" -d"${DURATION}s" --latency "$url" >"$TMP/wrk-$name.txt"
	t1=$(ticks "${pids[@]}")
	local out=$TMP/wrk-$name.txt rps p50 p99 non2xx errs nreq
	[ "$SHOW_WRK" = 1 ] && sed "s/^/  wrk $name: /" "$out" >&2
	rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$out")
	p50=$(awk '$1 == "50%" { print $2; exit }' "$out")
	p99=$(awk '$1 == "99%" { print $2; exit }' "$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
	errs=$(awk '/Socket errors:/ { s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s }' "$out")
	[ -n "$rps" ] && [ -n "$p50" ] && [ -n "$p99" ] || { cat "$out" >&2; die "cannot read wrk output for $name"; }
	printf -v "RPS_$name" '%s' "$rps"
	printf -v "P50_$name" '%s' "$(to_ms "$p50")"
	printf -v "P99_$name" '%s' "$(to_ms "$p99")"
	printf -v "ERR_$name" '%s' "$(( ${non2xx:-0} + ${errs:-0} ))"
	nreq=$(awk '/requests in/ { print $1; exit }' "$out")
	printf -v "CPU_$name" '%s' "$(awk -v a="$t0" -v b="$t1" -v t="$CLK_TCK" -v n="${nreq:-0}" \
		'BEGIN { printf "%.1f", (n > 0 ? (b - a) / t * 1e6 / n : 0) }')"
}

row() { printf '| %-5s | %-28s | %10s | %8s | %8s | %6s | %11s |\n' "$@"; }

# Each round measures espd and then the baseline back to back, so the two
# figures of a pair see the same background load; the ratio reported is the
# median of the rounds' ratios.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
TABLE=$(row round server requests/s 'p50 (ms)' 'p99 (ms)' errors 'CPU µs/req')
TABLE+=$'\n|-------|------------------------------|-----------:|---------:|---------:|-------:|------------:|'
RATIOS=()
NRATIOS=()
CPURATIOS=()
P99S=()
ERRORS=0
for round in $(seq 1 "$ROUNDS"); do
	measure espd "$ESP_URL$PAGE_PATH" "Cookie: esp_session=$SESSION" "$ESPD_PID"
	measure base "$BASE_URL$PAGE_PATH" "$PEER_HDR" "$BASE_PID"
	# shellcheck disable=SC2046 # one pid per word
	measure nginx "$NGINX_URL$PAGE_PATH" "$PEER_HDR" "$NGINX_PID" $(pgrep -P "$NGINX_PID")
	TABLE+=$'\n'$(row "$round" "espd $PAGE_PATH" "$RPS_espd" "$P50_espd" "$P99_espd" "$ERR_espd" "$CPU_espd")
	TABLE+=$'\n'$(row "$round" "baseline_mhd, $BYTES bytes" "$RPS_base" "$P50_base" "$P99_base" "$ERR_base" "$CPU_base")
	TABLE+=$'\n'$(row "$round" "nginx static file, 2 workers" "$RPS_nginx" "$P50_nginx" "$P99_nginx" "$ERR_nginx" "$CPU_nginx")
	CPURATIOS+=("$(awk -v a="$CPU_espd" -v b="$CPU_base" 'BEGIN { printf "%.1f", (a > 0 ? 100 * b / a : 0) }')")
	RATIOS+=("$(awk -v a="$RPS_espd" -v b="$RPS_base" 'BEGIN { printf "%.1f", 100 * a / b }')")
	NRATIOS+=("$(awk -v a="$RPS_espd" -v b="$RPS_nginx" 'BEGIN { printf "%.1f", 100 * a / b }')")
	P99S+=("$P99_espd")
	ERRORS=$((ERRORS + ERR_espd + ERR_base + ERR_nginx))
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

if [ "$PERF" = 1 ]; then
	command -v perf >/dev/null || die "perf not found"
	PERF_DATA=${PERF_OUT:-$TMP/perf.data}
	# The libraries have no frame pointers: DWARF unwinding at a modest rate.
	perf record -q --call-graph dwarf,16384 -F 499 -p "$ESPD_PID" -o "$PERF_DATA" \
		-- sleep "$DURATION" 2>/dev/null &
	perf_pid=$!
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -H "Cookie: esp_session=$SESSION" \
		"$ESP_URL$PAGE_PATH" >/dev/null
	wait "$perf_pid" || true
fi

# ---- instructions per request (callgrind) ----
# cg_run NAME PORT HEADER CMD...: starts CMD under callgrind (instrumentation
# off), sends a warm-up, then collects over CALLGRIND seconds of wrk (one
# thread, 4 connections; the counts are zeroed and dumped around it) and
# sets IR_<NAME> to the instructions per request.
cg_count() { # wrk's request count from the requests it made in the run
	awk '/requests in/ { print $1; exit }' "$1"
}
cg_run() {
	local name=$1 port=$2 hdr=$3
	shift 3
	local out=${CALLGRIND_OUT:-$TMP}/callgrind.$name
	valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out.%p" \
		"$@" >"$TMP/cg-$name.log" 2>&1 &
	local pid=$!
	wait_http "http://127.0.0.1:$port/healthz" "$pid" ||
		{ cat "$TMP/cg-$name.log" >&2; die "$name did not start under valgrind"; }
	local args=(-t1 -c4)
	[ -n "$hdr" ] && args+=(-H "$hdr")
	wrk "${args[@]}" -d2s "http://127.0.0.1:$port$PAGE_PATH" >/dev/null
	callgrind_control -i on "$pid" >/dev/null 2>&1
	callgrind_control -z "$pid" >/dev/null 2>&1
	wrk "${args[@]}" -d"${CALLGRIND}s" "http://127.0.0.1:$port$PAGE_PATH" >"$TMP/cg-wrk-$name.txt"
	callgrind_control -d "$pid" >/dev/null 2>&1
	callgrind_control -i off "$pid" >/dev/null 2>&1
	local nreq ir
	nreq=$(cg_count "$TMP/cg-wrk-$name.txt")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	# The dump made by callgrind_control holds exactly the zeroed-to-dumped
	# interval; its "summary:" line is the total of every thread.
	ir=$(cat "$out.$pid".* 2>/dev/null | awk '/^summary:/ { s += $2 } END { print s + 0 }')
	printf -v "IR_$name" '%s' "$(awk -v i="$ir" -v n="$nreq" 'BEGIN { printf "%.0f", (n > 0 ? i / n : 0) }')"
	printf -v "NREQ_$name" '%s' "$nreq"
}
# strace_run NAME PID URL HEADER: the system calls of PID over 2 s of wrk.
strace_run() {
	local name=$1 pid=$2 url=$3 hdr=$4 st
	strace -c -f -p "$pid" -o "$TMP/strace-$name.txt" &
	st=$!
	sleep 0.5
	local args=(-t1 -c8 -d2s)
	[ -n "$hdr" ] && args+=(-H "$hdr")
	wrk "${args[@]}" "$url$PAGE_PATH" >"$TMP/strace-wrk-$name.txt"
	kill -INT "$st"
	wait "$st" 2>/dev/null || true
	echo "strace $name: $(awk '/requests in/ { print $1; exit }' "$TMP/strace-wrk-$name.txt") requests"
	cat "$TMP/strace-$name.txt"
}
if [ "$STRACE" = 1 ]; then
	command -v strace >/dev/null || die "strace not found"
	strace_run espd "$ESPD_PID" "$ESP_URL" "Cookie: esp_session=$SESSION"
	strace_run base "$BASE_PID" "$BASE_URL" "$PEER_HDR"
fi
if [ "$CALLGRIND" != 0 ]; then
	command -v valgrind >/dev/null || die "valgrind not found"
	kill "$ESPD_PID" && wait "$ESPD_PID" 2>/dev/null || true
	ESPD_PID=
	cg_run espd "$ESP_PORT" "Cookie: esp_session=$SESSION" "$ESPD" --data_dir="$TMP" --database="$DB" \
		--http_listen="127.0.0.1:$ESP_PORT" --https_listen= --login_listen= --public_url="$ESP_URL" \
		--staff_password_login=true --log_requests=false --password_hash=min --threads="$THREADS" \
		--registrations_per_address_hour=0 --login_checks_per_second=0
	kill "$BASE_PID" && wait "$BASE_PID" 2>/dev/null || true
	BASE_PID=
	cg_run base "$BASE_PORT" "$PEER_HDR" "$BASELINE" "$BASE_PORT" "$BYTES" "$THREADS" "$POOL_BYTES"
fi

# ---- report ----
median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); print (NR % 2) ? v[m] : (v[m] + v[m + 1]) / 2 }'
}
ratio=$(median "${RATIOS[@]}")
cpuratio=$(median "${CPURATIOS[@]}")
nratio=$(median "${NRATIOS[@]}")
p99=$(median "${P99S[@]}")
ratiook=$(awk -v r="$ratio" 'BEGIN { print (r >= 90) ? "yes" : "no" }')
p99ok=$(awk -v p="$p99" 'BEGIN { print (p < 5) ? "yes" : "no" }')
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_GIB=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)

cat <<REPORT
Portal page vs bare libmicrohttpd
  date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs ($CPU_MODEL), $MEM_GIB GiB, $(uname -sr)
  load average before / after: $LOAD_BEFORE / $LOAD_AFTER (wrk and any other process share these CPUs)
  page: GET $PAGE_PATH as fj_reviewer (福建省交通运输厅), $ROWS entries on the page of $TOTAL pending (page size $PAGE_SIZE), $BYTES bytes
  store: $STORE
  peers sent the session cookie too: $PEER_COOKIE; baseline_mhd pool: $POOL_BYTES bytes (espd's)
  wrk: $THREADS threads, $CONNECTIONS connections, ${WARMUP}s warm-up then ${DURATION}s measured, $ROUNDS round(s); espd --threads=$THREADS

$TABLE

ratio espd / baseline_mhd requests/s: $ratio %  (rounds: ${RATIOS[*]}; target >= 90 %: $ratiook)
ratio espd / nginx requests/s: $nratio %  (rounds: ${NRATIOS[*]})
CPU per request, baseline_mhd / espd: $cpuratio %  (rounds: ${CPURATIOS[*]}; the same ratio without the load's noise)
espd p99: $p99 ms  (median of rounds; target < 5 ms: $p99ok)
SUMMARY ratio_mhd=$ratio ratio_nginx=$nratio cpu_ratio_mhd=$cpuratio
REPORT

if [ "$CALLGRIND" != 0 ]; then
	echo
	echo "callgrind: instructions per request (all threads, after a warm-up)"
	echo "  espd $PAGE_PATH: $IR_espd  ($NREQ_espd requests)"
	echo "  baseline_mhd: $IR_base  ($NREQ_base requests)"
	echo "  espd - baseline_mhd: $((IR_espd - IR_base))"
	echo "SUMMARY_IR espd=$IR_espd base=$IR_base"
fi
if [ "$PERF" = 1 ]; then
	echo
	echo "perf: espd during a ${DURATION}s wrk run, inclusive (children) >= 1.5 %"
	perf report -i "$PERF_DATA" --stdio --children --sort sym -g none --percent-limit 1.5 \
		2>/dev/null | grep -E '^ +[0-9]' | head -n 60
	[ -n "${PERF_OUT:-}" ] && echo "perf data kept in $PERF_OUT"
fi
if [ "$ERRORS" != 0 ]; then
	echo "portal_bench: warning: $ERRORS errors or non-2xx responses during the runs" >&2
fi
exit 0
