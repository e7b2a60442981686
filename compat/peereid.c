/*
 * Who is on the other end of a Unix socket: SO_PEERCRED on Linux,
 * getpeereid() on the BSDs and macOS.  Where neither exists (only the
 * strict-POSIX test build on Linux), the answer is our own uid: the socket
 * lives in a directory that only we (and root) may enter, which limpet
 * checks before it uses it, and that stays the guard.
 */
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__)
#undef _POSIX_C_SOURCE	/* getpeereid is hidden by strict POSIX */
#undef _XOPEN_SOURCE
#endif

#include <sys/types.h>
#include <sys/socket.h>

#include <unistd.h>

#include "compat.h"

/* Store the uid of fd's peer in *uid; 0 or -1. */
int
compat_getpeereid(int fd, uid_t *uid)
{
#if defined(HAVE_SO_PEERCRED)
	struct ucred	cred;
	socklen_t	len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -1;
	*uid = cred.uid;
	return 0;
#elif defined(HAVE_GETPEEREID)
	gid_t	gid;

	return getpeereid(fd, uid, &gid);
#else
	(void)fd;
	*uid = geteuid();
	return 0;
#endif
}
