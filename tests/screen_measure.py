#!/usr/bin/python3
"""Measure the screen model on a lab sshd (not part of make check):

  - the session daemon's RSS with an idle shell, model on and off;
  - attach repaint time: from starting `limpet attach` (or `ssh host tmux
    attach`) in a fresh terminal until that terminal shows the session's
    screen (vim with a split) as the first terminal has it.

usage: /usr/bin/python3 tests/screen_measure.py [LIMPET_BINARY]
Prints one line per figure.  Uses tmux as the terminals.
"""

import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "e2e"))

import sshlab  # noqa: E402
from test_screen import Term, VIM_FILE  # noqa: E402

REPS = 5


def daemon_rss_kb(lab):
    for pid in lab.session_pids():
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    return None


def wait_same(t, want, rows, timeout=20):
    """Seconds until t's first rows lines equal want's."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if t.screen().split("\n")[:rows] == want[:rows]:
            return time.monotonic() - t0
        time.sleep(0.005)
    raise AssertionError("never the same:\n%s" % t.screen())


def rss(work, lab, binary, label, env):
    a = Term(work, "rss" + label, lab.limpet_cmd(
        bin=binary, args=["bash --norc --noprofile -i"]), env)
    a.wait(lambda s: "bash" in s, what="the shell")
    a.keys("ls -l /; printf '\\033[31mcolour\\033[0m\\n'", "Enter")
    time.sleep(2)
    print("daemon RSS, idle bash at 80x24, model %s: %s kB" %
          (label, daemon_rss_kb(lab)))
    a.close()
    for pid in lab.session_pids():
        os.kill(pid, 15)
    time.sleep(1)


def repaint_limpet(work, lab, binary, env, path):
    a = Term(work, "la", lab.limpet_cmd(
        bin=binary, args=["vim -u NONE -i NONE -N -n -c 'syntax on' "
                          "-c vsplit %s" % path]), env)
    a.wait(lambda s: "hello.c" in s, what="vim")
    time.sleep(1)
    times = []
    for i in range(REPS):
        want = a.screen().split("\n")
        ids = [f[:-5] for f in os.listdir(lab.sessions)
               if f.endswith(".sock")]
        b = Term(work, "lb%d" % i, lab.limpet_cmd(
            bin=binary, sub="attach", args=[ids[0]]), env)
        times.append(wait_same(b, want, 23))
        time.sleep(0.5)
        a.close()
        a = b
    a.close()
    for pid in lab.session_pids():
        os.kill(pid, 15)
    return times


def repaint_tmux(work, lab, env, path):
    sock = os.path.join(work, "inner.sock")
    conf = os.path.join(work, "inner.conf")
    with open(conf, "w") as f:
        f.write("set -g status off\n")
    subprocess.run(["tmux", "-S", sock, "-f", conf, "new-session", "-d",
                    "-x", "80", "-y", "24", "vim -u NONE -i NONE -N -n -c "
                    "'syntax on' -c vsplit %s" % path], check=True,
                   env=dict(os.environ, **env))
    time.sleep(1)
    want = subprocess.run(["tmux", "-S", sock, "capture-pane", "-p"],
                          capture_output=True, text=True).stdout
    want = want.split("\n")
    times = []
    for i in range(REPS):
        argv = ["ssh", "-F", lab.ssh_config, "-t", sshlab.HOST,
                "tmux -S %s -f %s attach" % (shlex.quote(sock),
                                              shlex.quote(conf))]
        b = Term(work, "tb%d" % i, argv, env)
        times.append(wait_same(b, want, 23))
        b.close()
        time.sleep(0.5)
    subprocess.run(["tmux", "-S", sock, "kill-server"])
    return times


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                             os.path.join(HERE, "..", "limpet"))
    off = os.path.join(tempfile.mkdtemp(), "limpet-off")
    with open(off, "w") as f:
        f.write("#!/bin/sh\nLIMPET_SCREEN=off exec %s \"$@\"\n" % binary)
    os.chmod(off, 0o755)
    work = tempfile.mkdtemp(prefix="limpet-screen-")
    env = {"TERM": "screen"}
    with sshlab.SshLab(work) as lab:
        rss(work, lab, binary, "on", env)
        rss(work, lab, off, "off", env)
        path = os.path.join(work, "hello.c")
        with open(path, "w") as f:
            f.write(VIM_FILE * 3)
        lt = repaint_limpet(work, lab, binary, env, path)
        tt = repaint_tmux(work, lab, env, path)
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    print("attach repaint, vim with a split, 80x24, loopback: limpet "
          "median %.0f ms (%s), tmux over ssh median %.0f ms (%s)" % (
              med(lt) * 1000, " ".join("%.0f" % (x * 1000) for x in lt),
              med(tt) * 1000, " ".join("%.0f" % (x * 1000) for x in tt)))


if __name__ == "__main__":
    main()
