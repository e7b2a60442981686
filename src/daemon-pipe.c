/*
 * The daemon's end of a pipe session.  The program runs without a
 * terminal, as `ssh host cmd < in > out` runs it: stdin, stdout and
 * stderr are pipes.  What it writes to stdout and stderr is cut into
 * records (pipe.h) in the output ring, so the client gets the two streams
 * apart, exactly once, across reconnects, with the ring's offsets and
 * ACKs unchanged.  Unlike a terminal session the ring is never
 * overwritten: when it is full (or the output window is), the pipes are
 * not read and the program blocks in its write.  The client's input goes
 * to the program's stdin, closed once every byte before the client's
 * PIPE_EOF is written.  The session ends as any other: the program's
 * exit once its stdout and stderr are at EOF, then EXIT.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "clock.h"
#include "daemon-int.h"
#include "err.h"
#include "log.h"
#include "pipe.h"
#include "pty.h"
#include "xmalloc.h"

/* Close pipe i (0 stdin, 1 stdout, 2 stderr), if open. */
static void
dpipe_close(struct dpipe *dp, int i)
{
	if (dp->fd[i] != -1) {
		close(dp->fd[i]);
		dp->fd[i] = -1;
	}
}

/* In the child: the pipes become fds 0, 1, 2; then as for a PTY. */
static void __attribute__((noreturn))
dpipe_child(const struct pty_spec *spec, int fds[3][2])
{
	struct passwd	*pw = getpwuid(getuid());
	const char	*shell = NULL, *home = NULL;

	if (pw != NULL) {
		shell = pw->pw_shell;
		home = pw->pw_dir;
	}
	if (shell == NULL || *shell == '\0')
		shell = "/bin/sh";
	setsid();	/* its own group: kill(-pid) ends what it started */
	if (dup2(fds[0][0], STDIN_FILENO) == -1 ||
	    dup2(fds[1][1], STDOUT_FILENO) == -1 ||
	    dup2(fds[2][1], STDERR_FILENO) == -1)
		_exit(127);
	pty_child(spec, shell, home);
}

/*
 * Start the session's program on pipes (HELLO_PIPE): d->child is its pid,
 * d->ptyfd stays -1.  Returns 0 or a negative error.
 */
int
dpipe_spawn(struct daemon *d, const struct pty_spec *spec)
{
	struct dpipe	*dp = xcalloc(1, sizeof *dp);
	int		 fds[3][2], i, n = 0, saved;
	sigset_t	 all, old;
	pid_t		 p;

	for (i = 0; i < 3; i++, n++)
		if (compat_pipe2(fds[i], O_CLOEXEC) == -1)
			goto fail;
	/* No signal may run a handler in the child before it execs. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((p = fork()) == -1) {
		saved = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		errno = saved;
		goto fail;
	}
	if (p == 0)
		dpipe_child(spec, fds);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Ours: the write end of stdin, the read ends of stdout, stderr. */
	dp->fd[0] = fds[0][1];
	dp->fd[1] = fds[1][0];
	dp->fd[2] = fds[2][0];
	close(fds[0][0]);
	close(fds[1][1]);
	close(fds[2][1]);
	for (i = 0; i < 3; i++) {
		fcntl(dp->fd[i], F_SETFL, fcntl(dp->fd[i], F_GETFL) |
		    O_NONBLOCK);
		dp->ipfd[i] = -1;
	}
	dp->in_end = DPIPE_NOEND;
	dp->first = PIPE_STDOUT;
	d->pipe = dp;
	d->child = p;
	d->vt_off = 1;		/* no screen to model */
	d->pty_hup = 1;		/* the end is the pipes' EOF, no timer */
	return 0;
fail:
	saved = errno;
	while (n-- > 0) {
		close(fds[n][0]);
		close(fds[n][1]);
	}
	free(dp);
	errno = saved;
	return ERR_SYSTEM;
}

/* Free the pipe session's state (its fds closed). */
void
dpipe_free(struct daemon *d)
{
	int	i;

	if (d->pipe == NULL)
		return;
	for (i = 0; i < 3; i++)
		dpipe_close(d->pipe, i);
	free(d->pipe);
	d->pipe = NULL;
}

/*
 * Whether HELLO h may attach: a pipe client only to a pipe session, a
 * terminal client only to a terminal session (the two streams differ).
 */
int
dpipe_attach_ok(const struct daemon *d, const struct msg_hello *h)
{
	return ((h->flags & HELLO_PIPE) != 0) == (d->pipe != NULL);
}

/* Whether input bytes off .. off+n may come: not past the PIPE_EOF. */
int
dpipe_input_ok(const struct daemon *d, uint64_t off, size_t n)
{
	if (d->pipe == NULL || d->pipe->in_end == DPIPE_NOEND)
		return 0;
	if (off > d->pipe->in_end || n > d->pipe->in_end - off)
		return ERR_RANGE;
	return 0;
}

/*
 * PIPE_EOF(end): the client's stdin ends at end.  A resend (after a
 * reconnect) repeats the same end; another end, an end before input
 * already received, or a terminal session is a protocol error.
 */
int
dpipe_eof(struct daemon *d, const uint8_t *p, size_t n)
{
	uint64_t	end;

	if (d->pipe == NULL || proto_u64_parse(p, n, &end) != 0 ||
	    end < d->in_have || end > (UINT64_C(1) << 62))
		return ERR_FORMAT;
	if (d->pipe->in_end != DPIPE_NOEND && d->pipe->in_end != end)
		return ERR_FORMAT;
	if (d->pipe->in_end == DPIPE_NOEND)
		log_info("input ends at %llu", (unsigned long long)end);
	d->pipe->in_end = end;
	return 0;
}

/*
 * Output bytes one record may carry now: within the ring (never
 * overwriting) and, with a client attached, within the output window
 * and the client's queue, as for a terminal (daemon_may_read_pty).
 */
static size_t
dpipe_room(struct daemon *d)
{
	size_t	room = ring_room(&d->out), w;

	if (d->client != NULL) {
		if (buf_len(&d->client->out) >= OUT_QUEUE_MAX)
			return 0;
		if (ring_len(&d->out) >= d->window)
			return 0;
		w = d->window - ring_len(&d->out);
		if (w < room)
			room = w;
	}
	if (room <= PIPE_HDR)
		return 0;
	room -= PIPE_HDR;
	return room < DATA_CHUNK ? room : DATA_CHUNK;
}

/* Read stream i (PIPE_STDOUT or PIPE_STDERR) into one record. */
static ssize_t
dpipe_read(struct daemon *d, int i)
{
	uint8_t	 tmp[PIPE_HDR + DATA_CHUNK];
	size_t	 want = dpipe_room(d);
	ssize_t	 n;

	if (want == 0 || d->pipe->fd[i] == -1)
		return 0;
	n = read(d->pipe->fd[i], tmp + PIPE_HDR, want);
	d->pty_dry = n == -1 && errno == EAGAIN;	/* for the window */
	if (n > 0) {
		pipe_hdr(tmp, i, (uint32_t)n);
		if (ring_append(&d->out, tmp, PIPE_HDR + (size_t)n, 0) != 0)
			fatalx("%s: no room", __func__);	/* room said */
		d->active = clock_wall();
		return n;
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		dpipe_close(d->pipe, i);
		if (d->pipe->fd[PIPE_STDOUT] == -1 &&
		    d->pipe->fd[PIPE_STDERR] == -1)
			d->pty_eof = 1;	/* all output is in the ring */
	}
	return 0;
}

/* Write queued input to the program; close its stdin at the EOF. */
static void
dpipe_write(struct daemon *d)
{
	struct dpipe	*dp = d->pipe;
	ssize_t		 n;

	if (dp->fd[0] == -1) {
		buf_reset(&d->pty_in);	/* nobody reads it: dropped */
		return;
	}
	if (buf_len(&d->pty_in) > 0) {
		n = buf_write_fd(&d->pty_in, dp->fd[0]);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			log_info("stdin write: %s", strerror(errno));
			buf_reset(&d->pty_in);
			dpipe_close(dp, 0);
			return;
		}
	}
	if (dp->in_end != DPIPE_NOEND && d->in_have == dp->in_end &&
	    buf_len(&d->pty_in) == 0) {
		log_info("closing the program's stdin");
		dpipe_close(dp, 0);
	}
}

/* Add the pipes to the poll set at n; returns the new count. */
int
dpipe_poll(struct daemon *d, struct pollfd *pfd, int n, uint64_t now)
{
	struct dpipe	*dp = d->pipe;
	int		 i, room;

	(void)now;
	if (dp == NULL)
		return n;
	room = dpipe_room(d) > 0;
	for (i = 0; i < 3; i++) {
		dp->ipfd[i] = -1;
		if (dp->fd[i] == -1)
			continue;
		if (i == 0 && buf_len(&d->pty_in) == 0)
			continue;
		if (i != 0 && !room)
			continue;	/* back-pressure: the program waits */
		pfd[n].fd = dp->fd[i];
		pfd[n].events = i == 0 ? POLLOUT : POLLIN;
		pfd[n].revents = 0;
		dp->ipfd[i] = n++;
	}
	return n;
}

/*
 * After poll: read stdout and stderr (taking turns which goes first, up
 * to READ_MAX a turn) and write input.  Input is written every turn, as
 * it may have arrived in this one.
 */
void
dpipe_ready(struct daemon *d, struct pollfd *pfd, uint64_t now)
{
	struct dpipe	*dp = d->pipe;
	size_t		 total = 0;
	ssize_t		 got;
	int		 i, k, ready[3] = { 0, 0, 0 };

	(void)now;
	if (dp == NULL)
		return;
	for (i = 1; i < 3; i++)
		ready[i] = dp->ipfd[i] != -1 &&
		    (pfd[dp->ipfd[i]].revents & (POLLIN | POLLHUP | POLLERR));
	for (k = 0; k < 2; k++) {
		i = k == 0 ? dp->first : 3 - dp->first;
		while (ready[i] && total < READ_MAX) {
			if ((got = dpipe_read(d, i)) <= 0)
				break;
			total += (size_t)got;
		}
	}
	dp->first = 3 - dp->first;
	dpipe_write(d);
}
