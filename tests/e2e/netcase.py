"""Helpers for limpet's network end-to-end tests (test_network.py).

A NetLab (tests/netlab.py) gives client, router and server namespaces
with a NAT between; an SshLab runs a real sshd in the server namespace;
the limpet client runs in the client namespace on a real PTY.  This
module adds what those tests need on top:

- Screen: drains a pexpect child in a thread and keeps every byte with
  its arrival time, so a test can ask when a line first appeared, and
  strips limpet's own "no contact" notice (drawn between pieces of
  session output) before the session's output is checked;
- Session: one limpet client with its log, typing a command and timing
  its answer, and reading the reconnect count from the ~s status;
- numbered-stream checks: a remote loop prints L1, L2, ... and the
  screen must show each number exactly once, in order.
"""

import bisect
import os
import re
import shlex
import threading
import time

import pexpect
import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# limpet's notice and status are bracketed by save/restore cursor
# (ESC 7 ... ESC 8); nothing else in these sessions uses them.
NOTICE_RE = re.compile(r"\x1b7.*?\x1b8", re.S)
LINE_RE = re.compile(r"(?<![0-9A-Za-z])L(\d+)\r\n")

# A remote loop printing numbered lines every 0.1 s, in the background
# of an interactive sh so commands can still be typed.  The typed text
# holds no "L<digits>" itself, so its echo cannot pass for a line.
STREAM_CMD = ("i=0; while :; do i=$((i+1)); echo \"L$i\"; sleep 0.1; "
              "done &")


def missing(reason):
    """Skip with one line, or fail in CI where nothing may be missing."""
    if IN_CI:
        pytest.fail(reason + " (CI=true: required)", pytrace=False)
    pytest.skip(reason)


def tail(path, limit=4000):
    """The end of a text file, or a note that it is missing."""
    try:
        with open(path, errors="replace") as f:
            return f.read()[-limit:]
    except OSError as e:
        return "(%s)" % e


class Screen:
    """Everything a child printed, with arrival times, read in a thread."""

    def __init__(self, child):
        self.child = child
        self.raw = ""
        self.ends = []		# raw length after each chunk
        self.times = []		# arrival time of each chunk
        self.cond = threading.Condition()
        self.eof = False
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.2)
            except pexpect.TIMEOUT:
                continue
            except Exception:
                break
            now = time.monotonic()
            with self.cond:
                self.raw += data
                self.ends.append(len(self.raw))
                self.times.append(now)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def time_at(self, pos):
        """When the raw byte at pos arrived."""
        with self.cond:
            i = bisect.bisect_right(self.ends, pos)
            return self.times[min(i, len(self.times) - 1)]

    def clean(self, start=0):
        """(text, rawpos) from raw offset start, limpet's notices removed.

        rawpos[i] is the raw offset of text[i].
        """
        with self.cond:
            raw = self.raw[start:]
        text, rawpos, at = [], [], 0
        for m in NOTICE_RE.finditer(raw):
            text.append(raw[at:m.start()])
            rawpos.extend(range(start + at, start + m.start()))
            at = m.end()
        text.append(raw[at:])
        rawpos.extend(range(start + at, start + len(raw)))
        return "".join(text), rawpos

    def mark(self):
        """The current end of the transcript, to search after."""
        with self.cond:
            return len(self.raw)

    def wait(self, pattern, timeout, start=0, clean=True):
        """Wait for pattern after raw offset start.

        Returns (match, arrival time of its last byte, raw end offset);
        raises AssertionError with the transcript tail on timeout.
        """
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            if clean:
                text, rawpos = self.clean(start)
            else:
                with self.cond:
                    text = self.raw[start:]
                rawpos = range(start, start + len(text))
            m = rx.search(text)
            if m is not None:
                end = rawpos[m.end() - 1]
                return m, self.time_at(end), end + 1
            with self.cond:
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    why = "ended" if self.eof else \
                        "timed out after %.1fs" % timeout
                    raise AssertionError("%r not seen (%s); screen ends "
                                         "with:\n%r" % (pattern, why,
                                                        text[-1500:]))
                self.cond.wait(min(left, 0.5))

    def lines(self, start=0):
        """[(number, arrival time)] of the L<n> lines after start."""
        text, rawpos = self.clean(start)
        return [(int(m.group(1)), self.time_at(rawpos[m.end() - 1]))
                for m in LINE_RE.finditer(text)]


def stream_problems(numbers):
    """What is wrong with a sequence that should be 1, 2, ..., n."""
    probs = []
    if not numbers:
        return ["no numbered lines at all"]
    if numbers[0] != 1:
        probs.append("starts at L%d" % numbers[0])
    seen = set()
    for prev, cur in zip(numbers, numbers[1:]):
        if cur in seen:
            probs.append("L%d again after L%d (duplicate)" % (cur, prev))
        elif cur != prev + 1:
            probs.append("L%d after L%d (%s)" % (
                cur, prev, "gap" if cur > prev else "out of order"))
        seen.add(prev)
    return probs[:10]


class Session:
    """One limpet client on a PTY, with its own log file."""

    counter = 0

    def __init__(self, name, spawn, lab, limpet_bin, logdir, netns=None,
                 opts=(), command=("sh",), rows=24, cols=80, env=None):
        self.name = name
        self.lab = lab
        self.log = os.path.join(logdir, "%s-client.log" % name)
        self.server_log = os.path.join(logdir, "%s-server.log" % name)
        # The relay and daemon log where LIMPET_LOG says; sshd passes
        # only its SetEnv, so a wrapper sets it for the server side.
        wrapper = os.path.join(logdir, "%s-server.sh" % name)
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nLIMPET_LOG=%s exec %s \"$@\"\n" % (
                shlex.quote(self.server_log), shlex.quote(limpet_bin)))
        os.chmod(wrapper, 0o755)
        argv = [limpet_bin, "--server-path", wrapper, "--verbose"]
        # These tests read the session's byte stream off the terminal;
        # predictive echo draws between its pieces (test_predict.py
        # covers it), so it is off unless a test asks for it.
        if not any(o.startswith("--predict") for o in opts):
            argv += ["--predict", "never"]
        argv += list(opts) + ["-F", lab.ssh_config, "lab"] + list(command)
        self.child = spawn(argv, netns=netns, rows=rows, cols=cols,
                           env=dict(env or {}, LIMPET_LOG=self.log),
                           timeout=5)
        self.screen = Screen(self.child)
        self.rows = rows
        self.serial = 0

    def type(self, text):
        """Send keystrokes as the user would."""
        self.child.send(text)

    def ready(self, timeout=20):
        """Wait for the remote sh to answer a first command."""
        self.command(timeout=timeout)

    def command(self, timeout=20):
        """Type a command and wait for its answer: seconds it took."""
        self.serial += 1
        tag = "%s%d" % (self.name, 1000 + self.serial)
        start = self.screen.mark()
        t = time.monotonic()
        # The echo shows the arithmetic; only the answer shows the sum.
        self.type("echo %s$((1000+%d))\r" % (self.name, self.serial))
        _, seen, _ = self.screen.wait(re.escape(tag) + r"\r\n", timeout,
                                      start)
        return seen - t

    def status(self, timeout=10):
        """Ask limpet for ~s; returns {"reconnects": n, "state": ...}."""
        start = self.screen.mark()
        self.type("\r~s")
        m, _, _ = self.screen.wait(
            r"\[limpet status: [^\]]*\]\r\n  state: +([^\r]*)\r\n"
            r"(?:.*\r\n)*?  reconnects: +(\d+)", timeout, start,
            clean=False)
        return {"state": m.group(1), "reconnects": int(m.group(2))}

    def client_log(self):
        """What the client logged (connection losses, attempts)."""
        return tail(self.log, 10 ** 6)

    def logs(self):
        """Client and server log tails, for a failure report."""
        return ("---- %s client log ----\n%s\n---- %s server log ----\n%s"
                % (self.name, tail(self.log), self.name,
                   tail(self.server_log)))

