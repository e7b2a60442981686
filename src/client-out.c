/*
 * The client's one output queue.  Session output and local text (notices,
 * status, messages) go to the terminal through it, in order, written only
 * when poll says the terminal takes more and never more than OUT_CHUNK at
 * a time (the terminal stays blocking: it is shared with the user's
 * shell).  Session output is acknowledged only once written; the local
 * pieces are remembered as spans so they are never counted as output.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "client-int.h"
#include "client-pipe.h"
#include "client-predict.h"
#include "client-tty.h"
#include "clock.h"
#include "log.h"

/* The last n bytes of the queue are new session output: track them. */
void
out_session(struct client *c, size_t n)
{
	size_t	len = buf_len(&c->term);

	if (n == 0 || c->pipe != NULL)	/* records, not a screen */
		return;
	screen_track(&c->scr, buf_ptr(&c->term) + len - n, n);
	cpred_output(c, buf_ptr(&c->term) + len - n, n, clock_ms());
}

/* Queue local text (not session output). */
void
client_local_bytes(struct client *c, const void *p, size_t n)
{
	uint64_t	start = c->q_out + buf_len(&c->term);

	if (n == 0)
		return;
	if (c->pipe != NULL) {		/* never on stdout */
		cpipe_local(c, p, n);
		return;
	}
	cpred_local(c, p, n, 1);
	start = c->q_out + buf_len(&c->term);
	if (c->nlocal > 0 && c->local[c->nlocal - 1].end == start)
		c->local[c->nlocal - 1].end += n;
	else if (c->nlocal == OUT_SPANS) {
		debug_f("local text dropped: too many pieces queued");
		return;
	} else {
		c->local[c->nlocal].start = start;
		c->local[c->nlocal].end = start + n;
		c->nlocal++;
	}
	if (buf_put(&c->term, p, n) != 0) {
		/* Full of output: the text is dropped, not the output. */
		c->local[c->nlocal - 1].end -= n;
		if (c->local[c->nlocal - 1].end ==
		    c->local[c->nlocal - 1].start)
			c->nlocal--;
		debug_f("local text dropped: output queue full");
	}
	cpred_local(c, p, n, 0);
}

/* Queue formatted local text. */
void
client_local(struct client *c, const char *fmt, ...)
{
	char	*s;
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	client_local_bytes(c, s, (size_t)n);
	free(s);
}

/* Account for n queue bytes written: count the session output in them. */
void
out_account(struct client *c, size_t n)
{
	uint64_t	from = c->q_out, to = c->q_out + n, local = 0, s, e;
	int		i, k = 0;

	for (i = 0; i < c->nlocal; i++) {
		s = c->local[i].start > from ? c->local[i].start : from;
		e = c->local[i].end < to ? c->local[i].end : to;
		if (e > s)
			local += e - s;
		if (c->local[i].end <= to)
			k = i + 1;
	}
	if (k > 0) {
		memmove(c->local, c->local + k, (c->nlocal - k) *
		    sizeof c->local[0]);
		c->nlocal -= k;
	}
	c->out_written += n - local;
	c->q_out = to;
}

/*
 * Write the head of the queue; call when poll said POLLOUT.  Returns -1
 * if the terminal is gone, else 0.
 */
int
out_write(struct client *c)
{
	size_t	n = buf_len(&c->term);
	ssize_t	w;

	if (c->pipe != NULL)
		return cpipe_write(c);
	if (n == 0)
		return 0;
	if (n > OUT_CHUNK)
		n = OUT_CHUNK;
	w = write(STDOUT_FILENO, buf_ptr(&c->term), n);
	if (w > 0) {
		buf_consume(&c->term, (size_t)w);
		out_account(c, (size_t)w);
		return 0;
	}
	if (w == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return -1;
}

/*
 * Drop everything queued (output the daemon no longer has, after a gap
 * it reported); nothing of it is acknowledged.
 */
void
out_discard(struct client *c)
{
	c->q_out += buf_len(&c->term);
	buf_reset(&c->term);
	c->nlocal = 0;
}

/*
 * On the way out: write what the queue holds for at most timeout_ms.
 * What the terminal does not take is left (and not acknowledged).
 */
void
out_drain(struct client *c, int timeout_ms)
{
	uint64_t	deadline = clock_ms() + timeout_ms, now;
	struct pollfd	pfd;

	while (buf_len(&c->term) > 0 && (now = clock_ms()) < deadline) {
		if ((pfd.fd = cpipe_out_fd(c)) == -1)
			break;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			break;
		if (out_write(c) != 0)
			break;
	}
}

/*
 * Copy server-provided text s into out (len bytes, NUL-terminated) with
 * control bytes escaped (\n, \t, \e, \xNN), so text from outside the
 * session cannot drive the user's terminal.  Returns the length.
 */
size_t
out_safe(char *out, size_t len, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 o = 0;
	char			 tmp[16];

	if (len == 0)
		return 0;
	for (; *p != '\0'; p++) {
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			/* A C1 control in UTF-8: escape both bytes. */
			snprintf(tmp, sizeof tmp, "\\xc2\\x%02x", *++p);
		} else if ((*p >= 0x20 && *p < 0x7f && *p != '\\') ||
		    *p >= 0xa0)
			snprintf(tmp, sizeof tmp, "%c", *p);
		else if (*p == '\\')
			snprintf(tmp, sizeof tmp, "\\\\");
		else if (*p == '\n')
			snprintf(tmp, sizeof tmp, "\\n");
		else if (*p == '\t')
			snprintf(tmp, sizeof tmp, "\\t");
		else if (*p == 0x1b)
			snprintf(tmp, sizeof tmp, "\\e");
		else
			snprintf(tmp, sizeof tmp, "\\x%02x", *p);
		if (o + strlen(tmp) >= len)
			break;
		memcpy(out + o, tmp, strlen(tmp));
		o += strlen(tmp);
	}
	out[o] = '\0';
	return o;
}
