#!/usr/bin/env bash
# Certificate issuance end to end over HTTPS vs CloudFlare's cfssl, the
# CA a user could run instead, in one run (a benchmark, never a test):
# cfssl without a store, and cfssl with its certificate database on SQLite.
#
# Builds what it needs, makes a throw-away data directory (espctl init +
# demo), starts espd with HTTP and HTTPS listeners, and prepares (not
# measured) APPS enterprise applications of SETS keys each, ready to issue,
# plus an API token of the RA officer fj_ra (bench/issue_prepare.mjs), and
# COUNT P-256 CSRs (bench/issue_csrgen).  Then it measures, one after the
# other on the same CPUs:
#   1. `openssl speed ecdsap256` (one process: sign/s), for reference;
#   2. the peer: `cfssl serve` (Debian's golang-cfssl, bench/setup.sh) with a
#      P-256 CA like ESP's, its sign endpoint given the same COUNT CSRs over
#      CONNECTIONS keep-alive connections, once over TLS (-tls-cert, as ESP)
#      and once in plain HTTP; it stores nothing and writes no audit trail;
#   2b. the peer that stores: the same, with `cfssl serve -db-config` and its
#      certdb on SQLite (a fresh file per run, cfssl's own schema from
#      bench/cfssl_certdb_sqlite.sql): each certificate is inserted (one
#      autocommit INSERT, go-sqlite3's default settings) before it is
#      answered; no audit trail; its rows are counted after the run;
#   3. bench/issue_bench: COUNT POST /api/v1/applications/{n}/certificates
#      over CONNECTIONS keep-alive TLS connections, the server certificate
#      verified against ESP's /ca/chain.pem; each certificate stored, with
#      its event and hash-chained audit entry, before it is answered;
#   3b. the same COUNT requests (other applications, other tokens) to espd's
#      plain HTTP listener, as cfssl's plain run: ESP / cfssl without TLS;
#   4. cfssl again, without and with its certdb, over TLS and in plain HTTP
#      (so both peers are measured before and after ESP);
# checks one issued certificate with openssl verify and the number of
# certificates in the store, and prints the figures and the ratios.
#
# Usage: bench/issue_bench.sh
# Environment (defaults): COUNT=10000 SETS=99 CONNECTIONS=8 THREADS=2 PLAIN=1
#   (PLAIN=0 leaves out the plain HTTP runs 3b and 4's second half)
#   SPEED_SECONDS=3 ESP_BUILD=<repo>/build ESP_DATABASE=<empty: SQLite in the
#   temp dir; or a postgresql:// URL of an empty database>
#   PERF=1 records a perf profile of espd (call graphs) during the measured
#   run and prints the top of the report; PERF_OUT=file keeps perf.data.
#   KEEP=1 keeps the temporary directory.
#   CFSSL_DB=1 (default) also measures cfssl with its certdb; 0 leaves that
#   peer out (under heavy load its SQLite answered "database is locked" and
#   the run failed; the figures of the no-store peer do not depend on it).
#   CFSSL_DB_PARAMS=<empty: go-sqlite3's defaults, as cfssl ships> query
#   parameters of cfssl's certdb data_source, e.g.
#   '_journal_mode=WAL&_synchronous=NORMAL' for ESP's sqlite_synchronous=normal.
#   ESP_SYNC=full (default, espd's) or normal: espd's sqlite_synchronous.
#   SYNCS=1 (default when perf is installed) counts each server's fsync and
#   fdatasync calls during each measured run (perf stat on the syscall
#   tracepoints of that process only), printed per certificate.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${ESP_BUILD:-$ROOT/build}
COUNT=${COUNT:-10000}
SETS=${SETS:-99}
CONNECTIONS=${CONNECTIONS:-8}
THREADS=${THREADS:-2}
SPEED_SECONDS=${SPEED_SECONDS:-3}
PERF=${PERF:-0}
KEEP=${KEEP:-0}
PLAIN=${PLAIN:-1}
SYNCS=${SYNCS:-1}
CFSSL_DB_PARAMS=${CFSSL_DB_PARAMS:-}
CFSSL_DB=${CFSSL_DB:-1}
command -v perf >/dev/null || SYNCS=0
APPS=$(((COUNT + SETS - 1) / SETS))

die() { echo "issue_bench: $*" >&2; exit 1; }
for tool in curl node openssl sqlite3 cfssl; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" "$ROOT" >/dev/null
fi
# Only the targets used here: the rest of the tree may be mid-edit.
ninja -C "$BUILD" src/httpd/espd src/cli/espctl bench/issue_bench bench/issue_csrgen bench/ca_bench >/dev/null ||
	die "build failed"
ESPD=$BUILD/src/httpd/espd
ESPCTL=$BUILD/src/cli/espctl
CLIENT=$BUILD/bench/issue_bench
CSRGEN=$BUILD/bench/issue_csrgen
CABENCH=$BUILD/bench/ca_bench

TMP=$(mktemp -d "${TMPDIR:-/tmp}/esp-issue-XXXXXX")
ESPD_PID=
CSRGEN_PID=
CFSSL_PID=
# Each line goes on whatever the last command says: under set -e a killed
# CSR generator's wait status ended the clean-up before espd was stopped.
cleanup() {
	[ -n "$CSRGEN_PID" ] && kill "$CSRGEN_PID" 2>/dev/null && wait "$CSRGEN_PID" 2>/dev/null || true
	[ -n "$SYNCS_PID" ] && kill -INT "$SYNCS_PID" 2>/dev/null && wait "$SYNCS_PID" 2>/dev/null || true
	[ -n "$CFSSL_PID" ] && kill "$CFSSL_PID" 2>/dev/null && wait "$CFSSL_PID" 2>/dev/null || true
	[ -n "$ESPD_PID" ] && kill "$ESPD_PID" 2>/dev/null && wait "$ESPD_PID" 2>/dev/null || true
	if [ "$KEEP" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# fsync + fdatasync calls of one process while it is measured: syncs_start
# PID NAME, then syncs_stop NAME N sets SYNCS_PER (calls per certificate,
# "-" when not counted).
SYNCS_PID=
syncs_start() {
	[ "$SYNCS" = 1 ] || return 0
	perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -p "$1" \
		-o "$TMP/syncs-$2.txt" 2>/dev/null &
	SYNCS_PID=$!
	sleep 0.3 # attached before the first request
}
syncs_stop() {
	SYNCS_PER=-
	[ "$SYNCS" = 1 ] && [ -n "$SYNCS_PID" ] || return 0
	kill -INT "$SYNCS_PID" 2>/dev/null || true
	wait "$SYNCS_PID" 2>/dev/null || true
	SYNCS_PID=
	SYNCS_PER=$(awk -F, -v n="$2" '$3 ~ /sys_enter_f/ { c += $1; seen = 1 }
		END { if (!seen || !n) print "-"; else printf "%.2f", c / n }' "$TMP/syncs-$1.txt" 2>/dev/null || echo -)
}

# The committer's batches so far (espd's /metrics, group commit): "jobs
# batches max"; "- - -" when espd has none (issue_group_commit = off, or a
# build before it).
batch_snapshot() {
	curl -fs "$ESP_URL/metrics" 2>/dev/null | awk '
		/^esp_issue_batch_size_sum / { j = $2 } /^esp_issue_batch_size_count / { b = $2 }
		/^esp_issue_batch_size_max / { m = $2 }
		END { if (b == "") print "- - -"; else print j, b, m }'
}
# Issuances per COMMIT between two snapshots: "mean (max M)" or "-".
batch_mean() {
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
		if (x[1] == "-" || y[2] == x[2]) { print "-"; exit }
		printf "%.1f (max so far %s, %d commits)", (y[1] - x[1]) / (y[2] - x[2]), y[3], y[2] - x[2] }'
}

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# ---- the CSRs (in the background, while the store is prepared) ----
"$CSRGEN" "$COUNT" "$TMP/csrs.txt" &
CSRGEN_PID=$!

# ---- the store and espd ----
DB=${ESP_DATABASE:-$TMP/esp.db}
ctl() { "$ESPCTL" --data_dir="$TMP" --database="$DB" --password_hash=min "$@"; }
ctl init >/dev/null
ctl demo >/dev/null
ctl directory load "$ROOT/scripts/demo-ra-directory.csv" >/dev/null
STORE=SQLite
[ -n "${ESP_DATABASE:-}" ] && STORE=PostgreSQL

HTTP_PORT=$(free_port)
HTTPS_PORT=$(free_port)
ESP_URL=http://127.0.0.1:$HTTP_PORT
# --password_hash=min only makes the preparation's logins cheap: issuance
# hashes no password (the API token is looked up by its SHA-256). The
# preparation registers every applicant from one address, more than the
# registrations_per_address_hour limit lets one address register.
"$ESPD" --data_dir="$TMP" --database="$DB" --http_listen="127.0.0.1:$HTTP_PORT" \
	--https_listen="127.0.0.1:$HTTPS_PORT" --login_listen= --public_url="$ESP_URL" \
	--staff_password_login=true --log_requests=false --password_hash=min \
	--registrations_per_address_hour=0 --login_checks_per_second=0 \
	--threads="$THREADS" --sqlite_synchronous="${ESP_SYNC:-full}" >"$TMP/espd.log" 2>&1 &
ESPD_PID=$!
for _ in $(seq 1 200); do
	curl -fs -o /dev/null "$ESP_URL/healthz" && break
	kill -0 "$ESPD_PID" 2>/dev/null || { cat "$TMP/espd.log" >&2; die "espd exited"; }
	sleep 0.05
done
curl -fs -o "$TMP/chain.pem" "$ESP_URL/ca/chain.pem" || die "no /ca/chain.pem"
# The HTTPS listener answers and its certificate chains to ESP's CA.
curl -fs --cacert "$TMP/chain.pem" -o /dev/null "https://127.0.0.1:$HTTPS_PORT/healthz" ||
	die "HTTPS listener not reachable or not verifiable with /ca/chain.pem"

# ---- preparation (not measured) ----
prep_start=$(date +%s)
# Twice the applications with PLAIN=1: the first APPS for HTTPS, the rest
# for plain HTTP (a certificate per token and set, whatever the listener).
PREP_APPS=$APPS
[ "$PLAIN" = 1 ] && PREP_APPS=$((2 * APPS))
TOKEN=$(node "$ROOT/bench/issue_prepare.mjs" "$ESP_URL" "$TMP/demo-accounts.tsv" "$PREP_APPS" "$SETS" \
	"$TMP/apps-all.txt") || die "preparation failed"
[ "$(wc -l <"$TMP/apps-all.txt")" -eq "$PREP_APPS" ] || die "not $PREP_APPS applications prepared"
head -n "$APPS" "$TMP/apps-all.txt" >"$TMP/apps.txt"
tail -n +"$((APPS + 1))" "$TMP/apps-all.txt" >"$TMP/apps-plain.txt"
wait "$CSRGEN_PID" || die "CSR generation failed"
CSRGEN_PID=
[ "$(wc -l <"$TMP/csrs.txt")" -eq "$COUNT" ] || die "not $COUNT CSRs"
PREP_SECONDS=$(($(date +%s) - prep_start))
sql() { # the store, directly (a check of the figures, not part of the measure)
	if [ "$STORE" = SQLite ]; then sqlite3 "$DB" "$1"; else psql "$DB" -At -c "$1"; fi
}

# ---- 1. OpenSSL's raw signing rate, on this machine, now ----
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
openssl speed -seconds "$SPEED_SECONDS" ecdsap256 >"$TMP/speed.txt" 2>"$TMP/speed.err" ||
	{ cat "$TMP/speed.err" >&2; die "openssl speed failed"; }
# " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  41234.5  13456.7": sign/s, verify/s
SIGN_RATE=$(awk '/bits ecdsa \(nistp256\)/ { v = $(NF - 1) } END { print v }' "$TMP/speed.txt")
VERIFY_RATE=$(awk '/bits ecdsa \(nistp256\)/ { v = $NF } END { print v }' "$TMP/speed.txt")
[ -n "$SIGN_RATE" ] || { cat "$TMP/speed.txt" >&2; die "cannot read sign/s from openssl speed"; }

# ---- the peer: cfssl serve with a P-256 CA (ESP's issuing CA is P-256) ----
mkdir -p "$TMP/cfssl"
(
	cd "$TMP/cfssl"
	openssl ecparam -name prime256v1 -genkey -noout -out ca-key.pem
	openssl req -new -x509 -key ca-key.pem -out ca.pem -days 3650 -subj "/CN=cfssl bench CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
	# The TLS server certificate of cfssl serve, for 127.0.0.1, from that CA.
	openssl ecparam -name prime256v1 -genkey -noout -out tls-key.pem
	openssl req -new -key tls-key.pem -subj "/CN=127.0.0.1" -out tls.csr
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >tls.ext
	openssl x509 -req -in tls.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
		-extfile tls.ext -out tls.pem
	# A client certificate profile like ESP's: digital signature, client auth.
	echo '{"signing":{"default":{"usages":["digital signature","client auth"],"expiry":"8760h"}}}' >config.json
) >"$TMP/cfssl/setup.log" 2>&1 || { cat "$TMP/cfssl/setup.log" >&2; die "cfssl CA set-up failed"; }
# Runs cfssl serve (TLS when $1 = tls; with its certdb on SQLite when $2 =
# db), measures COUNT signatures, stops it. Sets CF_RESULT, CF_CPU_US
# (cfssl's CPU per certificate) and, with db, CF_STORED (rows in its
# certificates table after the run) and CF_JOURNAL (the file's journal mode).
CF_DB_RUNS=0
cfssl_run() {
	if [ "${2:-}" = db ] && [ "$CFSSL_DB" != 1 ]; then
		CF_RESULT="RESULT created=0 errors=0 cps=0 p50_ms=- p99_ms=-"
		CF_CPU_US=- CF_SYNCS=- CF_STORED=0 CF_JOURNAL=-
		return 0
	fi
	local port tlsargs=() clientargs=(--plain) dbargs=() dbfile=
	local tag=$1
	port=$(free_port)
	if [ "$1" = tls ]; then
		tlsargs=(-tls-cert "$TMP/cfssl/tls.pem" -tls-key "$TMP/cfssl/tls-key.pem")
		clientargs=(--cafile="$TMP/cfssl/ca.pem")
	fi
	if [ "${2:-}" = db ]; then
		CF_DB_RUNS=$((CF_DB_RUNS + 1))
		tag=$1-db$CF_DB_RUNS
		# A fresh database per run, on the same file system as ESP's store.
		dbfile=$TMP/cfssl/certs-$CF_DB_RUNS.db
		sqlite3 "$dbfile" <"$ROOT/bench/cfssl_certdb_sqlite.sql" || die "cannot create cfssl's certdb"
		local source=$dbfile
		[ -n "$CFSSL_DB_PARAMS" ] && source="file:$dbfile?$CFSSL_DB_PARAMS"
		printf '{"driver":"sqlite3","data_source":"%s"}\n' "$source" >"$TMP/cfssl/db-$CF_DB_RUNS.json"
		dbargs=(-db-config "$TMP/cfssl/db-$CF_DB_RUNS.json")
	fi
	cfssl serve -address 127.0.0.1 -port "$port" -ca "$TMP/cfssl/ca.pem" -ca-key "$TMP/cfssl/ca-key.pem" \
		-config "$TMP/cfssl/config.json" "${tlsargs[@]}" "${dbargs[@]}" >>"$TMP/cfssl/serve.log" 2>&1 &
	CFSSL_PID=$!
	local scheme=http
	[ "$1" = tls ] && scheme=https
	for _ in $(seq 1 200); do
		curl -s -o /dev/null --cacert "$TMP/cfssl/ca.pem" "$scheme://127.0.0.1:$port/api/v1/cfssl/sign" && break
		kill -0 "$CFSSL_PID" 2>/dev/null || { tail "$TMP/cfssl/serve.log" >&2; die "cfssl serve exited"; }
		sleep 0.05
	done
	local before after
	syncs_start "$CFSSL_PID" "cfssl-$tag"
	before=$(awk '{ print $14 + $15 }' "/proc/$CFSSL_PID/stat")
	"$CLIENT" --cfssl "${clientargs[@]}" --host=127.0.0.1 --port="$port" --csrs="$TMP/csrs.txt" \
		--count="$COUNT" --connections="$CONNECTIONS" --sample="$TMP/cfssl/sample-$tag.pem" \
		>"$TMP/cfssl/client-$tag.txt" 2>"$TMP/cfssl/client-$tag.err" ||
		{ cat "$TMP/cfssl/client-$tag.err" "$TMP/cfssl/client-$tag.txt" >&2; die "cfssl run ($tag) failed"; }
	after=$(awk '{ print $14 + $15 }' "/proc/$CFSSL_PID/stat")
	syncs_stop "cfssl-$tag" "$(sed -n 's/.* created=\([^ ]*\).*/\1/p' "$TMP/cfssl/client-$tag.txt")"
	CF_SYNCS=$SYNCS_PER
	kill "$CFSSL_PID"
	wait "$CFSSL_PID" 2>/dev/null || true
	CFSSL_PID=
	CF_RESULT=$(grep '^RESULT ' "$TMP/cfssl/client-$tag.txt")
	CF_STORED=
	CF_JOURNAL=
	if [ -n "$dbfile" ]; then
		# Counted after cfssl has stopped: what is in the file, not in a cache.
		CF_STORED=$(sqlite3 "$dbfile" "SELECT COUNT(*) FROM certificates")
		CF_JOURNAL=$(sqlite3 "$dbfile" "PRAGMA journal_mode")
	fi
	local n
	n=$(sed -n 's/.* created=\([^ ]*\).*/\1/p' <<<"$CF_RESULT")
	CF_CPU_US=$(awk -v a="$before" -v b="$after" -v t="$(getconf CLK_TCK)" -v n="$n" \
		'BEGIN { printf "%.0f", n ? 1e6 * (b - a) / t / n : 0 }')
}
rfield() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
cfssl_run tls
CF1=$CF_RESULT
CF1_CPU=$CF_CPU_US
CF1_SYNCS=$CF_SYNCS
cfssl_run plain
CFP=$CF_RESULT
CFP_CPU=$CF_CPU_US
# ---- 2b. the peer that stores: cfssl with its certdb on SQLite ----
cfssl_run tls db
CD1=$CF_RESULT
CD1_CPU=$CF_CPU_US
CD1_SYNCS=$CF_SYNCS
CD1_STORED=$CF_STORED
CD_JOURNAL=$CF_JOURNAL
cfssl_run plain db
CDP=$CF_RESULT
CDP_CPU=$CF_CPU_US
CDP_SYNCS=$CF_SYNCS
CDP_STORED=$CF_STORED

# ---- 1b. ESP's CA work alone (one thread): the ceiling of any issuance ----
# Every certificate needs ca_csr_parse (with the CSR's signature verified)
# and ca_issue_csr; this is their cost with nothing else around them.
CA_RESULT=$("$CABENCH" "$TMP/ca" "$TMP/csrs.txt") || die "ca_bench failed"
ca_field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$CA_RESULT"; }
CA_RATE=$(ca_field per_second)
CA_PARSE=$(ca_field parse_us)
CA_ISSUE=$(ca_field issue_us)

# ---- 2. issuance over HTTPS ----
if [ "$PERF" = 1 ]; then
	command -v perf >/dev/null || die "perf not found"
	PERF_DATA=${PERF_OUT:-$TMP/perf.data}
	# The libraries have no frame pointers: DWARF unwinding at a modest rate.
	perf record -q --call-graph dwarf,8192 -F 299 -p "$ESPD_PID" -o "$PERF_DATA" 2>"$TMP/perf.err" &
	PERF_PID=$!
	sleep 1
fi
syncs_start "$ESPD_PID" esp
BATCH_A=$(batch_snapshot)
ESPD_CPU_BEFORE=$(awk '{ print $14 + $15 }' "/proc/$ESPD_PID/stat")
TIMER=()
[ -x /usr/bin/time ] && TIMER=(/usr/bin/time -f '%U %S' -o "$TMP/client.time")
set +e
"${TIMER[@]}" "$CLIENT" --host=127.0.0.1 --port="$HTTPS_PORT" --cafile="$TMP/chain.pem" --token="$TOKEN" \
	--apps="$TMP/apps.txt" --csrs="$TMP/csrs.txt" --count="$COUNT" --connections="$CONNECTIONS" \
	--sets="$SETS" --prefix="BENCH-$$" --sample="$TMP/sample.pem" >"$TMP/client.txt" 2>"$TMP/client.err"
client_rc=$?
set -e
ESPD_CPU_AFTER=$(awk '{ print $14 + $15 }' "/proc/$ESPD_PID/stat")
BATCH_B=$(batch_snapshot)
ESP_BATCH=$(batch_mean "$BATCH_A" "$BATCH_B")
ESP_PLAIN_BATCH=-
syncs_stop esp "$(sed -n 's/.* created=\([^ ]*\).*/\1/p' "$TMP/client.txt")"
ESP_SYNCS=$SYNCS_PER
ESP_PLAIN_SYNCS=-
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$PERF" = 1 ]; then
	kill -INT "$PERF_PID"
	wait "$PERF_PID" || true
fi
cat "$TMP/client.err" >&2
# ---- 3b. issuance over plain HTTP (espd's HTTP listener) ----
PRESULT="RESULT created=0 errors=0 cps=0 p50_ms= p99_ms="
P_CPU_US=0
pclient_rc=0
if [ "$PLAIN" = 1 ]; then
	syncs_start "$ESPD_PID" esp-plain
	before=$(awk '{ print $14 + $15 }' "/proc/$ESPD_PID/stat")
	set +e
	"$CLIENT" --plain --host=127.0.0.1 --port="$HTTP_PORT" --token="$TOKEN" \
		--apps="$TMP/apps-plain.txt" --csrs="$TMP/csrs.txt" --count="$COUNT" --connections="$CONNECTIONS" \
		--sets="$SETS" --prefix="BENCHP-$$" >"$TMP/pclient.txt" 2>"$TMP/pclient.err"
	pclient_rc=$?
	set -e
	after=$(awk '{ print $14 + $15 }' "/proc/$ESPD_PID/stat")
	cat "$TMP/pclient.err" >&2
	ESP_PLAIN_BATCH=$(batch_mean "$BATCH_B" "$(batch_snapshot)")
	PRESULT=$(grep '^RESULT ' "$TMP/pclient.txt") || { cat "$TMP/pclient.txt" >&2; die "no RESULT from the plain client"; }
	syncs_stop esp-plain "$(rfield "$PRESULT" created)"
	ESP_PLAIN_SYNCS=$SYNCS_PER
	P_CPU_US=$(awk -v a="$before" -v b="$after" -v t="$(getconf CLK_TCK)" -v n="$(rfield "$PRESULT" created)" \
		'BEGIN { printf "%.0f", n ? 1e6 * (b - a) / t / n : 0 }')
fi
# ---- 4. the peer again, after ESP ----
cfssl_run tls
CF2=$CF_RESULT
CF2_CPU=$CF_CPU_US
CF2_SYNCS=$CF_SYNCS
CFP2=$CFP
CFP2_CPU=$CFP_CPU
if [ "$PLAIN" = 1 ]; then
	cfssl_run plain
	CFP2=$CF_RESULT
	CFP2_CPU=$CF_CPU_US
fi
cfssl_run tls db
CD2=$CF_RESULT
CD2_CPU=$CF_CPU_US
CD2_SYNCS=$CF_SYNCS
CD2_STORED=$CF_STORED
CDP2=$CDP
CDP2_CPU=$CDP_CPU
CDP2_SYNCS=$CDP_SYNCS
CDP2_STORED=$CDP_STORED
if [ "$PLAIN" = 1 ]; then
	cfssl_run plain db
	CDP2=$CF_RESULT
	CDP2_CPU=$CF_CPU_US
	CDP2_SYNCS=$CF_SYNCS
	CDP2_STORED=$CF_STORED
fi
RESULT=$(grep '^RESULT ' "$TMP/client.txt") || { cat "$TMP/client.txt" >&2; die "no RESULT from the client"; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$RESULT"; }
CREATED=$(field created)
ERRS=$(field errors)
SECS=$(field seconds)
CPS=$(field cps)
P50=$(field p50_ms)
P99=$(field p99_ms)

# ---- checks ----
STORED=$(sql "SELECT COUNT(*) FROM certificates WHERE token_serial LIKE 'BENCH-$$-%'")
PSTORED=$(sql "SELECT COUNT(*) FROM certificates WHERE token_serial LIKE 'BENCHP-$$-%'")
VERIFY="no certificate to check"
if [ -s "$TMP/sample.pem" ]; then
	awk '/BEGIN CERT/ { n++ } n == 1' "$TMP/chain.pem" >"$TMP/issuing.pem"
	awk '/BEGIN CERT/ { n++ } n == 2' "$TMP/chain.pem" >"$TMP/root.pem"
	VERIFY=$(openssl verify -x509_strict -purpose sslclient -CAfile "$TMP/root.pem" \
		-untrusted "$TMP/issuing.pem" "$TMP/sample.pem" 2>&1 | tail -n1 | sed "s|$TMP/||")
fi

# ---- report ----
CLK_TCK=$(getconf CLK_TCK)
ESPD_CPU=$(awk -v a="$ESPD_CPU_BEFORE" -v b="$ESPD_CPU_AFTER" -v t="$CLK_TCK" -v s="$SECS" \
	-v n="$CREATED" 'BEGIN { c = (b - a) / t; printf "%.2f s of CPU, %.2f CPUs, %.0f µs per certificate", c, c / s, n ? 1e6 * c / n : 0 }')
CLIENT_CPU="not measured (no /usr/bin/time)"
[ -s "$TMP/client.time" ] && CLIENT_CPU=$(awk -v s="$SECS" 'END { c = $1 + $2; printf "%.2f s of CPU, %.2f CPUs", c, c / s }' "$TMP/client.time")
RATIO=$(awk -v a="$CPS" -v b="$SIGN_RATE" 'BEGIN { printf "%.1f", 100 * a / b }')
CPSOK=$(awk -v a="$CPS" 'BEGIN { print (a >= 1000) ? "met" : "NOT met" }')
CF_TLS=$(awk -v a="$(rfield "$CF1" cps)" -v b="$(rfield "$CF2" cps)" 'BEGIN { printf "%.1f", (a + b) / 2 }')
CF_RATIO=$(awk -v a="$CPS" -v b="$CF_TLS" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
CF_PLAIN=$(awk -v a="$(rfield "$CFP" cps)" -v b="$(rfield "$CFP2" cps)" 'BEGIN { printf "%.1f", (a + b) / 2 }')
CFP_RATIO=$(awk -v a="$CPS" -v b="$CF_PLAIN" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
CD_TLS=$(awk -v a="$(rfield "$CD1" cps)" -v b="$(rfield "$CD2" cps)" 'BEGIN { printf "%.1f", (a + b) / 2 }')
CD_RATIO=$(awk -v a="$CPS" -v b="$CD_TLS" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
CD_PLAIN=$(awk -v a="$(rfield "$CDP" cps)" -v b="$(rfield "$CDP2" cps)" 'BEGIN { printf "%.1f", (a + b) / 2 }')
PCPS=$(rfield "$PRESULT" cps)
CD_PLAIN_RATIO=$(awk -v a="$PCPS" -v b="$CD_PLAIN" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
PLAIN_RATIO=$(awk -v a="$PCPS" -v b="$CF_PLAIN" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
CF_OK=$(awk -v r="$CF_RATIO" 'BEGIN { print (r >= 1.0) ? "met" : "NOT met" }')
ESP_CPU_US=$(awk -v a="$ESPD_CPU_BEFORE" -v b="$ESPD_CPU_AFTER" -v t="$(getconf CLK_TCK)" -v n="$CREATED" \
	'BEGIN { printf "%.0f", n ? 1e6 * (b - a) / t / n : 0 }')
CA_CEIL=$(awk -v r="$CA_RATE" -v n="$(nproc)" 'BEGIN { printf "%.0f", r * n }')
CA_CEIL_RATIO=$(awk -v c="$CA_CEIL" -v b="$SIGN_RATE" 'BEGIN { printf "%.1f", 100 * c / b }')
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_GIB=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
TLS=$(sed -n 's/^requests: .*connections (\(.*\)), .*/\1/p' "$TMP/client.txt")
row() { printf '| %-52s | %12s | %9s | %9s | %6s |\n' "$@"; }

cat <<REPORT
Certificate issuance over HTTPS vs openssl speed ecdsap256
  date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs ($CPU_MODEL), $MEM_GIB GiB, $(uname -sr)
  $(openssl version); load average before / after: $LOAD_BEFORE / $LOAD_AFTER
  store: $STORE; espd --threads=$THREADS; client: $CONNECTIONS keep-alive connections ($TLS)
  prepared (not measured, ${PREP_SECONDS}s): $PREP_APPS enterprise applications x $SETS keys, $COUNT P-256 CSRs
  espd during the run: $ESPD_CPU
  load client (same CPUs): $CLIENT_CPU

$(row 'what' 'per second' 'p50 (ms)' 'p99 (ms)' 'errors')
|------------------------------------------------------|-------------:|----------:|----------:|-------:|
$(row "cfssl serve sign, TLS (before ESP), cpu ${CF1_CPU} µs" "$(rfield "$CF1" cps)" "$(rfield "$CF1" p50_ms)" "$(rfield "$CF1" p99_ms)" "$(rfield "$CF1" errors)")
$(row "cfssl serve sign, plain HTTP, cpu ${CFP_CPU} µs" "$(rfield "$CFP" cps)" "$(rfield "$CFP" p50_ms)" "$(rfield "$CFP" p99_ms)" "$(rfield "$CFP" errors)")
$(row "espd: POST .../certificates, HTTPS, cpu ${ESP_CPU_US} µs" "$CPS" "$P50" "$P99" "$ERRS")
$(row "espd: the same, plain HTTP, cpu ${P_CPU_US} µs" "$PCPS" "$(rfield "$PRESULT" p50_ms)" "$(rfield "$PRESULT" p99_ms)" "$(rfield "$PRESULT" errors)")
$(row "cfssl serve sign, TLS (after ESP), cpu ${CF2_CPU} µs" "$(rfield "$CF2" cps)" "$(rfield "$CF2" p50_ms)" "$(rfield "$CF2" p99_ms)" "$(rfield "$CF2" errors)")
$(row "cfssl serve sign, plain HTTP (after ESP), cpu ${CFP2_CPU} µs" "$(rfield "$CFP2" cps)" "$(rfield "$CFP2" p50_ms)" "$(rfield "$CFP2" p99_ms)" "$(rfield "$CFP2" errors)")
$(row "cfssl+certdb sign, TLS (before ESP), cpu ${CD1_CPU} µs" "$(rfield "$CD1" cps)" "$(rfield "$CD1" p50_ms)" "$(rfield "$CD1" p99_ms)" "$(rfield "$CD1" errors)")
$(row "cfssl+certdb sign, plain HTTP (before), cpu ${CDP_CPU} µs" "$(rfield "$CDP" cps)" "$(rfield "$CDP" p50_ms)" "$(rfield "$CDP" p99_ms)" "$(rfield "$CDP" errors)")
$(row "cfssl+certdb sign, TLS (after ESP), cpu ${CD2_CPU} µs" "$(rfield "$CD2" cps)" "$(rfield "$CD2" p50_ms)" "$(rfield "$CD2" p99_ms)" "$(rfield "$CD2" errors)")
$(row "cfssl+certdb sign, plain HTTP (after), cpu ${CDP2_CPU} µs" "$(rfield "$CDP2" cps)" "$(rfield "$CDP2" p50_ms)" "$(rfield "$CDP2" p99_ms)" "$(rfield "$CDP2" errors)")
$(row 'openssl speed ecdsap256: sign/s (1 process)' "$SIGN_RATE" '' '' '')
$(row "ESP's CA alone: certificates per CPU second" "$CA_RATE" '' '' '')

ESP / cfssl over TLS (mean of before and after, $CF_TLS/s): ${CF_RATIO}x   target >= 1.0x: $CF_OK
ESP / cfssl, both in plain HTTP (cfssl: mean of before and after, $CF_PLAIN/s): ${PLAIN_RATIO}x
ESP over HTTPS / cfssl in plain HTTP: ${CFP_RATIO}x   (cfssl stores nothing; ESP stores and audits every certificate)
ESP / cfssl+certdb over TLS (mean of before and after, $CD_TLS/s): ${CD_RATIO}x
ESP / cfssl+certdb, both in plain HTTP (mean of before and after, $CD_PLAIN/s): ${CD_PLAIN_RATIO}x
  cfssl+certdb: rows in its certificates table / 200 answers: TLS $CD1_STORED/$(rfield "$CD1" created), $CD2_STORED/$(rfield "$CD2" created); plain $CDP_STORED/$(rfield "$CDP" created), $CDP2_STORED/$(rfield "$CDP2" created)
  durability: cfssl's certdb journal_mode=$CD_JOURNAL (read from the file after the run), $([ -n "$CFSSL_DB_PARAMS" ] && echo "data_source parameters $CFSSL_DB_PARAMS" || echo "synchronous=NORMAL (go-sqlite3's default; cfssl sets none)");
  ESP's store ($STORE): $([ "$STORE" = SQLite ] && echo "journal_mode=WAL, sqlite_synchronous=${ESP_SYNC:-full}" || echo 'PostgreSQL, its own settings')
  fsync+fdatasync calls per certificate (perf stat, each server's own; - not counted): espd HTTPS $ESP_SYNCS,
  plain $ESP_PLAIN_SYNCS; issuances per COMMIT (espd's /metrics, group commit): HTTPS $ESP_BATCH, plain $ESP_PLAIN_BATCH;
  cfssl+certdb TLS $CD1_SYNCS / $CD2_SYNCS, plain $CDP_SYNCS / $CDP2_SYNCS; cfssl no store TLS $CF1_SYNCS / $CF2_SYNCS
201 Created: $CREATED of $COUNT in $SECS s; certificates added to the store: $STORED
plain HTTP: 201 Created: $(rfield "$PRESULT" created) in $(rfield "$PRESULT" seconds) s; certificates added to the store: $PSTORED
sample certificate: $VERIFY
certificates/s / openssl sign/s: $RATIO %   (openssl verify/s: $VERIFY_RATE)
ESP's CA alone, per certificate: $CA_PARSE µs to parse and verify the CSR, $CA_ISSUE µs to build and
  sign; on all $(nproc) CPUs at most $CA_CEIL certificates/s = $CA_CEIL_RATIO % of the raw rate, before any TLS, HTTP or store work
target >= 1,000 certificates/s: $CPSOK
REPORT
echo "SUMMARY esp=$CPS esp_plain=$PCPS cfssl_tls=$CF_TLS cfssl_plain=$CF_PLAIN ratio_tls=$CF_RATIO ratio_plain=$PLAIN_RATIO ratio_https_vs_cfssl_plain=$CFP_RATIO cfssl_db_tls=$CD_TLS cfssl_db_plain=$CD_PLAIN ratio_db_tls=$CD_RATIO ratio_db_plain=$CD_PLAIN_RATIO cfssl_db_tls_cpu_us=$CD1_CPU,$CD2_CPU cfssl_db_plain_cpu_us=$CDP_CPU,$CDP2_CPU load=$LOAD_BEFORE/$LOAD_AFTER esp_cpu_us=$ESP_CPU_US esp_plain_cpu_us=$P_CPU_US esp_syncs=$ESP_SYNCS esp_plain_syncs=$ESP_PLAIN_SYNCS esp_batch=${ESP_BATCH%% *} esp_plain_batch=${ESP_PLAIN_BATCH%% *} connections=$CONNECTIONS cfssl_tls_cpu_us=$CF1_CPU,$CF2_CPU cfssl_plain_cpu_us=$CFP_CPU,$CFP2_CPU"


if [ "$PERF" = 1 ]; then
	echo
	echo "perf: espd during the measured run, inclusive (children) >= 1.5 %"
	perf report -i "$PERF_DATA" --stdio --children --sort sym -g none --percent-limit 1.5 \
		2>/dev/null | grep -E '^ +[0-9]' | head -n 70
	[ -n "${PERF_OUT:-}" ] && echo "perf data kept in $PERF_OUT"
fi
for pair in "$CD1_STORED:$(rfield "$CD1" created)" "$CD2_STORED:$(rfield "$CD2" created)" \
	"$CDP_STORED:$(rfield "$CDP" created)" "$CDP2_STORED:$(rfield "$CDP2" created)"; do
	[ "${pair%%:*}" = "${pair#*:}" ] || die "cfssl+certdb: ${pair%%:*} rows stored for ${pair#*:} answers"
done
[ "$client_rc" = 0 ] && [ "$STORED" = "$CREATED" ] || die "errors during the run (client exit $client_rc, $STORED stored)"
[ "$pclient_rc" = 0 ] && [ "$PSTORED" = "$(rfield "$PRESULT" created)" ] ||
	die "errors during the plain HTTP run (client exit $pclient_rc, $PSTORED stored)"
exit 0
