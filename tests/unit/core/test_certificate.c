/*
 * Unit tests of the certificates' and API tokens' typed loads
 * (src/core/certificate.c, src/core/api_token.c) on both engines: one
 * certificate by serial with its registration for the policy, the lists of
 * an application, of a registration and of the admin, a workstation's
 * tokens, and a failing store is an error, never "none".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "esp/api_token.h"
#include "esp/certificate.h"
#include "../dbfixture.h"
#include "storetest.h"

/* An application of reg as the lookups need it. */
static int64_t store_app(db_conn *c, int64_t reg, const char *number)
{
	db_result *r = NULL;
	assert_int_equal(
	    DB_EXEC(c,
	            "INSERT INTO applications (number, registration_id, type, state, sets, "
	            "contact_name, mobile, email, address, postcode, price_yuan, medium_yuan, "
	            "years, amount_yuan, idem_key, submitted_at, updated_at) VALUES ($1, $2, "
	            "'initial', 'issued', 2, '联系人', '13800000000', 'a@example.com', '地址', "
	            "'100000', 660, 80, 3, 1320, $1, 1, 1) RETURNING id",
	            &r, P_TEXT(number), P_INT(reg)),
	    DB_OK);
	int64_t id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return id;
}

/* A certificate row: a holder's (app, reg set) or a staff member's (account). */
static void store_cert(db_conn *c, const char *serial, int64_t app, int64_t reg, int64_t account,
                       const char *status, int64_t created, int64_t not_after)
{
	assert_int_equal(
	    DB_EXEC(
	        c,
	        "INSERT INTO certificates (serial, application_id, registration_id, account_id, "
	        "token_serial, subject, pem, der, not_before, not_after, status, "
	        "revoke_reason, created_at) VALUES ($1, $2, $3, $4, $5, 'CN=x', 'pem', $6, 0, "
	        "$7, $8, $9, $10)",
	        NULL, P_TEXT(serial), app ? P_INT(app) : P_NULL, reg ? P_INT(reg) : P_NULL,
	        account ? P_INT(account) : P_NULL, P_TEXT(serial), P_BLOB("\x30\x00", 2),
	        P_INT(not_after), P_TEXT(status),
	        strcmp(status, "revoked") == 0 ? P_INT(1) : P_NULL, P_INT(created)),
	    DB_OK);
}

static void test_certificates(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(seed_base(f->c), DB_OK);
	struct actor admin = store_admin(f->c);
	int64_t reg = store_registration(f->c, "approved", "91110000000000001H");
	int64_t other = store_registration(f->c, "approved", "91110000000000002F");
	int64_t app = store_app(f->c, reg, "ESP-2026-000001");
	int64_t later = time_now() + 400 * 86400;
	store_cert(f->c, "0a01", app, reg, 0, "valid", 10, later);
	store_cert(f->c, "0a02", app, reg, 0, "revoked", 20, later);
	store_cert(f->c, "0a03", store_app(f->c, other, "ESP-2026-000002"), other, 0, "valid", 30,
	           later);
	store_cert(f->c, "0b01", 0, 0, admin.account_id, "valid", 40, later);

	struct arena *a = arena_new();
	struct certificate ce;
	assert_int_equal(cert_get(f->c, a, "ffff", &ce), DB_NOT_FOUND);
	assert_int_equal(cert_get(f->c, a, "0a02", &ce), DB_OK);
	assert_string_equal(ce.serial, "0a02");
	assert_string_equal(ce.token_serial, "0a02");
	assert_string_equal(ce.number, "ESP-2026-000001");
	assert_string_equal(ce.holder, "测试企业");
	assert_true(ce.revoked);
	assert_int_equal(ce.revoke_reason, 1);
	assert_true(ce.registration_id == reg);
	assert_int_equal(ce.account_id, 0);
	assert_null(ce.staff_username);
	assert_string_equal(ce.kind, "enterprise");
	assert_string_equal(ce.reg_state, "approved");
	assert_string_equal(ce.province_code, "11");
	assert_non_null(ce.authority_path);
	struct policy_object o;
	cert_policy_object(&ce, &o);
	assert_true(o.registration_id == reg);
	assert_string_equal(o.province_code, "11");

	/* A staff certificate: no registration, so an empty policy object. */
	assert_int_equal(cert_get(f->c, a, "0b01", &ce), DB_OK);
	assert_true(ce.account_id == admin.account_id);
	assert_string_equal(ce.staff_username, "admin");
	assert_string_equal(ce.holder, "系统管理员");
	assert_null(ce.number);
	assert_null(ce.kind);
	cert_policy_object(&ce, &o);
	assert_int_equal(o.registration_id, 0);
	assert_null(o.province_code);
	cert_policy_object(NULL, &o);
	assert_null(o.kind);

	struct certificate *list;
	size_t n;
	assert_int_equal(cert_list_of_application(f->c, a, app, &list, &n), DB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].serial, "0a01"); /* oldest first */
	assert_false(list[0].revoked);
	assert_true(list[1].revoked);
	assert_int_equal(list[1].issued_at, 20);
	assert_int_equal(cert_list_of_registration(f->c, a, other, &list, &n), DB_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].number, "ESP-2026-000002");
	assert_int_equal(cert_list_of_registration(f->c, a, reg + 1000, &list, &n), DB_OK);
	assert_int_equal(n, 0);

	/* The admin's list: newest first, staff certificates with their username. */
	assert_int_equal(cert_list_all(f->c, a, 3, &list, &n), DB_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].serial, "0b01");
	assert_string_equal(list[0].staff_username, "admin");
	assert_string_equal(list[0].number, "");
	assert_string_equal(list[1].serial, "0a03");
	assert_string_equal(list[1].staff_username, "");
	assert_string_equal(list[1].holder, "测试企业");
	arena_free(a);
}

static void test_api_tokens(void **state)
{
	struct fixture *f = *state;
	struct actor admin = store_admin(f->c);
	struct arena *a = arena_new();
	struct api_token *list;
	size_t n;
	assert_int_equal(api_token_list(f->c, a, admin.account_id, &list, &n), DB_OK);
	assert_int_equal(n, 0);
	char *t1 = NULL, *t2 = NULL;
	assert_int_equal(api_token_create(f->c, &admin, "工作站一", &t1), DB_OK);
	assert_int_equal(api_token_create(f->c, &admin, "工作站二", &t2), DB_OK);
	assert_int_equal(api_token_list(f->c, a, admin.account_id, &list, &n), DB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "工作站二"); /* newest first */
	assert_int_equal(strncmp(list[0].prefix, t2, 12), 0);
	assert_int_equal(strlen(list[0].prefix), 12);
	assert_false(list[0].revoked);
	assert_true(list[0].created_at > 0);
	assert_int_equal(api_token_revoke(f->c, &admin, list[1].id), DB_OK);
	assert_int_equal(api_token_list(f->c, a, admin.account_id, &list, &n), DB_OK);
	assert_false(list[0].revoked);
	assert_true(list[1].revoked);
	/* Another account's list holds none of them. */
	assert_int_equal(api_token_list(f->c, a, admin.account_id + 1, &list, &n), DB_OK);
	assert_int_equal(n, 0);
	free(t1);
	free(t2);
	arena_free(a);
}

static void test_store_failure_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(
	    DB_EXEC0(f->c, "ALTER TABLE certificates RENAME TO certificates_gone", NULL), DB_OK);
	assert_int_equal(DB_EXEC0(f->c, "ALTER TABLE api_tokens RENAME TO api_tokens_gone", NULL),
	                 DB_OK);
	struct arena *a = arena_new();
	struct certificate ce, *list;
	struct api_token *tokens;
	size_t n = 7;
	assert_int_equal(cert_get(f->c, a, "0a01", &ce), DB_ERROR);
	assert_int_equal(cert_list_all(f->c, a, 10, &list, &n), DB_ERROR);
	assert_int_equal(n, 0);
	assert_int_equal(cert_list_of_application(f->c, a, 1, &list, &n), DB_ERROR);
	assert_int_equal(cert_list_of_registration(f->c, a, 1, &list, &n), DB_ERROR);
	assert_int_equal(api_token_list(f->c, a, 1, &tokens, &n), DB_ERROR);
	arena_free(a);
}

#define TESTS(setup)                                                                               \
	cmocka_unit_test_setup_teardown(test_certificates, setup, teardown),                       \
	    cmocka_unit_test_setup_teardown(test_api_tokens, setup, teardown),                     \
	    cmocka_unit_test_setup_teardown(test_store_failure_is_an_error, setup, teardown)

STORE_TEST_MAIN("certificate", TESTS)
