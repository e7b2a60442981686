#!/usr/bin/python3
"""Measure the cost of many detached sessions (issue 11 goal 5).

Starts a throwaway sshd lab, creates N sessions with `limpet new -d`
(PAR at a time, as a script would), times that and `limpet ls`, and sums
the PSS of every session daemon from /proc/PID/smaps_rollup.

usage: bench/scale_probe.py [N] [PAR] [BIN]
PROBE_MANY=1: one `limpet new -d -n N` instead (PROBE_CMD: the command).
"""
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests",
                                "e2e"))
import sshlab  # noqa: E402


def pss_kib(pid):
    """PSS of one process in KiB (0 if it is gone)."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    par = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    b = os.path.abspath(sys.argv[3] if len(sys.argv) > 3 else "limpet")
    with tempfile.TemporaryDirectory() as d:
        lab = sshlab.SshLab(d, server_log=False)
        try:
            mux = []
            if os.environ.get("PROBE_MUX"):
                # One ssh connection shared by every command (what a
                # script creating many sessions would use).
                mux = ["-o", "ControlMaster=auto", "-o",
                       "ControlPath=" + os.path.join(d, "mux"), "-o",
                       "ControlPersist=60"]

            def new(i):
                # PROBE_NONAME=1: unnamed sessions (a name is looked up
                # among all sessions first).
                name = [] if os.environ.get("PROBE_NONAME") else \
                    ["-S", "s%d" % i]
                argv = lab.limpet_cmd(sub="new", opts=name + mux, bin=b)
                argv.insert(2, "-d")
                r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True,
                                   timeout=60)
                if r.returncode != 0:
                    raise RuntimeError(r.stderr.strip())
            t0 = time.monotonic()
            if os.environ.get("PROBE_MANY"):
                # One `limpet new -d -n N`: every session over one
                # connection (PROBE_CMD: their command, e.g. "sleep 1000").
                argv = lab.limpet_cmd(sub="new", bin=b)
                argv[2:2] = ["-d", "-n", str(n)]
                argv += os.environ.get("PROBE_CMD", "").split()
                r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True,
                                   timeout=600)
                if r.returncode != 0:
                    raise RuntimeError(r.stderr.strip())
                par = 1
            else:
                with concurrent.futures.ThreadPoolExecutor(par) as ex:
                    list(ex.map(new, range(n)))
            create = time.monotonic() - t0
            time.sleep(1)
            argv = lab.limpet_cmd(sub="ls", bin=b)
            best = None
            for _ in range(3):
                t0 = time.monotonic()
                r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True,
                                   timeout=60)
                t = time.monotonic() - t0
                best = t if best is None else min(best, t)
            lines = len(r.stdout.splitlines())
            t0 = time.monotonic()
            subprocess.run(lab.ssh_argv("true"), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
            ssh_t = time.monotonic() - t0
            pids = lab.session_pids()
            pss = [pss_kib(p) for p in pids]
            fds = [len(os.listdir("/proc/%d/fd" % p)) for p in pids[:1]]
            print("sessions %d (daemons %d, ls lines %d)" % (n, len(pids),
                                                              lines))
            print("create %.2f s (%.1f ms each, %d parallel)"
                  % (create, 1000 * create / n, par))
            print("ls best of 3 %.3f s (ssh true %.3f s)" % (best, ssh_t))
            print("PSS per daemon mean %.0f KiB max %d KiB; fds %s"
                  % (sum(pss) / max(1, len(pss)), max(pss or [0]), fds))
        finally:
            lab.cleanup()


if __name__ == "__main__":
    main()
