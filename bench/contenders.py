"""The programs the bench compares, and the lab they run in.

Every contender opens an interactive bash on the server (the same rc file:
a fixed prompt, no history file) from a PTY in the client namespace, across
the lab's router, to a real sshd in the server namespace.

  ssh          ssh -tt, ServerAliveInterval 30
  limpet       ./limpet --server-path ./limpet, default settings
  mosh         mosh --predict=never (prediction off)
  mosh-predict mosh with its default prediction (adaptive)
  autossh+tmux autossh -M 0 with ServerAliveInterval 5, ServerAliveCountMax
               2, ConnectTimeout 5, running `tmux new -A` (status line off)
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import netlab  # noqa: E402
import sshlab  # noqa: E402
from term import Term, end_pids, descendants  # noqa: E402

PROMPT = rb"BENCH\$ "
RC = "PS1='BENCH$ '\nHISTFILE=/dev/null\nunset PROMPT_COMMAND\n"


class Skip(Exception):
    """A contender cannot run here; the message says why."""


class Lab:
    """A NetLab with an sshd in its server namespace and bench files."""

    def __init__(self, limpet, nat_timeout=None):
        self.limpet = limpet
        self.dir = tempfile.mkdtemp(prefix="limpet-bench-lab-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.net = netlab.NetLab(nat_timeout=nat_timeout)
        self.ssh = None
        try:
            self.ssh = sshlab.SshLab(os.path.join(self.dir, "ssh"),
                                     netns=self.net.server,
                                     listen_addr=self.net.server_addr)
        except BaseException:
            self.net.close()
            raise
        self.rc = os.path.join(self.dir, "bashrc")
        with open(self.rc, "w") as f:
            f.write(RC)
        self.tmux_conf = os.path.join(self.dir, "tmux.conf")
        with open(self.tmux_conf, "w") as f:
            f.write("set -g status off\n")
        self.tmux_sock = os.path.join(self.dir, "tmux.sock")
        self.shell = "bash --rcfile %s -i" % self.rc

    def client_env(self):
        """The environment of a client program."""
        return {
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": os.environ.get("HOME", "/root"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "USER": sshlab.getpass.getuser(),
            "LOGNAME": sshlab.getpass.getuser(),
            "AUTOSSH_GATETIME": "0",
        }

    def in_client(self, argv):
        """argv run in the client namespace."""
        return self.net.prefix("client") + list(argv)

    def ssh_argv(self, *cmd, opts=()):
        """Plain ssh from the client namespace to the lab's sshd."""
        return self.in_client(["ssh", "-F", self.ssh.ssh_config] +
                              list(opts) + ["lab"] + list(cmd))

    def server_pids(self):
        """Processes in the server namespace except the listening sshd."""
        keep = self.ssh.pid
        return [p for p in netlab.pids_in_netns(self.net.server)
                if p != keep]

    def reset(self):
        """End every session process of the last contender, by pid."""
        end_pids(netlab.pids_in_netns(self.net.client), grace=1.0)
        end_pids(self.server_pids(), grace=1.0)
        shutil.rmtree(self.ssh.sessions, ignore_errors=True)
        self.net.blackhole(False)
        self.net.set_rate(None)
        if self.net.delayer is not None:
            self.net.set_delay(0)
            self.net.set_loss(0)

    def close(self):
        """Tear down sshd, sessions, namespaces and files."""
        try:
            self.reset()
        finally:
            try:
                if self.ssh is not None:
                    self.ssh.cleanup()
            finally:
                self.net.close()
                shutil.rmtree(self.dir, ignore_errors=True)


class Contender:
    """One way of getting a remote shell."""

    name = "?"
    server_names = ()   # comm of its server-side processes (CPU, memory)
    client_names = ()   # comm of its client-side processes
    lost_re = None      # what it shows when contact is lost
    byte_stream = True  # delivers every output byte (not screen states)
    # Turn off the local terminal's echo.  Not for ssh: it copies the
    # local modes to the remote PTY, and bash's readline does not echo
    # when ECHO was off.
    local_echo = True

    def __init__(self, bench):
        self.bench = bench
        self.skip = None

    def argv(self, lab):
        raise NotImplementedError

    def start(self, lab, timeout=20, log=None):
        """Open a session; returns a Term at the bench prompt.  With log,
        a contender that can log its decisions writes them there."""
        env = lab.client_env()
        argv = self.argv(lab)
        if log is not None:
            argv, env = self.logging(argv, env, log)
        term = Term(argv, env, echo=self.local_echo)
        if term.wait(PROMPT, timeout, since=0) is None:
            out = term.text()[-300:]
            term.close()
            raise RuntimeError("no prompt within %ds; output: %r" %
                               (timeout, out))
        term.drain(0.2)
        return term

    def logging(self, argv, env, log):
        """argv and env that make the client log to the file log."""
        return argv, env


class Ssh(Contender):
    name = "ssh"
    server_names = ("sshd",)
    client_names = ("ssh",)
    lost_re = rb"not responding|closed by|Broken pipe|Connection reset"

    def argv(self, lab):
        # LogLevel INFO: ssh says "Timeout, server ... not responding".
        return lab.ssh_argv(lab.shell, opts=["-tt", "-o",
                                             "ServerAliveInterval=30",
                                             "-o", "LogLevel=INFO"])


class Limpet(Contender):
    name = "limpet"
    server_names = ("limpet",)
    client_names = ("limpet",)
    lost_re = rb"limpet: no contact"

    def argv(self, lab):
        return lab.in_client([lab.limpet, "--server-path", lab.limpet,
                              "-F", lab.ssh.ssh_config, "lab"] +
                             lab.shell.split())

    def logging(self, argv, env, log):
        i = argv.index(self.bench_limpet(argv)) + 1
        return argv[:i] + ["--verbose"] + argv[i:], dict(env,
                                                         LIMPET_LOG=log)

    @staticmethod
    def bench_limpet(argv):
        # The limpet binary: the first word after the namespace prefix.
        return argv[4]


class Mosh(Contender):
    name = "mosh"
    predict = "never"
    server_names = ("mosh-server",)
    client_names = ("mosh-client",)
    lost_re = rb"Last contact|last contact"
    byte_stream = False

    def argv(self, lab):
        return lab.in_client([
            "mosh", "--ssh=ssh -F %s" % shlex.quote(lab.ssh.ssh_config),
            "--server=env LANG=C.UTF-8 mosh-server",
            "--predict=%s" % self.predict,
            "--experimental-remote-ip=remote",
            "lab", "--"] + lab.shell.split())


class MoshPredict(Mosh):
    name = "mosh-predict"
    predict = "adaptive"


class AutosshTmux(Contender):
    name = "autossh+tmux"
    # tmux makes the pane's PTY itself, so the modes ssh copies do not
    # matter, and typed keys must not echo locally between two ssh runs.
    local_echo = False
    server_names = ("tmux: server",)
    client_names = ("ssh", "autossh")
    lost_re = rb"not responding|closed by|Broken pipe|Connection reset"
    byte_stream = False

    def argv(self, lab):
        tmux = "tmux -S %s -f %s new -A -s bench %s" % (
            lab.tmux_sock, lab.tmux_conf, shlex.quote(lab.shell))
        return lab.in_client([
            "autossh", "-M", "0", "--", "-F", lab.ssh.ssh_config, "-tt",
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2",
            "-o", "ConnectTimeout=5", "-o", "LogLevel=INFO", "lab", tmux])


ALL = [Ssh, Limpet, Mosh, MoshPredict, AutosshTmux]


def proc_info(pid):
    """comm, ppid, RSS (KiB), CPU ticks, context switches of a pid."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
    except OSError:
        return None
    comm = st[st.find("(") + 1:st.rfind(")")]
    fields = st[st.rfind(")") + 2:].split()
    info = {"pid": pid, "comm": comm, "ppid": int(fields[1]),
            "cpu": int(fields[11]) + int(fields[12]), "rss": 0, "csw": 0}
    for ln in status.splitlines():
        k, _, v = ln.partition(":")
        if k == "VmRSS":
            info["rss"] = int(v.split()[0])
        elif k in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            info["csw"] += int(v)
    return info


def pss(pid):
    """Proportional set size (KiB): resident pages, shared ones divided
    among their users, so sums over processes mean something."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for ln in f:
                if ln.startswith("Pss:"):
                    return int(ln.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def procs(ns_name, names):
    """proc_info of the processes in a namespace whose comm is in names."""
    out = []
    for pid in netlab.pids_in_netns(ns_name):
        i = proc_info(pid)
        if i is not None and i["comm"] in names:
            out.append(i)
    return out


def limpet_roles(lab):
    """Split limpet server processes into (daemons, relays): relays are
    below the sshd listener, daemons are not."""
    below = set(descendants(lab.ssh.pid)) if lab.ssh.pid else set()
    daemons, relays = [], []
    for i in procs(lab.net.server, ("limpet",)):
        (relays if i["pid"] in below else daemons).append(i)
    return daemons, relays


def tool_check(bench, names):
    """Install the Debian packages that provide missing tools; returns a
    reason string if something is still missing, else None."""
    pkgs = {"mosh": "mosh", "autossh": "autossh", "tmux": "tmux",
            "gnuplot": "gnuplot-nox"}
    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return None
    if os.geteuid() == 0 and shutil.which("apt-get"):
        want = sorted({pkgs[n] for n in missing if n in pkgs})
        bench.log("installing %s with apt-get" % " ".join(want))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y", "-q"] + want,
                           capture_output=True, text=True, env=env,
                           timeout=600)
        if r.returncode != 0:
            bench.log("apt-get failed: %s" %
                      (r.stderr.strip().splitlines() or ["?"])[-1])
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        return "%s not installed (apt-get install %s failed)" % (
            ", ".join(missing), " ".join(pkgs.get(n, n) for n in missing))
    return None


def wait_until(pred, timeout, step=0.05):
    """Poll pred until true or timeout; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)
