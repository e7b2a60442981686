/*
 * limpet doctor --fix: edits to configuration files, planned while the
 * report is built (so the report shows the exact change) and applied only
 * after the user saw them and agreed.
 */
#ifndef LIMPET_DOCTOR_FIX_H
#define LIMPET_DOCTOR_FIX_H

struct doctor_ctx;

#define EDIT_REPLACE	1	/* replace line `line` (must equal old) */
#define EDIT_INSERT	2	/* insert text after line `line` */
#define EDIT_APPEND	3	/* append text at the end (file may not exist) */
#define EDIT_COMMENT	4	/* comment out line `line` (must equal old) */

struct doctor_edit {
	char	*file;
	int	 remote;	/* a file on the server, as the user */
	int	 kind;
	int	 line;
	char	*old;		/* the line as it is now */
	char	*text;		/* the new text, lines ending in \n */
};

struct doctor_edits {
	struct doctor_edit	*e;
	int			 n;
};

int	doctor_fix_plan_alive(struct doctor_ctx *, long, char **, char **);
void	doctor_fix_add(struct doctor_edits *, const char *, int, int, int,
	    const char *, const char *);
void	doctor_fix_free(struct doctor_edits *);
char	*doctor_fix_describe(const struct doctor_edit *);
int	doctor_fix_run(struct doctor_ctx *, struct doctor_edits *);
int	doctor_fix_local(const struct doctor_edit *, char *, size_t);
int	doctor_fix_is_user_file(const struct doctor_ctx *, const char *);

#endif
