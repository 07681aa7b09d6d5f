#!/bin/bash
# test_token.sh - integration tests of esp-token against SoftHSM2 (TAP output).
#
#   tests/integration/token/test_token.sh [path/to/esp-token]
#
# Default binary: $ESP_TOKEN, else build-token/src/cli/esp-token, else
# build/src/cli/esp-token.  Every test makes its own SoftHSM2 token
# directory and SOFTHSM2_CONF.  The enroll/login tests use
# fake_esp_server.py (HTTPS on 127.0.0.1 with a throwaway CA).
# Needs: softhsm2, opensc (pkcs11-tool), libnss3-tools (modutil, certutil),
# openssl, python3.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BIN=${1:-${ESP_TOKEN:-}}
if [ -z "$BIN" ]; then
	for b in "$ROOT/build-token/src/cli/esp-token" "$ROOT/build/src/cli/esp-token"; do
		[ -x "$b" ] && BIN=$b && break
	done
fi
[ -x "$BIN" ] || { echo "Bail out! esp-token binary not found (give its path)"; exit 2; }
MODULE=/usr/lib/softhsm/libsofthsm2.so
[ -r "$MODULE" ] || { echo "Bail out! $MODULE missing"; exit 2; }

WORK=$(mktemp -d /tmp/esp-token-test.XXXXXX)
SERVER_PID=
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
export HOME=$WORK/home # no user configuration file interferes
mkdir -p "$HOME"

N=0
FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $1"; }
notok() {
	N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"
	[ -f "$WORK/out" ] && sed 's/^/# out: /' "$WORK/out" | head -30
	[ -f "$WORK/err" ] && sed 's/^/# err: /' "$WORK/err" | head -30
	return 0
}
# check NAME COMMAND...: ok when COMMAND succeeds
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }

# tok ARGS...: run esp-token; stdout in $WORK/out, stderr in $WORK/err, rc in $RC
tok() {
	"$BIN" --module "$MODULE" "$@" >"$WORK/out" 2>"$WORK/err"
	RC=$?
}
out_has() { grep -q -- "$1" "$WORK/out"; }
err_has() { grep -q -- "$1" "$WORK/err"; }

# new_token NAME LABEL [SO PIN [PIN]]: fresh token dir; exports SOFTHSM2_CONF
new_token() {
	local d=$WORK/$1
	mkdir -p "$d/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$d/tokens" >"$d/softhsm2.conf"
	export SOFTHSM2_CONF=$d/softhsm2.conf
	softhsm2-util --init-token --free --label "$2" --so-pin "${3:-87654321}" \
		--pin "${4:-123456}" >/dev/null || echo "# init-token failed"
	TD=$d
	printf '%s\n' "${4:-123456}" >"$d/pin"
	printf '%s\n' "${3:-87654321}" >"$d/sopin"
}
p11() { pkcs11-tool --module "$MODULE" "$@" 2>/dev/null; }
token_serial() { # LABEL -> serial number (from pkcs11-tool -L)
	p11 -L | awk -v l="$1" '$1 == "token" && $2 == "label" {f = ($4 == l)}
		f && $1 == "serial" {print $4; exit}'
}
pin_works() { pkcs11-tool --module "$MODULE" --login --pin "$1" --list-objects >/dev/null 2>&1; }
count_objects() { # TYPE LABEL
	p11 --login --pin "$(cat "$TD/pin")" --list-objects --type "$1" |
		grep -c "label: *$2\$"
}

# ---------------------------------------------------------------- usage
tok --help
check "global --help exits 0" test "$RC" -eq 0
for c in list enroll passwd unlock show-cert export-cert login setup-browser; do
	tok "$c" --help
	if [ "$RC" -eq 0 ] && out_has "用法"; then ok "$c --help"; else notok "$c --help"; fi
done
tok frobnicate
check "unknown command exits 1" test "$RC" -eq 1
new_token usage T-usage
tok passwd 123456
check "PIN on the command line is refused (exit 1)" test "$RC" -eq 1
tok list --server https://x
check "option not accepted by command exits 1" test "$RC" -eq 1

# ---------------------------------------------------------------- list
new_token list T-list
tok list
if [ "$RC" -eq 0 ] && out_has "标签 (label)：T-list" && out_has "SoftHSM project" &&
	out_has "序列号 (serial)：" && out_has "证书：无" && out_has "正常"; then
	ok "list on a fresh token"
else notok "list on a fresh token"; fi

# ---------------------------------------------------------------- passwd
new_token passwd T-passwd
printf '654321\n' >"$TD/new"
tok passwd --pin-file "$TD/pin" --new-pin-file "$TD/new"
check "passwd changes the PIN (exit 0)" test "$RC" -eq 0
check "new PIN works with pkcs11-tool" pin_works 654321
if pin_works 123456; then
	notok "old PIN no longer works"; else ok "old PIN no longer works"; fi

printf 'wrong-pin\n' >"$TD/bad"
tok passwd --pin-file "$TD/bad" --new-pin-file "$TD/new"
if [ "$RC" -eq 3 ] && err_has "PIN码错误"; then ok "wrong PIN: exit 3 and PIN码错误"
else notok "wrong PIN: exit 3 and PIN码错误"; fi
if err_has "证书U盘报告\|证书U盘未报告"; then ok "wrong PIN: retry hint from token flags"
else notok "wrong PIN: retry hint from token flags"; fi

printf '12345\n' >"$TD/short"
tok passwd --pin-file "$TD/new" --new-pin-file "$TD/short"
if [ "$RC" -eq 1 ] && err_has "6–16"; then ok "new PIN shorter than 6 refused"
else notok "new PIN shorter than 6 refused"; fi
printf '12345678901234567\n' >"$TD/long"
tok passwd --pin-file "$TD/new" --new-pin-file "$TD/long"
check "new PIN longer than 16 refused" test "$RC" -eq 1
tok passwd --pin-file "$TD/missing" --new-pin-file "$TD/new"
check "missing PIN file: exit 1" test "$RC" -eq 1

# ---------------------------------------------------------------- terminal input
new_token tty T-tty
python3 "$HERE/tty_run.py" 123456 abcdef12 abcdef12 -- \
	"$BIN" --module "$MODULE" passwd >"$WORK/out" 2>&1
RC=$?
if [ "$RC" -eq 0 ] && out_has "PIN码已修改" && pin_works abcdef12; then
	ok "passwd from the terminal (no echo, new PIN twice)"
else notok "passwd from the terminal (no echo, new PIN twice) rc=$RC"; fi
python3 "$HERE/tty_run.py" abcdef12 xyz12345 xyz99999 -- \
	"$BIN" --module "$MODULE" passwd >"$WORK/out" 2>&1
RC=$?
if [ "$RC" -eq 1 ] && out_has "不一致" && pin_works abcdef12; then
	ok "passwd: new PINs that differ are refused (exit 1)"
else notok "passwd: new PINs that differ are refused (exit 1) rc=$RC"; fi
python3 "$HERE/tty_run.py" abcdef12 -- \
	"$BIN" --module "$MODULE" login --server https://127.0.0.1:1 >"$WORK/out" 2>&1
RC=$?
check "login on a token without certificate: exit 2" test "$RC" -eq 2

# ---------------------------------------------------------------- locking
# SoftHSM2 2.6.1 never locks the user PIN: it only sets CKF_USER_PIN_COUNT_LOW
# after a failure.  We check that behaviour (so that a change is noticed) and
# that esp-token reports the flag.  Exit 4 cannot be produced with SoftHSM.
new_token lock T-lock
printf 'wrong-pin\n' >"$TD/bad"
printf '222222\n' >"$TD/new"
codes=
for _ in 1 2 3 4 5 6 7 8 9 10; do
	tok passwd --pin-file "$TD/bad" --new-pin-file "$TD/new"
	codes="$codes$RC"
done
check "10 wrong PINs: each exits 3" test "$codes" = 3333333333
tok list
if out_has "count low"; then ok "list shows CKF_USER_PIN_COUNT_LOW after failures"
else notok "list shows CKF_USER_PIN_COUNT_LOW after failures"; fi
tok passwd --pin-file "$TD/pin" --new-pin-file "$TD/new"
check "SoftHSM2 does not lock: the right PIN still works after 10 failures" test "$RC" -eq 0

# ---------------------------------------------------------------- unlock
new_token unlock T-unlock 87654321 123456
printf 'wrongsopin\n' >"$TD/badso"
printf '333333\n' >"$TD/new"
tok unlock --so-pin-file "$TD/badso" --new-pin-file "$TD/new"
if [ "$RC" -eq 3 ] && err_has "SO PIN"; then ok "unlock with wrong SO PIN: exit 3"
else notok "unlock with wrong SO PIN: exit 3"; fi
tok unlock --so-pin-file "$TD/sopin" --new-pin-file "$TD/new"
if [ "$RC" -eq 0 ] && out_has "已解锁"; then ok "unlock with SO PIN sets a new user PIN"
else notok "unlock with SO PIN sets a new user PIN"; fi
check "PIN set by unlock works with pkcs11-tool" pin_works 333333

# ---------------------------------------------------------------- show/export
new_token show T-show
p11 --login --pin 123456 --keypairgen --key-type EC:prime256v1 --id 01 --label mykey >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -utf8 \
	-keyout "$TD/k.pem" -subj "/C=CN/O=测试单位/CN=测试证书" -days 30 \
	-outform DER -out "$TD/c.der" 2>/dev/null
p11 --login --pin 123456 --write-object "$TD/c.der" --type cert --id 01 --label mykey >/dev/null
tok list
if [ "$RC" -eq 0 ] && out_has "CN=测试证书" && out_has "CKA_ID 01" &&
	out_has "剩余天数" && out_has "警告：证书将在"; then
	ok "list shows the certificate (UTF-8 subject) and the 60-day warning"
else notok "list shows the certificate (UTF-8 subject) and the 60-day warning"; fi
tok show-cert
if [ "$RC" -eq 0 ] && out_has "BEGIN CERTIFICATE" && out_has "颁发者" &&
	out_has "有效期至"; then ok "show-cert prints summary and PEM"
else notok "show-cert prints summary and PEM"; fi
tok show-cert --id 01
check "show-cert --id 01" test "$RC" -eq 0
tok show-cert --label mykey
check "show-cert --label mykey" test "$RC" -eq 0
tok show-cert --id 02
check "show-cert --id of a missing certificate: exit 2" test "$RC" -eq 2
tok show-cert --id xyz
check "show-cert --id not hex: exit 1" test "$RC" -eq 1
tok export-cert --out "$TD/x.der" --der
check "export-cert --der equals the written certificate" cmp -s "$TD/x.der" "$TD/c.der"
tok export-cert --out "$TD/x.pem"
openssl x509 -in "$TD/x.pem" -outform DER -out "$TD/x2.der" 2>/dev/null
check "export-cert PEM equals the written certificate" cmp -s "$TD/x2.der" "$TD/c.der"
tok export-cert
check "export-cert without --out: exit 1" test "$RC" -eq 1

# ---------------------------------------------------------------- several tokens
new_token multi T-one
softhsm2-util --init-token --free --label T-two --so-pin 87654321 --pin 123456 >/dev/null
tok list
if [ "$RC" -eq 0 ] && out_has "T-one" && out_has "T-two"; then ok "list shows both tokens"
else notok "list shows both tokens"; fi
tok show-cert
if [ "$RC" -eq 1 ] && err_has "--token"; then ok "several tokens without --token: exit 1"
else notok "several tokens without --token: exit 1"; fi
serial=$(token_serial T-two)
[ -n "$serial" ] || echo "# no serial found for T-two"
tok --token "$serial" list
if [ "$RC" -eq 0 ] && out_has "T-two" && ! out_has "T-one"; then ok "--token SERIAL selects"
else notok "--token SERIAL selects"; fi
tok --token T-one list
if [ "$RC" -eq 0 ] && out_has "T-one" && ! out_has "T-two"; then ok "--token LABEL selects"
else notok "--token LABEL selects"; fi
tok --token nosuch list
check "--token unknown: exit 2" test "$RC" -eq 2

# ---------------------------------------------------------------- server
SRV=$WORK/srv
mkdir -p "$SRV"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$SRV/ca.key" -out "$SRV/ca.crt" -subj "/CN=ESP Test CA" -days 30 \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$SRV/server.key" \
	-out "$SRV/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$SRV/server.ext"
openssl x509 -req -in "$SRV/server.csr" -CA "$SRV/ca.crt" -CAkey "$SRV/ca.key" \
	-set_serial 0x1000 -days 2 -extfile "$SRV/server.ext" -out "$SRV/server.crt" 2>/dev/null
printf 'test-api-token\n' >"$SRV/api"
printf 'wrong-api-token\n' >"$SRV/badapi"
python3 "$HERE/fake_esp_server.py" "$SRV" test-api-token &
SERVER_PID=$!
for _ in $(seq 50); do [ -f "$SRV/port" ] && break; sleep 0.1; done
[ -f "$SRV/port" ] || { echo "Bail out! fake server did not start"; exit 2; }
URL=https://127.0.0.1:$(cat "$SRV/port")

enroll() { # APP [more args]
	local app=$1; shift
	tok enroll --server "$URL" --application "$app" --ca-file "$SRV/ca.crt" \
		--api-token-file "$SRV/api" --pin-file "$TD/pin" "$@"
}

# ---------------------------------------------------------------- enroll
new_token enroll T-enroll
enroll 7
if [ "$RC" -eq 0 ] && out_has "生成密钥对" && out_has "已将证书写入" &&
	out_has "已写入CA证书"; then ok "enroll generates a key and writes the certificate"
else notok "enroll generates a key and writes the certificate"; fi
tserial=$(token_serial T-enroll)
if grep -q '"auth": "Bearer test-api-token"' "$SRV/requests.log" &&
	grep -q "\"token_serial\": \"$tserial\"" "$SRV/requests.log"; then
	ok "enroll sends the bearer token and the token serial"
else notok "enroll sends the bearer token and the token serial"; fi
p11 --login --pin 123456 --list-objects >"$WORK/objs"
if awk '/Private Key Object; EC/{f=1} f && /label: *esp-7/{g=1} g && /Access:/{print; exit}' \
	"$WORK/objs" | grep -q "sensitive, always sensitive, never extractable, local"; then
	ok "private key esp-7 is EC, sensitive, never extractable, generated on the token"
else notok "private key esp-7 is EC, sensitive, never extractable, generated on the token"; fi
if awk '/Certificate Object/{f=1} f && /label: *esp-7/{g=1} g && /serial:/{print; exit}' \
	"$WORK/objs" | grep -q "serial: *[0-9A-F]"; then
	ok "certificate esp-7 has CKA_SERIAL_NUMBER"
else notok "certificate esp-7 has CKA_SERIAL_NUMBER"; fi
keyid=$(awk '/Private Key Object/{f=1} f && /label: *esp-7/{g=1} g && /ID:/{print $2; exit}' "$WORK/objs")
certid=$(awk '/Certificate Object/{f=1} f && /label: *esp-7/{g=1} g && /ID:/{print $2; exit}' "$WORK/objs")
check "certificate CKA_ID equals the key's CKA_ID" test -n "$keyid" -a "$keyid" = "$certid"
tok show-cert --label esp-7 >/dev/null
openssl x509 -in "$WORK/out" -noout -ext extendedKeyUsage 2>/dev/null >"$WORK/eku" || true
check "show-cert of the enrolled certificate" grep -q "TLS Web Client" "$WORK/eku"

enroll 7
if [ "$RC" -eq 0 ] && out_has "无需再次申请"; then ok "enroll again: certificate exists, stops (exit 0)"
else notok "enroll again: certificate exists, stops (exit 0)"; fi
check "still one key and one certificate esp-7" \
	test "$(count_objects privkey esp-7)$(count_objects cert esp-7)" = 11
check "CA certificate stored once" test "$(count_objects cert 'ESP Test CA')" = 1

# NSS finds the certificate (needs CKA_ISSUER/CKA_SERIAL_NUMBER/CKA_SUBJECT).
NSSDB=$WORK/nssdb
mkdir -p "$NSSDB"
certutil -N -d "sql:$NSSDB" --empty-password >/dev/null 2>&1
modutil -dbdir "sql:$NSSDB" -add softhsm -libfile "$MODULE" -force >/dev/null 2>&1
certutil -L -d "sql:$NSSDB" -h all >"$WORK/nss" 2>&1
if grep -q "T-enroll:esp-7" "$WORK/nss"; then ok "NSS certutil lists T-enroll:esp-7"
else notok "NSS certutil lists T-enroll:esp-7"; sed 's/^/# /' "$WORK/nss"; fi
printf '123456\n' >"$WORK/nsspw"
if certutil -K -d "sql:$NSSDB" -h T-enroll -f "$WORK/nsspw" 2>/dev/null | grep -q "esp-7"; then
	ok "NSS pairs the certificate with its private key"
else notok "NSS pairs the certificate with its private key"; fi

# ---------------------------------------------------------------- login
tok login --server "$URL" --ca-file "$SRV/ca.crt" --pin-file "$TD/pin"
if [ "$RC" -eq 0 ] && grep -qx 'sess-[0-9a-f]*' "$WORK/out"; then
	ok "login (ECDSA): server verified the signature, session printed"
else notok "login (ECDSA): server verified the signature, session printed"; fi
printf 'wrong-pin\n' >"$TD/bad"
tok login --server "$URL" --ca-file "$SRV/ca.crt" --pin-file "$TD/bad"
check "login with wrong PIN: exit 3" test "$RC" -eq 3

# ---------------------------------------------------------------- resume
new_token resume T-resume
enroll 500
if [ "$RC" -eq 5 ] && count_objects privkey esp-500 >/dev/null &&
	[ "$(count_objects cert esp-500)" = 0 ]; then
	ok "server error after issuing: exit 5, key stays, no certificate"
else notok "server error after issuing: exit 5, key stays, no certificate"; fi
enroll 500
if [ "$RC" -eq 0 ] && out_has "继续申请"; then ok "rerun resumes with the existing key"
else notok "rerun resumes with the existing key"; fi
check "resume: exactly one key and one certificate esp-500" \
	test "$(count_objects privkey esp-500)$(count_objects cert esp-500)" = 11

# ---------------------------------------------------------------- refusals
new_token refuse T-refuse
enroll 403
if [ "$RC" -eq 6 ] && err_has "申请尚未批准"; then ok "server refusal: exit 6 with its message"
else notok "server refusal: exit 6 with its message"; fi
tok enroll --server "$URL" --application 8 --ca-file "$SRV/ca.crt" \
	--api-token-file "$SRV/badapi" --pin-file "$TD/pin"
if [ "$RC" -eq 6 ] && err_has "API令牌无效"; then ok "wrong API token: exit 6"
else notok "wrong API token: exit 6"; fi
tok enroll --server "$URL" --application 8 --api-token-file "$SRV/api" --pin-file "$TD/pin"
check "untrusted server certificate (no --ca-file): exit 5" test "$RC" -eq 5
tok enroll --server "http://example.org" --application 8 --api-token-file "$SRV/api" \
	--pin-file "$TD/pin"
check "plain http to a non-local server refused: exit 1" test "$RC" -eq 1
tok enroll --server "$URL" --application 8/../9 --api-token-file "$SRV/api" --pin-file "$TD/pin"
check "application must be an application number (no / or ..): exit 1" test "$RC" -eq 1
tok enroll --server "https://127.0.0.1:1" --application 8 --api-token-file "$SRV/api" \
	--pin-file "$TD/pin"
check "server unreachable: exit 5" test "$RC" -eq 5
printf 'wrong-pin\n' >"$TD/bad"
tok enroll --server "$URL" --application 9 --ca-file "$SRV/ca.crt" \
	--api-token-file "$SRV/api" --pin-file "$TD/bad"
check "enroll with wrong PIN: exit 3" test "$RC" -eq 3

# ---------------------------------------------------------------- RSA
new_token rsa T-rsa
enroll 11 --rsa
if [ "$RC" -eq 0 ] && out_has "RSA 2048"; then ok "enroll --rsa (RSA 2048)"
else notok "enroll --rsa (RSA 2048)"; fi
p11 --login --pin 123456 --list-objects --type privkey >"$WORK/objs"
check "RSA private key on the token" grep -q "Private Key Object; RSA" "$WORK/objs"
tok login --server "$URL" --ca-file "$SRV/ca.crt" --pin-file "$TD/pin" --label esp-11
if [ "$RC" -eq 0 ] && grep -qx 'sess-[0-9a-f]*' "$WORK/out"; then
	ok "login (RSA PKCS#1 v1.5): session printed"
else notok "login (RSA PKCS#1 v1.5): session printed"; fi

# ---------------------------------------------------------------- config file
new_token conf T-conf
mkdir -p "$HOME/.config"
printf '# test\nmodule = %s\n' "$MODULE" >"$HOME/.config/esp-token.conf"
"$BIN" list >"$WORK/out" 2>"$WORK/err"
RC=$?
if [ "$RC" -eq 0 ] && out_has "T-conf"; then ok "module from ~/.config/esp-token.conf"
else notok "module from ~/.config/esp-token.conf"; fi
printf 'module = /nonexistent/module.so\n' >"$HOME/.config/esp-token.conf"
"$BIN" list >"$WORK/out" 2>"$WORK/err"
check "missing module: exit 2" test $? -eq 2
rm -f "$HOME/.config/esp-token.conf"

# OpenSC with no reader (no pcscd here) cannot list its slots: the message
# names the module tried and how to choose another.
OPENSC=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
if [ -r "$OPENSC" ]; then
	"$BIN" --module "$OPENSC" list >"$WORK/out" 2>"$WORK/err"
	RC=$?
	if [ "$RC" -eq 2 ] && err_has "$OPENSC" && err_has "--module"; then
		ok "a module without reader: the message names it and --module"
	elif [ "$RC" -eq 0 ]; then
		ok "# SKIP a reader is attached: OpenSC lists its slots"
	else
		notok "a module without reader: the message names it and --module"
	fi
fi

# ---------------------------------------------------------------- setup-browser
# Chromium's NSS database in $HOME/.pki/nssdb gets the module and the CA chain
if command -v modutil >/dev/null && command -v certutil >/dev/null; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-keyout "$WORK/bca.key" -out "$WORK/bca.pem" -subj "/CN=ESP Browser Test CA" 2>/dev/null
	tok setup-browser --ca-file "$WORK/bca.pem"
	check "setup-browser: exit 0" test "$RC" -eq 0
	if modutil -dbdir "sql:$HOME/.pki/nssdb" -list 2>/dev/null | grep -q "library name: $MODULE"; then
		ok "setup-browser: the module is in ~/.pki/nssdb"
	else notok "setup-browser: the module is in ~/.pki/nssdb"; fi
	if certutil -L -d "sql:$HOME/.pki/nssdb" 2>/dev/null | grep -q "CA 1 .*CT,C,C"; then
		ok "setup-browser: the CA is trusted there"
	else notok "setup-browser: the CA is trusted there"; fi
	tok setup-browser --ca-file "$WORK/bca.pem"
	if [ "$RC" -eq 0 ] && out_has "已有证书U盘模块"; then ok "setup-browser twice: no duplicate"
	else notok "setup-browser twice: no duplicate"; fi
	tok setup-browser --remove
	if [ "$RC" -eq 0 ] && ! modutil -dbdir "sql:$HOME/.pki/nssdb" -list 2>/dev/null | grep -q "$MODULE" &&
		! certutil -L -d "sql:$HOME/.pki/nssdb" 2>/dev/null | grep -q "CT,C,C"; then
		ok "setup-browser --remove takes module and CA out"
	else notok "setup-browser --remove takes module and CA out"; fi
fi

echo "1..$N"
if [ "$FAILED" -ne 0 ]; then
	echo "# $FAILED of $N tests failed"
	exit 1
fi
exit 0
