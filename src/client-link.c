/*
 * The link watch: when the client asks the server for a sign of life and
 * how long it waits for one before it declares the link dead.
 *
 * The rule (docs/ARCHITECTURE.md, "Link watch"): while output flows, the
 * client is never without a question in flight for long, so a cut is
 * noticed within SILENCE_MS plus the answer time; typed input is such a
 * question too.  The answer time is --dead, stretched on a slow link so
 * that a retransmitted segment is not taken for a dead one.
 */
#include <stdint.h>

#include "client-int.h"

/*
 * When the PING for data that stopped is due, 0 if none is.  Data that
 * arrived since the last PING asks for one; so does data that flowed
 * within FLOW_MS even if that PING was answered: the PONG may have come
 * just before the cut, and the next line would never come to re-arm the
 * watch.
 */
uint64_t
link_silence_due(const struct client *c)
{
	if (c->ping_out || c->last_data == 0)
		return 0;
	if (c->last_data > c->ping_at ||
	    c->last_rx + SILENCE_MS < c->last_data + FLOW_MS)
		return c->last_rx + SILENCE_MS;
	return 0;
}

/*
 * How long an owed answer may take before the link counts as dead:
 * --dead, but never less than a few round trips on a slow link.
 */
uint64_t
link_dead_ms(const struct client *c)
{
	uint64_t	floor = 4 * c->srtt + DEAD_SLACK_MS;

	return (uint64_t)c->dead_ms > floor ? (uint64_t)c->dead_ms : floor;
}
