/*
 * The daemon's model of the session's screen (vt.c), kept off the byte
 * path: output is copied into a second ring (vt_in) as it is read from the
 * PTY and the model reads that ring behind the live stream, for at most
 * VT_BUDGET_US per turn of the poll loop.  If it falls so far behind that
 * the ring overwrites bytes it has not read, it starts again from what the
 * ring still holds on a reset screen (the older state is unknown).
 *
 * In a flood (more output than the model reads, e.g. `cat` of a large
 * file) the model waits until the flood pauses instead of burning a CPU
 * on output that will scroll away: the ring overflows and the model
 * starts again from its tail, as it would anyway, and the CPU is left to
 * the processes that carry the bytes (ssh, sshd, the relay, the client).
 *
 * A client that attaches afresh, takes over, or comes back after more
 * output than the session keeps gets a snapshot (MSG_SCREEN): the bytes
 * that rebuild the screen, with the lines that scrolled off first, for the
 * offset the model has read; the stream goes on from there.
 *
 * A detached session with no output for VT_SLEEP_MS lets its model sleep
 * (vt_sleep(): libvterm's cells freed, the state kept as the bytes that
 * rebuild it exactly), frees the model's input ring and gives the memory
 * back; the next output or attach wakes it.  Most of an idle daemon's
 * private memory was the model's cells.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "compat.h"
#include "daemon-int.h"
#include "err.h"
#include "log.h"
#include "vt.h"

/* Monotonic microseconds, for the model's time budget. */
static uint64_t
daemon_screen_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * Set up the model's input ring (as large as the output ring, at most
 * VT_BACKLOG: a model further behind than that starts again rather than
 * spend seconds of CPU and megabytes on output that scrolled away).  The
 * model itself is made on first use, when the size is known.
 * LIMPET_SCREEN=off in the daemon's environment turns it off (for
 * measurements).
 */
void
daemon_screen_init(struct daemon *d, size_t ring)
{
	const char	*s = getenv("LIMPET_SCREEN");

	ring_init(&d->vt_in, ring < VT_BACKLOG ? ring : VT_BACKLOG, 0);
	d->vt = NULL;
	d->vt_nrs = 0;
	d->vt_dropped = d->vt_gap = 0;
	d->vt_off = s != NULL && strcmp(s, "off") == 0;
	d->trimmed = 0;
	d->vt_out_ms = clock_ms();
	d->vt_awake = 0;
	d->vt_sleep_ms = VT_SLEEP_MS;
#ifdef LIMPET_TEST_HOOKS
	/* Test builds only: a model that sleeps soon enough for a test. */
	if ((s = getenv("LIMPET_TEST_VT_SLEEP_MS")) != NULL)
		d->vt_sleep_ms = strtoull(s, NULL, 10);
#endif
}

/* Free the model. */
void
daemon_screen_free(struct daemon *d)
{
	vt_free(d->vt);
	d->vt = NULL;
	ring_free(&d->vt_in);
}

/* Output read from the PTY: queue it for the model (a copy, no parsing). */
void
daemon_screen_out(struct daemon *d, const void *p, size_t n)
{
	if (d->vt_off)
		return;
	if (d->vt_in.end != d->out.end - n) {
		/* Out of step (bytes put in the ring by hand): start over. */
		d->vt_gap += d->out.end - n - d->vt_in.end;
		ring_free(&d->vt_in);
		ring_init(&d->vt_in, d->vt_in.max, d->out.end - n);
		d->vt_dropped = 0;
		d->vt_resync = 1;
	}
	ring_append(&d->vt_in, p, n, 1);
	d->trimmed = 0;
	d->vt_out_ms = clock_ms();
	d->vt_awake = 0;
}

/* The PTY's size changed (to d->rows, d->cols) at the current offset. */
void
daemon_screen_resized(struct daemon *d)
{
	struct vt_resize	*r;

	if (d->vt_off)
		return;
	if (d->vt_nrs > 0 &&
	    d->vt_rs[d->vt_nrs - 1].off == d->out.end)
		d->vt_nrs--;		/* replaced at the same offset */
	else if (d->vt_nrs == VT_RESIZES) {
		/* Lagging a lot: the oldest change stops mattering. */
		memmove(d->vt_rs, d->vt_rs + 1, sizeof d->vt_rs[0] *
		    (VT_RESIZES - 1));
		d->vt_nrs--;
	}
	r = &d->vt_rs[d->vt_nrs++];
	r->off = d->out.end;
	r->rows = d->rows;
	r->cols = d->cols;
}

/* Whether the model has output left to read. */
int
daemon_screen_busy(const struct daemon *d)
{
	return !d->vt_off && (ring_len(&d->vt_in) > 0 ||
	    d->vt_dropped != d->vt_in.dropped || d->vt_resync);
}

/*
 * Whether the model should wait: output floods in (more than VT_FLOOD
 * bytes in the last VT_RATE_MS) and the model is VT_LAG behind already.
 * A model that keeps up is fed as the bytes come, so short bursts and
 * steady output stay exact.
 */
static int
daemon_screen_flooded(struct daemon *d, uint64_t now)
{
	uint64_t	end = d->vt_in.end;

	if (now - d->vt_rate_t >= VT_RATE_MS) {
		d->vt_flood = end > d->vt_rate_off &&
		    end - d->vt_rate_off >= VT_FLOOD;
		d->vt_rate_off = end;
		d->vt_rate_t = now;
	}
	return d->vt_flood && ring_len(&d->vt_in) > VT_LAG;
}

/* Whether the model is one to put to sleep once output has paused. */
static int
daemon_screen_sleepy(const struct daemon *d)
{
	return d->vt != NULL && vt_asleep(d->vt) == 0 && !d->vt_awake &&
	    d->npeers == 0;
}

/*
 * How long the poll loop may sleep for the model's sake (ms): 0 when it
 * has output to read now, until the flood is judged again while it
 * waits, -1 when it has nothing to do.
 */
int
daemon_screen_wait(struct daemon *d, uint64_t now)
{
	if (!daemon_screen_busy(d))
		return daemon_screen_sleepy(d) ? (int)(d->vt_out_ms +
		    d->vt_sleep_ms > now ? d->vt_out_ms + d->vt_sleep_ms -
		    now : 0) : -1;
	if (!daemon_screen_flooded(d, now))
		return 0;
	return (int)(d->vt_rate_t + VT_RATE_MS - now);
}

/* Make the model if there is none; start it again after an overflow. */
static void
daemon_screen_ready(struct daemon *d)
{
	if (d->vt == NULL)
		d->vt = vt_new(d->rows != 0 ? d->rows : 24,
		    d->cols != 0 ? d->cols : 80, d->out.max);
	else if (vt_asleep(d->vt) != 0) {
		vt_wake(d->vt);
		log_debug("screen model awake");
	}
	if (d->vt_dropped != d->vt_in.dropped || d->vt_resync) {
		d->vt_gap += d->vt_in.dropped - d->vt_dropped;
		d->vt_dropped = d->vt_in.dropped;
		d->vt_resync = 0;
		vt_reset(d->vt);
		log_info("screen model fell behind: starting again at %llu",
		    (unsigned long long)d->vt_in.start);
	}
	/* Size changes the model has passed (or that the overflow ate). */
	while (d->vt_nrs > 0 && d->vt_rs[0].off <= d->vt_in.start) {
		vt_resize(d->vt, d->vt_rs[0].rows, d->vt_rs[0].cols);
		memmove(d->vt_rs, d->vt_rs + 1, sizeof d->vt_rs[0] *
		    (size_t)(d->vt_nrs - 1));
		d->vt_nrs--;
	}
}

/* Feed the model at most n bytes (stopping at a size change). */
static void
daemon_screen_piece(struct daemon *d, size_t n)
{
	const uint8_t	*p;
	size_t		 k;

	daemon_screen_ready(d);
	if ((k = ring_peek(&d->vt_in, d->vt_in.start, &p)) == 0)
		return;
	if (k > n)
		k = n;
	if (d->vt_nrs > 0 && d->vt_rs[0].off - d->vt_in.start < k)
		k = (size_t)(d->vt_rs[0].off - d->vt_in.start);
	vt_set_tag(d->vt, d->vt_in.start + k);
	vt_feed(d->vt, p, k);
	ring_ack(&d->vt_in, d->vt_in.start + k);
	daemon_screen_ready(d);
}

/*
 * A detached session whose model has read all output may sit idle for
 * days: give the memory freed since its last output (a flood's buffers,
 * the model's scratch) back to the kernel, once per burst of output.
 */
static void
daemon_screen_trim(struct daemon *d)
{
	if (d->trimmed || d->npeers > 0)
		return;
	compat_trim();
	d->trimmed = 1;
}

/*
 * A detached session whose model read everything and saw no output for
 * vt_sleep_ms: the model sleeps, its empty input ring is freed (it comes
 * back with the next output) and the heap is trimmed.  A model that
 * cannot sleep (vt_sleep()) is not asked again until more output.
 */
static void
daemon_screen_sleep(struct daemon *d)
{
	size_t	before;

	if (!daemon_screen_sleepy(d) || clock_ms() - d->vt_out_ms <
	    d->vt_sleep_ms)
		return;
	before = vt_sb_bytes(d->vt);
	if (vt_sleep(d->vt) != 0) {
		d->vt_awake = 1;
		log_debug("screen model stays awake (state it cannot keep "
		    "asleep)");
		return;
	}
	ring_free(&d->vt_in);
	log_debug("screen model asleep: %zu bytes (and %zu of scrollback)",
	    vt_asleep(d->vt), before);
	d->trimmed = 0;
}

/*
 * One turn of the loop: feed the model for at most VT_BUDGET_US when
 * nothing else was ready (idle), VT_BUSY_US when bytes are flowing, so
 * that the model never holds up the byte path for long.
 */
void
daemon_screen_step(struct daemon *d, int idle)
{
	uint64_t	t0, budget = idle ? VT_BUDGET_US : VT_BUSY_US;

	if (!daemon_screen_busy(d)) {
		daemon_screen_sleep(d);
		daemon_screen_trim(d);
		return;
	}
	if (daemon_screen_flooded(d, clock_ms()))
		return;
	t0 = daemon_screen_us();
	do {
		daemon_screen_piece(d, VT_PIECE);
	} while (ring_len(&d->vt_in) > 0 &&
	    daemon_screen_us() - t0 < budget);
}

/*
 * Whether HELLO h gets a snapshot: a peer that knows MSG_SCREEN attaching
 * afresh (or taking over), or resuming from output the ring no longer
 * holds.
 */
int
daemon_screen_wanted(const struct daemon *d, const struct msg_hello *h)
{
	if (d->vt_off || !PROTO_HAS_SCREEN(h->version) ||
	    h->op != OP_ATTACH)
		return 0;
	if (!(h->flags & HELLO_RESUME))
		return 1;
	return h->out_have < d->out.start;
}

/*
 * Bring the model up to date for a snapshot, for at most VT_CATCHUP_MS.
 * The stream after the snapshot comes from the output ring, so the model
 * must have read at least up to the oldest output still held there; if it
 * has not by then, it starts again from there on a reset screen (as after
 * an overflow: the older state is unknown, and the client is told).
 * Returns the offset the model stands for.
 */
uint64_t
daemon_screen_sync(struct daemon *d)
{
	uint64_t	t0 = clock_ms();

	daemon_screen_ready(d);
	while (ring_len(&d->vt_in) > 0 && clock_ms() - t0 < VT_CATCHUP_MS)
		daemon_screen_piece(d, 16 * VT_PIECE);
	if (d->vt_in.start < d->out.start) {
		log_info("screen model behind the ring at attach: %llu bytes "
		    "skipped", (unsigned long long)(d->out.start -
		    d->vt_in.start));
		d->vt_gap += d->out.start - d->vt_in.start;
		ring_ack(&d->vt_in, d->out.start);
		d->vt_resync = 1;
		daemon_screen_ready(d);
	}
	return d->vt_in.start;
}

/*
 * The program in the session's foreground, for the attach notice: the
 * PTY's foreground process group's name where /proc tells, else the
 * session's command ("shell" for the login shell).
 */
static void
daemon_screen_program(struct daemon *d, char *out, size_t len)
{
	char	path[64];
	pid_t	pg;
	int	fd;
	ssize_t	n;

	snprintf(out, len, "%s", d->command != NULL && *d->command != '\0' ?
	    d->command : "shell");
	if (d->ptyfd == -1 || (pg = tcgetpgrp(d->ptyfd)) <= 0)
		return;
	snprintf(path, sizeof path, "/proc/%ld/comm", (long)pg);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, out, len - 1);
	close(fd);
	if (n <= 0) {
		snprintf(out, len, "%s", "shell");
		return;
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/*
 * Queue the snapshot for peer p (after its WELCOME, whose out_start was
 * daemon_screen_sync()'s offset): SCREEN frames of at most SCREEN_CHUNK
 * bytes, the last one flagged final, with the bottom row's repaint (to
 * take the client's notice away), the idle time and the program.  Unless
 * the client was told already (told), GAP says the model missed output.
 */
void
daemon_screen_send(struct daemon *d, struct peer *p,
    const struct msg_hello *h, int told)
{
	struct buf		 snap, row;
	struct msg_screen	 m;
	const uint8_t		*s;
	size_t			 left, k;
	uint64_t		 wall = clock_wall();
	int			 rows, cols;
	char			 prog[64];

	buf_init(&snap, BUF_MAX_DEFAULT);
	buf_init(&row, BUF_MAX_DEFAULT);
	/*
	 * A client that resumes has the lines up to out_have: it gets the
	 * ones that scrolled off later, on a cleared screen (what it shows
	 * is among them or still on the screen).
	 */
	if (h->flags & HELLO_RESUME)
		vt_render(d->vt, &snap, h->out_have, VT_SCROLLBACK |
		    VT_CLEAR);
	else
		vt_render(d->vt, &snap, 0, VT_SCROLLBACK);
	vt_size(d->vt, &rows, &cols);
	vt_render_row(d->vt, rows - 1, &row);
	daemon_screen_program(d, prog, sizeof prog);
	memset(&m, 0, sizeof m);
	m.off = d->vt_in.start;
	m.flags = d->vt_gap > 0 && !told ? SCREEN_GAP : 0;
	m.program = prog;
	s = buf_ptr(&snap);
	left = buf_len(&snap);
	do {
		k = left > SCREEN_CHUNK ? SCREEN_CHUNK : left;
		m.p = s;
		m.len = k;
		s += k;
		left -= k;
		if (left == 0) {
			m.flags |= SCREEN_FINAL;
			m.idle = wall > d->active ? (uint32_t)(wall -
			    d->active) : 0;
			m.row = buf_ptr(&row);
			m.rowlen = buf_len(&row);
		}
		if (proto_screen_put(&p->out, &m) != 0)
			break;
	} while (left > 0);
	log_info("snapshot of %zu bytes at %llu (%zu scrollback lines)",
	    buf_len(&snap), (unsigned long long)m.off, vt_sb_lines(d->vt));
	buf_free(&snap);
	buf_free(&row);
}
