"""The HELLO on ssh's command line (docs/PROTOCOL.md, Preamble).

sshd lets a session's stdin through only once its command runs, so the
client also puts its HELLO in the remote command (env LIMPET_HELLO=hex)
and the relay answers at once.  These tests drive the real client and
sshd through a --server-path wrapper that records what the relay gets in
LIMPET_HELLO and can play an older relay (which ignores it) or hand it a
broken one.
"""

import os
import re

import pexpect

import sshlab
from test_session import ended, kill_ssh, session_id, wait_for


def wrapper(run, limpet_bin, name, how):
    """A --server-path that appends the relay's LIMPET_HELLO (or "none")
    to a file, then runs limpet after the shell line how."""
    path = os.path.join(run.workdir, name)
    seen = path + ".seen"
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                "printf '%%s\\n' \"${LIMPET_HELLO-none}\" >> %s\n"
                "%s\nexec %s \"$@\"\n" % (seen, how, limpet_bin))
    os.chmod(path, 0o755)
    return path, seen


def seen_lines(seen):
    try:
        with open(seen) as f:
            return f.read().split()
    except OSError:
        return []


def cmd(limpet_bin, lab, server, sub=None, opts=(), args=()):
    argv = [limpet_bin] + ([sub] if sub else [])
    return argv + ["--server-path", server] + list(opts) + \
        ["-F", lab.ssh_config, sshlab.HOST] + list(args)


def client_log(run, name):
    path = os.path.join(run.workdir, name)
    return path, {"LIMPET_LOG": path}


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


TOOK = "the relay took HELLO from the command line"


def test_hello_on_the_command_line_new_attach_and_resume(
        spawn, lab, run, limpet_bin):
    server, seen = wrapper(run, limpet_bin, "limpet-rec", ":")
    log, env = client_log(run, "client.log")
    p = spawn(cmd(limpet_bin, lab, server, opts=["--verbose"]), env=env)
    p.sendline("echo rea''dy-$((40+2)) [${LIMPET_HELLO-unset}]")
    # The session's programs never see the variable.
    p.expect(r"ready-42 \[unset\]")
    hellos = seen_lines(seen)
    assert len(hellos) == 1 and re.fullmatch(r"(?:[0-9a-f]{2})+",
                                             hellos[0]), hellos
    assert TOOK in read(log)
    sid = session_id(p)
    # A reconnect resumes with a HELLO on the command line too; nothing
    # typed or printed meanwhile is lost or repeated.
    p.sendline("sleep 1; echo af''ter-cut-$((6*7))")
    assert kill_ssh(p) >= 1
    p.expect("after-cut-42")
    p.sendline("echo on''e-$((1+1)); echo tw''o-$((1+2))")
    p.expect("one-2")
    p.expect("two-3")
    wait_for(lambda: len(seen_lines(seen)) >= 2, what="a second relay")
    assert all(h != "none" for h in seen_lines(seen))
    assert read(log).count(TOOK) >= 2
    # A second client takes the session over with its id.
    log2, env2 = client_log(run, "client2.log")
    q = spawn(cmd(limpet_bin, lab, server, sub="attach", opts=["--verbose"],
                  args=[sid]), env=env2)
    q.sendline("echo ta''ken-$((7*6))")
    q.expect("taken-42")
    assert TOOK in read(log2)
    q.sendline("exit")
    assert ended(q) == 0
    assert ended(p) == 0


def test_an_older_relay_gets_the_hello_on_stdin(spawn, lab, run,
                                                limpet_bin):
    # An older relay does not know LIMPET_HELLO: it answers with the
    # usual preamble and the client sends HELLO on stdin after it.
    server, seen = wrapper(run, limpet_bin, "limpet-old",
                           "unset LIMPET_HELLO")
    log, env = client_log(run, "client.log")
    p = spawn(cmd(limpet_bin, lab, server, opts=["--verbose"]), env=env)
    p.sendline("echo rea''dy-$((40+2))")
    p.expect("ready-42")
    assert seen_lines(seen)[0] != "none"
    assert TOOK not in read(log)
    p.sendline("sleep 1; echo af''ter-cut-$((6*7))")
    assert kill_ssh(p) >= 1
    p.expect("after-cut-42")
    p.sendline("exit")
    assert ended(p) == 0


def test_a_broken_hello_variable_is_ignored(spawn, lab, run, limpet_bin):
    # Not hex, odd, a frame that is no HELLO, a HELLO cut short, one with
    # bytes after it: the relay ignores each, says so, and reads stdin.
    broken = ["zz", "010", "0700000000", "0100000010000000",
              "0100000000" + "00"]
    for i, value in enumerate(broken):
        server, _ = wrapper(run, limpet_bin, "limpet-bad%d" % i,
                            "LIMPET_HELLO=%s; export LIMPET_HELLO" % value)
        p = spawn(cmd(limpet_bin, lab, server, args=[
            "echo go''t-[${LIMPET_HELLO-unset}]; sleep 30"]))
        p.expect(r"got-\[unset\]")
        p.sendcontrol("c")
        ended(p)
    assert lab.server_log_text().count(
        "LIMPET_HELLO is not one HELLO: ignored") >= len(broken)


def test_a_command_never_goes_on_the_command_line(spawn, lab, run,
                                                  limpet_bin):
    # The server's ps shows command lines: the user's command stays in
    # the HELLO on stdin.
    server, seen = wrapper(run, limpet_bin, "limpet-cmd", ":")
    p = spawn(cmd(limpet_bin, lab, server,
                  args=["echo sec''ret-$((40+2))"]))
    p.expect(pexpect.EOF)
    assert "secret-42" in p.before
    assert seen_lines(seen) == ["none"]
