/*
 * The channel state machine (chan.h).  Each channel is two byte streams
 * numbered from 0.  The sender keeps what it read locally until the peer
 * acknowledges it (the ring tx); the receiver keeps what it received until
 * it is written locally (the buffer rx) and gives the sender a window:
 * the sender sends nothing at or past the last limit, so both queues are
 * bounded by the window (at most CHAN_WINDOW_MAX).  The window adapts:
 * the receiver measures the round trip (from an ACK that opened the
 * window of a sender that had used it up, to the data past the old limit)
 * and the rate at which the local side takes the bytes, and gives twice
 * their product, between CHAN_WINDOW and CHAN_WINDOW_MAX.  The sender
 * bounds the data in flight over all channels the same way, from its own
 * round trips (data sent to its ACK, the least lately) and the rate of
 * acknowledgements.  EOF takes the offset after the last byte; an
 * acknowledgement one past it says the EOF arrived.  After a reconnect
 * each end first tells the other what it holds (an ACK for every channel)
 * and resends from the peer's acknowledged offset, as the terminal stream
 * does with WELCOME.  A frame that breaks these rules returns an error
 * (the caller drops that link); a frame for a channel this end no longer
 * has is answered with CLOSE, so both ends converge after any loss.
 */
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "err.h"
#include "frame.h"
#include "proto.h"
#include "xmalloc.h"

/* Set up an empty set; ids this end opens carry id_bit. */
void
chan_set_init(struct chan_set *s, uint32_t id_bit, const struct chan_ops *ops,
    void *arg)
{
	memset(s, 0, sizeof *s);
	s->next_id = 1;
	s->id_bit = id_bit;
	s->ops = ops;
	s->arg = arg;
	s->inflight_max = CHAN_INFLIGHT_MAX;
	s->wfd = -1;
	s->wbatch = 1;
}

/* The owner's clock, in microseconds, for the round trips and rates. */
void
chan_set_clock(struct chan_set *s, uint64_t now)
{
	s->now = now;
}

/* Free one channel's memory (the owner has closed its socket). */
static void
chan_free(struct chan *ch)
{
	ring_free(&ch->tx);
	buf_free(&ch->rx);
	free(ch->target);
	free(ch);
}

/* Remove ch from the set and free it, telling the owner why. */
static void
chan_remove(struct chan_set *s, struct chan *ch, uint32_t why)
{
	int	i;

	for (i = 0; i < s->n; i++) {
		if (s->ch[i] == ch) {
			s->ch[i] = s->ch[--s->n];
			break;
		}
	}
	if (s->ops != NULL && s->ops->gone != NULL)
		s->ops->gone(s->arg, ch, why);
	chan_free(ch);
}

/* Free every channel, telling the owner. */
void
chan_set_free(struct chan_set *s)
{
	chan_reset_all(s, CHAN_R_GONE_ALL);
}

/* The channel with this id, or NULL. */
struct chan *
chan_find(struct chan_set *s, uint32_t id)
{
	int	i;

	for (i = 0; i < s->n; i++)
		if (s->ch[i]->id == id)
			return s->ch[i];
	return NULL;
}

/* A new channel with both windows at their initial size. */
static struct chan *
chan_new(struct chan_set *s, uint32_t id, uint8_t kind, const char *target)
{
	struct chan	*ch = xcalloc(1, sizeof *ch);

	ch->id = id;
	ch->kind = kind;
	ch->target = xstrdup(target);
	ring_init(&ch->tx, CHAN_WINDOW_MAX + CHAN_WINDOW, 0);
	buf_init(&ch->rx, CHAN_WINDOW_MAX);
	ch->tx_limit = CHAN_WINDOW;
	ch->limit_sent = CHAN_WINDOW;
	ch->win = CHAN_WINDOW;
	ch->fd = -1;
	ch->spec = -1;
	s->ch[s->n++] = ch;
	return ch;
}

/* Open a channel of this end; NULL if too many are open. */
struct chan *
chan_open(struct chan_set *s, uint8_t kind, const char *target)
{
	struct chan	*ch;
	uint32_t	 id;

	if (s->n == CHAN_MAX)
		return NULL;
	id = (s->next_id++ & ~CHAN_ID_DAEMON) | s->id_bit;
	if ((s->next_id & ~CHAN_ID_DAEMON) == 0)
		s->next_id = 1;
	ch = chan_new(s, id, kind, target);
	ch->mine = 1;
	ch->synced = 1;
	return ch;
}

/* Owe the peer a CLOSE for id (bounded: the peer asks again if lost). */
static void
chan_owe(struct chan_set *s, uint32_t id, uint32_t why)
{
	int	i;

	for (i = 0; i < s->nowed; i++)
		if (s->owed[i] == id)
			return;
	if (s->nowed == CHAN_MAX)
		return;
	s->owed[s->nowed] = id;
	s->owed_why[s->nowed++] = why;
}

/* End ch at once: the peer is told, the owner closes its side. */
void
chan_reset(struct chan_set *s, struct chan *ch, uint32_t why)
{
	chan_owe(s, ch->id, why);
	chan_remove(s, ch, why);
}

/*
 * Forget every channel without telling the peer: the link now leads to
 * another client, which never knew them.  Channels this end opened that
 * no peer acknowledged yet (a connection waiting for a client) are kept
 * and offered to the new peer from their start.
 */
void
chan_reset_all(struct chan_set *s, uint32_t why)
{
	struct chan	*ch;
	int		 i;

	for (i = s->n - 1; i >= 0; i--) {
		ch = s->ch[i];
		if (ch->mine && !ch->confirmed && why != CHAN_R_GONE_ALL) {
			ch->open_sent = ch->eof_sent = 0;
			ch->tx_sent = ch->tx.start;
			ch->synced = 1;
			continue;
		}
		chan_remove(s, ch, why);
	}
	s->nowed = 0;
	s->peer_max = 0;	/* the next peer counts from 1 again */
}

/*
 * A new link to the same peer: every channel says what it holds (an ACK)
 * and resends from what the peer says it holds.  A channel the peer may
 * never have heard of (its OPEN was not acknowledged) is opened again.
 */
void
chan_resume(struct chan_set *s)
{
	struct chan	*ch;
	int		 i;

	for (i = 0; i < s->n; i++) {
		ch = s->ch[i];
		ch->tx_sent = ch->tx.start;
		ch->eof_sent = ch->eof_acked;
		ch->ack_due = 1;
		ch->probe_t = ch->txp_t = ch->rate_t = 0;	/* not across */
		if (ch->mine && !ch->confirmed) {
			ch->open_sent = 0;
			ch->synced = 1;
		} else
			ch->synced = 0;
	}
}

/*
 * Bytes the local side may still hand to ch: what the peer's window
 * allows and one floor window more, so that the send queue stays full
 * without holding more than the peer will take.
 */
size_t
chan_tx_room(const struct chan *ch)
{
	uint64_t	allow = ch->tx_limit + CHAN_WINDOW;
	size_t		room;

	if (ch->tx_eof || allow <= ch->tx.end)
		return 0;
	room = ring_room(&ch->tx);
	if (allow - ch->tx.end < room)
		room = (size_t)(allow - ch->tx.end);
	return room;
}

/* Bytes read from the local side, to send; ERR_FULL past the room. */
int
chan_local_data(struct chan *ch, const void *p, size_t n)
{
	if (ch->tx_eof || n > ring_room(&ch->tx))
		return ERR_FULL;
	return ring_append(&ch->tx, p, n, 0);
}

/* The local side will send nothing more. */
void
chan_local_eof(struct chan *ch)
{
	ch->tx_eof = 1;
}

/* The local side took n bytes of rx. */
void
chan_written(struct chan *ch, size_t n)
{
	buf_consume(&ch->rx, n);
}

/* True once everything the peer sent, EOF included, was written. */
int
chan_rx_done(const struct chan *ch)
{
	return ch->rx_eof && ch->rx_have == ch->rx_end &&
	    buf_len(&ch->rx) == 0;
}

/*
 * True when nothing is left to exchange with the peer: its stream arrived
 * whole, EOF included, and ours was acknowledged to its EOF.  Only local
 * writing may remain.
 */
static int
chan_peer_done(const struct chan *ch)
{
	return ch->rx_eof && ch->rx_have == ch->rx_end && ch->eof_acked &&
	    ch->ack_sent > ch->rx_end;
}

/* Free channels that ended both ways with nothing owed. */
void
chan_sweep(struct chan_set *s)
{
	struct chan	*ch;
	int		 i;

	for (i = s->n - 1; i >= 0; i--) {
		ch = s->ch[i];
		if ((chan_peer_done(ch) || ch->peer_gone) &&
		    chan_rx_done(ch) && ch->shut_wr)
			chan_remove(s, ch, CHAN_R_DONE);
	}
}

/* OPEN from the peer: a new channel, or one we have (resent). */
static int
chan_in_open(struct chan_set *s, struct cur *c)
{
	struct chan	*ch;
	uint32_t	 id, why;
	uint8_t		 kind;
	char		*target;

	if (cur_get_u32(c, &id) != 0 || cur_get_u8(c, &kind) != 0 ||
	    cur_get_str(c, &target, CHAN_TARGET_MAX) != 0)
		return ERR_FORMAT;
	if (!cur_end(c) || (id & CHAN_ID_DAEMON) == s->id_bit ||
	    (id & ~CHAN_ID_DAEMON) == 0) {
		free(target);
		return ERR_FORMAT;
	}
	if ((ch = chan_find(s, id)) != NULL) {
		free(target);
		ch->ack_due = 1;	/* a resent OPEN: confirm again */
		return 0;
	}
	/*
	 * Ids are opened in order: an OPEN at or below the highest seen is a
	 * resent one for a channel that ended here since.  Never again.
	 */
	if ((id & ~CHAN_ID_DAEMON) <= s->peer_max) {
		free(target);
		chan_owe(s, id, CHAN_R_UNKNOWN);
		return 0;
	}
	s->peer_max = id & ~CHAN_ID_DAEMON;
	if (s->n == CHAN_MAX) {
		free(target);
		chan_owe(s, id, CHAN_R_LIMIT);
		return 0;
	}
	ch = chan_new(s, id, kind, target);
	free(target);
	ch->confirmed = ch->open_sent = ch->synced = 1;
	ch->ack_due = 1;
	why = s->ops != NULL && s->ops->open != NULL ?
	    (uint32_t)s->ops->open(s->arg, ch) : CHAN_R_REFUSED;
	if (why != 0) {
		s->ch[--s->n] = NULL;	/* it was the last one added */
		chan_free(ch);
		chan_owe(s, id, why);
	}
	return 0;
}

/* Fold a round trip sample (us) into a smoothed one. */
static void
chan_rtt(uint64_t *srtt, uint64_t sample)
{
	if (sample == 0)
		sample = 1;
	*srtt = *srtt == 0 ? sample : (*srtt * 7 + sample) / 8;
}

/* The sender's sample ended: keep the least round trip of late. */
static void
chan_tx_rtt(struct chan_set *s, struct chan *ch)
{
	uint64_t	rtt;

	if (s->now <= ch->txp_t)
		return;
	rtt = s->now - ch->txp_t;
	if (s->min_rtt == 0 || rtt <= s->min_rtt ||
	    s->now - s->min_rtt_t > 10000000) {
		s->min_rtt = rtt;
		s->min_rtt_t = s->now;
	}
}

/*
 * Fold the bytes moved since *t (*off then, cur now) into a rate: a new
 * sample once at least a round trip (and 2 ms) passed.  Quick to rise,
 * slower to fall.  Returns 1 with a new sample.
 */
static int
chan_rate(uint64_t *rate, uint64_t *t, uint64_t *off, uint64_t cur,
    uint64_t now, uint64_t rtt)
{
	uint64_t	dt, sample;

	if (*t == 0 || now < *t || cur < *off) {
		*t = now;
		*off = cur;
		return 0;
	}
	dt = now - *t;
	if (dt < 2000 || dt < rtt)
		return 0;
	sample = cur - *off;
	if (sample > (UINT64_C(1) << 40))
		sample = UINT64_C(1) << 40;
	sample = sample * 1000000 / dt;
	*rate = sample >= *rate ? sample : (*rate * 3 + sample) / 4;
	*t = now;
	*off = cur;
	return 1;
}

/* Clamp twice rate (bytes/s) times rtt (us) between lo and hi. */
static size_t
chan_bdp2(uint64_t rate, uint64_t rtt, size_t lo, size_t hi)
{
	uint64_t	v;

	if (rtt > 10000000)
		rtt = 10000000;		/* 10 s: past any cap either way */
	if (rate > (UINT64_C(1) << 39))
		rate = UINT64_C(1) << 39;
	v = 2 * rate * rtt / 1000000;
	return v < lo ? lo : v > hi ? hi : (size_t)v;
}

/*
 * The receive window now: twice the delivery rate to the local side
 * times the round trip, once both are measured.
 */
static void
chan_window(struct chan_set *s, struct chan *ch)
{
	uint64_t	written = ch->rx_have - buf_len(&ch->rx);

	if (!chan_rate(&ch->rate, &ch->rate_t, &ch->rate_off, written, s->now,
	    ch->srtt) || ch->srtt == 0)
		return;
	ch->win = chan_bdp2(ch->rate, ch->srtt, CHAN_WINDOW, CHAN_WINDOW_MAX);
}

/*
 * Write the peer's new bytes straight to ch's socket if nothing waits
 * before them (no copy through rx); returns how many it took.  Anything
 * it does not take, an error included, goes to rx as before, and the
 * owner's next write finds the error.
 */
static size_t
chan_rx_write(struct chan *ch, const uint8_t *p, size_t n)
{
	ssize_t	w;

	if (buf_len(&ch->rx) > 0 || ch->fd < 0 || ch->connecting ||
	    ch->resolve != NULL || ch->shut_wr)
		return 0;
	w = write(ch->fd, p, n);
	return w > 0 ? (size_t)w : 0;
}

/* DATA from the peer: in order, within the window, before any EOF. */
static int
chan_in_data(struct chan_set *s, struct cur *c)
{
	struct chan	*ch;
	uint32_t	 id;
	uint64_t	 off;
	int		 r;

	if (cur_get_u32(c, &id) != 0 || cur_get_u64(c, &off) != 0)
		return ERR_FORMAT;
	if (off > CHAN_OFFSET_MAX || c->len > CHAN_OFFSET_MAX - off)
		return ERR_FORMAT;
	if ((ch = chan_find(s, id)) == NULL) {
		chan_owe(s, id, CHAN_R_UNKNOWN);
		return 0;
	}
	if (off > ch->rx_have || off + c->len > ch->limit_sent ||
	    (ch->rx_eof && off + c->len > ch->rx_end))
		return ERR_RANGE;
	if (s->rx_direct && off + c->len > ch->rx_have)
		ch->rx_have += chan_rx_write(ch, c->p + (ch->rx_have - off),
		    (size_t)(off + c->len - ch->rx_have));
	r = buf_put_stream(&ch->rx, &ch->rx_have, off, c->p, c->len);
	if (r < 0)
		return r;
	if (ch->probe_t != 0 && ch->rx_have > ch->probe_off) {
		/* A round trip: an old one (a sender that had paused) lies. */
		if (s->now > ch->probe_t && s->now - ch->probe_t < 2000000)
			chan_rtt(&ch->srtt, s->now - ch->probe_t);
		ch->probe_t = 0;
	}
	return 0;
}

/* ACK from the peer: frees what it holds, opens its window. */
static int
chan_in_ack(struct chan_set *s, struct cur *c)
{
	struct chan	*ch;
	uint32_t	 id;
	uint64_t	 have, limit;

	if (cur_get_u32(c, &id) != 0 || cur_get_u64(c, &have) != 0 ||
	    cur_get_u64(c, &limit) != 0 || !cur_end(c) ||
	    limit > CHAN_OFFSET_MAX)
		return ERR_FORMAT;
	if ((ch = chan_find(s, id)) == NULL) {
		chan_owe(s, id, CHAN_R_UNKNOWN);
		return 0;
	}
	if (have > ch->tx.end + (ch->tx_eof ? 1 : 0))
		return ERR_RANGE;
	if (have > ch->tx.end) {
		ch->eof_acked = ch->eof_sent = 1;
		have = ch->tx.end;
	}
	if (ch->txp_t != 0 && have >= ch->txp_off) {
		chan_tx_rtt(s, ch);
		ch->txp_t = 0;
	}
	if (have > ch->tx.start) {
		s->acked += have - ch->tx.start;
		ring_ack_keep(&ch->tx, have);
	}
	if (ch->tx_sent < ch->tx.start)
		ch->tx_sent = ch->tx.start;
	if (limit > ch->tx_limit)
		ch->tx_limit = limit;
	ch->confirmed = ch->open_sent = ch->synced = 1;
	return 0;
}

/* EOF from the peer: its stream ends at end. */
static int
chan_in_eof(struct chan_set *s, struct cur *c)
{
	struct chan	*ch;
	uint32_t	 id;
	uint64_t	 end;

	if (cur_get_u32(c, &id) != 0 || cur_get_u64(c, &end) != 0 ||
	    !cur_end(c))
		return ERR_FORMAT;
	if ((ch = chan_find(s, id)) == NULL) {
		chan_owe(s, id, CHAN_R_UNKNOWN);
		return 0;
	}
	if (end < ch->rx_have || end > ch->limit_sent ||
	    (ch->rx_eof && end != ch->rx_end))
		return ERR_RANGE;
	if (!ch->rx_eof)
		ch->ack_due = 1;
	ch->rx_eof = 1;
	ch->rx_end = end;
	return 0;
}

/*
 * CLOSE from the peer: the channel is gone there; never answered.  When
 * the peer no longer knows a channel whose stream we received whole and
 * to which we sent EOF, the peer finished it (it frees a channel only
 * once it holds all we sent): ours is not reset but finishes writing
 * what it holds.
 */
static int
chan_in_close(struct chan_set *s, struct cur *c)
{
	struct chan	*ch;
	uint32_t	 id, why;

	if (cur_get_u32(c, &id) != 0 || cur_get_u32(c, &why) != 0 ||
	    !cur_end(c))
		return ERR_FORMAT;
	if ((ch = chan_find(s, id)) == NULL)
		return 0;
	if (why == CHAN_R_UNKNOWN && ch->rx_eof && ch->rx_have == ch->rx_end &&
	    ch->tx_eof)
		ch->peer_gone = 1;
	else
		chan_remove(s, ch, why == CHAN_R_DONE ? CHAN_R_RESET : why);
	return 0;
}

/*
 * Handle one channel frame from the peer.  Returns 0, or a negative code
 * when the frame is malformed or breaks the rules: drop that link.
 */
int
chan_frame(struct chan_set *s, uint8_t type, const uint8_t *p, size_t n)
{
	struct cur	c;

	cur_init(&c, p, n);
	switch (type) {
	case MSG_CHAN_OPEN:
		return chan_in_open(s, &c);
	case MSG_CHAN_DATA:
		return chan_in_data(s, &c);
	case MSG_CHAN_ACK:
		return chan_in_ack(s, &c);
	case MSG_CHAN_EOF:
		return chan_in_eof(s, &c);
	case MSG_CHAN_CLOSE:
		return chan_in_close(s, &c);
	}
	return ERR_FORMAT;
}

/* Queue OPEN for ch. */
static int
chan_put_open(struct buf *b, const struct chan *ch)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, MSG_CHAN_OPEN, &mark)) != 0 ||
	    (r = buf_put_u32(b, ch->id)) != 0 ||
	    (r = buf_put_u8(b, ch->kind)) != 0 ||
	    (r = buf_put_str(b, ch->target)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Queue a channel frame of a u32 id and up to two u64s or one u32. */
static int
chan_put(struct buf *b, uint8_t type, uint32_t id, int nv, uint64_t v1,
    uint64_t v2)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, type, &mark)) != 0 ||
	    (r = buf_put_u32(b, id)) != 0)
		return frame_abort(b, mark, r);
	if (nv == 0)
		r = buf_put_u32(b, (uint32_t)v1);
	else {
		r = buf_put_u64(b, v1);
		if (r == 0 && nv == 2)
			r = buf_put_u64(b, v2);
	}
	if (r != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Queue DATA for ch: bytes p..p+n at offset off. */
static int
chan_put_data(struct buf *b, uint32_t id, uint64_t off, const uint8_t *p,
    size_t n)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, MSG_CHAN_DATA, &mark)) != 0 ||
	    (r = buf_put_u32(b, id)) != 0 ||
	    (r = buf_put_u64(b, off)) != 0 ||
	    (r = buf_put(b, p, n)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Put v big-endian into the n bytes at p. */
static void
chan_be(uint8_t *p, uint64_t v, int n)
{
	while (n-- > 0) {
		p[n] = v & 0xff;
		v >>= 8;
	}
}

/* One DATA frame to write: its header and where its payload is. */
struct chan_wf {
	uint8_t		 hdr[FRAME_HDR + 12];
	uint32_t	 id;
	uint64_t	 off;
	const uint8_t	*p;
	size_t		 n;
};

/* How much of ch's data at off one frame may carry (0: none now). */
static size_t
chan_chunk(const struct chan_set *s, struct chan *ch, uint64_t off,
    size_t sent, const uint8_t **p)
{
	size_t	n;

	if (off >= ch->tx.end || off >= ch->tx_limit ||
	    sent >= s->inflight_max || (n = ring_peek(&ch->tx, off, p)) == 0)
		return 0;
	if (n > CHAN_CHUNK)
		n = CHAN_CHUNK;
	if (n > ch->tx_limit - off)
		n = (size_t)(ch->tx_limit - off);
	if (n > s->inflight_max - sent)
		n = s->inflight_max - sent;
	return n;
}

/*
 * Gather up to s->wbatch (at most CHAN_WBATCH) of ch's next DATA frames
 * (within its window and what may be in flight, sent counting on): one
 * writev() then takes them all, a wakeup of the reader per batch rather
 * than per frame.  Returns how many.
 */
static int
chan_gather(struct chan_set *s, struct chan *ch, size_t sent,
    struct chan_wf *f)
{
	uint64_t	off = ch->tx_sent;
	size_t		n;
	int		k = 0;

	while (k < CHAN_WBATCH && (k == 0 || k < s->wbatch) &&
	    (n = chan_chunk(s, ch, off, sent, &f[k].p)) > 0) {
		f[k].hdr[0] = MSG_CHAN_DATA;
		chan_be(f[k].hdr + 1, 12 + n, 4);
		chan_be(f[k].hdr + 5, ch->id, 4);
		chan_be(f[k].hdr + 9, off, 8);
		f[k].id = ch->id;
		f[k].off = off;
		f[k].n = n;
		off += n;
		sent += n;
		k++;
	}
	return k;
}

/*
 * Write the k DATA frames f straight to s->wfd behind what b holds, in
 * one writev(): the payloads are never copied.  What the fd takes of b
 * leaves b; a frame it took in part has its rest queued in b (a stream
 * never carries half a frame), and nothing after it is written.  Returns
 * how many frames are sent (whole, or the last in part), with *full set
 * if the fd did not take them all; ERR_FULL if b has no room (b was
 * emptied first, so never after part of a frame).  On an error other
 * than a full fd the first frame is queued in b, for the owner's write
 * to find the error.
 */
static int
chan_write_frames(struct chan_set *s, struct buf *b, struct chan_wf *f,
    int k, int *full)
{
	struct iovec	iov[1 + 2 * CHAN_WBATCH];
	size_t		held = buf_len(b), fl, w;
	ssize_t		r;
	int		i, j = 0;

	iov[j].iov_base = (void *)buf_ptr(b);
	iov[j++].iov_len = held;
	for (i = 0; i < k; i++) {
		iov[j].iov_base = f[i].hdr;
		iov[j++].iov_len = sizeof f[i].hdr;
		iov[j].iov_base = (void *)f[i].p;
		iov[j++].iov_len = f[i].n;
	}
	*full = 1;
	if ((r = writev(s->wfd, iov + (held == 0), j - (held == 0))) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			return chan_put_data(b, f[0].id, f[0].off, f[0].p,
			    f[0].n) != 0 ? ERR_FULL : 1;
		r = 0;
	}
	w = (size_t)r;
	buf_consume(b, w < held ? w : held);
	s->wrote += w;
	if (w <= held)
		return 0;
	w -= held;
	for (i = 0; i < k; i++) {
		fl = sizeof f[i].hdr + f[i].n;
		if (w >= fl) {
			w -= fl;
			continue;
		}
		if (w == 0)
			return i;
		if (w < sizeof f[i].hdr) {
			if (buf_put(b, f[i].hdr + w, sizeof f[i].hdr - w) != 0)
				return ERR_FULL;
			w = 0;
		} else
			w -= sizeof f[i].hdr;
		if (buf_put(b, f[i].p + w, f[i].n - w) != 0)
			return ERR_FULL;
		return i + 1;
	}
	*full = 0;
	return k;
}

/* News worth an ACK at once: a quarter window, at most 1 MiB. */
static size_t
chan_ack_every(const struct chan *ch)
{
	return ch->win / 4 < CHAN_ACK_BYTES ? ch->win / 4 : CHAN_ACK_BYTES;
}

/*
 * Queue an ACK for ch if it has news (data, EOF, a wider window).  An ACK
 * that opens the window of a sender that had used it up starts a round
 * trip sample: it ends when data past the old limit arrives.
 */
static int
chan_pump_ack(struct chan_set *s, struct chan *ch, struct buf *b)
{
	uint64_t	have, limit;

	if (chan_peer_done(ch) && !ch->ack_due)
		return 0;	/* the peer sends nothing more: no news */
	chan_window(s, ch);
	have = ch->rx_have + (ch->rx_eof && ch->rx_have == ch->rx_end);
	limit = ch->rx_have - buf_len(&ch->rx) + ch->win;
	if (limit < ch->limit_sent)
		limit = ch->limit_sent;		/* never taken back */
	if (!ch->ack_due && have == ch->ack_sent &&
	    limit < ch->limit_sent + chan_ack_every(ch))
		return 0;
	/*
	 * Small news waits a little (CHAN_ACK_US) for more: an ACK per
	 * poll turn wakes every process of the link for a few bytes.
	 */
	if (!ch->ack_due && have - ch->ack_sent < chan_ack_every(ch) &&
	    limit < ch->limit_sent + chan_ack_every(ch) &&
	    !(ch->rx_eof && have > ch->rx_end)) {
		if (ch->ack_wait == 0)
			ch->ack_wait = s->now != 0 ? s->now : 1;
		if (s->now != 0 && s->now < ch->ack_wait + CHAN_ACK_US)
			return 0;
	}
	if (chan_put(b, MSG_CHAN_ACK, ch->id, 2, have, limit) != 0)
		return ERR_FULL;
	if (ch->probe_t == 0 && limit > ch->limit_sent && s->now != 0 &&
	    !ch->rx_eof) {
		ch->probe_off = ch->limit_sent;
		ch->probe_t = s->now;
	}
	ch->ack_sent = have;
	ch->limit_sent = limit;
	ch->ack_due = 0;
	ch->ack_wait = 0;
	return 0;
}

/*
 * When the next delayed ACK is due (us), 0 if none: the owner's poll
 * must wake by then.  One already due that could not be queued (the link
 * queue is full) is tried again a little later, not in a busy loop.
 */
uint64_t
chan_deadline(const struct chan_set *s)
{
	uint64_t	t = 0;
	int		i;

	for (i = 0; i < s->n; i++) {
		if (s->ch[i]->ack_wait != 0 && !s->ch[i]->peer_gone &&
		    (t == 0 || s->ch[i]->ack_wait + CHAN_ACK_US < t))
			t = s->ch[i]->ack_wait + CHAN_ACK_US;
	}
	if (t != 0 && t <= s->now)
		t = s->now + CHAN_ACK_US;
	return t;
}

/* The channel of this end with the lowest id whose OPEN is owed. */
static struct chan *
chan_next_open(struct chan_set *s)
{
	struct chan	*best = NULL;
	int		 i;

	for (i = 0; i < s->n; i++) {
		if (s->ch[i]->mine && !s->ch[i]->open_sent &&
		    (best == NULL || s->ch[i]->id < best->id))
			best = s->ch[i];
	}
	return best;
}

/* Channel data sent and not acknowledged, all channels together. */
size_t
chan_inflight(const struct chan_set *s)
{
	size_t	n = 0;
	int	i;

	for (i = 0; i < s->n; i++)
		n += (size_t)(s->ch[i]->tx_sent - s->ch[i]->tx.start);
	return n;
}

/* n more of ch's bytes are sent: count them, maybe start an RTT sample. */
static void
chan_sent(struct chan_set *s, struct chan *ch, size_t n, size_t *sent)
{
	if (ch->txp_t == 0 && s->now != 0) {
		ch->txp_off = ch->tx_sent + n;
		ch->txp_t = s->now;
	}
	ch->tx_sent += n;
	*sent += n;
}

/*
 * Queue (or write, with s->wfd) ch's data within its window, the queue's
 * room and what may be in flight (*sent counts on from what already is),
 * then EOF.
 */
static int
chan_pump_data(struct chan_set *s, struct chan *ch, struct buf *b,
    size_t qmax, size_t *sent)
{
	struct chan_wf	 f[CHAN_WBATCH];
	const uint8_t	*p;
	size_t		 n;
	int		 i, k, full;

	if (!ch->synced)
		return 0;
	while (buf_len(b) < qmax && !s->wblocked) {
		if (s->wfd != -1) {
			/* Straight to the fd, a batch of frames at once. */
			if ((k = chan_gather(s, ch, *sent, f)) == 0)
				break;
			if ((k = chan_write_frames(s, b, f, k, &full)) < 0)
				return ERR_FULL;
			for (i = 0; i < k; i++)
				chan_sent(s, ch, f[i].n, sent);
			if (full)
				s->wblocked = 1;	/* the fd is full */
			continue;
		}
		if ((n = chan_chunk(s, ch, ch->tx_sent, *sent, &p)) == 0)
			break;
		if (chan_put_data(b, ch->id, ch->tx_sent, p, n) != 0)
			return ERR_FULL;
		chan_sent(s, ch, n, sent);
	}
	if (ch->tx_eof && !ch->eof_sent && ch->tx_sent == ch->tx.end) {
		if (chan_put(b, MSG_CHAN_EOF, ch->id, 1, ch->tx.end, 0) != 0)
			return ERR_FULL;
		ch->eof_sent = 1;
	}
	return 0;
}

/*
 * The path's own round trip, without the queue this end's channel data
 * makes: the owner's link round trip measured while the link was quiet
 * (chan_set_link_rtt()) when it is the smaller, else the least of the
 * channels' own samples.  A channel sample taken while the path is
 * saturated counts the queue in it, and a bound built on it would keep
 * that queue (and grow it at every refresh).
 */
static uint64_t
chan_base_rtt(const struct chan_set *s)
{
	if (s->link_rtt != 0 && s->link_rtt < s->min_rtt)
		return s->link_rtt;
	return s->min_rtt;
}

/* The owner's least link round trip (us) on this link; 0: unknown. */
void
chan_set_link_rtt(struct chan_set *s, uint64_t us)
{
	s->link_rtt = us;
}

/*
 * The in-flight bound (chan.h): terminal traffic and typing must not wait
 * behind much more.  A rate sample during which the channels had less to
 * send than they were allowed measured the applications, not the path:
 * it may raise the rate, never lower it (else every pause of a transfer
 * would shrink the bound, and the next transfer would start from the
 * floor).
 */
static void
chan_bound(struct chan_set *s)
{
	uint64_t	rate = s->ack_rate, margin;

	if (!chan_rate(&s->ack_rate, &s->ack_rate_t, &s->ack_rate_off,
	    s->acked, s->now, s->min_rtt > CHAN_RATE_US ? s->min_rtt :
	    CHAN_RATE_US) || s->min_rtt == 0)
		return;
	if (s->app_limited && s->ack_rate < rate)
		s->ack_rate = rate;
	s->app_limited = 0;
	margin = s->ack_rate < CHAN_SLOW_RATE ? CHAN_FLIGHT_US :
	    CHAN_FLIGHT_FAST_US;
	s->inflight_max = chan_bdp2(s->ack_rate, chan_base_rtt(s) + margin / 2,
	    CHAN_INFLIGHT_MIN, CHAN_INFLIGHT_CAP);
}

/*
 * Queue what the channels owe the peer into b: OPENs, ACKs and CLOSEs
 * always (they are small), data only while b holds less than qmax, the
 * channels taking turns so one busy channel does not starve the others.
 * Returns the data bytes queued.
 */
size_t
chan_pump(struct chan_set *s, struct buf *b, size_t qmax)
{
	struct chan	*ch;
	size_t		 sent = 0, flight, start;
	int		 i, k;

	while (s->nowed > 0) {
		if (chan_put(b, MSG_CHAN_CLOSE, s->owed[0], 0,
		    s->owed_why[0], 0) != 0)
			return sent;
		s->nowed--;
		memmove(s->owed, s->owed + 1, s->nowed * sizeof *s->owed);
		memmove(s->owed_why, s->owed_why + 1,
		    s->nowed * sizeof *s->owed_why);
	}
	/* OPENs in id order: the peer refuses an id below one it saw. */
	while ((ch = chan_next_open(s)) != NULL) {
		if (chan_put_open(b, ch) != 0)
			return sent;
		ch->open_sent = 1;
	}
	for (k = 0; k < s->n; k++) {
		ch = s->ch[(s->rr + k) % s->n];
		if (!ch->peer_gone && chan_pump_ack(s, ch, b) != 0)
			return sent;
	}
	chan_bound(s);
	s->wblocked = 0;
	flight = start = chan_inflight(s);
	for (k = 0; k < s->n; k++) {
		i = (s->rr + k) % s->n;
		if (!s->ch[i]->peer_gone &&
		    chan_pump_data(s, s->ch[i], b, qmax, &flight) != 0)
			break;
	}
	/* A full wfd is the path's limit, as a full queue is: not ours. */
	if (flight < s->inflight_max / 2 && buf_len(b) < qmax &&
	    !s->wblocked)
		s->app_limited = 1;
	sent = flight - start;
	if (s->n > 0)
		s->rr = (s->rr + 1) % s->n;
	return sent;
}

/* A CHAN_R_ reason in words. */
const char *
chan_reason(uint32_t why)
{
	switch (why) {
	case CHAN_R_DONE:
		return "closed";
	case CHAN_R_REFUSED:
		return "connection refused";
	case CHAN_R_RESET:
		return "connection reset";
	case CHAN_R_UNKNOWN:
		return "no such channel";
	case CHAN_R_NOAGENT:
		return "no agent";
	case CHAN_R_LIMIT:
		return "too many channels";
	case CHAN_R_GONE:
		return "the session changed hands";
	}
	return "closed";
}
