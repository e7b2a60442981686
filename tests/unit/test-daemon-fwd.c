/*
 * Unit tests for the daemon's copy-free channel writes (dfwd_pump() with
 * fwd_pump_to(), peer_flush(), peer_events()): a channel's data goes from
 * its ring straight to the client's socket behind what the peer's queue
 * holds.  The client's socket takes a few KiB at a time, so frames are
 * written in part; the test is the client, decoding what arrives with a
 * real channel end, and queues other frames between the pumps: every
 * frame must arrive whole and in order, the data once.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "buf.h"
#include "chan.h"
#include "daemon-fwd.h"
#include "daemon-int.h"
#include "err.h"
#include "frame.h"
#include "fwd.h"
#include "proto.h"

#define T0	1000000

/* The client's end of channels the daemon opens: accept them all. */
static int
cli_open(void *arg, struct chan *ch)
{
	(void)arg;
	(void)ch;
	return 0;
}

/* A channel went away. */
static void
cli_gone(void *arg, struct chan *ch, uint32_t why)
{
	(void)arg;
	(void)ch;
	(void)why;
}

static const struct chan_ops cli_ops = { cli_open, cli_gone };

/* Feed HELLO(attach, this version) from p. */
static void
hello(struct daemon *d, struct peer *p)
{
	struct msg_hello	h;
	struct buf		b;
	char			id[] = "";

	memset(&h, 0, sizeof h);
	h.version = PROTO_VERSION;
	h.op = OP_ATTACH;
	h.client_id = 1;
	h.id = id;
	buf_init(&b, 0);
	assert_int_equal(proto_hello_put(&b, &h), 0);
	assert_int_equal(daemon_feed(d, p, buf_ptr(&b), buf_len(&b), T0), 0);
	buf_free(&b);
}

/*
 * Read up to max bytes of the client's socket and hand out what arrived:
 * channel frames to cs, PONGs checked to come in the order queued.
 */
static void
client_read(int fd, struct frame_dec *dec, struct chan_set *cs,
    size_t max, uint64_t *pong)
{
	struct frame	f;
	uint8_t		tmp[16384];
	uint64_t	v;
	ssize_t		n;
	int		r;

	while (max > 0) {
		n = read(fd, tmp, max < sizeof tmp ? max : sizeof tmp);
		if (n <= 0) {
			assert_int_equal(errno, EAGAIN);
			break;
		}
		max -= (size_t)n;
		assert_int_equal(frame_dec_push(dec, tmp, (size_t)n), 0);
		while ((r = frame_dec_next(dec, &f)) == 1) {
			if (f.type >= MSG_CHAN_FIRST &&
			    f.type <= MSG_CHAN_LAST)
				assert_int_equal(chan_frame(cs, f.type, f.p,
				    f.len), 0);
			else if (f.type == MSG_PONG) {
				assert_int_equal(proto_u64_parse(f.p, f.len,
				    &v), 0);
				assert_int_equal(v, *pong);
				(*pong)++;
			}
		}
		assert_int_equal(r, 0);
	}
}

/*
 * A download (the daemon's channel sends) through a client socket that
 * takes a few KiB at a time, with PONGs queued between the pumps: the
 * stream stays whole frames in order, the data arrives once, and while
 * data waits for room the socket is polled for it.
 */
static void
test_direct_download(void **state)
{
	struct daemon		 d;
	struct peer		*p;
	struct chan_set		 cs;
	struct chan		*ch;
	struct frame_dec	 dec;
	struct buf		 cb;
	struct unit_rng		 rng;
	uint8_t			*data, *got;
	size_t			 total = 3 * 1024 * 1024, fed = 0, ngot = 0;
	size_t			 n, room;
	uint64_t		 now = T0, queued = 0, pong = 0;
	int			 sv[2], pp[2], tgt[2], turn = 0, waited = 0;
	int			 small = 4096, eof = 0;

	(void)state;
	unit_rng_init(&rng, 9);
	data = malloc(total);
	got = malloc(total);
	unit_rng_fill(&rng, data, total);
	daemon_init(&d, 64 * 1024, T0);
	assert_int_equal(pipe2(pp, O_NONBLOCK | O_CLOEXEC), 0);
	d.ptyfd = pp[1];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK,
	    0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof small), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK,
	    0, tgt), 0);
	p = daemon_add_peer(&d, sv[0], T0);
	hello(&d, p);
	assert_ptr_equal(d.client, p);

	/* A channel of the daemon's (as an -R connection), its socket. */
	ch = chan_open(&d.fwd->w.set, CHAN_KIND_TCP, "127.0.0.1:1");
	assert_non_null(ch);
	ch->fd = tgt[0];
	chan_set_init(&cs, 0, &cli_ops, NULL);
	frame_dec_init(&dec);
	buf_init(&cb, 0);
	while (ngot < total || !eof) {
		assert_true(++turn < 200000);
		now++;
		room = chan_tx_room(ch);
		n = 1 + unit_rng_below(&rng, 100000);
		if (n > room)
			n = room;
		if (n > total - fed)
			n = total - fed;
		if (n > 0)
			assert_int_equal(chan_local_data(ch, data + fed, n), 0);
		fed += n;
		if (fed == total && !eof) {
			chan_local_eof(ch);
			eof = 1;
		}
		if (unit_rng_below(&rng, 3) == 0)
			assert_int_equal(proto_u64_put(&p->out, MSG_PONG,
			    queued++), 0);
		daemon_tick(&d, now);
		assert_int_equal(peer_flush(p, now), 0);
		assert_false(p->dead);
		if (p->wwait) {
			waited++;
			assert_true(peer_events(p, 1) & POLLOUT);
		}
		client_read(sv[1], &dec, &cs, unit_rng_below(&rng, 40000),
		    &pong);
		if (cs.n > 0) {
			n = buf_len(&cs.ch[0]->rx);
			assert_true(ngot + n <= total);
			memcpy(got + ngot, buf_ptr(&cs.ch[0]->rx), n);
			ngot += n;
			chan_written(cs.ch[0], n);
		}
		(void)chan_pump(&cs, &cb, SIZE_MAX);
		if (buf_len(&cb) > 0)
			assert_int_equal(daemon_feed(&d, p, buf_ptr(&cb),
			    buf_len(&cb), now), 0);
		buf_reset(&cb);
	}
	/* The rest of the queue, then every PONG came, in order. */
	while (buf_len(&p->out) > 0 || pong < queued) {
		assert_true(++turn < 400000);
		assert_int_equal(peer_flush(p, ++now), 0);
		client_read(sv[1], &dec, &cs, SIZE_MAX, &pong);
	}
	assert_int_equal(pong, queued);
	assert_int_equal(ngot, total);
	assert_memory_equal(got, data, total);
	assert_true(waited > 0);	/* the socket did fill */
	buf_free(&cb);
	frame_dec_free(&dec);
	chan_set_free(&cs);
	daemon_free(&d);
	close(pp[0]);
	close(sv[1]);
	close(tgt[1]);
	free(data);
	free(got);
}

/* Run the daemon forwarding tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_download),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
