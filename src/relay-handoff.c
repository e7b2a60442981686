/*
 * The relay's handoff: once bridged to a daemon that offers it, the relay
 * passes sshd's pipes (its stdin, then its stdout) to the daemon over the
 * Unix socket and stays out of the byte path, holding only the socket
 * until the daemon is done.  docs/ARCHITECTURE.md "The relay's handoff"
 * tells the drain both ways; in short:
 *
 *  - the relay says HELLO_HANDOFF and copies only whole frames both ways
 *    until the daemon's first frame says whether it takes the pipes
 *    (HANDOFF) or not (anything else: splicing as before);
 *  - up: it reads stdin only to the end of the frame it is in, writes
 *    all it holds, then sends HANDOFF with stdin attached and reads
 *    stdin no more;
 *  - down: the daemon answers HANDOFF_END after the last bytes it sends
 *    on the socket; the relay writes all before it to stdout, then
 *    sends HANDOFF_OUT with stdout attached.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "frame.h"
#include "log.h"
#include "proto.h"
#include "relay-int.h"

/* True if fd can be passed and used by the daemon: a pipe or a socket. */
static int
relay_ho_passable(int fd)
{
	struct stat	st;

	if (fstat(fd, &st) == -1)
		return 0;
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
}

/*
 * After the client's HELLO: ask the daemon for the handoff when this
 * connection attaches or starts one session over pipes we can pass.
 */
void
relay_ho_ask(struct relay *r)
{
	r->ho = RHO_NONE;
	if (r->h.version < PROTO_V_HANDOFF || getenv("LIMPET_NO_HANDOFF"))
		return;
	if (r->h.op != OP_ATTACH && r->h.op != OP_OPEN && r->h.op != OP_NEW)
		return;
	if ((r->h.flags & HELLO_MANY) || !relay_ho_passable(STDIN_FILENO) ||
	    !relay_ho_passable(STDOUT_FILENO))
		return;
	r->h.flags |= HELLO_HANDOFF;
	r->ho = RHO_WAIT;
}

/* Say HELLO again without it (an older daemon, oldest version). */
void
relay_ho_forget(struct relay *r)
{
	r->h.flags &= ~HELLO_HANDOFF;
	r->ho = RHO_NONE;
}

/*
 * The daemon's first frame, in r->first: HANDOFF is its offer (taken
 * out), anything else is a daemon that will not (splicing as before).
 */
void
relay_ho_first(struct relay *r)
{
	struct frame	f;

	if (r->ho != RHO_WAIT || relay_frame_peek(&r->first, &f) != 1)
		return;
	if (f.type != MSG_HANDOFF || f.len != 0) {
		r->ho = RHO_NONE;
		return;
	}
	buf_consume(&r->first, FRAME_HDR);
	r->down_whole = buf_len(&r->down);	/* all from before it */
	r->ho = RHO_CUT;
	log_info("handoff: the daemon takes sshd's pipes");
}

/*
 * Advance *whole over the frames that are whole in b.  Returns the type
 * of the frame left unfinished, 0 if at a boundary or -1 for a frame too
 * big.  With end set, HANDOFF_END is found and taken out of b.
 */
static int
relay_ho_walk(struct buf *b, size_t *whole, int end, int *seen)
{
	struct frame	f;
	int		n;

	while ((n = relay_frame_at(buf_ptr(b) + *whole, buf_len(b) - *whole,
	    &f)) == 1) {
		if (end && f.type == MSG_HANDOFF_END) {
			if (f.len != 0 || *whole + FRAME_HDR != buf_len(b))
				return -1;	/* bytes after its last */
			buf_truncate(b, *whole);
			*seen = 1;
			return 0;
		}
		*whole += FRAME_HDR + f.len;
	}
	return n < 0 ? -1 : 0;
}

/* Find the frame boundaries both ways; a broken stream ends the relay. */
void
relay_ho_scan(struct relay *r)
{
	int	seen = 0;

	if (r->phase != PH_PIPE || r->ho == RHO_NONE || r->ho == RHO_DONE)
		return;
	if (r->ho == RHO_CUT && !r->in_open) {
		r->ho = RHO_NONE;	/* the client is gone: no handoff */
		return;
	}
	if (r->ho == RHO_WAIT || r->ho == RHO_CUT) {
		if (relay_ho_walk(&r->up, &r->up_whole, 0, &seen) != 0) {
			relay_finish(r, 1);
			return;
		}
	}
	if (r->ho == RHO_CUT || r->ho == RHO_SENT) {
		if (r->ho_end && buf_len(&r->down) > r->down_whole) {
			relay_finish(r, 1);	/* bytes after HANDOFF_END */
			return;
		}
		if (relay_ho_walk(&r->down, &r->down_whole, r->ho == RHO_SENT,
		    &seen) != 0) {
			relay_finish(r, 1);
			return;
		}
		if (seen)
			r->ho_end = 1;
	}
}

/* Bytes of up that may go to the daemon now: whole frames only. */
size_t
relay_ho_up_room(const struct relay *r)
{
	if (r->ho == RHO_WAIT || r->ho == RHO_CUT)
		return r->up_whole;
	return buf_len(&r->up);
}

/* Bytes of down that may go to the client now: before HANDOFF_END. */
size_t
relay_ho_down_room(const struct relay *r)
{
	if (r->ho == RHO_CUT || r->ho == RHO_SENT)
		return r->down_whole;
	return buf_len(&r->down);
}

/*
 * Write up to k bytes of b to fd; the count written (also taken off the
 * boundary trackers by the caller), or -1 with errno.
 */
ssize_t
relay_ho_write(struct buf *b, int fd, size_t k, size_t *whole, int track)
{
	ssize_t	n;

	if (k == 0)
		return 0;
	if ((n = write(fd, buf_ptr(b), k)) > 0) {
		buf_consume(b, (size_t)n);
		if (track)
			*whole -= (size_t)n;
	}
	return n;
}

/* True while stdin is read: never past the frame a cut is in. */
int
relay_ho_reading(const struct relay *r)
{
	if (r->ho == RHO_CUT)
		return buf_len(&r->up) != r->up_whole;
	return r->ho != RHO_SENT && r->ho != RHO_DONE;
}

/* Put /dev/null where fd was (so it is never reused for another file). */
static void
relay_ho_release(int fd)
{
	int	null;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		close(fd);
		return;
	}
	if (null != fd) {
		dup2(null, fd);
		close(null);
	}
}

/* Send a frame of type with fd attached; 1 sent, 0 try later, -1 broken. */
static int
relay_ho_pass(struct relay *r, uint8_t type, int fd)
{
	uint8_t	hdr[FRAME_HDR] = { type, 0, 0, 0, 0 };
	ssize_t	n;

	n = compat_send_fd(r->fd, hdr, sizeof hdr, fd);
	if (n == (ssize_t)sizeof hdr) {
		relay_ho_release(fd);
		return 1;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	relay_finish(r, 0);
	return -1;
}

/* True when the socket is wanted writable for a descriptor to pass. */
int
relay_ho_due(const struct relay *r)
{
	if (r->ho == RHO_CUT)
		return r->in_open && buf_len(&r->up) == 0;
	return r->ho == RHO_SENT && r->ho_end && buf_len(&r->down) == 0;
}

/*
 * The socket is writable: pass stdin once up is empty at a boundary,
 * stdout once all before HANDOFF_END is written.  A client whose stdin
 * ended before the cut gets no handoff.
 */
void
relay_ho_step(struct relay *r)
{
	if (r->ho == RHO_CUT && !r->in_open) {
		r->ho = RHO_NONE;
		return;
	}
	if (!relay_ho_due(r))
		return;
	if (r->ho == RHO_CUT) {
		if (relay_ho_pass(r, MSG_HANDOFF, STDIN_FILENO) == 1) {
			r->ho = RHO_SENT;
			log_info("handoff: stdin passed to the daemon");
		}
	} else if (relay_ho_pass(r, MSG_HANDOFF_OUT, STDOUT_FILENO) == 1) {
		r->ho = RHO_DONE;
		log_info("handoff: stdout passed to the daemon; the relay "
		    "holds nothing of the byte path");
	}
}

/* After the handoff: the daemon closing the socket (or talking) ends us. */
void
relay_ho_done_io(struct relay *r)
{
	uint8_t	b[1];
	ssize_t	n;

	n = read(r->fd, b, sizeof b);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	log_info("handoff: the daemon is done with the pipes");
	relay_finish(r, 0);
	r->phase = PH_DONE;
}
