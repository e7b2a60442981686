/*
 * The user's limpet configuration: $XDG_CONFIG_HOME/limpet/config (else
 * ~/.config/limpet/config), per-host defaults in the style of
 * ssh_config(5).  Lines are "keyword value" or "keyword=value"; # starts
 * a comment; a value may be in double quotes.  "Host pattern ..." starts
 * a section that applies when one of its patterns matches the host
 * (* and ? wildcards; a pattern starting with ! that matches excludes
 * the section); lines before the first Host apply to every host.  As in
 * ssh, the first value found for a keyword wins, and the command line
 * wins over the file.  The keywords are limpet's long options.
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client-int.h"
#include "client-keep.h"
#include "cmdline.h"
#include "config.h"
#include "daemon.h"
#include "err.h"
#include "xmalloc.h"

/*
 * The keywords, their kind, and what -G shows when none is set (NULL:
 * config_default() works it out from the constants the client uses).
 */
static const struct config_key {
	const char	*name;
	int		 kind;
	const char	*def;
} config_keys[] = {
	{ "server-path",	CONFIG_STRING,	"none" },
	{ "server-dir",		CONFIG_STRING,	"none" },
	{ "keepalive",		CONFIG_SECONDS,	NULL },
	{ "dead",		CONFIG_SECONDS,	NULL },
	{ "give-up",		CONFIG_SECONDS,	"none" },
	{ "predict",		CONFIG_PREDICT,	NULL },
	{ "ring-size",		CONFIG_SIZE,	NULL },
	{ "install",		CONFIG_YESNO,	"no" },
	{ NULL, 0, NULL }
};

/* The keyword called name (any case), or NULL. */
static const struct config_key *
config_key(const char *name)
{
	const struct config_key	*k;

	for (k = config_keys; k->name != NULL; k++)
		if (strcasecmp(k->name, name) == 0)
			return k;
	return NULL;
}

/* The file's path: $XDG_CONFIG_HOME/limpet/config or the default. */
char *
config_path(void)
{
	const char	*x = getenv("XDG_CONFIG_HOME"), *home;
	char		*p;

	if (x != NULL && *x == '/') {
		xasprintf(&p, "%s/limpet/config", x);
		return p;
	}
	if ((home = getenv("HOME")) == NULL || *home == '\0')
		return NULL;
	xasprintf(&p, "%s/.config/limpet/config", home);
	return p;
}

/* --predict's modes, the default first. */
const char *const config_predict_modes[] = { "adaptive", "always", "never",
    NULL };

/*
 * A --ring-size value (bytes, or with K or M) in KiB in *kb: 0, or
 * ERR_FORMAT when it is not a size from 64K to 256M.
 */
int
config_ring_kb(const char *v, uint32_t *kb)
{
	char		*end;
	unsigned long	 n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (*end == 'k' || *end == 'K')
		end++;
	else if (*end == 'm' || *end == 'M') {
		n = n > ULONG_MAX / 1024 ? ULONG_MAX : n * 1024;
		end++;
	} else
		n /= 1024;
	if (errno != 0 || end == v || *v == '-' || *end != '\0' || n < 64 ||
	    n > 262144)
		return ERR_FORMAT;
	*kb = (uint32_t)n;
	return 0;
}

/* Whether value is valid for a keyword of kind; else why not in err. */
static int
config_check(int kind, const char *v, char *err, size_t errlen)
{
	char		*end;
	long		 n;
	uint32_t	 kb;
	int		 i;

	switch (kind) {
	case CONFIG_SECONDS:
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || n < 1 ||
		    n > 86400) {
			snprintf(err, errlen, "wants seconds from 1 to 86400, "
			    "not '%s'", v);
			return ERR_FORMAT;
		}
		break;
	case CONFIG_SIZE:
		if (config_ring_kb(v, &kb) != 0) {
			snprintf(err, errlen, "wants 64K to 256M, not '%s'",
			    v);
			return ERR_FORMAT;
		}
		break;
	case CONFIG_PREDICT:
		for (i = 0; config_predict_modes[i] != NULL; i++)
			if (strcmp(v, config_predict_modes[i]) == 0)
				return 0;
		snprintf(err, errlen, "wants adaptive, always or never, not "
		    "'%s'", v);
		return ERR_FORMAT;
	case CONFIG_YESNO:
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
			snprintf(err, errlen, "wants yes or no, not '%s'", v);
			return ERR_FORMAT;
		}
		break;
	case CONFIG_WORD:
		if (strpbrk(v, " \t") != NULL) {
			snprintf(err, errlen, "wants one word, not '%s'", v);
			return ERR_FORMAT;
		}
		break;
	}
	return 0;
}

/*
 * Split line into up to max words in w (in place): spaces or one '='
 * separate the keyword from the value; double quotes group.  Returns
 * the number of words, or -1 for an unterminated quote.
 */
static int
config_words(char *line, char **w, int max)
{
	char	*p = line, *o;
	int	 n = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t' || (n == 1 && *p == '='))
			p++;
		if (*p == '\0' || *p == '#')
			return n;
		if (n == max)
			return max + 1;
		w[n++] = o = p;
		if (*p == '"') {
			w[n - 1] = o = ++p;
			while (*p != '"' && *p != '\0')
				*o++ = *p++;
			if (*p != '"')
				return -1;
			p++;
		} else {
			while (*p != '\0' && *p != ' ' && *p != '\t' &&
			    !(n == 1 && *p == '='))
				o++, p++;
		}
		if (*p != '\0')
			p++;
		*o = '\0';
	}
}

/* Whether the Host line's patterns (w[1..n-1]) select host. */
int
config_host_match(char **w, int n, const char *host)
{
	int	i, hit = 0;

	for (i = 0; i < n; i++) {
		if (w[i][0] == '!') {
			if (fnmatch(w[i] + 1, host, 0) == 0)
				return 0;
		} else if (fnmatch(w[i], host, 0) == 0)
			hit = 1;
	}
	return hit;
}

/* Record keyword k = v unless an earlier line set it (first wins). */
static void
config_set(struct config *cf, const struct config_key *k, const char *v)
{
	if (config_get(cf, k->name) != NULL || cf->n >= CONFIG_MAX)
		return;
	cf->name[cf->n] = k->name;
	cf->value[cf->n++] = xstrdup(v);
}

/* Handle one line (number lineno) of the file; 0 or ERR_FORMAT. */
static int
config_line(struct config *cf, char *line, int lineno, const char *host,
    int *active, char *err, size_t errlen)
{
	const struct config_key	*k;
	char			*w[64], why[256];
	int			 n;

	if ((n = config_words(line, w, 63)) == 0)
		return 0;
	if (n < 0 || n > 63) {
		snprintf(err, errlen, "%s:%d: %s", cf->path, lineno, n < 0 ?
		    "unterminated quote" : "too many words");
		return ERR_FORMAT;
	}
	if (strcasecmp(w[0], "Host") == 0) {
		if (n < 2) {
			snprintf(err, errlen, "%s:%d: Host wants a pattern",
			    cf->path, lineno);
			return ERR_FORMAT;
		}
		*active = config_host_match(w + 1, n - 1, host);
		return 0;
	}
	if ((k = config_key(w[0])) == NULL) {
		snprintf(err, errlen, "%s:%d: unknown keyword '%.64s'",
		    cf->path, lineno, w[0]);
		return ERR_FORMAT;
	}
	if (n != 2) {
		snprintf(err, errlen, "%s:%d: %s wants %s", cf->path, lineno,
		    k->name, n < 2 ? "a value" : "one value");
		return ERR_FORMAT;
	}
	if (config_check(k->kind, w[1], why, sizeof why) != 0) {
		snprintf(err, errlen, "%s:%d: %s %s", cf->path, lineno,
		    k->name, why);
		return ERR_FORMAT;
	}
	if (*active)
		config_set(cf, k, w[1]);
	return 0;
}

/*
 * Read the settings for host from text (named path in messages).  Every
 * line is checked, even in sections for other hosts, so a mistake shows
 * whichever host is used.  0, or ERR_FORMAT with "path:line: why".
 */
int
config_parse(struct config *cf, const char *text, const char *path,
    const char *host, char *err, size_t errlen)
{
	const char	*p = text, *nl;
	char		*line;
	size_t		 n;
	int		 lineno = 0, active = 1, r = 0;

	memset(cf, 0, sizeof *cf);
	cf->path = xstrdup(path);
	while (*p != '\0' && r == 0) {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		line = xmalloc(n + 1);
		memcpy(line, p, n);
		line[n] = '\0';
		lineno++;
		if (*line != '\0' && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		r = config_line(cf, line, lineno, host, &active, err, errlen);
		free(line);
		p = nl != NULL ? nl + 1 : p + strlen(p);
	}
	return r;
}

/*
 * Read the file at path for host: 0 (also when there is no file), or
 * ERR_FORMAT / ERR_SYSTEM with the reason in err.
 */
int
config_load(struct config *cf, const char *path, const char *host,
    char *err, size_t errlen)
{
	FILE	*f;
	char	*text, buf[4096];
	size_t	 len = 0, n;
	int	 r;

	memset(cf, 0, sizeof *cf);
	if (path == NULL || (f = fopen(path, "re")) == NULL) {
		if (path == NULL || errno == ENOENT || errno == ENOTDIR)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ERR_SYSTEM;
	}
	text = xmalloc(1);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0 && len < 1024 * 1024) {
		text = xreallocarray(text, len + n + 1, 1);
		memcpy(text + len, buf, n);
		len += n;
	}
	fclose(f);
	text[len] = '\0';
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: not a text file", path);
		free(text);
		return ERR_FORMAT;
	}
	r = config_parse(cf, text, path, host, err, errlen);
	free(text);
	return r;
}

/* The value set for keyword name, or NULL. */
const char *
config_get(const struct config *cf, const char *name)
{
	int	i;

	for (i = 0; i < cf->n; i++)
		if (strcmp(cf->name[i], name) == 0)
			return cf->value[i];
	return NULL;
}

/*
 * Give cl the file's settings that its command line did not: appended
 * as if typed, for the options this build has (a keyword of an option
 * this build lacks is kept for -G only).
 */
void
config_apply(const struct config *cf, struct cmdline *cl)
{
	const struct cmdline_opt	*o;
	int				 i;

	for (i = 0; i < cf->n && cl->nlong < CMDLINE_MAX_LONG; i++) {
		if (cmdline_has(cl, cf->name[i]))
			continue;
		for (o = cmdline_client_opts; o->name != NULL; o++)
			if (strcmp(o->name, cf->name[i]) == 0)
				break;
		if (o->name == NULL)
			continue;
		if (!o->has_arg) {
			if (strcmp(cf->value[i], "yes") != 0)
				continue;
			cl->lname[cl->nlong] = o->name;
			cl->lval[cl->nlong++] = "";
		} else {
			cl->lname[cl->nlong] = o->name;
			cl->lval[cl->nlong++] = cf->value[i];
		}
	}
}

/*
 * Load the user's file for cl's destination (without user@) and give cl
 * its settings.  0, or an error with "file:line: why" in err.
 */
int
config_for(struct config *cf, struct cmdline *cl, char *err, size_t errlen)
{
	const char	*host = cl->dest, *at;
	char		*path = config_path();
	int		 r;

	if (host != NULL && (at = strrchr(host, '@')) != NULL)
		host = at + 1;
	r = config_load(cf, path, host != NULL ? host : "", err, errlen);
	free(path);
	if (r == 0)
		config_apply(cf, cl);
	return r;
}

/*
 * What the client does for keyword k when nothing sets it, from the
 * same constants it uses (so that -G cannot drift from them).
 */
static const char *
config_default(const struct config_key *k, char *buf, size_t len)
{
	if (k->def != NULL)
		return k->def;
	if (strcmp(k->name, "keepalive") == 0)
		snprintf(buf, len, "learned(%d-%d)", PROTO_KEEPALIVE_S,
		    KEEP_MAX_MS / 1000);
	else if (strcmp(k->name, "dead") == 0)
		snprintf(buf, len, "%d", DEAD_S);
	else if (strcmp(k->name, "ring-size") == 0)
		snprintf(buf, len, "%dM", DAEMON_RING_DEFAULT / (1024 * 1024));
	else
		snprintf(buf, len, "%s", config_predict_modes[0]);
	return buf;
}

/* Print the effective settings, one "keyword value" line each (-G). */
void
config_print(const struct config *cf, const struct cmdline *cl, FILE *out)
{
	const struct config_key	*k;
	const char		*v;
	char			 buf[64];

	for (k = config_keys; k->name != NULL; k++) {
		v = cmdline_get(cl, k->name);
		if (v != NULL && k->kind == CONFIG_YESNO)
			v = "yes";
		if (v == NULL)
			v = config_get(cf, k->name);
		if (v == NULL)
			v = config_default(k, buf, sizeof buf);
		fprintf(out, "%s %s\n", k->name, v);
	}
}

/* Free what config_parse() or config_load() made. */
void
config_free(struct config *cf)
{
	int	i;

	for (i = 0; i < cf->n; i++)
		free(cf->value[i]);
	free(cf->path);
	memset(cf, 0, sizeof *cf);
}
