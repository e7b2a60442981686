"""Summary rows of the forwarding scenarios (bench/fwd_bench.py, issue
9): throughput through -L beside ssh -L, a forwarded connection across a
blackhole beside ssh -L and autossh -L, and the echo while a forward
saturates a slow link.  report.summary() calls summary() at its end,
report.goals() calls goals()."""

# Issue 9: -L at least this share of ssh -L's throughput, on loopback and
# at 10 ms one-way delay.
FWD_GOAL = 0.8


def _one(rows, **kw):
    """The first row matching kw, or None."""
    for r in rows:
        if all(r.get(k) == v for k, v in kw.items()):
            return r
    return None


def _mbs(rows, d):
    """The getter of -L MB/s at delay d: fwd-throughput has one row per
    delay with limpet's and ssh's figures side by side."""
    def get(n):
        r = _one(rows, delay_ms=d)
        if r is None or n not in ("limpet", "ssh"):
            return None
        return r.get(n + "_mbs")
    return get


def _who(n):
    """The fwd-survival contender of a summary column (autossh -L stands
    in the autossh column)."""
    return "autossh" if n == "autossh+tmux" else n


def summary(res, add):
    """Add the forwarding figures to report.summary's table."""
    tp = res.get("fwd-throughput", [])
    for d in sorted({r["delay_ms"] for r in tp if "delay_ms" in r}):
        add("-L forward MB/s, %d ms delay" % d, _mbs(tp, d), "high", 1,
            vs=["ssh"])
    lo = res.get("fwd-loopback", [])
    if lo:
        add("-L forward MB/s, loopback", lambda n: lo[0].get(n + "_mbs")
            if n in ("limpet", "ssh") else None, "high", 1, vs=["ssh"])
    if lo and "ssh_gcm_mbs" in lo[0]:
        add("-L forward MB/s, loopback, ssh -c aes128-gcm",
            lambda n: lo[0].get({"limpet": "limpet_mbs",
                                 "ssh": "ssh_gcm_mbs"}.get(n, "-")),
            "high", 1, vs=["ssh"])
    sv = res.get("fwd-survival", [])
    cut = max([r.get("cut_s", 0) for r in sv] or [0])
    add("-L connection across %d s blackhole, delivered %%" % cut,
        lambda n: 100.0 * _one(sv, contender=_who(n))["delivered"] /
        _one(sv, contender=_who(n))["sent"], "high", 0,
        vs=["ssh", "autossh+tmux"])
    add("-L connection alive after %d s blackhole (1 = yes)" % cut,
        lambda n: int(bool(_one(sv, contender=_who(n))["alive"])), "high",
        0, vs=["ssh", "autossh+tmux"])
    ec = res.get("fwd-echo", [])
    add("key echo p50 ms, unloaded 10 Mbit/s link",
        lambda n: _one(ec, contender=n)["idle_p50_ms"], "low", 1,
        vs=["ssh"])
    add("key echo p50 ms, -L saturating 10 Mbit/s",
        lambda n: _one(ec, contender=n)["busy_p50_ms"], "low", 1,
        vs=["ssh"])
    add("Mbit/s the saturating -L moved",
        lambda n: _one(ec, contender=n)["flood_mbit"], "high", 1,
        vs=["ssh"])


def goals(res):
    """Issue 9's throughput goal: [(goal, measured, verdict)].  The
    namespace lab's 0 ms figure (a routed path) is shown beside it."""
    g = ("issue 9, -L throughput >= 0.8x ssh -L on loopback and at 10 ms "
         "delay")
    lo = (res.get("fwd-loopback") or [None])[0]
    tp = res.get("fwd-throughput", [])
    d10, d0 = _one(tp, delay_ms=10), _one(tp, delay_ms=0)
    if lo is None or d10 is None:
        return [(g, "not measured", "not measured")]
    ok = lo["ratio"] >= FWD_GOAL and d10["ratio"] >= FWD_GOAL
    how = "loopback %.2fx, 10 ms %.2fx" % (lo["ratio"], d10["ratio"])
    if d0 is not None:
        how += " (routed lab, 0 ms: %.2fx)" % d0["ratio"]
    if "ratio_same_cipher" in lo:
        how += ("; limpet's ssh used AES-GCM: vs ssh -L with that cipher "
                "too, loopback %.2fx" % lo["ratio_same_cipher"])
    return [(g, how, "met" if ok else "MISSED")]
