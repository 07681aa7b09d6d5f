#!/usr/bin/python3
"""atspi.py - reads what the desktop window 证书管理工具 shows, through the
accessibility bus (AT-SPI), for tests/desktop/test_desktop.sh.

  atspi.py wait TEXT [TIMEOUT]      until some widget of esp-token-gui shows TEXT
  atspi.py gone TEXT [TIMEOUT]      until no widget shows TEXT any more
  atspi.py window TITLE [TIMEOUT]   until a window (frame or dialog) TITLE is open
  atspi.py nowindow TITLE [TIMEOUT] until no window TITLE is open
  atspi.py focus NAME [TIMEOUT]     until the focused widget of the active window is NAME
  atspi.py focused                  print the name of that widget
  atspi.py dump                     print the widget tree

Needs Debian's python3-gi and gir1.2-atspi-2.0 (run with /usr/bin/python3)
and a session bus (dbus-run-session).  Exit 0 when the condition holds,
1 on timeout (the tree is printed to stderr for the log).
"""
import sys
import time

import gi

gi.require_version('Atspi', '2.0')
from gi.repository import Atspi  # noqa: E402

APP = 'esp-token-gui'


def apps():
    desk = Atspi.get_desktop(0)
    for i in range(desk.get_child_count()):
        a = desk.get_child_at_index(i)
        try:
            if a is not None and a.get_name() == APP:
                yield a
        except Exception:  # the widget went away while we read it
            continue


def texts(obj):
    """The name and, for text widgets, the text of obj."""
    out = []
    try:
        name = obj.get_name()
        if name:
            out.append(name)
        if 'Text' in obj.get_interfaces():
            s = Atspi.Text.get_text(obj, 0, -1)
            if s and s != name:
                out.append(s)
    except Exception:  # the widget went away while we read it
        pass
    return out


def walk(obj, depth=0):
    yield obj, depth
    try:
        n = obj.get_child_count()
    except Exception:  # the widget went away while we read it
        return
    for i in range(n):
        c = obj.get_child_at_index(i)
        if c is not None:
            yield from walk(c, depth + 1)


def showing(obj):
    try:
        return obj.get_state_set().contains(Atspi.StateType.SHOWING)
    except Exception:  # the widget went away while we read it
        return False


def shown_texts():
    for a in apps():
        for o, _ in walk(a):
            if o.get_role() in (Atspi.Role.FRAME, Atspi.Role.DIALOG, Atspi.Role.FILE_CHOOSER,
                                Atspi.Role.ALERT, Atspi.Role.TABLE_CELL) or showing(o):
                yield o, texts(o)


def windows():
    for a in apps():
        for i in range(a.get_child_count()):
            w = a.get_child_at_index(i)
            if w is not None:
                yield w.get_name() or ''


def has_text(text):
    return any(text in s for _, ts in shown_texts() for s in ts)


def dump(fp):
    for a in apps():
        for o, d in walk(a):
            try:
                role = o.get_role_name()
            except Exception:  # the widget went away while we read it
                continue
            fp.write('%s%s | %s\n' % ('  ' * d, role, ' / '.join(texts(o))))


def poll(cond, timeout):
    end = time.time() + timeout
    while True:
        try:
            Atspi.Accessible.clear_cache(Atspi.get_desktop(0))
            if cond():
                return 0
        except Exception:  # a window closed under us: look again
            pass
        if time.time() > end:
            dump(sys.stderr)
            return 1
        time.sleep(0.2)


def focused_name():
    """The focused widget of the active window (an inactive window may keep
    its own focus widget marked focused)."""
    for a in apps():
        wins = [a.get_child_at_index(i) for i in range(a.get_child_count())]
        for w in wins:
            try:
                if w is None or not w.get_state_set().contains(Atspi.StateType.ACTIVE):
                    continue
            except Exception:  # the window went away while we read it
                continue
            for o, _ in walk(w):
                try:
                    if o.get_state_set().contains(Atspi.StateType.FOCUSED):
                        return o.get_name() or ''
                except Exception:  # the widget went away while we read it
                    continue
    return None


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    arg = argv[2] if len(argv) > 2 else ''
    timeout = float(argv[3]) if len(argv) > 3 else 10.0
    if cmd == 'wait':
        return poll(lambda: has_text(arg), timeout)
    if cmd == 'gone':
        return poll(lambda: not has_text(arg), timeout)
    if cmd == 'window':
        return poll(lambda: arg in windows(), timeout)
    if cmd == 'nowindow':
        return poll(lambda: arg not in windows(), timeout)
    if cmd == 'focus':
        return poll(lambda: focused_name() == arg, timeout)
    if cmd == 'focused':
        print(focused_name())
        return 0
    if cmd == 'dump':
        dump(sys.stdout)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
