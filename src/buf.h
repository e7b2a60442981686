/*
 * A growable byte buffer with a hard size cap: bytes are appended at the
 * end and consumed from the front.  Big-endian put/get helpers build and
 * parse protocol messages.
 */
#ifndef LIMPET_BUF_H
#define LIMPET_BUF_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* The fields are buf.c's own: everything else uses the functions below. */
struct buf {
	uint8_t	*d;
	size_t	 off;		/* first unconsumed byte */
	size_t	 len;		/* bytes after off */
	size_t	 alloc;
	size_t	 max;		/* hard cap on len */
};

#define BUF_MAX_DEFAULT	(64 * 1024 * 1024)

void		 buf_init(struct buf *, size_t);
void		 buf_free(struct buf *);
void		 buf_reset(struct buf *);
size_t		 buf_len(const struct buf *);
const uint8_t	*buf_ptr(const struct buf *);
size_t		 buf_room(const struct buf *);
int		 buf_truncate(struct buf *, size_t);
int		 buf_poke(struct buf *, size_t, const void *, size_t);
int		 buf_reserve(struct buf *, size_t, uint8_t **);
int		 buf_put(struct buf *, const void *, size_t);
int		 buf_consume(struct buf *, size_t);
int		 buf_put_stream(struct buf *, uint64_t *, uint64_t,
		    const void *, size_t);
int		 buf_put_u8(struct buf *, uint8_t);
int		 buf_put_u16(struct buf *, uint16_t);
int		 buf_put_u32(struct buf *, uint32_t);
int		 buf_put_u64(struct buf *, uint64_t);
int		 buf_put_str(struct buf *, const char *);
int		 buf_put_bytes(struct buf *, const void *, size_t);
ssize_t		 buf_read_fd(struct buf *, int, size_t);
ssize_t		 buf_write_fd(struct buf *, int);

/* A read-only cursor over bytes, for parsing a message without copying. */
struct cur {
	const uint8_t	*p;
	size_t		 len;
};

void	cur_init(struct cur *, const void *, size_t);
int	cur_get_u8(struct cur *, uint8_t *);
int	cur_get_u16(struct cur *, uint16_t *);
int	cur_get_u32(struct cur *, uint32_t *);
int	cur_get_u64(struct cur *, uint64_t *);
int	cur_get_bytes(struct cur *, const uint8_t **, size_t *);
int	cur_get_str(struct cur *, char **, size_t);
int	cur_end(const struct cur *);

#endif
