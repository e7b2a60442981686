/* The session daemon: owns the PTY and the program, outlives connections. */
#ifndef LIMPET_DAEMON_H
#define LIMPET_DAEMON_H

#include "proto.h"

#define DAEMON_RING_DEFAULT	(4 * 1024 * 1024)
#define DAEMON_RING_MAX		(256 * 1024 * 1024)

void	daemon_run(const char *, const char *, const struct msg_hello *, int)
	    __attribute__((noreturn));

#endif
