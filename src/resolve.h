/*
 * Name resolution off the poll loop: getaddrinfo() may take seconds for
 * a name whose DNS server is slow or gone, and the process that asks
 * (the daemon, the client) must keep serving its session meanwhile.  A
 * detached thread resolves; its answer is read from the poll loop, where
 * the descriptor resolve_fd() becomes readable once it is there.
 */
#ifndef LIMPET_RESOLVE_H
#define LIMPET_RESOLVE_H

struct addrinfo;
struct resolve;

int	 resolve_start(const char *, const char *, struct resolve **);
int	 resolve_fd(const struct resolve *);
int	 resolve_take(struct resolve *, struct addrinfo **);
void	 resolve_drop(struct resolve *);

#endif
