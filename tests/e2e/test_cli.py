"""End-to-end tests of limpet's command line.

limpet promises to take ssh's command line: where ssh finds its options,
destination and command, limpet must find the same, and hand ssh options
that ssh reads the same way.  A fake ssh records what limpet runs, and
`ssh -G` says what ssh makes of both argument lists; a real session checks
the rest.  Bad input must always give one clear line.
"""

import json
import os
import shlex
import subprocess
import sys

import pexpect
import pytest

import sshlab

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

FAKE_SSH = """#!/bin/sh
# Record the argument list, one word a line, and fail as ssh would.  Not
# that of `ssh -G` (the config's forwards), which runs beside it.
[ "$1" = -G ] && exit 255
for a in "$@"; do printf '%s\\n' "$a"; done > {out}
exit 255
"""

G_KEYS = ("user", "port", "hostname", "addressfamily", "forwardagent",
          "identityfile")


def fake_ssh(run):
    """A fake ssh that records its argv in a file; returns both paths."""
    out = os.path.join(run.workdir, "argv")
    path = os.path.join(run.workdir, "fake-ssh")
    with open(path, "w") as f:
        f.write(FAKE_SSH.replace("{out}", shlex.quote(out)))
    os.chmod(path, 0o755)
    return path, out


def ssh_g(args):
    """What ssh -G reports for these arguments (the keys we compare)."""
    r = subprocess.run(["ssh", "-G"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=10,
                       env=dict(os.environ, HOME="/nonexistent"))
    assert r.returncode == 0, "ssh -G %s: %s" % (args, r.stderr)
    got = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition(" ")
        if k in G_KEYS:
            got.setdefault(k, []).append(v)
    return got


def limpet_ssh_argv(spawn, run, limpet_bin, args):
    """The argv limpet gives ssh for `limpet ARGS` (without the program)."""
    prog, out = fake_ssh(run)
    if os.path.exists(out):
        os.unlink(out)
    p = spawn([limpet_bin, "--ssh", prog] + args)
    p.expect(pexpect.EOF)
    p.close()
    with open(out) as f:
        return f.read().split("\n")[:-1]


# (arguments as a user types them after `limpet`/`ssh`)
SPLIT_CASES = [
    ["-F", "/dev/null", "host", "-p", "2222", "echo", "hi"],
    ["-F", "/dev/null", "-p", "1", "host", "-p", "2"],
    ["-F", "/dev/null", "u@host", "-l", "x", "-p2", "echo"],
    ["-F", "/dev/null", "-l", "x", "u@host", "-p", "3", "ls", "-p", "4"],
    ["-F", "/dev/null", "a@b@host", "-4A", "-oPort=77", "--", "-p", "9"],
    ["-F", "/dev/null", "host", "-4", "-l", "me", "--", "-p", "9"],
    ["-F", "/dev/null", "--", "host", "-p", "9"],
    ["-F", "/dev/null", "host", "-p9", "-", "-p", "8"],
    ["-F", "/dev/null", "-i", "/k1", "host", "-i", "/k2", "cmd", "-i",
     "/k3"],
]


@pytest.mark.parametrize("args", SPLIT_CASES,
                         ids=[" ".join(c[2:]) for c in SPLIT_CASES])
def test_ssh_reads_options_as_ssh_would(spawn, run, limpet_bin, args):
    """Defect 26: options after the destination mean to ssh what they
    mean when given to ssh itself (ssh -G compares user, port, ...)."""
    got = limpet_ssh_argv(spawn, run, limpet_bin, args)
    assert got, "limpet did not run ssh"
    # The last word is limpet's remote command (the relay).
    assert "relay" in got[-1]
    mine, theirs = ssh_g(got[:-1]), ssh_g(args)
    # limpet relays the agent itself (-A): its ssh never forwards one.
    assert mine.pop("forwardagent") == ["no"]
    theirs.pop("forwardagent", None)
    assert mine == theirs


def test_dash_destination_is_refused(spawn, run, limpet_bin):
    """Defect 14: a destination after `--` never reaches ssh as an
    option (here one that would run a command)."""
    prog, out = fake_ssh(run)
    mark = os.path.join(run.workdir, "ran")
    r = subprocess.run([limpet_bin, "--ssh", prog, "--",
                        "-oProxyCommand=touch " + mark, "x"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=10,
                       env=run.env())
    assert r.returncode == 255
    assert r.stderr.splitlines() == [
        "limpet: a destination cannot start with '-': -oProxyCommand=touch "
        + mark + " (limpet --help)"]
    assert not os.path.exists(out)
    assert not os.path.exists(mark)


def test_options_after_destination_in_a_session(spawn, lab, run):
    """Defect 26 for real: `limpet host -p PORT cmd` goes to PORT and runs
    cmd (the config names a port where nothing listens)."""
    cfg = os.path.join(run.workdir, "ssh_config_wrong_port")
    with open(lab.ssh_config) as f:
        text = f.read().replace("Port %d" % lab.port, "Port 9")
    with open(cfg, "w") as f:
        f.write(text)
    b = sshlab.default_bin()
    p = spawn([b, "--server-path", b, "-F", cfg, sshlab.HOST, "-p",
               str(lab.port), "echo", "hi-$((6*7))"])
    p.expect("hi-42")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


def test_limpet_options_before_subcommand(spawn, lab):
    """Defect 25: limpet's options may come before the subcommand, so one
    alias (limpet --server-path X) serves every subcommand."""
    b = sshlab.default_bin()
    p = spawn([b, "--server-path", b, "-F", lab.ssh_config, sshlab.HOST])
    p.sendline("echo rea''dy-$((40+2))")
    p.expect("ready-42")
    p.send("~.")
    p.expect(pexpect.EOF)
    p.close()
    ls = spawn([b, "--server-path", b, "--dead=4", "ls", "-F",
                lab.ssh_config, sshlab.HOST])
    ls.expect(pexpect.EOF)
    ls.close()
    assert ls.exitstatus == 0, ls.before
    assert len(lab.session_pids()) == 1
    a = spawn([b, "--server-path", b, "--verbose", "attach", "-F",
               lab.ssh_config, sshlab.HOST], env={"LIMPET_LOG": os.devnull})
    a.sendline("exit")
    a.expect(pexpect.EOF)
    a.close()
    assert a.exitstatus == 0


@pytest.mark.parametrize("args, message", [
    (["--verbose", "relay"], "limpet relay takes no options"),
    (["--nope", "host"], "unknown option --nope (limpet --help)"),
    (["--nope", "attach", "host"], "unknown option --nope (limpet --help)"),
    (["--keepalive"], "option --keepalive needs a value (limpet --help)"),
    (["--dead", "0", "host"],
     "--dead wants seconds from 1 to 86400, not '0'"),
    (["--verbose", "ls", "--give-up", "1.5", "host"],
     "--give-up wants seconds from 1 to 86400, not '1.5'"),
    (["--keepalive=abc", "attach", "host"],
     "--keepalive wants seconds from 1 to 86400, not 'abc'"),
    (["--ring-size", "1", "host"], "--ring-size wants 64K to 256M, not '1'"),
    (["--verbose=1", "host"], "option --verbose takes no value "
     "(limpet --help)"),
    (["-f", "host"], "ssh option -f is not supported: limpet stays in the "
     "foreground to keep the session (limpet --help)"),
    (["host", "-p"], "ssh option -p needs an argument (limpet --help)"),
    (["host", "--verbose"], "limpet option --verbose must come before the "
     "destination (limpet --help)"),
    (["-p", "22"], "no destination given (limpet --help)"),
    (["--all", "host"], "--all is for limpet kill"),
    (["--verbose", "attach"], "no destination given (limpet --help)"),
])
def test_bad_input_gives_one_line(limpet_bin, run, args, message):
    """Every mistake on the command line gives one clear line."""
    r = subprocess.run([limpet_bin] + args, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=10, env=run.env())
    assert r.stderr.splitlines() == ["limpet: " + message]
    assert r.returncode in (2, 255)
    assert r.stdout == ""


def test_alias_serves_every_subcommand(spawn, lab, run):
    """The issue's alias form: l='limpet --server-path X --verbose
    --dead 4' runs every subcommand (new -d, -S NAME, ls, attach, kill,
    doctor); doctor accepts the session options the alias carries."""
    b = sshlab.default_bin()
    alias = [b, "--server-path", b, "--verbose", "--dead", "4"]
    env = {"LIMPET_LOG": os.devnull}
    cfg = ["-F", lab.ssh_config, sshlab.HOST]

    def call(*words):
        e = run.env()
        e.update(env)
        return subprocess.run(alias + list(words), env=e,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=60)

    r = call("new", "-d", *cfg, "sleep", "300")
    assert r.returncode == 0, r.stderr
    assert len(lab.session_pids()) == 1
    p = spawn(alias + ["-S", "work"] + cfg, env=env)
    p.sendline("echo rea''dy-$((40+2))")
    p.expect("ready-42")
    p.sendline("")
    p.send("~.")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0
    r = call("ls", *cfg)
    assert r.returncode == 0 and "work" in r.stdout, r.stdout + r.stderr
    r = call("ls", "--json", *cfg)
    assert r.returncode == 0, r.stderr
    sid = [s["id"] for s in json.loads(r.stdout) if s.get("name") == "work"]
    assert len(sid) == 1, r.stdout
    a = spawn(alias + ["attach"] + cfg + ["work"], env=env)
    a.sendline("echo att''ached-$((6*7))")
    a.expect("attached-42")
    a.sendline("")
    a.send("~.")
    a.expect(pexpect.EOF)
    a.close()
    r = call("kill", *cfg, sid[0])
    assert r.returncode == 0, r.stderr
    r = call("kill", "--all", *cfg)
    assert r.returncode == 0, r.stderr
    r = call("doctor", "--json", *cfg)
    assert "does not apply" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["status"] == 0


def test_doctor_options_before_doctor(limpet_bin, run):
    """Options doctor knows may come before the word doctor."""
    r = subprocess.run([limpet_bin, "--ssh", "ssh", "doctor", "--help"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=10,
                       env=run.env())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: limpet doctor")


def test_tryit_banner_commands_paste(spawn, lab, run, monkeypatch, capsys):
    """Defect 9: the make-try banner's command works pasted as printed
    from the repository root, even with a space in a path."""
    sys.path.insert(0, os.path.join(REPO, "tests"))
    import tryit
    spaced = os.path.join(run.workdir, "my bin")
    os.mkdir(spaced)
    limpet = os.path.join(spaced, "limpet")
    os.symlink(sshlab.default_bin(), limpet)
    helpers = tryit.write_helpers(spaced, os.path.join(spaced, "pid"))
    monkeypatch.chdir(REPO)
    tryit.banner(lab, helpers, limpet)
    text = capsys.readouterr().out
    lines = [ln.strip() for ln in text.splitlines()]
    cmd = lines[lines.index("to any server:") + 2]
    words = shlex.split(cmd)
    assert os.path.abspath(words[0]) == limpet
    assert "/" in words[0]
    # The binary inside the repository, as most people run it.
    tryit.banner(lab, helpers, os.path.join(REPO, "limpet"))
    shown = capsys.readouterr().out.split("to any server:")[1].split()
    assert shown[0] == "./limpet"
    assert shown[2] == shlex.quote(os.path.join(REPO, "limpet"))
    for name in ("cut", "freeze"):
        assert shlex.quote(helpers[name]) in lines
    assert "(%s lets it go)" % shlex.quote(helpers["thaw"]) in text
    p = spawn(["sh", "-c", cmd + " echo pas''ted-ok"], cwd=REPO)
    p.expect("pasted-ok")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


@pytest.mark.parametrize("args,first", [
    (["--server-path", "/x/limpet", "--help"], "usage: limpet"),
    (["--verbose", "-h"], "usage: limpet"),
    (["--keepalive=5", "--version"], "limpet "),
])
def test_help_and_version_after_options(limpet_bin, run, args, first):
    """An alias that carries limpet's options (l='limpet --server-path X')
    still answers `l --help` and `l --version`."""
    r = subprocess.run([limpet_bin] + args, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=10, env=run.env())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(first)
    assert r.stderr == ""


def test_help_names_every_option(limpet_bin, run):
    """--help lists every long option the client takes, and says what
    `new` without -d does."""
    r = subprocess.run([limpet_bin, "--help"], capture_output=True,
                       text=True, timeout=10, env=run.env())
    assert r.returncode == 0
    for opt in ("--keepalive", "--dead", "--give-up", "--ssh",
                "--server-path", "--server-dir", "--ring-size", "--predict",
                "--verbose", "--install", "--json"):
        assert "\n  %s " % opt in r.stdout, opt
    assert "limpet new [limpet options]" in r.stdout


def test_new_without_d_is_a_new_session(spawn, lab):
    """`limpet new host cmd` (documented) is `limpet host cmd`."""
    b = sshlab.default_bin()
    p = spawn([b, "new", "--server-path", b, "-F", lab.ssh_config,
               sshlab.HOST, "echo new-$((6*7)); exit 4"])
    p.expect("new-42")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 4
