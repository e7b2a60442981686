/*
 * Descriptors with their flags set from the start (pipe2; accept4 and
 * socket types with SOCK_CLOEXEC | SOCK_NONBLOCK, which come together as
 * HAVE_ACCEPT4) and closefrom.  The fallbacks
 * set the flags right after creation: limpet's processes are single
 * threaded, so no exec can slip in between.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "compat.h"

#if !defined(HAVE_PIPE2) || !defined(HAVE_ACCEPT4)
/* Set O_CLOEXEC and O_NONBLOCK (as asked in flags) on fd; 0 or -1. */
static int
compat_setflags(int fd, int flags)
{
	int	fl;

	if ((flags & O_CLOEXEC) && fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	if (flags & O_NONBLOCK) {
		if ((fl = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
			return -1;
	}
	return 0;
}

/* Close both ends of a pair, keeping errno. */
static void
compat_close2(int fd[2])
{
	int	saved = errno;

	close(fd[0]);
	close(fd[1]);
	errno = saved;
}
#endif

#if defined(HAVE_ACCEPT4)
/* The SOCK_* type flags for O_CLOEXEC and O_NONBLOCK. */
static int
compat_sockflags(int flags)
{
	return ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0) |
	    ((flags & O_NONBLOCK) ? SOCK_NONBLOCK : 0);
}
#endif

/* pipe() with O_CLOEXEC and/or O_NONBLOCK on both ends. */
int
compat_pipe2(int fd[2], int flags)
{
#if defined(HAVE_PIPE2)
	return pipe2(fd, flags);
#else
	if (pipe(fd) == -1)
		return -1;
	if (compat_setflags(fd[0], flags) == -1 ||
	    compat_setflags(fd[1], flags) == -1) {
		compat_close2(fd);
		return -1;
	}
	return 0;
#endif
}

/*
 * Ask for a pipe buffer of size bytes (Linux F_SETPIPE_SZ; elsewhere, and
 * if refused, the pipe keeps its size): fewer wakeups on a bulk stream.
 */
void
compat_pipe_size(int fd, int size)
{
#if defined(F_SETPIPE_SZ)
	(void)fcntl(fd, F_SETPIPE_SZ, size);
#else
	(void)fd;
	(void)size;
#endif
}

/* A pipe's buffer size in bytes (F_GETPIPE_SZ), or -1 if unknown. */
int
compat_pipe_get_size(int fd)
{
#if defined(F_GETPIPE_SZ)
	return fcntl(fd, F_GETPIPE_SZ);
#else
	(void)fd;
	return -1;
#endif
}

/* accept() a connection whose descriptor has the given flags. */
int
compat_accept(int lfd, int flags)
{
	int	fd;

#if defined(HAVE_ACCEPT4)
	fd = accept4(lfd, NULL, NULL, compat_sockflags(flags));
#else
	if ((fd = accept(lfd, NULL, NULL)) != -1 &&
	    compat_setflags(fd, flags) == -1) {
		close(fd);
		return -1;
	}
#endif
	return fd;
}

/* socket() whose descriptor has the given flags. */
int
compat_socket(int domain, int type, int proto, int flags)
{
	int	fd;

#if defined(HAVE_ACCEPT4)
	fd = socket(domain, type | compat_sockflags(flags), proto);
#else
	if ((fd = socket(domain, type, proto)) != -1 &&
	    compat_setflags(fd, flags) == -1) {
		close(fd);
		return -1;
	}
#endif
	return fd;
}

/* socketpair() whose descriptors have the given flags. */
int
compat_socketpair(int domain, int type, int proto, int sv[2], int flags)
{
#if defined(HAVE_ACCEPT4)
	return socketpair(domain, type | compat_sockflags(flags), proto, sv);
#else
	if (socketpair(domain, type, proto, sv) == -1)
		return -1;
	if (compat_setflags(sv[0], flags) == -1 ||
	    compat_setflags(sv[1], flags) == -1) {
		compat_close2(sv);
		return -1;
	}
	return 0;
#endif
}

/*
 * Close every descriptor from lowfd up.  Without closefrom(), poll() finds
 * which of a thousand descriptors at a time are open (POLLNVAL: not open),
 * so even a limit of a million costs a thousand system calls, not a
 * million.
 */
void
compat_closefrom(int lowfd)
{
#if defined(HAVE_CLOSEFROM)
	closefrom(lowfd);
#else
	struct pollfd	pfd[1024];
	long		max = sysconf(_SC_OPEN_MAX);
	int		fd, i, n;

	if (max < 0 || max > 1048576)
		max = 1048576;
	for (fd = lowfd; fd < max; fd += n) {
		n = max - fd < 1024 ? (int)(max - fd) : 1024;
		for (i = 0; i < n; i++) {
			pfd[i].fd = fd + i;
			pfd[i].events = 0;
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)n, 0) == -1) {
			for (i = 0; i < n; i++)
				close(fd + i);
			continue;
		}
		for (i = 0; i < n; i++)
			if (!(pfd[i].revents & POLLNVAL))
				close(fd + i);
	}
#endif
}

/*
 * Move up to n bytes from in to out inside the kernel, one of them a
 * pipe (Linux splice(2), non-blocking): a relay that only copies need not
 * carry the bytes through its own memory.  -1 with ENOSYS elsewhere, or
 * EINVAL where the kernel cannot splice these two.
 */
ssize_t
compat_splice(int in, int out, size_t n)
{
#if defined(SPLICE_F_NONBLOCK)
	return splice(in, NULL, out, NULL, n, SPLICE_F_NONBLOCK |
	    SPLICE_F_MOVE);
#else
	(void)in;
	(void)out;
	(void)n;
	errno = ENOSYS;
	return -1;
#endif
}
