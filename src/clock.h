/* Monotonic and wall-clock time in the units the loops use. */
#ifndef LIMPET_CLOCK_H
#define LIMPET_CLOCK_H

#include <stdint.h>

uint64_t	clock_ms(void);
uint64_t	clock_wall(void);
int		clock_timeout(uint64_t, uint64_t, int);

#endif
