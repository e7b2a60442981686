"""The bench's screen scenarios of issue 8: prediction at a fresh prompt,
password characters shown, mispredictions, attach repaint.  Same
conventions as scenarios.py.

Times are those of the reads from the client's PTY; a character "shown"
is one that arrived as text (escape sequences removed), with the read
that brought it.  Every byte is kept, so a character drawn and erased
again still counts as shown.
"""

import bisect
import os
import re
import time

import contenders as C
import scenarios as S
from term import ESC_RE, Term


class Timeline:
    """The reads of a Term from a mark on, with their times, so that each
    text character can be given the time it arrived."""

    def __init__(self, term):
        self.term = term
        self.start = term.mark()
        self.ends = []     # raw offset after each read
        self.times = []    # and its time

    def pump(self, secs):
        """Read for secs seconds, noting when each read came."""
        end = time.monotonic() + secs
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            d = self.term.read(min(left, 0.02))
            if d is None:
                return
            if d:
                self.ends.append(len(self.term.out))
                self.times.append(self.term.last_read)

    def chars(self):
        """[(time, char)] of the text since the start, escapes out."""
        raw = bytes(self.term.out[self.start:])
        out = []
        pos = 0
        for m in list(ESC_RE.finditer(raw)) + [None]:
            stop = m.start() if m else len(raw)
            for i in range(pos, stop):
                k = bisect.bisect_left(self.ends, self.start + i + 1)
                t = self.times[k] if k < len(self.times) else None
                out.append((t, chr(raw[i])))
            if m:
                pos = m.end()
        return out


# -- 14. prediction at a fresh prompt -----------------------------------------

PKEYS = "qvwyz"


def predict(bench):
    """Enter, then three keys at the new prompt: ms until each shows; the
    first one apart (limpet knows the new prompt's modes at once, mosh
    waits to see the server echo it)."""
    reps = 3 if bench.quick else 15
    lab = bench.lab()
    try:
        for delay in (25, 100):
            # The first key at ssh is one round trip: not in QUICK=1.
            for c in bench.pick("limpet", "mosh-predict", *(
                    () if bench.quick else ("ssh",))):
                def one(c=c, delay=delay):
                    lab.net.set_delay(delay)
                    term = c.start(lab, timeout=30)
                    first, later = [], []
                    try:
                        for i in range(reps):
                            m = term.mark()
                            term.send("\r")
                            if term.wait(C.PROMPT, 5, since=m) is None:
                                raise RuntimeError("no new prompt")
                            term.drain(0.05, 0.5)
                            time.sleep(0.1)
                            for j, k in enumerate(PKEYS[:3]):
                                m = term.mark()
                                t = time.monotonic()
                                term.send(k)
                                if term.wait(re.escape(k.encode()), 5,
                                             since=m) is None:
                                    raise RuntimeError("key not shown")
                                (later if j else first).append(
                                    (term.last_read - t) * 1000.0)
                                time.sleep(0.05)
                            term.send("\x15")
                            term.drain(0.05, 2 * delay / 1000.0 + 0.3)
                    finally:
                        term.close()
                        lab.reset()
                    bench.samples[("predict-first", c.name, delay)] = first
                    row = {"contender": c.name, "delay_ms": delay,
                           "reps": reps,
                           "first_p50_ms": S.median(first),
                           "first_p90_ms": S.pct(first, 90),
                           "later_p50_ms": S.median(later),
                           "later_p90_ms": S.pct(later, 90)}
                    bench.record("predict", row)
                    bench.log("predict %3d ms %-13s first %.1f/%.1f later "
                              "%.1f/%.1f ms" % (
                                  delay, c.name, row["first_p50_ms"],
                                  row["first_p90_ms"], row["later_p50_ms"],
                                  row["later_p90_ms"]))
                S.run_contender(bench, "predict", c, one)
    finally:
        lab.close()


# -- 15. password characters shown --------------------------------------------

PASSWORD = "QXJZQXJZ"
# A quick typist's reaction to a prompt, before the first key: the
# sudo-like prompt is out before its `stty -echo` runs, and keys typed
# the instant it shows reach a loaded server before that stty does, to be
# echoed by the kernel as under ssh (not what this scenario measures).
REACT = 0.3
PROMPTS = [
    # (name, command, what the prompt looks like once printed)
    ("read -s", "read -s -p $'\\x50W> ' x; echo; echo GOT${#x}",
     rb"PW> "),
    ("sudo-like", "printf '[sud%s] password: ' o; stty -echo; read x; "
     "stty echo; echo; echo GOT${#x}", rb"\[sudo\] password: "),
]


def password(bench):
    """A password typed at a no-echo prompt, prediction on, 100 ms one
    way: how many of its characters ever reached the client's screen."""
    lab = bench.lab()
    try:
        for c in bench.pick("limpet", "mosh-predict"):
            def one(c=c):
                lab.net.set_delay(100)
                term = c.start(lab, timeout=30)
                rows = []
                try:
                    # Some typing first, so prediction is engaged.
                    S.type_keys(term, 4, S.random.Random(3))
                    for name, cmd, shown_re in PROMPTS:
                        m = term.mark()
                        term.send(cmd + "\r")
                        if term.wait(shown_re, 10, since=m) is None:
                            raise RuntimeError("no %s prompt" % name)
                        term.drain(REACT, REACT)
                        m = term.mark()
                        for ch in PASSWORD:
                            term.send(ch)
                            term.drain(0.08, 0.08)
                        term.send("\r")
                        if term.wait(rb"GOT%d" % len(PASSWORD), 10,
                                     since=m) is None:
                            raise RuntimeError("%s: password not read" %
                                               name)
                        text = term.text(m).decode("latin-1")
                        text = text.split("GOT%d" % len(PASSWORD))[0]
                        shown = sum(text.count(x) for x in set(PASSWORD))
                        rows.append({"contender": c.name, "prompt": name,
                                     "shown": shown,
                                     "typed": len(PASSWORD)})
                        term.drain(0.1, 1)
                finally:
                    term.close()
                    lab.reset()
                for r in rows:
                    bench.record("password", r)
                bench.log("password %-13s %s" % (c.name, ", ".join(
                    "%s: %d" % (r["prompt"], r["shown"]) for r in rows)))
            S.run_contender(bench, "password", c, one)
    finally:
        lab.close()


# -- 16. mispredictions -------------------------------------------------------

UPPER_CMD = ("stty -echo -icanon; printf 'UP%s> ' C; i=0; "
             "while IFS= read -rn1 c; do [ \"$c\" = . ] && break; "
             "i=$((i+1)); if ((i % 4 == 0)); then printf '%s' \"${c^^}\"; "
             "else printf '%s' \"$c\"; fi; done; stty sane; echo; "
             "echo MP-$((40+2))")
MKEYS = "qvwyzuio"


def mispredict(bench):
    """A program that echoes keys itself (its terminal's echo off, as a
    full-screen program's), every fourth in upper case, 100 ms one way:
    the others let prediction trust the echo; how long each of those
    upper-case keys, predicted in lower case, stayed wrong on the
    screen before the right one came."""
    delay = 100
    rtt = 2 * delay / 1000.0
    n = 12 if bench.quick else 32
    lab = bench.lab()
    try:
        for c in bench.pick("limpet", "mosh-predict"):
            def one(c=c):
                lab.net.set_delay(delay)
                term = c.start(lab, timeout=30)
                try:
                    S.type_keys(term, 4, S.random.Random(4))
                    m = term.mark()
                    term.send(UPPER_CMD + "\r")
                    if term.wait(rb"UPC> ", 10, since=m) is None:
                        raise RuntimeError("upper-case program did not "
                                           "start")
                    term.drain(0.1, 1)
                    tl = Timeline(term)
                    sent = []
                    for i in range(n):
                        k = MKEYS[i % len(MKEYS)]
                        sent.append((time.monotonic(), k))
                        term.send(k)
                        tl.pump(rtt + 0.15)
                    term.send(".")
                    term.wait(rb"MP-42", 10)
                    chars = tl.chars()
                finally:
                    term.close()
                    lab.reset()
                wrong, longest, over = 0, None, 0
                for idx, (t0, k) in enumerate(sent):
                    if (idx + 1) % 4:
                        continue
                    t_end = sent[idx + 1][0] if idx + 1 < len(sent) else \
                        None
                    lo = [t for t, ch in chars if ch == k and t and
                          t >= t0 and (t_end is None or t < t_end)]
                    up = [t for t, ch in chars if ch == k.upper() and t and
                          t >= t0]
                    if not lo:
                        continue
                    wrong += 1
                    dur = (up[0] if up else time.monotonic()) - lo[0]
                    longest = max(longest or 0, dur)
                    if dur > rtt + 0.05:
                        over += 1
                row = {"contender": c.name, "keys": n // 4,
                       "delay_ms": delay,
                       "shown_wrong": wrong, "over_rtt": over,
                       "longest_ms": longest * 1000 if longest else None}
                bench.record("mispredict", row)
                bench.log("mispredict %-13s %d upper-case keys, %d shown "
                          "wrong, %d longer than RTT+50ms" % (
                              c.name, n // 4, wrong, over))
            S.run_contender(bench, "mispredict", c, one)
    finally:
        lab.close()


# -- 17. attach repaint -------------------------------------------------------

ROWS_CMD = "clear; seq -f 'ROW-%02g' 1 20\r"


def attach(bench):
    """A second client attaches to a session showing 20 numbered rows
    and a prompt, 25 ms one way: seconds from its start until all of
    them arrived.  limpet attach vs tmux attach (through ssh)."""
    delay = 25
    reps = 1 if bench.quick else 5
    lab = bench.lab()
    try:
        lab.net.set_delay(delay)
        setup = S.ssh_setup_time(lab)
        for c in bench.pick("limpet", "autossh+tmux"):
            def one(c=c):
                lab.net.set_delay(delay)
                term = c.start(lab, timeout=30)
                took = []
                try:
                    term.send(ROWS_CMD)
                    if term.wait(rb"ROW-20", 10) is None:
                        raise RuntimeError("rows not shown")
                    term.drain(0.2, 2)
                    for i in range(reps):
                        took.append(attach_once(lab, c))
                finally:
                    term.close()
                    lab.reset()
                name = "tmux" if c.name == "autossh+tmux" else c.name
                row = {"contender": name, "rtt_s": 2 * delay / 1000.0,
                       "ssh_setup_s": setup, "all_s": took,
                       "repaint_s": S.median(took)}
                bench.record("attach", row)
                bench.log("attach %-13s %s (setup %.2f)" % (
                    name, " ".join("%.2f" % x for x in took), setup))
            S.run_contender(bench, "attach", c, one)
    finally:
        lab.close()


def session_id(lab):
    """The id of the lab's one limpet session (its socket's name)."""
    d = lab.ssh.sessions
    ids = [f[:-5] for f in os.listdir(d) if f.endswith(".sock")] \
        if os.path.isdir(d) else []
    if len(ids) != 1:
        raise RuntimeError("expected one session, found %r" % ids)
    return ids[0]


def attach_once(lab, c):
    """Start a second client; seconds until every row and the prompt
    after them arrived."""
    if c.name == "limpet":
        # With its id, attach takes an attached session over.
        argv = lab.in_client([lab.limpet, "attach", "--server-path",
                              lab.limpet, "-F", lab.ssh.ssh_config, "lab",
                              session_id(lab)])
    else:
        argv = lab.ssh_argv("tmux -S %s attach -t bench" % lab.tmux_sock,
                            opts=["-tt"])
    t0 = time.monotonic()
    t2 = Term(argv, lab.client_env(), echo=c.local_echo)
    try:
        want = [rb"ROW-%02d" % i for i in range(1, 21)]
        end = t0 + 20
        while time.monotonic() < end:
            text = t2.text(0)
            if all(w in text for w in want) and \
                    re.search(rb"ROW-20\s*" + C.PROMPT, text):
                return t2.last_read - t0
            if t2.read(0.5) is None:
                break
        raise RuntimeError("second client's screen incomplete: %r" %
                           t2.text(0)[-200:])
    finally:
        # Its ssh ended by pid: the tmux client or relay it ran ends too.
        t2.close()
        time.sleep(0.3)


ALL = [("predict", predict), ("password", password),
       ("mispredict", mispredict), ("attach", attach)]

__all__ = ["ALL", "os"]
