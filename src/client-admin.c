/*
 * limpet ls and limpet kill: one ssh connection, one request, a table.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client-int.h"
#include "client-ssh.h"
#include "client.h"
#include "clock.h"
#include "cmdline.h"
#include "err.h"
#include "frame.h"
#include "proto.h"
#include "sock.h"
#include "xmalloc.h"

#define ADMIN_WAIT_MS	(60 * 1000)
#define ADMIN_AGAIN	(-1)	/* say it again in an older version */
#define ADMIN_MORE	(-2)	/* new -d -n: a relay that starts one */

/* new -d -n COUNT: sessions still to start, and started. */
static uint32_t	admin_count = 1;
static uint32_t	admin_made;

/* The index of the first word at or after i that is not a long option. */
static int
admin_past_long(int argc, char **argv, int i)
{
	const struct cmdline_opt	*o;
	size_t				 len;

	while (i < argc && strncmp(argv[i], "--", 2) == 0 &&
	    argv[i][2] != '\0') {
		len = strcspn(argv[i] + 2, "=");
		for (o = cmdline_client_opts; o->name != NULL; o++)
			if (strlen(o->name) == len &&
			    strncmp(o->name, argv[i] + 2, len) == 0)
				break;
		i += o->name != NULL && o->has_arg &&
		    argv[i][2 + len] == '\0' ? 2 : 1;
	}
	return i;
}

/*
 * new -d -n COUNT (or -nCOUNT), after -d and limpet's long options:
 * take it out of argv (ssh's own -n means nothing to limpet's ssh).
 * 0, or 255 after saying what is wrong.
 */
int
client_take_count(int *argc, char **argv, int at)
{
	const char	*v = NULL;
	char		*end;
	unsigned long	 n;
	int		 k = 0;

	at = admin_past_long(*argc, argv, at);
	if (at < *argc && strcmp(argv[at], "-n") == 0 && at + 1 < *argc) {
		v = argv[at + 1];
		k = 2;
	} else if (at < *argc && strncmp(argv[at], "-n", 2) == 0 &&
	    argv[at][2] != '\0') {
		v = argv[at] + 2;
		k = 1;
	}
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || *v < '0' || *v > '9' || n == 0 ||
	    n > PROTO_MANY_MAX) {
		fprintf(stderr, "limpet: new -d -n wants a count from 1 to %d "
		    "(not '%s')\n", PROTO_MANY_MAX, v);
		return 255;
	}
	admin_count = (uint32_t)n;
	memmove(argv + at, argv + at + k, (size_t)(*argc - at - k + 1) *
	    sizeof *argv);
	*argc -= k;
	return 0;
}

/* Format a time as local "YYYY-MM-DD HH:MM". */
static void
admin_time(char *out, size_t len, uint64_t t)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (t == 0 || localtime_r(&tt, &tm) == NULL)
		snprintf(out, len, "-");
	else
		strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* One session of an ls answer: its SESSION and the DETAIL after it. */
struct admin_row {
	struct msg_session	s;
	struct msg_detail	d;
};

struct admin_ls {
	struct admin_row	*rows;
	int			 n;
};

/* Take a SESSION frame into the list. */
static int
admin_session(struct admin_ls *ls, const struct frame *f)
{
	struct admin_row	*row;

	if (ls->n >= 65536)
		return ERR_FORMAT;
	ls->rows = xreallocarray(ls->rows, ls->n + 1, sizeof *ls->rows);
	row = &ls->rows[ls->n];
	memset(row, 0, sizeof *row);
	if (proto_session_parse(f->p, f->len, &row->s) != 0)
		return ERR_FORMAT;
	if (row->s.state > SESS_NOANSWER) {
		proto_session_free(&row->s);
		return ERR_FORMAT;
	}
	ls->n++;
	return 0;
}

/* Take a DETAIL frame: it tells more about the last SESSION. */
static int
admin_detail(struct admin_ls *ls, const struct frame *f)
{
	struct admin_row	*row;

	if (ls->n == 0)
		return ERR_FORMAT;
	row = &ls->rows[ls->n - 1];
	proto_detail_free(&row->d);
	return proto_detail_parse(f->p, f->len, &row->d);
}

/* A DETAIL value for the table: escaped, "-" when unknown. */
static void
admin_value(char *out, size_t len, const struct admin_row *row,
    const char *key)
{
	const char	*v = proto_detail_get(&row->d, key);

	if (v == NULL || *v == '\0')
		snprintf(out, len, "-");
	else
		out_safe(out, len, v);
}

/*
 * The server version that runs the session: the daemon's limpet version,
 * or "proto-N" from a daemon too old to say it (only its protocol).
 */
static void
admin_version(char *out, size_t len, const struct admin_row *row)
{
	const char	*v = proto_detail_get(&row->d, "version");
	char		 p[16];

	if (v != NULL && *v != '\0') {
		out_safe(out, len, v);
		return;
	}
	admin_value(p, sizeof p, row, "proto");
	snprintf(out, len, "proto-%s", p);
}

static const char *admin_states[] = { "detached", "attached", "exited",
    "not answering" };

/* Where the session is held: "from ADDRESS" or "since TIME" ("-"). */
static void
admin_where(char *out, size_t len, const struct admin_row *row)
{
	const char	*from = proto_detail_get(&row->d, "from");
	const char	*since = proto_detail_get(&row->d, "since");
	char		 t[32], safe[64];

	if (row->s.state == SESS_ATTACHED && from != NULL && *from != '\0') {
		out_safe(safe, sizeof safe, from);
		snprintf(out, len, "from %s", safe);
	} else if (row->s.state == SESS_DETACHED && since != NULL &&
	    strtoull(since, NULL, 10) != 0) {
		admin_time(t, sizeof t, strtoull(since, NULL, 10));
		snprintf(out, len, "since %s", t);
	} else
		snprintf(out, len, "-");
}

/*
 * Say which sessions systemd-logind will end at logout (their daemon could
 * not get a scope of its own: scope.c); on stderr, to keep the table whole.
 */
static void
admin_scope_notes(const struct admin_ls *ls)
{
	const char	*v;
	char		 id[80], why[400];
	int		 i;

	for (i = 0; i < ls->n; i++) {
		v = proto_detail_get(&ls->rows[i].d, "scope");
		if (v == NULL || strncmp(v, "none: ", 6) != 0)
			continue;
		out_safe(id, sizeof id, ls->rows[i].s.id);
		out_safe(why, sizeof why, v + 6);
		fprintf(stderr, "limpet: session %s ends at logout: %s\n", id,
		    why);
	}
}

/* Print the table of sessions. */
static void
admin_print(const struct admin_ls *ls)
{
	const struct admin_row	*row;
	char			 created[32], active[32], state[32];
	char			 id[80], cmd[1024], ver[32], name[80];
	char			 prog[80], where[96];
	int			 i;

	printf("%-10s %-8s %-13s %-10s %-15s %-26s %-19s  %-19s  %-8s %s\n",
	    "ID", "PID", "STATE", "NAME", "PROGRAM", "WHERE", "CREATED",
	    "LAST ACTIVITY", "VERSION", "COMMAND");
	for (i = 0; i < ls->n; i++) {
		row = &ls->rows[i];
		/* Server text: shown with its control bytes escaped. */
		out_safe(id, sizeof id, row->s.id);
		out_safe(cmd, sizeof cmd, row->s.command);
		admin_version(ver, sizeof ver, row);
		admin_value(name, sizeof name, row, "name");
		admin_value(prog, sizeof prog, row, "program");
		admin_where(where, sizeof where, row);
		admin_time(created, sizeof created, row->s.created);
		admin_time(active, sizeof active, row->s.active);
		if (row->s.state == SESS_EXITED)
			snprintf(state, sizeof state, "exited(%d)",
			    row->s.status);
		else
			snprintf(state, sizeof state, "%s",
			    admin_states[row->s.state]);
		printf("%-10s %-8u %-13s %-10s %-15s %-26s %-19s  %-19s  %-8s "
		    "%s\n", id, row->s.pid, state, name, prog, where, created,
		    active, ver, *cmd != '\0' ? cmd : "(login shell)");
	}
	admin_scope_notes(ls);
}

/* s as a JSON string: quotes, backslashes and control bytes escaped. */
static void
admin_json_str(const char *s)
{
	putchar('"');
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* A DETAIL value as a JSON string, or null. */
static void
admin_json_detail(const struct admin_row *row, const char *key)
{
	const char	*v = proto_detail_get(&row->d, key);

	if (v == NULL || *v == '\0')
		fputs("null", stdout);
	else
		admin_json_str(v);
}

/* Print the sessions as a JSON array (ls --json): one object each. */
static void
admin_json(const struct admin_ls *ls)
{
	const struct admin_row	*row;
	const char		*since;
	unsigned long long	 t;
	int			 i;

	putchar('[');
	for (i = 0; i < ls->n; i++) {
		row = &ls->rows[i];
		printf("%s\n  {\"id\": ", i > 0 ? "," : "");
		admin_json_str(row->s.id);
		printf(", \"pid\": %u, \"state\": ", row->s.pid);
		admin_json_str(admin_states[row->s.state]);
		if (row->s.state == SESS_EXITED)
			printf(", \"status\": %d", row->s.status);
		printf(", \"name\": ");
		admin_json_detail(row, "name");
		printf(", \"program\": ");
		admin_json_detail(row, "program");
		printf(", \"from\": ");
		admin_json_detail(row, row->s.state == SESS_ATTACHED ?
		    "from" : "-");
		since = proto_detail_get(&row->d, "since");
		t = since != NULL && row->s.state == SESS_DETACHED ?
		    strtoull(since, NULL, 10) : 0;
		if (t != 0)
			printf(", \"detached_since\": %llu", t);
		else
			printf(", \"detached_since\": null");
		printf(", \"created\": %llu, \"last_activity\": %llu",
		    (unsigned long long)row->s.created,
		    (unsigned long long)row->s.active);
		printf(", \"proto\": ");
		admin_json_detail(row, "proto");
		printf(", \"version\": ");
		admin_json_detail(row, "version");
		printf(", \"scope\": ");
		admin_json_detail(row, "scope");
		printf(", \"command\": ");
		admin_json_str(row->s.command);
		putchar('}');
	}
	printf("%s]\n", ls->n > 0 ? "\n" : "");
	admin_scope_notes(ls);
}

/* Free the list. */
static void
admin_ls_free(struct admin_ls *ls)
{
	int	i;

	for (i = 0; i < ls->n; i++) {
		proto_session_free(&ls->rows[i].s);
		proto_detail_free(&ls->rows[i].d);
	}
	free(ls->rows);
	memset(ls, 0, sizeof *ls);
}

/*
 * Take -S NAME (or -SNAME) out of the ssh options: limpet -S NAME host
 * attaches the session NAME or starts it, as tmux new -A -s NAME does.
 * 0, or 255 after saying what is wrong.
 */
int
client_take_name(struct client *c)
{
	struct cmdline	*cl = &c->cl;
	int		 i, k, n;

	for (i = 0; i < cl->nssh; i++) {
		if (strcmp(cl->ssh[i], "-S") == 0 && i + 1 < cl->nssh) {
			free(c->name);
			c->name = xstrdup(cl->ssh[i + 1]);
			n = 2;
		} else if (strncmp(cl->ssh[i], "-S", 2) == 0 &&
		    cl->ssh[i][2] != '\0') {
			free(c->name);
			c->name = xstrdup(cl->ssh[i] + 2);
			n = 1;
		} else if (cl->ssh[i][0] == '-' && cl->ssh[i][1] != '\0' &&
		    cl->ssh[i][2] == '\0' &&
		    cmdline_ssh_takes_arg(cl->ssh[i][1])) {
			i++;	/* another option's argument */
			continue;
		} else
			continue;
		for (k = 0; k < n; k++)
			free(cl->ssh[i + k]);
		memmove(cl->ssh + i, cl->ssh + i + n, (size_t)(cl->nssh - i -
		    n + 1) * sizeof *cl->ssh);
		cl->nssh -= n;
		i--;
	}
	c->ssh.opts = cl->ssh;
	c->ssh.nopts = cl->nssh;
	if (c->name != NULL && !proto_name_valid(c->name)) {
		fprintf(stderr, "limpet: -S wants a session name: 1 to %d "
		    "letters, digits, _ . - (not '%s')\n", PROTO_ID_LEN,
		    c->name);
		return 255;
	}
	if (c->name != NULL && admin_count > 1) {
		fprintf(stderr, "limpet: new -d -n starts unnamed sessions "
		    "(a name is one session): leave out -S or -n\n");
		return 255;
	}
	if (c->name != NULL && c->mode != CLIENT_NEW &&
	    c->mode != CLIENT_DETACHED) {
		fprintf(stderr, "limpet: -S NAME starts or attaches a session; "
		    "for attach, name it: limpet attach HOST NAME\n");
		return 255;
	}
	return 0;
}

/* Build the request from the command line; 0, or an exit code. */
static int
admin_hello(struct client *c, int mode, struct msg_hello *h)
{
	memset(h, 0, sizeof *h);
	h->version = c->hello_version;
	h->id = (char *)"";
	if (mode == CLIENT_DETACHED) {
		/* As a session would, then leave at once (DETACH). */
		h->op = c->name != NULL ? OP_OPEN : OP_NEW;
		h->id = c->name != NULL ? (char *)c->name : (char *)"";
		if (admin_count - admin_made > 1 && h->version >= 3) {
			/* Several over this one connection (relay-spawn.c). */
			h->flags = HELLO_MANY;
			h->out_have = admin_count - admin_made;
		}
		h->argc = c->cl.ncmd;
		h->argv = c->cl.cmd;
		h->ring_kb = c->ring_kb;
		h->rows = 24;
		h->cols = 80;
		return 0;
	}
	if (mode == CLIENT_LS) {
		h->op = OP_LIST;
		h->flags = HELLO_DETAIL;
		if (c->cl.ncmd != 0) {
			fprintf(stderr, "limpet: ls takes no command\n");
			return 255;
		}
		return 0;
	}
	h->op = OP_KILL;
	if (cmdline_has(&c->cl, "all")) {
		h->flags = HELLO_KILL_ALL;
		if (c->cl.ncmd != 0) {
			fprintf(stderr, "limpet: kill --all takes no session "
			    "id\n");
			return 255;
		}
	} else if (c->cl.ncmd != 1) {
		fprintf(stderr, "limpet: kill wants one session id (or "
		    "--all)\n");
		return 255;
	} else
		h->id = c->cl.cmd[0];
	return 0;
}

/* new -d: the session is there; print its id for scripts. */
static int
admin_welcome(const struct frame *f)
{
	struct msg_welcome	w;

	if (proto_welcome_parse(f->p, f->len, &w) != 0 ||
	    !sock_id_valid(w.id)) {
		fprintf(stderr, "limpet: malformed WELCOME\n");
		return 255;
	}
	printf("%s\n", w.id);
	proto_welcome_free(&w);
	return 0;
}

/*
 * Handle the frames received so far.  Returns 1 once the answer is
 * complete (rc then says how it went), else 0.
 */
static int
admin_frames(struct client *c, int mode, struct admin_ls *ls, int *rc)
{
	struct frame	 f;
	uint32_t	 count, code;
	char		*msg, safe[512];

	while (frame_dec_next(&c->rx, &f) == 1) {
		if (f.type == MSG_WELCOME && mode == CLIENT_DETACHED) {
			*rc = admin_welcome(&f);
			if (*rc == 0 && ++admin_made < admin_count) {
				*rc = ADMIN_MORE;
				continue;	/* more may follow */
			}
			return 1;
		}
		if (*rc == ADMIN_MORE && f.type != MSG_NOTICE &&
		    f.type != MSG_DONE && f.type != MSG_ERROR)
			return 1;	/* the daemon: the relay started one */
		if (f.type == MSG_NOTICE && mode == CLIENT_DETACHED &&
		    proto_str_parse(f.p, f.len, &msg) == 0) {
			out_safe(safe, sizeof safe, msg);
			fprintf(stderr, "limpet: %s\n", safe);
			free(msg);
			continue;
		}
		if (f.type == MSG_SESSION)
			admin_session(ls, &f);
		else if (f.type == MSG_DETAIL)
			admin_detail(ls, &f);
		else if (f.type == MSG_DONE &&
		    proto_u32_parse(f.p, f.len, &count) == 0) {
			if (mode == CLIENT_LS && cmdline_has(&c->cl, "json"))
				admin_json(ls);
			else if (mode == CLIENT_LS && count == 0)
				printf("no sessions on %s\n", c->ssh.dest);
			else if (mode == CLIENT_LS)
				admin_print(ls);
			else if (mode == CLIENT_KILL)
				printf("killed %u session%s\n", count,
				    count == 1 ? "" : "s");
			*rc = 0;
			if (mode == CLIENT_DETACHED &&
			    admin_made < admin_count) {
				fprintf(stderr, "limpet: started %u of %u "
				    "sessions\n", admin_made, admin_count);
				*rc = 1;
			}
			return 1;
		} else if (f.type == MSG_ERROR &&
		    proto_error_parse(f.p, f.len, &code, &msg) == 0) {
			if (code == PERR_VERSION &&
			    c->hello_version > PROTO_VERSION_MIN) {
				/* A relay from before negotiation. */
				free(msg);
				c->hello_version = PROTO_VERSION_MIN;
				*rc = ADMIN_AGAIN;
				return 1;
			}
			out_safe(safe, sizeof safe, msg);
			fprintf(stderr, "limpet: %s\n", safe);
			free(msg);
			*rc = 255;
			return 1;
		}
	}
	return 0;
}

/* Collect what ssh said (for a failure message), for at most 2 s. */
static void
admin_stderr(struct client *c, int show)
{
	struct pollfd	pfd;
	char		tmp[4096];
	ssize_t		n;

	while (c->proc.err != -1) {
		n = read(c->proc.err, tmp, sizeof tmp - 1);
		if (n > 0) {
			tmp[n] = '\0';
			if (show)
				fputs(tmp, stderr);
			snprintf(c->errtext, sizeof c->errtext, "%s", tmp);
			continue;
		}
		if (n == -1 && errno == EAGAIN) {
			pfd.fd = c->proc.err;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 2000) > 0)
				continue;
		}
		break;
	}
}

/* Run one request over one ssh and print the answer. */
static int
admin_once(struct client *c, int mode)
{
	struct msg_hello	h;
	struct admin_ls		ls;
	struct pollfd		pfd[2];
	uint8_t			tmp[8192];
	uint64_t		deadline;
	ssize_t			n;
	size_t			used;
	char			why[256];
	uint32_t		made;
	int			r, done = 0, rc = 255;

	if ((r = admin_hello(c, mode, &h)) != 0)
		return r;
	memset(&ls, 0, sizeof ls);
	if ((r = ssh_spawn(&c->ssh, &c->proc)) != 0) {
		fprintf(stderr, "limpet: cannot run %s: %s\n", c->ssh.prog,
		    err_str(r));
		return 255;
	}
	proto_hello_put(&c->tx, &h);
	if (mode == CLIENT_DETACHED)
		frame_put(&c->tx, MSG_DETACH, NULL, 0);
	deadline = clock_ms() + ADMIN_WAIT_MS;
	while (!done && clock_ms() < deadline) {
		pfd[0].fd = c->proc.out;
		pfd[0].events = POLLIN;
		pfd[1].fd = buf_len(&c->tx) > 0 ? c->proc.in : -1;
		pfd[1].events = POLLOUT;
		if (poll(pfd, 2, 1000) == -1 && errno != EINTR)
			break;
		if (pfd[1].revents & (POLLOUT | POLLERR))
			buf_write_fd(&c->tx, c->proc.in);
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(c->proc.out, tmp, sizeof tmp);
		if (n == 0 || (n == -1 && errno != EAGAIN))
			break;
		if (n < 0)
			continue;
		used = ssh_magic_scan(&c->magic, tmp, (size_t)n, NULL);
		if (frame_dec_push(&c->rx, tmp + used, n - used) != 0)
			break;
		made = admin_made;
		done = admin_frames(c, mode, &ls, &rc);
		if (admin_made != made)	/* new -d -n: it goes on */
			deadline = clock_ms() + ADMIN_WAIT_MS;
	}
	admin_ls_free(&ls);
	close(c->proc.in);
	c->proc.in = -1;
	if (rc == ADMIN_MORE)
		done = 1;	/* the relay closed after one session */
	admin_stderr(c, !done);
	ssh_close(&c->proc, 2000);
	if (rc == ADMIN_AGAIN || rc == ADMIN_MORE)
		return rc;
	if (!done) {
		ssh_classify(c->errtext, 255, why, sizeof why);
		fprintf(stderr, "limpet: no answer from %s: %s\n",
		    c->ssh.dest, why);
	}
	fflush(stdout);
	return rc;
}

/*
 * Run the request; a server from before version negotiation refuses our
 * version, and is asked again in the oldest one (a new ssh connection).
 */
int
client_admin(struct client *c, int mode)
{
	int	rc;

	while ((rc = admin_once(c, mode)) == ADMIN_AGAIN ||
	    rc == ADMIN_MORE) {
		buf_reset(&c->tx);
		frame_dec_free(&c->rx);
		frame_dec_init(&c->rx);
		c->magic = 0;
	}
	return rc;
}
