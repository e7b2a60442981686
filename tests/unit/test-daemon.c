/*
 * Unit tests for the session daemon's core and protocol (daemon-core.c,
 * daemon-frame.c), driven without a real PTY or listener: peers are
 * socketpairs whose answers the tests decode from the peer's output
 * buffer, the "PTY" is a pipe, and time is whatever the test says.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "unit.h"

#include "buf.h"
#include "daemon-int.h"
#include "err.h"
#include "frame.h"
#include "proto.h"
#include "pty.h"

#define T0	1000000

struct fix {
	struct daemon	d;
	int		ptyr;		/* the "program" end of the PTY pipe */
	int		far[128];
	int		nfar;
};

/* A daemon with a pipe for a PTY (its write end is the daemon's fd). */
static void
fix_init(struct fix *x)
{
	int	pp[2];

	daemon_init(&x->d, 64 * 1024, T0);
	assert_int_equal(pipe2(pp, O_NONBLOCK | O_CLOEXEC), 0);
	x->ptyr = pp[0];
	x->d.ptyfd = pp[1];
	x->nfar = 0;
}

/* Free the daemon and the test's ends. */
static void
fix_free(struct fix *x)
{
	int	i;

	daemon_free(&x->d);
	close(x->ptyr);
	for (i = 0; i < x->nfar; i++)
		close(x->far[i]);
}

/* A new peer on a socketpair; the test keeps the other end. */
static struct peer *
fix_peer(struct fix *x, uint64_t now)
{
	int	sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK,
	    0, sv), 0);
	x->far[x->nfar++] = sv[1];
	return daemon_add_peer(&x->d, sv[0], now);
}

/* Feed HELLO(op) from p. */
static void
send_hello(struct fix *x, struct peer *p, uint8_t op, uint64_t cid,
    uint64_t now)
{
	struct msg_hello	h;
	struct buf		b;
	char			id[] = "";

	memset(&h, 0, sizeof h);
	h.version = PROTO_VERSION;
	h.op = op;
	h.client_id = cid;
	h.id = id;
	buf_init(&b, 0);
	assert_int_equal(proto_hello_put(&b, &h), 0);
	daemon_feed(&x->d, p, buf_ptr(&b), buf_len(&b), now);
	buf_free(&b);
}

/* Feed DATA(off, n bytes of 'x') from p. */
static void
send_data(struct fix *x, struct peer *p, uint64_t off, size_t n,
    uint64_t now)
{
	struct buf	b;
	uint8_t		*tmp = malloc(n + 1);

	memset(tmp, 'x', n);
	buf_init(&b, 0);
	assert_int_equal(proto_data_put(&b, off, tmp, n), 0);
	daemon_feed(&x->d, p, buf_ptr(&b), buf_len(&b), now);
	buf_free(&b);
	free(tmp);
}

/*
 * Take the frames p has queued; return the value of the last u64 frame of
 * type want (WINDOW, ACK) or UINT64_MAX, and count frames of that type.
 */
static uint64_t
take(struct peer *p, uint8_t want, int *count, uint8_t *first)
{
	struct frame_dec	dec;
	struct frame		f;
	uint64_t		v = UINT64_MAX, u;

	*count = 0;
	frame_dec_init(&dec);
	assert_int_equal(frame_dec_push(&dec, buf_ptr(&p->out),
	    buf_len(&p->out)), 0);
	buf_reset(&p->out);
	while (frame_dec_next(&dec, &f) == 1) {
		if (first != NULL && *first == 0)
			*first = f.type;
		if (f.type != want)
			continue;
		(*count)++;
		if (f.len == 8 && proto_u64_parse(f.p, f.len, &u) == 0)
			v = u;
	}
	frame_dec_free(&dec);
	return v;
}

/* Drain what the daemon wrote to the "PTY". */
static size_t
drain_pty(struct fix *x)
{
	uint8_t	tmp[65536];
	ssize_t	n;
	size_t	total = 0;

	while ((n = read(x->ptyr, tmp, sizeof tmp)) > 0)
		total += n;
	return total;
}

/* WELCOME is followed by WINDOW(input written + PROTO_INPUT_WINDOW). */
static void
test_window_after_welcome(void **state)
{
	struct fix	 x;
	struct peer	*c;
	uint8_t		 first = 0;
	int		 n;

	(void)state;
	fix_init(&x);
	c = fix_peer(&x, T0);
	send_hello(&x, c, OP_ATTACH, 1, T0);
	assert_ptr_equal(x.d.client, c);
	assert_int_equal(take(c, MSG_WINDOW, &n, &first), PROTO_INPUT_WINDOW);
	assert_int_equal(n, 1);
	assert_int_equal(first, MSG_WELCOME);
	fix_free(&x);
}

/* The TERMIOS frames p has queued: count, last flags and settled. */
static int
take_termios(struct peer *p, int *flags, uint64_t *settled, int *before)
{
	struct frame_dec	dec;
	struct frame		f;
	uint64_t		w, s;
	uint32_t		g;
	uint8_t			fl;
	int			n = 0, data = 0;

	*before = 0;
	frame_dec_init(&dec);
	assert_int_equal(frame_dec_push(&dec, buf_ptr(&p->out),
	    buf_len(&p->out)), 0);
	buf_reset(&p->out);
	while (frame_dec_next(&dec, &f) == 1) {
		if (f.type == MSG_DATA)
			data = 1;
		if (f.type != MSG_TERMIOS)
			continue;
		assert_int_equal(proto_termios_parse(f.p, f.len, &fl, &w, &s,
		    &g), 0);
		*flags = fl;
		*settled = s;
		if (!data)
			*before = 1;
		n++;
	}
	frame_dec_free(&dec);
	return n;
}

/*
 * A daemon on a real PTY (its slave side in *s, for the program's part)
 * with one attached peer that speaks TERMIOS, the first report taken.
 */
static struct peer *
termios_fix(struct fix *x, int *s)
{
	struct peer	*c;
	uint64_t	 settled = 0;
	int		 m, flags = -1, before;

	fix_init(x);
	assert_int_equal(openpty(&m, s, NULL, NULL, NULL), 0);
	fcntl(m, F_SETFL, O_NONBLOCK);
	close(x->d.ptyfd);
	x->d.ptyfd = m;
	c = fix_peer(x, T0);
	send_hello(x, c, OP_ATTACH, 1, T0);
	c->version = PROTO_V_TERMIOS;
	buf_reset(&c->out);
	daemon_termios(&x->d, T0, 1);
	assert_int_equal(take_termios(c, &flags, &settled, &before), 1);
	assert_int_equal(flags, TIO_ICANON | TIO_ECHO | TIO_QUIET);
	return c;
}

/*
 * TERMIOS: a client of protocol PROTO_V_TERMIOS gets the PTY's modes on
 * attach; "echo off" comes ahead of the output read in the same turn (a
 * password prompt); input the program had ECHO_MS is reported settled;
 * an older client gets none of it.
 */
static void
test_termios(void **state)
{
	struct fix	 x;
	struct peer	*c;
	struct termios	 t;
	uint64_t	 settled = 0;
	int		 s, n, flags = -1, before;

	(void)state;
	c = termios_fix(&x, &s);

	/* getpass: echo off, then the prompt. */
	assert_int_equal(tcgetattr(s, &t), 0);
	t.c_lflag &= ~ECHO;
	assert_int_equal(tcsetattr(s, TCSANOW, &t), 0);
	assert_int_equal(write(s, "Password: ", 10), 10);
	daemon_read_pty(&x.d, T0 + 1);
	daemon_tick(&x.d, T0 + 1);
	assert_int_equal(take_termios(c, &flags, &settled, &before), 1);
	assert_int_equal(flags, TIO_ICANON);
	assert_true(before);

	/* Input written to the program settles ECHO_MS later. */
	send_data(&x, c, 0, 3, T0 + 2);
	daemon_write_pty(&x.d);
	daemon_tick(&x.d, T0 + 2);
	n = take_termios(c, &flags, &settled, &before);
	assert_true(n == 0 || settled == 0);
	daemon_tick(&x.d, T0 + 2 + ECHO_MS);
	assert_int_equal(take_termios(c, &flags, &settled, &before), 1);
	assert_int_equal(settled, 3);

	/* An older client: nothing. */
	c->version = PROTO_V_TERMIOS - 1;
	t.c_lflag |= ECHO;
	assert_int_equal(tcsetattr(s, TCSANOW, &t), 0);
	assert_int_equal(write(s, "x", 1), 1);
	daemon_read_pty(&x.d, T0 + 200);
	daemon_tick(&x.d, T0 + 200);
	daemon_tick(&x.d, T0 + 400);
	assert_int_equal(take_termios(c, &flags, &settled, &before), 0);
	close(s);
	fix_free(&x);
}

/*
 * The shell idiom `printf 'Password: '; stty -echo; read`: the prompt goes
 * out with echo still on, and the stty may land after the 50 ms watch
 * (a loaded server).  Reports taken while output moves are not QUIET;
 * the one TIO_QUIET_MS after the last I/O is, and says echo off: the
 * client trusts "echo on" only from a QUIET report.
 */
static void
test_termios_quiet(void **state)
{
	struct fix	 x;
	struct peer	*c;
	struct termios	 t;
	uint64_t	 settled = 0;
	int		 s, flags = -1, before;

	(void)state;
	c = termios_fix(&x, &s);

	assert_int_equal(write(s, "Password: ", 10), 10);
	daemon_read_pty(&x.d, T0 + 1);
	daemon_tick(&x.d, T0 + 1);
	assert_int_equal(take_termios(c, &flags, &settled, &before), 1);
	assert_int_equal(flags, TIO_ICANON | TIO_ECHO);
	daemon_tick(&x.d, T0 + 1 + TIO_SETTLE_MS + 10);
	assert_int_equal(take_termios(c, &flags, &settled, &before), 0);

	/* stty -echo, after the watch: no I/O, so no read until... */
	assert_int_equal(tcgetattr(s, &t), 0);
	t.c_lflag &= ~ECHO;
	assert_int_equal(tcsetattr(s, TCSANOW, &t), 0);
	daemon_tick(&x.d, T0 + 150);
	assert_int_equal(take_termios(c, &flags, &settled, &before), 0);
	assert_true(daemon_termios_deadline(&x.d) <= T0 + 1 + TIO_QUIET_MS);
	/* ...the QUIET one, which sees it. */
	daemon_tick(&x.d, T0 + 1 + TIO_QUIET_MS);
	assert_int_equal(take_termios(c, &flags, &settled, &before), 1);
	assert_int_equal(flags, TIO_ICANON | TIO_QUIET);
	/* Quiet stays quiet: nothing more to read or say. */
	daemon_tick(&x.d, T0 + 2000);
	assert_int_equal(take_termios(c, &flags, &settled, &before), 0);
	close(s);
	fix_free(&x);
}

/*
 * Defect 16: input up to the limit is taken and the queue to the PTY
 * never exceeds the window; the limit moves as the PTY takes input, in
 * steps of at least a quarter window; a byte past the limit drops the
 * peer but not the session.
 */
static void
test_input_window(void **state)
{
	struct fix	 x;
	struct peer	*c, *i;
	uint64_t	 limit, off = 0, v;
	int		 n, rounds = 0;

	(void)state;
	fix_init(&x);
	c = fix_peer(&x, T0);
	send_hello(&x, c, OP_ATTACH, 1, T0);
	limit = take(c, MSG_WINDOW, &n, NULL);
	while (off < 3 * PROTO_INPUT_WINDOW) {
		while (off < limit) {
			size_t	k = limit - off > 60000 ? 60000 : limit - off;

			send_data(&x, c, off, k, T0);
			off += k;
			assert_false(c->dead);
		}
		assert_true(buf_len(&x.d.pty_in) <= PROTO_INPUT_WINDOW);
		/* Always read: INFO answers with a full queue. */
		i = fix_peer(&x, T0);
		send_hello(&x, i, OP_INFO, 2, T0);
		assert_int_equal(take(i, MSG_SESSION, &n, NULL), UINT64_MAX);
		assert_int_equal(n, 1);
		daemon_tick(&x.d, T0);
		assert_int_equal(take(c, MSG_WINDOW, &n, NULL), UINT64_MAX);
		assert_int_equal(n, 0);		/* nothing written yet */
		while (buf_len(&x.d.pty_in) > 0) {
			daemon_write_pty(&x.d);
			drain_pty(&x);
		}
		daemon_tick(&x.d, T0);
		v = take(c, MSG_WINDOW, &n, NULL);
		assert_int_equal(n, 1);
		assert_true(v >= limit + PROTO_INPUT_WINDOW / 4);
		assert_true(v <= x.d.in_have - buf_len(&x.d.pty_in) +
		    PROTO_INPUT_WINDOW);
		limit = v;
		daemon_sweep(&x.d);
		rounds++;
	}
	assert_true(rounds >= 3);
	while (off + 60000 < limit) {
		send_data(&x, c, off, 60000, T0);
		off += 60000;
	}
	assert_false(c->dead);
	send_data(&x, c, off, limit - off + 1, T0);
	assert_true(c->dead);
	assert_null(x.d.client);
	assert_false(x.d.quit);
	fix_free(&x);
}

/* Defect 17: a peer that never says HELLO goes after HELLO_MS. */
static void
test_hello_timeout(void **state)
{
	struct fix	 x;
	struct peer	*p, *q;

	(void)state;
	fix_init(&x);
	p = fix_peer(&x, T0);
	q = fix_peer(&x, T0 + 1000);
	daemon_timers(&x.d, T0 + HELLO_MS - 1);
	assert_false(p->dead);
	assert_int_equal(daemon_deadline(&x.d, T0), T0 + HELLO_MS);
	daemon_timers(&x.d, T0 + HELLO_MS);
	assert_true(p->dead);
	assert_false(q->dead);
	daemon_sweep(&x.d);
	assert_int_equal(x.d.npeers, 1);
	fix_free(&x);
}

/* Defect 17: answers that never drain go; the client gets longer. */
static void
test_tx_timeout(void **state)
{
	struct fix	 x;
	struct peer	*c, *i;
	int		 n;

	(void)state;
	fix_init(&x);
	c = fix_peer(&x, T0);
	send_hello(&x, c, OP_ATTACH, 1, T0);
	i = fix_peer(&x, T0);
	i->closing = 0;
	send_hello(&x, i, OP_INFO, 2, T0);
	assert_true(buf_len(&i->out) > 0);
	c->last_rx = T0 + PEER_TX_MS;
	daemon_timers(&x.d, T0 + PEER_TX_MS);
	assert_true(i->dead);
	assert_false(c->dead);
	daemon_timers(&x.d, T0 + CLIENT_TX_MS);
	assert_true(c->dead);
	assert_null(x.d.client);
	(void)take(c, MSG_ACK, &n, NULL);
	fix_free(&x);
}

/* Defect 17: a full table drops its oldest idle peer, not the client. */
static void
test_full_table_evicts(void **state)
{
	struct fix	 x;
	struct peer	*c, *p;
	int		 i;

	(void)state;
	fix_init(&x);
	c = fix_peer(&x, T0);
	send_hello(&x, c, OP_ATTACH, 1, T0);
	for (i = 0; i < 40; i++) {
		p = fix_peer(&x, T0 + 1 + i);
		assert_non_null(p);
		assert_int_equal(p->born, T0 + 1 + i);
		assert_true(x.d.npeers <= DAEMON_MAX_PEERS);
	}
	assert_ptr_equal(x.d.client, c);
	assert_false(c->dead);
	for (i = 0; i < x.d.npeers; i++)
		if (x.d.peers[i] != c)
			assert_true(x.d.peers[i]->born > T0 + 40 -
			    DAEMON_MAX_PEERS);
	fix_free(&x);
}

/*
 * Defect 19: a finished session answers INFO as exited with its status,
 * and expires keep_exited after it finished if nobody collects it.
 */
static void
test_exited_expires(void **state)
{
	struct fix		 x;
	struct peer		*i;
	struct msg_session	 s;
	struct frame_dec	 dec;
	struct frame		 f;

	(void)state;
	fix_init(&x);
	x.d.keep_exited = 5000;
	x.d.child_done = 1;
	x.d.status = 7;
	x.d.pty_eof = 1;
	daemon_timers(&x.d, T0);
	assert_true(x.d.finished);
	assert_false(x.d.quit);
	i = fix_peer(&x, T0);
	send_hello(&x, i, OP_INFO, 2, T0);
	frame_dec_init(&dec);
	frame_dec_push(&dec, buf_ptr(&i->out), buf_len(&i->out));
	assert_int_equal(frame_dec_next(&dec, &f), 1);
	assert_int_equal(f.type, MSG_SESSION);
	assert_int_equal(proto_session_parse(f.p, f.len, &s), 0);
	assert_int_equal(s.state, SESS_EXITED);
	assert_int_equal(s.status, 7);
	proto_session_free(&s);
	frame_dec_free(&dec);
	assert_int_equal(daemon_deadline(&x.d, T0), T0 + 5000);
	daemon_timers(&x.d, T0 + 4999);
	assert_false(x.d.quit);
	daemon_timers(&x.d, T0 + 5000);
	assert_true(x.d.quit);
	fix_free(&x);
}

/* Defect 18: held-back output keeps the drain timer from ending it. */
static void
test_held_output_not_thrown_away(void **state)
{
	struct fix	 x;
	struct peer	*c;

	(void)state;
	fix_init(&x);
	c = fix_peer(&x, T0);
	send_hello(&x, c, OP_ATTACH, 1, T0);
	x.d.window = WIN_MIN;
	x.d.child_done = 1;
	x.d.drain_at = T0 + DRAIN_MS;
	assert_int_equal(ring_append(&x.d.out, "x", 1, 0), 0);
	while (ring_len(&x.d.out) < WIN_MIN)
		ring_append(&x.d.out, "xxxxxxxx", 8, 0);
	assert_false(daemon_may_read_pty(&x.d, T0));
	daemon_timers(&x.d, T0 + 10 * DRAIN_MS);
	assert_false(x.d.pty_eof);
	assert_false(x.d.finished);
	fix_free(&x);
}

/* Defect 21: LIMPET_TEST_* only in test builds. */
static void
test_env_allowed(void **state)
{
	(void)state;
	assert_true(pty_env_allowed("TERM=xterm"));
	assert_true(pty_env_allowed("LC_ALL=C"));
	assert_false(pty_env_allowed("LD_PRELOAD=/x.so"));
	assert_false(pty_env_allowed("TERM"));
#ifdef LIMPET_TEST_HOOKS
	assert_true(pty_env_allowed("LIMPET_TEST_X=1"));
#else
	assert_false(pty_env_allowed("LIMPET_TEST_X=1"));
#endif
}

/* Every malformed frame from the client drops it, never the session. */
static void
test_malformed_frames(void **state)
{
	static const uint8_t bad[][16] = {
		{ MSG_DATA, 0, 0, 0, 3, 0, 0, 0 },
		{ MSG_ACK, 0, 0, 0, 1, 0 },
		{ MSG_ACK, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 9 },
		{ MSG_PING, 0, 0, 0, 0 },
		{ MSG_RESIZE, 0, 0, 0, 1, 1 },
		{ MSG_WELCOME, 0, 0, 0, 0 },
		{ 99, 0, 0, 0, 0 },
		{ MSG_DATA, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5, 'z' },
		{ MSG_HELLO, 0xff, 0xff, 0xff, 0xff },
	};
	static const size_t len[] = { 8, 6, 13, 5, 6, 5, 5, 14, 5 };
	struct fix	 x;
	struct peer	*c;
	size_t		 k;

	(void)state;
	fix_init(&x);
	for (k = 0; k < sizeof len / sizeof len[0]; k++) {
		c = fix_peer(&x, T0);
		send_hello(&x, c, OP_ATTACH, k, T0);
		assert_ptr_equal(x.d.client, c);
		daemon_feed(&x.d, c, bad[k], len[k], T0);
		assert_true(c->dead);
		assert_null(x.d.client);
		assert_false(x.d.quit);
		daemon_sweep(&x.d);
	}
	fix_free(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_after_welcome),
		cmocka_unit_test(test_termios),
		cmocka_unit_test(test_termios_quiet),
		cmocka_unit_test(test_input_window),
		cmocka_unit_test(test_hello_timeout),
		cmocka_unit_test(test_tx_timeout),
		cmocka_unit_test(test_full_table_evicts),
		cmocka_unit_test(test_exited_expires),
		cmocka_unit_test(test_held_output_not_thrown_away),
		cmocka_unit_test(test_env_allowed),
		cmocka_unit_test(test_malformed_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
