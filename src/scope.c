/*
 * Surviving logout where systemd-logind forbids it.  With
 * KillUserProcesses=yes (or the user in KillOnlyUsers), logind stops the
 * login session's scope at logout, and a session daemon started from it
 * dies with it.  A daemon started by systemd-run --user --scope lives in
 * its own scope under the user's service manager instead, which logind
 * leaves alone (until the user's last login ends, unless lingering keeps
 * the manager).  systemd-run runs a command, so the daemon is then started
 * as `limpet __daemon DIR ID`: its first client's socket is inherited as
 * descriptor 3, and the relay sends the client's HELLO on it first, so no
 * secret ever goes into argv.
 *
 * Every program run here has a deadline: a hung loginctl or systemd-run
 * costs seconds, never the session (it is then started as before).
 * The relay runs scope_decide() (loginctl) and scope_start()'s helper
 * (systemd-run) in child processes whose answers it reads in its own
 * poll loop (relay-spawn.c), so it never blocks on them.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "clock.h"
#include "daemon.h"
#include "frame.h"
#include "proto.h"
#include "scope.h"
#include "sock.h"

#define SCOPE_HELLO_MS	10000	/* for the relay's HELLO, in __daemon */
#define SCOPE_MARK	'\001'	/* __daemon runs: systemd-run did its part */

char		 scope_note[384];
const char	*scope_argv0;

/*
 * Wait until fd is readable or the deadline passes: 1 readable, 0 try
 * again (a signal), -1 the deadline, -2 an error.
 */
static int
scope_wait(int fd, uint64_t deadline)
{
	struct pollfd	pfd;
	uint64_t	now;
	int		r;

	if ((now = clock_ms()) >= deadline)
		return -1;
	pfd.fd = fd;
	pfd.events = POLLIN;
	if ((r = poll(&pfd, 1, (int)(deadline - now))) == -1)
		return errno == EINTR ? 0 : -2;
	return r > 0 ? 1 : 0;
}

/*
 * Read from fd into out (len bytes at most, NUL-terminated) until EOF,
 * the deadline, or (stop != 0) a byte stop.  Returns 1 if stop was seen,
 * 0 at EOF, -1 at the deadline.
 */
static int
scope_drain(int fd, char *out, size_t len, uint64_t deadline, int stop)
{
	size_t		have = 0;
	char		tmp[256];
	ssize_t		n;
	int		r;

	out[0] = '\0';
	for (;;) {
		if ((r = scope_wait(fd, deadline)) == -1)
			return -1;
		if (r == -2)
			return 0;
		if (r == 0)
			continue;
		if ((n = read(fd, tmp, sizeof tmp)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (stop != 0 && memchr(tmp, stop, (size_t)n) != NULL)
			return 1;
		if (have + 1 < len) {
			if ((size_t)n > len - 1 - have)
				n = (ssize_t)(len - 1 - have);
			memcpy(out + have, tmp, (size_t)n);
			out[have += (size_t)n] = '\0';
		}
	}
}

/* Wait for pid, killing it at the deadline; its wait status, or -1. */
static int
scope_reap(pid_t pid, int late)
{
	int	st;

	if (late)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return st;
}

/*
 * Run argv (searched on PATH) with its output in out, for at most ms.
 * Returns its exit status, 127 if it could not run, -1 if it was killed
 * or took too long.
 */
static int
scope_run(char *const argv[], char *out, size_t len, int ms)
{
	int	p[2], st, late, fd;
	pid_t	pid;

	if (compat_pipe2(p, O_CLOEXEC) == -1)
		return 127;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return 127;
	}
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		dup2(p[1], STDOUT_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	late = scope_drain(p[0], out, len, clock_ms() + (uint64_t)ms, 0) < 0;
	close(p[0]);
	st = scope_reap(pid, late);
	if (late || st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* The value of NAME=value among the lines of s, copied to v; or -1. */
static int
scope_prop(const char *s, const char *name, char *v, size_t len)
{
	size_t	n = strlen(name), m;

	while (*s != '\0') {
		m = strcspn(s, "\n");
		if (m > n && strncmp(s, name, n) == 0 && s[n] == '=') {
			snprintf(v, len, "%.*s", (int)(m - n - 1), s + n + 1);
			return 0;
		}
		s += m + (s[m] == '\n');
	}
	return -1;
}

/* True if word is one of the space-separated words of list. */
static int
scope_listed(const char *list, const char *word)
{
	size_t	n = strlen(word), m;

	while (*list != '\0') {
		list += strspn(list, " ");
		m = strcspn(list, " ");
		if (m == n && m > 0 && strncmp(list, word, n) == 0)
			return 1;
		list += m;
	}
	return 0;
}

/*
 * Does logind stop this user's processes at logout?  As logind decides:
 * KillExcludeUsers (root by default) wins, then a non-empty KillOnlyUsers,
 * then KillUserProcesses.  1 yes, 0 no or unknown (no loginctl, no logind:
 * then nothing is changed).
 */
static int
scope_kills(const char *user)
{
	static char *const	 argv[] = { (char *)"loginctl",
				    (char *)"show-session", (char *)"-p",
				    (char *)"KillUserProcesses", (char *)"-p",
				    (char *)"KillOnlyUsers", (char *)"-p",
				    (char *)"KillExcludeUsers", NULL };
	char			 out[2048], kill[16], only[512], excl[512];

	if (scope_run(argv, out, sizeof out, SCOPE_ASK_MS) != 0 ||
	    scope_prop(out, "KillUserProcesses", kill, sizeof kill) != 0)
		return 0;
	if (scope_prop(out, "KillOnlyUsers", only, sizeof only) != 0)
		*only = '\0';
	if (scope_prop(out, "KillExcludeUsers", excl, sizeof excl) != 0)
		snprintf(excl, sizeof excl, "root");
	if (scope_listed(excl, user))
		return 0;
	if (only[strspn(only, " ")] != '\0')
		return scope_listed(only, user);
	return strcmp(kill, "yes") == 0;
}

/* Does logind keep this user's service manager after the last logout? */
static int
scope_lingers(void)
{
	char	 uid[24], out[64], *av[6];

	snprintf(uid, sizeof uid, "%lu", (unsigned long)getuid());
	av[0] = (char *)"loginctl";
	av[1] = (char *)"show-user";
	av[2] = uid;
	av[3] = (char *)"-p";
	av[4] = (char *)"Linger";
	av[5] = NULL;
	if (scope_run(av, out, sizeof out, SCOPE_ASK_MS) != 0)
		return 0;
	return strncmp(out, "Linger=yes", 10) == 0 ||
	    strncmp(out, "yes", 3) == 0;
}

/* Whether scope_decide() will run loginctl (and may take seconds). */
int
scope_asks(void)
{
	const char	*mode = getenv("LIMPET_SCOPE");
	const char	*sid = getenv("XDG_SESSION_ID");

	if (mode != NULL && strcmp(mode, "off") == 0)
		return 0;
	if (mode != NULL && strcmp(mode, "on") == 0)
		return 1;
	return sid != NULL && *sid != '\0';
}

/*
 * Decide how to start a new session's daemon: SCOPE_NONE (as always),
 * SCOPE_TRY (systemd-run --user --scope; *linger tells whether the user's
 * manager outlives the last login) or SCOPE_CANNOT (logind will kill it
 * and nothing here can stop that).  why says what was found.
 * LIMPET_SCOPE=off never tries, LIMPET_SCOPE=on always does.
 */
int
scope_decide(char *why, size_t len, int *linger)
{
	const char	*mode = getenv("LIMPET_SCOPE");
	const char	*rt = getenv("XDG_RUNTIME_DIR");
	const char	*sid = getenv("XDG_SESSION_ID");
	struct passwd	*pw;

	*why = '\0';
	*linger = 0;
	if (mode != NULL && strcmp(mode, "off") == 0)
		return SCOPE_NONE;
	if (mode == NULL || strcmp(mode, "on") != 0) {
		/* Not in a login session: no logout kills anything. */
		if (sid == NULL || *sid == '\0')
			return SCOPE_NONE;
		if ((pw = getpwuid(getuid())) == NULL ||
		    !scope_kills(pw->pw_name))
			return SCOPE_NONE;
	}
	*linger = scope_lingers();
	if (rt == NULL || *rt == '\0') {
		snprintf(why, len, "logind ends this user's processes at "
		    "logout and no user service manager is reachable "
		    "(XDG_RUNTIME_DIR is not set)");
		return SCOPE_CANNOT;
	}
	return SCOPE_TRY;
}

/*
 * In the first child of scope_spawn(): run systemd-run (as a grandchild,
 * so that the daemon it becomes is nobody's child) and tell rp how it
 * went: nothing once __daemon runs, else why not.  Never returns.
 */
static void
scope_launch(const char *self, const char *dir, const char *id, int sfd,
    int linger, int rp)
{
	char	 unit[64], out[512], msg[768];
	char	*av[13];
	int	 p[2], fd, r, st;
	pid_t	 pid;

	snprintf(unit, sizeof unit, "--unit=limpet-%s", id);
	av[0] = (char *)"systemd-run";
	av[1] = (char *)"--user";
	av[2] = (char *)"--scope";
	av[3] = (char *)"--quiet";
	av[4] = (char *)"--collect";
	av[5] = unit;
	av[6] = (char *)"--";
	av[7] = (char *)self;
	av[8] = (char *)"__daemon";
	av[9] = (char *)dir;
	av[10] = (char *)id;
	av[11] = linger ? NULL : (char *)"no-linger";
	av[12] = NULL;
	if (compat_pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1)
		_exit(1);
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDONLY)) != -1)
			dup2(fd, STDIN_FILENO);
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		if (sfd == SCOPE_FD)
			fcntl(sfd, F_SETFD, 0);
		else if (dup2(sfd, SCOPE_FD) == -1)
			_exit(127);
		execvp(av[0], av);
		dprintf(STDERR_FILENO, "cannot run systemd-run: %s",
		    strerror(errno));
		_exit(127);
	}
	close(p[1]);
	r = scope_drain(p[0], out, sizeof out, clock_ms() + SCOPE_RUN_MS,
	    SCOPE_MARK);
	if (r == 1)
		_exit(0);
	st = scope_reap(pid, r < 0);
	out[strcspn(out, "\n")] = '\0';
	if (r < 0)
		snprintf(msg, sizeof msg, "systemd-run did not start limpet "
		    "within %d s", SCOPE_RUN_MS / 1000);
	else if (st != -1 && WIFEXITED(st))
		snprintf(msg, sizeof msg, "systemd-run failed (exit %d)%s%s",
		    WEXITSTATUS(st), *out != '\0' ? ": " : "", out);
	else
		snprintf(msg, sizeof msg, "systemd-run was killed");
	if (write(rp, msg, strlen(msg)) == -1)
		_exit(1);
	_exit(1);
}

/*
 * The program to run as the daemon: this very binary (/proc/self/exe),
 * else the argv[0] the relay was started with (execvp then searches the
 * PATH that found it).  0, or -1 if neither is known.
 */
int
scope_self(char *out, size_t len)
{
	const char	*how = NULL;

#ifdef LIMPET_TEST_HOOKS
	/* Test builds: as where /proc is missing (argv0) or nothing works. */
	how = getenv("LIMPET_TEST_SELF");
	if (how != NULL && strcmp(how, "none") == 0)
		return -1;
#endif
	if (how == NULL && compat_self_exe(out, len) == 0)
		return 0;
	if (scope_argv0 == NULL || *scope_argv0 == '\0' ||
	    (size_t)snprintf(out, len, "%s", scope_argv0) >= len)
		return -1;
	return 0;
}

/*
 * Start the daemon of session id in dir in its own user scope, its first
 * client being the socket sfd (the caller then sends the HELLO on the
 * other end).  Nothing waits here: returns the read end of the helper's
 * report pipe (non-blocking) and its pid in *pid, for the caller's poll
 * loop; the helper bounds systemd-run by SCOPE_RUN_MS and says why it
 * failed on that pipe, or closes it saying nothing once __daemon runs.
 * Returns -1 with why filled in if nothing could be started.
 */
int
scope_start(const char *dir, const char *id, int sfd, int linger,
    pid_t *pid, char *why, size_t len)
{
	char	self[PATH_MAX];
	int	rp[2], fd;

	*why = '\0';
	if (scope_self(self, sizeof self) != 0) {
		snprintf(why, len, "cannot tell where limpet's own binary is");
		return -1;
	}
	if (compat_pipe2(rp, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    (*pid = fork()) == -1) {
		snprintf(why, len, "cannot fork: %s", strerror(errno));
		return -1;
	}
	if (*pid == 0) {
		close(rp[0]);
		fcntl(rp[1], F_SETFL, 0);
		/* Not the relay's ssh: it must not wait for this helper. */
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		setsid();
		scope_launch(self, dir, id, sfd, linger, rp[1]);
	}
	close(rp[1]);
	return rp[0];
}

/*
 * The helper of scope_start() said all it will (EOF on its pipe; late:
 * its deadline passed, kill it).  0 if the daemon runs in its scope,
 * else -1 (why then holds what the helper said, or a reason).
 */
int
scope_finish(pid_t pid, int late, char *why, size_t len)
{
	int	st;

	st = scope_reap(pid, late);
	if (!late && *why == '\0' && st != -1 && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0)
		return 0;
	if (late)
		snprintf(why, len, "systemd-run did not start limpet within "
		    "%d s", SCOPE_RUN_MS / 1000);
	else if (*why == '\0')
		snprintf(why, len, "systemd-run could not be started");
	return -1;
}

/* Read exactly n bytes from fd by the deadline; 0 or -1. */
static int
scope_read_all(int fd, uint8_t *p, size_t n, uint64_t deadline)
{
	ssize_t		r;
	int		w;

	while (n > 0) {
		if ((w = scope_wait(fd, deadline)) < 0)
			return -1;
		if (w == 0)
			continue;
		if ((r = read(fd, p, n)) == -1 && (errno == EINTR ||
		    errno == EAGAIN))
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * Read one frame from fd by the deadline into a new buffer *p (type in
 * *type, payload length in *len); 0 or -1.
 */
static int
scope_read_frame(int fd, uint8_t *type, uint8_t **p, uint32_t *len,
    uint64_t deadline)
{
	uint8_t	hdr[FRAME_HDR];

	*p = NULL;
	if (scope_read_all(fd, hdr, sizeof hdr, deadline) != 0)
		return -1;
	*type = hdr[0];
	*len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 |
	    (uint32_t)hdr[3] << 8 | hdr[4];
	if (*len > FRAME_MAX_PAYLOAD || (*p = malloc(*len + 1)) == NULL)
		return -1;
	if (scope_read_all(fd, *p, *len, deadline) != 0) {
		free(*p);
		*p = NULL;
		return -1;
	}
	return 0;
}

/*
 * limpet __daemon DIR ID [no-linger | plain]: how a session daemon
 * starts from a fresh image of this binary, so that it carries none of
 * the relay's memory.  systemd-run runs it (no third word, or no-linger)
 * to put it in a scope; the relay runs it directly (plain).  It says it
 * runs (SCOPE_MARK on stdout), takes the HELLO the relay sends on
 * descriptor 3 (for plain, after a NOTICE saying why logind may end it,
 * if that is so), and becomes the daemon exactly as a fork would.
 */
int
scope_daemon_main(int argc, char **argv)
{
	struct msg_hello	 h;
	uint8_t			*p, type;
	uint32_t		 len;
	char			*note;
	uint64_t		 deadline;
	int			 fd, plain;

	if (argc < 2 || !sock_id_valid(argv[1]) ||
	    fcntl(SCOPE_FD, F_SETFD, FD_CLOEXEC) == -1) {
		fprintf(stderr, "limpet: __daemon is for limpet itself\n");
		return 255;
	}
	plain = argc > 2 && strcmp(argv[2], "plain") == 0;
	if (write(STDOUT_FILENO, "\001", 1) != 1)
		return 1;
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	deadline = clock_ms() + SCOPE_HELLO_MS;
	if (scope_read_frame(SCOPE_FD, &type, &p, &len, deadline) != 0)
		return 1;
	if (plain && type == MSG_NOTICE) {
		if (proto_str_parse(p, len, &note) == 0) {
			snprintf(scope_note, sizeof scope_note, "%s", note);
			free(note);
		}
		free(p);
		if (scope_read_frame(SCOPE_FD, &type, &p, &len,
		    deadline) != 0)
			return 1;
	} else if (!plain)
		snprintf(scope_note, sizeof scope_note, "%s", argc > 2 ?
		    "user scope; ends with the last login (no linger)" :
		    "user scope");
	if (type != MSG_HELLO || proto_hello_parse(p, len, &h) != 0) {
		free(p);
		return 1;
	}
	free(p);
	daemon_run(argv[0], argv[1], &h, SCOPE_FD);
	return 1;
}
