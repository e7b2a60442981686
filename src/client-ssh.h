/* The ssh child that carries one connection of the client. */
#ifndef LIMPET_CLIENT_SSH_H
#define LIMPET_CLIENT_SSH_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct ssh_conf {
	const char	 *prog;		/* ssh program */
	char		**opts;		/* the user's ssh options */
	int		  nopts;
	const char	 *dest;
	const char	 *server_path;	/* limpet on the server, or NULL */
	const char	 *server_dir;	/* the relay's --dir, or NULL */
	int		  reconnect;	/* not the first connection */
	int		  connect_timeout;	/* seconds, 0 for ssh's own */
	const char	 *command;	/* run this, not the relay (install) */
	const char	 *hello;	/* HELLO in hex for LIMPET_HELLO, or NULL */
};

struct ssh_proc {
	pid_t	pid;
	int	in;		/* we write ssh's stdin */
	int	out;		/* we read ssh's stdout */
	int	err;		/* we read ssh's stderr */
};

#define SSH_TEMPORARY	0
#define SSH_PERMANENT	1

int	ssh_spawn(const struct ssh_conf *, struct ssh_proc *);
void	ssh_stop(struct ssh_proc *);
int	ssh_reap_dying(void);
void	ssh_close(struct ssh_proc *, int);
size_t	ssh_magic_scan(size_t *, const uint8_t *, size_t, int *);
void	ssh_reap_all(int);
int	ssh_reap(struct ssh_proc *, int *);
int	ssh_classify(const char *, int, char *, size_t);
int	ssh_not_installed(const char *, int);
const char *ssh_last_line(const char *, char *, size_t);
int	ssh_user_verbose(const struct ssh_conf *);
char	*ssh_remote_command(const char *, const char *, const char *);
char	*ssh_shell_quote(const char *);
char	*ssh_cipher_option(const char *, int);

#endif
