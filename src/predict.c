/*
 * Predictive local echo (predict.h): which keys are predicted, where, when
 * they are shown, how they are judged, and the bytes that draw them and
 * take them away.  No I/O: the client queues the bytes (client-predict.c);
 * the unit tests and the fuzzer check the invariants on two terminal
 * models.
 *
 * The model.  On the main screen the cursor's row is rebuilt when needed
 * from the output since the last newline (kept here, at most
 * PRED_LINE_MAX bytes), provided that output moved the cursor only along
 * the row: anything that moves it up, down or to a saved place makes the
 * row unknown until the next CR LF.  On the alternate screen the model
 * is the whole screen, fed with every byte since the program switched to
 * it with ?1049h (which clears it), as long as that stays under
 * PRED_BUDGET bytes a second; a flood there makes it unknown until the
 * program leaves the alternate screen.  Nothing is predicted where the
 * model is unknown.
 */
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "client-vt.h"
#include "predict.h"
#include "proto.h"

#define PS_GROUND	0
#define PS_ESC		1
#define PS_ESC_INTER	2
#define PS_CSI		3
#define PS_STR		4
#define PS_STR_ESC	5

/* Set up for mode on a rows x cols terminal. */
void
predict_init(struct predict *pr, int mode, int rows, int cols)
{
	memset(pr, 0, sizeof *pr);
	pr->mode = mode;
	pr->tio = -1;
	pr->rows = rows > 0 ? rows : 24;
	pr->cols = cols > 0 ? cols : 80;
	if (pr->cols > PRED_COLS_MAX) {
		pr->cols = PRED_COLS_MAX;
		pr->toowide = 1;
	}
	pr->line_bad = 1;	/* where the first line began is unknown */
	pr->epoch = 1;
	pr->conf_tio = -1;
	pr->ecol0 = -1;
	if (mode != PRED_NEVER &&
	    (pr->vt = cvt_new(pr->rows, pr->cols)) == NULL)
		pr->mode = PRED_NEVER;	/* no model, no prediction */
}

/* Release the model. */
void
predict_free(struct predict *pr)
{
	cvt_free(pr->vt);
	pr->vt = NULL;
}

/* Whether prediction is off for good. */
int
predict_never(const struct predict *pr)
{
	return pr->mode == PRED_NEVER;
}

/* Append formatted bytes. */
static void
predict_put(struct buf *out, const char *s)
{
	buf_put(out, s, strlen(s));
}

/* Move the cursor along its row from column a to b. */
static void
predict_move(struct buf *out, int a, int b)
{
	char	tmp[32];

	if (b < a)
		snprintf(tmp, sizeof tmp, "\033[%dD", a - b);
	else if (b > a)
		snprintf(tmp, sizeof tmp, "\033[%dC", b - a);
	else
		return;
	predict_put(out, tmp);
}

/*
 * Take the predictions off the screen: the saved cells are written back
 * (erased ones erased again) and the cursor goes back where the session
 * left it.  The pen was plain when they were drawn and is left plain.
 */
void
predict_hide(struct predict *pr, struct buf *out)
{
	char	tmp[32];
	int	col, run, cur;

	if (!pr->shown)
		return;
	pr->shown = 0;
	predict_put(out, "\033[0m");
	predict_move(out, pr->scp, pr->sfrom);
	cur = pr->sfrom;
	for (col = pr->sfrom; col < pr->sto; ) {
		if (pr->saved[col - pr->sfrom] != CVT_ERASED) {
			predict_move(out, cur, col);
			buf_put_u8(out, (uint8_t)pr->saved[col - pr->sfrom]);
			cur = ++col;
			continue;
		}
		for (run = 0; col + run < pr->sto &&
		    pr->saved[col + run - pr->sfrom] == CVT_ERASED; run++)
			;
		predict_move(out, cur, col);
		cur = col;
		snprintf(tmp, sizeof tmp, "\033[%dX", run);
		predict_put(out, tmp);
		col += run;
	}
	predict_move(out, cur, pr->scm);
}

/* Forget every prediction (taking them off the screen first). */
void
predict_drop(struct predict *pr, struct buf *out)
{
	predict_hide(pr, out);
	pr->n = 0;
}

/*
 * Local text that moves the cursor went to the terminal: the models no
 * longer match it until the session starts a new line (or a new screen).
 */
void
predict_interfere(struct predict *pr, struct buf *out)
{
	predict_drop(pr, out);
	pr->line_bad = 1;
	pr->full = 0;
	pr->gen++;
}

/* A new window size: what is known of the screen is gone. */
void
predict_resize(struct predict *pr, int rows, int cols, struct buf *out)
{
	predict_interfere(pr, out);
	if (rows < 1 || cols < 1)
		return;
	pr->toowide = cols > PRED_COLS_MAX;
	if (cols > PRED_COLS_MAX)
		cols = PRED_COLS_MAX;
	pr->rows = rows;
	pr->cols = cols;
	if (pr->vt != NULL)
		cvt_resize(pr->vt, rows, cols);
}

/*
 * The cursor may have gone up, or rows below it may have been filled (a
 * jump, a restore, a scroll or an insert): the row a newline reaches may
 * hold old text, which the line model (a blank row plus the output since
 * the newline) does not know.  That lasts until the rows below are
 * erased (ED 0 or 2) or, the cursor being at the bottom by then, as many
 * newlines as the screen has rows have scrolled in blank ones.
 */
static void
predict_above(struct predict *pr)
{
	pr->above = 1;
	pr->nl_since = 0;
}

/* The output went to a new line: the line model starts again. */
static void
predict_newline(struct predict *pr)
{
	if (pr->above && ++pr->nl_since >= pr->rows)
		pr->above = 0;
	pr->linelen = 0;
	pr->line_bad = !pr->prev_cr || pr->alt || pr->toowide || pr->above;
	if (!pr->full)
		pr->gen++;
}

/* A CSI sequence ended with final f: is the line model still good? */
static void
predict_csi(struct predict *pr, uint8_t f)
{
	int	alt;

	if (pr->csi_priv && (f == 'h' || f == 'l') && (pr->csi_p == 1049 ||
	    pr->csi_p == 1047 || pr->csi_p == 47)) {
		alt = f == 'h';
		pr->alt = alt;
		pr->line_bad = 1;
		if (!alt && pr->csi_p != 1049)
			predict_above(pr);	/* the cursor stays */
		pr->gen++;
		/*
		 * Only ?1049h clears the screen it switches to; the model
		 * starts with a plain pen, so the program's must be too.
		 */
		pr->full = alt && pr->csi_p == 1049 && pr->mode != PRED_NEVER &&
		    !pr->pen_odd;
		if (pr->full && pr->vt != NULL) {
			cvt_reset(pr->vt);
			pr->fed = 0;
		}
		return;
	}
	if (pr->csi_priv)
		return;
	if (f == 'm')
		pr->pen_odd = pr->csi_nz;	/* the pen outlives lines */
	else if (f == 'u')
		pr->pen_odd = 1;	/* a saved pen may be back */
	switch (f) {
	case 'A': case 'F': case 'H': case 'f': case 'd': case 'r':
	case 'S': case 'T': case 'L': case 'M': case 'u':
		predict_above(pr);
		__attribute__((fallthrough));
	case 'B': case 'E': case 's':
		pr->line_bad = 1;	/* up, down, absolute, saved */
		break;
	case 'J':
		if (pr->csi_p == 0 || pr->csi_p == 2)
			pr->above = 0;	/* everything below erased */
		break;
	}
}

/*
 * A sequence libvterm must not see: 0.1.4 writes past its argument array
 * (and crashes) on a CSI with more than 16 parameters, as in
 * "ESC [ :::::::::::::::::m".  Neither model gets it: the line is unknown
 * and the full model stops before this piece of output is fed.
 */
static void
predict_poison(struct predict *pr)
{
	pr->line_bad = 1;
	if (pr->full) {
		pr->full = 0;
		pr->gen++;
	}
}

/*
 * Whether code point cp is (likely) a combining or zero-width one.
 * U+302A-U+302F and U+3099-U+309A libvterm 0.1.4 joins and makes two
 * columns wide, writing past the row at its end (reliability.md finding
 * 20): the full model must never see them.
 */
static int
predict_combining(uint32_t cp)
{
	return (cp >= 0x300 && cp <= 0x36f) ||
	    (cp >= 0x302a && cp <= 0x302f) || cp == 0x3099 || cp == 0x309a ||
	    (cp >= 0x483 && cp <= 0x489) ||
	    (cp >= 0x591 && cp <= 0x5c7) || (cp >= 0x610 && cp <= 0x61a) ||
	    (cp >= 0x64b && cp <= 0x65f) || (cp >= 0x900 && cp < 0x1100) ||
	    (cp >= 0x1ab0 && cp <= 0x1aff) || (cp >= 0x1dc0 && cp <= 0x1dff) ||
	    (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x20d0 && cp <= 0x20ff) ||
	    (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xfe20 && cp <= 0xfe2f);
}

/*
 * A malformed escape sequence: terminals disagree on where it ends, so
 * nothing is drawn (our bytes could land inside it) until a well-formed
 * one ends (its ESC ended the other in every terminal).
 */
static void
predict_unsure(struct predict *pr)
{
	pr->unsure = 1;
	pr->line_bad = 1;
	if (pr->full) {
		pr->full = 0;
		pr->gen++;
	}
}

/*
 * A C0 control inside an escape sequence: it acts at once and the
 * sequence goes on (CAN and SUB end it), as terminals do.  The line kept
 * then holds a sequence cut in two: it is not used.
 */
static void
predict_c0(struct predict *pr, uint8_t b)
{
	if (pr->ps == PS_STR || pr->ps == PS_STR_ESC) {
		if (b == 0x07)
			pr->ps = PS_GROUND;
		else
			pr->line_bad = 1;
		pr->prev_cr = 0;
		return;
	}
	if (b == '\n')
		predict_newline(pr);
	if (b == 0x18 || b == 0x1a)
		pr->ps = PS_GROUND;
	pr->line_bad = 1;
	pr->prev_cr = b == '\r';
}

/*
 * One byte of output in the ground state through the UTF-8 decoder, kept
 * as libvterm keeps it: controls, DEL and escape sequences leave a
 * sequence pending (utf8_cut), and so do 0xfe and 0xff (each drawn as a
 * replacement character); the next other text byte ends it.  xterm ends
 * it at the control instead, so a cut sequence puts its replacement
 * character at a place that depends on the terminal: nothing is drawn
 * while it is pending (our first predicted byte would end it in the
 * user's terminal but not in the session's) and the line where it ends
 * is unknown.  Wide and combining characters: terminals differ too
 * (libvterm joins a combining mark to the last cell it wrote, which may
 * be a prediction of ours).
 *
 * libvterm 0.1.4 has two decoders: a run of text (up to a control or
 * the end of a write) that starts with ASCII uses one, a run that starts
 * with a high byte the other, and neither ends what the other holds.
 * Our drawing is runs that start with ASCII.  So once a run ended in the
 * middle of a sequence (a control, or the end of a piece of output with
 * 0xfe/0xff inside the sequence: the rest may start a run of the other
 * decoder; a clean cut one cvt_feed() holds back and writes whole with
 * the next piece, so the end of a piece splits no character in the
 * models), utf8_maybe: nothing is
 * drawn until ASCII text surely starts a run (right after a control or
 * an escape sequence), which ends whatever either decoder held, and the
 * line that text is on is unknown (a replacement character may land
 * there).  While a run never ended inside a sequence, both decoders
 * are idle whenever utf8_left is 0.
 */
static void
predict_utf8(struct predict *pr, uint8_t b)
{
	if (b < 0x20 || b == 0x7f) {
		if (pr->utf8_left > 0)
			pr->utf8_cut = pr->utf8_maybe = 1;
		pr->utf8_held = 0;
		pr->run_start = b != 0 && b != 0x7f;
		return;
	}
	if (b < 0x7f && pr->run_start && pr->utf8_maybe) {
		pr->utf8_maybe = 0;
		predict_poison(pr);
	}
	pr->run_start = 0;
	if (b >= 0xfe) {
		pr->line_bad = 1;	/* a replacement; a pending one stays */
		if (pr->utf8_left > 0)
			pr->utf8_odd = 1;
		if (pr->utf8_held)
			pr->utf8_maybe = 1;
		return;
	}
	if (pr->utf8_left > 0 && (b & 0xc0) == 0x80) {
		pr->utf8_cp = pr->utf8_cp << 6 | (b & 0x3f);
		if (--pr->utf8_left > 0)
			return;
		if (pr->utf8_cut)
			predict_poison(pr);
		pr->utf8_cut = pr->utf8_odd = pr->utf8_held = 0;
		if (pr->utf8_cp >= 0x300) {
			pr->line_bad = 1;
			if (predict_combining(pr->utf8_cp))
				predict_poison(pr);
		}
		return;
	}
	if (pr->utf8_left > 0) {
		pr->line_bad = 1;	/* invalid: a replacement character */
		if (pr->utf8_cut)
			predict_poison(pr);
		if (pr->utf8_held)
			pr->utf8_maybe = 1;
	}
	pr->utf8_left = pr->utf8_cut = pr->utf8_odd = pr->utf8_held = 0;
	if (b >= 0xc0 && b < 0xfe) {
		pr->utf8_left = b >= 0xfc ? 5 : b >= 0xf8 ? 4 : b >= 0xf0 ?
		    3 : b >= 0xe0 ? 2 : 1;
		pr->utf8_cp = b & (0x3f >> pr->utf8_left);
	} else if (b >= 0x80)
		pr->line_bad = 1;
}

/*
 * Whether p holds nothing but ASCII other than SO and SI: eight bytes at a
 * time (a byte of y is zero where the byte is 0x0e or 0x0f).
 */
static int
predict_plain(const uint8_t *p, size_t n)
{
	const uint64_t	 ones = 0x0101010101010101ULL, high = ones * 0x80;
	uint64_t	 w, y;
	size_t		 i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		y = (w ^ ones * 0x0e) & ones * 0xfe;
		if ((w & high) || ((y - ones) & ~y & high))
			return 0;
	}
	for (; i < n; i++) {
		if (p[i] >= 0x80 || p[i] == 0x0e || p[i] == 0x0f)
			return 0;
	}
	return 1;
}

/*
 * Text without ESC where the line is not kept: only the shifts and the
 * bytes that start, continue or end a UTF-8 sequence matter.  Blocks of
 * plain ASCII with the decoder idle are skipped whole (bulk output).
 */
static void
predict_utf8_run(struct predict *pr, const uint8_t *p, size_t n)
{
	size_t	i, end;
	int	busy;

	for (i = 0; i < n; ) {
		end = n - i > 256 ? i + 256 : n;
		if (pr->utf8_left == 0 && !pr->utf8_maybe &&
		    predict_plain(p + i, end - i)) {
			i = end;
			continue;
		}
		busy = pr->utf8_left > 0 || pr->utf8_maybe;
		for (; i < end; i++) {
			if (p[i] < 0x80 && !busy) {
				if (p[i] == 0x0e || p[i] == 0x0f)
					pr->cs_shift = p[i] == 0x0e;
				continue;
			}
			if (p[i] == 0x0e || p[i] == 0x0f)
				pr->cs_shift = p[i] == 0x0e;
			predict_utf8(pr, p[i]);
			busy = pr->utf8_left > 0 || pr->utf8_maybe;
		}
	}
}

/* A byte after ESC: the escape's final byte, or what it opens. */
static void
predict_scan_esc(struct predict *pr, uint8_t b)
{
	pr->ps = PS_GROUND;
	if (b == 0x1b) {
		pr->ps = PS_ESC;	/* ESC starts over */
		pr->esc_odd = 0;
		predict_unsure(pr);
	} else if (b == '[') {
		pr->ps = PS_CSI;
		pr->csi_priv = 0;
		pr->csi_p = 0;
		pr->csi_nz = 0;
		pr->csi_n = 0;
	} else if (b == ']' || b == 'P' || b == '_' || b == '^' ||
	    b == 'X')
		pr->ps = PS_STR;
	else if (b >= 0x20 && b <= 0x2f) {
		pr->ps = PS_ESC_INTER;
		pr->esc_inter = b;
	}
	else if (b > 0x7e) {
		/*
		 * libvterm ignores it and the escape goes on ("ESC
		 * \x85 8" restores the cursor); other terminals may
		 * end it here: unsure until a clean one ends.
		 */
		pr->ps = PS_ESC;
		pr->esc_odd = 1;
		predict_unsure(pr);
	} else if (b < 0x30)
		predict_unsure(pr);
	else {
		pr->unsure = pr->esc_odd;
		if (b != '=' && b != '>')
			pr->line_bad = 1;	/* 7, 8, D, E, M, c */
		if (b == '8' || b == 'M')
			predict_above(pr);	/* restore, up */
		if (b == 'c')
			pr->above = 0;		/* all erased */
		if (b == '8')
			pr->pen_odd = 1;	/* the saved pen is back */
		if (b == 'n' || b == 'o')
			pr->cs_shift = 1;	/* LS2, LS3 */
		if (b == 'c')
			pr->cs_shift = pr->cs_g0_odd = 0;
	}
}

/* A byte after ESC and an intermediate (ESC ( B, ESC # 8, ...). */
static void
predict_scan_inter(struct predict *pr, uint8_t b)
{
	if (b == '[') {
		/*
		 * libvterm opens a CSI (or a string) here, terminals
		 * end the escape: the models and the screen may
		 * differ.
		 */
		pr->ps = PS_CSI;
		pr->csi_priv = pr->csi_p = pr->csi_nz = pr->csi_n = 0;
		predict_unsure(pr);
	} else if (b == ']' || b == 'P' || b == '_' || b == '^' ||
	    b == 'X') {
		pr->ps = PS_STR;
		predict_unsure(pr);
	} else if (b >= 0x30 && b <= 0x7e) {
		pr->ps = PS_GROUND;
		pr->unsure = pr->esc_odd;
		/* G0 designated: only ESC ( B is ASCII. */
		if (pr->esc_inter == '(')
			pr->cs_g0_odd = b != 'B';
		/*
		 * ESC # 8 (DECALN) fills every row with E and
		 * homes the cursor; ESC # 3-6 make the row double
		 * height or width.  ESC % picks a coding.
		 */
		if (pr->esc_inter == '#' || pr->esc_inter == '%')
			pr->line_bad = 1;
		if (pr->esc_inter == '#' && b == '8')
			predict_above(pr);
	} else if (b > 0x7e) {
		/* As after ESC: ignored, the escape goes on. */
		pr->esc_odd = 1;
		predict_unsure(pr);
	} else if (b == 0x1b) {
		pr->ps = PS_ESC;
		pr->esc_odd = 0;
		predict_unsure(pr);
	}
}

/* A byte of a CSI: a parameter, a private marker or the final byte. */
static void
predict_scan_csi(struct predict *pr, uint8_t b)
{
	if (b >= 0x7f) {
		pr->ps = PS_GROUND;
		predict_unsure(pr);
		return;
	}
	if ((b >= '1' && b <= '9') || b == ':' || (b >= 0x20 &&
	    b <= 0x2f))
		pr->csi_nz = 1;	/* SGR: not just a reset */
	if ((b == ';' || b == ':') && ++pr->csi_n > PRED_CSI_ARGS)
		predict_poison(pr);
	if (b >= 0x40 && b <= 0x7e) {
		pr->ps = PS_GROUND;
		pr->unsure = pr->esc_odd;
		/* libvterm 0.1.4 may loop forever on a REP. */
		if (b == 'b')
			predict_poison(pr);
		predict_csi(pr, b);
	} else if (b >= '<' && b <= '?')
		pr->csi_priv = 1;
	else if (b >= '0' && b <= '9' && pr->csi_p < 100000)
		pr->csi_p = pr->csi_p * 10 + (b - '0');
	else if (b == ';')
		pr->csi_p = pr->csi_p == 0 ? 0 : 100000;
	else if (b < 0x20 && b != 0x1b)
		;	/* C0 inside CSI acts and the CSI goes on */
	else if (b == 0x1b) {
		pr->ps = PS_ESC;
		pr->esc_odd = 0;
	}
}

/* One byte of output through the scan. */
static void
predict_scan(struct predict *pr, uint8_t b)
{
	/* Shifts act anywhere: another character set draws our keys. */
	if (b == 0x0e)
		pr->cs_shift = 1;
	else if (b == 0x0f)
		pr->cs_shift = 0;
	if (pr->ps != PS_GROUND)
		pr->run_start = 1;	/* text after it starts a run */
	if (b < 0x20 && b != 0x1b && pr->ps != PS_GROUND) {
		predict_c0(pr, b);
		return;
	}
	switch (pr->ps) {
	case PS_GROUND:
		predict_utf8(pr, b);
		if (b == 0x1b) {
			pr->ps = PS_ESC;
			pr->esc_odd = 0;
		}
		else if (b == '\n')
			predict_newline(pr);
		else if (b < 0x20 && b != '\r' && b != '\b' && b != '\t' &&
		    b != '\a' && b != 0)
			pr->line_bad = 1;	/* \v, \f, SO, SI ... */
		break;
	case PS_ESC:
		predict_scan_esc(pr, b);
		break;
	case PS_ESC_INTER:
		predict_scan_inter(pr, b);
		break;
	case PS_CSI:
		predict_scan_csi(pr, b);
		break;
	case PS_STR:
		if (b == 0x07)
			pr->ps = PS_GROUND;
		else if (b == 0x1b)
			pr->ps = PS_STR_ESC;
		break;
	case PS_STR_ESC:
		pr->ps = b == '\\' ? PS_GROUND : PS_STR;
		break;
	}
	pr->prev_cr = pr->ps == PS_GROUND && b == '\r';
}

/* Keep byte b of the line (the output since the last newline). */
static void
predict_keep(struct predict *pr, uint8_t b)
{
	if (pr->linelen < PRED_LINE_MAX)
		pr->line[pr->linelen++] = b;
	else
		pr->line_bad = 1;
}

/*
 * Text without ESC, in the ground state: the fast path.  Only the part
 * after its last newline matters to the line, and once the line is known
 * to be bad only its last bytes (a character cut in two) do.
 */
static void
predict_text(struct predict *pr, const uint8_t *p, size_t n)
{
	const uint8_t	*nl, *e;
	size_t		 i;

	if ((nl = compat_memrchr(p, '\n', n)) != NULL) {
		predict_utf8_run(pr, p, (size_t)(nl - p));
		for (e = p; pr->above && (e = memchr(e, '\n', (size_t)(nl -
		    e))) != NULL; e++)
			if (++pr->nl_since >= pr->rows)
				pr->above = 0;
		if (nl > p)
			pr->prev_cr = nl[-1] == '\r';
		predict_utf8(pr, '\n');
		predict_newline(pr);
		pr->prev_cr = 0;
		n -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	if (pr->line_bad || pr->linelen + n > PRED_LINE_MAX) {
		pr->line_bad = 1;
		predict_utf8_run(pr, p, n);
		if (n > 0)
			pr->prev_cr = p[n - 1] == '\r';
		return;
	}
	for (i = 0; i < n; i++) {
		predict_scan(pr, p[i]);
		predict_keep(pr, p[i]);
	}
}

/*
 * Session output on its way to the terminal (predictions hidden): the
 * scan, the line kept, the full model fed within its budget.
 */
void
predict_output(struct predict *pr, const uint8_t *p, size_t n, uint64_t now)
{
	const uint8_t	*e;
	size_t		 i, from = 0, k;
	int		 was_full;

	if (pr->mode == PRED_NEVER || n == 0)
		return;
	pr->dirty = 1;
	for (i = 0; i < n; ) {
		if (pr->ps == PS_GROUND) {
			e = memchr(p + i, 0x1b, n - i);
			k = e != NULL ? (size_t)(e - p) : n;
			predict_text(pr, p + i, k - i);
			if ((i = k) == n)
				break;
		}
		was_full = pr->full;
		predict_scan(pr, p[i]);
		if (p[i] != '\n')
			predict_keep(pr, p[i]);
		if (was_full != pr->full) {
			/* ?1049h just entered: feed from it on. */
			from = i + 1;
			if (pr->full)
				cvt_feed(pr->vt, "\033[?1049h", 8);
		}
		i++;
	}
	/*
	 * A character cut at the end of this piece reaches the models whole
	 * (cvt_feed() holds it back and writes it with the next piece), and
	 * terminals have one decoder: nothing to fear while the next piece
	 * completes it (utf8_held).  One the next piece breaks starts a run
	 * of libvterm's high-byte decoder there, which keeps it pending past
	 * ASCII; one with 0xfe or 0xff inside is not held back whole: the
	 * rest may start a run of the other decoder.  Both are as unknown
	 * as a sequence cut by a control.
	 */
	if (pr->utf8_left > 0 && pr->utf8_odd)
		pr->utf8_maybe = 1;
	else if (pr->utf8_left > 0 && !pr->utf8_cut)
		pr->utf8_held = 1;	/* only continuations since the lead */
	if (!pr->full)
		return;
	if (now - pr->fed_since >= 1000) {
		pr->fed_since = now;
		pr->fed = 0;
	}
	pr->fed += n - from;
	if (pr->fed > PRED_BUDGET) {
		pr->full = 0;	/* a flood: the model stays off the path */
		pr->line_bad = 1;
		pr->gen++;
		return;
	}
	cvt_feed(pr->vt, p + from, n - from);
}

/* Make the model current; 0 if it cannot be trusted now. */
static int
predict_model(struct predict *pr)
{
	if (pr->vt == NULL || pr->ps != PS_GROUND || pr->utf8_left != 0 ||
	    pr->utf8_maybe || pr->unsure || pr->cols < 2)
		return 0;	/* the model has 2 columns at least (cvt_new) */
	if (pr->full)
		return 1;
	if (pr->line_bad)
		return 0;
	if (pr->dirty) {
		cvt_reset(pr->vt);
		cvt_feed(pr->vt, pr->line, pr->linelen);
		pr->dirty = 0;
	}
	return !cvt_alt(pr->vt);
}

/*
 * Whether the daemon says the program echoes lines itself (kernel), in a
 * report taken after the program had been quiet a while (TIO_QUIET) since
 * this key's epoch began: a script that prints a password prompt and then
 * runs `stty -echo` has turned echo off by then, and a report taken right
 * after the prompt would still say "echo on".
 */
static int
predict_certain(const struct predict *pr, const struct pitem *it)
{
	return pr->tio != -1 && (pr->tio & TIO_ICANON) &&
	    (pr->tio & TIO_ECHO) && pr->quiet_seen &&
	    pr->quiet_written >= it->brk;
}

/*
 * Whether item it starts a line at a fresh prompt of the session's own
 * shell, whose echo was confirmed before: its epoch is one Enter began,
 * and the daemon says, for input past the Enter, that the session's
 * first process (TIO_SHELL), the same group as at the last confirmed
 * key, reads the terminal in the same (non-canonical) modes.  A job
 * started from the prompt (sudo asking for a password, an editor) is
 * another group, and so is ssh to another host, whose remote prompts
 * the local modes say nothing about: mosh's tentative epoch for those.
 * So the first key at the shell's new prompt is shown at once, where
 * mosh waits a round trip.
 */
static int
predict_resumed(const struct predict *pr, const struct pitem *it)
{
	return it->epoch == pr->cr_epoch && it->epoch > pr->confirmed &&
	    pr->confirmed > 0 && pr->tio != -1 &&
	    (pr->tio & (TIO_ICANON | TIO_SHELL)) == TIO_SHELL &&
	    pr->tio == pr->conf_tio && pr->group != 0 &&
	    pr->group == pr->conf_group && pr->tio_written >= it->brk;
}

/* Whether item i may be drawn. */
static int
predict_showable(const struct predict *pr, const struct pitem *it)
{
	return predict_certain(pr, it) || it->epoch <= pr->confirmed ||
	    predict_resumed(pr, it);
}

/* Remove item i. */
static void
predict_remove(struct predict *pr, int i)
{
	memmove(pr->it + i, pr->it + i + 1, (pr->n - i - 1) *
	    sizeof pr->it[0]);
	pr->n--;
}

/*
 * Judge the predictions against the model: those the server's output
 * shows are confirmed (and so is their epoch); one the program had long
 * enough to echo (settled) that is not shown was wrong, and it and all
 * after it go.  With !ok (no model) they all go.
 */
static void
predict_judge(struct predict *pr, int ok)
{
	struct pitem	*it;
	uint32_t	 cell;
	int		 i, match;

	if (!ok) {
		pr->n = 0;
		return;
	}
	for (i = 0; i < pr->n; ) {
		it = &pr->it[i];
		if (it->gen != pr->gen) {
			pr->n = i;	/* its line is gone */
			break;
		}
		cell = cvt_cell(pr->vt, it->row, it->col);
		match = it->kind == PK_CHAR && cell == it->ch;
		if (!match && it->append && cell != CVT_ERASED) {
			pr->n_wrong++;	/* the server wrote something else */
			pr->n = i;
			break;
		}
		if (!match && it->off < pr->settled && it->kind != PK_CHAR)
			match = 1;	/* no contradiction to see */
		if (match) {
			if (it->epoch > pr->confirmed) {
				pr->confirmed = it->epoch;
				pr->conf_tio = pr->tio;
				pr->conf_group = pr->group;
			}
			pr->n_ok++;
			predict_remove(pr, i);
			continue;
		}
		if (it->off < pr->settled) {
			pr->n_wrong++;
			pr->n = i;
			break;
		}
		i++;
	}
}

/* Apply item it to the predicted row cells; returns the new cursor. */
static int
predict_apply(uint32_t *cells, int cols, const struct pitem *it)
{
	switch (it->kind) {
	case PK_CHAR:
		memmove(cells + it->col + 1, cells + it->col,
		    (cols - it->col - 1) * sizeof *cells);
		cells[it->col] = it->ch;
		return it->col + 1;
	case PK_ERASE:
		memmove(cells + it->col, cells + it->col + 1,
		    (cols - it->col - 1) * sizeof *cells);
		cells[cols - 1] = CVT_ERASED;
		return it->col;
	case PK_LEFT:
		return it->col - 1;
	default:
		return it->col + 1;
	}
}

/* The model's cursor row, and the predicted cursor after every item. */
static int
predict_cursor(struct predict *pr, int *row, int *col)
{
	uint32_t	cells[PRED_COLS_MAX];
	int		i, c;

	cvt_cursor(pr->vt, row, col);
	if (pr->n == 0)
		return 0;
	for (i = 0; i < pr->cols; i++)
		cells[i] = cvt_cell(pr->vt, *row, i);
	for (i = 0, c = *col; i < pr->n; i++)
		c = predict_apply(cells, pr->cols, &pr->it[i]);
	*col = c;
	return 0;
}

/* The attribute a predicted cell is drawn with. */
static const char *
predict_attr(const struct predict *pr, const struct pitem *it)
{
	if (it->off >= pr->sent)
		return "\033[0;2;4m";	/* not yet sent: dim, underlined */
	if (pr->flagging && !predict_certain(pr, it))
		return "\033[0;4m";
	return "\033[0m";
}

/*
 * Draw the predictions that may be shown: the predicted row is compared
 * with the model's, the differing span is drawn and the cursor put where
 * it will be.  Nothing is drawn over a cell that could not be put back.
 */
static void
predict_draw(struct predict *pr, struct buf *out)
{
	uint32_t	 cells[PRED_COLS_MAX], model[PRED_COLS_MAX];
	const char	*attr[PRED_COLS_MAX], *pen, *a;
	int		 i, k, row, cm, cp, from, to, col;

	cvt_cursor(pr->vt, &row, &cm);
	if ((pr->pen_odd && !pr->full) || !cvt_pen_plain(pr->vt) ||
	    pr->cs_g0_odd || pr->cs_shift || cm >= pr->cols - 2)
		return;		/* the full model knows the pen itself */
	for (i = 0; i < pr->cols; i++) {
		cells[i] = model[i] = cvt_cell(pr->vt, row, i);
		attr[i] = NULL;
	}
	cp = cm;
	for (k = 0; k < pr->n && predict_showable(pr, &pr->it[k]); k++) {
		if (pr->it[k].row != row)
			return;
		cp = predict_apply(cells, pr->cols, &pr->it[k]);
		col = pr->it[k].col;
		if (pr->it[k].kind == PK_CHAR) {
			memmove(attr + col + 1, attr + col,
			    (pr->cols - col - 1) * sizeof *attr);
			attr[col] = predict_attr(pr, &pr->it[k]);
		} else if (pr->it[k].kind == PK_ERASE) {
			memmove(attr + col, attr + col + 1,
			    (pr->cols - col - 1) * sizeof *attr);
			attr[pr->cols - 1] = NULL;
		}
	}
	if (k == 0)
		return;
	for (from = 0; from < pr->cols && cells[from] == model[from] &&
	    attr[from] == NULL; from++)
		;
	for (to = pr->cols; to > from && cells[to - 1] == model[to - 1] &&
	    attr[to - 1] == NULL; to--)
		;
	if (from == to) {
		from = to = cm;
		if (cp == cm)
			return;
	}
	if (to >= pr->cols)
		return;	/* the last column: the cursor would wait to wrap */
	for (col = from; col < to; col++) {
		if (model[col] == CVT_OTHER || cells[col] == CVT_OTHER)
			return;
	}
	predict_put(out, pen = "\033[0m");
	predict_move(out, cm, from);
	for (col = from; col < to; col++) {
		a = attr[col] != NULL ? attr[col] : "\033[0m";
		if (strcmp(a, pen) != 0)
			predict_put(out, pen = a);	/* only changes */
		buf_put_u8(out, cells[col] == CVT_ERASED ? ' ' :
		    (uint8_t)cells[col]);
		pr->saved[col - from] = model[col];
	}
	if (strcmp(pen, "\033[0m") != 0)
		predict_put(out, "\033[0m");
	predict_move(out, to, cp);
	pr->shown = 1;
	pr->scm = cm;
	pr->sfrom = from;
	pr->sto = to;
	pr->scp = cp;
	pr->n_shown++;
}

/*
 * After output (or a key, a report): judge the predictions against the
 * model and draw those that may be shown.  Call with them hidden.
 */
void
predict_show(struct predict *pr, uint64_t now, struct buf *out)
{
	int	ok;

	(void)now;
	if (pr->mode == PRED_NEVER || pr->shown || pr->n == 0)
		return;		/* nothing outstanding: no model work */
	ok = predict_model(pr);
	predict_judge(pr, ok);
	if (!ok || pr->n == 0 || !pr->engaged)
		return;
	if (pr->tio != -1 && (pr->tio & TIO_ICANON) && !(pr->tio & TIO_ECHO))
		return;
	predict_draw(pr, out);
}

/* A key that cannot be predicted: a new, tentative epoch. */
static void
predict_break(struct predict *pr, uint64_t next)
{
	pr->epoch++;
	pr->brk = next;
	pr->ecol0 = -1;
}

/* Whether new predictions may be made now. */
static int
predict_may(struct predict *pr)
{
	if (pr->tio == -1)
		return 0;	/* an old daemon: nothing is known */
	if ((pr->tio & TIO_ICANON) && !(pr->tio & TIO_ECHO))
		return 0;	/* a password prompt */
	if (pr->settled < pr->brk)
		return 0;	/* the last break's effect is not known yet */
	if (pr->n >= PRED_MAX)
		return 0;
	return predict_model(pr);
}

/* Make a prediction for one key (kind, byte) at input offset off. */
static int
predict_one(struct predict *pr, int kind, uint8_t ch, uint64_t off,
    uint64_t now)
{
	uint32_t	 cells[PRED_COLS_MAX];
	struct pitem	*it;
	int		 row, col, i, canon;

	if (!predict_may(pr))
		return 0;
	canon = pr->tio & TIO_ICANON;
	if (canon && kind != PK_CHAR && kind != PK_ERASE)
		return 0;	/* the kernel echoes arrows as ^[[D */
	predict_cursor(pr, &row, &col);
	for (i = 0; i < pr->cols; i++)
		cells[i] = cvt_cell(pr->vt, row, i);
	for (i = 0; i < pr->n; i++)
		predict_apply(cells, pr->cols, &pr->it[i]);
	if (col < 0 || col >= pr->cols - 2 || cells[pr->cols - 1] !=
	    CVT_ERASED)
		return 0;
	for (i = col; i < pr->cols; i++) {
		if (cells[i] == CVT_OTHER)
			return 0;	/* cannot be shifted or put back */
	}
	if (pr->ecol0 == -1)
		pr->ecol0 = col;
	if ((kind == PK_ERASE || kind == PK_LEFT) && col <= pr->ecol0)
		return 0;
	if (kind == PK_ERASE && cells[col - 1] == CVT_OTHER)
		return 0;
	if (kind == PK_RIGHT && cells[col] == CVT_ERASED)
		return 0;
	if (kind == PK_CHAR && cells[pr->cols - 2] != CVT_ERASED)
		return 0;	/* the insertion would reach the last column */
	if (canon && kind == PK_ERASE && cells[col] != CVT_ERASED)
		return 0;
	it = &pr->it[pr->n++];
	memset(it, 0, sizeof *it);
	it->kind = kind;
	it->ch = ch;
	it->append = kind == PK_CHAR && cells[col] == CVT_ERASED;
	it->row = row;
	it->col = kind == PK_ERASE ? col - 1 : col;
	it->off = off;
	it->brk = pr->brk;
	it->epoch = pr->epoch;
	it->gen = pr->gen;
	it->made = now;
	pr->n_made++;
	return 1;
}

/*
 * Keys typed (after the escape parser), the first at input offset off:
 * predict what can be, break the epoch at the rest, and redraw.
 */
void
predict_keys(struct predict *pr, const uint8_t *p, size_t n, uint64_t off,
    uint64_t now, struct buf *out)
{
	size_t	i, k;
	int	kind;

	if (pr->mode == PRED_NEVER || n == 0)
		return;
	predict_hide(pr, out);
	if (n >= PRED_PASTE) {
		predict_drop(pr, out);	/* a paste: not predicted */
		predict_break(pr, off + n);
		return;
	}
	for (i = 0; i < n; i += k) {
		k = 1;
		kind = 0;
		if (p[i] >= 0x20 && p[i] < 0x7f)
			kind = PK_CHAR;
		else if (p[i] == 0x7f || (p[i] == 0x08 &&
		    !(pr->tio & TIO_ICANON)))
			kind = PK_ERASE;
		else if (p[i] == 0x1b && i + 2 < n && (p[i + 1] == '[' ||
		    p[i + 1] == 'O') && (p[i + 2] == 'C' || p[i + 2] == 'D')) {
			kind = p[i + 2] == 'C' ? PK_RIGHT : PK_LEFT;
			k = 3;
		}
		if (kind == 0 || !predict_one(pr, kind, p[i], off + i, now)) {
			predict_break(pr, off + i + k);
			if (p[i] == '\r' && kind == 0)
				pr->cr_epoch = pr->epoch;
		}
	}
	predict_show(pr, now, out);
}

/*
 * The daemon's TERMIOS: the program's modes and the input it had long
 * enough to echo.  Echo off in canonical mode takes every prediction
 * away at once.
 */
void
predict_termios(struct predict *pr, int flags, uint64_t written,
    uint64_t settled, uint64_t now, struct buf *out)
{
	if (pr->mode == PRED_NEVER)
		return;
	predict_hide(pr, out);
	pr->tio = flags & ~TIO_QUIET;
	pr->tio_written = written;
	if (flags & TIO_QUIET) {
		pr->quiet_seen = 1;
		pr->quiet_written = written;
	}
	if (settled > pr->settled)
		pr->settled = settled;
	if ((flags & TIO_ICANON) && !(flags & TIO_ECHO))
		pr->n = 0;
	predict_show(pr, now, out);
}

/*
 * The daemon's word on which process group reads the terminal (with its
 * TERMIOS, before predict_termios()); 0 if it did not say.
 */
void
predict_group(struct predict *pr, uint32_t group)
{
	pr->group = group;
}

/*
 * The link: smoothed RTT, contact, input sent.  Decides whether
 * predictions are shown and underlined (with hysteresis, and on while a
 * key waited too long or there is no contact) and redraws when that or
 * the "not yet sent" marking changes.
 */
void
predict_net(struct predict *pr, uint64_t srtt, int up, uint64_t sent,
    uint64_t now, struct buf *out)
{
	int	engaged, flagging, i, redraw = 0;

	if (pr->mode == PRED_NEVER)
		return;
	for (i = 0; i < pr->n; i++) {
		if (now - pr->it[i].made >= PRED_GLITCH_MS)
			pr->glitch_until = now + PRED_GLITCH_HOLD;
		/* Sent now, or to be sent again (a new connection). */
		if ((pr->it[i].off >= pr->sent) != (pr->it[i].off >= sent))
			redraw = 1;
	}
	engaged = pr->engaged;
	if (pr->mode == PRED_ALWAYS || !up || now < pr->glitch_until ||
	    srtt > PRED_SRTT_ON)
		engaged = 1;
	else if (srtt <= PRED_SRTT_OFF)
		engaged = 0;
	flagging = pr->flagging;
	if (srtt > PRED_FLAG_ON || !up)
		flagging = 1;
	else if (srtt <= PRED_FLAG_OFF)
		flagging = 0;
	if (engaged != pr->engaged || flagging != pr->flagging)
		redraw = 1;
	pr->engaged = engaged;
	pr->flagging = flagging;
	pr->srtt = srtt;
	pr->up = up;
	pr->sent = sent;
	if (redraw && (pr->shown || pr->n > 0)) {
		predict_hide(pr, out);
		predict_show(pr, now, out);
	}
}

/* When predict_net() should look again (0: no need). */
uint64_t
predict_deadline(const struct predict *pr)
{
	if (pr->mode != PRED_ADAPTIVE || pr->engaged || pr->n == 0)
		return 0;
	return pr->it[0].made + PRED_GLITCH_MS;
}
