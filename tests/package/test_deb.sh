#!/bin/bash
# test_deb.sh - the client package esp-client_<version>_<arch>.deb (TAP):
# built by packaging/deb/build-deb.sh for a throwaway CA, lintian without
# errors, installed with dpkg -i (tools, desktop entry, icon, man pages
# there; the CA trusted by `openssl verify` with the system store; the token
# module listed by `p11-kit list-modules`; esp-token finds the module through
# /etc/esp-token.conf), then dpkg --purge leaves the system as it was.
#
#   tests/package/test_deb.sh [BUILD_DIR]
#
# It changes the system (trust store, p11-kit), so it runs only as root and
# undoes everything, also when interrupted.  Needs: dpkg-dev, lintian,
# p11-kit, softhsm2, openssl.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP the package test installs into the system: run it as root"
	exit 0
fi
for t in dpkg-deb dpkg-shlibdeps lintian p11-kit openssl update-ca-certificates; do
	command -v "$t" >/dev/null || { echo "Bail out! $t missing"; exit 2; }
done
if dpkg-query -W -f='${Status}' esp-client 2>/dev/null | grep -q installed; then
	echo "Bail out! esp-client is already installed on this machine; not touching it"
	exit 2
fi

WORK=$(mktemp -d /tmp/esp-deb-test.XXXXXX)
INSTALLED=
cleanup() {
	# never leave the package (and its CA) behind, whatever failed
	[ -n "$INSTALLED" ] && dpkg --purge esp-client >/dev/null 2>&1
	[ -d "$WORK/plain" ] && restore_plain
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

N=0
FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $1"; }
notok() {
	N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"
	[ -s "$WORK/log" ] && sed 's/^/# /' "$WORK/log" | tail -20
	return 0
}
check() { local name=$1; shift; if "$@" >"$WORK/log" 2>&1; then ok "$name"; else notok "$name"; fi; }

# A root CA, an issuing CA and a leaf, as a deployment has them.
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -utf8 -days 3650 \
	-keyout "$WORK/root.key" -out "$WORK/root.pem" -subj "/C=CN/O=ESP 测试/CN=ESP Test Root CA $$" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -utf8 \
	-keyout "$WORK/sub.key" -out "$WORK/sub.csr" -subj "/C=CN/O=ESP 测试/CN=ESP Test Issuing CA $$"
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$WORK/sub.ext"
ossl x509 -req -in "$WORK/sub.csr" -CA "$WORK/root.pem" -CAkey "$WORK/root.key" -days 3650 \
	-set_serial 2 -extfile "$WORK/sub.ext" -out "$WORK/sub.pem"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -utf8 \
	-keyout "$WORK/leaf.key" -out "$WORK/leaf.csr" -subj "/C=CN/O=福州顺达运输有限公司/CN=张三"
ossl x509 -req -in "$WORK/leaf.csr" -CA "$WORK/sub.pem" -CAkey "$WORK/sub.key" -days 365 \
	-set_serial 3 -out "$WORK/leaf.pem"
cat "$WORK/sub.pem" "$WORK/root.pem" >"$WORK/chain.pem"

# SoftHSM2 through a path of its own, so p11-kit lists it under our name
MODULE=/usr/lib/softhsm/libsofthsm2.so
if DEB=$(bash "$ROOT/packaging/deb/build-deb.sh" --build "$BUILD" --ca "$WORK/chain.pem" \
	--portal https://esp.example.org:8444/ --server https://esp.example.org \
	--module "$MODULE" --out "$WORK/out" 2>"$WORK/log"); then
	ok "build-deb.sh builds $(basename "$DEB")"
else
	notok "build-deb.sh builds the package"; echo "1..$N"; exit 1
fi
check "file name esp-client_<version>_<arch>.deb" \
	bash -c "[[ '$(basename "$DEB")' =~ ^esp-client_[0-9][0-9.]*_$(dpkg --print-architecture)\.deb$ ]]"
lintian "$DEB" >"$WORK/lintian" 2>/dev/null
check "lintian reports no errors" bash -c "! grep '^E:' '$WORK/lintian'"

# What the system looks like before: compared after the purge.  Entries of
# /etc/ssl/certs are compared by content: update-ca-certificates turns a
# plain copy of a /usr/local certificate into a symbolic link to it, which
# the cleanup below turns back.
snapshot() {
	{
		sha256sum /etc/ca-certificates.conf /etc/ssl/certs/ca-certificates.crt
		for f in /etc/ssl/certs/* /usr/share/ca-certificates/* /usr/share/p11-kit/modules/*; do
			printf '%s %s\n' "$f" "$(sha256sum <"$f" 2>/dev/null | cut -c1-16)"
		done
		p11-kit list-modules 2>/dev/null | grep -E '^[^ ]'
		ls /etc/esp-token.conf /usr/bin/esp-token /usr/bin/esp-token-gui 2>&1
	} >"$1"
}
# plain files in /etc/ssl/certs, to be put back as plain files
mkdir -p "$WORK/plain"
find /etc/ssl/certs -maxdepth 1 -type f ! -name ca-certificates.crt -exec cp -p {} "$WORK/plain/" \;
restore_plain() {
	for f in "$WORK"/plain/*; do
		[ -e "$f" ] || continue
		t=/etc/ssl/certs/$(basename "$f")
		[ -L "$t" ] && cmp -s "$f" "$t" && cp -p --remove-destination "$f" "$t"
	done
	return 0
}
snapshot "$WORK/before"
check "before: the leaf is not trusted by the system store" \
	bash -c "! openssl verify -untrusted '$WORK/sub.pem' '$WORK/leaf.pem'"

if dpkg -i "$DEB" >"$WORK/log" 2>&1; then INSTALLED=1; ok "dpkg -i installs it"
else INSTALLED=1; notok "dpkg -i installs it"; fi
check "esp-token is installed and answers --help in Chinese" \
	bash -c "esp-token --help | grep -q 用法"
check "esp-token-gui is installed" test -x /usr/bin/esp-token-gui
check "desktop entry 证书管理工具" \
	grep -qx 'Name=证书管理工具' /usr/share/applications/esp-token-gui.desktop
check "desktop entry starts esp-token-gui with its icon" \
	bash -c "grep -qx 'Exec=esp-token-gui' /usr/share/applications/esp-token-gui.desktop &&
		grep -qx 'Icon=esp-token-gui' /usr/share/applications/esp-token-gui.desktop &&
		test -s /usr/share/icons/hicolor/scalable/apps/esp-token-gui.svg"
check "Chinese man page" bash -c "zcat /usr/share/man/zh_CN/man1/esp-token.1.gz | grep -q 修改密码"
check "esp-token.conf gives 证书更新 the portal's address and CA (no --server to type)" \
	bash -c "grep -qx 'server = https://esp.example.org' /etc/esp-token.conf &&
		grep -qx 'ca-file = /usr/share/esp-client/ca-chain.pem' /etc/esp-token.conf"
check "the CA chain is in the package" cmp -s /usr/share/esp-client/ca-chain.pem "$WORK/chain.pem"
check "the CA is trusted: openssl verify with the system store" \
	openssl verify -untrusted "$WORK/sub.pem" "$WORK/leaf.pem"
check "p11-kit list-modules lists the token module" \
	bash -c "p11-kit list-modules 2>/dev/null | grep -q '^esp-token: $MODULE'"
# esp-token without --module: /etc/esp-token.conf names the module
mkdir -p "$WORK/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$WORK/tokens" >"$WORK/softhsm2.conf"
SOFTHSM2_CONF=$WORK/softhsm2.conf softhsm2-util --init-token --free --label T-deb \
	--so-pin 87654321 --pin 123456 >/dev/null
check "installed esp-token finds the module through /etc/esp-token.conf" \
	bash -c "HOME='$WORK' SOFTHSM2_CONF='$WORK/softhsm2.conf' esp-token list | grep -q T-deb"

if dpkg --purge esp-client >"$WORK/log" 2>&1; then INSTALLED=; ok "dpkg --purge removes it"
else notok "dpkg --purge removes it"; fi
restore_plain
snapshot "$WORK/after"
check "after the purge the system is as it was (trust store, p11-kit, files)" \
	diff "$WORK/before" "$WORK/after"
check "after the purge the leaf is no longer trusted" \
	bash -c "! openssl verify -untrusted '$WORK/sub.pem' '$WORK/leaf.pem'"

echo "1..$N"
[ "$FAILED" -eq 0 ]
