/*
 * Unit tests for doctor --fix's local edits (defect 24): a symlinked
 * config stays a symlink and its target gets the change, the file keeps
 * its mode and owner, the write leaves no temporary file behind, and a
 * path is judged "under home" only after it is resolved (a `..` does not
 * get through on a string prefix).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "doctor/doctor-ctx.h"
#include "doctor/doctor-fix.h"
#include "err.h"
#include "xmalloc.h"

static char	dir[] = "/tmp/limpet-fixl-XXXXXX";

/* A fresh directory for each test. */
static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/limpet-fixl-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

/* Remove it. */
static int
teardown(void **state)
{
	char	cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* dir/rel as a new string. */
static char *
at(const char *rel)
{
	char	*p;

	xasprintf(&p, "%s/%s", dir, rel);
	return p;
}

/* Write text to path with mode. */
static void
put(const char *path, const char *text, mode_t mode)
{
	FILE	*fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
}

/* The whole of path, as a new string. */
static char *
get(const char *path)
{
	FILE	*fp = fopen(path, "r");
	char	*s = NULL;
	size_t	 len = 0;

	assert_non_null(fp);
	if (getdelim(&s, &len, '\0', fp) < 0) {
		free(s);
		s = xstrdup("");
	}
	fclose(fp);
	return s;
}

/* How many entries a directory has (without . and ..). */
static int
entries(const char *path)
{
	DIR		*d = opendir(path);
	struct dirent	*e;
	int		 n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* The edit the tests apply: line 2 gets a keepalive. */
static void
edit_of(struct doctor_edit *e, char *file)
{
	memset(e, 0, sizeof *e);
	e->file = file;
	e->kind = EDIT_REPLACE;
	e->line = 2;
	e->old = (char *)"  ServerAliveInterval 0";
	e->text = (char *)"  ServerAliveInterval 60\n";
}

/* A symlinked config stays a symlink; its target is what changes. */
static void
test_symlink_kept(void **state)
{
	struct doctor_edit	 e;
	struct stat		 st;
	char			*dots = at("dotfiles"), *target, *link, *got;
	char			 why[512], buf[256];
	ssize_t			 n;

	(void)state;
	assert_int_equal(mkdir(dots, 0700), 0);
	target = at("dotfiles/ssh_config");
	link = at("config");
	put(target, "Host a\n  ServerAliveInterval 0\n", 0644);
	assert_int_equal(symlink("dotfiles/ssh_config", link), 0);
	edit_of(&e, link);
	assert_int_equal(doctor_fix_local(&e, why, sizeof why), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	n = readlink(link, buf, sizeof buf - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "dotfiles/ssh_config");
	got = get(target);
	assert_string_equal(got, "Host a\n  ServerAliveInterval 60\n");
	free(got);
	/* The backup sits next to the file that changed. */
	assert_non_null(strstr(why, "dotfiles/ssh_config.limpet-doctor.bak"));
	assert_int_equal(entries(dots), 2);
	assert_int_equal(entries(dir), 2);
	free(dots);
	free(target);
	free(link);
}

/* Mode and owner stay; no temporary file is left. */
static void
test_mode_owner_kept(void **state)
{
	struct doctor_edit	 e;
	struct stat		 st;
	char			*path = at("config"), why[512];

	(void)state;
	put(path, "Host a\n  ServerAliveInterval 0\n", 0640);
	if (getuid() == 0)
		assert_int_equal(chown(path, 12345, 54321), 0);
	edit_of(&e, path);
	assert_int_equal(doctor_fix_local(&e, why, sizeof why), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	if (getuid() == 0) {
		assert_int_equal(st.st_uid, 12345);
		assert_int_equal(st.st_gid, 54321);
	}
	assert_int_equal(entries(dir), 2);	/* config and its backup */
	free(path);
}

/* "Under home" is decided on resolved paths. */
static void
test_under_home(void **state)
{
	struct doctor_ctx	 ctx;
	char			*home = at("home"), *out = at("outside");
	char			*p, *p2, *homelink = at("homelink");

	(void)state;
	assert_int_equal(mkdir(home, 0700), 0);
	assert_int_equal(mkdir(out, 0700), 0);
	memset(&ctx, 0, sizeof ctx);
	ctx.home = home;
	p = at("home/.ssh/config");
	assert_true(doctor_fix_is_user_file(&ctx, p));
	free(p);
	/* A `..` leaves home, whatever the string starts with. */
	p = at("home/../outside/config");
	p2 = at("outside/config");
	put(p2, "", 0600);
	free(p2);
	assert_false(doctor_fix_is_user_file(&ctx, p));
	free(p);
	p = at("home/../nowhere/config");
	assert_false(doctor_fix_is_user_file(&ctx, p));
	free(p);
	/* A symlink in home that points out of it is not home either. */
	p = at("home/escape");
	assert_int_equal(symlink("../outside", p), 0);
	free(p);
	p = at("home/escape/config");
	if (getuid() == 0)
		assert_false(doctor_fix_is_user_file(&ctx, p));
	free(p);
	/* A home reached through a symlink is still home. */
	assert_int_equal(symlink("home", homelink), 0);
	ctx.home = homelink;
	p = at("home/.ssh/config");
	assert_true(doctor_fix_is_user_file(&ctx, p));
	free(p);
	free(home);
	free(out);
	free(homelink);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_symlink_kept, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mode_owner_kept, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_under_home, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
