"""Fixtures for limpet's end-to-end tests.

Every test gets a short private directory (Unix socket paths are limited
to 108 bytes), an SshLab in it on request, and a spawn() helper for
processes on a real PTY.  At teardown every process the test started is
ended by pid, every lab is cleaned up, and the test fails if a sanitizer
report (client or server side) appeared.

Outside CI, a missing sshd or limpet binary skips the tests with one line;
in CI (CI=true) it is a failure.
"""

import os
import shutil
import sys
import tempfile

import pexpect
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sshlab  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_TIMEOUT = int(os.environ.get("LIMPET_TEST_TIMEOUT", "90"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "no_limpet: the test does not need the limpet binary")


def pytest_collection_modifyitems(config, items):
    # Bound every test so a hang cannot eat the suite's time budget.
    if config.pluginmanager.hasplugin("timeout"):
        for item in items:
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Remember each phase's outcome so teardown can show logs on failure.
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def missing(reason):
    """Skip with one line, or fail in CI where nothing may be missing."""
    if IN_CI:
        pytest.fail(reason + " (CI=true: required)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def limpet_bin():
    """Absolute path of the limpet binary under test."""
    path = os.path.abspath(sshlab.default_bin())
    if not os.access(path, os.X_OK):
        missing("no limpet binary at %s (make san)" % path)
    return path


@pytest.fixture(scope="session")
def sshd_path():
    """Absolute path of sshd."""
    path = sshlab.find_sshd()
    if path is None:
        missing("sshd not found (apt-get install openssh-server)")
    return path


@pytest.fixture(autouse=True)
def _need_limpet(request):
    if request.node.get_closest_marker("no_limpet") is None:
        request.getfixturevalue("limpet_bin")


class TestRun:
    """What one test started: its directory, labs and spawned children."""

    __test__ = False

    def __init__(self, workdir):
        self.workdir = workdir
        self.labs = []
        self.children = []
        self.san_prefix = os.path.join(workdir, "client")

    def env(self, extra=None):
        """A sane environment for a client process."""
        env = {
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "HOME": os.environ.get("HOME") or os.path.expanduser("~"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "USER": sshlab.getpass.getuser(),
            "LOGNAME": sshlab.getpass.getuser(),
        }
        env.update(sshlab.san_options(self.san_prefix))
        if extra:
            env.update(extra)
        return env

    def end_children(self):
        for child in self.children:
            pids = [child.pid] + sshlab.descendants(child.pid)
            sshlab.end_pids(pids, grace=1.0)
            try:
                child.close(force=True)
            except Exception:
                pass
        self.children = []


@pytest.fixture
def run(request):
    """The per-test bookkeeping; tears everything down in a safe order."""
    workdir = tempfile.mkdtemp(prefix="lp", dir="/tmp")
    os.chmod(workdir, 0o700)
    tr = TestRun(workdir)
    yield tr
    tr.end_children()
    reports = []
    for lab in tr.labs:
        got = lab.cleanup()
        if lab.basedir != workdir:
            reports += got
    reports += sshlab.san_reports(workdir)
    failed = any(getattr(request.node, "rep_" + w, None) is not None and
                 getattr(request.node, "rep_" + w).failed
                 for w in ("setup", "call"))
    if reports or failed:
        for lab in tr.labs:
            print("---- sshd log (%s) ----" % lab.log)
            print(lab.log_text()[-6000:])
            if lab.server_log_text():
                print("---- limpet server log (%s) ----" % lab.server_log)
                print(lab.server_log_text()[-10000:])
    for path, text in reports:
        print("---- sanitizer report %s ----" % path)
        print(text)
    if os.environ.get("LIMPET_KEEP"):
        print("kept %s" % workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if reports:
        pytest.fail("sanitizer reports: %s" %
                    ", ".join(os.path.basename(p) for p, _ in reports),
                    pytrace=False)


@pytest.fixture
def make_lab(run, sshd_path):
    """Make another SshLab (e.g. in a namespace); cleaned up at teardown."""
    count = [0]

    def make(**kw):
        count[0] += 1
        basedir = kw.pop("basedir", None) or (
            run.workdir if count[0] == 1 else
            os.path.join(run.workdir, "lab%d" % count[0]))
        lab = sshlab.SshLab(basedir, start=False, **kw)
        run.labs.append(lab)
        lab.start()
        return lab
    return make


@pytest.fixture
def lab(make_lab):
    """A fresh SshLab listening on loopback."""
    return make_lab()


@pytest.fixture
def proxy_lab(make_lab):
    """A fresh SshLab reached through ProxyCommand sshd -i."""
    return make_lab(proxy=True)


@pytest.fixture
def spawn(run):
    """spawn(argv, rows=24, cols=80, env=None, netns=None, **kw).

    Returns a pexpect.spawn on a fresh PTY of the given size.  env adds
    to (or, with a None value, removes from) the default environment;
    netns runs the process with `ip netns exec`.  Extra keywords go to
    pexpect (timeout defaults to 10 s, encoding to UTF-8; pass
    encoding=None for bytes).
    """
    def do_spawn(argv, rows=24, cols=80, env=None, netns=None, **kw):
        e = run.env()
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        argv = [str(a) for a in argv]
        if netns is not None:
            argv = ["ip", "netns", "exec", netns] + argv
        kw.setdefault("timeout", 10)
        kw.setdefault("encoding", "utf-8")
        if kw["encoding"] is not None:
            kw.setdefault("codec_errors", "replace")
        child = pexpect.spawn(argv[0], argv[1:], env=e,
                              dimensions=(rows, cols), **kw)
        run.children.append(child)
        return child
    return do_spawn
