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

/* Add the TMOUT finding from the trace and the grep. */
void
doctor_shell_check(struct doctor_ctx *ctx)
{
	struct doctor_finding	*f;
	struct shell_set	 sets[64], s, *last = NULL, *ro = NULL;
	char			*trace, *p, *l, *eq;
	const char		*shell, *sname;
	char			 value[64] = "";
	int			 n = 0, i, traced = 0, readonly = 0, trap = 0;
	int			 sysset = 0, autologout = -1;
	long			 secs;

	shell = doctor_remote_get(&ctx->remote, "shell");
	if (shell == NULL)
		shell = "sh";
	sname = strrchr(shell, '/') != NULL ? strrchr(shell, '/') + 1 : shell;
	trace = xstrdup(ctx->remote.shell_trace != NULL ?
	    ctx->remote.shell_trace : "");
	for (p = trace; (l = strsep(&p, "\n")) != NULL;) {
		if (strncmp(l, "@tmout ", 7) == 0) {
			snprintf(value, sizeof value, "%s", l + 7);
			continue;
		}
		if (strncmp(l, "@autologout ", 12) == 0) {
			autologout = atoi(l + 12);
			continue;
		}
		if (strcmp(l, "@trapalrm") == 0) {
			trap = 1;
			continue;
		}
		if ((strncmp(l, "declare -", 9) == 0 ||
		    strncmp(l, "typeset -", 9) == 0) &&
		    strstr(l, "TMOUT") != NULL) {
			if (strchr(strchr(l, '-'), 'r') != NULL &&
			    strchr(strchr(l, '-'), 'r') < strstr(l, "TMOUT"))
				readonly = 1;
			continue;
		}
		if (n < 64 && doctor_shell_trace_line(l, &s)) {
			if (doctor_shell_assigns(s.text) || s.readonly) {
				sets[n++] = s;
				traced = 1;
			} else {
				free(s.file);
				free(s.text);
			}
		}
	}
	free(trace);
	if (!traced) {
		for (i = 0; i < ctx->remote.nkv && n < 64; i++) {
			if (strcmp(ctx->remote.kv[i].key, "grep") != 0 ||
			    !doctor_shell_grep_line(ctx->remote.kv[i].value,
			    &s))
				continue;
			if ((doctor_shell_assigns(s.text) || s.readonly) &&
			    strstr(s.text, "TMOUT") != NULL)
				sets[n++] = s;
			else {
				free(s.file);
				free(s.text);
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (doctor_shell_assigns(sets[i].text)) {
			eq = strstr(sets[i].text, "TMOUT=") + 6;
			if (traced || value[0] == '\0' || strncmp(eq +
			    (*eq == '"' || *eq == '\''), value,
			    strlen(value)) == 0)
				last = &sets[i];
		}
		if (sets[i].readonly)
			ro = &sets[i];
		if (!doctor_server_in_home(ctx, sets[i].file))
			sysset = 1;
	}

	if (autologout >= 0 || strstr(sname, "csh") != NULL) {
		f = doctor_report_add(&ctx->report, LAYER_SHELL, "autologout",
		    autologout > 0 ? "" : "unset", autologout > 0 ?
		    DOCTOR_KILLS : DOCTOR_OK);
		if (autologout > 0) {
			doctor_report_set(&f->value, "%d min (%s)", autologout,
			    sname);
			f->secs = f->lsecs = autologout * 60L;
			doctor_report_set(&f->why, "%s logs out after %d "
			    "minutes without input at the prompt; no keepalive "
			    "stops it.", sname, autologout);
			doctor_report_set(&f->limpet, "limpet runs the same "
			    "login shell, which logs itself out the same way.");
			doctor_shell_csh_where(ctx, f);
		}
		goto out;
	}
	secs = value[0] != '\0' && strcmp(value, "unset") != 0 ?
	    strtol(value, NULL, 10) : 0;
	f = doctor_report_add(&ctx->report, LAYER_SHELL, "TMOUT",
	    secs > 0 ? value : "unset", secs > 0 ? DOCTOR_KILLS : DOCTOR_OK);
	if (value[0] == '\0') {
		f->verdict = f->lverdict = DOCTOR_WARN;
		doctor_report_set(&f->why, "The login shell (%s) could not be "
		    "asked; TMOUT is unknown.", shell);
		goto out;
	}
	if (last != NULL)
		doctor_report_where(f, last->file, last->line);
	if (secs <= 0) {
		doctor_report_set(&f->why, "%s does not log itself out.",
		    sname);
		goto out;
	}
	if (strcmp(sname, "zsh") == 0 && trap) {
		f->verdict = f->lverdict = DOCTOR_OK;
		doctor_report_set(&f->why, "zsh runs TRAPALRM every %ld s "
		    "instead of logging out.", secs);
		goto out;
	}
	if (strncmp(sname, "ksh", 3) == 0)
		secs += 60;	/* ksh93 warns, then waits 60 s more */
	f->secs = f->lsecs = secs;
	doctor_report_set(&f->why, "%s logs out after %s s at the prompt "
	    "without a line typed (\"timed out waiting for input: "
	    "auto-logout\"); no keepalive stops it, a program running in "
	    "the foreground does.%s", sname, value, readonly ?
	    "  It is read-only." : "");
	doctor_report_set(&f->limpet, "limpet's daemon runs the same login "
	    "shell, which logs itself out the same way: the session ends.");
	if (sysset || (readonly && (ro == NULL ||
	    !doctor_server_in_home(ctx, ro->file)))) {
		f->fixby = FIXBY_ADMIN;
		doctor_report_set(&f->fixfile, "%s", last != NULL ?
		    last->file : "the system's shell startup files");
		doctor_report_set(&f->fix, "This is the admin's policy (%s%s "
		    "line %d%s), and doctor leaves it alone: only the admin "
		    "can change it.  Meanwhile a program running in the "
		    "foreground (an editor, tmux, even cat) holds the timer "
		    "off.", readonly ? "read-only, " : "set in ",
		    last != NULL ? last->file : (ro != NULL ? ro->file : "?"),
		    last != NULL ? last->line : (ro != NULL ? ro->line : 0),
		    "");
	} else if (last != NULL && doctor_shell_owned(ctx, last->file)) {
		f->fixby = FIXBY_USER;
		doctor_report_set(&f->fixfile, "%s", last->file);
		for (i = 0; i < n; i++) {
			if (!doctor_server_in_home(ctx, sets[i].file))
				continue;
			l = doctor_shell_exact(ctx, sets[i].file,
			    sets[i].line);
			if (l == NULL)
				l = xstrdup(sets[i].text);
			doctor_fix_add(&ctx->fixes, sets[i].file, 1,
			    EDIT_COMMENT, sets[i].line, l, NULL);
			if (f->fix == NULL)
				doctor_report_set(&f->fix, "Comment out "
				    "line %d:\n    # %s", sets[i].line, l);
			else
				doctor_report_set(&f->fix, "%s\nand in %s "
				    "line %d:\n    # %s", f->fix, sets[i].file,
				    sets[i].line, l);
			free(l);
		}
	}
out:
	for (i = 0; i < n; i++) {
		free(sets[i].file);
		free(sets[i].text);
	}
}
