"""Each knob of tests/netlab.py does what it says, measured with real
traffic between the client and server namespaces: the NAT forgets idle
flows and then drops their packets, blackhole drops, the rate limit limits,
the delayer delays and loses, and the client can change its address.

A small Python peer runs in each namespace (PEER below): an echo, a bulk
sender and a UDP counter on the server, and a client driven line by line
over a pipe so a test can act on the network between two steps.
"""

import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

import netlab  # noqa: E402

pytestmark = [pytest.mark.no_limpet, pytest.mark.timeout(60)]

PY = "/usr/bin/python3"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason):
    """Skip with one line, or fail in CI where nothing may be missing."""
    if IN_CI:
        pytest.fail(reason + " (CI=true: required)", pytrace=False)
    pytest.skip(reason)

PEER = r'''
import socket, sys, threading, time

LOCK = threading.Lock()

def server():
    def echo(c, a):
        with LOCK:      # threads' print()s interleave word by word
            print("peer", a[0], flush=True)
        while True:
            d = c.recv(4096)
            if not d:
                return
            c.sendall(d)
    def blast(c, a):
        n = int(c.makefile().readline())
        chunk = b"x" * 65536
        while n > 0:
            c.sendall(chunk[:n])
            n -= min(n, len(chunk))
        c.close()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 7002))
    got = []
    def count():
        while True:
            d = udp.recv(2048)
            with LOCK:
                got.append(d[:8].decode())
    def report(c, a):
        with LOCK:  # how many, and which: their numbers
            line = "%d %s\n" % (len(got), ",".join(got) or "-")
            del got[:]
        c.sendall(line.encode())
        c.close()
    def serve(port, fn):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(16)
        def loop():
            while True:
                c, a = s.accept()
                threading.Thread(target=fn, args=(c, a), daemon=True).start()
        threading.Thread(target=loop, daemon=True).start()
    serve(7000, echo)
    serve(7001, blast)
    serve(7003, report)
    threading.Thread(target=count, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()

def client(host):
    socks = {}
    for line in sys.stdin:
        w = line.split()
        try:
            if w[0] == "conn":
                s = socket.create_connection((host, 7000), timeout=3)
                socks[w[1]] = s
                out = "ok"
            elif w[0] == "echo":
                s = socks[w[1]]
                s.settimeout(float(w[3]))
                t = time.monotonic()
                s.sendall(w[2].encode())
                # Earlier echoes that timed out may arrive first.
                d = b""
                while not d.endswith(w[2].encode()):
                    more = s.recv(4096)
                    if not more:
                        break
                    d += more
                ms = (time.monotonic() - t) * 1000
                out = "ok %.3f" % ms if d.endswith(w[2].encode()) else "eof"
            elif w[0] == "blast":
                s = socket.create_connection((host, 7001), timeout=10)
                t = time.monotonic()
                s.sendall(b"%s\n" % w[1].encode())
                n = 0
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    n += len(d)
                out = "ok %d %.4f" % (n, time.monotonic() - t)
            elif w[0] == "udp":
                # Numbered datagrams; "udp N nowait" leaves the report
                # to a "report" line (to be read with no loss set).
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for i in range(int(w[1])):
                    u.sendto(b"%08d" % i + b"u" * 92, (host, 7002))
                    time.sleep(0.001)
                u.close()
                time.sleep(0.3)
                out = "ok"
            if w[0] == "report" or (w[0] == "udp" and len(w) < 3):
                # The report crosses the same lossy path: SYNs and data
                # may need several retransmissions (1, 3, 7, 15 s).
                s = socket.create_connection((host, 7003), timeout=30)
                s.settimeout(30)
                out = "ok " + s.makefile().readline().strip()
                s.close()
        except socket.timeout:
            out = "timeout"
        except OSError as e:
            out = "err %s" % e
        print(out, flush=True)

if sys.argv[1] == "server":
    server()
else:
    client(sys.argv[2])
'''


@pytest.fixture
def lab():
    why = netlab.unavailable()
    if why:
        missing(why)
    lab = netlab.NetLab()
    try:
        yield lab
    finally:
        lab.close()
        for ns in lab.ns.values():
            assert not os.path.exists("/run/netns/" + ns)


class Peers:
    """The server peer and a line-driven client peer in one lab."""

    def __init__(self, lab):
        self.server = lab.popen("server", [PY, "-c", PEER, "server"],
                                stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        assert self.server.stdout.readline().strip() == "ready"
        self.client = lab.popen("client", [PY, "-c", PEER, "client",
                                           lab.server_addr],
                                stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)

    def do(self, *words):
        self.client.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.client.stdin.flush()
        return self.client.stdout.readline().split()


@pytest.fixture
def peers(lab):
    return Peers(lab)


def test_nat_masquerades_and_forgets_idle_flows(lab, peers):
    lab.set_nat_timeout(2)
    assert peers.do("conn", "idle") == ["ok"]
    assert peers.do("conn", "busy") == ["ok"]
    # The server sees the router's address, not the client's.
    assert peers.server.stdout.readline().split() == ["peer", lab.nat_addr]
    assert peers.do("echo", "idle", "a", 2)[0] == "ok"
    for i in range(4):
        time.sleep(1)
        assert peers.do("echo", "busy", "b%d" % i, 2)[0] == "ok"
    # 4 s idle, past the 2 s timeout: the flow is forgotten and its
    # packets are dropped without a reset (the socket only times out).
    assert peers.do("echo", "busy", "d", 2)[0] == "ok"
    assert peers.do("echo", "idle", "c", 1.5) == ["timeout"]
    # A new flow is fine.
    assert peers.do("conn", "fresh") == ["ok"]
    assert peers.do("echo", "fresh", "e", 2)[0] == "ok"


def test_blackhole_drops_both_ways_until_healed(lab, peers):
    assert peers.do("conn", "a") == ["ok"]
    assert peers.do("echo", "a", "x", 2)[0] == "ok"
    before = lab.traffic()
    lab.blackhole(True)
    assert peers.do("echo", "a", "y", 1) == ["timeout"]
    assert peers.do("conn", "b") == ["timeout"]
    # Nothing crossed the router while blackholed.
    assert lab.traffic() == before
    lab.blackhole(False)
    # TCP retransmits y; the echo then arrives (read it with a new probe).
    assert peers.do("echo", "a", "z", 5)[0] == "ok"
    assert lab.traffic()["up"][0] > before["up"][0]


def test_nat_forgets_flows_during_a_long_blackhole(lab, peers):
    # The blackhole hides packets from conntrack too, as a dead link would.
    lab.set_nat_timeout(1)
    assert peers.do("conn", "a") == ["ok"]
    assert peers.do("echo", "a", "x", 2)[0] == "ok"
    lab.blackhole(True)
    assert peers.do("echo", "a", "y", 2.5) == ["timeout"]
    lab.blackhole(False)
    assert not [f for f in lab.flows() if "dport=7000" in f]
    assert peers.do("echo", "a", "z", 1) == ["timeout"]
    assert peers.do("conn", "b") == ["ok"]


def test_rate_limits_throughput(lab, peers):
    n = 2_000_000
    r = peers.do("blast", n)
    assert r[0] == "ok" and int(r[1]) == n
    free = n * 8 / float(r[2]) / 1000  # kbit/s
    lab.set_rate(2000)
    r = peers.do("blast", 500_000)
    assert r[0] == "ok" and int(r[1]) == 500_000
    limited = 500_000 * 8 / float(r[2]) / 1000
    # Payload at 2 Mbit/s minus header overhead and TCP slow start.
    assert 1400 < limited < 2100, limited
    assert free > 20 * limited, (free, limited)
    lab.set_rate(None)
    r = peers.do("blast", n)
    assert n * 8 / float(r[2]) / 1000 > 10 * limited


def test_delay_delays_each_way(lab, peers):
    if netlab.delayer_unavailable():
        missing(netlab.delayer_unavailable())
    assert peers.do("conn", "a") == ["ok"]
    base = [float(peers.do("echo", "a", "p%d" % i, 2)[1]) for i in range(5)]
    assert min(base) < 5
    lab.set_delay(40)
    rtt = [float(peers.do("echo", "a", "q%d" % i, 2)[1]) for i in range(5)]
    # The request and the reply are each held 40 ms: never less, and
    # typically not much more (one sample may wait for a busy CPU: a
    # 105 ms one failed a CI run on a loaded machine).
    assert all(t > 79 for t in rtt), rtt
    assert sorted(rtt)[2] < 100, rtt
    lab.set_delay(0)
    # Delayed packets still queued are released in order, then it is fast.
    rtt = [float(peers.do("echo", "a", "r%d" % i, 2)[1]) for i in range(5)]
    assert min(rtt) < 5, rtt


def test_loss_loses_a_share(lab, peers):
    if netlab.delayer_unavailable():
        missing(netlab.delayer_unavailable())
    lab.set_loss(25)
    r = peers.do("udp", 400)
    assert r[0] == "ok", r
    # Binomial(400, 0.75): mean 300, sd ~9.
    assert 255 < int(r[1]) < 345, r
    lab.set_loss(100)
    assert peers.do("conn", "a") == ["timeout"]


def test_loss_seed_repeats_the_losses(lab, peers):
    """After the same seed the same datagrams are lost; after another
    seed others are (the bench pairs two contenders' runs so)."""
    if netlab.delayer_unavailable():
        missing(netlab.delayer_unavailable())

    def lost(seed):
        lab.set_loss(25)
        lab.seed_loss(seed)
        assert peers.do("udp", 300, "nowait") == ["ok"]
        lab.set_loss(0)  # the report itself must not draw from a stream
        r = peers.do("report")
        assert r[0] == "ok", r
        got = set(int(x) for x in r[2].split(",")) if r[2] != "-" else set()
        assert len(got) == int(r[1]), r
        return set(range(300)) - got

    def agree(x, y):
        # The share of losses in common, at the best offset: a stray
        # packet through the same queue (seen once in CI) draws from the
        # stream too and moves every later loss by one datagram.
        return max(len({i + k for i in x} & y)
                   for k in range(-3, 4)) / max(len(x), len(y), 1)

    a, b, c = lost(7), lost(7), lost(8)
    # Binomial(300, 0.25): mean 75, sd 7.5; by chance two draws share a
    # quarter of their losses (a third at the best of 7 offsets).
    assert 40 < len(a) < 110, sorted(a)
    assert agree(a, b) >= 0.75, (sorted(a), sorted(b))
    assert agree(a, c) < 0.6, (sorted(a), sorted(c))


def test_change_client_addr(lab, peers):
    assert peers.do("conn", "old") == ["ok"]
    assert peers.do("echo", "old", "a", 2)[0] == "ok"
    new = lab.change_client_addr()
    assert new != netlab.CLIENT_ADDR
    out = lab.exec("client", ["ip", "-4", "-o", "addr", "show", "dev",
                              "c0"]).stdout
    assert (" %s/" % new) in out and (" %s/" % netlab.CLIENT_ADDR) not in out
    # The old flow is dead; a new one works and comes from the new address.
    assert peers.do("echo", "old", "b", 1)[0] in ("timeout", "err")
    assert peers.do("conn", "new") == ["ok"]
    assert peers.do("echo", "new", "c", 2)[0] == "ok"
    flows = [f for f in lab.flows() if "dport=7000" in f]
    assert any("src=%s " % new in f for f in flows), flows


def test_close_ends_processes_and_namespaces():
    why = netlab.unavailable()
    if why:
        missing(why)
    lab = netlab.NetLab()
    p = lab.popen("server", ["sleep", "60"])
    # A process that left its parent's session still lives in the netns.
    lab.exec("server", ["sh", "-c", "setsid sleep 61 >/dev/null 2>&1 &"])
    pids = lab.pids()
    assert len(pids) == 2
    names = list(lab.ns.values())
    lab.close()
    assert p.poll() is not None
    assert not any(netlab._alive(pid) for pid in pids)
    assert not any(os.path.exists("/run/netns/" + n) for n in names)
