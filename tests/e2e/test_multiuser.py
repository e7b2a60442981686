"""Two local users on one server: the second must not list, attach,
signal, read or pre-empt the first one's sessions.

The test makes two throwaway accounts (useradd, so it needs root; CI runs
as root), gives each an ssh key the lab's sshd accepts, and logs in as
them (`-l USER -i KEY`).  The lab's usual LIMPET_DIR is not set for them,
so they use the real default, /tmp/limpet-UID, and its fallback.  At
teardown, even after a failure, every process of those users is ended by
pid, the accounts and their homes are removed, and so are their
/tmp/limpet-UID directories.
"""

import glob
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import sshlab
import wire
from test_session import ended, session_id, wait_for


def user_pids(uid):
    """Pids of the processes running as uid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/status" % d) as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            out.append(int(d))
                        break
        except OSError:
            continue
    return out


def end_user_procs(uid):
    """SIGKILL every process of uid, by pid, until there are none."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = user_pids(uid)
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)


class User:
    """A throwaway account with an ssh key."""

    def __init__(self, name, keydir, lab=None):
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", "-p", "*", name],
                       check=True, capture_output=True)
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.home = name, pw.pw_uid, pw.pw_dir
        self.key = os.path.join(keydir, "id_" + name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        self.key], check=True, stdin=subprocess.DEVNULL)
        ssh = os.path.join(self.home, ".ssh")
        os.makedirs(ssh, mode=0o700, exist_ok=True)
        shutil.copy(self.key + ".pub", os.path.join(ssh, "authorized_keys"))
        for path in (ssh, os.path.join(ssh, "authorized_keys")):
            os.chown(path, self.uid, pw.pw_gid)
        self.lab = lab

    @property
    def login(self):
        """ssh options that log in as this user."""
        return ["-l", self.name, "-i", self.key]

    def ssh_argv(self):
        return ["ssh", "-F", self.lab.ssh_config] + self.login + \
            [sshlab.HOST]

    def sh(self, cmd):
        """Run cmd on the server as this user; its output."""
        r = subprocess.run(self.ssh_argv() + [cmd], capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        return r.stdout + r.stderr

    def remove(self):
        end_user_procs(self.uid)
        subprocess.run(["userdel", "-r", "-f", self.name],
                       capture_output=True)
        shutil.rmtree("/tmp/limpet-%d" % self.uid, ignore_errors=True)


@pytest.fixture
def two_users(run, make_lab):
    """(lab, victim, attacker, shared): a lab both can log in to, and a
    directory both can write."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to make throwaway users")
    # Where both users' limpet may write sanitizer reports and its log.
    shared = tempfile.mkdtemp(prefix="lpmu", dir="/tmp")
    os.chmod(shared, 0o1777)
    log = os.path.join(shared, "server.log")
    open(log, "w").close()
    os.chmod(log, 0o666)
    env = {"LIMPET_LOG": log}
    env.update(sshlab.san_options(os.path.join(shared, "server")))
    extra = [
        # First value wins in sshd_config: these replace the lab's own.
        "AuthorizedKeysFile %s %%h/.ssh/authorized_keys" %
        os.path.join(run.workdir, "authorized_keys"),
        "SetEnv " + " ".join('"%s=%s"' % kv for kv in sorted(env.items())),
    ]
    users = []
    try:
        lab = make_lab(sshd_extra=extra)
        tag = "%05d" % random.randrange(100000)
        for role in ("v", "a"):
            users.append(User("lp%s%s" % (role, tag), run.workdir, lab))
        yield lab, users[0], users[1], shared
    finally:
        for u in users:
            u.remove()
        reports = sshlab.san_reports(shared)
        for path, text in reports:
            print("---- sanitizer report %s ----\n%s" % (path, text))
        print("---- server log ----\n" + open(log).read()[-6000:])
        shutil.rmtree(shared, ignore_errors=True)
        assert not reports, "sanitizer reports from the users' limpet"


def session_files(user, sid):
    """The victim's socket for sid, wherever it is."""
    return glob.glob(os.path.join(user.home, ".limpet", "*", sid + ".sock")) \
        + glob.glob("/tmp/limpet-%d/%s.sock" % (user.uid, sid))


def test_second_user_cannot_reach_or_preempt(two_users, spawn, limpet_bin,
                                             run):
    lab, v, a, _ = two_users
    # The attacker takes the victim's default directory first.
    assert "took" in a.sh("mkdir -m 755 /tmp/limpet-%d && echo took" % v.uid)

    # The victim's limpet works anyway, from a directory of its own.
    p = spawn(lab.limpet_cmd(opts=v.login), timeout=20)
    p.expect("owned by uid %d, not by you" % a.uid)
    p.sendline("echo rea''dy-$((40+2))")
    p.expect("ready-42")
    sid = session_id(p)
    p.sendline("echo sh''ell=$$")
    p.expect(r"shell=(\d+)")
    shell = int(p.match.group(1))
    sock = session_files(v, sid)
    assert sock and sock[0].startswith(os.path.join(v.home, ".limpet")), sock
    assert os.stat(os.path.dirname(sock[0])).st_mode & 0o777 == 0o700
    assert os.stat(sock[0]).st_mode & 0o777 == 0o600
    with open(sock[0][:-len("sock")] + "pid") as f:
        daemon = int(f.read())
    p.sendline("")
    p.send("~.")
    assert ended(p) == 0

    # The attacker sees nothing, attaches to nothing, kills nothing.
    q = spawn(lab.limpet_cmd(sub="ls", opts=a.login), timeout=20)
    q.expect("no sessions")
    assert ended(q) == 0
    q = spawn(lab.limpet_cmd(sub="attach", opts=a.login, args=[sid]),
              timeout=20)
    q.expect("no session %s" % sid)
    assert ended(q) == 255
    q = spawn(lab.limpet_cmd(sub="kill", opts=["--all"] + a.login),
              timeout=20)
    q.expect("killed 0 sessions")
    assert ended(q) == 0
    # ... nor through the victim's directory named outright,
    frames, _ = wire.ask(lab, limpet_bin, wire.hello(wire.OP_LIST),
                         args=["--dir", os.path.dirname(sock[0])],
                         user_argv=a.ssh_argv())
    assert frames[-1][0] == wire.ERROR, frames
    # ... nor through /proc, signals or the socket itself.
    out = a.sh(
        "for p in %d %d; do "
        "cat /proc/$p/environ >/dev/null 2>&1 && echo ENV-READ-$p; "
        "ls /proc/$p/fd >/dev/null 2>&1 && echo FD-READ-$p; "
        "kill -0 $p 2>/dev/null && echo SIGNALLED-$p; done; "
        "ls %s >/dev/null 2>&1 && echo DIR-READ; "
        "python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); "
        "s.connect(sys.argv[1]); print(\"CONNECTED\")' %s 2>/dev/null; "
        "echo checked" % (daemon, shell, os.path.dirname(sock[0]), sock[0]))
    assert "checked" in out and "READ" not in out and \
        "SIGNALLED" not in out and "CONNECTED" not in out, out

    # A peer of another uid that does reach the socket (root here) is
    # refused by the daemon: no answer, the connection is closed.
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock[0])
    try:
        s.sendall(wire.hello(wire.OP_INFO, sid=sid))
        got = s.recv(4096)
    except (BrokenPipeError, ConnectionResetError):
        got = b""
    assert got == b"", got
    s.close()

    # The default directory is freed: the session started in the
    # fallback is still listed and attachable, new ones use the default.
    shutil.rmtree("/tmp/limpet-%d" % v.uid)
    q = spawn(lab.limpet_cmd(sub="ls", opts=v.login), timeout=20)
    q.expect(r"%s\s+%d\s+detached" % (sid, daemon))
    assert ended(q) == 0
    q = spawn(lab.limpet_cmd(sub="attach", opts=v.login, args=[sid]),
              timeout=20)
    assert session_id(q) == sid
    q.sendline("exit")
    assert ended(q) == 0
    q = spawn(lab.limpet_cmd(opts=v.login), timeout=20)
    q.sendline("echo rea''dy-$((40+2))")
    q.expect("ready-42")
    sid2 = session_id(q)
    assert session_files(v, sid2) == \
        ["/tmp/limpet-%d/%s.sock" % (v.uid, sid2)]
    q.sendline("exit")
    assert ended(q) == 0
    wait_for(lambda: not user_pids(v.uid) or
             not session_files(v, sid2), what="the session to end")


def test_relay_refuses_a_listener_of_another_uid(two_users, limpet_bin):
    """The relay checks the uid of what it connects to: a socket in the
    user's directory that leads to another uid's listener (here root's,
    through a symlink) is neither listed nor sent a request."""
    lab, v, _, shared = two_users
    frames, _ = wire.ask(lab, limpet_bin, wire.hello(wire.OP_LIST),
                         user_argv=v.ssh_argv())
    assert frames[-1] == (wire.DONE, (0).to_bytes(4, "big")), frames
    vdir = "/tmp/limpet-%d" % v.uid
    assert os.stat(vdir).st_uid == v.uid
    path = os.path.join(shared, "evil.sock")
    lsock = socket.socket(socket.AF_UNIX)
    try:
        lsock.bind(path)
        os.chmod(path, 0o777)
        lsock.listen(4)
        os.symlink(path, os.path.join(vdir, "evil.sock"))
        frames, _ = wire.ask(lab, limpet_bin, wire.hello(wire.OP_LIST),
                             user_argv=v.ssh_argv())
        assert frames[-1][0] == wire.DONE and wire.sessions(frames) == {}, \
            frames
        lsock.settimeout(5)
        conn, _ = lsock.accept()
        conn.settimeout(5)
        assert conn.recv(4096) == b"", "the relay talked to another uid"
        conn.close()
    finally:
        lsock.close()
