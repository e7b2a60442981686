/*
 * The session daemon.  One per session, running as the user, detached from
 * any ssh session.  It owns the PTY and the program on it, listens on
 * <dir>/<id>.sock, and serves one attached client at a time: output goes
 * into a ring addressed by offsets and stays there until the client
 * acknowledges it; input arrives with offsets, so a resent byte is never
 * delivered twice.  Peers that misbehave are dropped with a logged reason;
 * the session is never harmed by what a peer sends.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "clock.h"
#include "daemon.h"
#include "err.h"
#include "log.h"
#include "peer.h"
#include "proto.h"
#include "pty.h"
#include "ring.h"
#include "sig.h"
#include "sock.h"
#include "xmalloc.h"

#define MAX_PEERS	16
#define PTY_IN_MAX	(1024 * 1024)	/* input waiting for the program */
#define DATA_CHUNK	(32 * 1024)	/* payload of one DATA frame */
#define READ_MAX	(64 * 1024)	/* PTY bytes read per turn */
#define OUT_QUEUE_MAX	(256 * 1024)	/* framed output waiting for fd */
#define WIN_MIN		(32 * 1024)
#define WIN_INIT	(256 * 1024)
#define WIN_MAX		(8 * 1024 * 1024)
#define QUEUE_TARGET	100		/* ms of queueing we tolerate */
#define MARKS		512
#define STALL_MS	(30 * 1000)	/* window full, nothing heard */
#define STALE_MS	(3600 * 1000)	/* nothing heard at all */
#define DRAIN_MS	500		/* program gone, PTY still open */
#define KILL_GRACE_MS	2000
#define TOUCH_MS	(3600 * 1000)
#define HOLD_MS		(60 * 1000)	/* link lost: keep output this long */

struct mark {
	uint64_t	off;
	uint64_t	t;
};

struct daemon {
	char		 dir[SOCK_PATH_MAX];
	char		 id[PROTO_ID_LEN + 1];
	char		 sockpath[SOCK_PATH_MAX];
	char		 pidpath[SOCK_PATH_MAX];
	int		 lfd;
	char		*command;
	uint64_t	 created;
	uint64_t	 active;

	int		 ptyfd;
	pid_t		 child;
	int		 child_done;
	int		 status;
	int		 pty_eof;
	uint64_t	 drain_at;
	int		 finished;	/* program gone and PTY drained */

	struct ring	 out;		/* output not yet acknowledged */
	struct buf	 pty_in;	/* input not yet written to the PTY */
	uint64_t	 in_have;	/* input bytes received, in total */
	int		 ack_due;

	struct peer	*peers[MAX_PEERS];
	int		 npeers;
	struct peer	*client;	/* the attached one, if any */
	uint64_t	 sent;		/* next output offset to send */
	uint64_t	 acked;
	int		 exit_sent;
	uint16_t	 rows, cols;

	size_t		 window;
	struct mark	 marks[MARKS];
	int		 mhead, mlen;
	uint64_t	 min_rtt, min_rtt_at, last_cut;
	int		 win_full;

	uint64_t	 hold_until;	/* no client: never overwrite before */
	uint64_t	 dropped_told;	/* ring.dropped a client was told of */
	int		 detach_on_purpose;

	int		 killing;
	uint64_t	 kill_at;
	uint64_t	 touch_at;
};

static void	daemon_detach(struct daemon *, const char *);

/* Remove the socket and pid file and exit. */
static void __attribute__((noreturn))
daemon_exit(struct daemon *d, int code)
{
	int	i;

	/* Best effort, never blocking: what is queued (EXIT, DONE). */
	for (i = 0; i < d->npeers; i++)
		peer_flush(d->peers[i]);
	unlink(d->sockpath);
	unlink(d->pidpath);
	log_info("session %s ends", d->id);
	exit(code);
}

/* Create the listening socket (again, after SIGUSR1). */
static int
daemon_listen(struct daemon *d)
{
	int	fd;

	if (d->lfd != -1) {
		close(d->lfd);
		d->lfd = -1;
		unlink(d->sockpath);
	}
	if ((fd = sock_listen(d->sockpath)) < 0)
		return fd;
	d->lfd = fd;
	return 0;
}

/* Write our pid next to the socket, for tools and tests. */
static void
daemon_write_pid(struct daemon *d)
{
	FILE	*f;

	if ((f = fopen(d->pidpath, "we")) != NULL) {
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}
}

/* Add a connected fd as a new peer. */
static struct peer *
daemon_add_peer(struct daemon *d, int fd)
{
	struct peer	*p;

	if (d->npeers == MAX_PEERS) {
		close(fd);
		return NULL;
	}
	p = peer_new(fd);
	d->peers[d->npeers++] = p;
	return p;
}

/* Mark a peer for closing now, with a logged reason. */
static void
daemon_drop(struct daemon *d, struct peer *p, const char *why)
{
	if (why != NULL)
		log_info("dropping peer: %s", why);
	p->dead = 1;
	if (p == d->client)
		daemon_detach(d, NULL);
}

/* Send an ERROR and close the peer once it is flushed. */
static void
daemon_refuse(struct daemon *d, struct peer *p, uint32_t code,
    const char *msg)
{
	log_info("refusing peer: %s", msg);
	proto_error_put(&p->out, code, msg);
	p->closing = 1;
	if (p == d->client)
		daemon_detach(d, NULL);
}

/* Forget the attached client; the session goes on. */
static void
daemon_detach(struct daemon *d, const char *why)
{
	if (d->client == NULL)
		return;
	if (why != NULL)
		log_info("client detached: %s", why);
	if (why != NULL)
		d->client->closing = 1;
	d->client = NULL;
	/*
	 * A lost link is usually back soon: until then a full ring holds the
	 * program back rather than lose output.  A client that left on
	 * purpose, or a link gone for long, must not stall the program.
	 */
	d->hold_until = d->detach_on_purpose ? 0 : clock_ms() + HOLD_MS;
	d->detach_on_purpose = 0;
	d->mlen = 0;
	d->active = clock_wall();
}

/* Bytes sent to the client and not yet acknowledged. */
static size_t
daemon_inflight(const struct daemon *d)
{
	return (size_t)(d->sent - d->acked);
}

/* Record when the bytes up to off were handed to the client. */
static void
daemon_mark(struct daemon *d, uint64_t off, uint64_t now)
{
	int	i;

	if (d->mlen == MARKS)
		return;
	i = (d->mhead + d->mlen) % MARKS;
	d->marks[i].off = off;
	d->marks[i].t = now;
	d->mlen++;
}

/*
 * Adapt the window to the link: an acknowledgement that came back with
 * little queueing delay while the window was full lets it grow; one that
 * waited long behind queued bytes shrinks it, at most once a round trip.
 * The aim is that a flood fills the program's write, not the network's
 * buffers, so Ctrl-C acts at once.
 */
static void
daemon_window(struct daemon *d, uint64_t ack, uint64_t newly, uint64_t now)
{
	uint64_t	t = 0, rtt, q;
	int		got = 0;

	while (d->mlen > 0 && d->marks[d->mhead].off <= ack) {
		t = d->marks[d->mhead].t;
		got = 1;
		d->mhead = (d->mhead + 1) % MARKS;
		d->mlen--;
	}
	if (!got)
		return;
	rtt = now - t;
	if (d->min_rtt_at == 0 || rtt < d->min_rtt ||
	    now - d->min_rtt_at > 10000) {
		d->min_rtt = rtt;
		d->min_rtt_at = now;
	}
	q = rtt - d->min_rtt;
	if (q > QUEUE_TARGET + d->min_rtt / 2) {
		if (now - d->last_cut > rtt) {
			d->window = d->window * 3 / 4;
			if (d->window < WIN_MIN)
				d->window = WIN_MIN;
			d->last_cut = now;
		}
	} else if (d->win_full) {
		d->window += newly;
		if (d->window > WIN_MAX)
			d->window = WIN_MAX;
		d->win_full = 0;
	}
}

/* Queue DATA frames for output the client lacks, within the window. */
static void
daemon_pump(struct daemon *d, uint64_t now)
{
	struct peer	*c = d->client;
	const uint8_t	*p;
	size_t		 n;

	if (c == NULL || c->closing)
		return;
	while (d->sent < d->out.end && buf_len(&c->out) < OUT_QUEUE_MAX) {
		if (daemon_inflight(d) >= d->window) {
			d->win_full = 1;
			break;
		}
		n = ring_peek(&d->out, d->sent, &p);
		if (n == 0)
			break;
		if (n > DATA_CHUNK)
			n = DATA_CHUNK;
		if (n > d->window - daemon_inflight(d))
			n = d->window - daemon_inflight(d);
		if (proto_data_put(&c->out, d->sent, p, n) != 0)
			break;
		d->sent += n;
		daemon_mark(d, d->sent, now);
	}
	if (d->finished && !d->exit_sent && d->sent == d->out.end) {
		proto_exit_put(&c->out, d->status, d->out.end);
		d->exit_sent = 1;
	}
}

/* Whether the PTY may be read now. */
static int
daemon_may_read_pty(struct daemon *d)
{
	if (d->ptyfd == -1 || d->pty_eof)
		return 0;
	if (d->client == NULL)	/* keep the program going, unless held */
		return ring_room(&d->out) > 0 || clock_ms() >= d->hold_until;
	if (buf_len(&d->client->out) >= OUT_QUEUE_MAX)
		return 0;
	if (ring_len(&d->out) >= d->window) {
		d->win_full = 1;	/* the window, not the program, limits */
		return 0;
	}
	return ring_room(&d->out) > 0;
}

/*
 * Read program output into the ring: what the PTY has, up to READ_MAX per
 * turn of the loop, so that a flood leaves in few large frames rather than
 * many small ones (the PTY hands out a few KiB per read).
 */
static void
daemon_read_pty(struct daemon *d)
{
	uint8_t	 tmp[DATA_CHUNK];
	size_t	 want, total = 0;
	ssize_t	 n;
	int	 overwrite;

	overwrite = d->client == NULL && clock_ms() >= d->hold_until;
	while (total < READ_MAX) {
		want = sizeof tmp;
		if (d->client != NULL && want > d->window - ring_len(&d->out))
			want = d->window - ring_len(&d->out);
		if (!overwrite && want > ring_room(&d->out))
			want = ring_room(&d->out);
		if (want == 0)
			break;
		n = read(d->ptyfd, tmp, want);
		if (n > 0) {
			ring_append(&d->out, tmp, n, overwrite);
			total += n;
			continue;
		}
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			d->pty_eof = 1;	/* EIO: every slave fd is closed */
		break;
	}
	if (total > 0)
		d->active = clock_wall();
}

/* Write queued input to the program. */
static void
daemon_write_pty(struct daemon *d)
{
	ssize_t	n;

	n = buf_write_fd(&d->pty_in, d->ptyfd);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		log_info("pty write: %s", strerror(errno));
		buf_reset(&d->pty_in);
	}
}

/* Describe the session (for ls). */
static void
daemon_describe(struct daemon *d, struct buf *b)
{
	struct msg_session	s;

	memset(&s, 0, sizeof s);
	s.id = d->id;
	s.pid = (uint32_t)getpid();
	s.created = d->created;
	s.active = d->active;
	s.state = d->finished ? SESS_EXITED :
	    d->client != NULL ? SESS_ATTACHED : SESS_DETACHED;
	s.status = d->finished ? d->status : 0;
	s.command = d->command;
	proto_session_put(b, &s);
}

/* Start ending the session: hang up the program, then insist. */
static void
daemon_kill(struct daemon *d, uint64_t now)
{
	if (d->killing)
		return;
	d->killing = 1;
	d->kill_at = now + KILL_GRACE_MS;
	if (d->client != NULL)
		proto_error_put(&d->client->out, PERR_GONE,
		    "the session was killed");
	if (!d->child_done) {
		kill(-d->child, SIGHUP);
		kill(d->child, SIGHUP);
	}
	if (d->ptyfd != -1) {
		close(d->ptyfd);
		d->ptyfd = -1;
	}
}

/*
 * Attach peer p, which sent HELLO h.  The same client coming back over a
 * new connection replaces its old one silently; another client takes the
 * session over and the old one is told so.
 */
static void
daemon_attach(struct daemon *d, struct peer *p, const struct msg_hello *h,
    uint64_t now)
{
	struct msg_welcome	w;
	struct peer		*old = d->client;
	uint64_t		start;

	if (d->killing) {
		daemon_refuse(d, p, PERR_GONE, "the session is ending");
		return;
	}
	if (h->flags & HELLO_RESUME) {
		if (h->out_have > d->out.end) {
			daemon_refuse(d, p, PERR_PROTOCOL,
			    "client claims output the session never made");
			return;
		}
		start = h->out_have < d->out.start ? d->out.start :
		    h->out_have;
	} else
		start = d->out.start;
	if (old != NULL) {
		if (old->client_id == h->client_id)
			daemon_drop(d, old, "replaced by the same client");
		else {
			proto_error_put(&old->out, PERR_TAKEN,
			    "another client attached to this session");
			daemon_detach(d, "taken over");
		}
	}
	d->client = p;
	p->client_id = h->client_id;
	/* Bytes before start were acknowledged or are lost for good. */
	ring_ack(&d->out, start);
	d->sent = d->acked = start;
	d->exit_sent = 0;
	d->mlen = 0;
	d->win_full = 0;
	d->min_rtt_at = 0;
	if (d->window < WIN_INIT)
		d->window = WIN_INIT;

	memset(&w, 0, sizeof w);
	w.version = PROTO_VERSION;
	w.id = d->id;
	w.in_have = d->in_have;
	w.out_start = start;
	w.out_end = d->out.end;
	w.pid = (uint32_t)getpid();
	proto_welcome_put(&p->out, &w);
	if (!(h->flags & HELLO_RESUME) && d->out.dropped > d->dropped_told) {
		char	msg[160];

		/* A resuming client counts its own gap; a new one is told. */
		snprintf(msg, sizeof msg, "%llu bytes of output were dropped "
		    "while no client was attached (more than the session "
		    "keeps; see --ring-size)",
		    (unsigned long long)(d->out.dropped - d->dropped_told));
		proto_str_put(&p->out, MSG_NOTICE, msg);
	}
	d->dropped_told = d->out.dropped;
	if (h->rows != 0 && h->cols != 0 && d->ptyfd != -1) {
		if (h->op == OP_ATTACH && !(h->flags & HELLO_RESUME) &&
		    h->rows == d->rows &&
		    h->cols == d->cols && h->rows > 1) {
			/* A new client: make full-screen programs redraw. */
			pty_resize(d->ptyfd, h->rows - 1, h->cols);
		}
		pty_resize(d->ptyfd, h->rows, h->cols);
		d->rows = h->rows;
		d->cols = h->cols;
	}
	d->active = clock_wall();
	log_info("client attached (resume %d, from %llu, input %llu)",
	    (h->flags & HELLO_RESUME) != 0, (unsigned long long)start,
	    (unsigned long long)d->in_have);
	daemon_pump(d, now);
}

/* Handle the first frame from a peer, which must be HELLO. */
static void
daemon_hello(struct daemon *d, struct peer *p, const struct frame *f,
    uint64_t now)
{
	struct msg_hello	h;
	int			r;

	if (f->type != MSG_HELLO) {
		daemon_drop(d, p, "first frame is not HELLO");
		return;
	}
	if ((r = proto_hello_parse(f->p, f->len, &h)) != 0) {
		daemon_refuse(d, p, r == ERR_VERSION ? PERR_VERSION :
		    PERR_PROTOCOL, r == ERR_VERSION ? "protocol version "
		    "mismatch: install the same limpet version on both ends" :
		    "malformed HELLO");
		return;
	}
	p->hello = 1;
	p->op = h.op;
	switch (h.op) {
	case OP_INFO:
		daemon_describe(d, &p->out);
		p->closing = 1;
		break;
	case OP_KILL:
		proto_u32_put(&p->out, MSG_DONE, 1);
		p->closing = 1;
		daemon_kill(d, now);
		break;
	case OP_NEW:
	case OP_ATTACH:
		daemon_attach(d, p, &h, now);
		break;
	default:
		daemon_refuse(d, p, PERR_PROTOCOL, "unexpected operation");
		break;
	}
	proto_hello_free(&h);
}

/* Take input bytes at offset off; duplicates are skipped, gaps refused. */
static int
daemon_input(struct daemon *d, uint64_t off, const uint8_t *p, size_t n)
{
	int	r;

	if ((r = buf_put_stream(&d->pty_in, &d->in_have, off, p, n)) <= 0)
		return r;
	d->ack_due = 1;
	d->active = clock_wall();
	return 0;
}

/* Handle one frame from the attached client. */
static void
daemon_client_frame(struct daemon *d, struct peer *p, const struct frame *f,
    uint64_t now)
{
	const uint8_t	*data;
	uint64_t	 off, v;
	uint16_t	 rows, cols;
	size_t		 n;

	switch (f->type) {
	case MSG_DATA:
		if (proto_data_parse(f->p, f->len, &off, &data, &n) != 0 ||
		    daemon_input(d, off, data, n) != 0)
			daemon_drop(d, p, "bad input DATA");
		break;
	case MSG_ACK:
		if (proto_u64_parse(f->p, f->len, &v) != 0 || v > d->sent) {
			daemon_drop(d, p, "bad ACK");
			break;
		}
		if (v > d->acked) {
			daemon_window(d, v, v - d->acked, now);
			d->acked = v;
			ring_ack(&d->out, v);
		}
		if (d->finished && d->exit_sent && v == d->out.end)
			daemon_exit(d, 0);
		break;
	case MSG_PING:
		if (proto_u64_parse(f->p, f->len, &v) != 0)
			daemon_drop(d, p, "bad PING");
		else
			proto_u64_put(&p->out, MSG_PONG, v);
		break;
	case MSG_PONG:
		break;
	case MSG_RESIZE:
		if (proto_resize_parse(f->p, f->len, &rows, &cols) != 0) {
			daemon_drop(d, p, "bad RESIZE");
			break;
		}
		if (d->ptyfd != -1 && rows != 0 && cols != 0 &&
		    (rows != d->rows || cols != d->cols)) {
			pty_resize(d->ptyfd, rows, cols);
			d->rows = rows;
			d->cols = cols;
		}
		break;
	case MSG_DETACH:
		d->detach_on_purpose = 1;
		daemon_detach(d, "client detached on purpose");
		break;
	default:
		daemon_drop(d, p, "unexpected frame type");
		break;
	}
}

/* Read and handle what a peer sent. */
static void
daemon_peer_read(struct daemon *d, struct peer *p, uint64_t now)
{
	struct frame	f;
	int		r;

	r = peer_fill(p);
	if (r == ERR_EOF || r == ERR_SYSTEM) {
		if (p == d->client)
			daemon_detach(d, "connection closed");
		p->dead = 1;
		return;
	}
	while (!p->dead && !p->closing &&
	    (r = frame_dec_next(&p->dec, &f)) == 1) {
		if (!p->hello)
			daemon_hello(d, p, &f, now);
		else if (p == d->client)
			daemon_client_frame(d, p, &f, now);
		/* Frames from a replaced client are ignored. */
	}
	if (r < 0)
		daemon_drop(d, p, "oversized frame");
}

/* Reap the program. */
static void
daemon_reap(struct daemon *d, uint64_t now)
{
	int	st;
	pid_t	pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid != d->child)
			continue;
		d->child_done = 1;
		if (WIFEXITED(st))
			d->status = WEXITSTATUS(st);
		else if (WIFSIGNALED(st))
			d->status = 128 + WTERMSIG(st);
		d->drain_at = now + DRAIN_MS;
		log_info("program exited with status %d", d->status);
	}
}

/* Accept connections; each must come from our own uid. */
static void
daemon_accept(struct daemon *d)
{
	int	fd;

	while ((fd = compat_accept(d->lfd,
	    O_NONBLOCK | O_CLOEXEC)) != -1) {
		if (sock_peer_ok(fd) != 0) {
			log_error("refused a connection from another user");
			close(fd);
			continue;
		}
		daemon_add_peer(d, fd);
	}
}

/* Free peers that are done. */
static void
daemon_sweep(struct daemon *d)
{
	int	i, j;

	for (i = 0, j = 0; i < d->npeers; i++) {
		struct peer	*p = d->peers[i];

		if (p->closing && buf_len(&p->out) == 0)
			p->dead = 1;
		if (p->dead) {
			if (p == d->client)
				daemon_detach(d, NULL);
			peer_free(p);
			continue;
		}
		d->peers[j++] = p;
	}
	d->npeers = j;
}

/* Check timers: drain, kill grace, stalled client, socket touch. */
static void
daemon_timers(struct daemon *d, uint64_t now)
{
	if (d->child_done && !d->pty_eof && now >= d->drain_at)
		d->pty_eof = 1;
	if (d->child_done && d->pty_eof && !d->finished) {
		d->finished = 1;
		if (d->ptyfd != -1) {
			close(d->ptyfd);
			d->ptyfd = -1;
		}
	}
	if (d->killing) {
		if (d->child_done)
			daemon_exit(d, 0);
		if (now >= d->kill_at) {
			kill(-d->child, SIGKILL);
			kill(d->child, SIGKILL);
			d->kill_at = now + KILL_GRACE_MS;
		}
	}
	if (d->client != NULL) {
		uint64_t	quiet = now - d->client->last_rx;

		if ((quiet > STALL_MS && daemon_inflight(d) >= d->window) ||
		    quiet > STALE_MS)
			daemon_detach(d, "client silent");
	}
	if (now >= d->touch_at) {
		/* Keep /tmp cleaners from aging the socket away. */
		utimensat(AT_FDCWD, d->sockpath, NULL, AT_SYMLINK_NOFOLLOW);
		d->touch_at = now + TOUCH_MS;
	}
}

/* Handle delivered signals. */
static void
daemon_signals(struct daemon *d, uint64_t now)
{
	int	s;

	while ((s = sig_next()) != 0) {
		switch (s) {
		case SIGCHLD:
			daemon_reap(d, now);
			break;
		case SIGTERM:
		case SIGHUP:
		case SIGINT:
			daemon_kill(d, now);
			break;
		case SIGUSR1:
			if (daemon_listen(d) != 0)
				log_error("cannot re-create %s", d->sockpath);
			break;
		}
	}
}

/* The poll loop. */
static void __attribute__((noreturn))
daemon_loop(struct daemon *d)
{
	struct pollfd	 pfd[MAX_PEERS + 3];
	struct peer	*p;
	uint64_t	 now;
	int		 i, n, timeout, ipty, ilfd, base;

	for (;;) {
		now = clock_ms();
		daemon_timers(d, now);
		daemon_pump(d, now);
		if (d->ack_due && d->client != NULL) {
			proto_u64_put(&d->client->out, MSG_ACK, d->in_have);
			d->ack_due = 0;
		}
		for (i = 0; i < d->npeers; i++) {
			if (peer_flush(d->peers[i]) != 0)
				daemon_drop(d, d->peers[i], NULL);
		}
		daemon_sweep(d);

		n = 0;
		pfd[n].fd = sig_fd();
		pfd[n++].events = POLLIN;
		ilfd = -1;
		if (d->lfd != -1 && d->npeers < MAX_PEERS) {
			ilfd = n;
			pfd[n].fd = d->lfd;
			pfd[n++].events = POLLIN;
		}
		ipty = -1;
		if (d->ptyfd != -1) {
			ipty = n;
			pfd[n].fd = d->ptyfd;
			pfd[n].events = daemon_may_read_pty(d) ? POLLIN : 0;
			if (buf_len(&d->pty_in) > 0)
				pfd[n].events |= POLLOUT;
			n++;
		}
		base = n;
		for (i = 0; i < d->npeers; i++) {
			p = d->peers[i];
			pfd[n].fd = p->fd;
			pfd[n++].events = peer_events(p,
			    buf_len(&d->pty_in) < PTY_IN_MAX);
		}
		timeout = 60 * 1000;
		if (d->child_done && !d->pty_eof)
			timeout = clock_timeout(now, d->drain_at, timeout);
		if (d->killing)
			timeout = clock_timeout(now, d->kill_at, timeout);
		if (d->client == NULL && d->hold_until > now)
			timeout = clock_timeout(now, d->hold_until, timeout);
		if (poll(pfd, n, timeout) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		now = clock_ms();
		if (pfd[0].revents & POLLIN)
			daemon_signals(d, now);
		if (ilfd != -1 && (pfd[ilfd].revents & POLLIN))
			daemon_accept(d);
		if (ipty != -1 && d->ptyfd != -1) {
			if (pfd[ipty].revents & POLLOUT)
				daemon_write_pty(d);
			if (pfd[ipty].revents & (POLLIN | POLLHUP | POLLERR))
				daemon_read_pty(d);
		}
		for (i = 0; i < d->npeers && base + i < n; i++) {
			p = d->peers[i];
			if (pfd[base + i].fd != p->fd)
				continue;
			if (pfd[base + i].revents & (POLLIN | POLLHUP | POLLERR))
				daemon_peer_read(d, p, now);
		}
	}
}

/* Detach from the relay's session and stdio. */
static void
daemon_detach_stdio(int keep)
{
	int	fd;

	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	for (fd = STDERR_FILENO + 1; fd < 1024; fd++)
		if (fd != keep)
			close(fd);
}

/*
 * Become the daemon of session id in dir, whose first client (the relay
 * that started us) is on fd and sent HELLO h.  Never returns.
 */
void
daemon_run(const char *dir, const char *id, const struct msg_hello *h, int fd)
{
	static const int	 sigs[] = { SIGCHLD, SIGTERM, SIGHUP, SIGINT,
				    SIGUSR1 };
	struct daemon		*d = xcalloc(1, sizeof *d);
	struct pty_spec		 spec;
	struct peer		*p;
	const char		*logpath = getenv("LIMPET_LOG");
	size_t			 ring;
	int			 r;

	log_close();
	daemon_detach_stdio(fd);
	log_init("limpet-daemon", logpath != NULL ? LOG_DEBUG : LOG_QUIET,
	    logpath);
	signal(SIGPIPE, SIG_IGN);
	if (sig_init(sigs, sizeof sigs / sizeof sigs[0]) != 0)
		fatal("signals");
	snprintf(d->dir, sizeof d->dir, "%s", dir);
	snprintf(d->id, sizeof d->id, "%s", id);
	d->lfd = d->ptyfd = -1;
	d->created = d->active = clock_wall();
	d->window = WIN_INIT;
	d->touch_at = clock_ms() + TOUCH_MS;
	ring = h->ring_kb != 0 ? (size_t)h->ring_kb * 1024 :
	    DAEMON_RING_DEFAULT;
	if (ring < 64 * 1024)
		ring = 64 * 1024;
	if (ring > DAEMON_RING_MAX)
		ring = DAEMON_RING_MAX;
	ring_init(&d->out, ring, 0);
	buf_init(&d->pty_in, PTY_IN_MAX + DATA_CHUNK + 1024);
	sock_nonblock(fd);
	p = daemon_add_peer(d, fd);

	if (sock_path(d->sockpath, sizeof d->sockpath, dir, id, "sock") != 0 ||
	    sock_path(d->pidpath, sizeof d->pidpath, dir, id, "pid") != 0) {
		proto_error_put(&p->out, PERR_INTERNAL, "path too long");
		daemon_exit(d, 1);
	}
	if ((r = daemon_listen(d)) != 0) {
		char	msg[256];

		snprintf(msg, sizeof msg, "cannot listen on %s: %s",
		    d->sockpath, err_str(r));
		proto_error_put(&p->out, PERR_INTERNAL, msg);
		d->sockpath[0] = '\0';
		daemon_exit(d, 1);
	}
	daemon_write_pid(d);

	memset(&spec, 0, sizeof spec);
	spec.argv = h->argv;
	spec.argc = (int)h->argc;
	spec.env = h->env;
	spec.envc = (int)h->envc;
	spec.session = id;
	spec.rows = d->rows = h->rows != 0 ? h->rows : 24;
	spec.cols = d->cols = h->cols != 0 ? h->cols : 80;
	d->command = spec.argc > 0 ? pty_command_line(&spec) : xstrdup("");
	if ((r = pty_spawn(&spec, &d->ptyfd, &d->child)) != 0) {
		char	msg[256];

		snprintf(msg, sizeof msg, "cannot start the session: %s",
		    err_str(r));
		proto_error_put(&p->out, PERR_SPAWN, msg);
		daemon_exit(d, 1);
	}
	log_info("session %s started, pid %ld", id, (long)d->child);
	p->hello = 1;
	p->op = OP_NEW;
	daemon_attach(d, p, h, clock_ms());
	daemon_loop(d);
}
