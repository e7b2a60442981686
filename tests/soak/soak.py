"""The chaos soak: a limpet session in a network lab, data flowing both
ways, and faults at random moments.

    make soak [SOAK_CUTS=40] [SOAK_SEED=n] [SOAK_MIN_PASTE=1]
              [SOAK_MAX_PASTE=8388608]
              [SOAK_MAX_BLACKHOLE=90] [SOAK_OUT_RATE=16384]

A NetLab (tests/netlab.py: client, router with NAT, server namespaces)
runs a real sshd (tests/e2e/sshlab.py) in the server namespace; the
sanitized limpet client runs in the client namespace on a PTY the driver
holds, with tests/soak/peer.py as the session's program.  The peer writes
a numbered output stream at a bounded rate and records every input byte;
the driver pastes a numbered input stream in bursts of random size,
resizes the terminal (also during blackholes), and between pastes does
one fault per cut: kill -9 of the client's ssh, kill -9 of the relay,
SIGSTOP of ssh for a while, a blackhole of the path, a new client
address, an sshd restart, or a takeover by a second client and back.
After each fault the output must move on again.

At the end: the input the peer got equals what was pasted (sha256; else
where the first difference is and which records it hit), every output
line reached the client exactly once and intact (a takeover may replay
lines the old client already showed; that is counted, not a fault), the
session's terminal has the client's last size, the client and daemon
use no CPU when idle, hold no more descriptors than at the start, leave
no zombie, the session ends when its program does with no daemon or
relay left, and no sanitizer report was written (in the report files or
on a client's terminal).

Everything random follows random.Random(SOAK_SEED); the seed is printed
first, and every failure prints the command that replays the run.
"""

import collections
import glob
import hashlib
import math
import os
import queue
import random
import re
import select
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time

import pexpect

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import netlab  # noqa: E402
import sshlab  # noqa: E402

KINDS = ("ssh-kill", "relay-kill", "ssh-stop", "blackhole", "addr-change",
         "sshd-restart", "takeover")
NOTICE_RE = re.compile(rb"\x1b7.*?\x1b8", re.S)
LINE_RE = re.compile(rb"O(\d{8}) ([0-9a-f]+)\n")
# The client's own line when the daemon's ring no longer held its resume
# point: a loss the user is told about, not a silent one.
LOST_RE = re.compile(rb"\[limpet: (\d+) bytes of output were lost")
# Escape sequences and layout a screen snapshot puts between the cells it
# draws: what is left is the text the terminal shows, row after row.
SNAP_JUNK_RE = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[78=>]|\s")
RECOVER_S = 45          # after a fault heals, output must move by then
IDLE_S = 3.0            # idle CPU window
IDLE_CPU_PCT = 2.0      # "near zero" for a sanitized build


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


class Params:
    """The run's knobs, from the environment."""

    def __init__(self, **over):
        self.cuts = env_int("SOAK_CUTS", 40)
        seed = os.environ.get("SOAK_SEED", "").strip()
        self.seed = int(seed) if seed else random.SystemRandom().randrange(
            1, 2 ** 31)
        self.max_paste = env_int("SOAK_MAX_PASTE", 8 * 1024 * 1024)
        self.min_paste = min(env_int("SOAK_MIN_PASTE", 1), self.max_paste)
        self.max_blackhole = env_int("SOAK_MAX_BLACKHOLE", 90)
        self.out_rate = env_int("SOAK_OUT_RATE", 16384)
        self.bin = os.path.abspath(os.environ.get("LIMPET_BIN") or
                                   os.path.join(ROOT, "build", "san",
                                                "limpet"))
        for k, v in over.items():
            setattr(self, k, v)

    def replay(self):
        return ("make soak SOAK_SEED=%d SOAK_CUTS=%d SOAK_MIN_PASTE=%d "
                "SOAK_MAX_PASTE=%d SOAK_MAX_BLACKHOLE=%d SOAK_OUT_RATE=%d" % (
                    self.seed, self.cuts, self.min_paste, self.max_paste,
                    self.max_blackhole, self.out_rate))


def in_record(k):
    """Record k of the input stream: printable, no "~", ends in \\n."""
    pay = hashlib.sha256(b"i%d" % k).hexdigest().encode()
    n = 16 + k % 200
    return b"i%08d " % k + (pay * (n // 64 + 1))[:n] + b"\n"


def out_line(seq):
    """Line seq of the peer's output stream (as tests/soak/peer.py)."""
    pay = hashlib.sha256(b"%d" % seq).hexdigest()
    return b"O%08d %s\n" % (seq, pay[:8 + seq % 56].encode())


class InStream:
    """The input stream: records cut into pastes, all kept in a file."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.path = path
        self.k = 0
        self.pending = b""
        self.made = 0

    def take(self, n):
        parts, have = [self.pending], len(self.pending)
        while have < n:
            r = in_record(self.k)
            self.k += 1
            parts.append(r)
            have += len(r)
        data = b"".join(parts)
        self.pending = data[n:]
        out = data[:n]
        self.f.write(out)
        self.f.flush()
        self.made += n
        return out


def proc_stat(pid):
    """(state, utime+stime ticks) of pid, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    f = s[s.rfind(")") + 2:].split()
    return f[0], int(f[11]) + int(f[12])


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


class Client:
    """One limpet client on a PTY the driver reads and types into."""

    def __init__(self, soak, name, argv):
        self.soak = soak
        self.name = name
        self.log = os.path.join(soak.workdir, "%s-client.log" % name)
        env = soak.client_env()
        env["LIMPET_LOG"] = self.log
        argv = soak.lab.prefix("client") + argv
        self.child = pexpect.spawn(argv[0], argv[1:], env=env,
                                   dimensions=(24, 80), encoding=None,
                                   timeout=5)
        self.pid = self.child.pid
        self.raw = bytearray()
        self.cond = threading.Condition()
        self.eof = False
        self.written = 0
        self.fd_base = None
        self.size = (24, 80)
        self.started = time.monotonic()
        self.rd = threading.Thread(target=self._read, daemon=True)
        self.rd.start()

    def _read(self):
        fd = self.child.child_fd
        while True:
            try:
                r, _, _ = select.select([fd], [], [], 0.5)
                if not r:
                    continue
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                data = b""
            with self.cond:
                if not data:
                    self.eof = True
                    self.cond.notify_all()
                    return
                self.raw += data
                self.cond.notify_all()

    def write(self, data, deadline):
        """Type data; returns how much went in before the deadline."""
        fd = self.child.child_fd
        off = 0
        try:
            os.set_blocking(fd, False)
        except OSError:
            return 0
        while off < len(data) and time.monotonic() < deadline:
            try:
                off += os.write(fd, data[off:off + 16384])
            except BlockingIOError:
                time.sleep(0.005)
            except OSError:
                break
        self.written += off
        return off

    def max_seq(self):
        """The highest output line number seen on this client."""
        with self.cond:
            tail = bytes(self.raw[-4096:])
        nums = [int(m.group(1)) for m in LINE_RE.finditer(tail)]
        return max(nums) if nums else -1

    def wait(self, pred, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = end - time.monotonic()
                if left <= 0 or self.eof:
                    return pred()
                self.cond.wait(min(left, 0.5))
            return True

    def exit_status(self, timeout):
        """The client's exit status once it has exited, else None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.child.isalive():
                return self.child.exitstatus if self.child.exitstatus \
                    is not None else 128 + (self.child.signalstatus or 0)
            time.sleep(0.05)
        return None

    def stop(self):
        pids = [self.pid] + sshlab.descendants(self.pid)
        sshlab.end_pids(pids, grace=1.0)
        try:
            self.child.close(force=True)
        except Exception:
            pass


class Soak:
    """One soak run."""

    def __init__(self, params, log=print):
        self.p = params
        self.say = log
        self.rng = random.Random(params.seed)
        self.findings = []
        self.cuts = collections.Counter()
        self.info = []
        self.workdir = tempfile.mkdtemp(prefix="lpsoak")  # $TMPDIR or /tmp
        os.chmod(self.workdir, 0o755)
        self.peerdir = os.path.join(self.workdir, "peer")
        os.makedirs(self.peerdir)
        self.lab = None
        self.sshd = None
        self.clients = []       # every client, in order of attach
        self.cur = None
        self.pastes = queue.Queue()
        # Pastes queued or being typed: paste() counts up, the writer down
        # once a paste is all typed (a flag cleared after the first of two
        # queued pastes let drain_input() return early).
        self.pending = 0
        self.pending_lock = threading.Lock()
        self.instream = InStream(os.path.join(self.workdir, "sent"))
        self.sent = 0
        self.session_id = None
        self.daemon_pid = None
        self.daemon_fd_base = None

    # -- findings and reporting ---------------------------------------

    def find(self, what):
        t = time.monotonic() - self.t0
        line = "[%6.1fs] FINDING: %s" % (t, what)
        self.findings.append(line)
        self.say(line)

    def note(self, fmt, *args):
        t = time.monotonic() - self.t0
        self.say("[%6.1fs] %s" % (t, fmt % args))

    # -- setup ----------------------------------------------------------

    def client_env(self):
        env = {
            "TERM": "xterm-256color", "LANG": "C.UTF-8",
            "HOME": os.environ.get("HOME") or os.path.expanduser("~"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "USER": sshlab.getpass.getuser(),
            "LOGNAME": sshlab.getpass.getuser(),
        }
        env.update(sshlab.san_options(os.path.join(self.workdir,
                                                   "client")))
        return env

    def wrapper(self):
        """A server-side limpet that logs to the lab's server log."""
        path = os.path.join(self.workdir, "server.sh")
        with open(path, "w") as f:
            f.write("#!/bin/sh\nLIMPET_LOG=%s exec %s \"$@\"\n" % (
                shlex.quote(os.path.join(self.workdir, "server.log")),
                shlex.quote(self.p.bin)))
        os.chmod(path, 0o755)
        return path

    def start(self):
        why = netlab.unavailable()
        if why:
            raise RuntimeError(why)
        self.lab = netlab.NetLab()
        self.sshd = sshlab.SshLab(os.path.join(self.workdir, "lab"),
                                  netns=self.lab.server,
                                  listen_addr=self.lab.server_addr)
        self.server = self.wrapper()
        # The checks read the byte stream off the terminal: predictive
        # echo (drawn between its pieces) stays off.
        argv = [self.p.bin, "--server-path", self.server, "--verbose",
                "--predict", "never",
                "-F", self.sshd.ssh_config, "lab", "/usr/bin/python3",
                os.path.join(HERE, "peer.py"), self.peerdir,
                str(self.p.out_rate)]
        self.cur = Client(self, "c1", argv)
        self.clients.append(self.cur)
        if not self.cur.wait(lambda: self.cur.max_seq() >= 10, 30):
            raise RuntimeError("the session never showed output:\n%r\n%s"
                               % (bytes(self.cur.raw[-2000:]),
                                  self.logs()))
        pids = self.sshd.session_pids()
        if len(pids) != 1:
            raise RuntimeError("expected one session daemon, got %r" % pids)
        self.daemon_pid = pids[0]
        ids = [os.path.basename(p)[:-4] for p in
               glob.glob(os.path.join(self.sshd.sessions, "*.pid"))]
        self.session_id = ids[0]
        time.sleep(0.5)
        self.cur.fd_base = fd_count(self.cur.pid)
        self.daemon_fd_base = fd_count(self.daemon_pid)
        self.wt = threading.Thread(target=self._writer, daemon=True)
        self.wt.start()

    # -- input ----------------------------------------------------------

    def _writer(self):
        while True:
            n = self.pastes.get()
            if n is None:
                return
            data = self.instream.take(n)
            deadline = time.monotonic() + 600
            off = 0
            while off < len(data) and time.monotonic() < deadline:
                c = self.cur
                off += c.write(data[off:], deadline)
                if off < len(data):
                    # The client went away (takeover): wait for the next.
                    time.sleep(0.1)
            self.sent += off
            if off < len(data):
                self.find("paste of %d bytes: only %d typed in 600 s "
                          "(the client stopped reading its terminal)"
                          % (len(data), off))
            with self.pending_lock:
                self.pending -= 1

    def paste(self):
        n = int(math.exp(self.rng.uniform(math.log(self.p.min_paste),
                                          math.log(self.p.max_paste))))
        n = max(self.p.min_paste, min(n, self.p.max_paste))
        with self.pending_lock:
            self.pending += 1
        self.pastes.put(n)
        return n

    def status(self):
        """(received, lines, sha256) from the peer."""
        try:
            with open(os.path.join(self.peerdir, "status")) as f:
                got, lines, digest, _, _ = f.read().split()
            return int(got), int(lines), digest
        except (OSError, ValueError):
            return 0, 0, ""

    def peer_size(self):
        """(rows, columns) of the session's terminal as the peer sees it."""
        try:
            with open(os.path.join(self.peerdir, "status")) as f:
                rows, cols = f.read().split()[3:5]
            return int(rows), int(cols)
        except (OSError, ValueError):
            return 0, 0

    def wait_until(self, pred, timeout, step=0.1):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(step)
        return pred()

    def drain_input(self, timeout):
        """Wait until every pasted byte reached the peer."""
        if not self.wait_until(lambda: self.pending == 0, timeout):
            return False
        return self.wait_until(lambda: self.status()[0] >= self.sent,
                               timeout)

    # -- faults -----------------------------------------------------------

    def ssh_pids(self):
        return [p for p in sshlab.descendants(self.cur.pid)
                if comm(p) == "ssh" and sshlab.alive(p)]

    def relay_pids(self):
        marker = ("LIMPET_DIR=%s" % self.sshd.sessions).encode()
        daemons = set(self.sshd.session_pids()) | {self.daemon_pid}
        return [p for p in sshlab.pids_with_env(marker)
                if b"relay" in cmdline(p) and p not in daemons]

    def kill(self, pids, sig):
        for p in pids:
            try:
                os.kill(p, sig)
            except OSError:
                pass

    def fault(self, kind):
        """Do one fault; returns a short description."""
        r = self.rng
        if kind == "ssh-kill":
            pids = self.ssh_pids()
            self.kill(pids, signal.SIGKILL)
            return "killed ssh %s" % pids
        if kind == "relay-kill":
            pids = self.relay_pids()
            self.kill(pids, signal.SIGKILL)
            return "killed relay %s" % pids
        if kind == "ssh-stop":
            secs = r.uniform(1, max(1, min(20, self.p.max_blackhole)))
            pids = self.ssh_pids()
            self.kill(pids, signal.SIGSTOP)
            time.sleep(secs)
            self.kill(pids, signal.SIGCONT)
            return "stopped ssh %s for %.1fs" % (pids, secs)
        if kind == "blackhole":
            secs = r.uniform(1, max(1, self.p.max_blackhole))
            self.lab.blackhole(True)
            try:
                time.sleep(secs / 2)
                # A resize nobody can hear must still arrive.
                size = self.resize() if r.random() < 0.5 else None
                time.sleep(secs / 2)
            finally:
                self.lab.blackhole(False)
            return "blackhole for %.1fs%s" % (
                secs, ", resized to %dx%d in it" % size if size else "")
        if kind == "addr-change":
            return "client moved to %s" % self.lab.change_client_addr()
        if kind == "sshd-restart":
            conns = r.random() < 0.5
            if conns:
                self.sshd.stop(connections=True)
                time.sleep(r.uniform(0, 3))
                self.sshd.start()
            else:
                self.sshd.restart()
            return "sshd restarted%s" % (" with its connections"
                                         if conns else "")
        if kind == "takeover":
            return self.takeover()
        raise ValueError(kind)

    def attach(self, name):
        argv = [self.p.bin, "attach", "--server-path", self.server,
                "--verbose", "--predict", "never",
                "-F", self.sshd.ssh_config, "lab",
                self.session_id]
        c = Client(self, name, argv)
        self.clients.append(c)
        return c

    def takeover(self):
        """A second client takes the session, then a third takes it
        back (the user returning to the first machine)."""
        if not self.drain_input(120):
            self.find("takeover: pasted input did not all arrive in 120 s "
                      "before it (sent %d, peer has %d)"
                      % (self.sent, self.status()[0]))
        steps = []
        for _ in range(2):
            old = self.cur
            new = self.attach("c%d" % (len(self.clients) + 1))
            st = old.exit_status(20)
            if st is None:
                self.find("%s still running 20 s after %s took over"
                          % (old.name, new.name))
                old.stop()
            elif st != 0 or b"taken over" not in old.raw:
                self.find("%s exited %s after takeover; it said %r" % (
                    old.name, st, bytes(old.raw[-300:])))
            self.check_client_gone(old)
            self.cur = new
            seq = self.status()[1]
            if not new.wait(lambda: new.max_seq() >= seq, RECOVER_S):
                self.find("%s showed no output %ds after attaching"
                          % (new.name, RECOVER_S))
            new.fd_base = fd_count(new.pid)
            steps.append("%s->%s" % (old.name, new.name))
        return "takeover " + ", ".join(steps)

    def check_client_gone(self, c):
        left = [p for p in sshlab.descendants(c.pid) if sshlab.alive(p)]
        if left:
            self.find("%s exited but left %s" % (c.name, [
                (p, comm(p)) for p in left]))

    def recovered(self, kind, desc):
        """After a fault: the output must move on again.  Returns how long
        after the fault healed a line written after it showed up."""
        c = self.cur
        t = time.monotonic()
        # Lines the peer writes from now on can only come through a
        # connection that works: the status file is at most 0.2 s old.
        time.sleep(0.3)
        seq = max(self.status()[1], c.max_seq() + 1)
        if c.wait(lambda: c.max_seq() >= seq, RECOVER_S):
            return time.monotonic() - t
        self.find("output did not resume within %ds after %s (%s): the "
                  "peer wrote line %d, %s shows %d" % (
                      RECOVER_S, kind, desc, seq - 1, c.name, c.max_seq()))
        return None

    def resize(self):
        rows, cols = self.rng.randint(5, 80), self.rng.randint(20, 250)
        try:
            self.cur.child.setwinsize(rows, cols)
            self.cur.size = (rows, cols)
        except Exception:
            pass
        return rows, cols

    # -- the run ------------------------------------------------------------

    def run(self):
        self.t0 = time.monotonic()
        self.say("soak: seed %d, %d cuts, pastes up to %d bytes, "
                 "blackholes up to %ds, output %d B/s" % (
                     self.p.seed, self.p.cuts, self.p.max_paste,
                     self.p.max_blackhole, self.p.out_rate))
        self.say("soak: replay with: %s" % self.p.replay())
        self.start()
        self.note("session %s up (daemon %d, client %d)", self.session_id,
                  self.daemon_pid, self.cur.pid)
        for i in range(self.p.cuts):
            kind = self.rng.choice(KINDS)
            n = self.paste()
            if self.rng.random() < 0.3:
                self.resize()
            time.sleep(self.rng.uniform(0.2, 3.0))
            desc = self.fault(kind)
            self.cuts[kind] += 1
            took = self.recovered(kind, desc)
            self.note("cut %d/%d: %s (paste %d B); output moved %s", i + 1,
                      self.p.cuts, desc, n, "after %.1fs" % took
                      if took is not None else "NEVER")
            if took is None and not self.cur.child.isalive():
                self.find("client %s is gone: %r" % (
                    self.cur.name, bytes(self.cur.raw[-400:])))
                break
        self.finish()

    def finish(self):
        """Quiesce, measure idle, end the session, check everything."""
        open(os.path.join(self.peerdir, "pause"), "w").close()
        if not self.cur.child.isalive():
            self.find("the soak ended early: client %s is gone" %
                      self.cur.name)
            self.check_input()
            return
        if not self.drain_input(300):
            self.find("input not all delivered 300 s after the last cut: "
                      "sent %d, peer got %d" % (self.sent,
                                                self.status()[0]))
        lines = self.status()[1]
        c = self.cur
        if not c.wait(lambda: c.max_seq() >= lines - 1, 60):
            self.find("output not all shown 60 s after the last cut: "
                      "peer wrote %d lines, %s shows up to %d" % (
                          lines, c.name, c.max_seq()))
        time.sleep(1.0)
        want = self.cur.size
        if not self.wait_until(lambda: self.peer_size() == want, 10):
            self.find("the session's terminal is %dx%d, %s's is %dx%d" % (
                self.peer_size() + (self.cur.name,) + want))
        else:
            self.info.append("terminal size %dx%d reached the session" %
                             want)
        self.idle_checks()
        self.pastes.put(None)
        with open(os.path.join(self.peerdir, "stop.tmp"), "w") as f:
            f.write("%d\n" % self.sent)
        os.rename(os.path.join(self.peerdir, "stop.tmp"),
                  os.path.join(self.peerdir, "stop"))
        st = c.exit_status(30)
        if st != 0:
            self.find("the client exited %s when the session's program "
                      "ended (0 expected)" % st)
        self.check_client_gone(c)
        if not self.wait_until(lambda: not any(
                sshlab.alive(p) for p in [self.daemon_pid] +
                self.relay_pids()), 10):
            self.find("session daemon %d or relays %s still alive 10 s "
                      "after the session ended" % (self.daemon_pid,
                                                   self.relay_pids()))
        left = [p for p in self.sshd.session_pids() if sshlab.alive(p)]
        if left:
            self.find("daemons %s still listed in the sessions directory "
                      "after the session ended" % left)
        self.check_input()
        self.check_output()

    def idle_checks(self):
        procs = [("client " + self.cur.name, self.cur.pid),
                 ("daemon", self.daemon_pid)]
        before = {pid: proc_stat(pid) for _, pid in procs}
        time.sleep(IDLE_S)
        hz = os.sysconf("SC_CLK_TCK")
        for name, pid in procs:
            a, b = before[pid], proc_stat(pid)
            if a is None or b is None:
                self.find("%s (pid %d) is gone at the end" % (name, pid))
                continue
            pct = 100.0 * (b[1] - a[1]) / hz / IDLE_S
            self.info.append("%s idle CPU %.1f%%" % (name, pct))
            if pct > IDLE_CPU_PCT:
                self.find("%s uses %.1f%% CPU when idle" % (name, pct))
        for name, pid, base in (("client " + self.cur.name, self.cur.pid,
                                 self.cur.fd_base),
                                ("daemon", self.daemon_pid,
                                 self.daemon_fd_base)):
            now = fd_count(pid)
            self.info.append("%s fds %s at start, %s at end" % (name, base,
                                                                 now))
            if base is not None and now is not None and now > base:
                self.find("%s holds %d fds, %d at start" % (name, now,
                                                             base))
            kids = sshlab.proc_children().get(pid, [])
            zombies = [k for k in kids if (proc_stat(k) or ("?",))[0] ==
                       "Z"]
            if zombies:
                self.find("%s has zombie children %s" % (name, zombies))

    def check_input(self):
        """The peer's input must equal what was pasted."""
        self.instream.f.close()
        with open(self.instream.path, "rb") as f:
            sent = f.read()
        try:
            with open(os.path.join(self.peerdir, "recv"), "rb") as f:
                got = f.read()
        except OSError:
            got = b""
        self.bytes_in = (len(sent), len(got))
        if hashlib.sha256(sent).digest() == hashlib.sha256(got).digest():
            self.info.append("input: %d bytes, sha256 %s, equal" % (
                len(sent), hashlib.sha256(sent).hexdigest()[:16]))
            return
        i = 0
        n = min(len(sent), len(got))
        step = 1 << 20
        while i < n and sent[i:i + step] == got[i:i + step]:
            i += step
        while i < n and sent[i] == got[i]:
            i += 1
        rec_s = re.findall(rb"i(\d{8}) ", sent[max(0, i - 300):i + 300])
        rec_g = re.findall(rb"i(\d{8}) ", got[max(0, i - 300):i + 300])
        what = "shorter" if i == len(got) else "differs"
        self.find("input: sent %d bytes, peer got %d; first difference at "
                  "byte %d (got %s): records sent there %s, got %s" % (
                      len(sent), len(got), i, what,
                      [int(x) for x in rec_s[:6]],
                      [int(x) for x in rec_g[:6]]))
        self.input_gaps(got)

    def input_gaps(self, got):
        """Which input records arrived damaged, twice or not at all."""
        seen = collections.Counter()
        bad = 0
        for m in re.finditer(rb"i(\d{8}) ([0-9a-f]*)\n", got):
            k = int(m.group(1))
            if m.group(0) == in_record(k):
                seen[k] += 1
            else:
                bad += 1
        if not seen:
            return
        top = max(seen)
        missing = [k for k in range(top) if k not in seen]
        dups = [k for k, v in seen.items() if v > 1]
        self.find("input records: %d missing (first %s), %d twice (first "
                  "%s), %d damaged" % (len(missing), missing[:5], len(dups),
                                       sorted(dups)[:5], bad))

    @staticmethod
    def told_loss(text, pa, pb, a, b):
        """Whether the client reported, between line a (at pa) and line b
        (at pb), as many lost bytes as lines a+1..b-1 hold, give or take
        the parts of the two edge lines it showed."""
        m = LOST_RE.search(text, pa, pb)
        if m is None:
            return False
        n = int(m.group(1))
        gap = sum(len(out_line(k)) for k in range(a + 1, b))
        edges = len(out_line(a + 1)) + (len(out_line(b - 1)) if b - 1 > a + 1
                                        else 0)
        return gap - edges <= n <= gap

    @staticmethod
    def snapshot_lines(head, first, end):
        """Lines first..end-1 whose text a screen snapshot (head: what a
        client showed before its first whole line) drew."""
        if end <= first:
            return set()
        flat = SNAP_JUNK_RE.sub(b"", NOTICE_RE.sub(b"", head))
        return {k for k in range(first, end)
                if out_line(k).replace(b" ", b"").strip() in flat}

    def check_output(self):
        """Every output line once, intact, across clients."""
        got, lines, digest = self.status()
        self.lines = lines
        prev_last = -1
        have = set()
        told = set()
        total = 0
        replayed = 0
        snapped = 0
        for c in self.clients:
            text = NOTICE_RE.sub(b"", bytes(c.raw))
            seqs, at_pos, bad, stray, at = [], [], 0, [], 0
            for m in LINE_RE.finditer(text):
                if m.start() > at and text[at:m.start()].strip():
                    stray.append(text[at:m.start()][:80])
                at = m.end()
                k = int(m.group(1))
                if m.group(0) != out_line(k):
                    bad += 1
                    continue
                seqs.append(k)
                at_pos.append(m.start())
            if not seqs:
                self.find("%s showed no output line at all" % c.name)
                continue
            total += len(seqs)
            probs = []
            # A client that took the session over is drawn the screen as a
            # snapshot first: rows of cells, each output line cut where the
            # terminal wrapped it.  Lines the old client had not shown yet
            # count as shown when their text is in that snapshot.
            drawn = self.snapshot_lines(text[:at_pos[0]], prev_last + 1,
                                        seqs[0])
            have.update(drawn)
            snapped += len(drawn)
            if drawn and len(drawn) == seqs[0] - prev_last - 1:
                prev_last = seqs[0] - 1
            if seqs[0] > prev_last + 1:
                probs.append("starts at line %d after %d before it" % (
                    seqs[0], prev_last))
            elif seqs[0] <= prev_last:
                replayed += prev_last + 1 - seqs[0]
            for (a, pa), (b, pb) in zip(zip(seqs, at_pos),
                                        zip(seqs[1:], at_pos[1:])):
                if b > a + 1 and self.told_loss(text, pa, pb, a, b):
                    told.update(range(a + 1, b))
                elif b != a + 1:
                    probs.append("line %d after %d (%s)" % (
                        b, a, "gap" if b > a else "duplicate"))
            if bad:
                probs.append("%d damaged lines" % bad)
            for p in probs[:8]:
                self.find("output on %s: %s" % (c.name, p))
            if stray:
                self.info.append("%s: text between lines: %r" % (
                    c.name, stray[:3]))
            have.update(seqs)
            prev_last = max(prev_last, seqs[-1])
        missing = [k for k in range(lines) if k not in have and
                   k not in told]
        if told:
            self.info.append("output: %d lines lost while disconnected "
                             "longer than the ring holds; the client said "
                             "so" % len(told - have))
        if missing:
            self.find("output: %d of %d lines never shown (first %s)" % (
                len(missing), lines, missing[:5]))
        h = hashlib.sha256()
        for k in range(lines):
            h.update(out_line(k))
        if h.hexdigest() != digest:
            self.find("output: the peer's sha256 %s is not that of lines "
                      "0..%d" % (digest[:16], lines - 1))
        elif not missing:
            self.info.append("output: %d lines, sha256 %s, each shown "
                             "(%d replayed after takeovers, %d only in a "
                             "takeover's snapshot)" % (
                                 lines, digest[:16], replayed, snapped))
        self.bytes_out = sum(len(out_line(k)) for k in range(lines))

    # -- teardown -----------------------------------------------------

    def logs(self):
        out = []
        for c in self.clients:
            out.append("---- %s client log (tail) ----\n%s" % (
                c.name, sshlab._read(c.log)[-3000:]))
        out.append("---- server log (tail) ----\n%s" % sshlab._read(
            os.path.join(self.workdir, "server.log"))[-5000:])
        return "\n".join(out)

    def close(self):
        """Stop everything; collect sanitizer reports."""
        self.pastes.put(None)
        for c in self.clients:
            c.stop()
            with open(os.path.join(self.workdir, c.name + ".screen"),
                      "wb") as f:
                f.write(bytes(c.raw))
        reports = []
        if self.sshd is not None:
            reports += self.sshd.cleanup()
        if self.lab is not None:
            self.lab.close()
        reports += sshlab.san_reports(self.workdir)
        # A report may also land on the client's terminal (stderr).
        for c in self.clients:
            m = re.search(rb"[^\n]*(runtime error:|ERROR: AddressSanitizer|"
                          rb"ERROR: LeakSanitizer)[^\n]*", bytes(c.raw))
            if m:
                self.find("sanitizer report on %s's terminal: %s" % (
                    c.name, re.sub(rb"\x1b\[[0-9;]*m", b"",
                                   m.group(0)).decode(errors="replace")))
        for path, text in reports:
            self.find("sanitizer report %s:\n%s" % (os.path.basename(path),
                                                     text[:4000]))
        return reports

    def summary(self):
        el = time.monotonic() - self.t0
        bi = getattr(self, "bytes_in", (self.sent, self.status()[0]))
        lines = ["", "==== soak summary (seed %d) ====" % self.p.seed,
                 "time: %.0f s" % el,
                 "cuts: %d (%s)" % (sum(self.cuts.values()), ", ".join(
                     "%s %d" % kv for kv in sorted(self.cuts.items()))),
                 "input: %d bytes pasted, %d received" % bi,
                 "output: %d bytes (%d lines)" % (
                     getattr(self, "bytes_out", 0),
                     getattr(self, "lines", 0)),
                 "clients: %d" % len(self.clients)]
        lines += ["  " + i for i in self.info]
        lines.append("findings: %d" % len(self.findings))
        lines += ["  " + f.split("\n")[0] for f in self.findings]
        if self.findings:
            lines.append("replay: %s" % self.p.replay())
            lines.append("logs kept in %s" % self.workdir)
        return "\n".join(lines)


def soak(params, log=print):
    """Run a soak; returns (findings, summary text)."""
    s = Soak(params, log)
    try:
        s.run()
    except Exception as e:
        import traceback
        s.find("driver stopped: %s\n%s\n%s" % (e, traceback.format_exc(),
                                               s.logs()))
    finally:
        s.close()
    text = s.summary()
    if not s.findings and not os.environ.get("LIMPET_KEEP"):
        shutil.rmtree(s.workdir, ignore_errors=True)
    elif s.findings:
        with open(os.path.join(s.workdir, "logs.txt"), "w") as f:
            f.write(s.logs())
    return s.findings, text


def main():
    params = Params()
    findings, text = soak(params)
    print(text)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
