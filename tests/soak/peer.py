"""The program the chaos soak runs inside its limpet session.

    peer.py DIR RATE

Puts its terminal in raw mode, then at once:

- writes the output stream at RATE bytes per second: numbered lines
  "O<seq> <payload>\\n" whose payload follows from the number (see
  out_line), so the driver can tell a gap, a duplicate or a damaged line
  and say which;
- appends every byte it reads from the terminal to DIR/recv, and keeps
  DIR/status ("<bytes received> <lines written> <sha256 of the output>
  <rows> <columns>")
  up to date (written to a temporary file and renamed).

While DIR/pause exists it writes nothing (the driver measures idle CPU).
When DIR/stop appears (holding the number of input bytes the driver
sent), it stops writing, writes "END <lines>\\n", waits (at most 120 s)
for the rest of the input, writes a last status and exits 0.
"""

import hashlib
import os
import select
import sys
import termios
import time
import tty


def out_line(seq):
    """Line seq of the output stream (bytes)."""
    pay = hashlib.sha256(b"%d" % seq).hexdigest()
    return b"O%08d %s\n" % (seq, pay[:8 + seq % 56].encode())


def write_status(d, got, lines, digest):
    try:
        cols, rows = os.get_terminal_size(0)
    except OSError:
        cols, rows = 0, 0
    tmp = os.path.join(d, "status.tmp")
    with open(tmp, "w") as f:
        f.write("%d %d %s %d %d\n" % (got, lines, digest, rows, cols))
    os.rename(tmp, os.path.join(d, "status"))


def main():
    d, rate = sys.argv[1], float(sys.argv[2])
    old = termios.tcgetattr(0)
    tty.setraw(0)
    recv = open(os.path.join(d, "recv"), "ab", buffering=0)
    out = hashlib.sha256()
    got, seq, budget = 0, 0, 0.0
    last = time.monotonic()
    stop_at, want, ended = None, None, False
    next_status = 0.0
    while True:
        now = time.monotonic()
        if not ended:
            budget = min(budget + (now - last) * rate, rate)
        last = now
        if stop_at is None and os.path.exists(os.path.join(d, "stop")):
            with open(os.path.join(d, "stop")) as f:
                text = f.read().strip()
            if text:
                want = int(text)
                stop_at = now
                ended = True
                end = b"END %d\n" % seq
                os.write(1, end)
        paused = os.path.exists(os.path.join(d, "pause"))
        if paused:
            budget = 0.0
        while not ended and not paused and budget > 0:
            line = out_line(seq)
            os.write(1, line)
            out.update(line)
            budget -= len(line)
            seq += 1
        r, _, _ = select.select([0], [], [], 0.01)
        if r:
            data = os.read(0, 65536)
            if not data:
                break
            recv.write(data)
            got += len(data)
        if now >= next_status:
            write_status(d, got, seq, out.hexdigest())
            next_status = now + 0.2
        if stop_at is not None and (got >= want or now - stop_at > 120):
            break
    write_status(d, got, seq, out.hexdigest())
    termios.tcsetattr(0, termios.TCSADRAIN, old)
    return 0


if __name__ == "__main__":
    sys.exit(main())
