"""Named sessions: limpet -S NAME host attaches the session NAME or starts
it (as tmux new -A -s NAME); attach takes a name, an id or the unique
start of either; limpet new -d starts a detached session in one ssh
connection and prints its id."""

import fcntl
import json
import os
import re
import signal
import subprocess
import time

import pexpect

import sshlab
from test_session import ended, session_id, wait_for


def detach(p):
    p.sendline("")
    p.send("~.")
    assert ended(p) == 0


def ready(p):
    p.sendline("echo rea''dy-$((40+2))")
    p.expect("ready-42")
    return p


def test_dash_S_starts_then_attaches(spawn, lab):
    a = ready(spawn(lab.limpet_cmd(opts=["-S", "work"])))
    sid = session_id(a)
    detach(a)
    # The same name again: the same session, not a new one.
    b = ready(spawn(lab.limpet_cmd(opts=["-Swork"])))
    assert session_id(b) == sid
    detach(b)
    # Another name: another session.
    c = ready(spawn(lab.limpet_cmd(opts=["-S", "play"])))
    assert session_id(c) != sid
    detach(c)
    # attach by name, and by the unique start of a name.
    for what in ("work", "wor"):
        d = spawn(lab.limpet_cmd(sub="attach", args=[what]))
        assert session_id(d) == sid
        detach(d)
    # by the unique start of its id
    d = spawn(lab.limpet_cmd(sub="attach", args=[sid[:6]]))
    assert session_id(d) == sid
    d.sendline("exit 3")
    assert ended(d) == 3


def test_attach_by_ambiguous_or_unknown_name(spawn, lab):
    for name in ("alpha1", "alpha2"):
        detach(ready(spawn(lab.limpet_cmd(opts=["-S", name]))))
    q = spawn(lab.limpet_cmd(sub="attach", args=["alpha"]))
    q.expect("2 sessions on .* start with alpha")
    assert ended(q) == 255
    q = spawn(lab.limpet_cmd(sub="attach", args=["nosuchname"]))
    q.expect("no session nosuchname")
    assert ended(q) == 255
    q = spawn(lab.limpet_cmd(opts=["-S", "bad/name"]))
    q.expect("-S wants a session name")
    assert ended(q) == 255


def test_new_detached_fifty(run, lab, spawn):
    argv = lab.limpet_cmd(sub="new") + ["sleep", "300"]
    argv.insert(2, "-d")
    ids = []
    for batch in range(5):
        procs = [subprocess.Popen(argv, env=run.env(),
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for _ in range(10)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            assert re.fullmatch(r"[a-z0-9]+\n", out), out
            ids.append(out.strip())
    assert len(set(ids)) == 50
    ls = spawn(lab.limpet_cmd(sub="ls"), timeout=30)
    ls.expect(pexpect.EOF)
    out = ls.before
    for i in ids:
        assert re.search(r"^%s\s+\d+\s+detached\s.*sleep 300" % i, out,
                         re.M), out
    k = spawn(lab.limpet_cmd(sub="kill", opts=["--all"]), timeout=30)
    k.expect("killed 50 sessions")
    assert ended(k) == 0
    wait_for(lambda: lab.session_pids() == [], timeout=20,
             what="daemons to end")


def test_new_detached_named_is_attached_later(run, lab, spawn):
    argv = lab.limpet_cmd(sub="new", opts=["-S", "bg"]) + [
        "echo hi-$((1+1)); sleep 300"]
    argv.insert(2, "-d")
    r = subprocess.run(argv, env=run.env(), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    a = spawn(lab.limpet_cmd(sub="attach", args=["bg"]))
    a.expect("hi-2")
    a.sendcontrol("c")
    assert ended(a) == 130


def new_detached(lab, opts=(), cmd=("sleep", "300")):
    argv = lab.limpet_cmd(sub="new", opts=list(opts)) + list(cmd)
    argv.insert(2, "-d")
    return argv


def ls_json(lab, run):
    r = subprocess.run(lab.limpet_cmd(sub="ls", opts=["--json"]),
                       env=run.env(), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_concurrent_dash_S_make_one_session(run, lab, spawn):
    # Ten clients ask for the same name at once: one session starts, the
    # others find it (each new -d prints the id of that one session).
    # Another session's daemon is stopped: a lookup that asks every
    # daemon waits 3 s for it, which lets all ten look before any starts.
    r = subprocess.run(new_detached(lab), env=run.env(),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    stopped = lab.session_pids()[0]
    os.kill(stopped, signal.SIGSTOP)
    try:
        race_one_name(run, lab, spawn)
    finally:
        os.kill(stopped, signal.SIGCONT)


def race_one_name(run, lab, spawn):
    procs = [subprocess.Popen(new_detached(lab, ["-S", "race"], ["sh"]),
                              env=run.env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(10)]
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, err
        ids.append(out.strip())
    assert len(set(ids)) == 1, ids
    named = [s for s in ls_json(lab, run) if s["name"] == "race"]
    assert [s["id"] for s in named] == [ids[0]], named
    assert len(lab.session_pids()) == 2
    # An interactive -S of that name attaches the same session.
    a = ready(spawn(lab.limpet_cmd(opts=["-S", "race"])))
    assert session_id(a) == ids[0]
    detach(a)


def test_name_lock_is_waited_for_and_stale_names_do_not_block(run, lab,
                                                              spawn):
    r = subprocess.run(new_detached(lab, ["-S", "held"]), env=run.env(),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    first = r.stdout.strip()
    path = os.path.join(lab.sessions, "held.name")
    with open(path) as f:
        assert f.read().strip() == first
    # The session dies without a word (kill -9): its name file stays and
    # names a session that is gone.  Another relay holds the name's lock
    # (as while it starts the session) for a second: the next -S waits
    # for it, then starts a new session instead of the dead one.
    pid = lab.session_pids()[0]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not sshlab.alive(pid), what="daemon gone")
    fd = os.open(path, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    t = time.monotonic()
    p = subprocess.Popen(new_detached(lab, ["-S", "held"]), env=run.env(),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert p.poll() is None, p.communicate()
    os.close(fd)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert time.monotonic() - t >= 1.5
    second = out.strip()
    assert second != first
    with open(path) as f:
        assert f.read().strip() == second
    # Its session ends: the name file goes with it.
    k = spawn(lab.limpet_cmd(sub="kill", args=[second]), timeout=30)
    k.expect("killed 1 session")
    assert ended(k) == 0
    wait_for(lambda: not os.path.exists(path), what="name file removed")


def test_new_detached_count(run, lab, spawn):
    r = subprocess.run(new_detached(lab, ["-n", "30"], ["sh"]),
                       env=run.env(),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ids = r.stdout.split()
    assert len(ids) == 30 and len(set(ids)) == 30, ids
    assert all(re.fullmatch(r"[a-z0-9]+", i) for i in ids), ids
    listed = {s["id"]: s for s in ls_json(lab, run)}
    for i in ids:
        assert listed[i]["state"] == "detached", listed[i]
        assert listed[i]["command"] == "sh"
    # Each is a session of its own: attach one and use it.
    a = ready(spawn(lab.limpet_cmd(sub="attach", args=[ids[7]])))
    assert session_id(a) == ids[7]
    detach(a)
    for bad, msg in ((["-n", "0"], "wants a count from 1 to 1000"),
                     (["-nx"], "wants a count"),
                     (["-n", "2", "-S", "two"], "leave out -S or -n")):
        q = subprocess.run(new_detached(lab, bad), env=run.env(),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30)
        assert q.returncode == 255 and msg in q.stderr, (bad, q.stderr)


def test_new_detached_count_from_a_relay_without_many(make_lab, run):
    # A relay of protocol 2 knows no MANY: it starts one session and
    # bridges its daemon; the client asks again until it has them all.
    lab = make_lab(env={"LIMPET_TEST_PROTO_VERSION": "2"})
    r = subprocess.run(new_detached(lab, ["-n", "3"]), env=run.env(),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ids = r.stdout.split()
    assert len(set(ids)) == 3, ids
    wait_for(lambda: len(lab.session_pids()) == 3, what="three daemons")


def test_dash_S_of_a_stopped_session_gets_no_twin(run, lab):
    r = subprocess.run(new_detached(lab, ["-S", "frozen"]), env=run.env(),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    sid = r.stdout.strip()
    pid = lab.session_pids()[0]
    os.kill(pid, signal.SIGSTOP)
    try:
        q = subprocess.run(new_detached(lab, ["-S", "frozen"]),
                           env=run.env(), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert q.returncode == 255, q
    assert "session frozen (%s) on" % sid in q.stderr
    assert "does not answer" in q.stderr
    assert lab.session_pids() == [pid]
