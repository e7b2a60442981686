/*
 * When the client acknowledges output (client-flow.c): often enough for
 * the daemon to measure the delivery rate that sizes its output window.
 */
#ifndef LIMPET_CLIENT_FLOW_H
#define LIMPET_CLIENT_FLOW_H

#include <stdint.h>

#define CFLOW_ACK_BYTES	(8 * 1024)	/* written per ACK, at most */
#define CFLOW_ACK_MS_MIN	2	/* RTT/4, but not more often */

struct client;

int		 cflow_ack_due(struct client *, uint64_t);
uint64_t	 cflow_deadline(struct client *);

#endif
