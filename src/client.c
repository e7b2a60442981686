/*
 * The client.  It owns the user's terminal and a chain of ssh children:
 * one at a time carries the session's frames.  Typed input is kept until
 * the daemon acknowledges it and output is acknowledged only once written
 * to the terminal, so when a connection dies nothing is lost: the next
 * ssh resumes both streams at the offsets the two ends agree on.
 *
 * States (enum client_state): CONNECTING (an ssh is running, no WELCOME
 * yet), UP, WAITING (no ssh; the next attempt is due at next_try), DONE.
 * client_set_state() is the only place that changes the state.
 */
#include <sys/types.h>

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
#include "client-flow.h"
#include "client-net.h"
#include "client-pipe.h"
#include "client-predict.h"
#include "client-repaint.h"
#include "client-ssh.h"
#include "client-tty.h"
#include "client.h"
#include "client-install.h"
#include "client-int.h"
#include "client-keep.h"
#include "clock.h"
#include "cmdline.h"
#include "client-why.h"
#include "err.h"
#include "escape.h"
#include "frame.h"
#include "log.h"
#include "proto.h"
#include "ring.h"
#include "sig.h"
#include "sock.h"
#include "xmalloc.h"

extern char	**environ;

static void	client_connect(struct client *, uint64_t);
static void	client_probe_check(struct client *, uint64_t);

/* The one place the client's state changes. */
void
client_set_state(struct client *c, enum client_state st)
{
	static const char	*names[] = { "?", "connecting", "up",
				    "waiting", "done" };

	if (c->state == st)
		return;
	if (st != ST_UP)
		link_set(c, LINK_OK);	/* doubt is about an up link */
	debug_f("state %s -> %s", names[c->state], names[st]);
	c->state = st;
}

/* A random id that tells this client's reconnects from other clients. */
static uint64_t
client_random_id(void)
{
	uint64_t	v = 0;

	if (compat_random(&v, sizeof v) != 0)
		v = (uint64_t)getpid() << 32 ^ clock_ms();
	return v;
}

/* Queue a frame-encoding result; a full tx buffer is a broken link. */
static void
client_queued(struct client *c, int r)
{
	if (r != 0 && c->state != ST_WAITING)
		client_lost(c, "send buffer full", clock_ms());
}

/* Build this connection's HELLO into b; 0 or a negative error code. */
static int
client_hello_put(struct client *c, struct buf *b)
{
	struct msg_hello	 h;
	char			**env, **e;
	int			 n = 0, r;

	memset(&h, 0, sizeof h);
	h.version = c->hello_version;
	h.client_id = c->client_id;
	h.rows = c->rows;
	h.cols = c->cols;
	env = xcalloc(PROTO_MAX_ENV + 1, sizeof *env);
	if (c->attached_once) {
		h.op = OP_ATTACH;
		h.flags = HELLO_RESUME;
		h.id = c->session;
		h.out_have = c->out_have;
	} else if (c->mode == CLIENT_ATTACH) {
		h.op = OP_ATTACH;
		h.id = c->want_id != NULL ? (char *)c->want_id : (char *)"";
	} else {
		h.op = c->name != NULL ? OP_OPEN : OP_NEW;
		h.id = c->name != NULL ? (char *)c->name : (char *)"";
		h.argc = c->cl.ncmd;
		h.argv = c->cl.cmd;
		h.ring_kb = c->ring_kb;
		for (e = environ; *e != NULL && n < PROTO_MAX_ENV; e++) {
			if (strncmp(*e, "TERM=", 5) == 0 ||
			    strncmp(*e, "COLORTERM=", 10) == 0 ||
			    strncmp(*e, "LANG=", 5) == 0 ||
			    strncmp(*e, "LC_", 3) == 0)
				env[n++] = *e;
		}
		h.envc = n;
		h.env = env;
	}
	h.flags |= cfwd_hello_flags(c);
	h.flags |= cpipe_hello_flags(c);
	r = proto_hello_put(b, &h);
	free(env);
	return r;
}

/*
 * Queue HELLO for this connection.  If its bytes went on ssh's command
 * line too (client_early()), they are the very same, and wait at tx's
 * head for the relay's preamble to say whether it took them.
 */
static void
client_hello(struct client *c)
{
	c->early_len = 0;
	c->early_taken = 0;
	if (buf_len(&c->early) == 0) {
		client_queued(c, client_hello_put(c, &c->tx));
		return;
	}
	c->early_len = buf_len(&c->early);
	client_queued(c, buf_put(&c->tx, buf_ptr(&c->early), c->early_len));
	buf_reset(&c->early);
}

/*
 * The HELLO of the connection about to start, in hex for ssh's command
 * line (LIMPET_HELLO), and its bytes in c->early; or NULL.  sshd lets
 * stdin through only once the relay runs, so a HELLO there costs a
 * round trip more than one the relay finds at its start.  Not while
 * ssh -G is read (ForwardAgent sets a flag), never with the user's
 * command (the server's ps shows command lines), never a long one.
 */
static char *
client_early(struct client *c)
{
	static const char	 hex[] = "0123456789abcdef";
	const uint8_t		*p;
	char			*s;
	size_t			 i, n;

	buf_reset(&c->early);
	if (cfwd_pending(c) || c->ssh.command != NULL ||
	    (c->cl.ncmd > 0 && !c->attached_once &&
	    c->mode != CLIENT_ATTACH))
		return NULL;
	if (client_hello_put(c, &c->early) != 0 ||
	    buf_len(&c->early) > EARLY_MAX) {
		buf_reset(&c->early);
		return NULL;
	}
	p = buf_ptr(&c->early);
	n = buf_len(&c->early);
	s = xmalloc(2 * n + 1);
	for (i = 0; i < n; i++) {
		s[2 * i] = hex[p[i] >> 4];
		s[2 * i + 1] = hex[p[i] & 0xf];
	}
	s[2 * n] = '\0';
	return s;
}

/*
 * The preamble is complete: a HELLO held for it goes now, or, if the
 * relay took it from the command line, never.
 */
static void
client_early_done(struct client *c)
{
	if (c->early_len == 0)
		return;
	if (c->early_taken) {
		debug_f("the relay took HELLO from the command line");
		buf_consume(&c->tx, c->early_len);
	}
	c->early_len = 0;
}

/* Frames wait: for the ssh config, or for the preamble (client_hello()). */
static int
client_tx_held(const struct client *c)
{
	return c->hello_due || c->early_len > 0;
}


/* Start (or restart) an ssh child and say HELLO. */
static void
client_connect(struct client *c, uint64_t now)
{
	char	*hello;
	int	 r;

	c->ssh.reconnect = 0;
	c->ssh.connect_timeout = 0;
	if (c->attached_once)
		link_ssh_again(c);
	if (link_hedge_take(c, now))
		return;		/* a parallel attempt carries on */
	ssh_stop(&c->proc);	/* a previous one, if any: reaped */
	c->ssh.hello = hello = client_early(c);
	r = ssh_spawn(&c->ssh, &c->proc);
	c->ssh.hello = NULL;
	free(hello);
	if (r != 0) {
		buf_reset(&c->early);
		client_finish_msg(c, 255, "cannot run %s: %s", c->ssh.prog,
		    err_str(r));
		return;
	}
	debug_f("attempt %d: ssh pid %ld", c->attempt + 1,
	    (long)c->proc.pid);
	client_begin(c, now);
}

/*
 * A new connection begins (its ssh runs): fresh decoder, HELLO queued,
 * no input until its WINDOW.  Separate from the spawn so the protocol
 * can run without ssh (tests, fuzzer).
 */
void
client_begin(struct client *c, uint64_t now)
{
	buf_reset(&c->tx);
	frame_dec_free(&c->rx);
	frame_dec_init(&c->rx);
	c->magic = 0;
	c->errtext_len = 0;
	c->errtext[0] = '\0';
	c->attempt++;
	c->attempt_start = now;
	client_set_state(c, ST_CONNECTING);
	c->attempt_deadline = c->attached_once ? now + ATTEMPT_MS : 0;
	c->last_rx = c->last_tx = now;
	c->in_window = 0;	/* no input until this connection's WINDOW */
	c->ping_out = 0;
	c->probe_deadline = 0;
	c->in_sent = c->in.start;
	cpipe_begin(c);
	if (cfwd_pending(c))
		c->hello_due = 1;	/* client_config_known() says it */
	else
		client_hello(c);
}

/*
 * The user's ssh configuration is read: the first HELLO, held for it
 * (its agent flag comes from ForwardAgent), goes ahead of whatever was
 * queued meanwhile.
 */
void
client_config_known(struct client *c)
{
	struct buf	rest;
	int		r;

	if (!c->hello_due)
		return;
	c->hello_due = 0;
	if (c->state != ST_CONNECTING)
		return;
	buf_init(&rest, 0);
	r = buf_put(&rest, buf_ptr(&c->tx), buf_len(&c->tx));
	buf_reset(&c->tx);
	client_hello(c);
	if (r == 0)
		r = buf_put(&c->tx, buf_ptr(&rest), buf_len(&rest));
	client_queued(c, r);
	buf_free(&rest);
}

/*
 * The connection is gone or useless.  Before the first attach every
 * failure is final, as with ssh; after it only the permanent ones are.
 */
void
client_lost(struct client *c, const char *why, uint64_t now)
{
	uint64_t	delay;
	int		was_up = c->state == ST_UP;

	if (c->state == ST_DONE || c->state == ST_WAITING)
		return;
	debug_f("connection lost: %s", why);
	ssh_stop(&c->proc);
	if (!c->attached_once) {
		/* Before the first WELCOME every failure is final. */
		client_finish_msg(c, 255, "cannot start the session on %s: %s",
		    c->ssh.dest, why);
		return;
	}
	client_set_state(c, ST_WAITING);
	if (was_up) {
		ckeep_lost(c, now);	/* a silence too long for the path? */
		/* A silent link was lost when it fell silent. */
		c->lost_at = c->silent_since != 0 ? c->silent_since : now;
		c->silent_since = 0;
		c->fails = 0;
		c->reconnects++;
		c->next_try = now;
		return;
	}
	if (now - c->attempt_start >= SLOW_ATTEMPT_MS) {
		/*
		 * The attempt timed out (SYNs dropped, say): it was the wait.
		 * Try again at once so a healed path is found within about a
		 * second.
		 */
		c->next_try = now;
		return;
	}
	c->fails++;
	delay = BACKOFF_FIRST_MS << (c->fails < 8 ? c->fails - 1 : 7);
	if (c->fails == 1)
		delay = 0;
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	/* An attempt that already took long has waited enough. */
	c->next_try = c->attempt_start + delay;
	if (c->next_try < now)
		c->next_try = now;
}

/* ~r, or the user insists: drop this connection and try again now. */
void
client_reconnect_now(struct client *c, uint64_t now)
{
	c->fails = 0;
	if (c->state == ST_WAITING)
		c->next_try = now;
	else if (c->state == ST_UP) {
		client_lost(c, "reconnect requested", now);
		c->lost_at = now;
	} else if (c->state == ST_CONNECTING && c->attached_once) {
		client_lost(c, "reconnect requested", now);
		c->next_try = now;
	}
}

/* Leave with code once the terminal is back to normal. */
void
client_finish(struct client *c, int code)
{
	client_set_state(c, ST_DONE);
	c->exit_code = code;
}

/*
 * Leave with code and a message, printed on a clean line once the
 * terminal is back to normal.  The first message wins.
 */
void
client_finish_msg(struct client *c, int code, const char *fmt, ...)
{
	va_list	ap;

	if (c->state == ST_DONE)
		return;
	if (c->final_msg == NULL) {
		va_start(ap, fmt);
		if (vasprintf(&c->final_msg, fmt, ap) == -1)
			c->final_msg = NULL;
		va_end(ap);
	}
	client_finish(c, code);
}

/* Handle ssh's end: classify what it said. */
static void
client_ssh_exited(struct client *c, int status, uint64_t now)
{
	char	why[256];
	int	kind;

	kind = ssh_classify(c->errtext, status, why, sizeof why);
	if (!c->attached_once && ssh_not_installed(c->errtext, status))
		c->not_installed = 1;	/* client_main may offer to */
	if (c->state == ST_CONNECTING && (kind == SSH_PERMANENT ||
	    !c->attached_once)) {
		notice_clear(c);
		if (kind == SSH_PERMANENT || c->errtext[0] == '\0')
			client_finish_msg(c, 255, "%s", why);
		else
			client_finish_msg(c, 255, "%s",
			    ssh_last_line(c->errtext, why, sizeof why));
		return;
	}
	client_lost(c, why, now);
}

/*
 * A first attach to a session that already had input: what was typed
 * before WELCOME continues the session's input stream from base.
 */
static void
client_rebase_input(struct client *c, uint64_t base)
{
	struct ring	 n;
	const uint8_t	*p;
	uint64_t	 off = c->in.start;
	size_t		 k;

	ring_init(&n, INPUT_MAX, base);
	while ((k = ring_peek(&c->in, off, &p)) > 0) {
		ring_append(&n, p, k, 0);
		off += k;
	}
	ring_free(&c->in);
	c->in = n;
	c->in_sent = base;
}

/*
 * A WELCOME that cannot be ours (offsets that would wrap, another session,
 * a newer version than asked) loses the connection: -1; else 0.
 */
static int
client_welcome_check(struct client *c, const struct msg_welcome *w,
    uint64_t now)
{
	const char	*why = NULL;

	/* Offsets near 2^64 would wrap once bytes are added to them. */
	if (w->in_have > CLIENT_OFFSET_MAX ||
	    w->out_start > CLIENT_OFFSET_MAX || w->out_end > CLIENT_OFFSET_MAX)
		why = "protocol error: WELCOME offsets out of range";
	else if (!sock_id_valid(w->id) || (c->attached_once &&
	    strcmp(w->id, c->session) != 0))
		why = "protocol error: invalid session id in WELCOME";
	else if (w->version > c->hello_version)
		why = "protocol error: WELCOME in a version newer than asked";
	if (why == NULL)
		return 0;
	client_lost(c, why, now);
	return -1;
}

/* The first WELCOME: the session is ours, the terminal goes raw. */
static void
client_first_welcome(struct client *c, const struct msg_welcome *w)
{
	snprintf(c->session, sizeof c->session, "%s", w->id);
	c->out_have = c->out_written = c->ack_sent = w->out_start;
	c->attached_once = 1;
	cpred_fresh(c, w->out_start == 0);
	/* Attached mid-stream: a full-screen mode may be unseen. */
	c->scr.alt_unknown = w->out_start > 0;
	/* Have it redraw for us (a newer daemon sends the screen). */
	c->wiggle = c->scr.alt_unknown && !PROTO_HAS_SCREEN(w->version);
	if (c->tty && tty_raw(STDIN_FILENO) != 0)
		client_local(c, "limpet: cannot put the terminal in raw "
		    "mode\r\n");
}

/*
 * WELCOME: the daemon says what it has of our input and where its
 * output starts; resend exactly what it lacks and go up.
 */
static void
client_welcome(struct client *c, const struct frame *f, uint64_t now)
{
	struct msg_welcome	w;
	int			resumed = c->attached_once;

	if (proto_welcome_parse(f->p, f->len, &w) != 0) {
		client_lost(c, "malformed WELCOME", now);
		return;
	}
	if (client_welcome_check(c, &w, now) != 0) {
		proto_welcome_free(&w);
		return;
	}
	c->version = w.version;		/* what this daemon and we speak */
	if (!c->attached_once && w.in_have != c->in.start)
		client_rebase_input(c, w.in_have);
	if (w.in_have < c->in.start || w.in_have > c->in.end) {
		proto_welcome_free(&w);
		client_finish_msg(c, 255, "the session's input does not match "
		    "this client; attach again with limpet attach");
		return;
	}
	if (!c->attached_once)
		client_first_welcome(c, &w);
	else if (w.out_start > c->out_have) {
		out_discard(c);
		notice_clear(c);
		if (!PROTO_HAS_SCREEN(w.version))	/* else: a snapshot */
			client_local(c, "\r\n[limpet: %llu bytes of output "
			    "were lost while disconnected: more than the "
			    "session keeps]\r\n",
			    (unsigned long long)(w.out_start - c->out_have));
		c->out_have = w.out_start;
		c->out_written = c->ack_sent = w.out_start;
	}
	c->repainting = 0;
	/* Resend exactly the input the daemon lacks. */
	ring_ack(&c->in, w.in_have);
	c->in_sent = w.in_have;
	c->pending_since = 0;
	cfwd_welcome(c, w.version, resumed);
	proto_welcome_free(&w);
	if (c->state == ST_CONNECTING && c->lost_at != 0)
		debug_f("back after %llu ms",
		    (unsigned long long)(now - c->lost_at));
	client_set_state(c, ST_UP);
	knock_learn(c);
	c->up_since = now;
	c->attempt = 0;
	c->lost_at = 0;
	c->fails = 0;
	c->attempt_deadline = 0;
	c->srtt = c->srtt != 0 ? c->srtt : 100;
	if (notice_clear(c))
		c->wiggle = 1;	/* let full-screen programs redraw */
	c->resize_due = 1;
	client_ping(c, now);	/* the round trip decides prediction */
}

/* EXIT: the program ended; leave once all its output is written. */
static void
client_exit_frame(struct client *c, const struct frame *f, uint64_t now)
{
	int32_t		status;
	uint64_t	end;

	if (proto_exit_parse(f->p, f->len, &status, &end) != 0 ||
	    end < c->out_written) {
		client_lost(c, "malformed EXIT", now);
		return;
	}
	c->exited = 1;
	c->status = status;
	c->exit_end = end;
}

/* ERROR from the relay or daemon. */
static void
client_error_frame(struct client *c, const struct frame *f, uint64_t now)
{
	uint32_t	 code;
	char		*msg, safe[512];

	if (proto_error_parse(f->p, f->len, &code, &msg) != 0) {
		client_lost(c, "malformed ERROR", now);
		return;
	}
	out_safe(safe, sizeof safe, msg);
	free(msg);
	notice_clear(c);
	if (code == PERR_VERSION && c->pipe != NULL) {
		client_finish_msg(c, 255, "the server's limpet is too old for "
		    "pipes (stdin is not a terminal): limpet --install "
		    "upgrades it");
	} else if (code == PERR_VERSION &&
	    c->hello_version > PROTO_VERSION_MIN) {
		/* A server from before negotiation: HELLO in its version. */
		debug_f("server refused version %u: %s", c->hello_version,
		    safe);
		c->hello_version = PROTO_VERSION_MIN;
		ssh_stop(&c->proc);
		client_set_state(c, ST_WAITING);
		c->next_try = now;
	} else if (code == PERR_TAKEN) {
		client_finish_msg(c, 0, "session %s was taken over by another "
		    "client; this one is detached", c->session);
	} else if (code == PERR_PROTOCOL && c->name != NULL &&
	    !c->attached_once) {
		client_finish_msg(c, 255, "%s (the server's limpet is too old "
		    "for -S NAME: limpet --install upgrades it)", safe);
	} else if ((code == PERR_PROTOCOL || code == PERR_INTERNAL) &&
	    c->attached_once) {
		client_local(c, "\r\n[limpet: server: %s]\r\n", safe);
		client_lost(c, safe, now);
	} else
		client_finish_msg(c, 255, "%s", safe);
}

/* Session output: queue it for the terminal, in order, once. */
static void
client_data_frame(struct client *c, const struct frame *f, uint64_t now)
{
	const uint8_t	*p;
	uint64_t	 off;
	size_t		 n;
	int		 r;

	repaint_notice_off(c);
	c->last_data = now;
	cpred_hide(c);	/* predictions never mix with output */
	if (proto_data_parse(f->p, f->len, &off, &p, &n) != 0 ||
	    (r = buf_put_stream(&c->term, &c->out_have, off, p, n)) < 0) {
		client_lost(c, "bad output DATA", now);
		return;
	}
	out_session(c, (size_t)r);
}

/* ACK (input the daemon has) or WINDOW (how much more it takes). */
static void
client_input_frame(struct client *c, const struct frame *f, uint64_t now)
{
	uint64_t	v;

	if (f->type == MSG_ACK) {
		c->last_data = now;
		if (proto_u64_parse(f->p, f->len, &v) != 0 ||
		    v > c->in_sent || ring_ack(&c->in, v) != 0) {
			client_lost(c, "bad ACK", now);
			return;
		}
		c->pending_since = c->in.start < c->in_sent ? now : 0;
		return;
	}
	if (proto_u64_parse(f->p, f->len, &v) != 0 || v < c->in.start) {
		client_lost(c, "bad WINDOW", now);
		return;
	}
	c->in_limit = v;
	c->in_window = 1;
}

/* A PING to answer, or the PONG of ours: a round trip measured. */
static void
client_ping_frame(struct client *c, const struct frame *f, uint64_t now)
{
	uint64_t	v;

	if (proto_u64_parse(f->p, f->len, &v) != 0)
		return;
	if (f->type == MSG_PING) {
		client_queued(c, proto_u64_put(&c->tx, MSG_PONG, v));
		return;
	}
	/* Only the PONG of the PING out (its token is ping_at). */
	if (v <= now && c->ping_out && v == c->ping_at) {
		c->rtt_last = now - v;
		c->srtt = c->srtt == 0 ? c->rtt_last :
		    (c->srtt * 7 + c->rtt_last) / 8;
		ckeep_answered(c);
		c->ping_out = 0;
		c->probe_deadline = 0;
	}
}

/* A notice from the server, shown escaped. */
static void
client_notice_frame(struct client *c, const struct frame *f)
{
	char	*s, safe[1024];

	if (proto_str_parse(f->p, f->len, &s) == 0) {
		out_safe(safe, sizeof safe, s);
		client_local(c, "\r\n[limpet: %s]\r\n", safe);
		free(s);
	}
}

/* Handle one frame from the server. */
static void
client_frame(struct client *c, const struct frame *f, uint64_t now)
{
	if (c->state == ST_CONNECTING && f->type != MSG_WELCOME &&
	    f->type != MSG_ERROR) {
		client_lost(c, "unexpected frame before WELCOME", now);
		return;
	}
	switch (f->type) {
	case MSG_WELCOME:
		if (c->state != ST_CONNECTING)
			client_lost(c, "unexpected WELCOME", now);
		else
			client_welcome(c, f, now);
		break;
	case MSG_DATA:
		client_data_frame(c, f, now);
		break;
	case MSG_ACK:
	case MSG_WINDOW:
		client_input_frame(c, f, now);
		break;
	case MSG_PING:
	case MSG_PONG:
		client_ping_frame(c, f, now);
		break;
	case MSG_TERMIOS:
		if (cpred_termios(c, f->p, f->len, now) != 0)
			client_lost(c, "bad TERMIOS", now);
		break;
	case MSG_EXIT:
		client_exit_frame(c, f, now);
		break;
	case MSG_SCREEN:
		repaint_frame(c, f, now);
		break;
	case MSG_ERROR:
		client_error_frame(c, f, now);
		break;
	case MSG_CHAN_OPEN:
	case MSG_CHAN_DATA:
	case MSG_CHAN_ACK:
	case MSG_CHAN_EOF:
	case MSG_CHAN_CLOSE:
	case MSG_FWD_RESULT:
	case MSG_FWD_LISTED:
		if (cfwd_frame(c, f) != 0)
			client_lost(c, "bad channel frame", now);
		break;
	case MSG_NOTICE:
		client_notice_frame(c, f);
		break;
	default:
		client_lost(c, "unexpected frame from the server", now);
		break;
	}
}

/*
 * Handle the frames received, as long as the terminal keeps up: the rest
 * waits in the decoder (and ssh's stdout is not read) until it drains.
 */
static void
client_frames(struct client *c, uint64_t now)
{
	struct frame	f;
	int		r;

	while ((c->state == ST_CONNECTING || c->state == ST_UP) &&
	    buf_len(&c->term) < TERM_MAX) {
		r = frame_dec_next(&c->rx, &f);
		if (r == 0)
			break;
		if (r < 0) {
			client_lost(c, "oversized frame from the server", now);
			break;
		}
		client_frame(c, &f, now);
	}
}

/* Read ssh's stdout and handle the frames. */
static void
client_read_ssh(struct client *c, uint64_t now)
{
	uint8_t		tmp[FRAME_HDR + FRAME_MAX_PAYLOAD];
	ssize_t		n;

	n = read(c->proc.out, tmp, sizeof tmp);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		close(c->proc.out);
		c->proc.out = -1;
		return;
	}
	if (n <= 0)
		return;
	client_feed(c, tmp, (size_t)n, now);
}

/*
 * Bytes from the server (ssh's stdout): the preamble scan, then frames,
 * handled as the terminal keeps up.  No fd involved: the fuzzer and the
 * unit tests call it directly.
 */
void
client_feed(struct client *c, const uint8_t *p, size_t n, uint64_t now)
{
	size_t	used = 0;

	c->last_rx = now;
	if (c->magic < PROTO_MAGIC_LEN) {
		used = ssh_magic_scan(&c->magic, p, n, &c->early_taken);
		if (c->magic == PROTO_MAGIC_LEN)
			client_early_done(c);
	}
	if (used < n && frame_dec_push(&c->rx, p + used, n - used) != 0) {
		client_lost(c, "receive buffer full", now);
		return;
	}
	client_frames(c, now);
}

/* Read ssh's stderr: kept for diagnosis, shown when it matters. */
static void
client_read_err(struct client *c)
{
	char	tmp[4096];
	ssize_t	n;
	size_t	room;

	n = read(c->proc.err, tmp, sizeof tmp);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		close(c->proc.err);
		c->proc.err = -1;
		return;
	}
	if (n <= 0)
		return;
	if (c->pass_stderr && write(STDERR_FILENO, tmp, n) == -1)
		c->pass_stderr = 0;
	room = sizeof c->errtext - 1 - c->errtext_len;
	if ((size_t)n > room) {
		/* Keep the newest text. */
		size_t	drop = (size_t)n - room;

		if (drop > c->errtext_len)
			drop = c->errtext_len;
		memmove(c->errtext, c->errtext + drop, c->errtext_len - drop);
		c->errtext_len -= drop;
		room += drop;
	}
	if ((size_t)n > room)
		n = room;
	memcpy(c->errtext + c->errtext_len, tmp, n);
	c->errtext_len += n;
	c->errtext[c->errtext_len] = '\0';
}

/* Queue the input the daemon has not seen on this connection. */
void
client_send_input(struct client *c, uint64_t now)
{
	const uint8_t	*p;
	size_t		 n;

	/* Never at or beyond the daemon's window (none before WINDOW). */
	while (c->in_window && c->in_sent < c->in.end &&
	    c->in_sent < c->in_limit && buf_len(&c->tx) < TX_SOFT_MAX) {
		n = ring_peek(&c->in, c->in_sent, &p);
		if (n == 0)
			break;
		if (n > INPUT_CHUNK)
			n = INPUT_CHUNK;
		if (n > c->in_limit - c->in_sent)
			n = c->in_limit - c->in_sent;
		client_queued(c, proto_data_put(&c->tx, c->in_sent, p, n));
		if (c->state != ST_UP)
			return;
		c->in_sent += n;
		if (c->pending_since == 0) {
			c->pending_since = now;
			/*
			 * After a long quiet spell (a NAT may have forgotten
			 * us), an answer is due soon, not after --dead.
			 */
			if (now - c->last_rx >= STALE_MS)
				client_probe(c, now, TYPED_PROBE_MS);
		}
	}
}

/* Read the terminal: escapes are handled, the rest is queued as input. */
static void
client_read_tty(struct client *c, uint64_t now)
{
	uint8_t		tmp[4096];
	struct buf	pass;
	ssize_t		n;
	size_t		off = 0, used, room = ring_room(&c->in);
	int		cmd;

	/* An escape may add a held '~': one byte more than read. */
	if (room < 2)
		return;
	n = read(STDIN_FILENO, tmp, room - 1 < sizeof tmp ? room - 1 :
	    sizeof tmp);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		c->stdin_open = 0;
		return;
	}
	if (n <= 0)
		return;
	/* The terminal's answer to our cursor query is not typed input. */
	if (c->scr.cpr_owed > 0 && now - c->cpr_asked >= CPR_OWED_MS)
		c->scr.cpr_owed = 0;	/* a terminal that does not answer */
	if ((n = screen_take_cpr(&c->scr, tmp, n)) == 0)
		return;
	buf_init(&pass, 0);
	while (off < (size_t)n) {
		used = escape_feed(&c->esc, tmp + off, n - off, &pass, &cmd);
		off += used;
		cpred_keys(c, buf_ptr(&pass), buf_len(&pass), c->in.end, now);
		/* Room was checked before the read: this cannot fail. */
		if (buf_len(&pass) > 0 && ring_append(&c->in, buf_ptr(&pass),
		    buf_len(&pass), 0) != 0)
			fatal("input queue overflow");
		buf_reset(&pass);
		if (cmd != ESC_NONE)
			client_escape(c, cmd, now);
		if (c->state == ST_DONE)
			break;
	}
	buf_free(&pass);
}

/* Queue an ACK for written output when one is due (client-flow.c). */
static void
client_ack(struct client *c, uint64_t now)
{
	if (!cflow_ack_due(c, now))
		return;
	client_queued(c, proto_u64_put(&c->tx, MSG_ACK, c->out_written));
	c->ack_sent = c->out_written;
	c->ack_at = now;
}

/* Heartbeats and dead-link detection. */
static void
client_watch(struct client *c, uint64_t now)
{
	uint64_t	waiting = 0, since;

	if (c->state == ST_CONNECTING && c->attempt_deadline != 0 &&
	    now >= c->attempt_deadline) {
		client_lost(c, "connection attempt took too long", now);
		return;
	}
	if (c->state != ST_UP)
		return;
	if (!c->ping_out && now >= ckeep_due(c)) {
		client_ping(c, now);
		ckeep_sent(c, now);
	}
	/* Data flowed, then stopped: ask at once whether the link is up. */
	if ((since = link_silence_due(c)) != 0 && now >= since)
		client_ping(c, now);
	/* Something is owed to us: an ACK for input or a PONG. */
	if (c->pending_since != 0)
		waiting = c->pending_since;
	if (c->ping_out && (waiting == 0 || c->ping_at < waiting))
		waiting = c->ping_at;
	if (waiting == 0 || c->rx_paused != 0)
		return;
	since = c->last_rx > waiting ? c->last_rx : waiting;
	if (c->rx_resumed > since)
		since = c->rx_resumed;
	if (c->link != LINK_SUSPECT && now - since >= link_dead_ms(c)) {
		if (link_suspect(c, now))
			return;
		c->silent_since = c->last_rx;
		client_lost(c, "no answer from the server", now);
		return;
	}
	client_probe_check(c, now);
}

/*
 * A probe is answered only by its PONG (which clears the deadline).
 * Bytes heard after the PING may have been on their way before the
 * network changed, so they do not answer it; but while they keep coming
 * the PONG may be queued behind them, so give it grace after the last.
 */
static void
client_probe_check(struct client *c, uint64_t now)
{
	if (c->probe_deadline == 0 || now < c->probe_deadline)
		return;
	if (now - c->last_rx < c->probe_grace) {
		c->probe_deadline = c->last_rx + c->probe_grace;
		return;
	}
	c->silent_since = c->last_rx;
	client_lost(c, "no answer to a probe", now);
}

/* Send a PING whose token is the send time. */
void
client_ping(struct client *c, uint64_t now)
{
	if (c->state != ST_UP || c->ping_out)
		return;
	client_queued(c, proto_u64_put(&c->tx, MSG_PING, now));
	c->ping_out = 1;
	c->ping_at = now;
	c->ka_gap = 0;		/* an idle heartbeat says so after this */
}

/*
 * Something suggests the link may be broken (the network changed, the
 * client was stopped, the user typed into a quiet link): probe now, and
 * give the answer grace ms plus two round trips.
 */
void
client_probe(struct client *c, uint64_t now, uint64_t grace)
{
	if (c->state == ST_WAITING) {
		c->next_try = now;
		c->fails = 0;
		return;
	}
	if (c->state != ST_UP)
		return;
	if (c->ping_out && now - c->ping_at > PROBE_MS) {
		/* A ping from before the change proves nothing now. */
		c->ping_out = 0;
	}
	client_ping(c, now);
	c->probe_grace = grace + 2 * c->srtt;
	c->probe_deadline = now + c->probe_grace;
}

/* Handle signals delivered into the loop. */
static void
client_signals(struct client *c, uint64_t now)
{
	int	s, status;

	while ((s = sig_next()) != 0) {
		switch (s) {
		case SIGWINCH:
			c->resize_due = 1;
			break;
		case SIGCHLD:
			if (ssh_reap(&c->proc, &status))
				c->ssh_status = status, c->ssh_exited = 1;
			ssh_reap_dying();
			cfwd_sigchld(c);
			break;
		case SIGCONT:
			if (c->attached_once && c->tty)
				tty_raw(STDIN_FILENO);
			c->resize_due = 1;
			client_probe(c, now, PROBE_MS);
			break;
		case SIGTERM:
		case SIGHUP:
		case SIGINT:
			if (c->pipe != NULL)	/* ends the program */
				cpipe_leave(c, 128 + s);
			else
				client_detach(c, s == SIGHUP ? 0 : 1);
			c->exit_code = 128 + s;
			break;
		}
	}
}

/* Send RESIZE when the window changed (or to make programs redraw). */
static void
client_resize(struct client *c)
{
	uint16_t	rows, cols;

	if (!c->resize_due)
		return;
	/* Known at once (the notice fits the width); sent once up. */
	if (c->tty && tty_size(STDIN_FILENO, &rows, &cols) == 0 &&
	    (rows != c->rows || cols != c->cols)) {
		c->rows = rows;
		c->cols = cols;
		cpred_resize(c);
	}
	if (c->state != ST_UP || c->rows == 0)
		return;
	c->resize_due = 0;
	if (c->wiggle && c->rows > 1)
		client_queued(c, proto_resize_put(&c->tx, c->rows - 1,
		    c->cols));
	c->wiggle = 0;
	client_queued(c, proto_resize_put(&c->tx, c->rows, c->cols));
}

/* Write queued frames to ssh. */
static void
client_flush(struct client *c, uint64_t now)
{
	ssize_t	n;

	if (c->proc.in == -1 || buf_len(&c->tx) == 0 || client_tx_held(c))
		return;
	if (cfwd_write_wait(c))
		return;	/* the pipe is full: cfwd_pump() writes it */
	n = buf_write_fd(&c->tx, c->proc.in);
	if (n > 0)
		c->last_tx = now;
	else if (n == -1 && errno != EAGAIN && errno != EINTR)
		client_lost(c, "ssh stopped reading", now);
}

/* ssh exited: take what it left in its pipes, then see why it ended. */
static void
client_ssh_gone(struct client *c, uint64_t now)
{
	c->ssh_exited = 0;
	if (c->state != ST_CONNECTING && c->state != ST_UP)
		return;
	while (c->proc.out != -1 &&
	    (c->state == ST_CONNECTING || c->state == ST_UP)) {
		client_read_ssh(c, now);
		if (c->proc.out != -1 && frame_dec_buffered(&c->rx) == 0)
			break;
	}
	while (c->proc.err != -1)
		client_read_err(c);
	if (c->state == ST_CONNECTING || c->state == ST_UP)
		client_ssh_exited(c, c->ssh_status, now);
}

/* The program ended and its output is on the screen: ack and leave. */
static void
client_exit_done(struct client *c, uint64_t now)
{
	if (c->state == ST_UP && !c->exit_acked) {
		proto_u64_put(&c->tx, MSG_ACK, c->exit_end);
		c->ack_sent = c->exit_end;
		c->exit_acked = 1;
	}
	client_flush(c, now);
	/* A shell that logged itself out is named as such. */
	c->exit_why = c->pipe != NULL ? NULL :
	    client_why_exit(c->scr.tail, c->scr.ntail, c->status);
	client_finish(c, c->status);
}

/* The work due before sleeping: timers, queued frames, the notice. */
static void
client_step(struct client *c, uint64_t now)
{
	char	hint[2048];

	if (c->first_at != 0 && (now >= c->first_at || !cfwd_pending(c))) {
		c->first_at = 0;
		if (c->state != ST_DONE)
			client_connect(c, now);
	}
	if (c->ssh_exited)
		client_ssh_gone(c, now);
	if (c->state == ST_WAITING && now >= c->next_try) {
		if (c->give_up_ms != 0 && c->lost_at != 0 &&
		    now - c->lost_at >= c->give_up_ms) {
			notice_clear(c);
			client_hint(c, hint, sizeof hint);
			client_finish_msg(c, 255, "gave up after %llu s "
			    "without contact; %s: %s",
			    (unsigned long long)(now - c->lost_at) / 1000,
			    c->pipe != NULL ? "the command still waits there "
			    "for this client; end it with" :
			    "the session is still there", hint);
			return;
		}
		client_connect(c, now);
	}
	link_hedge_step(c, now);
	knock_step(c, now);
	if (frame_dec_buffered(&c->rx) > 0)
		client_frames(c, now);	/* a backlog, as room allows */
	client_watch(c, now);
	client_resize(c);
	if (c->state == ST_UP)
		client_send_input(c, now);
	cpipe_step(c);
	client_ack(c, now);
	cfwd_pump(c);
	client_flush(c, now);
	cpred_tick(c, now);
	notice_update(c, now);
	if (c->exited && c->out_written == c->exit_end &&
	    buf_len(&c->term) == 0 && c->state != ST_DONE)
		client_exit_done(c, now);
}

/*
 * The most descriptors client_poll() watches at once: the signal pipe,
 * the terminal in and out, ssh's stdout, stderr and stdin, the network
 * watcher, the parallel attempts and the knocks.  Killed ssh's are not
 * polled (SIGCHLD reaps them).
 */
#define CLIENT_NPFD	(7 + HEDGE_MAX + KNOCK_MAX)

/* Add fd to the poll set (of CLIENT_NPFD); returns its index. */
static int
client_pfd(struct pollfd *pfd, int *n, int fd, short events)
{
	if (*n >= CLIENT_NPFD)
		fatalx("%s: poll set full", __func__);
	pfd[*n].fd = fd;
	pfd[*n].events = events;
	pfd[*n].revents = 0;
	return (*n)++;
}

/*
 * While the client does not read ssh (the terminal is not taking the
 * output), answers queue unread behind the output: the link cannot be
 * judged then, and gets the full answer time again once reading resumes.
 */
static void
client_rx_pause(struct client *c, int paused, uint64_t now)
{
	if (paused && c->rx_paused == 0)
		c->rx_paused = now;
	else if (!paused && c->rx_paused != 0) {
		c->rx_paused = 0;
		c->rx_resumed = now;
	}
}

/* Sleep until something is ready or the nearest deadline; handle it. */
static void
client_poll(struct client *c, uint64_t now)
{
	struct pollfd	pfd[CLIENT_NPFD + CFWD_NPFD];
	int		n = 0, i_in = -1, i_out = -1, i_ssh = -1, i_err = -1;
	int		i_net = -1, i_tx = -1, ofd;

	client_pfd(pfd, &n, sig_fd(), POLLIN);
	/*
	 * Before the first WELCOME the terminal belongs to ssh (host key,
	 * password and passphrase prompts read it); typed-ahead keys wait in
	 * it.  While the input queue is full it waits too, as with ssh.
	 */
	if (c->stdin_open && c->attached_once && ring_room(&c->in) >= 2)
		i_in = client_pfd(pfd, &n, STDIN_FILENO, POLLIN);
	if (buf_len(&c->term) > 0 && (ofd = cpipe_out_fd(c)) != -1)
		i_out = client_pfd(pfd, &n, ofd, POLLOUT);
	if (c->proc.out != -1 && buf_len(&c->term) < TERM_MAX &&
	    frame_dec_buffered(&c->rx) < FRAME_HDR + FRAME_MAX_PAYLOAD &&
	    (c->state == ST_CONNECTING || c->state == ST_UP))
		i_ssh = client_pfd(pfd, &n, c->proc.out, POLLIN);
	client_rx_pause(c, c->proc.out != -1 && i_ssh == -1, now);
	if (c->proc.err != -1)
		i_err = client_pfd(pfd, &n, c->proc.err, POLLIN);
	if (c->proc.in != -1 && !client_tx_held(c) && (buf_len(&c->tx) > 0 ||
	    cfwd_write_wait(c)))
		i_tx = client_pfd(pfd, &n, c->proc.in, POLLOUT);
	if (c->netfd >= 0)
		i_net = client_pfd(pfd, &n, c->netfd, POLLIN);
	n = cfwd_poll(c, pfd, n);
	link_hedge_poll(c, pfd, &n);
	knock_poll(c, pfd, &n);
	if (c->state == ST_DONE)
		return;		/* decided while the set was made: no wait */
	if (poll(pfd, n, client_timeout(c, now)) == -1) {
		if (errno == EINTR)
			return;
		fatal("poll");
	}
	now = clock_ms();
	if (pfd[0].revents & POLLIN)
		client_signals(c, now);
	if (i_net != -1 && (pfd[i_net].revents & POLLIN) &&
	    net_watch_read(c->netfd)) {
		debug_f("network changed");
		link_roam(c, now);
		client_probe(c, now, PROBE_MS);
	}
	if (i_out != -1 && (pfd[i_out].revents & (POLLOUT | POLLERR |
	    POLLHUP)) && out_write(c) != 0) {
		/* The terminal is gone: nobody can read the session now. */
		client_finish(c, 255);
	}
	if (i_ssh != -1 && c->proc.out != -1 &&
	    (pfd[i_ssh].revents & (POLLIN | POLLHUP | POLLERR)))
		client_read_ssh(c, now);
	if (i_err != -1 && c->proc.err != -1 &&
	    (pfd[i_err].revents & (POLLIN | POLLHUP | POLLERR)))
		client_read_err(c);
	if (i_tx != -1 && c->proc.in != -1 &&
	    (pfd[i_tx].revents & (POLLOUT | POLLERR)))
		client_flush(c, now);
	if (i_in != -1 && c->state != ST_DONE &&
	    (pfd[i_in].revents & (POLLIN | POLLHUP | POLLERR))) {
		if (c->pipe != NULL)
			cpipe_read_in(c);
		else
			client_read_tty(c, now);
	}
	if (c->state != ST_DONE)
		cfwd_ready(c, pfd);
	link_hedge_read(c, pfd, now);
	if (c->state != ST_DONE)
		knock_read(c, pfd, now);
}

/* Give ssh the last frames (DETACH, the final ACK), for a bounded time. */
static void
client_flush_last(struct client *c)
{
	uint64_t	deadline = clock_ms() + EXIT_TX_MS, now;
	struct pollfd	pfd;

	while (c->proc.in != -1 && buf_len(&c->tx) > 0 &&
	    !client_tx_held(c) && (now = clock_ms()) < deadline) {
		pfd.fd = c->proc.in;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			break;
		if (buf_write_fd(&c->tx, c->proc.in) == -1 &&
		    errno != EAGAIN && errno != EINTR)
			break;
	}
}

/*
 * Every way out: the output the terminal takes in time, the terminal
 * modes the program changed put back, ssh ended (bounded whatever it
 * does), the terminal restored, then the message on a clean line.
 */
static void
client_end(struct client *c)
{
	char	restore[256];
	size_t	n;

	cpred_end(c);
	notice_clear(c);
	if (c->attached_once && c->tty) {
		n = screen_restore(&c->scr, restore, sizeof restore);
		client_local_bytes(c, restore, n);
	}
	out_drain(c, EXIT_OUT_MS);
	client_flush_last(c);
	link_hedge_stop(c);
	ssh_close(&c->proc, EXIT_SSH_MS);
	tty_restore();
	if (c->final_msg != NULL)
		fprintf(stderr, "%slimpet: %s\n", c->scr.linelen > 0 &&
		    c->attached_once ? "\n" : "", c->final_msg);
	else if (c->exit_why != NULL)
		fprintf(stderr, "%slimpet: %s\n", c->scr.linelen > 0 ?
		    "\n" : "", c->exit_why);
	fflush(stderr);
}

/* The main loop. */
static int
client_loop(struct client *c)
{
	uint64_t	now;

	/*
	 * ssh -G runs: the first ssh waits for it a little, so that the
	 * HELLO (its agent flag comes from the configuration) can go on
	 * its command line and save a round trip (client_early()).
	 */
	now = clock_ms();
	if (cfwd_pending(c))
		c->first_at = now + EARLY_WAIT_MS;
	else
		client_connect(c, now);
	while (c->state != ST_DONE) {
		now = clock_ms();
		client_step(c, now);
		if (c->state == ST_DONE)
			break;
		client_poll(c, now);
	}
	client_end(c);
	return c->exit_code;
}

/* Parse the command line into c; returns 0 or an exit code. */
static int
client_parse(struct client *c, int mode, int argc, char **argv)
{
	char		 err[256];
	const char	*v;
	int		 secs;

	if (cmdline_split(argc, argv, cmdline_client_opts, 1, &c->cl, err,
	    sizeof err) != 0) {
		fprintf(stderr, "limpet: %s (limpet --help)\n", err);
		return 255;
	}
	if (config_for(&c->cfg, &c->cl, err, sizeof err) != 0) {
		fprintf(stderr, "limpet: %s\n", err);
		return 255;
	}
	c->mode = mode;
	if (client_take_name(c) != 0)
		return 255;
	if (cmdline_has(&c->cl, "all") && mode != CLIENT_KILL) {
		fprintf(stderr, "limpet: --all is for limpet kill\n");
		return 255;
	}
	if (cmdline_has(&c->cl, "json") && mode != CLIENT_LS) {
		fprintf(stderr, "limpet: --json is for limpet ls\n");
		return 255;
	}
	if (cmdline_seconds(&c->cl, "keepalive", PROTO_KEEPALIVE_S, &secs, err,
	    sizeof err) != 0)
		goto bad;
	c->keepalive_ms = secs * 1000;
	ckeep_init(c, cmdline_has(&c->cl, "keepalive"));
	if (cmdline_seconds(&c->cl, "dead", DEAD_S, &secs, err,
	    sizeof err) != 0)
		goto bad;
	c->dead_ms = secs * 1000;
	if (cmdline_seconds(&c->cl, "give-up", 0, &secs, err,
	    sizeof err) != 0)
		goto bad;
	c->give_up_ms = (uint64_t)secs * 1000;
	if ((v = cmdline_get(&c->cl, "ring-size")) != NULL &&
	    config_ring_kb(v, &c->ring_kb) != 0) {
		snprintf(err, sizeof err, "--ring-size wants 64K to 256M, "
		    "not '%s'", v);
		goto bad;
	}
	c->ssh.prog = cmdline_get(&c->cl, "ssh");
	if (c->ssh.prog == NULL)
		c->ssh.prog = "ssh";
	c->ssh.server_path = cmdline_get(&c->cl, "server-path");
	c->ssh.server_dir = cmdline_get(&c->cl, "server-dir");
	c->ssh.opts = c->cl.ssh;
	c->ssh.nopts = c->cl.nssh;
	c->ssh.dest = c->cl.dest;
	if (cfwd_options(c, err, sizeof err) != 0)
		goto bad;
	if ((c->predict = cpred_mode(cmdline_get(&c->cl, "predict"))) < 0) {
		snprintf(err, sizeof err, "--predict wants adaptive, always "
		    "or never, not '%s'", cmdline_get(&c->cl, "predict"));
		goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "limpet: %s\n", err);
	return 255;
}

/* A client with its queues set up and nothing running. */
struct client *
client_new(void)
{
	struct client	*c = xcalloc(1, sizeof *c);

	c->netfd = -1;
	c->proc.pid = -1;
	c->proc.in = c->proc.out = c->proc.err = -1;
	c->keepalive_ms = PROTO_KEEPALIVE_S * 1000;
	ckeep_init(c, 0);
	c->dead_ms = DEAD_S * 1000;
	c->hello_version = proto_version();
	escape_init(&c->esc);
	ring_init(&c->in, INPUT_MAX, 0);
	buf_init(&c->tx, TX_MAX);
	buf_init(&c->early, 0);
	buf_init(&c->term, TERM_MAX + 2 * (FRAME_HDR + FRAME_MAX_PAYLOAD));
	buf_init(&c->repaint_row, 64 * 1024);
	frame_dec_init(&c->rx);
	c->fwd = cfwd_new();
	return c;
}

/* Release everything the client holds. */
void
client_free(struct client *c)
{
	if (c->netfd >= 0)
		close(c->netfd);
	cmdline_free(&c->cl);
	config_free(&c->cfg);
	free(c->name);
	cpred_free(c);
	ring_free(&c->in);
	buf_free(&c->tx);
	buf_free(&c->early);
	buf_free(&c->term);
	buf_free(&c->repaint_row);
	frame_dec_free(&c->rx);
	free(c->final_msg);
	knock_stop(c);
	cfwd_free(c->fwd);
	cpipe_free(c);
	free(c);
}

/* Entry point for a session (new or attach), ls and kill. */
int
client_main(int mode, int argc, char **argv)
{
	static int		 asked;
	static const int	 sigs[] = { SIGWINCH, SIGCHLD, SIGCONT,
				    SIGTERM, SIGHUP, SIGINT };
	struct client		*c = client_new();
	const char		*logpath;
	int			 r;

	if ((r = client_parse(c, mode, argc, argv)) != 0) {
		client_free(c);
		return r;
	}
	logpath = getenv("LIMPET_LOG");
	log_init("limpet", cmdline_has(&c->cl, "verbose") ? LOG_DEBUG :
	    LOG_ERROR, logpath);
	c->mode = mode;
	if (mode == CLIENT_CONFIG) {
		config_print(&c->cfg, &c->cl, stdout);
		client_free(c);
		return 0;
	}
	if (mode != CLIENT_LS && mode != CLIENT_KILL &&
	    cmdline_has(&c->cl, "install") && client_install(&c->ssh) != 0) {
		client_free(c);
		return 255;
	}
	if (mode == CLIENT_LS || mode == CLIENT_KILL ||
	    mode == CLIENT_DETACHED) {
		r = client_admin(c, mode);
		client_free(c);
		return r;
	}
	if (mode == CLIENT_ATTACH) {
		if (c->cl.ncmd > 1) {
			fprintf(stderr, "limpet: attach takes one session "
			    "id\n");
			client_free(c);
			return 255;
		}
		c->want_id = c->cl.ncmd == 1 ? c->cl.cmd[0] : NULL;
	}
	c->tty = isatty(STDIN_FILENO);
	if (!c->tty && mode == CLIENT_NEW && (r = cpipe_start(c)) != 0) {
		client_free(c);
		return r;
	}
	if (!c->tty && c->pipe == NULL) {
		fprintf(stderr, "limpet: standard input is not a terminal: "
		    "attach needs one (a command with stdin not a terminal "
		    "runs on pipes)\n");
		client_free(c);
		return 255;
	}
	tty_size(STDIN_FILENO, &c->rows, &c->cols);
	cpred_init(c, c->predict);
	signal(SIGPIPE, SIG_IGN);
	if (sig_init(sigs, sizeof sigs / sizeof sigs[0]) != 0)
		fatal("signals");
	atexit(tty_restore);
	c->client_id = client_random_id();
	c->user_verbose = ssh_user_verbose(&c->ssh);
	c->pass_stderr = c->user_verbose;
	c->stdin_open = 1;
	c->netfd = net_watch_open();
	if ((r = cfwd_start(c)) == 0)
		r = client_loop(c);
	if (c->not_installed && !asked++ && !cmdline_has(&c->cl, "install") &&
	    client_install_ask(&c->ssh) && client_install(&c->ssh) == 0) {
		/* Installed at the user's word: start over, once. */
		client_free(c);
		return client_main(mode, argc, argv);
	}
	client_free(c);
	return r;
}
