/*
 * A child on a new PTY: forkpty() where libc has it (Linux's -lutil),
 * else the POSIX calls it is made of (posix_openpt, grantpt, unlockpt,
 * ptsname), a new session and the slave as the controlling terminal.
 */
#include <sys/types.h>
#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>
#if defined(HAVE_FORKPTY)
#include <pty.h>
#endif

#include "compat.h"

#if !defined(HAVE_FORKPTY)
/* Open a PTY pair; the master in *mfd, the slave in *sfd.  0 or -1. */
static int
compat_openpty(int *mfd, int *sfd, const struct winsize *ws)
{
	const char	*name;
	int		 m, s, saved;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY)) == -1)
		return -1;
	if (grantpt(m) == -1 || unlockpt(m) == -1 ||
	    (name = ptsname(m)) == NULL ||
	    (s = open(name, O_RDWR | O_NOCTTY)) == -1) {
		saved = errno;
		close(m);
		errno = saved;
		return -1;
	}
	if (ws != NULL)
		(void)ioctl(s, TIOCSWINSZ, ws);
	*mfd = m;
	*sfd = s;
	return 0;
}

/* In the child: make the slave the controlling terminal and stdio. */
static void
compat_login_tty(int s)
{
	setsid();
#if defined(TIOCSCTTY)
	(void)ioctl(s, TIOCSCTTY, 0);
#endif
	if (dup2(s, STDIN_FILENO) == -1 || dup2(s, STDOUT_FILENO) == -1 ||
	    dup2(s, STDERR_FILENO) == -1)
		_exit(127);
	if (s > STDERR_FILENO)
		close(s);
}
#endif

/*
 * Fork a child whose stdio and controlling terminal are a new PTY of size
 * ws; the parent gets the master in *master.  Returns as fork() does.
 */
pid_t
compat_forkpty(int *master, const struct winsize *ws)
{
#if defined(HAVE_FORKPTY)
	return forkpty(master, NULL, NULL, ws);
#else
	pid_t	pid;
	int	m, s, saved;

	if (compat_openpty(&m, &s, ws) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		saved = errno;
		close(m);
		close(s);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		close(m);
		compat_login_tty(s);
		return 0;
	}
	close(s);
	*master = m;
	return pid;
#endif
}

/*
 * The termios the program on the slave set, read through the master: on
 * Linux (and the BSDs) tcgetattr() on the master answers for the pair.
 * Where the master refuses, the slave is opened by name (no controlling
 * terminal taken), asked and closed.
 */
int
compat_pty_termios(int master, struct termios *t)
{
	const char	*name;
	int		 s, r, saved;

	if (tcgetattr(master, t) == 0)
		return 0;
	if ((name = ptsname(master)) == NULL ||
	    (s = open(name, O_RDONLY | O_NOCTTY | O_NONBLOCK)) == -1)
		return -1;
	r = tcgetattr(s, t);
	saved = errno;
	close(s);
	errno = saved;
	return r;
}
