/*
 * Text for the negative error codes that library functions return.
 */
#include <errno.h>
#include <string.h>

#include "err.h"

/* Return a short description of error code r (errno for ERR_SYSTEM). */
const char *
err_str(int r)
{
	switch (r) {
	case ERR_OK:
		return "success";
	case ERR_SYSTEM:
		return strerror(errno);
	case ERR_NOMEM:
		return "out of memory";
	case ERR_SHORT:
		return "incomplete data";
	case ERR_TOOBIG:
		return "length over limit";
	case ERR_FORMAT:
		return "malformed data";
	case ERR_VERSION:
		return "protocol version mismatch";
	case ERR_UNSAFE:
		return "unsafe owner or permissions";
	case ERR_PEER:
		return "peer refused";
	case ERR_NOTFOUND:
		return "not found";
	case ERR_EXISTS:
		return "already exists";
	case ERR_USAGE:
		return "bad usage";
	case ERR_EOF:
		return "end of file";
	case ERR_RANGE:
		return "offset out of range";
	case ERR_FULL:
		return "buffer full";
	default:
		return "unknown error";
	}
}
