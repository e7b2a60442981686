/*
 * limpet doctor: the login shell's auto-logout (bash, zsh, ksh, mksh
 * TMOUT; tcsh autologout).  The server ran the user's real login shell as
 * an interactive login shell with tracing on, so the trace names the file
 * and line of every TMOUT assignment in the order the shell read them;
 * when the trace has no file names (bash ignores an inherited PS4 for
 * root, ksh has none), the grep of the usual startup files stands in.
 * No keepalive can stop TMOUT: it counts time at the prompt without a
 * line typed, so it ends limpet sessions too.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "doctor-ctx.h"
#include "doctor-fix.h"
#include "doctor-remote.h"
#include "doctor-server.h"
#include "xmalloc.h"

/* Where TMOUT was assigned: file, line, the text that did it. */
struct shell_set {
	char	*file;
	int	 line;
	char	*text;
	int	 readonly;
};

/* True if text assigns TMOUT (TMOUT=, declare -r TMOUT=, export TMOUT=). */
static int
doctor_shell_assigns(const char *text)
{
	const char	*p = text;

	while ((p = strstr(p, "TMOUT=")) != NULL) {
		if (p == text || !(isalnum((unsigned char)p[-1]) ||
		    p[-1] == '_'))
			return 1;
		p++;
	}
	return 0;
}

/* True if text makes TMOUT read-only. */
static int
doctor_shell_readonly(const char *text)
{
	const char	*p = text + strspn(text, " \t");

	if (strstr(p, "TMOUT") == NULL)
		return 0;
	return strncmp(p, "readonly", 8) == 0 ||
	    strncmp(p, "declare -r", 10) == 0 ||
	    strncmp(p, "declare -xr", 11) == 0 ||
	    strncmp(p, "declare -rx", 11) == 0 ||
	    strncmp(p, "typeset -r", 10) == 0 ||
	    strncmp(p, "typeset -xr", 11) == 0 ||
	    strncmp(p, "typeset -rx", 11) == 0;
}

/*
 * Parse one trace line: "+@FILE:LINE: TEXT" (bash with our PS4) or
 * "+FILE:LINE> TEXT" (zsh).  Returns 1 and fills s (strings new).
 */
static int
doctor_shell_trace_line(const char *l, struct shell_set *s)
{
	const char	*p = l, *colon, *text;
	char		*end;
	long		 n;

	while (*p == '+')
		p++;
	if (p == l)
		return 0;
	if (*p == '@')
		p++;
	if (*p != '/')
		return 0;
	for (colon = strchr(p, ':'); colon != NULL;
	    colon = strchr(colon + 1, ':')) {
		n = strtol(colon + 1, &end, 10);
		if (end == colon + 1)
			continue;
		if ((end[0] == ':' && end[1] == ' ') ||
		    (end[0] == '>' && end[1] == ' ')) {
			text = end + 2;
			s->file = strndup(p, colon - p);
			s->line = (int)n;
			s->text = xstrdup(text);
			s->readonly = doctor_shell_readonly(text);
			return 1;
		}
	}
	return 0;
}

/* Parse a grep line "FILE:LINE:TEXT" into s; comments are skipped. */
static int
doctor_shell_grep_line(const char *l, struct shell_set *s)
{
	const char	*colon, *text;
	char		*end;
	long		 n;

	for (colon = strchr(l, ':'); colon != NULL;
	    colon = strchr(colon + 1, ':')) {
		n = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || *end != ':')
			continue;
		text = end + 1;
		if (text[strspn(text, " \t")] == '#')
			return 0;
		s->file = strndup(l, colon - l);
		s->line = (int)n;
		s->text = xstrdup(text);
		s->readonly = doctor_shell_readonly(text);
		return 1;
	}
	return 0;
}

/* True if the server said it owns path. */
static int
doctor_shell_owned(const struct doctor_ctx *ctx, const char *path)
{
	int	i;

	for (i = 0; i < ctx->remote.nkv; i++)
		if (strcmp(ctx->remote.kv[i].key, "own") == 0 &&
		    strcmp(ctx->remote.kv[i].value, path) == 0)
			return 1;
	return 0;
}

/* The exact text of line n of a server file, from the grep, or NULL. */
static char *
doctor_shell_exact(const struct doctor_ctx *ctx, const char *file, int n)
{
	struct shell_set	s;
	char			*text = NULL;
	int			 i;

	for (i = 0; i < ctx->remote.nkv && text == NULL; i++) {
		if (strcmp(ctx->remote.kv[i].key, "grep") != 0)
			continue;
		memset(&s, 0, sizeof s);
		if (!doctor_shell_grep_line(ctx->remote.kv[i].value, &s))
			continue;
		if (strcmp(s.file, file) == 0 && s.line == n)
			text = xstrdup(s.text);
		free(s.file);
		free(s.text);
	}
	return text;
}

/*
 * tcsh: the last "set autologout" line of the startup files names the
 * file; the user's own line gets a fix, a system file is the admin's.
 */
static void
doctor_shell_csh_where(struct doctor_ctx *ctx, struct doctor_finding *f)
{
	struct shell_set	s, last;
	int			i;

	memset(&last, 0, sizeof last);
	for (i = 0; i < ctx->remote.nkv; i++) {
		if (strcmp(ctx->remote.kv[i].key, "grep") != 0 ||
		    !doctor_shell_grep_line(ctx->remote.kv[i].value, &s))
			continue;
		if (strstr(s.text, "autologout") != NULL &&
		    strstr(s.text, "set") != NULL) {
			free(last.file);
			free(last.text);
			last = s;
		} else {
			free(s.file);
			free(s.text);
		}
	}
	if (last.file == NULL)
		return;
	doctor_report_where(f, last.file, last.line);
	doctor_report_set(&f->fixfile, "%s", last.file);
	if (doctor_server_in_home(ctx, last.file) &&
	    doctor_shell_owned(ctx, last.file)) {
		f->fixby = FIXBY_USER;
		doctor_fix_add(&ctx->fixes, last.file, 1, EDIT_COMMENT,
		    last.line, last.text, NULL);
		doctor_report_set(&f->fix, "Comment out line %d:\n    # %s",
		    last.line, last.text);
	} else {
		f->fixby = FIXBY_ADMIN;
		doctor_report_set(&f->fix, "This is the admin's setting (%s "
		    "line %d): only the admin can change it.", last.file,
		    last.line);
	}
	free(last.file);
	free(last.text);
}

/* What the login shell's trace and the grep say about TMOUT. */
struct shell_scan {
	struct shell_set	 sets[64];
	int			 n;
	int			 traced;	/* sets come from the trace */
	char			 value[64];	/* TMOUT's value, or "" */
	int			 autologout;	/* csh's, or -1 */
	int			 trap;		/* zsh has a TRAPALRM */
	int			 readonly;
	struct shell_set	*last;		/* the assignment in force */
	struct shell_set	*ro;		/* the one making it read-only */
	int			 sysset;	/* one is outside the home */
};

/* Keep s if it assigns TMOUT or makes it read-only, else free it. */
static void
doctor_shell_keep(struct shell_scan *sc, struct shell_set *s, int need)
{
	if (sc->n < 64 && (doctor_shell_assigns(s->text) || s->readonly) &&
	    (!need || strstr(s->text, "TMOUT") != NULL)) {
		sc->sets[sc->n++] = *s;
		return;
	}
	free(s->file);
	free(s->text);
}

/* Read the login shell's trace (its @ lines and set -x lines). */
static void
doctor_shell_trace(struct doctor_ctx *ctx, struct shell_scan *sc)
{
	struct shell_set	 s;
	char			*trace, *p, *l;

	trace = xstrdup(ctx->remote.shell_trace != NULL ?
	    ctx->remote.shell_trace : "");
	for (p = trace; (l = strsep(&p, "\n")) != NULL;) {
		if (strncmp(l, "@tmout ", 7) == 0)
			snprintf(sc->value, sizeof sc->value, "%s", l + 7);
		else if (strncmp(l, "@autologout ", 12) == 0)
			sc->autologout = atoi(l + 12);
		else if (strcmp(l, "@trapalrm") == 0)
			sc->trap = 1;
		else if ((strncmp(l, "declare -", 9) == 0 ||
		    strncmp(l, "typeset -", 9) == 0) &&
		    strstr(l, "TMOUT") != NULL) {
			if (strchr(strchr(l, '-'), 'r') != NULL &&
			    strchr(strchr(l, '-'), 'r') < strstr(l, "TMOUT"))
				sc->readonly = 1;
		} else if (sc->n < 64 && doctor_shell_trace_line(l, &s)) {
			doctor_shell_keep(sc, &s, 0);
			sc->traced = sc->n > 0;
		}
	}
	free(trace);
}

/*
 * Gather the TMOUT lines: from the trace, else from the grep of the
 * startup files; then which assignment is in force, which makes it
 * read-only and whether one is the system's.
 */
static void
doctor_shell_scan(struct doctor_ctx *ctx, struct shell_scan *sc)
{
	struct shell_set	 s;
	const char		*eq;
	int			 i;

	memset(sc, 0, sizeof *sc);
	sc->autologout = -1;
	doctor_shell_trace(ctx, sc);
	for (i = 0; !sc->traced && i < ctx->remote.nkv && sc->n < 64; i++) {
		if (strcmp(ctx->remote.kv[i].key, "grep") == 0 &&
		    doctor_shell_grep_line(ctx->remote.kv[i].value, &s))
			doctor_shell_keep(sc, &s, 1);
	}
	for (i = 0; i < sc->n; i++) {
		if (doctor_shell_assigns(sc->sets[i].text)) {
			eq = strstr(sc->sets[i].text, "TMOUT=") + 6;
			if (sc->traced || sc->value[0] == '\0' ||
			    strncmp(eq + (*eq == '"' || *eq == '\''),
			    sc->value, strlen(sc->value)) == 0)
				sc->last = &sc->sets[i];
		}
		if (sc->sets[i].readonly)
			sc->ro = &sc->sets[i];
		if (!doctor_server_in_home(ctx, sc->sets[i].file))
			sc->sysset = 1;
	}
}

/* The csh family's autologout finding. */
static void
doctor_shell_autologout(struct doctor_ctx *ctx, struct shell_scan *sc,
    const char *sname)
{
	struct doctor_finding	*f;
	int			 mins = sc->autologout;

	f = doctor_report_add(&ctx->report, LAYER_SHELL, "autologout",
	    mins > 0 ? "" : "unset", mins > 0 ? DOCTOR_KILLS : DOCTOR_OK);
	if (mins <= 0)
		return;
	doctor_report_set(&f->value, "%d min (%s)", mins, sname);
	f->secs = f->lsecs = mins * 60L;
	doctor_report_set(&f->why, "%s logs out after %d minutes without "
	    "input at the prompt; no keepalive stops it.", sname, mins);
	doctor_report_set(&f->limpet, "limpet runs the same login shell, "
	    "which logs itself out the same way.");
	doctor_shell_csh_where(ctx, f);
}

/* How to fix a TMOUT: the admin's policy, or lines of the user's own. */
static void
doctor_shell_tmout_fix(struct doctor_ctx *ctx, struct shell_scan *sc,
    struct doctor_finding *f)
{
	struct shell_set	*last = sc->last, *ro = sc->ro;
	char			*l;
	int			 i;

	if (sc->sysset || (sc->readonly && (ro == NULL ||
	    !doctor_server_in_home(ctx, ro->file)))) {
		f->fixby = FIXBY_ADMIN;
		doctor_report_set(&f->fixfile, "%s", last != NULL ?
		    last->file : "the system's shell startup files");
		doctor_report_set(&f->fix, "This is the admin's policy (%s%s "
		    "line %d), and doctor leaves it alone: only the admin "
		    "can change it.  Meanwhile a program running in the "
		    "foreground (an editor, tmux, even cat) holds the timer "
		    "off.", sc->readonly ? "read-only, " : "set in ",
		    last != NULL ? last->file : (ro != NULL ? ro->file : "?"),
		    last != NULL ? last->line : (ro != NULL ? ro->line : 0));
		return;
	}
	if (last == NULL || !doctor_shell_owned(ctx, last->file))
		return;
	f->fixby = FIXBY_USER;
	doctor_report_set(&f->fixfile, "%s", last->file);
	for (i = 0; i < sc->n; i++) {
		if (!doctor_server_in_home(ctx, sc->sets[i].file))
			continue;
		l = doctor_shell_exact(ctx, sc->sets[i].file,
		    sc->sets[i].line);
		if (l == NULL)
			l = xstrdup(sc->sets[i].text);
		doctor_fix_add(&ctx->fixes, sc->sets[i].file, 1, EDIT_COMMENT,
		    sc->sets[i].line, l, NULL);
		if (f->fix == NULL)
			doctor_report_set(&f->fix, "Comment out line %d:\n"
			    "    # %s", sc->sets[i].line, l);
		else
			doctor_report_set(&f->fix, "%s\nand in %s line %d:\n"
			    "    # %s", f->fix, sc->sets[i].file,
			    sc->sets[i].line, l);
		free(l);
	}
}

/* The TMOUT finding of a Bourne-family shell. */
static void
doctor_shell_tmout(struct doctor_ctx *ctx, struct shell_scan *sc,
    const char *shell, const char *sname)
{
	struct doctor_finding	*f;
	const char		*value = sc->value;
	long			 secs;

	secs = value[0] != '\0' && strcmp(value, "unset") != 0 ?
	    strtol(value, NULL, 10) : 0;
	f = doctor_report_add(&ctx->report, LAYER_SHELL, "TMOUT",
	    secs > 0 ? value : "unset", secs > 0 ? DOCTOR_KILLS : DOCTOR_OK);
	if (value[0] == '\0') {
		f->verdict = f->lverdict = DOCTOR_WARN;
		doctor_report_set(&f->why, "The login shell (%s) could not be "
		    "asked; TMOUT is unknown.", shell);
		return;
	}
	if (sc->last != NULL)
		doctor_report_where(f, sc->last->file, sc->last->line);
	if (secs <= 0) {
		doctor_report_set(&f->why, "%s does not log itself out.",
		    sname);
		return;
	}
	if (strcmp(sname, "zsh") == 0 && sc->trap) {
		f->verdict = f->lverdict = DOCTOR_OK;
		doctor_report_set(&f->why, "zsh runs TRAPALRM every %ld s "
		    "instead of logging out.", secs);
		return;
	}
	if (strncmp(sname, "ksh", 3) == 0)
		secs += 60;	/* ksh93 warns, then waits 60 s more */
	f->secs = f->lsecs = secs;
	doctor_report_set(&f->why, "%s logs out after %s s at the prompt "
	    "without a line typed (\"timed out waiting for input: "
	    "auto-logout\"); no keepalive stops it, a program running in "
	    "the foreground does.%s", sname, value, sc->readonly ?
	    "  It is read-only." : "");
	doctor_report_set(&f->limpet, "limpet's daemon runs the same login "
	    "shell, which logs itself out the same way: the session ends.");
	doctor_shell_tmout_fix(ctx, sc, f);
}

/* Add the TMOUT (or csh autologout) finding from the trace and the grep. */
void
doctor_shell_check(struct doctor_ctx *ctx)
{
	struct shell_scan	*sc;
	const char		*shell, *sname;
	int			 i;

	shell = doctor_remote_get(&ctx->remote, "shell");
	if (shell == NULL)
		shell = "sh";
	sname = strrchr(shell, '/') != NULL ? strrchr(shell, '/') + 1 : shell;
	sc = xcalloc(1, sizeof *sc);
	doctor_shell_scan(ctx, sc);
	if (sc->autologout >= 0 || strstr(sname, "csh") != NULL)
		doctor_shell_autologout(ctx, sc, sname);
	else
		doctor_shell_tmout(ctx, sc, shell, sname);
	for (i = 0; i < sc->n; i++) {
		free(sc->sets[i].file);
		free(sc->sets[i].text);
	}
	free(sc);
}
