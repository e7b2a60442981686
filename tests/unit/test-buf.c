/*
 * Unit tests for src/buf.c: the capped byte buffer, big-endian helpers and
 * the read cursor.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "buf.h"
#include "err.h"

/* An empty buffer has no bytes and the default or given cap. */
static void
test_init(void **state)
{
	struct buf	b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_room(&b), BUF_MAX_DEFAULT);
	assert_non_null(buf_ptr(&b));	/* never NULL, even unallocated */
	buf_free(&b);
	buf_init(&b, 10);
	assert_int_equal(buf_room(&b), 10);
	buf_free(&b);
	buf_free(&b);		/* twice is harmless */
}

/* Truncate and poke change bytes already held, and nothing beyond them. */
static void
test_truncate_poke(void **state)
{
	struct buf	b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_put(&b, "abcdef", 6), 0);
	assert_int_equal(buf_room(&b), 2);
	assert_int_equal(buf_consume(&b, 1), 0);	/* offsets follow */
	assert_int_equal(buf_poke(&b, 1, "XY", 2), 0);
	assert_memory_equal(buf_ptr(&b), "bXYef", 5);
	assert_int_equal(buf_poke(&b, 4, "XY", 2), ERR_RANGE);
	assert_int_equal(buf_poke(&b, 6, "", 0), ERR_RANGE);
	assert_int_equal(buf_poke(&b, 5, "", 0), 0);
	assert_memory_equal(buf_ptr(&b), "bXYef", 5);
	assert_int_equal(buf_truncate(&b, 6), ERR_RANGE);
	assert_int_equal(buf_truncate(&b, 2), 0);
	assert_int_equal(buf_len(&b), 2);
	assert_memory_equal(buf_ptr(&b), "bX", 2);
	assert_int_equal(buf_truncate(&b, 0), 0);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);
}

/* Appending stops exactly at the cap and a refused append changes nothing. */
static void
test_cap(void **state)
{
	struct buf	 b;
	uint8_t		*p;
	uint8_t		 x[16];

	(void)state;
	memset(x, 'a', sizeof x);
	buf_init(&b, 16);
	assert_int_equal(buf_put(&b, x, 10), 0);
	assert_int_equal(buf_put(&b, x, 7), ERR_FULL);
	assert_int_equal(buf_len(&b), 10);
	assert_int_equal(buf_put(&b, x, 6), 0);
	assert_int_equal(buf_len(&b), 16);
	assert_int_equal(buf_put_u8(&b, 1), ERR_FULL);
	assert_int_equal(buf_put(&b, x, 0), 0);
	assert_int_equal(buf_reserve(&b, 1, &p), ERR_FULL);
	assert_int_equal(buf_reserve(&b, SIZE_MAX, &p), ERR_FULL);
	assert_int_equal(buf_len(&b), 16);
	/* Consuming makes room again. */
	assert_int_equal(buf_consume(&b, 4), 0);
	assert_int_equal(buf_put(&b, x, 4), 0);
	assert_int_equal(buf_put_u8(&b, 1), ERR_FULL);
	buf_free(&b);

	buf_init(&b, 0);
	assert_int_equal(buf_reserve(&b, BUF_MAX_DEFAULT + 1, &p), ERR_FULL);
	assert_int_equal(buf_reserve(&b, SIZE_MAX, &p), ERR_FULL);
	assert_null(b.d);
	buf_free(&b);
}

/* Consuming takes bytes from the front and refuses more than is held. */
static void
test_consume(void **state)
{
	struct buf	b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_consume(&b, 0), 0);
	assert_int_equal(buf_consume(&b, 1), ERR_RANGE);
	assert_int_equal(buf_put(&b, "abcdef", 6), 0);
	assert_int_equal(buf_consume(&b, 2), 0);
	assert_int_equal(buf_len(&b), 4);
	assert_memory_equal(buf_ptr(&b), "cdef", 4);
	assert_int_equal(buf_consume(&b, 5), ERR_RANGE);
	assert_int_equal(buf_len(&b), 4);
	assert_int_equal(buf_put(&b, "gh", 2), 0);
	assert_memory_equal(buf_ptr(&b), "cdefgh", 6);
	assert_int_equal(buf_consume(&b, 6), 0);
	assert_int_equal(buf_len(&b), 0);
	buf_reset(&b);
	assert_int_equal(buf_put(&b, "x", 1), 0);
	buf_reset(&b);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);
}

/*
 * Many appends and consumes of random sizes keep exactly the bytes a
 * simple model keeps, and storage stays bounded: the consumed front is
 * reused rather than growing the allocation.
 */
static void
test_consume_model(void **state)
{
	struct unit_rng	 rng;
	struct buf	 b;
	uint8_t		*model, chunk[700];
	size_t		 mlen = 0, cap = 4096, n, i;

	(void)state;
	unit_rng_init(&rng, 1);
	model = malloc(cap);
	assert_non_null(model);
	buf_init(&b, cap);
	for (i = 0; i < 20000; i++) {
		if (unit_rng_below(&rng, 2) == 0) {
			n = unit_rng_below(&rng, sizeof chunk);
			unit_rng_fill(&rng, chunk, n);
			if (mlen + n > cap) {
				assert_int_equal(buf_put(&b, chunk, n),
				    n == 0 ? 0 : ERR_FULL);
				continue;
			}
			assert_int_equal(buf_put(&b, chunk, n), 0);
			memcpy(model + mlen, chunk, n);
			mlen += n;
		} else {
			n = unit_rng_below(&rng, mlen + 1);
			assert_int_equal(buf_consume(&b, n), 0);
			memmove(model, model + n, mlen - n);
			mlen -= n;
		}
		assert_int_equal(buf_len(&b), mlen);
		if (mlen > 0)
			assert_memory_equal(buf_ptr(&b), model, mlen);
		assert_true(b.alloc <= 2 * cap);
	}
	buf_free(&b);
	free(model);
}

/* A large buffer that empties gives its storage back. */
static void
test_consume_frees_idle(void **state)
{
	struct buf	 b;
	uint8_t		*p;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_reserve(&b, 1024 * 1024, &p), 0);
	memset(p, 7, 1024 * 1024);
	assert_int_equal(buf_consume(&b, 1024 * 1024 - 1), 0);
	assert_non_null(b.d);
	assert_int_equal(buf_ptr(&b)[0], 7);
	assert_int_equal(buf_consume(&b, 1), 0);
	assert_null(b.d);
	assert_int_equal(buf_put(&b, "z", 1), 0);
	assert_memory_equal(buf_ptr(&b), "z", 1);
	buf_free(&b);
}

/* The helpers write big-endian and the cursor reads the same values. */
static void
test_be_round_trip(void **state)
{
	static const uint8_t	 want[] = {
		0xfe,
		0x12, 0x34,
		0x01, 0x02, 0x03, 0x04,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0, 0, 0, 3, 'a', 'b', 'c',
		0, 0, 0, 0,
		0, 0, 0, 2, 0, 0xff,
	};
	struct buf		 b;
	struct cur		 c;
	uint8_t			 v8;
	uint16_t		 v16;
	uint32_t		 v32;
	uint64_t		 v64;
	const uint8_t		*p;
	size_t			 n;
	char			*s;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_put_u8(&b, 0xfe), 0);
	assert_int_equal(buf_put_u16(&b, 0x1234), 0);
	assert_int_equal(buf_put_u32(&b, 0x01020304), 0);
	assert_int_equal(buf_put_u64(&b, 0x0102030405060708ULL), 0);
	assert_int_equal(buf_put_str(&b, "abc"), 0);
	assert_int_equal(buf_put_str(&b, ""), 0);
	assert_int_equal(buf_put_bytes(&b, "\0\xff", 2), 0);
	assert_int_equal(buf_len(&b), sizeof want);
	assert_memory_equal(buf_ptr(&b), want, sizeof want);

	cur_init(&c, buf_ptr(&b), buf_len(&b));
	assert_int_equal(cur_get_u8(&c, &v8), 0);
	assert_int_equal(v8, 0xfe);
	assert_int_equal(cur_get_u16(&c, &v16), 0);
	assert_int_equal(v16, 0x1234);
	assert_int_equal(cur_get_u32(&c, &v32), 0);
	assert_int_equal(v32, 0x01020304);
	assert_int_equal(cur_get_u64(&c, &v64), 0);
	assert_true(v64 == 0x0102030405060708ULL);
	assert_int_equal(cur_get_str(&c, &s, 3), 0);
	assert_string_equal(s, "abc");
	free(s);
	assert_int_equal(cur_get_str(&c, &s, 0), 0);
	assert_string_equal(s, "");
	free(s);
	assert_false(cur_end(&c));
	assert_int_equal(cur_get_bytes(&c, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(p, "\0\xff", 2);
	assert_true(cur_end(&c));
	assert_int_equal(cur_get_u8(&c, &v8), ERR_SHORT);
	buf_free(&b);
}

/* Extreme values survive the round trip. */
static void
test_be_extremes(void **state)
{
	static const uint64_t	 vals[] = {
		0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
		0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
		0x7fffffffffffffffULL, 0x8000000000000000ULL, UINT64_MAX
	};
	struct buf		 b;
	struct cur		 c;
	uint16_t		 v16;
	uint32_t		 v32;
	uint64_t		 v64;
	size_t			 i;

	(void)state;
	buf_init(&b, 0);
	for (i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		buf_reset(&b);
		assert_int_equal(buf_put_u16(&b, (uint16_t)vals[i]), 0);
		assert_int_equal(buf_put_u32(&b, (uint32_t)vals[i]), 0);
		assert_int_equal(buf_put_u64(&b, vals[i]), 0);
		cur_init(&c, buf_ptr(&b), buf_len(&b));
		assert_int_equal(cur_get_u16(&c, &v16), 0);
		assert_int_equal(cur_get_u32(&c, &v32), 0);
		assert_int_equal(cur_get_u64(&c, &v64), 0);
		assert_true(cur_end(&c));
		assert_int_equal(v16, (uint16_t)vals[i]);
		assert_int_equal(v32, (uint32_t)vals[i]);
		assert_true(v64 == vals[i]);
	}
	buf_free(&b);
}

/* A short read takes nothing: the cursor stays where it was. */
static void
test_cursor_bounds(void **state)
{
	static const uint8_t	 d[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct cur		 c;
	uint8_t			 v8;
	uint16_t		 v16;
	uint32_t		 v32;
	uint64_t		 v64;
	size_t			 n;

	(void)state;
	for (n = 0; n < 8; n++) {
		cur_init(&c, d, n);
		assert_int_equal(cur_get_u64(&c, &v64), ERR_SHORT);
		assert_int_equal(c.len, n);
		assert_ptr_equal(c.p, d);
		if (n < 4) {
			assert_int_equal(cur_get_u32(&c, &v32), ERR_SHORT);
			assert_int_equal(c.len, n);
		}
		if (n < 2) {
			assert_int_equal(cur_get_u16(&c, &v16), ERR_SHORT);
			assert_int_equal(c.len, n);
		}
		if (n < 1) {
			assert_int_equal(cur_get_u8(&c, &v8), ERR_SHORT);
			assert_true(cur_end(&c));
		}
	}
	cur_init(&c, d, 8);
	assert_int_equal(cur_get_u64(&c, &v64), 0);
	assert_true(cur_end(&c));
	assert_int_equal(cur_get_u16(&c, &v16), ERR_SHORT);
}

/* A byte string whose length runs past the end is refused, cursor intact. */
static void
test_cursor_bytes(void **state)
{
	static const uint8_t	 over[] = { 0, 0, 0, 5, 'a', 'b', 'c', 'd' };
	static const uint8_t	 huge[] = { 0xff, 0xff, 0xff, 0xff, 'a' };
	static const uint8_t	 nul[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	static const uint8_t	 four[] = { 0, 0, 0, 4, 'a', 'b', 'c', 'd' };
	struct cur		 c;
	const uint8_t		*p;
	size_t			 n;
	char			*s = NULL;

	(void)state;
	cur_init(&c, over, sizeof over);
	assert_int_equal(cur_get_bytes(&c, &p, &n), ERR_FORMAT);
	assert_int_equal(c.len, sizeof over);
	assert_ptr_equal(c.p, over);
	assert_int_equal(cur_get_str(&c, &s, 100), ERR_FORMAT);
	assert_null(s);

	cur_init(&c, huge, sizeof huge);
	assert_int_equal(cur_get_bytes(&c, &p, &n), ERR_FORMAT);
	assert_int_equal(c.len, sizeof huge);

	cur_init(&c, over, 3);
	assert_int_equal(cur_get_bytes(&c, &p, &n), ERR_SHORT);

	/* Strings: no embedded NUL, no more than max bytes. */
	cur_init(&c, nul, sizeof nul);
	assert_int_equal(cur_get_str(&c, &s, 100), ERR_FORMAT);
	assert_null(s);
	cur_init(&c, four, sizeof four);
	assert_int_equal(cur_get_str(&c, &s, 3), ERR_FORMAT);
	assert_null(s);
	cur_init(&c, four, sizeof four);
	assert_int_equal(cur_get_str(&c, &s, 4), 0);
	assert_string_equal(s, "abcd");
	assert_true(cur_end(&c));
	free(s);
}

/* A length over UINT32_MAX cannot be encoded. */
static void
test_put_bytes_limit(void **state)
{
	struct buf	b;

	(void)state;
	buf_init(&b, 0);
	if (sizeof(size_t) > 4) {
		assert_int_equal(buf_put_bytes(&b, "", (size_t)UINT32_MAX + 1),
		    ERR_TOOBIG);
		assert_int_equal(buf_len(&b), 0);
	}
	buf_free(&b);
}

/* Reading from an fd respects the cap, end of file and EAGAIN. */
static void
test_fd_io(void **state)
{
	struct buf	b, out;
	int		fds[2];
	char		big[100];

	(void)state;
	memset(big, 'q', sizeof big);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	buf_init(&b, 40);

	/* Nothing ready yet. */
	errno = 0;
	assert_int_equal(buf_read_fd(&b, fds[0], 10), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(buf_len(&b), 0);

	/* A read takes no more than asked, and no more than the cap. */
	assert_int_equal(write(fds[1], big, sizeof big), sizeof big);
	assert_int_equal(buf_read_fd(&b, fds[0], 30), 30);
	assert_int_equal(buf_read_fd(&b, fds[0], 30), 10);
	assert_int_equal(buf_len(&b), 40);
	errno = 0;
	assert_int_equal(buf_read_fd(&b, fds[0], 30), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_memory_equal(buf_ptr(&b), big, 40);

	/* Writing drains the buffer into another pipe. */
	buf_init(&out, 0);
	assert_int_equal(buf_write_fd(&b, fds[1]), 40);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_write_fd(&b, fds[1]), 0);
	while (buf_read_fd(&out, fds[0], 1000) > 0)
		;
	assert_int_equal(buf_len(&out), 100);
	assert_memory_equal(buf_ptr(&out), big, 100);

	/* End of file reads as 0 and leaves the buffer as it was. */
	close(fds[1]);
	assert_int_equal(buf_read_fd(&out, fds[0], 10), 0);
	assert_int_equal(buf_len(&out), 100);
	close(fds[0]);
	buf_free(&b);
	buf_free(&out);
}

/* Run the buffer tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_consume),
		cmocka_unit_test(test_consume_model),
		cmocka_unit_test(test_consume_frees_idle),
		cmocka_unit_test(test_be_round_trip),
		cmocka_unit_test(test_be_extremes),
		cmocka_unit_test(test_cursor_bounds),
		cmocka_unit_test(test_cursor_bytes),
		cmocka_unit_test(test_put_bytes_limit),
		cmocka_unit_test(test_fd_io),
		cmocka_unit_test(test_truncate_poke),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
