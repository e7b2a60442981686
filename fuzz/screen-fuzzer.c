/*
 * libFuzzer target for the client's screen tracker.  The input is a split
 * seed (two bytes), a length for the typed part (two bytes) and then the
 * output stream followed by the typed bytes.  The output is fed to
 * screen_track() in chunks the seed chooses, and after every chunk the
 * state is checked against the whole stream so far: lengths within their
 * arrays, the tail equal to the stream's last bytes, the line equal to
 * what follows the last newline (cut at SCREEN_LINE_MAX, then marked
 * long), and the alternate-screen flag equal to the last switch in the
 * stream (when every switch is short enough for the tracker's carry).
 * The typed bytes go through screen_take_cpr(), which may only take out
 * one whole cursor position report and must store its row.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client-screen.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a crash the fuzzer records. */
#define fuzz_check(e) do {						\
	if (!(e))							\
		__builtin_trap();					\
} while (0)

/* Chunk sizes the split seed picks from. */
static const size_t fuzz_chunks[] = { 1, 2, 5, 8, 17, 600, 2000 };

/* Next pseudo-random number from the split seed (xorshift32). */
static uint32_t
fuzz_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * The alternate-screen flag after p (ESC [ ? 1049|1047|47 h|l, the last
 * one wins), starting from alt; -1 if a switch-like sequence is too long
 * for the tracker to see across a split (more than five digits).
 */
static int
fuzz_alt(const uint8_t *p, size_t n, int alt)
{
	size_t		i, j;
	unsigned	mode;

	for (i = 0; i + 3 < n; i++) {
		if (p[i] != 0x1b || p[i + 1] != '[' || p[i + 2] != '?')
			continue;
		mode = 0;
		for (j = i + 3; j < n && p[j] >= '0' && p[j] <= '9'; j++) {
			if (j - (i + 3) >= 5)
				return -1;
			mode = mode * 10 + (p[j] - '0');
		}
		if (j >= n || (p[j] != 'h' && p[j] != 'l') || j == i + 3)
			continue;
		if (mode == 1049 || mode == 1047 || mode == 47)
			alt = p[j] == 'h';
	}
	return alt;
}

/* Check the tracker's state against the first n bytes of the stream. */
static void
fuzz_state(const struct screen *s, const uint8_t *p, size_t n)
{
	const uint8_t	*nl;
	size_t		 line, want;
	int		 alt;

	fuzz_check(s->linelen <= SCREEN_LINE_MAX);
	fuzz_check(s->ncarry <= sizeof s->carry);
	fuzz_check(s->ntail <= SCREEN_TAIL);
	want = n < SCREEN_TAIL ? n : SCREEN_TAIL;
	fuzz_check(s->ntail == want);
	fuzz_check(memcmp(s->tail, p + n - want, want) == 0);
	want = n < sizeof s->carry ? n : sizeof s->carry;
	fuzz_check(s->ncarry == want);
	fuzz_check(memcmp(s->carry, p + n - want, want) == 0);
	nl = n > 0 ? memrchr(p, '\n', n) : NULL;
	line = nl != NULL ? (size_t)(nl + 1 - p) : 0;
	want = n - line;
	fuzz_check(s->line_long == (want > SCREEN_LINE_MAX));
	if (want > SCREEN_LINE_MAX)
		want = SCREEN_LINE_MAX;
	fuzz_check(s->linelen == want);
	fuzz_check(memcmp(s->line, p + line, want) == 0);
	if ((alt = fuzz_alt(p, n, 0)) != -1)
		fuzz_check(s->alt == alt);
}

/*
 * The model of a cursor position report at t[i]: "ESC [ row ; col R" with
 * a row of 1 to 10000 (any digits count, a long number is not wrapped)
 * and any number of column digits.  Returns its length, 0 if none.
 */
static size_t
fuzz_report(const uint8_t *t, size_t n, size_t i, unsigned long *row)
{
	size_t	j;

	*row = 0;
	if (i + 1 >= n || t[i] != 0x1b || t[i + 1] != '[')
		return 0;
	for (j = i + 2; j < n && t[j] >= '0' && t[j] <= '9'; j++)
		if (*row <= 100000)
			*row = *row * 10 + (t[j] - '0');
	if (j >= n || t[j] != ';' || *row == 0 || *row > 10000)
		return 0;
	for (j++; j < n && t[j] >= '0' && t[j] <= '9'; j++)
		;
	if (j >= n || t[j] != 'R')
		return 0;
	return j + 1 - i;
}

/*
 * Check screen_take_cpr() on the typed bytes t: the first report taken
 * out and its row stored, or everything left as it was.
 */
static void
fuzz_cpr(struct screen *s, const uint8_t *t, size_t n)
{
	uint8_t		*q;
	size_t		 m, i, cut = 0;
	unsigned long	 row = 0;

	q = malloc(n + 1);
	fuzz_check(q != NULL);
	memcpy(q, t, n);
	s->cpr_wait = 1;
	s->row = 0;
	m = screen_take_cpr(s, q, n);
	for (i = 0; i < n; i++)
		if ((cut = fuzz_report(t, n, i, &row)) != 0)
			break;
	fuzz_check(m == n - cut);
	if (cut == 0) {
		fuzz_check(n == 0 || memcmp(q, t, n) == 0);
		fuzz_check(s->cpr_wait == 1 && s->row == 0);
	} else {
		fuzz_check(memcmp(q, t, i) == 0);
		fuzz_check(memcmp(q + i, t + i + cut, n - i - cut) == 0);
		fuzz_check(s->cpr_wait == 0 && (unsigned long)s->row == row);
	}
	free(q);
}

/* One input: split seed, typed length, output stream, typed bytes. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct screen	*s;
	uint32_t	 seed;
	size_t		 ntyped, off = 0, step;

	if (size < 4)
		return 0;
	seed = ((uint32_t)data[0] << 8 | data[1]) + 1;
	ntyped = (size_t)data[2] << 8 | data[3];
	data += 4;
	size -= 4;
	if (ntyped > size)
		ntyped = size;
	size -= ntyped;
	s = calloc(1, sizeof *s);
	fuzz_check(s != NULL);
	while (off < size) {
		step = fuzz_chunks[fuzz_rand(&seed) % 7];
		if (step > size - off)
			step = size - off;
		screen_track(s, data + off, step);
		off += step;
		fuzz_state(s, data, off);
	}
	screen_track(s, data, 0);
	fuzz_state(s, data, off);
	fuzz_cpr(s, data + size, ntyped);
	free(s);
	return 0;
}
