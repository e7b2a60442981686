/*
 * limpet doctor: the server side, through one ssh connection.  A POSIX sh
 * script goes to "sh -s" on ssh's stdin (never in argv, and it needs no
 * limpet on the server).  It prints facts as "@k key value" lines and
 * whole files as "@file PATH", the lines prefixed with '|', then "@end";
 * doctor parses those files here with the same rules as the client's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "doctor-ctx.h"
#include "doctor-proc.h"
#include "doctor-remote.h"
#include "err.h"
#include "xmalloc.h"

static const char remote_script[] =
"umask 077\n"
"exec 3>&2 2>/dev/null\n"
/*
 * A dot on stderr twice a second keeps the channel in use: a server with
 * a short ChannelTimeout would otherwise close it during a silent step.
 */
"( while sleep 0.5 2>/dev/null || sleep 1; do echo . >&3 || exit; done ) &"
" tick=$!\n"
"LC_ALL=C; export LC_ALL\n"
"k() { printf '@k %s %s\\n' \"$1\" \"$2\"; }\n"
"echo '@limpet-doctor 1'\n"
"u=$(id -un); k user \"$u\"; k uid \"$(id -u)\"; k groups \"$(id -Gn)\"\n"
"k home \"$HOME\"\n"
"pw=$(getent passwd \"$u\" || grep \"^$u:\" /etc/passwd)\n"
"lsh=$(printf '%s\\n' \"$pw\" | head -n1 | cut -d: -f7)\n"
"[ -n \"$lsh\" ] || lsh=$SHELL\n"
"k shell \"$lsh\"\n"
"k conn \"$SSH_CONNECTION\"\n"
"k uname \"$(uname -sr)\"\n"
"k limpet \"$(command -v limpet)\"\n"
"sent=' '\n"
"send() {\n"
"  case \"$sent\" in *\" $1 \"*) return;; esac\n"
"  sent=\"$sent$1 \"\n"
"  if [ -f \"$1\" ] && [ -r \"$1\" ]; then\n"
"    echo \"@file $1\"; awk '{ print \"|\" $0 }' \"$1\"; echo '@end'\n"
"  elif [ -e \"$1\" ]; then echo \"@unreadable $1\"; fi\n"
"}\n"
"sendconf() {\n"
"  case \"$sent\" in *\" $1 \"*) return;; esac\n"
"  send \"$1\"\n"
"  [ -r \"$1\" ] || return\n"
"  for inc in $(awk 'tolower($1) == \"include\" {\n"
"      for (i = 2; i <= NF; i++) print $i }' \"$1\"); do\n"
"    case \"$inc\" in\n"
"    \"~/\"*) inc=\"$HOME/${inc#\\~/}\";;\n"
"    /*) ;;\n"
"    *) inc=\"$2/$inc\";;\n"
"    esac\n"
"    for f in $inc; do [ -e \"$f\" ] && sendconf \"$f\" \"$2\"; done\n"
"  done\n"
"}\n"
/* Which sshd serves this connection, and with which config file. */
"bin=; cfg=; p=$PPID\n"
"set -f\n"
"while [ -n \"$p\" ] && [ \"$p\" -gt 1 ] 2>/dev/null; do\n"
"  set -- $(tr '\\000' '\\n' < /proc/$p/cmdline)\n"
"  [ \"$1\" = 'sshd:' ] && shift\n"
"  case \"$1\" in\n"
"  */sshd|sshd)\n"
"    bin=$1; shift\n"
"    while [ $# -gt 0 ]; do\n"
"      case \"$1\" in -f) cfg=$2; shift;; -f?*) cfg=${1#-f};; esac\n"
"      shift\n"
"    done\n"
"    break;;\n"
"  esac\n"
"  p=$(awk '$1 == \"PPid:\" { print $2 }' /proc/$p/status)\n"
"done\n"
"set +f\n"
"[ -n \"$bin\" ] || bin=$(command -v sshd || echo /usr/sbin/sshd)\n"
"[ -n \"$cfg\" ] || cfg=/etc/ssh/sshd_config\n"
"k sshd_bin \"$bin\"; k sshd_config \"$cfg\"\n"
"v=$(\"$bin\" -V 2>&1 | sed -n 's/.*\\(OpenSSH_[0-9][0-9.p]*\\).*/\\1/p'"
" | head -n1)\n"
"[ -n \"$v\" ] || v=$(ssh -V 2>&1 | sed -n "
"'s/.*\\(OpenSSH_[0-9][0-9.p]*\\).*/\\1/p' | head -n1)\n"
"k sshd_version \"$v\"\n"
"set -f; set -- $SSH_CONNECTION; set +f\n"
"spec=\"user=$u,host=$1,addr=$1,laddr=$3,lport=$4\"\n"
"out=$(\"$bin\" -G -f \"$cfg\" -C \"$spec\")\n"
"how=G\n"
"if [ -z \"$out\" ] && [ \"$(id -u)\" = 0 ]; then\n"
"  out=$(\"$bin\" -T -f \"$cfg\" -C \"$spec\"); how=T; fi\n"
"if [ -n \"$out\" ]; then\n"
"  echo \"@sshdT $how\"; printf '%s\\n' \"$out\" | awk '{ print \"|\" $0 }'\n"
"  echo '@end'\n"
"fi\n"
"sendconf \"$cfg\" /etc/ssh\n"
"sendconf /etc/ssh/ssh_config /etc/ssh\n"
"sendconf \"$HOME/.ssh/config\" \"$HOME/.ssh\"\n"
/* The login shell's auto-logout, as a login shell sees it. */
"to=; command -v timeout >/dev/null && to='timeout 20'\n"
"case \"${lsh##*/}\" in\n"
"bash)\n"
"  tr=$(cd && PS4='+@${BASH_SOURCE}:${LINENO}: ' $to \"$lsh\" -lixc "
"'printf \"@tmout %s\\n\" \"${TMOUT-unset}\"; declare -p TMOUT'"
" 2>&1 </dev/null);;\n"
"zsh)\n"
"  tr=$(cd && $to \"$lsh\" -lixc 'printf \"@tmout %s\\n\" \"${TMOUT-unset}\";"
" typeset -p TMOUT; (( $+functions[TRAPALRM] )) && echo @trapalrm;"
" trap | grep -q ALRM && echo @trapalrm' 2>&1 </dev/null);;\n"
"ksh*|mksh|pdksh|lksh)\n"
"  tr=$(cd && $to \"$lsh\" -lic 'printf \"@tmout %s\\n\" \"${TMOUT-unset}\";"
" typeset -p TMOUT' 2>&1 </dev/null);;\n"
"tcsh|csh)\n"
"  tr=$(cd && $to \"$lsh\" -c 'if ($?autologout) then\n"
"echo \"@autologout $autologout\"\nendif' 2>&1 </dev/null);;\n"
"*) tr=;;\n"
"esac\n"
"echo '@trace'\n"
"printf '%s\\n' \"$tr\" | grep -E 'TMOUT|^@|autologout|TRAPALRM' |"
" awk '{ print \"|\" $0 }'\n"
"echo '@end'\n"
"printf '%s\\n' \"$tr\" | grep TMOUT | sed -n"
" -e 's/^+*@\\(\\/[^:]*\\):\\([0-9][0-9]*\\): .*/\\1 \\2/p'"
" -e 's/^+*\\(\\/[^:]*\\):\\([0-9][0-9]*\\)> .*/\\1 \\2/p' |\n"
"while read -r f n; do\n"
"  printf '@grep %s:%s:' \"$f\" \"$n\"; sed -n \"${n}p\" \"$f\"\n"
"done\n"
"for f in /etc/profile /etc/profile.d/*.sh /etc/bash.bashrc /etc/bashrc"
" /etc/zsh/zshenv /etc/zsh/zprofile /etc/zsh/zshrc /etc/zsh/zlogin"
" /etc/zshenv /etc/zprofile /etc/zshrc /etc/ksh.kshrc /etc/mkshrc"
" /etc/csh.cshrc /etc/csh.login \"$HOME/.profile\" \"$HOME/.bash_profile\""
" \"$HOME/.bash_login\" \"$HOME/.bashrc\" \"$HOME/.zshenv\""
" \"$HOME/.zprofile\" \"$HOME/.zshrc\" \"$HOME/.zlogin\" \"$HOME/.kshrc\""
" \"$HOME/.mkshrc\" \"$HOME/.tcshrc\" \"$HOME/.cshrc\" \"$HOME/.login\";"
" do\n"
"  [ -r \"$f\" ] || continue\n"
"  grep -n -E 'TMOUT|autologout' \"$f\" | sed \"s|^|@grep $f:|\"\n"
"  [ -O \"$f\" ] && echo \"@own $f\"\n"
"done\n"
/* systemd-logind. */
"if [ -d /run/systemd/system ] && command -v busctl >/dev/null; then\n"
"  k systemd \"$(systemctl --version | head -n1)\"\n"
"  for pr in KillUserProcesses StopIdleSessionUSec IdleAction"
" IdleActionUSec UserStopDelayUSec RemoveIPC KillExcludeUsers"
" KillOnlyUsers; do\n"
"    k \"logind.$pr\" \"$(busctl get-property org.freedesktop.login1"
" /org/freedesktop/login1 org.freedesktop.login1.Manager $pr)\"\n"
"  done\n"
"  k linger \"$(loginctl show-user \"$u\" -p Linger --value)\"\n"
"fi\n"
"[ -e \"/var/lib/systemd/linger/$u\" ] && k lingerfile yes\n"
"k cgroup \"$(tr '\\n' ' ' < /proc/self/cgroup)\"\n"
"[ -d \"/run/user/$(id -u)\" ] && k rundir \"/run/user/$(id -u)\"\n"
"k xdg_runtime_dir \"$XDG_RUNTIME_DIR\"\n"
"for f in /etc/systemd/logind.conf /usr/lib/systemd/logind.conf.d/*.conf"
" /usr/local/lib/systemd/logind.conf.d/*.conf"
" /run/systemd/logind.conf.d/*.conf /etc/systemd/logind.conf.d/*.conf;"
" do\n"
"  [ -f \"$f\" ] && send \"$f\"\n"
"done\n"
"kill $tick\n"
"echo '@done'\n";

/* Free what the server sent. */
void
doctor_remote_free(struct doctor_remote *rm)
{
	int	i;

	doctor_kv_free(rm->kv, rm->nkv);
	for (i = 0; i < rm->nfiles; i++) {
		free(rm->files[i].path);
		free(rm->files[i].text);
	}
	free(rm->files);
	free(rm->sshd_t);
	free(rm->shell_trace);
	free(rm->error);
	memset(rm, 0, sizeof *rm);
}

/* The text of a file the server sent, or NULL. */
const char *
doctor_remote_file(const struct doctor_remote *rm, const char *path)
{
	int	i;

	for (i = 0; i < rm->nfiles; i++)
		if (strcmp(rm->files[i].path, path) == 0)
			return rm->files[i].text;
	return NULL;
}

/* A fact the server sent, or NULL. */
const char *
doctor_remote_get(const struct doctor_remote *rm, const char *key)
{
	return doctor_kv_get(rm->kv, rm->nkv, key);
}

/* Append line (without '|') and a newline to a growing string. */
static void
doctor_remote_append(char **s, const char *line)
{
	char	*t;

	xasprintf(&t, "%s%s\n", *s != NULL ? *s : "", line);
	free(*s);
	*s = t;
}

/* Parse the script's output. */
void
doctor_remote_parse(struct doctor_remote *rm, char *out)
{
	char	*line, *sp, **into = NULL;
	int	 fileidx = -1;

	while ((line = strsep(&out, "\n")) != NULL) {
		if (into != NULL || fileidx >= 0) {
			if (line[0] == '|') {
				doctor_remote_append(fileidx >= 0 ?
				    &rm->files[fileidx].text : into, line + 1);
				continue;
			}
			if (strcmp(line, "@end") == 0) {
				if (fileidx >= 0 &&
				    rm->files[fileidx].text == NULL)
					rm->files[fileidx].text = xstrdup("");
				into = NULL;
				fileidx = -1;
				continue;
			}
		}
		if (strncmp(line, "@k ", 3) == 0) {
			sp = strchr(line + 3, ' ');
			if (sp != NULL)
				*sp++ = '\0';
			doctor_kv_add(&rm->kv, &rm->nkv, line + 3,
			    sp != NULL ? sp : "");
		} else if (strncmp(line, "@file ", 6) == 0) {
			rm->files = xreallocarray(rm->files, rm->nfiles + 1,
			    sizeof *rm->files);
			rm->files[rm->nfiles].path = xstrdup(line + 6);
			rm->files[rm->nfiles].text = NULL;
			fileidx = rm->nfiles++;
		} else if (strncmp(line, "@sshdT ", 7) == 0) {
			doctor_kv_add(&rm->kv, &rm->nkv, "sshd_dump",
			    line + 7);
			into = &rm->sshd_t;
		} else if (strcmp(line, "@trace") == 0) {
			into = &rm->shell_trace;
		} else if (strncmp(line, "@grep ", 6) == 0) {
			doctor_kv_add(&rm->kv, &rm->nkv, "grep", line + 6);
		} else if (strncmp(line, "@own ", 5) == 0) {
			doctor_kv_add(&rm->kv, &rm->nkv, "own", line + 5);
		} else if (strncmp(line, "@unreadable ", 12) == 0) {
			doctor_kv_add(&rm->kv, &rm->nkv, "unreadable",
			    line + 12);
		} else if (strcmp(line, "@done") == 0)
			rm->ok = 1;
	}
}

/*
 * Run the script on the server through one ssh and parse what it prints.
 * Returns 0 (rm->ok set if the script ran to its end) or an error.
 */
int
doctor_remote_run(struct doctor_ctx *ctx)
{
	static const char *const extra[] = { "-T" };
	struct doctor_remote	*rm = &ctx->remote;
	struct doctor_proc	 p;
	char			**argv, *out, *err, *e;
	int			 i, r;

	argv = doctor_ssh_argv(ctx, NULL, extra, 1, 1);
	for (i = 0; argv[i] != NULL; i++)
		;
	argv = xreallocarray(argv, i + 3, sizeof *argv);
	argv[i++] = xstrdup("sh");
	argv[i++] = xstrdup("-s");
	argv[i] = NULL;
	r = doctor_proc_run(argv, remote_script, sizeof remote_script - 1,
	    90000, &p);
	doctor_argv_free(argv);
	if (r != 0) {
		xasprintf(&rm->error, "could not run %s: %s", ctx->ssh,
		    err_str(r));
		return r;
	}
	out = doctor_proc_text(&p.out);
	doctor_remote_parse(rm, out);
	free(out);
	if (!rm->ok) {
		err = doctor_proc_text(&p.err);
		e = err + strspn(err, ".\n");	/* the script's ticks */
		e[strcspn(e, "\n")] = '\0';
		xasprintf(&rm->error, "%s (ssh exit status %d%s)",
		    *e != '\0' ? e : "the server's checks did not finish",
		    p.status, p.timedout ? ", timed out" : "");
		free(err);
	}
	doctor_proc_free(&p);
	return 0;
}
