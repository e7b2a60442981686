"""End-to-end tests of the client's own duties: the terminal, its ssh
children, what it prints and what it trusts from the server.

Each test drives the real client in a PTY against a real sshd on loopback
(or, for what a real server never sends, a fake relay started through
--server-path that speaks the protocol).
"""

import os
import re
import signal
import struct
import subprocess
import time

import pexpect
import pytest

import sshlab
from test_session import ended, kill_ssh, session_id, ssh_pids, start, \
    wait_for

MAGIC = b"\0LIMPET\x01"


def frame(kind, payload=b""):
    return struct.pack(">BI", kind, len(payload)) + payload


def pstr(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">I", len(s)) + s


def welcome(sid, in_have=0, out_start=0, out_end=0, pid=4242):
    return frame(2, struct.pack(">I", 2) + pstr(sid) +
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
    and then reads its stdin until the client goes."""
    path = os.path.join(lab.basedir, name)
    with open(path, "w") as f:
        f.write("#!/usr/bin/python3\nimport os, sys\n"
                "os.write(1, %r)\n"
                "while os.read(0, 65536):\n    pass\n" % (MAGIC + reply,))
    os.chmod(path, 0o755)
    return path


def fake_cmd(lab, path, sub=None, args=()):
    argv = lab.limpet_cmd(sub=sub, args=args)
    argv[argv.index("--server-path") + 1] = path
    return argv


def zombies(pid):
    """Children of pid that exited and were never reaped."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid and fields[0] == "Z":
            out.append(int(d))
    return out


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
    # Stop reading the terminal: the client's queue fills up.
    time.sleep(3)
    p.send("\r~s")
    time.sleep(3)
    p.send("\r~s")
    p.expect(rb"\r\nEND\r\n", timeout=60)
    text = p.before.replace(b"\r\n", b"\n")
    text = re.sub(rb"\n\[limpet status[^\n]*\n(  [^\n]*\n)*", b"\n", text)
    nums = [int(x) for x in re.findall(rb"^(\d+)$", text, re.M)]
    assert nums == list(range(2, 400001)), "output lost or repeated"
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
    """The input window: 3 MB pasted at once reach the program whole,
    nothing dropped, and ~. still works afterwards."""
    p = start(spawn, lab, timeout=60)
    path = os.path.join(lab.basedir, "pasted")
    p.sendline("stty -echo; cat > %s; stty echo; echo cat-d''one" % path)
    time.sleep(0.5)
    line = "z" * 99 + "\n"
    total = 0
    for _ in range(300):
        p.send(line * 100)
        total += len(line) * 100
    p.sendcontrol("d")
    p.expect("cat-done", timeout=120)
    assert os.path.getsize(path) == total
    p.sendline("")
    p.send("~.")
    p.expect("reattach with")
    assert ended(p) == 0
