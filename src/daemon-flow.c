/*
 * The output window: how much output the daemon holds unacknowledged (read
 * from the PTY, sent or not) before it stops reading the PTY.  Every byte in
 * that window must reach the terminal before anything the program writes
 * after a Ctrl-C, so the window is what the path needs and no more: the
 * best delivery rate seen over the last few round trips times the smallest
 * round trip, twice over to find a faster path, and at least that product
 * plus the largest single acknowledgement (the client acknowledges in
 * steps, an SSH packet at a time: 16 KiB under a flood, more than the
 * product of a 1 Mbit/s link, which must not idle while a step is
 * delivered but not yet acknowledged).  The program then blocks on its
 * write, and an interrupt finds little queued behind it.
 *
 * Each DATA frame sent leaves a mark; the ACK that covers it gives a round
 * trip (the frame's age) and a delivery rate (bytes acknowledged since the
 * frame was sent over the time they took, ack or send spacing, whichever
 * is longer, so that a burst of ACKs does not look like a fast link).
 * Frames sent while the program had nothing more to write measure the
 * program, not the path: their rates count only when higher, and their
 * round trips do not age the rates measured before.  So do the frames of
 * a burst from idle sent before its first ACK (as BBR's app-limited
 * bubble): their samples span the whole first round trip, so a burst
 * that fits in the window measures at most its size over a round trip,
 * and one TCP retransmission halves that; counted, a few lossy commands'
 * output would shrink the window under the next one's.  The smallest
 * round trip is kept 10 s; then the window shrinks for a round trip (at
 * least 200 ms) to see it again without the queue the window itself makes,
 * unless a frame sent from idle saw it again first (within a quarter):
 * nothing of ours was queued ahead of it.  Output after a
 * pause is the common case (a command's output after typing), and a probe
 * then would halve the window just when a burst needs it.  Until a rate
 * the program did not limit is measured, the window stays at least the
 * initial one: a prompt or an echo measures the program, and a window cut
 * to the floor from those would make the first large output wait a round
 * trip per 16 KiB.
 * Once everything sent is acknowledged, the window for the next output
 * is four times the product plus the largest ACK: nothing of ours is
 * queued then, so only the transport paces a command's output, as it
 * paces ssh's.  The rate a session measures in its first outputs is the
 * transport's while it warms up (TCP's slow start, queued behind our own
 * first burst), and a window of twice that held the next command's
 * output a round trip (issue 11 goal 6).  From the burst's first ACK on
 * the usual window holds again, so a flood comes back to it within a
 * round trip; only a Ctrl-C in a burst's first round trips finds the
 * larger queue.
 * Times here are microseconds, so that a loopback link measures too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon-flow.h"
#include "log.h"

/* A monotonic clock in microseconds. */
static uint64_t
flow_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * Start afresh at offset off (a new link: nothing measured yet).  f is
 * zeroed or was set up before.  The marks go until frames fly again: a
 * detached session should not keep 24 KiB of them (issue 11: memory per
 * idle session).
 */
void
flow_reset(struct flow *f, uint64_t off)
{
	flow_free(f);
	memset(f, 0, sizeof *f);
	f->sent = f->delivered = f->round_end = off;
	f->window = FLOW_WIN_INIT;
	f->chunk = FLOW_CHUNK_MIN;
}

/* Free the marks. */
void
flow_free(struct flow *f)
{
	free(f->marks);
	f->marks = NULL;
}

/* The largest of n values. */
static uint64_t
flow_max(const uint64_t *v, int n)
{
	uint64_t	m = 0;
	int		i;

	for (i = 0; i < n; i++)
		if (v[i] > m)
			m = v[i];
	return m;
}

/* The window and frame size from what was measured. */
static void
flow_size(struct flow *f)
{
	uint64_t	bw = flow_max(f->bw, FLOW_ROUNDS), bdp, ack, w, ch;

	if (bw == 0 || f->min_rtt_t == 0) {
		f->window = FLOW_WIN_INIT;
		f->chunk = FLOW_CHUNK_MIN;
		return;
	}
	bdp = bw * f->min_rtt / 1000000;
	ack = flow_max(f->ackb, FLOW_ROUNDS);
	if (f->probe_t != 0)
		w = bdp / 2;
	else if (f->sent == f->delivered)	/* for a burst from idle */
		w = bdp * FLOW_IDLE_GAIN + ack;
	else {	/* the path, and room for the ACK step behind it */
		w = bdp * FLOW_GAIN_NUM / FLOW_GAIN_DEN;
		if (w < bdp + ack)
			w = bdp + ack;
	}
	if (w < bw * FLOW_WIN_MIN_US / 1000000)
		w = bw * FLOW_WIN_MIN_US / 1000000;
	if (w < FLOW_WIN_MIN)
		w = FLOW_WIN_MIN;
	if (!f->path_bw && w < FLOW_WIN_INIT)
		w = FLOW_WIN_INIT;	/* only the program measured yet */
	if (w > FLOW_WIN_MAX)
		w = FLOW_WIN_MAX;
	f->window = (size_t)w;
	ch = bw * FLOW_CHUNK_US / 1000000;
	if (ch < FLOW_CHUNK_MIN)
		ch = FLOW_CHUNK_MIN;
	if (ch > FLOW_CHUNK_MAX)
		ch = FLOW_CHUNK_MAX;
	if (ch > f->window / 4)	/* frames in a pipeline, not one */
		ch = f->window / 4;
	f->chunk = (size_t)ch;
}

/*
 * Space the frames of a flow that outlived its first round trip at twice
 * the best rate measured, where a chunk takes 2 ms or more at that pace
 * (FLOW_PACE_MIN_US; poll() counts milliseconds): a slow link, up to 8
 * MB/s, not a fast one.  Sent all at once, the chunks an ACK lets go
 * reach sshd together, which sends them as one SSH packet of up to 32
 * KiB; the client can use none of it before the whole packet is in and
 * acknowledges it in one step, and the window, which holds the largest
 * step on top of the path's product, stays that large: at 1 Mbit/s a
 * Ctrl-C then waits behind twice what the path needs (issue 11 goal 1).
 * Spaced, each frame is its own small packet, the steps and so the window
 * shrink to the product, and the pace, twice the path's, never holds the
 * flow below what the path takes.  A burst from idle is not spaced: a
 * command's output goes at once, as before.
 */
static void
flow_pace(struct flow *f, uint64_t n, uint64_t now)
{
	uint64_t	bw = flow_max(f->bw, FLOW_ROUNDS) * FLOW_PACE_GAIN, gap;

	if (f->bubble || !f->path_bw || bw == 0 ||
	    (gap = n * 1000000 / bw) == 0 ||
	    f->chunk * 1000000 / bw < FLOW_PACE_MIN_US) {
		f->pace_t = 0;
		return;
	}
	if (f->pace_t == 0 || f->pace_t + gap < now)
		f->pace_t = now;	/* a frame late by less keeps time */
	f->pace_t += gap;
}

/* Milliseconds until the pace lets the next frame go, or -1 if it may. */
int
flow_pace_wait(const struct flow *f)
{
	uint64_t	now;

	if (f->pace_t == 0 || (now = flow_us()) >= f->pace_t)
		return -1;
	return (int)((f->pace_t - now + 999) / 1000);
}

/*
 * A DATA frame ending at off was queued; app: the program had nothing
 * more to write after it.
 */
void
flow_sent(struct flow *f, uint64_t off, int app)
{
	struct flow_mark	*m;
	uint64_t		 now = flow_us();
	int			 idle = f->sent == f->delivered;

	if (idle) {	/* time starts now */
		f->delivered_t = f->first_t = now;
		f->bubble = 1;
	}
	flow_pace(f, off - f->sent, now);
	f->sent = off;
	if (off - f->delivered > f->peak)
		f->peak = (size_t)(off - f->delivered);
	if (f->marks == NULL &&
	    (f->marks = calloc(FLOW_MARKS, sizeof *f->marks)) == NULL)
		return;		/* no sample from this frame */
	if (f->len == FLOW_MARKS)
		return;
	m = &f->marks[(f->head + f->len) % FLOW_MARKS];
	m->off = off;
	m->sent = now;
	m->delivered = f->delivered;
	m->delivered_t = f->delivered_t;
	m->first_t = f->first_t;
	m->app = app || f->bubble;
	m->idle = idle;
	f->len++;
}

/*
 * A round trip sample: keep the minimum; end or start a probe for it.
 * clean: the frame was sent from idle (no queue of ours ahead of it); if
 * it is within a quarter of the minimum, the minimum still holds and
 * needs no probe.  Not further: forwards share the link, and a queue of
 * theirs ahead of the frame must not become the terminal's minimum (the
 * forwards' own in-flight bound is sized from it, daemon-fwd.c).
 */
static void
flow_rtt(struct flow *f, uint64_t rtt, uint64_t ack, uint64_t now,
    int clean)
{
	if (f->min_rtt_t == 0 || rtt <= f->min_rtt) {
		f->min_rtt = rtt;
		f->min_rtt_t = now;
	} else if (clean && rtt <= f->min_rtt + f->min_rtt / 4) {
		f->min_rtt_t = now;
		f->probe_t = 0;
	}
	if (f->probe_t == 0 && now - f->min_rtt_t > FLOW_RTT_KEEP_US) {
		f->probe_t = now;	/* what was sent before drains first */
		f->probe_end = f->sent;
		f->probe_stage = 0;
		f->probe_min = UINT64_MAX;
		return;
	}
	if (f->probe_t == 0)
		return;
	if (f->probe_stage == 1 && rtt < f->probe_min)
		f->probe_min = rtt;
	if (ack < f->probe_end)
		return;
	if (f->probe_stage == 0) {	/* then a round at the small one */
		f->probe_stage = 1;
		f->probe_end = f->sent;
		return;
	}
	if (now - f->probe_t < FLOW_PROBE_US)
		return;
	if (f->probe_min != UINT64_MAX)
		f->min_rtt = f->probe_min;
	f->min_rtt_t = now;
	f->probe_t = 0;
}

/* One line at most a second while output flows, for --verbose and tests. */
static void
flow_log(struct flow *f, uint64_t now)
{
	if (now - f->log_t < FLOW_LOG_US)
		return;
	log_debug("flow: window %zu peak %zu rate %llu B/s min rtt %llu us "
	    "chunk %zu%s", f->window, f->peak,
	    (unsigned long long)flow_max(f->bw, FLOW_ROUNDS),
	    (unsigned long long)f->min_rtt, f->chunk,
	    f->probe_t != 0 ? " (probing rtt)" : "");
	f->log_t = now;
	f->peak = 0;
}

/*
 * The client acknowledged everything before ack (which moved forward):
 * measure, and return the window to hold.
 */
size_t
flow_acked(struct flow *f, uint64_t ack)
{
	struct flow_mark	 p;
	uint64_t		 now = flow_us(), iv, rate, *slot;
	uint64_t		 clean = 0;
	int			 got = 0;

	while (f->len > 0 && f->marks != NULL &&
	    f->marks[f->head].off <= ack) {
		p = f->marks[f->head];
		if (p.idle)
			clean = now - p.sent;
		got = 1;
		f->head = (f->head + 1) % FLOW_MARKS;
		f->len--;
	}
	/* A new round trip starts; not while the program writes little. */
	if (ack >= f->round_end && got && !p.app) {
		f->round++;
		f->round_end = f->sent;
		f->bw[f->round % FLOW_ROUNDS] = 0;
		f->ackb[f->round % FLOW_ROUNDS] = 0;
	}
	slot = &f->ackb[f->round % FLOW_ROUNDS];
	if (ack - f->delivered > *slot)
		*slot = ack - f->delivered;
	if (got) {
		iv = now - p.delivered_t;
		if (p.sent - p.first_t > iv)
			iv = p.sent - p.first_t;
		rate = iv == 0 ? 0 : (ack - p.delivered) * 1000000 / iv;
		slot = &f->bw[f->round % FLOW_ROUNDS];
		if (rate > *slot && (!p.app ||
		    rate > flow_max(f->bw, FLOW_ROUNDS)))
			*slot = rate;
		if (!p.app && rate > 0)
			f->path_bw = 1;
		if (clean != 0)
			flow_rtt(f, clean, ack, now, 1);
		flow_rtt(f, now - p.sent, ack, now, 0);
		f->first_t = p.sent;
	}
	if (ack > f->delivered)
		f->bubble = 0;
	f->delivered = ack;
	f->delivered_t = now;
	flow_size(f);
	flow_log(f, now);
	return f->window;
}
