/*
 * Zero install: put a limpet on a server that has none (or an older one
 * in the place limpet installs to), over one ssh connection, never
 * without being asked (--install, or a yes at a prompt).
 *
 * The connection runs a small POSIX sh script (install_script) instead of
 * the relay.  It prints a marker line, the server's `uname -sm`, the
 * limpet the relay would run and that limpet's --version line, then
 * reads one line from us: "skip", or "put SIZE SHA256" followed by SIZE
 * bytes, which it writes to a temporary file beside the target, checks
 * with sha256sum (or shasum -a 256), makes executable and renames over
 * the target: a half-written or damaged upload never becomes limpet.
 *
 * The binaries this client can offer: limpet-<os>-<arch> (os and arch
 * from uname -s and -m, in lower case) in $LIMPET_SERVER_BINARIES, else
 * in ../lib/limpet beside the client's own executable (where make
 * install puts them); and the client itself when it is a static build
 * (make static) of the same os and architecture.  The checksum is
 * computed by the system's sha256sum or shasum: limpet writes no crypto.
 */
#include <sys/stat.h>
#include <sys/utsname.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-install.h"
#include "client-ssh.h"
#include "clock.h"
#include "err.h"
#include "proc.h"
#include "xmalloc.h"

#define INSTALL_MARK	"LIMPET-INSTALL 1"
#define INSTALL_WAIT_MS	(60 * 1000)
#define INSTALL_MAX	(64 * 1024 * 1024)	/* a server binary at most */

/*
 * $1 is the target ("" for ~/.local/bin/limpet).  The limpet it reports
 * is the one the relay command would run (client-ssh.c).
 */
static const char install_script[] =
"t=$1; d=$HOME/.local/bin/limpet; [ -n \"$t\" ] || t=$d; "
"if [ -n \"$1\" ]; then c=$1; "
"elif command -v limpet >/dev/null 2>&1; then c=$(command -v limpet); "
"elif [ -x \"$d\" ]; then c=$d; else c=; fi; "
"v=; if [ -n \"$c\" ] && [ -x \"$c\" ]; then "
"v=$(\"$c\" --version 2>/dev/null | head -n 1); else c=; fi; "
"printf '%s\\n%s\\n%s\\n%s\\n' '" INSTALL_MARK "' \"$(uname -sm)\" "
"\"$c\" \"$v\"; "
"read -r op n sum || exit 0; [ \"$op\" = put ] || exit 0; "
"p=${t%/*}; tmp=$p/.limpet-install.$$; "
"trap 'rm -f \"$tmp\"' EXIT; "
"mkdir -p \"$p\" || { echo 'FAIL cannot create the directory'; exit 1; }; "
"head -c \"$n\" > \"$tmp\" || { echo 'FAIL cannot write'; exit 1; }; "
"got=$( (sha256sum \"$tmp\" || shasum -a 256 \"$tmp\") 2>/dev/null | "
"cut -d ' ' -f 1); "
"if [ \"$got\" != \"$sum\" ]; then echo \"BAD $got\"; exit 1; fi; "
"chmod 755 \"$tmp\" && mv -f \"$tmp\" \"$t\" && trap - EXIT && "
"echo \"OK $t\"";

/* What the script reported. */
struct install_probe {
	char	os[64];		/* uname -s, lower case */
	char	arch[64];	/* uname -m */
	char	uname[128];	/* as printed */
	char	current[PATH_MAX];	/* the limpet the relay runs, or "" */
	char	version[128];	/* its --version line */
};

/* Lower-case copy. */
static void
install_lower(char *out, size_t len, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

/* "os-arch" of every limpet-os-arch in dir, comma-separated, in have. */
static void
install_list(const char *dir, char *have, size_t len)
{
	struct dirent	*de;
	DIR		*dp;
	size_t		 n;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, "limpet-", 7) != 0)
			continue;
		n = strlen(have);
		snprintf(have + n, len - n, "%s%s", n > 0 ? ", " : "",
		    de->d_name + 7);
	}
	closedir(dp);
}

/* The directory of server binaries; NULL if unknown. */
static char *
install_dir(void)
{
	const char	*env = getenv("LIMPET_SERVER_BINARIES");
	char		 self[PATH_MAX], *slash, *dir;
	ssize_t		 n;

	if (env != NULL && *env != '\0')
		return xstrdup(env);
	/* Where the executable is; only where /proc/self/exe exists. */
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return NULL;
	*slash = '\0';
	xasprintf(&dir, "%s/../lib/limpet", self);
	return dir;
}

/*
 * Find a server binary for os/arch: path of it in out.  have lists what
 * this client offers (for the message when there is none).  0 or
 * ERR_NOTFOUND.
 */
static int
install_find(const struct install_probe *pr, char *out, size_t len,
    char *have, size_t havelen)
{
	struct utsname	 u;
	struct stat	 sb;
	char		*dir, os[64], arch[64];
	const char	*sep = "";
	ssize_t		 n;
	int		 found = 0;

	*have = '\0';
	if ((dir = install_dir()) != NULL) {
		snprintf(out, len, "%s/limpet-%s-%s", dir, pr->os, pr->arch);
		if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode))
			found = 1;
		install_list(dir, have, havelen);
		free(dir);
	}
	if (found)
		return 0;
#ifdef LIMPET_STATIC
	if (uname(&u) == 0) {
		install_lower(os, sizeof os, u.sysname);
		install_lower(arch, sizeof arch, u.machine);
		if (*have != '\0')
			sep = ", ";
		snprintf(have + strlen(have), havelen - strlen(have),
		    "%s%s-%s (itself)", sep, os, arch);
		if (strcmp(os, pr->os) == 0 && strcmp(arch, pr->arch) == 0 &&
		    (n = readlink("/proc/self/exe", out, len - 1)) > 0) {
			out[n] = '\0';
			return 0;
		}
	}
#else
	(void)u;
	(void)os;
	(void)arch;
	(void)sep;
	(void)n;
#endif
	return ERR_NOTFOUND;
}

/* The sha256 of file path in hex, by the system's tool; 0 or an error. */
static int
install_sha256(const char *path, char *hex, size_t len)
{
	static const int	 how[3] = { PROC_NULL, PROC_PIPE, PROC_NULL };
	char			*tools[2][5] = {
		{ (char *)"sha256sum", (char *)path, NULL },
		{ (char *)"shasum", (char *)"-a", (char *)"256",
		    (char *)path, NULL }
	};
	struct proc		 p;
	char			 buf[256];
	ssize_t			 n;
	size_t			 got;
	int			 i;

	for (i = 0; i < 2; i++) {
		proc_init(&p);
		if (proc_spawn(&p, tools[i], how, 0) != 0)
			continue;
		got = 0;
		while (got + 1 < sizeof buf && (n = read(p.fd[1], buf + got,
		    sizeof buf - 1 - got)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			got += (size_t)n;
		}
		buf[got] = '\0';
		proc_stop(&p, 5000);
		if (p.status == 0 && strspn(buf, "0123456789abcdef") == 64) {
			snprintf(hex, len, "%.64s", buf);
			return 0;
		}
	}
	return ERR_SYSTEM;
}

/* Read the whole file at path (at most INSTALL_MAX); 0 or an error. */
static int
install_read(const char *path, struct buf *b)
{
	uint8_t	tmp[65536];
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return ERR_SYSTEM;
	while ((n = read(fd, tmp, sizeof tmp)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_put(b, tmp, (size_t)n) != 0) {
			close(fd);
			return ERR_SYSTEM;
		}
	}
	close(fd);
	return 0;
}

/* One install connection. */
struct install {
	const struct ssh_conf	*conf;
	struct ssh_proc		 proc;
	struct buf		 out;	/* what the script printed */
	struct buf		 tx;	/* to the script */
	char			 err[2048];
	size_t			 errlen;
	int			 eof;
};

/*
 * The n-th line (0: the marker) after the marker in what the script
 * printed, copied to line; 1 if it is there, else 0.  A login shell may
 * print before the script: the marker is looked for anywhere.
 */
static int
install_line(struct install *in, int n, char *line, size_t len)
{
	const char	*p = (const char *)buf_ptr(&in->out);
	const char	*end = p + buf_len(&in->out), *m, *nl;
	size_t		 mlen = strlen(INSTALL_MARK "\n");

	for (m = p; m + mlen <= end; m++)
		if ((m == p || m[-1] == '\n') &&
		    memcmp(m, INSTALL_MARK "\n", mlen) == 0)
			break;
	if (m + mlen > end)
		return 0;
	for (;;) {
		if ((nl = memchr(m, '\n', end - m)) == NULL)
			return 0;
		if (n-- == 0) {
			snprintf(line, len, "%.*s", (int)(nl - m), m);
			return 1;
		}
		m = nl + 1;
	}
}

/*
 * Run the connection until line n after the marker has arrived (or,
 * with n < 0, until the script ends); then 0, else an error.
 */
static int
install_wait(struct install *in, int n)
{
	struct pollfd	 pfd[3];
	uint8_t		 tmp[8192];
	uint64_t	 deadline = clock_ms() + INSTALL_WAIT_MS;
	char		 line[8];
	ssize_t		 got;

	while (!in->eof && (n < 0 || !install_line(in, n, line,
	    sizeof line))) {
		if (clock_ms() >= deadline)
			return ERR_EOF;
		pfd[0].fd = in->proc.out;
		pfd[0].events = POLLIN;
		pfd[1].fd = in->proc.err;
		pfd[1].events = POLLIN;
		pfd[2].fd = buf_len(&in->tx) > 0 ? in->proc.in : -1;
		pfd[2].events = POLLOUT;
		if (poll(pfd, 3, clock_timeout(clock_ms(), deadline, -1)) ==
		    -1 && errno != EINTR)
			return ERR_SYSTEM;
		if (pfd[2].revents & (POLLOUT | POLLERR | POLLHUP) &&
		    buf_write_fd(&in->tx, in->proc.in) == -1 &&
		    errno != EAGAIN && errno != EINTR)
			buf_reset(&in->tx);	/* gone: the reply says why */
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR) &&
		    (got = read(in->proc.err, tmp, sizeof tmp)) > 0 &&
		    in->errlen + 1 < sizeof in->err) {
			if ((size_t)got > sizeof in->err - 1 - in->errlen)
				got = sizeof in->err - 1 - in->errlen;
			memcpy(in->err + in->errlen, tmp, got);
			in->errlen += got;
			in->err[in->errlen] = '\0';
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			got = read(in->proc.out, tmp, sizeof tmp);
			if (got == 0 || (got < 0 && errno != EAGAIN &&
			    errno != EINTR))
				in->eof = 1;
			else if (got > 0 && buf_put(&in->out, tmp, got) != 0)
				return ERR_TOOBIG;
		}
	}
	return n < 0 || install_line(in, n, line, sizeof line) ? 0 :
	    ERR_EOF;
}

/* Parse what the script said about the server. */
static int
install_probe_parse(struct install *in, struct install_probe *pr)
{
	char	os[64] = "", arch[64] = "";

	memset(pr, 0, sizeof *pr);
	if (!install_line(in, 1, pr->uname, sizeof pr->uname) ||
	    !install_line(in, 2, pr->current, sizeof pr->current) ||
	    !install_line(in, 3, pr->version, sizeof pr->version))
		return ERR_FORMAT;
	if (sscanf(pr->uname, "%63s %63s", os, arch) != 2)
		return ERR_FORMAT;
	install_lower(pr->os, sizeof pr->os, os);
	install_lower(pr->arch, sizeof pr->arch, arch);
	return 0;
}

/*
 * Compare dotted versions a and b ("0.1.0"); <0, 0, >0.  A missing or
 * unparsable version counts as the oldest.
 */
static int
install_vercmp(const char *a, const char *b)
{
	unsigned long	x, y;
	char		*ea, *eb;

	for (;;) {
		x = strtoul(a, &ea, 10);
		y = strtoul(b, &eb, 10);
		if (ea == a || eb == b)
			return (ea != a) - (eb != b);
		if (x != y)
			return x < y ? -1 : 1;
		if (*ea != '.' || *eb != '.')
			return (*ea == '.') - (*eb == '.');
		a = ea + 1;
		b = eb + 1;
	}
}

/*
 * What to do about the limpet the server has: 1 install, 0 nothing, or
 * -1 (said why) when it is older but not ours to replace.
 */
static int
install_needed(const struct install *in, const struct install_probe *pr,
    const char *target)
{
	const char	*w = pr->version;
	char		 v[32];
	int		 cmp;

	if (*pr->current == '\0') {
		fprintf(stderr, "limpet: limpet is not installed on %s (%s)\n",
		    in->conf->dest, pr->uname);
		return 1;
	}
	/* "limpet 0.1.0 (protocol 2)": the version word. */
	if (strncmp(w, "limpet ", 7) == 0)
		w += 7;
	snprintf(v, sizeof v, "%.*s", (int)strcspn(w, " "), w);
	if ((cmp = install_vercmp(v, LIMPET_VERSION)) >= 0)
		return 0;
	if (*target != '\0' && strcmp(pr->current, target) != 0) {
		fprintf(stderr, "limpet: %s has limpet %.20s at %s, older than "
		    "this client's %s; it still works (the protocol is "
		    "negotiated); upgrade it there\n", in->conf->dest, v,
		    pr->current, LIMPET_VERSION);
		return 0;
	}
	fprintf(stderr, "limpet: %s has limpet %.20s, older than this "
	    "client's %s\n", in->conf->dest, *v != '\0' ? v : "(unknown)",
	    LIMPET_VERSION);
	return 1;
}

/* Queue "put SIZE SUM" and the binary at path; 0, or said why. */
static int
install_put(struct install *in, const char *path)
{
	struct buf	 bin;
	char		 sum[80], hdr[160];
	uint8_t		*p;
#ifdef LIMPET_TEST_HOOKS
	const char	*damage = getenv("LIMPET_TEST_INSTALL_DAMAGE");
#endif

	if (install_sha256(path, sum, sizeof sum) != 0) {
		fprintf(stderr, "limpet: cannot compute the sha256 of %s "
		    "(sha256sum or shasum is needed)\n", path);
		return -1;
	}
	buf_init(&bin, INSTALL_MAX);
	if (install_read(path, &bin) != 0 || buf_len(&bin) == 0) {
		fprintf(stderr, "limpet: cannot read %s\n", path);
		buf_free(&bin);
		return -1;
	}
#ifdef LIMPET_TEST_HOOKS
	/* Tests: damage the upload after the checksum was taken. */
	if (damage != NULL && *damage != '\0') {
		p = (uint8_t *)buf_ptr(&bin) + buf_len(&bin) / 2;
		*p ^= 0x55;
	}
#endif
	(void)p;
	snprintf(hdr, sizeof hdr, "put %zu %s\n", buf_len(&bin), sum);
	buf_put(&in->tx, hdr, strlen(hdr));
	buf_put(&in->tx, buf_ptr(&bin), buf_len(&bin));
	buf_free(&bin);
	return 0;
}

/* The script's verdict on the upload (line 4): 0, or said why. */
static int
install_verdict(struct install *in, const char *target)
{
	char	line[PATH_MAX + 8], safe[256];
	int	r;

	r = install_wait(in, 4);
	if (r == 0 && install_line(in, 4, line, sizeof line) &&
	    strncmp(line, "OK ", 3) == 0) {
		fprintf(stderr, "limpet: installed limpet %s on %s as %s "
		    "(sha256 checked)\n", LIMPET_VERSION, in->conf->dest,
		    line + 3);
		return 0;
	}
	if (r == 0 && strncmp(line, "BAD", 3) == 0) {
		fprintf(stderr, "limpet: the upload to %s arrived damaged "
		    "(sha256 mismatch); nothing was installed\n",
		    in->conf->dest);
		return -1;
	}
	ssh_last_line(r == 0 ? line : in->err, safe, sizeof safe);
	fprintf(stderr, "limpet: installing on %s into %s failed: %s\n",
	    in->conf->dest, *target != '\0' ? target : "~/.local/bin",
	    *safe != '\0' ? safe : "no answer");
	return -1;
}

/* Talk to the script: probe, decide, upload; 0 when limpet is there. */
static int
install_talk(struct install *in)
{
	struct install_probe	 pr;
	const char		*target = in->conf->server_path != NULL ?
				    in->conf->server_path : "";
	char			 path[PATH_MAX], have[512], safe[256];
	int			 need;

	if (install_wait(in, 3) != 0 || install_probe_parse(in, &pr) != 0) {
		ssh_last_line(in->err, safe, sizeof safe);
		fprintf(stderr, "limpet: cannot ask %s what it has: %s\n",
		    in->conf->dest, *safe != '\0' ? safe : "no answer");
		return -1;
	}
	if ((need = install_needed(in, &pr, target)) <= 0) {
		buf_put(&in->tx, "skip\n", 5);
		return 0;
	}
	if (install_find(&pr, path, sizeof path, have, sizeof have) != 0) {
		fprintf(stderr, "limpet: no limpet for %s to install on %s: "
		    "this client has %s (see LIMPET_SERVER_BINARIES in "
		    "limpet(1))\n", pr.uname, in->conf->dest,
		    *have != '\0' ? have : "none");
		buf_put(&in->tx, "skip\n", 5);
		return -1;
	}
	if (install_put(in, path) != 0) {
		buf_put(&in->tx, "skip\n", 5);
		return -1;
	}
	return install_verdict(in, target);
}

/*
 * Make sure the server has a usable limpet, installing ours over one ssh
 * connection if it has none (or an older one where we install).  Returns
 * 0, or -1 once it said why not.
 */
int
client_install(const struct ssh_conf *conf)
{
	struct ssh_conf	 c = *conf;
	struct install	 in;
	char		*q, *s, *cmd;
	int		 r;

	q = ssh_shell_quote(conf->server_path != NULL ? conf->server_path :
	    "");
	s = ssh_shell_quote(install_script);
	xasprintf(&cmd, "sh -c %s limpet %s", s, q);
	free(s);
	free(q);
	memset(&in, 0, sizeof in);
	in.conf = conf;
	c.command = cmd;
	buf_init(&in.out, 65536);
	buf_init(&in.tx, INSTALL_MAX + 256);
	if ((r = ssh_spawn(&c, &in.proc)) != 0) {
		fprintf(stderr, "limpet: cannot run %s: %s\n", c.prog,
		    err_str(r));
		r = -1;
	} else {
		r = install_talk(&in);
		/* Deliver "skip" or the rest, then let ssh leave. */
		while (buf_len(&in.tx) > 0 && install_wait(&in, -1) == 0 &&
		    !in.eof)
			;
		ssh_close(&in.proc, 5000);
	}
	buf_free(&in.out);
	buf_free(&in.tx);
	free(cmd);
	return r;
}

/*
 * After a first connection found no limpet on the server: ask on the
 * terminal whether to install it, if this client has a server binary
 * to offer at all.  1 for yes.
 */
int
client_install_ask(const struct ssh_conf *conf)
{
	char	line[64], have[512] = "", *dir;
	FILE	*tty;
	int	 yes;

	/* Offer only what we could deliver: some server binary. */
	if ((dir = install_dir()) != NULL) {
		install_list(dir, have, sizeof have);
		free(dir);
	}
#ifndef LIMPET_STATIC
	if (*have == '\0')
		return 0;
#endif
	if (!isatty(STDIN_FILENO) || (tty = fopen("/dev/tty", "r+e")) ==
	    NULL)
		return 0;
	fprintf(tty, "limpet: install limpet %s on %s (into %s) over ssh? "
	    "[y/N] ", LIMPET_VERSION, conf->dest,
	    conf->server_path != NULL ? conf->server_path : "~/.local/bin");
	fflush(tty);
	yes = fgets(line, sizeof line, tty) != NULL &&
	    (line[0] == 'y' || line[0] == 'Y');
	fclose(tty);
	return yes;
}
