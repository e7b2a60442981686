"""Turn the bench's recorded rows into Markdown, a console table, goal
verdicts and gnuplot PNGs."""

import os
import shutil
import subprocess
import tempfile

import report_fwd
import report_more


def fmt(v, nd=2, unit=""):
    """A number for a table cell; "-" for nothing."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if isinstance(v, float):
            s = "%.*f" % (nd, v)
        else:
            s = "%d" % v
        return s + unit
    return str(v)


def table(headers, rows):
    """A Markdown table."""
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def by(rows, **kw):
    """Rows matching every key=value."""
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def one(rows, **kw):
    m = by(rows, **kw)
    return m[0] if m else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def status(row):
    """The note for a contender that has no numbers."""
    if row.get("skipped"):
        return "skipped: " + row["skipped"]
    if row.get("failed"):
        return "failed: " + row["failed"]
    return None


# Issue 11 goal 1: the prompt back within 0.4 s of Ctrl-C at 1 Mbit/s and
# 50 ms one way, every byte still delivered (and >= 5x faster than ssh).
FLOOD_GOAL_S = 0.4
FLOOD_GOAL = "3. Ctrl-C under flood <= 0.4 s and >= 5x faster than ssh"


def goals(res):
    """[(goal, measured, verdict)] for the issue's goals."""
    out = []
    lat = res.get("latency", [])
    diffs = []
    for d in (0, 25, 100):
        lp, sp = one(lat, contender="limpet", delay_ms=d), \
            one(lat, contender="ssh", delay_ms=d)
        if lp and sp and "p50_ms" in lp and "p50_ms" in sp:
            diffs.append((d, lp["p50_ms"] - sp["p50_ms"]))
    if len(diffs) >= 2:
        ok = all(x <= 1.0 for _, x in diffs)
        out.append(("1. keystroke p50 within 1 ms of ssh",
                    ", ".join("%d ms: %+.2f ms" % d for d in diffs),
                    "met" if ok else "MISSED"))
    else:
        out.append(("1. keystroke p50 within 1 ms of ssh",
                    "not measured", "not measured"))
    bulk = res.get("bulk", [])
    rs = []
    for d in (0, 10):
        lp, sp = one(bulk, contender="limpet", delay_ms=d), \
            one(bulk, contender="ssh", delay_ms=d)
        if lp and sp and "mb_per_s" in lp and "mb_per_s" in sp:
            rs.append((d, lp["mb_per_s"] / sp["mb_per_s"]))
    if len(rs) == 2:
        out.append(("2. bulk throughput >= 0.9x ssh",
                    ", ".join("%d ms: %.2fx" % r for r in rs),
                    "met" if all(r >= 0.9 for _, r in rs) else "MISSED"))
    else:
        out.append(("2. bulk throughput >= 0.9x ssh", "not measured",
                    "not measured"))
    fl = res.get("flood", [])
    lp, sp = one(fl, contender="limpet"), one(fl, contender="ssh")
    if lp and "seconds" in lp:
        lt = lp["seconds"]
        st = sp.get("seconds") if sp else None
        cap = None
        if sp and st is None and sp.get("note"):
            cap = sp["note"]
        r = ratio(st, lt) if lt else None
        ok = lt is not None and lt <= FLOOD_GOAL_S and (
            (r is not None and r >= 5) or cap is not None)
        out.append((FLOOD_GOAL,
                    "limpet %s, ssh %s" % (fmt(lt, 2, " s"),
                                           fmt(st, 2, " s") if st
                                           is not None else (cap or "-")),
                    "met" if ok else "MISSED"))
    else:
        out.append((FLOOD_GOAL, "not measured", "not measured"))
    rec = res.get("recovery", [])
    setup = (res.get("setup") or [{}])[0].get("ssh_setup_s")
    main_cut = max([r["cut_s"] for r in rec if "cut_s" in r] or [0])
    lp = one(rec, contender="limpet", cut_s=main_cut)
    if lp and "cut_s" in lp:
        # Every cut limpet got counts, not just the long one.
        cuts = [r for r in rec if r.get("contender") == "limpet" and
                "cut_s" in r]
        ok = setup is not None and all(
            r.get("back_s") is not None and r["back_s"] <= 1.0 + setup
            for r in cuts)
        out.append(("4. back within 1 s + one ssh setup after a heal",
                    "%s (ssh setup %s)" % (", ".join(
                        "%s after %d s cut" % (fmt(r.get("back_s"), 2, " s"),
                                               r["cut_s"]) for r in cuts),
                        fmt(setup, 2, " s")),
                    "met" if ok else "MISSED"))
        ok5 = lp.get("delivered") == lp.get("printed_during") and \
            lp.get("exactly_once_in_order")
        out.append(("5. 100% of output across a cut, once, in order",
                    "%s/%s, once and in order: %s" % (
                        lp.get("delivered"), lp.get("printed_during"),
                        fmt(lp.get("exactly_once_in_order"))),
                    "met" if ok5 else "MISSED"))
    else:
        out.append(("4. back within 1 s + one ssh setup after a heal",
                    "not measured", "not measured"))
        out.append(("5. 100% of output across a cut, once, in order",
                    "not measured", "not measured"))
    idle = res.get("idle", [])
    lp, mp = one(idle, contender="limpet"), one(idle, contender="mosh")
    if lp and mp and "bytes_per_hour" in lp and "bytes_per_hour" in mp:
        r = lp["bytes_per_hour"] / max(1.0, mp["bytes_per_hour"])
        out.append(("6. idle bytes <= 1/4 of mosh", "%.2fx mosh" % r,
                    "met" if r <= 0.25 else "MISSED"))
    else:
        out.append(("6. idle bytes <= 1/4 of mosh", "not measured",
                    "not measured"))
    mem = res.get("memory", []) or res.get("memory-idle", [])
    lp, mp = one(mem, contender="limpet", when="idle"), \
        one(mem, contender="mosh", when="idle")
    if lp and mp and mp.get("server_kib"):
        r = lp["server_kib"] / mp["server_kib"]
        out.append(("7. daemon RSS <= 1/4 of mosh-server (idle)",
                    "%d KiB vs %d KiB (%.2fx)" % (lp["server_kib"],
                                                  mp["server_kib"], r),
                    "met" if r <= 0.25 else "MISSED"))
    else:
        out.append(("7. daemon RSS <= 1/4 of mosh-server (idle)",
                    "not measured", "not measured"))
    sc = one(res.get("scale", []), contender="limpet")
    if sc and "list_s" in sc:
        out.append(("8. `limpet ls` under 1 s with %d sessions" %
                    sc["sessions"], fmt(sc["list_s"], 2, " s"),
                    "met" if sc["list_s"] < 1 else "MISSED"))
    else:
        out.append(("8. `limpet ls` under 1 s with many sessions",
                    "not measured", "not measured"))
    return out + report_more.goals(res) + report_fwd.goals(res)


NAMES = ["ssh", "limpet", "mosh", "mosh-predict", "autossh+tmux"]


def summary(res):
    """(headers, rows): one row per figure, a column per contender, and
    the ratios limpet/ssh and limpet/best other contender."""
    rows = []

    def add(label, get, better, nd=2, vs=None):
        vals = {}
        for n in NAMES:
            try:
                v = get(n)
            except (KeyError, TypeError, IndexError):
                v = None
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                v = None
            vals[n] = v
        if all(vals[n] is None for n in NAMES):
            return
        # mosh-predict's echo is a local guess, not a round trip.
        # vs: the contenders to compare with, if not those.
        others = vs or [n for n in NAMES if n != "mosh-predict"]
        peers = [vals[n] for n in others
                 if n != "limpet" and vals[n] is not None]
        best = (min(peers) if better == "low" else max(peers)) \
            if peers else None
        rows.append([label] + [fmt(vals[n], nd) for n in NAMES] +
                    [fmt(ratio(vals["limpet"], vals["ssh"]), 2, "x"),
                     fmt(ratio(vals["limpet"], best), 2, "x")])

    lat = res.get("latency", [])
    for d in (0, 25, 100):
        for q in ("p50", "p90"):
            add("key echo %s ms, %d ms delay" % (q, d),
                lambda n, d=d, q=q: one(lat, contender=n,
                                        delay_ms=d)[q + "_ms"], "low")
    bulk = res.get("bulk", [])
    for d in (0, 10):
        add("bulk MB/s, %d ms delay" % d,
            lambda n, d=d: one(bulk, contender=n, delay_ms=d)["mb_per_s"],
            "high", 1)
    add("Ctrl-C under flood, s",
        lambda n: one(res.get("flood", []), contender=n)["seconds"], "low")
    rec = res.get("recovery", [])
    main_cut = max([r["cut_s"] for r in rec if "cut_s" in r] or [0])
    add("back after %d s cut, s" % main_cut,
        lambda n: one(rec, contender=n, cut_s=main_cut)["back_s"], "low")
    add("cut -> loss shown, s",
        lambda n: one(rec, contender=n, cut_s=main_cut)["lost_shown_s"],
        "low")
    add("lines across the cut, %",
        lambda n: 100.0 * one(rec, contender=n, cut_s=main_cut)[
            "delivered"] / one(rec, contender=n, cut_s=main_cut)[
            "printed_during"], "high", 0)
    idle = res.get("idle", [])
    add("idle kB/hour",
        lambda n: one(idle, contender=n)["bytes_per_hour"] / 1000, "low", 1)
    add("idle server wakeups/min",
        lambda n: one(idle, contender=n)["server_wakeups_per_min"], "low",
        1)
    mem = res.get("memory", [])
    add("server process RSS idle, KiB",
        lambda n: one(mem, contender=n, when="idle")["server_kib"], "low",
        0)
    add("server process PSS idle, KiB",
        lambda n: one(mem, contender=n, when="idle")["server_pss_kib"],
        "low", 0)
    add("client RSS idle, KiB",
        lambda n: one(mem, contender=n, when="idle")["client_kib"], "low",
        0)
    add("server CPU s / 100 MB",
        lambda n: one(res.get("cpu", []), contender=n)[
            "server_cpu_s_per_100mb"], "low")
    sc = res.get("scale", [])
    add("list sessions (scale), s",
        lambda n: one(sc, contender="tmux" if n == "autossh+tmux"
                      else n)["list_s"], "low")
    report_more.summary(res, add)
    report_fwd.summary(res, add)
    return (["figure"] + NAMES + ["limpet/ssh", "limpet/best other"],
            rows)


def markdown(meta, res, plots, notes):
    """The whole results file."""
    L = []
    L.append("# limpet benchmark results")
    L.append("")
    L.append("Produced by `make bench%s` on %s." % (
        " QUICK=1" if meta["quick"] else "", meta["date"]))
    L.append("")
    L.append(table(["", ""], [
        ["commit", meta["commit"]], ["kernel", meta["kernel"]],
        ["CPU", meta["cpu"]], ["mode", meta["mode"]],
        ["limpet", meta["limpet_status"]],
        ["duration", "%.0f s" % meta["duration"]]]))
    L.append("")
    L.append("## Goals")
    L.append("")
    L.append(table(["goal", "measured", "verdict"], goals(res)))
    L.append("")
    L.append("## Summary")
    L.append("")
    L.append("Medians unless marked p90; \"best other\" is the best of "
             "ssh, mosh and autossh+tmux for that figure (lower is better "
             "except MB/s and lines). mosh-predict is left out of it: its "
             "echo is a local prediction, not a round trip.")
    L.append("")
    L.append(table(*summary(res)))
    L.append("")

    lat = res.get("latency", [])
    L.append("## 1. Keystroke echo latency")
    L.append("")
    L.append("Time from a key to its echo at a bash prompt, %s keys per "
             "contender and one-way delay (ms)." % meta["keys"])
    L.append("")
    rows = []
    for d in (0, 25, 100):
        sp = one(lat, contender="ssh", delay_ms=d)
        for r in by(lat, delay_ms=d):
            st = status(r)
            if st:
                rows.append([r["contender"], d, st, "", ""])
                continue
            diff = r["p50_ms"] - sp["p50_ms"] if sp and "p50_ms" in sp \
                else None
            rows.append([r["contender"], d, fmt(r["p50_ms"]),
                         fmt(r["p90_ms"]), fmt(diff, 2)])
    for r in lat:
        if "delay_ms" not in r:
            rows.append([r["contender"], "all", status(r), "", ""])
    L.append(table(["contender", "delay", "p50 ms", "p90 ms",
                    "p50 - ssh p50 (ms)"], rows))
    L.append("")
    if "latency" in plots:
        L.append("![keystroke latency](%s)" % plots["latency"])
        L.append("")

    bulk = res.get("bulk", [])
    L.append("## 2. Bulk output")
    L.append("")
    L.append("`cat` of a %s MB text file on the server, through the "
             "session's PTY, until a marker printed after it arrives." %
             fmt(meta["bulk_mb"], 0))
    L.append("")
    rows = []
    for r in bulk:
        st = status(r)
        if st:
            rows.append([r["contender"], fmt(r.get("delay_ms", "all")), st,
                         "", ""])
            continue
        sp = one(bulk, contender="ssh", delay_ms=r["delay_ms"])
        rr = ratio(r.get("mb_per_s"), sp.get("mb_per_s") if sp else None)
        rows.append([r["contender"], r["delay_ms"], fmt(r["seconds"]),
                     fmt(r["mb_per_s"], 1), fmt(rr, 2, "x"),
                     " ".join("%.2f" % x for x in r.get("all_seconds",
                                                        []))])
    L.append(table(["contender", "delay ms", "seconds (median)", "MB/s",
                    "vs ssh", "all runs (s)"], rows))
    L.append("")
    L.append("mosh and tmux send screen states, not every byte: their "
             "time is how long until the final screen shows.")
    L.append("")
    for r in bulk:
        if any(r.get("reconnects") or []):
            L.append("**limpet reconnected during bulk output** at %d ms: "
                     "%s times in the %d runs (its `--verbose` log says: "
                     "%s). Each reconnect costs an ssh connection setup." %
                     (r["delay_ms"], "+".join(str(x) for x in
                                              r["reconnects"]),
                      len(r["reconnects"]),
                      "; ".join(r["reconnect_why"])))
            L.append("")

    fl = res.get("flood", [])
    L.append("## 3. Interrupt under flood")
    L.append("")
    L.append("1 Mbit/s and 50 ms one-way delay: `cat` of the big file for "
             "3 s, then Ctrl-C; seconds until the prompt is back.")
    L.append("")
    sp = one(fl, contender="ssh")
    rows = []
    for r in fl:
        st = status(r)
        if st:
            rows.append([r["contender"], st, ""])
            continue
        rr = ratio(sp.get("seconds") if sp else None, r.get("seconds"))
        rows.append([r["contender"], fmt(r.get("seconds")) if
                     r.get("seconds") is not None else r.get("note"),
                     fmt(rr, 1, "x")])
    L.append(table(["contender", "seconds to prompt", "ssh / this"], rows))
    L.append("")

    rec = res.get("recovery", [])
    L.append("## 4. Recovery and 5. output across a cut")
    L.append("")
    setup = (res.get("setup") or [{}])[0].get("ssh_setup_s")
    L.append("The path is blackholed for %s s (NAT idle timeout %s s, so "
             "old flows are gone after it) while the server prints a line "
             "a second; then it heals. *back*: seconds from the heal until "
             "a command typed every 200 ms is answered (the server "
             "computes its answer: a key would be shown at once by "
             "limpet's prediction); *lost shown*: seconds "
             "from the cut until the client says contact is lost; lines: "
             "of those printed during the cut, how many reached the "
             "client. One ssh connection setup in this lab takes %s.%s" %
             (fmt(meta["cut_s"], 0), meta["nat_timeout"],
              fmt(setup, 2, " s"),
              " limpet also gets a %d s cut (NAT timeout %d s): when a "
              "client notices a dead link depends on its timers." % (
                  meta["short_cut"], max(1, meta["short_cut"] // 2))
              if meta.get("short_cut") else ""))
    L.append("")
    rows = []
    for r in rec:
        st = status(r)
        if st:
            rows.append([r["contender"], "", st, "", "", ""])
            continue
        rows.append([r["contender"], r["cut_s"],
                     fmt(r.get("back_s")) if r.get("back_s") is not None
                     else "never (%s)" % ("exited" if r.get("exited")
                                          else "hung"),
                     fmt(r.get("lost_shown_s")) if r.get("lost_shown_s")
                     is not None else "nothing shown",
                     "%s/%s" % (r.get("delivered"), r.get("printed_during")),
                     fmt(r.get("exactly_once_in_order"))
                     if "exactly_once_in_order" in r else "n/a (screen)"])
    L.append(table(["contender", "cut (s)", "back (s)", "lost shown (s)",
                    "lines delivered", "all lines once, in order"], rows))
    L.append("")
    dead = [r for r in rec if "dead_after_s" in r]
    if dead:
        L.append("limpet's own log (`--verbose`) says when it declared the "
                 "link dead: %s." % "; ".join(
                     "%.1f s after the start of the %d s cut (%s)" % (
                         r["dead_after_s"], r["cut_s"], r["dead_why"])
                     for r in dead))
        L.append("")
    if "recovery" in plots:
        L.append("![recovery](%s)" % plots["recovery"])
        L.append("")

    idle = res.get("idle", [])
    L.append("## 6. Idle cost")
    L.append("")
    L.append("Bytes and packets the router forwarded for an idle session "
             "(both directions) over %s s, scaled to an hour; wakeups are "
             "context switches of the session's processes." %
             fmt(meta["idle_s"], 0))
    L.append("")
    mp = one(idle, contender="mosh")
    rows = []
    for r in idle:
        st = status(r)
        if st:
            rows.append([r["contender"], st, "", "", "", "", ""])
            continue
        rows.append([r["contender"], fmt(r["bytes_per_hour"] / 1000, 1),
                     fmt(r["packets_per_hour"], 0),
                     fmt(ratio(r["bytes_per_hour"],
                               mp.get("bytes_per_hour") if mp else None),
                         2, "x"),
                     "%s (%s)" % (fmt(r["server_wakeups_per_min"], 1),
                                  r["server_what"]),
                     fmt(r["client_wakeups_per_min"], 1),
                     fmt(r["alive"])])
    L.append(table(["contender", "kB/hour", "packets/hour", "vs mosh",
                    "server wakeups/min", "client wakeups/min",
                    "alive at end"], rows))
    L.append("")

    L.append("## 7. Memory")
    L.append("")
    L.append("Resident size (RSS, KiB) of the session's server-side "
             "process and of the client, idle and after the bulk output; "
             "PSS counts shared pages (libraries) divided among their "
             "users. The relay lives only while a client is connected.")
    L.append("")
    rows = []
    key = "memory" if res.get("memory") else "memory-idle"
    for r in res.get(key, []):
        if status(r):
            continue
        rows.append([r["contender"], r["when"], r["server_what"],
                     fmt(r["server_kib"]), fmt(r.get("server_pss_kib")),
                     fmt(r.get("relay_kib")) if "relay_kib" in r else "-",
                     r["client_what"], fmt(r["client_kib"]),
                     fmt(r.get("client_pss_kib"))])
    L.append(table(["contender", "when", "server process", "server RSS",
                    "server PSS", "relay RSS", "client process",
                    "client RSS", "client PSS"], rows))
    L.append("")

    sc = res.get("scale", [])
    L.append("## 8. Scale")
    L.append("")
    rows = []
    for r in sc:
        st = status(r)
        if st:
            rows.append([r["contender"], st, "", "", "", "", "", ""])
            continue
        rows.append([r["contender"], r["sessions"], fmt(r["create_s"], 1),
                     fmt(r["list_s"]), fmt(r["server_total_mib"], 1),
                     fmt(r.get("server_pss_mib"), 1),
                     fmt(r.get("per_session_pss_kib"), 0),
                     fmt(r["shells_mib"], 1)])
    L.append(table(["contender", "sessions", "create (s)", "list (s)",
                    "server RSS MiB", "server PSS MiB", "PSS KiB/session",
                    "shells RSS MiB"], rows))
    L.append("")
    L.append("limpet sessions are made by `limpet new -d -n COUNT` (4 calls "
             "at once over one ssh connection; PSS once idle for 35 s, when "
             "the screen models sleep); tmux sessions by one ssh command "
             "running `tmux new -d` in a loop. Listing goes through ssh "
             "for both.")
    L.append("")

    cpu = res.get("cpu", [])
    L.append("## 9. Server CPU per 100 MB of output")
    L.append("")
    sp = one(cpu, contender="ssh")
    rows = []
    for r in cpu:
        rows.append([r["contender"], fmt(r["server_cpu_s_per_100mb"]),
                     fmt(ratio(r["server_cpu_s_per_100mb"],
                               sp["server_cpu_s_per_100mb"] if sp else None),
                         2, "x"), r["processes"]])
    L.append(table(["contender", "CPU s / 100 MB", "vs ssh",
                    "processes counted"], rows))
    L.append("")

    L += report_more.markdown(meta, res, plots)
    if notes:
        L.append("## Notes")
        L.append("")
        for n in notes:
            L.append("- " + n)
        L.append("")
    return "\n".join(L)


def plots(res, samples, outdir, log, prefix=""):
    """Draw latency.png, recovery.png (and the plots of report_more)
    with gnuplot, each file name starting with prefix; returns
    {name: filename} of the plots made."""
    made = {}
    gp = shutil.which("gnuplot")
    if gp is None:
        log("gnuplot missing: no plots")
        return made
    tmp = tempfile.mkdtemp(prefix="limpet-bench-plot-")
    try:
        # Latency: one CDF panel per delay.
        series = {}
        for (scen, name, *rest), v in samples.items():
            if scen == "latency" and v:
                series.setdefault(rest[0], []).append((name, sorted(v)))
        if series:
            script = ["set terminal pngcairo size 1200,420 font ',10'",
                      "set output '%s'" % os.path.join(
                          outdir, prefix + "latency.png"),
                      "set multiplot layout 1,%d title 'keystroke echo "
                      "latency (CDF)'" % len(series),
                      "set key bottom right", "set grid",
                      "set logscale x", "set xrange [0.05:*]",
                      "set ylabel 'fraction of keys'", "set yrange [0:1]"]
            for d in sorted(series):
                plots_ = []
                for name, v in series[d]:
                    fn = os.path.join(tmp, "lat-%d-%s.dat" % (d, name))
                    with open(fn, "w") as f:
                        for i, x in enumerate(v):
                            f.write("%f %f\n" % (x, (i + 1) / len(v)))
                    plots_.append("'%s' using 1:2 with steps lw 2 title "
                                  "'%s'" % (fn, name))
                script += ["set title '%d ms one-way delay'" % d,
                           "set xlabel 'ms'",
                           "plot " + ", ".join(plots_)]
            script.append("unset multiplot")
            if _gnuplot(gp, script, tmp, log):
                made["latency"] = prefix + "latency.png"
        rec = [r for r in res.get("recovery", []) if "cut_s" in r]
        if rec:
            fn = os.path.join(tmp, "rec.dat")
            cap = max([r.get("back_s") or 0 for r in rec] +
                      [r.get("lost_shown_s") or 0 for r in rec] + [1])
            with open(fn, "w") as f:
                for r in rec:
                    b = r.get("back_s")
                    lo = r.get("lost_shown_s")
                    f.write("\"%s (%d s)\" %f %f\n" % (
                        r["contender"], r["cut_s"],
                        b if b is not None else -1,
                        lo if lo is not None else -1))
            script = ["set terminal pngcairo size 1000,440 font ',10'",
                      "set output '%s'" % os.path.join(
                          outdir, prefix + "recovery.png"),
                      "set title 'recovery after a blackhole of (n) s "
                      "(below zero: never / nothing shown)'",
                      "set style data histograms",
                      "set style histogram clustered gap 1",
                      "set style fill solid 0.8 border -1",
                      "set ylabel 'seconds'", "set grid ytics",
                      "set yrange [-1.5:%f]" % (cap * 1.15),
                      "plot '%s' using 2:xtic(1) title 'heal -> key echoed',"
                      " '' using 3 title 'cut -> loss shown'" % fn]
            if _gnuplot(gp, script, tmp, log):
                made["recovery"] = prefix + "recovery.png"
        made.update(report_more.plots(res, samples, outdir, tmp, prefix,
                                      lambda sc: _gnuplot(gp, sc, tmp,
                                                          log)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return made


def _gnuplot(gp, script, tmp, log):
    path = os.path.join(tmp, "plot.gp")
    with open(path, "w") as f:
        f.write("\n".join(script) + "\n")
    r = subprocess.run([gp, path], capture_output=True, text=True)
    if r.returncode != 0:
        log("gnuplot failed: %s" % r.stderr.strip()[-300:])
        return False
    return True
