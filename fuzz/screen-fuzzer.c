/*
 * libFuzzer target for the client's screen tracker.  The input is a split
 * seed (two bytes), a length for the typed part (two bytes) and then the
 * output stream followed by the typed bytes.  The output is fed to
 * screen_track() in chunks the seed chooses, and after every chunk the
 * state is checked against the whole stream so far: lengths within their
 * arrays, the tail equal to the stream's last bytes, the line equal to
 * what follows the last newline (cut at SCREEN_LINE_MAX, then marked
 * long), and the alternate screen and the modes (SM_*) equal to what a
 * model that scans the whole stream at once says (when it only holds
 * sequences the model knows), and screen_restore() undoing them.
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

/* A model of the modes: what the stream says, scanned whole. */
struct fuzz_modes {
	unsigned	modes;		/* SM_* */
	int		alt;
};

/* Apply private mode m, set or reset, to the model. */
static void
fuzz_private(struct fuzz_modes *f, unsigned long m, int set)
{
	if (m == 47 || m == 1047 || m == 1049) {
		f->alt = set;
		f->modes = set ? f->modes | SM_ALT : f->modes & ~SM_ALT;
	} else if (m == 1)
		f->modes = set ? f->modes | SM_CKM : f->modes & ~SM_CKM;
	else if (m == 25)
		f->modes = set ? f->modes & ~SM_HIDDEN : f->modes | SM_HIDDEN;
	else if (m == 2004)
		f->modes = set ? f->modes | SM_PASTE : f->modes & ~SM_PASTE;
	else if (m == 1004)
		f->modes = set ? f->modes | SM_FOCUS : f->modes & ~SM_FOCUS;
	else if (m == 9 || (m >= 1000 && m <= 1003))
		f->modes = set ? f->modes | SM_MOUSE : f->modes & ~SM_MOUSE;
	else if ((m == 1005 || m == 1006 || m == 1015) && set)
		f->modes |= SM_MOUSE;	/* an encoding turned on: assume use */
}

/* Whether a byte inside a sequence is done or ignored and it goes on. */
static int
fuzz_inside(uint8_t b)
{
	return (b < 0x20 && b != 0x18 && b != 0x1a && b != 0x1b) || b >= 0x7f;
}

/*
 * One CSI at p[i] (after ESC [), for the model: private modes (? N;...
 * h|l) and the scroll region (r; none, or a top of at most 1 and no
 * bottom, resets it).  Returns the index after it; n if it is unfinished;
 * 0 if it holds anything the model does not say (other intermediate
 * bytes, ESC, CAN or SUB, more than SCREEN_PARAMS numbers, a number of
 * 100000 or more).  Other controls, DEL and high bytes are skipped.
 */
static size_t
fuzz_csi(struct fuzz_modes *f, const uint8_t *p, size_t n, size_t i)
{
	unsigned long	 v[SCREEN_PARAMS];
	int		 have[SCREEN_PARAMS];	/* a digit given */
	size_t		 k, nv = 0;
	int		 priv = 0;

	while (i < n && fuzz_inside(p[i]))
		i++;
	if (i < n && p[i] == '?') {
		priv = 1;
		i++;
	}
	/* Numbers split at ';': none if no bytes, an empty one is 0. */
	for (; i < n && ((p[i] >= '0' && p[i] <= '9') || p[i] == ';' ||
	    fuzz_inside(p[i])); i++) {
		if (fuzz_inside(p[i]))
			continue;
		if (nv == 0) {
			have[nv] = 0;
			v[nv++] = 0;
		}
		if (p[i] == ';') {
			if (nv == SCREEN_PARAMS)
				return 0;
			have[nv] = 0;
			v[nv++] = 0;
			continue;
		}
		have[nv - 1] = 1;
		v[nv - 1] = v[nv - 1] * 10 + (p[i] - '0');
		if (v[nv - 1] >= 100000)
			return 0;
	}
	if (i >= n)
		return n;
	if (p[i] < 0x40 || p[i] > 0x7e)
		return 0;
	if (priv && (p[i] == 'h' || p[i] == 'l')) {
		for (k = 0; k < nv; k++)
			fuzz_private(f, v[k], p[i] == 'h');
	} else if (!priv && p[i] == 'r') {
		/* A bottom given as 0 is none; one not given, the last row. */
		if ((nv >= 2 && have[1] && v[1] == 0) || nv == 0 ||
		    (v[0] <= 1 && (nv < 2 || !have[1])))
			f->modes &= ~SM_REGION;
		else
			f->modes |= SM_REGION;
	}
	return i + 1;
}

/*
 * The modes after the stream p, scanned whole: CSI as fuzz_csi() says
 * (after ESC and any intermediates, as libvterm), ESC = and ESC > for
 * the keypad, ESC c resets everything, any other ESC x is nothing.
 * Returns -1 if the stream holds a sequence the model does not say (see
 * fuzz_csi(); also ESC inside a CSI).
 */
static int
fuzz_modes(struct fuzz_modes *f, const uint8_t *p, size_t n)
{
	const uint8_t	*x;
	size_t		 i = 0;
	int		 inter;

	memset(f, 0, sizeof *f);
	while (i < n) {
		if ((x = memchr(p + i, 0x1b, n - i)) == NULL)
			break;
		i = (size_t)(x - p) + 1;
		inter = 0;
		while (i < n && (p[i] == 0x1b || fuzz_inside(p[i]) ||
		    (p[i] >= 0x20 && p[i] <= 0x2f))) {
			if (p[i] == 0x1b)
				inter = 0;
			else if (p[i] >= 0x20 && p[i] <= 0x2f)
				inter = 1;
			i++;
		}
		if (i >= n)
			break;
		/* As in libvterm, "[" after intermediates starts a CSI too. */
		if (p[i] == '[') {
			if ((i = fuzz_csi(f, p, n, i + 1)) == 0)
				return -1;
			continue;
		}
		if (inter)
			continue;	/* ESC ( = designates a set */
		if (p[i] == '=')
			f->modes |= SM_KEYPAD;
		else if (p[i] == '>')
			f->modes &= ~SM_KEYPAD;
		else if (p[i] == 'c')
			memset(f, 0, sizeof *f);
		i++;
	}
	return 0;
}

/*
 * Check what screen_restore() writes: it fits, ends with the attribute
 * reset, and leaves the alternate screen and bracketed paste if, and
 * only if, the program turned them on.
 */
static void
fuzz_restore(const struct screen *s)
{
	char	out[512], small[8];
	size_t	n;

	n = screen_restore(s, out, sizeof out);
	fuzz_check(n < sizeof out && n == strlen(out));
	fuzz_check(n >= 4 && memcmp(out + n - 4, "\033[0m", 4) == 0);
	fuzz_check((strstr(out, "\033[?1049l") != NULL) == (s->alt != 0));
	fuzz_check((strstr(out, "\033[?2004l") != NULL) ==
	    ((s->modes & SM_PASTE) != 0));
	fuzz_check((strstr(out, "\033[?1002l") != NULL) ==
	    ((s->modes & SM_MOUSE) != 0 || s->mouse_on != 0));
	n = screen_restore(s, small, sizeof small);
	fuzz_check(n < sizeof small && n == strlen(small));
}

/* Check the tracker's state against the first n bytes of the stream. */
static void
fuzz_state(const struct screen *s, const uint8_t *p, size_t n)
{
	struct fuzz_modes f;
	const uint8_t	*nl;
	size_t		 line, want;

	fuzz_check(s->linelen <= SCREEN_LINE_MAX);
	fuzz_check(s->ntail <= SCREEN_TAIL);
	fuzz_check(s->nparam >= 0 && s->nparam <= SCREEN_PARAMS);
	want = n < SCREEN_TAIL ? n : SCREEN_TAIL;
	fuzz_check(s->ntail == want);
	fuzz_check(memcmp(s->tail, p + n - want, want) == 0);
	nl = n > 0 ? memrchr(p, '\n', n) : NULL;
	line = nl != NULL ? (size_t)(nl + 1 - p) : 0;
	want = n - line;
	fuzz_check(s->line_long == (want > SCREEN_LINE_MAX));
	if (want > SCREEN_LINE_MAX)
		want = SCREEN_LINE_MAX;
	fuzz_check(s->linelen == want);
	fuzz_check(memcmp(s->line, p + line, want) == 0);
	fuzz_check(s->alt == ((s->modes & SM_ALT) != 0));
	fuzz_check(s->alt_unknown == 0);	/* never set from the stream */
	if (fuzz_modes(&f, p, n) == 0) {
		fuzz_check(s->alt == f.alt);
		fuzz_check(s->modes == f.modes);
	}
	fuzz_restore(s);
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
	s->cpr_owed = 1;
	s->row = 0;
	m = screen_take_cpr(s, q, n);
	for (i = 0; i < n; i++)
		if ((cut = fuzz_report(t, n, i, &row)) != 0)
			break;
	fuzz_check(m == n - cut);
	if (cut == 0) {
		fuzz_check(n == 0 || memcmp(q, t, n) == 0);
		fuzz_check(s->cpr_wait == 1 && s->cpr_owed == 1 &&
		    s->row == 0);
	} else {
		fuzz_check(memcmp(q, t, i) == 0);
		fuzz_check(memcmp(q + i, t + i + cut, n - i - cut) == 0);
		fuzz_check(s->cpr_wait == 0 && s->cpr_owed == 0 &&
		    (unsigned long)s->row == row);
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
