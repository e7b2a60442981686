/*
 * A terminal model for the client's predictive echo: libvterm, wrapped so
 * that the prediction code asks only what it needs (the cursor, one cell,
 * whether the pen is plain).  Without libvterm (HAVE_LIBVTERM unset, as in
 * the static musl build) cvt_new() returns NULL and nothing is predicted.
 */
#ifndef LIMPET_CLIENT_VT_H
#define LIMPET_CLIENT_VT_H

#include <stddef.h>
#include <stdint.h>

#define CVT_ERASED	0		/* a cell never written or erased */
#define CVT_OTHER	0xffffffffU	/* a cell we cannot redraw exactly */

struct cvt;

struct cvt	*cvt_new(int, int);
void		 cvt_free(struct cvt *);
void		 cvt_resize(struct cvt *, int, int);
void		 cvt_reset(struct cvt *);
void		 cvt_feed(struct cvt *, const void *, size_t);
void		 cvt_cursor(const struct cvt *, int *, int *);
uint32_t	 cvt_cell(const struct cvt *, int, int);
uint32_t	 cvt_char(const struct cvt *, int, int);
int		 cvt_pen_plain(const struct cvt *);
int		 cvt_alt(const struct cvt *);
void		 cvt_size(const struct cvt *, int *, int *);

#endif
