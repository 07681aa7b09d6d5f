/* The bound on concurrent password hashes (core/pwslot.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "esp/pwslot.h"

#include <pthread.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void *take_and_report(void *arg)
{
	*(bool *)arg = pwslot_enter(true);
	if (*(bool *)arg)
		pwslot_leave();
	return NULL;
}

/* With one slot held, another thread's bounded enter gives up after the
 * wait; once it is left, the next one gets it. */
static void test_one_slot_times_out_then_frees(void **state)
{
	(void)state;
	pwslot_configure(1, 150);
	assert_true(pwslot_enter(true));
	bool got = true;
	pthread_t t;
	double t0 = now_ms();
	pthread_create(&t, NULL, take_and_report, &got);
	pthread_join(t, NULL);
	double waited = now_ms() - t0;
	assert_false(got);
	assert_true(waited >= 140);
	pwslot_leave();
	pthread_create(&t, NULL, take_and_report, &got);
	pthread_join(t, NULL);
	assert_true(got);
}

/* The thread that holds the slot takes it again (a request around its
 * password_hash) without waiting for itself; it is freed by the last leave. */
static void test_reentrant(void **state)
{
	(void)state;
	pwslot_configure(1, 100);
	assert_true(pwslot_enter(true));
	assert_true(pwslot_enter(false));
	pwslot_leave();
	bool got = true;
	pthread_t t;
	pthread_create(&t, NULL, take_and_report, &got);
	pthread_join(t, NULL);
	assert_false(got); /* still held by the outer enter */
	pwslot_leave();
	pthread_create(&t, NULL, take_and_report, &got);
	pthread_join(t, NULL);
	assert_true(got);
}

/* Two slots: two holders at once, a third waits. 0 = no bound. */
static void *hold_two(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)pwslot_enter(true);
}

static void test_two_slots_and_unbounded(void **state)
{
	(void)state;
	pwslot_configure(2, 100);
	assert_true(pwslot_enter(true));
	pthread_t t;
	void *ok;
	pthread_create(&t, NULL, hold_two, NULL);
	pthread_join(t, &ok); /* that thread exits holding its slot */
	assert_true((intptr_t)ok);
	bool got = true;
	pthread_create(&t, NULL, take_and_report, &got);
	pthread_join(t, NULL);
	assert_false(got);
	pwslot_configure(0, 0);
	pthread_create(&t, NULL, take_and_report, &got);
	pthread_join(t, NULL);
	assert_true(got);
	pwslot_leave();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_slot_times_out_then_frees),
	    cmocka_unit_test(test_reentrant),
	    cmocka_unit_test(test_two_slots_and_unbounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
