"""The bench's network scenarios of issue 11: roaming (goal 2), a dead
link (goal 3) and a slow lossy link (goal 6).  Same conventions as
scenarios.py: rows go to bench.record(), a contender that fails is
recorded with its error and the run goes on.

Recovery is timed by a typed command whose answer only the server can
compute (`echo RM$((1000+1))Z` prints RM1001Z): a bare key would be
"echoed" at once by limpet's (and mosh-predict's) local prediction, which
says nothing about the link.
"""

import os
import random
import re
import threading
import time

import contenders as C
import scenarios as S


def answered(term, t0, cap, tag, every=0.3):
    """Type a command every `every` s (the line cleared first) until the
    answer of one shows; seconds from t0, or None after cap s or if the
    client ended."""
    m = term.mark()
    rx = re.compile(rb"%s\d+Z" % tag.encode())
    end = t0 + cap
    k = 0
    while time.monotonic() < end:
        term.send("\x15echo %s$((%d+1))Z\r" % (tag, 1000 + k))
        k += 1
        got = term.wait(rx, min(every, max(0.0, end - time.monotonic())),
                        since=m)
        if got is not None:
            return got - t0
        if term.exited() is not None:
            return None
    return None


def healthy(term, cap=20):
    """Wait until the session answers a command (the link works)."""
    if answered(term, time.monotonic(), cap, "OK", every=2.0) is None:
        raise RuntimeError("session does not answer a command; screen "
                           "ends %r" % term.text(0)[-160:])
    term.drain(0.1, 1.0)


def interrupt(term, tries=5):
    """Ctrl-C until the prompt is back.  bash running a loop of short
    commands loses a ^C now and then on any terminal: the tty echoes ^C
    and signals its foreground process group, but the loop goes on (the
    SIGINT reached a `sleep` that was already ending; 2 of 60 tries in a
    plain PTY, no ssh at all).  A user presses it again, and so does the
    bench: nothing it measures depends on the ^C."""
    for _ in range(tries):
        m = term.mark()
        term.send("\x03")
        if term.wait(C.PROMPT, 2, since=m) is not None:
            return


def log_window(path, w0, secs):
    """limpet's --verbose log lines from w0 (wall clock) for secs, with
    their offset in seconds; [] without a log."""
    out = []
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for ln in lines:
        parts = ln.split(None, 2)
        try:
            ts = float(parts[0])
        except (ValueError, IndexError):
            continue
        if w0 - 0.05 <= ts <= w0 + secs and len(parts) == 3:
            out.append("%+.3f %s" % (ts - w0, parts[2][:160]))
    return out


def why_not(term, cap):
    return "exited" if term.exited() is not None else \
        "no answer within %g s (hung)" % cap


# -- 10. roaming (issue 11 goal 2) --------------------------------------------

# What QUICK=1 leaves out of roam and deadlink, to stay within 5 minutes.
QUICK_SKIP = {
    "autossh+tmux": "not in QUICK=1 (10-15 s a run: it notices by "
                    "ServerAliveInterval 5 x 2)",
    "ssh": "not in QUICK=1 (it never comes back)",
}
# And out of deadlink only.
QUICK_SKIP_DEAD = dict(QUICK_SKIP, mosh="not in QUICK=1 (5-10 s a notice)")

def roam(bench):
    """The client's address changes (a phone moving to another network):
    seconds until a command typed at once is answered."""
    reps = 1 if bench.quick else 5
    cap = 20 if bench.quick else 30
    lab = bench.lab()
    try:
        setup = S.ssh_setup_time(lab)
        for c in bench.pick("limpet", "mosh", "autossh+tmux", "ssh"):
            if bench.quick and c.name in QUICK_SKIP:
                bench.record("roam", {"contender": c.name,
                                      "skipped": QUICK_SKIP[c.name]})
                continue

            def one(c=c):
                clog = os.path.join(lab.dir, "client.log")
                term = c.start(lab, timeout=30, log=clog)
                took, why, logs = [], None, []
                n = 1 if c.name == "ssh" else reps if c.name != \
                    "autossh+tmux" else max(1, reps // 2)
                ccap = 10 if c.name == "ssh" and bench.quick else cap
                try:
                    for i in range(n):
                        healthy(term)
                        time.sleep(0.5)
                        t0, w0 = time.monotonic(), time.time()
                        lab.net.change_client_addr()
                        dt = answered(term, t0, ccap, "RM%d" % i)
                        logs.append(log_window(clog, w0, (dt or ccap) + 0.1))
                        if dt is None:
                            why = why_not(term, ccap)
                            break
                        took.append(dt)
                finally:
                    term.close()
                    lab.reset()
                    try:
                        os.unlink(clog)
                    except OSError:
                        pass
                row = {"contender": c.name, "moves": n,
                       "ssh_setup_s": setup,
                       "all_s": [round(x, 3) for x in took]}
                if took:
                    row["back_s"] = S.median(took)
                    row["max_s"] = max(took)
                if why:
                    row["note"] = why
                if any(logs):
                    # limpet's --verbose lines of each move (for a slow
                    # one: which ssh carried the session, and when).
                    row["client_log"] = logs
                bench.record("roam", row)
                bench.log("roam %-13s %s%s" % (
                    c.name, " ".join("%.2f" % x for x in took),
                    " " + why if why else ""))
            S.run_contender(bench, "roam", c, one)
    finally:
        lab.close()


# -- 11. dead link (issue 11 goal 3) ------------------------------------------

SKIP_SSH = ("plain ssh notices only after ServerAliveInterval x "
            "ServerAliveCountMax (30 s x 3 here)")


def deadlink(bench):
    """(a) a key typed into a dead link: seconds until the client shows
    it lost contact; (c) the heal 50 ms after that notice: seconds until
    a command is answered; (b) the link dies while a line is printed
    every 0.1 s: seconds until the notice."""
    reps = 1 if bench.quick else 4
    cap = 15 if bench.quick else 25
    lab = bench.lab()
    try:
        setup = S.ssh_setup_time(lab)
        bench.record("deadlink", {"contender": "ssh", "skipped": SKIP_SSH})
        for c in bench.pick("limpet", "mosh", "autossh+tmux"):
            if bench.quick and c.name in QUICK_SKIP_DEAD:
                bench.record("deadlink", {"contender": c.name,
                                          "skipped":
                                          QUICK_SKIP_DEAD[c.name]})
                continue

            def one(c=c):
                term = c.start(lab, timeout=30)
                # The others (10-15 s a notice for autossh) fewer times.
                n = reps if c.name == "limpet" else max(1, reps // 2)
                try:
                    row = deadlink_one(bench, lab, c, term, n, cap)
                finally:
                    term.close()
                    lab.reset()
                row["ssh_setup_s"] = setup
                bench.record("deadlink", row)
                bench.log("deadlink %-13s typed %s flowing %s heal %s" % (
                    c.name, row["typed_all"], row["flowing_all"],
                    row["heal_all"]))
            S.run_contender(bench, "deadlink", c, one)
    finally:
        lab.close()


def deadlink_one(bench, lab, c, term, reps, cap):
    typed, heal, flowing = [], [], []
    for i in range(reps):
        healthy(term)
        time.sleep(1.0)
        lab.net.blackhole(True)
        time.sleep(0.3)
        m = term.mark()
        t = time.monotonic()
        term.send(" ")
        got = term.wait(c.lost_re, cap, since=m)
        typed.append(got - t if got else None)
        time.sleep(0.05)
        t_heal = time.monotonic()
        lab.net.blackhole(False)
        heal.append(answered(term, t_heal, 30, "DH%d" % i) if got
                    else None)
    for i in range(reps):
        healthy(term)
        term.send("\x15for i in $(seq 1 100000); do echo FL$i-E; "
                  "sleep 0.1; done\r")
        if term.wait(rb"FL5-E", 10) is None:
            raise RuntimeError("output loop did not start")
        m = term.mark()
        t = time.monotonic()
        lab.net.blackhole(True)
        got = term.wait(c.lost_re, cap, since=m)
        flowing.append(got - t if got else None)
        m = term.mark()
        lab.net.blackhole(False)
        # Ctrl-C only once the output flows again: between two ssh runs
        # autossh's terminal is cooked and ^C would end autossh itself.
        term.wait(rb"FL\d+-E", 40, since=m)
        interrupt(term)
        healthy(term, 40)

    def med(v):
        v = [x for x in v if x is not None]
        return S.median(v) if v else None

    def show(v):
        return [round(x, 3) if x is not None else None for x in v]
    return {"contender": c.name, "reps": reps, "cap_s": cap,
            "typed_s": med(typed), "typed_max_s": max(
                [x for x in typed if x is not None] or [None],
                key=lambda x: x or 0),
            "typed_missed": typed.count(None), "typed_all": show(typed),
            "flowing_s": med(flowing), "flowing_all": show(flowing),
            "flowing_missed": flowing.count(None),
            "heal_s": med(heal), "heal_all": show(heal)}


# -- 12. false alarms on a slow lossy link (issue 11 goal 3d) -----------------

def falsealarm_seconds(bench):
    """How long the false-alarm scenario runs (BENCH_FALSEALARM_S=30 for
    trying it out)."""
    return int(float(os.environ.get("BENCH_FALSEALARM_S",
                                    20 if bench.quick else 600)))


def falsealarm(bench):
    """300 ms round trip, 2% loss each way, a line every 0.7 s, a
    command every second or so and every 20th command 140 kB of output
    (under bulk output a lost retransmission stalls TCP longest): how
    often the client takes the healthy link for dead.  limpet and
    autossh+tmux at once, each in its lab."""
    secs = falsealarm_seconds(bench)
    runs = []
    for c in bench.pick("limpet", "autossh+tmux"):
        if bench.quick and c.name in QUICK_SKIP:
            bench.record("falsealarm", {"contender": c.name,
                                        "skipped": QUICK_SKIP[c.name]})
            continue
        if c.skip:
            bench.record("falsealarm", {"contender": c.name,
                                        "skipped": c.skip})
            continue
        lab = None
        try:
            lab = bench.lab()
            lab.net.set_delay(150)
            lab.net.set_loss(2)
            clog = os.path.join(lab.dir, "client.log")
            term = c.start(lab, timeout=60, log=clog)
            runs.append((c, lab, term, clog))
        except Exception as e:
            bench.record("falsealarm", {
                "contender": c.name,
                "failed": str(e).splitlines()[0][:200]})
            if lab is not None:
                lab.close()
    out = {}

    def work(c, lab, term):
        n, slow = 0, 0
        term.send("(while :; do echo TICK; sleep 0.7; done) &\r")
        end = time.monotonic() + secs
        while time.monotonic() < end:
            if n % 20 == 19:
                term.send("seq 1 25000\r")
            dt = answered(term, time.monotonic(), 30, "FA%d" % n, every=10)
            n += 1
            if dt is None:
                slow += 1
            time.sleep(0.3)
        out[c.name] = (n, slow)

    threads = [threading.Thread(target=work, args=r[:3]) for r in runs]
    try:
        t0 = time.monotonic()
        tr0 = [r[1].net.traffic() for r in runs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        el = time.monotonic() - t0
        for (c, lab, term, clog), tr in zip(runs, tr0):
            tr1 = lab.net.traffic()
            n, slow = out.get(c.name, (0, 0))
            shown = len(re.findall(c.lost_re, term.text(0)))
            row = {"contender": c.name, "seconds": el, "commands": n,
                   "unanswered_30s": slow, "notices_shown": shown,
                   "packets": sum(tr1[d][0] - tr[d][0]
                                  for d in ("up", "down"))}
            if c.name == "limpet":
                why = S.client_lost_reasons(clog)
                row["reconnects"] = len(why)
                row["why"] = sorted(set(why))
            else:
                # autossh starts a new ssh each time the link is taken
                # for dead; ssh says why on the terminal.
                row["reconnects"] = shown
            bench.record("falsealarm", row)
            bench.log("falsealarm %-13s %d s, %d commands, reconnects %d, "
                      "notices %d" % (c.name, el, n, row["reconnects"],
                                      shown))
    finally:
        for c, lab, term, clog in runs:
            term.close()
            lab.close()


# -- 13. lossy link (issue 11 goal 6) -----------------------------------------

LS_CMD = "ls -la /usr/bin; echo DONE-$((40+2))\r"
# ls runs per contender (full, quick), without and with loss: with 2% loss
# one run spreads from 0.4 to 1.6 s, so a median of 15 still moves by 10%.
LS_REPS = {(False, 0): 15, (False, 2): 42, (True, 2): 6}
# Runs per session: one connection's TCP state (the sender's congestion
# window or, with BBR, its bandwidth estimate) carries from run to run
# and decides much of each run's time, so one session per contender made
# the median one sample of that state (runs of 41 swung 0.81-1.46x).
# The byte-stream contenders' sessions are open side by side, their runs
# alternate, and every LS_SESSION runs all are opened afresh.
LS_SESSION = 6
# Each run's losses: the delayer's streams restart from seed LS_SEED + i
# before every contender's run i, so the i-th runs meet the same losses at
# the same places of their packet streams (common random numbers).  Two
# independent draws made most of the spread: with 2% loss a run has no
# loss at all about a third of the time, and which contender got more
# loss-free runs moved the medians by up to 20% (docs/benchmarks.md).
LS_SEED = 1000


def lossy(bench):
    """300 ms round trip, with and without 2% loss each way: keystroke
    echo p50/p90, and seconds for `ls -la /usr/bin` to finish."""
    n = 8 if bench.quick else 30
    rng = random.Random(2)
    lab = bench.lab()
    try:
        # QUICK=1: with loss only (the plot then has one panel).
        for loss in (2,) if bench.quick else (0, 2):
            cs = bench.pick("ssh", "limpet", *(
                () if bench.quick else ("mosh", "mosh-predict")))
            for c in cs:
                def one(c=c, loss=loss):
                    lossy_echo(bench, lab, c, loss, n, rng)
                S.run_contender(bench, "lossy", c, one)
            ok = [c for c in cs if c.byte_stream and
                  lossy_row(bench, c, loss) is not None]
            if ok:
                try:
                    lossy_ls(bench, lab, ok, loss)
                except Exception as e:  # the echo rows stand
                    bench.log("lossy: ls failed: %s" % e)
    finally:
        lab.close()


def lossy_row(bench, c, loss):
    """The row lossy_echo() recorded for c at this loss, or None."""
    for r in bench.results.get("lossy", []):
        if (r.get("contender") == c.name and r.get("loss_pct") == loss
                and "p50_ms" in r):
            return r
    return None


def lossy_echo(bench, lab, c, loss, n, rng):
    """Keystroke echo in a session of its own; mosh (screen states, not
    bytes: a second ls ends on the same screen, so its marker is never
    sent again) also times one ls here."""
    lab.net.set_delay(150)
    lab.net.set_loss(loss)
    term = c.start(lab, timeout=60)
    ls_s = None
    try:
        lat = S.type_keys(term, n, rng)
        if not c.byte_stream and c.name != "mosh-predict":
            term.drain(1.0, 3)
            term.send(LS_CMD)
            r = S.read_until_mark(term, 60)
            ls_s = r[0] if r else None
    finally:
        term.close()
        lab.reset()
    bench.samples[("lossy", c.name, loss)] = lat
    row = {"contender": c.name, "loss_pct": loss,
           "delay_ms": 150, "keys": n,
           "p50_ms": S.median(lat), "p90_ms": S.pct(lat, 90)}
    if not c.byte_stream and c.name != "mosh-predict":
        row["ls_s"] = ls_s
        row["ls_runs"] = [ls_s] if ls_s else []
    bench.record("lossy", row)
    bench.log("lossy %d%% %-13s p50 %.1f p90 %.1f ms ls %s" %
              (loss, c.name, row["p50_ms"], row["p90_ms"],
               "%.2f s" % ls_s if ls_s else "-"))


def lossy_ls(bench, lab, cs, loss):
    """`ls -la /usr/bin` in the sessions of cs, open side by side, one
    run each in turn after a pause as a user's (the connection idle
    again), the sessions opened afresh every LS_SESSION runs, the losses
    of each contender's i-th run seeded alike; the median and mean of
    each contender's runs go into its row."""
    reps = LS_REPS[bench.quick, loss]
    runs = {c.name: [] for c in cs}
    terms = {}

    def close():
        for t in terms.values():
            t.close()
        terms.clear()
        lab.reset()

    try:
        for i in range(reps):
            if i % LS_SESSION == 0:
                close()
                lab.net.set_delay(150)
                lab.net.set_loss(loss)
                for c in cs:
                    terms[c.name] = c.start(lab, timeout=60)
            for c in cs:
                term = terms[c.name]
                term.drain(1.0, 3)
                if loss:
                    lab.net.seed_loss(LS_SEED + i)
                term.send(LS_CMD)
                r = S.read_until_mark(term, 60)
                if r:
                    runs[c.name].append(r[0])
    finally:
        close()
    for c in cs:
        row, v = lossy_row(bench, c, loss), runs[c.name]
        row["ls_runs"] = v
        row["ls_sessions"] = (reps + LS_SESSION - 1) // LS_SESSION
        row["ls_seeded"] = bool(loss)
        if v:
            row["ls_s"] = S.median(v)
            row["ls_mean_s"] = sum(v) / len(v)
        bench.log("lossy %d%% %-13s ls median %s mean %s (%d runs)" % (
            loss, c.name, "%.2f s" % row["ls_s"] if v else "-",
            "%.2f s" % row["ls_mean_s"] if v else "-", len(v)))


ALL = [("roam", roam), ("deadlink", deadlink), ("lossy", lossy),
       ("falsealarm", falsealarm)]

__all__ = ["ALL", "answered", "healthy", "C"]
