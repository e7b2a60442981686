/*
 * limpet doctor --probe-nat.  Several ssh connections are opened at once
 * with every keepalive off (ServerAliveInterval 0, TCPKeepAlive no, no
 * multiplexing), each running cat on the server.  Connection i stays
 * silent for times[i] seconds, then sends one line; if the line comes back
 * within --probe-wait the state on the path survived that idle time, if
 * not (or the connection was reset) it was dropped.  The longest time
 * that survived and the shortest that did not bracket the path's idle
 * timeout.  Going through the user's own ssh means the probe sees exactly
 * the path (and jump hosts) the sessions use.  One poll() loop drives
 * every probe; progress goes to stderr; Ctrl-C ends the wait early and the
 * report says what is known so far.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "buf.h"
#include "clock.h"
#include "cmdline.h"
#include "doctor-client.h"
#include "doctor-ctx.h"
#include "doctor-nat.h"
#include "doctor-proc.h"
#include "err.h"
#include "proc.h"
#include "xmalloc.h"

#define NAT_CONNECT_SECS	30
#define NAT_PROGRESS_SECS	60

static const int nat_default_times[] = {
	30, 60, 120, 240, 480, 960, 1800
};

/* One probe connection. */
struct nat_probe {
	struct proc	 pr;		/* ssh: fd[0] its stdin, fd[1] stdout */
	struct buf	 got;
	int		 phase;		/* 0 connecting, 1 idle, 2 pinged */
	uint64_t	 ready;		/* ms when the hello came back */
	uint64_t	 pinged;	/* ms when the ping went out */
};

/* Read --probe-nat, --probe-max, --probe-times, --probe-wait. */
int
doctor_nat_options(struct doctor_nat *n, const struct cmdline *cl, char *err,
    size_t errlen)
{
	const char	*list;
	char		*copy, *p, *tok, *end;
	long		 v;
	size_t		 i;

	memset(n, 0, sizeof *n);
	n->hi = -1;
	n->enabled = cmdline_has(cl, "probe-nat");
	if (cmdline_seconds(cl, "probe-max", 1800, &n->max, err, errlen) != 0)
		return ERR_USAGE;
	if (cmdline_seconds(cl, "probe-wait", 10, &n->wait, err, errlen) != 0)
		return ERR_USAGE;
	if ((list = cmdline_get(cl, "probe-times")) != NULL) {
		copy = p = xstrdup(list);
		while ((tok = strsep(&p, ",")) != NULL) {
			v = strtol(tok, &end, 10);
			if (end == tok || *end != '\0' || v < 1 ||
			    v > 86400 || n->ntimes == NAT_MAXPROBES ||
			    (n->ntimes > 0 && v <= n->times[n->ntimes - 1])) {
				snprintf(err, errlen, "--probe-times wants up "
				    "to %d rising seconds, comma-separated",
				    NAT_MAXPROBES);
				free(copy);
				return ERR_USAGE;
			}
			if (v <= n->max)
				n->times[n->ntimes++] = (int)v;
		}
		free(copy);
	} else {
		for (i = 0; i < sizeof nat_default_times /
		    sizeof nat_default_times[0]; i++)
			if (nat_default_times[i] <= n->max)
				n->times[n->ntimes++] = nat_default_times[i];
		if (n->ntimes == 0 || n->times[n->ntimes - 1] < n->max)
			n->times[n->ntimes++] = n->max;
	}
	if (n->enabled && n->ntimes == 0) {
		snprintf(err, errlen, "no probe time is within --probe-max");
		return ERR_USAGE;
	}
	return 0;
}

/* Free the probe's results. */
void
doctor_nat_free(struct doctor_nat *n)
{
	free(n->error);
	n->error = NULL;
}

/* Start one probe: ssh with keepalives off running cat. */
static int
doctor_nat_start(struct doctor_ctx *ctx, struct nat_probe *pr)
{
	static const char *const extra[] = {
		"-T", "-o", "ServerAliveInterval=0", "-o", "TCPKeepAlive=no",
		"-o", "ControlMaster=no", "-o", "ControlPath=none",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=20"
	};
	static const int how[3] = { PROC_PIPE, PROC_PIPE, PROC_NULL };
	int	  i, r;
	char	**argv;

	argv = doctor_ssh_argv(ctx, NULL, extra, sizeof extra /
	    sizeof extra[0], 1);
	for (i = 0; argv[i] != NULL; i++)
		;
	argv = xreallocarray(argv, i + 2, sizeof *argv);
	argv[i++] = xstrdup("cat");
	argv[i] = NULL;
	/* Ctrl-C is for doctor: it ends the wait, not the probes. */
	r = proc_spawn(&pr->pr, argv, how, PROC_NONBLOCK | PROC_NOINT);
	doctor_argv_free(argv);
	if (r != 0)
		return r;
	if (write(pr->pr.fd[0], "hello\n", 6) != 6)
		return ERR_SYSTEM;
	return 0;
}

/* End a probe's ssh (by its pid) and close its pipes; idempotent. */
static void
doctor_nat_stop(struct nat_probe *pr)
{
	proc_stop(&pr->pr, 1000);
	buf_free(&pr->got);
}

/* True if the probe's output now holds line. */
static int
doctor_nat_has(struct nat_probe *pr, const char *line)
{
	size_t	len = strlen(line);

	return buf_len(&pr->got) >= len && memmem(buf_ptr(&pr->got),
	    buf_len(&pr->got), line, len) != NULL;
}

/* Work out the bracket from the probes' states. */
void
doctor_nat_bracket(struct doctor_nat *n)
{
	int	i;

	n->lo = 0;
	n->hi = -1;
	for (i = 0; i < n->ntimes; i++)
		if (n->state[i] == NAT_DEAD && (n->hi < 0 || n->times[i] <
		    n->hi))
			n->hi = n->times[i];
	for (i = 0; i < n->ntimes; i++)
		if (n->state[i] == NAT_ALIVE && n->times[i] > n->lo &&
		    (n->hi < 0 || n->times[i] < n->hi))
			n->lo = n->times[i];
}

/* A number that changes whenever a probe's state does. */
static unsigned int
doctor_nat_sum(const struct doctor_nat *n)
{
	unsigned int	sum = 0;
	int		i;

	for (i = 0; i < n->ntimes; i++)
		sum = sum * 4 + (unsigned int)n->state[i];
	return sum;
}

/* Print one progress line. */
static void
doctor_nat_progress(const struct doctor_nat *n, uint64_t start,
    uint64_t now)
{
	int	i, alive = 0, dead = 0, wait = 0;

	for (i = 0; i < n->ntimes; i++) {
		if (n->state[i] == NAT_ALIVE)
			alive++;
		else if (n->state[i] == NAT_DEAD)
			dead++;
		else if (n->state[i] == NAT_UNKNOWN)
			wait++;
	}
	fprintf(stderr, "limpet doctor: probing the path: %lld s of %d; "
	    "%d survived, %d dropped, %d waiting (Ctrl-C stops and "
	    "reports)\n", (long long)(now - start) / 1000,
	    n->times[n->ntimes - 1] + n->wait, alive, dead, wait);
}

/*
 * The server's ChannelTimeout closes an idle probe channel by itself:
 * probe only below it, or a drop would be blamed on the path.  Returns -1
 * if no probe time is left.
 */
static int
doctor_nat_cap(struct doctor_ctx *ctx)
{
	struct doctor_nat	*n = &ctx->nat;
	struct doctor_finding	*f;
	int			 i, k;

	n->cap = 0;
	if ((f = doctor_report_find(&ctx->report, LAYER_SERVER,
	    "ChannelTimeout")) == NULL || (n->cap =
	    doctor_client_session_timeout(f->value, "session:command")) <= 0)
		return 0;
	for (i = 0, k = 0; i < n->ntimes; i++)
		if (n->times[i] < n->cap)
			n->times[k++] = n->times[i];
	n->ntimes = k;
	if (k > 0)
		return 0;
	xasprintf(&n->error, "the server's ChannelTimeout (%ld s) closes idle "
	    "channels before the shortest probe time", n->cap);
	return -1;
}

/*
 * Probe i's timers: give up on a connection that never came, ping one
 * idle long enough, call one dead whose ping got no answer.  Returns 1 if
 * the probe still waits for input.
 */
static int
doctor_nat_timers(struct doctor_nat *n, struct nat_probe *p, int i,
    uint64_t start, uint64_t now)
{
	char	ping[32];

	if (p->phase == 0 && now - start > NAT_CONNECT_SECS * 1000LL) {
		n->state[i] = NAT_FAILED;
		doctor_nat_stop(p);
		return 0;
	}
	if (p->phase == 1 && now - p->ready >= (uint64_t)n->times[i] * 1000) {
		snprintf(ping, sizeof ping, "ping %d\n", i);
		if (write(p->pr.fd[0], ping, strlen(ping)) !=
		    (ssize_t)strlen(ping)) {
			n->state[i] = NAT_DEAD;
			doctor_nat_stop(p);
			return 0;
		}
		p->phase = 2;
		p->pinged = now;
	}
	if (p->phase == 2 && now - p->pinged >= (uint64_t)n->wait * 1000) {
		n->state[i] = NAT_DEAD;
		doctor_nat_stop(p);
		return 0;
	}
	return 1;
}

/* Probe i has input: its greeting, its ping's answer, or its end. */
static void
doctor_nat_input(struct doctor_nat *n, struct nat_probe *p, int i,
    uint64_t now)
{
	ssize_t	r;
	char	ping[32];

	r = buf_read_fd(&p->got, p->pr.fd[1], 1024);
	if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR)) {
		/* ssh ended: reset, or never connected. */
		n->state[i] = p->phase == 0 ? NAT_FAILED : NAT_DEAD;
		doctor_nat_stop(p);
		return;
	}
	if (p->phase == 0 && doctor_nat_has(p, "hello\n")) {
		p->phase = 1;
		p->ready = now;
	}
	snprintf(ping, sizeof ping, "ping %d\n", i);
	if (p->phase == 2 && doctor_nat_has(p, ping)) {
		n->state[i] = NAT_ALIVE;
		doctor_nat_stop(p);
	}
}

/* Wait for every probe to be answered, dead or failed (or ^C). */
static void
doctor_nat_wait(struct doctor_nat *n, struct nat_probe *pr)
{
	struct pollfd	pfd[NAT_MAXPROBES];
	uint64_t	start, now, lastprog;
	unsigned int	sum, lastsum;
	int		i, left, idx[NAT_MAXPROBES], nfd;

	start = lastprog = clock_ms();
	lastsum = doctor_nat_sum(n);
	for (;;) {
		now = clock_ms();
		for (i = 0, left = 0, nfd = 0; i < n->ntimes; i++) {
			if (n->state[i] != NAT_UNKNOWN)
				continue;
			left++;
			if (!doctor_nat_timers(n, &pr[i], i, start, now))
				continue;
			pfd[nfd].fd = pr[i].pr.fd[1];
			pfd[nfd].events = POLLIN;
			pfd[nfd].revents = 0;
			idx[nfd++] = i;
		}
		if (left == 0 || doctor_proc_interrupted())
			break;
		/* Report every change, and a sign of life now and then. */
		sum = doctor_nat_sum(n);
		if ((sum != lastsum && now - lastprog >= 1000) ||
		    now - lastprog >= NAT_PROGRESS_SECS * 1000LL) {
			doctor_nat_progress(n, start, now);
			lastprog = now;
			lastsum = sum;
		}
		if (poll(pfd, nfd, 250) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		now = clock_ms();
		for (i = 0; i < nfd; i++) {
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				doctor_nat_input(n, &pr[idx[i]], idx[i], now);
		}
	}
}

/* Run the probe (if asked): fills ctx->nat. */
void
doctor_nat_probe(struct doctor_ctx *ctx)
{
	struct doctor_nat	*n = &ctx->nat;
	struct nat_probe	 pr[NAT_MAXPROBES];
	int			 i;

	if (!n->enabled || doctor_nat_cap(ctx) != 0)
		return;
	n->ran = 1;
	doctor_proc_catch();
	memset(pr, 0, sizeof pr);
	for (i = 0; i < n->ntimes; i++) {
		proc_init(&pr[i].pr);
		buf_init(&pr[i].got, 4096);
		if (doctor_nat_start(ctx, &pr[i]) != 0)
			n->state[i] = NAT_FAILED;
	}
	fprintf(stderr, "limpet doctor: probing the path with %d idle "
	    "connections (up to %d s)\n", n->ntimes,
	    n->times[n->ntimes - 1] + n->wait);
	doctor_nat_wait(n, pr);
	n->interrupted = doctor_proc_interrupted();
	for (i = 0; i < n->ntimes; i++)
		doctor_nat_stop(&pr[i]);
	signal(SIGINT, SIG_DFL);
	doctor_nat_bracket(n);
	for (i = 0; i < n->ntimes; i++)
		if (n->state[i] == NAT_FAILED && n->error == NULL)
			xasprintf(&n->error, "some probe connections could not "
			    "be made (ssh with BatchMode=yes: a password or "
			    "host key question cannot be answered)");
}

/* The path finding when no probe ran: why, and what would measure it. */
static void
doctor_nat_unmeasured(struct doctor_ctx *ctx, long sai)
{
	struct doctor_nat	*n = &ctx->nat;
	struct doctor_finding	*f;

	if ((!n->enabled || n->error == NULL) && sai > 0)
		return;		/* keepalives: nothing to say */
	f = doctor_report_add(&ctx->report, LAYER_PATH,
	    "NAT/firewall idle timeout", "not measured", DOCTOR_WARN);
	f->line = -1;
	f->lverdict = DOCTOR_OK;
	if (n->enabled && n->error != NULL) {
		doctor_report_set(&f->why, "Not measured: %s.", n->error);
		return;
	}
	doctor_report_set(&f->why, "Without keepalives an idle session "
	    "depends on every NAT and firewall on the path keeping its "
	    "state.  limpet doctor --probe-nat %s measures how long they do "
	    "(it takes up to --probe-max, 30 min by default).", ctx->dest);
	doctor_report_set(&f->limpet, "limpet's heartbeat (every %d s) keeps "
	    "the state alive on almost every path.", ctx->keepalive);
}

/* The path finding when every probe connection stayed alive. */
static void
doctor_nat_none(struct doctor_nat *n, struct doctor_finding *f, long cai)
{
	doctor_report_set(&f->value, "none up to %ld s", n->lo);
	doctor_report_set(&f->why, "Connections idle for %ld s still "
	    "worked%s: nothing on the path dropped them.%s", n->lo,
	    n->interrupted ? " (stopped early with Ctrl-C)" : "",
	    n->error != NULL ? "  Note: " : "");
	if (n->error != NULL)
		doctor_report_set(&f->why, "%s%s.", f->why, n->error);
	if (cai > 0 && cai < n->lo)
		doctor_report_set(&f->why, "%s  But the server's "
		    "ClientAliveInterval (%ld s) sent traffic on the probed "
		    "connections, so a NAT timeout longer than that cannot "
		    "show here.", f->why, cai);
	if (n->cap > 0)
		doctor_report_set(&f->why, "%s  Probes stayed below the "
		    "server's ChannelTimeout (%ld s), which closes idle "
		    "channels by itself.", f->why, n->cap);
}

/* What limpet's own heartbeat does against a path that drops flows. */
static void
doctor_nat_limpet(struct doctor_ctx *ctx, struct doctor_finding *f,
    long safe)
{
	struct doctor_nat	*n = &ctx->nat;

	if (ctx->keepalive >= n->hi || (n->lo > 0 && ctx->keepalive > n->lo)) {
		f->lverdict = DOCTOR_WARN;
		doctor_report_set(&f->limpet, "limpet's heartbeat (after %d s "
		    "of silence at first) is slower than this: it reconnects "
		    "after a drop and halves its wait until one is kept.  Use "
		    "limpet --keepalive %ld.", ctx->keepalive, safe);
	} else {
		f->lverdict = DOCTOR_OK;
		doctor_report_set(&f->limpet, "limpet's heartbeat (after %d s "
		    "of silence at first) keeps the state alive; as it learns "
		    "to wait longer it may pass this once, then reconnects and "
		    "stays below it.", ctx->keepalive);
	}
}

/* The path finding when the probes bracketed a drop. */
static void
doctor_nat_dropped(struct doctor_ctx *ctx, struct doctor_finding *f,
    long sai, long cai)
{
	struct doctor_nat	*n = &ctx->nat;
	long			 safe;

	safe = n->lo / 2 > 60 ? 60 : n->lo / 2;
	if (safe < 1)
		safe = 1;
	doctor_report_set(&f->value, "between %ld s and %ld s", n->lo,
	    n->hi);
	doctor_report_set(&f->why, "Idle flows are dropped after between %ld "
	    "s and %ld s (a connection idle for %ld s still worked, one "
	    "idle for %ld s did not).  A keepalive every %ld s or less "
	    "keeps sessions alive: ServerAliveInterval %ld.%s", n->lo, n->hi,
	    n->lo, n->hi, safe, safe, n->interrupted ?
	    "  (Stopped early with Ctrl-C: the bracket may be wider.)" : "");
	if ((sai <= 0 || sai >= n->hi || (n->lo > 0 && sai > n->lo)) &&
	    (cai <= 0 || cai > n->lo)) {
		f->verdict = DOCTOR_KILLS;
		f->secs = n->hi;
	} else if (cai > 0 && cai <= n->lo)
		doctor_report_set(&f->why, "%s  The server's "
		    "ClientAliveInterval (%ld s) sends traffic on idle "
		    "connections often enough to keep them.", f->why, cai);
	if (doctor_report_find(&ctx->report, LAYER_SERVER, "sshd settings") !=
	    NULL)
		doctor_report_set(&f->why, "%s  The server's ChannelTimeout is "
		    "unknown (see sshd settings): if it is about %ld s, the "
		    "server closed the idle channels, not the path.", f->why,
		    n->hi);
	doctor_nat_limpet(ctx, f, safe);
	if (f->verdict == DOCTOR_KILLS) {
		f->fixby = FIXBY_USER;
		doctor_report_set(&f->fix, "ServerAliveInterval %ld for this "
		    "host (see the client section).", safe);
	}
}

/* Add the path finding. */
void
doctor_nat_check(struct doctor_ctx *ctx)
{
	struct doctor_nat	*n = &ctx->nat;
	struct doctor_finding	*f;
	const char		*v;
	long			 sai, cai;
	int			 i, any = 0;

	sai = doctor_seconds((v = doctor_kv_get(ctx->g, ctx->ng,
	    "serveraliveinterval")) != NULL ? v : "0");
	/* The server's ClientAlive probes are traffic on idle flows too. */
	cai = 0;
	if ((f = doctor_report_find(&ctx->report, LAYER_SERVER,
	    "ClientAliveInterval")) != NULL)
		cai = strtol(f->value, NULL, 10);
	if (!n->ran) {
		doctor_nat_unmeasured(ctx, sai);
		return;
	}
	for (i = 0; i < n->ntimes; i++)
		if (n->state[i] == NAT_ALIVE || n->state[i] == NAT_DEAD)
			any = 1;
	f = doctor_report_add(&ctx->report, LAYER_PATH,
	    "NAT/firewall idle timeout", "", DOCTOR_OK);
	f->line = -1;
	if (!any) {
		f->verdict = f->lverdict = DOCTOR_WARN;
		doctor_report_set(&f->value, "unknown");
		doctor_report_set(&f->why, "No probe finished%s%s.",
		    n->interrupted ? " (stopped with Ctrl-C)" : "",
		    n->error != NULL ? n->error : "");
	} else if (n->hi < 0)
		doctor_nat_none(n, f, cai);
	else
		doctor_nat_dropped(ctx, f, sai, cai);
}
