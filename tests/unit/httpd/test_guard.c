/* Unit tests of src/httpd/guard.c: each phase's deadline cuts a connection
 * (its socket shut down, counted under that phase), a new phase starts a
 * new deadline, and phase changes from many threads at once while the
 * watchdog sweeps keep every deadline whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guard.h"

/* True when the socket's peer end was shut down within ms milliseconds
 * (poll sees end of file or a hang-up on our end). */
static bool cut_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0)
		return false;
	char c;
	return read(fd, &c, 1) == 0;
}

struct pair {
	int ours, theirs; /* theirs is what the guard watches, as espd's socket */
};

static struct pair pair_new(void)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	return (struct pair){.ours = sv[0], .theirs = sv[1]};
}

static void pair_free(struct pair p)
{
	close(p.ours);
	close(p.theirs);
}

/* Headers 1 s, body 3 s, send 1 s. */
static const int limits[GUARD_PHASES] = {1, 3, 1};

static void test_headers_deadline_cuts(void **state)
{
	(void)state;
	struct guard *g = guard_new(limits, 1000);
	struct pair p = pair_new();
	struct guard_conn *e = guard_open(g, p.theirs);
	assert_false(cut_within(p.ours, 600));
	assert_true(cut_within(p.ours, 1500));
	unsigned long counts[GUARD_PHASES];
	guard_counts(g, counts);
	assert_int_equal(counts[GUARD_HEADERS], 1);
	assert_int_equal(counts[GUARD_BODY], 0);
	assert_int_equal(counts[GUARD_SEND], 0);
	guard_close(g, e);
	guard_free(g);
	pair_free(p);
}

/* Entering the body phase before the headers' deadline gives the body's
 * time instead, counted from then; its end cuts under the body phase. */
static void test_next_phase_new_deadline(void **state)
{
	(void)state;
	struct guard *g = guard_new(limits, 1000);
	struct pair p = pair_new();
	struct guard_conn *e = guard_open(g, p.theirs);
	usleep(700 * 1000);
	guard_set_phase(g, e, GUARD_BODY);
	/* Past the headers' 1 s, well before the body's 3 s. */
	assert_false(cut_within(p.ours, 1300));
	assert_true(cut_within(p.ours, 2500));
	unsigned long counts[GUARD_PHASES];
	guard_counts(g, counts);
	assert_int_equal(counts[GUARD_HEADERS], 0);
	assert_int_equal(counts[GUARD_BODY], 1);
	guard_close(g, e);
	guard_free(g);
	pair_free(p);
}

/* The send phase has its own (short) deadline: a long body phase before it
 * does not carry over. */
static void test_send_phase_counted(void **state)
{
	(void)state;
	struct guard *g = guard_new(limits, 1000);
	struct pair p = pair_new();
	struct guard_conn *e = guard_open(g, p.theirs);
	guard_set_phase(g, e, GUARD_BODY);
	guard_set_phase(g, e, GUARD_SEND);
	assert_true(cut_within(p.ours, 1800));
	unsigned long counts[GUARD_PHASES];
	guard_counts(g, counts);
	assert_int_equal(counts[GUARD_SEND], 1);
	assert_int_equal(counts[GUARD_BODY], 0);
	guard_close(g, e);
	guard_free(g);
	pair_free(p);
}

/* From `pressure` open connections on, waiting for headers gets 3 s at most. */
static void test_pressure_shortens_headers(void **state)
{
	(void)state;
	const int long_headers[GUARD_PHASES] = {60, 60, 60};
	struct guard *g = guard_new(long_headers, 2);
	struct pair a = pair_new(), b = pair_new();
	struct guard_conn *ea = guard_open(g, a.theirs);
	struct guard_conn *eb = guard_open(g, b.theirs); /* the second: pressed */
	assert_true(cut_within(b.ours, 4500));
	assert_false(cut_within(a.ours, 10));
	guard_close(g, eb);
	guard_close(g, ea);
	guard_free(g);
	pair_free(a);
	pair_free(b);
}

/* Many connections changing phase from several threads while the watchdog
 * sweeps: none is ever cut (each phase restarts a deadline far away), and
 * each one left in the headers phase is cut once at the end. */
#define WORKERS 4
#define CONNS 16
struct worker {
	struct guard *g;
	struct guard_conn *e[CONNS];
};

static void *churn(void *arg)
{
	struct worker *w = arg;
	for (int round = 0; round < 5000; round++)
		for (int i = 0; i < CONNS; i++)
			guard_set_phase(w->g, w->e[i],
			                (enum guard_phase)((round + i) % GUARD_PHASES));
	for (int i = 0; i < CONNS; i++)
		guard_set_phase(w->g, w->e[i], GUARD_HEADERS);
	return NULL;
}

static void test_concurrent_phases(void **state)
{
	(void)state;
	const int three[GUARD_PHASES] = {3, 3, 3};
	struct guard *g = guard_new(three, 10000);
	struct worker w[WORKERS];
	struct pair p[WORKERS][CONNS];
	pthread_t t[WORKERS];
	for (int k = 0; k < WORKERS; k++) {
		w[k].g = g;
		for (int i = 0; i < CONNS; i++) {
			p[k][i] = pair_new();
			w[k].e[i] = guard_open(g, p[k][i].theirs);
		}
	}
	for (int k = 0; k < WORKERS; k++)
		assert_int_equal(pthread_create(&t[k], NULL, churn, &w[k]), 0);
	for (int k = 0; k < WORKERS; k++)
		pthread_join(t[k], NULL);
	unsigned long counts[GUARD_PHASES];
	guard_counts(g, counts);
	assert_int_equal(counts[GUARD_HEADERS] + counts[GUARD_BODY] + counts[GUARD_SEND], 0);
	for (int k = 0; k < WORKERS; k++)
		for (int i = 0; i < CONNS; i++)
			assert_true(cut_within(p[k][i].ours, 4500));
	guard_counts(g, counts);
	assert_int_equal(counts[GUARD_HEADERS], WORKERS * CONNS);
	assert_int_equal(counts[GUARD_BODY] + counts[GUARD_SEND], 0);
	for (int k = 0; k < WORKERS; k++)
		for (int i = 0; i < CONNS; i++) {
			guard_close(g, w[k].e[i]);
			pair_free(p[k][i]);
		}
	guard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_headers_deadline_cuts),
	    cmocka_unit_test(test_next_phase_new_deadline),
	    cmocka_unit_test(test_send_phase_counted),
	    cmocka_unit_test(test_pressure_shortens_headers),
	    cmocka_unit_test(test_concurrent_phases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
