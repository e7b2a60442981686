/*
 * Child processes.  proc_spawn() makes every pipe close-on-exec, so no
 * other child inherits them, and undoes all it did on any failure, so a
 * failed spawn leaks neither an fd nor a zombie.  Whether the program
 * could be executed is known before proc_spawn() returns: the child
 * reports a failed exec through one more close-on-exec pipe, which reads
 * as end-of-file once the exec succeeded.  Signals are blocked across
 * fork() so that no handler of ours runs in the child before it resets
 * them.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "clock.h"
#include "err.h"
#include "proc.h"

/* Strict POSIX headers may hide NSIG: sigaction() refuses the extra ones. */
#ifndef NSIG
#define NSIG	128
#endif

/* An empty process: no pid, no fds. */
void
proc_init(struct proc *p)
{
	p->pid = -1;
	p->fd[0] = p->fd[1] = p->fd[2] = -1;
	p->status = -1;
	p->termsig = 0;
}

/* Close fd if open and mark it closed. */
static void
proc_closefd(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* Move fd to 3 or above (the child's 0-2 are being replaced). */
static int
proc_child_high(int fd)
{
	int	nfd;

	if (fd == -1 || fd > 2)
		return fd;
	if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1)
		return -1;
	return nfd;
}

/*
 * In the child, between fork() and exec: wire src[i] to fd i (-1 leaves
 * fd i as inherited), keep errfd as fd 3, close everything else, and give
 * the program default signal handling.  Only async-signal-safe calls.
 */
static int
proc_child_setup(int src[3], int *errfd, int flags)
{
	struct sigaction	sa;
	sigset_t		none;
	int			i;

	if ((*errfd = proc_child_high(*errfd)) == -1)
		return -1;
	for (i = 0; i < 3; i++)
		if (src[i] != -1 && (src[i] = proc_child_high(src[i])) == -1)
			return -1;
	for (i = 0; i < 3; i++)
		if (src[i] != -1 && dup2(src[i], i) == -1)
			return -1;
	if (*errfd != 3) {
		if (dup2(*errfd, 3) == -1 ||
		    fcntl(3, F_SETFD, FD_CLOEXEC) == -1)
			return -1;
		*errfd = 3;
	}
	compat_closefrom(4);
	/* Our handlers mean nothing to the program: back to defaults. */
	memset(&sa, 0, sizeof sa);
	for (i = 1; i < NSIG; i++) {
		struct sigaction	old;

		if (sigaction(i, NULL, &old) == 0 &&
		    old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
			sa.sa_handler = SIG_DFL;
			sigaction(i, &sa, NULL);
		}
	}
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	if (flags & PROC_NOINT) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGINT, &sa, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return 0;
}

/* The child: set up, exec, or tell the parent errno through errfd. */
static void
proc_child(char *const *argv, int src[3], int errfd, int flags)
{
	int	e;

	if (proc_child_setup(src, &errfd, flags) == 0)
		execvp(argv[0], argv);
	e = errno;
	(void)!write(errfd, &e, sizeof e);
	_exit(127);
}

/*
 * Make the fds the child gets: a pipe or /dev/null per how[i] (child's
 * end in child[i], ours in p->fd[i]).  On failure everything made so far
 * is closed.
 */
static int
proc_make_fds(struct proc *p, const int how[3], int child[3])
{
	int	i, pp[2], e;

	for (i = 0; i < 3; i++)
		child[i] = -1;
	for (i = 0; i < 3; i++) {
		if (how[i] == PROC_PIPE) {
			if (compat_pipe2(pp, O_CLOEXEC) == -1)
				goto fail;
			/* stdin: the child reads pp[0], else writes pp[1]. */
			child[i] = i == 0 ? pp[0] : pp[1];
			p->fd[i] = i == 0 ? pp[1] : pp[0];
		} else if (how[i] == PROC_NULL) {
			if ((child[i] = open("/dev/null", O_RDWR |
			    O_CLOEXEC)) == -1)
				goto fail;
		}
	}
	return 0;
fail:
	e = errno;
	for (i = 0; i < 3; i++) {
		proc_closefd(&child[i]);
		proc_closefd(&p->fd[i]);
	}
	errno = e;
	return ERR_SYSTEM;
}

/*
 * Wait for the child to exec: 0 once it did, else the child's errno
 * (with the child reaped).
 */
static int
proc_exec_result(struct proc *p, int rfd)
{
	ssize_t	n;
	int	e = 0, st;

	do
		n = read(rfd, &e, sizeof e);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof e)
		return 0;
	while (waitpid(p->pid, &st, 0) == -1 && errno == EINTR)
		;
	p->pid = -1;
	return e != 0 ? e : EIO;
}

/*
 * Start argv[0] (searched in PATH) with argv; how[i] says what its fd i
 * is.  Fills p (p->fd has our pipe ends, close-on-exec).  Returns 0,
 * ERR_NOTFOUND if there is no such program, or ERR_SYSTEM (errno set);
 * on failure no fd stays open and no child is left.
 */
int
proc_spawn(struct proc *p, char *const *argv, const int how[3], int flags)
{
	sigset_t	all, old;
	int		child[3], ep[2], i, e;

	proc_init(p);
	if (proc_make_fds(p, how, child) != 0)
		return ERR_SYSTEM;
	if (compat_pipe2(ep, O_CLOEXEC) == -1) {
		e = errno;
		goto fail;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	p->pid = fork();
	if (p->pid == 0) {
		close(ep[0]);
		for (i = 0; i < 3; i++)
			proc_closefd(&p->fd[i]);
		proc_child(argv, child, ep[1], flags);
	}
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(ep[1]);
	for (i = 0; i < 3; i++)
		proc_closefd(&child[i]);
	if (p->pid != -1)
		e = proc_exec_result(p, ep[0]);
	close(ep[0]);
	if (p->pid == -1)
		goto fail;
	if (flags & PROC_NONBLOCK)
		for (i = 0; i < 3; i++)
			if (p->fd[i] != -1)
				fcntl(p->fd[i], F_SETFL, O_NONBLOCK);
	return 0;
fail:
	for (i = 0; i < 3; i++) {
		proc_closefd(&child[i]);
		proc_closefd(&p->fd[i]);
	}
	p->pid = -1;
	errno = e;
	return e == ENOENT ? ERR_NOTFOUND : ERR_SYSTEM;
}

/* Close our ends of the child's pipes (it sees end-of-file, or EPIPE). */
void
proc_close(struct proc *p)
{
	int	i;

	for (i = 0; i < 3; i++)
		proc_closefd(&p->fd[i]);
}

/* Send sig to the child, if there still is one; 0 or ERR_SYSTEM. */
int
proc_kill(struct proc *p, int sig)
{
	if (p->pid <= 0)
		return 0;
	return kill(p->pid, sig) == 0 ? 0 : ERR_SYSTEM;
}

/* Record a wait status in p. */
static void
proc_set_status(struct proc *p, int st)
{
	p->pid = -1;
	if (WIFEXITED(st)) {
		p->status = WEXITSTATUS(st);
		p->termsig = 0;
	} else if (WIFSIGNALED(st)) {
		p->termsig = WTERMSIG(st);
		p->status = 128 + p->termsig;
	} else
		p->status = -1;
}

/*
 * Reap the child if it has ended, without waiting.  Returns 1 if it was
 * reaped now or before (p->status holds its end), 0 if it still runs,
 * ERR_SYSTEM if it cannot be waited for.
 */
int
proc_reap(struct proc *p)
{
	pid_t	r;
	int	st;

	if (p->pid <= 0)
		return 1;
	do
		r = waitpid(p->pid, &st, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r == -1) {
		p->pid = -1;
		return ERR_SYSTEM;
	}
	proc_set_status(p, st);
	return 1;
}

/*
 * Wait up to timeout_ms (< 0: for ever) for the child to end.  Returns
 * as proc_reap(): 1 reaped, 0 still running at the deadline.
 */
int
proc_wait(struct proc *p, int timeout_ms)
{
	uint64_t	deadline, now;
	int		r, step = 1, st;

	if (p->pid <= 0)
		return 1;
	if (timeout_ms < 0) {
		while (waitpid(p->pid, &st, 0) == -1)
			if (errno != EINTR) {
				p->pid = -1;
				return ERR_SYSTEM;
			}
		proc_set_status(p, st);
		return 1;
	}
	deadline = clock_ms() + (uint64_t)timeout_ms;
	while ((r = proc_reap(p)) == 0) {
		now = clock_ms();
		if (now >= deadline)
			return 0;
		/* Short naps at first: most children end at once. */
		poll(NULL, 0, clock_timeout(now, deadline, step));
		if (step < 50)
			step *= 2;
	}
	return r;
}

/*
 * End the child for good: close our pipe ends, SIGTERM, up to grace_ms
 * to leave, then SIGKILL; reaps it.  Returns its status (-1 unknown).
 */
int
proc_stop(struct proc *p, int grace_ms)
{
	proc_close(p);
	if (p->pid > 0 && proc_reap(p) == 0) {
		proc_kill(p, SIGTERM);
		if (proc_wait(p, grace_ms) == 0) {
			proc_kill(p, SIGKILL);
			proc_wait(p, -1);
		}
	}
	return p->status;
}

/*
 * Point fds 0, 1 and 2 at /dev/null: for a process (the daemon, a relay's
 * helper) that must not hold its parent's terminal or pipes open.
 * Returns 0, or -errno if /dev/null cannot be opened.
 */
int
proc_null_stdio(void)
{
	int	fd, i;

	if ((fd = open("/dev/null", O_RDWR)) == -1)
		return -errno;
	for (i = STDIN_FILENO; i <= STDERR_FILENO; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}
