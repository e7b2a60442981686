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
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include "client-int.h"
#include "compat.h"
#include "log.h"

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

/*
 * Parallel attempts.  Right after a loss the first ssh's SYN may go into
 * a path that is still dead; the kernel tries it again only after 1 s,
 * then 3 s.  So while the newest attempt has not shown the relay's
 * preamble and no attempt's SYN was answered (its TCP connection is not
 * established), fresh ones start beside it (every HEDGE_STEP_MS, or a
 * round trip on a slow link; at most HEDGE_TOTAL per loss and HEDGE_MAX
 * alive: the oldest, whose SYN a newer one has replaced, is killed).
 * Once a SYN got through, no more start: that attempt is only slow.
 * Only the first attempt (the primary, c->proc) is sent HELLO; the
 * first whose relay answers wins: a parallel one that shows the preamble
 * first becomes the primary (HELLO goes to it) and every other ssh is
 * killed and reaped by pid.  The client only ever reads frames from the
 * primary, and a new primary starts from WELCOME as any reconnect does,
 * so no byte is lost or doubled.
 */

/* Kill parallel attempt i (reaped by pid through ssh_stop). */
static void
link_hedge_drop(struct client *c, int i)
{
	ssh_stop(&c->hedge[i].p);
	c->hedge[i] = c->hedge[--c->nhedge];
}

/* Kill every parallel attempt. */
void
link_hedge_stop(struct client *c)
{
	while (c->nhedge > 0)
		link_hedge_drop(c, c->nhedge - 1);
}

/*
 * Whether an attempt's SYN got through (its ssh has an established TCP
 * connection): then it is only slow, and a parallel one would just
 * compete with it.  Unknown (a ProxyCommand, not Linux) counts as no.
 */
static int
link_hedge_through(const struct client *c)
{
	int	i;

	if (c->proc.pid > 0 && compat_tcp_connected(c->proc.pid) == 1)
		return 1;
	for (i = 0; i < c->nhedge; i++)
		if (compat_tcp_connected(c->hedge[i].p.pid) == 1)
			return 1;
	return 0;
}

/* When the next parallel attempt is due, 0 if none is. */
uint64_t
link_hedge_due(const struct client *c)
{
	uint64_t	step;

	if (c->state != ST_CONNECTING || !c->attached_once ||
	    c->attempt != 1 || c->magic >= PROTO_MAGIC_LEN ||
	    c->hedges_made >= HEDGE_TOTAL || c->hedge_through)
		return 0;
	/* A SYN is answered in a round trip: wait that long on a slow link. */
	step = c->rtt_last != 0 && c->srtt > HEDGE_STEP_MS ? c->srtt :
	    HEDGE_STEP_MS;
	return (c->hedges_made == 0 ? c->attempt_start : c->hedge_last) +
	    step;
}

/*
 * Make the parallel attempt i the primary: the old primary and the
 * other attempts are killed, HELLO goes to it, and the bytes it sent
 * after the preamble (rest, n) are the new connection's first.
 */
static void
link_hedge_adopt(struct client *c, int i, const uint8_t *rest, size_t n,
    uint64_t now)
{
	struct hedge	h = c->hedge[i];

	c->hedge[i] = c->hedge[--c->nhedge];
	link_hedge_stop(c);
	ssh_stop(&c->proc);
	c->proc = h.p;
	debug_f("ssh pid %ld answered first: it carries the session",
	    (long)c->proc.pid);
	client_begin(c, now);
	c->magic = h.magic;
	if (n > 0)
		client_feed(c, rest, n, now);
}

/*
 * A new primary is needed (client_connect): take the newest parallel
 * attempt still running instead of starting one more.  Returns 1 if it
 * did.
 */
int
link_hedge_take(struct client *c, uint64_t now)
{
	int	i, best = -1;

	for (i = 0; i < c->nhedge; i++)
		if (best == -1 || c->hedge[i].start > c->hedge[best].start)
			best = i;
	if (best == -1)
		return 0;
	link_hedge_adopt(c, best, NULL, 0, now);
	return 1;
}

/* Start parallel attempts when due; drop them once they are no use. */
void
link_hedge_step(struct client *c, uint64_t now)
{
	struct hedge	*h;
	uint64_t	 due;
	int		 i, oldest = 0;

	if (c->state == ST_UP || c->state == ST_DONE) {
		c->hedges_made = 0;	/* a new loss may hedge again */
		c->hedge_through = 0;
	}
	if (c->nhedge > 0 && (c->state == ST_UP || c->state == ST_DONE ||
	    (c->state == ST_CONNECTING && c->magic >= PROTO_MAGIC_LEN))) {
		link_hedge_stop(c);
		return;
	}
	if ((due = link_hedge_due(c)) == 0 || now < due)
		return;
	if (link_hedge_through(c)) {
		c->hedge_through = 1;	/* until the next loss */
		return;
	}
	if (c->nhedge == HEDGE_MAX) {
		/* The oldest waits on a SYN the newest has replaced. */
		for (i = 1; i < c->nhedge; i++)
			if (c->hedge[i].start < c->hedge[oldest].start)
				oldest = i;
		link_hedge_drop(c, oldest);
	}
	h = &c->hedge[c->nhedge];
	c->hedges_made++;
	c->hedge_last = now;
	if (ssh_spawn(&c->ssh, &h->p) != 0)
		return;
	h->start = now;
	h->magic = 0;
	h->pfd = -1;
	c->nhedge++;
	debug_f("parallel attempt %d: ssh pid %ld", c->hedges_made,
	    (long)h->p.pid);
}

/* Add the parallel attempts' stdout to the poll set (HEDGE_MAX room). */
void
link_hedge_poll(struct client *c, struct pollfd *pfd, int *n)
{
	int	i;

	for (i = 0; i < c->nhedge; i++) {
		c->hedge[i].pfd = *n;
		pfd[*n].fd = c->hedge[i].p.out;
		pfd[*n].events = POLLIN;
		pfd[*n].revents = 0;
		(*n)++;
	}
}

/*
 * Read what the parallel attempts printed: one that ended is dropped,
 * the first to show the whole preamble becomes the primary.
 */
void
link_hedge_read(struct client *c, const struct pollfd *pfd, uint64_t now)
{
	uint8_t		 tmp[4096];
	struct hedge	*h;
	ssize_t		 r;
	size_t		 used;
	int		 i;

	for (i = c->nhedge - 1; i >= 0; i--) {
		h = &c->hedge[i];
		if (h->pfd == -1 || h->p.out != pfd[h->pfd].fd ||
		    (pfd[h->pfd].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
			continue;
		r = read(h->p.out, tmp, sizeof tmp);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			link_hedge_drop(c, i);
			continue;
		}
		used = ssh_magic_scan(&h->magic, tmp, (size_t)r);
		if (h->magic < PROTO_MAGIC_LEN)
			continue;
		if (c->state != ST_CONNECTING && c->state != ST_WAITING)
			return;
		link_hedge_adopt(c, i, tmp + used, (size_t)r - used, now);
		return;
	}
}
