/*
 * The client's terminal model for predictive echo (see client-vt.h):
 * libvterm's screen layer, asked for the cursor, single cells and the pen.
 * Cells are reported only as far as prediction can redraw them: a plain
 * ASCII character or an erased cell with default attributes; anything
 * else (colours, wide or combined characters) is CVT_OTHER.
 */
#include <stdlib.h>
#include <string.h>

#include "client-vt.h"
#include "xmalloc.h"

#if defined(HAVE_LIBVTERM)
#include <vterm.h>

/* libvterm 0.1.4 writes a wide character past a one-column row. */
#define CVT_COLS_MIN	2
/* libvterm decodes the old forms of up to six bytes. */
#define CVT_HOLD	6
/* libvterm 0.1.4's parser as far as its strings go (cvt_dcs_guard()). */
#define CP_GROUND	0
#define CP_ESC		1	/* after ESC (and intermediates) */
#define CP_STR		2	/* in an OSC or DCS */
#define CP_STR_ESC	3	/* ESC in one */

struct cvt {
	VTerm		*vt;
	VTermScreen	*scr;
	VTermState	*st;
	int		 rows, cols;
	int		 alt;
	uint8_t		 held[CVT_HOLD];	/* a character cut at the end */
	size_t		 nheld;
	int		 pstate;	/* libvterm's parser, for strings */
	int		 dcs;		/* the string is a DCS */
};

/* Answers the model would send (device attributes...) go nowhere. */
static void
cvt_discard(const char *s, size_t n, void *user)
{
	(void)s;
	(void)n;
	(void)user;
}

/* The model's properties: only the alternate screen matters here. */
static int
cvt_prop(VTermProp prop, VTermValue *val, void *user)
{
	struct cvt	*m = user;

	if (prop == VTERM_PROP_ALTSCREEN)
		m->alt = val->boolean;
	return 1;
}

static const VTermScreenCallbacks cvt_cb = {
	.settermprop = cvt_prop,
};

/* A model of rows x cols, blank, cursor home. */
struct cvt *
cvt_new(int rows, int cols)
{
	struct cvt	*m = xcalloc(1, sizeof *m);

	if (rows < 1)
		rows = 24;
	if (cols < 1)
		cols = 80;
	if (cols < CVT_COLS_MIN)
		cols = CVT_COLS_MIN;
	if ((m->vt = vterm_new(rows, cols)) == NULL) {
		free(m);
		return NULL;
	}
	m->rows = rows;
	m->cols = cols;
	vterm_set_utf8(m->vt, 1);
	vterm_output_set_callback(m->vt, cvt_discard, NULL);
	m->st = vterm_obtain_state(m->vt);
	m->scr = vterm_obtain_screen(m->vt);
	vterm_screen_enable_altscreen(m->scr, 1);
	vterm_screen_set_callbacks(m->scr, &cvt_cb, m);
	vterm_screen_set_damage_merge(m->scr, VTERM_DAMAGE_SCROLL);
	vterm_screen_reset(m->scr, 1);
	return m;
}

/* Free the model. */
void
cvt_free(struct cvt *m)
{
	if (m == NULL)
		return;
	vterm_free(m->vt);
	free(m);
}

/* A new size (the caller treats the contents as unknown afterwards). */
void
cvt_resize(struct cvt *m, int rows, int cols)
{
	if (rows < 1 || cols < 1)
		return;
	if (cols < CVT_COLS_MIN)
		cols = CVT_COLS_MIN;
	if (rows == m->rows && cols == m->cols)
		return;
	vterm_set_size(m->vt, rows, cols);
	m->rows = rows;
	m->cols = cols;
}

/* Blank screen, cursor home, default pen and modes, main screen. */
void
cvt_reset(struct cvt *m)
{
	vterm_screen_reset(m->scr, 1);
	m->alt = 0;
	m->nheld = 0;
}

/*
 * How many bytes at the end of p are a UTF-8 sequence still waiting for
 * continuation bytes (0 if none).
 */
static size_t
cvt_cut(const uint8_t *p, size_t n)
{
	size_t	i, need;
	uint8_t	b;

	for (i = 1; i <= n && i <= CVT_HOLD; i++) {
		b = p[n - i];
		if ((b & 0xc0) == 0x80)
			continue;
		if (b < 0xc0 || b >= 0xfe)
			return 0;
		need = b >= 0xfc ? 6 : b >= 0xf8 ? 5 : b >= 0xf0 ? 4 :
		    b >= 0xe0 ? 3 : 2;
		return i < need ? i : 0;
	}
	return 0;
}

/*
 * The first byte of p[0..n) that may end a C1 control written in UTF-8
 * (U+0080-U+009F) in one of libvterm's decoders, or n.  libvterm 0.1.4
 * gives such a code point width -1 and moves the cursor to column -1,
 * where an erase (ESC [ K) writes through a null pointer: server output
 * crashed the client (reliability.md finding 32).  Only C2 then 80-9F
 * makes one (libvterm refuses overlong forms), but the C2 may wait in a
 * decoder across controls, ASCII and writes (a run of text starts a
 * decoder of its own by its first byte, vt.c's vt_guard_text()), so any
 * 80-9F after C2, after a byte under 0x80 or first in a write is taken;
 * one after another high byte belongs to that byte's sequence.
 */
static size_t
cvt_c1_at(const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (p[i] >= 0x80 && p[i] <= 0x9f &&
		    (i == 0 || p[i - 1] < 0x80 || p[i - 1] == 0xc2))
			return i;
	return n;
}

/*
 * Make each such byte 0xa0: a pending C2 then ends as U+00A0, a blank
 * (as the daemon's model does, vt.c), any other sequence as the stray
 * byte it was.
 */
static void
cvt_c1_blank(uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (p[i] >= 0x80 && p[i] <= 0x9f &&
		    (i == 0 || p[i - 1] < 0x80 || p[i - 1] == 0xc2))
			p[i] = 0xa0;
}

/*
 * libvterm 0.1.4 answers an unknown DECRQSS ("DCS $ q x ST") with a format
 * that reads a wild pointer in the sanitized builds (reliability.md
 * finding 37; vt.c does the same for the daemon's model): follow its
 * parser through ESC, strings and their ends (parser.c: intermediates
 * and high bytes keep it after the ESC, "P" then starts a DCS; a C0
 * control inside a string, or after an ESC in one, leaves the state
 * alone; BEL, ESC \, CAN and SUB end the string; ESC and another byte
 * leave it for a new escape) and make each "$" in a DCS a "!".  The
 * models' answers go nowhere and a DCS draws nothing: same screen.
 */
static void
cvt_dcs_guard(struct cvt *m, uint8_t *p, size_t n)
{
	size_t	i;
	uint8_t	b;

	for (i = 0; i < n; i++) {
		b = p[i];
		if (b == 0x18 || b == 0x1a)
			m->pstate = CP_GROUND;
		else if (b == 0x1b)
			m->pstate = m->pstate == CP_STR ? CP_STR_ESC : CP_ESC;
		else if (b == 0x07 && m->pstate == CP_STR)
			m->pstate = CP_GROUND;
		else if (b < 0x20 || b == 0x7f)
			continue;
		else if (m->pstate == CP_STR) {
			if (m->dcs && b == '$')
				p[i] = '!';
		} else if (m->pstate == CP_STR_ESC && b == '\\')
			m->pstate = CP_GROUND;
		else if (m->pstate == CP_ESC || m->pstate == CP_STR_ESC) {
			m->pstate = CP_ESC;
			if (b == 'P' || b == ']') {
				m->pstate = CP_STR;
				m->dcs = b == 'P';
			} else if (b > 0x2f && b < 0x80)
				m->pstate = CP_GROUND;	/* a high byte: no */
		}
	}
}

/*
 * Feed output bytes.  A character cut at the end is held back and written
 * with the next bytes: libvterm 0.1.4 decodes a run that starts with a
 * high byte with another decoder than one that starts with ASCII, and
 * neither ends what the other holds, so a character split between two
 * writes (two reads of the session's output) came out as U+FFFD, where
 * a terminal shows it whole (as vt_feed() does for the daemon's model,
 * reliability.md finding 11).  The models see the stream as one write.
 */
void
cvt_feed(struct cvt *m, const void *p, size_t n)
{
	const uint8_t	*s = p;
	uint8_t		*tmp = NULL;
	size_t		 k;

	if (n == 0)
		return;
	if (m->nheld > 0) {
		tmp = xmalloc(m->nheld + n + 1);
		memcpy(tmp, m->held, m->nheld);
		memcpy(tmp + m->nheld, p, n);
		s = tmp;
		n += m->nheld;
		m->nheld = 0;
	}
	if ((k = cvt_cut(s, n)) > 0) {
		memcpy(m->held, s + n - k, k);	/* k < CVT_HOLD */
		m->nheld = k;
		n -= k;
	}
	if (n == 0) {
		free(tmp);
		return;
	}
	/*
	 * A NUL after the bytes: libvterm 0.1.4 reads an OSC's or DCS's last
	 * piece past the end of the write, up to a NUL or 64 bytes, at an
	 * ST after an ESC and a control or at one cut between two writes
	 * (reliability.md finding 31; vt.c keeps it away from the daemon's
	 * model, here only the read matters).
	 */
	if (tmp == NULL) {
		tmp = xmalloc(n + 1);
		memcpy(tmp, s, n);
	}
	tmp[n] = '\0';
	if (cvt_c1_at(tmp, n) < n)
		cvt_c1_blank(tmp, n);
	cvt_dcs_guard(m, tmp, n);
	vterm_input_write(m->vt, (const char *)tmp, n);
	free(tmp);
}

/* The cursor, 0-based. */
void
cvt_cursor(const struct cvt *m, int *row, int *col)
{
	VTermPos	pos;

	vterm_state_get_cursorpos(m->st, &pos);
	*row = pos.row;
	*col = pos.col;
}

/* Whether attributes and colours of a cell are the defaults. */
static int
cvt_plain_cell(const VTermScreenCell *c)
{
	return !c->attrs.bold && !c->attrs.underline && !c->attrs.italic &&
	    !c->attrs.blink && !c->attrs.reverse && !c->attrs.strike &&
	    !c->attrs.font && !c->attrs.dwl && !c->attrs.dhl &&
	    VTERM_COLOR_IS_DEFAULT_FG(&c->fg) &&
	    VTERM_COLOR_IS_DEFAULT_BG(&c->bg);
}

/* The cell at row, col: CVT_ERASED, a plain ASCII byte, or CVT_OTHER. */
uint32_t
cvt_cell(const struct cvt *m, int row, int col)
{
	VTermScreenCell	c;
	VTermPos	pos;

	if (row < 0 || col < 0 || row >= m->rows || col >= m->cols)
		return CVT_OTHER;
	pos.row = row;
	pos.col = col;
	if (!vterm_screen_get_cell(m->scr, pos, &c) || !cvt_plain_cell(&c) ||
	    c.width != 1)
		return CVT_OTHER;
	if (c.chars[0] == 0)
		return CVT_ERASED;
	if (c.chars[0] < 0x20 || c.chars[0] > 0x7e || c.chars[1] != 0)
		return CVT_OTHER;
	return c.chars[0];
}

/* The character at row, col whatever its attributes (0: none). */
uint32_t
cvt_char(const struct cvt *m, int row, int col)
{
	VTermScreenCell	c;
	VTermPos	pos;

	pos.row = row;
	pos.col = col;
	if (row < 0 || col < 0 || row >= m->rows || col >= m->cols ||
	    !vterm_screen_get_cell(m->scr, pos, &c))
		return 0;
	return c.chars[0];
}

/* Whether what the program writes next would be drawn plain. */
int
cvt_pen_plain(const struct cvt *m)
{
	VTermValue	v;
	static const VTermAttr flags[] = { VTERM_ATTR_BOLD,
	    VTERM_ATTR_UNDERLINE, VTERM_ATTR_ITALIC, VTERM_ATTR_BLINK,
	    VTERM_ATTR_REVERSE, VTERM_ATTR_STRIKE, VTERM_ATTR_FONT };
	size_t		i;

	for (i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		memset(&v, 0, sizeof v);
		if (vterm_state_get_penattr(m->st, flags[i], &v) &&
		    v.number != 0)
			return 0;
	}
	if (vterm_state_get_penattr(m->st, VTERM_ATTR_FOREGROUND, &v) &&
	    !VTERM_COLOR_IS_DEFAULT_FG(&v.color))
		return 0;
	if (vterm_state_get_penattr(m->st, VTERM_ATTR_BACKGROUND, &v) &&
	    !VTERM_COLOR_IS_DEFAULT_BG(&v.color))
		return 0;
	return 1;
}

/* Whether the model is on the alternate screen. */
int
cvt_alt(const struct cvt *m)
{
	return m->alt;
}

/* The model's size. */
void
cvt_size(const struct cvt *m, int *rows, int *cols)
{
	*rows = m->rows;
	*cols = m->cols;
}

#else /* !HAVE_LIBVTERM */

/* No libvterm: no model, so nothing is ever predicted. */
struct cvt *
cvt_new(int rows, int cols)
{
	(void)rows;
	(void)cols;
	return NULL;
}

/* Never called without a model: the rest only satisfy the linker. */
void
cvt_free(struct cvt *m)
{
	(void)m;
}

void
cvt_resize(struct cvt *m, int rows, int cols)
{
	(void)m;
	(void)rows;
	(void)cols;
}

void
cvt_reset(struct cvt *m)
{
	(void)m;
}

void
cvt_feed(struct cvt *m, const void *p, size_t n)
{
	(void)m;
	(void)p;
	(void)n;
}

void
cvt_cursor(const struct cvt *m, int *row, int *col)
{
	(void)m;
	*row = *col = 0;
}

uint32_t
cvt_cell(const struct cvt *m, int row, int col)
{
	(void)m;
	(void)row;
	(void)col;
	return CVT_OTHER;
}

uint32_t
cvt_char(const struct cvt *m, int row, int col)
{
	(void)m;
	(void)row;
	(void)col;
	return 0;
}

int
cvt_pen_plain(const struct cvt *m)
{
	(void)m;
	return 0;
}

int
cvt_alt(const struct cvt *m)
{
	(void)m;
	return 0;
}

void
cvt_size(const struct cvt *m, int *rows, int *cols)
{
	(void)m;
	*rows = *cols = 0;
}

#endif
