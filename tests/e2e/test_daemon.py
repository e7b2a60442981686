"""End-to-end tests of the session daemon, spoken to in frames.

No ssh and no limpet client here: `limpet relay` is run locally to start a
session (as sshd would), and the tests then talk to the daemon's socket
with a small frame client written from docs/PROTOCOL.md, so they can do
what a real client never does (stop reading, ignore the input window,
connect and say nothing).
"""

import os
import random
import socket
import struct
import subprocess
import tempfile
import time

import pytest

import sshlab
import wire
from test_session import wait_for  # noqa: E402 (one copy of the helper)

MAGIC = b"\0LIMPET\1"
VERSION = 2
(HELLO, WELCOME, DATA, ACK, PING, PONG, RESIZE, DETACH, EXIT, ERROR,
 SESSION, DONE, NOTICE, WINDOW) = range(1, 15)
OP_NEW, OP_ATTACH, OP_LIST, OP_KILL, OP_INFO = range(1, 6)
RESUME = 1
INPUT_WINDOW = 1024 * 1024


sstr = wire.string
frame = wire.frame


def hello(op, sid="", argv=(), env=(), flags=0, client_id=1, out_have=0,
          rows=24, cols=80):
    return wire.hello(op, sid, argv, env, flags, rows, cols, client_id,
                      out_have)


def parse_str(b, i):
    n, = struct.unpack_from(">I", b, i)
    return b[i + 4:i + 4 + n], i + 4 + n


class Peer:
    """A frame connection to a daemon socket (or a relay's stdio)."""

    def __init__(self, path=None, sock=None):
        self.s = sock or socket.socket(socket.AF_UNIX)
        if path is not None:
            self.s.connect(path)
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.s.sendall(data)

    def frame(self, timeout=10.0):
        """The next frame as (type, payload); None at end of stream."""
        deadline = time.monotonic() + timeout
        while True:
            got = wire.take(self.buf)
            if got is not None:
                f, self.buf = got
                return f
            if self.eof:
                return None
            left = deadline - time.monotonic()
            assert left > 0, "no frame from the daemon in %.1fs" % timeout
            self.s.settimeout(left)
            try:
                got = self.s.recv(1 << 16)
            except (ConnectionResetError, BrokenPipeError):
                got = b""
            if not got:
                self.eof = True
            self.buf += got

    def expect(self, want, timeout=10.0):
        """Skip frames until one of type want; return its payload."""
        while True:
            f = self.frame(timeout)
            assert f is not None, "stream ended before frame %d" % want
            if f[0] == want:
                return f[1]

    def closed_within(self, timeout):
        """True if the daemon closes this connection within timeout."""
        try:
            while self.frame(timeout) is not None:
                pass
        except AssertionError:
            return False
        return True

    def close(self):
        self.s.close()


def welcome(payload):
    _, = struct.unpack_from(">I", payload, 0)
    sid, i = parse_str(payload, 4)
    in_have, out_start, out_end, pid = struct.unpack_from(">QQQI",
                                                          payload, i)
    return {"id": sid.decode(), "in_have": in_have, "out_start": out_start,
            "out_end": out_end, "pid": pid}


def session(payload):
    sid, i = parse_str(payload, 0)
    pid, created, active, state, status = struct.unpack_from(">IQQBI",
                                                             payload, i)
    return {"id": sid.decode(), "pid": pid, "state": state,
            "status": status}


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Daemon:
    """A session started through a local `limpet relay`."""

    def __init__(self, run, argv, env=None, detach=True, bin=None,
                 session_env=()):
        self.dir = tempfile.mkdtemp(prefix="s", dir=run.workdir)
        e = run.env({"LIMPET_DIR": self.dir,
                     "LIMPET_LOG": os.path.join(run.workdir, "daemon.log")})
        e.update(env or {})
        self.run = run
        mine, theirs = socket.socketpair()
        self.relay = subprocess.Popen(
            [bin or sshlab.default_bin(), "relay"], stdin=theirs,
            stdout=theirs, env=e)
        theirs.close()
        self.c = Peer(sock=mine)
        self.c.send(hello(OP_NEW, argv=argv, env=session_env, client_id=7))
        self.c.s.settimeout(10)
        while len(self.c.buf) < 8:
            self.c.buf += self.c.s.recv(8 - len(self.c.buf))
        assert self.c.buf == MAGIC
        self.c.buf = b""
        w = welcome(self.c.expect(WELCOME))
        self.id, self.pid = w["id"], w["pid"]
        self.path = os.path.join(self.dir, self.id + ".sock")
        if detach:
            self.c.send(frame(DETACH))
            self.c.close()
            self.relay.wait(timeout=10)

    def peer(self):
        return Peer(self.path)

    def attach(self, resume=False, client_id=9):
        """Attach a frame client; returns (peer, welcome, window)."""
        c = self.peer()
        c.send(hello(OP_ATTACH, self.id, client_id=client_id,
                     flags=RESUME if resume else 0))
        w = welcome(c.expect(WELCOME))
        limit, = struct.unpack(">Q", c.expect(WINDOW))
        return c, w, limit

    def info(self, timeout=5.0):
        c = self.peer()
        c.send(hello(OP_INFO))
        s = session(c.expect(SESSION, timeout))
        c.close()
        return s

    def log(self):
        try:
            with open(os.path.join(self.run.workdir, "daemon.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.relay.poll() is None:
            sshlab.end_pids([self.relay.pid])
            self.relay.wait()
        sshlab.end_pids([self.pid] + sshlab.descendants(self.pid))


@pytest.fixture
def daemon(run):
    started = []

    def make(argv, **kw):
        d = Daemon(run, argv, **kw)
        started.append(d)
        return d
    yield make
    for d in started:
        d.stop()


def test_paste_larger_than_the_window_arrives_whole(run, daemon):
    """Defect 16: 3 MiB of input within WINDOW limits reaches the program
    byte-exact, and INFO answers while the input queue is full."""
    out = os.path.join(run.workdir, "pasted")
    d = daemon(["stty raw -echo; echo RE''ADY; cat > " + out])
    c, w, limit = d.attach()
    assert limit == w["in_have"] + INPUT_WINDOW
    seen = b""
    while b"READY" not in seen:
        # As output (DATA) or, once read by the screen model, in the
        # snapshot (SCREEN, 16) a fresh attach gets.
        t, p = c.frame()
        if t in (DATA, 16):
            seen += p
    rnd = random.Random(16)
    data = bytes(rnd.randrange(32, 127) for _ in range(3 * 1024 * 1024))
    sent, infos, windows, chunk = 0, 0, 0, 60000
    deadline = time.monotonic() + 60
    c.s.setblocking(True)
    while sent < len(data):
        assert time.monotonic() < deadline, "paste stalled at %d" % sent
        n = min(chunk, len(data) - sent, limit - sent)
        if n > 0:
            c.send(frame(DATA, struct.pack(">Q", sent) + data[sent:sent + n]))
            sent += n
            continue
        # At the limit: the daemon's queue is full; it must still answer.
        if infos < 3:
            t0 = time.monotonic()
            assert d.info(timeout=3)["state"] == 1
            assert time.monotonic() - t0 < 3
            infos += 1
        f = c.frame(20)
        assert f is not None, "daemon dropped the client: " + d.log()[-2000:]
        if f[0] == WINDOW:
            new, = struct.unpack(">Q", f[1])
            assert new >= limit + INPUT_WINDOW // 4
            limit = new
            windows += 1
    assert infos > 0, "the paste never reached the window"
    # One WINDOW per quarter window written at most, not one per write.
    assert windows <= len(data) // (INPUT_WINDOW // 4)
    wait_for(lambda: os.path.getsize(out) == len(data), 30, "the paste")
    with open(out, "rb") as f:
        assert f.read() == data
    c.close()


def test_full_input_queue_still_answers_ls_and_kill(run, daemon):
    """Defect 16: a program that reads no input while the client has sent
    a whole window: the daemon still answers INFO, PING and KILL."""
    d = daemon(["sleep 1000"])
    c, w, limit = d.attach()
    sent = 0
    while sent < limit:
        n = min(60000, limit - sent)
        c.send(frame(DATA, struct.pack(">Q", sent) + b"y" * n))
        sent += n
    while True:
        t, p = c.frame(10)
        if t == ACK and struct.unpack(">Q", p)[0] == limit:
            break
    assert d.info(timeout=3)["state"] == 1
    c.send(frame(PING, struct.pack(">Q", 77)))
    assert c.expect(PONG, 3) == struct.pack(">Q", 77)
    k = d.peer()
    k.send(hello(OP_KILL, d.id))
    assert struct.unpack(">I", k.expect(DONE, 3)) == (1,)
    wait_for(lambda: not sshlab.alive(d.pid), 10, "the daemon to end")


def test_input_past_the_window_drops_the_peer_only(run, daemon):
    """Input crossing the last WINDOW limit is a protocol error: that
    client is dropped, the session lives on."""
    d = daemon(["cat > /dev/null"])
    c, w, limit = d.attach()
    c.send(frame(DATA, struct.pack(">Q", limit - 10) + b"x" * 20))
    assert c.closed_within(5)
    assert "input window" in d.log()
    assert d.info()["state"] == 0
    c2, w2, limit2 = d.attach()
    assert w2["in_have"] == 0 and limit2 == INPUT_WINDOW
    c2.close()


def test_silent_connections_do_not_lock_out(run, daemon):
    """Defect 17: 40 connections that never speak; INFO, attach and kill
    still work at once, and the silent ones are dropped in bounded time."""
    d = daemon(["sleep 1000"])
    idle = [d.peer() for _ in range(40)]
    t0 = time.monotonic()
    assert d.info(timeout=3)["state"] == 0
    c, w, limit = d.attach()
    assert time.monotonic() - t0 < 3
    # A HELLO must come within a few seconds; the survivors go by then.
    for p in idle:
        assert p.closed_within(10), "a silent peer was never dropped"
        p.close()
    c.send(frame(PING, struct.pack(">Q", 5)))
    assert c.expect(PONG) == struct.pack(">Q", 5)
    k = d.peer()
    k.send(hello(OP_KILL, d.id))
    assert struct.unpack(">I", k.expect(DONE)) == (1,)
    wait_for(lambda: not sshlab.alive(d.pid), 10, "the daemon to end")


def test_hangup_while_output_is_held_does_not_spin(run, daemon):
    """Defect 18: the program prints more than the output window and exits
    while the client reads nothing; the daemon must not spin on POLLHUP,
    and no output may be lost."""
    # The output window before any ACK is 64 KiB (FLOW_WIN_INIT); the
    # 3000 more fit in the PTY's buffer, so the program can exit.
    total = 64 * 1024 + 3000
    d = daemon(["sleep 0.5; head -c %d /dev/zero | tr '\\0' x" % total],
               detach=False)
    c = d.c
    # The client reads nothing: wait until the program is gone.
    cpu0 = cpu_seconds(d.pid)
    wait_for(lambda: "program exited" in d.log(), 10, "the program to exit")
    time.sleep(2)
    used = cpu_seconds(d.pid) - cpu0
    assert used < 0.1, "daemon used %.2fs of CPU while idle" % used
    # Now read it all: every byte arrives, then EXIT.
    got = 0
    while True:
        t, p = c.frame(10)
        if t == DATA:
            off, = struct.unpack_from(">Q", p, 0)
            assert off == got
            got += len(p) - 8
            c.send(frame(ACK, struct.pack(">Q", got)))
        elif t == EXIT:
            status, end = struct.unpack(">IQ", p)
            break
    assert status == 0
    assert got == end == total
    c.send(frame(ACK, struct.pack(">Q", end)))
    wait_for(lambda: not sshlab.alive(d.pid), 10, "the daemon to end")


def test_program_closing_its_terminal_does_not_spin(run, daemon):
    """Defect 18: a program that closes its terminal but lives on hangs
    the PTY up; the daemon must wait quietly for it to exit."""
    d = daemon(["echo bye; exec >&- 2>&- <&-; sleep 3; exit 4"],
               detach=False)
    c = d.c
    seen = b""
    while b"bye" not in seen:
        seen += c.expect(DATA)[8:]
    time.sleep(0.5)
    cpu0 = cpu_seconds(d.pid)
    time.sleep(1.5)
    used = cpu_seconds(d.pid) - cpu0
    assert used < 0.1, "daemon used %.2fs of CPU while idle" % used
    status, end = struct.unpack(">IQ", c.expect(EXIT, 10))
    assert status == 4
    c.send(frame(ACK, struct.pack(">Q", end)))
    wait_for(lambda: not sshlab.alive(d.pid), 10, "the daemon to end")


def test_exited_session_is_listed_then_expires(run, daemon):
    """Defect 19: a session whose program exited while nobody was attached
    answers INFO as exited with its status, and expires after
    LIMPET_KEEP_EXITED seconds."""
    d = daemon(["sleep 0.3; exit 7"], env={"LIMPET_KEEP_EXITED": "4"})
    s = wait_for(lambda: (lambda s: s if s["state"] == 2 else None)(
        d.info()), 10, "exited state")
    assert s["status"] == 7
    t0 = time.monotonic()
    wait_for(lambda: not sshlab.alive(d.pid), 15, "the session to expire")
    assert time.monotonic() - t0 > 1
    assert not os.path.exists(d.path)
    assert "expires" in d.log()


def test_malformed_frames_drop_only_that_peer(run, daemon):
    """Every handler: a malformed frame drops its peer, never the daemon."""
    d = daemon(["cat"])
    bad = [frame(DATA, b"\0" * 3), frame(ACK, b"\0" * 9),
           frame(ACK, struct.pack(">Q", 1 << 40)), frame(PING, b""),
           frame(RESIZE, b"\0"), frame(DETACH, b"x") + frame(PING, b""),
           frame(WELCOME, b""), frame(99, b""),
           frame(DATA, struct.pack(">Q", 5) + b"gap")]
    for b in bad:
        c, w, limit = d.attach()
        c.send(b)
        assert c.closed_within(5), b
        c.close()
    for b in (frame(HELLO, b"\0\0\0\2"), frame(ACK, b""), b"\xff" * 5,
              hello(OP_INFO)[:-1] + b"\0\0"):
        p = d.peer()
        p.send(b)
        assert p.closed_within(8), b
        p.close()
    c, w, limit = d.attach()
    c.send(frame(DATA, struct.pack(">Q", w["in_have"]) + b"hi\n"))
    got = b""
    while b"hi" not in got:
        t, p = c.frame(5)
        if t == DATA:
            got += p[8:]
    assert sshlab.alive(d.pid)


@pytest.mark.parametrize("build,seen", [("san", b"[1]"), ("opt", b"[]")])
def test_test_hooks_only_in_test_builds(run, daemon, build, seen):
    """Defect 21: a client may set LIMPET_TEST_* for the session only in
    the sanitized test build (-DLIMPET_TEST_HOOKS), never in a release."""
    binary = os.path.join(sshlab.REPO, "limpet") if build == "opt" else None
    if binary is not None and not os.access(binary, os.X_OK):
        pytest.skip("no optimized build (make limpet)")
    d = daemon(["echo \"<$LIMPET_TEST_HOOK>\" | tr '<>' '[]'"],
               detach=False, bin=binary,
               session_env=["LIMPET_TEST_HOOK=1", "TERM=dumb"])
    got = b""
    while b"]" not in got:
        got += d.c.expect(DATA)[8:]
    assert seen in got
