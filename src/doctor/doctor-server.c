/*
 * limpet doctor: the server's sshd.  The effective values come from
 * sshd -G (OpenSSH 9.3 and later, no root needed) or sshd -T (as root)
 * when the server could run them; the file and line come from replaying
 * sshd's rules over the files the server sent.  The server's own client
 * files (its ssh_config, the user's ~/.ssh/config there) are checked for
 * sshd keywords: the founding mistake of putting ClientAliveInterval
 * into ssh_config, which sshd never reads and which breaks every ssh run
 * on that host.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "doctor-client.h"
#include "doctor-ctx.h"
#include "doctor-fix.h"
#include "doctor-remote.h"
#include "doctor-server.h"
#include "err.h"
#include "xmalloc.h"

/* Read a file the server sent. */
static int
doctor_server_read(void *arg, const char *path, char **out)
{
	const struct doctor_remote	*rm = arg;
	const char			*t;

	if ((t = doctor_remote_file(rm, path)) == NULL)
		return ERR_NOTFOUND;
	*out = xstrdup(t);
	return 0;
}

/* Glob over the files the server sent (it expanded the same globs). */
static int
doctor_server_glob(void *arg, const char *pattern, char ***out, int *n)
{
	const struct doctor_remote	*rm = arg;
	char				*t;
	int				 i, j;

	*out = xcalloc(rm->nfiles + 1, sizeof **out);
	*n = 0;
	for (i = 0; i < rm->nfiles; i++)
		if (fnmatch(pattern, rm->files[i].path, FNM_PATHNAME) == 0)
			(*out)[(*n)++] = xstrdup(rm->files[i].path);
	for (i = 1; i < *n; i++)
		for (j = i; j > 0 && strcmp((*out)[j - 1], (*out)[j]) > 0;
		    j--) {
			t = (*out)[j];
			(*out)[j] = (*out)[j - 1];
			(*out)[j - 1] = t;
		}
	return 0;
}

/* The io that reads what the server sent. */
static struct sshconf_io
doctor_server_io(struct doctor_ctx *ctx)
{
	struct sshconf_io	io;

	memset(&io, 0, sizeof io);
	io.read = doctor_server_read;
	io.glob = doctor_server_glob;
	io.arg = &ctx->remote;
	io.home = doctor_remote_get(&ctx->remote, "home");
	return io;
}

/* The OpenSSH version as major * 10 + minor (92 for 9.2), or 0. */
int
doctor_server_version(const struct doctor_ctx *ctx)
{
	const char	*v = doctor_remote_get(&ctx->remote, "sshd_version");
	int		 maj, min;

	if (v == NULL || sscanf(v, "OpenSSH_%d.%d", &maj, &min) != 2)
		return 0;
	return maj * 10 + min;
}

/* Line n of a text, as a new string, or NULL. */
char *
doctor_server_line(const char *text, int n)
{
	const char	*p = text, *nl;
	int		 i;

	if (text == NULL || n <= 0)
		return NULL;
	for (i = 1; i < n; i++) {
		if ((p = strchr(p, '\n')) == NULL)
			return NULL;
		p++;
	}
	nl = strchr(p, '\n');
	return nl != NULL ? strndup(p, nl - p) : xstrdup(p);
}

/* True if a server path lies in the remote user's home. */
int
doctor_server_in_home(const struct doctor_ctx *ctx, const char *path)
{
	const char	*home = doctor_remote_get(&ctx->remote, "home");
	size_t		 len;

	if (home == NULL || (len = strlen(home)) <= 1)
		return 0;
	return strncmp(path, home, len) == 0 && path[len] == '/';
}

/* The effective value of key: sshd's own dump, else the replay, else def. */
static const char *
doctor_server_val(struct doctor_ctx *ctx, struct doctor_kv *dump, int ndump,
    struct sshconf *c, const char *key, const char *def)
{
	const char			*v;
	const struct sshconf_val	*l;

	if ((v = doctor_kv_get(dump, ndump, key)) != NULL)
		return v;
	(void)ctx;
	if ((l = sshconf_get(c, key)) != NULL)
		return l->value;
	return def;
}

/* Add a server finding for key with its origin. */
static struct doctor_finding *
doctor_server_add(struct doctor_ctx *ctx, struct sshconf *c,
    const char *name, const char *key, const char *value, int verdict)
{
	struct doctor_finding		*f;
	const struct sshconf_val	*l;

	f = doctor_report_add(&ctx->report, LAYER_SERVER, name, value,
	    verdict);
	if ((l = sshconf_get(c, key)) != NULL)
		doctor_report_where(f, l->file, l->line);
	return f;
}

/* ClientAliveInterval and ClientAliveCountMax. */
static void
doctor_server_alive(struct doctor_ctx *ctx, struct doctor_kv *d, int nd,
    struct sshconf *c)
{
	struct doctor_finding	*f;
	long			 ci, cm;
	int			 ver = doctor_server_version(ctx);

	ci = doctor_seconds(doctor_server_val(ctx, d, nd, c,
	    "clientaliveinterval", "0"));
	cm = doctor_seconds(doctor_server_val(ctx, d, nd, c,
	    "clientalivecountmax", "3"));
	if (ci < 0)
		ci = 0;
	if (cm < 0)
		cm = 3;
	f = doctor_server_add(ctx, c, "ClientAliveInterval",
	    "clientaliveinterval", "", DOCTOR_OK);
	doctor_report_set(&f->value, "%ld, ClientAliveCountMax %ld", ci, cm);
	if (ci == 0) {
		doctor_report_set(&f->why, "The server never probes the "
		    "client.  It ends no idle session, but a client that "
		    "vanished leaves a ghost session until TCP keepalive "
		    "notices (about 2 h 11 min).");
	} else if (cm == 0 && (ver == 0 || ver >= 82)) {
		doctor_report_set(&f->why, "The server probes after %ld s of "
		    "silence, and ClientAliveCountMax 0 means it never "
		    "disconnects (OpenSSH 8.2 and later): this does not end "
		    "idle sessions, whatever hardening guides meant by it.",
		    ci);
	} else if (cm == 0) {
		f->verdict = DOCTOR_KILLS;
		f->secs = ci;
		doctor_report_set(&f->why, "Before OpenSSH 8.2, "
		    "ClientAliveCountMax 0 ends the session at the first probe: "
		    "after %ld s with nothing from the client, unless the "
		    "client sends ServerAlive keepalives more often.", ci);
	} else {
		doctor_report_set(&f->why, "The server probes after %ld s of "
		    "silence and ends the connection when %ld probes go "
		    "unanswered (about %ld s).  An idle client answers them, "
		    "so this ends only sessions whose client is gone, asleep "
		    "or suspended.", ci, cm, ci * (cm + 1));
	}
	f->lverdict = f->verdict == DOCTOR_KILLS ? DOCTOR_OK : f->verdict;
	doctor_report_set(&f->limpet, "limpet answers the probes while "
	    "connected, and when the connection is cut it reconnects to the "
	    "same session.");
	/* Where the count comes from, when it is set apart. */
	if (sshconf_get(c, "clientalivecountmax") != NULL) {
		f = doctor_server_add(ctx, c, "ClientAliveCountMax",
		    "clientalivecountmax", "", DOCTOR_OK);
		doctor_report_set(&f->value, "%ld", cm);
		doctor_report_set(&f->why, "See ClientAliveInterval.");
	}
}

/* ChannelTimeout, including the bare "session=" trap. */
static void
doctor_server_channel(struct doctor_ctx *ctx, struct doctor_kv *d, int nd,
    struct sshconf *c)
{
	struct doctor_finding	*f;
	const char		*ct;
	long			 tsh, tcmd;

	ct = doctor_server_val(ctx, d, nd, c, "channeltimeout", "none");
	if (strcasecmp(ct, "none") == 0 || *ct == '\0') {
		f = doctor_server_add(ctx, c, "ChannelTimeout",
		    "channeltimeout", "none", DOCTOR_OK);
		doctor_report_set(&f->why, "No channel is closed for being "
		    "idle.");
		return;
	}
	tsh = doctor_client_session_timeout(ct, "session:shell");
	tcmd = doctor_client_session_timeout(ct, "session:command");
	f = doctor_server_add(ctx, c, "ChannelTimeout", "channeltimeout", ct,
	    tsh > 0 ? DOCTOR_KILLS : DOCTOR_OK);
	f->secs = tsh;
	if (tsh > 0)
		doctor_report_set(&f->why, "sshd closes a shell channel that "
		    "moved no data for %ld s: keepalives (ServerAlive, "
		    "ClientAlive) do not count, only typing and output do.",
		    tsh);
	else
		doctor_report_set(&f->why, "No pattern matches an interactive "
		    "shell (session:shell), so shells are not closed.");
	if (tcmd > 0 && tcmd <= ctx->keepalive) {
		f->lverdict = DOCTOR_KILLS;
		f->lsecs = tcmd;
		doctor_report_set(&f->limpet, "limpet's heartbeat (every %d s) "
		    "moves data through its channel, but this closes the "
		    "channel sooner: limpet reconnects every %ld s.  Run "
		    "limpet with --keepalive below %ld.", ctx->keepalive, tcmd,
		    tcmd);
	} else {
		f->lverdict = DOCTOR_OK;
		doctor_report_set(&f->limpet, "limpet's heartbeat moves data "
		    "through its channel after %d s of silence, so this fires "
		    "at most once for it, when the heartbeat has learned to "
		    "wait longer; limpet then reconnects and stays below it "
		    "(--keepalive fixes the interval).", ctx->keepalive);
	}
	if (f->verdict == DOCTOR_KILLS) {
		doctor_report_set(&f->fix, "This is the server's policy: the "
		    "admin can raise it or drop the session:shell pattern in "
		    "%s.", f->file != NULL ? f->file : "sshd_config");
		doctor_report_set(&f->fixfile, "%s", f->file != NULL ?
		    f->file : "sshd_config");
		f->fixby = FIXBY_ADMIN;
	}
	if (strstr(ct, "session=") != NULL) {
		f = doctor_server_add(ctx, c, "ChannelTimeout pattern",
		    "channeltimeout", "session=", DOCTOR_WARN);
		f->lverdict = DOCTOR_OK;
		doctor_report_set(&f->why, "The bare type \"session\" matches "
		    "no channel: sshd relabels every session channel as "
		    "session:shell, session:command or session:subsystem:..., "
		    "so this pattern silently does nothing (OpenSSH 9.2 to "
		    "10.5).  Write session:*=... if a timeout is meant.");
		f->fixby = FIXBY_ADMIN;
		doctor_report_set(&f->fix, "Replace session= with session:*= "
		    "if the timeout is wanted.");
	}
}

/* UnusedConnectionTimeout, LoginGraceTime, TCPKeepAlive. */
static void
doctor_server_rest(struct doctor_ctx *ctx, struct doctor_kv *d, int nd,
    struct sshconf *c)
{
	struct doctor_finding	*f;
	const char		*v;
	long			 t;

	v = doctor_server_val(ctx, d, nd, c, "unusedconnectiontimeout",
	    "none");
	t = doctor_seconds(v);
	f = doctor_server_add(ctx, c, "UnusedConnectionTimeout",
	    "unusedconnectiontimeout", v, t > 0 ? DOCTOR_WARN : DOCTOR_OK);
	if (t > 0)
		doctor_report_set(&f->why, "sshd ends a connection that has "
		    "had no open channel for %ld s: ssh -N with only "
		    "forwardings dies; an interactive session always has its "
		    "channel and is not affected.", t);
	else
		doctor_report_set(&f->why, "Connections without channels "
		    "(ssh -N) are not ended.");
	f->lverdict = DOCTOR_OK;
	doctor_report_set(&f->limpet, "A limpet connection always has its "
	    "channel.");

	v = doctor_server_val(ctx, d, nd, c, "logingracetime", "120");
	f = doctor_server_add(ctx, c, "LoginGraceTime", "logingracetime", v,
	    DOCTOR_OK);
	doctor_report_set(&f->why, "Time allowed to log in; it never ends a "
	    "session that is up, but a slow password or MFA prompt fails "
	    "after it.");

	v = doctor_server_val(ctx, d, nd, c, "tcpkeepalive", "yes");
	f = doctor_server_add(ctx, c, "TCPKeepAlive", "tcpkeepalive", v,
	    DOCTOR_OK);
	doctor_report_set(&f->why, "Kernel keepalive probes after 2 hours "
	    "of silence: they remove ghost sessions, they keep no NAT "
	    "alive.");
}

/* Report keyword issues found in server files (sshd's or its client's). */
static void
doctor_server_issues(struct doctor_ctx *ctx, struct sshconf *c, int sshd)
{
	struct doctor_finding	*f;
	struct sshconf_issue	*is;
	char			*line;
	int			 i, home;

	for (i = 0; i < c->nis; i++) {
		is = &c->is[i];
		if (is->kind != SSHCONF_WRONGSIDE && is->kind != SSHCONF_BADKEY)
			continue;
		home = doctor_server_in_home(ctx, is->file);
		f = doctor_report_add(&ctx->report, LAYER_SERVER,
		    sshd ? "client keyword in sshd_config" :
		    is->kind == SSHCONF_WRONGSIDE ?
		    "server keyword in the server's ssh_config" :
		    "unknown keyword in the server's ssh_config", is->key,
		    DOCTOR_BROKEN);
		doctor_report_where(f, is->file, is->line);
		if (sshd)
			doctor_report_set(&f->why, "%s: sshd refuses to start "
			    "or reload with it.", is->text);
		else if (is->kind == SSHCONF_WRONGSIDE)
			doctor_report_set(&f->why, "%s is an sshd keyword, but "
			    "this is an ssh_config on the server, which only ssh "
			    "run there reads, never sshd: it sets nothing for "
			    "your sessions, and every ssh from that host fails "
			    "with \"Bad configuration option\".", is->key);
		else
			doctor_report_set(&f->why, "%s is not a keyword ssh "
			    "knows: every ssh from that host fails with \"Bad "
			    "configuration option\".", is->key);
		f->lverdict = sshd ? DOCTOR_BROKEN : DOCTOR_OK;
		doctor_report_set(&f->limpet, sshd ? "No new connection is "
		    "possible once sshd restarts." : "limpet sessions do not "
		    "run ssh on the server, but the mistake stays.");
		line = doctor_server_line(doctor_remote_file(&ctx->remote,
		    is->file), is->line);
		if (line != NULL) {
			doctor_fix_add(&ctx->fixes, is->file, 1, EDIT_COMMENT,
			    is->line, line, NULL);
			doctor_report_set(&f->fix, "Comment out line %d:\n"
			    "    # %s", is->line, line);
			free(line);
		}
		if (!sshd && strncasecmp(is->key, "clientalive", 11) == 0)
			doctor_report_set(&f->fix, "%s\nIf the server should "
			    "probe clients, the admin puts it where sshd reads "
			    "it, e.g. /etc/ssh/sshd_config.d/keepalive.conf:\n"
			    "    ClientAliveInterval 60\nand reloads sshd "
			    "(systemctl reload ssh).", f->fix != NULL ?
			    f->fix : "Delete the line.");
		doctor_report_set(&f->fixfile, "%s", is->file);
		f->fixby = home ? FIXBY_USER : FIXBY_ADMIN;
	}
}

/* Parse the sshd -T/-G dump into pairs (keys are lowercase or not). */
static void
doctor_server_dump(struct doctor_ctx *ctx, struct doctor_kv **d, int *nd)
{
	char	*copy, *p, *line, *sp;

	if (ctx->remote.sshd_t == NULL)
		return;
	copy = p = xstrdup(ctx->remote.sshd_t);
	while ((line = strsep(&p, "\n")) != NULL) {
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp++ = '\0';
		doctor_kv_add(d, nd, line, sp);
	}
	free(copy);
}

/* Check the server's sshd and the server's client files. */
void
doctor_server_check(struct doctor_ctx *ctx)
{
	struct sshconf		 c, cc;
	struct sshconf_match	 m;
	struct sshconf_io	 io = doctor_server_io(ctx);
	struct doctor_kv	*dump = NULL;
	struct doctor_finding	*f;
	int			 nd = 0, ng = 0, r;
	char			*conn, *w[4], *p, *groups, *gv[64];
	const char		*cfg, *home;
	char			*userconf, *sshdir;

	memset(&m, 0, sizeof m);
	m.user = doctor_remote_get(&ctx->remote, "user");
	conn = xstrdup(doctor_remote_get(&ctx->remote, "conn") != NULL ?
	    doctor_remote_get(&ctx->remote, "conn") : "");
	memset(w, 0, sizeof w);
	p = conn;
	for (r = 0; r < 4 && (w[r] = strsep(&p, " ")) != NULL; r++)
		;
	m.addr = w[0];
	m.laddr = w[2];
	m.lport = w[3] != NULL ? atoi(w[3]) : 0;
	m.known = w[0] != NULL && *w[0] != '\0';
	groups = xstrdup(doctor_remote_get(&ctx->remote, "groups") != NULL ?
	    doctor_remote_get(&ctx->remote, "groups") : "");
	p = groups;
	while (ng < 63 && (gv[ng] = strsep(&p, " ")) != NULL)
		if (*gv[ng] != '\0')
			ng++;
	gv[ng] = NULL;
	m.groups = (const char *const *)gv;

	cfg = doctor_remote_get(&ctx->remote, "sshd_config");
	if (cfg == NULL)
		cfg = "/etc/ssh/sshd_config";
	sshconf_init(&c, 1);
	r = sshconf_load(&c, cfg, "/etc/ssh", &m, &io);
	if (r != 0 && ctx->remote.sshd_t == NULL) {
		f = doctor_report_add(&ctx->report, LAYER_SERVER,
		    "sshd settings", "unknown", DOCTOR_WARN);
		f->line = -1;
		f->lverdict = DOCTOR_OK;
		doctor_report_set(&f->why, "%s on the server is not readable "
		    "by %s, and its sshd cannot print its settings without "
		    "root (sshd -G needs OpenSSH 9.3; this is %s).  "
		    "ClientAliveInterval, ChannelTimeout and "
		    "UnusedConnectionTimeout are unknown; the admin can run "
		    "sshd -T.", cfg, m.user != NULL ? m.user : "you",
		    doctor_remote_get(&ctx->remote, "sshd_version") != NULL ?
		    doctor_remote_get(&ctx->remote, "sshd_version") : "older");
		doctor_report_set(&f->limpet, "limpet's heartbeat and "
		    "reconnection cover ClientAlive and ChannelTimeout above "
		    "its heartbeat interval.");
	} else {
		if (r != 0)
			doctor_report_note(&ctx->report, "the server's %s is "
			    "not readable: sshd's values come from sshd -T, "
			    "without their file and line", cfg);
		doctor_server_dump(ctx, &dump, &nd);
		doctor_server_alive(ctx, dump, nd, &c);
		doctor_server_channel(ctx, dump, nd, &c);
		doctor_server_rest(ctx, dump, nd, &c);
	}
	doctor_server_issues(ctx, &c, 1);
	sshconf_free(&c);
	doctor_kv_free(dump, nd);

	/* The server's client files: any sshd keyword there is a mistake. */
	memset(&m, 0, sizeof m);
	m.host = "";
	m.user = doctor_remote_get(&ctx->remote, "user");
	m.localuser = m.user;
	sshconf_init(&cc, 0);
	home = doctor_remote_get(&ctx->remote, "home");
	if (home != NULL) {
		xasprintf(&userconf, "%s/.ssh/config", home);
		xasprintf(&sshdir, "%s/.ssh", home);
		sshconf_load(&cc, userconf, sshdir, &m, &io);
		free(userconf);
		free(sshdir);
	}
	sshconf_load(&cc, "/etc/ssh/ssh_config", "/etc/ssh", &m, &io);
	doctor_server_issues(ctx, &cc, 0);
	sshconf_free(&cc);
	free(conn);
	free(groups);
}
