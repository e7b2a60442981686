"""Named sessions: limpet -S NAME host attaches the session NAME or starts
it (as tmux new -A -s NAME); attach takes a name, an id or the unique
start of either; limpet new -d starts a detached session in one ssh
connection and prints its id."""

import re
import subprocess

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
