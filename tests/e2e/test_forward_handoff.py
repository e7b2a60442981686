"""The relay's handoff of sshd's pipes to the session daemon (docs/
ARCHITECTURE.md "The relay's handoff"): once attached, the relay passes
its stdin and stdout to the daemon and reads and writes no more, and a
-L transfer stays byte-exact across ssh kills with the handoff in use.
"""

import os

import pexpect
import socket
import threading
import time

from test_forward import (MB, Target, chunks_of, listening, pump)
from test_session import (ended, kill_ssh, session_id, ssh_pids, start,
                          wait_for)
import sshlab


def relay_pids(lab):
    """The `limpet relay` processes of this lab's sshd (by the session
    directory sshd gives them: another test's relays, running beside this
    one, are not ours to wait for)."""
    out = []
    marker = ("LIMPET_DIR=%s" % lab.sessions).encode()
    for d in sshlab.pids_with_env(marker):
        try:
            with open("/proc/%d/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) > 1 and argv[1] == b"relay" and \
                os.path.basename(argv[0]).startswith(b"limpet"):
            out.append(d)
    return out


def io_bytes(pid):
    """(rchar, wchar) of pid, from /proc/PID/io."""
    with open("/proc/%d/io" % pid) as f:
        kv = dict(ln.split(": ") for ln in f.read().splitlines())
    return int(kv["rchar"]), int(kv["wchar"])


def handoffs(lab):
    return lab.server_log_text().count("handoff: stdout passed")


def test_handoff_moves_bytes_past_the_relay(spawn, lab):
    """20 MB each way through -L while ssh is killed 3 times: byte-exact,
    every connection's relay hands its pipes over, and the relay of the
    last one reads and writes nothing while the bytes go by."""
    up, up_sha = chunks_of(b"up", 10, 2 * MB)
    down, down_sha = chunks_of(b"down", 10, 2 * MB)
    cut_at = {2, 5, 8}
    sent = [0]
    server_res = {}

    def gate(i):
        wait_for(lambda: sent[0] >= i, timeout=60, what="chunk %d" % i)

    tgt = Target(lambda c: pump(c, down, gate, server_res))
    lport = sshlab.free_port()
    p = start(spawn, lab, opts=("-L", "%d:127.0.0.1:%d" % (lport,
                                                           tgt.port)),
              timeout=30)
    wait_for(lambda: listening(lport), what="the listener")
    wait_for(lambda: handoffs(lab) >= 1, what="the first handoff")
    s = socket.create_connection(("127.0.0.1", lport), timeout=60)
    client_res = {}
    t = threading.Thread(target=pump, args=(s, up, gate, client_res),
                         daemon=True)
    t.start()
    wait_for(lambda: tgt.conns == 1, what="the target's connection")
    kills = 0
    for i in range(10):
        if i in cut_at:
            killed = ssh_pids(p.pid)
            assert kill_ssh(p) >= 1
            kills += 1
            wait_for(lambda: [x for x in ssh_pids(p.pid)
                              if x not in killed],
                     timeout=30, what="a new ssh after cut %d" % kills)
            wait_for(lambda: handoffs(lab) >= kills + 1, timeout=30,
                     what="the handoff after cut %d" % kills)
        if i == 9:
            # The last connection's relay: nothing goes through it.
            relays = relay_pids(lab)
            assert relays, "no relay"
            before = {r: io_bytes(r) for r in relays}
        sent[0] = i + 1
        wait_for(lambda: client_res.get("got", 0) >= (i + 1) * 2 * MB and
                 server_res.get("got", 0) >= (i + 1) * 2 * MB,
                 timeout=30, what="chunk %d through" % i)
    t.join(120)
    wait_for(lambda: "sha" in server_res, timeout=60, what="server done")
    for r, (rc, wc) in before.items():
        try:
            rc2, wc2 = io_bytes(r)
        except OSError:
            continue
        assert rc2 - rc < 64 * 1024 and wc2 - wc < 64 * 1024, \
            "relay %d moved %d/%d bytes" % (r, rc2 - rc, wc2 - wc)
    s.close()
    assert not tgt.errors, tgt.errors
    assert tgt.conns == 1
    assert client_res["len"] == 20 * MB and client_res["sha"] == down_sha
    assert server_res["len"] == 20 * MB and server_res["sha"] == up_sha
    tgt.close()
    p.sendline("exit")
    assert ended(p) == 0
    assert "bad HANDOFF" not in lab.server_log_text()


def test_daemon_crash_after_handoff_ends_the_connection(spawn, lab):
    """A daemon killed while it holds sshd's pipes: the relay, which holds
    nothing else, exits at once, sshd ends the connection, and the client
    does what it does when a session vanishes (says so and exits)."""
    p = start(spawn, lab)
    sid = session_id(p)
    wait_for(lambda: handoffs(lab) >= 1, what="the handoff")
    relays = relay_pids(lab)
    assert relays
    with open(os.path.join(lab.sessions, sid + ".pid")) as f:
        dpid = int(f.read())
    t0 = time.monotonic()
    os.kill(dpid, 9)
    wait_for(lambda: not [r for r in relays if os.path.exists(
        "/proc/%d" % r) and open("/proc/%d/stat" % r).read().split()[2]
        != "Z"], timeout=5, what="the relay to exit")
    assert time.monotonic() - t0 < 5
    p.expect(["ended", "no session", "gone"], timeout=30)
    ended(p, timeout=30)


def test_takeover_after_handoff(spawn, lab):
    """A second client takes the session over: the first, whose relay
    handed off, is told so and its relay exits; the second works."""
    p = start(spawn, lab)
    sid = session_id(p)
    wait_for(lambda: handoffs(lab) >= 1, what="the first handoff")
    first = relay_pids(lab)
    q = spawn(lab.limpet_cmd(sub="attach", args=[sid]))
    p.expect("taken over by another client")
    assert ended(p) == 0
    wait_for(lambda: not [r for r in first if r in relay_pids(lab)],
             timeout=5, what="the first relay to exit")
    assert session_id(q) == sid
    assert handoffs(lab) >= 2
    q.sendline("exit")
    assert ended(q) == 0


def test_without_the_handoff_the_relay_splices(spawn, make_lab):
    """A relay that does not ask (LIMPET_NO_HANDOFF, as a relay from
    before the handoff) is offered nothing and copies as ever: 4 MB each
    way through -L, byte-exact, across one ssh kill."""
    lab = make_lab(env={"LIMPET_NO_HANDOFF": "1"})
    up, up_sha = chunks_of(b"up", 2, 2 * MB)
    down, down_sha = chunks_of(b"down", 2, 2 * MB)
    sent = [0]
    server_res = {}

    def gate(i):
        wait_for(lambda: sent[0] >= i, timeout=60, what="chunk %d" % i)

    tgt = Target(lambda c: pump(c, down, gate, server_res))
    lport = sshlab.free_port()
    p = start(spawn, lab, opts=("-L", "%d:127.0.0.1:%d" % (lport,
                                                           tgt.port)),
              timeout=30)
    wait_for(lambda: listening(lport), what="the listener")
    s = socket.create_connection(("127.0.0.1", lport), timeout=60)
    client_res = {}
    t = threading.Thread(target=pump, args=(s, up, gate, client_res),
                         daemon=True)
    t.start()
    sent[0] = 1
    wait_for(lambda: client_res.get("got", 0) >= 2 * MB and
             server_res.get("got", 0) >= 2 * MB, timeout=30,
             what="chunk 0 through")
    killed = ssh_pids(p.pid)
    assert kill_ssh(p) >= 1
    wait_for(lambda: [x for x in ssh_pids(p.pid) if x not in killed],
             timeout=30, what="a new ssh")
    sent[0] = 2
    t.join(120)
    wait_for(lambda: "sha" in server_res, timeout=60, what="server done")
    s.close()
    assert client_res["len"] == 4 * MB and client_res["sha"] == down_sha
    assert server_res["len"] == 4 * MB and server_res["sha"] == up_sha
    tgt.close()
    p.sendline("exit")
    assert ended(p) == 0
    assert "handoff" not in lab.server_log_text()
