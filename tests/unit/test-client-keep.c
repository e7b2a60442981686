/*
 * Unit tests for src/client-keep.c: the idle heartbeat interval learned
 * from the path.  The client is a bare struct; time is whatever the test
 * says.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "client-int.h"
#include "client-keep.h"

/* A client with the default 25 s interval, fixed or not. */
static struct client *
keep_client(int fixed)
{
	struct client	*c = calloc(1, sizeof *c);

	assert_non_null(c);
	c->keepalive_ms = 25000;
	ckeep_init(c, fixed);
	return c;
}

/*
 * One idle round: silent since last (both ways), the PING goes out when
 * due; answered or not.  Returns when it went out.
 */
static uint64_t
keep_round(struct client *c, uint64_t last, int answered)
{
	uint64_t	due;

	c->last_rx = c->last_tx = last;
	due = ckeep_due(c);
	c->ka_gap = 0;		/* client_ping() does this */
	ckeep_sent(c, due);
	if (answered)
		ckeep_answered(c);
	else
		ckeep_lost(c, due + 2000);
	return due;
}

/* Each answered silence doubles the interval, up to the cap. */
static void
test_grows_to_the_cap(void **state)
{
	struct client	*c = keep_client(0);
	uint64_t	 t = 1000, want = 25000;
	int		 i;

	(void)state;
	for (i = 0; i < 10; i++) {
		assert_int_equal(c->ka_ms, want);
		t = keep_round(c, t, 1);
		want = want * 2 > KEEP_MAX_MS ? KEEP_MAX_MS : want * 2;
	}
	assert_int_equal(c->ka_ms, KEEP_MAX_MS);
	free(c);
}

/*
 * A silence that is not answered: back to the longest answered one, and
 * no more growth on that path; a new path learns again.
 */
static void
test_falls_back_and_stays(void **state)
{
	struct client	*c = keep_client(0);
	uint64_t	 t = 0;

	(void)state;
	t = keep_round(c, t, 1);	/* 25 s answered -> 50 */
	t = keep_round(c, t, 1);	/* 50 s answered -> 100 */
	assert_int_equal(c->ka_ms, 100000);
	t = keep_round(c, t, 0);	/* 100 s lost -> 50 */
	assert_int_equal(c->ka_ms, 50000);
	assert_int_equal(c->ka_ceiling, 100000);
	t = keep_round(c, t, 1);
	t = keep_round(c, t, 1);
	assert_int_equal(c->ka_ms, 50000);
	ckeep_moved(c);
	assert_int_equal(c->ka_ms, 25000);
	assert_int_equal(c->ka_ceiling, 0);
	(void)keep_round(c, t, 1);
	assert_int_equal(c->ka_ms, 50000);
	free(c);
}

/* A path that drops even 25 s of silence: halve it, not below the floor. */
static void
test_short_path(void **state)
{
	struct client	*c = keep_client(0);
	uint64_t	 t = 0;

	(void)state;
	t = keep_round(c, t, 0);
	assert_int_equal(c->ka_ms, 12500);
	t = keep_round(c, t, 0);
	assert_int_equal(c->ka_ms, 6250);
	(void)keep_round(c, t, 0);
	assert_int_equal(c->ka_ms, KEEP_MIN_MS);
	free(c);
}

/*
 * The link ends with no PING out after a silence longer than any that
 * was answered (sshd's ChannelTimeout): that silence is too long too.
 * A laptop that slept an hour teaches nothing longer.
 */
static void
test_channel_timeout(void **state)
{
	struct client	*c = keep_client(0);
	uint64_t	 t = 0;

	(void)state;
	t = keep_round(c, t, 1);	/* 25 s answered -> 50 */
	t = keep_round(c, t, 1);	/* 50 s answered -> 100 */
	c->last_rx = c->last_tx = t;
	ckeep_lost(c, t + 60000);	/* channel closed after 60 s */
	assert_int_equal(c->ka_ms, 50000);
	assert_int_equal(c->ka_ceiling, 60000);
	ckeep_moved(c);
	c->last_rx = c->last_tx = t;
	ckeep_lost(c, t + 3600 * 1000);
	assert_int_equal(c->ka_ms, 25000);
	free(c);
}

/* --keepalive fixes the interval: nothing is learned. */
static void
test_fixed(void **state)
{
	struct client	*c = keep_client(1);
	uint64_t	 t = 0;

	(void)state;
	t = keep_round(c, t, 1);
	t = keep_round(c, t, 1);
	assert_int_equal(c->ka_ms, 25000);
	(void)keep_round(c, t, 0);
	assert_int_equal(c->ka_ms, 25000);
	free(c);
}

/*
 * Only the idle heartbeat teaches: a PING sent for another reason (a
 * probe after typing) clears what the answer would prove, and a loss
 * with no heartbeat out changes nothing.  Our own recent frame counts
 * as traffic: the PING waits until half the interval after it.
 */
static void
test_only_idle_pings_teach(void **state)
{
	struct client	*c = keep_client(0);

	(void)state;
	c->last_rx = 0;
	c->last_tx = 20000;
	assert_int_equal(ckeep_due(c), 32500);
	ckeep_answered(c);
	ckeep_lost(c, 21000);	/* lost while typing: not the silence */
	assert_int_equal(c->ka_ms, 25000);
	ckeep_sent(c, 32500);
	assert_int_equal(c->ka_gap, 12500);
	ckeep_answered(c);	/* 12.5 s proves less than 25 s */
	assert_int_equal(c->ka_ms, 25000);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_to_the_cap),
		cmocka_unit_test(test_falls_back_and_stays),
		cmocka_unit_test(test_short_path),
		cmocka_unit_test(test_channel_timeout),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_only_idle_pings_teach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
