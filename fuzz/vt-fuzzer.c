/*
 * libFuzzer target for the screen model (src/vt.c) and the daemon's
 * snapshot.  The input is a size byte (rows, cols), a split seed (two
 * bytes) and then the program's output.  The output is fed to a model in
 * chunks the seed chooses, with a resize now and then; then the snapshot
 * (vt_render(), with scrollback) is fed to a fresh model of the same size,
 * which must show the same thing: every cell (characters, width, colours
 * and attributes; an erased cell and a space are alike, and so are the
 * attributes of blank cells and of the right halves of wide characters,
 * which no terminal shows), the cursor, the pen, the modes, the scroll
 * region and the title.  A row's repaint and a reset must not crash
 * either.  Last, the modes the mode tracker (client-screen.c) read from
 * the stream must be those libvterm, fed the same bytes, has: cursor
 * keys, keypad, bracketed paste and focus as libvterm answers keys, a
 * paste and a focus change, the scroll region as it answers DECRQSS (the
 * tracker has to parse sequences as libvterm does: reliability.md
 * findings 33 and 34).  The mouse is left out: the tracker follows xterm
 * for mode 9, which libvterm does not know.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client-screen.h"
#include "vt.h"
#include "vt-int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a crash the fuzzer records, saying which check failed. */
#define fuzz_check(e) do {						\
	if (!(e)) {							\
		fprintf(stderr, "vt-fuzzer: %d: %s\n", __LINE__, #e);	\
		__builtin_trap();					\
	}								\
} while (0)

/* Chunk sizes the split seed picks from. */
static const size_t fuzz_chunks[] = { 1, 3, 7, 64, 512, 4096 };

/* Next pseudo-random number from the split seed (xorshift32). */
static uint32_t
fuzz_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Whether a cell shows nothing but its background. */
static int
fuzz_blank(const struct vt_cell *c)
{
	return (c->ch[0] == 0 || c->ch[0] == ' ') && c->ch[1] == 0;
}

/* Whether two cells look the same. */
static int
fuzz_same(const struct vt_cell *a, const struct vt_cell *b)
{
	struct vt_cell	t;

	if (b->ch[0] == ' ' && a->ch[0] != ' ' && a->ch[0] > 0x7f) {
		/* A lone combining mark is drawn on a space. */
		t = *b;
		memmove(t.ch, t.ch + 1, sizeof t.ch - sizeof t.ch[0]);
		t.ch[VT_CHARS - 1] = 0;
		if (memcmp(a->ch, t.ch, sizeof t.ch) == 0)
			return a->width == b->width && a->attrs == b->attrs &&
			    a->fg == b->fg && a->bg == b->bg;
	}
	int	ra = (a->attrs & VT_REVERSE) != 0;
	int	rb = (b->attrs & VT_REVERSE) != 0;

	if (a->ch[0] == (uint32_t)-1 && b->ch[0] == (uint32_t)-1)
		return 1;	/* the right halves of wide characters */
	if (fuzz_blank(a) && fuzz_blank(b))
		return a->bg == b->bg && ra == rb && (!ra || a->fg == b->fg);
	return memcmp(a->ch, b->ch, sizeof a->ch) == 0 &&
	    a->width == b->width && a->attrs == b->attrs &&
	    a->fg == b->fg && a->bg == b->bg;
}

/*
 * Render a, feed it to a fresh model and, with check, compare every cell
 * of every row, the cursor, the pen, the modes, the scroll region, the
 * title and the screen in use.
 */
static void
fuzz_rebuild(struct vt *a, int check)
{
	struct vt	*b;
	struct buf	 out;
	struct vt_cell	 ca, cb;
	int		 rows, cols, r, c, ra, ca_, rb, cb_;
	unsigned	 ta, ba, tb, bb;

	vt_size(a, &rows, &cols);
	b = vt_new(rows, cols, 1 << 16);
	buf_init(&out, BUF_MAX_DEFAULT);
	fuzz_check(vt_render(a, &out, 0, VT_SCROLLBACK) == 0);
	vt_feed(b, buf_ptr(&out), buf_len(&out));
	for (r = 0; check && r < rows; r++)
		for (c = 0; c < cols; c++) {
			vt_cell(a, r, c, &ca);
			vt_cell(b, r, c, &cb);
			if (!fuzz_same(&ca, &cb))
				fprintf(stderr, "cell %d,%d: %x/%x w%d/%d "
				    "a%x/%x fg%x/%x bg%x/%x\n", r, c,
				    ca.ch[0], cb.ch[0], ca.width, cb.width,
				    ca.attrs, cb.attrs, ca.fg, cb.fg, ca.bg,
				    cb.bg);
			fuzz_check(fuzz_same(&ca, &cb));
		}
	if (check) {
		vt_cursor(a, &ra, &ca_);
		vt_cursor(b, &rb, &cb_);
		fuzz_check(ra == rb && ca_ == cb_);
		vt_pen(a, &ca);
		vt_pen(b, &cb);
		fuzz_check(memcmp(&ca, &cb, sizeof ca) == 0);
		/*
		 * SM_MOUSE means "reset the mouse at exit" and stays after an
		 * encoding alone was turned off ("ESC [ ? 1006 h", then l), which
		 * a repaint has nothing to say about: it may be lost, not made.
		 */
		if ((vt_modes(a) & ~SM_MOUSE) != (vt_modes(b) & ~SM_MOUSE))
			fprintf(stderr, "modes %x / %x\n", vt_modes(a),
			    vt_modes(b));
		fuzz_check((vt_modes(a) & ~SM_MOUSE) ==
		    (vt_modes(b) & ~SM_MOUSE));
		fuzz_check(!(vt_modes(b) & SM_MOUSE) ||
		    (vt_modes(a) & SM_MOUSE));
		vt_region(a, &ta, &ba);
		vt_region(b, &tb, &bb);
		fuzz_check(ta == tb && ba == bb);
		if (strcmp(vt_title(a), vt_title(b)) != 0)
			fprintf(stderr, "title \"%s\" / \"%s\"\n",
			    vt_title(a), vt_title(b));
		fuzz_check(strcmp(vt_title(a), vt_title(b)) == 0);
	}
	buf_reset(&out);
	fuzz_check(vt_render_row(a, rows - 1, &out) == 0);
	buf_free(&out);
	vt_free(b);
}

/* libvterm's answers, caught (fuzz_answer()). */
static char	fuzz_out[256];
static size_t	fuzz_nout;

/*
 * libvterm's output callback while it is asked: C1 controls (after "ESC
 * SP G" it answers with them) are written as ESC and a byte, as they are
 * asked for.
 */
static void
fuzz_catch(const char *s, size_t len, void *user)
{
	size_t	i;
	uint8_t	c;

	(void)user;
	for (i = 0; i < len && fuzz_nout + 2 < sizeof fuzz_out; i++) {
		c = (uint8_t)s[i];
		if (c >= 0x80 && c < 0xa0) {
			fuzz_out[fuzz_nout++] = '\033';
			c -= 0x40;
		}
		fuzz_out[fuzz_nout++] = (char)c;
	}
	fuzz_out[fuzz_nout] = '\0';
}

/* Start catching libvterm's answers. */
static void
fuzz_ask(struct vt *v)
{
	fuzz_nout = 0;
	fuzz_out[0] = '\0';
	vterm_output_set_callback(v->vt, fuzz_catch, NULL);
}

/* Whether libvterm answered s (and stop catching). */
static int
fuzz_answer(struct vt *v, const char *s)
{
	vterm_output_set_callback(v->vt, vt_discard, NULL);
	if (strcmp(fuzz_out, s) != 0)
		fprintf(stderr, "libvterm answered \"%s\", the tracker says "
		    "\"%s\"\n", fuzz_out + (fuzz_out[0] == '\033'),
		    s + (s[0] == '\033'));
	return strcmp(fuzz_out, s) == 0;
}

/*
 * The tracker's modes against libvterm's own, asked of the model's
 * libvterm once CAN has ended whatever sequence the stream left open
 * (the model takes the CAN as any byte, so the guard agrees).
 */
static void
fuzz_modes(struct vt *v)
{
	unsigned	m, top, bot;
	int		rows, cols;
	char		want[64];

	vt_feed(v, (const uint8_t *)"\030", 1);
	m = vt_modes(v);
	fuzz_ask(v);
	vterm_keyboard_key(v->vt, VTERM_KEY_UP, VTERM_MOD_NONE);
	fuzz_check(fuzz_answer(v, (m & SM_CKM) ? "\033OA" : "\033[A"));
	fuzz_ask(v);
	vterm_keyboard_key(v->vt, VTERM_KEY_KP_0, VTERM_MOD_NONE);
	fuzz_check(fuzz_answer(v, (m & SM_KEYPAD) ? "\033Op" : "0"));
	fuzz_ask(v);
	vterm_keyboard_start_paste(v->vt);
	vterm_keyboard_end_paste(v->vt);
	fuzz_check(fuzz_answer(v, (m & SM_PASTE) ? "\033[200~\033[201~" :
	    ""));
	fuzz_ask(v);
	vterm_state_focus_in(v->st);
	fuzz_check(fuzz_answer(v, (m & SM_FOCUS) ? "\033[I" : ""));
	vt_size(v, &rows, &cols);
	vt_region(v, &top, &bot);
	if (top == 0)
		top = 1;
	snprintf(want, sizeof want, "\033P1$r%u;%ur\033\\", top,
	    bot == 0 ? (unsigned)rows : bot);
	fuzz_ask(v);
	vterm_input_write(v->vt, "\033P$qr\033\\", 7);
	fuzz_check(fuzz_answer(v, want));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vt	*a;
	uint32_t	 seed;
	size_t		 off = 0, n;
	int		 rows, cols;

	if (size < 3)
		return 0;
	rows = 1 + (data[0] & 0x0f);
	cols = 2 + (data[0] >> 4) * 5;
	seed = ((uint32_t)data[1] << 8 | data[2]) | 1;
	data += 3;
	size -= 3;
	a = vt_new(rows, cols, 4096);
	while (off < size) {
		n = fuzz_chunks[fuzz_rand(&seed) % (sizeof fuzz_chunks /
		    sizeof fuzz_chunks[0])];
		if (n > size - off)
			n = size - off;
		vt_set_tag(a, off);
		vt_feed(a, data + off, n);
		off += n;
		if (fuzz_rand(&seed) % 16 == 0)
			vt_resize(a, 1 + fuzz_rand(&seed) % 20,
			    2 + fuzz_rand(&seed) % 90);
	}
	fuzz_rebuild(a, 1);
	fuzz_modes(a);
	vt_reset(a);
	fuzz_rebuild(a, 1);
	vt_free(a);
	return 0;
}
