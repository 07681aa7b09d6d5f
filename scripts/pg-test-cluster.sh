#!/bin/sh
# A throwaway PostgreSQL 15 cluster for tests.
#
#   pg-test-cluster.sh start DIR         create (first time) and start a cluster in DIR;
#                                        prints postgresql://esptest@127.0.0.1:PORT/esp_test
#   pg-test-cluster.sh newdb DIR NAME    (re)create an empty database NAME; prints its URI
#   pg-test-cluster.sh createdb DIR NAME same as newdb
#   pg-test-cluster.sh uri DIR [NAME]    prints the URI of a database (default esp_test)
#   pg-test-cluster.sh stop DIR          stop the cluster (DIR can then be removed)
#
# The cluster listens on 127.0.0.1 only, on a free port, with trust
# authentication and fsync off: for tests, never for data that matters.  Run
# as root, the server runs as the unprivileged system user "esptest" (created
# when missing), since PostgreSQL refuses to run as root.  Messages go to
# stderr; stdout carries only the URI.
set -eu

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGUSER_NAME=esptest
DEFAULT_DB=esp_test
# Keep server NOTICEs ("does not exist, skipping") out of the test output.
PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
export PGOPTIONS

die() {
	echo "pg-test-cluster: $*" >&2
	exit 1
}

usage() {
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

need_binaries() {
	for b in initdb pg_ctl postgres createdb dropdb pg_isready; do
		[ -x "$PGBIN/$b" ] ||
			die "$PGBIN/$b not found: install PostgreSQL 15 (apt-get install postgresql-15)"
	done
}

# Run a command as the cluster owner (from /, which it can always enter).
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		cd /
		if command -v runuser >/dev/null 2>&1; then
			runuser -u "$PGUSER_NAME" -- "$@"
		elif command -v setpriv >/dev/null 2>&1; then
			setpriv --reuid="$PGUSER_NAME" --regid="$PGUSER_NAME" --init-groups -- "$@"
		else
			die "running as root needs runuser or setpriv (util-linux)"
		fi
	else
		"$@"
	fi
}

ensure_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	id -u "$PGUSER_NAME" >/dev/null 2>&1 && return 0
	command -v useradd >/dev/null 2>&1 || die "useradd not found; cannot create user $PGUSER_NAME"
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$PGUSER_NAME" ||
		id -u "$PGUSER_NAME" >/dev/null 2>&1 || die "cannot create user $PGUSER_NAME"
}

free_port() {
	port=
	if command -v python3 >/dev/null 2>&1; then
		port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null) || port=
	fi
	if [ -z "$port" ]; then
		command -v ss >/dev/null 2>&1 || die "need python3 or ss to find a free port"
		i=0
		while [ $i -lt 200 ]; do
			p=$(( ($$ * 7919 + i * 104729 + $(date +%N | sed 's/^0*//;s/^$/0/')) % 30000 + 20000 ))
			if ! ss -Htln "sport = :$p" | grep -q .; then
				port=$p
				break
			fi
			i=$((i + 1))
		done
		[ -n "$port" ] || die "no free port found"
	fi
	echo "$port"
}

check_name() {
	case $1 in
	'' | [!a-z_]* | *[!a-z0-9_]*) die "database name must match [a-z_][a-z0-9_]*: '$1'" ;;
	esac
	[ ${#1} -le 63 ] || die "database name longer than 63 characters: '$1'"
}

absdir() {
	[ -n "${1:-}" ] || usage
	mkdir -p "$1" || die "cannot create $1"
	(cd "$1" && pwd -P)
}

# Sets DIR, DATA, PORT for an existing cluster directory.
load_cluster() {
	DIR=$(absdir "$1")
	DATA=$DIR/data
	[ -f "$DIR/port" ] || die "no cluster in $DIR (run: $0 start $DIR)"
	PORT=$(cat "$DIR/port")
}

is_running() {
	as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

uri() {
	echo "postgresql://$PGUSER_NAME@127.0.0.1:$PORT/$1"
}

client() {
	tool=$1
	shift
	as_owner "$PGBIN/$tool" -h 127.0.0.1 -p "$PORT" -U "$PGUSER_NAME" "$@"
}

cmd_start() {
	need_binaries
	ensure_user
	DIR=$(absdir "$1")
	DATA=$DIR/data
	if [ "$(id -u)" -eq 0 ]; then
		chown "$PGUSER_NAME:" "$DIR"
		chmod 700 "$DIR"
		as_owner test -w "$DIR" ||
			die "$PGUSER_NAME cannot write $DIR (a parent directory is not searchable?)"
	fi

	if [ ! -f "$DATA/PG_VERSION" ]; then
		rm -rf "$DATA"
		as_owner "$PGBIN/initdb" -D "$DATA" -U "$PGUSER_NAME" --auth=trust \
			--encoding=UTF8 --locale=C --no-sync >"$DIR/initdb.log" 2>&1 ||
			die "initdb failed; see $DIR/initdb.log"
		PORT=$(free_port)
		echo "$PORT" >"$DIR/port"
		# Only loopback TCP and our own socket directory; tuned for tests.
		cat >>"$DATA/postgresql.conf" <<EOF

# pg-test-cluster.sh: throwaway test cluster
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 32MB
log_min_messages = warning
EOF
	fi
	PORT=$(cat "$DIR/port")

	if ! is_running; then
		if ! as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$DIR/postgres.log" -w -t 60 \
			start >/dev/null 2>&1; then
			# The port may have been taken since the cluster was made: move once.
			if grep -q 'could not bind\|Address already in use' "$DIR/postgres.log" 2>/dev/null; then
				PORT=$(free_port)
				echo "$PORT" >"$DIR/port"
				sed -i "s/^port = .*/port = $PORT/" "$DATA/postgresql.conf"
				as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$DIR/postgres.log" -w -t 60 \
					start >/dev/null 2>&1 || die "pg_ctl start failed; see $DIR/postgres.log"
			else
				die "pg_ctl start failed; see $DIR/postgres.log"
			fi
		fi
	fi

	i=0
	until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; do
		i=$((i + 1))
		[ $i -lt 100 ] || die "server on port $PORT not ready; see $DIR/postgres.log"
		sleep 0.1
	done

	if ! client psql -X -d postgres -Atqc \
		"SELECT 1 FROM pg_database WHERE datname = '$DEFAULT_DB'" | grep -q 1; then
		client createdb "$DEFAULT_DB" || die "createdb $DEFAULT_DB failed"
	fi
	uri "$DEFAULT_DB"
}

cmd_newdb() {
	need_binaries
	[ $# -eq 2 ] || usage
	check_name "$2"
	load_cluster "$1"
	is_running || die "cluster in $DIR is not running"
	client dropdb --if-exists --force "$2" || die "dropdb $2 failed"
	client createdb "$2" || die "createdb $2 failed"
	uri "$2"
}

cmd_uri() {
	load_cluster "$1"
	name=${2:-$DEFAULT_DB}
	check_name "$name"
	uri "$name"
}

cmd_stop() {
	need_binaries
	[ -n "${1:-}" ] || usage
	[ -d "$1" ] || return 0
	DIR=$(cd "$1" && pwd -P)
	DATA=$DIR/data
	[ -f "$DATA/PG_VERSION" ] || return 0
	if is_running; then
		as_owner "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null ||
			die "pg_ctl stop failed; see $DIR/postgres.log"
	fi
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
start) [ $# -eq 1 ] || usage; cmd_start "$1" ;;
newdb | createdb) cmd_newdb "$@" ;;
uri) [ $# -ge 1 ] || usage; cmd_uri "$@" ;;
stop) [ $# -eq 1 ] || usage; cmd_stop "$1" ;;
*) usage ;;
esac
