#!/usr/bin/env bash
# OCSP answers at 16 connections with wrk (a C client, not Node): several espd
# builds measured on the same store, alternating, so a before/after pair sees
# the same machine load.  A benchmark, never a test.
#
# Usage: bench/ocsp_bench.sh DATA_DIR RUNS BUILD... [-- espd args]
#   DATA_DIR  an initialised ESP data directory (espctl init) whose store holds
#             certificates, e.g. filled by bench/national_fill with small counts;
#             the first valid and the first revoked certificate are asked about.
#   DATABASE  (environment) postgresql://... when the store is PostgreSQL.
#   SECS      (environment, default 5) seconds per wrk run.
# For each run and each build: one espd (2 worker threads, 8 store
# connections), then wrk -t1 -c16 --latency POSTing the two requests in turn
# (`openssl ocsp -reqout`), then GETting them; printed per build and mode:
# requests/s, p50, p99, espd's CPU (utime+stime from /proc) per answer, the
# load average.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=$1 RUNS=$2
shift 2
builds=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do builds+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
extra=("$@")
SECS=${SECS:-5}
db=()
[ -n "${DATABASE:-}" ] && db=(--database="$DATABASE")
WORK=$(mktemp -d /tmp/ocsp-bench.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

sql() {
	if [ -n "${DATABASE:-}" ]; then psql -qAt "$DATABASE" -c "$1"; else sqlite3 "$DATA/esp.db" "$1"; fi
}
good=$(sql "SELECT serial FROM certificates WHERE status = 'valid' ORDER BY id LIMIT 1")
revoked=$(sql "SELECT serial FROM certificates WHERE status = 'revoked' ORDER BY id LIMIT 1")
chain=$DATA/ca/chain.pem
sed -n '1,/-----END CERTIFICATE-----/p' "$chain" >"$WORK/issuer.pem"
i=0
for s in "$good" "$revoked"; do
	openssl ocsp -issuer "$WORK/issuer.pem" -serial "0x$s" -no_nonce -reqout "$WORK/req$i.der" >/dev/null 2>&1
	# GET: base64, URL-encoded, as the rest of the path
	base64 -w0 "$WORK/req$i.der" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g' >"$WORK/get$i.txt"
	i=$((i + 1))
done
cat >"$WORK/post.lua" <<EOF
local function body(n) local f = io.open("$WORK/req" .. n .. ".der", "rb"); local b = f:read("*a"); f:close(); return b end
local h = { ["Content-Type"] = "application/ocsp-request" }
local reqs = { wrk.format("POST", "/ocsp", h, body(0)), wrk.format("POST", "/ocsp", h, body(1)) }
local i = 0
request = function() i = i + 1; return reqs[i % 2 + 1] end
EOF
cat >"$WORK/get.lua" <<EOF
local function path(n) local f = io.open("$WORK/get" .. n .. ".txt", "rb"); local b = f:read("*a"); f:close(); return "/ocsp/" .. b end
local reqs = { wrk.format("GET", path(0)), wrk.format("GET", path(1)) }
local i = 0
request = function() i = i + 1; return reqs[i % 2 + 1] end
EOF

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The store keeps the first public_url it saw: keep one across runs.
url=$(sql "SELECT value FROM deployment WHERE name = 'public_url'" 2>/dev/null || true)
if [ -n "$url" ]; then port=${url##*:}; port=${port%%/*}; else url=http://127.0.0.1:$port; fi
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
printf '%-8s %-5s %-4s %10s %9s %9s %12s  %s\n' run mode build req/s p50 p99 'cpu us/req' load
for run in $(seq 1 "$RUNS"); do
	for b in "${!builds[@]}"; do
		B=${builds[$b]}
		mig=(); [ -d "$B/migrations" ] && mig=(--migrations_dir="$B/migrations")
		"$B/src/httpd/espd" --data_dir="$DATA" "${db[@]}" "${mig[@]}" --http_listen="127.0.0.1:$port" \
			--https_listen= --login_listen= --public_url="$url" --log_requests=false \
			--threads=2 --db_connections=8 "${extra[@]}" 2>"$WORK/espd.log" &
		PID=$!
		for _ in $(seq 200); do curl -fs "$url/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
		for mode in post get; do
			# warm the cache (one signature per certificate), then measure
			wrk -t1 -c2 -d1s -s "$WORK/$mode.lua" "$url" >/dev/null
			hz=$(getconf CLK_TCK)
			c0=$(cpu $PID)
			out=$(wrk -t1 -c16 -d"${SECS}s" --latency -s "$WORK/$mode.lua" "$url")
			c1=$(cpu $PID)
			n=$(echo "$out" | awk '/requests in/ {print $1}')
			rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
			p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
			p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
			non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
			us=$(awk -v a="$c0" -v z="$c1" -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", (z - a) * 1e6 / hz / n}')
			printf '%-8s %-5s %-4s %10s %9s %9s %12s  %s%s\n' "$run" "$mode" "$b" "$rps" "$p50" "$p99" "$us" \
				"$(cut -d' ' -f1-3 /proc/loadavg)" "${non2xx:+  non-2xx $non2xx}"
		done
		kill "$PID"
		wait "$PID" 2>/dev/null || true
		PID=
	done
done
