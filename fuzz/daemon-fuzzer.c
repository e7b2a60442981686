/*
 * libFuzzer target for the session daemon's peer handling.  The input is a
 * script: each step opens or closes a peer, feeds a peer raw bytes or a
 * well-formed frame (HELLO new/attach/resume/info/kill with any offsets,
 * DATA, ACK, PING, RESIZE, DETACH), makes the fake program print or exit,
 * or lets time pass.  The daemon runs on socketpairs (peers and PTY) and
 * never learns it is not real.  After every step the session's invariants
 * must hold: output offsets in order, the input queue within the window,
 * no input past the last WINDOW; a crash or a leak is a finding.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "daemon-int.h"
#include "frame.h"
#include "log.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_PEERS	6

/* Stop with a crash the fuzzer records. */
#define fuzz_check(e) do {						\
	if (!(e))							\
		__builtin_trap();					\
} while (0)

struct fuzz {
	struct daemon	 d;
	struct peer	*peer[FUZZ_PEERS];
	int		 far[64];	/* test ends of every socketpair */
	int		 nfar;
	int		 ptyfar;
	uint64_t	 now;
	const uint8_t	*p;
	size_t		 n;
};

/* Next script byte (0 once the script is over). */
static uint8_t
fuzz_byte(struct fuzz *z)
{
	uint8_t	b;

	if (z->n == 0)
		return 0;
	b = *z->p++;
	z->n--;
	return b;
}

/* Next 16 script bits. */
static uint16_t
fuzz_u16(struct fuzz *z)
{
	uint16_t	v = fuzz_byte(z);

	return (uint16_t)(v << 8 | fuzz_byte(z));
}

/* Whether p is still one of the daemon's peers. */
static int
fuzz_live(struct fuzz *z, const struct peer *p)
{
	int	i;

	for (i = 0; i < z->d.npeers; i++)
		if (z->d.peers[i] == p)
			return 1;
	return 0;
}

/* The peer slot k names, or NULL if empty or freed. */
static struct peer *
fuzz_peer(struct fuzz *z, uint8_t k)
{
	struct peer	*p = z->peer[k % FUZZ_PEERS];

	if (p != NULL && !fuzz_live(z, p))
		p = z->peer[k % FUZZ_PEERS] = NULL;
	return p;
}

/* Open a peer in slot k. */
static void
fuzz_open(struct fuzz *z, uint8_t k)
{
	int	sv[2];

	if (z->nfar == (int)(sizeof z->far / sizeof z->far[0]) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
		return;
	z->far[z->nfar++] = sv[1];
	z->peer[k % FUZZ_PEERS] = daemon_add_peer(&z->d, sv[0], z->now);
}

/* A HELLO from the script: op, flags and out_have are the script's. */
static void
fuzz_hello(struct fuzz *z, struct buf *b)
{
	struct msg_hello	h;
	char			id[] = "fz";

	memset(&h, 0, sizeof h);
	h.version = PROTO_VERSION;
	h.op = fuzz_byte(z) % 7;
	h.flags = fuzz_byte(z) & 3;
	h.client_id = fuzz_byte(z) % 3;
	h.out_have = z->d.out.end - (fuzz_byte(z) % 4) * 1000 +
	    (fuzz_byte(z) % 3);
	h.rows = fuzz_byte(z);
	h.cols = fuzz_byte(z);
	h.id = id;
	proto_hello_put(b, &h);
}

/* A frame of the script's choosing, well formed except where it says. */
static void
fuzz_frame(struct fuzz *z, struct buf *b)
{
	uint8_t		 t = fuzz_byte(z), tmp[600];
	uint64_t	 off;
	size_t		 len;

	switch (t % 8) {
	case 0:
		fuzz_hello(z, b);
		break;
	case 1:
		off = z->d.in_have - (fuzz_byte(z) % 4) * 100 +
		    (fuzz_byte(z) % 2);
		len = fuzz_u16(z) % sizeof tmp;
		memset(tmp, 'i', len);
		proto_data_put(b, off, tmp, len);
		break;
	case 2:
		off = z->d.sent - (fuzz_byte(z) % 4) * 500 + (fuzz_byte(z) % 2);
		proto_u64_put(b, MSG_ACK, off);
		break;
	case 3:
		proto_u64_put(b, MSG_PING, fuzz_byte(z));
		break;
	case 4:
		proto_resize_put(b, fuzz_byte(z), fuzz_byte(z));
		break;
	case 5:
		frame_put(b, MSG_DETACH, NULL, 0);
		break;
	default:
		len = fuzz_byte(z) % 32;
		for (size_t i = 0; i < len; i++)
			tmp[i] = fuzz_byte(z);
		frame_put(b, t % 16, tmp, len);
		break;
	}
}

/* Feed peer k a frame (or raw script bytes). */
static void
fuzz_feed(struct fuzz *z, uint8_t k, int raw)
{
	struct peer	*p = fuzz_peer(z, k);
	struct buf	 b;
	size_t		 len;

	if (p == NULL)
		return;
	buf_init(&b, 0);
	if (raw) {
		len = fuzz_byte(z);
		if (len > z->n)
			len = z->n;
		buf_put(&b, z->p, len);
		z->p += len;
		z->n -= len;
	} else
		fuzz_frame(z, &b);
	if (buf_len(&b) > 0)
		daemon_feed(&z->d, p, buf_ptr(&b), buf_len(&b), z->now);
	buf_free(&b);
}

/* The fake program prints n bytes (whatever its PTY takes). */
static void
fuzz_print(struct fuzz *z, size_t n)
{
	uint8_t	tmp[4096];

	memset(tmp, 'o', sizeof tmp);
	if (n > sizeof tmp)
		n = sizeof tmp;
	if (z->ptyfar != -1 && write(z->ptyfar, tmp, n) < 0) {
		/* full: the program blocks */
	}
	daemon_read_pty(&z->d, z->now);
}

/* Let ms pass: timers, queued frames, the PTY and the peers' far ends. */
static void
fuzz_turn(struct fuzz *z, uint64_t ms)
{
	uint8_t	tmp[65536];
	int	i;

	z->now += ms;
	daemon_tick(&z->d, z->now);
	daemon_write_pty(&z->d);
	while (z->ptyfar != -1 && read(z->ptyfar, tmp, sizeof tmp) > 0)
		;
	for (i = 0; i < z->d.npeers; i++)
		if (peer_flush(z->d.peers[i], z->now) != 0)
			daemon_drop(&z->d, z->d.peers[i], NULL);
	for (i = 0; i < z->nfar; i++)
		while (read(z->far[i], tmp, sizeof tmp) > 0)
			;
	daemon_sweep(&z->d);
}

/* What must hold after every step. */
static void
fuzz_invariants(struct fuzz *z)
{
	const struct daemon	*d = &z->d;

	fuzz_check(d->out.start <= d->out.end);
	fuzz_check(ring_len(&d->out) <= d->out.max);
	fuzz_check(d->npeers >= 0 && d->npeers <= DAEMON_MAX_PEERS);
	fuzz_check(buf_len(&d->pty_in) <= d->in_window);
	fuzz_check(d->in_have <= d->in_limit);
	if (d->client != NULL) {
		fuzz_check(fuzz_live(z, d->client));
		fuzz_check(d->acked <= d->sent && d->sent <= d->out.end);
		fuzz_check(d->out.start <= d->sent);
	}
}

/* Run one step of the script. */
static void
fuzz_step(struct fuzz *z)
{
	uint8_t		 op = fuzz_byte(z), k = fuzz_byte(z);
	struct peer	*p;

	switch (op % 10) {
	case 0:
		fuzz_open(z, k);
		break;
	case 1:
		if ((p = fuzz_peer(z, k)) != NULL) {
			daemon_drop(&z->d, p, "closed");
			daemon_sweep(&z->d);
		}
		break;
	case 2:
		fuzz_feed(z, k, 1);
		break;
	case 3:
	case 4:
	case 5:
		fuzz_feed(z, k, 0);
		break;
	case 6:
		fuzz_print(z, (size_t)k * 64);
		break;
	case 7:
		if (k % 4 == 0 && !z->d.child_done) {
			z->d.child_done = 1;	/* the program exits */
			z->d.status = k;
			z->d.drain_at = z->now + DRAIN_MS;
		}
		if (k % 8 == 1 && z->ptyfar != -1) {
			close(z->ptyfar);	/* every slave fd is closed */
			z->ptyfar = -1;
			z->d.pty_hup = 1;
			daemon_read_pty(&z->d, z->now);
		}
		fuzz_turn(z, 0);
		break;
	default:
		fuzz_turn(z, (uint64_t)k * k * 10);
		break;
	}
}

/* One input: a whole session's life. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz	z;
	int			sv[2], i;

	log_init("fuzz", LOG_QUIET, NULL);
	signal(SIGPIPE, SIG_IGN);
	memset(&z, 0, sizeof z);
	z.now = clock_ms();
	daemon_init(&z.d, 16 * 1024, z.now);
	z.d.in_window = 4096;		/* small, so limits are reached */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
		abort();
	z.d.ptyfd = sv[0];
	z.ptyfar = sv[1];
	z.p = data;
	z.n = size;
	while (z.n > 0 && !z.d.quit) {
		fuzz_step(&z);
		fuzz_invariants(&z);
	}
	daemon_free(&z.d);
	if (z.ptyfar != -1)
		close(z.ptyfar);
	for (i = 0; i < z.nfar; i++)
		close(z.far[i]);
	return 0;
}
