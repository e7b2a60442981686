"""A small emulated network in Linux network namespaces, for tests and bench.

    client ns                router ns                      server ns
    c0 198.18.1.2/24 <-> r0 198.18.1.1 | r1 198.18.2.1 <-> s0 198.18.2.2/24

The addresses are in 198.18.0.0/15 (RFC 2544, set aside for benchmarks) and
exist only inside the three namespaces of one NetLab, so labs never collide
and nothing leaves the machine.  The router forwards between the two links
and masquerades the client subnet, like a home or carrier NAT:

- conntrack with a settable established-flow timeout
  (`nf_conntrack_tcp_timeout_established`), `nf_conntrack_tcp_loose=0`, and
  packets in state INVALID dropped, so when a flow's state is gone its
  mid-stream packets vanish silently in both directions (no RST);
- `blackhole(on)` drops everything arriving at the router, both ways,
  before conntrack sees it (a dead link: NAT flows age out meanwhile);
- `set_rate(kbit)` puts a tc tbf on both router egress interfaces;
- `set_delay(ms)` / `set_loss(pct)`: this kernel has no netem, so forwarded
  packets go through an NFQUEUE to `bench/delayer` (a user-space delayer in
  the router namespace) that holds each one for the delay; one-way delay is
  `ms`, the round trip twice that; `seed_loss(n)` makes its losses
  repeat (the same packets of each direction lost after the same seed);
- `change_client_addr()` moves the client to a new address, as a phone
  changing networks would;
- `traffic()` reads byte and packet counters of what the router delivered.

Use:

    reason = netlab.unavailable()       # None, or why labs cannot run here
    with netlab.NetLab(nat_timeout=10) as lab:
        lab.popen("server", [...]); lab.exec("client", [...])

`close()` (also run at exit) ends every process in the lab's namespaces by
pid, then deletes the namespaces.  Needs root, iproute2 and iptables.
"""

import atexit
import errno
import itertools
import os
import re
import shutil
import signal
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DELAYER = os.path.join(ROOT, "bench", "delayer")

PREFIX = "lpnl"
CLIENT_NET = "198.18.1"
SERVER_NET = "198.18.2"
CLIENT_ADDR = CLIENT_NET + ".2"
ROUTER_CLIENT_ADDR = CLIENT_NET + ".1"
ROUTER_SERVER_ADDR = SERVER_NET + ".1"
SERVER_ADDR = SERVER_NET + ".2"
QUEUE_NUM = 0

_counter = itertools.count(1)
_live = set()
_live_lock = threading.Lock()


class NetLabError(Exception):
    """A lab command failed; the message says which and why."""


def _path():
    """PATH plus the sbin directories, where ip, tc and iptables live."""
    dirs = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        if d not in dirs:
            dirs.append(d)
    return os.pathsep.join(dirs)


def which(name):
    """The path of a tool, looking in the sbin directories too."""
    return shutil.which(name, path=_path())


def _resolve(argv):
    """argv with its program (and a program run by `ip netns exec`)
    given by full path, so a PATH without sbin does not matter."""
    argv = [str(a) for a in argv]
    idx = [0]
    if argv[:3] == ["ip", "netns", "exec"] and len(argv) > 4:
        idx.append(4)
    for i in idx:
        if "/" not in argv[i]:
            argv[i] = which(argv[i]) or argv[i]
    return argv


def _run(argv, check=True, timeout=30, input=None):
    """Run a command in the current namespace, capturing its output."""
    argv = _resolve(argv)
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, input=input)
    except FileNotFoundError:
        raise NetLabError("%s: not installed" % argv[0])
    except subprocess.TimeoutExpired:
        raise NetLabError("%s: timed out after %ss" % (" ".join(argv),
                                                       timeout))
    if check and p.returncode != 0:
        raise NetLabError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                              p.stderr.strip()))
    return p


def _ns_inode(name):
    try:
        return os.stat("/run/netns/" + name).st_ino
    except OSError:
        return None


def pids_in_netns(name):
    """Pids of processes whose network namespace is `name`."""
    ino = _ns_inode(name)
    if ino is None:
        return []
    me = os.getpid()
    pids = []
    for ent in os.listdir("/proc"):
        if not ent.isdigit() or int(ent) == me:
            continue
        try:
            if os.stat("/proc/%s/ns/net" % ent).st_ino == ino:
                pids.append(int(ent))
        except OSError:
            pass
    return pids


def _end_pids(pids, grace=2.0):
    """SIGTERM the given pids, then SIGKILL what is left after grace."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except OSError:
                pass
        if not alive or sig == signal.SIGKILL:
            return
        end = time.monotonic() + grace
        while time.monotonic() < end:
            alive = [p for p in alive if _alive(p)]
            if not alive:
                return
            time.sleep(0.05)
        pids = alive


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            # A zombie is as good as gone for our purpose.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def unavailable():
    """None if labs can run here, otherwise a one-line reason."""
    if os.geteuid() != 0:
        return "network lab needs root (namespaces, iptables)"
    for tool in ("ip", "iptables", "tc"):
        if which(tool) is None:
            return "network lab needs %s (iproute2/iptables)" % tool
    name = "%s-probe-%d" % (PREFIX, os.getpid())
    p = _run(["ip", "netns", "add", name], check=False)
    if p.returncode != 0:
        return "cannot create network namespaces: " + p.stderr.strip()
    try:
        # Conntrack must be built in or loaded; this lab never modprobes.
        # Its sysctls appear in a namespace once a rule needs conntrack.
        q = _run(["ip", "netns", "exec", name, "iptables", "-t", "mangle",
                  "-A", "PREROUTING", "-m", "conntrack", "--ctstate",
                  "INVALID", "-j", "DROP"], check=False)
        if q.returncode != 0:
            return "iptables conntrack match unusable: " + q.stderr.strip()
        q = _run(["ip", "netns", "exec", name, "cat", "/proc/sys/net/"
                  "netfilter/nf_conntrack_tcp_timeout_established"],
                 check=False)
        if q.returncode != 0:
            return "no per-namespace conntrack sysctls (nf_conntrack)"
    finally:
        _run(["ip", "netns", "del", name], check=False)
    return None


def delayer_unavailable():
    """None if bench/delayer exists or can be built, else why not."""
    try:
        _build_delayer()
    except NetLabError as e:
        return str(e)
    return None


def _build_delayer():
    src = DELAYER + ".c"
    if os.path.exists(DELAYER) and (not os.path.exists(src) or
                                    os.path.getmtime(DELAYER) >=
                                    os.path.getmtime(src)):
        return DELAYER
    p = _run(["make", "-C", ROOT, "bench/delayer"], check=False,
             timeout=120)
    if p.returncode != 0 or not os.path.exists(DELAYER):
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        raise NetLabError("cannot build bench/delayer (needs "
                          "libnetfilter-queue-dev): " + tail)
    return DELAYER


def sweep_stale():
    """Remove namespaces left by labs whose Python process died."""
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return
    for name in names:
        m = re.match(r"%s-(\d+)-\d+-[crs]$" % PREFIX, name)
        if m is None or _alive(int(m.group(1))):
            continue
        _end_pids(pids_in_netns(name), grace=1.0)
        _run(["ip", "netns", "del", name], check=False)


@atexit.register
def _close_all():
    with _live_lock:
        labs = list(_live)
    for lab in labs:
        lab.close()


class NetLab:
    """Three namespaces (client, router, server) with a NAT between."""

    def __init__(self, nat_timeout=None, queue_ms=100):
        self.tag = "%s-%d-%d" % (PREFIX, os.getpid(), next(_counter))
        self.ns = {"client": self.tag + "-c", "router": self.tag + "-r",
                   "server": self.tag + "-s"}
        self.client = self.ns["client"]
        self.router = self.ns["router"]
        self.server = self.ns["server"]
        self.client_addr = CLIENT_ADDR
        self.server_addr = SERVER_ADDR
        self.nat_addr = ROUTER_SERVER_ADDR
        self.queue_ms = queue_ms
        self.procs = []
        self.delayer = None
        self.delay_ms = 0
        self.loss_pct = 0
        self.rate_kbit = None
        self.blackholed = False
        self._next_host = 3
        self._closed = False
        with _live_lock:
            _live.add(self)
        try:
            sweep_stale()
            self._build(nat_timeout)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _name(self, ns):
        return self.ns.get(ns, ns)

    def exec(self, ns, argv, check=True, timeout=30, input=None):
        """Run argv in namespace ns ("client", "router", "server")."""
        return _run(["ip", "netns", "exec", self._name(ns)] +
                    [str(a) for a in argv], check=check, timeout=timeout,
                    input=input)

    def popen(self, ns, argv, **kw):
        """Start argv in namespace ns; close() ends it by pid."""
        kw.setdefault("start_new_session", True)
        p = subprocess.Popen(_resolve(["ip", "netns", "exec",
                                       self._name(ns)] + list(argv)), **kw)
        self.procs.append(p)
        return p

    def prefix(self, ns):
        """The argv prefix that runs a command in namespace ns."""
        return [which("ip") or "ip", "netns", "exec", self._name(ns)]

    def _sysctl(self, ns, key, value):
        # Written through /proc/sys as seen from inside the namespace.
        path = "/proc/sys/" + key.replace(".", "/")
        self.exec(ns, ["sh", "-c", 'echo "$1" > "$2"', "sh", str(value),
                       path])

    def _ipt(self, *args, table="filter", check=True):
        return self.exec("router", ["iptables", "-w", "-t", table] +
                         list(args), check=check)

    def _build(self, nat_timeout):
        for ns in self.ns.values():
            _run(["ip", "netns", "add", ns])
        for ns in self.ns:
            self.exec(ns, ["ip", "link", "set", "lo", "up"])
        _run(["ip", "link", "add", "c0", "netns", self.client, "type",
              "veth", "peer", "name", "r0", "netns", self.router])
        _run(["ip", "link", "add", "s0", "netns", self.server, "type",
              "veth", "peer", "name", "r1", "netns", self.router])
        self._sysctl("client", "net.ipv4.conf.all.promote_secondaries", 1)
        self._sysctl("client", "net.ipv4.conf.c0.promote_secondaries", 1)
        self._sysctl("client", "net.ipv6.conf.all.disable_ipv6", 1)
        self._sysctl("server", "net.ipv6.conf.all.disable_ipv6", 1)
        self._sysctl("router", "net.ipv6.conf.all.disable_ipv6", 1)
        for ns, dev, addr in (("client", "c0", CLIENT_ADDR),
                              ("router", "r0", ROUTER_CLIENT_ADDR),
                              ("router", "r1", ROUTER_SERVER_ADDR),
                              ("server", "s0", SERVER_ADDR)):
            self.exec(ns, ["ip", "addr", "add", addr + "/24", "dev", dev])
            self.exec(ns, ["ip", "link", "set", dev, "up"])
        self.exec("client", ["ip", "route", "add", "default", "via",
                             ROUTER_CLIENT_ADDR])
        self.exec("server", ["ip", "route", "add", "default", "via",
                             ROUTER_SERVER_ADDR])
        self._sysctl("router", "net.ipv4.ip_forward", 1)
        self._sysctl("router", "net.ipv4.conf.all.rp_filter", 0)
        # A NAT that forgets idle flows and then drops their packets.
        self._ipt("-A", "PREROUTING", "-m", "conntrack", "--ctstate",
                  "INVALID", "-j", "DROP", table="mangle")
        self._ipt("-A", "OUTPUT", "-m", "conntrack", "--ctstate",
                  "INVALID", "-j", "DROP", table="mangle")
        self._ipt("-A", "POSTROUTING", "-s", CLIENT_NET + ".0/24", "-o",
                  "r1", "-j", "MASQUERADE", table="nat")
        # The blackhole drops in the raw table, before conntrack: like a
        # dead link, the NAT sees nothing, so its flows age out meanwhile.
        self._ipt("-N", "LAB_BLACKHOLE", table="raw")
        for dev in ("r0", "r1"):
            self._ipt("-A", "PREROUTING", "-i", dev, "-j", "LAB_BLACKHOLE",
                      table="raw")
        # A stall drops chosen flows (or new connections) the same way.
        self._ipt("-N", "LAB_STALL", table="raw")
        for dev in ("r0", "r1"):
            self._ipt("-A", "PREROUTING", "-i", dev, "-j", "LAB_STALL",
                      table="raw")
        # Accounting of what the router delivered, per direction.
        self._ipt("-A", "POSTROUTING", "-o", "r1", "-m", "comment",
                  "--comment", "lab-up", table="mangle")
        self._ipt("-A", "POSTROUTING", "-o", "r0", "-m", "comment",
                  "--comment", "lab-down", table="mangle")
        self._sysctl("router", "net.netfilter.nf_conntrack_tcp_loose", 0)
        self._sysctl("router", "net.netfilter.nf_conntrack_tcp_be_liberal",
                     0)
        if nat_timeout is not None:
            self.set_nat_timeout(nat_timeout)

    def set_nat_timeout(self, seconds):
        """Idle seconds after which the router forgets an established flow.

        The new value applies from each flow's next packet on.
        """
        self._sysctl("router",
                     "net.netfilter.nf_conntrack_tcp_timeout_established",
                     int(seconds))
        # Idle UDP flows (mosh) age out the same way.
        self._sysctl("router", "net.netfilter.nf_conntrack_udp_timeout",
                     min(int(seconds), 30))
        self._sysctl("router",
                     "net.netfilter.nf_conntrack_udp_timeout_stream",
                     int(seconds))

    def flush_nat(self):
        """Forget every flow now, as a rebooted NAT box would."""
        if which("conntrack") is None:
            raise NetLabError("flush_nat needs conntrack (apt-get install "
                              "conntrack)")
        self.exec("router", ["conntrack", "-F"], check=False)

    def flows(self):
        """The router's conntrack table, one line per flow."""
        if which("conntrack") is not None:
            p = self.exec("router", ["conntrack", "-L"], check=False)
        else:
            p = self.exec("router", ["cat", "/proc/net/nf_conntrack"],
                          check=False)
        return [ln for ln in p.stdout.splitlines() if ln.strip()]

    def blackhole(self, on):
        """Drop (on) or pass (off) everything reaching the router.

        Dropped before conntrack, so the NAT's flows are not refreshed
        and expire during a blackhole longer than the NAT timeout.
        """
        on = bool(on)
        if on == self.blackholed:
            return
        self._ipt("-F", "LAB_BLACKHOLE", table="raw")
        if on:
            self._ipt("-A", "LAB_BLACKHOLE", "-j", "DROP", table="raw")
        self.blackholed = on

    def stall(self, syn=False, ports=()):
        """Drop, before conntrack, the SYNs of new connections (syn) and
        every packet of the flows from the client's source ports in
        ports (the NAT keeps a flow's port here); stall() lifts it all.
        """
        self._ipt("-F", "LAB_STALL", table="raw")
        if syn:
            self._ipt("-A", "LAB_STALL", "-i", "r0", "-p", "tcp", "--syn",
                      "-j", "DROP", table="raw")
        for port in ports:
            self._ipt("-A", "LAB_STALL", "-i", "r0", "-p", "tcp",
                      "--sport", str(port), "-j", "DROP", table="raw")
            self._ipt("-A", "LAB_STALL", "-i", "r1", "-p", "tcp",
                      "--dport", str(port), "-j", "DROP", table="raw")

    def tcp_port(self, ns, pid):
        """The local port of process pid's established TCP connection in
        namespace ns, or None."""
        p = self.exec(ns, ["ss", "-tnpH", "state", "established"],
                      check=False)
        for ln in p.stdout.splitlines():
            if "pid=%d," % pid in ln:
                return int(ln.split()[2].rsplit(":", 1)[1])
        return None

    def set_rto_max(self, ms):
        """The longest TCP retransmission timeout in the client and the
        server namespaces (net.ipv4.tcp_rto_max_ms, Linux 6.15); False
        where the kernel has no such setting."""
        if not os.path.exists("/proc/sys/net/ipv4/tcp_rto_max_ms"):
            return False
        for ns in ("client", "server"):
            self._sysctl(ns, "net.ipv4.tcp_rto_max_ms", int(ms))
        return True

    def set_rate(self, kbit, queue_ms=None):
        """Limit each direction to kbit/s (None or 0: no limit).

        queue_ms is how much the bottleneck may queue before it drops.
        """
        for dev in ("r0", "r1"):
            if not kbit:
                self.exec("router", ["tc", "qdisc", "del", "dev", dev,
                                     "root"], check=False)
                continue
            rate = int(kbit) * 1000 // 8  # bytes per second
            burst = max(3200, rate // 50)
            self.exec("router", ["tc", "qdisc", "replace", "dev", dev,
                                 "root", "tbf", "rate", "%dkbit" % kbit,
                                 "burst", str(burst), "latency",
                                 "%dms" % (queue_ms or self.queue_ms)])
        self.rate_kbit = kbit or None

    def _delayer_cmd(self, line):
        d = self.delayer
        d.stdin.write(line + "\n")
        d.stdin.flush()
        reply = d.stdout.readline().strip()
        if reply != "ok":
            raise NetLabError("delayer: %r -> %r" % (line, reply))

    def _start_delayer(self):
        path = _build_delayer()
        d = self.popen("router", [path, "-q", QUEUE_NUM],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       text=True)
        line = d.stdout.readline().strip()
        if line != "ready":
            raise NetLabError("delayer did not start (%r)" % line)
        self.delayer = d
        self._ipt("-A", "FORWARD", "-j", "NFQUEUE", "--queue-num",
                  str(QUEUE_NUM), table="mangle")

    def set_delay(self, ms):
        """Hold each forwarded packet ms milliseconds (one-way delay)."""
        if self.delayer is None:
            if not ms:
                return
            self._start_delayer()
        self._delayer_cmd("delay %g" % ms)
        self.delay_ms = ms

    def set_loss(self, pct):
        """Drop pct percent of forwarded packets at random."""
        if self.delayer is None:
            if not pct:
                return
            self._start_delayer()
        self._delayer_cmd("loss %g" % pct)
        self.loss_pct = pct

    def seed_loss(self, n):
        """Restart the delayer's loss streams (one per direction) from
        seed n: after the same seed the same packets of each direction's
        stream are lost, so two runs meet the same losses (bench: a
        paired comparison)."""
        if self.delayer is None:
            self._start_delayer()
        self._delayer_cmd("seed %d" % n)

    def change_client_addr(self):
        """Move the client to a new address; returns it.

        The new address is added, the default route moved to it and the
        old address deleted: flows from the old address are dead (their
        packets can no longer be sent or routed back), new ones work.
        """
        old = self.client_addr
        new = "%s.%d" % (CLIENT_NET, self._next_host)
        self._next_host += 1
        self.exec("client", ["ip", "addr", "add", new + "/24", "dev", "c0"])
        self.exec("client", ["ip", "route", "replace", "default", "via",
                             ROUTER_CLIENT_ADDR, "dev", "c0", "src", new])
        self.exec("client", ["ip", "addr", "del", old + "/24", "dev", "c0"])
        self.client_addr = new
        return new

    def traffic(self):
        """{"up": (packets, bytes), "down": (...)} delivered so far."""
        p = self._ipt("-L", "POSTROUTING", "-v", "-x", "-n",
                      table="mangle")
        out = {}
        for ln in p.stdout.splitlines():
            m = re.match(r"\s*(\d+)\s+(\d+)\s.*lab-(up|down)", ln)
            if m:
                out[m.group(3)] = (int(m.group(1)), int(m.group(2)))
        return out

    def pids(self):
        """Every process currently in one of the lab's namespaces."""
        pids = []
        for ns in self.ns.values():
            pids += pids_in_netns(ns)
        return pids

    def close(self):
        """Remove everything: processes (by pid), rules, namespaces."""
        if self._closed:
            return
        self._closed = True
        if self.delayer is not None:
            # Unhook the queue first so no packet waits on a dead delayer.
            self._ipt("-F", "FORWARD", table="mangle", check=False)
        _end_pids(self.pids(), grace=2.0)
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.kill()
                except OSError:
                    pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdin, p.stdout, p.stderr):
                if f is not None:
                    try:
                        f.close()
                    except OSError:
                        pass
        for ns in self.ns.values():
            p = _run(["ip", "netns", "del", ns], check=False)
            if p.returncode != 0 and os.path.exists("/run/netns/" + ns):
                # A process slipped in while we cleaned; try once more.
                _end_pids(pids_in_netns(ns), grace=1.0)
                _run(["ip", "netns", "del", ns], check=False)
        with _live_lock:
            _live.discard(self)


if __name__ == "__main__":
    # `python3 tests/netlab.py`: say whether labs work here.
    why = unavailable()
    print(why or "network lab available")
    raise SystemExit(errno.EPERM if why else 0)
