/*
 * Command-line splitting.  ssh's option letters are listed here so that
 * "-p 2222 host cmd", "-p2222 host cmd" and "host -p 2222 cmd" all find the
 * destination and the command where ssh finds them; the letters that make
 * no sense under limpet (background, no command, stdio forwarding, control
 * commands) are refused with the reason.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "err.h"
#include "xmalloc.h"

/*
 * limpet's own options for sessions, ls, attach and kill.  They may also
 * come before the subcommand word (limpet --server-path P attach host).
 */
const struct cmdline_opt cmdline_client_opts[] = {
	{ "keepalive", 1 },
	{ "dead", 1 },
	{ "give-up", 1 },
	{ "ssh", 1 },
	{ "server-path", 1 },
	{ "server-dir", 1 },
	{ "ring-size", 1 },
	{ "predict", 1 },
	{ "verbose", 0 },
	{ "all", 0 },
	{ "install", 0 },
	{ "json", 0 },
	{ NULL, 0 }
};

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

/* The entry of opts named by "--name[=value]", or NULL. */
static const struct cmdline_opt *
cmdline_find(const struct cmdline_opt *opts, const char *arg, size_t *len)
{
	const char	*eq;
	int		 j;

	arg += 2;
	eq = strchr(arg, '=');
	*len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	for (j = 0; opts != NULL && opts[j].name != NULL; j++) {
		if (strlen(opts[j].name) == *len &&
		    strncmp(opts[j].name, arg, *len) == 0)
			return &opts[j];
	}
	return NULL;
}

/*
 * How many words at the start of argv are long options of opts with their
 * values: what may stand before a subcommand.  For an unknown option or a
 * missing value, err says which (naming sub, the subcommand that does not
 * know the option, if given) and ERR_USAGE is returned.
 */
int
cmdline_lead(int argc, char **argv, const struct cmdline_opt *opts,
    const char *sub, char *err, size_t errlen)
{
	const struct cmdline_opt	*o;
	size_t				 len;
	int				 i;

	for (i = 0; i < argc && strncmp(argv[i], "--", 2) == 0 &&
	    argv[i][2] != '\0'; i++) {
		if ((o = cmdline_find(opts, argv[i], &len)) == NULL) {
			if (sub != NULL)
				snprintf(err, errlen, "option --%.*s does not "
				    "apply to limpet %s", (int)len,
				    argv[i] + 2, sub);
			else
				snprintf(err, errlen, "unknown option --%.*s",
				    (int)len, argv[i] + 2);
			return ERR_USAGE;
		}
		if (!o->has_arg || strchr(argv[i], '=') != NULL)
			continue;
		if (++i == argc) {
			snprintf(err, errlen, "option --%s needs a value",
			    o->name);
			return ERR_USAGE;
		}
	}
	return i;
}

/* Record a limpet long option "--name[=value]" found at argv[*i]. */
static int
cmdline_long(int argc, char **argv, int *i, const struct cmdline_opt *opts,
    struct cmdline *cl, char *err, size_t errlen)
{
	const struct cmdline_opt	*o;
	const char			*eq, *val = NULL;
	size_t				 len;

	if ((o = cmdline_find(opts, argv[*i], &len)) == NULL) {
		snprintf(err, errlen, "unknown option --%.*s", (int)len,
		    argv[*i] + 2);
		return ERR_USAGE;
	}
	eq = strchr(argv[*i], '=');
	if (o->has_arg) {
		if (eq != NULL)
			val = eq + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else {
			snprintf(err, errlen, "option --%s needs a value",
			    o->name);
			return ERR_USAGE;
		}
	} else if (eq != NULL) {
		snprintf(err, errlen, "option --%s takes no value", o->name);
		return ERR_USAGE;
	}
	if (cl->nlong == CMDLINE_MAX_LONG) {
		snprintf(err, errlen, "too many options");
		return ERR_USAGE;
	}
	cl->lname[cl->nlong] = o->name;
	cl->lval[cl->nlong] = val != NULL ? val : "";
	cl->nlong++;
	return 0;
}

/*
 * ssh's options in ssh's own syntax from argv[*i] on, until the first word
 * that is not an option (left at *i) or "--" (skipped; *ended is set).
 */
static int
cmdline_ssh_opts(int argc, char **argv, int *i, struct cmdline *cl,
    int *ended, const char *where, char *err, size_t errlen)
{
	size_t	 k;
	char	*a;
	int	 r;

	for (; *i < argc; ++*i) {
		a = argv[*i];
		if (strcmp(a, "--") == 0) {
			++*i;
			*ended = 1;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (a[1] == '-') {
			snprintf(err, errlen, "limpet option %s must come "
			    "before %s", a, where);
			return ERR_USAGE;
		}
		cl->ssh[cl->nssh++] = xstrdup(a);
		for (k = 1; a[k] != '\0'; k++) {
			if ((r = cmdline_check_letter(a[k], err, errlen)) != 0)
				return r;
			if (!cmdline_ssh_takes_arg(a[k]))
				continue;
			if (a[k + 1] == '\0') {
				if (*i + 1 >= argc) {
					snprintf(err, errlen, "ssh option -%c "
					    "needs an argument", a[k]);
					return ERR_USAGE;
				}
				cl->ssh[cl->nssh++] = xstrdup(argv[++*i]);
			}
			break;
		}
	}
	return 0;
}

/*
 * Take the destination at argv[*i].  When ssh options follow it, they are
 * passed to ssh before it, so a user in "user@host" (which ssh takes at
 * the destination's place: the first user given wins) becomes "-l user"
 * at that place and the destination the host alone.
 */
static int
cmdline_dest(int argc, char **argv, int *i, struct cmdline *cl,
    char *err, size_t errlen)
{
	const char	*d = argv[*i], *at;
	char		*user;
	int		 more;

	if (d[0] == '-') {
		snprintf(err, errlen, "a destination cannot start with '-': "
		    "%s", d);
		return ERR_USAGE;
	}
	++*i;
	cl->dest = d;
	more = *i < argc && argv[*i][0] == '-' && argv[*i][1] != '\0' &&
	    strcmp(argv[*i], "--") != 0;
	if (!more)
		return 0;
	if (strncmp(d, "ssh://", 6) == 0) {
		snprintf(err, errlen, "ssh options after an ssh:// "
		    "destination: put them before it");
		return ERR_USAGE;
	}
	if ((at = strrchr(d, '@')) != NULL && at != d) {
		user = xmalloc((size_t)(at - d) + 1);
		memcpy(user, d, (size_t)(at - d));
		user[at - d] = '\0';
		cl->ssh[cl->nssh++] = xstrdup("-l");
		cl->ssh[cl->nssh++] = user;
		cl->dest = at + 1;
	}
	return 0;
}

/*
 * Split argv (after the program and subcommand names) into limpet's long
 * options (those in opts), ssh's options, the destination and the command.
 * As with ssh, options may also follow the destination: the command starts
 * at the first word after it that is not an option, or after "--"; a "--"
 * before the destination makes every word after it the command.
 * If need_dest is set, a missing destination is an error.
 */
int
cmdline_split(int argc, char **argv, const struct cmdline_opt *opts,
    int need_dest, struct cmdline *cl, char *err, size_t errlen)
{
	int	 i = 0, r, ended = 0;

	memset(cl, 0, sizeof *cl);
	cl->ssh = xcalloc(argc + 3, sizeof *cl->ssh);
	/* limpet's long options come first. */
	for (; i < argc && strncmp(argv[i], "--", 2) == 0 &&
	    argv[i][2] != '\0'; i++) {
		if ((r = cmdline_long(argc, argv, &i, opts, cl, err,
		    errlen)) != 0)
			goto fail;
	}
	if ((r = cmdline_ssh_opts(argc, argv, &i, cl, &ended, "ssh options",
	    err, errlen)) != 0)
		goto fail;
	if (i < argc) {
		if ((r = cmdline_dest(argc, argv, &i, cl, err, errlen)) != 0)
			goto fail;
		if (!ended && (r = cmdline_ssh_opts(argc, argv, &i, cl,
		    &ended, "the destination", err, errlen)) != 0)
			goto fail;
	}
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
