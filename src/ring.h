/*
 * A byte ring addressed by stream offsets.  It holds the bytes from
 * offset start to offset end; acknowledging an offset frees what lies
 * before it.  Storage grows on demand up to a cap and shrinks when idle,
 * so an idle session costs little memory.
 */
#ifndef LIMPET_RING_H
#define LIMPET_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring {
	uint8_t		*d;
	size_t		 alloc;		/* power of two, or 0 */
	size_t		 max;		/* cap on bytes held */
	uint64_t	 start;		/* offset of the first byte held */
	uint64_t	 end;		/* offset after the last byte held */
	uint64_t	 dropped;	/* bytes lost to overflow, in total */
};

void	ring_init(struct ring *, size_t, uint64_t);
void	ring_free(struct ring *);
size_t	ring_len(const struct ring *);
size_t	ring_room(const struct ring *);
int	ring_append(struct ring *, const void *, size_t, int);
int	ring_ack(struct ring *, uint64_t);
size_t	ring_peek(const struct ring *, uint64_t, const uint8_t **);
size_t	ring_tail(struct ring *, size_t, uint8_t **);
void	ring_commit(struct ring *, size_t);
int	ring_ack_keep(struct ring *, uint64_t);

#endif
