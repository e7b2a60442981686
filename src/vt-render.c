/*
 * The screen model's snapshot: the state libvterm holds (cells, pen,
 * cursor, title, modes, the lines that scrolled off) rendered as the
 * escape sequences that rebuild it on a terminal, and read back cell by
 * cell for the client's checks and the tests.  vt.c feeds the model.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vterm.h>

#include "client-screen.h"
#include "err.h"
#include "log.h"
#include "ring.h"
#include "vt.h"
#include "vt-int.h"
#include "xmalloc.h"

/* Append formatted text. */
void
vt_printf(struct buf *b, const char *fmt, ...)
{
	char	s[512];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(s, sizeof s, fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_put(b, s, (size_t)n < sizeof s ? (size_t)n : sizeof s - 1);
}

/* The SGR parameters of one colour, as the palette index it was set by. */
static void
vt_color(struct buf *b, const VTermColor *c, int fg)
{
	if (fg ? VTERM_COLOR_IS_DEFAULT_FG(c) : VTERM_COLOR_IS_DEFAULT_BG(c))
		return;
	if (VTERM_COLOR_IS_INDEXED(c)) {
		if (c->indexed.idx < 8)
			vt_printf(b, ";%d", (fg ? 30 : 40) + c->indexed.idx);
		else if (c->indexed.idx < 16)
			vt_printf(b, ";%d", (fg ? 90 : 100) +
			    c->indexed.idx - 8);
		else
			vt_printf(b, ";%d;5;%d", fg ? 38 : 48, c->indexed.idx);
	} else
		vt_printf(b, ";%d;2;%d;%d;%d", fg ? 38 : 48, c->rgb.red,
		    c->rgb.green, c->rgb.blue);
}

/* One SGR sequence that sets exactly these attributes from nothing. */
void
vt_sgr(struct buf *b, const VTermScreenCellAttrs *a, const VTermColor *fg,
    const VTermColor *bg)
{
	static const char	*ul[] = { "", ";4", ";21", ";4:3" };

	vt_printf(b, "\033[0%s%s%s%s%s%s", a->bold ? ";1" : "",
	    ul[a->underline & 3], a->italic ? ";3" : "",
	    a->blink ? ";5" : "", a->reverse ? ";7" : "",
	    a->strike ? ";9" : "");
	if (a->font != 0)
		vt_printf(b, ";%d", 10 + a->font);
	vt_color(b, fg, 1);
	vt_color(b, bg, 0);
	buf_put(b, "m", 1);
}

/*
 * Whether a cell is as a fresh, erased one (never written: a written
 * space counts, as a terminal keeps it).
 */
static int
vt_blank(const VTermScreenCell *c)
{
	return c->chars[0] == 0 && VTERM_COLOR_IS_DEFAULT_BG(&c->bg) &&
	    !c->attrs.reverse;
}

/* Whether two cells are drawn with the same attributes. */
int
vt_same_pen(const VTermScreenCell *a, const VTermScreenCell *b)
{
	return memcmp(&a->attrs, &b->attrs, sizeof a->attrs) == 0 &&
	    vterm_color_is_equal(&a->fg, &b->fg) &&
	    (a->fg.type & VTERM_COLOR_DEFAULT_MASK) ==
	    (b->fg.type & VTERM_COLOR_DEFAULT_MASK) &&
	    vterm_color_is_equal(&a->bg, &b->bg) &&
	    (a->bg.type & VTERM_COLOR_DEFAULT_MASK) ==
	    (b->bg.type & VTERM_COLOR_DEFAULT_MASK);
}

/*
 * Whether a terminal may give cell c another width than libvterm did: a
 * mark joined to it (libvterm 0.1.4 makes "\xef\xbf\xbd\xe3\x80\xaf" two
 * columns wide and moves the cursor three; fuzz/corpus-vt/join-wide),
 * or a character past U+1100 outside the blocks every terminal takes as
 * wide (emoji and newer characters are one column in libvterm's tables).
 * The cursor is put in its column after such a cell, so that the rest
 * of the row stays in place whatever the terminal makes of it.
 */
static int
vt_odd(const VTermScreenCell *c)
{
	uint32_t	ch = c->chars[0];

	if (ch < 0x300)
		return c->chars[1] != 0;
	if (c->chars[1] != 0 || vt_combining(ch))
		return 1;
	return ch >= 0x1100 && !(ch >= 0x4e00 && ch <= 0x9fff) &&
	    !(ch >= 0xac00 && ch <= 0xd7a3) && !(ch >= 0x3040 && ch <= 0x30ff);
}

/*
 * Render a row of cells onto a blank line: attributes as they change,
 * erased cells skipped over (so they stay erased), trailing ones left
 * out, the pen reset at the end.
 */
void
vt_cells(struct buf *b, const VTermScreenCell *c, int n)
{
	const VTermScreenCell	*pen = NULL;
	int			 i, j, last = -1, skip = 0;

	for (i = 0; i < n; i++)
		if (!vt_blank(&c[i]))
			last = i;
	for (i = 0; i <= last; i++) {
		if (c[i].chars[0] == (uint32_t)-1)
			continue;	/* the right half of a wide one */
		if (vt_blank(&c[i])) {
			skip++;
			continue;
		}
		if (skip > 0) {
			vt_printf(b, "\033[%dC", skip);
			skip = 0;
		}
		if (pen == NULL || !vt_same_pen(pen, &c[i])) {
			vt_sgr(b, &c[i].attrs, &c[i].fg, &c[i].bg);
			pen = &c[i];
		}
		if (c[i].chars[0] == 0 || vt_combining(c[i].chars[0]))
			buf_put(b, "  ", c[i].width == 2 ? 2 : 1);
		for (j = 0; j < VTERM_MAX_CHARS_PER_CELL &&
		    c[i].chars[j] != 0; j++)
			vt_utf8(b, c[i].chars[j]);
		if (vt_odd(&c[i]))
			vt_printf(b, "\033[%dG", i + (c[i].width == 2 ? 3 : 2));
		if (c[i].width == 2)
			i++;
	}
	buf_put(b, "\033[0m", 4);
}

/* Load screen row r into v->cells as libvterm has it (no fixing). */
void
vt_load_raw(struct vt *v, int r)
{
	VTermPos	pos;
	int		c;

	pos.row = r;
	memset(v->cells, 0, sizeof *v->cells * (size_t)v->cols);
	for (c = 0; c < v->cols; c++) {
		pos.col = c;
		if (!vterm_screen_get_cell(v->scr, pos, &v->cells[c]))
			memset(&v->cells[c], 0, sizeof v->cells[c]);
	}
}

/* Load screen row r into v->cells, fixed for rendering. */
static void
vt_load_row(struct vt *v, int r)
{
	vt_load_raw(v, r);
	vt_fix_row(v->cells, v->cols);
}

/* Whether screen row r (loaded) shows anything. */
static int
vt_row_empty(const struct vt *v)
{
	int	c;

	for (c = 0; c < v->cols; c++)
		if (!vt_blank(&v->cells[c]))
			return 0;
	return 1;
}

/* The scrollback lines stamped after tag `after`, oldest first. */
static void
vt_render_sb(struct vt *v, struct buf *b, uint64_t after)
{
	uint64_t	 at = v->sb.start, tag;
	uint32_t	 n;
	uint8_t		*dst;

	while (at < v->sb.end) {
		vt_sb_get(v, at, &n, 4);
		vt_sb_get(v, at + 4, &tag, 8);
		if ((tag > after || after == 0) &&
		    buf_reserve(b, n, &dst) == 0) {
			vt_sb_get(v, at + VT_SB_HDR, dst, n);
			buf_put(b, "\r\n", 2);
		}
		at += VT_SB_HDR + n;
	}
}

/* The title, with control bytes left out. */
static void
vt_render_title(struct vt *v, struct buf *b)
{
	size_t	i;

	if (v->title[0] == '\0')
		return;
	buf_put(b, "\033]2;", 4);
	for (i = 0; v->title[i] != '\0'; i++)
		if ((uint8_t)v->title[i] >= 0x20 && v->title[i] != 0x7f)
			buf_put(b, &v->title[i], 1);
	buf_put(b, "\007", 1);
}

/* Scroll region, cursor, modes and pen, after the cells are drawn. */
static void
vt_render_modes(struct vt *v, struct buf *b)
{
	VTermPos		 pos;
	VTermValue		 val;
	VTermScreenCellAttrs	 a;
	VTermColor		 fg, bg;
	const struct screen	*m = &v->modes;

	vt_render_title(v, b);
	/*
	 * A bottom of 0 follows the size, as libvterm's; one given as the
	 * last row (after a larger one was cut to it) stays when the
	 * screen grows, but "1;rows" would be no region: rows + 1 is cut.
	 */
	if ((m->modes & SM_REGION) && m->rbot == 0)
		vt_printf(b, "\033[%ur", m->rtop);
	else if (m->modes & SM_REGION)
		vt_printf(b, "\033[%u;%ur", m->rtop, m->rbot + (m->rtop == 1 &&
		    m->rbot == (unsigned)v->rows));
	vterm_state_get_cursorpos(v->st, &pos);
	vt_printf(b, "\033[%d;%dH", pos.row + 1, pos.col + 1);
	if (m->modes & SM_CKM)
		vt_printf(b, "\033[?1h");
	if (m->modes & SM_KEYPAD)
		vt_printf(b, "\033=");
	if (m->modes & SM_PASTE)
		vt_printf(b, "\033[?2004h");
	if (m->modes & SM_FOCUS)
		vt_printf(b, "\033[?1004h");
	if ((m->modes & SM_MOUSE) && m->mouse_mode != 0)
		vt_printf(b, "\033[?%uh", m->mouse_mode);
	if ((m->modes & SM_MOUSE) && m->mouse_enc != 0)
		vt_printf(b, "\033[?%uh", m->mouse_enc);
	if (v->hidden)
		vt_printf(b, "\033[?25l");
	memset(&a, 0, sizeof a);
	vterm_state_get_penattr(v->st, VTERM_ATTR_BOLD, &val);
	a.bold = val.boolean != 0;
	vterm_state_get_penattr(v->st, VTERM_ATTR_UNDERLINE, &val);
	a.underline = (unsigned)val.number & 3;
	vterm_state_get_penattr(v->st, VTERM_ATTR_ITALIC, &val);
	a.italic = val.boolean != 0;
	vterm_state_get_penattr(v->st, VTERM_ATTR_BLINK, &val);
	a.blink = val.boolean != 0;
	vterm_state_get_penattr(v->st, VTERM_ATTR_REVERSE, &val);
	a.reverse = val.boolean != 0;
	vterm_state_get_penattr(v->st, VTERM_ATTR_STRIKE, &val);
	a.strike = val.boolean != 0;
	vterm_state_get_penattr(v->st, VTERM_ATTR_FOREGROUND, &val);
	fg = val.color;
	vterm_state_get_penattr(v->st, VTERM_ATTR_BACKGROUND, &val);
	bg = val.color;
	vt_sgr(b, &a, &fg, &bg);
}

/*
 * The bytes that rebuild the model's state on a terminal in its default
 * state whose cursor is at the start of a line (with VT_CLEAR, whose
 * screen may be cleared: it showed what the scrollback will repeat);
 * with VT_SCROLLBACK, first
 * the kept lines stamped after `after` (all if 0), printed so that they
 * scroll into the terminal's own scrollback; then the screen (on the
 * main screen printed line after line, so the lines above scroll away
 * too), the title, scroll region, cursor, modes and pen.
 */
int
vt_render(struct vt *v, struct buf *b, uint64_t after, int flags)
{
	int	r;

	vt_wake(v);
	if (flags & VT_CLEAR)
		buf_put(b, "\033[0m\033[H\033[2J", 11);
	else
		buf_put(b, "\033[0m\r\033[K", 8);
	if (flags & VT_SCROLLBACK)
		vt_render_sb(v, b, after);
	if (v->alt)
		buf_put(b, "\033[?1049h\033[H\033[2J", 15);
	/*
	 * No autowrap while the rows are drawn: a row the terminal finds
	 * wider than the model does (a character whose width they disagree
	 * on) is cut at the margin instead of pushing the rows below down.
	 */
	buf_put(b, "\033[?7l", 5);
	for (r = 0; r < v->rows; r++) {
		vt_load_row(v, r);
		if (v->alt) {
			if (vt_row_empty(v))
				continue;
			vt_printf(b, "\033[%d;1H", r + 1);
		} else if (r > 0)
			buf_put(b, "\r\n", 2);
		vt_cells(b, v->cells, v->cols);
	}
	buf_put(b, "\033[?7h", 5);
	vt_render_modes(v, b);
	return 0;
}

/*
 * The bytes that repaint screen row r as the model has it, leaving the
 * cursor and pen where they were (for taking a notice away).
 */
int
vt_render_row(struct vt *v, int r, struct buf *b)
{
	if (r < 0 || r >= v->rows)
		return ERR_RANGE;
	vt_wake(v);
	vt_load_row(v, r);
	vt_printf(b, "\0337\033[%d;1H\033[0m\033[2K", r + 1);
	vt_cells(b, v->cells, v->cols);
	buf_put(b, "\0338", 2);
	return 0;
}

/* A colour as VT_COLOR_*. */
static uint32_t
vt_color_out(const VTermColor *c, int fg)
{
	if (fg ? VTERM_COLOR_IS_DEFAULT_FG(c) : VTERM_COLOR_IS_DEFAULT_BG(c))
		return VT_COLOR_DEFAULT;
	if (VTERM_COLOR_IS_INDEXED(c))
		return VT_COLOR_INDEX | c->indexed.idx;
	return VT_COLOR_RGB | ((uint32_t)c->rgb.red << 16) |
	    ((uint32_t)c->rgb.green << 8) | c->rgb.blue;
}

/* The cell at row r, column c (0-based); ERR_RANGE outside the screen. */
int
vt_cell(const struct vt *v, int r, int c, struct vt_cell *out)
{
	VTermScreenCell	w[3], cell;
	VTermPos	pos;
	int		i;

	memset(out, 0, sizeof *out);
	if (r < 0 || r >= v->rows || c < 0 || c >= v->cols)
		return ERR_RANGE;
	/* The cell with its neighbours, as vt_fix_row() makes it. */
	memset(w, 0, sizeof w);
	pos.row = r;
	for (i = 0; i < 3; i++) {
		pos.col = c - 1 + i;
		if (pos.col >= 0 && pos.col < v->cols &&
		    !vterm_screen_get_cell(v->scr, pos, &w[i]))
			return ERR_RANGE;
	}
	vt_fix_row(w, c + 1 < v->cols ? 3 : 2);
	cell = w[1];
	/*
	 * libvterm fills chars up to the first 0 only; past U+10FFFF a
	 * terminal shows U+FFFD (vt_utf8()).
	 */
	for (i = 0; i < VT_CHARS && i < VTERM_MAX_CHARS_PER_CELL &&
	    cell.chars[i] != 0; i++)
		out->ch[i] = cell.chars[i] >= 0x110000 &&
		    cell.chars[i] != (uint32_t)-1 ? 0xfffd : cell.chars[i];
	out->width = cell.width;
	out->attrs = (cell.attrs.bold ? VT_BOLD : 0) |
	    (cell.attrs.italic ? VT_ITALIC : 0) |
	    (cell.attrs.blink ? VT_BLINK : 0) |
	    (cell.attrs.reverse ? VT_REVERSE : 0) |
	    (cell.attrs.strike ? VT_STRIKE : 0) |
	    ((unsigned)cell.attrs.underline << 8);
	out->fg = vt_color_out(&cell.fg, 1);
	out->bg = vt_color_out(&cell.bg, 0);
	return 0;
}

/*
 * The pen the next character would be written with, as a cell with no
 * character (for tests and the fuzzers: a repaint must restore it).
 */
void
vt_pen(const struct vt *v, struct vt_cell *out)
{
	VTermValue	val;

	memset(out, 0, sizeof *out);
	vterm_state_get_penattr(v->st, VTERM_ATTR_BOLD, &val);
	out->attrs |= val.boolean ? VT_BOLD : 0;
	vterm_state_get_penattr(v->st, VTERM_ATTR_ITALIC, &val);
	out->attrs |= val.boolean ? VT_ITALIC : 0;
	vterm_state_get_penattr(v->st, VTERM_ATTR_BLINK, &val);
	out->attrs |= val.boolean ? VT_BLINK : 0;
	vterm_state_get_penattr(v->st, VTERM_ATTR_REVERSE, &val);
	out->attrs |= val.boolean ? VT_REVERSE : 0;
	vterm_state_get_penattr(v->st, VTERM_ATTR_STRIKE, &val);
	out->attrs |= val.boolean ? VT_STRIKE : 0;
	vterm_state_get_penattr(v->st, VTERM_ATTR_UNDERLINE, &val);
	out->attrs |= ((unsigned)val.number & 3) << 8;
	vterm_state_get_penattr(v->st, VTERM_ATTR_FOREGROUND, &val);
	out->fg = vt_color_out(&val.color, 1);
	vterm_state_get_penattr(v->st, VTERM_ATTR_BACKGROUND, &val);
	out->bg = vt_color_out(&val.color, 0);
}

/* The cursor's row and column (0-based). */
void
vt_cursor(const struct vt *v, int *row, int *col)
{
	VTermPos	pos;

	vterm_state_get_cursorpos(v->st, &pos);
	*row = pos.row;
	*col = pos.col;
}

/*
 * The modes the program set, as client-screen.h's SM_* bits (SM_ALT and
 * SM_HIDDEN from libvterm itself).
 */
unsigned
vt_modes(const struct vt *v)
{
	unsigned	m = v->modes.modes & ~(SM_ALT | SM_HIDDEN);

	if (v->alt)
		m |= SM_ALT;
	if (v->hidden)
		m |= SM_HIDDEN;
	return m;
}

/* The scroll region as the program set it (0, 0 if none). */
void
vt_region(const struct vt *v, unsigned *top, unsigned *bot)
{
	*top = *bot = 0;
	if (v->modes.modes & SM_REGION) {
		*top = v->modes.rtop;
		*bot = v->modes.rbot;
	}
}

/* The window title the program set ("" if none). */
const char *
vt_title(const struct vt *v)
{
	return v->title;
}
