/*
 * Unit tests for the screen model's sleep (src/vt.c, vt_sleep() and
 * vt_wake()): a model that slept and woke must equal one that never
 * slept, fed the same bytes, in every cell, the cursor, pen, modes,
 * region, title, alternate screen and scrollback, and must go on to
 * equal it when more output comes (saved cursor, scroll region, leaving
 * the alternate screen).  A model with state the rebuild cannot carry
 * stays awake.  Known gap (not in the random vocabulary): libvterm joins
 * a combining mark to the glyph it printed last if the cursor stands just
 * after it, and does not tell which that was; the rebuild prints the one
 * before the cursor last, so a mark written after the cursor moved away
 * and came back joins the other glyph only in a model that never slept.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "buf.h"
#include "client-screen.h"
#include "vt.h"

#define ROWS	8
#define COLS	20

/* Feed a C string to both models. */
static void
feed2(struct vt *a, struct vt *b, const char *s)
{
	vt_feed(a, (const uint8_t *)s, strlen(s));
	vt_feed(b, (const uint8_t *)s, strlen(s));
}

/* Assert that a and b hold the same state, exactly. */
static void
same(struct vt *a, struct vt *b)
{
	struct buf	ra, rb;
	struct vt_cell	ca, cb;
	int		r, c, ya, xa, yb, xb, rows, cols;
	unsigned	ta, ba, tb, bb;

	buf_init(&ra, BUF_MAX_DEFAULT);
	buf_init(&rb, BUF_MAX_DEFAULT);
	vt_render(a, &ra, 0, VT_SCROLLBACK);
	vt_render(b, &rb, 0, VT_SCROLLBACK);
	assert_int_equal(buf_len(&ra), buf_len(&rb));
	assert_memory_equal(buf_ptr(&ra), buf_ptr(&rb), buf_len(&ra));
	buf_free(&ra);
	buf_free(&rb);
	vt_wake(a);
	vt_wake(b);
	vt_size(a, &rows, &cols);
	for (r = 0; r < rows; r++)
		for (c = 0; c < cols; c++) {
			assert_int_equal(vt_cell(a, r, c, &ca), 0);
			assert_int_equal(vt_cell(b, r, c, &cb), 0);
			assert_memory_equal(&ca, &cb, sizeof ca);
		}
	vt_cursor(a, &ya, &xa);
	vt_cursor(b, &yb, &xb);
	assert_int_equal(ya, yb);
	assert_int_equal(xa, xb);
	vt_pen(a, &ca);
	vt_pen(b, &cb);
	assert_memory_equal(&ca, &cb, sizeof ca);
	assert_int_equal(vt_modes(a), vt_modes(b));
	vt_region(a, &ta, &ba);
	vt_region(b, &tb, &bb);
	assert_int_equal(ta, tb);
	assert_int_equal(ba, bb);
	assert_string_equal(vt_title(a), vt_title(b));
	assert_int_equal(vt_alt(a), vt_alt(b));
	assert_int_equal(vt_sb_lines(a), vt_sb_lines(b));
	assert_int_equal(vt_sb_bytes(a), vt_sb_bytes(b));
}

/* Put b to sleep (it must), check it is asleep and equals a. */
static void
sleep_ok(struct vt *a, struct vt *b)
{
	assert_int_equal(vt_sleep(b), 0);
	assert_true(vt_asleep(b) > 0);
	same(a, b);
}

/* A shell's screen: colours, wide and joined characters, scrollback. */
static void
test_sleep_main(void **state)
{
	struct vt	*a = vt_new(ROWS, COLS, 1 << 16);
	struct vt	*b = vt_new(ROWS, COLS, 1 << 16);
	int		 i;
	char		 line[64];

	(void)state;
	for (i = 0; i < 20; i++) {
		snprintf(line, sizeof line, "\033[3%dmline %d\033[0m\r\n",
		    i % 8, i);
		feed2(a, b, line);
	}
	feed2(a, b, "\033]2;a title\007\033[1;4;38;5;200;48;2;1;2;3mbold"
	    "\033[0m \xe4\xb8\xad\xe6\x96\x87 e\xcc\x81 \033[44m\033[3X"
	    "\033[0m\033[7mrv\033[K\r\n\033[?2004h\033[?1h\033=$ \033[32m");
	sleep_ok(a, b);
	/* More output after the wake: the same on both. */
	feed2(a, b, "typed\r\n\033[2Jafter\033[5;3H\033[1mX");
	same(a, b);
	sleep_ok(a, b);
	/* A mark written next joins the glyph printed last, as it would. */
	feed2(a, b, "\xcc\x81 \xe4\xb8\xad");
	sleep_ok(a, b);
	feed2(a, b, "\xe3\x82\x99!");
	same(a, b);
	vt_free(a);
	vt_free(b);
}

/* The alternate screen, with the main screen and cursor kept below. */
static void
test_sleep_alt(void **state)
{
	struct vt	*a = vt_new(ROWS, COLS, 1 << 16);
	struct vt	*b = vt_new(ROWS, COLS, 1 << 16);

	(void)state;
	feed2(a, b, "main 1\r\nmain 2\r\n\033[31m$ vim\033[0m");
	feed2(a, b, "\033[?1049h\033[H\033[2J\033[2;6r\033[?25l"
	    "\033[1;1H~ file\033[8;1H\033[7m-- INSERT --\033[0m"
	    "\033[3;4H\xe4\xb8\xad\033[4m");
	sleep_ok(a, b);
	/* Scroll inside the region, then leave: the main screen is back. */
	feed2(a, b, "\033[6;1H\n\n\nscrolled\033[?25h");
	same(a, b);
	sleep_ok(a, b);
	feed2(a, b, "\033[?1049l\033[r after vim\r\n");
	same(a, b);
	assert_int_equal(vt_alt(b), 0);
	/* And again into it: erased, as it would be. */
	feed2(a, b, "\033[?1049hx");
	sleep_ok(a, b);
	vt_free(a);
	vt_free(b);
}

/* A saved cursor (DECSC) and pen come back after the sleep. */
static void
test_sleep_saved_cursor(void **state)
{
	struct vt	*a = vt_new(ROWS, COLS, 1 << 16);
	struct vt	*b = vt_new(ROWS, COLS, 1 << 16);

	(void)state;
	feed2(a, b, "\033[3;5H\033[1;35m\0337\033[0m\033[?25l\033[7;2Hx");
	sleep_ok(a, b);
	feed2(a, b, "\0338saved\033[?25h");
	same(a, b);
	/* A scroll region on the main screen keeps scrolling its lines. */
	feed2(a, b, "\033[2;4r\033[4;1Hr1\nr2\nr3\n");
	sleep_ok(a, b);
	feed2(a, b, "r4\nr5\n\033[r\033[8;1H\n\n");
	same(a, b);
	/* Every mode a CSI names is set (libvterm 0.1.4 took the first). */
	feed2(a, b, "\033[?7l\033[?1;7h");
	sleep_ok(a, b);
	feed2(a, b, "\033[1;1Hlong line long line long line long line");
	same(a, b);
	/* A colour with no palette reads nothing an earlier CSI left. */
	feed2(a, b, "\033[1;5;7H\033[1;31mx\033[0m");
	sleep_ok(a, b);
	feed2(a, b, "\033[48my\033[1;38mz");
	same(a, b);
	/* A top of 0 is the first row, as libvterm takes it. */
	feed2(a, b, "\033[0;4r\033[4;1Hs1\ns2\n");
	sleep_ok(a, b);
	feed2(a, b, "s3\ns4\n");
	same(a, b);
	vt_free(a);
	vt_free(b);
}

/* State the rebuild cannot carry keeps the model awake, and exact. */
static void
test_sleep_refused(void **state)
{
	static const char	*on[] = { "\033[?6h", "\033[4h", "\033[20h",
				    "\033[?7l", "\033[?5h", "\033(0", "\016",
				    "\033[?69h", "\033[3g", "\033H",
				    "\033#6", "\033", "\033]2;half",
				    "\033[1;", "\xe4\xb8", "\033[2;4r\033[/;4r",
				    "\033[5r", "\033\n ]", "\033(\n",
				    "\033%[;4r", "\033[?0;;;;;;;;;;6h" };
	static const char	*off[] = { "\033[?6l", "\033[4l", "\033[20l",
				    "\033[?7h", "\033[?5l", "\033(B", "\017",
				    "\033[?69l", NULL, NULL, NULL, "[m",
				    "\007", "1H", "\xad", NULL, "\033[r",
				    "\007", "B", NULL, "\033[?6l" };
	struct vt		*a, *b;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof on / sizeof on[0]; i++) {
		a = vt_new(ROWS, COLS, 1 << 16);
		b = vt_new(ROWS, COLS, 1 << 16);
		feed2(a, b, "text\r\n");
		feed2(a, b, on[i]);
		assert_int_not_equal(vt_sleep(b), 0);
		assert_int_equal(vt_asleep(b), 0);
		same(a, b);
		if (off[i] != NULL) {
			feed2(a, b, off[i]);
			sleep_ok(a, b);
		} else {
			feed2(a, b, "\033c");	/* a reset clears it */
			sleep_ok(a, b);
		}
		feed2(a, b, "more\r\n\tt\033[5;20Hx");
		same(a, b);
		vt_free(a);
		vt_free(b);
	}
	/* The cursor in the last column: a wrap may be pending. */
	a = vt_new(ROWS, COLS, 1 << 16);
	b = vt_new(ROWS, COLS, 1 << 16);
	feed2(a, b, "01234567890123456789");
	assert_int_not_equal(vt_sleep(b), 0);
	feed2(a, b, "w");
	same(a, b);
	sleep_ok(a, b);
	vt_free(a);
	vt_free(b);
}

/* A resize and a reset wake a sleeping model and do what they would. */
static void
test_sleep_resize_reset(void **state)
{
	struct vt	*a = vt_new(ROWS, COLS, 1 << 16);
	struct vt	*b = vt_new(ROWS, COLS, 1 << 16);

	(void)state;
	feed2(a, b, "one\r\ntwo\r\n\033[2;3r\033[5;5H");
	sleep_ok(a, b);
	vt_resize(a, 4, 30);
	vt_resize(b, 4, 30);
	same(a, b);
	sleep_ok(a, b);
	vt_reset(a);
	vt_reset(b);
	same(a, b);
	vt_free(a);
	vt_free(b);
	/* Freed while asleep: nothing leaks (ASan). */
	b = vt_new(ROWS, COLS, 1 << 16);
	vt_feed(b, (const uint8_t *)"x", 1);
	assert_int_equal(vt_sleep(b), 0);
	vt_free(b);
}

/*
 * Random output from a vocabulary of what programs write, with sleeps
 * at random points: the model that slept always equals the other.
 */
static void
test_sleep_random(void **state)
{
	static const char	*words[] = { "a", "wide\xe4\xb8\xad",
				    "\r\n", "\n", "\b", "\t", "\033[K",
				    "\033[2J", "\033[H", "\033[3;7H",
				    "\033[31m", "\033[1;4;7m", "\033[0m",
				    "\033[48;5;100m", "\033[2X", "\033[2P",
				    "\033[2@", "\033[L", "\033[M", "\033[S",
				    "\033[T", "\0337", "\0338", "\033[s",
				    "\033[u", "\033[2;5r", "\033[r",
				    "\033[?1049h", "\033[?1049l",
				    "\033[?47h", "\033[?47l", "\033[?1047h",
				    "\033[?1047l", "\033[?25l", "\033[?25h",
				    "\033]2;t\007", "\033M", "\033D", "\033E",
				    "\033[?6h", "\033[?6l", "\033[4h",
				    "\033[4l", "\033(0", "\033(B",
				    "\033[?7l", "\033[?7h", "0123456789",
				    "\033[20C", "\033[5B", "\033[?1h",
				    "\033[?2004h", "\033[10;20H",
				    "\033[?1000h\033[?1006h", "\033[2b" };
	struct vt		*a, *b;
	uint32_t		 rnd = 12345;
	int			 round, i, slept = 0;

	(void)state;
	for (round = 0; round < 40; round++) {
		a = vt_new(ROWS, COLS, 4096);
		b = vt_new(ROWS, COLS, 4096);
		for (i = 0; i < 300; i++) {
			rnd = rnd * 1103515245 + 12345;
			feed2(a, b, words[(rnd >> 8) %
			    (sizeof words / sizeof words[0])]);
			if ((rnd >> 20) % 7 == 0 && vt_sleep(b) == 0) {
				slept++;
				same(a, b);
			}
		}
		same(a, b);
		vt_free(a);
		vt_free(b);
	}
	/* Enough of those points could sleep (the others are refused). */
	assert_true(slept > 100);
}

/*
 * The snapshot of an alternate screen has no NUL byte (vt_render() wrote
 * the string's terminator with the switch to it).
 */
static void
test_alt_render_no_nul(void **state)
{
	struct vt	*v = vt_new(ROWS, COLS, 1 << 16);
	struct buf	 b;

	(void)state;
	vt_feed(v, (const uint8_t *)"\033[?1049hvim", 12);
	buf_init(&b, BUF_MAX_DEFAULT);
	vt_render(v, &b, 0, VT_SCROLLBACK);
	assert_null(memchr(buf_ptr(&b), 0, buf_len(&b)));
	buf_free(&b);
	vt_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sleep_main),
		cmocka_unit_test(test_sleep_alt),
		cmocka_unit_test(test_sleep_saved_cursor),
		cmocka_unit_test(test_sleep_refused),
		cmocka_unit_test(test_sleep_resize_reset),
		cmocka_unit_test(test_sleep_random),
		cmocka_unit_test(test_alt_render_no_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
