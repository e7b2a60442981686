/* The user's per-host defaults, ssh_config style (config.c). */
#ifndef LIMPET_CONFIG_H
#define LIMPET_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "cmdline.h"

#define CONFIG_STRING	0
#define CONFIG_SECONDS	1
#define CONFIG_SIZE	2
#define CONFIG_YESNO	3
#define CONFIG_WORD	4
#define CONFIG_PREDICT	5

#define CONFIG_MAX	16

struct config {
	char		*path;
	const char	*name[CONFIG_MAX];
	char		*value[CONFIG_MAX];
	int		 n;
};

extern const char *const config_predict_modes[];

char		*config_path(void);
int		 config_ring_kb(const char *, uint32_t *);
int		 config_host_match(char **, int, const char *);
int		 config_parse(struct config *, const char *, const char *,
		    const char *, char *, size_t);
int		 config_load(struct config *, const char *, const char *,
		    char *, size_t);
const char	*config_get(const struct config *, const char *);
int		 config_for(struct config *, struct cmdline *, char *,
		    size_t);
void		 config_apply(const struct config *, struct cmdline *);
void		 config_print(const struct config *, const struct cmdline *,
		    FILE *);
void		 config_free(struct config *);

#endif
