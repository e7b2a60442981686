"""limpet benchmarks: speed, recovery and cost, side by side with ssh, mosh
and autossh+tmux, on the same emulated networks (issue 3).

    make bench            # full run, about 50 minutes
    make bench QUICK=1    # smaller samples, 5-7 minutes
    /usr/bin/python3 bench/run.py [--quick] [--only latency,cut,...]

Builds network labs in namespaces (tests/netlab.py) with a real sshd in
the server namespace (tests/e2e/sshlab.py), runs every contender through
the scenarios of bench/scenarios.py (and scen_net.py, scen_screen.py),
prints a table and writes bench/results/latest.md and PNG plots;
docs/benchmarks.md gets the same results between its markers.  A quick
run writes quick.md/quick.json/quick-*.png and a full run of only some
scenarios or contenders partial.*: neither touches latest.* or the doc.
Needs root.  It fails only if it cannot run at all; a contender that
cannot run is reported as skipped or failed.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import contenders as C  # noqa: E402
import report  # noqa: E402
import scenarios  # noqa: E402
import scen_net  # noqa: E402
import scen_screen  # noqa: E402
import fwd_bench  # noqa: E402

# Every scenario, in the order a full run takes them (forwarding: issue 9).
SCENARIOS = scenarios.ALL + scen_net.ALL + scen_screen.ALL + fwd_bench.ALL

RESULTS = os.path.join(HERE, "results")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
BEGIN = "<!-- bench results begin -->"
END = "<!-- bench results end -->"


class Bench:
    """Settings, contenders and the rows recorded so far."""

    def __init__(self, quick, limpet):
        self.quick = quick
        self.limpet = limpet
        self.results = {}
        self.samples = {}
        self.notes = []
        self.tmp = tempfile.mkdtemp(prefix="limpet-bench-data-", dir="/tmp")
        os.chmod(self.tmp, 0o755)
        if quick:
            self.keys = 10
            self.delays = (0, 100)
            self.bulk_bytes = 10 * 1000 * 1000
            self.bulk_reps = 1
            self.bulk_timeout = 60
            self.flood_cap = 10
            self.cut_seconds = 6
            self.short_cut = None
            self.cut_after = 3
            self.back_cap = 10
            self.idle_seconds = 12
            self.scale_sessions = 24
        else:
            self.keys = 60
            self.delays = (0, 25, 100)
            self.bulk_bytes = 100 * 1000 * 1000
            self.bulk_reps = 5
            self.bulk_timeout = 120
            self.flood_cap = 45
            self.cut_seconds = 30
            self.short_cut = 10
            self.cut_after = 8
            self.back_cap = 30
            self.idle_seconds = 90
            self.scale_sessions = 500
        # Shorter than the cut, so flows from before it are gone after.
        self.nat_timeout = min(10, self.cut_seconds // 2)
        self.contenders = [cls(self) for cls in C.ALL]

    def log(self, msg):
        print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)

    def record(self, scen, row):
        self.results.setdefault(scen, []).append(row)

    def pick(self, *names):
        return [c for c in self.contenders if c.name in names]

    def lab(self, nat_timeout=None):
        return C.Lab(self.limpet, nat_timeout=nat_timeout)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True,
                              cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def source_commit():
    """The commit the measured binary is built from (read at the start:
    edits made while the bench runs are not in the binary)."""
    commit = sh(["git", "rev-parse", "--short=12", "HEAD"]) or "?"
    if sh(["git", "status", "--porcelain", "--untracked-files=no"]):
        commit += " (with uncommitted changes)"
    return commit


def meta(bench, t0, limpet_status, commit):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "kernel": "%s %s" % (platform.system(), platform.release()),
        "cpu": "%s, %d CPUs" % (cpu, os.cpu_count() or 0),
        "mode": "quick (QUICK=1)" if bench.quick else "full",
        "quick": bench.quick,
        "keys": bench.keys,
        "bulk_mb": bench.bulk_bytes / 1e6,
        "cut_s": bench.cut_seconds,
        "nat_timeout": bench.nat_timeout,
        "short_cut": bench.short_cut,
        "idle_s": bench.idle_seconds,
        "limpet_status": limpet_status,
        "duration": time.monotonic() - t0,
    }


def stale_binary(path):
    """The first source file newer than the binary at path, if it is the
    repository's own build; None otherwise."""
    if os.path.dirname(os.path.abspath(path)) != ROOT:
        return None
    try:
        built = os.path.getmtime(path)
    except OSError:
        return None
    src = os.path.join(ROOT, "src")
    for name in sorted(os.listdir(src)):
        if name.endswith((".c", ".h")) and \
                os.path.getmtime(os.path.join(src, name)) > built:
            return "src/" + name
    return None


def console(res):
    """The tables printed at the end of a run."""
    headers, rows = report.summary(res)
    widths = [max(len(str(r[i])) for r in [headers] + rows)
              for i in range(len(headers))]
    print()
    for r in [headers] + rows:
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))
    print()
    print("%-72s %-60s %s" % ("goal", "measured", "verdict"))
    for g, m, v in report.goals(res):
        print("%-72s %-60s %s" % (g[:72], m[:60], v))
    print()


def update_doc(md):
    """Put the results between the markers of docs/benchmarks.md."""
    try:
        with open(DOC) as f:
            doc = f.read()
    except OSError:
        return
    if BEGIN not in doc or END not in doc:
        return
    # The doc lives in docs/: point its images at bench/results/.
    body = re.sub(r"!\[([^]]*)\]\(([^)/]+\.png)\)",
                  r"![\1](../bench/results/\2)", md)
    body = body.replace("# limpet benchmark results", "## Latest results",
                        1)
    body = re.sub(r"(?m)^## ", "### ", body)
    body = body.replace("### Latest results", "## Latest results", 1)
    head, rest = doc.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(DOC, "w") as f:
        f.write(head + BEGIN + "\n\n" + body + "\n" + END + tail)


def run_scenario(bench, name, fn):
    """Run one scenario; one that breaks as a whole is reported, not
    fatal."""
    bench.log("== %s" % name)
    try:
        fn(bench)
    except Exception as e:
        bench.log("scenario %s broke: %s" % (name, e))
        bench.notes.append("scenario %s could not run: %s" % (name, e))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="",
                    help="comma-separated scenarios: %s" % ",".join(
                        n for n, _ in SCENARIOS))
    ap.add_argument("--contenders", default="",
                    help="comma-separated subset of: %s" % ",".join(
                        c.name for c in C.ALL))
    ap.add_argument("--limpet", default=os.path.join(ROOT, "limpet"))
    ap.add_argument("--out", default=RESULTS)
    ap.add_argument("--name", default="",
                    help="base name of the result files (default: latest "
                    "for a full run of everything, quick for --quick, "
                    "partial otherwise); only latest updates the doc")
    ap.add_argument("--render", metavar="JSON",
                    help="only rewrite the Markdown and plots from a "
                    "latest.json of an earlier run")
    args = ap.parse_args()

    if args.render:
        with open(args.render) as f:
            data = json.load(f)
        name = args.name or ("quick" if data["meta"].get("quick")
                             else "latest")
        write_results(data, args.out, lambda m: print(m, flush=True),
                      name)
        return 0
    t0 = time.monotonic()
    commit = source_commit()
    why = C.netlab.unavailable()
    if why:
        print("bench: cannot run: %s" % why, file=sys.stderr)
        return 1
    why = C.netlab.delayer_unavailable()
    if why and os.path.exists("/usr/bin/apt-get"):
        print("bench: %s; installing libnetfilter-queue-dev" % why,
              flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q",
                        "libnetfilter-queue-dev"],
                       env=dict(os.environ,
                                DEBIAN_FRONTEND="noninteractive"))
        why = C.netlab.delayer_unavailable()
    if why:
        print("bench: cannot run: %s" % why, file=sys.stderr)
        return 1
    if C.sshlab.find_sshd() is None:
        print("bench: cannot run: sshd not found (apt-get install "
              "openssh-server)", file=sys.stderr)
        return 1

    limpet = os.path.abspath(args.limpet)
    bench = Bench(args.quick, limpet)
    try:
        return run(bench, args, t0, limpet, commit)
    finally:
        bench.close()


def run(bench, args, t0, limpet, commit):
    """Check the contenders, run the scenarios, write the results."""
    keep = [n for n in args.contenders.split(",") if n]
    if keep:
        bench.contenders = [c for c in bench.contenders if c.name in keep]
    for c in bench.contenders:
        need = {"mosh": ["mosh", "mosh-server"],
                "mosh-predict": ["mosh", "mosh-server"],
                "autossh+tmux": ["autossh", "tmux"]}.get(c.name, [])
        if need:
            c.skip = C.tool_check(bench, need)
            if c.skip:
                bench.log("%s skipped: %s" % (c.name, c.skip))
    C.tool_check(bench, ["gnuplot"])
    lp = ([c for c in bench.contenders if c.name == "limpet"] +
          [C.Limpet(bench)])[0]
    stale = stale_binary(limpet)
    if not os.access(limpet, os.X_OK):
        lp.skip = "no limpet binary at %s (make limpet failed?)" % limpet
        limpet_status = "not built"
    elif stale:
        lp.skip = "%s is older than %s (make limpet failed?)" % (
            os.path.relpath(limpet, ROOT), stale)
        limpet_status = "stale binary: " + lp.skip
    else:
        bench.log("checking that limpet opens a session")
        err = scenarios.smoke(bench)
        if err:
            limpet_status = "does not work yet: " + err
            lp.skip = "does not work yet: " + err
            bench.log("limpet: " + limpet_status)
        else:
            limpet_status = "works (%s)" % sh([limpet, "--version"])
    only = [s for s in args.only.split(",") if s]
    names = [n for n, _ in SCENARIOS if not only or n in only]
    # A full run measures idle sessions for as long as the false-alarm
    # scenario runs (10 min), beside it: the first minutes of an idle
    # limpet session are its heartbeat's learning start (PINGs at 25 s,
    # 75 s, 175 s, 375 s, then every 300 s), which a 90 s window shows
    # as if it were the steady state (issue 11 goal 4).  Idle sessions
    # use no CPU, so the two do not disturb each other.
    beside = not bench.quick and "idle" in names and "falsealarm" in names
    idle_thread = None
    for name, fn in SCENARIOS:
        if name not in names or (beside and name == "idle"):
            continue
        if beside and name == "falsealarm":
            bench.idle_seconds = scen_net.falsealarm_seconds(bench)
            bench.log("== idle (beside falsealarm, %d s)" %
                      bench.idle_seconds)
            idle_thread = threading.Thread(
                target=run_scenario, args=(bench, "idle", scenarios.idle))
            idle_thread.start()
        run_scenario(bench, name, fn)
        if idle_thread is not None:
            idle_thread.join()
            idle_thread = None

    bench.notes += [
        "Delay is added by bench/delayer (NFQUEUE, user space) on the "
        "router for each forwarded packet in each direction: the round "
        "trip is twice the one-way delay. Rate limits are tc tbf on the "
        "router's egress.",
        "ssh runs with ServerAliveInterval 30; autossh with -M 0, "
        "ServerAliveInterval 5, ServerAliveCountMax 2, ConnectTimeout 5 "
        "and AUTOSSH_GATETIME 0, running tmux with its status line off; "
        "mosh with --predict=never unless it is mosh-predict (adaptive); "
        "limpet with its defaults.",
        "Idle traffic is measured over %d s and scaled to an hour." %
        bench.idle_seconds,
    ]
    if bench.quick:
        bench.notes.append("QUICK=1: fewer keys, a %d MB file, a %d s cut, "
                           "%d s idle, %d sessions; use a full run for "
                           "figures to quote." % (
                               bench.bulk_bytes // 1000000,
                               bench.cut_seconds, bench.idle_seconds,
                               bench.scale_sessions))
        bench.notes.append("QUICK=1 also: roaming with limpet and mosh "
                           "only, the dead link with limpet only, once "
                           "each; the false-alarm count for 20 s (not 10 "
                           "minutes), limpet only; the lossy link with "
                           "loss only, ssh and limpet only; scale without "
                           "the doubling; fewer repetitions everywhere.")
    data = {"meta": meta(bench, t0, limpet_status, commit),
            "results": bench.results, "notes": bench.notes,
            "samples": [[list(k), v] for k, v in bench.samples.items()]}
    name = args.name or ("quick" if bench.quick else "partial"
                         if only or keep else "latest")
    write_results(data, args.out, bench.log, name)
    return 0


def write_results(data, out, log, name="latest"):
    """<name>.json (raw), <name>.md, the plots and, for latest only,
    docs/benchmarks.md.  Plots of other runs are <name>-*.png."""
    os.makedirs(out, exist_ok=True)
    samples = {tuple(k): v for k, v in data["samples"]}

    def save(fname, text):
        path = os.path.join(out, fname)
        with open(path + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(path + ".tmp", path)
    # The raw rows first: a report that breaks can be redone (--render).
    save(name + ".json", json.dumps(data, indent=1))
    made = report.plots(data["results"], samples, out, log,
                        "" if name == "latest" else name + "-")
    md = report.markdown(data["meta"], data["results"], made,
                         data["notes"])
    save(name + ".md", md)
    if name == "latest" and os.path.abspath(out) == \
            os.path.abspath(RESULTS):
        update_doc(md)
    console(data["results"])
    log("wrote %s%s" % (os.path.join(os.path.relpath(out, ROOT),
                                      name + ".md"),
                        " and " + ", ".join(made.values()) if made else ""))


if __name__ == "__main__":
    sys.exit(main())
