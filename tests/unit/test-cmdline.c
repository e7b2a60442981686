/*
 * Unit tests for src/cmdline.c: splitting limpet's long options, ssh's
 * options, the destination and the remote command the way ssh users
 * expect, and refusing what limpet cannot honour with the reason.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "cmdline.h"
#include "err.h"

static const struct cmdline_opt opts[] = {
	{ "keepalive", 1 },
	{ "dead", 1 },
	{ "server-path", 1 },
	{ "verbose", 0 },
	{ "all", 0 },
	{ NULL, 0 }
};

#define MAXARGS	64

/* A writable argv built from a NULL-terminated list of words. */
struct args {
	int	 argc;
	char	*argv[MAXARGS + 1];
};

/* Copy the words of a va_list (ending at NULL) into a. */
static void
args_make(struct args *a, const char *first, va_list ap)
{
	const char	*w;

	a->argc = 0;
	for (w = first; w != NULL; w = va_arg(ap, const char *)) {
		assert_true(a->argc < MAXARGS);
		a->argv[a->argc] = strdup(w);
		assert_non_null(a->argv[a->argc]);
		a->argc++;
	}
	a->argv[a->argc] = NULL;
}

/* Free the words args_make() copied. */
static void
args_free(struct args *a)
{
	int	i;

	for (i = 0; i < a->argc; i++)
		free(a->argv[i]);
	a->argc = 0;
}

static struct args	 cur_args;
static char		 err[256];

/* Split the words (NULL-terminated) with need_dest; returns the result. */
static int
split(struct cmdline *cl, int need_dest, const char *first, ...)
{
	va_list	ap;
	int	r;

	args_free(&cur_args);
	va_start(ap, first);
	args_make(&cur_args, first, ap);
	va_end(ap);
	err[0] = '\0';
	r = cmdline_split(cur_args.argc, cur_args.argv, opts, need_dest, cl,
	    err, sizeof err);
	if (r != 0) {
		assert_int_equal(r, ERR_USAGE);
		assert_true(err[0] != '\0');
		assert_null(cl->ssh);
	}
	return r;
}

/* Check the ssh options (NULL-terminated list). */
static void
check_ssh(const struct cmdline *cl, ...)
{
	va_list		 ap;
	const char	*w;
	int		 i = 0;

	va_start(ap, cl);
	while ((w = va_arg(ap, const char *)) != NULL) {
		assert_true(i < cl->nssh);
		assert_string_equal(cl->ssh[i], w);
		i++;
	}
	va_end(ap);
	assert_int_equal(cl->nssh, i);
	assert_null(cl->ssh[i]);
}

/* Check the command words (NULL-terminated list). */
static void
check_cmd(const struct cmdline *cl, ...)
{
	va_list		 ap;
	const char	*w;
	int		 i = 0;

	va_start(ap, cl);
	while ((w = va_arg(ap, const char *)) != NULL) {
		assert_true(i < cl->ncmd);
		assert_string_equal(cl->cmd[i], w);
		i++;
	}
	va_end(ap);
	assert_int_equal(cl->ncmd, i);
}

/* Free the last test's words. */
static int
teardown(void **state)
{
	(void)state;
	args_free(&cur_args);
	return 0;
}

/* The whole shape: long options, ssh options, destination, command. */
static void
test_full(void **state)
{
	struct cmdline	cl;

	(void)state;
	assert_int_equal(split(&cl, 1, "--keepalive", "10", "--verbose",
	    "-p", "2222", "-A", "me@host", "ls", "-l", "/tmp", NULL), 0);
	assert_int_equal(cl.nlong, 2);
	assert_string_equal(cmdline_get(&cl, "keepalive"), "10");
	assert_string_equal(cmdline_get(&cl, "verbose"), "");
	assert_true(cmdline_has(&cl, "verbose"));
	assert_false(cmdline_has(&cl, "dead"));
	assert_null(cmdline_get(&cl, "dead"));
	check_ssh(&cl, "-p", "2222", "-A", NULL);
	assert_string_equal(cl.dest, "me@host");
	check_cmd(&cl, "ls", "-l", "/tmp", NULL);
	cmdline_free(&cl);
	assert_null(cl.ssh);
	cmdline_free(&cl);	/* twice is harmless */
}

/* Just a destination. */
static void
test_dest_only(void **state)
{
	struct cmdline	cl;

	(void)state;
	assert_int_equal(split(&cl, 1, "host", NULL), 0);
	assert_int_equal(cl.nlong, 0);
	check_ssh(&cl, NULL);
	assert_string_equal(cl.dest, "host");
	check_cmd(&cl, NULL);
	cmdline_free(&cl);
}

/* An option's argument may be attached or the next word. */
static void
test_attached_args(void **state)
{
	struct cmdline	cl;

	(void)state;
	assert_int_equal(split(&cl, 1, "-p2222", "host", NULL), 0);
	check_ssh(&cl, "-p2222", NULL);
	assert_string_equal(cl.dest, "host");
	cmdline_free(&cl);

	assert_int_equal(split(&cl, 1, "-oServerAliveInterval=5", "-o",
	    "ConnectTimeout 3", "-F", "/dev/null", "-i", "key", "-J",
	    "jump", "-L", "8080:localhost:80", "h", "cmd", NULL), 0);
	check_ssh(&cl, "-oServerAliveInterval=5", "-o", "ConnectTimeout 3",
	    "-F", "/dev/null", "-i", "key", "-J", "jump", "-L",
	    "8080:localhost:80", NULL);
	assert_string_equal(cl.dest, "h");
	check_cmd(&cl, "cmd", NULL);
	cmdline_free(&cl);

	/* The argument may look like an option or a refused letter. */
	assert_int_equal(split(&cl, 1, "-l", "-f", "-lfoo", "-p", "--",
	    "host", NULL), 0);
	check_ssh(&cl, "-l", "-f", "-lfoo", "-p", "--", NULL);
	assert_string_equal(cl.dest, "host");
	cmdline_free(&cl);
}

/* Flags combine; an argument letter ends the group. */
static void
test_combined_flags(void **state)
{
	struct cmdline	cl;

	(void)state;
	assert_int_equal(split(&cl, 1, "-4Av", "host", NULL), 0);
	check_ssh(&cl, "-4Av", NULL);
	assert_string_equal(cl.dest, "host");
	cmdline_free(&cl);

	assert_int_equal(split(&cl, 1, "-4Ap", "22", "host", "x", NULL), 0);
	check_ssh(&cl, "-4Ap", "22", NULL);
	assert_string_equal(cl.dest, "host");
	check_cmd(&cl, "x", NULL);
	cmdline_free(&cl);

	assert_int_equal(split(&cl, 1, "-vp22", "host", NULL), 0);
	check_ssh(&cl, "-vp22", NULL);
	assert_string_equal(cl.dest, "host");
	cmdline_free(&cl);

	/* A refused letter hides nowhere in a group. */
	assert_int_equal(split(&cl, 1, "-4Af", "host", NULL), ERR_USAGE);
	assert_non_null(strstr(err, "-f"));
}

/* "--" ends the options: what follows is the destination. */
static void
test_double_dash(void **state)
{
	struct cmdline	cl;

	(void)state;
	assert_int_equal(split(&cl, 1, "-4", "--", "host", "-v", NULL), 0);
	check_ssh(&cl, "-4", NULL);
	assert_string_equal(cl.dest, "host");
	check_cmd(&cl, "-v", NULL);
	cmdline_free(&cl);

	/* Defect 14: a destination never reaches ssh as an option. */
	assert_int_equal(split(&cl, 1, "--verbose", "--",
	    "-oProxyCommand=touch x", NULL), ERR_USAGE);
	assert_string_equal(err, "a destination cannot start with '-': "
	    "-oProxyCommand=touch x");
	assert_int_equal(split(&cl, 1, "-", "cmd", NULL), ERR_USAGE);
	assert_int_equal(split(&cl, 0, "--", "-x", NULL), ERR_USAGE);

	/* After "--" before the destination, options are the command. */
	assert_int_equal(split(&cl, 1, "--", "host", "-p", "2", NULL), 0);
	check_ssh(&cl, NULL);
	assert_string_equal(cl.dest, "host");
	check_cmd(&cl, "-p", "2", NULL);
	cmdline_free(&cl);

	assert_int_equal(split(&cl, 1, "--", "host", NULL), 0);
	assert_string_equal(cl.dest, "host");
	cmdline_free(&cl);

	assert_int_equal(split(&cl, 1, "--", NULL), ERR_USAGE);
	assert_string_equal(err, "no destination given");
}

/*
 * Defect 26: as with ssh, options may follow the destination; the command
 * starts at the first word that is not an option, or after "--".
 */
static void
test_command_words(void **state)
{
	struct cmdline	cl;

	(void)state;
	assert_int_equal(split(&cl, 1, "host", "-p", "2", "-A", "ls", "-l",
	    NULL), 0);
	check_ssh(&cl, "-p", "2", "-A", NULL);
	assert_string_equal(cl.dest, "host");
	check_cmd(&cl, "ls", "-l", NULL);
	cmdline_free(&cl);

	assert_int_equal(split(&cl, 1, "-4", "host", "-p2", "--", "-f",
	    "--", "", NULL), 0);
	check_ssh(&cl, "-4", "-p2", NULL);
	assert_string_equal(cl.dest, "host");
	check_cmd(&cl, "-f", "--", "", NULL);
	cmdline_free(&cl);

	/* "-" alone is not an option: it starts the command. */
	assert_int_equal(split(&cl, 1, "host", "-", "-p", NULL), 0);
	check_ssh(&cl, NULL);
	check_cmd(&cl, "-", "-p", NULL);
	cmdline_free(&cl);

	/* A command word may be anything once the command started. */
	assert_int_equal(split(&cl, 1, "host", "echo", "-p", "--verbose",
	    NULL), 0);
	check_ssh(&cl, NULL);
	check_cmd(&cl, "echo", "-p", "--verbose", NULL);
	cmdline_free(&cl);

	/* The same checks hold after the destination. */
	assert_int_equal(split(&cl, 1, "host", "-f", NULL), ERR_USAGE);
	assert_string_equal(err, "ssh option -f is not supported: limpet "
	    "stays in the foreground to keep the session");
	assert_int_equal(split(&cl, 1, "host", "-p", NULL), ERR_USAGE);
	assert_string_equal(err, "ssh option -p needs an argument");
	assert_int_equal(split(&cl, 1, "host", "--verbose", NULL), ERR_USAGE);
	assert_string_equal(err,
	    "limpet option --verbose must come before the destination");
}

/*
 * ssh takes the user of user@host where the destination stands (the first
 * user given wins); with options moved before the destination, limpet
 * says "-l user" at that place.
 */
static void
test_user_at_host(void **state)
{
	struct cmdline	cl;

	(void)state;
	assert_int_equal(split(&cl, 1, "-p", "1", "a@b@host", "-l", "x",
	    "cmd", NULL), 0);
	check_ssh(&cl, "-p", "1", "-l", "a@b", "-l", "x", NULL);
	assert_string_equal(cl.dest, "host");
	check_cmd(&cl, "cmd", NULL);
	cmdline_free(&cl);

	/* Without options after it, the destination stays as given. */
	assert_int_equal(split(&cl, 1, "me@host", "--", "-l", NULL), 0);
	check_ssh(&cl, NULL);
	assert_string_equal(cl.dest, "me@host");
	check_cmd(&cl, "-l", NULL);
	cmdline_free(&cl);

	assert_int_equal(split(&cl, 1, "ssh://me@host:2", "-p", "3", NULL),
	    ERR_USAGE);
	assert_string_equal(err, "ssh options after an ssh:// destination: "
	    "put them before it");
}

/* Defect 25: the options a user may put before a subcommand word. */
static void
test_lead(void **state)
{
	char	a0[] = "--server-path", a1[] = "/x", a2[] = "--verbose";
	char	a3[] = "--dead=3", a4[] = "attach", a5[] = "host";
	char	b0[] = "--nope", b1[] = "--keepalive";
	char	*argv[] = { a0, a1, a2, a3, a4, a5, NULL };
	char	*bad[] = { b0, a4, NULL };
	char	*novalue[] = { b1, NULL };

	(void)state;
	assert_int_equal(cmdline_lead(6, argv, cmdline_client_opts, NULL, err,
	    sizeof err), 4);
	assert_int_equal(cmdline_lead(1, argv + 4, cmdline_client_opts, NULL,
	    err, sizeof err), 0);
	assert_int_equal(cmdline_lead(2, bad, cmdline_client_opts, NULL, err,
	    sizeof err), ERR_USAGE);
	assert_string_equal(err, "unknown option --nope");
	assert_int_equal(cmdline_lead(1, novalue, cmdline_client_opts, NULL,
	    err, sizeof err), ERR_USAGE);
	assert_string_equal(err, "option --keepalive needs a value");
	/* Before doctor, only what doctor knows. */
	assert_int_equal(cmdline_lead(4, argv, doctor_opts, "doctor", err,
	    sizeof err), ERR_USAGE);
	assert_string_equal(err,
	    "option --server-path does not apply to limpet doctor");
	assert_int_equal(cmdline_lead(1, novalue, doctor_opts, "doctor", err,
	    sizeof err), ERR_USAGE);
	assert_string_equal(err, "option --keepalive needs a value");
}

/* Each refused ssh letter is refused with its reason. */
static void
test_refused_letters(void **state)
{
	static const struct {
		const char	*arg;
		const char	*why;
	} refused[] = {
		{ "-f", "limpet stays in the foreground to keep the session" },
		{ "-N", "limpet always runs a session" },
		{ "-n", "limpet needs standard input" },
		{ "-s", "subsystems are not sessions" },
		{ "-W", "stdio forwarding has no session to keep" },
		{ "-O", "control commands go to plain ssh" },
		{ "-G", "use plain ssh -G" },
		{ "-Q", "use plain ssh -Q" },
		{ "-V", "use plain ssh -V (limpet --version for limpet)" },
		{ "-M", "limpet runs its own connections" },
	};
	struct cmdline	cl;
	char		want[256];
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		assert_int_equal(split(&cl, 1, refused[i].arg, "x", "host",
		    NULL), ERR_USAGE);
		snprintf(want, sizeof want, "ssh option %s is not supported:"
		    " %s", refused[i].arg, refused[i].why);
		assert_string_equal(err, want);
	}
	assert_int_equal(split(&cl, 1, "-Z", "host", NULL), ERR_USAGE);
	assert_string_equal(err, "unknown option -Z");
	assert_int_equal(split(&cl, 1, "-4-", "host", NULL), ERR_USAGE);
	assert_string_equal(err, "unknown option --");
}

/* A missing destination is an error only when one is needed. */
static void
test_missing_destination(void **state)
{
	struct cmdline	cl;

	(void)state;
	assert_int_equal(split(&cl, 1, NULL), ERR_USAGE);
	assert_string_equal(err, "no destination given");
	assert_int_equal(split(&cl, 1, "--verbose", "-4", "-p", "22", NULL),
	    ERR_USAGE);
	assert_string_equal(err, "no destination given");

	assert_int_equal(split(&cl, 0, "--verbose", "-4", NULL), 0);
	assert_null(cl.dest);
	check_ssh(&cl, "-4", NULL);
	check_cmd(&cl, NULL);
	cmdline_free(&cl);

	/* An option that wants an argument and has none. */
	assert_int_equal(split(&cl, 0, "-4", "-p", NULL), ERR_USAGE);
	assert_string_equal(err, "ssh option -p needs an argument");
	assert_int_equal(split(&cl, 1, "-4p", NULL), ERR_USAGE);
	assert_string_equal(err, "ssh option -p needs an argument");
}

/* Long options: --opt value, --opt=value, and their mistakes. */
static void
test_long_options(void **state)
{
	struct cmdline	cl;

	(void)state;
	assert_int_equal(split(&cl, 1, "--keepalive=7", "--dead", "3",
	    "--dead=4", "--server-path=", "h", NULL), 0);
	assert_string_equal(cmdline_get(&cl, "keepalive"), "7");
	assert_string_equal(cmdline_get(&cl, "dead"), "4");	/* last wins */
	assert_string_equal(cmdline_get(&cl, "server-path"), "");
	assert_int_equal(cl.nlong, 4);
	cmdline_free(&cl);

	/* A value may start with a dash or hold an '='. */
	assert_int_equal(split(&cl, 1, "--server-path", "-x=y", "h", NULL),
	    0);
	assert_string_equal(cmdline_get(&cl, "server-path"), "-x=y");
	assert_string_equal(cl.dest, "h");
	cmdline_free(&cl);

	assert_int_equal(split(&cl, 1, "--verbose=1", "h", NULL), ERR_USAGE);
	assert_string_equal(err, "option --verbose takes no value");
	assert_int_equal(split(&cl, 1, "--keepalive", NULL), ERR_USAGE);
	assert_string_equal(err, "option --keepalive needs a value");
	assert_int_equal(split(&cl, 1, "--nope", "h", NULL), ERR_USAGE);
	assert_string_equal(err, "unknown option --nope");
	assert_int_equal(split(&cl, 1, "--nope=3", "h", NULL), ERR_USAGE);
	assert_string_equal(err, "unknown option --nope");
	/* A prefix of a known option is not that option. */
	assert_int_equal(split(&cl, 1, "--keep=3", "h", NULL), ERR_USAGE);
	assert_string_equal(err, "unknown option --keep");
	assert_int_equal(split(&cl, 1, "--verbosee", "h", NULL), ERR_USAGE);

	/* limpet's options come before ssh's. */
	assert_int_equal(split(&cl, 1, "-4", "--verbose", "h", NULL),
	    ERR_USAGE);
	assert_string_equal(err,
	    "limpet option --verbose must come before ssh options");
}

/* No option table: every long option is unknown. */
static void
test_no_table(void **state)
{
	struct cmdline	 cl;
	char		*argv[] = { NULL, NULL, NULL };
	char		 a0[] = "--verbose", a1[] = "h";

	(void)state;
	argv[0] = a0;
	argv[1] = a1;
	assert_int_equal(cmdline_split(2, argv, NULL, 1, &cl, err,
	    sizeof err), ERR_USAGE);
	assert_string_equal(err, "unknown option --verbose");
	argv[0] = a1;
	assert_int_equal(cmdline_split(1, argv, NULL, 1, &cl, err,
	    sizeof err), 0);
	assert_string_equal(cl.dest, "h");
	cmdline_free(&cl);
}

/* There is a limit on long options, reported rather than overrun. */
static void
test_too_many(void **state)
{
	struct cmdline	 cl;
	char		*argv[CMDLINE_MAX_LONG + 3];
	char		 v[] = "--verbose", h[] = "h";
	int		 i;

	(void)state;
	for (i = 0; i < CMDLINE_MAX_LONG; i++)
		argv[i] = v;
	argv[i] = h;
	argv[i + 1] = NULL;
	assert_int_equal(cmdline_split(CMDLINE_MAX_LONG + 1, argv, opts, 1,
	    &cl, err, sizeof err), 0);
	assert_int_equal(cl.nlong, CMDLINE_MAX_LONG);
	cmdline_free(&cl);
	argv[i] = v;
	argv[i + 1] = h;
	assert_int_equal(cmdline_split(CMDLINE_MAX_LONG + 2, argv, opts, 1,
	    &cl, err, sizeof err), ERR_USAGE);
	assert_string_equal(err, "too many options");
}

/* A small error buffer truncates the message but stays a string. */
static void
test_short_err(void **state)
{
	struct cmdline	 cl;
	char		 small[8];
	char		 a0[] = "-f", a1[] = "h";
	char		*argv[] = { a0, a1, NULL };

	(void)state;
	memset(small, 'x', sizeof small);
	assert_int_equal(cmdline_split(2, argv, opts, 1, &cl, small,
	    sizeof small), ERR_USAGE);
	assert_string_equal(small, "ssh opt");
}

/* Seconds: whole numbers from 1 to a day, or the default when absent. */
static void
test_seconds(void **state)
{
	static const char *good[] = { "1", "25", "86400", "007" };
	static const char *bad[] = { "0", "-1", "86401", "abc", "10s", "",
				     "+", "1e3", "99999999999999999999" };
	struct cmdline	cl;
	char		want[128];
	size_t		i;
	int		v;

	(void)state;
	assert_int_equal(split(&cl, 1, "h", NULL), 0);
	assert_int_equal(cmdline_seconds(&cl, "keepalive", 25, &v, err,
	    sizeof err), 0);
	assert_int_equal(v, 25);
	cmdline_free(&cl);
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_int_equal(split(&cl, 1, "--dead", good[i], "h", NULL),
		    0);
		assert_int_equal(cmdline_seconds(&cl, "dead", 5, &v, err,
		    sizeof err), 0);
		assert_int_equal(v, atoi(good[i]));
		cmdline_free(&cl);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(split(&cl, 1, "--dead", bad[i], "h", NULL),
		    0);
		assert_int_equal(cmdline_seconds(&cl, "dead", 5, &v, err,
		    sizeof err), ERR_USAGE);
		snprintf(want, sizeof want, "--dead wants seconds from 1 to "
		    "86400, not '%s'", bad[i]);
		assert_string_equal(err, want);
		cmdline_free(&cl);
	}
}

/* Which ssh letters take an argument. */
static void
test_takes_arg(void **state)
{
	const char	*with = "BbcDEeFIiJLlmOoPpQRSWw";
	const char	*without = "46AaCfGgKkMNnqsTtVvXxYy";

	(void)state;
	for (; *with != '\0'; with++)
		assert_true(cmdline_ssh_takes_arg(*with));
	for (; *without != '\0'; without++)
		assert_false(cmdline_ssh_takes_arg(*without));
	assert_false(cmdline_ssh_takes_arg('\0'));
	assert_false(cmdline_ssh_takes_arg('-'));
}

/* Run the command-line tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_full, teardown),
		cmocka_unit_test_teardown(test_dest_only, teardown),
		cmocka_unit_test_teardown(test_attached_args, teardown),
		cmocka_unit_test_teardown(test_combined_flags, teardown),
		cmocka_unit_test_teardown(test_double_dash, teardown),
		cmocka_unit_test_teardown(test_command_words, teardown),
		cmocka_unit_test_teardown(test_user_at_host, teardown),
		cmocka_unit_test(test_lead),
		cmocka_unit_test_teardown(test_refused_letters, teardown),
		cmocka_unit_test_teardown(test_missing_destination, teardown),
		cmocka_unit_test_teardown(test_long_options, teardown),
		cmocka_unit_test(test_no_table),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_short_err),
		cmocka_unit_test_teardown(test_seconds, teardown),
		cmocka_unit_test(test_takes_arg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
