/*
 * Unit tests for the process runner: exit codes and signals, the pipes in
 * both directions, /dev/null, a program that does not exist, the flags,
 * ending a child that will not end by itself, and that no fd is left
 * behind on any path (success, missing program, too many open files).
 */
#include <sys/resource.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "err.h"
#include "proc.h"

static const int all_pipes[3] = { PROC_PIPE, PROC_PIPE, PROC_PIPE };
static const int no_pipes[3] = { PROC_NULL, PROC_NULL, PROC_NULL };

/* How many fds this process has open. */
static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	d = opendir("/proc/self/fd");
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

/* Run sh -c script with how[]; returns the spawned process. */
static int
run_sh(struct proc *p, const char *script, const int how[3], int flags)
{
	char	*argv[] = { (char *)"sh", (char *)"-c", (char *)script, NULL };

	return proc_spawn(p, argv, how, flags);
}

/* Read fd to end of file into out (NUL-terminated). */
static void
read_all(int fd, char *out, size_t len)
{
	size_t	off = 0;
	ssize_t	n;

	while (off + 1 < len && (n = read(fd, out + off, len - off - 1)) > 0)
		off += n;
	out[off] = '\0';
}

/* Exit codes and signals come back as the shell reports them. */
static void
test_status(void **state)
{
	struct proc	p;

	(void)state;
	assert_int_equal(run_sh(&p, "exit 7", no_pipes, 0), 0);
	assert_true(p.pid > 0);
	assert_int_equal(proc_wait(&p, -1), 1);
	assert_int_equal(p.status, 7);
	assert_int_equal(p.termsig, 0);
	assert_int_equal(p.pid, -1);
	/* Reaping again is harmless. */
	assert_int_equal(proc_reap(&p), 1);
	assert_int_equal(run_sh(&p, "kill -TERM $$", no_pipes, 0), 0);
	assert_int_equal(proc_wait(&p, 5000), 1);
	assert_int_equal(p.status, 128 + SIGTERM);
	assert_int_equal(p.termsig, SIGTERM);
}

/* What goes into stdin comes out of stdout; stderr is its own pipe. */
static void
test_pipes(void **state)
{
	struct proc	p;
	char		out[256], err[256];
	int		fl;

	(void)state;
	assert_int_equal(run_sh(&p, "cat; echo oops >&2", all_pipes, 0), 0);
	fl = fcntl(p.fd[0], F_GETFD);
	assert_true(fl & FD_CLOEXEC);
	assert_false(fcntl(p.fd[1], F_GETFL) & O_NONBLOCK);
	assert_int_equal(write(p.fd[0], "hello\n", 6), 6);
	close(p.fd[0]);
	p.fd[0] = -1;
	read_all(p.fd[1], out, sizeof out);
	read_all(p.fd[2], err, sizeof err);
	assert_string_equal(out, "hello\n");
	assert_string_equal(err, "oops\n");
	proc_close(&p);
	assert_int_equal(proc_wait(&p, -1), 1);
	assert_int_equal(p.status, 0);
	/* /dev/null on stdin: cat ends at once with nothing. */
	{
		const int how[3] = { PROC_NULL, PROC_PIPE, PROC_NULL };

		assert_int_equal(run_sh(&p, "cat", how, PROC_NONBLOCK), 0);
		assert_int_equal(p.fd[0], -1);
		assert_int_equal(p.fd[2], -1);
		assert_true(fcntl(p.fd[1], F_GETFL) & O_NONBLOCK);
		assert_int_equal(proc_wait(&p, -1), 1);
		assert_int_equal(p.status, 0);
		assert_int_equal(read(p.fd[1], out, sizeof out), 0);
		proc_close(&p);
	}
}

/* A missing program is an error of proc_spawn, not a status 127. */
static void
test_missing(void **state)
{
	struct proc	 p;
	char		*argv[] = { (char *)"/nonexistent/limpet-nope", NULL };
	char		*argv2[] = { (char *)"limpet-no-such-program", NULL };
	int		 before = count_fds();

	(void)state;
	assert_int_equal(proc_spawn(&p, argv, all_pipes, 0), ERR_NOTFOUND);
	assert_int_equal(p.pid, -1);
	assert_int_equal(p.fd[0], -1);
	assert_int_equal(proc_spawn(&p, argv2, all_pipes, PROC_NONBLOCK),
	    ERR_NOTFOUND);
	assert_int_equal(count_fds(), before);
	/* A directory is not a program either. */
	argv[0] = (char *)"/";
	assert_int_equal(proc_spawn(&p, argv, no_pipes, 0), ERR_SYSTEM);
	assert_int_equal(errno, EACCES);
	assert_int_equal(count_fds(), before);
}

/* No fd is left behind: not after a run, not when fds run out. */
static void
test_no_leak(void **state)
{
	struct proc	 p;
	struct rlimit	 old, rl;
	int		 before, i, fd, r, nfail = 0, nok = 0;
	char		 script[64];

	(void)state;
	before = count_fds();
	for (i = 0; i < 5; i++) {
		assert_int_equal(run_sh(&p, "exit 0", all_pipes,
		    PROC_NONBLOCK), 0);
		proc_stop(&p, 1000);
	}
	assert_int_equal(count_fds(), before);
	/* The child sees none of our fds, close-on-exec or not. */
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd > 2);
	snprintf(script, sizeof script, "test -e /proc/$$/fd/%d", fd);
	assert_int_equal(run_sh(&p, script, no_pipes, 0), 0);
	assert_int_equal(proc_wait(&p, -1), 1);
	assert_int_equal(p.status, 1);
	close(fd);
	/* Every fd limit that fails some pipe on the way leaks nothing. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	for (i = 0; i < 12; i++) {
		rl = old;
		rl.rlim_cur = before + i;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
		r = run_sh(&p, "exit 0", all_pipes, 0);
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
		if (r == 0) {
			proc_stop(&p, 1000);
			nok++;
		} else {
			assert_int_equal(r, ERR_SYSTEM);
			nfail++;
		}
		assert_int_equal(count_fds(), before);
	}
	/* Both the failures on the way and success were reached. */
	assert_true(nfail >= 4);
	assert_true(nok >= 1);
}

/* A child that ignores SIGTERM is killed after the grace time. */
static void
test_stop(void **state)
{
	struct proc	p;
	char		buf[8];

	(void)state;
	assert_int_equal(run_sh(&p, "trap '' TERM; echo up; "
	    "while :; do sleep 1; done", all_pipes, 0), 0);
	assert_int_equal(read(p.fd[1], buf, 3), 3);
	assert_int_equal(proc_reap(&p), 0);
	assert_int_equal(proc_wait(&p, 50), 0);
	assert_int_equal(proc_stop(&p, 200), 128 + SIGKILL);
	assert_int_equal(p.pid, -1);
	assert_int_equal(p.fd[0], -1);
	/* PROC_NOINT: Ctrl-C is not the child's. */
	assert_int_equal(run_sh(&p, "kill -INT $$; exit 3", no_pipes,
	    PROC_NOINT), 0);
	assert_int_equal(proc_wait(&p, -1), 1);
	assert_int_equal(p.status, 3);
	/* Nothing to stop: a no-op. */
	proc_init(&p);
	assert_int_equal(proc_kill(&p, SIGTERM), 0);
	assert_int_equal(proc_stop(&p, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_pipes),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_no_leak),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
