/*
 * The name files of named sessions (limpet -S NAME, new -d -S NAME).
 * <dir>/<NAME>.name holds the id of the session of that name.  It is
 * also the lock that makes "attach NAME, or start it" atomic for a
 * user: a relay holds a POSIX record lock on it (F_SETLK, never
 * waiting: it tries again from its poll loop) from the lookup until the
 * daemon it started answers, so two relays cannot both find no session
 * and start one each.  The kernel drops the lock when its process ends,
 * so a crashed relay never blocks a name; a file naming a session that
 * is gone is simply overwritten by the next start.  The daemon removes
 * its file when it ends, under the same lock, if it still names it.
 * Record locks belong to the process, not to its children, and the fd
 * is close-on-exec: no daemon ever holds a relay's lock.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "names.h"
#include "proto.h"
#include "sock.h"

/* Lock the whole file on fd for writing, without waiting. */
static int
names_setlk(int fd, short type)
{
	struct flock	fl;

	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_SETLK, &fl);
}

/*
 * Open and lock the name file of name in dir (creating it empty).
 * Returns the locked fd, ERR_FULL if another process holds the lock
 * (try again later), or another negative error.
 */
int
names_lock(const char *dir, const char *name)
{
	char		path[SOCK_PATH_MAX];
	struct stat	a, b;
	int		fd;

	if (!proto_name_valid(name) ||
	    sock_path(path, sizeof path, dir, name, "name") != 0)
		return ERR_TOOBIG;
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1)
		return ERR_SYSTEM;
	if (names_setlk(fd, F_WRLCK) == -1) {
		close(fd);
		return errno == EAGAIN || errno == EACCES ? ERR_FULL :
		    ERR_SYSTEM;
	}
	/* Removed (by its daemon) between our open and our lock: again. */
	if (fstat(fd, &a) == -1 || lstat(path, &b) == -1 ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev || !S_ISREG(a.st_mode)
	    || a.st_uid != getuid()) {
		close(fd);
		return ERR_FULL;
	}
	return fd;
}

/* The id in the name file on fd, in id ("" if none or not an id). */
void
names_read(int fd, char *id, size_t len)
{
	ssize_t	n;

	*id = '\0';
	if (len < 2 || (n = pread(fd, id, len - 1, 0)) <= 0) {
		*id = '\0';
		return;
	}
	id[n] = '\0';
	id[strcspn(id, "\n")] = '\0';
	if (!sock_id_valid(id))
		*id = '\0';
}

/* The id in the name file of name in dir, read without a lock. */
void
names_peek(const char *dir, const char *name, char *id, size_t len)
{
	char	path[SOCK_PATH_MAX];
	int	fd;

	*id = '\0';
	if (sock_path(path, sizeof path, dir, name, "name") != 0 ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	names_read(fd, id, len);
	close(fd);
}

/* Make the locked name file on fd name session id; 0 or ERR_SYSTEM. */
int
names_write(int fd, const char *id)
{
	size_t	n = strlen(id);
	char	line[PROTO_ID_LEN + 2];

	memcpy(line, id, n);
	line[n++] = '\n';
	if (ftruncate(fd, 0) == -1 || pwrite(fd, line, n, 0) != (ssize_t)n)
		return ERR_SYSTEM;
	return 0;
}

/*
 * The daemon of session id, named name, ends: remove the name file if
 * it still names id and no relay holds it (one that does is starting a
 * new session of that name and will write its own id).
 */
void
names_forget(const char *dir, const char *name, const char *id)
{
	char	path[SOCK_PATH_MAX], have[PROTO_ID_LEN + 1];
	int	fd;

	if (*name == '\0' ||
	    sock_path(path, sizeof path, dir, name, "name") != 0 ||
	    (fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	if (names_setlk(fd, F_WRLCK) == 0) {
		names_read(fd, have, sizeof have);
		if (strcmp(have, id) == 0)
			unlink(path);
	}
	close(fd);
}
