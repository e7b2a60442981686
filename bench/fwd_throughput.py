"""Forwarded throughput, limpet -L beside ssh -L (issue 9).

    /usr/bin/python3 bench/fwd_throughput.py [--mb 200] [--bin ./limpet]
                                            [--reps 1] [--down]
                                            [--no-handoff]

Starts a throwaway sshd on loopback (tests/e2e/sshlab.py), a sink that
reads and counts, then sends the same bytes through `limpet -L` and through
`ssh -L`, one after the other in the same run, and prints MB/s for both
and their ratio (the goal is >= 0.8).  Use the optimised `make limpet`
build: the sanitized one measures the sanitizers.  Every process it
starts it stops by pid.  --down measures the other direction: the
target sends and the script reads what comes out of the forward (a
download through -L: the daemon writes to the client).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import pexpect  # noqa: E402

import fwdpeer  # noqa: E402

import sshlab  # noqa: E402

MB = 1000 * 1000


def median(v):
    return sorted(v)[len(v) // 2]


class Sink(fwdpeer.Target):
    """A TCP server on loopback that reads each connection to its end and
    records (bytes, seconds from its first byte to its end)."""

    def __init__(self):
        self.results = []
        super().__init__(self._count)

    def _count(self, c):
        n, first = 0, None
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            if first is None:
                first = time.monotonic()
            n += len(b)
        self.results.append((n, time.monotonic() - (first or 0)))


class Source(fwdpeer.Target):
    """A TCP server on loopback that sends each connection self.total
    bytes and closes it (the --down direction)."""

    def __init__(self):
        self.total = 0
        self.results = []
        super().__init__(self._send)

    def _send(self, c):
        block = os.urandom(1 << 20)
        left = self.total
        while left > 0:
            k = min(left, len(block))
            c.sendall(block[:k])
            left -= k
        c.close()


def listening(port):
    """True if something listens on TCP port (read from /proc: probing
    with a connection would reach the sink)."""
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.readlines()[1:]:
                w = line.split()
                if w[3] == "0A" and int(w[1].split(":")[1], 16) == port:
                    return True
    return False


def wait_listen(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening(port):
            return True
        time.sleep(0.05)
    return False


def cpu_snapshot(lab, binary):
    """CPU seconds used so far by this run's processes, by role: limpet's
    client, relay and daemon (this binary), ssh (with the lab's config),
    sshd (below the lab's sshd) and this script (the sender and the sink,
    "py"), from /proc; and their context switches (key "<role> cs")."""
    t = os.times()
    out = {"py": t.user + t.system}
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        w = f.readline().split()
    # All CPUs' busy and idle seconds: "other" is what the rest of the
    # machine took meanwhile, "idle" what nobody used.
    out["idle"] = (int(w[4]) + int(w[5])) / tick
    out["all"] = sum(int(x) for x in w[1:8]) / tick - out["idle"]
    tick = os.sysconf("SC_CLK_TCK")
    below = set(sshlab.descendants(lab.pid)) if lab.pid else set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if argv[0] == binary.encode() and b"__daemon" in argv:
            name = "daemon"     # started from a fresh image, not below
        elif argv[0] == binary.encode() and b"relay" not in argv:
            name = "client"
        elif argv[0] == binary.encode():
            # The relay runs below sshd; a forked daemon left it.
            name = "relay" if int(d) in below else "daemon"
        elif int(d) in below:
            name = "sshd"
        elif argv[0] == b"ssh" and lab.ssh_config.encode() in argv:
            name = "ssh"
        else:
            continue
        w = st[st.rfind(")") + 2:].split()
        out[name] = out.get(name, 0.0) + (int(w[11]) + int(w[12])) / tick
        try:
            with open("/proc/%s/status" % d) as f:
                cs = sum(int(x.split()[1]) for x in f
                         if x.startswith(("voluntary_ctxt",
                                          "nonvoluntary_ctxt")))
        except OSError:
            cs = 0
        out[name + " cs"] = out.get(name + " cs", 0) + cs
        try:
            with open("/proc/%s/io" % d) as f:
                io = dict(x.split(": ") for x in f.read().splitlines())
            out[name + " rd"] = out.get(name + " rd", 0) + int(io["syscr"])
            out[name + " rb"] = out.get(name + " rb", 0) + int(io["rchar"])
        except (OSError, KeyError, ValueError):
            pass
    return out


def cpu_add(acc, key, before, after):
    """Add the CPU used between two snapshots to acc[key]."""
    d = acc.setdefault(key, {})
    for k, v in after.items():
        d[k] = d.get(k, 0.0) + v - before.get(k, 0.0)
    ours = sum(v - before.get(k, 0.0) for k, v in after.items()
               if k not in ("idle", "all") and
               not k.endswith((" cs", " rd", " rb")))
    d["other"] = d.get("other", 0.0) + after["all"] - before["all"] - ours
    d.pop("all")


def send(port, total, sink, timeout=300):
    """Send total bytes to port, wait for the sink to count them; MB/s."""
    n0 = len(sink.results)
    block = os.urandom(1 << 20)
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    left = total
    while left > 0:
        k = min(left, len(block))
        s.sendall(block[:k])
        left -= k
    s.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + timeout
    while len(sink.results) == n0 and time.monotonic() < deadline:
        time.sleep(0.01)
    t1 = time.monotonic()
    s.close()
    if len(sink.results) == n0:
        raise RuntimeError("the sink never finished")
    got = sink.results[-1][0]
    if got != total:
        raise RuntimeError("sent %d bytes, the sink got %d" % (total, got))
    return total / MB / (t1 - t0)


def fetch(port, total, source, timeout=300):
    """Read what port's forward delivers from the source to its end;
    MB/s from connecting to the end of the stream."""
    source.total = total
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(timeout)
    t0 = time.monotonic()
    got = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        got += len(b)
    t1 = time.monotonic()
    s.close()
    if got != total:
        raise RuntimeError("the source sent %d bytes, got %d" % (total, got))
    return total / MB / (t1 - t0)


class LimpetL:
    """A limpet session with -L spec, as a user starts it (in a PTY)."""

    def __init__(self, lab, binary, spec):
        argv = [binary, "--server-path", binary, "-F", lab.ssh_config,
                sshlab.HOST, "-L", spec]
        self.p = pexpect.spawn(argv[0], argv[1:], timeout=30,
                               encoding="utf-8", codec_errors="replace")
        self.p.sendline("echo rea''dy-$((40+2))")
        self.p.expect("ready-42")
        if not wait_listen(int(spec.split(":")[0])):
            raise RuntimeError("limpet -L never listened")

    def stop(self):
        try:
            self.p.sendline("exit")
            self.p.expect(pexpect.EOF, timeout=10)
        finally:
            if self.p.isalive():
                self.p.kill(9)
            self.p.close()


GCM = "aes128-gcm@openssh.com"


def cpu_aes_gcm():
    """Whether this CPU runs AES-GCM in hardware (x86 aes and pclmulqdq,
    arm64 aes and pmull): then limpet's ssh puts AES-GCM first
    (ssh_cipher_option()), and `ssh -c` GCM -L is the same-cipher
    comparison."""
    try:
        with open("/proc/cpuinfo") as f:
            words = set(f.read().split())
    except OSError:
        return False
    return "aes" in words and bool({"pclmulqdq", "pmull"} & words)


class SshL:
    """ssh -N -L spec (with extra options, e.g. a cipher)."""

    def __init__(self, lab, spec, extra=()):
        argv = ["ssh", "-F", lab.ssh_config, "-N", "-L", spec] + \
            list(extra) + [sshlab.HOST]
        self.pr = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        if not wait_listen(int(spec.split(":")[0])):
            self.stop()
            raise RuntimeError("ssh -L never listened")

    def stop(self):
        self.pr.terminate()
        try:
            self.pr.wait(5)
        except subprocess.TimeoutExpired:
            self.pr.kill()
            self.pr.wait()


def measure(lab, binary, sink, total, reps, limpet_only, down=False,
            same_cipher=False):
    """Both forwards up at once (and, with same_cipher, `ssh -c` GCM -L);
    transfers alternate between them so that the machine's other load
    falls on all alike.  Returns {name: [MB/s per transfer]}."""
    move = fetch if down else send
    fwds = [("limpet -L", LimpetL)]
    if not limpet_only:
        fwds.append(("ssh -L", lambda lab_, spec: SshL(lab_, spec)))
        if same_cipher:
            fwds.append(("ssh -L gcm", lambda lab_, spec: SshL(
                lab_, spec, ["-c", GCM])))
    up, got, cpu = [], {}, {}
    try:
        for name, make in fwds:
            port = sshlab.free_port()
            spec = "%d:127.0.0.1:%d" % (port, sink.port)
            up.append((name, port, make(lab, binary, spec)
                       if make is LimpetL else make(lab, spec)))
            got[name] = []
        for _ in range(reps):
            for name, port, _fwd in up:
                c0 = cpu_snapshot(lab, binary)
                got[name].append(move(port, total, sink))
                cpu_add(cpu, name, c0, cpu_snapshot(lab, binary))
    finally:
        for _name, _port, fwd in up:
            fwd.stop()
    gb = reps * total / 1e9
    print("CPU seconds per GB moved (py: the sender and the sink):")
    for how in sorted(cpu):
        print("  %-10s %s" % (how, "  ".join(
            "%s %.2f" % (k, v / gb) for k, v in sorted(cpu[how].items())
            if not k.endswith((" cs", " rd", " rb")))))
    print("Context switches per MB moved:")
    for how in sorted(cpu):
        print("  %-10s %s" % (how, "  ".join(
            "%s %.0f" % (k[:-3], v / (gb * 1000))
            for k, v in sorted(cpu[how].items()) if k.endswith(" cs"))))
    print("read(2) calls per MB moved, KiB per read (limpet's processes):")
    for how in sorted(cpu):
        print("  %-10s %s" % (how, "  ".join(
            "%s %.0f/%.1f" % (k, cpu[how][k + " rd"] / (gb * 1000),
                              cpu[how][k + " rb"] / 1024 /
                              max(cpu[how][k + " rd"], 1))
            for k in ("client", "relay", "daemon")
            if cpu[how].get(k + " rd"))))
    return got


def run(binary, total, reps, limpet_only=False, down=False,
        no_handoff=False, same_cipher=False):
    """measure() in a throwaway sshd on loopback, with its sink (or
    source); every process stopped and file removed after.  Also what
    `make bench`'s fwd-loopback runs (bench/fwd_bench.py)."""
    sink = Source() if down else Sink()
    try:
        with tempfile.TemporaryDirectory(prefix="limpet-fwdbench-") as d:
            lab = sshlab.SshLab(os.path.join(d, "lab"), server_log=False,
                                env={"LIMPET_NO_HANDOFF": "1"}
                                if no_handoff else None)
            try:
                return measure(lab, binary, sink, total, reps,
                               limpet_only, down, same_cipher)
            finally:
                lab.cleanup()
    finally:
        sink.sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--bin", default=os.path.join(ROOT, "limpet"))
    ap.add_argument("--limpet-only", action="store_true",
                    help="skip ssh -L (to profile limpet alone)")
    ap.add_argument("--down", action="store_true",
                    help="the target sends: a download through -L")
    ap.add_argument("--no-handoff", action="store_true",
                    help="the relay keeps splicing (LIMPET_NO_HANDOFF): "
                    "the figures from before the handoff")
    ap.add_argument("--same-cipher", action="store_true",
                    help="also ssh -c %s -L, the cipher limpet's ssh "
                    "uses on this CPU" % GCM)
    a = ap.parse_args()
    got = run(os.path.abspath(a.bin), a.mb * MB, a.reps, a.limpet_only,
              a.down, a.no_handoff, a.same_cipher)
    print("forward %d MB through -L on loopback, %s (best of %d, "
          "alternating; limpet's ssh %s AES-GCM first):" % (
              a.mb, "download" if a.down else "upload", a.reps,
              "puts" if cpu_aes_gcm() else "does not put"))
    for name, v in got.items():
        print("  %-11s %7.1f MB/s  %s" % (name, max(v), " ".join(
            "%.1f" % x for x in v)))
    lim = got["limpet -L"]
    for name, v in got.items():
        if name != "limpet -L":
            print("  ratio to %-11s %.2f  (of the medians: %.2f)" % (
                name, max(lim) / max(v), median(lim) / median(v)))

if __name__ == "__main__":
    main()
