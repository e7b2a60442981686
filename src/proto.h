/*
 * The limpet wire protocol: frame types, version, limits and the messages
 * that carry more than one field.  docs/PROTOCOL.md is the specification;
 * keep the two in step.
 */
#ifndef LIMPET_PROTO_H
#define LIMPET_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PROTO_VERSION		3
/*
 * The oldest version this build still speaks.  A daemon accepts a HELLO
 * of any version from PROTO_VERSION_MIN up and speaks the lower of the
 * two (WELCOME says which); a client or relay that meets an older peer
 * that refuses its version (ERROR 1) says HELLO again at this version.
 */
#define PROTO_VERSION_MIN	2
/* The relay writes this before its first frame; the client skips noise. */
#define PROTO_MAGIC		"\0LIMPET\1"
#define PROTO_MAGIC_LEN		8
#define PROTO_MAGIC_EARLY	2	/* last byte: HELLO from LIMPET_HELLO */

/* Frame types. */
#define MSG_HELLO	1	/* client -> server: who I am, what I want */
#define MSG_WELCOME	2	/* server -> client: attached, resume points */
#define MSG_DATA	3	/* either way: u64 offset, bytes */
#define MSG_ACK		4	/* either way: u64 offset received */
#define MSG_PING	5	/* either way: u64 token */
#define MSG_PONG	6	/* either way: u64 token echoed */
#define MSG_RESIZE	7	/* client -> server: u16 rows, u16 cols */
#define MSG_DETACH	8	/* client -> server: leaving on purpose */
#define MSG_EXIT	9	/* server -> client: i32 status, u64 end */
#define MSG_ERROR	10	/* server -> client: u32 code, string */
#define MSG_SESSION	11	/* server -> client: one session (ls) */
#define MSG_DONE	12	/* server -> client: u32 count (ls, kill) */
#define MSG_NOTICE	13	/* server -> client: string to show */
#define MSG_WINDOW	14	/* daemon -> client: u64 input limit */
#define MSG_TERMIOS	15	/* daemon -> client: u8 TIO_*, u64 written,
				   u64 settled, [u32 group] (see
				   PROTO_V_TERMIOS) */
#define MSG_SCREEN	16	/* daemon -> client: the screen, rebuilt */
#define MSG_MAX		16

/* Peers that announced this version or later are sent MSG_TERMIOS. */
#ifndef PROTO_V_TERMIOS
#define PROTO_V_TERMIOS	3
#endif
/* MSG_TERMIOS flags: the PTY's local modes as the program set them. */
#define TIO_ICANON	0x01	/* canonical (line) mode */
#define TIO_ECHO	0x02	/* the kernel echoes input */
#define TIO_SHELL	0x04	/* the session's first process reads */
#define TIO_QUIET	0x08	/* read after TIO_QUIET_MS without PTY I/O */
/* 30-34: the everyday helper's frames (not counted in MSG_MAX). */
#define MSG_DETAIL	30	/* server -> client: more about a SESSION */
/* Channels (forwarded connections, the agent): docs/PROTOCOL.md. */
#define MSG_CHAN_OPEN	20	/* either way: u32 id, u8 kind, string */
#define MSG_CHAN_DATA	21	/* either way: u32 id, u64 offset, bytes */
#define MSG_CHAN_ACK	22	/* either way: u32 id, u64 have, u64 limit */
#define MSG_CHAN_EOF	23	/* either way: u32 id, u64 end */
#define MSG_CHAN_CLOSE	24	/* either way: u32 id, u32 reason */
#define MSG_CHAN_FIRST	MSG_CHAN_OPEN
#define MSG_CHAN_LAST	MSG_CHAN_CLOSE
#define MSG_FWD_LISTEN	25	/* client -> daemon: u32 n, 3 strings (-R) */
#define MSG_FWD_RESULT	26	/* daemon -> client: u32 n, u32 err, string */
#define MSG_FWD_LIST	27	/* client -> daemon: the session's -R listeners? */
#define MSG_FWD_LISTED	28	/* daemon -> client: u32 n, n x (string, u64) */
/* Peers that announced this version or later are sent channel frames. */
#define PROTO_V_CHAN	3
/*
 * Resumable pipes (limpet host cmd < in > out): the program runs on pipes,
 * its stdout and stderr go as records in the output stream (src/pipe.h)
 * and the end of the client's stdin is PIPE_EOF.  docs/PROTOCOL.md.
 */
#define MSG_PIPE_EOF	31	/* client -> daemon: u64 end of input */
#define HELLO_PIPE	0x10	/* OP_NEW: pipes, not a PTY (version 3) */
#define PROTO_V_PIPE	3
/*
 * The relay's handoff (version 3, docs/PROTOCOL.md "Handoff"): a relay
 * that says HELLO_HANDOFF is offered HANDOFF first by a daemon that can
 * take sshd's pipes; the relay then passes its stdin with HANDOFF and,
 * once it wrote everything up to HANDOFF_END, its stdout with
 * HANDOFF_OUT, and stays out of the byte path.
 */
#define MSG_HANDOFF	45	/* daemon -> relay: offer; relay -> daemon:
				   stdin attached (SCM_RIGHTS) */
#define MSG_HANDOFF_END	46	/* daemon -> relay: the socket's last bytes */
#define MSG_HANDOFF_OUT	47	/* relay -> daemon: stdout attached */
#define HELLO_HANDOFF	0x80	/* relay -> daemon: can pass its pipes */
#define PROTO_V_HANDOFF	3

/* HELLO operations. */
#define OP_NEW		1
#define OP_ATTACH	2
#define OP_LIST		3
#define OP_KILL		4
#define OP_INFO		5	/* relay -> daemon: describe yourself */
#define OP_OPEN		6	/* client -> relay: attach the session named
				   id, or start it (limpet -S NAME) */

/* HELLO flags. */
#define HELLO_RESUME	0x01	/* the client holds this session's stream */
#define HELLO_KILL_ALL	0x02	/* OP_KILL: every session */
#define HELLO_DETAIL	0x04	/* OP_LIST, OP_INFO: send DETAIL frames */
#define HELLO_AGENT	0x08	/* the client relays an ssh agent (-A) */
#define HELLO_MANY	0x40	/* OP_NEW (version 3): start out_have
				   sessions, each detached (new -d -n) */
#define PROTO_MANY_MAX	1000	/* sessions one HELLO_MANY may start */

/* ERROR codes. */
#define PERR_VERSION	1	/* permanent */
#define PERR_NOSESSION	2	/* permanent */
#define PERR_TAKEN	3	/* another client attached */
#define PERR_PROTOCOL	4
#define PERR_INTERNAL	5
#define PERR_AMBIGUOUS	6	/* permanent: several sessions to choose */
#define PERR_UNSAFE	7	/* permanent: socket directory refused */
#define PERR_SPAWN	8	/* permanent: could not start the command */
#define PERR_GONE	9	/* permanent: session ended */

/* Session states in MSG_SESSION. */
#define SESS_DETACHED	0
#define SESS_ATTACHED	1
#define SESS_EXITED	2
#define SESS_NOANSWER	3	/* relay: the daemon did not answer */

#define PROTO_MAX_ARGS	256
#define PROTO_MAX_ENV	64
#define PROTO_MAX_STR	4096
#define PROTO_ID_LEN	32
/* The client's default idle heartbeat (NATs keep an idle flow 60 s+). */
#define PROTO_KEEPALIVE_S	25
/* Input the daemon lets a client have in flight beyond what it wrote. */
#define PROTO_INPUT_WINDOW	(1024 * 1024)

/*
 * The screen snapshot (MSG_SCREEN) goes only to peers of this version or
 * later; older clients get the raw replay and the redraw nudge.
 */
#define PROTO_V_SCREEN		3
#define PROTO_HAS_SCREEN(v)	((v) >= PROTO_V_SCREEN)
/* MSG_SCREEN flags. */
#define SCREEN_FINAL	0x01	/* the last piece: the stream goes on */
#define SCREEN_GAP	0x02	/* older output is gone for good */
/* Snapshot bytes per MSG_SCREEN frame. */
#define SCREEN_CHUNK	(32 * 1024)

struct msg_screen {
	uint64_t	 off;		/* the output offset it stands for */
	uint8_t		 flags;		/* SCREEN_* */
	uint32_t	 idle;		/* seconds since the session's output */
	char		*program;	/* the program in the foreground */
	const uint8_t	*row;		/* repaints the bottom row */
	size_t		 rowlen;
	const uint8_t	*p;		/* the escape sequences */
	size_t		 len;
};

struct msg_hello {
	uint32_t	 version;
	uint8_t		 op;
	uint8_t		 flags;
	uint64_t	 client_id;
	uint64_t	 out_have;	/* output bytes the client holds */
	uint16_t	 rows, cols;
	uint32_t	 ring_kb;	/* OP_NEW: output ring size, KiB */
	char		*id;		/* session id, "" for any */
	uint32_t	 argc;
	char		**argv;		/* OP_NEW: command, may be empty */
	uint32_t	 envc;
	char		**env;		/* OP_NEW: NAME=value */
};

struct msg_welcome {
	uint32_t	 version;
	char		*id;
	uint64_t	 in_have;	/* input bytes the daemon holds */
	uint64_t	 out_start;	/* first output byte it can replay */
	uint64_t	 out_end;	/* output produced so far */
	uint32_t	 pid;
};

struct msg_session {
	char		*id;
	uint32_t	 pid;
	uint64_t	 created;
	uint64_t	 active;	/* last activity, seconds since epoch */
	uint8_t		 state;
	int32_t		 status;
	char		*command;
};

/* One DETAIL frame: the SESSION it follows, told as key/value pairs. */
#define PROTO_DETAIL_MAX	32
struct msg_detail {
	uint32_t	 n;
	char		*key[PROTO_DETAIL_MAX];
	char		*value[PROTO_DETAIL_MAX];
};

uint32_t proto_version(void);
int	proto_version_ok(uint32_t);
int	proto_detail_put(struct buf *, const struct msg_detail *);
int	proto_detail_parse(const uint8_t *, size_t, struct msg_detail *);
void	proto_detail_free(struct msg_detail *);
const char *proto_detail_get(const struct msg_detail *, const char *);
int	proto_name_valid(const char *);
int	proto_hello_put(struct buf *, const struct msg_hello *);
int	proto_hello_parse(const uint8_t *, size_t, struct msg_hello *);
void	proto_hello_free(struct msg_hello *);
int	proto_welcome_put(struct buf *, const struct msg_welcome *);
int	proto_welcome_parse(const uint8_t *, size_t, struct msg_welcome *);
void	proto_welcome_free(struct msg_welcome *);
int	proto_session_put(struct buf *, const struct msg_session *);
int	proto_session_parse(const uint8_t *, size_t, struct msg_session *);
void	proto_session_free(struct msg_session *);
int	proto_data_put(struct buf *, uint64_t, const void *, size_t);
int	proto_data_parse(const uint8_t *, size_t, uint64_t *,
	    const uint8_t **, size_t *);
int	proto_u64_put(struct buf *, uint8_t, uint64_t);
int	proto_u64_parse(const uint8_t *, size_t, uint64_t *);
int	proto_resize_put(struct buf *, uint16_t, uint16_t);
int	proto_resize_parse(const uint8_t *, size_t, uint16_t *, uint16_t *);
int	proto_exit_put(struct buf *, int32_t, uint64_t);
int	proto_exit_parse(const uint8_t *, size_t, int32_t *, uint64_t *);
int	proto_error_put(struct buf *, uint32_t, const char *);
int	proto_error_parse(const uint8_t *, size_t, uint32_t *, char **);
int	proto_str_put(struct buf *, uint8_t, const char *);
int	proto_str_parse(const uint8_t *, size_t, char **);
int	proto_termios_put(struct buf *, uint8_t, uint64_t, uint64_t,
	    uint32_t);
int	proto_termios_parse(const uint8_t *, size_t, uint8_t *, uint64_t *,
	    uint64_t *, uint32_t *);
int	proto_u32_put(struct buf *, uint8_t, uint32_t);
int	proto_u32_parse(const uint8_t *, size_t, uint32_t *);
const char *proto_type_name(uint8_t);
int	proto_screen_put(struct buf *, const struct msg_screen *);
int	proto_screen_parse(const uint8_t *, size_t, struct msg_screen *);

#endif
