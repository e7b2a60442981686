/*
 * How the relay starts session daemons.  Every daemon starts from a
 * fresh image of this binary (`limpet __daemon DIR ID plain`, scope.c),
 * so it carries none of the relay's memory; its first client is one end
 * of a socketpair, inherited as descriptor 3, on which the relay sends
 * the client's HELLO first.  Where logind would end the daemon at
 * logout, systemd-run starts that command in a scope of its own, and
 * the relay waits for it inside its poll loop (PH_SCOPE), never blocked.
 *
 * Named sessions (limpet -S NAME) are looked up through their name file
 * (names.c), whose lock the relay holds from the lookup until the daemon
 * it started answered, so that two relays never start the same name
 * twice (PH_NAME waits for another relay's lock).  new -d -n COUNT
 * starts COUNT detached sessions over one connection (PH_MANY).
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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
#include "names.h"
#include "proc.h"
#include "proto.h"
#include "relay-int.h"
#include "scope.h"
#include "sock.h"
#include "xmalloc.h"

#define SPAWN_EXECD	0	/* the helper's exit: __daemon runs */
#define SPAWN_FORKED	3	/* exec failed: a fork of ours runs it */
#define MANY_WAIT_MS	30000	/* a new daemon's WELCOME (new -d -n) */

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

/* fd moved off SCOPE_FD (which the daemon's socket takes); the fd. */
static int
relay_off3(int fd)
{
	int	nfd;

	if (fd != SCOPE_FD || (nfd = fcntl(fd, F_DUPFD_CLOEXEC,
	    SCOPE_FD + 1)) == -1)
		return fd;
	close(fd);
	return nfd;
}

/*
 * In the grandchild: run `self __daemon dir id plain` with the daemon's
 * socket s as descriptor 3.  If that cannot be run, say so on ep and
 * become the daemon in this fork instead.  Never returns.
 */
static void __attribute__((noreturn))
relay_exec_daemon(const char *self, const char *dir, const char *id,
    const struct msg_hello *h, int s, int ep)
{
	char	*av[6];

	proc_null_stdio();
	if (*self != '\0' && (s == SCOPE_FD ? fcntl(s, F_SETFD, 0) :
	    dup2(s, SCOPE_FD)) != -1) {
		av[0] = (char *)self;
		av[1] = (char *)"__daemon";
		av[2] = (char *)dir;
		av[3] = (char *)id;
		av[4] = (char *)"plain";
		av[5] = NULL;
		if (strchr(self, '/') != NULL)
			execv(self, av);
		else
			execvp(self, av);
	}
	if (write(ep, "x", 1) != 1)
		_exit(1);
	close(ep);
	daemon_run(dir, id, h, s);
}

/*
 * Start a session daemon for HELLO h in dir.  It detaches (new session,
 * double fork) so that it outlives this ssh connection, and its first
 * client is the returned end of a socketpair, so there is no race with
 * its listener.  *execd tells whether it runs from a fresh image (then
 * it waits for the HELLO on that socket) or, where this binary cannot
 * be run again, as a fork of the relay that has h already.
 */
static int
relay_spawn(const char *dir, const char *id, const struct msg_hello *h,
    int *execd)
{
	char	self[PATH_MAX];
	int	sv[2], ep[2], st;
	pid_t	pid;
	ssize_t	n;
	char	c;

	if (scope_self(self, sizeof self) != 0)
		*self = '\0';
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
		if (compat_pipe2(ep, O_CLOEXEC) == -1)
			_exit(1);
		ep[0] = relay_off3(ep[0]);
		ep[1] = relay_off3(ep[1]);
		if ((pid = fork()) == -1)
			_exit(1);
		if (pid == 0) {
			close(ep[0]);
			relay_exec_daemon(self, dir, id, h, sv[1], ep[1]);
		}
		/* Bounded by one exec: EOF once it ran, a byte if not. */
		close(ep[1]);
		while ((n = read(ep[0], &c, 1)) == -1 && errno == EINTR)
			;
		_exit(n == 1 ? SPAWN_FORKED : SPAWN_EXECD);
	}
	close(sv[1]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(st) || (WEXITSTATUS(st) != SPAWN_EXECD &&
	    WEXITSTATUS(st) != SPAWN_FORKED)) {
		close(sv[0]);
		return ERR_SYSTEM;
	}
	*execd = WEXITSTATUS(st) == SPAWN_EXECD;
	sock_nonblock(sv[0]);
	return sv[0];
}

/* Put HELLO (after notice, if any) in front of what goes to the daemon. */
static void
relay_hello_first(struct relay *r, const char *notice)
{
	struct buf	b;

	buf_init(&b, RELAY_BUF + 2 * (FRAME_HDR + FRAME_MAX_PAYLOAD));
	if (notice != NULL && *notice != '\0')
		proto_str_put(&b, MSG_NOTICE, notice);
	proto_hello_put(&b, &r->h);
	if (r->many != 0)
		frame_put(&b, MSG_DETACH, NULL, 0);
	else
		buf_put(&b, buf_ptr(&r->up), buf_len(&r->up));
	buf_free(&r->up);
	r->up = b;
}

/* The daemon of r->id runs and its first client is fd: talk to it. */
static void
relay_started(struct relay *r, int fd)
{
	log_info("session %s in %s", r->id, r->dirs.path[0]);
	if (r->name_fd != -1 && names_write(r->name_fd, r->id) != 0)
		log_error("session %s: cannot write its name file: %s", r->id,
		    strerror(errno));
	if (r->many != 0) {
		r->fd = fd;
		r->phase = PH_MANY;
		r->deadline = clock_ms() + MANY_WAIT_MS;
		return;
	}
	if (*r->dirs.note != '\0')
		snprintf(r->notice, sizeof r->notice, "%s: this session lives "
		    "in %s", r->dirs.note, r->dirs.path[0]);
	relay_bridge(r, fd, 0);
}

/* Start the daemon here (no scope); scope_note says why if it matters. */
static void
relay_direct(struct relay *r)
{
	int	fd, execd;

	if ((fd = relay_spawn(r->dirs.path[0], r->id, &r->h, &execd)) < 0) {
		relay_fail(r, PERR_SPAWN, "cannot start a session: %s",
		    err_str(fd));
		return;
	}
	if (execd)
		relay_hello_first(r, scope_note);
	else if (r->many != 0) {
		buf_reset(&r->up);	/* it has the HELLO: only leave */
		frame_put(&r->up, MSG_DETACH, NULL, 0);
	}
	relay_started(r, fd);
}

/* No scope for this daemon although logind ends it at logout: why. */
static void
relay_unscoped(struct relay *r, const char *why)
{
	log_error("session %s: logind ends it at logout: %s", r->id, why);
	snprintf(scope_note, sizeof scope_note, "none: %s", why);
}

/*
 * Whether logind ends the daemon at logout is asked of loginctl, which
 * may hang: a helper asks (scope_decide()) and writes "D LINGER WHY" on
 * a pipe that the relay reads in its poll loop (PH_DECIDE).  Returns 1
 * while it asks, 0 once r->scope_d is known.
 */
static int
relay_decide(struct relay *r)
{
	char	out[sizeof r->scope_why + 32];
	int	p[2], d, linger;
	pid_t	pid;

	if (!scope_asks()) {
		r->scope_d = scope_decide(r->scope_why, sizeof r->scope_why,
		    &r->scope_linger);
		return 0;
	}
	if (compat_pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		goto ask_now;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		goto ask_now;
	}
	if (pid == 0) {
		close(p[0]);
		proc_null_stdio();
		d = scope_decide(r->scope_why, sizeof r->scope_why, &linger);
		snprintf(out, sizeof out, "%d %d %s", d, linger, r->scope_why);
		fcntl(p[1], F_SETFL, 0);
		_exit(write(p[1], out, strlen(out)) == -1);
	}
	close(p[1]);
	r->spawn_fd = p[0];
	r->spawn_pid = pid;
	r->spawn_why[0] = '\0';
	r->phase = PH_DECIDE;
	r->deadline = clock_ms() + 2 * SCOPE_ASK_MS + 1000;
	return 1;
ask_now:
	r->scope_d = scope_decide(r->scope_why, sizeof r->scope_why,
	    &r->scope_linger);
	return 0;
}

/* The helper of relay_decide() answered (or is late): start the daemon. */
static void
relay_decided(struct relay *r, int late)
{
	int	d, linger, n = 0, st;

	close(r->spawn_fd);
	r->spawn_fd = -1;
	if (late)
		kill(r->spawn_pid, SIGKILL);
	while (waitpid(r->spawn_pid, &st, 0) == -1 && errno == EINTR)
		;
	if (late || sscanf(r->spawn_why, "%d %d %n", &d, &linger, &n) < 2 ||
	    n == 0 || d < SCOPE_NONE || d > SCOPE_CANNOT) {
		log_error("loginctl did not answer in time: the daemon starts "
		    "as if logind kept it");
		r->scope_d = SCOPE_NONE;
	} else {
		r->scope_d = d;
		r->scope_linger = linger;
		snprintf(r->scope_why, sizeof r->scope_why, "%s",
		    r->spawn_why + n);
	}
	r->spawn_why[0] = '\0';
	relay_new(r);
}

/*
 * Start a new session (named: r->h.id, for OP_OPEN).  Where logind
 * would end the daemon at logout, systemd-run starts it in a scope of
 * its own: the relay then waits in PH_SCOPE; else, or if that fails, the
 * daemon starts here.
 */
void
relay_new(struct relay *r)
{
	int	sv[2], fd;

	relay_new_id(r->id, sizeof r->id);
	scope_note[0] = '\0';
	if (r->scope_d == -1 && relay_decide(r) != 0)
		return;		/* relay_decided() comes back here */
	if (r->scope_d == SCOPE_NONE) {
		relay_direct(r);
		return;
	}
	if (r->scope_d == SCOPE_CANNOT) {
		relay_unscoped(r, r->scope_why);
		relay_direct(r);
		return;
	}
	if (compat_socketpair(AF_UNIX, SOCK_STREAM, 0, sv, O_CLOEXEC) == -1) {
		snprintf(r->spawn_why, sizeof r->spawn_why, "socketpair: %s",
		    strerror(errno));
		relay_unscoped(r, r->spawn_why);
		relay_direct(r);
		return;
	}
	fd = scope_start(r->dirs.path[0], r->id, sv[1], r->scope_linger,
	    &r->spawn_pid, r->spawn_why, sizeof r->spawn_why);
	close(sv[1]);
	if (fd < 0) {
		close(sv[0]);
		relay_unscoped(r, r->spawn_why);
		relay_direct(r);
		return;
	}
	r->spawn_fd = fd;
	r->spawn_sv = sv[0];
	r->phase = PH_SCOPE;
	r->deadline = clock_ms() + SCOPE_RUN_MS + 2000;
}

/* systemd-run's helper said all it will (or is late): go on. */
static void
relay_scope_end(struct relay *r, int late)
{
	int	fd = r->spawn_sv;

	close(r->spawn_fd);
	r->spawn_fd = -1;
	r->spawn_sv = -1;
	if (scope_finish(r->spawn_pid, late, r->spawn_why,
	    sizeof r->spawn_why) == 0) {
		log_info("session %s: in its own scope of the user's service "
		    "manager%s", r->id, r->scope_linger ? "" :
		    " (it ends with the last login: no linger)");
		relay_hello_first(r, NULL);
		sock_nonblock(fd);
		relay_started(r, fd);
		return;
	}
	close(fd);
	relay_unscoped(r, r->spawn_why);
	relay_direct(r);
}

/* Read what systemd-run's helper says (PH_SCOPE). */
void
relay_scope_io(struct relay *r)
{
	size_t	have = strlen(r->spawn_why);
	ssize_t	n;

	n = read(r->spawn_fd, r->spawn_why + have, sizeof r->spawn_why - 1 -
	    have);
	if (n > 0) {
		r->spawn_why[have + (size_t)n] = '\0';
		if (have + (size_t)n + 1 < sizeof r->spawn_why)
			return;
	} else if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r->phase == PH_DECIDE)
		relay_decided(r, 0);
	else
		relay_scope_end(r, 0);
}

/* The helper's deadline (PH_SCOPE). */
void
relay_scope_tick(struct relay *r, uint64_t now)
{
	if (now >= r->deadline && r->phase == PH_DECIDE)
		relay_decided(r, 1);
	else if (now >= r->deadline)
		relay_scope_end(r, 1);
}

/* Give up a name's lock (once its session lives, or on failure). */
void
relay_name_unlock(struct relay *r)
{
	if (r->name_fd != -1) {
		close(r->name_fd);
		r->name_fd = -1;
	}
}

/*
 * limpet -S NAME (OP_OPEN): take the name's lock, then ask the sessions
 * its name files name (one per session directory at most) whether they
 * still live; relay_done_resolve() attaches or starts it.
 */
void
relay_named(struct relay *r)
{
	r->phase = PH_NAME;
	r->deadline = clock_ms() + NAME_WAIT_MS;
	relay_name_try(r, clock_ms());
}

/* Try the name's lock again (PH_NAME). */
void
relay_name_try(struct relay *r, uint64_t now)
{
	char	id[PROTO_ID_LEN + 1];
	int	fd, i;

	if ((fd = names_lock(r->dirs.path[0], r->h.id)) == ERR_FULL) {
		if (now >= r->deadline) {
			relay_fail(r, PERR_INTERNAL, "session %s on %s is "
			    "being started by another connection that does "
			    "not finish: try again", r->h.id, relay_host());
			return;
		}
		r->retry_at = now + RETRY_MS;
		return;
	}
	if (fd < 0)
		log_error("no lock for the name %s: %s", r->h.id,
		    err_str(fd));
	r->name_fd = fd < 0 ? -1 : fd;
	for (i = 0; i < r->dirs.n; i++) {
		if (i == 0 && r->name_fd != -1)
			names_read(r->name_fd, id, sizeof id);
		else
			names_peek(r->dirs.path[i], r->h.id, id, sizeof id);
		if (*id != '\0')
			relay_query_add(r, i, id);
	}
	relay_queries_go(r);
}

/*
 * new -d -n COUNT (HELLO_MANY, count in out_have): start COUNT detached
 * sessions, one after the other, passing each one's WELCOME (or why it
 * failed) to the client, then DONE(started).
 */
void
relay_many(struct relay *r)
{
	if (r->h.out_have == 0 || r->h.out_have > PROTO_MANY_MAX ||
	    (r->h.flags & (HELLO_PIPE | HELLO_RESUME))) {
		relay_fail(r, PERR_PROTOCOL, "cannot start %llu sessions at "
		    "once (1 to %d)", (unsigned long long)r->h.out_have,
		    PROTO_MANY_MAX);
		return;
	}
	r->many = (uint32_t)r->h.out_have;
	r->made = 0;
	r->h.flags &= ~HELLO_MANY;
	r->h.out_have = 0;
	r->h.op = OP_NEW;
	buf_reset(&r->up);
	relay_new(r);
}

/* The current daemon of new -d -n answered (or not): the next one. */
static void
relay_many_next(struct relay *r, int ok)
{
	if (r->fd != -1) {
		close(r->fd);
		r->fd = -1;
	}
	buf_reset(&r->up);
	buf_reset(&r->first);
	if (ok)
		r->made++;
	else
		proto_str_put(&r->down, MSG_NOTICE, "a session did not "
		    "answer when it started");
	if (--r->many > 0 && buf_len(&r->down) < RELAY_BUF) {
		relay_new(r);
		return;
	}
	if (r->many > 0)	/* the client does not read: stop here */
		r->many = 0;
	proto_u32_put(&r->down, MSG_DONE, r->made);
	relay_finish(r, 0);
}

/* Talk to the daemon just started for new -d -n (PH_MANY). */
void
relay_many_io(struct relay *r, short revents)
{
	struct frame	f;
	ssize_t		n;

	if ((revents & POLLOUT) && buf_write_fd(&r->up, r->fd) == -1 &&
	    errno != EAGAIN && errno != EINTR) {
		relay_many_next(r, 0);
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	n = buf_read_fd(&r->first, r->fd, RELAY_BUF / 2);
	if (relay_frame_peek(&r->first, &f) == 1) {
		frame_put(&r->down, f.type, f.p, f.len);
		relay_many_next(r, f.type == MSG_WELCOME);
	} else if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		relay_many_next(r, 0);
}

/* A daemon of new -d -n that does not answer is not waited for. */
void
relay_many_tick(struct relay *r, uint64_t now)
{
	if (now >= r->deadline)
		relay_many_next(r, 0);
}
