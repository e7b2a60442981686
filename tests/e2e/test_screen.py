"""The screen model: a client that attaches (a takeover from another
terminal) sees exactly the screen the first one showed, cells, colours,
cursor and modes, with the lines that scrolled off in its own scrollback;
leaving puts the local terminal back.  Two private tmux servers are the two
users' terminals; capture-pane -e reads cells with their attributes.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import time

import pytest

import sshlab

ROWS, COLS = 24, 80
FLAGS = ("#{alternate_on} #{keypad_flag} #{keypad_cursor_flag} "
         "#{cursor_flag} #{mouse_any_flag} #{mouse_sgr_flag} "
         "#{scroll_region_upper},#{scroll_region_lower} #{cursor_x} "
         "#{cursor_y} #{pane_title}")
# A terminal as it starts: main screen, no keypad or cursor-key mode,
# cursor shown, no mouse, the whole screen scrolls.
DEFAULT = ["0", "0", "0", "1", "0", "0", "0,%d" % (ROWS - 1)]


class Term:
    """A private tmux server running one command in one pane."""

    def __init__(self, workdir, name, argv, env, history=None):
        self.sock = os.path.join(workdir, "tmux-%s.sock" % name)
        self.env = dict(os.environ, **env)
        self.env.pop("TMUX", None)
        conf = os.path.join(workdir, "tmux-%s.conf" % name)
        with open(conf, "w") as f:
            if history:
                f.write("set -g history-limit %d\n" % history)
        self.conf = conf
        self.tmux(["new-session", "-d", "-s", "t", "-x", str(COLS), "-y",
                   str(ROWS), " ".join(shlex.quote(a) for a in argv)])
        out = self.tmux(["display-message", "-p", "-t", "t",
                         "#{pid} #{pane_pid}"])
        self.server_pid, self.pane_pid = map(int, out.split())

    def tmux(self, args):
        return subprocess.run(["tmux", "-S", self.sock, "-f", self.conf]
                              + args, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def keys(self, *keys):
        self.tmux(["send-keys", "-t", "t"] + list(keys))

    def screen(self, attrs=False):
        return self.tmux(["capture-pane", "-p", "-N"] +
                         (["-e"] if attrs else []) + ["-t", "t"])

    def history(self):
        return self.tmux(["capture-pane", "-p", "-S", "-", "-E", "-1",
                          "-t", "t"])

    def flags(self):
        return self.tmux(["display-message", "-p", "-t", "t", FLAGS])

    def wait(self, pred, timeout=20, what="screen"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s; screen:\n%s" %
                             (what, self.screen()))

    def close(self):
        pids = [self.server_pid] + sshlab.descendants(self.server_pid)
        sshlab.end_pids(pids, grace=1.0)


@pytest.fixture
def term(run):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    made = []

    def start(name, argv, env=None, history=None):
        t = Term(run.workdir, name, argv,
                 dict(run.env(), TERM="screen", **(env or {})), history)
        made.append(t)
        return t
    yield start
    for t in made:
        t.close()


def pane_script(run, name, argv, after="sleep 300"):
    """A shell script for a pane: limpet, then a marker, then a wait."""
    path = os.path.join(run.workdir, name + ".sh")
    with open(path, "w") as f:
        f.write("%s\necho LIMPET-EX''ITED\n%s\n" %
                (" ".join(shlex.quote(a) for a in argv), after))
    return ["sh", path]


def cells(screen):
    """A captured screen with trailing blanks cut from each line: terminals
    disagree about erasing (EL) at the last column with a wrap pending
    (tmux keeps the cell, xterm and libvterm clear it)."""
    return [line.rstrip(" ") for line in screen.split("\n")]


def modes(flags):
    """The modes and the cursor; a hidden cursor's column is left out (a
    program that last wrote the bottom-right cell leaves it past the edge
    in tmux, on the edge in libvterm: a state no sequence can set)."""
    f = flags.split(" ")
    if f[3] == "0":
        f[7] = "-"
    return f


def session_id(lab):
    """The id of the lab's one session."""
    deadline = time.monotonic() + 10
    while True:
        ids = [f[:-5] for f in os.listdir(lab.sessions)
               if f.endswith(".sock")] if os.path.isdir(lab.sessions) else []
        if ids:
            assert len(ids) == 1, ids
            return ids[0]
        assert time.monotonic() < deadline, "no session"
        time.sleep(0.05)


def settle(t, pred, what, quiet=0.3, timeout=20):
    """Wait for pred on the screen, then until it stops changing; return
    the screen (with attributes) and flags that held still, so that a
    reference is never a capture taken in the middle of a redraw."""
    t.wait(pred, timeout=timeout, what=what)
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = (t.screen(attrs=True), t.flags())
        text = re.sub(r"\x1b\[[0-9;:]*m", "", s[0])
        if s != last or not pred(text):
            last, since = s, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return s
        time.sleep(0.05)
    raise AssertionError("the screen never settled: " + what)


ALT_MOUSE = r"""
import os, sys, time
out = "\033]2;ALT-TITLE\007\033[?1049h\033[?1002h\033[?1006h\033[?2004h"
out += "\033[?1h\033=\033[2J"
for i in range(1, 21):
    out += "\033[%d;%dH\033[3%d;4%dm row %d \033[0m" % (i, i * 2, i % 8,
                                                      (i + 3) % 8, i)
out += "\033[1;4;38;5;202m\033[22;5HALT-MOUSE-READY\033[0m\033[7;9H"
os.write(1, out.encode())
time.sleep(300)
"""

VIM_FILE = """#include <stdio.h>

/* A comment, in colour. */
int
main(void)
{
	printf("hello, world\\n");	/* a string */
	return 0;
}
"""


UTF8_SPLIT = r"""
import sys, time
out = sys.stdout.buffer
for piece in (b"caf\xc3", b"\xa9 \xe4\xb8", b"\xad\xe6", b"\x96\x87 ok",
              b" UTF8-READY\n"):
    out.write(piece)
    out.flush()
    time.sleep(0.2)
time.sleep(300)
"""


def program(run, kind):
    """The session's command and what shows it is ready."""
    if kind == "alt-mouse":
        path = os.path.join(run.workdir, "alt.py")
        with open(path, "w") as f:
            f.write(ALT_MOUSE)
        return "python3 %s" % path, "ALT-MOUSE-READY"
    if kind == "vim":
        path = os.path.join(run.workdir, "hello.c")
        with open(path, "w") as f:
            f.write(VIM_FILE)
        return ("vim -u NONE -i NONE -N -n -c 'syntax on' -c 'set hlsearch' "
                "-c 'vsplit' -c 'split' -c '/printf' %s" % path,
                "hello.c")
    if kind == "less":
        path = os.path.join(run.workdir, "text")
        with open(path, "w") as f:
            for i in range(200):
                f.write("less line %d \033[1mbold\033[0m\n" % i)
        return "less -R +20 %s" % path, "less line 40"
    if kind == "top":
        return "top -d 100", "PID"
    if kind == "utf8-split":
        # Characters cut between two writes (so between two reads of the
        # PTY): libvterm alone turned each into U+FFFD in the model.
        path = os.path.join(run.workdir, "split.py")
        with open(path, "w") as f:
            f.write(UTF8_SPLIT)
        return "python3 %s" % path, "UTF8-READY"
    if kind == "bash":
        return ("bash --norc --noprofile -i", None)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["bash", "vim", "less", "top",
                                  "alt-mouse", "utf8-split"])
def test_takeover_shows_the_same_screen(term, lab, run, kind):
    """A second client that attaches (taking the session over) shows the
    first client's screen: the same cells with the same attributes, the
    same cursor and modes."""
    cmd, ready = program(run, kind)
    a = term("a", pane_script(run, "a", lab.limpet_cmd(args=[cmd])))
    if kind == "bash":
        a.wait(lambda s: "bash" in s, what="the prompt")
        a.keys("printf '\\033[31;1mRED\\033[0m \\033[44mBLUE\\033[0m\\n';"
               " seq 1 30; printf 'PROMPT-''MARK '", "Enter")
        ready = "PROMPT-MARK"
    want, want_flags = settle(a, lambda s: ready in s,
                              "the program in the first client")
    b = term("b", pane_script(run, "b", lab.limpet_cmd(
        sub="attach", args=[session_id(lab)])))
    a.wait(lambda s: "LIMPET-EXITED" in s, what="the first client to go")
    b.wait(lambda s: "attached to session" in s, what="the attach notice")
    settle(b, lambda s: "attached to session" not in s,
           "the notice to go", timeout=10)
    assert cells(b.screen(attrs=True)) == cells(want)
    assert modes(b.flags()) == modes(want_flags)
    if kind == "utf8-split":
        assert "caf\u00e9 \u4e2d\u6587 ok" in b.screen(), b.screen()
    # The first client, taken over, put its terminal back.
    assert a.flags().split(" ")[:7] == DEFAULT


NUMBERED = """
while [ ! -e %(go)s ]; do sleep 0.05; done
seq -f 'numbered %%05g' 1 %(n)d
echo 'ALL-''PRINTED'
touch %(done)s
sleep 300
"""


def test_scrollback_after_attach(term, lab, run):
    """5,000 numbered lines printed while no client is attached: the new
    client's terminal holds every one in its scrollback and screen, in
    order, once."""
    go = os.path.join(run.workdir, "go")
    done = os.path.join(run.workdir, "done")
    script = os.path.join(run.workdir, "numbered.sh")
    with open(script, "w") as f:
        f.write(NUMBERED % {"go": go, "done": done, "n": 5000})
    a = term("a", pane_script(run, "a", lab.limpet_cmd(
        args=["sh %s" % script])))
    sid = session_id(lab)
    time.sleep(0.5)
    a.keys("Enter", "~.")
    a.wait(lambda s: "reattach with" in s, what="the detach")
    open(go, "w").close()
    deadline = time.monotonic() + 20
    while not os.path.exists(done):
        assert time.monotonic() < deadline, "the lines were never printed"
        time.sleep(0.05)
    b = term("b", pane_script(run, "b", lab.limpet_cmd(
        sub="attach", args=[sid])), history=20000)
    b.wait(lambda s: "ALL-PRINTED" in s and "attached to session" not in s,
           what="the attach")
    lines = [x for x in (b.history() + b.screen()).split("\n")
             if x.startswith("numbered ")]
    assert lines == ["numbered %05d" % i for i in range(1, 5001)]


@pytest.mark.parametrize("how", ["direct", "after-attach"])
def test_detach_from_vim_restores_the_terminal(term, lab, run, how):
    """~. from inside vim (alternate screen, keypad and cursor-key modes)
    puts the local terminal back: normal screen, keypad off, cursor shown;
    also when the client learnt the modes from a snapshot, not from the
    program's own output."""
    path = os.path.join(run.workdir, "file.txt")
    with open(path, "w") as f:
        f.write("VIM-FILE-TEXT\n")
    cmd = "vim -u NONE -i NONE -N -n %s" % path
    a = term("a", pane_script(run, "a", lab.limpet_cmd(args=[cmd])))
    settle(a, lambda s: "VIM-FILE-TEXT" in s, "vim")
    t = a
    if how == "after-attach":
        t = term("b", pane_script(run, "b", lab.limpet_cmd(
            sub="attach", args=[session_id(lab)])))
        a.wait(lambda s: "LIMPET-EXITED" in s, what="the takeover")
        settle(t, lambda s: "VIM-FILE-TEXT" in s and
               "attached to session" not in s, "vim after the attach")
    assert t.flags().split(" ")[:4] == ["1", "1", "1", "1"]
    t.keys("Enter", "~.")
    s = t.wait(lambda s: "LIMPET-EXITED" in s, what="the detach")
    assert t.flags().split(" ")[:7] == DEFAULT
    assert "VIM-FILE-TEXT" not in s


def daemon_rss_kb(lab):
    for pid in lab.session_pids():
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    return None


def same_within(t, want, rows, timeout=20):
    """Seconds until t's first rows lines equal want's."""
    def norm(lines):
        return [x.expandtabs(8).rstrip() for x in lines[:rows]]
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if norm(t.screen().split("\n")) == norm(want):
            return time.monotonic() - t0
        time.sleep(0.005)
    raise AssertionError("never the same:\n%s" % t.screen())


@pytest.mark.skipif(not os.environ.get("LIMPET_MEASURE"),
                    reason="a measurement: LIMPET_MEASURE=1 runs it")
def test_measure(term, lab, run, tmp_path):
    """Not a test: prints the daemon's idle RSS with the model on and off
    and the attach repaint time of limpet and of tmux over ssh (vim with
    a split, 80x24; from starting the command in a fresh terminal until
    its screen shows the session's).  LIMPET_BIN should be the optimised
    build."""
    binary = sshlab.default_bin()
    off = str(tmp_path / "limpet-off")
    with open(off, "w") as f:
        f.write("#!/bin/sh\nLIMPET_SCREEN=off exec %s \"$@\"\n" % binary)
    os.chmod(off, 0o755)
    for label, b in (("on", binary), ("off", off)):
        a = term("rss" + label, lab.limpet_cmd(
            bin=b, args=["bash --norc --noprofile -i"]))
        a.wait(lambda s: "bash" in s, what="the shell")
        a.keys("ls -l /; printf '\\033[31mcolour\\033[0m\\n'", "Enter")
        time.sleep(2)
        print("\nMEASURE daemon RSS, idle bash at 80x24, model %s: %s kB" %
              (label, daemon_rss_kb(lab)))
        a.close()
        for pid in lab.session_pids():
            os.kill(pid, 15)
        time.sleep(1)
    path = os.path.join(run.workdir, "hello.c")
    with open(path, "w") as f:
        f.write(VIM_FILE * 3)
    vim = "vim -u NONE -i NONE -N -n -c 'syntax on' -c vsplit %s" % path
    a = term("la", lab.limpet_cmd(args=[vim]))
    a.wait(lambda s: "hello.c" in s, what="vim")
    time.sleep(1)
    lt = []
    for i in range(5):
        want = a.screen().split("\n")
        b = term("lb%d" % i, lab.limpet_cmd(sub="attach",
                                            args=[session_id(lab)]))
        lt.append(same_within(b, want, ROWS - 1))
        time.sleep(0.5)
        a.close()
        a = b
    sock = os.path.join(run.workdir, "inner.sock")
    conf = os.path.join(run.workdir, "inner.conf")
    with open(conf, "w") as f:
        f.write("set -g status off\n")
    subprocess.run(["tmux", "-S", sock, "-f", conf, "new-session", "-d",
                    "-x", str(COLS), "-y", str(ROWS), vim], check=True,
                   env=dict(os.environ, TERM="screen"))
    try:
        time.sleep(1)
        want = subprocess.run(["tmux", "-S", sock, "capture-pane", "-p"],
                              capture_output=True, text=True).stdout
        tt = []
        for i in range(5):
            b = term("tb%d" % i, ["ssh", "-F", lab.ssh_config, "-t",
                                  sshlab.HOST, "tmux -S %s -f %s attach" %
                                  (shlex.quote(sock), shlex.quote(conf))])
            tt.append(same_within(b, want.split("\n"), ROWS - 1))
            b.close()
            time.sleep(0.5)
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"])
    med = sorted(lt)[2], sorted(tt)[2]
    print("MEASURE attach repaint, vim with a split, 80x24, loopback: "
          "limpet median %.0f ms (%s); tmux over ssh median %.0f ms (%s)" %
          (med[0] * 1000, " ".join("%.0f" % (x * 1000) for x in lt),
           med[1] * 1000, " ".join("%.0f" % (x * 1000) for x in tt)))


RING_WRAP = r"""
import os, sys, time
go, done = sys.argv[1], sys.argv[2]
os.write(1, b"READY-TO-FLOOD\n")
while not os.path.exists(go):
    time.sleep(0.02)
# What only the daemon's model still knows when the flood is over: a
# title, modes and a header above a scroll region, all far out of the ring.
out = "\033]2;WRAP-TITLE\007\033[?1h\033=\033[2J\033[1;1H"
out += "\033[1;33;41mHEADER-LOST-TO-THE-RING\033[0m\033[3;24r\033[24;1H"
lines = ["\033[3%dmline %05d\033[0m %s\n" % (i % 8, i, "x" * (i % 50))
         for i in range(2000)]
os.write(1, out.encode())
# Paced so that the model keeps up (a flood bigger than the ring before
# the model has read it makes the older screen unknown, by design).
for i in range(0, len(lines), 100):
    os.write(1, "".join(lines[i:i + 100]).encode())
    time.sleep(0.02)
out = "\033[5;10H\033[1;44m BOX \033[0m\033[7;3H\033[4mUNDER"
out += "\033[0m\033[?25l\033[12;40HWRAP-DONE\033[2;2H"
os.write(1, out.encode())
open(done, "w").close()
time.sleep(300)
"""


def test_repaint_after_the_ring_wrapped(term, make_lab, run):
    """The link is cut while the program writes twice the ring: the
    client's last output is older than anything the daemon still holds.
    On the reconnect the client says how much was lost and shows the
    session's screen as it is (cells, colours, cursor, modes), the same
    as a terminal that ran the program itself.  The header, title and
    modes were written long before what the ring still holds: without the
    model (LIMPET_SCREEN=off) the header is missing."""
    lab = make_lab(env={"LIMPET_TEST_HOLD_MS": "300"})
    script = os.path.join(run.workdir, "wrap.py")
    with open(script, "w") as f:
        f.write(RING_WRAP)
    go, done = (os.path.join(run.workdir, n) for n in ("go", "done"))
    a = term("a", pane_script(run, "a", lab.limpet_cmd(
        opts=["--ring-size", "64K", "--dead", "60"],
        args=["python3 %s %s %s" % (script, go, done)])))
    a.wait(lambda s: "READY-TO-FLOOD" in s, what="the program")
    ssh = sshlab.ssh_pids(a.pane_pid)
    assert len(ssh) == 1, ssh
    os.kill(ssh[0], signal.SIGSTOP)     # no reconnect while it is stopped
    relays = []
    for pid in sshlab.descendants(lab.pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read().split(b"\0")[1:2] == [b"relay"]:
                    relays.append(pid)
        except OSError:
            pass
    assert relays, "no relay under sshd"
    for pid in relays:
        os.kill(pid, signal.SIGKILL)    # the daemon sees the client go
    open(go, "w").close()
    deadline = time.monotonic() + 20
    while not os.path.exists(done):
        assert time.monotonic() < deadline, "the ring never wrapped"
        time.sleep(0.05)
    os.kill(ssh[0], signal.SIGKILL)
    a.wait(lambda s: "WRAP-DONE" in s, what="the repaint")
    settle(a, lambda s: "HEADER-LOST" in s and "limpet:" not in s,
           "the repaint to settle")
    # The same program in a terminal of its own (go is there already).
    r = term("r", ["python3", script, go, os.path.join(run.workdir, "d2")])
    settle(r, lambda s: "WRAP-DONE" in s, "the reference terminal")
    assert cells(a.screen(attrs=True)) == cells(r.screen(attrs=True))
    assert modes(a.flags()) == modes(r.flags())
    # The client said that output was lost, and how much.
    assert re.search(r"\d+ bytes of output were lost", a.history())


def kill_client(t):
    """SIGKILL the limpet client in t's pane and its ssh: the session is
    left detached at once, with no goodbye."""
    for pid in sshlab.descendants(t.pane_pid):
        try:
            with open("/proc/%d/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in ("limpet", "ssh"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def wait_log(lab, text, count=1, timeout=20):
    """Wait until the server's limpet log holds text count times."""
    deadline = time.monotonic() + timeout
    while lab.server_log_text().count(text) < count:
        assert time.monotonic() < deadline, "never logged: " + text
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["bash", "vim", "alt-mouse"])
def test_attach_after_the_model_slept(term, make_lab, run, kind):
    """An idle detached session lets its screen model sleep (libvterm
    freed, the state kept as the bytes that rebuild it); an attach wakes
    it and shows the same screen as the client that left: cells,
    attributes, cursor, modes, title, alternate screen."""
    lab = make_lab(env={"LIMPET_TEST_VT_SLEEP_MS": "200"})
    cmd, ready = program(run, kind)
    a = term("a", pane_script(run, "a", lab.limpet_cmd(args=[cmd])))
    if kind == "bash":
        a.wait(lambda s: "bash" in s, what="the prompt")
        a.keys("printf '\\033[31;1mRED\\033[0m \\033[44mBLUE\\033[0m"
               " \\344\\270\\255\\346\\226\\207\\n'; seq 1 30;"
               " printf 'PROMPT-''MARK '", "Enter")
        ready = "PROMPT-MARK"
    want, want_flags = settle(a, lambda s: ready in s,
                              "the program in the first client")
    kill_client(a)
    wait_log(lab, "screen model asleep")
    b = term("b", pane_script(run, "b", lab.limpet_cmd(
        sub="attach", args=[session_id(lab)])))
    b.wait(lambda s: "attached to session" in s, what="the attach notice")
    settle(b, lambda s: "attached to session" not in s,
           "the notice to go", timeout=10)
    assert "screen model awake" in lab.server_log_text()
    assert cells(b.screen(attrs=True)) == cells(want)
    assert modes(b.flags()) == modes(want_flags)
    # It goes on as a model that never slept: more output, then a
    # second sleep and attach show it.
    if kind == "bash":
        b.keys("printf 'AFTER-''WAKE\\n'", "Enter")
        settle(b, lambda s: "AFTER-WAKE\n" in s, "output after the wake")
        want = b.screen(attrs=True)
        kill_client(b)
        wait_log(lab, "screen model asleep", count=2)
        c = term("c", pane_script(run, "c", lab.limpet_cmd(
            sub="attach", args=[session_id(lab)])))
        c.wait(lambda s: "attached to session" in s, what="the attach")
        settle(c, lambda s: "attached to session" not in s,
               "the notice to go", timeout=10)
        assert cells(c.screen(attrs=True)) == cells(want)
