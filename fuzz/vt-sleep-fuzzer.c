/*
 * libFuzzer target for the screen model's sleep (src/vt-sleep.c).  The
 * input is a size byte (rows, cols), a seed (two bytes) and then the
 * program's output, made 7-bit (a high byte becomes '?': libvterm joins a
 * combining mark to the glyph it printed last, which a rebuild cannot
 * know; tests/unit/test-vt-sleep.c covers wide and joined characters).
 * The output is fed in chunks the seed chooses to two models of the same
 * size; after some chunks the second one is put to sleep (vt_sleep()),
 * and the next chunk wakes it.  The two must render the same snapshot
 * (vt_render() with scrollback: cells, cursor, pen, modes, region, title)
 * after every chunk, and hold the same cells.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "vt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a crash the fuzzer records, saying which check failed. */
#define fuzz_check(e) do {						\
	if (!(e)) {							\
		fprintf(stderr, "vt-sleep-fuzzer: %d: %s\n", __LINE__,	\
		    #e);						\
		__builtin_trap();					\
	}								\
} while (0)

/* Chunk sizes the seed picks from. */
static const size_t fuzz_chunks[] = { 1, 2, 5, 16, 64, 512 };

/* Next pseudo-random number from the seed (xorshift32). */
static uint32_t
fuzz_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Both models render the same snapshot and hold the same cells. */
static void
fuzz_same(struct vt *a, struct vt *b)
{
	struct buf	ra, rb;
	struct vt_cell	ca, cb;
	int		rows, cols, r, c;

	buf_init(&ra, BUF_MAX_DEFAULT);
	buf_init(&rb, BUF_MAX_DEFAULT);
	vt_render(a, &ra, 0, VT_SCROLLBACK);
	vt_render(b, &rb, 0, VT_SCROLLBACK);
	fuzz_check(buf_len(&ra) == buf_len(&rb));
	fuzz_check(memcmp(buf_ptr(&ra), buf_ptr(&rb), buf_len(&ra)) == 0);
	buf_free(&ra);
	buf_free(&rb);
	vt_size(a, &rows, &cols);
	for (r = 0; r < rows; r++)
		for (c = 0; c < cols; c++) {
			fuzz_check(vt_cell(a, r, c, &ca) == 0);
			fuzz_check(vt_cell(b, r, c, &cb) == 0);
			fuzz_check(memcmp(&ca, &cb, sizeof ca) == 0);
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vt	*a, *b;
	uint8_t		*p;
	uint32_t	 seed;
	size_t		 i, k, n;
	int		 rows, cols;

	if (size < 3)
		return 0;
	rows = 1 + (data[0] & 0x0f);
	cols = 2 + (data[0] >> 4) * 5;
	seed = 0x9e3779b9u ^ ((uint32_t)data[1] << 8 | data[2]);
	n = size - 3;
	p = malloc(n + 1);
	if (p == NULL)
		return 0;
	for (i = 0; i < n; i++)
		p[i] = data[3 + i] < 0x80 ? data[3 + i] : '?';
	a = vt_new(rows, cols, 8192);
	b = vt_new(rows, cols, 8192);
	for (i = 0; i < n; i += k) {
		k = fuzz_chunks[fuzz_rand(&seed) % 6];
		if (k > n - i)
			k = n - i;
		vt_feed(a, p + i, k);
		vt_feed(b, p + i, k);
		if (fuzz_rand(&seed) % 3 == 0 && vt_sleep(b) == 0)
			fuzz_check(vt_asleep(b) > 0);
		fuzz_same(a, b);
	}
	vt_free(a);
	vt_free(b);
	free(p);
	return 0;
}
