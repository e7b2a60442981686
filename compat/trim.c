/*
 * Give the heap's free memory back to the kernel, for a daemon that is
 * about to sit idle for a long time: glibc's malloc_trim() where there is
 * one (it also releases free pages inside the heap, not only at its top);
 * elsewhere nothing (the allocator keeps what it keeps).  On Linux the
 * pages of the main stack below the caller's frame go too: a deep call
 * made once (start-up, an attach) leaves them dirty for the process's
 * life, and they are nothing but garbage below the stack pointer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#include <fcntl.h>
#endif

#include "compat.h"

#if defined(__linux__)
#define TRIM_MAPS_MAX	(64 * 1024)	/* /proc/self/maps read at most */
#define TRIM_KEEP_PAGES	1		/* below the caller's frame, kept */

/* The main stack's mapping from /proc/self/maps: its low end, or 0. */
static uintptr_t
compat_stack_low(uintptr_t *high)
{
	char		*m, *line, *end;
	unsigned long	 lo, hi;
	uintptr_t	 r = 0;
	size_t		 have = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if ((m = malloc(TRIM_MAPS_MAX + 1)) == NULL) {
		close(fd);
		return 0;
	}
	while (have < TRIM_MAPS_MAX && (n = read(fd, m + have,
	    TRIM_MAPS_MAX - have)) > 0)
		have += (size_t)n;
	close(fd);
	m[have] = '\0';
	for (line = m; line != NULL && *line != '\0'; line = end) {
		if ((end = strchr(line, '\n')) != NULL)
			*end++ = '\0';
		if (strstr(line, "[stack]") != NULL &&
		    sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			r = (uintptr_t)lo;
			*high = (uintptr_t)hi;
			break;
		}
	}
	free(m);
	return r;
}

/*
 * Release the main stack's pages below the caller's frame (keeping
 * TRIM_KEEP_PAGES for what this function and the caller call next).
 * Only ever called from the main thread (limpet has no other).
 */
static void __attribute__((noinline))
compat_trim_stack(void)
{
	volatile char	here = 0;
	long		pg = sysconf(_SC_PAGESIZE);
	uintptr_t	low, high = 0, at = (uintptr_t)&here, cut;

	if (pg <= 0 || (low = compat_stack_low(&high)) == 0 || at < low ||
	    at >= high)
		return;		/* not on the main stack (a sanitizer's) */
	cut = (at & ~((uintptr_t)pg - 1)) - TRIM_KEEP_PAGES * (uintptr_t)pg;
	if (cut > low && cut < at)
		madvise((void *)low, cut - low, MADV_DONTNEED);
	(void)here;
}
#endif

/* Return free heap (and stack) memory to the kernel where one can. */
void
compat_trim(void)
{
#if defined(__linux__)
	compat_trim_stack();
#endif
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
}
