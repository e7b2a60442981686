"""End-to-end tests of the relay: stuck daemons, what follows HELLO, and
the session directory named with `limpet relay --dir`.

Some tests drive the real client; others speak the wire protocol to
`ssh lab limpet relay` directly (wire.py), to see exactly what the relay
answers.
"""

import errno
import os
import signal
import socket
import time

import pexpect
import pytest

import wire
from test_session import ended, session_id, start, wait_for


def detached_session(spawn, lab):
    """Start a session, detach from it; returns its id."""
    p = start(spawn, lab)
    sid = session_id(p)
    p.sendline("")
    p.send("~.")
    p.expect("reattach with")
    assert ended(p) == 0
    return sid


class StuckListener:
    """A "daemon" that listens in the sessions directory and never
    accepts, with its backlog full: a blocking connect() to it never
    returns, a non-blocking one fails with EAGAIN."""

    def __init__(self, directory, sid):
        self.path = os.path.join(directory, sid + ".sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(0)
        self.fillers = []
        while True:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(self.path)
            except OSError as e:
                c.close()
                assert e.errno == errno.EAGAIN, e
                break
            self.fillers.append(c)
            assert len(self.fillers) < 64

    def close(self):
        for c in self.fillers:
            c.close()
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


@pytest.fixture
def stuck(lab):
    made = []

    def make(sid):
        os.makedirs(lab.sessions, mode=0o700, exist_ok=True)
        s = StuckListener(lab.sessions, sid)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def daemon_pid(lab, sid):
    with open(os.path.join(lab.sessions, sid + ".pid")) as f:
        return int(f.read().split()[0])


def test_stuck_daemons_do_not_hang_the_others(spawn, lab, limpet_bin,
                                               stuck):
    """Defect 17: one stopped daemon and one that never accepts (full
    backlog); ls, attach and kill --all still finish, in bounded time, and
    ls names the two that do not answer instead of hiding them."""
    good = detached_session(spawn, lab)
    frozen = detached_session(spawn, lab)
    fpid = daemon_pid(lab, frozen)
    stuck("zzstuck")
    os.kill(fpid, signal.SIGSTOP)
    try:
        frames, took = wire.ask(lab, limpet_bin, wire.hello(wire.OP_LIST))
        print("ls with two stuck daemons: %.2f s" % took)
        assert took < 12, "ls took %.1f s" % took
        got = wire.sessions(frames)
        assert frames[-1][0] == wire.DONE
        assert set(got) == {good, frozen, "zzstuck"}, got
        assert got[good]["state"] == wire.DETACHED
        assert got[frozen]["state"] == wire.NOANSWER
        assert got[frozen]["pid"] == fpid
        assert got["zzstuck"]["state"] == wire.NOANSWER

        # attach by id and without one (the only detached that answers)
        for args in ([good], []):
            t0 = time.monotonic()
            q = spawn(lab.limpet_cmd(sub="attach", args=args), timeout=20)
            assert session_id(q) == good
            assert time.monotonic() - t0 < 15
            q.sendline("")
            q.send("~.")
            assert ended(q) == 0

        # attach to one that does not answer says so, in bounded time
        for sid in (frozen, "zzstuck"):
            frames, took = wire.ask(lab, limpet_bin,
                                    wire.hello(wire.OP_ATTACH, sid=sid))
            assert took < 12
            assert frames[-1][0] == wire.ERROR, frames
            code, msg = wire.parse_error(frames[-1][1])
            assert code == wire.PERR_INTERNAL and "does not answer" in msg

        # kill of one that does not answer says so, and fails
        frames, took = wire.ask(lab, limpet_bin,
                                wire.hello(wire.OP_KILL, sid=frozen))
        assert took < 12
        code, msg = wire.parse_error(frames[-1][1])
        assert frames[-1][0] == wire.ERROR and code == wire.PERR_INTERNAL
        assert "does not answer" in msg and str(fpid) in msg, msg

        # kill --all ends the one that answers, names the others
        t0 = time.monotonic()
        k = spawn(lab.limpet_cmd(sub="kill", opts=["--all"]), timeout=20)
        k.expect("killed 1 session")
        assert ended(k) == 0
        assert time.monotonic() - t0 < 15
        frames, took = wire.ask(lab, limpet_bin, wire.hello(
            wire.OP_KILL, flags=wire.KILL_ALL))
        notices = [wire.parse_str(p) for t, p in frames if t == wire.NOTICE]
        assert any("zzstuck" in n and "does not answer" in n
                   for n in notices), notices
    finally:
        os.kill(fpid, signal.SIGCONT)
    # The stopped daemon reads the kill requests queued for it and ends.
    wait_for(lambda: not os.path.exists(
        os.path.join(lab.sessions, frozen + ".sock")), timeout=15,
        what="the woken daemon to end")


def test_what_follows_hello_in_one_write_is_forwarded(lab, limpet_bin):
    """Defect 22: frames the client sends right behind HELLO, in the same
    write, reach the daemon (here a PING, answered by PONG)."""
    r = wire.Relay(lab, limpet_bin)
    try:
        r.send(wire.hello(wire.OP_NEW, argv=["sleep", "30"]) +
               wire.frame(wire.RESIZE, b"\x00\x21\x00\x4d") +
               wire.u64(wire.PING, 4242))
        frames = r.until(wire.PONG, timeout=10)
        assert frames[-1] == (wire.PONG, (4242).to_bytes(8, "big")), frames
        assert any(t == wire.WELCOME for t, _ in frames)
    finally:
        r.close()
    k, _ = wire.ask(lab, limpet_bin, wire.hello(wire.OP_KILL,
                                                flags=wire.KILL_ALL))
    assert k[-1] == (wire.DONE, (1).to_bytes(4, "big"))


def test_relay_dir_option(lab, limpet_bin, run):
    """--dir PATH: exactly that directory, made 0700 if missing, checked
    like the default; a refusal says which path, why, and what works."""
    mine = os.path.join(run.workdir, "mine")
    args = ["--dir", mine]
    r = wire.Relay(lab, limpet_bin, args=args)
    try:
        r.send(wire.hello(wire.OP_NEW, argv=["sleep", "30"]))
        r.until(wire.WELCOME)
        assert os.stat(mine).st_mode & 0o777 == 0o700
        assert any(n.endswith(".sock") for n in os.listdir(mine))
        frames, _ = wire.ask(lab, limpet_bin, wire.hello(wire.OP_LIST),
                             args=args)
        assert len(wire.sessions(frames)) == 1
        frames, _ = wire.ask(lab, limpet_bin, wire.hello(wire.OP_LIST))
        assert wire.sessions(frames) == {}
        frames, _ = wire.ask(lab, limpet_bin, wire.hello(
            wire.OP_KILL, flags=wire.KILL_ALL), args=args)
        assert frames[-1] == (wire.DONE, (1).to_bytes(4, "big"))
    finally:
        r.close()

    open_dir = os.path.join(run.workdir, "open")
    os.mkdir(open_dir, 0o755)
    os.chmod(open_dir, 0o755)
    long_dir = os.path.join(run.workdir, "x" * 80)
    for path, why in ((open_dir, "must be 0700"), (long_dir, "at most")):
        frames, _ = wire.ask(lab, limpet_bin, wire.hello(wire.OP_LIST),
                             args=["--dir", path])
        assert frames[-1][0] == wire.ERROR
        code, msg = wire.parse_error(frames[-1][1])
        assert code == wire.PERR_UNSAFE
        assert path[:40] in msg and why in msg and "--server-dir" in msg, \
            msg
        assert "\n" not in msg
    assert not os.path.exists(long_dir)
    frames, _ = wire.ask(lab, limpet_bin, wire.hello(wire.OP_LIST),
                         args=["--bogus"])
    assert frames[-1][0] == wire.ERROR
    assert "unknown argument --bogus" in wire.parse_error(frames[-1][1])[1]


def test_unsafe_default_is_explained(spawn, lab):
    """Everything refused: one line with the path, the reason and the way
    out."""
    os.makedirs(lab.sessions, exist_ok=True)
    os.chmod(lab.sessions, 0o755)
    try:
        p = spawn(lab.limpet_cmd(sub="ls"))
        p.expect(pexpect.EOF)
        out = p.before
        assert "%s has mode 0755" % lab.sessions in out, out
        assert "--server-dir" in out, out
    finally:
        os.chmod(lab.sessions, 0o700)


def test_relay_exits_once_the_client_is_gone(lab, limpet_bin):
    """The relay ends as soon as ssh closes its stdin and all was passed
    on; it does not linger (nor hold the ssh connection open)."""
    r = wire.Relay(lab, limpet_bin)
    try:
        r.send(wire.hello(wire.OP_NEW, argv=["sleep", "30"]))
        r.until(wire.WELCOME)
        t0 = time.monotonic()
        r.proc.stdin.close()
        r.proc.wait(timeout=8)
        took = time.monotonic() - t0
        assert took < 2, "the relay lingered %.1f s" % took
    finally:
        r.close()
    k, _ = wire.ask(lab, limpet_bin, wire.hello(wire.OP_KILL,
                                                flags=wire.KILL_ALL))
    assert k[-1] == (wire.DONE, (1).to_bytes(4, "big"))
