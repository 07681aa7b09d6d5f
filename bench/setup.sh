#!/usr/bin/env bash
# Installs the benchmarks' independent peers from Debian 12 (only what is
# missing; idempotent). These are not test tools: scripts/deps.sh does not
# list them, and the test command never needs them.
#   golang-cfssl  CloudFlare's CA (`cfssl serve`), the peer of bench/issue_bench.sh
#                 (with and without its certdb: the binary has the SQLite driver;
#                 the sqlite3 shell that creates its tables is in the test list)
#   nginx-light   a static file server, the peer of bench/portal_bench.sh
# Chromium (bench/pdf_vs_chromium.sh) and wrk are already in the test list.
set -euo pipefail
pkgs=(golang-cfssl nginx-light)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}" >&2
	SUDO=
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	# nginx's package starts the system service; the benchmark runs its own
	# instance, so the service is not left running.
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	if command -v systemctl >/dev/null && systemctl is-active -q nginx 2>/dev/null; then
		$SUDO systemctl stop nginx || true
	fi
fi
command -v cfssl >/dev/null || { echo "setup: cfssl not on PATH" >&2; exit 1; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "setup: nginx not found" >&2; exit 1; }
