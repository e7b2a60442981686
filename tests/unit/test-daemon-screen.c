/*
 * Unit tests for src/daemon-screen.c: the daemon's screen model fed behind
 * the stream, and the snapshot (MSG_SCREEN) an attaching client gets.  The
 * daemon runs without a PTY or listener: output is put in its rings as
 * daemon_read_pty() does, peers are socketpairs whose frames the tests
 * decode from the peer's output buffer.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "buf.h"
#include "clock.h"
#include "daemon-int.h"
#include "frame.h"
#include "proto.h"

#define T0	1000000

static int	noticed;	/* NOTICE frames sent() saw before SCREEN */

struct fix {
	struct daemon	d;
	int		far[8];
	int		nfar;
};

/* A daemon of 10 x 40 with a ring of ring bytes. */
static void
fix_init(struct fix *x, size_t ring)
{
	memset(x, 0, sizeof *x);
	daemon_init(&x->d, ring, T0);
	x->d.rows = 10;
	x->d.cols = 40;
}

/* Free the daemon and the test's ends. */
static void
fix_free(struct fix *x)
{
	int	i;

	daemon_free(&x->d);
	for (i = 0; i < x->nfar; i++)
		close(x->far[i]);
}

/* Output from the program, as daemon_read_pty() takes it. */
static void
out(struct fix *x, const char *s, size_t n)
{
	assert_int_equal(ring_append(&x->d.out, s, n, 1), 0);
	daemon_screen_out(&x->d, s, n);
}

/* A peer that sends HELLO(ATTACH) with flags and out_have. */
static struct peer *
attach(struct fix *x, uint8_t flags, uint64_t have)
{
	struct msg_hello	 h;
	struct buf		 b;
	struct peer		*p;
	char			 id[] = "";
	int			 sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK,
	    0, sv), 0);
	x->far[x->nfar++] = sv[1];
	p = daemon_add_peer(&x->d, sv[0], T0);
	memset(&h, 0, sizeof h);
	h.version = PROTO_VERSION;
	h.op = OP_ATTACH;
	h.flags = flags;
	h.client_id = 7;
	h.out_have = have;
	h.rows = 10;
	h.cols = 40;
	h.id = id;
	buf_init(&b, 0);
	assert_int_equal(proto_hello_put(&b, &h), 0);
	daemon_feed(&x->d, p, buf_ptr(&b), buf_len(&b), T0);
	buf_free(&b);
	return p;
}

/*
 * What p was sent: WELCOME's out_start, and the snapshot's bytes (NUL
 * ended), offset and flags; returns the number of SCREEN frames.
 */
static int
sent(struct peer *p, uint64_t *start, struct buf *snap, uint64_t *off,
    uint8_t *flags)
{
	struct frame_dec	dec;
	struct frame		f;
	struct msg_welcome	w;
	struct msg_screen	m;
	int			n = 0, final = 0;
	size_t			at = 0, k;

	noticed = 0;
	frame_dec_init(&dec);
	for (;;) {
		if (frame_dec_next(&dec, &f) != 1) {
			if (at == buf_len(&p->out))
				break;
			k = buf_len(&p->out) - at > 4096 ? 4096 :
			    buf_len(&p->out) - at;
			assert_int_equal(frame_dec_push(&dec,
			    buf_ptr(&p->out) + at, k), 0);
			at += k;
			continue;
		}
		if (f.type == MSG_NOTICE && n == 0)
			noticed++;
		if (f.type == MSG_WELCOME) {
			assert_int_equal(proto_welcome_parse(f.p, f.len, &w),
			    0);
			*start = w.out_start;
			proto_welcome_free(&w);
		} else if (f.type == MSG_SCREEN) {
			assert_int_equal(final, 0);	/* nothing after it */
			assert_int_equal(proto_screen_parse(f.p, f.len, &m),
			    0);
			buf_put(snap, m.p, m.len);
			*off = m.off;
			*flags = m.flags;
			final = (m.flags & SCREEN_FINAL) != 0;
			if (final)
				assert_true(m.rowlen > 0);
			free(m.program);
			n++;
		}
	}
	assert_int_equal(n == 0 || final, 1);
	buf_put(snap, "", 1);
	frame_dec_free(&dec);
	return n;
}

/* A fresh attach gets the screen, and the stream goes on from it. */
static void
test_fresh_attach(void **state)
{
	struct fix	 x;
	struct buf	 snap;
	uint64_t	 start = 0, off = 0;
	uint8_t		 flags = 0;
	const char	*s = "first line\r\n\033[31mred text\033[0m\r\n$ ";

	(void)state;
	fix_init(&x, 64 * 1024);
	out(&x, s, strlen(s));
	assert_true(daemon_screen_busy(&x.d));
	buf_init(&snap, BUF_MAX_DEFAULT);
	assert_int_equal(sent(attach(&x, 0, 0), &start, &snap, &off,
	    &flags), 1);
	assert_int_equal(start, strlen(s));	/* caught up at once */
	assert_int_equal(off, start);
	assert_int_equal(flags & SCREEN_GAP, 0);
	assert_int_equal(noticed, 0);
	assert_non_null(strstr((char *)buf_ptr(&snap), "first line"));
	assert_non_null(strstr((char *)buf_ptr(&snap), "red text"));
	assert_false(daemon_screen_busy(&x.d));
	buf_free(&snap);
	fix_free(&x);
}

/* A client that resumes inside the ring gets the stream, no snapshot. */
static void
test_resume_in_ring(void **state)
{
	struct fix	x;
	struct buf	snap;
	uint64_t	start = 0, off = 0;
	uint8_t		flags = 0;

	(void)state;
	fix_init(&x, 64 * 1024);
	out(&x, "abc\r\n", 5);
	buf_init(&snap, BUF_MAX_DEFAULT);
	assert_int_equal(sent(attach(&x, HELLO_RESUME, 2), &start, &snap,
	    &off, &flags), 0);
	assert_int_equal(start, 2);
	buf_free(&snap);
	fix_free(&x);
}

/*
 * A client that comes back after more output than the ring holds gets the
 * lines that scrolled off since, on a cleared screen, and the screen.
 */
static void
test_resume_past_ring(void **state)
{
	struct fix	 x;
	struct buf	 snap;
	uint64_t	 start = 0, off = 0;
	uint8_t		 flags = 0;
	char		 line[64];
	int		 i, n;
	const char	*s;

	(void)state;
	fix_init(&x, 64 * 1024);
	for (i = 0; i < 8000; i++) {
		n = snprintf(line, sizeof line, "line %04d\r\n", i);
		out(&x, line, (size_t)n);
		daemon_screen_step(&x.d, 1);
	}
	assert_true(x.d.out.start > 1000);
	buf_init(&snap, BUF_MAX_DEFAULT);
	assert_int_equal(sent(attach(&x, HELLO_RESUME, 1000), &start, &snap,
	    &off, &flags) >= 1, 1);
	assert_int_equal(off, start);
	assert_int_equal(noticed, 1);	/* the bytes lost, before it */
	s = (const char *)buf_ptr(&snap);
	assert_memory_equal(s, "\033[0m\033[H\033[2J", 11);
	assert_null(strstr(s, "line 0050\r"));	/* the client has it */
	assert_non_null(strstr(s, "line 7500\033"));
	assert_non_null(strstr(s, "line 7999\033"));
	buf_free(&snap);
	fix_free(&x);
}

/*
 * A model that falls behind so far that its ring overwrites what it has
 * not read starts again; the snapshot says older output is gone.
 */
static void
test_overflow_resync(void **state)
{
	struct fix	 x;
	struct buf	 snap, big;
	uint64_t	 start = 0, off = 0, t0;
	uint8_t		 flags = 0;
	int		 i;

	(void)state;
	fix_init(&x, 64 * 1024);
	buf_init(&big, BUF_MAX_DEFAULT);
	for (i = 0; i < 20000; i++)
		buf_put(&big, "0123456789\r\n", 12);
	buf_put(&big, "\033[2J\033[HLAST SCREEN", 18);
	out(&x, (const char *)buf_ptr(&big), buf_len(&big));
	/*
	 * Let the model read what the ring holds first: the attach's own
	 * catch-up is bounded in time, which a loaded machine under ASan
	 * may exceed (the test failed so twice).
	 */
	t0 = clock_ms();
	while (daemon_screen_busy(&x.d) && clock_ms() - t0 < 10000)
		daemon_screen_step(&x.d, 1);
	buf_init(&snap, BUF_MAX_DEFAULT);
	assert_int_equal(sent(attach(&x, 0, 0), &start, &snap, &off,
	    &flags) >= 1, 1);
	/* Told by the NOTICE before the snapshot, not by GAP again. */
	assert_int_equal(noticed, 1);
	assert_int_equal(flags & SCREEN_GAP, 0);
	assert_true(x.d.vt_gap > 0);
	assert_true(start >= x.d.out.start);
	assert_non_null(strstr((char *)buf_ptr(&snap), "LAST SCREEN"));
	buf_free(&snap);
	buf_free(&big);
	fix_free(&x);
}

/*
 * In a flood the model waits instead of spinning a CPU on output that
 * will scroll away (it cost bulk throughput a fifth on two cores), and
 * catches up once the output pauses.
 */
static void
test_flood_waits(void **state)
{
	struct fix	 x;
	struct buf	 big;
	uint64_t	 t0;
	size_t		 held;
	int		 i, w;

	(void)state;
	fix_init(&x, 4 * 1024 * 1024);
	buf_init(&big, BUF_MAX_DEFAULT);
	for (i = 0; i < 400 * 1024 / 12; i++)
		buf_put(&big, "0123456789\r\n", 12);
	out(&x, (const char *)buf_ptr(&big), buf_len(&big));
	held = ring_len(&x.d.vt_in);
	assert_true(held > VT_LAG);
	daemon_screen_step(&x.d, 1);
	daemon_screen_step(&x.d, 0);
	assert_int_equal(ring_len(&x.d.vt_in), held);
	w = daemon_screen_wait(&x.d, clock_ms());
	assert_true(w > 0 && w <= VT_RATE_MS);
	/* The output stops: the model reads it all, soon. */
	t0 = clock_ms();
	while (daemon_screen_busy(&x.d) && clock_ms() - t0 < 5000)
		daemon_screen_step(&x.d, 1);
	assert_false(daemon_screen_busy(&x.d));
	assert_true(clock_ms() - t0 >= VT_RATE_MS);
	assert_int_equal(x.d.vt_gap, 0);
	buf_free(&big);
	fix_free(&x);
}

/* Size changes reach the model where they happened in the stream. */
static void
test_resize_in_order(void **state)
{
	struct fix	 x;
	struct buf	 snap;
	uint64_t	 start = 0, off = 0;
	uint8_t		 flags = 0;
	int		 i;

	(void)state;
	fix_init(&x, 64 * 1024);
	out(&x, "\033[10;40Hcorner", 14);
	x.d.rows = 5;
	x.d.cols = 20;
	daemon_screen_resized(&x.d);
	out(&x, "\033[5;15Hsmall", 12);
	/* A step has a time budget: a preempted one may leave bytes. */
	for (i = 0; i < 1000 && daemon_screen_busy(&x.d); i++)
		daemon_screen_step(&x.d, 1);
	assert_false(daemon_screen_busy(&x.d));
	/* The client's size (10 x 40) comes with its HELLO. */
	buf_init(&snap, BUF_MAX_DEFAULT);
	assert_int_equal(sent(attach(&x, 0, 0), &start, &snap, &off,
	    &flags), 1);
	assert_non_null(strstr((char *)buf_ptr(&snap), "small"));
	buf_free(&snap);
	fix_free(&x);
}

/*
 * Only a peer of PROTO_V_SCREEN or later gets a snapshot, once the
 * protocol version has reached it (before, every peer is this build).
 */
static void
test_old_peer(void **state)
{
	struct fix		x;
	struct msg_hello	h;

	(void)state;
	fix_init(&x, 64 * 1024);
	memset(&h, 0, sizeof h);
	h.op = OP_ATTACH;
	h.version = PROTO_V_SCREEN;
	assert_true(daemon_screen_wanted(&x.d, &h));
	h.version = PROTO_V_SCREEN - 1;
	assert_int_equal(daemon_screen_wanted(&x.d, &h),
	    PROTO_VERSION < PROTO_V_SCREEN);
	h.version = PROTO_V_SCREEN;
	h.op = OP_NEW;
	assert_false(daemon_screen_wanted(&x.d, &h));
	fix_free(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_attach),
		cmocka_unit_test(test_resume_in_ring),
		cmocka_unit_test(test_resume_past_ring),
		cmocka_unit_test(test_overflow_resync),
		cmocka_unit_test(test_flood_waits),
		cmocka_unit_test(test_resize_in_order),
		cmocka_unit_test(test_old_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
