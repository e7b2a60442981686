/*
 * Channels: byte streams (a forwarded connection, an agent connection)
 * carried inside the session's link, each with its own offsets, its own
 * acknowledgements and its own window both ways, so that a channel goes on
 * across reconnects with nothing lost or repeated.  This file is the
 * protocol-neutral state machine: frames in, frames out, bytes in and out
 * of two queues.  No socket is touched here (fwd.c does that), so unit
 * tests and the fuzzer drive it directly.  docs/PROTOCOL.md describes the
 * frames.
 */
#ifndef LIMPET_CHAN_H
#define LIMPET_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ring.h"

struct resolve;

#define CHAN_KIND_TCP	1	/* connect to the target "host:port" */
#define CHAN_KIND_AGENT	2	/* the ssh agent of the other end */

/* CHAN_CLOSE reasons. */
#define CHAN_R_DONE	0	/* both ways ended, nothing owed */
#define CHAN_R_REFUSED	1	/* the target could not be reached */
#define CHAN_R_RESET	2	/* a connection was reset or failed */
#define CHAN_R_UNKNOWN	3	/* no such channel (here any more) */
#define CHAN_R_NOAGENT	4	/* no agent to relay to */
#define CHAN_R_LIMIT	5	/* too many channels */
#define CHAN_R_GONE	6	/* the session changed hands */
#define CHAN_R_GONE_ALL	7	/* local only: every channel goes */

/*
 * The receive window of a channel adapts to its path: twice the measured
 * round trip times the rate at which the local side takes the bytes,
 * between a floor (the initial window) and a cap.
 */
#define CHAN_WINDOW	(256 * 1024)	/* receive window: initial, floor */
#define CHAN_WINDOW_MAX	(4 * 1024 * 1024)	/* receive window: cap */
#define CHAN_CHUNK	(32 * 1024)	/* payload of one CHAN_DATA */
#define CHAN_WBATCH	4		/* CHAN_DATA per writev(), at most */
#define CHAN_MAX	64		/* channels at once, per end */
/*
 * Channel data sent and not yet acknowledged, all channels together: the
 * acknowledged rate times twice the path's round trip and a margin (for
 * ACKs that wait and processes that take turns), at least the floor and
 * at most the cap, so that terminal traffic behind it waits about a round
 * trip and the margin, not for megabytes on a slow path.  The margin is
 * CHAN_FLIGHT_US on a slow path, where it is the time typing waits, and
 * CHAN_FLIGHT_FAST_US past CHAN_SLOW_RATE, where the processes of the
 * path, not the link, set the pace and need the slack.  The rate is
 * sampled over CHAN_RATE_US at least: shorter samples count a burst of
 * ACKs as the path's rate.
 */
#define CHAN_INFLIGHT_MAX (64 * 1024)	/* before the rate is known */
#define CHAN_INFLIGHT_MIN (16 * 1024)	/* floor */
#define CHAN_INFLIGHT_CAP (8 * 1024 * 1024)
#define CHAN_FLIGHT_US	20000
#define CHAN_FLIGHT_FAST_US 50000
#define CHAN_SLOW_RATE	(8 * 1000 * 1000)	/* bytes/s: 64 Mbit/s */
#define CHAN_RATE_US	50000
/*
 * An ACK goes at once for this much news, else after CHAN_ACK_US: each ACK
 * wakes every process of the link back to the sender (relay, sshd, ssh,
 * client), so at full window one per MiB, not per 256 KiB.
 */
#define CHAN_ACK_BYTES	(1024 * 1024)
#define CHAN_ACK_US	5000
#define CHAN_TARGET_MAX	1024
#define CHAN_ID_DAEMON	0x80000000u	/* ids the daemon opens */
/* Offsets past this are refused: they would wrap once counted on. */
#define CHAN_OFFSET_MAX	(UINT64_C(1) << 62)

struct chan {
	uint32_t	 id;
	uint8_t		 kind;
	char		*target;
	int		 mine;		/* opened by this end */
	int		 confirmed;	/* the peer acknowledged the open */
	int		 open_sent;	/* OPEN queued on this link */
	int		 synced;	/* the peer's ACK came on this link */

	/* This end -> the peer. */
	struct ring	 tx;		/* read locally, not yet acknowledged */
	uint64_t	 tx_sent;	/* next offset to send */
	uint64_t	 tx_limit;	/* the peer's window */
	int		 tx_eof;	/* the local side ended at tx.end */
	int		 eof_sent;
	int		 eof_acked;

	/* The peer -> this end. */
	struct buf	 rx;		/* received, not yet written locally */
	uint64_t	 rx_have;	/* received in total */
	int		 rx_eof;	/* the peer ended at rx_end */
	uint64_t	 rx_end;
	uint64_t	 ack_sent;	/* last have we acknowledged */
	uint64_t	 limit_sent;	/* last limit we gave */
	int		 ack_due;
	uint64_t	 ack_wait;	/* news waits for an ACK since (us) */
	int		 peer_gone;	/* the peer finished it: write, end */

	/* The adaptive receive window (chan_window()). */
	size_t		 win;		/* the window we give now */
	uint64_t	 probe_off;	/* a round trip ends past this... */
	uint64_t	 probe_t;	/* ...counted from this (us); 0: none */
	uint64_t	 srtt;		/* smoothed round trip, us */
	uint64_t	 rate;		/* local delivery rate, bytes/s */
	uint64_t	 rate_t;	/* this rate sample began (us)... */
	uint64_t	 rate_off;	/* ...with this much written */

	/* The sender's round trip sample (the set's in-flight bound). */
	uint64_t	 txp_off;	/* an ACK at or past this... */
	uint64_t	 txp_t;		/* ...ends it (us); 0: none */

	/* The owner's (fwd.c): the local socket and its state. */
	int		 fd;
	int		 connecting;
	struct resolve	*resolve;	/* its target's name is resolving */
	int		 shut_wr;	/* EOF passed on locally */
	int		 spec;		/* which forward it came from, or -1 */
	uint64_t	 born;
};

/* What the owner of a channel set is told. */
struct chan_ops {
	/* The peer opened ch: 0 to accept, else a CHAN_R_ reason. */
	int	(*open)(void *, struct chan *);
	/* ch is about to be freed (closed, reset, finished). */
	void	(*gone)(void *, struct chan *, uint32_t);
};

struct chan_set {
	struct chan		*ch[CHAN_MAX];
	int			 n;
	int			 rr;		/* round-robin start */
	uint32_t		 next_id;
	uint32_t		 id_bit;	/* CHAN_ID_DAEMON or 0 */
	uint32_t		 peer_max;	/* highest id the peer opened */
	const struct chan_ops	*ops;
	void			*arg;
	uint32_t		 owed[CHAN_MAX];	/* CLOSEs to send */
	uint32_t		 owed_why[CHAN_MAX];
	int			 nowed;

	/* The owner's clock (us) and the in-flight bound it drives. */
	uint64_t		 now;
	uint64_t		 min_rtt;	/* us, the least seen lately */
	uint64_t		 min_rtt_t;	/* when it was seen */
	uint64_t		 link_rtt;	/* the owner's, us; 0: none */
	uint64_t		 acked;		/* bytes acknowledged, total */
	uint64_t		 ack_rate;	/* bytes/s */
	uint64_t		 ack_rate_t;	/* this rate sample began... */
	uint64_t		 ack_rate_off;	/* ...at this acked count */
	size_t			 inflight_max;
	int			 app_limited;	/* in this rate sample */

	/*
	 * Writing without a copy (fwd.c sets these): data frames go
	 * straight from the send rings to wfd (chan_pump() with wfd not
	 * -1), and the peer's data straight to a channel's socket while
	 * nothing waits before it (rx_direct).
	 */
	int			 wfd;
	int			 wbatch;	/* DATA frames per writev() */
	int			 wblocked;	/* wfd is full: poll it */
	size_t			 wrote;		/* bytes written to wfd */
	int			 rx_direct;
};

void		 chan_set_init(struct chan_set *, uint32_t,
		    const struct chan_ops *, void *);
void		 chan_set_free(struct chan_set *);
void		 chan_set_clock(struct chan_set *, uint64_t);
void		 chan_set_link_rtt(struct chan_set *, uint64_t);
struct chan	*chan_find(struct chan_set *, uint32_t);
struct chan	*chan_open(struct chan_set *, uint8_t, const char *);
void		 chan_reset(struct chan_set *, struct chan *, uint32_t);
void		 chan_reset_all(struct chan_set *, uint32_t);
void		 chan_resume(struct chan_set *);
int		 chan_frame(struct chan_set *, uint8_t, const uint8_t *,
		    size_t);
size_t		 chan_pump(struct chan_set *, struct buf *, size_t);
uint64_t	 chan_deadline(const struct chan_set *);
size_t		 chan_inflight(const struct chan_set *);
size_t		 chan_tx_room(const struct chan *);
int		 chan_local_data(struct chan *, const void *, size_t);
void		 chan_local_eof(struct chan *);
void		 chan_written(struct chan *, size_t);
int		 chan_rx_done(const struct chan *);
void		 chan_sweep(struct chan_set *);
const char	*chan_reason(uint32_t);

#endif
