/*
 * Unit tests for src/escape.c: ssh-style "~" escapes at the start of a
 * line.
 */
#include <string.h>

#include "unit.h"

#include "buf.h"
#include "escape.h"

/*
 * Feed s one call at a time (or one byte per call with bytewise set);
 * passed-through bytes go to out, commands to cmds (as a string).
 */
static void
feed(struct escape *e, const char *s, int bytewise, struct buf *out,
    char *cmds)
{
	size_t	n = strlen(s), off = 0, used, step;
	int	cmd;

	while (off < n) {
		step = bytewise ? 1 : n - off;
		used = escape_feed(e, (const uint8_t *)s + off, step, out,
		    &cmd);
		assert_true(used >= 1 && used <= step);
		if (cmd != ESC_NONE) {
			cmds[strlen(cmds) + 1] = '\0';
			cmds[strlen(cmds)] = (char)cmd;
		}
		off += used;
	}
}

/* Check that typing in gives out and the commands cmds, in any split. */
static void
check(const char *in, const char *want_out, const char *want_cmds)
{
	struct escape	e;
	struct buf	out;
	char		cmds[64];
	int		bytewise;

	for (bytewise = 0; bytewise < 2; bytewise++) {
		escape_init(&e);
		buf_init(&out, 0);
		cmds[0] = '\0';
		feed(&e, in, bytewise, &out, cmds);
		assert_int_equal(buf_len(&out), strlen(want_out));
		assert_memory_equal(buf_ptr(&out), want_out,
		    strlen(want_out));
		assert_string_equal(cmds, want_cmds);
		buf_free(&out);
	}
}

/* Commands at the start of the session and after Enter. */
static void
test_commands(void **state)
{
	(void)state;
	check("~.", "", ".");
	check("ls\r~.", "ls\r", ".");
	check("ls\n~r", "ls\n", "r");
	check("\r~s\r~?", "\r\r", "s?");
	check("\r~\x1a", "\r", "\x1a");
	/* After a command, a new line may start with another escape. */
	check("~s~s", "", "ss");
}

/* ~~ is one ~; ~ with anything else sends both; mid-line ~ is plain. */
static void
test_literals(void **state)
{
	(void)state;
	check("~~", "~", "");
	check("~~.", "~.", "");
	check("~x", "~x", "");
	check("a~.", "a~.", "");
	check("echo ~/x\r", "echo ~/x\r", "");
	check("~\r~.", "~\r", ".");
	check("~~\r~.", "~\r", ".");
}

/* A ~ held at the end of one read is resolved by the next. */
static void
test_split(void **state)
{
	struct escape	e;
	struct buf	out;
	int		cmd;

	(void)state;
	escape_init(&e);
	buf_init(&out, 0);
	assert_int_equal(escape_feed(&e, (const uint8_t *)"~", 1, &out,
	    &cmd), 1);
	assert_int_equal(cmd, ESC_NONE);
	assert_int_equal(buf_len(&out), 0);
	assert_int_equal(escape_feed(&e, (const uint8_t *)".rest", 5, &out,
	    &cmd), 1);
	assert_int_equal(cmd, ESC_DETACH);
	buf_free(&out);
}

/* Run the escape tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
