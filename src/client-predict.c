/*
 * The client's side of predictive echo: the hooks that connect the state
 * machine (predict.c) to the client.  Its bytes go into the output queue
 * as local text (never counted as session output), in order with the
 * session's output: hidden before every piece of output and before local
 * text, drawn again after.
 */
#include <stdlib.h>
#include <string.h>

#include "client-int.h"
#include "client-predict.h"
#include "clock.h"
#include "log.h"
#include "predict.h"
#include "xmalloc.h"

/* Parse --predict's value; -1 if it is none of the modes. */
int
cpred_mode(const char *v)
{
	if (v == NULL || strcmp(v, "adaptive") == 0)
		return PRED_ADAPTIVE;
	if (strcmp(v, "always") == 0)
		return PRED_ALWAYS;
	if (strcmp(v, "never") == 0)
		return PRED_NEVER;
	return -1;
}

/* Queue what the machine wrote into b as local text. */
static void
cpred_flush(struct client *c, struct buf *b)
{
	if (buf_len(b) > 0) {
		c->pred_writing = 1;
		client_local_bytes(c, buf_ptr(b), buf_len(b));
		c->pred_writing = 0;
	}
	buf_free(b);
}

/* Set up prediction in mode for the client's terminal. */
void
cpred_init(struct client *c, int mode)
{
	c->pred = xcalloc(1, sizeof *c->pred);
	predict_init(c->pred, mode, c->rows, c->cols);
}

/* Release it. */
void
cpred_free(struct client *c)
{
	if (c->pred == NULL)
		return;
	predict_free(c->pred);
	free(c->pred);
	c->pred = NULL;
}

/* Whether there is anything to do. */
static int
cpred_on(struct client *c)
{
	return c->pred != NULL && !predict_never(c->pred) && c->tty;
}

/* Session output is about to be queued: take predictions away. */
void
cpred_hide(struct client *c)
{
	struct buf	b;

	if (!cpred_on(c))
		return;
	buf_init(&b, 0);
	predict_hide(c->pred, &b);
	cpred_flush(c, &b);
}

/* Session output was queued: judge and draw again. */
void
cpred_output(struct client *c, const uint8_t *p, size_t n, uint64_t now)
{
	struct buf	b;

	if (!cpred_on(c))
		return;
	predict_output(c->pred, p, n, now);
	if (c->pred_local)
		return;	/* inside local text: drawn after it */
	buf_init(&b, 0);
	predict_show(c->pred, now, &b);
	cpred_flush(c, &b);
}

/* Keys typed, the first at input offset off. */
void
cpred_keys(struct client *c, const uint8_t *p, size_t n, uint64_t off,
    uint64_t now)
{
	struct buf	b;

	if (!cpred_on(c))
		return;
	buf_init(&b, 0);
	predict_keys(c->pred, p, n, off, now, &b);
	cpred_flush(c, &b);
}

/* A TERMIOS frame; -1 if it does not parse. */
int
cpred_termios(struct client *c, const uint8_t *p, size_t n, uint64_t now)
{
	struct buf	b;
	uint64_t	written, settled;
	uint32_t	group;
	uint8_t		flags;

	if (proto_termios_parse(p, n, &flags, &written, &settled,
	    &group) != 0)
		return -1;
	if (!cpred_on(c))
		return 0;
	buf_init(&b, 0);
	predict_group(c->pred, group);
	predict_termios(c->pred, flags, written, settled, now, &b);
	cpred_flush(c, &b);
	return 0;
}

/*
 * Local text of n bytes is about to be queued (before), or was queued
 * (!before).  Text bracketed by save and restore cursor (the notice,
 * the cursor query) leaves the screen's state alone: predictions are
 * hidden for it and drawn again after.  Any other text moves the cursor
 * where the models do not follow: what they knew is forgotten.
 */
void
cpred_local(struct client *c, const void *p, size_t n, int before)
{
	const char	*s = p;
	struct buf	 b;

	if (!cpred_on(c) || c->pred_writing)
		return;
	buf_init(&b, 0);
	if (before) {
		predict_hide(c->pred, &b);
		cpred_flush(c, &b);
		if (n >= 2 && s[0] == '\033' && s[1] == '7')
			c->pred_local = 1;
		else if (!c->pred_local)
			c->pred_interfered = 1;
		return;
	}
	if (c->pred_interfered) {
		c->pred_interfered = 0;
		predict_interfere(c->pred, &b);
	} else if (c->pred_local && n >= 2 && s[n - 2] == '\033' &&
	    s[n - 1] == '8') {
		c->pred_local = 0;
		predict_show(c->pred, clock_ms(), &b);
	}
	cpred_flush(c, &b);
}

/*
 * The first attach: a new session's output starts where the user's
 * cursor is, at the start of a line (the user just pressed Enter); a
 * session joined mid-stream starts somewhere unknown.
 */
void
cpred_fresh(struct client *c, int fresh)
{
	if (cpred_on(c))
		c->pred->line_bad = !fresh;
}

/* The window changed size. */
void
cpred_resize(struct client *c)
{
	struct buf	b;

	if (!cpred_on(c))
		return;
	buf_init(&b, 0);
	predict_resize(c->pred, c->rows, c->cols, &b);
	cpred_flush(c, &b);
}

/*
 * Each turn of the loop: the link's state.  The round trip is smoothed
 * from the PONGs themselves, starting at the first one (the client's
 * srtt starts from a guess of 100 ms and moves slowly: a LAN would keep
 * predictions on, underlined, for minutes).
 */
void
cpred_tick(struct client *c, uint64_t now)
{
	struct predict	*pr = c->pred;
	struct buf	 b;
	uint64_t	 srtt;

	if (!cpred_on(c))
		return;
	if (c->rtt_last != 0 && !c->ping_out && c->ping_at != pr->rtt_at) {
		pr->rtt_at = c->ping_at;
		pr->rtt = pr->rtt == 0 ? c->rtt_last :
		    (pr->rtt * 3 + c->rtt_last) / 4;
	}
	srtt = pr->rtt != 0 ? pr->rtt : c->srtt;
	buf_init(&b, 0);
	predict_net(pr, srtt, c->state == ST_UP, c->in_sent, now, &b);
	cpred_flush(c, &b);
}

/* When cpred_tick() must run again (0: no need). */
uint64_t
cpred_deadline(struct client *c)
{
	if (!cpred_on(c))
		return 0;
	return predict_deadline(c->pred);
}

/* Leaving: take predictions away for good. */
void
cpred_end(struct client *c)
{
	struct buf	b;

	if (!cpred_on(c))
		return;
	buf_init(&b, 0);
	predict_drop(c->pred, &b);
	cpred_flush(c, &b);
	debug_f("predictions: %lu made, %lu confirmed, %lu wrong, %lu drawn",
	    c->pred->n_made, c->pred->n_ok, c->pred->n_wrong,
	    c->pred->n_shown);
	c->pred->mode = PRED_NEVER;
}
