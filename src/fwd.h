/*
 * The socket side of forwarding, shared by the client and the daemon:
 * forward specifications as ssh writes them, listeners, non-blocking
 * connects, and moving bytes between a channel (chan.c) and its socket.
 * Each end keeps one struct fwd and adds its entries to its own poll set.
 */
#ifndef LIMPET_FWD_H
#define LIMPET_FWD_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"

#define FWD_MAX_SPECS	16
#define FWD_MAX_LFD	4		/* addresses one forward listens on */
/* Poll entries a struct fwd may add. */
#define FWD_NPFD	(FWD_MAX_SPECS * FWD_MAX_LFD + CHAN_MAX + 2)
/* Channel data queued on the link at most (terminal traffic first). */
#define FWD_QUEUE_MAX	(256 * 1024)
#define FWD_READ_MAX	(256 * 1024)
/* While channel data is owed an ACK, a PING at least this often (ms). */
#define FWD_PING_MS	100

struct fwd_spec {
	int		 type;		/* 'L', 'R' or 'D' */
	char		*text;		/* as the user wrote it */
	char		*bind;		/* NULL: loopback; "*": everywhere */
	char		*port;		/* a port, or a Unix socket path */
	char		*target;	/* "host:port" or a path; NULL for D */
	int		 lfd[FWD_MAX_LFD];
	int		 nlfd;
	uint64_t	 conns;		/* connections accepted */
};

struct fwd_slot {
	int		 what;		/* FWD_SLOT_* */
	int		 spec;		/* listener: its spec */
	int		 fd;
	uint32_t	 id;		/* channel */
};
#define FWD_SLOT_LISTEN	1
#define FWD_SLOT_CHAN	2
#define FWD_SLOT_OTHER	3		/* the end's own (agent listener) */

struct fwd {
	struct chan_set	 set;
	struct fwd_spec	 spec[FWD_MAX_SPECS];
	int		 nspec;
	struct fwd_slot	 slot[FWD_NPFD];
	int		 nslot;
};

int	fwd_parse(const char *, int, struct fwd_spec *, char *, size_t);
void	fwd_spec_free(struct fwd_spec *);
int	fwd_listen(struct fwd_spec *, char *, size_t);
int	fwd_connect(const char *, int *);
int	fwd_accept(int);
void	fwd_init(struct fwd *, uint32_t, const struct chan_ops *, void *);
void	fwd_free(struct fwd *);
int	fwd_poll_fill(struct fwd *, struct pollfd *, int);
int	fwd_poll_add(struct fwd *, struct pollfd *, int *, int, int, short);
void	fwd_chan_io(struct fwd *, struct chan *, short);
void	fwd_close_fd(struct chan *);
int	fwd_chan_connect(struct chan *, const char *);
struct chan *fwd_chan_accept(struct fwd *, int, int);
int	fwd_slot_chan(struct fwd *, const struct pollfd *, int);
int	fwd_frame(struct fwd *, uint8_t, const uint8_t *, size_t);
size_t	fwd_pump(struct fwd *, struct buf *);
size_t	fwd_pump_to(struct fwd *, struct buf *, int);
int	fwd_write_wait(const struct fwd *);
uint64_t fwd_deadline(const struct fwd *, int);

#endif
