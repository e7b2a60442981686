/*
 * What the client's predictive echo needs to know, and only the daemon
 * can: the PTY's canonical and echo modes as the program set them, and
 * which input the program has had long enough to have echoed it.
 *
 * The termios is read through the master after every turn of the loop
 * that moved bytes through the PTY, and again every TIO_POLL_MS for
 * TIO_SETTLE_MS after (a program may change its modes just after it read
 * or wrote).  It is checked before the output read in the same turn is
 * framed, so a password prompt's "echo off" reaches the client ahead of
 * the prompt whenever the program turned echo off before printing it (as
 * getpass, sudo and bash's read -s do).
 *
 * One more read TIO_QUIET_MS after the last I/O carries TIO_QUIET: the
 * program has been quiet that long, so a prompt it printed with echo on
 * and then turned echo off for (`printf 'Password: '; stty -echo`, the
 * shell idiom) has done so by then.  The client trusts "echo on" for its
 * first keys only from such a report (predict.c).
 *
 * MSG_TERMIOS goes only to a client whose HELLO said PROTO_V_TERMIOS or
 * later: on attach, whenever the flags or the foreground process group
 * change, and when the settled offset moves (input written to the PTY at
 * least ECHO_MS ago).
 */
#include <sys/types.h>

#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "compat.h"
#include "daemon-int.h"
#include "log.h"

/* The PTY's TIO_* flags, or -1 if they cannot be read. */
static int
daemon_tio_read(struct daemon *d)
{
	struct termios	t;
	int		f = 0;

	if (d->ptyfd == -1 || compat_pty_termios(d->ptyfd, &t) != 0)
		return -1;
	if (t.c_lflag & ICANON)
		f |= TIO_ICANON;
	if (t.c_lflag & ECHO)
		f |= TIO_ECHO;
	return f;
}

/*
 * The PTY's foreground process group, or 0: which program reads the
 * terminal (the shell at its prompt, or a job it started), so the client
 * knows the program at a fresh prompt is the one whose echo it saw.
 */
static uint32_t
daemon_tio_group(struct daemon *d)
{
	pid_t	pg;

	if (d->ptyfd == -1 || (pg = tcgetpgrp(d->ptyfd)) <= 0)
		return 0;
	return (uint32_t)pg;
}

/* Input bytes handed to the program so far. */
static uint64_t
daemon_tio_written(const struct daemon *d)
{
	return d->in_have - buf_len(&d->pty_in);
}

/* Remember when input up to off reached the program. */
static void
daemon_echo_mark(struct daemon *d, uint64_t off, uint64_t now)
{
	if (d->necho > 0 && d->echo[d->necho - 1].off >= off)
		return;
	if (d->necho == ECHO_MARKS) {
		/* Full: the newest mark moves on (judged a little late). */
		d->echo[d->necho - 1].off = off;
		d->echo[d->necho - 1].t = now;
		return;
	}
	d->echo[d->necho].off = off;
	d->echo[d->necho].t = now;
	d->necho++;
}

/* The input the program has had for ECHO_MS; drops the marks passed. */
static uint64_t
daemon_echo_settled(struct daemon *d, uint64_t now)
{
	int		k = 0;

	while (k < d->necho && now >= d->echo[k].t + ECHO_MS)
		d->echo_settled = d->echo[k++].off;
	if (k > 0) {
		memmove(d->echo, d->echo + k, (d->necho - k) *
		    sizeof d->echo[0]);
		d->necho -= k;
	}
	return d->echo_settled;
}

/*
 * Check the PTY's modes and tell the client what changed.  With force
 * (a client just attached) the state is sent whatever was sent before.
 */
void
daemon_termios(struct daemon *d, uint64_t now, int force)
{
	struct peer	*c = d->client;
	uint64_t	 io, written, settled;
	int		 f, quiet;

	written = daemon_tio_written(d);
	io = written + d->out.end;
	if (io != d->tio_io) {
		/* Bytes moved: read now, and a while after. */
		d->tio_io = io;
		d->tio_until = now + TIO_SETTLE_MS;
		d->tio_next = 0;
		d->tio_quiet = now + TIO_QUIET_MS;
		daemon_echo_mark(d, written, now);
	}
	quiet = d->tio_quiet == 0 || now >= d->tio_quiet;
	if (force || d->tio_next == 0 || (d->tio_quiet != 0 && quiet) ||
	    (d->tio_until != 0 && now >= d->tio_next)) {
		if ((f = daemon_tio_read(d)) != -1) {
			d->tio_group = daemon_tio_group(d);
			/* The shell (or command) itself, not a job of it. */
			if (d->child > 0 && d->tio_group == (uint32_t)d->child)
				f |= TIO_SHELL;
			if (quiet)
				f |= TIO_QUIET;
			d->tio = f;
			d->tio_written = written;
		}
		d->tio_next = now + TIO_POLL_MS;
		if (now >= d->tio_until)
			d->tio_until = 0;
		if (quiet)
			d->tio_quiet = 0;
	}
	settled = daemon_echo_settled(d, now);
	if (c == NULL || c->closing || c->dead ||
	    c->version < PROTO_V_TERMIOS || d->tio == -1)
		return;
	if (!force && d->tio == d->tio_told && settled == d->tio_settled &&
	    d->tio_group == d->tio_group_told)
		return;
	/* The frame promises settled <= written. */
	if (proto_termios_put(&c->out, (uint8_t)d->tio, d->tio_written,
	    settled < d->tio_written ? settled : d->tio_written,
	    d->tio_group) != 0)
		return;
	if (d->tio != d->tio_told)
		debug_f("termios %s%s", d->tio & TIO_ICANON ? "icanon " :
		    "-icanon ", d->tio & TIO_ECHO ? "echo" : "-echo");
	d->tio_told = d->tio;
	d->tio_group_told = d->tio_group;
	d->tio_settled = settled;
}

/* When daemon_termios() has something to do next (0: nothing). */
uint64_t
daemon_termios_deadline(const struct daemon *d)
{
	uint64_t	t = 0;

	if (d->tio_until != 0)
		t = d->tio_next;
	if (d->tio_quiet != 0 && (t == 0 || d->tio_quiet < t))
		t = d->tio_quiet;
	if (d->necho > 0 && (t == 0 || d->echo[0].t + ECHO_MS < t))
		t = d->echo[0].t + ECHO_MS;
	return t;
}
