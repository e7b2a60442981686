/*
 * limpet doctor: systemd-logind on the server.  The running values come
 * from logind itself over D-Bus (busctl, no root needed); the file and
 * line from the logind.conf files the server sent, read the way systemd
 * reads them: the main file, then the drop-ins, the last assignment wins.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "doctor-ctx.h"
#include "doctor-remote.h"
#include "doctor-server.h"
#include "xmalloc.h"

/* The busctl value after its type letter ("b true" -> "true"). */
static const char *
doctor_logind_prop(const struct doctor_ctx *ctx, const char *name)
{
	char		 key[64];
	const char	*v;

	snprintf(key, sizeof key, "logind.%s", name);
	if ((v = doctor_remote_get(&ctx->remote, key)) == NULL || *v == '\0')
		return NULL;
	if ((v = strchr(v, ' ')) == NULL)
		return NULL;
	return v + 1;
}

/* A microsecond property as seconds; -1 for infinity or unknown. */
static long
doctor_logind_usec(const struct doctor_ctx *ctx, const char *name)
{
	const char	*v = doctor_logind_prop(ctx, name);
	uintmax_t	 u;

	if (v == NULL || sscanf(v, "%ju", &u) != 1 || u == UINTMAX_MAX ||
	    u == UINT64_MAX || u == 0)
		return -1;
	return (long)(u / 1000000);
}

/* Find the last line that sets key in the logind.conf files sent. */
static void
doctor_logind_where(const struct doctor_ctx *ctx, const char *key,
    struct doctor_finding *f)
{
	const struct doctor_rfile	*rf;
	const char			*p, *nl;
	size_t				 klen = strlen(key);
	int				 i, n;

	for (i = 0; i < ctx->remote.nfiles; i++) {
		rf = &ctx->remote.files[i];
		if (strstr(rf->path, "logind.conf") == NULL)
			continue;
		for (p = rf->text, n = 1; p != NULL && *p != '\0'; n++) {
			nl = strchr(p, '\n');
			p += strspn(p, " \t");
			if (strncasecmp(p, key, klen) == 0 &&
			    (p[klen] == '=' || p[klen] == ' '))
				doctor_report_where(f, rf->path, n);
			p = nl != NULL ? nl + 1 : NULL;
		}
	}
}

/* StopIdleSessionSec: logind ends sessions idle at the terminal. */
static void
doctor_logind_stop(struct doctor_ctx *ctx)
{
	struct doctor_finding	*f;
	long			 stop;

	stop = doctor_logind_usec(ctx, "StopIdleSessionUSec");
	f = doctor_report_add(&ctx->report, LAYER_LOGIND,
	    "StopIdleSessionSec", "infinity", DOCTOR_OK);
	doctor_logind_where(ctx, "StopIdleSessionSec", f);
	if (stop > 0) {
		doctor_report_set(&f->value, "%ld s", stop);
		f->verdict = DOCTOR_KILLS;
		f->secs = stop;
		doctor_report_set(&f->why, "logind stops a session whose "
		    "terminal got no keystroke for %ld s, and kills all its "
		    "processes; output and keepalives do not count.", stop);
		doctor_report_set(&f->limpet, "limpet's connections have no "
		    "terminal (ssh -T), and logind never counts those as "
		    "idle.");
		f->lverdict = DOCTOR_OK;
		f->fixby = FIXBY_ADMIN;
		doctor_report_set(&f->fix, "This is the admin's policy "
		    "(StopIdleSessionSec in logind.conf).");
	} else
		doctor_report_set(&f->why, "logind does not stop idle "
		    "sessions.");
}

/* KillUserProcesses: what outlives an ssh session. */
static void
doctor_logind_kup(struct doctor_ctx *ctx)
{
	struct doctor_finding	*f;
	const char		*kup, *cg;
	int			 inscope;

	kup = doctor_logind_prop(ctx, "KillUserProcesses");
	cg = doctor_remote_get(&ctx->remote, "cgroup");
	inscope = cg != NULL && strstr(cg, "/session-") != NULL;
	f = doctor_report_add(&ctx->report, LAYER_LOGIND, "KillUserProcesses",
	    kup != NULL ? kup : "unknown", DOCTOR_OK);
	doctor_logind_where(ctx, "KillUserProcesses", f);
	if (kup != NULL && strcmp(kup, "true") == 0) {
		f->verdict = DOCTOR_WARN;
		doctor_report_set(&f->why, "When an ssh session ends, logind "
		    "kills everything started in it (tmux, screen, nohup).  "
		    "Idle sessions are not ended by this.");
		f->lverdict = inscope ? DOCTOR_WARN : DOCTOR_OK;
		doctor_report_set(&f->limpet, "The limpet daemon must leave "
		    "the ssh session's scope or it dies with the connection "
		    "that started it: limpet starts it in a scope of its own "
		    "(systemd-run --user --scope) when the user manager is "
		    "reachable, and `limpet ls` names sessions that could not "
		    "have one; `loginctl enable-linger` keeps the user "
		    "manager (and /run/user) across logouts.");
	} else
		doctor_report_set(&f->why, "Processes started from a session "
		    "outlive it.");
}

/* IdleAction: logind acts on the whole machine when all is idle. */
static void
doctor_logind_idle(struct doctor_ctx *ctx)
{
	struct doctor_finding	*f;
	const char		*idle;

	idle = doctor_logind_prop(ctx, "IdleAction");
	f = doctor_report_add(&ctx->report, LAYER_LOGIND, "IdleAction",
	    idle != NULL ? idle : "unknown", DOCTOR_OK);
	doctor_logind_where(ctx, "IdleAction", f);
	if (idle != NULL && strstr(idle, "ignore") == NULL) {
		f->verdict = f->lverdict = DOCTOR_WARN;
		f->secs = doctor_logind_usec(ctx, "IdleActionUSec");
		doctor_report_set(&f->why, "When every session on the machine "
		    "has been idle for IdleActionSec, logind acts on the whole "
		    "machine (suspend, poweroff...).");
	} else
		doctor_report_set(&f->why, "No machine-wide action when idle.");
}

/* RemoveIPC: IPC objects removed at the last logout. */
static void
doctor_logind_ipc(struct doctor_ctx *ctx)
{
	struct doctor_finding	*f;
	const char		*ipc;

	ipc = doctor_logind_prop(ctx, "RemoveIPC");
	f = doctor_report_add(&ctx->report, LAYER_LOGIND, "RemoveIPC",
	    ipc != NULL ? ipc : "unknown", DOCTOR_OK);
	doctor_logind_where(ctx, "RemoveIPC", f);
	doctor_report_set(&f->why, "%s", ipc != NULL && strcmp(ipc, "true") ==
	    0 ? "When the user's last session ends, logind removes their "
	    "System V and POSIX IPC (shared memory, /dev/shm files, "
	    "semaphores): programs left running that use them break." :
	    "The user's IPC objects survive logout.");
	doctor_report_set(&f->limpet, "limpet uses no IPC objects, only Unix "
	    "sockets, so this does not touch it.");
}

/* Linger: whether the user manager and /run/user outlive logout. */
static void
doctor_logind_linger(struct doctor_ctx *ctx)
{
	struct doctor_finding	*f;
	const char		*linger, *rundir;

	linger = doctor_remote_get(&ctx->remote, "linger");
	rundir = doctor_remote_get(&ctx->remote, "rundir");
	f = doctor_report_add(&ctx->report, LAYER_LOGIND, "Linger",
	    linger != NULL && *linger != '\0' ? linger : "unknown", DOCTOR_OK);
	if (linger != NULL && strcmp(linger, "yes") == 0)
		doctor_report_set(&f->why, "The user manager and %s stay "
		    "after the last logout.", rundir != NULL ? rundir :
		    "/run/user/UID");
	else
		doctor_report_set(&f->why, "After the last session ends, "
		    "logind stops the user manager, and %s (XDG_RUNTIME_DIR) "
		    "disappears %ld s later (UserStopDelaySec): sockets kept "
		    "there (tmux -S, gpg-agent, ssh-agent) go with it.",
		    rundir != NULL ? rundir : "/run/user/UID",
		    doctor_logind_usec(ctx, "UserStopDelayUSec") >= 0 ?
		    doctor_logind_usec(ctx, "UserStopDelayUSec") : 10);
	doctor_report_set(&f->limpet, "limpet keeps its sockets in "
	    "/tmp/limpet-UID (or $LIMPET_DIR), not in /run/user, so a removed "
	    "/run/user does not strand its sessions.");
}

/* Add the logind findings. */
void
doctor_logind_check(struct doctor_ctx *ctx)
{
	struct doctor_finding	*f;

	if (doctor_remote_get(&ctx->remote, "systemd") == NULL) {
		f = doctor_report_add(&ctx->report, LAYER_LOGIND,
		    "systemd-logind", "not running", DOCTOR_OK);
		f->line = -1;
		doctor_report_set(&f->why, "The server does not run systemd, "
		    "so no logind policy ends sessions there.");
		return;
	}
	doctor_logind_stop(ctx);
	doctor_logind_kup(ctx);
	doctor_logind_idle(ctx);
	doctor_logind_ipc(ctx);
	doctor_logind_linger(ctx);
}
