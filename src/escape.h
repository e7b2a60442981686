/*
 * The client's "~" escapes, recognised as ssh does: only at the start of
 * a line, i.e. first typed or typed right after Enter.
 */
#ifndef LIMPET_ESCAPE_H
#define LIMPET_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ESCAPE_CHAR	'~'

/* Commands. */
#define ESC_NONE	0
#define ESC_DETACH	'.'
#define ESC_RECONNECT	'r'
#define ESC_STATUS	's'
#define ESC_SUSPEND	0x1a	/* ^Z */
#define ESC_HELP	'?'
#define ESC_FORWARDS	'#'	/* list forwards and their connections */

struct escape {
	int	state;
};

void	escape_init(struct escape *);
size_t	escape_feed(struct escape *, const uint8_t *, size_t, struct buf *,
	    int *);

#endif
