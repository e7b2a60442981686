/*
 * The session daemon's process.  One per session, running as the user,
 * detached from any ssh session.  It owns the PTY and the program on it,
 * listens on <dir>/<id>.sock, and serves one attached client at a time
 * (daemon-core.c, daemon-frame.c hold the logic): output goes
 * into a ring addressed by offsets and stays there until the client
 * acknowledges it; input arrives with offsets, so a resent byte is never
 * delivered twice.  Peers that misbehave are dropped with a logged reason;
 * the session is never harmed by what a peer sends.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "clock.h"
#include "daemon.h"
#include "err.h"
#include "log.h"
#include "names.h"
#include "daemon-int.h"
#include "proc.h"
#include "proto.h"
#include "pty.h"
#include "ring.h"
#include "sig.h"
#include "sock.h"
#include "xmalloc.h"


/* Remove the socket and pid file and exit. */
static void __attribute__((noreturn))
daemon_exit(struct daemon *d, int code)
{
	int	i;

	/* Best effort, never blocking: what is queued (EXIT, DONE). */
	for (i = 0; i < d->npeers; i++)
		peer_flush(d->peers[i], clock_ms());
	unlink(d->sockpath);
	unlink(d->pidpath);
	names_forget(d->dir, d->name, d->id);	/* limpet -S NAME */
	dfwd_cleanup(d);
	log_info("session %s ends", d->id);
	exit(code);
}

/* Create the listening socket (again, after SIGUSR1). */
static int
daemon_listen(struct daemon *d)
{
	int	fd;

	if (d->lfd != -1) {
		close(d->lfd);
		d->lfd = -1;
		unlink(d->sockpath);
	}
	if ((fd = sock_listen(d->sockpath)) < 0)
		return fd;
	d->lfd = fd;
	return 0;
}

/* Write our pid next to the socket, for tools and tests. */
static void
daemon_write_pid(struct daemon *d)
{
	FILE	*f;

	if ((f = fopen(d->pidpath, "we")) != NULL) {
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}
}

/* Read and handle what a peer sent. */
static void
daemon_peer_read(struct daemon *d, struct peer *p, uint64_t now)
{
	int	r;

	r = peer_fill(p);
	if (r == ERR_EOF || r == ERR_SYSTEM) {
		if (p == d->client)
			daemon_detach(d, "connection closed");
		p->dead = 1;
		return;
	}
	if (r == ERR_FORMAT) {
		daemon_drop(d, p, "bad descriptor passed on the socket");
		return;
	}
	daemon_frames(d, p, now);
}

/*
 * Act on poll's answer for peer p's entries (peer_poll()): its socket,
 * and after a handoff sshd's pipes.  A handed-off peer's socket carries
 * only the handoff's end; its close is the relay's, and ends the peer.
 */
static void
daemon_peer_ready(struct daemon *d, struct peer *p, struct pollfd *pfd,
    uint64_t now)
{
	const short	in = POLLIN | POLLHUP | POLLERR;
	int		r;

	if (p->ho >= PEER_HO_IN && (pfd[0].revents & in)) {
		if ((r = peer_ctl(p)) == 1)
			log_info("handoff: output goes to sshd's pipe");
		else if (r < 0) {
			if (p == d->client)
				daemon_detach(d, r == ERR_EOF ? "the relay "
				    "closed" : "bad handoff from the relay");
			p->dead = 1;
			return;
		}
	}
	if (pfd[p->ho >= PEER_HO_IN ? 1 : 0].revents & in)
		daemon_peer_read(d, p, now);
}

/* Reap the program. */
static void
daemon_reap(struct daemon *d, uint64_t now)
{
	int	st;
	pid_t	pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid != d->child)
			continue;
		d->child_done = 1;
		if (WIFEXITED(st))
			d->status = WEXITSTATUS(st);
		else if (WIFSIGNALED(st))
			d->status = 128 + WTERMSIG(st);
		d->drain_at = now + DRAIN_MS;
		log_info("program exited with status %d", d->status);
	}
}

/*
 * Accept connections; each must come from our own uid.  A full peer table
 * drops its oldest idle peer: the listener is always polled.
 */
static void
daemon_accept(struct daemon *d, uint64_t now)
{
	int	fd, n = 0;

	while (n++ < DAEMON_MAX_PEERS && (fd = compat_accept(d->lfd,
	    O_NONBLOCK | O_CLOEXEC)) != -1) {
		if (sock_peer_ok(fd) != 0) {
			log_error("refused a connection from another user");
			close(fd);
			continue;
		}
		daemon_add_peer(d, fd, now);
	}
}

/* Handle delivered signals. */
static void
daemon_signals(struct daemon *d, uint64_t now)
{
	int	s;

	while ((s = sig_next()) != 0) {
		switch (s) {
		case SIGCHLD:
			daemon_reap(d, now);
			break;
		case SIGTERM:
		case SIGHUP:
		case SIGINT:
			daemon_kill(d, now);
			break;
		case SIGUSR1:
			if (daemon_listen(d) != 0)
				log_error("cannot re-create %s", d->sockpath);
			break;
		}
	}
}

/*
 * Flush what peers have queued (never blocking) and free finished peers;
 * exit if the session is over.
 */
static void
daemon_flush(struct daemon *d, uint64_t now)
{
	int	i;

	if (d->quit)
		daemon_exit(d, d->quit_code);
	for (i = 0; i < d->npeers; i++) {
		if (peer_flush(d->peers[i], now) != 0)
			daemon_drop(d, d->peers[i], NULL);
	}
	daemon_sweep(d);
}

/*
 * The PTY's poll entry.  When output is held back the PTY is not polled
 * for reading; once it has hung up it is not polled at all, since POLLHUP
 * would wake every poll() at once (a busy loop) until room is made.
 */
static short
daemon_pty_events(struct daemon *d, uint64_t now, int *skip)
{
	short	ev = 0;

	if (daemon_may_read_pty(d, now))
		ev |= POLLIN;
	if (buf_len(&d->pty_in) > 0)
		ev |= POLLOUT;
	*skip = d->pty_hup && ev == 0;
	return ev;
}

/* The poll timeout: until the next deadline of any timer. */
static int
daemon_poll_timeout(struct daemon *d, uint64_t now)
{
	int	t, w, i;

	t = clock_timeout(now, daemon_deadline(d, now), 3600 * 1000);
	/* A peer napping on a full pipe (peer_wfull()). */
	for (i = 0; i < d->npeers; i++)
		if ((w = peer_nap_timeout(d->peers[i], now)) != -1 &&
		    (t == -1 || w < t))
			t = w;
	/* Output spaced at the path's pace (daemon-flow.c). */
	if (d->client != NULL && d->sent < d->out.end &&
	    daemon_inflight(d) < d->window &&
	    (w = flow_pace_wait(&d->flow)) != -1 && (t == -1 || w < t))
		t = w;
	/* The screen model has output to read, now or after a flood. */
	if ((w = daemon_screen_wait(d, now)) != -1 && (t == -1 || w < t))
		t = w;
	return t;
}

/* Handle what poll() reported for the PTY. */
static void
daemon_pty_ready(struct daemon *d, short rev, uint64_t now)
{
	if (rev & POLLHUP)
		d->pty_hup = 1;
	if (rev & (POLLOUT | POLLERR))
		daemon_write_pty(d);
	if (rev & (POLLIN | POLLHUP | POLLERR))
		daemon_read_pty(d, now);
}

/* The poll loop: the only place the daemon waits. */
static void __attribute__((noreturn))
daemon_loop(struct daemon *d)
{
	struct pollfd	 pfd[DAEMON_MAX_PEERS * PEER_NPFD + 3 + DFWD_NPFD +
			    DPIPE_NPFD];
	struct peer	*peers[DAEMON_MAX_PEERS];
	uint64_t	 now;
	int		 i, n, ipty, ilfd, base, np, skip, ready;

	for (;;) {
		now = clock_ms();
		daemon_tick(d, now);
		daemon_flush(d, now);

		n = 0;
		pfd[n].fd = sig_fd();
		pfd[n++].events = POLLIN;
		ilfd = ipty = -1;
		if (d->lfd != -1) {
			ilfd = n;
			pfd[n].fd = d->lfd;
			pfd[n++].events = POLLIN;
		}
		if (d->ptyfd != -1) {
			pfd[n].events = daemon_pty_events(d, now, &skip);
			pfd[n].fd = skip ? -1 : d->ptyfd;
			ipty = n++;
		}
		base = n;
		np = d->npeers;
		for (i = 0; i < np; i++) {
			peers[i] = d->peers[i];
			peer_poll(peers[i], pfd + n, now);
			n += PEER_NPFD;
		}
		n = dfwd_poll(d, pfd, n, now);
		n = dpipe_poll(d, pfd, n, now);
		if ((ready = poll(pfd, n, daemon_poll_timeout(d, now))) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		now = clock_ms();
		for (i = 0; i < np; i++)
			peer_woke(peers[i], now);
		if (pfd[0].revents & POLLIN)
			daemon_signals(d, now);
		if (ipty != -1 && d->ptyfd != -1 && pfd[ipty].revents != 0)
			daemon_pty_ready(d, pfd[ipty].revents, now);
		for (i = 0; i < np && !d->quit; i++) {
			/* Peers are only freed by daemon_flush(). */
			if (!peers[i]->dead)
				daemon_peer_ready(d, peers[i],
				    pfd + base + i * PEER_NPFD, now);
		}
		if (ilfd != -1 && (pfd[ilfd].revents & POLLIN) && !d->quit)
			daemon_accept(d, now);
		if (!d->quit)
			dfwd_ready(d, pfd, now);
		if (!d->quit)
			dpipe_ready(d, pfd, now);
		daemon_write_pty(d);
		daemon_screen_step(d, ready == 0);
	}
}

/* Detach from the relay's session and stdio. */
static void
daemon_detach_stdio(int keep)
{
	int	fd;

	proc_null_stdio();
	for (fd = STDERR_FILENO + 1; fd < 1024; fd++)
		if (fd != keep)
			close(fd);
}

/*
 * How long (ms) to keep a session whose program exited while nobody
 * collected the status: $LIMPET_KEEP_EXITED seconds, else a week.
 */
static uint64_t
daemon_keep_exited(void)
{
	const char		*s = getenv("LIMPET_KEEP_EXITED");
	char			*end;
	unsigned long long	 v;

	if (s == NULL || *s == '\0')
		return (uint64_t)KEEP_EXITED_S * 1000;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > 10ULL * 365 * 86400) {
		log_error("ignoring LIMPET_KEEP_EXITED=%s", s);
		return (uint64_t)KEEP_EXITED_S * 1000;
	}
	return v * 1000;
}

/*
 * Become the daemon of session id in dir, whose first client (the relay
 * that started us) is on fd and sent HELLO h.  Never returns.
 */
void
daemon_run(const char *dir, const char *id, const struct msg_hello *h, int fd)
{
	static const int	 sigs[] = { SIGCHLD, SIGTERM, SIGHUP, SIGINT,
				    SIGUSR1 };
	struct daemon		*d = xmalloc(sizeof *d);
	struct pty_spec		 spec;
	struct peer		*p;
	const char		*logpath = getenv("LIMPET_LOG");
	size_t			 ring;
	int			 r;

	log_close();
	daemon_detach_stdio(fd);
	log_init("limpet-daemon", logpath != NULL ? LOG_DEBUG : LOG_QUIET,
	    logpath);
	signal(SIGPIPE, SIG_IGN);
	if (sig_init(sigs, sizeof sigs / sizeof sigs[0]) != 0)
		fatal("signals");
	ring = h->ring_kb != 0 ? (size_t)h->ring_kb * 1024 :
	    DAEMON_RING_DEFAULT;
	if (ring < 64 * 1024)
		ring = 64 * 1024;
	if (ring > DAEMON_RING_MAX)
		ring = DAEMON_RING_MAX;
	daemon_init(d, ring, clock_ms());
	d->keep_exited = daemon_keep_exited();
	snprintf(d->dir, sizeof d->dir, "%s", dir);
	snprintf(d->id, sizeof d->id, "%s", id);
	/* A new session's HELLO carries its name (OP_OPEN) as the id. */
	if (h->id != NULL && proto_name_valid(h->id))
		snprintf(d->name, sizeof d->name, "%s", h->id);
	sock_nonblock(fd);
	p = daemon_add_peer(d, fd, clock_ms());

	if (sock_path(d->sockpath, sizeof d->sockpath, dir, id, "sock") != 0 ||
	    sock_path(d->pidpath, sizeof d->pidpath, dir, id, "pid") != 0) {
		proto_error_put(&p->out, PERR_INTERNAL, "path too long");
		daemon_exit(d, 1);
	}
	if ((r = daemon_listen(d)) != 0) {
		char	msg[256];

		snprintf(msg, sizeof msg, "cannot listen on %s: %s",
		    d->sockpath, err_str(r));
		proto_error_put(&p->out, PERR_INTERNAL, msg);
		d->sockpath[0] = '\0';
		daemon_exit(d, 1);
	}
	daemon_write_pid(d);

	memset(&spec, 0, sizeof spec);
	spec.argv = h->argv;
	spec.argc = (int)h->argc;
	spec.env = h->env;
	spec.envc = (int)h->envc;
	spec.session = id;
	spec.rows = d->rows = h->rows != 0 ? h->rows : 24;
	spec.cols = d->cols = h->cols != 0 ? h->cols : 80;
	d->command = spec.argc > 0 ? pty_command_line(&spec) : xstrdup("");
	dfwd_start(d, h);
	if ((h->flags & HELLO_PIPE) && h->version >= PROTO_V_PIPE)
		r = dpipe_spawn(d, &spec);	/* limpet host cmd < in */
	else
		r = pty_spawn(&spec, &d->ptyfd, &d->child);
	if (r != 0) {
		char	msg[256];

		snprintf(msg, sizeof msg, "cannot start the session: %s",
		    err_str(r));
		proto_error_put(&p->out, PERR_SPAWN, msg);
		daemon_exit(d, 1);
	}
	log_info("session %s started, pid %ld", id, (long)d->child);
	p->hello = 1;
	p->op = OP_NEW;
	p->version = h->version;
	daemon_attach(d, p, h, clock_ms());
	daemon_loop(d);
}
