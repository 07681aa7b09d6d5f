#!/usr/bin/env python3
"""Run a command on a pseudo-terminal and answer its prompts (test helper).

Usage: tty_run.py ANSWER... -- COMMAND [ARGS...]

Each time the command prints a prompt ending in the full-width colon "：" on
its terminal (a line not starting with "esp-token:", which are messages), the next ANSWER is typed followed by Enter.  Everything the
command wrote to the terminal goes to stdout.  Exit status: the command's,
or 90 if an answer was echoed back (the terminal echo was not switched off).
"""
import os
import pty
import select
import sys

PROMPT_END = "：".encode()


def main():
    sep = sys.argv.index("--")
    answers = [a.encode() for a in sys.argv[1:sep]]
    cmd = sys.argv[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen = b""
    pending = b""
    while True:
        r, _, _ = select.select([fd], [], [], 10)
        if not r:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        pending += chunk
        last = pending.rstrip().rsplit(b"\n", 1)[-1]
        # a prompt, not a message line such as "esp-token: 错误：..."
        if last.endswith(PROMPT_END) and not last.startswith(b"esp-token:") and answers:
            os.write(fd, answers.pop(0) + b"\n")
            pending = b""
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(seen.decode(errors="replace"))
    for a in sys.argv[1:sep]:
        if a.encode() in seen:
            return 90
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
