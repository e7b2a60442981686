/*
 * limpet doctor: findings and the report.  Every check adds findings; the
 * report prints them per layer, then a summary ranked by what ends an idle
 * session first, as text or JSON.
 */
#ifndef LIMPET_DOCTOR_REPORT_H
#define LIMPET_DOCTOR_REPORT_H

#include <stdio.h>

/* Verdicts, from harmless to fatal. */
#define DOCTOR_OK	0	/* nothing ends an idle session here */
#define DOCTOR_WARN	1	/* may end it, or did not check out */
#define DOCTOR_KILLS	2	/* ends an idle session after secs */
#define DOCTOR_BROKEN	3	/* misconfigured: ssh or sshd refuses it */

/* Layers, in report order. */
#define LAYER_CLIENT	0
#define LAYER_SERVER	1
#define LAYER_SHELL	2
#define LAYER_LOGIND	3
#define LAYER_PATH	4
#define LAYER_COUNT	5

/* Who may apply the fix. */
#define FIXBY_NONE	0
#define FIXBY_USER	1
#define FIXBY_ADMIN	2

struct doctor_finding {
	int	 layer;
	char	*check;		/* the setting, e.g. "ServerAliveInterval" */
	char	*value;		/* its effective value */
	char	*file;		/* where it was set; NULL for a default */
	int	 line;
	int	 verdict;	/* for a plain ssh session */
	long	 secs;		/* idle seconds until it kills, -1 unknown */
	int	 lverdict;	/* for a limpet session */
	long	 lsecs;
	char	*why;		/* what it does, in a sentence or two */
	char	*limpet;	/* what it means for a limpet session */
	char	*fix;		/* the exact lines to change */
	char	*fixfile;	/* and where */
	int	 fixby;
};

struct doctor_report {
	char			*dest;
	struct doctor_finding	*f;
	int			 n;
	char			*notes[16];	/* why a check could not run */
	int			 nnotes;
	char			*error;		/* why doctor could not run */
};

void	doctor_report_init(struct doctor_report *, const char *);
void	doctor_report_free(struct doctor_report *);
struct doctor_finding *doctor_report_add(struct doctor_report *, int,
	    const char *, const char *, int);
void	doctor_report_set(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	doctor_report_where(struct doctor_finding *, const char *, int);
void	doctor_report_note(struct doctor_report *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
struct doctor_finding *doctor_report_find(struct doctor_report *, int,
	    const char *);
void	doctor_report_text(const struct doctor_report *, FILE *);
void	doctor_report_json(const struct doctor_report *, FILE *);
int	doctor_report_status(const struct doctor_report *);
const char *doctor_report_verdict(int, long, char *, size_t);
void	doctor_report_wrap(FILE *, const char *, int, int);
void	doctor_report_wrap_lead(FILE *, const char *, const char *, int,
	    int);
void	doctor_report_jstr(FILE *, const char *);

#endif
