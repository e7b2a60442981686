/*
 * Escape parser.  Bytes pass through to an output buffer except for a "~"
 * at the start of a line, which is held until the next byte says what it
 * is: a command, "~~" for a literal "~", or anything else (both bytes are
 * then sent, as ssh does).
 */
#include "escape.h"

#define ST_LINE		0	/* at the start of a line */
#define ST_MID		1	/* in the middle of a line */
#define ST_TILDE	2	/* held a "~" at the start of a line */

/* Start as at the beginning of a line. */
void
escape_init(struct escape *e)
{
	e->state = ST_LINE;
}

/* True for a byte that ends a line. */
static int
escape_is_eol(uint8_t c)
{
	return c == '\r' || c == '\n';
}

/*
 * Feed n bytes.  Passed-through bytes are appended to out.  Stops after a
 * command and stores it in *cmd (ESC_NONE otherwise); returns how many
 * bytes were used so the caller can act and then feed the rest.
 */
size_t
escape_feed(struct escape *e, const uint8_t *p, size_t n, struct buf *out,
    int *cmd)
{
	size_t	i;
	uint8_t	c, tilde = ESCAPE_CHAR;

	*cmd = ESC_NONE;
	for (i = 0; i < n; i++) {
		c = p[i];
		switch (e->state) {
		case ST_TILDE:
			switch (c) {
			case ESC_DETACH:
			case ESC_RECONNECT:
			case ESC_STATUS:
			case ESC_SUSPEND:
			case ESC_HELP:
			case ESC_FORWARDS:
				/* After a command, a new line may follow. */
				e->state = ST_LINE;
				*cmd = c;
				return i + 1;
			case ESCAPE_CHAR:
				buf_put(out, &tilde, 1);
				e->state = ST_MID;
				break;
			default:
				buf_put(out, &tilde, 1);
				buf_put(out, &c, 1);
				e->state = escape_is_eol(c) ? ST_LINE : ST_MID;
				break;
			}
			break;
		case ST_LINE:
			if (c == ESCAPE_CHAR) {
				e->state = ST_TILDE;
				break;
			}
			__attribute__((fallthrough));
		default:
			buf_put(out, &c, 1);
			e->state = escape_is_eol(c) ? ST_LINE : ST_MID;
			break;
		}
	}
	return n;
}
