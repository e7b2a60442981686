/* limpet doctor: the server's facts, through one ssh running sh -s. */
#ifndef LIMPET_DOCTOR_REMOTE_H
#define LIMPET_DOCTOR_REMOTE_H

struct doctor_ctx;
struct doctor_remote;

int		 doctor_remote_run(struct doctor_ctx *);
void		 doctor_remote_parse(struct doctor_remote *, char *);
void		 doctor_remote_free(struct doctor_remote *);
const char	*doctor_remote_file(const struct doctor_remote *,
		    const char *);
const char	*doctor_remote_get(const struct doctor_remote *,
		    const char *);

#endif
