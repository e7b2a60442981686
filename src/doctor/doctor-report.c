/*
 * limpet doctor: the report.  Findings are kept in the order the checks
 * add them and printed per layer; the summary ranks those that end an
 * idle session by how soon they do it, once for plain ssh and once for a
 * limpet session, because the two differ: limpet sends its own heartbeats
 * and reconnects, so network timers do not end its sessions, while a shell
 * that logs itself out ends both.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "doctor-report.h"
#include "xmalloc.h"

static const char *const layer_names[LAYER_COUNT] = {
	"Client ssh",
	"Server sshd",
	"Shell auto-logout",
	"systemd-logind",
	"Network path",
};

static const char *const layer_keys[LAYER_COUNT] = {
	"client", "server", "shell", "logind", "path",
};

static const char *const fixby_names[] = { "none", "user", "admin" };

/* Start an empty report about destination dest (may be NULL). */
void
doctor_report_init(struct doctor_report *r, const char *dest)
{
	memset(r, 0, sizeof *r);
	r->dest = xstrdup(dest != NULL ? dest : "");
}

/* Free one finding's strings. */
static void
doctor_report_free_one(struct doctor_finding *f)
{
	free(f->check);
	free(f->value);
	free(f->file);
	free(f->why);
	free(f->limpet);
	free(f->fix);
	free(f->fixfile);
}

/* Free the report. */
void
doctor_report_free(struct doctor_report *r)
{
	int	i;

	for (i = 0; i < r->n; i++)
		doctor_report_free_one(&r->f[i]);
	for (i = 0; i < r->nnotes; i++)
		free(r->notes[i]);
	free(r->f);
	free(r->dest);
	free(r->error);
	memset(r, 0, sizeof *r);
}

/*
 * Add a finding for check in layer with value and verdict; the caller
 * fills in the rest.  The limpet verdict starts equal to the plain one.
 * The array may move: pointers to earlier findings are stale after this.
 */
struct doctor_finding *
doctor_report_add(struct doctor_report *r, int layer, const char *check,
    const char *value, int verdict)
{
	struct doctor_finding	*f;

	r->f = xreallocarray(r->f, r->n + 1, sizeof *r->f);
	f = &r->f[r->n++];
	memset(f, 0, sizeof *f);
	f->layer = layer;
	f->check = xstrdup(check);
	f->value = xstrdup(value != NULL ? value : "");
	f->verdict = f->lverdict = verdict;
	f->secs = f->lsecs = -1;
	return f;
}

/* Replace the string *dst with a formatted one. */
void
doctor_report_set(char **dst, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (s == NULL)
		s = xstrdup("");
	free(*dst);
	*dst = s;
}

/* Record the file and line a value came from (file NULL: a default). */
void
doctor_report_where(struct doctor_finding *f, const char *file, int line)
{
	free(f->file);
	f->file = file != NULL ? xstrdup(file) : NULL;
	f->line = line;
}

/* Record why a check could not run. */
void
doctor_report_note(struct doctor_report *r, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	if (r->nnotes == (int)(sizeof r->notes / sizeof r->notes[0]))
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (s != NULL)
		r->notes[r->nnotes++] = s;
}

/* The first finding for check in layer, or NULL. */
struct doctor_finding *
doctor_report_find(struct doctor_report *r, int layer, const char *check)
{
	int	i;

	for (i = 0; i < r->n; i++)
		if (r->f[i].layer == layer &&
		    strcasecmp(r->f[i].check, check) == 0)
			return &r->f[i];
	return NULL;
}

/* Describe a verdict in words, e.g. "kills idle sessions after 300 s". */
const char *
doctor_report_verdict(int v, long secs, char *out, size_t len)
{
	switch (v) {
	case DOCTOR_OK:
		snprintf(out, len, "ok");
		break;
	case DOCTOR_WARN:
		snprintf(out, len, "warning");
		break;
	case DOCTOR_KILLS:
		if (secs >= 0)
			snprintf(out, len, "kills idle sessions after %ld s",
			    secs);
		else
			snprintf(out, len, "kills idle sessions");
		break;
	default:
		snprintf(out, len, "broken");
		break;
	}
	return out;
}

/*
 * Print text word-wrapped to width columns, every line indented by indent
 * spaces.  Newlines in the text are kept; a line that starts with spaces
 * (an exact config line) is printed as it is.
 */
void
doctor_report_wrap(FILE *fp, const char *text, int indent, int width)
{
	doctor_report_wrap_lead(fp, NULL, text, indent, width);
}

/*
 * The same, with lead (as wide as indent, e.g. "1. ") printed instead of
 * the first line's indentation.
 */
void
doctor_report_wrap_lead(FILE *fp, const char *lead, const char *text,
    int indent, int width)
{
	const char	*p = text, *nl, *w;
	int		 col, wl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		if (lead != NULL) {
			fprintf(fp, "%-*s", indent, lead);
			lead = NULL;
		} else
			fprintf(fp, "%*s", indent, "");
		if (*p == ' ') {
			fprintf(fp, "%.*s\n", (int)(nl - p), p);
			p = *nl != '\0' ? nl + 1 : nl;
			continue;
		}
		col = indent;
		while (p < nl) {
			for (w = p; w < nl && *w != ' '; w++)
				;
			wl = (int)(w - p);
			if (col > indent && col + 1 + wl > width) {
				fprintf(fp, "\n%*s", indent, "");
				col = indent;
			} else if (col > indent) {
				fputc(' ', fp);
				col++;
			}
			fprintf(fp, "%.*s", wl, p);
			col += wl;
			for (p = w; p < nl && *p == ' '; p++)
				;
		}
		fputc('\n', fp);
		p = *nl != '\0' ? nl + 1 : nl;
	}
}

/* Print one finding as text; an ok one briefly. */
static void
doctor_report_text_one(const struct doctor_finding *f, FILE *fp)
{
	char	v[64], lv[64];
	int	brief = f->verdict == DOCTOR_OK && f->lverdict == DOCTOR_OK;

	doctor_report_verdict(f->verdict, f->secs, v, sizeof v);
	fprintf(fp, "  [%s] %s %s", v, f->check, f->value);
	if (brief) {
		if (f->file != NULL && f->line > 0)
			fprintf(fp, " (%s line %d)", f->file, f->line);
		else if (f->line == 0)
			fprintf(fp, " (default)");
		fputc('\n', fp);
		if (f->why != NULL)
			doctor_report_wrap(fp, f->why, 6, 78);
		return;
	}
	fputc('\n', fp);
	if (f->file != NULL && f->line > 0)
		fprintf(fp, "      set at %s line %d\n", f->file, f->line);
	else if (f->file != NULL)
		fprintf(fp, "      from %s\n", f->file);
	else if (f->line == 0)
		fprintf(fp, "      (default: no file sets it)\n");
	if (f->why != NULL)
		doctor_report_wrap(fp, f->why, 6, 78);
	if (f->limpet != NULL) {
		doctor_report_verdict(f->lverdict, f->lsecs, lv, sizeof lv);
		fprintf(fp, "      limpet session: %s.\n", lv);
		doctor_report_wrap(fp, f->limpet, 8, 78);
	}
	if (f->fix != NULL) {
		fprintf(fp, "      fix (%s%s%s):\n", f->fixby == FIXBY_ADMIN ?
		    "the admin" : f->fixby == FIXBY_USER ? "you" : "nobody",
		    f->fixfile != NULL ? ", in " : "",
		    f->fixfile != NULL ? f->fixfile : "");
		doctor_report_wrap(fp, f->fix, 8, 78);
	}
}

/* Order findings that kill: known times first, shortest first. */
static int
doctor_report_cmp(long a, long b)
{
	if (a < 0 && b < 0)
		return 0;
	if (a < 0)
		return 1;
	if (b < 0)
		return -1;
	return a < b ? -1 : a > b;
}

/*
 * Fill idx with the findings that end an idle session, for plain ssh
 * (lim 0) or limpet (lim 1), the soonest first (unknown times last).
 */
static int
doctor_report_rank(const struct doctor_report *r, int lim, int *idx)
{
	int	 n = 0, i, j, t, vi;
	long	 si, sj;

	for (i = 0; i < r->n; i++) {
		vi = lim ? r->f[i].lverdict : r->f[i].verdict;
		if (vi == DOCTOR_KILLS)
			idx[n++] = i;
	}
	for (i = 1; i < n; i++) {
		for (j = i; j > 0; j--) {
			si = lim ? r->f[idx[j]].lsecs : r->f[idx[j]].secs;
			sj = lim ? r->f[idx[j - 1]].lsecs :
			    r->f[idx[j - 1]].secs;
			if (doctor_report_cmp(si, sj) >= 0)
				break;
			t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	}
	return n;
}

/* Print the ranked summary for plain ssh or for limpet. */
static void
doctor_report_text_rank(const struct doctor_report *r, int lim, FILE *fp)
{
	int				*idx;
	int				 n, i;
	long				 secs;
	char				 v[64];
	const struct doctor_finding	*f;

	idx = xcalloc(r->n + 1, sizeof *idx);
	n = doctor_report_rank(r, lim, idx);
	fprintf(fp, "  %s:\n", lim ? "a limpet session" : "a plain ssh session");
	if (n == 0)
		fprintf(fp, "    nothing found that ends an idle session\n");
	for (i = 0; i < n; i++) {
		f = &r->f[idx[i]];
		secs = lim ? f->lsecs : f->secs;
		if (secs >= 0)
			snprintf(v, sizeof v, "after %ld s:", secs);
		else
			snprintf(v, sizeof v, "at some point:");
		fprintf(fp, "    %d. %s %s %s\n", i + 1, v, f->check, f->value);
	}
	free(idx);
}

/* Print the whole report as text. */
void
doctor_report_text(const struct doctor_report *r, FILE *fp)
{
	int	l, i, any;

	fprintf(fp, "limpet doctor: %s\n", r->dest);
	for (l = 0; l < LAYER_COUNT; l++) {
		any = 0;
		for (i = 0; i < r->n; i++) {
			if (r->f[i].layer != l)
				continue;
			if (!any)
				fprintf(fp, "\n%s\n", layer_names[l]);
			any = 1;
			doctor_report_text_one(&r->f[i], fp);
		}
	}
	if (r->nnotes > 0) {
		fprintf(fp, "\nNot checked\n");
		for (i = 0; i < r->nnotes; i++) {
			doctor_report_wrap_lead(fp, "  -", r->notes[i], 4,
			    78);
		}
	}
	fprintf(fp, "\nWhat ends an idle session first\n");
	doctor_report_text_rank(r, 0, fp);
	doctor_report_text_rank(r, 1, fp);
	any = 0;
	for (i = 0; i < r->n; i++) {
		if (r->f[i].verdict != DOCTOR_BROKEN)
			continue;
		if (!any)
			fprintf(fp, "\nBroken configuration\n");
		any = 1;
		fprintf(fp, "  %s", r->f[i].value);
		if (r->f[i].file != NULL && r->f[i].line > 0)
			fprintf(fp, " at %s line %d", r->f[i].file,
			    r->f[i].line);
		fprintf(fp, ": %s\n", r->f[i].check);
	}
}

/* Print s as a JSON string (or null). */
void
doctor_report_jstr(FILE *fp, const char *s)
{
	const unsigned char	*p;

	if (s == NULL) {
		fputs("null", fp);
		return;
	}
	fputc('"', fp);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);
		else if (*p == '\t')
			fputs("\\t", fp);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

/* The short name of a verdict for JSON. */
static const char *
doctor_report_vkey(int v)
{
	switch (v) {
	case DOCTOR_OK:
		return "ok";
	case DOCTOR_WARN:
		return "warning";
	case DOCTOR_KILLS:
		return "kills";
	default:
		return "broken";
	}
}

/* Print the ranked summary as a JSON array of check names. */
static void
doctor_report_json_rank(const struct doctor_report *r, int lim, FILE *fp)
{
	int	*idx, n, i;

	idx = xcalloc(r->n + 1, sizeof *idx);
	n = doctor_report_rank(r, lim, idx);
	fputc('[', fp);
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s{\"layer\":\"%s\",\"check\":", i ? "," : "",
		    layer_keys[r->f[idx[i]].layer]);
		doctor_report_jstr(fp, r->f[idx[i]].check);
		fprintf(fp, ",\"seconds\":%ld}", lim ? r->f[idx[i]].lsecs :
		    r->f[idx[i]].secs);
	}
	fputc(']', fp);
	free(idx);
}

/* Print the whole report as one JSON object. */
void
doctor_report_json(const struct doctor_report *r, FILE *fp)
{
	const struct doctor_finding	*f;
	int				 i, first;

	fputs("{\"destination\":", fp);
	doctor_report_jstr(fp, r->dest);
	fputs(",\"findings\":[", fp);
	for (i = 0; i < r->n; i++) {
		f = &r->f[i];
		fprintf(fp, "%s\n{\"layer\":\"%s\",\"check\":", i ? "," : "",
		    layer_keys[f->layer]);
		doctor_report_jstr(fp, f->check);
		fputs(",\"value\":", fp);
		doctor_report_jstr(fp, f->value);
		fputs(",\"file\":", fp);
		doctor_report_jstr(fp, f->file);
		fprintf(fp, ",\"line\":%d,\"verdict\":\"%s\",\"seconds\":%ld,"
		    "\"limpet_verdict\":\"%s\",\"limpet_seconds\":%ld,"
		    "\"why\":", f->line, doctor_report_vkey(f->verdict),
		    f->secs, doctor_report_vkey(f->lverdict), f->lsecs);
		doctor_report_jstr(fp, f->why);
		fputs(",\"limpet\":", fp);
		doctor_report_jstr(fp, f->limpet);
		fputs(",\"fix\":", fp);
		doctor_report_jstr(fp, f->fix);
		fputs(",\"fix_file\":", fp);
		doctor_report_jstr(fp, f->fixfile);
		fprintf(fp, ",\"fix_by\":\"%s\"}", fixby_names[f->fixby]);
	}
	fputs("],\n\"not_checked\":[", fp);
	for (i = 0; i < r->nnotes; i++) {
		if (i)
			fputc(',', fp);
		doctor_report_jstr(fp, r->notes[i]);
	}
	fputs("],\n\"first_to_end\":{\"ssh\":", fp);
	doctor_report_json_rank(r, 0, fp);
	fputs(",\"limpet\":", fp);
	doctor_report_json_rank(r, 1, fp);
	fputs("},\n\"broken\":[", fp);
	for (i = 0, first = 1; i < r->n; i++) {
		if (r->f[i].verdict != DOCTOR_BROKEN)
			continue;
		fprintf(fp, "%s{\"layer\":\"%s\",\"check\":", first ? "" :
		    ",", layer_keys[r->f[i].layer]);
		doctor_report_jstr(fp, r->f[i].check);
		fputs(",\"value\":", fp);
		doctor_report_jstr(fp, r->f[i].value);
		fputc('}', fp);
		first = 0;
	}
	fputs("],\n\"error\":", fp);
	doctor_report_jstr(fp, r->error);
	fprintf(fp, ",\n\"status\":%d}\n", doctor_report_status(r));
}

/*
 * The exit status: 2 when doctor could not run its checks, 1 when
 * something ends an idle session (or a config is broken), 0 otherwise.
 */
int
doctor_report_status(const struct doctor_report *r)
{
	int	i;

	if (r->error != NULL)
		return 2;
	for (i = 0; i < r->n; i++)
		if (r->f[i].verdict >= DOCTOR_KILLS ||
		    r->f[i].lverdict >= DOCTOR_KILLS)
			return 1;
	return 0;
}
