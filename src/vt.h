/*
 * A model of a terminal screen, fed the bytes a program writes: cells,
 * colours, cursor, modes, title, and the lines that scrolled off the top.
 * It wraps a terminal-emulation library (libvterm) so that nothing else
 * sees it, and renders the state back as the escape sequences that
 * rebuild it on a terminal.
 */
#ifndef LIMPET_VT_H
#define LIMPET_VT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct vt;

/* One cell as the model has it (for tests and for readers of the screen). */
#define VT_CHARS	6
struct vt_cell {
	uint32_t	ch[VT_CHARS];	/* code points, 0-ended; 0: erased */
	int		width;		/* 1, or 2 for a wide character */
	unsigned	attrs;		/* VT_BOLD ... */
	uint32_t	fg, bg;		/* VT_COLOR_* in the top byte */
};
#define VT_BOLD		0x01
#define VT_ITALIC	0x02
#define VT_BLINK	0x04
#define VT_REVERSE	0x08
#define VT_STRIKE	0x10
#define VT_UNDERLINE(a)	(((a) >> 8) & 3)
#define VT_COLOR_DEFAULT 0x00000000	/* the terminal's own */
#define VT_COLOR_INDEX	0x01000000	/* palette index in the low byte */
#define VT_COLOR_RGB	0x02000000	/* 0xRRGGBB in the low bytes */

/* vt_render() flags. */
#define VT_SCROLLBACK	0x01	/* lines that scrolled off, first */
#define VT_CLEAR	0x02	/* clear the screen first (not scroll it) */

struct vt	*vt_new(int, int, size_t);
void		 vt_free(struct vt *);
void		 vt_feed(struct vt *, const uint8_t *, size_t);
void		 vt_resize(struct vt *, int, int);
void		 vt_reset(struct vt *);
void		 vt_size(const struct vt *, int *, int *);
void		 vt_set_tag(struct vt *, uint64_t);
int		 vt_render(struct vt *, struct buf *, uint64_t, int);
int		 vt_render_row(struct vt *, int, struct buf *);
size_t		 vt_sb_lines(const struct vt *);
size_t		 vt_sb_bytes(const struct vt *);
int		 vt_alt(const struct vt *);
int		 vt_cell(const struct vt *, int, int, struct vt_cell *);
void		 vt_cursor(const struct vt *, int *, int *);
void		 vt_pen(const struct vt *, struct vt_cell *);
unsigned	 vt_modes(const struct vt *);
void		 vt_region(const struct vt *, unsigned *, unsigned *);
const char	*vt_title(const struct vt *);

/*
 * An idle model may sleep: libvterm freed, its state kept as the bytes
 * that rebuild it.  Every function above that changes or renders the
 * model wakes it first; vt_cell() and the other readers want it awake.
 */
int		 vt_sleep(struct vt *);
void		 vt_wake(struct vt *);
size_t		 vt_asleep(const struct vt *);

#endif
