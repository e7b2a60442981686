/* limpet doctor --explain: what a disconnect message means. */
#ifndef LIMPET_DOCTOR_EXPLAIN_H
#define LIMPET_DOCTOR_EXPLAIN_H

#include <stdio.h>

int		 doctor_explain_print(const char *, int, FILE *);

#endif
