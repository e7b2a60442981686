/*
 * Screen facts from the output stream.  No terminal emulation: a scan for
 * newlines and for the private modes that switch the alternate screen,
 * cheap enough to run on every byte of a bulk transfer.
 */
#include <string.h>

#include "compat.h"
#include "client-screen.h"

/* Apply "ESC [ ? N h|l" found in p (at most n bytes) to the alt flag. */
static void
screen_mode(struct screen *s, const uint8_t *p, size_t n)
{
	unsigned	mode = 0;
	size_t		i = 3;

	if (n < 5 || p[0] != 0x1b || p[1] != '[' || p[2] != '?')
		return;
	while (i < n && p[i] >= '0' && p[i] <= '9' && mode < 100000)
		mode = mode * 10 + (p[i++] - '0');
	if (i >= n || (p[i] != 'h' && p[i] != 'l'))
		return;
	if (mode == 1049 || mode == 1047 || mode == 47)
		s->alt = p[i] == 'h';
}

/* Scan bytes written to the terminal. */
void
screen_track(struct screen *s, const uint8_t *p, size_t n)
{
	uint8_t		 scan[sizeof s->carry * 3];
	const uint8_t	*e, *nl;
	size_t		 i, k, m;

	if (n == 0)
		return;
	/* A mode switch split across two writes: the old tail first. */
	k = n < 16 ? n : 16;
	memcpy(scan, s->carry, s->ncarry);
	memcpy(scan + s->ncarry, p, k);
	for (i = 0; i < s->ncarry; i++)
		if (scan[i] == 0x1b)
			screen_mode(s, scan + i, s->ncarry + k - i);
	for (e = memchr(p, 0x1b, n); e != NULL;
	    e = memchr(e + 1, 0x1b, n - (size_t)(e + 1 - p)))
		screen_mode(s, e, n - (size_t)(e - p));
	/* Keep the last bytes for the next call. */
	m = s->ncarry + k;
	memcpy(scan, s->carry, s->ncarry);
	memcpy(scan + s->ncarry, p + n - k, k);
	s->ncarry = m < sizeof s->carry ? m : sizeof s->carry;
	memcpy(s->carry, scan + m - s->ncarry, s->ncarry);
	/* The last bytes, to tell why a shell ended. */
	if (n >= SCREEN_TAIL) {
		memcpy(s->tail, p + n - SCREEN_TAIL, SCREEN_TAIL);
		s->ntail = SCREEN_TAIL;
	} else {
		if (s->ntail + n > SCREEN_TAIL) {
			memmove(s->tail, s->tail + (s->ntail + n - SCREEN_TAIL),
			    SCREEN_TAIL - n);
			s->ntail = SCREEN_TAIL - n;
		}
		memcpy(s->tail + s->ntail, p, n);
		s->ntail += n;
	}
	/* The cursor's line: what came after the last newline. */
	if ((nl = compat_memrchr(p, '\n', n)) != NULL) {
		s->linelen = 0;
		s->line_long = 0;
		n -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	if (n > SCREEN_LINE_MAX - s->linelen) {
		s->line_long = 1;
		n = SCREEN_LINE_MAX - s->linelen;
	}
	memcpy(s->line + s->linelen, p, n);
	s->linelen += n;
}

/*
 * Take a cursor position report ("ESC [ row ; col R") out of typed bytes,
 * if one is awaited; returns the new length.
 */
size_t
screen_take_cpr(struct screen *s, uint8_t *p, size_t n)
{
	size_t		i, j;
	unsigned	row;

	if (!s->cpr_wait)
		return n;
	for (i = 0; i + 5 < n + 1; i++) {
		if (p[i] != 0x1b || i + 1 >= n || p[i + 1] != '[')
			continue;
		row = 0;
		for (j = i + 2; j < n && p[j] >= '0' && p[j] <= '9'; j++)
			row = row * 10 + (p[j] - '0');
		if (j >= n || p[j] != ';' || row == 0 || row > 10000)
			continue;
		for (j++; j < n && p[j] >= '0' && p[j] <= '9'; j++)
			;
		if (j >= n || p[j] != 'R')
			continue;
		s->row = (int)row;
		s->cpr_wait = 0;
		memmove(p + i, p + j + 1, n - j - 1);
		return n - (j + 1 - i);
	}
	return n;
}
