/*
 * delayer: a user-space stand-in for netem, for kernels built without it.
 *
 * It binds an NFQUEUE, holds every queued packet for a fixed delay and then
 * accepts it, or drops a given share of them at random.  The network lab
 * (tests/netlab.py) runs it in the router namespace behind an iptables
 * NFQUEUE rule in the FORWARD chain, so each forwarded packet is delayed once
 * in each direction: the delay is one-way.
 *
 *	delayer [-q queue] [-d delay_ms] [-l loss_percent]
 *
 * Settings can change while it runs: each line on stdin is "delay <ms>",
 * "loss <percent>" or "seed <n>", answered by "ok" on stdout.
 *
 * Which packets are lost comes from one random stream per direction (the
 * interface a packet came in on), so that "seed <n>" makes the losses
 * repeat: after the same seed, the k-th packet each way is lost or not
 * alike.  A benchmark gives two contenders' runs the same seed and both
 * meet the same losses at the same places in their streams (common random
 * numbers): a paired comparison, far less noisy than two independent draws
 * of a 2% loss over a hundred packets.  It prints "ready" once the
 * queue is bound.  On SIGTERM or end of stdin it accepts every packet still
 * held and exits, printing counters on stderr.
 *
 * Packets are held in arrival order; since the delay is the same for all of
 * them (a change applies to packets that arrive afterwards), the oldest one
 * is always the next due, so a FIFO and one batch verdict per wakeup do.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#define DELAYER_MAXLEN	65536		/* packets the kernel may queue */
#define DELAYER_RCVBUF	(16 << 20)	/* netlink socket buffer, bytes */
#define DELAYER_NDIR	8		/* loss streams: interfaces in */

struct held {
	uint32_t	 id;
	uint64_t	 due;		/* CLOCK_MONOTONIC, nanoseconds */
};

struct stream {
	uint32_t	 ifindex;	/* the interface packets come in on */
	uint64_t	 rng;
};

struct delayer {
	struct nfq_handle	*h;
	struct nfq_q_handle	*qh;
	struct held		*fifo;
	size_t			 cap;	/* power of two */
	size_t			 head;
	size_t			 n;
	uint64_t		 delay;	/* nanoseconds */
	uint32_t		 loss;	/* drop threshold over 2^32 */
	uint64_t		 seed;
	struct stream		 dir[DELAYER_NDIR];
	int			 ndir;
	unsigned long long	 seen;
	unsigned long long	 dropped;
	unsigned long long	 overruns;
	char			 line[256];
	size_t			 linelen;
};

static volatile sig_atomic_t delayer_quit;

static void	delayer_usage(void) __attribute__((noreturn));

/* Print usage and exit: bad command line. */
static void
delayer_usage(void)
{
	fprintf(stderr,
	    "usage: delayer [-q queue] [-d delay_ms] [-l loss_percent]\n");
	exit(2);
}

/* Note a termination request; the main loop does the work. */
static void
delayer_onsignal(int sig)
{
	(void)sig;
	delayer_quit = 1;
}

/* The monotonic clock in nanoseconds. */
static uint64_t
delayer_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* splitmix64's finaliser: spreads a seed over all 64 bits. */
static uint64_t
delayer_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Start every direction's stream afresh from seed. */
static void
delayer_seed(struct delayer *d, uint64_t seed)
{
	d->seed = seed;
	d->ndir = 0;
}

/*
 * The next number of the loss stream of packets coming in on ifindex
 * (xorshift64*: cheap, good enough to pick which packets are lost).
 */
static uint32_t
delayer_random(struct delayer *d, uint32_t ifindex)
{
	struct stream	*s = NULL;
	int		 i;

	for (i = 0; i < d->ndir; i++)
		if (d->dir[i].ifindex == ifindex)
			s = &d->dir[i];
	if (s == NULL) {
		s = &d->dir[d->ndir < DELAYER_NDIR ? d->ndir++ :
		    DELAYER_NDIR - 1];
		s->ifindex = ifindex;
		s->rng = delayer_mix(d->seed ^ delayer_mix(ifindex)) | 1;
	}
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (uint32_t)((s->rng * 2685821657736338717ULL) >> 32);
}

/* Parse a non-negative decimal number of at most 1e6; -1 if malformed. */
static double
delayer_number(const char *s)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0 && v <= 1e6))
		return -1;
	return v;
}

/* Set the delay from milliseconds. */
static void
delayer_set_delay(struct delayer *d, double ms)
{
	d->delay = (uint64_t)(ms * 1e6);
}

/* Set the loss rate from a percentage. */
static int
delayer_set_loss(struct delayer *d, double pct)
{
	if (pct > 100)
		return -1;
	d->loss = (uint32_t)(pct / 100.0 * 4294967295.0);
	return 0;
}

/* Append a packet to the FIFO, doubling it when full. */
static int
delayer_push(struct delayer *d, uint32_t id, uint64_t due)
{
	struct held	*nf;
	size_t		 i, ncap;

	if (d->n == d->cap) {
		ncap = d->cap != 0 ? d->cap * 2 : 1024;
		nf = calloc(ncap, sizeof *nf);
		if (nf == NULL)
			return -1;
		for (i = 0; i < d->n; i++)
			nf[i] = d->fifo[(d->head + i) & (d->cap - 1)];
		free(d->fifo);
		d->fifo = nf;
		d->cap = ncap;
		d->head = 0;
	}
	d->fifo[(d->head + d->n) & (d->cap - 1)].id = id;
	d->fifo[(d->head + d->n) & (d->cap - 1)].due = due;
	d->n++;
	return 0;
}

/*
 * Called by libnetfilter_queue for each queued packet: drop it now if it is
 * lost, otherwise remember it until it is due.
 */
static int
delayer_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg,
    struct nfq_data *nfa, void *arg)
{
	struct delayer			*d = arg;
	struct nfqnl_msg_packet_hdr	*ph;
	uint32_t			 id;

	(void)msg;
	ph = nfq_get_msg_packet_hdr(nfa);
	if (ph == NULL)
		return 0;
	id = ntohl(ph->packet_id);
	d->seen++;
	if (d->loss != 0 &&
	    delayer_random(d, nfq_get_indev(nfa)) < d->loss) {
		d->dropped++;
		return nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
	}
	if (d->delay == 0 && d->n == 0)
		return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
	if (delayer_push(d, id, delayer_now() + d->delay) == -1)
		return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
	return 0;
}

/*
 * Accept every held packet due by now (all of them if force is set) with
 * one batch verdict: ids grow in arrival order and lost packets already
 * had their verdict, so accepting up to the last due id is exact.
 */
static void
delayer_release(struct delayer *d, int force)
{
	uint64_t	now;
	uint32_t	last = 0;
	int		any = 0;

	now = delayer_now();
	while (d->n > 0 && (force || d->fifo[d->head].due <= now)) {
		last = d->fifo[d->head].id;
		any = 1;
		d->head = (d->head + 1) & (d->cap - 1);
		d->n--;
	}
	if (any && nfq_set_verdict_batch(d->qh, last, NF_ACCEPT) < 0)
		fprintf(stderr, "delayer: verdict: %s\n", strerror(errno));
}

/* Act on one command line from stdin. */
static void
delayer_command(struct delayer *d, char *line)
{
	double	v = -1;

	if (strncmp(line, "delay ", 6) == 0) {
		if ((v = delayer_number(line + 6)) >= 0)
			delayer_set_delay(d, v);
	} else if (strncmp(line, "loss ", 5) == 0) {
		if ((v = delayer_number(line + 5)) >= 0 &&
		    delayer_set_loss(d, v) == -1)
			v = -1;
	} else if (strncmp(line, "seed ", 5) == 0) {
		if ((v = delayer_number(line + 5)) >= 0)
			delayer_seed(d, (uint64_t)v);
	}
	printf("%s\n", v >= 0 ? "ok" : "error");
	fflush(stdout);
}

/* Read what stdin has; returns -1 at end of file. */
static int
delayer_stdin(struct delayer *d)
{
	char	 buf[256];
	ssize_t	 n, i;

	n = read(STDIN_FILENO, buf, sizeof buf);
	if (n == 0)
		return -1;
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			d->line[d->linelen] = '\0';
			delayer_command(d, d->line);
			d->linelen = 0;
		} else if (d->linelen < sizeof d->line - 1)
			d->line[d->linelen++] = buf[i];
	}
	return 0;
}

/* Drain the queue socket, handing each message to the library. */
static void
delayer_queue(struct delayer *d, int fd)
{
	char	buf[65536] __attribute__((aligned));
	ssize_t	n;

	for (;;) {
		n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n > 0) {
			nfq_handle_packet(d->h, buf, (int)n);
			continue;
		}
		if (n < 0 && errno == ENOBUFS) {
			/* The kernel dropped packets: the queue overran. */
			d->overruns++;
			continue;
		}
		break;
	}
}

/* Bind the queue with the settings a delayer needs. */
static int
delayer_open(struct delayer *d, uint16_t queue)
{
	d->h = nfq_open();
	if (d->h == NULL)
		return -1;
	d->qh = nfq_create_queue(d->h, queue, delayer_packet, d);
	if (d->qh == NULL)
		return -1;
	if (nfq_set_mode(d->qh, NFQNL_COPY_META, 0) < 0)
		return -1;
	nfq_set_queue_maxlen(d->qh, DELAYER_MAXLEN);
	/* Take segmentation offload packets whole instead of split. */
	nfq_set_queue_flags(d->qh, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO);
	nfnl_rcvbufsiz(nfq_nfnlh(d->h), DELAYER_RCVBUF);
	return 0;
}

/* Wait for packets, commands or the next due time, until told to stop. */
static void
delayer_loop(struct delayer *d)
{
	struct pollfd	 pfd[2];
	struct timespec	 ts, *tsp;
	sigset_t	 empty;
	uint64_t	 now, wait;
	int		 nfd = 2;

	sigemptyset(&empty);
	pfd[0].fd = nfq_fd(d->h);
	pfd[0].events = POLLIN;
	pfd[1].fd = STDIN_FILENO;
	pfd[1].events = POLLIN;
	while (!delayer_quit) {
		tsp = NULL;
		if (d->n > 0) {
			now = delayer_now();
			wait = d->fifo[d->head].due > now ?
			    d->fifo[d->head].due - now : 0;
			ts.tv_sec = (time_t)(wait / 1000000000ULL);
			ts.tv_nsec = (long)(wait % 1000000000ULL);
			tsp = &ts;
		}
		if (ppoll(pfd, (nfds_t)nfd, tsp, &empty) == -1 &&
		    errno != EINTR) {
			perror("delayer: ppoll");
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLERR))
			delayer_queue(d, pfd[0].fd);
		if (nfd > 1 && (pfd[1].revents & (POLLIN | POLLHUP))) {
			if (delayer_stdin(d) == -1)
				break;
		}
		delayer_release(d, 0);
	}
}

int
main(int argc, char **argv)
{
	struct delayer		d;
	struct sigaction	sa;
	sigset_t		block;
	double			v;
	int			ch, queue = 0;

	memset(&d, 0, sizeof d);
	delayer_seed(&d, delayer_now() ^ ((uint64_t)getpid() << 32));
	while ((ch = getopt(argc, argv, "q:d:l:")) != -1) {
		switch (ch) {
		case 'q':
			if ((v = delayer_number(optarg)) < 0 || v > 65535)
				delayer_usage();
			queue = (int)v;
			break;
		case 'd':
			if ((v = delayer_number(optarg)) < 0)
				delayer_usage();
			delayer_set_delay(&d, v);
			break;
		case 'l':
			if ((v = delayer_number(optarg)) < 0 ||
			    delayer_set_loss(&d, v) == -1)
				delayer_usage();
			break;
		default:
			delayer_usage();
		}
	}
	if (optind != argc)
		delayer_usage();

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = delayer_onsignal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	fcntl(STDIN_FILENO, F_SETFL,
	    fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);

	if (delayer_open(&d, (uint16_t)queue) == -1) {
		fprintf(stderr, "delayer: cannot bind queue %d: %s\n", queue,
		    strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	delayer_loop(&d);

	delayer_release(&d, 1);
	nfq_destroy_queue(d.qh);
	nfq_close(d.h);
	fprintf(stderr, "delayer: %llu packets, %llu dropped, %llu overruns\n",
	    d.seen, d.dropped, d.overruns);
	free(d.fifo);
	return 0;
}
