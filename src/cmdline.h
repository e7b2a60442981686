/*
 * Splitting a command line the way ssh users expect: limpet's long options
 * first, then ssh's own options (passed through untouched), the
 * destination, and the remote command.
 */
#ifndef LIMPET_CMDLINE_H
#define LIMPET_CMDLINE_H

#include <stddef.h>

struct cmdline_opt {
	const char	*name;		/* without the leading "--" */
	int		 has_arg;
};

#define CMDLINE_MAX_LONG	32

struct cmdline {
	const char	*lname[CMDLINE_MAX_LONG];	/* long options seen */
	const char	*lval[CMDLINE_MAX_LONG];	/* their values */
	int		 nlong;
	char		**ssh;		/* ssh options, ready for argv */
	int		 nssh;
	const char	*dest;		/* NULL if none was given */
	char		**cmd;		/* remote command words */
	int		 ncmd;
};

extern const struct cmdline_opt	cmdline_client_opts[];
extern const struct cmdline_opt	doctor_opts[];	/* in doctor.c */

int		 cmdline_lead(int, char **, const struct cmdline_opt *,
		    const char *, char *, size_t);
int		 cmdline_split(int, char **, const struct cmdline_opt *,
		    int, struct cmdline *, char *, size_t);
void		 cmdline_free(struct cmdline *);
const char	*cmdline_get(const struct cmdline *, const char *);
int		 cmdline_has(const struct cmdline *, const char *);
int		 cmdline_seconds(const struct cmdline *, const char *, int,
		    int *, char *, size_t);
int		 cmdline_ssh_takes_arg(int);

#endif
