"""The output window on a slow link (docs/PROTOCOL.md, "Output window"):
the daemon keeps no more output unacknowledged than the path needs, so a
flood waits in the program's write and Ctrl-C finds little queued behind
it; every byte still arrives once, in order.

The lab (tests/netlab.py) limits each direction to RATE_KBIT with tbf and
delays each packet DELAY_MS one way (bench/delayer).  The daemon logs a
"flow:" line at most once a second (LIMPET_LOG) with its window and the
most it had unacknowledged since the last line; the test checks those
against a bound it computes from the lab's rate and delay.  Not a timing
test: the bound is on bytes, and a loaded machine only makes them fewer.
"""

import os
import re
import sys
import time

import pytest

import netcase
from test_network import Net  # noqa: F401 (the labs and logs)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

import netlab  # noqa: E402

RATE_KBIT = 1000
DELAY_MS = 50
FLOW_RE = re.compile(r"^(\d+\.\d+) \S+ flow: window (\d+) peak (\d+) "
                     r"rate (\d+) B/s min rtt (\d+) us", re.M)


@pytest.fixture
def netns(request):
    """Labs and logs, once network namespaces are known to work here."""
    why = netlab.unavailable() or netlab.delayer_unavailable()
    if why:
        netcase.missing(why)
    n = Net(request)
    yield n
    n.close()


def flow_lines(s, after):
    """(wall time, window, peak, rate, min rtt us) of the daemon's flow:
    lines logged after wall time `after`."""
    try:
        with open(s.server_log) as f:
            text = f.read()
    except OSError:
        return []
    return [tuple([float(m.group(1))] + [int(m.group(i))
                                         for i in range(2, 6)])
            for m in FLOW_RE.finditer(text) if float(m.group(1)) >= after]


@pytest.mark.timeout(90)
def test_flood_window_fits_a_slow_path(netns, make_lab, spawn, limpet_bin):
    """A numbered flood at 1 Mbit/s and 50 ms each way: once the daemon
    has measured the path, what it holds unacknowledged stays under a
    bound made of the path's own bandwidth-delay product (before: a
    window of 256 KiB and more, two seconds of this link); the link is
    still used; Ctrl-C brings the prompt back; every line came once, in
    order."""
    lab = netns.lab()
    lab.set_rate(RATE_KBIT)
    lab.set_delay(DELAY_MS)
    sshd = make_lab(netns=lab.server, listen_addr=lab.server_addr)
    s = netcase.Session("fl", spawn, sshd, limpet_bin, netns.logdir,
                        netns=lab.client)
    netns.sessions.append(s)
    s.ready(timeout=30)
    start = s.screen.mark()
    s.type("seq -f L%.0f 1 100000000\r")
    s.screen.wait(r"(?<![0-9A-Za-z])L1\r\n", 10, start)
    t0 = time.time()
    # Three log lines after the first second (which starts from the
    # initial window and measures).
    end = time.monotonic() + 20
    while len(flow_lines(s, t0 + 1.0)) < 3 and time.monotonic() < end:
        time.sleep(0.2)
    lines = flow_lines(s, t0 + 1.0)
    assert len(lines) >= 3, "no flow: lines\n" + s.logs()
    rate = RATE_KBIT * 1000 // 8
    # The path's bandwidth-delay product with a round trip of twice the
    # delay plus 100 ms (one frame of the link, ssh and the machine),
    # twice over, plus 64 KiB for the acknowledgement step and the
    # frame in hand.  The window of before held 256 KiB at least.
    bound = 2 * rate * (2 * DELAY_MS + 100) // 1000 + 65536
    peak = max(ln[2] for ln in lines)
    window = max(ln[1] for ln in lines)
    best = max(ln[3] for ln in lines)
    print("flow: window up to %d, peak %d (bound %d), rate up to %d B/s, "
          "min rtt %s us" % (window, peak, bound, best,
                             sorted({ln[4] for ln in lines})))
    assert peak <= bound, lines
    assert window <= bound, lines
    # The window still fills the link: the measured delivery rate is
    # most of the link's (tbf's rate, ssh and frame overhead aside).
    assert best >= rate // 2, lines
    s.type("\x03")
    took = s.command(timeout=20)
    print("Ctrl-C, then a command answered in %.2f s" % took)
    nums = [n for n, _ in s.screen.lines(start)]
    probs = netcase.stream_problems(nums)
    assert not probs, probs
    assert "output were lost" not in s.screen.raw


@pytest.mark.timeout(60)
def test_long_idle_does_not_look_like_a_stall(netns, make_lab, spawn,
                                              limpet_bin):
    """The daemon drops a client whose output stops draining for
    CLIENT_TX_MS (60 s; 3 s here by a test hook).  Its clock must start
    when output waits, not at the last write before a long idle: an idle
    session's heartbeat after a silence longer than that (100 s in a
    release: the bench's idle session reconnected there) was answered and
    then the client dropped as "peer does not read"."""
    sshd = make_lab(env={"LIMPET_TEST_CLIENT_TX_MS": "3000"})
    s = netcase.Session("idle", spawn, sshd, limpet_bin, netns.logdir,
                        env={"LIMPET_TEST_KEEPALIVE_MS": "2000"})
    netns.sessions.append(s)
    s.ready()
    # Heartbeats after 2 s, 4 s and 8 s of silence: the last two are
    # longer than the stall limit.
    kept = re.compile(r"a (\d+) ms silence kept the link")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(int(g) >= 8000 for g in kept.findall(s.client_log())):
            break
        time.sleep(0.2)
    time.sleep(0.5)
    log = s.client_log()
    print(log[-1500:])
    assert any(int(g) >= 8000 for g in kept.findall(log)), s.logs()
    assert "connection lost" not in log, s.logs()
    with open(s.server_log) as f:
        assert "peer does not read" not in f.read(), s.logs()
    assert s.status()["reconnects"] == 0
