/*
 * The relay asks daemons: INFO for ls and for attach's choice of session,
 * KILL for kill.  Every daemon of every session directory is asked at
 * once (up to MAX_INFLIGHT at a time), each with its own deadline, inside
 * the relay's single poll loop.  A daemon that is stopped or hung still
 * accepts the connection (the kernel queues it), so it is found by the
 * deadline, not by a failed connect; it is reported as not answering,
 * never hidden and never waited for.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "proto.h"
#include "relay-int.h"
#include "sock.h"
#include "xmalloc.h"

enum query_state {
	Q_IDLE,		/* not started */
	Q_RETRY,	/* backlog full: connect again at retry_at */
	Q_WAIT,		/* connected: HELLO out, answer in */
	Q_ANSWERED,	/* in holds the answer frame */
	Q_NOANSWER,	/* deadline passed */
	Q_GONE		/* no such session (any more) */
};

struct query {
	char		 id[PROTO_ID_LEN + 1];
	int		 dir;		/* index in relay.dirs */
	int		 state;
	int		 fd;
	uint64_t	 deadline;
	uint64_t	 retry_at;
	struct buf	 out;
	struct buf	 in;
};

/* Remove the socket and pid file of a session nobody listens for. */
void
relay_stale(const char *dir, const char *id)
{
	char	path[SOCK_PATH_MAX];

	log_info("session %s: stale socket in %s removed", id, dir);
	if (sock_path(path, sizeof path, dir, id, "sock") == 0)
		unlink(path);
	if (sock_path(path, sizeof path, dir, id, "pid") == 0)
		unlink(path);
}

/* How many daemons we ask at once: bounded by the descriptor limit. */
int
relay_queries_max(struct relay *r)
{
	struct rlimit	rl;

	r->cap = MAX_INFLIGHT;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)MAX_INFLIGHT + 32)
		r->cap = rl.rlim_cur > 40 ? (int)rl.rlim_cur - 32 : 8;
	return r->cap;
}

/* Order queries by id, then by directory. */
static int
relay_query_cmp(const void *a, const void *b)
{
	const struct query	*qa = a, *qb = b;
	int			 c;

	if ((c = strcmp(qa->id, qb->id)) != 0)
		return c;
	return qa->dir - qb->dir;
}

/* Add a query for session id in directory dir. */
void
relay_query_add(struct relay *r, int dir, const char *id)
{
	struct query	*q;

	r->q = xreallocarray(r->q, r->nq + 1, sizeof *r->q);
	q = &r->q[r->nq++];
	memset(q, 0, sizeof *q);
	snprintf(q->id, sizeof q->id, "%s", id);
	q->dir = dir;
	q->fd = -1;
	q->state = Q_IDLE;
	buf_init(&q->out, 0);
	buf_init(&q->in, 2 * (FRAME_HDR + FRAME_MAX_PAYLOAD) + 1);
}

/* A query for every socket in directory i. */
static void
relay_query_dir(struct relay *r, int i)
{
	DIR		*dp;
	struct dirent	*de;
	char		*dot;

	if ((dp = opendir(r->dirs.path[i])) == NULL)
		return;
	while ((de = readdir(dp)) != NULL && r->nq < MAX_SESSIONS) {
		if ((dot = strrchr(de->d_name, '.')) == NULL ||
		    strcmp(dot, ".sock") != 0)
			continue;
		*dot = '\0';
		if (sock_id_valid(de->d_name))
			relay_query_add(r, i, de->d_name);
	}
	closedir(dp);
}

/*
 * Start asking the daemons HELLO r->h asks about: all of them for ls,
 * kill --all and attach without an id; the one named for kill ID.
 */
void
relay_queries_start(struct relay *r)
{
	int	i;

	if (r->h.op == OP_KILL && !(r->h.flags & HELLO_KILL_ALL)) {
		if (!sock_id_valid(r->h.id)) {
			relay_fail(r, PERR_NOSESSION, "no session %.32s on %s",
			    r->h.id, relay_host());
			return;
		}
		for (i = 0; i < r->dirs.n; i++)
			relay_query_add(r, i, r->h.id);
	} else {
		for (i = 0; i < r->dirs.n; i++)
			relay_query_dir(r, i);
	}
	relay_queries_go(r);
}

/* Ask the daemons of the queries added (relay_query_add). */
void
relay_queries_go(struct relay *r)
{
	if (r->nq > 1)
		qsort(r->q, r->nq, sizeof *r->q, relay_query_cmp);
	r->qmap = xreallocarray(NULL, r->cap, sizeof *r->qmap);
	r->inflight = 0;
	r->phase = PH_QUERY;
	relay_queries_tick(r, clock_ms());
}

/* End query q in state st. */
static void
relay_query_end(struct relay *r, struct query *q, int st)
{
	if (q->fd != -1) {
		close(q->fd);
		q->fd = -1;
	}
	if (q->state == Q_RETRY || q->state == Q_WAIT)
		r->inflight--;
	q->state = st;
}

/* Connect to the daemon of q and queue its HELLO. */
static void
relay_query_connect(struct relay *r, struct query *q, uint64_t now)
{
	struct msg_hello	h;
	char			path[SOCK_PATH_MAX];
	int			fd;

	if (q->state == Q_IDLE) {
		q->deadline = now + QUERY_WAIT_MS;
		q->state = Q_RETRY;
		r->inflight++;
	}
	if (sock_path(path, sizeof path, r->dirs.path[q->dir], q->id,
	    "sock") != 0) {
		relay_query_end(r, q, Q_GONE);
		return;
	}
	if ((fd = sock_connect(path)) == ERR_FULL) {
		q->retry_at = now + RETRY_MS;
		return;
	}
	if (fd < 0) {
		if (fd == ERR_SYSTEM && errno == ECONNREFUSED)
			relay_stale(r->dirs.path[q->dir], q->id);
		else if (fd == ERR_PEER)
			log_error("%s: the listener is not you", path);
		relay_query_end(r, q, Q_GONE);
		return;
	}
	q->fd = fd;
	q->state = Q_WAIT;
	memset(&h, 0, sizeof h);
	/* Every daemon, of any version, speaks the oldest one. */
	h.version = PROTO_VERSION_MIN;
	h.op = r->h.op == OP_KILL ? OP_KILL : OP_INFO;
	if (h.op == OP_INFO)
		h.flags = HELLO_DETAIL;
	h.id = q->id;
	proto_hello_put(&q->out, &h);
}

/* The poll() entries of the queries waiting for their daemon. */
int
relay_queries_poll(struct relay *r, struct pollfd *pfd)
{
	int	i, n = 0;

	if (r->phase != PH_QUERY)
		return 0;
	for (i = 0; i < r->nq && n < r->cap; i++) {
		if (r->q[i].state != Q_WAIT)
			continue;
		pfd[n].fd = r->q[i].fd;
		pfd[n].events = POLLIN |
		    (buf_len(&r->q[i].out) > 0 ? POLLOUT : 0);
		pfd[n].revents = 0;
		r->qmap[n++] = i;
	}
	return n;
}

/*
 * Whether q's answer, whose first frame is f, is complete: a SESSION
 * may be followed by a DETAIL (a daemon from before DETAIL sends none);
 * every daemon closes after its answer, so eof completes it too.
 */
static int
relay_query_whole(struct query *q, const struct frame *f, int eof)
{
	struct frame	next;
	size_t		n = FRAME_HDR + f->len;

	if (f->type != MSG_SESSION || eof)
		return 1;
	return relay_frame_at(buf_ptr(&q->in) + n, buf_len(&q->in) - n,
	    &next) != 0;
}

/* Send HELLOs and take answers. */
void
relay_queries_io(struct relay *r, struct pollfd *pfd, int n)
{
	struct query	*q;
	struct frame	 f;
	ssize_t		 got;
	int		 i, k;

	for (i = 0; i < n; i++) {
		q = &r->q[r->qmap[i]];
		if (q->state != Q_WAIT)
			continue;
		if ((pfd[i].revents & POLLOUT) && buf_write_fd(&q->out,
		    q->fd) == -1 && errno != EAGAIN && errno != EINTR) {
			relay_query_end(r, q, Q_GONE);
			continue;
		}
		if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		got = buf_read_fd(&q->in, q->fd, 2 * (FRAME_HDR +
		    FRAME_MAX_PAYLOAD));
		if ((k = relay_frame_peek(&q->in, &f)) == 1 &&
		    relay_query_whole(q, &f, got == 0))
			relay_query_end(r, q, Q_ANSWERED);
		else if (k < 0 || got == 0 || (got == -1 &&
		    errno != EAGAIN && errno != EINTR))
			relay_query_end(r, q, Q_GONE);	/* it is ending */
	}
}

/* The pid a daemon wrote next to its socket, or 0. */
static uint32_t
relay_pidfile(const char *dir, const char *id, uint64_t *mtime)
{
	struct stat	 sb;
	char		 path[SOCK_PATH_MAX], line[32];
	FILE		*f;
	unsigned long	 pid = 0;

	*mtime = 0;
	if (sock_path(path, sizeof path, dir, id, "pid") != 0 ||
	    (f = fopen(path, "re")) == NULL)
		return 0;
	if (fstat(fileno(f), &sb) == 0)
		*mtime = (uint64_t)sb.st_mtime;
	if (fgets(line, sizeof line, f) != NULL)
		pid = strtoul(line, NULL, 10);
	fclose(f);
	return pid <= UINT32_MAX ? (uint32_t)pid : 0;
}

/*
 * Describe a session whose daemon did not answer: state NOANSWER, the
 * pid from its pid file, created when that was written; the rest unknown.
 */
static void
relay_noanswer_put(struct relay *r, const struct query *q, uint32_t *pid)
{
	struct msg_session	s;

	memset(&s, 0, sizeof s);
	s.id = (char *)q->id;
	s.pid = relay_pidfile(r->dirs.path[q->dir], q->id, &s.created);
	s.state = SESS_NOANSWER;
	s.command = (char *)"";
	proto_session_put(&r->down, &s);
	if (pid != NULL)
		*pid = s.pid;
	log_info("session %s (pid %u) does not answer", q->id, s.pid);
}

/* The answer frame of a query, if it is of type type. */
static int
relay_query_frame(struct query *q, uint8_t type, struct frame *f)
{
	return q->state == Q_ANSWERED && relay_frame_peek(&q->in, f) == 1 &&
	    f->type == type;
}

/*
 * Pass on the DETAIL that followed SESSION frame f of query q.  A daemon
 * that sent none predates DETAIL and with it version negotiation: it
 * speaks protocol 2.
 */
static void
relay_detail_put(struct relay *r, struct query *q, const struct frame *f)
{
	struct msg_detail	m;
	struct frame		next;
	size_t			n = FRAME_HDR + f->len;

	if (relay_frame_at(buf_ptr(&q->in) + n, buf_len(&q->in) - n,
	    &next) == 1 && next.type == MSG_DETAIL) {
		frame_put(&r->down, next.type, next.p, next.len);
		return;
	}
	memset(&m, 0, sizeof m);
	m.key[m.n] = (char *)"proto";
	m.value[m.n++] = (char *)"2";
	proto_detail_put(&r->down, &m);
}

/* ls: every session that answered, every one that did not, then DONE. */
static void
relay_done_list(struct relay *r)
{
	struct frame	f;
	uint32_t	count = 0;
	int		i;

	for (i = 0; i < r->nq; i++) {
		if (relay_query_frame(&r->q[i], MSG_SESSION, &f)) {
			frame_put(&r->down, f.type, f.p, f.len);
			if (r->h.flags & HELLO_DETAIL)
				relay_detail_put(r, &r->q[i], &f);
			count++;
		} else if (r->q[i].state == Q_NOANSWER) {
			relay_noanswer_put(r, &r->q[i], NULL);
			count++;
		}
	}
	proto_u32_put(&r->down, MSG_DONE, count);
	relay_finish(r, 0);
}

/* kill: DONE(killed); a daemon that did not answer is named. */
static void
relay_done_kill(struct relay *r)
{
	struct frame	 f;
	struct query	*q;
	uint32_t	 count = 0, pid;
	char		 msg[256];
	int		 i, silent = 0, found = 0;

	for (i = 0; i < r->nq; i++) {
		q = &r->q[i];
		if (relay_query_frame(q, MSG_DONE, &f)) {
			count++;
			found = 1;
		} else if (q->state == Q_NOANSWER) {
			silent++;
			found = 1;
			pid = relay_pidfile(r->dirs.path[q->dir], q->id,
			    &(uint64_t){ 0 });
			snprintf(msg, sizeof msg, "session %s (pid %u) does "
			    "not answer: it is stopped or hung; it ends when "
			    "it reads the request, kill -KILL %u ends it now",
			    q->id, pid, pid);
			if (!(r->h.flags & HELLO_KILL_ALL)) {
				relay_fail(r, PERR_INTERNAL, "%s", msg);
				return;
			}
			proto_str_put(&r->down, MSG_NOTICE, msg);
		}
	}
	if (!found && !(r->h.flags & HELLO_KILL_ALL)) {
		relay_fail(r, PERR_NOSESSION, "no session %s on %s", r->h.id,
		    relay_host());
		return;
	}
	proto_u32_put(&r->down, MSG_DONE, count);
	relay_finish(r, 0);
}

/*
 * attach without an id: the only session not attached elsewhere (or
 * exited) among those that answered; then connect to it.
 */
static void
relay_done_pick(struct relay *r)
{
	struct msg_session	s;
	struct frame		f;
	char			list[512] = "", silent[256] = "";
	int			i, found = 0;

	for (i = 0; i < r->nq; i++) {
		if (r->q[i].state == Q_NOANSWER &&
		    strlen(silent) + PROTO_ID_LEN + 2 < sizeof silent)
			snprintf(silent + strlen(silent), sizeof silent -
			    strlen(silent), " %s", r->q[i].id);
		if (!relay_query_frame(&r->q[i], MSG_SESSION, &f) ||
		    proto_session_parse(f.p, f.len, &s) != 0)
			continue;
		if (s.state != SESS_ATTACHED) {
			if (found++ == 0)
				snprintf(r->id, sizeof r->id, "%s", s.id);
			if (strlen(list) + strlen(s.id) + 2 < sizeof list)
				snprintf(list + strlen(list), sizeof list -
				    strlen(list), "%s%s", *list != '\0' ?
				    " " : "", s.id);
		}
		proto_session_free(&s);
	}
	if (found == 1) {
		relay_queries_free(r);
		r->phase = PH_CONNECT;
		r->deadline = clock_ms() + QUERY_WAIT_MS;
		r->retry_at = 0;
		return;
	}
	if (found == 0)
		relay_fail(r, PERR_NOSESSION, "no detached session on %s "
		    "(limpet ls shows them all)%s%s", relay_host(),
		    *silent != '\0' ? "; not answering:" : "", silent);
	else
		relay_fail(r, PERR_AMBIGUOUS, "%d detached sessions on %s "
		    "(%s): name one, limpet attach HOST ID", found,
		    relay_host(), list);
}

/* The name in the DETAIL after query q's SESSION f, in out ("" if none). */
static void
relay_query_name(struct query *q, const struct frame *f, char *out,
    size_t len)
{
	struct msg_detail	m;
	struct frame		next;
	const char		*v;
	size_t			n = FRAME_HDR + f->len;

	*out = '\0';
	if (relay_frame_at(buf_ptr(&q->in) + n, buf_len(&q->in) - n,
	    &next) != 1 || next.type != MSG_DETAIL ||
	    proto_detail_parse(next.p, next.len, &m) != 0)
		return;
	if ((v = proto_detail_get(&m, "name")) != NULL)
		snprintf(out, len, "%s", v);
	proto_detail_free(&m);
}

/* Attach to session id (found by its name) or start the named one. */
static void
relay_resolved(struct relay *r, const char *id)
{
	relay_queries_free(r);
	if (id == NULL) {
		r->h.op = OP_NEW;	/* the name stays in r->h.id */
		relay_new(r);		/* still holding the name's lock */
		return;
	}
	relay_name_unlock(r);		/* the session of that name lives */
	snprintf(r->id, sizeof r->id, "%s", id);
	r->h.op = OP_ATTACH;
	r->phase = PH_CONNECT;
	r->deadline = clock_ms() + QUERY_WAIT_MS;
	r->retry_at = 0;
}

/*
 * The first query whose daemon did not answer, or -1.  For OP_OPEN that
 * is the session its name file names: a stopped or hung session of that
 * name must not get a twin.
 */
static int
relay_query_silent(struct relay *r)
{
	int	i;

	for (i = 0; i < r->nq; i++)
		if (r->q[i].state == Q_NOANSWER)
			return i;
	return -1;
}

/*
 * A name (limpet -S NAME, OP_OPEN) or an attach that named no id: the
 * session of that name (one that has not exited), else for attach the
 * only session whose id or name starts with it.  OP_OPEN starts the
 * session when none has the name.
 */
static void
relay_done_resolve(struct relay *r)
{
	struct msg_session	s;
	struct frame		f;
	char			name[PROTO_ID_LEN + 1], id[PROTO_ID_LEN + 1];
	char			pick[PROTO_ID_LEN + 1] = "", list[512] = "";
	const char		*want = r->h.id;
	size_t			wl = strlen(want);
	int			i, exact = 0, prefix = 0;

	for (i = 0; i < r->nq; i++) {
		if (!relay_query_frame(&r->q[i], MSG_SESSION, &f) ||
		    proto_session_parse(f.p, f.len, &s) != 0)
			continue;
		relay_query_name(&r->q[i], &f, name, sizeof name);
		snprintf(id, sizeof id, "%s", s.id);
		if (strcmp(name, want) == 0 && s.state != SESS_EXITED) {
			if (exact++ == 0)
				snprintf(pick, sizeof pick, "%s", id);
		} else if (exact == 0 && r->h.op == OP_ATTACH &&
		    (strncmp(id, want, wl) == 0 ||
		    strncmp(name, want, wl) == 0)) {
			if (prefix++ == 0)
				snprintf(pick, sizeof pick, "%s", id);
			if (strlen(list) + strlen(id) + 2 < sizeof list)
				snprintf(list + strlen(list), sizeof list -
				    strlen(list), "%s%s", *list != '\0' ?
				    " " : "", id);
		}
		proto_session_free(&s);
	}
	if (exact > 0 || prefix == 1)
		relay_resolved(r, pick);
	else if (r->h.op == OP_OPEN && (i = relay_query_silent(r)) >= 0)
		relay_fail(r, PERR_INTERNAL, "session %s (%s) on %s does not "
		    "answer: it is stopped or hung", want, r->q[i].id,
		    relay_host());
	else if (r->h.op == OP_OPEN)
		relay_resolved(r, NULL);
	else if (prefix == 0)
		relay_fail(r, PERR_NOSESSION, "no session %s on %s: it ended "
		    "or never existed (limpet ls shows the sessions)", want,
		    relay_host());
	else
		relay_fail(r, PERR_AMBIGUOUS, "%d sessions on %s start with "
		    "%s (%s): name one, limpet attach HOST ID", prefix,
		    relay_host(), want, list);
}

/*
 * Start what may start, give up on what is overdue, and when every
 * daemon has answered or not, answer the client.
 */
void
relay_queries_tick(struct relay *r, uint64_t now)
{
	struct query	*q;
	int		 i, open = 0;

	for (i = 0; i < r->nq; i++) {
		q = &r->q[i];
		if ((q->state == Q_RETRY || q->state == Q_WAIT) &&
		    now >= q->deadline)
			relay_query_end(r, q, Q_NOANSWER);
		else if ((q->state == Q_IDLE && r->inflight < r->cap) ||
		    (q->state == Q_RETRY && now >= q->retry_at))
			relay_query_connect(r, q, now);
		if (q->state <= Q_WAIT)
			open++;
	}
	if (open > 0)
		return;
	if (r->h.op == OP_LIST)
		relay_done_list(r);
	else if (r->h.op == OP_KILL)
		relay_done_kill(r);
	else if (r->resolved)
		relay_done_resolve(r);
	else
		relay_done_pick(r);
}

/* How long poll() may wait for the queries. */
int
relay_queries_timeout(struct relay *r, uint64_t now)
{
	struct query	*q;
	int		 i, t = -1;

	for (i = 0; i < r->nq; i++) {
		q = &r->q[i];
		if (q->state == Q_IDLE && r->inflight < r->cap)
			return 0;
		if (q->state == Q_RETRY)
			t = clock_timeout(now, q->retry_at, t);
		if (q->state == Q_RETRY || q->state == Q_WAIT)
			t = clock_timeout(now, q->deadline, t);
	}
	return t;
}

/* Forget the queries, closing what is open. */
void
relay_queries_free(struct relay *r)
{
	int	i;

	for (i = 0; i < r->nq; i++) {
		if (r->q[i].fd != -1)
			close(r->q[i].fd);
		buf_free(&r->q[i].out);
		buf_free(&r->q[i].in);
	}
	free(r->q);
	free(r->qmap);
	r->q = NULL;
	r->qmap = NULL;
	r->nq = r->inflight = 0;
}
