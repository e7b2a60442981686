/*
 * How much output the daemon keeps in flight to its client (daemon-flow.c):
 * a window sized from the measured delivery rate and round trip, so that a
 * flood waits in the program's write and not in the network's buffers.
 */
#ifndef LIMPET_DAEMON_FLOW_H
#define LIMPET_DAEMON_FLOW_H

#include <stddef.h>
#include <stdint.h>

#define FLOW_MARKS	512		/* DATA frames remembered in flight */
#define FLOW_ROUNDS	8		/* round trips the rate max is kept */
#define FLOW_GAIN_NUM	2		/* window = 2 x rate x min RTT ... */
#define FLOW_GAIN_DEN	1
#define FLOW_WIN_MIN	(16 * 1024)	/* ... never below this ... */
#define FLOW_WIN_MIN_US	40000		/* ... nor 40 ms of the rate ... */
#define FLOW_WIN_INIT	(64 * 1024)	/* ... this before any measure ... */
#define FLOW_WIN_MAX	(8 * 1024 * 1024)	/* ... nor above this */
#define FLOW_CHUNK_MIN	(4 * 1024)	/* smallest DATA frame payload */
#define FLOW_CHUNK_MAX	(32 * 1024)	/* largest (DATA_CHUNK) */
#define FLOW_CHUNK_US	20000		/* a frame holds ~20 ms of the link */
#define FLOW_RTT_KEEP_US	(10 * 1000 * 1000)	/* min RTT kept */
#define FLOW_PROBE_US	(200 * 1000)	/* min RTT probe: small window */
#define FLOW_LOG_US	(1000 * 1000)	/* a log line at most this often */

/* One DATA frame in flight: what the rate sample of its ACK needs. */
struct flow_mark {
	uint64_t	off;		/* offset after the frame */
	uint64_t	sent;		/* us when it was queued */
	uint64_t	delivered;	/* offset acknowledged then */
	uint64_t	delivered_t;	/* us of the ACK that moved it there */
	uint64_t	first_t;	/* sent of the newest frame acked then */
	int		app;		/* the program had nothing more */
};

struct flow {
	struct flow_mark marks[FLOW_MARKS];
	int		 head, len;
	uint64_t	 sent;		/* offset after the last frame sent */
	uint64_t	 delivered;	/* offset acknowledged */
	uint64_t	 delivered_t;	/* us of the last ACK that moved it */
	uint64_t	 first_t;	/* sent of the newest frame acked */
	uint64_t	 bw[FLOW_ROUNDS];	/* best rate (B/s) per round */
	uint64_t	 ackb[FLOW_ROUNDS];	/* largest ACK (B) per round */
	uint64_t	 round, round_end;
	uint64_t	 min_rtt, min_rtt_t;	/* us; min_rtt_t 0: none */
	uint64_t	 probe_t;	/* probing the min RTT since, or 0 */
	uint64_t	 probe_end;	/* ... until this offset is acked */
	uint64_t	 probe_min;
	int		 probe_stage;
	size_t		 window;	/* unacknowledged output allowed */
	size_t		 chunk;		/* DATA payload per frame */
	size_t		 peak;		/* most in flight since the log */
	uint64_t	 log_t;
};

void	flow_reset(struct flow *, uint64_t);
void	flow_sent(struct flow *, uint64_t, int);
size_t	flow_acked(struct flow *, uint64_t);
void	flow_note(struct flow *, size_t);

#endif
