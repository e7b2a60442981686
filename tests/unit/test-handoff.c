/*
 * Unit tests for the daemon's half of the relay's handoff (daemon-peer.c,
 * compat/fdpass.c): the offer, sshd's pipes arriving with SCM_RIGHTS, and
 * control messages that are malformed (no descriptor, two, or one where
 * none belongs), which drop that peer only and leak no descriptor.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "buf.h"
#include "compat.h"
#include "daemon-int.h"
#include "err.h"
#include "frame.h"
#include "proto.h"

#define T0	1000000

struct fix {
	struct daemon	 d;
	int		 ptyr;
	struct peer	*c;		/* the relay, offered the handoff */
	int		 far;		/* its end of the socket */
	struct peer	*o;		/* another peer, which must not care */
	int		 ofar;
};

/* How many descriptors this process has open. */
static int
nfds(void)
{
	DIR		*dir = opendir("/proc/self/fd");
	struct dirent	*e;
	int		 n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;		/* the DIR's own */
}

/* A new peer on a socketpair; *far is the test's end. */
static struct peer *
fix_peer(struct fix *x, int *far)
{
	int	sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK,
	    0, sv), 0);
	*far = sv[1];
	return daemon_add_peer(&x->d, sv[0], T0);
}

/* Feed HELLO(op, flags) from p. */
static void
fix_hello(struct fix *x, struct peer *p, uint8_t op, uint8_t flags)
{
	struct msg_hello	h;
	struct buf		b;
	char			id[] = "";

	memset(&h, 0, sizeof h);
	h.version = PROTO_VERSION;
	h.op = op;
	h.flags = flags;
	h.client_id = 7;
	h.id = id;
	buf_init(&b, 0);
	assert_int_equal(proto_hello_put(&b, &h), 0);
	daemon_feed(&x->d, p, buf_ptr(&b), buf_len(&b), T0);
	buf_free(&b);
}

/* A daemon, a relay attached with HELLO_HANDOFF, and an INFO-less peer. */
static void
fix_init(struct fix *x)
{
	int	pp[2];

	memset(x, 0, sizeof *x);
	daemon_init(&x->d, 64 * 1024, T0);
	assert_int_equal(pipe2(pp, O_NONBLOCK | O_CLOEXEC), 0);
	x->ptyr = pp[0];
	x->d.ptyfd = pp[1];
	x->o = fix_peer(x, &x->ofar);
	x->c = fix_peer(x, &x->far);
	fix_hello(x, x->c, OP_ATTACH, HELLO_HANDOFF);
	assert_ptr_equal(x->d.client, x->c);
	/* The offer is the first frame, before WELCOME. */
	assert_true(buf_len(&x->c->out) > FRAME_HDR);
	assert_int_equal(buf_ptr(&x->c->out)[0], MSG_HANDOFF);
	assert_int_equal(x->c->ho, PEER_HO_OFFERED);
	assert_int_equal(peer_flush(x->c, T0), 0);
}

static void
fix_free(struct fix *x)
{
	daemon_free(&x->d);
	close(x->ptyr);
	close(x->far);
	close(x->ofar);
}

/* Send a header-only frame of type with nfd copies of fd attached. */
static void
send_rights(int s, uint8_t type, int fd, int nfd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	}		 cm;
	uint8_t		 hdr[FRAME_HDR] = { type, 0, 0, 0, 0 };
	int		 fds[2] = { fd, fd };
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*c;

	memset(&msg, 0, sizeof msg);
	memset(&cm, 0, sizeof cm);
	iov.iov_base = hdr;
	iov.iov_len = sizeof hdr;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfd > 0) {
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(nfd * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfd * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfd * sizeof(int));
	}
	assert_int_equal(sendmsg(s, &msg, 0), (ssize_t)sizeof hdr);
}

/* Read what p's socket holds and handle it, as the daemon's loop does. */
static int
fix_read(struct fix *x, struct peer *p)
{
	int	r;

	if ((r = peer_fill(p)) == 1)
		daemon_frames(&x->d, p, T0);
	else if (r < 0)
		daemon_drop(&x->d, p, "test");
	return r;
}

/* Both pipes pass, in order: frames then come from and go to them. */
static void
test_handoff_both_ways(void **state)
{
	struct fix	x;
	int		in[2], out[2];
	uint8_t		tmp[64];

	(void)state;
	fix_init(&x);
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	/* Drain the offer and WELCOME the relay would pass on. */
	while (read(x.far, tmp, sizeof tmp) > 0)
		;
	send_rights(x.far, MSG_HANDOFF, in[0], 1);
	close(in[0]);
	assert_int_equal(fix_read(&x, x.c), 1);
	assert_int_equal(x.c->ho, PEER_HO_IN);
	assert_true(x.c->rfd != -1);
	/* HANDOFF_END is the socket's last frame. */
	assert_int_equal(peer_flush(x.c, T0), 0);
	assert_int_equal(x.c->sock_left, 0);
	assert_int_equal(read(x.far, tmp, sizeof tmp), FRAME_HDR);
	assert_int_equal(tmp[0], MSG_HANDOFF_END);
	/* Output queued now waits for stdout. */
	proto_u64_put(&x.c->out, MSG_PING, 5);
	assert_int_equal(peer_flush(x.c, T0), 0);
	assert_int_equal(peer_wfd(x.c), -1);
	send_rights(x.far, MSG_HANDOFF_OUT, out[1], 1);
	close(out[1]);
	assert_int_equal(peer_ctl(x.c), 1);
	assert_int_equal(x.c->ho, PEER_HO_DONE);
	assert_int_equal(peer_flush(x.c, T0), 0);
	assert_int_equal(read(out[0], tmp, sizeof tmp), FRAME_HDR + 8);
	assert_int_equal(tmp[0], MSG_PING);
	/* A PING through stdin's pipe is answered on stdout's. */
	assert_int_equal(write(in[1], tmp, FRAME_HDR + 8), FRAME_HDR + 8);
	assert_int_equal(fix_read(&x, x.c), 1);
	assert_int_equal(peer_flush(x.c, T0), 0);
	assert_int_equal(read(out[0], tmp, sizeof tmp), FRAME_HDR + 8);
	assert_int_equal(tmp[0], MSG_PONG);
	/* The relay closing its socket ends the peer. */
	close(x.far);
	x.far = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(peer_ctl(x.c), ERR_EOF);
	close(in[1]);
	close(out[0]);
	fix_free(&x);
}

/*
 * A full big stdout pipe is not polled again at its first room but
 * PEER_NAP_MS later (a pipe wakes its writer at every read that frees
 * room); a small one is polled at once.
 */
static void
test_full_pipe_naps(void **state)
{
	struct fix	 x;
	struct pollfd	 pfd[PEER_NPFD];
	int		 in[2], out[2], big;
	uint8_t		 tmp[64];
	uint8_t		*junk = calloc(1, 64 * 1024);

	(void)state;
	for (big = 0; big < 2; big++) {
		fix_init(&x);
		assert_int_equal(pipe(in), 0);
		assert_int_equal(pipe(out), 0);
		if (big)
			compat_pipe_size(out[1], 1024 * 1024);
		while (read(x.far, tmp, sizeof tmp) > 0)
			;
		send_rights(x.far, MSG_HANDOFF, in[0], 1);
		assert_int_equal(fix_read(&x, x.c), 1);
		assert_int_equal(peer_flush(x.c, T0), 0);
		while (read(x.far, tmp, sizeof tmp) > 0)
			;
		send_rights(x.far, MSG_HANDOFF_OUT, out[1], 1);
		assert_int_equal(peer_ctl(x.c), 1);
		assert_int_equal(x.c->wnap, big &&
		    compat_pipe_get_size(out[1]) >= PEER_NAP_PIPE);
		/* Fill the pipe: the queue cannot all go. */
		while (buf_len(&x.c->out) < 2 * 1024 * 1024)
			buf_put(&x.c->out, junk, 64 * 1024);
		assert_int_equal(peer_flush(x.c, T0), 0);
		assert_true(buf_len(&x.c->out) > 0);
		peer_poll(x.c, pfd, T0);
		if (x.c->wnap) {
			assert_int_equal(pfd[2].fd, -1);
			assert_int_equal(peer_nap_timeout(x.c, T0),
			    PEER_NAP_MS);
			peer_poll(x.c, pfd, T0 + PEER_NAP_MS);
		} else
			assert_int_equal(peer_nap_timeout(x.c, T0), -1);
		assert_int_equal(pfd[2].fd, x.c->wfd);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		fix_free(&x);
	}
	free(junk);
}

/* HANDOFF with two descriptors: that peer goes, nothing leaks. */
static void
test_two_fds_drop_the_peer(void **state)
{
	struct fix	x;
	int		pp[2], before;

	(void)state;
	fix_init(&x);
	assert_int_equal(pipe(pp), 0);
	before = nfds();
	send_rights(x.far, MSG_HANDOFF, pp[0], 2);
	assert_int_equal(fix_read(&x, x.c), ERR_FORMAT);
	assert_true(x.c->dead);
	assert_false(x.o->dead);
	assert_null(x.d.client);
	assert_int_equal(nfds(), before);
	close(pp[0]);
	close(pp[1]);
	fix_free(&x);
}

/* HANDOFF with no control message at all: that peer goes. */
static void
test_no_fd_drops_the_peer(void **state)
{
	struct fix	x;

	(void)state;
	fix_init(&x);
	send_rights(x.far, MSG_HANDOFF, -1, 0);
	assert_int_equal(fix_read(&x, x.c), 1);
	assert_true(x.c->dead);
	assert_false(x.o->dead);
	fix_free(&x);
}

/* A descriptor with some other frame, then HANDOFF_OUT with none. */
static void
test_stray_fds_drop_the_peer(void **state)
{
	struct fix	x;
	int		pp[2], before;
	uint8_t		tmp[64];

	(void)state;
	fix_init(&x);
	assert_int_equal(pipe(pp), 0);
	before = nfds();
	/* A PING carrying a descriptor: the descriptor has no frame. */
	send_rights(x.far, MSG_PONG, pp[0], 1);
	assert_int_equal(fix_read(&x, x.c), 1);
	send_rights(x.far, MSG_HANDOFF, pp[0], 1);
	assert_int_equal(fix_read(&x, x.c), ERR_FORMAT);
	assert_true(x.c->dead);
	daemon_sweep(&x.d);
	assert_int_equal(nfds(), before - 1);	/* the peer's socket */
	close(pp[0]);
	close(pp[1]);
	fix_free(&x);

	/* HANDOFF_OUT without its descriptor. */
	fix_init(&x);
	assert_int_equal(pipe(pp), 0);
	send_rights(x.far, MSG_HANDOFF, pp[0], 1);
	assert_int_equal(fix_read(&x, x.c), 1);
	assert_int_equal(peer_flush(x.c, T0), 0);
	while (read(x.far, tmp, sizeof tmp) > 0)
		;
	send_rights(x.far, MSG_HANDOFF_OUT, -1, 0);
	assert_int_equal(peer_ctl(x.c), ERR_FORMAT);
	close(pp[0]);
	close(pp[1]);
	fix_free(&x);
}

/* A peer that never said HELLO_HANDOFF is offered nothing. */
static void
test_no_offer_without_the_flag(void **state)
{
	struct fix	x;
	struct peer	*p;
	int		far;

	(void)state;
	fix_init(&x);
	p = fix_peer(&x, &far);
	fix_hello(&x, p, OP_ATTACH, 0);
	assert_ptr_equal(x.d.client, p);
	assert_int_equal(p->ho, PEER_HO_NONE);
	assert_int_equal(buf_ptr(&p->out)[0], MSG_WELCOME);
	close(far);
	fix_free(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handoff_both_ways),
		cmocka_unit_test(test_full_pipe_naps),
		cmocka_unit_test(test_two_fds_drop_the_peer),
		cmocka_unit_test(test_no_fd_drops_the_peer),
		cmocka_unit_test(test_stray_fds_drop_the_peer),
		cmocka_unit_test(test_no_offer_without_the_flag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
