"""Surviving logout where systemd-logind forbids it (scope.c).

There is no systemd here, so the server's PATH starts with stub
`loginctl` and `systemd-run` scripts: loginctl answers as logind would
(KillUserProcesses, KillOnlyUsers, Linger), systemd-run records its argv
and runs the command after "--", as `systemd-run --user --scope` does.
The decision and the start through a command (limpet __daemon) are real.
"""

import getpass
import json
import os
import re
import subprocess
import time

import pytest

import sshlab
from test_session import ended, session_id, start, wait_for

LOGINCTL = """#!/bin/sh
if [ "$STUB_ASK" = hang ]; then
    : > "$STUB_DIR/loginctl.hang"
    exec sleep 60
fi
case "$1" in
show-session)
    printf 'KillUserProcesses=%s\\nKillOnlyUsers=%s\\nKillExcludeUsers=\\n' \\
        "$STUB_KILL" "$STUB_ONLY" ;;
show-user)
    echo "Linger=${STUB_LINGER:-no}" ;;
*) exit 1 ;;
esac
"""

SYSTEMD_RUN = """#!/bin/sh
printf '%s\\n' "$@" > "$STUB_DIR/systemd-run.$$.argv"
case "$STUB_RUN" in
fail) echo "Failed to connect to bus: No medium found" >&2; exit 1 ;;
hang) exec sleep 60 ;;
esac
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
exec "$@"
"""


def stub_lab(make_lab, run, loginctl=True, **env):
    """A lab whose server finds the stubs first on PATH."""
    stubs = os.path.join(run.workdir, "stubs")
    os.makedirs(stubs, exist_ok=True)
    scripts = {"systemd-run": SYSTEMD_RUN}
    if loginctl:
        scripts["loginctl"] = LOGINCTL
    for name, text in scripts.items():
        path = os.path.join(stubs, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    base = {"PATH": stubs + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
            "STUB_DIR": stubs, "XDG_SESSION_ID": "7",
            "XDG_RUNTIME_DIR": run.workdir, "STUB_KILL": "yes",
            "STUB_ONLY": "", "STUB_RUN": ""}
    base.update(env)
    return make_lab(env=base), stubs


def stub_calls(stubs):
    """The argv of every systemd-run call, oldest first."""
    calls = []
    for name in sorted(os.listdir(stubs)):
        if name.startswith("systemd-run.") and name.endswith(".argv"):
            with open(os.path.join(stubs, name)) as f:
                calls.append(f.read().split("\n")[:-1])
    return calls


def ls_json(lab, run):
    r = subprocess.run(lab.limpet_cmd(sub="ls", opts=["--json"]),
                       env=run.env(), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return {s["id"]: s for s in json.loads(r.stdout)}, r.stderr


def session_round(spawn, lab, timeout=10):
    """A session that works; detached with ~. so its ssh ends."""
    p = start(spawn, lab, timeout=timeout)
    sid = session_id(p)
    p.send("\r~.")
    assert ended(p) == 0
    return sid


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode() for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


def daemon_argv(lab):
    pids = lab.session_pids()
    assert len(pids) == 1, pids
    with open("/proc/%d/cmdline" % pids[0], "rb") as f:
        return pids[0], [a.decode() for a in f.read().split(b"\0")[:-1]]


@pytest.mark.parametrize("kill,only,linger", [
    ("yes", "", "no"), ("no", "ME", "yes")])
def test_daemon_gets_its_own_scope(spawn, make_lab, run, kill, only,
                                   linger):
    if only == "ME":
        only = "nobody " + getpass.getuser()
    lab, stubs = stub_lab(make_lab, run, STUB_KILL=kill, STUB_ONLY=only,
                          STUB_LINGER=linger)
    sid = session_round(spawn, lab)
    calls = stub_calls(stubs)
    assert len(calls) == 1, calls
    argv = calls[0]
    assert argv[:6] == ["--user", "--scope", "--quiet", "--collect",
                        "--unit=limpet-" + sid, "--"], argv
    assert argv[7:10] == ["__daemon", lab.sessions, sid], argv
    # The daemon is what systemd-run ran, and it outlived its ssh.
    pid, cmd = daemon_argv(lab)
    assert cmd[1:4] == ["__daemon", lab.sessions, sid], cmd
    assert sshlab.alive(pid)
    assert pid not in sshlab.descendants(lab.pid)
    by_id, err = ls_json(lab, run)
    want = "user scope" if linger == "yes" else \
        "user scope; ends with the last login (no linger)"
    assert by_id[sid]["scope"] == want
    assert "ends at logout" not in err
    assert "in its own scope of the user's service manager" in \
        lab.server_log_text()
    # Attach again: the scoped daemon serves a new relay as any other.
    p = spawn(lab.limpet_cmd(sub="attach", args=[sid]))
    p.sendline("echo a''gain-$((6*7))")
    p.expect("again-42")
    p.send("\r~.")
    assert ended(p) == 0


@pytest.mark.parametrize("env", [
    {"STUB_KILL": "no"}, {"LIMPET_SCOPE": "off"}, {"XDG_SESSION_ID": ""},
    {"STUB_KILL": "yes", "STUB_ONLY": "nobody"}])
def test_no_scope_where_nothing_kills_it(spawn, make_lab, run, env):
    lab, stubs = stub_lab(make_lab, run, **env)
    sid = session_round(spawn, lab)
    assert stub_calls(stubs) == []
    # Started directly, from a fresh image of limpet (not a fork of the
    # relay, whose memory it would carry).
    pid, cmd = daemon_argv(lab)
    assert cmd[1:5] == ["__daemon", lab.sessions, sid, "plain"], cmd
    by_id, err = ls_json(lab, run)
    assert by_id[sid]["scope"] is None and err == ""


def test_no_loginctl_is_todays_behaviour(spawn, make_lab, run):
    lab, stubs = stub_lab(make_lab, run, loginctl=False)
    sid = session_round(spawn, lab)
    assert stub_calls(stubs) == []
    by_id, err = ls_json(lab, run)
    assert by_id[sid]["scope"] is None


@pytest.mark.parametrize("how,why", [
    ("fail", "systemd-run failed (exit 1): Failed to connect to bus: "
     "No medium found"),
    ("hang", "systemd-run did not start limpet within 5 s")])
def test_systemd_run_fails_then_started_as_before(spawn, make_lab, run,
                                                  how, why):
    lab, stubs = stub_lab(make_lab, run, STUB_RUN=how)
    t = time.monotonic()
    # A hung systemd-run costs the relay its 5 s deadline, no more.
    sid = session_round(spawn, lab, timeout=20)
    assert time.monotonic() - t < 15
    assert len(stub_calls(stubs)) == 1
    pid, cmd = daemon_argv(lab)
    assert cmd[1:5] == ["__daemon", lab.sessions, sid, "plain"], cmd
    assert sshlab.alive(pid)
    by_id, err = ls_json(lab, run)
    assert by_id[sid]["scope"] == "none: " + why
    assert "limpet: session %s ends at logout: %s" % (sid, why) in err
    assert "logind ends it at logout: " + why in lab.server_log_text()
    # The hung systemd-run was ended, not left behind.
    if how == "hang":
        assert not [p for p in sshlab.pids_with_env(
            ("STUB_DIR=%s" % stubs).encode()) if cmdline(p)[:1] == ["sleep"]]


def test_no_user_manager_is_said(spawn, make_lab, run):
    lab, stubs = stub_lab(make_lab, run, XDG_RUNTIME_DIR="")
    sid = session_round(spawn, lab)
    assert stub_calls(stubs) == []
    by_id, err = ls_json(lab, run)
    assert "XDG_RUNTIME_DIR is not set" in by_id[sid]["scope"]
    assert re.search(r"session %s ends at logout: .*no user service "
                     r"manager" % sid, err), err


def test_daemon_subcommand_refuses_strangers(run):
    r = subprocess.run([sshlab.default_bin(), "__daemon", "/tmp", "x"],
                       env=run.env(), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=10,
                       close_fds=True)
    assert r.returncode == 255 and "for limpet itself" in r.stderr


@pytest.mark.parametrize("how", ["argv0", "none"])
def test_daemon_without_proc_self_exe(spawn, make_lab, run, how):
    # Where /proc/self/exe is missing the relay runs the argv[0] it was
    # started with; where nothing can be run, the daemon is a fork of the
    # relay as before.  Either way the session works.
    lab, stubs = stub_lab(make_lab, run, LIMPET_SCOPE="off",
                          LIMPET_TEST_SELF=how)
    sid = session_round(spawn, lab)
    pid, cmd = daemon_argv(lab)
    if how == "argv0":
        assert cmd[:5] == [sshlab.default_bin(), "__daemon", lab.sessions,
                           sid, "plain"], cmd
    else:
        assert "__daemon" not in cmd, cmd
    p = spawn(lab.limpet_cmd(sub="attach", args=[sid]))
    p.sendline("echo a''gain-$((6*7))")
    p.expect("again-42")
    p.send("\r~.")
    assert ended(p) == 0


@pytest.mark.parametrize("what", ["systemd-run", "loginctl"])
def test_relay_is_not_blocked_by_a_hung_helper(spawn, make_lab, run, what):
    # The relay waits for systemd-run and loginctl inside its poll loop:
    # a client that goes away meanwhile ends its relay at once, not after
    # their 5 s or 2 s.
    env = {"STUB_RUN": "hang"} if what == "systemd-run" else \
        {"STUB_ASK": "hang"}
    lab, stubs = stub_lab(make_lab, run, **env)
    p = spawn(lab.limpet_cmd())
    if what == "systemd-run":
        wait_for(lambda: len(stub_calls(stubs)) == 1, what=what)
    else:
        wait_for(lambda: os.path.exists(os.path.join(stubs, "loginctl.hang")),
                 what=what)
    marker = ("STUB_DIR=%s" % stubs).encode()

    def ppid(pid):
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    # The relay, not its helper (a fork that runs systemd-run, loginctl).
    limpets = [q for q in sshlab.pids_with_env(marker)
               if cmdline(q)[1:2] == ["relay"]]
    relay = [q for q in limpets if ppid(q) not in limpets]
    assert len(relay) == 1, limpets
    t = time.monotonic()
    p.kill(9)
    wait_for(lambda: not sshlab.alive(relay[0]), timeout=10,
             what="relay gone")
    assert time.monotonic() - t < 3
    # No session was started for the client that left.
    time.sleep(0.5)
    assert lab.session_pids() == []


def test_hung_loginctl_costs_two_seconds(spawn, make_lab, run):
    # loginctl that never answers is killed after 2 s; the session starts
    # as if nothing ended it at logout (no systemd-run).
    lab, stubs = stub_lab(make_lab, run, STUB_ASK="hang")
    t = time.monotonic()
    sid = session_round(spawn, lab, timeout=20)
    assert time.monotonic() - t < 15
    assert stub_calls(stubs) == []
    by_id, err = ls_json(lab, run)
    assert by_id[sid]["scope"] is None
    assert not [p for p in sshlab.pids_with_env(
        ("STUB_DIR=%s" % stubs).encode()) if cmdline(p)[:1] == ["sleep"]]
