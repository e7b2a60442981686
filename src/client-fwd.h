/*
 * The client's end of forwarding (client-fwd.c): -L listeners, the agent
 * relay to the local SSH_AUTH_SOCK, and the ssh options that forwarding
 * takes away from the short-lived ssh children.
 */
#ifndef LIMPET_CLIENT_FWD_H
#define LIMPET_CLIENT_FWD_H

#include <poll.h>
#include <stdint.h>

#include "frame.h"
#include "fwd.h"
#include "proc.h"

struct client;

#define CSOCKS_MAX	8		/* -D connections still in SOCKS */
#define CSOCKS_MS	(10 * 1000)	/* to finish the SOCKS request */
#define CFWD_NPFD	(FWD_NPFD + CSOCKS_MAX + 1)	/* and ssh -G */

struct csocks {
	int		 fd;
	int		 spec;
	int		 greeted;
	uint8_t		 in[600];
	size_t		 len;
	uint64_t	 deadline;
};

#define CFWD_CONFIG_MAX	65536	/* what ssh -G may print, bytes */
#define CFWD_CONFIG_MS	5000	/* how long it may take */

struct cfwd {
	struct fwd	 w;
	int		 agent;		/* -A: relay the local agent */
	int		 agent_cli;	/* -A (1) or -a (0) given, else -1 */
	int		 exit_on_failure;	/* -o ExitOnForwardFailure */
	char		**opts;		/* ssh's options without forwards */
	int		 nopts;
	uint32_t	 version;	/* the daemon's, from WELCOME */
	int		 listen_due;	/* ask for the -R listeners */
	uint64_t	 rtt_min;	/* this link's least PING (us) */
	uint64_t	 rtt_seen;	/* the PING it last looked at */
	uint8_t		 told[FWD_MAX_SPECS];	/* failure shown */
	int		 base;
	struct csocks	 socks[CSOCKS_MAX];
	int		 nsocks;
	int		 nsocks_polled;
	struct proc	 cfg;		/* ssh -G, while it runs */
	char		*cfg_out;	/* what it printed */
	size_t		 cfg_len;
	uint64_t	 cfg_deadline;	/* given up on then (ms) */
	int		 cfg_running;	/* the config is not known yet */
	int		 cfg_slot;	/* its pipe in the poll set, or -1 */
	char		*ciphers;	/* ssh -G's cipher list */
};

struct cfwd	*cfwd_new(void);
void		 cfwd_free(struct cfwd *);
int		 cfwd_options(struct client *, char *, size_t);
int		 cfwd_start(struct client *);
int		 cfwd_pending(const struct client *);
void		 cfwd_sigchld(struct client *);
uint8_t		 cfwd_hello_flags(const struct client *);
void		 cfwd_welcome(struct client *, uint32_t, int);
int		 cfwd_frame(struct client *, const struct frame *);
void		 cfwd_pump(struct client *);
int		 cfwd_write_wait(struct client *);
uint64_t	 cfwd_deadline(struct client *);
int		 cfwd_poll(struct client *, struct pollfd *, int);
void		 cfwd_ready(struct client *, struct pollfd *);

void		 cfwd_list(struct client *);

/* client-socks.c */
void		 csocks_accept(struct cfwd *, int, int, uint64_t);
int		 csocks_read(struct cfwd *, int, uint64_t);

#endif
