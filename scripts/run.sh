#!/usr/bin/env bash
# Builds ESP and runs it on its embedded default (SQLite in var/): on first
# start creates the CA, the base data and demo accounts, then prints the URLs
# and the demo accounts and serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh run
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
ninja -C build >/dev/null
data=${ESP_DATA_DIR:-var}
# The addresses printed below follow the listeners given on the command line.
http=127.0.0.1:8080 https=127.0.0.1:8443 login=127.0.0.1:8444
for a in "$@"; do
  case $a in
    --http_listen=*) http=${a#*=} ;;
    --https_listen=*) https=${a#*=} ;;
    --login_listen=*) login=${a#*=} ;;
  esac
done
ctl() { ./build/src/cli/espctl --data_dir="$data" "$@"; }
set +e
ctl init >/dev/null; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 3 ] && { echo "espctl init failed ($rc)" >&2; exit 2; }
ctl demo >/dev/null; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 3 ] && { echo "espctl demo failed ($rc)" >&2; exit 2; }
# Demo RA directory for 北京 and 福建 (fictitious accounts); other provinces stay unconfigured.
[ $rc -eq 0 ] && ctl directory load scripts/demo-ra-directory.csv >/dev/null
set -e
# 证书应用环境: the client package of this deployment (its CA chain inside),
# offered on the driver page; rebuilt at every start so it follows the build.
if pkg=$(bash packaging/deb/build-deb.sh --build build --ca "$data/ca/chain.pem" \
	--portal "https://${login:-127.0.0.1:8444}/" ${https:+--server "https://$https"} \
	--out "$data/client.new" 2>&1); then
  rm -rf "$data/client" && mv "$data/client.new" "$data/client"
else
  rm -rf "$data/client.new"; echo "warning: client package not built: $pkg" >&2
fi
url() { if [ -n "$2" ]; then echo "$1://$2/"; else echo "(off) "; fi; }
cat <<MSG

ESP 交通运输企业安全生产标准化管理系统 · 证书U盘申请
  门户 (HTTP):        $(url http "$http")
  门户 (HTTPS):       $(url https "$https")   (CA: $data/ca/chain.pem)
  证书U盘登录 (mTLS):  $(url https "$login")   (client certificate issued by ESP's CA)
  帮助:               $(url http "$http")help
  演示账户 demo accounts ($data/demo-accounts.tsv):
MSG
awk -F'\t' '{ printf "    %-9s %-22s %-10s %-14s %s\n", $1, $2, $3, $4, $5 }' "$data/demo-accounts.tsv"
echo
# Password login for staff is a demo convenience; production keeps it off.
exec ./build/src/httpd/espd --data_dir="$data" --staff_password_login=true "$@"
