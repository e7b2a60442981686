/*
 * Screen facts from the output stream.  No terminal emulation: a scan for
 * newlines and for the private modes that switch the alternate screen,
 * cheap enough to run on every byte of a bulk transfer.
 */
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "client-screen.h"

#define PS_GROUND	0
#define PS_ESC		1
#define PS_CSI		2

/*
 * Keep which mouse tracking modes are on as terminals that hold each one
 * apart do (VTE: after ?1000h ?1002h ?1000l, 1002 still reports), while
 * SM_MOUSE follows xterm and libvterm (any reset ends reporting).  The
 * way out resets them all if either says one may be on.
 */
static void
screen_mouse_on(struct screen *s, unsigned mode, int set)
{
	unsigned	bit;

	bit = mode == 9 ? 1U : 1U << (mode - 1000 + 1);
	if (set)
		s->mouse_on |= bit;
	else
		s->mouse_on &= ~bit;
}

/* Apply one private mode (ESC [ ? N h|l). */
static void
screen_private(struct screen *s, unsigned mode, int set)
{
	unsigned	bit = 0;

	switch (mode) {
	case 47:
	case 1047:
	case 1049:
		s->alt = set;
		s->alt_unknown = 0;
		bit = SM_ALT;
		break;
	case 1:
		bit = SM_CKM;
		break;
	case 25:
		bit = SM_HIDDEN;
		set = !set;
		break;
	case 9:
	case 1000:
	case 1001:
	case 1002:
	case 1003:
		if (set)
			s->mouse_mode = mode;
		else if (s->mouse_mode == mode)
			s->mouse_mode = 0;
		screen_mouse_on(s, mode, set);
		bit = SM_MOUSE;
		break;
	case 1005:
	case 1006:
	case 1015:
		if (set)
			s->mouse_enc = mode;
		else if (s->mouse_enc == mode)
			s->mouse_enc = 0;
		bit = SM_MOUSE;
		break;
	case 1004:
		bit = SM_FOCUS;
		break;
	case 2004:
		bit = SM_PASTE;
		break;
	}
	if (set)
		s->modes |= bit;
	else if (bit != SM_MOUSE)
		s->modes &= ~bit;
	else if (mode != 1005 && mode != 1006 && mode != 1015)
		s->modes &= ~bit;	/* encodings alone report nothing */
}

/* A CSI sequence ended with final byte f. */
static void
screen_csi(struct screen *s, uint8_t f)
{
	int	i;

	if (s->priv && (f == 'h' || f == 'l')) {
		for (i = 0; i < s->nparam; i++)
			screen_private(s, s->param[i], f == 'h');
	} else if (!s->priv && f == 'r') {
		/* Parameters past the second mean nothing ("ESC [ ; ; r"). */
		if (s->nparam == 0 || (s->param[0] <= 1 &&
		    (s->nparam < 2 || s->param[1] == 0)))
			s->modes &= ~SM_REGION;
		else {
			s->modes |= SM_REGION;
			s->rtop = s->nparam > 0 ? s->param[0] : 0;
			s->rbot = s->nparam > 1 ? s->param[1] : 0;
		}
	}
}

/*
 * Whether byte b inside an escape or CSI sequence leaves it going on: a
 * terminal does a control there and goes on (CAN and SUB cancel, ESC
 * starts again), and libvterm ignores DEL and bytes above it.  Taken
 * for an end, "ESC [ ? 1 \n 0 4 9 h" was missed and the client left the
 * alternate screen set at exit.
 */
static int
screen_inside(uint8_t b)
{
	return (b < 0x20 && b != 0x18 && b != 0x1a && b != 0x1b) || b >= 0x7f;
}

/* Feed one byte of an escape sequence to the mode parser. */
static void
screen_byte(struct screen *s, uint8_t b)
{
	if (screen_inside(b))
		return;
	switch (s->pstate) {
	case PS_ESC:
		s->pstate = PS_GROUND;
		if (b == '[') {
			s->pstate = PS_CSI;
			s->priv = 0;
			s->nparam = 0;
		} else if (b == '=')
			s->modes |= SM_KEYPAD;
		else if (b == '>')
			s->modes &= ~SM_KEYPAD;
		else if (b == 'c') {
			s->modes = 0;	/* RIS: everything back to default */
			s->alt = 0;
			s->mouse_mode = s->mouse_enc = s->mouse_on = 0;
		}
		else if (b == 0x1b)
			s->pstate = PS_ESC;
		break;
	case PS_CSI:
		if (b == '?' && s->nparam == 0 && !s->priv) {
			s->priv = 1;
		} else if (b >= '0' && b <= '9') {
			if (s->nparam == 0)
				s->param[s->nparam++] = 0;
			if (s->param[s->nparam - 1] < 100000)
				s->param[s->nparam - 1] =
				    s->param[s->nparam - 1] * 10 + (b - '0');
		} else if (b == ';') {
			if (s->nparam == 0)
				s->param[s->nparam++] = 0;
			if (s->nparam < SCREEN_PARAMS)
				s->param[s->nparam++] = 0;
		} else if (b >= 0x40 && b <= 0x7e) {
			screen_csi(s, b);
			s->pstate = PS_GROUND;
		} else if (b == 0x1b)
			s->pstate = PS_ESC;
		else if (b < 0x20)
			s->pstate = PS_GROUND;	/* CAN, SUB: cancelled */
		break;
	}
}

/* Scan bytes on their way to the terminal for the modes they set. */
static void
screen_modes(struct screen *s, const uint8_t *p, size_t n)
{
	const uint8_t	*e = p + n, *x;

	while (p < e) {
		if (s->pstate == PS_GROUND) {
			if ((x = memchr(p, 0x1b, (size_t)(e - p))) == NULL)
				return;
			s->pstate = PS_ESC;
			p = x + 1;
			continue;
		}
		screen_byte(s, *p++);
	}
}

/*
 * The bytes that undo what the program changed, for a clean way out:
 * scroll region (with the cursor kept), keypad, cursor, mouse, paste and
 * last the alternate screen.  Returns the length put in out.
 */
size_t
screen_restore(const struct screen *s, char *out, size_t len)
{
	unsigned	m = s->modes;
	int		n;

	n = snprintf(out, len, "%s%s%s%s%s%s%s%s\033[0m",
	    (m & SM_REGION) ? "\0337\033[r\0338" : "",
	    (m & SM_CKM) ? "\033[?1l" : "",
	    (m & SM_KEYPAD) ? "\033>" : "",
	    (m & SM_HIDDEN) ? "\033[?25h" : "",
	    (m & SM_MOUSE) || s->mouse_on ? "\033[?1000l\033[?1002l\033[?1003l"
	    "\033[?1006l\033[?1015l\033[?1005l\033[?9l" : "",
	    (m & SM_PASTE) ? "\033[?2004l" : "",
	    (m & SM_FOCUS) ? "\033[?1004l" : "",
	    s->alt ? "\033[?1049l" : "");
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

/* Scan bytes written to the terminal. */
void
screen_track(struct screen *s, const uint8_t *p, size_t n)
{
	const uint8_t	*nl;

	if (n == 0)
		return;
	screen_modes(s, p, n);
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
			if (row <= 10000)	/* stays too big, never wraps */
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
