/*
 * The client's end of a pipe session (limpet host cmd < in > out, stdin
 * not a terminal): stdin is the input stream, ended by PIPE_EOF; the
 * output stream's records go to stdout and stderr; nothing else is
 * written to stdout.
 */
#ifndef LIMPET_CLIENT_PIPE_H
#define LIMPET_CLIENT_PIPE_H

#include <stddef.h>
#include <stdint.h>

#include "pipe.h"

struct client;

struct cpipe {
	struct pipe_rx	 rx;		/* where the output stream is */
	int		 eof;		/* stdin is at its end */
	uint64_t	 in_end;	/* ... which is this input offset */
	int		 eof_sent;	/* PIPE_EOF sent on this connection */
	int		 verbose;	/* --verbose: say what happens */
	int		 leaving;	/* stdout is gone: DETACH sent */
	uint64_t	 leave_by;	/* leave by then anyway */
	int		 leave_code;	/* and exit with this */
};

#define PIPE_LEAVE_MS	5000	/* the daemon closes the link by then */

int	cpipe_start(struct client *);
void	cpipe_free(struct client *);
uint8_t	cpipe_hello_flags(const struct client *);
void	cpipe_begin(struct client *);
void	cpipe_read_in(struct client *);
void	cpipe_step(struct client *);
int	cpipe_out_fd(struct client *);
int	cpipe_write(struct client *);
void	cpipe_local(struct client *, const void *, size_t);
void	cpipe_leave(struct client *, int);

#endif
