/*
 * libFuzzer target for the wire codec.  The input is a split seed (two
 * bytes) and a byte stream: the stream is pushed into a frame decoder in
 * chunks the seed chooses, every whole frame is parsed with the parser for
 * its type, and every message a parser accepts is encoded again and must
 * give the very same payload.  Anything else (a crash, a leak, a decoder
 * result outside its contract, a re-encoding that differs) is a finding.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "frame.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a crash the fuzzer records. */
#define fuzz_check(e) do {						\
	if (!(e))							\
		__builtin_trap();					\
} while (0)

/* Chunk sizes the split seed picks from. */
static const size_t fuzz_chunks[] = { 1, 2, 5, 7, 64, 4096 };

/* Next pseudo-random number from the split seed (xorshift32). */
static uint32_t
fuzz_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Check that b holds exactly one frame of this type and payload. */
static void
fuzz_same(struct buf *b, int r, uint8_t type, const uint8_t *p, size_t n)
{
	const uint8_t	*q = buf_ptr(b);

	fuzz_check(r == 0);
	fuzz_check(buf_len(b) == FRAME_HDR + n);
	fuzz_check(q[0] == type);
	fuzz_check(((size_t)q[1] << 24 | (size_t)q[2] << 16 |
	    (size_t)q[3] << 8 | q[4]) == n);
	fuzz_check(n == 0 || memcmp(q + FRAME_HDR, p, n) == 0);
}

/* Parse one frame with the parser for its type and re-encode it. */
static void
fuzz_frame(const struct frame *f)
{
	struct msg_hello	 h;
	struct msg_welcome	 w;
	struct msg_session	 s;
	struct buf		 b;
	const uint8_t		*data;
	uint64_t		 u64;
	uint32_t		 u32;
	int32_t			 st;
	uint16_t		 rows, cols;
	size_t			 len;
	char			*str;
	int			 r;

	fuzz_check(f->len <= FRAME_MAX_PAYLOAD);
	fuzz_check(proto_type_name(f->type) != NULL);
	buf_init(&b, 0);
	switch (f->type) {
	case MSG_HELLO:
		if ((r = proto_hello_parse(f->p, f->len, &h)) == 0) {
			fuzz_check(h.argc <= PROTO_MAX_ARGS);
			fuzz_check(h.envc <= PROTO_MAX_ENV);
			fuzz_check(strlen(h.id) <= PROTO_ID_LEN);
			r = proto_hello_put(&b, &h);
			/* A newer HELLO may add fields: ours are a prefix. */
			len = f->len;
			if (h.version > PROTO_VERSION && r == 0 &&
			    buf_len(&b) - FRAME_HDR < len)
				len = buf_len(&b) - FRAME_HDR;
			proto_hello_free(&h);
			fuzz_same(&b, r, f->type, f->p, len);
		} else
			fuzz_check(h.id == NULL && h.argv == NULL &&
			    h.env == NULL && r != ERR_SHORT);
		break;
	case MSG_WELCOME:
		if ((r = proto_welcome_parse(f->p, f->len, &w)) == 0) {
			fuzz_check(w.out_start <= w.out_end);
			r = proto_welcome_put(&b, &w);
			proto_welcome_free(&w);
			fuzz_same(&b, r, f->type, f->p, f->len);
		} else
			fuzz_check(w.id == NULL && r != ERR_SHORT);
		break;
	case MSG_SESSION:
		if ((r = proto_session_parse(f->p, f->len, &s)) == 0) {
			r = proto_session_put(&b, &s);
			proto_session_free(&s);
			fuzz_same(&b, r, f->type, f->p, f->len);
		} else
			fuzz_check(s.id == NULL && s.command == NULL);
		break;
	case MSG_DATA:
		if (proto_data_parse(f->p, f->len, &u64, &data, &len) == 0) {
			fuzz_check(data == f->p + 8 && len == f->len - 8);
			fuzz_check(UINT64_MAX - u64 >= len);
			r = proto_data_put(&b, u64, data, len);
			fuzz_same(&b, r, f->type, f->p, f->len);
		}
		break;
	case MSG_ACK:
	case MSG_PING:
	case MSG_PONG:
		if (proto_u64_parse(f->p, f->len, &u64) == 0) {
			r = proto_u64_put(&b, f->type, u64);
			fuzz_same(&b, r, f->type, f->p, f->len);
		}
		break;
	case MSG_DONE:
		if (proto_u32_parse(f->p, f->len, &u32) == 0) {
			r = proto_u32_put(&b, f->type, u32);
			fuzz_same(&b, r, f->type, f->p, f->len);
		}
		break;
	case MSG_RESIZE:
		if (proto_resize_parse(f->p, f->len, &rows, &cols) == 0) {
			r = proto_resize_put(&b, rows, cols);
			fuzz_same(&b, r, f->type, f->p, f->len);
		}
		break;
	case MSG_EXIT:
		if (proto_exit_parse(f->p, f->len, &st, &u64) == 0) {
			r = proto_exit_put(&b, st, u64);
			fuzz_same(&b, r, f->type, f->p, f->len);
		}
		break;
	case MSG_ERROR:
		if (proto_error_parse(f->p, f->len, &u32, &str) == 0) {
			r = proto_error_put(&b, u32, str);
			free(str);
			fuzz_same(&b, r, f->type, f->p, f->len);
		} else
			fuzz_check(str == NULL);
		break;
	case MSG_NOTICE:
		if (proto_str_parse(f->p, f->len, &str) == 0) {
			r = proto_str_put(&b, f->type, str);
			free(str);
			fuzz_same(&b, r, f->type, f->p, f->len);
		} else
			fuzz_check(str == NULL);
		break;
	default:
		/* DETACH and unknown types carry nothing to parse. */
		break;
	}
	buf_free(&b);
}

/* Decode the stream in seed-chosen chunks; check every result. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint32_t		 seed;
	size_t			 n, max;
	int			 r = 0;

	if (size < 2)
		return 0;
	seed = (uint32_t)data[0] << 8 | data[1];
	max = fuzz_chunks[seed % (sizeof fuzz_chunks /
	    sizeof fuzz_chunks[0])];
	seed = seed * 2654435761u + 1;
	data += 2;
	size -= 2;
	frame_dec_init(&d);
	while (size > 0 && r >= 0) {
		n = 1 + fuzz_rand(&seed) % max;
		if (n > size)
			n = size;
		/* Drained after every push, the decoder is never full. */
		fuzz_check(frame_dec_push(&d, data, n) == 0);
		data += n;
		size -= n;
		while ((r = frame_dec_next(&d, &f)) == 1)
			fuzz_frame(&f);
		fuzz_check(r == 0 || r == ERR_TOOBIG);
		fuzz_check(frame_dec_buffered(&d) < FRAME_HDR +
		    FRAME_MAX_PAYLOAD || r < 0);
	}
	frame_dec_free(&d);
	return 0;
}
