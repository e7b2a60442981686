/*
 * The client's side of the screen snapshot (MSG_SCREEN): write it, learn
 * the modes from it, show the "attached" notice and take it away.
 */
#ifndef LIMPET_CLIENT_REPAINT_H
#define LIMPET_CLIENT_REPAINT_H

#include <stdint.h>

#include "frame.h"

struct client;

void	repaint_frame(struct client *, const struct frame *, uint64_t);
void	repaint_notice_off(struct client *);
void	repaint_tick(struct client *, uint64_t);

#endif
