"""End-to-end tests of pipe sessions: `limpet host cmd < in > out` with
stdin not a terminal runs cmd on pipes, stdout and stderr apart, exactly
once across real cuts (the client's ssh killed), stdin's end and the
exit status carried through.
"""

import hashlib
import io
import os
import random
import shlex
import signal
import subprocess
import tarfile
import threading
import time

from test_session import attaches_logged, ended, kill_ssh, server_procs, \
    wait_for


def popen(run, lab, args, stdin, opts=(), stdout=subprocess.PIPE, env=None):
    """Start a pipe-mode client; its stderr goes to a file (returned)."""
    errpath = os.path.join(run.workdir, "stderr.%d" % len(run.children))
    err = open(errpath, "wb")
    p = subprocess.Popen(lab.limpet_cmd(opts=opts, args=args), stdin=stdin,
                         stdout=stdout, stderr=err, env=run.env(env))
    err.close()
    run.children.append(p)
    return p, errpath


def read_paced(p, chunk, pause, kills=None, killer_every=None, seed=1):
    """Read p's stdout to its end, chunk bytes every pause seconds, killing
    the client's ssh now and then (counted in kills[0]).  A kill comes
    only once output flowed again since the last one: a link that is cut
    before it is up makes the client back off, as it should, and a test
    would only measure the back-off.  Returns the bytes."""
    out = bytearray()
    stop = threading.Event()
    got = [0]

    def killer():
        rnd = random.Random(seed)
        while not stop.is_set():
            mark = got[0]
            while not stop.is_set() and got[0] < mark + 4 * chunk:
                time.sleep(0.01)
            time.sleep(rnd.uniform(*killer_every))
            if not stop.is_set() and kill_ssh(p):
                kills[0] += 1

    t = None
    try:
        fd = p.stdout.fileno()
        while True:
            b = os.read(fd, chunk)
            if not b:
                break
            out += b
            got[0] = len(out)
            if t is None and killer_every is not None:
                t = threading.Thread(target=killer, daemon=True)
                t.start()
            time.sleep(pause)
    finally:
        stop.set()
        if t is not None:
            t.join()
    return bytes(out)


def finish(p, errpath, timeout=30):
    """Wait for the client; returns (status, stderr bytes)."""
    st = p.wait(timeout=timeout)
    with open(errpath, "rb") as f:
        return st, f.read()


def test_cat_20mb_survives_ten_kills(run, lab):
    """20 MB of random bytes in and out through cat, the client's ssh
    killed at least ten times: what comes back is what went in."""
    src = os.path.join(run.workdir, "in.bin")
    data = os.urandom(20_000_000)
    with open(src, "wb") as f:
        f.write(data)
    kills = [0]
    with open(src, "rb") as inp:
        p, errpath = popen(run, lab, ["cat"], inp)
        # Read about 3 MB/s: the transfer lasts long enough for the cuts,
        # and back-pressure holds the daemon (and cat) meanwhile.
        got = read_paced(p, 65536, 0.01, kills, (0.1, 0.3))
    st, err = finish(p, errpath)
    assert st == 0, err
    assert kills[0] >= 10, "only %d kills during the transfer" % kills[0]
    assert len(got) == len(data)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert err == b""


def make_tree(root):
    """A directory tree of about 21 MB: many small files, some large, a
    2 MB one in each directory."""
    rnd = random.Random(7)
    for d in range(8):
        sub = os.path.join(root, "d%d" % d, "e%d" % (d % 3))
        os.makedirs(sub)
        for i in range(25):
            n = rnd.choice([0, 10, 1000, 30000, 100000])
            with open(os.path.join(sub, "f%d" % i), "wb") as f:
                f.write(rnd.randbytes(n))
        with open(os.path.join(sub, "big"), "wb") as f:
            f.write(rnd.randbytes(2_000_000))
    os.symlink("d0/e0/f1", os.path.join(root, "link"))


def tree_digest(root):
    """Every path under root with its kind and content hash."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = "l:" + os.readlink(path)
            elif os.path.isdir(path):
                out[rel] = "d"
            else:
                with open(path, "rb") as f:
                    out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_tar_of_a_tree_survives_kills(run, lab):
    """`limpet host 'tar c dir' > dir.tar` (over 20 MB) across ten ssh
    kills extracts to the same tree."""
    tree = os.path.join(run.workdir, "tree")
    make_tree(tree)
    kills = [0]
    p, errpath = popen(run, lab, ["tar", "cf", "-", "-C", tree, "."],
                       subprocess.DEVNULL)
    tar = read_paced(p, 65536, 0.01, kills, (0.1, 0.3), seed=3)
    st, err = finish(p, errpath)
    assert st == 0, err
    assert len(tar) >= 20_000_000, len(tar)
    assert kills[0] >= 10, "only %d kills during the transfer" % kills[0]
    out = os.path.join(run.workdir, "out")
    os.makedirs(out)
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        if hasattr(tarfile, "tar_filter"):
            t.extractall(out, filter="tar")
        else:
            t.extractall(out)
    assert tree_digest(out) == tree_digest(tree)
    assert err == b""


def test_stdin_eof_reaches_the_program(run, lab):
    """wc -c sees stdin end: the exact count, for data and for none."""
    data = os.urandom(300_000)
    p = subprocess.run(lab.limpet_cmd(args=["wc -c"]), input=data,
                       capture_output=True, env=run.env(), timeout=30)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"300000\n", b"")
    p = subprocess.run(lab.limpet_cmd(args=["wc -c"]),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       env=run.env(), timeout=30)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"0\n", b"")


def test_stderr_apart_from_stdout(run, lab):
    """Interleaved writes to stdout and stderr come out each on its own,
    complete and in order; nothing of limpet's own is added."""
    script = ("i=0; while [ $i -lt 2000 ]; do echo out$i; echo err$i >&2; "
              "i=$((i+1)); done; printf tail-out; printf tail-err >&2")
    p = subprocess.run(lab.limpet_cmd(args=[script]),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       env=run.env(), timeout=60)
    want_out = "".join("out%d\n" % i for i in range(2000)) + "tail-out"
    want_err = "".join("err%d\n" % i for i in range(2000)) + "tail-err"
    assert p.returncode == 0
    assert p.stdout.decode() == want_out
    assert p.stderr.decode() == want_err


def test_exit_status_is_returned(run, lab):
    """exit N gives N; a program killed by signal N gives 128+N, as ssh
    does; no words of limpet's on stderr."""
    for script, want in (("exit 7", 7), ("kill -TERM $$", 128 + 15),
                         ("kill -KILL $$", 128 + 9), ("true", 0)):
        p = subprocess.run(lab.limpet_cmd(args=[script]),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           env=run.env(), timeout=30)
        assert (p.returncode, p.stdout, p.stderr) == (want, b"", b""), \
            script


def test_large_stdin_waits_for_a_slow_reader(run, lab):
    """8 MB of stdin for a program that starts reading only later, with
    cuts meanwhile: every byte arrives once (back-pressure, not loss)."""
    data = os.urandom(8_000_000)
    src = os.path.join(run.workdir, "in.bin")
    with open(src, "wb") as f:
        f.write(data)
    mark = os.path.join(run.workdir, "go")
    script = ("while [ ! -e %s ]; do sleep 0.1; done; sha256sum; wc -c < "
              "/dev/null" % mark)
    with open(src, "rb") as inp:
        p, errpath = popen(run, lab, [script], inp)
        # The program does not read yet: the window holds the rest back.
        wait_for(lambda: attaches_logged(lab) >= 1, what="the session")
        kills = 0
        for _ in range(3):
            time.sleep(0.6)
            kills += kill_ssh(p)
        open(mark, "w").close()
        out = p.stdout.read()
    st, err = finish(p, errpath)
    assert kills >= 2
    assert st == 0, err
    assert out.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_program_that_does_not_read_stdin(run, lab):
    """A program that never reads its stdin and exits: the client does
    not hang on the input it still holds."""
    data = os.urandom(4_000_000)
    p = subprocess.run(lab.limpet_cmd(args=["echo done; exit 3"]),
                       input=data, capture_output=True, env=run.env(),
                       timeout=30)
    assert (p.returncode, p.stdout, p.stderr) == (3, b"done\n", b"")


def test_a_terminal_still_gets_a_session(spawn, run, lab):
    """With stdin a terminal, `limpet host cmd` runs cmd on a PTY."""
    p = spawn(lab.limpet_cmd(args=["tty; exit 5"]))
    p.expect(r"/dev/pts/\d+")
    assert ended(p) == 5
    q = subprocess.run(lab.limpet_cmd(args=["tty"]),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       env=run.env(), timeout=30)
    assert q.stdout == b"not a tty\n" and q.returncode == 1


def test_interrupt_ends_the_remote_program(run, lab):
    """SIGINT to the client (Ctrl-C in a pipeline) ends the remote
    program as with ssh, rather than leaving it blocked."""
    marker = "limpet-pipe-%d" % os.getpid()
    p, errpath = popen(run, lab, ["sleep 300; : " + marker],
                       subprocess.DEVNULL)

    def remote():
        return server_procs(lab, ["sleep", "300"])
    wait_for(remote, what="the remote sleep")
    p.send_signal(signal.SIGINT)
    st, err = finish(p, errpath)
    assert st == 128 + signal.SIGINT
    assert b"reattach" not in err
    wait_for(lambda: not remote(), what="the remote program to end")


def test_stdout_closed_ends_the_program(run, lab):
    """`limpet host yes | head -1`: once nobody reads stdout the remote
    program ends and limpet leaves as a writer killed by SIGPIPE."""
    log = os.path.join(run.workdir, "client.log")
    p, errpath = popen(run, lab, ["yes"], subprocess.DEVNULL,
                       opts=["--verbose"], env={"LIMPET_LOG": log})
    line = p.stdout.readline()
    assert line == b"y\n"
    p.stdout.close()
    st, err = finish(p, errpath)
    assert st == 128 + signal.SIGPIPE, err
    try:
        wait_for(lambda: not server_procs(lab, ["yes"]),
                 what="the remote program to end")
    except AssertionError:
        with open(log) as f:
            print("".join(l for l in f if "frame" not in l)[-4000:])
        raise


def test_output_is_held_not_dropped_while_away(run, make_lab):
    """With a small ring, no hold time and the client away while the
    program writes far more than the ring: a terminal session would drop
    the oldest output, a pipe session stops the program instead."""
    lab = make_lab(env={"LIMPET_TEST_HOLD_MS": "0"})
    script = "head -c 3000000 /dev/urandom | tee $HOME/.lp.$$ | cat; " \
        "sha256sum < $HOME/.lp.$$ >&2; rm $HOME/.lp.$$"
    p, errpath = popen(run, lab, [script], subprocess.DEVNULL,
                       opts=["--ring-size", "64K"])
    first = p.stdout.read(1000)
    # Away: the client stopped, its link cut; the daemon has no client.
    p.send_signal(signal.SIGSTOP)
    assert kill_ssh(p) == 1
    wait_for(lambda: "client detached" in lab.server_log_text(),
             what="the daemon to see the cut")
    time.sleep(1.0)
    p.send_signal(signal.SIGCONT)
    rest = p.stdout.read()
    st, err = finish(p, errpath)
    assert st == 0, err
    data = first + rest
    assert len(data) == 3000000
    assert hashlib.sha256(data).hexdigest() == err.split()[0].decode()


def test_give_up_says_so_on_stderr_only(run, lab):
    """With the server gone for longer than --give-up the client says so
    on stderr (never stdout), with the command that ends the program, and
    exits 255; that command works once the server is back."""
    p, errpath = popen(run, lab, ["echo started; sleep 300"],
                       subprocess.DEVNULL, opts=["--give-up", "2"])
    assert p.stdout.readline() == b"started\n"
    lab.stop()
    assert kill_ssh(p) == 1
    st, err = finish(p, errpath, timeout=30)
    assert st == 255
    assert p.stdout.read() == b""
    msg = err.decode()
    assert "gave up after" in msg and "limpet kill" in msg, msg
    assert "attach" not in msg
    lab.start()
    hint = shlex.split(msg[msg.index("limpet kill"):].strip())
    hint[0] = lab.limpet_cmd()[0]
    q = subprocess.run(hint, stdin=subprocess.DEVNULL, capture_output=True,
                       env=run.env(), timeout=30)
    assert q.returncode == 0, q.stderr
    wait_for(lambda: not server_procs(lab, ["sleep", "300"]),
             what="the remote program to end")
