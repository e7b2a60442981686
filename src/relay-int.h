/*
 * The relay's state, shared by relay.c (the loop, HELLO, bridging) and
 * relay-query.c (asking every daemon at once: ls, kill, attach's choice).
 */
#ifndef LIMPET_RELAY_INT_H
#define LIMPET_RELAY_INT_H

#include <sys/types.h>

#include <poll.h>
#include <stdint.h>

#include "buf.h"
#include "frame.h"
#include "proto.h"
#include "sock.h"

#define RELAY_BUF	(256 * 1024)
#define RELAY_EARLY_MAX	2048	/* bytes of a HELLO in LIMPET_HELLO */
#define RELAY_PIPE	(1024 * 1024)	/* stdin's pipe buffer, if allowed */
#define HELLO_WAIT_MS	(60 * 1000)	/* the client's HELLO */
#define QUERY_WAIT_MS	3000		/* a daemon's answer to INFO, KILL */
#define ANSWER_WAIT_MS	5000		/* an attached daemon's first bytes */
#define FLUSH_WAIT_MS	10000		/* the last words to the client */
#define RETRY_MS	20		/* connect again to a full backlog */
#define MAX_SESSIONS	4096
#define MAX_INFLIGHT	256		/* daemons asked at the same time */
#define NAME_WAIT_MS	15000		/* another relay starting a name */

enum relay_phase {
	PH_HELLO,	/* waiting for the client's HELLO */
	PH_CONNECT,	/* connecting to the session to attach */
	PH_QUERY,	/* asking daemons */
	PH_PIPE,	/* copying bytes between client and daemon */
	PH_NAME,	/* waiting for a name's lock (relay-spawn.c) */
	PH_DECIDE,	/* waiting for loginctl (relay-spawn.c) */
	PH_SCOPE,	/* waiting for systemd-run (relay-spawn.c) */
	PH_MANY,	/* new -d -n: a new daemon's WELCOME (relay-spawn.c) */
	PH_FLUSH,	/* writing the last bytes to the client */
	PH_DONE
};

struct query;

struct relay {
	int			 phase;
	int			 rc;		/* exit code */
	uint64_t		 deadline;	/* of the phase */
	uint64_t		 retry_at;	/* PH_CONNECT */
	const char		*dirarg;	/* --dir */
	struct sock_dirs	 dirs;
	struct msg_hello	 h;
	int			 have_hello;
	int			 resolved;	/* a name was looked up */
	char			 id[PROTO_ID_LEN + 1];

	int			 fd;		/* the daemon bridged to */
	int			 answered;	/* it sent something */
	int			 in_open;	/* ssh's stdin */
	struct buf		 up;		/* client -> daemon */
	struct buf		 down;		/* -> client */
	struct buf		 first;		/* the daemon's first frame */
	int			 greet;		/* its version may be refused */
	struct buf		 resend;	/* then: what followed HELLO */
	char			 notice[SOCK_ERR_MAX + SOCK_PATH_MAX + 64];
	struct pollfd		*pfd;

	struct query		*q;		/* sorted by id */
	int			 nq;
	int			*qmap;		/* pfd slot -> query */
	int			 inflight;
	int			 cap;		/* MAX_INFLIGHT or fewer */

	/* Starting daemons (relay-spawn.c). */
	int			 name_fd;	/* a name's locked file */
	int			 spawn_fd;	/* a helper's report pipe */
	pid_t			 spawn_pid;	/* that helper */
	int			 spawn_sv;	/* our end of its daemon */
	char			 spawn_why[320];
	int			 scope_d;	/* scope_decide(), -1 unasked */
	int			 scope_linger;
	char			 scope_why[320];
	uint32_t		 many;		/* new -d -n: still to start */
	uint32_t		 made;		/* new -d -n: started */
	int			 nosplice;	/* the kernel cannot */
	int			 up_wait;	/* spliced up: socket full */
	int			 down_wait;	/* spliced down: pipe full */
	/* The handoff of sshd's pipes (relay-handoff.c). */
	int			 ho;		/* RHO_* */
	size_t			 up_whole;	/* up's whole frames, bytes */
	size_t			 down_whole;	/* down's, before HANDOFF_END */
	int			 ho_end;	/* HANDOFF_END came */
};

enum relay_ho {
	RHO_NONE,	/* no handoff: copy (splice) as ever */
	RHO_WAIT,	/* asked: the daemon's first frame says */
	RHO_CUT,	/* offered: up to a frame's end, then pass stdin */
	RHO_SENT,	/* stdin passed: down to HANDOFF_END, pass stdout */
	RHO_DONE	/* both passed: wait for the daemon's end */
};

void		 relay_fail(struct relay *, uint32_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 relay_finish(struct relay *, int);
const char	*relay_host(void);
int		 relay_frame_peek(struct buf *, struct frame *);
int		 relay_frame_at(const uint8_t *, size_t, struct frame *);
void		 relay_stale(const char *, const char *);
void		 relay_bridge(struct relay *, int, int);
void		 relay_new(struct relay *);
void		 relay_named(struct relay *);
void		 relay_name_try(struct relay *, uint64_t);
void		 relay_name_unlock(struct relay *);
void		 relay_many(struct relay *);
void		 relay_many_io(struct relay *, short);
void		 relay_many_tick(struct relay *, uint64_t);
void		 relay_scope_io(struct relay *);
void		 relay_scope_tick(struct relay *, uint64_t);
void		 relay_query_add(struct relay *, int, const char *);
void		 relay_queries_go(struct relay *);
int		 relay_queries_max(struct relay *);
void		 relay_queries_start(struct relay *);
void		 relay_queries_tick(struct relay *, uint64_t);
int		 relay_queries_timeout(struct relay *, uint64_t);
int		 relay_queries_poll(struct relay *, struct pollfd *);
void		 relay_queries_io(struct relay *, struct pollfd *, int);
void		 relay_queries_free(struct relay *);
void		 relay_ho_ask(struct relay *);
void		 relay_ho_forget(struct relay *);
void		 relay_ho_first(struct relay *);
void		 relay_ho_scan(struct relay *);
size_t		 relay_ho_up_room(const struct relay *);
size_t		 relay_ho_down_room(const struct relay *);
ssize_t		 relay_ho_write(struct buf *, int, size_t, size_t *, int);
int		 relay_ho_reading(const struct relay *);
int		 relay_ho_due(const struct relay *);
void		 relay_ho_step(struct relay *);
void		 relay_ho_done_io(struct relay *);

#endif
