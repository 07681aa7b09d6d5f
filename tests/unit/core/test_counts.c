/*
 * Unit tests of the store's row counts (src/core/counts.c) on both engines:
 * each count says what its table holds, registrations by state, each count
 * has its own name, and a failing store is an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "esp/counts.h"
#include "../dbfixture.h"
#include "storetest.h"

static void test_counts_follow_the_tables(void **state)
{
	struct fixture *f = *state;
	int64_t n[COUNT_KINDS];
	assert_int_equal(store_counts(f->c, n), DB_OK);
	for (int k = 0; k < COUNT_KINDS; k++)
		if (k != COUNT_AUDIT_ENTRIES)
			assert_int_equal(n[k], 0);

	assert_int_equal(seed_base(f->c), DB_OK);
	store_registration(f->c, "pending", "91110000000000001A");
	store_registration(f->c, "pending", "91110000000000002B");
	store_registration(f->c, "approved", "91110000000000003C");
	int64_t reg = store_registration(f->c, "rejected", "91110000000000004D");
	int64_t acc = 0;
	assert_int_equal(account_create(f->c, "applicant1", "口令口令123", ROLE_APPLICANT, "申请人",
	                                0, NULL, reg, &acc),
	                 DB_OK);
	char *cookie = NULL;
	assert_int_equal(session_create(f->c, acc, "password", NULL, 600, &cookie, NULL), DB_OK);
	free(cookie);

	assert_int_equal(store_counts(f->c, n), DB_OK);
	assert_int_equal(n[COUNT_PROVINCES],
	                 store_count(f->c, "SELECT COUNT(*) FROM provinces", NULL));
	assert_true(n[COUNT_PROVINCES] > 30);
	assert_int_equal(n[COUNT_AUTHORITIES],
	                 store_count(f->c, "SELECT COUNT(*) FROM authorities", NULL));
	assert_int_equal(n[COUNT_REGISTRATIONS], 4);
	assert_int_equal(n[COUNT_REGISTRATIONS_PENDING], 2);
	assert_int_equal(n[COUNT_REGISTRATIONS_APPROVED], 1);
	assert_int_equal(n[COUNT_REGISTRATIONS_REJECTED], 1);
	assert_int_equal(n[COUNT_ACCOUNTS], 1);
	assert_int_equal(n[COUNT_SESSIONS], 1);
	assert_int_equal(n[COUNT_UPLOADS], 0);
	assert_int_equal(n[COUNT_APPLICATIONS], 0);
	assert_int_equal(n[COUNT_AUDIT_ENTRIES],
	                 store_count(f->c, "SELECT COUNT(*) FROM audit_log", NULL));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(store_count_name(COUNT_PROVINCES), "provinces");
	assert_string_equal(store_count_name(COUNT_REGISTRATIONS_PENDING), "registrations pending");
	assert_string_equal(store_count_name(COUNT_AUDIT_ENTRIES), "audit entries");
	for (int i = 0; i < COUNT_KINDS; i++) {
		assert_non_null(store_count_name(i));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(store_count_name(i), store_count_name(j));
	}
}

static void test_store_failure_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(DB_EXEC0(f->c, "DROP TABLE sessions", NULL), DB_OK);
	int64_t n[COUNT_KINDS];
	assert_int_equal(store_counts(f->c, n), DB_ERROR);
	assert_int_equal(n[COUNT_SESSIONS], -1);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_counts_follow_the_tables, setup, teardown),           \
	    cmocka_unit_test(test_names),                                                          \
	    cmocka_unit_test_setup_teardown(test_store_failure_is_an_error, setup, teardown)

STORE_TEST_MAIN("counts", TESTS)
