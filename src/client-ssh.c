/*
 * Running ssh.  Every connection is a fresh "ssh [user options] -T host
 * <start the relay>" whose stdin and stdout carry frames.  The user's
 * options come first so that, ssh taking the first value it sees, the
 * user's choices win over the defaults limpet adds after them.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "client-ssh.h"
#include "err.h"
#include "proc.h"
#include "proto.h"
#include "xmalloc.h"

#define NOT_INSTALLED	"limpet is not installed on the server"

#define SSH_DYING_MAX	32
#define SSH_PIPE	(1024 * 1024)	/* both pipes to ssh, if allowed */

/* ssh children killed but not yet reaped. */
static pid_t	ssh_dying[SSH_DYING_MAX];
static int	ssh_ndying;

/*
 * Quote s as one word for a POSIX shell: as it is if every byte is safe,
 * else in single quotes with each embedded quote written as '\''.  The
 * one quoting function for hints and remote commands.
 */
char *
ssh_shell_quote(const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-";
	size_t		 n = 3;
	char		*q, *o;
	const char	*p;

	if (*s != '\0' && strspn(s, safe) == strlen(s))
		return xstrdup(s);
	for (p = s; *p != '\0'; p++)
		n += *p == '\'' ? 4 : 1;
	q = o = xmalloc(n);
	*o++ = '\'';
	for (p = s; *p != '\0'; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
	return q;
}

/*
 * OpenSSH's built-in cipher orders (myproposal.h): before 10.1 and since.
 * A list that is not one of them was chosen by someone and is left alone.
 */
static const char *ssh_default_ciphers[] = {
	"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
	    "aes128-gcm@openssh.com,aes256-gcm@openssh.com",
	"chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
	    "aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr",
};

/*
 * The -o option that puts AES-GCM first in ssh's cipher list, given the
 * list `ssh -G` printed for this destination, or NULL to leave it alone.
 * Only OpenSSH's own default is reordered (nothing the user set in a
 * config file, -c or -o Ciphers), only its own ciphers are listed (none
 * added, none dropped), and only on a CPU with AES-GCM in hardware
 * (aes_gcm): there it is constant-time and costs ssh and sshd about half
 * of ChaCha20-Poly1305's CPU per byte (docs/ARCHITECTURE.md, "The
 * transport's cipher"), which both ends spend on every byte a session and
 * its forwards move.
 */
char *
ssh_cipher_option(const char *ciphers, int aes_gcm)
{
	static const char	 head[] = "-oCiphers=aes128-gcm@openssh.com,"
				    "aes256-gcm@openssh.com";
	char			*list, *p, *name, *o;
	size_t			 i, len, n = sizeof ssh_default_ciphers /
				    sizeof ssh_default_ciphers[0];

	if (!aes_gcm || ciphers == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (strcmp(ciphers, ssh_default_ciphers[i]) == 0)
			break;
	}
	if (i == n)
		return NULL;
	/* The same names, so the same length, after "-oCiphers=". */
	o = xmalloc(sizeof head + strlen(ciphers) + 1);
	memcpy(o, head, sizeof head);
	len = sizeof head - 1;
	p = list = xstrdup(ciphers);
	while ((name = strsep(&p, ",")) != NULL) {
		if (strcmp(name, "aes128-gcm@openssh.com") == 0 ||
		    strcmp(name, "aes256-gcm@openssh.com") == 0)
			continue;
		o[len++] = ',';
		memcpy(o + len, name, strlen(name) + 1);
		len += strlen(name);
	}
	free(list);
	return o;
}

/*
 * The command ssh asks the server to run.  Without --server-path, limpet
 * is looked for on the PATH that sshd gives commands and in ~/.local/bin.
 * With hello (hex, safe in any shell), env(1) hands it to the relay as
 * LIMPET_HELLO: sshd opens the session's window only once the command
 * runs, so a HELLO on stdin reaches the relay a round trip after it
 * started (PROTOCOL.md "Preamble"); an older relay ignores the variable.
 */
char *
ssh_remote_command(const char *server_path, const char *server_dir,
    const char *hello)
{
	char	*q, *d = NULL, *cmd, *e = NULL;

	if (server_dir != NULL) {
		q = ssh_shell_quote(server_dir);
		xasprintf(&d, " --dir %s", q);
		free(q);
	}
	if (hello != NULL)
		xasprintf(&e, "env LIMPET_HELLO=%s ", hello);
	if (server_path != NULL) {
		q = ssh_shell_quote(server_path);
		xasprintf(&cmd, "exec %s%s relay%s", e != NULL ? e : "", q,
		    d != NULL ? d : "");
		free(q);
		free(d);
		free(e);
		return cmd;
	}
	/* The relay's arguments reach the script as "$@". */
	xasprintf(&cmd, "%s%ssh -c 'if command -v limpet >/dev/null 2>&1; "
	    "then exec limpet relay \"$@\"; "
	    "elif [ -x \"$HOME/.local/bin/limpet\" ]; then "
	    "exec \"$HOME/.local/bin/limpet\" relay \"$@\"; else echo "
	    "\"limpet: " NOT_INSTALLED " (not on PATH, not in ~/.local/bin)\" "
	    ">&2; exit 127; fi' limpet%s", e != NULL ? "exec " : "",
	    e != NULL ? e : "", d != NULL ? d : "");
	free(d);
	free(e);
	return cmd;
}

/* True if the user asked ssh to be verbose (-v): ssh's stderr is shown. */
int
ssh_user_verbose(const struct ssh_conf *c)
{
	int	i;

	for (i = 0; i < c->nopts; i++) {
		const char	*a = c->opts[i];
		size_t		 k;

		if (a[0] != '-')
			continue;
		for (k = 1; a[k] != '\0'; k++) {
			if (a[k] == 'v')
				return 1;
			if (strchr("BbcDEeFIiJLlmOoPpQRSWw", a[k]) != NULL)
				break;	/* the rest is an argument */
		}
		if (a[k] != '\0' && a[k + 1] == '\0')
			i++;	/* the next word is that argument */
	}
	return 0;
}

/* Start ssh with three pipes (proc.c: no fd or child leaks on failure). */
int
ssh_spawn(const struct ssh_conf *c, struct ssh_proc *p)
{
	static const int how[3] = { PROC_PIPE, PROC_PIPE, PROC_PIPE };
	struct proc	 pr;
	int		 i, n = 0, r;
	char		**argv, *cmd, ct[32];

	cmd = c->command != NULL ? xstrdup(c->command) :
	    ssh_remote_command(c->server_path, c->server_dir, c->hello);
	argv = xcalloc(c->nopts + 16, sizeof *argv);
	argv[n++] = (char *)c->prog;
	for (i = 0; i < c->nopts; i++)
		argv[n++] = c->opts[i];
	argv[n++] = (char *)"-T";
	argv[n++] = (char *)"-e";
	argv[n++] = (char *)"none";
	argv[n++] = (char *)"-oControlPath=none";
	if (c->reconnect)
		argv[n++] = (char *)"-oBatchMode=yes";
	if (c->connect_timeout > 0) {
		snprintf(ct, sizeof ct, "-oConnectTimeout=%d",
		    c->connect_timeout);
		argv[n++] = ct;
	}
	argv[n++] = (char *)"--";	/* the destination is no option */
	argv[n++] = (char *)c->dest;
	argv[n++] = cmd;
	argv[n] = NULL;

	proc_init(&pr);
	r = proc_spawn(&pr, argv, how, PROC_NONBLOCK);
	free(argv);
	free(cmd);
	if (r != 0)
		return r;
	p->pid = pr.pid;
	p->in = pr.fd[0];
	p->out = pr.fd[1];
	p->err = pr.fd[2];
	/*
	 * Bulk output (or a forward's upload): ssh and we move it in few
	 * large pieces instead of one per 64 KiB, which halved ssh's CPU
	 * and made bulk output 1.0x ssh instead of 0.8x (bench, 2 CPUs).
	 * What may queue there stays bounded by the output window and the
	 * channels' in-flight bound, as everywhere on the path.
	 */
	compat_pipe_size(p->in, SSH_PIPE);
	compat_pipe_size(p->out, SSH_PIPE);
	return 0;
}

/*
 * Close our ends and kill ssh.  Its pid moves to the dying list, reaped
 * by ssh_reap_dying(): no ssh is ever left a zombie.
 */
void
ssh_stop(struct ssh_proc *p)
{
	if (p->in != -1)
		close(p->in);
	if (p->out != -1)
		close(p->out);
	if (p->err != -1)
		close(p->err);
	p->in = p->out = p->err = -1;
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	if (waitpid(p->pid, NULL, WNOHANG) != p->pid) {
		if (ssh_ndying < SSH_DYING_MAX)
			ssh_dying[ssh_ndying++] = p->pid;
		else
			waitpid(p->pid, NULL, 0);	/* killed: quick */
	}
	p->pid = -1;
}

/* Reap the killed ssh's that have gone; returns how many are left. */
int
ssh_reap_dying(void)
{
	int	i = 0;

	while (i < ssh_ndying) {
		if (waitpid(ssh_dying[i], NULL, WNOHANG) == 0) {
			i++;
			continue;
		}
		ssh_dying[i] = ssh_dying[--ssh_ndying];
	}
	return ssh_ndying;
}

/* Wait (at most timeout_ms) for every killed ssh to be reaped. */
void
ssh_reap_all(int timeout_ms)
{
	while (ssh_reap_dying() > 0 && timeout_ms > 0) {
		poll(NULL, 0, 10);
		timeout_ms -= 10;
	}
}

/*
 * End ssh: close its stdin so it delivers what it was given and leaves,
 * wait for that at most timeout_ms, then kill it.  Bounded whatever ssh
 * does (stopped, wedged, ignoring its stdin).
 */
void
ssh_close(struct ssh_proc *p, int timeout_ms)
{
	int	status;

	if (p->in != -1) {
		close(p->in);
		p->in = -1;
	}
	while (p->pid > 0 && timeout_ms > 0) {
		if (ssh_reap(p, &status))
			break;
		poll(NULL, 0, 20);
		timeout_ms -= 20;
	}
	ssh_stop(p);
	ssh_reap_all(1000);
}

/*
 * Find the preamble in what ssh printed first (a login shell may print
 * before the relay starts).  *matched counts the preamble bytes seen so
 * far; returns how many bytes of p were used up, the rest are frames.
 * Its last byte is 1, or 2 from a relay that took the HELLO from
 * LIMPET_HELLO: then, if early is not NULL, *early is set to 1.
 */
size_t
ssh_magic_scan(size_t *matched, const uint8_t *p, size_t n, int *early)
{
	size_t	i;

	for (i = 0; i < n && *matched < PROTO_MAGIC_LEN; i++) {
		if (p[i] == (uint8_t)PROTO_MAGIC[*matched] ||
		    (*matched == PROTO_MAGIC_LEN - 1 &&
		    p[i] == PROTO_MAGIC_EARLY)) {
			if (early != NULL && *matched == PROTO_MAGIC_LEN - 1)
				*early = p[i] == PROTO_MAGIC_EARLY;
			(*matched)++;
		} else
			*matched = p[i] == (uint8_t)PROTO_MAGIC[0] ? 1 : 0;
	}
	return i;
}

/*
 * Reap ssh if it exited; returns 1 with its exit code (128+N for a
 * signal) in *status, 0 if it still runs or was reaped already.
 */
int
ssh_reap(struct ssh_proc *p, int *status)
{
	int	st;
	pid_t	r;

	if (p->pid <= 0)
		return 0;
	r = waitpid(p->pid, &st, WNOHANG);
	if (r != p->pid)
		return 0;
	p->pid = -1;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) :
	    WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
	return 1;
}

/*
 * Decide from what ssh printed and its exit code whether trying again can
 * help.  Fills why with the advice for a permanent failure.
 */
int
ssh_classify(const char *err, int status, char *why, size_t len)
{
	static const struct {
		const char	*text;
		const char	*advice;
	} perm[] = {
		{ "Permission denied", "authentication was refused: check "
		    "your key or agent (ssh -v shows why)" },
		{ "REMOTE HOST IDENTIFICATION HAS CHANGED", "the server's "
		    "host key is not the one in known_hosts: check it with "
		    "plain ssh" },
		{ "Host key verification failed", "the server's host key was "
		    "not accepted: check it with plain ssh" },
		{ NOT_INSTALLED, "limpet is not installed on the server: "
		    "limpet --install puts it in ~/.local/bin there (or "
		    "install it yourself, or give --server-path)" },
		{ "Bad configuration option", "ssh refused its "
		    "configuration" },
		{ "command-line line", "ssh refused an option" },
		{ "usage: ssh", "ssh refused its command line" },
	};
	size_t	i;

	for (i = 0; i < sizeof perm / sizeof perm[0]; i++) {
		if (err != NULL && strstr(err, perm[i].text) != NULL) {
			snprintf(why, len, "%s", perm[i].advice);
			return SSH_PERMANENT;
		}
	}
	if (status == 127 || status == 126) {
		snprintf(why, len, "the server could not run limpet (exit "
		    "%d): limpet --install puts it there, or give "
		    "--server-path", status);
		return SSH_PERMANENT;
	}
	snprintf(why, len, "ssh exited with status %d", status);
	return SSH_TEMPORARY;
}

/* True if ssh's stderr and exit status say the server has no limpet. */
int
ssh_not_installed(const char *err, int status)
{
	return (err != NULL && strstr(err, NOT_INSTALLED) != NULL) ||
	    status == 127;
}

/*
 * The last non-empty line of what ssh printed, control bytes dropped, in
 * out: what to show for a failure that is not one of the known ones.
 */
const char *
ssh_last_line(const char *err, char *out, size_t len)
{
	const char	*e = err + strlen(err), *b;
	size_t		 n = 0;

	while (e > err && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
		e--;
	for (b = e; b > err && b[-1] != '\n'; b--)
		;
	for (; b < e && n + 1 < len; b++) {
		if ((unsigned char)*b >= 0x20 && *b != 0x7f)
			out[n++] = *b;
	}
	if (len > 0)
		out[n] = '\0';
	return out;
}
