"""limpet's wire protocol from Python, for tests that talk to the relay
(`ssh lab limpet relay`) or to a daemon's socket directly, frame by frame.

See docs/PROTOCOL.md; only what the tests need is here.
"""

import os
import select
import struct
import subprocess
import time

MAGIC = b"\0LIMPET\1"
VERSION = 2

HELLO, WELCOME, DATA, ACK, PING, PONG, RESIZE, DETACH, EXIT, ERROR, \
    SESSION, DONE, NOTICE, WINDOW = range(1, 15)
OP_NEW, OP_ATTACH, OP_LIST, OP_KILL, OP_INFO = range(1, 6)
KILL_ALL = 0x02
DETACHED, ATTACHED, EXITED, NOANSWER = range(4)
PERR_NOSESSION, PERR_INTERNAL, PERR_UNSAFE = 2, 5, 7


def frame(ftype, payload=b""):
    return struct.pack(">BI", ftype, len(payload)) + payload


def take(buf):
    """Split one whole frame off buf: ((type, payload), rest) or None."""
    if len(buf) < 5:
        return None
    t, n = struct.unpack_from(">BI", buf, 0)
    if len(buf) < 5 + n:
        return None
    return (t, buf[5:5 + n]), buf[5 + n:]


def string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b


def hello(op, sid="", argv=(), env=(), flags=0, rows=24, cols=80,
          client_id=0x1234, out_have=0):
    p = struct.pack(">IBBQQHHI", VERSION, op, flags, client_id, out_have,
                    rows, cols, 0)
    p += string(sid)
    p += struct.pack(">I", len(argv)) + b"".join(string(a) for a in argv)
    p += struct.pack(">I", len(env)) + b"".join(string(e) for e in env)
    return frame(HELLO, p)


def u64(ftype, v):
    return frame(ftype, struct.pack(">Q", v))


def _str_at(p, off):
    n = struct.unpack_from(">I", p, off)[0]
    return p[off + 4:off + 4 + n].decode(errors="replace"), off + 4 + n


def parse_session(p):
    """A SESSION payload as a dict."""
    sid, off = _str_at(p, 0)
    pid, created, active, state, status = struct.unpack_from(">IQQBI", p,
                                                             off)
    command, _ = _str_at(p, off + 25)
    return {"id": sid, "pid": pid, "created": created, "active": active,
            "state": state, "status": status, "command": command}


def parse_str(p):
    """A payload that is one string (NOTICE)."""
    return _str_at(p, 0)[0]


def parse_error(p):
    code = struct.unpack_from(">I", p, 0)[0]
    return code, _str_at(p, 4)[0]


class Relay:
    """One `limpet relay` run through the lab's ssh, spoken to directly."""

    def __init__(self, lab, bin, args=(), user_argv=None):
        argv = user_argv or lab.ssh_argv()
        self.proc = subprocess.Popen(
            argv + [bin, "relay"] + list(args), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buf = b""
        self.magic = False

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no frame from the relay in time")
        r, _, _ = select.select([self.proc.stdout], [], [], left)
        if not r:
            raise TimeoutError("no frame from the relay in time")
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            raise EOFError("relay closed: %r" %
                           self.proc.stderr.read(2000))
        self.buf += chunk

    def frame(self, timeout=10.0):
        """The next (type, payload) from the relay."""
        deadline = time.monotonic() + timeout
        while not self.magic:
            i = self.buf.find(MAGIC)
            if i >= 0:
                self.buf = self.buf[i + len(MAGIC):]
                self.magic = True
                break
            self._fill(deadline)
        while True:
            got = take(self.buf)
            if got is not None:
                f, self.buf = got
                return f
            self._fill(deadline)

    def until(self, ftype, timeout=10.0):
        """Frames up to and including the first of type ftype."""
        deadline = time.monotonic() + timeout
        out = []
        while True:
            t, p = self.frame(max(0.01, deadline - time.monotonic()))
            out.append((t, p))
            if t == ftype or t == ERROR:
                return out

    def close(self):
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def ask(lab, bin, hello_frame, until=DONE, args=(), timeout=20.0,
        user_argv=None):
    """One request; returns (frames, seconds it took)."""
    t0 = time.monotonic()
    r = Relay(lab, bin, args=args, user_argv=user_argv)
    try:
        r.send(hello_frame)
        frames = r.until(until, timeout=timeout)
    finally:
        r.close()
    return frames, time.monotonic() - t0


def sessions(frames):
    """The SESSION frames among frames, parsed, by id."""
    return {s["id"]: s for s in (parse_session(p) for t, p in frames
                                 if t == SESSION)}
