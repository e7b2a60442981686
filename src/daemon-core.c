/*
 * The session daemon's core: its peers and their timeouts, the session's
 * timers, and the queues between the PTY and the client.  No listening
 * socket, no signals and no exit here (daemon.c does those), so that unit
 * tests and the fuzzer run a whole daemon on socketpairs and pipes.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "daemon-int.h"
#include "err.h"
#include "log.h"
#include "xmalloc.h"

/* Set up an empty session: output ring of ring bytes, no PTY, no peers. */
void
daemon_init(struct daemon *d, size_t ring, uint64_t now)
{
	memset(d, 0, sizeof *d);
	d->lfd = d->ptyfd = -1;
	d->child = -1;
	d->created = d->active = clock_wall();
	flow_reset(&d->flow, 0);
	d->window = d->flow.window;
	d->touch_at = now + TOUCH_MS;
	d->keep_exited = (uint64_t)KEEP_EXITED_S * 1000;
	d->in_window = PROTO_INPUT_WINDOW;
	d->hold_ms = HOLD_MS;
	d->client_tx_ms = CLIENT_TX_MS;
#ifdef LIMPET_TEST_HOOKS
	/* Test builds only: a hold short enough to outlast in a test. */
	if (getenv("LIMPET_TEST_HOLD_MS") != NULL)
		d->hold_ms = strtoull(getenv("LIMPET_TEST_HOLD_MS"), NULL, 10);
	/* And a stall limit shorter than a test's idle heartbeat. */
	if (getenv("LIMPET_TEST_CLIENT_TX_MS") != NULL)
		d->client_tx_ms = strtoull(getenv("LIMPET_TEST_CLIENT_TX_MS"),
		    NULL, 10);
#endif
	d->tio = d->tio_told = -1;
	ring_init(&d->out, ring, 0);
	buf_init(&d->pty_in, PROTO_INPUT_WINDOW + 1);
	d->fwd = dfwd_new();
	daemon_screen_init(d, ring);
}

/* Free everything the session holds (the PTY fd included). */
void
daemon_free(struct daemon *d)
{
	int	i;

	for (i = 0; i < d->npeers; i++)
		peer_free(d->peers[i]);
	d->npeers = 0;
	d->client = NULL;
	if (d->ptyfd != -1)
		close(d->ptyfd);
	d->ptyfd = -1;
	ring_free(&d->out);
	buf_free(&d->pty_in);
	flow_free(&d->flow);
	daemon_screen_free(d);
	free(d->command);
	d->command = NULL;
	dfwd_free(d->fwd);
	d->fwd = NULL;
	dpipe_free(d);
}

/* Which peer to drop to make room: the oldest without HELLO, else oldest. */
static struct peer *
daemon_victim(struct daemon *d)
{
	struct peer	*p, *best = NULL;
	int		 i;

	for (i = 0; i < d->npeers; i++) {
		p = d->peers[i];
		if (p == d->client)
			continue;
		if (best == NULL || (!p->hello && best->hello) ||
		    (p->hello == best->hello && p->born < best->born))
			best = p;
	}
	return best;
}

/*
 * Add a connected fd as a new peer.  When the table is full the oldest
 * peer that is not the attached client goes, so that connections which
 * never speak cannot lock out `ls`, `kill` or an attach.
 */
struct peer *
daemon_add_peer(struct daemon *d, int fd, uint64_t now)
{
	struct peer	*p;

	if (d->npeers == DAEMON_MAX_PEERS) {
		if ((p = daemon_victim(d)) == NULL) {
			close(fd);
			return NULL;
		}
		daemon_drop(d, p, "too many connections, this is the oldest");
		daemon_sweep(d);
	}
	p = peer_new(fd);
	p->born = p->tx_ok = p->last_rx = now;
	d->peers[d->npeers++] = p;
	return p;
}

/*
 * Mark a peer for closing now, with a logged reason.  The attached
 * client's loss is always logged as a detach, whichever end of its
 * connection noticed first (a failed write has no reason of its own).
 */
void
daemon_drop(struct daemon *d, struct peer *p, const char *why)
{
	if (p == d->client)
		daemon_detach(d, why != NULL ? why : "connection lost");
	else if (why != NULL)
		log_info("dropping peer: %s", why);
	p->dead = 1;
}

/* Send an ERROR and close the peer once it is flushed. */
void
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
void
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
	d->hold_until = d->detach_on_purpose ? 0 : clock_ms() + d->hold_ms;
	d->detach_on_purpose = 0;
	flow_reset(&d->flow, d->acked);
	d->active = clock_wall();
	d->detached_at = d->active;
}

/* Free peers that are done. */
void
daemon_sweep(struct daemon *d)
{
	struct peer	*p;
	int		 i, j;

	for (i = 0, j = 0; i < d->npeers; i++) {
		p = d->peers[i];
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

/* Ask the process to exit with code once the current turn is done. */
void
daemon_quit(struct daemon *d, int code)
{
	if (!d->quit) {
		d->quit = 1;
		d->quit_code = code;
	}
}

/* Start ending the session: hang up the program, then insist. */
void
daemon_kill(struct daemon *d, uint64_t now)
{
	if (d->killing)
		return;
	d->killing = 1;
	d->kill_at = now + KILL_GRACE_MS;
	if (d->client != NULL)
		proto_error_put(&d->client->out, PERR_GONE,
		    "the session was killed");
	if (!d->child_done && d->child > 0) {
		kill(-d->child, SIGHUP);
		kill(d->child, SIGHUP);
	}
	if (d->ptyfd != -1) {
		close(d->ptyfd);
		d->ptyfd = -1;
	}
}

/* The time by which peer p must have made progress (0: none). */
static uint64_t
daemon_peer_deadline(const struct daemon *d, const struct peer *p)
{
	uint64_t	t = 0, tx;

	if (!p->hello)
		t = p->born + HELLO_MS;
	if (buf_len(&p->out) > 0) {
		tx = p->tx_ok + (p == d->client ? d->client_tx_ms : PEER_TX_MS);
		if (t == 0 || tx < t)
			t = tx;
	}
	return t;
}

/*
 * Drop peers that never said HELLO in time, or whose output has not
 * drained for long (PEER_TX_MS for an answer, CLIENT_TX_MS for the
 * attached client), and an attached client that went silent.
 */
static void
daemon_peer_timers(struct daemon *d, uint64_t now)
{
	struct peer	*p;
	uint64_t	 t, quiet;
	int		 i;

	for (i = 0; i < d->npeers; i++) {
		p = d->peers[i];
		if (p->dead)
			continue;
		t = daemon_peer_deadline(d, p);
		if (t != 0 && now >= t)
			daemon_drop(d, p, p->hello ? "peer does not read" :
			    "no HELLO in time");
	}
	if (d->client != NULL) {
		quiet = now - d->client->last_rx;
		if ((quiet > STALL_MS && daemon_inflight(d) >= d->window) ||
		    quiet > STALE_MS)
			daemon_detach(d, "client silent");
	}
}

/* The program is gone: finish once the PTY is drained (or drain time). */
static void
daemon_end_timers(struct daemon *d, uint64_t now)
{
	if (d->child_done && !d->pty_eof && !d->pty_hup && d->ptyfd != -1 &&
	    !daemon_may_read_pty(d, now))
		d->drain_at = now + DRAIN_MS;	/* held back: not idle */
	if (d->child_done && !d->pty_eof && now >= d->drain_at &&
	    !d->pty_hup)
		d->pty_eof = 1;	/* a background job keeps the PTY open */
	if (d->child_done && d->pty_eof && !d->finished) {
		d->finished = 1;
		d->expire_at = now + d->keep_exited;
		if (d->ptyfd != -1) {
			close(d->ptyfd);
			d->ptyfd = -1;
		}
	}
	if (d->finished && now >= d->expire_at) {
		log_info("exit status never collected: session expires");
		daemon_quit(d, 0);
	}
}

/* Check timers: drain, expiry, kill grace, peers, socket touch. */
void
daemon_timers(struct daemon *d, uint64_t now)
{
	daemon_end_timers(d, now);
	if (d->killing) {
		if (d->child_done || d->child <= 0)
			daemon_quit(d, 0);
		if (now >= d->kill_at) {
			if (d->child > 0) {
				kill(-d->child, SIGKILL);
				kill(d->child, SIGKILL);
			}
			d->kill_at = now + KILL_GRACE_MS;
		}
	}
	daemon_peer_timers(d, now);
	if (now >= d->touch_at) {
		/* Keep /tmp cleaners from aging the socket away. */
		if (d->sockpath[0] != '\0')
			utimensat(AT_FDCWD, d->sockpath, NULL,
			    AT_SYMLINK_NOFOLLOW);
		d->touch_at = now + TOUCH_MS;
	}
}

/* The earlier of deadline a and b, where 0 means none. */
static uint64_t
daemon_min(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/* The next time daemon_timers() has something to do (0: nothing). */
uint64_t
daemon_deadline(const struct daemon *d, uint64_t now)
{
	uint64_t	t = d->touch_at;
	int		i;

	if (d->child_done && !d->pty_eof && !d->pty_hup)
		t = daemon_min(t, d->drain_at);
	if (d->finished)
		t = daemon_min(t, d->expire_at);
	if (d->killing)
		t = daemon_min(t, d->kill_at);
	if (d->client == NULL && d->hold_until > now)
		t = daemon_min(t, d->hold_until);
	if (d->client != NULL) {
		t = daemon_min(t, d->client->last_rx + STALE_MS);
		if (daemon_inflight(d) >= d->window)
			t = daemon_min(t, d->client->last_rx + STALL_MS + 1);
	}
	for (i = 0; i < d->npeers; i++)
		t = daemon_min(t, daemon_peer_deadline(d, d->peers[i]));
	t = daemon_min(t, dfwd_deadline(d));
	t = daemon_min(t, daemon_termios_deadline(d));
	return t;
}

/*
 * One turn's bookkeeping before waiting: timers, output to send, the ACK
 * and WINDOW owed to the client, and freeing finished peers.
 */
void
daemon_tick(struct daemon *d, uint64_t now)
{
	daemon_timers(d, now);
	daemon_termios(d, now, 0);	/* before the output it may precede */
	daemon_pump(d, now);
	if (d->ack_due && d->client != NULL && !d->client->closing &&
	    proto_u64_put(&d->client->out, MSG_ACK, d->in_have) == 0)
		d->ack_due = 0;
	daemon_in_window(d, 0);
	dfwd_pump(d, now);
}

/* Whether the PTY may be read now. */
int
daemon_may_read_pty(struct daemon *d, uint64_t now)
{
	if (d->ptyfd == -1 || d->pty_eof)
		return 0;
	if (d->client == NULL)	/* keep the program going, unless held */
		return ring_room(&d->out) > 0 || now >= d->hold_until;
	if (buf_len(&d->client->out) >= OUT_QUEUE_MAX)
		return 0;
	if (ring_len(&d->out) >= d->window)
		return 0;	/* the window limits, not the program */
	return ring_room(&d->out) > 0;
}

/*
 * Read program output into the ring: what the PTY has, up to READ_MAX per
 * turn of the loop, so that a flood leaves in few large frames rather than
 * many small ones (the PTY hands out a few KiB per read).
 */
void
daemon_read_pty(struct daemon *d, uint64_t now)
{
	uint8_t	 tmp[DATA_CHUNK];
	size_t	 want, total = 0;
	ssize_t	 n;
	int	 overwrite;

	d->pty_dry = 0;
	if (!daemon_may_read_pty(d, now))
		return;
	overwrite = d->client == NULL && now >= d->hold_until;
	while (total < READ_MAX) {
		want = sizeof tmp;
		if (d->client != NULL && ring_len(&d->out) >= d->window)
			want = 0;
		else if (d->client != NULL &&
		    want > d->window - ring_len(&d->out))
			want = d->window - ring_len(&d->out);
		if (!overwrite && want > ring_room(&d->out))
			want = ring_room(&d->out);
		if (want == 0)
			break;
		n = read(d->ptyfd, tmp, want);
		if (n > 0) {
			ring_append(&d->out, tmp, n, overwrite);
			daemon_screen_out(d, tmp, (size_t)n);
			total += n;
			continue;
		}
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			d->pty_eof = 1;	/* EIO: every slave fd is closed */
		d->pty_dry = 1;	/* the program has nothing more now */
		break;
	}
	if (total > 0)
		d->active = clock_wall();
}

/* Write queued input to the program. */
void
daemon_write_pty(struct daemon *d)
{
	ssize_t	n;

	if (d->ptyfd == -1 || buf_len(&d->pty_in) == 0)
		return;
	n = buf_write_fd(&d->pty_in, d->ptyfd);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		log_info("pty write: %s", strerror(errno));
		buf_reset(&d->pty_in);
	}
}
