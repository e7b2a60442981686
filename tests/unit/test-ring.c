/*
 * Unit tests for src/ring.c: the offset-addressed output ring.  A simple
 * model (the whole stream in a flat array) checks every operation.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "err.h"
#include "ring.h"

/* Copy what the ring holds from off into out; returns the count. */
static size_t
ring_copy(const struct ring *r, uint64_t off, uint8_t *out, size_t max)
{
	const uint8_t	*p;
	size_t		 n, got = 0;

	while (got < max && (n = ring_peek(r, off, &p)) > 0) {
		if (n > max - got)
			n = max - got;
		memcpy(out + got, p, n);
		got += n;
		off += n;
	}
	return got;
}

/* Appends and acks move start and end; bytes read back as written. */
static void
test_basic(void **state)
{
	struct ring	 r;
	uint8_t		 out[16];
	const uint8_t	*p;

	(void)state;
	ring_init(&r, 8, 100);
	assert_int_equal(ring_len(&r), 0);
	assert_int_equal(ring_room(&r), 8);
	assert_int_equal(ring_peek(&r, 100, &p), 0);
	assert_int_equal(ring_append(&r, "abcdef", 6, 0), 0);
	assert_int_equal(r.start, 100);
	assert_int_equal(r.end, 106);
	assert_int_equal(ring_copy(&r, 102, out, sizeof out), 4);
	assert_memory_equal(out, "cdef", 4);
	/* Without overwrite, what does not fit is refused whole. */
	assert_int_equal(ring_append(&r, "ghi", 3, 0), ERR_FULL);
	assert_int_equal(r.end, 106);
	assert_int_equal(ring_ack(&r, 103), 0);
	assert_int_equal(ring_append(&r, "ghi", 3, 0), 0);
	assert_int_equal(ring_copy(&r, 103, out, sizeof out), 6);
	assert_memory_equal(out, "defghi", 6);
	/* Old acks are harmless; acks past the end are refused. */
	assert_int_equal(ring_ack(&r, 101), 0);
	assert_int_equal(r.start, 103);
	assert_int_equal(ring_ack(&r, 110), ERR_RANGE);
	assert_int_equal(ring_ack(&r, 109), 0);
	assert_int_equal(ring_len(&r), 0);
	assert_int_equal(r.dropped, 0);
	ring_free(&r);
}

/* With overwrite, the oldest bytes go and are counted. */
static void
test_overflow_accounting(void **state)
{
	struct ring	r;
	uint8_t		out[16];

	(void)state;
	ring_init(&r, 8, 0);
	assert_int_equal(ring_append(&r, "01234567", 8, 1), 0);
	assert_int_equal(ring_append(&r, "89", 2, 1), 0);
	assert_int_equal(r.dropped, 2);
	assert_int_equal(r.start, 2);
	assert_int_equal(ring_copy(&r, 2, out, sizeof out), 8);
	assert_memory_equal(out, "23456789", 8);
	/* More than the whole ring at once keeps only the newest bytes. */
	assert_int_equal(ring_append(&r, "abcdefghijkl", 12, 1), 0);
	assert_int_equal(r.end, 22);
	assert_int_equal(r.start, 14);
	assert_int_equal(r.dropped, 14);
	assert_int_equal(ring_copy(&r, 14, out, sizeof out), 8);
	assert_memory_equal(out, "efghijkl", 8);
	/* Peeking before start finds nothing. */
	assert_int_equal(ring_copy(&r, 13, out, sizeof out), 0);
	ring_free(&r);
}

/*
 * Random appends, acks and overwrites against a model of the stream,
 * across growth, wrap-around and shrinking.
 */
static void
test_model(void **state)
{
	struct unit_rng	 rng;
	struct ring	 r;
	uint8_t		*model, *out, chunk[70000];
	const size_t	 total = 4 << 20, max = 300000;
	uint64_t	 end = 0, start = 0, dropped = 0;
	size_t		 n, i;
	int		 step;

	(void)state;
	unit_rng_init(&rng, 42);
	model = malloc(total + sizeof chunk);
	out = malloc(max);
	assert_non_null(model);
	assert_non_null(out);
	ring_init(&r, max, 0);
	for (step = 0; end < total; step++) {
		n = unit_rng_below(&rng, sizeof chunk);
		unit_rng_fill(&rng, chunk, n);
		switch (unit_rng_below(&rng, 3)) {
		case 0:		/* append without overwrite */
			if (n <= max - (end - start)) {
				assert_int_equal(ring_append(&r, chunk, n, 0),
				    0);
				memcpy(model + end, chunk, n);
				end += n;
			} else
				assert_int_equal(ring_append(&r, chunk, n, 0),
				    ERR_FULL);
			break;
		case 1:		/* append with overwrite */
			assert_int_equal(ring_append(&r, chunk, n, 1), 0);
			memcpy(model + end, chunk, n);
			end += n;
			if (end - start > max) {
				dropped += end - start - max;
				start = end - max;
			}
			break;
		default:	/* acknowledge a random offset */
			if (end > start) {
				start += unit_rng_below(&rng,
				    end - start + 1);
				assert_int_equal(ring_ack(&r, start), 0);
			}
			break;
		}
		assert_int_equal(r.start, start);
		assert_int_equal(r.end, end);
		assert_int_equal(r.dropped, dropped);
		assert_true(r.alloc == 0 || r.alloc >= ring_len(&r));
		i = ring_copy(&r, start, out, max);
		assert_int_equal(i, end - start);
		assert_memory_equal(out, model + start, i);
	}
	/* Everything acknowledged: the storage is given back. */
	assert_int_equal(ring_ack(&r, end), 0);
	assert_int_equal(ring_len(&r), 0);
	assert_int_equal(r.alloc, 0);
	ring_free(&r);
	free(model);
	free(out);
}

/*
 * A reader filling the ring in place (ring_tail, ring_commit) and a
 * sender acknowledging with ring_ack_keep: bytes read back as written,
 * never more than max held, storage kept while held and freed when empty.
 */
static void
test_tail_model(void **state)
{
	struct unit_rng	 rng;
	struct ring	 r;
	uint8_t		*model, *out, *p;
	const size_t	 total = 4 << 20, max = 300000;
	uint64_t	 end = 0, start = 0;
	size_t		 n, k, i, alloc;

	(void)state;
	unit_rng_init(&rng, 7);
	model = malloc(total + 70000);
	out = malloc(max);
	assert_non_null(model);
	assert_non_null(out);
	ring_init(&r, max, 0);
	while (end < total) {
		if (unit_rng_below(&rng, 2) == 0) {
			n = unit_rng_below(&rng, 70000);
			k = ring_tail(&r, n, &p);
			assert_true(k <= n && k <= max - (end - start));
			if (n > 0 && end - start < max)
				assert_true(k > 0);
			k = unit_rng_below(&rng, k + 1);	/* short read */
			unit_rng_fill(&rng, p, k);
			memcpy(model + end, p, k);
			ring_commit(&r, k);
			end += k;
		} else if (end > start) {
			alloc = r.alloc;
			start += unit_rng_below(&rng, end - start + 1);
			assert_int_equal(ring_ack_keep(&r, start), 0);
			if (start < end)
				assert_int_equal(r.alloc, alloc);
			else
				assert_int_equal(r.alloc, 0);
		}
		assert_int_equal(r.start, start);
		assert_int_equal(r.end, end);
		assert_true(ring_len(&r) <= max);
		i = ring_copy(&r, start, out, max);
		assert_int_equal(i, end - start);
		assert_memory_equal(out, model + start, i);
	}
	assert_int_equal(ring_ack_keep(&r, end + 1), ERR_RANGE);
	ring_free(&r);
	free(model);
	free(out);
}

/* Run the ring tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_overflow_accounting),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_tail_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
