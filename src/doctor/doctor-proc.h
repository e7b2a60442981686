/* limpet doctor: run a program, feed it stdin, collect what it prints. */
#ifndef LIMPET_DOCTOR_PROC_H
#define LIMPET_DOCTOR_PROC_H

#include <stddef.h>

#include "buf.h"

struct doctor_proc {
	struct buf	out;
	struct buf	err;
	int		status;		/* exit status, 128 + signal, -1 */
	int		timedout;
};

int	doctor_proc_run(char *const *, const char *, size_t, int,
	    struct doctor_proc *);
void	doctor_proc_free(struct doctor_proc *);
char	*doctor_proc_text(struct buf *);
int	doctor_proc_interrupted(void);
void	doctor_proc_catch(void);

#endif
