/*
 * The client's state, shared by client.c (the loop and the protocol),
 * client-ui.c (notices, escapes, status) and client-admin.c (ls, kill).
 */
#ifndef LIMPET_CLIENT_INT_H
#define LIMPET_CLIENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "client-fwd.h"
#include "client-knock.h"
#include "client-screen.h"
#include "client-ssh.h"
#include "cmdline.h"
#include "config.h"
#include "escape.h"
#include "frame.h"
#include "proto.h"
#include "ring.h"

#define NOTICE_NONE	0
#define NOTICE_ALT	1	/* program on the alternate screen: redraw */
#define NOTICE_BLANK	2	/* cursor above the bottom row: it was blank */
#define NOTICE_LINE	3	/* cursor on the bottom row: replay its line */

/* The client's states; only client_set_state() changes c->state. */
enum client_state {
	ST_CONNECTING = 1,	/* an ssh runs, no WELCOME yet */
	ST_UP,			/* WELCOME received: the session is ours */
	ST_WAITING,		/* no ssh; the next attempt is due at next_try */
	ST_DONE			/* leaving */
};

/*
 * While ST_UP, whether the link is in doubt; only link_set() changes
 * c->link, and leaving ST_UP makes it LINK_OK.
 */
enum link_state {
	LINK_OK = 0,		/* the link is trusted */
	LINK_ROAMING,		/* the network changed: a new ssh beside it */
	LINK_SUSPECT		/* an answer is overdue: link_suspect() */
};

#define CLIENT_OFFSET_MAX (UINT64_C(1) << 62)	/* sane stream offsets */
#define OUT_CHUNK	16384		/* one write to the (blocking) tty */
#define OUT_SPANS	32		/* local text pieces queued at once */
#define EXIT_OUT_MS	2000		/* the terminal drains by then */
#define EXIT_TX_MS	1000		/* ssh takes the last frames by then */
#define EXIT_SSH_MS	2000		/* ssh leaves by itself by then */
#define DEAD_S		2		/* owed an answer this long: dead */
#define DEAD_SLACK_MS	500		/* and a few round trips more */
#define FLOW_MS		3000		/* output came this recently: watch */
#define HEDGE_STEP_MS	100		/* a parallel attempt this often */
#define HEDGE_TOTAL	6		/* parallel attempts per loss */
#define HEDGE_MAX	3		/* parallel attempts alive at once */
#define HEDGE_RECHECK_MS 20		/* ssh has no socket yet: look again */
#define HEDGE_BLIND_MS	500		/* no TCP state to see: this often */
#define ATTEMPT_MS	(20 * 1000)	/* one reconnect attempt at most */
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS	(10 * 1000)
#define PROBE_MS	500		/* answer due after a network change */
#define NOTICE_MS	1000		/* contact lost this long: say so */
#define CPR_MS		300		/* a terminal answers ESC[6n by then */
#define CPR_OWED_MS	5000		/* or, loaded, by then, if it can */
#define SILENCE_MS	600		/* data stopped this long: probe */
#define STALE_MS	2000		/* quiet this long: probe on typing */
#define TYPED_PROBE_MS	500		/* then an answer is due this soon */
#define SLOW_ATTEMPT_MS	1500		/* a failed attempt this long waited
					   enough: try again at once */
#define INPUT_MAX	(1024 * 1024)	/* typed, not yet acknowledged */
#define INPUT_CHUNK	(16 * 1024)
#define TX_MAX		(8 * 1024 * 1024)
#define EARLY_MAX	1024		/* a HELLO on ssh's command line */
#define EARLY_WAIT_MS	80		/* for ssh -G, to send it there */
#define TX_SOFT_MAX	(256 * 1024)
#define TERM_MAX	(1024 * 1024)	/* received, not yet on screen */
#define ATTACH_NOTICE_MS 3000		/* the "attached" notice stays */

struct predict;
struct cpipe;
/* A parallel connection attempt (client-link.c). */
struct hedge {
	struct ssh_proc	 p;
	uint64_t	 start;
	size_t		 magic;		/* preamble bytes seen */
	int		 pfd;		/* its index in the poll set */
};

struct pollfd;

struct client {
	int		 mode;
	struct cmdline	 cl;
	struct config	 cfg;		/* the user's file, for this host */
	struct ssh_conf	 ssh;
	int		 keepalive_ms;
	/* Idle heartbeats, learned from the path (client-keep.c). */
	uint64_t	 ka_ms;		/* silence before a PING, now */
	uint64_t	 ka_proven;	/* longest silence answered */
	uint64_t	 ka_ceiling;	/* a silence not answered, or 0 */
	uint64_t	 ka_gap;	/* silence the PING out tests, or 0 */
	int		 ka_fixed;	/* --keepalive: nothing learned */
	int		 dead_ms;
	uint64_t	 give_up_ms;
	uint32_t	 ring_kb;
	const char	*want_id;
	char		*name;		/* -S NAME: attach it or start it */
	uint64_t	 client_id;
	char		 session[PROTO_ID_LEN + 1];
	char		*final_msg;	/* printed once the terminal is back */
	int		 attached_once;

	int		 tty;
	int		 stdin_open;
	uint16_t	 rows, cols;
	int		 resize_due;
	int		 wiggle;
	struct escape	 esc;

	struct ring	 in;		/* typed input from the last ACK */
	uint64_t	 in_sent;	/* next input offset to send */
	uint64_t	 pending_since;	/* sent input waits for ACK since */
	uint64_t	 in_limit;	/* the daemon's last WINDOW */
	int		 in_window;	/* a WINDOW came since WELCOME */

	struct buf	 term;		/* the output queue: session output and
					   local text, in order */
	uint64_t	 q_out;		/* queue bytes written so far */
	struct {
		uint64_t	start, end;	/* local text in the queue */
	}		 local[OUT_SPANS];
	int		 nlocal;
	uint64_t	 out_have;	/* output received */
	uint64_t	 out_written;	/* output written to the terminal */
	uint64_t	 ack_sent;
	uint64_t	 ack_at;	/* when the last ACK was queued */

	int		 exited;
	int		 exit_acked;
	const char	*exit_why;	/* why the program ended, if known */
	int32_t		 status;
	uint64_t	 exit_end;

	enum client_state state;
	struct ssh_proc	 proc;
	int		 ssh_exited;
	int		 ssh_status;
	int		 user_verbose;
	int		 pass_stderr;
	struct buf	 tx;
	struct frame_dec rx;
	size_t		 magic;
	char		 errtext[4096];
	size_t		 errtext_len;

	int		 attempt;		/* since the last contact */
	int		 fails;
	uint64_t	 attempt_start;
	uint64_t	 attempt_deadline;
	uint64_t	 next_try;
	uint64_t	 lost_at;
	int		 reconnects;
	uint64_t	 up_since;

	uint64_t	 last_rx, last_tx;
	uint64_t	 rx_paused;	/* not reading ssh (terminal full) since */
	uint64_t	 rx_resumed;	/* reading ssh again since */
	uint64_t	 last_data;	/* last DATA or ACK received */
	uint64_t	 silent_since;	/* contact lost at (dead link) */
	int		 ping_out;
	uint64_t	 ping_at;
	uint64_t	 probe_deadline;
	uint64_t	 probe_grace;	/* PONG due this long after a byte */
	uint64_t	 srtt, rtt_last;

	int		 notice_on;	/* NOTICE_* while one is shown */
	uint64_t	 notice_at;
	uint64_t	 cpr_deadline;	/* asked the cursor row until then */
	uint64_t	 cpr_asked;	/* when we last asked */
	struct screen	 scr;
	struct predict	*pred;		/* predictive echo (client-predict.c) */
	int		 predict;	/* --predict: PRED_* */
	int		 pred_writing;	/* its own text is being queued */
	int		 pred_local;	/* inside cursor-neutral local text */
	int		 pred_interfered; /* local text moved the cursor */
	int		 repainting;	/* a snapshot is coming in */
	uint64_t	 attach_notice_until;	/* shown until then */
	struct buf	 repaint_row;	/* takes the notice away */
	int		 netfd;
	int		 exit_code;
	uint32_t	 hello_version;	/* the version HELLO announces */
	int		 hello_due;	/* HELLO waits for the ssh config */
	struct buf	 early;		/* HELLO also on ssh's command line */
	size_t		 early_len;	/* its bytes at tx's head wait for the
					   preamble: sent or dropped then */
	int		 early_taken;	/* the preamble said it was taken */
	uint64_t	 first_at;	/* the first ssh waits for ssh -G */
	uint32_t	 version;	/* the one WELCOME chose */
	int		 not_installed;	/* the server has no limpet */
	struct cfwd	*fwd;		/* forwards and their channels */
	struct cpipe	*pipe;		/* pipe mode (client-pipe.c), or NULL */

	struct hedge	 hedge[HEDGE_MAX];	/* parallel attempts */
	int		 nhedge;
	int		 hedges_made;	/* since the loss */
	int		 hedge_through;	/* an attempt's SYN got through */
	int		 hedge_blind;	/* the TCP state cannot be seen */
	uint64_t	 hedge_recheck;	/* look at the TCP state again then */
	enum link_state	 link;		/* doubt about the link while up */
	uint64_t	 suspect_at;	/* since then */
	uint64_t	 roam_at;	/* when it last changed */
	uint64_t	 hedge_last;	/* the newest attempt started */
	struct knock	 knock;		/* is the path back? (client-knock.c) */
};

/* client.c */
struct client *client_new(void);
void	client_free(struct client *);
void	client_begin(struct client *, uint64_t);
void	client_probe(struct client *, uint64_t, uint64_t);
void	client_feed(struct client *, const uint8_t *, size_t, uint64_t);
void	client_send_input(struct client *, uint64_t);
void	client_set_state(struct client *, enum client_state);
void	client_lost(struct client *, const char *, uint64_t);
void	client_finish(struct client *, int);
void	client_config_known(struct client *);
void	client_finish_msg(struct client *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	client_ping(struct client *, uint64_t);
void	client_reconnect_now(struct client *, uint64_t);

/* client-out.c */
void	out_session(struct client *, size_t);
void	client_local(struct client *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	client_local_bytes(struct client *, const void *, size_t);
int	out_write(struct client *);
void	out_discard(struct client *);
void	out_account(struct client *, size_t);
void	out_drain(struct client *, int);
size_t	out_safe(char *, size_t, const char *);

/* client-ui.c */
int	notice_clear(struct client *);
void	notice_update(struct client *, uint64_t);
void	client_escape(struct client *, int, uint64_t);
void	client_detach(struct client *, int);
void	client_hint(struct client *, char *, size_t);
int	client_timeout(struct client *, uint64_t);

/* client-link.c */
uint64_t link_silence_due(const struct client *);
uint64_t link_dead_ms(const struct client *);
uint64_t link_hedge_due(const struct client *);
void	link_hedge_step(struct client *, uint64_t);
void	link_hedge_stop(struct client *);
void	link_hedge_now(struct client *, uint64_t);
int	link_hedge_take(struct client *, uint64_t);
void	link_hedge_poll(struct client *, struct pollfd *, int *);
void	link_hedge_read(struct client *, const struct pollfd *, uint64_t);
void	link_roam(struct client *, uint64_t);
int	link_suspect(struct client *, uint64_t);
void	link_set(struct client *, enum link_state);
void	link_ssh_again(struct client *);

/* client-admin.c */
int	client_admin(struct client *, int);
int	client_take_name(struct client *);

#endif
