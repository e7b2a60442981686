/*
 * The screen model: libvterm does the terminal emulation (no emulator is
 * written here); this file keeps the lines that scroll off the top, the
 * modes libvterm does not expose (cursor keys, keypad, bracketed paste,
 * focus, mouse encoding, scroll region: the client's own mode tracker,
 * client-screen.c, follows them), and renders the whole state as the
 * escape sequences that rebuild it on a terminal.
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
#include "xmalloc.h"

#define VT_TITLE_MAX	256
#define VT_SB_HDR	12	/* u32 length, u64 tag */
#define VT_GUARD_CHUNK	1024
/* The most of a UTF-8 sequence libvterm can hold pending (a 6-byte form). */
#define VT_UTF8_HELD	5
/* The most of an unfinished OSC (a title) held back for the next write. */
#define VT_OSC_HELD	(VT_TITLE_MAX + 64)
/* libvterm 0.1.4 writes a wide character past a one-column row. */
#define VT_COLS_MIN	2
#define VT_CSI_SEPS	15	/* libvterm 0.1.4 keeps 16 CSI arguments */
#define VT_CSI_BYTES	8	/* leader and intermediate bytes kept */
#define G_GROUND	0
#define G_ESC		1
#define G_CSI		2
#define G_ESCI		3	/* ESC and intermediates */
#define VT_NOTE_PARAMS	8	/* CSI parameters vt_note() reads */

struct vt {
	VTerm		*vt;
	VTermScreen	*scr;
	VTermState	*st;
	int		 rows, cols;
	VTermScreenCell	*cells;		/* one row, for rendering */
	VTermScreenCell	*pcells;	/* a row pushed to the scrollback */
	int		 npcells;
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
	uint8_t		 gprev1, gprev2;	/* the last text bytes */
	int		 gosc;		/* in an OSC: 1, just after ESC: 2 */
	int		 prows, pcols;	/* a resize waiting (vt_resize()) */
	int		 oschold;	/* held[] starts with an open OSC */
	uint8_t		 gout[VT_GUARD_CHUNK + VT_OSC_HELD];
	uint8_t		 held[VT_OSC_HELD];	/* a cut character or OSC */
	size_t		 nheld;

	/* Asleep (vt_sleep()): no libvterm, the bytes that rebuild it. */
	uint8_t		*image;
	size_t		 nimage;
	unsigned	 hmodes;	/* VH_*: modes a rebuild cannot keep */
	int		 nstate;	/* vt_note()'s parser */
	int		 nlead, ninter, nprev, nparams;
	unsigned	 nparam[VT_NOTE_PARAMS];
	int		 waking;	/* no scrollback while rebuilding */
};

static void	vt_resize_now(struct vt *, int, int);
static void	vt_note(struct vt *, const uint8_t *, size_t);
static void	vt_load_raw(struct vt *, int);

/* Answers to queries (DA, DSR) go nowhere: the real terminal answers. */
static void
vt_discard(const char *s, size_t len, void *user)
{
	(void)s;
	(void)len;
	(void)user;
}

/*
 * Put a code point as UTF-8.  libvterm decodes the old 4- to 6-byte forms
 * past U+10FFFF, which a terminal shows as U+FFFD: so are they written.
 */
static void
vt_utf8(struct buf *b, uint32_t c)
{
	uint8_t	u[4];
	size_t	n;

	if (c >= 0x110000)
		c = 0xfffd;
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
	} else {
		u[0] = (uint8_t)(0xf0 | (c >> 18));
		u[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (c & 0x3f));
		n = 4;
	}
	buf_put(b, u, n);
}

#define VT_JOINS	1	/* a mark libvterm joins to the cell before */
#define VT_WIDE		2	/* two columns wide in libvterm */

/*
 * How libvterm takes code point c (VT_JOINS, VT_WIDE), asked of a
 * one-row libvterm of its own: its tables are older than the C
 * library's, and a list here disagreed with them (U+05C0, U+1AB0;
 * fuzz/corpus-vt/paseq).  The answers are cached.
 */
static int
vt_kind(uint32_t c)
{
	static VTerm		*probe;
	static VTermScreen	*ps;
	static uint32_t		 cache[1024];	/* c | kind << 24 | 1 << 31 */
	uint32_t		*e = &cache[c & 1023];
	VTermScreenCell		 cell;
	VTermPos		 pos = { 0, 0 };
	struct buf		 b;
	int			 kind = 0;

	if (c < 0x300 || c >= 0x110000)
		return 0;
	if ((*e & 0x80000000U) && (*e & 0xffffffU) == c)
		return (int)((*e >> 24) & 3);
	if (probe == NULL) {
		if ((probe = vterm_new(1, 4)) == NULL)
			fatal("vterm_new");
		vterm_set_utf8(probe, 1);
		vterm_output_set_callback(probe, vt_discard, NULL);
		ps = vterm_obtain_screen(probe);
		vterm_screen_reset(ps, 1);
	}
	buf_init(&b, 64);
	buf_put(&b, "\033[H\033[2Ka", 8);
	vt_utf8(&b, c);
	vterm_input_write(probe, (const char *)buf_ptr(&b), buf_len(&b));
	buf_free(&b);
	memset(&cell, 0, sizeof cell);
	vterm_screen_get_cell(ps, pos, &cell);
	if (cell.chars[1] == c)
		kind = VT_JOINS;
	else {
		pos.col = 1;
		memset(&cell, 0, sizeof cell);
		vterm_screen_get_cell(ps, pos, &cell);
		if (cell.width == 2)
			kind = VT_WIDE;
	}
	*e = c | (uint32_t)kind << 24 | 0x80000000U;
	return kind;
}

/*
 * libvterm keeps a mark that follows a wrap as a cell of its own; written
 * as it is, a terminal would put it on the cell before, so it is drawn on
 * a space.
 */
static int
vt_combining(uint32_t c)
{
	return vt_kind(c) == VT_JOINS;
}

/*
 * Make a row of cells what a terminal shows.  libvterm 0.1.4 keeps a wide
 * character whose right half was written over as a one-column cell
 * ("\xe4\xb8\xad\b "), and a narrow character written over the left
 * half as two columns ("\xe4\xb8\xad\b\bx"); a terminal erases the
 * rest of a wide character written over, and drawn as libvterm has them
 * every cell after them on the row would move (fuzz/corpus-vt/
 * wide-half).  Such a cell or half is a space here.
 */
static void
vt_fix_row(VTermScreenCell *c, int n)
{
	int	i, wide;

	for (i = 0; i < n; i++) {
		if (c[i].chars[0] == (uint32_t)-1) {
			c[i].chars[0] = ' ';	/* a half with no left */
			c[i].chars[1] = 0;
			c[i].width = 1;
			continue;
		}
		wide = vt_kind(c[i].chars[0]) == VT_WIDE;
		if (c[i].width == 2 && wide && i + 1 < n &&
		    c[i + 1].chars[0] == (uint32_t)-1) {
			i++;	/* a whole wide character */
			continue;
		}
		c[i].width = 1;
		if (wide) {
			c[i].chars[0] = ' ';
			c[i].chars[1] = 0;
		}
	}
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
		if (vt_odd(&c[i]))
			vt_printf(b, "\033[%dG", i + (c[i].width == 2 ? 3 : 2));
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

	if (v->sb.max == 0 || v->waking)
		return 1;
	if (cols > v->npcells) {
		v->pcells = xreallocarray(v->pcells, (size_t)cols,
		    sizeof *v->pcells);
		v->npcells = cols;
	}
	memcpy(v->pcells, cells, (size_t)cols * sizeof *cells);
	vt_fix_row(v->pcells, cols);
	buf_reset(&v->tmp);
	vt_cells(&v->tmp, v->pcells, cols);
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
	if (cols < VT_COLS_MIN)
		cols = VT_COLS_MIN;
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
	if (v->vt != NULL)
		vterm_free(v->vt);
	free(v->cells);
	free(v->pcells);
	free(v->image);
	ring_free(&v->sb);
	buf_free(&v->tmp);
	free(v);
}

/*
 * Follow OSC strings (ESC ] ... BEL or ESC \\), so that vt_feed() can keep
 * one whole in a single write to libvterm: 0.1.4 drops a title that
 * comes in two writes (fuzz/corpus-vt/title-split).  CAN and SUB cancel
 * the string, and an ESC ends it (ST) or abandons it.
 */
static void
vt_guard_osc(struct vt *v, uint8_t b)
{
	if (v->gosc == 2 && b == ']')
		v->gosc = 1;	/* ESC ] abandons one string, starts another */
	else if (v->gosc == 2 && b != 0x1b)
		v->gosc = 0;
	else if (v->gosc == 1 && (b == 0x07 || b == 0x18 || b == 0x1a))
		v->gosc = 0;
	else if (v->gosc == 1 && b == 0x1b)
		v->gosc = 2;
	else if (v->gosc == 0 && b == ']' && v->gstate == G_ESC)
		v->gosc = 1;
}

/*
 * Text: libvterm 0.1.4 joins U+302A-U+302F and U+3099-U+309A to the cell
 * before and makes it two columns wide, and then writes the halves past
 * the end of the row at its last two columns ("a" and U+302F on a
 * two-column screen: a write through a null pointer or heap overflow;
 * fuzz/corpus-vt/join-wide-edge).  Their last byte is changed so that
 * libvterm sees a wide character of the same block that joins nothing
 * (U+3000, U+30A0): 4 is returned for it.
 */
static int
vt_guard_text(struct vt *v, uint8_t b)
{
	int	r = 1;

	if (v->gprev2 == 0xe3 && v->gprev1 == 0x80 && b >= 0xaa && b <= 0xaf)
		r = 4;
	else if (v->gprev2 == 0xe3 && v->gprev1 == 0x82 && (b == 0x99 ||
	    b == 0x9a))
		r = 5;
	/*
	 * A sequence stays pending across controls, DEL, 0xfe, 0xff and
	 * (libvterm's other decoder) ASCII: only the other high bytes count.
	 * A continuation byte changed wrongly is one wrong character.
	 */
	if (b >= 0x80 && b < 0xfe) {
		v->gprev2 = v->gprev1;
		v->gprev1 = b;
	}
	return r;
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

	vt_guard_osc(v, b);
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
	if (v->gstate == G_GROUND)
		return vt_guard_text(v, b);
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
 * How much of the end of gout[0..k) to hold back for the next write: an
 * OSC still open that began at osc (if it is not too long), else a cut
 * UTF-8 sequence.
 */
static size_t
vt_hold(struct vt *v, size_t k, size_t osc)
{
	v->oschold = v->gosc != 0 && osc < k && k - osc <= VT_OSC_HELD;
	if (v->oschold)
		return k - osc;
	return vt_utf8_tail(v->gout, k);
}

/*
 * Feed bytes the program wrote.  libvterm 0.1.4 turns a character cut
 * between two writes into U+FFFD when the second starts with a high byte
 * (it has two decoders and neither ends what the other holds), where the
 * user's terminal shows the character: a cut sequence at the end of a
 * write is held back and goes first with the next one.  So is an OSC not
 * finished yet (vt_guard_osc()).
 */
void
vt_feed(struct vt *v, const uint8_t *p, size_t n)
{
	size_t	i, k, osc;
	int	was;

	if (n == 0)
		return;
	vt_wake(v);
	vt_note(v, p, n);
	screen_track(&v->modes, p, n);
	while (n > 0) {
		memcpy(v->gout, v->held, v->nheld);
		k = v->nheld;
		osc = v->oschold ? 0 : SIZE_MAX;
		/*
		 * libvterm 0.1.4 loops forever (or crashes) on a REP (CSI b)
		 * with no character written before it: REP's final becomes
		 * one libvterm ignores, so the repeat is not shown.
		 */
		for (i = 0; i < n && k < VT_GUARD_CHUNK; i++) {
			was = v->gosc;
			switch (vt_guard(v, p[i])) {
			case 1:
				v->gout[k++] = p[i];
				break;
			case 2:
				v->gout[k++] = 'y';
				break;
			case 4:
				v->gout[k++] = 0x80;	/* U+3000 */
				break;
			case 5:
				v->gout[k++] = 0xa0;	/* U+30A0 */
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
				osc = SIZE_MAX;
				break;
			}
			if (v->gosc == 1 && was != 1)
				osc = k - 1;	/* the ']' of a new one */
			if (v->prows != 0 && v->gstate == G_GROUND &&
			    v->gosc == 0) {
				vterm_input_write(v->vt, (const char *)v->gout,
				    k);
				k = 0;
				osc = SIZE_MAX;
				vt_resize_now(v, v->prows, v->pcols);
				v->prows = 0;
			}
		}
		v->nheld = vt_hold(v, k, osc);
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

/*
 * libvterm 0.1.4 moves the cursor up by the lines a shrink pushes off the
 * top even when it was above them, to a row before the first
 * (fuzz/corpus-vt/resize-cursor): it is put back on the screen, as a
 * terminal keeps it (unless the program is inside a sequence then: the
 * cursor stays until the program moves it).
 */
static void
vt_cursor_clamp(struct vt *v)
{
	VTermPos	pos;
	char		tmp[32];
	int		n;

	vterm_state_get_cursorpos(v->st, &pos);
	if (pos.row >= 0 && pos.row < v->rows && pos.col >= 0 &&
	    pos.col < v->cols)
		return;
	if (v->gstate != G_GROUND || v->gosc != 0)
		return;	/* not inside a sequence the program is writing */
	pos.row = pos.row < 0 ? 0 : pos.row >= v->rows ? v->rows - 1 :
	    pos.row;
	pos.col = pos.col < 0 ? 0 : pos.col >= v->cols ? v->cols - 1 :
	    pos.col;
	n = snprintf(tmp, sizeof tmp, "\033[%d;%dH", pos.row + 1,
	    pos.col + 1);
	vterm_input_write(v->vt, tmp, (size_t)n);
}

/* Resize the model now (the program is not inside a sequence). */
static void
vt_resize_now(struct vt *v, int rows, int cols)
{
	if (cols < VT_COLS_MIN)
		cols = VT_COLS_MIN;
	if (rows == v->rows && cols == v->cols)
		return;
	if (cols != v->cols) {
		free(v->cells);
		v->cells = xcalloc((size_t)cols, sizeof *v->cells);
	}
	v->rows = rows;
	v->cols = cols;
	vterm_set_size(v->vt, rows, cols);
	vt_cursor_clamp(v);
	if ((v->modes.modes & SM_REGION) && (v->modes.rtop >= (unsigned)rows ||
	    v->modes.rbot > (unsigned)rows))
		vt_region_reset(v);
}

/*
 * The terminal was resized.  Inside a sequence the program is writing,
 * the resize waits for its end (vt_feed()): the cursor a shrink leaves
 * above the screen cannot be put back then, and libvterm 0.1.4 writes
 * through a null pointer when the sequence goes on to erase there
 * ("ESC", a shrink, "[K"; fuzz/corpus-vt/resize-in-sequence).
 */
void
vt_resize(struct vt *v, int rows, int cols)
{
	if (rows < 1 || cols < 1)
		return;
	vt_wake(v);
	if (v->gstate != G_GROUND || v->gosc != 0) {
		v->prows = rows;
		v->pcols = cols;
		return;
	}
	v->prows = 0;
	vt_resize_now(v, rows, cols);
}

/*
 * Forget the screen (what came before is unknown): a blank screen in the
 * default modes.  The scrollback already kept stays.
 */
void
vt_reset(struct vt *v)
{
	vt_wake(v);
	vterm_screen_reset(v->scr, 1);
	v->hmodes = 0;
	v->nstate = 0;
	v->nheld = 0;
	v->gosc = v->oschold = 0;
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
	if (m->modes & SM_REGION)
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

	vt_wake(v);
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

/*
 * Sleep and wake: a detached session that sits idle keeps the model's
 * state as the bytes that rebuild it (a few hundred for a shell prompt)
 * instead of libvterm's cells for every position of both screens (about
 * 70 KiB at 80x24).  The scrollback, title and the modes of struct
 * screen stay as they are.  The bytes are checked when made: a fresh
 * instance fed them must hold the same cells, cursor and pen, or the
 * model stays awake.  Modes libvterm keeps but does not show (origin,
 * autowrap, insert, newline, reverse screen, margins, character sets,
 * tab stops, line sizes) are followed by vt_note(): a model with any of
 * them away from its default stays awake too.
 */
#define VH_SO		0x001	/* shifted out (SO) */
#define VH_G0		0x002	/* G0 to G3 not ASCII: VH_G0 << n */
#define VH_SCNM		0x020	/* reverse screen (?5) */
#define VH_OM		0x040	/* origin mode (?6) */
#define VH_NOAWM	0x080	/* no autowrap (?7 l) */
#define VH_LRMM		0x100	/* left and right margins (?69) */
#define VH_IRM		0x200	/* insert mode (4) */
#define VH_LNM		0x400	/* newline mode (20) */
#define VH_STICKY	0x800	/* tab stops, line sizes: until a reset */
#define N_GROUND	0
#define N_ESC		1
#define N_CSI		2
#define N_CHARSET	3	/* + the set's number, 0 to 3 */
#define N_STR		7	/* OSC, DCS, APC, PM, SOS */
#define N_STRESC	8
#define N_HASH		9

/* A CSI ... h or l (set is 1 for h) the model must follow. */
static void
vt_note_mode(struct vt *v, int set)
{
	unsigned	bit;
	int		i;

	for (i = 0; i < v->nparams && i < VT_NOTE_PARAMS; i++) {
		bit = 0;
		if (v->nlead == '?' && v->nparam[i] == 5)
			bit = VH_SCNM;
		else if (v->nlead == '?' && v->nparam[i] == 6)
			bit = VH_OM;
		else if (v->nlead == '?' && v->nparam[i] == 7)
			bit = VH_NOAWM;
		else if (v->nlead == '?' && v->nparam[i] == 69)
			bit = VH_LRMM;
		else if (v->nlead == 0 && v->nparam[i] == 4)
			bit = VH_IRM;
		else if (v->nlead == 0 && v->nparam[i] == 20)
			bit = VH_LNM;
		if ((bit == VH_NOAWM) ? !set : set)
			v->hmodes |= bit;
		else
			v->hmodes &= ~bit;
	}
}

/* One byte of a CSI sequence (vt_note()). */
static void
vt_note_csi(struct vt *v, uint8_t b)
{
	if (b >= '0' && b <= '9') {
		if (v->nparams == 0)
			v->nparams = 1;
		if (v->nparams <= VT_NOTE_PARAMS &&
		    v->nparam[v->nparams - 1] < 100000)
			v->nparam[v->nparams - 1] =
			    v->nparam[v->nparams - 1] * 10 + (b - '0');
	} else if (b == ';' || b == ':') {
		if (v->nparams == 0)
			v->nparams = 1;
		if (v->nparams < VT_NOTE_PARAMS)
			v->nparam[v->nparams] = 0;
		v->nparams++;
	} else if (b >= 0x3c && b <= 0x3f)
		v->nlead = v->nlead == 0 ? b : -1;
	else if (b >= 0x20 && b <= 0x2f)
		v->ninter = 1;
	else if (b >= 0x40 && b <= 0x7e) {
		v->nstate = N_GROUND;
		if (v->ninter)
			return;
		if (b == 'h' || b == 'l')
			vt_note_mode(v, b == 'h');
		else if (b == 'g' && v->nlead == 0)
			v->hmodes |= VH_STICKY;		/* TBC */
	} else if (b == 0x18 || b == 0x1a)
		v->nstate = N_GROUND;
}

/* One byte after ESC (vt_note()). */
static void
vt_note_esc(struct vt *v, uint8_t b)
{
	v->nstate = N_GROUND;
	switch (b) {
	case '[':
		v->nstate = N_CSI;
		v->nlead = v->ninter = v->nparams = 0;
		memset(v->nparam, 0, sizeof v->nparam);
		break;
	case '(': case ')': case '*': case '+':
		v->nstate = N_CHARSET + (b - '(');
		break;
	case '-': case '.': case '/':
		v->nstate = N_CHARSET + 1 + (b - '-');
		break;
	case ']': case 'P': case '_': case '^': case 'X':
		v->nstate = N_STR;
		break;
	case '#':
		v->nstate = N_HASH;
		break;
	case 'c':
		v->hmodes = 0;		/* RIS */
		break;
	case 'H': case 'n': case 'o': case '|': case '}': case '~':
		v->hmodes |= VH_STICKY;	/* HTS, locking shifts */
		break;
	case 0x1b:
		v->nstate = N_ESC;
		break;
	default:
		if (b < 0x20 && b != 0x18 && b != 0x1a)
			v->nstate = N_ESC;	/* a control inside */
		break;
	}
}

/*
 * Follow the modes libvterm keeps without showing them (see above), as
 * the bytes go to it.  A sequence this parser reads differently from
 * libvterm can only keep a model awake that could sleep, or be caught
 * by the check in vt_sleep() where it shows.
 */
static void
vt_note(struct vt *v, const uint8_t *p, size_t n)
{
	size_t	i;
	uint8_t	b;

	for (i = 0; i < n; i++) {
		b = p[i];
		if (v->nstate == N_GROUND || v->nstate == N_CSI) {
			if (b == 0x1b)
				v->nstate = N_ESC;
			else if (v->nstate == N_CSI)
				vt_note_csi(v, b);
			else if (b == 0x0e)
				v->hmodes |= VH_SO;
			else if (b == 0x0f)
				v->hmodes &= ~VH_SO;
			else if (v->nprev == 0xc2 && b == 0x9b)
				vt_note_esc(v, '[');
			else if (v->nprev == 0xc2 && (b == 0x9d ||
			    b == 0x90))
				v->nstate = N_STR;
		} else if (v->nstate == N_ESC)
			vt_note_esc(v, b);
		else if (v->nstate >= N_CHARSET && v->nstate < N_STR) {
			if (b == 'B')
				v->hmodes &= ~(VH_G0 << (v->nstate -
				    N_CHARSET));
			else if (b >= 0x20)
				v->hmodes |= VH_G0 << (v->nstate - N_CHARSET);
			v->nstate = b == 0x1b ? N_ESC : N_GROUND;
		} else if (v->nstate == N_STR) {
			if (b == 0x1b)
				v->nstate = N_STRESC;
			else if (b == 0x07 || b == 0x18 || b == 0x1a ||
			    (v->nprev == 0xc2 && b == 0x9c))
				v->nstate = N_GROUND;
		} else if (v->nstate == N_STRESC) {
			if (b == '\\')
				v->nstate = N_GROUND;
			else
				vt_note_esc(v, b);
		} else if (v->nstate == N_HASH) {
			if (b != '8')
				v->hmodes |= VH_STICKY;	/* line sizes */
			v->nstate = N_GROUND;
		}
		v->nprev = b;
	}
}

/* Make the libvterm instance (as vt_new() does; the alternate screen if
 * the model had it). */
static void
vt_term_new(struct vt *v)
{
	if ((v->vt = vterm_new(v->rows, v->cols)) == NULL)
		fatal("vterm_new");
	vterm_set_utf8(v->vt, 1);
	vterm_output_set_callback(v->vt, vt_discard, NULL);
	v->scr = vterm_obtain_screen(v->vt);
	v->st = vterm_obtain_state(v->vt);
	vterm_screen_set_callbacks(v->scr, &vt_callbacks, v);
	vterm_screen_reset(v->scr, 1);
	if (v->hasalt)
		vterm_screen_enable_altscreen(v->scr, 1);
}

/* The pen of state st. */
static void
vt_pen_get(VTermState *st, VTermScreenCellAttrs *a, VTermColor *fg,
    VTermColor *bg)
{
	VTermValue	val;

	memset(a, 0, sizeof *a);
	vterm_state_get_penattr(st, VTERM_ATTR_BOLD, &val);
	a->bold = val.boolean != 0;
	vterm_state_get_penattr(st, VTERM_ATTR_UNDERLINE, &val);
	a->underline = (unsigned)val.number & 3;
	vterm_state_get_penattr(st, VTERM_ATTR_ITALIC, &val);
	a->italic = val.boolean != 0;
	vterm_state_get_penattr(st, VTERM_ATTR_BLINK, &val);
	a->blink = val.boolean != 0;
	vterm_state_get_penattr(st, VTERM_ATTR_REVERSE, &val);
	a->reverse = val.boolean != 0;
	vterm_state_get_penattr(st, VTERM_ATTR_STRIKE, &val);
	a->strike = val.boolean != 0;
	vterm_state_get_penattr(st, VTERM_ATTR_FONT, &val);
	a->font = (unsigned)val.number & 15;
	vterm_state_get_penattr(st, VTERM_ATTR_FOREGROUND, &val);
	*fg = val.color;
	vterm_state_get_penattr(st, VTERM_ATTR_BACKGROUND, &val);
	*bg = val.color;
}

/* Whether a cell is as the screen's reset left it. */
static int
vt_cell_fresh(const VTermScreenCell *c)
{
	VTermScreenCellAttrs	none;

	memset(&none, 0, sizeof none);
	return c->chars[0] == 0 && VTERM_COLOR_IS_DEFAULT_FG(&c->fg) &&
	    VTERM_COLOR_IS_DEFAULT_BG(&c->bg) &&
	    memcmp(&c->attrs, &none, sizeof none) == 0;
}

/*
 * The bytes that write the cells of the screen shown now, exactly: each
 * written cell with its pen, erased ones with their colours (ECH), fresh
 * ones left alone.  A cell no write can make (a wide half alone, a
 * joining mark first) makes it fail: 0 or ERR_FORMAT.
 */
static int
vt_image_cells(struct vt *v, struct buf *b)
{
	VTermScreenCell	*c;
	int		 r, i, j, at;

	for (r = 0; r < v->rows; r++) {
		vt_load_raw(v, r);
		at = -1;
		for (i = 0; i < v->cols; i++) {
			c = &v->cells[i];
			if (vt_cell_fresh(c))
				continue;
			if (c->chars[0] == (uint32_t)-1) {
				if (i > 0 && v->cells[i - 1].width == 2)
					continue;
				return ERR_FORMAT;
			}
			if (c->chars[0] != 0 && vt_combining(c->chars[0]))
				return ERR_FORMAT;
			if (c->width == 2 && i + 1 < v->cols) {
				/* Its right half keeps the pen it had. */
				vt_printf(b, "\033[%d;%dH", r + 1, i + 2);
				vt_sgr(b, &v->cells[i + 1].attrs,
				    &v->cells[i + 1].fg, &v->cells[i + 1].bg);
				buf_put(b, " ", 1);
				at = -1;
			}
			if (at != i)
				vt_printf(b, "\033[%d;%dH", r + 1, i + 1);
			vt_sgr(b, &c->attrs, &c->fg, &c->bg);
			if (c->chars[0] == 0) {
				buf_put(b, "\033[X", 3);
				at = -1;
				continue;
			}
			for (j = 0; j < VTERM_MAX_CHARS_PER_CELL &&
			    c->chars[j] != 0; j++)
				vt_utf8(b, c->chars[j]);
			at = i + (c->width == 2 ? 2 : 1);
		}
	}
	return 0;
}

/* Load screen row r into v->cells as libvterm has it (no fixing). */
static void
vt_load_raw(struct vt *v, int r)
{
	VTermPos	pos;
	int		c;

	pos.row = r;
	memset(v->cells, 0, sizeof *v->cells * (size_t)v->cols);
	for (c = 0; c < v->cols; c++) {
		pos.col = c;
		vterm_screen_get_cell(v->scr, pos, &v->cells[c]);
	}
}

/* Whether screens x and y (rows x cols both) hold the same cells. */
static int
vt_same_cells(VTermScreen *x, VTermScreen *y, int rows, int cols)
{
	VTermScreenCell	a, b;
	VTermPos	pos;

	for (pos.row = 0; pos.row < rows; pos.row++)
		for (pos.col = 0; pos.col < cols; pos.col++) {
			memset(&a, 0, sizeof a);
			memset(&b, 0, sizeof b);
			vterm_screen_get_cell(x, pos, &a);
			vterm_screen_get_cell(y, pos, &b);
			if (memcmp(a.chars, b.chars, sizeof a.chars) != 0 ||
			    a.width != b.width || !vt_same_pen(&a, &b))
				return 0;
		}
	return 1;
}

/* Whether the pen of st is a, fg, bg. */
static int
vt_same_state_pen(VTermState *st, const VTermScreenCellAttrs *a,
    const VTermColor *fg, const VTermColor *bg)
{
	VTermScreenCell	x, y;

	memset(&x, 0, sizeof x);
	memset(&y, 0, sizeof y);
	vt_pen_get(st, &x.attrs, &x.fg, &x.bg);
	y.attrs = *a;
	y.fg = *fg;
	y.bg = *bg;
	return vt_same_pen(&x, &y);
}

/* Cursor at pos with this pen and visibility (after cells are drawn). */
static void
vt_image_cursor(struct buf *b, VTermPos pos, const VTermScreenCellAttrs *a,
    const VTermColor *fg, const VTermColor *bg, int hidden)
{
	vt_printf(b, "\033[%d;%dH", pos.row + 1, pos.col + 1);
	vt_sgr(b, a, fg, bg);
	buf_put(b, hidden ? "\033[?25l" : "\033[?25h", 6);
}

/* A scratch instance of v's size fed p[0..n) (freed by the caller). */
static VTerm *
vt_scratch(struct vt *v, const struct buf *b, VTermScreen **scr)
{
	VTerm	*t;

	if ((t = vterm_new(v->rows, v->cols)) == NULL)
		fatal("vterm_new");
	vterm_set_utf8(t, 1);
	vterm_output_set_callback(t, vt_discard, NULL);
	*scr = vterm_obtain_screen(t);
	vterm_screen_reset(*scr, 1);
	vterm_screen_enable_altscreen(*scr, 1);
	vterm_input_write(t, (const char *)buf_ptr(b), buf_len(b));
	return t;
}

/* The state a model keeps awake for (see above): 1 if it can sleep. */
static int
vt_may_sleep(struct vt *v)
{
	VTermPos	pos;

	if (v->hmodes != 0 || v->nstate != N_GROUND || v->nheld != 0 ||
	    v->gstate != G_GROUND || v->gosc != 0 || v->prows != 0)
		return 0;
	/* At the last column a wrap may be pending, which nothing shows. */
	vterm_state_get_cursorpos(v->st, &pos);
	return pos.col < v->cols - 1;
}

/* Free libvterm and what only an awake model needs; keep img. */
static void
vt_drop(struct vt *v, struct buf *img)
{
	vterm_free(v->vt);
	v->vt = NULL;
	v->scr = NULL;
	v->st = NULL;
	free(v->cells);
	v->cells = NULL;
	free(v->pcells);
	v->pcells = NULL;
	v->npcells = 0;
	buf_free(&v->tmp);
	v->nimage = buf_len(img);
	v->image = xmalloc(v->nimage + 1);
	memcpy(v->image, buf_ptr(img), v->nimage);
}

/*
 * Print the glyph just before the cursor (if it is one) again, last:
 * libvterm joins a combining mark written next to the glyph it printed
 * last, where the cursor is just after it, and keeps which that was
 * without showing it.  Output that ends with text leaves it there.
 */
static void
vt_image_last(struct vt *v, struct buf *b, VTermPos pos)
{
	VTermScreenCell	c;
	VTermPos	at = pos;
	int		j;

	if (pos.col == 0)
		return;
	at.col = pos.col - 1;
	memset(&c, 0, sizeof c);
	vterm_screen_get_cell(v->scr, at, &c);
	if (c.chars[0] == (uint32_t)-1 && at.col > 0) {
		at.col--;
		memset(&c, 0, sizeof c);
		vterm_screen_get_cell(v->scr, at, &c);
		if (c.width != 2)
			return;
	}
	if (c.chars[0] == 0 || c.chars[0] == (uint32_t)-1 ||
	    at.col + c.width != pos.col || vt_combining(c.chars[0]))
		return;
	vt_printf(b, "\033[%d;%dH", at.row + 1, at.col + 1);
	vt_sgr(b, &c.attrs, &c.fg, &c.bg);
	for (j = 0; j < VTERM_MAX_CHARS_PER_CELL && c.chars[j] != 0; j++)
		vt_utf8(b, c.chars[j]);
}

/*
 * Check the image: a scratch instance fed img (main screen and saved
 * cursor) must show the cells v shows now (its main screen), and after
 * tail (alternate screen, region, cursor) have the cursor at pos and
 * the pen a, fg, bg.  1 if a rebuild is exact.
 */
static int
vt_image_check(struct vt *v, const struct buf *img, const struct buf *tail,
    VTermPos pos, const VTermScreenCellAttrs *a, const VTermColor *fg,
    const VTermColor *bg)
{
	VTermScreen	*scr;
	VTermPos	 p2;
	VTerm		*t;
	int		 ok;

	t = vt_scratch(v, img, &scr);
	ok = vt_same_cells(v->scr, scr, v->rows, v->cols);
	vterm_input_write(t, (const char *)buf_ptr(tail), buf_len(tail));
	vterm_state_get_cursorpos(vterm_obtain_state(t), &p2);
	ok = ok && p2.row == pos.row && p2.col == pos.col &&
	    vt_same_state_pen(vterm_obtain_state(t), a, fg, bg);
	vterm_free(t);
	return ok;
}

/*
 * The alternate screen's cells as bytes, checked on a scratch instance
 * (0), before the model leaves it to show its main screen.
 */
static int
vt_image_alt(struct vt *v, struct buf *alt)
{
	VTermScreen	*scr;
	VTerm		*t;
	struct buf	 b;
	int		 ok;

	/* The switch erases with the pen's colours: the default ones. */
	buf_put(alt, "\033[0m\033[?1047h", 12);
	if (vt_image_cells(v, alt) != 0)
		return ERR_FORMAT;
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_put(&b, buf_ptr(alt), buf_len(alt));
	t = vt_scratch(v, &b, &scr);
	ok = vt_same_cells(v->scr, scr, v->rows, v->cols);
	vterm_free(t);
	buf_free(&b);
	return ok ? 0 : ERR_FORMAT;
}

/*
 * Wake a second instance from img as vt_wake() would and render it: 0 if
 * that equals what the model rendered before (want), with the same
 * cursor visibility; the model's own instance is put back either way.
 */
static int
vt_image_try(struct vt *v, const struct buf *img, const struct buf *want,
    int alt, int hidden)
{
	VTerm		*ovt = v->vt;
	VTermScreen	*oscr = v->scr;
	VTermState	*ost = v->st;
	struct buf	 got;
	int		 was = v->alt, ok;

	vt_term_new(v);
	v->waking = 1;
	vterm_input_write(v->vt, (const char *)buf_ptr(img), buf_len(img));
	v->waking = 0;
	buf_init(&got, BUF_MAX_DEFAULT);
	vt_render(v, &got, 0, VT_SCROLLBACK);
	ok = buf_len(&got) == buf_len(want) && memcmp(buf_ptr(&got),
	    buf_ptr(want), buf_len(want)) == 0 && v->alt == alt &&
	    v->hidden == hidden;
	buf_free(&got);
	vterm_free(v->vt);
	v->vt = ovt;
	v->scr = oscr;
	v->st = ost;
	v->alt = was;
	v->hidden = hidden;
	return ok ? 0 : ERR_FORMAT;
}

/*
 * Let the model sleep: keep its state as the bytes that rebuild it and
 * free libvterm (see above).  0 once asleep, ERR_FORMAT if it has state
 * those bytes cannot carry (it stays awake, as it was).
 */
int
vt_sleep(struct vt *v)
{
	VTermScreenCellAttrs	 a, sa;
	VTermColor		 fg, bg, sfg, sbg;
	VTermPos		 pos, spos;
	struct buf		 img, alt, tail, last, before;
	int			 hidden = v->hidden, alt0 = v->alt, shidden;
	int			 r = ERR_FORMAT;

	if (v->vt == NULL)
		return 0;
	if (!vt_may_sleep(v))
		return ERR_FORMAT;
	vterm_state_get_cursorpos(v->st, &pos);
	vt_pen_get(v->st, &a, &fg, &bg);
	buf_init(&img, BUF_MAX_DEFAULT);
	buf_init(&alt, BUF_MAX_DEFAULT);
	buf_init(&tail, BUF_MAX_DEFAULT);
	buf_init(&last, BUF_MAX_DEFAULT);
	buf_init(&before, BUF_MAX_DEFAULT);
	vt_render(v, &before, 0, VT_SCROLLBACK);
	vt_image_last(v, &last, pos);
	if (v->alt && vt_image_alt(v, &alt) != 0)
		goto out;
	/* The saved cursor (DECSC) shows only once restored: restore it. */
	vterm_input_write(v->vt, "\0338", 2);
	vterm_state_get_cursorpos(v->st, &spos);
	vt_pen_get(v->st, &sa, &sfg, &sbg);
	shidden = v->hidden;
	vt_image_cursor(&tail, pos, &a, &fg, &bg, hidden);
	vterm_input_write(v->vt, (const char *)buf_ptr(&tail),
	    buf_len(&tail));
	buf_reset(&tail);
	if (v->alt)
		vterm_input_write(v->vt, "\033[?1047l", 8);
	if (vt_image_cells(v, &img) != 0)
		goto back;
	vt_image_cursor(&img, spos, &sa, &sfg, &sbg, shidden);
	buf_put(&img, "\0337", 2);
	buf_put(&tail, buf_ptr(&alt), buf_len(&alt));
	if (v->modes.modes & SM_REGION)
		vt_printf(&tail, "\033[%u;%ur", v->modes.rtop,
		    v->modes.rbot);
	buf_put(&tail, buf_ptr(&last), buf_len(&last));
	vt_image_cursor(&tail, pos, &a, &fg, &bg, hidden);
	if (!vt_image_check(v, &img, &tail, pos, &a, &fg, &bg))
		goto back;
	buf_put(&img, buf_ptr(&tail), buf_len(&tail));
	if (vt_image_try(v, &img, &before, alt0, hidden) != 0)
		goto back;
	vt_drop(v, &img);
	r = 0;
	goto out;
back:
	/* Show the alternate screen again (checked), as it was. */
	if (buf_len(&alt) > 0) {
		vterm_input_write(v->vt, (const char *)buf_ptr(&alt),
		    buf_len(&alt));
		buf_reset(&tail);
		vt_image_cursor(&tail, pos, &a, &fg, &bg, hidden);
		vterm_input_write(v->vt, (const char *)buf_ptr(&tail),
		    buf_len(&tail));
	}
out:
	v->hidden = hidden;
	v->alt = alt0;
	buf_free(&img);
	buf_free(&alt);
	buf_free(&tail);
	buf_free(&last);
	buf_free(&before);
	return r;
}

/* Rebuild a sleeping model from its bytes (nothing if it is awake). */
void
vt_wake(struct vt *v)
{
	if (v->vt != NULL)
		return;
	v->cells = xcalloc((size_t)v->cols, sizeof *v->cells);
	buf_init(&v->tmp, BUF_MAX_DEFAULT);
	vt_term_new(v);
	v->waking = 1;
	vterm_input_write(v->vt, (const char *)v->image, v->nimage);
	v->waking = 0;
	free(v->image);
	v->image = NULL;
	v->nimage = 0;
}

/* Whether the model sleeps, and the bytes it keeps then. */
size_t
vt_asleep(const struct vt *v)
{
	return v->vt == NULL ? v->nimage + 1 : 0;
}
