/*
 * Self-pipe signal delivery.  Portable (no signalfd), and the handler does
 * nothing but an async-signal-safe write.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "err.h"
#include "sig.h"

static int	sig_pipe[2] = { -1, -1 };
static int	sig_caught[32];
static int	sig_ncaught;

/* Write the signal number into the pipe. */
static void
sig_handler(int signo)
{
	unsigned char	c = (unsigned char)signo;
	int		saved = errno;

	if (write(sig_pipe[1], &c, 1) == -1) {
		/* Full pipe: a wakeup is pending anyway. */
	}
	errno = saved;
}

/* Route the given signals into the pipe. */
int
sig_init(const int *sigs, int n)
{
	struct sigaction	sa;
	int			i;

	if (sig_pipe[0] == -1) {
		if (compat_pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) == -1)
			return ERR_SYSTEM;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < n && sig_ncaught < 32; i++) {
		if (sigaction(sigs[i], &sa, NULL) == -1)
			return ERR_SYSTEM;
		sig_caught[sig_ncaught++] = sigs[i];
	}
	return 0;
}

/* The fd to poll for readability. */
int
sig_fd(void)
{
	return sig_pipe[0];
}

/* The next pending signal, or 0 when none. */
int
sig_next(void)
{
	unsigned char	c;

	if (sig_pipe[0] == -1 || read(sig_pipe[0], &c, 1) != 1)
		return 0;
	return c;
}

/*
 * In a forked child about to exec: restore default dispositions and close
 * the pipe.
 */
void
sig_reset(void)
{
	int	i;

	for (i = 0; i < sig_ncaught; i++)
		signal(sig_caught[i], SIG_DFL);
	sig_ncaught = 0;
	if (sig_pipe[0] != -1) {
		close(sig_pipe[0]);
		close(sig_pipe[1]);
		sig_pipe[0] = sig_pipe[1] = -1;
	}
}
