/*
 * What the client needs to know about the screen to draw its notice, take
 * it away without damage and leave the terminal as it found it, learned
 * cheaply from the output stream: the bytes of the cursor's line, the
 * terminal modes the program changed (alternate screen, keypad, cursor,
 * mouse, bracketed paste, scroll region), and (asked of the terminal) the
 * cursor's row.
 */
#ifndef LIMPET_CLIENT_SCREEN_H
#define LIMPET_CLIENT_SCREEN_H

#include <stddef.h>
#include <stdint.h>

#define SCREEN_LINE_MAX	1024
#define SCREEN_TAIL	512
#define SCREEN_PARAMS	16	/* libvterm 0.1.4's CSI arguments */

/* Modes a program may leave set; each bit means "changed from default". */
#define SM_ALT		0x01	/* alternate screen */
#define SM_CKM		0x02	/* application cursor keys (?1) */
#define SM_KEYPAD	0x04	/* application keypad (ESC =) */
#define SM_HIDDEN	0x08	/* cursor invisible (?25 l) */
#define SM_MOUSE	0x10	/* any mouse reporting */
#define SM_PASTE	0x20	/* bracketed paste (?2004) */
#define SM_REGION	0x40	/* a scroll region (DECSTBM) */
#define SM_FOCUS	0x80	/* focus events (?1004) */

struct screen {
	uint8_t		line[SCREEN_LINE_MAX];	/* output since the last \n */
	size_t		linelen;
	int		line_long;	/* more than fits: cannot repaint */
	int		alt;		/* the program is on the alternate screen */
	int		alt_unknown;	/* attached mid-stream: may be */
	unsigned	modes;		/* SM_* set by the program */
	int		pstate;		/* escape sequence parser state */
	int		priv;		/* CSI with '?' (1), another leader (2) */
	int		cphase;		/* CSI: leader, parameters, intermediates */
	uint64_t	param[SCREEN_PARAMS];	/* as libvterm's (long) */
	int		nparam;
	char		tail[SCREEN_TAIL];	/* the last bytes, for last words */
	size_t		ntail;
	int		cpr_wait;	/* the notice awaits the cursor row */
	unsigned	cpr_owed;	/* our queries the terminal has not
					   answered yet: each answer is ours */
	int		row;		/* cursor row reported, 0 if unknown */
	unsigned	mouse_mode;	/* last reporting mode set: 9, 1000.. */
	unsigned	mouse_enc;	/* 1005, 1006 or 1015 if set, else 0 */
	unsigned	mouse_on;	/* tracking modes set and not each reset
					   (bits: 9, 1000, 1001, 1002, 1003) */
	unsigned	rtop, rbot;	/* the scroll region (SM_REGION); a
					   bottom of 0: none given */
	int		rnew;		/* set since vt.c last fitted it */
};

void	screen_track(struct screen *, const uint8_t *, size_t);
size_t	screen_take_cpr(struct screen *, uint8_t *, size_t);
size_t	screen_restore(const struct screen *, char *, size_t);

#endif
