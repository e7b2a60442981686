/*
 * A model of a terminal screen, fed the bytes a program writes: cells,
 * colours, cursor, modes, title, and the lines that scrolled off the top.
 * It wraps a terminal-emulation library (libvterm) so that nothing else
 * sees it, and renders the state back as the escape sequences that
 * rebuild it on a terminal.
 */
#ifndef LIMPET_VT_H
#define LIMPET_VT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct vt;

/* vt_render() flags. */
#define VT_SCROLLBACK	0x01	/* lines that scrolled off, first */

struct vt	*vt_new(int, int, size_t);
void		 vt_free(struct vt *);
void		 vt_feed(struct vt *, const uint8_t *, size_t);
void		 vt_resize(struct vt *, int, int);
void		 vt_reset(struct vt *);
void		 vt_size(const struct vt *, int *, int *);
void		 vt_set_tag(struct vt *, uint64_t);
int		 vt_render(struct vt *, struct buf *, uint64_t, int);
int		 vt_render_row(struct vt *, int, struct buf *);
size_t		 vt_sb_lines(const struct vt *);
size_t		 vt_sb_bytes(const struct vt *);
int		 vt_alt(const struct vt *);

#endif
