/* Why a session ended: the one line the client prints after the exit. */
#ifndef LIMPET_CLIENT_WHY_H
#define LIMPET_CLIENT_WHY_H

#include <stddef.h>

const char	*client_why_exit(const char *, size_t, int);
const char	*client_why_signame(int);

#endif
