/*
 * libFuzzer target for the client's "~" escape parser.  The input is a
 * split seed (two bytes) and the typed bytes.  They are fed in chunks the
 * seed chooses, as the client does (after a command, the rest is fed
 * again), and checked against a plain model of the rules: the output is
 * the input minus the commands the parser reported (each a "~" at the
 * start of a line and its letter) with a "~~" at the start of a line
 * turned into one "~", and a "~" still held at the end; the commands are
 * the ones the model finds, at the same offsets; and the result does not
 * depend on how the input was split.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "escape.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a crash the fuzzer records. */
#define fuzz_check(e) do {						\
	if (!(e))							\
		__builtin_trap();					\
} while (0)

/* Chunk sizes the split seed picks from. */
static const size_t fuzz_chunks[] = { 1, 2, 3, 7, 64, 4096 };

/* Next pseudo-random number from the split seed (xorshift32). */
static uint32_t
fuzz_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* True for a command letter after "~". */
static int
fuzz_is_cmd(uint8_t c)
{
	return c == ESC_DETACH || c == ESC_RECONNECT || c == ESC_STATUS ||
	    c == ESC_SUSPEND || c == ESC_HELP || c == ESC_FORWARDS;
}

/*
 * The model: what the parser must output for p, the commands it must
 * report (letter and the offset just after it) and whether a "~" is held
 * at the end.
 */
static int
fuzz_model(const uint8_t *p, size_t n, uint8_t *out, size_t *nout,
    uint8_t *cmds, size_t *at, size_t *ncmd)
{
	size_t	i = 0;
	int	bol = 1;

	*nout = *ncmd = 0;
	while (i < n) {
		if (bol && p[i] == '~') {
			if (i + 1 == n)
				return 1;
			if (fuzz_is_cmd(p[i + 1])) {
				cmds[*ncmd] = p[i + 1];
				at[(*ncmd)++] = i + 2;
				i += 2;
				continue;
			}
			out[(*nout)++] = '~';
			if (p[i + 1] != '~')
				out[(*nout)++] = p[i + 1];
			bol = p[i + 1] == '\r' || p[i + 1] == '\n';
			i += 2;
			continue;
		}
		out[(*nout)++] = p[i];
		bol = p[i] == '\r' || p[i] == '\n';
		i++;
	}
	return 0;
}

/*
 * Feed p in chunks chosen by seed (0: all at once, 1: byte by byte) and
 * check against the model.
 */
static void
fuzz_split(const uint8_t *p, size_t n, uint32_t seed, const uint8_t *mout,
    size_t mnout, const uint8_t *mcmds, const size_t *mat, size_t mncmd,
    int held)
{
	struct escape	e;
	struct buf	out;
	size_t		off = 0, step, used, ncmd = 0;
	int		cmd;

	escape_init(&e);
	buf_init(&out, 0);
	while (off < n) {
		if (seed == 0)
			step = n - off;
		else if (seed == 1)
			step = 1;
		else
			step = fuzz_chunks[fuzz_rand(&seed) % 6];
		if (step > n - off)
			step = n - off;
		used = escape_feed(&e, p + off, step, &out, &cmd);
		fuzz_check(used >= 1 && used <= step);
		off += used;
		if (cmd == ESC_NONE) {
			fuzz_check(used == step);
			continue;
		}
		fuzz_check(ncmd < mncmd);
		fuzz_check(cmd == mcmds[ncmd] && off == mat[ncmd]);
		ncmd++;
	}
	fuzz_check(ncmd == mncmd);
	fuzz_check(buf_len(&out) == mnout);
	fuzz_check(mnout == 0 || memcmp(buf_ptr(&out), mout, mnout) == 0);
	/* A held "~" comes out with whatever is typed next. */
	used = escape_feed(&e, (const uint8_t *)"x", 1, &out, &cmd);
	fuzz_check(used == 1 && cmd == ESC_NONE);
	fuzz_check(buf_len(&out) == mnout + (held ? 2 : 1));
	buf_free(&out);
}

/* One input: split seed, then the typed bytes. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		*mout, *mcmds;
	size_t		*mat, mnout, mncmd;
	uint32_t	 seed;
	int		 held;

	if (size < 2)
		return 0;
	seed = ((uint32_t)data[0] << 8 | data[1]) + 2;
	data += 2;
	size -= 2;
	mout = malloc(size + 1);
	mcmds = malloc(size + 1);
	mat = malloc((size + 1) * sizeof *mat);
	fuzz_check(mout != NULL && mcmds != NULL && mat != NULL);
	held = fuzz_model(data, size, mout, &mnout, mcmds, &mat[0], &mncmd);
	/* Whole, byte by byte, and in the seed's chunks. */
	fuzz_split(data, size, 0, mout, mnout, mcmds, mat, mncmd, held);
	fuzz_split(data, size, 1, mout, mnout, mcmds, mat, mncmd, held);
	fuzz_split(data, size, seed, mout, mnout, mcmds, mat, mncmd, held);
	free(mout);
	free(mcmds);
	free(mat);
	return 0;
}
