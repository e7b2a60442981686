"""A useful ls: name, the program in the foreground of the session's
terminal, where it is attached from or since when it is detached, how it
exited, the protocol its daemon speaks; --json for scripts."""

import json
import re
import shutil
import subprocess

import pexpect

import sshlab
from conftest import missing
from test_session import ended, server_procs, session_id, wait_for


def ls(spawn, lab, *opts):
    p = spawn(lab.limpet_cmd(sub="ls", opts=list(opts)), timeout=20)
    p.expect(pexpect.EOF)
    out = p.before
    assert ended(p) == 0, out
    return out


def test_ls_shows_program_name_where_and_json(spawn, lab, run):
    a = spawn(lab.limpet_cmd(opts=["-S", "edit"]))
    a.sendline("echo rea''dy-$((40+2))")
    a.expect("ready-42")
    sid = session_id(a)
    # The shell in the foreground, then vim.
    out = ls(spawn, lab)
    assert re.search(r"^%s\s+\d+\s+attached\s+edit\s+\S*sh\s+from "
                     r"127\.0\.0\.1\s" % sid, out, re.M), out
    if shutil.which("vim") is None:
        missing("vim not installed (apt-get install vim)")
    a.sendline("vim -u NONE -N -n -i NONE")
    wait_for(lambda: server_procs(lab, ["vim", "-u", "NONE", "-N", "-n",
                                        "-i", "NONE"]), what="vim")
    wait_for(lambda: re.search(r"^%s\s+\d+\s+attached\s+edit\s+vim\S*\s+"
                               r"from 127\.0\.0\.1\s" % sid, ls(spawn, lab),
                               re.M), what="vim in ls")
    # Typing in vim moves last_activity (seconds: it moves within two).
    before = [s for s in json.loads(ls(spawn, lab, "--json"))
              if s["id"] == sid][0]["last_activity"]
    a.send("i")

    def moved():
        a.send("x")
        return [s for s in json.loads(ls(spawn, lab, "--json"))
                if s["id"] == sid][0]["last_activity"] > before
    wait_for(moved, what="last_activity to move while typing in vim")
    a.send("\x1b")
    a.send("\r~.")
    assert ended(a) == 0
    out = ls(spawn, lab)
    assert re.search(r"^%s\s+\d+\s+detached\s+edit\s+vim\S*\s+since "
                     r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s" % sid, out,
                     re.M), out
    # The VERSION column: the limpet version of the daemon.
    ver = subprocess.run([sshlab.default_bin(), "--version"],
                         capture_output=True, text=True).stdout.split()[1]
    assert re.search(r"\sVERSION\s+COMMAND\r?$", out, re.M), out
    assert re.search(r"^%s\s.*\s%s\s+\(login shell\)\r?$"
                     % (sid, re.escape(ver)), out, re.M), out
    # A session whose program exited, kept for its status.
    argv = lab.limpet_cmd(sub="new") + ["exit 7"]
    argv.insert(2, "-d")
    r = subprocess.run(argv, env=run.env(), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    gone = r.stdout.strip()
    wait_for(lambda: re.search(r"^%s\s+\d+\s+exited\(7\)" % gone,
                               ls(spawn, lab), re.M), what="exit 7")
    j = json.loads(ls(spawn, lab, "--json"))
    by_id = {s["id"]: s for s in j}
    s = by_id[sid]
    assert s["name"] == "edit" and s["program"].startswith("vim")
    assert s["state"] == "detached" and s["from"] is None
    assert s["detached_since"] >= s["created"] > 0
    assert s["proto"] == "3" and s["command"] == ""
    # The limpet version of the daemon that runs it (limpet --version).
    assert s["version"] == subprocess.run(
        [sshlab.default_bin(), "--version"], capture_output=True,
        text=True).stdout.split()[1]
    e = by_id[gone]
    assert e["state"] == "exited" and e["status"] == 7
    assert e["name"] is None and e["command"] == "exit 7"
    k = spawn(lab.limpet_cmd(sub="kill", opts=["--all"]))
    k.expect("killed 2 sessions")
    assert ended(k) == 0
    assert json.loads(ls(spawn, lab, "--json")) == []
