/*
 * Unit tests for src/pipe.c: the records of a pipe session's output
 * stream.  A stream of random records, cut at random places and written
 * in random short pieces, must come back as the two streams it holds.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "err.h"
#include "pipe.h"

/* One header, then its bytes, then another record: read back exactly. */
static void
test_basic(void **state)
{
	struct pipe_rx	rx;
	uint8_t		s[32];
	size_t		used, len;
	int		stream;

	(void)state;
	pipe_hdr(s, PIPE_STDOUT, 3);
	memcpy(s + PIPE_HDR, "abc", 3);
	pipe_hdr(s + PIPE_HDR + 3, PIPE_STDERR, 2);
	memcpy(s + 2 * PIPE_HDR + 3, "de", 2);
	pipe_rx_init(&rx);
	assert_int_equal(pipe_rx_next(&rx, s, sizeof s, &used, &stream,
	    &len), 0);
	assert_int_equal(used, PIPE_HDR);
	assert_int_equal(stream, PIPE_STDOUT);
	assert_int_equal(len, 3);
	pipe_rx_done(&rx, 2);		/* a short write */
	assert_int_equal(pipe_rx_next(&rx, s + PIPE_HDR + 2, 1, &used,
	    &stream, &len), 0);
	assert_int_equal(used, 0);
	assert_int_equal(len, 1);
	pipe_rx_done(&rx, 1);
	/* Only part of the next header: taken, no payload yet. */
	assert_int_equal(pipe_rx_next(&rx, s + PIPE_HDR + 3, 2, &used,
	    &stream, &len), 0);
	assert_int_equal(used, 2);
	assert_int_equal(len, 0);
	assert_int_equal(pipe_rx_next(&rx, s + PIPE_HDR + 5, 5, &used,
	    &stream, &len), 0);
	assert_int_equal(used, 3);
	assert_int_equal(stream, PIPE_STDERR);
	assert_int_equal(len, 2);
	assert_memory_equal(s + 2 * PIPE_HDR + 3, "de", 2);
}

/* Headers no daemon writes are refused. */
static void
test_bad_headers(void **state)
{
	struct pipe_rx	rx;
	uint8_t		h[PIPE_HDR];
	size_t		used, len;
	int		stream;

	(void)state;
	pipe_hdr(h, 3, 10);			/* no such stream */
	pipe_rx_init(&rx);
	assert_int_equal(pipe_rx_next(&rx, h, sizeof h, &used, &stream,
	    &len), ERR_FORMAT);
	pipe_hdr(h, PIPE_STDOUT, 0);		/* empty */
	pipe_rx_init(&rx);
	assert_int_equal(pipe_rx_next(&rx, h, sizeof h, &used, &stream,
	    &len), ERR_FORMAT);
	pipe_hdr(h, PIPE_STDERR, PIPE_REC_MAX + 1);	/* too long */
	pipe_rx_init(&rx);
	assert_int_equal(pipe_rx_next(&rx, h, sizeof h, &used, &stream,
	    &len), ERR_FORMAT);
	pipe_hdr(h, PIPE_STDERR, PIPE_REC_MAX);	/* the longest is fine */
	pipe_rx_init(&rx);
	assert_int_equal(pipe_rx_next(&rx, h, sizeof h, &used, &stream,
	    &len), 0);
	assert_int_equal(used, PIPE_HDR);
	assert_int_equal(len, 0);
}

/*
 * Random records cut into random pieces (as DATA frames cut them) and
 * written in random short writes (as a pipe takes them): each of the
 * two streams comes back byte for byte.
 */
static void
test_model(void **state)
{
	struct unit_rng	 rng;
	struct pipe_rx	 rx;
	uint8_t		*s, *want[3], *got[3];
	size_t		 slen = 0, wlen[3] = { 0 }, glen[3] = { 0 };
	size_t		 off = 0, end, used, len, w;
	int		 seed, i, k, stream;

	(void)state;
	s = malloc(1 << 20);
	for (i = 1; i < 3; i++) {
		want[i] = malloc(1 << 20);
		got[i] = malloc(1 << 20);
	}
	for (seed = 0; seed < 20; seed++) {
		unit_rng_init(&rng, seed);
		slen = off = 0;
		wlen[1] = wlen[2] = glen[1] = glen[2] = 0;
		for (k = 0; k < 200; k++) {
			stream = 1 + (int)(unit_rng_next(&rng) % 2);
			len = 1 + unit_rng_next(&rng) % 3000;
			pipe_hdr(s + slen, stream, (uint32_t)len);
			slen += PIPE_HDR;
			for (w = 0; w < len; w++) {
				s[slen + w] = (uint8_t)unit_rng_next(&rng);
				want[stream][wlen[stream] + w] = s[slen + w];
			}
			slen += len;
			wlen[stream] += len;
		}
		pipe_rx_init(&rx);
		while (off < slen) {
			/* What arrived so far: up to a random cut. */
			end = off + 1 + unit_rng_next(&rng) % 700;
			if (end > slen)
				end = slen;
			while (off < end) {
				assert_int_equal(pipe_rx_next(&rx, s + off,
				    end - off, &used, &stream, &len), 0);
				off += used;
				if (len == 0)
					break;
				w = 1 + unit_rng_next(&rng) % len;
				memcpy(got[stream] + glen[stream], s + off, w);
				glen[stream] += w;
				pipe_rx_done(&rx, w);
				off += w;
			}
			assert_true(off == end);
		}
		for (i = 1; i < 3; i++) {
			assert_int_equal(glen[i], wlen[i]);
			assert_memory_equal(got[i], want[i], wlen[i]);
		}
	}
	free(s);
	for (i = 1; i < 3; i++) {
		free(want[i]);
		free(got[i]);
	}
}

/* Run the record tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
