/*
 * Forwarding's sockets (fwd.h): parsing ssh's -L/-R/-D syntax, listening
 * (loopback unless an address is given, as ssh without GatewayPorts),
 * non-blocking connects, and the bytes between a channel and its socket:
 * read while the channel's send queue has room, write what the peer sent,
 * pass EOF on with shutdown() once everything before it is written.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "err.h"
#include "fwd.h"
#include "resolve.h"
#include "xmalloc.h"

/*
 * Split s at ':' outside brackets into at most max words (brackets
 * removed); returns the count, or -1 if there are too many.
 */
static int
fwd_split(const char *s, char **w, int max)
{
	char	 word[1024];
	size_t	 n = 0;
	int	 k = 0, br = 0;

	for (;; s++) {
		if (*s == '\0' || (*s == ':' && !br)) {
			if (k == max)
				return -1;
			word[n] = '\0';
			w[k++] = xstrdup(word);
			n = 0;
			if (*s == '\0')
				return k;
			continue;
		}
		if (*s == '[' && n == 0)
			br = 1;
		else if (*s == ']' && br)
			br = 0;
		else if (n + 1 < sizeof word)
			word[n++] = *s;
	}
}

/* True if s is a port number 1-65535. */
static int
fwd_port_ok(const char *s)
{
	char	*end;
	long	 v;

	if (*s == '\0')
		return 0;
	v = strtol(s, &end, 10);
	return *end == '\0' && v >= 1 && v <= 65535;
}

/*
 * Parse one -L, -R or -D argument (type 'L', 'R', 'D') the way ssh reads
 * it: [bind:]port:host:hostport, [bind:]port:/socket, /socket:host:port,
 * /socket:/socket, and for -D [bind:]port.
 */
int
fwd_parse(const char *arg, int type, struct fwd_spec *f, char *err,
    size_t errlen)
{
	char	*w[5];
	int	 n, i, ok = 0, t;

	memset(f, 0, sizeof *f);
	n = fwd_split(arg, w, 5);
	if (n < 0) {
		snprintf(err, errlen, "bad -%c forward '%s'", type, arg);
		return ERR_USAGE;
	}
	f->type = type;
	f->text = xstrdup(arg);
	if (type == 'D') {
		if (n == 1 || n == 2) {
			f->port = xstrdup(w[n - 1]);
			f->bind = n == 2 ? xstrdup(w[0]) : NULL;
			ok = fwd_port_ok(f->port);
		}
	} else if (n >= 2 && w[n - 1][0] == '/') {
		/* The target is a Unix socket. */
		t = n - 1;
		f->target = xstrdup(w[t]);
		if (t == 1 || t == 2) {
			f->port = xstrdup(w[t - 1]);
			f->bind = t == 2 ? xstrdup(w[0]) : NULL;
			ok = f->port[0] == '/' || fwd_port_ok(f->port);
		}
	} else if (n == 3 || n == 4) {
		xasprintf(&f->target, "%s:%s", w[n - 2], w[n - 1]);
		if (strchr(w[n - 2], ':') != NULL) {
			free(f->target);
			xasprintf(&f->target, "[%s]:%s", w[n - 2], w[n - 1]);
		}
		f->port = xstrdup(w[n - 3]);
		f->bind = n == 4 ? xstrdup(w[0]) : NULL;
		ok = (f->port[0] == '/' || fwd_port_ok(f->port)) &&
		    fwd_port_ok(w[n - 1]) && w[n - 2][0] != '\0';
	}
	for (i = 0; i < n; i++)
		free(w[i]);
	if (!ok) {
		snprintf(err, errlen, "bad -%c forward '%s'", type, arg);
		fwd_spec_free(f);
		return ERR_USAGE;
	}
	return 0;
}

/* Close a forward's listeners and free its strings. */
void
fwd_spec_free(struct fwd_spec *f)
{
	int	i;

	for (i = 0; i < f->nlfd; i++)
		close(f->lfd[i]);
	free(f->text);
	free(f->bind);
	free(f->port);
	free(f->target);
	memset(f, 0, sizeof *f);
}

/* Listen on a Unix socket path (0600: the user's own). */
static int
fwd_listen_unix(struct fwd_spec *f, char *err, size_t errlen)
{
	struct sockaddr_un	sun;
	mode_t			old;
	int			fd, r;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(f->port) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "-%c %s: path too long", f->type,
		    f->text);
		return ERR_TOOBIG;
	}
	memcpy(sun.sun_path, f->port, strlen(f->port));
	if ((fd = compat_socket(AF_UNIX, SOCK_STREAM, 0,
	    O_CLOEXEC | O_NONBLOCK)) == -1)
		return ERR_SYSTEM;
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (r == -1 || listen(fd, 16) == -1) {
		snprintf(err, errlen, "cannot listen on %s for -%c %s: %s",
		    f->port, f->type, f->text, strerror(errno));
		close(fd);
		return ERR_SYSTEM;
	}
	f->lfd[f->nlfd++] = fd;
	return 0;
}

/* Bind and listen on one address; -1 with errno on failure. */
static int
fwd_listen_ai(const struct addrinfo *ai)
{
	int	fd, on = 1, saved;

	if ((fd = compat_socket(ai->ai_family, ai->ai_socktype,
	    ai->ai_protocol, O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
#ifdef IPV6_V6ONLY
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
#endif
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, 64) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * Open f's listeners: loopback unless a bind address is given ("*" or an
 * empty one: every address).  At least one address must work, else an
 * error; err says in one line which address failed and why (also when
 * another one worked: then 0 is returned with err set, as ssh warns).
 */
int
fwd_listen(struct fwd_spec *f, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res, *ai;
	const char	*host = f->bind;
	char		 addr[64] = "";
	int		 fd, r, saved = 0;

	err[0] = '\0';
	if (f->port[0] == '/')
		return fwd_listen_unix(f, err, errlen);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (host == NULL || strcmp(host, "localhost") == 0)
		host = "localhost";
	else if (*host == '\0' || strcmp(host, "*") == 0)
		host = NULL;
	if ((r = getaddrinfo(host, f->port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot listen for -%c %s: %s", f->type,
		    f->text, gai_strerror(r));
		return ERR_SYSTEM;
	}
	for (ai = res; ai != NULL && f->nlfd < FWD_MAX_LFD; ai = ai->ai_next) {
		if ((fd = fwd_listen_ai(ai)) == -1) {
			if (saved == 0) {
				saved = errno;
				getnameinfo(ai->ai_addr, ai->ai_addrlen, addr,
				    sizeof addr, NULL, 0, NI_NUMERICHOST);
			}
			continue;
		}
		f->lfd[f->nlfd++] = fd;
	}
	freeaddrinfo(res);
	if (saved != 0)
		snprintf(err, errlen,
		    "cannot listen on %s%s%s:%s for -%c %s: %s",
		    strchr(addr, ':') != NULL ? "[" : "", addr,
		    strchr(addr, ':') != NULL ? "]" : "", f->port, f->type,
		    f->text, strerror(saved));
	return f->nlfd == 0 ? ERR_SYSTEM : 0;
}

/* Start connecting to a Unix socket path; never blocks. */
static int
fwd_connect_unix(const char *path, int *fdp)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path)
		return ERR_TOOBIG;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = compat_socket(AF_UNIX, SOCK_STREAM, 0,
	    O_CLOEXEC | O_NONBLOCK)) == -1)
		return ERR_SYSTEM;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		close(fd);
		return ERR_SYSTEM;
	}
	*fdp = fd;
	return 0;
}

/*
 * Split target ("host:port" or "[v6]:port") into host (room for
 * CHAN_TARGET_MAX + 1) and *port, which points into host's storage.
 */
static int
fwd_target_split(const char *target, char *host, const char **port)
{
	char	*colon;

	snprintf(host, CHAN_TARGET_MAX + 1, "%s", target);
	if ((colon = strrchr(host, ':')) == NULL)
		return ERR_FORMAT;
	*colon = '\0';
	*port = colon + 1;
	if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	return 0;
}

/*
 * Start connecting to the first address of res that takes it: 0 with
 * *fdp connected, 1 with the connect in progress, or an error.
 */
static int
fwd_connect_ai(const struct addrinfo *res, int *fdp)
{
	const struct addrinfo	*ai;
	int			 fd;

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = compat_socket(ai->ai_family, ai->ai_socktype,
		    ai->ai_protocol, O_CLOEXEC | O_NONBLOCK)) == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			*fdp = fd;
			return 0;
		}
		if (errno == EINPROGRESS) {
			*fdp = fd;
			return 1;
		}
		close(fd);
	}
	return ERR_SYSTEM;
}

/*
 * Start connecting to target ("host:port", "[v6]:port" or a socket path)
 * if that needs no name resolved: 0 with *fdp connected, 1 with the
 * connect in progress, 2 if host is a name (resolve it off the poll
 * loop: fwd_chan_connect()), or an error.
 */
int
fwd_connect(const char *target, int *fdp)
{
	struct addrinfo	 hints, *res;
	char		 host[CHAN_TARGET_MAX + 1];
	const char	*port;
	int		 r;

	if (target[0] == '/')
		return fwd_connect_unix(target, fdp);
	if (fwd_target_split(target, host, &port) != 0)
		return ERR_FORMAT;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;	/* never blocks */
	if ((r = getaddrinfo(host, port, &hints, &res)) == EAI_NONAME)
		return 2;
	if (r != 0)
		return ERR_NOTFOUND;
	r = fwd_connect_ai(res, fdp);
	freeaddrinfo(res);
	return r;
}

/* Accept one connection from a listener, non-blocking; -1 if none. */
int
fwd_accept(int lfd)
{
	return compat_accept(lfd, O_NONBLOCK | O_CLOEXEC);
}

/* An empty forwarding state; ids this end opens carry id_bit. */
void
fwd_init(struct fwd *w, uint32_t id_bit, const struct chan_ops *ops,
    void *arg)
{
	memset(w, 0, sizeof *w);
	chan_set_init(&w->set, id_bit, ops, arg);
	w->set.rx_direct = 1;	/* the channels' sockets are ours */
}

/* Close every channel and listener. */
void
fwd_free(struct fwd *w)
{
	int	i;

	chan_set_free(&w->set);
	for (i = 0; i < w->nspec; i++)
		fwd_spec_free(&w->spec[i]);
	w->nspec = 0;
}

/* Close a channel's socket (the owner's gone callback). */
void
fwd_close_fd(struct chan *ch)
{
	if (ch->resolve != NULL) {
		resolve_drop(ch->resolve);	/* its fd is ch->fd */
		ch->resolve = NULL;
	} else if (ch->fd != -1)
		close(ch->fd);
	ch->fd = -1;
}

/* Add a poll entry and remember what it is; 0 or -1 when full. */
int
fwd_poll_add(struct fwd *w, struct pollfd *pfd, int *n, int what, int fd,
    short events)
{
	if (*n >= FWD_NPFD)
		return -1;
	pfd[*n].fd = fd;
	pfd[*n].events = events;
	pfd[*n].revents = 0;
	w->slot[*n].what = what;
	w->slot[*n].fd = fd;
	w->slot[*n].spec = -1;
	(*n)++;
	return 0;
}

/* What a channel's socket waits for (0: nothing now). */
static short
fwd_chan_events(const struct chan *ch)
{
	short	ev = 0;

	if (ch->fd == -1)
		return 0;
	if (ch->resolve != NULL)
		return POLLIN;
	if (ch->connecting)
		return POLLOUT;
	if (chan_tx_room(ch) > 0)
		ev |= POLLIN;
	if (buf_len(&ch->rx) > 0 || (chan_rx_done(ch) && !ch->shut_wr))
		ev |= POLLOUT;
	return ev;
}

/*
 * Fill pfd (room for FWD_NPFD) with the listeners and the channels'
 * sockets; returns the count.  The end appends its own entries after.
 */
int
fwd_poll_fill(struct fwd *w, struct pollfd *pfd, int n)
{
	struct chan	*ch;
	short		 ev;
	int		 i, k;

	for (i = 0; i < w->nspec; i++) {
		for (k = 0; k < w->spec[i].nlfd; k++) {
			if (fwd_poll_add(w, pfd, &n, FWD_SLOT_LISTEN,
			    w->spec[i].lfd[k], POLLIN) == 0)
				w->slot[n - 1].spec = i;
		}
	}
	for (i = 0; i < w->set.n; i++) {
		ch = w->set.ch[i];
		if ((ev = fwd_chan_events(ch)) == 0)
			continue;
		if (fwd_poll_add(w, pfd, &n, FWD_SLOT_CHAN, ch->fd, ev) == 0)
			w->slot[n - 1].id = ch->id;
	}
	w->nslot = n;
	return n;
}

/* Write what the peer sent; pass its EOF on once all is written. */
static void
fwd_chan_write(struct fwd *w, struct chan *ch)
{
	ssize_t	n;

	while (buf_len(&ch->rx) > 0) {
		n = write(ch->fd, buf_ptr(&ch->rx), buf_len(&ch->rx));
		if (n > 0) {
			chan_written(ch, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		chan_reset(&w->set, ch, CHAN_R_RESET);
		return;
	}
	if (chan_rx_done(ch) && !ch->shut_wr) {
		shutdown(ch->fd, SHUT_WR);
		ch->shut_wr = 1;
	}
}

/*
 * Read from the socket into the channel, as its queue allows: straight
 * into its send ring, no copy on the way.
 */
static void
fwd_chan_read(struct fwd *w, struct chan *ch)
{
	uint8_t	*p;
	size_t	 room;
	ssize_t	 n;

	if ((room = chan_tx_room(ch)) == 0)
		return;
	if ((room = ring_tail(&ch->tx, room < FWD_READ_MAX ? room :
	    FWD_READ_MAX, &p)) == 0)
		return;
	n = read(ch->fd, p, room);
	if (n > 0)
		ring_commit(&ch->tx, (size_t)n);
	else if (n == 0)
		chan_local_eof(ch);
	else if (errno != EAGAIN && errno != EINTR)
		chan_reset(&w->set, ch, CHAN_R_RESET);
}

/*
 * The name of ch's target is resolved (or not): start connecting to it.
 * A failure resets the channel, as a refused connect does.
 */
static void
fwd_chan_resolved(struct fwd *w, struct chan *ch)
{
	struct addrinfo	*res;
	int		 r, fd;

	if ((r = resolve_take(ch->resolve, &res)) == 1)
		return;		/* not yet */
	resolve_drop(ch->resolve);
	ch->resolve = NULL;
	ch->fd = -1;
	if (r == 0) {
		r = fwd_connect_ai(res, &fd);
		freeaddrinfo(res);
	}
	if (r < 0) {
		chan_reset(&w->set, ch, CHAN_R_REFUSED);
		return;
	}
	ch->fd = fd;
	ch->connecting = r == 1;
}

/*
 * Handle poll's answer for a channel's socket: a finished connect, room
 * to write, bytes to read.  The channel may be gone afterwards.
 */
void
fwd_chan_io(struct fwd *w, struct chan *ch, short rev)
{
	uint32_t	id = ch->id;
	socklen_t	len = sizeof(int);
	int		e = 0;

	if (ch->resolve != NULL) {
		if (rev & (POLLIN | POLLHUP | POLLERR))
			fwd_chan_resolved(w, ch);
		return;
	}
	if (ch->connecting) {
		if (!(rev & (POLLOUT | POLLERR | POLLHUP)))
			return;
		if (getsockopt(ch->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1 ||
		    e != 0) {
			chan_reset(&w->set, ch, CHAN_R_REFUSED);
			return;
		}
		ch->connecting = 0;
	}
	if (rev & (POLLOUT | POLLERR | POLLHUP))
		fwd_chan_write(w, ch);
	if (chan_find(&w->set, id) != ch)
		return;
	if (rev & (POLLIN | POLLHUP | POLLERR))
		fwd_chan_read(w, ch);
}

/* Set the channels' clock (microseconds) for their round trips. */
static void
fwd_clock(struct fwd *w)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	chan_set_clock(&w->set, (uint64_t)ts.tv_sec * 1000000 +
	    (uint64_t)ts.tv_nsec / 1000);
}

/*
 * Connect ch (opened by the peer) to target: 0, or -1 if it cannot even
 * start.  A name is resolved in a thread (resolve.c): getaddrinfo() may
 * take seconds, and the poll loop serves the session meanwhile; until
 * the answer, ch->fd is the resolver's descriptor.  The connect finishes
 * in fwd_chan_io().
 */
int
fwd_chan_connect(struct chan *ch, const char *target)
{
	char		 host[CHAN_TARGET_MAX + 1];
	const char	*port;
	int		 fd, r;

	if ((r = fwd_connect(target, &fd)) < 0)
		return -1;
	if (r == 2) {
		if (fwd_target_split(target, host, &port) != 0 ||
		    resolve_start(host, port, &ch->resolve) != 0)
			return -1;
		ch->fd = resolve_fd(ch->resolve);
		return 0;
	}
	ch->fd = fd;
	ch->connecting = r == 1;
	return 0;
}

/*
 * A listener of forward spec has a connection: it becomes a channel of
 * this end to the spec's target.  NULL if there was none or too many
 * channels are open (then the connection is closed).
 */
struct chan *
fwd_chan_accept(struct fwd *w, int spec, int lfd)
{
	struct chan	*ch;
	int		 fd;

	if ((fd = fwd_accept(lfd)) == -1)
		return NULL;
	if ((ch = chan_open(&w->set, CHAN_KIND_TCP,
	    w->spec[spec].target)) == NULL) {
		close(fd);
		return NULL;
	}
	ch->fd = fd;
	ch->spec = spec;
	w->spec[spec].conns++;
	return ch;
}

/*
 * Handle poll's answer for the entry slot i (at pfd) if it is a channel's
 * socket; returns 1 if it was one.
 */
int
fwd_slot_chan(struct fwd *w, const struct pollfd *pfd, int i)
{
	struct chan	*ch;

	if (w->slot[i].what != FWD_SLOT_CHAN)
		return 0;
	if ((ch = chan_find(&w->set, w->slot[i].id)) != NULL &&
	    ch->fd == pfd->fd)
		fwd_chan_io(w, ch, pfd->revents);
	return 1;
}

/*
 * When the channels next need a turn (monotonic ms), 0 if not: a delayed
 * ACK, only while the link is up (up) to carry it, else nothing is due.
 */
uint64_t
fwd_deadline(const struct fwd *w, int up)
{
	uint64_t	t = up ? chan_deadline(&w->set) : 0;

	return t == 0 ? 0 : (t + 999) / 1000;
}

/* A channel frame from the peer (chan_frame() with the clock set). */
int
fwd_frame(struct fwd *w, uint8_t type, const uint8_t *p, size_t n)
{
	fwd_clock(w);
	return chan_frame(&w->set, type, p, n);
}

/*
 * Free finished channels and, if the link is up (out not NULL), queue
 * their frames into out behind the terminal's: channel data only while
 * out holds less than FWD_QUEUE_MAX.  Returns the data bytes queued.
 */
size_t
fwd_pump(struct fwd *w, struct buf *out)
{
	return fwd_pump_to(w, out, -1);
}

/*
 * The same, but with data frames written straight to fd (the link's,
 * which out is queued for) behind what out holds: out then keeps only
 * what fd did not take, and fwd_write_wait() says whether fd must be
 * polled for room.  Returns the data bytes sent.
 */
size_t
fwd_pump_to(struct fwd *w, struct buf *out, int fd)
{
	size_t	n;

	chan_sweep(&w->set);
	w->set.wblocked = 0;
	if (out == NULL)
		return 0;
	fwd_clock(w);
	w->set.wfd = fd;
	n = chan_pump(&w->set, out, FWD_QUEUE_MAX);
	w->set.wfd = -1;
	return n;
}

/* True if channel data waits for room in the fd given to fwd_pump_to(). */
int
fwd_write_wait(const struct fwd *w)
{
	return w->set.wblocked;
}
