/*
 * What the client shows and how it answers the user: the "no contact"
 * notice, the ~ escapes, the status report and detaching.  Local text is
 * written only between whole pieces of session output, never inside them.
 */
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
#include "client-flow.h"
#include "client-int.h"
#include "client-keep.h"
#include "client-predict.h"
#include "client-repaint.h"
#include "client-tty.h"
#include "clock.h"
#include "log.h"
#include "proto.h"
#include "xmalloc.h"

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

	repaint_notice_off(c);
	c->scr.cpr_wait = 0;
	c->cpr_deadline = 0;
	if (mode == NOTICE_NONE)
		return 0;
	c->notice_on = NOTICE_NONE;
	snprintf(line, sizeof line, "\0337\033[%u;1H\033[2K", rows);
	client_local(c, "%s", line);
	if (mode == NOTICE_LINE && !c->scr.line_long) {
		client_local_bytes(c, "\r", 1);
		client_local_bytes(c, c->scr.line, c->scr.linelen);
	} else if (mode != NOTICE_BLANK)
		redraw = 1;
	if (c->scr.alt_unknown)
		redraw = 1;	/* attached mid-stream: it may be full-screen */
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
		c->scr.cpr_owed++;
		c->cpr_asked = now;
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
 * The notice's text, as long as fits the width: the hints (~r, ~.) are
 * kept to the last, the host name and the state go first.
 */
static void
notice_text(struct client *c, uint64_t now, char *out, size_t len)
{
	char		 host[64];
	const char	*state;
	unsigned long long secs = (now - c->lost_at) / 1000;
	size_t		 width = c->cols > 1 ? c->cols - 1 : 79;
	int		 att = c->attempt > 0 ? c->attempt : 1;

	state = c->state == ST_WAITING ? "waiting to retry" : "connecting";
	out_safe(host, sizeof host, c->ssh.dest);
	snprintf(out, len, "limpet: no contact with %s for %llus, %s "
	    "(attempt %d). ~r retry now, ~. detach", host, secs, state,
	    att);
	if (strlen(out) <= width)
		return;
	snprintf(out, len, "limpet: no contact with %s for %llus (attempt "
	    "%d). ~r retry, ~. detach", host, secs, att);
	if (strlen(out) <= width)
		return;
	snprintf(out, len, "limpet: no contact for %llus (attempt %d). "
	    "~r retry, ~. detach", secs, att);
	if (strlen(out) <= width)
		return;
	snprintf(out, len, "no contact %llus, #%d. ~r retry ~. detach",
	    secs, att);
	if (strlen(out) <= width)
		return;
	snprintf(out, len, "no contact ~r ~.");
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

	repaint_tick(c, now);
	if ((c->state == ST_UP && c->link != LINK_SUSPECT) ||
	    c->state == ST_DONE || !c->attached_once || c->lost_at == 0 ||
	    !tty_is_raw())
		return;
	if (now - c->lost_at < NOTICE_MS || now < c->notice_at)
		return;
	if ((mode = c->notice_on) == NOTICE_NONE &&
	    (mode = notice_mode(c, now)) == NOTICE_NONE)
		return;
	notice_text(c, now, text, sizeof text);
	notice_draw(c, text);
	c->notice_on = mode;
	c->notice_at = now + 1000;
}

/* Append one shell-quoted word to the hint. */
static void
client_hint_word(char *out, size_t len, const char *w)
{
	size_t	 n = strlen(out);
	char	*q = ssh_shell_quote(w);

	snprintf(out + n, len - n, " %s", q);
	free(q);
}

/*
 * The exact command that reattaches this session, pasteable as printed:
 * every option needed to reach the host and the session, each word
 * quoted for the shell.
 */
void
client_hint(struct client *c, char *out, size_t len)
{
	static const char	*carry[] = { "ssh", "server-path",
				    "server-dir", "keepalive", "dead" };
	const char		*v;
	char			 opt[32];
	size_t			 i;
	int			 k;

	/* A pipe session cannot be attached: it can be ended. */
	snprintf(out, len, c->pipe != NULL ? "limpet kill" : "limpet attach");
	for (i = 0; i < sizeof carry / sizeof carry[0]; i++) {
		if ((v = cmdline_get(&c->cl, carry[i])) == NULL)
			continue;
		snprintf(opt, sizeof opt, "--%s", carry[i]);
		client_hint_word(out, len, opt);
		client_hint_word(out, len, v);
	}
	for (k = 0; k < c->ssh.nopts; k++)
		client_hint_word(out, len, c->ssh.opts[k]);
	client_hint_word(out, len, c->ssh.dest);
	client_hint_word(out, len, c->session);
}

/*
 * Leave the session running and quit.  With say set, print the command
 * that brings it back (once the terminal is back to normal).
 */
void
client_detach(struct client *c, int say)
{
	char	hint[2048];

	if (c->state == ST_UP)
		frame_put(&c->tx, MSG_DETACH, NULL, 0);
	if (say && c->attached_once) {
		client_hint(c, hint, sizeof hint);
		client_finish_msg(c, 0, "detached from session %s on %s; it "
		    "keeps running.\r\nlimpet: reattach with: %s", c->session,
		    c->ssh.dest, hint);
	} else
		client_finish(c, 0);
}

/* Print the connection status (~s). */
static void
client_status(struct client *c, uint64_t now)
{
	char	state[128];

	if (c->state == ST_UP && c->link == LINK_SUSPECT)
		snprintf(state, sizeof state, "no answer for %llus, a new "
		    "connection starting beside this one",
		    (unsigned long long)(now - c->lost_at) / 1000);
	else if (c->state == ST_UP)
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
	    "  ~#   forwards and their connections\r\n"
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
		client_reconnect_now(c, now);
		break;
	case ESC_STATUS:
		client_status(c, now);
		break;
	case ESC_SUSPEND:
		notice_clear(c);
		out_drain(c, EXIT_OUT_MS);
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
	case ESC_FORWARDS:
		cfwd_list(c);
		break;
	}
}

/* The nearer of two deadlines (0: none). */
static uint64_t
client_due(uint64_t due, uint64_t t)
{
	return t != 0 && (due == 0 || t < due) ? t : due;
}

/* The next deadline of a connected link, 0 if none. */
static uint64_t
client_up_due(struct client *c)
{
	uint64_t	due, since, waiting = 0;

	due = ckeep_due(c);
	if (c->ping_out)
		due = 0;
	/* Data flowed since the last ping: wake to see whether it stops. */
	due = client_due(due, link_silence_due(c));
	if (c->pending_since != 0)
		waiting = c->pending_since;
	if (c->ping_out && (waiting == 0 || c->ping_at < waiting))
		waiting = c->ping_at;
	if (waiting != 0) {
		since = c->last_rx > waiting ? c->last_rx : waiting;
		due = client_due(due, since + link_dead_ms(c));
	}
	/* A probe is pending until its PONG (0 then). */
	due = client_due(due, c->probe_deadline);
	return due;
}

/* How long the loop may sleep: until the nearest real deadline. */
int
client_timeout(struct client *c, uint64_t now)
{
	uint64_t	due = 0, t;

	if (c->state == ST_UP)
		due = c->exit_acked ? 0 : client_up_due(c);
	else if (c->state == ST_WAITING)
		due = c->next_try;
	else if (c->state == ST_CONNECTING)
		due = c->attempt_deadline;
	due = client_due(due, c->first_at);
	due = client_due(due, link_hedge_due(c));
	due = client_due(due, knock_due(c));
	if ((c->state != ST_UP || c->link == LINK_SUSPECT) && c->attached_once &&
	    c->lost_at != 0 && tty_is_raw()) {
		t = c->lost_at + NOTICE_MS;
		due = client_due(due, t > c->notice_at ? t : c->notice_at);
	}
	if (c->scr.cpr_wait)
		due = client_due(due, c->cpr_deadline);
	due = client_due(due, cpred_deadline(c));
	due = client_due(due, cfwd_deadline(c));
	due = client_due(due, cflow_deadline(c));
	due = client_due(due, c->attach_notice_until);
	if (due == 0)
		return 60000;
	if (due <= now)
		return 0;
	return due - now > 60000 ? 60000 : (int)(due - now);
}
