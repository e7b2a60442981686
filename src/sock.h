/*
 * The per-user session directory and its Unix sockets.
 */
#ifndef LIMPET_SOCK_H
#define LIMPET_SOCK_H

#include <stddef.h>

#define SOCK_PATH_MAX	108
/* Room for "/<16-char id>.sock.<pid>" after the directory in sun_path. */
#define SOCK_DIR_MAX	(SOCK_PATH_MAX - 40)
#define SOCK_DIRS_MAX	3
#define SOCK_ERR_MAX	512

/* The session directories: path[0] takes new sessions. */
struct sock_dirs {
	int	n;
	char	path[SOCK_DIRS_MAX][SOCK_PATH_MAX];
	char	note[SOCK_ERR_MAX];	/* why the default was refused */
};

int	sock_dirs(struct sock_dirs *, const char *, char *, size_t);
int	sock_dirs_in(struct sock_dirs *, const char *, const char *, char *,
	    size_t);
int	sock_dir_check(const char *, char *, size_t);
int	sock_listen(const char *);
int	sock_connect(const char *);
int	sock_peer_ok(int);
int	sock_nonblock(int);
int	sock_write_all(int, const void *, size_t, int);
int	sock_path(char *, size_t, const char *, const char *, const char *);
int	sock_id_valid(const char *);

#endif
