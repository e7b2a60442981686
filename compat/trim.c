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

#if defined(__linux__) && defined(MADV_DONTNEED)
#define TRIM_STACK	1
#define TRIM_LINE_MAX	512		/* a line of /proc/self/maps */
#define TRIM_KEEP_PAGES	1		/* below the caller's frame, kept */

/* Whether line (one of /proc/self/maps) is the main stack's: its bounds. */
static int
compat_stack_line(const char *line, uintptr_t *low, uintptr_t *high)
{
	unsigned long	lo, hi;

	if (strstr(line, "[stack]") == NULL ||
	    sscanf(line, "%lx-%lx", &lo, &hi) != 2)
		return 0;
	*low = (uintptr_t)lo;
	*high = (uintptr_t)hi;
	return 1;
}

/*
 * The main stack's mapping from /proc/self/maps: its low end, or 0.  Read
 * a line at a time into a small buffer: a large one from the heap would
 * leave the heap larger than the trim that follows can give back.
 */
static uintptr_t
compat_stack_low(uintptr_t *high)
{
	char		 buf[TRIM_LINE_MAX], *nl;
	uintptr_t	 low = 0;
	size_t		 have = 0, k;
	ssize_t		 n;
	int		 fd;

	if ((fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	while (low == 0 && (n = read(fd, buf + have, sizeof buf - 1 -
	    have)) > 0) {
		have += (size_t)n;
		buf[have] = '\0';
		while (low == 0 && (nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			if (!compat_stack_line(buf, &low, high))
				low = 0;
			k = (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have - k + 1);
			have -= k;
		}
		if (have == sizeof buf - 1)
			have = 0;	/* a line longer than the buffer */
	}
	close(fd);
	return low;
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
#if defined(TRIM_STACK)
	compat_trim_stack();
#endif
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
}
