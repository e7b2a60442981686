/*
 * Session directory and sockets.  The directory is $LIMPET_DIR, else
 * /tmp/limpet-UID (not $XDG_RUNTIME_DIR: logind removes that when the
 * user's last login ends, and sessions must outlive logins).  It must be a
 * real directory, owned by the user, with no group or other access;
 * anything else is refused with the reason.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "sock.h"

/* Check that path is a directory we may trust; fill err if not. */
int
sock_dir_check(const char *path, char *err, size_t errlen)
{
	struct stat	sb;

	if (lstat(path, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ERR_SYSTEM;
	}
	if (S_ISLNK(sb.st_mode)) {
		snprintf(err, errlen, "%s is a symbolic link; limpet wants a "
		    "real directory", path);
		return ERR_UNSAFE;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", path);
		return ERR_UNSAFE;
	}
	if (sb.st_uid != getuid()) {
		snprintf(err, errlen, "%s is owned by uid %lu, not by you "
		    "(uid %lu); remove it or set LIMPET_DIR", path,
		    (unsigned long)sb.st_uid, (unsigned long)getuid());
		return ERR_UNSAFE;
	}
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s has mode %04o; it must be 0700 "
		    "(chmod 700 %s)", path, (unsigned)(sb.st_mode & 07777),
		    path);
		return ERR_UNSAFE;
	}
	return 0;
}

/*
 * Find (creating it if missing) and check the session directory; its
 * path goes into out.
 */
int
sock_dir(char *out, size_t len, char *err, size_t errlen)
{
	const char	*env = getenv("LIMPET_DIR");
	int		 n;

	if (env != NULL && *env != '\0')
		n = snprintf(out, len, "%s", env);
	else
		n = snprintf(out, len, "/tmp/limpet-%lu",
		    (unsigned long)getuid());
	if (n < 0 || (size_t)n >= len || (size_t)n > SOCK_PATH_MAX - 40) {
		snprintf(err, errlen, "session directory path is too long");
		return ERR_TOOBIG;
	}
	if (mkdir(out, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", out,
		    strerror(errno));
		return ERR_SYSTEM;
	}
	return sock_dir_check(out, err, errlen);
}

/* Build dir/id.suffix into out. */
int
sock_path(char *out, size_t len, const char *dir, const char *id,
    const char *suffix)
{
	int	n;

	n = snprintf(out, len, "%s/%s.%s", dir, id, suffix);
	if (n < 0 || (size_t)n >= len || (size_t)n >= SOCK_PATH_MAX)
		return ERR_TOOBIG;
	return 0;
}

/* True if id is a plausible session id (so it is safe in a path). */
int
sock_id_valid(const char *id)
{
	size_t	i, n = strlen(id);

	if (n == 0 || n > 16)
		return 0;
	for (i = 0; i < n; i++) {
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= '0' && id[i] <= '9')))
			return 0;
	}
	return 1;
}

/* Fill a sockaddr_un; ERR_TOOBIG if the path does not fit. */
static int
sock_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path)
		return ERR_TOOBIG;
	strcpy(sun->sun_path, path);
	return 0;
}

/*
 * Listen on path.  The socket is bound under a tight umask at a temporary
 * name and linked into place, so it appears whole or not at all, and an
 * existing socket is never replaced.
 */
int
sock_listen(const char *path)
{
	struct sockaddr_un	sun;
	char			tmp[SOCK_PATH_MAX + 16];
	mode_t			old;
	int			fd, r, saved;

	if ((r = snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid())) <
	    0 || (size_t)r >= sizeof tmp)
		return ERR_TOOBIG;
	if ((r = sock_addr(&sun, tmp)) != 0)
		return r;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		return ERR_SYSTEM;
	unlink(tmp);
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (r == -1 || listen(fd, 16) == -1)
		goto fail;
	if (link(tmp, path) == -1)
		goto fail;
	unlink(tmp);
	return fd;
fail:
	saved = errno;
	unlink(tmp);
	close(fd);
	errno = saved;
	return saved == EEXIST ? ERR_EXISTS : ERR_SYSTEM;
}

/* Connect to path; blocking connect, then the fd is non-blocking. */
int
sock_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, r, saved;

	if ((r = sock_addr(&sun, path)) != 0)
		return r;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return ERR_SYSTEM;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return ERR_SYSTEM;
	}
	if (sock_peer_ok(fd) != 0) {
		close(fd);
		return ERR_PEER;
	}
	return fd;
}

/* Check that the peer on fd runs as our uid. */
int
sock_peer_ok(int fd)
{
	struct ucred	cred;
	socklen_t	len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return ERR_SYSTEM;
	if (cred.uid != getuid())
		return ERR_PEER;
	return 0;
}

/* Make fd non-blocking. */
int
sock_nonblock(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return ERR_SYSTEM;
	return 0;
}

/*
 * Write all of p to fd, blocking or not, waiting up to timeout_ms each
 * time it is full.  For small writes outside the poll loops: a preamble,
 * an error message, local text on the terminal.
 */
int
sock_write_all(int fd, const void *p, size_t n, int timeout_ms)
{
	const uint8_t	*s = p;
	struct pollfd	 pfd;
	ssize_t		 w;

	while (n > 0) {
		w = write(fd, s, n);
		if (w > 0) {
			s += w;
			n -= w;
			continue;
		}
		if (w == -1 && (errno == EAGAIN || errno == EINTR)) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, timeout_ms) <= 0)
				return ERR_SYSTEM;
			continue;
		}
		return ERR_SYSTEM;
	}
	return 0;
}
