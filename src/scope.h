/*
 * Where systemd-logind kills a user's processes at logout, a session
 * daemon starts in its own scope of the user's service manager
 * (systemd-run --user --scope); scope.c decides and does it.
 */
#ifndef LIMPET_SCOPE_H
#define LIMPET_SCOPE_H

#include <sys/types.h>

#include <stddef.h>

#define SCOPE_ASK_MS	2000	/* for each loginctl */
#define SCOPE_RUN_MS	5000	/* for systemd-run to start the daemon */
#define SCOPE_FD	3	/* the daemon's first client, in __daemon */

/* What scope_decide() found. */
#define SCOPE_NONE	0	/* nothing kills the daemon at logout */
#define SCOPE_TRY	1	/* start it with systemd-run */
#define SCOPE_CANNOT	2	/* it is killed at logout; why says why */

/* How this daemon was started, for ls (DETAIL "scope"); "" if moot. */
extern char		 scope_note[384];
/* The relay's argv[0]: how to run itself where /proc/self/exe is not. */
extern const char	*scope_argv0;

int	scope_asks(void);
int	scope_decide(char *, size_t, int *);
int	scope_self(char *, size_t);
int	scope_start(const char *, const char *, int, int, pid_t *, char *,
	    size_t);
int	scope_finish(pid_t, int, char *, size_t);
int	scope_daemon_main(int, char **);

#endif
