/*
 * Passing one descriptor over a Unix stream socket (SCM_RIGHTS, POSIX).
 * Received descriptors get close-on-exec atomically where recvmsg() takes
 * MSG_CMSG_CLOEXEC, else right after: limpet's processes are single
 * threaded, so no exec can slip in between.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0	/* limpet ignores SIGPIPE anyway */
#endif

#ifdef MSG_CMSG_CLOEXEC
#define FDPASS_FLAGS	MSG_CMSG_CLOEXEC
#else
#define FDPASS_FLAGS	0
#endif

/* Send n bytes at p on socket s with descriptor fd attached to them. */
ssize_t
compat_send_fd(int s, const void *p, size_t n, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*c;

	memset(&msg, 0, sizeof msg);
	memset(&cm, 0, sizeof cm);
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = n;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof cm.buf;
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	return sendmsg(s, &msg, MSG_NOSIGNAL);
}

/* Close every descriptor an SCM_RIGHTS message in msg carries. */
static void
compat_close_rights(struct msghdr *msg)
{
	struct cmsghdr	*c;
	unsigned char	*d;
	size_t		 i, n;
	int		 fd;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		d = CMSG_DATA(c);
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, d + i * sizeof(int), sizeof fd);
			close(fd);
		}
	}
}

/*
 * Read up to n bytes from socket s into p, taking at most one passed
 * descriptor: *fdp is it, or -1.  Anything else in the control data (two
 * descriptors, a truncated message, another type) closes what came and
 * fails with EBADMSG.  Returns what recvmsg() does.
 */
ssize_t
compat_recv_fd(int s, void *p, size_t n, int *fdp)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*c;
	ssize_t		 r;
	int		 fd = -1, bad = 0;

	*fdp = -1;
	memset(&msg, 0, sizeof msg);
	iov.iov_base = p;
	iov.iov_len = n;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof cm.buf;
	if ((r = recvmsg(s, &msg, FDPASS_FLAGS)) == -1)
		return -1;
	if (msg.msg_flags & MSG_CTRUNC)
		bad = 1;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len != CMSG_LEN(sizeof(int)) || fd != -1) {
			bad = 1;
			continue;
		}
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
	}
	if (bad) {
		compat_close_rights(&msg);
		errno = EBADMSG;
		return -1;
	}
	if (fd != -1 && FDPASS_FLAGS == 0)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	*fdp = fd;
	return r;
}
