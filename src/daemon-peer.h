/*
 * A framed connection to the session daemon: one fd, a frame decoder for
 * what arrives and a buffer for what is to be sent, with the times the
 * daemon's peer timeouts need.
 */
#ifndef LIMPET_DAEMON_PEER_H
#define LIMPET_DAEMON_PEER_H

#include <poll.h>
#include <stddef.h>
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
	/* The relay's handoff of sshd's pipes (docs/ARCHITECTURE.md). */
	int		 ho;		/* PEER_HO_* */
	int		 rfd;		/* sshd's stdin pipe, or -1 */
	int		 wfd;		/* sshd's stdout pipe, or -1 */
	int		 pend_fd;	/* passed, its frame not yet read */
	size_t		 sock_left;	/* out bytes still for the socket */
	uint8_t		 ctl[FRAME_HDR];	/* HANDOFF_OUT, as it comes */
	size_t		 ctl_n;
	int		 wnap;		/* wfd is a big pipe: nap when full */
	uint64_t	 wfull_until;	/* it was full: poll it from then */
};

#define PEER_HO_NONE	0	/* frames both ways on fd */
#define PEER_HO_OFFERED	1	/* HANDOFF offered: fd read with recvmsg */
#define PEER_HO_IN	2	/* frames in from rfd; out to fd until the
				   HANDOFF_END, then held for HANDOFF_OUT */
#define PEER_HO_DONE	3	/* frames in from rfd, out to wfd */
#define PEER_NPFD	3	/* poll entries a peer takes */
/*
 * A full stdout pipe of at least PEER_NAP_PIPE bytes is written again
 * PEER_NAP_MS later instead of at its first room: a pipe wakes its writer
 * at every read that frees room, once per ~32-64 KiB sshd takes.
 */
#define PEER_NAP_PIPE	(512 * 1024)
#define PEER_NAP_MS	1

#define PEER_OUT_MAX	(4 * 1024 * 1024)
#define PEER_IN_MAX	(256 * 1024)	/* decoder: reads up to half */

struct peer	*peer_new(int);
void		 peer_free(struct peer *);
int		 peer_fill(struct peer *);
int		 peer_flush(struct peer *, uint64_t);
void		 peer_woke(struct peer *, uint64_t);
short		 peer_events(const struct peer *, int);
void		 peer_poll(const struct peer *, struct pollfd *, uint64_t);
void		 peer_wfull(struct peer *, uint64_t);
int		 peer_nap_timeout(const struct peer *, uint64_t);
int		 peer_wfd(const struct peer *);
void		 peer_offer(struct peer *);
int		 peer_handoff(struct peer *, size_t, size_t);
int		 peer_ctl(struct peer *);

#endif
