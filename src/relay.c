/*
 * The relay.  sshd starts it for every connection limpet makes.  It writes
 * the magic preamble (so the client can skip whatever a shell startup file
 * printed), reads the client's HELLO, and then starts a new session daemon,
 * connects to an existing one, lists sessions or kills them.  Once
 * attached it only copies bytes both ways: it holds no state that matters,
 * so killing it loses nothing.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "buf.h"
#include "clock.h"
#include "daemon.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "proto.h"
#include "relay.h"
#include "sock.h"
#include "xmalloc.h"

#define RELAY_BUF	(256 * 1024)
#define HELLO_WAIT_MS	(60 * 1000)
#define QUERY_WAIT_MS	3000
#define MAX_SESSIONS	4096

/* Send an ERROR frame to the client and return the exit code. */
static int
relay_fail(uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int
relay_fail(uint32_t code, const char *fmt, ...)
{
	struct buf	b;
	char		msg[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_info("%s", msg);
	buf_init(&b, 0);
	proto_error_put(&b, code, msg);
	sock_write_all(STDOUT_FILENO, buf_ptr(&b), buf_len(&b), 10000);
	buf_free(&b);
	return 1;
}

/*
 * Read one frame from fd within ms milliseconds.  Returns 1 with f filled
 * (valid until the decoder is used again), or a negative code.
 */
static int
relay_read_frame(int fd, struct frame_dec *dec, struct frame *f, int ms)
{
	struct pollfd	pfd;
	uint64_t	deadline = clock_ms() + ms;
	ssize_t		n;
	int		r;

	for (;;) {
		if ((r = frame_dec_next(dec, f)) != 0)
			return r;
		pfd.fd = fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, clock_timeout(clock_ms(), deadline, -1));
		if (r == 0)
			return ERR_SHORT;
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return ERR_SYSTEM;
		}
		n = frame_dec_read(dec, fd);
		if (n == 0)
			return ERR_EOF;
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return ERR_SYSTEM;
	}
}

/* This host's name, for messages. */
static const char *
relay_host(void)
{
	static char	host[256];

	if (gethostname(host, sizeof host) == -1)
		snprintf(host, sizeof host, "the server");
	host[sizeof host - 1] = '\0';
	return host;
}

/*
 * Connect to session id.  A socket nobody listens on any more is stale:
 * it and its pid file are removed.
 */
static int
relay_connect(const char *dir, const char *id)
{
	char	path[SOCK_PATH_MAX];
	int	fd;

	if (!sock_id_valid(id) || sock_path(path, sizeof path, dir, id,
	    "sock") != 0)
		return ERR_NOTFOUND;
	fd = sock_connect(path);
	if (fd == ERR_SYSTEM && errno == ECONNREFUSED) {
		unlink(path);
		if (sock_path(path, sizeof path, dir, id, "pid") == 0)
			unlink(path);
		return ERR_NOTFOUND;
	}
	if (fd == ERR_SYSTEM && errno == ENOENT)
		return ERR_NOTFOUND;
	return fd;
}

/*
 * Ask session id to describe itself (OP_INFO) or to end (OP_KILL); the
 * reply frame goes into reply (SESSION or DONE).
 */
static int
relay_query(const char *dir, const char *id, uint8_t op, struct buf *reply)
{
	struct msg_hello	h;
	struct frame_dec	dec;
	struct frame		f;
	struct buf		b;
	int			fd, r;

	if ((fd = relay_connect(dir, id)) < 0)
		return fd;
	memset(&h, 0, sizeof h);
	h.version = PROTO_VERSION;
	h.op = op;
	h.id = (char *)id;
	buf_init(&b, 0);
	proto_hello_put(&b, &h);
	r = sock_write_all(fd, buf_ptr(&b), buf_len(&b), 10000);
	buf_free(&b);
	if (r != 0) {
		close(fd);
		return r;
	}
	sock_nonblock(fd);
	frame_dec_init(&dec);
	r = relay_read_frame(fd, &dec, &f, QUERY_WAIT_MS);
	if (r == 1)
		r = frame_put(reply, f.type, f.p, f.len);
	frame_dec_free(&dec);
	close(fd);
	return r;
}

/* Compare strings for qsort. */
static int
relay_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* The ids of the sockets in dir, sorted; returns the count. */
static int
relay_ids(const char *dir, char ***out)
{
	DIR		*dp;
	struct dirent	*de;
	char		**ids = NULL, *dot;
	int		 n = 0;

	*out = NULL;
	if ((dp = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(dp)) != NULL && n < MAX_SESSIONS) {
		if ((dot = strrchr(de->d_name, '.')) == NULL ||
		    strcmp(dot, ".sock") != 0)
			continue;
		*dot = '\0';
		if (!sock_id_valid(de->d_name))
			continue;
		ids = xreallocarray(ids, n + 1, sizeof *ids);
		ids[n++] = xstrdup(de->d_name);
	}
	closedir(dp);
	if (n > 0)
		qsort(ids, n, sizeof *ids, relay_cmp);
	*out = ids;
	return n;
}

/* Free an id list. */
static void
relay_ids_free(char **ids, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* Answer OP_LIST: one SESSION frame per live session, then DONE. */
static int
relay_list(const char *dir)
{
	struct buf	 b;
	char		**ids;
	int		 n, i, count = 0;

	buf_init(&b, 0);
	n = relay_ids(dir, &ids);
	for (i = 0; i < n; i++)
		if (relay_query(dir, ids[i], OP_INFO, &b) == 0)
			count++;
	proto_u32_put(&b, MSG_DONE, count);
	sock_write_all(STDOUT_FILENO, buf_ptr(&b), buf_len(&b), 10000);
	buf_free(&b);
	relay_ids_free(ids, n);
	return 0;
}

/* Answer OP_KILL: end session h->id, or all with HELLO_KILL_ALL. */
static int
relay_kill(const char *dir, const struct msg_hello *h)
{
	struct buf	 b, reply;
	char		**ids;
	int		 n, i, count = 0;

	buf_init(&reply, 0);
	if (h->flags & HELLO_KILL_ALL) {
		n = relay_ids(dir, &ids);
		for (i = 0; i < n; i++)
			if (relay_query(dir, ids[i], OP_KILL, &reply) == 0)
				count++;
		relay_ids_free(ids, n);
	} else if (relay_query(dir, h->id, OP_KILL, &reply) == 0)
		count = 1;
	else {
		buf_free(&reply);
		return relay_fail(PERR_NOSESSION, "no session %s on %s",
		    h->id, relay_host());
	}
	buf_free(&reply);
	buf_init(&b, 0);
	proto_u32_put(&b, MSG_DONE, count);
	sock_write_all(STDOUT_FILENO, buf_ptr(&b), buf_len(&b), 10000);
	buf_free(&b);
	return 0;
}

/*
 * Choose the session for an attach without an id: the only detached one.
 * Fills id (PROTO_ID_LEN + 1 bytes) or returns the exit code after telling
 * the client why not.
 */
static int
relay_pick(const char *dir, char *id, size_t idlen)
{
	struct msg_session	 s;
	struct frame_dec	 dec;
	struct frame		 f;
	struct buf		 b;
	char			**ids, list[512] = "";
	int			 n, i, found = 0;

	buf_init(&b, 0);
	n = relay_ids(dir, &ids);
	for (i = 0; i < n; i++)
		relay_query(dir, ids[i], OP_INFO, &b);
	relay_ids_free(ids, n);
	frame_dec_init(&dec);
	frame_dec_push(&dec, buf_ptr(&b), buf_len(&b));
	while (frame_dec_next(&dec, &f) == 1) {
		if (f.type != MSG_SESSION ||
		    proto_session_parse(f.p, f.len, &s) != 0)
			continue;
		if (s.state != SESS_ATTACHED) {
			if (found++ == 0)
				snprintf(id, idlen, "%s", s.id);
			if (strlen(list) + strlen(s.id) + 2 < sizeof list) {
				if (*list != '\0')
					strcat(list, " ");
				strcat(list, s.id);
			}
		}
		proto_session_free(&s);
	}
	frame_dec_free(&dec);
	buf_free(&b);
	if (found == 1)
		return 0;
	if (found == 0)
		return relay_fail(PERR_NOSESSION, "no detached session on %s "
		    "(limpet ls shows them all)", relay_host());
	return relay_fail(PERR_AMBIGUOUS, "%d detached sessions on %s (%s): "
	    "name one, limpet attach HOST ID", found, relay_host(), list);
}

/* A new random session id. */
static void
relay_new_id(char *id, size_t len)
{
	static const char	 al[] = "abcdefghijkmnpqrstuvwxyz23456789";
	uint8_t			 rnd[8];
	size_t			 i;

	if (compat_random(rnd, sizeof rnd) != 0)
		fatal("getrandom");
	for (i = 0; i < sizeof rnd && i + 1 < len; i++)
		id[i] = al[rnd[i] % (sizeof al - 1)];
	id[i] = '\0';
}

/*
 * Start a session daemon for HELLO h.  It detaches (new session, double
 * fork) so that it outlives this ssh connection, and its first client is
 * the returned end of a socketpair, so there is no race with its listener.
 */
static int
relay_spawn(const char *dir, const char *id, const struct msg_hello *h)
{
	int	sv[2], st;
	pid_t	pid;

	if (compat_socketpair(AF_UNIX, SOCK_STREAM, 0, sv, O_CLOEXEC) == -1)
		return ERR_SYSTEM;
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return ERR_SYSTEM;
	}
	if (pid == 0) {
		close(sv[0]);
		setsid();
		if (fork() == 0)
			daemon_run(dir, id, h, sv[1]);
		_exit(0);
	}
	close(sv[1]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	return sv[0];
}

/* Copy bytes between ssh's stdio and the daemon until either side ends. */
static int
relay_pipe(int fd)
{
	struct buf	up, down;
	struct pollfd	pfd[3];
	ssize_t		n;
	int		in_open = 1;

	buf_init(&up, RELAY_BUF);
	buf_init(&down, RELAY_BUF);
	sock_nonblock(fd);
	sock_nonblock(STDIN_FILENO);
	sock_nonblock(STDOUT_FILENO);
	for (;;) {
		pfd[0].fd = in_open ? STDIN_FILENO : -1;
		pfd[0].events = buf_len(&up) < RELAY_BUF / 2 ? POLLIN : 0;
		pfd[1].fd = fd;
		pfd[1].events = (buf_len(&down) < RELAY_BUF / 2 ? POLLIN : 0) |
		    (buf_len(&up) > 0 ? POLLOUT : 0);
		pfd[2].fd = STDOUT_FILENO;
		pfd[2].events = buf_len(&down) > 0 ? POLLOUT : 0;
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = buf_read_fd(&up, STDIN_FILENO, RELAY_BUF / 2);
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != EINTR))
				in_open = 0;
		}
		if (pfd[1].revents & POLLOUT) {
			if (buf_write_fd(&up, fd) == -1 && errno != EAGAIN)
				break;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = buf_read_fd(&down, fd, RELAY_BUF / 2);
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != EINTR)) {
				/* The daemon closed: deliver what it said. */
				fcntl(STDOUT_FILENO, F_SETFL, 0);
				while (buf_len(&down) > 0 &&
				    buf_write_fd(&down, STDOUT_FILENO) > 0)
					;
				break;
			}
		}
		if (pfd[2].revents & POLLOUT) {
			if (buf_write_fd(&down, STDOUT_FILENO) == -1 &&
			    errno != EAGAIN)
				break;
		}
		if (pfd[2].revents & (POLLERR | POLLHUP))
			break;
		/* ssh is gone and everything it sent was passed on. */
		if (!in_open && buf_len(&up) == 0)
			break;
	}
	buf_free(&up);
	buf_free(&down);
	close(fd);
	return 0;
}

/*
 * Act on HELLO h.  For a session (new or attach) *fd is the daemon
 * connection to bridge; for ls and kill the answer was sent and *fd is -1.
 * Returns the relay's exit code.
 */
static int
relay_open(struct msg_hello *h, int *fd)
{
	struct buf	b;
	char		dir[SOCK_PATH_MAX], err[512];
	char		id[PROTO_ID_LEN + 1];
	int		r;

	*fd = -1;
	if (sock_dir(dir, sizeof dir, err, sizeof err) != 0)
		return relay_fail(PERR_UNSAFE, "session directory on %s "
		    "refused: %s", relay_host(), err);
	switch (h->op) {
	case OP_LIST:
		return relay_list(dir);
	case OP_KILL:
		return relay_kill(dir, h);
	case OP_NEW:
		relay_new_id(id, sizeof id);
		if ((*fd = relay_spawn(dir, id, h)) < 0)
			return relay_fail(PERR_SPAWN, "cannot start a "
			    "session: %s", err_str(*fd));
		return 0;
	case OP_ATTACH:
		if (*h->id == '\0') {
			if ((r = relay_pick(dir, id, sizeof id)) != 0)
				return r;
		} else
			snprintf(id, sizeof id, "%s", h->id);
		if ((*fd = relay_connect(dir, id)) < 0)
			return relay_fail(PERR_NOSESSION, "no session %s on "
			    "%s: it ended or never existed (limpet ls shows "
			    "the sessions)", id, relay_host());
		free(h->id);
		h->id = xstrdup(id);
		buf_init(&b, 0);
		proto_hello_put(&b, h);
		r = sock_write_all(*fd, buf_ptr(&b), buf_len(&b), 10000);
		buf_free(&b);
		if (r != 0) {
			close(*fd);
			*fd = -1;
			return relay_fail(PERR_INTERNAL, "session %s did "
			    "not answer", id);
		}
		return 0;
	default:
		return relay_fail(PERR_PROTOCOL, "unknown operation");
	}
}

/* Entry point of "limpet relay". */
int
relay_main(int argc, char **argv)
{
	struct msg_hello	 h;
	struct frame_dec	 dec;
	struct frame		 f;
	const char		*logpath = getenv("LIMPET_LOG");
	int			 r, fd;
	uint32_t		 v;

	(void)argv;
	log_init("limpet-relay", logpath != NULL ? LOG_DEBUG : LOG_QUIET,
	    logpath);
	signal(SIGPIPE, SIG_IGN);
	if (argc != 0)
		return relay_fail(PERR_PROTOCOL, "limpet relay takes no "
		    "arguments");
	if (sock_write_all(STDOUT_FILENO, PROTO_MAGIC, PROTO_MAGIC_LEN,
	    10000) != 0)
		return 1;
	frame_dec_init(&dec);
	if ((r = relay_read_frame(STDIN_FILENO, &dec, &f,
	    HELLO_WAIT_MS)) != 1 || f.type != MSG_HELLO) {
		frame_dec_free(&dec);
		return relay_fail(PERR_PROTOCOL, "no HELLO from the client");
	}
	if ((r = proto_hello_parse(f.p, f.len, &h)) != 0) {
		struct cur	c;
		int		has_v;

		cur_init(&c, f.p, f.len);
		has_v = cur_get_u32(&c, &v) == 0;
		frame_dec_free(&dec);
		if (r == ERR_VERSION && has_v)
			return relay_fail(PERR_VERSION, "limpet on %s speaks "
			    "protocol %d, the client %u: install the same "
			    "limpet version on both ends (server: limpet %s)",
			    relay_host(), PROTO_VERSION, v, LIMPET_VERSION);
		return relay_fail(PERR_PROTOCOL, "malformed HELLO");
	}
	frame_dec_free(&dec);
	r = relay_open(&h, &fd);
	proto_hello_free(&h);
	if (r != 0 || fd < 0)
		return r;
	return relay_pipe(fd);
}
