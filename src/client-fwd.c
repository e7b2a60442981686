/*
 * The client's end of forwarding.  limpet serves -L, -R, -D and -A itself
 * (and their ssh config keywords, read with ssh -G), as channels inside
 * the session's link, so that they survive reconnects: they are taken out
 * of the options given to each short-lived ssh, which also gets
 * ClearAllForwardings=yes and -a so that nothing is set up twice.  -L and
 * -D listeners are opened once, before the first connection, and live as
 * long as the client; each connection accepted becomes a channel that the
 * daemon connects to the target (-D after SOCKS, client-socks.c).  -R
 * listeners are asked of the daemon after every WELCOME; their channels,
 * and agent channels, are opened by the daemon and connected here to the
 * -R target or this machine's SSH_AUTH_SOCK.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client-fwd.h"
#include "client-int.h"
#include "clock.h"
#include "cmdline.h"
#include "compat.h"
#include "err.h"
#include "log.h"
#include "proc.h"
#include "xmalloc.h"

/*
 * The daemon opened a TCP channel: a connection to one of our -R
 * listeners on the server, to be connected to that forward's target here
 * (and nowhere else).
 */
static int
cfwd_open_r(struct cfwd *f, struct chan *ch)
{
	int	i;

	for (i = 0; i < f->w.nspec; i++) {
		if (f->w.spec[i].type == 'R' &&
		    strcmp(f->w.spec[i].target, ch->target) == 0)
			break;
	}
	if (i == f->w.nspec || fwd_chan_connect(ch, ch->target) != 0)
		return CHAN_R_REFUSED;
	ch->spec = i;
	f->w.spec[i].conns++;
	return 0;
}

/* The daemon opened ch: an agent connection, relayed to ours. */
static int
cfwd_open(void *arg, struct chan *ch)
{
	struct cfwd	*f = arg;
	const char	*sock = getenv("SSH_AUTH_SOCK");

	if (ch->kind == CHAN_KIND_TCP)
		return cfwd_open_r(f, ch);
	if (ch->kind != CHAN_KIND_AGENT)
		return CHAN_R_REFUSED;
	if (!f->agent || sock == NULL || *sock != '/' ||
	    fwd_chan_connect(ch, sock) != 0)
		return CHAN_R_NOAGENT;
	return 0;
}

/* A channel ends: close its socket. */
static void
cfwd_gone(void *arg, struct chan *ch, uint32_t why)
{
	(void)arg;
	debug_f("channel %u ends: %s", ch->id, chan_reason(why));
	fwd_close_fd(ch);
}

static const struct chan_ops cfwd_ops = { cfwd_open, cfwd_gone };

/* An empty forwarding state. */
struct cfwd *
cfwd_new(void)
{
	struct cfwd	*f = xcalloc(1, sizeof *f);

	fwd_init(&f->w, 0, &cfwd_ops, f);
	proc_init(&f->cfg);
	f->cfg_slot = -1;
	return f;
}

/* Close every listener and channel. */
void
cfwd_free(struct cfwd *f)
{
	int	i;

	if (f == NULL)
		return;
	if (f->cfg_running)
		proc_stop(&f->cfg, 0);
	free(f->cfg_out);
	free(f->ciphers);
	fwd_free(&f->w);
	for (i = 0; i < f->nsocks; i++)
		close(f->socks[i].fd);
	for (i = 0; i < f->nopts; i++)
		free(f->opts[i]);
	free(f->opts);
	free(f);
}

/* Record one -L/-R/-D argument. */
static int
cfwd_add_spec(struct cfwd *f, int type, const char *arg, char *err,
    size_t errlen)
{
	if (f->w.nspec == FWD_MAX_SPECS) {
		snprintf(err, errlen, "too many forwards (at most %d)",
		    FWD_MAX_SPECS);
		return ERR_USAGE;
	}
	if (fwd_parse(arg, type, &f->w.spec[f->w.nspec], err, errlen) != 0)
		return ERR_USAGE;
	f->w.nspec++;
	return 0;
}

/* Note -o ExitOnForwardFailure=yes (either spelling of -o). */
static void
cfwd_note_o(struct cfwd *f, const char *v)
{
	static const char	key[] = "ExitOnForwardFailure";
	size_t			n = sizeof key - 1;

	if (strncasecmp(v, key, n) != 0)
		return;
	v += n;
	v += strspn(v, " \t=");
	f->exit_on_failure = strcasecmp(v, "yes") == 0;
}

/*
 * Take one ssh option word (and its argument, the next word, if the
 * letter needing it ends the word) apart: forwarding letters are kept
 * here, the rest is passed on to ssh.  Returns the words used.
 */
static int
cfwd_word(struct cfwd *f, char **v, int left, char *err, size_t errlen)
{
	const char	*a = v[0], *arg;
	char		 keep[256];
	size_t		 n = 1;
	int		 k, used = 1;

	if (a[0] != '-' || strlen(a) >= sizeof keep) {
		f->opts[f->nopts++] = xstrdup(a);
		return 1;
	}
	keep[0] = '-';
	for (k = 1; a[k] != '\0'; k++) {
		if (a[k] == 'A' || a[k] == 'a') {
			f->agent = f->agent_cli = a[k] == 'A';
			continue;
		}
		if (!cmdline_ssh_takes_arg(a[k])) {
			keep[n++] = a[k];
			continue;
		}
		arg = a[k + 1] != '\0' ? a + k + 1 : left > 1 ? v[1] : "";
		if (a[k + 1] == '\0')
			used = 2;
		if (strchr("LRD", a[k]) != NULL) {
			if (cfwd_add_spec(f, a[k], arg, err, errlen) != 0)
				return -1;
			break;
		}
		if (a[k] == 'o')
			cfwd_note_o(f, arg);
		memcpy(keep + n, a + k, strlen(a + k));
		n += strlen(a + k);
		break;
	}
	keep[n] = '\0';
	if (n > 1)
		f->opts[f->nopts++] = xstrdup(keep);
	if (used == 2 && strchr("LRD", a[k]) == NULL)
		f->opts[f->nopts++] = xstrdup(v[1]);
	return used;
}

/*
 * Split the user's ssh options: limpet serves -L and -A; each ssh gets
 * the rest, after ClearAllForwardings=yes and -a (first, so that a
 * forward in the user's ssh config is not set up by every ssh too).
 */
int
cfwd_options(struct client *c, char *err, size_t errlen)
{
	struct cfwd	*f = c->fwd;
	int		 i, u;

	f->agent_cli = -1;
	f->opts = xcalloc(c->ssh.nopts + 3, sizeof *f->opts);
	f->opts[f->nopts++] = xstrdup("-oClearAllForwardings=yes");
	f->opts[f->nopts++] = xstrdup("-a");
	for (i = 0; i < c->ssh.nopts; i += u) {
		if ((u = cfwd_word(f, c->ssh.opts + i, c->ssh.nopts - i, err,
		    errlen)) < 0)
			return ERR_USAGE;
	}
	c->ssh.opts = f->opts;
	c->ssh.nopts = f->nopts;
	return 0;
}

/* One line of ssh -G: a forward or a setting forwarding cares about. */
static void
cfwd_config_line(struct cfwd *f, char *line, int *cleared)
{
	static const char	*keys[] = { "localforward", "remoteforward",
				    "dynamicforward" };
	char			*v = strchr(line, ' '), *w;
	char			 spec[1100], err[256];
	int			 i;

	if (v == NULL)
		return;
	*v++ = '\0';
	if (strcmp(line, "clearallforwardings") == 0)
		*cleared = strcmp(v, "yes") == 0;
	else if (strcmp(line, "exitonforwardfailure") == 0)
		f->exit_on_failure = strcmp(v, "yes") == 0;
	else if (strcmp(line, "forwardagent") == 0 && f->agent_cli == -1)
		f->agent = strcmp(v, "no") != 0;
	else if (strcmp(line, "ciphers") == 0) {
		free(f->ciphers);
		f->ciphers = xstrdup(v);
	}
	for (i = 0; i < 3; i++) {
		if (strcmp(line, keys[i]) != 0 || *cleared)
			continue;
		/* "listen target" becomes ssh's "listen:target". */
		if ((w = strchr(v, ' ')) != NULL)
			*w = ':';
		snprintf(spec, sizeof spec, "%s", v);
		if (cfwd_add_spec(f, "LRD"[i], spec, err, sizeof err) != 0)
			fprintf(stderr, "limpet: ssh config: %s\n", err);
	}
}

/*
 * Start reading the forwards of the user's ssh configuration
 * (LocalForward, RemoteForward, DynamicForward, ForwardAgent,
 * ExitOnForwardFailure) as `ssh -G` reads them for this destination and
 * these options.  Its ssh children do not set them up
 * (ClearAllForwardings): limpet does.  `ssh -G` runs beside the first
 * connection's ssh, not before it (it takes 10-15 ms, a tenth of a local
 * connection's setup), and the first HELLO waits for it (cfwd_pending):
 * ForwardAgent decides one of its flags.  0, or -1 if it cannot run.
 */
static int
cfwd_config_start(struct client *c)
{
	static const int how[3] = { PROC_NULL, PROC_PIPE, PROC_NULL };
	struct cfwd	*f = c->fwd;
	char		**argv;
	int		 i, k = 0, r;

	if (c->ssh.dest == NULL)
		return -1;
	argv = xcalloc(f->nopts + 4, sizeof *argv);
	argv[k++] = (char *)c->ssh.prog;
	argv[k++] = (char *)"-G";
	for (i = 2; i < f->nopts; i++)	/* not ClearAllForwardings, -a */
		argv[k++] = f->opts[i];
	argv[k++] = (char *)c->ssh.dest;
	proc_init(&f->cfg);
	r = proc_spawn(&f->cfg, argv, how, PROC_NONBLOCK);
	free(argv);
	if (r != 0)
		return -1;
	f->cfg_out = xmalloc(CFWD_CONFIG_MAX);
	f->cfg_len = 0;
	f->cfg_deadline = clock_ms() + CFWD_CONFIG_MS;
	f->cfg_running = 1;
	return 0;
}

/*
 * Apply what `ssh -G` printed, if it ran and ended well.  Best effort: an
 * ssh that cannot say leaves the command line's forwards alone.  The
 * user's own ClearAllForwardings=yes (config or -o) clears every forward,
 * the command line's too, as it does for ssh.
 */
static void
cfwd_config_apply(struct cfwd *f)
{
	char	*line, *nl;
	int	 i, cleared = 0;

	if (f->cfg_out == NULL || f->cfg.status != 0)
		return;
	f->cfg_out[f->cfg_len] = '\0';
	for (line = f->cfg_out; (nl = strchr(line, '\n')) != NULL;
	    line = nl + 1) {
		*nl = '\0';
		cfwd_config_line(f, line, &cleared);
	}
	if (cleared) {
		for (i = 0; i < f->w.nspec; i++)
			fwd_spec_free(&f->w.spec[i]);
		f->w.nspec = 0;
	}
}

/* Whether AES-GCM runs in hardware here (a test may say). */
static int
cfwd_cpu_aes_gcm(void)
{
#ifdef LIMPET_TEST_HOOKS
	const char	*s = getenv("LIMPET_TEST_CPU_AES_GCM");

	if (s != NULL)
		return strcmp(s, "1") == 0;
#endif
	return compat_cpu_aes_gcm();
}

/*
 * The configuration's cipher list is ssh's default and the CPU runs
 * AES-GCM in hardware: every ssh from now on puts AES-GCM first
 * (ssh_cipher_option() says why and when not).  Not a forward, but this
 * is where `ssh -G` is read.
 */
static void
cfwd_cipher(struct client *c)
{
	struct cfwd	*f = c->fwd;
	char		*o;

	if ((o = ssh_cipher_option(f->ciphers, cfwd_cpu_aes_gcm())) == NULL)
		return;
	debug_f("ssh's default cipher order, AES-GCM first: %s", o);
	f->opts = xreallocarray(f->opts, f->nopts + 1, sizeof *f->opts);
	f->opts[f->nopts++] = o;
	c->ssh.opts = f->opts;
	c->ssh.nopts = f->nopts;
}

/*
 * Open the -L and -D listeners.  One that cannot listen says so in one
 * line; with ExitOnForwardFailure that ends limpet (255), as with ssh.
 */
static int
cfwd_listen(struct client *c)
{
	struct cfwd	*f = c->fwd;
	char		 err[512];
	int		 i, failed = 0;

	for (i = 0; i < f->w.nspec; i++) {
		if (f->w.spec[i].type == 'R')
			continue;	/* the daemon listens */
		if (fwd_listen(&f->w.spec[i], err, sizeof err) != 0)
			failed = 1;
		if (err[0] != '\0')
			fprintf(stderr, "limpet: %s\n", err);
	}
	if (failed && f->exit_on_failure) {
		fprintf(stderr, "limpet: exiting: a forward failed and "
		    "ExitOnForwardFailure is set\n");
		return 255;
	}
	return 0;
}

/*
 * The configuration is known (or given up on): apply it, open the
 * listeners and let the first HELLO go.  Returns as cfwd_listen().
 */
static int
cfwd_config_done(struct client *c)
{
	struct cfwd	*f = c->fwd;
	int		 r;

	if (f->cfg.pid > 0) {	/* too slow: without it, as if it failed */
		debug_f("ssh -G took over %d ms: the config's forwards are "
		    "left out", CFWD_CONFIG_MS);
		proc_stop(&f->cfg, 0);
		f->cfg.status = -1;
	}
	proc_close(&f->cfg);
	cfwd_config_apply(f);
	cfwd_cipher(c);
	free(f->cfg_out);
	f->cfg_out = NULL;
	f->cfg_running = 0;
	if ((r = cfwd_listen(c)) == 0)
		client_config_known(c);
	return r;
}

/* In the loop: done once ssh -G's output ended and it was reaped. */
static void
cfwd_config_check(struct client *c)
{
	struct cfwd	*f = c->fwd;

	if (!f->cfg_running || f->cfg.fd[1] != -1 || proc_reap(&f->cfg) == 0)
		return;
	if (cfwd_config_done(c) != 0)
		client_finish(c, 255);
}

/* Read what ssh -G prints, to its end (or CFWD_CONFIG_MAX). */
static void
cfwd_config_read(struct client *c)
{
	struct cfwd	*f = c->fwd;
	ssize_t		 n;

	n = read(f->cfg.fd[1], f->cfg_out + f->cfg_len,
	    CFWD_CONFIG_MAX - 1 - f->cfg_len);
	if (n > 0)
		f->cfg_len += (size_t)n;
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR) ||
	    f->cfg_len == CFWD_CONFIG_MAX - 1) {
		close(f->cfg.fd[1]);
		f->cfg.fd[1] = -1;
		cfwd_config_check(c);
	}
}

/* SIGCHLD: ssh -G may have ended. */
void
cfwd_sigchld(struct client *c)
{
	cfwd_config_check(c);
}

/* True while the first HELLO must wait for the configuration. */
int
cfwd_pending(const struct client *c)
{
	return c->fwd != NULL && c->fwd->cfg_running;
}

/*
 * Before the loop: start reading the configuration, or, if ssh -G cannot
 * run, open the command line's listeners at once.  0, or 255 to exit.
 */
int
cfwd_start(struct client *c)
{
	if (cfwd_config_start(c) == 0)
		return 0;
	return cfwd_config_done(c);
}

/* HELLO flags forwarding adds. */
uint8_t
cfwd_hello_flags(const struct client *c)
{
	return c->fwd->agent && getenv("SSH_AUTH_SOCK") != NULL ?
	    HELLO_AGENT : 0;
}

/*
 * WELCOME arrived: channel frames may flow if the daemon knows them; on
 * a reconnect to the same session every channel resumes.
 */
void
cfwd_welcome(struct client *c, uint32_t version, int resumed)
{
	struct cfwd	*f = c->fwd;

	f->version = version;
	f->listen_due = 1;
	f->rtt_min = f->rtt_seen = 0;	/* a new path: learnt anew */
	chan_set_link_rtt(&f->w.set, 0);
	if (resumed)
		chan_resume(&f->w.set);
}

/* Ask the daemon for the -R listeners (again: it keeps those it has). */
static void
cfwd_ask_listen(struct client *c)
{
	struct cfwd	*f = c->fwd;
	struct fwd_spec	*s;
	size_t		 mark;
	int		 i;

	for (i = 0; i < f->w.nspec; i++) {
		s = &f->w.spec[i];
		if (s->type != 'R')
			continue;
		if (frame_begin(&c->tx, MSG_FWD_LISTEN, &mark) != 0)
			return;
		if (buf_put_u32(&c->tx, (uint32_t)i) != 0 ||
		    buf_put_str(&c->tx, s->bind != NULL ? s->bind : "") != 0 ||
		    buf_put_str(&c->tx, s->port) != 0 ||
		    buf_put_str(&c->tx, s->target) != 0) {
			frame_abort(&c->tx, mark, ERR_FULL);
			return;
		}
		frame_end(&c->tx, mark);
	}
	f->listen_due = 0;
}

/* FWD_RESULT: an -R listener that failed is reported once. */
static int
cfwd_result(struct client *c, const struct frame *fr)
{
	struct cfwd	*f = c->fwd;
	struct cur	 cu;
	uint32_t	 n, err;
	char		*msg, safe[600];

	cur_init(&cu, fr->p, fr->len);
	if (cur_get_u32(&cu, &n) != 0 || cur_get_u32(&cu, &err) != 0 ||
	    cur_get_str(&cu, &msg, PROTO_MAX_STR) != 0)
		return ERR_FORMAT;
	if (!cur_end(&cu) || n >= (uint32_t)f->w.nspec) {
		free(msg);
		return ERR_FORMAT;
	}
	if (err != 0 && !f->told[n]) {
		f->told[n] = 1;
		out_safe(safe, sizeof safe, msg);
		if (f->exit_on_failure)
			client_finish_msg(c, 255, "-R %s: %s (and "
			    "ExitOnForwardFailure is set)", f->w.spec[n].text,
			    safe);
		else
			client_local(c, "\r\n[limpet: -R %s: %s]\r\n",
			    f->w.spec[n].text, safe);
	}
	free(msg);
	return 0;
}

/*
 * FWD_LISTED: the session's -R listeners on the server, those of every
 * client that asked for one (the end of ~#).
 */
static int
cfwd_listed(struct client *c, const struct frame *fr)
{
	struct cur	 cu;
	uint32_t	 n, i;
	uint64_t	 conns;
	char		*text, safe[600];

	cur_init(&cu, fr->p, fr->len);
	if (cur_get_u32(&cu, &n) != 0 || n > FWD_MAX_SPECS)
		return ERR_FORMAT;
	client_local(c, "\r\nlimpet: the session listens on the server "
	    "for:\r\n");
	if (n == 0)
		client_local(c, "  no -R forward\r\n");
	for (i = 0; i < n; i++) {
		if (cur_get_str(&cu, &text, PROTO_MAX_STR) != 0)
			return ERR_FORMAT;
		if (cur_get_u64(&cu, &conns) != 0) {
			free(text);
			return ERR_FORMAT;
		}
		out_safe(safe, sizeof safe, text);
		free(text);
		client_local(c, "  -R %s  (%llu connection%s)\r\n", safe,
		    (unsigned long long)conns, conns == 1 ? "" : "s");
	}
	return cur_end(&cu) ? 0 : ERR_FORMAT;
}

/* A channel frame from the daemon; <0: a protocol error. */
int
cfwd_frame(struct client *c, const struct frame *fr)
{
	if (c->fwd->version < PROTO_V_CHAN)
		return ERR_FORMAT;
	if (fr->type == MSG_FWD_RESULT)
		return cfwd_result(c, fr);
	if (fr->type == MSG_FWD_LISTED)
		return cfwd_listed(c, fr);
	return fwd_frame(&c->fwd->w, fr->type, fr->p, fr->len);
}

/*
 * The least round trip of this link's PINGs (ms, so 0 on a fast one:
 * half of one is counted) is the channels' base round trip: the PINGs
 * of a quiet link wait behind no forwarded data.
 */
static void
cfwd_link_rtt(struct client *c)
{
	struct cfwd	*f = c->fwd;
	uint64_t	 us;

	if (c->ping_out || c->ping_at == 0 || c->ping_at == f->rtt_seen)
		return;
	f->rtt_seen = c->ping_at;
	us = c->rtt_last != 0 ? c->rtt_last * 1000 : 500;
	if (f->rtt_min == 0 || us < f->rtt_min) {
		f->rtt_min = us;
		chan_set_link_rtt(&f->w.set, us);
	}
}

/*
 * Queue channel frames behind the terminal's: channel data only while
 * the queue to ssh is short.
 */
void
cfwd_pump(struct client *c)
{
	struct cfwd	*f = c->fwd;
	uint64_t	 now;

	if (c->state != ST_UP || f->version < PROTO_V_CHAN) {
		fwd_pump(&f->w, NULL);
		return;
	}
	if (f->listen_due)
		cfwd_ask_listen(c);
	/*
	 * Forwarded data wants an answer as typed input does: a PING makes
	 * a link that died under a transfer known within --dead.  One each
	 * FWD_PING_MS is enough (a PONG per round trip wakes every process
	 * of the link for nothing).
	 */
	cfwd_link_rtt(c);
	/*
	 * Data goes from the channels' rings straight into ssh's pipe
	 * (fwd_pump_to()), behind the queued frames: no copy through c->tx.
	 */
	f->w.set.wrote = 0;
	fwd_pump_to(&f->w, &c->tx, c->proc.in);
	now = clock_ms();
	if (f->w.set.wrote > 0)
		c->last_tx = now;
	if (chan_inflight(&f->w.set) > 0 && now >= c->ping_at + FWD_PING_MS)
		client_ping(c, now);
}

/* True if channel data waits for room in ssh's pipe: poll it. */
int
cfwd_write_wait(struct client *c)
{
	return c->state == ST_UP && fwd_write_wait(&c->fwd->w);
}

/* When forwarding next needs a turn (ms): a delayed ACK, a PING. */
uint64_t
cfwd_deadline(struct client *c)
{
	struct cfwd	*f = c->fwd;
	int		 up = c->state == ST_UP && f->version >= PROTO_V_CHAN;
	uint64_t	 t = fwd_deadline(&f->w, up), p;

	if (f->cfg_running && (t == 0 || f->cfg_deadline < t))
		t = f->cfg_deadline;

	if (up && !c->ping_out && chan_inflight(&f->w.set) > 0) {
		p = c->ping_at + FWD_PING_MS;
		if (t == 0 || p < t)
			t = p;
	}
	return t;
}

/* Add the listeners and channel sockets to the poll set at pfd[n]. */
int
cfwd_poll(struct client *c, struct pollfd *pfd, int n)
{
	struct cfwd	*f = c->fwd;
	int		 i;

	f->cfg_slot = -1;
	if (f->cfg_running && f->cfg.fd[1] != -1) {
		f->cfg_slot = n;
		pfd[n++] = (struct pollfd){ f->cfg.fd[1], POLLIN, 0 };
	}
	f->base = n;
	n += fwd_poll_fill(&f->w, pfd + n, 0);
	for (i = 0; i < f->nsocks; i++)
		pfd[n++] = (struct pollfd){ f->socks[i].fd, POLLIN, 0 };
	f->nsocks_polled = f->nsocks;
	return n;
}

/* Handle what poll() said about the forwarding entries. */
void
cfwd_ready(struct client *c, struct pollfd *pfd)
{
	struct cfwd	*f = c->fwd;
	struct pollfd	*q = pfd + f->base;
	uint64_t	 now = clock_ms();
	int		 i, k;

	if (f->cfg_slot != -1 && pfd[f->cfg_slot].revents != 0 &&
	    f->cfg.fd[1] == pfd[f->cfg_slot].fd)
		cfwd_config_read(c);
	if (f->cfg_running && now >= f->cfg_deadline &&
	    cfwd_config_done(c) != 0) {
		client_finish(c, 255);
		return;
	}
	/* Pending SOCKS connections first: accepting may add some. */
	for (i = f->nsocks_polled - 1; i >= 0; i--) {
		k = f->w.nslot + i;
		if (i < f->nsocks && f->socks[i].fd == q[k].fd &&
		    (q[k].revents != 0 || now >= f->socks[i].deadline))
			csocks_read(f, i, now);
	}
	for (i = 0; i < f->w.nslot; i++) {
		if (q[i].revents == 0 || fwd_slot_chan(&f->w, &q[i], i))
			continue;
		/* A -L listener's connection becomes a channel. */
		if (f->w.slot[i].what == FWD_SLOT_LISTEN &&
		    f->w.spec[f->w.slot[i].spec].type == 'D')
			csocks_accept(f, f->w.slot[i].spec, q[i].fd, now);
		else if (f->w.slot[i].what == FWD_SLOT_LISTEN)
			fwd_chan_accept(&f->w, f->w.slot[i].spec, q[i].fd);
	}
}

static void	cfwd_ask_list(struct client *);

/* ~#: the forwards, then each open connection with its bytes each way. */
void
cfwd_list(struct client *c)
{
	struct cfwd	*f = c->fwd;
	struct fwd_spec	*s;
	struct chan	*ch;
	char		 safe[CHAN_TARGET_MAX + 1], what[CHAN_TARGET_MAX + 32];
	int		 i;

	client_local(c, "\r\nlimpet forwards:\r\n");
	if (f->w.nspec == 0 && !f->agent)
		client_local(c, "  none\r\n");
	for (i = 0; i < f->w.nspec; i++) {
		s = &f->w.spec[i];
		client_local(c, "  -%c %s  (%llu connection%s)\r\n", s->type,
		    s->text, (unsigned long long)s->conns,
		    s->conns == 1 ? "" : "s");
	}
	if (f->agent)
		client_local(c, "  -A  agent %s\r\n",
		    getenv("SSH_AUTH_SOCK") != NULL ? "relayed" :
		    "not relayed: SSH_AUTH_SOCK is not set");
	for (i = 0; i < f->w.set.n; i++) {
		ch = f->w.set.ch[i];
		out_safe(safe, sizeof safe, ch->target);
		if (ch->kind == CHAN_KIND_AGENT)
			snprintf(what, sizeof what, "-A agent");
		else if (ch->spec >= 0 && ch->spec < f->w.nspec)
			snprintf(what, sizeof what, "-%c to %s",
			    f->w.spec[ch->spec].type, safe);
		else
			snprintf(what, sizeof what, "to %s", safe);
		client_local(c, "  connection %u, %s: sent %llu, received "
		    "%llu bytes\r\n", ch->id & ~CHAN_ID_DAEMON, what,
		    (unsigned long long)ch->tx.end,
		    (unsigned long long)ch->rx_have);
	}
	cfwd_ask_list(c);
}

/*
 * Ask the daemon for the session's -R listeners (also other clients'):
 * its answer ends the ~# list.  Not while the link is down.
 */
static void
cfwd_ask_list(struct client *c)
{
	size_t	mark;

	if (c->state != ST_UP || c->fwd->version < PROTO_V_CHAN) {
		client_local(c, "  (the session's -R listeners on the server: "
		    "not while the link is down)\r\n");
		return;
	}
	if (frame_begin(&c->tx, MSG_FWD_LIST, &mark) == 0)
		frame_end(&c->tx, mark);
}
