/*
 * Predictive local echo: the state machine, without the client around it.
 * It takes the keys typed (with their input offsets), the session's output,
 * the daemon's TERMIOS reports and the link's state, and writes into a
 * buffer the bytes that draw predictions on the user's terminal and take
 * them away again.  Before any session output (or local text) reaches the
 * terminal the predictions are taken away (predict_hide), so the terminal
 * only ever shows the session's own output plus, between pieces of it,
 * predicted cells on the cursor's row that the model knows how to restore.
 * docs/ARCHITECTURE.md ("Predictive echo") has the rules.
 */
#ifndef LIMPET_PREDICT_H
#define LIMPET_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PRED_NEVER	0
#define PRED_ADAPTIVE	1
#define PRED_ALWAYS	2

#define PRED_MAX	256	/* predictions outstanding at once */
#define PRED_LINE_MAX	1024	/* output since the last newline kept */
#define PRED_PASTE	100	/* keys read at once: a paste */
#define PRED_SRTT_ON	30	/* adaptive: show above this RTT (ms) */
#define PRED_SRTT_OFF	20	/* ... until it is back under this */
#define PRED_FLAG_ON	80	/* underline above this RTT */
#define PRED_FLAG_OFF	50
#define PRED_GLITCH_MS	250	/* a key waiting this long turns it on */
#define PRED_GLITCH_HOLD (10 * 1000)
#define PRED_BUDGET	(32 * 1024)	/* alt-screen model bytes a second */
#define PRED_COLS_MAX	1024
#define PRED_CSI_ARGS	12	/* more separators: kept from libvterm */

struct cvt;

struct pitem {
	uint8_t		 kind;		/* PK_* */
	uint8_t		 ch;
	uint8_t		 append;	/* a CHAR over an erased cell */
	int		 row, col;	/* where it acts */
	uint64_t	 off;		/* input offset of its key */
	uint64_t	 brk;		/* input offset after the last break */
	uint64_t	 epoch;
	uint64_t	 gen;		/* model generation it was made in */
	uint64_t	 made;
};

struct predict {
	int		 mode;
	struct cvt	*vt;
	int		 rows, cols;

	int		 tio;		/* TIO_* from the daemon, -1 unknown */
	uint64_t	 tio_written;
	int		 quiet_seen;	/* a TIO_QUIET report came */
	uint64_t	 quiet_written;	/* the written of the last one */
	uint64_t	 settled;
	uint32_t	 group;		/* the PTY's foreground group, 0 */

	uint64_t	 srtt;
	uint64_t	 rtt, rtt_at;	/* the client's PONG samples, smoothed */
	int		 up;		/* in contact */
	uint64_t	 sent;		/* input offset sent so far */
	int		 engaged, flagging;
	uint64_t	 glitch_until;

	/* The output stream's scan. */
	int		 ps;		/* parser state */
	int		 csi_priv;
	int		 csi_nz;	/* the CSI has a nonzero parameter */
	int		 csi_n;		/* its parameter separators */
	int		 unsure;	/* after a malformed sequence */
	int		 esc_odd;	/* a high byte inside this escape */
	int		 pen_odd;	/* the last SGR set something */
	int		 cs_g0_odd;	/* G0 is not ASCII (ESC ( 0 ...) */
	int		 cs_shift;	/* SO, LS2 or LS3: GL is not G0 */
	uint8_t		 esc_inter;	/* the first intermediate of an ESC */
	unsigned	 csi_p;		/* first CSI parameter */
	int		 utf8_left;
	uint32_t	 utf8_cp;
	int		 utf8_cut;	/* a control came while it was pending */
	int		 utf8_maybe;	/* a terminal may hold one pending */
	int		 utf8_odd;	/* 0xfe/0xff came while it was pending */
	int		 utf8_held;	/* cut at a piece's end: held back */
	int		 run_start;	/* the next text surely starts a run */
	int		 above;		/* rows below the cursor may hold text */
	int		 nl_since;	/* newlines since, up to rows */
	int		 prev_cr;
	uint8_t		 line[PRED_LINE_MAX];	/* output since the last \n */
	size_t		 linelen;
	int		 line_bad;	/* the line model cannot be trusted */
	int		 alt;		/* the output switched to the alt screen */
	int		 toowide;	/* more columns than the model keeps */
	int		 full;		/* alt screen, model fed since its start */
	uint64_t	 fed, fed_since;	/* budget of the full model */
	int		 dirty;		/* output since the model was built */
	uint64_t	 gen;

	struct pitem	 it[PRED_MAX];
	int		 n;
	uint64_t	 epoch, confirmed;
	uint64_t	 cr_epoch;	/* an epoch begun by Enter */
	int		 conf_tio;	/* tio and group when an epoch */
	uint32_t	 conf_group;	/* ... was last confirmed */
	uint64_t	 brk;		/* just past the last epoch break */
	int		 ecol0;		/* this epoch's first column, -1 */

	/* What is on the screen now (predict_hide takes it away). */
	int		 shown;
	int		 scm, sfrom, sto, scp;
	uint32_t	 saved[PRED_COLS_MAX];

	unsigned long	 n_made, n_ok, n_wrong, n_shown;
};

#define PK_CHAR		1
#define PK_ERASE	2
#define PK_LEFT		3
#define PK_RIGHT	4

void	predict_init(struct predict *, int, int, int);
void	predict_free(struct predict *);
void	predict_resize(struct predict *, int, int, struct buf *);
void	predict_keys(struct predict *, const uint8_t *, size_t, uint64_t,
	    uint64_t, struct buf *);
void	predict_hide(struct predict *, struct buf *);
void	predict_output(struct predict *, const uint8_t *, size_t, uint64_t);
void	predict_show(struct predict *, uint64_t, struct buf *);
void	predict_termios(struct predict *, int, uint64_t, uint64_t,
	    uint64_t, struct buf *);
void	predict_group(struct predict *, uint32_t);
void	predict_net(struct predict *, uint64_t, int, uint64_t, uint64_t,
	    struct buf *);
void	predict_interfere(struct predict *, struct buf *);
void	predict_drop(struct predict *, struct buf *);
uint64_t predict_deadline(const struct predict *);
int	predict_never(const struct predict *);

#endif
