#!/bin/bash
# test_desktop.sh - drives the real desktop window 证书管理工具 (esp-token-gui)
# under Xvfb on SoftHSM2 tokens (TAP output): keys typed with xdotool, what
# the window shows read back through AT-SPI (atspi.py), the PIN checked
# afterwards with pkcs11-tool.  Every test saves a screenshot.
#
#   tests/desktop/test_desktop.sh [path/to/esp-token-gui]
#
# Screenshots go to $ESP_SCREENSHOTS (default build/screenshots/desktop).
# Needs: xvfb, openbox, xdotool, imagemagick, dbus, python3-gi, gir1.2-atspi-2.0,
# softhsm2, opensc (pkcs11-tool), openssl.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GUI=${1:-${ESP_TOKEN_GUI:-$ROOT/build/src/gui/esp-token-gui}}
[ -x "$GUI" ] || { echo "Bail out! esp-token-gui not found (give its path)"; exit 2; }
GUI=$(realpath "$GUI") # the window is started in a directory of its own
MODULE=/usr/lib/softhsm/libsofthsm2.so
[ -r "$MODULE" ] || { echo "Bail out! $MODULE missing"; exit 2; }
for t in Xvfb openbox xdotool import dbus-run-session pkcs11-tool softhsm2-util; do
	command -v "$t" >/dev/null || { echo "Bail out! $t missing"; exit 2; }
done

# The accessibility bus needs a session bus of our own.
if [ -z "${ESP_DESKTOP_BUS:-}" ]; then
	exec dbus-run-session -- env ESP_DESKTOP_BUS=1 bash "$0" "$GUI" 2> >(grep -v -e 'dbus-daemon' -e 'SpiRegistry' >&2)
fi

SHOTS=${ESP_SCREENSHOTS:-$ROOT/build/screenshots/desktop}
mkdir -p "$SHOTS"
WORK=$(mktemp -d /tmp/esp-desktop-test.XXXXXX)
XVFB_PID=
WM_PID=
GUI_PID=
cleanup() {
	[ -n "$GUI_PID" ] && kill "$GUI_PID" 2>/dev/null
	[ -n "$WM_PID" ] && kill "$WM_PID" 2>/dev/null
	[ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
export HOME=$WORK/home # no user configuration file interferes
mkdir -p "$HOME"
export GTK_THEME=Adwaita NO_AT_BRIDGE=0 GTK_A11Y=atspi
# A Chinese desktop, as the clerks have: GTK's own dialog texts (the file
# chooser) in Chinese too.  The locale is built into the work directory when
# the system has none, so nothing outside it changes.
if locale -a 2>/dev/null | grep -qi '^zh_CN.utf-\?8$'; then
	export LANG=zh_CN.UTF-8
elif mkdir -p "$WORK/locale" && localedef -i zh_CN -f UTF-8 "$WORK/locale/zh_CN.UTF-8" 2>/dev/null ||
	[ -d "$WORK/locale/zh_CN.UTF-8" ]; then
	export LOCPATH=$WORK/locale LANG=zh_CN.UTF-8
else
	export LANG=C.UTF-8
fi
unset LC_ALL LANGUAGE

# A display number of Xvfb's own choosing: runs in parallel do not collide.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$WORK/display" 2>/dev/null &
XVFB_PID=$!
for _ in $(seq 50); do [ -s "$WORK/display" ] && break; sleep 0.1; done
[ -s "$WORK/display" ] || { echo "Bail out! Xvfb did not start"; exit 2; }
export DISPLAY=:$(head -1 "$WORK/display")
# A window manager, as on a desktop: it gives dialogs the keyboard focus
# (and the screenshots title bars).
openbox --sm-disable >/dev/null 2>&1 &
WM_PID=$!
sleep 0.5

N=0
FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $1"; }
notok() {
	N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"
	[ -f "$WORK/gui.log" ] && sed 's/^/# gui: /' "$WORK/gui.log" | tail -15
	[ -f "$WORK/atspi.err" ] && sed 's/^/# atspi: /' "$WORK/atspi.err" | head -60
	return 0
}
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }

atspi() { /usr/bin/python3 "$HERE/atspi.py" "$@" 2>"$WORK/atspi.err"; }
shows() { atspi wait "$1" "${2:-10}"; }
keys() { xdotool key --delay 60 "$@"; }
typed() { xdotool type --delay 40 "$1"; }
shot() { import -window root "$SHOTS/$1.png"; }

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
}
pin_works() { pkcs11-tool --module "$MODULE" --login --pin "$1" --list-objects >/dev/null 2>&1; }
pin_refused() { ! pin_works "$1"; }

# A CA and, on the current token, a certificate of 张三 of 福州顺达运输有限公司
# valid for DAYS days (CKA_ID 01) plus the CA certificate.
make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -utf8 \
		-keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 3650 \
		-subj "/C=CN/O=福建省交通运输厅/CN=ESP 测试颁发CA" 2>/dev/null
}
add_cert() { # DAYS SERIAL
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -utf8 \
		-keyout "$WORK/u.key" -out "$WORK/u.csr" \
		-subj "/C=CN/O=福州顺达运输有限公司/CN=张三" 2>/dev/null
	openssl x509 -req -in "$WORK/u.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
		-days "$1" -set_serial "0x$2" -outform der -out "$WORK/u.der" 2>/dev/null
	openssl x509 -in "$WORK/ca.pem" -outform der -out "$WORK/ca.der"
	pkcs11-tool --module "$MODULE" --login --pin 123456 --write-object "$WORK/u.der" \
		--type cert --id 01 --label esp-ESP-2026-000123 >/dev/null 2>&1
	pkcs11-tool --module "$MODULE" --login --pin 123456 --write-object "$WORK/ca.der" \
		--type cert --label "ESP CA" >/dev/null 2>&1
}

start_gui() { # LABEL of the key the window must show
	# started in an empty directory: the file dialog opens there, and a bare
	# file name (no path completion popping up) saves into it
	mkdir -p "$WORK/export"
	(cd "$WORK/export" && exec "$GUI" --module "$MODULE") >"$WORK/gui.log" 2>&1 &
	GUI_PID=$!
	atspi window 证书管理工具 15 && shows "$1" 10
}
stop_gui() {
	[ -n "$GUI_PID" ] && kill "$GUI_PID" 2>/dev/null && wait "$GUI_PID" 2>/dev/null
	GUI_PID=
}
gui_alive() { [ -n "$GUI_PID" ] && kill -0 "$GUI_PID" 2>/dev/null; }

# open_dialog KEY TITLE: the accelerator of a button, then wait for the dialog
open_dialog() { keys "$1" && atspi window "$2" 10; }
# fill A B C: the three fields in Tab order (Tab selects a field's text, so
# typing replaces it), then Enter (确定)
fill() {
	keys ctrl+a; typed "$1"; keys Tab; typed "$2"; keys Tab; typed "$3"; keys Return
}

make_ca

# ---------------------------------------------------------------- the window
new_token main "福建运输-001"
add_cert 30 1A2B3C4D
# as the client package writes it into /etc/esp-token.conf
mkdir -p "$HOME/.config"
printf 'portal = https://esp.example.org:8444/\n' >"$HOME/.config/esp-token.conf"
if start_gui "福建运输-001"; then ok "window shows the inserted key by its label"
else notok "window shows the inserted key by its label"; fi
check "certificate list: holder (unit / person)" shows "福州顺达运输有限公司 / 张三"
check "certificate list: 证书序列号" shows "1A2B3C4D"
check "certificate list: issuer" shows "ESP 测试颁发CA"
check "certificate list: days left, marked 即将过期" shows "即将过期"
check "warning in the last 60 days names the date" shows "天后（"
check "the keyboard starts in the list of keys" atspi focus 证书U盘列表 3
check "the certificate login address from esp-token.conf" \
	shows "证书U盘登录地址：https://esp.example.org:8444/"
shot 01-main-window

# ---------------------------------------------------------------- 修改密码
if open_dialog alt+m 修改密码 && atspi focus 当前密码 5; then
	ok "Alt+M opens 修改密码 with the cursor in 当前密码"
else notok "Alt+M opens 修改密码 with the cursor in 当前密码"; fi
# Tab order: 当前密码 → 新密码 → 确认新密码 → 【确定】, and back with Shift+Tab
tab_order() {
	keys Tab && atspi focus 新密码 3 && keys Tab && atspi focus 确认新密码 3 &&
		keys Tab && atspi focus 确定 3 && keys shift+Tab shift+Tab shift+Tab &&
		atspi focus 当前密码 3
}
check "Tab order: 当前密码, 新密码, 确认新密码, 确定" tab_order
check "dialog has 当前密码, 新密码, 确认新密码" \
	bash -c "/usr/bin/python3 '$HERE/atspi.py' wait 新密码 5 && /usr/bin/python3 '$HERE/atspi.py' wait 确认新密码 5"
fill wrong99 abcdef12 abcdef12
check "wrong current PIN: 当前密码错误 shown" shows "当前密码错误，密码没有修改"
check "wrong current PIN: retries left shown" shows "剩余重试次数"
shot 02-passwd-wrong-pin
check "wrong current PIN: the old PIN still works" pin_works 123456
check "wrong current PIN: the new PIN does not" pin_refused abcdef12

check "after a wrong PIN the cursor is back in 当前密码" atspi focus 当前密码 3
fill 123456 abcdef12 abcdef13
check "mismatch: 两次输入的新密码不一致 shown" shows "两次输入的新密码不一致"
shot 03-passwd-mismatch
check "mismatch: PIN unchanged" pin_works 123456

check "after a refused new PIN the cursor is in 新密码" atspi focus 新密码 3
keys shift+Tab # back to 当前密码
fill 123456 12345 12345
check "5-character PIN refused with the rule" shows "新密码长度必须为6–16个字符（现在是5个）"
shot 04-passwd-short
check "5-character PIN: PIN unchanged" pin_works 123456

keys Escape
check "Esc closes the dialog (取消)" atspi nowindow 修改密码 5
check "cancelled: PIN unchanged" pin_works 123456

open_dialog alt+m 修改密码
fill 123456 abcdef12 abcdef12
check "right PIN: the dialog closes" atspi nowindow 修改密码 10
check "right PIN: 密码已修改 shown" shows "密码已修改"
shot 05-passwd-done
check "right PIN: pkcs11-tool --login accepts the new PIN" pin_works abcdef12
check "right PIN: pkcs11-tool --login refuses the old PIN" pin_refused 123456

# ---------------------------------------------------------------- 查看 / 导出
if open_dialog alt+v 查看证书 && shows "SHA-256 指纹" 5 && shows "有效期至" 3 &&
	shows "用户证书" 3; then
	ok "Alt+V: 查看证书 shows 证书类型, 有效期至 and the fingerprint"
else notok "Alt+V: 查看证书 shows 证书类型, 有效期至 and the fingerprint"; fi
shot 06-view-cert
keys Escape
check "查看证书 closes with Esc" atspi nowindow 查看证书 5

open_dialog alt+e 导出证书
keys ctrl+a
typed out.der
keys Return
check "导出证书 (DER): status names the file" shows "证书已导出到 $WORK/export/out.der（DER 格式）"
check "导出证书 (DER): the file is the certificate" \
	cmp -s "$WORK/export/out.der" "$WORK/u.der"
open_dialog alt+e 导出证书
keys ctrl+a
typed out.pem
keys Return
shows "（PEM 格式）" 5
check "导出证书 (PEM): the same certificate" \
	bash -c "openssl x509 -in '$WORK/export/out.pem' -outform der | cmp -s - '$WORK/u.der'"
shot 07-export-cert

# ---------------------------------------------------------------- hotplug
softhsm2-util --init-token --free --label "第二个证书U盘" --so-pin 87654321 --pin 222222 >/dev/null
check "plugging in a second key shows it" shows "第二个证书U盘" 10
shot 08-second-key
softhsm2-util --delete-token --token "第二个证书U盘" >/dev/null 2>&1
check "pulling it out removes it" atspi gone "第二个证书U盘" 10
check "the window is still running" gui_alive
stop_gui

# ---------------------------------------------------------------- 解锁
new_token unlock "RA-待解锁" 87654321 123456
start_gui "RA-待解锁" >/dev/null
check "key without certificates: the window says so" shows "还没有用户证书"
if open_dialog alt+u 解锁 && atspi focus 管理员PIN码 5; then ok "Alt+U opens 解锁 at 管理员PIN码"
else notok "Alt+U opens 解锁 at 管理员PIN码"; fi
fill 11111111 333333 333333
check "wrong SO PIN: 管理员PIN码错误 shown" shows "管理员PIN码错误"
shot 09-unlock-wrong-so
check "wrong SO PIN: user PIN unchanged" pin_works 123456
fill 87654321 333333 333333
check "unlock with the SO PIN: dialog closes" atspi nowindow 解锁 10
check "unlock: 已解锁 shown" shows "证书U盘已解锁"
shot 10-unlock-done
check "unlock: pkcs11-tool --login accepts the new user PIN" pin_works 333333
check "unlock: the old user PIN is refused" pin_refused 123456
check "no PIN in the window's log" bash -c "! grep -E '87654321|333333|123456|abcdef1' '$WORK/gui.log'"
stop_gui

echo "1..$N"
[ "$FAILED" -eq 0 ]
