/*
 * Unit tests for src/chan.c: the channel state machine, without sockets.
 * Two channel sets (a client's and a daemon's) talk through two buffers;
 * a "cut" throws away what is in flight and both sides resume, as after
 * a reconnect.  The streams must arrive byte-exact, in order, once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "chan.h"
#include "err.h"
#include "frame.h"
#include "proto.h"

struct end {
	struct chan_set	 set;
	uint8_t		*got;		/* what the local side received */
	size_t		 ngot;
	int		 opened;
	int		 gone;
	uint32_t	 why;
	int		 refuse;
};

/* The peer opened a channel: accept unless told to refuse. */
static int
end_open(void *arg, struct chan *ch)
{
	struct end	*e = arg;

	(void)ch;
	e->opened++;
	return e->refuse ? CHAN_R_REFUSED : 0;
}

/* A channel went away. */
static void
end_gone(void *arg, struct chan *ch, uint32_t why)
{
	struct end	*e = arg;

	(void)ch;
	e->gone++;
	e->why = why;
}

static const struct chan_ops end_ops = { end_open, end_gone };

/* Set up both ends. */
static void
ends_init(struct end *a, struct end *b, size_t cap)
{
	memset(a, 0, sizeof *a);
	memset(b, 0, sizeof *b);
	chan_set_init(&a->set, 0, &end_ops, a);
	chan_set_init(&b->set, CHAN_ID_DAEMON, &end_ops, b);
	a->got = calloc(1, cap);
	b->got = calloc(1, cap);
}

/* Free both ends. */
static void
ends_free(struct end *a, struct end *b)
{
	chan_set_free(&a->set);
	chan_set_free(&b->set);
	free(a->got);
	free(b->got);
}

/* One whole frame at the front of b: 1 (f filled), or 0. */
static int
frame_peek_whole(struct buf *b, struct frame *f)
{
	const uint8_t	*p = buf_ptr(b);
	uint32_t	 len;

	if (buf_len(b) < FRAME_HDR)
		return 0;
	len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 8 | p[4];
	assert_true(len <= FRAME_MAX_PAYLOAD);
	if (buf_len(b) < FRAME_HDR + (size_t)len)
		return 0;
	f->type = p[0];
	f->p = p + FRAME_HDR;
	f->len = len;
	return 1;
}

/* Hand every frame in b to set; returns the first error. */
static int
deliver(struct chan_set *s, struct buf *b)
{
	struct frame_dec	d;
	struct frame		f;
	size_t			off = 0, n;
	int			r = 0;

	frame_dec_init(&d);
	while (r == 0 && off < buf_len(b)) {
		n = buf_len(b) - off;
		if (n > FRAME_HDR + FRAME_MAX_PAYLOAD)
			n = FRAME_HDR + FRAME_MAX_PAYLOAD;
		assert_int_equal(frame_dec_push(&d, buf_ptr(b) + off, n), 0);
		off += n;
		while (r == 0 && frame_dec_next(&d, &f) == 1)
			r = chan_frame(s, f.type, f.p, f.len);
	}
	buf_reset(b);
	frame_dec_free(&d);
	return r;
}

/* The local side of e's first channel takes up to max bytes. */
static void
take(struct end *e, size_t max)
{
	struct chan	*ch;
	size_t		 n;

	if (e->set.n == 0)
		return;
	ch = e->set.ch[0];
	n = buf_len(&ch->rx) < max ? buf_len(&ch->rx) : max;
	memcpy(e->got + e->ngot, buf_ptr(&ch->rx), n);
	e->ngot += n;
	chan_written(ch, n);
	if (chan_rx_done(ch))
		ch->shut_wr = 1;
}

/* Fill a pattern. */
static void
pattern(uint8_t *p, size_t n, uint8_t seed)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 9));
}

/* Feed e's channel from src, as its room allows. */
static void
feed(struct end *e, const uint8_t *src, size_t total, size_t *fed,
    size_t step)
{
	struct chan	*ch;
	size_t		 n;

	if (e->set.n == 0 || *fed == total)
		return;
	ch = e->set.ch[0];
	n = chan_tx_room(ch);
	if (n > step)
		n = step;
	if (n > total - *fed)
		n = total - *fed;
	assert_int_equal(chan_local_data(ch, src + *fed, n), 0);
	*fed += n;
	if (*fed == total)
		chan_local_eof(ch);
}

/*
 * Move total bytes each way through one channel with random cuts: after
 * a cut, what was in flight is lost and both sides resume.  Everything
 * must arrive once, in order, and both channels end cleanly.
 */
static void
transfer(uint64_t seed, size_t total, int cuts)
{
	struct end	 a, b;
	struct buf	 ab, ba;
	struct unit_rng	 rng;
	uint8_t		*up = malloc(total), *down = malloc(total);
	size_t		 fa = 0, fb = 0;
	int		 turn = 0, want = cuts;

	unit_rng_init(&rng, seed);
	pattern(up, total, 1);
	pattern(down, total, 2);
	ends_init(&a, &b, total);
	buf_init(&ab, 0);
	buf_init(&ba, 0);
	assert_non_null(chan_open(&a.set, CHAN_KIND_TCP, "h:1"));
	while (a.set.n > 0 || b.set.n > 0) {
		assert_true(++turn < 100000);
		feed(&a, up, total, &fa, 1 + unit_rng_next(&rng) % 70000);
		feed(&b, down, total, &fb, 1 + unit_rng_next(&rng) % 70000);
		chan_pump(&a.set, &ab, 1 + unit_rng_next(&rng) % 100000);
		chan_pump(&b.set, &ba, 1 + unit_rng_next(&rng) % 100000);
		if (cuts > 0 && unit_rng_next(&rng) % 3 == 0) {
			/* A cut: one direction may get through, not both. */
			if (unit_rng_next(&rng) % 2)
				buf_reset(&ab);
			else
				buf_reset(&ba);
			assert_int_equal(deliver(&b.set, &ab), 0);
			assert_int_equal(deliver(&a.set, &ba), 0);
			chan_resume(&a.set);
			chan_resume(&b.set);
			cuts--;
			continue;
		}
		assert_int_equal(deliver(&b.set, &ab), 0);
		assert_int_equal(deliver(&a.set, &ba), 0);
		/* Bounded queues, whatever the local sides do. */
		if (b.set.n > 0)
			assert_true(buf_len(&b.set.ch[0]->rx) <= CHAN_WINDOW);
		take(&a, unit_rng_next(&rng) % 90000);
		take(&b, unit_rng_next(&rng) % 90000);
		chan_sweep(&a.set);
		chan_sweep(&b.set);
	}
	assert_true(want == 0 || cuts < want);
	assert_int_equal(b.opened, 1);
	assert_int_equal(a.ngot, total);
	assert_int_equal(b.ngot, total);
	assert_memory_equal(a.got, down, total);
	assert_memory_equal(b.got, up, total);
	assert_int_equal(a.why, CHAN_R_DONE);
	assert_int_equal(b.why, CHAN_R_DONE);
	buf_free(&ab);
	buf_free(&ba);
	ends_free(&a, &b);
	free(up);
	free(down);
}

/* A clean transfer both ways, then a clean close on both ends. */
static void
test_transfer(void **state)
{
	(void)state;
	transfer(1, 3 * CHAN_WINDOW + 12345, 0);
}

/* The same with cuts: nothing lost, nothing repeated. */
static void
test_transfer_with_cuts(void **state)
{
	uint64_t	seed;

	(void)state;
	for (seed = 1; seed <= 20; seed++)
		transfer(seed, 2 * 1024 * 1024 + seed, 12);
}

/* A receiver that never writes holds at most a window; so does the sender. */
static void
test_window_bounds_memory(void **state)
{
	struct end	 a, b;
	struct buf	 ab, ba;
	uint8_t		*src = calloc(1, 4 * CHAN_WINDOW);
	size_t		 fed = 0;
	int		 i;

	(void)state;
	ends_init(&a, &b, 16);
	buf_init(&ab, 0);
	buf_init(&ba, 0);
	chan_open(&a.set, CHAN_KIND_TCP, "h:1");
	for (i = 0; i < 50; i++) {
		feed(&a, src, 4 * CHAN_WINDOW, &fed, 4 * CHAN_WINDOW);
		chan_pump(&a.set, &ab, 1 << 30);
		assert_int_equal(deliver(&b.set, &ab), 0);
		chan_pump(&b.set, &ba, 1 << 30);
		assert_int_equal(deliver(&a.set, &ba), 0);
	}
	assert_int_equal(buf_len(&b.set.ch[0]->rx), CHAN_WINDOW);
	assert_int_equal(ring_len(&a.set.ch[0]->tx), CHAN_WINDOW);
	assert_int_equal(chan_tx_room(a.set.ch[0]), 0);
	buf_free(&ab);
	buf_free(&ba);
	ends_free(&a, &b);
	free(src);
}

/* All channels together keep at most CHAN_INFLIGHT_MAX unacknowledged. */
static void
test_inflight_bounded(void **state)
{
	struct end	 a, b;
	struct buf	 ab;
	uint8_t		*src = calloc(1, CHAN_WINDOW);
	size_t		 sent, total = 0;
	int		 i;

	(void)state;
	ends_init(&a, &b, 16);
	buf_init(&ab, 0);
	for (i = 0; i < 8; i++) {
		chan_open(&a.set, CHAN_KIND_TCP, "h:1");
		assert_int_equal(chan_local_data(a.set.ch[i], src,
		    CHAN_WINDOW), 0);
	}
	sent = chan_pump(&a.set, &ab, 1 << 30);
	assert_int_equal(sent, CHAN_INFLIGHT_MAX);
	for (i = 0; i < 8; i++)
		total += a.set.ch[i]->tx_sent - a.set.ch[i]->tx.start;
	assert_int_equal(total, CHAN_INFLIGHT_MAX);
	assert_int_equal(chan_pump(&a.set, &ab, 1 << 30), 0);
	/* Acknowledged: more may go. */
	assert_int_equal(deliver(&b.set, &ab), 0);
	chan_pump(&b.set, &ab, 1 << 30);
	assert_int_equal(deliver(&a.set, &ab), 0);
	assert_true(chan_pump(&a.set, &ab, 1 << 30) > 0);
	buf_free(&ab);
	ends_free(&a, &b);
	free(src);
}

/* Build a frame of a u32 id and up to two u64s into b. */
static void
put(struct buf *b, uint8_t type, uint32_t id, int nv, uint64_t v1,
    uint64_t v2, size_t extra)
{
	size_t	mark, i;

	buf_reset(b);
	assert_int_equal(frame_begin(b, type, &mark), 0);
	buf_put_u32(b, id);
	if (nv >= 1)
		buf_put_u64(b, v1);
	if (nv >= 2)
		buf_put_u64(b, v2);
	for (i = 0; i < extra; i++)
		buf_put_u8(b, 'x');
	assert_int_equal(frame_end(b, mark), 0);
}

/* Frames that break the rules are errors; strays get a CLOSE. */
static void
test_bad_frames(void **state)
{
	struct end	 a, b;
	struct buf	 f, out;
	uint32_t	 id;
	int		 i;

	(void)state;
	ends_init(&a, &b, 16);
	buf_init(&f, 0);
	buf_init(&out, 0);
	id = chan_open(&a.set, CHAN_KIND_TCP, "h:1")->id;
	chan_pump(&a.set, &f, 1 << 20);
	assert_int_equal(deliver(&b.set, &f), 0);
	/* A gap. */
	put(&f, MSG_CHAN_DATA, id, 1, 5, 0, 3);
	assert_true(deliver(&b.set, &f) < 0);
	/* Past the window. */
	for (i = 0; i < 4; i++) {
		put(&f, MSG_CHAN_DATA, id, 1, i * (CHAN_WINDOW / 4), 0,
		    CHAN_WINDOW / 4);
		assert_int_equal(deliver(&b.set, &f), 0);
	}
	put(&f, MSG_CHAN_DATA, id, 1, CHAN_WINDOW, 0, 1);
	assert_true(deliver(&b.set, &f) < 0);
	/* Written: the window moves on. */
	chan_written(b.set.ch[0], CHAN_WINDOW - CHAN_WINDOW / 4);
	chan_pump(&b.set, &out, 1 << 20);
	buf_reset(&out);
	/* A duplicate is skipped, not an error. */
	put(&f, MSG_CHAN_DATA, id, 1, 0, 0, 10);
	assert_int_equal(deliver(&b.set, &f), 0);
	assert_int_equal(b.set.ch[0]->rx_have, CHAN_WINDOW);
	/* EOF before bytes already received; a second, different EOF. */
	put(&f, MSG_CHAN_EOF, id, 1, 1, 0, 0);
	assert_true(deliver(&b.set, &f) < 0);
	put(&f, MSG_CHAN_EOF, id, 1, CHAN_WINDOW, 0, 0);
	assert_int_equal(deliver(&b.set, &f), 0);
	put(&f, MSG_CHAN_EOF, id, 1, CHAN_WINDOW + 1, 0, 0);
	assert_true(deliver(&b.set, &f) < 0);
	/* Data after EOF. */
	put(&f, MSG_CHAN_DATA, id, 1, CHAN_WINDOW, 0, 1);
	assert_true(deliver(&b.set, &f) < 0);
	/* An ACK of bytes never sent. */
	put(&f, MSG_CHAN_ACK, id, 2, 1, CHAN_WINDOW, 0);
	assert_true(deliver(&a.set, &f) < 0);
	/* Trailing bytes, short frames. */
	put(&f, MSG_CHAN_ACK, id, 2, 0, CHAN_WINDOW, 1);
	assert_true(deliver(&a.set, &f) < 0);
	put(&f, MSG_CHAN_ACK, id, 1, 0, 0, 0);
	assert_true(deliver(&a.set, &f) < 0);
	put(&f, MSG_CHAN_CLOSE, id, 0, 0, 0, 0);
	assert_true(deliver(&a.set, &f) < 0);
	/* An OPEN in the receiver's own id space, or id 0. */
	put(&f, MSG_CHAN_OPEN, 7, 0, 0, 0, 0);
	assert_true(deliver(&a.set, &f) < 0);
	put(&f, MSG_CHAN_OPEN, CHAN_ID_DAEMON, 0, 0, 0, 0);
	assert_true(deliver(&a.set, &f) < 0);
	/* Frames for a channel we do not have: answered with CLOSE. */
	buf_reset(&out);
	put(&f, MSG_CHAN_DATA, 999, 1, 0, 0, 3);
	assert_int_equal(deliver(&a.set, &f), 0);
	chan_pump(&a.set, &out, 1 << 20);
	assert_true(buf_len(&out) > 0);
	assert_int_equal(buf_ptr(&out)[0], MSG_CHAN_CLOSE);
	assert_int_equal(a.set.n, 1);
	/* An unknown frame type. */
	assert_true(chan_frame(&a.set, MSG_DATA, NULL, 0) < 0);
	buf_free(&f);
	buf_free(&out);
	ends_free(&a, &b);
}

/* A refused open and a reset reach the other end. */
static void
test_refuse_and_reset(void **state)
{
	struct end	 a, b;
	struct buf	 ab, ba;
	struct chan	*ch;

	(void)state;
	ends_init(&a, &b, 16);
	buf_init(&ab, 0);
	buf_init(&ba, 0);
	b.refuse = 1;
	chan_open(&a.set, CHAN_KIND_TCP, "h:1");
	chan_pump(&a.set, &ab, 1 << 20);
	assert_int_equal(deliver(&b.set, &ab), 0);
	assert_int_equal(b.set.n, 0);
	chan_pump(&b.set, &ba, 1 << 20);
	assert_int_equal(deliver(&a.set, &ba), 0);
	assert_int_equal(a.set.n, 0);
	assert_int_equal(a.why, CHAN_R_REFUSED);
	b.refuse = 0;
	ch = chan_open(&a.set, CHAN_KIND_TCP, "h:1");
	chan_pump(&a.set, &ab, 1 << 20);
	assert_int_equal(deliver(&b.set, &ab), 0);
	assert_int_equal(b.set.n, 1);
	chan_reset(&a.set, ch, CHAN_R_RESET);
	chan_pump(&a.set, &ab, 1 << 20);
	assert_int_equal(deliver(&b.set, &ab), 0);
	assert_int_equal(b.set.n, 0);
	assert_int_equal(b.why, CHAN_R_RESET);
	/*
	 * Another client: a channel no peer acknowledged yet is offered to
	 * it; the others go, and nothing is sent about them.
	 */
	chan_open(&a.set, CHAN_KIND_TCP, "h:1");
	chan_pump(&a.set, &ab, 1 << 20);
	buf_reset(&ab);
	chan_reset_all(&a.set, CHAN_R_GONE);
	assert_int_equal(a.set.n, 1);
	chan_pump(&a.set, &ab, 1 << 20);
	assert_int_equal(buf_ptr(&ab)[0], MSG_CHAN_OPEN);
	assert_int_equal(deliver(&b.set, &ab), 0);
	chan_pump(&b.set, &ba, 1 << 20);
	assert_int_equal(deliver(&a.set, &ba), 0);
	assert_true(a.set.ch[0]->confirmed);
	chan_reset_all(&a.set, CHAN_R_GONE);
	assert_int_equal(a.set.n, 0);
	assert_int_equal(a.why, CHAN_R_GONE);
	chan_pump(&a.set, &ab, 1 << 20);
	assert_int_equal(buf_len(&ab), 0);
	buf_free(&ab);
	buf_free(&ba);
	ends_free(&a, &b);
}

/*
 * A resent OPEN for a channel the receiver ended meanwhile (its CLOSE was
 * lost in a cut) is refused, not made into a new channel whose resent
 * data would leave a gap (found by chan-fuzzer).
 */
static void
test_resent_open_of_an_ended_channel(void **state)
{
	struct end	 a, b;
	struct buf	 ab, ba;
	uint8_t		 src[100];

	(void)state;
	memset(src, 7, sizeof src);
	ends_init(&a, &b, 16);
	buf_init(&ab, 0);
	buf_init(&ba, 0);
	chan_open(&a.set, CHAN_KIND_TCP, "h:1");
	chan_local_data(a.set.ch[0], src, sizeof src);
	chan_pump(&a.set, &ab, 1 << 20);
	assert_int_equal(deliver(&b.set, &ab), 0);
	chan_reset(&b.set, b.set.ch[0], CHAN_R_RESET);
	chan_pump(&b.set, &ba, 1 << 20);
	buf_reset(&ba);			/* the CLOSE is lost in a cut */
	chan_resume(&a.set);
	chan_resume(&b.set);
	chan_pump(&a.set, &ab, 1 << 20);	/* OPEN again, data again */
	assert_int_equal(deliver(&b.set, &ab), 0);
	assert_int_equal(b.set.n, 0);
	chan_pump(&b.set, &ba, 1 << 20);
	assert_int_equal(deliver(&a.set, &ba), 0);
	assert_int_equal(a.set.n, 0);
	assert_int_equal(a.why, CHAN_R_UNKNOWN);
	buf_free(&ab);
	buf_free(&ba);
	ends_free(&a, &b);
}

/* Too many channels: open says no; the peer's extra opens get CLOSE. */
static void
test_channel_limit(void **state)
{
	struct end	 a, b;
	int		 i;

	(void)state;
	ends_init(&a, &b, 16);
	for (i = 0; i < CHAN_MAX; i++)
		assert_non_null(chan_open(&a.set, CHAN_KIND_TCP, "h:1"));
	assert_null(chan_open(&a.set, CHAN_KIND_TCP, "h:1"));
	ends_free(&a, &b);
}

/* Run the channel tests. */
/*
 * One channel from a to b on a path of rtt_turns turns each way, one
 * turn = 1 ms: b's local side takes up to take_max bytes a turn.  Runs
 * turns turns; returns what b received.
 */
static int	flow_feed_turns = -1;	/* the source stops after these */
static size_t	flow_bound_then;	/* a's in-flight bound when it did */

static size_t
clocked_flow(struct end *a, struct end *b, int turns, int rtt_turns,
    size_t take_max)
{
	struct buf	 ab[16], ba[16];
	uint8_t		*src = calloc(1, 1 << 20);
	size_t		 fed, got = 0;
	uint64_t	 now = 1000000;
	int		 t, k;

	assert_true(rtt_turns >= 1 && rtt_turns <= 16);
	for (k = 0; k < rtt_turns; k++) {
		buf_init(&ab[k], 0);
		buf_init(&ba[k], 0);
	}
	chan_open(&a->set, CHAN_KIND_TCP, "h:1");
	for (t = 0; t < turns; t++, now += 1000) {
		chan_set_clock(&a->set, now);
		chan_set_clock(&b->set, now);
		/* An endless source (or one that stops). */
		if ((fed = chan_tx_room(a->set.ch[0])) > (1 << 20))
			fed = 1 << 20;
		if (t == flow_feed_turns)
			flow_bound_then = a->set.inflight_max;
		if (flow_feed_turns >= 0 && t >= flow_feed_turns)
			fed = 0;
		assert_int_equal(chan_local_data(a->set.ch[0], src, fed), 0);
		/* What left rtt_turns ago arrives now. */
		k = t % rtt_turns;
		assert_int_equal(deliver(&b->set, &ab[k]), 0);
		assert_int_equal(deliver(&a->set, &ba[k]), 0);
		chan_pump(&a->set, &ab[k], 1 << 30);
		chan_pump(&b->set, &ba[k], 1 << 30);
		if (b->set.n == 0)
			continue;	/* the OPEN is on its way */
		assert_true(buf_len(&b->set.ch[0]->rx) <= CHAN_WINDOW_MAX);
		assert_true(ring_len(&a->set.ch[0]->tx) <=
		    CHAN_WINDOW_MAX + CHAN_WINDOW);
		got += buf_len(&b->set.ch[0]->rx) < take_max ?
		    buf_len(&b->set.ch[0]->rx) : take_max;
		chan_written(b->set.ch[0],
		    buf_len(&b->set.ch[0]->rx) < take_max ?
		    buf_len(&b->set.ch[0]->rx) : take_max);
	}
	for (k = 0; k < rtt_turns; k++) {
		buf_free(&ab[k]);
		buf_free(&ba[k]);
	}
	free(src);
	return got;
}

/*
 * A fast reader on a long path: the window grows past the floor (a fixed
 * 256 KiB window would move at most 256 KiB per round trip), never past
 * the cap; the in-flight bound grows with it.
 */
static void
test_window_adapts_to_the_path(void **state)
{
	struct end	a, b;
	size_t		got;

	(void)state;
	ends_init(&a, &b, 16);
	/* 20 ms round trips, 2 s: a fixed window would move 25 MB. */
	got = clocked_flow(&a, &b, 2000, 10, 1 << 30);
	assert_true(b.set.ch[0]->win > CHAN_WINDOW);
	assert_true(b.set.ch[0]->win <= CHAN_WINDOW_MAX);
	assert_true(a.set.inflight_max > CHAN_INFLIGHT_MAX);
	assert_true(a.set.inflight_max <= CHAN_INFLIGHT_CAP);
	assert_true(got > 60 * 1024 * 1024);
	ends_free(&a, &b);
}

/* Hand the bytes in b to set through the decoder d (frames may span). */
static void
deliver_bytes(struct chan_set *s, struct frame_dec *d, struct buf *b)
{
	struct frame	f;

	if (buf_len(b) > 0)
		assert_int_equal(frame_dec_push(d, buf_ptr(b), buf_len(b)), 0);
	buf_reset(b);
	while (frame_dec_next(d, &f) == 1)
		assert_int_equal(chan_frame(s, f.type, f.p, f.len), 0);
}

/*
 * One channel from a to b through a bottleneck of rate bytes per 1 ms
 * turn (its queue is *queue at the end) and rtt_turns turns each way
 * after it; a's owner knows the path's round trip (link_us).  Returns
 * what b received.
 */
static size_t
bottleneck_flow(struct end *a, struct end *b, int turns, int rtt_turns,
    size_t rate, uint64_t link_us, size_t *queue, size_t *qmax)
{
	struct buf		 out, q, ab[16], ba[16];
	struct frame_dec	 da, db;
	uint8_t			*src = calloc(1, 1 << 20);
	size_t			 fed, n, got = 0;
	uint64_t		 now = 1000000;
	int			 t, k;

	buf_init(&out, 0);
	buf_init(&q, 0);
	frame_dec_init(&da);
	frame_dec_init(&db);
	for (k = 0; k < rtt_turns; k++) {
		buf_init(&ab[k], 0);
		buf_init(&ba[k], 0);
	}
	*qmax = 0;
	chan_open(&a->set, CHAN_KIND_TCP, "h:1");
	chan_set_link_rtt(&a->set, link_us);
	for (t = 0; t < turns; t++, now += 1000) {
		chan_set_clock(&a->set, now);
		chan_set_clock(&b->set, now);
		if ((fed = chan_tx_room(a->set.ch[0])) > (1 << 20))
			fed = 1 << 20;
		assert_int_equal(chan_local_data(a->set.ch[0], src, fed), 0);
		k = t % rtt_turns;
		deliver_bytes(&b->set, &db, &ab[k]);
		deliver_bytes(&a->set, &da, &ba[k]);
		chan_pump(&a->set, &out, 1 << 30);
		buf_put(&q, buf_ptr(&out), buf_len(&out));
		buf_reset(&out);
		/* The bottleneck passes rate bytes a turn. */
		n = buf_len(&q) < rate ? buf_len(&q) : rate;
		buf_put(&ab[k], buf_ptr(&q), n);
		buf_consume(&q, n);
		if (t > turns / 2 && buf_len(&q) > *qmax)
			*qmax = buf_len(&q);
		chan_pump(&b->set, &ba[k], 1 << 30);
		if (b->set.n == 0)
			continue;
		got += buf_len(&b->set.ch[0]->rx);
		chan_written(b->set.ch[0], buf_len(&b->set.ch[0]->rx));
	}
	*queue = buf_len(&q);
	for (k = 0; k < rtt_turns; k++) {
		buf_free(&ab[k]);
		buf_free(&ba[k]);
	}
	buf_free(&out);
	buf_free(&q);
	frame_dec_free(&da);
	frame_dec_free(&db);
	free(src);
	return got;
}

/*
 * A forward saturating a slow path (10 Mbit/s, 2 ms round trip): it
 * keeps the path busy, and what queues at the bottleneck (what a typed
 * key waits behind) stays about a round trip and CHAN_FLIGHT_US of data,
 * not the 64 KiB floor or the queue counted as the round trip.
 */
static void
test_slow_path_keeps_its_queue_short(void **state)
{
	struct end	a, b;
	size_t		got, queue, qmax;

	(void)state;
	ends_init(&a, &b, 16);
	got = bottleneck_flow(&a, &b, 4000, 1, 1250, 2000, &queue, &qmax);
	assert_true(got > 4000 * 1250 * 8 / 10);	/* the path is used */
	/* 1.25 MB/s: 40 KB is 32 ms of data. */
	assert_true(qmax < 40 * 1000);
	ends_free(&a, &b);
}

/*
 * A pause in a transfer measures the application, not the path: the
 * in-flight bound keeps what the path showed, so the next burst does not
 * start again from the floor.
 */
static void
test_pause_keeps_the_bound(void **state)
{
	struct end	a, b;

	(void)state;
	ends_init(&a, &b, 16);
	/* 2 s of an endless source, then 2 s with nothing to send. */
	flow_feed_turns = 2000;
	clocked_flow(&a, &b, 4000, 10, 1 << 30);
	flow_feed_turns = -1;
	assert_true(flow_bound_then > CHAN_INFLIGHT_MAX);
	assert_int_equal(chan_inflight(&a.set), 0);
	assert_true(a.set.inflight_max >= flow_bound_then);
	ends_free(&a, &b);
}

/* A slow reader keeps the floor window: no memory for nothing. */
static void
test_window_stays_small_for_a_slow_reader(void **state)
{
	struct end	a, b;

	(void)state;
	ends_init(&a, &b, 16);
	/* 10 ms round trips, the reader takes 8 KiB/ms = 8 MB/s. */
	clocked_flow(&a, &b, 2000, 5, 8192);
	assert_int_equal(b.set.ch[0]->win, CHAN_WINDOW);
	assert_true(buf_len(&b.set.ch[0]->rx) <= CHAN_WINDOW);
	ends_free(&a, &b);
}

/*
 * A little news waits up to CHAN_ACK_US for more before its ACK goes
 * (chan_deadline() says when); a quarter window goes at once.
 */
static void
test_small_news_is_acked_a_little_later(void **state)
{
	struct end	 a, b;
	struct buf	 ab, ba;
	struct chan	*ch;
	uint8_t		 src[100] = { 0 };
	uint64_t	 now = 5000000;

	(void)state;
	ends_init(&a, &b, 16);
	buf_init(&ab, 0);
	buf_init(&ba, 0);
	chan_set_clock(&a.set, now);
	chan_set_clock(&b.set, now);
	ch = chan_open(&a.set, CHAN_KIND_TCP, "h:1");
	chan_pump(&a.set, &ab, 1 << 30);
	assert_int_equal(deliver(&b.set, &ab), 0);
	chan_pump(&b.set, &ba, 1 << 30);	/* the OPEN's ACK: at once */
	assert_int_equal(deliver(&a.set, &ba), 0);
	assert_int_equal(ch->confirmed, 1);
	assert_int_equal(chan_local_data(ch, src, sizeof src), 0);
	chan_pump(&a.set, &ab, 1 << 30);
	assert_int_equal(deliver(&b.set, &ab), 0);
	chan_pump(&b.set, &ba, 1 << 30);
	assert_int_equal(buf_len(&ba), 0);	/* waits */
	assert_int_equal(chan_deadline(&b.set), now + CHAN_ACK_US);
	/* Past due and not sent (no link): later, never a busy loop. */
	chan_set_clock(&b.set, now + 3 * CHAN_ACK_US);
	assert_int_equal(chan_deadline(&b.set), now + 4 * CHAN_ACK_US);
	chan_set_clock(&b.set, now + CHAN_ACK_US);
	chan_pump(&b.set, &ba, 1 << 30);
	assert_true(buf_len(&ba) > 0);
	assert_int_equal(chan_deadline(&b.set), 0);
	assert_int_equal(deliver(&a.set, &ba), 0);
	assert_int_equal(ring_len(&ch->tx), 0);
	buf_free(&ab);
	buf_free(&ba);
	ends_free(&a, &b);
}

/* A non-blocking pipe of one page, so that writes to it end short. */
static void
small_pipe(int fd[2])
{
	assert_int_equal(pipe(fd), 0);
	fcntl(fd[0], F_SETFL, O_NONBLOCK);
	fcntl(fd[1], F_SETFL, O_NONBLOCK);
#ifdef F_SETPIPE_SZ
	fcntl(fd[1], F_SETPIPE_SZ, 4096);
#endif
}

/* Read up to max bytes of fd onto the end of b; how many. */
static size_t
drain(int fd, struct buf *b, size_t max)
{
	uint8_t	tmp[8192];
	size_t	got = 0;
	ssize_t	n;

	while (got < max) {
		n = read(fd, tmp, max - got < sizeof tmp ? max - got :
		    sizeof tmp);
		if (n <= 0)
			break;
		assert_int_equal(buf_put(b, tmp, (size_t)n), 0);
		got += (size_t)n;
	}
	return got;
}

/* Hand s the whole frames at the front of b, keeping a partial one. */
static void
deliver_whole(struct chan_set *s, struct buf *b)
{
	struct frame	f;

	while (frame_peek_whole(b, &f) == 1) {
		assert_int_equal(chan_frame(s, f.type, f.p, f.len), 0);
		buf_consume(b, FRAME_HDR + f.len);
	}
}

/*
 * The copy-free paths (chan_write_data(), chan_rx_write()) with a peer
 * that takes a page at a time: a writes its data frames straight into a
 * small pipe (the rest of a frame the pipe took in part stays queued,
 * and goes after it, as the client's flush does), b writes what it
 * receives straight into another while nothing waits before it.  With
 * cuts (the pipe and the queue lost), every byte must arrive once.
 */
static void
direct(uint64_t seed, size_t total, int cuts)
{
	struct end	 a, b;
	struct buf	 ab, ba, stream, local;
	struct unit_rng	 rng;
	uint8_t		*up = malloc(total), *down = malloc(total);
	size_t		 fa = 0, fb = 0, n;
	int		 p[2], q[2], turn = 0;

	unit_rng_init(&rng, seed);
	pattern(up, total, 3);
	pattern(down, total, 4);
	ends_init(&a, &b, total);
	buf_init(&ab, 0);
	buf_init(&ba, 0);
	buf_init(&stream, 0);
	buf_init(&local, 0);
	small_pipe(p);
	small_pipe(q);
	b.set.rx_direct = 1;
	a.set.wbatch = 1 + (int)(seed % CHAN_WBATCH);	/* frames a writev */
	assert_non_null(chan_open(&a.set, CHAN_KIND_TCP, "h:1"));
	while (a.set.n > 0 || b.set.n > 0) {
		assert_true(++turn < 200000);
		feed(&a, up, total, &fa, 1 + unit_rng_next(&rng) % 70000);
		feed(&b, down, total, &fb, 1 + unit_rng_next(&rng) % 70000);
		/* a's flush, then its pump straight into the pipe. */
		if (!a.set.wblocked && buf_len(&ab) > 0)
			buf_write_fd(&ab, p[1]);
		a.set.wfd = p[1];
		chan_pump(&a.set, &ab, 1 + unit_rng_next(&rng) % 100000);
		a.set.wfd = -1;
		chan_pump(&b.set, &ba, 1 + unit_rng_next(&rng) % 100000);
		if (cuts > 0 && unit_rng_next(&rng) % 5 == 0) {
			drain(p[0], &stream, SIZE_MAX);
			buf_reset(&stream);
			buf_reset(&ab);
			if (unit_rng_next(&rng) % 2)
				buf_reset(&ba);
			assert_int_equal(deliver(&a.set, &ba), 0);
			chan_resume(&a.set);
			chan_resume(&b.set);
			a.set.wblocked = 0;
			cuts--;
			continue;
		}
		drain(p[0], &stream, unit_rng_next(&rng) % 50000);
		deliver_whole(&b.set, &stream);
		assert_int_equal(deliver(&a.set, &ba), 0);
		if (b.set.n > 0 && b.set.ch[0]->fd == -1)
			b.set.ch[0]->fd = q[1];
		if (b.set.n > 0) {
			/* b's owner: what waits in rx, then read the pipe. */
			n = buf_len(&b.set.ch[0]->rx);
			if (n > 0 && (n = (size_t)write(q[1],
			    buf_ptr(&b.set.ch[0]->rx), n)) != (size_t)-1)
				chan_written(b.set.ch[0], n);
			if (chan_rx_done(b.set.ch[0]))
				b.set.ch[0]->shut_wr = 1;
		}
		n = drain(q[0], &local, unit_rng_next(&rng) % 50000);
		memcpy(b.got + b.ngot, buf_ptr(&local), buf_len(&local));
		b.ngot += buf_len(&local);
		buf_reset(&local);
		take(&a, unit_rng_next(&rng) % 90000);
		chan_sweep(&a.set);
		if (b.set.n > 0 && b.set.ch[0]->shut_wr &&
		    b.set.ch[0]->fd != -1)
			b.set.ch[0]->fd = -1;	/* as fwd_close_fd() */
		chan_sweep(&b.set);
	}
	drain(q[0], &local, SIZE_MAX);
	memcpy(b.got + b.ngot, buf_ptr(&local), buf_len(&local));
	b.ngot += buf_len(&local);
	assert_int_equal(a.ngot, total);
	assert_int_equal(b.ngot, total);
	assert_memory_equal(a.got, down, total);
	assert_memory_equal(b.got, up, total);
	assert_int_equal(a.why, CHAN_R_DONE);
	assert_int_equal(b.why, CHAN_R_DONE);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	buf_free(&ab);
	buf_free(&ba);
	buf_free(&stream);
	buf_free(&local);
	ends_free(&a, &b);
	free(up);
	free(down);
}

/*
 * A channel held back by a full wfd is limited by the path, not by the
 * application: the rate sample must still be able to lower the bound
 * (else the bound stays at a burst's rate and typing waits behind it).
 */
static void
test_full_wfd_is_not_app_limited(void **state)
{
	struct end	 a, b;
	struct buf	 ab, ba;
	uint8_t		 junk[4096], data[65536];
	int		 p[2];

	(void)state;
	ends_init(&a, &b, 1);
	buf_init(&ab, 0);
	buf_init(&ba, 0);
	small_pipe(p);
	memset(junk, 'x', sizeof junk);
	memset(data, 'y', sizeof data);
	assert_non_null(chan_open(&a.set, CHAN_KIND_TCP, "h:1"));
	chan_pump(&a.set, &ab, 1 << 20);
	assert_int_equal(deliver(&b.set, &ab), 0);
	chan_pump(&b.set, &ba, 1 << 20);
	assert_int_equal(deliver(&a.set, &ba), 0);	/* a is synced */
	while (write(p[1], junk, sizeof junk) > 0)
		;				/* ssh stopped reading */
	assert_int_equal(chan_local_data(a.set.ch[0], data, sizeof data), 0);
	a.set.app_limited = 0;
	a.set.wfd = p[1];
	chan_pump(&a.set, &ab, 1 << 20);
	a.set.wfd = -1;
	assert_true(a.set.wblocked);
	assert_false(a.set.app_limited);
	close(p[0]);
	close(p[1]);
	buf_free(&ab);
	buf_free(&ba);
	ends_free(&a, &b);
}

/* Writing without copies through short writes, with and without cuts. */
static void
test_direct_writes(void **state)
{
	uint64_t	seed;

	(void)state;
	direct(1, 3 * CHAN_WINDOW + 777, 0);
	for (seed = 2; seed <= 8; seed++)
		direct(seed, 1024 * 1024 + seed, 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transfer),
		cmocka_unit_test(test_transfer_with_cuts),
		cmocka_unit_test(test_window_bounds_memory),
		cmocka_unit_test(test_inflight_bounded),
		cmocka_unit_test(test_bad_frames),
		cmocka_unit_test(test_refuse_and_reset),
		cmocka_unit_test(test_resent_open_of_an_ended_channel),
		cmocka_unit_test(test_channel_limit),
		cmocka_unit_test(test_window_adapts_to_the_path),
		cmocka_unit_test(test_slow_path_keeps_its_queue_short),
		cmocka_unit_test(test_pause_keeps_the_bound),
		cmocka_unit_test(test_window_stays_small_for_a_slow_reader),
		cmocka_unit_test(test_small_news_is_acked_a_little_later),
		cmocka_unit_test(test_direct_writes),
		cmocka_unit_test(test_full_wfd_is_not_app_limited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
