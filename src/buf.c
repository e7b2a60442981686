/*
 * Growable byte buffer and read cursor.  Every length is checked against
 * the buffer's cap before anything is allocated, so a peer cannot make a
 * process grow without bound.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "xmalloc.h"

/* Set up an empty buffer whose contents may never exceed max bytes. */
void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max != 0 ? max : BUF_MAX_DEFAULT;
}

/* Release the storage. */
void
buf_free(struct buf *b)
{
	free(b->d);
	b->d = NULL;
	b->off = b->len = b->alloc = 0;
}

/* Drop the contents but keep the storage. */
void
buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

/* Bytes held. */
size_t
buf_len(const struct buf *b)
{
	return b->len;
}

/*
 * Pointer to the first byte held; never NULL, so that callers may do
 * pointer arithmetic on an empty buffer (NULL + 0 is undefined).
 */
const uint8_t *
buf_ptr(const struct buf *b)
{
	static const uint8_t	empty[1];

	return b->d != NULL ? b->d + b->off : empty;
}

/* How many more bytes the cap allows. */
size_t
buf_room(const struct buf *b)
{
	return b->max - b->len;
}

/* Keep only the first len bytes held (len no more than buf_len). */
int
buf_truncate(struct buf *b, size_t len)
{
	if (len > b->len)
		return ERR_RANGE;
	b->len = len;
	return 0;
}

/* Overwrite n bytes held, from offset at (a length filled in later). */
int
buf_poke(struct buf *b, size_t at, const void *p, size_t n)
{
	if (at > b->len || n > b->len - at)
		return ERR_RANGE;
	memcpy(b->d + b->off + at, p, n);
	return 0;
}

/*
 * Make room for n more bytes at the end and return a pointer to it; the
 * caller writes the bytes and the length grows by n.  Packs the buffer when
 * the consumed part is large, and shrinks storage that a burst left idle.
 */
int
buf_reserve(struct buf *b, size_t n, uint8_t **out)
{
	size_t	 need, nalloc;

	if (n > b->max || b->len > b->max - n)
		return ERR_FULL;
	need = b->len + n;
	if (b->off + need > b->alloc && b->off > 0) {
		memmove(b->d, b->d + b->off, b->len);
		b->off = 0;
	}
	if (need > b->alloc) {
		nalloc = b->alloc != 0 ? b->alloc : 256;
		while (nalloc < need)
			nalloc *= 2;
		b->d = xreallocarray(b->d, 1, nalloc);
		b->alloc = nalloc;
	}
	*out = b->d + b->off + b->len;
	b->len += n;
	return 0;
}

/* Append n bytes. */
int
buf_put(struct buf *b, const void *p, size_t n)
{
	uint8_t	*dst;
	int	 r;

	if (n == 0)
		return 0;
	if ((r = buf_reserve(b, n, &dst)) != 0)
		return r;
	memcpy(dst, p, n);
	return 0;
}

/* Remove n bytes from the front; frees large idle storage when emptied. */
int
buf_consume(struct buf *b, size_t n)
{
	if (n > b->len)
		return ERR_RANGE;
	b->off += n;
	b->len -= n;
	if (b->len == 0) {
		b->off = 0;
		if (b->alloc > 256 * 1024) {
			free(b->d);
			b->d = NULL;
			b->alloc = 0;
		}
	}
	return 0;
}

/*
 * Append the bytes of a numbered stream: p holds stream bytes off .. off+n
 * and the buffer's owner holds *have of them already.  What it has is
 * skipped (a resend after a reconnect), the rest appended; a gap is
 * ERR_RANGE.  Returns the count appended.
 */
int
buf_put_stream(struct buf *b, uint64_t *have, uint64_t off, const void *p,
    size_t n)
{
	uint64_t	skip;
	int		r;

	if (off > *have)
		return ERR_RANGE;
	skip = *have - off;
	if (skip >= n)
		return 0;
	if ((r = buf_put(b, (const uint8_t *)p + skip, n - skip)) != 0)
		return r;
	*have += n - skip;
	return (int)(n - skip);
}

/* Append one byte. */
int
buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_put(b, &v, 1);
}

/* Append a big-endian 16-bit value. */
int
buf_put_u16(struct buf *b, uint16_t v)
{
	uint8_t	p[2] = { v >> 8, v };

	return buf_put(b, p, sizeof p);
}

/* Append a big-endian 32-bit value. */
int
buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t	p[4] = { v >> 24, v >> 16, v >> 8, v };

	return buf_put(b, p, sizeof p);
}

/* Append a big-endian 64-bit value. */
int
buf_put_u64(struct buf *b, uint64_t v)
{
	int	r;

	if ((r = buf_put_u32(b, v >> 32)) != 0)
		return r;
	return buf_put_u32(b, (uint32_t)v);
}

/* Append a length-prefixed byte string (u32 length). */
int
buf_put_bytes(struct buf *b, const void *p, size_t n)
{
	int	r;

	if (n > UINT32_MAX)
		return ERR_TOOBIG;
	if ((r = buf_put_u32(b, n)) != 0)
		return r;
	return buf_put(b, p, n);
}

/* Append a length-prefixed string. */
int
buf_put_str(struct buf *b, const char *s)
{
	return buf_put_bytes(b, s, strlen(s));
}

/*
 * Read at most n bytes from a non-blocking fd into the buffer.  Returns the
 * count, 0 at end of file, or -1 with errno (EAGAIN when nothing is ready).
 */
ssize_t
buf_read_fd(struct buf *b, int fd, size_t n)
{
	uint8_t	*dst;
	ssize_t	 got;

	if (b->max - b->len < n)
		n = b->max - b->len;
	if (n == 0) {
		errno = ENOBUFS;
		return -1;
	}
	if (buf_reserve(b, n, &dst) != 0) {
		errno = ENOBUFS;
		return -1;
	}
	b->len -= n;
	got = read(fd, dst, n);
	if (got > 0)
		b->len += got;
	return got;
}

/* Write what the buffer holds to a non-blocking fd and consume it. */
ssize_t
buf_write_fd(struct buf *b, int fd)
{
	ssize_t	n;

	if (b->len == 0)
		return 0;
	n = write(fd, buf_ptr(b), b->len);
	if (n > 0)
		buf_consume(b, n);
	return n;
}

/* Start a cursor over len bytes at p. */
void
cur_init(struct cur *c, const void *p, size_t len)
{
	c->p = p;
	c->len = len;
}

/* Take one byte. */
int
cur_get_u8(struct cur *c, uint8_t *v)
{
	if (c->len < 1)
		return ERR_SHORT;
	*v = c->p[0];
	c->p++;
	c->len--;
	return 0;
}

/* Take a big-endian 16-bit value. */
int
cur_get_u16(struct cur *c, uint16_t *v)
{
	if (c->len < 2)
		return ERR_SHORT;
	*v = (uint16_t)c->p[0] << 8 | c->p[1];
	c->p += 2;
	c->len -= 2;
	return 0;
}

/* Take a big-endian 32-bit value. */
int
cur_get_u32(struct cur *c, uint32_t *v)
{
	if (c->len < 4)
		return ERR_SHORT;
	*v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 |
	    (uint32_t)c->p[2] << 8 | c->p[3];
	c->p += 4;
	c->len -= 4;
	return 0;
}

/* Take a big-endian 64-bit value. */
int
cur_get_u64(struct cur *c, uint64_t *v)
{
	uint32_t	hi, lo;
	int		r;

	if (c->len < 8)
		return ERR_SHORT;
	if ((r = cur_get_u32(c, &hi)) != 0 || (r = cur_get_u32(c, &lo)) != 0)
		return r;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

/* Take a length-prefixed byte string without copying it. */
int
cur_get_bytes(struct cur *c, const uint8_t **p, size_t *n)
{
	uint32_t	len;
	struct cur	save = *c;
	int		r;

	if ((r = cur_get_u32(c, &len)) != 0)
		return r;
	if (len > c->len) {
		*c = save;
		return ERR_FORMAT;
	}
	*p = c->p;
	*n = len;
	c->p += len;
	c->len -= len;
	return 0;
}

/*
 * Take a length-prefixed string of at most max bytes as a new
 * NUL-terminated copy; embedded NULs are refused.
 */
int
cur_get_str(struct cur *c, char **out, size_t max)
{
	const uint8_t	*p;
	size_t		 n;
	int		 r;

	if ((r = cur_get_bytes(c, &p, &n)) != 0)
		return r;
	if (n > max || memchr(p, '\0', n) != NULL)
		return ERR_FORMAT;
	*out = xmalloc(n + 1);
	memcpy(*out, p, n);
	(*out)[n] = '\0';
	return 0;
}

/* True when every byte has been taken. */
int
cur_end(const struct cur *c)
{
	return c->len == 0;
}
