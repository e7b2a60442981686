/*
 * limpet doctor: small helpers the checks share: key/value lists, ssh's
 * time format, and the ssh command line built from the user's options.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "doctor-ctx.h"
#include "xmalloc.h"

/* The value of the first key (case-insensitive), or NULL. */
const char *
doctor_kv_get(const struct doctor_kv *kv, int n, const char *key)
{
	int	i;

	for (i = 0; i < n; i++)
		if (strcasecmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

/* Append a pair. */
void
doctor_kv_add(struct doctor_kv **kv, int *n, const char *key,
    const char *value)
{
	*kv = xreallocarray(*kv, *n + 1, sizeof **kv);
	(*kv)[*n].key = xstrdup(key);
	(*kv)[*n].value = xstrdup(value);
	(*n)++;
}

/* Free a list. */
void
doctor_kv_free(struct doctor_kv *kv, int n)
{
	int	i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/*
 * Parse an ssh/sshd time ("90", "5m", "1h30m", "2W"): seconds, or -1 for
 * "none", "infinity" or anything else that is not a time.
 */
long
doctor_seconds(const char *s)
{
	long	 total = 0, n, mult;
	char	*end;

	if (s == NULL || *s == '\0')
		return -1;
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s))
			return -1;
		n = strtol(s, &end, 10);
		switch (tolower((unsigned char)*end)) {
		case '\0':
			mult = 1;
			break;
		case 's':
			mult = 1;
			end++;
			break;
		case 'm':
			mult = 60;
			end++;
			break;
		case 'h':
			mult = 3600;
			end++;
			break;
		case 'd':
			mult = 86400;
			end++;
			break;
		case 'w':
			mult = 7 * 86400;
			end++;
			break;
		default:
			return -1;
		}
		if (n > 100000000L / mult)
			return -1;
		total += n * mult;
		s = end;
	}
	return total;
}

/*
 * Build an ssh command line: the ssh program, the extra options (they
 * come first, so they win), the user's options, then the destination if
 * with_dest.  The array and strings are new; *n gets the count.
 */
char **
doctor_ssh_argv(const struct doctor_ctx *ctx, int *n,
    const char *const *extra, int nextra, int with_dest)
{
	char	**argv;
	int	  i, k = 0;

	argv = xcalloc(nextra + ctx->nsshopts + 4, sizeof *argv);
	argv[k++] = xstrdup(ctx->ssh);
	for (i = 0; i < nextra; i++)
		argv[k++] = xstrdup(extra[i]);
	for (i = 0; i < ctx->nsshopts; i++)
		argv[k++] = xstrdup(ctx->sshopts[i]);
	if (with_dest)
		argv[k++] = xstrdup(ctx->dest);
	argv[k] = NULL;
	if (n != NULL)
		*n = k;
	return argv;
}

/* Free a NULL-terminated argv built above. */
void
doctor_argv_free(char **argv)
{
	int	i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}
