"""A terminal session under measurement: a program on a real PTY whose
output is read with timestamps, and helpers to find text in it.

Output is kept raw; searches look at it with terminal escape sequences
removed, so a key echoed inside a screen update (mosh, tmux) still counts.
"""

import fcntl
import os
import re
import select
import struct
import sys
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "e2e"))

from sshlab import descendants, end_pids  # noqa: E402

ESC_RE = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"          # CSI
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    rb"|\x1b[()*+][0-9A-Za-z]"            # charset designation
    rb"|\x1b[ -/]*[0-~]"                  # other escapes
    rb"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # controls but \t \n \r


def strip(data):
    """Text with escape sequences and control characters removed."""
    return ESC_RE.sub(b"", bytes(data))


class Term:
    """argv on a fresh PTY of rows x cols; output read as it comes."""

    def __init__(self, argv, env, rows=24, cols=80, keep=True, echo=True):
        self.argv = argv
        self.keep = keep
        self.rows = rows
        self.tail = b""
        self.out = bytearray()
        self.total = 0
        self.last_read = None
        self.pid, self.fd = os.forkpty()
        if self.pid == 0:
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ,
                            struct.pack("HHHH", rows, cols, 0, 0))
                if not echo:
                    # A key then shows only when the remote side echoes
                    # it, even while no client holds the terminal in raw
                    # mode (between two ssh runs under autossh).
                    attr = termios.tcgetattr(0)
                    attr[3] &= ~termios.ECHO
                    termios.tcsetattr(0, termios.TCSANOW, attr)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        fl = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
        self.status = None

    def read(self, timeout):
        """Read what arrives within timeout; b"" if nothing, None at EOF."""
        r, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not r:
            return b""
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return b""
        except OSError:
            return None
        if not data:
            return None
        self.last_read = time.monotonic()
        self.answer_cpr(data)
        self.total += len(data)
        if self.keep:
            self.out += data
        return data

    def answer_cpr(self, data):
        """Answer a cursor position request (ESC [ 6 n) as every real
        terminal does at once, here with the bottom row: a program that
        waits for the answer (limpet's notice, up to 300 ms) must not be
        timed waiting for a terminal that never speaks."""
        seen = self.tail + data
        self.tail = seen[-3:]
        for _ in range(seen.count(b"\x1b[6n")):
            try:
                os.write(self.fd, b"\x1b[%d;1R" % self.rows)
            except OSError:
                pass

    def drain(self, quiet=0.05, limit=2.0):
        """Read until nothing came for `quiet` seconds (at most limit)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            d = self.read(quiet)
            if not d:
                return

    def mark(self):
        """A position in the output to search from."""
        return len(self.out)

    def text(self, since=0):
        """Output since a mark, escapes removed."""
        return strip(self.out[since:])

    def wait(self, pattern, timeout, since=None):
        """Wait until the regex pattern (bytes) shows in the text since
        the mark; the match time (monotonic) or None on timeout/EOF."""
        since = self.mark() if since is None else since
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        scanned = since
        while True:
            # Rescan a little before the new bytes: a match may straddle.
            if rx.search(strip(self.out[max(since, scanned - 256):])):
                return time.monotonic()
            scanned = len(self.out)
            left = end - time.monotonic()
            if left <= 0:
                return None
            if self.read(min(left, 0.5)) is None:
                return None

    def send(self, data):
        """Write bytes to the program as typed keys."""
        if isinstance(data, str):
            data = data.encode()
        os.write(self.fd, data)

    def exited(self):
        """The exit status if the program ended, else None."""
        if self.status is None:
            try:
                pid, st = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return -1
            if pid != 0:
                self.status = st
        return self.status

    def close(self):
        """End the program and everything it started, by pid."""
        pids = [self.pid] + descendants(self.pid)
        end_pids(pids, grace=1.0)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass
