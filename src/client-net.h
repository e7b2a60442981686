/*
 * Watching the local network for address and route changes, so that a
 * roaming client probes its link at once instead of waiting for a timeout.
 * Linux uses netlink; elsewhere there is no watcher and the heartbeats do
 * the work.
 */
#ifndef LIMPET_CLIENT_NET_H
#define LIMPET_CLIENT_NET_H

int	net_watch_open(void);
int	net_watch_read(int);

#endif
