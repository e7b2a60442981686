/*
 * Unit tests for src/frame.c: the frame encoder and the push decoder, fed
 * whole, one byte at a time, in random splits, truncated, oversized and
 * corrupted.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "buf.h"
#include "err.h"
#include "frame.h"

#define NFRAMES	400

/* Keeps the reads of corrupted frames from being optimized away. */
static volatile unsigned long sink;

/* A stream of frames and where each one's payload is. */
struct stream {
	struct buf	 b;
	int		 n;
	uint8_t		 type[NFRAMES];
	size_t		 off[NFRAMES];	/* payload offset in b */
	size_t		 len[NFRAMES];
};

/* Build a stream of random frames, mostly small, some at the limit. */
static void
stream_make(struct stream *s, uint64_t seed, int n)
{
	struct unit_rng	 rng;
	uint8_t		*p;
	size_t		 len, mark;
	int		 i, k;

	unit_rng_init(&rng, seed);
	buf_init(&s->b, 0);
	s->n = n;
	p = malloc(FRAME_MAX_PAYLOAD);
	assert_non_null(p);
	for (i = 0; i < n; i++) {
		k = (int)unit_rng_below(&rng, 20);
		if (k == 0)
			len = 0;
		else if (k == 1)
			len = FRAME_MAX_PAYLOAD;
		else if (k < 4)
			len = unit_rng_below(&rng, FRAME_MAX_PAYLOAD + 1);
		else
			len = unit_rng_below(&rng, 64);
		unit_rng_fill(&rng, p, len);
		s->type[i] = (uint8_t)unit_rng_next(&rng);
		mark = buf_len(&s->b);
		assert_int_equal(frame_put(&s->b, s->type[i], p, len), 0);
		s->off[i] = mark + FRAME_HDR;
		s->len[i] = len;
	}
	free(p);
}

/* Check that frame f is frame i of the stream. */
static void
stream_check(const struct stream *s, int i, const struct frame *f)
{
	assert_true(i < s->n);
	assert_int_equal(f->type, s->type[i]);
	assert_int_equal(f->len, s->len[i]);
	if (f->len > 0)
		assert_memory_equal(f->p, buf_ptr(&s->b) + s->off[i], f->len);
}

/*
 * Feed the stream in chunks whose sizes come from sizer, taking frames as
 * they complete; every frame must come out once, in order.
 */
static void
stream_feed(const struct stream *s, size_t (*sizer)(struct unit_rng *),
    uint64_t seed)
{
	struct unit_rng		 rng;
	struct frame_dec	 d;
	struct frame		 f;
	const uint8_t		*p = buf_ptr(&s->b);
	size_t			 left = buf_len(&s->b), n;
	int			 got = 0, r;

	unit_rng_init(&rng, seed);
	frame_dec_init(&d);
	while (left > 0) {
		n = sizer(&rng);
		if (n > left)
			n = left;
		assert_int_equal(frame_dec_push(&d, p, n), 0);
		p += n;
		left -= n;
		while ((r = frame_dec_next(&d, &f)) == 1)
			stream_check(s, got++, &f);
		assert_int_equal(r, 0);
	}
	assert_int_equal(got, s->n);
	assert_int_equal(frame_dec_buffered(&d), 0);
	frame_dec_free(&d);
}

/* Chunk sizers for stream_feed(): one byte at a time... */
static size_t
size_one(struct unit_rng *rng)
{
	(void)rng;
	return 1;
}

/* ...a few bytes... */
static size_t
size_small(struct unit_rng *rng)
{
	return 1 + unit_rng_below(rng, 16);
}

/* ...anything up to a whole maximal frame... */
static size_t
size_any(struct unit_rng *rng)
{
	return 1 + unit_rng_below(rng, FRAME_HDR + FRAME_MAX_PAYLOAD);
}

/* ...or around a header's length, to split headers every way. */
static size_t
size_header(struct unit_rng *rng)
{
	return 1 + unit_rng_below(rng, 2 * FRAME_HDR);
}

/* The header is the type and a big-endian payload length. */
static void
test_encoding(void **state)
{
	static const uint8_t	 want[] = { 7, 0, 0, 0, 3, 'a', 'b', 'c',
					    200, 0, 0, 0, 0 };
	struct buf		 b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(frame_put(&b, 7, "abc", 3), 0);
	assert_int_equal(frame_put(&b, 200, NULL, 0), 0);
	assert_int_equal(buf_len(&b), sizeof want);
	assert_memory_equal(buf_ptr(&b), want, sizeof want);
	buf_free(&b);
}

/* frame_begin/frame_end wrap a payload built in place. */
static void
test_begin_end(void **state)
{
	static const uint8_t	 want[] = { 'x', 9, 0, 0, 0, 6,
					    0x12, 0x34, 1, 2, 3, 4 };
	struct buf		 b;
	size_t			 mark;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_put_u8(&b, 'x'), 0);
	assert_int_equal(frame_begin(&b, 9, &mark), 0);
	assert_int_equal(mark, 1);
	assert_int_equal(buf_put_u16(&b, 0x1234), 0);
	assert_int_equal(buf_put_u32(&b, 0x01020304), 0);
	assert_int_equal(frame_end(&b, mark), 0);
	assert_memory_equal(buf_ptr(&b), want, sizeof want);
	/* A mark past the end is refused. */
	assert_int_equal(frame_end(&b, buf_len(&b)), ERR_RANGE);
	buf_free(&b);
}

/*
 * A payload over the limit is refused by the encoder, and the buffer is
 * left as it was: a half-written frame would corrupt the stream.
 */
static void
test_put_too_big(void **state)
{
	struct buf	 b;
	uint8_t		*p;

	(void)state;
	p = calloc(1, FRAME_MAX_PAYLOAD + 1);
	assert_non_null(p);
	buf_init(&b, 0);
	assert_int_equal(frame_put(&b, 3, "ok", 2), 0);
	assert_int_equal(frame_put(&b, 3, p, FRAME_MAX_PAYLOAD + 1),
	    ERR_TOOBIG);
	assert_int_equal(buf_len(&b), FRAME_HDR + 2);
	assert_int_equal(frame_put(&b, 3, p, FRAME_MAX_PAYLOAD), 0);
	assert_int_equal(buf_len(&b), 2 * FRAME_HDR + 2 + FRAME_MAX_PAYLOAD);
	buf_free(&b);
	free(p);
}

/* One frame in, the same frame out, for every payload size class. */
static void
test_round_trip(void **state)
{
	static const size_t	 sizes[] = { 0, 1, 2, 255, 256, 4096,
					     FRAME_MAX_PAYLOAD - 1,
					     FRAME_MAX_PAYLOAD };
	struct unit_rng		 rng;
	struct frame_dec	 d;
	struct frame		 f;
	struct buf		 b;
	uint8_t			*p;
	size_t			 i;

	(void)state;
	unit_rng_init(&rng, 2);
	p = malloc(FRAME_MAX_PAYLOAD);
	assert_non_null(p);
	frame_dec_init(&d);
	buf_init(&b, 0);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		buf_reset(&b);
		unit_rng_fill(&rng, p, sizes[i]);
		assert_int_equal(frame_put(&b, (uint8_t)i, p, sizes[i]), 0);
		assert_int_equal(frame_dec_push(&d, buf_ptr(&b),
		    buf_len(&b)), 0);
		assert_int_equal(frame_dec_next(&d, &f), 1);
		assert_int_equal(f.type, i);
		assert_int_equal(f.len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(f.p, p, sizes[i]);
		assert_int_equal(frame_dec_buffered(&d), 0);
		assert_int_equal(frame_dec_next(&d, &f), 0);
	}
	buf_free(&b);
	frame_dec_free(&d);
	free(p);
}

/* A stream fed one byte at a time gives the same frames. */
static void
test_stream_bytewise(void **state)
{
	struct stream	s;

	(void)state;
	stream_make(&s, 3, 120);
	stream_feed(&s, size_one, 0);
	buf_free(&s.b);
}

/* ... and so do random splits of several shapes and seeds. */
static void
test_stream_random_splits(void **state)
{
	struct stream	s;
	uint64_t	seed;

	(void)state;
	stream_make(&s, 4, NFRAMES);
	for (seed = 0; seed < 4; seed++) {
		stream_feed(&s, size_small, seed);
		stream_feed(&s, size_any, seed);
		stream_feed(&s, size_header, seed);
	}
	buf_free(&s.b);
}

/* Every proper prefix of a frame means "need more", then it completes. */
static void
test_truncation(void **state)
{
	struct frame_dec	 d;
	struct frame		 f;
	struct buf		 b;
	size_t			 cut, total;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(frame_put(&b, 5, "0123456789", 10), 0);
	total = buf_len(&b);
	for (cut = 0; cut < total; cut++) {
		frame_dec_init(&d);
		assert_int_equal(frame_dec_push(&d, buf_ptr(&b), cut), 0);
		assert_int_equal(frame_dec_next(&d, &f), 0);
		assert_int_equal(frame_dec_next(&d, &f), 0);
		assert_int_equal(frame_dec_buffered(&d), cut);
		assert_int_equal(frame_dec_push(&d, buf_ptr(&b) + cut,
		    total - cut), 0);
		assert_int_equal(frame_dec_next(&d, &f), 1);
		assert_int_equal(f.type, 5);
		assert_int_equal(f.len, 10);
		assert_memory_equal(f.p, "0123456789", 10);
		frame_dec_free(&d);
	}
	buf_free(&b);
}

/*
 * A length over the limit is refused as soon as the header is in, before
 * any payload is buffered; the limit itself is accepted.
 */
static void
test_too_big(void **state)
{
	static const uint32_t	 lens[] = { FRAME_MAX_PAYLOAD + 1,
					    FRAME_MAX_PAYLOAD * 2,
					    0x7fffffff, 0xffffffff };
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			 h[FRAME_HDR];
	size_t			 i;
	uint32_t		 len;

	(void)state;
	for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		len = lens[i];
		h[0] = 3;
		h[1] = len >> 24;
		h[2] = len >> 16;
		h[3] = len >> 8;
		h[4] = len;
		frame_dec_init(&d);
		assert_int_equal(frame_dec_push(&d, h, 4), 0);
		assert_int_equal(frame_dec_next(&d, &f), 0);
		assert_int_equal(frame_dec_push(&d, h + 4, 1), 0);
		assert_int_equal(frame_dec_next(&d, &f), ERR_TOOBIG);
		assert_int_equal(frame_dec_buffered(&d), FRAME_HDR);
		/* It stays refused. */
		assert_int_equal(frame_dec_next(&d, &f), ERR_TOOBIG);
		frame_dec_free(&d);
	}
	len = FRAME_MAX_PAYLOAD;
	h[1] = len >> 24;
	h[2] = len >> 16;
	h[3] = len >> 8;
	h[4] = len;
	frame_dec_init(&d);
	assert_int_equal(frame_dec_push(&d, h, sizeof h), 0);
	assert_int_equal(frame_dec_next(&d, &f), 0);
	frame_dec_free(&d);
}

/* A caller that never drains the decoder is stopped at its bound. */
static void
test_push_bound(void **state)
{
	struct frame_dec	 d;
	uint8_t			*p;
	size_t			 cap = 2 * (FRAME_HDR + FRAME_MAX_PAYLOAD);

	(void)state;
	p = calloc(1, cap + 1);
	assert_non_null(p);
	frame_dec_init(&d);
	assert_int_equal(frame_dec_push(&d, p, cap + 1), ERR_FULL);
	assert_int_equal(frame_dec_buffered(&d), 0);
	assert_int_equal(frame_dec_push(&d, p, cap), 0);
	assert_int_equal(frame_dec_push(&d, p, 1), ERR_FULL);
	frame_dec_free(&d);
	free(p);
}

/*
 * Corrupted streams (bit flips, random bytes, random garbage) never crash
 * the decoder; it either hands out frames within bounds, asks for more,
 * or refuses with ERR_TOOBIG.
 */
static void
test_corruption(void **state)
{
	struct unit_rng		 rng;
	struct stream		 s;
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			*copy;
	size_t			 len, i, n, flips, left;
	const uint8_t		*p;
	int			 round, r, frames;
	unsigned long		 sum = 0;

	(void)state;
	stream_make(&s, 5, 60);
	len = buf_len(&s.b);
	copy = malloc(len);
	assert_non_null(copy);
	unit_rng_init(&rng, 6);
	for (round = 0; round < 300; round++) {
		memcpy(copy, buf_ptr(&s.b), len);
		if (round % 3 == 2)
			unit_rng_fill(&rng, copy, len);
		else {
			flips = 1 + unit_rng_below(&rng, 8);
			for (i = 0; i < flips; i++)
				copy[unit_rng_below(&rng, len)] ^=
				    1 << unit_rng_below(&rng, 8);
		}
		frame_dec_init(&d);
		p = copy;
		left = len;
		frames = 0;
		r = 0;
		while (left > 0 && r >= 0) {
			n = 1 + unit_rng_below(&rng, 3 * FRAME_HDR);
			if (n > left)
				n = left;
			assert_int_equal(frame_dec_push(&d, p, n), 0);
			p += n;
			left -= n;
			while ((r = frame_dec_next(&d, &f)) == 1) {
				assert_true(f.len <= FRAME_MAX_PAYLOAD);
				/* Read every byte: ASan checks the bounds. */
				for (i = 0; i < f.len; i++)
					sum += f.p[i];
				frames++;
			}
			assert_true(r == 0 || r == ERR_TOOBIG);
		}
		assert_true(frame_dec_buffered(&d) <= len);
		assert_true(frames <= 1 + (int)(len / FRAME_HDR));
		frame_dec_free(&d);
	}
	sink = sum;
	free(copy);
	buf_free(&s.b);
}

/* Reading from an fd fills the decoder no more than a frame ahead. */
static void
test_read_fd(void **state)
{
	struct stream		 s;
	struct frame_dec	 d;
	struct frame		 f;
	const uint8_t		*p;
	size_t			 left;
	ssize_t			 w, r;
	int			 fds[2], got = 0, k;

	(void)state;
	stream_make(&s, 7, 50);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
	frame_dec_init(&d);
	p = buf_ptr(&s.b);
	left = buf_len(&s.b);
	while (left > 0 || got < s.n) {
		if (left > 0) {
			w = write(fds[1], p, left);
			if (w > 0) {
				p += w;
				left -= w;
			} else
				assert_int_equal(errno, EAGAIN);
		}
		r = frame_dec_read(&d, fds[0]);
		if (r < 0)
			assert_int_equal(errno, EAGAIN);
		assert_true(frame_dec_buffered(&d) <=
		    2 * (FRAME_HDR + FRAME_MAX_PAYLOAD));
		while ((k = frame_dec_next(&d, &f)) == 1)
			stream_check(&s, got++, &f);
		assert_int_equal(k, 0);
	}
	close(fds[1]);
	assert_int_equal(frame_dec_read(&d, fds[0]), 0);
	close(fds[0]);
	frame_dec_free(&d);
	buf_free(&s.b);
}

/* Put frame type t of n bytes of value v on b; its length on b. */
static size_t
put_fill(struct buf *b, uint8_t t, size_t n, uint8_t v)
{
	uint8_t	*p = malloc(n + 1);

	assert_non_null(p);
	memset(p, v, n);
	assert_int_equal(frame_put(b, t, p, n), 0);
	free(p);
	return FRAME_HDR + n;
}

/* Take the next frame and check its type, length and first byte. */
static void
next_is(struct frame_dec *d, uint8_t t, size_t n, uint8_t v)
{
	struct frame	f;

	assert_int_equal(frame_dec_next(d, &f), 1);
	assert_int_equal(f.type, t);
	assert_int_equal(f.len, n);
	if (n > 0) {
		assert_int_equal(f.p[0], v);
		assert_int_equal(f.p[n - 1], v);
	}
}

/*
 * A decoder from frame_dec_init_size() takes several frames and a
 * partial one in one read (one frame at most for frame_dec_init()), hands
 * the whole ones out in order, keeps the partial one until its rest
 * comes, and never holds more than its size.
 */
static void
test_read_fd_many(void **state)
{
	struct frame_dec	 d, one;
	struct buf		 b;
	size_t			 head, total, i;
	ssize_t			 r;
	int			 fds[2], big = 1 << 20;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    fds), 0);
	setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	buf_init(&b, 0);
	put_fill(&b, 1, 60000, 'a');
	put_fill(&b, 2, FRAME_MAX_PAYLOAD, 'b');
	for (i = 0; i < 10; i++)
		put_fill(&b, 3, i, (uint8_t)i);
	head = buf_len(&b);
	put_fill(&b, 4, 3000, 'c');
	total = buf_len(&b);
	/* All but the last frame's last 2000 bytes: a partial frame. */
	assert_int_equal(write(fds[1], buf_ptr(&b), total - 2000),
	    (ssize_t)(total - 2000));
	frame_dec_init_size(&d, 256 * 1024);
	r = frame_dec_read(&d, fds[0]);
	assert_int_equal(r, (ssize_t)(total - 2000));
	assert_true((size_t)r > FRAME_HDR + FRAME_MAX_PAYLOAD);
	next_is(&d, 1, 60000, 'a');
	next_is(&d, 2, FRAME_MAX_PAYLOAD, 'b');
	for (i = 0; i < 10; i++)
		next_is(&d, 3, i, (uint8_t)i);
	assert_int_equal(frame_dec_next(&d, &(struct frame){ 0 }), 0);
	assert_int_equal(frame_dec_buffered(&d), total - 2000 - head);
	r = frame_dec_read(&d, fds[0]);
	assert_int_equal(r, -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(write(fds[1], buf_ptr(&b) + total - 2000, 2000),
	    2000);
	assert_int_equal(frame_dec_read(&d, fds[0]), 2000);
	next_is(&d, 4, 3000, 'c');
	assert_int_equal(frame_dec_next(&d, &(struct frame){ 0 }), 0);
	assert_int_equal(frame_dec_buffered(&d), 0);

	/* The one-frame decoder takes the same bytes a frame at a time. */
	assert_int_equal(write(fds[1], buf_ptr(&b), total), (ssize_t)total);
	frame_dec_init(&one);
	r = frame_dec_read(&one, fds[0]);
	assert_int_equal(r, (ssize_t)(FRAME_HDR + FRAME_MAX_PAYLOAD));
	next_is(&one, 1, 60000, 'a');
	frame_dec_free(&one);

	/* Undrained, the decoder fills to its size and no further. */
	for (i = 0; i < 1000; i++) {
		if (write(fds[1], buf_ptr(&b), total) < 0)
			assert_int_equal(errno, EAGAIN);
		r = frame_dec_read(&d, fds[0]);
		assert_true(buf_len(&d.in) <= 256 * 1024);
		if (r == -1 && errno == ENOBUFS)
			break;
	}
	assert_true(i < 1000);
	assert_int_equal(buf_len(&d.in), 256 * 1024);
	close(fds[0]);
	close(fds[1]);
	frame_dec_free(&d);
	buf_free(&b);
}

/* Run the frame codec tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_begin_end),
		cmocka_unit_test(test_put_too_big),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_stream_bytewise),
		cmocka_unit_test(test_stream_random_splits),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_push_bound),
		cmocka_unit_test(test_corruption),
		cmocka_unit_test(test_read_fd),
		cmocka_unit_test(test_read_fd_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
