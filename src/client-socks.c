/*
 * -D: a SOCKS5 (and SOCKS4/4a) server on the client's side, as ssh's
 * dynamic forwarding.
 * Each connection to a -D listener first speaks SOCKS5 (no
 * authentication, CONNECT only, IPv4, IPv6 or a name, which the server
 * resolves: curl --socks5-hostname); then it becomes a channel like an
 * -L connection, whose target the daemon connects to.  The answer is
 * sent at once: a target the server cannot reach closes the connection.
 * A connection that has not finished its request within CSOCKS_MS, or the
 * oldest one when CSOCKS_MAX are pending, is closed.
 */
#include <sys/types.h>

#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client-fwd.h"
#include "xmalloc.h"

/* Forget pending connection i, closing it unless it was handed on. */
static void
csocks_drop(struct cfwd *f, int i, int close_fd)
{
	if (close_fd)
		close(f->socks[i].fd);
	f->socks[i] = f->socks[--f->nsocks];
}

/* A -D listener has a connection: it starts with SOCKS. */
void
csocks_accept(struct cfwd *f, int spec, int lfd, uint64_t now)
{
	int	fd;

	if ((fd = fwd_accept(lfd)) == -1)
		return;
	if (f->nsocks == CSOCKS_MAX)
		csocks_drop(f, 0, 1);
	memset(&f->socks[f->nsocks], 0, sizeof f->socks[0]);
	f->socks[f->nsocks].fd = fd;
	f->socks[f->nsocks].spec = spec;
	f->socks[f->nsocks].deadline = now + CSOCKS_MS;
	f->nsocks++;
}

/*
 * The target of a whole CONNECT request in p (n bytes) into t; returns
 * the request's length, 0 if more bytes are needed, -1 if it is bad.
 */
static int
csocks_request(const uint8_t *p, size_t n, char *t, size_t tlen)
{
	char	host[INET6_ADDRSTRLEN];
	size_t	need, hl;

	if (n < 5)
		return 0;
	if (p[0] != 5 || p[1] != 1 || p[2] != 0)
		return -1;
	switch (p[3]) {
	case 1:
		need = 4 + 4 + 2;
		break;
	case 3:
		need = 4 + 1 + p[4] + 2;
		break;
	case 4:
		need = 4 + 16 + 2;
		break;
	default:
		return -1;
	}
	if (n < need)
		return 0;
	if (p[3] == 1)
		inet_ntop(AF_INET, p + 4, host, sizeof host);
	else if (p[3] == 4)
		inet_ntop(AF_INET6, p + 4, host, sizeof host);
	if (p[3] == 3) {
		hl = p[4];
		if (hl == 0 || memchr(p + 5, '\0', hl) != NULL ||
		    memchr(p + 5, ':', hl) != NULL)
			return -1;
		snprintf(t, tlen, "%.*s:%u", (int)hl, (const char *)p + 5,
		    (unsigned)(p[need - 2] << 8 | p[need - 1]));
	} else
		snprintf(t, tlen, p[3] == 4 ? "[%s]:%u" : "%s:%u", host,
		    (unsigned)(p[need - 2] << 8 | p[need - 1]));
	return (int)need;
}

/*
 * The target of a whole SOCKS4 or SOCKS4a CONNECT in p (n bytes) into t:
 * version 4, command 1, port, IPv4 address, a user id (ignored) and, when
 * the address is 0.0.0.x, a name the server resolves.  Returns the
 * request's length, 0 if more bytes are needed, -1 if it is bad.
 */
static int
csocks4_request(const uint8_t *p, size_t n, char *t, size_t tlen)
{
	const uint8_t	*end, *name;
	char		 host[INET_ADDRSTRLEN];
	unsigned	 port;

	if (n < 9)
		return 0;
	if (p[0] != 4 || p[1] != 1)
		return -1;
	port = (unsigned)(p[2] << 8 | p[3]);
	if ((end = memchr(p + 8, '\0', n - 8)) == NULL)
		return 0;			/* the user id goes on */
	if (p[4] == 0 && p[5] == 0 && p[6] == 0 && p[7] != 0) {
		name = end + 1;
		if ((size_t)(name - p) >= n ||
		    (end = memchr(name, '\0', n - (size_t)(name - p))) == NULL)
			return 0;
		if (end == name || end - name > 255 ||
		    memchr(name, ':', (size_t)(end - name)) != NULL)
			return -1;
		snprintf(t, tlen, "%.*s:%u", (int)(end - name),
		    (const char *)name, port);
	} else {
		inet_ntop(AF_INET, p + 4, host, sizeof host);
		snprintf(t, tlen, "%s:%u", host, port);
	}
	return (int)(end + 1 - p);
}

/* Pending connection i became a channel to target: hand it on. */
static void
csocks_chan(struct cfwd *f, int i, struct chan *ch, size_t used)
{
	struct csocks	*s = &f->socks[i];

	ch->fd = s->fd;
	ch->spec = s->spec;
	f->w.spec[s->spec].conns++;
	if (s->len > used)
		chan_local_data(ch, s->in + used, s->len - used);
	csocks_drop(f, i, 0);
}

/*
 * A request of r bytes for target was parsed (r < 0: a bad one): open
 * its channel and send the reply, or drop the connection.  Returns 1 (i
 * is gone from the list), or 0 if the request is not complete yet.
 */
static int
csocks_open(struct cfwd *f, int i, int r, const char *target,
    const uint8_t *reply, size_t len)
{
	struct csocks	*s = &f->socks[i];
	struct chan	*ch;

	if (r == 0)
		return 0;
	if (r < 0 || (ch = chan_open(&f->w.set, CHAN_KIND_TCP,
	    target)) == NULL || write(s->fd, reply, len) != (ssize_t)len) {
		csocks_drop(f, i, 1);
		return 1;
	}
	csocks_chan(f, i, ch, (size_t)r);
	return 1;
}

/*
 * A SOCKS4 or 4a connection i: once its request is whole it is granted
 * and becomes a channel.  Returns 1 if i is gone from the list.
 */
static int
csocks4_advance(struct cfwd *f, int i)
{
	static const uint8_t	 ok[] = { 0, 0x5a, 0, 0, 0, 0, 0, 0 };
	struct csocks		*s = &f->socks[i];
	char			 target[300];

	return csocks_open(f, i, csocks4_request(s->in, s->len, target,
	    sizeof target), target, ok, sizeof ok);
}

/*
 * Move pending connection i on as far as its bytes allow: the greeting,
 * then the request, then it becomes a channel.  Returns 1 if i is gone
 * from the list.
 */
static int
csocks_advance(struct cfwd *f, int i)
{
	static const uint8_t	 ok[] = { 5, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t	 noauth[] = { 5, 0 };
	struct csocks		*s = &f->socks[i];
	char			 target[300];
	size_t			 need;
	int			 r;

	if (!s->greeted && s->len > 0 && s->in[0] == 4)
		return csocks4_advance(f, i);
	if (!s->greeted) {
		if (s->len < 2 || s->len < 2 + (size_t)s->in[1])
			return 0;
		need = 2 + s->in[1];
		if (s->in[0] != 5 || memchr(s->in + 2, 0, s->in[1]) == NULL ||
		    write(s->fd, noauth, sizeof noauth) != sizeof noauth) {
			csocks_drop(f, i, 1);
			return 1;
		}
		memmove(s->in, s->in + need, s->len - need);
		s->len -= need;
		s->greeted = 1;
	}
	r = csocks_request(s->in, s->len, target, sizeof target);
	return csocks_open(f, i, r, target, ok, sizeof ok);
}

/* Read pending connection i; returns 1 if it is gone from the list. */
int
csocks_read(struct cfwd *f, int i, uint64_t now)
{
	struct csocks	*s = &f->socks[i];
	ssize_t		 n;

	if (now >= s->deadline) {
		csocks_drop(f, i, 1);
		return 1;
	}
	n = read(s->fd, s->in + s->len, sizeof s->in - s->len);
	if (n <= 0) {
		if (n == 0 || s->len == sizeof s->in) {
			csocks_drop(f, i, 1);
			return 1;
		}
		return 0;
	}
	s->len += (size_t)n;
	return csocks_advance(f, i);
}
