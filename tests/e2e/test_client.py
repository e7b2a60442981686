"""End-to-end tests of the client's own duties: the terminal, its ssh
children, what it prints and what it trusts from the server.

Each test drives the real client in a PTY against a real sshd on loopback
(or, for what a real server never sends, a fake relay started through
--server-path that speaks the protocol).
"""

import os
import re
import shlex
import signal
import struct
import subprocess
import threading
import time

import pexpect
import pytest

import sshlab
from test_notice import ssh_of, tmux_run  # noqa: F401 (a fixture)
from test_session import ended, kill_ssh, session_id, ssh_pids, start, \
    wait_for

MAGIC = b"\0LIMPET\x01"


def frame(kind, payload=b""):
    return struct.pack(">BI", kind, len(payload)) + payload


def pstr(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">I", len(s)) + s


def welcome(sid, in_have=0, out_start=0, out_end=0, pid=4242, version=2):
    return frame(2, struct.pack(">I", version) + pstr(sid) +
                 struct.pack(">QQQI", in_have, out_start, out_end, pid))


def window(limit):
    return frame(14, struct.pack(">Q", limit))


def error(code, msg):
    return frame(10, struct.pack(">I", code) + pstr(msg))


def notice(text):
    return frame(13, pstr(text))


def data(off, b):
    return frame(3, struct.pack(">Q", off) + b)


def session_frame(sid, command, state=0):
    return frame(11, pstr(sid) + struct.pack(">IQQBI", 77, 1, 2, state, 0) +
                 pstr(command))


def done(count):
    return frame(12, struct.pack(">I", count))


def fake_relay(lab, name, reply):
    """A --server-path program that writes the preamble and reply (bytes)
    and then reads its stdin until the client goes.  Its arguments go to
    <name>.args."""
    path = os.path.join(lab.basedir, name)
    with open(path, "w") as f:
        f.write("#!/usr/bin/python3\nimport os, sys\n"
                "open(%r, 'w').write(repr(sys.argv[1:]))\n"
                "os.write(1, %r)\n"
                "while os.read(0, 65536):\n    pass\n" %
                (path + ".args", MAGIC + reply))
    os.chmod(path, 0o755)
    return path


def fake_cmd(lab, path, sub=None, args=()):
    argv = lab.limpet_cmd(sub=sub, args=args)
    argv[argv.index("--server-path") + 1] = path
    return argv


def zombies(pid):
    """Children of pid that exited and were never reaped."""
    return [p for p, state, ppid in sshlab.proc_stats()
            if ppid == pid and state == "Z"]


def fd_flags(pid, fd):
    with open("/proc/%d/fdinfo/%d" % (pid, fd)) as f:
        for line in f:
            if line.startswith("flags:"):
                return int(line.split()[1], 8)
    return 0


def test_every_ssh_is_reaped(spawn, lab):
    """Defect 4: ~r (and a dead link) must not leave zombie ssh's."""
    p = start(spawn, lab)
    for i in range(3):
        old = ssh_pids(p.pid)
        p.sendline("")
        p.send("~r")
        wait_for(lambda: ssh_pids(p.pid) and ssh_pids(p.pid) != old,
                 what="a new ssh")
        p.sendline("echo again-$((%d+1))" % i)
        p.expect("again-%d" % (i + 1))
    kill_ssh(p)
    p.sendline("echo back-$((7*6))")
    p.expect("back-42", timeout=20)
    time.sleep(0.5)
    assert zombies(p.pid) == []
    p.sendline("exit")
    assert ended(p) == 0


def test_terminal_is_never_nonblocking(spawn, lab):
    """Defect 8: the tty is shared with the shell that started limpet."""
    p = start(spawn, lab)
    for fd in (0, 1):
        assert fd_flags(p.pid, fd) & os.O_NONBLOCK == 0, fd
    p.sendline("exit")
    assert ended(p) == 0


def test_detach_with_a_wedged_ssh_is_bounded(spawn, lab):
    """Defect 2: 200 KB pasted into an ssh that reads nothing, then ~."""
    p = start(spawn, lab, opts=["--dead", "60"])
    p.sendline("stty -echo; cat > /dev/null")
    time.sleep(0.5)
    kill_ssh(p, signal.SIGSTOP)
    chunk = ("y" * 99 + "\n") * 100
    for _ in range(20):
        p.send(chunk)
    time.sleep(0.5)
    t0 = time.monotonic()
    p.send("~.")
    p.expect(pexpect.EOF, timeout=20)
    assert time.monotonic() - t0 < 10


def test_output_is_acknowledged_only_once_written(spawn, lab):
    """Defect 1: local text while the terminal is slow loses no output."""
    p = start(spawn, lab, encoding=None, timeout=60)
    p.sendline("seq 1 400000; echo EN''D")
    p.expect(b"[\r\n]1\r\n")
    # Stop reading the terminal: the client's queue fills up.  (No Enter:
    # its echo would land inside the output; after the command line's
    # Enter, and after an escape, a ~ starts an escape.)
    time.sleep(3)
    p.send("~s")
    time.sleep(3)
    p.send("~s")
    p.expect(rb"\r\nEND\r\n", timeout=60)
    # The status report is drawn between two pieces of output, which may
    # split a line, also between its CR and LF: drop every CR (seq prints
    # none of its own), then take the report out whole.
    text = p.before.replace(b"\r", b"")
    text, k = re.subn(rb"\n\[limpet status[^\n]*\n(  [^\n]*\n)*", b"", text)
    nums = [int(x) for x in re.findall(rb"^(\d+)$", text, re.M)]
    if nums != list(range(2, 400001)):
        bad = next(i for i, n in enumerate(nums) if n != i + 2)
        raise AssertionError("output lost or repeated after %d: %r" %
                             (bad + 1, nums[bad:bad + 3]))
    assert k == 2, "the status report was not shown twice"
    p.sendline(b"exit")
    assert ended(p, timeout=30) == 0


@pytest.mark.parametrize("code", [4, 5])
def test_first_error_is_final(spawn, lab, code):
    """Defect 3: a server ERROR before the first WELCOME ends the client."""
    relay = fake_relay(lab, "relay-err", error(code, "broken on purpose"))
    p = spawn(fake_cmd(lab, relay))
    p.expect("broken on purpose")
    assert ended(p, timeout=15) == 255


def test_server_session_id_is_validated(spawn, lab, run):
    """Defect 15: an id the relay would refuse is a protocol error; no
    hint built from it can run a command."""
    marker = os.path.join(run.workdir, "pwned")
    bad = "a';touch %s;'" % marker
    relay = fake_relay(lab, "relay-id", welcome(bad) + window(1 << 20))
    p = spawn(fake_cmd(lab, relay))
    time.sleep(1.5)
    p.send("\r~.")
    p.expect(pexpect.EOF, timeout=15)
    out = p.before
    p.close()
    for line in re.findall(r"limpet attach[^\r\n]*", out):
        subprocess.run(["sh", "-c", "limpet() { :; }; " + line])
    assert not os.path.exists(marker), out
    assert p.exitstatus == 255, out


def test_server_text_is_escaped(spawn, lab):
    """Defect 15: NOTICE text cannot drive the user's terminal."""
    relay = fake_relay(lab, "relay-notice",
                       welcome("abc") + window(1 << 20) +
                       notice("\x1b]0;pwned\x07hello\x1b[2J"))
    p = spawn(fake_cmd(lab, relay), encoding=None)
    p.expect(b"hello")
    p.send(b"\r~.")
    p.expect(pexpect.EOF, timeout=15)
    out = p.before
    assert b"\x1b]0;pwned" not in out and b"\x1b[2J" not in out, out


def test_ls_escapes_server_text(spawn, lab):
    relay = fake_relay(lab, "relay-ls",
                       session_frame("abc", "vi \x1b[2Jx") + done(1))
    p = spawn(fake_cmd(lab, relay, sub="ls"), encoding=None)
    p.expect(pexpect.EOF)
    assert b"vi " in p.before and b"\x1b[2J" not in p.before, p.before


@pytest.mark.timeout(180)
def test_paste_of_any_size_arrives_whole(spawn, lab):
    """The input window: 3 MB pasted into a link that hangs for a while
    reach the program whole (nothing dropped), and ~. still works."""
    p = start(spawn, lab, opts=["--dead", "2"], timeout=60)
    p.delaybeforesend = 0
    path = os.path.join(lab.basedir, "pasted")
    p.sendline("stty -echo; cat > %s; stty echo; echo cat-d''one" % path)
    time.sleep(0.5)
    kill_ssh(p, signal.SIGSTOP)
    line = "z" * 99 + "\n"
    total = 300 * 100 * len(line)

    def paste():
        for _ in range(300):
            p.send(line * 100)
    t = threading.Thread(target=paste, daemon=True)
    t.start()
    t.join(120)
    assert not t.is_alive(), "the paste never went in"
    p.sendcontrol("d")
    p.expect("cat-done", timeout=120)
    assert os.path.getsize(path) == total
    p.sendline("")
    p.send("~.")
    p.expect("reattach with")
    assert ended(p) == 0


@pytest.mark.timeout(240)
def test_paste_of_20_mib_is_byte_exact_across_kills(spawn, lab):
    """The issue's bound: 20 MiB pasted into a program arrive byte for
    byte (sha256), while the client's ssh is killed three times during the
    paste.  The terminal is raw on the server so every byte (not just
    lines) reaches the program unchanged."""
    import hashlib
    import random
    size = 20 * 1024 * 1024
    rng = random.Random(20261129)
    # Printable bytes and newlines, no '~' (the escape character).
    alphabet = bytes(sorted(set(range(32, 127)) - {ord("~")})) + b"\n" * 4
    data = bytes(rng.choices(alphabet, k=size))
    want = hashlib.sha256(data).hexdigest()
    text = data.decode("ascii")     # the spawn is in text mode
    p = start(spawn, lab, opts=["--dead", "2"], timeout=60)
    p.delaybeforesend = 0
    path = os.path.join(lab.basedir, "pasted20")
    p.sendline("stty raw -echo; head -c %d > %s; stty sane; echo h''ead-done"
               % (size, path))
    wait_for(lambda: os.path.exists(path), what="head to start")
    chunk = 256 * 1024

    def paste():
        for off in range(0, size, chunk):
            p.send(text[off:off + chunk])
    t = threading.Thread(target=paste, daemon=True)
    t.start()
    for mark in (size // 5, 2 * size // 5, 3 * size // 5):
        wait_for(lambda: os.path.getsize(path) >= mark, timeout=120,
                 what="%d bytes to arrive" % mark)
        assert kill_ssh(p) > 0
    t.join(180)
    assert not t.is_alive(), "the paste never went in"
    p.expect("head-done", timeout=180)
    with open(path, "rb") as f:
        got = f.read()
    assert len(got) == size
    assert hashlib.sha256(got).hexdigest() == want
    p.send("\r~s")             # after Enter, as escapes need
    p.expect(r"reconnects: (\d+)")
    assert int(p.match.group(1)) >= 3
    p.sendline("exit")
    assert ended(p) == 0


FULLSCREEN = ("printf '\\033[?1049h\\033[?1h\\033=\\033[?25l\\033[?1000h"
              "\\033[?2004h\\033[1;5r\\033[HFULL-''SCREEN'; sleep 300")


@pytest.mark.parametrize("how", ["detach", "give-up"])
def test_leaving_restores_the_terminal(tmux_run, lab, run, how):
    """Defect 6: leaving a full-screen program puts the local terminal
    back (normal screen, keypad off, cursor shown, no mouse) and prints
    the message on a clean line of the normal screen."""
    opts = ["--dead", "1", "--give-up", "2"] if how == "give-up" else []
    argv = lab.limpet_cmd(opts=opts, args=[FULLSCREEN])
    script = os.path.join(run.workdir, "pane.sh")
    with open(script, "w") as f:
        f.write("%s\necho LIMPET-EX''ITED\nsleep 300\n" %
                " ".join(shlex.quote(a) for a in argv))
    t = tmux_run(["sh", script], {"TERM": "screen"})
    t.wait(lambda s: "FULL-SCREEN" in s, what="the program")
    flags = t.tmux(["display-message", "-p", "-t", "t",
                    "#{alternate_on} #{keypad_flag} #{keypad_cursor_flag} "
                    "#{cursor_flag} #{mouse_any_flag}"]).split()
    assert flags == ["1", "1", "1", "0", "1"]
    if how == "detach":
        t.keys("Enter", "~.")
    else:
        lab.stop()
        os.kill(ssh_of(t), signal.SIGSTOP)
    s = t.wait(lambda s: "LIMPET-EXITED" in s, what="limpet to leave")
    flags = t.tmux(["display-message", "-p", "-t", "t",
                    "#{alternate_on} #{keypad_flag} #{keypad_cursor_flag} "
                    "#{cursor_flag} #{mouse_any_flag}"]).split()
    assert flags == ["0", "0", "0", "1", "0"], s
    assert "FULL-SCREEN" not in s
    want = "reattach with" if how == "detach" else "gave up after"
    line = [x for x in s.split("\n") if want in x]
    assert line and line[0].startswith("limpet: "), s


@pytest.mark.parametrize("cols", [40, 60, 80])
def test_notice_fits_the_width(tmux_run, lab, cols):
    """Defect 13: the notice keeps its hints (~r, ~.) at any width."""
    argv = lab.limpet_cmd(opts=["--dead", "1"])
    t = tmux_run(argv, {"TERM": "screen"})
    t.tmux(["resize-window", "-t", "t", "-x", str(cols), "-y", "12"])
    t.keys("echo rea''dy", "Enter")
    t.wait(lambda s: "\nready" in s, what="the shell")
    lab.stop()
    os.kill(ssh_of(t), signal.SIGSTOP)
    s = t.wait(lambda s: "no contact" in s, what="the notice")
    line = [x for x in s.split("\n") if "no contact" in x][0]
    assert "~r" in line and "~." in line, line
    assert len(line.rstrip()) < cols


def test_notice_counts_attempts_of_this_outage(spawn, lab):
    """Defect 5: the attempt number starts again with each outage."""
    p = start(spawn, lab, opts=["--dead", "1"])
    for _ in range(3):
        p.sendline("")
        p.send("~r")
        p.sendline("echo ok-$((1+1))")
        p.expect("ok-2")
    lab.stop()
    kill_ssh(p, signal.SIGSTOP)
    p.expect(r"attempt (\d+)\)", timeout=20)
    assert int(p.match.group(1)) <= 2, p.match.group(0)
    lab.start()
    p.send("~r")
    p.sendline("echo back-$((2+2))")
    p.expect("back-4", timeout=30)
    p.sendline("exit")
    ended(p)


def test_give_up_hint_is_pasteable(spawn, lab, run):
    """Defect 9: the give-up hint carries every option needed (here -F,
    --server-path) and starts on a line of its own."""
    p = start(spawn, lab, opts=["--give-up", "2", "--dead", "1"])
    sid = session_id(p)
    lab.stop()
    kill_ssh(p, signal.SIGSTOP)
    # At a line start: after a newline, or after the escape sequence that
    # put the cursor back when the no-contact notice went away.
    p.expect(r"(?:\n|\x1b\[[0-9;]*[A-Za-z]|\x1b[78])"
             r"(limpet: gave up after[^\r\n]*)", timeout=30)
    line = p.match.group(1)
    assert ended(p) == 255
    hint = line[line.index("limpet attach"):]
    lab.start()
    # The hint says `limpet`: put one on the PATH before the shell runs it.
    os.symlink(lab.limpet_cmd()[0], os.path.join(run.workdir, "limpet"))
    q = spawn(["sh", "-c", "PATH=%s:$PATH; %s" % (run.workdir, hint)])
    assert session_id(q) == sid
    q.sendline("exit")
    assert ended(q) == 0


def test_missing_limpet_is_one_line(spawn, lab):
    """Defect 12: limpet missing on the server: one line, exit 255."""
    p = spawn([lab.limpet_cmd()[0], "--server-path", "/nonexistent/limpet",
               "-F", lab.ssh_config, "lab"])
    p.expect(pexpect.EOF)
    lines = [x for x in p.before.replace("\r", "").split("\n") if x.strip()]
    assert len(lines) == 1, lines
    assert "server" in lines[0]
    p.close()
    assert p.exitstatus == 255


def test_declined_host_key_is_named(spawn, lab, run):
    """Defect 11: answering no to an unknown host key is not a mismatch."""
    argv = lab.limpet_cmd()
    i = argv.index("-F") + 2
    argv[i:i] = ["-o", "UserKnownHostsFile=%s" %
                 os.path.join(run.workdir, "empty_known"),
                 "-o", "StrictHostKeyChecking=ask", "-o", "BatchMode=no"]
    p = spawn(argv)
    p.expect("continue connecting")
    p.sendline("no")
    p.expect("limpet: ([^\r\n]*)")
    assert "not accepted" in p.match.group(1), p.match.group(1)
    assert ended(p) == 255


FULL_PROGRAM = r"""
import os, signal, sys, time
def draw(*_):
    rows, cols = os.get_terminal_size(1)
    out = "\033[H\033[2J"
    for i in range(rows - 1):
        out += "\033[%d;1Hline %d of the text" % (i + 1, i)
    out += "\033[%d;1HBOTTOM-MARK %dx%d\033[1;1H" % (rows, rows, cols)
    os.write(1, out.encode())
signal.signal(signal.SIGWINCH, draw)
os.write(1, b"\033[?1049h")
draw()
while True:
    time.sleep(60)
"""


def test_attach_to_full_screen_then_outage(tmux_run, lab, run):
    """Defect 7: after limpet attach onto a full-screen program (one that
    redraws only on SIGWINCH, as htop), an outage leaves its bottom line
    as it was, not blank."""
    prog = os.path.join(run.workdir, "full.py")
    with open(prog, "w") as f:
        f.write(FULL_PROGRAM)
    new = lab.limpet_cmd(args=["python3 %s" % prog])
    att = lab.limpet_cmd(sub="attach", opts=["--dead", "1", "--keepalive",
                                              "2"])
    script = os.path.join(run.workdir, "pane.sh")
    with open(script, "w") as f:
        f.write("%s\n%s\nsleep 300\n" % (
            " ".join(shlex.quote(a) for a in new),
            " ".join(shlex.quote(a) for a in att)))
    t = tmux_run(["sh", script], {"TERM": "screen"})
    t.wait(lambda s: "BOTTOM-MARK" in s, what="the program")
    t.keys("Enter", "~.")
    t.wait(lambda s: "reattach with" in s, what="the detach")
    # The attach shows the program again (it is made to redraw).
    t.wait(lambda s: "BOTTOM-MARK" in s and "line 5 of" in s,
           what="the program after attach")
    time.sleep(1)
    before = t.screen()
    lab.stop()
    os.kill(ssh_of(t), signal.SIGSTOP)
    t.wait(lambda s: "no contact" in s, what="the notice")
    lab.start()
    t.wait(lambda s: "no contact" not in s, what="recovery")
    time.sleep(1)
    after = t.screen()
    assert "BOTTOM-MARK" in after.split("\n")[-2], (before, after)


def test_server_dir_reaches_the_relay_and_the_hint(spawn, lab, run):
    """--server-dir PATH: the relay gets --dir PATH as one word, and the
    reattach hint keeps it, quoted."""
    relay = fake_relay(lab, "relay-dir", welcome("abc") + window(1 << 20))
    argv = fake_cmd(lab, relay)
    argv[1:1] = ["--server-dir", "/srv dir/it's"]
    p = spawn(argv)
    wait_for(lambda: os.path.exists(relay + ".args"), what="the relay")
    time.sleep(0.5)
    p.send("\r~.")
    p.expect(r"reattach with: ([^\r\n]*)")
    hint = p.match.group(1)
    assert ended(p) == 0
    with open(relay + ".args") as f:
        assert f.read() == repr(["relay", "--dir", "/srv dir/it's"])
    words = shlex.split(hint)
    i = words.index("--server-dir")
    assert words[i + 1] == "/srv dir/it's", hint
    assert words[-1] == "abc"


def test_missing_ssh_program_is_named(spawn, lab):
    """A --ssh program that does not exist is named as such in one line
    (it used to be blamed on the server: ssh's exit 127 looked like a
    relay that could not run limpet)."""
    p = spawn([lab.limpet_cmd()[0], "--ssh", "/nonexistent/ssh",
               "-F", lab.ssh_config, "lab"])
    p.expect(pexpect.EOF)
    lines = [x for x in p.before.replace("\r", "").split("\n") if x.strip()]
    assert len(lines) == 1, lines
    assert "cannot run /nonexistent/ssh" in lines[0], lines
    assert "server" not in lines[0], lines
    p.close()
    assert p.exitstatus == 255


def test_pipe_bad_record_ends_the_client_at_once(lab):
    """A pipe client (stdin not a terminal) that gets an output record
    with an unknown stream says so in one line and exits 255 at once; it
    used to decide that while making its poll set and then sleep in
    poll() until its next deadline (the 25 s keepalive)."""
    bad = struct.pack(">BI", 7, 3) + b"abc"      # stream 7 does not exist
    relay = fake_relay(lab, "relay-badrec", welcome("abc", version=3) +
                       window(1 << 20) + data(0, bad))
    t0 = time.monotonic()
    out = subprocess.run(fake_cmd(lab, relay, args=["cat"]),
                         stdin=subprocess.DEVNULL, capture_output=True,
                         timeout=30, env=dict(os.environ, **sshlab.san_options(
                             os.path.join(lab.basedir, "badrec"))))
    took = time.monotonic() - t0
    assert out.returncode == 255, out
    assert out.stdout == b"", out.stdout
    assert b"bad output record" in out.stderr, out.stderr
    assert took < 5, "the client took %.1f s to leave" % took
