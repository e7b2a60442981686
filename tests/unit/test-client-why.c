/*
 * Unit tests for the line the client prints when a session ends: a shell
 * that logged itself out is named from its last words, and a program
 * ended by a signal gets the signal's name, with the user's own kill or
 * timeout among the causes (defect 10: SIGTERM was blamed on logind, an
 * admin or the OOM killer alone).
 */
#include <signal.h>
#include <string.h>

#include "unit.h"

#include "client-why.h"

/* Last words of shells that logged themselves out. */
static void
test_words(void **state)
{
	static const char bash[] = "\atimed out waiting for input: "
	    "auto-logout\r\n";
	const char	*w;

	(void)state;
	w = client_why_exit(bash, sizeof bash - 1, 0);
	assert_non_null(w);
	assert_non_null(strstr(w, "TMOUT"));
	w = client_why_exit("zsh: timeout\r\n", 14, 14);
	assert_non_null(strstr(w, "zsh"));
	/* The words win over the status. */
	w = client_why_exit(bash, sizeof bash - 1, 143);
	assert_non_null(strstr(w, "TMOUT"));
	assert_null(client_why_exit("bye\r\n", 5, 0));
	assert_null(client_why_exit(NULL, 0, 1));
	assert_null(client_why_exit("", 0, 128));
	assert_null(client_why_exit("", 0, -1));
}

/* SIGTERM is named, and the user's own kill or timeout is a cause. */
static void
test_sigterm(void **state)
{
	const char	*w;

	(void)state;
	w = client_why_exit("", 0, 128 + SIGTERM);
	assert_non_null(w);
	assert_non_null(strstr(w, "ended by SIGTERM"));
	assert_non_null(strstr(w, "exit status 143"));
	assert_non_null(strstr(w, "your own kill or timeout"));
	assert_non_null(strstr(w, "logind"));
	/* The user's own cause comes first. */
	assert_true(strstr(w, "your own") < strstr(w, "logind"));
}

/* Other signals: named, with their usual senders if any. */
static void
test_other_signals(void **state)
{
	const char	*w;

	(void)state;
	w = client_why_exit("", 0, 128 + SIGKILL);
	assert_non_null(strstr(w, "ended by SIGKILL"));
	assert_non_null(strstr(w, "OOM"));
	assert_non_null(strstr(w, "kill -9"));
	w = client_why_exit("", 0, 128 + SIGHUP);
	assert_non_null(strstr(w, "ended by SIGHUP"));
	w = client_why_exit("", 0, 128 + SIGSEGV);
	assert_string_equal(w, "the remote program ended by SIGSEGV (exit "
	    "status 139)");
	w = client_why_exit("", 0, 128 + 40);
	assert_string_equal(w, "the remote program ended by signal 40 (exit "
	    "status 168)");
	assert_string_equal(client_why_signame(SIGTERM), "SIGTERM");
	assert_null(client_why_signame(0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_sigterm),
		cmocka_unit_test(test_other_signals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
