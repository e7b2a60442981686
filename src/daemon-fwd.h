/*
 * The daemon's end of forwarding (daemon-fwd.c): channels to and from the
 * attached client, connections to -L targets, and the session's stable
 * agent socket.
 */
#ifndef LIMPET_DAEMON_FWD_H
#define LIMPET_DAEMON_FWD_H

#include <poll.h>
#include <stdint.h>

#include "frame.h"
#include "fwd.h"
#include "proto.h"

struct daemon;
struct peer;

#define DFWD_NOAGENT_MAX	8	/* failure answers being drained */
#define DFWD_NOAGENT_MS		1000	/* then they are closed anyway */
#define DFWD_RWAIT_MS		(10 * 1000)	/* -R: wait for a client */
/* sshd's GatewayPorts: where -R listens. */
#define DFWD_GW_NO		0	/* loopback */
#define DFWD_GW_YES		1	/* every address */
#define DFWD_GW_CLIENT		2	/* as the client asks */
#define DFWD_NPFD		(FWD_NPFD + DFWD_NOAGENT_MAX + 1)

struct dfwd {
	struct fwd	 w;
	uint32_t	 version;	/* the attached client's protocol */
	int		 agent;		/* it relays an ssh agent */
	uint64_t	 client_id;	/* whose channels these are */
	char		 agent_path[108];
	int		 agent_lfd;
	int		 live;		/* a real session: sockets allowed */
	int		 nagent_fd[DFWD_NOAGENT_MAX];
	uint64_t	 nagent_end[DFWD_NOAGENT_MAX];
	int		 nnagent;
	int		 base;		/* first poll entry, this turn */
	int		 npfd;
};

struct dfwd	*dfwd_new(void);
void		 dfwd_free(struct dfwd *);
int		 dfwd_start(struct daemon *, const struct msg_hello *);
void		 dfwd_cleanup(struct daemon *);
void		 dfwd_attach(struct daemon *, const struct msg_hello *);
void		 dfwd_detached(struct daemon *);
int		 dfwd_frame(struct daemon *, const struct frame *);
void		 dfwd_pump(struct daemon *, uint64_t);
int		 dfwd_poll(struct daemon *, struct pollfd *, int, uint64_t);
void		 dfwd_ready(struct daemon *, struct pollfd *, uint64_t);
uint64_t	 dfwd_deadline(const struct daemon *);

#endif
