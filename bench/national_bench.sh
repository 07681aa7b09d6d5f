#!/usr/bin/env bash
# National-scale figures, one run per engine (a benchmark, never a test).
#
# Fills a store the size of a national deployment once (bench/national_fill:
# 1,000,000 registrations over the 31 provinces and their cities, about as
# many applications, 3,000,000 certificates of which 100,000 are revoked),
# then runs bench/national_bench.mjs on it: each page right after a change and
# at 16 clients while registrations keep arriving, registration throughput,
# OCSP, CRL signing, start-up time, RSS and the store's size.
#
# Usage: bench/national_bench.sh [sqlite] [postgresql]      (default: both)
# Environment (defaults): NATIONAL_DIR=/var/tmp/esp-national (kept between
#   runs: a fill takes 5-8 minutes), ESP_BUILD=<repo>/build, SECONDS_EACH=10,
#   REGISTRATIONS=1000000 CERTIFICATES=3000000 REVOKED=100000, ONLY= (the
#   pages whose label contains it, passed on as national_bench.mjs --only),
#   THREADS= (espd's worker threads; empty: 2 on SQLite, espd's default, and
#   8 on PostgreSQL, as docs/deploy.md advises: there each request waits on
#   the store's round trips, and with 2 threads a page of six statements
#   serves a quarter fewer requests and misses p99 < 20 ms).
# PostgreSQL runs in a cluster of its own under NATIONAL_DIR with fsync on
# (durable, as in production) and shared_buffers=2GB, on a free port.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${ESP_BUILD:-$ROOT/build}
DIR=${NATIONAL_DIR:-/var/tmp/esp-national}
SECS=${SECONDS_EACH:-10}
engines=("$@")
[ ${#engines[@]} -eq 0 ] && engines=(sqlite postgresql)
die() { echo "national_bench: $*" >&2; exit 1; }
[ -d "$BUILD" ] || meson setup "$BUILD" "$ROOT" >/dev/null
ninja -C "$BUILD" >/dev/null || die "build failed"
fill_args=(--registrations="${REGISTRATIONS:-1000000}" --certificates="${CERTIFICATES:-3000000}"
	--revoked="${REVOKED:-100000}")
mkdir -p "$DIR"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PGPORT=
cleanup() { [ -n "$PGPORT" ] && run_pg "$PGBIN/pg_ctl" -D "$DIR/pgdata" -m fast stop >/dev/null 2>&1; true; }
trap cleanup EXIT
# PostgreSQL refuses to run as root: its cluster belongs to 'postgres' then.
run_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

for engine in "${engines[@]}"; do
	case $engine in
	sqlite)
		data=$DIR/sqlite db=()
		if [ ! -s "$data/esp.db" ]; then
			mkdir -p "$data"
			"$BUILD/src/cli/espctl" --data_dir="$data" init >/dev/null
			echo "filling $data (SQLite) ..." >&2
			"$BUILD/bench/national_fill" --database="$data/esp.db" "${fill_args[@]}" >&2
		fi
		;;
	postgresql)
		[ -x "$PGBIN/postgres" ] || die "PostgreSQL not installed"
		data=$DIR/pg
		PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		url="postgresql://esp@127.0.0.1:$PGPORT/esp"
		fresh=
		if [ ! -d "$DIR/pgdata" ]; then
			mkdir -p "$DIR/pgdata" && [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR/pgdata"
			run_pg "$PGBIN/initdb" -D "$DIR/pgdata" -U esp --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
			fresh=1
		fi
		run_pg "$PGBIN/pg_ctl" -D "$DIR/pgdata" -l "$DIR/pg.log" -w -o "-p $PGPORT -k /tmp \
			-c listen_addresses=127.0.0.1 -c shared_buffers=2GB -c max_wal_size=8GB \
			-c max_connections=200" start >/dev/null
		db=(--database="$url")
		if [ -n "$fresh" ]; then
			run_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U esp esp
			rm -rf "$data" && mkdir -p "$data"
			"$BUILD/src/cli/espctl" --data_dir="$data" "${db[@]}" init >/dev/null
			echo "filling PostgreSQL ..." >&2
			"$BUILD/bench/national_fill" --database="$url" "${fill_args[@]}" >&2
			psql "$url" -qc "VACUUM ANALYZE" >/dev/null
		fi
		;;
	*) die "unknown engine $engine" ;;
	esac
	# the store's migrations first (a newer build on an older fill)
	"$BUILD/src/cli/espctl" --data_dir="$data" "${db[@]}" init >/dev/null 2>&1 || true
	threads=${THREADS:-}
	[ -z "$threads" ] && { [ "$engine" = postgresql ] && threads=8 || threads=2; }
	echo "== $engine, espd --threads=$threads ($(uptime | sed 's/.*load/load/'))" >&2
	node "$ROOT/bench/national_bench.mjs" --data_dir="$data" "${db[@]}" --build="$BUILD" \
		--seconds="$SECS" --threads="$threads" ${ONLY:+--only="$ONLY"} | tee "$DIR/result-$engine.json"
	if [ "$engine" = postgresql ]; then
		run_pg "$PGBIN/pg_ctl" -D "$DIR/pgdata" -m fast stop >/dev/null
		PGPORT=
	fi
done
