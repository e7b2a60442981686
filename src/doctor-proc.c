/*
 * limpet doctor: running the programs that know the facts (ssh -G, the
 * remote script through ssh).  One poll() loop per run feeds stdin and
 * drains stdout and stderr, so neither side can fill a pipe and wait on
 * the other; a deadline ends a program that hangs (by its pid).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "doctor-proc.h"
#include "err.h"
#include "xmalloc.h"

static volatile sig_atomic_t proc_interrupted;

/* SIGINT handler: only remember it. */
static void
doctor_proc_sigint(int sig)
{
	(void)sig;
	proc_interrupted = 1;
}

/* Catch Ctrl-C so long waits can stop early and still report. */
void
doctor_proc_catch(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = doctor_proc_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

/* True once Ctrl-C was pressed. */
int
doctor_proc_interrupted(void)
{
	return proc_interrupted != 0;
}

/* Milliseconds on the monotonic clock. */
static long long
doctor_proc_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Free the buffers. */
void
doctor_proc_free(struct doctor_proc *p)
{
	buf_free(&p->out);
	buf_free(&p->err);
}

/* The buffer's bytes as a new NUL-terminated string. */
char *
doctor_proc_text(struct buf *b)
{
	char	*s;

	s = xmalloc(buf_len(b) + 1);
	if (buf_len(b) > 0)
		memcpy(s, buf_ptr(b), buf_len(b));
	s[buf_len(b)] = '\0';
	return s;
}

/* Wait for pid and convert its status; end it first if asked. */
static int
doctor_proc_reap(pid_t pid, int kill_it)
{
	int	st, i;

	if (kill_it) {
		kill(pid, SIGTERM);
		for (i = 0; i < 100; i++) {
			if (waitpid(pid, &st, WNOHANG) == pid)
				goto done;
			usleep(20000);
		}
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
done:
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/*
 * Run argv (searched in PATH) with in (inlen bytes; NULL for /dev/null)
 * on its stdin; collect stdout and stderr into p.  timeout_ms <= 0 means
 * no deadline.  Returns 0 (the status is in p) or a negative error.
 */
int
doctor_proc_run(char *const *argv, const char *in, size_t inlen,
    int timeout_ms, struct doctor_proc *p)
{
	int		 ip[2] = { -1, -1 }, op[2], ep[2], nfd, kill_it = 0;
	struct pollfd	 pfd[3];
	pid_t		 pid;
	size_t		 off = 0;
	ssize_t		 n;
	long long	 deadline;

	memset(p, 0, sizeof *p);
	buf_init(&p->out, 16 * 1024 * 1024);
	buf_init(&p->err, 1024 * 1024);
	p->status = -1;
	if ((in != NULL && compat_pipe2(ip, O_CLOEXEC) == -1))
		return ERR_SYSTEM;
	if (compat_pipe2(op, O_CLOEXEC) == -1)
		return ERR_SYSTEM;
	if (compat_pipe2(ep, O_CLOEXEC) == -1)
		return ERR_SYSTEM;
	if ((pid = fork()) == -1)
		return ERR_SYSTEM;
	if (pid == 0) {
		if (in != NULL)
			dup2(ip[0], 0);
		else {
			close(0);
			if (open("/dev/null", O_RDONLY) != 0)
				_exit(127);
		}
		dup2(op[1], 1);
		dup2(ep[1], 2);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (in != NULL) {
		close(ip[0]);
		fcntl(ip[1], F_SETFL, O_NONBLOCK);
		if (inlen == 0) {
			close(ip[1]);
			ip[1] = -1;
		}
	}
	close(op[1]);
	close(ep[1]);
	deadline = timeout_ms > 0 ? doctor_proc_now() + timeout_ms : 0;
	for (;;) {
		pfd[0].fd = op[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = ep[0];
		pfd[1].events = POLLIN;
		pfd[2].fd = ip[1];
		pfd[2].events = POLLOUT;
		nfd = 3;
		if (op[0] == -1 && ep[0] == -1)
			break;
		if (deadline != 0 && doctor_proc_now() >= deadline) {
			p->timedout = kill_it = 1;
			break;
		}
		if (poll(pfd, nfd, 200) == -1 && errno != EINTR)
			break;
		if (pfd[2].fd != -1 && (pfd[2].revents & (POLLOUT | POLLERR |
		    POLLHUP))) {
			n = write(ip[1], in + off, inlen - off);
			if (n > 0)
				off += n;
			if ((n == -1 && errno != EAGAIN) || off == inlen) {
				close(ip[1]);
				ip[1] = -1;
			}
		}
		if (pfd[0].fd != -1 && (pfd[0].revents & (POLLIN | POLLHUP))) {
			n = buf_read_fd(&p->out, op[0], 65536);
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != EINTR)) {
				close(op[0]);
				op[0] = -1;
			}
		}
		if (pfd[1].fd != -1 && (pfd[1].revents & (POLLIN | POLLHUP))) {
			n = buf_read_fd(&p->err, ep[0], 65536);
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != EINTR)) {
				close(ep[0]);
				ep[0] = -1;
			}
		}
	}
	if (ip[1] != -1)
		close(ip[1]);
	if (op[0] != -1)
		close(op[0]);
	if (ep[0] != -1)
		close(ep[0]);
	p->status = doctor_proc_reap(pid, kill_it);
	return 0;
}
