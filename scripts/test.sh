#!/usr/bin/env bash
# Runs the whole ESP test suite: installs what is missing, builds twice
# (plain and ASan+UBSan), starts a throwaway PostgreSQL cluster, runs the
# unit tests (cmocka), the integration tests on SQLite and PostgreSQL with
# both builds, the token tests (SoftHSM2) and the browser tests (Playwright
# + Chromium), and ends with one line "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/deps.sh test || { echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0
add() { passed=$((passed + $1)); failed=$((failed + $2)); }
# Each section starts with the seconds spent so far, to see where the time goes.
note() { printf '\n== [%ss] %s\n' "$SECONDS" "$*"; }

build() {
  local dir=$1; shift
  [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null || return 1
  ninja -C "$dir" >/dev/null || ninja -C "$dir"
}
note "build (plain and ASan+UBSan)"
if ! build build --buildtype=debugoptimized; then echo "build failed"; echo "0 passed, 1 failed"; exit 1; fi
if ! build build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false; then
  echo "ASan build failed"; echo "0 passed, 1 failed"; exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp

tmp=$(mktemp -d /tmp/esp-test.XXXXXX)
chmod 755 "$tmp"
cleanup() { bash scripts/pg-test-cluster.sh stop "$tmp/pg" >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT

note "PostgreSQL (throwaway cluster)"
if ESP_PG=$(bash scripts/pg-test-cluster.sh start "$tmp/pg"); then
  export ESP_PG ESP_PG_CLUSTER="$tmp/pg"
  echo "cluster at $ESP_PG"
else
  echo "PostgreSQL cluster did not start"; add 0 1
fi

# Counts single cmocka tests (from meson's full log), and any test program
# that crashed before cmocka could report as one failure more.
meson_counts() {
  local summary=$1 full=$2 ok fail crashed
  ok=$(grep -Eo '\[  PASSED  \] [0-9]+' "$full" | grep -Eo '[0-9]+$' | paste -sd+ | bc)
  fail=$(grep -Eo '\[  FAILED  \] [0-9]+ test' "$full" | grep -Eo '[0-9]+' | paste -sd+ | bc)
  crashed=$(grep -Eo '^(Fail|Timeout): +[0-9]+' "$summary" | grep -Eo '[0-9]+' | paste -sd+ | bc)
  ok=${ok:-0}; fail=${fail:-0}; crashed=${crashed:-0}
  [ "$crashed" -gt "$fail" ] && fail=$crashed
  add "$ok" "$fail"
}
for b in build build-asan; do
  note "unit tests ($b)"
  meson test -C "$b" --suite unit --print-errorlogs 2>&1 | tee "$tmp/unit-$b.log" | grep -E '^ *[0-9]+/[0-9]+ |^Ok:|^Fail:'
  meson_counts "$tmp/unit-$b.log" "$b/meson-logs/testlog.txt"
done

# Every C source as .clang-format says: one failure per file that differs.
note "format (.clang-format)"
fmt_ok=0; fmt_bad=0
for f in $(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]'); do
  if clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then fmt_ok=$((fmt_ok + 1))
  else echo "not formatted: $f (clang-format -i $f)"; fmt_bad=$((fmt_bad + 1)); fi
done
echo "$fmt_ok files formatted, $fmt_bad not"
add "$fmt_ok" "$fmt_bad"

# libFuzzer under ASan+UBSan: the kept crash inputs, then 20 s per target.
note "fuzzing smoke (libFuzzer, ASan+UBSan, 20 s per target)"
bash scripts/fuzz.sh smoke 20 2>&1 | tee "$tmp/fuzz.log" | grep -E '^fuzz '
fp=$(grep -cE '^fuzz [a-z]+: [0-9]+ execs, 0 crashes$' "$tmp/fuzz.log")
ff=$(grep -cE '^fuzz [a-z]+: [0-9]+ execs, [1-9][0-9]* crashes$' "$tmp/fuzz.log")
[ $((fp + ff)) -eq 0 ] && ff=1
add "$fp" "$ff"

node_counts() {
  local log=$1 p f
  p=$(grep -Eo '^# pass [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  f=$(grep -Eo '^# fail [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  [ -z "$p$f" ] && f=1
  add "${p:-0}" "${f:-0}"
}
engines=sqlite; [ -n "${ESP_PG:-}" ] && engines="sqlite postgresql"
for b in build build-asan; do
  for e in $engines; do
    note "integration tests ($b, $e)"
    ESP_BUILD=$root/$b ESP_ENGINE=$e node --test --test-concurrency=1 tests/integration/*.test.mjs tests/integration/token/*.test.mjs 2>&1 \
      | tee "$tmp/int-$b-$e.log" | grep -E '^(not )?ok |^# (pass|fail)'
    node_counts "$tmp/int-$b-$e.log"
  done
done

# ---- the cluster: two espd on one PostgreSQL (primary + synchronous
# standby, a failover in the middle) behind HAProxy (scripts/cluster.sh)
note "cluster (two espd, HAProxy, PostgreSQL primary and standby)"
ESP_BUILD=$root/build node --test --test-concurrency=1 tests/cluster/*.test.mjs 2>&1 \
  | tee "$tmp/cluster.log" | grep -E '^(not )?ok |^# (pass|fail)|failover:'
node_counts "$tmp/cluster.log"

if [ -f tests/integration/token/test_token.sh ]; then
  note "token tests (SoftHSM2)"
  bash tests/integration/token/test_token.sh "$root/build/src/cli/esp-token" 2>&1 | tee "$tmp/token.log" | grep -E '^(not )?ok '
  add "$(grep -c '^ok ' "$tmp/token.log")" "$(grep -c '^not ok ' "$tmp/token.log")"
fi

# ---- desktop tool 证书管理工具 (esp-token-gui) under Xvfb, driven with xdotool
# and read back through AT-SPI; screenshots in build/screenshots/desktop/
note "desktop tool (Xvfb)"
if [ -x build/src/gui/esp-token-gui ]; then
  bash tests/desktop/test_desktop.sh "$root/build/src/gui/esp-token-gui" 2>&1 | tee "$tmp/desktop.log" | grep -E '^(not )?ok |^Bail out'
  add "$(grep -c '^ok ' "$tmp/desktop.log")" "$(grep -c '^not ok \|^Bail out' "$tmp/desktop.log")"
else
  echo "build/src/gui/esp-token-gui was not built (GTK 3 missing?)"; add 0 1
fi

# ---- client package esp-client_<version>_<arch>.deb: lintian, dpkg -i, dpkg --purge
# (changes the trust store and p11-kit, restores them; only as root)
note "client package (.deb)"
if [ "$(id -u)" -eq 0 ]; then
  bash tests/package/test_deb.sh "$root/build" 2>&1 | tee "$tmp/deb.log" | grep -E '^(not )?ok |^Bail out'
  add "$(grep -c '^ok ' "$tmp/deb.log")" "$(grep -c '^not ok \|^Bail out' "$tmp/deb.log")"
else
  echo "skipped: installs into the system, run as root"
fi

# ---- the /api/v1 contract: docs/openapi.yaml validated as OpenAPI 3.1 and
# checked against real answers, on each engine
note "API contract (OpenAPI 3.1)"
if (cd tests/api && { npm ci --no-audit --no-fund >/dev/null 2>&1 || npm install --no-audit --no-fund >/dev/null; }); then
  for e in $engines; do
    ESP_BUILD=$root/build ESP_ENGINE=$e node --test --test-concurrency=1 tests/api/*.test.mjs 2>&1 \
      | tee "$tmp/api-$e.log" | grep -E '^(not )?ok |^# (pass|fail)'
    node_counts "$tmp/api-$e.log"
  done
else
  echo "npm install of the OpenAPI validator failed"; add 0 1
fi

# ---- the server as a package installs it: meson install in the system layout
# into a throwaway prefix, the systemd unit checked, the installed espd run
note "server install (meson install, systemd unit)"
bash tests/package/test_install.sh 2>&1 | tee "$tmp/install.log" | grep -E '^(not )?ok |^# systemd|^Bail out'
add "$(grep -c '^ok ' "$tmp/install.log")" "$(grep -c '^not ok \|^Bail out' "$tmp/install.log")"

note "browser tests (Playwright + Chromium)"
if (cd tests/e2e && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund >/dev/null 2>&1 || npm install --no-audit --no-fund >/dev/null; }); then
  ESP_BUILD=$root/build node --test --test-concurrency=1 tests/e2e/*.test.mjs 2>&1 | tee "$tmp/e2e.log" | grep -E '^(not )?ok |^# (pass|fail)'
  node_counts "$tmp/e2e.log"
else
  echo "npm install of playwright-core failed"; add 0 1
fi

echo
echo "suite took ${SECONDS}s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
