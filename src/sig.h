/*
 * Signals delivered into the poll loop through a self-pipe: the handler
 * only writes the signal number; the loop reads and acts on it.
 */
#ifndef LIMPET_SIG_H
#define LIMPET_SIG_H

int	sig_init(const int *, int);
int	sig_fd(void);
int	sig_next(void);
void	sig_reset(void);

#endif
