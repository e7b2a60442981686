/*
 * Offset-addressed byte ring.  Offset o lives at index o % alloc, so
 * bytes never move except when the storage is resized.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ring.h"
#include "xmalloc.h"

#define RING_MIN_ALLOC	4096

/* Set up an empty ring holding at most max bytes, starting at offset. */
void
ring_init(struct ring *r, size_t max, uint64_t offset)
{
	memset(r, 0, sizeof *r);
	r->max = max;
	r->start = r->end = offset;
}

/* Release the storage. */
void
ring_free(struct ring *r)
{
	free(r->d);
	r->d = NULL;
	r->alloc = 0;
}

/* Bytes held. */
size_t
ring_len(const struct ring *r)
{
	return (size_t)(r->end - r->start);
}

/* Bytes that can be appended without overwriting. */
size_t
ring_room(const struct ring *r)
{
	return r->max - ring_len(r);
}

/* Move the contents into storage of nalloc bytes (a power of two). */
static void
ring_resize(struct ring *r, size_t nalloc)
{
	uint8_t		*nd = NULL;
	const uint8_t	*p;
	uint64_t	 o = r->start;
	size_t		 n;

	if (nalloc != 0) {
		nd = xmalloc(nalloc);
		while (o < r->end) {
			n = ring_peek(r, o, &p);
			/* Copy piece by piece; an index may wrap in nd. */
			while (n > 0) {
				size_t	at = o % nalloc, k = nalloc - at;

				if (k > n)
					k = n;
				memcpy(nd + at, p, k);
				p += k;
				o += k;
				n -= k;
			}
		}
	}
	free(r->d);
	r->d = nd;
	r->alloc = nalloc;
}

/* Make the storage hold at least need bytes (doubling, as a vector). */
static void
ring_grow(struct ring *r, size_t need)
{
	size_t	nalloc;

	if (need <= r->alloc)
		return;
	nalloc = r->alloc != 0 ? r->alloc : RING_MIN_ALLOC;
	while (nalloc < need)
		nalloc *= 2;
	ring_resize(r, nalloc);
}

/*
 * Append n bytes.  With overwrite set, the oldest bytes make room and are
 * counted in dropped; without it, ERR_FULL if they do not fit.
 */
int
ring_append(struct ring *r, const void *p, size_t n, int overwrite)
{
	const uint8_t	*s = p;
	size_t		 at, k;

	if (n > ring_room(r)) {
		if (!overwrite)
			return ERR_FULL;
		if (n > r->max) {
			/* Only the newest max bytes can be kept. */
			r->dropped += ring_len(r) + (n - r->max);
			r->start = r->end = r->end + (n - r->max);
			s += n - r->max;
			n = r->max;
		}
		if (n > ring_room(r)) {
			k = n - ring_room(r);
			r->dropped += k;
			r->start += k;
		}
	}
	if (n == 0)
		return 0;
	ring_grow(r, ring_len(r) + n);
	while (n > 0) {
		at = r->end % r->alloc;
		k = r->alloc - at;
		if (k > n)
			k = n;
		memcpy(r->d + at, s, k);
		s += k;
		r->end += k;
		n -= k;
	}
	return 0;
}

/*
 * Free the bytes before offset off.  An offset before start is old news
 * and ignored; one past end is an error (the peer claims bytes never sent).
 */
int
ring_ack(struct ring *r, uint64_t off)
{
	if (off > r->end)
		return ERR_RANGE;
	if (off <= r->start)
		return 0;
	r->start = off;
	if (r->start == r->end && r->alloc > 64 * 1024)
		ring_resize(r, 0);
	else if (r->alloc > 64 * 1024 && ring_len(r) < r->alloc / 8)
		ring_resize(r, r->alloc / 2);
	return 0;
}

/*
 * Point p at the contiguous bytes held from offset off and return their
 * count (0 at the end, or if off is not held).
 */
size_t
ring_peek(const struct ring *r, uint64_t off, const uint8_t **p)
{
	size_t	at, n;

	if (off < r->start || off >= r->end || r->alloc == 0)
		return 0;
	at = off % r->alloc;
	n = (size_t)(r->end - off);
	if (n > r->alloc - at)
		n = r->alloc - at;
	*p = r->d + at;
	return n;
}

/*
 * Point p at contiguous room at the end for up to n more bytes (never
 * overwriting; the storage grows as ring_append's would) and return its
 * size, 0 if the ring is full: a reader fills it straight from a
 * descriptor and calls ring_commit() with what it got.
 */
size_t
ring_tail(struct ring *r, size_t n, uint8_t **p)
{
	size_t	at, k;

	if (n > ring_room(r))
		n = ring_room(r);
	if (n == 0)
		return 0;
	ring_grow(r, ring_len(r) + n);
	at = r->end % r->alloc;
	k = r->alloc - at;
	*p = r->d + at;
	return k < n ? k : n;
}

/* Count n bytes written at the room ring_tail() gave. */
void
ring_commit(struct ring *r, size_t n)
{
	r->end += n;
}

/*
 * ring_ack() for a ring that streams in bulk: the storage is kept while
 * bytes are held (halving it as ring_ack does would copy the ring back
 * and forth as the window fills and drains) and freed once empty.
 */
int
ring_ack_keep(struct ring *r, uint64_t off)
{
	if (off > r->end)
		return ERR_RANGE;
	if (off <= r->start)
		return 0;
	r->start = off;
	if (r->start == r->end)
		ring_resize(r, 0);
	return 0;
}
