/*
 * Frame codec.  A frame is a 1-byte type, a 4-byte big-endian payload
 * length, and the payload.  The decoder is a push parser: feed it bytes in
 * any split and take whole frames out; it refuses a length over the limit
 * before buffering the payload.
 */
#ifndef LIMPET_FRAME_H
#define LIMPET_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define FRAME_HDR		5
#define FRAME_MAX_PAYLOAD	(64 * 1024 + 256)

struct frame_dec {
	struct buf	in;
	size_t		pending;	/* bytes of the last frame to drop */
	size_t		rmax;		/* most one read takes */
};

struct frame {
	uint8_t		 type;
	const uint8_t	*p;
	size_t		 len;
};

void	frame_dec_init(struct frame_dec *);
void	frame_dec_init_size(struct frame_dec *, size_t);
void	frame_dec_free(struct frame_dec *);
int	frame_dec_push(struct frame_dec *, const void *, size_t);
ssize_t	frame_dec_read(struct frame_dec *, int);
int	frame_dec_next(struct frame_dec *, struct frame *);
size_t	frame_dec_buffered(const struct frame_dec *);
int	frame_put(struct buf *, uint8_t, const void *, size_t);
int	frame_begin(struct buf *, uint8_t, size_t *);
int	frame_end(struct buf *, size_t);
int	frame_abort(struct buf *, size_t, int);

#endif
