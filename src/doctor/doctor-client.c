/*
 * limpet doctor: the client layer.  ssh -G gives the effective values
 * (it evaluates Match exec and knows the version's defaults); replaying
 * ssh's rules over the same files names the line that set each value and
 * catches what ssh -G cannot say: a "Host *" block above the specific
 * one, and sshd keywords in a client file.
 */
#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "compat.h"
#include "buf.h"
#include "cmdline.h"
#include "client-keep.h"
#include "doctor-client.h"
#include "doctor-ctx.h"
#include "doctor-fix.h"
#include "doctor-proc.h"
#include "err.h"
#include "xmalloc.h"


static char	*doctor_client_host(const char *);

/* Keys whose origin the report names, with the shadow check. */
static const char *const client_watch[] = {
	"serveraliveinterval", "serveralivecountmax", "tcpkeepalive",
	"controlmaster", "controlpersist", "ipqos", "connecttimeout",
	"channeltimeout", NULL
};

/* Parse "key value" lines (ssh -G) into ctx->g. */
static void
doctor_client_parse_g(struct doctor_ctx *ctx, char *text)
{
	char	*line, *sp;

	while ((line = strsep(&text, "\n")) != NULL) {
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp++ = '\0';
		doctor_kv_add(&ctx->g, &ctx->ng, line, sp);
	}
}

/*
 * Why name (a host name if host, else a user name) is not one ssh would
 * accept on its command line, or NULL if it is fine.  As ssh does since
 * CVE-2023-51385: no leading '-' (it would read as an option), no
 * character a shell acts on, and for a host no blank or control
 * character either; a user name may hold a backslash (DOMAIN\user), but
 * not at its end.  The reason goes to why.
 */
const char *
doctor_client_bad_name(const char *name, int host, char *why, size_t len)
{
	const char		*meta = host ? "'`\"$\\;&<>|(){}" :
				    "'`\"$;&<>|(){}";
	const unsigned char	*p;

	if (*name == '\0') {
		snprintf(why, len, "it is empty");
		return why;
	}
	if (*name == '-') {
		snprintf(why, len, "it starts with '-'");
		return why;
	}
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			snprintf(why, len, "it contains a control character "
			    "(0x%02x)", *p);
		else if (*p == ' ' || (host && isspace(*p)))
			snprintf(why, len, "it contains a blank");
		else if (strchr(meta, *p) != NULL)
			snprintf(why, len, "it contains '%c', which a shell "
			    "would act on", *p);
		else if (!host && *p == '\\' && p[1] == '\0')
			snprintf(why, len, "it ends with a backslash");
		else
			continue;
		return why;
	}
	return NULL;
}

/*
 * Refuse a destination (or -l user) that ssh refuses too: doctor runs
 * Match exec commands with its host and user in them, through a shell.
 * Returns 0, or ERR_USAGE with a one-line reason in err.
 */
int
doctor_client_check_dest(const struct doctor_ctx *ctx, char *err,
    size_t errlen)
{
	const char	*p = ctx->dest, *at, *user = NULL, *r;
	char		*host, *u = NULL, why[96];
	int		 i, bad = 0;

	if (strncmp(p, "ssh://", 6) == 0)
		p += 6;
	if ((at = strrchr(p, '@')) != NULL) {
		u = xmalloc(at - p + 1);
		memcpy(u, p, at - p);
		u[at - p] = '\0';
	}
	host = doctor_client_host(ctx->dest);
	if ((r = doctor_client_bad_name(host, 1, why, sizeof why)) != NULL) {
		snprintf(err, errlen, "refusing the destination's host name: "
		    "%s (ssh refuses it too)", r);
		bad = 1;
	}
	for (i = 0; i < ctx->nsshopts && !bad; i++) {
		if (strncmp(ctx->sshopts[i], "-l", 2) != 0)
			continue;
		user = ctx->sshopts[i][2] != '\0' ? ctx->sshopts[i] + 2 :
		    i + 1 < ctx->nsshopts ? ctx->sshopts[i + 1] : NULL;
		break;
	}
	if (user == NULL)
		user = u;
	if (!bad && user != NULL &&
	    (r = doctor_client_bad_name(user, 0, why, sizeof why)) != NULL) {
		snprintf(err, errlen, "refusing the user name: %s (ssh "
		    "refuses it too)", r);
		bad = 1;
	}
	free(host);
	free(u);
	return bad ? ERR_USAGE : 0;
}

/*
 * Expand the tokens ssh expands in Match exec (%h %n %p %r %u %L %l %d
 * %%) from what ssh -G says; a new string, or NULL if a value is unknown
 * or is not a name ssh would accept (it would reach a shell).
 */
static char *
doctor_client_tokens(const struct doctor_ctx *ctx, const char *cmd)
{
	struct buf	 b;
	const char	*v;
	char		 host[256], *out, why[96];
	int		 checked;

	buf_init(&b, 0);
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	for (; *cmd != '\0'; cmd++) {
		if (*cmd != '%' || cmd[1] == '\0') {
			buf_put(&b, cmd, 1);
			continue;
		}
		v = NULL;
		checked = 0;
		switch (*++cmd) {
		case 'h':
			v = doctor_kv_get(ctx->g, ctx->ng, "hostname");
			checked = 1;
			break;
		case 'n':
			v = ctx->host;
			checked = 1;
			break;
		case 'p':
			v = doctor_kv_get(ctx->g, ctx->ng, "port");
			checked = 1;
			break;
		case 'r':
			v = doctor_kv_get(ctx->g, ctx->ng, "user");
			checked = 2;
			break;
		case 'u':
			v = ctx->localuser;
			break;
		case 'd':
			v = ctx->home;
			break;
		case 'l':
			v = host;
			break;
		case 'L':
			host[strcspn(host, ".")] = '\0';
			v = host;
			break;
		case '%':
			v = "%";
			break;
		default:
			/* ssh refuses an unknown token: so does doctor. */
			buf_free(&b);
			return NULL;
		}
		if (v == NULL || (checked && doctor_client_bad_name(v,
		    checked == 1, why, sizeof why) != NULL)) {
			buf_free(&b);
			return NULL;
		}
		buf_put(&b, v, strlen(v));
	}
	out = doctor_proc_text(&b);
	buf_free(&b);
	return out;
}

/* Run a Match exec command the way ssh does (through the shell). */
static int
doctor_client_exec(void *arg, const char *cmd)
{
	struct doctor_ctx	*ctx = arg;
	struct doctor_proc	 p;
	char			*argv[4], *line;
	int			 r;

	if ((line = doctor_client_tokens(ctx, cmd)) == NULL) {
		doctor_report_note(&ctx->report, "Match exec \"%s\" not run: "
		    "a token in it has no safe value; doctor assumed no match",
		    cmd);
		return 0;
	}
	argv[0] = (char *)"/bin/sh";
	argv[1] = (char *)"-c";
	argv[2] = line;
	argv[3] = NULL;
	r = doctor_proc_run(argv, NULL, 0, 10000, &p) == 0 && p.status == 0;
	doctor_proc_free(&p);
	free(line);
	return r;
}

/* Match exec while ssh -G failed: not run, said so, no match. */
static int
doctor_client_noexec(void *arg, const char *cmd)
{
	struct doctor_ctx	*ctx = arg;

	doctor_report_note(&ctx->report, "Match exec \"%s\" not run: ssh -G "
	    "failed, so the values of its tokens are unknown; doctor assumed "
	    "no match", cmd);
	return 0;
}

/* The host part of a destination: user@host, ssh://user@host:port. */
static char *
doctor_client_host(const char *dest)
{
	const char	*p = dest, *at;
	char		*h, *c;

	if (strncmp(p, "ssh://", 6) == 0) {
		p += 6;
		if ((at = strrchr(p, '@')) != NULL)
			p = at + 1;
		h = xstrdup(p);
		if (*h == '[' && (c = strchr(h, ']')) != NULL) {
			*c = '\0';
			memmove(h, h + 1, strlen(h));
		} else if ((c = strrchr(h, ':')) != NULL)
			*c = '\0';
		return h;
	}
	if ((at = strrchr(p, '@')) != NULL)
		p = at + 1;
	return xstrdup(p);
}

/*
 * Build the command-line pseudo file from the user's -o options and the
 * option letters ssh turns into keywords; note -F.
 */
static char *
doctor_client_cmdline(struct doctor_ctx *ctx)
{
	char		*text = xstrdup(""), *t, *a;
	const char	*val;
	int		 i;

	for (i = 0; i < ctx->nsshopts; i++) {
		a = ctx->sshopts[i];
		if (a[0] != '-' || a[1] == '\0' || !cmdline_ssh_takes_arg(a[1]))
			continue;
		if (a[2] != '\0')
			val = a + 2;
		else if (i + 1 < ctx->nsshopts)
			val = ctx->sshopts[++i];
		else
			continue;
		t = NULL;
		if (a[1] == 'o')
			xasprintf(&t, "%s%s\n", text, val);
		else if (a[1] == 'p')
			xasprintf(&t, "%sPort %s\n", text, val);
		else if (a[1] == 'l')
			xasprintf(&t, "%sUser %s\n", text, val);
		else if (a[1] == 'J')
			xasprintf(&t, "%sProxyJump %s\n", text, val);
		else if (a[1] == 'F') {
			free(ctx->userconf);
			ctx->userconf = xstrdup(val);
			if (strcmp(val, "none") == 0)
				ctx->noconf = 1;
		}
		if (t != NULL) {
			free(text);
			text = t;
		}
	}
	return text;
}

/*
 * Load the client side: ssh -G and the replay of the files.  Adds a
 * broken finding if ssh itself refuses the configuration.
 */
int
doctor_client_load(struct doctor_ctx *ctx)
{
	static const char *const gopt[] = { "-G" };
	struct doctor_proc	 p;
	struct sshconf_match	 m;
	struct sshconf_io	 io = sshconf_fs;
	struct passwd		*pw;
	struct doctor_finding	*f;
	char			**argv, *text, *cmdtext;
	const char		*e;
	int			 r;

	if ((pw = getpwuid(getuid())) != NULL) {
		ctx->localuser = xstrdup(pw->pw_name);
		e = getenv("HOME");
		ctx->home = xstrdup(e != NULL && *e != '\0' ? e : pw->pw_dir);
	} else {
		ctx->localuser = xstrdup("unknown");
		ctx->home = xstrdup("/");
	}
	ctx->host = doctor_client_host(ctx->dest);
	xasprintf(&ctx->userconf, "%s/.ssh/config", ctx->home);

	argv = doctor_ssh_argv(ctx, NULL, gopt, 1, 1);
	r = doctor_proc_run(argv, NULL, 0, 20000, &p);
	doctor_argv_free(argv);
	if (r != 0) {
		doctor_report_note(&ctx->report, "could not run %s: %s",
		    ctx->ssh, err_str(r));
		return r;
	}
	text = doctor_proc_text(&p.out);
	if (p.status == 0)
		doctor_client_parse_g(ctx, text);
	free(text);
	if (p.status != 0) {
		text = doctor_proc_text(&p.err);
		f = doctor_report_add(&ctx->report, LAYER_CLIENT, "ssh -G",
		    "fails", DOCTOR_BROKEN);
		f->line = -1;
		doctor_report_set(&f->why, "ssh refuses the client "
		    "configuration, so every ssh to this host fails:\n%s",
		    text);
		doctor_report_set(&f->limpet, "limpet runs ssh too, so it "
		    "fails the same way.");
		free(text);
	}
	doctor_proc_free(&p);

	/* Replay: command line, then the user's file, then the system's. */
	memset(&m, 0, sizeof m);
	m.host = ctx->host;
	m.user = doctor_kv_get(ctx->g, ctx->ng, "user");
	if (m.user == NULL)
		m.user = ctx->localuser;
	m.localuser = ctx->localuser;
	io.home = ctx->home;
	/* Without ssh -G the tokens are unknown: run no Match exec. */
	io.exec = ctx->ng > 0 ? doctor_client_exec : doctor_client_noexec;
	io.arg = ctx;
	sshconf_init(&ctx->client, 0);
	cmdtext = doctor_client_cmdline(ctx);
	sshconf_parse(&ctx->client, CMDLINE_FILE, cmdtext, ctx->home, &m, &io);
	free(cmdtext);
	if (!ctx->noconf) {
		xasprintf(&text, "%s/.ssh", ctx->home);
		r = sshconf_load(&ctx->client, ctx->userconf, text, &m, &io);
		if (r != 0 && r != ERR_NOTFOUND)
			doctor_report_note(&ctx->report, "could not read %s: "
			    "%s", ctx->userconf, err_str(r));
		free(text);
		if (!doctor_client_has_F(ctx)) {
			sshconf_load(&ctx->client, "/etc/ssh/ssh_config",
			    "/etc/ssh", &m, &io);
		}
	}
	return 0;
}

/* True if the user gave -F. */
int
doctor_client_has_F(const struct doctor_ctx *ctx)
{
	int	i;

	for (i = 0; i < ctx->nsshopts; i++)
		if (strncmp(ctx->sshopts[i], "-F", 2) == 0)
			return 1;
	return 0;
}

/* The effective value of key from ssh -G, or def. */
static const char *
doctor_client_val(const struct doctor_ctx *ctx, const char *key,
    const char *def)
{
	const char	*v = doctor_kv_get(ctx->g, ctx->ng, key);

	return v != NULL ? v : def;
}

/*
 * Note it when the replayed line's value is not what ssh -G says: then
 * the file and line doctor names may be wrong (a construct it does not
 * evaluate, such as Match exec with tokens or canonicalisation).
 */
static void
doctor_client_agree(struct doctor_ctx *ctx, const char *key,
    const struct sshconf_val *v)
{
	const char	*g = doctor_kv_get(ctx->g, ctx->ng, key);
	long		 a, b;
	int		 same;

	if (g == NULL || strcmp(key, "ipqos") == 0 ||
	    strcmp(key, "channeltimeout") == 0)
		return;		/* ssh -G rewrites these */
	a = doctor_seconds(v->value);
	b = doctor_seconds(g);
	if (a >= 0 && b >= 0)
		same = a == b;
	else if (strcasecmp(g, "true") == 0 || strcasecmp(g, "false") == 0)
		same = (strcasecmp(g, "true") == 0) ==
		    (strcasecmp(v->value, "yes") == 0);
	else
		same = strcasecmp(g, v->value) == 0;
	if (!same)
		doctor_report_note(&ctx->report, "%s line %d sets %s %s, but "
		    "ssh -G says %s: the line named for it may be wrong",
		    v->file, v->line, key, v->value, g);
}

/* Add a finding for key with its origin from the replay. */
static struct doctor_finding *
doctor_client_add(struct doctor_ctx *ctx, const char *name, const char *key,
    const char *def, int verdict)
{
	struct doctor_finding		*f;
	const struct sshconf_val	*v;

	f = doctor_report_add(&ctx->report, LAYER_CLIENT, name,
	    doctor_client_val(ctx, key, def), verdict);
	if ((v = sshconf_get(&ctx->client, key)) != NULL) {
		doctor_report_where(f, v->file, strcmp(v->file,
		    CMDLINE_FILE) == 0 ? 0 : v->line);
		doctor_client_agree(ctx, key, v);
	}
	return f;
}

/* The keepalive finding: the one that matters most on the client. */
static void
doctor_client_alive(struct doctor_ctx *ctx)
{
	struct doctor_finding		*f, *cf;
	const struct sshconf_val	*bm;
	long				 sai, cm, want;
	char				*fix = NULL, *fixfile = NULL;

	sai = doctor_seconds(doctor_client_val(ctx, "serveraliveinterval",
	    "0"));
	cm = doctor_seconds(doctor_client_val(ctx, "serveralivecountmax",
	    "3"));
	if (sai < 0)
		sai = 0;
	if (cm < 0)
		cm = 3;
	f = doctor_client_add(ctx, "ServerAliveInterval",
	    "serveraliveinterval", "0", sai == 0 ? DOCTOR_WARN : DOCTOR_OK);
	if (f->file == NULL && sai > 0 &&
	    (bm = sshconf_get(&ctx->client, "batchmode")) != NULL &&
	    strcasecmp(bm->value, "yes") == 0) {
		doctor_report_where(f, bm->file, bm->line);
		doctor_report_set(&f->value, "%ld (from BatchMode yes: Debian's "
		    "ssh then defaults ServerAliveInterval to 300)", sai);
	}
	if (sai == 0) {
		doctor_report_set(&f->why, "ssh sends no keepalives, so an "
		    "idle session sends nothing at all: a NAT or firewall on "
		    "the path that forgets idle flows (AWS NAT gateway 350 s, "
		    "Azure 4 min, GCP Cloud NAT 20 min, many home routers "
		    "less) ends it, and TCPKeepAlive's first probe comes only "
		    "after 2 hours.  --probe-nat measures this path.");
	} else {
		doctor_report_set(&f->why, "ssh sends a keepalive after %ld s "
		    "of silence, which keeps NAT state alive if that is "
		    "shorter than the path's idle timeout, and gives up after "
		    "%ld s without an answer (ServerAliveCountMax %ld).%s",
		    sai, (cm + 1) * sai, cm, sai > 300 ? "  That is longer "
		    "than common NAT timeouts (Azure 240 s, AWS 350 s)." : "");
		if (sai > 300)
			f->verdict = DOCTOR_WARN;
	}
	doctor_report_set(&f->limpet, "limpet sends its own heartbeat inside "
	    "the connection (after %d s of silence at first, then after as "
	    "long a silence as the path has kept, up to %d s) and reconnects "
	    "when the link dies, whatever this is set to.", ctx->keepalive,
	    KEEP_MAX_MS / 1000);
	f->lverdict = DOCTOR_OK;
	want = 60;
	if (ctx->nat.ran && ctx->nat.hi > 0) {
		/* The probe measured the path: stay well below what it drops. */
		want = ctx->nat.lo / 2 > 60 ? 60 : ctx->nat.lo / 2;
		if (want < 1)
			want = 1;
		if (sai > 0 && sai > want) {
			f->verdict = DOCTOR_WARN;
			doctor_report_set(&f->why, "%s  The path drops idle flows "
			    "after between %ld s and %ld s, so this is too "
			    "long.", f->why, ctx->nat.lo, ctx->nat.hi);
		}
	}
	if (sai == 0 || sai > 300 || (ctx->nat.ran && ctx->nat.hi > 0 &&
	    sai > want)) {
		if (doctor_fix_plan_alive(ctx, want, &fix, &fixfile) == 0) {
			f->fix = fix;
			f->fixfile = fixfile;
			f->fixby = FIXBY_USER;
		} else {
			free(fix);
			free(fixfile);
		}
	}
	/* Adding a finding moves the others: f is not used after this. */
	cf = doctor_client_add(ctx, "ServerAliveCountMax",
	    "serveralivecountmax", "3", DOCTOR_OK);
	doctor_report_set(&cf->why, "%s", sai > 0 ? "Keepalives that may go "
	    "unanswered before ssh gives up on a dead path." : "Unused while "
	    "ServerAliveInterval is 0.");
}

/* A number from a /proc/sys file, or -1. */
static long
doctor_client_sysctl(const char *path)
{
	FILE	*fp;
	long	 v = -1;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	if (fscanf(fp, "%ld", &v) != 1)
		v = -1;
	fclose(fp);
	return v;
}

/* The other client settings: what they do to an idle session. */
static void
doctor_client_rest(struct doctor_ctx *ctx)
{
	struct doctor_finding	*f;
	const char		*cm, *ct, *pj;
	struct doctor_proc	 p;
	char			**argv;
	long			 t, ka;
	static const char *const ocheck[] = { "-O", "check" };

	f = doctor_client_add(ctx, "TCPKeepAlive", "tcpkeepalive", "yes",
	    DOCTOR_OK);
	ka = doctor_client_sysctl("/proc/sys/net/ipv4/tcp_keepalive_time");
	doctor_report_set(&f->why, "TCP keepalive probes start after the "
	    "kernel's net.ipv4.tcp_keepalive_time (%ld s here): too late to "
	    "keep any NAT state alive, and some middleboxes ignore them.  It "
	    "only ends sessions whose path is dead.", ka > 0 ? ka : 7200);

	pj = doctor_kv_get(ctx->g, ctx->ng, "proxyjump");
	if (pj != NULL && strcasecmp(pj, "none") != 0) {
		f = doctor_client_add(ctx, "ProxyJump", "proxyjump", pj,
		    DOCTOR_WARN);
		f->lverdict = DOCTOR_WARN;
		doctor_report_set(&f->why, "Each hop is its own TCP connection "
		    "with its own NATs and firewalls, and -o options on the "
		    "command line do not reach the hop: it gets only what the "
		    "config files say for it.  Keepalives of this session "
		    "travel through the hop and keep its path alive too, but "
		    "its own timers (ChannelTimeout on the jump host, a bastion's "
		    "idle limit) are checked only by limpet doctor %s.", pj);
	}

	cm = doctor_client_val(ctx, "controlmaster", "no");
	f = doctor_client_add(ctx, "ControlMaster", "controlmaster", "no",
	    DOCTOR_OK);
	doctor_report_set(&f->value, "%s, ControlPersist %s",
	    strcmp(cm, "false") == 0 ? "no" : strcmp(cm, "true") == 0 ?
	    "yes" : cm, doctor_client_val(ctx, "controlpersist", "no"));
	if (strcasecmp(cm, "no") != 0 && strcasecmp(cm, "false") != 0) {
		argv = doctor_ssh_argv(ctx, NULL, ocheck, 2, 1);
		memset(&p, 0, sizeof p);
		if (doctor_proc_run(argv, NULL, 0, 10000, &p) == 0 &&
		    p.status == 0) {
			f->verdict = f->lverdict = DOCTOR_WARN;
			doctor_report_set(&f->why, "A master connection to "
			    "this host is running: new sessions go through "
			    "it, its options win over the ones you give now "
			    "(a later -o ServerAliveInterval changes nothing), "
			    "and when it dies every session in it dies.");
		} else {
			doctor_report_set(&f->why, "Multiplexing is on but no "
			    "master runs now; the first ssh becomes the master "
			    "and its options apply to every later session.");
		}
		doctor_proc_free(&p);
		doctor_argv_free(argv);
	} else {
		doctor_report_set(&f->why, "No multiplexing: every ssh has its "
		    "own connection and its own options.");
	}

	f = doctor_client_add(ctx, "IPQoS", "ipqos", "lowdelay throughput",
	    DOCTOR_OK);
	doctor_report_set(&f->why, "The DSCP marking of ssh's packets.  Some "
	    "NATs (VMware's) and routers drop or stall af21/cs1 or ef "
	    "marked packets; if sessions hang right after login, try "
	    "IPQoS none.");

	f = doctor_client_add(ctx, "ConnectTimeout", "connecttimeout", "none",
	    DOCTOR_OK);
	doctor_report_set(&f->why, "Applies only while connecting.  With "
	    "none, a dead server costs a reconnect the kernel's SYN retries "
	    "(about 2 minutes) per attempt.");

	ct = doctor_kv_get(ctx->g, ctx->ng, "channeltimeout");
	if (ct != NULL && strcasecmp(ct, "none") != 0) {
		f = doctor_client_add(ctx, "ChannelTimeout", "channeltimeout",
		    "none", DOCTOR_KILLS);
		t = doctor_client_session_timeout(ct, "session:shell");
		f->secs = t;
		if (t < 0)
			f->verdict = DOCTOR_WARN;
		doctor_report_set(&f->why, "ssh closes its own channels that "
		    "moved no data for this long; keepalives do not count.");
		t = doctor_client_session_timeout(ct, "session:command");
		f->lverdict = t < 0 || t > ctx->keepalive ? DOCTOR_OK :
		    DOCTOR_WARN;
		doctor_report_set(&f->limpet, "limpet's heartbeat moves data "
		    "through the channel after %d s of silence, so a timeout "
		    "longer than that fires at most once, when the heartbeat "
		    "has learned to wait longer; limpet then reconnects and "
		    "stays below it (--keepalive fixes the interval).",
		    ctx->keepalive);
	}
}

/*
 * The timeout a ChannelTimeout value gives a channel of type type, or -1:
 * the first "pattern=interval" whose pattern matches wins.  "global="
 * applies to every channel.
 */
long
doctor_client_session_timeout(const char *value, const char *type)
{
	char	*copy, *p, *tok, *eq;
	long	 t = -1;

	copy = p = xstrdup(value);
	while ((tok = strsep(&p, " \t")) != NULL) {
		if ((eq = strchr(tok, '=')) == NULL)
			continue;
		*eq++ = '\0';
		if (sshconf_pattern(type, tok, 0) ||
		    strcmp(tok, "global") == 0) {
			t = doctor_seconds(eq);
			if (t == 0)
				t = -1;
			break;
		}
	}
	free(copy);
	return t;
}

/* Keywords in the client files that ssh refuses, and shadowed lines. */
static void
doctor_client_issues(struct doctor_ctx *ctx)
{
	struct doctor_finding	*f;
	struct sshconf_issue	*is;
	int			 i, user;
	char			*line;

	for (i = 0; client_watch[i] != NULL; i++)
		sshconf_check_shadow(&ctx->client, client_watch[i]);
	for (i = 0; i < ctx->client.nis; i++) {
		is = &ctx->client.is[i];
		if (is->kind == SSHCONF_UNEVALUATED ||
		    is->kind == SSHCONF_UNREADABLE) {
			doctor_report_note(&ctx->report, "%s line %d: %s: %s",
			    is->file, is->line, is->key, is->text);
			continue;
		}
		user = doctor_fix_is_user_file(ctx, is->file);
		if (is->kind == SSHCONF_SHADOWED) {
			f = doctor_report_add(&ctx->report, LAYER_CLIENT,
			    "shadowed setting", is->key, DOCTOR_WARN);
			doctor_report_where(f, is->file, is->line);
			doctor_report_set(&f->why, "%s.", is->text);
			doctor_report_set(&f->fix, "Move the block for this host "
			    "above the generic one, or set the value in the "
			    "generic block.");
			doctor_report_set(&f->fixfile, "%s", is->file);
			f->fixby = user ? FIXBY_USER : FIXBY_ADMIN;
			continue;
		}
		f = doctor_report_add(&ctx->report, LAYER_CLIENT,
		    is->kind == SSHCONF_WRONGSIDE ? "server keyword in a "
		    "client file" : "unknown keyword", is->key,
		    DOCTOR_BROKEN);
		doctor_report_where(f, is->file, is->line);
		doctor_report_set(&f->why, "%s.", is->text);
		doctor_report_set(&f->limpet, "limpet runs ssh, which fails "
		    "the same way.");
		line = doctor_client_line(is->file, is->line);
		if (line != NULL) {
			doctor_fix_add(&ctx->fixes, is->file, 0, EDIT_COMMENT,
			    is->line, line, NULL);
			doctor_report_set(&f->fix, "Comment out line %d:\n"
			    "    # %s", is->line, line);
			free(line);
		}
		if (is->kind == SSHCONF_WRONGSIDE &&
		    strncasecmp(is->key, "clientalive", 11) == 0) {
			doctor_report_set(&f->fix, "%s\nThe server reads "
			    "ClientAlive* from sshd_config on the server "
			    "(e.g. /etc/ssh/sshd_config.d/keepalive.conf), "
			    "never from an ssh_config.", f->fix != NULL ?
			    f->fix : "Delete the line.");
		}
		doctor_report_set(&f->fixfile, "%s", is->file);
		f->fixby = user ? FIXBY_USER : FIXBY_ADMIN;
	}
}

/* Line n of a local file, without its newline, or NULL. */
char *
doctor_client_line(const char *path, int n)
{
	FILE	*fp;
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 len;
	int	 i = 0;

	if (n <= 0 || (fp = fopen(path, "re")) == NULL)
		return NULL;
	while ((len = getline(&line, &cap, fp)) != -1) {
		if (++i == n) {
			while (len > 0 && (line[len - 1] == '\n' ||
			    line[len - 1] == '\r'))
				line[--len] = '\0';
			fclose(fp);
			return line;
		}
	}
	free(line);
	fclose(fp);
	return NULL;
}

/* Add every client finding. */
void
doctor_client_check(struct doctor_ctx *ctx)
{
	doctor_client_alive(ctx);
	doctor_client_rest(ctx);
	doctor_client_issues(ctx);
}
