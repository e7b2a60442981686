/*
 * Command-line splitting.  ssh's option letters are listed here so that
 * "-p 2222 host cmd" and "-p2222 host cmd" both find the destination; the
 * letters that make no sense under limpet (background, no command, stdio
 * forwarding, control commands) are refused with the reason.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "err.h"
#include "xmalloc.h"

/* ssh(1) option letters that take an argument. */
static const char ssh_arg_letters[] = "BbcDEeFIiJLlmOoPpQRSWw";
/* ssh(1) option letters without an argument. */
static const char ssh_flag_letters[] = "46AaCfGgKkMNnqsTtVvXxYy";
/* Letters limpet refuses, and why. */
static const struct {
	char		 letter;
	const char	*why;
} ssh_refused[] = {
	{ 'f', "limpet stays in the foreground to keep the session" },
	{ 'N', "limpet always runs a session" },
	{ 'n', "limpet needs standard input" },
	{ 's', "subsystems are not sessions" },
	{ 'W', "stdio forwarding has no session to keep" },
	{ 'O', "control commands go to plain ssh" },
	{ 'G', "use plain ssh -G" },
	{ 'Q', "use plain ssh -Q" },
	{ 'V', "use plain ssh -V (limpet --version for limpet)" },
	{ 'M', "limpet runs its own connections" },
};

/* True if ssh's option letter c takes an argument. */
int
cmdline_ssh_takes_arg(int c)
{
	return c != '\0' && strchr(ssh_arg_letters, c) != NULL;
}

/* Check one ssh letter; fills err and returns ERR_USAGE if refused. */
static int
cmdline_check_letter(int c, char *err, size_t errlen)
{
	size_t	i;

	for (i = 0; i < sizeof ssh_refused / sizeof ssh_refused[0]; i++) {
		if (ssh_refused[i].letter == c) {
			snprintf(err, errlen, "ssh option -%c is not supported:"
			    " %s", c, ssh_refused[i].why);
			return ERR_USAGE;
		}
	}
	if (strchr(ssh_flag_letters, c) == NULL &&
	    strchr(ssh_arg_letters, c) == NULL) {
		snprintf(err, errlen, "unknown option -%c", c);
		return ERR_USAGE;
	}
	return 0;
}

/* Record a limpet long option "--name[=value]" found at argv[*i]. */
static int
cmdline_long(int argc, char **argv, int *i, const struct cmdline_opt *opts,
    struct cmdline *cl, char *err, size_t errlen)
{
	const char	*arg = argv[*i] + 2, *eq, *val = NULL;
	size_t		 len;
	int		 j;

	eq = strchr(arg, '=');
	len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	for (j = 0; opts != NULL && opts[j].name != NULL; j++) {
		if (strlen(opts[j].name) == len &&
		    strncmp(opts[j].name, arg, len) == 0)
			break;
	}
	if (opts == NULL || opts[j].name == NULL) {
		snprintf(err, errlen, "unknown option --%.*s", (int)len, arg);
		return ERR_USAGE;
	}
	if (opts[j].has_arg) {
		if (eq != NULL)
			val = eq + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else {
			snprintf(err, errlen, "option --%s needs a value",
			    opts[j].name);
			return ERR_USAGE;
		}
	} else if (eq != NULL) {
		snprintf(err, errlen, "option --%s takes no value",
		    opts[j].name);
		return ERR_USAGE;
	}
	if (cl->nlong == CMDLINE_MAX_LONG) {
		snprintf(err, errlen, "too many options");
		return ERR_USAGE;
	}
	cl->lname[cl->nlong] = opts[j].name;
	cl->lval[cl->nlong] = val != NULL ? val : "";
	cl->nlong++;
	return 0;
}

/*
 * Split argv (after the program and subcommand names) into limpet's long
 * options (those in opts), ssh's options, the destination and the command.
 * If need_dest is set, a missing destination is an error.
 */
int
cmdline_split(int argc, char **argv, const struct cmdline_opt *opts,
    int need_dest, struct cmdline *cl, char *err, size_t errlen)
{
	int	 i = 0, r;
	size_t	 k;
	char	*a;

	memset(cl, 0, sizeof *cl);
	cl->ssh = xcalloc(argc + 1, sizeof *cl->ssh);
	/* limpet's long options come first. */
	for (; i < argc && strncmp(argv[i], "--", 2) == 0 &&
	    argv[i][2] != '\0'; i++) {
		if ((r = cmdline_long(argc, argv, &i, opts, cl, err,
		    errlen)) != 0)
			goto fail;
	}
	/* Then ssh's options, in ssh's own syntax. */
	for (; i < argc; i++) {
		a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (a[1] == '-') {
			snprintf(err, errlen, "limpet option %s must come "
			    "before ssh options", a);
			r = ERR_USAGE;
			goto fail;
		}
		cl->ssh[cl->nssh++] = xstrdup(a);
		for (k = 1; a[k] != '\0'; k++) {
			if ((r = cmdline_check_letter(a[k], err,
			    errlen)) != 0)
				goto fail;
			if (!cmdline_ssh_takes_arg(a[k]))
				continue;
			if (a[k + 1] == '\0') {
				if (i + 1 >= argc) {
					snprintf(err, errlen, "ssh option -%c "
					    "needs an argument", a[k]);
					r = ERR_USAGE;
					goto fail;
				}
				cl->ssh[cl->nssh++] = xstrdup(argv[++i]);
			}
			break;
		}
	}
	if (i < argc)
		cl->dest = argv[i++];
	if (cl->dest == NULL && need_dest) {
		snprintf(err, errlen, "no destination given");
		r = ERR_USAGE;
		goto fail;
	}
	cl->cmd = argv + i;
	cl->ncmd = argc - i;
	return 0;
fail:
	cmdline_free(cl);
	return r;
}

/* Free what cmdline_split() allocated. */
void
cmdline_free(struct cmdline *cl)
{
	int	i;

	if (cl->ssh != NULL) {
		for (i = 0; i < cl->nssh; i++)
			free(cl->ssh[i]);
		free(cl->ssh);
	}
	cl->ssh = NULL;
	cl->nssh = 0;
}

/* The value of the last --name given, or NULL. */
const char *
cmdline_get(const struct cmdline *cl, const char *name)
{
	int	i;

	for (i = cl->nlong - 1; i >= 0; i--)
		if (strcmp(cl->lname[i], name) == 0)
			return cl->lval[i];
	return NULL;
}

/* True if --name was given. */
int
cmdline_has(const struct cmdline *cl, const char *name)
{
	return cmdline_get(cl, name) != NULL;
}

/*
 * Read --name as a whole number of seconds from 1 to a day; def if absent.
 */
int
cmdline_seconds(const struct cmdline *cl, const char *name, int def,
    int *out, char *err, size_t errlen)
{
	const char	*v = cmdline_get(cl, name);
	char		*end;
	long		 n;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 1 || n > 86400) {
		snprintf(err, errlen, "--%s wants seconds from 1 to 86400, "
		    "not '%s'", name, v);
		return ERR_USAGE;
	}
	*out = (int)n;
	return 0;
}
