/*
 * Unit tests for src/predict.c, the predictive echo state machine.  Two
 * libvterm models stand in for the user's terminal ("term": session output
 * and the machine's bytes) and for the session ("srv": output only).
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "buf.h"
#include "client-predict.h"
#include "client-vt.h"
#include "predict.h"
#include "proto.h"

/* A report of canonical mode with echo, taken after a quiet while. */
#define CANON_ECHO	(TIO_ICANON | TIO_ECHO | TIO_QUIET)

#define ROWS	6
#define COLS	30
/* The predict fuzzer's screen, for scripts it found. */
#define FZ_ROWS	5
#define FZ_COLS	16

struct sim {
	struct predict	 pr;
	struct cvt	*term, *srv;
	uint64_t	 in_end, now;
	struct buf	 drawn;		/* every byte the machine wrote */
};

/* Start: blank screens, the daemon's modes, a 200 ms link. */
static void
sim_init(struct sim *s, int mode, int tio)
{
	struct buf	b;

	memset(s, 0, sizeof *s);
	predict_init(&s->pr, mode, ROWS, COLS);
	s->pr.line_bad = 0;
	s->term = cvt_new(ROWS, COLS);
	s->srv = cvt_new(ROWS, COLS);
	assert_non_null(s->term);
	buf_init(&s->drawn, 0);
	buf_init(&b, 0);
	predict_net(&s->pr, 200, 1, 0, 0, &b);
	if (tio >= 0)
		predict_termios(&s->pr, tio, 0, 0, 0, &b);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);
}

/* Release it. */
static void
sim_free(struct sim *s)
{
	predict_free(&s->pr);
	cvt_free(s->term);
	cvt_free(s->srv);
	buf_free(&s->drawn);
}

/* The machine's bytes go to the user's terminal. */
static void
sim_term(struct sim *s, struct buf *b)
{
	cvt_feed(s->term, buf_ptr(b), buf_len(b));
	buf_put(&s->drawn, buf_ptr(b), buf_len(b));
	buf_free(b);
}

/* Type keys (and tell the machine they were sent at once). */
static void
sim_keys(struct sim *s, const char *k)
{
	struct buf	b;
	size_t		n = strlen(k);

	buf_init(&b, 0);
	predict_keys(&s->pr, (const uint8_t *)k, n, s->in_end, s->now, &b);
	s->in_end += n;
	predict_net(&s->pr, 200, 1, s->in_end, s->now, &b);
	sim_term(s, &b);
}

/* Session output. */
static void
sim_out(struct sim *s, const char *p)
{
	struct buf	b;

	buf_init(&b, 0);
	predict_hide(&s->pr, &b);
	cvt_feed(s->term, buf_ptr(&b), buf_len(&b));
	buf_reset(&b);
	cvt_feed(s->term, p, strlen(p));
	cvt_feed(s->srv, p, strlen(p));
	predict_output(&s->pr, (const uint8_t *)p, strlen(p), s->now);
	predict_show(&s->pr, s->now, &b);
	sim_term(s, &b);
}

/* A TERMIOS report: flags, everything typed written, settled up to. */
static void
sim_tio(struct sim *s, int flags, uint64_t settled)
{
	struct buf	b;

	buf_init(&b, 0);
	predict_termios(&s->pr, flags, s->in_end, settled, s->now, &b);
	sim_term(s, &b);
}

/* The character the user sees at row, col. */
static int
sim_at(struct sim *s, int row, int col)
{
	uint32_t	c = cvt_char(s->term, row, col);

	return c == 0 ? ' ' : (int)c;
}

/* With nothing drawn, the user's screen is the session's. */
static void
sim_same(struct sim *s)
{
	int	r, c, a, b, x, y;

	assert_false(s->pr.shown);
	for (r = 0; r < ROWS; r++)
		for (c = 0; c < COLS; c++)
			assert_int_equal(cvt_cell(s->term, r, c),
			    cvt_cell(s->srv, r, c));
	cvt_cursor(s->term, &a, &b);
	cvt_cursor(s->srv, &x, &y);
	assert_int_equal(a, x);
	assert_int_equal(b, y);
}

/* Canonical with echo: the first key shows at once, then is confirmed. */
static void
test_canonical_echo(void **state)
{
	struct sim	s;

	(void)state;
	sim_init(&s, PRED_ADAPTIVE, CANON_ECHO);
	sim_out(&s, "$ ");
	sim_keys(&s, "ab");
	assert_true(s.pr.shown);
	assert_int_equal(sim_at(&s, 0, 2), 'a');
	assert_int_equal(sim_at(&s, 0, 3), 'b');
	sim_out(&s, "ab");
	assert_int_equal(s.pr.n, 0);
	sim_same(&s);
	sim_free(&s);
}

/*
 * `printf 'Password: '; stty -echo; read`: the report that comes with the
 * prompt says echo on but is not QUIET (taken while output moved): the
 * first keys are not drawn (the stty may come after the daemon's watch);
 * the QUIET report says echo off and they never are.
 */
static void
test_prompt_then_stty(void **state)
{
	struct sim	s;

	(void)state;
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	sim_out(&s, "$ ");
	sim_keys(&s, "x\r");
	sim_out(&s, "x\r\n");
	sim_tio(&s, TIO_ICANON | TIO_ECHO, s.in_end);
	sim_out(&s, "Password: ");
	sim_keys(&s, "QZX");
	assert_false(s.pr.shown);
	assert_null(memchr(buf_ptr(&s.drawn), 'Q', buf_len(&s.drawn)));
	sim_tio(&s, TIO_ICANON | TIO_QUIET, 0);
	sim_keys(&s, "J");
	assert_false(s.pr.shown);
	assert_null(memchr(buf_ptr(&s.drawn), 'J', buf_len(&s.drawn)));
	sim_same(&s);
	sim_free(&s);
}

/* Canonical without echo (a password): nothing, ever. */
static void
test_password(void **state)
{
	struct sim	s;

	(void)state;
	sim_init(&s, PRED_ALWAYS, TIO_ICANON);
	sim_out(&s, "Password: ");
	sim_keys(&s, "secret");
	assert_false(s.pr.shown);
	assert_int_equal(s.pr.n, 0);
	assert_null(memchr(buf_ptr(&s.drawn), 's', buf_len(&s.drawn)));
	sim_same(&s);
	/* Echo turned off while a key was drawn: it goes at once. */
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "x");
	assert_true(s.pr.shown);
	sim_tio(&s, TIO_ICANON, 0);
	assert_false(s.pr.shown);
	sim_same(&s);
	sim_free(&s);
}

/* Canonical off: a tentative epoch shows once a key of it is confirmed. */
static void
test_tentative_epoch(void **state)
{
	struct sim	s;

	(void)state;
	sim_init(&s, PRED_ADAPTIVE, 0);
	sim_out(&s, "\r\n> ");
	sim_keys(&s, "x");
	assert_false(s.pr.shown);
	assert_int_equal(s.pr.n, 1);
	sim_out(&s, "x");
	assert_int_equal(s.pr.n, 0);
	sim_keys(&s, "y");
	assert_true(s.pr.shown);
	assert_int_equal(sim_at(&s, 1, 3), 'y');
	/* Backspace, left and right are predicted too. */
	sim_keys(&s, "z\x7f");
	assert_int_equal(sim_at(&s, 1, 4), ' ');
	sim_keys(&s, "\033[D");
	sim_out(&s, "yz\b \b\b");
	sim_tio(&s, 0, s.in_end);
	assert_int_equal(s.pr.n, 0);
	sim_same(&s);
	/* CR starts a new epoch: nothing until the daemon settled it. */
	sim_keys(&s, "\r");
	sim_keys(&s, "q");
	assert_false(s.pr.shown);
	sim_free(&s);
}

/* A TERMIOS report with the foreground process group. */
static void
sim_tio_group(struct sim *s, int flags, uint64_t settled, uint32_t group)
{
	predict_group(&s->pr, group);
	sim_tio(s, flags, settled);
}

/*
 * A shell (readline: canonical off, echo off) whose echo was confirmed:
 * after Enter, the daemon says the same process group reads in the same
 * modes, so the first key at the new prompt shows at once.  Not when a
 * job of another group reads (sudo's own password prompt), nor in other
 * modes, nor after a break other than Enter (mosh's tentative epoch).
 */
static void
test_fresh_prompt(void **state)
{
	struct sim	s;

	(void)state;
	sim_init(&s, PRED_ADAPTIVE, 0);
	sim_tio_group(&s, TIO_SHELL, 0, 100);
	sim_out(&s, "\r\n$ ");
	sim_keys(&s, "ls");
	sim_out(&s, "ls");
	assert_int_equal(s.pr.n, 0);
	/* Enter: the command runs and the prompt comes back. */
	sim_keys(&s, "\r");
	sim_out(&s, "\r\nfile\r\n$ ");
	sim_tio_group(&s, TIO_SHELL, s.in_end, 100);
	sim_keys(&s, "e");
	assert_true(s.pr.shown);
	assert_int_equal(sim_at(&s, 3, 2), 'e');
	sim_out(&s, "e");
	assert_int_equal(s.pr.n, 0);
	sim_same(&s);
	/* Another group at the prompt after Enter: tentative. */
	sim_keys(&s, "\r");
	sim_out(&s, "\r\nPassword: ");
	sim_tio_group(&s, 0, s.in_end, 200);
	sim_keys(&s, "p");
	assert_false(s.pr.shown);
	assert_null(memchr(buf_ptr(&s.drawn), 'p', buf_len(&s.drawn)));
	sim_out(&s, "*");	/* pwfeedback: a star, not the key */
	assert_int_equal(s.pr.n, 0);
	sim_same(&s);
	sim_free(&s);

	/* The same group, but no word yet on input past the Enter. */
	sim_init(&s, PRED_ADAPTIVE, 0);
	sim_tio_group(&s, TIO_SHELL, 0, 100);
	sim_out(&s, "\r\n$ ");
	sim_keys(&s, "a");
	sim_out(&s, "a");
	sim_keys(&s, "\r");
	sim_out(&s, "\r\n$ ");
	predict_group(&s.pr, 100);
	s.pr.settled = s.in_end;	/* settled, but tio read before it */
	sim_keys(&s, "b");
	assert_false(s.pr.shown);
	sim_free(&s);

	/* A break that is not Enter (Escape in an editor): tentative. */
	sim_init(&s, PRED_ADAPTIVE, 0);
	sim_tio_group(&s, TIO_SHELL, 0, 100);
	sim_out(&s, "\r\n");
	sim_keys(&s, "a");
	sim_out(&s, "a");
	sim_keys(&s, "\033");
	sim_tio_group(&s, TIO_SHELL, s.in_end, 100);
	sim_keys(&s, "j");
	assert_false(s.pr.shown);
	sim_free(&s);

	/* Ctrl-U, then Enter: the new prompt is the shell's all the same. */
	sim_init(&s, PRED_ADAPTIVE, 0);
	sim_tio_group(&s, TIO_SHELL, 0, 100);
	sim_out(&s, "\r\n$ ");
	sim_keys(&s, "a");
	sim_out(&s, "a");
	sim_keys(&s, "\x15");
	sim_out(&s, "\b \b");
	sim_keys(&s, "\r");
	sim_out(&s, "\r\n$ ");
	sim_tio_group(&s, TIO_SHELL, s.in_end, 100);
	sim_keys(&s, "b");
	assert_true(s.pr.shown);
	sim_free(&s);

	/*
	 * A job that is not the session's shell (ssh to another host: its
	 * remote prompts are unknown here): tentative after Enter, even in
	 * the group whose echo was confirmed.
	 */
	sim_init(&s, PRED_ADAPTIVE, 0);
	sim_tio_group(&s, 0, 0, 300);
	sim_out(&s, "\r\n$ ");
	sim_keys(&s, "a");
	sim_out(&s, "a");
	sim_keys(&s, "\r");
	sim_out(&s, "\r\nPassword: ");
	sim_tio_group(&s, 0, s.in_end, 300);
	sim_keys(&s, "p");
	assert_false(s.pr.shown);
	sim_free(&s);

	/* No group from the daemon (an older one): tentative. */
	sim_init(&s, PRED_ADAPTIVE, 0);
	sim_out(&s, "\r\n$ ");
	sim_keys(&s, "a");
	sim_out(&s, "a");
	sim_keys(&s, "\r");
	sim_out(&s, "\r\n$ ");
	sim_tio(&s, 0, s.in_end);
	sim_keys(&s, "b");
	assert_false(s.pr.shown);
	sim_free(&s);
}

/* Output that contradicts a drawn key erases it at once. */
static void
test_contradiction(void **state)
{
	struct sim	s;

	(void)state;
	sim_init(&s, PRED_ALWAYS, 0);
	sim_out(&s, "\r\n");
	sim_keys(&s, "a");
	sim_out(&s, "a");
	sim_keys(&s, "bc");
	assert_true(s.pr.shown);
	sim_out(&s, "B");
	assert_int_equal(s.pr.n, 0);
	sim_same(&s);
	assert_int_equal(sim_at(&s, 1, 1), 'B');
	/* A key the program had long enough and did not echo goes. */
	sim_keys(&s, "d");
	sim_out(&s, "C");
	sim_keys(&s, "e");
	sim_tio(&s, 0, s.in_end);
	assert_int_equal(s.pr.n, 0);
	sim_same(&s);
	sim_free(&s);
}

/* A paste, an unknown line, the alternate screen without ?1049h. */
static void
test_not_predicted(void **state)
{
	struct sim	s;
	char		paste[PRED_PASTE + 1];

	(void)state;
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	memset(paste, 'p', PRED_PASTE);
	paste[PRED_PASTE] = '\0';
	sim_keys(&s, paste);
	assert_int_equal(s.pr.n, 0);
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_out(&s, "\033[5;1Hx");	/* the cursor jumped: row unknown */
	sim_keys(&s, "k");
	assert_false(s.pr.shown);
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_out(&s, "\033[?47h");
	sim_keys(&s, "k");
	assert_false(s.pr.shown);
	sim_free(&s);
	/* A form feed inside an escape sequence moves the cursor down. */
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	sim_out(&s, "ab\033%\x0c");
	sim_keys(&s, "4");
	assert_false(s.pr.shown);
	sim_same(&s);
	sim_free(&s);
	/* A colour set on an earlier line still holds: no plain drawing. */
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	sim_out(&s, "\033[31mred\r\n");
	sim_keys(&s, "r");
	assert_false(s.pr.shown);
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_out(&s, "r\033[0m\r\n$ ");
	sim_keys(&s, "p");
	assert_true(s.pr.shown);
	sim_free(&s);
	/* Invalid UTF-8 cut in two: terminals disagree where it ends. */
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	sim_out(&s, ":\xe5");
	sim_out(&s, "\xd7\xdf");
	sim_keys(&s, "M");
	assert_false(s.pr.shown);
	sim_same(&s);
	sim_free(&s);
}

/*
 * A UTF-8 sequence cut by a control or an escape sequence: libvterm keeps
 * it pending and ends it at the next text, xterm at the cut.  Nothing is
 * drawn while it may be pending (our key would end it), nor on the line
 * where it ended (terminals put the replacement on different rows).
 * fuzz/corpus-predict/predict-screen-differs-1 is the fuzzer's case.
 */
static void
test_c1_in_utf8(void **state)
{
	static const char *c1[] = { "\xc2\x81\033[K", "x\xc2\x9f\033[4h\033[@",
	    "\xc2\x80\033[1K", "\xc2", "\x85\033[K", "\xc2\x01\x81\033[K",
	    "a\xc2\033[m\x8f\033[K", "\xc2", "\r", "\x9b\033[K",
	    "\xe2\x80\x94\xc3\x80\033[K" };
	struct sim	 s;
	size_t		 i;

	(void)state;
	sim_init(&s, PRED_ALWAYS, 0);
	sim_out(&s, "\033[?1049h");
	for (i = 0; i < sizeof c1 / sizeof c1[0]; i++)
		sim_out(&s, c1[i]);
	sim_keys(&s, "a");
	sim_out(&s, "a");
	sim_same(&s);
	sim_free(&s);
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	for (i = 0; i < sizeof c1 / sizeof c1[0]; i++)
		sim_out(&s, c1[i]);
	sim_free(&s);
}

/*
 * libvterm 0.1.4 read a string's last piece past the end of a write (up
 * to a NUL, 64 bytes at most) at an ST after an ESC and a control, or at
 * an ST cut between two writes: output from the session made the
 * client's model read past its buffer (ASan heap-buffer-overflow
 * before; reliability.md finding 31).
 */
static void
test_string_end(void **state)
{
	static const char	*out[] = { "\033]2;a\033\001\\",
				    "\033]2;b\nc\033", "\\" };
	struct cvt		*m;
	char			*p;
	size_t			 i, n;

	(void)state;
	m = cvt_new(ROWS, COLS);
	for (i = 0; i < sizeof out / sizeof out[0]; i++) {
		n = strlen(out[i]);
		p = malloc(n);
		assert_non_null(p);
		memcpy(p, out[i], n);
		cvt_feed(m, p, n);
		free(p);
	}
	cvt_free(m);
}

/*
 * An unknown DECRQSS: libvterm 0.1.4 answers it with a format that reads
 * a wild pointer in the sanitized builds (SEGV in this test before the
 * client's models were guarded, finding 37): whole, split between
 * writes, after intermediates, after a control inside it; a "$" in text
 * and after a DCS that ended still shows.
 */
static void
test_dcs_query(void **state)
{
	static const char	*out[] = {
				    "\033P$qxy\033\\\033P\n$q\033\\\033P$qm\033\\ok",
				    "\033P$", "qz\033\\",
				    "\033P$qxy\033\\", "\033P", "$qz",
				    "\033\\", "\033 P$qw\033\\",
				    "\033P\n$qv\033\001\\", "\033P$qu\a",
				    "\033P\033", "P$qt\033\\", "\033P$q\033\\",
				    "\033P\n$q\033\\", "\033P$qm\033\\",
				    "\033]2;$\a\033[H$" };
	struct cvt		*m;
	size_t			 i;

	(void)state;
	m = cvt_new(ROWS, COLS);
	for (i = 0; i < sizeof out / sizeof out[0]; i++)
		cvt_feed(m, out[i], strlen(out[i]));
	assert_int_equal(cvt_char(m, 0, 0), '$');
	cvt_free(m);
}

static void
test_utf8_cut(void **state)
{
	static const char *cut[] = { "\r\n", "\033[0m", "\x01", "\r\n\033[m",
	    "\xff\r\n", "\x7f\r\n" };
	struct sim	 s;
	size_t		 i;
	int		 row, col;

	(void)state;
	for (i = 0; i < sizeof cut / sizeof cut[0]; i++) {
		sim_init(&s, PRED_ALWAYS, CANON_ECHO);
		sim_out(&s, "\r\n:\xc3");
		sim_out(&s, cut[i]);
		sim_keys(&s, "M");
		assert_false(s.pr.shown);
		sim_out(&s, "M");
		sim_same(&s);
		/* Ended on this line: still nothing until a new one. */
		sim_tio(&s, CANON_ECHO, s.in_end);
		sim_keys(&s, "N");
		assert_false(s.pr.shown);
		sim_out(&s, "N\r\n");
		sim_tio(&s, CANON_ECHO, s.in_end);
		sim_keys(&s, "O");
		assert_true(s.pr.shown);
		sim_out(&s, "O");
		sim_same(&s);
		sim_free(&s);
	}
	/*
	 * libvterm's second decoder: a run that starts with a high byte
	 * does not end the sequence the first one holds, and a character
	 * split across two writes can leave one pending, so after any lead
	 * byte nothing is drawn until ASCII surely starts a run.
	 */
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	sim_out(&s, "\r\n:\xc3");
	sim_out(&s, "\x01\x97\r\n");
	sim_keys(&s, "M");
	assert_false(s.pr.shown);
	sim_out(&s, "M");
	sim_same(&s);
	sim_free(&s);
	/*
	 * A whole character in one write is fine, and so is one split
	 * between two (issue 8): cvt_feed() writes it whole to libvterm.
	 * With 0xff inside it, libvterm's decoders may differ: not drawn.
	 */
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	sim_out(&s, "\r\n$ caf\xc3\xa9");
	sim_keys(&s, "x");
	assert_true(s.pr.shown);
	sim_out(&s, "x\r\n$ caf\xc3");
	sim_out(&s, "\xa9");
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "y");
	assert_true(s.pr.shown);
	/* In three pieces, on the line before (U+0800 on: not there). */
	sim_out(&s, "y\r\n$ \xe2");
	sim_out(&s, "\x82");
	sim_out(&s, "\xac\r\n$ ");
	cvt_cursor(s.srv, &row, &col);
	assert_int_equal(cvt_char(s.srv, row - 1, 2), 0x20ac);
	assert_int_equal(cvt_char(s.term, row - 1, 2), 0x20ac);
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "z");
	assert_true(s.pr.shown);
	sim_out(&s, "z\r\n$ \xe2\xff");
	sim_out(&s, "\x82\xac\r\n$ ");
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "v");
	assert_false(s.pr.shown);
	sim_out(&s, "v\r\n$ ");
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "w");
	assert_true(s.pr.shown);
	sim_out(&s, "w");
	sim_same(&s);
	sim_free(&s);
	/*
	 * ESC ESC 8 is a restore (the second ESC starts over): the saved red
	 * pen is back (fuzz/corpus-predict/esc-esc-restore).
	 */
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	sim_out(&s, "\033[31m\0337\033[0m\r\n\033");
	sim_out(&s, "\0338\033[K\r\n$ ");
	sim_keys(&s, "x");
	assert_false(s.pr.shown);
	sim_out(&s, "x");
	sim_same(&s);
	sim_free(&s);
	/*
	 * A cut one the next piece breaks: held back, it starts a run of
	 * libvterm's high-byte decoder, which keeps it pending past the
	 * ASCII after it; our next key would end it (the campaign's
	 * fuzz/corpus-predict/held-then-broken).
	 */
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	sim_out(&s, "*\xc3\xc3\xc3\xc3\xc3");
	sim_out(&s, "p\r\n");
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "s");
	assert_false(s.pr.shown);
	sim_out(&s, "s");
	sim_same(&s);
	sim_free(&s);
	/* On the alternate screen the full model goes on after one. */
	sim_init(&s, PRED_ALWAYS, 0);
	sim_out(&s, "\033[?1049h");
	assert_true(s.pr.full);
	sim_out(&s, "caf\xc3");
	sim_out(&s, "\xa9\r\nx");
	assert_true(s.pr.full);
	sim_free(&s);
	/* Six-byte forms are pending in libvterm too. */
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	sim_out(&s, "\r\n\xfc\x80\r\n");
	sim_keys(&s, "M");
	assert_false(s.pr.shown);
	sim_out(&s, "M");
	sim_same(&s);
	sim_free(&s);
}

/*
 * A newline after the cursor went up reaches a row with old text on it,
 * which the line model (a blank row and the output since) does not know:
 * nothing is predicted until the rows below are erased or the screen's
 * height of newlines scrolled in blank ones.  Found by the predict fuzzer
 * (fuzz/corpus-predict/newline-onto-old-row).
 */
static void
test_newline_onto_old_row(void **state)
{
	struct sim	s;
	int		i;

	(void)state;
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	sim_out(&s, "\r\nAAAA\r\nBBBB\033[A\r\n");
	sim_keys(&s, "x");
	assert_false(s.pr.shown);
	sim_out(&s, "x");
	sim_same(&s);
	/* Erased below: the next line is known again. */
	sim_out(&s, "\033[J\r\n");
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "y");
	assert_true(s.pr.shown);
	sim_out(&s, "y");
	sim_same(&s);
	/* Or a screen's height of newlines later. */
	sim_out(&s, "\033[H\r\n");
	for (i = 1; i < ROWS; i++) {
		sim_tio(&s, CANON_ECHO, s.in_end);
		sim_keys(&s, "z");
		assert_false(s.pr.shown);
		sim_out(&s, "z\r\n");
	}
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "w");
	assert_true(s.pr.shown);
	sim_out(&s, "w");
	sim_same(&s);
	sim_free(&s);
}

/*
 * ESC # 8 (DECALN) fills every row with E and homes the cursor, so the
 * next line holds old text: the fuzzer's script (finding 24,
 * fuzz/corpus-predict/decaln-old-row) had a LF inside "ESC #" and the
 * next CR LF onto a row of E's, where a key was drawn over an E and the
 * undo erased it (a cell off the cursor's row once the echo moved on).
 * ESC # 3-6 (double height or width) leave the row unknown too.
 */
static void
test_decaln(void **state)
{
	struct sim	s;

	(void)state;
	sim_init(&s, PRED_ALWAYS, CANON_ECHO);
	sim_out(&s, "\033#8\r\n");
	sim_keys(&s, "x");
	assert_false(s.pr.shown);
	sim_out(&s, "x\r\n");
	sim_same(&s);
	/* The same with a LF inside the sequence, as the fuzzer had it. */
	sim_out(&s, "\033[2J\r\n\033#\n8\033p\r\n");
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "y");
	assert_false(s.pr.shown);
	sim_out(&s, "y\r\n");
	sim_same(&s);
	/*
	 * A high byte after ESC # is ignored like one after ESC, and the
	 * escape goes on to the 8 (the campaign's two findings).
	 */
	sim_out(&s, "\033[2J\r\n\033#\n\2028\033p\r\n");
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "u");
	assert_false(s.pr.shown);
	sim_out(&s, "u\r\n");
	sim_same(&s);
	/* A double-width row: nothing drawn on it. */
	sim_out(&s, "\033[2J\r\n\033#6");
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "z");
	assert_false(s.pr.shown);
	sim_out(&s, "z\r\n");
	sim_same(&s);
	/* Erased below and a new line: predicted again. */
	sim_out(&s, "\033[J\r\n");
	sim_tio(&s, CANON_ECHO, s.in_end);
	sim_keys(&s, "w");
	assert_true(s.pr.shown);
	sim_out(&s, "w");
	sim_same(&s);
	sim_free(&s);
}

/*
 * Escape sequences cut between two pieces of output (issue 8): the scan
 * keeps its state across pieces and the models take the rest, so the
 * line after a title, an erase or a DCS cut in two is predicted in its
 * place, and on the alternate screen the full model goes on.
 */
static void
test_escape_split(void **state)
{
	static const char *a[] = { "\033]0;ti", "\033[", "\033P1$r", "\033" };
	static const char *b[] = { "tle\007$ ", "K$ ", "x\033\\$ ",
	    "[K$ " };
	struct sim	 s;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof a / sizeof a[0]; i++) {
		sim_init(&s, PRED_ALWAYS, CANON_ECHO);
		sim_out(&s, "\r\n");
		sim_out(&s, a[i]);
		sim_out(&s, b[i]);
		sim_keys(&s, "x");
		assert_true(s.pr.shown);
		assert_int_equal(sim_at(&s, 1, 2), 'x');
		sim_out(&s, "x");
		sim_same(&s);
		sim_free(&s);
		sim_init(&s, PRED_ALWAYS, 0);
		sim_out(&s, "\033[?1049h");
		sim_out(&s, a[i]);
		sim_out(&s, b[i]);
		assert_true(s.pr.full);
		sim_free(&s);
	}
}

/* A CSI with too many parameters never reaches libvterm (0.1.4 crashes). */
static void
test_poison(void **state)
{
	struct predict	pr;
	const char	*s = "\033[?1049h\033[:::::::::::::::::m";

	(void)state;
	predict_init(&pr, PRED_ALWAYS, ROWS, COLS);
	predict_output(&pr, (const uint8_t *)s, strlen(s), 0);
	assert_false(pr.full);
	assert_true(pr.line_bad);
	s = "\033[?1049l\r\n\033[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18m\r\n";
	predict_output(&pr, (const uint8_t *)s, strlen(s), 0);
	assert_false(pr.line_bad);	/* the line after it is fine */
	predict_free(&pr);
}

/*
 * Marks libvterm 0.1.4 joins and makes two columns wide (it then writes
 * past the row at its last columns) never reach the full model, and a
 * one-column terminal gets a model of two (a wide character crashed it).
 */
static void
test_wide_marks(void **state)
{
	struct predict	pr;
	const char	*s = "\033[?1049h\033[6;29Ha\xe3\x80\xaf"
	    "\033[6;29Hb\xe3\x82\x99";
	struct buf	b;

	(void)state;
	predict_init(&pr, PRED_ALWAYS, ROWS, COLS);
	predict_output(&pr, (const uint8_t *)s, strlen(s), 0);
	assert_false(pr.full);
	predict_free(&pr);
	predict_init(&pr, PRED_ALWAYS, ROWS, 1);
	s = "\033[?1049h\xe4\xb8\xad\xe4\xb8\xad";
	predict_output(&pr, (const uint8_t *)s, strlen(s), 0);
	buf_init(&b, 0);
	predict_keys(&pr, (const uint8_t *)"x", 1, 0, 0, &b);
	predict_show(&pr, 0, &b);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);
	predict_free(&pr);
}

/* The full model on the alternate screen entered with ?1049h. */
static void
test_alt_screen(void **state)
{
	struct sim	s;

	(void)state;
	sim_init(&s, PRED_ALWAYS, 0);
	sim_out(&s, "\033[?1049h\033[H\033[2J\033[3;5H");
	sim_keys(&s, "i");
	sim_out(&s, "i");
	sim_keys(&s, "jk");
	assert_true(s.pr.shown);
	assert_int_equal(sim_at(&s, 2, 5), 'j');
	sim_out(&s, "jk");
	sim_same(&s);
	sim_out(&s, "\033[?1049l");
	sim_keys(&s, "m");
	assert_false(s.pr.shown);
	sim_free(&s);
}

/* --predict's values. */
static void
test_mode(void **state)
{
	(void)state;
	assert_int_equal(cpred_mode(NULL), PRED_ADAPTIVE);
	assert_int_equal(cpred_mode("adaptive"), PRED_ADAPTIVE);
	assert_int_equal(cpred_mode("always"), PRED_ALWAYS);
	assert_int_equal(cpred_mode("never"), PRED_NEVER);
	assert_int_equal(cpred_mode("sometimes"), -1);
}

/* Adaptive: off on a fast link, on after a key waited too long. */
static void
test_adaptive(void **state)
{
	struct sim	s;
	struct buf	b;

	(void)state;
	sim_init(&s, PRED_ADAPTIVE, CANON_ECHO);
	buf_init(&b, 0);
	predict_net(&s.pr, 5, 1, 0, 0, &b);
	assert_false(s.pr.engaged);
	predict_keys(&s.pr, (const uint8_t *)"a", 1, 0, 0, &b);
	s.in_end = 1;
	assert_false(s.pr.shown);
	assert_int_equal(predict_deadline(&s.pr), PRED_GLITCH_MS);
	predict_net(&s.pr, 5, 1, 1, PRED_GLITCH_MS, &b);
	assert_true(s.pr.engaged);
	assert_true(s.pr.shown);
	sim_term(&s, &b);
	sim_free(&s);
}

/* Rows other than the cursor's (all rows with nothing drawn) agree. */
static void
same_rows(struct predict *pr, struct cvt *term, struct cvt *srv)
{
	int		r, c, sr, sc;
	uint32_t	a, b;

	cvt_cursor(srv, &sr, &sc);
	for (r = 0; r < FZ_ROWS; r++)
		for (c = 0; c < FZ_COLS && (r != sr || !pr->shown); c++) {
			a = cvt_cell(term, r, c);
			b = cvt_cell(srv, r, c);
			assert_int_equal(a == ' ' ? CVT_ERASED : a,
			    b == ' ' ? CVT_ERASED : b);
		}
}

/* Session output as the fuzzer feeds it: hide, both terminals, show. */
static void
raw_out(struct predict *pr, struct cvt *term, struct cvt *srv,
    const char *p, uint64_t now)
{
	struct buf	b;

	buf_init(&b, 0);
	predict_hide(pr, &b);
	cvt_feed(term, buf_ptr(&b), buf_len(&b));
	buf_reset(&b);
	cvt_feed(term, p, strlen(p));
	cvt_feed(srv, p, strlen(p));
	predict_output(pr, (const uint8_t *)p, strlen(p), now);
	predict_show(pr, now, &b);
	cvt_feed(term, buf_ptr(&b), buf_len(&b));
	buf_free(&b);
	same_rows(pr, term, srv);
}

/*
 * A high byte inside ESC: libvterm ignores it and the escape goes on, so
 * "ESC \x85 8" restores the cursor in the user's terminal.  The scan
 * ended the escape at the high byte and took the 8 for text, so it missed
 * the restore of the cursor and of the saved pen, and its undo left the
 * terminal with another pen than the session's
 * (fuzz/findings/predict-screen-differs-2 minimized, finding 12; the
 * events below are that script's, as the fuzzer runs them).
 */
static void
test_high_byte_in_escape(void **state)
{
	struct predict	 pr;
	struct cvt	*term, *srv;
	struct buf	 b;

	(void)state;
	predict_init(&pr, PRED_ALWAYS, FZ_ROWS, FZ_COLS);
	pr.line_bad = 0;
	term = cvt_new(FZ_ROWS, FZ_COLS);
	srv = cvt_new(FZ_ROWS, FZ_COLS);
	buf_init(&b, 0);
	raw_out(&pr, term, srv, ":\033", 7);
	raw_out(&pr, term, srv, "\2058", 14);
	predict_keys(&pr, (const uint8_t *)"p\r\377", 3, 0, 21, &b);
	cvt_feed(term, buf_ptr(&b), buf_len(&b));
	buf_reset(&b);
	same_rows(&pr, term, srv);
	predict_net(&pr, 248, 0, 2, 321, &b);
	cvt_feed(term, buf_ptr(&b), buf_len(&b));
	buf_reset(&b);
	same_rows(&pr, term, srv);
	raw_out(&pr, term, srv, "\033", 328);
	raw_out(&pr, term, srv, "p\r\n", 628);
	predict_termios(&pr, CANON_ECHO, 3, 3, 928, &b);
	cvt_feed(term, buf_ptr(&b), buf_len(&b));
	buf_reset(&b);
	same_rows(&pr, term, srv);
	predict_keys(&pr, (const uint8_t *)"s", 1, 3, 935, &b);
	cvt_feed(term, buf_ptr(&b), buf_len(&b));
	buf_reset(&b);
	same_rows(&pr, term, srv);
	/* The end: whatever was drawn goes; the screens and pens agree. */
	predict_drop(&pr, &b);
	cvt_feed(term, buf_ptr(&b), buf_len(&b));
	pr.shown = 0;
	same_rows(&pr, term, srv);
	assert_int_equal(cvt_pen_plain(term), cvt_pen_plain(srv));
	buf_free(&b);
	predict_free(&pr);
	cvt_free(term);
	cvt_free(srv);
}

/* Run the prediction tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_echo),
		cmocka_unit_test(test_prompt_then_stty),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_tentative_epoch),
		cmocka_unit_test(test_contradiction),
		cmocka_unit_test(test_not_predicted),
		cmocka_unit_test(test_alt_screen),
		cmocka_unit_test(test_wide_marks),
		cmocka_unit_test(test_poison),
		cmocka_unit_test(test_utf8_cut),
		cmocka_unit_test(test_c1_in_utf8),
		cmocka_unit_test(test_string_end),
		cmocka_unit_test(test_dcs_query),
		cmocka_unit_test(test_high_byte_in_escape),
		cmocka_unit_test(test_newline_onto_old_row),
		cmocka_unit_test(test_decaln),
		cmocka_unit_test(test_escape_split),
		cmocka_unit_test(test_mode),
		cmocka_unit_test(test_adaptive),
		cmocka_unit_test(test_fresh_prompt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
