/*
 * Unit tests of the account lookups (src/core/account.c) on both engines:
 * one account by name, find, role and the account of a registration answer
 * DB_NOT_FOUND when there is none; the list shows staff or everyone with
 * their authority and province, by role then username; a failing store is
 * an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "../dbfixture.h"
#include "storetest.h"

static void test_get(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	struct actor admin = store_admin(f->c);
	int64_t bj = authority_by_name(f->c, "北京市交通委员会");
	assert_int_equal(staff_account_create(f->c, &admin, "bj_reviewer", "口令口令123",
	                                      ROLE_REVIEWER, "北京市初审员", bj, NULL),
	                 DB_OK);
	assert_int_equal(account_set_status(f->c, "bj_reviewer", "disabled"), DB_OK);
	struct arena *a = arena_new();
	struct account_entry e;
	assert_int_equal(account_get(f->c, a, "bj_reviewer", &e), DB_OK);
	assert_string_equal(e.username, "bj_reviewer");
	assert_int_equal(e.role, ROLE_REVIEWER);
	assert_string_equal(e.display_name, "北京市初审员");
	assert_false(e.active);
	assert_string_equal(e.authority_name, "北京市交通委员会");
	assert_string_equal(e.province_code, "");
	assert_int_equal(account_get(f->c, a, "admin", &e), DB_OK);
	assert_int_equal(e.role, ROLE_ADMIN);
	assert_true(e.active);
	assert_int_equal(account_get(f->c, a, "nobody", &e), DB_NOT_FOUND);
	/* Exact names only. */
	assert_int_equal(account_get(f->c, a, "BJ_REVIEWER", &e), DB_NOT_FOUND);
	arena_free(a);
}

static void test_find_role_registration(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	struct actor admin = store_admin(f->c);
	int64_t reg = store_registration(f->c, "approved", "91110000000000001A");
	int64_t other = store_registration(f->c, "pending", "91110000000000002B");
	int64_t app = 0;
	assert_int_equal(account_create(f->c, "unit_a", "口令口令123", ROLE_APPLICANT, "单位甲", 0,
	                                NULL, reg, &app),
	                 DB_OK);

	int64_t id = -1;
	assert_int_equal(account_find(f->c, "unit_a", &id), DB_OK);
	assert_int_equal(id, app);
	assert_int_equal(account_find(f->c, "admin", NULL), DB_OK);
	assert_int_equal(account_find(f->c, "unit_b", &id), DB_NOT_FOUND);

	enum role role = ROLE_NONE;
	assert_int_equal(account_role(f->c, app, &role), DB_OK);
	assert_int_equal(role, ROLE_APPLICANT);
	assert_int_equal(account_role(f->c, admin.account_id, &role), DB_OK);
	assert_int_equal(role, ROLE_ADMIN);
	assert_int_equal(account_role(f->c, 999999, &role), DB_NOT_FOUND);
	assert_int_equal(role, ROLE_NONE);

	assert_int_equal(account_by_registration(f->c, reg, &id), DB_OK);
	assert_int_equal(id, app);
	assert_int_equal(account_by_registration(f->c, other, &id), DB_NOT_FOUND);
	assert_int_equal(id, 0);
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	struct actor admin = store_admin(f->c);
	int64_t bj = authority_by_name(f->c, "北京市交通委员会");
	assert_int_equal(staff_account_create(f->c, &admin, "bj_reviewer", "口令口令123",
	                                      ROLE_REVIEWER, "北京市初审员", bj, NULL),
	                 DB_OK);
	assert_int_equal(staff_account_create(f->c, &admin, "fj_ra", "口令口令123", ROLE_RA,
	                                      "福建省注册机构", 0, "35"),
	                 DB_OK);
	assert_int_equal(staff_account_create(f->c, &admin, "bj_ra", "口令口令123", ROLE_RA,
	                                      "北京市注册机构", 0, "11"),
	                 DB_OK);
	int64_t reg = store_registration(f->c, "approved", "91110000000000001A");
	assert_int_equal(account_create(f->c, "unit_a", "口令口令123", ROLE_APPLICANT, "单位甲", 0,
	                                NULL, reg, NULL),
	                 DB_OK);
	assert_int_equal(account_set_status(f->c, "fj_ra", "disabled"), DB_OK);

	struct arena *a = arena_new();
	struct account_entry *l;
	size_t n;
	assert_int_equal(account_list(f->c, a, true, &l, &n), DB_OK);
	/* By role name, then username: admin, ra (bj_ra, fj_ra), reviewer. */
	assert_int_equal(n, 4);
	assert_string_equal(l[0].username, "admin");
	assert_int_equal(l[0].role, ROLE_ADMIN);
	assert_string_equal(l[0].authority_name, "");
	assert_string_equal(l[0].province_code, "");
	assert_string_equal(l[1].username, "bj_ra");
	assert_int_equal(l[1].role, ROLE_RA);
	assert_string_equal(l[1].province_code, "11");
	assert_string_equal(l[1].province_name, "北京市");
	assert_true(l[1].active);
	assert_string_equal(l[2].username, "fj_ra");
	assert_false(l[2].active);
	assert_string_equal(l[2].display_name, "福建省注册机构");
	assert_string_equal(l[2].province_name, "福建省");
	assert_string_equal(l[3].username, "bj_reviewer");
	assert_int_equal(l[3].role, ROLE_REVIEWER);
	assert_string_equal(l[3].authority_name, "北京市交通委员会");
	assert_string_equal(l[3].province_name, "");

	assert_int_equal(account_list(f->c, a, false, &l, &n), DB_OK);
	assert_int_equal(n, 5);
	assert_string_equal(l[1].username, "unit_a");
	assert_int_equal(l[1].role, ROLE_APPLICANT);
	arena_free(a);
}

static void test_store_failure_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(DB_EXEC0(f->c, "ALTER TABLE accounts RENAME TO accounts_gone", NULL),
	                 DB_OK);
	struct arena *a = arena_new();
	struct account_entry *l;
	size_t n;
	assert_int_equal(account_list(f->c, a, true, &l, &n), DB_ERROR);
	assert_int_equal(n, 0);
	int64_t id;
	assert_int_equal(account_find(f->c, "admin", &id), DB_ERROR);
	enum role role;
	assert_int_equal(account_role(f->c, 1, &role), DB_ERROR);
	assert_int_equal(account_by_registration(f->c, 1, &id), DB_ERROR);
	struct account_entry e;
	assert_int_equal(account_get(f->c, a, "admin", &e), DB_ERROR);
	arena_free(a);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_get, setup, teardown),                                \
	    cmocka_unit_test_setup_teardown(test_find_role_registration, setup, teardown),         \
	    cmocka_unit_test_setup_teardown(test_list, setup, teardown),                           \
	    cmocka_unit_test_setup_teardown(test_store_failure_is_an_error, setup, teardown)

STORE_TEST_MAIN("account", TESTS)
