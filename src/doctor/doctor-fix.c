/*
 * limpet doctor --fix.  The checks plan edits while they build the report,
 * so the report shows the exact lines; --fix shows them again, asks, and
 * applies them: local files directly, the server's files through one ssh
 * running a sh script on its stdin.  Every edited file gets a backup
 * first; an edit only applies if the line still reads as planned, so a
 * second run finds nothing left to do and changes nothing.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "compat.h"
#include "buf.h"
#include "doctor-client.h"
#include "doctor-ctx.h"
#include "doctor-fix.h"
#include "doctor-proc.h"
#include "err.h"
#include "xmalloc.h"

#define FIX_MARK	"  # disabled by limpet doctor"

/* Plan one edit. */
void
doctor_fix_add(struct doctor_edits *es, const char *file, int remote,
    int kind, int line, const char *old, const char *text)
{
	struct doctor_edit	*e;
	int			 i;

	for (i = 0; i < es->n; i++) {
		e = &es->e[i];
		if (strcmp(e->file, file) == 0 && e->remote == remote &&
		    e->kind == kind && e->line == line)
			return;		/* planned twice by two findings */
	}
	es->e = xreallocarray(es->e, es->n + 1, sizeof *es->e);
	e = &es->e[es->n++];
	e->file = xstrdup(file);
	e->remote = remote;
	e->kind = kind;
	e->line = line;
	e->old = old != NULL ? xstrdup(old) : NULL;
	e->text = text != NULL ? xstrdup(text) : NULL;
}

/* Free the plan. */
void
doctor_fix_free(struct doctor_edits *es)
{
	int	i;

	for (i = 0; i < es->n; i++) {
		free(es->e[i].file);
		free(es->e[i].old);
		free(es->e[i].text);
	}
	free(es->e);
	es->e = NULL;
	es->n = 0;
}

/*
 * The real path of a local file, following every symlink, as a new
 * string; for a file that does not exist yet (or a dangling symlink),
 * the real path it would have.  NULL if it cannot be resolved.
 */
static char *
doctor_fix_resolve(const char *path, int depth)
{
	struct stat	 st;
	char		*r, *dir, *slash, *t, *parent, link[4096];
	const char	*base;
	ssize_t		 n;

	if ((r = realpath(path, NULL)) != NULL)
		return r;
	if (errno != ENOENT || depth > 40)
		return NULL;
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		base = slash + 1;
	} else
		base = path;
	r = NULL;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		/* Dangling: where it points, relative to its directory. */
		if ((n = readlink(path, link, sizeof link - 1)) > 0) {
			link[n] = '\0';
			if (link[0] == '/' || slash == NULL)
				t = xstrdup(link);
			else
				xasprintf(&t, "%s/%s", dir, link);
			r = doctor_fix_resolve(t, depth + 1);
			free(t);
		}
	} else if (*base != '\0' && strcmp(base, ".") != 0 &&
	    strcmp(base, "..") != 0) {
		/* Missing: its directory's real path, and its name. */
		parent = doctor_fix_resolve(slash == NULL ? "." : *dir == '\0' ?
		    "/" : dir, depth + 1);
		if (parent != NULL)
			xasprintf(&r, "%s/%s", strcmp(parent, "/") == 0 ? "" :
			    parent, base);
		free(parent);
	}
	free(dir);
	return r;
}

/* True if real path p is inside real directory d. */
static int
doctor_fix_inside(const char *p, const char *d)
{
	size_t	len = strlen(d);

	return len > 1 && strncmp(p, d, len) == 0 && p[len] == '/';
}

/*
 * True if a local file is the user's to edit: under the home directory
 * (both resolved first, so neither `..` nor a symlink leads out of it),
 * the config given with -F, or owned by a user who is not root.
 */
int
doctor_fix_is_user_file(const struct doctor_ctx *ctx, const char *path)
{
	struct stat	 st;
	char		*real, *home;
	int		 in = 0;

	if (strcmp(path, CMDLINE_FILE) == 0)
		return 0;
	real = doctor_fix_resolve(path, 0);
	home = realpath(ctx->home, NULL);
	if (real != NULL && home != NULL)
		in = doctor_fix_inside(real, home);
	free(home);
	if (in || (ctx->userconf != NULL && strcmp(path, ctx->userconf) == 0))
		in = 1;
	else if (real != NULL && stat(real, &st) == 0 &&
	    st.st_uid == getuid() && getuid() != 0)
		in = 1;
	free(real);
	return in;
}

/* The leading blanks of s, as a new string. */
static char *
doctor_fix_indent(const char *s)
{
	size_t	n = strspn(s, " \t");
	char	*out = xmalloc(n + 1);

	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

/*
 * Find, in the user's main config file, the first Host block written for
 * this host (not one for every host): its line number and the indentation
 * of its first keyword line; 0 if there is none.
 */
static int
doctor_fix_host_block(const struct doctor_ctx *ctx, char **indent)
{
	FILE	*fp;
	char	*line = NULL, *s, *key;
	size_t	 cap = 0;
	int	 n = 0, found = 0, generic;

	*indent = NULL;
	if ((fp = fopen(ctx->userconf, "re")) == NULL)
		return 0;
	while (getline(&line, &cap, fp) != -1) {
		n++;
		line[strcspn(line, "\r\n")] = '\0';
		s = line + strspn(line, " \t");
		if (found) {
			if (*s != '\0' && *s != '#') {
				*indent = doctor_fix_indent(line);
				break;
			}
			continue;
		}
		key = s;
		s += strcspn(s, " \t=");
		if (*s == '\0')
			continue;
		*s++ = '\0';
		s += strspn(s, " \t=");
		if (strcasecmp(key, "host") == 0 &&
		    sshconf_host_line(ctx->host, s, &generic) && !generic)
			found = n;
	}
	free(line);
	fclose(fp);
	if (found && (*indent == NULL || **indent == '\0')) {
		free(*indent);
		*indent = xstrdup("    ");
	}
	return found;
}

/*
 * Plan the keepalive fix: ServerAliveInterval want, in the line that
 * wins now if it is the user's, else in the user's Host block for this
 * host (never below a line that already wins), else in a new block.  The
 * text for the report goes to *fix and the file to *fixfile.
 */
int
doctor_fix_plan_alive(struct doctor_ctx *ctx, long want, char **fix,
    char **fixfile)
{
	const struct sshconf_val	*w;
	char				*old, *ind, *text;
	int				 line;

	*fix = *fixfile = NULL;
	w = sshconf_get(&ctx->client, "serveraliveinterval");
	if (w != NULL && strcmp(w->file, CMDLINE_FILE) == 0) {
		xasprintf(fix, "Leave out -o ServerAliveInterval=%s, or give "
		    "-o ServerAliveInterval=%ld.", w->value, want);
		return 0;
	}
	if (ctx->noconf) {
		xasprintf(fix, "Give -o ServerAliveInterval=%ld (you run ssh "
		    "with -F none).", want);
		return 0;
	}
	if (w != NULL && doctor_fix_is_user_file(ctx, w->file) &&
	    (old = doctor_client_line(w->file, w->line)) != NULL) {
		ind = doctor_fix_indent(old);
		xasprintf(&text, "%sServerAliveInterval %ld\n", ind, want);
		doctor_fix_add(&ctx->fixes, w->file, 0, EDIT_REPLACE, w->line,
		    old, text);
		xasprintf(fix, "Change line %d (it wins for this host%s):\n"
		    "    %s\nto:\n    %s", w->line, w->generic ? ", and "
		    "for every other host it covers" : "", old + strlen(ind),
		    text + strlen(ind));
		(*fix)[strlen(*fix) - 1] = '\0';
		*fixfile = xstrdup(w->file);
		free(ind);
		free(old);
		free(text);
		return 0;
	}
	/* No line of the user's sets it: any line of theirs wins. */
	*fixfile = xstrdup(ctx->userconf);
	if ((line = doctor_fix_host_block(ctx, &ind)) > 0) {
		xasprintf(&text, "%sServerAliveInterval %ld\n", ind, want);
		doctor_fix_add(&ctx->fixes, ctx->userconf, 0, EDIT_INSERT,
		    line, NULL, text);
		xasprintf(fix, "Add to the Host block at line %d:\n    "
		    "ServerAliveInterval %ld", line, want);
		free(text);
		free(ind);
		return 0;
	}
	free(ind);
	xasprintf(&text, "\nHost %s\n    ServerAliveInterval %ld\n",
	    ctx->host, want);
	doctor_fix_add(&ctx->fixes, ctx->userconf, 0, EDIT_APPEND, 0, NULL,
	    text);
	xasprintf(fix, "Add at the end:\n    Host %s\n        "
	    "ServerAliveInterval %ld", ctx->host, want);
	free(text);
	return 0;
}

/* Describe an edit for the user, as a new string. */
char *
doctor_fix_describe(const struct doctor_edit *e)
{
	char		*s = NULL;
	const char	*where = e->remote ? " (on the server)" : "";

	switch (e->kind) {
	case EDIT_REPLACE:
		xasprintf(&s, "%s%s line %d:\n  - %s\n  + %.*s", e->file,
		    where, e->line, e->old, (int)strcspn(e->text, "\n"),
		    e->text);
		break;
	case EDIT_INSERT:
		xasprintf(&s, "%s%s after line %d:\n  + %.*s", e->file, where,
		    e->line, (int)strcspn(e->text, "\n"), e->text);
		break;
	case EDIT_APPEND:
		xasprintf(&s, "%s%s at the end:\n  + %s", e->file, where,
		    e->text + strspn(e->text, "\n"));
		if (s[strlen(s) - 1] == '\n')
			s[strlen(s) - 1] = '\0';
		break;
	default:
		xasprintf(&s, "%s%s line %d:\n  - %s\n  + # %s%s", e->file,
		    where, e->line, e->old, e->old, FIX_MARK);
		break;
	}
	return s;
}

/* Read a whole local file into b; a missing file is empty. */
static int
doctor_fix_slurp(const char *path, struct buf *b, int *exists)
{
	int	fd;
	ssize_t	n;

	*exists = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : ERR_SYSTEM;
	*exists = 1;
	while ((n = buf_read_fd(b, fd, 65536)) > 0)
		;
	close(fd);
	return n == 0 ? 0 : ERR_SYSTEM;
}

/* A backup name next to path that does not exist yet. */
static char *
doctor_fix_backup_name(const char *path)
{
	char		*b;
	struct stat	 st;
	int		 i;

	xasprintf(&b, "%s.limpet-doctor.bak", path);
	for (i = 1; lstat(b, &st) == 0; i++) {
		free(b);
		xasprintf(&b, "%s.limpet-doctor.bak.%d", path, i);
	}
	return b;
}

/* Make the rename of a file in dir durable. */
static void
doctor_fix_sync_dir(const char *dir)
{
	int	fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(fd);
		close(fd);
	}
}

/*
 * Write data to path (a real path, no symlink) so that it is either the
 * old file or the whole new one: a temporary file in the same directory,
 * with like's mode and owner (or 0600 and ours), synced, renamed over.
 */
static int
doctor_fix_write(const char *path, const char *data, size_t len,
    const struct stat *like)
{
	char		*tmp, *dir, *slash;
	int		 fd, e;
	size_t		 off = 0;
	ssize_t		 n;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	xasprintf(&tmp, "%s/.limpet-doctor.XXXXXX", slash != NULL ?
	    (*dir != '\0' ? dir : "/") : ".");
	/* mkstemp, not mkostemp: POSIX.1-2008 has only the former. */
	if ((fd = mkstemp(tmp)) == -1)
		goto fail;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	while (off < len) {
		if ((n = write(fd, data + off, len - off)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			if (n == 0)
				errno = ENOSPC;
			goto fail_fd;
		}
		off += n;
	}
	if (fchmod(fd, like != NULL ? like->st_mode & 07777 : 0600) != 0)
		goto fail_fd;
	/* Keep the owner; only a different group may be out of reach. */
	if (like != NULL && fchown(fd, like->st_uid, like->st_gid) != 0 &&
	    like->st_uid != geteuid())
		goto fail_fd;
	if (fsync(fd) != 0)
		goto fail_fd;
	if (close(fd) != 0) {
		fd = -1;
		goto fail_fd;
	}
	if (rename(tmp, path) != 0) {
		fd = -1;
		goto fail_fd;
	}
	doctor_fix_sync_dir(slash != NULL ? (*dir != '\0' ? dir : "/") : ".");
	free(tmp);
	free(dir);
	return 0;
fail_fd:
	e = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = e;
fail:
	free(tmp);
	free(dir);
	return ERR_SYSTEM;
}

/*
 * The new text of a file: its old text in (exists: the file exists) with
 * edit e applied, into out.  0, or an error with the reason in why.
 */
static int
doctor_fix_edit(const struct doctor_edit *e, const char *file,
    struct buf *in, int exists, struct buf *out, char *why, size_t whylen)
{
	const char	*p, *end, *nl;
	size_t		 len, skip;
	int		 n = 0, done = 0;

	/* An empty buffer may have no storage: NULL + 0 is undefined. */
	p = buf_len(in) > 0 ? (const char *)buf_ptr(in) : "";
	end = p + buf_len(in);
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		n++;
		if (n == e->line && (e->kind == EDIT_REPLACE ||
		    e->kind == EDIT_COMMENT)) {
			if (len != strlen(e->old) ||
			    memcmp(p, e->old, len) != 0) {
				snprintf(why, whylen, "%s line %d changed",
				    file, n);
				return ERR_EXISTS;
			}
			if (e->kind == EDIT_REPLACE)
				buf_put(out, e->text, strlen(e->text));
			else {
				buf_put(out, "# ", 2);
				buf_put(out, p, len);
				buf_put(out, FIX_MARK "\n",
				    strlen(FIX_MARK) + 1);
			}
			done = 1;
		} else {
			buf_put(out, p, len);
			buf_put(out, "\n", 1);
		}
		if (n == e->line && e->kind == EDIT_INSERT) {
			buf_put(out, e->text, strlen(e->text));
			done = 1;
		}
		p += len + (nl != NULL);
	}
	if (e->kind == EDIT_APPEND) {
		/* The blank line before a new block only after text. */
		skip = exists && buf_len(in) > 0 ? 0 : strspn(e->text, "\n");
		buf_put(out, e->text + skip, strlen(e->text) - skip);
		done = 1;
	}
	if (!done) {
		snprintf(why, whylen, "%s has no line %d", file, e->line);
		return ERR_NOTFOUND;
	}
	return 0;
}

/*
 * Apply one local edit, with a backup of the old file.  A symlink is
 * followed: its target changes and the link stays.  Fills why (also on
 * success); ERR_EXISTS means the file changed since it was checked.
 */
int
doctor_fix_local(const struct doctor_edit *e, char *why, size_t whylen)
{
	struct buf	 in, out;
	struct stat	 st;
	char		*bak = NULL, *real, *dir, *slash, via[512];
	int		 exists, r;

	buf_init(&in, 0);
	buf_init(&out, 0);
	if ((real = doctor_fix_resolve(e->file, 0)) == NULL) {
		snprintf(why, whylen, "cannot resolve %s: %s", e->file,
		    strerror(errno));
		return ERR_SYSTEM;
	}
	via[0] = '\0';
	if (strcmp(real, e->file) != 0)
		snprintf(via, sizeof via, ", through %s", e->file);
	if ((r = doctor_fix_slurp(real, &in, &exists)) != 0 ||
	    (exists && stat(real, &st) != 0)) {
		snprintf(why, whylen, "cannot read %s: %s", real,
		    strerror(errno));
		r = ERR_SYSTEM;
		goto out;
	}
	if (!exists && e->kind != EDIT_APPEND) {
		snprintf(why, whylen, "%s is gone", real);
		r = ERR_NOTFOUND;
		goto out;
	}
	if ((r = doctor_fix_edit(e, real, &in, exists, &out, why,
	    whylen)) != 0)
		goto out;
	if (exists) {
		bak = doctor_fix_backup_name(real);
		if ((r = doctor_fix_write(bak, (const char *)buf_ptr(&in),
		    buf_len(&in), &st)) != 0) {
			snprintf(why, whylen, "cannot write %s: %s", bak,
			    strerror(errno));
			goto out;
		}
	} else {
		dir = xstrdup(real);
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
			*slash = '\0';
			mkdir(dir, 0700);
		}
		free(dir);
	}
	if ((r = doctor_fix_write(real, (const char *)buf_ptr(&out),
	    buf_len(&out), exists ? &st : NULL)) != 0) {
		snprintf(why, whylen, "cannot write %s: %s", real,
		    strerror(errno));
		goto out;
	}
	if (bak != NULL)
		snprintf(why, whylen, "changed %s%s (backup: %s)", real, via,
		    bak);
	else
		snprintf(why, whylen, "created %s%s", real, via);
out:
	free(real);
	free(bak);
	buf_free(&in);
	buf_free(&out);
	return r;
}

/* Append s to b as a single-quoted sh word. */
static void
doctor_fix_quote(struct buf *b, const char *s)
{
	buf_put(b, "'", 1);
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			buf_put(b, "'\\''", 4);
		else
			buf_put(b, s, 1);
	}
	buf_put(b, "'", 1);
}

/*
 * The sh function the remote edit script uses for every line.  As on the
 * client: a symlink's target is edited (the link stays), the path is
 * resolved before the "your home" test, and the new file is written next
 * to the old one with its mode and owner, synced, then renamed over it,
 * so an interruption or a full disk leaves the old file whole.
 */
static const char remote_fix_fn[] =
"home=$(cd && pwd -P)\n"
"fix() {\n"
"  f=$1; n=$2; old=$3\n"
"  r=$(readlink -f -- \"$f\") && [ -n \"$r\" ] && f=$r\n"
"  if [ ! -f \"$f\" ] || [ ! -w \"$f\" ]; then\n"
"    echo \"@fail $f: not a file you may write\"; return; fi\n"
"  if [ \"$sys\" = 0 ]; then\n"
"    [ -O \"$f\" ] || { echo \"@fail $f: not your file\"; return; }\n"
"    case $f in \"$home\"/*) ;; *)\n"
"      echo \"@fail $f: not in your home directory\"; return;; esac\n"
"  fi\n"
"  cur=$(sed -n \"${n}p\" \"$f\")\n"
"  if [ \"$cur\" != \"$old\" ]; then\n"
"    echo \"@fail $f line $n changed\"; return; fi\n"
"  b=\"$f.limpet-doctor.bak\"; i=0\n"
"  while [ -e \"$b\" ]; do i=$((i+1)); b=\"$f.limpet-doctor.bak.$i\"; done\n"
"  cp -p \"$f\" \"$b\" || { echo \"@fail $f: no backup\"; return; }\n"
"  t=$(mktemp \"${f%/*}/.limpet-doctor.XXXXXX\") ||\n"
"    { echo \"@fail $f: no temporary file\"; return; }\n"
"  if awk -v n=\"$n\" -v m=\"" FIX_MARK "\" "
"'NR == n { print \"# \" $0 m; next } { print }' \"$f\" > \"$t\" &&\n"
"    chmod --reference=\"$f\" \"$t\" &&\n"
"    { chown --reference=\"$f\" \"$t\" 2>/dev/null ||"
" [ \"$(id -u)\" != 0 ]; } &&\n"
"    { sync \"$t\" 2>/dev/null || sync; } && mv -f \"$t\" \"$f\"; then\n"
"    echo \"@done changed $f line $n on the server (backup: $b)\"\n"
"  else\n"
"    rm -f \"$t\"; echo \"@fail $f: write failed\"\n"
"  fi\n"
"}\n";

static int doctor_fix_allowed(const struct doctor_ctx *,
    const struct doctor_edit *);

/*
 * Apply the remote edits (comment out lines) through one ssh.  Edits of
 * one file go from the last line up, so line numbers stay right.
 */
static int
doctor_fix_remote(struct doctor_ctx *ctx, FILE *out, int *ok, int *failed)
{
	static const char *const extra[] = { "-T" };
	struct buf		 sc;
	struct doctor_proc	 p;
	char			**argv, *text, *line, *s, num[32];
	int			 i, j, best, r, *order, sys;

	buf_init(&sc, 0);
	sys = ctx->system ? 1 : 0;
	snprintf(num, sizeof num, "sys=%d\n", sys);
	buf_put(&sc, num, strlen(num));
	buf_put(&sc, remote_fix_fn, strlen(remote_fix_fn));
	order = xcalloc(ctx->fixes.n + 1, sizeof *order);
	for (i = 0; i < ctx->fixes.n; i++) {
		/* Pick the unsent remote edit with the highest line. */
		best = -1;
		for (j = 0; j < ctx->fixes.n; j++) {
			if (!ctx->fixes.e[j].remote || order[j] ||
			    !doctor_fix_allowed(ctx, &ctx->fixes.e[j]))
				continue;
			if (best == -1 || ctx->fixes.e[j].line >
			    ctx->fixes.e[best].line)
				best = j;
		}
		if (best == -1)
			break;
		order[best] = 1;
		buf_put(&sc, "fix ", 4);
		doctor_fix_quote(&sc, ctx->fixes.e[best].file);
		snprintf(num, sizeof num, " %d ", ctx->fixes.e[best].line);
		buf_put(&sc, num, strlen(num));
		doctor_fix_quote(&sc, ctx->fixes.e[best].old);
		buf_put(&sc, "\n", 1);
	}
	free(order);
	argv = doctor_ssh_argv(ctx, NULL, extra, 1, 1);
	i = 0;
	while (argv[i] != NULL)
		i++;
	argv = xreallocarray(argv, i + 4, sizeof *argv);
	argv[i++] = xstrdup("sh");
	argv[i++] = xstrdup("-s");
	argv[i] = NULL;
	r = doctor_proc_run(argv, (const char *)buf_ptr(&sc), buf_len(&sc),
	    60000, &p);
	doctor_argv_free(argv);
	buf_free(&sc);
	if (r != 0)
		return r;
	text = doctor_proc_text(&p.out);
	s = text;
	while ((line = strsep(&s, "\n")) != NULL) {
		if (strncmp(line, "@done ", 6) == 0) {
			fprintf(out, "  %s\n", line + 6);
			(*ok)++;
		} else if (strncmp(line, "@fail ", 6) == 0) {
			fprintf(out, "  not changed: %s\n", line + 6);
			(*failed)++;
		}
	}
	free(text);
	doctor_proc_free(&p);
	return 0;
}

/* Ask the user a yes/no question on the terminal; -1 if there is none. */
static int
doctor_fix_ask(const char *q)
{
	FILE	*tty;
	char	 ans[16];
	int	 yes = 0;

	if ((tty = fopen("/dev/tty", "r+e")) == NULL)
		return -1;
	fprintf(tty, "%s [y/N] ", q);
	fflush(tty);
	if (fgets(ans, sizeof ans, tty) != NULL)
		yes = ans[0] == 'y' || ans[0] == 'Y';
	fclose(tty);
	return yes;
}

/*
 * True if this edit is allowed: the user's own files always; system
 * files only with --system as root (here or on the server).
 */
static int
doctor_fix_allowed(const struct doctor_ctx *ctx, const struct doctor_edit *e)
{
	const char	*home, *uid;
	size_t		 len;

	if (!e->remote)
		return doctor_fix_is_user_file(ctx, e->file) ||
		    (ctx->system && getuid() == 0);
	home = doctor_kv_get(ctx->remote.kv, ctx->remote.nkv, "home");
	uid = doctor_kv_get(ctx->remote.kv, ctx->remote.nkv, "uid");
	/* No `..` may lead out (the server resolves symlinks itself). */
	if (home != NULL && (len = strlen(home)) > 1 &&
	    strncmp(e->file, home, len) == 0 && e->file[len] == '/' &&
	    strstr(e->file + len, "/../") == NULL &&
	    strcmp(e->file + strlen(e->file) - 3, "/..") != 0)
		return 1;
	return ctx->system && uid != NULL && strcmp(uid, "0") == 0;
}

/*
 * --fix: show the planned edits that are the user's to make, ask (unless
 * --yes), apply them.  Returns 0, or 1 if some could not be applied.
 */
int
doctor_fix_run(struct doctor_ctx *ctx, struct doctor_edits *es)
{
	FILE	*out = ctx->json ? stderr : stdout;
	char	*d, why[512];
	int	 i, n = 0, ok = 0, failed = 0, remote = 0, best, *done, adm = 0;

	for (i = 0; i < es->n; i++) {
		if (doctor_fix_allowed(ctx, &es->e[i]))
			continue;
		if (!adm++)
			fprintf(out, "\nFor the admin (doctor leaves these "
			    "alone%s)\n", ctx->system ? "" : "; as root, "
			    "--system applies them");
		d = doctor_fix_describe(&es->e[i]);
		fprintf(out, "  %s\n", d);
		free(d);
	}
	fprintf(out, "\nFixes\n");
	for (i = 0; i < es->n; i++) {
		if (!doctor_fix_allowed(ctx, &es->e[i]))
			continue;
		d = doctor_fix_describe(&es->e[i]);
		fprintf(out, "  %s\n", d);
		free(d);
		n++;
	}
	if (n == 0) {
		fprintf(out, "  nothing for you to change: the remaining "
		    "findings (if any) name who can fix them\n");
		return 0;
	}
	fflush(out);
	if (!ctx->yes && (best = doctor_fix_ask("Apply these changes?")) != 1) {
		fprintf(out, "  nothing changed%s\n", best == -1 ? " (no "
		    "terminal to ask on: --yes applies them)" : "");
		return 0;
	}
	/* Local edits: one file at a time, from its last line up. */
	done = xcalloc(es->n + 1, sizeof *done);
	for (;;) {
		best = -1;
		for (i = 0; i < es->n; i++) {
			if (es->e[i].remote || done[i] ||
			    !doctor_fix_allowed(ctx, &es->e[i]))
				continue;
			if (best == -1 || es->e[i].line > es->e[best].line)
				best = i;
		}
		if (best == -1)
			break;
		done[best] = 1;
		if (doctor_fix_local(&es->e[best], why, sizeof why) == 0)
			ok++;
		else
			failed++;
		fprintf(out, "  %s\n", why);
	}
	free(done);
	for (i = 0; i < es->n; i++)
		if (es->e[i].remote && doctor_fix_allowed(ctx, &es->e[i]))
			remote = 1;
	if (remote && doctor_fix_remote(ctx, out, &ok, &failed) != 0) {
		fprintf(out, "  could not reach the server to apply its "
		    "changes\n");
		failed++;
	}
	fprintf(out, "  %d change%s applied%s\n", ok, ok == 1 ? "" : "s",
	    failed ? ", some failed" : "");
	return failed ? 1 : 0;
}
