/*
 * The session daemon's state, shared by its files: daemon.c (the process:
 * socket, poll loop, signals), daemon-core.c (peers, timers, the PTY's
 * queues) and daemon-frame.c (what peers' frames do).  The core and the
 * frame handlers make no assumption about the fds they are given, so unit
 * tests and the fuzzer drive them with socketpairs and pipes.
 */
#ifndef LIMPET_DAEMON_INT_H
#define LIMPET_DAEMON_INT_H

#include <sys/types.h>

#include <stdint.h>

#include "buf.h"
#include "daemon-flow.h"
#include "daemon-fwd.h"
#include "daemon-pipe.h"
#include "daemon-peer.h"
#include "proto.h"
#include "ring.h"
#include "sock.h"

#define DAEMON_MAX_PEERS	16
#define DATA_CHUNK	(32 * 1024)	/* payload of one DATA frame */
#define READ_MAX	(64 * 1024)	/* PTY bytes read per turn */
#define OUT_QUEUE_MAX	(256 * 1024)	/* framed output waiting for fd */
#define WIN_MIN		FLOW_WIN_MIN	/* the output window: daemon-flow.c */
#define WIN_INIT	FLOW_WIN_INIT
#define WIN_MAX		FLOW_WIN_MAX
#define STALL_MS	(30 * 1000)	/* window full, nothing heard */
#define STALE_MS	(3600 * 1000)	/* nothing heard at all */
#define DRAIN_MS	500		/* program gone, PTY still open */
#define KILL_GRACE_MS	2000
#define TOUCH_MS	(3600 * 1000)
#define HOLD_MS		(60 * 1000)	/* link lost: keep output this long */
#define HELLO_MS	(5 * 1000)	/* a peer must say HELLO by then */
#define PEER_TX_MS	(5 * 1000)	/* an answer must drain by then */
#define CLIENT_TX_MS	(60 * 1000)	/* the client's output must move */
/* An exited session nobody acknowledged is kept this long (seconds). */
#define KEEP_EXITED_S	(7 * 24 * 3600)
#define VT_RESIZES	8		/* size changes the model may lag */
#define VT_PIECE	256		/* bytes fed between clock reads */
#define VT_BUDGET_US	500		/* model time per idle loop turn */
#define VT_BUSY_US	100		/* per turn while bytes flow */
#define VT_CATCHUP_MS	100		/* at attach, before a snapshot */
#define VT_BACKLOG	(1024 * 1024)	/* output the model may lag */
#define VT_LAG		(256 * 1024)	/* this far behind in a flood: wait */
#define VT_FLOOD	(64 * 1024)	/* bytes per VT_RATE_MS: a flood */
#define VT_RATE_MS	20		/* the flood is judged this often */
#define VT_SLEEP_MS	30000		/* detached and no output this long:
					   the model sleeps (vt_sleep()) */

struct vt;

#define TIO_SETTLE_MS	50	/* re-read the termios this long after I/O */
#define TIO_POLL_MS	5	/* ... this often */
#define TIO_QUIET_MS	300	/* and once more this long after, QUIET */
#define ECHO_MS		50	/* input the program had this long: its
				   echo is out (TERMIOS settled) */
#define ECHO_MARKS	16

struct mark {
	uint64_t	off;
	uint64_t	t;
};

struct daemon {
	char		 dir[SOCK_PATH_MAX];
	char		 id[PROTO_ID_LEN + 1];
	char		 name[PROTO_ID_LEN + 1];	/* limpet -S, or "" */
	char		 from[64];	/* SSH_CLIENT of the last attach */
	uint64_t	 detached_at;	/* wall time the client left, or 0 */
	char		 sockpath[SOCK_PATH_MAX];
	char		 pidpath[SOCK_PATH_MAX];
	int		 lfd;
	char		*command;
	uint64_t	 created;
	uint64_t	 active;

	int		 ptyfd;
	pid_t		 child;		/* -1: none (tests) */
	int		 child_done;
	int		 status;
	int		 pty_eof;
	int		 pty_hup;	/* every slave fd is closed */
	uint64_t	 drain_at;
	int		 finished;	/* program gone and PTY drained */
	uint64_t	 expire_at;	/* finished: exit anyway by then */
	uint64_t	 keep_exited;	/* ms to keep a finished session */

	struct ring	 out;		/* output not yet acknowledged */
	struct buf	 pty_in;	/* input not yet written to the PTY */
	uint64_t	 in_have;	/* input bytes received, in total */
	uint64_t	 in_limit;	/* last WINDOW limit sent */
	size_t		 in_window;	/* PROTO_INPUT_WINDOW */
	int		 ack_due;

	struct peer	*peers[DAEMON_MAX_PEERS];
	int		 npeers;
	struct peer	*client;	/* the attached one, if any */
	uint64_t	 sent;		/* next output offset to send */
	uint64_t	 acked;
	int		 exit_sent;
	uint16_t	 rows, cols;

	size_t		 window;	/* unacknowledged output allowed */
	struct flow	 flow;		/* what sizes it (daemon-flow.c) */
	int		 pty_dry;	/* the last PTY read found nothing */

	uint64_t	 hold_until;	/* no client: never overwrite before */
	uint64_t	 hold_ms;	/* HOLD_MS; tests may shorten it */
	uint64_t	 client_tx_ms;	/* CLIENT_TX_MS; tests too */
	uint64_t	 dropped_told;	/* ring.dropped a client was told of */
	int		 detach_on_purpose;

	int		 killing;
	uint64_t	 kill_at;
	uint64_t	 touch_at;

	/* What the client is told of the PTY's termios (daemon-termios.c). */
	int		 tio;		/* TIO_* last read, -1 unknown */
	int		 tio_told;	/* TIO_* last sent, -1 none */
	uint32_t	 tio_group;	/* foreground process group read */
	uint32_t	 tio_group_told;	/* ... and sent */
	uint64_t	 tio_written;	/* input written when tio was read */
	uint64_t	 tio_io;	/* input + output seen at the last check */
	uint64_t	 tio_until;	/* keep re-reading until then */
	uint64_t	 tio_next;	/* next re-read */
	uint64_t	 tio_quiet;	/* the QUIET re-read is due then */
	uint64_t	 tio_settled;	/* settled offset last sent */
	uint64_t	 echo_settled;	/* input the program had ECHO_MS */
	struct mark	 echo[ECHO_MARKS];	/* input written, and when */
	int		 necho;

	int		 quit;		/* the process should exit */
	int		 quit_code;

	struct dfwd	*fwd;		/* channels, the agent socket */
	struct dpipe	*pipe;		/* a pipe session (daemon-pipe.c) */
	/* The screen model (daemon-screen.c), fed behind the live stream. */
	struct vt	*vt;
	struct ring	 vt_in;		/* output the model has not read */
	uint64_t	 vt_dropped;	/* vt_in.dropped the model knows of */
	uint64_t	 vt_gap;	/* bytes the model never saw */
	int		 vt_resync;	/* start the model again */
	int		 vt_flood;	/* output floods in (VT_FLOOD) */
	uint64_t	 vt_rate_t;	/* ms when vt_flood was judged */
	uint64_t	 vt_rate_off;	/* vt_in.end then */
	struct vt_resize {
		uint64_t	off;	/* the PTY's size changed here */
		uint16_t	rows, cols;
	}		 vt_rs[VT_RESIZES];
	int		 vt_nrs;
	int		 vt_off;	/* no model (LIMPET_SCREEN=off) */
	int		 trimmed;	/* heap trimmed since the last output */
	uint64_t	 vt_out_ms;	/* ms of the last output */
	uint64_t	 vt_sleep_ms;	/* VT_SLEEP_MS; tests may shorten it */
	int		 vt_awake;	/* may not sleep until more output */
};

/* daemon-core.c */
void		 daemon_init(struct daemon *, size_t, uint64_t);
void		 daemon_free(struct daemon *);
struct peer	*daemon_add_peer(struct daemon *, int, uint64_t);
void		 daemon_drop(struct daemon *, struct peer *, const char *);
void		 daemon_refuse(struct daemon *, struct peer *, uint32_t,
		    const char *);
void		 daemon_detach(struct daemon *, const char *);
void		 daemon_sweep(struct daemon *);
void		 daemon_timers(struct daemon *, uint64_t);
uint64_t	 daemon_deadline(const struct daemon *, uint64_t);
void		 daemon_tick(struct daemon *, uint64_t);
int		 daemon_may_read_pty(struct daemon *, uint64_t);
void		 daemon_read_pty(struct daemon *, uint64_t);
void		 daemon_write_pty(struct daemon *);
void		 daemon_kill(struct daemon *, uint64_t);
void		 daemon_quit(struct daemon *, int);

/* daemon-termios.c */
void		 daemon_termios(struct daemon *, uint64_t, int);
uint64_t	 daemon_termios_deadline(const struct daemon *);

/* daemon-frame.c */
void		 daemon_attach(struct daemon *, struct peer *,
		    const struct msg_hello *, uint64_t);
void		 daemon_frames(struct daemon *, struct peer *, uint64_t);
int		 daemon_feed(struct daemon *, struct peer *, const void *,
		    size_t, uint64_t);
void		 daemon_pump(struct daemon *, uint64_t);
void		 daemon_in_window(struct daemon *, int);
size_t		 daemon_inflight(const struct daemon *);

/* daemon-screen.c */
void		 daemon_screen_init(struct daemon *, size_t);
void		 daemon_screen_free(struct daemon *);
void		 daemon_screen_out(struct daemon *, const void *, size_t);
void		 daemon_screen_resized(struct daemon *);
int		 daemon_screen_busy(const struct daemon *);
int		 daemon_screen_wait(struct daemon *, uint64_t);
void		 daemon_screen_step(struct daemon *, int);
int		 daemon_screen_wanted(const struct daemon *,
		    const struct msg_hello *);
uint64_t	 daemon_screen_sync(struct daemon *);
void		 daemon_screen_send(struct daemon *, struct peer *,
		    const struct msg_hello *, int);

#endif
