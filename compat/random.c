/*
 * Random bytes for client ids and socket names: getrandom() on Linux,
 * arc4random_buf() on the BSDs and macOS, else /dev/urandom.
 */
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__)
#undef _POSIX_C_SOURCE	/* arc4random is hidden by strict POSIX */
#undef _XOPEN_SOURCE
#endif

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(HAVE_GETRANDOM)
#include <sys/random.h>
#endif

#include "compat.h"

/* Fill the len bytes at buf with random bytes; 0 or -1. */
int
compat_random(void *buf, size_t len)
{
#if defined(HAVE_GETRANDOM)
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = getrandom(p, len, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
#elif defined(HAVE_ARC4RANDOM)
	arc4random_buf(buf, len);
	return 0;
#else
	unsigned char	*p = buf;
	ssize_t		 n;
	int		 fd;

	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (len > 0) {
		if ((n = read(fd, p, len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return 0;
#endif
}
