/*
 * Unit tests for the session directory choice in src/sock.c: the shared
 * default, the fallbacks of the user's own when it is refused, the
 * directory named with --dir, and the sun_path length limit.  The shared
 * default's parent is a scratch directory here, not /tmp.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "err.h"
#include "sock.h"

static char	base[64];	/* scratch: tmp/, home/, xdg/ */
static char	tmp[128], home[128], xdg[128], primary[160];

/* Remove the scratch tree. */
static void
scrub(void)
{
	char	cmd[256];

	snprintf(cmd, sizeof cmd, "rm -rf %s", base);
	assert_int_equal(system(cmd), 0);
}

/* A fresh scratch tree; HOME and XDG_RUNTIME_DIR point into it. */
static int
setup(void **state)
{
	(void)state;
	snprintf(base, sizeof base, "/tmp/lpsockXXXXXX");
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(tmp, sizeof tmp, "%s/t", base);
	snprintf(home, sizeof home, "%s/h", base);
	snprintf(xdg, sizeof xdg, "%s/x", base);
	snprintf(primary, sizeof primary, "%s/limpet-%lu", tmp,
	    (unsigned long)getuid());
	if (mkdir(tmp, 01777) == -1 || chmod(tmp, 01777) == -1 ||
	    mkdir(home, 0755) == -1 || mkdir(xdg, 0700) == -1)
		return -1;
	setenv("HOME", home, 1);
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("LIMPET_DIR");
	return 0;
}

/* Remove the scratch tree. */
static int
teardown(void **state)
{
	(void)state;
	scrub();
	return 0;
}

/* The home fallback's path, $HOME/.limpet/<short host name>. */
static void
home_dir(char *out, size_t len)
{
	char	host[256], *dot;

	gethostname(host, sizeof host);
	host[sizeof host - 1] = '\0';
	if ((dot = strchr(host, '.')) != NULL)
		*dot = '\0';
	snprintf(out, len, "%s/.limpet/%s", home, host);
}

/* Mode bits of path, or -1. */
static int
mode_of(const char *path)
{
	struct stat	sb;

	if (lstat(path, &sb) == -1)
		return -1;
	return (int)(sb.st_mode & 07777);
}

/* The default is made (0700) and used; no fallback is made. */
static void
test_default(void **state)
{
	struct sock_dirs	sd;
	char			err[SOCK_ERR_MAX], want[256];

	(void)state;
	assert_int_equal(sock_dirs_in(&sd, NULL, tmp, err, sizeof err), 0);
	assert_int_equal(sd.n, 1);
	assert_string_equal(sd.path[0], primary);
	assert_string_equal(sd.note, "");
	assert_int_equal(mode_of(primary), 0700);
	home_dir(want, sizeof want);
	assert_int_equal(mode_of(want), -1);
}

/*
 * A default that is not ours (mode, symlink, a file) sends new sessions
 * to the home fallback and says why; once the default is fine again, it
 * takes new sessions and the fallback is still searched.
 */
static void
test_fallback(void **state)
{
	struct sock_dirs	sd;
	char			err[SOCK_ERR_MAX], want[256], other[256];

	(void)state;
	home_dir(want, sizeof want);
	assert_int_equal(mkdir(primary, 0755), 0);
	chmod(primary, 0755);
	assert_int_equal(sock_dirs_in(&sd, NULL, tmp, err, sizeof err), 0);
	assert_int_equal(sd.n, 1);
	assert_string_equal(sd.path[0], want);
	assert_non_null(strstr(sd.note, "mode 0755"));
	assert_non_null(strstr(sd.note, primary));
	assert_int_equal(mode_of(want), 0700);

	rmdir(primary);
	snprintf(other, sizeof other, "%s/elsewhere", base);
	assert_int_equal(mkdir(other, 0700), 0);
	assert_int_equal(symlink(other, primary), 0);
	assert_int_equal(sock_dirs_in(&sd, NULL, tmp, err, sizeof err), 0);
	assert_string_equal(sd.path[0], want);
	assert_non_null(strstr(sd.note, "symbolic link"));

	unlink(primary);
	assert_int_equal(sock_dirs_in(&sd, NULL, tmp, err, sizeof err), 0);
	assert_int_equal(sd.n, 2);
	assert_string_equal(sd.path[0], primary);
	assert_string_equal(sd.path[1], want);
	assert_string_equal(sd.note, "");
}

/*
 * With the home unusable, $XDG_RUNTIME_DIR/limpet serves, if that is the
 * user's and private; with neither, the error names every refusal.
 */
static void
test_xdg_and_refusal(void **state)
{
	struct sock_dirs	sd;
	char			err[SOCK_ERR_MAX], want[256];

	(void)state;
	assert_int_equal(mkdir(primary, 0755), 0);
	chmod(primary, 0755);
	chmod(home, 0777);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	assert_int_equal(sock_dirs_in(&sd, NULL, tmp, err, sizeof err), 0);
	snprintf(want, sizeof want, "%s/limpet", xdg);
	assert_string_equal(sd.path[0], want);

	rmdir(want);
	chmod(xdg, 0755);
	assert_int_equal(sock_dirs_in(&sd, NULL, tmp, err, sizeof err),
	    ERR_UNSAFE);
	assert_int_equal(sd.n, 0);
	assert_non_null(strstr(err, primary));
	assert_non_null(strstr(err, "writable by others"));
	assert_non_null(strstr(err, xdg));
	assert_null(strchr(err, '\n'));
	chmod(home, 0755);
}

/*
 * A directory named by the user is used exactly: made if missing, refused
 * (never replaced by a fallback) if unsafe; "~/" and relative names are
 * taken from $HOME.  $LIMPET_DIR counts as named.
 */
static void
test_named(void **state)
{
	struct sock_dirs	sd;
	char			err[SOCK_ERR_MAX], want[256], bad[256];

	(void)state;
	snprintf(want, sizeof want, "%s/mine", home);
	assert_int_equal(sock_dirs_in(&sd, "~/mine", tmp, err, sizeof err),
	    0);
	assert_int_equal(sd.n, 1);
	assert_string_equal(sd.path[0], want);
	assert_int_equal(mode_of(want), 0700);
	assert_int_equal(mode_of(primary), -1);
	assert_int_equal(sock_dirs_in(&sd, "mine/", tmp, err, sizeof err), 0);
	assert_string_equal(sd.path[0], want);

	snprintf(bad, sizeof bad, "%s/open", base);
	assert_int_equal(mkdir(bad, 0755), 0);
	chmod(bad, 0755);
	assert_int_equal(sock_dirs_in(&sd, bad, tmp, err, sizeof err),
	    ERR_UNSAFE);
	assert_non_null(strstr(err, "must be 0700"));

	setenv("LIMPET_DIR", want, 1);
	assert_int_equal(sock_dirs_in(&sd, NULL, tmp, err, sizeof err), 0);
	assert_string_equal(sd.path[0], want);
	unsetenv("LIMPET_DIR");

	snprintf(bad, sizeof bad, "%s/no/such/parent", base);
	assert_int_not_equal(sock_dirs_in(&sd, bad, tmp, err, sizeof err), 0);
	assert_non_null(strstr(err, "cannot create"));
}

/* A directory too long for sun_path is refused before it is made. */
static void
test_too_long(void **state)
{
	struct sock_dirs	sd;
	char			err[SOCK_ERR_MAX], name[256];

	(void)state;
	snprintf(name, sizeof name, "%s/", base);
	while (strlen(name) < SOCK_DIR_MAX + 1)
		strcat(name, "x");
	assert_int_equal(sock_dirs_in(&sd, name, tmp, err, sizeof err),
	    ERR_TOOBIG);
	assert_non_null(strstr(err, "at most 68"));
	assert_int_equal(mode_of(name), -1);
	name[SOCK_DIR_MAX] = '\0';
	assert_int_equal(sock_dirs_in(&sd, name, tmp, err, sizeof err), 0);
}

/* Run the socket directory tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_default, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fallback, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_xdg_and_refusal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
