"""Zero install: limpet --install (or a yes at the prompt) puts a server
binary on a server that has no limpet, over one ssh connection, checked
by sha256 and renamed into place (src/client-install.c).

The lab's sshd gives sessions a home of their own and a PATH without
limpet, so the server starts with none; the client offers binaries from
LIMPET_SERVER_BINARIES (the sanitized build, named for this machine).
"""

import os
import shutil

import pexpect
import pytest

import sshlab
from conftest import missing
from test_session import ended


def machine():
    u = os.uname()
    return u.sysname.lower(), u.machine.lower()


@pytest.fixture
def bare(make_lab, run):
    """A lab whose server has no limpet: its own HOME, PATH without it."""
    home = os.path.join(run.workdir, "home")
    os.makedirs(home, mode=0o700)
    lab = make_lab(env={"HOME": home, "PATH": "/usr/bin:/bin"})
    lab.home = home
    return lab


def offer(run, limpet_bin, name=None):
    """A directory of server binaries holding one for name (os-arch)."""
    d = os.path.join(run.workdir, "bins")
    os.makedirs(d, exist_ok=True)
    name = name or "%s-%s" % machine()
    shutil.copy(limpet_bin, os.path.join(d, "limpet-" + name))
    return d


def argv(limpet_bin, lab, *opts):
    return [limpet_bin] + list(opts) + ["-F", lab.ssh_config, sshlab.HOST]


def installed(lab):
    return os.path.join(lab.home, ".local", "bin", "limpet")


def shell_works(p):
    p.sendline("echo rea''dy-$((40+2))")
    p.expect("ready-42")
    p.sendline("exit 7")
    assert ended(p) == 7


def test_install_then_nothing_to_install(spawn, bare, run, limpet_bin):
    env = {"LIMPET_SERVER_BINARIES": offer(run, limpet_bin)}
    p = spawn(argv(limpet_bin, bare, "--install"), env=env, timeout=30)
    p.expect("limpet is not installed on %s" % sshlab.HOST)
    p.expect(r"installed limpet \S+ on %s as \S+/\.local/bin/limpet "
             r"\(sha256 checked\)" % sshlab.HOST)
    shell_works(p)
    with open(installed(bare), "rb") as a, open(limpet_bin, "rb") as b:
        assert a.read() == b.read()
    assert os.stat(installed(bare)).st_mode & 0o777 == 0o755
    before = os.stat(installed(bare))
    # The second run finds the same version there: installs nothing.
    q = spawn(argv(limpet_bin, bare, "--install"), env=env, timeout=30)
    q.sendline("echo rea''dy-$((40+2))")
    q.expect("ready-42")
    assert "install" not in q.before
    q.sendline("exit 7")
    assert ended(q) == 7
    after = os.stat(installed(bare))
    assert (before.st_ino, before.st_mtime_ns) == \
        (after.st_ino, after.st_mtime_ns)
    assert os.listdir(os.path.dirname(installed(bare))) == ["limpet"]


def test_damaged_upload_is_refused(spawn, bare, run, limpet_bin):
    env = {"LIMPET_SERVER_BINARIES": offer(run, limpet_bin),
           "LIMPET_TEST_INSTALL_DAMAGE": "1"}
    p = spawn(argv(limpet_bin, bare, "--install"), env=env, timeout=30)
    p.expect("arrived damaged \\(sha256 mismatch\\); nothing was installed")
    assert ended(p) == 255
    assert not os.path.exists(installed(bare))
    # No temporary file is left behind either.
    d = os.path.dirname(installed(bare))
    assert not os.path.isdir(d) or os.listdir(d) == []


def test_no_binary_for_the_servers_architecture(spawn, bare, run,
                                                limpet_bin):
    env = {"LIMPET_SERVER_BINARIES": offer(run, limpet_bin,
                                           "linux-nosucharch")}
    p = spawn(argv(limpet_bin, bare, "--install"), env=env, timeout=30)
    p.expect(pexpect.EOF)
    out = p.before
    assert ended(p) == 255
    lines = [ln for ln in out.splitlines() if ln.strip()]
    want = "limpet: no limpet for %s %s to install on %s: this client " \
        "has linux-nosucharch" % (os.uname().sysname, os.uname().machine,
                                  sshlab.HOST)
    assert lines[-1].startswith(want), out
    assert not os.path.exists(installed(bare))


def test_prompt_yes_installs_no_does_not(spawn, bare, run, limpet_bin):
    env = {"LIMPET_SERVER_BINARIES": offer(run, limpet_bin)}
    p = spawn(argv(limpet_bin, bare), env=env, timeout=30)
    p.expect("limpet is not installed on the server")
    p.expect(r"install limpet \S+ on %s .*\[y/N\] " % sshlab.HOST)
    p.sendline("n")
    assert ended(p) == 255
    assert not os.path.exists(installed(bare))
    p = spawn(argv(limpet_bin, bare), env=env, timeout=30)
    p.expect(r"\[y/N\] ")
    p.sendline("y")
    p.expect("installed limpet")
    shell_works(p)
    assert os.path.exists(installed(bare))


def test_older_limpet_in_local_bin_is_replaced(spawn, bare, run,
                                               limpet_bin):
    # An older limpet where limpet installs: replaced, atomically.
    d = os.path.dirname(installed(bare))
    os.makedirs(d)
    with open(installed(bare), "w") as f:
        f.write("#!/bin/sh\necho 'limpet 0.0.9 (protocol 2)'\nexit 1\n")
    os.chmod(installed(bare), 0o755)
    env = {"LIMPET_SERVER_BINARIES": offer(run, limpet_bin)}
    p = spawn(argv(limpet_bin, bare, "--install"), env=env, timeout=30)
    p.expect(r"%s has limpet 0\.0\.9, older than this client's" %
             sshlab.HOST)
    p.expect("installed limpet")
    shell_works(p)
    with open(installed(bare), "rb") as a, open(limpet_bin, "rb") as b:
        assert a.read() == b.read()


@pytest.mark.timeout(300)
def test_static_client_installs_itself(spawn, bare, run):
    """A static build (make static) offers itself to a server of its
    own OS and architecture: nothing else needs to be set up."""
    import test_packaging
    if shutil.which("musl-gcc") is None:
        missing("make static needs musl-gcc (apt-get install musl-tools)")
    test_packaging.make("static")
    static = test_packaging.STATIC
    env = {"LIMPET_SERVER_BINARIES": os.path.join(run.workdir, "none")}
    p = spawn(argv(static, bare, "--install"), env=env, timeout=30)
    p.expect("limpet is not installed on %s" % sshlab.HOST)
    p.expect("installed limpet")
    shell_works(p)
    with open(installed(bare), "rb") as a, open(static, "rb") as b:
        assert a.read() == b.read()


@pytest.mark.timeout(300)
def test_make_install_gives_install_a_server_binary(spawn, bare, run):
    """A plain `make install` (as the .deb's build does) puts the static
    server binary in PREFIX/lib/limpet; the installed client finds it
    there (../lib/limpet beside itself) with nothing set, and --install
    works out of the box."""
    import test_packaging
    if shutil.which("musl-gcc") is None:
        missing("make install's server binary needs musl-gcc "
                "(apt-get install musl-tools)")
    prefix = os.path.join(run.workdir, "prefix")
    test_packaging.make("install", "PREFIX=" + prefix)
    client = os.path.join(prefix, "bin", "limpet")
    server = os.path.join(prefix, "lib", "limpet",
                          "limpet-%s-%s" % machine())
    assert os.access(server, os.X_OK)
    p = spawn(argv(client, bare, "--install"),
              env={"LIMPET_SERVER_BINARIES": ""}, timeout=30)
    p.expect("limpet is not installed on %s" % sshlab.HOST)
    p.expect("installed limpet")
    shell_works(p)
    with open(installed(bare), "rb") as a, open(server, "rb") as b:
        assert a.read() == b.read()
