/*
 * limpet: an SSH session that survives idle timeouts, network cuts, sleep
 * and roaming.  One binary plays every role; this file picks the role.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "doctor/doctor.h"
#include "relay.h"

static const char usage_text[] =
"usage: limpet [limpet options] [ssh options] destination [command [arg ...]]\n"
"       limpet ls [limpet options] [ssh options] destination\n"
"       limpet attach [limpet options] [ssh options] destination [ID]\n"
"       limpet kill [limpet options] [ssh options] destination ID\n"
"       limpet kill --all [limpet options] [ssh options] destination\n"
"       limpet doctor [doctor options] [ssh options] [destination]\n"
"\n"
"limpet options (long options, before any ssh option):\n"
"  --keepalive SECONDS   heartbeat interval when idle (default 25)\n"
"  --dead SECONDS        declare the link dead after this long without an\n"
"                        answer to pending input or a heartbeat (default 5)\n"
"  --give-up SECONDS     stop reconnecting after this long (default: never)\n"
"  --ssh PROGRAM         the ssh to run (default: ssh)\n"
"  --server-path PATH    the limpet binary on the server\n"
"  --ring-size BYTES     output kept on the server for replay (new session)\n"
"  --verbose             log what happens to stderr (or $LIMPET_LOG)\n"
"  --help, --version\n"
"\n"
"ssh options (-p -i -J -l -F -o -A -L -R -D -4 -6 -v ...) pass through to\n"
"every ssh that limpet starts.  Escapes, typed after Enter: ~. detach and\n"
"quit, ~r reconnect now, ~s status, ~^Z suspend, ~? help, ~~ a literal ~.\n";

/* Print usage to f. */
static void
main_usage(FILE *f)
{
	fputs(usage_text, f);
}

/* Pick the role from the first argument. */
int
main(int argc, char **argv)
{
	const char	*sub = argc > 1 ? argv[1] : NULL;

	if (sub == NULL) {
		main_usage(stderr);
		return 255;
	}
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		main_usage(stdout);
		return 0;
	}
	if (strcmp(sub, "--version") == 0) {
		printf("limpet %s (protocol %d)\n", LIMPET_VERSION,
		    CLIENT_PROTO_VERSION);
		return 0;
	}
	if (strcmp(sub, "relay") == 0)
		return relay_main(argc - 2, argv + 2);
	if (strcmp(sub, "doctor") == 0)
		return doctor_main(argc - 2, argv + 2);
	if (strcmp(sub, "ls") == 0)
		return client_main(CLIENT_LS, argc - 2, argv + 2);
	if (strcmp(sub, "attach") == 0)
		return client_main(CLIENT_ATTACH, argc - 2, argv + 2);
	if (strcmp(sub, "kill") == 0)
		return client_main(CLIENT_KILL, argc - 2, argv + 2);
	return client_main(CLIENT_NEW, argc - 1, argv + 1);
}
