/* The client's hooks for predictive echo (client-predict.c). */
#ifndef LIMPET_CLIENT_PREDICT_H
#define LIMPET_CLIENT_PREDICT_H

#include <stddef.h>
#include <stdint.h>

struct client;

int		 cpred_mode(const char *);
void		 cpred_init(struct client *, int);
void		 cpred_free(struct client *);
void		 cpred_hide(struct client *);
void		 cpred_output(struct client *, const uint8_t *, size_t,
		    uint64_t);
void		 cpred_keys(struct client *, const uint8_t *, size_t,
		    uint64_t, uint64_t);
int		 cpred_termios(struct client *, const uint8_t *, size_t,
		    uint64_t);
void		 cpred_local(struct client *, const void *, size_t, int);
void		 cpred_resize(struct client *);
void		 cpred_fresh(struct client *, int);
void		 cpred_tick(struct client *, uint64_t);
uint64_t	 cpred_deadline(struct client *);
void		 cpred_end(struct client *);

#endif
