/*
 * The client's end of a pipe session.  When stdin is not a terminal,
 * `limpet host cmd` runs cmd on pipes (HELLO_PIPE), as ssh does, but
 * resumable: stdin is read into the input stream (kept until the daemon
 * acknowledges it, as typed input is) and its end is sent as PIPE_EOF
 * after the last byte, again on every connection; the output stream holds
 * records (pipe.h) that go to stdout and stderr, each acknowledged once
 * written.  No terminal modes, screen, prediction or notices: stdout
 * carries the program's output only, and the client's own words go to
 * stderr, only with --verbose or when it gives up.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-int.h"
#include "client-pipe.h"
#include "clock.h"
#include "log.h"
#include "xmalloc.h"

/* Pipe mode: set up for the first HELLO.  Returns 0, or an exit code. */
int
cpipe_start(struct client *c)
{
	c->pipe = xcalloc(1, sizeof *c->pipe);
	pipe_rx_init(&c->pipe->rx);
	c->pipe->verbose = cmdline_has(&c->cl, "verbose");
	c->rows = c->cols = 0;		/* no terminal: no size */
	return 0;
}

/* Release the pipe state. */
void
cpipe_free(struct client *c)
{
	free(c->pipe);
	c->pipe = NULL;
}

/* HELLO flags for pipe mode (every HELLO says it, attach included). */
uint8_t
cpipe_hello_flags(const struct client *c)
{
	return c->pipe != NULL ? HELLO_PIPE : 0;
}

/* A new connection: its PIPE_EOF is still to be sent. */
void
cpipe_begin(struct client *c)
{
	if (c->pipe != NULL)
		c->pipe->eof_sent = 0;
}

/*
 * Read stdin into the input stream, as much as the queue has room for;
 * at its end remember where the stream ends.
 */
void
cpipe_read_in(struct client *c)
{
	uint8_t	tmp[16384];
	size_t	room = ring_room(&c->in);
	ssize_t	n;

	if (room == 0)
		return;
	n = read(STDIN_FILENO, tmp, room < sizeof tmp ? room : sizeof tmp);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == -1)
			log_error("standard input: %s", strerror(errno));
		c->stdin_open = 0;
		c->pipe->eof = 1;
		c->pipe->in_end = c->in.end;
		debug_f("stdin ends at %llu",
		    (unsigned long long)c->pipe->in_end);
		return;
	}
	if (ring_append(&c->in, tmp, (size_t)n, 0) != 0)
		fatalx("%s: input queue overflow", __func__);	/* room */
}

/*
 * Once every input byte is queued on this connection, say where the
 * input ends (once per connection: the daemon takes a repeat).
 */
void
cpipe_step(struct client *c)
{
	struct cpipe	*cp = c->pipe;

	if (cp != NULL && cp->leaving && (c->state != ST_UP ||
	    clock_ms() >= cp->leave_by)) {
		client_finish(c, cp->leave_code);	/* link closed */
		return;
	}
	if (cp == NULL || !cp->eof || cp->eof_sent || c->state != ST_UP ||
	    c->in_sent != c->in.end)
		return;
	if (proto_u64_put(&c->tx, MSG_PIPE_EOF, cp->in_end) != 0) {
		client_lost(c, "send buffer full", clock_ms());
		return;
	}
	cp->eof_sent = 1;
}

/*
 * The fd the head of the output queue goes to (STDOUT_FILENO outside
 * pipe mode), or -1 when it holds no payload yet.  Record headers at the
 * head are taken off and counted as written.
 */
int
cpipe_out_fd(struct client *c)
{
	size_t	used, len;
	int	stream;

	if (c->pipe == NULL)
		return STDOUT_FILENO;
	if (c->pipe->leaving) {
		out_discard(c);		/* nobody reads it any more */
		return -1;
	}
	if (pipe_rx_next(&c->pipe->rx, buf_ptr(&c->term), buf_len(&c->term),
	    &used, &stream, &len) != 0) {
		client_finish_msg(c, 255, "protocol error: bad output record "
		    "from the server");
		return -1;
	}
	if (used > 0) {
		buf_consume(&c->term, used);
		out_account(c, used);
	}
	if (len == 0)
		return -1;
	return stream == PIPE_STDERR ? STDERR_FILENO : STDOUT_FILENO;
}

/*
 * Write the head of the queue to stdout or stderr; called when poll said
 * the fd takes more.  At most PIPE_BUF bytes, which a pipe that polled
 * writable takes without blocking (stdout may be shared: it stays
 * blocking).  Returns -1 if the fd is gone, else 0.
 */
int
cpipe_write(struct client *c)
{
	size_t	used, len;
	ssize_t	w;
	int	stream, fd;

	if ((fd = cpipe_out_fd(c)) == -1)
		return 0;
	pipe_rx_next(&c->pipe->rx, buf_ptr(&c->term), buf_len(&c->term),
	    &used, &stream, &len);
	if (len > PIPE_BUF)
		len = PIPE_BUF;
	w = write(fd, buf_ptr(&c->term), len);
	if (w > 0) {
		pipe_rx_done(&c->pipe->rx, (size_t)w);
		buf_consume(&c->term, (size_t)w);
		out_account(c, (size_t)w);
		return 0;
	}
	if (w == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/*
	 * Nobody reads it (`limpet host yes | head -1`): end the program, as
	 * ssh's closed channel would (DETACH ends a pipe session), and leave
	 * as a writer killed by SIGPIPE does, once the daemon has closed the
	 * link: until then ssh is read (its output dropped), so that a
	 * flood cannot hold the DETACH back in ssh.
	 */
	debug_f("%s: %s", fd == STDOUT_FILENO ? "stdout" : "stderr",
	    strerror(errno));
	cpipe_leave(c, 128 + SIGPIPE);
	return 0;
}

/*
 * Leave with code, ending the program (DETACH ends a pipe session):
 * stdout gone, or the user interrupted limpet.  While the link is up the
 * client waits for the daemon to close it (or PIPE_LEAVE_MS), reading
 * ssh and dropping the output, so that a flood cannot keep the DETACH
 * in ssh; a second call leaves at once.
 */
void
cpipe_leave(struct client *c, int code)
{
	out_discard(c);		/* nothing more is written */
	if (c->state != ST_UP || c->pipe->leaving) {
		client_finish(c, code);
		return;
	}
	frame_put(&c->tx, MSG_DETACH, NULL, 0);
	c->pipe->leaving = 1;
	c->pipe->leave_code = code;
	c->pipe->leave_by = clock_ms() + PIPE_LEAVE_MS;
}

/*
 * The client's own text (notices): never on stdout in pipe mode; on
 * stderr with --verbose, without the terminal's line ends.
 */
void
cpipe_local(struct client *c, const void *p, size_t n)
{
	const char	*s = p;
	char		 line[1024];
	size_t		 i, k = 0;

	if (!c->pipe->verbose)
		return;
	for (i = 0; i < n && k < sizeof line - 1; i++)
		if (s[i] != '\r' && (s[i] != '\n' || k > 0))
			line[k++] = s[i];
	if (k > 0 && write(STDERR_FILENO, line, k) == -1)
		c->pipe->verbose = 0;
}
