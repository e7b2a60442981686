/*
 * The screen model: libvterm does the terminal emulation (no emulator is
 * written here); this file keeps the lines that scroll off the top, the
 * modes libvterm does not expose (cursor keys, keypad, bracketed paste,
 * focus, mouse encoding, scroll region: the client's own mode tracker,
 * client-screen.c, follows them), and renders the whole state as the
 * escape sequences that rebuild it on a terminal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vterm.h>

#include "client-screen.h"
#include "err.h"
#include "log.h"
#include "ring.h"
#include "vt.h"
#include "xmalloc.h"

#define VT_TITLE_MAX	256
#define VT_SB_HDR	12	/* u32 length, u64 tag */
#define VT_GUARD_CHUNK	1024
/* The most of a UTF-8 sequence libvterm can hold pending (a 6-byte form). */
#define VT_UTF8_HELD	5
#define VT_CSI_SEPS	15	/* libvterm 0.1.4 keeps 16 CSI arguments */
#define VT_CSI_BYTES	8	/* leader and intermediate bytes kept */
#define G_GROUND	0
#define G_ESC		1
#define G_CSI		2
#define G_ESCI		3	/* ESC and intermediates */

struct vt {
	VTerm		*vt;
	VTermScreen	*scr;
	VTermState	*st;
	int		 rows, cols;
	VTermScreenCell	*cells;		/* one row, for rendering */
	struct screen	 modes;		/* what libvterm does not expose */
	char		 title[VT_TITLE_MAX];
	int		 alt;
	int		 hidden;	/* cursor invisible */

	/* Scrollback: entries of u32 length, u64 tag, rendered bytes. */
	struct ring	 sb;
	size_t		 sb_count;
	uint64_t	 tag;		/* stamped on lines pushed from now */
	struct buf	 tmp;

	/* The guard in front of libvterm's parser (vt_guard()). */
	int		 gstate;
	int		 gseps, gleads, ginters;
	unsigned	 gnum;		/* the CSI parameter being read */
	int		 gaskalt;	/* the CSI names an alternate screen */
	int		 hasalt;	/* the alternate screen is made */
	uint8_t		 gprev;
	uint8_t		 gout[VT_GUARD_CHUNK + VT_UTF8_HELD];
	uint8_t		 held[VT_UTF8_HELD];	/* a character's start */
	size_t		 nheld;
};

/* Answers to queries (DA, DSR) go nowhere: the real terminal answers. */
static void
vt_discard(const char *s, size_t len, void *user)
{
	(void)s;
	(void)len;
	(void)user;
}

/* Put a code point as UTF-8. */
static void
vt_utf8(struct buf *b, uint32_t c)
{
	uint8_t	u[4];
	size_t	n;

	if (c < 0x80) {
		u[0] = (uint8_t)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (uint8_t)(0xc0 | (c >> 6));
		u[1] = (uint8_t)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		u[0] = (uint8_t)(0xe0 | (c >> 12));
		u[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (c & 0x3f));
		n = 3;
	} else if (c < 0x110000) {
		u[0] = (uint8_t)(0xf0 | (c >> 18));
		u[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (c & 0x3f));
		n = 4;
	} else
		return;
	buf_put(b, u, n);
}

/*
 * Whether c is a combining mark of the common blocks.  libvterm keeps a
 * mark that follows a wrap as a cell of its own; written as it is, a
 * terminal would put it on the cell before, so it is drawn on a space.
 */
static int
vt_combining(uint32_t c)
{
	static const uint32_t	r[][2] = {
		{ 0x0300, 0x036f }, { 0x0483, 0x0489 }, { 0x0591, 0x05c7 },
		{ 0x0610, 0x061a }, { 0x064b, 0x065f }, { 0x0e31, 0x0e3a },
		{ 0x0e47, 0x0e4e }, { 0x1ab0, 0x1aff }, { 0x1dc0, 0x1dff },
		{ 0x200b, 0x200f }, { 0x20d0, 0x20ff }, { 0xfe00, 0xfe0f },
		{ 0xfe20, 0xfe2f },
	};
	size_t			i;

	for (i = 0; i < sizeof r / sizeof r[0]; i++)
		if (c >= r[i][0] && c <= r[i][1])
			return 1;
	return 0;
}

/* Append formatted text. */
static void __attribute__((format(printf, 2, 3)))
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
static void
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
static int
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
 * Render a row of cells onto a blank line: attributes as they change,
 * erased cells skipped over (so they stay erased), trailing ones left
 * out, the pen reset at the end.
 */
static void
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
		if (c[i].width == 2)
			i++;
	}
	buf_put(b, "\033[0m", 4);
}

/* Copy n bytes of the scrollback from offset off (they may wrap). */
static void
vt_sb_get(const struct vt *v, uint64_t off, void *dst, size_t n)
{
	const uint8_t	*p;
	uint8_t		*d = dst;
	size_t		 k;

	while (n > 0 && (k = ring_peek(&v->sb, off, &p)) > 0) {
		if (k > n)
			k = n;
		memcpy(d, p, k);
		d += k;
		off += k;
		n -= k;
	}
}

/* Drop the oldest scrollback line. */
static void
vt_sb_drop(struct vt *v)
{
	uint32_t	n;

	vt_sb_get(v, v->sb.start, &n, 4);
	ring_ack(&v->sb, v->sb.start + VT_SB_HDR + n);
	v->sb_count--;
}

/* Keep a line, rendered, within the scrollback's byte budget. */
static void
vt_sb_add(struct vt *v, const uint8_t *p, size_t n)
{
	uint8_t		hdr[VT_SB_HDR];
	uint32_t	len = (uint32_t)n;

	if (VT_SB_HDR + n > v->sb.max)
		return;
	while (ring_room(&v->sb) < VT_SB_HDR + n)
		vt_sb_drop(v);
	memcpy(hdr, &len, 4);
	memcpy(hdr + 4, &v->tag, 8);
	ring_append(&v->sb, hdr, sizeof hdr, 0);
	ring_append(&v->sb, p, n, 0);
	v->sb_count++;
}

/* libvterm: a line scrolled off the top of the main screen. */
static int
vt_pushline(int cols, const VTermScreenCell *cells, void *user)
{
	struct vt	*v = user;

	if (v->sb.max == 0)
		return 1;
	buf_reset(&v->tmp);
	vt_cells(&v->tmp, cells, cols);
	vt_sb_add(v, buf_ptr(&v->tmp), buf_len(&v->tmp));
	return 1;
}

/* libvterm: a property changed (alternate screen, cursor, title). */
static int
vt_prop(VTermProp prop, VTermValue *val, void *user)
{
	struct vt	*v = user;

	switch (prop) {
	case VTERM_PROP_ALTSCREEN:
		v->alt = val->boolean;
		break;
	case VTERM_PROP_CURSORVISIBLE:
		v->hidden = !val->boolean;
		break;
	case VTERM_PROP_TITLE:
		snprintf(v->title, sizeof v->title, "%s",
		    val->string != NULL ? val->string : "");
		break;
	default:
		break;
	}
	return 1;
}

static const VTermScreenCallbacks vt_callbacks = {
	.settermprop = vt_prop,
	.sb_pushline = vt_pushline,
};

/*
 * A model of rows x cols keeping at most sb_max bytes of rendered
 * scrollback.
 */
struct vt *
vt_new(int rows, int cols, size_t sb_max)
{
	struct vt	*v = xcalloc(1, sizeof *v);

	if (rows < 1)
		rows = 1;
	if (cols < 1)
		cols = 1;
	v->rows = rows;
	v->cols = cols;
	ring_init(&v->sb, sb_max, 0);
	buf_init(&v->tmp, BUF_MAX_DEFAULT);
	v->cells = xcalloc((size_t)cols, sizeof *v->cells);
	if ((v->vt = vterm_new(rows, cols)) == NULL)
		fatal("vterm_new");
	vterm_set_utf8(v->vt, 1);
	vterm_output_set_callback(v->vt, vt_discard, NULL);
	v->scr = vterm_obtain_screen(v->vt);
	v->st = vterm_obtain_state(v->vt);
	vterm_screen_set_callbacks(v->scr, &vt_callbacks, v);
	/*
	 * The alternate screen (as large as the main one) is made only when
	 * a program first asks for it (vt_feed()): most sessions never do.
	 */
	vterm_screen_reset(v->scr, 1);
	return v;
}

/* Free the model. */
void
vt_free(struct vt *v)
{
	if (v == NULL)
		return;
	vterm_free(v->vt);
	free(v->cells);
	ring_free(&v->sb);
	buf_free(&v->tmp);
	free(v);
}

/*
 * Whether byte b of a control sequence may go on to libvterm.  Its parser
 * (0.1.4) writes past its 16 CSI arguments when a sequence has more (a
 * program printing "ESC [" and twenty ";" corrupts its memory), so the
 * separators past the fifteenth are dropped, and so are leader and
 * intermediate bytes past a few.  A sequence that long means nothing to a
 * terminal anyway.
 */
static int
vt_guard(struct vt *v, uint8_t b)
{
	int	csi = (b == '[' && (v->gstate == G_ESC ||
		    v->gstate == G_ESCI)) ||
		    (b == 0x9b && v->gprev == 0xc2);

	v->gprev = b;
	if (csi) {
		v->gstate = G_CSI;
		v->gseps = v->gleads = v->ginters = 0;
		v->gnum = 0;
		v->gaskalt = 0;
		return 1;
	}
	if (b == 0x1b) {
		v->gstate = G_ESC;
		return 1;
	}
	if (v->gstate == G_ESC || v->gstate == G_ESCI) {
		/*
		 * Like libvterm: controls are done and other bytes ignored
		 * inside an escape, intermediates keep it open, and "[" opens
		 * a CSI also after them ("ESC ( [" and "ESC \xff [" too).
		 */
		if (b < 0x20)
			return 1;
		if (b >= 0x7f)
			return 0;
		if (b <= 0x2f) {
			v->gstate = G_ESCI;
			return 1;
		}
		v->gstate = G_GROUND;
		return 1;
	}
	if (v->gstate != G_CSI || b < 0x20)
		return 1;
	if (b >= '0' && b <= '9') {
		if (v->gnum < 100000)
			v->gnum = v->gnum * 10 + (unsigned)(b - '0');
		return 1;
	}
	/*
	 * DECSET 47, 1047 and 1049 switch to the alternate screen.  A
	 * dropped separator ends no parameter (libvterm reads on).
	 */
	if ((b == ';' || b == ':') ? v->gseps < VT_CSI_SEPS :
	    (b >= 0x40 && b < 0x7f)) {
		if (v->gnum == 47 || v->gnum == 1047 || v->gnum == 1049)
			v->gaskalt = 1;
		v->gnum = 0;
	}
	if (b == ';' || b == ':')
		return v->gseps++ < VT_CSI_SEPS;
	if (b >= 0x3c && b <= 0x3f)
		return v->gleads++ < VT_CSI_BYTES;
	if (b >= 0x20 && b <= 0x2f)
		return v->ginters++ < VT_CSI_BYTES;
	if (b >= 0x7f)
		return 0;	/* not a CSI byte: libvterm would go on */
	if (b >= 0x40)
		v->gstate = G_GROUND;
	if (b == 'b')
		return 2;	/* REP: see vt_feed() */
	if (b == 'h' && v->gaskalt && !v->hasalt)
		return 3;	/* make the alternate screen first */
	return 1;
}

/*
 * How many bytes at the end of p[0..n) are the start of a UTF-8 sequence
 * that is not complete yet (libvterm's forms: up to 6 bytes).
 */
static size_t
vt_utf8_tail(const uint8_t *p, size_t n)
{
	size_t	i, need;

	for (i = 1; i <= VT_UTF8_HELD && i <= n; i++) {
		uint8_t	b = p[n - i];

		if ((b & 0xc0) == 0x80)
			continue;	/* a continuation: look further back */
		if (b < 0xc0)
			return 0;
		need = b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf8 ? 4 :
		    b < 0xfc ? 5 : b < 0xfe ? 6 : 1;
		return i < need ? i : 0;
	}
	return 0;
}

/*
 * Feed bytes the program wrote.  libvterm 0.1.4 turns a character cut
 * between two writes into U+FFFD when the second starts with a high byte
 * (it has two decoders and neither ends what the other holds), where the
 * user's terminal shows the character: a cut sequence at the end of a
 * write is held back and goes first with the next one.
 */
void
vt_feed(struct vt *v, const uint8_t *p, size_t n)
{
	size_t	i, k;

	if (n == 0)
		return;
	screen_track(&v->modes, p, n);
	while (n > 0) {
		memcpy(v->gout, v->held, v->nheld);
		k = v->nheld;
		/*
		 * libvterm 0.1.4 loops forever (or crashes) on a REP (CSI b)
		 * with no character written before it: REP's final becomes
		 * one libvterm ignores, so the repeat is not shown.
		 */
		for (i = 0; i < n && k < VT_GUARD_CHUNK; i++)
			switch (vt_guard(v, p[i])) {
			case 1:
				v->gout[k++] = p[i];
				break;
			case 2:
				v->gout[k++] = 'y';
				break;
			case 3:
				/*
				 * Before libvterm reads the final byte: it
				 * ignores the switch without the screen, and
				 * on it erases every cell, so the screen is
				 * as if it had been made at the start.
				 */
				vterm_input_write(v->vt, (const char *)v->gout,
				    k);
				k = 0;
				vterm_screen_enable_altscreen(v->scr, 1);
				v->hasalt = 1;
				v->gout[k++] = p[i];
				break;
			}
		v->nheld = vt_utf8_tail(v->gout, k);
		k -= v->nheld;
		memcpy(v->held, v->gout + k, v->nheld);
		vterm_input_write(v->vt, (const char *)v->gout, k);
		p += i;
		n -= i;
	}
}

/*
 * A scroll region that no longer fits the screen goes, as xterm and tmux
 * drop it on a resize; libvterm 0.1.4 keeps a top margin past the new
 * last row and then moves memory with a negative size on the next
 * scroll (fuzz/corpus-vt/region-past-resize).  DECSTBM homes the cursor:
 * it is put back.
 */
static void
vt_region_reset(struct vt *v)
{
	VTermPos	pos;
	char		tmp[32];
	int		n;

	vterm_state_get_cursorpos(v->st, &pos);
	n = snprintf(tmp, sizeof tmp, "\033[r\033[%d;%dH", pos.row + 1,
	    pos.col + 1);
	vterm_input_write(v->vt, tmp, (size_t)n);
	v->modes.modes &= ~SM_REGION;
}

/* The terminal was resized. */
void
vt_resize(struct vt *v, int rows, int cols)
{
	if (rows < 1 || cols < 1 || (rows == v->rows && cols == v->cols))
		return;
	if (cols != v->cols) {
		free(v->cells);
		v->cells = xcalloc((size_t)cols, sizeof *v->cells);
	}
	v->rows = rows;
	v->cols = cols;
	vterm_set_size(v->vt, rows, cols);
	if ((v->modes.modes & SM_REGION) && (v->modes.rtop >= (unsigned)rows ||
	    v->modes.rbot > (unsigned)rows))
		vt_region_reset(v);
}

/*
 * Forget the screen (what came before is unknown): a blank screen in the
 * default modes.  The scrollback already kept stays.
 */
void
vt_reset(struct vt *v)
{
	vterm_screen_reset(v->scr, 1);
	v->nheld = 0;
	memset(&v->modes, 0, sizeof v->modes);
	v->title[0] = '\0';
	v->alt = 0;
	v->hidden = 0;
}

/* The model's size. */
void
vt_size(const struct vt *v, int *rows, int *cols)
{
	*rows = v->rows;
	*cols = v->cols;
}

/* Stamp lines that scroll off from now on with tag (a stream offset). */
void
vt_set_tag(struct vt *v, uint64_t tag)
{
	v->tag = tag;
}

/* Lines and bytes of scrollback kept. */
size_t
vt_sb_lines(const struct vt *v)
{
	return v->sb_count;
}

size_t
vt_sb_bytes(const struct vt *v)
{
	return ring_len(&v->sb);
}

/* Whether the program is on the alternate screen. */
int
vt_alt(const struct vt *v)
{
	return v->alt;
}

/* Load screen row r into v->cells. */
static void
vt_load_row(struct vt *v, int r)
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
	if ((m->modes & SM_REGION) && m->rtop != 0)
		vt_printf(b, "\033[%u;%ur", m->rtop, m->rbot);
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

	if (flags & VT_CLEAR)
		buf_put(b, "\033[0m\033[H\033[2J", 11);
	else
		buf_put(b, "\033[0m\r\033[K", 8);
	if (flags & VT_SCROLLBACK)
		vt_render_sb(v, b, after);
	if (v->alt)
		buf_put(b, "\033[?1049h\033[H\033[2J", 16);
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
	VTermScreenCell	cell;
	VTermPos	pos;
	int		i;

	memset(out, 0, sizeof *out);
	if (r < 0 || r >= v->rows || c < 0 || c >= v->cols)
		return ERR_RANGE;
	pos.row = r;
	pos.col = c;
	memset(&cell, 0, sizeof cell);
	if (!vterm_screen_get_cell(v->scr, pos, &cell))
		return ERR_RANGE;
	/* libvterm fills chars up to the first 0 only. */
	for (i = 0; i < VT_CHARS && i < VTERM_MAX_CHARS_PER_CELL &&
	    cell.chars[i] != 0; i++)
		out->ch[i] = cell.chars[i];
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

/* The window title the program set ("" if none). */
const char *
vt_title(const struct vt *v)
{
	return v->title;
}
