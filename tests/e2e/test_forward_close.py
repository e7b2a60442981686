"""How forwarded connections end (issue 9): EOF one way while the other
keeps flowing, and resets, through -L, -R and -D as ssh passes them on;
and forwards added by `limpet attach`.  Real client in a PTY, real sshd,
real sockets at both ends.
"""

import os
import signal
import socket
import struct
import time

import pytest

import netcase
import sshlab
from test_forward import Target, listening, ns_listening
from test_network import net, netns  # noqa: F401 (the lab fixtures)
from test_session import (start, wait_for, ended, session_id, ssh_pids,
                          ls_until)

MB = 1 << 20
SENT = 300 * 1024      # what the app sends before its EOF
AFTER = 1 * MB         # what the target sends after it saw that EOF


def recv_all(s, timeout=30):
    """Read s to its end; (bytes, how it ended: 'eof' or 'reset')."""
    s.settimeout(timeout)
    out = bytearray()
    while True:
        try:
            b = s.recv(1 << 16)
        except ConnectionResetError:
            return bytes(out), "reset"
        if not b:
            return bytes(out), "eof"
        out += b


def half_close_target(c):
    """Read the app's stream to its EOF, then answer with its length and
    AFTER more bytes: data flows one way after the other way ended."""
    n = len(recv_all(c)[0])
    c.sendall(b"after-eof:%d\n" % n + b"x" * AFTER)


def check_half_close(port, connect=None):
    """The app sends SENT bytes and its EOF, then reads the answer."""
    s = connect() if connect else socket.create_connection(
        ("127.0.0.1", port), timeout=10)
    # The first byte is never 'R' or 'W': reset_target() reads those as
    # commands (a random first byte was one of them 2 times in 256).
    s.sendall(b"D" + os.urandom(SENT - 1))
    s.shutdown(socket.SHUT_WR)
    got, how = recv_all(s)
    s.close()
    assert got.startswith(b"after-eof:%d\n" % SENT), got[:40]
    assert len(got) == len(b"after-eof:%d\n" % SENT) + AFTER
    assert how == "eof"


def target_first_eof(c, seen):
    """The target says hello and ends its side first, then reads on."""
    c.sendall(b"hello, then EOF\n")
    c.shutdown(socket.SHUT_WR)
    seen.append(len(recv_all(c)[0]))


def check_target_eof_first(port, seen, connect=None):
    """The app reads the target's EOF, then still sends SENT bytes."""
    s = connect() if connect else socket.create_connection(
        ("127.0.0.1", port), timeout=10)
    got, how = recv_all(s)
    assert (got, how) == (b"hello, then EOF\n", "eof")
    s.sendall(os.urandom(SENT))
    s.shutdown(socket.SHUT_WR)
    wait_for(lambda: seen, what="the target to read the app's bytes")
    assert seen[-1] == SENT
    s.close()


def rst(s):
    """Close s with a reset (SO_LINGER 0)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))
    s.close()


def check_resets(port, tgt_seen, connect=None):
    """A reset by the target ends the app's connection (as with ssh: it
    sees the connection end, at once); a reset by the app ends the
    target's.  The forward goes on working after both."""
    mk = connect or (lambda: socket.create_connection(("127.0.0.1", port),
                                                      timeout=10))
    s = mk()
    s.sendall(b"R")                         # ask the target to reset
    t0 = time.monotonic()
    got, how = recv_all(s, timeout=10)
    assert time.monotonic() - t0 < 5
    assert got == b"" and how in ("eof", "reset")
    s.close()
    s = mk()
    s.sendall(b"W")                         # the target waits, reading
    wait_for(lambda: len(tgt_seen) == 1, what="the target to read")
    rst(s)
    wait_for(lambda: len(tgt_seen) == 2, timeout=5,
             what="the app's reset to end the target's side")
    assert tgt_seen[1] in ("eof", "reset")
    check_half_close(port, connect)


def reset_target(seen):
    """'R': reset at once; 'W': read to the end and record how it ended;
    anything else: the half-close target."""
    def handler(c):
        first = c.recv(1)
        if first == b"R":
            rst(c)
        elif first == b"W":
            seen.append("reading")
            seen.append(recv_all(c)[1])
        else:
            n = len(first + recv_all(c)[0])
            c.sendall(b"after-eof:%d\n" % n + b"x" * AFTER)
    return handler


def test_local_forward_half_close_and_reset(spawn, lab):
    """-L: the app's EOF reaches the target while the target's bytes keep
    coming; the target's EOF reaches the app while the app keeps sending;
    resets both ways end the other side's connection."""
    tgt = Target(half_close_target)
    seen = []
    tgt2 = Target(lambda c: target_first_eof(c, seen))
    rseen = []
    tgt3 = Target(reset_target(rseen))
    ports = [sshlab.free_port() for _ in range(3)]
    opts = []
    for lp, t in zip(ports, (tgt, tgt2, tgt3)):
        opts += ["-L", "%d:127.0.0.1:%d" % (lp, t.port)]
    p = start(spawn, lab, opts=tuple(opts))
    for lp in ports:
        wait_for(lambda: listening(lp), what="the -L listener")
    check_half_close(ports[0])
    check_target_eof_first(ports[1], seen)
    check_resets(ports[2], rseen)
    assert not (tgt.errors or tgt2.errors or tgt3.errors)
    p.sendline("exit")
    assert ended(p) == 0
    for t in (tgt, tgt2, tgt3):
        t.close()


def test_remote_forward_half_close_and_reset(spawn, lab):
    """-R, the same: the app is on the server, the target on the client."""
    tgt = Target(half_close_target)
    seen = []
    tgt2 = Target(lambda c: target_first_eof(c, seen))
    rseen = []
    tgt3 = Target(reset_target(rseen))
    ports = [sshlab.free_port() for _ in range(3)]
    opts = []
    for rp, t in zip(ports, (tgt, tgt2, tgt3)):
        opts += ["-R", "%d:127.0.0.1:%d" % (rp, t.port)]
    p = start(spawn, lab, opts=tuple(opts))
    for rp in ports:
        wait_for(lambda: listening(rp), what="the -R listener")
    check_half_close(ports[0])
    check_target_eof_first(ports[1], seen)
    check_resets(ports[2], rseen)
    p.sendline("exit")
    assert ended(p) == 0
    for t in (tgt, tgt2, tgt3):
        t.close()


def socks5(dport, port):
    """Open a SOCKS5 connection through limpet's -D to 127.0.0.1:port."""
    s = socket.create_connection(("127.0.0.1", dport), timeout=10)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") +
              struct.pack(">H", port))
    rep = b""
    while len(rep) < 10:
        b = s.recv(10 - len(rep))
        assert b, "SOCKS reply cut short"
        rep += b
    assert rep[:2] == b"\x05\x00", rep
    return s


def test_dynamic_forward_half_close_and_reset(spawn, lab):
    """-D, the same, through a SOCKS5 connection."""
    tgt = Target(half_close_target)
    seen = []
    tgt2 = Target(lambda c: target_first_eof(c, seen))
    rseen = []
    tgt3 = Target(reset_target(rseen))
    dport = sshlab.free_port()
    p = start(spawn, lab, opts=("-D", str(dport)))
    wait_for(lambda: listening(dport), what="the SOCKS listener")
    check_half_close(0, lambda: socks5(dport, tgt.port))
    check_target_eof_first(0, seen, lambda: socks5(dport, tgt2.port))
    check_resets(0, rseen, lambda: socks5(dport, tgt3.port))
    p.sendline("exit")
    assert ended(p) == 0
    for t in (tgt, tgt2, tgt3):
        t.close()


def test_attach_adds_forwards(spawn, lab):
    """`limpet attach -L ... -R ...` adds forwards to a running session:
    both work, bytes exact, and the -L goes with that client."""
    tgt = Target(half_close_target)
    p = start(spawn, lab)
    sid = session_id(p)
    for pid in [p.pid] + ssh_pids(p.pid):
        os.kill(pid, signal.SIGKILL)
    p.close(force=True)
    ls_until(spawn, lab, r"detached")
    lport, rport = sshlab.free_port(), sshlab.free_port()
    q = spawn(lab.limpet_cmd(sub="attach", opts=(
        "-L", "%d:127.0.0.1:%d" % (lport, tgt.port),
        "-R", "%d:127.0.0.1:%d" % (rport, tgt.port)), args=[sid]))
    q.sendline("echo at''tached-$((2+3))")
    q.expect("attached-5")
    wait_for(lambda: listening(lport), what="the attach's -L listener")
    wait_for(lambda: listening(rport), what="the attach's -R listener")
    check_half_close(lport)
    check_half_close(rport)
    q.sendline("exit")
    assert ended(q) == 0
    wait_for(lambda: not listening(lport), what="the -L listener to go")
    tgt.close()


@pytest.mark.timeout(120)
def test_typing_under_a_forward_saturating_a_slow_link(netns, make_lab,
                                                       spawn, limpet_bin):
    """In the namespace lab at 10 Mbit/s each way (tc tbf): while a -L
    connection pushes as fast as the link goes, a typed command comes
    back within 50 ms of an unloaded one (the forward's unacknowledged
    data is bounded by the measured rate times the path's round trip,
    learnt from the quiet link's PINGs, and 20 ms: with a 512 KiB floor
    it was ~0.4 s, and ssh -L queues ~0.5 s)."""
    lab = netns.lab()
    sshd = make_lab(netns=lab.server, listen_addr=lab.server_addr)
    lab.set_rate(10000)
    flags = os.path.join(netns.logdir, "sinkflags")
    os.makedirs(flags)
    peer = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "bench", "fwdpeer.py")
    tport, lport = 47011, 47012
    lab.popen("server", ["python3", peer, "sink", str(tport), flags])
    wait_for(lambda: os.path.exists(os.path.join(flags, "listening")),
             timeout=10, what="the sink")
    s = netcase.Session("sl", spawn, sshd, limpet_bin, netns.logdir,
                        netns=lab.client,
                        opts=("-L", "%d:127.0.0.1:%d" % (lport, tport)))
    netns.sessions.append(s)
    s.ready(timeout=30)
    idle = sorted(s.command() for _ in range(3))
    wait_for(lambda: ns_listening(lab, lport), what="the -L listener")
    flood = lab.popen("client", ["python3", peer, "flood", str(lport)])
    time.sleep(3)       # the bottleneck's queue fills
    busy = sorted(s.command(timeout=10) for _ in range(7))
    assert flood.poll() is None, "the flood's connection broke"
    # The bound's margin is 20 ms on a slow path; 50 ms of slack for a
    # loaded machine (with the 50 ms margin and the 64 KiB floor it was
    # ~100 ms, with bursts of ACKs taken for the rate up to ~220 ms).
    assert busy[3] < idle[1] + 0.05, "command p50 %.3f s under the " \
        "forward (idle %.3f s): %s" % (busy[3], idle[1], busy)


def test_escape_lists_remote_listeners_of_other_clients(spawn, lab):
    """~# also lists the -R listeners the session got from an earlier
    client (they live with the session), with their connections."""
    tgt = Target(lambda c: c.sendall(b"hi\n"))
    rport = sshlab.free_port()
    spec = "%d:127.0.0.1:%d" % (rport, tgt.port)
    p = start(spawn, lab, opts=("-R", spec))
    wait_for(lambda: listening(rport), what="the -R listener")
    with socket.create_connection(("127.0.0.1", rport), timeout=10) as s:
        assert s.makefile("rb").readline() == b"hi\n"
    sid = session_id(p)
    for pid in [p.pid] + ssh_pids(p.pid):
        os.kill(pid, signal.SIGKILL)
    p.close(force=True)
    ls_until(spawn, lab, r"detached")
    q = spawn(lab.limpet_cmd(sub="attach", args=[sid]))
    q.sendline("echo at''tached-$((2+3))")
    q.expect("attached-5")
    q.send("\r~#")
    q.expect(r"limpet forwards:\r\n  none\r\n")
    q.expect(r"the session listens on the server for:\r\n"
             r"  -R %s  \(1 connection\)\r\n" % spec)
    q.sendline("exit")
    assert ended(q) == 0
    tgt.close()


def test_users_clear_all_forwardings_clears_command_line_forwards(spawn, lab,
                                                                   run):
    """ClearAllForwardings yes in the user's ssh config clears every
    forward, -L on the command line included, as it does for ssh."""
    lport = sshlab.free_port()
    cfg = os.path.join(run.workdir, "ssh_config_clear")
    with open(lab.ssh_config) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.replace("Host %s\n" % sshlab.HOST,
                             "Host %s\n  ClearAllForwardings yes\n" %
                             sshlab.HOST, 1))
    argv = lab.limpet_cmd(opts=("-L", "%d:127.0.0.1:9" % lport))
    argv[argv.index(lab.ssh_config)] = cfg
    p = spawn(argv)
    p.sendline("echo rea''dy-$((40+2))")
    p.expect("ready-42")
    p.send("\r~#")
    p.expect(r"limpet forwards:\r\n  none\r\n")
    assert not listening(lport)
    p.sendline("exit")
    assert ended(p) == 0


def socks4(dport, port, name=None):
    """A SOCKS4 (or, with name, 4a) connection through -D to port."""
    s = socket.create_connection(("127.0.0.1", dport), timeout=10)
    ip = socket.inet_aton("0.0.0.1" if name else "127.0.0.1")
    s.sendall(b"\x04\x01" + struct.pack(">H", port) + ip + b"user\x00" +
              (name.encode() + b"\x00" if name else b""))
    rep = b""
    while len(rep) < 8:
        b = s.recv(8 - len(rep))
        assert b, "SOCKS4 reply cut short"
        rep += b
    assert rep[:2] == b"\x00\x5a", rep
    return s


def test_dynamic_forward_socks4_and_4a(spawn, lab):
    """-D speaks SOCKS4 (an address) and SOCKS4a (a name the server
    resolves) too, as ssh does; bytes go both ways exactly."""
    tgt = Target(half_close_target)
    dport = sshlab.free_port()
    p = start(spawn, lab, opts=("-D", str(dport)))
    wait_for(lambda: listening(dport), what="the SOCKS listener")
    check_half_close(0, lambda: socks4(dport, tgt.port))
    check_half_close(0, lambda: socks4(dport, tgt.port, "localhost"))
    # A bad request (command 2, BIND) is closed, limpet goes on.
    s = socket.create_connection(("127.0.0.1", dport), timeout=10)
    s.sendall(b"\x04\x02\x00\x50\x7f\x00\x00\x01\x00")
    assert recv_all(s, timeout=10)[0] == b""
    s.close()
    p.sendline("echo st''ill-$((1+1))")
    p.expect("still-2")
    p.sendline("exit")
    assert ended(p) == 0
    tgt.close()


def test_slow_name_resolution_does_not_stall_the_session(spawn, make_lab):
    """A -L target named by a host name the daemon needs 3 s to resolve
    (LIMPET_TEST_RESOLVE_MS, the test build's slow resolver): the name is
    resolved off the daemon's poll loop, so typing echoes at once while
    it resolves, and the connection goes through once it has."""
    lab = make_lab(env={"LIMPET_TEST_RESOLVE_MS": "3000"})

    def echo(c):
        c.sendall(c.recv(64))

    tgt = Target(echo)
    lport = sshlab.free_port()
    p = start(spawn, lab, opts=("-L", "%d:localhost:%d" % (lport, tgt.port)))
    wait_for(lambda: listening(lport), what="the -L listener")
    s = socket.create_connection(("127.0.0.1", lport), timeout=30)
    s.sendall(b"through")
    t0 = time.monotonic()
    worst = 0.0
    for i in range(5):
        t1 = time.monotonic()
        p.sendline("echo ti''ck-%d" % i)
        p.expect("tick-%d" % i, timeout=10)
        worst = max(worst, time.monotonic() - t1)
    typed = time.monotonic() - t0
    assert s.recv(64) == b"through"
    resolved = time.monotonic() - t0
    s.close()
    tgt.close()
    assert typed < 2.5, "typing waited for the resolver (%.2f s)" % typed
    assert worst < 1.0, "an echo took %.2f s" % worst
    assert resolved > 2.5, "the slow resolver was not used (%.2f s)" % \
        resolved
    p.sendline("exit")
    assert ended(p) == 0
