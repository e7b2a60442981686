/* limpet doctor: the server layers (sshd, login shell, systemd-logind). */
#ifndef LIMPET_DOCTOR_SERVER_H
#define LIMPET_DOCTOR_SERVER_H

struct doctor_ctx;

void	 doctor_server_check(struct doctor_ctx *);
int	 doctor_server_version(const struct doctor_ctx *);
char	*doctor_server_line(const char *, int);
int	 doctor_server_in_home(const struct doctor_ctx *, const char *);
void	 doctor_shell_check(struct doctor_ctx *);
void	 doctor_logind_check(struct doctor_ctx *);

#endif
