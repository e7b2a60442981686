/*
 * The relay.  sshd starts it for every connection limpet makes.  It writes
 * the magic preamble (so the client can skip whatever a shell startup file
 * printed), reads the client's HELLO, and then starts a new session daemon,
 * connects to an existing one, lists sessions or kills them.  Once
 * attached it only copies bytes both ways: it holds no state that matters,
 * so killing it loses nothing.
 *
 * Everything happens in one poll() loop over non-blocking descriptors:
 * ssh's stdin and stdout, the daemon being bridged, and the daemons being
 * asked for ls, kill or the choice of a session to attach.  Those are
 * asked all at once, each with a deadline, so a daemon that is stopped
 * or hung costs at most QUERY_WAIT_MS and is reported as not answering
 * instead of hanging every other request.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "buf.h"
#include "clock.h"
#include "daemon.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "proto.h"
#include "relay.h"
#include "relay-int.h"
#include "scope.h"
#include "sock.h"
#include "xmalloc.h"

/* Send an ERROR frame to the client, then end once it is written. */
void
relay_fail(struct relay *r, uint32_t code, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_info("%s", msg);
	proto_error_put(&r->down, code, msg);
	relay_finish(r, 1);
}

/* Stop everything but writing what the client is owed, then exit rc. */
void
relay_finish(struct relay *r, int rc)
{
	if (r->fd != -1) {
		close(r->fd);
		r->fd = -1;
	}
	relay_queries_free(r);
	relay_name_unlock(r);
	if (r->ho != RHO_DONE)
		r->ho = RHO_NONE;	/* the last words go out whole */
	r->many = 0;
	r->rc = rc;
	r->phase = PH_FLUSH;
	r->deadline = clock_ms() + FLUSH_WAIT_MS;
}

/* This host's name, for messages. */
const char *
relay_host(void)
{
	static char	host[256];

	if (gethostname(host, sizeof host) == -1)
		snprintf(host, sizeof host, "the server");
	host[sizeof host - 1] = '\0';
	return host;
}

/*
 * Take one whole frame from the front of b.  Returns 1 with f pointing
 * into b (the caller consumes FRAME_HDR + f->len), 0 if more bytes are
 * needed, ERR_TOOBIG for a length over the limit.
 */
int
relay_frame_peek(struct buf *b, struct frame *f)
{
	return relay_frame_at(buf_ptr(b), buf_len(b), f);
}

/* The same on n bytes at p. */
int
relay_frame_at(const uint8_t *p, size_t n, struct frame *f)
{
	uint32_t	 len;

	if (n < FRAME_HDR)
		return 0;
	len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 8 | p[4];
	if (len > FRAME_MAX_PAYLOAD)
		return ERR_TOOBIG;
	if (n < FRAME_HDR + (size_t)len)
		return 0;
	f->type = p[0];
	f->p = p + FRAME_HDR;
	f->len = len;
	return 1;
}

/*
 * Bridge to the daemon on fd.  What goes first is the HELLO for it (with
 * the chosen id; none for a daemon we started, it has HELLO already),
 * then whatever the client sent after its HELLO, in order.
 */
void
relay_bridge(struct relay *r, int fd, int send_hello)
{
	struct buf	b;

	buf_init(&b, RELAY_BUF + FRAME_HDR + FRAME_MAX_PAYLOAD);
	if (send_hello) {
		free(r->h.id);
		r->h.id = xstrdup(r->id);
		proto_hello_put(&b, &r->h);
		/*
		 * A daemon from before version negotiation refuses any
		 * version but its own (the oldest, PROTO_VERSION_MIN): keep
		 * what follows the HELLO to say it all again in that one.
		 */
		r->greet = r->h.version > PROTO_VERSION_MIN;
		if (r->greet) {
			buf_free(&r->resend);
			buf_init(&r->resend, RELAY_BUF);
			buf_put(&r->resend, buf_ptr(&r->up),
			    buf_len(&r->up));
		}
	}
	buf_put(&b, buf_ptr(&r->up), buf_len(&r->up));
	buf_free(&r->up);
	r->up = b;
	r->up_whole = 0;	/* it starts with a frame (relay-handoff.c) */
	r->ho_end = 0;
	r->fd = fd;
	r->phase = PH_PIPE;
	/* A daemon we did not just start may be stopped or hung. */
	r->answered = !send_hello;
	r->deadline = clock_ms() + ANSWER_WAIT_MS;
}

/*
 * Try to connect to session r->id (attach).  A socket nobody listens on
 * is stale and removed; a full backlog is tried again until the deadline.
 */
static void
relay_connect(struct relay *r, uint64_t now)
{
	char	path[SOCK_PATH_MAX];
	int	fd, i, busy = 0;

	for (i = 0; i < r->dirs.n; i++) {
		if (sock_path(path, sizeof path, r->dirs.path[i], r->id,
		    "sock") != 0)
			continue;
		fd = sock_connect(path);
		if (fd >= 0) {
			relay_bridge(r, fd, 1);
			return;
		}
		if (fd == ERR_FULL)
			busy = 1;
		else if (fd == ERR_SYSTEM && errno == ECONNREFUSED)
			relay_stale(r->dirs.path[i], r->id);
	}
	if (busy && now < r->deadline) {
		r->retry_at = now + RETRY_MS;
		return;
	}
	if (busy)
		relay_fail(r, PERR_INTERNAL, "session %s on %s does not "
		    "answer: it is stopped or hung", r->id, relay_host());
	else if (r->h.op == OP_ATTACH && !r->resolved &&
	    proto_name_valid(r->h.id)) {
		/* Not an id: a name or the start of one (relay-query.c). */
		r->resolved = 1;
		relay_queries_start(r);
	} else
		relay_fail(r, PERR_NOSESSION, "no session %s on %s: it ended "
		    "or never existed (limpet ls shows the sessions)", r->id,
		    relay_host());
}

/* Act on the client's HELLO. */
static void
relay_open(struct relay *r)
{
	char	err[SOCK_ERR_MAX];

	if (sock_dirs(&r->dirs, r->dirarg, err, sizeof err) != 0) {
		relay_fail(r, PERR_UNSAFE, "no session directory on %s: %s; "
		    "use limpet --server-dir PATH (a directory of your own)",
		    relay_host(), err);
		return;
	}
	if (*r->dirs.note != '\0')
		log_info("%s: sessions go to %s", r->dirs.note,
		    r->dirs.path[0]);
	switch (r->h.op) {
	case OP_LIST:
	case OP_KILL:
		relay_queries_start(r);
		break;
	case OP_OPEN:
		if (!proto_name_valid(r->h.id)) {
			relay_fail(r, PERR_NOSESSION, "not a session name: "
			    "%.32s (letters, digits, _ . -)", r->h.id);
			break;
		}
		r->resolved = 1;
		relay_named(r);
		break;
	case OP_NEW:
		if ((r->h.flags & HELLO_MANY) && r->h.version >= 3)
			relay_many(r);
		else
			relay_new(r);
		break;
	case OP_ATTACH:
		if (*r->h.id == '\0') {
			relay_queries_start(r);
			break;
		}
		if (!sock_id_valid(r->h.id) && !proto_name_valid(r->h.id)) {
			relay_fail(r, PERR_NOSESSION, "no session %.32s on %s",
			    r->h.id, relay_host());
			break;
		}
		if (!sock_id_valid(r->h.id)) {
			r->resolved = 1;
			relay_queries_start(r);
			break;
		}
		snprintf(r->id, sizeof r->id, "%s", r->h.id);
		r->phase = PH_CONNECT;
		r->deadline = clock_ms() + QUERY_WAIT_MS;
		relay_connect(r, clock_ms());
		break;
	default:
		relay_fail(r, PERR_PROTOCOL, "unknown operation");
		break;
	}
}

/*
 * Tell the daemon where the client is (ls shows it): the address sshd
 * gives in SSH_CLIENT, as LIMPET_FROM=ADDRESS in the HELLO's environment
 * (never passed on to the session's programs).
 */
static void
relay_from(struct relay *r)
{
	const char	*sc = getenv("SSH_CLIENT");
	char		*kv;
	size_t		 n;

	if (sc == NULL || r->h.envc >= PROTO_MAX_ENV ||
	    (r->h.op != OP_NEW && r->h.op != OP_ATTACH && r->h.op != OP_OPEN))
		return;
	n = strcspn(sc, " ");
	if (n == 0 || n > 45)
		return;
	xasprintf(&kv, "LIMPET_FROM=%.*s", (int)n, sc);
	r->h.env = xreallocarray(r->h.env, r->h.envc + 1, sizeof *r->h.env);
	r->h.env[r->h.envc++] = kv;
}

/*
 * Look for the HELLO at the front of what the client sent.  What follows
 * it stays in r->up and goes to the daemon after it.
 */
static void
relay_hello(struct relay *r)
{
	struct frame	f;
	struct cur	c;
	uint32_t	v;
	int		n, has_v;

	if ((n = relay_frame_peek(&r->up, &f)) == 0)
		return;
	if (n < 0 || f.type != MSG_HELLO) {
		relay_fail(r, PERR_PROTOCOL, "no HELLO from the client");
		return;
	}
	if ((n = proto_hello_parse(f.p, f.len, &r->h)) != 0) {
		cur_init(&c, f.p, f.len);
		has_v = cur_get_u32(&c, &v) == 0;
		if (n == ERR_VERSION && has_v)
			relay_fail(r, PERR_VERSION, "limpet on %s speaks "
			    "protocol %d to %u, the client %u: install the "
			    "same limpet version on both ends (server: "
			    "limpet %s)",
			    relay_host(), PROTO_VERSION_MIN, proto_version(),
			    v, LIMPET_VERSION);
		else
			relay_fail(r, PERR_PROTOCOL, "malformed HELLO");
		return;
	}
	r->have_hello = 1;
	relay_from(r);
	/* What we pass on is a HELLO of our version at most. */
	if (r->h.version > proto_version())
		r->h.version = proto_version();
	buf_consume(&r->up, FRAME_HDR + f.len);
	relay_ho_ask(r);
	relay_open(r);
}

/* The value of hex digit ch, or -1. */
static int
relay_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * The client's HELLO from the command line (LIMPET_HELLO, in hex; see
 * PROTOCOL.md "Preamble"): put in r->up as if it came first on stdin,
 * so the daemon answers a round trip sooner.  Anything but exactly one
 * whole HELLO frame is ignored (the client then sends it on stdin).  The
 * variable goes either way: the session's programs must not inherit it.
 * Returns 1 if it was taken.
 */
static int
relay_early(struct relay *r)
{
	const char	*s = getenv("LIMPET_HELLO");
	uint8_t		 b[RELAY_EARLY_MAX];
	struct frame	 f;
	size_t		 i, n;
	int		 hi, lo, ok = 0;

	if (s == NULL)
		return 0;
	n = strlen(s) / 2;
	if (strlen(s) % 2 == 0 && n <= sizeof b) {
		for (i = 0; i < n; i++) {
			hi = relay_hexval(s[2 * i]);
			lo = relay_hexval(s[2 * i + 1]);
			if (hi < 0 || lo < 0)
				break;
			b[i] = (uint8_t)(hi << 4 | lo);
		}
		ok = i == n && relay_frame_at(b, n, &f) == 1 &&
		    f.type == MSG_HELLO && FRAME_HDR + (size_t)f.len == n;
	}
	if (ok)
		buf_put(&r->up, b, n);
	else
		log_info("LIMPET_HELLO is not one HELLO: ignored");
	unsetenv("LIMPET_HELLO");
	return ok;
}

/* Read from ssh's stdin into r->up. */
static void
relay_read_stdin(struct relay *r)
{
	ssize_t	n;

	n = buf_read_fd(&r->up, STDIN_FILENO, RELAY_BUF / 2);
	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR)))
		return;
	r->in_open = 0;
	if (r->phase == PH_HELLO)
		relay_finish(r, 1);
}

/* Write what the client is owed; a client that is gone ends us. */
static void
relay_write_stdout(struct relay *r)
{
	if (relay_ho_write(&r->down, STDOUT_FILENO, relay_ho_down_room(r),
	    &r->down_whole, r->ho == RHO_CUT || r->ho == RHO_SENT) == -1 &&
	    errno != EAGAIN && errno != EINTR) {
		buf_reset(&r->down);
		relay_finish(r, r->rc);
		r->phase = PH_DONE;
	}
}

/*
 * Pass on the daemon's first frame, then our notice (the client takes
 * nothing but WELCOME or ERROR first), then the rest.  With end set the
 * daemon is gone: pass on whatever it sent.
 */
static void
relay_notice(struct relay *r, int end)
{
	struct frame	f;
	size_t		n;

	if (relay_frame_peek(&r->first, &f) == 1) {
		n = FRAME_HDR + f.len;
		buf_put(&r->down, buf_ptr(&r->first), n);
		buf_consume(&r->first, n);
		proto_str_put(&r->down, MSG_NOTICE, r->notice);
	} else if (!end)
		return;
	buf_put(&r->down, buf_ptr(&r->first), buf_len(&r->first));
	buf_free(&r->first);
	*r->notice = '\0';
}

/*
 * The first bytes from a daemon we said HELLO to in a version newer than
 * the oldest.  An ERROR 1 as its first frame is a daemon from before
 * version negotiation: connect again and say HELLO in the oldest version.
 * Returns 1 when it did (the connection changed), else 0.
 */
static int
relay_greeted(struct relay *r)
{
	struct frame	f;
	struct cur	c;
	uint32_t	code;

	if (relay_frame_peek(&r->first, &f) != 1)
		return 0;
	r->greet = 0;
	cur_init(&c, f.p, f.len);
	if (f.type == MSG_ERROR && cur_get_u32(&c, &code) == 0 &&
	    code == PERR_VERSION) {
		log_info("session %s speaks an older protocol: HELLO again "
		    "in version %d", r->id, PROTO_VERSION_MIN);
		close(r->fd);
		r->fd = -1;
		buf_reset(&r->first);
		buf_free(&r->up);
		r->up = r->resend;
		buf_init(&r->resend, RELAY_BUF);
		r->h.version = PROTO_VERSION_MIN;
		relay_ho_forget(r);
		r->phase = PH_CONNECT;
		r->deadline = clock_ms() + QUERY_WAIT_MS;
		relay_connect(r, clock_ms());
		return 1;
	}
	buf_free(&r->resend);
	buf_init(&r->resend, RELAY_BUF);
	if (*r->notice == '\0') {
		buf_put(&r->down, buf_ptr(&r->first), buf_len(&r->first));
		buf_reset(&r->first);
	}
	return 0;
}

/*
 * Once neither the version, a notice nor the handoff's offer waits for
 * the daemon's first frame, what r->first holds goes on to the client.
 */
static void
relay_first_done(struct relay *r)
{
	if (r->greet || *r->notice != '\0' || r->ho == RHO_WAIT ||
	    buf_len(&r->first) == 0)
		return;
	buf_put(&r->down, buf_ptr(&r->first), buf_len(&r->first));
	buf_reset(&r->first);
}

/* Copy between the daemon and the buffers (PH_PIPE). */
static void
relay_pipe(struct relay *r, short revents)
{
	ssize_t	n;

	if (r->ho == RHO_DONE) {
		relay_ho_done_io(r);
		return;
	}
	if (revents & POLLOUT) {
		if (relay_ho_write(&r->up, r->fd, relay_ho_up_room(r),
		    &r->up_whole, r->ho == RHO_WAIT || r->ho == RHO_CUT) ==
		    -1 && errno != EAGAIN && errno != EINTR) {
			relay_finish(r, 0);
			return;
		}
		relay_ho_step(r);
		if (r->phase != PH_PIPE)
			return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		n = buf_read_fd(*r->notice != '\0' || r->greet ||
		    r->ho == RHO_WAIT ? &r->first : &r->down, r->fd,
		    RELAY_BUF / 2);
		if (n > 0) {
			r->answered = 1;
			relay_name_unlock(r);	/* its daemon is there */
			relay_ho_first(r);
			if (r->greet && relay_greeted(r) != 0)
				return;
			if (*r->notice != '\0')
				relay_notice(r, 0);
			relay_first_done(r);
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR &&
		    errno != ENOBUFS)) {
			/* The daemon closed: deliver what it said. */
			if (r->ho == RHO_WAIT)
				r->ho = RHO_NONE;
			if (r->greet && relay_greeted(r) != 0)
				return;
			if (r->greet || *r->notice != '\0')
				relay_notice(r, 1);
			relay_first_done(r);
			relay_finish(r, 0);
			return;
		}
	}
}

/*
 * True when bytes may go between ssh and the daemon inside the kernel
 * (splice): in PH_PIPE once the first frame and any notice are passed on,
 * so the relay need not read what it only copies.
 */
static int
relay_splicing(const struct relay *r)
{
	return r->phase == PH_PIPE && !r->nosplice && !r->greet &&
	    *r->notice == '\0' && r->ho == RHO_NONE;
}

/* Splice what ssh sent into the daemon's socket (up is empty). */
static void
relay_splice_up(struct relay *r)
{
	ssize_t	n;

	if ((n = compat_splice(STDIN_FILENO, r->fd, RELAY_PIPE)) > 0)
		return;
	if (n == 0)
		r->in_open = 0;
	else if (errno == EAGAIN)
		r->up_wait = 1;		/* the socket is full */
	else if (errno == EINVAL || errno == ENOSYS)
		r->nosplice = 1;
	else if (errno != EINTR)
		relay_finish(r, 0);
}

/* Splice what the daemon sent into ssh's stdout (down is empty). */
static void
relay_splice_down(struct relay *r)
{
	ssize_t	n;

	if ((n = compat_splice(r->fd, STDOUT_FILENO, RELAY_PIPE)) > 0) {
		r->answered = 1;
		return;
	}
	if (n == 0)
		relay_finish(r, 0);	/* the daemon closed */
	else if (errno == EAGAIN)
		r->down_wait = 1;	/* the pipe is full */
	else if (errno == EINVAL || errno == ENOSYS)
		r->nosplice = 1;
	else if (errno == EPIPE) {
		relay_finish(r, r->rc);	/* the client is gone */
		r->phase = PH_DONE;
	} else if (errno != EINTR)
		relay_finish(r, 0);
}

/*
 * The poll entries of a splicing relay: stdin, or the socket's room
 * while it was full; the socket's bytes, or stdout's room while it was.
 */
static void
relay_splice_poll(struct relay *r, struct pollfd *pfd, int *up, int *down)
{
	*up = relay_splicing(r) && r->in_open && buf_len(&r->up) == 0;
	*down = relay_splicing(r) && buf_len(&r->down) == 0;
	if (*up) {
		pfd[0].fd = r->up_wait ? -1 : STDIN_FILENO;
		if (r->up_wait)
			pfd[2].events |= POLLOUT;
	}
	if (*down && r->down_wait) {
		pfd[2].events &= ~POLLIN;
		pfd[1].events |= POLLOUT;
	}
}

/*
 * Act on poll's answer for a splicing relay; returns the socket's events
 * left for relay_pipe().
 */
static short
relay_splice_io(struct relay *r, struct pollfd *pfd, int up, int down)
{
	short	rev = pfd[2].revents;

	if (up && r->up_wait && (rev & (POLLOUT | POLLERR | POLLHUP))) {
		r->up_wait = 0;
		relay_splice_up(r);
		rev &= ~POLLOUT;
	} else if (up && pfd[0].revents != 0) {
		relay_splice_up(r);
		pfd[0].revents = 0;
	}
	if (r->phase != PH_PIPE)
		return 0;
	if (down && r->down_wait && (pfd[1].revents & POLLOUT)) {
		r->down_wait = 0;
		pfd[1].revents = 0;
	}
	if (down && !r->down_wait && (rev & (POLLIN | POLLHUP | POLLERR))) {
		relay_splice_down(r);
		rev &= ~(POLLIN | POLLHUP | POLLERR);
	}
	return r->phase == PH_PIPE ? rev : 0;
}

/* Deadlines and state changes that do not wait for an fd. */
static void
relay_timers(struct relay *r, uint64_t now)
{
	switch (r->phase) {
	case PH_HELLO:
		if (now >= r->deadline)
			relay_fail(r, PERR_PROTOCOL, "no HELLO from the "
			    "client");
		break;
	case PH_CONNECT:
		if (now >= r->retry_at)
			relay_connect(r, now);
		break;
	case PH_QUERY:
		relay_queries_tick(r, now);
		break;
	case PH_NAME:
		if (now >= r->retry_at)
			relay_name_try(r, now);
		break;
	case PH_SCOPE:
	case PH_DECIDE:
		relay_scope_tick(r, now);
		break;
	case PH_MANY:
		relay_many_tick(r, now);
		break;
	case PH_PIPE:
		if (!r->answered && now >= r->deadline)
			relay_fail(r, PERR_INTERNAL, "session %s on %s does "
			    "not answer: it is stopped or hung", r->id,
			    relay_host());
		else if (!r->in_open && buf_len(&r->up) == 0 && !r->greet)
			relay_finish(r, 0);	/* ssh is gone, all passed on */
		break;
	case PH_FLUSH:
		if (buf_len(&r->down) == 0 || now >= r->deadline)
			r->phase = PH_DONE;
		break;
	}
}

/* The poll() timeout for the current phase. */
static int
relay_timeout(struct relay *r, uint64_t now)
{
	switch (r->phase) {
	case PH_CONNECT:
	case PH_NAME:
		return r->retry_at <= now ? 0 : clock_timeout(now, r->retry_at,
		    -1);
	case PH_QUERY:
		return relay_queries_timeout(r, now);
	case PH_PIPE:
		return r->answered ? -1 : clock_timeout(now, r->deadline, -1);
	case PH_FLUSH:
		if (buf_len(&r->down) == 0)
			return 0;
		return clock_timeout(now, r->deadline, -1);
	default:
		return clock_timeout(now, r->deadline, -1);
	}
}

/* One turn of the loop: wait for the fds, then act on them. */
static void
relay_turn(struct relay *r)
{
	struct pollfd	*pfd = r->pfd;
	uint64_t	 now = clock_ms();
	int		 n, reading, up, down;

	relay_ho_scan(r);
	reading = r->in_open && buf_len(&r->up) < RELAY_BUF / 2 &&
	    (r->phase == PH_HELLO || r->phase == PH_CONNECT ||
	    (r->phase == PH_PIPE && !r->greet && relay_ho_reading(r)));
	pfd[0].fd = reading ? STDIN_FILENO : -1;
	pfd[0].events = POLLIN;
	pfd[1].fd = r->ho == RHO_DONE ? -1 : STDOUT_FILENO;
	pfd[1].events = relay_ho_down_room(r) > 0 ? POLLOUT : 0;
	pfd[2].fd = r->phase == PH_PIPE || r->phase == PH_MANY ? r->fd : -1;
	pfd[2].events = (buf_len(&r->down) < RELAY_BUF / 2 ? POLLIN : 0) |
	    (relay_ho_up_room(r) > 0 || relay_ho_due(r) ? POLLOUT : 0);
	if (r->ho == RHO_DONE)
		pfd[2].events = POLLIN;
	if (r->phase == PH_SCOPE || r->phase == PH_DECIDE) {
		pfd[2].fd = r->spawn_fd;	/* (relay-spawn.c) */
		pfd[2].events = POLLIN;
	}
	relay_splice_poll(r, pfd, &up, &down);
	n = 3 + relay_queries_poll(r, pfd + 3);
	if (poll(pfd, n, relay_timeout(r, now)) == -1) {
		if (errno != EINTR)
			relay_finish(r, 1);
		return;
	}
	if (up || down)
		pfd[2].revents = relay_splice_io(r, pfd, up, down);
	if (pfd[0].revents != 0)
		relay_read_stdin(r);
	if (r->phase == PH_HELLO)
		relay_hello(r);
	if (r->phase == PH_PIPE && pfd[2].revents != 0)
		relay_pipe(r, pfd[2].revents);
	else if ((r->phase == PH_SCOPE || r->phase == PH_DECIDE) &&
	    pfd[2].revents != 0)
		relay_scope_io(r);
	else if (r->phase == PH_MANY && pfd[2].revents != 0)
		relay_many_io(r, pfd[2].revents);
	if (r->phase == PH_QUERY)
		relay_queries_io(r, pfd + 3, n - 3);
	if (pfd[1].revents & POLLOUT)
		relay_write_stdout(r);
	else if (pfd[1].revents & (POLLERR | POLLHUP)) {
		relay_finish(r, r->rc);
		r->phase = PH_DONE;
	}
}

/* Parse "limpet relay [--dir PATH]"; returns 0 or tells the client. */
static int
relay_args(struct relay *r, int argc, char **argv)
{
	int	i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			r->dirarg = argv[++i];
		else if (strncmp(argv[i], "--dir=", 6) == 0)
			r->dirarg = argv[i] + 6;
		else {
			relay_fail(r, PERR_PROTOCOL, "limpet relay on %s "
			    "(limpet %s): unknown argument %.100s",
			    relay_host(), LIMPET_VERSION, argv[i]);
			return -1;
		}
	}
	if (r->dirarg != NULL && *r->dirarg == '\0') {
		relay_fail(r, PERR_UNSAFE, "limpet relay: --dir wants a "
		    "directory");
		return -1;
	}
	return 0;
}

/* Entry point of "limpet relay". */
int
relay_main(int argc, char **argv)
{
	struct relay	 r;
	const char	*logpath = getenv("LIMPET_LOG");
	uint8_t		 magic[PROTO_MAGIC_LEN];
	int		 early;

	log_init("limpet-relay", logpath != NULL ? LOG_DEBUG : LOG_QUIET,
	    logpath);
	signal(SIGPIPE, SIG_IGN);
	memset(&r, 0, sizeof r);
	r.fd = -1;
	r.name_fd = r.spawn_fd = r.spawn_sv = -1;
	r.scope_d = -1;
	r.in_open = 1;
	r.phase = PH_HELLO;
	r.deadline = clock_ms() + HELLO_WAIT_MS;
	buf_init(&r.up, RELAY_BUF);
	buf_init(&r.down, 0);
	buf_init(&r.first, RELAY_BUF);
	buf_init(&r.resend, RELAY_BUF);
	r.pfd = xreallocarray(NULL, 3 + relay_queries_max(&r), sizeof *r.pfd);
	sock_nonblock(STDIN_FILENO);
	sock_nonblock(STDOUT_FILENO);
	/* sshd writes a forward's bulk here: 64 KiB a wakeup costs it. */
	compat_pipe_size(STDIN_FILENO, RELAY_PIPE);
	compat_pipe_size(STDOUT_FILENO, RELAY_PIPE);
	early = relay_early(&r);
	memcpy(magic, PROTO_MAGIC, PROTO_MAGIC_LEN);
	if (early)
		magic[PROTO_MAGIC_LEN - 1] = PROTO_MAGIC_EARLY;
	buf_put(&r.down, magic, PROTO_MAGIC_LEN);
	if (relay_args(&r, argc, argv) == 0 && early)
		relay_hello(&r);
	while (r.phase != PH_DONE) {
		relay_turn(&r);
		relay_timers(&r, clock_ms());
	}
	relay_queries_free(&r);
	relay_name_unlock(&r);
	if (r.fd != -1)
		close(r.fd);
	if (r.spawn_fd != -1)
		close(r.spawn_fd);
	if (r.spawn_sv != -1)
		close(r.spawn_sv);
	if (r.have_hello)
		proto_hello_free(&r.h);
	buf_free(&r.up);
	buf_free(&r.down);
	buf_free(&r.first);
	buf_free(&r.resend);
	free(r.pfd);
	return r.rc;
}
