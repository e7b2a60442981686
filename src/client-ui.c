/*
 * What the client shows and how it answers the user: the "no contact"
 * notice, the ~ escapes, the status report and detaching.  Local text is
 * written only between whole pieces of session output, never inside them.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "client-int.h"
#include "client-tty.h"
#include "clock.h"
#include "log.h"
#include "proto.h"
#include "sock.h"
#include "xmalloc.h"

/* Put the session's pending output on the terminal first. */
static void
client_term_drain(struct client *c)
{
	size_t	n = buf_len(&c->term);

	if (n == 0)
		return;
	sock_write_all(STDOUT_FILENO, buf_ptr(&c->term), n, 1000);
	screen_track(&c->scr, buf_ptr(&c->term), n);
	c->out_written += n;
	buf_reset(&c->term);
}

/* Write local text (not session output) to the terminal. */
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
	client_term_drain(c);
	sock_write_all(STDOUT_FILENO, s, n, 1000);
	free(s);
}

/* Draw text in reverse video on the bottom line, keeping the cursor. */
static void
notice_draw(struct client *c, const char *text)
{
	char		line[512];
	uint16_t	rows = c->rows != 0 ? c->rows : 24;
	uint16_t	cols = c->cols != 0 ? c->cols : 80;
	int		width = cols > 1 ? cols - 1 : 1;

	if (width > 400)
		width = 400;
	snprintf(line, sizeof line, "\0337\033[%u;1H\033[2K\033[7m%.*s"
	    "\033[0m\0338", rows, width, text);
	client_local(c, "%s", line);
}

/*
 * Remove the notice and put back what it covered, as well as can be known:
 * a line that was blank (the cursor was above it), the cursor's own line
 * (its bytes since the last newline, replayed), or, for a program on the
 * alternate screen, nothing: it is told to redraw.  Returns 1 if the
 * program should be made to redraw.
 */
int
notice_clear(struct client *c)
{
	char		line[64];
	uint16_t	rows = c->rows != 0 ? c->rows : 24;
	int		mode = c->notice_on, redraw = 0;

	c->scr.cpr_wait = 0;
	c->cpr_deadline = 0;
	if (mode == NOTICE_NONE)
		return 0;
	c->notice_on = NOTICE_NONE;
	snprintf(line, sizeof line, "\0337\033[%u;1H\033[2K", rows);
	client_local(c, "%s", line);
	if (mode == NOTICE_LINE && !c->scr.line_long) {
		sock_write_all(STDOUT_FILENO, "\r", 1, 1000);
		sock_write_all(STDOUT_FILENO, c->scr.line, c->scr.linelen,
		    1000);
	} else if (mode != NOTICE_BLANK)
		redraw = 1;
	client_local(c, "\0338");
	return redraw;
}

/*
 * Decide where the notice may go.  On the main screen the terminal is
 * asked where the cursor is (answered within CPR_MS, or taken as the
 * bottom row); returns NOTICE_NONE while the answer is awaited.
 */
static int
notice_mode(struct client *c, uint64_t now)
{
	uint16_t	rows = c->rows != 0 ? c->rows : 24;

	if (c->scr.alt)
		return NOTICE_ALT;
	if (c->cpr_deadline == 0) {
		c->scr.row = 0;
		c->scr.cpr_wait = 1;
		c->cpr_deadline = now + CPR_MS;
		client_local(c, "\0337\033[6n\0338");
		return NOTICE_NONE;
	}
	if (c->scr.cpr_wait && now < c->cpr_deadline)
		return NOTICE_NONE;
	c->scr.cpr_wait = 0;
	if (c->scr.row != 0 && c->scr.row < rows)
		return NOTICE_BLANK;
	return NOTICE_LINE;
}

/*
 * While there is no contact, keep a one-line notice up to date: for how
 * long, which attempt, and the escapes that help.
 */
void
notice_update(struct client *c, uint64_t now)
{
	char	text[256];
	int	mode;

	if (c->state == ST_UP || c->state == ST_DONE || !c->attached_once ||
	    c->lost_at == 0 || !tty_is_raw())
		return;
	if (now - c->lost_at < NOTICE_MS || now < c->notice_at)
		return;
	if ((mode = c->notice_on) == NOTICE_NONE &&
	    (mode = notice_mode(c, now)) == NOTICE_NONE)
		return;
	snprintf(text, sizeof text, "limpet: no contact with %s for %llus, "
	    "%s (attempt %d). ~r retry now, ~. detach", c->ssh.dest,
	    (unsigned long long)(now - c->lost_at) / 1000,
	    c->state == ST_CONNECTING ? "connecting" : "waiting to retry",
	    c->attempt);
	notice_draw(c, text);
	c->notice_on = mode;
	c->notice_at = now + 1000;
}

/* Typed input could not be kept: say so (at most once a second). */
void
notice_input_full(struct client *c)
{
	client_local(c, "\r\n[limpet: input buffer full (%d KiB waiting for "
	    "the server): %llu typed bytes were NOT sent]\r\n",
	    INPUT_MAX / 1024, (unsigned long long)c->input_dropped);
}

/* Quote a word for the reattach hint if it needs it. */
static void
client_hint_word(char *out, size_t len, const char *w)
{
	size_t	n = strlen(out);

	if (strpbrk(w, " \t'\"\\$`") == NULL)
		snprintf(out + n, len - n, " %s", w);
	else
		snprintf(out + n, len - n, " '%s'", w);
}

/* The exact command that reattaches this session. */
static void
client_hint(struct client *c, char *out, size_t len)
{
	int	i;

	snprintf(out, len, "limpet attach");
	if (c->ssh.server_path != NULL) {
		client_hint_word(out, len, "--server-path");
		client_hint_word(out, len, c->ssh.server_path);
	}
	for (i = 0; i < c->ssh.nopts; i++)
		client_hint_word(out, len, c->ssh.opts[i]);
	client_hint_word(out, len, c->ssh.dest);
	client_hint_word(out, len, c->session);
}

/*
 * Leave the session running and quit.  With say set, print the command
 * that brings it back.
 */
void
client_detach(struct client *c, int say)
{
	char	hint[1024];

	if (c->state == ST_UP)
		frame_put(&c->tx, MSG_DETACH, NULL, 0);
	notice_clear(c);
	client_term_drain(c);
	tty_restore();
	if (say && c->attached_once) {
		client_hint(c, hint, sizeof hint);
		fprintf(stderr, "\r\nlimpet: detached from session %s on %s; "
		    "it keeps running.\r\nlimpet: reattach with: %s\r\n",
		    c->session, c->ssh.dest, hint);
	}
	client_finish(c, 0);
}

/* Print the connection status (~s). */
static void
client_status(struct client *c, uint64_t now)
{
	char	state[128];

	if (c->state == ST_UP)
		snprintf(state, sizeof state, "connected for %llus",
		    (unsigned long long)(now - c->up_since) / 1000);
	else
		snprintf(state, sizeof state, "no contact for %llus, %s "
		    "(attempt %d)", (unsigned long long)(c->lost_at != 0 ?
		    now - c->lost_at : 0) / 1000, c->state == ST_CONNECTING ?
		    "connecting" : "waiting to retry", c->attempt);
	client_local(c, "\r\n[limpet status: session %s on %s]\r\n"
	    "  state:      %s\r\n"
	    "  round trip: %llu ms (smoothed), %llu ms (last)\r\n"
	    "  reconnects: %d\r\n"
	    "  input:      %llu bytes typed, %llu waiting for the server "
	    "(%llu not yet sent)\r\n"
	    "  output:     %llu bytes received, %zu waiting for the "
	    "terminal\r\n",
	    c->session, c->ssh.dest, state,
	    (unsigned long long)c->srtt, (unsigned long long)c->rtt_last,
	    c->reconnects, (unsigned long long)c->in.end,
	    (unsigned long long)(c->in.end - c->in.start),
	    (unsigned long long)(c->in.end - c->in_sent),
	    (unsigned long long)c->out_have, buf_len(&c->term));
}

/* Print the escapes (~?). */
static void
client_help(struct client *c)
{
	client_local(c, "\r\nlimpet escapes (after Enter):\r\n"
	    "  ~.   detach and quit (the session keeps running)\r\n"
	    "  ~r   reconnect now\r\n"
	    "  ~s   connection status\r\n"
	    "  ~^Z  suspend limpet\r\n"
	    "  ~?   this help\r\n"
	    "  ~~   send a literal ~\r\n");
}

/* Act on an escape command. */
void
client_escape(struct client *c, int cmd, uint64_t now)
{
	switch (cmd) {
	case ESC_DETACH:
		client_detach(c, 1);
		break;
	case ESC_RECONNECT:
		c->fails = 0;
		if (c->state == ST_WAITING)
			c->next_try = now;
		else if (c->state == ST_UP || c->state == ST_CONNECTING) {
			if (c->state == ST_UP)
				c->lost_at = now;
			c->state = ST_CONNECTING;
			client_lost(c, "reconnect requested", now);
			c->reconnects++;
			c->next_try = now;
		}
		break;
	case ESC_STATUS:
		client_status(c, now);
		break;
	case ESC_SUSPEND:
		notice_clear(c);
		client_term_drain(c);
		tty_restore();
		raise(SIGTSTP);
		/*
		 * Back from the stop (or never stopped: an orphaned process
		 * group ignores SIGTSTP): raw mode again, and check the link.
		 */
		tty_raw(STDIN_FILENO);
		c->resize_due = 1;
		break;
	case ESC_HELP:
		client_help(c);
		break;
	}
}

/*
 * End the ssh child: close its stdin so it delivers what we queued and
 * leaves, then insist after a short while.
 */
void
client_close_ssh(struct client *c)
{
	uint64_t	deadline = clock_ms() + 2000;
	int		status;

	if (c->proc.in != -1) {
		close(c->proc.in);
		c->proc.in = -1;
	}
	while (c->proc.pid > 0 && clock_ms() < deadline) {
		if (ssh_reap(&c->proc, &status))
			break;
		poll(NULL, 0, 20);
	}
	ssh_stop(&c->proc);
	if (c->proc.pid > 0)
		waitpid(c->proc.pid, &status, 0);
	c->proc.pid = -1;
}

/* How long the loop may sleep. */
int
client_timeout(struct client *c, uint64_t now)
{
	uint64_t	due;

	if (c->state != ST_UP || c->pending_since != 0 || c->ping_out ||
	    c->notice_on || c->scr.cpr_wait)
		return 100;
	due = c->last_rx + c->keepalive_ms;
	/* Data flowed since the last ping: wake to see whether it stops. */
	if (c->last_data > c->ping_at && c->last_rx + SILENCE_MS < due)
		due = c->last_rx + SILENCE_MS;
	if (due <= now)
		return 0;
	return due - now > 60000 ? 60000 : (int)(due - now);
}
