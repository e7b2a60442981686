"""The "no contact" notice: shown while the link is down, and gone without
a trace afterwards.  A real terminal emulator (tmux) holds the screen, so
the test compares what a user would see before, during and after.
"""

import os
import shutil
import signal
import subprocess
import time

import pytest

import sshlab

ROWS, COLS = 12, 80


class Tmux:
    """A private tmux server running one command in one pane."""

    def __init__(self, workdir, argv, env):
        self.sock = os.path.join(workdir, "tmux.sock")
        self.env = dict(os.environ, **env)
        self.env.pop("TMUX", None)
        self.tmux(["new-session", "-d", "-s", "t", "-x", str(COLS), "-y",
                   str(ROWS), " ".join(argv)])
        out = self.tmux(["display-message", "-p", "-t", "t",
                         "#{pid} #{pane_pid}"])
        self.server_pid, self.pane_pid = map(int, out.split())

    def tmux(self, args):
        return subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null"]
                              + args, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def keys(self, *keys):
        self.tmux(["send-keys", "-t", "t"] + list(keys))

    def screen(self):
        return self.tmux(["capture-pane", "-p", "-t", "t"])

    def wait(self, pred, timeout=20, what="screen"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.1)
        raise AssertionError("timed out waiting for %s; screen:\n%s" %
                             (what, self.screen()))

    def close(self):
        pids = [self.server_pid] + sshlab.descendants(self.server_pid)
        sshlab.end_pids(pids, grace=1.0)


@pytest.fixture
def tmux_run(run):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    made = []

    def start(argv, env):
        t = Tmux(run.workdir, argv, dict(run.env(), **env))
        made.append(t)
        return t
    yield start
    for t in made:
        t.close()


def ssh_of(t):
    """The ssh the limpet client in pane t runs now."""
    pids = sshlab.ssh_pids(t.pane_pid)
    return pids[0] if pids else None


def outage(t, lab):
    """Freeze the link and keep sshd away until the notice shows."""
    lab.stop()
    os.kill(ssh_of(t), signal.SIGSTOP)
    return t.wait(lambda s: "no contact with" in s, what="the notice")


def recover(t, lab):
    lab.start()
    return t.wait(lambda s: "no contact" not in s, what="recovery")


@pytest.mark.parametrize("where", ["bottom", "top"])
def test_notice_leaves_the_screen_as_it_was(tmux_run, lab, where):
    t = tmux_run(lab.limpet_cmd(opts=["--keepalive", "2", "--dead", "2"]),
                 {"TERM": "screen"})
    t.keys("echo rea''dy", "Enter")
    t.wait(lambda s: "\nready" in s, what="the shell")
    if where == "bottom":
        for i in range(ROWS + 2):
            t.keys("echo line-%d" % i, "Enter")
        t.wait(lambda s: "line-%d\n" % (ROWS + 1) in s, what="the lines")
    else:
        t.keys("clear", "Enter")
        t.keys("echo top-line", "Enter")
        t.wait(lambda s: s.startswith("top-line") or "\ntop-line" in s,
               what="the cleared screen")
    t.keys("echo half-typed")
    before = t.wait(lambda s: "half-typed" in s, what="the typing")
    time.sleep(0.5)
    before = t.screen()
    during = outage(t, lab)
    # The notice is one line; everything else is untouched.
    changed = [i for i, (a, b) in enumerate(zip(before.split("\n"),
                                                during.split("\n")))
               if a != b]
    assert len(changed) == 1, (before, during)
    after = recover(t, lab)
    time.sleep(0.5)
    after = t.screen()
    assert after == before
    # And the session works: the half-typed line completes.
    t.keys("_done", "Enter")
    t.wait(lambda s: "\nhalf-typed_done" in s, what="the command")
