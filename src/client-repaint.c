/*
 * The screen snapshot (MSG_SCREEN) on the client's side: the daemon sends
 * the escape sequences that rebuild the session's screen (the lines that
 * scrolled off first, into the terminal's own scrollback) when this client
 * attaches afresh, takes over, or comes back after more output than the
 * session keeps.  They are written as they come, the mode tracker learns
 * from them what the program set (so every way out restores it), and a
 * one-line "attached" notice shows on the bottom row until output arrives
 * or a few seconds pass; the daemon sent the row's repaint to take it away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-int.h"
#include "client-repaint.h"
#include "client-tty.h"
#include "log.h"
#include "proto.h"

/* "idle 5s", "idle 3m", "idle 2h", "idle 4d". */
static void
repaint_idle(char *out, size_t len, uint32_t s)
{
	if (s < 60)
		snprintf(out, len, "idle %us", (unsigned)s);
	else if (s < 3600)
		snprintf(out, len, "idle %um", (unsigned)(s / 60));
	else if (s < 86400)
		snprintf(out, len, "idle %uh", (unsigned)(s / 3600));
	else
		snprintf(out, len, "idle %ud", (unsigned)(s / 86400));
}

/* Show the attach notice on the bottom row (reverse video). */
static void
repaint_notice(struct client *c, const struct msg_screen *m, uint64_t now)
{
	char		prog[64], idle[32], text[256];
	uint16_t	rows = c->rows != 0 ? c->rows : 24;
	uint16_t	cols = c->cols != 0 ? c->cols : 80;
	int		width = cols > 1 ? cols - 1 : 1;

	if (!c->tty || !tty_is_raw())
		return;
	out_safe(prog, sizeof prog, m->program);
	repaint_idle(idle, sizeof idle, m->idle);
	snprintf(text, sizeof text, "limpet: attached to session %s "
	    "(%s, %s)", c->session, prog, idle);
	if (width > 200)
		width = 200;
	client_local(c, "\0337\033[%u;1H\033[0m\033[2K\033[7m%.*s\033[0m"
	    "\0338", rows, width, text);
	buf_reset(&c->repaint_row);
	if (buf_put(&c->repaint_row, m->row, m->rowlen) != 0) {
		buf_reset(&c->repaint_row);
		client_local(c, "\0337\033[%u;1H\033[2K\0338", rows);
		return;
	}
	c->attach_notice_until = now + ATTACH_NOTICE_MS;
}

/*
 * Take the attach notice away (if shown): the bottom row as the snapshot
 * had it.  Called before session output is written, so that output lands
 * on the screen the program expects.
 */
void
repaint_notice_off(struct client *c)
{
	if (c->attach_notice_until == 0)
		return;
	c->attach_notice_until = 0;
	client_local_bytes(c, buf_ptr(&c->repaint_row),
	    buf_len(&c->repaint_row));
	buf_reset(&c->repaint_row);
}

/* Take the notice away once its time is up. */
void
repaint_tick(struct client *c, uint64_t now)
{
	if (c->attach_notice_until != 0 && now >= c->attach_notice_until)
		repaint_notice_off(c);
}

/* The first piece of a snapshot: a terminal in its default modes. */
static void
repaint_begin(struct client *c, const struct msg_screen *m)
{
	char	restore[256];
	size_t	n;

	notice_clear(c);
	repaint_notice_off(c);
	n = screen_restore(&c->scr, restore, sizeof restore);
	client_local_bytes(c, restore, n);
	if (c->scr.linelen > 0 || c->scr.line_long)
		client_local(c, "\r\n");	/* start on a line of its own */
	memset(&c->scr, 0, sizeof c->scr);
	if (m->flags & SCREEN_GAP)
		client_local(c, "[limpet: older output of this session is "
		    "gone: it made more than the session keeps (see "
		    "--ring-size)]\r\n");
	c->repainting = 1;
}

/* A SCREEN frame: write its piece of the snapshot. */
void
repaint_frame(struct client *c, const struct frame *f, uint64_t now)
{
	struct msg_screen	m;

	if (proto_screen_parse(f->p, f->len, &m) != 0) {
		client_lost(c, "malformed SCREEN", now);
		return;
	}
	if (m.off != c->out_have || c->out_have != c->out_written) {
		free(m.program);
		client_lost(c, "protocol error: SCREEN does not match the "
		    "stream", now);
		return;
	}
	if (!c->repainting)
		repaint_begin(c, &m);
	client_local_bytes(c, m.p, m.len);
	screen_track(&c->scr, m.p, m.len);
	if (m.flags & SCREEN_FINAL) {
		c->repainting = 0;
		c->wiggle = 0;		/* the screen is exact: no redraw */
		c->scr.alt_unknown = 0;
		c->scr.linelen = 0;
		c->scr.line_long = 1;	/* the cursor's line is not known */
		debug_f("snapshot at %llu", (unsigned long long)m.off);
		repaint_notice(c, &m, now);
	}
	free(m.program);
}
