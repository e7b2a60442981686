/*
 * The session daemon's framed connections over non-blocking fds.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "daemon-peer.h"
#include "xmalloc.h"

/* Wrap fd (already non-blocking) in a new peer. */
struct peer *
peer_new(int fd)
{
	struct peer	*p = xcalloc(1, sizeof *p);

	p->fd = fd;
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
	frame_dec_free(&p->dec);
	buf_free(&p->out);
	free(p);
}

/*
 * Read what the fd has into the decoder.  Returns 1 if bytes arrived, 0 if
 * none were ready, ERR_EOF at end of file, ERR_SYSTEM on error.
 */
int
peer_fill(struct peer *p)
{
	ssize_t	n;

	n = frame_dec_read(&p->dec, p->fd);
	if (n > 0) {
		p->last_rx = clock_ms();
		return 1;
	}
	if (n == 0)
		return ERR_EOF;
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

	if (buf_len(&p->out) == 0 && !p->wwait)
		p->tx_ok = now;
	while (buf_len(&p->out) > 0) {
		n = buf_write_fd(&p->out, p->fd);
		if (n > 0) {
			p->tx_ok = now;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return ERR_SYSTEM;
	}
	return 0;
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
