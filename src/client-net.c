/*
 * Local network change watcher.
 */
#include <errno.h>
#include <unistd.h>

#include "client-net.h"
#include "err.h"

#ifdef HAVE_NETLINK
#include <sys/socket.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* Open a netlink socket that hears address, route and link changes. */
int
net_watch_open(void)
{
	struct sockaddr_nl	sa = { 0 };
	int			fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    NETLINK_ROUTE);
	if (fd == -1)
		return ERR_SYSTEM;
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
	    RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		close(fd);
		return ERR_SYSTEM;
	}
	return fd;
}

/*
 * Drain the socket; returns 1 if an address or route went away or came,
 * 0 if nothing relevant happened.
 */
int
net_watch_read(int fd)
{
	char		 buf[8192];
	struct nlmsghdr	*nh;
	ssize_t		 n;
	int		 changed = 0;

	while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		    nh = NLMSG_NEXT(nh, n)) {
			switch (nh->nlmsg_type) {
			case RTM_NEWADDR:
			case RTM_DELADDR:
			case RTM_NEWROUTE:
			case RTM_DELROUTE:
			case RTM_NEWLINK:
			case RTM_DELLINK:
				changed = 1;
				break;
			}
		}
	}
	if (n == -1 && errno == ENOBUFS)
		changed = 1;	/* we missed some: assume the worst */
	return changed;
}
#else
/* No watcher on this system. */
int
net_watch_open(void)
{
	return ERR_NOTFOUND;
}

/* Nothing to read. */
int
net_watch_read(int fd)
{
	(void)fd;
	return 0;
}
#endif
