/* Start the session's program on a new PTY. */
#ifndef LIMPET_PTY_H
#define LIMPET_PTY_H

#include <sys/types.h>

#include <stdint.h>

struct pty_spec {
	char		**argv;		/* command words, or NULL for a shell */
	int		  argc;
	char		**env;		/* NAME=value to set */
	int		  envc;
	const char	 *session;	/* for LIMPET_SESSION */
	uint16_t	  rows, cols;
};

int	pty_spawn(const struct pty_spec *, int *, pid_t *);
void	pty_child(const struct pty_spec *, const char *, const char *)
	    __attribute__((noreturn));
int	pty_resize(int, uint16_t, uint16_t);
char	*pty_command_line(const struct pty_spec *);
int	 pty_env_allowed(const char *);

#endif
