/*
 * The output window (daemon-flow.c): sized from the delivery rate and the
 * round trip it measures, never below its floors nor above its ceiling,
 * and not shrunk by a program that writes little.  The window's clock is
 * the real one, so the "link" here is a few milliseconds of sleep; every
 * bound checked holds however much slower a loaded machine makes it.
 */
#include <string.h>
#include <time.h>

#include "unit.h"

#include "daemon-flow.h"

/* Sleep ms milliseconds. */
static void
nap(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1)
		;
}

/* Frames of n bytes, each acknowledged ms later, k times from *off. */
static size_t
link_run(struct flow *f, uint64_t *off, size_t n, long ms, int k, int app)
{
	size_t	w = f->window;

	while (k-- > 0) {
		*off += n;
		flow_sent(f, *off, app);
		nap(ms);
		w = flow_acked(f, *off);
	}
	return w;
}

/*
 * As link_run(), but with a frame always in flight ahead of the one
 * acknowledged: a flow that does not go idle between frames (each frame
 * of link_run() is sent from idle, which measures the program).
 */
static size_t
link_pipe(struct flow *f, uint64_t *off, size_t n, long ms, int k)
{
	*off += n;
	flow_sent(f, *off, 0);
	while (k-- > 0) {
		*off += n;
		flow_sent(f, *off, 0);
		nap(ms);
		flow_acked(f, *off - n);
	}
	nap(ms);
	return flow_acked(f, *off);
}

/* Nothing measured: the initial window and the smallest frames. */
static void
test_initial(void **state)
{
	struct flow	f;

	(void)state;
	memset(&f, 0, sizeof f);
	flow_reset(&f, 1000);
	assert_int_equal(f.window, FLOW_WIN_INIT);
	assert_int_equal(f.chunk, FLOW_CHUNK_MIN);
	assert_int_equal(f.sent, 1000);
	assert_int_equal(f.delivered, 1000);
	/* Marks exist while frames fly, not after a reset (detach). */
	assert_null(f.marks);
	flow_sent(&f, 5000, 0);
	assert_non_null(f.marks);
	flow_reset(&f, 5000);
	assert_null(f.marks);
	flow_free(&f);
}

/*
 * A slow link: 4 KiB every 5 ms or more (<= 800 KB/s), 5 ms or more of
 * round trip.  Frames sent from idle measure the program: the initial
 * window holds.  A flow with a frame always in flight measures the link:
 * the window leaves the initial guess for something near the floors (40
 * ms of the rate, 16 KiB), and frames stay small.
 */
static void
test_slow_link(void **state)
{
	struct flow	f;
	uint64_t	off = 0;
	size_t		w;

	(void)state;
	memset(&f, 0, sizeof f);
	flow_reset(&f, 0);
	w = link_run(&f, &off, 4096, 5, 20, 0);
	assert_int_equal(w, FLOW_WIN_INIT);
	w = link_pipe(&f, &off, 4096, 5, 20);
	assert_true(w >= FLOW_WIN_MIN);
	assert_true(w < 64 * 1024);
	assert_true(f.min_rtt >= 5000);
	assert_true(f.chunk >= FLOW_CHUNK_MIN);
	assert_true(f.chunk <= w / 4 || f.chunk == FLOW_CHUNK_MIN);
	flow_free(&f);
}

/*
 * A slow link measured by a flow that stays busy: the next frame waits
 * for the pace (twice the rate: a 4 KiB frame at <= 800 KB/s is >= 2.5
 * ms), and goes once that passed.  A burst from idle goes at once, and a
 * fast link (1 MiB frames every 5 ms, >= 200 MB/s) is never paced.
 */
static void
test_slow_flow_is_paced(void **state)
{
	struct flow	f;
	uint64_t	off = 0;
	int		w;

	(void)state;
	memset(&f, 0, sizeof f);
	flow_reset(&f, 0);
	link_pipe(&f, &off, 4096, 5, 20);
	assert_int_equal(flow_pace_wait(&f), -1);	/* idle: at once */
	off += 4096;
	flow_sent(&f, off, 0);		/* from idle: the bubble */
	assert_int_equal(flow_pace_wait(&f), -1);
	nap(5);
	flow_acked(&f, off - 2048);
	off += 4096;
	flow_sent(&f, off, 0);		/* mid-flow: paced */
	w = flow_pace_wait(&f);
	assert_true(w >= 1);
	assert_true(w <= 1000);
	nap(w + 1);
	assert_int_equal(flow_pace_wait(&f), -1);
	flow_free(&f);

	memset(&f, 0, sizeof f);
	flow_reset(&f, 0);
	off = 0;
	link_pipe(&f, &off, 1024 * 1024, 5, 10);
	off += 1024 * 1024;
	flow_sent(&f, off, 0);
	nap(5);
	flow_acked(&f, off - 4096);
	off += 32 * 1024;
	flow_sent(&f, off, 0);
	assert_int_equal(flow_pace_wait(&f), -1);
	flow_free(&f);
}

/*
 * A program that writes a line now and then after a flood: its slow,
 * app-limited samples do not shrink the rate the flood measured.
 */
static void
test_app_limited_keeps_rate(void **state)
{
	struct flow	f;
	uint64_t	off = 0;
	size_t		w0, w1;

	(void)state;
	memset(&f, 0, sizeof f);
	flow_reset(&f, 0);
	w0 = link_run(&f, &off, 32768, 2, 20, 0);
	w1 = link_run(&f, &off, 10, 20, 12, 1);
	assert_true(w1 * 2 >= w0);
	flow_free(&f);
}

/*
 * ACKs that end inside a frame, and more frames in flight than marks:
 * offsets still move and the window stays within its bounds.
 */
static void
test_partial_and_many(void **state)
{
	struct flow	f;
	uint64_t	off = 0;
	size_t		w;
	int		i;

	(void)state;
	memset(&f, 0, sizeof f);
	flow_reset(&f, 0);
	for (i = 0; i < FLOW_MARKS + 100; i++) {
		off += 100;
		flow_sent(&f, off, 0);
	}
	w = flow_acked(&f, 50);
	assert_true(w >= FLOW_WIN_MIN && w <= FLOW_WIN_MAX);
	w = flow_acked(&f, off - 10);
	assert_true(w >= FLOW_WIN_MIN && w <= FLOW_WIN_MAX);
	w = flow_acked(&f, off);
	assert_true(w >= FLOW_WIN_MIN && w <= FLOW_WIN_MAX);
	assert_int_equal(f.len, 0);
	assert_int_equal(f.delivered, off);
	flow_free(&f);
}

/*
 * A prompt and an echo (app-limited, a few bytes) measure the program:
 * the window stays at the initial one until a rate the program did not
 * limit comes, and then may go under it (a slow link).
 */
static void
test_app_only_keeps_initial(void **state)
{
	struct flow	f;
	uint64_t	off = 0;
	size_t		w;

	(void)state;
	memset(&f, 0, sizeof f);
	flow_reset(&f, 0);
	w = link_run(&f, &off, 20, 5, 10, 1);
	assert_true(w >= FLOW_WIN_INIT);
	assert_int_equal(f.path_bw, 0);
	w = link_pipe(&f, &off, 4096, 5, 20);
	assert_int_equal(f.path_bw, 1);
	assert_true(w < FLOW_WIN_INIT);
	flow_free(&f);
}

/*
 * After the minimum round trip is 10 s old, a frame sent from idle
 * refreshes it (no queue of ours was ahead of it): no probe, the window
 * stays.  A frame sent behind another does start the probe.
 */
static void
test_idle_frame_is_the_probe(void **state)
{
	struct flow	f;
	uint64_t	off = 0;
	size_t		w0, w;

	(void)state;
	memset(&f, 0, sizeof f);
	flow_reset(&f, 0);
	w0 = link_run(&f, &off, 32768, 2, 20, 0);
	/* A sample after 100 ms is within a quarter (up to 124.75 ms). */
	f.min_rtt = 99800;
	f.min_rtt_t -= FLOW_RTT_KEEP_US + 1000000;
	w = link_run(&f, &off, 32768, 100, 1, 0);	/* from idle */
	assert_int_equal(f.probe_t, 0);
	assert_int_equal(f.min_rtt, 99800);
	assert_true(w * 4 >= w0 * 3);
	f.min_rtt = 5000;	/* 20 ms is far above: probe after all */
	f.min_rtt_t -= FLOW_RTT_KEEP_US + 1000000;
	link_run(&f, &off, 32768, 20, 1, 0);
	assert_true(f.probe_t != 0);
	f.probe_t = 0;
	f.min_rtt = 2000;
	f.min_rtt_t = 0;
	link_run(&f, &off, 32768, 2, 1, 0);
	/*
	 * Below any sample of the 2 ms frames below, however late the
	 * machine runs them: the second's sample cannot refresh it.
	 */
	f.min_rtt = 1900;
	off += 32768;
	flow_sent(&f, off, 0);		/* from idle */
	off += 32768;
	flow_sent(&f, off, 0);		/* behind it */
	nap(2);
	flow_acked(&f, off - 32768);
	assert_int_equal(f.probe_t, 0);
	f.min_rtt_t -= FLOW_RTT_KEEP_US + 1000000;
	flow_acked(&f, off);
	assert_true(f.probe_t != 0);
	flow_free(&f);
}

/*
 * A flood measures the path; then commands whose output fits in the
 * window, each from idle and acknowledged slowly (a TCP retransmission
 * stretched it): they measure the burst, not the path, and must not
 * shrink the window the flood measured, however many come.
 */
static void
test_bursts_from_idle_keep_rate(void **state)
{
	struct flow	f;
	uint64_t	off = 0;
	size_t		w0, w;
	int		i;

	(void)state;
	memset(&f, 0, sizeof f);
	flow_reset(&f, 0);
	w0 = link_pipe(&f, &off, 32768, 2, 20);
	for (i = 0; i < 2 * FLOW_ROUNDS; i++) {
		off += 32768;
		flow_sent(&f, off, 0);
		off += 32768;
		flow_sent(&f, off, 1);
		nap(30);
		flow_acked(&f, off - 32768);
		w = flow_acked(&f, off);
	}
	assert_true(w * 2 >= w0);
	flow_free(&f);
}

/* The largest of a flow's per-round values (its rates or ACK steps). */
static uint64_t
rounds_max(const uint64_t *v)
{
	uint64_t	m = 0;
	int		i;

	for (i = 0; i < FLOW_ROUNDS; i++)
		if (v[i] > m)
			m = v[i];
	return m;
}

/* The best rate f measured. */
static uint64_t
flow_bw(const struct flow *f)
{
	return rounds_max(f->bw);
}

/* The path's bandwidth-delay product as f measured it. */
static uint64_t
flow_bdp(const struct flow *f)
{
	return flow_bw(f) * f->min_rtt / 1000000;
}

/*
 * Once all output is acknowledged, the next command's output may have
 * FLOW_IDLE_GAIN x the path in flight (the transport paces it, nothing
 * of ours is queued); the first ACK of that burst brings the usual gain
 * back, so a flood does not keep the larger window.  Round trips of 50
 * ms: the window is then more than its 40 ms floor of the rate.
 */
static void
test_idle_window_has_room(void **state)
{
	struct flow	f;
	uint64_t	off = 0, bdp;
	size_t		idle, busy;

	(void)state;
	memset(&f, 0, sizeof f);
	flow_reset(&f, 0);
	idle = link_pipe(&f, &off, 16384, 50, 8);
	bdp = flow_bdp(&f);
	assert_true(bdp > 0);
	assert_int_equal(f.probe_t, 0);
	assert_true(idle >= FLOW_IDLE_GAIN * bdp);
	off += 16384;
	flow_sent(&f, off, 0);		/* from idle */
	off += 16384;
	flow_sent(&f, off, 0);		/* behind it: a flood */
	nap(50);
	busy = flow_acked(&f, off - 16384);
	bdp = flow_bdp(&f);
	assert_true(busy < idle);
	assert_true(busy < FLOW_IDLE_GAIN * bdp);
	flow_free(&f);
}

/*
 * Under a flood the window is twice the path, or the path plus the
 * largest ACK step if that is more (a 1 Mbit/s link's product is less
 * than the 16 KiB step): never the sum of both, which only queues a
 * step more ahead of a Ctrl-C.
 */
static void
test_busy_window_covers_ack_step(void **state)
{
	struct flow	f;
	uint64_t	off = 0, bdp, ackb, want;
	size_t		busy;

	(void)state;
	memset(&f, 0, sizeof f);
	flow_reset(&f, 0);
	link_pipe(&f, &off, 16384, 50, 8);
	off += 16384;
	flow_sent(&f, off, 0);
	off += 16384;
	flow_sent(&f, off, 0);
	nap(50);
	busy = flow_acked(&f, off - 16384);
	bdp = flow_bdp(&f);
	ackb = rounds_max(f.ackb);
	assert_true(ackb >= 16384);
	want = 2 * bdp > bdp + ackb ? 2 * bdp : bdp + ackb;
	if (want < FLOW_WIN_MIN)
		want = FLOW_WIN_MIN;
	if (want < flow_bw(&f) * FLOW_WIN_MIN_US / 1000000)
		want = flow_bw(&f) * FLOW_WIN_MIN_US / 1000000;
	assert_int_equal(busy, want);
	assert_true(busy < 2 * bdp + ackb);
	flow_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial),
		cmocka_unit_test(test_slow_link),
		cmocka_unit_test(test_slow_flow_is_paced),
		cmocka_unit_test(test_app_limited_keeps_rate),
		cmocka_unit_test(test_partial_and_many),
		cmocka_unit_test(test_app_only_keeps_initial),
		cmocka_unit_test(test_idle_frame_is_the_probe),
		cmocka_unit_test(test_bursts_from_idle_keep_rate),
		cmocka_unit_test(test_idle_window_has_room),
		cmocka_unit_test(test_busy_window_covers_ack_step),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
