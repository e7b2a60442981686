/*
 * limpet doctor: running the programs that know the facts (ssh -G, the
 * remote script through ssh).  One poll() loop per run feeds stdin and
 * drains stdout and stderr, so neither side can fill a pipe and wait on
 * the other; a deadline ends a program that hangs (by its pid).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "doctor-proc.h"
#include "err.h"
#include "proc.h"
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

/* Feed the child's stdin from in; close it when all is written. */
static void
doctor_proc_feed(struct proc *pr, const char *in, size_t inlen, size_t *off)
{
	ssize_t	n;

	n = write(pr->fd[0], in + *off, inlen - *off);
	if (n > 0)
		*off += n;
	if ((n == -1 && errno != EAGAIN && errno != EINTR) || *off == inlen) {
		close(pr->fd[0]);
		pr->fd[0] = -1;
	}
}

/* Drain one of the child's output pipes into b; close it at its end. */
static void
doctor_proc_drain(int *fd, struct buf *b)
{
	ssize_t	n;

	n = buf_read_fd(b, *fd, 65536);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * Run argv (searched in PATH) with in (inlen bytes; NULL for /dev/null)
 * on its stdin; collect stdout and stderr into p.  timeout_ms <= 0 means
 * no deadline.  Returns 0 (the status is in p) or a negative error
 * (ERR_NOTFOUND: no such program).
 */
int
doctor_proc_run(char *const *argv, const char *in, size_t inlen,
    int timeout_ms, struct doctor_proc *p)
{
	const int	 how[3] = { in != NULL ? PROC_PIPE : PROC_NULL,
			    PROC_PIPE, PROC_PIPE };
	struct pollfd	 pfd[3];
	struct proc	 pr;
	size_t		 off = 0;
	uint64_t	 deadline, now;
	int		 r, left;

	memset(p, 0, sizeof *p);
	buf_init(&p->out, 16 * 1024 * 1024);
	buf_init(&p->err, 1024 * 1024);
	p->status = -1;
	if ((r = proc_spawn(&pr, argv, how, PROC_NONBLOCK)) != 0)
		return r;
	if (pr.fd[0] != -1 && inlen == 0)
		doctor_proc_feed(&pr, in, inlen, &off);
	deadline = timeout_ms > 0 ? clock_ms() + (uint64_t)timeout_ms : 0;
	while (pr.fd[1] != -1 || pr.fd[2] != -1) {
		now = clock_ms();
		if (deadline != 0 && now >= deadline) {
			p->timedout = 1;
			break;
		}
		pfd[0].fd = pr.fd[1];
		pfd[0].events = POLLIN;
		pfd[1].fd = pr.fd[2];
		pfd[1].events = POLLIN;
		pfd[2].fd = pr.fd[0];
		pfd[2].events = POLLOUT;
		if (poll(pfd, 3, clock_timeout(now, deadline, -1)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[2].fd != -1 && pfd[2].revents != 0)
			doctor_proc_feed(&pr, in, inlen, &off);
		if (pfd[0].fd != -1 && pfd[0].revents != 0)
			doctor_proc_drain(&pr.fd[1], &p->out);
		if (pfd[1].fd != -1 && pfd[1].revents != 0)
			doctor_proc_drain(&pr.fd[2], &p->err);
	}
	proc_close(&pr);
	/* Its output ended; it may still linger until the deadline. */
	if (!p->timedout) {
		now = clock_ms();
		left = clock_timeout(now, deadline, -1);
		if (proc_wait(&pr, left) == 0)
			p->timedout = 1;
	}
	p->status = proc_stop(&pr, 2000);
	return 0;
}
