/*
 * Frame encoder and push decoder (see docs/PROTOCOL.md).
 */
#include <sys/types.h>

#include <errno.h>
#include <string.h>

#include "err.h"
#include "frame.h"

/* Set up an empty decoder that holds at most two frames' worth of bytes. */
void
frame_dec_init(struct frame_dec *d)
{
	buf_init(&d->in, 2 * (FRAME_HDR + FRAME_MAX_PAYLOAD));
	d->pending = 0;
	d->rmax = FRAME_HDR + FRAME_MAX_PAYLOAD;
}

/*
 * Set up a decoder that holds up to max bytes (at least two frames'
 * worth) and whose frame_dec_read() takes up to half of that at once: a
 * fast stream then costs fewer read(2) calls (and wakeups) than one frame
 * per read.
 */
void
frame_dec_init_size(struct frame_dec *d, size_t max)
{
	if (max < 2 * (FRAME_HDR + FRAME_MAX_PAYLOAD))
		max = 2 * (FRAME_HDR + FRAME_MAX_PAYLOAD);
	buf_init(&d->in, max);
	d->pending = 0;
	d->rmax = max / 2;
}

/* Release the decoder's storage. */
void
frame_dec_free(struct frame_dec *d)
{
	buf_free(&d->in);
}

/* Drop the frame handed out by the last frame_dec_next(). */
static void
frame_dec_settle(struct frame_dec *d)
{
	if (d->pending != 0) {
		buf_consume(&d->in, d->pending);
		d->pending = 0;
	}
}

/* Feed bytes to the decoder; ERR_FULL if the caller did not drain it. */
int
frame_dec_push(struct frame_dec *d, const void *p, size_t n)
{
	frame_dec_settle(d);
	return buf_put(&d->in, p, n);
}

/*
 * Read what a non-blocking fd has into the decoder, as read(2) returns.
 * Reads no more than one frame ahead (or the size frame_dec_init_size()
 * set) so that buffered bytes stay bounded.
 */
ssize_t
frame_dec_read(struct frame_dec *d, int fd)
{
	size_t	room;

	frame_dec_settle(d);
	room = buf_room(&d->in);
	if (room > d->rmax)
		room = d->rmax;
	if (room == 0) {
		errno = ENOBUFS;
		return -1;
	}
	return buf_read_fd(&d->in, fd, room);
}

/*
 * Take the next whole frame.  Returns 1 and fills f (valid until the next
 * call), 0 when more bytes are needed, or ERR_TOOBIG for a length over the
 * limit: the stream cannot be trusted after that and the peer must go.
 */
int
frame_dec_next(struct frame_dec *d, struct frame *f)
{
	const uint8_t	*p;
	uint32_t	 len;

	frame_dec_settle(d);
	if (buf_len(&d->in) < FRAME_HDR)
		return 0;
	p = buf_ptr(&d->in);
	len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 8 | p[4];
	if (len > FRAME_MAX_PAYLOAD)
		return ERR_TOOBIG;
	if (buf_len(&d->in) < FRAME_HDR + (size_t)len)
		return 0;
	f->type = p[0];
	f->p = p + FRAME_HDR;
	f->len = len;
	d->pending = FRAME_HDR + len;
	return 1;
}

/* Bytes held that are not yet handed out as frames. */
size_t
frame_dec_buffered(const struct frame_dec *d)
{
	return buf_len(&d->in) - d->pending;
}

/* Append a whole frame. */
int
frame_put(struct buf *b, uint8_t type, const void *p, size_t n)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, type, &mark)) != 0 ||
	    (r = buf_put(b, p, n)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/*
 * Start a frame whose payload the caller appends with buf_put_*(); mark
 * remembers where the header is so frame_end() can fill in the length.
 */
int
frame_begin(struct buf *b, uint8_t type, size_t *mark)
{
	uint8_t	hdr[FRAME_HDR] = { type, 0, 0, 0, 0 };

	*mark = buf_len(b);
	return buf_put(b, hdr, sizeof hdr);
}

/*
 * Give up a frame started with frame_begin(): drop whatever part of it was
 * appended, so the stream never carries half a frame; returns r.
 */
int
frame_abort(struct buf *b, size_t mark, int r)
{
	if (buf_len(b) > mark)
		b->len = mark;
	return r;
}

/* Finish a frame started with frame_begin(). */
int
frame_end(struct buf *b, size_t mark)
{
	uint8_t	h[4];
	size_t	len;

	if (buf_len(b) < mark + FRAME_HDR)
		return ERR_RANGE;
	len = buf_len(b) - mark - FRAME_HDR;
	if (len > FRAME_MAX_PAYLOAD) {
		buf_truncate(b, mark);	/* drop the partial frame */
		return ERR_TOOBIG;
	}
	h[0] = len >> 24;
	h[1] = len >> 16;
	h[2] = len >> 8;
	h[3] = len;
	return buf_poke(b, mark + 1, h, sizeof h);
}
