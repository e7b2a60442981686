/*
 * libFuzzer target for predictive echo (src/predict.c).  The input is a
 * script of events: keys typed, output from the session (random bytes, or
 * the echo of what was typed, lower or upper case), TERMIOS reports and
 * changes of the link.  Two terminal models follow it: "term" gets every
 * byte the user's terminal would (session output and the prediction
 * machine's draw and undo bytes, in order), "srv" only the session's
 * output.  Checked after every event:
 *
 * - with no prediction drawn, the two screens are equal cell for cell,
 *   with the cursor in the same place and the same pen;
 * - with predictions drawn, every row but the cursor's is equal;
 * - nothing is drawn while the last report said canonical without echo;
 * - after a report that every key has settled, nothing is outstanding
 *   and nothing is drawn.
 *
 * TERMIOS reports carry SHELL and the foreground group (1 or 2) from the
 * op's bits, so epochs that Enter began are drawn at a fresh prompt
 * (predict.c's predict_resumed()) and checked like the rest; the seeds
 * fuzz/corpus-predict/fresh-prompt* reach that rule (a confirmed key, Enter,
 * the shell's report, a key drawn at once; and a password prompt of
 * another group after Enter, where nothing is drawn).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client-vt.h"
#include "predict.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define ROWS	5
#define COLS	16

/* Stop with a crash the fuzzer records. */
#define fuzz_check(e) do {						\
	if (!(e))							\
		__builtin_trap();					\
} while (0)

struct sim {
	struct predict	 pr;
	struct cvt	*term, *srv;
	uint8_t		 typed[4096];	/* keys not yet echoed */
	size_t		 ntyped;
	uint64_t	 in_end;	/* input offset typed so far */
	uint64_t	 echoed;	/* input the "program" has had */
	uint64_t	 now;
	int		 noecho;	/* the last report: canonical, no echo */
	int		 seps;		/* CSI separators so far */
};

/* What the machine wrote goes to the user's terminal. */
static void
sim_term(struct sim *s, struct buf *b)
{
	cvt_feed(s->term, buf_ptr(b), buf_len(b));
	buf_reset(b);
}

/*
 * Session output: hidden, fed to both, drawn again.  At most 8 parameter
 * separators per CSI reach the two libvterm terminals (libvterm 0.1.4
 * crashes past 16; predict.c keeps such output from its own model).  No
 * code point from U+0300 on but U+4000-U+4FFF (three bytes, wide, so
 * characters cut in three pieces and wide cells are fuzzed too), since
 * libvterm joins a combining mark to the last cell written, which after
 * a prediction was taken away is not the cell before the cursor (a
 * known limit: a program whose output starts with a combining mark
 * right after a key was predicted).  No 'b': libvterm
 * 0.1.4 loops forever on a REP (CSI b) with nothing printed before it
 * (fuzz/corpus-predict/rep-first); predict.c keeps REP from its own
 * model, but the two terminals here stand for the user's, which is not
 * libvterm (xterm repeats nothing there).
 */
static void
sim_output(struct sim *s, const uint8_t *in, size_t n)
{
	struct buf	b;
	uint8_t		p[4096];
	size_t		i;

	if (n > sizeof p)
		n = sizeof p;
	for (i = 0; i < n; i++) {
		p[i] = in[i];
		if ((p[i] == ';' || p[i] == ':') && ++s->seps > 8)
			p[i] = '0';
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			p[i] = 0xe4;	/* CJK: wide, never joined */
		else if (p[i] >= 0xcc && p[i] != 0xff)
			p[i] = 0xc3;	/* no other code point from U+0300 on */
		else if (p[i] == 'b')
			p[i] = 'y';	/* no REP */
		else if (p[i] == 0x1b || (p[i] >= 0x40 && p[i] <= 0x7e))
			s->seps = 0;
	}
	buf_init(&b, 0);
	predict_hide(&s->pr, &b);
	sim_term(s, &b);
	cvt_feed(s->term, p, n);
	cvt_feed(s->srv, p, n);
	predict_output(&s->pr, p, n, s->now);
	predict_show(&s->pr, s->now, &b);
	sim_term(s, &b);
	buf_free(&b);
}

/* A cell as the user sees it: a plain space looks like an erased cell. */
static uint32_t
sim_cell(struct cvt *m, int r, int c)
{
	uint32_t	v = cvt_cell(m, r, c);

	return v == ' ' ? CVT_ERASED : v;
}

/* The invariants that hold after every event. */
static void
sim_check(struct sim *s)
{
	int	r, c, tr, tc, sr, sc;

	cvt_cursor(s->srv, &sr, &sc);
	cvt_cursor(s->term, &tr, &tc);
	if (s->noecho)
		fuzz_check(!s->pr.shown);
	for (r = 0; r < ROWS; r++) {
		if (s->pr.shown && r == sr)
			continue;
		for (c = 0; c < COLS; c++)
			fuzz_check(sim_cell(s->term, r, c) ==
			    sim_cell(s->srv, r, c));
	}
	if (s->pr.shown)
		return;
	fuzz_check(tr == sr && tc == sc);
	fuzz_check(cvt_pen_plain(s->term) == cvt_pen_plain(s->srv));
	for (c = 0; c < COLS; c++)
		fuzz_check(sim_cell(s->term, sr, c) == sim_cell(s->srv, sr, c));
}

/* Keys typed. */
static void
sim_keys(struct sim *s, const uint8_t *p, size_t n)
{
	struct buf	b;

	buf_init(&b, 0);
	predict_keys(&s->pr, p, n, s->in_end, s->now, &b);
	sim_term(s, &b);
	buf_free(&b);
	if (n > sizeof s->typed - s->ntyped)
		n = sizeof s->typed - s->ntyped;
	memcpy(s->typed + s->ntyped, p, n);
	s->ntyped += n;
	s->in_end += n;
}

/* The program echoes what was typed (upper-cased with upper). */
static void
sim_echo(struct sim *s, size_t n, int upper)
{
	uint8_t	tmp[4096];
	size_t	i, k = 0;

	if (n > s->ntyped)
		n = s->ntyped;
	for (i = 0; i < n; i++) {
		uint8_t	ch = s->typed[i];

		if (ch == 0x7f)
			memcpy(tmp + k, "\b \b", 3), k += 3;
		else if (ch == '\r')
			memcpy(tmp + k, "\r\n", 2), k += 2;
		else if (ch >= 0x20 && ch < 0x7f)
			tmp[k++] = upper && ch >= 'a' && ch <= 'z' ?
			    ch - 32 : ch;
	}
	memmove(s->typed, s->typed + n, s->ntyped - n);
	s->ntyped -= n;
	s->echoed += n;
	if (k > 0)
		sim_output(s, tmp, k);
}

/*
 * A TERMIOS report, with the foreground process group (1 or 2: the
 * shell or a job), so that a fresh prompt's first key is drawn early.
 */
static void
sim_termios(struct sim *s, int flags, int all, uint32_t group)
{
	struct buf	b;
	uint64_t	settled = all ? s->in_end : s->echoed;

	if (all) {
		s->echoed = s->in_end;
		s->ntyped = 0;
	}
	buf_init(&b, 0);
	predict_group(&s->pr, group);
	predict_termios(&s->pr, flags, s->in_end, settled, s->now, &b);
	sim_term(s, &b);
	buf_free(&b);
	s->noecho = (flags & TIO_ICANON) && !(flags & TIO_ECHO);
	if (all)
		fuzz_check(s->pr.n == 0 && !s->pr.shown);
}

/* Run the script in p. */
int
LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	struct sim	 s;
	struct buf	 b;
	size_t		 i = 0, k;
	uint8_t		 op;

	memset(&s, 0, sizeof s);
	predict_init(&s.pr, PRED_ALWAYS, ROWS, COLS);
	s.term = cvt_new(ROWS, COLS);
	s.srv = cvt_new(ROWS, COLS);
	fuzz_check(s.term != NULL && s.srv != NULL);
	s.pr.line_bad = 0;	/* both start blank, cursor home */
	buf_init(&b, 0);
	while (i < n) {
		op = p[i++];
		k = 1 + (op >> 3) % 8;
		if (k > n - i)
			k = n - i;
		s.now += op & 0x40 ? 300 : 7;
		switch (op & 7) {
		case 0:
		case 1:
			sim_keys(&s, p + i, k);
			i += k;
			break;
		case 2:
			sim_output(&s, p + i, k);
			i += k;
			break;
		case 3:
		case 4:
			sim_echo(&s, k, (op & 7) == 4);
			break;
		case 5:
			sim_termios(&s, (op >> 6) | (op & 0x10 ?
			    TIO_SHELL : 0), (op & 0x20) != 0,
			    1 + ((op >> 3) & 1));
			break;
		default:
			predict_net(&s.pr, (op >> 3) * 8, (op & 0x80) == 0,
			    s.in_end > 0 && (op & 0x20) ? s.in_end - 1 :
			    s.in_end, s.now, &b);
			sim_term(&s, &b);
			break;
		}
		sim_check(&s);
	}
	predict_drop(&s.pr, &b);
	sim_term(&s, &b);
	s.pr.shown = 0;
	sim_check(&s);
	buf_free(&b);
	predict_free(&s.pr);
	cvt_free(s.term);
	cvt_free(s.srv);
	return 0;
}
