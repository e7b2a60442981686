/*
 * Records of a pipe session's output stream (see pipe.h): the daemon
 * writes headers, the client reads the stream back into stdout and
 * stderr.  A record may be cut anywhere by DATA frames and by short
 * writes, so the reader keeps its place between calls.
 */
#include <string.h>

#include "err.h"
#include "pipe.h"

/* Encode the header of a record of len bytes for stream. */
void
pipe_hdr(uint8_t h[PIPE_HDR], int stream, uint32_t len)
{
	h[0] = (uint8_t)stream;
	h[1] = (uint8_t)(len >> 24);
	h[2] = (uint8_t)(len >> 16);
	h[3] = (uint8_t)(len >> 8);
	h[4] = (uint8_t)len;
}

/* Start reading a stream from its first byte. */
void
pipe_rx_init(struct pipe_rx *rx)
{
	memset(rx, 0, sizeof *rx);
}

/*
 * Look at the next n stream bytes p.  Header bytes at their start are
 * taken (*used says how many; the caller drops them); then *len bytes
 * from p + *used belong to *stream and are for the caller to write, and
 * to report with pipe_rx_done().  *len is 0 when p holds no payload yet
 * (only a header, or part of one).  Returns 0, or ERR_FORMAT for a
 * header no daemon writes (unknown stream, empty or oversized record).
 */
int
pipe_rx_next(struct pipe_rx *rx, const uint8_t *p, size_t n, size_t *used,
    int *stream, size_t *len)
{
	size_t	k = 0;

	*used = *len = 0;
	*stream = 0;
	while (rx->rem == 0 && k < n) {
		rx->hdr[rx->nhdr++] = p[k++];
		if (rx->nhdr < PIPE_HDR)
			continue;
		rx->nhdr = 0;
		rx->stream = rx->hdr[0];
		rx->rem = (uint32_t)rx->hdr[1] << 24 |
		    (uint32_t)rx->hdr[2] << 16 |
		    (uint32_t)rx->hdr[3] << 8 | rx->hdr[4];
		if ((rx->stream != PIPE_STDOUT && rx->stream != PIPE_STDERR) ||
		    rx->rem == 0 || rx->rem > PIPE_REC_MAX) {
			rx->rem = 0;
			return ERR_FORMAT;
		}
	}
	*used = k;
	if (rx->rem == 0)
		return 0;
	*stream = rx->stream;
	*len = n - k < rx->rem ? n - k : rx->rem;
	return 0;
}

/* The caller wrote n bytes of the current record. */
void
pipe_rx_done(struct pipe_rx *rx, size_t n)
{
	rx->rem -= n > rx->rem ? rx->rem : (uint32_t)n;
}
