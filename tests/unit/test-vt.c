/*
 * Unit tests for src/vt.c, the screen model, and its snapshot: what
 * vt_render() writes, fed to a fresh model, must rebuild the same screen
 * (cells, colours, attributes, cursor, modes, title), and the lines that
 * scrolled off come first, in order, once.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "buf.h"
#include "client-screen.h"
#include "vt.h"

/* More than vt.c's guard chunk (VT_GUARD_CHUNK), odd after the prefix. */
#define VT_TEST_BIG	(64 * 1024 + 3)
/* Past one guard chunk (1024 bytes), a little. */
#define VT_GUARD_TEST	1100

/* Feed a C string. */
static void
feed(struct vt *v, const char *s)
{
	vt_feed(v, (const uint8_t *)s, strlen(s));
}

/* Whether two cells look the same (an erased cell and a space do). */
static int
same_cell(const struct vt_cell *a, const struct vt_cell *b)
{
	uint32_t	ca = a->ch[0] == ' ' ? 0 : a->ch[0];
	uint32_t	cb = b->ch[0] == ' ' ? 0 : b->ch[0];

	return ca == cb && memcmp(a->ch + 1, b->ch + 1,
	    sizeof a->ch - sizeof a->ch[0]) == 0 && a->width == b->width &&
	    a->attrs == b->attrs && a->fg == b->fg && a->bg == b->bg;
}

/* Render a into a fresh model of the same size and compare the two. */
static struct vt *
rebuild(struct vt *a, int flags)
{
	struct vt	*b;
	struct buf	 out;
	struct vt_cell	 ca, cb;
	int		 rows, cols, r, c, ra, ca_, rb, cb_;
	unsigned	 ta, ba, tb, bb;

	vt_size(a, &rows, &cols);
	b = vt_new(rows, cols, 1 << 20);
	buf_init(&out, BUF_MAX_DEFAULT);
	assert_int_equal(vt_render(a, &out, 0, flags), 0);
	vt_feed(b, buf_ptr(&out), buf_len(&out));
	buf_free(&out);
	for (r = 0; r < rows; r++) {
		for (c = 0; c < cols; c++) {
			vt_cell(a, r, c, &ca);
			vt_cell(b, r, c, &cb);
			if (!same_cell(&ca, &cb))
				fail_msg("cell %d,%d: %x/%x/%x/%x vs "
				    "%x/%x/%x/%x", r, c, ca.ch[0], ca.attrs,
				    ca.fg, ca.bg, cb.ch[0], cb.attrs, cb.fg,
				    cb.bg);
		}
	}
	vt_cursor(a, &ra, &ca_);
	vt_cursor(b, &rb, &cb_);
	assert_int_equal(ra, rb);
	assert_int_equal(ca_, cb_);
	assert_int_equal(vt_modes(a), vt_modes(b));
	vt_region(a, &ta, &ba);
	vt_region(b, &tb, &bb);
	assert_int_equal(ta, tb);
	assert_int_equal(ba, bb);
	assert_string_equal(vt_title(a), vt_title(b));
	return b;
}

/* Colours (16, 256, RGB), attributes, wide and combining characters. */
static void
test_cells(void **state)
{
	struct vt	*a, *b;
	struct vt_cell	 c;

	(void)state;
	a = vt_new(6, 40, 4096);
	feed(a, "\033[31mred\033[0m \033[1;4;44mbold\033[0m "
	    "\033[38;5;202m256\033[48;2;1;2;3mrgb\033[0m\r\n"
	    "\033[3;5;7;9mit\033[0m \xe4\xb8\xad\xe6\x96\x87 e\xcc\x81"
	    "\r\n\033[42m\033[K\033[0m\r\n  indented\033[20Cfar");
	vt_cell(a, 0, 0, &c);
	assert_int_equal(c.ch[0], 'r');
	assert_int_equal(c.fg, VT_COLOR_INDEX | 1);
	vt_cell(a, 0, 4, &c);
	assert_int_equal(c.attrs, VT_BOLD | (1 << 8));
	assert_int_equal(c.bg, VT_COLOR_INDEX | 4);
	vt_cell(a, 0, 12, &c);
	assert_int_equal(c.bg, VT_COLOR_RGB | 0x010203);
	b = rebuild(a, 0);
	vt_free(a);
	vt_free(b);
}

/* The alternate screen with every mode the client restores, and a title. */
static void
test_alt_modes(void **state)
{
	struct vt	*a, *b;

	(void)state;
	a = vt_new(10, 30, 4096);
	feed(a, "main text\r\n\033]2;a title\007\033[?1049h\033[?1h\033="
	    "\033[?1002h\033[?1006h\033[?2004h\033[?1004h\033[?25l"
	    "\033[2;8r\033[5;3Halt \033[7mscreen\033[1;32m");
	assert_int_equal(vt_alt(a), 1);
	assert_int_equal(vt_modes(a), SM_ALT | SM_CKM | SM_KEYPAD |
	    SM_HIDDEN | SM_MOUSE | SM_PASTE | SM_REGION | SM_FOCUS);
	b = rebuild(a, 0);
	vt_free(a);
	vt_free(b);
}

/*
 * The alternate screen is made when a program first asks for it: every
 * way of asking (also split byte by byte, with other modes)
 * switches to an erased screen, and leaving it shows the main one again.
 * (libvterm 0.1.4 acts on the first mode of a DECSET only, not on 47.)
 */
static void
test_alt_lazy(void **state)
{
	static const char *const	 on[] = { "\033[?1049h",
	    "\033[?1049;2004h", "\033[?1049;1;25h", "\033[?1047h" };
	static const char *const	 off[] = { "\033[?1049l",
	    "\033[?1049l", "\033[?1049l", "\033[?1047l" };
	struct vt			*a, *b;
	struct vt_cell			 c;
	size_t				 i, k;

	(void)state;
	for (i = 0; i < sizeof on / sizeof on[0]; i++) {
		a = vt_new(6, 20, 4096);
		feed(a, "\033[?2004hmain\r\n\033[44m");
		assert_int_equal(vt_alt(a), 0);
		for (k = 0; on[i][k] != '\0'; k++)
			vt_feed(a, (const uint8_t *)on[i] + k, 1);
		if (vt_alt(a) != 1)
			fail_msg("case %zu", i);
		vt_cell(a, 0, 0, &c);
		assert_int_equal(c.ch[0], 0);
		feed(a, "alt");
		vt_cell(a, 1, 0, &c);
		assert_int_equal(c.ch[0], 'a');
		feed(a, off[i]);
		assert_int_equal(vt_alt(a), 0);
		vt_cell(a, 0, 0, &c);
		assert_int_equal(c.ch[0], 'm');
		vt_free(b = rebuild(a, 0));
		vt_free(a);
	}
}

/* Lines that scrolled off are kept, stamped, and rendered once, first. */
static void
test_scrollback(void **state)
{
	struct vt	*a, *b;
	struct buf	 out;
	char		 line[64], *s;
	int		 i;

	(void)state;
	a = vt_new(5, 20, 1 << 20);
	for (i = 1; i <= 100; i++) {
		vt_set_tag(a, (uint64_t)i);
		snprintf(line, sizeof line, "n%03d\r\n", i);
		feed(a, line);
	}
	/* The screen holds the last four lines and the empty cursor line. */
	assert_int_equal(vt_sb_lines(a), 96);
	b = rebuild(a, VT_SCROLLBACK);
	buf_init(&out, BUF_MAX_DEFAULT);
	vt_render(a, &out, 0, VT_SCROLLBACK);
	buf_put(&out, "", 1);
	s = (char *)buf_ptr(&out);
	for (i = 1; i <= 100; i++) {
		snprintf(line, sizeof line, "n%03d", i);
		assert_non_null(strstr(s, line));
		s = strstr(s, line) + 4;
		assert_null(strstr(s, line));	/* once */
	}
	/*
	 * Only the lines that scrolled off after tag 50: line k went when
	 * line k + 4 was fed (five rows).
	 */
	buf_reset(&out);
	vt_render(a, &out, 50, VT_SCROLLBACK | VT_CLEAR);
	buf_put(&out, "", 1);
	assert_memory_equal(buf_ptr(&out), "\033[0m\033[H\033[2J", 11);
	assert_null(strstr((char *)buf_ptr(&out), "n046"));
	assert_non_null(strstr((char *)buf_ptr(&out), "n047"));
	buf_free(&out);
	vt_free(a);
	vt_free(b);
}

/* The scrollback stays within its byte budget, dropping the oldest. */
static void
test_scrollback_budget(void **state)
{
	struct vt	*a;
	char		 line[64];
	int		 i;

	(void)state;
	a = vt_new(3, 20, 1000);
	for (i = 0; i < 1000; i++) {
		snprintf(line, sizeof line, "line %d\r\n", i);
		feed(a, line);
	}
	assert_true(vt_sb_bytes(a) <= 1000);
	assert_true(vt_sb_lines(a) > 10);
	vt_free(a);
}

/* A row's repaint leaves the cursor and pen where they were. */
static void
test_render_row(void **state)
{
	struct vt	*a;
	struct buf	 out;
	struct vt_cell	 c;
	int		 r, col;

	(void)state;
	a = vt_new(4, 20, 4096);
	feed(a, "\033[4;1H\033[33mbottom\033[2;5H\033[1m");
	buf_init(&out, BUF_MAX_DEFAULT);
	assert_int_equal(vt_render_row(a, 3, &out), 0);
	assert_int_equal(vt_render_row(a, 4, &out) < 0, 1);
	/* Scribble on the bottom row, then repaint it. */
	feed(a, "\0337\033[4;1HXXXXXXXXXX\0338");
	vt_feed(a, buf_ptr(&out), buf_len(&out));
	vt_cell(a, 3, 0, &c);
	assert_int_equal(c.ch[0], 'b');
	assert_int_equal(c.fg, VT_COLOR_INDEX | 3);
	vt_cell(a, 3, 7, &c);
	assert_int_equal(c.ch[0], 0);
	vt_cursor(a, &r, &col);
	assert_int_equal(r, 1);
	assert_int_equal(col, 4);
	buf_free(&out);
	vt_free(a);
}

/* A reset forgets the screen and modes, keeps the scrollback. */
static void
test_reset_and_resize(void **state)
{
	struct vt	*a, *b;
	struct vt_cell	 c;
	int		 rows, cols;

	(void)state;
	a = vt_new(3, 10, 4096);
	feed(a, "a\r\nb\r\nc\r\nd\033[?1049h\033[?1h");
	assert_int_equal(vt_sb_lines(a), 1);
	vt_reset(a);
	assert_int_equal(vt_modes(a), 0);
	assert_int_equal(vt_sb_lines(a), 1);
	vt_cell(a, 0, 0, &c);
	assert_int_equal(c.ch[0], 0);
	vt_resize(a, 5, 30);
	vt_size(a, &rows, &cols);
	assert_int_equal(rows, 5);
	assert_int_equal(cols, 30);
	feed(a, "\033[5;25Hcorner");
	b = rebuild(a, 0);
	vt_free(a);
	vt_free(b);
}

/*
 * A control sequence with more arguments than libvterm 0.1.4 keeps (it
 * wrote past them: fuzz/corpus-vt/csi-many-args) is cut, not fatal.
 */
static void
test_many_csi_args(void **state)
{
	struct vt	*a;
	struct vt_cell	 c;
	int		 i;

	(void)state;
	a = vt_new(4, 20, 4096);
	for (i = 0; i < 3; i++) {
		feed(a, "\033[;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;m");
		feed(a, "\033[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18;19;"
		    "20;21;22;23;24;25;26;27;28;29;30;31;32;33m");
		feed(a, "\033[??????????????????????????????????????h");
		feed(a, "\302\233;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;m");
	}
	feed(a, "\033[0m\033[2J\033[Hok");
	vt_cell(a, 0, 0, &c);
	assert_int_equal(c.ch[0], 'o');
	vt_free(a);
}

/*
 * A scroll region below the last row after a resize goes (libvterm 0.1.4
 * moved memory with a negative size on the next scroll:
 * fuzz/corpus-vt/region-past-resize); the cursor stays.
 */
static void
test_region_past_resize(void **state)
{
	struct vt	*a;
	struct vt_cell	 c;

	(void)state;
	a = vt_new(8, 27, 4096);
	feed(a, "\033[3r\033[2;5H");
	vt_resize(a, 1, 27);
	feed(a, "x\r\nx\r\n\033M\033Mok");
	vt_cell(a, 0, 0, &c);
	assert_int_equal(c.ch[0], 'o');
	vt_free(a);
}

/*
 * A character split between two reads of the PTY is one character, as in
 * the user's terminal: libvterm 0.1.4 ends a sequence cut at the end of a
 * write with U+FFFD when the next write starts with a high byte (it has
 * two UTF-8 decoders, one for runs that start with ASCII, one for runs
 * that start with a high byte), so the model hands it whole characters.
 * Also across the guard's own chunks, and a byte at a time.
 */
static void
test_utf8_split(void **state)
{
	struct vt	*a;
	struct vt_cell	 c;
	char		 big[VT_TEST_BIG];
	const char	*e = "\xc3\xa9", *han = "\xe4\xb8\xad";
	size_t		 i;

	(void)state;
	a = vt_new(4, 40, 4096);
	feed(a, "caf\xc3");
	feed(a, "\xa9!");
	vt_cell(a, 0, 3, &c);
	assert_int_equal(c.ch[0], 0xe9);
	vt_cell(a, 0, 4, &c);
	assert_int_equal(c.ch[0], '!');
	feed(a, "\r\n");
	for (i = 0; i < strlen(han); i++)
		vt_feed(a, (const uint8_t *)han + i, 1);
	vt_cell(a, 1, 0, &c);
	assert_int_equal(c.ch[0], 0x4e2d);
	/* A lone lead byte before a control is libvterm's to judge. */
	feed(a, "\r\n\xc3");
	feed(a, "\rok");
	vt_cell(a, 2, 0, &c);
	assert_int_equal(c.ch[0], 'o');
	vt_free(a);
	/* Split by the guard's chunking inside one feed. */
	a = vt_new(4, 40, 4096);
	big[0] = '\r';		/* then pairs from an odd offset */
	for (i = 1; i + 2 <= sizeof big; i += 2)
		memcpy(big + i, e, 2);
	vt_feed(a, (const uint8_t *)big, sizeof big);
	for (i = 0; i < 3 * 40; i++) {	/* the last row is part-full */
		vt_cell(a, (int)i / 40, (int)i % 40, &c);
		assert_int_equal(c.ch[0], 0xe9);
	}
	vt_free(a);
}

/*
 * A title cut between two writes (or two of the guard's chunks) is kept:
 * libvterm 0.1.4 drops an OSC that comes in two writes.
 */
static void
test_title_split(void **state)
{
	struct vt	*a, *b;
	char		 big[VT_GUARD_TEST];
	size_t		 i;

	(void)state;
	a = vt_new(4, 20, 4096);
	feed(a, "\033]2;ti");
	feed(a, "tle\007");
	assert_string_equal(vt_title(a), "title");
	feed(a, "\033]0;next");
	feed(a, "\033");
	feed(a, "\\x");
	assert_string_equal(vt_title(a), "next");
	feed(a, "\033]2;dropped\033]2;th");
	feed(a, "ird\007");
	assert_string_equal(vt_title(a), "third");
	vt_free(a);
	/* Across the guard's chunks inside one feed. */
	a = vt_new(4, 20, 4096);
	for (i = 0; i < sizeof big; i++)
		big[i] = 'a';
	memcpy(big + 1020, "\033]2;chunked\007", 12);
	vt_feed(a, (const uint8_t *)big, sizeof big);
	assert_string_equal(vt_title(a), "chunked");
	b = rebuild(a, 0);
	vt_free(a);
	vt_free(b);
}

/*
 * An ESC in a title with a control after it (vt fuzzer, finding 31):
 * libvterm 0.1.4 counts the ESC to the title and, at the ST, the bytes
 * from the "\" on (read past the end of the write), which a snapshot
 * cannot write.  The ESC now goes to libvterm after the controls, which
 * are still done; so does the ST's ESC that ends a write.
 */
static void
test_title_esc_control(void **state)
{
	struct vt	*a, *b;
	char		 big[400];
	int		 row, col;

	(void)state;
	a = vt_new(4, 20, 4096);
	feed(a, "\033]2;t;W\0224\033\001\\PU");
	assert_string_equal(vt_title(a), "t;W4");
	b = rebuild(a, 0);
	vt_free(b);
	feed(a, "\r\033]2;ab\033\n\\x");
	assert_string_equal(vt_title(a), "ab");
	vt_cursor(a, &row, &col);
	assert_int_equal(row, 1);	/* the LF was done */
	assert_int_equal(col, 1);
	feed(a, "\033]2;cd\033\007\\");
	assert_string_equal(vt_title(a), "cd");
	vt_feed(a, (const uint8_t *)"\033]2;ef\033\0\177\\", 10);
	assert_string_equal(vt_title(a), "ef");
	/* The ESC abandons the string when no ST follows. */
	feed(a, "\033]2;gh\033\n\033]2;ij\007");
	assert_string_equal(vt_title(a), "ij");
	feed(a, "\033]2;kl\033\030\\");
	assert_string_equal(vt_title(a), "ij");
	b = rebuild(a, 0);
	vt_free(b);
	/* The ESC, a control and the "\" in three writes. */
	feed(a, "\033]2;mn\033");
	feed(a, "\n");
	feed(a, "\\");
	assert_string_equal(vt_title(a), "mn");
	/* A title too long to be held back: the ST cut between writes. */
	memset(big, 'a', sizeof big);
	memcpy(big, "\033]2;\n", 5);
	big[sizeof big - 1] = '\0';
	feed(a, big);
	feed(a, "\033");
	feed(a, "\\x");
	assert_null(strchr(vt_title(a), '\\'));
	b = rebuild(a, 0);
	vt_free(b);
	vt_free(a);
}

/*
 * libvterm 0.1.4 answers an unknown DECRQSS with "%.s" given an int for
 * the string, a wild pointer that ASan's printf reads (SEGV before, in
 * the sanitized daemon); no "$" reaches libvterm in a DCS now.
 */
static void
test_dcs_query(void **state)
{
	struct vt	*a, *b;

	(void)state;
	a = vt_new(4, 20, 4096);
	feed(a, "\033P$qxy\033\\\033P\n$q\033\\\033P$qm\033\\ok");
	feed(a, "\033P$");
	feed(a, "qz\033\\");
	b = rebuild(a, 0);
	vt_free(b);
	vt_free(a);
}

/*
 * "CSI 48 m" (or 38) with no palette: libvterm 0.1.4 read the palette and
 * the colour from what an earlier CSI left past the parameters ("CSI 1 ;
 * 5 ; 7 H" before it gave the background colour 7); a terminal ignores
 * it, and now so does the model (vt-sleep fuzzer: a model that slept had
 * another earlier CSI, so another colour).  One taken as a colour index
 * or joined by ':' is left alone.
 */
static void
test_sgr_colour_last(void **state)
{
	struct vt	*a;
	struct vt_cell	 c;

	(void)state;
	a = vt_new(4, 20, 4096);
	feed(a, "\033[1;5;7H\033[48mx\033[1;6;5;9H\033[1;38my");
	vt_cell(a, 0, 4, &c);
	assert_int_equal(c.bg, VT_COLOR_DEFAULT);
	vt_cell(a, 0, 5, &c);
	assert_int_equal(c.fg, VT_COLOR_DEFAULT);
	assert_true(c.attrs & VT_BOLD);
	feed(a, "\033[0;38;5;48mz\033[1:48m\033[4:48mw");
	vt_cell(a, 0, 6, &c);
	assert_int_equal(c.fg, VT_COLOR_INDEX | 48);
	vt_cell(a, 0, 7, &c);
	assert_true(c.attrs & VT_BOLD);
	assert_int_equal(c.fg, VT_COLOR_INDEX | 48);
	vt_free(a);
}

/*
 * Half of a wide character written over: a terminal erases the other
 * half.  libvterm 0.1.4 keeps the wide character one column wide (right
 * half written) or the new narrow one two columns wide (left half), and
 * drawn so the rest of the row moved by a column.
 */
static void
test_wide_half(void **state)
{
	struct vt	*a, *b;
	struct vt_cell	 c;

	(void)state;
	a = vt_new(4, 20, 4096);
	feed(a, "\xe4\xb8\xadX\r\n\xe4\xb8\xadY\r\n\xe4\xb8\xad\b Z"
	    "\033[1;2Hz\033[2;1Hx");
	vt_cell(a, 0, 0, &c);
	assert_true(c.ch[0] == ' ' || c.ch[0] == 0);
	vt_cell(a, 0, 2, &c);
	assert_int_equal(c.ch[0], 'X');
	vt_cell(a, 1, 0, &c);
	assert_int_equal(c.ch[0], 'x');
	assert_int_equal(c.width, 1);
	vt_cell(a, 1, 1, &c);
	assert_true(c.ch[0] == ' ' || c.ch[0] == 0);
	b = rebuild(a, 0);
	vt_cell(b, 1, 2, &c);
	assert_int_equal(c.ch[0], 'Y');
	vt_cell(b, 2, 2, &c);
	assert_int_equal(c.ch[0], 'Z');
	vt_free(a);
	vt_free(b);
}

/*
 * Shrinking the screen with the cursor above lines libvterm pushes off
 * the top: 0.1.4 moves the cursor to a row before the first.
 */
static void
test_resize_cursor(void **state)
{
	struct vt	*a, *b;
	struct vt_cell	 c;
	int		 i, row, col;

	(void)state;
	a = vt_new(16, 32, 4096);
	for (i = 0; i < 14; i++)
		feed(a, "line\r\n");
	feed(a, "\033[H");
	vt_resize(a, 11, 30);
	vt_cursor(a, &row, &col);
	assert_true(row >= 0 && row < 11);
	assert_true(col >= 0 && col < 30);
	b = rebuild(a, 0);
	feed(a, "ok");
	vt_cursor(a, &row, &col);
	vt_cell(a, row, col - 1, &c);
	assert_int_equal(c.ch[0], 'k');
	vt_free(a);
	vt_free(b);
}

/*
 * Scroll regions with default parameters: "ESC [ ; ; r" (a third
 * parameter means nothing) is none, "ESC [ ; 3 r" is rows 1-3 and must
 * be repainted.
 */
static void
test_region_defaults(void **state)
{
	struct vt	*a, *b;
	unsigned	 top, bot;

	(void)state;
	a = vt_new(8, 20, 4096);
	feed(a, "\033[;;r");
	assert_int_equal(vt_modes(a) & SM_REGION, 0);
	b = rebuild(a, 0);
	vt_free(b);
	feed(a, "\033[;3r");
	vt_region(a, &top, &bot);
	assert_int_equal(bot, 3);
	b = rebuild(a, 0);
	vt_free(a);
	vt_free(b);
}

/*
 * Characters libvterm's tables and a list in vt.c disagreed on (U+05C0
 * is no combining mark), and code points past U+10FFFF from the old long
 * forms, which a terminal shows as U+FFFD.
 */
static void
test_odd_code_points(void **state)
{
	struct vt	*a, *b;
	struct vt_cell	 c;
	struct buf	 out;

	(void)state;
	a = vt_new(4, 20, 4096);
	feed(a, "\xd7\x80!\r\n\xe1\xaa\xb0?\r\n\xf7\xaa\xaa\xaa.");
	b = rebuild(a, 0);
	vt_cell(b, 0, 1, &c);
	assert_int_equal(c.ch[0], '!');
	vt_free(b);
	buf_init(&out, BUF_MAX_DEFAULT);
	assert_int_equal(vt_render(a, &out, 0, 0), 0);
	assert_non_null(memmem(buf_ptr(&out), buf_len(&out),
	    "\xef\xbf\xbd", 3));
	buf_free(&out);
	vt_free(a);
	/*
	 * A mark libvterm joins and makes the cell two columns wide with
	 * (U+302F), moving the cursor three: the rest of the row stays.
	 */
	a = vt_new(4, 20, 4096);
	feed(a, "\x80\xe3\x80\xaf\xafX");
	b = rebuild(a, 0);
	vt_free(b);
	vt_free(a);
	/*
	 * At the last columns libvterm wrote those cells past the row, and a
	 * wide character on a one-column screen (crashes before).
	 */
	a = vt_new(2, 2, 4096);
	feed(a, "a\xe3\x80\xaf\r\nb\xe3\x82");
	feed(a, "\x99\xe4\xb8\xad");
	vt_resize(a, 2, 1);
	feed(a, "\r\n\xe4\xb8\xad\xe4\xb8\xad");
	vt_free(a);
	a = vt_new(2, 1, 4096);
	feed(a, "\xe4\xb8\xad");
	vt_free(a);
	/* 0xff leaves the sequence pending in libvterm: it still ends it. */
	a = vt_new(2, 2, 4096);
	feed(a, "\xe3\x80\xff\xaf\xe3\x80\n\xaf");
	feed(a, "\xe3\x82\x1a");
	feed(a, " \033m\xff\x9a");
	vt_free(a);
}

/*
 * libvterm 0.1.4 has several UTF-8 decoders (one per G set for text
 * that starts with ASCII, one for text that starts with a high byte),
 * each with a sequence of its own pending, and it does not decode what
 * comes inside OSC and DCS strings.  A mark it joins and makes two
 * columns wide (U+302A-U+302F, U+3099-U+309A), completed in one decoder
 * while other high bytes went to another one or into a string, made a
 * three-column cell and a write through a null pointer on a two-column
 * screen (ASan SEGV before; fuzz/findings/vt-join-wide-two-decoders).
 */
static void
test_join_wide_decoders(void **state)
{
	static const char *const cases[][2] = {
		/* E3 82 pending in the high-byte decoder, E4 in G0's. */
		{ "\xe3\x82\x1a", " \xe4\033m\xff\x9a" },
		/* The same, in one write and with the mark last. */
		{ "\xe3\x80\x1a \xe4\033m\xff\xaf", "" },
		/* High bytes inside a DCS and an OSC are no text. */
		{ "\xe3\x80\033P\xc3\xa9\033\\\xff\xaf", "" },
		{ "\xe3\x80\033]0;\xc3\xa9\a\xff\xaf", "" },
		{ "\xe3\x82\033(P\xc3\xa9\033\\\xff\x9a", "" },
	};
	struct vt	*a, *b;
	struct vt_cell	 c;
	size_t		 i;
	int		 r, col;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		a = vt_new(2, 2, 4096);
		feed(a, cases[i][0]);
		feed(a, cases[i][1]);
		feed(a, "x");
		/* No cell wider than the row; the snapshot rebuilds it. */
		for (r = 0; r < 2; r++)
			for (col = 0; col < 2; col++) {
				vt_cell(a, r, col, &c);
				assert_true(c.width <= 2 - col);
			}
		b = rebuild(a, 0);
		vt_free(b);
		vt_free(a);
	}
	/* A mark ending the sequence another decoder holds is seen too. */
	a = vt_new(2, 20, 4096);
	feed(a, "\xe3\x82\x1a \xe4\033m\x9a");
	vt_cell(a, 0, 1, &c);
	assert_int_equal(c.ch[0], 0x30a0);
	vt_free(a);
}

/*
 * C1 controls written in UTF-8 (U+0080-U+009F): libvterm 0.1.4 takes
 * them for characters -1 column wide and put the cursor at column -1,
 * which the snapshot cannot rebuild (vt fuzzer, 1,338 s; cursor check
 * failed before), and an erase or insert there went through a null
 * pointer (ASan SEGV before).  They are a blank now.
 */
static void
test_c1_in_utf8(void **state)
{
	struct vt	*a, *b;
	int		 row, col;

	(void)state;
	a = vt_new(2, 20, 4096);
	feed(a, "\xc2\x81x\033[4h\xc2\x9by");
	vt_cursor(a, &row, &col);
	assert_int_equal(col, 4);
	b = rebuild(a, 0);
	vt_free(b);
	vt_free(a);
	a = vt_new(2, 2, 4096);
	feed(a, "\xc2\x81\033[K");
	vt_free(a);
}

/*
 * libvterm 0.1.4 does not join a mark that starts a write to a character
 * in the last column; vt_feed()'s own 1 KiB pieces cut "e" from its mark
 * in a repaint (vt fuzzer, same run: the rebuilt cell was the mark
 * alone).  A piece ends before ASCII or a control now.
 */
static void
test_mark_across_chunks(void **state)
{
	char		 s[1100];
	struct vt	*a;
	struct vt_cell	 c;

	(void)state;
	memcpy(s, "\033[?7l", 5);
	memset(s + 5, 'x', 1018);
	memcpy(s + 1023, "e\xcc\xad", 4);
	a = vt_new(2, 2, 4096);
	feed(a, s);
	vt_cell(a, 0, 1, &c);
	assert_int_equal(c.ch[0], 'e');
	assert_int_equal(c.ch[1], 0x32d);
	vt_free(a);
}

/*
 * A resize that waited for the end of a sequence is done in the middle of
 * an input whose later bytes reset the scroll region (RIS): the mode
 * tracker had read them already, so the region that no longer fits
 * stayed in libvterm (finding 10 again: memmove with a negative size,
 * ASan before; vt fuzzer, 195 s).
 */
static void
test_resize_region_ahead(void **state)
{
	struct vt	*a;
	int		 row, col;

	(void)state;
	a = vt_new(8, 27, 4096);
	feed(a, "\033[3r\033[");
	vt_resize(a, 1, 37);
	feed(a, "K\r\nMiB \033ca");
	vt_cursor(a, &row, &col);
	assert_int_equal(row, 0);
	vt_free(a);
}

/*
 * A resize in the middle of a sequence waits for its end: a shrink leaves
 * libvterm's cursor above the screen, and "[K" then wrote through a null
 * pointer (ASan SEGV before).
 */
static void
test_resize_in_sequence(void **state)
{
	struct vt	*a;
	int		 row, col, i;

	(void)state;
	a = vt_new(12, 7, 4096);
	for (i = 0; i < 47; i++)
		feed(a, "'");
	feed(a, "0m \033[");
	feed(a, "d");
	vt_resize(a, 12, 61);
	feed(a, "\033");
	vt_resize(a, 4, 48);
	feed(a, "[K");
	vt_cursor(a, &row, &col);
	assert_true(row >= 0 && row < 4 && col >= 0 && col < 48);
	feed(a, "ok\033[2K");
	vt_free(a);
}

/* Whether a and b show the same cells (an erased cell and a space do). */
static void
same_cells(struct vt *a, struct vt *b)
{
	struct vt_cell	ca, cb;
	int		rows, cols, r, c;

	vt_size(a, &rows, &cols);
	for (r = 0; r < rows; r++)
		for (c = 0; c < cols; c++) {
			vt_cell(a, r, c, &ca);
			vt_cell(b, r, c, &cb);
			if (!same_cell(&ca, &cb))
				fail_msg("cell %d,%d: %x vs %x", r, c,
				    ca.ch[0], cb.ch[0]);
		}
}

/*
 * The modes and scroll region the snapshot writes are libvterm's
 * (finding 34): libvterm 0.1.4 sets only the first mode a CSI names, so
 * "?1;1049h" left the model on the main screen (each mode goes to it
 * alone now); a region is kept as libvterm set it on the size then (a
 * bottom past the last row cut to it stays when the screen grows, one
 * not given follows the size); CAN inside a CSI ends it for the guard
 * too, which dropped the high bytes after it.
 */
static void
test_modes_as_libvterm(void **state)
{
	struct vt	*a, *b;
	struct vt_cell	 c;
	unsigned	 top, bot;

	(void)state;
	a = vt_new(4, 20, 4096);
	feed(a, "\033[?1;1049h");
	assert_true(vt_alt(a));
	assert_true(vt_modes(a) & SM_CKM);
	feed(a, "\033[?1;1049l\033[\030\xc3\xa9");
	assert_false(vt_alt(a));
	vt_cell(a, 0, 0, &c);
	assert_int_equal(c.ch[0], 0xe9);
	vt_free(a);

	a = vt_new(10, 20, 4096);
	feed(a, "\033[2;50r");
	vt_resize(a, 20, 20);
	vt_region(a, &top, &bot);
	assert_int_equal(top, 2);
	assert_int_equal(bot, 10);
	b = rebuild(a, 0);
	feed(a, "\033[10;1Hx\n\ny\033[20;1H\nz");
	feed(b, "\033[10;1Hx\n\ny\033[20;1H\nz");
	same_cells(a, b);
	vt_free(b);
	vt_free(a);

	a = vt_new(8, 20, 4096);
	feed(a, "\033[;28r");
	vt_region(a, &top, &bot);
	assert_int_equal(top, 1);
	assert_int_equal(bot, 8);
	b = rebuild(a, 0);
	vt_resize(a, 12, 20);
	vt_resize(b, 12, 20);
	feed(a, "\033[8;1Hx\n\ny");
	feed(b, "\033[8;1Hx\n\ny");
	same_cells(a, b);
	vt_free(b);
	/* Written back as "3;0", libvterm took it for no region. */
	feed(a, "\033[3r");
	vt_region(a, &top, &bot);
	assert_int_equal(top, 3);
	assert_int_equal(bot, 0);
	b = rebuild(a, 0);
	feed(a, "\033[1;1Htop\033[12;1H\nx");
	feed(b, "\033[1;1Htop\033[12;1H\nx");
	same_cells(a, b);
	vt_free(b);
	vt_free(a);
}

/*
 * libvterm 0.1.4 keeps a saved cursor through a shrink and restores it
 * below the last row (vt fuzzer, the campaign after finding 34's fix,
 * 150 s: the snapshot put the cursor elsewhere; libvterm then writes
 * outside its rows).  A restore is followed by putting the cursor back.
 */
static void
test_restore_after_shrink(void **state)
{
	static const char	*save[] = { "\0337", "\033[?1048h",
				    "\033[?1049h" };
	static const char	*restore[] = { "\0338", "\033[?1048l",
				    "\033[?25;1049l" };
	struct vt		*a, *b;
	size_t			 i;
	int			 row, col;

	(void)state;
	for (i = 0; i < sizeof save / sizeof save[0]; i++) {
		a = vt_new(7, 20, 4096);
		feed(a, "\033[6;5H");
		feed(a, save[i]);
		vt_resize(a, 2, 20);
		feed(a, restore[i]);
		vt_cursor(a, &row, &col);
		assert_int_equal(row, 1);
		assert_int_equal(col, 4);
		b = rebuild(a, 0);
		feed(a, "x\033[K");
		vt_free(b);
		vt_free(a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cells),
		cmocka_unit_test(test_alt_modes),
		cmocka_unit_test(test_alt_lazy),
		cmocka_unit_test(test_scrollback),
		cmocka_unit_test(test_scrollback_budget),
		cmocka_unit_test(test_render_row),
		cmocka_unit_test(test_reset_and_resize),
		cmocka_unit_test(test_many_csi_args),
		cmocka_unit_test(test_region_past_resize),
		cmocka_unit_test(test_utf8_split),
		cmocka_unit_test(test_title_split),
		cmocka_unit_test(test_title_esc_control),
		cmocka_unit_test(test_dcs_query),
		cmocka_unit_test(test_sgr_colour_last),
		cmocka_unit_test(test_wide_half),
		cmocka_unit_test(test_resize_cursor),
		cmocka_unit_test(test_region_defaults),
		cmocka_unit_test(test_odd_code_points),
		cmocka_unit_test(test_resize_in_sequence),
		cmocka_unit_test(test_join_wide_decoders),
		cmocka_unit_test(test_c1_in_utf8),
		cmocka_unit_test(test_mark_across_chunks),
		cmocka_unit_test(test_resize_region_ahead),
		cmocka_unit_test(test_modes_as_libvterm),
		cmocka_unit_test(test_restore_after_shrink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
