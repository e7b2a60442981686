"""Version negotiation between a newer client or relay and an older
daemon or relay (docs/PROTOCOL.md, HELLO and WELCOME).

The test build (LIMPET_TEST_HOOKS) can pretend to be another protocol
version (LIMPET_TEST_PROTO_VERSION=N) or a daemon and relay from before
negotiation, which accepted only their own version
(LIMPET_TEST_PROTO_LEGACY=1).  The server side gets these through a
wrapper script given as --server-path, the client through its
environment.
"""

import os
import re
import subprocess

import pexpect

import sshlab
from test_session import ended, session_id, wait_for


def wrapper(run, limpet_bin, name, env):
    """A --server-path that runs limpet with env set."""
    path = os.path.join(run.workdir, name)
    sets = " ".join("%s=%s" % kv for kv in sorted(env.items()))
    with open(path, "w") as f:
        f.write("#!/bin/sh\n%s exec %s \"$@\"\n" % (sets, limpet_bin))
    os.chmod(path, 0o755)
    return path


def cmd(limpet_bin, lab, server, sub=None, args=()):
    argv = [limpet_bin] + ([sub] if sub else [])
    return argv + ["--server-path", server, "-F", lab.ssh_config,
                   sshlab.HOST] + list(args)


NEW = {"LIMPET_TEST_PROTO_VERSION": "3"}
OLD = {"LIMPET_TEST_PROTO_VERSION": "2"}
# A daemon and relay of protocol 2 from before negotiation.
LEGACY = {"LIMPET_TEST_PROTO_LEGACY": "1", "LIMPET_TEST_PROTO_VERSION": "2"}


def limpet_version(limpet_bin):
    """The LIMPET_VERSION of limpet_bin ("limpet X (protocol N)")."""
    out = subprocess.run([limpet_bin, "--version"], capture_output=True,
                         text=True, timeout=10).stdout
    return out.split()[1]


def ls_text(spawn, limpet_bin, lab, server, env=None):
    ls = spawn(cmd(limpet_bin, lab, server, sub="ls"), env=env)
    ls.expect(pexpect.EOF)
    out = ls.before
    assert ended(ls) == 0, out
    return out


def test_legacy_daemon_survives_a_relay_and_client_upgrade(
        spawn, lab, run, limpet_bin):
    old = wrapper(run, limpet_bin, "limpet-old", LEGACY)
    new = wrapper(run, limpet_bin, "limpet-new", NEW)
    a = spawn(cmd(limpet_bin, lab, old), env=LEGACY)
    a.sendline("echo rea''dy-$((40+2))")
    a.expect("ready-42")
    sid = session_id(a)
    a.sendline("")
    a.send("~.")
    assert ended(a) == 0
    # The server is upgraded: a newer relay, a newer client.  The old
    # daemon refuses version 3; the relay says HELLO again in version 2.
    b = spawn(cmd(limpet_bin, lab, new, sub="attach", args=[sid]), env=NEW)
    assert session_id(b) == sid
    b.sendline("echo af''ter-$((6*7))")
    b.expect("after-42")
    assert "speaks an older protocol" in lab.server_log_text()
    assert "client attached (protocol 2" in lab.server_log_text()
    # A session the new binary starts speaks 3; ls tells them apart.
    c = spawn(cmd(limpet_bin, lab, new, args=["sleep", "300"]), env=NEW)
    wait_for(lambda: "client attached (protocol 3" in
             lab.server_log_text(), what="a version 3 session")
    out = ls_text(spawn, limpet_bin, lab, new, env=NEW)
    # The old daemon cannot say its limpet version: its protocol shows.
    assert re.search(r"^%s\s+\d+\s+attached\s.*\sproto-2\s+"
                     r"\(login shell\)" % sid, out, re.M), out
    assert re.search(r"\sattached\s.*\s%s\s+sleep 300"
                     % re.escape(limpet_version(limpet_bin)), out), out
    b.sendline("exit 3")
    assert ended(b) == 3
    c.sendcontrol("c")
    assert ended(c) == 130


def test_newer_client_falls_back_for_a_legacy_relay(
        spawn, lab, run, limpet_bin):
    old = wrapper(run, limpet_bin, "limpet-old", LEGACY)
    # The old relay refuses version 3 with ERROR 1: the client says
    # HELLO again, in version 2, over a new connection.
    a = spawn(cmd(limpet_bin, lab, old), env=NEW)
    a.sendline("echo rea''dy-$((40+2))")
    a.expect("ready-42")
    assert "client attached (protocol 2" in lab.server_log_text()
    out = ls_text(spawn, limpet_bin, lab, old, env=NEW)
    assert re.search(r"\sattached\s.*\sproto-2\s+\(login shell\)",
                     out), out
    a.sendline("exit")
    assert ended(a) == 0


def test_newer_daemon_speaks_the_older_clients_version(
        spawn, lab, run, limpet_bin):
    new = wrapper(run, limpet_bin, "limpet-new", NEW)
    a = spawn(cmd(limpet_bin, lab, new), env=OLD)
    a.sendline("echo rea''dy-$((40+2))")
    a.expect("ready-42")
    assert "client attached (protocol 2" in lab.server_log_text()
    a.sendline("exit")
    assert ended(a) == 0


def test_version_older_than_the_oldest_is_refused(spawn, lab, run,
                                                  limpet_bin):
    old = {"LIMPET_TEST_PROTO_VERSION": "1"}
    a = spawn(cmd(limpet_bin, lab, limpet_bin), env=old)
    a.expect("speaks protocol 2 to 3, the client 1")
    assert ended(a) == 255
