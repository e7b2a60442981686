"""The two ends of a forwarded connection, for the forwarding benchmarks
(bench/fwd_*.py) and tests (tests/e2e/test_forward*.py): one copy.

Imported, it gives `Target`, a threaded TCP server on loopback.  Run as a
program (in a lab's namespace), it is one end:

    python3 fwdpeer.py sink PORT FLAGDIR
        listen on 127.0.0.1:PORT (FLAGDIR/listening once it does); each
        connection is read to its end, answered with "COUNT\\n" and closed;
        FLAGDIR/last then holds COUNT, also if the connection broke
    python3 fwdpeer.py send PORT BYTES
        connect, send BYTES, EOF, wait for the sink's answer; prints
        "BYTES SECONDS" (exit 1 if the sink counted another number)
    python3 fwdpeer.py trickle PORT SECONDS RATE WAIT
        connect, send RATE bytes a second in 10 chunks a second for
        SECONDS (never blocking the clock: a chunk that cannot go waits),
        then EOF and wait up to WAIT s for the answer; prints
        "sent SENT delivered COUNT alive 0|1" (COUNT -1: no answer)
    python3 fwdpeer.py flood PORT
        connect and send until killed
"""

import os
import socket
import sys
import threading
import time


class Target:
    """A TCP server on loopback that counts its connections; each one is
    handed to handler(conn) in a thread."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.conns = 0
        self.done = threading.Event()
        self.errors = []
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            threading.Thread(target=self._one, args=(c,),
                             daemon=True).start()

    def _one(self, c):
        try:
            self.handler(c)
        except Exception as e:  # reported by the test
            self.errors.append(repr(e))
        finally:
            c.close()

    def close(self):
        self.sock.close()


def count_and_answer(c):
    """Read c to its end, answer with the count; returns it."""
    n = 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        n += len(b)
    c.sendall(b"%d\n" % n)
    return n


def read_answer(s, timeout):
    """The sink's "COUNT\\n", or -1 if none came within timeout."""
    s.settimeout(timeout)
    got = b""
    try:
        while not got.endswith(b"\n"):
            b = s.recv(64)
            if not b:
                break
            got += b
    except OSError:
        return -1
    return int(got) if got.endswith(b"\n") else -1


def sink(port, flags):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    open(os.path.join(flags, "listening"), "w").close()
    while True:
        c, _ = srv.accept()
        threading.Thread(target=sink_one, args=(c, flags),
                         daemon=True).start()


def sink_one(c, flags):
    """One connection of the sink: count, answer, and write the count to
    FLAGDIR/last however the connection ended."""
    n = 0
    try:
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            n += len(b)
        c.sendall(b"%d\n" % n)
    except OSError:
        pass
    c.close()
    with open(os.path.join(flags, "last.tmp"), "w") as f:
        f.write("%d\n" % n)
    os.rename(os.path.join(flags, "last.tmp"), os.path.join(flags, "last"))


def send(port, total):
    block = os.urandom(1 << 20)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    t0 = time.monotonic()
    left = total
    while left > 0:
        k = min(left, len(block))
        s.sendall(block[:k])
        left -= k
    s.shutdown(socket.SHUT_WR)
    got = read_answer(s, 300)
    print("%d %.4f" % (total, time.monotonic() - t0))
    return 0 if got == total else 1


def trickle(port, secs, rate, wait):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setblocking(False)
    chunk = b"t" * max(1, rate // 10)
    sent, owed, t0 = 0, b"", time.monotonic()
    alive = 1
    while time.monotonic() - t0 < secs:
        if not owed:
            owed = chunk
        try:
            n = s.send(owed)
            sent += n
            owed = owed[n:]
        except BlockingIOError:
            pass
        except OSError:
            alive = 0
            break
        time.sleep(0.1)
    got = -1
    if alive:
        s.setblocking(True)
        try:
            if owed:
                s.sendall(owed)
                sent += len(owed)
            s.shutdown(socket.SHUT_WR)
            got = read_answer(s, wait)
        except OSError:
            pass
    print("sent %d delivered %d alive %d" % (sent, got,
                                             int(got == sent)))
    return 0


def flood(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.settimeout(None)
    block = b"f" * (1 << 16)
    try:
        while True:
            s.sendall(block)
    except OSError:
        return 0


def main(argv):
    role, port = argv[1], int(argv[2])
    if role == "sink":
        return sink(port, argv[3])
    if role == "send":
        return send(port, int(argv[3]))
    if role == "trickle":
        return trickle(port, float(argv[3]), int(argv[4]), float(argv[5]))
    if role == "flood":
        return flood(port)
    raise SystemExit("unknown role %r" % role)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
