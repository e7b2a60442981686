"""make try: a limpet session to a throwaway sshd on this machine.

Starts a private sshd on a loopback port (own keys, own config, in a fresh
temporary directory), runs ./limpet to it on your terminal, and on the way
out, however that happens, stops sshd and the session daemons and removes
the directory.  Nothing outside the temporary directory is touched (as
root, /run/sshd is created if missing, as Debian's service would).

    /usr/bin/python3 tests/tryit.py [--keep] [--limpet PATH] [-- command]
"""

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "e2e"))

import sshlab  # noqa: E402

HELPERS = {
    "cut": ("Kill the ssh connection (kill -9), like a dropped link.",
            "KILL"),
    "freeze": ("Stop the ssh connection (kill -STOP), like a network "
               "that silently stops carrying packets.", "STOP"),
    "thaw": ("Let a frozen ssh connection run again (kill -CONT).",
             "CONT"),
}

HELPER_SCRIPT = """#!/bin/sh
# %(what)s
# Finds the ssh that the limpet client runs right now, and signals it.
if ! client=$(cat %(pidfile)s 2>/dev/null); then
	echo "limpet is not running"
	exit 1
fi
ps -o pid=,comm= --ppid "$client" | while read -r pid comm; do
	if [ "$comm" = ssh ]; then
		echo "kill -%(sig)s $pid   (the ssh of limpet pid $client)"
		kill -%(sig)s "$pid"
		exit 3
	fi
done
[ $? -eq 3 ] && exit 0
echo "limpet (pid $client) has no ssh right now: it is between connections"
exit 1
"""


def need_tools(limpet):
    """Names of what is missing, with how to get it."""
    missing = []
    if sshlab.find_sshd() is None:
        missing.append("sshd (apt-get install openssh-server)")
    for tool, pkg in (("ssh", "openssh-client"),
                      ("ssh-keygen", "openssh-client")):
        if shutil.which(tool) is None:
            missing.append("%s (apt-get install %s)" % (tool, pkg))
    if not os.access(limpet, os.X_OK):
        missing.append("%s (run make first)" % limpet)
    return missing


def write_helpers(workdir, pidfile):
    """Small scripts in workdir that cut, freeze and thaw the link."""
    paths = {}
    for name, (what, sig) in HELPERS.items():
        path = os.path.join(workdir, name)
        with open(path, "w") as f:
            f.write(HELPER_SCRIPT % {"what": what, "sig": sig,
                                     "pidfile": pidfile})
        os.chmod(path, 0o755)
        paths[name] = path
    return paths


def argv_shown(argv):
    """argv with the program as typed from here: ./limpet, not limpet
    (which the shell would look up on the PATH).  Other words, such as
    the server's path to limpet, stay as they are."""
    prog = os.path.relpath(argv[0], os.getcwd())
    if prog.startswith(".."):
        prog = argv[0]
    elif "/" not in prog:
        prog = "./" + prog
    return [prog] + list(argv[1:])


def shell_words(argv):
    """One line that a shell reads back as argv."""
    return " ".join(shlex.quote(a) for a in argv)


def banner(lab, helpers, limpet):
    """What this is and how to see it work."""
    text = """\
    limpet try-out
    ==============
    A throwaway sshd now listens on 127.0.0.1 port %(port)d with its own
    keys (in %(dir)s).  limpet opens a shell there through ssh, as it would
    to any server:

        %(cmd)s

    The session survives the connection.  In another terminal, try:

        %(cut)s
            kill -9 the ssh connection: limpet reconnects at once and
            nothing typed or printed is lost
        %(freeze)s
            freeze it (kill -STOP), like a network gone silent: after a
            few seconds without an answer limpet gives up on it and
            connects again (%(thaw)s lets it go)

    Something that keeps printing shows it best:
        while :; do date; sleep 1; done

    Escapes (typed after Enter): ~. detach (the session keeps running
    and you may attach again), ~r reconnect now, ~s status, ~? help.
    `exit` ends the shell and with it the session.

    When you leave, sshd, the session and %(dir)s are removed.
    """ % {
        "port": lab.port, "dir": lab.basedir,
        "cmd": shell_words(argv_shown(lab.limpet_cmd(bin=limpet))),
        "cut": shlex.quote(helpers["cut"]),
        "freeze": shlex.quote(helpers["freeze"]),
        "thaw": shlex.quote(helpers["thaw"]),
    }
    print(textwrap.dedent(text))


def offer_attach():
    """After a detach: True if the user wants the session back."""
    try:
        answer = input("The session still runs on the lab server.  "
                       "Enter: attach again (limpet attach), q: quit. ")
    except EOFError:
        return False
    return answer.strip().lower() not in ("q", "quit", "n", "no")


class Leave(Exception):
    """Raised from SIGTERM/SIGHUP so that the cleanup runs."""


def on_signal(signum, frame):
    raise Leave(signal.Signals(signum).name)


def run_client(argv, pidfile):
    """Run limpet on this terminal; returns its exit status."""
    # The client puts the terminal in raw mode, so ^C reaches the remote
    # shell; until then a SIGINT must not kill this script (and skip the
    # cleanup).  A Python handler, unlike SIG_IGN, is not inherited.
    old = signal.signal(signal.SIGINT, lambda s, f: None)
    try:
        proc = subprocess.Popen(argv)
        with open(pidfile, "w") as f:
            f.write("%d\n" % proc.pid)
        try:
            return proc.wait()
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            os.unlink(pidfile)
    finally:
        signal.signal(signal.SIGINT, old)


def main():
    ap = argparse.ArgumentParser(
        description="A limpet session to a throwaway sshd on loopback.")
    ap.add_argument("--limpet", default=os.path.join(REPO, "limpet"),
                    help="the limpet binary (default: ./limpet)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (logs, keys)")
    ap.add_argument("command", nargs="*",
                    help="remote command (default: your login shell)")
    args = ap.parse_args()
    limpet = os.path.abspath(args.limpet)

    missing = need_tools(limpet)
    if missing:
        print("make try needs:\n  " + "\n  ".join(missing),
              file=sys.stderr)
        return 1
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        print("make try wants a terminal (stdin and stdout)",
              file=sys.stderr)
        return 1

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    workdir = tempfile.mkdtemp(prefix="limpet-try-", dir="/tmp")
    lab = None
    status = 1
    try:
        try:
            lab = sshlab.SshLab(workdir)
        except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
            print("could not start the throwaway sshd: %s" % e,
                  file=sys.stderr)
            return 1
        pidfile = os.path.join(workdir, "client.pid")
        helpers = write_helpers(workdir, pidfile)
        banner(lab, helpers, limpet)
        argv = lab.limpet_cmd(bin=limpet, args=args.command)
        while True:
            status = run_client(argv, pidfile)
            print("\nlimpet exited with status %d" % status)
            if not lab.session_pids() or not offer_attach():
                break
            argv = lab.limpet_cmd(sub="attach", bin=limpet)
    except Leave as e:
        print("\n%s: cleaning up" % e, file=sys.stderr)
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
    finally:
        if lab is not None:
            left = lab.session_pids()
            lab.cleanup()
            if left:
                print("ended %d session daemon(s) on the lab server" %
                      len(left))
        if args.keep:
            print("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
