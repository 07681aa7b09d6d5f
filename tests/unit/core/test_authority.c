/*
 * Unit tests of the province lookups (src/core/authority.c) on both
 * engines: a name to its code and back, exact names only, DB_NOT_FOUND for
 * what is not there, and a failing store is an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../dbfixture.h"
#include "storetest.h"

static void test_province_lookups(void **state)
{
	struct fixture *f = *state;
	struct arena *a = arena_new();
	const char *s = "x";
	/* No base data yet: nothing to find. */
	assert_int_equal(province_code_of(f->c, a, "北京市", &s), DB_NOT_FOUND);
	assert_null(s);
	assert_int_equal(seed_base(f->c), DB_OK);
	assert_int_equal(province_code_of(f->c, a, "北京市", &s), DB_OK);
	assert_string_equal(s, "11");
	assert_int_equal(province_code_of(f->c, a, "福建省", &s), DB_OK);
	assert_string_equal(s, "35");
	assert_int_equal(province_code_of(f->c, a, "新疆生产建设兵团", &s), DB_OK);
	assert_string_equal(s, "XJBT");
	assert_int_equal(province_name_of(f->c, a, "35", &s), DB_OK);
	assert_string_equal(s, "福建省");
	assert_int_equal(province_name_of(f->c, a, "XJBT", &s), DB_OK);
	assert_string_equal(s, "新疆生产建设兵团");
	/* Exact names and codes only. */
	assert_int_equal(province_code_of(f->c, a, "北京", &s), DB_NOT_FOUND);
	assert_int_equal(province_code_of(f->c, a, " 北京市", &s), DB_NOT_FOUND);
	assert_int_equal(province_name_of(f->c, a, "99", &s), DB_NOT_FOUND);
	assert_int_equal(province_name_of(f->c, a, "", &s), DB_NOT_FOUND);
	arena_free(a);
}

static void test_store_failure_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(DB_EXEC0(f->c, "ALTER TABLE provinces RENAME TO provinces_gone", NULL),
	                 DB_OK);
	struct arena *a = arena_new();
	const char *s;
	assert_int_equal(province_code_of(f->c, a, "北京市", &s), DB_ERROR);
	assert_int_equal(province_name_of(f->c, a, "11", &s), DB_ERROR);
	arena_free(a);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_province_lookups, setup, teardown),                   \
	    cmocka_unit_test_setup_teardown(test_store_failure_is_an_error, setup, teardown)

STORE_TEST_MAIN("authority", TESTS)
