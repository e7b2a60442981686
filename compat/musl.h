/*
 * What the static (musl) build of limpet needs and musl lacks.  Only the
 * Makefile's `static` target uses this file (with -include); the normal
 * build gets these calls from glibc.
 */
#ifndef LIMPET_COMPAT_MUSL_H
#define LIMPET_COMPAT_MUSL_H

void	closefrom(int);

#endif
