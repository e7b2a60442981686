"""The transport's cipher (docs/ARCHITECTURE.md, "The transport's
cipher").

Where the CPU runs AES-GCM in hardware, limpet's ssh children put the
AES-GCM ciphers ahead of ChaCha20-Poly1305 in OpenSSH's default order; a
cipher list the user chose (config file, -c, -o Ciphers) is left as it
is.  A --ssh wrapper has each real ssh write its debug log to a file, so
the tests read the cipher that ssh and the real sshd agreed on.
LIMPET_TEST_CPU_AES_GCM (the sanitized build's test hook) plays a CPU
with and without AES-GCM, so both answers are tested on any machine.
"""

import os
import re

from test_forward import config_with
from test_session import ended, kill_ssh, wait_for

KEX = re.compile(r"kex: client->server cipher: (\S+)")


def wrapper(run):
    """A --ssh program: `ssh -G` as it is; every connection's ssh with
    its debug log appended to a file."""
    path = os.path.join(run.workdir, "ssh-log")
    log = path + ".log"
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                "[ \"$1\" = -G ] && exec ssh \"$@\"\n"
                "exec ssh -v -E %s \"$@\"\n" % log)
    os.chmod(path, 0o755)
    return path, log


def ciphers(log):
    """The cipher each connection so far agreed on, in order."""
    try:
        with open(log, errors="replace") as f:
            return KEX.findall(f.read())
    except OSError:
        return []


def session(spawn, lab, run, aes, config=None, opts=()):
    """A session through the wrapper; returns (client, ssh log)."""
    wrap, log = wrapper(run)
    if os.path.exists(log):
        os.unlink(log)
    argv = lab.limpet_cmd(opts=("--ssh", wrap) + tuple(opts))
    if config is not None:
        argv[argv.index(lab.ssh_config)] = config
    p = spawn(argv, env={"LIMPET_TEST_CPU_AES_GCM": aes})
    p.sendline("echo rea''dy-$((40+2))")
    p.expect("ready-42")
    return p, log


def reconnected(p, log, n):
    """Kill the client's ssh; wait for the n-th connection's kex and for
    the session to answer through it."""
    assert kill_ssh(p) >= 1
    wait_for(lambda: len(ciphers(log)) >= n, timeout=20,
             what="connection %d" % n)
    p.sendline("echo ba''ck-$((40+%d))" % n)
    p.expect("back-%d" % (40 + n))


def test_aes_gcm_first_with_hardware_aes(spawn, lab, run):
    """OpenSSH's default order on a CPU with AES-GCM: every connection
    once `ssh -G` has answered (the first waits for it) agrees on
    aes128-gcm, the reconnects too; without AES-GCM ChaCha20 stays."""
    p, log = session(spawn, lab, run, "1")
    reconnected(p, log, 2)
    got = ciphers(log)
    assert got[-1] == "aes128-gcm@openssh.com", got
    assert set(got) <= {"aes128-gcm@openssh.com",
                        "chacha20-poly1305@openssh.com"}, got
    p.sendline("exit")
    assert ended(p) == 0

    p, log = session(spawn, lab, run, "0")
    reconnected(p, log, 2)
    assert ciphers(log) == ["chacha20-poly1305@openssh.com"] * 2
    p.sendline("exit")
    assert ended(p) == 0


def test_the_users_cipher_choice_stands(spawn, lab, run):
    """A Ciphers line in the user's ssh config, -c and -o Ciphers on the
    command line each decide the cipher, reconnects included."""
    cfg = config_with(lab, run, "ssh_config_ciphers",
                      "Ciphers aes256-ctr,chacha20-poly1305@openssh.com")
    cases = [("aes256-ctr", cfg, ()),
             ("aes192-ctr", None, ("-c", "aes192-ctr")),
             ("chacha20-poly1305@openssh.com", None,
              ("-o", "Ciphers=chacha20-poly1305@openssh.com,"
               "aes128-gcm@openssh.com"))]
    for want, config, opts in cases:
        p, log = session(spawn, lab, run, "1", config=config, opts=opts)
        reconnected(p, log, 2)
        assert ciphers(log) == [want] * 2, (opts, ciphers(log))
        p.sendline("exit")
        assert ended(p) == 0
