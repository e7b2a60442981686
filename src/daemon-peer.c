/*
 * The session daemon's framed connections over non-blocking fds.  A relay
 * that hands sshd's pipes over (docs/ARCHITECTURE.md "The relay's
 * handoff") leaves its peer with three: the socket, which then only
 * carries the handoff's last words and its end, the pipe the client's
 * frames come in on, and the pipe the daemon's frames go out on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "clock.h"
#include "proto.h"
#include "err.h"
#include "daemon-peer.h"
#include "xmalloc.h"

/* Wrap fd (already non-blocking) in a new peer. */
struct peer *
peer_new(int fd)
{
	struct peer	*p = xcalloc(1, sizeof *p);

	p->fd = fd;
	p->rfd = p->wfd = p->pend_fd = -1;
	/* Reads of up to 128 KiB: a forward's data costs fewer wakeups. */
	frame_dec_init_size(&p->dec, PEER_IN_MAX);
	buf_init(&p->out, PEER_OUT_MAX);
	p->last_rx = p->born = p->tx_ok = clock_ms();
	return p;
}

/* Close and free. */
void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	if (p->fd != -1)
		close(p->fd);
	if (p->rfd != -1)
		close(p->rfd);
	if (p->wfd != -1)
		close(p->wfd);
	if (p->pend_fd != -1)
		close(p->pend_fd);
	frame_dec_free(&p->dec);
	buf_free(&p->out);
	free(p);
}

/*
 * Keep a descriptor the relay passed until its frame is read; a second
 * one before that is a broken peer.  0 or ERR_FORMAT.
 */
static int
peer_take_fd(struct peer *p, int fd)
{
	if (fd == -1)
		return 0;
	if (p->pend_fd != -1) {
		close(fd);
		return ERR_FORMAT;
	}
	p->pend_fd = fd;
	return 0;
}

/*
 * Read the socket of a peer that was offered the handoff: with recvmsg(),
 * since the relay's HANDOFF comes with sshd's stdin attached.
 */
static ssize_t
peer_recv(struct peer *p)
{
	uint8_t	tmp[16 * 1024];
	ssize_t	n;
	int	fd;

	if ((n = compat_recv_fd(p->fd, tmp, sizeof tmp, &fd)) == -1)
		return errno == EBADMSG ? ERR_FORMAT : -1;
	if (peer_take_fd(p, fd) != 0)
		return ERR_FORMAT;
	if (n > 0 && frame_dec_push(&p->dec, tmp, (size_t)n) != 0)
		return ERR_FORMAT;
	return n;
}

/*
 * Read what the fd has into the decoder (after a handoff: sshd's stdin
 * pipe).  Returns 1 if bytes arrived, 0 if none were ready, ERR_EOF at
 * end of file, ERR_SYSTEM on error, ERR_FORMAT for a broken handoff.
 */
int
peer_fill(struct peer *p)
{
	ssize_t	n;

	if (p->ho == PEER_HO_OFFERED)
		n = peer_recv(p);
	else
		n = frame_dec_read(&p->dec, p->rfd != -1 ? p->rfd : p->fd);
	if (n > 0) {
		p->last_rx = clock_ms();
		return 1;
	}
	if (n == 0)
		return ERR_EOF;
	if (n == ERR_FORMAT)
		return ERR_FORMAT;
	if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
		return 0;
	return ERR_SYSTEM;
}

/*
 * Write what is queued, never blocking; 0 or ERR_SYSTEM (the peer is gone).
 * Any progress, or nothing to send, moves tx_ok to now: a peer whose
 * output stops draining for long is dropped by the daemon.  Channel data
 * that waits for room (wwait, written by dfwd_pump() itself) is something
 * to send, though the queue is empty.
 */
int
peer_flush(struct peer *p, uint64_t now)
{
	ssize_t	n;
	size_t	k;
	int	fd;

	if (buf_len(&p->out) == 0 && !p->wwait)
		p->tx_ok = now;
	while (buf_len(&p->out) > 0) {
		k = buf_len(&p->out);
		if (p->ho == PEER_HO_IN) {
			/* Up to HANDOFF_END on the socket, then nothing. */
			if ((k = p->sock_left) == 0)
				return 0;
			if (k > buf_len(&p->out))
				k = buf_len(&p->out);
		}
		fd = p->ho == PEER_HO_DONE ? p->wfd : p->fd;
		if ((n = write(fd, buf_ptr(&p->out), k)) > 0) {
			buf_consume(&p->out, (size_t)n);
			if (p->ho == PEER_HO_IN)
				p->sock_left -= (size_t)n;
			p->tx_ok = now;
			continue;
		}
		if (n == -1 && errno == EAGAIN && fd == p->wfd)
			peer_wfull(p, now);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return ERR_SYSTEM;
	}
	return 0;
}

/*
 * poll() returned at now: a peer with nothing to send has not stalled, so
 * its stall clock (tx_ok) starts now, not at the last write before a long
 * sleep (or output queued after a long idle would count as not drained
 * for all of that idle).
 */
void
peer_woke(struct peer *p, uint64_t now)
{
	if (buf_len(&p->out) == 0 && !p->wwait)
		p->tx_ok = now;
}

/*
 * sshd's stdout pipe was full at now: with a big pipe, write to it again
 * PEER_NAP_MS later (it holds enough for sshd meanwhile), not at every
 * read of sshd's that frees a little room.
 */
void
peer_wfull(struct peer *p, uint64_t now)
{
	if (p->ho == PEER_HO_DONE && p->wnap)
		p->wfull_until = now + PEER_NAP_MS;
}

/* ms until a napping peer's pipe is written again, or -1. */
int
peer_nap_timeout(const struct peer *p, uint64_t now)
{
	if (p->ho != PEER_HO_DONE || p->wfull_until <= now ||
	    (buf_len(&p->out) == 0 && !p->wwait))
		return -1;
	return (int)(p->wfull_until - now);
}

/*
 * poll() events wanted: read if want_read, write if anything is queued or
 * channel data waits for room.
 */
short
peer_events(const struct peer *p, int want_read)
{
	short	ev = 0;

	if (want_read && !p->closing)
		ev |= POLLIN;
	if (buf_len(&p->out) > 0 || p->wwait)
		ev |= POLLOUT;
	return ev;
}

/*
 * The poll entries of a peer (PEER_NPFD of them): its socket, and after a
 * handoff sshd's stdin pipe to read and its stdout pipe to write.  The
 * socket of a handed-off peer is always read: its end is the relay's.
 */
void
peer_poll(const struct peer *p, struct pollfd *pfd, uint64_t now)
{
	pfd[0].fd = p->fd;
	pfd[1].fd = pfd[2].fd = -1;
	pfd[1].events = POLLIN;
	pfd[2].events = POLLOUT;
	if (p->ho < PEER_HO_IN) {
		pfd[0].events = peer_events(p, 1);
		return;
	}
	pfd[0].events = POLLIN | (p->sock_left > 0 ? POLLOUT : 0);
	if (!p->closing)
		pfd[1].fd = p->rfd;
	if (p->ho == PEER_HO_DONE && (buf_len(&p->out) > 0 || p->wwait) &&
	    now >= p->wfull_until)
		pfd[2].fd = p->wfd;
}

/*
 * Where channel data may be written straight away: the socket, sshd's
 * stdout pipe after a handoff, or nowhere (-1: queue it) while the relay
 * still drains the socket.
 */
int
peer_wfd(const struct peer *p)
{
	if (p->ho == PEER_HO_IN)
		return -1;
	return p->ho == PEER_HO_DONE ? p->wfd : p->fd;
}

/* Offer a relay that can hand off its pipes to do so: our first frame. */
void
peer_offer(struct peer *p)
{
	if (p->ho != PEER_HO_NONE)
		return;
	frame_put(&p->out, MSG_HANDOFF, NULL, 0);
	p->ho = PEER_HO_OFFERED;
}

/*
 * The relay's HANDOFF frame (len bytes of payload, after bytes buffered
 * behind it): it came with sshd's stdin, the client's frames now come
 * from there.  What out holds, and HANDOFF_END after it, still goes on
 * the socket.  0 or ERR_FORMAT (a frame without its descriptor, one never
 * offered, or bytes after it on the socket).
 */
int
peer_handoff(struct peer *p, size_t len, size_t after)
{
	if (p->ho != PEER_HO_OFFERED || len != 0 || after != 0 ||
	    p->pend_fd == -1)
		return ERR_FORMAT;
	p->rfd = p->pend_fd;
	p->pend_fd = -1;
	(void)fcntl(p->rfd, F_SETFL, fcntl(p->rfd, F_GETFL) | O_NONBLOCK);
	frame_put(&p->out, MSG_HANDOFF_END, NULL, 0);
	p->sock_left = buf_len(&p->out);
	p->ho = PEER_HO_IN;
	return 0;
}

/*
 * Read a handed-off peer's socket: HANDOFF_OUT with sshd's stdout once
 * the relay wrote out all we sent before HANDOFF_END; then only its end.
 * Returns 1 when the stdout pipe came, 0 for nothing yet, ERR_EOF when
 * the relay closed, ERR_FORMAT or ERR_SYSTEM for a broken one.
 */
int
peer_ctl(struct peer *p)
{
	uint8_t	tmp[1];
	ssize_t	n;
	int	fd;

	if (p->ho == PEER_HO_DONE)
		n = read(p->fd, tmp, sizeof tmp);
	else
		n = compat_recv_fd(p->fd, p->ctl + p->ctl_n,
		    sizeof p->ctl - p->ctl_n, &fd);
	if (n == 0)
		return ERR_EOF;
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == -1)
		return errno == EBADMSG ? ERR_FORMAT : ERR_SYSTEM;
	if (p->ho == PEER_HO_DONE || peer_take_fd(p, fd) != 0)
		return ERR_FORMAT;
	if ((p->ctl_n += (size_t)n) < sizeof p->ctl)
		return 0;
	if (p->ctl[0] != MSG_HANDOFF_OUT || p->ctl[1] != 0 || p->ctl[2] != 0 ||
	    p->ctl[3] != 0 || p->ctl[4] != 0 || p->pend_fd == -1 ||
	    p->sock_left != 0)
		return ERR_FORMAT;
	p->wfd = p->pend_fd;
	p->pend_fd = -1;
	(void)fcntl(p->wfd, F_SETFL, fcntl(p->wfd, F_GETFL) | O_NONBLOCK);
	p->wnap = compat_pipe_get_size(p->wfd) >= PEER_NAP_PIPE;
	p->ho = PEER_HO_DONE;
	return 1;
}
