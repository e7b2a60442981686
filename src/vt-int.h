/*
 * The screen model's insides (vt.c), shared with its sleep and wake
 * (vt-sleep.c): nothing else includes this.
 */
#ifndef LIMPET_VT_INT_H
#define LIMPET_VT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <vterm.h>

#include "buf.h"
#include "client-screen.h"
#include "ring.h"

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
#define VT_ARG_MISSING	0x7fffffffU	/* libvterm's CSI_ARG_MISSING */
#define VT_ARG_MASK	0x7fffffffU	/* and CSI_ARG_MASK */
#define G_GROUND	0
#define G_ESC		1
#define G_CSI		2
#define G_ESCI		3	/* ESC and intermediates */
#define VT_NOTE_PARAMS	(VT_CSI_SEPS + 1)	/* as libvterm gets them */
/* libvterm 0.1.4's parser states, as far as its decoders care. */
#define LV_TEXT		0
#define LV_ESC		1
#define LV_CSI_LEAD	2
#define LV_CSI_ARGS	3
#define LV_CSI_INTER	4
#define LV_STR		5	/* an OSC or DCS string */
#define LV_STR_ESC	6	/* ESC in a string */
#define LV_DECODERS	5	/* G0-G3's, then the one for high bytes */
#define LV_HIGH		4

/* One of libvterm's decoders: a UTF-8 sequence pending, or a 94-set. */
struct vt_dec {
	int		table;	/* a 94-set's final ("ESC ( 0"), or 0 */
	int		left, total;	/* bytes to come, in all */
	uint32_t	cp;
};

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
	uint64_t	 gparam[VT_CSI_SEPS + 1];	/* as libvterm's */
	int		 gnparam;
	uint32_t	 gmore;		/* parameter i followed by ':' */
	uint8_t		 glead, gfinal;	/* the CSI's leader, final */
	int		 gbad;		/* no mode set or reset (vt_split()) */
	int		 gsplit;	/* the modes past the first to set */
	int		 grestore;	/* a saved cursor restored (vt_feed()) */
	int		 hasalt;	/* the alternate screen is made */
	uint8_t		 gprev;
	int		 gosc;		/* in an OSC: 1, just after ESC: 2 */
	int		 prows, pcols;	/* a resize waiting (vt_resize()) */
	int		 oschold;	/* held[] starts with an open OSC */
	uint8_t		 gout[VT_GUARD_CHUNK + VT_OSC_HELD];
	uint8_t		 held[VT_OSC_HELD];	/* a cut character or OSC */
	size_t		 nheld;

	/* libvterm's parser and decoders, on what it is given (vt_write()). */
	int		 lvstate;
	int		 lvesc;		/* an ESC in a string not given yet */
	int		 lvdcs;		/* the string is a DCS */
	int		 lvinter;	/* intermediates after ESC */
	uint8_t		 lvinter0;	/* the first one */
	int		 lvgl, lvsingle;	/* G set in GL; a single shift */
	int		 lvrun;		/* the text run's decoder, or -1 */
	int		 lvgr;		/* its first byte's high bit */
	size_t		 lvcps, lveaten;	/* code points, bytes in the run */
	struct vt_dec	 lvdec[LV_DECODERS];

	/* Asleep (vt_sleep()): no libvterm, the bytes that rebuild it. */
	uint8_t		*image;
	size_t		 nimage;
	unsigned	 hmodes;	/* VH_*: modes a rebuild cannot keep */
	int		 nstate;	/* vt_note()'s parser */
	int		 nlead, ninter, nprev, nparams;
	uint64_t	 nparam[VT_NOTE_PARAMS];	/* as libvterm's */
	int		 waking;	/* no scrollback while rebuilding */
};

extern const VTermScreenCallbacks vt_callbacks;

void	vt_discard(const char *, size_t, void *);
void	vt_utf8(struct buf *, uint32_t);
int	vt_combining(uint32_t);
void	vt_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	vt_sgr(struct buf *, const VTermScreenCellAttrs *, const VTermColor *,
	    const VTermColor *);
int	vt_same_pen(const VTermScreenCell *, const VTermScreenCell *);
void	vt_fix_row(VTermScreenCell *, int);
void	vt_cells(struct buf *, const VTermScreenCell *, int);
void	vt_load_raw(struct vt *, int);
struct vt_arena;
void	vt_term_new(struct vt *, struct vt_arena *);
void	vt_sb_get(const struct vt *, uint64_t, void *, size_t);
void	vt_note(struct vt *, const uint8_t *, size_t);
int	vt_lv_clean(const struct vt *);

#endif
