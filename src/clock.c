/*
 * Time.  Deadlines are absolute monotonic milliseconds, so a wall-clock
 * jump (a laptop waking up, NTP) cannot fire or starve them.
 */
#include <time.h>

#include "clock.h"

/* Monotonic milliseconds. */
uint64_t
clock_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Seconds since the epoch. */
uint64_t
clock_wall(void)
{
	return (uint64_t)time(NULL);
}

/*
 * Lower a poll() timeout (ms, -1 for none) so that it ends by deadline
 * (0 means no deadline); returns the new timeout.
 */
int
clock_timeout(uint64_t now, uint64_t deadline, int timeout)
{
	uint64_t	left;

	if (deadline == 0)
		return timeout;
	left = deadline > now ? deadline - now : 0;
	if (left > 24 * 3600 * 1000)
		left = 24 * 3600 * 1000;
	if (timeout < 0 || (uint64_t)timeout > left)
		return (int)left;
	return timeout;
}
