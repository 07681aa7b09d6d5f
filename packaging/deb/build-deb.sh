#!/bin/bash
# build-deb.sh - builds the client package 证书应用环境,
# esp-client_<version>_<arch>.deb, for one ESP deployment: esp-token, the
# desktop window 证书管理工具 (esp-token-gui) with its desktop entry and icon,
# man pages (Chinese and English), the deployment's CA chain (trusted
# system-wide by postinst) and the p11-kit registration of the token module.
#
#   build-deb.sh --build BUILD_DIR --ca CHAIN.pem --portal URL --out DIR
#                [--server URL] [--module PKCS11.so] [--version V]
#
# --portal is the certificate login address; --server the portal's HTTPS
# address that 证书更新 and 密码解锁 talk to (esp-token and the window read
# it from /etc/esp-token.conf, so holders type no address).
#
# Used by the Meson target esp-client-deb, by scripts/run.sh for its own
# deployment, and by the tests.  Prints the path of the package.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
build= ca= portal= server= out= version= arch=
module=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--ca) ca=$2; shift 2 ;;
	--portal) portal=$2; shift 2 ;;
	--server) server=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--module) module=$2; shift 2 ;;
	--version) version=$2; shift 2 ;;
	*) echo "build-deb.sh: unknown option $1" >&2; exit 1 ;;
	esac
done
die() { echo "build-deb.sh: $*" >&2; exit 1; }
[ -n "$build" ] && [ -n "$ca" ] && [ -n "$portal" ] && [ -n "$out" ] ||
	die "usage: build-deb.sh --build DIR --ca CHAIN.pem --portal URL --out DIR [--module SO] [--version V]"
tok=$build/src/cli/esp-token
gui=$build/src/gui/esp-token-gui
[ -x "$tok" ] || die "$tok missing: build first (ninja -C $build)"
[ -x "$gui" ] || die "$gui missing: GTK 3 (libgtk-3-dev) is needed for the window"
[ -r "$ca" ] || die "CA chain $ca missing (espctl init creates <data_dir>/ca/chain.pem)"
case $portal in https://*) ;; *) die "--portal must be an https:// address" ;; esac
case $portal in *[[:space:]\"\'\\]*) die "--portal must not contain spaces or quotes" ;; esac
case $server in ''|https://*) ;; *) die "--server must be an https:// address" ;; esac
case $server in *[[:space:]\"\'\\]*) die "--server must not contain spaces or quotes" ;; esac
[ -n "$version" ] || version=$("$tok" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)

stage=$(mktemp -d /tmp/esp-client-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
umask 022
pkg=$stage/pkg
mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/share/applications" \
	"$pkg/usr/share/icons/hicolor/scalable/apps" "$pkg/usr/share/man/man1" \
	"$pkg/usr/share/man/zh_CN/man1" "$pkg/usr/share/doc/esp-client" \
	"$pkg/usr/share/ca-certificates/esp-client" "$pkg/usr/share/p11-kit/modules" \
	"$pkg/usr/share/esp-client" "$pkg/etc"

install -m 0755 "$tok" "$pkg/usr/bin/esp-token"
install -m 0755 "$gui" "$pkg/usr/bin/esp-token-gui"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
	"$pkg/usr/bin/esp-token" "$pkg/usr/bin/esp-token-gui"
install -m 0644 "$HERE/esp-token-gui.desktop" "$pkg/usr/share/applications/"
install -m 0644 "$HERE/esp-token-gui.svg" "$pkg/usr/share/icons/hicolor/scalable/apps/"

subst() { sed -e "s|@VERSION@|$version|g" -e "s|@PORTAL@|$portal|g" -e "s|@DATE@|$(date -R -u)|g" "$1"; }
for m in esp-token esp-token-gui; do
	subst "$HERE/$m.1" | gzip -9n >"$pkg/usr/share/man/man1/$m.1.gz"
	subst "$HERE/$m.zh_CN.1" | gzip -9n >"$pkg/usr/share/man/zh_CN/man1/$m.1.gz"
done
install -m 0644 "$HERE/copyright" "$pkg/usr/share/doc/esp-client/copyright"
subst "$HERE/changelog" | gzip -9n >"$pkg/usr/share/doc/esp-client/changelog.gz"

# The CA chain, one certificate per file as update-ca-certificates wants.
openssl crl2pkcs7 -nocrl -certfile "$ca" | openssl pkcs7 -print_certs >"$stage/all.pem"
awk -v dir="$stage" '/-----BEGIN CERTIFICATE-----/ {n++; f = sprintf("%s/ca-%d.pem", dir, n)}
	f {print > f} /-----END CERTIFICATE-----/ {close(f); f = ""}' "$stage/all.pem"
n=0
for c in "$stage"/ca-*.pem; do
	[ -e "$c" ] || die "no certificate in $ca"
	n=$((n + 1))
	openssl x509 -in "$c" -out "$pkg/usr/share/ca-certificates/esp-client/esp-ca-$n.crt"
done
install -m 0644 "$ca" "$pkg/usr/share/esp-client/ca-chain.pem"

# The token module: p11-kit (browsers and tools that read it) and esp-token.
printf '# 证书U盘 (certificate key) module of the ESP client, registered by esp-client\nmodule: %s\n' \
	"$module" >"$pkg/usr/share/p11-kit/modules/esp-token.module"
cat >"$pkg/etc/esp-token.conf" <<EOF
# esp-token and 证书管理工具: the PKCS#11 module of the certificate key
# (证书U盘) and the deployment's certificate login address.
module = $module
portal = $portal
ca-file = /usr/share/esp-client/ca-chain.pem
EOF
[ -z "$server" ] || echo "server = $server" >>"$pkg/etc/esp-token.conf"
echo /etc/esp-token.conf >"$pkg/DEBIAN/conffiles"

for s in postinst prerm postrm; do install -m 0755 "$HERE/$s" "$pkg/DEBIAN/$s"; done

# Shared-library dependencies as dpkg-shlibdeps computes them.
mkdir -p "$stage/src/debian"
printf 'Source: esp-client\n\nPackage: esp-client\nArchitecture: any\n' >"$stage/src/debian/control"
deps=$(cd "$stage/src" && dpkg-shlibdeps -O "$pkg/usr/bin/esp-token" "$pkg/usr/bin/esp-token-gui" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$deps" ] || die "dpkg-shlibdeps found no dependencies"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: esp-client
Version: $version
Architecture: $arch
Maintainer: ESP <esp-client@example.org>
Installed-Size: $size
Depends: $deps, ca-certificates, p11-kit
Recommends: opensc-pkcs11, libnss3-tools
Section: utils
Priority: optional
Description: 证书应用环境 - certificate key tools for $portal
 The client environment of the ESP certificate-key system: esp-token (command
 line) and the desktop window 证书管理工具 to change the PIN of a certificate
 key (证书U盘), view and export its certificates and, at the registration
 authority, unlock it.  Installing it trusts the deployment's CA system-wide
 and registers the token's PKCS#11 module with p11-kit; esp-token
 setup-browser adds the module to Chromium's certificate database.
EOF
(cd "$pkg" && find usr etc -type f -print0 | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums" "$pkg/DEBIAN/conffiles"

mkdir -p "$out"
deb=$out/esp-client_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
