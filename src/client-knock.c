/*
 * Knocks: how the client learns that a dead path has healed.
 *
 * After a loss the attempts' ssh's send SYNs into the dead path, and the
 * kernel sends each again only after 1 s, then 3 s; a new attempt starts
 * when one gives up (ConnectTimeout), about once a second.  A path that
 * heals is found by the next SYN, half a second later on average.  So
 * while an attempt's SYN has gone unanswered for KNOCK_DEAD_MS, the
 * client itself sends a SYN to the address ssh reached the server at
 * (learned from ssh's socket at WELCOME; none with a ProxyCommand or
 * where the socket cannot be seen) every KNOCK_MS, each from a
 * non-blocking socket closed KNOCK_LIFE_MS (and a round trip) later,
 * before the kernel would send it again.  The first knock answered (a
 * connect that completes, or a refusal: either way the server's host is
 * reachable again) is closed at once and starts an attempt at once
 * (link_hedge_now()); then no knock for KNOCK_HOLD_MS, so a server that
 * answers TCP but not ssh does not make attempts run in a loop.  After
 * KNOCK_FAST_MS of outage, one knock a second.  The server's sshd logs
 * the one answered knock as a connection closed before its banner.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "client-int.h"
#include "compat.h"
#include "log.h"

/* Close knock i. */
static void
knock_close(struct knock *k, int i)
{
	close(k->fd[i]);
	k->n--;
	k->fd[i] = k->fd[k->n];
	k->at[i] = k->at[k->n];
	k->pfd[i] = k->pfd[k->n];
}

/* Close every knock. */
void
knock_stop(struct client *c)
{
	while (c->knock.n > 0)
		knock_close(&c->knock, c->knock.n - 1);
}

/*
 * The session is up on a new connection: remember where its ssh reached
 * the server, and stop knocking.
 */
void
knock_learn(struct client *c)
{
	struct knock		*k = &c->knock;
	struct sockaddr_storage	 local, remote;

	knock_stop(c);
	k->armed = 0;
	k->sent = 0;
	k->through = 0;
	if (compat_tcp_addrs(c->proc.pid, &local, &remote) != 0 ||
	    (remote.ss_family != AF_INET && remote.ss_family != AF_INET6))
		return;		/* a ProxyCommand, or no way to see */
	k->to = remote;
	k->have = 1;
}

/* How long a knock waits for its answer. */
static uint64_t
knock_life(const struct client *c)
{
	return KNOCK_LIFE_MS + 2 * c->srtt;
}

/* How often knocks go at time t: fast at first, then slow. */
static uint64_t
knock_every(const struct client *c, uint64_t t)
{
	return t < c->lost_at + KNOCK_FAST_MS ? KNOCK_MS : KNOCK_SLOW_MS;
}

/* Whether the attempt's SYN is to be looked at. */
static int
knock_checking(const struct client *c)
{
	return c->state == ST_CONNECTING && !c->knock.armed &&
	    c->magic < PROTO_MAGIC_LEN && c->proc.pid != c->knock.through;
}

/* Whether the client may knock: an outage whose SYNs go unanswered. */
static int
knock_wanted(const struct client *c)
{
	if (!c->knock.have || !c->knock.armed || !c->attached_once ||
	    c->lost_at == 0)
		return 0;
	if (c->state == ST_WAITING)
		return 1;
	return c->state == ST_CONNECTING && c->magic < PROTO_MAGIC_LEN;
}

/*
 * A knock got an answer: the path is back.  Disarm, hold the next knock
 * for KNOCK_HOLD_MS and start an attempt on it now.
 */
static void
knock_answered(struct client *c, uint64_t now)
{
	c->knock.armed = 0;
	c->knock.hold = now + KNOCK_HOLD_MS;
	link_hedge_now(c, now);
}

/* Send one knock. */
static void
knock_send(struct client *c, uint64_t now)
{
	struct knock	*k = &c->knock;
	socklen_t	 len;
	int		 fd, i, oldest = 0;

	k->last = now;
	k->sent++;
	if (k->n == KNOCK_MAX) {
		for (i = 1; i < k->n; i++)
			if (k->at[i] < k->at[oldest])
				oldest = i;
		knock_close(k, oldest);
	}
	if ((fd = compat_socket(k->to.ss_family, SOCK_STREAM, 0,
	    O_CLOEXEC | O_NONBLOCK)) == -1)
		return;
	len = k->to.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	if (connect(fd, (struct sockaddr *)&k->to, len) == 0 ||
	    errno == ECONNREFUSED) {
		close(fd);
		debug_f("knock %u answered at once: the path is back",
		    k->sent);
		knock_answered(c, now);
		return;
	}
	if (errno != EINPROGRESS) {
		close(fd);	/* no route, say: the network watch will see */
		return;
	}
	k->fd[k->n] = fd;
	k->at[k->n] = now;
	k->pfd[k->n] = -1;
	k->n++;
}

/*
 * Arm the knocks once the newest attempt's SYN has gone unanswered for
 * KNOCK_DEAD_MS (a look every KNOCK_CHECK_MS), disarm them once one gets
 * through; close the knocks that waited long enough; knock when due.
 */
void
knock_step(struct client *c, uint64_t now)
{
	struct knock	*k = &c->knock;
	int		 i, st;

	if (c->state != ST_CONNECTING && c->state != ST_WAITING) {
		knock_stop(c);
		if (c->state == ST_UP && c->link == LINK_OK)
			k->armed = 0;
		return;
	}
	for (i = k->n - 1; i >= 0; i--)
		if (now >= k->at[i] + knock_life(c))
			knock_close(k, i);
	if (!k->have)
		return;
	if (knock_checking(c) && now >= k->check) {
		k->check = now + KNOCK_CHECK_MS;
		st = compat_tcp_state(c->proc.pid);
		if (st == COMPAT_TCP_UP) {
			k->armed = 0;	/* through: the attempt is only slow */
			k->through = c->proc.pid;
			knock_stop(c);
		} else if (st == COMPAT_TCP_SYN && !k->armed &&
		    now - c->attempt_start >= KNOCK_DEAD_MS) {
			k->armed = 1;
			debug_f("no answer to ssh's SYN for %llu ms: knocking",
			    (unsigned long long)(now - c->attempt_start));
		}
	}
	if (knock_wanted(c) && now >= k->hold &&
	    now >= k->last + knock_every(c, now))
		knock_send(c, now);
}

/* When knock_step() is next due, 0 if not. */
uint64_t
knock_due(const struct client *c)
{
	const struct knock	*k = &c->knock;
	uint64_t		 due = 0, t;
	int			 i;

	if (c->state != ST_CONNECTING && c->state != ST_WAITING)
		return 0;
	for (i = 0; i < k->n; i++) {
		t = k->at[i] + knock_life(c);
		if (due == 0 || t < due)
			due = t;
	}
	if (!k->have)
		return due;
	if (knock_checking(c) && (due == 0 || k->check < due))
		due = k->check > 0 ? k->check : 1;
	if (knock_wanted(c)) {
		t = k->last + knock_every(c, k->last);
		if (t < k->hold)
			t = k->hold;
		if (due == 0 || t < due)
			due = t;
	}
	return due;
}

/* Add the knocks to the poll set (KNOCK_MAX room). */
void
knock_poll(struct client *c, struct pollfd *pfd, int *n)
{
	struct knock	*k = &c->knock;
	int		 i;

	for (i = 0; i < k->n; i++) {
		k->pfd[i] = *n;
		pfd[*n].fd = k->fd[i];
		pfd[*n].events = POLLOUT;
		pfd[*n].revents = 0;
		(*n)++;
	}
}

/*
 * A knock that completed or was refused: the path is back, an attempt
 * starts now.  One that failed otherwise (unreachable) is closed.
 */
void
knock_read(struct client *c, const struct pollfd *pfd, uint64_t now)
{
	struct knock	*k = &c->knock;
	socklen_t	 len;
	int		 i, err;

	for (i = k->n - 1; i >= 0; i--) {
		if (k->pfd[i] == -1 || pfd[k->pfd[i]].fd != k->fd[i] ||
		    (pfd[k->pfd[i]].revents & (POLLOUT | POLLERR |
		    POLLHUP)) == 0)
			continue;
		err = 0;
		len = sizeof err;
		if (getsockopt(k->fd[i], SOL_SOCKET, SO_ERROR, &err,
		    &len) == -1)
			err = errno;
		if (err != 0 && err != ECONNREFUSED) {
			knock_close(k, i);
			continue;
		}
		debug_f("knock answered after %llu ms (%u sent): the path "
		    "is back", (unsigned long long)(now - k->at[i]), k->sent);
		knock_stop(c);
		knock_answered(c, now);
		return;
	}
}
