/*
 * For the static musl build only (LIMPET_STATIC_CHK): Debian's libvterm.a
 * was built against glibc with _FORTIFY_SOURCE and calls glibc's checked
 * variants of a few functions, which musl does not have.  Each forwards to
 * the plain function (the checks are glibc's, not libvterm's).
 */
#ifdef LIMPET_STATIC_CHK
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int	__fprintf_chk(FILE *, int, const char *, ...);
int	__snprintf_chk(char *, size_t, int, size_t, const char *, ...);
int	__vsnprintf_chk(char *, size_t, int, size_t, const char *, va_list);
char	*__strncpy_chk(char *, const char *, size_t, size_t);

/* fprintf. */
int
__fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	(void)flag;
	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}

/* snprintf. */
int
__snprintf_chk(char *s, size_t n, int flag, size_t len, const char *fmt, ...)
{
	va_list	ap;
	int	r;

	(void)flag;
	(void)len;
	va_start(ap, fmt);
	r = vsnprintf(s, n, fmt, ap);
	va_end(ap);
	return r;
}

/* vsnprintf. */
int
__vsnprintf_chk(char *s, size_t n, int flag, size_t len, const char *fmt,
    va_list ap)
{
	(void)flag;
	(void)len;
	return vsnprintf(s, n, fmt, ap);
}

/* strncpy. */
char *
__strncpy_chk(char *d, const char *s, size_t n, size_t len)
{
	(void)len;
	return strncpy(d, s, n);
}
#else
/* Nothing for the other builds: their libc has these. */
typedef int glibc_chk_unused;
#endif
