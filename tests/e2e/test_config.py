"""The per-host settings file, $XDG_CONFIG_HOME/limpet/config
(src/config.c): ssh_config-style Host sections, first match wins, the
command line wins, `limpet -G host` prints the effective settings, bad
lines are named by file:line."""

import os

import pexpect

import sshlab
from test_session import ended


def write_config(run, text):
    d = os.path.join(run.workdir, "xdg", "limpet")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "config")
    with open(path, "w") as f:
        f.write(text)
    return {"XDG_CONFIG_HOME": os.path.join(run.workdir, "xdg")}, path


def output(p):
    p.expect(pexpect.EOF)
    out = p.before
    return ended(p), out


def test_server_path_from_the_config(spawn, lab, run, limpet_bin):
    env, _ = write_config(run, "Host nothere\n  server-path /nope\n"
                          "Host %s\n  server-path %s\n  keepalive 7\n"
                          % (sshlab.HOST, limpet_bin))
    # No --server-path: the file gives it (limpet is not on the PATH).
    p = spawn([limpet_bin, "-F", lab.ssh_config, sshlab.HOST], env=env)
    p.sendline("echo rea''dy-$((40+2))")
    p.expect("ready-42")
    p.sendline("exit 5")
    assert ended(p) == 5
    # The same file serves ls (the alias form needs no options at all).
    rc, out = output(spawn([limpet_bin, "ls", "-F", lab.ssh_config,
                            sshlab.HOST], env=env))
    assert rc == 0, out


def test_dash_G_prints_effective_settings(spawn, run, limpet_bin):
    env, _ = write_config(run, "ring-size 8M\n"
                          "Host web* !webtest\n  keepalive=7\n"
                          "  server-path \"/opt/my limpet\"\n"
                          "Host *\n  keepalive 20\n  install yes\n")
    rc, out = output(spawn([limpet_bin, "-G", "u@web1"], env=env))
    assert rc == 0
    lines = out.replace("\r", "").splitlines()
    assert lines == ["server-path /opt/my limpet", "server-dir none",
                     "keepalive 7", "dead 2", "give-up none",
                     "predict adaptive", "ring-size 8M", "install yes"], lines
    rc, out = output(spawn([limpet_bin, "--keepalive", "3", "-G",
                            "webtest"], env=env))
    assert "keepalive 3\r\n" in out and "server-path none" in out, out


def test_dash_G_prints_the_defaults_the_client_uses(spawn, run, limpet_bin):
    """With no file and no options, -G shows what the client really does:
    the heartbeat learned from 25 s up to 300 s, dead after 2 s, adaptive
    prediction, a 4M ring (the constants in client-int.h, client-keep.h,
    daemon.h; the man page says the same)."""
    env, _ = write_config(run, "# nothing set\n")
    rc, out = output(spawn([limpet_bin, "-G", "plainhost"], env=env))
    assert rc == 0, out
    assert out.replace("\r", "").splitlines() == [
        "server-path none", "server-dir none", "keepalive learned(25-300)",
        "dead 2", "give-up none", "predict adaptive", "ring-size 4M",
        "install no"], out


def test_bad_line_is_named(spawn, lab, run, limpet_bin):
    env, path = write_config(run, "Host *\n  keepalive 9\n  colour blue\n")
    for argv in ([limpet_bin, "-F", lab.ssh_config, sshlab.HOST],
                 [limpet_bin, "ls", "-F", lab.ssh_config, sshlab.HOST],
                 [limpet_bin, "-G", sshlab.HOST]):
        rc, out = output(spawn(argv, env=env))
        assert rc == 255
        assert out.strip() == "limpet: %s:3: unknown keyword 'colour'" \
            % path, out


def test_bad_range_is_named_with_its_line(spawn, lab, run, limpet_bin):
    """A value of the right shape but out of range (predict banana,
    ring-size 1) is a bad line too: file:line and why, in one line, for
    -G, ls and a session alike, not a command-line error."""
    for text, line, why in (
            ("Host *\n  predict banana\n", 2,
             "predict wants adaptive, always or never, not 'banana'"),
            ("# ring\nring-size 1\n", 2,
             "ring-size wants 64K to 256M, not '1'")):
        env, path = write_config(run, text)
        for argv in ([limpet_bin, "-G", sshlab.HOST],
                     [limpet_bin, "ls", "-F", lab.ssh_config, sshlab.HOST],
                     [limpet_bin, "-F", lab.ssh_config, sshlab.HOST]):
            rc, out = output(spawn(argv, env=env))
            assert rc == 255, out
            assert out.strip() == "limpet: %s:%d: %s" % (path, line, why), \
                out
