"""A throwaway OpenSSH server on loopback for limpet's end-to-end tests.

SshLab makes its own host and user keys, an sshd_config and an ssh_config
in a directory of its own, and runs a private sshd (on a free loopback
port, inside a network namespace, or as an inetd-style ProxyCommand).
The server side of limpet keeps its sockets in <basedir>/sessions
(LIMPET_DIR) and writes sanitizer reports into <basedir>, so cleanup()
can end every process the lab caused and tell whether ASan or UBSan
complained.
"""

import getpass
import glob
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

HOST = "lab"
START_TIMEOUT = 10.0


def find_sshd():
    """The path of sshd, or None: Debian keeps it in /usr/sbin."""
    for d in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        p = os.path.join(d, "sshd")
        if os.access(p, os.X_OK):
            return p
    return shutil.which("sshd")


def default_bin():
    """The limpet binary the tests run: $LIMPET_BIN or the sanitized one."""
    return os.environ.get("LIMPET_BIN") or os.path.join(
        REPO, "build", "san", "limpet")


def san_options(prefix):
    """ASAN_OPTIONS and UBSAN_OPTIONS that send reports to prefix.*."""
    asan = ("log_path=%s-asan:abort_on_error=0:halt_on_error=1:"
            "detect_leaks=1:allocator_may_return_null=1" % prefix)
    ubsan = ("log_path=%s-ubsan:print_stacktrace=1:halt_on_error=1"
             % prefix)
    return {"ASAN_OPTIONS": asan, "UBSAN_OPTIONS": ubsan}


def san_reports(directory):
    """Sanitizer report files (as (path, text)) found in directory."""
    out = []
    for pat in ("*-asan.*", "*-ubsan.*"):
        for path in sorted(glob.glob(os.path.join(directory, pat))):
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
            except OSError as e:
                text = "(unreadable: %s)" % e
            out.append((path, text))
    return out


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def free_port(addr="127.0.0.1"):
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def proc_stats():
    """(pid, state, ppid) of every process, read from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parens: split after it.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1:
            out.append((int(d), fields[0], int(fields[1])))
    return out


def proc_children():
    """Map of pid -> list of child pids, read from /proc."""
    kids = {}
    for pid, _, ppid in proc_stats():
        kids.setdefault(ppid, []).append(pid)
    return kids


def descendants(pid):
    """Every process below pid, deepest last in discovery order."""
    kids = proc_children()
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            if k not in out:
                out.append(k)
                todo.append(k)
    return out


def ssh_pids(pid):
    """The ssh processes among pid's descendants now (a limpet client's
    connections)."""
    out = []
    for q in descendants(pid):
        try:
            with open("/proc/%d/comm" % q) as f:
                if f.read().strip() == "ssh":
                    out.append(q)
        except OSError:
            pass
    return out


def pids_with_env(marker):
    """Pids whose environment holds the byte string marker."""
    out = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if marker in env.split(b"\0"):
            out.append(int(d))
    return out


def alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def end_pids(pids, grace=2.0):
    """SIGTERM the pids, then SIGKILL whatever is left after grace."""
    pids = [p for p in pids if p > 1 and p != os.getpid()]
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return
        time.sleep(0.02)
    for p in pids:
        if alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


class SshLab:
    """A private sshd with its keys, configs and a sessions directory."""

    def __init__(self, basedir, sshd_extra=(), port=None, proxy=False,
                 netns=None, listen_addr="127.0.0.1", start=True,
                 server_log=True, env=None, asan_extra=""):
        self.basedir = os.path.abspath(str(basedir))
        self.sshd_extra = list(sshd_extra)
        self.proxy = proxy
        self.extra_env = dict(env or {})
        # More ASAN_OPTIONS for the server side (e.g. a smaller quarantine
        # where a test measures memory).
        self.asan_extra = asan_extra
        self.netns = netns
        self.listen_addr = listen_addr
        self.sshd = find_sshd()
        if self.sshd is None:
            raise RuntimeError("sshd not found (apt-get install "
                               "openssh-server)")
        self.user = getpass.getuser()
        # The lab's user gets a home of its own on the server side (HOME
        # through SetEnv): the machine's real dotfiles stay out of the
        # tests.  A root whose ~/.bashrc runs `pyenv init -` made every
        # session wait 60 s for pyenv's rehash lock once a killed shell
        # had left it behind.  Other users (the doctor's) keep theirs.
        self.home = self.extra_env.get("HOME") or \
            os.path.join(self.basedir, "home")
        self.sessions = os.path.join(self.basedir, "sessions")
        self.host_key = os.path.join(self.basedir, "host_ed25519")
        self.user_key = os.path.join(self.basedir, "id_ed25519")
        self.authorized_keys = os.path.join(self.basedir,
                                            "authorized_keys")
        self.known_hosts = os.path.join(self.basedir, "known_hosts")
        self.sshd_config = os.path.join(self.basedir, "sshd_config")
        self.ssh_config = os.path.join(self.basedir, "ssh_config")
        self.log = os.path.join(self.basedir, "sshd.log")
        self.pidfile = os.path.join(self.basedir, "sshd.pid")
        self.san_prefix = os.path.join(self.basedir, "server")
        # The relay and daemon log at debug level when LIMPET_LOG is set.
        self.server_log = (os.path.join(self.basedir, "server.log")
                           if server_log else None)
        self.proc = None
        self._old_procs = []
        self._auto_port = False
        if proxy:
            self.port = None
        elif port is not None:
            self.port = port
        elif netns is None:
            self.port = free_port(listen_addr)
            self._auto_port = True
        else:
            # Free here says little about the namespace, but a taken port
            # is replaced at start.
            self.port = free_port()
            self._auto_port = True
        os.makedirs(self.basedir, mode=0o700, exist_ok=True)
        os.makedirs(self.home, mode=0o700, exist_ok=True)
        self._make_keys()
        self._write_sshd_config()
        self._write_ssh_config()
        if start:
            self.start()

    # -- setup ---------------------------------------------------------

    def _keygen(self, path, comment):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                        "-C", comment, "-f", path], check=True,
                       stdin=subprocess.DEVNULL)

    def _make_keys(self):
        self._keygen(self.host_key, "limpet-lab-host")
        self._keygen(self.user_key, "limpet-lab-user")
        with open(self.user_key + ".pub") as f:
            pub = f.read().strip()
        with open(self.authorized_keys, "w") as f:
            f.write(pub + "\n")
        with open(self.host_key + ".pub") as f:
            hostpub = f.read().split()
        # HostKeyAlias makes the entry independent of address and port.
        with open(self.known_hosts, "w") as f:
            f.write("limpet-lab %s %s\n" % (hostpub[0], hostpub[1]))

    def server_env(self):
        """The environment sshd gives every session (SetEnv)."""
        env = {"LIMPET_DIR": self.sessions}
        if self.server_log:
            env["LIMPET_LOG"] = self.server_log
        env.update(san_options(self.san_prefix))
        if self.asan_extra:
            env["ASAN_OPTIONS"] += ":" + self.asan_extra
        env.update(self.extra_env)
        return env

    @staticmethod
    def _setenv(env):
        """An sshd_config SetEnv line for env."""
        return "SetEnv " + " ".join('"%s=%s"' % kv
                                    for kv in sorted(env.items()))

    def _write_sshd_config(self):
        env = self.server_env()
        lines = [
            "HostKey %s" % self.host_key,
            "AuthorizedKeysFile %s" % self.authorized_keys,
            "PidFile %s" % self.pidfile,
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "StrictModes no",
            "UsePAM no",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            "LogLevel VERBOSE",
            "MaxStartups 100:30:200",
            "MaxSessions 50",
            # The default post-quantum key exchange costs ~0.1 s of CPU
            # per connection; the suite makes hundreds of connections.
            "KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org",
            self._setenv(env),
        ]
        if not self.proxy:
            lines.insert(0, "Port %d" % self.port)
            lines.insert(1, "ListenAddress %s" % self.listen_addr)
        # sshd keeps the first value it reads for a keyword, so the extra
        # lines go first to override the defaults above; a Match block
        # (and everything after it) must stay at the end.
        extra = list(self.sshd_extra)
        match = next((i for i, ln in enumerate(extra)
                      if ln.strip().lower().startswith("match ")),
                     len(extra))
        lines = extra[:match] + lines + extra[match:]
        # A Match block's SetEnv replaces the global one for its users.
        if not any(ln.strip().lower().startswith("setenv ")
                   for ln in extra[:match]):
            env["HOME"] = self.home
            lines += ["Match User %s" % self.user,
                      "  " + self._setenv(env)]
        with open(self.sshd_config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _write_ssh_config(self):
        lines = [
            "Host %s" % HOST,
            "  User %s" % self.user,
            "  IdentityFile %s" % self.user_key,
            "  IdentitiesOnly yes",
            "  UserKnownHostsFile %s" % self.known_hosts,
            "  GlobalKnownHostsFile /dev/null",
            "  HostKeyAlias limpet-lab",
            "  StrictHostKeyChecking yes",
            "  CheckHostIP no",
            "  UpdateHostKeys no",
            "  BatchMode yes",
            "  LogLevel ERROR",
        ]
        if self.proxy:
            cmd = " ".join(shlex.quote(a) for a in self.sshd_argv(inetd=True))
            lines.insert(1, "  ProxyCommand %s" % cmd)
            lines.insert(2, "  HostName %s" % HOST)
        else:
            lines.insert(1, "  HostName %s" % self.listen_addr)
            lines.insert(2, "  Port %d" % self.port)
        with open(self.ssh_config, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- sshd ------------------------------------------------------------

    def sshd_argv(self, inetd=False):
        """The command that runs this lab's sshd."""
        argv = [self.sshd, "-i" if inetd else "-D", "-f", self.sshd_config,
                "-E", self.log]
        if self.netns is not None and not inetd:
            argv = ["ip", "netns", "exec", self.netns] + argv
        return argv

    def _ensure_privsep_dir(self):
        # sshd running as root refuses to start without this directory.
        if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)

    def _listening(self):
        """True once our sshd itself holds a socket listening on the port.

        Read from /proc/<pid>/net, which shows sshd's own network
        namespace, and matched against sshd's descriptors, so that another
        process listening on the same port (a lab of a parallel test that
        picked it too) is not mistaken for ours.
        """
        pid = self.proc.pid
        inodes = set()
        for table in ("tcp", "tcp6"):
            try:
                with open("/proc/%d/net/%s" % (pid, table)) as f:
                    next(f)
                    for line in f:
                        fields = line.split()
                        port = int(fields[1].rsplit(":", 1)[1], 16)
                        if port == self.port and fields[3] == "0A":
                            inodes.add("socket:[%s]" % fields[9])
            except (OSError, IndexError, ValueError, StopIteration):
                continue
        if not inodes:
            return False
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            return False
        for fd in fds:
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in inodes:
                    return True
            except OSError:
                continue
        return False

    def _spawn_sshd(self):
        logf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(self.sshd_argv(),
                                         stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf)
        finally:
            logf.close()

    def start(self):
        """Start sshd and wait (bounded) until it listens.

        A port picked by the lab that someone took in the meantime is
        replaced by another free one.
        """
        self._ensure_privsep_dir()
        if self.proxy:
            r = subprocess.run([self.sshd, "-t", "-f", self.sshd_config],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("sshd -t: %s" % r.stderr.strip())
            return
        if self.proc is not None and self.proc.poll() is None:
            return
        for attempt in range(5):
            logged = len(self.log_text())
            self._spawn_sshd()
            deadline = time.monotonic() + START_TIMEOUT
            delay = 0.002
            while time.monotonic() < deadline:
                if self._listening():
                    return
                if self.proc.poll() is not None:
                    break
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
            else:
                self.stop()
                raise RuntimeError("sshd did not listen on %s port %d "
                                   "within %ss" % (self.listen_addr,
                                                   self.port, START_TIMEOUT))
            text = self.log_text()[logged:]
            if self._auto_port and "Address already in use" in text:
                self._old_procs.append(self.proc)
                self.proc = None
                self.port = free_port(self.listen_addr)
                self._write_sshd_config()
                self._write_ssh_config()
                continue
            raise RuntimeError("sshd exited with status %s:\n%s" %
                               (self.proc.returncode, text[-2000:]))
        raise RuntimeError("sshd found no free port")

    @property
    def pid(self):
        """The pid of the listening sshd, or None."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        return self.proc.pid

    def stop(self, connections=False):
        """Stop the listening sshd; with connections, its children too.

        Like a real sshd restart, established connections survive unless
        asked otherwise.
        """
        if self.proc is None:
            return
        pid = self.proc.pid
        kids = descendants(pid) if connections else []
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if kids:
            end_pids(kids)
        self._old_procs.append(self.proc)
        self.proc = None

    def restart(self):
        """A new sshd process on the same port with the same keys."""
        if self.proxy:
            return
        self.stop()
        self.start()

    def log_text(self):
        """What sshd logged so far."""
        return _read(self.log)

    def server_log_text(self):
        """What limpet's relays and daemons logged (LIMPET_LOG)."""
        return _read(self.server_log) if self.server_log else ""

    # -- commands --------------------------------------------------------

    def ssh_argv(self, *cmd):
        """Plain ssh to the lab."""
        return ["ssh", "-F", self.ssh_config, HOST] + list(cmd)

    def limpet_argv(self, *args, bin=None):
        """limpet to the lab, with args after the destination."""
        b = bin or default_bin()
        return [b, "--server-path", b, "-F", self.ssh_config, HOST] + \
            list(args)

    def limpet_cmd(self, sub=None, opts=(), args=(), bin=None):
        """limpet [sub] --server-path B [opts] -F cfg lab [args].

        opts are limpet's own long options (they must come before any ssh
        option) and may also hold ssh options after them.
        """
        b = bin or default_bin()
        argv = [b]
        if sub is not None:
            argv.append(sub)
        argv += ["--server-path", b] + list(opts)
        argv += ["-F", self.ssh_config, HOST] + list(args)
        return argv

    # -- teardown --------------------------------------------------------

    def session_pids(self):
        """Pids of the session daemons named in the sessions directory."""
        pids = []
        for path in glob.glob(os.path.join(self.sessions, "*.pid")):
            try:
                with open(path) as f:
                    pid = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if pid > 1 and self._ours(pid):
                pids.append(pid)
        return pids

    def _ours(self, pid):
        # Guard against a recycled pid: the process must carry our
        # LIMPET_DIR or be a limpet binary.
        marker = ("LIMPET_DIR=%s" % self.sessions).encode()
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                if marker in f.read().split(b"\0"):
                    return True
            exe = os.readlink("/proc/%d/exe" % pid)
        except OSError:
            return False
        return os.path.basename(exe).startswith("limpet")

    def cleanup(self):
        """End sshd, its connections and every session; remove sessions.

        Returns the sanitizer reports ([(path, text)]) the server side
        left, so the caller can fail the test.
        """
        conns = []
        if self.proc is not None:
            conns = descendants(self.proc.pid)
        self.stop()
        for p in self._old_procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        marker = ("LIMPET_DIR=%s" % self.sessions).encode()
        pids = set(conns) | set(self.session_pids()) | \
            set(pids_with_env(marker))
        if pids:
            end_pids(sorted(pids))
        shutil.rmtree(self.sessions, ignore_errors=True)
        return san_reports(self.basedir)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False
