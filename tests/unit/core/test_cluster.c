/*
 * Unit tests of what several espd share through the store (src/core/cluster.c,
 * the CRL's re-signing in src/core/revoke.c, 013_cluster.sql) on both
 * engines: the maintenance lease, the deployment record, instance numbers,
 * the CRL numbers, and the generations of settings and provinces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "esp/cluster.h"
#include "esp/generation.h"
#include "esp/revoke.h"
#include "esp/seed.h"
#include "../dbfixture.h"
#include "../testdir.h"
#include "storetest.h"

static void test_lease(void **state)
{
	struct fixture *f = *state;
	int64_t now = 1000000;
	assert_true(lease_take(f->c, "maintenance", 1, now, 60));
	/* Another holder waits while the lease runs; the holder renews it. */
	assert_false(lease_take(f->c, "maintenance", 2, now + 10, 60));
	assert_true(lease_take(f->c, "maintenance", 1, now + 30, 60));
	assert_false(lease_take(f->c, "maintenance", 2, now + 80, 60));
	/* Not renewed: it expires and the other takes it over. */
	assert_true(lease_take(f->c, "maintenance", 2, now + 90, 60));
	assert_false(lease_take(f->c, "maintenance", 1, now + 91, 60));
	/* Released on a clean stop: taken at once. */
	lease_release(f->c, "maintenance", 2);
	assert_true(lease_take(f->c, "maintenance", 1, now + 92, 60));
	/* Another lease is another row. */
	assert_true(lease_take(f->c, "other", 2, now + 92, 60));
}

static void test_deployment(void **state)
{
	struct fixture *f = *state;
	char *rec = NULL;
	assert_null(deployment_get(f->c, "public_url"));
	assert_int_equal(deployment_check(f->c, "public_url", "https://a.example", &rec),
	                 DEPLOYMENT_RECORDED);
	assert_string_equal(rec, "https://a.example");
	free(rec);
	assert_int_equal(deployment_check(f->c, "public_url", "https://a.example", &rec),
	                 DEPLOYMENT_SAME);
	free(rec);
	assert_int_equal(deployment_check(f->c, "public_url", "https://b.example", &rec),
	                 DEPLOYMENT_DIFFERS);
	assert_string_equal(rec, "https://a.example");
	free(rec);
}

static void test_instances(void **state)
{
	struct fixture *f = *state;
	int64_t a = instance_register(f->c, "h", 1), b = instance_register(f->c, "h", 2);
	assert_true(a > 0);
	assert_true(b > a);
}

static int64_t gen(db_conn *c, enum generation g)
{
	int64_t v[GEN_COUNT];
	assert_true(generations_read(c, v));
	assert_true(v[g] >= 0);
	return v[g];
}

static void test_generations(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	int64_t s0 = gen(f->c, GEN_SETTINGS), r0 = gen(f->c, GEN_REGISTRATIONS),
	        n0 = gen(f->c, GEN_SESSIONS);
	assert_int_equal(
	    DB_EXEC0(f->c, "UPDATE settings SET value = '15' WHERE name = 'delivery_days'", NULL),
	    DB_OK);
	assert_true(gen(f->c, GEN_SETTINGS) > s0);
	assert_int_equal(gen(f->c, GEN_REGISTRATIONS), r0);
	struct esp_limits l;
	limits_load(f->c, &l);
	assert_int_equal(l.delivery_days, 15);
	/* A renamed province is shown in queues and sessions. */
	assert_int_equal(
	    DB_EXEC0(f->c, "UPDATE provinces SET name = '福建省（新）' WHERE code = '35'", NULL),
	    DB_OK);
	assert_true(gen(f->c, GEN_REGISTRATIONS) > r0);
	assert_true(gen(f->c, GEN_SESSIONS) > n0);
	/* Registrations in several transactions each move it (on PostgreSQL
	 * through different shards' rows, summed). */
	int64_t r1 = gen(f->c, GEN_REGISTRATIONS);
	store_registration(f->c, "pending", "91350100MA00000001");
	store_registration(f->c, "pending", "91350100MA00000002");
	assert_int_equal(gen(f->c, GEN_REGISTRATIONS), r1 + 2);
}

/* A commit on another connection (another espd, espctl, an administrator's
 * SQL) is seen by the very next read, by a thread that read them just
 * before; a commit that moves no counter, and none at all, leave them. */
static void test_generations_see_other_commits(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	db_conn *other = db_acquire(f->pool);
	assert_non_null(other);
	static const char *codes[] = {"91350100MA00000011", "91350100MA00000012",
	                              "91350100MA00000013"};
	for (int i = 0; i < 3; i++) {
		int64_t r0 = gen(f->c, GEN_REGISTRATIONS), s0 = gen(f->c, GEN_SESSIONS);
		assert_int_equal(gen(f->c, GEN_REGISTRATIONS), r0);
		assert_int_equal(DB_EXEC0(other,
		                          "INSERT INTO leases (name, holder, expires_at) "
		                          "VALUES ('t', 1, 1) ON CONFLICT (name) DO UPDATE "
		                          "SET expires_at = leases.expires_at + 1",
		                          NULL),
		                 DB_OK);
		assert_int_equal(gen(f->c, GEN_REGISTRATIONS), r0);
		store_registration(other, "pending", codes[i]);
		assert_int_equal(gen(f->c, GEN_REGISTRATIONS), r0 + 1);
		assert_int_equal(gen(f->c, GEN_SESSIONS), s0);
	}
	db_release(f->pool, other);
}

static void test_crl_numbers(void **state)
{
	struct fixture *f = *state;
	char *dir = test_dir_make("cluster-ca");
	esp_ca *ca = NULL;
	assert_int_equal(ca_create(dir, "测试"), CA_OK);
	assert_int_equal(ca_open(dir, &ca), CA_OK);
	int64_t n = -1;
	/* None yet: due. Then not due until crl_hours passed, unless forced. */
	assert_int_equal(crl_refresh(f->c, ca, 24, false, &n), DB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(crl_refresh(f->c, ca, 24, false, &n), DB_OK);
	assert_int_equal(n, 0);
	assert_int_equal(crl_refresh(f->c, ca, 24, true, &n), DB_OK);
	assert_int_equal(n, 2);
	/* Signed a day ago: due again. */
	assert_int_equal(DB_EXEC0(f->c, "UPDATE crl SET signed_at = signed_at - 86400", NULL),
	                 DB_OK);
	assert_int_equal(crl_refresh(f->c, ca, 24, false, &n), DB_OK);
	assert_int_equal(n, 3);
	ca_free(ca);
	test_dir_remove(dir);
	free(dir);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_lease, setup, teardown),                              \
	    cmocka_unit_test_setup_teardown(test_deployment, setup, teardown),                     \
	    cmocka_unit_test_setup_teardown(test_instances, setup, teardown),                      \
	    cmocka_unit_test_setup_teardown(test_generations, setup, teardown),                    \
	    cmocka_unit_test_setup_teardown(test_generations_see_other_commits, setup, teardown),  \
	    cmocka_unit_test_setup_teardown(test_crl_numbers, setup, teardown)

STORE_TEST_MAIN("cluster", TESTS)
