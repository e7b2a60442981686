/*
 * Knocks (client-knock.c): while an outage lasts and the attempts' SYNs
 * go unanswered, light TCP connects to the server's address tell within
 * a tenth of a second that the path has healed.
 */
#ifndef LIMPET_CLIENT_KNOCK_H
#define LIMPET_CLIENT_KNOCK_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>

#define KNOCK_MS	50		/* a knock this often, at first */
#define KNOCK_CHECK_MS	100		/* a look at the attempt's SYN */
#define KNOCK_SLOW_MS	1000		/* after KNOCK_FAST_MS of outage */
#define KNOCK_FAST_MS	(60 * 1000)
#define KNOCK_LIFE_MS	400		/* and a round trip: then closed */
#define KNOCK_MAX	10		/* alive at once */
#define KNOCK_DEAD_MS	500		/* an attempt's SYN unanswered this
					   long: the path is dead */
#define KNOCK_HOLD_MS	3000		/* one answered: the attempts' turn */

struct knock {
	struct sockaddr_storage to;	/* the server, as ssh reached it */
	int		 have;		/* to is known */
	int		 armed;		/* an attempt's SYN went unanswered */
	int		 fd[KNOCK_MAX];
	uint64_t	 at[KNOCK_MAX];	/* when each was sent */
	int		 pfd[KNOCK_MAX];	/* its poll index, or -1 */
	int		 n;
	uint64_t	 last;		/* the newest was sent then */
	uint64_t	 check;		/* look at the attempt's SYN then */
	pid_t		 through;	/* that attempt's SYN got through */
	uint64_t	 hold;		/* no knock before then */
	unsigned	 sent;		/* since the path was last seen */
};

struct client;
struct pollfd;

void		 knock_learn(struct client *);
void		 knock_step(struct client *, uint64_t);
uint64_t	 knock_due(const struct client *);
void		 knock_poll(struct client *, struct pollfd *, int *);
void		 knock_read(struct client *, const struct pollfd *, uint64_t);
void		 knock_stop(struct client *);

#endif
