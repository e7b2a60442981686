/*
 * The session daemon's protocol: what each frame a peer sends does to the
 * session, and the frames the daemon queues in answer (WELCOME, WINDOW,
 * DATA, EXIT, SESSION, ...).  Nothing here touches a socket: frames come
 * from a peer's decoder and answers go into its output buffer, so the
 * unit tests and the fuzzer drive these functions directly.  A frame that
 * does not parse, or that breaks the protocol, drops that peer only.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "clock.h"
#include "daemon-int.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "pty.h"
#include "scope.h"

/* Bytes sent to the client and not yet acknowledged. */
size_t
daemon_inflight(const struct daemon *d)
{
	return (size_t)(d->sent - d->acked);
}

/* Queue DATA frames for output the client lacks, within the window. */
void
daemon_pump(struct daemon *d, uint64_t now)
{
	struct peer	*c = d->client;
	const uint8_t	*p;
	size_t		 n;

	(void)now;	/* the window's clock is its own (daemon-flow.c) */
	if (c == NULL || c->closing || c->dead)
		return;
	while (d->sent < d->out.end && buf_len(&c->out) < OUT_QUEUE_MAX) {
		if (daemon_inflight(d) >= d->window ||
		    flow_pace_wait(&d->flow) != -1)
			break;
		n = ring_peek(&d->out, d->sent, &p);
		if (n == 0)
			break;
		if (n > DATA_CHUNK)
			n = DATA_CHUNK;
		if (n > d->flow.chunk)
			n = d->flow.chunk;
		if (n > d->window - daemon_inflight(d))
			n = d->window - daemon_inflight(d);
		if (proto_data_put(&c->out, d->sent, p, n) != 0)
			break;
		d->sent += n;
		flow_sent(&d->flow, d->sent, d->pty_dry &&
		    d->sent == d->out.end);
	}
	if (d->finished && !d->exit_sent && d->sent == d->out.end &&
	    proto_exit_put(&c->out, d->status, d->out.end) == 0)
		d->exit_sent = 1;
}

/*
 * Tell the client how far it may send input: the bytes written to the PTY
 * plus the input window.  With force (right after WELCOME) always; else
 * only once the limit moved by a quarter window, not once per write.
 */
void
daemon_in_window(struct daemon *d, int force)
{
	uint64_t	limit;

	if (d->client == NULL || d->client->closing || d->client->dead)
		return;
	limit = d->in_have - buf_len(&d->pty_in) + d->in_window;
	if (!force && limit < d->in_limit + d->in_window / 4)
		return;
	if (limit < d->in_limit)
		limit = d->in_limit;	/* never taken back */
	if (proto_u64_put(&d->client->out, MSG_WINDOW, limit) == 0)
		d->in_limit = limit;
}

/* Describe the session (for ls): exited sessions with their status. */
static void
daemon_describe(struct daemon *d, struct buf *b)
{
	struct msg_session	s;
	static char		none[1];

	memset(&s, 0, sizeof s);
	s.id = d->id;
	s.pid = (uint32_t)getpid();
	s.created = d->created;
	s.active = d->active;
	s.state = d->finished ? SESS_EXITED :
	    d->client != NULL ? SESS_ATTACHED : SESS_DETACHED;
	s.status = d->finished ? d->status : 0;
	s.command = d->command != NULL ? d->command : none;
	proto_session_put(b, &s);
}

/*
 * What ls shows beyond SESSION, for a relay that asked (HELLO_DETAIL):
 * this daemon's protocol version and program version.
 */
static void
daemon_detail(struct daemon *d, struct buf *b)
{
	struct msg_detail	m;
	char			ver[16], prog[64] = "", since[24];
	pid_t			pg;

#ifdef LIMPET_TEST_HOOKS
	/* Test builds acting as a daemon from before DETAIL send none. */
	if (getenv("LIMPET_TEST_PROTO_LEGACY") != NULL)
		return;
#endif
	/* The program in the foreground of the session's terminal. */
	if (d->ptyfd >= 0 && !d->finished && (pg = tcgetpgrp(d->ptyfd)) > 0)
		compat_proc_name(pg, prog, sizeof prog);
	snprintf(since, sizeof since, "%llu", d->client == NULL ?
	    (unsigned long long)d->detached_at : 0ULL);
	memset(&m, 0, sizeof m);
	m.key[m.n] = (char *)"program";
	m.value[m.n++] = prog;
	m.key[m.n] = (char *)"from";
	m.value[m.n++] = d->client != NULL ? d->from : (char *)"";
	m.key[m.n] = (char *)"since";
	m.value[m.n++] = since;
	snprintf(ver, sizeof ver, "%u", proto_version());
	m.key[m.n] = (char *)"proto";
	m.value[m.n++] = ver;
	m.key[m.n] = (char *)"version";
	m.value[m.n++] = (char *)LIMPET_VERSION;
	m.key[m.n] = (char *)"name";
	m.value[m.n++] = d->name;
	m.key[m.n] = (char *)"scope";
	m.value[m.n++] = scope_note;
	proto_detail_put(b, &m);
}

/* Where the attaching client is: LIMPET_FROM, which the relay adds. */
static void
daemon_from(struct daemon *d, const struct msg_hello *h)
{
	uint32_t	i;

	d->from[0] = '\0';
	d->detached_at = 0;
	for (i = 0; i < h->envc; i++)
		if (strncmp(h->env[i], "LIMPET_FROM=", 12) == 0)
			snprintf(d->from, sizeof d->from, "%s",
			    h->env[i] + 12);
}

/* Where output resumes for HELLO h, or ERR_RANGE if h lies. */
static int
daemon_resume_at(struct daemon *d, const struct msg_hello *h,
    uint64_t *start)
{
	if (!(h->flags & HELLO_RESUME)) {
		*start = d->out.start;
		return 0;
	}
	if (h->out_have > d->out.end)
		return ERR_RANGE;
	*start = h->out_have < d->out.start ? d->out.start : h->out_have;
	return 0;
}

/* Make peer p the attached client, telling or replacing the old one. */
static void
daemon_take(struct daemon *d, struct peer *p, const struct msg_hello *h,
    uint64_t start)
{
	struct peer	*old = d->client;

	if (old != NULL && old != p) {
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
	flow_reset(&d->flow, start);	/* a new link: measure it afresh */
	d->window = d->flow.window;
}

/* Set the PTY size for a new client; a fresh attach forces a redraw. */
static void
daemon_hello_size(struct daemon *d, const struct msg_hello *h)
{
	if (h->rows == 0 || h->cols == 0 || d->ptyfd == -1)
		return;
	if (h->op == OP_ATTACH && !(h->flags & HELLO_RESUME) &&
	    h->rows == d->rows && h->cols == d->cols && h->rows > 1 &&
	    !daemon_screen_wanted(d, h)) {
		/*
		 * A new client that gets no snapshot: make full-screen
		 * programs redraw.
		 */
		pty_resize(d->ptyfd, h->rows - 1, h->cols);
	}
	pty_resize(d->ptyfd, h->rows, h->cols);
	if (h->rows != d->rows || h->cols != d->cols) {
		d->rows = h->rows;
		d->cols = h->cols;
		daemon_screen_resized(d);
	}
}

/*
 * Attach peer p, which sent HELLO h.  The same client coming back over a
 * new connection replaces its old one silently; another client takes the
 * session over and the old one is told so.
 */
void
daemon_attach(struct daemon *d, struct peer *p, const struct msg_hello *h,
    uint64_t now)
{
	struct msg_welcome	w;
	uint64_t		start;
	char			msg[200];
	int			snap = daemon_screen_wanted(d, h), told;

	if (d->killing) {
		daemon_refuse(d, p, PERR_GONE, "the session is ending");
		return;
	}
	if (!dpipe_attach_ok(d, h)) {
		daemon_refuse(d, p, PERR_NOSESSION, d->pipe != NULL ?
		    "that session runs a command on pipes: it cannot be "
		    "attached" : "that session has a terminal: a pipe "
		    "cannot attach to it");
		return;
	}
	if (daemon_resume_at(d, h, &start) != 0) {
		daemon_refuse(d, p, PERR_PROTOCOL,
		    "client claims output the session never made");
		return;
	}
	if (snap) {
		/* The model takes the client's size, then catches up. */
		daemon_hello_size(d, h);
		start = daemon_screen_sync(d);
	}
	daemon_take(d, p, h, start);
	daemon_from(d, h);
	memset(&w, 0, sizeof w);
	/* Speak the older of the two versions; the client learns which. */
	p->version = h->version < proto_version() ? h->version :
	    proto_version();
	w.version = p->version;
	w.id = d->id;
	w.in_have = d->in_have;
	w.out_start = start;
	w.out_end = d->out.end;
	w.pid = (uint32_t)getpid();
	/* A relay that can pass sshd's pipes hears so before WELCOME. */
	if ((h->flags & HELLO_HANDOFF) && p->version >= PROTO_V_HANDOFF)
		peer_offer(p);
	proto_welcome_put(&p->out, &w);
	daemon_in_window(d, 1);
	daemon_termios(d, now, 1);
	told = 0;
	if (!(h->flags & HELLO_RESUME) && d->out.dropped > d->dropped_told) {
		/* A resuming client counts its own gap; a new one is told. */
		snprintf(msg, sizeof msg, "%llu bytes of output were dropped "
		    "while no client was attached (more than the session "
		    "keeps; see --ring-size)",
		    (unsigned long long)(d->out.dropped - d->dropped_told));
		proto_str_put(&p->out, MSG_NOTICE, msg);
		told = 1;
	} else if (snap && (h->flags & HELLO_RESUME)) {
		/* One that gets a snapshot is told here, before it. */
		snprintf(msg, sizeof msg, "%llu bytes of output were lost "
		    "while disconnected (more than the session keeps; see "
		    "--ring-size)", (unsigned long long)(d->out.start -
		    h->out_have));
		proto_str_put(&p->out, MSG_NOTICE, msg);
		told = 1;
	}
	if (snap)
		daemon_screen_send(d, p, h, told);
	d->dropped_told = d->out.dropped;
	dfwd_attach(d, h);
	if (!snap)
		daemon_hello_size(d, h);
	d->active = clock_wall();
	log_info("client attached (protocol %u, resume %d, from %llu, "
	    "input %llu)", p->version,
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
		    "mismatch: this session's limpet is too old or too new "
		    "for the client" : "malformed HELLO");
		return;
	}
	p->hello = 1;
	p->op = h.op;
	p->version = h.version;
	switch (h.op) {
	case OP_INFO:
		daemon_describe(d, &p->out);
		if (h.flags & HELLO_DETAIL)
			daemon_detail(d, &p->out);
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

/*
 * Take input bytes at offset off: duplicates are skipped, a gap or bytes
 * at or past the last WINDOW limit are refused (ERR_RANGE).
 */
static int
daemon_input(struct daemon *d, uint64_t off, const uint8_t *p, size_t n)
{
	int	r;

	if (off > d->in_limit || n > d->in_limit - off)
		return ERR_RANGE;
	if (dpipe_input_ok(d, off, n) != 0)
		return ERR_RANGE;	/* past the PIPE_EOF */
	if ((r = buf_put_stream(&d->pty_in, &d->in_have, off, p, n)) <= 0)
		return r;
	d->ack_due = 1;
	d->active = clock_wall();
	return 0;
}

/* An ACK of output: free it, adapt the window, end after the last one. */
static void
daemon_ack(struct daemon *d, struct peer *p, uint64_t v, uint64_t now)
{
	(void)now;
	if (v > d->sent) {
		daemon_drop(d, p, "bad ACK");
		return;
	}
	if (v > d->acked) {
		d->window = flow_acked(&d->flow, v);
		d->acked = v;
		ring_ack(&d->out, v);
	}
	if (d->finished && d->exit_sent && v == d->out.end)
		daemon_quit(d, 0);
}

/* A RESIZE from the client. */
static void
daemon_resize(struct daemon *d, uint16_t rows, uint16_t cols)
{
	if (d->ptyfd != -1 && rows != 0 && cols != 0 &&
	    (rows != d->rows || cols != d->cols)) {
		pty_resize(d->ptyfd, rows, cols);
		d->rows = rows;
		d->cols = cols;
		daemon_screen_resized(d);
	}
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
			daemon_drop(d, p, "bad input DATA (gap, or past the "
			    "input window)");
		break;
	case MSG_ACK:
		if (proto_u64_parse(f->p, f->len, &v) != 0)
			daemon_drop(d, p, "bad ACK");
		else
			daemon_ack(d, p, v, now);
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
		if (proto_resize_parse(f->p, f->len, &rows, &cols) != 0)
			daemon_drop(d, p, "bad RESIZE");
		else
			daemon_resize(d, rows, cols);
		break;
	case MSG_DETACH:
		d->detach_on_purpose = 1;
		daemon_detach(d, "client detached on purpose");
		dfwd_detached(d);
		if (d->pipe != NULL)	/* nobody can attach it: it ends */
			daemon_kill(d, now);
		break;
	case MSG_CHAN_OPEN:
	case MSG_CHAN_DATA:
	case MSG_CHAN_ACK:
	case MSG_CHAN_EOF:
	case MSG_CHAN_CLOSE:
	case MSG_FWD_LISTEN:
	case MSG_FWD_LIST:
		if (dfwd_frame(d, f) != 0)
			daemon_drop(d, p, "bad channel frame");
		break;
	case MSG_HANDOFF:
		if (peer_handoff(p, f->len, frame_dec_buffered(&p->dec)) != 0)
			daemon_drop(d, p, "bad HANDOFF");
		else
			log_info("handoff: the client's frames come from "
			    "sshd's pipe");
		break;
	case MSG_PIPE_EOF:
		if (dpipe_eof(d, f->p, f->len) != 0)
			daemon_drop(d, p, "bad PIPE_EOF");
		break;
	default:
		daemon_drop(d, p, "unexpected frame type");
		break;
	}
}

/*
 * Handle every whole frame a peer's decoder holds.  Frames are always
 * read, whatever the input queue holds: the input window, not the
 * daemon's reading, bounds what a client sends.
 */
void
daemon_frames(struct daemon *d, struct peer *p, uint64_t now)
{
	struct frame	f;
	int		r = 0;

	while (!p->dead && !p->closing && !d->quit &&
	    (r = frame_dec_next(&p->dec, &f)) == 1) {
		if (!p->hello)
			daemon_hello(d, p, &f, now);
		else if (p == d->client)
			daemon_client_frame(d, p, &f, now);
		else
			daemon_drop(d, p, "frame from a detached peer");
	}
	if (!p->dead && !p->closing && r < 0)
		daemon_drop(d, p, "oversized frame");
}

/*
 * Push bytes as if they had arrived on p's fd, and handle them.  Returns
 * 0, or ERR_FULL if the decoder could not take them (the peer is
 * dropped).  For the unit tests and the fuzzer.
 */
int
daemon_feed(struct daemon *d, struct peer *p, const void *b, size_t n,
    uint64_t now)
{
	if (p->dead || p->closing)
		return 0;
	if (frame_dec_push(&p->dec, b, n) != 0) {
		daemon_drop(d, p, "decoder full");
		return ERR_FULL;
	}
	p->last_rx = now;
	daemon_frames(d, p, now);
	return 0;
}
