#!/usr/bin/env bash
# Certificate logins per second vs bare TLS full handshakes, same keys, same
# run (a benchmark, never a test).
#
# Builds what it needs, makes a throw-away data directory (espctl init +
# demo), starts espd with its certificate login listener (login_listen),
# prepares (not measured) one enterprise holder with one P-256 certificate
# key issued by ESP's CA (bench/login_prepare.mjs, through the integration
# harness's holderWithKeys), then measures with bench/login_bench, every
# operation a NEW TCP + TLS connection with a full handshake (no resumption):
#   espd bare   handshake with the client certificate, close_notify, wait for
#               espd's close; no HTTP (the TLS floor of the login listener)
#   espd login  handshake, GET /, 303 to /mgmt with Set-Cookie esp_session
#               (OpenSSL verification of the certificate, store look-up,
#               session insert)
# and against bench/login_baseline (a tiny GnuTLS server with the same server
# key and certificate, same client-certificate request, no libmicrohttpd):
# bare, and a fixed 303 + Set-Cookie; the four runs interleaved ROUNDS times.
# Prints a table, the ratio login / bare and whether the target (>= 80 % of
# the bare rate) is met.
#
# Usage: bench/login_bench.sh
# Environment (defaults): DURATION=8 (seconds per measured run) WARMUP=1
#   THREADS=4 (client threads) ESPD_THREADS=2 ROUNDS=3 BASELINE_THREADS=8
#   ESP_BUILD=<repo>/build KEEP=1 keeps the temporary directory.
#   PERF=1 adds one more espd run per mode in PERF_MODES (default "bare
#   login") under `perf record -g` and prints the top of each report;
#   PERF_OUT=prefix keeps prefix.<mode>.data.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${ESP_BUILD:-$ROOT/build}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-1}
THREADS=${THREADS:-4}
ESPD_THREADS=${ESPD_THREADS:-2}
ROUNDS=${ROUNDS:-3}
BASELINE_THREADS=${BASELINE_THREADS:-8}
PERF=${PERF:-0}
PERF_MODES=${PERF_MODES:-bare login}
KEEP=${KEEP:-0}

die() { echo "login_bench: $*" >&2; exit 1; }
for tool in curl node openssl sqlite3; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" "$ROOT" >/dev/null
fi
# Only the targets used here: the rest of the tree may be mid-edit.
ninja -C "$BUILD" src/httpd/espd src/cli/espctl bench/login_bench bench/login_baseline >/dev/null ||
	die "build failed"
ESPD=$BUILD/src/httpd/espd
ESPCTL=$BUILD/src/cli/espctl
CLIENT=$BUILD/bench/login_bench
BASELINE=$BUILD/bench/login_baseline

TMP=$(mktemp -d "${TMPDIR:-/tmp}/esp-login-XXXXXX")
ESPD_PID=
BASE_PID=
PERF_PID=
cleanup() {
	[ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null && wait "$PERF_PID" 2>/dev/null || true
	[ -n "$BASE_PID" ] && kill "$BASE_PID" 2>/dev/null && wait "$BASE_PID" 2>/dev/null || true
	[ -n "$ESPD_PID" ] && kill "$ESPD_PID" 2>/dev/null && wait "$ESPD_PID" 2>/dev/null || true
	if [ "$KEEP" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# ---- the store and espd ----
DB=$TMP/esp.db
ctl() { "$ESPCTL" --data_dir="$TMP" --database="$DB" --password_hash=min "$@"; }
ctl init >/dev/null
ctl demo >/dev/null
ctl directory load "$ROOT/scripts/demo-ra-directory.csv" >/dev/null

HTTP_PORT=$(free_port)
LOGIN_PORT=$(free_port)
ESP_URL=http://127.0.0.1:$HTTP_PORT
# --password_hash=min only makes the preparation's logins cheap: a
# certificate login hashes no password.
"$ESPD" --data_dir="$TMP" --database="$DB" --http_listen="127.0.0.1:$HTTP_PORT" \
	--https_listen= --login_listen="127.0.0.1:$LOGIN_PORT" \
	--login_url="https://127.0.0.1:$LOGIN_PORT/" --public_url="$ESP_URL" \
	--staff_password_login=true --log_requests=false --password_hash=min \
	--registrations_per_address_hour=0 --login_checks_per_second=0 \
	--threads="$ESPD_THREADS" >"$TMP/espd.log" 2>&1 &
ESPD_PID=$!
for _ in $(seq 1 200); do
	curl -fs -o /dev/null "$ESP_URL/healthz" && break
	kill -0 "$ESPD_PID" 2>/dev/null || { cat "$TMP/espd.log" >&2; die "espd exited"; }
	sleep 0.05
done

# ---- preparation (not measured) ----
mkdir "$TMP/holder"
mapfile -t FILES < <(node "$ROOT/bench/login_prepare.mjs" "$ESP_URL" "$TMP/demo-accounts.tsv" \
	"$TMP/holder") || die "preparation failed"
CERT=${FILES[0]:-}
KEY=${FILES[1]:-}
CHAIN=${FILES[2]:-}
[ -s "$CERT" ] && [ -s "$KEY" ] && [ -s "$CHAIN" ] || die "no holder certificate"
# One login with curl first: the listener works as the integration test says.
curl -s -i --cacert "$CHAIN" --cert "$CERT" --key "$KEY" "https://127.0.0.1:$LOGIN_PORT/" \
	-o "$TMP/curl.txt" || die "curl login failed"
grep -q '^HTTP/1.1 303' "$TMP/curl.txt" && grep -qi '^set-cookie: esp_session=' "$TMP/curl.txt" ||
	{ cat "$TMP/curl.txt" >&2; die "curl login did not answer 303 + esp_session"; }

sessions() { sqlite3 "$DB" "SELECT COUNT(*) FROM sessions WHERE method = 'certificate'"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# run NAME PID MODE PORT: one measured run; appends "NAME|rate|p50|p99|errors|
# server_us_per_op|client_us_per_op|tls|ops|handshake_p50" to $TMP/rows.
run() {
	local name=$1 pid=$2 mode=$3 port=$4
	local before after out
	before=$(ticks "$pid")
	out=$("$CLIENT" --host=127.0.0.1 --port="$port" --cafile="$CHAIN" --cert="$CERT" --key="$KEY" \
		--mode="$mode" --threads="$THREADS" --seconds="$DURATION" --warmup="$WARMUP" 2>>"$TMP/client.err") ||
		true
	after=$(ticks "$pid")
	local result
	result=$(grep '^RESULT ' <<<"$out") || { echo "$out" >&2; cat "$TMP/client.err" >&2; die "$name: no RESULT"; }
	f() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
	local ops rate
	ops=$(f ops)
	rate=$(f rate)
	# Server CPU over warm-up + measure, divided by the operations made in
	# that time (estimated from the measured rate): µs of CPU per operation.
	local srv_us cli_us
	srv_us=$(awk -v a="$before" -v b="$after" -v t="$CLK_TCK" -v r="$rate" -v d="$DURATION" -v w="$WARMUP" \
		'BEGIN { n = r * (d + w); printf "%.0f", n ? 1e6 * (b - a) / t / n : 0 }')
	cli_us=$(awk -v c="$(f client_cpu_s)" -v r="$rate" -v d="$DURATION" -v w="$WARMUP" \
		'BEGIN { n = r * (d + w); printf "%.0f", n ? 1e6 * c / n : 0 }')
	echo "$name|$rate|$(f p50_ms)|$(f p99_ms)|$(f errors)|$srv_us|$cli_us|$(f tls) $(f cipher) $(f group)|$ops|$(f hs_p50_ms)" \
		>>"$TMP/rows"
	echo "  $name: $rate/s (errors $(f errors))" >&2
}

# ---- the baseline GnuTLS server, same key and certificate ----
BASE_PORT=$(free_port)
"$BASELINE" "$BASE_PORT" "$TMP/ca/server.key" "$TMP/ca/server.crt" "$CHAIN" "$BASELINE_THREADS" \
	2>"$TMP/baseline.log" &
BASE_PID=$!
for _ in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$BASE_PORT") 2>/dev/null && break
	kill -0 "$BASE_PID" 2>/dev/null || { cat "$TMP/baseline.log" >&2; die "login_baseline exited"; }
	sleep 0.05
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
SESSIONS_BEFORE=$(sessions)
: >"$TMP/rows"
# Interleaved, so that a change of load on the machine hits every kind of
# run alike; the server not being measured is idle.
echo "measuring: $ROUNDS rounds of 4 runs, ${DURATION}s each..." >&2
for r in $(seq 1 "$ROUNDS"); do
	run "espd bare handshake (round $r)" "$ESPD_PID" bare "$LOGIN_PORT"
	run "espd certificate login (round $r)" "$ESPD_PID" login "$LOGIN_PORT"
	run "baseline GnuTLS bare (round $r)" "$BASE_PID" bare "$BASE_PORT"
	run "baseline GnuTLS 303+cookie (round $r)" "$BASE_PID" login "$BASE_PORT"
done
SESSIONS_AFTER=$(sessions)
kill "$BASE_PID" && wait "$BASE_PID" 2>/dev/null || true
BASE_PID=
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----
mean_rate() { grep "^$1" "$TMP/rows" | awk -F'|' '{ s += $2; n++ } END { printf "%.1f", n ? s / n : 0 }'; }
ESPD_BARE=$(mean_rate 'espd bare')
ESPD_LOGIN=$(mean_rate 'espd certificate login')
BASE_BARE=$(mean_rate 'baseline GnuTLS bare')
RATIO=$(awk -v a="$ESPD_LOGIN" -v b="$ESPD_BARE" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }')
# Per round (the runs of a round are next to each other in time), and the
# median of those: less sensitive to a burst of load elsewhere.
ROUND_RATIOS=$(awk -F'|' '/^espd bare/ { b = $2 } /^espd certificate login/ { printf "%.1f ", b ? 100 * $2 / b : 0 }' "$TMP/rows")
MEDIAN_RATIO=$(tr ' ' '\n' <<<"$ROUND_RATIOS" | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
mean_col() { grep "^$1" "$TMP/rows" | awk -F'|' -v c="$2" '{ s += $c; n++ } END { printf "%.0f", n ? s / n : 0 }'; }
CPU_BARE=$(mean_col 'espd bare' 6)
CPU_LOGIN=$(mean_col 'espd certificate login' 6)
CPU_BASE=$(mean_col 'baseline GnuTLS bare' 6)
RATIO_BASE=$(awk -v a="$ESPD_LOGIN" -v b="$BASE_BARE" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }')
OK=$(awk -v r="$RATIO" 'BEGIN { print (r >= 80) ? "met" : "NOT met" }')
OK_BASE=$(awk -v r="$RATIO_BASE" 'BEGIN { print (r >= 80) ? "met" : "NOT met" }')
LOGINS=$(grep '^espd certificate login' "$TMP/rows" | awk -F'|' '{ s += $9 } END { print s }')
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_GIB=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
TLS=$(awk -F'|' 'NR == 1 { print $8 }' "$TMP/rows")
SERVER_KEY=$(openssl x509 -in "$TMP/ca/server.crt" -noout -text | sed -n 's/^ *Public Key Algorithm: //p; s/^ *NIST CURVE: //p' | paste -sd' ')
CLIENT_KEY=$(openssl x509 -in "$CERT" -noout -text | sed -n 's/^ *Public Key Algorithm: //p; s/^ *NIST CURVE: //p' | paste -sd' ')
row() { printf '| %-38s | %10s | %8s | %9s | %8s | %6s | %11s | %11s |\n' "$@"; }

cat <<REPORT
Certificate login vs bare TLS full handshakes
  date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs ($CPU_MODEL), $MEM_GIB GiB, $(uname -sr)
  $(openssl version); $(gnutls-cli --version 2>/dev/null | head -n1 || echo GnuTLS); load average before / after: $LOAD_BEFORE / $LOAD_AFTER
  espd --threads=$ESPD_THREADS (store SQLite); login_baseline $BASELINE_THREADS threads; client: $THREADS threads, ${DURATION}s per run after ${WARMUP}s warm-up
  every operation a new TCP + TLS connection, full handshake ($TLS), no resumption
  p50 hs: until the client's SSL_connect returned (in TLS 1.3 before the server has checked the client's flight)
  server/client µs/op: CPU time of the server process / of the client per operation
  server key: $SERVER_KEY; client key: $CLIENT_KEY (issued by ESP's CA, chain of 2)

$(row 'run' 'per second' 'p50 (ms)' 'p50 hs (ms)' 'p99 (ms)' 'errors' 'server µs/op' 'client µs/op')
|----------------------------------------|-----------:|---------:|----------:|---------:|-------:|------------:|------------:|
$(while IFS='|' read -r name rate p50 p99 errs srv cli _ _ hs; do row "$name" "$rate" "$p50" "$hs" "$p99" "$errs" "$srv" "$cli"; done <"$TMP/rows")

sessions created by certificate login in the espd runs: $((SESSIONS_AFTER - SESSIONS_BEFORE)) (logins counted: $LOGINS, plus warm-up)
espd login / espd bare (mean of $ROUNDS rounds): $ESPD_LOGIN / $ESPD_BARE = $RATIO %   target >= 80 %: $OK
  per round: $ROUND_RATIOS(%); median $MEDIAN_RATIO %
espd login / baseline GnuTLS bare:              $ESPD_LOGIN / $BASE_BARE = $RATIO_BASE %   (same target: $OK_BASE)
espd CPU per operation (mean): bare handshake $CPU_BARE µs, certificate login $CPU_LOGIN µs
  (login costs $(awk -v a="$CPU_LOGIN" -v b="$CPU_BARE" 'BEGIN { printf "%.0f", a - b }') µs more: bare/login = $(awk -v a="$CPU_LOGIN" -v b="$CPU_BARE" 'BEGIN { printf "%.1f", a ? 100 * b / a : 0 }') %); login_baseline bare handshake $CPU_BASE µs
REPORT

if [ "$PERF" = 1 ]; then
	command -v perf >/dev/null || die "perf not found"
	for mode in $PERF_MODES; do
		PERF_DATA=${PERF_OUT:-$TMP/perf}.$mode.data
		# The libraries have no frame pointers: DWARF unwinding.
		perf record -q --call-graph dwarf,16384 -F 499 -p "$ESPD_PID" -o "$PERF_DATA" 2>"$TMP/perf.err" &
		PERF_PID=$!
		sleep 1
		echo
		"$CLIENT" --host=127.0.0.1 --port="$LOGIN_PORT" --cafile="$CHAIN" --cert="$CERT" --key="$KEY" \
			--mode="$mode" --threads="$THREADS" --seconds="$DURATION" --warmup=0 | grep -v '^RESULT' || true
		kill -INT "$PERF_PID"
		wait "$PERF_PID" || true
		PERF_PID=
		echo "perf: espd during a $mode run, inclusive (children) >= 1.5 %"
		# awk, not head: no SIGPIPE under pipefail.
		perf report -i "$PERF_DATA" --stdio --children --sort sym -g none --percent-limit 1.5 \
			2>/dev/null | grep -E '^ +[0-9]' | grep -v ' 0x0000' | awk 'NR <= 80' || true
		[ -n "${PERF_OUT:-}" ] && echo "perf data kept in $PERF_DATA"
	done
fi
exit 0
