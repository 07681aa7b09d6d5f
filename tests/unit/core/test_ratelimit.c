/*
 * Unit tests of src/core/ratelimit.c on both engines: SQLite always (a
 * temporary file), PostgreSQL when ESP_PG_CLUSTER names a cluster started
 * with scripts/pg-test-cluster.sh (then never skipped silently).  The point
 * of the limiter is that a reservation is atomic: N threads on N
 * connections reserving at once get exactly `limit` allowed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esp/db.h"
#include "esp/ratelimit.h"
#include "esp/util.h"
#include "../testdir.h"

#define MIGRATIONS ESP_SOURCE_DIR "/src/db/migrations"
#define THREADS 8

struct fixture {
	char *target;
	char *dir; /* SQLite */
	db_pool *pool;
	db_conn *c;
};

static int open_store(struct fixture *f)
{
	const char *err = NULL;
	int applied = 0;
	f->pool = db_pool_open(f->target, THREADS, &err);
	if (!f->pool || db_migrate(f->pool, MIGRATIONS, &applied) != DB_OK) {
		print_error("cannot open and migrate %s: %s\n", f->target, err ? err : "migration");
		return -1;
	}
	f->c = db_acquire(f->pool);
	return 0;
}

static int setup_sqlite(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	f->dir = test_dir_make("ratelimit");
	f->target = xasprintf("%s/esp.db", f->dir);
	return open_store(f);
}

/* A fresh database in the cluster, made by the project's script. */
static int setup_pg(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	static int counter;
	char *cmd = xasprintf("bash '%s/scripts/pg-test-cluster.sh' newdb '%s' esp_unit_rl_%ld_%d",
	                      ESP_SOURCE_DIR, getenv("ESP_PG_CLUSTER"), (long)getpid(), ++counter);
	FILE *p = popen(cmd, "r");
	char line[512] = "";
	if (!p || !fgets(line, sizeof line, p))
		line[0] = '\0';
	int rc = p ? pclose(p) : -1;
	free(cmd);
	line[strcspn(line, "\r\n")] = '\0';
	if (rc != 0 || strncmp(line, "postgresql://", 13) != 0) {
		print_error("no PostgreSQL test database (status %d, \"%s\")\n", rc, line);
		return -1;
	}
	f->target = xstrdup(line);
	return open_store(f);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->c)
		db_release(f->pool, f->c);
	db_pool_close(f->pool);
	if (f->dir) {
		test_dir_remove(f->dir);
		free(f->dir);
	}
	free(f->target);
	free(f);
	return 0;
}

static int64_t count_of(db_conn *c, const char *key)
{
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(c, "SELECT count FROM rate_limits WHERE key = $1", &r, P_TEXT(key)), DB_OK);
	int64_t n = r->nrows ? db_get_int(r, 0, 0, -1) : -1;
	db_result_free(r);
	return n;
}

static void test_limit_and_window(void **state)
{
	struct fixture *f = *state;
	struct ratelimit_verdict v;
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(ratelimit_reserve(f->c, "k", 3, 60, &v), DB_OK);
		assert_true(v.allowed);
		assert_int_equal(v.count, i);
		assert_int_equal(v.retry_after, 0);
	}
	int64_t end = v.window_end;
	assert_true(end > time_now() + 55 && end <= time_now() + 60);
	/* Refused, with the time to the window's end; refusals do not grow it. */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ratelimit_reserve(f->c, "k", 3, 60, &v), DB_OK);
		assert_false(v.allowed);
		assert_true(v.retry_after >= 55 && v.retry_after <= 60);
		assert_int_equal(v.window_end, end);
	}
	assert_int_equal(count_of(f->c, "k"), 4);
	/* Other keys count on their own. */
	assert_int_equal(ratelimit_reserve(f->c, "other", 3, 60, &v), DB_OK);
	assert_true(v.allowed);
	assert_int_equal(v.count, 1);
	/* The window over, a new one opens with this event. */
	assert_int_equal(DB_EXEC(f->c, "UPDATE rate_limits SET window_end = $1 WHERE key = 'k'",
	                         NULL, P_INT(time_now())),
	                 DB_OK);
	assert_int_equal(ratelimit_reserve(f->c, "k", 3, 60, &v), DB_OK);
	assert_true(v.allowed);
	assert_int_equal(v.count, 1);
	assert_true(v.window_end > end - 1);
}

static void test_release_and_clear(void **state)
{
	struct fixture *f = *state;
	struct ratelimit_verdict a, b, refused;
	assert_int_equal(ratelimit_reserve(f->c, "k", 2, 60, &a), DB_OK);
	assert_int_equal(ratelimit_reserve(f->c, "k", 2, 60, &b), DB_OK);
	assert_int_equal(ratelimit_reserve(f->c, "k", 2, 60, &refused), DB_OK);
	assert_false(refused.allowed);
	/* A refused verdict gives nothing back; an allowed one frees its slot. */
	assert_int_equal(ratelimit_release(f->c, "k", 2, &refused), DB_OK);
	assert_int_equal(count_of(f->c, "k"), 3);
	assert_int_equal(ratelimit_release(f->c, "k", 2, &b), DB_OK);
	assert_int_equal(count_of(f->c, "k"), 1);
	struct ratelimit_verdict c;
	assert_int_equal(ratelimit_reserve(f->c, "k", 2, 60, &c), DB_OK);
	assert_true(c.allowed);
	assert_int_equal(ratelimit_reserve(f->c, "k", 2, 60, &c), DB_OK);
	assert_false(c.allowed);
	/* A slot of a window that has ended is not taken from the next one. */
	struct ratelimit_verdict stale = a;
	stale.window_end -= 1000;
	assert_int_equal(ratelimit_release(f->c, "k", 2, &stale), DB_OK);
	assert_int_equal(count_of(f->c, "k"), 3);
	assert_int_equal(ratelimit_clear(f->c, "k"), DB_OK);
	assert_int_equal(count_of(f->c, "k"), -1);
	/* No limit: always allowed, nothing written. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ratelimit_reserve(f->c, "free", 0, 60, &c), DB_OK);
		assert_true(c.allowed);
	}
	assert_int_equal(count_of(f->c, "free"), -1);
}

static void test_purge(void **state)
{
	struct fixture *f = *state;
	struct ratelimit_verdict s, l;
	assert_int_equal(ratelimit_reserve(f->c, "short", 5, 1, &s), DB_OK);
	assert_int_equal(ratelimit_reserve(f->c, "long", 5, 3600, &l), DB_OK);
	assert_true(l.window_end > s.window_end + 1);
	/* Times relative to the window's end, not the clock: a second that
	 * ticks between the reservation and the purge (a busy machine) must
	 * not end the short window early. */
	int n = -1;
	assert_int_equal(ratelimit_purge(f->c, s.window_end - 1, &n), DB_OK);
	assert_int_equal(n, 0);
	assert_int_equal(count_of(f->c, "short"), 1);
	assert_int_equal(ratelimit_purge(f->c, s.window_end, &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(count_of(f->c, "short"), -1);
	assert_int_equal(count_of(f->c, "long"), 1);
}

/* ---- concurrency ---------------------------------------------------------- */

struct racer {
	db_pool *pool;
	pthread_barrier_t *start;
	const char *key;
	int limit, tries;
	int allowed, refused, errors;
};

static void *race(void *arg)
{
	struct racer *t = arg;
	db_conn *c = db_acquire(t->pool);
	pthread_barrier_wait(t->start);
	for (int i = 0; i < t->tries; i++) {
		struct ratelimit_verdict v;
		if (ratelimit_reserve(c, t->key, t->limit, 600, &v) != DB_OK)
			t->errors++;
		else if (v.allowed)
			t->allowed++;
		else
			t->refused++;
	}
	db_release(t->pool, c);
	return NULL;
}

/* THREADS threads, each on its own connection, reserve `tries` times each. */
static void run_race(struct fixture *f, const char *key, int limit, int tries, int *allowed,
                     int *refused)
{
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, THREADS);
	struct racer t[THREADS];
	pthread_t tid[THREADS];
	for (int i = 0; i < THREADS; i++) {
		t[i] = (struct racer){
		    .pool = f->pool, .start = &start, .key = key, .limit = limit, .tries = tries};
		assert_int_equal(pthread_create(&tid[i], NULL, race, &t[i]), 0);
	}
	*allowed = *refused = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(t[i].errors, 0);
		*allowed += t[i].allowed;
		*refused += t[i].refused;
	}
	pthread_barrier_destroy(&start);
}

static void test_concurrent_reservations(void **state)
{
	struct fixture *f = *state;
	/* The fixture's connection goes back: the threads need all of them. */
	db_release(f->pool, f->c);
	f->c = NULL;
	int allowed, refused;
	/* One attempt each, a limit below the number of threads. */
	run_race(f, "login:user:alice", 5, 1, &allowed, &refused);
	assert_int_equal(allowed, 5);
	assert_int_equal(refused, THREADS - 5);
	/* Many attempts each on a new key (its first row is inserted by a race too). */
	run_race(f, "register:addr:192.0.2.7", 37, 20, &allowed, &refused);
	assert_int_equal(allowed, 37);
	assert_int_equal(refused, THREADS * 20 - 37);
	f->c = db_acquire(f->pool);
	assert_int_equal(count_of(f->c, "register:addr:192.0.2.7"), 38);
}

#define ENGINE_TESTS(setup)                                                                        \
	cmocka_unit_test_setup_teardown(test_limit_and_window, setup, teardown),                   \
	    cmocka_unit_test_setup_teardown(test_release_and_clear, setup, teardown),              \
	    cmocka_unit_test_setup_teardown(test_purge, setup, teardown),                          \
	    cmocka_unit_test_setup_teardown(test_concurrent_reservations, setup, teardown)

int main(void)
{
	const struct CMUnitTest sqlite_tests[] = {ENGINE_TESTS(setup_sqlite)};
	const struct CMUnitTest pg_tests[] = {ENGINE_TESTS(setup_pg)};
	int failed = cmocka_run_group_tests_name("ratelimit sqlite", sqlite_tests, NULL, NULL);
	const char *cluster = getenv("ESP_PG_CLUSTER");
	if (cluster && *cluster)
		failed += cmocka_run_group_tests_name("ratelimit postgresql", pg_tests, NULL, NULL);
	else
		printf("PostgreSQL tests not run: ESP_PG_CLUSTER is not set\n");
	return failed ? 1 : 0;
}
