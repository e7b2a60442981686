/*
 * How much output the daemon keeps in flight to its client (daemon-flow.c):
 * a window sized from the measured delivery rate and round trip, so that a
 * flood waits in the program's write and not in the network's buffers.
 */
#ifndef LIMPET_DAEMON_FLOW_H
#define LIMPET_DAEMON_FLOW_H

#include <stddef.h>
#include <stdint.h>

/*
 * The window: FLOW_GAIN x the best rate of the last FLOW_ROUNDS round
 * trips x the min round trip (kept FLOW_RTT_KEEP_US, then probed for at
 * least FLOW_PROBE_US), or that product plus the largest ACK if more;
 * with nothing in flight FLOW_IDLE_GAIN x the product plus the largest
 * ACK; at least FLOW_WIN_MIN_US of the rate and FLOW_WIN_MIN
 * bytes, at most FLOW_WIN_MAX; FLOW_WIN_INIT before anything is measured.
 * A DATA frame carries FLOW_CHUNK_US of the rate, FLOW_CHUNK_MIN to
 * FLOW_CHUNK_MAX bytes.
 */
#define FLOW_MARKS	512
#define FLOW_ROUNDS	8
#define FLOW_GAIN_NUM	2
#define FLOW_GAIN_DEN	1
#define FLOW_IDLE_GAIN	4	/* with nothing in flight */
#define FLOW_WIN_MIN	(16 * 1024)
#define FLOW_WIN_MIN_US	40000
#define FLOW_WIN_INIT	(64 * 1024)
#define FLOW_WIN_MAX	(8 * 1024 * 1024)
#define FLOW_CHUNK_MIN	(4 * 1024)
#define FLOW_CHUNK_MAX	(32 * 1024)	/* DATA_CHUNK */
#define FLOW_CHUNK_US	20000
#define FLOW_RTT_KEEP_US	(10 * 1000 * 1000)
#define FLOW_PROBE_US	(200 * 1000)
#define FLOW_LOG_US	(1000 * 1000)	/* a flow: log line at most */
#define FLOW_PACE_GAIN	2		/* frames leave at twice the rate */
#define FLOW_PACE_MIN_US	2000	/* ... if a chunk takes this long */

/* One DATA frame in flight: what the rate sample of its ACK needs. */
struct flow_mark {
	uint64_t	off;		/* offset after the frame */
	uint64_t	sent;		/* us when it was queued */
	uint64_t	delivered;	/* offset acknowledged then */
	uint64_t	delivered_t;	/* us of the ACK that got there */
	uint64_t	first_t;	/* sent of the newest acked frame */
	int		app;		/* the program had no more */
	int		idle;		/* sent with nothing in flight */
};

struct flow {
	struct flow_mark *marks;	/* FLOW_MARKS, while frames fly */
	int		 head, len;
	uint64_t	 sent;		/* offset after the last frame */
	uint64_t	 delivered;	/* offset acknowledged */
	uint64_t	 delivered_t;	/* us of the last ACK that moved */
	uint64_t	 first_t;	/* sent of the newest acked frame */
	uint64_t	 bw[FLOW_ROUNDS];	/* best B/s per round */
	uint64_t	 ackb[FLOW_ROUNDS];	/* largest ACK per round */
	uint64_t	 round, round_end;
	uint64_t	 min_rtt, min_rtt_t;	/* us; min_rtt_t 0: none */
	uint64_t	 probe_t;	/* probing the min RTT since, or 0 */
	uint64_t	 probe_end;	/* ... until this offset is acked */
	uint64_t	 probe_min;
	int		 probe_stage;
	int		 path_bw;	/* a rate the program did not limit */
	int		 bubble;	/* sent from idle, no ACK since */
	size_t		 window;	/* unacknowledged output allowed */
	size_t		 chunk;		/* DATA payload per frame */
	size_t		 peak;		/* most in flight since the log */
	uint64_t	 pace_t;	/* us: no frame before, or 0 */
	uint64_t	 log_t;
};

void	flow_reset(struct flow *, uint64_t);
void	flow_free(struct flow *);
void	flow_sent(struct flow *, uint64_t, int);
size_t	flow_acked(struct flow *, uint64_t);
int	flow_pace_wait(const struct flow *);

#endif
