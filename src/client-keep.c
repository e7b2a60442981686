/*
 * Idle heartbeats.  A quiet link needs a PING now and then so that a NAT
 * or firewall keeps its flow (and so that a dead link is found before
 * the user types).  How long a path keeps an idle flow differs (minutes
 * on most home routers and clouds, two hours where RFC 5382 is followed,
 * less on some mobile networks), and every PING costs bytes and wakes
 * five processes, so the interval is learned passively, as doctor's NAT
 * probe does actively: it starts at --keepalive's default (25 s) and
 * doubles each time a PING sent after that long a silence is answered,
 * up to KEEP_MAX_MS.  When one is not answered (the link is then lost
 * and a new ssh starts), the interval falls back to the longest silence
 * that was answered, and stops growing on that path.  A new network path
 * learns again.  --keepalive (or the config file's keepalive) fixes the
 * interval: nothing is learned then.
 */
#include <stdint.h>
#include <stdlib.h>

#include "client-int.h"
#include "client-keep.h"
#include "log.h"

/* Start at the default, or at the interval the user fixed. */
void
ckeep_init(struct client *c, int fixed)
{
#ifdef LIMPET_TEST_HOOKS
	const char	*s = getenv("LIMPET_TEST_KEEPALIVE_MS");

	/* Test builds only: learn in seconds, not minutes. */
	if (!fixed && s != NULL && atoi(s) > 0)
		c->keepalive_ms = atoi(s);
#endif
	c->ka_fixed = fixed;
	c->ka_ms = (uint64_t)c->keepalive_ms;
	c->ka_proven = c->ka_ceiling = c->ka_gap = 0;
}

/*
 * When the next idle PING is due: the link silent for the interval
 * (nothing heard) and our own last frame half of it ago.
 */
uint64_t
ckeep_due(const struct client *c)
{
	uint64_t	due = c->last_rx + c->ka_ms;

	if (c->last_tx + c->ka_ms / 2 > due)
		due = c->last_tx + c->ka_ms / 2;
	return due;
}

/*
 * An idle PING went out at now: its answer proves the path kept the flow
 * through the silence before it.
 */
void
ckeep_sent(struct client *c, uint64_t now)
{
	uint64_t	last = c->last_rx;

	if (c->last_tx > last)
		last = c->last_tx;
	c->ka_gap = now > last ? now - last : 0;
}

/* The idle PING was answered: the path keeps a flow that long. */
void
ckeep_answered(struct client *c)
{
	uint64_t	g = c->ka_gap;

	c->ka_gap = 0;
	if (c->ka_fixed || g == 0)
		return;
	if (g > c->ka_proven)
		c->ka_proven = g;
	if (c->ka_ceiling != 0 || c->ka_ms >= KEEP_MAX_MS ||
	    c->ka_proven * 2 <= c->ka_ms)
		return;
	c->ka_ms = c->ka_proven * 2;
	if (c->ka_ms > KEEP_MAX_MS)
		c->ka_ms = KEEP_MAX_MS;
	debug_f("a %llu ms silence kept the link: heartbeat every %llu ms",
	    (unsigned long long)g, (unsigned long long)c->ka_ms);
}

/*
 * The link was lost at now.  If an idle PING was out, that silence was
 * too long for the path (or the path died; either way, be careful); so
 * was a silence longer than any answered when the link ended with no
 * PING out (sshd's ChannelTimeout closes a quiet channel so).  Fall back
 * to the longest silence that was answered, or half of this one; never
 * up.
 */
void
ckeep_lost(struct client *c, uint64_t now)
{
	uint64_t	g = c->ka_gap, floor = KEEP_MIN_MS, last;
	uint64_t	was = c->ka_ms;

	c->ka_gap = 0;
	if (c->ka_fixed)
		return;
	if (g == 0) {
		last = c->last_rx > c->last_tx ? c->last_rx : c->last_tx;
		g = now > last ? now - last : 0;
		if (g <= c->ka_proven || g < (uint64_t)c->keepalive_ms / 2)
			return;	/* the silence was not the cause */
	}
	if ((uint64_t)c->keepalive_ms < floor)
		floor = (uint64_t)c->keepalive_ms;
	c->ka_ceiling = g;
	c->ka_ms = c->ka_proven != 0 && c->ka_proven < g ? c->ka_proven :
	    g / 2;
	if (c->ka_ms > was)
		c->ka_ms = was;	/* a long sleep teaches no longer wait */
	if (c->ka_ms < floor)
		c->ka_ms = floor;
	log_info("no answer after a %llu ms silence: heartbeat every %llu ms "
	    "from now on", (unsigned long long)g,
	    (unsigned long long)c->ka_ms);
}

/* A new network path: what was learned was about the old one. */
void
ckeep_moved(struct client *c)
{
	ckeep_init(c, c->ka_fixed);
}
