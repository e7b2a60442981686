/* limpet doctor: the client layer (ssh -G and the replayed files). */
#ifndef LIMPET_DOCTOR_CLIENT_H
#define LIMPET_DOCTOR_CLIENT_H

struct doctor_ctx;

#include <stddef.h>

int	 doctor_client_load(struct doctor_ctx *);
int	 doctor_client_check_dest(const struct doctor_ctx *, char *, size_t);
const char *doctor_client_bad_name(const char *, int, char *, size_t);
void	 doctor_client_check(struct doctor_ctx *);
int	 doctor_client_has_F(const struct doctor_ctx *);
long	 doctor_client_session_timeout(const char *, const char *);
char	*doctor_client_line(const char *, int);

#endif
