/*
 * The screen model: libvterm does the terminal emulation (no emulator is
 * written here); this file keeps the lines that scroll off the top, the
 * modes libvterm does not expose (cursor keys, keypad, bracketed paste,
 * focus, mouse encoding, scroll region: the client's own mode tracker,
 * client-screen.c, follows them), and guards libvterm's parser against
 * the inputs it mishandles.  vt-render.c writes the state out as the
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
#include "vt-int.h"
#include "xmalloc.h"

static void	vt_resize_now(struct vt *, int, int);
static void	vt_cursor_clamp(struct vt *);

/* Answers to queries (DA, DSR) go nowhere: the real terminal answers. */
void
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
void
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
int
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
void
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

/* Copy n bytes of the scrollback from offset off (they may wrap). */
void
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

const VTermScreenCallbacks vt_callbacks = {
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
	/*
	 * The alternate screen (as large as the main one) is made only when
	 * a program first asks for it (vt_feed()): most sessions never do.
	 */
	vt_term_new(v, NULL);
	v->lvrun = -1;
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
	else if (v->gosc == 2 && ((b < 0x20 && b != 0x18 && b != 0x1a) ||
	    b == 0x7f))
		;	/* done (or ignored) after the ESC: ST may still come */
	else if (v->gosc == 2)
		v->gosc = 0;
	else if (v->gosc == 1 && (b == 0x07 || b == 0x18 || b == 0x1a))
		v->gosc = 0;
	else if (v->gosc == 1 && b == 0x1b)
		v->gosc = 2;
	else if (v->gosc == 0 && b == ']' && (v->gstate == G_ESC ||
	    v->gstate == G_ESCI))
		v->gosc = 1;
}

/*
 * libvterm 0.1.4 joins U+302A-U+302F and U+3099-U+309A to the cell before
 * and makes it two columns wide, and then writes the halves past the end
 * of the row at its last two columns ("a" and U+302F on a two-column
 * screen: a write through a null pointer or heap overflow;
 * fuzz/corpus-vt/join-wide-edge).  It has five UTF-8 decoders, each with
 * a sequence of its own pending (vt_guard_text()), so the bytes before
 * are no guide: the last byte of such a mark is changed where the decoder
 * that takes it ends it, so that libvterm sees a wide character of the
 * same block that joins nothing (U+3000, U+30A0).  The C1 controls
 * written in UTF-8 (U+0080-U+009F) it takes for characters -1 column
 * wide and moves the cursor to column -1 (the repaint cannot put it
 * there, and an erase or insert there goes through a null pointer):
 * they become U+00A0, a blank.
 */
static void
vt_lv_fix(struct vt_dec *d, uint8_t *bp)
{
	if (d->total == 2 && d->cp >= 0x80 && d->cp < 0xa0) {
		*bp = 0xa0;
		d->cp = 0xa0;
	} else if (d->total != 3)
		return;
	if (d->cp >= 0x302a && d->cp <= 0x302f) {
		*bp = 0x80;
		d->cp = 0x3000;
	} else if (d->cp == 0x3099 || d->cp == 0x309a) {
		*bp = 0xa0;
		d->cp = 0x30a0;
	}
}

/*
 * The decoders go back to UTF-8 with nothing pending (libvterm's
 * vterm_state_reset(), on RIS and vt_reset()); the one for high bytes
 * keeps what it has.
 */
static void
vt_lv_reset(struct vt *v)
{
	memset(v->lvdec, 0, LV_HIGH * sizeof v->lvdec[0]);
	v->lvgl = v->lvsingle = 0;
}

/*
 * Whether libvterm's parser and decoders hold nothing a fresh instance
 * would not, but for the 94-sets (a rebuild designates them again): in
 * text, no single shift, G0 in GL, no sequence pending.  A model may
 * sleep only then (vt-sleep.c): its rebuild is a fresh libvterm.
 */
int
vt_lv_clean(const struct vt *v)
{
	int	i;

	if (v->lvstate != LV_TEXT || v->lvsingle != 0 || v->lvgl != 0 ||
	    v->lvrun >= 0)
		return 0;
	for (i = 0; i < LV_DECODERS; i++)
		if (v->lvdec[i].left != 0)
			return 0;
	return 1;
}

/*
 * The end of a text run (libvterm's on_text() returns): a single shift
 * is used up once the run gave a character.
 */
static void
vt_lv_end(struct vt *v)
{
	if (v->lvrun >= 0 && v->lvsingle != 0 && v->lvcps > 0)
		v->lvsingle = 0;
	v->lvrun = -1;
}

/*
 * A byte of a UTF-8 sequence in decoder d, as libvterm 0.1.4's decoder
 * takes it: ASCII ends a pending sequence, 0xfe and 0xff are each a
 * replacement and leave it pending, and the overlong forms are
 * replacements (so U+302A-F come only as E3 80 AA-AF).
 */
static void
vt_lv_utf8(struct vt *v, struct vt_dec *d, uint8_t *bp)
{
	uint8_t	b = *bp;

	if (b < 0x80) {
		v->lvcps += d->left > 0 ? 2 : 1;
		d->left = 0;
	} else if (b < 0xc0 && d->left == 0)
		v->lvcps++;
	else if (b < 0xc0) {
		d->cp = d->cp << 6 | (b & 0x3f);
		if (--d->left == 0) {
			vt_lv_fix(d, bp);
			v->lvcps++;
		}
	} else if (b < 0xfe) {
		if (d->left > 0)
			v->lvcps++;
		d->total = b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf8 ? 4 :
		    b < 0xfc ? 5 : 6;
		d->left = d->total - 1;
		d->cp = b & (0x7fU >> d->total);
	} else
		v->lvcps++;
}

/*
 * Text in libvterm 0.1.4 (its parser's ground state, no control): a run
 * of it goes to one decoder until a control or the end of the write.  A
 * run after a single shift (ESC N, ESC O) goes to G2's or G3's decoder
 * and ends with its first character, one that starts with ASCII to the
 * decoder of the G set in GL (SO, SI, ESC n, ESC o), one that starts
 * with a high byte to a decoder of its own; a 94-set (ESC ( 0) ends the
 * run at a byte it has no character for, which begins a run of its own
 * (or is skipped, if it was the first).  vt_write() ends a write with a
 * NUL when a run is open: libvterm sizes its array of code points by the
 * bytes left in the write, and a run that ends the write with a sequence
 * pending from before can give one more (it then wrote past the array,
 * or moved the last byte to a run of its own: another decoder).
 */
static void
vt_guard_text(struct vt *v, uint8_t *bp)
{
	struct vt_dec	*d;
	uint8_t		 b;
	int		 first;

	for (;;) {
		if (v->lvrun < 0) {
			v->lvrun = v->lvsingle != 0 ? v->lvsingle :
			    *bp < 0x80 ? v->lvgl : LV_HIGH;
			v->lvgr = *bp & 0x80;
			v->lvcps = v->lveaten = 0;
		}
		d = &v->lvdec[v->lvrun];
		if (v->lvsingle != 0 && v->lvcps > 0) {
			vt_lv_end(v);	/* one character only */
			continue;
		}
		if (!d->table)
			break;
		b = *bp ^ (uint8_t)v->lvgr;
		if (b >= 0x20 && b < 0x7f) {
			v->lvcps++;
			v->lveaten++;
			return;
		}
		first = v->lveaten == 0;
		vt_lv_end(v);
		if (first)
			return;	/* libvterm skips it */
	}
	vt_lv_utf8(v, d, bp);
	v->lveaten++;
}

/*
 * A byte after ESC (or ESC in a string) in libvterm 0.1.4's parser: what
 * the decoders care about is the single shifts, LS2 and LS3, the G sets
 * designated 94-sets and RIS.
 */
static void
vt_lv_esc(struct vt *v, uint8_t b)
{
	if (b == 'P' || b == ']') {
		v->lvstate = LV_STR;
		v->lvdcs = b == 'P';
		return;
	}
	if (b == '[') {
		v->lvstate = LV_CSI_LEAD;
		return;
	}
	if (b >= 0x20 && b <= 0x2f) {
		if (v->lvinter == 0)
			v->lvinter0 = b;
		if (v->lvinter < 15)
			v->lvinter++;
		return;
	}
	if (b < 0x30 || b >= 0x7f)
		return;	/* ignored, still in the escape */
	v->lvstate = LV_TEXT;
	if (v->lvinter == 0 && (b == 'N' || b == 'O'))
		v->lvsingle = b == 'N' ? 2 : 3;
	else if (v->lvinter == 0 && (b == 'n' || b == 'o'))
		v->lvgl = b == 'n' ? 2 : 3;
	else if (v->lvinter == 0 && b == 'c')
		vt_lv_reset(v);
	else if (v->lvinter == 1 && v->lvinter0 >= '(' &&
	    v->lvinter0 <= '+' && (b == '0' || b == 'A' || b == 'B'))
		v->lvdec[v->lvinter0 - '('].table = b;
}

/*
 * One byte through libvterm 0.1.4's parser (parser.c), to find which
 * bytes are text and which decoder takes them; a byte of text may be
 * changed (vt_lv_fix()).
 */
static void
vt_lv_byte(struct vt *v, uint8_t *bp)
{
	uint8_t	b = *bp;

	if (b < 0x20 || b == 0x7f)
		vt_lv_end(v);	/* a control ends a run of text */
	if (b == 0x00 || b == 0x7f)
		return;
	if (b == 0x18 || b == 0x1a) {
		v->lvstate = LV_TEXT;
		return;
	}
	if (b == 0x1b) {
		v->lvinter = 0;
		v->lvstate = v->lvstate == LV_STR ? LV_STR_ESC : LV_ESC;
		return;
	}
	if (b == 0x07 && v->lvstate == LV_STR) {
		v->lvstate = LV_TEXT;
		return;
	}
	if (b < 0x20) {
		if (b == 0x0e || b == 0x0f)
			v->lvgl = b == 0x0e;	/* SO, SI: anywhere */
		return;
	}
	switch (v->lvstate) {
	case LV_STR_ESC:
		if (b == '\\') {
			v->lvstate = LV_TEXT;
			return;
		}
		v->lvstate = LV_ESC;
		__attribute__((fallthrough));
	case LV_ESC:
		vt_lv_esc(v, b);
		return;
	case LV_CSI_LEAD:
		if (b >= 0x3c && b <= 0x3f)
			return;
		__attribute__((fallthrough));
	case LV_CSI_ARGS:
		if (b >= '0' && b <= ';') {
			v->lvstate = LV_CSI_ARGS;
			return;
		}
		__attribute__((fallthrough));
	case LV_CSI_INTER:
		v->lvstate = b >= 0x20 && b <= 0x2f ? LV_CSI_INTER : LV_TEXT;
		return;
	case LV_STR:
		/*
		 * libvterm 0.1.4 answers an unknown DECRQSS ("DCS $ q x
		 * ST") with "%.s" given an int for the string: with ASan
		 * (the tests' and fuzzers' builds) that is a read of a wild
		 * pointer.  Its answers go nowhere here, and a DCS sets
		 * nothing else: no "$" reaches it in one.
		 */
		if (v->lvdcs && b == '$')
			*bp = '!';
		return;
	}
	vt_guard_text(v, bp);
}

/*
 * Whether libvterm 0.1.4 takes byte b after an ESC in a string as a
 * control done there (and so keeps the ESC in the string: vt_write()).
 */
static int
vt_lv_str_control(uint8_t b)
{
	return (b < 0x20 && b != 0x18 && b != 0x1a && b != 0x1b) ||
	    b == 0x7f;
}

/*
 * Give libvterm p[0..n), through the model of its parser and decoders
 * (which may change bytes in it); p has room for one byte more.
 *
 * libvterm 0.1.4 cuts a string (OSC, DCS) into pieces at the controls
 * inside it and counts an ESC in it to the piece that a control after the
 * ESC ends: "ESC ] 2 ; t DC2 ESC SOH \\" set the title "t", an ESC,
 * and the bytes from the ST on, up to 64 in all, read past the end of
 * the write (fuzz/corpus-vt/title-esc-control); the ST's ESC at the end
 * of one write and its "\\" in the next did the same.  So an ESC in a
 * string waits (lvesc) for the byte that decides what it is, and goes in
 * the same write just before it: the controls in between (done as
 * libvterm does them; BEL only rings, and before the ESC would end the
 * string) go first.  CAN and SUB end the string either way.
 */
static void
vt_write(struct vt *v, uint8_t *p, size_t n)
{
	uint8_t	pair[2];
	size_t	i, o = 0;
	uint8_t	b;

	for (i = 0; i < n; i++) {
		b = p[i];
		if (v->lvesc && b == 0x07)
			continue;
		if (v->lvesc && !vt_lv_str_control(b)) {
			v->lvesc = 0;
			if (b == 0x18 || b == 0x1a)
				;	/* the string ends with the ESC or not */
			else if (o < i) {
				p[o] = 0x1b;	/* the ESC came in this write */
				vt_lv_byte(v, &p[o++]);
			} else {
				/* It came in an earlier one: both go now. */
				if (o > 0)
					vterm_input_write(v->vt,
					    (const char *)p, o);
				pair[0] = 0x1b;
				pair[1] = b;
				vt_lv_byte(v, &pair[0]);
				vt_lv_byte(v, &pair[1]);
				vterm_input_write(v->vt, (const char *)pair, 2);
				p += i + 1;
				n -= i + 1;
				i = (size_t)-1;
				o = 0;
				continue;
			}
		} else if (b == 0x1b && v->lvstate == LV_STR) {
			v->lvesc = 1;
			continue;
		}
		p[o] = b;
		vt_lv_byte(v, &p[o++]);
	}
	if (v->lvrun >= 0)
		p[o++] = 0;	/* see vt_guard_text() */
	vterm_input_write(v->vt, (const char *)p, o);
	vt_lv_end(v);
}

/*
 * Follow a CSI's leader and parameters as libvterm 0.1.4's parser reads
 * them (client-screen.c's mode tracker does the same), for vt_split(): a
 * leader only before the parameters and only one, parameters split by
 * ';' or ':' (the separators past the fifteenth are dropped, so the
 * digits run on), no intermediates.
 */
static void
vt_guard_csi(struct vt *v, uint8_t b)
{
	uint64_t	*a;

	if (b >= 0x3c && b <= 0x3f) {
		if (v->gnparam > 0 || v->ginters > 0 || v->glead != 0)
			v->gbad = 1;
		v->glead = b;
		return;
	}
	if (b < '0' || b > ';' || v->ginters > 0) {
		v->gbad = 1;
		return;
	}
	if (v->gnparam == 0) {
		v->gparam[0] = VT_ARG_MISSING;
		v->gnparam = 1;
	}
	a = &v->gparam[v->gnparam - 1];
	if (b >= '0' && b <= '9') {
		if (*a == VT_ARG_MISSING)
			*a = 0;
		*a = *a * 10 + (uint64_t)(b - '0');
	} else if (v->gseps < VT_CSI_SEPS) {
		if (b == ':')
			v->gmore |= 1U << (v->gnparam - 1);
		v->gparam[v->gnparam++] = VT_ARG_MISSING;
	}
}

/*
 * Whether libvterm 0.1.4 would read a colour's palette past an SGR's
 * parameters (pen.c): 38 or 48 last, taken as an attribute, reads the
 * argument an earlier sequence left there, so a model that slept (whose
 * parser saw other sequences) took another colour
 * (fuzz/corpus-vt-sleep/sgr-colour-last).  Walked as pen.c walks them:
 * a colour takes its palette and its values, underline with ':' its
 * style, and parameters joined by ':' go with the one before.
 */
static int
vt_sgr_stale(const struct vt *v)
{
	unsigned	a, pal;
	int		i = 0, n = v->gnparam, rest, more;

	while (i < n) {
		a = (unsigned)(v->gparam[i] & VT_ARG_MASK);
		if ((a == 38 || a == 48) && i + 1 >= n)
			return 1;
		if (a == 38 || a == 48) {
			pal = (unsigned)(v->gparam[i + 1] & VT_ARG_MASK);
			rest = n - i - 2;
			i += 1 + (pal == 2 ? (rest < 3 ? rest : 3) :
			    pal == 5 ? (rest > 0) : 0);
		} else if (a == 4 && (v->gmore >> i & 1))
			i++;
		do {
			more = v->gmore >> i & 1;
			i++;
		} while (more && i < n);
	}
	return 0;
}

/* Whether the CSI's parameters name mode a or b. */
static int
vt_guard_has(const struct vt *v, unsigned a, unsigned b)
{
	unsigned	x;
	int		i;

	for (i = 0; i < v->gnparam; i++) {
		x = (unsigned)(v->gparam[i] & VT_ARG_MASK);
		if (x == a || x == b)
			return 1;
	}
	return 0;
}

/*
 * libvterm 0.1.4 sets or resets only the first mode a CSI ... h or l
 * names ("ESC [ ? 1 ; 1049 h" left it on the main screen, and a model
 * that slept woke without a mode vt_note() saw reset); a terminal takes
 * them all, and so does the mode tracker.  After the final byte, each
 * further mode is written again alone, into gout at k; the new length.
 */
static size_t
vt_split(struct vt *v, size_t k)
{
	unsigned	a;
	int		i, n;

	v->gsplit = 0;
	for (i = 1; i < v->gnparam; i++) {
		a = (unsigned)(v->gparam[i] & VT_ARG_MASK);
		if (a == VT_ARG_MISSING)
			continue;
		n = snprintf((char *)v->gout + k, 16, "\033[%s%u%c",
		    v->glead == '?' ? "?" : "", a, v->gfinal);
		k += (size_t)n;
	}
	return k;
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
		v->gnparam = v->gbad = 0;
		v->glead = 0;
		v->gmore = 0;
		return 1;
	}
	if (b == 0x1b) {
		v->gstate = G_ESC;
		return 1;
	}
	if (b == 0x18 || b == 0x1a) {
		v->gstate = G_GROUND;	/* CAN, SUB end any sequence */
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
		v->grestore = b == '8' && v->gstate == G_ESC;	/* DECRC */
		v->gstate = G_GROUND;
		return 1;
	}
	if (v->gstate != G_CSI || b < 0x20)
		return 1;
	if (b < 0x40)
		vt_guard_csi(v, b);
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
	if (b >= 0x40) {
		v->gstate = G_GROUND;
		v->gfinal = b;
		v->gsplit = (b == 'h' || b == 'l') && !v->gbad &&
		    (v->glead == 0 || v->glead == '?') && v->gnparam > 1;
		v->grestore = b == 'l' && !v->gbad && v->glead == '?' &&
		    vt_guard_has(v, 1048, 1049);
	}
	if (b == 'b')
		return 2;	/* REP: see vt_feed() */
	if (b == 'm' && !v->gbad && v->glead == 0 && vt_sgr_stale(v))
		return v->gseps < VT_CSI_SEPS ? 4 : 2;	/* see vt_feed() */
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
 * A scroll region struct screen just read, made what libvterm 0.1.4 set
 * on the rows it had then (state.c, DECSTBM): a top or bottom past the
 * last row is the last row, a top not above the bottom or the whole
 * screen is no region.  libvterm keeps what it set through a resize, so a
 * snapshot taken after one must write the region as libvterm has it, not
 * as the program wrote it ("ESC [ 2 ; 50 r" on 10 rows, then 20 rows:
 * 2 to 10).  A bottom of 0 (none given) is the last row whatever the
 * size.
 */
static void
vt_region_fit(struct vt *v)
{
	struct screen	*m = &v->modes;
	unsigned	 rows = (unsigned)v->rows, top, bot;

	if (!(m->modes & SM_REGION) || !m->rnew)
		return;
	m->rnew = 0;
	top = m->rtop > 0 ? m->rtop - 1 : 0;
	if (top > rows)
		top = rows;
	bot = m->rbot;
	if (top == 0 && bot == rows)
		bot = 0;
	else if (bot > rows)
		bot = rows;
	if ((bot == 0 ? rows : bot) <= top || (top == 0 && bot == 0)) {
		m->modes &= ~SM_REGION;
		return;
	}
	m->rtop = top + 1;
	m->rbot = bot;
}

/*
 * What the guard asks for after a sequence's final byte, gout[0..k)
 * written so far: each further mode of a CSI h or l alone (vt_split()),
 * and a restored cursor put back on the screen: libvterm 0.1.4 keeps a
 * saved cursor through a shrink and restores it below the last row
 * (DECRC, "?1048l", "?1049l"; fuzz/corpus-vt/restore-after-shrink).
 * The new k.
 */
static size_t
vt_feed_after(struct vt *v, size_t k)
{
	if (v->gsplit)
		k = vt_split(v, k);
	if (v->grestore) {
		vt_write(v, v->gout, k);
		k = 0;
		v->grestore = 0;
		vt_cursor_clamp(v);
	}
	return k;
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
	const uint8_t	*tp = p, *end = p + n;
	size_t		 i, k, osc;
	int		 was;

	if (n == 0)
		return;
	vt_wake(v);
	vt_note(v, p, n);
	while (n > 0) {
		memcpy(v->gout, v->held, v->nheld);
		k = v->nheld;
		osc = v->oschold ? 0 : SIZE_MAX;
		/*
		 * libvterm 0.1.4 loops forever (or crashes) on a REP (CSI b)
		 * with no character written before it: REP's final becomes
		 * one libvterm ignores, so the repeat is not shown.  A chunk
		 * ends before ASCII or a control if it can: libvterm 0.1.4
		 * does not join a mark that starts a write to a character in
		 * the last column (the cursor stays there), and a repaint
		 * writes "e" and its marks in one piece.
		 */
		for (i = 0; i < n && (k < VT_GUARD_CHUNK || (p[i] >= 0x80 &&
		    k < VT_GUARD_CHUNK + VT_OSC_HELD - 1)); i++) {
			was = v->gosc;
			switch (vt_guard(v, p[i])) {
			case 1:
				v->gout[k++] = p[i];
				break;
			case 2:
				v->gout[k++] = 'y';
				break;
			case 4:
				/* A missing palette, ignored (vt_sgr_stale()). */
				v->gout[k++] = ';';
				v->gout[k++] = p[i];
				break;
			case 3:
				/*
				 * Before libvterm reads the final byte: it
				 * ignores the switch without the screen, and
				 * on it erases every cell, so the screen is
				 * as if it had been made at the start.
				 */
				vt_write(v, v->gout, k);
				k = 0;
				vterm_screen_enable_altscreen(v->scr, 1);
				v->hasalt = 1;
				v->gout[k++] = p[i];
				osc = SIZE_MAX;
				break;
			}
			if (v->gsplit || v->grestore) {
				k = vt_feed_after(v, k);
				osc = SIZE_MAX;
			}
			if (v->gosc == 1 && was != 1)
				osc = k - 1;	/* the ']' of a new one */
			if (v->prows != 0 && v->gstate == G_GROUND &&
			    v->gosc == 0) {
				vt_write(v, v->gout, k);
				k = 0;
				osc = SIZE_MAX;
				/*
				 * The mode tracker up to here only: a region
				 * reset later in the input still has to go
				 * (fuzz/corpus-vt/region-resize-ahead).
				 */
				screen_track(&v->modes, tp, (size_t)(p + i + 1 -
				    tp));
				vt_region_fit(v);
				tp = p + i + 1;
				vt_resize_now(v, v->prows, v->pcols);
				v->prows = 0;
			}
		}
		v->nheld = vt_hold(v, k, osc);
		k -= v->nheld;
		memcpy(v->held, v->gout + k, v->nheld);
		vt_write(v, v->gout, k);
		p += i;
		n -= i;
	}
	screen_track(&v->modes, tp, (size_t)(end - tp));
	vt_region_fit(v);
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
	char		tmp[40];	/* and vt_write()'s NUL */
	int		n;

	vterm_state_get_cursorpos(v->st, &pos);
	n = snprintf(tmp, sizeof tmp, "\033[r\033[%d;%dH", pos.row + 1,
	    pos.col + 1);
	vt_write(v, (uint8_t *)tmp, (size_t)n);
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
	char		tmp[40];	/* and vt_write()'s NUL */
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
	vt_write(v, (uint8_t *)tmp, (size_t)n);
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
	vt_lv_reset(v);
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

