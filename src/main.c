/*
 * limpet: an SSH session that survives idle timeouts, network cuts, sleep
 * and roaming.  One binary plays every role; this file picks the role.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmdline.h"
#include "doctor/doctor.h"
#include "relay.h"
#include "scope.h"
#include "xmalloc.h"

static const char usage_text[] =
"usage: limpet [limpet options] [ssh options] destination [command [arg ...]]\n"
"       limpet ls [limpet options] [ssh options] destination\n"
"       limpet attach [limpet options] [ssh options] destination [ID]\n"
"       limpet kill [limpet options] [ssh options] destination ID\n"
"       limpet kill --all [limpet options] [ssh options] destination\n"
"       limpet doctor [doctor options] [ssh options] [destination]\n"
"       limpet [limpet options] -G destination   (the effective settings)\n"
"       limpet new -d [-n COUNT] [limpet options] [ssh options] destination\n"
"              [command]   (COUNT sessions over one connection)\n"
"       limpet [limpet options] -S NAME destination   (attach or start NAME)\n"
"       limpet new [limpet options] [ssh options] destination [command]\n"
"              (a new session, as without the word new)\n"
"\n"
"limpet options (long options, before any ssh option; they may also come\n"
"before the subcommand):\n"
"  --keepalive SECONDS   fix the idle heartbeat (default: learned, 25-300)\n"
"  --dead SECONDS        declare the link dead after this long without an\n"
"                        answer to pending input or a heartbeat (default 2)\n"
"  --give-up SECONDS     stop reconnecting after this long (default: never)\n"
"  --ssh PROGRAM         the ssh to run (default: ssh)\n"
"  --server-path PATH    the limpet binary on the server\n"
"  --server-dir PATH     the session directory on the server\n"
"  --ring-size BYTES     output kept on the server for replay (new session)\n"
"  --predict MODE        local echo: adaptive (default), always, never\n"
"  --verbose             log what happens to stderr (or $LIMPET_LOG)\n"
"  --install             install limpet on the server if it has none\n"
"  --json                ls: the sessions as JSON\n"
"  --help, --version\n"
"\n"
"ssh options (-p -i -J -l -F -o -A -L -R -D -4 -6 -v ...) pass through to\n"
"every ssh that limpet starts; as with ssh they may also follow the\n"
"destination.  Escapes, typed after Enter: ~. detach and quit, ~r reconnect\n"
"now, ~s status, ~^Z suspend, ~? help, ~~ a literal ~.\n"
"Per-host defaults: ~/.config/limpet/config (Host sections, ssh_config\n"
"style; keywords are the long options without --).\n";

/* Print usage to f. */
static void
main_usage(FILE *f)
{
	fputs(usage_text, f);
}

/*
 * Keep, of the n leading limpet options in lead, those doctor knows
 * (--ssh, --keepalive, --json) and drop the others an alias carries
 * (l='limpet --server-path X --verbose' used as `l doctor host`): they
 * are about sessions, and the alias must serve every subcommand.
 * Returns how many words are kept at the start of lead.
 */
static int
main_doctor_lead(int n, char **lead)
{
	const struct cmdline_opt	*o;
	size_t				 len;
	int				 i, kept = 0, keep, arg;

	for (i = 0; i < n; i++) {
		len = strcspn(lead[i] + 2, "=");
		keep = 0;
		for (o = doctor_opts; o->name != NULL; o++)
			if (strlen(o->name) == len &&
			    strncmp(o->name, lead[i] + 2, len) == 0)
				keep = 1;
		for (o = cmdline_client_opts; o->name != NULL; o++)
			if (strlen(o->name) == len &&
			    strncmp(o->name, lead[i] + 2, len) == 0)
				break;
		arg = o->name != NULL && o->has_arg && lead[i][2 + len] == '\0';
		if (keep)
			lead[kept++] = lead[i];
		if (arg && i + 1 < n) {
			i++;
			if (keep)
				lead[kept++] = lead[i];
		}
	}
	return kept;
}

/*
 * limpet's options given before a subcommand word (limpet --verbose attach
 * host, as git takes them) go after it: argv[1..nlead] are those options
 * and argv[nlead + 1] the subcommand.  Returns the subcommand's exit code.
 */
static int
main_sub(int argc, char **argv, int nlead)
{
	const char	*sub = argv[nlead + 1];
	char		**nargv;
	int		  nargc = argc - 2, r, kept;

	if (strcmp(sub, "relay") == 0) {
		fprintf(stderr, "limpet: limpet relay takes no options\n");
		return 255;
	}
	nargv = xcalloc((size_t)nargc + 1, sizeof *nargv);
	memcpy(nargv, argv + 1, (size_t)nlead * sizeof *nargv);
	kept = nlead;
	if (strcmp(sub, "doctor") == 0)
		kept = main_doctor_lead(nlead, nargv);
	memcpy(nargv + kept, argv + nlead + 2,
	    (size_t)(nargc - nlead) * sizeof *nargv);
	nargc -= nlead - kept;
	nlead = kept;
	if (strcmp(sub, "doctor") == 0)
		r = doctor_main(nargc, nargv);
	else if (strcmp(sub, "ls") == 0)
		r = client_main(CLIENT_LS, nargc, nargv);
	else if (strcmp(sub, "attach") == 0)
		r = client_main(CLIENT_ATTACH, nargc, nargv);
	else if (strcmp(sub, "-G") == 0)
		r = client_main(CLIENT_CONFIG, nargc, nargv);
	else if (strcmp(sub, "new") == 0 && nargc > nlead &&
	    strcmp(nargv[nlead], "-d") == 0) {
		/* new -d: the -d is ours, not an ssh option. */
		memmove(nargv + nlead, nargv + nlead + 1,
		    (size_t)(nargc - nlead) * sizeof *nargv);
		nargc--;
		/* new -d -n COUNT: so is -n (client-admin.c). */
		if ((r = client_take_count(&nargc, nargv, nlead)) == 0)
			r = client_main(CLIENT_DETACHED, nargc, nargv);
	} else if (strcmp(sub, "new") == 0)
		r = client_main(CLIENT_NEW, nargc, nargv);
	else
		r = client_main(CLIENT_KILL, nargc, nargv);
	free(nargv);
	return r;
}

/*
 * --help, -h or --version among limpet's leading options (an alias such
 * as l='limpet --server-path X' used as `l --help`): 'h' or 'v', else 0.
 */
static int
main_lead_info(int argc, char **argv)
{
	const struct cmdline_opt	*o;
	size_t				 len;
	int				 i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return 'h';
		if (strcmp(argv[i], "--version") == 0)
			return 'v';
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0')
			return 0;	/* ssh's options or "--": not ours */
		len = strcspn(argv[i] + 2, "=");
		for (o = cmdline_client_opts; o->name != NULL; o++)
			if (strlen(o->name) == len &&
			    strncmp(o->name, argv[i] + 2, len) == 0)
				break;
		if (o->name != NULL && o->has_arg && argv[i][2 + len] == '\0')
			i++;	/* its value */
	}
	return 0;
}

/* True if word names a subcommand. */
static int
main_is_sub(const char *word)
{
	static const char *const subs[] = {
		"relay", "doctor", "ls", "attach", "kill", "-G", "new", NULL
	};
	int	i;

	for (i = 0; subs[i] != NULL; i++)
		if (strcmp(word, subs[i]) == 0)
			return 1;
	return 0;
}

/* Pick the role from the first word that is not one of limpet's options. */
int
main(int argc, char **argv)
{
	const char	*sub = argc > 1 ? argv[1] : NULL;
	char		 err[256];
	int		 nlead;

	if (sub == NULL) {
		main_usage(stderr);
		return 255;
	}
	switch (main_lead_info(argc, argv)) {
	case 'h':
		main_usage(stdout);
		return 0;
	case 'v':
		printf("limpet %s (protocol %d)\n", LIMPET_VERSION,
		    CLIENT_PROTO_VERSION);
		return 0;
	}
	if (strcmp(sub, "relay") == 0) {
		scope_argv0 = argv[0];	/* to start daemons (relay-spawn.c) */
		return relay_main(argc - 2, argv + 2);
	}
	/* What systemd-run runs to start a session daemon (scope.c). */
	if (strcmp(sub, "__daemon") == 0)
		return scope_daemon_main(argc - 2, argv + 2);
	nlead = cmdline_lead(argc - 1, argv + 1, cmdline_client_opts, NULL,
	    err, sizeof err);
	if (nlead < 0) {
		fprintf(stderr, "limpet: %s (limpet --help)\n", err);
		return 255;
	}
	if (nlead + 1 < argc && main_is_sub(argv[nlead + 1]))
		return main_sub(argc, argv, nlead);
	return client_main(CLIENT_NEW, argc - 1, argv + 1);
}
