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
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "client-int.h"
#include "client-keep.h"
#include "compat.h"
#include "log.h"

/* Where an ssh's connection leaves from, against the path now. */
#define LINK_PATH_SAME		0
#define LINK_PATH_MOVED		1
#define LINK_PATH_UNKNOWN	(-1)

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
 * preamble and its SYN is unanswered (its TCP connection still in
 * SYN_SENT), fresh ones start beside it (every HEDGE_STEP_MS, or a round
 * trip on a slow link; at most HEDGE_TOTAL per loss and HEDGE_MAX alive:
 * the oldest, whose SYN a newer one has replaced, is killed).  Once a
 * SYN got through, no more start: that attempt is only slow; while ssh
 * has no socket yet (starting, resolving) none starts either.  Where
 * the TCP state cannot be seen, they go by time, every HEDGE_BLIND_MS.
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
 * What the attempts' TCP connections say: COMPAT_TCP_UP if one got
 * through (then it is only slow, and a parallel one would just compete
 * with it), else the state of the newest attempt's: COMPAT_TCP_SYN if
 * its SYN is unanswered (a parallel attempt is due), COMPAT_TCP_NONE if
 * its ssh has no TCP socket yet (it is still starting: wait), or
 * COMPAT_TCP_UNKNOWN (not Linux, a ProxyCommand: go by time).
 */
static int
link_hedge_tcp(const struct client *c)
{
	pid_t	newest = c->link == LINK_SUSPECT ? -1 : c->proc.pid;
	int	i, st = COMPAT_TCP_UNKNOWN;

	/* A suspect link's own connection is up: it proves nothing. */
	if (newest > 0 && compat_tcp_state(newest) == COMPAT_TCP_UP)
		return COMPAT_TCP_UP;
	for (i = 0; i < c->nhedge; i++) {
		if (compat_tcp_state(c->hedge[i].p.pid) == COMPAT_TCP_UP)
			return COMPAT_TCP_UP;
		if (c->hedge[i].start == c->hedge_last)
			newest = c->hedge[i].p.pid;
	}
	if (newest > 0)
		st = compat_tcp_state(newest);
	return st;
}

/*
 * When the next parallel attempt is due, 0 if none is: after a loss, or
 * while a silent link waits beside its new ssh (link_suspect()).
 */
uint64_t
link_hedge_due(const struct client *c)
{
	uint64_t	step, start;

	if (c->hedges_made >= HEDGE_TOTAL || c->hedge_through)
		return 0;
	if (c->state == ST_UP && c->link == LINK_SUSPECT)
		start = c->roam_at;
	else if (c->state == ST_CONNECTING && c->attached_once &&
	    c->attempt == 1 && c->magic < PROTO_MAGIC_LEN)
		start = c->attempt_start;
	else
		return 0;
	/* A SYN is answered in a round trip: wait that long on a slow link. */
	step = c->rtt_last != 0 && c->srtt > HEDGE_STEP_MS ? c->srtt :
	    HEDGE_STEP_MS;
	if (c->hedge_blind && step < HEDGE_BLIND_MS)
		step = HEDGE_BLIND_MS;
	step += c->hedges_made == 0 ? start : c->hedge_last;
	return step > c->hedge_recheck ? step : c->hedge_recheck;
}

/*
 * Make the parallel attempt i the primary: the old primary and the
 * other attempts are killed, HELLO goes to it, and the bytes it sent
 * after the preamble (rest, n) are the new connection's first.
 */
static void
link_hedge_adopt(struct client *c, int i, const uint8_t *rest, size_t n,
    uint64_t now, const char *why)
{
	struct hedge	h = c->hedge[i];

	c->hedge[i] = c->hedge[--c->nhedge];
	link_hedge_stop(c);
	if (c->state == ST_UP) {
		/* Make-before-break: the new path proved itself first. */
		c->reconnects++;
		if (c->link == LINK_SUSPECT) {
			debug_f("connection lost: no answer from the server "
			    "(a new ssh answered first)");
			ckeep_lost(c, now);	/* a silence too long? */
		} else
			c->lost_at = now;
		link_set(c, LINK_OK);
	}
	ssh_stop(&c->proc);
	c->proc = h.p;
	debug_f("ssh pid %ld %s: it carries the session", (long)c->proc.pid,
	    why);
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
	link_hedge_adopt(c, best, NULL, 0, now, "started earlier");
	return 1;
}

static void	link_hedge_spawn(struct client *, uint64_t);
static int	link_pid_path(pid_t);

/*
 * Start parallel attempts when due; drop them once they are no use (the
 * session is up again on the primary, or the old link answered after a
 * network change).
 */
void
link_hedge_step(struct client *c, uint64_t now)
{
	uint64_t	 due;

	if ((c->state == ST_UP && c->link != LINK_SUSPECT) ||
	    c->state == ST_DONE) {
		c->hedges_made = 0;	/* a new loss may hedge again */
		c->hedge_through = c->hedge_blind = 0;
		c->hedge_recheck = 0;
	}
	if (c->nhedge > 0 && ((c->state == ST_UP && c->link == LINK_OK) ||
	    c->state == ST_DONE ||
	    (c->state == ST_CONNECTING && c->magic >= PROTO_MAGIC_LEN))) {
		link_hedge_stop(c);
		return;
	}
	if (c->state == ST_UP && ((c->link != LINK_OK && !c->ping_out &&
	    c->probe_deadline == 0 && c->ping_at >= c->roam_at) ||
	    (c->link == LINK_SUSPECT && c->roam_at == c->suspect_at &&
	    c->last_rx > c->suspect_at))) {
		/*
		 * The old link answered a PING sent after the change, or
		 * bytes came after the silence (no change since): it works.
		 * Unless the kernel routes to the server from another
		 * address now and an attempt takes that path: one change
		 * comes as several events, and the old address may be gone
		 * at the next; that attempt decides (it answers first, or
		 * ends: its ConnectTimeout bounds the wait).
		 */
		if (c->link == LINK_ROAMING && c->nhedge > 0 &&
		    link_pid_path(c->proc.pid) == LINK_PATH_MOVED)
			return;
		debug_f("the old link still works after the %s",
		    c->link == LINK_SUSPECT ? "silence" : "change");
		if (c->link == LINK_SUSPECT && notice_clear(c))
			c->wiggle = 1;
		link_set(c, LINK_OK);
		c->lost_at = 0;
		link_hedge_stop(c);
		return;
	}
	if ((due = link_hedge_due(c)) == 0 || now < due)
		return;
	switch (link_hedge_tcp(c)) {
	case COMPAT_TCP_UP:
		c->hedge_through = 1;	/* until the next loss */
		return;
	case COMPAT_TCP_NONE:
		c->hedge_recheck = now + HEDGE_RECHECK_MS;
		return;
	case COMPAT_TCP_UNKNOWN:
		if (!c->hedge_blind) {
			c->hedge_blind = 1;	/* by time, and slower */
			return;
		}
		break;
	}
	link_hedge_spawn(c, now);
}

/*
 * A knock was answered (client-knock.c): the path works again while the
 * attempts wait on SYNs it lost.  Start one now.
 */
void
link_hedge_now(struct client *c, uint64_t now)
{
	if (c->state == ST_WAITING) {
		c->next_try = now;
		c->fails = 0;
	} else if (c->state == ST_CONNECTING && c->attached_once &&
	    c->magic < PROTO_MAGIC_LEN)
		link_hedge_spawn(c, now);
}

/* Start one more parallel attempt (the oldest goes if HEDGE_MAX run). */
static void
link_hedge_spawn(struct client *c, uint64_t now)
{
	struct hedge	*h;
	int		 i, oldest = 0;

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
		used = ssh_magic_scan(&h->magic, tmp, (size_t)r, NULL);
		if (h->magic < PROTO_MAGIC_LEN)
			continue;
		if (c->state != ST_CONNECTING && c->state != ST_WAITING &&
		    !(c->state == ST_UP && c->link != LINK_OK))
			return;
		link_hedge_adopt(c, i, tmp + used, (size_t)r - used, now,
		    "answered first");
		return;
	}
}

/* The one place the link's doubt changes (enum link_state). */
void
link_set(struct client *c, enum link_state st)
{
	static const char	*names[] = { "ok", "roaming", "suspect" };

	if (c->link == st)
		return;
	debug_f("link %s -> %s", names[c->link], names[st]);
	c->link = st;
}

/*
 * Options of an ssh that replaces one that carried the session: it says
 * so to the relay, and gives up on a connect that takes longer than a
 * key exchange on this link should.
 */
void
link_ssh_again(struct client *c)
{
	c->ssh.reconnect = 1;
	c->ssh.connect_timeout = 2 + (int)(c->srtt * 6 / 1000);
}

/* Whether two socket addresses name the same host (ports aside). */
static int
link_same_host(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 0;
}

/*
 * Where ssh pid's connection (established or still connecting) leaves
 * from against the path to its server now: the source address the kernel
 * would now pick for the server (a UDP socket's connect sends nothing).
 * LINK_PATH_SAME, LINK_PATH_MOVED (another source, or no route any more),
 * or LINK_PATH_UNKNOWN (no TCP socket yet, not Linux, a ProxyCommand).
 */
static int
link_pid_path(pid_t pid)
{
	struct sockaddr_storage	 l, r, now;
	socklen_t		 len = sizeof now, rlen;
	int			 fd, st = LINK_PATH_MOVED;

	if (pid <= 0 || compat_tcp_addrs(pid, &l, &r) != 0)
		return LINK_PATH_UNKNOWN;
	rlen = r.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if ((fd = socket(r.ss_family, SOCK_DGRAM, 0)) == -1)
		return LINK_PATH_UNKNOWN;
	if (connect(fd, (struct sockaddr *)&r, rlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&now, &len) == 0 &&
	    link_same_host(&l, &now))
		st = LINK_PATH_SAME;
	close(fd);
	return st;
}

/*
 * After a network change that moved the path, keep the parallel attempts
 * that already take the new one: their connection leaves from the source
 * address the kernel picks now, or (direct: the session's own connection
 * could be seen, so ssh connects by itself) they have no socket yet and
 * will take the path of their connect.  One change comes as several
 * events (an address added, the route moved, the old address deleted),
 * and an attempt started at the route's must not be killed and started
 * again at the deletion: that cost its head start, 10-50 ms of a roam.
 * The others go.  Returns how many were kept.
 */
static int
link_hedge_keep(struct client *c, int direct)
{
	pid_t	pid;
	int	i, kept = 0, st;

	for (i = c->nhedge - 1; i >= 0; i--) {
		pid = c->hedge[i].p.pid;
		st = link_pid_path(pid);
		if (st == LINK_PATH_SAME || (st == LINK_PATH_UNKNOWN &&
		    direct && compat_tcp_state(pid) == COMPAT_TCP_NONE)) {
			debug_f("network changed: ssh pid %ld already takes "
			    "the new path", (long)pid);
			kept++;
		} else
			link_hedge_drop(c, i);
	}
	return kept;
}

/*
 * The local network changed (an address or route came or went).  Make
 * before break: a new ssh starts at once beside the old link, which is
 * probed with a fresh PING (one sent before the change proves nothing).
 * Whichever proves itself first is kept: the old link by the PONG, the
 * new one by its relay's preamble (then HELLO goes to it and the daemon
 * hands the session over, resuming both streams from WELCOME).  Each
 * change starts its own attempt and kills those begun before it that may
 * use an address or route that is gone (link_hedge_keep()).
 */
void
link_roam(struct client *c, uint64_t now)
{
	int	st = LINK_PATH_UNKNOWN;

	if (!c->attached_once || (c->state != ST_UP &&
	    c->state != ST_CONNECTING))
		return;
	if (c->state == ST_UP &&
	    (st = link_pid_path(c->proc.pid)) == LINK_PATH_SAME) {
		debug_f("network changed; the path to the server did not");
		return;
	}
	link_ssh_again(c);
	ckeep_moved(c);		/* a new path keeps idle flows its own time */
	if (c->state == ST_UP) {
		if (c->link == LINK_OK)
			link_set(c, LINK_ROAMING);
		c->roam_at = now;
		c->ping_out = 0;	/* its PONG would prove nothing */
	}
	if (link_hedge_keep(c, st == LINK_PATH_MOVED) > 0)
		return;
	debug_f("network changed: a new ssh starts beside the old one");
	link_hedge_spawn(c, now);
}

/*
 * An answer is overdue (client_watch).  On a slow lossy link that is
 * often TCP backing off a lost retransmission, not a dead path, and a
 * reconnect there costs seconds: make before break, as for a network
 * change.  The notice goes up (there is no contact), a new ssh starts
 * beside the old one, and the old link is probed: its PONG, or any byte
 * it brings after the silence, keeps it (the new ssh is killed); the new
 * ssh's preamble first makes that one the primary.  If neither comes
 * within another dead time, the probe gives the old link up and the new
 * attempt carries on as the reconnect.
 * Returns 1 if it did, 0 where a plain loss is due (already suspect or
 * roaming, no session yet).
 */
int
link_suspect(struct client *c, uint64_t now)
{
	uint64_t	gap = c->ka_gap;	/* an idle PING's silence */

	if (c->state != ST_UP || c->link != LINK_OK ||
	    !c->attached_once || c->nhedge > 0)
		return 0;
	debug_f("no answer from the server for %llu ms: a new ssh starts "
	    "beside the old link", (unsigned long long)(now - c->last_rx));
	link_set(c, LINK_SUSPECT);
	c->lost_at = c->last_rx;	/* the notice counts from the silence */
	link_ssh_again(c);
	c->roam_at = c->suspect_at = now;
	c->ping_out = 0;		/* a fresh PING, answered or not */
	link_hedge_spawn(c, now);
	client_probe(c, now, link_dead_ms(c));
	c->ka_gap = gap;	/* the answer or the loss tells of it */
	return 1;
}
