/*
 * PTY and program start.  The session runs the user's login shell as a
 * login shell ("-bash") in the home directory, or, with a command, the
 * shell with -c and the words joined by spaces, exactly as sshd runs a
 * command, so quoting behaves the same as with ssh.
 */
#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "compat.h"
#include "err.h"
#include "pty.h"
#include "sig.h"
#include "xmalloc.h"

/*
 * Whether a client may set NAME=value kv for the session.  LIMPET_TEST_*
 * hooks only exist in test builds (-DLIMPET_TEST_HOOKS, the sanitized
 * build): a released daemon never lets a client set them.
 */
int
pty_env_allowed(const char *kv)
{
	static const char *names[] = {
		"TERM=", "COLORTERM=", "LANG=", "LC_",
#ifdef LIMPET_TEST_HOOKS
		"LIMPET_TEST_",
#endif
		NULL
	};
	int	i;

	if (strchr(kv, '=') == NULL)
		return 0;
	for (i = 0; names[i] != NULL; i++)
		if (strncmp(kv, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

/* The command as one string: the words joined by spaces, as ssh does. */
char *
pty_command_line(const struct pty_spec *spec)
{
	size_t	len = 1;
	char	*s;
	int	 i;

	for (i = 0; i < spec->argc; i++)
		len += strlen(spec->argv[i]) + 1;
	s = xmalloc(len);
	s[0] = '\0';
	for (i = 0; i < spec->argc; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, spec->argv[i]);
	}
	return s;
}

/*
 * In the child: set up the environment, directory and exec.  Also the
 * start of a pipe session's program (daemon-pipe.c), on its pipes.
 */
void __attribute__((noreturn))
pty_child(const struct pty_spec *spec, const char *shell, const char *home)
{
	const char	*slash;
	char		 argv0[256], *cmd;
	size_t		 n;
	sigset_t	 none;
	int		 i;

	sig_reset();
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	compat_closefrom(STDERR_FILENO + 1);

	for (i = 0; i < spec->envc; i++)
		if (pty_env_allowed(spec->env[i]))
			putenv(spec->env[i]);
	setenv("LIMPET_SESSION", spec->session, 1);
	setenv("SHELL", shell, 1);
	if ((home == NULL || chdir(home) == -1) && chdir("/") == -1) {
		/* Stay where the daemon is. */
	}

	if (spec->argc == 0) {
		slash = strrchr(shell, '/');
		slash = slash != NULL ? slash + 1 : shell;
		n = strlen(slash);
		if (n > sizeof argv0 - 2)
			n = sizeof argv0 - 2;
		argv0[0] = '-';
		memcpy(argv0 + 1, slash, n);
		argv0[n + 1] = '\0';
		execl(shell, argv0, (char *)NULL);
	} else {
		cmd = pty_command_line(spec);
		execl(shell, shell, "-c", cmd, (char *)NULL);
	}
	fprintf(stderr, "limpet: cannot run %s: %s\r\n", shell,
	    strerror(errno));
	_exit(127);
}

/*
 * Start the program on a new PTY of the given size.  The master fd
 * (non-blocking, close-on-exec) and the child's pid are returned.
 */
int
pty_spawn(const struct pty_spec *spec, int *master, pid_t *pid)
{
	struct winsize	 ws;
	struct passwd	*pw;
	const char	*shell = NULL, *home = NULL;
	sigset_t	 all, old;
	int		 fd, saved;
	pid_t		 p;

	if ((pw = getpwuid(getuid())) != NULL) {
		shell = pw->pw_shell;
		home = pw->pw_dir;
	}
	if (shell == NULL || *shell == '\0')
		shell = "/bin/sh";
	memset(&ws, 0, sizeof ws);
	ws.ws_row = spec->rows != 0 ? spec->rows : 24;
	ws.ws_col = spec->cols != 0 ? spec->cols : 80;

	/* No signal may run a handler in the child before it execs. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	p = compat_forkpty(&fd, &ws);
	if (p == -1) {
		saved = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		errno = saved;
		return ERR_SYSTEM;
	}
	if (p == 0)
		pty_child(spec, shell, home);
	sigprocmask(SIG_SETMASK, &old, NULL);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	*master = fd;
	*pid = p;
	return 0;
}

/* Tell the PTY (and so the program, by SIGWINCH) its new size. */
int
pty_resize(int fd, uint16_t rows, uint16_t cols)
{
	struct winsize	ws;

	if (rows == 0 || cols == 0)
		return ERR_RANGE;
	memset(&ws, 0, sizeof ws);
	ws.ws_row = rows;
	ws.ws_col = cols;
	if (ioctl(fd, TIOCSWINSZ, &ws) == -1)
		return ERR_SYSTEM;
	return 0;
}
