"""End-to-end tests of `limpet doctor --probe-nat`, and the founding story.

A NetLab (tests/netlab.py) puts the client behind a NAT router whose
conntrack forgets idle flows after a few seconds; a real sshd runs in the
server namespace.  --probe-nat, with test-sized idle times, must bracket
that timeout.  The founding story puts all three classic mistakes on one
server and checks that doctor names each with its file and line, and that
--fix cures the ones that are the user's, with backups, once.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pexpect
import pytest

import sshlab
from test_doctor import (EtcLab, LoginUser, doctor, doctor_json, finding,
                         line_of, read, user_ssh_config)

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import netlab  # noqa: E402

NAT_TIMEOUT = 3


@pytest.fixture
def nat():
    """A client-router-server NetLab with a short NAT timeout."""
    why = netlab.unavailable()
    if why:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(why + " (CI=true: required)", pytrace=False)
        pytest.skip(why)
    lab = netlab.NetLab(nat_timeout=NAT_TIMEOUT)
    yield lab
    lab.close()


def test_probe_nat_brackets_the_timeout(limpet_bin, nat, make_lab):
    sshd = make_lab(netns=nat.server, listen_addr=nat.server_addr)
    t0 = time.monotonic()
    r = doctor(limpet_bin, "--json", "--probe-nat", "--probe-times",
               "1,2,4", "--probe-wait", "1", "-F", sshd.ssh_config, "lab",
               netns=nat.client)
    took = time.monotonic() - t0
    rep = json.loads(r.stdout)
    f = finding(rep, "path", "NAT/firewall idle timeout")
    assert f["value"] == "between 2 s and 4 s", json.dumps(f, indent=1)
    assert "dropped after between 2 s and 4 s" in f["why"]
    # The lab's client keeps Debian's 300 s keepalive: far too slow.
    assert f["verdict"] == "kills" and f["seconds"] == 4
    # limpet's 25 s heartbeat is too slow for this path as well.
    assert f["limpet_verdict"] == "warning"
    assert "--keepalive 1" in f["limpet"]
    c = finding(rep, "client", "ServerAliveInterval")
    assert c["verdict"] == "warning" and "ServerAliveInterval 1" in c["fix"]
    assert r.returncode == 1
    assert "probing the path" in r.stderr
    assert took < 30


def test_probe_nat_ctrl_c_reports_what_is_known(limpet_bin, nat, make_lab,
                                                spawn):
    sshd = make_lab(netns=nat.server, listen_addr=nat.server_addr)
    child = spawn([limpet_bin, "doctor", "--probe-nat", "--probe-times",
                   "2,60", "--probe-wait", "2", "-F", sshd.ssh_config,
                   "lab"], netns=nat.client, timeout=40)
    child.expect("probing the path with 2 idle connections")
    # Once the 2 s probe has answered, Ctrl-C.
    child.expect("1 survived", timeout=15)
    child.sendintr()
    child.expect("NAT/firewall idle timeout none up to 2 s")
    child.expect("stopped early with Ctrl-C")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus in (0, 1)


def test_founding_story(limpet_bin, nat, run, sshd_path):
    """Client without keepalives behind a NAT, ClientAlive lines in the
    server's ssh_config, a TMOUT in the shell's startup files."""
    os.chmod(run.workdir, 0o755)
    server_ssh_config = os.path.join(run.workdir, "server_ssh_config")
    with open(server_ssh_config, "w") as f:
        f.write("Host *\n"
                "    SendEnv LANG LC_*\n"
                "    ClientAliveInterval 60\n"
                "    ClientAliveCountMax 3\n")
    os.chmod(server_ssh_config, 0o644)
    lab = EtcLab(os.path.join(run.workdir, "lab"), start=False,
                 netns=nat.server, listen_addr=nat.server_addr,
                 binds=[(server_ssh_config, "/etc/ssh/ssh_config")],
                 sshd_extra=["Match User ldoc*",
                             "  AuthorizedKeysFile .ssh/authorized_keys"])
    run.labs.append(lab)
    lab.start()
    # Like Debian's /etc/ssh/sshd_config, readable by every user.
    os.chmod(lab.basedir, 0o755)
    os.chmod(lab.sshd_config, 0o644)
    user = LoginUser(lab)
    try:
        rc = user.append(".bashrc", "TMOUT=600\n")
        cfg = user_ssh_config(lab, os.path.join(run.workdir, "cfg"),
                              user.name)
        probe = ["--probe-nat", "--probe-times", "1,2,4", "--probe-wait",
                 "1"]
        cfg_before, rc_before = read(cfg), read(rc)
        # One run: the findings as JSON on stdout, then --fix applies the
        # user's fixes (its dialogue goes to stderr with --json).
        r = doctor(limpet_bin, "--json", "--fix", "--yes", *probe, "-F",
                   cfg, "story", netns=nat.client)
        status, rep = r.returncode, json.loads(r.stdout)
        assert status == 1
        # 1. The client sends no keepalives, and the path drops idle flows.
        c = finding(rep, "client", "ServerAliveInterval")
        assert c["value"] == "0" and c["verdict"] == "warning"
        assert c["fix_file"] == cfg and c["fix_by"] == "user"
        p = finding(rep, "path", "NAT/firewall idle timeout")
        assert p["verdict"] == "kills"
        assert p["value"] == "between 2 s and 4 s"
        # 2. ClientAlive* in the server's ssh_config.
        wrong = [f for f in rep["findings"] if f["layer"] == "server" and
                 f["check"] == "server keyword in the server's ssh_config"]
        assert [(f["value"], f["file"], f["line"]) for f in wrong] == [
            ("ClientAliveInterval", "/etc/ssh/ssh_config", 3),
            ("ClientAliveCountMax", "/etc/ssh/ssh_config", 4)]
        assert all(f["fix_by"] == "admin" for f in wrong)
        assert "sshd_config.d" in wrong[0]["fix"]
        assert [b["value"] for b in rep["broken"]] == [
            "ClientAliveInterval", "ClientAliveCountMax"]
        s = finding(rep, "server", "ClientAliveInterval")
        assert s["value"] == "0, ClientAliveCountMax 3"
        # 3. TMOUT in the user's ~/.bashrc.
        t = finding(rep, "shell", "TMOUT")
        assert t["verdict"] == "kills" and t["seconds"] == 600
        assert (t["file"], t["line"]) == (rc, line_of(rc, "TMOUT=600"))
        assert t["fix_by"] == "user"
        ranked = [x["check"] for x in rep["first_to_end"]["ssh"]]
        assert ranked.index("NAT/firewall idle timeout") < \
            ranked.index("TMOUT")
        assert "TMOUT" in [x["check"] for x in
                           rep["first_to_end"]["limpet"]]

        # --fix cured what the user may cure and printed the rest.
        assert "ServerAliveInterval 1" in read(cfg)
        assert read(cfg + ".limpet-doctor.bak") == cfg_before
        assert "# TMOUT=600" in read(rc)
        assert read(rc + ".limpet-doctor.bak") == rc_before
        assert read(server_ssh_config).count("ClientAliveInterval 60") == 1
        assert not os.path.exists(server_ssh_config + ".limpet-doctor.bak")
        assert "2 changes applied" in r.stderr, r.stderr
        admin = r.stderr[r.stderr.index("For the admin"):
                         r.stderr.index("Fixes")]
        assert "/etc/ssh/ssh_config (on the server) line 3" in admin

        # A second run changes nothing (its JSON shows the cure).
        cfg_after, rc_after = read(cfg), read(rc)
        r = doctor(limpet_bin, "--json", "--fix", "--yes", "-F", cfg,
                   "story", netns=nat.client)
        assert "nothing for you to change" in r.stderr, r.stderr
        assert read(cfg) == cfg_after and read(rc) == rc_after
        assert not os.path.exists(cfg + ".limpet-doctor.bak.1")
        assert not os.path.exists(rc + ".limpet-doctor.bak.1")
        rep = json.loads(r.stdout)
        assert finding(rep, "shell", "TMOUT")["value"] == "unset"
        assert finding(rep, "client", "ServerAliveInterval")["value"] == "1"

        # And the cure is real: a session silent for longer than the NAT
        # keeps its flow now.
        r = subprocess.run(["ip", "netns", "exec", nat.client, "ssh", "-F",
                            cfg, "story", "sleep 5; echo still-here"],
                           capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        assert "still-here" in r.stdout, r.stderr
    finally:
        user.remove()
