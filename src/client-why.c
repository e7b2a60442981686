/*
 * Why a session ended, for the line the client prints after the remote
 * program's exit: a shell that logged itself out says so in its last
 * words (TMOUT and its kin, the texts bash, ksh, zsh and tcsh print), and
 * a program ended by a signal gets the signal's name and the usual
 * senders of that signal, the user's own kill or timeout first.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "client-why.h"
#include "compat.h"

/* Recognised last words of a shell that ended itself. */
static const struct {
	const char	*text;
	const char	*why;
} why_words[] = {
	{ "timed out waiting for input: auto-logout",
	  "the remote shell logged itself out: TMOUT expired at the prompt "
	  "(limpet doctor shows where it is set)" },
	{ "shell will timeout in 60 seconds due to inactivity",
	  "the remote shell (ksh) logged itself out: TMOUT expired at the "
	  "prompt (limpet doctor shows where it is set)" },
	{ "timed out waiting for input",
	  "the remote shell logged itself out: TMOUT expired at the prompt "
	  "(limpet doctor shows where it is set)" },
	{ "zsh: timeout",
	  "the remote shell (zsh) logged itself out: TMOUT expired at the "
	  "prompt (limpet doctor shows where it is set)" },
	{ "auto-logout",
	  "the remote shell (tcsh) logged itself out: autologout expired "
	  "(limpet doctor shows where it is set)" },
};

/* Signal names, and who usually sends the signals that end sessions. */
static const struct {
	int		 sig;
	const char	*name;
	const char	*who;	/* NULL: no usual sender to name */
} why_sigs[] = {
	{ SIGHUP, "SIGHUP", "a kill -HUP (yours or an admin's), or its "
	  "terminal was hung up" },
	{ SIGINT, "SIGINT", "a Ctrl-C or a kill -INT" },
	{ SIGQUIT, "SIGQUIT", "a Ctrl-\\ or a kill -QUIT" },
	{ SIGILL, "SIGILL", NULL },
	{ SIGABRT, "SIGABRT", NULL },
	{ SIGBUS, "SIGBUS", NULL },
	{ SIGFPE, "SIGFPE", NULL },
	{ SIGKILL, "SIGKILL", "your own kill -9 or timeout -s KILL, an "
	  "admin, the OOM killer, or systemd-logind finishing a stopped "
	  "session (limpet doctor checks logind)" },
	{ SIGUSR1, "SIGUSR1", NULL },
	{ SIGSEGV, "SIGSEGV", NULL },
	{ SIGUSR2, "SIGUSR2", NULL },
	{ SIGPIPE, "SIGPIPE", NULL },
	{ SIGALRM, "SIGALRM", "its own alarm, or a kill -ALRM" },
	{ SIGTERM, "SIGTERM", "your own kill or timeout, an admin, a "
	  "shutdown, or systemd-logind stopping the session "
	  "(StopIdleSessionSec, KillUserProcesses: limpet doctor checks "
	  "logind)" },
	{ SIGXCPU, "SIGXCPU", "a CPU time limit (ulimit -t)" },
};

/* The name of signal sig ("SIGTERM"), or NULL if it has none here. */
const char *
client_why_signame(int sig)
{
	size_t	i;

	for (i = 0; i < sizeof why_sigs / sizeof why_sigs[0]; i++)
		if (why_sigs[i].sig == sig)
			return why_sigs[i].name;
	return NULL;
}

/*
 * A one-line reason for the end of a session, from the last bytes it
 * printed (tail, len) and the remote program's exit status (128 + N for
 * signal N, -1 unknown), or NULL if nothing explains it.  The text may
 * live in a static buffer: use it before the next call.
 */
const char *
client_why_exit(const char *tail, size_t len, int status)
{
	static char	why[256];
	const char	*name = NULL, *who = NULL;
	size_t		 i;
	int		 sig;

	for (i = 0; i < sizeof why_words / sizeof why_words[0]; i++)
		if (tail != NULL && memmem(tail, len, why_words[i].text,
		    strlen(why_words[i].text)) != NULL)
			return why_words[i].why;
	if (status <= 128 || status >= 128 + 65)
		return NULL;
	sig = status - 128;
	for (i = 0; i < sizeof why_sigs / sizeof why_sigs[0]; i++) {
		if (why_sigs[i].sig == sig) {
			name = why_sigs[i].name;
			who = why_sigs[i].who;
		}
	}
	if (name == NULL)
		snprintf(why, sizeof why, "the remote program ended by signal "
		    "%d (exit status %d)", sig, status);
	else if (who == NULL)
		snprintf(why, sizeof why, "the remote program ended by %s "
		    "(exit status %d)", name, status);
	else
		snprintf(why, sizeof why, "the remote program ended by %s "
		    "(exit status %d): %s", name, status, who);
	return why;
}
