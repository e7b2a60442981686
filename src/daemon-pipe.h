/*
 * The daemon's end of a pipe session (limpet host cmd < in > out): the
 * program runs on three pipes instead of a PTY; its stdout and stderr go
 * into the output ring as records (pipe.h), never overwriting what the
 * client has not acknowledged, and the client's input goes to its stdin,
 * which is closed at the client's PIPE_EOF.
 */
#ifndef LIMPET_DAEMON_PIPE_H
#define LIMPET_DAEMON_PIPE_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct daemon;
struct pty_spec;

#define DPIPE_NPFD	3	/* poll entries: stdin, stdout, stderr */
#define DPIPE_NOEND	UINT64_MAX	/* no PIPE_EOF yet */

struct dpipe {
	int		 fd[3];		/* [0] the program's stdin (written),
					   [1] its stdout, [2] its stderr */
	int		 ipfd[3];	/* their poll entries, this turn */
	uint64_t	 in_end;	/* PIPE_EOF's offset, or DPIPE_NOEND */
	int		 first;		/* the stream read first, in turns */
};

int		 dpipe_spawn(struct daemon *, const struct pty_spec *);
void		 dpipe_free(struct daemon *);
int		 dpipe_attach_ok(const struct daemon *,
		    const struct msg_hello *);
int		 dpipe_input_ok(const struct daemon *, uint64_t, size_t);
int		 dpipe_eof(struct daemon *, const uint8_t *, size_t);
int		 dpipe_poll(struct daemon *, struct pollfd *, int, uint64_t);
void		 dpipe_ready(struct daemon *, struct pollfd *, uint64_t);

#endif
