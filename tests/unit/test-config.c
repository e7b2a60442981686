/*
 * Unit tests for src/config.c: the per-host settings file, ssh_config
 * style: Host patterns (wildcards, negation), first value wins, the
 * command line wins over the file, and every bad line is reported as
 * file:line with the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "cmdline.h"
#include "config.h"
#include "err.h"

static const char sample[] =
"# limpet settings\n"
"ring-size 8M\n"
"Host web* !webtest\n"
"  server-path \"/opt/my limpet/bin/limpet\"\n"
"  keepalive=7\n"
"Host db.example\r\n"
"  server-dir /srv/limpet\n"
"  keepalive 11\n"
"Host *\n"
"  keepalive 20\n"
"  install yes\n"
"  ring-size 1M\n";

/* Parse sample for host; the values must be those given. */
static void
expect(const char *host, const char *path, const char *ka,
    const char *dir, const char *ring)
{
	struct config	 cf;
	char		 err[256];

	assert_int_equal(config_parse(&cf, sample, "cfg", host, err,
	    sizeof err), 0);
	if (path == NULL)
		assert_null(config_get(&cf, "server-path"));
	else
		assert_string_equal(config_get(&cf, "server-path"), path);
	assert_string_equal(config_get(&cf, "keepalive"), ka);
	if (dir == NULL)
		assert_null(config_get(&cf, "server-dir"));
	else
		assert_string_equal(config_get(&cf, "server-dir"), dir);
	assert_string_equal(config_get(&cf, "ring-size"), ring);
	assert_string_equal(config_get(&cf, "install"), "yes");
	config_free(&cf);
}

/* First match wins; patterns, negation, quotes, '=' and CRLF. */
static void
test_first_match_wins(void **state)
{
	(void)state;
	expect("web1", "/opt/my limpet/bin/limpet", "7", NULL, "8M");
	expect("webtest", NULL, "20", NULL, "8M");
	expect("db.example", NULL, "11", "/srv/limpet", "8M");
	expect("other", NULL, "20", NULL, "8M");
}

/* Every kind of bad line is named by file and line. */
static void
test_bad_lines(void **state)
{
	static const struct {
		const char	*text;
		const char	*err;
	} bad[] = {
		{ "Host a\n  bogus 1\n", "f:2: unknown keyword 'bogus'" },
		{ "keepalive\n", "f:1: keepalive wants a value" },
		{ "keepalive 1 2\n", "f:1: keepalive wants one value" },
		{ "\n\nkeepalive 0\n", "f:3: keepalive wants seconds" },
		{ "dead soon\n", "f:1: dead wants seconds" },
		{ "ring-size 4Q\n", "f:1: ring-size wants 64K to 256M" },
		/* Ranges are checked where the file is read, with its line. */
		{ "ring-size 1\n", "f:1: ring-size wants 64K to 256M, not '1'" },
		{ "ring-size 300M\n", "f:1: ring-size wants 64K to 256M" },
		{ "Host x\n predict banana\n",
		    "f:2: predict wants adaptive, always or never, not 'banana'" },
		{ "install maybe\n", "f:1: install wants yes or no" },
		{ "server-path \"/x\n", "f:1: unterminated quote" },
		{ "Host\n", "f:1: Host wants a pattern" },
		/* A section for another host is checked too. */
		{ "Host nomatch\n  give-up x\n", "f:2: give-up wants" },
	};
	struct config	cf;
	char		err[256];
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(config_parse(&cf, bad[i].text, "f", "h", err,
		    sizeof err), ERR_FORMAT);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("%s: got '%s'", bad[i].err, err);
		config_free(&cf);
	}
}

/* The command line wins over the file; flags come from "yes" only. */
static void
test_apply(void **state)
{
	struct config	 cf;
	struct cmdline	 cl;
	char		*argv[] = { (char *)"--keepalive", (char *)"3",
			    (char *)"host", NULL };
	char		 err[256];

	(void)state;
	assert_int_equal(cmdline_split(3, argv, cmdline_client_opts, 1, &cl,
	    err, sizeof err), 0);
	assert_int_equal(config_parse(&cf, "keepalive 9\ndead 4\n"
	    "install no\nserver-dir /d\n", "f", "host", err, sizeof err), 0);
	config_apply(&cf, &cl);
	assert_string_equal(cmdline_get(&cl, "keepalive"), "3");
	assert_string_equal(cmdline_get(&cl, "dead"), "4");
	assert_string_equal(cmdline_get(&cl, "server-dir"), "/d");
	assert_false(cmdline_has(&cl, "install"));
	config_free(&cf);
	assert_int_equal(config_parse(&cf, "install yes\n", "f", "host", err,
	    sizeof err), 0);
	config_apply(&cf, &cl);
	assert_true(cmdline_has(&cl, "install"));
	config_free(&cf);
	cmdline_free(&cl);
}

/* No file is no settings; a missing file is not an error. */
static void
test_missing_file(void **state)
{
	struct config	cf;
	char		err[256];

	(void)state;
	assert_int_equal(config_load(&cf, "/nonexistent/limpet/config", "h",
	    err, sizeof err), 0);
	assert_int_equal(cf.n, 0);
	config_free(&cf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
