/*
 * A framed connection to the session daemon: one fd, a frame decoder for
 * what arrives and a buffer for what is to be sent, with the times the
 * daemon's peer timeouts need.
 */
#ifndef LIMPET_DAEMON_PEER_H
#define LIMPET_DAEMON_PEER_H

#include <stdint.h>

#include "buf.h"
#include "frame.h"

struct peer {
	int		 fd;
	struct frame_dec dec;
	struct buf	 out;
	int		 hello;		/* HELLO received */
	int		 closing;	/* close once out is flushed */
	int		 dead;		/* close now */
	uint64_t	 last_rx;	/* monotonic ms */
	uint64_t	 born;		/* accepted, monotonic ms */
	uint64_t	 tx_ok;		/* out was empty or drained, ms */
	int		 wwait;		/* channel data waits for room in fd */
	uint64_t	 client_id;
	uint8_t		 op;
	uint32_t	 version;	/* negotiated in WELCOME */
};

#define PEER_OUT_MAX	(4 * 1024 * 1024)
#define PEER_IN_MAX	(256 * 1024)	/* decoder: reads up to half */

struct peer	*peer_new(int);
void		 peer_free(struct peer *);
int		 peer_fill(struct peer *);
int		 peer_flush(struct peer *, uint64_t);
short		 peer_events(const struct peer *, int);

#endif
