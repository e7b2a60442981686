/*
 * limpet doctor: what the checks share: the command line, the client's
 * effective ssh configuration, what the server sent back, and the report.
 */
#ifndef LIMPET_DOCTOR_CTX_H
#define LIMPET_DOCTOR_CTX_H

#include "doctor-fix.h"
#include "doctor-nat.h"
#include "doctor-report.h"
#include "doctor-sshconf.h"

/* The pseudo file that holds the -o options. */
#define CMDLINE_FILE	"the command line"

/* A "key value" pair, as printed by ssh -G or sent by the server. */
struct doctor_kv {
	char	*key;
	char	*value;
};

/* A file the server sent, with its path on the server. */
struct doctor_rfile {
	char	*path;
	char	*text;
};

struct doctor_remote {
	int			 ok;		/* the script ran */
	char			*error;		/* why not */
	struct doctor_kv	*kv;		/* facts, in the order sent */
	int			 nkv;
	struct doctor_rfile	*files;
	int			 nfiles;
	char			*sshd_t;	/* sshd -T/-G output, or NULL */
	char			*shell_trace;	/* TMOUT lines of the trace */
};

struct doctor_ctx {
	const char		*ssh;		/* the ssh program */
	char			**sshopts;	/* the user's ssh options */
	int			 nsshopts;
	const char		*dest;		/* destination as typed */
	char			*host;		/* its host part */
	char			*home;
	char			*localuser;
	char			*userconf;	/* the user's ssh_config */
	int			 noconf;	/* -F none */
	struct doctor_kv	*g;		/* ssh -G */
	int			 ng;
	struct sshconf		 client;	/* replayed client config */
	int			 keepalive;	/* limpet's heartbeat */
	int			 fix, yes, system, json;
	struct doctor_remote	 remote;
	struct doctor_report	 report;
	struct doctor_edits	 fixes;		/* planned by the checks */
	struct doctor_nat	 nat;
};

const char	*doctor_kv_get(const struct doctor_kv *, int, const char *);
void		 doctor_kv_add(struct doctor_kv **, int *, const char *,
		    const char *);
void		 doctor_kv_free(struct doctor_kv *, int);
long		 doctor_seconds(const char *);
char		**doctor_ssh_argv(const struct doctor_ctx *, int *,
		    const char *const *, int, int);
void		 doctor_argv_free(char **);

#endif
