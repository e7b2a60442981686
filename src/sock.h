/*
 * The per-user session directory and its Unix sockets.
 */
#ifndef LIMPET_SOCK_H
#define LIMPET_SOCK_H

#include <stddef.h>

#define SOCK_PATH_MAX	108

int	sock_dir(char *, size_t, char *, size_t);
int	sock_dir_check(const char *, char *, size_t);
int	sock_listen(const char *);
int	sock_connect(const char *);
int	sock_peer_ok(int);
int	sock_nonblock(int);
int	sock_write_all(int, const void *, size_t, int);
int	sock_path(char *, size_t, const char *, const char *, const char *);
int	sock_id_valid(const char *);

#endif
