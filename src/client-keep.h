/*
 * Idle heartbeats (client-keep.c): how long the client lets a quiet link
 * stay silent before it sends a PING, learned from the path.
 */
#ifndef LIMPET_CLIENT_KEEP_H
#define LIMPET_CLIENT_KEEP_H

#include <stdint.h>

#define KEEP_MIN_MS	(5 * 1000)	/* never ping a quiet link more */
#define KEEP_MAX_MS	(300 * 1000)	/* never leave it quiet longer */

struct client;

void		 ckeep_init(struct client *, int);
uint64_t	 ckeep_due(const struct client *);
void		 ckeep_sent(struct client *, uint64_t);
void		 ckeep_answered(struct client *);
void		 ckeep_lost(struct client *, uint64_t);
void		 ckeep_moved(struct client *);

#endif
