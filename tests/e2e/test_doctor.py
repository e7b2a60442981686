"""End-to-end tests of `limpet doctor` against real sshd instances.

Each test starts its own sshd (SshLab) with the settings under test, runs
doctor the way a user would, and checks the verdict and the file and line
it names.  Where doctor makes a claim about what a setting does, a test
also checks the claim against the real ssh/sshd (a shell channel really
closed by ChannelTimeout, a shell really logged out by TMOUT).

Helpers used by test_doctor_nat.py live here too: a throwaway login user
and a lab whose sshd sees its own /etc files through a mount namespace.
"""

import json
import os
import pwd
import random
import re
import shlex
import shutil
import signal
import subprocess
import time

import pytest

import sshlab

DOCTOR_TIMEOUT = 60


# -- helpers -------------------------------------------------------------

def doctor(bin_path, *args, netns=None, env=None, timeout=DOCTOR_TIMEOUT):
    """Run limpet doctor; returns the CompletedProcess (text)."""
    argv = [bin_path, "doctor"] + [str(a) for a in args]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns] + argv
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    e.update(env or {})
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, env=e)
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert bad not in r.stderr, r.stderr
    return r


def doctor_json(bin_path, *args, **kw):
    """Run limpet doctor --json and parse what it prints."""
    r = doctor(bin_path, "--json", *args, **kw)
    assert r.stdout.strip(), "no JSON (status %d): %s" % (r.returncode,
                                                          r.stderr)
    return r.returncode, json.loads(r.stdout)


def finding(report, layer, check):
    """The first finding for check in layer (fails if there is none)."""
    for f in report["findings"]:
        if f["layer"] == layer and f["check"] == check:
            return f
    raise AssertionError("no %s finding %r in %s" % (
        layer, check, [(f["layer"], f["check"]) for f in
                       report["findings"]]))


def findings(report, layer, check):
    """Every finding for check in layer."""
    return [f for f in report["findings"]
            if f["layer"] == layer and f["check"] == check]


def line_of(path, text):
    """The 1-based number of the first line of path that contains text."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    raise AssertionError("%r not in %s" % (text, path))


def read(path):
    with open(path) as f:
        return f.read()


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (throwaway users, namespaces)")


class LoginUser:
    """A throwaway login user with bash, a home and the lab's key."""

    def __init__(self, lab, prefix="ldoc", shell="/bin/bash"):
        need_root()
        self.name = "%s%05x" % (prefix, random.getrandbits(20))
        self.home = "/home/" + self.name
        subprocess.run(["useradd", "-m", "-d", self.home, "-s", shell,
                        self.name], check=True, capture_output=True)
        # A locked account ("!") may not log in even with a key.
        subprocess.run(["usermod", "-p", "*", self.name], check=True,
                       capture_output=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        sshdir = os.path.join(self.home, ".ssh")
        os.makedirs(sshdir, mode=0o700, exist_ok=True)
        shutil.copy(lab.authorized_keys,
                    os.path.join(sshdir, "authorized_keys"))
        for p in (sshdir, os.path.join(sshdir, "authorized_keys")):
            os.chown(p, self.uid, self.gid)

    def append(self, rel, text):
        """Append text to a file in the home, owned by the user."""
        path = os.path.join(self.home, rel)
        with open(path, "a") as f:
            f.write(text)
        os.chown(path, self.uid, self.gid)
        return path

    def remove(self):
        pids = [int(d) for d in os.listdir("/proc") if d.isdigit()
                and _uid_of(int(d)) == self.uid]
        sshlab.end_pids(pids, grace=1.0)
        subprocess.run(["userdel", "-r", "-f", self.name],
                       capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)
        # A limpet session's default directory for this user.
        shutil.rmtree("/tmp/limpet-%d" % self.uid, ignore_errors=True)


def _uid_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class EtcLab(sshlab.SshLab):
    """An SshLab whose sshd (and every session) sees some /etc files
    replaced, through bind mounts in a mount namespace of its own."""

    def __init__(self, basedir, binds=(), **kw):
        self.binds = list(binds)        # (our file, the /etc path)
        super().__init__(basedir, **kw)

    def sshd_argv(self, inetd=False):
        argv = [self.sshd, "-i" if inetd else "-D", "-f", self.sshd_config,
                "-E", self.log]
        script = "".join('mount --bind "$%d" "$%d" && ' % (2 * i + 1,
                                                          2 * i + 2)
                         for i in range(len(self.binds)))
        script += 'shift %d && exec "$@"' % (2 * len(self.binds))
        args = []
        for src, dst in self.binds:
            args += [src, dst]
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                script, "sh"] + args + argv
        if self.netns is not None:
            argv = ["ip", "netns", "exec", self.netns] + argv
        return argv


def user_ssh_config(lab, path, user, keepalive=False, extra=()):
    """A client config for `Host story` as user, without BatchMode (so no
    keepalive unless asked); returns its path."""
    lines = ["Host story",
             "  HostName %s" % lab.listen_addr,
             "  Port %d" % lab.port,
             "  User %s" % user,
             "  IdentityFile %s" % lab.user_key,
             "  IdentitiesOnly yes",
             "  UserKnownHostsFile %s" % lab.known_hosts,
             "  GlobalKnownHostsFile /dev/null",
             "  HostKeyAlias limpet-lab",
             "  StrictHostKeyChecking yes",
             "  PasswordAuthentication no",
             "  KbdInteractiveAuthentication no",
             "  LogLevel ERROR"] + list(extra)
    if keepalive:
        lines.append("  ServerAliveInterval 30")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# -- --explain -----------------------------------------------------------

def test_explain_messages(limpet_bin):
    r = doctor(limpet_bin, "--explain",
               "Timeout, server example.com not responding.")
    assert r.returncode == 0
    assert "ServerAliveInterval" in r.stdout
    assert "--probe-nat" in r.stdout
    r = doctor(limpet_bin, "--explain",
               "timed out waiting for input: auto-logout", "--status", "0")
    assert r.returncode == 0
    assert "TMOUT" in r.stdout and "not 255" in r.stdout
    r = doctor(limpet_bin, "--explain",
               "client_loop: send disconnect: Broken pipe")
    assert "reset" in r.stdout and "tcp_retries2" in r.stdout
    r = doctor(limpet_bin, "--explain",
               "Connection to example.com closed by remote host.")
    assert "ClientAliveInterval" in r.stdout
    assert "UnusedConnectionTimeout" in r.stdout
    assert "StopIdleSessionSec" in r.stdout
    r = doctor(limpet_bin, "--explain", "something else", "--status", "3")
    assert "not ssh's own" in r.stdout


def test_usage_errors(limpet_bin):
    r = doctor(limpet_bin)
    assert r.returncode == 2 and "no destination" in r.stderr
    r = doctor(limpet_bin, "--probe-max", "zero", "host")
    assert r.returncode == 2 and "--probe-max" in r.stderr
    r = doctor(limpet_bin, "--probe-times", "5,3", "host")
    assert r.returncode == 2 and "--probe-times" in r.stderr


def test_unreachable_is_status_2(limpet_bin, lab):
    port = sshlab.free_port()
    r = doctor(limpet_bin, "-F", lab.ssh_config, "-p", str(port),
               "-o", "ConnectTimeout=5", "lab")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "could not be checked" in r.stderr
    status, rep = doctor_json(limpet_bin, "-F", lab.ssh_config, "-p",
                              str(port), "-o", "ConnectTimeout=5", "lab")
    assert status == 2 and rep["status"] == 2
    assert "could not be checked" in rep["error"]


# -- the server's sshd ---------------------------------------------------

def test_clean_server_is_status_0(limpet_bin, lab):
    status, rep = doctor_json(limpet_bin, "-F", lab.ssh_config, "lab")
    assert status == 0, json.dumps(rep, indent=1)
    assert rep["status"] == 0
    f = finding(rep, "server", "ClientAliveInterval")
    assert f["verdict"] == "ok" and f["value"].startswith("0,")
    # The lab's BatchMode yes gives Debian's 300 s keepalive; doctor says
    # where it came from.
    f = finding(rep, "client", "ServerAliveInterval")
    assert f["value"].startswith("300")
    assert f["file"] == lab.ssh_config
    assert f["line"] == line_of(lab.ssh_config, "BatchMode yes")
    assert rep["first_to_end"] == {"ssh": [], "limpet": []}


def test_client_alive_countmax_0(limpet_bin, make_lab, spawn):
    lab = make_lab(sshd_extra=["ClientAliveInterval 1",
                               "ClientAliveCountMax 0"])
    status, rep = doctor_json(limpet_bin, "-F", lab.ssh_config, "lab")
    f = finding(rep, "server", "ClientAliveInterval")
    assert f["value"] == "1, ClientAliveCountMax 0"
    assert f["verdict"] == "ok"
    assert "never disconnects" in f["why"]
    assert f["file"] == lab.sshd_config
    assert f["line"] == line_of(lab.sshd_config, "ClientAliveInterval 1")
    assert status == 0
    # The claim holds on this sshd: a frozen client is not disconnected.
    child = spawn(["ssh", "-tt", "-F", lab.ssh_config, "lab"])
    child.expect(r"[#$] ")
    os.kill(child.pid, signal.SIGSTOP)
    time.sleep(3)
    os.kill(child.pid, signal.SIGCONT)
    child.sendline("echo thawed-$((6*7))")
    child.expect("thawed-42")
    assert "not responding" not in lab.log_text()


def test_client_alive_ends_frozen_client_only(limpet_bin, make_lab, spawn):
    lab = make_lab(sshd_extra=["ClientAliveInterval 1",
                               "ClientAliveCountMax 1"])
    status, rep = doctor_json(limpet_bin, "-F", lab.ssh_config, "lab")
    f = finding(rep, "server", "ClientAliveInterval")
    assert f["verdict"] == "ok" and "about 2 s" in f["why"]
    child = spawn(["ssh", "-tt", "-F", lab.ssh_config, "lab"])
    child.expect(r"[#$] ")
    time.sleep(2.5)                # idle, but answering: still there
    child.sendline("echo idle-$((6*7))")
    child.expect("idle-42")
    os.kill(child.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while "not responding" not in lab.log_text():
        assert time.monotonic() < deadline, lab.log_text()
        time.sleep(0.2)
    os.kill(child.pid, signal.SIGCONT)


def test_sshd_dropin_and_unreloaded_mistake(limpet_bin, make_lab, run):
    dropins = os.path.join(run.workdir, "sshd_config.d")
    os.makedirs(dropins)
    with open(os.path.join(dropins, "50-cloud.conf"), "w") as f:
        f.write("# written by cloud-init\nClientAliveInterval 120\n")
    lab = make_lab(sshd_extra=["Include %s/*.conf" % dropins,
                               "ClientAliveInterval 600"])
    status, rep = doctor_json(limpet_bin, "-F", lab.ssh_config, "lab")
    f = finding(rep, "server", "ClientAliveInterval")
    assert f["value"].startswith("120,")
    assert (f["file"], f["line"]) == (
        os.path.join(dropins, "50-cloud.conf"), 2)
    # A client keyword added to sshd_config and not reloaded yet: the
    # running sshd is fine, the next restart is not.
    with open(lab.sshd_config, "a") as f:
        f.write("ServerAliveInterval 30\n")
    status, rep = doctor_json(limpet_bin, "-F", lab.ssh_config, "lab")
    assert status == 1
    f = finding(rep, "server", "client keyword in sshd_config")
    assert f["value"] == "ServerAliveInterval" and f["verdict"] == "broken"
    assert f["line"] == line_of(lab.sshd_config, "ServerAliveInterval 30")
    r = subprocess.run([lab.sshd, "-t", "-f", lab.sshd_config],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Bad configuration option" in r.stderr


def test_control_master_options_win(limpet_bin, lab, run):
    sock = os.path.join(run.workdir, "cm.sock")
    cfg = _lab_config_with(lab, os.path.join(run.workdir, "cfg"), drop=(),
                           inside=["  ControlMaster auto",
                                   "  ControlPath %s" % sock,
                                   "  ControlPersist no"])
    status, rep = doctor_json(limpet_bin, "-F", cfg, "lab")
    f = finding(rep, "client", "ControlMaster")
    assert f["verdict"] == "ok" and f["value"] == "auto, ControlPersist no"
    assert f["line"] == 2
    master = subprocess.Popen(["ssh", "-F", cfg, "-N", "-o",
                               "ControlMaster=yes", "lab"],
                              stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        status, rep = doctor_json(limpet_bin, "-F", cfg, "lab")
        f = finding(rep, "client", "ControlMaster")
        assert f["verdict"] == "warning"
        assert "options win" in f["why"]
    finally:
        master.terminate()
        master.wait(timeout=10)


def test_channel_timeout_kills_shell(limpet_bin, make_lab, spawn):
    lab = make_lab(sshd_extra=["ChannelTimeout session:*=3s"])
    status, rep = doctor_json(limpet_bin, "-F", lab.ssh_config, "lab")
    assert status == 1
    f = finding(rep, "server", "ChannelTimeout")
    assert f["verdict"] == "kills" and f["seconds"] == 3
    assert f["limpet_verdict"] == "kills" and f["limpet_seconds"] == 3
    assert f["file"] == lab.sshd_config
    assert f["line"] == line_of(lab.sshd_config, "ChannelTimeout")
    assert rep["first_to_end"]["ssh"][0]["check"] == "ChannelTimeout"
    # The claim holds: an idle shell is closed although keepalives flow.
    child = spawn(["ssh", "-tt", "-F", lab.ssh_config, "-o",
                   "ServerAliveInterval=1", "lab"])
    child.expect(r"[#$] ")
    t0 = time.monotonic()
    child.expect(pexpect_eof(), timeout=15)
    assert 2 <= time.monotonic() - t0 < 12
    assert "closing after 3 seconds of inactivity" in lab.log_text()


def test_channel_timeout_and_limpet_heartbeat(limpet_bin, make_lab, spawn):
    lab = make_lab(sshd_extra=["ChannelTimeout session:*=2s"])
    status, rep = doctor_json(limpet_bin, "--keepalive", "1", "-F",
                              lab.ssh_config, "lab")
    f = finding(rep, "server", "ChannelTimeout")
    assert f["verdict"] == "kills" and f["limpet_verdict"] == "ok"
    # The claim holds: a heartbeat every second keeps the channel in use.
    # (Only the session's part of the log: doctor's own probe connection
    # may idle past 2 s on a loaded machine and be closed, as it says.)
    before = len(lab.log_text())
    child = spawn(lab.limpet_argv(bin=limpet_bin)[:1] + ["--keepalive", "1"]
                  + lab.limpet_argv(bin=limpet_bin)[1:], timeout=15)
    child.sendline("echo up-$((6*7))")
    child.expect("up-42")
    time.sleep(3.5)
    child.sendline("echo still-$((6*7))")
    child.expect("still-42")
    assert "closing after" not in lab.log_text()[before:]


def test_short_channel_timeout_does_not_cut_doctor(limpet_bin, make_lab,
                                                   run):
    need_root()
    lab = make_lab(sshd_extra=["ChannelTimeout session:*=2s",
                               "Match User ldoc*",
                               "  AuthorizedKeysFile .ssh/authorized_keys"])
    # Like Debian's /etc/ssh/sshd_config, readable by every user.
    os.chmod(lab.basedir, 0o755)
    os.chmod(lab.sshd_config, 0o644)
    user = LoginUser(lab)
    try:
        # A slow login: the server's checks are silent for 3 s there.
        user.append(".bashrc", "sleep 3\n")
        cfg = user_ssh_config(lab, os.path.join(run.workdir, "cfg"),
                              user.name, keepalive=True)
        status, rep = doctor_json(limpet_bin, "--probe-nat",
                                  "--probe-times", "2,4", "-F", cfg,
                                  "story")
        assert rep["error"] is None, rep["error"]
        assert finding(rep, "shell", "TMOUT")["value"] == "unset"
        f = finding(rep, "server", "ChannelTimeout")
        assert f["seconds"] == 2
        p = finding(rep, "path", "NAT/firewall idle timeout")
        assert p["value"] == "not measured"
        assert "ChannelTimeout (2 s)" in p["why"]
    finally:
        user.remove()


def test_channel_timeout_bare_session_matches_nothing(limpet_bin, make_lab,
                                                      spawn):
    lab = make_lab(sshd_extra=["ChannelTimeout session=2s"])
    status, rep = doctor_json(limpet_bin, "-F", lab.ssh_config, "lab")
    f = finding(rep, "server", "ChannelTimeout pattern")
    assert f["verdict"] == "warning"
    assert "session:*=" in f["why"]
    f = finding(rep, "server", "ChannelTimeout")
    assert f["verdict"] == "ok"
    # The claim holds on this sshd: the idle shell outlives the timeout.
    child = spawn(["ssh", "-tt", "-F", lab.ssh_config, "lab"])
    child.expect(r"[#$] ")
    time.sleep(3.5)
    child.sendline("echo still-$((6*7))")
    child.expect("still-42")


def test_unused_connection_timeout(limpet_bin, make_lab):
    lab = make_lab(sshd_extra=["UnusedConnectionTimeout 5"])
    status, rep = doctor_json(limpet_bin, "-F", lab.ssh_config, "lab")
    f = finding(rep, "server", "UnusedConnectionTimeout")
    assert f["value"] == "5"
    assert f["verdict"] == "warning" and f["limpet_verdict"] == "ok"
    assert f["line"] == line_of(lab.sshd_config, "UnusedConnectionTimeout")
    lg = finding(rep, "server", "LoginGraceTime")
    assert lg["verdict"] == "ok" and lg["value"] == "120"


def test_server_match_block(limpet_bin, make_lab):
    user = sshlab.getpass.getuser()
    lab = make_lab(sshd_extra=["ClientAliveInterval 600",
                               "Match User nobody-else",
                               "  ClientAliveInterval 1",
                               "Match User %s" % user,
                               "  ClientAliveInterval 45",
                               "  ClientAliveCountMax 2"])
    status, rep = doctor_json(limpet_bin, "-F", lab.ssh_config, "lab")
    f = finding(rep, "server", "ClientAliveInterval")
    assert f["value"] == "45, ClientAliveCountMax 2"
    assert f["line"] == line_of(lab.sshd_config, "ClientAliveInterval 45")


# -- the client's config -------------------------------------------------

def _lab_config_with(lab, path, before=(), inside=(), drop=("BatchMode",)):
    """Copy the lab's ssh_config with lines before it and in its block."""
    lines = [ln for ln in read(lab.ssh_config).splitlines()
             if not any(d in ln for d in drop)]
    lines = list(before) + lines[:1] + list(inside) + lines[1:]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def test_host_star_above_specific_block_and_fix(limpet_bin, lab, run):
    cfg = _lab_config_with(lab, os.path.join(run.workdir, "cfg"),
                           before=["Host *", "  ServerAliveInterval 0",
                                   "  TCPKeepAlive yes"],
                           inside=["  ServerAliveInterval 60"])
    status, rep = doctor_json(limpet_bin, "-F", cfg, "lab")
    f = finding(rep, "client", "ServerAliveInterval")
    assert f["value"] == "0" and f["verdict"] == "warning"
    assert (f["file"], f["line"]) == (cfg, 2)
    assert f["fix_by"] == "user" and f["fix_file"] == cfg
    s = finding(rep, "client", "shadowed setting")
    assert s["line"] == line_of(cfg, "ServerAliveInterval 60")
    assert "line 2" in s["why"]
    before = read(cfg)
    r = doctor(limpet_bin, "--fix", "--yes", "-F", cfg, "lab")
    assert "backup" in r.stdout, r.stdout
    assert read(cfg + ".limpet-doctor.bak") == before
    assert read(cfg).splitlines()[1] == "  ServerAliveInterval 60"
    status, rep = doctor_json(limpet_bin, "-F", cfg, "lab")
    f = finding(rep, "client", "ServerAliveInterval")
    assert f["value"] == "60" and f["verdict"] == "ok"
    # A second run changes nothing.
    after = read(cfg)
    r = doctor(limpet_bin, "--fix", "--yes", "-F", cfg, "lab")
    assert "nothing for you to change" in r.stdout
    assert read(cfg) == after
    assert not os.path.exists(cfg + ".limpet-doctor.bak.1")


def test_fix_inserts_into_host_block(limpet_bin, lab, run, spawn):
    cfg = _lab_config_with(lab, os.path.join(run.workdir, "cfg"),
                           before=["# mine", "Host other", "  Port 1"])
    status, rep = doctor_json(limpet_bin, "-F", cfg, "lab")
    f = finding(rep, "client", "ServerAliveInterval")
    assert f["value"] == "0" and f["file"] is None
    hostline = line_of(cfg, "Host lab")
    assert "line %d" % hostline in f["fix"]
    before = read(cfg)
    # --fix asks on the terminal; "n" changes nothing, "y" applies.
    child = spawn([limpet_bin, "doctor", "--fix", "-F", cfg, "lab"],
                  timeout=30)
    child.expect(r"after line %d:\s+\+   ServerAliveInterval 60" % hostline)
    child.expect(r"Apply these changes\? \[y/N\] ")
    child.sendline("n")
    child.expect("nothing changed")
    child.expect(pexpect_eof())
    assert read(cfg) == before
    child = spawn([limpet_bin, "doctor", "--fix", "-F", cfg, "lab"],
                  timeout=30)
    child.expect(r"Apply these changes\? \[y/N\] ")
    child.sendline("y")
    child.expect("1 change applied")
    child.expect(pexpect_eof())
    lines = read(cfg).splitlines()
    assert lines[hostline].strip() == "ServerAliveInterval 60"
    assert lines[hostline].startswith("  ")
    r = subprocess.run(["ssh", "-G", "-F", cfg, "lab"], capture_output=True,
                       text=True)
    assert "serveraliveinterval 60" in r.stdout
    after = read(cfg)
    r = doctor(limpet_bin, "--fix", "--yes", "-F", cfg, "lab")
    assert read(cfg) == after


def test_match_exec_with_tokens(limpet_bin, lab, run):
    cfg = _lab_config_with(lab, os.path.join(run.workdir, "cfg"),
                           before=['Match exec "test %n = nolab"',
                                   "  ServerAliveInterval 11",
                                   'Match exec "test %n = lab -a %r = %u"',
                                   "  ServerAliveInterval 42"])
    status, rep = doctor_json(limpet_bin, "-F", cfg, "lab")
    f = finding(rep, "client", "ServerAliveInterval")
    assert f["value"] == "42" and (f["file"], f["line"]) == (cfg, 4)
    assert rep["not_checked"] == []


def test_match_exec_refuses_shell_in_destination(limpet_bin, lab, run):
    """Defect 23 (the CVE-2023-51385 class): a destination with shell
    syntax must never reach Match exec's shell; doctor refuses it in one
    line, as ssh does."""
    marker = os.path.join(run.workdir, "pwned")
    cfg = _lab_config_with(lab, os.path.join(run.workdir, "cfg"),
                           before=['Match exec "test %n = lab"',
                                   "  ServerAliveInterval 42",
                                   'Match exec "test %r = x"',
                                   "  ServerAliveInterval 43"])
    touch = "$(touch${IFS}%s)" % marker
    bad = [["lab" + touch], ["x%s@lab" % touch], ["-l", "x" + touch, "lab"],
           ["ssh://lab" + touch], ["lab`touch${IFS}%s`" % marker],
           ["lab;touch " + marker], ["lab\ntouch"], ["lab\x01"],
           ["ssh://-oProxyCommand=x"], ["ssh://-x@lab"]]
    for args in bad:
        r = doctor(limpet_bin, "-F", cfg, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert not os.path.exists(marker), args
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "refus" in lines[0], (args, r.stderr)
        assert r.stdout == ""
    # A name ssh accepts still works, tokens and all.
    status, rep = doctor_json(limpet_bin, "-F", cfg, "lab")
    assert finding(rep, "client", "ServerAliveInterval")["value"] == "42"


def test_match_exec_skipped_when_ssh_g_fails(limpet_bin, lab, run):
    """When ssh -G fails, doctor knows no effective values for the
    tokens: it must not run Match exec with guesses."""
    marker = os.path.join(run.workdir, "ran")
    cfg = _lab_config_with(lab, os.path.join(run.workdir, "cfg"),
                           before=['Match exec "touch %s.%%h"' % marker,
                                   "  ServerAliveInterval 42"])
    r = doctor(limpet_bin, "--ssh", "false", "-F", cfg, "lab")
    assert r.returncode != 0
    assert not os.path.exists(marker + ".lab"), r.stdout
    assert "Match exec" in r.stdout + r.stderr


def test_server_keyword_in_client_config(limpet_bin, lab, run):
    cfg = _lab_config_with(lab, os.path.join(run.workdir, "cfg"),
                           drop=(), inside=["  ClientAliveInterval 60"])
    r = subprocess.run(["ssh", "-F", cfg, "lab", "true"],
                       capture_output=True, text=True)
    assert r.returncode == 255 and "Bad configuration option" in r.stderr
    status, rep = doctor_json(limpet_bin, "-F", cfg, "lab")
    assert status == 1
    f = finding(rep, "client", "server keyword in a client file")
    assert f["verdict"] == "broken" and f["value"] == "ClientAliveInterval"
    assert (f["file"], f["line"]) == (cfg, 2)
    assert "sshd_config" in f["fix"]
    finding(rep, "client", "ssh -G")
    r = doctor(limpet_bin, "--fix", "--yes", "-F", cfg, "lab")
    assert "#   ClientAliveInterval 60  # disabled by limpet doctor" in \
        read(cfg).splitlines()
    r = subprocess.run(["ssh", "-F", cfg, "lab", "true"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# -- the login shell -----------------------------------------------------

def test_tmout_user_file_fixed(limpet_bin, make_lab, run, spawn):
    need_root()
    lab = make_lab(sshd_extra=["Match User ldoc*",
                               "  AuthorizedKeysFile .ssh/authorized_keys",
                               "  SetEnv LIMPET_DIR="])
    user = LoginUser(lab)
    try:
        rc = user.append(".bashrc", "\n# log out idle shells\nTMOUT=2\n")
        cfg = user_ssh_config(lab, os.path.join(run.workdir, "cfg"),
                              user.name, keepalive=True)
        # The real thing first: the shell logs itself out, under plain
        # ssh and under limpet alike.
        child = spawn(["ssh", "-tt", "-F", cfg, "story"])
        child.expect("auto-logout", timeout=15)
        child.expect(pexpect_eof())
        child = spawn([limpet_bin, "--server-path", limpet_bin, "-F", cfg,
                       "story"], timeout=20)
        child.expect("auto-logout")
        child.expect(pexpect_eof())
        status, rep = doctor_json(limpet_bin, "-F", cfg, "story")
        assert status == 1
        f = finding(rep, "shell", "TMOUT")
        assert f["verdict"] == "kills" and f["seconds"] == 2
        assert f["limpet_verdict"] == "kills"
        assert (f["file"], f["line"]) == (rc, line_of(rc, "TMOUT=2"))
        assert f["fix_by"] == "user"
        before = read(rc)
        r = doctor(limpet_bin, "--fix", "--yes", "-F", cfg, "story")
        assert "backup" in r.stdout, r.stdout + r.stderr
        assert read(rc + ".limpet-doctor.bak") == before
        assert "# TMOUT=2" in read(rc)
        status, rep = doctor_json(limpet_bin, "-F", cfg, "story")
        assert finding(rep, "shell", "TMOUT")["value"] == "unset"
        assert status == 0, json.dumps(rep, indent=1)
        after = read(rc)
        r = doctor(limpet_bin, "--fix", "--yes", "-F", cfg, "story")
        assert read(rc) == after
        assert not os.path.exists(rc + ".limpet-doctor.bak.1")
    finally:
        run.end_children()
        user.remove()


def test_fix_on_server_keeps_symlink_mode_and_old_file(limpet_bin, make_lab,
                                                     run):
    """Defect 24 on the server: ~/.bashrc is a symlink into a dotfiles
    directory; --fix edits the target, the link stays, mode and owner
    stay, and the old file is replaced whole (renamed over), never
    truncated and rewritten: a reader of the old file still sees it."""
    need_root()
    lab = make_lab(sshd_extra=["Match User ldoc*",
                               "  AuthorizedKeysFile .ssh/authorized_keys",
                               "  SetEnv LIMPET_DIR="])
    user = LoginUser(lab)
    try:
        dots = os.path.join(user.home, "dotfiles")
        os.mkdir(dots)
        os.chown(dots, user.uid, user.gid)
        target = user.append("dotfiles/bashrc",
                             "# mine\nTMOUT=2\nexport EDITOR=vi\n")
        os.chmod(target, 0o640)
        rc = os.path.join(user.home, ".bashrc")
        if os.path.lexists(rc):
            os.unlink(rc)
        os.symlink("dotfiles/bashrc", rc)
        os.lchown(rc, user.uid, user.gid)
        cfg = user_ssh_config(lab, os.path.join(run.workdir, "cfg"),
                              user.name, keepalive=True)
        before = read(target)
        with open(target) as old:
            r = doctor(limpet_bin, "--fix", "--yes", "-F", cfg, "story")
            assert "backup" in r.stdout, r.stdout + r.stderr
            old.seek(0)
            assert old.read() == before
        assert os.path.islink(rc) and os.readlink(rc) == "dotfiles/bashrc"
        assert "# TMOUT=2" in read(target)
        assert "export EDITOR=vi" in read(target)
        st = os.stat(target)
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == \
            (0o640, user.uid, user.gid)
        assert read(target + ".limpet-doctor.bak") == before
        assert sorted(os.listdir(dots)) == ["bashrc",
                                            "bashrc.limpet-doctor.bak"]
    finally:
        run.end_children()
        user.remove()


def test_tmout_readonly_policy_left_alone(limpet_bin, run, sshd_path):
    need_root()
    profd = os.path.join(run.workdir, "profile.d")
    os.makedirs(profd)
    with open(os.path.join(profd, "tmout.sh"), "w") as f:
        f.write("# site policy\nTMOUT=900\nreadonly TMOUT\nexport TMOUT\n")
    os.chmod(profd, 0o755)
    os.chmod(run.workdir, 0o755)
    lab = EtcLab(os.path.join(run.workdir, "lab"), start=False,
                 binds=[(profd, "/etc/profile.d")],
                 sshd_extra=["Match User ldoc*",
                             "  AuthorizedKeysFile .ssh/authorized_keys"])
    run.labs.append(lab)
    lab.start()
    user = LoginUser(lab)
    try:
        cfg = user_ssh_config(lab, os.path.join(run.workdir, "cfg"),
                              user.name, keepalive=True)
        status, rep = doctor_json(limpet_bin, "-F", cfg, "story")
        f = finding(rep, "shell", "TMOUT")
        assert f["verdict"] == "kills" and f["seconds"] == 900
        assert f["file"] == "/etc/profile.d/tmout.sh" and f["line"] == 2
        assert f["fix_by"] == "admin"
        assert "read-only" in f["why"]
        r = doctor(limpet_bin, "--fix", "--yes", "-F", cfg, "story")
        assert "nothing for you to change" in r.stdout
        assert read(os.path.join(profd, "tmout.sh")).count("TMOUT=900") == 1
    finally:
        user.remove()


def test_system_files_only_with_system_as_root(limpet_bin, run, sshd_path):
    need_root()
    # The server's /etc/ssh is a copy (without host keys) seen only by the
    # lab's sshd and its sessions; backups land in the copy too.
    etc = os.path.join(run.workdir, "etc-ssh")
    shutil.copytree("/etc/ssh", etc, symlinks=True,
                    ignore=shutil.ignore_patterns("ssh_host_*"))
    with open(os.path.join(etc, "ssh_config"), "a") as f:
        f.write("ClientAliveInterval 60\n")
    lab = EtcLab(os.path.join(run.workdir, "lab"), start=False,
                 binds=[(etc, "/etc/ssh")])
    run.labs.append(lab)
    lab.start()
    conf = os.path.join(etc, "ssh_config")
    n = line_of(conf, "ClientAliveInterval 60")
    before = read(conf)
    r = doctor(limpet_bin, "--fix", "--yes", "-F", lab.ssh_config, "lab")
    assert "For the admin" in r.stdout
    assert "/etc/ssh/ssh_config (on the server) line %d" % n in r.stdout
    assert read(conf) == before
    r = doctor(limpet_bin, "--fix", "--yes", "--system", "-F",
               lab.ssh_config, "lab")
    assert "changed /etc/ssh/ssh_config line %d on the server" % n in \
        r.stdout, r.stdout
    assert read(conf + ".limpet-doctor.bak") == before
    assert read(conf).splitlines()[n - 1].startswith(
        "# ClientAliveInterval 60")
    r = doctor(limpet_bin, "--fix", "--yes", "--system", "-F",
               lab.ssh_config, "lab")
    assert "nothing for you to change" in r.stdout
    assert not os.path.exists(conf + ".limpet-doctor.bak.1")


def _shell(name):
    path = shutil.which(name)
    if path is None:
        msg = "%s is not installed (apt-get install %s)" % (name, name)
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg + " (CI=true: required)", pytrace=False)
        pytest.skip(msg)
    return path


def test_tmout_zsh(limpet_bin, make_lab, run, spawn):
    need_root()
    zsh = _shell("zsh")
    lab = make_lab(sshd_extra=["Match User ldoc*",
                               "  AuthorizedKeysFile .ssh/authorized_keys"])
    user = LoginUser(lab, shell=zsh)
    try:
        rc = user.append(".zshrc", "PS1='%% '\nTMOUT=2\n")
        cfg = user_ssh_config(lab, os.path.join(run.workdir, "cfg"),
                              user.name, keepalive=True)
        child = spawn(["ssh", "-tt", "-F", cfg, "story"])
        child.expect("zsh: timeout", timeout=15)
        child.expect(pexpect_eof())
        child.close()
        assert child.exitstatus == 14
        status, rep = doctor_json(limpet_bin, "-F", cfg, "story")
        f = finding(rep, "shell", "TMOUT")
        assert f["verdict"] == "kills" and f["seconds"] == 2
        assert (f["file"], f["line"]) == (rc, 2)
        # With a TRAPALRM, zsh runs the trap instead of logging out.
        user.append(".zshrc", "TRAPALRM() { : }\n")
        status, rep = doctor_json(limpet_bin, "-F", cfg, "story")
        f = finding(rep, "shell", "TMOUT")
        assert f["verdict"] == "ok" and "TRAPALRM" in f["why"]
        assert status == 0
    finally:
        run.end_children()
        user.remove()


def test_tmout_mksh_readonly_in_user_file(limpet_bin, make_lab, run):
    need_root()
    mksh = _shell("mksh")
    lab = make_lab(sshd_extra=["Match User ldoc*",
                               "  AuthorizedKeysFile .ssh/authorized_keys"])
    user = LoginUser(lab, shell=mksh)
    try:
        rc = user.append(".mkshrc", "# mine\nTMOUT=120\nreadonly TMOUT\n")
        cfg = user_ssh_config(lab, os.path.join(run.workdir, "cfg"),
                              user.name, keepalive=True)
        status, rep = doctor_json(limpet_bin, "-F", cfg, "story")
        f = finding(rep, "shell", "TMOUT")
        assert f["verdict"] == "kills" and f["seconds"] == 120
        # mksh traces no file names: the startup files' grep names it.
        assert (f["file"], f["line"]) == (rc, line_of(rc, "TMOUT=120")), \
            read(rc)
        # Read-only, but the user's own: theirs to change.
        assert f["fix_by"] == "user" and "read-only" in f["why"]
    finally:
        user.remove()


def test_tcsh_autologout(limpet_bin, make_lab, run):
    need_root()
    tcsh = _shell("tcsh")
    lab = make_lab(sshd_extra=["Match User ldoc*",
                               "  AuthorizedKeysFile .ssh/authorized_keys"])
    user = LoginUser(lab, shell=tcsh)
    try:
        rc = user.append(".tcshrc", "# mine\nset autologout = 30\n")
        cfg = user_ssh_config(lab, os.path.join(run.workdir, "cfg"),
                              user.name, keepalive=True)
        status, rep = doctor_json(limpet_bin, "-F", cfg, "story")
        f = finding(rep, "shell", "autologout")
        assert f["verdict"] == "kills" and f["seconds"] == 1800
        assert (f["file"], f["line"]) == (rc, 2)
        assert f["fix_by"] == "user"
        r = doctor(limpet_bin, "--fix", "--yes", "-F", cfg, "story")
        assert "# set autologout = 30" in read(rc), r.stdout
        status, rep = doctor_json(limpet_bin, "-F", cfg, "story")
        assert finding(rep, "shell", "autologout")["value"] == "unset"
    finally:
        user.remove()


def pexpect_eof():
    import pexpect
    return pexpect.EOF
