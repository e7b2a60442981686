/*
 * Unit tests for compat/: each call behaves as the interface it stands
 * for.  `make unit` runs them twice: against the native build (HAVE_* on,
 * the Linux calls) and against the portable fallbacks (build/portable,
 * every HAVE_* off), so both sides of every #if are checked.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "unit.h"

#include "compat.h"

/* True if fd has close-on-exec set. */
static int
is_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

/* True if fd is non-blocking. */
static int
is_nonblock(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

/* pipe2 and socketpair set exactly the flags asked for. */
static void
test_fd_flags(void **state)
{
	int	p[2], sv[2];

	(void)state;
	assert_int_equal(compat_pipe2(p, O_CLOEXEC), 0);
	assert_true(is_cloexec(p[0]) && is_cloexec(p[1]));
	assert_false(is_nonblock(p[0]) || is_nonblock(p[1]));
	close(p[0]);
	close(p[1]);
	assert_int_equal(compat_pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_true(is_nonblock(p[0]) && is_nonblock(p[1]));
	assert_int_equal(read(p[0], sv, 1), -1);
	assert_int_equal(errno, EAGAIN);
	close(p[0]);
	close(p[1]);
	assert_int_equal(compat_socketpair(AF_UNIX, SOCK_STREAM, 0, sv,
	    O_CLOEXEC), 0);
	assert_true(is_cloexec(sv[0]) && is_cloexec(sv[1]));
	assert_false(is_nonblock(sv[0]));
	close(sv[0]);
	close(sv[1]);
	assert_int_equal((p[0] = compat_socket(AF_UNIX, SOCK_STREAM, 0,
	    O_CLOEXEC | O_NONBLOCK)) >= 0, 1);
	assert_true(is_cloexec(p[0]) && is_nonblock(p[0]));
	close(p[0]);
}

/* The peer of a socketpair is us. */
static void
test_peereid(void **state)
{
	uid_t	uid = (uid_t)-1;
	int	sv[2];

	(void)state;
	assert_int_equal(compat_socketpair(AF_UNIX, SOCK_STREAM, 0, sv, 0),
	    0);
	assert_int_equal(compat_getpeereid(sv[0], &uid), 0);
	assert_int_equal(uid, geteuid());
	close(sv[0]);
	close(sv[1]);
}

/* closefrom closes everything from its argument up, nothing below. */
static void
test_closefrom(void **state)
{
	pid_t	pid;
	int	status, keep, hi;

	(void)state;
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		keep = dup(0);
		hi = dup2(0, 900);
		compat_closefrom(keep + 1);
		_exit(fcntl(keep, F_GETFD) != -1 && hi == 900 &&
		    fcntl(900, F_GETFD) == -1 && errno == EBADF ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* vasprintf through a variadic front, as xasprintf uses it. */
static int __attribute__((format(printf, 2, 3)))
test_asprintf(char **out, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vasprintf(out, fmt, ap);
	va_end(ap);
	return n;
}

/* memrchr, strsep, memmem, strcasestr and vasprintf, edge cases too. */
static void
test_strings(void **state)
{
	char		 s[] = "a,b,,c", *p = s, *out;
	const char	*m = "x\ny\nz";

	(void)state;
	assert_ptr_equal(compat_memrchr(m, '\n', 5), m + 3);
	assert_null(compat_memrchr(m, 'q', 5));
	assert_null(compat_memrchr(m, 'x', 0));
	assert_ptr_equal(compat_memrchr(m, 'x', 1), m);
	assert_string_equal(strsep(&p, ","), "a");
	assert_string_equal(strsep(&p, ","), "b");
	assert_string_equal(strsep(&p, ","), "");
	assert_string_equal(strsep(&p, ","), "c");
	assert_null(p);
	assert_null(strsep(&p, ","));
	assert_ptr_equal(memmem(m, 5, "y\nz", 3), m + 2);
	assert_null(memmem(m, 5, "z\n", 2));
	assert_null(memmem(m, 2, "x\ny", 3));
	assert_ptr_equal(memmem(m, 5, "", 0), m);
	assert_string_equal(strcasestr("Host key VERIFICATION failed",
	    "key verification"), "key VERIFICATION failed");
	assert_string_equal(strcasestr("abcDEF", "cde"), "cDEF");
	assert_null(strcasestr("abc", "abcd"));
	out = NULL;
	assert_int_equal(test_asprintf(&out, "%s-%d", "n", 42), 4);
	assert_string_equal(out, "n-42");
	free(out);
	assert_int_equal(usleep(1000), 0);
}

/* Random bytes are not all the same from one call to the next. */
static void
test_random(void **state)
{
	unsigned char	a[32], b[32];

	(void)state;
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	assert_int_equal(compat_random(a, sizeof a), 0);
	assert_int_equal(compat_random(b, sizeof b), 0);
	assert_memory_not_equal(a, b, sizeof a);
	assert_int_equal(compat_random(a, 0), 0);
}

/* forkpty: the child has the PTY as stdio and controlling terminal. */
static void
test_forkpty(void **state)
{
	struct winsize	 ws = { .ws_row = 33, .ws_col = 101 };
	char		 buf[256];
	size_t		 len = 0;
	ssize_t		 n;
	pid_t		 pid;
	int		 fd = -1, status;

	(void)state;
	pid = compat_forkpty(&fd, &ws);
	assert_true(pid != -1);
	if (pid == 0) {
		struct winsize	got;
		int		tty;

		tty = open("/dev/tty", O_RDWR);
		ioctl(0, TIOCGWINSZ, &got);
		printf("tty=%d rows=%d cols=%d sid=%d\n", tty != -1,
		    got.ws_row, got.ws_col, getsid(0) == getpid());
		fflush(stdout);
		_exit(0);
	}
	while (len < sizeof buf - 1 && (n = read(fd, buf + len,
	    sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_non_null(strstr(buf, "tty=1 rows=33 cols=101 sid=1"));
}

/*
 * Our own loopback TCP connection is seen as established, with its
 * addresses (on Linux; elsewhere the answer is "unknown").
 */
static void
test_tcp_state(void **state)
{
	struct sockaddr_storage	 l, r;
	struct sockaddr_in	 sa;
	socklen_t		 len = sizeof sa;
	int			 ls, cs, as, st;

	(void)state;
	st = compat_tcp_state(getpid());
	assert_true(st == COMPAT_TCP_UNKNOWN || st == COMPAT_TCP_NONE);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((ls = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &len), 0);
	assert_true((cs = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(cs, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_true((as = accept(ls, NULL, NULL)) >= 0);
	st = compat_tcp_state(getpid());
	if (st == COMPAT_TCP_UNKNOWN) {
		assert_int_equal(compat_tcp_addrs(getpid(), &l, &r), -1);
	} else {
		assert_int_equal(st, COMPAT_TCP_UP);
		assert_int_equal(compat_tcp_addrs(getpid(), &l, &r), 0);
		assert_int_equal(l.ss_family, AF_INET);
		assert_int_equal(((struct sockaddr_in *)&l)->sin_addr.s_addr,
		    htonl(INADDR_LOOPBACK));
	}
	close(as);
	close(cs);
	close(ls);
}

/* Run the compat tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_flags),
		cmocka_unit_test(test_peereid),
		cmocka_unit_test(test_closefrom),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_forkpty),
		cmocka_unit_test(test_tcp_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
