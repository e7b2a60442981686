/*
 * What the client needs to know about the screen to draw its notice and
 * take it away without damage, learned cheaply from the output stream: the
 * bytes of the cursor's line, whether the program uses the alternate
 * screen, and (asked of the terminal) the cursor's row.
 */
#ifndef LIMPET_CLIENT_SCREEN_H
#define LIMPET_CLIENT_SCREEN_H

#include <stddef.h>
#include <stdint.h>

#define SCREEN_LINE_MAX	1024
#define SCREEN_TAIL	512

struct screen {
	uint8_t		line[SCREEN_LINE_MAX];	/* output since the last \n */
	size_t		linelen;
	int		line_long;	/* more than fits: cannot repaint */
	int		alt;		/* the program is on the alternate screen */
	uint8_t		carry[8];	/* tail of the last write, for scans */
	size_t		ncarry;
	char		tail[SCREEN_TAIL];	/* the last bytes, for last words */
	size_t		ntail;
	int		cpr_wait;	/* asked for the cursor position */
	int		row;		/* cursor row reported, 0 if unknown */
};

void	screen_track(struct screen *, const uint8_t *, size_t);
size_t	screen_take_cpr(struct screen *, uint8_t *, size_t);

#endif
