/*
 * Whether a child's TCP connection got past its SYN.  Linux shows each
 * process's sockets in /proc/<pid>/fd and their states in
 * /proc/<pid>/net/tcp{,6}; elsewhere the answer is "unknown" and the
 * caller goes by time alone.
 */
#include <sys/types.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"

#ifdef HAVE_NETLINK	/* the Linux build */
#define TCP_ESTABLISHED_HEX	1
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

/* 1 if one of the inodes is an established socket in file, else 0. */
static int
tcp_scan(const char *file, const unsigned long *ino, int n)
{
	char		 line[512];
	unsigned long	 inode;
	unsigned int	 st;
	FILE		*f;
	int		 i, found = 0;

	if ((f = fopen(file, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, " %*s %*s %*s %x %*s %*s %*s %*s %*s %lu",
		    &st, &inode) != 2)
			continue;
		for (i = 0; i < n; i++)
			if (inode == ino[i] && st == TCP_ESTABLISHED_HEX)
				found = 1;
	}
	fclose(f);
	return found;
}

/*
 * 1 if pid has an established TCP connection, 0 if not (yet), -1 if
 * this system cannot tell.
 */
int
compat_tcp_connected(pid_t pid)
{
	unsigned long	ino[TCP_INODES_MAX];
	char		file[64];
	int		n;

	if ((n = tcp_inodes(pid, ino, TCP_INODES_MAX)) < 0)
		return -1;
	if (n == 0)
		return 0;
	snprintf(file, sizeof file, "/proc/%ld/net/tcp", (long)pid);
	if (tcp_scan(file, ino, n))
		return 1;
	snprintf(file, sizeof file, "/proc/%ld/net/tcp6", (long)pid);
	return tcp_scan(file, ino, n);
}
#else
/* Unknown here: the caller goes by time. */
int
compat_tcp_connected(pid_t pid)
{
	(void)pid;
	return -1;
}
#endif
