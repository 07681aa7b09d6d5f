#!/bin/bash
# test_install.sh - the server as a package would install it (TAP): a build in
# the 'system' layout installed by `meson install` into a throwaway prefix puts
# the programs, templates, static files, migrations, the systemd unit and its
# sysusers file where a package would; the unit passes `systemd-analyze
# verify`, and its sandbox scores "OK" or better in `systemd-analyze security`;
# the installed espctl and espd then run on their defaults alone (the
# configuration file under <prefix>/etc/esp, state under <prefix>/var/lib/esp),
# serve the portal from the installed templates and stop on SIGTERM.
#
#   tests/package/test_install.sh
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d /tmp/esp-install-test.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && sed 's/^/# /' <<<"$2"; }
check() { local what=$1; shift; if out=$("$@" 2>&1); then ok "$what"; else nok "$what" "$out"; fi; }

P=$WORK/prefix
if ! out=$(meson setup "$WORK/build" "$ROOT" -Dfile_layout=system --prefix="$P" -Dgui=disabled \
	--buildtype=release 2>&1 && ninja -C "$WORK/build" >/dev/null 2>&1 &&
	meson install -C "$WORK/build" --quiet 2>&1); then
	echo "Bail out! system-layout build or install failed"
	sed 's/^/# /' <<<"$out" | tail -20
	exit 1
fi
ok "meson setup -Dfile_layout=system, ninja, meson install"

for f in bin/espd bin/espctl bin/esp-token share/esp/templates/layout.html \
	share/esp/static/esp.css share/esp/migrations/001_foundation.sql \
	lib/systemd/system/espd.service lib/sysusers.d/esp.conf \
	share/doc/esp/deploy.md share/doc/esp/esp.conf.example; do
	check "installed: $f" test -e "$P/$f"
done

unit=$P/lib/systemd/system/espd.service
check "the unit starts the installed espd with its esp.conf" \
	grep -qx "ExecStart=$P/bin/espd --config $P/etc/esp/esp.conf" "$unit"
if command -v systemd-analyze >/dev/null; then
	# verify checks the syntax and that ExecStart's program exists; the user
	# 'esp' does not exist on a test machine, which is not the unit's fault.
	out=$(systemd-analyze verify "$unit" 2>&1 | grep -v "User=esp\|esp.*not.*found\|Failed to resolve user")
	if [ -z "$out" ]; then ok "systemd-analyze verify: no complaint"; else nok "systemd-analyze verify" "$out"; fi
	score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null |
		grep -Eo 'Overall exposure level for espd.service: [0-9.]+' | grep -Eo '[0-9.]+$')
	echo "# systemd-analyze security: exposure ${score:-?} (0 best, 10 worst; 'OK' is below 5)"
	if [ -n "$score" ] && [ "$(echo "$score < 2.5" | bc)" -eq 1 ]; then
		ok "sandbox exposure $score < 2.5"
	else nok "sandbox exposure ${score:-unknown} < 2.5"; fi
else
	ok "# SKIP systemd-analyze not installed"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
# systemd makes the state directory (StateDirectory=esp); here, as docs/deploy.md does by hand.
mkdir -p "$P/etc/esp" "$P/var/lib/esp"
cat >"$P/etc/esp/esp.conf" <<CONF
http_listen = 127.0.0.1:$port
https_listen =
login_listen =
password_hash = min
log_requests = false
CONF
check "espctl init on the defaults (state under <prefix>/var/lib/esp)" "$P/bin/espctl" init
check "the CA went to the default data directory" test -s "$P/var/lib/esp/ca/ca.crt"
# Marks on the installed copies only: what espd serves must carry them.
echo '/* installed copy */' >>"$P/share/esp/static/esp.css"
echo '<!-- installed copy -->' >>"$P/share/esp/templates/layout.html"
"$P/bin/espd" >"$WORK/espd.log" 2>&1 &
PID=$!
up=
for _ in $(seq 1 100); do
	curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && { up=1; break; }
	sleep 0.1
done
if [ -n "$up" ]; then ok "installed espd serves on the port of /etc/esp/esp.conf"; else
	nok "installed espd serves on the port of /etc/esp/esp.conf" "$(tail -5 "$WORK/espd.log")"; fi
page=$(curl -fsS "http://127.0.0.1:$port/" 2>/dev/null)
check "the portal is rendered from the installed templates" grep -q 'installed copy' <<<"$page"
check "static files come from <prefix>/share/esp/static" \
	cmp -s <(curl -fsS "http://127.0.0.1:$port/static/esp.css") "$P/share/esp/static/esp.css"
kill -TERM "$PID" 2>/dev/null
stopped=
for _ in $(seq 1 30); do kill -0 "$PID" 2>/dev/null || { stopped=1; break; }; sleep 0.1; done
if [ -n "$stopped" ] && [ -n "$up" ]; then ok "espd stops on SIGTERM within 3 s"; PID=; else nok "espd stops on SIGTERM within 3 s"; fi
echo "1..$n"
