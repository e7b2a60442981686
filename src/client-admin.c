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
#include "err.h"
#include "frame.h"
#include "proto.h"

#define ADMIN_WAIT_MS	(60 * 1000)

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

/* Print one SESSION line. */
static int
admin_session(const struct frame *f, int first)
{
	static const char	*states[] = { "detached", "attached",
				    "exited", "not answering" };
	struct msg_session	 s;
	char			 created[32], active[32], state[32];
	char			 id[80], cmd[1024];

	if (proto_session_parse(f->p, f->len, &s) != 0)
		return ERR_FORMAT;
	if (s.state > SESS_NOANSWER) {
		proto_session_free(&s);
		return ERR_FORMAT;
	}
	/* Server text: shown with its control bytes escaped. */
	out_safe(id, sizeof id, s.id);
	out_safe(cmd, sizeof cmd, s.command);
	if (first)
		printf("%-10s %-8s %-13s %-19s  %-19s  %s\n", "ID", "PID",
		    "STATE", "CREATED", "LAST ACTIVITY", "COMMAND");
	admin_time(created, sizeof created, s.created);
	admin_time(active, sizeof active, s.active);
	if (s.state == SESS_EXITED)
		snprintf(state, sizeof state, "exited(%d)", s.status);
	else
		snprintf(state, sizeof state, "%s", states[s.state]);
	printf("%-10s %-8u %-13s %-19s  %-19s  %s\n", id, s.pid, state,
	    created, active, *cmd != '\0' ? cmd : "(login shell)");
	proto_session_free(&s);
	return 0;
}

/* Build the request from the command line; 0, or an exit code. */
static int
admin_hello(struct client *c, int mode, struct msg_hello *h)
{
	memset(h, 0, sizeof *h);
	h->version = PROTO_VERSION;
	h->id = (char *)"";
	if (mode == CLIENT_LS) {
		h->op = OP_LIST;
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

/*
 * Handle the frames received so far.  Returns 1 once the answer is
 * complete (rc then says how it went), else 0.
 */
static int
admin_frames(struct client *c, int mode, int *first, int *rc)
{
	struct frame	 f;
	uint32_t	 count, code;
	char		*msg, safe[512];

	while (frame_dec_next(&c->rx, &f) == 1) {
		if (f.type == MSG_SESSION) {
			if (admin_session(&f, *first) == 0)
				*first = 0;
		} else if (f.type == MSG_DONE &&
		    proto_u32_parse(f.p, f.len, &count) == 0) {
			if (mode == CLIENT_LS && count == 0)
				printf("no sessions on %s\n", c->ssh.dest);
			else if (mode == CLIENT_KILL)
				printf("killed %u session%s\n", count,
				    count == 1 ? "" : "s");
			*rc = 0;
			return 1;
		} else if (f.type == MSG_ERROR &&
		    proto_error_parse(f.p, f.len, &code, &msg) == 0) {
			out_safe(safe, sizeof safe, msg);
			fprintf(stderr, "limpet: %s\n", safe);
			free(msg);
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
int
client_admin(struct client *c, int mode)
{
	struct msg_hello	h;
	struct pollfd		pfd[2];
	uint8_t			tmp[8192];
	uint64_t		deadline;
	ssize_t			n;
	size_t			used;
	char			why[256];
	int			r, first = 1, done = 0, rc = 255;

	if ((r = admin_hello(c, mode, &h)) != 0)
		return r;
	if ((r = ssh_spawn(&c->ssh, &c->proc)) != 0) {
		fprintf(stderr, "limpet: cannot run %s: %s\n", c->ssh.prog,
		    err_str(r));
		return 255;
	}
	proto_hello_put(&c->tx, &h);
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
		used = ssh_magic_scan(&c->magic, tmp, (size_t)n);
		if (frame_dec_push(&c->rx, tmp + used, n - used) != 0)
			break;
		done = admin_frames(c, mode, &first, &rc);
	}
	close(c->proc.in);
	c->proc.in = -1;
	admin_stderr(c, !done);
	ssh_close(&c->proc, 2000);
	if (!done) {
		ssh_classify(c->errtext, 255, why, sizeof why);
		fprintf(stderr, "limpet: no answer from %s: %s\n",
		    c->ssh.dest, why);
	}
	fflush(stdout);
	return rc;
}
