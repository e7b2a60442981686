/*
 * Unit tests for the client's pure parts: shell quoting of hint words
 * (checked by round trips through /bin/sh), escaping of server text, the
 * preamble scan and the screen mode tracker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

#include "client-int.h"
#include "client-screen.h"
#include "client-ssh.h"

/* Run "printf %s <quoted>" with /bin/sh and return what it printed. */
static char *
sh_echo(const char *quoted)
{
	char	*cmd, *out = calloc(1, 4096);
	FILE	*f;
	size_t	 n;

	assert_non_null(out);
	assert_true(asprintf(&cmd, "printf %%s %s", quoted) > 0);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, 4095, f);
	out[n] = '\0';
	assert_int_equal(pclose(f), 0);
	free(cmd);
	return out;
}

/* Every word survives a trip through the shell unchanged. */
static void
test_quote_round_trip(void **state)
{
	static const char *words[] = {
		"plain", "with space", "a';touch /tmp/x;'", "it's", "\"dq\"",
		"$HOME", "`id`", "back\\slash", "semi;colon", "new\nline",
		"*", "?", "~user", "-F", "/a/b c/d", "'", "''", "a'b'c",
		"tab\there", "!bang", "{a,b}", "#hash", "x=y", "user@host",
	};
	size_t	 i;
	char	*q, *got;

	(void)state;
	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		q = ssh_shell_quote(words[i]);
		got = sh_echo(q);
		assert_string_equal(got, words[i]);
		free(got);
		free(q);
	}
	/* Safe words stay as they are; the empty word is quoted. */
	q = ssh_shell_quote("host-1.example:22");
	assert_string_equal(q, "host-1.example:22");
	free(q);
	q = ssh_shell_quote("");
	assert_string_equal(q, "''");
	free(q);
}

/*
 * AES-GCM goes first only in OpenSSH's own default order and only with
 * hardware AES-GCM; the same names, none added or dropped.
 */
static void
test_cipher_option(void **state)
{
	static const char *mine[] = {
		"aes256-ctr",
		"chacha20-poly1305@openssh.com",
		/* As built without OpenSSL; then one GCM cipher gone. */
		"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,"
		    "aes256-ctr",
		"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,"
		    "aes256-ctr,aes128-gcm@openssh.com",
		"aes128-gcm@openssh.com,aes256-gcm@openssh.com,"
		    "chacha20-poly1305@openssh.com",
		"",
	};
	char	*o;
	size_t	 i;

	(void)state;
	o = ssh_cipher_option("chacha20-poly1305@openssh.com,aes128-ctr,"
	    "aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,"
	    "aes256-gcm@openssh.com", 1);
	assert_string_equal(o, "-oCiphers=aes128-gcm@openssh.com,"
	    "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,"
	    "aes128-ctr,aes192-ctr,aes256-ctr");
	free(o);
	o = ssh_cipher_option("chacha20-poly1305@openssh.com,"
	    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,"
	    "aes192-ctr,aes256-ctr", 1);
	assert_string_equal(o, "-oCiphers=aes128-gcm@openssh.com,"
	    "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,"
	    "aes128-ctr,aes192-ctr,aes256-ctr");
	free(o);
	/* Without hardware AES-GCM, ChaCha20 stays first. */
	assert_null(ssh_cipher_option("chacha20-poly1305@openssh.com,"
	    "aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,"
	    "aes256-gcm@openssh.com", 0));
	/* A list someone chose is theirs. */
	for (i = 0; i < sizeof mine / sizeof mine[0]; i++)
		assert_null(ssh_cipher_option(mine[i], 1));
	assert_null(ssh_cipher_option(NULL, 1));
}

/* Control bytes in server text are escaped, printable text kept. */
static void
test_safe_text(void **state)
{
	char	out[64];

	(void)state;
	out_safe(out, sizeof out, "hi \x1b]0;x\x07 \xc2\x9b" "2J");
	assert_string_equal(out, "hi \\e]0;x\\x07 \\xc2\\x9b2J");
	out_safe(out, sizeof out, "caf\xc3\xa9 \\ ok\n");
	assert_string_equal(out, "caf\xc3\xa9 \\\\ ok\\n");
	/* Truncated, never overflowing or cutting an escape. */
	out_safe(out, 6, "\x01\x02\x03");
	assert_string_equal(out, "\\x01");
}

/* The preamble is found in any split, after noise and false starts. */
static void
test_magic_scan(void **state)
{
	static const uint8_t	in[] = "noise\0LIMP\0LIMPET\1frames";
	static const uint8_t	e[] = "\0LIMPET\3\0LIMPET\2x";
	size_t			m = 0, used, i;
	int			early = -1;

	(void)state;
	used = ssh_magic_scan(&m, in, sizeof in - 1, &early);
	assert_int_equal(m, PROTO_MAGIC_LEN);
	assert_int_equal(early, 0);
	assert_memory_equal(in + used, "frames", 6);
	for (m = 0, i = 0; m < PROTO_MAGIC_LEN; i++)
		used = ssh_magic_scan(&m, in + i, 1, NULL);
	assert_int_equal(i, sizeof in - 1 - 6);
	/* A relay that took the HELLO from LIMPET_HELLO ends it with 2. */
	m = 0;
	used = ssh_magic_scan(&m, e, sizeof e - 1, &early);
	assert_int_equal(m, PROTO_MAGIC_LEN);
	assert_int_equal(early, 1);
	assert_int_equal(used, sizeof e - 2);
}

/* Track s into a fresh screen and return its restore string. */
static void
track(struct screen *s, const char *in, size_t chunk)
{
	size_t	n = strlen(in), off;

	for (off = 0; off < n; off += chunk)
		screen_track(s, (const uint8_t *)in + off,
		    n - off < chunk ? n - off : chunk);
}

/* The modes a full-screen program sets are seen in any split. */
static void
test_screen_modes(void **state)
{
	static const char *vim = "\x1b[?1049h\x1b[22;0;0t\x1b[?1h\x1b="
	    "\x1b[1;24r\x1b[?25l\x1b[?1000h\x1b[?1006h\x1b[?2004htext";
	struct screen	s;
	char		out[256];
	size_t		chunk;

	(void)state;
	for (chunk = 1; chunk <= strlen(vim); chunk++) {
		memset(&s, 0, sizeof s);
		track(&s, vim, chunk);
		assert_true(s.alt);
		assert_int_equal(s.modes, SM_ALT | SM_CKM | SM_KEYPAD |
		    SM_REGION | SM_HIDDEN | SM_MOUSE | SM_PASTE);
		screen_restore(&s, out, sizeof out);
		assert_non_null(strstr(out, "\x1b[?1049l"));
		assert_non_null(strstr(out, "\x1b>"));
		assert_non_null(strstr(out, "\x1b[?25h"));
		assert_non_null(strstr(out, "\x1b[?1000l"));
		assert_non_null(strstr(out, "\x1b[?2004l"));
		/* Leaving the alternate screen comes last. */
		assert_non_null(strstr(out, "\x1b[?1049l\x1b[0m"));
	}
	memset(&s, 0, sizeof s);
	track(&s, vim, 7);
	track(&s, "\x1b[r\x1b[?25h\x1b[?1l\x1b>\x1b[?1000l\x1b[?2004l"
	    "\x1b[?1049l", 3);
	assert_false(s.alt);
	assert_int_equal(s.modes, 0);
	screen_restore(&s, out, sizeof out);
	assert_string_equal(out, "\x1b[0m");
}

/*
 * A terminal that keeps each mouse mode apart still reports after
 * ?1000h ?1002h ?1000l (xterm and libvterm do not): the way out resets
 * every mode then, and after all were reset, none.
 */
static void
test_screen_mouse_modes(void **state)
{
	struct screen	s;
	char		out[256];

	(void)state;
	memset(&s, 0, sizeof s);
	track(&s, "\x1b[?1000h\x1b[?1002h\x1b[?1006h\x1b[?1000l", 5);
	assert_false(s.modes & SM_MOUSE);
	screen_restore(&s, out, sizeof out);
	assert_non_null(strstr(out, "\x1b[?1002l"));
	assert_non_null(strstr(out, "\x1b[?1006l"));
	track(&s, "\x1b[?1002;9h\x1b[?1002;9l", 4);
	screen_restore(&s, out, sizeof out);
	assert_string_equal(out, "\x1b[0m");
	track(&s, "\x1b[?1003h\x1b" "c", 2);
	screen_restore(&s, out, sizeof out);
	assert_string_equal(out, "\x1b[0m");
}

/*
 * The remote command passes --dir to the relay as one word, with or
 * without --server-path: run it with a fake limpet that prints its args.
 */
static void
test_remote_command(void **state)
{
	char	dir[] = "/tmp/limpet-unit-XXXXXX", path[256], *cmd, *q, *out;
	FILE	*f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/limpet", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nfor a; do printf '[%%s]' \"$a\"; done\n");
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);

	cmd = ssh_remote_command(NULL, "/x y/it's $HOME", NULL);
	assert_true(asprintf(&q, "PATH=%s:$PATH; %s", dir, cmd) > 0);
	free(cmd);
	cmd = ssh_shell_quote(q);
	free(q);
	assert_true(asprintf(&q, "\"$(sh -c %s)\"", cmd) > 0);
	out = sh_echo(q);
	assert_string_equal(out, "[relay][--dir][/x y/it's $HOME]");
	free(out);
	free(q);
	free(cmd);

	cmd = ssh_remote_command(path, "/d", NULL);
	q = ssh_shell_quote(cmd);
	free(cmd);
	assert_true(asprintf(&cmd, "\"$(sh -c %s)\"", q) > 0);
	out = sh_echo(cmd);
	assert_string_equal(out, "[relay][--dir][/d]");
	free(out);
	free(cmd);
	free(q);

	/* With a HELLO: the relay (either form) finds it in its environment. */
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nprintf '<%%s>' \"$LIMPET_HELLO\"\n"
	    "for a; do printf '[%%s]' \"$a\"; done\n");
	fclose(f);
	cmd = ssh_remote_command(path, NULL, "0a1b");
	q = ssh_shell_quote(cmd);
	free(cmd);
	assert_true(asprintf(&cmd, "\"$(sh -c %s)\"", q) > 0);
	out = sh_echo(cmd);
	assert_string_equal(out, "<0a1b>[relay]");
	free(out);
	free(cmd);
	free(q);
	cmd = ssh_remote_command(NULL, "/d", "ff");
	assert_true(asprintf(&q, "PATH=%s:$PATH; %s", dir, cmd) > 0);
	free(cmd);
	cmd = ssh_shell_quote(q);
	free(q);
	assert_true(asprintf(&q, "\"$(sh -c %s)\"", cmd) > 0);
	out = sh_echo(q);
	assert_string_equal(out, "<ff>[relay][--dir][/d]");
	free(out);
	free(q);
	free(cmd);
	unlink(path);
	rmdir(dir);
}

/* Build the preamble and a WELCOME into b. */
static void
put_welcome(struct buf *b, const char *id, uint64_t in_have)
{
	struct msg_welcome	w;

	memset(&w, 0, sizeof w);
	w.version = PROTO_VERSION;
	w.id = (char *)id;
	w.in_have = in_have;
	buf_put(b, PROTO_MAGIC, PROTO_MAGIC_LEN);
	assert_int_equal(proto_welcome_put(b, &w), 0);
}

/* Feed b to a fresh client that holds some typed input. */
static struct client *
feed_new(struct buf *b, int attached)
{
	struct client	*c = client_new();

	c->attached_once = attached;
	if (attached)
		memcpy(c->session, "abc", 4);
	ring_append(&c->in, "typed", 5, 0);
	client_begin(c, 1000);
	client_feed(c, buf_ptr(b), buf_len(b), 1000);
	return c;
}

/*
 * What the server says is checked: an invalid id or offsets that would
 * wrap are protocol errors (final before the first WELCOME), and so is
 * an ERROR 4 or 5 before it (found by fuzz/client-fuzzer.c).
 */
static void
test_feed_checks(void **state)
{
	struct client	*c;
	struct buf	 b;

	(void)state;
	buf_init(&b, 0);
	put_welcome(&b, "a';touch x;'", 0);
	c = feed_new(&b, 0);
	assert_int_equal(c->state, ST_DONE);
	assert_int_equal(c->exit_code, 255);
	assert_string_equal(c->session, "");
	client_free(c);

	buf_reset(&b);
	put_welcome(&b, "abc", UINT64_MAX);
	c = feed_new(&b, 0);
	assert_int_equal(c->state, ST_DONE);
	client_free(c);

	buf_reset(&b);
	put_welcome(&b, "abc", 0);
	c = feed_new(&b, 0);
	assert_int_equal(c->state, ST_UP);
	/* No input before the first WINDOW, then only inside it. */
	client_send_input(c, 1000);
	assert_int_equal(c->in_sent, 0);
	buf_reset(&b);
	assert_int_equal(proto_u64_put(&b, MSG_WINDOW, 3), 0);
	client_feed(c, buf_ptr(&b), buf_len(&b), 1001);
	client_send_input(c, 1001);
	assert_int_equal(c->in_sent, 3);
	client_free(c);

	buf_reset(&b);
	buf_put(&b, PROTO_MAGIC, PROTO_MAGIC_LEN);
	assert_int_equal(proto_error_put(&b, PERR_PROTOCOL, "oops"), 0);
	c = feed_new(&b, 0);
	assert_int_equal(c->state, ST_DONE);
	assert_int_equal(c->exit_code, 255);
	client_free(c);
	buf_free(&b);
}

/* Run the client tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_round_trip),
		cmocka_unit_test(test_safe_text),
		cmocka_unit_test(test_magic_scan),
		cmocka_unit_test(test_cipher_option),
		cmocka_unit_test(test_screen_modes),
		cmocka_unit_test(test_screen_mouse_modes),
		cmocka_unit_test(test_remote_command),
		cmocka_unit_test(test_feed_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
