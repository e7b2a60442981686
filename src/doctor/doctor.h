/* limpet doctor: which timeout kills the user's SSH sessions. */
#ifndef LIMPET_DOCTOR_H
#define LIMPET_DOCTOR_H

int	doctor_main(int, char **);

#endif
