/*
 * Records of a pipe session's output stream.  A session started with
 * HELLO_PIPE runs its program on pipes; the daemon cuts what the program
 * writes to stdout and stderr into records (u8 stream, u32 length, then
 * the bytes) inside the one resumable output stream, so offsets, ACKs and
 * resume work as for a terminal.  Pure code: no fds, no allocation.
 */
#ifndef LIMPET_PIPE_H
#define LIMPET_PIPE_H

#include <stddef.h>
#include <stdint.h>

#define PIPE_STDOUT	1
#define PIPE_STDERR	2
#define PIPE_HDR	5		/* u8 stream, u32 length */
#define PIPE_REC_MAX	(64 * 1024)	/* bytes in one record at most */

/* The reader's place in the record stream. */
struct pipe_rx {
	uint8_t		hdr[PIPE_HDR];	/* a header split between pieces */
	size_t		nhdr;
	int		stream;		/* PIPE_STDOUT, PIPE_STDERR, 0 */
	uint32_t	rem;		/* bytes of the record still due */
};

void	pipe_hdr(uint8_t [PIPE_HDR], int, uint32_t);
void	pipe_rx_init(struct pipe_rx *);
int	pipe_rx_next(struct pipe_rx *, const uint8_t *, size_t, size_t *,
	    int *, size_t *);
void	pipe_rx_done(struct pipe_rx *, size_t);

#endif
