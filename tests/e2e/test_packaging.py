"""Packaging: the static server build, shell completions, make install and
the Debian package.

The static binary (make static, musl) must be statically linked and work
as the server side of a session whose client is the normal build.  The
completions must load in their shells and complete options and hosts.
The .deb must build, pass lintian without errors, install, run a real
session as client and server, and remove without leaving a file.

dpkg -i really installs on this machine, so that part runs only in CI
(CI=true) or with LIMPET_TEST_DPKG=1 as root in a disposable machine;
elsewhere it skips, saying so.  Missing tools skip outside CI and fail in
CI, where .ci/deps installs them.
"""

import fcntl
import os
import shutil
import subprocess
import time

import pexpect
import pytest

import sshlab
from conftest import IN_CI, missing

REPO = sshlab.REPO
COMPLETIONS = os.path.join(REPO, "completions")
STATIC = os.path.join(REPO, "build", "static", "limpet")
DEBDIR = os.path.join(REPO, "build", "deb")

# Hosts of the test ssh config: plain names complete, patterns never do.
SSH_CONFIG = """\
Host web db.example *.corp
  User someone
Host=jumpbox
host !nothere gw?
Match all
"""


def make(*targets, timeout=300):
    """Run make in the repository; fail the test with its output.  One
    make at a time (a lock under build/): test_install.py and this file
    both build build/static, and pytest-xdist may run them at once."""
    os.makedirs(os.path.join(REPO, "build"), exist_ok=True)
    with open(os.path.join(REPO, "build", ".test-make.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        r = subprocess.run(["make", "-C", REPO, "-j2"] + list(targets),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
    assert r.returncode == 0, "make %s failed:\n%s" % (
        " ".join(targets), r.stdout[-4000:])
    return r.stdout


def fake_home(run):
    """A HOME with the test ssh config; returns its path."""
    home = os.path.join(run.workdir, "home")
    os.makedirs(os.path.join(home, ".ssh"), mode=0o700)
    with open(os.path.join(home, ".ssh", "config"), "w") as f:
        f.write(SSH_CONFIG)
    return home


def start_session(spawn, argv):
    """Start a session and wait until the remote shell answers."""
    p = spawn(argv)
    p.sendline("echo rea''dy-$((40+2))")
    p.expect("ready-42")
    return p


def end_session(p, lab):
    """Exit the shell with status 5 and check the session is gone."""
    p.sendline("exit 5")
    p.expect(pexpect.EOF, timeout=10)
    p.close()
    assert p.exitstatus == 5
    deadline = time.monotonic() + 10
    while lab.session_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.session_pids() == []


def daemon_exes(lab):
    """The executables of the lab's session daemons."""
    out = set()
    for pid in lab.session_pids():
        try:
            out.add(os.readlink("/proc/%d/exe" % pid))
        except OSError:
            pass
    return out


# -- the static server build --------------------------------------------

@pytest.fixture(scope="module")
def static_bin():
    """build/static/limpet, built now with make static."""
    if shutil.which("musl-gcc") is None:
        missing("make static needs musl-gcc (apt-get install musl-tools)")
    make("static")
    return STATIC


@pytest.mark.no_limpet
@pytest.mark.timeout(300)
def test_static_binary_is_static(static_bin):
    out = subprocess.run(["file", "-L", static_bin], capture_output=True,
                         text=True).stdout if shutil.which("file") else ""
    if out:
        assert "statically linked" in out, out
    # No interpreter and no needed libraries, whatever file(1) says.
    elf = subprocess.run(["readelf", "-l", "-d", static_bin],
                         capture_output=True, text=True).stdout
    assert "INTERP" not in elf and "NEEDED" not in elf, elf
    r = subprocess.run([static_bin, "--version"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("limpet "), r


@pytest.mark.timeout(300)
def test_static_binary_as_server(static_bin, limpet_bin, spawn, lab):
    """The normal client with the static binary as relay and daemon."""
    argv = [limpet_bin, "--server-path", static_bin, "-F", lab.ssh_config,
            sshlab.HOST]
    p = start_session(spawn, argv)
    p.sendline("echo si''d=[$LIMPET_SESSION]")
    p.expect(r"sid=\[([a-z0-9]+)\]")
    assert daemon_exes(lab) == {os.path.realpath(static_bin)}
    # ls and kill through the static relay too.
    sid = p.match.group(1)
    ls = subprocess.run(
        [limpet_bin, "ls", "--server-path", static_bin, "-F",
         lab.ssh_config, sshlab.HOST], capture_output=True, text=True,
        timeout=20, env=dict(os.environ, **sshlab.san_options(
            os.path.join(lab.basedir, "client"))))
    assert ls.returncode == 0 and sid in ls.stdout, ls
    end_session(p, lab)


# -- completions ---------------------------------------------------------

BASH_SCRIPT = r"""
source "$1"
complete -p limpet
t() {
	COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
	_limpet limpet "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
	echo "[$*] -> ${COMPREPLY[*]} <-"
}
t limpet --kee
t limpet ''
t limpet --dead 3 -p 22 j
t limpet -R 1:h:2 --ring-size 4M -S /s --status x d
t limpet doctor --probe-n
t limpet kill --a
t limpet web ''
t limpet --pre
t limpet --ser
t limpet --predict a
t limpet --server-dir /tmp/d --predict never j
t limpet --server-path /x --verbose at
t limpet --server-path /x doctor --probe-n
t limpet --server-path=/x kill --a
t limpet -p 22 at
exit
"""


@pytest.mark.no_limpet
def test_bash_completion(run):
    home = fake_home(run)
    script = os.path.join(run.workdir, "t.bash")
    with open(script, "w") as f:
        f.write(BASH_SCRIPT)
    r = subprocess.run(
        ["bash", "--norc", "--noediting", "-i", "-s",
         os.path.join(COMPLETIONS, "limpet.bash")],
        stdin=open(script), capture_output=True, text=True, timeout=30,
        env={"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin"),
             "TERM": "dumb", "PS1": "", "PS2": ""})
    # An interactive bash without a terminal warns about job control and
    # says exit; anything else on stderr is the completion's fault.
    errs = [ln for ln in r.stderr.splitlines()
            if ln.strip() and "job control" not in ln and
            "terminal process group" not in ln and ln != "exit"]
    assert errs == [], r.stderr
    out = r.stdout
    assert "complete -F _limpet limpet" in out, out
    assert "[limpet --kee] -> --keepalive <-" in out, out
    hosts = out.split("[limpet ] -> ")[1].split(" <-")[0].split()
    assert set(hosts) == {"web", "db.example", "jumpbox", "ls", "attach",
                          "kill", "doctor", "new"}, out
    assert "[limpet --dead 3 -p 22 j] -> jumpbox <-" in out, out
    # Arguments of ssh's and limpet's options are not destinations.
    assert ("[limpet -R 1:h:2 --ring-size 4M -S /s --status x d] -> "
            "db.example <-") in out, out
    assert "[limpet doctor --probe-n] -> --probe-nat <-" in out, out
    assert "[limpet kill --a] -> --all <-" in out, out
    assert "[limpet web ] ->  <-" in out, out
    assert "[limpet --pre] -> --predict <-" in out, out
    assert "[limpet --ser] -> --server-path --server-dir <-" in out, out
    assert "[limpet --predict a] -> adaptive always <-" in out, out
    # --server-dir's and --predict's values are not the destination.
    assert ("[limpet --server-dir /tmp/d --predict never j] -> jumpbox <-"
            in out), out
    # The subcommand is found after limpet's own options (an alias).
    assert "[limpet --server-path /x --verbose at] -> attach <-" in out, out
    assert ("[limpet --server-path /x doctor --probe-n] -> --probe-nat <-"
            in out), out
    assert "[limpet --server-path=/x kill --a] -> --all <-" in out, out
    # After an ssh option it is a destination, not a subcommand.
    assert "[limpet -p 22 at] ->  <-" in out, out


@pytest.mark.no_limpet
def test_zsh_completion(run):
    if shutil.which("zsh") is None:
        missing("zsh not installed")
    home = fake_home(run)
    env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin"),
           "TERM": "dumb"}
    comp = os.path.join(COMPLETIONS, "_limpet")
    r = subprocess.run(
        ["zsh", "-f", "-c", "autoload -U compinit; compinit -u; "
         "source %s; print -r -- ${_comps[limpet]}" % comp],
        capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 0 and r.stderr == "", r
    assert r.stdout.strip() == "_limpet", r
    # Completion for real: an interactive zsh, autoloading from $fpath.
    z = pexpect.spawn("zsh", ["-f", "-i"], env=env, encoding="utf-8",
                      timeout=10, dimensions=(24, 200))
    run.children.append(z)
    z.sendline("PS1='zp> '; fpath=(%s $fpath); autoload -U compinit; "
               "compinit -u; echo lo''aded" % COMPLETIONS)
    z.expect("loaded")
    z.sendline("")
    z.expect("zp> ")
    z.send("limpet --kee\t")
    z.expect("--keepalive")
    z.send("\x15")
    z.send("limpet -R 1:h:2 --give-up 9 jum\t")
    z.expect("jumpbox")
    z.send("\x15")
    z.send("limpet --server-dir /tmp/d --predict al\t")
    z.expect("always")
    z.send("\x15")
    z.send("limpet --server-dir /tmp/d --pre\t")
    z.expect("--predict")
    z.send("\x15")
    z.send("limpet --server-path /x doctor --probe-n\t")
    z.expect("--probe-nat")
    z.send("\x15exit\r")
    z.expect(pexpect.EOF)


@pytest.mark.no_limpet
def test_fish_completion(run):
    if shutil.which("fish") is None:
        missing("fish not installed (apt-get install fish)")
    home = fake_home(run)
    comp = os.path.join(COMPLETIONS, "limpet.fish")
    r = subprocess.run(["fish", "-n", comp], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stderr == "", r
    r = subprocess.run(
        ["fish", "--no-config", "-c",
         "source %s; complete -C 'limpet --kee'; echo ==; "
         "complete -C 'limpet -p 22 j'; echo ==; "
         "complete -C 'limpet doctor --probe-n'; echo ==; "
         "complete -C 'limpet --pred'; echo ==; "
         "complete -C 'limpet --server-dir /tmp --predict al'; echo ==; "
         "complete -C 'limpet --server-path /x doc'" % comp],
        capture_output=True, text=True, timeout=30,
        env={"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin"),
             "XDG_CONFIG_HOME": os.path.join(home, ".config"),
             "XDG_DATA_HOME": os.path.join(home, ".local", "share")})
    assert r.returncode == 0, r
    parts = [[ln.split("\t")[0] for ln in part.strip().splitlines()]
             for part in r.stdout.split("==")]
    assert parts == [["--keepalive"], ["jumpbox"], ["--probe-nat"],
                     ["--predict"], ["always"], ["doctor"]], r


# -- make install / uninstall --------------------------------------------

INSTALLED = ["usr/bin/limpet", "usr/share/man/man1/limpet.1",
             "usr/share/bash-completion/completions/limpet",
             "usr/share/zsh/vendor-completions/_limpet",
             "usr/share/fish/vendor_completions.d/limpet.fish"]
# With musl-gcc, make install (and so the .deb) also ships the static
# server binary that --install uploads.
SERVER_BIN = "usr/lib/limpet/limpet-%s-%s" % (os.uname().sysname.lower(),
                                              os.uname().machine.lower())
if shutil.which("musl-gcc") is not None or IN_CI:
    INSTALLED.append(SERVER_BIN)


def files_under(root):
    """Every non-directory under root, relative to it."""
    out = []
    for d, _, files in os.walk(root):
        out += [os.path.relpath(os.path.join(d, f), root) for f in files]
    return sorted(out)


@pytest.mark.no_limpet
@pytest.mark.timeout(300)
def test_make_install_and_uninstall(run):
    dest = os.path.join(run.workdir, "root")
    make("install", "PREFIX=/usr", "DESTDIR=" + dest)
    assert files_under(dest) == sorted(INSTALLED)
    assert os.access(os.path.join(dest, "usr/bin/limpet"), os.X_OK)
    make("uninstall", "PREFIX=/usr", "DESTDIR=" + dest)
    assert files_under(dest) == []


# -- the Debian package --------------------------------------------------

def dpkg_allowed():
    """True where dpkg -i on this machine is allowed (see the top)."""
    return os.geteuid() == 0 and (
        IN_CI or os.environ.get("LIMPET_TEST_DPKG") == "1")


@pytest.fixture(scope="module")
def deb():
    """build/deb/limpet_*.deb, built now with make deb."""
    for tool in ("dpkg-buildpackage", "dh"):
        if shutil.which(tool) is None:
            missing("make deb needs %s (apt-get install dpkg-dev "
                    "debhelper)" % tool)
    make("deb", timeout=600)
    debs = [f for f in os.listdir(DEBDIR)
            if f.startswith("limpet_") and f.endswith(".deb")]
    assert len(debs) == 1, debs
    # debian/changelog and the Makefile's VERSION must agree.
    with open(os.path.join(REPO, "Makefile")) as f:
        version = [ln.split(":=")[1].strip() for ln in f
                   if ln.startswith("VERSION")][0]
    assert debs[0].startswith("limpet_%s_" % version), (debs, version)
    # Nothing may land beside the work tree.
    parent = os.path.dirname(REPO)
    assert not [f for f in os.listdir(parent)
                if f.startswith("limpet_")], os.listdir(parent)
    return os.path.join(DEBDIR, debs[0])


@pytest.mark.no_limpet
@pytest.mark.timeout(300)
def test_deb_passes_lintian(deb):
    if shutil.which("lintian") is None:
        missing("lintian not installed (apt-get install lintian)")
    r = subprocess.run(["lintian", "--pedantic", "-I", deb],
                       capture_output=True, text=True, timeout=120)
    tags = [ln for ln in (r.stdout + r.stderr).splitlines()
            if ln[:2] in ("E:", "W:", "I:", "P:", "X:")]
    assert r.returncode == 0 and tags == [], r.stdout + r.stderr


@pytest.fixture
def installed_deb(request):
    """The package installed with dpkg -i; removed again at teardown."""
    if not dpkg_allowed():
        pytest.skip("dpkg -i installs on this machine: runs only as root "
                    "with CI=true or LIMPET_TEST_DPKG=1")
    deb = request.getfixturevalue("deb")
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "limpet"],
                       capture_output=True, text=True)
    if "installed" in r.stdout and "not-installed" not in r.stdout:
        pytest.skip("a limpet package is already installed: not touching "
                    "it")
    r = subprocess.run(["dpkg", "-i", deb], capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        listed = subprocess.run(["dpkg", "-L", "limpet"], check=True,
                                capture_output=True,
                                text=True).stdout.split()
        files = [f for f in listed if not os.path.isdir(f)]
        yield files
    finally:
        subprocess.run(["dpkg", "-r", "limpet"], capture_output=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    left = [f for f in files if os.path.lexists(f)]
    assert left == [], "dpkg -r left %s" % left


@pytest.mark.timeout(300)
def test_deb_installs_runs_and_removes(installed_deb, spawn, lab):
    files = installed_deb
    for f in INSTALLED:
        assert "/" + f + (".gz" if f.endswith(".1") else "") in files, files
    r = subprocess.run(["/usr/bin/limpet", "--version"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("limpet "), r
    # The installed binary as client and as server.
    p = start_session(spawn, lab.limpet_cmd(bin="/usr/bin/limpet"))
    assert daemon_exes(lab) == {"/usr/bin/limpet"}
    end_session(p, lab)
