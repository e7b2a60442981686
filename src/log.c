/*
 * Logging.  Each process names itself once (client, relay, daemon) and
 * writes either to stderr or, for processes without a terminal, to a file.
 * Messages are one line each and carry the process name and pid.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char	*log_name = "limpet";
static int		 log_level = LOG_ERROR;
static FILE		*log_file;

/* Set the process name, the level and the file (NULL for stderr). */
void
log_init(const char *name, int level, const char *path)
{
	FILE	*f;

	log_name = name;
	log_level = level;
	if (path == NULL)
		return;
	log_close();
	if ((f = fopen(path, "ae")) != NULL) {
		setvbuf(f, NULL, _IOLBF, 0);
		log_file = f;
	}
}

/* Close the log file (before a fork that closes every fd). */
void
log_close(void)
{
	if (log_file != NULL) {
		fclose(log_file);
		log_file = NULL;
	}
}

/* Change the level. */
void
log_set_level(int level)
{
	log_level = level;
}

/* Return the level. */
int
log_get_level(void)
{
	return log_level;
}

/* Write one line; errno is preserved so callers may log and then test it. */
static void __attribute__((format(printf, 2, 0)))
log_vwrite(const char *prefix, const char *fmt, va_list ap)
{
	FILE		*f = log_file != NULL ? log_file : stderr;
	struct timespec	 ts;
	int		 saved = errno;

	if (log_file != NULL) {
		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(f, "%lld.%03ld ", (long long)ts.tv_sec,
		    ts.tv_nsec / 1000000);
	}
	fprintf(f, "%s[%ld]: %s", log_name, (long)getpid(), prefix);
	vfprintf(f, fmt, ap);
	fputs(log_file != NULL ? "\n" : "\r\n", f);
	fflush(f);
	errno = saved;
}

/* Log at a level. */
void
log_msg(int level, const char *fmt, ...)
{
	va_list	ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_vwrite("", fmt, ap);
	va_end(ap);
}

/* Log an impossible state with errno's text and exit. */
void
fatal(const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_msg(LOG_QUIET, "fatal: %s: %s", msg, strerror(saved));
	exit(255);
}

/* Log an impossible state and exit. */
void
fatalx(const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_msg(LOG_QUIET, "fatal: %s", msg);
	exit(255);
}
