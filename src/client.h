/* The client: the user's side of a session. */
#ifndef LIMPET_CLIENT_H
#define LIMPET_CLIENT_H

#include "proto.h"

#define CLIENT_PROTO_VERSION	PROTO_VERSION

#define CLIENT_NEW	1
#define CLIENT_ATTACH	2
#define CLIENT_LS	3
#define CLIENT_KILL	4
#define CLIENT_CONFIG	5	/* -G: print the effective settings */
#define CLIENT_DETACHED	6	/* new -d: start a session, detached */

int	client_main(int, int, char **);
int	client_take_count(int *, char **, int);

#endif
