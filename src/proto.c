/*
 * Encoding and strict parsing of protocol messages.  A parser either fills
 * the whole message or returns a negative code and leaves nothing
 * allocated; trailing bytes are an error, so every field is accounted for.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "frame.h"
#include "proto.h"
#include "xmalloc.h"

/*
 * This process's own protocol version.  Test builds (LIMPET_TEST_HOOKS)
 * may pretend to be another version with LIMPET_TEST_PROTO_VERSION, so
 * the negotiation can be tested between builds of one tree.
 */
uint32_t
proto_version(void)
{
#ifdef LIMPET_TEST_HOOKS
	const char	*s = getenv("LIMPET_TEST_PROTO_VERSION");

	if (s != NULL && *s != '\0')
		return (uint32_t)strtoul(s, NULL, 10);
#endif
	return PROTO_VERSION;
}

/*
 * Whether a peer announcing version v is spoken to: any version from
 * PROTO_VERSION_MIN up (a newer peer is answered in ours).  Test builds
 * can act as a daemon from before negotiation existed, which accepted
 * only its own version (LIMPET_TEST_PROTO_LEGACY).
 */
int
proto_version_ok(uint32_t v)
{
#ifdef LIMPET_TEST_HOOKS
	const char	*s = getenv("LIMPET_TEST_PROTO_LEGACY");

	if (s != NULL && *s != '\0')
		return v == proto_version();
#endif
	return v >= PROTO_VERSION_MIN;
}

/*
 * Whether s may name a session (limpet -S NAME): 1 to 32 of letters,
 * digits, '_', '.' and '-', not starting with '-' or '.'.  Names end up
 * in commands the user pastes.
 */
int
proto_name_valid(const char *s)
{
	static const char	ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	size_t			n = strlen(s);

	return n >= 1 && n <= PROTO_ID_LEN && strspn(s, ok) == n &&
	    s[0] != '-' && s[0] != '.';
}

/* Free a NULL-terminated-by-count string vector. */
static void
proto_strv_free(char **v, uint32_t n)
{
	uint32_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Append a HELLO frame. */
int
proto_hello_put(struct buf *b, const struct msg_hello *m)
{
	size_t		mark;
	uint32_t	i;
	int		r;

	if ((r = frame_begin(b, MSG_HELLO, &mark)) != 0 ||
	    (r = buf_put_u32(b, m->version)) != 0 ||
	    (r = buf_put_u8(b, m->op)) != 0 ||
	    (r = buf_put_u8(b, m->flags)) != 0 ||
	    (r = buf_put_u64(b, m->client_id)) != 0 ||
	    (r = buf_put_u64(b, m->out_have)) != 0 ||
	    (r = buf_put_u16(b, m->rows)) != 0 ||
	    (r = buf_put_u16(b, m->cols)) != 0 ||
	    (r = buf_put_u32(b, m->ring_kb)) != 0 ||
	    (r = buf_put_str(b, m->id != NULL ? m->id : "")) != 0 ||
	    (r = buf_put_u32(b, m->argc)) != 0)
		return frame_abort(b, mark, r);
	for (i = 0; i < m->argc; i++)
		if ((r = buf_put_str(b, m->argv[i])) != 0)
			return frame_abort(b, mark, r);
	if ((r = buf_put_u32(b, m->envc)) != 0)
		return frame_abort(b, mark, r);
	for (i = 0; i < m->envc; i++)
		if ((r = buf_put_str(b, m->env[i])) != 0)
			return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Parse a vector of count-prefixed strings. */
static int
proto_strv_parse(struct cur *c, uint32_t max, uint32_t *n, char ***out)
{
	uint32_t	i;
	char		**v;
	int		r;

	*out = NULL;
	if ((r = cur_get_u32(c, n)) != 0)
		return r;
	if (*n > max)
		return ERR_TOOBIG;
	if (*n == 0)
		return 0;
	v = xcalloc(*n, sizeof *v);
	for (i = 0; i < *n; i++) {
		if ((r = cur_get_str(c, &v[i], PROTO_MAX_STR)) != 0) {
			proto_strv_free(v, i);
			return r;
		}
	}
	*out = v;
	return 0;
}

/* Parse a HELLO payload. */
int
proto_hello_parse(const uint8_t *p, size_t n, struct msg_hello *m)
{
	struct cur	c;
	int		r;

	memset(m, 0, sizeof *m);
	cur_init(&c, p, n);
	if ((r = cur_get_u32(&c, &m->version)) != 0)
		return ERR_FORMAT;
	if (!proto_version_ok(m->version))
		return ERR_VERSION;
	if ((r = cur_get_u8(&c, &m->op)) != 0 ||
	    (r = cur_get_u8(&c, &m->flags)) != 0 ||
	    (r = cur_get_u64(&c, &m->client_id)) != 0 ||
	    (r = cur_get_u64(&c, &m->out_have)) != 0 ||
	    (r = cur_get_u16(&c, &m->rows)) != 0 ||
	    (r = cur_get_u16(&c, &m->cols)) != 0 ||
	    (r = cur_get_u32(&c, &m->ring_kb)) != 0 ||
	    (r = cur_get_str(&c, &m->id, PROTO_ID_LEN)) != 0)
		goto fail;
	if ((r = proto_strv_parse(&c, PROTO_MAX_ARGS, &m->argc,
	    &m->argv)) != 0)
		goto fail;
	if ((r = proto_strv_parse(&c, PROTO_MAX_ENV, &m->envc,
	    &m->env)) != 0)
		goto fail;
	/* A newer peer may add fields at the end: ours are all there. */
	if ((!cur_end(&c) && m->version <= proto_version()) ||
	    m->op < OP_NEW || m->op > OP_OPEN) {
		r = ERR_FORMAT;
		goto fail;
	}
	return 0;
fail:
	proto_hello_free(m);
	return r == ERR_SHORT ? ERR_FORMAT : r;
}

/* Free what proto_hello_parse() allocated. */
void
proto_hello_free(struct msg_hello *m)
{
	free(m->id);
	proto_strv_free(m->argv, m->argc);
	proto_strv_free(m->env, m->envc);
	memset(m, 0, sizeof *m);
}

/* Append a WELCOME frame. */
int
proto_welcome_put(struct buf *b, const struct msg_welcome *m)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, MSG_WELCOME, &mark)) != 0 ||
	    (r = buf_put_u32(b, m->version)) != 0 ||
	    (r = buf_put_str(b, m->id)) != 0 ||
	    (r = buf_put_u64(b, m->in_have)) != 0 ||
	    (r = buf_put_u64(b, m->out_start)) != 0 ||
	    (r = buf_put_u64(b, m->out_end)) != 0 ||
	    (r = buf_put_u32(b, m->pid)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Parse a WELCOME payload. */
int
proto_welcome_parse(const uint8_t *p, size_t n, struct msg_welcome *m)
{
	struct cur	c;
	int		r;

	memset(m, 0, sizeof *m);
	cur_init(&c, p, n);
	if ((r = cur_get_u32(&c, &m->version)) != 0)
		return ERR_FORMAT;
	/* The daemon answers in our version or an older one we speak. */
	if (m->version < PROTO_VERSION_MIN || m->version > proto_version())
		return ERR_VERSION;
	if ((r = cur_get_str(&c, &m->id, PROTO_ID_LEN)) != 0 ||
	    (r = cur_get_u64(&c, &m->in_have)) != 0 ||
	    (r = cur_get_u64(&c, &m->out_start)) != 0 ||
	    (r = cur_get_u64(&c, &m->out_end)) != 0 ||
	    (r = cur_get_u32(&c, &m->pid)) != 0 || !cur_end(&c) ||
	    m->out_start > m->out_end) {
		proto_welcome_free(m);
		return ERR_FORMAT;
	}
	return 0;
}

/* Free what proto_welcome_parse() allocated. */
void
proto_welcome_free(struct msg_welcome *m)
{
	free(m->id);
	m->id = NULL;
}

/* Append a SESSION frame. */
int
proto_session_put(struct buf *b, const struct msg_session *m)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, MSG_SESSION, &mark)) != 0 ||
	    (r = buf_put_str(b, m->id)) != 0 ||
	    (r = buf_put_u32(b, m->pid)) != 0 ||
	    (r = buf_put_u64(b, m->created)) != 0 ||
	    (r = buf_put_u64(b, m->active)) != 0 ||
	    (r = buf_put_u8(b, m->state)) != 0 ||
	    (r = buf_put_u32(b, (uint32_t)m->status)) != 0 ||
	    (r = buf_put_str(b, m->command)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Parse a SESSION payload. */
int
proto_session_parse(const uint8_t *p, size_t n, struct msg_session *m)
{
	struct cur	c;
	uint32_t	status;

	memset(m, 0, sizeof *m);
	cur_init(&c, p, n);
	if (cur_get_str(&c, &m->id, PROTO_ID_LEN) != 0 ||
	    cur_get_u32(&c, &m->pid) != 0 ||
	    cur_get_u64(&c, &m->created) != 0 ||
	    cur_get_u64(&c, &m->active) != 0 ||
	    cur_get_u8(&c, &m->state) != 0 ||
	    cur_get_u32(&c, &status) != 0 ||
	    cur_get_str(&c, &m->command, PROTO_MAX_STR) != 0 ||
	    !cur_end(&c) || m->state > SESS_EXITED) {
		proto_session_free(m);
		return ERR_FORMAT;
	}
	m->status = (int32_t)status;
	return 0;
}

/* Free what proto_session_parse() allocated. */
void
proto_session_free(struct msg_session *m)
{
	free(m->id);
	free(m->command);
	m->id = m->command = NULL;
}

/* Append a DATA frame: offset of the first byte, then the bytes. */
int
proto_data_put(struct buf *b, uint64_t off, const void *p, size_t n)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, MSG_DATA, &mark)) != 0 ||
	    (r = buf_put_u64(b, off)) != 0 ||
	    (r = buf_put(b, p, n)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Parse a DATA payload; the bytes point into the payload. */
int
proto_data_parse(const uint8_t *p, size_t n, uint64_t *off,
    const uint8_t **data, size_t *len)
{
	struct cur	c;

	cur_init(&c, p, n);
	if (cur_get_u64(&c, off) != 0)
		return ERR_FORMAT;
	if (UINT64_MAX - *off < c.len)
		return ERR_FORMAT;
	*data = c.p;
	*len = c.len;
	return 0;
}

/* Append a frame whose payload is one u64 (ACK, PING, PONG). */
int
proto_u64_put(struct buf *b, uint8_t type, uint64_t v)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, type, &mark)) != 0 ||
	    (r = buf_put_u64(b, v)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Parse a payload that is exactly one u64. */
int
proto_u64_parse(const uint8_t *p, size_t n, uint64_t *v)
{
	struct cur	c;

	cur_init(&c, p, n);
	if (cur_get_u64(&c, v) != 0 || !cur_end(&c))
		return ERR_FORMAT;
	return 0;
}

/* Append a frame whose payload is one u32 (DONE). */
int
proto_u32_put(struct buf *b, uint8_t type, uint32_t v)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, type, &mark)) != 0 ||
	    (r = buf_put_u32(b, v)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/*
 * Append a TERMIOS frame: the PTY's TIO_* flags, the input bytes written
 * to the PTY when they were read, the input bytes the program has had for
 * at least the echo time (its echo, if any, is out by then), and the
 * PTY's foreground process group then (0 unknown).
 */
int
proto_termios_put(struct buf *b, uint8_t flags, uint64_t written,
    uint64_t settled, uint32_t group)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, MSG_TERMIOS, &mark)) != 0 ||
	    (r = buf_put_u8(b, flags)) != 0 ||
	    (r = buf_put_u64(b, written)) != 0 ||
	    (r = buf_put_u64(b, settled)) != 0 ||
	    (r = buf_put_u32(b, group)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/*
 * Parse a TERMIOS payload; settled may not exceed written.  The group
 * is 0 when the daemon did not send one (an older build).
 */
int
proto_termios_parse(const uint8_t *p, size_t n, uint8_t *flags,
    uint64_t *written, uint64_t *settled, uint32_t *group)
{
	struct cur	c;

	cur_init(&c, p, n);
	*group = 0;
	if (cur_get_u8(&c, flags) != 0 || cur_get_u64(&c, written) != 0 ||
	    cur_get_u64(&c, settled) != 0 ||
	    (!cur_end(&c) && cur_get_u32(&c, group) != 0) || !cur_end(&c) ||
	    *settled > *written)
		return ERR_FORMAT;
	return 0;
}

/* Parse a payload that is exactly one u32. */
int
proto_u32_parse(const uint8_t *p, size_t n, uint32_t *v)
{
	struct cur	c;

	cur_init(&c, p, n);
	if (cur_get_u32(&c, v) != 0 || !cur_end(&c))
		return ERR_FORMAT;
	return 0;
}

/* Append a RESIZE frame. */
int
proto_resize_put(struct buf *b, uint16_t rows, uint16_t cols)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, MSG_RESIZE, &mark)) != 0 ||
	    (r = buf_put_u16(b, rows)) != 0 ||
	    (r = buf_put_u16(b, cols)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Parse a RESIZE payload. */
int
proto_resize_parse(const uint8_t *p, size_t n, uint16_t *rows, uint16_t *cols)
{
	struct cur	c;

	cur_init(&c, p, n);
	if (cur_get_u16(&c, rows) != 0 || cur_get_u16(&c, cols) != 0 ||
	    !cur_end(&c))
		return ERR_FORMAT;
	return 0;
}

/* Append an EXIT frame: the status and the final output offset. */
int
proto_exit_put(struct buf *b, int32_t status, uint64_t end)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, MSG_EXIT, &mark)) != 0 ||
	    (r = buf_put_u32(b, (uint32_t)status)) != 0 ||
	    (r = buf_put_u64(b, end)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Parse an EXIT payload. */
int
proto_exit_parse(const uint8_t *p, size_t n, int32_t *status, uint64_t *end)
{
	struct cur	c;
	uint32_t	s;

	cur_init(&c, p, n);
	if (cur_get_u32(&c, &s) != 0 || cur_get_u64(&c, end) != 0 ||
	    !cur_end(&c))
		return ERR_FORMAT;
	*status = (int32_t)s;
	return 0;
}

/* Append an ERROR frame. */
int
proto_error_put(struct buf *b, uint32_t code, const char *msg)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, MSG_ERROR, &mark)) != 0 ||
	    (r = buf_put_u32(b, code)) != 0 ||
	    (r = buf_put_str(b, msg)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Parse an ERROR payload. */
int
proto_error_parse(const uint8_t *p, size_t n, uint32_t *code, char **msg)
{
	struct cur	c;

	*msg = NULL;
	cur_init(&c, p, n);
	if (cur_get_u32(&c, code) != 0 ||
	    cur_get_str(&c, msg, PROTO_MAX_STR) != 0)
		return ERR_FORMAT;
	if (!cur_end(&c)) {
		free(*msg);
		*msg = NULL;
		return ERR_FORMAT;
	}
	return 0;
}

/* Append a frame whose payload is one string (NOTICE). */
int
proto_str_put(struct buf *b, uint8_t type, const char *s)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, type, &mark)) != 0 ||
	    (r = buf_put_str(b, s)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Parse a payload that is exactly one string. */
int
proto_str_parse(const uint8_t *p, size_t n, char **s)
{
	struct cur	c;

	*s = NULL;
	cur_init(&c, p, n);
	if (cur_get_str(&c, s, PROTO_MAX_STR) != 0)
		return ERR_FORMAT;
	if (!cur_end(&c)) {
		free(*s);
		*s = NULL;
		return ERR_FORMAT;
	}
	return 0;
}

/* Name of a frame type, for logs. */
const char *
proto_type_name(uint8_t type)
{
	static const char *names[] = {
		"?", "HELLO", "WELCOME", "DATA", "ACK", "PING", "PONG",
		"RESIZE", "DETACH", "EXIT", "ERROR", "SESSION", "DONE",
		"NOTICE", "WINDOW", "TERMIOS"
	};

	if (type == MSG_SCREEN)
		return "SCREEN";
	if (type == MSG_DETAIL)
		return "DETAIL";
	if (type == MSG_PIPE_EOF)
		return "PIPE_EOF";
	if (type == MSG_HANDOFF)
		return "HANDOFF";
	if (type == MSG_HANDOFF_END)
		return "HANDOFF_END";
	if (type == MSG_HANDOFF_OUT)
		return "HANDOFF_OUT";
	if (type > MSG_MAX || type >= sizeof names / sizeof names[0])
		return "unknown";
	return names[type];
}

/* Append a DETAIL frame: u32 count, then count (key, value) strings. */
int
proto_detail_put(struct buf *b, const struct msg_detail *m)
{
	size_t		mark;
	uint32_t	i;
	int		r;

	if ((r = frame_begin(b, MSG_DETAIL, &mark)) != 0 ||
	    (r = buf_put_u32(b, m->n)) != 0)
		return frame_abort(b, mark, r);
	for (i = 0; i < m->n; i++)
		if ((r = buf_put_str(b, m->key[i])) != 0 ||
		    (r = buf_put_str(b, m->value[i])) != 0)
			return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/* Parse a DETAIL payload; keys this build does not know are kept too. */
int
proto_detail_parse(const uint8_t *p, size_t n, struct msg_detail *m)
{
	struct cur	c;
	uint32_t	cnt, i;

	memset(m, 0, sizeof *m);
	cur_init(&c, p, n);
	if (cur_get_u32(&c, &cnt) != 0 || cnt > PROTO_DETAIL_MAX)
		return ERR_FORMAT;
	for (i = 0; i < cnt; i++) {
		if (cur_get_str(&c, &m->key[i], 64) != 0)
			goto fail;
		m->n = i + 1;
		if (cur_get_str(&c, &m->value[i], PROTO_MAX_STR) != 0)
			goto fail;
	}
	if (!cur_end(&c))
		goto fail;
	return 0;
fail:
	proto_detail_free(m);
	return ERR_FORMAT;
}

/* Free what proto_detail_parse() allocated. */
void
proto_detail_free(struct msg_detail *m)
{
	uint32_t	i;

	for (i = 0; i < m->n; i++) {
		free(m->key[i]);
		free(m->value[i]);
	}
	memset(m, 0, sizeof *m);
}

/* The value of key in m, or NULL. */
const char *
proto_detail_get(const struct msg_detail *m, const char *key)
{
	uint32_t	i;

	for (i = 0; i < m->n; i++)
		if (m->value[i] != NULL && strcmp(m->key[i], key) == 0)
			return m->value[i];
	return NULL;
}

/* Append a SCREEN frame (one piece of a snapshot). */
int
proto_screen_put(struct buf *b, const struct msg_screen *m)
{
	size_t	mark;
	int	r;

	if ((r = frame_begin(b, MSG_SCREEN, &mark)) != 0 ||
	    (r = buf_put_u64(b, m->off)) != 0 ||
	    (r = buf_put_u8(b, m->flags)) != 0 ||
	    (r = buf_put_u32(b, m->idle)) != 0 ||
	    (r = buf_put_str(b, m->program != NULL ? m->program : "")) != 0 ||
	    (r = buf_put_bytes(b, m->row, m->rowlen)) != 0 ||
	    (r = buf_put(b, m->p, m->len)) != 0)
		return frame_abort(b, mark, r);
	return frame_end(b, mark);
}

/*
 * Parse a SCREEN payload; row and p point into it, program is allocated
 * (free it).
 */
int
proto_screen_parse(const uint8_t *p, size_t n, struct msg_screen *m)
{
	struct cur	c;

	memset(m, 0, sizeof *m);
	cur_init(&c, p, n);
	if (cur_get_u64(&c, &m->off) != 0 || cur_get_u8(&c, &m->flags) != 0 ||
	    cur_get_u32(&c, &m->idle) != 0 ||
	    cur_get_str(&c, &m->program, PROTO_MAX_STR) != 0)
		return ERR_FORMAT;
	if (cur_get_bytes(&c, &m->row, &m->rowlen) != 0) {
		free(m->program);
		m->program = NULL;
		return ERR_FORMAT;
	}
	m->p = c.p;
	m->len = c.len;
	return 0;
}
