/*
 * libFuzzer target for the client's side of the protocol: arbitrary bytes
 * as ssh's stdout (noise, the preamble, frames) fed to client_feed() in
 * chunks the first bytes choose, with the terminal draining some of the
 * output queue between chunks.  No sockets, no ssh, no terminal.  Besides
 * the sanitizers, the client's invariants are checked after every chunk:
 * output is never acknowledged beyond what was written, never written
 * beyond what was received, input never sent beyond the daemon's window,
 * and the session id, once set, is one the relay would accept.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-int.h"
#include "client.h"
#include "log.h"
#include "sock.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a crash the fuzzer records, naming the broken check. */
#define fuzz_check(e) do {						\
	if (!(e)) {							\
		fprintf(stderr, "client-fuzzer: %s (line %d)\n", #e,	\
		    __LINE__);						\
		abort();						\
	}								\
} while (0)

/* Chunk sizes the seed picks from. */
static const size_t fuzz_chunks[] = { 1, 3, 8, 64, 1000, 70000 };

/* The client's invariants, whatever it was fed. */
static void
fuzz_invariants(struct client *c)
{
	fuzz_check(c->ack_sent <= c->out_written);
	fuzz_check(c->out_written <= c->out_have);
	fuzz_check(c->in.start <= c->in_sent && c->in_sent <= c->in.end);
	fuzz_check(c->session[0] == '\0' || sock_id_valid(c->session));
	fuzz_check(c->nlocal >= 0 && c->nlocal <= OUT_SPANS);
}

/* Feed one input: seed bytes, then the stream. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client	*c;
	uint64_t	 now = 1000000;
	uint32_t	 seed;
	uint64_t	 sent;
	size_t		 off = 0, n, k;
	int		 round = 0;

	if (size < 3)
		return 0;
	seed = data[0] | (uint32_t)data[1] << 8;
	c = client_new();
	c->mode = (data[2] & 1) ? CLIENT_ATTACH : CLIENT_NEW;
	c->attached_once = (data[2] & 2) != 0;	/* a reconnect */
	if (c->attached_once)
		memcpy(c->session, "abc", 4);
	/* Typed input waiting, so WINDOW and ACK have something to act on. */
	ring_append(&c->in, "typed input", 11, 0);
	data += 3;
	size -= 3;
	client_begin(c, now);
	while (off < size && c->state != ST_DONE) {
		n = fuzz_chunks[(seed >> (round++ % 16 * 2)) % 6];
		if (n > size - off)
			n = size - off;
		client_feed(c, data + off, n, now);
		off += n;
		now += 7;
		/* The terminal takes part of the queue. */
		k = buf_len(&c->term) / 2 + (seed & 1);
		if (k > buf_len(&c->term))
			k = buf_len(&c->term);
		buf_consume(&c->term, k);
		out_account(c, k);
		if (c->state == ST_UP) {
			/* Input goes out only inside the window. */
			sent = c->in_sent;
			client_send_input(c, now);
			fuzz_check(c->in_sent == sent || (c->in_window &&
			    c->in_sent <= c->in_limit));
		}
		fuzz_invariants(c);
		if (c->state == ST_WAITING)
			client_begin(c, now);	/* reconnect */
		buf_reset(&c->tx);		/* ssh took it */
	}
	client_free(c);
	return 0;
}
