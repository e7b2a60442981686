/*
 * closefrom() for musl, which (as of 1.2.3) does not have it.  Linked only
 * into the static build (make static).
 */
#include <sys/resource.h>
#include <sys/syscall.h>

#include <limits.h>
#include <unistd.h>

#include "musl.h"

/* Upper bound of the fallback loop, against a huge RLIMIT_NOFILE. */
#define COMPAT_CLOSE_MAX	65536

/*
 * Close every descriptor from lowfd up: close_range(2) where the kernel
 * has it (5.9 and later), otherwise close each one below the fd limit.
 * Called between fork and exec, so it only makes system calls.
 */
void
closefrom(int lowfd)
{
	struct rlimit	rl;
	long		max = COMPAT_CLOSE_MAX;
	long		fd;

	if (lowfd < 0)
		lowfd = 0;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned int)lowfd, UINT_MAX, 0) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max)
		max = (long)rl.rlim_cur;
	for (fd = lowfd; fd < max; fd++)
		(void)close((int)fd);
}
