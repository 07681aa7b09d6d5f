#!/usr/bin/env bash
# Installs what ESP needs from Debian 12, only what is missing (idempotent).
#   scripts/deps.sh run    build and run
#   scripts/deps.sh test   also the test tools: PostgreSQL, Chromium, NSS/GnuTLS tools, wrk ...
set -euo pipefail
mode=${1:-run}
pkgs=(meson ninja-build pkg-config gcc libmicrohttpd-dev libssl-dev openssl libsqlite3-dev
      libpq-dev libjansson-dev libsodium-dev libpango1.0-dev libcairo2-dev fonts-noto-cjk
      libqrencode-dev libmagic-dev libp11-dev libp11-kit-dev libgnutls28-dev
      libcurl4-openssl-dev curl ca-certificates libgtk-3-dev dpkg-dev
      python3 python3-yaml)  # python3-yaml: docs/openapi.yaml compiled into espd
if [ "$mode" = test ]; then
  pkgs+=(libcmocka-dev postgresql softhsm2 opensc gnutls-bin libnss3-tools poppler-utils
         chromium wrk python3 nodejs npm sqlite3 valgrind bc
         xvfb openbox xdotool imagemagick dbus python3-gi gir1.2-atspi-2.0 at-spi2-core locales
         lintian p11-kit
         python3-aiosmtpd  # the SMTP server the mail tests start (tests/integration/lib/smtp_recorder.py)
         clang libclang-rt-14-dev clang-format  # clang + libFuzzer for scripts/fuzz.sh
         haproxy)  # scripts/cluster.sh and tests/cluster
  pkgs+=(prometheus)  # promtool check metrics: tests/integration/metrics.test.mjs
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from outside Debian on some machines: accept those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
clean=()
for p in "${missing[@]}"; do [ -n "$p" ] && clean+=("$p"); done
if [ ${#clean[@]} -gt 0 ]; then
  echo "installing: ${clean[*]}" >&2
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${clean[@]}" >&2
fi
