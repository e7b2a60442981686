/*
 * The name of a process's program, for `limpet ls` (the program in the
 * foreground of a session's terminal): /proc/PID/comm where /proc has
 * it (Linux); elsewhere none (ls then shows the session's command).
 */
#include <sys/types.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"

/* The program name of pid in out; 0, or -1 if unknown. */
int
compat_proc_name(pid_t pid, char *out, size_t len)
{
	char	path[64];
	ssize_t	n;
	int	fd;

	if (len == 0 || pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, out, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\0'))
		n--;
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/*
 * The path of this process's own program (/proc/self/exe), so that a
 * helper such as systemd-run can run it again; 0, or -1 if unknown.
 */
int
compat_self_exe(char *out, size_t len)
{
	ssize_t	n;

	if (len == 0)
		return -1;
	n = readlink("/proc/self/exe", out, len - 1);
	if (n <= 0 || (size_t)n >= len - 1 || out[0] != '/')
		return -1;
	out[n] = '\0';
	/* A binary replaced since it started: its path no longer holds it. */
	if (n > 10 && strcmp(out + n - 10, " (deleted)") == 0)
		return -1;
	return 0;
}
