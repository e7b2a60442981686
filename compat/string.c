/*
 * String and time helpers that every target's libc has but strict POSIX
 * headers do not declare, and memrchr, which only glibc has.  Simple
 * loops: none of these is on a hot path.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "compat.h"

/* The last byte c in the n bytes at s, or NULL. */
void *
compat_memrchr(const void *s, int c, size_t n)
{
#if defined(HAVE_MEMRCHR)
	return memrchr(s, c, n);
#else
	const unsigned char	*p = s;

	while (n-- > 0)
		if (p[n] == (unsigned char)c)
			return (void *)(p + n);
	return NULL;
#endif
}

#ifndef HAVE_STRSEP
/* The next field of *sp up to a byte of delim, as strsep(3). */
char *
compat_strsep(char **sp, const char *delim)
{
	char	*s = *sp, *e;

	if (s == NULL)
		return NULL;
	e = s + strcspn(s, delim);
	if (*e == '\0')
		*sp = NULL;
	else {
		*e = '\0';
		*sp = e + 1;
	}
	return s;
}
#endif

#ifndef HAVE_MEMMEM
/* The first place of the nlen bytes at needle in the hlen at hay. */
void *
compat_memmem(const void *hay, size_t hlen, const void *needle, size_t nlen)
{
	const char	*h = hay;
	size_t		 i;

	if (nlen == 0)
		return (void *)h;
	for (i = 0; nlen <= hlen && i <= hlen - nlen; i++)
		if (h[i] == *(const char *)needle &&
		    memcmp(h + i, needle, nlen) == 0)
			return (void *)(h + i);
	return NULL;
}
#endif

#ifndef HAVE_STRCASESTR
/* The first place of needle in s, ignoring case (ASCII). */
char *
compat_strcasestr(const char *s, const char *needle)
{
	size_t	n = strlen(needle);

	for (; *s != '\0'; s++)
		if (strncasecmp(s, needle, n) == 0)
			return (char *)s;
	return n == 0 ? (char *)s : NULL;
}
#endif

#ifndef HAVE_VASPRINTF
/* Print into a new string of the right size, as vasprintf(3). */
int
compat_vasprintf(char **ret, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n;

	*ret = NULL;
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || (*ret = malloc((size_t)n + 1)) == NULL)
		return -1;
	if (vsnprintf(*ret, (size_t)n + 1, fmt, ap) != n) {
		free(*ret);
		*ret = NULL;
		return -1;
	}
	return n;
}
#endif

#ifndef HAVE_USLEEP
/* Sleep for usec microseconds (POSIX 2008 dropped usleep). */
int
compat_usleep(unsigned long usec)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)(usec / 1000000);
	ts.tv_nsec = (long)(usec % 1000000) * 1000;
	while (nanosleep(&ts, &ts) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}
#endif
