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
#define PS_ESCI		3	/* ESC and intermediates */
#define CP_LEADER	0	/* the CSI's phases, as libvterm's parser */
#define CP_ARGS		1
#define CP_INTER	2
/* libvterm 0.1.4's CSI_ARG_MISSING and CSI_ARG_MASK (vterm.h). */
#define ARG_MISSING	0x7fffffffU
#define ARG_MASK	0x7fffffffU

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

/* Parameter i as libvterm's state.c reads it (CSI_ARG()). */
static unsigned
screen_arg(const struct screen *s, int i)
{
	return (unsigned)(s->param[i] & ARG_MASK);
}

/*
 * DECSTBM as libvterm 0.1.4 takes it (state.c): the top defaults to 1,
 * the bottom (0 here) to the last row; an explicit bottom of 0 is no
 * region.  What no region is for a size (a top past the bottom, the
 * whole screen) vt.c settles with the size (vt_region_fit()).
 */
static void
screen_region(struct screen *s)
{
	unsigned	top = s->nparam > 0 ? screen_arg(s, 0) : ARG_MISSING;
	unsigned	bot = s->nparam > 1 ? screen_arg(s, 1) : ARG_MISSING;

	if (top == ARG_MISSING)
		top = 0;
	if (bot == 0 || (top <= 1 && bot == ARG_MISSING)) {
		s->modes &= ~SM_REGION;
		return;
	}
	s->modes |= SM_REGION;
	s->rnew = 1;
	s->rtop = top;
	s->rbot = bot == ARG_MISSING ? 0 : bot;
}

/*
 * A CSI sequence ended with final byte f.  libvterm's state.c takes only
 * a leader of one '?' for the private modes and none for DECSTBM, and
 * neither with intermediates.
 */
static void
screen_csi(struct screen *s, uint8_t f)
{
	int	i;

	if (s->cphase == CP_INTER)
		return;
	if (s->priv == 1 && (f == 'h' || f == 'l')) {
		for (i = 0; i < s->nparam; i++)
			screen_private(s, screen_arg(s, i), f == 'h');
	} else if (s->priv == 0 && f == 'r')
		screen_region(s);
}

/*
 * A byte of a CSI's leader, parameters or intermediates, as libvterm
 * 0.1.4's parser (parser.c) reads it: leader bytes come first, then
 * digits split by ';' or ':' (16 numbers at most: vt.c's guard drops the
 * separators past the fifteenth and the digits run on), then
 * intermediates.  0 if the byte ends the sequence unfinished (a leader
 * after a digit, a digit after an intermediate).
 */
static int
screen_csi_byte(struct screen *s, uint8_t b)
{
	uint64_t	*a;

	if (b >= 0x3c && b <= 0x3f && s->cphase == CP_LEADER) {
		s->priv = b == '?' && s->priv == 0 ? 1 : 2;
		return 1;
	}
	if (b >= 0x20 && b <= 0x2f) {
		s->cphase = CP_INTER;
		return 1;
	}
	if (b > ';' || s->cphase == CP_INTER)
		return 0;
	if (s->cphase == CP_LEADER) {
		s->cphase = CP_ARGS;
		s->param[0] = ARG_MISSING;
		s->nparam = 1;
	}
	a = &s->param[s->nparam - 1];
	if (b >= '0' && b <= '9') {
		/* As libvterm's long, wrapping alike. */
		if (*a == ARG_MISSING)
			*a = 0;
		*a = *a * 10 + (uint64_t)(b - '0');
	} else if (s->nparam < SCREEN_PARAMS)
		s->param[s->nparam++] = ARG_MISSING;
	return 1;
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

/* Start a CSI. */
static void
screen_csi_start(struct screen *s)
{
	s->pstate = PS_CSI;
	s->priv = 0;
	s->nparam = 0;
	s->cphase = CP_LEADER;
}

/*
 * Feed one byte of an escape sequence to the mode parser, which reads
 * them as libvterm 0.1.4's parser does (reliability.md finding 34): a
 * CSI starts at "[" after ESC and any intermediates ("ESC % [" too),
 * and a string (OSC, DCS) needs no state here: inside it libvterm looks
 * only for ESC, CAN and SUB, as the ground state does.
 */
static void
screen_byte(struct screen *s, uint8_t b)
{
	if (screen_inside(b))
		return;
	if (b == 0x1b) {
		s->pstate = PS_ESC;
		return;
	}
	if (b == 0x18 || b == 0x1a) {
		s->pstate = PS_GROUND;	/* CAN, SUB: cancelled */
		return;
	}
	switch (s->pstate) {
	case PS_ESC:
	case PS_ESCI:
		if (b == '[')
			screen_csi_start(s);
		else if (b >= 0x20 && b <= 0x2f)
			s->pstate = PS_ESCI;
		else if (s->pstate == PS_ESCI)
			s->pstate = PS_GROUND;
		else {
			s->pstate = PS_GROUND;
			if (b == '=')
				s->modes |= SM_KEYPAD;
			else if (b == '>')
				s->modes &= ~SM_KEYPAD;
			else if (b == 'c') {
				s->modes = 0;	/* RIS: all back to default */
				s->alt = 0;
				s->mouse_mode = s->mouse_enc = 0;
				s->mouse_on = 0;
			}
		}
		break;
	case PS_CSI:
		if (b >= 0x40 && b <= 0x7e) {
			screen_csi(s, b);
			s->pstate = PS_GROUND;
		} else if (!screen_csi_byte(s, b))
			s->pstate = PS_GROUND;
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
 * if one of our queries is unanswered; returns the new length.  A late
 * answer (the notice went ahead without it) is taken out all the same:
 * it is not typed input, and would reach the shell as "1R".
 */
size_t
screen_take_cpr(struct screen *s, uint8_t *p, size_t n)
{
	size_t		i, j;
	unsigned	row;

	if (s->cpr_owed == 0)
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
		if (s->cpr_wait)
			s->row = (int)row;
		s->cpr_wait = 0;
		s->cpr_owed--;
		memmove(p + i, p + j + 1, n - j - 1);
		return n - (j + 1 - i);
	}
	return n;
}
