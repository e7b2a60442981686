/*
 * limpet doctor --explain: map the last words of a dead session (and the
 * exit status, if the user has it) to the timers that print them, and to
 * the checks that tell those causes apart (the client's own line after a
 * session ends is client-why.c's).  The texts are the ones OpenSSH
 * 9.2 and the common shells print; several causes share a message, so the
 * table lists every cause a message can have.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "doctor-explain.h"
#include "doctor-report.h"

struct doctor_explain_entry {
	const char	*pattern;	/* lowercase substring to look for */
	int		 status;	/* the exit status it comes with, -1 any */
	const char	*cause;
	const char	*check;
};

static const struct doctor_explain_entry explain_table[] = {
	{ "not responding", 255,
	  "The client's ServerAliveInterval x (ServerAliveCountMax + 1) "
	  "passed without a word from the server: the path died (a NAT or "
	  "firewall forgot the flow, the client's address changed, a VPN "
	  "came up or down) or the server hung.",
	  "limpet doctor --probe-nat DEST measures the path's idle timeout; "
	  "if the server still shows your session (who, ps), the path died, "
	  "not the server." },
	{ "closed by remote host", 255,
	  "The server ended the connection.  With \"Timeout, client not "
	  "responding\" in the server's log it was ClientAliveInterval x "
	  "ClientAliveCountMax (the client did not answer: asleep, "
	  "suspended, or the path was down).  With \"terminating inactive "
	  "connection\" it was UnusedConnectionTimeout (a connection with no "
	  "channels, e.g. ssh -N).  With \"Session N of user U is idle, "
	  "stopping\" in the journal it was systemd-logind's "
	  "StopIdleSessionSec.  A reboot or an admin's kill also reads like "
	  "this.",
	  "limpet doctor DEST shows the server's ClientAlive*, "
	  "UnusedConnectionTimeout and logind settings; the server's "
	  "journal (journalctl -u ssh) names the one that fired." },
	{ "broken pipe", 255,
	  "A write to the connection failed: a middlebox dropped the flow "
	  "and answered with a reset (AWS NAT gateway after 350 s, Azure "
	  "after 4 min), or TCP gave up retransmitting over a dead path "
	  "(about 15 min, net.ipv4.tcp_retries2), often after the laptop "
	  "slept or changed networks.  The server may keep a ghost session.",
	  "limpet doctor --probe-nat DEST brackets the path's idle timeout; "
	  "ServerAliveInterval below it keeps the flow alive." },
	{ "connection reset", 255,
	  "A middlebox or the server reset the connection: NAT or firewall "
	  "state was dropped while idle, or the server's sshd was killed.",
	  "limpet doctor --probe-nat DEST; uptime -s on the server for a "
	  "reboot." },
	{ "auto-logout", -1,
	  "The remote shell logged itself out: bash TMOUT (message \"timed "
	  "out waiting for input: auto-logout\") or tcsh autologout.  It "
	  "counts only time at the prompt with no typing; no keepalive can "
	  "stop it.  The exit status is the shell's last status, not 255.",
	  "limpet doctor DEST names the file and line that set TMOUT and "
	  "whether it is read-only (an admin policy)." },
	{ "timed out waiting for input", -1,
	  "The remote shell's TMOUT expired (bash, ksh93 or mksh).  ksh93 "
	  "first warns \"shell will timeout in 60 seconds due to "
	  "inactivity\".",
	  "limpet doctor DEST names the file and line that set TMOUT." },
	{ "zsh: timeout", 14,
	  "zsh's TMOUT expired with no TRAPALRM defined; zsh exits with "
	  "status 14 (SIGALRM).",
	  "limpet doctor DEST; in zsh, typeset -p TMOUT." },
	{ "timeout before authentication", -1,
	  "The server's LoginGraceTime passed before the login finished "
	  "(a slow password or MFA prompt).  It never ends a session that "
	  "is already up.",
	  "limpet doctor DEST shows LoginGraceTime." },
	{ "bad configuration option", 255,
	  "An ssh_config (or sshd_config) contains a keyword that belongs "
	  "to the other program, e.g. ClientAliveInterval in ssh_config: "
	  "every ssh that reads that file refuses to run.",
	  "limpet doctor DEST lists keywords in the wrong file, with file "
	  "and line." },
	{ "closing after", -1,
	  "The server's (or, from 9.6, the client's) ChannelTimeout closed "
	  "an idle channel; keepalives do not count as activity.",
	  "limpet doctor DEST shows ChannelTimeout and the pattern that "
	  "matched." },
	{ "is idle, stopping", -1,
	  "systemd-logind's StopIdleSessionSec stopped the session: no "
	  "keystroke reached its terminal for that long.",
	  "limpet doctor DEST shows StopIdleSessionSec." },
	{ "connection to", 255,
	  "The connection closed without a reason from ssh itself: the "
	  "server's ChannelTimeout, logind stopping the session, the "
	  "shell's process being killed, or the server going down.",
	  "limpet doctor DEST checks ChannelTimeout and logind; on the "
	  "server, journalctl -u ssh and last -x tell the rest." },
};

/*
 * Print the causes of message msg (status -1 if unknown) to fp.  Returns
 * the number of causes found.
 */
int
doctor_explain_print(const char *msg, int status, FILE *fp)
{
	size_t	i, n = 0;
	int	found = 0;
	char	num[16];

	for (i = 0; i < sizeof explain_table / sizeof explain_table[0];
	    i++) {
		if (strcasestr(msg, explain_table[i].pattern) == NULL)
			continue;
		/* A cause that always gives 255 cannot give another status. */
		if (status >= 0 && explain_table[i].status >= 0 &&
		    status != explain_table[i].status)
			continue;
		/* A bare "Connection to H closed." only if nothing else fit. */
		if (strcmp(explain_table[i].pattern, "connection to") == 0 &&
		    found)
			continue;
		n++;
		found = 1;
		snprintf(num, sizeof num, "%zu.", n);
		doctor_report_wrap_lead(fp, num, explain_table[i].cause, 4, 78);
		doctor_report_wrap_lead(fp, "    To tell:",
		    explain_table[i].check, 13, 78);
		fputc('\n', fp);
	}
	if (status >= 0 && status != 255)
		fprintf(fp, "Exit status %d is not ssh's own (255): the remote "
		    "shell or command ended itself (TMOUT's auto-logout exits "
		    "with the shell's last status) or was killed (128 + "
		    "signal, e.g. by logind).\n", status);
	else if (status == 255 && !found)
		fprintf(fp, "Exit status 255 is ssh's own: the connection "
		    "ended, not the remote shell.\n");
	if (!found && status < 0)
		fprintf(fp, "No known timeout prints this message.  "
		    "limpet doctor DEST checks every layer.\n");
	return (int)n;
}
