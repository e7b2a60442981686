/* The client's terminal: raw mode, size, and messages that keep it tidy. */
#ifndef LIMPET_CLIENT_TTY_H
#define LIMPET_CLIENT_TTY_H

#include <stdint.h>

int	tty_raw(int);
void	tty_restore(void);
int	tty_is_raw(void);
int	tty_size(int, uint16_t *, uint16_t *);

#endif
