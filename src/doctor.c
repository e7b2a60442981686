/*
 * limpet doctor: find which timeout ends the user's idle SSH sessions.
 * It looks at every layer (the client's ssh config, the server's sshd
 * config, the login shell's auto-logout, systemd-logind, and with
 * --probe-nat the network path), says which of them end a plain ssh
 * session and which a limpet session, and with --fix applies the fixes
 * that are the user's to make.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "doctor.h"
#include "doctor-explain.h"
#include "doctor-report.h"
#include "err.h"

static const struct cmdline_opt doctor_opts[] = {
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

/* Entry point: argv starts after the word "doctor". */
int
doctor_main(int argc, char **argv)
{
	struct cmdline	cl;
	char		err[256];
	int		rc;

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
	} else {
		fprintf(stderr, "limpet doctor: checks not built yet\n");
		rc = 2;
	}
	cmdline_free(&cl);
	return rc;
}
