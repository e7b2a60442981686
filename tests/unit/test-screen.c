/*
 * Unit tests for src/client-screen.c: the screen facts the client learns
 * from the output stream, and taking a cursor position report out of
 * typed bytes.  The cases come from fuzz/screen-fuzzer.c's checks.
 */
#include <string.h>

#include "unit.h"

#include "client-screen.h"

/* Take a report out of s (as typed); returns the new length. */
static size_t
take(struct screen *sc, char *s)
{
	sc->cpr_wait = 1;
	sc->cpr_owed = 1;
	sc->row = 0;
	return screen_take_cpr(sc, (uint8_t *)s, strlen(s));
}

/* A report is taken out whole and its row stored. */
static void
test_cpr(void **state)
{
	struct screen	sc;
	char		s[64];

	(void)state;
	memset(&sc, 0, sizeof sc);
	strcpy(s, "ab\x1b[12;80Rcd");
	assert_int_equal(take(&sc, s), 4);
	assert_memory_equal(s, "abcd", 4);
	assert_int_equal(sc.row, 12);
	assert_int_equal(sc.cpr_wait, 0);
	strcpy(s, "\x1b[0;1R");
	assert_int_equal(take(&sc, s), 6);
	assert_int_equal(sc.cpr_wait, 1);
}

/*
 * A row too long to be a row is not a report, even when the number
 * wraps around to a small one (fuzz/findings/screen-cpr-row-wrap).
 */
static void
test_cpr_long_row(void **state)
{
	struct screen	sc;
	char		s[64];

	(void)state;
	memset(&sc, 0, sizeof sc);
	/* 4294967297 is 2^32 + 1. */
	strcpy(s, "\x1b[4294967297;1R");
	assert_int_equal(take(&sc, s), strlen("\x1b[4294967297;1R"));
	assert_int_equal(sc.row, 0);
	assert_int_equal(sc.cpr_wait, 1);
}

/*
 * An answer that comes after the notice stopped waiting for it is still
 * ours: taken out of the typed bytes (CI: "1R" reached the shell under
 * load), without a row; the next report is the program's and passes.
 */
static void
test_cpr_late(void **state)
{
	struct screen	sc;
	char		s[64];

	(void)state;
	memset(&sc, 0, sizeof sc);
	sc.cpr_owed = 1;
	strcpy(s, "x\x1b[5;1Ry\x1b[6;1R");
	assert_int_equal(screen_take_cpr(&sc, (uint8_t *)s, strlen(s)), 8);
	assert_memory_equal(s, "xy\x1b[6;1R", 8);
	assert_int_equal(sc.row, 0);
	assert_int_equal(sc.cpr_owed, 0);
	assert_int_equal(screen_take_cpr(&sc, (uint8_t *)s, 8), 8);
}

/* The line, tail and alternate screen follow the stream across splits. */
static void
test_track(void **state)
{
	struct screen	sc;
	const char	*s = "one\r\ntwo\x1b[?1049hx\x1b[?10";
	size_t		i;

	(void)state;
	memset(&sc, 0, sizeof sc);
	for (i = 0; i < strlen(s); i++)
		screen_track(&sc, (const uint8_t *)s + i, 1);
	assert_int_equal(sc.alt, 1);
	screen_track(&sc, (const uint8_t *)"49l$ ", 5);
	assert_int_equal(sc.alt, 0);
	assert_int_equal(sc.ntail, strlen(s) + 5);
	assert_int_equal(sc.linelen, strlen("two\x1b[?1049hx\x1b[?1049l$ "));
	assert_int_equal(sc.line_long, 0);
}

/*
 * A control inside an escape or CSI sequence is done by the terminal and
 * the sequence goes on; so it does past a high byte or DEL (libvterm
 * ignores them).  CAN cancels.  "ESC [ ; ; r" sets no region (a third
 * parameter means nothing).
 */
static void
test_inside_sequences(void **state)
{
	struct screen	sc;
	const char	*s;

	(void)state;
	memset(&sc, 0, sizeof sc);
	s = "\x1b[?1\n049h\x1b\r=\x1b[?\x85" "2004h\x1b\x85\x7f" "7";
	screen_track(&sc, (const uint8_t *)s, strlen(s));
	assert_int_equal(sc.alt, 1);
	assert_true(sc.modes & SM_KEYPAD);
	assert_true(sc.modes & SM_PASTE);
	s = "\x1b[?1\x18h\x1b[5;9r\x1b[;;r";
	screen_track(&sc, (const uint8_t *)s, strlen(s));
	assert_false(sc.modes & SM_CKM);
	assert_false(sc.modes & SM_REGION);
}

/* Track s from a clean tracker. */
static void
track(struct screen *sc, const char *s)
{
	memset(sc, 0, sizeof *sc);
	screen_track(sc, (const uint8_t *)s, strlen(s));
}

/*
 * The tracker reads sequences as libvterm 0.1.4's parser does (finding
 * 34; the vt fuzzer compares the two): "[" after ESC and intermediates
 * starts a CSI (finding 33), a leader counts only first and alone, a
 * parameter byte after an intermediate or a leader after a parameter
 * ends the sequence unfinished, ':' splits parameters as ';' does, up to
 * 16 of them, the numbers as libvterm's (31 bits kept), and a bottom
 * given as 0 is no region while one not given is the last row.  Each
 * case failed before.
 */
static void
test_libvterm_parse(void **state)
{
	struct screen	sc;

	(void)state;
	track(&sc, "\x1b%[?1049h\x1b( [?2004h");
	assert_int_equal(sc.alt, 1);
	assert_true(sc.modes & SM_PASTE);
	track(&sc, "\x1b%[;4r");
	assert_true(sc.modes & SM_REGION);
	assert_int_equal(sc.rtop, 0);
	assert_int_equal(sc.rbot, 4);
	track(&sc, "\x1b(=");
	assert_false(sc.modes & SM_KEYPAD);
	track(&sc, "\x1b[/;4r\x1b[5;8 r\x1b[>5;8r\x1b[1?;5r");
	assert_false(sc.modes & SM_REGION);
	track(&sc, "\x1b[??1049h\x1b[?1$h\x1b[?2004 4h\x1b[1?2004h");
	assert_int_equal(sc.alt, 0);
	assert_int_equal(sc.modes, 0);
	track(&sc, "\x1b[?1:2004h");
	assert_int_equal(sc.modes, SM_CKM | SM_PASTE);
	track(&sc, "\x1b[2:;4r");
	assert_true(sc.modes & SM_REGION);
	assert_int_equal(sc.rtop, 2);
	assert_int_equal(sc.rbot, 0);
	/* The sixteenth mode counts; past it the digits run on. */
	track(&sc, "\x1b[?9;9;9;9;9;9;9;9;9;9;9;9;9;9;9;2004h");
	assert_true(sc.modes & SM_PASTE);
	track(&sc, "\x1b[?9;9;9;9;9;9;9;9;9;9;9;9;9;9;9;1;;1h");
	assert_false(sc.modes & SM_CKM);	/* 11 */
	/* 2^31 + 2004: libvterm keeps 31 bits. */
	track(&sc, "\x1b[?2147485652h");
	assert_true(sc.modes & SM_PASTE);
	track(&sc, "\x1b[5;0r");
	assert_false(sc.modes & SM_REGION);
	track(&sc, "\x1b[5r");
	assert_true(sc.modes & SM_REGION);
	assert_int_equal(sc.rtop, 5);
	assert_int_equal(sc.rbot, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpr),
		cmocka_unit_test(test_cpr_long_row),
		cmocka_unit_test(test_cpr_late),
		cmocka_unit_test(test_track),
		cmocka_unit_test(test_inside_sequences),
		cmocka_unit_test(test_libvterm_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
