#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang under ASan and UBSan
# into build-fuzz/ and runs them (see tests/fuzz/README.md).
#   scripts/fuzz.sh build                  build only
#   scripts/fuzz.sh smoke [SECONDS]        replay tests/fuzz/crashes, then each target SECONDS (20)
#                                          on a fresh copy of its seed corpus; exits 1 on any crash
#   scripts/fuzz.sh long SECONDS [NAME...] each target SECONDS, carrying on after crashes (fork
#                                          mode); the corpus grows in build-fuzz/corpus/NAME
#   scripts/fuzz.sh replay NAME FILE...    run target NAME on the given inputs
# One line per target: "fuzz NAME: N execs, C crashes".  Artifacts (crash-*, leak-*, timeout-*,
# oom-*) go to build-fuzz/artifacts/NAME/.  CC_FUZZ picks the compiler (default clang).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${ESP_FUZZ_BUILD:-$root/build-fuzz}
cc=${CC_FUZZ:-clang}
targets=(form json csr validate config template ocsp proxy)
declare -A max_len=([form]=8192 [json]=16384 [csr]=8192 [validate]=300 [config]=4096 [template]=4096 [ocsp]=4096 [proxy]=600)
# Targets that go through espd's HTTP layer link the in-process server too.
declare -A extra=([form]=tests/fuzz/fuzz_http.c [json]=tests/fuzz/fuzz_http.c [ocsp]=tests/fuzz/fuzz_http.c)

pkgs="libmicrohttpd gnutls openssl sqlite3 libpq jansson libsodium pangocairo cairo libqrencode
      harfbuzz-subset fontconfig pangoft2"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-g -O1 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter $san
        -DESP_SOURCE_DIR=\"$root\" -I$root/src/include"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

build() {
	command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (scripts/deps.sh test)" >&2; exit 2; }
	mkdir -p "$out/obj"
	local deps newest_h obj src objs=() changed=0
	deps=$(pkg-config --cflags $pkgs)
	# Every source of libesp and espd except espd's main(), built once with
	# coverage instrumentation; a header change rebuilds everything.
	newest_h=$(find "$root/src" -name '*.h' -newer "$out/obj/.stamp" 2>/dev/null | head -1 || true)
	[ -e "$out/obj/.stamp" ] || newest_h=yes
	for src in "$root"/src/{util,db,pki,render,core}/*.c "$root"/src/httpd/*.c; do
		[ "$(basename "$src")" = main.c ] && [[ $src == */httpd/* ]] && continue
		obj="$out/obj/$(basename "$(dirname "$src")")_$(basename "$src" .c).o"
		objs+=("$obj")
		if [ -n "$newest_h" ] || [ ! -e "$obj" ] || [ "$src" -nt "$obj" ]; then
			$cc $cflags -fsanitize=fuzzer-no-link $deps -c "$src" -o "$obj"
			changed=1
		fi
	done
	# Sources meson generates (src/core/meson.build).
	mkdir -p "$out/gen"
	src="$out/gen/common_passwords.c"
	if [ ! -e "$src" ] || [ "$root/data/common-passwords.txt" -nt "$src" ] ||
	   [ "$root/src/core/common_passwords_gen.py" -nt "$src" ]; then
		python3 "$root/src/core/common_passwords_gen.py" "$root/data/common-passwords.txt" "$src"
	fi
	obj="$out/obj/gen_common_passwords.o"
	objs+=("$obj")
	if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ]; then
		$cc $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
		changed=1
	fi
	# docs/openapi.yaml compiled in, as src/httpd/meson.build does (api.c serves it).
	src="$out/gen/openapi_json.c"
	if [ ! -e "$src" ] || [ "$root/docs/openapi.yaml" -nt "$src" ] ||
	   [ "$root/src/httpd/openapi_gen.py" -nt "$src" ]; then
		python3 "$root/src/httpd/openapi_gen.py" "$root/docs/openapi.yaml" "$src"
	fi
	obj="$out/obj/gen_openapi_json.o"
	objs+=("$obj")
	if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ]; then
		$cc $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
		changed=1
	fi
	touch "$out/obj/.stamp"
	if [ $changed = 1 ] || [ ! -e "$out/libesp-fuzz.a" ]; then
		rm -f "$out/libesp-fuzz.a"
		ar rcs "$out/libesp-fuzz.a" "${objs[@]}"
	fi
	for t in "${targets[@]}"; do
		# shellcheck disable=SC2086
		$cc $cflags -Werror -fsanitize=fuzzer $deps "$root/tests/fuzz/fuzz_$t.c" ${extra[$t]:+$root/${extra[$t]}} \
			"$out/libesp-fuzz.a" $(pkg-config --libs $pkgs) -lmagic -lpthread -o "$out/fuzz_$t"
	done
}

# Prints "fuzz NAME: N execs, C crashes" from a libFuzzer log; sets $execs and $crashes.
report() {
	local t=$1 log=$2 regress=$3 last
	if grep -q '^stat::number_of_executed_units' "$log"; then
		execs=$(awk '/^stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
		crashes=$regress
		grep -qE '^==[0-9]+==ERROR|^SUMMARY: |deadly signal|ERROR: libFuzzer' "$log" && crashes=$((crashes + 1))
	else
		# Fork mode: "#EXECS: cov: ... oom/timeout/crash: O/T/C time: ..."
		last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
		execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"${last:-#0:}")
		crashes=$(sed -nE 's#.*oom/timeout/crash: ([0-9]+)/([0-9]+)/([0-9]+).*#\1 \2 \3#p' <<<"$last" \
			| awk '{print $1 + $2 + $3}')
		crashes=$(( ${crashes:-0} + regress ))
	fi
	echo "fuzz $t: ${execs:-0} execs, $crashes crashes"
}

# Replays the kept regression inputs of a target; prints how many crash.
replay_kept() {
	local t=$1 n=0 f
	for f in "$root"/tests/fuzz/crashes/"$t"-*; do
		[ -e "$f" ] || continue
		if ! "$out/fuzz_$t" -rss_limit_mb=2048 -timeout=5 "$f" >"$out/logs/replay-$t-$(basename "$f").log" 2>&1; then
			echo "fuzz $t: regression input $(basename "$f") still crashes" \
			     "(log: $out/logs/replay-$t-$(basename "$f").log)" >&2
			n=$((n + 1))
		fi
	done
	echo $n
}

run() {
	local mode=$1 secs=$2; shift 2
	local names=("$@") t fail=0 total=0 corpus log regress start
	[ ${#names[@]} -gt 0 ] || names=("${targets[@]}")
	mkdir -p "$out/logs"
	start=$(date +%s)
	for t in "${names[@]}"; do
		mkdir -p "$out/artifacts/$t"
		regress=0
		if [ "$mode" = smoke ]; then
			regress=$(replay_kept "$t")
			corpus="$out/smoke/$t"
			rm -rf "$corpus"
		else
			corpus="$out/corpus/$t"
		fi
		mkdir -p "$corpus"
		cp -n "$root"/tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
		log="$out/logs/$mode-$t.log"
		local opts=(-max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -max_len="${max_len[$t]}"
		            -artifact_prefix="$out/artifacts/$t/")
		[ -e "$root/tests/fuzz/$t.dict" ] && opts+=(-dict="$root/tests/fuzz/$t.dict")
		if [ "$mode" = smoke ]; then
			opts+=(-print_final_stats=1)
		else
			opts+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
		fi
		local rc=0
		# The HTTP targets' stores (fuzz_http.c), removed here: fork-mode jobs end without atexit.
		rm -rf "$out/tmp/$t"; mkdir -p "$out/tmp/$t"
		(cd "$out" && TMPDIR="$out/tmp/$t" "$out/fuzz_$t" "${opts[@]}" "$corpus") >"$log" 2>&1 || rc=$?
		rm -rf "$out/tmp/$t"
		report "$t" "$log" "$regress"
		[ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
		[ "$crashes" -gt 0 ] && { fail=1; echo "fuzz $t: see $log and $out/artifacts/$t/" >&2; }
		total=$((total + execs))
	done
	echo "fuzz total: $total execs in $(( $(date +%s) - start )) s"
	return $fail
}

cd "$root"
case ${1:-smoke} in
build) build ;;
smoke) build; run smoke "${2:-20}" ;;
long) [ $# -ge 2 ] || { echo "usage: $0 long SECONDS [NAME...]" >&2; exit 2; }
      secs=$2; shift 2; build; run long "$secs" "$@" ;;
replay) [ $# -ge 3 ] || { echo "usage: $0 replay NAME FILE..." >&2; exit 2; }
        t=$2; shift 2; build; "$out/fuzz_$t" -rss_limit_mb=2048 -timeout=5 "$@" ;;
*) echo "usage: $0 build | smoke [SECONDS] | long SECONDS [NAME...] | replay NAME FILE..." >&2; exit 2 ;;
esac
