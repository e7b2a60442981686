/*
 * Child processes: start a program with the pipes the caller wants on its
 * stdin, stdout and stderr, then end and reap it.  Shared by every part of
 * limpet that runs another program (the client's ssh, doctor's checks).
 */
#ifndef LIMPET_PROC_H
#define LIMPET_PROC_H

#include <sys/types.h>

/* What each of the child's fds 0, 1 and 2 is (how[] of proc_spawn). */
#define PROC_NULL	0	/* /dev/null */
#define PROC_PIPE	1	/* a pipe; the parent's end is in p->fd[i] */
#define PROC_INHERIT	2	/* the parent's own fd, shared */

/* Flags of proc_spawn. */
#define PROC_NONBLOCK	0x01	/* the parent's pipe ends are non-blocking */
#define PROC_NOINT	0x02	/* the child ignores SIGINT (Ctrl-C is ours) */

struct proc {
	pid_t	pid;		/* -1: none, or reaped */
	int	fd[3];		/* parent's ends: [0] write to the child's
				   stdin, [1] and [2] read its stdout and
				   stderr; -1 if not a pipe or closed */
	int	status;		/* exit code, 128 + N for signal N; -1 */
	int	termsig;	/* the signal that ended it, or 0 */
};

void	proc_init(struct proc *);
int	proc_spawn(struct proc *, char *const *, const int [3], int);
void	proc_close(struct proc *);
int	proc_kill(struct proc *, int);
int	proc_reap(struct proc *);
int	proc_wait(struct proc *, int);
int	proc_stop(struct proc *, int);
int	proc_null_stdio(void);

#endif
