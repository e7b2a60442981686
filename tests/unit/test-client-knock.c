/*
 * Unit tests for src/client-knock.c: knocks go only while an outage's
 * SYNs are unanswered, at their pace; the first answered (or refused)
 * starts an attempt at once and holds the next.  The client is a bare
 * struct, the server a listening socket on loopback.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "client-int.h"

/* A listening socket on 127.0.0.1; its address in to. */
static int
knock_listener(struct sockaddr_storage *to)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)to;
	socklen_t		 len = sizeof *sin;
	int			 fd;

	memset(to, 0, sizeof *to);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, len), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

/* A client waiting to retry after a loss at t=1000, knocks armed. */
static struct client *
knock_client(const struct sockaddr_storage *to)
{
	struct client	*c = calloc(1, sizeof *c);

	assert_non_null(c);
	c->state = ST_WAITING;
	c->attached_once = 1;
	c->lost_at = 1000;
	c->next_try = 999999;
	c->fails = 3;
	c->knock.to = *to;
	c->knock.have = 1;
	c->knock.armed = 1;
	return c;
}

/* Poll the knocks for up to a second and hand the answer over. */
static void
knock_wait(struct client *c, uint64_t now)
{
	struct pollfd	pfd[KNOCK_MAX];
	int		n = 0;

	knock_poll(c, pfd, &n);
	if (n == 0)
		return;		/* answered at once */
	assert_true(poll(pfd, n, 1000) > 0);
	knock_read(c, pfd, now);
}

/*
 * A knock that connects: the attempt is due at once, the knocks are
 * closed, disarmed and held; the listener got the SYN.
 */
static void
test_answered_starts_an_attempt(void **state)
{
	struct sockaddr_storage	 to;
	struct client		*c;
	int			 lfd, afd;

	(void)state;
	lfd = knock_listener(&to);
	c = knock_client(&to);
	knock_step(c, 2000);
	assert_int_equal(c->knock.sent, 1);
	knock_wait(c, 2050);
	assert_true(c->next_try == 2000 || c->next_try == 2050);
	assert_int_equal(c->fails, 0);
	assert_int_equal(c->knock.n, 0);
	assert_int_equal(c->knock.armed, 0);
	assert_true(c->knock.hold >= 2000 + KNOCK_HOLD_MS);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd != -1);
	close(afd);
	/* Disarmed: no more knocks, whatever the time. */
	knock_step(c, 9000);
	assert_int_equal(c->knock.sent, 1);
	close(lfd);
	free(c);
}

/* A refusal (the host is back, the port closed) counts as an answer. */
static void
test_refused_is_an_answer(void **state)
{
	struct sockaddr_storage	 to;
	struct client		*c;

	(void)state;
	close(knock_listener(&to));	/* the port is closed now */
	c = knock_client(&to);
	knock_step(c, 2000);
	knock_wait(c, 2010);
	assert_int_equal(c->knock.n, 0);
	assert_int_equal(c->knock.armed, 0);
	assert_true(c->next_try == 2000 || c->next_try == 2010);
	free(c);
}

/*
 * No knock while the path has not shown a dead SYN (a plain reconnect on
 * a healthy path), none without the server's address, none once the
 * session is up; up also closes and disarms.
 */
static void
test_only_while_the_path_is_dead(void **state)
{
	struct sockaddr_storage	 to;
	struct client		*c;
	int			 lfd;

	(void)state;
	lfd = knock_listener(&to);
	c = knock_client(&to);
	c->knock.armed = 0;
	knock_step(c, 2000);
	assert_int_equal(c->knock.sent, 0);
	assert_int_equal(knock_due(c), 0);
	c->knock.armed = 1;
	c->knock.have = 0;
	knock_step(c, 2000);
	assert_int_equal(c->knock.sent, 0);
	c->knock.have = 1;
	c->state = ST_UP;
	knock_step(c, 2000);
	assert_int_equal(c->knock.sent, 0);
	assert_int_equal(c->knock.armed, 0);
	assert_int_equal(knock_due(c), 0);
	close(lfd);
	free(c);
}

/*
 * The pace: every KNOCK_MS for KNOCK_FAST_MS of outage, then every
 * KNOCK_SLOW_MS; never before the hold ends; a knock is closed after
 * its life (and one stays open before it).
 */
static void
test_pace_hold_and_life(void **state)
{
	struct sockaddr_storage	 to;
	struct client		*c;
	int			 lfd;

	(void)state;
	lfd = knock_listener(&to);
	c = knock_client(&to);
	c->knock.last = 2000;
	assert_int_equal(knock_due(c), 2000 + KNOCK_MS);
	c->knock.last = 1000 + KNOCK_FAST_MS;
	assert_int_equal(knock_due(c), 1000 + KNOCK_FAST_MS + KNOCK_SLOW_MS);
	c->knock.hold = 1000 + KNOCK_FAST_MS + 5000;
	assert_int_equal(knock_due(c), c->knock.hold);
	knock_step(c, c->knock.hold - 1);
	assert_int_equal(c->knock.sent, 0);
	/* A knock's life: a socket of its own, open until then. */
	c->knock.armed = 0;
	c->knock.fd[0] = socket(AF_INET, SOCK_STREAM, 0);
	c->knock.at[0] = 5000;
	c->knock.n = 1;
	c->srtt = 50;
	assert_int_equal(knock_due(c), 5000 + KNOCK_LIFE_MS + 100);
	knock_step(c, 5000 + KNOCK_LIFE_MS + 99);
	assert_int_equal(c->knock.n, 1);
	knock_step(c, 5000 + KNOCK_LIFE_MS + 100);
	assert_int_equal(c->knock.n, 0);
	close(lfd);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answered_starts_an_attempt),
		cmocka_unit_test(test_refused_is_an_answer),
		cmocka_unit_test(test_only_while_the_path_is_dead),
		cmocka_unit_test(test_pace_hold_and_life),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
