/*
 * limpet doctor: find which timeout ends the user's idle SSH sessions.
 * It looks at every layer (the client's ssh config, the server's sshd
 * config, the login shell's auto-logout, systemd-logind, and with
 * --probe-nat the network path), says which of them end a plain ssh
 * session and which a limpet session, and with --fix applies the fixes
 * that are the user's to make.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "doctor.h"
#include "doctor-client.h"
#include "doctor-ctx.h"
#include "doctor-explain.h"
#include "doctor-fix.h"
#include "doctor-nat.h"
#include "doctor-remote.h"
#include "doctor-report.h"
#include "doctor-server.h"
#include "err.h"
#include "proto.h"
#include "xmalloc.h"

const struct cmdline_opt doctor_opts[] = {
	{ "probe-nat", 0 },
	{ "probe-max", 1 },
	{ "probe-times", 1 },
	{ "probe-wait", 1 },
	{ "fix", 0 },
	{ "yes", 0 },
	{ "system", 0 },
	{ "json", 0 },
	{ "explain", 1 },
	{ "status", 1 },
	{ "ssh", 1 },
	{ "keepalive", 1 },
	{ "help", 0 },
	{ NULL, 0 }
};

static const char doctor_usage_text[] =
"usage: limpet doctor [doctor options] [ssh options] destination\n"
"       limpet doctor --explain 'MESSAGE' [--status N]\n"
"\n"
"Checks every layer that can end an idle SSH session and says which one\n"
"ends yours first, with the file and line to change.\n"
"\n"
"  --probe-nat          measure the idle timeout of NAT/firewall state on\n"
"                       the path (takes up to --probe-max)\n"
"  --probe-max SECONDS  longest idle time to probe (default 1800)\n"
"  --probe-times LIST   idle times to probe, in seconds, comma-separated\n"
"                       (default 30,60,120,240,480,960,1800)\n"
"  --probe-wait SECONDS how long a probed connection may take to answer\n"
"                       (default 10)\n"
"  --fix                apply the fixes that are yours to make, after\n"
"                       showing them (--yes: do not ask)\n"
"  --system             with --fix as root: also fix system files\n"
"  --json               print the findings as JSON\n"
"  --explain MESSAGE    say what a disconnect message means\n"
"  --status N           the exit status that came with it\n"
"  --ssh PROGRAM        the ssh to run (default: ssh)\n"
"  --keepalive SECONDS  the limpet heartbeat to judge against (default 25)\n"
"\n"
"Exit status: 0 nothing ends an idle session, 1 something does, 2 doctor\n"
"could not run.\n";

/* Print usage to fp. */
static void
doctor_usage(FILE *fp)
{
	fputs(doctor_usage_text, fp);
}

/* --explain: print the causes of a message and return 0. */
static int
doctor_explain(const struct cmdline *cl)
{
	const char	*st = cmdline_get(cl, "status");
	char		*end;
	long		 status = -1;

	if (st != NULL) {
		status = strtol(st, &end, 10);
		if (end == st || *end != '\0' || status < 0 || status > 255) {
			fprintf(stderr, "limpet doctor: --status wants an exit "
			    "status from 0 to 255\n");
			return 2;
		}
	}
	doctor_explain_print(cmdline_get(cl, "explain"), (int)status, stdout);
	return 0;
}

/* Read the options into ctx; 0 or ERR_USAGE with err filled in. */
static int
doctor_setup(struct doctor_ctx *ctx, const struct cmdline *cl, char *err,
    size_t errlen)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->ssh = cmdline_get(cl, "ssh") != NULL ? cmdline_get(cl, "ssh") :
	    "ssh";
	ctx->sshopts = cl->ssh;
	ctx->nsshopts = cl->nssh;
	ctx->dest = cl->dest;
	ctx->fix = cmdline_has(cl, "fix");
	ctx->yes = cmdline_has(cl, "yes");
	ctx->system = cmdline_has(cl, "system");
	ctx->json = cmdline_has(cl, "json");
	if (cl->ncmd > 0) {
		snprintf(err, errlen, "doctor takes no remote command");
		return ERR_USAGE;
	}
	if (doctor_client_check_dest(ctx, err, errlen) != 0)
		return ERR_USAGE;
	if (cmdline_seconds(cl, "keepalive", PROTO_KEEPALIVE_S,
	    &ctx->keepalive, err, errlen) != 0)
		return ERR_USAGE;
	return doctor_nat_options(&ctx->nat, cl, err, errlen);
}

/* Free what the checks kept. */
static void
doctor_cleanup(struct doctor_ctx *ctx)
{
	doctor_kv_free(ctx->g, ctx->ng);
	sshconf_free(&ctx->client);
	doctor_remote_free(&ctx->remote);
	doctor_report_free(&ctx->report);
	doctor_fix_free(&ctx->fixes);
	doctor_nat_free(&ctx->nat);
	free(ctx->host);
	free(ctx->home);
	free(ctx->localuser);
	free(ctx->userconf);
}

/* Run every check, print the report, apply fixes; the exit status. */
static int
doctor_run(struct doctor_ctx *ctx)
{
	int	status, broken;

	doctor_report_init(&ctx->report, ctx->dest);
	signal(SIGPIPE, SIG_IGN);
	if (doctor_client_load(ctx) != 0) {
		fprintf(stderr, "limpet doctor: cannot run %s\n", ctx->ssh);
		return 2;
	}
	if (!ctx->json)
		fprintf(stderr, "limpet doctor: asking %s (one ssh "
		    "connection)...\n", ctx->dest);
	broken = doctor_report_find(&ctx->report, LAYER_CLIENT, "ssh -G") !=
	    NULL;
	if (broken)
		xasprintf(&ctx->remote.error, "ssh refuses the client "
		    "configuration (see above), so no connection was made");
	else
		doctor_remote_run(ctx);
	/* The server's timers first: the probe must know them. */
	if (ctx->remote.ok) {
		doctor_server_check(ctx);
		doctor_shell_check(ctx);
		doctor_logind_check(ctx);
		doctor_nat_probe(ctx);
	} else {
		doctor_report_note(&ctx->report, "could not check the server: "
		    "%s", ctx->remote.error != NULL ? ctx->remote.error :
		    "no answer");
	}
	doctor_client_check(ctx);
	doctor_nat_check(ctx);
	if (!ctx->remote.ok && !broken)
		xasprintf(&ctx->report.error, "the server could not be "
		    "checked: %s", ctx->remote.error != NULL ?
		    ctx->remote.error : "no answer");
	if (ctx->json)
		doctor_report_json(&ctx->report, stdout);
	else
		doctor_report_text(&ctx->report, stdout);
	status = doctor_report_status(&ctx->report);
	if (ctx->report.error != NULL)
		fprintf(stderr, "limpet doctor: %s\n", ctx->report.error);
	if (ctx->fix) {
		fflush(stdout);
		doctor_fix_run(ctx, &ctx->fixes);
	}
	fflush(stdout);
	return status;
}

/* Entry point: argv starts after the word "doctor". */
int
doctor_main(int argc, char **argv)
{
	struct cmdline		cl;
	struct doctor_ctx	ctx;
	char			err[256];
	int			rc;

	if (cmdline_split(argc, argv, doctor_opts, 0, &cl, err,
	    sizeof err) != 0) {
		fprintf(stderr, "limpet doctor: %s\n", err);
		doctor_usage(stderr);
		return 2;
	}
	if (cmdline_has(&cl, "help")) {
		doctor_usage(stdout);
		rc = 0;
	} else if (cmdline_has(&cl, "explain"))
		rc = doctor_explain(&cl);
	else if (cl.dest == NULL) {
		fprintf(stderr, "limpet doctor: no destination given\n");
		doctor_usage(stderr);
		rc = 2;
	} else if (doctor_setup(&ctx, &cl, err, sizeof err) != 0) {
		fprintf(stderr, "limpet doctor: %s\n", err);
		rc = 2;
		doctor_nat_free(&ctx.nat);
	} else {
		rc = doctor_run(&ctx);
		doctor_cleanup(&ctx);
	}
	cmdline_free(&cl);
	return rc;
}
