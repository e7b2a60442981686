/*
 * Resolving in a thread (resolve.h).  POSIX threads are everywhere
 * limpet builds (glibc, musl, the BSDs, macOS), unlike getaddrinfo_a.
 * The request is shared by two owners, the caller and the thread, and
 * freed by the last to let go: the caller may give up (the channel was
 * reset) while the thread still waits for the resolver.  The thread
 * says it is done on a socket pair (send() with MSG_NOSIGNAL: the
 * caller's end may be closed by then) and blocks every signal, so that
 * handlers run in the poll loop's thread only.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "resolve.h"
#include "xmalloc.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0	/* then SIGPIPE is ignored by the caller */
#endif

struct resolve {
	pthread_mutex_t	 mu;
	int		 refs;		/* the caller and the thread */
	int		 fd[2];		/* [0] the caller's, [1] the thread's */
	char		*host;
	char		*port;
	unsigned	 delay_ms;	/* test builds: a slow resolver */
	int		 done;
	int		 error;		/* getaddrinfo()'s, 0 if it worked */
	struct addrinfo	*res;
};

/* Free r once nobody holds it. */
static void
resolve_free(struct resolve *r)
{
	if (r->res != NULL)
		freeaddrinfo(r->res);
	pthread_mutex_destroy(&r->mu);
	free(r->host);
	free(r->port);
	free(r);
}

/* Let go of r; the last owner frees it. */
static void
resolve_unref(struct resolve *r)
{
	int	last;

	pthread_mutex_lock(&r->mu);
	last = --r->refs == 0;
	pthread_mutex_unlock(&r->mu);
	if (last)
		resolve_free(r);
}

/* The thread: resolve, keep the answer, say so, let go. */
static void *
resolve_main(void *arg)
{
	struct resolve	*r = arg;
	struct addrinfo	 hints, *res = NULL;
	struct timespec	 ts;
	int		 e;

	if (r->delay_ms > 0) {
		ts.tv_sec = r->delay_ms / 1000;
		ts.tv_nsec = (long)(r->delay_ms % 1000) * 1000000;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	e = getaddrinfo(r->host, r->port, &hints, &res);
	pthread_mutex_lock(&r->mu);
	r->error = e;
	r->res = e == 0 ? res : NULL;
	r->done = 1;
	(void)send(r->fd[1], "", 1, MSG_NOSIGNAL);
	pthread_mutex_unlock(&r->mu);
	close(r->fd[1]);
	resolve_unref(r);
	return NULL;
}

/* The test builds' slow resolver (LIMPET_TEST_RESOLVE_MS), else 0. */
static unsigned
resolve_delay(void)
{
#ifdef LIMPET_TEST_HOOKS
	const char	*s = getenv("LIMPET_TEST_RESOLVE_MS");

	if (s != NULL)
		return (unsigned)strtoul(s, NULL, 10);
#endif
	return 0;
}

/*
 * Start resolving host and port (a TCP stream's addresses).  *rp is the
 * request; resolve_fd(*rp) becomes readable when the answer is there.
 */
int
resolve_start(const char *host, const char *port, struct resolve **rp)
{
	struct resolve	*r = xcalloc(1, sizeof *r);
	pthread_attr_t	 attr;
	pthread_t	 t;
	sigset_t	 all, old;
	int		 e, i;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, r->fd) == -1) {
		free(r);
		return ERR_SYSTEM;
	}
	for (i = 0; i < 2; i++)
		(void)fcntl(r->fd[i], F_SETFD, FD_CLOEXEC);
	(void)fcntl(r->fd[0], F_SETFL, O_NONBLOCK);
	pthread_mutex_init(&r->mu, NULL);
	r->host = xstrdup(host);
	r->port = xstrdup(port);
	r->delay_ms = resolve_delay();
	r->refs = 2;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&t, &attr, resolve_main, r);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		close(r->fd[0]);
		close(r->fd[1]);
		resolve_free(r);
		return ERR_SYSTEM;
	}
	*rp = r;
	return 0;
}

/* The descriptor to poll for the answer. */
int
resolve_fd(const struct resolve *r)
{
	return r->fd[0];
}

/*
 * The answer, once resolve_fd() was readable: 0 with *res (the caller's
 * to free with freeaddrinfo()), 1 if it is not there yet, or
 * ERR_NOTFOUND.  The request stays the caller's until resolve_drop().
 */
int
resolve_take(struct resolve *r, struct addrinfo **res)
{
	int	ret;

	pthread_mutex_lock(&r->mu);
	if (!r->done)
		ret = 1;
	else if (r->error != 0 || r->res == NULL)
		ret = ERR_NOTFOUND;
	else {
		*res = r->res;
		r->res = NULL;
		ret = 0;
	}
	pthread_mutex_unlock(&r->mu);
	return ret;
}

/* The caller is done with r (answered or not): it goes when both are. */
void
resolve_drop(struct resolve *r)
{
	if (r == NULL)
		return;
	close(r->fd[0]);
	resolve_unref(r);
}
