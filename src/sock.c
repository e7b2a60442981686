/*
 * Session directory and sockets.
 *
 * Where sessions live: the directory given to the relay (--dir) or
 * $LIMPET_DIR, exactly, else /tmp/limpet-UID.  Another local user can
 * create /tmp/limpet-UID first (/tmp is everybody's); limpet never uses a
 * directory it cannot trust, so then new sessions go to a directory of the
 * user's own: $HOME/.limpet/HOST (per host: a home shared over NFS must
 * not mix the sockets of two servers), else $XDG_RUNTIME_DIR/limpet (last:
 * logind removes it when the user's last login ends, and sessions must
 * outlive logins).  Lookups (ls, attach, kill) search every candidate that
 * exists and passes the checks, so sessions started while /tmp/limpet-UID
 * was taken are still found after it is freed, and the other way round.
 *
 * Every directory must be a real directory (not a symlink), owned by the
 * user, with no group or other access; anything else is refused with the
 * reason.  Its path must leave room for a socket name in sun_path.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "err.h"
#include "sock.h"

/* Check that path is a directory we may trust; fill err if not. */
int
sock_dir_check(const char *path, char *err, size_t errlen)
{
	struct stat	sb;

	if (lstat(path, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? ERR_NOTFOUND : ERR_SYSTEM;
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
		    "(uid %lu)", path, (unsigned long)sb.st_uid,
		    (unsigned long)getuid());
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
 * Check that path leaves room in sun_path for "/<id>.sock" and the
 * temporary name sock_listen() binds first.
 */
static int
sock_dir_len(const char *path, char *err, size_t errlen)
{
	size_t	n = strlen(path);

	if (n == 0 || n > SOCK_DIR_MAX) {
		snprintf(err, errlen, "%.*s%s is %zu bytes long; a Unix socket "
		    "path holds %zu, so a session directory may have at most "
		    "%d", 60, path, n > 60 ? "..." : "", n,
		    (size_t)SOCK_PATH_MAX - 1, SOCK_DIR_MAX);
		return ERR_TOOBIG;
	}
	return 0;
}

/* Create path (mode 0700) if it is missing and create is set; check it. */
static int
sock_dir_make(const char *path, int create, char *err, size_t errlen)
{
	int	r;

	if ((r = sock_dir_len(path, err, errlen)) != 0)
		return r;
	if (create && mkdir(path, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", path,
		    strerror(errno));
		return errno == ENOENT ? ERR_NOTFOUND : ERR_SYSTEM;
	}
	return sock_dir_check(path, err, errlen);
}

/* The user's home directory: $HOME, else the password database. */
static const char *
sock_home(void)
{
	const char	*home = getenv("HOME");
	struct passwd	*pw;

	if ((home == NULL || *home != '/') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	return home != NULL && *home == '/' ? home : NULL;
}

/*
 * Make a directory named by the user absolute: "~/x" and a relative "x"
 * are taken from the home directory (where sshd starts the relay).
 */
static int
sock_dir_expand(const char *in, char *out, size_t len, char *err,
    size_t errlen)
{
	const char	*home = NULL;
	int		 n;

	if (*in == '/')
		n = snprintf(out, len, "%s", in);
	else {
		if ((home = sock_home()) == NULL) {
			snprintf(err, errlen, "%s is relative and there is no "
			    "home directory", in);
			return ERR_NOTFOUND;
		}
		if (strcmp(in, "~") == 0)
			in = "";
		else if (strncmp(in, "~/", 2) == 0)
			in += 2;
		n = snprintf(out, len, "%s%s%s", home, *in != '\0' ? "/" : "",
		    in);
	}
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "%.60s... is too long for a Unix socket "
		    "path: a session directory may have at most %d bytes",
		    home != NULL ? home : in, SOCK_DIR_MAX);
		return ERR_TOOBIG;
	}
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

/* This host's short name, made safe for a path. */
static void
sock_hostname(char *out, size_t len)
{
	char	host[256];
	size_t	i;

	if (gethostname(host, sizeof host) == -1)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	for (i = 0; host[i] != '\0' && host[i] != '.' && i + 1 < len &&
	    i < 32; i++)
		out[i] = isalnum((unsigned char)host[i]) || host[i] == '-' ||
		    host[i] == '_' ? host[i] : '_';
	if (i == 0 && len > 5)
		i = (size_t)snprintf(out, len, "host");
	out[i] = '\0';
}

/*
 * The home fallback, $HOME/.limpet/HOST, made if create is set.  The home
 * directory itself must not be writable by others (they could replace
 * .limpet), and it is owned by the user or by root.
 */
static int
sock_dir_home(char *out, size_t len, int create, char *err, size_t errlen)
{
	const char	*home = sock_home();
	struct stat	 sb;
	char		 host[40];
	int		 r;

	if (home == NULL) {
		snprintf(err, errlen, "no home directory");
		return ERR_NOTFOUND;
	}
	if (stat(home, &sb) == -1) {
		snprintf(err, errlen, "%s: %s", home, strerror(errno));
		return ERR_SYSTEM;
	}
	if ((sb.st_uid != getuid() && sb.st_uid != 0) ||
	    (sb.st_mode & 022) != 0) {
		snprintf(err, errlen, "%s is writable by others or not yours",
		    home);
		return ERR_UNSAFE;
	}
	r = snprintf(out, len, "%s/.limpet", strcmp(home, "/") == 0 ? "" :
	    home);
	if (r < 0 || (size_t)r >= len) {
		snprintf(err, errlen, "%.60s... is too long for a Unix socket "
		    "path: a session directory may have at most %d bytes",
		    home, SOCK_DIR_MAX);
		return ERR_TOOBIG;
	}
	if ((r = sock_dir_make(out, create, err, errlen)) != 0)
		return r;
	sock_hostname(host, sizeof host);
	r = snprintf(out + strlen(out), len - strlen(out), "/%s", host);
	if (r < 0 || strlen(out) + 1 >= len) {
		snprintf(err, errlen, "home directory path too long");
		return ERR_TOOBIG;
	}
	return sock_dir_make(out, create, err, errlen);
}

/*
 * The last fallback, $XDG_RUNTIME_DIR/limpet, if that directory is the
 * user's (owner, 0700, not a symlink); made if create is set.
 */
static int
sock_dir_xdg(char *out, size_t len, int create, char *err, size_t errlen)
{
	const char	*xdg = getenv("XDG_RUNTIME_DIR");
	int		 r;

	if (xdg == NULL || *xdg != '/') {
		snprintf(err, errlen, "XDG_RUNTIME_DIR is not set");
		return ERR_NOTFOUND;
	}
	if ((r = sock_dir_check(xdg, err, errlen)) != 0)
		return r;
	r = snprintf(out, len, "%s/limpet", xdg);
	if (r < 0 || (size_t)r >= len) {
		snprintf(err, errlen, "XDG_RUNTIME_DIR path too long");
		return ERR_TOOBIG;
	}
	return sock_dir_make(out, create, err, errlen);
}

/* Append "; what" to the list of reasons in err. */
static void
sock_why(char *err, size_t errlen, const char *what)
{
	size_t	n = strlen(err);

	if (n + 3 < errlen)
		snprintf(err + n, errlen - n, "%s%s", n != 0 ? "; " : "",
		    what);
}

/*
 * Find the session directories (see the top of this file) with tmp as the
 * parent of the shared default (tmp is "/tmp" but for tests).  sd->path[0]
 * is where new sessions go; the others hold older ones.  want is the
 * directory the user named (--dir or $LIMPET_DIR), or NULL.  sd->note says
 * why the default was refused, if it was and a fallback serves instead.
 */
int
sock_dirs_in(struct sock_dirs *sd, const char *want, const char *tmp,
    char *err, size_t errlen)
{
	static int	(*const fallback[])(char *, size_t, int, char *,
			    size_t) = { sock_dir_home, sock_dir_xdg };
	char		 why[SOCK_ERR_MAX];
	size_t		 i;
	int		 r;

	memset(sd, 0, sizeof *sd);
	*err = '\0';
	if (want == NULL)
		want = getenv("LIMPET_DIR");
	if (want != NULL && *want != '\0') {
		if ((r = sock_dir_expand(want, sd->path[0], SOCK_PATH_MAX,
		    err, errlen)) != 0 || (r = sock_dir_make(sd->path[0], 1,
		    err, errlen)) != 0)
			return r;
		sd->n = 1;
		return 0;
	}
	snprintf(sd->path[0], SOCK_PATH_MAX, "%s/limpet-%lu", tmp,
	    (unsigned long)getuid());
	if ((r = sock_dir_make(sd->path[0], 1, why, sizeof why)) == 0)
		sd->n = 1;
	else {
		snprintf(sd->note, sizeof sd->note, "%s", why);
		sock_why(err, errlen, why);
	}
	for (i = 0; i < sizeof fallback / sizeof fallback[0]; i++) {
		r = fallback[i](sd->path[sd->n], SOCK_PATH_MAX, sd->n == 0,
		    why, sizeof why);
		if (r == 0)
			sd->n++;
		else if (sd->n == 0)
			sock_why(err, errlen, why);
	}
	if (sd->n == 0)
		return ERR_UNSAFE;
	*err = '\0';
	return 0;
}

/* The session directories, as sock_dirs_in() with /tmp. */
int
sock_dirs(struct sock_dirs *sd, const char *want, char *err, size_t errlen)
{
	return sock_dirs_in(sd, want, "/tmp", err, errlen);
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
	if ((fd = compat_socket(AF_UNIX, SOCK_STREAM, 0,
	    O_CLOEXEC | O_NONBLOCK)) == -1)
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

/*
 * Connect to path without ever blocking; the fd is non-blocking.  A Unix
 * stream connect completes at once while the listener's backlog has room,
 * even if the listener never accepts, so a stuck daemon cannot hold us
 * here; a full backlog is ERR_FULL (try again later).  The peer must run
 * as our uid.  Other failures are ERR_SYSTEM with errno (ECONNREFUSED:
 * nobody listens, the socket is stale; ENOENT: no such socket).
 */
int
sock_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, r, saved;

	if ((r = sock_addr(&sun, path)) != 0)
		return r;
	if ((fd = compat_socket(AF_UNIX, SOCK_STREAM, 0,
	    O_CLOEXEC | O_NONBLOCK)) == -1)
		return ERR_SYSTEM;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		if (saved == EAGAIN || saved == EINPROGRESS)
			return ERR_FULL;
		return ERR_SYSTEM;
	}
	if ((r = sock_peer_ok(fd)) != 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Check that the peer on fd runs as our uid. */
int
sock_peer_ok(int fd)
{
	uid_t	uid;

	if (compat_getpeereid(fd, &uid) == -1)
		return ERR_SYSTEM;
	if (uid != getuid())
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
