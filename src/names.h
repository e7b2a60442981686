/*
 * Name files of named sessions: <dir>/<NAME>.name holds the session's
 * id and is the lock that makes limpet -S NAME's "attach or start"
 * atomic (names.c).
 */
#ifndef LIMPET_NAMES_H
#define LIMPET_NAMES_H

#include <stddef.h>

int	names_lock(const char *, const char *);
void	names_read(int, char *, size_t);
void	names_peek(const char *, const char *, char *, size_t);
int	names_write(int, const char *);
void	names_forget(const char *, const char *, const char *);

#endif
