/*
 * libFuzzer target for the channel state machine (src/chan.c).  The input
 * is a script for two channel sets, a client's and a daemon's, joined by
 * two byte queues: open channels, feed them bytes and EOFs, let the local
 * sides write, pump and deliver frames, cut the link (what is in flight is
 * lost and both sides resume), reset channels, or inject a frame of any
 * type and payload.  While only honest frames were exchanged, no frame may
 * be refused and every byte written locally must be the one sent at that
 * offset; after an injected frame, a refused frame cuts the link, as the
 * real ends drop the peer.  The queues must stay within their windows
 * whatever happens; a crash or a leak is a finding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chan.h"
#include "frame.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define fuzz_check(e) do {						\
	if (!(e))							\
		__builtin_trap();					\
} while (0)

struct fz {
	struct chan_set	 set[2];
	struct buf	 q[2];		/* q[i]: frames from set i */
	int		 tainted;
	const uint8_t	*p;
	size_t		 n;
	uint64_t	 now;		/* the clock both ends see (us) */
};

/* Next script byte (0 once the script is over). */
static uint8_t
fz_byte(struct fz *z)
{
	if (z->n == 0)
		return 0;
	z->n--;
	return *z->p++;
}

/* The byte a channel carries at offset off. */
static uint8_t
fz_pattern(uint32_t id, uint64_t off)
{
	return (uint8_t)(off * 7 + id + (off >> 11));
}

/* Accept every open. */
static int
fz_open(void *arg, struct chan *ch)
{
	(void)arg;
	(void)ch;
	return 0;
}

/* Nothing to close. */
static void
fz_gone(void *arg, struct chan *ch, uint32_t why)
{
	(void)arg;
	(void)ch;
	(void)why;
}

static const struct chan_ops fz_ops = { fz_open, fz_gone };

/* The k-th channel of set i, or NULL. */
static struct chan *
fz_chan(struct fz *z, int i, uint8_t k)
{
	struct chan_set	*s = &z->set[i];

	return s->n == 0 ? NULL : s->ch[k % s->n];
}

/* A cut: both queues lost, both sides resume. */
static void
fz_cut(struct fz *z)
{
	buf_reset(&z->q[0]);
	buf_reset(&z->q[1]);
	chan_resume(&z->set[0]);
	chan_resume(&z->set[1]);
}

/* Deliver what set i queued to the other set. */
static void
fz_deliver(struct fz *z, int i)
{
	struct frame_dec	d;
	struct frame		f;
	size_t			off = 0, k;
	int			r = 0;

	frame_dec_init(&d);
	while (r == 0 && off < buf_len(&z->q[i])) {
		k = buf_len(&z->q[i]) - off;
		if (k > FRAME_HDR + FRAME_MAX_PAYLOAD)
			k = FRAME_HDR + FRAME_MAX_PAYLOAD;
		fuzz_check(frame_dec_push(&d, buf_ptr(&z->q[i]) + off,
		    k) == 0);
		off += k;
		while (r == 0 && frame_dec_next(&d, &f) == 1)
			r = chan_frame(&z->set[!i], f.type, f.p, f.len);
	}
	frame_dec_free(&d);
	buf_reset(&z->q[i]);
	if (r != 0) {
		fuzz_check(z->tainted);
		fz_cut(z);
	}
}

/* Feed channel ch of set i with up to n pattern bytes, or EOF. */
static void
fz_feed(struct chan *ch, size_t n, int eof)
{
	uint8_t	tmp[4096];
	size_t	i;

	if (ch == NULL)
		return;
	if (eof) {
		chan_local_eof(ch);
		return;
	}
	if (n > chan_tx_room(ch))
		n = chan_tx_room(ch);
	if (n > sizeof tmp)
		n = sizeof tmp;
	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		tmp[i] = fz_pattern(ch->id, ch->tx.end + i);
	fuzz_check(chan_local_data(ch, tmp, n) == 0);
}

/* The local side of ch writes up to n bytes; check them when honest. */
static void
fz_take(struct fz *z, struct chan *ch, size_t n)
{
	uint64_t	off;
	size_t		i;

	if (ch == NULL)
		return;
	if (n > buf_len(&ch->rx))
		n = buf_len(&ch->rx);
	off = ch->rx_have - buf_len(&ch->rx);
	for (i = 0; i < n && !z->tainted; i++)
		fuzz_check(buf_ptr(&ch->rx)[i] == fz_pattern(ch->id, off + i));
	chan_written(ch, n);
	if (chan_rx_done(ch))
		ch->shut_wr = 1;
}

/* Inject a frame of any channel type with a script payload into set i. */
static void
fz_inject(struct fz *z, int i)
{
	uint8_t		 type = MSG_CHAN_FIRST + fz_byte(z) % 6;
	uint8_t		 pay[64];
	size_t		 len = fz_byte(z) % sizeof pay, k;
	struct chan	*ch = fz_chan(z, i, fz_byte(z));

	for (k = 0; k < len; k++)
		pay[k] = fz_byte(z);
	/* Often aim at a real channel. */
	if (ch != NULL && len >= 4 && (pay[0] & 1)) {
		pay[0] = (uint8_t)(ch->id >> 24);
		pay[1] = (uint8_t)(ch->id >> 16);
		pay[2] = (uint8_t)(ch->id >> 8);
		pay[3] = (uint8_t)ch->id;
	}
	z->tainted = 1;
	if (chan_frame(&z->set[i], type, pay, len) != 0)
		fz_cut(z);
}

/* The bounds that must hold whatever the peer sent. */
static void
fz_invariants(struct fz *z)
{
	struct chan	*ch;
	int		 i, k;

	for (i = 0; i < 2; i++) {
		fuzz_check(z->set[i].n <= CHAN_MAX);
		fuzz_check(z->set[i].nowed <= CHAN_MAX);
		for (k = 0; k < z->set[i].n; k++) {
			ch = z->set[i].ch[k];
			fuzz_check(buf_len(&ch->rx) <= CHAN_WINDOW_MAX);
			fuzz_check(ring_len(&ch->tx) <=
			    CHAN_WINDOW_MAX + CHAN_WINDOW);
			fuzz_check(ch->win >= CHAN_WINDOW &&
			    ch->win <= CHAN_WINDOW_MAX);
			fuzz_check(ch->tx_sent >= ch->tx.start &&
			    ch->tx_sent <= ch->tx.end);
		}
	}
}

/* One script step. */
static void
fz_step(struct fz *z)
{
	uint8_t	op = fz_byte(z), a = fz_byte(z);
	int	i = op & 1;

	switch ((op >> 1) % 10) {
	case 0:
		chan_open(&z->set[i], i ? CHAN_KIND_AGENT : CHAN_KIND_TCP,
		    "h:1");
		break;
	case 1:
		fz_feed(fz_chan(z, i, a), (size_t)fz_byte(z) << 6, 0);
		break;
	case 2:
		fz_feed(fz_chan(z, i, a), 0, 1);
		break;
	case 3:
		fz_take(z, fz_chan(z, i, a), (size_t)fz_byte(z) << 8);
		break;
	case 4:
		/* Time passes (the windows adapt to it), then a turn. */
		z->now += (uint64_t)fz_byte(z) << 7;
		chan_set_clock(&z->set[0], z->now);
		chan_set_clock(&z->set[1], z->now);
		chan_pump(&z->set[i], &z->q[i], (size_t)a << 10);
		fuzz_check(z->set[i].inflight_max >= CHAN_INFLIGHT_MIN &&
		    z->set[i].inflight_max <= CHAN_INFLIGHT_CAP);
		break;
	case 5:
		fz_deliver(z, i);
		break;
	case 6:
		fz_cut(z);
		break;
	case 7:
		if (fz_chan(z, i, a) != NULL)
			chan_reset(&z->set[i], fz_chan(z, i, a), CHAN_R_RESET);
		break;
	case 8:
		chan_sweep(&z->set[i]);
		break;
	case 9:
		if (a < 32)
			fz_inject(z, i);
		break;
	}
	fz_invariants(z);
}

/* Run one script. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz	z;

	memset(&z, 0, sizeof z);
	z.now = 1000000;
	z.p = data;
	z.n = size;
	chan_set_init(&z.set[0], 0, &fz_ops, NULL);
	chan_set_init(&z.set[1], CHAN_ID_DAEMON, &fz_ops, NULL);
	buf_init(&z.q[0], 0);
	buf_init(&z.q[1], 0);
	while (z.n > 0)
		fz_step(&z);
	chan_set_free(&z.set[0]);
	chan_set_free(&z.set[1]);
	buf_free(&z.q[0]);
	buf_free(&z.q[1]);
	return 0;
}
