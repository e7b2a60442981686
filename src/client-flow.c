/*
 * The client's side of the output window: when to acknowledge output
 * written to the terminal.  The daemon sizes its window from the rate at
 * which acknowledgements come back (daemon-flow.c), so they must come
 * often: once everything received is written, or every 8 KiB written, or
 * a quarter round trip after the last one when the terminal is slow.
 * Output is acknowledged only once written, never before.
 */
#include <stdint.h>

#include "client-flow.h"
#include "client-int.h"

/* The interval for a slow terminal: a quarter of the round trip. */
static uint64_t
cflow_interval(const struct client *c)
{
	uint64_t	iv = c->srtt / 4;

	return iv < CFLOW_ACK_MS_MIN ? CFLOW_ACK_MS_MIN : iv;
}

/* Whether an ACK of the output written so far is due now. */
int
cflow_ack_due(struct client *c, uint64_t now)
{
	uint64_t	n = c->out_written - c->ack_sent;

	if (c->state != ST_UP || n == 0)
		return 0;
	if (buf_len(&c->term) == 0 || n >= CFLOW_ACK_BYTES)
		return 1;
	return now >= c->ack_at + cflow_interval(c);
}

/* When an ACK held back for a slow terminal falls due, or 0. */
uint64_t
cflow_deadline(struct client *c)
{
	if (c->state != ST_UP || c->out_written == c->ack_sent)
		return 0;
	return c->ack_at + cflow_interval(c);
}
