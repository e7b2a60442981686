/*
 * Unit tests for src/proto.c: every message survives a round trip, every
 * truncation and every trailing byte is refused without leaking, version
 * mismatches are told apart, and corrupted payloads never crash; what a
 * parser accepts re-encodes to exactly the same bytes.
 */
#include <sys/types.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "buf.h"
#include "err.h"
#include "frame.h"
#include "proto.h"

/* Every message kind the tests build, encoded as one frame each. */
struct sample {
	const char	*name;
	struct buf	 b;		/* one whole frame */
};

/* Writable strings: the message structs hold char *, not const char *. */
static char a_sh[] = "sh", a_c[] = "-c", a_echo[] = "echo hi";
static char e_term[] = "TERM=xterm-256color", e_lang[] = "LANG=C.UTF-8";
static char s_abc[] = "abc", s_s1[] = "s1", s_vim[] = "vim notes.txt";
static char s_empty[] = "", s_0123[] = "0123", s_w[] = "w";
static char *hello_argv[] = { a_sh, a_c, a_echo };
static char *hello_env[] = { e_term, e_lang };

/* The HELLO most tests start from. */
static void
hello_sample(struct msg_hello *m)
{
	memset(m, 0, sizeof *m);
	m->version = PROTO_VERSION;
	m->op = OP_NEW;
	m->flags = HELLO_RESUME | HELLO_KILL_ALL;
	m->client_id = 0x1122334455667788ULL;
	m->out_have = UINT64_MAX;
	m->rows = 50;
	m->cols = 200;
	m->ring_kb = 1024;
	m->id = s_abc;
	m->argc = 3;
	m->argv = hello_argv;
	m->envc = 2;
	m->env = hello_env;
}

/* Decode the single frame in b; its payload is returned through p, n. */
static uint8_t
one_frame(const struct buf *b, const uint8_t **p, size_t *n)
{
	struct frame_dec	d;
	struct frame		f;
	uint8_t			type;
	static uint8_t		copy[FRAME_MAX_PAYLOAD];

	frame_dec_init(&d);
	assert_int_equal(frame_dec_push(&d, buf_ptr(b), buf_len(b)), 0);
	assert_int_equal(frame_dec_next(&d, &f), 1);
	assert_int_equal(frame_dec_buffered(&d), 0);
	type = f.type;
	memcpy(copy, f.p, f.len);
	*p = copy;
	*n = f.len;
	frame_dec_free(&d);
	return type;
}

/*
 * Parse a payload of the given type.  On success, re-encode the message
 * and check it gives exactly the same payload; on failure, check that
 * nothing was left allocated.  Returns the parser's result.
 */
static int
parse_any(uint8_t type, const uint8_t *p, size_t n)
{
	struct msg_hello	 h;
	struct msg_welcome	 w;
	struct msg_session	 s;
	struct buf		 b;
	const uint8_t		*data, *q;
	uint64_t		 u64;
	uint32_t		 u32;
	int32_t			 st;
	uint16_t		 rows, cols;
	size_t			 len, qn;
	char			*str;
	int			 r, e = 0;

	buf_init(&b, 0);
	switch (type) {
	case MSG_HELLO:
		r = proto_hello_parse(p, n, &h);
		if (r == 0) {
			assert_true(h.argc <= PROTO_MAX_ARGS);
			assert_true(h.envc <= PROTO_MAX_ENV);
			assert_true(strlen(h.id) <= PROTO_ID_LEN);
			e = proto_hello_put(&b, &h);
			proto_hello_free(&h);
		}
		assert_null(h.id);
		assert_null(h.argv);
		assert_null(h.env);
		break;
	case MSG_WELCOME:
		r = proto_welcome_parse(p, n, &w);
		if (r == 0) {
			assert_true(w.out_start <= w.out_end);
			e = proto_welcome_put(&b, &w);
			proto_welcome_free(&w);
		}
		assert_null(w.id);
		break;
	case MSG_SESSION:
		r = proto_session_parse(p, n, &s);
		if (r == 0) {
			assert_true(s.state <= SESS_EXITED);
			e = proto_session_put(&b, &s);
			proto_session_free(&s);
		}
		assert_null(s.id);
		assert_null(s.command);
		break;
	case MSG_DATA:
		r = proto_data_parse(p, n, &u64, &data, &len);
		if (r == 0) {
			assert_ptr_equal(data, p + 8);
			assert_int_equal(len, n - 8);
			e = proto_data_put(&b, u64, data, len);
		}
		break;
	case MSG_ACK:
	case MSG_PING:
	case MSG_PONG:
		r = proto_u64_parse(p, n, &u64);
		if (r == 0)
			e = proto_u64_put(&b, type, u64);
		break;
	case MSG_DONE:
		r = proto_u32_parse(p, n, &u32);
		if (r == 0)
			e = proto_u32_put(&b, type, u32);
		break;
	case MSG_RESIZE:
		r = proto_resize_parse(p, n, &rows, &cols);
		if (r == 0)
			e = proto_resize_put(&b, rows, cols);
		break;
	case MSG_EXIT:
		r = proto_exit_parse(p, n, &st, &u64);
		if (r == 0)
			e = proto_exit_put(&b, st, u64);
		break;
	case MSG_ERROR:
		r = proto_error_parse(p, n, &u32, &str);
		if (r == 0) {
			e = proto_error_put(&b, u32, str);
			free(str);
		} else
			assert_null(str);
		break;
	case MSG_NOTICE:
		r = proto_str_parse(p, n, &str);
		if (r == 0) {
			e = proto_str_put(&b, type, str);
			free(str);
		} else
			assert_null(str);
		break;
	default:
		fail_msg("no parser for type %d", type);
		return ERR_FORMAT;
	}
	if (r == 0) {
		assert_int_equal(e, 0);
		assert_int_equal(one_frame(&b, &q, &qn), type);
		/* A newer HELLO may carry more: ours re-encode to a prefix. */
		if (type == MSG_HELLO && n >= 4 && ((uint32_t)p[0] << 24 |
		    (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) >
		    PROTO_VERSION && qn < n)
			n = qn;
		assert_int_equal(qn, n);
		if (n > 0)
			assert_memory_equal(q, p, n);
	} else {
		/* A whole payload is never "short": that means "read more". */
		assert_int_not_equal(r, ERR_SHORT);
		assert_true(r < 0);
	}
	buf_free(&b);
	return r;
}

#define NSAMPLES	14
static struct sample samples[NSAMPLES];
static int nsamples;

/* Start a new sample and return its buffer. */
static struct buf *
sample_new(const char *name)
{
	struct sample	*s;

	assert_true(nsamples < NSAMPLES);
	s = &samples[nsamples++];
	s->name = name;
	buf_init(&s->b, 0);
	return &s->b;
}

/* Build one valid frame of every message kind. */
static int
samples_setup(void **state)
{
	struct msg_hello	h;
	struct msg_welcome	w = { PROTO_VERSION, s_s1, 10, 2, 12, 4242 };
	struct msg_session	s = { s_s1, 99, 1700000000, 1700000100,
				      SESS_EXITED, -7, s_vim };

	(void)state;
	nsamples = 0;
	hello_sample(&h);
	if (proto_hello_put(sample_new("hello"), &h) != 0)
		return -1;
	h.op = OP_LIST;
	h.id = NULL;
	h.argc = h.envc = 0;
	if (proto_hello_put(sample_new("hello-empty"), &h) != 0 ||
	    proto_welcome_put(sample_new("welcome"), &w) != 0 ||
	    proto_session_put(sample_new("session"), &s) != 0 ||
	    proto_data_put(sample_new("data"), 77, "xyz", 3) != 0 ||
	    proto_u64_put(sample_new("ack"), MSG_ACK, 1ULL << 40) != 0 ||
	    proto_u64_put(sample_new("ping"), MSG_PING, 5) != 0 ||
	    proto_u64_put(sample_new("pong"), MSG_PONG, 5) != 0 ||
	    proto_u32_put(sample_new("done"), MSG_DONE, 3) != 0 ||
	    proto_resize_put(sample_new("resize"), 24, 80) != 0 ||
	    proto_exit_put(sample_new("exit"), 130, 12345) != 0 ||
	    proto_error_put(sample_new("error"), PERR_TAKEN, "taken") != 0 ||
	    proto_str_put(sample_new("notice"), MSG_NOTICE, "hi") != 0)
		return -1;
	return 0;
}

/* Free the samples. */
static int
samples_teardown(void **state)
{
	int	i;

	(void)state;
	for (i = 0; i < nsamples; i++)
		buf_free(&samples[i].b);
	nsamples = 0;
	return 0;
}

/* HELLO: every field comes back. */
static void
test_hello_round_trip(void **state)
{
	struct msg_hello	 in, out;
	struct buf		 b;
	const uint8_t		*p;
	size_t			 n;
	uint32_t		 i;

	(void)state;
	hello_sample(&in);
	buf_init(&b, 0);
	assert_int_equal(proto_hello_put(&b, &in), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_HELLO);
	assert_int_equal(proto_hello_parse(p, n, &out), 0);
	assert_int_equal(out.version, PROTO_VERSION);
	assert_int_equal(out.op, OP_NEW);
	assert_int_equal(out.flags, HELLO_RESUME | HELLO_KILL_ALL);
	assert_true(out.client_id == in.client_id);
	assert_true(out.out_have == UINT64_MAX);
	assert_int_equal(out.rows, 50);
	assert_int_equal(out.cols, 200);
	assert_int_equal(out.ring_kb, 1024);
	assert_string_equal(out.id, "abc");
	assert_int_equal(out.argc, 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(out.argv[i], hello_argv[i]);
	assert_int_equal(out.envc, 2);
	for (i = 0; i < 2; i++)
		assert_string_equal(out.env[i], hello_env[i]);
	proto_hello_free(&out);
	assert_null(out.id);
	proto_hello_free(&out);		/* twice is harmless */

	/* No id, no command: an empty id and empty vectors. */
	in.id = NULL;
	in.argc = in.envc = 0;
	buf_reset(&b);
	assert_int_equal(proto_hello_put(&b, &in), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_HELLO);
	assert_int_equal(proto_hello_parse(p, n, &out), 0);
	assert_string_equal(out.id, "");
	assert_int_equal(out.argc, 0);
	assert_null(out.argv);
	assert_int_equal(out.envc, 0);
	assert_null(out.env);
	proto_hello_free(&out);
	buf_free(&b);
}

/* Encode h and parse it back; returns the parser's result. */
static int
hello_reparse(const struct msg_hello *h)
{
	struct buf	 b;
	const uint8_t	*p;
	size_t		 n;
	int		 r;

	buf_init(&b, 0);
	assert_int_equal(proto_hello_put(&b, h), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_HELLO);
	r = parse_any(MSG_HELLO, p, n);
	buf_free(&b);
	return r;
}

/* HELLO: operations, id length, vector counts and string lengths. */
static void
test_hello_limits(void **state)
{
	struct msg_hello	 h;
	char			 id[PROTO_ID_LEN + 2];
	char			*many[PROTO_MAX_ARGS + 1], *big;
	int			 i;

	(void)state;
	hello_sample(&h);
	for (i = 0; i <= OP_OPEN + 1; i++) {
		h.op = i;
		assert_int_equal(hello_reparse(&h),
		    i >= OP_NEW && i <= OP_OPEN ? 0 : ERR_FORMAT);
	}
	h.op = OP_ATTACH;

	memset(id, 'i', sizeof id);
	id[PROTO_ID_LEN] = '\0';
	h.id = id;
	assert_int_equal(hello_reparse(&h), 0);
	id[PROTO_ID_LEN] = 'i';
	id[PROTO_ID_LEN + 1] = '\0';
	assert_int_equal(hello_reparse(&h), ERR_FORMAT);
	h.id = s_abc;

	for (i = 0; i <= PROTO_MAX_ARGS; i++)
		many[i] = s_w;
	h.argv = many;
	h.argc = PROTO_MAX_ARGS;
	assert_int_equal(hello_reparse(&h), 0);
	h.argc = PROTO_MAX_ARGS + 1;
	assert_int_equal(hello_reparse(&h), ERR_TOOBIG);
	h.argc = 0;
	h.env = many;
	h.envc = PROTO_MAX_ENV;
	assert_int_equal(hello_reparse(&h), 0);
	h.envc = PROTO_MAX_ENV + 1;
	assert_int_equal(hello_reparse(&h), ERR_TOOBIG);
	h.envc = 0;

	big = malloc(PROTO_MAX_STR + 2);
	assert_non_null(big);
	memset(big, 'x', PROTO_MAX_STR + 1);
	big[PROTO_MAX_STR] = '\0';
	h.argv = &big;
	h.argc = 1;
	assert_int_equal(hello_reparse(&h), 0);
	big[PROTO_MAX_STR] = 'x';
	big[PROTO_MAX_STR + 1] = '\0';
	assert_int_equal(hello_reparse(&h), ERR_FORMAT);
	/* The same string in the environment vector, after a good argv. */
	h.argv = hello_argv;
	h.argc = 3;
	h.env = &big;
	h.envc = 1;
	assert_int_equal(hello_reparse(&h), ERR_FORMAT);
	free(big);
}

/* A NUL inside a string is refused wherever the string is. */
static void
test_embedded_nul(void **state)
{
	static char		 id[] = "a#b", arg[] = "s#", env[] = "L#=x";
	char			*argv[] = { a_sh, arg }, *envv[] = { env };
	struct msg_hello	 h;
	struct buf		 b;
	const uint8_t		*p;
	uint8_t			*q;
	size_t			 n, i;
	int			 hits = 0;

	(void)state;
	hello_sample(&h);
	h.id = id;
	h.argv = argv;
	h.argc = 2;
	h.env = envv;
	h.envc = 1;
	buf_init(&b, 0);
	assert_int_equal(proto_hello_put(&b, &h), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_HELLO);
	q = (uint8_t *)p;
	assert_int_equal(parse_any(MSG_HELLO, q, n), 0);
	for (i = 0; i < n; i++) {
		if (q[i] != '#')
			continue;
		q[i] = '\0';
		assert_int_equal(parse_any(MSG_HELLO, q, n), ERR_FORMAT);
		q[i] = '#';
		hits++;
	}
	assert_int_equal(hits, 3);
	buf_free(&b);

	buf_init(&b, 0);
	assert_int_equal(proto_error_put(&b, 1, "x#y"), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_ERROR);
	q = (uint8_t *)p;
	q[n - 2] = '\0';
	assert_int_equal(parse_any(MSG_ERROR, q, n), ERR_FORMAT);
	buf_free(&b);
}

/*
 * A version older than the oldest spoken is told apart from a malformed
 * message; so is a WELCOME in a version newer than ours (a daemon must
 * answer in the older of the two).
 */
static void
test_version_mismatch(void **state)
{
	static const uint32_t	 vers[] = { 0, PROTO_VERSION_MIN - 1 };
	static const uint32_t	 wvers[] = { 0, PROTO_VERSION_MIN - 1,
				    PROTO_VERSION + 1, 0xffffffff };
	struct msg_hello	 h;
	struct msg_welcome	 w = { 0, s_s1, 0, 0, 0, 1 };
	struct msg_welcome	 wout;
	struct msg_hello	 hout;
	struct buf		 b;
	const uint8_t		*p;
	size_t			 n, i;
	uint8_t			 v[4];

	(void)state;
	buf_init(&b, 0);
	for (i = 0; i < sizeof vers / sizeof vers[0]; i++) {
		hello_sample(&h);
		h.version = vers[i];
		buf_reset(&b);
		assert_int_equal(proto_hello_put(&b, &h), 0);
		assert_int_equal(one_frame(&b, &p, &n), MSG_HELLO);
		assert_int_equal(proto_hello_parse(p, n, &hout), ERR_VERSION);
		assert_null(hout.id);
		assert_null(hout.argv);
		/* Only the version is read first. */
		v[0] = vers[i] >> 24;
		v[1] = vers[i] >> 16;
		v[2] = vers[i] >> 8;
		v[3] = vers[i];
		assert_int_equal(proto_hello_parse(v, 4, &hout), ERR_VERSION);
	}
	for (i = 0; i < sizeof wvers / sizeof wvers[0]; i++) {
		w.version = wvers[i];
		buf_reset(&b);
		assert_int_equal(proto_welcome_put(&b, &w), 0);
		assert_int_equal(one_frame(&b, &p, &n), MSG_WELCOME);
		assert_int_equal(proto_welcome_parse(p, n, &wout),
		    ERR_VERSION);
		assert_null(wout.id);
		v[0] = wvers[i] >> 24;
		v[1] = wvers[i] >> 16;
		v[2] = wvers[i] >> 8;
		v[3] = wvers[i];
		assert_int_equal(proto_welcome_parse(v, 4, &wout),
		    ERR_VERSION);
	}
	buf_free(&b);
}

/*
 * Every version from the oldest up is accepted in HELLO; a newer one may
 * carry fields after ours (ignored), ours or an older one may not.
 */
static void
test_version_negotiation(void **state)
{
	static const uint32_t	 vers[] = { PROTO_VERSION_MIN, PROTO_VERSION,
				    PROTO_VERSION + 1, 0xffffffff };
	struct msg_hello	 h, hout;
	struct msg_welcome	 w = { PROTO_VERSION_MIN, s_s1, 0, 0, 0, 1 };
	struct msg_welcome	 wout;
	struct buf		 b;
	const uint8_t		*p;
	uint8_t			*q;
	size_t			 n, i;

	(void)state;
	buf_init(&b, 0);
	for (i = 0; i < sizeof vers / sizeof vers[0]; i++) {
		hello_sample(&h);
		h.version = vers[i];
		buf_reset(&b);
		assert_int_equal(proto_hello_put(&b, &h), 0);
		assert_int_equal(one_frame(&b, &p, &n), MSG_HELLO);
		assert_int_equal(proto_hello_parse(p, n, &hout), 0);
		assert_int_equal(hout.version, vers[i]);
		proto_hello_free(&hout);
		/* The same with a field a newer version added. */
		q = malloc(n + 3);
		memcpy(q, p, n);
		memcpy(q + n, "new", 3);
		assert_int_equal(proto_hello_parse(q, n + 3, &hout),
		    vers[i] > PROTO_VERSION ? 0 : ERR_FORMAT);
		proto_hello_free(&hout);
		free(q);
	}
	buf_reset(&b);
	assert_int_equal(proto_welcome_put(&b, &w), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_WELCOME);
	assert_int_equal(proto_welcome_parse(p, n, &wout), 0);
	assert_int_equal(wout.version, PROTO_VERSION_MIN);
	proto_welcome_free(&wout);
	buf_free(&b);
}

/* Session names: what limpet -S accepts. */
static void
test_names(void **state)
{
	(void)state;
	assert_true(proto_name_valid("work"));
	assert_true(proto_name_valid("Build_2.x-y"));
	assert_true(proto_name_valid("abcdefghijklmnopqrstuvwxyz012345"));
	assert_false(proto_name_valid("abcdefghijklmnopqrstuvwxyz0123456"));
	assert_false(proto_name_valid(""));
	assert_false(proto_name_valid("-x"));
	assert_false(proto_name_valid(".x"));
	assert_false(proto_name_valid("a b"));
	assert_false(proto_name_valid("a/b"));
	assert_false(proto_name_valid("a;b"));
	assert_false(proto_name_valid("\x1b[31m"));
}

/* DETAIL: pairs round-trip; truncation and trailing bytes are refused. */
static void
test_detail(void **state)
{
	struct msg_detail	 m, out;
	struct buf		 b;
	const uint8_t		*p;
	size_t			 n, k;

	(void)state;
	memset(&m, 0, sizeof m);
	m.key[0] = (char *)"proto";
	m.value[0] = (char *)"3";
	m.key[1] = (char *)"name";
	m.value[1] = (char *)"";
	m.n = 2;
	buf_init(&b, 0);
	assert_int_equal(proto_detail_put(&b, &m), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_DETAIL);
	assert_int_equal(proto_detail_parse(p, n, &out), 0);
	assert_int_equal(out.n, 2);
	assert_string_equal(proto_detail_get(&out, "proto"), "3");
	assert_string_equal(proto_detail_get(&out, "name"), "");
	assert_null(proto_detail_get(&out, "nope"));
	proto_detail_free(&out);
	for (k = 0; k < n; k++)
		assert_int_equal(proto_detail_parse(p, k, &out), ERR_FORMAT);
	buf_reset(&b);
	assert_int_equal(buf_put_u32(&b, PROTO_DETAIL_MAX + 1), 0);
	assert_int_equal(proto_detail_parse(buf_ptr(&b), buf_len(&b), &out),
	    ERR_FORMAT);
	assert_string_equal(proto_type_name(MSG_DETAIL), "DETAIL");
	buf_free(&b);
}

/* WELCOME: every field; a replay start after the end is refused. */
static void
test_welcome(void **state)
{
	struct msg_welcome	 in = { PROTO_VERSION, s_0123, 1ULL << 33,
				        5, UINT64_MAX, UINT32_MAX };
	struct msg_welcome	 out;
	struct buf		 b;
	const uint8_t		*p;
	size_t			 n;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(proto_welcome_put(&b, &in), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_WELCOME);
	assert_int_equal(proto_welcome_parse(p, n, &out), 0);
	assert_int_equal(out.version, PROTO_VERSION);
	assert_string_equal(out.id, "0123");
	assert_true(out.in_have == 1ULL << 33);
	assert_true(out.out_start == 5);
	assert_true(out.out_end == UINT64_MAX);
	assert_int_equal(out.pid, UINT32_MAX);
	proto_welcome_free(&out);

	in.out_start = in.out_end = 9;
	buf_reset(&b);
	assert_int_equal(proto_welcome_put(&b, &in), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_WELCOME);
	assert_int_equal(parse_any(MSG_WELCOME, p, n), 0);
	in.out_start = 10;
	buf_reset(&b);
	assert_int_equal(proto_welcome_put(&b, &in), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_WELCOME);
	assert_int_equal(parse_any(MSG_WELCOME, p, n), ERR_FORMAT);
	buf_free(&b);
}

/* SESSION: every field, negative statuses; unknown states refused. */
static void
test_session(void **state)
{
	struct msg_session	 in = { s_abc, 1, 2, 3, SESS_DETACHED,
				        INT32_MIN, s_empty };
	struct msg_session	 out;
	struct buf		 b;
	const uint8_t		*p;
	size_t			 n;
	int			 st;

	(void)state;
	buf_init(&b, 0);
	for (st = 0; st <= SESS_EXITED + 1; st++) {
		in.state = st;
		buf_reset(&b);
		assert_int_equal(proto_session_put(&b, &in), 0);
		assert_int_equal(one_frame(&b, &p, &n), MSG_SESSION);
		if (st > SESS_EXITED) {
			assert_int_equal(parse_any(MSG_SESSION, p, n),
			    ERR_FORMAT);
			continue;
		}
		assert_int_equal(proto_session_parse(p, n, &out), 0);
		assert_string_equal(out.id, "abc");
		assert_int_equal(out.pid, 1);
		assert_true(out.created == 2 && out.active == 3);
		assert_int_equal(out.state, st);
		assert_int_equal(out.status, INT32_MIN);
		assert_string_equal(out.command, "");
		proto_session_free(&out);
	}
	buf_free(&b);
}

/* DATA: offset and bytes; offsets that would wrap are refused. */
static void
test_data(void **state)
{
	struct buf	 b;
	const uint8_t	*p, *data;
	uint8_t		*big;
	uint64_t	 off;
	size_t		 n, len;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(proto_data_put(&b, 1234567890123ULL, "\0\1\2", 3),
	    0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_DATA);
	assert_int_equal(proto_data_parse(p, n, &off, &data, &len), 0);
	assert_true(off == 1234567890123ULL);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "\0\1\2", 3);

	buf_reset(&b);
	assert_int_equal(proto_data_put(&b, UINT64_MAX, NULL, 0), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_DATA);
	assert_int_equal(parse_any(MSG_DATA, p, n), 0);
	buf_reset(&b);
	assert_int_equal(proto_data_put(&b, UINT64_MAX - 2, "ab", 2), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_DATA);
	assert_int_equal(parse_any(MSG_DATA, p, n), 0);
	buf_reset(&b);
	assert_int_equal(proto_data_put(&b, UINT64_MAX - 1, "ab", 2), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_DATA);
	assert_int_equal(parse_any(MSG_DATA, p, n), ERR_FORMAT);

	/* The largest DATA fits a frame; one more byte is refused whole. */
	big = calloc(1, FRAME_MAX_PAYLOAD);
	assert_non_null(big);
	buf_reset(&b);
	assert_int_equal(proto_data_put(&b, 0, big, FRAME_MAX_PAYLOAD - 8),
	    0);
	n = buf_len(&b);
	assert_int_equal(proto_data_put(&b, 0, big, FRAME_MAX_PAYLOAD - 7),
	    ERR_TOOBIG);
	assert_int_equal(buf_len(&b), n);
	free(big);
	buf_free(&b);
}

/* The small fixed messages keep their values, extremes included. */
static void
test_small_messages(void **state)
{
	static const uint64_t	 u64s[] = { 0, 1, 1ULL << 63, UINT64_MAX };
	static const int32_t	 stats[] = { 0, 1, 255, -1, INT32_MIN,
					     INT32_MAX };
	struct buf		 b;
	const uint8_t		*p;
	size_t			 n, i;
	uint64_t		 v, end;
	uint32_t		 u32;
	int32_t			 st;
	uint16_t		 rows, cols;
	char			*s;

	(void)state;
	buf_init(&b, 0);
	for (i = 0; i < sizeof u64s / sizeof u64s[0]; i++) {
		buf_reset(&b);
		assert_int_equal(proto_u64_put(&b, MSG_ACK, u64s[i]), 0);
		assert_int_equal(one_frame(&b, &p, &n), MSG_ACK);
		assert_int_equal(proto_u64_parse(p, n, &v), 0);
		assert_true(v == u64s[i]);
		buf_reset(&b);
		assert_int_equal(proto_u32_put(&b, MSG_DONE,
		    (uint32_t)u64s[i]), 0);
		assert_int_equal(one_frame(&b, &p, &n), MSG_DONE);
		assert_int_equal(proto_u32_parse(p, n, &u32), 0);
		assert_int_equal(u32, (uint32_t)u64s[i]);
	}
	for (i = 0; i < sizeof stats / sizeof stats[0]; i++) {
		buf_reset(&b);
		assert_int_equal(proto_exit_put(&b, stats[i], 42 + i), 0);
		assert_int_equal(one_frame(&b, &p, &n), MSG_EXIT);
		assert_int_equal(proto_exit_parse(p, n, &st, &end), 0);
		assert_int_equal(st, stats[i]);
		assert_true(end == 42 + i);
	}
	buf_reset(&b);
	assert_int_equal(proto_resize_put(&b, 0, UINT16_MAX), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_RESIZE);
	assert_int_equal(proto_resize_parse(p, n, &rows, &cols), 0);
	assert_int_equal(rows, 0);
	assert_int_equal(cols, UINT16_MAX);

	buf_reset(&b);
	assert_int_equal(proto_error_put(&b, PERR_GONE, "session ended"), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_ERROR);
	assert_int_equal(proto_error_parse(p, n, &u32, &s), 0);
	assert_int_equal(u32, PERR_GONE);
	assert_string_equal(s, "session ended");
	free(s);

	buf_reset(&b);
	assert_int_equal(proto_str_put(&b, MSG_NOTICE, ""), 0);
	assert_int_equal(one_frame(&b, &p, &n), MSG_NOTICE);
	assert_int_equal(proto_str_parse(p, n, &s), 0);
	assert_string_equal(s, "");
	free(s);
	buf_free(&b);
}

/*
 * Every proper prefix of every message is refused cleanly (DATA only
 * below its 8-byte offset: after that a prefix is shorter data).
 */
static void
test_truncation(void **state)
{
	const uint8_t	*p;
	size_t		 n, cut;
	uint8_t		 type;
	int		 i, r;

	(void)state;
	for (i = 0; i < nsamples; i++) {
		type = one_frame(&samples[i].b, &p, &n);
		assert_int_equal(parse_any(type, p, n), 0);
		for (cut = 0; cut < n; cut++) {
			r = parse_any(type, p, cut);
			if (type == MSG_DATA && cut >= 8)
				assert_int_equal(r, 0);
			else if (r != ERR_FORMAT)
				fail_msg("%s cut at %zu of %zu: %d",
				    samples[i].name, cut, n, r);
		}
	}
}

/* A byte after the last field is refused (DATA has no last field). */
static void
test_trailing(void **state)
{
	const uint8_t	*p;
	uint8_t		*q;
	size_t		 n;
	uint8_t		 type;
	int		 i, r;

	(void)state;
	for (i = 0; i < nsamples; i++) {
		type = one_frame(&samples[i].b, &p, &n);
		q = malloc(n + 1);
		assert_non_null(q);
		memcpy(q, p, n);
		q[n] = 0;
		r = parse_any(type, q, n + 1);
		if (type == MSG_DATA)
			assert_int_equal(r, 0);
		else if (r != ERR_FORMAT)
			fail_msg("%s with a trailing byte: %d",
			    samples[i].name, r);
		free(q);
	}
}

/*
 * Flipping any single bit of any message, then random multi-byte damage:
 * parsers must not crash or leak (ASan and LeakSanitizer watch), and
 * whatever they accept must re-encode to the same bytes.
 */
static void
test_bit_flips(void **state)
{
	struct unit_rng	 rng;
	const uint8_t	*p;
	uint8_t		*q;
	size_t		 n, bit, k;
	uint8_t		 type;
	int		 i, round, ok = 0, bad = 0;

	(void)state;
	unit_rng_init(&rng, 8);
	for (i = 0; i < nsamples; i++) {
		type = one_frame(&samples[i].b, &p, &n);
		q = malloc(n > 0 ? n : 1);
		assert_non_null(q);
		for (bit = 0; bit < n * 8; bit++) {
			memcpy(q, p, n);
			q[bit / 8] ^= 1 << (bit % 8);
			if (parse_any(type, q, n) == 0)
				ok++;
			else
				bad++;
		}
		for (round = 0; round < 2000 && n > 0; round++) {
			memcpy(q, p, n);
			for (k = 1 + unit_rng_below(&rng, 4); k > 0; k--)
				q[unit_rng_below(&rng, n)] =
				    (uint8_t)unit_rng_next(&rng);
			if (parse_any(type, q, n) == 0)
				ok++;
			else
				bad++;
		}
		free(q);
	}
	/* Both outcomes happen, or the test is not testing anything. */
	assert_true(ok > 0 && bad > 0);
}

/* Random payloads for every type: no crash, no leak. */
static void
test_garbage(void **state)
{
	static const uint8_t	 types[] = { MSG_HELLO, MSG_WELCOME,
		MSG_DATA, MSG_ACK, MSG_RESIZE, MSG_EXIT, MSG_ERROR,
		MSG_SESSION, MSG_DONE, MSG_NOTICE };
	struct unit_rng		 rng;
	uint8_t			 q[256];
	size_t			 n, i;
	int			 round;

	(void)state;
	unit_rng_init(&rng, 9);
	for (round = 0; round < 5000; round++) {
		n = unit_rng_below(&rng, sizeof q);
		unit_rng_fill(&rng, q, n);
		/* Small lengths make nested length fields plausible. */
		for (i = 0; i + 3 < n; i += 4 + unit_rng_below(&rng, 8))
			if (unit_rng_below(&rng, 2) == 0)
				q[i] = q[i + 1] = q[i + 2] = 0;
		parse_any(types[round % sizeof types], q, n);
	}
}

/* TERMIOS: flags and offsets round-trip; settled beyond written fails. */
static void
test_termios(void **state)
{
	struct buf	 b;
	struct frame	 f;
	struct frame_dec d;
	uint64_t	 w, s;
	uint32_t	 g;
	uint8_t		 fl;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(proto_termios_put(&b, TIO_ICANON | TIO_ECHO, 42, 40,
	    77), 0);
	frame_dec_init(&d);
	assert_int_equal(frame_dec_push(&d, buf_ptr(&b), buf_len(&b)), 0);
	assert_int_equal(frame_dec_next(&d, &f), 1);
	assert_int_equal(f.type, MSG_TERMIOS);
	assert_int_equal(proto_termios_parse(f.p, f.len, &fl, &w, &s, &g), 0);
	assert_int_equal(fl, TIO_ICANON | TIO_ECHO);
	assert_int_equal(w, 42);
	assert_int_equal(s, 40);
	assert_int_equal(g, 77);
	assert_int_not_equal(proto_termios_parse(f.p, f.len - 1, &fl, &w, &s,
	    &g), 0);
	/* Without the group (an older daemon): 0. */
	assert_int_equal(proto_termios_parse(f.p, f.len - 4, &fl, &w, &s, &g),
	    0);
	assert_int_equal(g, 0);
	assert_int_not_equal(proto_termios_parse(f.p, f.len - 5, &fl, &w, &s,
	    &g), 0);
	frame_dec_free(&d);
	buf_reset(&b);
	assert_int_equal(proto_termios_put(&b, 0, 1, 2, 0), 0);
	frame_dec_init(&d);
	assert_int_equal(frame_dec_push(&d, buf_ptr(&b), buf_len(&b)), 0);
	assert_int_equal(frame_dec_next(&d, &f), 1);
	assert_int_not_equal(proto_termios_parse(f.p, f.len, &fl, &w, &s, &g),
	    0);
	frame_dec_free(&d);
	buf_free(&b);
}

/* A SCREEN frame round-trips; short or cut ones do not parse. */
static void
test_screen_msg(void **state)
{
	struct buf		 b;
	struct frame_dec	 d;
	struct frame		 f;
	struct msg_screen	 m, g;
	size_t			 i;
	char			 prog[] = "vim";

	(void)state;
	memset(&m, 0, sizeof m);
	m.off = 1234567;
	m.flags = SCREEN_FINAL | SCREEN_GAP;
	m.idle = 42;
	m.program = prog;
	m.row = (const uint8_t *)"\0337row\0338";
	m.rowlen = 8;
	m.p = (const uint8_t *)"\033[Hsnap";
	m.len = 7;
	buf_init(&b, BUF_MAX_DEFAULT);
	assert_int_equal(proto_screen_put(&b, &m), 0);
	frame_dec_init(&d);
	assert_int_equal(frame_dec_push(&d, buf_ptr(&b), buf_len(&b)), 0);
	assert_int_equal(frame_dec_next(&d, &f), 1);
	assert_int_equal(f.type, MSG_SCREEN);
	assert_int_equal(proto_screen_parse(f.p, f.len, &g), 0);
	assert_int_equal(g.off, m.off);
	assert_int_equal(g.flags, m.flags);
	assert_int_equal(g.idle, 42);
	assert_string_equal(g.program, "vim");
	assert_int_equal(g.rowlen, 8);
	assert_memory_equal(g.row, m.row, 8);
	assert_int_equal(g.len, 7);
	assert_memory_equal(g.p, m.p, 7);
	free(g.program);
	/* Every cut inside the fixed fields fails, leaving nothing. */
	for (i = 0; i < 8 + 1 + 4 + 4 + 3 + 4; i++) {
		assert_int_equal(proto_screen_parse(f.p, i, &g) < 0, 1);
		assert_null(g.program);
	}
	frame_dec_free(&d);
	buf_free(&b);
}

/* Names for logs. */
static void
test_type_names(void **state)
{
	(void)state;
	assert_string_equal(proto_type_name(MSG_HELLO), "HELLO");
	assert_string_equal(proto_type_name(MSG_DATA), "DATA");
	assert_string_equal(proto_type_name(MSG_DETACH), "DETACH");
	assert_string_equal(proto_type_name(MSG_NOTICE), "NOTICE");
	assert_string_equal(proto_type_name(MSG_WINDOW), "WINDOW");
	assert_string_equal(proto_type_name(MSG_TERMIOS), "TERMIOS");
	assert_string_equal(proto_type_name(MSG_SCREEN), "SCREEN");
	assert_string_equal(proto_type_name(0), "?");
	assert_string_equal(proto_type_name(MSG_MAX + 1), "unknown");
	assert_string_equal(proto_type_name(255), "unknown");
}

/* Run the protocol message tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_round_trip),
		cmocka_unit_test(test_hello_limits),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_version_mismatch),
		cmocka_unit_test(test_welcome),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_data),
		cmocka_unit_test(test_small_messages),
		cmocka_unit_test_setup_teardown(test_truncation,
		    samples_setup, samples_teardown),
		cmocka_unit_test_setup_teardown(test_trailing,
		    samples_setup, samples_teardown),
		cmocka_unit_test_setup_teardown(test_bit_flips,
		    samples_setup, samples_teardown),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_version_negotiation),
		cmocka_unit_test(test_detail),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_termios),
		cmocka_unit_test(test_screen_msg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
