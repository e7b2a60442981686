/*
 * Give the heap's free memory back to the kernel, for a daemon that is
 * about to sit idle for a long time: glibc's malloc_trim() where there is
 * one (it also releases free pages inside the heap, not only at its top);
 * elsewhere nothing (the allocator keeps what it keeps).
 */
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "compat.h"

/* Return free heap memory to the kernel where the allocator can. */
void
compat_trim(void)
{
#if defined(__GLIBC__)
	malloc_trim(0);
#endif
}
