/*
 * Unit tests for limpet doctor's checks: what the server's script sent is
 * fed to the parser and the server, shell and logind checks, and the
 * findings must name the right values, files, lines and verdicts.  Also
 * the small pieces: time parsing, ChannelTimeout patterns, the NAT
 * bracket, the disconnect explanations, the report's JSON, and local
 * file edits with backups.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "doctor/doctor-client.h"
#include "doctor/doctor-ctx.h"
#include "doctor/doctor-explain.h"
#include "doctor/doctor-fix.h"
#include "doctor/doctor-nat.h"
#include "doctor/doctor-remote.h"
#include "doctor/doctor-report.h"
#include "doctor/doctor-server.h"
#include "err.h"
#include "xmalloc.h"

/* What a hardened Debian 12 server might send. */
static const char hardened[] =
"@limpet-doctor 1\n"
"@k user alice\n"
"@k uid 1000\n"
"@k groups alice staff\n"
"@k home /home/alice\n"
"@k shell /bin/bash\n"
"@k conn 10.0.0.5 5555 10.0.0.1 22\n"
"@k sshd_version OpenSSH_9.2\n"
"@k sshd_config /etc/ssh/sshd_config\n"
"@file /etc/ssh/sshd_config\n"
"|Include /etc/ssh/sshd_config.d/*.conf\n"
"|ClientAliveInterval 600\n"
"|ClientAliveCountMax 0\n"
"|Match Address 10.0.0.0/8\n"
"|  ChannelTimeout session:*=15m\n"
"@end\n"
"@file /etc/ssh/sshd_config.d/50-cloud.conf\n"
"|ClientAliveInterval 120\n"
"@end\n"
"@file /etc/ssh/ssh_config\n"
"|Host *\n"
"|  ClientAliveInterval 60\n"
"@end\n"
"@trace\n"
"|+@/etc/profile.d/tmout.sh:1: TMOUT=900\n"
"|+@/etc/profile.d/tmout.sh:2: readonly TMOUT\n"
"|@tmout 900\n"
"|declare -rx TMOUT=\"900\"\n"
"@end\n"
"@own /home/alice/.bashrc\n"
"@k systemd systemd 252 (252.36-1~deb12u1)\n"
"@k logind.StopIdleSessionUSec t 1800000000\n"
"@k logind.KillUserProcesses b true\n"
"@k logind.IdleAction s \"ignore\"\n"
"@k logind.RemoveIPC b true\n"
"@k logind.UserStopDelayUSec t 20000000\n"
"@k linger no\n"
"@k rundir /run/user/1000\n"
"@k cgroup 0::/user.slice/user-1000.slice/session-4.scope\n"
"@file /etc/systemd/logind.conf\n"
"|[Login]\n"
"|#KillUserProcesses=no\n"
"|StopIdleSessionSec=30min\n"
"@end\n"
"@done\n";

/* An old server and a TMOUT the user set in ~/.bashrc. */
static const char olduser[] =
"@k user bob\n"
"@k uid 1001\n"
"@k home /home/bob\n"
"@k shell /bin/bash\n"
"@k sshd_version OpenSSH_7.4p1\n"
"@sshdT T\n"
"|clientaliveinterval 300\n"
"|clientalivecountmax 0\n"
"|unusedconnectiontimeout none\n"
"@end\n"
"@trace\n"
"|++@/home/bob/.bashrc:118: TMOUT=60\n"
"|@tmout 60\n"
"|declare -x TMOUT=\"60\"\n"
"@end\n"
"@grep /home/bob/.bashrc:118:  TMOUT=60   # idle logout\n"
"@own /home/bob/.bashrc\n"
"@done\n";

/* Set up a context from a script's output. */
static void
ctx_from(struct doctor_ctx *ctx, const char *out)
{
	char	*copy = xstrdup(out);

	memset(ctx, 0, sizeof *ctx);
	ctx->keepalive = 25;
	ctx->dest = "h";
	ctx->home = xstrdup("/nonexistent");
	doctor_report_init(&ctx->report, "h");
	doctor_remote_parse(&ctx->remote, copy);
	free(copy);
}

/* Free it. */
static void
ctx_free(struct doctor_ctx *ctx)
{
	doctor_remote_free(&ctx->remote);
	doctor_report_free(&ctx->report);
	doctor_fix_free(&ctx->fixes);
	free(ctx->home);
}

/* The finding (layer, check) or fail. */
static struct doctor_finding *
get(struct doctor_ctx *ctx, int layer, const char *check)
{
	struct doctor_finding	*f;

	f = doctor_report_find(&ctx->report, layer, check);
	if (f == NULL)
		fail_msg("no finding %s", check);
	return f;
}

/* The script's output is parsed into facts, files and the trace. */
static void
test_parse(void **state)
{
	struct doctor_ctx	ctx;

	(void)state;
	ctx_from(&ctx, hardened);
	assert_true(ctx.remote.ok);
	assert_string_equal(doctor_remote_get(&ctx.remote, "user"), "alice");
	assert_string_equal(doctor_remote_get(&ctx.remote, "conn"),
	    "10.0.0.5 5555 10.0.0.1 22");
	assert_string_equal(doctor_remote_file(&ctx.remote,
	    "/etc/ssh/sshd_config.d/50-cloud.conf"), "ClientAliveInterval 120\n");
	assert_non_null(strstr(ctx.remote.shell_trace, "readonly TMOUT"));
	assert_null(ctx.remote.sshd_t);
	ctx_free(&ctx);
}

/* sshd: drop-in wins, CountMax 0 is harmless on 9.2, Match applies. */
static void
test_server_hardened(void **state)
{
	struct doctor_ctx	 ctx;
	struct doctor_finding	*f;
	int			 i, wrong = 0;

	(void)state;
	ctx_from(&ctx, hardened);
	doctor_server_check(&ctx);
	f = get(&ctx, LAYER_SERVER, "ClientAliveInterval");
	assert_string_equal(f->value, "120, ClientAliveCountMax 0");
	assert_string_equal(f->file, "/etc/ssh/sshd_config.d/50-cloud.conf");
	assert_int_equal(f->line, 1);
	assert_int_equal(f->verdict, DOCTOR_OK);
	f = get(&ctx, LAYER_SERVER, "ChannelTimeout");
	assert_int_equal(f->verdict, DOCTOR_KILLS);
	assert_int_equal(f->secs, 900);
	assert_int_equal(f->lverdict, DOCTOR_OK);
	assert_string_equal(f->file, "/etc/ssh/sshd_config");
	assert_int_equal(f->line, 5);
	for (i = 0; i < ctx.report.n; i++) {
		f = &ctx.report.f[i];
		if (strcmp(f->check, "server keyword in the server's "
		    "ssh_config") != 0)
			continue;
		wrong++;
		assert_string_equal(f->file, "/etc/ssh/ssh_config");
		assert_int_equal(f->line, 2);
		assert_int_equal(f->fixby, FIXBY_ADMIN);
		assert_int_equal(f->verdict, DOCTOR_BROKEN);
	}
	assert_int_equal(wrong, 1);
	/* The admin's file gets a planned edit, applied only with --system. */
	assert_int_equal(ctx.fixes.n, 1);
	assert_true(ctx.fixes.e[0].remote);
	assert_string_equal(ctx.fixes.e[0].old, "  ClientAliveInterval 60");
	ctx_free(&ctx);
}

/* sshd before 8.2: CountMax 0 ends idle sessions; sshd -T wins. */
static void
test_server_old(void **state)
{
	struct doctor_ctx	 ctx;
	struct doctor_finding	*f;

	(void)state;
	ctx_from(&ctx, olduser);
	doctor_server_check(&ctx);
	f = get(&ctx, LAYER_SERVER, "ClientAliveInterval");
	assert_int_equal(f->verdict, DOCTOR_KILLS);
	assert_int_equal(f->secs, 300);
	assert_int_equal(f->lverdict, DOCTOR_OK);
	assert_null(f->file);
	ctx_free(&ctx);
}

/* A read-only TMOUT from /etc is the admin's: reported, not touched. */
static void
test_shell_policy(void **state)
{
	struct doctor_ctx	 ctx;
	struct doctor_finding	*f;

	(void)state;
	ctx_from(&ctx, hardened);
	doctor_shell_check(&ctx);
	f = get(&ctx, LAYER_SHELL, "TMOUT");
	assert_int_equal(f->verdict, DOCTOR_KILLS);
	assert_int_equal(f->secs, 900);
	assert_int_equal(f->lverdict, DOCTOR_KILLS);
	assert_string_equal(f->file, "/etc/profile.d/tmout.sh");
	assert_int_equal(f->line, 1);
	assert_int_equal(f->fixby, FIXBY_ADMIN);
	assert_non_null(strstr(f->why, "read-only"));
	assert_int_equal(ctx.fixes.n, 0);
	ctx_free(&ctx);
}

/* The user's own TMOUT: the fix comments out the exact line. */
static void
test_shell_user(void **state)
{
	struct doctor_ctx	 ctx;
	struct doctor_finding	*f;

	(void)state;
	ctx_from(&ctx, olduser);
	doctor_shell_check(&ctx);
	f = get(&ctx, LAYER_SHELL, "TMOUT");
	assert_int_equal(f->secs, 60);
	assert_string_equal(f->file, "/home/bob/.bashrc");
	assert_int_equal(f->line, 118);
	assert_int_equal(f->fixby, FIXBY_USER);
	assert_int_equal(ctx.fixes.n, 1);
	assert_int_equal(ctx.fixes.e[0].kind, EDIT_COMMENT);
	assert_int_equal(ctx.fixes.e[0].line, 118);
	assert_string_equal(ctx.fixes.e[0].old, "  TMOUT=60   # idle logout");
	ctx_free(&ctx);
}

/* logind: StopIdleSessionSec kills plain ssh only; where it is set. */
static void
test_logind(void **state)
{
	struct doctor_ctx	 ctx;
	struct doctor_finding	*f;

	(void)state;
	ctx_from(&ctx, hardened);
	doctor_logind_check(&ctx);
	f = get(&ctx, LAYER_LOGIND, "StopIdleSessionSec");
	assert_int_equal(f->verdict, DOCTOR_KILLS);
	assert_int_equal(f->secs, 1800);
	assert_int_equal(f->lverdict, DOCTOR_OK);
	assert_string_equal(f->file, "/etc/systemd/logind.conf");
	assert_int_equal(f->line, 3);
	f = get(&ctx, LAYER_LOGIND, "KillUserProcesses");
	assert_int_equal(f->verdict, DOCTOR_WARN);
	assert_int_equal(f->lverdict, DOCTOR_WARN);
	f = get(&ctx, LAYER_LOGIND, "RemoveIPC");
	assert_string_equal(f->value, "true");
	assert_non_null(strstr(f->why, "shared memory"));
	f = get(&ctx, LAYER_LOGIND, "Linger");
	assert_non_null(strstr(f->why, "/run/user/1000"));
	assert_non_null(strstr(f->why, "20 s later"));
	ctx_free(&ctx);
	ctx_from(&ctx, olduser);
	doctor_logind_check(&ctx);
	f = get(&ctx, LAYER_LOGIND, "systemd-logind");
	assert_int_equal(f->verdict, DOCTOR_OK);
	ctx_free(&ctx);
}

/* ssh's time format and ChannelTimeout's first-match rule. */
static void
test_times(void **state)
{
	(void)state;
	assert_int_equal(doctor_seconds("90"), 90);
	assert_int_equal(doctor_seconds("5m"), 300);
	assert_int_equal(doctor_seconds("1h30m"), 5400);
	assert_int_equal(doctor_seconds("2W"), 1209600);
	assert_int_equal(doctor_seconds("none"), -1);
	assert_int_equal(doctor_seconds("5x"), -1);
	assert_int_equal(doctor_seconds(""), -1);
	assert_int_equal(doctor_client_session_timeout(
	    "direct-tcpip=1m session:shell=10m session:*=1h",
	    "session:shell"), 600);
	assert_int_equal(doctor_client_session_timeout(
	    "session:shell=10m session:*=1h", "session:command"), 3600);
	assert_int_equal(doctor_client_session_timeout("session=5m",
	    "session:shell"), -1);
	assert_int_equal(doctor_client_session_timeout("global=30s",
	    "session:command"), 30);
}

/* The bracket: the longest survivor below the shortest casualty. */
static void
test_bracket(void **state)
{
	struct doctor_nat	n;

	(void)state;
	memset(&n, 0, sizeof n);
	n.ntimes = 5;
	n.times[0] = 30;
	n.times[1] = 60;
	n.times[2] = 120;
	n.times[3] = 240;
	n.times[4] = 480;
	n.state[0] = n.state[1] = NAT_ALIVE;
	n.state[2] = NAT_FAILED;
	n.state[3] = NAT_DEAD;
	n.state[4] = NAT_ALIVE;		/* a fluke above the drop */
	doctor_nat_bracket(&n);
	assert_int_equal(n.lo, 60);
	assert_int_equal(n.hi, 240);
	n.state[3] = NAT_ALIVE;
	doctor_nat_bracket(&n);
	assert_int_equal(n.lo, 480);
	assert_int_equal(n.hi, -1);
}

/* The path verdict weighs the client's and the server's keepalives. */
static void
test_nat_verdict(void **state)
{
	struct doctor_ctx	 ctx;
	struct doctor_finding	*f;

	(void)state;
	ctx_from(&ctx, "@done\n");
	ctx.nat.ran = 1;
	ctx.nat.ntimes = 3;
	ctx.nat.times[0] = 60;
	ctx.nat.times[1] = 240;
	ctx.nat.times[2] = 480;
	ctx.nat.state[0] = ctx.nat.state[1] = NAT_ALIVE;
	ctx.nat.state[2] = NAT_DEAD;
	doctor_nat_bracket(&ctx.nat);
	doctor_nat_check(&ctx);
	f = get(&ctx, LAYER_PATH, "NAT/firewall idle timeout");
	assert_string_equal(f->value, "between 240 s and 480 s");
	assert_int_equal(f->verdict, DOCTOR_KILLS);
	assert_int_equal(f->secs, 480);
	assert_int_equal(f->lverdict, DOCTOR_OK);
	assert_non_null(strstr(f->why, "ServerAliveInterval 60"));
	ctx_free(&ctx);
	/* A server probing every 120 s keeps the flows: no kill. */
	ctx_from(&ctx, "@done\n");
	ctx.nat = (struct doctor_nat){ .ran = 1, .ntimes = 3, .times = {
	    60, 240, 480 }, .state = { NAT_ALIVE, NAT_ALIVE, NAT_DEAD } };
	doctor_nat_bracket(&ctx.nat);
	f = doctor_report_add(&ctx.report, LAYER_SERVER,
	    "ClientAliveInterval", "120, ClientAliveCountMax 3", DOCTOR_OK);
	doctor_nat_check(&ctx);
	f = get(&ctx, LAYER_PATH, "NAT/firewall idle timeout");
	assert_int_equal(f->verdict, DOCTOR_OK);
	assert_non_null(strstr(f->why, "ClientAliveInterval (120 s)"));
	ctx_free(&ctx);
}

/* Disconnect messages. */
static void
test_explain(void **state)
{
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*fp;
	int	 n;

	(void)state;
	fp = open_memstream(&text, &len);
	n = doctor_explain_print("Timeout, server h not responding.", 255,
	    fp);
	fclose(fp);
	assert_int_equal(n, 1);
	assert_non_null(strstr(text, "ServerAliveInterval"));
	free(text);
	fp = open_memstream(&text, &len);
	n = doctor_explain_print("Connection to h closed.", 0, fp);
	fclose(fp);
	assert_non_null(strstr(text, "not ssh's own"));
	free(text);
}

/* Host and user names with shell syntax are refused, as ssh does. */
static void
test_bad_name(void **state)
{
	static const char *const good_hosts[] = {
		"lab", "web-1.example.com", "10.0.0.1", "::1", "h_x", NULL
	};
	static const char *const bad_hosts[] = {
		"lab$(id)", "lab`id`", "-oProxyCommand=x", "a b", "a\tb",
		"a\nb", "a;b", "a|b", "a&b", "a>b", "a'b", "a\"b", "a\\b",
		"a{b}", "a(b)", "", "a\x7f", NULL
	};
	char	why[96];
	int	i;

	(void)state;
	for (i = 0; good_hosts[i] != NULL; i++)
		assert_null(doctor_client_bad_name(good_hosts[i], 1, why,
		    sizeof why));
	for (i = 0; bad_hosts[i] != NULL; i++)
		assert_non_null(doctor_client_bad_name(bad_hosts[i], 1, why,
		    sizeof why));
	/* A user may be DOMAIN\user, but not end in a backslash. */
	assert_null(doctor_client_bad_name("DOM\\alice", 0, why, sizeof why));
	assert_non_null(doctor_client_bad_name("alice\\", 0, why, sizeof why));
	assert_non_null(doctor_client_bad_name("-alice", 0, why, sizeof why));
	assert_non_null(doctor_client_bad_name("a$(id)", 0, why, sizeof why));
	assert_non_null(doctor_client_bad_name("a b", 0, why, sizeof why));
	assert_non_null(strstr(doctor_client_bad_name("x;y", 0, why,
	    sizeof why), "';'"));
}

/* JSON: strings escaped, ranked summary, status. */
static void
test_json(void **state)
{
	struct doctor_report	 r;
	struct doctor_finding	*f;
	char			*text = NULL;
	size_t			 len = 0;
	FILE			*fp;

	(void)state;
	doctor_report_init(&r, "h\"q");
	f = doctor_report_add(&r, LAYER_SHELL, "TMOUT", "600", DOCTOR_KILLS);
	f->secs = f->lsecs = 600;
	doctor_report_set(&f->why, "line\none\t\"x\"");
	f = doctor_report_add(&r, LAYER_SERVER, "ChannelTimeout", "x",
	    DOCTOR_KILLS);
	f->secs = 300;
	f->lverdict = DOCTOR_OK;
	fp = open_memstream(&text, &len);
	doctor_report_json(&r, fp);
	fclose(fp);
	assert_non_null(strstr(text, "\"destination\":\"h\\\"q\""));
	assert_non_null(strstr(text, "\"why\":\"line\\none\\t\\\"x\\\"\""));
	assert_non_null(strstr(text, "\"ssh\":[{\"layer\":\"server\","
	    "\"check\":\"ChannelTimeout\",\"seconds\":300},{\"layer\":"
	    "\"shell\""));
	assert_non_null(strstr(text, "\"limpet\":[{\"layer\":\"shell\""));
	assert_non_null(strstr(text, "\"status\":1}"));
	assert_int_equal(doctor_report_status(&r), 1);
	free(text);
	doctor_report_free(&r);
}

/* Local edits: each kind, the backup, and a line that changed. */
static void
test_fix_local(void **state)
{
	char			 dir[] = "/tmp/limpet-fix-XXXXXX", path[64];
	char			 bak[96], why[256], *got;
	struct doctor_edit	 e;
	FILE			*fp;
	size_t			 len = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/config", dir);
	fp = fopen(path, "w");
	fputs("Host a\n  ServerAliveInterval 0\nHost b\n  Port 2", fp);
	fclose(fp);
	memset(&e, 0, sizeof e);
	e.file = path;
	e.kind = EDIT_REPLACE;
	e.line = 2;
	e.old = (char *)"  ServerAliveInterval 0";
	e.text = (char *)"  ServerAliveInterval 60\n";
	assert_int_equal(doctor_fix_local(&e, why, sizeof why), 0);
	snprintf(bak, sizeof bak, "%s.limpet-doctor.bak", path);
	assert_int_equal(access(bak, F_OK), 0);
	/* Planned against the old text: refused now. */
	assert_int_equal(doctor_fix_local(&e, why, sizeof why), ERR_EXISTS);
	e.kind = EDIT_INSERT;
	e.line = 3;
	e.text = (char *)"  ServerAliveInterval 30\n";
	assert_int_equal(doctor_fix_local(&e, why, sizeof why), 0);
	e.kind = EDIT_COMMENT;
	e.line = 1;
	e.old = (char *)"Host a";
	assert_int_equal(doctor_fix_local(&e, why, sizeof why), 0);
	e.kind = EDIT_APPEND;
	e.text = (char *)"\nHost c\n    ServerAliveInterval 60\n";
	assert_int_equal(doctor_fix_local(&e, why, sizeof why), 0);
	fp = fopen(path, "r");
	got = NULL;
	assert_true(getdelim(&got, &len, '\0', fp) > 0);
	fclose(fp);
	assert_string_equal(got,
	    "# Host a  # disabled by limpet doctor\n"
	    "  ServerAliveInterval 60\n"
	    "Host b\n"
	    "  ServerAliveInterval 30\n"
	    "  Port 2\n"
	    "\nHost c\n    ServerAliveInterval 60\n");
	free(got);
	snprintf(bak, sizeof bak, "%s.limpet-doctor.bak.3", path);
	assert_int_equal(access(bak, F_OK), 0);
	/* A new file is created, with its directory, mode 0600. */
	snprintf(path, sizeof path, "%s/new/config", dir);
	e.file = path;
	assert_int_equal(doctor_fix_local(&e, why, sizeof why), 0);
	fp = fopen(path, "r");
	got = NULL;
	assert_true(getdelim(&got, &len, '\0', fp) > 0);
	fclose(fp);
	assert_string_equal(got, "Host c\n    ServerAliveInterval 60\n");
	free(got);
	snprintf(bak, sizeof bak, "rm -rf '%s'", dir);
	assert_int_equal(system(bak), 0);
}

/* Random server output never crashes the parser or the checks. */
static void
test_random_output(void **state)
{
	static const char *const lines[] = {
		"@k user u", "@k home /home/u", "@k conn 1 2 3 4", "@k conn",
		"@k sshd_version OpenSSH_", "@k sshd_version OpenSSH_9.9",
		"@k shell /bin/zsh", "@k shell", "@file /etc/ssh/sshd_config",
		"@file /etc/ssh/ssh_config", "@end", "|ClientAliveInterval 5",
		"|Match User u", "|Include *", "|ChannelTimeout session=1",
		"|ChannelTimeout session:*=x global=3", "@trace",
		"|+@/home/u/.bashrc:3: TMOUT=7", "|+@/x:", "|+@/x:99999999999: ",
		"|@tmout 7", "|@tmout", "|declare -r TMOUT", "|typeset -",
		"@grep /home/u/.bashrc:3:TMOUT=7", "@grep :", "@grep a:1:",
		"@own /home/u/.bashrc", "@sshdT T", "|clientalivecountmax 0",
		"@k systemd 1", "@k logind.StopIdleSessionUSec t 5",
		"@k logind.StopIdleSessionUSec", "@k logind.IdleAction s x",
		"@k cgroup /session-1.scope", "@k groups a b c", "@done", "",
		"@autologout 3", "|@autologout x", "|TMOUT=",
	};
	struct unit_rng		rng;
	struct doctor_ctx	ctx;
	char			text[4096];
	size_t			len, k;
	const char		*l;
	int			round;

	(void)state;
	unit_rng_init(&rng, 9);
	for (round = 0; round < 500; round++) {
		len = 0;
		for (k = unit_rng_below(&rng, 40); k > 0; k--) {
			l = lines[unit_rng_below(&rng,
			    sizeof lines / sizeof lines[0])];
			if (len + strlen(l) + 2 >= sizeof text)
				break;
			memcpy(text + len, l, strlen(l));
			len += strlen(l);
			text[len++] = '\n';
		}
		text[len] = '\0';
		ctx_from(&ctx, text);
		doctor_server_check(&ctx);
		doctor_shell_check(&ctx);
		doctor_logind_check(&ctx);
		ctx_free(&ctx);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_server_hardened),
		cmocka_unit_test(test_server_old),
		cmocka_unit_test(test_shell_policy),
		cmocka_unit_test(test_shell_user),
		cmocka_unit_test(test_logind),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_bracket),
		cmocka_unit_test(test_nat_verdict),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_bad_name),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_fix_local),
		cmocka_unit_test(test_random_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
