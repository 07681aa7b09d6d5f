/*
 * Unit tests of the province lookups and lists (src/core/authority.c) and
 * of the RA directory (src/core/directory.c) on both engines: a name to its
 * code and back, exact names only, DB_NOT_FOUND for what is not there, the
 * typed lists, a directory entry saved and read back, and a failing store
 * is an error, never an empty list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "esp/directory.h"
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

static void test_lists(void **state)
{
	struct fixture *f = *state;
	struct arena *a = arena_new();
	struct province *provs;
	struct authority *auths;
	size_t n;
	assert_int_equal(province_list(f->c, a, &provs, &n), DB_OK);
	assert_int_equal(n, 0);
	assert_null(provs);
	assert_int_equal(seed_base(f->c), DB_OK);
	assert_int_equal(province_list(f->c, a, &provs, &n), DB_OK);
	assert_int_equal(n, 32);
	assert_string_equal(provs[0].code, "11");
	assert_string_equal(provs[0].name, "北京市");
	assert_int_equal(authority_list(f->c, a, &auths, &n), DB_OK);
	assert_true(n > 1);
	/* The ministry first, at the root; every other node below it. */
	assert_string_equal(auths[0].name, "交通运输部");
	assert_int_equal(auths[0].depth, 0);
	assert_null(auths[0].province);
	bool beijing = false;
	for (size_t i = 1; i < n; i++) {
		assert_true(auths[i].depth >= 1);
		if (strcmp(auths[i].name, "北京市交通委员会") == 0) {
			beijing = true;
			assert_string_equal(auths[i].province_code, "11");
			assert_string_equal(auths[i].province, "北京市");
		}
	}
	assert_true(beijing);
	arena_free(a);
}

static void test_directory(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	struct actor admin = store_admin(f->c);
	struct arena *a = arena_new();
	struct ra_directory_entry e;
	assert_int_equal(ra_directory_get(f->c, a, "99", &e), DB_NOT_FOUND);
	/* A province without an entry: every field "", not configured. */
	assert_int_equal(ra_directory_get(f->c, a, "35", &e), DB_OK);
	assert_string_equal(e.province, "福建省");
	assert_string_equal(e.field[DIR_PAYEE], "");
	assert_int_equal(e.updated_at, 0);
	assert_false(ra_directory_configured(&e));

	struct ra_directory_entry in = {0};
	in.field[DIR_PAYEE] = "福建省注册机构";
	in.field[DIR_ACCOUNT_NO] = "6222";
	in.field[DIR_ADDRESS] = "福州市";
	in.field[DIR_TRAINER_NAME] = "培训机构"; /* no address: not configured */
	assert_int_equal(ra_directory_save(f->c, &admin, "35", &in), DB_OK);
	assert_int_equal(ra_directory_save(f->c, &admin, "99", &in), DB_NOT_FOUND);
	assert_int_equal(ra_directory_get(f->c, a, "35", &e), DB_OK);
	assert_string_equal(e.field[DIR_PAYEE], "福建省注册机构");
	assert_string_equal(e.field[DIR_BANK], ""); /* NULL saved as "" */
	assert_true(e.updated_at > 0);
	assert_true(ra_directory_configured(&e));
	assert_false(ra_directory_trainer_configured(&e));

	struct ra_directory_entry *list;
	size_t n;
	assert_int_equal(ra_directory_list(f->c, a, &list, &n), DB_OK);
	assert_int_equal(n, 32);
	assert_string_equal(list[0].province_code, "11");
	bool fujian = false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].province_code, "35") == 0)
			fujian = ra_directory_configured(&list[i]);
	assert_true(fujian);

	/* The field table: names are the columns, in form order. */
	enum ra_dir_field fld;
	assert_true(ra_directory_field_parse("postcode", &fld));
	assert_int_equal(fld, DIR_POSTCODE);
	assert_string_equal(ra_directory_field_label(DIR_POSTCODE), "邮政编码");
	assert_false(ra_directory_field_parse("province", &fld));
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
	struct province *provs;
	struct ra_directory_entry e, *list;
	size_t n = 7;
	assert_int_equal(province_list(f->c, a, &provs, &n), DB_ERROR);
	assert_int_equal(n, 0);
	assert_int_equal(ra_directory_get(f->c, a, "11", &e), DB_ERROR);
	assert_int_equal(ra_directory_list(f->c, a, &list, &n), DB_ERROR);
	assert_int_equal(DB_EXEC0(f->c, "ALTER TABLE authorities RENAME TO authorities_gone", NULL),
	                 DB_OK);
	struct authority *auths;
	assert_int_equal(authority_list(f->c, a, &auths, &n), DB_ERROR);
	arena_free(a);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_province_lookups, setup, teardown),                   \
	    cmocka_unit_test_setup_teardown(test_lists, setup, teardown),                          \
	    cmocka_unit_test_setup_teardown(test_directory, setup, teardown),                      \
	    cmocka_unit_test_setup_teardown(test_store_failure_is_an_error, setup, teardown)

STORE_TEST_MAIN("authority", TESTS)
