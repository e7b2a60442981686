/*
 * The daemon's end of forwarding.  Channels belong to the session and to
 * the client that opened them: they go on while that client is away (its
 * sockets here keep their bytes, within each channel's window) and resume
 * when it comes back; another client attaching ends them, since their
 * other ends were on the old client's machine.  A -L (or -D) channel from
 * the client connects here to its target.  -R listeners, asked for with
 * FWD_LISTEN, live as long as the session; each connection to one becomes
 * a channel to the client.  With -A the session's shell gets
 * SSH_AUTH_SOCK=<dir>/<id>.agent, a socket that lives as long as the
 * session; each connection to it becomes an agent channel to the client
 * attached now, or, with none (or one without an agent), gets the agent
 * protocol's failure answer at once.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon-fwd.h"
#include "daemon-int.h"
#include "err.h"
#include "log.h"
#include "sock.h"
#include "xmalloc.h"

/* SSH_AGENT_FAILURE as a whole agent message: length 1, type 5. */
static const uint8_t dfwd_agent_failure[] = { 0, 0, 0, 1, 5 };

/* The peer opened ch: connect a -L channel to its target. */
static int
dfwd_open(void *arg, struct chan *ch)
{
	struct dfwd	*f = arg;

	if (ch->kind != CHAN_KIND_TCP || !f->live)
		return CHAN_R_REFUSED;
	if (fwd_chan_connect(ch, ch->target) != 0) {
		log_info("channel %u: cannot connect to %s", ch->id,
		    ch->target);
		return CHAN_R_REFUSED;
	}
	log_info("channel %u: to %s", ch->id, ch->target);
	return 0;
}

/* A channel ends: close its socket. */
static void
dfwd_gone(void *arg, struct chan *ch, uint32_t why)
{
	(void)arg;
	log_info("channel %u ends: %s", ch->id, chan_reason(why));
	fwd_close_fd(ch);
}

static const struct chan_ops dfwd_ops = { dfwd_open, dfwd_gone };

/* An empty forwarding state. */
struct dfwd *
dfwd_new(void)
{
	struct dfwd	*f = xcalloc(1, sizeof *f);

	fwd_init(&f->w, CHAN_ID_DAEMON, &dfwd_ops, f);
	/*
	 * Data frames to the client's socket in batches: each write wakes
	 * the relay, and one per 32 KiB frame doubled its wakeups.
	 */
	f->w.set.wbatch = CHAN_WBATCH;
	f->agent_lfd = -1;
	return f;
}

/* Close everything. */
void
dfwd_free(struct dfwd *f)
{
	int	i;

	if (f == NULL)
		return;
	fwd_free(&f->w);
	for (i = 0; i < f->nnagent; i++)
		close(f->nagent_fd[i]);
	if (f->agent_lfd != -1)
		close(f->agent_lfd);
	free(f);
}

/* Open the agent socket (once): 0600, in the session's 0700 directory. */
static int
dfwd_agent_listen(struct daemon *d)
{
	struct dfwd	*f = d->fwd;
	int		 fd;

	if (f->agent_lfd != -1 || !f->live)
		return 0;
	if (sock_path(f->agent_path, sizeof f->agent_path, d->dir, d->id,
	    "agent") != 0)
		return ERR_TOOBIG;
	unlink(f->agent_path);
	if ((fd = sock_listen(f->agent_path)) < 0) {
		log_error("cannot listen on %s", f->agent_path);
		f->agent_path[0] = '\0';
		return fd;
	}
	f->agent_lfd = fd;
	return 0;
}

/*
 * Before the program starts: with -A its SSH_AUTH_SOCK is the session's
 * agent socket, whichever client is attached later.  Only a real daemon
 * (not the unit tests' or the fuzzer's) makes sockets and connections.
 */
int
dfwd_start(struct daemon *d, const struct msg_hello *h)
{
	d->fwd->live = 1;
	if (!(h->flags & HELLO_AGENT))
		return 0;
	if (dfwd_agent_listen(d) != 0)
		return 0;
	setenv("SSH_AUTH_SOCK", d->fwd->agent_path, 1);
	return 0;
}

/* The session ends: remove the agent socket and -R socket files. */
void
dfwd_cleanup(struct daemon *d)
{
	int	i;

	if (d->fwd == NULL)
		return;
	if (d->fwd->agent_path[0] != '\0')
		unlink(d->fwd->agent_path);
	for (i = 0; i < d->fwd->w.nspec; i++)
		if (d->fwd->w.spec[i].port[0] == '/')
			unlink(d->fwd->w.spec[i].port);
}

/*
 * A client attached (after its WELCOME was queued): the same client
 * coming back resumes its channels; another one ends them.
 */
void
dfwd_attach(struct daemon *d, const struct msg_hello *h)
{
	struct dfwd	*f = d->fwd;

	if ((h->flags & HELLO_RESUME) && h->client_id == f->client_id)
		chan_resume(&f->w.set);
	else
		chan_reset_all(&f->w.set, CHAN_R_GONE);
	f->client_id = h->client_id;
	f->version = h->version;
	f->agent = (h->flags & HELLO_AGENT) != 0;
	if (f->agent)
		dfwd_agent_listen(d);
}

/*
 * Read GatewayPorts from one sshd_config file (and, at its top level, the
 * files it Includes) into *gw unless already set; a GatewayPorts inside a
 * Match block (which could be ours) makes it DFWD_GW_NO.
 */
static void
dfwd_gw_file(const char *path, int *gw, int *matched, int depth)
{
	FILE	*f;
	glob_t	 g;
	char	 line[1024], *k, *v;
	size_t	 i;
	int	 in_match = 0;

	if (depth > 2 || (f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		for (k = line; isspace((unsigned char)*k); k++)
			;
		if (*k == '#' || *k == '\0')
			continue;
		v = k + strcspn(k, " \t=");
		if (*v != '\0')
			*v++ = '\0';
		v += strspn(v, " \t=");
		v[strcspn(v, " \t\r\n#")] = '\0';
		if (strcasecmp(k, "Match") == 0)
			in_match = 1;
		else if (strcasecmp(k, "Include") == 0 && !in_match &&
		    glob(v, 0, NULL, &g) == 0) {
			for (i = 0; i < g.gl_pathc; i++)
				dfwd_gw_file(g.gl_pathv[i], gw, matched,
				    depth + 1);
			globfree(&g);
		} else if (strcasecmp(k, "GatewayPorts") == 0 && in_match)
			*matched = 1;
		else if (strcasecmp(k, "GatewayPorts") == 0 && *gw == -1)
			*gw = strcasecmp(v, "yes") == 0 ? DFWD_GW_YES :
			    strcasecmp(v, "clientspecified") == 0 ?
			    DFWD_GW_CLIENT : DFWD_GW_NO;
	}
	fclose(f);
}

/*
 * The server's GatewayPorts, as sshd would apply it to -R: read from its
 * config ($LIMPET_SSHD_CONFIG or /etc/ssh/sshd_config; a user cannot run
 * sshd -T).  Unknown or unreadable means "no", as sshd's default.
 */
static int
dfwd_gateway_ports(void)
{
	const char	*path = getenv("LIMPET_SSHD_CONFIG");
	int		 gw = -1, matched = 0;

	dfwd_gw_file(path != NULL && *path != '\0' ? path :
	    "/etc/ssh/sshd_config", &gw, &matched, 0);
	return gw == -1 || matched ? DFWD_GW_NO : gw;
}

/*
 * Where an -R listener asked on bind listens, as sshd would: loopback
 * (NULL) unless GatewayPorts is yes (everywhere, "*") or clientspecified
 * (the client's address; "" is loopback, "*" everywhere).  Unix socket
 * paths are not addresses.
 */
static const char *
dfwd_bind(const char *bind, const char *port, int gw)
{
	if (port[0] == '/')
		return *bind != '\0' ? bind : NULL;
	if (gw == DFWD_GW_YES)
		return "*";
	if (gw == DFWD_GW_CLIENT && *bind != '\0')
		return bind;
	return NULL;
}

/* Answer FWD_LISTEN number n: 0 and "" when listening. */
static void
dfwd_result(struct daemon *d, uint32_t n, uint32_t err, const char *msg)
{
	size_t	mark;

	if (d->client == NULL || frame_begin(&d->client->out, MSG_FWD_RESULT,
	    &mark) != 0)
		return;
	if (buf_put_u32(&d->client->out, n) != 0 ||
	    buf_put_u32(&d->client->out, err) != 0 ||
	    buf_put_str(&d->client->out, msg) != 0) {
		frame_abort(&d->client->out, mark, ERR_FULL);
		return;
	}
	frame_end(&d->client->out, mark);
}

/*
 * FWD_LIST: tell the client every -R listener of the session, also those
 * other clients asked for (they live with the session), with the
 * connections each had, for ~#.
 */
static int
dfwd_list_frame(struct daemon *d, const struct frame *fr)
{
	struct dfwd	*f = d->fwd;
	struct buf	*b;
	size_t		 mark;
	uint32_t	 n = 0;
	int		 i;

	if (fr->len != 0)
		return ERR_FORMAT;
	if (d->client == NULL)
		return 0;
	b = &d->client->out;
	for (i = 0; i < f->w.nspec; i++)
		n += f->w.spec[i].type == 'R';
	if (frame_begin(b, MSG_FWD_LISTED, &mark) != 0)
		return 0;
	if (buf_put_u32(b, n) != 0)
		goto full;
	for (i = 0; i < f->w.nspec; i++) {
		if (f->w.spec[i].type != 'R')
			continue;
		if (buf_put_str(b, f->w.spec[i].text) != 0 ||
		    buf_put_u64(b, f->w.spec[i].conns) != 0)
			goto full;
	}
	frame_end(b, mark);
	return 0;
full:
	frame_abort(b, mark, ERR_FULL);
	return 0;
}

/* The -R listener for bind, port and target, if the session has it. */
static int
dfwd_find_spec(struct dfwd *f, const char *bind, const char *port,
    const char *target)
{
	struct fwd_spec	*s;
	int		 i;

	for (i = 0; i < f->w.nspec; i++) {
		s = &f->w.spec[i];
		if (strcmp(s->bind != NULL ? s->bind : "",
		    bind != NULL ? bind : "") == 0 &&
		    strcmp(s->port, port) == 0 &&
		    strcmp(s->target, target) == 0)
			return i;
	}
	return -1;
}

/*
 * FWD_LISTEN (-R): listen on the server for the session's lifetime.  A
 * listener the session already has (the same client again, or another
 * with the same -R) is kept.  The answer says whether it works.
 */
static int
dfwd_listen_frame(struct daemon *d, const struct frame *fr)
{
	struct dfwd	*f = d->fwd;
	struct fwd_spec	*s;
	struct cur	 c;
	uint32_t	 n;
	char		*bind = NULL, *port = NULL, *target = NULL, err[512];
	const char	*on;
	int		 r = ERR_FORMAT;

	cur_init(&c, fr->p, fr->len);
	if (cur_get_u32(&c, &n) != 0 ||
	    cur_get_str(&c, &bind, 256) != 0 ||
	    cur_get_str(&c, &port, 108) != 0 ||
	    cur_get_str(&c, &target, CHAN_TARGET_MAX) != 0 || !cur_end(&c) ||
	    *port == '\0' || *target == '\0')
		goto out;
	r = 0;
	on = dfwd_bind(bind, port, dfwd_gateway_ports());
	if (dfwd_find_spec(f, on, port, target) != -1) {
		dfwd_result(d, n, 0, "");
		goto out;
	}
	if (f->w.nspec == FWD_MAX_SPECS || !f->live) {
		dfwd_result(d, n, 1, "too many -R forwards in this session");
		goto out;
	}
	s = &f->w.spec[f->w.nspec];
	memset(s, 0, sizeof *s);
	s->type = 'R';
	xasprintf(&s->text, "%s%s%s:%s", bind, *bind != '\0' ? ":" : "",
	    port, target);
	s->bind = on != NULL ? xstrdup(on) : NULL;
	s->port = xstrdup(port);
	s->target = xstrdup(target);
	if (fwd_listen(s, err, sizeof err) != 0) {
		fwd_spec_free(s);
		dfwd_result(d, n, 1, err);
		goto out;
	}
	f->w.nspec++;
	log_info("-R %s: listening%s%s", s->text, err[0] != '\0' ? "; " : "",
	    err);
	dfwd_result(d, n, 0, "");
out:
	free(bind);
	free(port);
	free(target);
	return r;
}

/* The client left on purpose: its channels end with it. */
void
dfwd_detached(struct daemon *d)
{
	chan_reset_all(&d->fwd->w.set, CHAN_R_GONE);
	d->fwd->client_id = 0;
}

/* A channel frame from the attached client; <0 drops that client. */
int
dfwd_frame(struct daemon *d, const struct frame *f)
{
	if (d->fwd->version < PROTO_V_CHAN)
		return ERR_FORMAT;
	if (f->type == MSG_FWD_LISTEN)
		return dfwd_listen_frame(d, f);
	if (f->type == MSG_FWD_LIST)
		return dfwd_list_frame(d, f);
	return fwd_frame(&d->fwd->w, f->type, f->p, f->len);
}

/*
 * An -R listener has a connection: it becomes a channel to the client,
 * which connects it to the target.  With no client attached it waits up
 * to DFWD_RWAIT_MS for one (a reconnect), then is closed.
 */
static void
dfwd_r_accept(struct dfwd *f, int spec, int lfd, uint64_t now)
{
	struct chan	*ch;

	if ((ch = fwd_chan_accept(&f->w, spec, lfd)) != NULL)
		ch->born = now;
}

/* Close -R connections that waited too long for a client. */
static void
dfwd_r_expire(struct dfwd *f, uint64_t now)
{
	struct chan	*ch;
	int		 i;

	for (i = f->w.set.n - 1; i >= 0; i--) {
		ch = f->w.set.ch[i];
		if (ch->mine && !ch->open_sent && ch->born != 0 &&
		    now >= ch->born + DFWD_RWAIT_MS) {
			log_info("channel %u: no client attached", ch->id);
			chan_reset(&f->w.set, ch, CHAN_R_REFUSED);
		}
	}
}

/*
 * Send channel frames to the attached client, after the terminal's:
 * channel data only while its queue is short, so keystrokes and output
 * never wait behind much forwarded data.  Finished channels are freed.
 */
void
dfwd_pump(struct daemon *d, uint64_t now)
{
	struct peer	*p = d->client;

	dfwd_r_expire(d->fwd, now);
	if (p == NULL || p->closing || p->dead ||
	    d->fwd->version < PROTO_V_CHAN) {
		fwd_pump(&d->fwd->w, NULL);
		if (p != NULL)
			p->wwait = 0;
	} else {
		/* Output's least round trip: the path without our queue. */
		chan_set_link_rtt(&d->fwd->w.set, d->flow.min_rtt_t != 0 ?
		    d->flow.min_rtt : 0);
		/*
		 * Data goes from the channels' rings straight to the
		 * client's socket behind what p->out holds (fwd_pump_to()):
		 * no copy through the queue.  A full socket is polled for
		 * room (wwait); bytes it took are progress.
		 */
		d->fwd->w.set.wrote = 0;
		fwd_pump_to(&d->fwd->w, &p->out, peer_wfd(p));
		if (d->fwd->w.set.wrote > 0)
			p->tx_ok = now;
		p->wwait = fwd_write_wait(&d->fwd->w);
		if (p->wwait)
			peer_wfull(p, now);
	}
}

/* Answer an agent connection with failure; drained, then closed. */
static void
dfwd_no_agent(struct dfwd *f, int fd, uint64_t now)
{
	if (f->nnagent == DFWD_NOAGENT_MAX ||
	    write(fd, dfwd_agent_failure, sizeof dfwd_agent_failure) !=
	    (ssize_t)sizeof dfwd_agent_failure) {
		close(fd);
		return;
	}
	shutdown(fd, SHUT_WR);
	f->nagent_fd[f->nnagent] = fd;
	f->nagent_end[f->nnagent++] = now + DFWD_NOAGENT_MS;
}

/* Accept agent connections: relay each to the client, or fail it. */
static void
dfwd_agent_accept(struct daemon *d, uint64_t now)
{
	struct dfwd	*f = d->fwd;
	struct chan	*ch;
	int		 fd, n = 0;

	while (n++ < 16 && (fd = fwd_accept(f->agent_lfd)) != -1) {
		if (sock_peer_ok(fd) != 0) {
			log_error("refused an agent connection from another "
			    "user");
			close(fd);
			continue;
		}
		if (d->client == NULL || !f->agent ||
		    f->version < PROTO_V_CHAN ||
		    (ch = chan_open(&f->w.set, CHAN_KIND_AGENT, "")) == NULL) {
			dfwd_no_agent(f, fd, now);
			continue;
		}
		ch->fd = fd;
	}
}

/* Drain (and then close) the failure answers. */
static void
dfwd_noagent_io(struct dfwd *f, int i, short rev, uint64_t now)
{
	char	tmp[4096];
	ssize_t	n = 1;

	if (rev & (POLLIN | POLLHUP | POLLERR))
		n = read(f->nagent_fd[i], tmp, sizeof tmp);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR) ||
	    now >= f->nagent_end[i]) {
		close(f->nagent_fd[i]);
		f->nagent_fd[i] = -1;
	}
}

/* Add the forwarding entries to the daemon's poll set at pfd[n]. */
int
dfwd_poll(struct daemon *d, struct pollfd *pfd, int n, uint64_t now)
{
	struct dfwd	*f = d->fwd;
	int		 i, k;

	(void)now;
	for (i = 0, k = 0; i < f->nnagent; i++) {
		if (f->nagent_fd[i] == -1)
			continue;
		f->nagent_fd[k] = f->nagent_fd[i];
		f->nagent_end[k++] = f->nagent_end[i];
	}
	f->nnagent = k;
	f->base = n;
	k = fwd_poll_fill(&f->w, pfd + n, 0);
	if (f->agent_lfd != -1)
		fwd_poll_add(&f->w, pfd + n, &k, FWD_SLOT_OTHER,
		    f->agent_lfd, POLLIN);
	f->w.nslot = k;
	for (i = 0; i < f->nnagent; i++)
		pfd[n + k++] = (struct pollfd){ f->nagent_fd[i], POLLIN, 0 };
	f->npfd = k;
	return n + k;
}

/* Handle what poll() said about the forwarding entries. */
void
dfwd_ready(struct daemon *d, struct pollfd *pfd, uint64_t now)
{
	struct dfwd	*f = d->fwd;
	struct pollfd	*q = pfd + f->base;
	int		 i, nfw = f->w.nslot, na = f->nnagent;

	for (i = 0; i < nfw; i++) {
		if (q[i].revents == 0 || fwd_slot_chan(&f->w, &q[i], i))
			continue;
		if (f->w.slot[i].what == FWD_SLOT_OTHER)
			dfwd_agent_accept(d, now);
		else if (f->w.slot[i].what == FWD_SLOT_LISTEN)
			dfwd_r_accept(f, f->w.slot[i].spec, q[i].fd, now);
	}
	for (i = 0; i < na && nfw + i < f->npfd; i++)
		dfwd_noagent_io(f, i, q[nfw + i].revents, now);
}

/* The next time the forwarding has something to do (0: nothing). */
uint64_t
dfwd_deadline(const struct daemon *d)
{
	struct chan	*ch;
	struct peer	*p;
	uint64_t	 t = 0, due;
	int		 i;

	for (i = 0; i < d->fwd->nnagent; i++)
		if (t == 0 || d->fwd->nagent_end[i] < t)
			t = d->fwd->nagent_end[i];
	p = d->client;
	due = fwd_deadline(&d->fwd->w, p != NULL && !p->closing && !p->dead &&
	    d->fwd->version >= PROTO_V_CHAN);
	if (due != 0 && (t == 0 || due < t))
		t = due;
	for (i = 0; i < d->fwd->w.set.n; i++) {
		ch = d->fwd->w.set.ch[i];
		if (ch->mine && !ch->open_sent && ch->born != 0 &&
		    (t == 0 || ch->born + DFWD_RWAIT_MS < t))
			t = ch->born + DFWD_RWAIT_MS;
	}
	return t;
}
