/*
 * Unit tests for src/doctor-sshconf.c: replaying ssh's and sshd's
 * configuration rules over real files in a temporary directory.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "doctor/doctor-sshconf.h"
#include "err.h"
#include "xmalloc.h"

static char	tmpdir[64];

/* Write text to dir/name, making dir/sub directories as needed. */
static char *
put(const char *name, const char *text)
{
	char	*path, *slash;
	FILE	*f;

	xasprintf(&path, "%s/%s", tmpdir, name);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0700);
	*slash = '/';
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Make a fresh temporary directory for a test. */
static int
setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/limpet-sshconf-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

/* Remove the temporary directory. */
static int
teardown(void **state)
{
	char	*cmd;

	(void)state;
	xasprintf(&cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		return -1;
	free(cmd);
	return 0;
}

/* Load path as a client config for host. */
static void
client(struct sshconf *c, const char *path, const char *host)
{
	struct sshconf_match	m;
	struct sshconf_io	io = sshconf_fs;

	memset(&m, 0, sizeof m);
	m.host = host;
	m.user = "alice";
	m.localuser = "alice";
	io.home = tmpdir;
	sshconf_init(c, 0);
	assert_int_equal(sshconf_load(c, path, tmpdir, &m, &io), 0);
}

/* The value in effect for key, or NULL. */
static const char *
val(const struct sshconf *c, const char *key)
{
	const struct sshconf_val	*v = sshconf_get(c, key);

	return v != NULL ? v->value : NULL;
}

/* The line that set key, or 0. */
static int
line(const struct sshconf *c, const char *key)
{
	const struct sshconf_val	*v = sshconf_get(c, key);

	return v != NULL ? v->line : 0;
}

/* The first value read wins, whatever block it is in. */
static void
test_first_wins(void **state)
{
	struct sshconf	 c;
	char		*p;

	(void)state;
	p = put("config",
	    "ServerAliveInterval 30\n"
	    "Host web\n"
	    "  ServerAliveInterval 60\n"
	    "  ServerAliveCountMax 5\n"
	    "Host *\n"
	    "  ServerAliveCountMax 9\n"
	    "  TCPKeepAlive no\n");
	client(&c, p, "web");
	assert_string_equal(val(&c, "serveraliveinterval"), "30");
	assert_int_equal(line(&c, "serveraliveinterval"), 1);
	assert_string_equal(val(&c, "serveralivecountmax"), "5");
	assert_int_equal(line(&c, "serveralivecountmax"), 4);
	assert_string_equal(val(&c, "tcpkeepalive"), "no");
	assert_null(val(&c, "connecttimeout"));
	sshconf_free(&c);
	client(&c, p, "db");
	assert_string_equal(val(&c, "serveralivecountmax"), "9");
	assert_int_equal(line(&c, "serveralivecountmax"), 6);
	sshconf_free(&c);
	free(p);
}

/* Keywords are case-insensitive; "Key=Value" and quotes work. */
static void
test_case_and_equals(void **state)
{
	struct sshconf	 c;
	char		*p;

	(void)state;
	p = put("config",
	    "# a comment\n"
	    "\n"
	    "SERVERALIVEINTERVAL=15\n"
	    "serveralivecountmax = 2\n"
	    "\tIPQoS \"throughput\"\r\n");
	client(&c, p, "any");
	assert_string_equal(val(&c, "serveraliveinterval"), "15");
	assert_int_equal(line(&c, "serveraliveinterval"), 3);
	assert_string_equal(val(&c, "serveralivecountmax"), "2");
	assert_string_equal(val(&c, "ipqos"), "\"throughput\"");
	assert_int_equal(c.nis, 0);
	sshconf_free(&c);
	free(p);
}

/* Include reads globbed files in order, at the point of the Include. */
static void
test_include_glob(void **state)
{
	struct sshconf	 c;
	char		*p, *a, *b;

	(void)state;
	a = put("conf.d/20-b.conf", "ServerAliveInterval 20\n"
	    "ConnectTimeout 7\n");
	b = put("conf.d/10-a.conf", "ServerAliveInterval 10\n");
	p = put("config",
	    "Include conf.d/*.conf\n"
	    "ServerAliveInterval 99\n"
	    "Include ~/nothing-*.conf\n");
	client(&c, p, "h");
	assert_string_equal(val(&c, "serveraliveinterval"), "10");
	assert_string_equal(sshconf_get(&c, "serveraliveinterval")->file, b);
	assert_string_equal(val(&c, "connecttimeout"), "7");
	assert_string_equal(sshconf_get(&c, "connecttimeout")->file, a);
	assert_int_equal(line(&c, "connecttimeout"), 2);
	sshconf_free(&c);
	free(p);
	free(a);
	free(b);
}

/* An Include inside a Host block applies only when the block does. */
static void
test_include_conditional(void **state)
{
	struct sshconf	 c;
	char		*p, *i;

	(void)state;
	i = put("inc/web.conf", "ServerAliveInterval 45\n"
	    "Host other\n"
	    "  ConnectTimeout 3\n");
	p = put("config",
	    "Host web\n"
	    "  Include inc/web.conf\n"
	    "Host *\n"
	    "  ServerAliveInterval 5\n");
	client(&c, p, "web");
	assert_string_equal(val(&c, "serveraliveinterval"), "45");
	assert_null(val(&c, "connecttimeout"));
	sshconf_free(&c);
	client(&c, p, "db");
	assert_string_equal(val(&c, "serveraliveinterval"), "5");
	sshconf_free(&c);
	free(p);
	free(i);
}

/* Host negation, Match host (after HostName) and originalhost, user. */
static void
test_host_match(void **state)
{
	struct sshconf	 c;
	char		*p;

	(void)state;
	p = put("config",
	    "Host *.example.com !bad.example.com\n"
	    "  HostName real.example.net\n"
	    "Match host real.example.net user alice\n"
	    "  ServerAliveInterval 11\n"
	    "Match originalhost bad.*\n"
	    "  ServerAliveInterval 22\n"
	    "Match !user alice\n"
	    "  ServerAliveInterval 33\n"
	    "Match all\n"
	    "  ServerAliveInterval 44\n");
	client(&c, p, "good.example.com");
	assert_string_equal(val(&c, "serveraliveinterval"), "11");
	assert_int_equal(line(&c, "serveraliveinterval"), 4);
	sshconf_free(&c);
	client(&c, p, "bad.example.com");
	assert_string_equal(val(&c, "serveraliveinterval"), "22");
	sshconf_free(&c);
	client(&c, p, "GOOD.example.COM");
	assert_string_equal(val(&c, "hostname"), "real.example.net");
	sshconf_free(&c);
	client(&c, p, "elsewhere");
	assert_string_equal(val(&c, "serveraliveinterval"), "44");
	assert_true(sshconf_get(&c, "serveraliveinterval")->generic);
	sshconf_free(&c);
	free(p);
}

/* Server keywords in a client file, and unknown keywords, are issues. */
static void
test_wrong_side(void **state)
{
	struct sshconf	 c;
	char		*p;
	int		 i, wrong = 0, bad = 0;

	(void)state;
	p = put("ssh_config",
	    "Host *\n"
	    "  ClientAliveInterval 60\n"
	    "  ClientAliveCountMax 3\n"
	    "  NoSuchThing yes\n"
	    "  ServerAliveInterval 60\n");
	client(&c, p, "h");
	for (i = 0; i < c.nis; i++) {
		if (c.is[i].kind == SSHCONF_WRONGSIDE) {
			wrong++;
			assert_true(c.is[i].line == 2 || c.is[i].line == 3);
		}
		if (c.is[i].kind == SSHCONF_BADKEY) {
			bad++;
			assert_int_equal(c.is[i].line, 4);
		}
	}
	assert_int_equal(wrong, 2);
	assert_int_equal(bad, 1);
	sshconf_free(&c);
	free(p);

	/* IgnoreUnknown before them silences both kinds. */
	p = put("ssh_config2", "IgnoreUnknown ClientAlive*,NoSuch*\n"
	    "ClientAliveInterval 60\nNoSuchThing yes\n");
	client(&c, p, "h");
	assert_int_equal(c.nis, 0);
	sshconf_free(&c);
	free(p);

	/* And client keywords in sshd_config. */
	p = put("sshd_config", "ServerAliveInterval 30\n"
	    "ClientAliveInterval 30\n");
	sshconf_init(&c, 1);
	assert_int_equal(sshconf_load(&c, p, tmpdir, &(struct sshconf_match){
	    .user = "alice" }, &sshconf_fs), 0);
	assert_int_equal(c.nis, 1);
	assert_int_equal(c.is[0].kind, SSHCONF_WRONGSIDE);
	assert_int_equal(c.is[0].line, 1);
	assert_string_equal(c.is[0].key, "ServerAliveInterval");
	sshconf_free(&c);
	free(p);
}

/* sshd: a drop-in directory included at the top beats the main file. */
static void
test_server_dropin(void **state)
{
	struct sshconf		 c;
	struct sshconf_match	 m = { .user = "alice", .addr = "10.1.2.3",
	    .known = 1 };
	char			*p, *d;
	char			*inc;

	(void)state;
	d = put("sshd_config.d/50-cloud.conf", "ClientAliveInterval 120\n");
	xasprintf(&inc, "Include %s/sshd_config.d/*.conf\n"
	    "ClientAliveInterval 600\n"
	    "ClientAliveCountMax 0\n", tmpdir);
	p = put("sshd_config", inc);
	sshconf_init(&c, 1);
	assert_int_equal(sshconf_load(&c, p, tmpdir, &m, &sshconf_fs), 0);
	assert_string_equal(val(&c, "clientaliveinterval"), "120");
	assert_string_equal(sshconf_get(&c, "clientaliveinterval")->file, d);
	assert_string_equal(val(&c, "clientalivecountmax"), "0");
	assert_int_equal(line(&c, "clientalivecountmax"), 3);
	sshconf_free(&c);
	free(p);
	free(d);
	free(inc);
}

/* sshd: Match blocks override the global part; the first match wins. */
static void
test_server_match(void **state)
{
	struct sshconf		 c;
	const char *const	 groups[] = { "staff", "ops", NULL };
	struct sshconf_match	 m = { .user = "alice", .addr = "10.1.2.3",
	    .lport = 22, .groups = groups, .known = 1 };
	char			*p;

	(void)state;
	p = put("sshd_config",
	    "ChannelTimeout session:*=600\n"
	    "ClientAliveInterval 300\n"
	    "Match Address 192.168.0.0/16\n"
	    "  ClientAliveInterval 1\n"
	    "Match Group ops Address 10.0.0.0/8\n"
	    "  ClientAliveInterval 30\n"
	    "  ChannelTimeout session:*=60\n"
	    "Match User alice\n"
	    "  ClientAliveInterval 40\n"
	    "  UnusedConnectionTimeout 5m\n"
	    "Match User bob\n"
	    "  LoginGraceTime 5\n");
	sshconf_init(&c, 1);
	assert_int_equal(sshconf_load(&c, p, tmpdir, &m, &sshconf_fs), 0);
	assert_string_equal(val(&c, "clientaliveinterval"), "30");
	assert_int_equal(line(&c, "clientaliveinterval"), 6);
	assert_string_equal(val(&c, "channeltimeout"), "session:*=60");
	assert_string_equal(val(&c, "unusedconnectiontimeout"), "5m");
	assert_null(val(&c, "logingracetime"));
	sshconf_free(&c);
	m.addr = "192.168.7.7";
	m.groups = NULL;
	sshconf_init(&c, 1);
	assert_int_equal(sshconf_load(&c, p, tmpdir, &m, &sshconf_fs), 0);
	assert_string_equal(val(&c, "clientaliveinterval"), "1");
	assert_string_equal(val(&c, "channeltimeout"), "session:*=600");
	assert_int_equal(line(&c, "channeltimeout"), 1);
	sshconf_free(&c);
	free(p);
}

/* The "Host * above the specific block" mistake is flagged. */
static void
test_shadow(void **state)
{
	struct sshconf	 c;
	char		*p;
	int		 i, found = 0;

	(void)state;
	p = put("config",
	    "Host *\n"
	    "  ServerAliveInterval 0\n"
	    "Host web\n"
	    "  ServerAliveInterval 60\n");
	client(&c, p, "web");
	assert_string_equal(val(&c, "serveraliveinterval"), "0");
	sshconf_check_shadow(&c, "serveraliveinterval");
	for (i = 0; i < c.nis; i++) {
		if (c.is[i].kind != SSHCONF_SHADOWED)
			continue;
		found = 1;
		assert_int_equal(c.is[i].line, 4);
		assert_non_null(strstr(c.is[i].text, "line 2"));
	}
	assert_true(found);
	sshconf_free(&c);
	/* The same lines in the right order are no mistake. */
	free(p);
	p = put("config2",
	    "Host web\n"
	    "  ServerAliveInterval 60\n"
	    "Host *\n"
	    "  ServerAliveInterval 0\n");
	client(&c, p, "web");
	sshconf_check_shadow(&c, "serveraliveinterval");
	assert_int_equal(c.nis, 0);
	assert_string_equal(val(&c, "serveraliveinterval"), "60");
	sshconf_free(&c);
	free(p);
}

/* Patterns: wildcards, negation, CIDR. */
static void
test_patterns(void **state)
{
	(void)state;
	assert_true(sshconf_pattern("web1.example.com", "web?.*", 1));
	assert_false(sshconf_pattern("web12.example.com", "web?.e*", 1));
	assert_true(sshconf_pattern("ABC", "abc", 1));
	assert_false(sshconf_pattern("ABC", "abc", 0));
	assert_true(sshconf_pattern_list("bob", "alice,b*", 0));
	assert_false(sshconf_pattern_list("bob", "*,!bob", 0));
	assert_false(sshconf_pattern_list("bob", "!alice", 0));
	assert_true(sshconf_addr_list("10.1.2.3", "10.0.0.0/8"));
	assert_false(sshconf_addr_list("11.1.2.3", "10.0.0.0/8"));
	assert_true(sshconf_addr_list("10.1.2.3", "10.1.2.0/25,!10.1.2.9"));
	assert_false(sshconf_addr_list("10.1.2.9", "10.1.2.0/25,!10.1.2.9"));
	assert_true(sshconf_addr_list("::1", "::1/128"));
	assert_true(sshconf_addr_list("127.0.0.1", "127.0.0.*"));
	assert_true(sshconf_addr_list("192.168.1.130", "192.168.1.128/26"));
	assert_false(sshconf_addr_list("192.168.1.200", "192.168.1.128/26"));
	assert_int_equal(sshconf_side("ClientAliveInterval"), SSHCONF_SERVER);
	assert_int_equal(sshconf_side("serveraliveinterval"), SSHCONF_CLIENT);
	assert_int_equal(sshconf_side("TCPKeepAlive"), SSHCONF_BOTH);
	assert_int_equal(sshconf_side("Bogus"), SSHCONF_UNKNOWN);
}

/* A file that includes itself (or its includer) is read once. */
static void
test_include_loop(void **state)
{
	struct sshconf	 c;
	char		*p, *q;
	int		 i, loops = 0;

	(void)state;
	q = put("loop.d/a.conf", "Include config\nConnectTimeout 4\n");
	p = put("config", "Include loop.d/*.conf\nInclude config\n"
	    "ServerAliveInterval 7\n");
	client(&c, p, "h");
	assert_string_equal(val(&c, "serveraliveinterval"), "7");
	assert_string_equal(val(&c, "connecttimeout"), "4");
	for (i = 0; i < c.nis; i++)
		if (strstr(c.is[i].text, "Include loop") != NULL)
			loops++;
	assert_int_equal(loops, 2);
	sshconf_free(&c);
	free(p);
	free(q);
}

/* A missing main file is reported, not fatal. */
static void
test_missing(void **state)
{
	struct sshconf		c;
	struct sshconf_match	m = { .host = "h" };
	char			path[128];

	(void)state;
	snprintf(path, sizeof path, "%s/none", tmpdir);
	sshconf_init(&c, 0);
	assert_int_equal(sshconf_load(&c, path, tmpdir, &m, &sshconf_fs),
	    ERR_NOTFOUND);
	assert_int_equal(c.nv, 0);
	sshconf_free(&c);
}

/* An io with no files at all, for text given directly. */
static int
none_read(void *arg, const char *path, char **out)
{
	(void)arg;
	(void)path;
	(void)out;
	return ERR_NOTFOUND;
}

/* No glob matches anything. */
static int
none_glob(void *arg, const char *pattern, char ***out, int *n)
{
	(void)arg;
	(void)pattern;
	*out = NULL;
	*n = 0;
	return 0;
}

/* Random lines made of config-ish pieces never crash the parser. */
static void
test_random_text(void **state)
{
	static const char *const pieces[] = {
		"Host ", "Match ", "Include ", "ServerAliveInterval", "=", " ",
		"\t", "\"", "!", "*", "?", ",", "user", "host", "all", "exec",
		"10.0.0.0/8", "address", "group", "#", "\r", "Tag", "final",
		"ClientAliveInterval", "x", "\n", "\n", "\n", "60", "::1/200",
	};
	const struct sshconf_io	 io = { none_read, none_glob, NULL, NULL,
	    "/nonexistent" };
	const char *const	 groups[] = { "staff", NULL };
	struct sshconf_match	 m = { .host = "h", .user = "u",
	    .localuser = "u", .addr = "10.1.1.1", .laddr = "::1",
	    .lport = 22, .groups = groups, .known = 1 };
	struct unit_rng		 rng;
	struct sshconf		 c;
	char			 text[2048];
	size_t			 len, k;
	int			 round, server;

	(void)state;
	unit_rng_init(&rng, 4);
	for (round = 0; round < 3000; round++) {
		len = 0;
		text[0] = '\0';
		for (k = unit_rng_below(&rng, 60); k > 0; k--) {
			const char *pc = pieces[unit_rng_below(&rng,
			    sizeof pieces / sizeof pieces[0])];
			if (len + strlen(pc) + 1 >= sizeof text)
				break;
			strcpy(text + len, pc);
			len += strlen(pc);
		}
		server = round & 1;
		sshconf_init(&c, server);
		assert_int_equal(sshconf_parse(&c, "random", text, "/etc/ssh",
		    &m, &io), 0);
		sshconf_check_shadow(&c, "serveraliveinterval");
		(void)sshconf_get(&c, "clientaliveinterval");
		sshconf_free(&c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_wins, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_case_and_equals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_include_glob, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_include_conditional,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_match, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_side, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_server_dropin, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_server_match, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_shadow, setup, teardown),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test_setup_teardown(test_missing, setup,
		    teardown),
		cmocka_unit_test(test_random_text),
		cmocka_unit_test_setup_teardown(test_include_loop, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
