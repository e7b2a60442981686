/*
 * Unit tests for the daemon's end of pipe sessions (daemon-pipe.c),
 * driven without a program: the "program's" stdin, stdout and stderr are
 * pipes the test holds the other ends of, peers are socketpairs.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "buf.h"
#include "daemon-int.h"
#include "err.h"
#include "frame.h"
#include "pipe.h"
#include "proto.h"
#include "xmalloc.h"

#define T0	1000000

struct fix {
	struct daemon	d;
	int		prog[3];	/* the program's ends of its pipes */
	int		far[32];
	int		nfar;
};

/* A pipe session with no program: the test is the program. */
static void
fix_init(struct fix *x, int pipes)
{
	struct dpipe	*dp;
	int		 pp[2], i;

	memset(x, 0, sizeof *x);
	daemon_init(&x->d, 64 * 1024, T0);
	x->prog[0] = x->prog[1] = x->prog[2] = -1;
	if (!pipes)
		return;
	dp = xcalloc(1, sizeof *dp);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pipe2(pp, O_NONBLOCK | O_CLOEXEC), 0);
		dp->fd[i] = i == 0 ? pp[1] : pp[0];
		x->prog[i] = i == 0 ? pp[0] : pp[1];
		dp->ipfd[i] = -1;
	}
	dp->in_end = DPIPE_NOEND;
	dp->first = PIPE_STDOUT;
	x->d.pipe = dp;
	x->d.pty_hup = 1;
}

/* Free the daemon and the test's ends. */
static void
fix_free(struct fix *x)
{
	int	i;

	daemon_free(&x->d);
	for (i = 0; i < 3; i++)
		if (x->prog[i] != -1)
			close(x->prog[i]);
	for (i = 0; i < x->nfar; i++)
		close(x->far[i]);
}

/* A new peer on a socketpair; the test keeps the other end. */
static struct peer *
fix_peer(struct fix *x)
{
	int	sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK,
	    0, sv), 0);
	x->far[x->nfar++] = sv[1];
	return daemon_add_peer(&x->d, sv[0], T0);
}

/* Feed HELLO(ATTACH) from p, with flags. */
static void
send_hello(struct fix *x, struct peer *p, uint8_t flags)
{
	struct msg_hello	h;
	struct buf		b;
	char			id[] = "";

	memset(&h, 0, sizeof h);
	h.version = PROTO_VERSION;
	h.op = OP_ATTACH;
	h.flags = flags;
	h.client_id = 1;
	h.id = id;
	buf_init(&b, 0);
	assert_int_equal(proto_hello_put(&b, &h), 0);
	daemon_feed(&x->d, p, buf_ptr(&b), buf_len(&b), T0);
	buf_free(&b);
}

/* Feed DATA(off, n bytes of 'x') from p. */
static void
send_data(struct fix *x, struct peer *p, uint64_t off, size_t n)
{
	struct buf	b;
	uint8_t		tmp[4096];

	assert_true(n <= sizeof tmp);
	memset(tmp, 'x', n);
	buf_init(&b, 0);
	assert_int_equal(proto_data_put(&b, off, tmp, n), 0);
	daemon_feed(&x->d, p, buf_ptr(&b), buf_len(&b), T0);
	buf_free(&b);
}

/* Feed PIPE_EOF(end) from p. */
static void
send_eof(struct fix *x, struct peer *p, uint64_t end)
{
	struct buf	b;

	buf_init(&b, 0);
	assert_int_equal(proto_u64_put(&b, MSG_PIPE_EOF, end), 0);
	daemon_feed(&x->d, p, buf_ptr(&b), buf_len(&b), T0);
	buf_free(&b);
}

/* One turn of the daemon's loop for the pipes (every fd ready). */
static void
turn(struct fix *x)
{
	struct pollfd	pfd[DPIPE_NPFD];
	int		n, i;

	n = dpipe_poll(&x->d, pfd, 0, T0);
	for (i = 0; i < n; i++)
		pfd[i].revents = pfd[i].events;
	dpipe_ready(&x->d, pfd, T0);
}

/* Bytes waiting on fd (the test's end of the program's stdin). */
static ssize_t
drain(int fd, size_t *total)
{
	uint8_t	tmp[65536];
	ssize_t	n;

	while ((n = read(fd, tmp, sizeof tmp)) > 0)
		*total += n;
	return n;
}

/*
 * Input up to PIPE_EOF reaches the program, then its stdin closes; a
 * resent EOF with the same end is fine.
 */
static void
test_eof_closes_stdin(void **state)
{
	struct fix	 x;
	struct peer	*c;
	size_t		 got = 0;

	(void)state;
	fix_init(&x, 1);
	c = fix_peer(&x);
	send_hello(&x, c, HELLO_PIPE);
	assert_ptr_equal(x.d.client, c);
	send_eof(&x, c, 300);		/* before the data: remembered */
	send_data(&x, c, 0, 200);
	turn(&x);
	assert_int_not_equal(x.d.pipe->fd[0], -1);	/* 100 to come */
	send_data(&x, c, 150, 150);	/* overlaps: the rest only */
	send_eof(&x, c, 300);
	assert_false(c->dead);
	turn(&x);
	assert_int_equal(x.d.pipe->fd[0], -1);
	assert_int_equal(drain(x.prog[0], &got), 0);	/* EOF */
	assert_int_equal(got, 300);
	fix_free(&x);
}

/* PIPE_EOF that contradicts the stream drops the client, not more. */
static void
test_eof_rules(void **state)
{
	struct fix	 x;
	struct peer	*c;

	(void)state;
	fix_init(&x, 1);
	c = fix_peer(&x);
	send_hello(&x, c, HELLO_PIPE);
	send_data(&x, c, 0, 100);
	send_eof(&x, c, 99);		/* below what arrived */
	assert_true(c->dead);
	daemon_sweep(&x.d);

	c = fix_peer(&x);
	send_hello(&x, c, HELLO_PIPE | HELLO_RESUME);
	send_eof(&x, c, 150);
	assert_false(c->dead);
	send_eof(&x, c, 160);		/* another end */
	assert_true(c->dead);
	daemon_sweep(&x.d);

	c = fix_peer(&x);
	send_hello(&x, c, HELLO_PIPE | HELLO_RESUME);
	send_data(&x, c, 100, 51);	/* one byte past the end */
	assert_true(c->dead);
	assert_false(x.d.quit);
	fix_free(&x);
}

/* Pipe and terminal clients and sessions do not mix. */
static void
test_modes_do_not_mix(void **state)
{
	struct fix	 x;
	struct peer	*c;

	(void)state;
	fix_init(&x, 0);			/* a terminal session */
	c = fix_peer(&x);
	send_hello(&x, c, HELLO_PIPE);
	assert_null(x.d.client);
	assert_true(c->closing);
	c = fix_peer(&x);
	send_hello(&x, c, 0);
	assert_ptr_equal(x.d.client, c);
	send_eof(&x, c, 0);			/* not a pipe session */
	assert_true(c->dead);
	fix_free(&x);

	fix_init(&x, 1);			/* a pipe session */
	c = fix_peer(&x);
	send_hello(&x, c, 0);
	assert_null(x.d.client);
	assert_true(c->closing);
	fix_free(&x);
}

/*
 * With no client the program's output fills the ring and stops there:
 * nothing is overwritten, the rest waits in the pipe; an ACK makes room.
 */
static void
test_output_never_overwritten(void **state)
{
	struct fix	 x;
	struct peer	*c;
	struct buf	 b;
	uint8_t		 junk[4096];
	size_t		 written = 0, ringed;
	uint64_t	 end;
	int		 i;

	(void)state;
	fix_init(&x, 1);
	memset(junk, 'o', sizeof junk);
	while (written < 200 * 1024 &&
	    write(x.prog[PIPE_STDOUT], junk, sizeof junk) > 0)
		written += sizeof junk;
	assert_int_equal(write(x.prog[PIPE_STDERR], "err", 3), 3);
	for (i = 0; i < 50; i++)
		turn(&x);
	assert_int_equal(x.d.out.dropped, 0);
	assert_int_equal(x.d.out.start, 0);
	assert_true(ring_len(&x.d.out) <= 64 * 1024);
	assert_true(ring_room(&x.d.out) <= PIPE_HDR);
	ringed = ring_len(&x.d.out);
	/* A client takes it all and acknowledges it: reading goes on. */
	c = fix_peer(&x);
	send_hello(&x, c, HELLO_PIPE);
	end = x.d.out.end;
	x.d.sent = end;		/* as if pumped */
	buf_init(&b, 0);
	assert_int_equal(proto_u64_put(&b, MSG_ACK, end), 0);
	daemon_feed(&x.d, c, buf_ptr(&b), buf_len(&b), T0);
	buf_free(&b);
	assert_false(c->dead);
	turn(&x);
	assert_true(x.d.out.end > end);
	assert_true(ringed > 60 * 1024);
	fix_free(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eof_closes_stdin),
		cmocka_unit_test(test_eof_rules),
		cmocka_unit_test(test_modes_do_not_mix),
		cmocka_unit_test(test_output_never_overwritten),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
