/*
 * Whether a child's TCP connection got past its SYN, is still waiting on
 * it, or does not exist yet.  Linux shows each
 * process's sockets in /proc/<pid>/fd and their states in
 * /proc/<pid>/net/tcp{,6}; elsewhere the answer is "unknown" and the
 * caller goes by time alone.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"

#ifdef HAVE_NETLINK	/* the Linux build */
#define TCP_ESTABLISHED_HEX	1
#define TCP_SYN_SENT_HEX	2
#define TCP_INODES_MAX		16

/* The socket inodes among pid's descriptors; returns how many, or -1. */
static int
tcp_inodes(pid_t pid, unsigned long *ino, int max)
{
	char		 path[64], link[64];
	struct dirent	*d;
	DIR		*dir;
	ssize_t		 n;
	int		 k = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while (k < max && (d = readdir(dir)) != NULL) {
		snprintf(path, sizeof path, "/proc/%ld/fd/%.16s", (long)pid,
		    d->d_name);
		n = readlink(path, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino[k]) == 1)
			k++;
	}
	closedir(dir);
	return k;
}

/*
 * The most advanced state of the inodes' sockets in file:
 * COMPAT_TCP_UP, COMPAT_TCP_SYN or COMPAT_TCP_NONE.
 */
static int
tcp_scan(const char *file, const unsigned long *ino, int n)
{
	char		 line[512];
	unsigned long	 inode;
	unsigned int	 st;
	FILE		*f;
	int		 i, found = COMPAT_TCP_NONE;

	if ((f = fopen(file, "r")) == NULL)
		return COMPAT_TCP_NONE;
	while (found != COMPAT_TCP_UP && fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, " %*s %*s %*s %x %*s %*s %*s %*s %*s %lu",
		    &st, &inode) != 2)
			continue;
		for (i = 0; i < n; i++) {
			if (inode != ino[i])
				continue;
			if (st == TCP_ESTABLISHED_HEX)
				found = COMPAT_TCP_UP;
			else if (st == TCP_SYN_SENT_HEX)
				found = COMPAT_TCP_SYN;
		}
	}
	fclose(f);
	return found;
}

/*
 * The state of pid's TCP connection: COMPAT_TCP_UP (established),
 * COMPAT_TCP_SYN (its SYN unanswered), COMPAT_TCP_NONE (no TCP socket
 * yet), or COMPAT_TCP_UNKNOWN if this system cannot tell.
 */
int
compat_tcp_state(pid_t pid)
{
	unsigned long	ino[TCP_INODES_MAX];
	char		file[64];
	int		n, s4;

	if ((n = tcp_inodes(pid, ino, TCP_INODES_MAX)) < 0)
		return COMPAT_TCP_UNKNOWN;
	if (n == 0)
		return COMPAT_TCP_NONE;
	snprintf(file, sizeof file, "/proc/%ld/net/tcp", (long)pid);
	if ((s4 = tcp_scan(file, ino, n)) == COMPAT_TCP_UP)
		return s4;
	snprintf(file, sizeof file, "/proc/%ld/net/tcp6", (long)pid);
	n = tcp_scan(file, ino, n);
	return n > s4 ? n : s4;
}

/* Parse "HEX:PORT" of /proc/net/tcp{,6} into sa; 0 or -1. */
static int
tcp_addr(const char *s, struct sockaddr_storage *sa)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)sa;
	unsigned int		 w[4], port;
	int			 i;

	memset(sa, 0, sizeof *sa);
	if (strlen(s) > 32 && s[32] == ':') {
		for (i = 0; i < 4; i++)
			if (sscanf(s + 8 * i, "%8X", &w[i]) != 1)
				return -1;
		if (sscanf(s + 33, "%X", &port) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, w, sizeof w);	/* as the kernel printed */
		s6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	if (sscanf(s, "%8X:%X", &w[0], &port) != 2)
		return -1;
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = w[0];
	s4->sin_port = htons((uint16_t)port);
	return 0;
}

/* The addresses of pid's socket in file, connected or connecting; 0, -1. */
static int
tcp_find(const char *file, const unsigned long *ino, int n,
    struct sockaddr_storage *local, struct sockaddr_storage *remote)
{
	char		 line[512], l[64], r[64];
	unsigned long	 inode;
	unsigned int	 st;
	FILE		*f;
	int		 i, found = -1;

	if ((f = fopen(file, "r")) == NULL)
		return -1;
	while (found == -1 && fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, " %*s %63s %63s %x %*s %*s %*s %*s %*s %lu",
		    l, r, &st, &inode) != 4 || (st != TCP_ESTABLISHED_HEX &&
		    st != TCP_SYN_SENT_HEX))
			continue;
		for (i = 0; i < n; i++)
			if (inode == ino[i] && tcp_addr(l, local) == 0 &&
			    tcp_addr(r, remote) == 0)
				found = 0;
	}
	fclose(f);
	return found;
}

/*
 * The local and remote address of pid's TCP connection, established or
 * still connecting; 0, or -1 if it has none or this system cannot tell.
 */
int
compat_tcp_addrs(pid_t pid, struct sockaddr_storage *local,
    struct sockaddr_storage *remote)
{
	unsigned long	ino[TCP_INODES_MAX];
	char		file[64];
	int		n;

	if ((n = tcp_inodes(pid, ino, TCP_INODES_MAX)) <= 0)
		return -1;
	snprintf(file, sizeof file, "/proc/%ld/net/tcp", (long)pid);
	if (tcp_find(file, ino, n, local, remote) == 0)
		return 0;
	snprintf(file, sizeof file, "/proc/%ld/net/tcp6", (long)pid);
	return tcp_find(file, ino, n, local, remote);
}
#else
/* Unknown here. */
int
compat_tcp_addrs(pid_t pid, struct sockaddr_storage *local,
    struct sockaddr_storage *remote)
{
	(void)pid;
	(void)local;
	(void)remote;
	return -1;
}

/* Unknown here: the caller goes by time. */
int
compat_tcp_state(pid_t pid)
{
	(void)pid;
	return COMPAT_TCP_UNKNOWN;
}
#endif
