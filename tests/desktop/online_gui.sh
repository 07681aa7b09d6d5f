#!/bin/bash
# online_gui.sh - drives 【证书更新】 or 【密码解锁】 of the real desktop window
# 证书管理工具 (esp-token-gui) under Xvfb against a running espd, on a SoftHSM2
# token the caller prepared: enrolled with its renewal paid
# (tests/integration/token/token_renewal.test.mjs), or with its remote
# unlock approved (token_unlock.test.mjs); the caller then checks the token
# and the store.  Keys typed with xdotool, the window read back through
# AT-SPI (atspi.py); screenshots before, of the dialog and after.
#
#   SOFTHSM2_CONF=... online_gui.sh GUI SERVER TOKEN-LABEL SHOTS-DIR renew PIN
#   SOFTHSM2_CONF=... online_gui.sh GUI SERVER TOKEN-LABEL SHOTS-DIR unlock APPLICATION CODE NEW-PIN
#
# Exit 0 when the window says the operation is complete; the window's log is
# printed on failure.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
GUI=$1 SERVER=$2 LABEL=$3 SHOTS=$4 MODE=$5
MODULE=/usr/lib/softhsm/libsofthsm2.so
for t in Xvfb openbox xdotool import dbus-run-session; do
	command -v "$t" >/dev/null || { echo "missing $t"; exit 77; }
done
if [ -z "${ESP_DESKTOP_BUS:-}" ]; then
	exec dbus-run-session -- env ESP_DESKTOP_BUS=1 bash "$0" "$@" 2> >(grep -v -e 'dbus-daemon' -e 'SpiRegistry' >&2)
fi
mkdir -p "$SHOTS"
WORK=$(mktemp -d /tmp/esp-online-gui.XXXXXX)
XVFB_PID= WM_PID= GUI_PID=
cleanup() {
	[ -n "$GUI_PID" ] && kill "$GUI_PID" 2>/dev/null
	[ -n "$WM_PID" ] && kill "$WM_PID" 2>/dev/null
	[ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
export HOME=$WORK/home GTK_THEME=Adwaita NO_AT_BRIDGE=0 GTK_A11Y=atspi LANG=C.UTF-8
mkdir -p "$HOME"
unset LC_ALL LANGUAGE
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$WORK/display" 2>/dev/null &
XVFB_PID=$!
for _ in $(seq 50); do [ -s "$WORK/display" ] && break; sleep 0.1; done
[ -s "$WORK/display" ] || { echo "Xvfb did not start"; exit 2; }
export DISPLAY=:$(head -1 "$WORK/display")
openbox --sm-disable >/dev/null 2>&1 &
WM_PID=$!
sleep 0.5
# atspi.py aborts (SIGTRAP) when the accessibility bus does not answer in time,
# as on a loaded machine: a crash is asked again, a plain "no" is an answer.
atspi() {
	local rc
	for _ in 1 2 3; do
		/usr/bin/python3 "$HERE/atspi.py" "$@" 2>>"$WORK/atspi.err"
		rc=$?
		[ "$rc" -lt 128 ] && return "$rc"
		sleep 1
	done
	return "$rc"
}
fail() {
	echo "FAIL: $1"
	sed 's/^/gui: /' "$WORK/gui.log"
	import -window root "$SHOTS/$MODE-failed.png"
	exit 1
}
# Waits are generous: under ASan on a loaded machine the window and the
# accessibility bus answer slowly, and a wait costs its length only on failure.
# the server from esp-token.conf, as the client package writes it
mkdir -p "$HOME/.config"
printf 'server = %s\n' "$SERVER" >"$HOME/.config/esp-token.conf"
"$GUI" --module "$MODULE" >"$WORK/gui.log" 2>&1 &
GUI_PID=$!
atspi window 证书管理工具 45 && atspi wait "$LABEL" 30 || fail "the window shows the key"
import -window root "$SHOTS/$MODE-01-before.png"
if [ "$MODE" = renew ]; then
	PIN=$6 SECRET=$6
	xdotool key --delay 60 alt+r
	atspi window 证书更新 30 && atspi focus 密码 15 || fail "Alt+R opens 证书更新 at 密码"
	xdotool key Return
	atspi wait "请输入证书U盘的密码。" 15 || fail "an empty 密码 is refused with a reason"
	xdotool type --delay 40 "$PIN"
	import -window root "$SHOTS/$MODE-02-dialog.png"
	xdotool key Return
	atspi nowindow 证书更新 30 || fail "the dialog closes"
	atspi wait "证书更新完成" 120 || fail "the window says 证书更新完成"
else
	APP=$6 CODE=$7 NEWPIN=$8 SECRET=$8
	xdotool key --delay 60 alt+l
	atspi window 密码解锁 30 && atspi focus 申请编号 15 || fail "Alt+L opens 密码解锁 at 申请编号"
	# a mismatched new PIN is refused in the dialog, nothing sent
	xdotool type --delay 40 "$APP"; xdotool key Tab; xdotool type --delay 20 "$CODE"
	xdotool key Tab; xdotool type --delay 40 "$NEWPIN"; xdotool key Tab; xdotool type --delay 40 "${NEWPIN}x"
	xdotool key Return
	atspi wait "两次输入的新密码不一致" 15 || fail "a mismatched new PIN is refused"
	atspi focus 新密码 10 || fail "the cursor is back in 新密码"
	xdotool type --delay 40 "$NEWPIN"; xdotool key Tab; xdotool type --delay 40 "$NEWPIN"
	import -window root "$SHOTS/$MODE-02-dialog.png"
	xdotool key Return
	atspi nowindow 密码解锁 30 || fail "the dialog closes"
	atspi wait "密码解锁完成" 120 || fail "the window says 密码解锁完成"
fi
# the list shows the token again once the window has rescanned
sleep 1
import -window root "$SHOTS/$MODE-03-done.png"
kill -0 "$GUI_PID" || fail "the window is still running"
grep -q -- "$SECRET" "$WORK/gui.log" && fail "the PIN is in the window's log"
sed 's/^/gui: /' "$WORK/gui.log"
exit 0
